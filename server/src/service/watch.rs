//! Watching image streams (PRODUCT "Watch"): a watch from resourceVersion N first replays every
//! stored change after N from the event log, in order, then follows new ones as commits
//! announce them. A version older than the retained log answers 410 Gone (reason Expired).
//! Idle watchers hold only a small state and a `watch` receiver: no polling while nothing moves.

use super::{Caller, Service, Verb, db};
use crate::store;
use app::model::*;
use futures::Stream;
use serde::Serialize;
use std::pin::Pin;
use std::time::Duration;

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchRequest {
    pub namespace: Option<String>,
    /// `fieldSelector=metadata.name=<name>`.
    pub name: Option<String>,
    /// Replay changes after this version; `None` starts with the current streams as ADDED.
    pub resource_version: Option<i64>,
    /// Send BOOKMARK events while idle.
    pub bookmarks: bool,
    pub bookmark_interval: Duration,
}

#[derive(Serialize)]
struct WatchLine<'a, T: Serialize> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: T,
}

pub type WatchStream = Pin<Box<dyn Stream<Item = String> + Send>>;

/// 410 Gone, reason Expired: the version was trimmed from the event log.
fn expired(rv: i64, horizon: i64) -> ApiError {
    let mut e = ApiError::bad_request(format!("too old resource version: {rv} ({horizon})"));
    e.status.reason = "Expired".into();
    e.status.code = 410;
    e
}

/// Parses a `fieldSelector` (`metadata.name=x,metadata.namespace=y`).
pub fn parse_field_selector(s: &str) -> Result<(Option<String>, Option<String>), ApiError> {
    let (mut name, mut namespace) = (None, None);
    for part in s.split(',').filter(|p| !p.is_empty()) {
        let (field, value) = part
            .split_once("==")
            .or_else(|| part.split_once('='))
            .ok_or_else(|| ApiError::bad_request(format!("invalid selector: {part:?}; expected field=value")))?;
        match field {
            "metadata.name" => name = Some(value.to_string()),
            "metadata.namespace" => namespace = Some(value.to_string()),
            other => return Err(ApiError::bad_request(format!("field label not supported: {other}"))),
        }
    }
    Ok((name, namespace))
}

impl Service {
    fn line(&self, event_type: &str, object_json: &str) -> Option<String> {
        let stream: ImageStream = serde_json::from_str(object_json).ok()?;
        serde_json::to_string(&WatchLine { event_type, object: self.decorate(stream) }).ok()
    }

    /// Starts a watch. Errors (410 for a trimmed version) come before the first byte.
    pub async fn watch_streams(&self, caller: &Caller, req: WatchRequest) -> Result<WatchStream, ApiError> {
        self.allow(caller, Verb::List, "imagestreams", req.namespace.as_deref())?;
        let mut conn = self.store.read().await.map_err(db)?;
        if let Some(ns) = &req.namespace {
            self.require_namespace(&mut conn, ns).await?;
        }
        let horizon = store::watch_horizon(&mut conn).await.map_err(db)?;
        let mut initial: Vec<String> = vec![];
        let from = match req.resource_version {
            Some(rv) if rv < horizon => return Err(expired(rv, horizon)),
            Some(rv) => rv,
            None => {
                // Like Kubernetes: the current objects as ADDED, then changes after them.
                let rv = store::current_resource_version(&mut conn).await.map_err(db)?;
                let mut after = (String::new(), String::new());
                loop {
                    let page = store::list_streams(&mut conn, req.namespace.as_deref(), (&after.0, &after.1), 200).await.map_err(db)?;
                    let Some(last) = page.last() else { break };
                    after = (last.stream.namespace().to_string(), last.stream.metadata.name.clone());
                    for s in page.into_iter().filter(|s| req.name.as_ref().is_none_or(|n| *n == s.stream.metadata.name)) {
                        if let Ok(line) = serde_json::to_string(&WatchLine { event_type: "ADDED", object: self.decorate(s.stream) }) {
                            initial.push(line);
                        }
                    }
                }
                rv
            }
        };
        drop(conn);
        let service = self.clone();
        // One receiver for the life of the watch, so it remembers what it has seen.
        let changes = std::sync::Arc::new(tokio::sync::Mutex::new(self.subscribe_changes()));
        let stream = async_stream(initial, from, move |mut position| {
            let service = service.clone();
            let req = req.clone();
            let changes = changes.clone();
            async move {
                let mut changes = changes.lock().await;
                loop {
                    let Ok(mut conn) = service.store.read().await else { return None };
                    let Ok(now) = store::current_resource_version(&mut conn).await else { return None };
                    let Ok(horizon) = store::watch_horizon(&mut conn).await else { return None };
                    if position < horizon {
                        let e = expired(position, horizon);
                        let line = serde_json::to_string(&WatchLine { event_type: "ERROR", object: &*e.status }).ok()?;
                        return Some((vec![line], i64::MAX));
                    }
                    let Ok(events) = store::events_after(&mut conn, position, req.namespace.as_deref(), req.name.as_deref(), 500).await
                    else {
                        return None;
                    };
                    drop(conn);
                    if let Some(last) = events.last() {
                        let next = last.resource_version;
                        let lines = events.iter().filter_map(|e| service.line(&e.event_type, &e.object)).collect();
                        return Some((lines, next));
                    }
                    // Nothing for us up to `now`: that is our position now.
                    position = position.max(now);
                    let waited = tokio::time::timeout(req.bookmark_interval, changes.changed()).await;
                    match waited {
                        Ok(Ok(())) => continue,
                        Ok(Err(_)) => return None,
                        Err(_) if req.bookmarks => {
                            let meta = ObjectMeta { resource_version: Some(position.to_string()), ..Default::default() };
                            let bookmark = ImageStream { metadata: meta, ..ImageStream::new("", "") };
                            let mut v = serde_json::to_value(&WatchLine { event_type: "BOOKMARK", object: bookmark }).ok()?;
                            // A bookmark carries only kind, apiVersion and the version.
                            if let Some(o) = v.get_mut("object").and_then(|o| o.as_object_mut()) {
                                o.retain(|k, _| k == "kind" || k == "apiVersion" || k == "metadata");
                            }
                            return Some((vec![v.to_string()], position));
                        }
                        Err(_) => continue,
                    }
                }
            }
        });
        Ok(stream)
    }
}

/// A stream of lines: `initial` first, then batches produced by `next(position)` until it
/// returns `None` (or a position of `i64::MAX`, after an ERROR line).
fn async_stream<F, Fut>(initial: Vec<String>, from: i64, next: F) -> WatchStream
where
    F: Fn(i64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<(Vec<String>, i64)>> + Send + 'static,
{
    use futures::StreamExt;
    let first = futures::stream::iter(initial);
    let rest = futures::stream::unfold(Some(from), move |position| {
        let fut = position.filter(|p| *p != i64::MAX).map(&next);
        async move {
            let (lines, next_position) = fut?.await?;
            Some((futures::stream::iter(lines), Some(next_position)))
        }
    })
    .flatten();
    Box::pin(first.chain(rest))
}

impl Service {
    /// Trims the event log: events older than `max_age`, and all but the newest `keep`.
    /// Watches from a trimmed version then get 410 Gone. Returns how many were dropped.
    pub async fn trim_watch_events(&self, max_age: Duration, keep: i64) -> Result<u64, ApiError> {
        let before = (self.clock_now() - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::hours(1)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut tx = self.store.begin().await.map_err(db)?;
        let n = store::trim_events(&mut tx, &before, keep.max(0)).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }
}

impl Service {
    /// The newest resource version (where a live page starts following).
    pub async fn current_resource_version(&self) -> Result<i64, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        store::current_resource_version(&mut conn).await.map_err(db)
    }
}
