//! Accounts: users, sessions, API tokens, namespace members and the public flag of namespaces.
//! Secrets are stored hashed (see the migration); a token's limits are stored as it was made
//! (`namespaces` a JSON array, `max_role` a role name) and read back typed, so a limit that does
//! not decode fails the read instead of vanishing (a vanished limit would widen the token).
//!
//! Must not: decide who may do what (that is `service::access`) or see a secret in plain text.

use super::StoreResult;
use app::domain::accounts::Role;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::types::Json;
use sqlx::{Decode, Sqlite, SqliteConnection, Type};

/// A role column (`members.role`, `api_tokens.max_role`), stored as the role's name. `Role` lives
/// in `app`, which knows nothing of sqlx, hence this wrapper; its decoder refuses a name that is
/// no role, so a corrupt row is an error, never a missing (or a widened) role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredRole(pub Role);

impl Type<Sqlite> for StoredRole {
    fn type_info() -> SqliteTypeInfo {
        <&str as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <&str as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for StoredRole {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let name = <&str as Decode<Sqlite>>::decode(value)?;
        Role::parse(name).map(StoredRole).ok_or_else(|| format!("{name:?} is not a role").into())
    }
}

/// A user account.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    /// The row id.
    pub id: i64,
    /// The sign-in name.
    pub name: String,
    /// argon2id, PHC string format.
    pub password_hash: String,
    /// A server-wide administrator.
    pub admin: bool,
    /// RFC 3339.
    pub created: String,
}

/// How many users exist (accounts are on once one does).
pub async fn count_users(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(conn).await
}

/// Adds a user; returns its id.
pub async fn insert_user(conn: &mut SqliteConnection, name: &str, hash: &str, admin: bool, created: &str) -> StoreResult<i64> {
    sqlx::query_scalar("INSERT INTO users (name, password_hash, admin, created) VALUES (?, ?, ?, ?) RETURNING id")
        .bind(name)
        .bind(hash)
        .bind(admin)
        .bind(created)
        .fetch_one(conn)
        .await
}

/// The user named `name`.
pub async fn user_by_name(conn: &mut SqliteConnection, name: &str) -> StoreResult<Option<UserRow>> {
    sqlx::query_as("SELECT * FROM users WHERE name = ?").bind(name).fetch_optional(conn).await
}

/// The user with id `id`.
pub async fn user_by_id(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<UserRow>> {
    sqlx::query_as("SELECT * FROM users WHERE id = ?").bind(id).fetch_optional(conn).await
}

/// Every user, by name.
pub async fn list_users(conn: &mut SqliteConnection) -> StoreResult<Vec<UserRow>> {
    sqlx::query_as("SELECT * FROM users ORDER BY name").fetch_all(conn).await
}

/// Replaces a user's password hash.
pub async fn set_password(conn: &mut SqliteConnection, id: i64, hash: &str) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?").bind(hash).bind(id).execute(conn).await?;
    Ok(())
}

/// Starts a session (only the hash of its secret is kept).
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

/// The user of a session that is live at `now`.
pub async fn session_user(conn: &mut SqliteConnection, secret_hash: &str, now: &str) -> StoreResult<Option<UserRow>> {
    sqlx::query_as("SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.secret_hash = ? AND s.expires > ?")
        .bind(secret_hash)
        .bind(now)
        .fetch_optional(conn)
        .await
}

/// Ends one session.
pub async fn delete_session(conn: &mut SqliteConnection, secret_hash: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE secret_hash = ?").bind(secret_hash).execute(conn).await?;
    Ok(())
}

/// Signs a user out everywhere (after a password change), except the session `keep`.
pub async fn delete_sessions_of(conn: &mut SqliteConnection, user_id: i64, keep: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = ? AND secret_hash != ?").bind(user_id).bind(keep).execute(conn).await?;
    Ok(())
}

/// An API token: its public id, the hash of its secret, and its limits.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRow {
    /// The public id (`ist_<id>_…`).
    pub id: String,
    /// The owner.
    pub user_id: i64,
    /// What the token is for.
    pub name: String,
    /// The lowercase hex SHA-256 of the secret.
    pub secret_hash: String,
    /// Only these namespaces (in the order they were given); `None`: every namespace of the user.
    pub namespaces: Option<Json<Vec<String>>>,
    /// At most this role; `None`: the user's roles.
    pub max_role: Option<StoredRole>,
    /// RFC 3339; `None`: never.
    pub expires: Option<String>,
    /// RFC 3339.
    pub created: String,
    /// When it was revoked (RFC 3339); `None`: live.
    pub revoked: Option<String>,
}

/// Stores a new token.
pub async fn insert_token(conn: &mut SqliteConnection, t: &TokenRow) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, name, secret_hash, namespaces, max_role, expires, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&t.id)
    .bind(t.user_id)
    .bind(&t.name)
    .bind(&t.secret_hash)
    .bind(&t.namespaces)
    .bind(t.max_role.map(|r| r.0.as_str()))
    .bind(&t.expires)
    .bind(&t.created)
    .execute(conn)
    .await?;
    Ok(())
}

/// The token with public id `id` (revoked and expired ones included).
pub async fn token_by_id(conn: &mut SqliteConnection, id: &str) -> StoreResult<Option<TokenRow>> {
    sqlx::query_as("SELECT * FROM api_tokens WHERE id = ?").bind(id).fetch_optional(conn).await
}

/// A user's tokens, newest first.
pub async fn tokens_of(conn: &mut SqliteConnection, user_id: i64) -> StoreResult<Vec<TokenRow>> {
    sqlx::query_as("SELECT * FROM api_tokens WHERE user_id = ? ORDER BY created DESC, id").bind(user_id).fetch_all(conn).await
}

/// Revokes a live token of `user_id`; returns whether there was one.
pub async fn revoke_token(conn: &mut SqliteConnection, id: &str, user_id: i64, now: &str) -> StoreResult<bool> {
    let r = sqlx::query("UPDATE api_tokens SET revoked = ? WHERE id = ? AND user_id = ? AND revoked IS NULL")
        .bind(now)
        .bind(id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

/// A user's role in one namespace.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MembershipRow {
    /// The namespace.
    pub namespace: String,
    /// The role there.
    pub role: StoredRole,
}

/// A user's role in every namespace they belong to, by namespace.
pub async fn memberships(conn: &mut SqliteConnection, user_id: i64) -> StoreResult<Vec<MembershipRow>> {
    sqlx::query_as("SELECT namespace, role FROM members WHERE user_id = ? ORDER BY namespace").bind(user_id).fetch_all(conn).await
}

/// A member of a namespace: the user's name and role.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MemberRow {
    /// The user's name.
    pub user: String,
    /// The role in the namespace.
    pub role: StoredRole,
}

/// The members of a namespace, by user name.
pub async fn members_of(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<MemberRow>> {
    sqlx::query_as("SELECT u.name AS user, m.role FROM members m JOIN users u ON u.id = m.user_id WHERE m.namespace = ? ORDER BY u.name")
        .bind(namespace)
        .fetch_all(conn)
        .await
}

/// Adds a member or changes their role.
pub async fn set_member(conn: &mut SqliteConnection, namespace: &str, user_id: i64, role: Role) -> StoreResult<()> {
    sqlx::query("INSERT INTO members (namespace, user_id, role) VALUES (?, ?, ?) ON CONFLICT (namespace, user_id) DO UPDATE SET role = excluded.role")
        .bind(namespace)
        .bind(user_id)
        .bind(role.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes a member; returns whether they were one.
pub async fn remove_member(conn: &mut SqliteConnection, namespace: &str, user_id: i64) -> StoreResult<bool> {
    let r = sqlx::query("DELETE FROM members WHERE namespace = ? AND user_id = ?").bind(namespace).bind(user_id).execute(conn).await?;
    Ok(r.rows_affected() > 0)
}

/// How many admins a namespace has (it must keep one).
pub async fn count_admins(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM members WHERE namespace = ? AND role = ?")
        .bind(namespace)
        .bind(Role::Admin.as_str())
        .fetch_one(conn)
        .await
}

/// Deletes the sessions that expired before `now` (RFC 3339); returns how many.
pub async fn delete_expired_sessions(conn: &mut SqliteConnection, now: &str) -> StoreResult<u64> {
    Ok(sqlx::query("DELETE FROM sessions WHERE expires <= ?").bind(now).execute(conn).await?.rows_affected())
}

/// How many server administrators exist.
pub async fn count_server_admins(conn: &mut SqliteConnection) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM users WHERE admin").fetch_one(conn).await
}

/// Makes a user a server administrator with a new password hash (the bootstrap of a server whose
/// users have no administrator).
pub async fn promote_to_admin(conn: &mut SqliteConnection, id: i64, hash: &str) -> StoreResult<()> {
    sqlx::query("UPDATE users SET admin = 1, password_hash = ? WHERE id = ?").bind(hash).bind(id).execute(conn).await?;
    Ok(())
}

/// Namespaces anyone may read, by name.
pub async fn public_namespaces(conn: &mut SqliteConnection) -> StoreResult<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM namespaces WHERE public = 1 ORDER BY name").fetch_all(conn).await
}

/// Marks a namespace public or not.
pub async fn set_public(conn: &mut SqliteConnection, namespace: &str, public: bool) -> StoreResult<()> {
    sqlx::query("UPDATE namespaces SET public = ? WHERE name = ?").bind(public).bind(namespace).execute(conn).await?;
    Ok(())
}
