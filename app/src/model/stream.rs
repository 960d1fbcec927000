//! ImageStream and its virtual views (ImageStreamTag, ImageStreamImage), ImageStreamMapping.
//! Wire order and defaults follow spec §1.2: spec and status tags are lists sorted by name.
//!
//! Must not: hold rules (`domain::streams`, `domain::history`, `domain::lookup`).

use super::{IMAGE_API_VERSION, Image, ObjectMeta};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStream {
    #[serde(default = "image_api_version")]
    pub api_version: String,
    #[serde(default = "kind_image_stream")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: ImageStreamSpec,
    #[serde(default)]
    pub status: ImageStreamStatus,
}

fn image_api_version() -> String {
    IMAGE_API_VERSION.into()
}
fn kind_image_stream() -> String {
    "ImageStream".into()
}

impl ImageStream {
    pub fn new(namespace: &str, name: &str) -> Self {
        ImageStream {
            api_version: image_api_version(),
            kind: kind_image_stream(),
            metadata: ObjectMeta::named(Some(namespace), name),
            spec: ImageStreamSpec::default(),
            status: ImageStreamStatus::default(),
        }
    }

    pub fn namespace(&self) -> &str {
        self.metadata.namespace.as_deref().unwrap_or_default()
    }

    /// The spec tag named `tag`. The list is kept sorted by name (`normalize_tag_lists`), so it
    /// is searched by halving; one not sorted yet is searched whole when that misses.
    pub fn spec_tag(&self, tag: &str) -> Option<&TagReference> {
        match self.spec.tags.binary_search_by(|t| t.name.as_str().cmp(tag)) {
            Ok(p) => Some(&self.spec.tags[p]),
            Err(_) => self.spec.tags.iter().find(|t| t.name == tag),
        }
    }

    pub fn spec_tag_mut(&mut self, tag: &str) -> Option<&mut TagReference> {
        self.spec.tags.iter_mut().find(|t| t.name == tag)
    }

    /// The status tag named `tag`, searched as [`spec_tag`](Self::spec_tag) is.
    pub fn status_tag(&self, tag: &str) -> Option<&NamedTagEventList> {
        match self.status.tags.binary_search_by(|t| t.tag.as_str().cmp(tag)) {
            Ok(p) => Some(&self.status.tags[p]),
            Err(_) => self.status.tags.iter().find(|t| t.tag == tag),
        }
    }

    /// The status tag, created (in sorted position) when missing.
    pub fn status_tag_entry(&mut self, tag: &str) -> &mut NamedTagEventList {
        let pos = match self.status.tags.binary_search_by(|t| t.tag.as_str().cmp(tag)) {
            Ok(p) => p,
            Err(p) => {
                self.status.tags.insert(p, NamedTagEventList { tag: tag.into(), items: None, conditions: vec![] });
                p
            }
        };
        &mut self.status.tags[pos]
    }

    /// Inserts or replaces a spec tag, keeping the list sorted.
    pub fn set_spec_tag(&mut self, tag: TagReference) {
        match self.spec.tags.binary_search_by(|t| t.name.as_str().cmp(&tag.name)) {
            Ok(p) => self.spec.tags[p] = tag,
            Err(p) => self.spec.tags.insert(p, tag),
        }
    }

    /// The newest history item of a tag (spec "head").
    pub fn head(&self, tag: &str) -> Option<&TagEvent> {
        self.status_tag(tag).and_then(|t| t.items.as_ref()).and_then(|i| i.first())
    }

    /// Restores upstream's map semantics on a submitted object: a later duplicate spec tag wins,
    /// names inside tags equal their keys, and both lists are sorted by name (spec §1.1).
    pub fn normalize_tag_lists(&mut self) {
        let mut spec: BTreeMap<String, TagReference> = BTreeMap::new();
        for t in self.spec.tags.drain(..) {
            spec.insert(t.name.clone(), t);
        }
        self.spec.tags = spec.into_values().collect();
        let mut status: BTreeMap<String, NamedTagEventList> = BTreeMap::new();
        for t in self.status.tags.drain(..) {
            status.insert(t.tag.clone(), t);
        }
        self.status.tags = status.into_values().collect();
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamSpec {
    #[serde(default)]
    pub lookup_policy: ImageLookupPolicy,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_image_repository: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagReference>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageLookupPolicy {
    #[serde(default)]
    pub local: bool,
}

/// A spec tag: what the tag should point at.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagReference {
    #[serde(default)]
    pub name: String,
    /// Not omitempty upstream: serialised as `null` when unset.
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ObjectReference>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub reference: bool,
    /// Not omitempty upstream (a pointer): `null` when unset.
    #[serde(default)]
    pub generation: Option<i64>,
    #[serde(default)]
    pub import_policy: TagImportPolicy,
    #[serde(default)]
    pub reference_policy: TagReferencePolicy,
}

pub fn is_false(b: &bool) -> bool {
    !*b
}

/// The source of a spec tag (a corev1 ObjectReference reduced to what image streams use).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectReference {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

pub const KIND_DOCKER_IMAGE: &str = "DockerImage";
pub const KIND_IMAGE_STREAM_TAG: &str = "ImageStreamTag";
pub const KIND_IMAGE_STREAM_IMAGE: &str = "ImageStreamImage";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagImportPolicy {
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub scheduled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub import_mode: String,
}

pub const IMPORT_MODE_LEGACY: &str = "Legacy";
pub const IMPORT_MODE_PRESERVE_ORIGINAL: &str = "PreserveOriginal";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagReferencePolicy {
    #[serde(rename = "type", default)]
    pub kind: String,
}

impl Default for TagReferencePolicy {
    fn default() -> Self {
        TagReferencePolicy { kind: REFERENCE_POLICY_SOURCE.into() }
    }
}

pub const REFERENCE_POLICY_SOURCE: &str = "Source";
pub const REFERENCE_POLICY_LOCAL: &str = "Local";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamStatus {
    /// Not omitempty: `""` when there is no registry.
    #[serde(default)]
    pub docker_image_repository: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub public_docker_image_repository: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<NamedTagEventList>,
}

/// The history of one tag, newest first, and its conditions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamedTagEventList {
    pub tag: String,
    /// Not omitempty upstream: `null` when only conditions exist.
    #[serde(default)]
    pub items: Option<Vec<TagEvent>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TagEventCondition>,
}

impl NamedTagEventList {
    pub fn items(&self) -> &[TagEvent] {
        self.items.as_deref().unwrap_or_default()
    }
}

/// One history item: the tag pointed at `image` (pull spec `dockerImageReference`) from `created`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagEvent {
    pub created: String,
    pub docker_image_reference: String,
    /// `""` for reference-only tags.
    #[serde(default)]
    pub image: String,
    pub generation: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TagEventCondition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    pub generation: i64,
}

pub const CONDITION_IMPORT_SUCCESS: &str = "ImportSuccess";

/// The virtual view of one tag: `<stream>:<tag>` (spec §1.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamTag {
    #[serde(default = "image_api_version")]
    pub api_version: String,
    #[serde(default = "kind_istag")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub tag: Option<TagReference>,
    #[serde(default)]
    pub generation: i64,
    #[serde(default)]
    pub lookup_policy: ImageLookupPolicy,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<TagEventCondition>,
    #[serde(default)]
    pub image: Image,
}

fn kind_istag() -> String {
    "ImageStreamTag".into()
}

impl ImageStreamTag {
    /// The body of a PUT/POST that sets `<stream>:<tag>` to `tag` (as `oc tag` sends it).
    pub fn setting(namespace: &str, stream: &str, tag: TagReference) -> Self {
        ImageStreamTag {
            api_version: image_api_version(),
            kind: kind_istag(),
            metadata: ObjectMeta::named(Some(namespace), &format!("{stream}:{}", tag.name)),
            tag: Some(tag),
            generation: 0,
            lookup_policy: ImageLookupPolicy::default(),
            conditions: vec![],
            image: Image::default(),
        }
    }
}

/// The virtual view of one image of a stream: `<stream>@<id>` (spec §1.5).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamImage {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub image: Image,
}

/// How a pushed image enters a stream (spec §1.7, §3.8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamMapping {
    #[serde(default = "image_api_version")]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub image: Image,
    #[serde(default)]
    pub tag: String,
}
