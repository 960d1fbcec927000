//! A write's statements recorded with their parameters, then run in one go: through sqlx as one
//! query of several statements (one round trip to the connection's worker thread), or, inside
//! the group commit, on the connection itself while the group holds it (`Locked`, no round trip
//! at all).
//!
//! Why record instead of building an `sqlx::QueryBuilder`: the group commit runs its writes'
//! statements on its own thread with the connection's lock held (see `group`), which sqlx's
//! builder cannot feed; one recording serves both ways, so a statement's text and its parameters
//! are written once.
//!
//! Must not: build SQL text from values (every value is a parameter), or run on the locked
//! connection outside the group commit.

use super::StoreResult;
use rusqlite::types::Value;
use sqlx::types::Json;
use sqlx::{Sqlite, SqliteConnection};

/// The longest script kept prepared on its connection (see `Script::run`).
const CACHED_SCRIPT_STATEMENTS: usize = 16;

/// Statements sent to the database together. Through sqlx (`run`) they go as one query: sqlx
/// runs a query of several statements in order, binding the `?` parameters across them in turn
/// (sqlx-sqlite's `SqliteArguments::bind` with its running offset). On the locked connection
/// (`run_locked`) each is prepared once and kept. A write's statements that need no answer go
/// together, since each round trip to the connection's worker thread costs more than most
/// statements do, and the writer is held for all of them. Use plain `?` only (`push_bind` writes
/// them): numbered ones would count differently on the two ways.
#[derive(Debug, Default)]
pub(super) struct Script {
    statements: Vec<Statement>,
}

/// One statement of a script: its text and its parameters, in order.
#[derive(Debug, Default)]
pub(super) struct Statement {
    sql: String,
    values: Vec<Value>,
    /// A parameter that could not be encoded (a JSON value that does not serialize): the
    /// script fails before anything runs.
    invalid: Option<String>,
}

/// A value a statement's parameter takes, as sqlx would encode it for SQLite: integers and
/// booleans as INTEGER, strings and JSON (`sqlx::types::Json`) as TEXT, bytes as BLOB, `None` as
/// NULL.
pub(super) trait Bind {
    /// The value, or why it cannot be encoded.
    fn into_value(self) -> Result<Value, String>;
}

macro_rules! bind_integer {
    ($($t:ty),*) => {$(
        impl Bind for $t {
            fn into_value(self) -> Result<Value, String> {
                Ok(Value::Integer(i64::from(self)))
            }
        }
    )*};
}
bind_integer!(i64, i32, u32, u16, bool);

impl Bind for String {
    fn into_value(self) -> Result<Value, String> {
        Ok(Value::Text(self))
    }
}

impl Bind for &String {
    fn into_value(self) -> Result<Value, String> {
        Ok(Value::Text(self.clone()))
    }
}

impl Bind for &str {
    fn into_value(self) -> Result<Value, String> {
        Ok(Value::Text(self.to_string()))
    }
}

impl<T: serde::Serialize> Bind for Json<T> {
    fn into_value(self) -> Result<Value, String> {
        serde_json::to_string(&self.0).map(Value::Text).map_err(|e| format!("a JSON parameter does not serialize: {e}"))
    }
}

impl<T: Bind> Bind for Option<T> {
    fn into_value(self) -> Result<Value, String> {
        self.map_or(Ok(Value::Null), Bind::into_value)
    }
}

impl Statement {
    /// Appends SQL text.
    pub(super) fn push(&mut self, sql: impl std::fmt::Display) -> &mut Self {
        use std::fmt::Write;
        let _ = write!(self.sql, "{sql}");
        self
    }

    /// Appends a parameter (`?`) taking `value`.
    pub(super) fn push_bind(&mut self, value: impl Bind) -> &mut Self {
        self.sql.push('?');
        match value.into_value() {
            Ok(v) => self.values.push(v),
            Err(e) => {
                self.values.push(Value::Null);
                self.invalid.get_or_insert(e);
            }
        }
        self
    }

    /// Parameters to append separated by `separator`, as `sqlx::QueryBuilder::separated` does.
    pub(super) fn separated(&mut self, separator: &'static str) -> Separated<'_> {
        Separated { statement: self, separator, first: true }
    }

    /// Appends `VALUES (…), (…)`, one tuple per item, each written by `row` (its `push_bind`s
    /// separated by commas), as `sqlx::QueryBuilder::push_values` does.
    pub(super) fn push_values<I: IntoIterator>(&mut self, items: I, mut row: impl FnMut(Separated<'_>, I::Item)) -> &mut Self {
        self.sql.push_str("VALUES ");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.sql.push_str(", ");
            }
            self.sql.push('(');
            row(self.separated(", "), item);
            self.sql.push(')');
        }
        self
    }
}

/// Parameters separated by a separator (`Statement::separated`, one tuple of `push_values`).
pub(super) struct Separated<'s> {
    statement: &'s mut Statement,
    separator: &'static str,
    first: bool,
}

impl Separated<'_> {
    /// Appends a parameter, after the separator unless it is the first.
    pub(super) fn push_bind(&mut self, value: impl Bind) -> &mut Self {
        if !std::mem::take(&mut self.first) {
            self.statement.sql.push_str(self.separator);
        }
        self.statement.push_bind(value);
        self
    }
}

impl Script {
    pub(super) fn new() -> Self {
        Script::default()
    }

    /// Starts the next statement; push its text and parameters on the statement returned.
    pub(super) fn statement(&mut self, sql: &str) -> &mut Statement {
        self.statements.push(Statement { sql: sql.to_string(), ..Default::default() });
        let last = self.statements.len() - 1;
        &mut self.statements[last]
    }

    /// The first parameter that could not be encoded, as the error the script fails with.
    fn check(&self) -> StoreResult<()> {
        match self.statements.iter().find_map(|s| s.invalid.as_ref()) {
            Some(e) => Err(sqlx::Error::Encode(e.clone().into())),
            None => Ok(()),
        }
    }

    /// Runs every statement, in order, through sqlx; the first failure is the answer. A short
    /// script (the shape of a common write: a mapping's save) stays prepared on the connection; a
    /// long one (a stream created or rewritten with many tags) is prepared for this run only, so
    /// the connection's statement cache never holds thousands of statements of one rare shape.
    pub(super) async fn run(self, conn: &mut SqliteConnection) -> StoreResult<()> {
        if self.statements.is_empty() {
            return Ok(());
        }
        self.check()?;
        let persistent = self.statements.len() <= CACHED_SCRIPT_STATEMENTS;
        let sql = self.statements.iter().map(|s| s.sql.as_str()).collect::<Vec<_>>().join(";\n");
        let mut arguments = sqlx::sqlite::SqliteArguments::default();
        for value in self.statements.into_iter().flat_map(|s| s.values) {
            add_argument(&mut arguments, value).map_err(sqlx::Error::Encode)?;
        }
        sqlx::query_with::<Sqlite, _>(sqlx::AssertSqlSafe(sql), arguments).persistent(persistent).execute(conn).await?;
        Ok(())
    }

    /// Runs every statement, in order, on the locked connection; the first failure is the answer.
    /// Each statement stays prepared on `conn` while the group commit holds the connection.
    pub(super) fn run_locked(self, conn: &Locked<'_>) -> StoreResult<()> {
        self.check()?;
        for s in self.statements {
            let mut prepared = conn.0.prepare_cached(&s.sql).map_err(locked_error)?;
            prepared.execute(rusqlite::params_from_iter(s.values)).map_err(locked_error)?;
        }
        Ok(())
    }
}

/// Binds one recorded value as sqlx would have bound the original.
fn add_argument(arguments: &mut sqlx::sqlite::SqliteArguments, value: Value) -> Result<(), sqlx::error::BoxDynError> {
    use sqlx::Arguments;
    match value {
        Value::Null => arguments.add(None::<i64>),
        Value::Integer(i) => arguments.add(i),
        Value::Real(f) => arguments.add(f),
        Value::Text(s) => arguments.add(s),
        Value::Blob(b) => arguments.add(b),
    }
}

/// The connection of the group commit while it holds it (see `group`): statements run on it
/// directly, on the calling thread, with no round trip to sqlx's worker thread. Prepared
/// statements stay on it as long as the group commit keeps the connection.
pub struct Locked<'c>(pub(super) &'c rusqlite::Connection);

/// A failure on the locked connection as the store's error type: SQLite's own code and message
/// (what the service maps to a 500, or recognises as a constraint failure).
pub(super) fn locked_error(e: rusqlite::Error) -> sqlx::Error {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => {
            sqlx::Error::Protocol(format!("{} (SQLite code {})", message.unwrap_or_else(|| code.to_string()), code.extended_code))
        }
        other => sqlx::Error::Protocol(other.to_string()),
    }
}

impl Locked<'_> {
    /// Runs `sql` (statements without parameters or answers: savepoints).
    pub(super) fn batch(&self, sql: &str) -> StoreResult<()> {
        self.0.execute_batch(sql).map_err(locked_error)
    }
}
