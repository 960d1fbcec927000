//! Registry credentials of a namespace: created from a docker config (like `oc create secret
//! docker-registry`), sealed before they are stored, never returned or logged, and handed to
//! the importer for the registries they name.
//! Must not: return or log a secret's plain text.

use super::{Caller, Service, Verb, db, new_uid};
use crate::store::{self, SecretRow};
use app::domain::names::validate_namespace_name;
use app::domain::reference::is_registry_docker_hub;
use app::model::*;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const RES_SECRETS: Resource = Resource { plural: "secrets", group: "", kind: "Secret" };

/// One registry's credentials, as sealed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RegistryCredential {
    pub registry: String,
    pub username: String,
    pub password: String,
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

/// Reads a `.dockerconfigjson` (`{"auths": {...}}`) or `.dockercfg` (the map itself).
fn parse_docker_config(text: &str, wrapped: bool) -> Result<Vec<RegistryCredential>, String> {
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

impl Service {
    fn secret_view(&self, row: &SecretRow) -> Secret {
        let registries = self
            .sealer
            .open(&row.sealed)
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<RegistryCredential>>(&b).ok())
            .map(|c| c.into_iter().map(|c| c.registry).collect())
            .unwrap_or_default();
        Secret {
            api_version: "v1".into(),
            kind: "Secret".into(),
            metadata: ObjectMeta::stored(&row.namespace, &row.name, &row.uid, row.resource_version, &row.created),
            secret_type: row.secret_type.clone(),
            data: BTreeMap::new(),
            string_data: BTreeMap::new(),
            registries,
        }
    }

    pub async fn create_secret(&self, caller: &Caller, ns: &str, mut secret: Secret) -> Result<Secret, ApiError> {
        self.allow(caller, Verb::Create, "secrets", Some(ns))?;
        super::streams::check_namespace_matches(&mut secret.metadata, ns)?;
        let name = secret.metadata.name.clone();
        let mut errs = validate_namespace_name(&name, "metadata.name");
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
                return Err(ApiError::invalid(RES_SECRETS, &name, &errs));
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
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_SECRETS, &name, &errs));
        }
        let plain = serde_json::to_vec(&creds).map_err(|e| ApiError::internal(e.to_string()))?;
        let sealed = self.sealer.seal(&plain).map_err(ApiError::internal)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        if store::get_secret(&mut tx, ns, &name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_SECRETS, &name));
        }
        let row = SecretRow {
            namespace: ns.into(),
            name: name.clone(),
            uid: new_uid(),
            resource_version: store::next_resource_version(&mut tx).await.map_err(db)?,
            created: self.now(),
            secret_type: secret.secret_type.clone(),
            sealed,
        };
        store::insert_secret(&mut tx, &row).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(self.secret_view(&row))
    }

    pub async fn get_secret(&self, caller: &Caller, ns: &str, name: &str) -> Result<Secret, ApiError> {
        self.allow(caller, Verb::Get, "secrets", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        let row = store::get_secret(&mut conn, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_SECRETS, name))?;
        Ok(self.secret_view(&row))
    }

    pub async fn list_secrets(&self, caller: &Caller, ns: &str) -> Result<List<Secret>, ApiError> {
        self.allow(caller, Verb::List, "secrets", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        let rows = store::list_secrets(&mut conn, ns).await.map_err(db)?;
        drop(conn);
        Ok(List {
            api_version: "v1".into(),
            kind: "SecretList".into(),
            metadata: self.list_meta(None).await?,
            items: rows.iter().map(|r| self.secret_view(r)).collect(),
        })
    }

    pub async fn delete_secret(&self, caller: &Caller, ns: &str, name: &str) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "secrets", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        if !store::delete_secret(&mut tx, ns, name).await.map_err(db)? {
            return Err(ApiError::not_found(RES_SECRETS, name));
        }
        store::next_resource_version(&mut tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Status::success("secrets", "", name))
    }

    /// The credentials of a namespace by registry (first secret by name wins for a registry).
    pub(crate) async fn registry_credentials(&self, ns: &str) -> Result<BTreeMap<String, RegistryCredential>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let rows = store::list_secrets(&mut conn, ns).await.map_err(db)?;
        let mut out = BTreeMap::new();
        for row in rows {
            let Ok(plain) = self.sealer.open(&row.sealed) else {
                tracing::warn!(namespace = ns, secret = %row.name, "a registry secret does not open with this server's key");
                continue;
            };
            for c in serde_json::from_slice::<Vec<RegistryCredential>>(&plain).unwrap_or_default() {
                out.entry(c.registry.clone()).or_insert(c);
            }
        }
        Ok(out)
    }
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
}
