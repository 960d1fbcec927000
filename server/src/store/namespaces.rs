//! Namespace rows.

use super::StoreResult;
use app::model::{Namespace, ObjectMeta};
use sqlx::{Row, SqliteConnection};

fn namespace_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<Namespace> {
    let mut ns = Namespace::new(&row.try_get::<String, _>("name")?);
    ns.metadata = ObjectMeta {
        uid: Some(row.try_get("uid")?),
        resource_version: Some(row.try_get::<i64, _>("resource_version")?.to_string()),
        creation_timestamp: Some(row.try_get("created")?),
        ..ns.metadata
    };
    Ok(ns)
}

pub async fn insert_namespace(conn: &mut SqliteConnection, name: &str, uid: &str, rv: i64, created: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO namespaces (name, uid, resource_version, created) VALUES (?, ?, ?, ?)")
        .bind(name)
        .bind(uid)
        .bind(rv)
        .bind(created)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_namespace(conn: &mut SqliteConnection, name: &str) -> StoreResult<Option<Namespace>> {
    let row = sqlx::query("SELECT * FROM namespaces WHERE name = ?").bind(name).fetch_optional(conn).await?;
    row.as_ref().map(namespace_from_row).transpose()
}

/// Namespaces after `after` by name, at most `limit`.
/// `scope`: a JSON array of the names that may be listed (`None`: all).
pub async fn list_namespaces(conn: &mut SqliteConnection, after: &str, limit: i64, scope: Option<&str>) -> StoreResult<Vec<Namespace>> {
    let rows = sqlx::query(
        "SELECT * FROM namespaces WHERE name > ?1 AND (?3 IS NULL OR name IN (SELECT value FROM json_each(?3))) ORDER BY name LIMIT ?2",
    )
    .bind(after)
    .bind(limit)
    .bind(scope)
    .fetch_all(conn)
    .await?;
    rows.iter().map(namespace_from_row).collect()
}

/// Deletes a namespace and (by cascade) its streams. Returns whether it existed.
pub async fn delete_namespace(conn: &mut SqliteConnection, name: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM namespaces WHERE name = ?").bind(name).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}
