//! The web UI's side of the HTTP surface: the router that mounts the Leptos pages and server
//! functions next to the API, and `UiBackend`, the `PortalBackend` the server functions call. The
//! backend is a thin adapter: it resolves the caller from the request the server function runs
//! in and calls one service method (the same methods the REST API calls, so every rule has one
//! implementation).
//!
//! Must not: hold a rule, read the store, or keep state of its own.

use crate::http;
use crate::service::{Caller, Credentials, RES_RETENTION, Service};
use app::api::backend::{Answer, PortalBackend};
use app::api::*;
use app::domain::prune::{PruneOptions, PruneReport};
use app::domain::retention::{RetentionPolicy, RetentionRun, StoredRetentionPolicy};
use app::model::*;
use app::{App, shell};
use axum::Router;
use axum::response::IntoResponse;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use std::future::Future;
use std::sync::Arc;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, NotForContentType, Predicate};

/// The service as the server functions see it.
#[derive(Clone)]
pub struct UiBackend(pub Service);

impl UiBackend {
    /// Resolves the caller of the request this server function runs in, then runs `act` as
    /// them. The credentials are read synchronously: the request is in the reactive context
    /// only until the first await.
    fn as_caller<'a, T, F, Fut>(&'a self, act: F) -> Answer<'a, T>
    where
        T: Send + 'a,
        F: FnOnce(&'a Service, Caller) -> Fut + Send + 'a,
        Fut: Future<Output = Result<T, ApiError>> + Send + 'a,
    {
        // The edge resolved the caller of a change already; reads resolve it here.
        let resolved = use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<Caller>().cloned());
        let credentials = web_credentials();
        Box::pin(async move {
            let caller = match resolved {
                Some(c) => c,
                None => self.0.resolve_caller(credentials).await?,
            };
            act(&self.0, caller).await
        })
    }
}

impl PortalBackend for UiBackend {
    fn catalog(&self, query: String, sort: String, page: u32) -> Answer<'_, CatalogSlice> {
        self.as_caller(move |s, who| async move { s.catalog_slice(&who, &query, &sort, page).await })
    }
    fn stream(&self, namespace: String, name: String, table: app::domain::tag_table::TagQuery) -> Answer<'_, StreamFacts> {
        self.as_caller(move |s, who| async move { s.stream_facts(&who, &namespace, &name, &table).await })
    }
    fn image(&self, digest: String) -> Answer<'_, ImageFacts> {
        self.as_caller(move |s, who| async move { s.image_facts(&who, &digest).await })
    }
    fn stream_image(&self, namespace: String, name: String) -> Answer<'_, ImageFacts> {
        self.as_caller(move |s, who| async move { s.stream_image_facts(&who, &namespace, &name).await })
    }
    fn dashboard(&self) -> Answer<'_, Dashboard> {
        self.as_caller(move |s, who| async move { s.dashboard(&who).await })
    }
    fn namespace_names(&self) -> Answer<'_, Vec<String>> {
        self.as_caller(move |s, who| async move {
            s.list_namespaces(&who, Some(i64::MAX), None).await.map(|l| l.items.into_iter().map(|n| n.metadata.name).collect())
        })
    }
    fn create_namespace(&self, name: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.create_namespace(&who, Namespace::new(name.trim())).await.map(|_| ()) })
    }
    fn delete_namespace(&self, name: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.delete_namespace(&who, name.trim()).await.map(|_| ()) })
    }
    fn create_stream(&self, namespace: String, name: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move {
            s.create_stream(&who, namespace.trim(), ImageStream::new(namespace.trim(), name.trim())).await.map(|_| ())
        })
    }
    fn delete_stream(&self, namespace: String, name: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.delete_stream(&who, &namespace, &name).await.map(|_| ()) })
    }
    fn tag(&self, form: TagForm) -> Answer<'_, String> {
        self.as_caller(move |s, who| async move { s.tag_from_form(&who, form).await })
    }
    fn delete_tag(&self, namespace: String, stream: String, tag: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.delete_istag(&who, &namespace, &format!("{stream}:{tag}")).await.map(|_| ()) })
    }
    fn delete_tags(&self, namespace: String, stream: String, tags: Vec<String>) -> Answer<'_, usize> {
        self.as_caller(move |s, who| async move { s.delete_istags(&who, &namespace, &stream, &tags).await })
    }
    fn import(&self, form: ImportForm) -> Answer<'_, String> {
        self.as_caller(move |s, who| async move { s.import_from_form(&who, form, None).await })
    }
    fn start_import(&self, form: ImportForm) -> Answer<'_, String> {
        self.as_caller(move |s, who| async move { s.start_import_job(who, form).await })
    }
    fn import_job(&self, id: String) -> Answer<'_, ImportJob> {
        self.as_caller(move |s, who| async move { s.import_job(&who, &id) })
    }
    fn webhooks(&self, namespace: String) -> Answer<'_, Vec<Webhook>> {
        self.as_caller(move |s, who| async move { s.list_webhooks(&who, &namespace).await.map(|l| l.items) })
    }
    fn create_webhook(&self, form: WebhookForm) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.create_webhook(&who, &form.namespace, form.to_webhook()).await.map(|_| ()) })
    }
    fn delete_webhook(&self, namespace: String, name: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.delete_webhook(&who, &namespace, &name).await.map(|_| ()) })
    }
    fn deliveries(&self, namespace: String, name: String) -> Answer<'_, Vec<WebhookDelivery>> {
        self.as_caller(move |s, who| async move { s.list_deliveries(&who, &namespace, &name).await.map(|l| l.items) })
    }
    fn test_webhook(&self, namespace: String, name: String) -> Answer<'_, i64> {
        self.as_caller(move |s, who| async move { s.test_webhook(&who, &namespace, &name).await.map(|d| d.id) })
    }
    fn redeliver(&self, namespace: String, name: String, delivery: i64) -> Answer<'_, i64> {
        self.as_caller(move |s, who| async move { s.redeliver(&who, &namespace, &name, delivery).await.map(|d| d.id) })
    }
    fn who_am_i(&self) -> Answer<'_, WhoAmI> {
        self.as_caller(move |s, who| async move { Ok(s.who_am_i(&who)) })
    }
    fn sign_out(&self) -> Answer<'_, ()> {
        let headers = use_context::<axum::http::request::Parts>().map(|p| p.headers).unwrap_or_default();
        let response = use_context::<leptos_axum::ResponseOptions>();
        self.as_caller(move |s, who| async move {
            s.sign_out(&who).await?;
            if let Some(r) = response {
                r.insert_header(axum::http::header::SET_COOKIE, http::session_cookie_header(&headers, "", 0)?);
            }
            Ok(())
        })
    }
    fn change_password(&self, current: String, new: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.change_password_from_form(&who, &PasswordChange { current, new }).await })
    }
    fn tokens(&self) -> Answer<'_, Vec<ApiToken>> {
        self.as_caller(move |s, who| async move { s.list_tokens(&who).await })
    }
    fn create_token(&self, form: TokenForm) -> Answer<'_, ApiToken> {
        self.as_caller(move |s, who| async move { s.create_token_from_form(&who, form).await })
    }
    fn revoke_token(&self, id: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.revoke_token(&who, &id).await.map(|_| ()) })
    }
    fn members(&self, namespace: String) -> Answer<'_, NamespaceSettings> {
        self.as_caller(move |s, who| async move { s.namespace_settings(&who, &namespace).await })
    }
    fn set_member(&self, namespace: String, user: String, role: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.set_member_from_form(&who, &namespace, &user, &role).await })
    }
    fn remove_member(&self, namespace: String, user: String) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.remove_member(&who, &namespace, &user).await.map(|_| ()) })
    }
    fn set_public(&self, namespace: String, public: bool) -> Answer<'_, ()> {
        self.as_caller(move |s, who| async move { s.set_visibility(&who, &namespace, &Visibility { public }).await.map(|_| ()) })
    }
    fn audit(&self, namespace: String) -> Answer<'_, Vec<AuditEntry>> {
        self.as_caller(move |s, who| async move { s.audit_log(&who, Some(&namespace)).await })
    }
    fn retention_policy(&self, namespace: String) -> Answer<'_, Option<StoredRetentionPolicy>> {
        self.as_caller(move |s, who| async move {
            match s.get_retention_policy(&who, &namespace).await {
                Ok(p) => Ok(Some(p)),
                // No policy yet is an empty form, not a failure (a missing namespace still is).
                Err(e) if e.status.details.as_ref().is_some_and(|d| d.kind == RES_RETENTION.plural) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
    fn save_retention(&self, namespace: String, policy: RetentionPolicy) -> Answer<'_, StoredRetentionPolicy> {
        self.as_caller(move |s, who| async move { s.set_retention_policy(&who, &namespace, policy).await })
    }
    fn preview_retention(&self, namespace: String, policy: RetentionPolicy) -> Answer<'_, PruneReport> {
        self.as_caller(move |s, who| async move { s.preview_retention(&who, &namespace, &policy).await })
    }
    fn run_retention(&self, namespace: String) -> Answer<'_, RetentionRun> {
        self.as_caller(move |s, who| async move { s.run_retention_now(&who, &namespace).await })
    }
    fn retention_runs(&self, namespace: String) -> Answer<'_, Vec<RetentionRun>> {
        self.as_caller(move |s, who| async move { s.retention_runs(&who, &namespace, Some(50), None).await.map(|l| l.items) })
    }
    fn start_server_prune(&self, options: PruneOptions) -> Answer<'_, String> {
        // Always a dry run from this page, whatever the options say.
        let options = PruneOptions { namespace: None, confirm: false, ..options };
        self.as_caller(move |s, who| async move { s.start_prune_job(who, options) })
    }
    fn server_prune(&self, id: String) -> Answer<'_, app::api::backend::ServerPruneState> {
        self.as_caller(move |s, who| async move {
            s.prune_job(&who, &id).map(|j| app::api::backend::ServerPruneState {
                phase: j.phase.to_string(),
                done: j.done,
                total: j.total,
                result: j.result,
            })
        })
    }
}

/// The credentials of the request a server function (or a server-rendered page) runs in.
/// Called synchronously in each backend method: the request is in the reactive context there.
fn web_credentials() -> Credentials {
    use_context::<axum::http::request::Parts>().map(|p| http::credentials(&p)).unwrap_or_default()
}

/// The largest server-function error body read back to find its status (an `ApiFailure` is a
/// message and a field; anything larger is left as it is).
const FAILURE_BODY_LIMIT: usize = 64 * 1024;

/// Corrects two answers server_fn makes itself, before a server function runs: an argument
/// error (missing, undecodable, over the body limit) is sent as 500 with an [`ApiFailure`]
/// whose `code` says 400/405/413 — the status becomes that code; and a plain form's failure is
/// redirected to the request's raw `Referer` — a Location that is not a path of this site
/// becomes `/` (never another site, whatever the Referer said).
async fn server_fn_answers(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    let path = req.uri().path();
    let server_fn = path.starts_with("/api/") && !path.starts_with("/api/v1/");
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
    let mut resp = next.run(req).await;
    if !server_fn {
        return resp;
    }
    if let Some(location) = resp.headers().get(header::LOCATION).and_then(|l| l.to_str().ok()) {
        let local = local_location(location, &host);
        if local != location
            && let Ok(v) = axum::http::HeaderValue::from_str(&local)
        {
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    if resp.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, FAILURE_BODY_LIMIT).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "the answer of a server function could not be read").into_response();
    };
    if let Ok(failure) = serde_json::from_slice::<app::transfer::ApiFailure>(&bytes)
        && let Ok(status) = StatusCode::from_u16(failure.code)
        && status.is_client_error()
    {
        parts.status = status;
    }
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// `location` if it is a path of this site (or an absolute address of `host`, as its path);
/// otherwise `/`.
fn local_location(location: &str, host: &str) -> String {
    let path = match location.split_once("://") {
        Some((scheme, rest)) if matches!(scheme, "http" | "https") && !host.is_empty() && rest.starts_with(host) => {
            let tail = &rest[host.len()..];
            if tail.is_empty() { "/" } else { tail }
        }
        Some(_) => return "/".into(),
        None => location,
    };
    if app::api::is_site_path(path) { path.to_string() } else { "/".into() }
}

/// The router `serve` runs: API routes, then the UI routes and static files, all behind the
/// edge (`http::edge`) configured with `edge`.
pub fn router(service: Service, options: LeptosOptions, edge: http::EdgeConfig) -> Router {
    let routes = generate_route_list(App);
    let backend: Arc<dyn PortalBackend> = Arc::new(UiBackend(service.clone()));
    let shell_options = options.clone();
    let ui = Router::new()
        .leptos_routes_with_context(&options, routes, move || provide_context(backend.clone()), move || shell(shell_options.clone()))
        // The site's build output, named before the pages: `/pkg/portal.js` has the shape of
        // the `/<namespace>/<stream>@<id>` page route and must not be taken for it.
        .route("/pkg/{*file}", axum::routing::get(leptos_axum::file_and_error_handler(shell)))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options)
        .layer(axum::middleware::from_fn(server_fn_answers));
    let registry = crate::registry::router(service.clone(), edge.clone());
    let edge = http::Edge { service: service.clone(), config: Arc::new(edge) };
    // The registry is beside the API edge (its own credentials and Host check) and outside
    // compression (blobs are compressed already, and ranges and lengths must stay exact).
    // Watches are never compressed, as the Kubernetes API server does not compress them: a
    // compressor per open watch held about 430 KB (440 KB per idle watch of a client that
    // accepts gzip, as kubectl's does, against 24 KB without). Live pages are event streams,
    // which the default rule leaves alone already.
    let compression = CompressionLayer::new()
        .compress_when(DefaultPredicate::new().and(NotForContentType::const_new(http::imagestreams::WATCH_CONTENT_TYPE)));
    let portal = http::routes(service).merge(ui).layer(axum::middleware::from_fn_with_state(edge, http::admit)).layer(compression);
    registry.merge(portal).layer(axum::middleware::from_fn(http::observe::observe))
}
