//! The audit log: one row per request that changed something or was refused, written and read
//! as `app::model::AuditEntry` (the API's own type, so there is one shape of an entry).
//!
//! Must not: decide what is audited or how an outcome is worded (that is `service::audit`).

use super::StoreResult;
use app::model::AuditEntry;
use sqlx::SqliteConnection;

/// An audit row as the database has it. `AuditEntry` lives in `app`, which knows nothing of sqlx,
/// so rows are read into this and converted once.
#[derive(sqlx::FromRow)]
struct AuditRow {
    time: String,
    user: Option<String>,
    token: Option<String>,
    namespace: Option<String>,
    action: String,
    remote: Option<String>,
    /// An HTTP status; one that does not fit fails the read.
    code: u16,
    outcome: String,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            time: r.time,
            user: r.user,
            token: r.token,
            namespace: r.namespace,
            action: r.action,
            remote: r.remote,
            code: r.code,
            outcome: r.outcome,
        }
    }
}

/// Appends an entry. It is tied to the namespace that has the name now (its uid), so a namespace
/// deleted and created again does not inherit the old one's entries.
pub async fn insert_audit(conn: &mut SqliteConnection, a: &AuditEntry) -> StoreResult<()> {
    audit_script(a).run(conn).await
}

/// `insert_audit` on the group commit's locked connection (see `Locked`): the audit log's
/// writes, each entry on its own statement (kept prepared).
pub fn insert_audit_locked(conn: &super::Locked<'_>, a: &AuditEntry) -> StoreResult<()> {
    audit_script(a).run_locked(conn)
}

fn audit_script(a: &AuditEntry) -> super::script::Script {
    let mut script = super::script::Script::new();
    let q = script.statement("INSERT INTO audit (time, user, token, namespace, action, remote, code, outcome, namespace_uid) VALUES (");
    q.separated(", ")
        .push_bind(&a.time)
        .push_bind(a.user.as_ref())
        .push_bind(a.token.as_ref())
        .push_bind(a.namespace.as_ref())
        .push_bind(&a.action)
        .push_bind(a.remote.as_ref())
        .push_bind(a.code)
        .push_bind(&a.outcome);
    q.push(", (SELECT uid FROM namespaces WHERE name = ").push_bind(a.namespace.as_ref()).push("))");
    script
}

/// One page of the audit log of a namespace (or of the server: `None`), newest first: at most
/// `limit` entries older than the entry `before` (its row id; `None`: from the newest), each
/// with its row id (the next page's `before`). A namespace's entries are those of the namespace
/// that has the name now (by uid), not of an earlier one deleted under the same name.
pub async fn audit_page(
    conn: &mut SqliteConnection,
    namespace: Option<&str>,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<(i64, AuditEntry)>> {
    #[derive(sqlx::FromRow)]
    struct Paged {
        id: i64,
        #[sqlx(flatten)]
        row: AuditRow,
    }
    let rows: Vec<Paged> = sqlx::query_as(
        "SELECT id, time, user, token, namespace, action, remote, code, outcome FROM audit
         WHERE (?1 IS NULL OR namespace_uid = (SELECT uid FROM namespaces WHERE name = ?1)) AND (?2 IS NULL OR id < ?2)
         ORDER BY id DESC LIMIT ?3",
    )
    .bind(namespace)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|p| (p.id, AuditEntry::from(p.row))).collect())
}

/// Drops entries older than `before` (RFC 3339); returns how many.
pub async fn purge_audit(conn: &mut SqliteConnection, before: &str) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM audit WHERE time < ?").bind(before).execute(conn).await?.rows_affected())
}
