//! The registry client of imports: fetches a manifest (or a manifest list and its children),
//! the image config, and tag lists, and turns them into Image objects. Failures become the
//! upstream `Status` reasons and messages (spec §4.2). One client per registry, transport and
//! credential set is kept and reused, so connections and auth tokens are shared. Every call has
//! a timeout and every answer a byte budget (`registry`): a slow or hostile registry fails its
//! own import, never anything else. How many imports run at once is decided by `slots`.
//! Must not: touch the database (the service applies results).

mod errors;
mod manifest;
mod registry;
pub mod slots;

use crate::egress::EgressError;
use app::domain::reference::DockerImageReference;
use app::model::{IMPORT_MODE_PRESERVE_ORIGINAL, Image, OperationStatus};
use futures::{StreamExt, TryStreamExt};
use oci_client::Reference;
use registry::{Endpoint, Failure};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use errors::http_only_message;
pub use manifest::{
    ACCEPTED as MANIFEST_TYPES, DOCKER_LIST, DOCKER_MANIFEST, MAX_LAYERS, MAX_LIST_ENTRIES, ManifestList, OCI_INDEX, OCI_MANIFEST, Parsed,
    SingleManifest, choose_platform, image as image_from_manifest, list_image, parse as parse_manifest,
};
pub use registry::{MAX_CONFIG_BYTES, MAX_ERROR_BODY_BYTES, MAX_ERROR_TEXT, MAX_MANIFEST_BYTES};

/// Most tags of one repository collected for an `--all` import: the listing stops there (and
/// fails with a message saying so) instead of collecting pages without end.
pub const MAX_LISTED_TAGS: usize = 10_000;
/// Children of one preserved manifest list fetched at the same time.
const CHILD_CONCURRENCY: usize = 4;
/// One image's lookup (a list with all its children) takes at most this many registry timeouts.
const FETCH_DEADLINE_FACTOR: u32 = 4;

/// How imports reach registries.
#[derive(Clone, Debug)]
pub struct ImporterConfig {
    /// `host[:port]` of registries always treated as insecure (`--insecure-registry`).
    pub insecure_registries: Vec<String>,
    /// Per-repository limit of `--all` imports; negative = no limit.
    pub max_images_bulk: i64,
    /// Deadline of one registry operation (one manifest with its config, one tag list).
    pub timeout: Duration,
    /// Parallel fetches per import request.
    pub concurrency: usize,
    /// `--allowed-registry` entries (empty: any public registry).
    pub allowed_registries: Vec<String>,
    /// Import requests running at once, server-wide (`--max-concurrent-imports`).
    pub max_concurrent_imports: usize,
    /// Import requests of one namespace running at once (`--max-concurrent-imports-per-namespace`).
    pub max_concurrent_imports_per_namespace: usize,
    /// How long a client's import waits for a free slot before it gets 429 (`--import-queue-wait`).
    pub import_queue_wait: Duration,
}

impl Default for ImporterConfig {
    fn default() -> Self {
        ImporterConfig {
            insecure_registries: vec![],
            max_images_bulk: 50,
            timeout: Duration::from_secs(30),
            concurrency: 8,
            allowed_registries: vec![],
            max_concurrent_imports: 8,
            max_concurrent_imports_per_namespace: 2,
            import_queue_wait: Duration::from_secs(10),
        }
    }
}

/// What one fetch asks for.
#[derive(Clone, Debug)]
pub struct FetchSpec {
    /// The source as written (`from.name`).
    pub from: String,
    pub insecure: bool,
    pub import_mode: String,
    pub prefer_arch: Option<String>,
    pub prefer_os: Option<String>,
    /// Basic credentials for the registry, if the namespace has some.
    pub auth: Option<RegistryLogin>,
    /// When the import runs (RFC 3339, the service clock): the creation time of images that carry
    /// none of their own (manifest lists).
    pub now: String,
}

/// A username and password for one registry. Never logged (Debug hides the password).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RegistryLogin {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RegistryLogin({}, <hidden>)", self.username)
    }
}

/// A fetched image: the Image to tag (a single manifest, or the list in PreserveOriginal mode)
/// and, for a preserved list, its children.
#[derive(Clone, Debug)]
pub struct Fetched {
    pub image: Image,
    pub children: Vec<Image>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Transport {
    Https,
    HttpsUnverified,
    Http,
}

/// Registry, transport and credential set of a cached client.
type ClientKey = (String, Transport, Option<RegistryLogin>);

pub struct Importer {
    pub config: ImporterConfig,
    pub guard: Arc<crate::egress::RegistryGuard>,
    /// Admission of import requests: a global limit and a fair share per namespace.
    pub slots: slots::ImportSlots,
    /// The transport that last worked per registry, tried first next time (an insecure
    /// HTTP-only registry would otherwise cost a failed TLS attempt per request).
    working: Mutex<HashMap<String, Transport>>,
    /// The guarding egress proxy every registry connection goes through (started on first use,
    /// stopped with the importer: the guard is kept beside its URL).
    proxy: tokio::sync::OnceCell<(String, crate::egress::ProxyGuard)>,
    /// One client per registry, transport and credential set (each caches the authorizations
    /// its registry granted, so different credentials need different clients).
    clients: Mutex<HashMap<ClientKey, Arc<Endpoint>>>,
}

impl Importer {
    pub fn new(config: ImporterConfig) -> Self {
        let guard = Arc::new(crate::egress::RegistryGuard::new(&config.allowed_registries));
        let slots = slots::ImportSlots::new(config.max_concurrent_imports, config.max_concurrent_imports_per_namespace);
        Importer {
            config,
            guard,
            slots,
            working: Mutex::new(HashMap::new()),
            proxy: tokio::sync::OnceCell::new(),
            clients: Mutex::new(HashMap::new()),
        }
    }

    async fn proxy_url(&self) -> Result<String, OperationStatus> {
        self.proxy
            .get_or_try_init(|| async {
                crate::egress::start_proxy(self.guard.clone())
                    .await
                    .map(|(a, guard)| (format!("http://{a}"), guard))
                    .map_err(|e| OperationStatus::failure("InternalError", format!("the egress proxy could not start: {e}"), 500))
            })
            .await
            .map(|(url, _)| url.clone())
    }

    async fn client(&self, registry: &str, transport: Transport, auth: &Option<RegistryLogin>) -> Result<Arc<Endpoint>, OperationStatus> {
        let proxy = self.proxy_url().await?;
        let key = (registry.to_string(), transport, auth.clone());
        if let Some(c) = self.clients.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(c.clone());
        }
        let internal =
            |e: reqwest::Error| OperationStatus::failure("InternalError", format!("the registry client could not be built: {e}"), 500);
        let http = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(&proxy).map_err(internal)?)
            .tls_danger_accept_invalid_certs(transport == Transport::HttpsUnverified)
            .user_agent(concat!("imagestreams/", env!("CARGO_PKG_VERSION")))
            .read_timeout(self.config.timeout)
            .connect_timeout(Duration::from_secs(5).min(self.config.timeout))
            .build()
            .map_err(internal)?;
        let endpoint = Arc::new(Endpoint::new(http, transport == Transport::Http, auth.clone()));
        Ok(self.clients.lock().unwrap_or_else(|p| p.into_inner()).entry(key).or_insert(endpoint).clone())
    }

    fn registry_insecure(&self, r: &DockerImageReference) -> bool {
        let (host, port) = r.registry_host_port(false);
        let with_port = format!("{host}:{port}");
        self.config.insecure_registries.iter().any(|i| i == &r.registry || i == &with_port || i == &host)
    }

    /// The transports to try, in order: HTTPS; insecure adds unverified HTTPS, then plain HTTP.
    fn transports(&self, r: &DockerImageReference, insecure: bool) -> Vec<Transport> {
        if !(insecure || self.registry_insecure(r)) {
            return vec![Transport::Https];
        }
        let mut order = vec![Transport::HttpsUnverified, Transport::Http];
        let known = self.working.lock().unwrap_or_else(|p| p.into_inner()).get(&r.registry).copied();
        if let Some(t) = known {
            order.retain(|o| *o != t);
            order.insert(0, t);
        }
        order
    }

    fn remember(&self, r: &DockerImageReference, t: Transport) {
        self.working.lock().unwrap_or_else(|p| p.into_inner()).insert(r.registry.clone(), t);
    }

    /// Runs `op` over the transports until one reaches the registry. A secure attempt at an
    /// HTTP-only registry becomes upstream's "requires the insecure flag" error.
    async fn with_transport<T, F, Fut>(
        &self,
        r: &DockerImageReference,
        insecure: bool,
        auth: &Option<RegistryLogin>,
        op: F,
    ) -> Result<T, OperationStatus>
    where
        F: Fn(Arc<Endpoint>, Reference) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let reference = manifest::oci_reference(r);
        let transports = self.transports(r, insecure);
        // The guard answers first, with a clear reason; the proxy enforces it again for every
        // connection (redirects, re-resolution).
        let (host, port) = r.registry_host_port(false);
        let port: u16 = port.parse().unwrap_or(443);
        match self.guard.resolve(&host, port).await {
            Err(EgressError::Refused(m)) => return Err(OperationStatus::failure("Forbidden", m, 403)),
            // Upstream's reason for a registry it cannot reach (a lookup failure is no refusal).
            Err(EgressError::Unresolved(m)) => return Err(OperationStatus::failure("InternalError", m, 500)),
            Ok(_) => {}
        }
        let mut last = None;
        for (i, t) in transports.iter().enumerate() {
            let client = self.client(reference.registry(), *t, auth).await?;
            let attempt = tokio::time::timeout(self.config.timeout, op(client, reference.clone())).await;
            match attempt {
                Err(_) => return Err(errors::timeout(r, self.config.timeout)),
                Ok(Ok(v)) => {
                    if transports.len() > 1 {
                        self.remember(r, *t);
                    }
                    return Ok(v);
                }
                Ok(Err(Failure::Refused(detail))) => return Err(errors::invalid_manifest(r, &detail)),
                Ok(Err(Failure::Throttled(after))) => return Err(throttled(r, after)),
                Ok(Err(Failure::Registry(e))) => {
                    let transport_failed = errors::is_transport_error(&e);
                    if transport_failed && i + 1 < transports.len() {
                        last = Some(e);
                        continue;
                    }
                    if transport_failed
                        && *t == Transport::Https
                        && errors::answers_plain_http(reference.registry(), &self.proxy_url().await?, self.config.timeout).await
                    {
                        return Err(OperationStatus::failure("BadRequest", http_only_message(r), 400));
                    }
                    return Err(errors::map(r, &e));
                }
            }
        }
        Err(last.map(|e| errors::map(r, &e)).unwrap_or_else(|| OperationStatus::failure("InternalError", "no transport", 500)))
    }

    /// The allow-list check of a source by name (spec §4.2 step 1), before any lookup.
    pub fn check_allowed(&self, from: &str, insecure: bool) -> Result<(), String> {
        let Ok(r) = DockerImageReference::parse(from) else { return Ok(()) };
        let insecure = insecure || self.registry_insecure(&r);
        let (host, port) = r.registry_host_port(insecure);
        self.guard.check_name(&host, port.parse().unwrap_or(443))
    }

    /// Fetches the image `spec.from` names (by tag, default `latest`, or by digest), within
    /// `FETCH_DEADLINE_FACTOR` registry timeouts in all (a list's children are several
    /// operations; a registry that answers each just in time must not hold an import for hours).
    pub async fn fetch(&self, spec: &FetchSpec) -> Result<Fetched, OperationStatus> {
        let deadline = self.config.timeout * FETCH_DEADLINE_FACTOR;
        match tokio::time::timeout(deadline, self.fetch_within(spec)).await {
            Ok(done) => done,
            Err(_) => Err(errors::timeout(&DockerImageReference::parse(&spec.from).unwrap_or_default(), deadline)),
        }
    }

    async fn fetch_within(&self, spec: &FetchSpec) -> Result<Fetched, OperationStatus> {
        let mut r =
            DockerImageReference::parse(&spec.from).map_err(|e| OperationStatus::failure("Invalid", format!("invalid name: {e}"), 422))?;
        if r.tag.is_empty() && r.id.is_empty() {
            r.tag = "latest".into();
        }
        let repo_as_written = {
            let mut w = DockerImageReference::parse(&spec.from).unwrap_or_default().as_repository();
            w.tag.clear();
            w.exact()
        };
        let (raw, digest) = self
            .with_transport(&r, spec.insecure, &spec.auth, |c, reference| async move { c.manifest(&reference, manifest::ACCEPTED).await })
            .await?;
        let parsed = manifest::parse(&raw).map_err(|m| errors::invalid_manifest(&r, &m))?;
        match parsed {
            manifest::Parsed::Image(m) => {
                let image = self.image_from_manifest(&r, spec, &repo_as_written, &digest, &raw, m).await?;
                Ok(Fetched { image, children: vec![] })
            }
            manifest::Parsed::List(list) => {
                if spec.import_mode == IMPORT_MODE_PRESERVE_ORIGINAL {
                    // A few at a time: a list may name up to MAX_LIST_ENTRIES children.
                    let digests: Vec<String> = list.manifests.iter().map(|c| c.digest.clone()).collect();
                    let (r, repo) = (&r, &repo_as_written);
                    let children: Vec<Image> = futures::stream::iter(digests)
                        .map(|d| async move { self.fetch_child(r, spec, repo, &d).await })
                        .buffered(CHILD_CONCURRENCY)
                        .try_collect()
                        .await?;
                    let image = manifest::list_image(&repo_as_written, &digest, &raw, &list, &spec.now);
                    Ok(Fetched { image, children })
                } else {
                    let chosen = manifest::choose_platform(&list, spec.prefer_arch.as_deref(), spec.prefer_os.as_deref())
                        .ok_or_else(|| errors::invalid_manifest(&r, "the manifest list is empty"))?;
                    let image = self.fetch_child(&r, spec, &repo_as_written, &chosen.digest).await?;
                    Ok(Fetched { image, children: vec![] })
                }
            }
        }
    }

    async fn fetch_child(&self, r: &DockerImageReference, spec: &FetchSpec, repo: &str, digest: &str) -> Result<Image, OperationStatus> {
        let mut by_digest = r.clone();
        by_digest.tag.clear();
        by_digest.id = digest.to_string();
        let (raw, got) = self
            .with_transport(&by_digest, spec.insecure, &spec.auth, |c, reference| async move {
                c.manifest(&reference, manifest::ACCEPTED).await
            })
            .await?;
        match manifest::parse(&raw).map_err(|m| errors::invalid_manifest(r, &m))? {
            manifest::Parsed::Image(m) => self.image_from_manifest(&by_digest, spec, repo, &got, &raw, m).await,
            manifest::Parsed::List(_) => Err(errors::invalid_manifest(r, "a manifest list may not contain another list")),
        }
    }

    async fn image_from_manifest(
        &self,
        r: &DockerImageReference,
        spec: &FetchSpec,
        repo: &str,
        digest: &str,
        raw: &[u8],
        m: manifest::SingleManifest,
    ) -> Result<Image, OperationStatus> {
        let config_digest = m.config_digest.clone();
        let config = self
            .with_transport(r, spec.insecure, &spec.auth, |c, reference| {
                let d = config_digest.clone();
                async move { c.blob(&reference, &d, MAX_CONFIG_BYTES, "image config").await }
            })
            .await
            .map_err(|st| if st.reason == "NotFound" { errors::missing_blob(r, "image config", &config_digest) } else { st })?;
        Ok(manifest::image(repo, digest, raw, &m, &config))
    }

    /// The tags of a repository, sorted (registries answer in any order), at most
    /// `MAX_LISTED_TAGS`: a repository that lists more fails with a message saying so.
    pub async fn list_tags(&self, repository: &str, insecure: bool, auth: &Option<RegistryLogin>) -> Result<Vec<String>, OperationStatus> {
        let r =
            DockerImageReference::parse(repository).map_err(|e| OperationStatus::failure("Invalid", format!("invalid name: {e}"), 422))?;
        // The repository as written names a refused listing (errors' names end in `:latest`).
        let listed = self
            .with_transport(&r, insecure, auth, |c, reference| async move {
                let mut all: Vec<String> = vec![];
                let mut last: Option<String> = None;
                // Registries page with `n`/`last`; some ignore both and return everything at once.
                loop {
                    let page = c.tag_page(&reference, PAGE, last.as_deref()).await?.tags.unwrap_or_default();
                    let n = page.len();
                    let new_last = page.iter().max().cloned();
                    let before = all.len();
                    all.extend(page);
                    all.sort();
                    all.dedup();
                    if all.len() > MAX_LISTED_TAGS {
                        return Ok(Err(format!("the repository has more than {MAX_LISTED_TAGS} tags; import the ones you need by name")));
                    }
                    if n < PAGE || all.len() == before || new_last == last {
                        break;
                    }
                    last = new_last;
                }
                Ok(Ok(all))
            })
            .await?;
        let mut tags = listed.map_err(|m| OperationStatus::failure("InternalError", format!("{repository}: {m}"), 500))?;
        tags.sort();
        Ok(tags)
    }
}

/// The status of a registry's 429: reason `TooManyRequests`, its advice in the message
/// (`retry_after` reads it back).
fn throttled(r: &DockerImageReference, after: Option<u64>) -> OperationStatus {
    let advice = after.map(|s| format!("; Retry-After: {s}")).unwrap_or_default();
    OperationStatus::failure("TooManyRequests", format!("{}: the registry answered 429 Too Many Requests{advice}", r.exact()), 429)
}

/// The seconds a registry asked to wait before retrying, from a `TooManyRequests` status.
pub fn retry_after(status: &OperationStatus) -> Option<u64> {
    let (_, after) = status.message.rsplit_once("Retry-After: ")?;
    after.trim().parse().ok()
}

/// Pull-through (the integrated registry): reaching the upstream a history item names, with
/// the same transports, guard, credentials, timeouts and byte budgets as imports.
impl Importer {
    /// The manifest `reference` (`registry/repo@digest`) names: its bytes (checked against the
    /// digest, at most `MAX_MANIFEST_BYTES`) and the registry's `Content-Type`.
    pub async fn pull_manifest(
        &self,
        reference: &str,
        insecure: bool,
        auth: &Option<RegistryLogin>,
    ) -> Result<(bytes::Bytes, Option<String>), OperationStatus> {
        let r =
            DockerImageReference::parse(reference).map_err(|e| OperationStatus::failure("Invalid", format!("invalid name: {e}"), 422))?;
        let (body, _, content_type) = self
            .with_transport(&r, insecure, auth, |c, reference| async move { c.typed_manifest(&reference, manifest::ACCEPTED).await })
            .await?;
        Ok((body, content_type))
    }

    /// An open download of the blob `digest` from the repository `reference` names (its tag or
    /// digest is ignored): the answer once the registry said 200, its body unread. Reading the
    /// body is bounded by the client's read timeout; verifying it is the caller's.
    pub async fn pull_blob(
        &self,
        reference: &str,
        digest: &str,
        insecure: bool,
        auth: &Option<RegistryLogin>,
    ) -> Result<reqwest::Response, OperationStatus> {
        let r =
            DockerImageReference::parse(reference).map_err(|e| OperationStatus::failure("Invalid", format!("invalid name: {e}"), 422))?;
        let digest = digest.to_string();
        self.with_transport(&r, insecure, auth, |c, reference| {
            let digest = digest.clone();
            async move { c.open_blob(&reference, &digest).await }
        })
        .await
    }
}

/// Tags asked for per page of a tag list.
const PAGE: usize = 1000;

/// A transport error as it may be shown: credentials and signed query strings removed.
pub fn scrub_error(e: &reqwest::Error) -> String {
    errors::scrubbed(&e.to_string())
}
