//! Image objects: the row, its layers and its manifest-list children, and whether its metadata
//! is verified (it came from a registry through an import) or only claimed by a mapping. A
//! verified image is immutable once stored (keyed by digest); an unverified one is replaced
//! whole by the first import that fetches it (`put_imported_image`).
//!
//! Must not: fetch or parse manifests (that is `importer`) or decide which images to keep or
//! who may attach one (that is the service).

use super::StoreResult;
use app::model::*;
use sqlx::SqliteConnection;
use sqlx::types::Json;
use std::collections::BTreeMap;

/// An `images` row.
#[derive(sqlx::FromRow)]
struct ImageRow {
    digest: String,
    uid: String,
    resource_version: i64,
    created: String,
    annotations: Json<BTreeMap<String, String>>,
    labels: Json<BTreeMap<String, String>>,
    docker_image_reference: String,
    manifest_media_type: String,
    metadata_version: String,
    metadata: Option<Json<DockerImageMetadata>>,
}

/// An `image_layers` row.
#[derive(sqlx::FromRow)]
struct LayerRow {
    digest: String,
    size: i64,
    media_type: String,
}

/// An `image_manifests` row: a child of a manifest list.
#[derive(sqlx::FromRow)]
struct ManifestRow {
    digest: String,
    media_type: String,
    manifest_size: i64,
    architecture: String,
    os: String,
    variant: String,
}

/// The image of a row, with its layers and children.
async fn image_from_row(conn: &mut SqliteConnection, row: ImageRow) -> StoreResult<Image> {
    let layers: Vec<LayerRow> = sqlx::query_as("SELECT digest, size, media_type FROM image_layers WHERE image = ? ORDER BY position")
        .bind(&row.digest)
        .fetch_all(&mut *conn)
        .await?;
    let manifests: Vec<ManifestRow> = sqlx::query_as(
        "SELECT digest, media_type, manifest_size, architecture, os, variant FROM image_manifests WHERE image = ? ORDER BY position",
    )
    .bind(&row.digest)
    .fetch_all(&mut *conn)
    .await?;
    Ok(Image {
        metadata: ObjectMeta {
            name: row.digest,
            uid: Some(row.uid),
            resource_version: Some(row.resource_version.to_string()),
            creation_timestamp: Some(row.created),
            annotations: row.annotations.0,
            labels: row.labels.0,
            ..Default::default()
        },
        docker_image_reference: row.docker_image_reference,
        docker_image_manifest_media_type: row.manifest_media_type,
        docker_image_metadata_version: row.metadata_version,
        docker_image_metadata: row.metadata.map(|m| m.0),
        docker_image_layers: layers.into_iter().map(|l| ImageLayer { name: l.digest, size: l.size, media_type: l.media_type }).collect(),
        docker_image_manifests: manifests
            .into_iter()
            .map(|m| ImageManifest {
                digest: m.digest,
                media_type: m.media_type,
                manifest_size: m.manifest_size,
                architecture: m.architecture,
                os: m.os,
                variant: m.variant,
            })
            .collect(),
        ..Default::default()
    })
}

/// The image with digest `digest`.
pub async fn get_image(conn: &mut SqliteConnection, digest: &str) -> StoreResult<Option<Image>> {
    let Some(row) = sqlx::query_as("SELECT * FROM images WHERE digest = ?").bind(digest).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    Ok(Some(image_from_row(conn, row).await?))
}

/// Images after `after` by digest, at most `limit`.
pub async fn list_images(conn: &mut SqliteConnection, after: &str, limit: i64) -> StoreResult<Vec<Image>> {
    let rows: Vec<ImageRow> = sqlx::query_as("SELECT * FROM images WHERE digest > ? ORDER BY digest LIMIT ?")
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(image_from_row(conn, r).await?);
    }
    Ok(out)
}

/// Whether the image `digest` is stored, and if so whether its metadata is verified.
pub async fn image_verified(conn: &mut SqliteConnection, digest: &str) -> StoreResult<Option<bool>> {
    sqlx::query_scalar("SELECT verified FROM images WHERE digest = ?").bind(digest).fetch_optional(conn).await
}

/// Whether a stream in one of `scope`'s namespaces (`None`: any) has `digest` in a tag's history,
/// itself or as a child of a manifest list there.
pub async fn image_held_in(conn: &mut SqliteConnection, digest: &str, scope: Option<&[String]>) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
           WHERE (e.image = ?1 OR e.image IN (SELECT image FROM image_manifests WHERE digest = ?1))
             AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2))))",
    )
    .bind(digest)
    .bind(scope.map(Json))
    .fetch_one(conn)
    .await
}

/// Whether a new image may name `digest` as a child, a layer or its config for a caller who
/// reads the namespaces `scope`: the digest is stored nowhere (no manifest, blob, image, or
/// reference to one), or something in `scope` already holds it as the registry counts it
/// (`registry::push::blob_in_repository`: a repository's own contents, what a manifest it holds
/// refers to, an image of its history with the digest as itself, a child, a layer or its config).
/// An image held in a repository gives that repository what it names, so naming stored content
/// one cannot read would read it (a helper's attack: a mapping claiming another namespace's
/// manifest as a child served it, its config and layers to the claimant).
pub async fn claimable(conn: &mut SqliteConnection, digest: &str, scope: &[String]) -> StoreResult<bool> {
    sqlx::query_scalar(
        "WITH visible(namespace) AS (SELECT value FROM json_each(?2)),
              seen(image) AS (SELECT te.image FROM tag_events te JOIN image_streams s ON s.id = te.stream_id
                              WHERE s.namespace IN visible),
              holders(image) AS (SELECT ?1 UNION SELECT image FROM image_layers WHERE digest = ?1
                                 UNION SELECT digest FROM images WHERE json_extract(metadata, '$.Id') = ?1),
              parents(image) AS (SELECT image FROM holders
                                 UNION SELECT m.image FROM image_manifests m WHERE m.digest IN holders)
         SELECT NOT (EXISTS (SELECT 1 FROM registry_blobs WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM registry_manifests WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM images WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM image_layers WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM image_manifests WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM registry_manifest_refs WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM repository_contents WHERE digest = ?1)
                     OR EXISTS (SELECT 1 FROM images WHERE json_extract(metadata, '$.Id') = ?1))
             OR EXISTS (SELECT 1 FROM repository_contents WHERE digest = ?1 AND namespace IN visible)
             OR EXISTS (SELECT 1 FROM registry_manifest_refs r WHERE r.digest = ?1
                        AND (r.manifest IN (SELECT digest FROM repository_contents WHERE namespace IN visible)
                             OR r.manifest IN seen))
             OR EXISTS (SELECT 1 FROM parents WHERE image IN seen)",
    )
    .bind(digest)
    .bind(Json(scope))
    .fetch_one(conn)
    .await
}

/// Stores an image fetched from a registry, verified: inserted if new, or put in place of an
/// unverified record of the same digest (keeping its uid). Returns false, changing nothing, if a
/// verified record exists.
pub async fn put_imported_image(conn: &mut SqliteConnection, img: &Image, uid: &str, rv: i64, created: &str) -> StoreResult<bool> {
    let old: Option<(String, bool)> =
        sqlx::query_as("SELECT uid, verified FROM images WHERE digest = ?").bind(&img.metadata.name).fetch_optional(&mut *conn).await?;
    let uid = match old {
        Some((_, true)) => return Ok(false),
        Some((old_uid, false)) => {
            // Layers and children go with the row (ON DELETE CASCADE).
            sqlx::query("DELETE FROM images WHERE digest = ?").bind(&img.metadata.name).execute(&mut *conn).await?;
            old_uid
        }
        None => uid.to_string(),
    };
    insert_image_if_missing(conn, img, &uid, rv, created, true).await
}

/// An image known not to be stored (the caller checked under the writer), to be inserted by
/// `store::write_at_version` at that write's resource version. The raw manifest and config are
/// not stored (upstream strips them from imported images).
#[derive(Clone, Copy, Debug)]
pub struct NewImage<'a> {
    /// The image (its layers and manifest-list children go with it).
    pub image: &'a Image,
    /// Its new uid.
    pub uid: &'a str,
    /// RFC 3339.
    pub created: &'a str,
    /// The metadata came from a registry, not from a mapping's sender.
    pub verified: bool,
}

/// The statements inserting `new` at resource version `rv`, with its layers and children.
pub(super) fn push_new_image(script: &mut super::script::Script, new: NewImage<'_>, rv: i64) {
    let img = new.image;
    script
        .statement(
            "INSERT INTO images (digest, uid, resource_version, created, annotations, labels, docker_image_reference, manifest_media_type, metadata_version, metadata, verified) VALUES (",
        )
        .push_bind(img.metadata.name.clone())
        .push(", ")
        .push_bind(new.uid.to_string())
        .push(", ")
        .push_bind(rv)
        .push(", ")
        .push_bind(new.created.to_string())
        .push(", ")
        .push_bind(Json(img.metadata.annotations.clone()))
        .push(", ")
        .push_bind(Json(img.metadata.labels.clone()))
        .push(", ")
        .push_bind(img.docker_image_reference.clone())
        .push(", ")
        .push_bind(img.docker_image_manifest_media_type.clone())
        .push(", ")
        .push_bind(img.docker_image_metadata_version.clone())
        .push(", ")
        .push_bind(img.docker_image_metadata.clone().map(Json))
        .push(", ")
        .push_bind(new.verified)
        .push(")");
    push_image_children(script, img);
}

/// The rows of an image's layers and manifest-list children, as statements of `script`.
fn push_image_children(script: &mut super::script::Script, img: &Image) {
    for (i, l) in img.docker_image_layers.iter().enumerate() {
        script
            .statement("INSERT INTO image_layers (image, position, digest, size, media_type) VALUES (")
            .push_bind(img.metadata.name.clone())
            .push(", ")
            .push_bind(i as i64)
            .push(", ")
            .push_bind(l.name.clone())
            .push(", ")
            .push_bind(l.size)
            .push(", ")
            .push_bind(l.media_type.clone())
            .push(")");
    }
    for (i, m) in img.docker_image_manifests.iter().enumerate() {
        script
            .statement(
                "INSERT INTO image_manifests (image, position, digest, media_type, manifest_size, architecture, os, variant) VALUES (",
            )
            .push_bind(img.metadata.name.clone())
            .push(", ")
            .push_bind(i as i64)
            .push(", ")
            .push_bind(m.digest.clone())
            .push(", ")
            .push_bind(m.media_type.clone())
            .push(", ")
            .push_bind(m.manifest_size)
            .push(", ")
            .push_bind(m.architecture.clone())
            .push(", ")
            .push_bind(m.os.clone())
            .push(", ")
            .push_bind(m.variant.clone())
            .push(")");
    }
}

/// Inserts an image unless one with its digest exists. Returns whether it was inserted.
/// The raw manifest and config are not stored (upstream strips them from imported images).
/// `verified`: the metadata came from a registry, not from a mapping's sender.
pub async fn insert_image_if_missing(
    conn: &mut SqliteConnection,
    img: &Image,
    uid: &str,
    rv: i64,
    created: &str,
    verified: bool,
) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO images (digest, uid, resource_version, created, annotations, labels, docker_image_reference, manifest_media_type, metadata_version, metadata, verified)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&img.metadata.name)
    .bind(uid)
    .bind(rv)
    .bind(created)
    .bind(Json(&img.metadata.annotations))
    .bind(Json(&img.metadata.labels))
    .bind(&img.docker_image_reference)
    .bind(&img.docker_image_manifest_media_type)
    .bind(&img.docker_image_metadata_version)
    .bind(img.docker_image_metadata.as_ref().map(Json))
    .bind(verified)
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    let mut script = super::script::Script::new();
    push_image_children(&mut script, img);
    script.run(conn).await?;
    Ok(true)
}

/// Manifest-list children of the given images: list digest → child digests (in manifest order).
/// Images without children are left out. One indexed query per image: a stream's history can
/// name more images than SQLite binds in one statement.
pub async fn manifest_children(conn: &mut SqliteConnection, digests: &[String]) -> StoreResult<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in digests {
        let children: Vec<String> = sqlx::query_scalar("SELECT digest FROM image_manifests WHERE image = ? ORDER BY position")
            .bind(d)
            .fetch_all(&mut *conn)
            .await?;
        if !children.is_empty() {
            out.insert(d.clone(), children);
        }
    }
    Ok(out)
}

/// The size and platform count of each of `digests` that is stored, in one query (the stream
/// page's tag table sorts all its tags by size). The size is the image's layers, or for a
/// manifest list the layers of its children that are stored; platforms counts a list's children
/// (0 for a single image).
pub async fn image_summaries(conn: &mut SqliteConnection, digests: &[String]) -> StoreResult<BTreeMap<String, (i64, i64)>> {
    if digests.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT i.digest,
                COALESCE((SELECT SUM(l.size) FROM image_layers l WHERE l.image = i.digest), 0)
                  + COALESCE((SELECT SUM(l.size) FROM image_manifests m JOIN image_layers l ON l.image = m.digest
                              WHERE m.image = i.digest), 0),
                (SELECT COUNT(*) FROM image_manifests m WHERE m.image = i.digest)
           FROM images i WHERE i.digest IN (SELECT value FROM json_each(?1))",
    )
    .bind(Json(digests))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|(d, size, platforms)| (d, (size, platforms))).collect())
}
