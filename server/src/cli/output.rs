//! What every client command shares: the [`Context`] it runs in (client, namespace, token file),
//! the [`Output`] it writes to (results on stdout, notes and errors on stderr, as oc does), and
//! the one printer of `-o json|yaml|name|wide` ([`Printer`]) that every `get` and `webhook
//! deliveries` go through, so they agree on formats, on oc's `No resources found …` note and on
//! the error for an unknown format.
//!
//! Must not: know a resource's columns (each resource's [`Printable`] impl in `print.rs` does),
//! or a command's rules (`app::domain`).

use super::client::{CliError, Client};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// Where a client command runs: the server, the current project and where `login` keeps tokens.
pub struct Context {
    pub client: Client,
    /// The current project (`-n`).
    pub namespace: String,
    /// The directory of `tokens.json` given by `--config`/`IMAGESTREAMS_CONFIG`, if any.
    pub config: Option<PathBuf>,
}

pub type CmdResult = Result<(), CliError>;

/// A client-side failure, printed as `error: <msg>`.
pub fn local(msg: impl Into<String>) -> CliError {
    CliError::Local(msg.into())
}

/// `name` (of a `what`: webhook, token, user, image stream…) as one segment of a request path:
/// refused locally when it could leave its segment (`/`, `?`, `#`, `%`, `\`, white space or
/// control characters, `.` and `..`), so `delete webhook '../../namespaces/x'` can never reach
/// another path. No valid name has any of them.
pub fn name_segment<'a>(what: &str, name: &'a str) -> Result<&'a str, CliError> {
    // The object-name rules (`.`, `..`, `/`, `%`), and what a URL would also read as structure.
    let bad = name.is_empty()
        || !app::domain::names::path_segment_errors(name).is_empty()
        || name.chars().any(|c| matches!(c, '?' | '#' | '\\') || c.is_whitespace() || c.is_control());
    if bad {
        return Err(local(format!(
            "invalid {what} name {name:?}: a name may not be empty, \".\" or \"..\", nor contain '/', '?', '#', '%', '\\' or white space"
        )));
    }
    Ok(name)
}

/// Where a command writes: `out` for what it produces (what a script pipes on), `err` for notes
/// about it (oc's `No resources found …`) and for errors.
pub struct Output {
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Output {
    pub fn new(out: Box<dyn Write>, err: Box<dyn Write>) -> Self {
        Output { out, err }
    }

    /// The process's standard output and error.
    pub fn stdio() -> Self {
        Output::new(Box::new(std::io::stdout()), Box::new(std::io::stderr()))
    }

    /// Writes to standard output.
    pub fn print(&mut self, text: &str) -> CmdResult {
        self.out.write_all(text.as_bytes()).map_err(|e| local(format!("writing output: {e}")))
    }

    /// Writes a note (or an error) to standard error.
    pub fn note(&mut self, text: &str) -> CmdResult {
        self.err.write_all(text.as_bytes()).map_err(|e| local(format!("writing output: {e}")))
    }

    /// Sends what was printed on now (a watch prints rows as they come).
    pub fn flush(&mut self) -> CmdResult {
        self.out.flush().map_err(|e| local(format!("writing output: {e}")))
    }
}

/// A resource as `get` prints it: its name for `-o name` and its table row.
pub trait Printable: DeserializeOwned {
    /// The resource in `-o name` lines (`<RESOURCE>/<name>`), e.g. `imagestream.image.openshift.io`.
    const RESOURCE: &'static str;
    /// The name in `-o name` lines; `None` for entries without one (audit entries).
    fn name(&self) -> Option<String>;
    /// The table's header.
    fn columns(wide: bool) -> &'static [&'static str];
    /// One table row, one cell per column.
    fn row(&self, now: DateTime<Utc>, wide: bool) -> Vec<String>;
}

/// The `-o` formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Wide,
    Json,
    Yaml,
    Name,
}

impl Format {
    /// `-o` as given (none: a table); an unknown format is oc's error.
    pub fn parse(output: Option<&str>) -> Result<Format, CliError> {
        Ok(match output {
            None => Format::Table,
            Some("wide") => Format::Wide,
            Some("json") => Format::Json,
            Some("yaml") => Format::Yaml,
            Some("name") => Format::Name,
            Some(other) => {
                return Err(local(format!(
                    "unable to match a printer suitable for the output format \"{other}\", allowed formats are: json,name,wide,yaml"
                )));
            }
        })
    }

    pub fn is_table(self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// Where the listed resources live, which decides oc's note for an empty list.
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    /// One namespace: `No resources found in <ns> namespace.`
    Namespace(&'a str),
    /// Not namespaced, or across namespaces (`-A`): `No resources found`.
    Cluster,
}

/// What the server answered to a `get`: one object, a Kubernetes list (`items`), or a plain JSON
/// array (the account endpoints).
pub struct Answer {
    body: Value,
    single: bool,
}

impl Answer {
    /// One named object.
    pub fn one(body: Value) -> Self {
        Answer { body, single: true }
    }

    /// A list: an object with `items`, or an array.
    pub fn list(body: Value) -> Self {
        Answer { body, single: false }
    }

    pub fn body(&self) -> &Value {
        &self.body
    }

    /// The objects answered.
    pub fn items(&self) -> &[Value] {
        if self.single {
            return std::slice::from_ref(&self.body);
        }
        match &self.body {
            Value::Array(items) => items,
            other => other["items"].as_array().map(Vec::as_slice).unwrap_or_default(),
        }
    }

    /// The objects answered, typed.
    pub fn typed<T: Printable>(&self) -> Result<Vec<T>, CliError> {
        self.items()
            .iter()
            .map(|v| serde_json::from_value(v.clone()).map_err(|e| local(format!("the server's answer could not be read: {e}"))))
            .collect()
    }
}

/// `get -o …`: one printer for every resource.
#[derive(Clone, Copy, Debug)]
pub struct Printer {
    pub format: Format,
    /// `--export`: drop server-populated metadata from json and yaml.
    pub export: bool,
}

impl Printer {
    pub fn new(output: Option<&str>, export: bool) -> Result<Printer, CliError> {
        Ok(Printer { format: Format::parse(output)?, export })
    }

    /// Prints the answer: as is for json and yaml (a list stays the server's list), one
    /// `<resource>/<name>` line per object for name, else a table. When nothing was printed for
    /// a list, oc's `No resources found …` goes to standard error.
    pub fn print<T: Printable>(&self, out: &mut Output, scope: Scope<'_>, answer: Answer) -> CmdResult {
        match self.format {
            Format::Json | Format::Yaml => {
                let mut body = answer.body;
                if self.export {
                    export(&mut body);
                }
                let text = if self.format == Format::Json {
                    format!("{}\n", serde_json::to_string_pretty(&body).map_err(|e| local(e.to_string()))?)
                } else {
                    crate::yaml::try_to_string(&body).map_err(local)?
                };
                out.print(&text)
            }
            Format::Name => {
                let items = answer.typed::<T>()?;
                if items.is_empty() {
                    return out.note(&nothing_found(scope));
                }
                let mut text = String::new();
                for item in &items {
                    let name =
                        item.name().ok_or_else(|| local(format!("{} entries have no names: use -o json or -o yaml", T::RESOURCE)))?;
                    text.push_str(&format!("{}/{name}\n", T::RESOURCE));
                }
                out.print(&text)
            }
            Format::Table | Format::Wide => {
                let items = answer.typed::<T>()?;
                if items.is_empty() {
                    return out.note(&nothing_found(scope));
                }
                out.print(&table(&items, self.format == Format::Wide, Utc::now()))
            }
        }
    }
}

/// The table of `items`, header first.
pub fn table<T: Printable>(items: &[T], wide: bool, now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = items.iter().map(|i| i.row(now, wide)).collect();
    super::print::render_table(T::columns(wide), &rows)
}

/// oc's note for an empty list.
fn nothing_found(scope: Scope<'_>) -> String {
    match scope {
        Scope::Namespace(ns) => format!("No resources found in {ns} namespace.\n"),
        Scope::Cluster => "No resources found\n".into(),
    }
}

/// `--export`: the object (or each object of a list) without what the server populated.
fn export(v: &mut Value) {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "selfLink", "generation"] {
            m.remove(k);
        }
    }
    if let Some(items) = v.get_mut("items").and_then(Value::as_array_mut) {
        items.iter_mut().for_each(export);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(serde::Deserialize)]
    struct Thing {
        name: String,
    }

    impl Printable for Thing {
        const RESOURCE: &'static str = "thing";
        fn name(&self) -> Option<String> {
            Some(self.name.clone())
        }
        fn columns(_wide: bool) -> &'static [&'static str] {
            &["NAME"]
        }
        fn row(&self, _now: DateTime<Utc>, _wide: bool) -> Vec<String> {
            vec![self.name.clone()]
        }
    }

    /// A writer whose bytes the test reads back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn printed(output: Option<&str>, scope: Scope<'_>, answer: Answer) -> (String, String) {
        let (out, err) = (Captured::default(), Captured::default());
        let mut o = Output::new(Box::new(out.clone()), Box::new(err.clone()));
        Printer::new(output, true).unwrap().print::<Thing>(&mut o, scope, answer).unwrap();
        (out.text(), err.text())
    }

    #[test]
    fn every_format() {
        let list = || {
            Answer::list(
                serde_json::json!({"kind": "ThingList", "metadata": {"resourceVersion": "3"}, "items": [{"name": "a"}, {"name": "b"}]}),
            )
        };
        assert_eq!(printed(None, Scope::Cluster, list()).0, "NAME\na\nb\n");
        assert_eq!(printed(Some("name"), Scope::Cluster, list()).0, "thing/a\nthing/b\n");
        let (json, _) = printed(Some("json"), Scope::Cluster, list());
        let v: Value = serde_json::from_str(&json).unwrap();
        assert_eq!((v["kind"].as_str(), v["metadata"].get("resourceVersion")), (Some("ThingList"), None), "the list, exported");
        assert!(printed(Some("yaml"), Scope::Cluster, Answer::one(serde_json::json!({"name": "a"}))).0.starts_with("name: a\n"));
        assert_eq!(printed(Some("name"), Scope::Cluster, Answer::list(serde_json::json!([{"name": "x"}]))).0, "thing/x\n", "an array");
        assert_eq!(
            Printer::new(Some("wid"), false).unwrap_err().to_string(),
            "error: unable to match a printer suitable for the output format \"wid\", allowed formats are: json,name,wide,yaml"
        );
    }

    #[test]
    fn nothing_found_goes_to_stderr_as_oc_writes_it() {
        let empty = || Answer::list(serde_json::json!({"items": []}));
        assert_eq!(printed(None, Scope::Namespace("demo"), empty()), (String::new(), "No resources found in demo namespace.\n".into()));
        assert_eq!(printed(Some("name"), Scope::Cluster, empty()), (String::new(), "No resources found\n".into()));
        assert_eq!(printed(Some("json"), Scope::Cluster, empty()).1, "", "json prints the empty list");
    }
}
