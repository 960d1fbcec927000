//! The integrated registry's rules (OCI Distribution Specification v1.1, spec §6): repository
//! names (`<namespace>/<stream>`), who may pull, push and delete (a namespace's viewers pull,
//! editors push, admins delete; public namespaces and `--anonymous-read` pull anonymously),
//! the Docker token flow (`/v2/token` issues short-lived bearer tokens scoped to repositories and
//! actions), tags, the catalog and referrers. Pulls (`pull`, local content and pull-through with
//! the mirror), pushes (`push`, uploads and manifests) and the online garbage collection of the
//! blob store (`gc`) are submodules.
//!
//! Must not: speak HTTP (the `/v2` edge in `crate::registry` maps `RegistryError` to the OCI
//! error envelope and statuses) or hold SQL (that is `store::registry`).

mod gc;
mod pull;
mod push;

pub use gc::{GcItem, GcReport, GcRun, GcTrigger};
pub use pull::{BlobAnswer, ByteRange, ManifestAnswer};
pub use push::{UploadOutcome, UploadStatus};

use super::{Caller, Service, Verb, db};
use crate::blobs::{BlobStore, Digest};
use crate::store;
use app::model::ApiError;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// A request body as the registry reads it: chunks, or the error that cut it off.
pub type BodyStream = BoxStream<'static, Result<bytes::Bytes, std::io::Error>>;

/// `serve` settings of the integrated registry.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    /// Write what is pulled through to the blob store (`--registry-mirror`, default on).
    pub mirror: bool,
    /// Where blobs and manifests live.
    pub blobs: BlobStore,
    /// Where uploads in progress and downloads being pulled through are spooled (local disk).
    pub spool_dir: std::path::PathBuf,
    /// An upload untouched for this long is dropped (`--upload-ttl`).
    pub upload_ttl: Duration,
    /// Largest blob accepted by a push or pulled through (`--max-blob-size`).
    pub max_blob_bytes: u64,
    /// Uploads open at once, server-wide and per user.
    pub max_uploads: usize,
    pub max_uploads_per_user: usize,
    /// How long a registry bearer token lives.
    pub token_ttl: Duration,
    /// The realm of the `WWW-Authenticate` challenge: `<public URL>/v2/token`; `None`: built
    /// from each request's `Host`.
    pub realm: Option<String>,
    /// Garbage collection spares blobs written, mounted or seen less than this long ago
    /// (`--gc-grace`): the time a client has between uploading a blob and naming it in a manifest.
    pub gc_grace: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            mirror: true,
            blobs: BlobStore::memory(),
            spool_dir: std::env::temp_dir().join(format!("imagestreams-spool-{}", uuid::Uuid::new_v4().simple())),
            upload_ttl: Duration::from_secs(3600),
            max_blob_bytes: 16 << 30,
            max_uploads: 1000,
            max_uploads_per_user: 64,
            token_ttl: Duration::from_secs(300),
            realm: None,
            gc_grace: Duration::from_secs(3600),
        }
    }
}

/// The registry's state shared by the service's clones.
pub(crate) struct RegistryState {
    config: RegistryConfig,
    /// Signs registry bearer tokens (HS256); random per start: a restart makes clients log in
    /// again, which they do on the next 401 by themselves.
    token_key: [u8; 32],
    uploads: Mutex<HashMap<String, push::Upload>>,
    downloads: Mutex<HashMap<Digest, std::sync::Arc<pull::Download>>>,
    /// Each stream's visible tags, sorted, as of its resourceVersion: `tags/list` answers from
    /// here while the stream has not changed (at most `TAG_CACHE` streams; cleared when full).
    tag_lists: Mutex<HashMap<(String, String), CachedTags>>,
    /// When each (namespace, stream, digest) pull was last recorded (unix seconds): a pull is
    /// written at most once a minute per image and repository.
    recorded_pulls: Mutex<HashMap<(String, String, String), i64>>,
    /// Digests being written or collected, and blobs clients were recently told exist
    /// (garbage collection's in-memory half, see `gc`).
    locks: std::sync::Arc<gc::DigestLocks>,
    /// One garbage collection at a time.
    gc_running: tokio::sync::Mutex<()>,
}

impl RegistryState {
    pub(crate) fn new(config: RegistryConfig) -> Self {
        let mut token_key = [0u8; 32];
        if getrandom::fill(&mut token_key).is_err() {
            token_key = super::ephemeral_key();
        }
        RegistryState {
            config,
            token_key,
            uploads: Mutex::new(HashMap::new()),
            downloads: Mutex::new(HashMap::new()),
            recorded_pulls: Mutex::new(HashMap::new()),
            tag_lists: Mutex::new(HashMap::new()),
            locks: Default::default(),
            gc_running: tokio::sync::Mutex::new(()),
        }
    }
}

/// An OCI error: its code (`NAME_UNKNOWN`, …), HTTP status and message; for 401 the scope the
/// challenge names, for 429 the seconds to wait.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryError {
    pub code: &'static str,
    pub status: u16,
    pub message: String,
    pub retry_after: Option<u64>,
    /// The `scope` the client should ask a token for (401).
    pub scope: Option<String>,
}

impl RegistryError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> Self {
        RegistryError { code, status, message: message.into(), retry_after: None, scope: None }
    }
    pub fn name_unknown(repo: &str) -> Self {
        Self::new("NAME_UNKNOWN", 404, format!("repository name not known to registry: {repo}"))
    }
    pub fn name_invalid(message: impl Into<String>) -> Self {
        Self::new("NAME_INVALID", 400, message)
    }
    pub fn manifest_unknown(reference: &str) -> Self {
        Self::new("MANIFEST_UNKNOWN", 404, format!("manifest unknown: {reference}"))
    }
    pub fn manifest_invalid(message: impl Into<String>) -> Self {
        Self::new("MANIFEST_INVALID", 400, message)
    }
    pub fn manifest_blob_unknown(digest: &str) -> Self {
        Self::new(
            "MANIFEST_BLOB_UNKNOWN",
            400,
            format!("blob unknown to registry: {digest} (push it to this repository, or mount it, first)"),
        )
    }
    pub fn blob_unknown(digest: &str) -> Self {
        Self::new("BLOB_UNKNOWN", 404, format!("blob unknown to registry: {digest}"))
    }
    pub fn digest_invalid(message: impl Into<String>) -> Self {
        Self::new("DIGEST_INVALID", 400, message)
    }
    pub fn upload_unknown() -> Self {
        Self::new("BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry (finished, cancelled or expired)")
    }
    /// A request body that could not be read (cut short, or too slow), where no OCI code names
    /// the request: `UNKNOWN` (distribution's `errcode.ErrorCodeUnknown`), as a 400.
    pub fn body_unreadable(message: String) -> Self {
        Self::new("UNKNOWN", 400, message)
    }
    pub fn upload_invalid(message: impl Into<String>) -> Self {
        Self::new("BLOB_UPLOAD_INVALID", 400, message)
    }
    pub fn range_invalid(message: impl Into<String>) -> Self {
        Self::new("RANGE_INVALID", 416, message)
    }
    pub fn size_invalid(message: impl Into<String>) -> Self {
        Self::new("SIZE_INVALID", 413, message)
    }
    pub fn tag_invalid(tag: &str) -> Self {
        Self::new("TAG_INVALID", 400, app::domain::names::invalid_tag_message(tag))
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new("UNSUPPORTED", 405, message)
    }
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new("DENIED", 403, message)
    }
    pub fn unauthorized(scope: Option<String>) -> Self {
        RegistryError { scope, ..Self::new("UNAUTHORIZED", 401, "authentication required") }
    }
    pub fn too_many_requests(message: impl Into<String>, retry_after: Option<u64>) -> Self {
        RegistryError { retry_after, ..Self::new("TOOMANYREQUESTS", 429, message) }
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new("UNAVAILABLE", 503, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("UNKNOWN", 500, message)
    }
    /// A `/v2` path that names no endpoint.
    pub fn new_not_found(path: &str) -> Self {
        Self::new("NOT_FOUND", 404, format!("no registry endpoint at {}", super::for_log(path)))
    }
}

/// A database fault inside the registry (logged by `db`).
fn rdb(e: sqlx::Error) -> RegistryError {
    let _ = db(e);
    RegistryError::internal("the database failed to answer")
}

/// A repository of the registry: `<namespace>/<stream>`, both valid names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Repository {
    pub namespace: String,
    pub stream: String,
}

impl Repository {
    /// Parses a repository name; anything but two valid names is `NAME_INVALID`.
    pub fn parse(name: &str) -> Result<Repository, RegistryError> {
        let short: String = name.chars().take(256).collect();
        let Some((ns, stream)) = name.split_once('/') else {
            return Err(RegistryError::name_invalid(format!(
                "invalid repository name {short:?}: repositories here are <namespace>/<stream>"
            )));
        };
        if stream.contains('/') {
            return Err(RegistryError::name_invalid(format!(
                "invalid repository name {short:?}: repositories here are <namespace>/<stream>"
            )));
        }
        let ns_errors = app::domain::names::validate_namespace_name(ns, "namespace");
        let stream_errors = app::domain::names::validate_stream_name(ns, stream);
        if let Some(e) = ns_errors.first().or(stream_errors.first()) {
            return Err(RegistryError::name_invalid(format!("invalid repository name {short:?}: {}", e.detail)));
        }
        Ok(Repository { namespace: ns.to_string(), stream: stream.to_string() })
    }

    pub fn name(&self) -> String {
        format!("{}/{}", self.namespace, self.stream)
    }
}

/// What a registry request may do to a repository.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
}

/// What a registry request brought to prove who it is.
#[derive(Clone, Debug, Default)]
pub enum RegistryAuth {
    #[default]
    Anonymous,
    /// `Authorization: Basic`: a user's password, or an API token as the password.
    Basic { username: String, password: String },
    /// `Authorization: Bearer`: a registry token from `/v2/token`, or an API token.
    Bearer(String),
}

/// One `access` entry of a registry token (the Docker token spec's claim).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: Vec<Access>,
    /// The user's row id (absent: anonymous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uid: Option<i64>,
    /// The API token the registry token was issued for (its limits apply, its revocation ends it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

const TOKEN_ISSUER: &str = "imagestreams";

/// The caller of a registry request: who, and (with a registry token) what the token allows.
#[derive(Clone, Debug)]
pub struct RegistryCaller {
    caller: Caller,
    /// The token's grants; `None`: not limited by a registry token (Basic, an API token).
    access: Option<Vec<Access>>,
}

impl RegistryCaller {
    /// Whether the request proved an identity (or the server is single-user).
    pub fn authenticated(&self) -> bool {
        self.caller.signed_in() || self.caller.open || self.access.is_some()
    }
    pub fn user(&self) -> Option<&str> {
        self.caller.user.as_deref()
    }
}

/// The answer of `/v2/token`.
#[derive(Debug, Serialize)]
pub struct TokenAnswer {
    pub token: String,
    pub access_token: String,
    /// Seconds.
    pub expires_in: u64,
    pub issued_at: String,
}

impl Service {
    /// The registry settings (the edge reads the realm).
    pub fn registry_config(&self) -> &RegistryConfig {
        &self.registry.config
    }

    /// The name registry tokens are issued for (the `service` of the challenge).
    pub fn registry_service_name(&self) -> &str {
        &self.registry_host
    }

    /// The caller of a registry request. A wrong password or an unknown, expired or revoked
    /// token is 401; too many wrong passwords 429 (sign-in's throttle).
    pub async fn registry_caller(&self, auth: RegistryAuth, remote: Option<String>) -> Result<RegistryCaller, RegistryError> {
        let refused = |e: ApiError| match e.code() {
            429 => RegistryError::too_many_requests(e.status.message, None),
            500 => RegistryError::internal("the server failed to check the credentials"),
            _ => RegistryError { message: e.status.message, ..RegistryError::unauthorized(None) },
        };
        match auth {
            RegistryAuth::Anonymous => {
                let caller = self.resolve_caller(super::Credentials { remote, ..Default::default() }).await.map_err(refused)?;
                Ok(RegistryCaller { caller, access: None })
            }
            RegistryAuth::Bearer(token) if token.matches('.').count() == 2 => {
                let claims = self.verify_registry_token(&token)?;
                let caller = self.caller_of_user(remote, claims.uid, claims.tid.as_deref()).await.map_err(refused)?.ok_or_else(|| {
                    RegistryError { message: "the token's user or API token is gone".into(), ..RegistryError::unauthorized(None) }
                })?;
                Ok(RegistryCaller { caller, access: Some(claims.access) })
            }
            RegistryAuth::Bearer(token) => {
                let creds = super::Credentials { bearer: Some(token), remote, ..Default::default() };
                let caller = self.resolve_caller(creds).await.map_err(refused)?;
                Ok(RegistryCaller { caller, access: None })
            }
            RegistryAuth::Basic { username, password } => {
                if password.starts_with(super::access::API_TOKEN_PREFIX) {
                    // `docker login -u anything -p <API token>`: the token decides who it is.
                    let creds = super::Credentials { bearer: Some(password), remote, ..Default::default() };
                    let caller = self.resolve_caller(creds).await.map_err(refused)?;
                    return Ok(RegistryCaller { caller, access: None });
                }
                let user = self.verify_password(&username, &password, remote.as_deref()).await.map_err(refused)?;
                let caller = self
                    .caller_of_user(remote, Some(user.id), None)
                    .await
                    .map_err(refused)?
                    .ok_or_else(|| RegistryError::unauthorized(None))?;
                Ok(RegistryCaller { caller, access: None })
            }
        }
    }

    /// `GET /v2/`: a caller that proved nothing, on a server with accounts, is challenged
    /// (clients then fetch a token, anonymous or not, from the realm).
    pub fn registry_base(&self, rc: &RegistryCaller) -> Result<(), RegistryError> {
        if rc.authenticated() { Ok(()) } else { Err(RegistryError::unauthorized(None)) }
    }

    /// `GET /v2/token?service=…&scope=repository:<ns>/<stream>:pull,push…`: a token granting,
    /// of the asked actions, those the caller may do now (an action not allowed is left out, as
    /// the Docker token spec says, so a pull-only token is issued to a viewer asking for push).
    pub async fn registry_token(&self, rc: &RegistryCaller, scopes: &[String]) -> Result<TokenAnswer, RegistryError> {
        if scopes.len() > 32 {
            return Err(RegistryError::denied("at most 32 scopes per token request"));
        }
        let mut access: Vec<Access> = vec![];
        for scope in scopes {
            let Some((kind, rest)) = scope.split_once(':') else {
                return Err(RegistryError::denied(format!("invalid scope {:?}: expected <type>:<name>:<actions>", super::for_log(scope))));
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                return Err(RegistryError::denied(format!("invalid scope {:?}: expected <type>:<name>:<actions>", super::for_log(scope))));
            };
            match kind {
                "repository" => {
                    let Ok(repo) = Repository::parse(name) else { continue };
                    let mut granted: Vec<String> = vec![];
                    for a in actions.split(',') {
                        let wanted: &[Action] = match a {
                            "pull" => &[Action::Pull],
                            "push" => &[Action::Push],
                            "delete" => &[Action::Delete],
                            "*" => &[Action::Pull, Action::Push, Action::Delete],
                            _ => &[],
                        };
                        for w in wanted {
                            if self.role_allows(&rc.caller, &repo, *w).is_ok() && !granted.iter().any(|g| g == w.as_str()) {
                                granted.push(w.as_str().to_string());
                            }
                        }
                    }
                    access.push(Access { kind: "repository".into(), name: repo.name(), actions: granted });
                }
                "registry" if name == "catalog" && rc.authenticated() => {
                    access.push(Access { kind: "registry".into(), name: "catalog".into(), actions: vec!["*".into()] });
                }
                _ => {}
            }
        }
        if !rc.authenticated()
            && self.accounts_on().await.unwrap_or(true)
            && access.iter().all(|a| a.actions.is_empty())
            && !scopes.is_empty()
        {
            // Nothing anonymous may do here: say so now rather than hand out an empty token.
            return Err(RegistryError::unauthorized(None));
        }
        let now = self.clock_now();
        let ttl = self.registry.config.token_ttl.as_secs();
        let claims = Claims {
            iss: TOKEN_ISSUER.into(),
            sub: rc.caller.user.clone().unwrap_or_default(),
            aud: self.registry_host.clone(),
            exp: now.timestamp() + ttl as i64,
            nbf: now.timestamp() - 1,
            iat: now.timestamp(),
            jti: uuid::Uuid::new_v4().simple().to_string(),
            access,
            uid: rc.caller.user_id,
            tid: rc.caller.token.as_ref().map(|t| t.id.clone()),
        };
        let key = jsonwebtoken::EncodingKey::from_secret(&self.registry.token_key)
            .map_err(|e| RegistryError::internal(format!("the token key is not usable: {e}")))?;
        let token = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &claims, &key)
            .map_err(|e| RegistryError::internal(format!("the token could not be signed: {e}")))?;
        Ok(TokenAnswer {
            access_token: token.clone(),
            token,
            expires_in: ttl,
            issued_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
    }

    /// The claims of a registry token this server signed, not expired on the service clock.
    fn verify_registry_token(&self, token: &str) -> Result<Claims, RegistryError> {
        let key = jsonwebtoken::DecodingKey::from_secret(&self.registry.token_key)
            .map_err(|e| RegistryError::internal(format!("the token key is not usable: {e}")))?;
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        // Expiry is checked on the service clock below (tests move it), not the wall clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_audience(&[self.registry_host.as_str()]);
        validation.set_issuer(&[TOKEN_ISSUER]);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        let bad =
            |why: &str| RegistryError { message: format!("the registry token is not valid: {why}"), ..RegistryError::unauthorized(None) };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|_| bad("not issued by this server"))?;
        if data.claims.exp <= self.clock_now().timestamp() {
            return Err(bad("expired; log in again"));
        }
        Ok(data.claims)
    }

    /// The role check of an action: viewers (and public readers) pull, editors push, admins
    /// delete. The refusal as the registry words it.
    fn role_allows(&self, caller: &Caller, repo: &Repository, action: Action) -> Result<(), RegistryError> {
        let (verb, resource) = match action {
            Action::Pull => (Verb::Get, "imagestreams/layers"),
            Action::Push => (Verb::Create, "imagestreammappings"),
            Action::Delete => (Verb::Delete, "imagestreams"),
        };
        self.allow(caller, verb, resource, Some(&repo.namespace)).map_err(|e| match e.code() {
            401 => RegistryError::unauthorized(Some(scope_of(repo, action))),
            404 => RegistryError::name_unknown(&repo.name()),
            _ => RegistryError::denied(format!(
                "requested access to the resource is denied: {} {} needs the {} role in {}",
                action.as_str(),
                repo.name(),
                match action {
                    Action::Pull => "viewer",
                    Action::Push => "editor",
                    Action::Delete => "admin",
                },
                repo.namespace
            )),
        })
    }

    /// Whether the request may do `action` on `repo`: its registry token must grant it (else
    /// 401 naming the scope, so the client asks for a token that does) and the role check must
    /// pass now (a role removed since the token was issued is gone).
    pub(crate) fn registry_allow(&self, rc: &RegistryCaller, repo: &Repository, action: Action) -> Result<(), RegistryError> {
        if let Some(access) = &rc.access {
            let name = repo.name();
            let granted = access
                .iter()
                .any(|a| a.kind == "repository" && a.name == name && a.actions.iter().any(|x| x == action.as_str() || x == "*"));
            if !granted {
                return Err(RegistryError::unauthorized(Some(scope_of(repo, action))));
            }
        }
        self.role_allows(&rc.caller, repo, action)
    }

    /// `GET /v2/<name>/tags/list`: the status tags with a head image (reference-only tags have
    /// none and are invisible, spec §6.2), sorted, `n` at most after `last`: the JSON document
    /// and, when more follow, the `n` and `last` of the next page. The whole list is kept per
    /// stream and resourceVersion, its document serialized once.
    pub async fn registry_tags(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(bytes::Bytes, Option<(usize, String)>), RegistryError> {
        self.registry_allow(rc, repo, Action::Pull)?;
        let mut conn = self.store.read().await.map_err(rdb)?;
        let Some(version) = store::stream_version(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)? else {
            return Err(RegistryError::name_unknown(&repo.name()));
        };
        let key = (repo.namespace.clone(), repo.stream.clone());
        let cached = self
            .registry
            .tag_lists
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .filter(|(v, _)| *v == version)
            .map(|(_, t)| t.clone());
        let list = match cached {
            Some(t) => t,
            None => {
                let heads = store::tag_heads(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?;
                let mut tags: Vec<String> =
                    heads.into_iter().filter(|(_, image)| image.parse::<Digest>().is_ok()).map(|(t, _)| t).collect();
                tags.sort();
                let document = tags_document(&repo.name(), &tags);
                let list = std::sync::Arc::new(TagList { tags, document });
                let mut cache = self.registry.tag_lists.lock().unwrap_or_else(|p| p.into_inner());
                if cache.len() >= TAG_CACHE {
                    cache.clear();
                }
                cache.insert(key, (version, list.clone()));
                list
            }
        };
        drop(conn);
        if n.is_none() && last.is_none() {
            return Ok((list.document.clone(), None));
        }
        let all = &list.tags;
        let from = match last {
            Some(l) => all.partition_point(|t| t.as_str() <= l),
            None => 0,
        };
        let limit = n.unwrap_or(usize::MAX);
        let end = from.saturating_add(limit).min(all.len());
        let page = &all[from..end];
        let next = (end < all.len()).then(|| (limit.min(MAX_PAGE), page.last().cloned().unwrap_or_default()));
        Ok((tags_document(&repo.name(), page), next))
    }

    /// `GET /v2/_catalog`: the repositories the caller may read, sorted, `n` at most after `last`.
    pub async fn registry_catalog(
        &self,
        rc: &RegistryCaller,
        n: Option<usize>,
        last: Option<&str>,
    ) -> Result<(Vec<String>, bool), RegistryError> {
        if let Some(access) = &rc.access
            && !access.iter().any(|a| a.kind == "registry" && a.name == "catalog")
        {
            return Err(RegistryError::unauthorized(Some("registry:catalog:*".into())));
        }
        if !rc.authenticated() && !rc.caller.anonymous_read && rc.caller.public.is_empty() {
            return Err(RegistryError::unauthorized(Some("registry:catalog:*".into())));
        }
        let limit = n.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        let scope = rc.caller.visible_namespaces();
        let mut conn = self.store.read().await.map_err(rdb)?;
        let repos = store::repositories(&mut conn, scope.as_deref(), last.unwrap_or(""), limit as i64 + 1).await.map_err(rdb)?;
        Ok(page(repos, Some(limit)))
    }

    /// `GET /v2/<name>/referrers/<digest>`: an OCI index of the stored manifests whose
    /// `subject` is `digest` (filtered by `artifactType` when asked; the bool says it was).
    pub async fn registry_referrers(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        digest: &str,
        artifact_type: Option<&str>,
    ) -> Result<(bytes::Bytes, bool), RegistryError> {
        self.registry_allow(rc, repo, Action::Pull)?;
        let digest: Digest = digest.parse().map_err(RegistryError::digest_invalid)?;
        let mut conn = self.store.read().await.map_err(rdb)?;
        let found = store::referrers(&mut conn, &repo.namespace, &repo.stream, &digest.to_string()).await.map_err(rdb)?;
        let manifests: Vec<serde_json::Value> = found
            .iter()
            .filter(|m| artifact_type.is_none_or(|t| m.artifact_type == t))
            .map(|m| {
                let mut d = serde_json::json!({"mediaType": m.media_type, "digest": m.digest, "size": m.size});
                if !m.artifact_type.is_empty() {
                    d["artifactType"] = m.artifact_type.clone().into();
                }
                if !m.annotations.0.is_empty() {
                    d["annotations"] = serde_json::to_value(&m.annotations.0).unwrap_or_default();
                }
                d
            })
            .collect();
        let index = serde_json::json!({"schemaVersion": 2, "mediaType": crate::importer::OCI_INDEX, "manifests": manifests});
        Ok((bytes::Bytes::from(index.to_string()), artifact_type.is_some()))
    }

    /// Writes a registry change (a manifest pushed or deleted, a blob deleted) to the audit log.
    /// `action` is the request (`PUT /v2/…`), `operation` what it did (`push manifests`).
    pub async fn record_registry_change(
        &self,
        rc: &RegistryCaller,
        action: String,
        operation: String,
        namespace: Option<String>,
        remote: Option<String>,
        status: u16,
    ) {
        let note = super::AuditNote {
            user: rc.caller.user.clone(),
            token: rc.caller.token.as_ref().map(|t| t.id.clone()),
            namespace,
            operation: Some(operation),
        };
        self.record_request(action, note, remote, status).await;
    }

    /// The bytes the blob store holds for a namespace's images (the namespace settings page).
    pub async fn namespace_storage(&self, caller: &Caller, ns: &str) -> Result<i64, ApiError> {
        self.allow(caller, Verb::Get, "imagestreams", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        store::namespace_storage(&mut conn, ns).await.map_err(db)
    }

    /// Which of `digests` (images) are mirrored locally, with the bytes stored for each: the
    /// manifest and every blob it refers to present in the blob store.
    pub async fn registry_storage_of(&self, digests: &[String]) -> Result<HashMap<String, (bool, i64)>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let mut out = HashMap::new();
        for d in digests.iter().take(500) {
            let Some(m) = store::stored_manifest(&mut conn, d).await.map_err(db)? else {
                out.insert(d.clone(), (false, 0));
                continue;
            };
            let image = store::get_image(&mut conn, d).await.map_err(db)?;
            let mut wanted: Vec<String> = image
                .as_ref()
                .map(|i| {
                    let mut v: Vec<String> = i.docker_image_layers.iter().map(|l| l.name.clone()).collect();
                    if let Some(id) = i.docker_image_metadata.as_ref().map(|m| m.id.clone()).filter(|id| id.starts_with("sha")) {
                        v.push(id);
                    }
                    v
                })
                .unwrap_or_default();
            wanted.sort();
            wanted.dedup();
            let stored = store::stored_blobs(&mut conn, &wanted).await.map_err(db)?;
            let bytes = m.size + stored.values().sum::<i64>();
            out.insert(d.clone(), (stored.len() == wanted.len(), bytes));
        }
        Ok(out)
    }
}

/// A stream's tag list as of a resourceVersion.
type CachedTags = (i64, std::sync::Arc<TagList>);

/// A stream's visible tags, sorted, and the `tags/list` document of all of them.
pub(crate) struct TagList {
    tags: Vec<String>,
    document: bytes::Bytes,
}

/// `{"name": …, "tags": […]}`.
fn tags_document(name: &str, tags: &[String]) -> bytes::Bytes {
    bytes::Bytes::from(serde_json::json!({"name": name, "tags": tags}).to_string())
}

/// Streams whose tag lists are kept in memory.
const TAG_CACHE: usize = 4096;

/// Largest page of tags or repositories.
const MAX_PAGE: usize = 10_000;

/// The first `n` of `items` and whether more follow.
fn page(mut items: Vec<String>, n: Option<usize>) -> (Vec<String>, bool) {
    match n {
        Some(n) if items.len() > n => {
            items.truncate(n);
            (items, true)
        }
        _ => (items, false),
    }
}

/// `repository:<ns>/<stream>:<action>`, the scope a challenge names.
fn scope_of(repo: &Repository, action: Action) -> String {
    let actions = match action {
        Action::Pull => "pull",
        Action::Push => "pull,push",
        Action::Delete => "delete",
    };
    format!("repository:{}:{actions}", repo.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_namespace_and_stream() {
        assert_eq!(Repository::parse("demo/app").unwrap().name(), "demo/app");
        for bad in ["app", "demo/app/x", "Demo/app", "demo/", "/app", "demo/APP", "../x"] {
            assert_eq!(Repository::parse(bad).unwrap_err().code, "NAME_INVALID", "{bad}");
        }
    }

    #[test]
    fn pages_say_whether_more_follow() {
        let v: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        assert_eq!(page(v.clone(), Some(2)), (vec!["0".into(), "1".into()], true));
        assert!(!page(v.clone(), Some(5)).1);
        assert!(!page(v, None).1);
    }
}
