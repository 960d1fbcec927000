//! Server functions: thin. Each asks the `PortalBackend` in context (the server's service layer)
//! and maps errors; no rules and no SQL here. Errors travel as `ApiFailure`, which keeps the
//! field a message concerns so forms can show it next to that field.

use crate::model::{ApiError, ApiToken, Image, Member, TagEvent, TagEventCondition, Webhook, WhoAmI};
use leptos::prelude::*;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The codec of page resources: JSON, as Leptos' default, but decoded from bytes. Server
/// functions decode their answers from bytes too, so the browser build carries one JSON
/// deserializer per model type instead of two (one per reader; measured: see README).
pub struct JsonBytes;

impl<T: Serialize> leptos::server::codee::Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;
    fn encode(val: &T) -> Result<String, Self::Error> {
        serde_json::to_string(val)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server::codee::Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;
    fn decode(val: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A page resource: loads with `fetcher` whenever `source` changes; the server's first value
/// travels to the browser in the page (see [`JsonBytes`]).
#[track_caller]
pub fn page_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, JsonBytes>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}

/// An error a page can show: the message, and the form field it is about (if any).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiFailure {
    pub message: String,
    pub field: Option<String>,
    pub code: u16,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl FromServerFnError for ApiFailure {
    type Encoder = JsonEncoding;
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiFailure { message: value.to_string(), field: None, code: 500 }
    }
}

impl From<ApiError> for ApiFailure {
    fn from(e: ApiError) -> Self {
        let field = e.status.details.as_ref().and_then(|d| d.causes.first()).map(|c| c.field.clone()).filter(|f| !f.is_empty());
        ApiFailure { message: e.message().to_string(), field, code: e.code() }
    }
}

impl ApiFailure {
    /// A client-side rule broken in a form field.
    pub fn at(field: &str, message: impl Into<String>) -> Self {
        ApiFailure { message: message.into(), field: Some(field.into()), code: 400 }
    }
}

/// One stream row of the catalog: `oc get is` columns plus counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogStream {
    pub namespace: String,
    pub name: String,
    pub image_repository: String,
    pub tags: String,
    /// RFC 3339 time of the newest head, if any.
    pub updated: Option<String>,
    pub tag_count: usize,
    pub image_count: usize,
}

/// A read-only part of a page rendered on the server, with the global resourceVersion it was
/// read at (the live connection replays the changes after it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderedPart {
    pub html: String,
    pub resource_version: String,
}

/// A page of the catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CatalogSlice {
    pub streams: Vec<CatalogStream>,
    pub total: u64,
    pub page: u32,
    pub page_size: u32,
    /// The global resourceVersion the page was read at (live updates follow from it).
    pub resource_version: String,
}

/// Where an image is (or was) tagged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageUse {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    /// When the tag pointed at the image.
    pub created: String,
    /// The tag points at it now.
    pub current: bool,
}

/// What the stream page gets: its read-only part rendered on the server, and what the buttons
/// in that markup need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamPageData {
    pub part: RenderedPart,
    /// What "Import now" imports, per tag that has a registry source.
    pub import_forms: Vec<ImportForm>,
}

/// One webhook of the webhooks page: its name and its facts, rendered on the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookCard {
    pub name: String,
    pub html: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ImageFacts {
    pub image: Image,
    pub uses: Vec<ImageUse>,
    /// `get isimage … -o yaml --export` of the first stream using it, or the Image as YAML.
    pub yaml: String,
}

/// A tag movement for the dashboard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagMovement {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    pub event: TagEvent,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailingImport {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
    pub condition: TagEventCondition,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub movements: Vec<TagMovement>,
    pub failing: Vec<FailingImport>,
    pub updated_today: Vec<CatalogStream>,
    pub generated: String,
}

/// The `tag` form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TagForm {
    pub namespace: String,
    pub source: String,
    pub destination: String,
    pub mode: String,
    pub reference_policy: String,
    pub import_mode: String,
    pub scheduled: bool,
    pub insecure: bool,
}

/// A running web import: images looked up of the total, and the result once finished.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportJob {
    pub done: usize,
    pub total: usize,
    /// `Some(Ok(summary))` or `Some(Err(failure))` once finished.
    pub result: Option<Result<String, ApiFailure>>,
}

/// The import form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportForm {
    pub namespace: String,
    pub stream: String,
    pub from: String,
    pub tag: String,
    pub all: bool,
    pub scheduled: bool,
    pub insecure: bool,
    pub import_mode: String,
}

/// The new-webhook form (`tags` as written: separated by commas or spaces).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookForm {
    pub namespace: String,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub tags: String,
    pub events: Vec<String>,
}

impl WebhookForm {
    /// The subscription this form describes (what the API would be sent).
    pub fn to_webhook(&self) -> Webhook {
        let mut w = Webhook::default();
        w.metadata.name = self.name.trim().to_string();
        w.metadata.namespace = Some(self.namespace.clone());
        w.spec.url = self.url.trim().to_string();
        w.spec.secret = Some(self.secret.clone());
        w.spec.tags = self.tags.split([',', ' ']).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect();
        w.spec.events = self.events.clone();
        w
    }
}

/// The new-token form (`namespaces` as written: separated by commas or spaces; `expires_in_days`
/// empty for never).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenForm {
    pub name: String,
    pub namespaces: String,
    pub max_role: String,
    pub expires_in_days: String,
}

/// A namespace's settings page: its members, whether it is public, and what the caller may do.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamespaceSettings {
    pub members: Vec<Member>,
    pub public: bool,
    /// The caller administers the namespace (may change members and visibility, read the audit log).
    pub can_admin: bool,
}

#[cfg(feature = "ssr")]
pub mod backend {
    //! The seam between the app and the server: the server implements this trait with its
    //! service layer and provides it as `Arc<dyn PortalBackend>` in Leptos context.
    use super::*;
    use std::future::Future;
    use std::pin::Pin;

    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
    pub type Answer<'a, T> = BoxFuture<'a, Result<T, ApiError>>;

    pub trait PortalBackend: Send + Sync + 'static {
        fn catalog(&self, query: String, sort: String, page: u32) -> Answer<'_, CatalogSlice>;
        fn stream(&self, namespace: String, name: String) -> Answer<'_, crate::model::ImageStream>;
        fn image(&self, digest: String) -> Answer<'_, ImageFacts>;
        /// The image page of `<stream>@<id>` (an ImageStreamImage name) in a namespace.
        fn stream_image(&self, namespace: String, name: String) -> Answer<'_, ImageFacts>;
        fn dashboard(&self) -> Answer<'_, Dashboard>;
        fn create_namespace(&self, name: String) -> Answer<'_, ()>;
        fn delete_namespace(&self, name: String) -> Answer<'_, ()>;
        fn create_stream(&self, namespace: String, name: String) -> Answer<'_, ()>;
        fn delete_stream(&self, namespace: String, name: String) -> Answer<'_, ()>;
        /// Returns the message `tag` prints.
        fn tag(&self, form: TagForm) -> Answer<'_, String>;
        fn delete_tag(&self, namespace: String, stream: String, tag: String) -> Answer<'_, ()>;
        /// Returns a summary: tags imported, failed, additional.
        fn import(&self, form: ImportForm) -> Answer<'_, String>;
        /// Starts an import in the background; returns its job id.
        fn start_import(&self, form: ImportForm) -> Answer<'_, String>;
        fn import_job(&self, id: String) -> Answer<'_, ImportJob>;
        fn webhooks(&self, namespace: String) -> Answer<'_, Vec<Webhook>>;
        fn create_webhook(&self, form: WebhookForm) -> Answer<'_, ()>;
        fn delete_webhook(&self, namespace: String, name: String) -> Answer<'_, ()>;
        fn deliveries(&self, namespace: String, name: String) -> Answer<'_, Vec<crate::model::WebhookDelivery>>;
        /// Returns the id of the queued delivery.
        fn test_webhook(&self, namespace: String, name: String) -> Answer<'_, i64>;
        /// Returns the id of the new delivery.
        fn redeliver(&self, namespace: String, name: String, delivery: i64) -> Answer<'_, i64>;
        fn who_am_i(&self) -> Answer<'_, WhoAmI>;
        /// Ends the session and clears the cookie.
        fn sign_out(&self) -> Answer<'_, ()>;
        fn change_password(&self, current: String, new: String) -> Answer<'_, ()>;
        fn tokens(&self) -> Answer<'_, Vec<ApiToken>>;
        /// Returns the token with its secret (shown once).
        fn create_token(&self, form: TokenForm) -> Answer<'_, ApiToken>;
        fn revoke_token(&self, id: String) -> Answer<'_, ()>;
        fn members(&self, namespace: String) -> Answer<'_, NamespaceSettings>;
        fn set_member(&self, namespace: String, user: String, role: String) -> Answer<'_, ()>;
        fn remove_member(&self, namespace: String, user: String) -> Answer<'_, ()>;
        fn set_public(&self, namespace: String, public: bool) -> Answer<'_, ()>;
        fn audit(&self, namespace: String) -> Answer<'_, Vec<crate::model::AuditEntry>>;
    }
}

/// An API error as the server function's answer, with the HTTP status of its reason (a missing
/// stream is a 404, not a 500).
#[cfg(feature = "ssr")]
fn fail(e: ApiError) -> ApiFailure {
    if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
        opts.set_status(http::StatusCode::from_u16(e.code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
    }
    e.into()
}

#[cfg(feature = "ssr")]
fn backend() -> Result<std::sync::Arc<dyn backend::PortalBackend>, ApiFailure> {
    use_context::<std::sync::Arc<dyn backend::PortalBackend>>().ok_or_else(|| ApiFailure {
        message: "backend missing from context".into(),
        field: None,
        code: 500,
    })
}

#[server]
pub async fn list_catalog(query: String, sort: String, page: u32) -> Result<RenderedPart, ApiFailure> {
    let found = backend()?.catalog(query.clone(), sort.clone(), page).await.map_err(fail)?;
    Ok(crate::pages::catalog::render(found, &query, &sort))
}

/// The stream page's content (see [`StreamPageData`]); `all_history` lists every history item
/// instead of the newest ones.
#[server]
pub async fn get_stream(namespace: String, name: String, all_history: bool) -> Result<StreamPageData, ApiFailure> {
    backend()?.stream(namespace, name).await.map(|s| crate::pages::stream::render(&s, all_history)).map_err(fail)
}

/// The image page's content, rendered on the server (read-only; see `components::Rendered`).
#[server]
pub async fn get_image_page(digest: String) -> Result<String, ApiFailure> {
    backend()?.image(digest).await.map(crate::pages::image::render).map_err(fail)
}

/// The image page of `<stream>@<id>` in a namespace (the id may be a digest or a unique prefix
/// of one, as `get isimage` takes it), rendered on the server.
#[server]
pub async fn get_stream_image_page(namespace: String, name: String) -> Result<String, ApiFailure> {
    backend()?.stream_image(namespace, name).await.map(crate::pages::image::render).map_err(fail)
}

/// The dashboard's content, rendered on the server (read-only; see `components::Rendered`).
#[server]
pub async fn get_dashboard() -> Result<String, ApiFailure> {
    backend()?.dashboard().await.map(crate::pages::dashboard::render).map_err(fail)
}

#[server]
pub async fn create_namespace(name: String) -> Result<(), ApiFailure> {
    backend()?.create_namespace(name).await.map_err(fail)
}

#[server]
pub async fn delete_namespace(name: String) -> Result<(), ApiFailure> {
    backend()?.delete_namespace(name).await.map_err(fail)
}

#[server]
pub async fn create_stream(namespace: String, name: String) -> Result<(), ApiFailure> {
    backend()?.create_stream(namespace, name).await.map_err(fail)
}

#[server]
pub async fn delete_stream(namespace: String, name: String) -> Result<(), ApiFailure> {
    backend()?.delete_stream(namespace, name).await.map_err(fail)
}

#[server]
pub async fn tag_image(form: TagForm) -> Result<String, ApiFailure> {
    backend()?.tag(form).await.map_err(fail)
}

#[server]
pub async fn delete_tag(namespace: String, stream: String, tag: String) -> Result<(), ApiFailure> {
    backend()?.delete_tag(namespace, stream, tag).await.map_err(fail)
}

#[server]
pub async fn import_images(form: ImportForm) -> Result<String, ApiFailure> {
    backend()?.import(form).await.map_err(fail)
}

#[server]
pub async fn start_import(form: ImportForm) -> Result<String, ApiFailure> {
    backend()?.start_import(form).await.map_err(fail)
}

#[server]
pub async fn get_import_job(id: String) -> Result<ImportJob, ApiFailure> {
    backend()?.import_job(id).await.map_err(fail)
}

#[server]
pub async fn list_webhooks(namespace: String) -> Result<Vec<WebhookCard>, ApiFailure> {
    backend()?.webhooks(namespace).await.map(|l| l.iter().map(crate::pages::webhooks::render_card).collect()).map_err(fail)
}

#[server]
pub async fn create_webhook(form: WebhookForm) -> Result<(), ApiFailure> {
    backend()?.create_webhook(form).await.map_err(fail)
}

#[server]
pub async fn delete_webhook(namespace: String, name: String) -> Result<(), ApiFailure> {
    backend()?.delete_webhook(namespace, name).await.map_err(fail)
}

#[server]
pub async fn list_deliveries(namespace: String, name: String) -> Result<String, ApiFailure> {
    let log = backend()?.deliveries(namespace, name.clone()).await.map_err(fail)?;
    Ok(crate::pages::webhooks::render_deliveries(&name, log))
}

#[server]
pub async fn send_test_event(namespace: String, name: String) -> Result<i64, ApiFailure> {
    backend()?.test_webhook(namespace, name).await.map_err(fail)
}

#[server]
pub async fn redeliver(namespace: String, name: String, delivery: i64) -> Result<i64, ApiFailure> {
    backend()?.redeliver(namespace, name, delivery).await.map_err(fail)
}

#[server]
pub async fn current_user() -> Result<WhoAmI, ApiFailure> {
    backend()?.who_am_i().await.map_err(fail)
}

#[server]
pub async fn sign_out() -> Result<(), ApiFailure> {
    backend()?.sign_out().await.map_err(fail)
}

#[server]
pub async fn change_password(current: String, new: String) -> Result<(), ApiFailure> {
    backend()?.change_password(current, new).await.map_err(fail)
}

#[server]
pub async fn list_tokens() -> Result<String, ApiFailure> {
    backend()?.tokens().await.map(crate::pages::account::render_tokens).map_err(fail)
}

#[server]
pub async fn create_token(form: TokenForm) -> Result<ApiToken, ApiFailure> {
    backend()?.create_token(form).await.map_err(fail)
}

#[server]
pub async fn revoke_token(id: String) -> Result<(), ApiFailure> {
    backend()?.revoke_token(id).await.map_err(fail)
}

#[server]
pub async fn get_namespace_settings(namespace: String) -> Result<NamespaceSettings, ApiFailure> {
    backend()?.members(namespace).await.map_err(fail)
}

#[server]
pub async fn set_member(namespace: String, user: String, role: String) -> Result<(), ApiFailure> {
    backend()?.set_member(namespace, user, role).await.map_err(fail)
}

#[server]
pub async fn remove_member(namespace: String, user: String) -> Result<(), ApiFailure> {
    backend()?.remove_member(namespace, user).await.map_err(fail)
}

#[server]
pub async fn set_public(namespace: String, public: bool) -> Result<(), ApiFailure> {
    backend()?.set_public(namespace, public).await.map_err(fail)
}

#[server]
pub async fn namespace_audit(namespace: String) -> Result<String, ApiFailure> {
    backend()?.audit(namespace).await.map(crate::pages::namespace::render_audit).map_err(fail)
}
