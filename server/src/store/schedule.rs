//! The import schedule: which streams with scheduled tags are due, and when each is next due.
//!
//! Must not: decide what to import (that is `app::domain::imports`) or read the clock (`now` is
//! the service clock's).

use super::StoreResult;
use sqlx::SqliteConnection;

/// A stream named by namespace and name.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StreamKey {
    /// The stream's namespace.
    pub namespace: String,
    /// The stream's name.
    pub name: String,
}

/// Streams with a scheduled, importable tag that are due at `now` (never scheduled counts as
/// due), oldest due first, at most `limit`.
pub async fn due_scheduled_streams(conn: &mut SqliteConnection, now: &str, limit: i64) -> StoreResult<Vec<StreamKey>> {
    sqlx::query_as(
        "SELECT s.namespace, s.name FROM image_streams s
         LEFT JOIN import_schedule sch ON sch.stream_id = s.id
         WHERE EXISTS (SELECT 1 FROM spec_tags t WHERE t.stream_id = s.id AND t.import_scheduled = 1
                       AND t.from_kind = 'DockerImage' AND t.reference = 0)
           AND (sch.next_due IS NULL OR sch.next_due <= ?)
         ORDER BY sch.next_due IS NOT NULL, sch.next_due, s.namespace, s.name
         LIMIT ?",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Records when a stream is next due.
pub async fn set_next_due(conn: &mut SqliteConnection, namespace: &str, name: &str, next_due: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO import_schedule (stream_id, next_due)
         SELECT id, ? FROM image_streams WHERE namespace = ? AND name = ?
         ON CONFLICT (stream_id) DO UPDATE SET next_due = excluded.next_due",
    )
    .bind(next_due)
    .bind(namespace)
    .bind(name)
    .execute(conn)
    .await?;
    Ok(())
}

/// Streams that may have tags to import: an importable spec tag whose generation is unset or
/// newer than its head's. (Failed imports are filtered afterwards by the exact rule, which also
/// looks at conditions.) Cheap: no history is loaded.
pub async fn import_candidates(conn: &mut SqliteConnection) -> StoreResult<Vec<StreamKey>> {
    sqlx::query_as(
        "SELECT DISTINCT s.namespace, s.name FROM spec_tags t JOIN image_streams s ON s.id = t.stream_id
         WHERE t.from_kind = 'DockerImage' AND t.reference = 0
           AND (t.generation IS NULL OR t.generation > COALESCE(
                 (SELECT e.generation FROM tag_events e WHERE e.stream_id = t.stream_id AND e.tag = t.name ORDER BY e.seq DESC LIMIT 1), 0))
         ORDER BY s.namespace, s.name",
    )
    .fetch_all(conn)
    .await
}
