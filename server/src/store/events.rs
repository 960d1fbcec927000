//! The watch event log: one row per stored change of a stream, written inside the change's own
//! transaction (so a watcher never sees a change the database does not have), with the uid of its
//! namespace: a namespace deleted and created again under the same name is another namespace, and
//! its watchers never get the old one's events. A row records what changed (version, names,
//! type), not the stream: a write's cost must not grow with the stream's history (issue 18), so
//! the stream is rendered from its rows when a watcher needs it. Only `DELETED` keeps the last
//! state, which nothing else holds afterwards.
//!
//! Must not: filter events by who may see them (the service does) or render watch lines.

use super::StoreResult;
use app::model::ImageStream;
use sqlx::SqliteConnection;
use sqlx::types::Json;

/// One event of the log.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredEvent {
    /// The version the change got; the log's order.
    pub resource_version: i64,
    /// The stream's namespace.
    pub namespace: String,
    /// The uid of that namespace when the change was made (`None`: an event older than the uid
    /// column, of a namespace deleted since).
    pub namespace_uid: Option<String>,
    /// The stream's name.
    pub name: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    #[sqlx(rename = "type")]
    pub event_type: String,
    /// `DELETED`: the stream's last state. Otherwise `None` (rendered from the stream's rows;
    /// rows written before the log stopped keeping objects still carry theirs).
    pub object: Option<Json<ImageStream>>,
}

/// Appends an event, tied to the uid the namespace has now (the change's transaction holds the
/// namespace); `created` (the service clock) is what trimming by age compares. `object` is kept
/// only for a `DELETED` event (the callers pass `None` otherwise).
pub async fn record_event(
    conn: &mut SqliteConnection,
    rv: i64,
    namespace: &str,
    name: &str,
    event_type: &str,
    object: Option<&ImageStream>,
    created: &str,
) -> StoreResult<()> {
    let mut script = super::script::Script::new();
    push_event(&mut script, rv, namespace, name, event_type, object, created);
    script.run(conn).await
}

/// `record_event` as a statement of a write's script (same round trip as the write's rows).
pub(super) fn push_event(
    script: &mut super::script::Script,
    rv: i64,
    namespace: &str,
    name: &str,
    event_type: &str,
    object: Option<&ImageStream>,
    created: &str,
) {
    script
        .statement("INSERT INTO watch_events (resource_version, namespace, name, type, object, created, namespace_uid) VALUES (")
        .push_bind(rv)
        .push(", ")
        .push_bind(namespace.to_string())
        .push(", ")
        .push_bind(name.to_string())
        .push(", ")
        .push_bind(event_type.to_string())
        .push(", ")
        .push_bind(object.map(Json))
        .push(", ")
        .push_bind(created.to_string())
        .push(", (SELECT uid FROM namespaces WHERE name = ")
        .push_bind(namespace.to_string())
        .push("))");
}

/// Events after `after`, oldest first, optionally of one namespace (by its uid) and one name, at
/// most `limit`.
pub async fn events_after(
    conn: &mut SqliteConnection,
    after: i64,
    namespace_uid: Option<&str>,
    name: Option<&str>,
    limit: i64,
) -> StoreResult<Vec<StoredEvent>> {
    sqlx::query_as(
        "SELECT resource_version, namespace, namespace_uid, name, type, object FROM watch_events
         WHERE resource_version > ?1 AND (?2 IS NULL OR namespace_uid = ?2) AND (?3 IS NULL OR name = ?3)
         ORDER BY resource_version LIMIT ?4",
    )
    .bind(after)
    .bind(namespace_uid)
    .bind(name)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The oldest version a watch may resume from: changes after it are all still in the log.
/// That is the newest trimmed version (kept in `watch_horizon`), or 0 when nothing was trimmed.
pub async fn watch_horizon(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT horizon FROM watch_horizon WHERE id = 1").fetch_one(conn).await
}

/// Drops events older than `before` (RFC 3339) and all but the newest `keep`; moves the horizon.
pub async fn trim_events(conn: &mut SqliteConnection, before: &str, keep: i64) -> StoreResult<u64> {
    let cut: Option<i64> = sqlx::query_scalar(
        "SELECT max(resource_version) FROM watch_events WHERE created < ?1
            OR resource_version <= (SELECT resource_version FROM watch_events ORDER BY resource_version DESC LIMIT 1 OFFSET ?2)",
    )
    .bind(before)
    .bind(keep)
    .fetch_one(&mut *conn)
    .await?;
    let Some(cut) = cut else { return Ok(0) };
    let r = sqlx::query("DELETE FROM watch_events WHERE resource_version <= ?").bind(cut).execute(&mut *conn).await?;
    sqlx::query("UPDATE watch_horizon SET horizon = max(horizon, ?) WHERE id = 1").bind(cut).execute(&mut *conn).await?;
    Ok(r.rows_affected())
}

/// The names of the streams of a namespace (to record their deletion with it).
pub async fn stream_names(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM image_streams WHERE namespace = ? ORDER BY name").bind(namespace).fetch_all(conn).await
}

/// The uid of the namespace named `name` now, if there is one.
pub async fn namespace_uid(conn: &mut SqliteConnection, name: &str) -> StoreResult<Option<String>> {
    sqlx::query_scalar("SELECT uid FROM namespaces WHERE name = ?").bind(name).fetch_optional(conn).await
}

/// The uid of each namespace (of those named in `scope`; `None`: all) by name: what a watch
/// across namespaces may show, by identity.
pub async fn namespace_uids(conn: &mut SqliteConnection, scope: Option<&[String]>) -> StoreResult<Vec<(String, String)>> {
    sqlx::query_as("SELECT name, uid FROM namespaces WHERE ?1 IS NULL OR name IN (SELECT value FROM json_each(?1)) ORDER BY name")
        .bind(scope.map(Json))
        .fetch_all(conn)
        .await
}
