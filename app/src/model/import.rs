//! ImageStreamImport (spec §1.6): a create-only request that looks images up in registries and,
//! unless `spec.import` is false, writes them into the stream.
//!
//! Must not: hold the import rules (`domain::imports`).

use super::{IMAGE_API_VERSION, Image, ImageStream, ObjectMeta, ObjectReference, TagImportPolicy, TagReferencePolicy};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamImport {
    #[serde(default = "api_version")]
    pub api_version: String,
    #[serde(default = "kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ImageStreamImportSpec,
    #[serde(default)]
    pub status: ImageStreamImportStatus,
}

fn api_version() -> String {
    IMAGE_API_VERSION.into()
}
fn kind() -> String {
    "ImageStreamImport".into()
}

impl ImageStreamImport {
    pub fn new(namespace: &str, name: &str, import: bool) -> Self {
        ImageStreamImport {
            api_version: api_version(),
            kind: kind(),
            metadata: ObjectMeta::named(Some(namespace), name),
            spec: ImageStreamImportSpec { import, ..Default::default() },
            status: ImageStreamImportStatus::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamImportSpec {
    #[serde(default)]
    pub import: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryImportSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageImportSpec>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryImportSpec {
    pub from: ObjectReference,
    #[serde(default)]
    pub import_policy: TagImportPolicy,
    #[serde(default)]
    pub reference_policy: TagReferencePolicy,
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub include_manifest: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalObjectReference {
    #[serde(default)]
    pub name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageImportSpec {
    pub from: ObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<LocalObjectReference>,
    #[serde(default)]
    pub import_policy: TagImportPolicy,
    #[serde(default)]
    pub reference_policy: TagReferencePolicy,
    #[serde(default, skip_serializing_if = "super::is_false")]
    pub include_manifest: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamImportStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImageStream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryImportStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageImportStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryImportStatus {
    pub status: OperationStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageImportStatus>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_tags: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageImportStatus {
    pub status: OperationStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Image>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<Image>,
}

/// A `metav1.Status` as it appears inside import results: `Success`, or `Failure` with reason,
/// message and code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationStatus {
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: u16,
}

fn is_zero(c: &u16) -> bool {
    *c == 0
}

impl OperationStatus {
    pub fn success() -> Self {
        OperationStatus { status: "Success".into(), ..Default::default() }
    }
    pub fn failure(reason: &str, message: impl Into<String>, code: u16) -> Self {
        OperationStatus { status: "Failure".into(), message: message.into(), reason: reason.into(), code }
    }
    pub fn is_success(&self) -> bool {
        self.status == "Success"
    }
}
