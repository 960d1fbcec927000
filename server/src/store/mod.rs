//! All SQL lives here. SQLite in WAL mode with one writer connection (SQLite serialises writers
//! anyway; one connection makes every write transaction start immediately instead of failing
//! with SQLITE_BUSY on lock upgrade) and a pool of readers. Functions take a connection so the
//! service can run several of them inside one transaction. Lists are indexed seek queries (the
//! catalog's numbered pages excepted, see `catalog`).
//!
//! Rows come back typed: `#[derive(sqlx::FromRow)]` structs or model types, JSON columns as
//! `sqlx::types::Json<T>` and role columns as `StoredRole`, so a stored value that does not decode
//! fails the read (the service answers 500) instead of turning into a default. Bound lists use
//! `sqlx::QueryBuilder`, so no SQL text is ever built from values.
//!
//! Must not: apply image-stream rules (that is `app::domain`), check permissions, read the clock
//! (times are passed in by the service), or decode a stored value leniently.

mod accounts;
mod audit;
mod catalog;
mod events;
mod images;
mod namespaces;
mod prune;
mod registry;
mod retention;
mod schedule;
mod secrets;
mod streams;
mod webhooks;

pub use accounts::*;
pub use audit::*;
pub use catalog::*;
pub use events::*;
pub use images::*;
pub use namespaces::*;
pub use prune::*;
pub use registry::*;
pub use retention::*;
pub use schedule::*;
pub use secrets::*;
pub use streams::*;
pub use webhooks::*;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// The migrations, embedded at build time (`server/build.rs` reruns the build when one changes).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// What every store function returns: a database fault, or a stored value that does not decode,
/// is an `sqlx::Error` the service maps to a 500.
pub type StoreResult<T> = Result<T, sqlx::Error>;

/// The database: a single-connection writer pool and a reader pool over one SQLite file.
#[derive(Clone)]
pub struct Store {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/imagestreams.db` and runs the migrations. A data
    /// directory this creates is private to the server's user (0700): it holds password hashes
    /// and the sealing key. An existing one keeps its mode (the operator chose it).
    pub async fn open(data_dir: &Path) -> StoreResult<Store> {
        if !data_dir.exists() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(data_dir).map_err(sqlx::Error::Io)?;
        }
        let path = data_dir.join("imagestreams.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(opts.clone()).await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(8).connect_with(opts.read_only(true)).await?;
        Ok(Store { writer, reader })
    }

    /// Starts the one write transaction of a mutation.
    pub async fn begin(&self) -> StoreResult<Transaction<'static, Sqlite>> {
        self.writer.begin().await
    }

    /// A connection for reads outside any write.
    pub async fn read(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        self.reader.acquire().await
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.reader).await.is_ok()
    }
}

/// Bumps the global resource version and returns the new value. Call once per mutation, inside
/// its transaction, only when something is actually written.
pub async fn next_resource_version(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("UPDATE resource_version_counter SET current = current + 1 WHERE id = 1 RETURNING current").fetch_one(conn).await
}

/// The current global resource version (for list metadata).
pub async fn current_resource_version(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT current FROM resource_version_counter WHERE id = 1").fetch_one(conn).await
}
