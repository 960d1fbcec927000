//! Orchestration: one transaction per mutation, the permission check, the clock, and the
//! decoration of objects on read. REST handlers and server functions both call these methods, so
//! every rule has one implementation. Must not: hold SQL (that is `store`) or re-state a rule of
//! `app::domain`.

mod access;
mod audit;
pub mod backup;
mod bulk;
mod catalog;
mod deliveries;
mod forms;
mod images;
mod imports;
mod jobs;
mod namespaces;
mod operations;
mod outbox;
mod patch;
mod prune;
pub mod registry;
mod retention;
mod secrets;
mod streams;
mod tags;
mod watch;
mod webhooks;

use crate::importer::{Importer, ImporterConfig};
use crate::sealing::Sealer;
use crate::store::{self, Store};
use app::model::{ApiError, ListMeta};
use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;

pub use access::{
    AuditNote, AuditSlot, Bootstrap, Caller, Credentials, Role, RoleAuthorizer, SESSION_COOKIE, SETUP_TOKEN_PREFIX, client_of,
    unauthorized, unauthorized_change,
};
pub use catalog::CATALOG_PAGE;
pub use deliveries::{AttemptOutcome, DeliveryTarget, QueuedDelivery, TargetRefused, WebhookClient};
pub use forms::form_error;
pub use imports::ImportProgress;
pub use patch::PatchType;
pub use prune::{PruneOutput, PrunePart};
pub use registry::RegistryConfig;
pub use retention::{RES_RETENTION, SCHEDULE_USER};
pub use secrets::{RegistryCredential, normalize_registry};
pub use streams::ListOptions;
pub use watch::{WatchLimits, WatchRequest, WatchStream};
pub use webhooks::MAX_PENDING_PER_NAMESPACE;

pub use app::domain::accounts::Verb;

/// The single permission check every operation asks (`access::RoleAuthorizer`).
pub trait Authorizer: Send + Sync + 'static {
    /// `namespace` is `None` for cluster-scoped resources (images, the namespace list).
    fn check(&self, caller: &Caller, verb: Verb, resource: &str, namespace: Option<&str>) -> Result<(), ApiError>;
}

/// `serve` settings of accounts.
#[derive(Clone, Debug)]
pub struct AccessConfig {
    /// `--anonymous-read`: everything readable without signing in (kiosks).
    pub anonymous_read: bool,
    /// `--restrict-namespace-creation`: only server administrators create namespaces.
    pub restrict_namespace_creation: bool,
    /// How long a sign-in lasts.
    pub session_ttl: std::time::Duration,
    /// The server listens on loopback addresses only: without accounts, local clients act as
    /// the single user (`Caller::open`). On any other address nobody may change anything until an
    /// administrator exists. `serve` sets it from `--listen`.
    pub loopback_only: bool,
}

impl Default for AccessConfig {
    fn default() -> Self {
        AccessConfig {
            anonymous_read: false,
            restrict_namespace_creation: false,
            session_ttl: std::time::Duration::from_secs(12 * 3600),
            loopback_only: true,
        }
    }
}

/// The time source; tests inject a fixed one.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The service: the store plus the settings rules need. Its fields are private to `service`:
/// everything else (the edges, the workers) goes through its methods.
#[derive(Clone)]
pub struct Service {
    store: Store,
    clock: Arc<dyn Clock>,
    authorizer: Arc<dyn Authorizer>,
    /// The integrated registry host written into `status.dockerImageRepository`.
    registry_host: String,
    /// The registry client of imports.
    importer: Arc<Importer>,
    /// Seals registry credentials at rest.
    sealer: Sealer,
    /// Ticks after every committed change, so watchers read the event log again.
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    bookmark_interval: std::time::Duration,
    /// Where writes announce streams that have tags to import (the import controller).
    import_queue: Option<tokio::sync::mpsc::UnboundedSender<(String, String)>>,
    /// Where webhooks may be sent (`--allowed-webhook-target`, the imports' guard rules).
    webhook_guard: Arc<crate::egress::RegistryGuard>,
    /// Wakes the webhook dispatcher after a commit that may have queued deliveries.
    delivery_wakeup: Arc<tokio::sync::Notify>,
    /// Bumped by every recorded delivery attempt (`delivery_attempts`).
    delivery_attempts: Arc<tokio::sync::watch::Sender<u64>>,
    /// Bumped when a test moves the clock (`clock_moved`).
    clock_moves: Arc<tokio::sync::watch::Sender<u64>>,
    /// The web imports running in the background (the import form's progress).
    import_jobs: Arc<jobs::ImportJobs>,
    prune_jobs: Arc<jobs::PruneJobs>,
    /// The watch hub (started with the first watch): one reader of the event log for all.
    watch_hub: Arc<std::sync::OnceLock<watch::WatchHub>>,
    /// The audit log's group commit (started on the first entry).
    audit_writer: Arc<std::sync::OnceLock<audit::AuditWriter>>,
    /// Watch limits, the access epoch open watches re-check on, and open watches per client.
    watches: Arc<watch::WatchControl>,
    /// Accounts are on (a user exists): unknown, off or on (see `access`).
    accounts: Arc<access::AccountsSwitch>,
    anonymous_read: bool,
    session_ttl: std::time::Duration,
    sign_ins: Arc<access::SignInThrottle>,
    /// The outstanding setup token (first administrator), shared by the clones.
    setup: Arc<access::Setup>,
    /// `AccessConfig::loopback_only`.
    loopback_only: bool,
    /// How many refusals per caller the audit log takes (`audit::REFUSALS_PER_MINUTE`).
    audit_refusals: Arc<audit::RefusalBudget>,
    /// Refused anonymous requests not yet reported (`count_refused_anonymous`).
    anonymous_refusals: Arc<audit::AnonymousRefusals>,
    /// Where password hashes run (off the async workers, a few at once).
    password_hashing: Arc<access::PasswordHashing>,
    /// The integrated registry: its settings, blob store, uploads and downloads in flight.
    registry: Arc<registry::RegistryState>,
    /// Pruning keeps what was pulled through the registry within this long (`None`: the rule
    /// is off).
    prune_pulled_within: Option<std::time::Duration>,
    /// True once a graceful shutdown started (`operations`): readiness fails, watches end.
    draining: Arc<tokio::sync::watch::Sender<bool>>,
}

/// Page size bounds: a missing or zero limit means the default page, never "everything".
pub const DEFAULT_PAGE: i64 = 500;
pub const MAX_PAGE: i64 = 1000;

impl Service {
    pub fn new(store: Store, registry_host: String) -> Self {
        Service {
            store,
            clock: Arc::new(SystemClock),
            authorizer: Arc::new(RoleAuthorizer { restrict_namespace_creation: false }),
            registry_host,
            importer: Arc::new(Importer::new(ImporterConfig::default())),
            // An ephemeral key until `with_sealer` gives the persistent one (tests keep this).
            sealer: Sealer::from_key(ephemeral_key()),
            changes: Arc::new(tokio::sync::watch::channel(0).0),
            bookmark_interval: std::time::Duration::from_secs(30),
            import_queue: None,
            webhook_guard: Arc::new(crate::egress::RegistryGuard::for_webhooks(&[])),
            delivery_wakeup: Arc::new(tokio::sync::Notify::new()),
            delivery_attempts: Arc::new(tokio::sync::watch::channel(0).0),
            clock_moves: Arc::new(tokio::sync::watch::channel(0).0),
            import_jobs: Arc::new(jobs::ImportJobs::default()),
            prune_jobs: Arc::new(jobs::PruneJobs::default()),
            watch_hub: Arc::new(std::sync::OnceLock::new()),
            audit_writer: Arc::new(std::sync::OnceLock::new()),
            watches: Arc::new(watch::WatchControl::new(WatchLimits::default())),
            accounts: Arc::new(access::AccountsSwitch::default()),
            anonymous_read: false,
            session_ttl: AccessConfig::default().session_ttl,
            sign_ins: Arc::new(access::SignInThrottle::default()),
            setup: Arc::new(access::Setup::default()),
            loopback_only: AccessConfig::default().loopback_only,
            audit_refusals: Arc::new(audit::RefusalBudget::default()),
            anonymous_refusals: Arc::new(audit::AnonymousRefusals::default()),
            password_hashing: Arc::new(access::PasswordHashing::for_this_machine()),
            registry: Arc::new(registry::RegistryState::new(RegistryConfig::default())),
            prune_pulled_within: Some(std::time::Duration::from_secs(7 * 86_400)),
            draining: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    pub fn session_ttl_secs(&self) -> i64 {
        self.session_ttl.as_secs() as i64
    }

    pub fn with_access(mut self, cfg: AccessConfig) -> Self {
        self.authorizer = Arc::new(RoleAuthorizer { restrict_namespace_creation: cfg.restrict_namespace_creation });
        self.anonymous_read = cfg.anonymous_read;
        self.session_ttl = cfg.session_ttl;
        self.loopback_only = cfg.loopback_only;
        self
    }

    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    pub(crate) fn with_import_queue(mut self, tx: tokio::sync::mpsc::UnboundedSender<(String, String)>) -> Self {
        self.import_queue = Some(tx);
        self
    }

    /// Tells the import controller about a committed stream that has tags to import.
    pub(crate) fn notify_imports(&self, stream: &app::model::ImageStream) {
        if let Some(q) = &self.import_queue
            && !app::domain::imports::tags_needing_import(stream).is_empty()
        {
            let _ = q.send((stream.namespace().to_string(), stream.metadata.name.clone()));
        }
    }

    pub fn with_importer(mut self, config: ImporterConfig) -> Self {
        self.importer = Arc::new(Importer::new(config));
        self
    }

    /// The integrated registry's settings (`serve` gives the blob store under `--data-dir`;
    /// the default keeps blobs in memory).
    pub fn with_registry(mut self, config: RegistryConfig) -> Self {
        self.registry = Arc::new(registry::RegistryState::new(config));
        self
    }

    /// Pruning's "pulled recently" window (`--prune-pulled-within`; `None` turns the rule off).
    pub fn with_prune_pulled_within(mut self, within: Option<std::time::Duration>) -> Self {
        self.prune_pulled_within = within;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A service on the database in `data_dir` (created and migrated if needed), with default
    /// settings: what `serve` starts from (the store stays behind the service).
    pub async fn open(data_dir: &std::path::Path, registry_host: String) -> Result<Service, sqlx::Error> {
        Ok(Service::new(Store::open(data_dir).await?, registry_host))
    }

    /// Whether the database answers (readiness).
    pub async fn ready(&self) -> bool {
        self.store.ping().await
    }

    /// "now" as stored and sent: RFC 3339 UTC to the second, like Kubernetes.
    pub(crate) fn now_rfc3339(&self) -> String {
        self.clock.now().to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    /// How often an idle watch with bookmarks gets one.
    pub fn bookmark_interval(&self) -> std::time::Duration {
        self.bookmark_interval
    }

    pub fn with_bookmark_interval(mut self, d: std::time::Duration) -> Self {
        self.bookmark_interval = d;
        self
    }

    /// Wakes the watchers (and the webhook dispatcher) after a commit.
    pub(crate) fn announce(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
        self.wake_deliveries();
    }

    /// Webhook targets allowed like registries are (`--allowed-webhook-target` patterns).
    pub fn with_webhook_targets(mut self, entries: &[String]) -> Self {
        self.webhook_guard = Arc::new(crate::egress::RegistryGuard::for_webhooks(entries));
        self
    }

    /// A receiver that changes after every commit.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The service clock's "now".
    pub fn clock_now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The permission check of an operation (noted for the request's audit entry).
    pub(crate) fn allow(&self, caller: &Caller, verb: Verb, resource: &str, namespace: Option<&str>) -> Result<(), ApiError> {
        caller.note(verb, resource, namespace);
        self.authorizer.check(caller, verb, resource, namespace)
    }

    /// Whether the caller may do something (to show or hide a control); not an operation.
    pub fn may(&self, caller: &Caller, verb: Verb, resource: &str, namespace: Option<&str>) -> bool {
        self.authorizer.check(caller, verb, resource, namespace).is_ok()
    }

    pub(crate) async fn list_meta(&self, continue_token: Option<String>) -> Result<ListMeta, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let rv = store::current_resource_version(&mut conn).await.map_err(db)?;
        Ok(ListMeta { resource_version: Some(rv.to_string()), continue_token })
    }
}

/// Owns a task the service started for itself (the watch hub's reader); dropping it stops the
/// task. Background work of `serve` is the workers' (`crate::workers`), with their own guards.
pub(crate) struct TaskGuard(tokio::task::JoinHandle<()>);

impl TaskGuard {
    pub(crate) fn spawn(task: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        TaskGuard(tokio::spawn(task))
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A database fault is the server's problem: 500, logged, never shown in detail.
pub(crate) fn db(e: sqlx::Error) -> ApiError {
    tracing::error!(error = %e, "database error");
    ApiError::internal("the database failed to answer")
}

/// A caller-supplied value as a log line may carry it: at most 64 characters, then "…" (a user
/// name or path may be megabytes; the log must not grow with it).
pub(crate) fn for_log(value: &str) -> std::borrow::Cow<'_, str> {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &value[..cut]).into(),
        None => value.into(),
    }
}

/// Clamps a requested page size.
pub(crate) fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None | Some(0) => Ok(DEFAULT_PAGE),
        Some(n) if n < 0 => Err(ApiError::bad_request(format!("limit: Invalid value: {n}: must be greater than or equal to 0"))),
        Some(n) => Ok(n.min(MAX_PAGE)),
    }
}

/// An id for a background job of the web UI.
pub fn new_job_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub(crate) fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn ephemeral_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    // Without randomness the key is still unique per process start; nothing persists with it.
    if getrandom::fill(&mut k).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
        k[..16].copy_from_slice(&t.to_le_bytes());
    }
    k
}
