//! `create namespace` and `create secret docker-registry` (the registry credentials imports of a
//! namespace use): one request each, oc's `<kind>/<name> created` line.
//!
//! Must not: show a secret's password (it travels once, to the server) or check names (the
//! server answers with the rule's message).

use super::output::{CmdResult, Context, Output};
use app::model::*;

pub async fn create_namespace(ctx: &Context, name: &str, out: &mut Output) -> CmdResult {
    let ns: Namespace = ctx.client.post("/api/v1/namespaces", &Namespace::new(name)).await?;
    out.print(&format!("namespace/{} created\n", ns.metadata.name))
}

/// `create secret docker-registry`: the password travels once, to the server, and is never shown.
pub async fn create_registry_secret(
    ctx: &Context,
    name: &str,
    server: &str,
    username: &str,
    password: &str,
    out: &mut Output,
) -> CmdResult {
    let config = serde_json::json!({"auths": {server: {"username": username, "password": password}}});
    let secret = Secret {
        metadata: ObjectMeta::named(Some(&ctx.namespace), name),
        secret_type: SECRET_TYPE_DOCKER_CONFIG_JSON.into(),
        string_data: [(DOCKER_CONFIG_JSON_KEY.to_string(), config.to_string())].into(),
        ..Default::default()
    };
    let created: Secret = ctx.client.post(&format!("/api/v1/namespaces/{}/secrets", ctx.namespace), &secret).await?;
    out.print(&format!("secret/{} created\n", created.metadata.name))
}
