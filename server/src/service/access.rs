//! Who may do what (issue 6). A request's credentials (an API token, or a session cookie) become
//! a `Caller` once, at the edge: the user, their role in each namespace (capped by the token's
//! limits), the public namespaces, and whether accounts are on at all. Every operation then asks
//! `Service::allow` (the single check) with its verb, resource and namespace. This module also
//! owns sign-in (argon2id, slowed down after failures), sessions, tokens, members, the public
//! flag and the audit log.
//!
//! Accounts are on once a user exists (the first administrator comes from
//! `serve --admin-password-file` or `IMAGESTREAMS_ADMIN_PASSWORD`). Before that the server is open,
//! as it was before accounts, and says so (`WhoAmI.open`, a warning at start).

use super::{Service, Verb, db};
use crate::store::{self, AuditRow, TokenRow};
use app::model::*;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::Digest;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

pub use app::domain::accounts::Role;

/// The limits of the token a request came with.
#[derive(Clone, Debug)]
pub struct TokenScope {
    pub id: String,
    pub namespaces: Option<BTreeSet<String>>,
    pub max_role: Option<Role>,
}

/// Where the audit log entry of a request collects what the permission check saw.
#[derive(Clone, Debug, Default)]
pub struct AuditSlot(pub Arc<Mutex<AuditNote>>);

#[derive(Clone, Debug, Default)]
pub struct AuditNote {
    pub user: Option<String>,
    pub token: Option<String>,
    pub namespace: Option<String>,
    pub operation: Option<String>,
}

/// Who is calling, resolved once per request.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    pub user: Option<String>,
    pub user_id: Option<i64>,
    /// A server-wide administrator (before token limits).
    pub admin: bool,
    /// The server's own controllers.
    pub system: bool,
    /// Accounts are off: everything is allowed.
    pub open: bool,
    /// `serve --anonymous-read`.
    pub anonymous_read: bool,
    pub roles: BTreeMap<String, Role>,
    pub public: BTreeSet<String>,
    pub token: Option<TokenScope>,
    /// The hash of the session the request came with.
    pub session: Option<String>,
    pub remote: Option<String>,
    pub audit: Option<AuditSlot>,
}

impl Caller {
    /// The server's own controllers (imports, scheduler).
    pub fn system() -> Self {
        Caller { user: Some("system:imagestreams".into()), system: true, ..Default::default() }
    }

    pub fn signed_in(&self) -> bool {
        self.user_id.is_some()
    }

    /// Server-wide administration: an administrator, not held back by a token's limits.
    pub fn server_admin(&self) -> bool {
        self.system
            || self.open
            || (self.admin && self.token.as_ref().is_none_or(|t| t.namespaces.is_none() && t.max_role.is_none_or(|r| r == Role::Admin)))
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

    fn name_for_messages(&self) -> String {
        self.user.clone().unwrap_or_else(|| "system:anonymous".into())
    }

    /// Tells the request's audit entry what it is about (its first change).
    pub(crate) fn note(&self, verb: Verb, resource: &str, ns: Option<&str>) {
        if let Some(slot) = &self.audit
            && let Ok(mut n) = slot.0.lock()
            && !matches!(verb, Verb::Get | Verb::List)
        {
            if n.operation.is_none() {
                n.operation = Some(format!("{} {resource}", verb_word(verb)));
            }
            if n.namespace.is_none() {
                n.namespace = ns.map(str::to_string);
            }
        }
    }
}

fn verb_word(v: Verb) -> &'static str {
    match v {
        Verb::Get => "get",
        Verb::List => "list",
        Verb::Create => "create",
        Verb::Update => "update",
        Verb::Delete => "delete",
    }
}

fn group_of(resource: &str) -> &'static str {
    match resource {
        "imagestreams" | "imagestreamtags" | "imagestreamimages" | "imagestreamimports" | "imagestreammappings" | "images" => {
            "image.openshift.io"
        }
        _ => "",
    }
}

/// The role an operation needs (issue 6 point 2): viewers read; editors tag, import, delete tags
/// and manage webhooks; admins manage members, registry credentials, the public flag, the audit
/// log, and delete streams and the namespace.
pub fn required_role(verb: Verb, resource: &str) -> Role {
    match (resource, verb) {
        ("secrets" | "audit", _) => Role::Admin,
        ("members" | "visibility", Verb::Get | Verb::List) => Role::Viewer,
        ("members" | "visibility", _) => Role::Admin,
        ("imagestreams" | "namespaces", Verb::Delete) => Role::Admin,
        (_, Verb::Get | Verb::List) => Role::Viewer,
        _ => Role::Editor,
    }
}

/// The permission check of accounts: what the caller's roles allow. 401 for a request without
/// credentials where some are needed, 404 for a namespace the caller may not read at all (its
/// existence is not revealed), 403 for too little a role.
pub struct RoleAuthorizer {
    /// `serve --restrict-namespace-creation`: only server administrators create namespaces.
    pub restrict_namespace_creation: bool,
}

impl super::Authorizer for RoleAuthorizer {
    fn check(&self, caller: &Caller, verb: Verb, resource: &str, namespace: Option<&str>) -> Result<(), ApiError> {
        if caller.system || caller.open {
            return Ok(());
        }
        let forbidden = |scope: String| {
            let group = group_of(resource);
            let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
            ApiError::forbidden(format!(
                "{qualified} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{group}\"{scope}",
                caller.name_for_messages(),
                verb_word(verb)
            ))
        };
        let Some(ns) = namespace else {
            return match (resource, verb) {
                // Lists are filtered to what the caller may read.
                ("namespaces" | "imagestreams", Verb::List) => Ok(()),
                ("namespaces", Verb::Create) if !caller.signed_in() => Err(unauthorized()),
                ("namespaces", Verb::Create) if !self.restrict_namespace_creation || caller.server_admin() => Ok(()),
                _ if caller.server_admin() => Ok(()),
                _ if !caller.signed_in() => Err(unauthorized()),
                _ => Err(forbidden(" at the cluster scope".into())),
            };
        };
        let needed = required_role(verb, resource);
        let role = caller.role_in(ns);
        let reads = needed == Role::Viewer && matches!(verb, Verb::Get | Verb::List);
        if reads && caller.can_read(ns) {
            return Ok(());
        }
        if role.is_some_and(|r| r >= needed) {
            return Ok(());
        }
        if !caller.signed_in() {
            return Err(unauthorized());
        }
        if !caller.can_read(ns) {
            return Err(ApiError::not_found(RES_NAMESPACES, ns));
        }
        Err(forbidden(format!(" in the namespace \"{ns}\"")))
    }
}

pub fn unauthorized() -> ApiError {
    ApiError::unauthorized("Unauthorized: sign in, or send an API token as \"Authorization: Bearer <token>\"")
}

/// What a request brought to prove who it is.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub bearer: Option<String>,
    pub session: Option<String>,
    pub remote: Option<String>,
    pub audit: Option<AuditSlot>,
}

/// `Service::accounts`: not read yet, off (no user), on.
pub(crate) const ACCOUNTS_UNKNOWN: u8 = 0;
const ACCOUNTS_OFF: u8 = 1;
const ACCOUNTS_ON: u8 = 2;

pub const SESSION_COOKIE: &str = "imagestreams_session";
const TOKEN_PREFIX: &str = "ist_";

fn sha256_hex(s: &str) -> String {
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn random_b64(n: usize) -> String {
    let mut b = vec![0u8; n];
    // Secrets without randomness would be guessable: refuse rather than fall back.
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("no randomness for secrets: {e}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap_or_else(|e| panic!("no randomness for ids: {e}"));
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| ApiError::internal(format!("no randomness for a salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

fn check_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    match app::domain::accounts::password_error(password) {
        Some(rule) => Err(ApiError::invalid(RES_USERS, "", &[FieldError::invalid_raw(field, "<hidden>", rule)])),
        None => Ok(()),
    }
}

pub const RES_USERS: Resource = Resource { plural: "users", group: "", kind: "User" };
pub const RES_TOKENS: Resource = Resource { plural: "tokens", group: "", kind: "Token" };
pub const RES_MEMBERS: Resource = Resource { plural: "members", group: "", kind: "Member" };

/// Failed sign-ins per user name: after three, each next attempt must wait twice as long.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, (u32, chrono::DateTime<chrono::Utc>)>>,
}

/// Free attempts before the waits start.
const FREE_ATTEMPTS: u32 = 3;

impl SignInThrottle {
    /// Seconds to wait before `user` may try again (0: now).
    fn wait(&self, user: &str, now: chrono::DateTime<chrono::Utc>) -> i64 {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(user) {
            Some((n, last)) if *n >= FREE_ATTEMPTS => {
                let delay = 1i64 << (n - FREE_ATTEMPTS).min(8);
                (delay - (now - *last).num_seconds()).max(0)
            }
            _ => 0,
        }
    }

    fn failed(&self, user: &str, now: chrono::DateTime<chrono::Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let e = failures.entry(user.to_string()).or_insert((0, now));
        *e = (e.0 + 1, now);
    }

    fn succeeded(&self, user: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(user);
    }
}

impl Service {
    /// Whether accounts are on (a user exists). Read from the database once, then known: users
    /// are only created through this service (which turns it on) and never all deleted.
    pub async fn accounts_on(&self) -> Result<bool, ApiError> {
        use std::sync::atomic::Ordering;
        match self.accounts.load(Ordering::Acquire) {
            ACCOUNTS_ON => return Ok(true),
            ACCOUNTS_OFF => return Ok(false),
            _ => {}
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let on = store::count_users(&mut conn).await.map_err(db)? > 0;
        // Only an unknown state is settled here; a user created meanwhile has set "on" already.
        let _ = self.accounts.compare_exchange(
            ACCOUNTS_UNKNOWN,
            if on { ACCOUNTS_ON } else { ACCOUNTS_OFF },
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        Ok(self.accounts.load(Ordering::Acquire) == ACCOUNTS_ON)
    }

    /// Creates the first administrator unless a user exists. Returns whether it did.
    pub async fn bootstrap_admin(&self, name: &str, password: &str) -> Result<bool, ApiError> {
        check_new_password("password", password)?;
        let hash = hash_password(password)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if store::count_users(&mut tx).await.map_err(db)? > 0 {
            return Ok(false);
        }
        store::insert_user(&mut tx, name, &hash, true, &self.now()).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.accounts.store(ACCOUNTS_ON, std::sync::atomic::Ordering::Release);
        Ok(true)
    }

    /// Turns credentials into a caller. A bad or expired token is a 401; a stale session
    /// cookie just means "not signed in".
    pub async fn resolve_caller(&self, creds: Credentials) -> Result<Caller, ApiError> {
        let base =
            Caller { remote: creds.remote.clone(), audit: creds.audit.clone(), anonymous_read: self.anonymous_read, ..Default::default() };
        if !self.accounts_on().await? {
            return Ok(Caller { open: true, ..base });
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let public = store::public_namespaces(&mut conn).await.map_err(db)?.into_iter().collect();
        let now = self.now();
        let (user, token, session) = if let Some(bearer) = &creds.bearer {
            let bad = || ApiError::unauthorized("Unauthorized: the token is not valid (unknown, expired or revoked)");
            let rest = bearer.strip_prefix(TOKEN_PREFIX).ok_or_else(bad)?;
            let (id, secret) = rest.split_once('_').ok_or_else(bad)?;
            let row = store::token_by_id(&mut conn, id).await.map_err(db)?.ok_or_else(bad)?;
            let live = row.revoked.is_none() && row.expires.as_ref().is_none_or(|e| *e > now);
            if !live || !constant_time_eq(&row.secret_hash, &sha256_hex(secret)) {
                return Err(bad());
            }
            let user = store::user_by_id(&mut conn, row.user_id).await.map_err(db)?.ok_or_else(bad)?;
            let scope = TokenScope {
                id: row.id.clone(),
                namespaces: row.namespaces.as_deref().and_then(|n| serde_json::from_str::<BTreeSet<String>>(n).ok()),
                max_role: row.max_role.as_deref().and_then(Role::parse),
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
        let mut roles = BTreeMap::new();
        if let Some(u) = &user {
            for (ns, role) in store::memberships(&mut conn, u.id).await.map_err(db)? {
                if let Some(r) = Role::parse(&role) {
                    roles.insert(ns, r);
                }
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

    pub fn who_am_i(&self, caller: &Caller) -> WhoAmI {
        WhoAmI {
            user: caller.user.clone(),
            admin: caller.admin,
            open: caller.open,
            namespaces: caller.roles.iter().map(|(ns, r)| Membership { namespace: ns.clone(), role: r.as_str().into() }).collect(),
            token: caller.token.as_ref().map(|t| t.id.clone()),
        }
    }

    /// Signs in: returns the session secret (the cookie's value) and the user's view. After
    /// three failures for a name, each attempt must wait twice as long as the last (429).
    pub async fn sign_in(&self, form: &SignIn, remote: Option<String>) -> Result<(String, WhoAmI), ApiError> {
        let name = form.username.trim().to_string();
        let now = self.clock_now();
        let wait = self.sign_ins.wait(&name, now);
        if wait > 0 {
            return Err(ApiError::too_many_requests(format!("too many failed sign-ins for {name:?}; try again in {wait} s")));
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let user = store::user_by_name(&mut conn, &name).await.map_err(db)?;
        drop(conn);
        // Verify against a dummy hash for unknown names, so timing does not tell them apart.
        let ok = match &user {
            Some(u) => verify_password(&form.password, &u.password_hash),
            None => {
                verify_password(&form.password, DUMMY_HASH);
                false
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            self.sign_ins.failed(&name, now);
            tracing::info!(user = %name, remote = ?remote, "failed sign-in");
            return Err(ApiError::unauthorized("Unauthorized: the user name or password is wrong"));
        };
        self.sign_ins.succeeded(&name);
        let secret = random_b64(32);
        let expires = (now + chrono::Duration::from_std(self.session_ttl).unwrap_or(chrono::Duration::hours(12)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut tx = self.store.begin().await.map_err(db)?;
        store::insert_session(&mut tx, &sha256_hex(&secret), user.id, &self.now(), &expires).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        let caller = self.resolve_caller(Credentials { session: Some(secret.clone()), remote, ..Default::default() }).await?;
        Ok((secret, self.who_am_i(&caller)))
    }

    pub async fn sign_out(&self, caller: &Caller) -> Result<(), ApiError> {
        if let Some(hash) = &caller.session {
            let mut tx = self.store.begin().await.map_err(db)?;
            store::delete_session(&mut tx, hash).await.map_err(db)?;
            tx.commit().await.map_err(db)?;
        }
        Ok(())
    }

    /// A user changes their own password (the current one is required); their other sessions end.
    pub async fn change_password(&self, caller: &Caller, change: &PasswordChange) -> Result<(), ApiError> {
        let id = caller.user_id.ok_or_else(unauthorized)?;
        check_new_password("new", &change.new)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let user = store::user_by_id(&mut tx, id).await.map_err(db)?.ok_or_else(unauthorized)?;
        if !verify_password(&change.current, &user.password_hash) {
            let err = FieldError::invalid_raw("current", "<hidden>", "is not the current password");
            return Err(ApiError::invalid(RES_USERS, &user.name, &[err]));
        }
        store::set_password(&mut tx, id, &hash_password(&change.new)?).await.map_err(db)?;
        store::delete_sessions_of(&mut tx, id, caller.session.as_deref().unwrap_or("")).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    /// Server administrators create users.
    pub async fn create_user(&self, caller: &Caller, new: &NewUser) -> Result<WhoAmI, ApiError> {
        self.allow(caller, Verb::Create, "users", None)?;
        let name = new.name.trim();
        let errs = app::domain::names::validate_namespace_name(name, "name");
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_USERS, name, &errs));
        }
        check_new_password("password", &new.password)?;
        let hash = hash_password(&new.password)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if store::user_by_name(&mut tx, name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_USERS, name));
        }
        store::insert_user(&mut tx, name, &hash, new.admin, &self.now()).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.accounts.store(ACCOUNTS_ON, std::sync::atomic::Ordering::Release);
        Ok(WhoAmI { user: Some(name.into()), admin: new.admin, ..Default::default() })
    }

    pub async fn list_users(&self, caller: &Caller) -> Result<Vec<WhoAmI>, ApiError> {
        self.allow(caller, Verb::List, "users", None)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let mut out = vec![];
        for u in store::list_users(&mut conn).await.map_err(db)? {
            let namespaces = store::memberships(&mut conn, u.id)
                .await
                .map_err(db)?
                .into_iter()
                .map(|(namespace, role)| Membership { namespace, role })
                .collect();
            out.push(WhoAmI { user: Some(u.name), admin: u.admin, open: false, namespaces, token: None });
        }
        Ok(out)
    }

    fn token_view(row: &TokenRow) -> ApiToken {
        ApiToken {
            id: row.id.clone(),
            name: row.name.clone(),
            namespaces: row.namespaces.as_deref().and_then(|n| serde_json::from_str(n).ok()),
            max_role: row.max_role.clone(),
            expires: row.expires.clone(),
            created: row.created.clone(),
            revoked: row.revoked.clone(),
            token: None,
        }
    }

    /// A user creates a token for themselves; the answer carries its secret, once. A limited
    /// token may not create tokens (it could otherwise lift its own limits).
    pub async fn create_token(&self, caller: &Caller, spec: &ApiToken) -> Result<ApiToken, ApiError> {
        let user_id = caller.user_id.ok_or_else(unauthorized)?;
        // A limited token could lift its own limits by minting an unlimited one.
        if caller.token.as_ref().is_some_and(|t| t.namespaces.is_some() || t.max_role.is_some()) {
            return Err(ApiError::forbidden("a limited token cannot create tokens (it would lift its own limits); sign in instead"));
        }
        let mut errs = vec![];
        let name = spec.name.trim();
        if name.is_empty() {
            errs.push(FieldError::required("name", "a name says what the token is for"));
        } else if name.len() > 100 {
            errs.push(FieldError::invalid("name", name, "must be at most 100 characters"));
        }
        if let Some(r) = &spec.max_role
            && Role::parse(r).is_none()
        {
            errs.push(FieldError::not_supported("maxRole", r, Role::supported_values()));
        }
        for (i, ns) in spec.namespaces.iter().flatten().enumerate() {
            for e in app::domain::names::validate_namespace_name(ns, &format!("namespaces[{i}]")) {
                errs.push(e);
            }
        }
        if let Some(e) = &spec.expires {
            match chrono::DateTime::parse_from_rfc3339(e) {
                Ok(t) if t.with_timezone(&chrono::Utc) <= self.clock_now() => {
                    errs.push(FieldError::invalid("expires", e, "must be in the future"))
                }
                Ok(_) => {}
                Err(_) => errs.push(FieldError::invalid("expires", e, "must be an RFC 3339 time")),
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_TOKENS, name, &errs));
        }
        let secret = random_b64(32);
        let row = TokenRow {
            id: random_hex(6),
            user_id,
            name: name.into(),
            secret_hash: sha256_hex(&secret),
            namespaces: spec.namespaces.as_ref().map(|n| serde_json::to_string(n).unwrap_or_else(|_| "[]".into())),
            max_role: spec.max_role.clone(),
            expires: spec
                .expires
                .as_ref()
                .and_then(|e| chrono::DateTime::parse_from_rfc3339(e).ok())
                .map(|t| t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            created: self.now(),
            revoked: None,
        };
        let mut tx = self.store.begin().await.map_err(db)?;
        store::insert_token(&mut tx, &row).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut view = Self::token_view(&row);
        view.token = Some(format!("{TOKEN_PREFIX}{}_{secret}", row.id));
        Ok(view)
    }

    pub async fn list_tokens(&self, caller: &Caller) -> Result<Vec<ApiToken>, ApiError> {
        let user_id = caller.user_id.ok_or_else(unauthorized)?;
        let mut conn = self.store.read().await.map_err(db)?;
        Ok(store::tokens_of(&mut conn, user_id).await.map_err(db)?.iter().map(Self::token_view).collect())
    }

    /// Revokes one of the caller's own tokens (someone else's is "not found").
    pub async fn revoke_token(&self, caller: &Caller, id: &str) -> Result<Status, ApiError> {
        let user_id = caller.user_id.ok_or_else(unauthorized)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if !store::revoke_token(&mut tx, id, user_id, &self.now()).await.map_err(db)? {
            return Err(ApiError::not_found(RES_TOKENS, id));
        }
        tx.commit().await.map_err(db)?;
        Ok(Status::success("tokens", "", id))
    }

    pub async fn list_members(&self, caller: &Caller, ns: &str) -> Result<Vec<Member>, ApiError> {
        self.allow(caller, Verb::List, "members", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        Ok(store::members_of(&mut conn, ns).await.map_err(db)?.into_iter().map(|(user, role)| Member { user, role }).collect())
    }

    /// Adds a member or changes their role. The user is looked up by name within this call;
    /// nothing from another namespace is trusted.
    pub async fn set_member(&self, caller: &Caller, ns: &str, user: &str, role: &str) -> Result<Member, ApiError> {
        self.allow(caller, Verb::Update, "members", Some(ns))?;
        if Role::parse(role).is_none() {
            let err = FieldError::not_supported("role", role, Role::supported_values());
            return Err(ApiError::invalid(RES_MEMBERS, user, &[err]));
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        let u = store::user_by_name(&mut tx, user).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_USERS, user))?;
        let was_admin = store::members_of(&mut tx, ns).await.map_err(db)?.iter().any(|(n, r)| n == user && r == "admin");
        if was_admin && role != "admin" && store::count_admins(&mut tx, ns).await.map_err(db)? <= 1 {
            return Err(ApiError::conflict(
                RES_MEMBERS,
                user,
                "the last admin of a namespace cannot be demoted; make someone else admin first",
            ));
        }
        store::set_member(&mut tx, ns, u.id, role).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Member { user: user.into(), role: role.into() })
    }

    pub async fn remove_member(&self, caller: &Caller, ns: &str, user: &str) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "members", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let u = store::user_by_name(&mut tx, user).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_MEMBERS, user))?;
        let is_admin = store::members_of(&mut tx, ns).await.map_err(db)?.iter().any(|(n, r)| n == user && r == "admin");
        if is_admin && store::count_admins(&mut tx, ns).await.map_err(db)? <= 1 {
            return Err(ApiError::conflict(RES_MEMBERS, user, "the last admin of a namespace cannot be removed"));
        }
        if !store::remove_member(&mut tx, ns, u.id).await.map_err(db)? {
            return Err(ApiError::not_found(RES_MEMBERS, user));
        }
        tx.commit().await.map_err(db)?;
        Ok(Status::success("members", "", user))
    }

    pub async fn get_visibility(&self, caller: &Caller, ns: &str) -> Result<Visibility, ApiError> {
        self.allow(caller, Verb::Get, "visibility", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        Ok(Visibility { public: store::public_namespaces(&mut conn).await.map_err(db)?.iter().any(|n| n == ns) })
    }

    /// Marks a namespace public (readable without signing in) or not.
    pub async fn set_visibility(&self, caller: &Caller, ns: &str, v: &Visibility) -> Result<Visibility, ApiError> {
        self.allow(caller, Verb::Update, "visibility", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        store::set_public(&mut tx, ns, v.public).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(v.clone())
    }

    /// The audit log of a namespace (its admins), or of the whole server (server admins).
    pub async fn audit_log(&self, caller: &Caller, ns: Option<&str>) -> Result<Vec<AuditEntry>, ApiError> {
        self.allow(caller, Verb::List, "audit", ns)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let rows = store::audit_of(&mut conn, ns, 200).await.map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|a| AuditEntry {
                time: a.time,
                user: a.user,
                token: a.token,
                namespace: a.namespace,
                action: a.action,
                remote: a.remote,
                code: u16::try_from(a.code).unwrap_or(0),
                outcome: a.outcome,
            })
            .collect())
    }

    /// Writes the audit entry of one request: `action` is its method and path, `note` what the
    /// permission check learnt about it (who, which token, which namespace, which operation),
    /// `status` its HTTP status. Written outside the mutation's transaction, so a failed request
    /// is recorded too; a failure to write is logged, never the request's failure.
    pub async fn record_request(&self, action: String, note: AuditNote, remote: Option<String>, status: u16) {
        let outcome = match status {
            200..=399 => "success".to_string(),
            _ => axum::http::StatusCode::from_u16(status).ok().and_then(|c| c.canonical_reason()).unwrap_or("failure").to_string(),
        };
        let row = AuditRow {
            time: self.clock_now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            user: note.user,
            token: note.token,
            namespace: note.namespace,
            action: match note.operation {
                Some(op) => format!("{action} ({op})"),
                None => action,
            },
            remote,
            code: i64::from(status),
            outcome,
            ..Default::default()
        };
        let written = async {
            let mut tx = self.store.begin().await?;
            store::insert_audit(&mut tx, &row).await?;
            tx.commit().await
        };
        if let Err(e) = written.await {
            tracing::error!(error = %e, action = %row.action, "writing the audit log failed");
        }
    }

    /// Drops audit entries older than `max_age`.
    pub async fn purge_audit(&self, max_age: std::time::Duration) -> Result<u64, ApiError> {
        let before = (self.clock_now() - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::days(90)))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut tx = self.store.begin().await.map_err(db)?;
        let n = store::purge_audit(&mut tx, &before).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }
}

/// An argon2id hash of a random password, verified against when the user name is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3q2+7wX9bDkF0m3tYcR8t6cJq8b0u1L0m3m2pQx4y5E";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Authorizer;

    fn member(roles: &[(&str, Role)]) -> Caller {
        Caller {
            user: Some("bob".into()),
            user_id: Some(2),
            roles: roles.iter().map(|(n, r)| (n.to_string(), *r)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn roles_and_token_limits() {
        let a = RoleAuthorizer { restrict_namespace_creation: false };
        let bob = member(&[("team", Role::Editor)]);
        assert!(a.check(&bob, Verb::Update, "imagestreams", Some("team")).is_ok());
        assert_eq!(a.check(&bob, Verb::Delete, "imagestreams", Some("team")).unwrap_err().code(), 403);
        assert_eq!(a.check(&bob, Verb::Get, "imagestreams", Some("other")).unwrap_err().code(), 404);
        let anon = Caller::default();
        assert_eq!(a.check(&anon, Verb::Get, "imagestreams", Some("team")).unwrap_err().code(), 401);
        let public = Caller { public: ["team".to_string()].into(), ..Default::default() };
        assert!(a.check(&public, Verb::Get, "imagestreams", Some("team")).is_ok());
        assert_eq!(a.check(&public, Verb::Create, "imagestreams", Some("team")).unwrap_err().code(), 401);
        let limited = Caller {
            token: Some(TokenScope { id: "t".into(), namespaces: None, max_role: Some(Role::Viewer) }),
            ..member(&[("team", Role::Admin)])
        };
        assert_eq!(a.check(&limited, Verb::Create, "imagestreamtags", Some("team")).unwrap_err().code(), 403);
        let elsewhere = Caller {
            token: Some(TokenScope { id: "t".into(), namespaces: Some(["x".to_string()].into()), max_role: None }),
            ..member(&[("team", Role::Admin)])
        };
        assert_eq!(a.check(&elsewhere, Verb::Get, "imagestreams", Some("team")).unwrap_err().code(), 404);
        let msg = a.check(&bob, Verb::Delete, "imagestreams", Some("team")).unwrap_err().message().to_string();
        assert_eq!(
            msg,
            "imagestreams.image.openshift.io is forbidden: User \"bob\" cannot delete resource \"imagestreams\" in API group \"image.openshift.io\" in the namespace \"team\""
        );
        assert!(a.check(&Caller { open: true, ..Default::default() }, Verb::Delete, "namespaces", Some("x")).is_ok());
    }

    #[test]
    fn throttle_waits_double() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        for _ in 0..3 {
            assert_eq!(t.wait("u", now), 0);
            t.failed("u", now);
        }
        assert_eq!(t.wait("u", now), 1);
        t.failed("u", now);
        assert_eq!(t.wait("u", now), 2);
        assert_eq!(t.wait("u", now + chrono::Duration::seconds(2)), 0);
        t.succeeded("u");
        assert_eq!(t.wait("u", now), 0);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
