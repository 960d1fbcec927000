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
//! Must not: know what a write does (that is the job's, `GroupedWrite`), or acknowledge anything
//! before the commit.

use super::Store;
use sqlx::SqliteConnection;
use std::future::Future;
use std::pin::Pin;

/// Most writes in one group: a bound on how long the first of them waits for the commit.
const GROUP_MAX: usize = 64;

/// A write that joins a group commit.
pub trait GroupedWrite: Send + 'static {
    /// Runs the write inside the group's transaction and its own savepoint; returns whether it
    /// succeeded (on `false` its statements are rolled back, and the job keeps its own error for
    /// `finish`). `savepoint` is for a write that opens its own (`enters_savepoint`).
    fn apply<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
        savepoint: &'c mut Savepoint,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;

    /// Whether `apply` changes the database with at most one statement whatever happens (it may
    /// try others after a failed one, which SQLite rolls back by itself). Such a write runs
    /// without a savepoint of its own: a round trip less.
    fn one_statement(&self) -> bool {
        false
    }

    /// Whether `apply` opens its savepoint itself, with the statements `Savepoint::enter` gives
    /// in front of its first round trip (before anything it writes): a round trip less. Else
    /// the group opens it before `apply` runs.
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

async fn run(store: Store, mut pending: tokio::sync::mpsc::UnboundedReceiver<Box<dyn GroupedWrite>>) {
    use futures::FutureExt;
    let mut group: Vec<Box<dyn GroupedWrite>> = Vec::with_capacity(GROUP_MAX);
    while pending.recv_many(&mut group, GROUP_MAX).await > 0 {
        let written = std::panic::AssertUnwindSafe(write_group(&store, &mut group)).catch_unwind().await;
        let committed = match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            // A job panicked: the transaction was dropped (rolled back); the others are told.
            Err(_) => Err("a write of this group panicked; nothing of it was stored".to_string()),
        };
        if let Err(e) = &committed {
            tracing::error!(error = %e, writes = group.len(), "a group of writes failed");
        }
        for job in group.drain(..) {
            job.finish(committed.clone());
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
}

/// Opening a savepoint alone (the group's, for writes that do not open their own).
const ENTER: [&str; 4] = with_savepoint!("");
const ROLLBACK: [&str; 2] = ["ROLLBACK TO grouped_a", "ROLLBACK TO grouped_b"];

/// Runs the group in one transaction (see `Savepoint`). A one-statement write runs inside the
/// savepoint of the write before it, which has ended and is never rolled back after that.
async fn write_group(store: &Store, group: &mut [Box<dyn GroupedWrite>]) -> sqlx::Result<()> {
    let mut tx = store.begin().await?;
    // The slot of the savepoint open now, if any.
    let mut open: Option<usize> = None;
    for job in group.iter_mut() {
        let mut savepoint = Savepoint { slot: open.map_or(0, |s| 1 - s), after_another: open.is_some(), entered: false };
        let one_statement = job.one_statement();
        if !one_statement && !job.enters_savepoint() {
            sqlx::raw_sql(savepoint.enter(&ENTER)).execute(&mut **tx).await?;
        }
        let ok = job.apply(&mut tx, &mut savepoint).await;
        if savepoint.entered {
            // Whatever the write's kind: the next one must release this savepoint, not open
            // a second of the same name inside it.
            open = Some(savepoint.slot);
            if !ok {
                // Undoes this write's statements; the savepoint stays open, empty.
                sqlx::raw_sql(ROLLBACK[savepoint.slot]).execute(&mut **tx).await?;
            }
        }
        // Not entered: the write sent nothing (it must open its savepoint first), so a failure
        // has nothing to undo.
    }
    tx.commit().await
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

    /// Bumps the resource version counter, then succeeds or fails as told.
    struct Bump {
        succeed: bool,
        one: bool,
        enters: bool,
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
            let (one, succeed, enters) = (i % 4 == 3, i % 3 != 1 || i % 4 == 3, i % 2 == 0);
            expected += i64::from(succeed);
            store.group_write(Box::new(Bump { succeed, one, enters, done }));
            answers.push(answer);
        }
        for a in answers {
            assert_eq!(a.await.unwrap(), Ok(()), "every group committed");
        }
        let after = super::super::current_resource_version(&mut store.read().await.unwrap()).await.unwrap();
        assert_eq!(after - before, expected, "the failed writes left nothing, the others are stored");
        assert_eq!(expected, 12, "four one-statement writes, and eight of the twelve others");
    }
}
