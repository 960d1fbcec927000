//! Namespace rows. A namespace's members and public flag are accounts' business (`accounts`).
//!
//! Must not: decide who may see a namespace (the caller passes the scope).

use super::StoreResult;
use app::model::{Namespace, ObjectMeta};
use sqlx::SqliteConnection;
use sqlx::types::Json;

/// A `namespaces` row.
#[derive(sqlx::FromRow)]
struct NamespaceRow {
    name: String,
    uid: String,
    resource_version: i64,
    created: String,
}

impl From<NamespaceRow> for Namespace {
    fn from(row: NamespaceRow) -> Self {
        let mut ns = Namespace::new(&row.name);
        ns.metadata = ObjectMeta {
            uid: Some(row.uid),
            resource_version: Some(row.resource_version.to_string()),
            creation_timestamp: Some(row.created),
            ..ns.metadata
        };
        ns
    }
}

/// Adds a namespace.
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

/// The namespace named `name`.
pub async fn get_namespace(conn: &mut SqliteConnection, name: &str) -> StoreResult<Option<Namespace>> {
    let row: Option<NamespaceRow> = sqlx::query_as("SELECT name, uid, resource_version, created FROM namespaces WHERE name = ?")
        .bind(name)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(Namespace::from))
}

/// Namespaces after `after` by name, at most `limit`; `scope`: the names that may be listed
/// (`None`: all).
pub async fn list_namespaces(
    conn: &mut SqliteConnection,
    after: &str,
    limit: i64,
    scope: Option<&[String]>,
) -> StoreResult<Vec<Namespace>> {
    let rows: Vec<NamespaceRow> = sqlx::query_as(
        "SELECT name, uid, resource_version, created FROM namespaces
         WHERE name > ?1 AND (?3 IS NULL OR name IN (SELECT value FROM json_each(?3))) ORDER BY name LIMIT ?2",
    )
    .bind(after)
    .bind(limit)
    .bind(scope.map(Json))
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Namespace::from).collect())
}

/// Deletes a namespace and (by cascade) its streams. Returns whether it existed.
pub async fn delete_namespace(conn: &mut SqliteConnection, name: &str) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM namespaces WHERE name = ?").bind(name).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}
