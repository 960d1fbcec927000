//! Registry credentials as a Kubernetes Secret of type `kubernetes.io/dockerconfigjson` (or the
//! older `kubernetes.io/dockercfg`). Write-only: `data` and `stringData` are accepted on create
//! and never sent back.
//!
//! Must not: be serialised with `data` or `stringData` in an answer (they are skipped when empty).

use super::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const SECRET_TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
pub const SECRET_TYPE_DOCKERCFG: &str = "kubernetes.io/dockercfg";
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
pub const DOCKERCFG_KEY: &str = ".dockercfg";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    #[serde(default = "v1")]
    pub api_version: String,
    #[serde(default = "kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, rename = "type")]
    pub secret_type: String,
    /// Base64 values, on create only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: BTreeMap<String, String>,
    /// Plain values, on create only.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub string_data: BTreeMap<String, String>,
    /// The registries this secret holds credentials for (read side; no secrets).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registries: Vec<String>,
}

fn v1() -> String {
    "v1".into()
}
fn kind() -> String {
    "Secret".into()
}
