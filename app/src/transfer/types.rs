//! The transfer types: what server functions answer (catalog slices, image facts, rendered
//! parts …) and the forms they take (tag, import, webhook, token). Serde only, shared by the
//! server, the browser and the server crate's backend.
//!
//! Must not: hold rules (they are `domain`'s; `WebhookForm::to_webhook` only reshapes what was
//! typed), render markup or call server functions.

use super::error::ApiFailure;
use crate::model::{Image, ImageStream, Member, TagEventCondition, Webhook};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One stream row of the catalog: `oc get is` columns plus counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogStream {
    pub namespace: String,
    pub name: String,
    pub image_repository: String,
    pub tags: String,
    /// RFC 3339 time of the newest head, if any.
    pub updated: Option<String>,
    pub tag_count: usize,
    pub image_count: usize,
}

/// A read-only part of a page rendered on the server, with the global resourceVersion it was
/// read at (the live connection replays the changes after it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderedPart {
    pub html: String,
    pub resource_version: String,
}

/// A page of the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogSlice {
    pub streams: Vec<CatalogStream>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
    /// The global resourceVersion the page was read at (live updates follow from it).
    pub resource_version: String,
}

/// Where an image is (or was) tagged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageUse {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    /// When the tag pointed at the image.
    pub created: String,
    /// The tag points at it now.
    pub current: bool,
    /// The stream's repository in the portal's registry (`status.dockerImageRepository`;
    /// empty without a registry host): what the image page's pull commands name.
    #[serde(default)]
    pub repository: String,
}

/// What the portal's blob store holds of an image: all of it ("mirrored locally": the manifest
/// and every blob it refers to, and for an index every child), and the bytes stored for it.
/// Nothing stored: the registry pulls it through from its source on the first pull.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageStorage {
    pub mirrored: bool,
    pub stored_bytes: i64,
}

/// An image's size (its layers; a manifest list's: its stored children's) and how many
/// platforms it has (0: a single image; N: a manifest list, "multi-arch ×N").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageSummary {
    pub size: i64,
    pub platforms: i64,
}

/// The stream page's facts: the stream; per image a tag points at, its size and platforms;
/// and, per image a row of the tag table's page shows, its storage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamFacts {
    pub stream: ImageStream,
    pub storage: BTreeMap<String, ImageStorage>,
    #[serde(default)]
    pub images: BTreeMap<String, ImageSummary>,
}

/// The query of the stream page's tag table (`domain::tag_table::TagQuery`'s parameters, as
/// the address has them): filter, sort, page, rows per page.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagTableParams {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: String,
    #[serde(default)]
    pub per: String,
}

impl TagTableParams {
    pub fn query(&self) -> crate::domain::tag_table::TagQuery {
        fn some(s: &str) -> Option<&str> {
            Some(s).filter(|s| !s.is_empty())
        }
        crate::domain::tag_table::TagQuery::from_params(some(&self.q), some(&self.sort), some(&self.page), some(&self.per))
    }
}

/// What the stream page gets: its read-only part rendered on the server, and what the buttons
/// in that markup need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamPageData {
    pub part: RenderedPart,
    /// What "Import now" imports, per tag that has a registry source.
    pub import_forms: Vec<ImportForm>,
    /// Every tag name of the stream (aliases too): what the tag form offers as sources.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// One webhook of the webhooks page: its name and its facts, rendered on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookCard {
    pub name: String,
    pub html: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    pub image: Image,
    pub uses: Vec<ImageUse>,
    /// `get isimage … -o yaml --export` of the first stream using it, or the Image as YAML.
    pub yaml: String,
    /// What the blob store holds of it.
    #[serde(default)]
    pub storage: ImageStorage,
    /// The global resourceVersion read before the facts (the page's live connection replays
    /// every change after it).
    #[serde(default)]
    pub resource_version: String,
}

/// A move on the dashboard: the newest move of one tag, together with the tags of the same
/// stream that moved to the same image at the same moment (its aliases), so each tag appears
/// once and an alias never repeats its source's line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardMove {
    pub namespace: String,
    pub stream: String,
    /// The tags that moved together, the first one first seen (newest-first order).
    pub tags: Vec<String>,
    /// The image digest (`""` for a reference-only tag).
    pub image: String,
    pub docker_image_reference: String,
    pub created: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailingImport {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    pub condition: TagEventCondition,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    /// The latest moves, one line per tag (aliases folded in), newest first.
    pub moves: Vec<DashboardMove>,
    pub failing: Vec<FailingImport>,
    pub updated_today: Vec<CatalogStream>,
    /// How many streams changed since midnight UTC (the list above is capped).
    pub streams_today: u64,
    /// How many tags moved since midnight UTC.
    pub tags_today: u64,
    /// Tag moves per hour over the last day: 24 counts, oldest first; the last is the current
    /// (unfinished) hour.
    pub moves_per_hour: Vec<u64>,
    /// The hour (`YYYY-MM-DDTHH`, UTC) of the last count in `moves_per_hour`.
    pub current_hour: String,
    pub generated: String,
    /// The global resourceVersion read before the rest (the page's live connection replays
    /// every change after it, so a move between the render and the connection is not lost).
    #[serde(default)]
    pub resource_version: String,
}

/// The `tag` form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TagForm {
    pub namespace: String,
    /// The stream whose page the form is on (a bare destination tag is a tag of it).
    #[serde(default)]
    pub stream: String,
    /// Where the source is: `domain::tag_command::FROM_THIS_STREAM`, `FROM_OTHER_STREAM`,
    /// `FROM_REGISTRY`, or empty for the `tag` command's own reading of SOURCE.
    #[serde(default)]
    pub source_from: String,
    pub source: String,
    pub destination: String,
    pub mode: String,
    pub reference_policy: String,
    pub import_mode: String,
    /// Checkboxes: a plain HTML form sends them only when ticked.
    #[serde(default)]
    pub scheduled: bool,
    #[serde(default)]
    pub insecure: bool,
}

/// A running web import: images looked up of the total, and the result once finished.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportJob {
    pub done: usize,
    pub total: usize,
    /// `Some(Ok(summary))` or `Some(Err(failure))` once finished.
    pub result: Option<Result<String, ApiFailure>>,
}

/// A whole-server prune preview running in the background (`/admin/prune`): its phase
/// (`history`, `images`), steps done of the phase's total, and once finished the rendered
/// report (the streams and Images that lose something, at most `PRUNE_PREVIEW_LISTED` of each,
/// with the summary over everything) or the failure.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PruneJob {
    pub phase: String,
    pub done: usize,
    pub total: usize,
    pub result: Option<Result<String, ApiFailure>>,
}

/// How many streams (and Images) that lose something a prune preview in the browser lists; the
/// rest are counted in its summary (`imagestreams prune images -o json` lists everything).
pub const PRUNE_PREVIEW_LISTED: usize = 100;

/// The import form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportForm {
    pub namespace: String,
    pub stream: String,
    pub from: String,
    #[serde(default)]
    pub tag: String,
    /// Checkboxes: a plain HTML form sends them only when ticked.
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub scheduled: bool,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub import_mode: String,
}

/// The new-webhook form (`tags` as written: separated by commas or spaces).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookForm {
    pub namespace: String,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub tags: String,
    pub events: Vec<String>,
}

impl WebhookForm {
    /// The subscription this form describes (what the API would be sent).
    pub fn to_webhook(&self) -> Webhook {
        let mut w = Webhook::default();
        w.metadata.name = self.name.trim().to_string();
        w.metadata.namespace = Some(self.namespace.clone());
        w.spec.url = self.url.trim().to_string();
        w.spec.secret = Some(self.secret.clone());
        w.spec.tags = self.tags.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
        w.spec.events = self.events.clone();
        w
    }
}

/// The new-token form (`namespaces` as written: separated by commas or spaces; `expires_in_days`
/// empty for never).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenForm {
    pub name: String,
    pub namespaces: String,
    pub max_role: String,
    pub expires_in_days: String,
}

/// A namespace's settings page: its members, whether it is public, and what the caller may do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceSettings {
    pub members: Vec<Member>,
    pub public: bool,
    /// The caller administers the namespace (may change members and visibility, read the audit log).
    pub can_admin: bool,
    /// The bytes the portal's blob store holds for the namespace's images.
    #[serde(default)]
    pub storage_bytes: i64,
}
