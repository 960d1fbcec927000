//! The audit log: one entry per request that changed something or was refused (who, which
//! token, what, from where, the status and its outcome), readable by a namespace's admins (their
//! namespace) and server administrators (everything), purged by age.
//!
//! Must not: fail a request because its entry could not be written (that is logged instead), or
//! decide what a request was about (the permission check notes it in the request's `AuditNote`).

use super::{AuditNote, Caller, Service, Verb, db};
use crate::store;
use app::model::{ApiError, AuditEntry};

/// Entries written in one transaction at most (the group commit's batch).
const AUDIT_BATCH: usize = 256;

/// The audit log's writer: every mutating request writes an entry, and one write transaction
/// each would double the writer's transactions (issue 18, point 6). Entries of requests that end
/// at the same time are written together (a statement each, kept prepared) by one task, as one write of the
/// store's group commit (`store::GroupedWrite`), so they share a transaction with the writes
/// waiting beside them. Each request still waits until its entry is committed (or its failure
/// logged), so an entry is in the log when the answer leaves.
pub(crate) struct AuditWriter {
    queue: tokio::sync::mpsc::Sender<(AuditEntry, tokio::sync::oneshot::Sender<()>)>,
}

impl AuditWriter {
    /// Starts the writing task; it ends when the last sender (the service) is gone.
    fn start(store: crate::store::Store) -> Self {
        let (queue, mut pending) = tokio::sync::mpsc::channel::<(AuditEntry, tokio::sync::oneshot::Sender<()>)>(4 * AUDIT_BATCH);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(AUDIT_BATCH);
            while pending.recv_many(&mut batch, AUDIT_BATCH).await > 0 {
                let (entries, waiting): (Vec<AuditEntry>, Vec<_>) = batch.drain(..).unzip();
                let (written, done) = tokio::sync::oneshot::channel();
                store.group_write(Box::new(AuditWrite { entries, written }));
                // Entries that arrive meanwhile make the next batch.
                let _ = done.await;
                for w in waiting {
                    let _ = w.send(());
                }
            }
        });
        AuditWriter { queue }
    }

    /// Writes one entry with whatever else is waiting; returns once it is committed (or its
    /// failure logged).
    async fn write(&self, entry: AuditEntry) {
        let (done, written) = tokio::sync::oneshot::channel();
        let action = super::for_log(&entry.action).to_string();
        if self.queue.send((entry, done)).await.is_err() || written.await.is_err() {
            tracing::error!(action = %action, "writing the audit log failed: its writer has stopped");
        }
    }
}

/// A batch of audit entries as a write of the group commit.
struct AuditWrite {
    entries: Vec<AuditEntry>,
    written: tokio::sync::oneshot::Sender<()>,
}

impl store::GroupedWrite for AuditWrite {
    /// Each entry on its own statement (kept prepared): a bad one fails alone, and those written
    /// stay. It always answers `true`, so no savepoint is needed though it runs several
    /// statements (`one_statement`): nothing of it is ever rolled back.
    fn apply_locked(&mut self, conn: &store::Locked<'_>, _savepoint: &mut store::Savepoint) -> Option<bool> {
        for entry in &self.entries {
            if let Err(e) = store::insert_audit_locked(conn, entry) {
                tracing::error!(error = %e, action = %super::for_log(&entry.action), "writing the audit log failed");
            }
        }
        Some(true)
    }

    fn one_statement(&self) -> bool {
        true
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        if let Err(e) = committed {
            tracing::error!(error = %e, entries = self.entries.len(), "writing the audit log failed");
        }
        let _ = self.written.send(());
    }
}

/// How many entries a read of the log shows.
const AUDIT_PAGE: i64 = 200;

/// Refused requests of one caller written to the log per minute; beyond, they are counted in
/// the server log instead (a signed-in caller looping on refused requests would otherwise grow
/// the log without bound and push real entries out of view).
pub const REFUSALS_PER_MINUTE: u32 = 30;
/// Callers the refusal budget remembers at once (it starts afresh when full).
const REFUSAL_CALLERS: usize = 10_000;

/// Refused anonymous requests, which are not written to the audit log: counted, and the count
/// reported to the server log at most once a minute (service clock).
#[derive(Debug, Default)]
pub(crate) struct AnonymousRefusals(std::sync::Mutex<(i64, u64)>);

/// Per caller, the minute (unix minutes, service clock) and how many refusals were written in it.
#[derive(Debug, Default)]
pub(crate) struct RefusalBudget(std::sync::Mutex<std::collections::HashMap<String, (i64, u32)>>);

impl RefusalBudget {
    /// Whether one more refusal of `caller` may be written at `minute`.
    fn admit(&self, caller: &str, minute: i64) -> bool {
        let Ok(mut m) = self.0.lock() else { return true };
        if m.len() >= REFUSAL_CALLERS && !m.contains_key(caller) {
            m.clear();
        }
        let entry = m.entry(caller.to_string()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        entry.1 <= REFUSALS_PER_MINUTE
    }
}

impl Service {
    /// The audit log of a namespace (its admins), or of the whole server (server admins), newest
    /// first.
    pub async fn audit_log(&self, caller: &Caller, ns: Option<&str>) -> Result<Vec<AuditEntry>, ApiError> {
        self.allow(caller, Verb::List, "audit", ns)?;
        let mut conn = self.store.read().await.map_err(db)?;
        Ok(store::audit_page(&mut conn, ns, None, AUDIT_PAGE).await.map_err(db)?.into_iter().map(|(_, e)| e).collect())
    }

    /// One page of the audit log (`GET …/audit?limit=&continue=`), newest first, and the continue
    /// token of the next page when there is one. `limit` follows the other lists (default 500,
    /// at most 1000); the token is the position after this page's last entry.
    pub async fn audit_page(
        &self,
        caller: &Caller,
        ns: Option<&str>,
        limit: Option<i64>,
        continue_token: Option<&str>,
    ) -> Result<(Vec<AuditEntry>, Option<String>), ApiError> {
        self.allow(caller, Verb::List, "audit", ns)?;
        let limit = super::page_size(limit)?;
        let before = match continue_token {
            None | Some("") => None,
            Some(t) => Some(t.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "continue: Invalid value: {:?}: not a continue token of the audit log",
                    t.chars().take(64).collect::<String>()
                ))
            })?),
        };
        let mut conn = self.store.read().await.map_err(db)?;
        let mut rows = store::audit_page(&mut conn, ns, before, limit + 1).await.map_err(db)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(|(id, _)| id.to_string()) } else { None };
        Ok((rows.into_iter().map(|(_, e)| e).collect(), next))
    }

    /// Counts one refused anonymous request (the edge writes none of them to the audit log, so
    /// nobody can flood it); the count goes to the server log at most once a minute.
    pub fn count_refused_anonymous(&self) {
        let minute = self.clock_now().timestamp() / 60;
        let Ok(mut m) = self.anonymous_refusals.0.lock() else { return };
        m.1 += 1;
        if minute > m.0 {
            tracing::info!(refused = m.1, "anonymous requests refused since the last report (not written to the audit log)");
            *m = (minute, 0);
        }
    }

    /// Writes the audit entry of one request: `action` is its method and path, `note` what the
    /// permission check learnt about it (who, which token, which namespace, which operation),
    /// `status` its HTTP status. Written outside the mutation's transaction, so a failed request
    /// is recorded too; a failure to write is logged, never the request's failure.
    pub async fn record_request(&self, action: String, note: AuditNote, remote: Option<String>, status: u16) {
        if status >= 400 {
            let caller = note.token.clone().or_else(|| note.user.clone()).unwrap_or_else(|| remote.clone().unwrap_or_default());
            let minute = self.clock_now().timestamp() / 60;
            if !self.audit_refusals.admit(&caller, minute) {
                tracing::debug!(user = ?note.user.as_deref().map(super::for_log), status, "refusal not written to the audit log (over the per-minute budget)");
                return;
            }
        }
        let outcome = match status {
            200..=399 => "success".to_string(),
            _ => axum::http::StatusCode::from_u16(status).ok().and_then(|c| c.canonical_reason()).unwrap_or("failure").to_string(),
        };
        let entry = AuditEntry {
            time: self.clock_now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            user: note.user,
            token: note.token,
            namespace: note.namespace,
            action: match note.operation {
                Some(op) => format!("{action} ({op})"),
                None => action,
            },
            remote,
            code: status,
            outcome,
        };
        self.audit_writer.get_or_init(|| AuditWriter::start(self.store.clone())).write(entry).await;
    }

    /// Deletes sign-in sessions that have expired (by the service clock); returns how many. They
    /// no longer sign anyone in, but their rows would otherwise stay forever.
    pub async fn purge_expired_sessions(&self) -> Result<u64, ApiError> {
        let now = self.now_rfc3339();
        let mut tx = self.store.begin().await.map_err(db)?;
        let n = store::delete_expired_sessions(&mut tx, &now).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    /// Drops audit entries older than `max_age` (of the service clock).
    pub async fn purge_audit(&self, max_age: std::time::Duration) -> Result<u64, ApiError> {
        let before = (self.clock_now() - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::days(90)))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut tx = self.store.begin().await.map_err(db)?;
        let n = store::purge_audit(&mut tx, &before).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }
}
