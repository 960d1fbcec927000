//! What every request passes on its way in: the CSRF check of cookie-authenticated changes, and
//! the audit log entry of every change (who, which token, when, what, from where, outcome).
//!
//! A server function (the web pages' POST calls, reads included) is recorded when it asked the
//! permission check for a change; a REST call with an unsafe method always is.
//!
//! CSRF: a change (any method but GET, HEAD, OPTIONS) that carries the session cookie and no
//! bearer token must come from this site: `Sec-Fetch-Site: same-origin` (or `none`, typed by the
//! user), else an `Origin` whose host is this request's `Host`. A request with neither header is
//! not from a browser (which always sends one of them on such requests) and passes; that is the
//! rule of Go's `CrossOriginProtection`, after the Fetch Metadata recommendations.
//! Must not: decide an audit entry's shape or wording (`Service::record_request` does).

use super::{HttpError, session_cookie};
use crate::service::{AuditNote, AuditSlot, Service};
use app::model::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

fn safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Err` with the reason when a cookie-authenticated change does not come from this site.
pub fn csrf_check(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: String| Err(ApiError::forbidden(format!("cross-site request refused: {why}")));
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            other => refuse(format!("Sec-Fetch-Site is {other:?}; changes with a session cookie must come from this site")),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin).trim_end_matches('/');
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        return Ok(());
    }
    refuse(format!("Origin {origin:?} is not this site ({host:?})"))
}

/// The name of the Leptos server function a path calls (`/api/set_member4440…` →
/// `set_member`), or `None` for any other path. Leptos mounts server functions at
/// `/api/<name><hash digits>`; the digits only tell versions apart, so the audit log keeps the
/// name alone. The portal's own REST API lives under `/api/v1/`.
pub fn server_function_name(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/")?;
    if rest.starts_with("v1/") || rest.contains('/') || rest.is_empty() {
        return None;
    }
    Some(rest.trim_end_matches(|c: char| c.is_ascii_digit()))
}

pub async fn audit_and_csrf(State(s): State<Service>, mut req: Request, next: Next) -> Response {
    if safe(req.method()) {
        return next.run(req).await;
    }
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    // `/api/set_member4440…` is recorded as `POST /api/set_member` (see `server_function_name`).
    let function = server_function_name(req.uri().path()).map(str::to_string);
    let action = match &function {
        Some(name) => format!("{} /api/{name}", req.method()),
        None => format!("{} {}", req.method(), req.uri().path()),
    };
    let remote = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());
    // Server functions are all POSTs, reads included: they are changes when they asked a change.
    let cookie_auth = session_cookie(req.headers()).is_some() && !req.headers().contains_key(header::AUTHORIZATION);
    let (resp, refused) = match csrf_check(req.headers()) {
        Err(e) if cookie_auth => (HttpError(e).into_response(), true),
        _ => (next.run(req).await, false),
    };
    let note: AuditNote = slot.0.lock().map(|n| n.clone()).unwrap_or_default();
    if function.is_some() && note.operation.is_none() && !refused {
        return resp;
    }
    s.record_request(action, note, remote, resp.status().as_u16()).await;
    resp
}

#[cfg(test)]
mod tests {
    use super::server_function_name;

    #[test]
    fn server_function_paths_name_the_function() {
        assert_eq!(server_function_name("/api/set_member4440123456789"), Some("set_member"));
        assert_eq!(server_function_name("/api/who_am_i17"), Some("who_am_i"));
        assert_eq!(server_function_name("/api/v1/namespaces"), None);
        assert_eq!(server_function_name("/api/v1/namespaces/x/webhooks"), None);
        assert_eq!(server_function_name("/apis/image.openshift.io/v1/imagestreams"), None);
        assert_eq!(server_function_name("/api/"), None);
    }

    /// The paths Leptos really gives our server functions: should it change their shape, the
    /// audit log's names would break here first.
    #[test]
    fn leptos_server_function_paths_have_the_expected_shape() {
        use leptos::server_fn::ServerFn;
        assert_eq!(server_function_name(<app::api::SetMember as ServerFn>::PATH), Some("set_member"));
        assert_eq!(server_function_name(<app::api::ListCatalog as ServerFn>::PATH), Some("list_catalog"));
    }
}
