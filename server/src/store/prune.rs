//! What pruning reads in bulk (streams, their history items, images and their children, the
//! registry's last pulls) and the Image deletes it makes. Reads are single queries ordered so
//! the service can walk them once; nothing here decides what goes.
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

/// A history item: its stream, tag, position (highest `seq` = head) and image.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PruneItem {
    pub stream_id: i64,
    pub tag: String,
    pub created: String,
    pub image: String,
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

/// Every history item (of `namespace`'s streams, or all), per stream and tag, newest first.
pub async fn prune_items(conn: &mut SqliteConnection, namespace: Option<&str>) -> StoreResult<Vec<PruneItem>> {
    sqlx::query_as(
        "SELECT te.stream_id, te.tag, te.created, te.image FROM tag_events te JOIN image_streams s ON s.id = te.stream_id \
         WHERE ?1 IS NULL OR s.namespace = ?1 ORDER BY te.stream_id, te.tag, te.seq DESC",
    )
    .bind(namespace)
    .fetch_all(conn)
    .await
}

/// Every Image.
pub async fn prune_images(conn: &mut SqliteConnection) -> StoreResult<Vec<PruneImage>> {
    sqlx::query_as("SELECT digest, created, annotations FROM images ORDER BY digest").fetch_all(conn).await
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
