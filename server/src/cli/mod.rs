//! The command line: `serve` runs the portal; every other command is an HTTP client that mirrors
//! the `oc` command of the same name (flags, output, error messages). Every flag also reads
//! `IMAGESTREAMS_<FLAG>`.

mod accounts;
mod client;
mod commands;
mod webhooks;

use crate::importer::ImporterConfig;
use crate::importer::controller::ScheduleConfig;
use crate::service::Service;
use crate::store::Store;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "imagestreams", version, about = "Container image streams: portal, API and CLI")]
pub struct Cli {
    /// The portal to talk to.
    #[arg(long, global = true, env = "IMAGESTREAMS_SERVER", default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// The namespace (project) to work in.
    #[arg(short = 'n', long, global = true, env = "IMAGESTREAMS_NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// Bearer token sent to the server.
    #[arg(long, global = true, env = "IMAGESTREAMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the portal (UI, API) on one port.
    Serve(Box<ServeArgs>),
    /// Create a resource.
    Create {
        #[command(subcommand)]
        what: CreateWhat,
    },
    /// Tag existing images into image streams (oc tag).
    Tag(TagFlags),
    /// Import images from a container registry (oc import-image).
    #[command(name = "import-image")]
    ImportImage(ImportImageArgs),
    /// Display resources: is, istag, isimage, image.
    Get(GetArgs),
    /// Show details of an image stream.
    Describe {
        /// Resource type: is / imagestream.
        kind: String,
        name: String,
    },
    /// Write a synthetic dataset for the UI benchmark (not for production data directories).
    #[command(name = "bench-data", hide = true)]
    BenchData {
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        streams: usize,
        #[arg(long, default_value_t = 10)]
        tags: usize,
        #[arg(long, default_value_t = 10)]
        history: usize,
        /// History items of the single tag of `timeline/long`.
        #[arg(long, default_value_t = 1000)]
        timeline: usize,
    },
    /// Sign in and keep an API token for this server (in ~/.config/imagestreams/tokens.json).
    Login {
        #[arg(short = 'u', long, env = "IMAGESTREAMS_USERNAME")]
        username: String,
        /// Read from standard input when not given.
        #[arg(short = 'p', long, env = "IMAGESTREAMS_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Revoke and forget the token `login` kept for this server.
    Logout,
    /// Print the signed-in user's name.
    Whoami,
    /// Change your password.
    Passwd {
        #[arg(long, env = "IMAGESTREAMS_CURRENT_PASSWORD", hide_env_values = true)]
        current: String,
        #[arg(long, env = "IMAGESTREAMS_NEW_PASSWORD", hide_env_values = true)]
        new: String,
    },
    /// Manage roles in a namespace (oc policy).
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Set a namespace's visibility: public (readable without signing in) or private.
    Set {
        #[command(subcommand)]
        what: SetWhat,
    },
    /// Image-change webhooks: send a test event, show the delivery log, redeliver.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Watch benchmark client: N watchers on one server, then tag changes (not for production).
    #[command(name = "bench-watch", hide = true)]
    BenchWatch {
        /// The server's process id (its memory is read from /proc).
        #[arg(long)]
        pid: u32,
        #[arg(long, default_value_t = 1000)]
        watchers: usize,
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Delete an image stream, an image stream tag or a webhook.
    Delete {
        /// Resource type: is / istag / webhook.
        kind: String,
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum PolicyAction {
    /// Give USER the ROLE (viewer, editor, admin) in the namespace.
    #[command(name = "add-role-to-user")]
    AddRoleToUser { role: String, user: String },
    /// Take USER's ROLE in the namespace away.
    #[command(name = "remove-role-from-user")]
    RemoveRoleFromUser { role: String, user: String },
}

#[derive(Subcommand, Debug)]
pub enum SetWhat {
    /// public or private.
    Visibility { value: String },
}

#[derive(Subcommand, Debug)]
pub enum WebhookAction {
    /// Queue a test event (CloudEvents type io.imagestreams.webhook.test).
    Test { name: String },
    /// The delivery log, newest first.
    Deliveries {
        name: String,
        /// json for the full log with every attempt.
        #[arg(short = 'o', long = "output")]
        output: Option<String>,
    },
    /// Send a delivery's event again (same CloudEvent id) as a new delivery.
    Redeliver { name: String, id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum CreateWhat {
    /// Create a namespace.
    #[command(alias = "ns")]
    Namespace { name: String },
    /// Subscribe a URL to image changes of this namespace's tags.
    Webhook {
        name: String,
        /// Where events are POSTed (http:// or https://).
        #[arg(long, env = "IMAGESTREAMS_URL")]
        url: String,
        /// The signing secret (at least 16 characters); never shown again.
        #[arg(long, env = "IMAGESTREAMS_WEBHOOK_SECRET", hide_env_values = true)]
        secret: String,
        /// stream:tag, stream:* or *:* (repeat for more).
        #[arg(long = "tag", required = true)]
        tags: Vec<String>,
        /// ImageChanged, TagDeleted, ImportFailed (repeat; default ImageChanged).
        #[arg(long = "event")]
        events: Vec<String>,
    },
    /// Create a user (server administrators).
    User {
        name: String,
        #[arg(long, env = "IMAGESTREAMS_USER_PASSWORD", hide_env_values = true)]
        password: String,
        /// A server-wide administrator.
        #[arg(long)]
        admin: bool,
    },
    /// Create an API token for yourself; prints it (once).
    Token {
        name: String,
        /// Only this namespace (repeat for more); default: all of yours.
        #[arg(long = "namespace-scope")]
        namespaces: Vec<String>,
        /// At most this role: viewer, editor or admin.
        #[arg(long = "max-role")]
        max_role: Option<String>,
        /// Expires after this long (e.g. 720h).
        #[arg(long = "expires-in", value_parser = parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// Create registry credentials (oc create secret docker-registry).
    Secret {
        #[command(subcommand)]
        kind: SecretKind,
    },
}

#[derive(Subcommand, Debug)]
pub enum SecretKind {
    /// Credentials imports use for one registry.
    #[command(name = "docker-registry")]
    DockerRegistry {
        name: String,
        /// The registry, host[:port].
        #[arg(long = "docker-server", env = "IMAGESTREAMS_DOCKER_SERVER")]
        server: String,
        #[arg(long = "docker-username", env = "IMAGESTREAMS_DOCKER_USERNAME")]
        username: String,
        #[arg(long = "docker-password", env = "IMAGESTREAMS_DOCKER_PASSWORD", hide_env_values = true)]
        password: String,
    },
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "IMAGESTREAMS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: String,
    /// Where the SQLite database (and later the blob mirror) live.
    #[arg(long, env = "IMAGESTREAMS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
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
    /// A file holding the password of the first administrator (created when no user exists;
    /// until then accounts are off and everyone may do everything). Or IMAGESTREAMS_ADMIN_PASSWORD.
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
}

/// `250ms`, `90s`, `15m`, `1h`, or plain seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map(|i| s.split_at(i)).unwrap_or((s, "s"));
    let n: u64 = num.parse().map_err(|_| format!("invalid duration {s:?}: expected a number with ms, s, m or h"))?;
    let ms = match unit {
        "ms" => n,
        "s" | "" => n * 1000,
        "m" => n * 60_000,
        "h" => n * 3_600_000,
        _ => return Err(format!("invalid duration {s:?}: the unit must be ms, s, m or h")),
    };
    if ms == 0 {
        return Err(format!("invalid duration {s:?}: must be greater than zero"));
    }
    Ok(std::time::Duration::from_millis(ms))
}

#[derive(Args, Debug, Clone)]
pub struct TagFlags {
    /// SOURCE DEST... or, with -d, DEST...
    pub args: Vec<String>,
    /// Make the destination track the source tag (same stream).
    #[arg(long, env = "IMAGESTREAMS_ALIAS")]
    pub alias: bool,
    /// Never import: point at the source only.
    #[arg(long, env = "IMAGESTREAMS_REFERENCE")]
    pub reference: bool,
    /// source or local.
    #[arg(long = "reference-policy", env = "IMAGESTREAMS_REFERENCE_POLICY")]
    pub reference_policy: Option<String>,
    /// Re-import the source periodically.
    #[arg(long, env = "IMAGESTREAMS_SCHEDULED")]
    pub scheduled: bool,
    /// Allow HTTP and unverified HTTPS for the import.
    #[arg(long, env = "IMAGESTREAMS_INSECURE")]
    pub insecure: bool,
    /// Legacy or PreserveOriginal.
    #[arg(long = "import-mode", env = "IMAGESTREAMS_IMPORT_MODE")]
    pub import_mode: Option<String>,
    /// The kind of SOURCE: docker, istag, isimage (and their long names).
    #[arg(long = "source", env = "IMAGESTREAMS_SOURCE")]
    pub source: Option<String>,
    /// Delete the given tags.
    #[arg(short = 'd', long = "delete")]
    pub delete: bool,
}

#[derive(Args, Debug, Clone)]
pub struct ImportImageArgs {
    /// NAME[:TAG] of the stream (and tag) to import into.
    pub name: String,
    /// The image to import (default: NAME as written).
    #[arg(long, env = "IMAGESTREAMS_FROM")]
    pub from: Option<String>,
    /// Create the stream if it does not exist.
    #[arg(long, env = "IMAGESTREAMS_CONFIRM")]
    pub confirm: bool,
    /// Import every tag of the repository.
    #[arg(long, env = "IMAGESTREAMS_ALL")]
    pub all: bool,
    /// Re-import periodically.
    #[arg(long, env = "IMAGESTREAMS_SCHEDULED")]
    pub scheduled: bool,
    /// Allow HTTP and unverified HTTPS.
    #[arg(long, env = "IMAGESTREAMS_INSECURE")]
    pub insecure: bool,
    /// source or local.
    #[arg(long = "reference-policy", env = "IMAGESTREAMS_REFERENCE_POLICY")]
    pub reference_policy: Option<String>,
    /// Legacy or PreserveOriginal.
    #[arg(long = "import-mode", env = "IMAGESTREAMS_IMPORT_MODE")]
    pub import_mode: Option<String>,
    /// Look up only; change nothing.
    #[arg(long = "dry-run", env = "IMAGESTREAMS_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Args, Debug, Clone)]
pub struct GetArgs {
    /// is, istag, isimage or image.
    pub kind: String,
    pub name: Option<String>,
    /// json, yaml, wide or name.
    #[arg(short = 'o', long = "output", env = "IMAGESTREAMS_OUTPUT")]
    pub output: Option<String>,
    /// Drop server-populated metadata.
    #[arg(long, env = "IMAGESTREAMS_EXPORT")]
    pub export: bool,
    /// After listing, watch for changes and print them as they come (image streams).
    #[arg(short = 'w', long = "watch", env = "IMAGESTREAMS_WATCH")]
    pub watch: bool,
    /// Across namespaces (the server's audit log).
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
}

/// Runs the command line; returns the process exit code.
pub async fn run() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(*args).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        Command::BenchData { data_dir, streams, tags, history, timeline } => {
            match crate::benchdata::generate(&data_dir, streams, tags, history, timeline).await {
                Ok(n) => {
                    println!("wrote {streams} streams, {} tags, {n} history items", streams * tags + usize::from(timeline > 0));
                    0
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    1
                }
            }
        }
        Command::BenchWatch { pid, watchers, rounds } => match crate::benchwatch::run(&cli.server, pid, watchers, rounds).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        ref other => {
            // An explicit --token wins; else the token `login` kept for this server.
            let token = cli.token.clone().or_else(|| accounts::saved_token(&cli.server));
            let client = client::Client::new(&cli.server, token.as_deref());
            let ctx = commands::Context { client, namespace: cli.namespace.clone() };
            let mut out = std::io::stdout();
            let result = match other {
                Command::Create { what: CreateWhat::Namespace { name } } => commands::create_namespace(&ctx, name, &mut out).await,
                Command::Create { what: CreateWhat::Secret { kind: SecretKind::DockerRegistry { name, server, username, password } } } => {
                    commands::create_registry_secret(&ctx, name, server, username, password, &mut out).await
                }
                Command::Create { what: CreateWhat::Webhook { name, url, secret, tags, events } } => {
                    webhooks::create(&ctx, name, url, secret, tags, events, &mut out).await
                }
                Command::Webhook { action: WebhookAction::Test { name } } => webhooks::test(&ctx, name, &mut out).await,
                Command::Webhook { action: WebhookAction::Deliveries { name, output } } => {
                    webhooks::deliveries(&ctx, name, output.as_deref(), &mut out).await
                }
                Command::Webhook { action: WebhookAction::Redeliver { name, id } } => webhooks::redeliver(&ctx, name, *id, &mut out).await,
                Command::Login { username, password } => {
                    let password = match password {
                        Some(p) => p.clone(),
                        None => {
                            let mut line = String::new();
                            let _ = std::io::stdin().read_line(&mut line);
                            line.trim_end_matches(['\n', '\r']).to_string()
                        }
                    };
                    accounts::login(&ctx, username, &password, &mut out).await
                }
                Command::Logout => accounts::logout(&ctx, &mut out).await,
                Command::Whoami => accounts::whoami(&ctx, &mut out).await,
                Command::Passwd { current, new } => accounts::passwd(&ctx, current, new, &mut out).await,
                Command::Policy { action: PolicyAction::AddRoleToUser { role, user } } => {
                    accounts::add_role(&ctx, role, user, &mut out).await
                }
                Command::Policy { action: PolicyAction::RemoveRoleFromUser { role, user } } => {
                    accounts::remove_role(&ctx, role, user, &mut out).await
                }
                Command::Set { what: SetWhat::Visibility { value } } => accounts::set_visibility(&ctx, value, &mut out).await,
                Command::Create { what: CreateWhat::User { name, password, admin } } => {
                    accounts::create_user(&ctx, name, password, *admin, &mut out).await
                }
                Command::Create { what: CreateWhat::Token { name, namespaces, max_role, expires_in } } => {
                    accounts::create_token(&ctx, name, namespaces, max_role.as_deref(), *expires_in, &mut out).await
                }
                Command::Get(args) if matches!(args.kind.as_str(), "tokens" | "token") => accounts::get_tokens(&ctx, &mut out).await,
                Command::Get(args) if matches!(args.kind.as_str(), "members" | "member") => accounts::get_members(&ctx, &mut out).await,
                Command::Get(args) if args.kind == "audit" => accounts::get_audit(&ctx, args.all_namespaces, &mut out).await,
                Command::Delete { kind, name } if kind == "token" => accounts::delete_token(&ctx, name, &mut out).await,
                Command::Tag(flags) => commands::tag(&ctx, flags, &mut out).await,
                Command::ImportImage(args) => commands::import_image(&ctx, args, &mut out).await,
                Command::Get(args) => commands::get(&ctx, args, &mut out).await,
                Command::Describe { kind, name } => commands::describe(&ctx, kind, name, &mut out).await,
                Command::Delete { kind, name } => commands::delete(&ctx, kind, name, &mut out).await,
                Command::Serve(_) | Command::BenchData { .. } | Command::BenchWatch { .. } => unreachable!("handled above"),
            };
            match result {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            }
        }
    }
}

/// `imagestreams serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,sqlx=warn".into()))
        .init();
    let store = Store::open(&args.data_dir).await?;
    let registry_host = args.registry_host.clone().unwrap_or_else(|| args.listen.clone());
    let importer = ImporterConfig {
        insecure_registries: args.insecure_registry.clone(),
        allowed_registries: args.allowed_registry.clone(),
        max_images_bulk: args.max_images_bulk_imported_per_repository,
        timeout: args.registry_timeout,
        concurrency: args.import_concurrency.max(1),
    };
    let sealer = crate::sealing::Sealer::load_or_create(&args.data_dir).map_err(|e| anyhow::anyhow!(e))?;
    let access = crate::service::AccessConfig {
        anonymous_read: args.anonymous_read,
        restrict_namespace_creation: args.restrict_namespace_creation,
        session_ttl: args.session_ttl,
    };
    let service = Service::new(store, registry_host)
        .with_importer(importer)
        .with_sealer(sealer)
        .with_webhook_targets(&args.allowed_webhook_target)
        .with_access(access);
    crate::demo::ensure_default_namespace(&service).await?;
    bootstrap_admin(&service, &args).await?;
    let schedule =
        ScheduleConfig { interval: args.scheduled_import_interval, max_per_minute: args.max_scheduled_imports_per_minute.max(1) };
    let (service, _controllers) = crate::importer::controller::start(service, Some(schedule));
    let delivery = crate::delivery::DeliveryConfig {
        timeout: args.webhook_timeout,
        max_attempts: args.webhook_max_attempts.max(1),
        backoff_base: args.webhook_retry_base,
        ..Default::default()
    };
    let _dispatcher = crate::delivery::start(service.clone(), delivery);
    let trimmer = {
        let service = service.clone();
        let (age, count, audit_age) = (args.watch_event_max_age, args.watch_event_max_count, args.audit_max_age);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                if let Err(e) = service.trim_watch_events(age, count).await {
                    tracing::warn!(error = %e, "trimming the watch event log failed");
                }
                if let Err(e) = service.purge_audit(audit_age).await {
                    tracing::warn!(error = %e, "purging the audit log failed");
                }
            }
        })
    };
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
    options.site_addr = args.listen.parse()?;
    let app = crate::portal::router(service, options);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!("imagestreams listening on http://{}", listener.local_addr()?);
    serve_http1(listener, app).await;
    trimmer.abort();
    Ok(())
}

/// Serves HTTP/1.1 (what browsers and the CLI speak to us over plain HTTP) with one small task
/// per connection: an idle watch then costs little more than hyper's read and write buffers
/// (`axum::serve` keeps an HTTP/1-or-2 connection per client). Each request carries its peer
/// address (`ConnectInfo`) for the audit log. On Ctrl-C or SIGTERM it stops accepting and gives
/// open requests five seconds (watches and live pages end then).
async fn serve_http1(listener: tokio::net::TcpListener, app: axum::Router) {
    use tower::Layer;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = axum::Extension(axum::extract::ConnectInfo(peer)).layer(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
    }
}

/// The first administrator, from `--admin-password-file` or `IMAGESTREAMS_ADMIN_PASSWORD`, when
/// no user exists yet. Without either and without users, accounts stay off (and we say so).
async fn bootstrap_admin(service: &Service, args: &ServeArgs) -> anyhow::Result<()> {
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
    let created = match &password {
        Some(p) => service.bootstrap_admin(&args.admin_user, p).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?,
        None => false,
    };
    match password {
        Some(_) if created => tracing::info!(user = %args.admin_user, "created the first administrator; accounts are on"),
        Some(_) => {}
        None if !service.accounts_on().await.map_err(|e| anyhow::anyhow!("{}", e.message()))? => {
            tracing::warn!(
                "accounts are off: no user exists, so everyone may read and change everything. Start once with \
                 --admin-password-file FILE (or IMAGESTREAMS_ADMIN_PASSWORD) to create the first administrator"
            );
        }
        None => {}
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
