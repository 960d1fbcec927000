//! The HTTP edge: every API route in one router, request decoding, content negotiation (JSON,
//! or YAML on `Accept: application/yaml`) and `Status` errors. Handlers are thin: decode, call
//! the service with the caller, encode. Must not: hold rules or SQL, or name `store`.

mod accounts;
mod connection;
mod discovery;
mod edge;
mod garbage_collection;
mod images;
mod imagestreams;
mod istags;
pub mod listener;
mod live;
mod namespaces;
pub mod observe;
mod patch;
mod prune;
mod retention;
mod secrets;
mod table;
pub mod ui;
mod webhooks;

use crate::service::{AuditSlot, Caller, Credentials, SESSION_COOKIE, Service};
use app::model::{ApiError, Status};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use accounts::session_cookie_header;
pub use edge::{Edge, EdgeConfig, admit};

pub const IMAGE_API: &str = app::model::IMAGE_API_PATH;

/// The API router (no UI) behind the edge with its default settings (no configured host names:
/// IP literals and `localhost` only). State is the service.
pub fn api_router(service: Service) -> Router {
    api_router_with(service, EdgeConfig::default())
}

/// The API router behind an edge with `config`.
pub fn api_router_with(service: Service, config: EdgeConfig) -> Router {
    let registry = crate::registry::router(service.clone(), config.clone());
    let edge = Edge { service: service.clone(), config: std::sync::Arc::new(config) };
    registry
        .merge(routes(service).layer(axum::middleware::from_fn_with_state(edge, admit)))
        .layer(axum::middleware::from_fn(observe::observe))
}

/// Every API route, without the edge (the caller adds it once, over the UI routes too).
pub(crate) fn routes(service: Service) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/version", get(discovery::version))
        .route("/api", get(discovery::core_versions))
        .route("/api/v1", get(discovery::core_resources))
        .route("/apis", get(discovery::groups))
        .route("/apis/image.openshift.io", get(discovery::image_group))
        .route("/apis/image.openshift.io/v1", get(discovery::image_resources))
        .route("/openapi/v3", get(discovery::openapi_index))
        .route("/openapi/v3/apis/image.openshift.io/v1", get(discovery::openapi_group))
        .route("/openapi/{*rest}", axum::routing::any(discovery::not_found))
        .route("/api/v1/{*rest}", axum::routing::any(discovery::not_found))
        .route("/apis/{*rest}", axum::routing::any(discovery::not_found))
        .route("/api/v1/namespaces", get(namespaces::list).post(namespaces::create))
        .route("/api/v1/namespaces/{ns}", get(namespaces::get).delete(namespaces::delete))
        .route("/api/v1/live/imagestreams", get(live::image_streams))
        .route("/api/v1/namespaces/{ns}/secrets", get(secrets::list).post(secrets::create))
        .route("/api/v1/namespaces/{ns}/secrets/{name}", get(secrets::get).delete(secrets::delete))
        .route("/api/v1/session", get(accounts::who_am_i).post(accounts::sign_in).delete(accounts::sign_out))
        .route("/api/v1/session/password", axum::routing::put(accounts::change_password))
        .route("/api/v1/users", get(accounts::list_users).post(accounts::create_user))
        .route("/api/v1/tokens", get(accounts::list_tokens).post(accounts::create_token))
        .route("/api/v1/tokens/{id}", axum::routing::delete(accounts::revoke_token))
        .route("/api/v1/audit", get(accounts::server_audit))
        .route("/api/v1/prune/images", axum::routing::post(prune::server))
        .route("/api/v1/namespaces/{ns}/prune/images", axum::routing::post(prune::namespace))
        .route("/api/v1/namespaces/{ns}/retention", get(retention::get).put(retention::put).delete(retention::delete))
        .route("/api/v1/namespaces/{ns}/retention/preview", axum::routing::post(retention::preview))
        .route("/api/v1/namespaces/{ns}/retention/run", axum::routing::post(retention::run))
        .route("/api/v1/namespaces/{ns}/retention/runs", get(retention::runs))
        .route("/api/v1/namespaces/{ns}/retention/runs/{id}", get(retention::run_record))
        .route("/api/v1/registry/garbage-collection", get(garbage_collection::list).post(garbage_collection::run))
        .route("/api/v1/namespaces/{ns}/members", get(accounts::list_members))
        .route("/api/v1/namespaces/{ns}/members/{user}", axum::routing::put(accounts::set_member).delete(accounts::remove_member))
        .route("/api/v1/namespaces/{ns}/visibility", get(accounts::get_visibility).put(accounts::set_visibility))
        .route("/api/v1/namespaces/{ns}/audit", get(accounts::namespace_audit))
        .route("/api/v1/namespaces/{ns}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/api/v1/namespaces/{ns}/webhooks/{name}", get(webhooks::get).put(webhooks::update).delete(webhooks::delete))
        .route("/api/v1/namespaces/{ns}/webhooks/{name}/deliveries", get(webhooks::deliveries))
        .route("/api/v1/namespaces/{ns}/webhooks/{name}/test", axum::routing::post(webhooks::test))
        .route("/api/v1/namespaces/{ns}/webhooks/{name}/deliveries/{id}/redeliver", axum::routing::post(webhooks::redeliver))
        .route(&format!("{IMAGE_API}/imagestreams"), get(imagestreams::list_all))
        .route(&format!("{IMAGE_API}/namespaces/{{ns}}/imagestreams"), get(imagestreams::list).post(imagestreams::create))
        .route(
            &format!("{IMAGE_API}/namespaces/{{ns}}/imagestreams/{{name}}"),
            get(imagestreams::get).put(imagestreams::update).patch(patch::image_stream).delete(imagestreams::delete),
        )
        .route(&format!("{IMAGE_API}/namespaces/{{ns}}/imagestreamtags"), get(istags::list).post(istags::create))
        .route(
            &format!("{IMAGE_API}/namespaces/{{ns}}/imagestreamtags/{{name}}"),
            get(istags::get).put(istags::update).patch(patch::image_stream_tag).delete(istags::delete),
        )
        .route(&format!("{IMAGE_API}/namespaces/{{ns}}/imagestreamimages/{{name}}"), get(images::get_stream_image))
        .route(&format!("{IMAGE_API}/namespaces/{{ns}}/imagestreammappings"), axum::routing::post(images::create_mapping))
        .route(&format!("{IMAGE_API}/namespaces/{{ns}}/imagestreamimports"), axum::routing::post(images::create_import))
        .route(&format!("{IMAGE_API}/images"), get(images::list))
        .route(&format!("{IMAGE_API}/images/{{name}}"), get(images::get))
        // The edge enforces each route's own, smaller limit (`edge::body_limit`).
        .layer(axum::extract::DefaultBodyLimit::max(edge::body_limit("/apis/")))
        .with_state(service)
}

/// 200 while the server takes work; 503 while it drains (shutting down) or when the database
/// does not answer, so a load balancer sends new requests elsewhere.
async fn readyz(axum::extract::State(service): axum::extract::State<Service>) -> Response {
    if service.draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining").into_response()
    } else if service.ready().await {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

/// `GET /metrics`: the Prometheus exposition, for server administrators (on the API's port; the
/// `--metrics-listen` address serves it without credentials).
async fn metrics(axum::extract::State(service): axum::extract::State<Service>, Who(caller): Who) -> ApiResult {
    let text = service.metrics_text(&caller).await?;
    Ok(metrics_response(text))
}

/// The exposition as an HTTP answer.
pub fn metrics_response(text: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE))], text).into_response()
}

/// The router of `--metrics-listen`: `/metrics` without credentials (the operator chose who can
/// reach that address), and nothing else.
pub fn metrics_router(service: Service) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(
                |axum::extract::State(s): axum::extract::State<Service>| async move { metrics_response(s.metrics_unauthenticated().await) },
            ),
        )
        .with_state(service)
}

/// An `ApiError` on the wire: its `Status` as JSON with the matching HTTP code.
pub struct HttpError(pub ApiError);

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError(e)
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.0.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.0.status).unwrap_or_default();
        let mut response = (code, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response();
        // As the Kubernetes API server does: the status's retryAfterSeconds as a header too, for
        // clients that read only that.
        if let Some(seconds) = self.0.status.details.as_ref().and_then(|d| d.retry_after_seconds) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult = Result<Response, HttpError>;

/// `limit` / `continue` query parameters of list calls.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    pub limit: Option<i64>,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
}

/// The credentials of a request: `Authorization: Bearer`, the session cookie, the peer
/// address, and the audit slot the audit layer put there.
pub fn credentials(parts: &axum::http::request::Parts) -> Credentials {
    let headers = &parts.headers;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(|t| t.trim().to_string());
    Credentials {
        bearer,
        session: session_cookie(headers),
        remote: parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip().to_string()),
        audit: parts.extensions.get::<AuditSlot>().cloned(),
    }
}

/// The value of the session cookie, if the request has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == SESSION_COOKIE && !v.is_empty()).then(|| v.to_string())
    })
}

/// The caller of a request, resolved from its credentials (a bad token is a 401 here).
pub struct Who(pub Caller);

impl axum::extract::FromRequestParts<Service> for Who {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, s: &Service) -> Result<Self, Self::Rejection> {
        // The edge resolved the caller of every change already (before the body was read).
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(Who(caller.clone()));
        }
        Ok(Who(s.resolve_caller(credentials(parts)).await?))
    }
}

/// Encodes `value` as YAML when the client asked for it, else JSON.
pub fn respond<T: Serialize>(headers: &HeaderMap, code: StatusCode, value: &T) -> ApiResult {
    let wants_yaml = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/yaml") || a.contains("application/x-yaml"));
    if wants_yaml {
        let body = crate::yaml::try_to_string(value).map_err(|e| ApiError::internal(format!("encoding YAML: {e}")))?;
        return Ok((code, [(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"))], body).into_response());
    }
    let body = serde_json::to_vec(value).map_err(|e| ApiError::internal(format!("encoding JSON: {e}")))?;
    Ok((code, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response())
}

/// Decodes a request body (JSON, or YAML when the content type says so, within `yaml`'s budget)
/// with a 400 naming the problem instead of a bare rejection; a content type that is neither is
/// 415 (the edge refuses those before the body is read; this is the same rule for any other
/// caller of `decode`).
pub fn decode<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request("the request body is empty; send the object as JSON"));
    }
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or_default());
    if let Some(ct) = content_type
        && !edge::decodable_content_type(ct)
    {
        return Err(ApiError::unsupported_media("the request body must be application/json or application/yaml"));
    }
    let yaml = content_type.is_some_and(|c| c.contains("yaml"));
    if !yaml && field_validation(headers) == FieldValidation::Strict {
        return decode_strict(body);
    }
    if yaml {
        // Parsing is linear within the budget, but a large document still takes a while: off the
        // async workers, so other requests (health checks, watches) are not held up meanwhile.
        let parse =
            || crate::yaml::from_slice(body).map_err(|e| ApiError::bad_request(format!("the request body is not a valid object: {e}")));
        let multi_thread =
            tokio::runtime::Handle::try_current().is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi_thread && body.len() > 16 * 1024 {
            return tokio::task::block_in_place(parse);
        }
        parse()
    } else {
        serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("the request body is not a valid object: {e}")))
    }
}

/// The request header the edge sets from `?fieldValidation=` (replacing whatever the client
/// sent under that name), for `decode`.
pub const FIELD_VALIDATION_HEADER: &str = "x-imagestreams-field-validation";

/// `?fieldValidation=` of a write, as Kubernetes defines it: `Strict` refuses unknown fields
/// (400), `Ignore` and `Warn` drop them (this server sends no warnings yet, so `Warn` is `Ignore`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValidation {
    Ignore,
    Strict,
}

/// The field validation of a request (see `FIELD_VALIDATION_HEADER`).
pub fn field_validation(headers: &HeaderMap) -> FieldValidation {
    match headers.get(FIELD_VALIDATION_HEADER).and_then(|v| v.to_str().ok()) {
        Some("Strict") => FieldValidation::Strict,
        _ => FieldValidation::Ignore,
    }
}

/// `decode` that refuses unknown fields whatever `?fieldValidation=` says (JSON or YAML): for
/// this server's own objects, not Kubernetes resources, where a misspelt field that silently
/// took its default would do something else than asked (a retention policy keeping less).
/// Errors: `decode`'s, 400 for a body that is not an object, and 400 "strict decoding error:
/// unknown field \"…\"" naming each.
pub fn decode_known_fields<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let value: serde_json::Value = decode(headers, body)?;
    // serde reads a struct from an array too (fields in order): `[5, 10]` is not an object.
    if !value.is_object() {
        return Err(ApiError::bad_request("the request body must be an object (a JSON or YAML mapping of field names to values)"));
    }
    let bytes = serde_json::to_vec(&value).map_err(|e| ApiError::bad_request(format!("the request body is not a valid object: {e}")))?;
    decode_strict(&Bytes::from(bytes))
}

fn decode_strict<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let (value, unknown) = crate::strict::unknown_fields(&mut de)
        .map_err(|e| ApiError::bad_request(format!("the request body is not a valid object: {e}")))?;
    crate::strict::refuse_unknown(&unknown)?;
    Ok(value)
}

/// The preconditions of a DELETE: its `DeleteOptions` body when it has one (kubectl always
/// sends one), checked by `DeleteOptions::into_preconditions`; none for an empty body. Shared by
/// every delete handler.
pub fn delete_preconditions(headers: &HeaderMap, body: &Bytes) -> Result<app::domain::deletion::Preconditions, ApiError> {
    if body.is_empty() {
        return Ok(Default::default());
    }
    decode::<app::domain::deletion::DeleteOptions>(headers, body)?.into_preconditions()
}

/// Success `Status` of deletes, as upstream answers them.
pub fn deleted(headers: &HeaderMap, status: Status) -> ApiResult {
    respond(headers, StatusCode::OK, &status)
}
