//! What every request passes on its way in, before any handler reads its body:
//!
//! 1. **Host** (`--public-url`, DNS rebinding): the `Host` header must name this server. A
//!    request whose `Host` is a name we were not configured with is a page that rebound its own
//!    name to our address; it gets 421 Misdirected Request, for reads too. IP literals and
//!    `localhost` always pass (rebinding needs a name the attacker controls); a request without
//!    `Host` (HTTP/1.0, in-process clients) is not from a browser and passes.
//! 2. **Size**: each route family has its own body limit (`body_limit`), checked against
//!    `Content-Length` at once (413 with a `Status`) and enforced while the body streams.
//! 3. **The caller** of every unsafe request (any method but GET, HEAD, OPTIONS) is resolved here,
//!    once: a bad token is 401 before the body is read, and an anonymous change to a route that
//!    needs a caller is 401 before the body is read (sign-in is the one anonymous change). Handlers
//!    reuse the resolved caller (`Who`).
//! 4. **Cross-site requests** (CSRF): an unsafe request must come from this site — unless a bearer
//!    token authenticated it (a browser cannot attach one to a cross-site request without a CORS
//!    preflight, which we never grant). `Sec-Fetch-Site: cross-site` or `same-site` is refused; so
//!    is an `Origin` other than this request's (already checked) `Host`. A request with neither
//!    header is not from a browser (browsers send one of them on every unsafe request) and passes:
//!    the rule of Go's `CrossOriginProtection`, after the Fetch Metadata recommendations. This holds
//!    cookie or not, so a fresh loopback server (single-user, no sign-in) cannot be driven by a web
//!    page, and neither can the sign-in path.
//! 5. **Content types**: REST bodies must be JSON (`application/json`, `application/*+json`) or
//!    YAML; anything else (a `text/plain` form post) is 415. The sign-in page's own urlencoded form
//!    is the one exception. Server functions have their own encodings (Leptos decodes them).
//! 6. **The audit log** entry of every change (who, which token, when, what, from where,
//!    outcome). A server function (the web pages' POST calls, reads included) is recorded when it
//!    asked the permission check for a change; a REST call with an unsafe method always is. Refused
//!    anonymous requests are not written (they would let anyone grow the log and push real entries
//!    out of view); they are counted in the server log instead.
//! 7. **Security headers** on every answer (`nosniff`, no framing, same-origin referrers).
//!
//! Must not: decide an audit entry's shape or wording (`Service::record_request` does), or decide
//! what a caller may do (the service's permission check does).

use super::{HttpError, credentials};
use crate::service::{AuditNote, AuditSlot, Caller, Service, for_log};
use app::model::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// The edge's settings: which host names are this server's.
#[derive(Clone, Debug, Default)]
pub struct EdgeConfig {
    /// Host names (lower case, without port) that name this server, besides IP literals and
    /// `localhost`: the host of `--public-url`, of `--registry-host`, and of `--listen`.
    hosts: Vec<String>,
    /// The public URL is https: session cookies are `Secure` even when the TLS proxy in front
    /// does not say `X-Forwarded-Proto: https`.
    https: bool,
}

impl EdgeConfig {
    /// The names of this server, from the addresses it is configured with (URLs or
    /// `host[:port]`). Unparseable entries are ignored here; `serve` validates its flags.
    pub fn new<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Self {
        let mut hosts: Vec<String> = addresses
            .into_iter()
            .filter_map(|a| {
                let authority = a.split_once("://").map_or(a, |(_, rest)| rest);
                let authority = authority.split('/').next().unwrap_or_default();
                let host = host_of(authority).to_ascii_lowercase();
                (!host.is_empty()).then_some(host)
            })
            .collect();
        hosts.sort();
        hosts.dedup();
        EdgeConfig { hosts, https: false }
    }

    /// Marks the public URL as https (see `https`).
    pub fn with_https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    /// Whether a `Host` header value names this server.
    pub fn host_allowed(&self, host_header: &str) -> bool {
        let host = host_of(host_header).to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        if host.is_empty() {
            return false;
        }
        host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().is_ok()
            || host == "localhost"
            || self.hosts.iter().any(|h| h.trim_end_matches('.') == host)
    }
}

/// The host part of `host[:port]` or `[v6]:port`.
fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    match authority.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => authority,
    }
}

/// The edge's state: the service and its settings.
#[derive(Clone)]
pub struct Edge {
    pub service: Service,
    pub config: Arc<EdgeConfig>,
}

fn safe(m: &Method) -> bool {
    matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// `Err` with the reason when an unsafe request comes from another site (see the module doc).
pub fn csrf_check(headers: &HeaderMap) -> Result<(), ApiError> {
    let refuse = |why: String| Err(ApiError::forbidden(format!("cross-site request refused: {why}")));
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return match site {
            "same-origin" | "none" => Ok(()),
            other => refuse(format!("Sec-Fetch-Site is {other:?}; changes must come from this site")),
        };
    }
    let Some(origin) = headers.get(header::ORIGIN).map(|v| v.to_str().unwrap_or("<not text>")) else { return Ok(()) };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin).trim_end_matches('/');
    if !host.is_empty() && origin_host.eq_ignore_ascii_case(host) {
        return Ok(());
    }
    refuse(format!("Origin {:?} is not this site ({host:?})", for_log(origin)))
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

/// The largest request body a path takes, in bytes. Account bodies are a few fields; namespace
/// settings (secrets, webhooks) a little more; image API objects follow upstream's etcd object
/// limit (1.5 MiB) rounded up to our historic 2 MiB; server functions are small forms.
pub fn body_limit(path: &str) -> usize {
    const KIB: usize = 1024;
    if server_function_name(path).is_some() {
        return 64 * KIB;
    }
    let accounts = ["/api/v1/session", "/api/v1/users", "/api/v1/tokens"];
    if accounts.iter().any(|p| path.starts_with(p)) || path.contains("/members/") || path.ends_with("/visibility") {
        return 16 * KIB;
    }
    if path.starts_with("/api/v1/") {
        return 256 * KIB;
    }
    2 * KIB * KIB
}

/// Whether a content type is one the REST API decodes: JSON (any `+json` type, for the patch
/// types) or YAML.
pub fn decodable_content_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
        || matches!(essence.as_str(), "application/yaml" | "application/x-yaml" | "text/yaml")
}

fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("<not text>"))
}

/// A `dryRun` on a change is refused (400) before anything runs: a client that asked for a dry
/// run must never get a real change. (Kubernetes' only value is `All`; no route here serves dry
/// runs yet.)
fn dry_run_refusal(query: &str) -> Option<ApiError> {
    form_urlencoded_pairs(query).any(|(k, _)| k == "dryRun").then(dry_run_refused)
}

fn dry_run_refused() -> ApiError {
    ApiError::bad_request("dryRun is not supported by this server: nothing was changed; send the request without dryRun")
}

/// `?fieldValidation=` of a change: `Ignore`, `Warn` or `Strict` (Kubernetes' values; missing
/// is `Ignore` here), handed to `decode` as a request header.
fn field_validation(query: &str) -> Result<&'static str, ApiError> {
    match form_urlencoded_pairs(query).find(|(k, _)| k == "fieldValidation").map(|(_, v)| v) {
        None => Ok("Ignore"),
        Some(v) => match v.as_str() {
            "Ignore" | "" => Ok("Ignore"),
            "Warn" => Ok("Warn"),
            "Strict" => Ok("Strict"),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation: Unsupported value: {:?}: supported values: \"Ignore\", \"Strict\", \"Warn\"",
                for_log(other)
            ))),
        },
    }
}

/// The pairs of a query string (`serde_urlencoded`; an undecodable one has none).
fn form_urlencoded_pairs(query: &str) -> impl Iterator<Item = (String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default().into_iter()
}

/// The one anonymous change: signing in (and out, which is harmless).
fn anonymous_allowed(method: &Method, path: &str) -> bool {
    path == "/api/v1/session" && matches!(*method, Method::POST | Method::DELETE)
}

fn status_response(code: StatusCode, reason: &str, message: String) -> Response {
    let mut e = ApiError::bad_request(message);
    e.status.code = code.as_u16();
    e.status.reason = reason.into();
    HttpError(e).into_response()
}

/// The edge middleware (see the module doc for the order of its checks).
pub async fn admit(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let mut resp = admit_inner(&edge, req, next).await;
    let h = resp.headers_mut();
    if edge.config.https
        && let Some(cookie) = h.get(header::SET_COOKIE).and_then(|v| v.to_str().ok())
        && !cookie.contains("; Secure")
        && let Ok(secure) = HeaderValue::from_str(&format!("{cookie}; Secure"))
    {
        h.insert(header::SET_COOKIE, secure);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static("frame-ancestors 'none'"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

async fn admit_inner(edge: &Edge, mut req: Request, next: Next) -> Response {
    if let Some(host) = req.headers().get(header::HOST) {
        let host = host.to_str().unwrap_or_default();
        if !edge.config.host_allowed(host) {
            return status_response(
                StatusCode::MISDIRECTED_REQUEST,
                "MisdirectedRequest",
                format!(
                    "the Host header {:?} does not name this server; if it should, start the server with --public-url naming it",
                    for_log(host)
                ),
            );
        }
    }
    let path = req.uri().path().to_string();
    let limit = body_limit(&path);
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return status_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("the request body is larger than {limit} bytes, the limit of {path}"),
        );
    }
    // Bodies without a declared length are cut off at the limit while they stream.
    let (parts, body) = req.into_parts();
    req = Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, limit)));
    if safe(req.method()) {
        return next.run(req).await;
    }

    if let Some(refused) = dry_run_refusal(req.uri().query().unwrap_or_default()) {
        return HttpError(refused).into_response();
    }
    // A DELETE carries its dry run in the body's DeleteOptions (`kubectl delete --dry-run=server`).
    if req.method() == Method::DELETE {
        let (parts, body) = req.into_parts();
        let bytes = match axum::body::to_bytes(body, limit).await {
            Ok(b) => b,
            Err(_) => {
                return status_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    format!("the request body is larger than {limit} bytes, the limit of {path}"),
                );
            }
        };
        let asked = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("dryRun").cloned())
            .is_some_and(|d| d.as_array().is_some_and(|a| !a.is_empty()) || d.is_string());
        if asked {
            return HttpError(dry_run_refused()).into_response();
        }
        req = Request::from_parts(parts, Body::from(bytes));
    }
    match field_validation(req.uri().query().unwrap_or_default()) {
        Ok(v) => {
            req.headers_mut().insert(super::FIELD_VALIDATION_HEADER, HeaderValue::from_static(v));
        }
        Err(e) => return HttpError(e).into_response(),
    }
    let slot = AuditSlot::default();
    req.extensions_mut().insert(slot.clone());
    let function = server_function_name(&path).map(str::to_string);
    // `/api/set_member4440…` is recorded as `POST /api/set_member` (see `server_function_name`).
    let action = match &function {
        Some(name) => format!("{} /api/{name}", req.method()),
        None => format!("{} {path}", req.method()),
    };
    let remote = req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string());

    let (parts, body) = req.into_parts();
    let creds = credentials(&parts);
    let by_bearer = creds.bearer.is_some();
    let caller = edge.service.resolve_caller(creds).await;
    let mut req = Request::from_parts(parts, body);
    let refusal = match &caller {
        Err(e) => Some(e.clone()),
        Ok(_) if by_bearer => None,
        Ok(_) => csrf_check(req.headers()).err(),
    }
    .or_else(|| {
        let ct = content_type(req.headers());
        let sign_in_form = path == "/api/v1/session" && ct.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
        match ct {
            Some(ct) if function.is_none() && !sign_in_form && !decodable_content_type(ct) => Some(ApiError::unsupported_media(format!(
                "the content type {:?} is not accepted: send the body as application/json or application/yaml",
                for_log(ct)
            ))),
            _ => None,
        }
    })
    .or_else(|| match &caller {
        Ok(c) if function.is_none() && !anonymous_allowed(req.method(), &path) && !may_act(c) => {
            Some(crate::service::unauthorized_change(c))
        }
        _ => None,
    });
    let anonymous = caller.as_ref().map_or(true, |c| !c.signed_in() && !c.open && !c.system);
    let resp = match refusal {
        Some(e) => {
            if anonymous {
                edge.service.count_refused_anonymous();
                return HttpError(e).into_response();
            }
            HttpError(e).into_response()
        }
        None => {
            if let Ok(c) = caller {
                req.extensions_mut().insert(c);
            }
            next.run(req).await
        }
    };
    let note: AuditNote = slot.0.lock().map(|n| n.clone()).unwrap_or_default();
    // Server functions are all POSTs, reads included: they are changes when they asked a change.
    if function.is_some() && note.operation.is_none() && resp.status().is_success() {
        return resp;
    }
    if anonymous && !resp.status().is_success() {
        // A refused anonymous request (a failed sign-in among them): counted, not written.
        edge.service.count_refused_anonymous();
        return resp;
    }
    edge.service.record_request(action, note, remote, resp.status().as_u16()).await;
    resp
}

/// Whether a resolved caller may ask for a change at all (the permission check then decides
/// which): a signed-in user, the single user of a loopback server without accounts, the setup
/// token, or the server itself.
fn may_act(c: &Caller) -> bool {
    c.signed_in() || c.open || c.system || c.setup
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn host_names_must_be_configured_ip_literals_always_pass() {
        let c = EdgeConfig::new(["https://portal.example.com/", "registry.example.com:5000", "0.0.0.0:3000"]);
        for ok in ["portal.example.com", "PORTAL.example.com:443", "registry.example.com:5000", "127.0.0.1:3000", "[::1]:3000", "10.1.2.3"]
        {
            assert!(c.host_allowed(ok), "{ok}");
        }
        assert!(c.host_allowed("localhost:3000"));
        for bad in ["rebind.evil.example:3000", "evil.example", "", "portal.example.com.evil.example"] {
            assert!(!c.host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn content_types_json_and_yaml_only() {
        for ok in ["application/json", "application/json; charset=utf-8", "application/merge-patch+json", "application/yaml", "text/yaml"] {
            assert!(decodable_content_type(ok), "{ok}");
        }
        for bad in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""] {
            assert!(!decodable_content_type(bad), "{bad}");
        }
    }

    #[test]
    fn body_limits_per_route_family() {
        assert_eq!(body_limit("/api/v1/session"), 16 * 1024);
        assert_eq!(body_limit("/api/v1/namespaces/x/members/bob"), 16 * 1024);
        assert_eq!(body_limit("/api/v1/namespaces/x/webhooks"), 256 * 1024);
        assert_eq!(body_limit("/apis/image.openshift.io/v1/namespaces/x/imagestreams"), 2 * 1024 * 1024);
        assert_eq!(body_limit("/api/set_member123"), 64 * 1024);
    }
}
