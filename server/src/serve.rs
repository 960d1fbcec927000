//! The composition root of `imagestreams serve`: opens the store, loads the sealing key, builds
//! the service, starts the background workers (each behind its guard), mounts the router and
//! runs the HTTP listener until Ctrl-C or SIGTERM. Nothing else wires parts together.
//!
//! Must not: hold a rule (that is `app::domain`, enforced by `service`) or name the store (the
//! service opens it).

use crate::importer::ImporterConfig;
use crate::sealing::Sealer;
use crate::service::{AccessConfig, Bootstrap, Service};
use crate::workers::{DeliveryConfig, RetentionConfig, ScheduleConfig};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on (`host:0`: a free port the system picks; see --address-file).
    #[arg(long, env = "IMAGESTREAMS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: String,
    /// Once the server accepts requests, write the address it listens on (`127.0.0.1:41234`,
    /// one line) to this file, replacing it whole. With `--listen 127.0.0.1:0` this is how a
    /// supervisor or a test harness learns the port without racing another process for it.
    #[arg(long, env = "IMAGESTREAMS_ADDRESS_FILE")]
    pub address_file: Option<PathBuf>,
    /// Where the SQLite database and the sealing key live.
    #[arg(long, env = "IMAGESTREAMS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The address people and clients use to reach the portal, e.g. https://portal.example.com
    /// (default: http://<--listen>). Requests whose Host header names another host are refused
    /// (421), which closes DNS rebinding; session cookies are Secure when it is https.
    #[arg(long, env = "IMAGESTREAMS_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Integrated registry host written into status.dockerImageRepository (default: --listen).
    #[arg(long, env = "IMAGESTREAMS_REGISTRY_HOST")]
    pub registry_host: Option<String>,
    /// Registries reached without TLS verification, falling back to plain HTTP.
    #[arg(long, env = "IMAGESTREAMS_INSECURE_REGISTRY", value_delimiter = ',')]
    pub insecure_registry: Vec<String>,
    /// Registries imports may reach (host[:port] globs; none given: any public registry).
    /// Loopback and private addresses need an entry that names them without wildcards.
    #[arg(long, env = "IMAGESTREAMS_ALLOWED_REGISTRY", value_delimiter = ',')]
    pub allowed_registry: Vec<String>,
    /// Add sample namespaces and streams.
    #[arg(long, env = "IMAGESTREAMS_DEMO")]
    pub demo: bool,
    /// At most this many tags of one repository per `--all` import (-1: no limit).
    #[arg(long, env = "IMAGESTREAMS_MAX_IMAGES_BULK_IMPORTED_PER_REPOSITORY", default_value_t = 50, allow_hyphen_values = true)]
    pub max_images_bulk_imported_per_repository: i64,
    /// How often scheduled tags are re-imported (e.g. 15m, 30s, 1h).
    #[arg(long, env = "IMAGESTREAMS_SCHEDULED_IMPORT_INTERVAL", default_value = "15m", value_parser = parse_duration)]
    pub scheduled_import_interval: std::time::Duration,
    /// Rate limit of scheduled imports (streams per minute).
    #[arg(long, env = "IMAGESTREAMS_MAX_SCHEDULED_IMPORTS_PER_MINUTE", default_value_t = 60)]
    pub max_scheduled_imports_per_minute: i64,
    /// Watch events older than this are trimmed (watches from before them get 410 Gone).
    #[arg(long, env = "IMAGESTREAMS_WATCH_EVENT_MAX_AGE", default_value = "1h", value_parser = parse_duration)]
    pub watch_event_max_age: std::time::Duration,
    /// At most this many watch events are kept.
    #[arg(long, env = "IMAGESTREAMS_WATCH_EVENT_MAX_COUNT", default_value_t = 100_000)]
    pub watch_event_max_count: i64,
    /// A watch (and a live page's stream) ends cleanly after this long; clients resume from
    /// their last resourceVersion.
    #[arg(long, env = "IMAGESTREAMS_WATCH_MAX_DURATION", default_value = "30m", value_parser = parse_duration)]
    pub watch_max_duration: std::time::Duration,
    /// Open watches and live streams one client address may hold at once (429 beyond).
    #[arg(long, env = "IMAGESTREAMS_MAX_WATCHES_PER_CLIENT", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_watches_per_client: u32,
    /// Registry lookups one import runs at the same time.
    #[arg(long, env = "IMAGESTREAMS_IMPORT_CONCURRENCY", default_value_t = 16)]
    pub import_concurrency: usize,
    /// Where webhooks may be sent (host[:port] globs; none given: any public address).
    /// Loopback and private addresses need an entry that names them without wildcards.
    #[arg(long, env = "IMAGESTREAMS_ALLOWED_WEBHOOK_TARGET", value_delimiter = ',')]
    pub allowed_webhook_target: Vec<String>,
    /// Deadline of one webhook delivery attempt.
    #[arg(long, env = "IMAGESTREAMS_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub webhook_timeout: std::time::Duration,
    /// Attempts per delivery before it is marked Failed.
    #[arg(long, env = "IMAGESTREAMS_WEBHOOK_MAX_ATTEMPTS", default_value_t = 8)]
    pub webhook_max_attempts: i64,
    /// The first retry's wait; each next one doubles (with jitter, at most 10m).
    #[arg(long, env = "IMAGESTREAMS_WEBHOOK_RETRY_BASE", default_value = "2s", value_parser = parse_duration)]
    pub webhook_retry_base: std::time::Duration,
    /// A file holding the password of the administrator, created (or, if a user of that name
    /// exists, promoted) at start whenever no administrator exists. Without one, a server on
    /// loopback is single-user until an administrator exists, and a server on any other address
    /// refuses every change; either prints a one-time setup token to create the first
    /// administrator. Or IMAGESTREAMS_ADMIN_PASSWORD.
    #[arg(long, env = "IMAGESTREAMS_ADMIN_PASSWORD_FILE")]
    pub admin_password_file: Option<PathBuf>,
    /// The name of the first administrator.
    #[arg(long, env = "IMAGESTREAMS_ADMIN_USER", default_value = "admin")]
    pub admin_user: String,
    /// Everything readable without signing in (kiosks, wall screens).
    #[arg(long, env = "IMAGESTREAMS_ANONYMOUS_READ")]
    pub anonymous_read: bool,
    /// Only server administrators create namespaces (else any signed-in user, who becomes its admin).
    #[arg(long, env = "IMAGESTREAMS_RESTRICT_NAMESPACE_CREATION")]
    pub restrict_namespace_creation: bool,
    /// How long a sign-in lasts.
    #[arg(long, env = "IMAGESTREAMS_SESSION_TTL", default_value = "12h", value_parser = parse_duration)]
    pub session_ttl: std::time::Duration,
    /// Audit log entries older than this are purged.
    #[arg(long, env = "IMAGESTREAMS_AUDIT_MAX_AGE", default_value = "2160h", value_parser = parse_duration)]
    pub audit_max_age: std::time::Duration,
    /// Deadline of one registry operation during imports (e.g. 30s).
    #[arg(long, env = "IMAGESTREAMS_REGISTRY_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub registry_timeout: std::time::Duration,
    // Import admission (issue 13, point 7): how many imports run at once, and each namespace's share.
    /// Import requests (API, web form, controllers) running at once, server-wide.
    #[arg(long, env = "IMAGESTREAMS_MAX_CONCURRENT_IMPORTS", default_value_t = 8)]
    pub max_concurrent_imports: usize,
    /// Import requests of one namespace running or waiting at once (its share of the above).
    #[arg(long, env = "IMAGESTREAMS_MAX_CONCURRENT_IMPORTS_PER_NAMESPACE", default_value_t = 2)]
    pub max_concurrent_imports_per_namespace: usize,
    /// How long a client's import waits for a free slot before it is refused with 429.
    #[arg(long, env = "IMAGESTREAMS_IMPORT_QUEUE_WAIT", default_value = "10s", value_parser = parse_duration)]
    pub import_queue_wait: std::time::Duration,

    // Connection limits (issue 13 point 7, review M2).
    /// How long a client has to send a whole request head, counted from when the connection
    /// waits for one: on a new connection and between the requests of a kept-alive one (so it is
    /// also the idle keep-alive timeout). Slow or half-open requests are closed after it.
    #[arg(long, env = "IMAGESTREAMS_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub header_read_timeout: std::time::Duration,
    /// Open connections at most; beyond, new ones wait in the kernel's backlog until one ends.
    #[arg(long, env = "IMAGESTREAMS_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Open connections of one client (an IPv4 address, an IPv6 /64) at most; beyond, a new one
    /// is closed at once. Behind a reverse proxy every connection comes from the proxy: raise it
    /// to --max-connections there.
    #[arg(long, env = "IMAGESTREAMS_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 128, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_client: u32,

    // The integrated registry (issue 15).
    /// Where the registry keeps blobs and manifests: `file` (default: <--data-dir>/blobs) or
    /// `s3://bucket[/prefix]` (credentials and endpoint from AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP).
    #[arg(long, env = "IMAGESTREAMS_BLOB_STORE", default_value = "file")]
    pub blob_store: String,
    /// Mirror what is pulled through the registry into the blob store (`--registry-mirror=false`
    /// streams it without keeping it).
    #[arg(long, env = "IMAGESTREAMS_REGISTRY_MIRROR", default_value_t = true, action = clap::ArgAction::Set)]
    pub registry_mirror: bool,
    /// A registry upload untouched for this long is dropped.
    #[arg(long, env = "IMAGESTREAMS_UPLOAD_TTL", default_value = "1h", value_parser = parse_duration)]
    pub upload_ttl: std::time::Duration,
    /// Largest blob the registry takes in a push or pulls through, in bytes.
    #[arg(long, env = "IMAGESTREAMS_MAX_BLOB_SIZE", default_value_t = 16 << 30)]
    pub max_blob_size: u64,
    /// Pruning keeps images pulled through the integrated registry within this long.
    #[arg(long, env = "IMAGESTREAMS_PRUNE_PULLED_WITHIN", default_value = "168h", value_parser = parse_duration)]
    pub prune_pulled_within: std::time::Duration,
    /// How often each namespace's retention policy runs (a real prune of its history), counted
    /// from its last scheduled run (or, before one, from when the policy was saved). `0` turns the
    /// schedule off (policies then run only when asked: "Run now").
    #[arg(long, env = "IMAGESTREAMS_RETENTION_INTERVAL", default_value = "24h", value_parser = parse_duration_or_off)]
    pub retention_interval: std::time::Duration,
    /// How often the registry's blob store is garbage collected (online: pushes and pulls go
    /// on). `0` turns the schedule off (POST /api/v1/registry/garbage-collection still runs it).
    #[arg(long, env = "IMAGESTREAMS_GC_INTERVAL", default_value = "1h", value_parser = parse_duration_or_off)]
    pub gc_interval: std::time::Duration,
    /// Garbage collection spares blobs uploaded, mounted or confirmed to a client less than this
    /// long ago: the time a client has between pushing a blob and pushing the manifest naming it.
    #[arg(long, env = "IMAGESTREAMS_GC_GRACE", default_value = "1h", value_parser = parse_duration)]
    pub gc_grace: std::time::Duration,

    // Operations (issue 18).
    /// Log lines as `text` (for people) or `json` (one object per line, for log shippers). Every
    /// line of a request carries its request id; RUST_LOG picks what is logged (default info).
    #[arg(long, env = "IMAGESTREAMS_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Also serve /metrics on this address, without credentials (on --listen it is for server
    /// administrators). Bind it where only the monitoring system reaches, e.g. 127.0.0.1:9100.
    #[arg(long, env = "IMAGESTREAMS_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// After SIGTERM (or Ctrl-C), keep accepting for this long while /readyz answers 503, so a
    /// load balancer takes the server out of rotation before it stops accepting (`0`: stop at once).
    #[arg(long, env = "IMAGESTREAMS_SHUTDOWN_DELAY", default_value = "0", value_parser = parse_duration_or_off)]
    pub shutdown_delay: std::time::Duration,
    /// Once it stops accepting, how long the server lets requests in flight finish before it
    /// exits anyway (watches and live pages end at once, with a bookmark to resume from).
    #[arg(long, env = "IMAGESTREAMS_SHUTDOWN_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub shutdown_timeout: std::time::Duration,
}

/// Starts the log output `--log-format` asks for, on standard error (standard output stays the
/// commands'), once per process (a second call is ignored).
pub fn init_logs(format: &str) {
    let filter = || tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into());
    let _ = match format {
        // Each line carries the fields of every span it is in (the request's id, the stream or
        // webhook a background task acts on).
        "json" => tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(std::io::stderr)
            .with_env_filter(filter())
            .try_init(),
        // Colours only for a terminal: a file or the journal gets plain text.
        _ => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_env_filter(filter())
            .try_init(),
    };
}

/// A duration flag where `0` (or `off`) means "never" (a zero duration).
fn parse_duration_or_off(s: &str) -> Result<std::time::Duration, String> {
    match s.trim() {
        "0" | "off" => Ok(std::time::Duration::ZERO),
        other => parse_duration(other),
    }
}

/// A duration flag: `250ms`, `90s`, `15m`, `1h30m` (humantime's units), or plain seconds; never
/// zero.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let with_unit = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { format!("{s}s") } else { s.to_string() };
    let d = humantime::parse_duration(&with_unit).map_err(|e| format!("invalid duration {s:?}: {e} (use ms, s, m or h, e.g. 15m)"))?;
    if d.is_zero() {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    Ok(d)
}

/// `imagestreams serve`.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logs(&args.log_format);
    // Bound first, so that the address the system picked for `host:0` is the one every
    // default below names (the registry host, the Host headers accepted).
    let listener = tokio::net::TcpListener::bind(&args.listen).await.map_err(|e| anyhow::anyhow!("--listen {}: {e}", args.listen))?;
    let local = listener.local_addr()?;
    let registry_host = args.registry_host.clone().unwrap_or_else(|| local.to_string());
    let importer = ImporterConfig {
        insecure_registries: args.insecure_registry.clone(),
        allowed_registries: args.allowed_registry.clone(),
        max_images_bulk: args.max_images_bulk_imported_per_repository,
        timeout: args.registry_timeout,
        concurrency: args.import_concurrency.max(1),
        max_concurrent_imports: args.max_concurrent_imports.max(1),
        max_concurrent_imports_per_namespace: args.max_concurrent_imports_per_namespace.max(1),
        import_queue_wait: args.import_queue_wait,
    };
    // Opening the service creates the data directory; the sealing key is kept in it.
    let service = Service::open(&args.data_dir, registry_host).await?;
    let sealer = Sealer::load_or_create(&args.data_dir).map_err(|e| anyhow::anyhow!(e))?;
    let public_url = match &args.public_url {
        Some(u) => {
            let parsed = reqwest::Url::parse(u).map_err(|e| anyhow::anyhow!("--public-url {u:?}: {e}"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                anyhow::bail!("--public-url {u:?}: must be an http or https URL with a host, e.g. https://portal.example.com");
            }
            parsed.to_string()
        }
        None => format!("http://{local}/"),
    };
    let access = AccessConfig {
        anonymous_read: args.anonymous_read,
        restrict_namespace_creation: args.restrict_namespace_creation,
        session_ttl: args.session_ttl,
        loopback_only: local.ip().is_loopback(),
    };
    let blobs = blob_store(&args.blob_store, &args.data_dir)?;
    tracing::info!("registry blobs: {}", blobs.description());
    let registry = crate::service::RegistryConfig {
        mirror: args.registry_mirror,
        blobs,
        spool_dir: args.data_dir.join("spool"),
        upload_ttl: args.upload_ttl,
        max_blob_bytes: args.max_blob_size,
        realm: args.public_url.as_ref().map(|_| format!("{}v2/token", public_url)),
        gc_grace: args.gc_grace,
        ..Default::default()
    };
    // Spooled uploads and downloads do not survive a restart (clients start them again).
    let _ = std::fs::remove_dir_all(args.data_dir.join("spool"));
    let service = service
        .with_importer(importer)
        .with_sealer(sealer)
        .with_webhook_targets(&args.allowed_webhook_target)
        .with_access(access)
        .with_registry(registry)
        .with_prune_pulled_within(Some(args.prune_pulled_within));
    let service = service.with_watch_limits(crate::service::WatchLimits {
        max_duration: args.watch_max_duration,
        max_per_client: args.max_watches_per_client as usize,
        ..crate::service::WatchLimits::default()
    });
    crate::demo::ensure_default_namespace(&service).await?;
    bootstrap_admin(&service, &args, local.ip().is_loopback()).await?;
    let workers = crate::workers::start(
        service,
        crate::workers::WorkerConfig {
            schedule: Some(ScheduleConfig {
                interval: args.scheduled_import_interval,
                max_per_minute: args.max_scheduled_imports_per_minute.max(1),
            }),
            delivery: DeliveryConfig {
                timeout: args.webhook_timeout,
                max_attempts: args.webhook_max_attempts.max(1),
                backoff_base: args.webhook_retry_base,
                ..Default::default()
            },
            retention: RetentionConfig {
                watch_event_max_age: args.watch_event_max_age,
                watch_event_max_count: args.watch_event_max_count,
                audit_max_age: args.audit_max_age,
            },
            retention_policies: (!args.retention_interval.is_zero())
                .then_some(crate::workers::RetentionPolicyConfig { interval: args.retention_interval }),
            gc: (!args.gc_interval.is_zero()).then_some(crate::workers::GcConfig { interval: args.gc_interval }),
        },
    );
    let service = workers.service().clone();
    if args.demo {
        crate::demo::load(&service).await?;
    }
    // cargo-leptos compiles the site settings in; a plain `cargo build` does not, so fall back
    // to the names in Cargo.toml's [[workspace.metadata.leptos]].
    let conf = leptos::prelude::get_configuration(None)?;
    let mut options = conf.leptos_options;
    if options.output_name.is_empty() {
        options.output_name = "portal".into();
    }
    options.site_addr = local;
    let local_host = local.to_string();
    let edge =
        crate::http::EdgeConfig::new([public_url.as_str(), args.listen.as_str(), local_host.as_str(), registry_host_flag(&args).as_str()])
            .with_https(public_url.starts_with("https://"));
    let app = crate::http::ui::router(service.clone(), options, edge);
    tracing::info!("imagestreams listening on http://{local} (public URL {public_url})");
    let limits = crate::http::listener::ListenerConfig {
        header_read_timeout: args.header_read_timeout,
        max_connections: args.max_connections as usize,
        max_connections_per_client: args.max_connections_per_client as usize,
        shutdown_timeout: args.shutdown_timeout,
        body_timeouts: Default::default(),
    };
    let metrics_server = match &args.metrics_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("--metrics-listen {addr}: {e}"))?;
            tracing::info!("metrics on http://{}/metrics (no credentials)", l.local_addr()?);
            let router = crate::http::metrics_router(service.clone());
            Some(crate::service::TaskGuard::spawn(async move {
                if let Err(e) = axum::serve(l, router).await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            }))
        }
        None => None,
    };
    let draining = service.clone();
    let delay = args.shutdown_delay;
    let shutdown = async move {
        shutdown_signal().await;
        // Not ready from now on; watches and live pages end with their resume point.
        draining.start_draining();
        tracing::info!(delay_ms = delay.as_millis() as u64, "shutting down: /readyz answers 503, watches end with a bookmark");
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        tracing::info!("stopped accepting; letting requests in flight finish");
    };
    let stopped_accepting = std::sync::Arc::new(std::sync::OnceLock::new());
    let mark = stopped_accepting.clone();
    let shutdown = async move {
        shutdown.await;
        let _ = mark.set(tokio::time::Instant::now());
    };
    if let Some(file) = &args.address_file {
        write_address_file(file, &local).map_err(|e| anyhow::anyhow!("--address-file {}: {e}", file.display()))?;
    }
    crate::http::listener::serve_http1(listener, app, limits, shutdown).await;
    // The workers stop after the last request, within what is left of --shutdown-timeout. What
    // they leave is consistent by construction: webhook attempts in flight finish and are
    // recorded (one cut at the timeout was not recorded, so its delivery is still queued and is
    // sent again, same event id); an import commits in one transaction at its end (one cut short
    // wrote nothing and is found again at the next start).
    let left = match stopped_accepting.get() {
        Some(t) => args.shutdown_timeout.saturating_sub(t.elapsed()),
        None => std::time::Duration::ZERO,
    };
    workers.stop(left).await;
    drop(metrics_server);
    tracing::info!("stopped");
    Ok(())
}

/// The registry's blob store of `--blob-store` (`file`: `<data_dir>/blobs`).
pub fn blob_store(flag: &str, data_dir: &std::path::Path) -> anyhow::Result<crate::blobs::BlobStore> {
    match flag {
        "file" | "" => crate::blobs::BlobStore::filesystem(&data_dir.join("blobs")),
        url if url.starts_with("s3://") => crate::blobs::BlobStore::s3(url),
        other => anyhow::bail!("--blob-store {other:?}: use file or s3://bucket[/prefix]"),
    }
    .map_err(|e| anyhow::anyhow!("--blob-store: {e}"))
}

/// Writes `addr` and a newline to `file` through a temporary file and a rename, so a reader
/// polling for it sees nothing or the whole address.
fn write_address_file(file: &std::path::Path, addr: &std::net::SocketAddr) -> std::io::Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, format!("{addr}\n"))?;
    std::fs::rename(&tmp, file)
}

fn registry_host_flag(args: &ServeArgs) -> String {
    args.registry_host.clone().unwrap_or_default()
}

/// Makes sure the server can get an administrator (see `service::access::setup`): from
/// `--admin-password-file` or `IMAGESTREAMS_ADMIN_PASSWORD` when none exists (and says what it
/// did), else a one-time setup token in the log while none exists.
async fn bootstrap_admin(service: &Service, args: &ServeArgs, loopback: bool) -> anyhow::Result<()> {
    let password = match (&args.admin_password_file, std::env::var("IMAGESTREAMS_ADMIN_PASSWORD")) {
        (Some(file), _) => Some(
            std::fs::read_to_string(file)
                .map_err(|e| anyhow::anyhow!("reading --admin-password-file {}: {e}", file.display()))?
                .trim_end_matches(['\n', '\r'])
                .to_string(),
        ),
        (None, Ok(p)) if !p.is_empty() => Some(p),
        _ => None,
    };
    let fail = |e: app::model::ApiError| anyhow::anyhow!("{}", e.message());
    if let Some(p) = &password {
        match service.bootstrap_admin(&args.admin_user, p).await.map_err(fail)? {
            Bootstrap::Created => {
                tracing::info!(user = %args.admin_user, "created the administrator from the admin password; accounts are on")
            }
            Bootstrap::Promoted => tracing::warn!(
                user = %args.admin_user,
                "no administrator existed: made the existing user the administrator, with the admin password"
            ),
            Bootstrap::AdministratorExists => {
                tracing::info!("an administrator exists already; the admin password was not used")
            }
        }
        return Ok(());
    }
    if let Some(token) = service.issue_setup_token().await.map_err(fail)? {
        let mode = if loopback {
            "until then the server is single-user: clients on this machine act without signing in"
        } else {
            "until then nobody may change anything"
        };
        tracing::warn!(
            "no administrator exists; {mode}. Create one with this one-time setup token: \
             curl -X POST -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \
             -d '{{\"name\":\"admin\",\"password\":\"…\",\"admin\":true}}' <public URL>/api/v1/users \
             (or restart with --admin-password-file FILE)"
        );
    }
    Ok(())
}

/// Ctrl-C or SIGTERM (what test harnesses and service managers send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
