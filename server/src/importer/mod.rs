//! The registry client of imports (oci-client): fetches a manifest (or a manifest list and its
//! children), the image config, and tag lists, and turns them into Image objects. Failures
//! become the upstream `Status` reasons and messages (spec §4.2). One oci-client per registry
//! and transport is kept and reused, so connections and auth tokens are shared. Every call has a
//! timeout: a slow registry fails its own import, never anything else.
//! Must not: touch the database (the service applies results).

mod errors;
mod manifest;

use app::domain::reference::DockerImageReference;
use app::model::{IMPORT_MODE_PRESERVE_ORIGINAL, Image, OperationStatus};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use errors::http_only_message;

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
}

impl Default for ImporterConfig {
    fn default() -> Self {
        ImporterConfig {
            insecure_registries: vec![],
            max_images_bulk: 50,
            timeout: Duration::from_secs(30),
            concurrency: 8,
            allowed_registries: vec![],
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

fn registry_auth(c: &Option<RegistryLogin>, open: bool) -> RegistryAuth {
    match c {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        // oci-client pings `/v2/` before every anonymous request when the registry hands out
        // no token (measured: about 3x the requests per manifest). For a registry whose `/v2/`
        // answered without any challenge, an empty bearer token is cached instead: such a
        // registry ignores it, and the ping happens once per client instead of per request.
        None if open => RegistryAuth::Bearer(String::new()),
        None => RegistryAuth::Anonymous,
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
    /// The transport that last worked per registry, tried first next time (an insecure
    /// HTTP-only registry would otherwise cost a failed TLS attempt per request).
    working: Mutex<HashMap<String, Transport>>,
    /// Registries (per transport) whose `/v2/` answered 200 without an auth challenge.
    open_registries: Mutex<HashMap<(String, Transport), bool>>,
    /// The guarding egress proxy every registry connection goes through (started on first use,
    /// stopped with the importer: the guard is kept beside its URL).
    proxy: tokio::sync::OnceCell<(String, crate::egress::ProxyGuard)>,
    /// One client per registry, transport and credential set: oci-client keeps the first
    /// credentials it sees for a registry, so different credentials need different clients.
    clients: Mutex<HashMap<ClientKey, Arc<Client>>>,
}

impl Importer {
    pub fn new(config: ImporterConfig) -> Self {
        let guard = Arc::new(crate::egress::RegistryGuard::new(&config.allowed_registries));
        Importer {
            config,
            guard,
            working: Mutex::new(HashMap::new()),
            open_registries: Mutex::new(HashMap::new()),
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

    async fn client(&self, registry: &str, transport: Transport, auth: &Option<RegistryLogin>) -> Result<Arc<Client>, OperationStatus> {
        let proxy = self.proxy_url().await?;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        Ok(clients
            .entry((registry.to_string(), transport, auth.clone()))
            .or_insert_with(|| {
                Arc::new(Client::new(ClientConfig {
                    protocol: if transport == Transport::Http { ClientProtocol::Http } else { ClientProtocol::Https },
                    accept_invalid_certificates: transport == Transport::HttpsUnverified,
                    read_timeout: Some(self.config.timeout),
                    connect_timeout: Some(Duration::from_secs(5).min(self.config.timeout)),
                    http_proxy: Some(proxy.clone()),
                    https_proxy: Some(proxy.clone()),
                    ..Default::default()
                }))
            })
            .clone())
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

    /// Whether the registry needs no authentication at all (asked once per transport).
    async fn is_open(&self, registry: &str, t: Transport) -> bool {
        if let Some(v) = self.open_registries.lock().unwrap_or_else(|p| p.into_inner()).get(&(registry.to_string(), t)) {
            return *v;
        }
        let Ok(proxy) = self.proxy_url().await else { return false };
        let scheme = if t == Transport::Http { "http" } else { "https" };
        let client = reqwest::Client::builder()
            .proxy(match reqwest::Proxy::all(&proxy) {
                Ok(p) => p,
                Err(_) => return false,
            })
            .tls_danger_accept_invalid_certs(t == Transport::HttpsUnverified)
            .timeout(self.config.timeout)
            .build();
        let open = match client {
            Ok(c) => match c.get(format!("{scheme}://{registry}/v2/")).send().await {
                Ok(resp) => resp.status().is_success() && !resp.headers().contains_key(reqwest::header::WWW_AUTHENTICATE),
                Err(_) => return false,
            },
            Err(_) => false,
        };
        self.open_registries.lock().unwrap_or_else(|p| p.into_inner()).insert((registry.to_string(), t), open);
        open
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
        F: Fn(Arc<Client>, Reference, RegistryAuth) -> Fut,
        Fut: std::future::Future<Output = Result<T, oci_client::errors::OciDistributionError>>,
    {
        let reference = manifest::oci_reference(r);
        let transports = self.transports(r, insecure);
        // The guard answers first, with a clear reason; the proxy enforces it again for every
        // connection (redirects, re-resolution).
        let (host, port) = r.registry_host_port(false);
        let port: u16 = port.parse().unwrap_or(443);
        if let Err(m) = self.guard.resolve(&host, port).await {
            return Err(OperationStatus::failure("Forbidden", m, 403));
        }
        let mut last = None;
        for (i, t) in transports.iter().enumerate() {
            let client = self.client(reference.registry(), *t, auth).await?;
            let open = auth.is_none() && self.is_open(reference.registry(), *t).await;
            let attempt = tokio::time::timeout(self.config.timeout, op(client, reference.clone(), registry_auth(auth, open))).await;
            match attempt {
                Err(_) => return Err(errors::timeout(r, self.config.timeout)),
                Ok(Ok(v)) => {
                    if transports.len() > 1 {
                        self.remember(r, *t);
                    }
                    return Ok(v);
                }
                Ok(Err(e)) => {
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

    /// Fetches the image `spec.from` names (by tag, default `latest`, or by digest).
    pub async fn fetch(&self, spec: &FetchSpec) -> Result<Fetched, OperationStatus> {
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
            .with_transport(&r, spec.insecure, &spec.auth, |c, reference, auth| async move {
                c.pull_manifest_raw(&reference, &auth, manifest::ACCEPTED).await
            })
            .await?;
        let parsed = manifest::parse(&raw).map_err(|m| errors::invalid_manifest(&r, &m))?;
        match parsed {
            manifest::Parsed::Image(m) => {
                let image = self.image_from_manifest(&r, spec, &repo_as_written, &digest, &raw, m).await?;
                Ok(Fetched { image, children: vec![] })
            }
            manifest::Parsed::List(list) => {
                if spec.import_mode == IMPORT_MODE_PRESERVE_ORIGINAL {
                    let mut children = vec![];
                    for child in &list.manifests {
                        children.push(self.fetch_child(&r, spec, &repo_as_written, &child.digest).await?);
                    }
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
            .with_transport(&by_digest, spec.insecure, &spec.auth, |c, reference, auth| async move {
                c.pull_manifest_raw(&reference, &auth, manifest::ACCEPTED).await
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
            .with_transport(r, spec.insecure, &spec.auth, |c, reference, auth| {
                let d = config_digest.clone();
                async move {
                    // pull_blob authenticates only what the client already holds.
                    c.store_auth_if_needed(reference.resolve_registry(), &auth).await;
                    let mut buf: Vec<u8> = vec![];
                    c.pull_blob(&reference, d.as_str(), &mut buf).await?;
                    Ok(buf)
                }
            })
            .await?;
        Ok(manifest::image(repo, digest, raw, &m, &config))
    }

    /// The tags of a repository, sorted (registries answer in any order).
    pub async fn list_tags(&self, repository: &str, insecure: bool, auth: &Option<RegistryLogin>) -> Result<Vec<String>, OperationStatus> {
        let r =
            DockerImageReference::parse(repository).map_err(|e| OperationStatus::failure("Invalid", format!("invalid name: {e}"), 422))?;
        let mut tags = self
            .with_transport(&r, insecure, auth, |c, reference, auth| async move {
                let mut all: Vec<String> = vec![];
                let mut last: Option<String> = None;
                // Registries page with `n`/`last`; some ignore both and return everything at once.
                loop {
                    let page = c.list_tags(&reference, &auth, Some(1000), last.as_deref()).await?;
                    let n = page.tags.len();
                    let new_last = page.tags.iter().max().cloned();
                    let before = all.len();
                    all.extend(page.tags);
                    all.sort();
                    all.dedup();
                    if n < 1000 || all.len() == before || new_last == last {
                        break;
                    }
                    last = new_last;
                }
                Ok(all)
            })
            .await?;
        tags.sort();
        Ok(tags)
    }
}
