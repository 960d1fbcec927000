//! Team retention policies and the record of their runs (`retention_policies`,
//! `retention_runs`): typed rows, the policy and the report as JSON columns.
//!
//! Must not: decide what a policy keeps, when one is due (the service passes the cutoff), or
//! read the clock.

use super::StoreResult;
use app::domain::prune::PruneReport;
use app::domain::retention::{RetentionPolicy, RetentionRun, StoredRetentionPolicy};
use sqlx::SqliteConnection;
use sqlx::types::Json;

#[derive(sqlx::FromRow)]
struct PolicyRow {
    namespace: String,
    policy: Json<RetentionPolicy>,
    updated: String,
    updated_by: String,
    last_scheduled_run: Option<String>,
}

impl From<PolicyRow> for StoredRetentionPolicy {
    fn from(r: PolicyRow) -> Self {
        StoredRetentionPolicy {
            namespace: r.namespace,
            policy: r.policy.0,
            updated: r.updated,
            updated_by: r.updated_by,
            last_scheduled_run: r.last_scheduled_run,
        }
    }
}

pub async fn get_retention_policy(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Option<StoredRetentionPolicy>> {
    let row: Option<PolicyRow> =
        sqlx::query_as("SELECT namespace, policy, updated, updated_by, last_scheduled_run FROM retention_policies WHERE namespace = ?")
            .bind(namespace)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(Into::into))
}

/// Writes a namespace's policy (replacing the one it had); when it had one, the schedule keeps
/// counting from the last scheduled run.
pub async fn put_retention_policy(conn: &mut SqliteConnection, p: &StoredRetentionPolicy) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO retention_policies (namespace, policy, updated, updated_by, last_scheduled_run) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (namespace) DO UPDATE SET policy = excluded.policy, updated = excluded.updated, updated_by = excluded.updated_by",
    )
    .bind(&p.namespace)
    .bind(Json(&p.policy))
    .bind(&p.updated)
    .bind(&p.updated_by)
    .bind(&p.last_scheduled_run)
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether there was a policy to delete.
pub async fn delete_retention_policy(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<bool> {
    Ok(sqlx::query("DELETE FROM retention_policies WHERE namespace = ?").bind(namespace).execute(conn).await?.rows_affected() > 0)
}

/// The policies whose schedule is due: last scheduled run (or, before one, the last update) at or
/// before `cutoff` (RFC 3339 UTC, the same format as stored, so text order is time order).
pub async fn due_retention_policies(conn: &mut SqliteConnection, cutoff: &str) -> StoreResult<Vec<StoredRetentionPolicy>> {
    let rows: Vec<PolicyRow> = sqlx::query_as(
        "SELECT namespace, policy, updated, updated_by, last_scheduled_run FROM retention_policies
         WHERE COALESCE(last_scheduled_run, updated) <= ? ORDER BY namespace",
    )
    .bind(cutoff)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn set_last_scheduled_run(conn: &mut SqliteConnection, namespace: &str, at: &str) -> StoreResult<()> {
    sqlx::query("UPDATE retention_policies SET last_scheduled_run = ? WHERE namespace = ?").bind(at).bind(namespace).execute(conn).await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    namespace: String,
    started: String,
    finished: Option<String>,
    trigger: String,
    by_user: String,
    state: String,
    policy: Json<RetentionPolicy>,
    deleted_items: i64,
    updated_streams: i64,
    deleted_images: i64,
    bytes_freed: i64,
    summary: String,
    error: Option<String>,
    report: Option<Json<PruneReport>>,
}

impl From<RunRow> for RetentionRun {
    fn from(r: RunRow) -> Self {
        RetentionRun {
            id: r.id,
            namespace: r.namespace,
            started: r.started,
            finished: r.finished,
            trigger: r.trigger,
            by: r.by_user,
            state: r.state,
            policy: r.policy.0,
            deleted_items: r.deleted_items,
            updated_streams: r.updated_streams,
            deleted_images: r.deleted_images,
            bytes_freed: r.bytes_freed,
            summary: r.summary,
            error: r.error,
            report: r.report.map(|j| j.0),
        }
    }
}

/// Records a run as it starts (`state` running); returns its id.
pub async fn insert_retention_run(conn: &mut SqliteConnection, run: &RetentionRun) -> StoreResult<i64> {
    let r = sqlx::query("INSERT INTO retention_runs (namespace, started, trigger, by_user, state, policy) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(&run.namespace)
        .bind(&run.started)
        .bind(&run.trigger)
        .bind(&run.by)
        .bind(&run.state)
        .bind(Json(&run.policy))
        .execute(conn)
        .await?;
    Ok(r.last_insert_rowid())
}

/// Writes a run's outcome: its end, state, counts, summary, error and report.
pub async fn finish_retention_run(conn: &mut SqliteConnection, run: &RetentionRun) -> StoreResult<()> {
    sqlx::query(
        "UPDATE retention_runs SET finished = ?, state = ?, deleted_items = ?, updated_streams = ?, deleted_images = ?,
         bytes_freed = ?, summary = ?, error = ?, report = ? WHERE id = ?",
    )
    .bind(&run.finished)
    .bind(&run.state)
    .bind(run.deleted_items)
    .bind(run.updated_streams)
    .bind(run.deleted_images)
    .bind(run.bytes_freed)
    .bind(&run.summary)
    .bind(&run.error)
    .bind(run.report.as_ref().map(Json))
    .bind(run.id)
    .execute(conn)
    .await?;
    Ok(())
}

/// At most `limit` runs of a namespace older than run `before` (`None`: from the newest), newest
/// first, without their reports.
pub async fn retention_runs_page(
    conn: &mut SqliteConnection,
    namespace: &str,
    before: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<RetentionRun>> {
    let rows: Vec<RunRow> = sqlx::query_as(
        "SELECT id, namespace, started, finished, trigger, by_user, state, policy, deleted_items, updated_streams, deleted_images,
                bytes_freed, summary, error, NULL AS report
         FROM retention_runs WHERE namespace = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3",
    )
    .bind(namespace)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// One run of a namespace with its report.
pub async fn get_retention_run(conn: &mut SqliteConnection, namespace: &str, id: i64) -> StoreResult<Option<RetentionRun>> {
    let row: Option<RunRow> = sqlx::query_as(
        "SELECT id, namespace, started, finished, trigger, by_user, state, policy, deleted_items, updated_streams, deleted_images,
                bytes_freed, summary, error, report
         FROM retention_runs WHERE namespace = ? AND id = ?",
    )
    .bind(namespace)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}
