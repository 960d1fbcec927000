//! The command line: `serve` runs the portal (`crate::serve`); every other command is an HTTP
//! client that mirrors the `oc` command of the same name (flags, output, error messages). Every
//! flag also reads `IMAGESTREAMS_<FLAG>`.
//!
//! A tour: `args` (the clap types), `output` (the context, stdout/stderr and the one `-o`
//! printer), `print` (tables and `describe`), `client` (HTTP), then one module per resource:
//! `streams` (tag, get, describe, delete), `imports` (import-image), `namespaces`, `webhooks`,
//! `accounts`, and `backup` (backup and restore, which open a data directory rather than talk
//! to a server). This file only dispatches: one match from command to function.
//!
//! Must not: hold a rule or a message of a command (those are `app::domain`'s), or wire the
//! server together (`crate::serve`).

mod accounts;
mod args;
mod backup;
mod client;
mod imports;
mod namespaces;
mod output;
mod print;
mod prune;
mod retention;
mod streams;
mod webhooks;

pub use args::Cli;

use args::{BenchDataArgs, Command, CreateWhat, GetArgs, PolicyAction, PruneWhat, SecretKind, SetWhat, WebhookAction};
use clap::{CommandFactory, FromArgMatches};
use client::{CliError, Client};
use output::{CmdResult, Context, Output, Printer, local};

/// Runs the command line; returns the process exit code.
pub async fn run() -> i32 {
    let matches = Cli::command().get_matches();
    let mut out = Output::stdio();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    // Commands where "no namespace given" means "all of them" (prune) need to know whether
    // -n/--namespace (or IMAGESTREAMS_NAMESPACE) was given or is the default.
    let explicit = |m: &clap::ArgMatches| {
        matches!(m.value_source("namespace"), Some(clap::parser::ValueSource::CommandLine | clap::parser::ValueSource::EnvVariable))
    };
    let namespace_given =
        explicit(&matches) || matches.subcommand().is_some_and(|(_, m)| explicit(m) || m.subcommand().is_some_and(|(_, m)| explicit(m)));
    match execute(cli, namespace_given, &mut out).await {
        Ok(()) => 0,
        Err(e) => {
            let _ = out.note(&format!("{e}\n"));
            1
        }
    }
}

/// A failure of `serve` or a benchmark, printed as `error: <cause chain>`.
fn failed(e: anyhow::Error) -> CliError {
    local(format!("{e:#}"))
}

/// Runs one command; `namespace_given`: -n/--namespace was given (not the default).
async fn execute(cli: Cli, namespace_given: bool, out: &mut Output) -> CmdResult {
    let Cli { server, namespace, token, config, command } = cli;
    // Client commands only: `serve` and the benchmarks never read the token file.
    let ctx = || -> Result<Context, CliError> {
        // An explicit --token wins; else the token `login` kept for this server.
        let token = token.clone().or_else(|| accounts::saved_token(config.as_deref(), &server));
        Ok(Context { client: Client::new(&server, token.as_deref())?, namespace: namespace.clone(), config: config.clone() })
    };
    match command {
        Command::Serve(args) => crate::serve::run(*args).await.map_err(failed),
        Command::BenchData(args) => bench_data(&args, out).await,
        Command::BenchWatch(args) => {
            crate::bench::watch::run(&server, args.pid, args.watchers, args.rounds, args.list_first).await.map_err(failed)
        }
        Command::BenchWrites(a) => crate::bench::writes::run(crate::bench::writes::Plan {
            server: server.clone(),
            pid: a.pid,
            clients: a.clients,
            streams: a.streams,
            writes: a.writes,
            window: a.window.max(1),
            sink_port: a.sink_port,
        })
        .await
        .map_err(failed),
        Command::Create { what: CreateWhat::Namespace { name } } => namespaces::create_namespace(&ctx()?, &name, out).await,
        Command::Create {
            what: CreateWhat::Secret { kind: SecretKind::DockerRegistry { name, docker_server, docker_username, docker_password } },
        } => namespaces::create_registry_secret(&ctx()?, &name, &docker_server, &docker_username, &docker_password, out).await,
        Command::Create { what: CreateWhat::Webhook { name, url, secret, tags, events } } => {
            let new = webhooks::NewWebhook { name: &name, url: &url, secret: &secret, tags: &tags, events: &events };
            webhooks::create(&ctx()?, new, out).await
        }
        Command::Create { what: CreateWhat::User { name, password, admin } } => {
            let password = password.unwrap_or_else(read_password);
            accounts::create_user(&ctx()?, &name, &password, admin, out).await
        }
        Command::Create { what: CreateWhat::Token { name, namespaces, max_role, expires_in } } => {
            accounts::create_token(&ctx()?, &name, &namespaces, max_role.as_deref(), expires_in, out).await
        }
        Command::Webhook { action: WebhookAction::Test { name } } => webhooks::test(&ctx()?, &name, out).await,
        Command::Webhook { action: WebhookAction::Deliveries { name, output } } => {
            webhooks::deliveries(&ctx()?, &name, Printer::new(output.as_deref(), false)?, out).await
        }
        Command::Webhook { action: WebhookAction::Redeliver { name, id } } => webhooks::redeliver(&ctx()?, &name, id, out).await,
        Command::Login { username, password } => {
            let password = password.unwrap_or_else(read_password);
            accounts::login(&ctx()?, &username, &password, out).await
        }
        Command::Logout => accounts::logout(&ctx()?, out).await,
        Command::Whoami => accounts::whoami(&ctx()?, out).await,
        Command::Passwd { current, new } => accounts::passwd(&ctx()?, &current, &new, out).await,
        Command::Policy { action: PolicyAction::AddRoleToUser { role, user } } => accounts::add_role(&ctx()?, &role, &user, out).await,
        Command::Policy { action: PolicyAction::RemoveRoleFromUser { role, user } } => {
            accounts::remove_role(&ctx()?, &role, &user, out).await
        }
        Command::Prune { what: PruneWhat::Images(args) } => {
            let ns = namespace_given.then_some(namespace.as_str());
            prune::prune_images(&ctx()?, &args, ns, out).await
        }
        Command::Set { what: SetWhat::Visibility { value } } => accounts::set_visibility(&ctx()?, &value, out).await,
        Command::Set { what: SetWhat::Retention(args) } => retention::set(&ctx()?, &args, out).await,
        Command::Tag(flags) => streams::tag(&ctx()?, &flags, out).await,
        Command::ImportImage(args) => imports::import_image(&ctx()?, &args, out).await,
        Command::Get(args) => get(&ctx()?, &args, out).await,
        Command::Describe { kind, name } => streams::describe(&ctx()?, &kind, &name, out).await,
        Command::Delete { kind, name } => delete(&ctx()?, &kind, &name, out).await,
        Command::Backup(args) => backup::backup(&args, out).await,
        Command::Restore(args) => backup::restore(&args, out).await,
    }
}

/// `login` without `-p`, `create user` without `--password`: the password is the first line
/// of standard input.
fn read_password() -> String {
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    line.trim_end_matches(['\n', '\r']).to_string()
}

/// `get KIND`: the resource kinds outside the image API first, then the image API's.
async fn get(ctx: &Context, args: &GetArgs, out: &mut Output) -> CmdResult {
    let printer = Printer::new(args.output.as_deref(), args.export)?;
    let only_streams_watch = |resource: &str| match args.watch {
        true => Err(local(format!("watch is not supported on {resource}: only image streams can be watched"))),
        false => Ok(()),
    };
    match args.kind.to_ascii_lowercase().as_str() {
        "webhook" | "webhooks" | "wh" => {
            only_streams_watch("webhooks")?;
            webhooks::get(ctx, args.name.as_deref(), printer, out).await
        }
        "token" | "tokens" => {
            only_streams_watch("tokens")?;
            accounts::get_tokens(ctx, printer, out).await
        }
        "member" | "members" => {
            only_streams_watch("members")?;
            accounts::get_members(ctx, printer, out).await
        }
        "retention" => {
            only_streams_watch("retention")?;
            retention::get(ctx, args.output.as_deref(), out).await
        }
        "audit" => {
            only_streams_watch("audit")?;
            accounts::get_audit(ctx, args.all_namespaces, printer, out).await
        }
        _ => streams::get(ctx, args, printer, out).await,
    }
}

/// `delete KIND NAME`.
async fn delete(ctx: &Context, kind: &str, name: &str, out: &mut Output) -> CmdResult {
    match kind.to_ascii_lowercase().as_str() {
        "webhook" | "webhooks" | "wh" => webhooks::delete(ctx, name, out).await,
        "token" | "tokens" => accounts::delete_token(ctx, name, out).await,
        _ => streams::delete(ctx, kind, name, out).await,
    }
}

/// `bench-data`: writes the dataset and says how much.
async fn bench_data(a: &BenchDataArgs, out: &mut Output) -> CmdResult {
    let n = crate::bench::data::generate(&a.data_dir, a.streams, a.tags, a.history, a.timeline, a.wide).await.map_err(failed)?;
    let streams = a.streams + usize::from(a.timeline > 0) + usize::from(a.wide > 0);
    out.print(&format!("wrote {streams} streams, {} tags, {n} history items\n", a.streams * a.tags + usize::from(a.timeline > 0) + a.wide))
}
