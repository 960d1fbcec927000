//! Image-change webhooks (PRODUCT.md, "What it is": builds and deployments are told when a tag
//! moves): a per-namespace subscription (`Webhook`) naming a target URL, a write-only secret, which
//! `stream:tag`s and which events; and the delivery log (`WebhookDelivery` with its attempts). The
//! payload sent is a CloudEvents 1.0 JSON document (`CloudEvent`) whose `data` is an
//! `ImageChangeEvent`.
//!
//! Must not: carry a signing secret outbound, or decide what fires (`domain::triggers`).

use super::ObjectMeta;
use serde::{Deserialize, Serialize};

/// The events a subscription can ask for (`spec.events`).
pub const EVENT_IMAGE_CHANGED: &str = "ImageChanged";
pub const EVENT_TAG_DELETED: &str = "TagDeleted";
pub const EVENT_IMPORT_FAILED: &str = "ImportFailed";
pub const WEBHOOK_EVENTS: [&str; 3] = [EVENT_IMAGE_CHANGED, EVENT_TAG_DELETED, EVENT_IMPORT_FAILED];

/// CloudEvents `type` of each event, and of the "send test event" ping.
pub const CE_TYPE_IMAGE_CHANGED: &str = "io.imagestreams.image.changed";
pub const CE_TYPE_TAG_DELETED: &str = "io.imagestreams.tag.deleted";
pub const CE_TYPE_IMPORT_FAILED: &str = "io.imagestreams.import.failed";
pub const CE_TYPE_TEST: &str = "io.imagestreams.webhook.test";

/// The header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Imagestreams-Signature";
/// The header carrying the delivery id (a redelivery has a new one, the same CloudEvent id).
pub const DELIVERY_HEADER: &str = "X-Imagestreams-Delivery";

/// The CloudEvents `type` of a subscription event name.
pub fn cloud_event_type(event: &str) -> &'static str {
    match event {
        EVENT_TAG_DELETED => CE_TYPE_TAG_DELETED,
        EVENT_IMPORT_FAILED => CE_TYPE_IMPORT_FAILED,
        EVENT_IMAGE_CHANGED => CE_TYPE_IMAGE_CHANGED,
        _ => CE_TYPE_TEST,
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    #[serde(default = "v1")]
    pub api_version: String,
    #[serde(default = "kind")]
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: WebhookSpec,
    #[serde(default)]
    pub status: WebhookStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    /// Where deliveries are POSTed (`http://` or `https://`).
    #[serde(default)]
    pub url: String,
    /// The signing secret: accepted on create and update, never sent back. On update, leaving
    /// it out keeps the stored one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// `stream:tag`, `stream:*` or `*:*`.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Some of `ImageChanged`, `TagDeleted`, `ImportFailed`; empty means `ImageChanged`.
    #[serde(default)]
    pub events: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookStatus {
    /// Deliveries waiting to be sent (or retried).
    #[serde(default)]
    pub pending: i64,
    /// The newest finished delivery: state and time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<WebhookDelivery>,
}

/// One event queued for one subscription, and what became of it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: i64,
    /// The CloudEvent id (kept by redeliveries, so receivers can deduplicate).
    pub event_id: String,
    /// CloudEvents type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `stream:tag`.
    pub subject: String,
    pub created: String,
    /// `Pending`, `Delivered` or `Failed` (attempts exhausted).
    pub state: String,
    pub attempts: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivery_of: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempt_log: Vec<DeliveryAttempt>,
}

pub const DELIVERY_PENDING: &str = "Pending";
pub const DELIVERY_DELIVERED: &str = "Delivered";
pub const DELIVERY_FAILED: &str = "Failed";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryAttempt {
    pub attempt: i64,
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A CloudEvents 1.0 event in structured JSON mode.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    pub data: ImageChangeEvent,
}

/// What happened to one tag.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChangeEvent {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    /// The head's image before and after (digests); `None` when there was (is) no head.
    pub old_image: Option<String>,
    pub new_image: Option<String>,
    /// The pull spec a trigger resolves for the head before and after (spec §7.1).
    pub old_pull_spec: Option<String>,
    pub pull_spec: Option<String>,
    pub resource_version: String,
    /// For ImportFailed: the condition's reason and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

fn v1() -> String {
    "v1".into()
}
fn kind() -> String {
    "Webhook".into()
}
