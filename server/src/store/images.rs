//! Image objects: the row, its layers and its manifest-list children.

use super::{StoreResult, json_map, to_json};
use app::model::*;
use sqlx::{Row, SqliteConnection};
use std::collections::BTreeMap;

async fn image_from_row(conn: &mut SqliteConnection, row: &sqlx::sqlite::SqliteRow) -> StoreResult<Image> {
    let digest: String = row.try_get("digest")?;
    let mut img = Image {
        metadata: ObjectMeta {
            name: digest.clone(),
            uid: Some(row.try_get("uid")?),
            resource_version: Some(row.try_get::<i64, _>("resource_version")?.to_string()),
            creation_timestamp: Some(row.try_get("created")?),
            annotations: json_map(&row.try_get::<String, _>("annotations")?),
            labels: json_map(&row.try_get::<String, _>("labels")?),
            ..Default::default()
        },
        docker_image_reference: row.try_get("docker_image_reference")?,
        docker_image_manifest_media_type: row.try_get("manifest_media_type")?,
        docker_image_metadata_version: row.try_get("metadata_version")?,
        docker_image_metadata: row.try_get::<Option<String>, _>("metadata")?.and_then(|m| serde_json::from_str(&m).ok()),
        ..Default::default()
    };
    for l in sqlx::query("SELECT * FROM image_layers WHERE image = ? ORDER BY position").bind(&digest).fetch_all(&mut *conn).await? {
        img.docker_image_layers.push(ImageLayer {
            name: l.try_get("digest")?,
            size: l.try_get("size")?,
            media_type: l.try_get("media_type")?,
        });
    }
    for m in sqlx::query("SELECT * FROM image_manifests WHERE image = ? ORDER BY position").bind(&digest).fetch_all(&mut *conn).await? {
        img.docker_image_manifests.push(ImageManifest {
            digest: m.try_get("digest")?,
            media_type: m.try_get("media_type")?,
            manifest_size: m.try_get("manifest_size")?,
            architecture: m.try_get("architecture")?,
            os: m.try_get("os")?,
            variant: m.try_get("variant")?,
        });
    }
    Ok(img)
}

pub async fn get_image(conn: &mut SqliteConnection, digest: &str) -> StoreResult<Option<Image>> {
    let Some(row) = sqlx::query("SELECT * FROM images WHERE digest = ?").bind(digest).fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    Ok(Some(image_from_row(conn, &row).await?))
}

/// Images after `after` by digest, at most `limit`.
pub async fn list_images(conn: &mut SqliteConnection, after: &str, limit: i64) -> StoreResult<Vec<Image>> {
    let rows =
        sqlx::query("SELECT * FROM images WHERE digest > ? ORDER BY digest LIMIT ?").bind(after).bind(limit).fetch_all(&mut *conn).await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(image_from_row(conn, r).await?);
    }
    Ok(out)
}

/// Inserts an image unless one with its digest exists. Returns whether it was inserted.
/// The raw manifest and config are not stored (upstream strips them from imported images).
pub async fn insert_image_if_missing(conn: &mut SqliteConnection, img: &Image, uid: &str, rv: i64, created: &str) -> StoreResult<bool> {
    let r = sqlx::query(
        "INSERT INTO images (digest, uid, resource_version, created, annotations, labels, docker_image_reference, manifest_media_type, metadata_version, metadata)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&img.metadata.name)
    .bind(uid)
    .bind(rv)
    .bind(created)
    .bind(to_json(&img.metadata.annotations))
    .bind(to_json(&img.metadata.labels))
    .bind(&img.docker_image_reference)
    .bind(&img.docker_image_manifest_media_type)
    .bind(&img.docker_image_metadata_version)
    .bind(img.docker_image_metadata.as_ref().map(to_json))
    .execute(&mut *conn)
    .await?;
    if r.rows_affected() == 0 {
        return Ok(false);
    }
    for (i, l) in img.docker_image_layers.iter().enumerate() {
        sqlx::query("INSERT INTO image_layers (image, position, digest, size, media_type) VALUES (?, ?, ?, ?, ?)")
            .bind(&img.metadata.name)
            .bind(i as i64)
            .bind(&l.name)
            .bind(l.size)
            .bind(&l.media_type)
            .execute(&mut *conn)
            .await?;
    }
    for (i, m) in img.docker_image_manifests.iter().enumerate() {
        sqlx::query(
            "INSERT INTO image_manifests (image, position, digest, media_type, manifest_size, architecture, os, variant) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&img.metadata.name)
        .bind(i as i64)
        .bind(&m.digest)
        .bind(&m.media_type)
        .bind(m.manifest_size)
        .bind(&m.architecture)
        .bind(&m.os)
        .bind(&m.variant)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// Manifest-list children of the given images: list digest → child digests.
pub async fn manifest_children(conn: &mut SqliteConnection, digests: &[String]) -> StoreResult<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in digests {
        let rows =
            sqlx::query("SELECT digest FROM image_manifests WHERE image = ? ORDER BY position").bind(d).fetch_all(&mut *conn).await?;
        if !rows.is_empty() {
            out.insert(d.clone(), rows.iter().map(|r| r.try_get("digest")).collect::<StoreResult<_>>()?);
        }
    }
    Ok(out)
}
