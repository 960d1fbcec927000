//! `/api/v1/live/imagestreams`: the watch as server-sent events for the web pages. One
//! connection per page; each event's id is its resourceVersion, so a browser that reconnects
//! sends `Last-Event-ID` and resumes exactly where it stopped (no loss, no duplicates).
//! The stream ends like a watch does: an `ERROR` event (a `Status`) when access ends, a clean
//! close at its maximum lifetime (the browser reconnects with `Last-Event-ID`). A resume point
//! older than the event log keeps, or newer than the newest change, starts from now, after one
//! `{"type":"RESYNC"}` event.
//! Must not: render markup (the app's views do) or read the store.

use super::{ApiResult, HttpError};
use crate::service::{Credentials, Service, WatchRequest};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::StreamExt;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveQuery {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub resource_version: Option<i64>,
}

/// The request's credentials as they came, not the caller they resolve to: a watch keeps them
/// to ask again, while it runs, whether they still hold.
pub(super) struct Creds(pub Credentials);

impl axum::extract::FromRequestParts<Service> for Creds {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &Service) -> Result<Self, Self::Rejection> {
        Ok(Creds(super::credentials(parts)))
    }
}

/// The event that tells a page its version was trimmed and it must read itself again.
const RESYNC_LINE: &[u8] = br#"{"type":"RESYNC"}"#;

pub async fn image_streams(State(s): State<Service>, Creds(creds): Creds, headers: HeaderMap, Query(q): Query<LiveQuery>) -> ApiResult {
    // Resume point: the browser's Last-Event-ID, else the page's version, else now.
    let last_id = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let from = match last_id.or(q.resource_version) {
        Some(v) => v,
        None => s.current_resource_version().await.map_err(HttpError)?,
    };
    let req = WatchRequest {
        namespace: q.namespace.filter(|n| !n.is_empty()),
        name: q.name.filter(|n| !n.is_empty()),
        resource_version: Some(from),
        bookmarks: false,
        // The browser resumes from the last event id: a shutdown sends the page's position.
        bookmark_at_drain: true,
        bookmark_interval: s.bookmark_interval(),
        ..Default::default()
    };
    // A version trimmed from the event log (a page left open for hours, or demo data older than
    // the log keeps) is not an error for a page: it follows from now and is told, by one
    // `RESYNC` event, to read itself again, as a Kubernetes client re-lists after 410 Gone.
    // A version from the future (the page was read before the server was restored from an
    // older backup) would wait for changes that already happened under other numbers: the
    // same.
    let now = s.current_resource_version().await.map_err(HttpError)?;
    let ahead = from > now;
    let (stream, resync) = match s
        .watch_streams(creds.clone(), if ahead { WatchRequest { resource_version: Some(now), ..req.clone() } } else { req.clone() })
        .await
    {
        Ok(stream) => (stream, ahead),
        Err(e) if e.status.reason == "Expired" => {
            (s.watch_streams(creds, WatchRequest { resource_version: Some(now), ..req }).await?, true)
        }
        Err(e) => return Err(e.into()),
    };
    let resync = futures::stream::iter(resync.then(|| axum::body::Bytes::from_static(RESYNC_LINE)));
    let stream = resync.chain(stream);
    // Counted as an open live page while the stream lives (`imagestreams_live_pages`).
    let open = crate::metrics::Metrics::hold(&crate::metrics::metrics().live_pages);
    let events = stream.map(move |line| {
        let _open = &open;
        // A watch line is one JSON object and its newline (the newline is not part of the data).
        let line = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(&line));
        let id = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["object"]["metadata"]["resourceVersion"].as_str().map(str::to_string));
        // An ERROR event has no version: it keeps the browser's last id (an empty id would reset it).
        let event = Event::default().data(line);
        Ok::<_, std::convert::Infallible>(match id {
            Some(id) => event.id(id),
            None => event,
        })
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))).into_response())
}
