//! What pruning reads (streams; their history items a batch of streams at a time, each with its
//! key and whether its Image exists; Images a page at a time; manifest lists' children; the
//! registry's last pulls) and the deletes it makes (history items by key, Images only when
//! nothing names them). Reads are ordered so the service walks them once and never holds the
//! whole history; nothing here decides what goes.
//!
//! Must not: decide what to prune (that is `app::domain::prune` through the service).

use super::StoreResult;
use sqlx::SqliteConnection;
use sqlx::types::Json;
use std::collections::BTreeMap;

/// A stream as pruning sees it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PruneStream {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub created: String,
    pub annotations: Json<BTreeMap<String, String>>,
}

/// A history item: its stream, its key (`tag`, `seq`: the highest `seq` is the head), its
/// image and whether that Image object exists.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PruneItem {
    pub stream_id: i64,
    pub tag: String,
    pub seq: i64,
    pub created: String,
    pub image: String,
    pub known: bool,
}

/// An Image as pruning sees it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PruneImage {
    pub digest: String,
    pub created: String,
    pub annotations: Json<BTreeMap<String, String>>,
}

/// The streams (of `namespace`, or all), by namespace and name.
pub async fn prune_streams(conn: &mut SqliteConnection, namespace: Option<&str>) -> StoreResult<Vec<PruneStream>> {
    sqlx::query_as(
        "SELECT id, namespace, name, created, annotations FROM image_streams WHERE ?1 IS NULL OR namespace = ?1 ORDER BY namespace, name",
    )
    .bind(namespace)
    .fetch_all(conn)
    .await
}

/// The streams with these row ids as they are now (a real prune re-reads them inside its
/// transaction: a keep mark set meanwhile counts).
pub async fn prune_streams_by_id(conn: &mut SqliteConnection, ids: &[i64]) -> StoreResult<Vec<PruneStream>> {
    sqlx::query_as(
        "SELECT id, namespace, name, created, annotations FROM image_streams WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
    )
    .bind(Json(ids))
    .fetch_all(conn)
    .await
}

/// The history items of these streams, per stream and tag, newest first.
pub async fn prune_items(conn: &mut SqliteConnection, stream_ids: &[i64]) -> StoreResult<Vec<PruneItem>> {
    sqlx::query_as(
        "SELECT te.stream_id, te.tag, te.seq, te.created, te.image, EXISTS (SELECT 1 FROM images i WHERE i.digest = te.image) AS known \
         FROM tag_events te WHERE te.stream_id IN (SELECT value FROM json_each(?1)) ORDER BY te.stream_id, te.tag, te.seq DESC",
    )
    .bind(Json(stream_ids))
    .fetch_all(conn)
    .await
}

/// Deletes a stream's history items by key (`tag`, `seq`); returns how many went.
pub async fn delete_history_items(conn: &mut SqliteConnection, stream_id: i64, keys: &[(&str, i64)]) -> StoreResult<u64> {
    let done = sqlx::query(
        "DELETE FROM tag_events WHERE stream_id = ?1 AND (tag, seq) IN \
         (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?2))",
    )
    .bind(stream_id)
    .bind(Json(keys))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Sets a stream's resourceVersion (a change that touched only its history rows).
pub async fn set_stream_version(conn: &mut SqliteConnection, stream_id: i64, rv: i64) -> StoreResult<()> {
    sqlx::query("UPDATE image_streams SET resource_version = ? WHERE id = ?").bind(rv).bind(stream_id).execute(conn).await?;
    Ok(())
}

/// How many Images there are.
pub async fn count_images(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM images").fetch_one(conn).await
}

/// Up to `limit` Images after `after`, by digest.
pub async fn prune_images(conn: &mut SqliteConnection, after: &str, limit: i64) -> StoreResult<Vec<PruneImage>> {
    sqlx::query_as("SELECT digest, created, annotations FROM images WHERE digest > ? ORDER BY digest LIMIT ?")
        .bind(after)
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// The Images that are manifest lists (have children), by digest.
pub async fn prune_list_images(conn: &mut SqliteConnection) -> StoreResult<Vec<PruneImage>> {
    sqlx::query_as("SELECT digest, created, annotations FROM images WHERE digest IN (SELECT image FROM image_manifests) ORDER BY digest")
        .fetch_all(conn)
        .await
}

/// Every (list, child) pair of manifest lists.
pub async fn list_children(conn: &mut SqliteConnection) -> StoreResult<Vec<(String, String)>> {
    sqlx::query_as("SELECT image, digest FROM image_manifests ORDER BY image, position").fetch_all(conn).await
}

/// The last pull of each (namespace, stream, digest) through the registry.
pub async fn last_pulls(conn: &mut SqliteConnection, namespace: Option<&str>) -> StoreResult<Vec<(String, String, String, String)>> {
    sqlx::query_as("SELECT namespace, stream, digest, last_pulled FROM registry_pulls WHERE ?1 IS NULL OR namespace = ?1")
        .bind(namespace)
        .fetch_all(conn)
        .await
}

/// Deletes an Image (its layers and children rows go with it) unless a history item of any
/// stream, or a list that a history item names, still refers to it: the final check of a
/// prune, in the deleting transaction. Returns whether it was deleted.
pub async fn delete_unreferenced_image(conn: &mut SqliteConnection, digest: &str) -> StoreResult<bool> {
    let referenced: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tag_events WHERE image = ?1 \
           OR image IN (SELECT image FROM image_manifests WHERE digest = ?1)",
    )
    .bind(digest)
    .fetch_one(&mut *conn)
    .await?;
    if referenced > 0 {
        return Ok(false);
    }
    let done = sqlx::query("DELETE FROM images WHERE digest = ?").bind(digest).execute(conn).await?;
    Ok(done.rows_affected() > 0)
}
