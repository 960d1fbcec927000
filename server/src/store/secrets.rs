//! Sealed registry credentials. Rows hold only sealed bytes.
//!
//! Must not: open or seal anything (that is `sealing`, called by the service).

use super::StoreResult;
use sqlx::SqliteConnection;

/// A registry secret as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SecretRow {
    /// The namespace it belongs to.
    pub namespace: String,
    /// Its name within the namespace.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// The resource version it was written at.
    pub resource_version: i64,
    /// RFC 3339.
    pub created: String,
    /// The Kubernetes secret type (`kubernetes.io/dockerconfigjson`).
    #[sqlx(rename = "type")]
    pub secret_type: String,
    /// `nonce || ciphertext` of the credentials (see `sealing`).
    pub sealed: Vec<u8>,
}

/// Stores a new secret.
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

/// The secret `name` of a namespace.
pub async fn get_secret(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<SecretRow>> {
    sqlx::query_as("SELECT * FROM registry_secrets WHERE namespace = ? AND name = ?").bind(namespace).bind(name).fetch_optional(conn).await
}

/// Every secret of a namespace, by name (a namespace holds a handful).
pub async fn list_secrets(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<SecretRow>> {
    sqlx::query_as("SELECT * FROM registry_secrets WHERE namespace = ? ORDER BY name").bind(namespace).fetch_all(conn).await
}

/// Deletes a secret; returns whether it existed.
pub async fn delete_secret(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM registry_secrets WHERE namespace = ? AND name = ?").bind(namespace).bind(name).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}
