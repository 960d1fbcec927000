//! The server functions: thin. Each asks the [`backend::PortalBackend`] in context (the
//! server's service layer) and maps its errors; the read-only ones render their answer to markup
//! with `views`. Errors travel as [`ApiFailure`], which keeps the field a message concerns so
//! forms can show it next to that field.
//!
//! Re-exported here for the server and the pages: the transfer types and the error
//! (`crate::transfer`, which `views` and `widgets` use without naming the server functions),
//! and the backend trait (`backend`, server side only).
//!
//! Must not: hold rules or SQL (they are `domain`'s and the server's), build markup itself
//! (that is `views`), or be called from `views` or `widgets` (only pages and `live` call them).

#[cfg(feature = "ssr")]
pub mod backend;

pub use crate::transfer::ApiFailure;
pub use crate::transfer::types::*;
pub use crate::transfer::{error, types};

#[cfg(feature = "ssr")]
use crate::model::ApiError;
use crate::model::{ApiToken, WhoAmI};
use leptos::prelude::*;

/// An API error as the server function's answer, with the HTTP status of its reason (a missing
/// stream is a 404, not a 500), its message led by a sentence in words (`page_failure`).
#[cfg(feature = "ssr")]
fn fail(e: ApiError) -> ApiFailure {
    fail_in("")(e)
}

/// [`fail`] for an action in `namespace` (the sentence names it: "… already exists in shop").
#[cfg(feature = "ssr")]
fn fail_in(namespace: &str) -> impl Fn(ApiError) -> ApiFailure + '_ {
    move |e| {
        if let Some(opts) = use_context::<leptos_axum::ResponseOptions>() {
            opts.set_status(http::StatusCode::from_u16(e.code()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR));
        }
        page_failure(&e, namespace)
    }
}

/// An API error as a page shows it: the field it concerns, and its message led by a sentence
/// in words with upstream's wording after it (`domain::plain`; the API's own answers keep
/// upstream's wording alone).
#[cfg(feature = "ssr")]
pub fn page_failure(e: &ApiError, namespace: &str) -> ApiFailure {
    let mut failure = ApiFailure::from(e.clone());
    failure.message = crate::domain::plain::page_message(&e.status, namespace);
    failure
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
    Ok(crate::views::catalog::render(found, &query, &sort))
}

/// The stream page's content (see [`StreamPageData`]); `all_history` lists every history item
/// instead of the newest ones; `table` is the tag table's filter, sort and page.
#[server]
pub async fn get_stream(namespace: String, name: String, all_history: bool, table: TagTableParams) -> Result<StreamPageData, ApiFailure> {
    let query = table.query();
    backend()?.stream(namespace, name, query.clone()).await.map(|f| crate::views::stream::render(&f, all_history, &query)).map_err(fail)
}

/// The image page's content, rendered on the server (read-only; see `widgets::Rendered`), with
/// the resourceVersion it was read at.
#[server]
pub async fn get_image_page(digest: String) -> Result<RenderedPart, ApiFailure> {
    backend()?.image(digest).await.map(image_part).map_err(fail)
}

#[cfg(feature = "ssr")]
fn image_part(facts: crate::transfer::types::ImageFacts) -> RenderedPart {
    let resource_version = facts.resource_version.clone();
    RenderedPart { html: crate::views::image::render(facts), resource_version }
}

/// The image page of `<stream>@<id>` in a namespace (the id may be a digest or a unique prefix
/// of one, as `get isimage` takes it), rendered on the server.
#[server]
pub async fn get_stream_image_page(namespace: String, name: String) -> Result<RenderedPart, ApiFailure> {
    backend()?.stream_image(namespace, name).await.map(image_part).map_err(fail)
}

/// The dashboard's content, rendered on the server (read-only; see `widgets::Rendered`), with
/// the resourceVersion it was read at.
#[server]
pub async fn get_dashboard() -> Result<RenderedPart, ApiFailure> {
    backend()?
        .dashboard()
        .await
        .map(|d| {
            let resource_version = d.resource_version.clone();
            RenderedPart { html: crate::views::dashboard::render(d), resource_version }
        })
        .map_err(fail)
}

/// The names of the namespaces the caller may read (the webhooks page's chooser).
#[server]
pub async fn list_namespace_names() -> Result<Vec<String>, ApiFailure> {
    backend()?.namespace_names().await.map_err(fail)
}

#[server]
pub async fn create_namespace(name: String) -> Result<(), ApiFailure> {
    let result = backend()?.create_namespace(name.clone()).await.map_err(fail);
    back_to_page(result, |()| format!("Namespace {} created.", name.trim()), "page-answer")
}

#[server]
pub async fn delete_namespace(name: String) -> Result<(), ApiFailure> {
    backend()?.delete_namespace(name).await.map_err(fail)
}

#[server]
pub async fn create_stream(namespace: String, name: String) -> Result<(), ApiFailure> {
    let result = backend()?.create_stream(namespace.clone(), name.clone()).await.map_err(fail_in(&namespace));
    back_to_page(result, |()| format!("Image stream {}/{} created.", namespace.trim(), name.trim()), "page-answer")
}

#[server]
pub async fn delete_stream(namespace: String, name: String) -> Result<(), ApiFailure> {
    backend()?.delete_stream(namespace.clone(), name).await.map_err(fail_in(&namespace))
}

/// Tags an image. From the page's WASM it answers the message; posted by the plain HTML form
/// (no JavaScript) it sends the browser back to the page with the answer ([`back_to_page`]).
#[server]
pub async fn tag_image(form: TagForm) -> Result<String, ApiFailure> {
    let namespace = form.namespace.clone();
    let result = backend()?.tag(form).await.map_err(fail_in(&namespace));
    back_to_page(result, |m| m.clone(), "page-answer")
}

#[server]
pub async fn delete_tag(namespace: String, stream: String, tag: String) -> Result<(), ApiFailure> {
    backend()?.delete_tag(namespace.clone(), stream, tag).await.map_err(fail_in(&namespace))
}

/// Deletes the chosen tags of a stream at once (the tag table's selection; one confirmation,
/// one transaction). Answers how many were deleted; a plain form goes back to the page.
#[server]
pub async fn delete_tags(namespace: String, stream: String, tags: Vec<String>) -> Result<usize, ApiFailure> {
    let result = backend()?.delete_tags(namespace.clone(), stream, tags).await.map_err(fail_in(&namespace));
    back_to_page(result, |n| format!("{} deleted.", crate::domain::plain::count(*n as u64, "tag")), "page-answer")
}

/// Query parameters of a page that an answer replaces: the previous answer, and the requests
/// that led to the form (a confirmation, a prefilled source).
#[cfg(feature = "ssr")]
const ANSWER_PARAMS: [&str; 6] = ["notice", "failed", "delete", "source", "__err", "__path"];

/// The answer of a server function posted by a plain HTML form (the page without JavaScript;
/// its `Accept` names HTML): the browser goes back to the page it came from (the `Referer`'s
/// path and query, never another site), with the answer in the address (`notice=` or
/// `failed=`, which the page shows in place) and `#anchor` to scroll to it. Calls from the
/// page's WASM are answered as usual.
#[cfg(feature = "ssr")]
fn back_to_page<T>(result: Result<T, ApiFailure>, words: impl FnOnce(&T) -> String, anchor: &str) -> Result<T, ApiFailure> {
    let Some(parts) = use_context::<http::request::Parts>() else { return result };
    let header = |n: http::header::HeaderName| parts.headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if !header(http::header::ACCEPT).contains("text/html") {
        return result;
    }
    let (key, message) = match &result {
        Ok(v) => ("notice", words(v)),
        Err(e) => ("failed", e.message.clone()),
    };
    let location = answer_location(&header(http::header::REFERER), key, &message, anchor);
    if let (Some(opts), Ok(value)) = (use_context::<leptos_axum::ResponseOptions>(), http::HeaderValue::from_str(&location)) {
        opts.set_status(http::StatusCode::SEE_OTHER);
        opts.insert_header(http::header::LOCATION, value);
    }
    result
}

/// Whether `path` is a path of this site that a `Location` may name: it starts with one `/`,
/// and has no backslash, white space or control character (browsers drop tabs and newlines
/// from a Location and read `\` as `/`, so `/\t/evil.example` would be `//evil.example`).
#[cfg(feature = "ssr")]
pub fn is_site_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.chars().any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// Where [`back_to_page`] sends the browser: the referring page's path (on this site; `/` if
/// there is none) and its query without [`ANSWER_PARAMS`], then `key=message` and `#anchor`.
#[cfg(feature = "ssr")]
fn answer_location(referer: &str, key: &str, message: &str, anchor: &str) -> String {
    let local = match referer.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
        None => referer,
    };
    let local = local.split('#').next().unwrap_or_default();
    let (path, query) = local.split_once('?').unwrap_or((local, ""));
    let plain = |s: &str| !s.chars().any(|c| c.is_control() || c.is_whitespace());
    let path = if is_site_path(path) { path } else { "/" };
    let mut pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty() && plain(p) && !ANSWER_PARAMS.contains(&p.split('=').next().unwrap_or_default()))
        .map(str::to_string)
        .collect();
    pairs.push(format!("{key}={}", crate::widgets::query_value(message)));
    format!("{path}?{}#{anchor}", pairs.join("&"))
}

/// Imports now and answers the summary (the table's "Import now"; the import form without
/// JavaScript posts here and goes back to the page, [`back_to_page`]).
#[server]
pub async fn import_images(form: ImportForm) -> Result<String, ApiFailure> {
    let namespace = form.namespace.clone();
    let result = backend()?.import(form).await.map_err(fail_in(&namespace));
    back_to_page(result, |m| m.clone(), "page-answer")
}

#[server]
pub async fn start_import(form: ImportForm) -> Result<String, ApiFailure> {
    let namespace = form.namespace.clone();
    backend()?.start_import(form).await.map_err(fail_in(&namespace))
}

#[server]
pub async fn get_import_job(id: String) -> Result<ImportJob, ApiFailure> {
    backend()?.import_job(id).await.map_err(fail)
}

#[server]
pub async fn list_webhooks(namespace: String) -> Result<Vec<WebhookCard>, ApiFailure> {
    backend()?.webhooks(namespace).await.map(|l| l.iter().map(crate::views::webhooks::render_card).collect()).map_err(fail)
}

#[server]
pub async fn create_webhook(form: WebhookForm) -> Result<(), ApiFailure> {
    let namespace = form.namespace.clone();
    backend()?.create_webhook(form).await.map_err(fail_in(&namespace))
}

#[server]
pub async fn delete_webhook(namespace: String, name: String) -> Result<(), ApiFailure> {
    backend()?.delete_webhook(namespace, name).await.map_err(fail)
}

#[server]
pub async fn list_deliveries(namespace: String, name: String) -> Result<String, ApiFailure> {
    let log = backend()?.deliveries(namespace, name.clone()).await.map_err(fail)?;
    Ok(crate::views::webhooks::render_deliveries(&name, log))
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
    backend()?.tokens().await.map(crate::views::account::render_tokens).map_err(fail)
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
    backend()?.audit(namespace).await.map(crate::views::namespace::render_audit).map_err(fail)
}

/// The namespace's retention policy, `None` when it has none (its members may read it).
#[server]
pub async fn get_retention_policy(namespace: String) -> Result<Option<crate::domain::retention::StoredRetentionPolicy>, ApiFailure> {
    backend()?.retention_policy(namespace).await.map_err(fail)
}

#[server]
pub async fn save_retention(namespace: String, policy: crate::domain::retention::RetentionPolicy) -> Result<(), ApiFailure> {
    backend()?.save_retention(namespace, policy).await.map(|_| ()).map_err(fail)
}

/// A dry run of `policy` (saved or not), rendered: every history item with its decision and reason.
#[server]
pub async fn preview_retention(namespace: String, policy: crate::domain::retention::RetentionPolicy) -> Result<String, ApiFailure> {
    backend()?.preview_retention(namespace, policy).await.map(crate::views::retention::render_report).map_err(fail)
}

/// Runs the saved policy now; answers the run's `Summary:` line.
#[server]
pub async fn run_retention(namespace: String) -> Result<String, ApiFailure> {
    backend()?.run_retention(namespace).await.map(|r| format!("Run {} finished. {}", r.id, r.summary)).map_err(fail)
}

#[server]
pub async fn list_retention_runs(namespace: String) -> Result<String, ApiFailure> {
    backend()?.retention_runs(namespace).await.map(crate::views::retention::render_runs).map_err(fail)
}

/// Starts a dry run of `prune images` over the whole server with `options` (server
/// administrators) in the background; the job id to poll with `get_server_prune`.
#[server]
pub async fn start_server_prune(options: crate::domain::prune::PruneOptions) -> Result<String, ApiFailure> {
    backend()?.start_server_prune(options).await.map_err(fail)
}

/// How far a whole-server prune preview got; once finished, its report rendered.
#[server]
pub async fn get_server_prune(id: String) -> Result<PruneJob, ApiFailure> {
    let state = backend()?.server_prune(id).await.map_err(fail)?;
    let result = state.result.map(|r| r.map(crate::views::retention::render_server_preview).map_err(fail));
    Ok(PruneJob { phase: state.phase, done: state.done, total: state.total, result })
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::answer_location;

    #[test]
    fn plain_forms_go_back_to_their_page_with_the_answer() {
        assert_eq!(
            answer_location("http://h:1/ns/demo/ruby?q=1.0&delete=a&delete=b&notice=old#tags", "notice", "2 tags deleted.", "page-answer"),
            "/ns/demo/ruby?q=1.0&notice=2%20tags%20deleted.#page-answer"
        );
        assert_eq!(answer_location("", "failed", "x", "a"), "/?failed=x#a", "no Referer: the catalog");
        assert_eq!(answer_location("http://h//evil.example/x", "notice", "x", "a"), "/?notice=x#a", "never another site");
        assert_eq!(answer_location("https://h", "notice", "ok", "a"), "/?notice=ok#a");
        assert_eq!(answer_location("http://h/\t/evil.example", "notice", "x", "a"), "/?notice=x#a", "a tab is dropped by browsers");
        assert_eq!(answer_location("/ns/a?q=\n1&page=2", "notice", "x", "a"), "/ns/a?page=2&notice=x#a");
        assert_eq!(
            answer_location("http://h/?source=sha256:ab&sort=-size", "failed", "no & yes", "a"),
            "/?sort=-size&failed=no%20%26%20yes#a"
        );
    }
}
