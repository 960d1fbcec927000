//! Watching image streams (PRODUCT "Watch"): a watch from resourceVersion N first replays every
//! stored change after N from the event log, in order, then follows new ones as commits
//! announce them. A version older than the retained log answers 410 Gone (reason Expired).
//! Idle watchers hold only a small state and a `watch` receiver: no polling while nothing moves.
//!
//! Must not: hold a read transaction while a watcher is slow, or send an event of a namespace
//! the caller may not read.

use super::{Caller, Service, TaskGuard, Verb, db};
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
    /// Set by the watch from the caller: across namespaces, only these (`None`: all).
    pub visible: Option<std::collections::BTreeSet<String>>,
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
    fn line(&self, event_type: &str, stream: ImageStream) -> Option<String> {
        serde_json::to_string(&WatchLine { event_type, object: self.with_public_repository(stream) }).ok()
    }

    /// Starts a watch. Errors (410 for a trimmed version) come before the first byte.
    pub async fn watch_streams(&self, caller: &Caller, mut req: WatchRequest) -> Result<WatchStream, ApiError> {
        self.allow(caller, Verb::List, "imagestreams", req.namespace.as_deref())?;
        req.visible = if req.namespace.is_none() { caller.visible_namespaces().map(|v| v.into_iter().collect()) } else { None };
        let scope: Option<Vec<String>> = req.visible.as_ref().map(|v| v.iter().cloned().collect());
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
                    let page = store::list_streams(&mut conn, req.namespace.as_deref(), (&after.0, &after.1), 200, scope.as_deref())
                        .await
                        .map_err(db)?;
                    let Some(last) = page.last() else { break };
                    after = (last.stream.namespace().to_string(), last.stream.metadata.name.clone());
                    for s in page.into_iter().filter(|s| req.name.as_ref().is_none_or(|n| *n == s.stream.metadata.name)) {
                        if let Ok(line) =
                            serde_json::to_string(&WatchLine { event_type: "ADDED", object: self.with_public_repository(s.stream) })
                        {
                            initial.push(line);
                        }
                    }
                }
                rv
            }
        };
        drop(conn);
        let service = self.clone();
        // Subscribe before catching up, so nothing published meanwhile is missed. A watch from
        // at or after what the hub has published needs no catch-up from the log at all.
        let hub = self.watch_hub();
        let batches = hub.batches.subscribe();
        let published = hub.published.load(std::sync::atomic::Ordering::Acquire);
        let follow = Follow { position: from, batches, catch_up: published < 0 || from < published };
        // One shared context per watch: each step's future then holds a pointer, not copies.
        let ctx = std::sync::Arc::new((service, req));
        Ok(async_stream(initial, follow, move |mut st| {
            let ctx = ctx.clone();
            async move {
                let lines = ctx.0.follow(&ctx.1, &mut st).await?;
                Some((lines, st))
            }
        }))
    }

    /// The next lines of one watch (`st.position` moves past them). Catching up (at the
    /// start, or after falling behind the hub) reads the event log; following reads the hub's
    /// batches, which every watcher shares.
    async fn follow(&self, req: &WatchRequest, st: &mut Follow) -> Option<Vec<String>> {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            if st.position == i64::MAX {
                return None;
            }
            if st.catch_up {
                // Boxed: an idle watcher waits below, and must not carry the (large) state of
                // database futures inline.
                match Box::pin(self.catch_up(req, st.position)).await? {
                    CatchUp::Lines(lines, next) => {
                        st.position = next;
                        return Some(lines);
                    }
                    CatchUp::Current(now) => {
                        st.position = st.position.max(now);
                        st.catch_up = false;
                    }
                }
            }
            let position = st.position;
            // Only a watch with bookmarks needs a timer while idle.
            let received = if req.bookmarks {
                tokio::time::timeout(req.bookmark_interval, st.batches.recv()).await
            } else {
                Ok(st.batches.recv().await)
            };
            match received {
                Ok(Ok(batch)) => {
                    if batch.upto <= position {
                        continue;
                    }
                    if batch.after > position {
                        st.catch_up = true;
                        continue;
                    }
                    let lines: Vec<String> = batch
                        .events
                        .iter()
                        .filter(|e| e.resource_version > position)
                        .filter(|e| req.namespace.as_ref().is_none_or(|n| *n == e.namespace))
                        .filter(|e| req.name.as_ref().is_none_or(|n| *n == e.name))
                        .filter(|e| req.visible.as_ref().is_none_or(|v| v.contains(&e.namespace)))
                        .map(|e| e.line.to_string())
                        .collect();
                    st.position = batch.upto;
                    if !lines.is_empty() {
                        return Some(lines);
                    }
                }
                Ok(Err(RecvError::Lagged(_))) => st.catch_up = true,
                Ok(Err(RecvError::Closed)) => return None,
                Err(_) if req.bookmarks => {
                    let meta = ObjectMeta { resource_version: Some(position.to_string()), ..Default::default() };
                    let bookmark = ImageStream { metadata: meta, ..ImageStream::new("", "") };
                    let mut v = serde_json::to_value(&WatchLine { event_type: "BOOKMARK", object: bookmark }).ok()?;
                    // A bookmark carries only kind, apiVersion and the version.
                    if let Some(o) = v.get_mut("object").and_then(|o| o.as_object_mut()) {
                        o.retain(|k, _| k == "kind" || k == "apiVersion" || k == "metadata");
                    }
                    return Some(vec![v.to_string()]);
                }
                Err(_) => {}
            }
        }
    }

    /// Reads the event log after `position`: its next events, or (none left) the current
    /// version. A trimmed position yields the ERROR line and ends the watch.
    async fn catch_up(&self, req: &WatchRequest, position: i64) -> Option<CatchUp> {
        let mut conn = self.store.read().await.ok()?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await.ok()?;
        let now = store::current_resource_version(&mut tx).await.ok()?;
        let horizon = store::watch_horizon(&mut tx).await.ok()?;
        if position < horizon {
            let e = expired(position, horizon);
            let line = serde_json::to_string(&WatchLine { event_type: "ERROR", object: &*e.status }).ok()?;
            return Some(CatchUp::Lines(vec![line], i64::MAX));
        }
        let events = store::events_after(&mut tx, position, req.namespace.as_deref(), req.name.as_deref(), 500).await.ok()?;
        drop(tx);
        Some(match events.last().map(|last| last.resource_version) {
            Some(last) => CatchUp::Lines(
                events
                    .into_iter()
                    .filter(|e| req.visible.as_ref().is_none_or(|v| v.contains(&e.namespace)))
                    .filter_map(|e| self.line(&e.event_type, e.object.0))
                    .collect(),
                last,
            ),
            None => CatchUp::Current(now),
        })
    }

    /// The hub every watch follows, started with the first watch.
    fn watch_hub(&self) -> &WatchHub {
        self.watch_hub.get_or_init(|| {
            let batches = tokio::sync::broadcast::channel(HUB_CAPACITY).0;
            let published = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(-1));
            // The reader holds a service without the hub (no cycle): when the last service is
            // dropped, so is the hub, and its guard stops the reader.
            let reader = Service { watch_hub: std::sync::Arc::new(std::sync::OnceLock::new()), ..self.clone() };
            let tail = TaskGuard::spawn(reader.tail(batches.clone(), published.clone()));
            WatchHub { batches, published, _tail: tail }
        })
    }

    /// The hub's one reader of the event log: after every commit it reads what is new once,
    /// renders each event's line once, and publishes the batch to every watcher. So a change
    /// costs one query and one serialisation however many watch.
    async fn tail(
        self,
        hub: tokio::sync::broadcast::Sender<std::sync::Arc<Batch>>,
        published: std::sync::Arc<std::sync::atomic::AtomicI64>,
    ) {
        let mut changes = self.subscribe_changes();
        let mut position = self.current_resource_version().await.unwrap_or(0);
        loop {
            let Ok(mut conn) = self.store.read().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let read = async {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let now = store::current_resource_version(&mut tx).await?;
                let events = store::events_after(&mut tx, position, None, None, 500).await?;
                Ok::<_, sqlx::Error>((now, events))
            };
            let (now, events) = match read.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "the watch hub could not read the event log");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            drop(conn);
            let full = events.len() == 500;
            let upto = if full { events.last().map_or(now, |e| e.resource_version) } else { now };
            if upto > position {
                let events = events
                    .into_iter()
                    .filter_map(|e| {
                        let line = self.line(&e.event_type, e.object.0)?;
                        Some(HubEvent { resource_version: e.resource_version, namespace: e.namespace, name: e.name, line: line.into() })
                    })
                    .collect();
                // Stored before sending: a watch that reads `upto` and skips its catch-up has
                // subscribed already, so it gets this batch (and skips what it has).
                published.store(upto, std::sync::atomic::Ordering::Release);
                // No receivers is fine: the batch is simply not needed.
                let _ = hub.send(std::sync::Arc::new(Batch { after: position, upto, events }));
                position = upto;
            } else if published.load(std::sync::atomic::Ordering::Acquire) < 0 {
                published.store(position, std::sync::atomic::Ordering::Release);
            }
            if full {
                continue;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The watch hub: the batches it publishes, and the version they reach (-1 before the first
/// read of the log).
pub(crate) struct WatchHub {
    batches: tokio::sync::broadcast::Sender<std::sync::Arc<Batch>>,
    published: std::sync::Arc<std::sync::atomic::AtomicI64>,
    /// The one reader of the event log; stops with the hub.
    _tail: TaskGuard,
}

/// Batches the hub keeps for watchers that are a little behind; one further behind catches up
/// from the event log.
const HUB_CAPACITY: usize = 256;

/// Every stored change with a resource version in (`after`, `upto`], rendered.
pub(crate) struct Batch {
    after: i64,
    upto: i64,
    events: Vec<HubEvent>,
}

struct HubEvent {
    resource_version: i64,
    namespace: String,
    name: String,
    line: std::sync::Arc<str>,
}

/// A watch's place: its position (`i64::MAX` once ended), its hub subscription, and whether it
/// must read the log first.
struct Follow {
    position: i64,
    batches: tokio::sync::broadcast::Receiver<std::sync::Arc<Batch>>,
    catch_up: bool,
}

enum CatchUp {
    /// Lines to send, and the position after them.
    Lines(Vec<String>, i64),
    /// Nothing after the position: the current version.
    Current(i64),
}

/// A stream of lines: `initial` first, then batches produced by `next(state)` until it returns
/// `None`. The state moves through each call (no lock, nothing shared).
fn async_stream<S, F, Fut>(initial: Vec<String>, state: S, next: F) -> WatchStream
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Option<(Vec<String>, S)>> + Send + 'static,
{
    use futures::StreamExt;
    let first = futures::stream::iter(initial);
    let rest = futures::stream::unfold(Some(state), move |state| {
        let fut = state.map(&next);
        async move {
            let (lines, state) = fut?.await?;
            Some((futures::stream::iter(lines), Some(state)))
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
