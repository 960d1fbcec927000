//! The seam between the app and the server (server side only): the server implements
//! [`PortalBackend`] with its service layer and provides it as `Arc<dyn PortalBackend>` in
//! Leptos context; the server functions ask it.
//!
//! Must not: name server types (the server depends on `app`, not the reverse) or hold rules.

use crate::domain::prune::{PruneOptions, PruneReport};
use crate::domain::retention::{RetentionPolicy, RetentionRun, StoredRetentionPolicy};
use crate::model::{ApiError, ApiToken, Webhook, WhoAmI};
use crate::transfer::types::*;
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Answer<'a, T> = BoxFuture<'a, Result<T, ApiError>>;

/// A whole-server prune preview under way: phase (`history`, `images`), steps done of the
/// phase's total, and once finished its report (bounded: see `PRUNE_PREVIEW_LISTED`) or failure.
pub struct ServerPruneState {
    pub phase: String,
    pub done: usize,
    pub total: usize,
    pub result: Option<Result<PruneReport, ApiError>>,
}

pub trait PortalBackend: Send + Sync + 'static {
    fn catalog(&self, query: String, sort: String, page: u32) -> Answer<'_, CatalogSlice>;
    /// The stream page's facts: the stream, its heads' sizes and what the blob store holds of
    /// the images of the tag table's page `table`.
    fn stream(&self, namespace: String, name: String, table: crate::domain::tag_table::TagQuery) -> Answer<'_, StreamFacts>;
    fn image(&self, digest: String) -> Answer<'_, ImageFacts>;
    /// The image page of `<stream>@<id>` (an ImageStreamImage name) in a namespace.
    fn stream_image(&self, namespace: String, name: String) -> Answer<'_, ImageFacts>;
    fn dashboard(&self) -> Answer<'_, Dashboard>;
    /// The names of the namespaces the caller may read (one page of the largest size).
    fn namespace_names(&self) -> Answer<'_, Vec<String>>;
    fn create_namespace(&self, name: String) -> Answer<'_, ()>;
    fn delete_namespace(&self, name: String) -> Answer<'_, ()>;
    fn create_stream(&self, namespace: String, name: String) -> Answer<'_, ()>;
    fn delete_stream(&self, namespace: String, name: String) -> Answer<'_, ()>;
    /// Returns the message `tag` prints.
    fn tag(&self, form: TagForm) -> Answer<'_, String>;
    fn delete_tag(&self, namespace: String, stream: String, tag: String) -> Answer<'_, ()>;
    /// Deletes several tags of a stream in one transaction; answers how many.
    fn delete_tags(&self, namespace: String, stream: String, tags: Vec<String>) -> Answer<'_, usize>;
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
    /// The namespace's retention policy (`None`: it has none).
    fn retention_policy(&self, namespace: String) -> Answer<'_, Option<StoredRetentionPolicy>>;
    fn save_retention(&self, namespace: String, policy: RetentionPolicy) -> Answer<'_, StoredRetentionPolicy>;
    /// A dry run of `policy` on the namespace (namespace admins).
    fn preview_retention(&self, namespace: String, policy: RetentionPolicy) -> Answer<'_, PruneReport>;
    /// Runs the saved policy now.
    fn run_retention(&self, namespace: String) -> Answer<'_, RetentionRun>;
    /// The newest runs (one page).
    fn retention_runs(&self, namespace: String) -> Answer<'_, Vec<RetentionRun>>;
    /// Starts a dry run of `prune images` over the whole server in the background (server
    /// administrators); the job id.
    fn start_server_prune(&self, options: PruneOptions) -> Answer<'_, String>;
    /// How far the caller's whole-server prune preview got.
    fn server_prune(&self, id: String) -> Answer<'_, ServerPruneState>;
}
