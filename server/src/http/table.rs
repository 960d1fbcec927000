//! Server-side printing: the `Table` (`meta.k8s.io/v1`) answer a client gets when it asks for one
//! (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what `kubectl get` sends), so
//! `kubectl get is` and `get istag` print the columns `oc` prints: image streams NAME, IMAGE
//! REPOSITORY, TAGS, UPDATED; image stream tags NAME, IMAGE REFERENCE, UPDATED (and IMAGE NAME at
//! priority 1, for `-o wide`); namespaces NAME, STATUS, AGE. Cells are what the CLI prints, from
//! the same `app::domain::present` rules. Each row carries the object's metadata
//! (`PartialObjectMetadata`), as upstream's default `includeObject=Metadata`.
//!
//! Must not: decide anything about the objects (it only formats what a handler got from the
//! service).

use super::{ApiResult, respond};
use app::domain::present::{ago, image_repository_column, last_updated, tags_by_recency, tags_column};
use app::model::{ImageStream, ImageStreamTag, List, Namespace, ObjectMeta};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

/// Whether the client asked for a `Table` (the first media type it accepts that we serve).
pub fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').next().is_some_and(|first| first.contains("as=Table") && first.contains("g=meta.k8s.io")))
}

/// One column: its name as kubectl prints it (upper-cased), type, and priority (1: `-o wide`).
struct Column {
    name: &'static str,
    format: &'static str,
    description: &'static str,
    priority: u8,
}

/// What a printable object gives the table.
pub trait Printable: Serialize {
    fn columns() -> Vec<(&'static str, &'static str, &'static str, u8)>;
    fn cells(&self, now: DateTime<Utc>) -> Vec<Value>;
    fn meta(&self) -> &ObjectMeta;
}

fn definitions<T: Printable>() -> Vec<Column> {
    T::columns().into_iter().map(|(name, format, description, priority)| Column { name, format, description, priority }).collect()
}

fn table<T: Printable>(items: &[T], resource_version: Option<&str>, continue_token: Option<&str>, now: DateTime<Utc>) -> Value {
    let columns: Vec<Value> = definitions::<T>()
        .iter()
        .map(|c| json!({"name": c.name, "type": "string", "format": c.format, "description": c.description, "priority": c.priority}))
        .collect();
    let rows: Vec<Value> = items
        .iter()
        .map(|item| {
            json!({
                "cells": item.cells(now),
                "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": item.meta()},
            })
        })
        .collect();
    let mut metadata = serde_json::Map::new();
    if let Some(rv) = resource_version {
        metadata.insert("resourceVersion".into(), json!(rv));
    }
    if let Some(c) = continue_token.filter(|c| !c.is_empty()) {
        metadata.insert("continue".into(), json!(c));
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": columns, "rows": rows})
}

/// A list as the client asked: a `Table` or the list itself.
pub fn respond_list<T: Printable>(headers: &HeaderMap, list: &List<T>, now: DateTime<Utc>) -> ApiResult {
    if wants_table(headers) {
        let t = table(&list.items, list.metadata.resource_version.as_deref(), list.metadata.continue_token.as_deref(), now);
        return respond(headers, StatusCode::OK, &t);
    }
    respond(headers, StatusCode::OK, list)
}

/// One object as the client asked: a one-row `Table` or the object.
pub fn respond_one<T: Printable>(headers: &HeaderMap, item: &T, now: DateTime<Utc>) -> ApiResult {
    if wants_table(headers) {
        return respond(headers, StatusCode::OK, &table(std::slice::from_ref(item), item.meta().resource_version.as_deref(), None, now));
    }
    respond(headers, StatusCode::OK, item)
}

/// A watch line (`{"type","object"}` and its newline) as a watch that asked for a `Table` gets
/// it, as the Kubernetes API server converts it (`kubectl get -w`): an object event's object
/// becomes a one-row `Table` with the same columns as the list, so kubectl goes on printing
/// rows under the list's header; a BOOKMARK or an ERROR (a `Status`) is passed on as it is, and
/// so is a line that does not parse as an event of `T` (none is expected).
pub fn watch_line_as_table<T: Printable + serde::de::DeserializeOwned>(line: &[u8], now: DateTime<Utc>) -> Option<bytes::Bytes> {
    let mut event: Value = serde_json::from_slice(line).ok()?;
    if !matches!(event["type"].as_str(), Some("ADDED" | "MODIFIED" | "DELETED")) {
        return None;
    }
    let item: T = serde_json::from_value(event["object"].take()).ok()?;
    let table = table(std::slice::from_ref(&item), item.meta().resource_version.as_deref(), None, now);
    let mut out = serde_json::to_vec(&json!({"type": event["type"], "object": table})).ok()?;
    out.push(b'\n');
    Some(out.into())
}

impl Printable for ImageStream {
    fn columns() -> Vec<(&'static str, &'static str, &'static str, u8)> {
        vec![
            ("Name", "name", "Name of the image stream.", 0),
            ("Image Repository", "", "Where the stream's images can be pulled from.", 0),
            ("Tags", "", "The tags with an image, most recently updated first.", 0),
            ("Updated", "", "When a tag of the stream last moved.", 0),
        ]
    }
    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            json!(self.metadata.name),
            json!(image_repository_column(self)),
            json!(tags_column(&tags_by_recency(self))),
            json!(last_updated(self).map(|t| ago(&t, now)).unwrap_or_default()),
        ]
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl Printable for ImageStreamTag {
    fn columns() -> Vec<(&'static str, &'static str, &'static str, u8)> {
        vec![
            ("Name", "name", "Name of the image stream tag (<stream>:<tag>).", 0),
            ("Image Reference", "", "The pull spec of the tag's image.", 0),
            ("Updated", "", "When the tag last moved.", 0),
            ("Image Name", "", "The image's digest.", 1),
        ]
    }
    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        vec![
            json!(self.metadata.name),
            json!(self.image.docker_image_reference),
            json!(ago(self.metadata.creation_timestamp.as_deref().unwrap_or_default(), now)),
            json!(self.image.metadata.name),
        ]
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

impl Printable for Namespace {
    fn columns() -> Vec<(&'static str, &'static str, &'static str, u8)> {
        vec![
            ("Name", "name", "Name of the namespace.", 0),
            ("Status", "", "The namespace's phase.", 0),
            ("Age", "", "How long ago it was created.", 0),
        ]
    }
    fn cells(&self, now: DateTime<Utc>) -> Vec<Value> {
        let age = app::domain::present::parse_time(self.metadata.creation_timestamp.as_deref().unwrap_or_default())
            .map(|t| short_age(now - t))
            .unwrap_or_default();
        vec![json!(self.metadata.name), json!(self.status.phase), json!(age)]
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
}

/// An age as kubectl prints it (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`): `45s`,
/// `3m20s`, `2h5m`, `3d4h`, `400d`, `3y12d`.
fn short_age(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    if s < -1 {
        return "<invalid>".into();
    }
    let s = s.max(0);
    let (m, h) = (s / 60, s / 3600);
    let with = |big: i64, unit: &str, small: i64, unit2: &str| {
        if small == 0 { format!("{big}{unit}") } else { format!("{big}{unit}{small}{unit2}") }
    };
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => with(m, "m", s % 60, "s"),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => with(h, "h", m % 60, "m"),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => with(h / 24, "d", h % 24, "h"),
        _ if h < 24 * 365 * 2 => format!("{}d", h / 24),
        _ if h < 24 * 365 * 8 => with(h / 24 / 365, "y", (h / 24) % 365, "d"),
        _ => format!("{}y", h / 24 / 365),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_print_as_kubectl_prints_them() {
        let age = |s: i64| super::short_age(chrono::Duration::seconds(s));
        assert_eq!(age(45), "45s");
        assert_eq!(age(200), "3m20s");
        assert_eq!(age(600), "10m");
        assert_eq!(age(3 * 3600 + 300), "3h5m");
        assert_eq!(age(30 * 3600), "30h");
        assert_eq!(age(3 * 86400 + 4 * 3600), "3d4h");
        assert_eq!(age(400 * 86400), "400d");
    }

    use super::*;

    #[test]
    fn kubectl_get_asks_for_a_table_first() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
                .parse()
                .unwrap(),
        );
        assert!(wants_table(&h));
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!wants_table(&h));
    }
}
