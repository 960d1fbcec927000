//! What every request passes first and last, the registry's included: its request id, its log
//! span, and its metrics (issue 18).
//!
//! - **Request id**: the client's `X-Request-Id` when it is a short token (1 to 64 characters of
//!   `A-Z a-z 0-9 . _ : -`), else a new one (a UUID without dashes). It is echoed in the
//!   response's `X-Request-Id` and is a field of the request's span, so every log line written
//!   while the request is served carries it (text and JSON logs alike).
//! - **The span** names the method and the route *template*, never the path or the query:
//!   those carry user-supplied names and, in a query, sometimes credentials.
//! - **Metrics**: requests by method, route template and status, the latency to the response
//!   head, and requests in flight. The `/v2` edge is one catch-all route; it is labelled by its
//!   operation (`manifests`, `blobs`, `uploads`, `tags`, `referrers`) as a template like
//!   `/v2/{name}/manifests/{reference}`.
//!
//! Must not: look at credentials or bodies, or log a value the client sent other than a valid
//! request id.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The request id header.
pub const REQUEST_ID: &str = "x-request-id";

/// The request id of a request, for handlers that want it (the span carries it already).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// The client's request id when it is acceptable, else a new one.
pub fn request_id(given: Option<&HeaderValue>) -> String {
    let ok =
        |v: &str| (1..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    match given.and_then(|v| v.to_str().ok()) {
        Some(v) if ok(v) => v.to_string(),
        _ => uuid::Uuid::new_v4().simple().to_string(),
    }
}

/// The method as a label: the standard ones by name, any extension method as `other` (a client
/// must not grow the number of series).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route template of a request: its `MatchedPath`, the `/v2` catch-all by operation, and
/// `fallback` for what no route matched (the web UI's files and error page).
pub fn route_label(matched: Option<&str>, path: &str) -> String {
    match matched {
        Some("/v2/{*path}") => registry_operation(path).to_string(),
        Some(m) => m.to_string(),
        None => "fallback".to_string(),
    }
}

/// The `/v2` operation of a path, as a template.
fn registry_operation(path: &str) -> &'static str {
    let segs: Vec<&str> = path.trim_start_matches("/v2/").split('/').collect();
    let n = segs.len();
    let from_end = |k: usize| if k <= n { segs[n - k] } else { "" };
    if n == 1 {
        return match segs[0] {
            "" => "/v2/",
            "token" => "/v2/token",
            "_catalog" => "/v2/_catalog",
            _ => "/v2/{other}",
        };
    }
    if from_end(2) == "tags" && from_end(1) == "list" {
        return "/v2/{name}/tags/list";
    }
    // `<name>/blobs/uploads/` starts an upload; `<name>/blobs/uploads/<id>` continues it.
    if (from_end(2) == "blobs" && from_end(1) == "uploads") || (n >= 3 && from_end(3) == "blobs" && from_end(2) == "uploads") {
        return "/v2/{name}/blobs/uploads";
    }
    match from_end(2) {
        "blobs" => "/v2/{name}/blobs/{digest}",
        "manifests" => "/v2/{name}/manifests/{reference}",
        "referrers" => "/v2/{name}/referrers/{digest}",
        _ => "/v2/{other}",
    }
}

/// The outermost middleware of every router: request id, span, metrics, and one log line per
/// answered request.
pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let id = request_id(req.headers().get(REQUEST_ID));
    let method = method_label(req.method());
    let route = route_label(req.extensions().get::<MatchedPath>().map(MatchedPath::as_str), req.uri().path());
    let span = tracing::info_span!("request", id = %id, method, route = %route);
    req.extensions_mut().insert(RequestId(id.clone()));
    let metrics = crate::metrics::metrics();
    let in_flight = crate::metrics::Metrics::hold(&metrics.http_in_flight);
    let mut resp = next.run(req).instrument(span.clone()).await;
    drop(in_flight);
    let took = started.elapsed();
    let status = resp.status().as_u16();
    metrics.http_request(method, &route, status, took);
    span.in_scope(|| {
        let latency_ms = took.as_secs_f64() * 1000.0;
        if status >= 500 {
            tracing::warn!(status, latency_ms, "answered");
        } else {
            tracing::info!(status, latency_ms, "answered");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_paths_are_labelled_by_operation() {
        for (path, want) in [
            ("/v2/", "/v2/"),
            ("/v2/token", "/v2/token"),
            ("/v2/_catalog", "/v2/_catalog"),
            ("/v2/ns/app/manifests/latest", "/v2/{name}/manifests/{reference}"),
            ("/v2/ns/manifests/manifests/v1", "/v2/{name}/manifests/{reference}"),
            ("/v2/ns/app/blobs/sha256:abc", "/v2/{name}/blobs/{digest}"),
            ("/v2/ns/app/blobs/uploads/", "/v2/{name}/blobs/uploads"),
            ("/v2/ns/app/blobs/uploads/0123abcd", "/v2/{name}/blobs/uploads"),
            ("/v2/ns/app/tags/list", "/v2/{name}/tags/list"),
            ("/v2/ns/app/referrers/sha256:abc", "/v2/{name}/referrers/{digest}"),
            ("/v2/ns/app/something/else", "/v2/{other}"),
        ] {
            assert_eq!(route_label(Some("/v2/{*path}"), path), want, "{path}");
        }
        assert_eq!(route_label(Some("/api/v1/namespaces/{ns}"), "/api/v1/namespaces/x"), "/api/v1/namespaces/{ns}");
        assert_eq!(route_label(None, "/some/page"), "fallback");
    }

    #[test]
    fn request_ids_are_taken_when_short_tokens_and_made_otherwise() {
        let v = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(request_id(Some(&v("abc-123_x.y:z"))), "abc-123_x.y:z");
        for bad in ["", "has space", "semi;colon", &"x".repeat(65), "ünï"] {
            let got = request_id(HeaderValue::from_str(bad).ok().as_ref());
            assert_eq!(got.len(), 32, "{bad:?} gets a new id, not {got:?}");
            assert_ne!(got, bad);
        }
        assert_eq!(request_id(None).len(), 32);
    }
}
