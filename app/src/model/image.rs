//! The cluster-scoped Image object (spec §1.3): name = manifest digest.
//!
//! Must not: hold rules (`crate::domain`) or omit fields upstream sends.

use super::{IMAGE_API_VERSION, ObjectMeta};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    #[serde(default = "api_version")]
    pub api_version: String,
    #[serde(default = "kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub docker_image_reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_image_metadata: Option<DockerImageMetadata>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_metadata_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_manifest: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_image_layers: Vec<ImageLayer>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_manifest_media_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub docker_image_manifests: Vec<ImageManifest>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_config: String,
}

fn api_version() -> String {
    IMAGE_API_VERSION.into()
}
fn kind() -> String {
    "Image".into()
}

impl Default for Image {
    fn default() -> Self {
        Image {
            api_version: api_version(),
            kind: kind(),
            metadata: ObjectMeta::default(),
            docker_image_reference: String::new(),
            docker_image_metadata: None,
            docker_image_metadata_version: String::new(),
            docker_image_manifest: String::new(),
            docker_image_layers: vec![],
            docker_image_manifest_media_type: String::new(),
            docker_image_manifests: vec![],
            docker_image_config: String::new(),
        }
    }
}

impl Image {
    /// Strips the raw manifest and config, as istag/isimage reads do.
    pub fn strip_raw(&mut self) {
        self.docker_image_manifest.clear();
        self.docker_image_config.clear();
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageLayer {
    pub name: String,
    pub size: i64,
    #[serde(default)]
    pub media_type: String,
}

/// A child of a manifest list / OCI index (PreserveOriginal imports).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub digest: String,
    #[serde(default)]
    pub media_type: String,
    #[serde(default)]
    pub manifest_size: i64,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

/// `dockerImageMetadata`: a DockerImage "1.0" object; upstream names its fields in PascalCase.
/// Its default has the kind and apiVersion upstream serializes (openshift/api
/// `image/docker10`), so an image made in code (an import, a manifest list) says them too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerImageMetadata {
    /// `DockerImage`; an empty one (stored before it was filled in) reads as that.
    #[serde(rename = "kind", default = "dim_kind", deserialize_with = "dim_kind_or_default")]
    pub kind: String,
    /// `image.openshift.io/1.0`; an empty one reads as that.
    #[serde(rename = "apiVersion", default = "dim_api_version", deserialize_with = "dim_api_version_or_default")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<DockerConfig>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<DockerConfig>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os: String,
    #[serde(default)]
    pub size: i64,
}

impl Default for DockerImageMetadata {
    fn default() -> Self {
        DockerImageMetadata {
            kind: dim_kind(),
            api_version: dim_api_version(),
            id: String::new(),
            parent: String::new(),
            comment: String::new(),
            created: String::new(),
            container: String::new(),
            container_config: None,
            docker_version: String::new(),
            author: String::new(),
            config: None,
            architecture: String::new(),
            os: String::new(),
            size: 0,
        }
    }
}

fn dim_kind_or_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let kind = String::deserialize(d)?;
    Ok(if kind.is_empty() { dim_kind() } else { kind })
}
fn dim_api_version_or_default<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let version = String::deserialize(d)?;
    Ok(if version.is_empty() { dim_api_version() } else { version })
}

fn dim_kind() -> String {
    "DockerImage".into()
}
fn dim_api_version() -> String {
    "image.openshift.io/1.0".into()
}

/// The container configuration inside `dockerImageMetadata`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}
