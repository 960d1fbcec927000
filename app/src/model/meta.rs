//! Kubernetes object and list metadata.
//!
//! Must not: hold rules; field names and omission follow Kubernetes exactly.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `metadata` of every object. Every field is optional on the wire (`omitempty` upstream).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ObjectMeta {
    /// Metadata of a stored namespaced object (webhooks, secrets): what its row records.
    pub fn stored(namespace: &str, name: &str, uid: &str, resource_version: i64, created: &str) -> Self {
        ObjectMeta {
            name: name.to_string(),
            namespace: Some(namespace.to_string()),
            uid: Some(uid.to_string()),
            resource_version: Some(resource_version.to_string()),
            creation_timestamp: Some(created.to_string()),
            ..Default::default()
        }
    }

    /// Metadata carrying only a name (and namespace), as clients send it.
    pub fn named(namespace: Option<&str>, name: &str) -> Self {
        ObjectMeta { name: name.to_string(), namespace: namespace.map(str::to_string), ..Default::default() }
    }

    /// Drops what the server populates, as `oc get --export` used to.
    pub fn export(&mut self) {
        self.uid = None;
        self.resource_version = None;
        self.creation_timestamp = None;
        self.self_link = None;
        self.generation = None;
    }
}

/// `metadata` of a list: its resourceVersion and the continue token of the next page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMeta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

/// A Kubernetes list (`ImageStreamList`, `ImageList`, …): `kind` names the list type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct List<T> {
    pub api_version: String,
    pub kind: String,
    pub metadata: ListMeta,
    pub items: Vec<T>,
}

/// A namespace: a team's project, an explicit object here (PRODUCT difference 6).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    #[serde(default = "v1")]
    pub api_version: String,
    #[serde(default = "kind_namespace")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: NamespaceStatus,
}

fn v1() -> String {
    "v1".into()
}
fn kind_namespace() -> String {
    "Namespace".into()
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NamespaceStatus {
    pub phase: String,
}

impl Default for NamespaceStatus {
    fn default() -> Self {
        NamespaceStatus { phase: "Active".into() }
    }
}

impl Namespace {
    pub fn new(name: &str) -> Self {
        Namespace {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            metadata: ObjectMeta::named(None, name),
            status: NamespaceStatus::default(),
        }
    }
}
