//! Sealed registry credentials. Rows hold only sealed bytes.

use super::StoreResult;
use sqlx::{Row, SqliteConnection};

#[derive(Clone, Debug)]
pub struct SecretRow {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: i64,
    pub created: String,
    pub secret_type: String,
    pub sealed: Vec<u8>,
}

fn row_to_secret(r: &sqlx::sqlite::SqliteRow) -> StoreResult<SecretRow> {
    Ok(SecretRow {
        namespace: r.try_get("namespace")?,
        name: r.try_get("name")?,
        uid: r.try_get("uid")?,
        resource_version: r.try_get("resource_version")?,
        created: r.try_get("created")?,
        secret_type: r.try_get("type")?,
        sealed: r.try_get("sealed")?,
    })
}

pub async fn insert_secret(conn: &mut SqliteConnection, s: &SecretRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registry_secrets (namespace, name, uid, resource_version, created, type, sealed) VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.namespace)
    .bind(&s.name)
    .bind(&s.uid)
    .bind(s.resource_version)
    .bind(&s.created)
    .bind(&s.secret_type)
    .bind(&s.sealed)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn get_secret(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<SecretRow>> {
    let r = sqlx::query("SELECT * FROM registry_secrets WHERE namespace = ? AND name = ?")
        .bind(namespace)
        .bind(name)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(row_to_secret).transpose()
}

/// Every secret of a namespace, by name (a namespace holds a handful).
pub async fn list_secrets(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<SecretRow>> {
    let rows = sqlx::query("SELECT * FROM registry_secrets WHERE namespace = ? ORDER BY name").bind(namespace).fetch_all(conn).await?;
    rows.iter().map(row_to_secret).collect()
}

pub async fn delete_secret(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM registry_secrets WHERE namespace = ? AND name = ?").bind(namespace).bind(name).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}
