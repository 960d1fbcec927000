//! The HTTP edge of the integrated registry: `/v2/…` as the OCI Distribution Specification
//! v1.1 lays it out, and `/v2/token` (the Docker token authentication flow). Parses paths
//! (repository names contain a slash, so one catch-all route reads them), credentials, `Range`,
//! `Content-Range` and query parameters, calls one service method per request, and writes OCI
//! answers: `Docker-Distribution-API-Version`, `Docker-Content-Digest`, `Location`, `Range`,
//! `Link` for pages, the OCI error envelope, and on 401 a `WWW-Authenticate: Bearer` challenge
//! naming the token realm, service and scope.
//!
//! It sits beside the API edge, not behind it: registry clients authenticate with Basic or
//! Bearer credentials of their own, send blobs as `application/octet-stream`, and never send a
//! browser's `Origin`, so the API edge's cookie, cross-site and content-type rules do not apply;
//! the `Host` check and `nosniff` do, here. Bodies are streamed (blobs) or bounded (manifests,
//! 4 MiB; token forms, 16 KiB).
//!
//! Must not: hold rules (the service's `registry` module does) or name the store.

use crate::http::EdgeConfig;
use crate::service::Service;
use crate::service::registry::{BodyStream, RegistryAuth, RegistryCaller, RegistryError, Repository, UploadOutcome, UploadStatus};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use std::sync::Arc;

pub use crate::service::registry::Action;

const API_VERSION: &str = "registry/2.0";
/// Largest manifest accepted (CNCF distribution's limit).
const MAX_MANIFEST_BODY: usize = 4 << 20;
/// Largest token request form.
const MAX_FORM_BODY: usize = 16 << 10;

#[derive(Clone)]
struct RegistryEdge {
    service: Service,
    config: Arc<EdgeConfig>,
}

/// The `/v2` routes, with the `Host` check of `config`.
pub fn router(service: Service, config: EdgeConfig) -> Router {
    let state = RegistryEdge { service, config: Arc::new(config) };
    Router::new()
        .route("/v2", axum::routing::any(dispatch))
        .route("/v2/", axum::routing::any(dispatch))
        .route("/v2/{*path}", axum::routing::any(dispatch))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// What a `/v2` path names.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Base,
    Token,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    Uploads(String),
    Upload(String, String),
    Referrers(String, String),
    Unknown,
}

/// Splits a `/v2/…` path: `<name>/<kind>/…` where `<name>` is everything before the first
/// segment that is a route keyword (so `a/b/c/manifests/x` names `a/b/c`, refused later).
fn target(path: &str) -> Target {
    let rest = path.strip_prefix("/v2").unwrap_or(path).trim_start_matches('/');
    match rest {
        "" => return Target::Base,
        "token" => return Target::Token,
        "_catalog" => return Target::Catalog,
        _ => {}
    }
    let segments: Vec<&str> = rest.split('/').collect();
    // A name may itself contain a keyword (a stream called `tags` or `blobs`): the name ends
    // where the rest has the shape of an endpoint, the first such place from the left.
    (1..segments.len())
        .filter(|&k| matches!(segments[k], "manifests" | "blobs" | "tags" | "referrers"))
        .map(|k| endpoint(segments[..k].join("/"), &segments[k..]))
        .find(|t| *t != Target::Unknown)
        .unwrap_or(Target::Unknown)
}

/// The endpoint the path after a repository name names.
fn endpoint(name: String, tail: &[&str]) -> Target {
    match tail {
        ["manifests", reference] if !reference.is_empty() => Target::Manifest(name, reference.to_string()),
        ["blobs", "uploads"] | ["blobs", "uploads", ""] => Target::Uploads(name),
        ["blobs", "uploads", id] => Target::Upload(name, id.to_string()),
        ["blobs", digest] if !digest.is_empty() => Target::Blob(name, digest.to_string()),
        ["tags", "list"] => Target::Tags(name),
        ["referrers", digest] if !digest.is_empty() => Target::Referrers(name, digest.to_string()),
        _ => Target::Unknown,
    }
}

/// The query parameters of a request (repeated keys kept, e.g. `scope`).
fn query_pairs(req: &Request) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.uri().query().unwrap_or_default()).unwrap_or_default()
}

fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The credentials of a registry request.
fn auth_of(headers: &HeaderMap) -> RegistryAuth {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return RegistryAuth::Anonymous };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return RegistryAuth::Bearer(rest.trim().to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        use base64::Engine;
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim())
            && let Ok(text) = String::from_utf8(decoded)
            && let Some((u, p)) = text.split_once(':')
        {
            return RegistryAuth::Basic { username: u.to_string(), password: p.to_string() };
        }
        // Undecodable Basic credentials are wrong credentials, not none.
        return RegistryAuth::Basic { username: String::new(), password: String::new() };
    }
    RegistryAuth::Anonymous
}

fn remote_of(req: &Request) -> Option<String> {
    req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string())
}

/// The token realm: `--public-url` + `/v2/token`, else the request's own scheme and host.
fn realm(edge: &RegistryEdge, headers: &HeaderMap) -> String {
    if let Some(r) = &edge.service.registry_config().realm {
        return r.clone();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}/v2/token", if https { "https" } else { "http" })
}

/// An OCI error answer (with the challenge on 401 and `Retry-After` on 429).
fn error_response(edge: &RegistryEdge, headers: &HeaderMap, e: RegistryError, authenticated: bool) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::json!({"errors": [{"code": e.code, "message": e.message, "detail": null}]}).to_string();
    let mut resp = (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
    let h = resp.headers_mut();
    if e.status == 401 {
        let mut challenge =
            format!("Bearer realm=\"{}\",service=\"{}\"", realm(edge, headers), edge.service.registry_service_name().replace('"', ""));
        if let Some(scope) = &e.scope {
            challenge.push_str(&format!(",scope=\"{scope}\""));
            if authenticated {
                challenge.push_str(",error=\"insufficient_scope\"");
            }
        }
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
    }
    if let Some(after) = e.retry_after {
        h.insert(header::RETRY_AFTER, HeaderValue::from(after));
    }
    resp
}

fn header_value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The request body as a stream of chunks.
fn body_stream(body: Body) -> BodyStream {
    body.into_data_stream().map_err(std::io::Error::other).boxed()
}

/// At most `limit` bytes of a body, or the error naming the limit.
/// The whole of a bounded body: `SIZE_INVALID` (413) over `limit`; a body that could not be read
/// (cut short, or stalled past the transport's body timeouts) is a 400 of `unreadable`'s code
/// (`MANIFEST_INVALID` for a manifest), not a size error.
async fn bounded(body: Body, limit: usize, what: &str, unreadable: fn(String) -> RegistryError) -> Result<bytes::Bytes, RegistryError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return RegistryError::size_invalid(format!("the {what} is larger than {limit} bytes"));
            }
            source = err.source();
        }
        unreadable(format!("the {what} could not be read: {e}"))
    })
}

async fn dispatch(State(edge): State<RegistryEdge>, req: Request) -> Response {
    if let Some(host) = req.headers().get(header::HOST).and_then(|v| v.to_str().ok())
        && !edge.config.host_allowed(host)
    {
        let e = RegistryError::denied(format!("the Host {:?} does not name this registry", host.chars().take(64).collect::<String>()));
        return finish(error_response(&edge, req.headers(), e, false));
    }
    let headers = req.headers().clone();
    let target = target(req.uri().path());
    if target == Target::Token {
        return finish(token(&edge, req).await);
    }
    let remote = remote_of(&req);
    let rc = match edge.service.registry_caller(auth_of(&headers), remote.clone()).await {
        Ok(rc) => rc,
        Err(e) => return finish(error_response(&edge, &headers, e, false)),
    };
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let result = route(&edge, &rc, target, req).await;
    let resp = match result {
        Ok(r) => r,
        Err(e) => error_response(&edge, &headers, e, rc.authenticated()),
    };
    // Pushes of manifests and deletes are changes to a stream: the audit log has them (blob
    // uploads are not recorded one by one; the manifest push that uses them is).
    if !matches!(method, Method::GET | Method::HEAD) && rc.authenticated() && (method == Method::DELETE || path.contains("/manifests/")) {
        let namespace = path.trim_start_matches("/v2/").split('/').next().map(str::to_string);
        let operation = if method == Method::DELETE { "delete" } else { "push" };
        let what = if path.contains("/manifests/") { "manifests" } else { "blobs" };
        edge.service
            .record_registry_change(
                &rc,
                format!("{method} {path}"),
                format!("{operation} {what}"),
                namespace,
                remote,
                resp.status().as_u16(),
            )
            .await;
    }
    finish(resp)
}

/// Headers every registry answer carries.
fn finish(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("docker-distribution-api-version", HeaderValue::from_static(API_VERSION));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    resp
}

fn parse_repo(name: &str) -> Result<Repository, RegistryError> {
    Repository::parse(name)
}

async fn route(edge: &RegistryEdge, rc: &RegistryCaller, target: Target, req: Request) -> Result<Response, RegistryError> {
    let service = &edge.service;
    let method = req.method().clone();
    let pairs = query_pairs(&req);
    let unsupported = || RegistryError::unsupported(format!("{method} is not supported here"));
    match target {
        Target::Base => {
            service.registry_base(rc)?;
            Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{}").into_response())
        }
        Target::Token => Err(unsupported()),
        Target::Unknown => Err(RegistryError::new_not_found(req.uri().path())),
        Target::Catalog => {
            if method != Method::GET {
                return Err(unsupported());
            }
            let n = param(&pairs, "n").and_then(|n| n.parse().ok());
            let (repos, more) = service.registry_catalog(rc, n, param(&pairs, "last")).await?;
            let mut resp = json_response(&serde_json::json!({"repositories": repos}));
            if more && let Some(last) = repos.last() {
                add_link(&mut resp, "/v2/_catalog", n.unwrap_or(repos.len()), last);
            }
            Ok(resp)
        }
        Target::Tags(name) => {
            let repo = parse_repo(&name)?;
            if method != Method::GET {
                return Err(unsupported());
            }
            let n = param(&pairs, "n").and_then(|n| n.parse().ok());
            let (document, next) = service.registry_tags(rc, &repo, n, param(&pairs, "last")).await?;
            let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], document).into_response();
            if let Some((n, last)) = next {
                add_link(&mut resp, &format!("/v2/{}/tags/list", repo.name()), n, &last);
            }
            Ok(resp)
        }
        Target::Referrers(name, digest) => {
            let repo = parse_repo(&name)?;
            if method != Method::GET {
                return Err(unsupported());
            }
            let (index, filtered) = service.registry_referrers(rc, &repo, &digest, param(&pairs, "artifactType")).await?;
            let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, crate::importer::OCI_INDEX)], index).into_response();
            if filtered {
                resp.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
            }
            Ok(resp)
        }
        Target::Manifest(name, reference) => {
            let repo = parse_repo(&name)?;
            match method {
                Method::GET | Method::HEAD => {
                    let accept: Vec<String> = req
                        .headers()
                        .get_all(header::ACCEPT)
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .flat_map(|v| v.split(','))
                        .map(|v| v.split(';').next().unwrap_or_default().trim().to_string())
                        .filter(|v| !v.is_empty())
                        .collect();
                    let m = service.registry_manifest(rc, &repo, &reference, &accept, method == Method::GET).await?;
                    let len = m.body.len();
                    let body = if method == Method::HEAD {
                        Body::empty()
                    } else {
                        crate::metrics::metrics().add_registry_bytes("served", len as u64);
                        Body::from(m.body)
                    };
                    let mut resp = Response::new(body);
                    let h = resp.headers_mut();
                    h.insert(header::CONTENT_TYPE, header_value(&m.media_type));
                    h.insert("docker-content-digest", header_value(&m.digest));
                    h.insert(header::ETAG, header_value(&format!("\"{}\"", m.digest)));
                    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
                    Ok(resp)
                }
                Method::PUT => {
                    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
                    let body = bounded(req.into_body(), MAX_MANIFEST_BODY, "manifest", RegistryError::manifest_invalid).await?;
                    let (digest, subject) = service.registry_put_manifest(rc, &repo, &reference, content_type.as_deref(), body).await?;
                    let mut resp = StatusCode::CREATED.into_response();
                    let h = resp.headers_mut();
                    h.insert(header::LOCATION, header_value(&format!("/v2/{}/manifests/{digest}", repo.name())));
                    h.insert("docker-content-digest", header_value(&digest));
                    if let Some(s) = subject {
                        h.insert("oci-subject", header_value(&s));
                    }
                    Ok(resp)
                }
                Method::DELETE => {
                    service.registry_delete_manifest(rc, &repo, &reference).await?;
                    Ok(StatusCode::ACCEPTED.into_response())
                }
                _ => Err(unsupported()),
            }
        }
        Target::Blob(name, digest) => {
            let repo = parse_repo(&name)?;
            match method {
                Method::GET | Method::HEAD => {
                    let range = req.headers().get(header::RANGE).and_then(|v| v.to_str().ok()).map(|r| {
                        crate::service::registry::ByteRange::parse(r)
                            .ok_or_else(|| RegistryError::range_invalid(format!("the Range {r:?} is not served")))
                    });
                    let range = range.transpose()?;
                    let blob = service.registry_blob(rc, &repo, &digest, range, method == Method::HEAD).await?;
                    let status = if blob.range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
                    // Counted as it is sent (`imagestreams_registry_bytes_total{direction="served"}`).
                    let counted = blob.body.inspect(|chunk| {
                        if let Ok(c) = chunk {
                            crate::metrics::metrics().add_registry_bytes("served", c.len() as u64);
                        }
                    });
                    let mut resp = Response::new(Body::from_stream(counted));
                    *resp.status_mut() = status;
                    let h = resp.headers_mut();
                    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
                    h.insert("docker-content-digest", header_value(&digest));
                    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                    match (&blob.range, blob.size) {
                        (Some(r), Some(size)) => {
                            h.insert(header::CONTENT_LENGTH, HeaderValue::from(r.end - r.start));
                            h.insert(header::CONTENT_RANGE, header_value(&format!("bytes {}-{}/{size}", r.start, r.end - 1)));
                        }
                        (None, Some(size)) => {
                            h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
                        }
                        _ => {}
                    }
                    Ok(resp)
                }
                Method::DELETE => {
                    service.registry_delete_blob(rc, &repo, &digest).await?;
                    Ok(StatusCode::ACCEPTED.into_response())
                }
                _ => Err(unsupported()),
            }
        }
        Target::Uploads(name) => {
            let repo = parse_repo(&name)?;
            if method != Method::POST {
                return Err(unsupported());
            }
            let digest = param(&pairs, "digest").map(str::to_string);
            let mount = param(&pairs, "mount").map(str::to_string);
            let from = param(&pairs, "from").map(str::to_string);
            let body = body_stream(req.into_body());
            let mount = mount.as_deref().map(|m| (m, from.as_deref()));
            match service.registry_start_upload(rc, &repo, digest.as_deref(), mount, body).await? {
                UploadOutcome::Created { digest } => Ok(blob_created(&repo, &digest)),
                UploadOutcome::Started(status) => Ok(upload_accepted(&repo, &status, StatusCode::ACCEPTED)),
            }
        }
        Target::Upload(name, id) => {
            let repo = parse_repo(&name)?;
            match method {
                Method::GET => {
                    let status = service.registry_upload_status(rc, &repo, &id)?;
                    Ok(upload_accepted(&repo, &status, StatusCode::NO_CONTENT))
                }
                Method::PATCH => {
                    let range = match req.headers().get(header::CONTENT_RANGE).and_then(|v| v.to_str().ok()) {
                        Some(r) => Some(
                            parse_content_range(r)
                                .ok_or_else(|| RegistryError::range_invalid(format!("the Content-Range {r:?} is not <start>-<end>")))?,
                        ),
                        None => None,
                    };
                    let body = body_stream(req.into_body());
                    let status = service.registry_patch_upload(rc, &repo, &id, range, body).await?;
                    Ok(upload_accepted(&repo, &status, StatusCode::ACCEPTED))
                }
                Method::PUT => {
                    let Some(digest) = param(&pairs, "digest").map(str::to_string) else {
                        return Err(RegistryError::digest_invalid("the digest query parameter is required to finish an upload"));
                    };
                    let body = body_stream(req.into_body());
                    let digest = service.registry_finish_upload(rc, &repo, &id, &digest, body).await?;
                    Ok(blob_created(&repo, &digest))
                }
                Method::DELETE => {
                    service.registry_cancel_upload(rc, &repo, &id)?;
                    Ok(StatusCode::NO_CONTENT.into_response())
                }
                _ => Err(unsupported()),
            }
        }
    }
}

fn json_response(value: &serde_json::Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

/// `Link: <path?n=…&last=…>; rel="next"`.
fn add_link(resp: &mut Response, path: &str, n: usize, last: &str) {
    let query = serde_urlencoded::to_string([("n", n.to_string()), ("last", last.to_string())]).unwrap_or_default();
    resp.headers_mut().insert(header::LINK, header_value(&format!("<{path}?{query}>; rel=\"next\"")));
}

fn blob_created(repo: &Repository, digest: &str) -> Response {
    let mut resp = StatusCode::CREATED.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, header_value(&format!("/v2/{}/blobs/{digest}", repo.name())));
    h.insert("docker-content-digest", header_value(digest));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

fn upload_accepted(repo: &Repository, status: &UploadStatus, code: StatusCode) -> Response {
    let mut resp = code.into_response();
    let h = resp.headers_mut();
    h.insert(header::LOCATION, header_value(&format!("/v2/{}/blobs/uploads/{}", repo.name(), status.id)));
    h.insert(header::RANGE, header_value(&format!("0-{}", status.offset.saturating_sub(1))));
    h.insert("docker-upload-uuid", header_value(&status.id));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

/// `<start>-<end>` (also `bytes <start>-<end>[/<size>]`).
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let v = value.trim().trim_start_matches("bytes").trim().trim_start_matches('=');
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a <= b).then_some((a, b))
}

/// `GET|POST /v2/token`.
async fn token(edge: &RegistryEdge, req: Request) -> Response {
    let headers = req.headers().clone();
    let remote = remote_of(&req);
    let mut pairs = query_pairs(&req);
    let mut auth = auth_of(&headers);
    if req.method() == Method::POST {
        // The OAuth2 form of the same request (`grant_type=password`), as docker sends it.
        let body = match bounded(req.into_body(), MAX_FORM_BODY, "token request", RegistryError::body_unreadable).await {
            Ok(b) => b,
            Err(e) => return error_response(edge, &headers, e, false),
        };
        let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        if param(&form, "grant_type") == Some("password")
            && let (Some(u), Some(p)) = (param(&form, "username"), param(&form, "password"))
        {
            auth = RegistryAuth::Basic { username: u.to_string(), password: p.to_string() };
        }
        pairs.extend(form);
    } else if req.method() != Method::GET {
        return error_response(edge, &headers, RegistryError::unsupported("the token endpoint takes GET or POST"), false);
    }
    let rc = match edge.service.registry_caller(auth, remote).await {
        Ok(rc) => rc,
        Err(e) => return error_response(edge, &headers, e, false),
    };
    let scopes: Vec<String> = pairs.iter().filter(|(k, _)| k == "scope").flat_map(|(_, v)| v.split(' ').map(str::to_string)).collect();
    match edge.service.registry_token(&rc, &scopes).await {
        Ok(answer) => (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], serde_json::to_string(&answer).unwrap_or_default())
            .into_response(),
        Err(e) => error_response(edge, &headers, e, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_targets() {
        assert_eq!(target("/v2/"), Target::Base);
        assert_eq!(target("/v2"), Target::Base);
        assert_eq!(target("/v2/token"), Target::Token);
        assert_eq!(target("/v2/_catalog"), Target::Catalog);
        assert_eq!(target("/v2/demo/app/tags/list"), Target::Tags("demo/app".into()));
        assert_eq!(target("/v2/demo/app/manifests/latest"), Target::Manifest("demo/app".into(), "latest".into()));
        assert_eq!(target("/v2/demo/app/blobs/sha256:ab"), Target::Blob("demo/app".into(), "sha256:ab".into()));
        assert_eq!(target("/v2/demo/app/blobs/uploads/"), Target::Uploads("demo/app".into()));
        assert_eq!(target("/v2/demo/app/blobs/uploads/u1"), Target::Upload("demo/app".into(), "u1".into()));
        assert_eq!(target("/v2/demo/app/referrers/sha256:ab"), Target::Referrers("demo/app".into(), "sha256:ab".into()));
        assert_eq!(target("/v2/a/b/c/manifests/x"), Target::Manifest("a/b/c".into(), "x".into()));
        assert_eq!(target("/v2/demo/app/nothing"), Target::Unknown);
        // Streams named like the endpoints.
        assert_eq!(target("/v2/default/tags/blobs/uploads/"), Target::Uploads("default/tags".into()));
        assert_eq!(target("/v2/default/tags/tags/list"), Target::Tags("default/tags".into()));
        assert_eq!(target("/v2/default/manifests/manifests/latest"), Target::Manifest("default/manifests".into(), "latest".into()));
        assert_eq!(target("/v2/blobs/blobs/blobs/sha256:ab"), Target::Blob("blobs/blobs".into(), "sha256:ab".into()));
    }

    #[test]
    fn content_ranges_parse() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("9-1"), None);
        assert_eq!(parse_content_range("x"), None);
    }
}
