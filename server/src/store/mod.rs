//! All SQL lives here. SQLite in WAL mode with one writer connection (SQLite serialises writers
//! anyway; one connection makes every write transaction start immediately instead of failing
//! with SQLITE_BUSY on lock upgrade) and a pool of readers. Functions take a connection so the
//! service can run several of them inside one transaction. Lists are indexed seek queries (the
//! catalog's numbered pages excepted, see `catalog`).
//!
//! Rows come back typed: `#[derive(sqlx::FromRow)]` structs or model types, JSON columns as
//! `sqlx::types::Json<T>` and role columns as `StoredRole`, so a stored value that does not decode
//! fails the read (the service answers 500) instead of turning into a default. Bound lists use
//! `sqlx::QueryBuilder`, and a write's statements are recorded with their parameters
//! (`script::Script`), so no SQL text is ever built from values. The group commit's writes run
//! on the writer connection itself (`Locked`, rusqlite over sqlx's `sqlite3` handle, see
//! `group`); everything else goes through sqlx.
//!
//! Must not: apply image-stream rules (that is `app::domain`), check permissions, read the clock
//! (times are passed in by the service), or decode a stored value leniently.

/// An upper bound of the pending deliveries of namespace `?2` (`?1`: the pending state), as a
/// SQL expression (a literal, so queries built with `concat!` stay static): ids only grow, so no
/// more are pending than there are ids from the namespace's oldest pending delivery to the
/// newest delivery anywhere; one index lookup per subscription. NULL when none is pending.
macro_rules! pending_bound_sql {
    () => {
        "(SELECT (SELECT max(id) FROM webhook_deliveries) - min(h.id) + 1 FROM webhooks w2
           JOIN webhook_deliveries h
             ON h.id = (SELECT q.id FROM webhook_deliveries q WHERE q.state = ?1 AND q.webhook_id = w2.id ORDER BY q.id LIMIT 1)
           WHERE w2.namespace = ?2)"
    };
}

/// The four variants of statement `$sql` (a literal) that a write of the group commit sends
/// first when it opens its own savepoint (`group::Savepoint::enter` picks one): its savepoint is
/// `grouped_a` or `grouped_b`, opened alone or after releasing the other.
macro_rules! with_savepoint {
    ($sql:expr) => {
        [
            concat!("SAVEPOINT grouped_a;\n", $sql),
            concat!("SAVEPOINT grouped_b;\n", $sql),
            concat!("RELEASE grouped_b;\nSAVEPOINT grouped_a;\n", $sql),
            concat!("RELEASE grouped_a;\nSAVEPOINT grouped_b;\n", $sql),
        ]
    };
}

mod accounts;
mod audit;
mod catalog;
mod events;
mod group;
mod images;
mod namespaces;
mod operations;
mod prune;
mod registry;
mod retention;
mod schedule;
mod script;
mod secrets;
mod streams;
mod webhooks;

pub use accounts::*;
pub use audit::*;
pub use catalog::*;
pub use events::*;
pub use group::{GroupedWrite, Savepoint};
pub use images::*;
pub use namespaces::*;
pub use operations::*;
pub use prune::*;
pub use registry::*;
pub use retention::*;
pub use schedule::*;
pub use script::Locked;
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
    /// How the writer connects (a backup opens its own connection with it). Shared: the
    /// options hold a map of pragmas, and a store is cloned with every service clone (one per
    /// request, and one held by every open watch).
    writer_options: std::sync::Arc<SqliteConnectOptions>,
    /// Bulk writes in progress ([`Store::begin_bulk`]): while any runs, the writer keeps a
    /// larger page cache.
    bulk: std::sync::Arc<tokio::sync::Mutex<usize>>,
    /// The group commit of small writes ([`Store::group_write`]), started by the first.
    group: std::sync::Arc<std::sync::OnceLock<group::GroupCommit>>,
    /// Callers waiting for the writer pool other than the group commit, which keeps the writer
    /// connection between groups only while nobody else waits (`WaitingForWriter`).
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Reports the wait for a connection of `pool` asked for at `asked` (`metrics`).
fn pool_waited(pool: &'static str, asked: std::time::Instant) {
    crate::metrics::metrics().db_pool_wait.get_or_create(&crate::metrics::PoolLabels { pool }).observe(asked.elapsed().as_secs_f64());
}

/// Counts its holder among the callers waiting for the writer pool while it lives.
struct WaitingForWriter<'s>(&'s std::sync::atomic::AtomicUsize);

impl<'s> WaitingForWriter<'s> {
    fn new(count: &'s std::sync::atomic::AtomicUsize) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        WaitingForWriter(count)
    }
}

impl Drop for WaitingForWriter<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The write transaction of a mutation: an sqlx transaction (it derefs to one, so store
/// functions take `&mut tx`) that reports its duration to `metrics` when it ends, committed or
/// rolled back.
pub struct WriteTransaction {
    /// Always `Some` until `commit` or `rollback` takes it.
    tx: Option<Transaction<'static, Sqlite>>,
    started: std::time::Instant,
}

impl WriteTransaction {
    pub async fn commit(mut self) -> StoreResult<()> {
        match self.tx.take() {
            Some(tx) => tx.commit().await,
            None => Ok(()),
        }
    }

    pub async fn rollback(mut self) -> StoreResult<()> {
        match self.tx.take() {
            Some(tx) => tx.rollback().await,
            None => Ok(()),
        }
    }
}

impl std::ops::Deref for WriteTransaction {
    type Target = Transaction<'static, Sqlite>;
    fn deref(&self) -> &Self::Target {
        // `tx` is `None` only after `commit`/`rollback`, which consume the wrapper.
        self.tx.as_ref().unwrap_or_else(|| unreachable!("a write transaction used after it ended"))
    }
}

impl std::ops::DerefMut for WriteTransaction {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.tx.as_mut().unwrap_or_else(|| unreachable!("a write transaction used after it ended"))
    }
}

impl Drop for WriteTransaction {
    fn drop(&mut self) {
        crate::metrics::metrics().db_transaction.observe(self.started.elapsed().as_secs_f64());
    }
}

/// The writer connection's page cache during bulk writes, in KiB (SQLite's `cache_size` as a
/// negative number). The one writer is the only connection that changes pages, so its cache
/// stays valid between transactions; a prune deleting items all over the history's indexes
/// then re-reads and spills far fewer pages: 50 s -> 35 s on the prune benchmark with 300 ms
/// write slices, peak 94 MB (`scripts/bench-prune.sh`). Outside bulk writes the writer keeps
/// `DEFAULT_CACHE_SIZE`, so a server's memory does not grow by this for everyday writes.
const BULK_WRITER_CACHE_KIB: i64 = 32 * 1024;
/// SQLite's default `cache_size` (-2000: about 2 MB), restored after the last bulk write. (An
/// 8 MB cache for everyday writes made no difference measurable here on the write benchmark,
/// and the soak test saw the server's memory grow by it after warm-up.)
const DEFAULT_CACHE_SIZE: i64 = -2000;

/// A bulk write in progress (see [`Store::begin_bulk`]); give it back with [`BulkWrites::end`].
pub struct BulkWrites(Store);

impl BulkWrites {
    /// Ends this bulk write; after the last one the writer's page cache shrinks back (SQLite
    /// frees the pages beyond the new size).
    pub async fn end(self) {
        let mut running = self.0.bulk.lock().await;
        *running = running.saturating_sub(1);
        if *running == 0 {
            let _waiting = WaitingForWriter::new(&self.0.waiting);
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = {DEFAULT_CACHE_SIZE}"))).execute(&self.0.writer).await;
        }
    }
}

impl Store {
    /// Starts a bulk write (a real prune): the writer's page cache grows to
    /// `BULK_WRITER_CACHE_KIB` until the last bulk write ends.
    pub async fn begin_bulk(&self) -> StoreResult<BulkWrites> {
        let mut running = self.bulk.lock().await;
        if *running == 0 {
            let _waiting = WaitingForWriter::new(&self.waiting);
            sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA cache_size = -{BULK_WRITER_CACHE_KIB}"))).execute(&self.writer).await?;
        }
        *running += 1;
        Ok(BulkWrites(self.clone()))
    }

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
        let writer = SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(opts.clone()).await?;
        MIGRATOR.run(&writer).await?;
        let reader =
            SqlitePoolOptions::new().max_connections(8).test_before_acquire(false).connect_with(opts.clone().read_only(true)).await?;
        Ok(Store::from_pools(writer, reader, opts))
    }

    /// A store over its two pools; `opts` is how the writer connects.
    fn from_pools(writer: SqlitePool, reader: SqlitePool, opts: SqliteConnectOptions) -> Store {
        Store {
            writer,
            reader,
            writer_options: std::sync::Arc::new(opts),
            bulk: Default::default(),
            group: Default::default(),
            waiting: Default::default(),
        }
    }

    /// Opens the database of an existing data directory without migrating it (a backup of a
    /// running server must not change its schema, nor create a database where none is).
    pub async fn open_existing(data_dir: &Path) -> StoreResult<Store> {
        let path = data_dir.join("imagestreams.db");
        if !path.is_file() {
            return Err(sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::NotFound, format!("no database at {}", path.display()))));
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(false)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let writer = SqlitePoolOptions::new().max_connections(1).test_before_acquire(false).connect_with(opts.clone()).await?;
        let reader =
            SqlitePoolOptions::new().max_connections(2).test_before_acquire(false).connect_with(opts.clone().read_only(true)).await?;
        Ok(Store::from_pools(writer, reader, opts))
    }

    /// `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub async fn integrity_check(&self) -> StoreResult<String> {
        let _waiting = WaitingForWriter::new(&self.waiting);
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&self.writer).await?;
        Ok(rows.join("; "))
    }

    /// Closes both pools (a backup's database is complete on disk afterwards, WAL merged).
    pub async fn close(&self) {
        self.reader.close().await;
        let _waiting = WaitingForWriter::new(&self.waiting);
        self.writer.close().await;
    }

    /// Starts the one write transaction of a mutation. The wait for the writer and the
    /// transaction's duration are measured (`metrics`).
    pub async fn begin(&self) -> StoreResult<WriteTransaction> {
        let asked = std::time::Instant::now();
        let tx = {
            let _waiting = WaitingForWriter::new(&self.waiting);
            self.writer.begin().await
        };
        pool_waited("writer", asked);
        Ok(WriteTransaction { tx: Some(tx?), started: std::time::Instant::now() })
    }

    /// The writer connection for the group commit (the wait for it is measured; it is not
    /// counted as waiting, see `writers_waiting`).
    async fn acquire_writer(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        let asked = std::time::Instant::now();
        let conn = self.writer.acquire().await;
        pool_waited("writer", asked);
        conn
    }

    /// Whether a caller other than the group commit waits for the writer pool.
    fn writers_waiting(&self) -> bool {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed) > 0
    }

    /// A connection for reads outside any write (the wait for it is measured).
    pub async fn read(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        let asked = std::time::Instant::now();
        let conn = self.reader.acquire().await;
        pool_waited("reader", asked);
        conn
    }

    /// `VACUUM INTO path`: a consistent copy of the whole database in one new file, taken from a
    /// read snapshot while writers go on (WAL). `path` must not exist.
    pub async fn copy_into(&self, path: &Path) -> StoreResult<()> {
        let target = path.to_str().ok_or_else(|| sqlx::Error::Protocol("the backup path is not UTF-8".into()))?;
        // A fresh read-only connection: VACUUM INTO writes only the new file, and a backup must
        // never be able to write the live database.
        let mut conn = sqlx::ConnectOptions::connect(&(*self.writer_options).clone().read_only(true)).await?;
        sqlx::query("VACUUM INTO ?").bind(target).execute(&mut conn).await?;
        sqlx::Connection::close(conn).await
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
