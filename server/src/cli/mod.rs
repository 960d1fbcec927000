//! The command line: `serve` runs the portal; every other command is an HTTP client that mirrors
//! the `oc` command of the same name (flags, output, error messages). Every flag also reads
//! `IMAGESTREAMS_<FLAG>`.

mod accounts;
mod client;
mod commands;
mod webhooks;

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
    Serve(Box<crate::serve::ServeArgs>),
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
        #[arg(long = "expires-in", value_parser = crate::serve::parse_duration)]
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
        Command::Serve(args) => match crate::serve::run(*args).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("error: {e:#}");
                1
            }
        },
        Command::BenchData { data_dir, streams, tags, history, timeline } => {
            match crate::bench::data::generate(&data_dir, streams, tags, history, timeline).await {
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
        Command::BenchWatch { pid, watchers, rounds } => match crate::bench::watch::run(&cli.server, pid, watchers, rounds).await {
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
