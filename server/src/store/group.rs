//! Group commit: small writes that arrive while the writer is busy share one transaction, each
//! inside its own savepoint, so one that fails rolls back its own statements only and the others
//! commit. A write is acknowledged only after the group's commit; if the commit fails, every
//! write of the group is told so. The batching and every transaction run on the write thread
//! (`on_write_thread`).
//!
//! Why: SQLite has one writer, and each transaction's commit writes every page it changed to the
//! WAL. Writes close in time change many of the same pages (the resource version counter, the
//! event log's and the outbox's last index pages), so a group writes them once; and the writer
//! moves from one write to the next without a round through the pool.
//!
//! Inside a group the writes run on the connection itself (`Locked`): the group takes sqlx's
//! lock of the connection (`SqliteConnection::lock_handle`) and runs their statements on the
//! write thread, with statements kept prepared (rusqlite over the same `sqlite3` handle), so a
//! write's statements cost no round trip to sqlx's worker thread; each round trip was two
//! thread switches on 2 cores. A write that needs more (`GroupedWrite::apply_locked` answers
//! `None`) runs through sqlx with the lock given back. While writes keep coming the group
//! commit keeps the writer connection (its prepared statements belong to it) and gives it back
//! when its queue is empty or another writer waits for the pool.
//!
//! Must not: know what a write does (that is the job's, `GroupedWrite`), acknowledge anything
//! before the commit, or touch the prepared statements (create, run or finalize them) without
//! holding the connection's lock: sqlx's worker thread uses the same `sqlite3` handle, opened
//! without SQLite's own mutex.

use super::{Locked, Store};
use sqlx::SqliteConnection;
use std::future::Future;
use std::pin::Pin;

/// Most writes in one group: a bound on how long the first of them waits for the commit.
const GROUP_MAX: usize = 64;
/// Statements kept prepared on the writer connection while the group commit holds it: every
/// shape of the grouped writes (a mapping's script is about ten) with room to spare.
const PREPARED_STATEMENTS: usize = 64;

/// A write that joins a group commit.
pub trait GroupedWrite: Send + 'static {
    /// Runs the write on the locked connection, inside the group's transaction and its own
    /// savepoint: `Some(succeeded)` (on `false` its statements are rolled back, and the job keeps
    /// its own error for `finish`); or `None` when it must go on through sqlx (`apply`: a rare
    /// case, reading again, a query it has no locked form of). Before answering `None` it may
    /// have opened its savepoint and read, keeping what `apply` needs, but must not have
    /// written. `savepoint` is for a write that opens its own (`enters_savepoint`).
    fn apply_locked(&mut self, conn: &Locked<'_>, savepoint: &mut Savepoint) -> Option<bool>;

    /// Goes on through sqlx, with the connection's lock given back, from where `apply_locked`
    /// answered `None`; returns whether the write succeeded, as `apply_locked` does. A write
    /// whose `apply_locked` always answers needs none: the default says the write failed.
    fn apply<'c>(
        &'c mut self,
        _conn: &'c mut SqliteConnection,
        _savepoint: &'c mut Savepoint,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async {
            tracing::error!("a grouped write that has no form through sqlx was asked to go on through it");
            false
        })
    }

    /// Whether the write changes the database with at most one statement whatever happens (it may
    /// try others after a failed one, which SQLite rolls back by itself). Such a write runs
    /// without a savepoint of its own: a statement less.
    fn one_statement(&self) -> bool {
        false
    }

    /// Whether the write opens its savepoint itself (`Savepoint::enter_locked`, or the statements
    /// `Savepoint::enter` gives in front of its first statement, before anything it writes).
    /// Else the group opens it before the write runs.
    fn enters_savepoint(&self) -> bool {
        false
    }

    /// Called once after the group ended: `Ok` when the group committed (a write whose `apply`
    /// failed answers its own error), or why the group's transaction failed (nothing of the write
    /// is stored).
    fn finish(self: Box<Self>, committed: Result<(), String>);
}

/// The batcher: writes wait in its queue; it runs on the write thread.
pub(super) struct GroupCommit {
    queue: tokio::sync::mpsc::UnboundedSender<Box<dyn GroupedWrite>>,
}

impl GroupCommit {
    fn start(store: Store) -> Self {
        let (queue, pending) = tokio::sync::mpsc::unbounded_channel();
        let run = run(store, pending);
        // Detached: the batcher lives as long as some sender (a clone of the store) does.
        drop(on_write_thread_spawn(run));
        GroupCommit { queue }
    }
}

/// The writer connection while the group commit keeps it between groups, with the statements
/// prepared on it.
#[derive(Default)]
struct Held {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Sqlite>>,
    /// The same connection as rusqlite sees it (not owning it): its statement cache. Only used,
    /// and only dropped (which finalizes the statements), under the connection's lock, and
    /// always dropped before `conn` goes back to the pool, which may close it (sqlx's close
    /// fails on a connection with statements left).
    prepared: Option<rusqlite::Connection>,
}

async fn run(store: Store, mut pending: tokio::sync::mpsc::UnboundedReceiver<Box<dyn GroupedWrite>>) {
    use futures::FutureExt;
    let mut group: Vec<Box<dyn GroupedWrite>> = Vec::with_capacity(GROUP_MAX);
    let mut held = Held::default();
    while pending.recv_many(&mut group, GROUP_MAX).await > 0 {
        let give_back = || pending.is_empty() || store.writers_waiting();
        let written = std::panic::AssertUnwindSafe(write_group(&store, &mut held, &mut group, &give_back)).catch_unwind().await;
        let committed = match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            // A job panicked: the transaction was dropped (rolled back); the others are told.
            Err(_) => Err("a write of this group panicked; nothing of it was stored".to_string()),
        };
        if let Err(e) = &committed {
            tracing::error!(error = %e, writes = group.len(), "a group of writes failed");
            // Starts afresh on a connection as the pool gives it.
            held.give_back().await;
        } else if held.prepared.is_none() {
            // The group gave its statements up (`give_back` said so): the connection goes too.
            held.conn = None;
        }
        for job in group.drain(..) {
            // A job's own panic must not end the batcher (and drop `held` unlocked).
            let finish = std::panic::AssertUnwindSafe(|| job.finish(committed.clone()));
            if std::panic::catch_unwind(finish).is_err() {
                tracing::error!("a write's answer panicked");
            }
        }
    }
    held.give_back().await;
}

impl Held {
    /// Finalizes the prepared statements under the connection's lock and returns the connection
    /// to the pool. If the lock cannot be had (sqlx's worker is gone), the statements are
    /// leaked rather than finalized unlocked.
    async fn give_back(&mut self) {
        if let Some(prepared) = self.prepared.take() {
            let unlocked = match self.conn.as_mut() {
                Some(conn) => match conn.lock_handle().await {
                    Ok(locked) => {
                        drop(prepared);
                        drop(locked);
                        None
                    }
                    Err(_) => Some(prepared),
                },
                None => Some(prepared),
            };
            if let Some(prepared) = unlocked {
                self.leak(prepared);
            }
        }
        self.conn = None;
    }

    /// Leaks the statements and the connection they belong to: closing the connection with
    /// statements left makes sqlx panic, and finalizing them unlocked could race its worker.
    fn leak(&mut self, prepared: rusqlite::Connection) {
        std::mem::forget(prepared);
        if let Some(conn) = self.conn.take() {
            std::mem::forget(conn.detach());
        }
    }
}

impl Drop for Held {
    /// Dropped with statements left (the batcher's task was dropped, at a runtime's shutdown):
    /// the lock cannot be taken here, so both are leaked (see `leak`).
    fn drop(&mut self) {
        if let Some(prepared) = self.prepared.take() {
            self.leak(prepared);
        }
    }
}

/// The savepoint of one write. Writes take the two names in turn, and a write's savepoint is
/// opened together with the release of the one before it (one round trip between writes; a
/// savepoint left open at the end is released by the commit). Were a write to claim it opened
/// its savepoint without having done so, its rollback would name a savepoint that does not exist
/// and fail the group, rather than undo the write before it.
#[derive(Debug)]
pub struct Savepoint {
    /// This write's name: 0 or 1 (`grouped_a`, `grouped_b`).
    slot: usize,
    /// Whether the write before left its savepoint (the other name) open.
    after_another: bool,
    /// Whether this write's savepoint was opened (or its statements handed out to open it).
    entered: bool,
}

impl Savepoint {
    /// Of the four variants of a statement built by `with_savepoint!`, the one that opens this
    /// write's savepoint first. The write must send it before any statement that writes.
    pub fn enter(&mut self, variants: &[&'static str; 4]) -> &'static str {
        debug_assert!(!self.entered, "a write opens its savepoint once");
        self.entered = true;
        variants[usize::from(self.after_another) * 2 + self.slot]
    }

    /// Opens this write's savepoint on the locked connection (after releasing the one before).
    pub fn enter_locked(&mut self, conn: &Locked<'_>) -> sqlx::Result<()> {
        conn.batch(self.enter(&ENTER))
    }
}

/// Opening a savepoint alone (the group's, for writes that do not open their own).
const ENTER: [&str; 4] = with_savepoint!("");
const ROLLBACK: [&str; 2] = ["ROLLBACK TO grouped_a", "ROLLBACK TO grouped_b"];

/// Runs the group in one transaction (see `Savepoint`) on the connection `held` keeps (taking
/// one from the pool if it keeps none). A one-statement write runs inside the savepoint of the
/// write before it, which has ended and is never rolled back after that. The writes run on the
/// locked connection; one that needs sqlx runs with the lock given back. Before the lock is
/// given back for the commit, the prepared statements are finalized if `give_back` says the
/// connection goes back to the pool after this group.
async fn write_group(
    store: &Store,
    held: &mut Held,
    group: &mut [Box<dyn GroupedWrite>],
    give_back: &(dyn Fn() -> bool + Sync),
) -> sqlx::Result<()> {
    let conn = match &mut held.conn {
        Some(conn) => conn,
        None => held.conn.insert(store.acquire_writer().await?),
    };
    let started = std::time::Instant::now();
    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
    // The slot of the savepoint open now, if any.
    let mut open: Option<usize> = None;
    let mut jobs = group.iter_mut();
    'group: loop {
        // A locked stretch: writes run on the connection until one needs sqlx.
        let mut needs_sqlx = None;
        {
            let mut lock = tx.lock_handle().await?;
            let prepared = match &mut held.prepared {
                Some(p) => p,
                None => {
                    // Safety: the handle is sqlx's open connection, which outlives this value
                    // (`Held::prepared` is dropped before the connection is given back); it
                    // is used only while `lock` is held, so never beside sqlx's worker.
                    let p =
                        unsafe { rusqlite::Connection::from_handle(lock.as_raw_handle().as_ptr()) }.map_err(super::script::locked_error)?;
                    p.set_prepared_statement_cache_capacity(PREPARED_STATEMENTS);
                    held.prepared.insert(p)
                }
            };
            let locked = Locked(prepared);
            for job in jobs.by_ref() {
                let mut savepoint = Savepoint { slot: open.map_or(0, |s| 1 - s), after_another: open.is_some(), entered: false };
                if !job.one_statement() && !job.enters_savepoint() {
                    savepoint.enter_locked(&locked)?;
                }
                match job.apply_locked(&locked, &mut savepoint) {
                    Some(ok) => {
                        if savepoint.entered {
                            open = Some(savepoint.slot);
                            if !ok {
                                locked.batch(ROLLBACK[savepoint.slot])?;
                            }
                        }
                    }
                    None => {
                        needs_sqlx = Some((job, savepoint));
                        break;
                    }
                }
            }
            if needs_sqlx.is_none() && give_back() {
                held.prepared = None;
            }
            drop(lock);
        }
        let Some((job, mut savepoint)) = needs_sqlx else { break 'group };
        let ok = job.apply(&mut tx, &mut savepoint).await;
        if savepoint.entered {
            // Whatever the write's kind: the next one must release this savepoint, not open
            // a second of the same name inside it.
            open = Some(savepoint.slot);
            if !ok {
                // Undoes this write's statements; the savepoint stays open, empty.
                sqlx::raw_sql(ROLLBACK[savepoint.slot]).execute(&mut *tx).await?;
            }
        }
        // Not entered: the write sent nothing (it must open its savepoint first), so a failure
        // has nothing to undo.
    }
    let committed = tx.commit().await;
    crate::metrics::metrics().db_transaction.observe(started.elapsed().as_secs_f64());
    committed
}

impl Store {
    /// Queues `job` for the next group commit and returns at once; the job's `finish` says how it
    /// ended. If the batcher is gone (it never ends while the store lives), `finish` says so.
    pub fn group_write(&self, job: Box<dyn GroupedWrite>) {
        // The batcher's store has no batcher of its own: it must not hold its own queue open,
        // or it would outlive every other clone of the store (and the database with it).
        let group = self.group.get_or_init(|| GroupCommit::start(Store { group: Default::default(), ..self.clone() }));
        if let Err(tokio::sync::mpsc::error::SendError(job)) = group.queue.send(job) {
            job.finish(Err("the group commit has stopped".to_string()));
        }
    }
}

/// The write thread: a runtime of its own on one OS thread (`None` if it could not start).
fn write_thread() -> Option<&'static tokio::runtime::Handle> {
    static WRITE_THREAD: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    WRITE_THREAD
        .get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            let handle = rt.handle().clone();
            std::thread::Builder::new().name("imagestreams-writer".into()).spawn(move || rt.block_on(std::future::pending::<()>())).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// Spawns `write` on the write thread, so the steps of a transaction (each statement a round
/// trip to the connection's worker thread) continue as soon as their answer comes, instead of
/// waiting in line behind request tasks on the shared runtime's workers while holding the one
/// writer.
fn on_write_thread_spawn<T: Send + 'static>(write: impl Future<Output = T> + Send + 'static) -> tokio::task::JoinHandle<T> {
    match write_thread() {
        Some(h) => h.spawn(write),
        // No thread could be started: on the caller's runtime.
        None => tokio::spawn(write),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Bumps the resource version counter, then succeeds or fails as told; on the locked
    /// connection if `locked`, else through sqlx.
    struct Bump {
        succeed: bool,
        one: bool,
        enters: bool,
        locked: bool,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    }

    impl GroupedWrite for Bump {
        fn apply<'c>(
            &'c mut self,
            conn: &'c mut SqliteConnection,
            savepoint: &'c mut Savepoint,
        ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
            Box::pin(async move {
                if self.enters {
                    let sql = savepoint.enter(&with_savepoint!("UPDATE resource_version_counter SET current = current + 1 WHERE id = 1"));
                    return sqlx::raw_sql(sql).execute(&mut *conn).await.is_ok() && self.succeed;
                }
                super::super::next_resource_version(conn).await.is_ok() && self.succeed
            })
        }
        fn apply_locked(&mut self, conn: &Locked<'_>, savepoint: &mut Savepoint) -> Option<bool> {
            if !self.locked {
                return None;
            }
            const BUMP: &str = "UPDATE resource_version_counter SET current = current + 1 WHERE id = 1";
            let bumped = if self.enters {
                conn.batch(savepoint.enter(&with_savepoint!("UPDATE resource_version_counter SET current = current + 1 WHERE id = 1")))
            } else {
                conn.batch(BUMP)
            };
            Some(bumped.is_ok() && self.succeed)
        }
        fn one_statement(&self) -> bool {
            self.one
        }
        fn enters_savepoint(&self) -> bool {
            self.enters
        }
        fn finish(self: Box<Self>, committed: Result<(), String>) {
            let _ = self.done.send(committed);
        }
    }

    #[tokio::test]
    async fn a_failed_write_rolls_back_alone_and_the_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let before = super::super::current_resource_version(&mut store.read().await.unwrap()).await.unwrap();
        let mut answers = vec![];
        let mut expected = 0;
        for i in 0..16 {
            let (done, answer) = tokio::sync::oneshot::channel();
            // Queued together, so they share a group: every third fails after writing, every
            // fourth is one statement (run in the savepoint of the write before it, failed or
            // not), every other one opens its savepoint itself.
            // Every fifth goes through sqlx, between writes on the locked connection.
            let (one, succeed, enters, locked) = (i % 4 == 3, i % 3 != 1 || i % 4 == 3, i % 2 == 0, i % 5 != 2);
            expected += i64::from(succeed);
            store.group_write(Box::new(Bump { succeed, one, enters, locked, done }));
            answers.push(answer);
        }
        for a in answers {
            assert_eq!(a.await.unwrap(), Ok(()), "every group committed");
        }
        let after = super::super::current_resource_version(&mut store.read().await.unwrap()).await.unwrap();
        assert_eq!(after - before, expected, "the failed writes left nothing, the others are stored");
        assert_eq!(expected, 12, "four one-statement writes, and eight of the twelve others");
    }

    /// The group commit keeps the writer connection while writes keep coming (more than one
    /// group's worth always waits here), yet a writer outside it still gets the connection in
    /// time: the group commit gives it back when someone waits for the pool.
    #[tokio::test]
    async fn a_writer_outside_the_group_commit_is_not_starved() {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let written = std::sync::Arc::new(AtomicUsize::new(0));
        let feeders: Vec<_> = (0..2 * GROUP_MAX)
            .map(|_| {
                let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let (done, answer) = tokio::sync::oneshot::channel();
                        store.group_write(Box::new(Bump { succeed: true, one: false, enters: false, locked: true, done }));
                        assert_eq!(answer.await.unwrap(), Ok(()));
                        written.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        while written.load(Ordering::Relaxed) < 4 * GROUP_MAX {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for _ in 0..5 {
            let tx =
                tokio::time::timeout(Duration::from_secs(10), store.begin()).await.expect("the writer was given back in time").unwrap();
            tx.commit().await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        for f in feeders {
            f.await.unwrap();
        }
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
    }
}
