//! The audit log: one entry per request that changed something or was refused (who, which
//! token, what, from where, the status and its outcome), readable by a namespace's admins (their
//! namespace) and server administrators (everything), purged by age.
//!
//! Must not: fail a request because its entry could not be written (that is logged instead), or
//! decide what a request was about (the permission check notes it in the request's `AuditNote`).

use super::{AuditNote, Caller, Service, Verb, db};
use crate::store;
use app::model::{ApiError, AuditEntry};

/// How many entries a read of the log shows.
const AUDIT_PAGE: i64 = 200;

impl Service {
    /// The audit log of a namespace (its admins), or of the whole server (server admins), newest
    /// first.
    pub async fn audit_log(&self, caller: &Caller, ns: Option<&str>) -> Result<Vec<AuditEntry>, ApiError> {
        self.allow(caller, Verb::List, "audit", ns)?;
        let mut conn = self.store.read().await.map_err(db)?;
        store::audit_of(&mut conn, ns, AUDIT_PAGE).await.map_err(db)
    }

    /// Writes the audit entry of one request: `action` is its method and path, `note` what the
    /// permission check learnt about it (who, which token, which namespace, which operation),
    /// `status` its HTTP status. Written outside the mutation's transaction, so a failed request
    /// is recorded too; a failure to write is logged, never the request's failure.
    pub async fn record_request(&self, action: String, note: AuditNote, remote: Option<String>, status: u16) {
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
        let written = async {
            let mut tx = self.store.begin().await?;
            store::insert_audit(&mut tx, &entry).await?;
            tx.commit().await
        };
        if let Err(e) = written.await {
            tracing::error!(error = %e, action = %super::for_log(&entry.action), "writing the audit log failed");
        }
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
