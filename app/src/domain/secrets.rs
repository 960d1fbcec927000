//! Registry credentials (PRODUCT.md, non-negotiable 7; `oc create secret docker-registry`): what
//! a registry Secret must hold, and the credentials read from it: a `.dockerconfigjson`
//! (`{"auths": {...}}`) or a `.dockercfg` (the map itself), each entry with `username` and
//! `password` or `auth` (base64 of `user:password`); registries named by host, Docker Hub's
//! aliases as `docker.io`.
//!
//! Must not: keep, print or log a password (the server seals what this returns).

use super::names::validate_namespace_name;
use super::reference::is_registry_docker_hub;
use crate::model::*;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One registry's credentials, as the server seals them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredential {
    /// The registry host (`host[:port]`, lower case; Docker Hub is `docker.io`).
    pub registry: String,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryCredential").field("registry", &self.registry).field("username", &self.username).finish_non_exhaustive()
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `host:port/path` → `host:port`.
pub fn normalize_registry(server: &str) -> String {
    let s = server.trim();
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or_default().to_ascii_lowercase();
    if is_registry_docker_hub(&host) { "docker.io".into() } else { host }
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
}

/// Reads a `.dockerconfigjson` (`wrapped`: `{"auths": {...}}`) or a `.dockercfg` (the map
/// itself). The error says what is wrong, never with a secret in it.
pub fn parse_docker_config(text: &str, wrapped: bool) -> Result<Vec<RegistryCredential>, String> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("is not valid JSON: {e}"))?;
    let auths = if wrapped { v.get("auths").cloned().ok_or("has no \"auths\" object")? } else { v };
    let map: BTreeMap<String, AuthEntry> = serde_json::from_value(auths).map_err(|e| format!("has an invalid entry: {e}"))?;
    let mut out = vec![];
    for (server, e) in map {
        let (username, password) = if !e.username.is_empty() {
            (e.username, e.password)
        } else {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(e.auth.trim())
                .map_err(|_| format!("entry {server:?}: \"auth\" is not base64"))?;
            let text = String::from_utf8(decoded).map_err(|_| format!("entry {server:?}: \"auth\" is not text"))?;
            let (u, p) = text.split_once(':').ok_or_else(|| format!("entry {server:?}: \"auth\" must be base64 of user:password"))?;
            (u.to_string(), p.to_string())
        };
        if username.is_empty() {
            return Err(format!("entry {server:?} has no username"));
        }
        out.push(RegistryCredential { registry: normalize_registry(&server), username, password });
    }
    Ok(out)
}

/// The credentials of a new registry Secret, or every rule it breaks (field paths as the API
/// names them: `metadata.name`, `type`, `data[.dockerconfigjson]`, …). Values are never echoed.
pub fn registry_secret_credentials(secret: &Secret) -> Result<Vec<RegistryCredential>, Vec<FieldError>> {
    let name = &secret.metadata.name;
    let mut errs = validate_namespace_name(name, "metadata.name");
    if name.is_empty() {
        errs = vec![FieldError::required("metadata.name", "name or generateName is required")];
    }
    let (key, wrapped) = match secret.secret_type.as_str() {
        SECRET_TYPE_DOCKER_CONFIG_JSON => (DOCKER_CONFIG_JSON_KEY, true),
        SECRET_TYPE_DOCKERCFG => (DOCKERCFG_KEY, false),
        other => {
            errs.push(FieldError::not_supported(
                "type",
                other,
                format!("supported values: \"{SECRET_TYPE_DOCKER_CONFIG_JSON}\", \"{SECRET_TYPE_DOCKERCFG}\""),
            ));
            return Err(errs);
        }
    };
    let text = match (secret.string_data.get(key), secret.data.get(key)) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(b64)) => {
            match base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok().and_then(|b| String::from_utf8(b).ok()) {
                Some(t) => Some(t),
                None => {
                    errs.push(FieldError::invalid_raw(format!("data[{key}]"), "<hidden>", "must be base64-encoded text"));
                    None
                }
            }
        }
        (None, None) => {
            errs.push(FieldError::required(format!("data[{key}]"), ""));
            None
        }
    };
    let creds = match text.map(|t| parse_docker_config(&t, wrapped)) {
        Some(Ok(c)) => c,
        Some(Err(m)) => {
            errs.push(FieldError::invalid_raw(format!("data[{key}]"), "<hidden>", m));
            vec![]
        }
        None => vec![],
    };
    if errs.is_empty() { Ok(creds) } else { Err(errs) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_configs_parse() {
        let c = parse_docker_config(
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw"},"127.0.0.1:5000":{"username":"a","password":"b"}}}"#,
            true,
        )
        .unwrap();
        let got: Vec<(String, String, String)> = c.into_iter().map(|c| (c.registry, c.username, c.password)).collect();
        assert_eq!(got, vec![("127.0.0.1:5000".into(), "a".into(), "b".into()), ("docker.io".into(), "u".into(), "p".into())]);
        assert!(parse_docker_config(r#"{"x":{}}"#, true).unwrap_err().contains("auths"));
        assert!(parse_docker_config(r#"{"r.io":{"auth":"!!"}}"#, false).unwrap_err().contains("base64"));
        assert_eq!(normalize_registry("http://Quay.io/v2/"), "quay.io");
    }

    fn secret(kind: &str, key: &str, text: &str) -> Secret {
        let mut s = Secret { secret_type: kind.into(), ..Default::default() };
        s.metadata.name = "pull".into();
        s.string_data.insert(key.into(), text.into());
        s
    }

    #[test]
    fn registry_secrets_name_the_broken_field_and_hide_values() {
        let ok =
            secret(SECRET_TYPE_DOCKER_CONFIG_JSON, DOCKER_CONFIG_JSON_KEY, r#"{"auths":{"q.io":{"username":"u","password":"hunter2"}}}"#);
        assert_eq!(registry_secret_credentials(&ok).unwrap()[0].registry, "q.io");
        let bad = secret(SECRET_TYPE_DOCKER_CONFIG_JSON, DOCKER_CONFIG_JSON_KEY, r#"{"auths":{"q.io":{"password":"hunter2"}}}"#);
        let errs = registry_secret_credentials(&bad).unwrap_err();
        assert_eq!(errs[0].field, "data[.dockerconfigjson]");
        assert!(!format!("{errs:?}").contains("hunter2"));
        let kind = secret("Opaque", "x", "{}");
        assert_eq!(registry_secret_credentials(&kind).unwrap_err()[0].field, "type");
        assert!(!format!("{:?}", ok.string_data.len()).is_empty());
        let cred = &registry_secret_credentials(&ok).unwrap()[0];
        assert!(!format!("{cred:?}").contains("hunter2"), "Debug hides the password");
    }
}
