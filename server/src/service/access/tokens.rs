//! API tokens: a user makes tokens for themselves, optionally limited to some namespaces, a
//! highest role and an expiry. A token reads `ist_<id>_<secret>`; only the secret's digest is
//! stored, and the whole token is shown once, in the answer that creates it.
//!
//! Must not: let a limited token mint tokens (it would lift its own limits), see or revoke its
//! owner's other tokens (a leaked read-only token must not end the owner's others), or return a
//! secret after creation.

use super::crypto::{random_b64, random_hex, sha256_hex};
use super::{Caller, RES_TOKENS, unauthorized};
use crate::service::{Service, db};
use crate::store::{self, StoredRole, TokenRow};
use app::domain::accounts::validate_token_request;
use app::model::*;
use sqlx::types::Json;

/// How every token begins (it tells a token from a password, and secret scanners find it).
pub(crate) const TOKEN_PREFIX: &str = "ist_";

/// A token as its owner sees it (never its secret).
fn token_view(row: &TokenRow) -> ApiToken {
    ApiToken {
        id: row.id.clone(),
        name: row.name.clone(),
        namespaces: row.namespaces.as_ref().map(|n| n.0.clone()),
        max_role: row.max_role.map(|r| r.0.as_str().to_string()),
        expires: row.expires.clone(),
        created: row.created.clone(),
        revoked: row.revoked.clone(),
        token: None,
    }
}

impl Service {
    /// A user creates a token for themselves; the answer carries its secret, once. A limited
    /// token may not create tokens (it could otherwise lift its own limits).
    pub async fn create_token(&self, caller: &Caller, spec: &ApiToken) -> Result<ApiToken, ApiError> {
        let user_id = caller.user_id.ok_or_else(unauthorized)?;
        if caller.limited_token() {
            return Err(ApiError::forbidden("a limited token cannot create tokens (it would lift its own limits); sign in instead"));
        }
        let limits =
            validate_token_request(spec, self.clock_now()).map_err(|errs| ApiError::invalid(RES_TOKENS, spec.name.trim(), &errs))?;
        let secret = random_b64(32)?;
        let row = TokenRow {
            id: random_hex(6)?,
            user_id,
            name: limits.name.clone(),
            secret_hash: sha256_hex(&secret),
            namespaces: spec.namespaces.clone().map(Json),
            max_role: limits.max_role.map(StoredRole),
            expires: limits.expires.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            created: self.now_rfc3339(),
            revoked: None,
        };
        let mut tx = self.store.begin().await.map_err(db)?;
        store::insert_token(&mut tx, &row).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut view = token_view(&row);
        view.token = Some(format!("{TOKEN_PREFIX}{}_{secret}", row.id));
        Ok(view)
    }

    /// The caller's own tokens, newest first. A limited token sees only itself.
    pub async fn list_tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>, ApiError> {
        let user_id = caller.user_id.ok_or_else(unauthorized)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let own = caller.limited_token().then(|| caller.token.as_ref().map(|t| t.id.as_str())).flatten();
        Ok(store::tokens_of(&mut conn, user_id)
            .await
            .map_err(db)?
            .iter()
            .filter(|t| own.is_none_or(|id| t.id == id))
            .map(token_view)
            .collect())
    }

    /// Revokes one of the caller's own tokens (someone else's is "not found"). A limited token
    /// may revoke only itself: its owner's other tokens are "not found" to it.
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<Status, ApiError> {
        let user_id = caller.user_id.ok_or_else(unauthorized)?;
        if caller.limited_token() && caller.token.as_ref().is_some_and(|t| t.id != id) {
            return Err(ApiError::not_found(RES_TOKENS, id));
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        if !store::revoke_token(&mut tx, id, user_id, &self.now_rfc3339()).await.map_err(db)? {
            return Err(ApiError::not_found(RES_TOKENS, id));
        }
        tx.commit().await.map_err(db)?;
        self.access_changed();
        Ok(Status::success("tokens", "", id))
    }
}
