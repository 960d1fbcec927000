//! The caller of a request: what its credentials prove (a user, the limits of a token, a
//! session), resolved once at the edge into a `Caller` the permission check reads, and the slot
//! where the request's audit entry collects what the check saw.
//!
//! Must not: decide what a role may do (that is `authorize`) or write the audit log (that is
//! `service::audit`). A token limit that does not decode is an error (500), never "no limit".

use super::Role;
use super::crypto::{constant_time_eq, sha256_hex};
use super::tokens::TOKEN_PREFIX;
use crate::service::{Service, Verb, db};
use crate::store;
use app::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The limits of the token a request came with.
#[derive(Clone, Debug)]
pub struct TokenScope {
    /// The token's public id (for the audit log).
    pub id: String,
    /// Only these namespaces; `None`: every namespace of the user.
    pub namespaces: Option<BTreeSet<String>>,
    /// At most this role; `None`: the user's roles.
    pub max_role: Option<Role>,
}

/// Where the audit log entry of a request collects what the permission check saw. The HTTP
/// edge creates it, the service fills it, the edge hands it to `Service::record_request`.
#[derive(Clone, Debug, Default)]
pub struct AuditSlot(pub Arc<Mutex<AuditNote>>);

/// What the permission check learnt about a request, for its audit entry.
#[derive(Clone, Debug, Default)]
pub struct AuditNote {
    /// The user's name.
    pub user: Option<String>,
    /// The public id of the token used.
    pub token: Option<String>,
    /// The namespace of the request's first change.
    pub namespace: Option<String>,
    /// The request's first change, `<verb> <resource>`.
    pub operation: Option<String>,
}

/// Who is calling, resolved once per request.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The user's name (`None`: nobody signed in).
    pub user: Option<String>,
    /// The user's row id.
    pub user_id: Option<i64>,
    /// A server-wide administrator (before token limits).
    pub admin: bool,
    /// The server's own controllers.
    pub system: bool,
    /// Accounts are off and the server listens on loopback only: the single local user, allowed
    /// everything (see `setup`).
    pub open: bool,
    /// Authenticated by the one-time setup token: may create the first administrator, nothing else.
    pub setup: bool,
    /// No administrator exists and the server is not single-user: nobody may change anything
    /// until one is created (only says why in 401s).
    pub bootstrap_pending: bool,
    /// `serve --anonymous-read`.
    pub anonymous_read: bool,
    /// The user's role in each namespace they belong to (before token limits).
    pub roles: BTreeMap<String, Role>,
    /// Namespaces anyone may read.
    pub public: BTreeSet<String>,
    /// The limits of the token the request came with (`None`: a session, or nobody).
    pub token: Option<TokenScope>,
    /// The hash of the session the request came with.
    pub session: Option<String>,
    /// The client's address, for the audit log.
    pub remote: Option<String>,
    /// Where the request's audit entry collects what the check saw.
    pub audit: Option<AuditSlot>,
}

impl Caller {
    /// The server's own controllers (imports, scheduler).
    pub fn system() -> Self {
        Caller { user: Some("system:imagestreams".into()), system: true, ..Default::default() }
    }

    /// Whether a user is behind the request.
    pub fn signed_in(&self) -> bool {
        self.user_id.is_some()
    }

    /// Server-wide administration: an administrator, not held back by a token's limits.
    pub fn server_admin(&self) -> bool {
        self.system
            || self.open
            || (self.admin && self.token.as_ref().is_none_or(|t| t.namespaces.is_none() && t.max_role.is_none_or(|r| r == Role::Admin)))
    }

    /// Whether the request came with a token limited to namespaces or a role: it may act only
    /// within those limits, so never on the account (tokens, new namespaces, other memberships).
    pub fn limited_token(&self) -> bool {
        self.token.as_ref().is_some_and(|t| t.namespaces.is_some() || t.max_role.is_some())
    }

    /// The caller's role in `ns` (token limits applied).
    pub fn role_in(&self, ns: &str) -> Option<Role> {
        if self.system || self.open {
            return Some(Role::Admin);
        }
        let base = if self.admin { Some(Role::Admin) } else { self.roles.get(ns).copied() };
        match &self.token {
            Some(t) if t.namespaces.as_ref().is_some_and(|n| !n.contains(ns)) => None,
            Some(t) => base.map(|r| t.max_role.map_or(r, |m| r.min(m))),
            None => base,
        }
    }

    /// Whether the caller may read `ns`: a role there, a public namespace, or anonymous read.
    pub fn can_read(&self, ns: &str) -> bool {
        self.role_in(ns).is_some() || self.public.contains(ns) || self.anonymous_read
    }

    /// The namespaces whose contents lists and watches may show: `None` for all.
    pub fn visible_namespaces(&self) -> Option<Vec<String>> {
        if self.server_admin() || (self.anonymous_read && self.token.as_ref().is_none_or(|t| t.namespaces.is_none())) {
            return None;
        }
        let mut v: BTreeSet<String> = self.public.clone();
        if self.admin {
            // A limited token of an administrator: the namespaces it names.
            if let Some(ns) = self.token.as_ref().and_then(|t| t.namespaces.clone()) {
                v.extend(ns);
            }
        }
        v.extend(self.roles.keys().filter(|ns| self.role_in(ns).is_some()).cloned());
        Some(v.into_iter().collect())
    }

    /// The caller as error messages name it (Kubernetes' name for nobody).
    pub(super) fn name_for_messages(&self) -> String {
        self.user.clone().unwrap_or_else(|| "system:anonymous".into())
    }

    /// Tells the request's audit entry what it is about (its first change).
    pub(crate) fn note(&self, verb: Verb, resource: &str, ns: Option<&str>) {
        if let Some(slot) = &self.audit
            && let Ok(mut n) = slot.0.lock()
            && !matches!(verb, Verb::Get | Verb::List)
        {
            if n.operation.is_none() {
                n.operation = Some(format!("{} {resource}", verb.as_str()));
            }
            if n.namespace.is_none() {
                n.namespace = ns.map(str::to_string);
            }
        }
    }
}

/// What a request brought to prove who it is.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The `Authorization: Bearer` token.
    pub bearer: Option<String>,
    /// The session cookie's value.
    pub session: Option<String>,
    /// The client's address, for the audit log.
    pub remote: Option<String>,
    /// Where the request's audit entry collects what the check saw.
    pub audit: Option<AuditSlot>,
}

impl Service {
    /// Turns credentials into a caller. A bad or expired token is a 401; a stale session
    /// cookie just means "not signed in".
    pub async fn resolve_caller(&self, creds: Credentials) -> Result<Caller, ApiError> {
        let base =
            Caller { remote: creds.remote.clone(), audit: creds.audit.clone(), anonymous_read: self.anonymous_read, ..Default::default() };
        if let Some(bearer) = &creds.bearer
            && bearer.starts_with(super::setup::SETUP_TOKEN_PREFIX)
        {
            if self.is_setup_token(bearer) {
                return Ok(Caller { user: Some("system:setup".into()), setup: true, ..base });
            }
            return Err(ApiError::unauthorized("Unauthorized: the setup token is not valid (unknown, or spent)"));
        }
        if !self.accounts_on().await? {
            if self.loopback_only {
                return Ok(Caller { open: true, ..base });
            }
            return Ok(Caller { bootstrap_pending: true, ..base });
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let public = store::public_namespaces(&mut conn).await.map_err(db)?.into_iter().collect();
        let now = self.now_rfc3339();
        let (user, token, session) = if let Some(bearer) = &creds.bearer {
            let bad = || ApiError::unauthorized("Unauthorized: the token is not valid (unknown, expired or revoked)");
            let rest = bearer.strip_prefix(TOKEN_PREFIX).ok_or_else(bad)?;
            let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
            // A stored limit that does not decode fails this read (500): the token is refused,
            // never let through without its limits.
            let row = store::token_by_id(&mut conn, id).await.map_err(db)?.ok_or_else(bad)?;
            let live = row.revoked.is_none() && row.expires.as_ref().is_none_or(|e| *e > now);
            if !live || !constant_time_eq(&row.secret_hash, &sha256_hex(secret)) {
                return Err(bad());
            }
            let user = store::user_by_id(&mut conn, row.user_id).await.map_err(db)?.ok_or_else(bad)?;
            let scope = TokenScope {
                id: row.id,
                namespaces: row.namespaces.map(|n| n.0.into_iter().collect()),
                max_role: row.max_role.map(|r| r.0),
            };
            (Some(user), Some(scope), None)
        } else if let Some(cookie) = &creds.session {
            let hash = sha256_hex(cookie);
            let user = store::session_user(&mut conn, &hash, &now).await.map_err(db)?;
            let session = user.as_ref().map(|_| hash);
            (user, None, session)
        } else {
            (None, None, None)
        };
        drop(conn);
        self.caller_with(base, public, user, token, session).await
    }

    /// The caller a user (and the token they used, if any) stands for: their memberships read
    /// now, so a role removed meanwhile is gone.
    async fn caller_with(
        &self,
        base: Caller,
        public: BTreeSet<String>,
        user: Option<store::UserRow>,
        token: Option<TokenScope>,
        session: Option<String>,
    ) -> Result<Caller, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let mut roles = BTreeMap::new();
        if let Some(u) = &user {
            // An unknown stored role fails the read too, rather than dropping the membership.
            for m in store::memberships(&mut conn, u.id).await.map_err(db)? {
                roles.insert(m.namespace, m.role.0);
            }
        }
        let caller = Caller {
            user: user.as_ref().map(|u| u.name.clone()),
            user_id: user.as_ref().map(|u| u.id),
            admin: user.as_ref().is_some_and(|u| u.admin),
            roles,
            public,
            token,
            session,
            ..base
        };
        if let Some(slot) = &caller.audit
            && let Ok(mut n) = slot.0.lock()
        {
            n.user = caller.user.clone();
            n.token = caller.token.as_ref().map(|t| t.id.clone());
        }
        Ok(caller)
    }

    /// The caller a registry bearer token stands for (`service::registry`): the user it was
    /// issued to (`None`: anonymous) and the API token it was issued for, whose limits apply and
    /// which must still be live. `None` when the user or the token is gone.
    pub(crate) async fn caller_of_user(
        &self,
        remote: Option<String>,
        user_id: Option<i64>,
        token_id: Option<&str>,
    ) -> Result<Option<Caller>, ApiError> {
        let base = Caller { remote, anonymous_read: self.anonymous_read, ..Default::default() };
        if !self.accounts_on().await? {
            let open = Caller { open: self.loopback_only, bootstrap_pending: !self.loopback_only, ..base };
            return Ok(Some(open));
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let public = store::public_namespaces(&mut conn).await.map_err(db)?.into_iter().collect();
        let Some(user_id) = user_id else {
            drop(conn);
            return self.caller_with(base, public, None, None, None).await.map(Some);
        };
        let Some(user) = store::user_by_id(&mut conn, user_id).await.map_err(db)? else { return Ok(None) };
        let token = match token_id {
            None => None,
            Some(id) => {
                let now = self.now_rfc3339();
                let Some(row) = store::token_by_id(&mut conn, id).await.map_err(db)? else { return Ok(None) };
                let live = row.revoked.is_none() && row.expires.as_ref().is_none_or(|e| *e > now) && row.user_id == user.id;
                if !live {
                    return Ok(None);
                }
                Some(TokenScope {
                    id: row.id,
                    namespaces: row.namespaces.map(|n| n.0.into_iter().collect()),
                    max_role: row.max_role.map(|r| r.0),
                })
            }
        };
        drop(conn);
        self.caller_with(base, public, Some(user), token, None).await.map(Some)
    }

    /// The caller as `GET /api/v1/session` shows them. With a limited token: only the
    /// memberships within its limits, with roles capped, and no server administration; the
    /// token must not tell what its scope hides (review M8).
    pub fn who_am_i(&self, caller: &Caller) -> WhoAmI {
        let mut names: BTreeSet<&String> = caller.roles.keys().collect();
        if caller.admin
            && let Some(listed) = caller.token.as_ref().and_then(|t| t.namespaces.as_ref())
        {
            // An administrator's token limited to namespaces acts as admin there.
            names.extend(listed);
        }
        let namespaces = names
            .into_iter()
            .filter_map(|ns| caller.role_in(ns).map(|r| Membership { namespace: ns.clone(), role: r.as_str().into() }))
            .collect();
        WhoAmI {
            user: caller.user.clone(),
            admin: caller.admin && !caller.limited_token(),
            open: caller.open,
            namespaces,
            token: caller.token.as_ref().map(|t| t.id.clone()),
        }
    }
}
