//! Accounts from the command line: `login`/`logout` (a token kept per server in
//! `$IMAGESTREAMS_CONFIG` or `~/.config/imagestreams/tokens.json`, mode 0600), `whoami`,
//! `create user`, `create token`, `get tokens`, `delete token`, `policy add-role-to-user` /
//! `remove-role-from-user` (oc's words), `get members`, `get audit`, `set visibility`, `passwd`.

use super::client::{CliError, Client};
use super::commands::{Context, local, write_out};
use app::domain::present::{ago, render_table};
use app::model::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

type CmdResult = Result<(), CliError>;

fn config_file() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("IMAGESTREAMS_CONFIG") {
        return Some(PathBuf::from(dir).join("tokens.json"));
    }
    let base = std::env::var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .ok()
        .or_else(|| std::env::var("HOME").ok().map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("imagestreams").join("tokens.json"))
}

fn saved_tokens() -> BTreeMap<String, String> {
    config_file().and_then(|f| std::fs::read_to_string(f).ok()).and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
}

fn save_tokens(tokens: &BTreeMap<String, String>) -> CmdResult {
    let file = config_file().ok_or_else(|| local("no place for the token: set HOME or IMAGESTREAMS_CONFIG"))?;
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
pub fn saved_token(server: &str) -> Option<String> {
    saved_tokens().remove(server.trim_end_matches('/'))
}

pub async fn login(ctx: &Context, username: &str, password: &str, out: &mut dyn Write) -> CmdResult {
    let session = ctx.client.sign_in(username, password).await?;
    let name = format!("imagestreams login {}", chrono::Utc::now().format("%Y-%m-%d %H:%M"));
    let token: ApiToken = ctx.client.post_with_session("/api/v1/tokens", &session, &ApiToken { name, ..Default::default() }).await?;
    let secret = token.token.ok_or_else(|| local("the server did not return the token"))?;
    let mut tokens = saved_tokens();
    tokens.insert(ctx.client.base().to_string(), secret);
    save_tokens(&tokens)?;
    write_out(out, &format!("Logged into \"{}\" as \"{username}\" using a new API token ({}).\n", ctx.client.base(), token.id))
}

pub async fn logout(ctx: &Context, out: &mut dyn Write) -> CmdResult {
    let mut tokens = saved_tokens();
    let Some(token) = tokens.remove(ctx.client.base()) else {
        return Err(local(format!("not logged in to \"{}\"", ctx.client.base())));
    };
    let id = token.split('_').nth(1).unwrap_or_default().to_string();
    let client = Client::new(ctx.client.base(), Some(&token));
    // Revoke first; a token the server no longer knows is forgotten anyway.
    let _ = client.delete(&format!("/api/v1/tokens/{id}")).await;
    save_tokens(&tokens)?;
    write_out(out, &format!("Logged out of \"{}\"\n", ctx.client.base()))
}

pub async fn whoami(ctx: &Context, out: &mut dyn Write) -> CmdResult {
    let me: WhoAmI = ctx.client.get("/api/v1/session").await?;
    match me.user {
        Some(u) => write_out(out, &format!("{u}\n")),
        None if me.open => write_out(out, "system:anonymous (accounts are off: everyone may do everything)\n"),
        None => Err(local("You must be logged in to the server (Unauthorized)")),
    }
}

pub async fn create_user(ctx: &Context, name: &str, password: &str, admin: bool, out: &mut dyn Write) -> CmdResult {
    let _: WhoAmI = ctx.client.post("/api/v1/users", &NewUser { name: name.into(), password: password.into(), admin }).await?;
    write_out(out, &format!("user/{name} created\n"))
}

pub async fn create_token(
    ctx: &Context,
    name: &str,
    namespaces: &[String],
    max_role: Option<&str>,
    expires_in: Option<std::time::Duration>,
    out: &mut dyn Write,
) -> CmdResult {
    let spec = ApiToken {
        name: name.into(),
        namespaces: (!namespaces.is_empty()).then(|| namespaces.to_vec()),
        max_role: max_role.map(str::to_string),
        expires: expires_in.map(|d| (chrono::Utc::now() + chrono::Duration::from_std(d).unwrap_or_default()).to_rfc3339()),
        ..Default::default()
    };
    let t: ApiToken = ctx.client.post("/api/v1/tokens", &spec).await?;
    // The secret alone on stdout, so `TOKEN=$(imagestreams create token ci)` works; it is not shown again.
    write_out(out, &format!("{}\n", t.token.unwrap_or_default()))
}

pub async fn get_tokens(ctx: &Context, out: &mut dyn Write) -> CmdResult {
    let tokens: Vec<ApiToken> = ctx.client.get("/api/v1/tokens").await?;
    if tokens.is_empty() {
        return write_out(out, "No tokens.\n");
    }
    let now = chrono::Utc::now();
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.id.clone(),
                t.name.clone(),
                t.namespaces.as_ref().map(|n| n.join(",")).unwrap_or_else(|| "*".into()),
                t.max_role.clone().unwrap_or_else(|| "-".into()),
                t.expires.clone().unwrap_or_else(|| "never".into()),
                ago(&t.created, now),
                if t.revoked.is_some() { "revoked".into() } else { "active".into() },
            ]
        })
        .collect();
    write_out(out, &render_table(&["ID", "NAME", "NAMESPACES", "MAX ROLE", "EXPIRES", "AGE", "STATE"], &rows))
}

pub async fn delete_token(ctx: &Context, id: &str, out: &mut dyn Write) -> CmdResult {
    ctx.client.delete(&format!("/api/v1/tokens/{id}")).await?;
    write_out(out, &format!("token \"{id}\" revoked\n"))
}

pub async fn add_role(ctx: &Context, role: &str, user: &str, out: &mut dyn Write) -> CmdResult {
    let path = format!("/api/v1/namespaces/{}/members/{user}", ctx.namespace);
    let _: Member = ctx.client.put(&path, &serde_json::json!({"role": role})).await?;
    write_out(out, &format!("role/{role} added: \"{user}\"\n"))
}

pub async fn remove_role(ctx: &Context, role: &str, user: &str, out: &mut dyn Write) -> CmdResult {
    let members: Vec<Member> = ctx.client.get(&format!("/api/v1/namespaces/{}/members", ctx.namespace)).await?;
    if !members.iter().any(|m| m.user == user && m.role == role) {
        return Err(local(format!("user \"{user}\" does not have role \"{role}\" in namespace \"{}\"", ctx.namespace)));
    }
    ctx.client.delete(&format!("/api/v1/namespaces/{}/members/{user}", ctx.namespace)).await?;
    write_out(out, &format!("role/{role} removed: \"{user}\"\n"))
}

pub async fn get_members(ctx: &Context, out: &mut dyn Write) -> CmdResult {
    let members: Vec<Member> = ctx.client.get(&format!("/api/v1/namespaces/{}/members", ctx.namespace)).await?;
    if members.is_empty() {
        return write_out(out, &format!("No members in {} namespace.\n", ctx.namespace));
    }
    let rows: Vec<Vec<String>> = members.into_iter().map(|m| vec![m.user, m.role]).collect();
    write_out(out, &render_table(&["USER", "ROLE"], &rows))
}

pub async fn get_audit(ctx: &Context, all: bool, out: &mut dyn Write) -> CmdResult {
    let path = if all { "/api/v1/audit".to_string() } else { format!("/api/v1/namespaces/{}/audit", ctx.namespace) };
    let entries: Vec<AuditEntry> = ctx.client.get(&path).await?;
    if entries.is_empty() {
        return write_out(out, "No audit entries.\n");
    }
    let rows: Vec<Vec<String>> = entries
        .into_iter()
        .map(|e| {
            vec![
                e.time,
                e.user.unwrap_or_else(|| "-".into()),
                e.token.unwrap_or_else(|| "-".into()),
                e.remote.unwrap_or_else(|| "-".into()),
                e.code.to_string(),
                e.outcome,
                e.action,
            ]
        })
        .collect();
    write_out(out, &render_table(&["TIME", "USER", "TOKEN", "FROM", "CODE", "OUTCOME", "ACTION"], &rows))
}

pub async fn set_visibility(ctx: &Context, value: &str, out: &mut dyn Write) -> CmdResult {
    let public = match value {
        "public" => true,
        "private" => false,
        other => return Err(local(format!("visibility must be public or private, not {other:?}"))),
    };
    let _: Visibility = ctx.client.put(&format!("/api/v1/namespaces/{}/visibility", ctx.namespace), &Visibility { public }).await?;
    write_out(out, &format!("namespace/{} is {value}\n", ctx.namespace))
}

pub async fn passwd(ctx: &Context, current: &str, new: &str, out: &mut dyn Write) -> CmdResult {
    let change = PasswordChange { current: current.into(), new: new.into() };
    ctx.client.send_no_content(reqwest::Method::PUT, "/api/v1/session/password", &change).await?;
    write_out(out, "Password changed.\n")
}
