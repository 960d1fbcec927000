//! The command line as clap types: every command, argument and flag, their help, defaults and
//! `IMAGESTREAMS_<FLAG>` environment fallbacks (every flag has one; positional arguments do
//! not). The flags of `serve` are `crate::serve::ServeArgs`.
//!
//! Must not: run anything or check a value beyond its type (oc's checks and messages are in
//! `app::domain`; the commands apply them).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// `--namespace`: a namespace name (RFC 1123 label), since it becomes a path segment of every
/// request (`-n 'x/../..'` must not reach another path).
fn namespace_arg(ns: &str) -> Result<String, String> {
    match app::domain::names::validate_namespace_name(ns, "namespace").first() {
        None => Ok(ns.to_string()),
        Some(e) if e.detail.is_empty() => Err("a namespace name is required".into()),
        Some(e) => Err(e.detail.clone()),
    }
}

#[derive(Parser, Debug)]
#[command(name = "imagestreams", version, about = "Container image streams: portal, API and CLI")]
pub struct Cli {
    /// The portal to talk to.
    #[arg(long, global = true, env = "IMAGESTREAMS_SERVER", default_value = "http://127.0.0.1:3000")]
    pub server: String,
    /// The namespace (project) to work in.
    #[arg(short = 'n', long, global = true, env = "IMAGESTREAMS_NAMESPACE", default_value = "default", value_parser = namespace_arg)]
    pub namespace: String,
    /// Bearer token sent to the server (default: the one `login` kept for this server).
    #[arg(long, global = true, env = "IMAGESTREAMS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Where `login` keeps its tokens (tokens.json); default: $XDG_CONFIG_HOME/imagestreams or
    /// ~/.config/imagestreams.
    #[arg(long, global = true, env = "IMAGESTREAMS_CONFIG", value_name = "DIR")]
    pub config: Option<PathBuf>,
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
    /// Display resources: is, istag, isimage, image, webhooks, tokens, members, audit.
    Get(GetArgs),
    /// Show details of an image stream.
    Describe {
        /// Resource type: is / imagestream.
        kind: String,
        name: String,
    },
    /// Write a synthetic dataset for the UI benchmark (not for production data directories).
    #[command(name = "bench-data", hide = true)]
    BenchData(BenchDataArgs),
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
    /// Remove old images and history (oc adm prune images); a dry run unless --confirm.
    Prune {
        #[command(subcommand)]
        what: PruneWhat,
    },
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
    /// Set a namespace's visibility (public or private) or its retention policy.
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
    BenchWatch(BenchWatchArgs),
    /// Write benchmark client: concurrent ImageStreamMappings (not for production).
    #[command(name = "bench-writes", hide = true)]
    BenchWrites(BenchWritesArgs),
    /// Copy a data directory (database, sealing key, registry blobs) into a new directory while
    /// the server keeps running. Run it on the server's machine, as the server's user.
    Backup(BackupArgs),
    /// Bring a backup back into a new, empty data directory (then `serve --data-dir` it).
    Restore(RestoreArgs),
    /// Delete an image stream, an image stream tag, a webhook or one of your tokens.
    Delete {
        /// Resource type: is / istag / webhook / token.
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
pub enum PruneWhat {
    /// History items beyond the kept revisions, then images nothing refers to. Without
    /// -n/--namespace the whole server (server administrators); with it that namespace's history
    /// only (its admins).
    Images(PruneImagesArgs),
}

#[derive(Args, Debug)]
pub struct PruneImagesArgs {
    /// Keep this many of the newest revisions of each tag.
    #[arg(long, env = "IMAGESTREAMS_KEEP_TAG_REVISIONS", default_value_t = 3, allow_hyphen_values = true)]
    pub keep_tag_revisions: i64,
    /// Keep what is younger than this (e.g. 60m, 24h).
    #[arg(long, env = "IMAGESTREAMS_KEEP_YOUNGER_THAN", default_value = "60m", allow_hyphen_values = true)]
    pub keep_younger_than: String,
    /// Also prune images the integrated registry does not manage (imported ones).
    #[arg(long, env = "IMAGESTREAMS_PRUNE_ALL", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub all: bool,
    /// Really delete (otherwise a dry run).
    #[arg(long, env = "IMAGESTREAMS_CONFIRM")]
    pub confirm: bool,
    /// Output format: json (the whole report), or the text report by default.
    #[arg(short = 'o', long, env = "IMAGESTREAMS_OUTPUT")]
    pub output: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum SetWhat {
    /// public or private.
    Visibility { value: String },
    /// The namespace's retention policy: what its scheduled prune keeps (namespace admins).
    Retention(SetRetentionArgs),
}

#[derive(Args, Debug, Clone)]
pub struct SetRetentionArgs {
    /// Keep the newest N revisions of every tag.
    #[arg(long, env = "IMAGESTREAMS_KEEP_TAG_REVISIONS", default_value_t = 3, allow_hyphen_values = true)]
    pub keep_tag_revisions: i64,
    /// Keep what is younger than this (60m, 12h, 7d, 1h30m).
    #[arg(long, env = "IMAGESTREAMS_KEEP_YOUNGER_THAN", default_value = "60m")]
    pub keep_younger_than: String,
    /// Keep the whole history of tags matching this pattern (`*` matches anything); repeatable.
    #[arg(long, env = "IMAGESTREAMS_KEEP_TAG_PATTERN", value_delimiter = ',')]
    pub keep_tag_pattern: Vec<String>,
    /// Keep what was pulled through the registry within this long (default: the server's
    /// --prune-pulled-within; 0 ignores pulls).
    #[arg(long, env = "IMAGESTREAMS_PULLED_WITHIN")]
    pub pulled_within: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum WebhookAction {
    /// Queue a test event (CloudEvents type io.imagestreams.webhook.test).
    Test { name: String },
    /// The delivery log, newest first.
    Deliveries {
        name: String,
        /// json or yaml for the full log with every attempt; name; default: a table.
        #[arg(short = 'o', long = "output", env = "IMAGESTREAMS_OUTPUT")]
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
        /// stream:tag, stream:* or *:* (repeat, or separate with commas).
        #[arg(long = "tag", env = "IMAGESTREAMS_TAG", value_delimiter = ',', required = true)]
        tags: Vec<String>,
        /// ImageChanged, TagDeleted, ImportFailed (repeat, or separate with commas; default ImageChanged).
        #[arg(long = "event", env = "IMAGESTREAMS_EVENT", value_delimiter = ',')]
        events: Vec<String>,
    },
    /// Create a user (server administrators).
    User {
        name: String,
        /// Read from standard input when not given (a flag is visible to other users in `ps`).
        #[arg(long, env = "IMAGESTREAMS_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// A server-wide administrator.
        #[arg(long, env = "IMAGESTREAMS_ADMIN")]
        admin: bool,
    },
    /// Create an API token for yourself; prints it (once).
    Token {
        name: String,
        /// Only this namespace (repeat, or separate with commas); default: all of yours.
        #[arg(long = "namespace-scope", env = "IMAGESTREAMS_NAMESPACE_SCOPE", value_delimiter = ',')]
        namespaces: Vec<String>,
        /// At most this role: viewer, editor or admin.
        #[arg(long = "max-role", env = "IMAGESTREAMS_MAX_ROLE")]
        max_role: Option<String>,
        /// Expires after this long (e.g. 720h, 30d).
        #[arg(long = "expires-in", env = "IMAGESTREAMS_EXPIRES_IN", value_parser = crate::serve::parse_duration)]
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
        // The field is not called `server`: clap keys arguments by field name, and a second
        // `server` would take the global `--server`'s place in this subcommand (the portal's
        // address would become the registry's, or the other way round).
        #[arg(long = "docker-server", env = "IMAGESTREAMS_DOCKER_SERVER")]
        docker_server: String,
        #[arg(long = "docker-username", env = "IMAGESTREAMS_DOCKER_USERNAME")]
        docker_username: String,
        #[arg(long = "docker-password", env = "IMAGESTREAMS_DOCKER_PASSWORD", hide_env_values = true)]
        docker_password: String,
    },
}

/// How an imported tag is imported, shared by `tag` and `import-image` (oc spells them the same
/// in both).
#[derive(Args, Debug, Clone)]
pub struct ImportPolicyFlags {
    /// Re-import the source periodically.
    #[arg(long, env = "IMAGESTREAMS_SCHEDULED")]
    pub scheduled: bool,
    /// Allow HTTP and unverified HTTPS for the import.
    #[arg(long, env = "IMAGESTREAMS_INSECURE")]
    pub insecure: bool,
    /// source or local.
    #[arg(long = "reference-policy", env = "IMAGESTREAMS_REFERENCE_POLICY")]
    pub reference_policy: Option<String>,
    /// Legacy or PreserveOriginal.
    #[arg(long = "import-mode", env = "IMAGESTREAMS_IMPORT_MODE")]
    pub import_mode: Option<String>,
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
    #[command(flatten)]
    pub policy: ImportPolicyFlags,
    /// The kind of SOURCE: docker, istag, isimage (and their long names).
    #[arg(long = "source", env = "IMAGESTREAMS_SOURCE")]
    pub source: Option<String>,
    /// Delete the given tags.
    #[arg(short = 'd', long = "delete", env = "IMAGESTREAMS_DELETE")]
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
    #[command(flatten)]
    pub policy: ImportPolicyFlags,
    /// Look up only; change nothing.
    #[arg(long = "dry-run", env = "IMAGESTREAMS_DRY_RUN")]
    pub dry_run: bool,
}

#[derive(Args, Debug, Clone)]
pub struct GetArgs {
    /// is, istag, isimage, image, webhooks, tokens, members, retention or audit.
    pub kind: String,
    pub name: Option<String>,
    /// json, yaml, wide or name.
    #[arg(short = 'o', long = "output", env = "IMAGESTREAMS_OUTPUT")]
    pub output: Option<String>,
    /// Drop server-populated metadata (with -o json or yaml).
    #[arg(long, env = "IMAGESTREAMS_EXPORT")]
    pub export: bool,
    /// After listing, watch for changes and print them as they come (image streams).
    #[arg(short = 'w', long = "watch", env = "IMAGESTREAMS_WATCH")]
    pub watch: bool,
    /// Across namespaces (the server's audit log).
    #[arg(short = 'A', long = "all-namespaces", env = "IMAGESTREAMS_ALL_NAMESPACES")]
    pub all_namespaces: bool,
}

#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    /// Where the backup goes: a new or empty directory.
    #[arg(long, env = "IMAGESTREAMS_TO")]
    pub to: PathBuf,
    /// The data directory of the server (its --data-dir).
    #[arg(long, env = "IMAGESTREAMS_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The server's --blob-store (`file`, or `s3://bucket[/prefix]`, copied into the backup).
    #[arg(long, env = "IMAGESTREAMS_BLOB_STORE", default_value = "file")]
    pub blob_store: String,
}

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// The backup directory (`backup --to`).
    #[arg(long, env = "IMAGESTREAMS_FROM")]
    pub from: PathBuf,
    /// The new data directory: must not exist or be empty.
    #[arg(long, env = "IMAGESTREAMS_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Where the blobs go: `file` (`<--data-dir>/blobs`) or the new server's
    /// `s3://bucket[/prefix]`.
    #[arg(long, env = "IMAGESTREAMS_BLOB_STORE", default_value = "file")]
    pub blob_store: String,
}

#[derive(Args, Debug, Clone)]
pub struct BenchDataArgs {
    #[arg(long, env = "IMAGESTREAMS_DATA_DIR")]
    pub data_dir: PathBuf,
    #[arg(long, env = "IMAGESTREAMS_STREAMS", default_value_t = 10_000)]
    pub streams: usize,
    #[arg(long, env = "IMAGESTREAMS_TAGS", default_value_t = 10)]
    pub tags: usize,
    #[arg(long, env = "IMAGESTREAMS_HISTORY", default_value_t = 10)]
    pub history: usize,
    /// History items of the single tag of `timeline/long`.
    #[arg(long, env = "IMAGESTREAMS_TIMELINE", default_value_t = 1000)]
    pub timeline: usize,
    /// Tags of `wide/many` (3 history items each): the stream page's tag table at scale.
    #[arg(long, env = "IMAGESTREAMS_WIDE", default_value_t = 500)]
    pub wide: usize,
}

/// `bench-writes`: see `crate::bench::writes`.
#[derive(Args, Debug, Clone)]
pub struct BenchWritesArgs {
    /// The server's process id (its memory is read from /proc).
    #[arg(long, env = "IMAGESTREAMS_PID")]
    pub pid: Option<u32>,
    #[arg(long, env = "IMAGESTREAMS_BENCH_CLIENTS", default_value_t = 16)]
    pub clients: usize,
    #[arg(long, env = "IMAGESTREAMS_BENCH_STREAMS", default_value_t = 16)]
    pub streams: usize,
    #[arg(long, env = "IMAGESTREAMS_BENCH_WRITES", default_value_t = 100_000)]
    pub writes: u64,
    /// Writes per reported window.
    #[arg(long, env = "IMAGESTREAMS_BENCH_WINDOW", default_value_t = 10_000)]
    pub window: u64,
    /// The port of the webhook receiver the client runs on 127.0.0.1 (the server must allow it
    /// as a webhook target).
    #[arg(long, env = "IMAGESTREAMS_BENCH_SINK_PORT", default_value_t = 0)]
    pub sink_port: u16,
}

#[derive(Args, Debug, Clone)]
pub struct BenchWatchArgs {
    /// The server's process id (its memory is read from /proc).
    #[arg(long, env = "IMAGESTREAMS_PID")]
    pub pid: u32,
    #[arg(long, env = "IMAGESTREAMS_WATCHERS", default_value_t = 1000)]
    pub watchers: usize,
    #[arg(long, env = "IMAGESTREAMS_ROUNDS", default_value_t = 5)]
    pub rounds: usize,
    /// Each watcher first lists the streams on its connection and then watches on the same
    /// kept-alive connection, as kubectl does (`kubectl get is -w`).
    #[arg(long, env = "IMAGESTREAMS_LIST_FIRST")]
    pub list_first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// README: "Every flag also reads `IMAGESTREAMS_<FLAG>`". Positional arguments, help and
    /// version are not flags.
    #[test]
    fn every_flag_has_its_environment_variable() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if arg.is_positional() || matches!(id, "help" | "version") {
                    continue;
                }
                let want = format!("IMAGESTREAMS_{}", arg.get_long().unwrap_or(id).to_ascii_uppercase().replace('-', "_"));
                let has = arg.get_env().and_then(|e| e.to_str()).map(str::to_string);
                // A few flags name their variable more precisely (IMAGESTREAMS_WEBHOOK_SECRET for
                // create webhook --secret); what counts is that one exists and is ours.
                if !has.as_deref().is_some_and(|e| e.starts_with("IMAGESTREAMS_")) {
                    missing.push(format!("{path} --{} (want {want})", arg.get_long().unwrap_or(id)));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = vec![];
        walk(&Cli::command(), "imagestreams", &mut missing);
        assert!(missing.is_empty(), "flags without an IMAGESTREAMS_* variable:\n{}", missing.join("\n"));
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn import_policy_flags_read_the_same_in_tag_and_import_image() {
        let tag = Cli::try_parse_from(["imagestreams", "tag", "--scheduled", "--import-mode", "Legacy", "q.io/a:1", "app:t"]).unwrap();
        let Command::Tag(t) = tag.command else { panic!("tag") };
        assert!(t.policy.scheduled && t.policy.import_mode.as_deref() == Some("Legacy"));
        let import = Cli::try_parse_from(["imagestreams", "import-image", "app", "--insecure", "--reference-policy=local"]).unwrap();
        let Command::ImportImage(i) = import.command else { panic!("import-image") };
        assert!(i.policy.insecure && i.policy.reference_policy.as_deref() == Some("local"));
    }

    /// The global flags as the root command declares them.
    fn globals() -> Vec<clap::Arg> {
        Cli::command().get_arguments().filter(|a| a.is_global_set()).cloned().collect()
    }

    /// Every command with no subcommand of its own, with its path from the root.
    fn leaves(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
        if cmd.get_subcommands().next().is_none() {
            out.push((path.clone(), cmd.clone()));
        }
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            leaves(sub, p, out);
        }
    }

    /// clap keys an argument by its id: a subcommand argument with a global's id replaces the
    /// global there (and its value is handed up as the global's), and one reading a global's
    /// variable reads the portal's settings. No subcommand may share a global's id, variable,
    /// long or short name.
    #[test]
    fn no_subcommand_argument_shadows_a_global_one() {
        let globals = globals();
        let ids: Vec<&str> = globals.iter().map(|a| a.get_id().as_str()).collect();
        assert_eq!(ids, ["server", "namespace", "token", "config"], "the globals this test knows");
        let mut clashes = vec![];
        fn walk(cmd: &clap::Command, path: &str, globals: &[clap::Arg], clashes: &mut Vec<String>) {
            for arg in cmd.get_arguments().filter(|a| !a.is_global_set()) {
                for g in globals {
                    let what = if arg.get_id() == g.get_id() {
                        "id"
                    } else if arg.get_env().is_some() && arg.get_env() == g.get_env() {
                        "environment variable"
                    } else if arg.get_long().is_some() && arg.get_long() == g.get_long() {
                        "long name"
                    } else if arg.get_short().is_some() && arg.get_short() == g.get_short() {
                        "short name"
                    } else {
                        continue;
                    };
                    clashes.push(format!("{path}: {} has the {what} of the global --{}", arg.get_id(), g.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), globals, clashes);
            }
        }
        walk(&Cli::command(), "imagestreams", &globals, &mut clashes);
        assert!(clashes.is_empty(), "{}", clashes.join("\n"));
    }

    /// Every command, given every flag and argument of its own and then every global flag,
    /// keeps both: its own values arrive as its own, the globals as the globals.
    #[test]
    fn each_commands_flags_coexist_with_the_global_ones() {
        let mut all = vec![];
        leaves(&Cli::command(), vec![], &mut all);
        assert!(all.len() > 20, "walked the whole tree");
        for (path, cmd) in all {
            let mut line: Vec<String> = std::iter::once("imagestreams".to_string()).chain(path.iter().cloned()).collect();
            let own: Vec<&clap::Arg> =
                cmd.get_arguments().filter(|a| !a.is_global_set() && !matches!(a.get_id().as_str(), "help" | "version")).collect();
            // A value each argument's parser accepts: its default, else a few typed ones by id.
            let value = |a: &clap::Arg| -> String {
                match a.get_id().as_str() {
                    "id" | "pid" => "1".into(),
                    "expires_in" => "30d".into(),
                    _ => a.get_default_values().first().and_then(|v| v.to_str()).unwrap_or("x").to_string(),
                }
            };
            for a in own.iter().filter(|a| a.is_positional()) {
                line.push(value(a));
            }
            for a in own.iter().filter(|a| !a.is_positional()) {
                line.push(format!("--{}", a.get_long().unwrap_or(a.get_id().as_str())));
                if a.get_num_args().is_none_or(|n| n.takes_values()) && !matches!(a.get_action(), clap::ArgAction::SetTrue) {
                    line.push(value(a));
                }
            }
            line.extend(
                ["--server", "http://portal.example:1", "--namespace", "ns1", "--token", "t0k", "--config", "/cfg"].map(String::from),
            );
            let matches = Cli::command().try_get_matches_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let mut leaf = &matches;
            while let Some((_, m)) = leaf.subcommand() {
                leaf = m;
            }
            for a in &own {
                assert_eq!(
                    leaf.value_source(a.get_id().as_str()),
                    Some(clap::parser::ValueSource::CommandLine),
                    "{line:?}: {}",
                    a.get_id()
                );
            }
            let cli = Cli::try_parse_from(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(
                (cli.server.as_str(), cli.namespace.as_str(), cli.token.as_deref(), cli.config.as_deref()),
                ("http://portal.example:1", "ns1", Some("t0k"), Some(std::path::Path::new("/cfg"))),
                "{line:?}"
            );
        }
    }

    /// The case: the registry's address goes to the secret, the portal's to --server.
    #[test]
    fn docker_server_is_the_registry_and_server_the_portal() {
        let cli = Cli::try_parse_from([
            "imagestreams",
            "--server",
            "http://portal.example:3000",
            "create",
            "secret",
            "docker-registry",
            "creds",
            "--docker-server",
            "registry.example:5000",
            "--docker-username",
            "u",
            "--docker-password",
            "p",
        ])
        .unwrap();
        assert_eq!(cli.server, "http://portal.example:3000");
        let Command::Create { what: CreateWhat::Secret { kind: SecretKind::DockerRegistry { docker_server, .. } } } = cli.command else {
            panic!("create secret docker-registry")
        };
        assert_eq!(docker_server, "registry.example:5000");
    }
}
