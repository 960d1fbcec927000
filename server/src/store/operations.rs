//! What operations read from the database: the counts `/metrics` reports (outbox depth,
//! event-log size, blob-store size) and the blob rows a backup copies.
//!
//! Must not: write anything but a backup copy's own rows (`forget_blob_rows` runs on the copy).

use super::StoreResult;
use app::model::DELIVERY_PENDING;
use sqlx::SqliteConnection;

/// Counts of stored state, read at each scrape.
#[derive(Debug, Default, Clone, Copy, sqlx::FromRow)]
pub struct OperationalCounts {
    /// Webhook deliveries waiting to be sent.
    pub outbox_pending: i64,
    /// Rows of the watch event log.
    pub watch_events: i64,
    /// Blobs recorded in the registry's blob store, and their bytes.
    pub blobs: i64,
    pub blob_bytes: i64,
}

pub async fn operational_counts(conn: &mut SqliteConnection) -> StoreResult<OperationalCounts> {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM webhook_deliveries WHERE state = ?1) AS outbox_pending,
                (SELECT count(*) FROM watch_events) AS watch_events,
                (SELECT count(*) FROM registry_blobs) AS blobs,
                (SELECT coalesce(sum(size), 0) FROM registry_blobs) AS blob_bytes",
    )
    .bind(DELIVERY_PENDING)
    .fetch_one(conn)
    .await
}

/// Every blob the blob store is recorded to hold, by digest.
pub async fn blob_digests(conn: &mut SqliteConnection) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT digest FROM registry_blobs ORDER BY digest").fetch_all(conn).await
}

/// Drops the rows of blobs a backup could not copy (collected while it ran) from the backup's
/// own database.
pub async fn forget_blob_rows(conn: &mut SqliteConnection, digests: &[String]) -> StoreResult<()> {
    for d in digests {
        sqlx::query("DELETE FROM registry_blobs WHERE digest = ?").bind(d).execute(&mut *conn).await?;
    }
    Ok(())
}
