//! Accounts: users, sessions, API tokens, namespace members, the public flag of namespaces and
//! the audit log. Secrets are stored hashed (see the migration).

use super::StoreResult;
use sqlx::{Row, SqliteConnection};

#[derive(Clone, Debug)]
pub struct UserRow {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub admin: bool,
    pub created: String,
}

fn user_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<UserRow> {
    Ok(UserRow {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        password_hash: r.try_get("password_hash")?,
        admin: r.try_get::<i64, _>("admin")? != 0,
        created: r.try_get("created")?,
    })
}

pub async fn count_users(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(conn).await
}

pub async fn insert_user(conn: &mut SqliteConnection, name: &str, hash: &str, admin: bool, created: &str) -> StoreResult<i64> {
    sqlx::query_scalar("INSERT INTO users (name, password_hash, admin, created) VALUES (?, ?, ?, ?) RETURNING id")
        .bind(name)
        .bind(hash)
        .bind(admin as i64)
        .bind(created)
        .fetch_one(conn)
        .await
}

pub async fn user_by_name(conn: &mut SqliteConnection, name: &str) -> StoreResult<Option<UserRow>> {
    let r = sqlx::query("SELECT * FROM users WHERE name = ?").bind(name).fetch_optional(conn).await?;
    r.as_ref().map(user_from_row).transpose()
}

pub async fn user_by_id(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<UserRow>> {
    let r = sqlx::query("SELECT * FROM users WHERE id = ?").bind(id).fetch_optional(conn).await?;
    r.as_ref().map(user_from_row).transpose()
}

pub async fn list_users(conn: &mut SqliteConnection) -> StoreResult<Vec<UserRow>> {
    let rows = sqlx::query("SELECT * FROM users ORDER BY name").fetch_all(conn).await?;
    rows.iter().map(user_from_row).collect()
}

pub async fn set_password(conn: &mut SqliteConnection, id: i64, hash: &str) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?").bind(hash).bind(id).execute(conn).await?;
    Ok(())
}

pub async fn insert_session(conn: &mut SqliteConnection, secret_hash: &str, user_id: i64, created: &str, expires: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO sessions (secret_hash, user_id, created, expires) VALUES (?, ?, ?, ?)")
        .bind(secret_hash)
        .bind(user_id)
        .bind(created)
        .bind(expires)
        .execute(conn)
        .await?;
    Ok(())
}

/// The user of a live session.
pub async fn session_user(conn: &mut SqliteConnection, secret_hash: &str, now: &str) -> StoreResult<Option<UserRow>> {
    let r = sqlx::query("SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = ? AND s.expires > ?")
        .bind(secret_hash)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(user_from_row).transpose()
}

pub async fn delete_session(conn: &mut SqliteConnection, secret_hash: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE secret_hash = ?").bind(secret_hash).execute(conn).await?;
    Ok(())
}

/// Signs a user out everywhere (after a password change), except the session `keep`.
pub async fn delete_sessions_of(conn: &mut SqliteConnection, user_id: i64, keep: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = ? AND secret_hash != ?").bind(user_id).bind(keep).execute(conn).await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct TokenRow {
    pub id: String,
    pub user_id: i64,
    pub name: String,
    pub secret_hash: String,
    pub namespaces: Option<String>,
    pub max_role: Option<String>,
    pub expires: Option<String>,
    pub created: String,
    pub revoked: Option<String>,
}

fn token_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<TokenRow> {
    Ok(TokenRow {
        id: r.try_get("id")?,
        user_id: r.try_get("user_id")?,
        name: r.try_get("name")?,
        secret_hash: r.try_get("secret_hash")?,
        namespaces: r.try_get("namespaces")?,
        max_role: r.try_get("max_role")?,
        expires: r.try_get("expires")?,
        created: r.try_get("created")?,
        revoked: r.try_get("revoked")?,
    })
}

pub async fn insert_token(conn: &mut SqliteConnection, t: &TokenRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, secret_hash, namespaces, max_role, expires, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(t.user_id)
    .bind(&t.name)
    .bind(&t.secret_hash)
    .bind(&t.namespaces)
    .bind(&t.max_role)
    .bind(&t.expires)
    .bind(&t.created)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn token_by_id(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<TokenRow>> {
    let r = sqlx::query("SELECT * FROM api_tokens WHERE id = ?").bind(id).fetch_optional(conn).await?;
    r.as_ref().map(token_from_row).transpose()
}

pub async fn tokens_of(conn: &mut SqliteConnection, user_id: i64) -> StoreResult<Vec<TokenRow>> {
    let rows = sqlx::query("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created DESC, id").bind(user_id).fetch_all(conn).await?;
    rows.iter().map(token_from_row).collect()
}

pub async fn revoke_token(conn: &mut SqliteConnection, id: &str, user_id: i64, now: &str) -> StoreResult<bool> {
    let r = sqlx::query("UPDATE api_tokens SET revoked = ? WHERE id = ? AND user_id = ? AND revoked IS NULL")
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// A user's role in every namespace they belong to.
pub async fn memberships(conn: &mut SqliteConnection, user_id: i64) -> StoreResult<Vec<(String, String)>> {
    let rows =
        sqlx::query("SELECT namespace, role FROM members WHERE user_id = ? ORDER BY namespace").bind(user_id).fetch_all(conn).await?;
    rows.iter().map(|r| Ok((r.try_get("namespace")?, r.try_get("role")?))).collect()
}

/// The members of a namespace: (user name, role), by name.
pub async fn members_of(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT u.name, m.role FROM members m JOIN users u ON u.id = m.user_id WHERE m.namespace = ? ORDER BY u.name")
        .bind(namespace)
        .fetch_all(conn)
        .await?;
    rows.iter().map(|r| Ok((r.try_get("name")?, r.try_get("role")?))).collect()
}

pub async fn set_member(conn: &mut SqliteConnection, namespace: &str, user_id: i64, role: &str) -> StoreResult<()> {
    sqlx::query("INSERT INTO members (namespace, user_id, role) VALUES (?, ?, ?) ON CONFLICT (namespace, user_id) DO UPDATE SET role = excluded.role")
        .bind(namespace)
        .bind(user_id)
        .bind(role)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn remove_member(conn: &mut SqliteConnection, namespace: &str, user_id: i64) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM members WHERE namespace = ? AND user_id = ?").bind(namespace).bind(user_id).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}

pub async fn count_admins(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM members WHERE namespace = ? AND role = 'admin'").bind(namespace).fetch_one(conn).await
}

/// Namespaces anyone may read.
pub async fn public_namespaces(conn: &mut SqliteConnection) -> StoreResult<Vec<String>> {
    let rows = sqlx::query("SELECT name FROM namespaces WHERE public = 1 ORDER BY name").fetch_all(conn).await?;
    rows.iter().map(|r| r.try_get("name")).collect()
}

pub async fn set_public(conn: &mut SqliteConnection, namespace: &str, public: bool) -> StoreResult<()> {
    sqlx::query("UPDATE namespaces SET public = ? WHERE name = ?").bind(public as i64).bind(namespace).execute(conn).await?;
    Ok(())
}

#[derive(Clone, Debug, Default)]
pub struct AuditRow {
    pub id: i64,
    pub time: String,
    pub user: Option<String>,
    pub token: Option<String>,
    pub namespace: Option<String>,
    pub action: String,
    pub remote: Option<String>,
    pub code: i64,
    pub outcome: String,
}

pub async fn insert_audit(conn: &mut SqliteConnection, a: &AuditRow) -> StoreResult<()> {
    sqlx::query("INSERT INTO audit (time, user, token, namespace, action, remote, code, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(&a.time)
        .bind(&a.user)
        .bind(&a.token)
        .bind(&a.namespace)
        .bind(&a.action)
        .bind(&a.remote)
        .bind(a.code)
        .bind(&a.outcome)
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest `limit` audit entries of a namespace (or of the server: `None`), newest first.
pub async fn audit_of(conn: &mut SqliteConnection, namespace: Option<&str>, limit: i64) -> StoreResult<Vec<AuditRow>> {
    let rows = sqlx::query("SELECT * FROM audit WHERE (?1 IS NULL OR namespace = ?1) ORDER BY id DESC LIMIT ?2")
        .bind(namespace)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                id: r.try_get("id")?,
                time: r.try_get("time")?,
                user: r.try_get("user")?,
                token: r.try_get("token")?,
                namespace: r.try_get("namespace")?,
                action: r.try_get("action")?,
                remote: r.try_get("remote")?,
                code: r.try_get("code")?,
                outcome: r.try_get("outcome")?,
            })
        })
        .collect()
}

pub async fn purge_audit(conn: &mut SqliteConnection, before: &str) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM audit WHERE time < ?").bind(before).execute(conn).await?.rows_affected())
}
