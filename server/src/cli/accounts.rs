//! Accounts from the command line: `login`/`logout` (a token kept per server in
//! `<--config>/tokens.json`, default `~/.config/imagestreams/tokens.json`, mode 0600), `whoami`,
//! `create user`, `create token`, `get tokens`, `delete token`, `policy add-role-to-user` /
//! `remove-role-from-user` (oc's words), `get members`, `get audit`, `set visibility`, `passwd`.
//!
//! Must not: keep a password (only the token `login` creates), or decide who may do what (the
//! server does; roles are `app::domain::accounts::Role`).

use super::client::{CliError, Client};
use super::output::{Answer, CmdResult, Context, Output, Printer, Scope, local, name_segment};
use app::domain::accounts::Role;
use app::model::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `tokens.json` in `--config` (`IMAGESTREAMS_CONFIG`), else in `$XDG_CONFIG_HOME/imagestreams`
/// or `~/.config/imagestreams`.
fn token_file(config: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = config {
        return Some(dir.join("tokens.json"));
    }
    let base = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("imagestreams").join("tokens.json"))
}

fn saved_tokens(config: Option<&Path>) -> BTreeMap<String, String> {
    token_file(config).and_then(|f| std::fs::read_to_string(f).ok()).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn save_tokens(config: Option<&Path>, tokens: &BTreeMap<String, String>) -> CmdResult {
    let file = token_file(config).ok_or_else(|| local("no place for the token: set HOME or IMAGESTREAMS_CONFIG"))?;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).map_err(|e| local(format!("creating {}: {e}", dir.display())))?;
    }
    let text = serde_json::to_string_pretty(tokens).unwrap_or_default();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&file).map_err(|e| local(format!("writing {}: {e}", file.display())))?;
    f.write_all(text.as_bytes()).map_err(|e| local(format!("writing {}: {e}", file.display())))
}

/// The token `login` saved for this server, if any (used when no --token is given).
pub fn saved_token(config: Option<&Path>, server: &str) -> Option<String> {
    saved_tokens(config).remove(server.trim_end_matches('/'))
}

/// A role named on the command line, checked with the rule the server applies.
fn parse_role(field: &str, name: &str) -> Result<Role, CliError> {
    Role::parse(name).ok_or_else(|| local(FieldError::not_supported(field, name, Role::supported_values()).to_string()))
}

pub async fn login(ctx: &Context, username: &str, password: &str, out: &mut Output) -> CmdResult {
    let session = ctx.client.sign_in(username, password).await?;
    let name = format!("imagestreams login {}", chrono::Utc::now().format("%Y-%m-%d %H:%M"));
    let token: ApiToken = ctx.client.post_with_session("/api/v1/tokens", &session, &ApiToken { name, ..Default::default() }).await?;
    let secret = token.token.ok_or_else(|| local("the server did not return the token"))?;
    let mut tokens = saved_tokens(ctx.config.as_deref());
    tokens.insert(ctx.client.base().to_string(), secret);
    save_tokens(ctx.config.as_deref(), &tokens)?;
    out.print(&format!("Logged into \"{}\" as \"{username}\" using a new API token ({}).\n", ctx.client.base(), token.id))
}

pub async fn logout(ctx: &Context, out: &mut Output) -> CmdResult {
    let mut tokens = saved_tokens(ctx.config.as_deref());
    let Some(token) = tokens.remove(ctx.client.base()) else {
        return Err(local(format!("not logged in to \"{}\"", ctx.client.base())));
    };
    let id = token.split('_').nth(1).unwrap_or_default().to_string();
    let client = Client::new(ctx.client.base(), Some(&token))?;
    // Revoke first; a token the server no longer knows is forgotten anyway.
    let _ = client.delete(&format!("/api/v1/tokens/{id}")).await;
    save_tokens(ctx.config.as_deref(), &tokens)?;
    out.print(&format!("Logged out of \"{}\"\n", ctx.client.base()))
}

pub async fn whoami(ctx: &Context, out: &mut Output) -> CmdResult {
    let me: WhoAmI = ctx.client.get("/api/v1/session").await?;
    match me.user {
        Some(u) => out.print(&format!("{u}\n")),
        None if me.open => out.print("system:anonymous (accounts are off: everyone may do everything)\n"),
        None => Err(local("You must be logged in to the server (Unauthorized)")),
    }
}

pub async fn create_user(ctx: &Context, name: &str, password: &str, admin: bool, out: &mut Output) -> CmdResult {
    let _: WhoAmI = ctx.client.post("/api/v1/users", &NewUser { name: name.into(), password: password.into(), admin }).await?;
    out.print(&format!("user/{name} created\n"))
}

pub async fn create_token(
    ctx: &Context,
    name: &str,
    namespaces: &[String],
    max_role: Option<&str>,
    expires_in: Option<std::time::Duration>,
    out: &mut Output,
) -> CmdResult {
    let spec = ApiToken {
        name: name.into(),
        namespaces: (!namespaces.is_empty()).then(|| namespaces.to_vec()),
        max_role: max_role.map(|r| parse_role("maxRole", r)).transpose()?.map(|r| r.as_str().to_string()),
        expires: expires_in.map(|d| (chrono::Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()).to_rfc3339()),
        ..Default::default()
    };
    let t: ApiToken = ctx.client.post("/api/v1/tokens", &spec).await?;
    // The secret alone on stdout, so `TOKEN=$(imagestreams create token ci)` works; it is not shown again.
    out.print(&format!("{}\n", t.token.unwrap_or_default()))
}

/// `get tokens`: the caller's own tokens (not namespaced).
pub async fn get_tokens(ctx: &Context, printer: Printer, out: &mut Output) -> CmdResult {
    let answer = Answer::list(ctx.client.get_value("/api/v1/tokens").await?);
    printer.print::<ApiToken>(out, Scope::Cluster, answer)
}

pub async fn delete_token(ctx: &Context, id: &str, out: &mut Output) -> CmdResult {
    ctx.client.delete(&format!("/api/v1/tokens/{}", name_segment("token", id)?)).await?;
    out.print(&format!("token \"{id}\" revoked\n"))
}

pub async fn add_role(ctx: &Context, role_name: &str, user: &str, out: &mut Output) -> CmdResult {
    let role = parse_role("role", role_name)?;
    let path = format!("/api/v1/namespaces/{}/members/{}", ctx.namespace, name_segment("user", user)?);
    let _: Member = ctx.client.put(&path, &serde_json::json!({"role": role.as_str()})).await?;
    out.print(&format!("role/{role} added: \"{user}\"\n"))
}

pub async fn remove_role(ctx: &Context, role_name: &str, user: &str, out: &mut Output) -> CmdResult {
    let role = parse_role("role", role_name)?;
    let members: Vec<Member> = ctx.client.get(&format!("/api/v1/namespaces/{}/members", ctx.namespace)).await?;
    if !members.iter().any(|m| m.user == user && Role::parse(&m.role) == Some(role)) {
        return Err(local(format!("user \"{user}\" does not have role \"{role}\" in namespace \"{}\"", ctx.namespace)));
    }
    ctx.client.delete(&format!("/api/v1/namespaces/{}/members/{}", ctx.namespace, name_segment("user", user)?)).await?;
    out.print(&format!("role/{role} removed: \"{user}\"\n"))
}

pub async fn get_members(ctx: &Context, printer: Printer, out: &mut Output) -> CmdResult {
    let answer = Answer::list(ctx.client.get_value(&format!("/api/v1/namespaces/{}/members", ctx.namespace)).await?);
    printer.print::<Member>(out, Scope::Namespace(&ctx.namespace), answer)
}

/// `get audit [-A]`: the namespace's audit log, or the server's across namespaces.
pub async fn get_audit(ctx: &Context, all: bool, printer: Printer, out: &mut Output) -> CmdResult {
    let (path, scope) = if all {
        ("/api/v1/audit".to_string(), Scope::Cluster)
    } else {
        (format!("/api/v1/namespaces/{}/audit", ctx.namespace), Scope::Namespace(&ctx.namespace))
    };
    let answer = Answer::list(ctx.client.get_value(&path).await?);
    printer.print::<AuditEntry>(out, scope, answer)
}

pub async fn set_visibility(ctx: &Context, value: &str, out: &mut Output) -> CmdResult {
    let public = match value {
        "public" => true,
        "private" => false,
        other => return Err(local(format!("visibility must be public or private, not {other:?}"))),
    };
    let _: Visibility = ctx.client.put(&format!("/api/v1/namespaces/{}/visibility", ctx.namespace), &Visibility { public }).await?;
    out.print(&format!("namespace/{} is {value}\n", ctx.namespace))
}

pub async fn passwd(ctx: &Context, current: &str, new: &str, out: &mut Output) -> CmdResult {
    let change = PasswordChange { current: current.into(), new: new.into() };
    ctx.client.send_no_content(reqwest::Method::PUT, "/api/v1/session/password", &change).await?;
    out.print("Password changed.\n")
}
