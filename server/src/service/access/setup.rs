//! How a fresh server gets its first administrator without being an open door (issue 13, point
//! 2). Until an administrator exists:
//!
//! - a server that listens on loopback addresses only (`--listen 127.0.0.1:…`, the default) is
//!   single-user: local clients act without signing in, as the demo and the CLI always have
//!   (`Caller::open`); the edge's cross-site checks keep web pages from acting for them;
//! - a server on any other address lets nobody change anything;
//! - the first administrator comes from `serve --admin-password-file` / `IMAGESTREAMS_ADMIN_PASSWORD`
//!   (at any start: it is created, or an existing user of that name is promoted, whenever no
//!   administrator exists), or from the one-time setup token `serve` prints to its log:
//!   `POST /api/v1/users` with `Authorization: Bearer setup_…` creates one administrator, after
//!   which the token is spent.
//!
//! Creating a user never happens as a side effect of an anonymous request, open mode included.
//!
//! Must not: keep the setup token anywhere but in this process's memory (as a digest), or let
//! it do anything but create the first administrator.

use super::crypto::{constant_time_eq, random_b64, sha256_hex};
use super::{Caller, RES_USERS};
use crate::service::{Service, db};
use crate::store;
use app::model::{ApiError, FieldError};
use std::sync::Mutex;

/// The prefix of setup tokens (API tokens start `ist_`).
pub const SETUP_TOKEN_PREFIX: &str = "setup_";

/// The setup state shared by the service's clones.
#[derive(Debug, Default)]
pub(crate) struct Setup {
    /// The SHA-256 of the setup token while one is outstanding.
    token_hash: Mutex<Option<String>>,
}

/// What `Service::bootstrap_admin` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// A new user was created as the administrator.
    Created,
    /// A user of that name existed without administration; it was made administrator and given
    /// the password.
    Promoted,
    /// An administrator exists already; nothing changed.
    AdministratorExists,
}

impl Service {
    /// Whether any server administrator exists.
    pub async fn administrator_exists(&self) -> Result<bool, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        Ok(store::count_server_admins(&mut conn).await.map_err(db)? > 0)
    }

    /// A new one-time setup token when no administrator exists (it replaces any earlier one), for
    /// `serve` to print; `None` when an administrator exists.
    pub async fn issue_setup_token(&self) -> Result<Option<String>, ApiError> {
        if self.administrator_exists().await? {
            return Ok(None);
        }
        let token = format!("{SETUP_TOKEN_PREFIX}{}", random_b64(32)?);
        if let Ok(mut t) = self.setup.token_hash.lock() {
            *t = Some(sha256_hex(&token));
        }
        Ok(Some(token))
    }

    /// Whether `bearer` is the outstanding setup token.
    pub(super) fn is_setup_token(&self, bearer: &str) -> bool {
        let hash = sha256_hex(bearer);
        self.setup.token_hash.lock().ok().and_then(|t| t.clone()).is_some_and(|t| constant_time_eq(&t, &hash))
    }

    /// Spends the setup token (the first administrator exists now).
    pub(super) fn spend_setup_token(&self) {
        if let Ok(mut t) = self.setup.token_hash.lock() {
            *t = None;
        }
    }

    /// Whether this caller may create a user while no administrator exists: only the setup token
    /// and the server itself, and then only an administrator.
    pub(super) fn check_first_user(&self, caller: &Caller, name: &str, admin: bool) -> Result<(), ApiError> {
        if caller.system || (caller.setup && admin) {
            return Ok(());
        }
        if caller.setup {
            return Err(ApiError::invalid(
                RES_USERS,
                name,
                &[FieldError::invalid_raw("admin", false, "the setup token creates the first administrator: set admin to true")],
            ));
        }
        Err(ApiError::forbidden(
            "no administrator exists yet: create the first one with the setup token printed in the server's log \
             (Authorization: Bearer setup_…), or start the server with --admin-password-file",
        ))
    }
}

/// The 401 of an anonymous change, saying how to get credentials.
pub fn unauthorized_change(caller: &Caller) -> ApiError {
    if caller.bootstrap_pending {
        return ApiError::unauthorized(
            "Unauthorized: this server has no administrator yet and listens beyond loopback, so nobody may change \
             anything: create the first administrator with the setup token printed in the server's log, or start it \
             with --admin-password-file",
        );
    }
    super::unauthorized()
}
