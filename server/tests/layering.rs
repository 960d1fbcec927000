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

/// The code of a file as `(line number, code)`, comments dropped, and each `use` statement that
/// spans lines joined into one (reported at its first line), so a group such as
/// `use crate::{\n    store::X,\n}` is seen whole.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = vec![];
    let mut open_use: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        if let Some((n, mut joined)) = open_use.take() {
            joined.push(' ');
            joined.push_str(code.trim());
            if code.contains(';') {
                out.push((n, joined))
            } else {
                open_use = Some((n, joined))
            }
            continue;
        }
        let trimmed = code.trim_start();
        if (trimmed.starts_with("use ") || trimmed.starts_with("pub use ") || trimmed.starts_with("pub(crate) use ")) && !code.contains(';')
        {
            open_use = Some((i + 1, code.to_string()));
        } else {
            out.push((i + 1, code.to_string()));
        }
    }
    out.extend(open_use);
    out
}

/// Every `(file relative to root, line number, code)` of the Rust files under `root`.
fn lines_under(root: &Path) -> Vec<(String, usize, String)> {
    let mut files = vec![];
    rust_files(root, &mut files);
    assert!(files.len() > 20, "the source tree was not found under {}", root.display());
    let mut lines = vec![];
    for f in files {
        let rel = f.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
        for (n, code) in code_lines(&std::fs::read_to_string(&f).unwrap()) {
            lines.push((rel.clone(), n, code));
        }
    }
    lines
}

/// Every `(file relative to server/src, line number, code)` of the server's source.
fn source_lines() -> Vec<(String, usize, String)> {
    lines_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Whether a line of code names the module `module` of this crate (`crate::store`, `store::`
/// after a `use crate::{…}`, `super::store`).
fn names_module(code: &str, module: &str) -> bool {
    if code.contains(&format!("crate::{module}")) || code.contains(&format!("super::{module}")) {
        return true;
    }
    let path = format!("{module}::");
    code.contains("use crate::{")
        && code.match_indices(&path).any(|(i, _)| i > 0 && matches!(code.as_bytes()[i - 1], b' ' | b'{' | b',' | b'\t'))
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
    let found = violations(|f| f.starts_with("store/") || f.starts_with("service/"), "store");
    assert!(found.is_empty(), "modules outside `service` use `store` (go through a service method):\n{}", found.join("\n"));
}

#[test]
fn the_service_never_reaches_up_into_http_workers_or_the_cli() {
    for upper in ["http", "workers", "cli", "serve"] {
        let found = violations(|f| !f.starts_with("service/") && !f.starts_with("store/"), upper);
        assert!(found.is_empty(), "`service` or `store` uses `{upper}`:\n{}", found.join("\n"));
    }
}

#[test]
fn workers_use_only_the_service() {
    for lower in ["store", "http", "cli", "serve", "egress", "importer", "sealing"] {
        let found = violations(|f| !f.starts_with("workers/"), lower);
        assert!(found.is_empty(), "a worker uses `{lower}` (go through a service method):\n{}", found.join("\n"));
    }
}

#[test]
fn the_importer_and_the_egress_guard_know_nothing_above_them() {
    for upper in ["store", "service", "http", "cli", "serve", "workers"] {
        let found = violations(|f| !f.starts_with("importer/") && f != "egress.rs", upper);
        assert!(found.is_empty(), "the importer or the egress guard uses `{upper}`:\n{}", found.join("\n"));
    }
}

#[test]
fn the_blob_store_knows_nothing_above_it() {
    for upper in ["store", "service", "http", "registry", "importer", "cli", "serve", "workers"] {
        let found = violations(|f| !f.starts_with("blobs/"), upper);
        assert!(found.is_empty(), "the blob store uses `{upper}`:\n{}", found.join("\n"));
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
    let joined = code_lines("use crate::{\n    service::Service,\n    store::Store,\n};\nfn f() {}\n");
    assert_eq!(joined.len(), 2, "{joined:?}");
    assert!(names_module(&joined[0].1, "store"), "a use group over several lines is seen whole: {joined:?}");
}

/// Every `(file relative to app/src, line number, code)` of the app crate.
fn app_lines() -> Vec<(String, usize, String)> {
    lines_under(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../app/src"))
}

/// The app's order (`app/src/lib.rs`): pages → live → api → views → widgets → transfer → domain
/// → model.
/// A module never names one above it, so there is no import cycle.
#[test]
fn app_modules_import_only_downwards() {
    let above: &[(&str, &[&str])] = &[
        ("model/", &["domain", "transfer", "widgets", "views", "api", "live", "pages"]),
        ("domain/", &["transfer", "widgets", "views", "api", "live", "pages"]),
        ("transfer/", &["widgets", "views", "api", "live", "pages"]),
        ("widgets/", &["views", "api", "live", "pages"]),
        ("views/", &["api", "live", "pages"]),
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
