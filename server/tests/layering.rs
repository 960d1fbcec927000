//! The dependency rules of `server/src/lib.rs`, checked on the source: `service` is the only
//! door to `store` (the composition root `serve.rs` only opens it), the service never reaches up
//! into `http`, and workers reach nothing but the service. A module that breaks a rule fails this
//! test with the file and line.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `(file relative to server/src, line number, line)` of the server's source.
fn source_lines() -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "the source tree was not found under {}", root.display());
    let mut lines = vec![];
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            lines.push((rel.clone(), i + 1, code.to_string()));
        }
    }
    lines
}

/// Whether a line of code names the module `module` of this crate (`crate::store`, `store::`
/// after a `use crate::{…}`, `super::store`).
fn names_module(code: &str, module: &str) -> bool {
    if code.contains(&format!("crate::{module}")) || code.contains(&format!("super::{module}")) {
        return true;
    }
    let path = format!("{module}::");
    code.contains("use crate::{") && code.match_indices(&path).any(|(i, _)| i > 0 && matches!(code.as_bytes()[i - 1], b' ' | b'{' | b','))
}

fn violations(allowed: impl Fn(&str) -> bool, module: &str) -> Vec<String> {
    source_lines()
        .into_iter()
        .filter(|(file, _, code)| !allowed(file) && names_module(code, module))
        .map(|(file, n, code)| format!("server/src/{file}:{n}: {}", code.trim()))
        .collect()
}

#[test]
fn only_the_service_reaches_the_store() {
    let found = violations(|f| f.starts_with("store/") || f.starts_with("service/") || f == "serve.rs", "store");
    assert!(found.is_empty(), "modules outside `service` use `store` (go through a service method):\n{}", found.join("\n"));
}

#[test]
fn the_composition_root_only_opens_the_store() {
    let found: Vec<String> = source_lines()
        .into_iter()
        .filter(|(file, _, code)| file == "serve.rs" && names_module(code, "store") && !code.contains("crate::store::Store;"))
        .map(|(file, n, code)| format!("server/src/{file}:{n}: {}", code.trim()))
        .collect();
    assert!(found.is_empty(), "serve.rs may open the store, nothing more:\n{}", found.join("\n"));
}

#[test]
fn the_service_never_reaches_up_into_http_workers_or_the_cli() {
    for upper in ["http", "workers", "cli", "serve"] {
        let found = violations(|f| !f.starts_with("service/") && !f.starts_with("store/"), upper);
        assert!(found.is_empty(), "`service` or `store` uses `{upper}`:\n{}", found.join("\n"));
    }
}

#[test]
fn workers_and_the_importer_use_only_the_service() {
    for lower in ["store", "http", "cli"] {
        let found = violations(|f| !f.starts_with("workers/") && !f.starts_with("importer/") && f != "egress.rs", lower);
        assert!(found.is_empty(), "a worker, the importer or the egress guard uses `{lower}`:\n{}", found.join("\n"));
    }
}

#[test]
fn the_rule_check_sees_a_violation() {
    // The checker itself: a line that would break the rule is recognised.
    assert!(names_module("use crate::store::AuditRow;", "store"));
    assert!(names_module("    let rows = crate::store::queue_heads(&mut c).await;", "store"));
    assert!(!names_module("use crate::service::Service;", "store"));
    assert!(names_module("use crate::{service::Service, store::Store};", "store"));
    assert!(!names_module("let s = blob_store::get();", "store"));
}

/// Every `(file relative to app/src, line number, code)` of the app crate.
fn app_lines() -> Vec<(String, usize, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src");
    let mut files = vec![];
    rust_files(&root, &mut files);
    let mut lines = vec![];
    for f in files {
        let rel = f.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        for (i, line) in std::fs::read_to_string(&f).unwrap().lines().enumerate() {
            lines.push((rel.clone(), i + 1, line.split("//").next().unwrap_or_default().to_string()));
        }
    }
    lines
}

/// The app's order (`app/src/lib.rs`): pages → live → api → views → widgets → domain → model.
/// A module never names one above it, so there is no import cycle.
#[test]
fn app_modules_import_only_downwards() {
    let above: &[(&str, &[&str])] = &[
        ("model/", &["domain", "api", "views", "widgets", "live", "pages"]),
        ("domain/", &["api", "views", "widgets", "live", "pages"]),
        ("widgets/", &["views", "live", "pages"]),
        ("views/", &["live", "pages"]),
        ("api/", &["live", "pages"]),
        ("live/", &["pages"]),
    ];
    let mut found = vec![];
    for (file, n, code) in app_lines() {
        for (dir, forbidden) in above {
            if file.starts_with(dir) {
                for m in *forbidden {
                    if names_module(&code, m) {
                        found.push(format!("app/src/{file}:{n}: {} (names `{m}`)", code.trim()));
                    }
                }
            }
        }
        if (file.starts_with("domain/") || file.starts_with("model/")) && code.contains("leptos") {
            found.push(format!("app/src/{file}:{n}: {} (the rules never see Leptos)", code.trim()));
        }
    }
    assert!(found.is_empty(), "app modules that import upwards:\n{}", found.join("\n"));
}
