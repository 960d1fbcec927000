//! Small pure building blocks of pages and views: a pull spec or `podman pull` command with its
//! copy button, what the blob store holds of an image, a digest link, "… ago", server-rendered markup ([`Rendered`], [`render_html`]), and helpers for links
//! and form errors.
//!
//! Must not: call server functions or hold live-update state (that is `live`), or hold rules
//! (that is `domain`). Everything here is a function of its arguments (and, for
//! [`sign_in_href`], of the page's own address).

use crate::domain::lookup::pull_command;
use crate::domain::present::human_size;
use crate::transfer::error::ApiFailure;
use crate::transfer::types::ImageStorage;
use leptos::prelude::*;
use leptos_meta::Title;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// A pull spec with a copy button (the click is handled by `/portal-ui.js`, so it works before
/// and without hydration). An empty spec (nothing to pull yet) shows "none", never a Copy
/// button that copies nothing.
#[component]
pub fn PullSpec(#[prop(into)] label: String, #[prop(into)] spec: String) -> impl IntoView {
    if spec.is_empty() {
        return view! { <span class="muted">"none yet"</span> }.into_any();
    }
    let aria = format!("Copy {label}: {spec}");
    view! {
        <span class="pullspec">
            <code title=spec.clone()>{spec.clone()}</code>
            <button type="button" class="copy" data-copy=spec aria-label=aria>"Copy"</button>
        </span>
    }
    .into_any()
}

/// A `podman pull <spec>` command with a copy button that copies the whole command (nothing for
/// an empty spec, as [`PullSpec`]).
#[component]
pub fn PullCommand(#[prop(into)] label: String, #[prop(into)] spec: String) -> impl IntoView {
    if spec.is_empty() {
        return ().into_any();
    }
    let command = pull_command(&spec);
    let aria = format!("Copy {label}: {command}");
    view! {
        <span class="pullspec">
            <code title=command.clone()>{command.clone()}</code>
            <button type="button" class="copy" data-copy=command aria-label=aria>"Copy"</button>
        </span>
    }
    .into_any()
}

/// The page's own `<title>`: what the page is, then the product (`demo/app · imagestreams`), so
/// tabs, history and bookmarks tell pages apart (issue 17 point 8).
///
/// The text comes from the address (namespace, stream, search), so it is escaped here:
/// leptos_meta 0.8 writes a `<Title>` into the server-rendered `<head>` as it is, and
/// `/ns/demo/</title><script>…` would otherwise run in the reader's session.
#[component]
pub fn PageTitle(#[prop(into)] text: String) -> impl IntoView {
    let title = format!("{text} · imagestreams");
    #[cfg(feature = "ssr")]
    let title = html_escape::encode_text(&title).into_owned();
    view! { <Title text=title/> }
}

/// What the portal's blob store holds of an image, in words: "Mirrored locally · 12.3 MB
/// stored", "Partly mirrored · … stored" (a pull fetched some of it, e.g. one platform of an
/// index), or "Not mirrored yet" (the registry pulls it through from its source on first pull).
pub fn storage_words(s: &ImageStorage) -> String {
    match (s.mirrored, s.stored_bytes) {
        (true, bytes) => format!("Mirrored locally · {} stored", human_size(bytes)),
        (false, 0) => "Not mirrored yet (pulled through on first pull)".into(),
        (false, bytes) => format!("Partly mirrored · {} stored (the rest is pulled through on first pull)", human_size(bytes)),
    }
}

/// [`storage_words`] as a line, marked `mirrored`, `partly` or `remote` for styling and tests.
#[component]
pub fn StorageNote(storage: ImageStorage) -> impl IntoView {
    let state = match (storage.mirrored, storage.stored_bytes) {
        (true, _) => "mirrored",
        (false, 0) => "remote",
        (false, _) => "partly",
    };
    view! { <span class="storage small" data-storage=state>{storage_words(&storage)}</span> }
}

/// Markup the server rendered for a read-only part of a page ([`render_html`]). The browser
/// build carries no code for such parts, only this element: links, copy buttons and delegated
/// clicks work on the markup as on any other. `display: contents` keeps the wrapper out of the
/// layout.
#[component]
pub fn Rendered(html: String) -> impl IntoView {
    view! { <div class="rendered" inner_html=html></div> }
}

/// The element clicked (or its nearest ancestor) carrying `attribute`, with the attribute's
/// value: how buttons inside [`Rendered`] markup say what they act on.
pub fn clicked(ev: &leptos::ev::MouseEvent, attribute: &str) -> Option<(leptos::web_sys::Element, String)> {
    use leptos::wasm_bindgen::JsCast;
    let target = ev.target()?.dyn_into::<leptos::web_sys::Element>().ok()?;
    let element = target.closest(&format!("[{attribute}]")).ok()??;
    let value = element.get_attribute(attribute)?;
    Some((element, value))
}

/// Renders a read-only view to markup, on the server, for [`Rendered`].
#[cfg(feature = "ssr")]
pub fn render_html<V: IntoView + 'static>(view: impl FnOnce() -> V) -> String {
    Owner::new().with(|| view().into_view().to_html())
}

/// `<duration> ago` for an RFC 3339 time, with the exact time as a tooltip. `data-ago` lets
/// `/portal-ui.js` tick the words without a reload (with `present::human_duration`'s wording).
#[component]
pub fn Ago(#[prop(into)] time: String) -> impl IntoView {
    let text = crate::domain::present::ago(&time, chrono::Utc::now());
    view! { <time datetime=time.clone() title=time data-ago="">{text}</time> }
}

/// A short digest (`sha256:` and the first 12 hex digits) linking to the image page.
#[component]
pub fn DigestLink(#[prop(into)] digest: String) -> impl IntoView {
    let short = short_digest(&digest);
    let href = format!("/images/{digest}");
    view! { <a href=href class="digest" title=digest><code>{short}</code></a> }
}

/// `sha256:` and the first 12 hex digits of a digest (the first 19 characters of anything else).
pub fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.chars().take(12).collect::<String>()),
        None => d.chars().take(19).collect(),
    }
}

/// `/signin`, naming the page to come back to (`?next=`) when there is one: on the server the
/// request's path and query, in the browser the location's.
pub fn sign_in_href() -> String {
    #[cfg(feature = "ssr")]
    let here = use_context::<http::request::Parts>().and_then(|p| p.uri.path_and_query().map(|pq| pq.as_str().to_string()));
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    let here = {
        let location = window().location();
        location.pathname().ok().map(|path| path + &location.search().unwrap_or_default())
    };
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    let here: Option<String> = None;
    sign_in_href_from(here.as_deref())
}

/// [`sign_in_href`] for the page at `here` (path and query): the catalog and the sign-in page
/// itself are not worth coming back to.
pub fn sign_in_href_from(here: Option<&str>) -> String {
    match here.filter(|h| *h != "/" && !h.starts_with("/signin")) {
        Some(h) => format!("/signin?next={}", query_value(h)),
        None => "/signin".into(),
    }
}

/// What [`query_value`] encodes: everything but the RFC 3986 unreserved characters, `/` and `:`.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'/').remove(b':');

/// Percent-encodes a query value (RFC 3986 unreserved characters, `/` and `:` stay: they are
/// allowed in a query and keep paths and digests readable).
pub fn query_value(s: &str) -> String {
    utf8_percent_encode(s, QUERY_VALUE).to_string()
}

/// Whether an error about `path` concerns the form field `field`: the field itself, or a path
/// ending or starting with it (`metadata.name` for `name`, `from.name` for `from`,
/// `spec.tags[0]` for `spec.tags`).
fn concerns(path: &str, field: &str) -> bool {
    path == field
        || path.ends_with(&format!(".{field}"))
        || path.starts_with(&format!("{field}."))
        || path.starts_with(&format!("{field}["))
}

/// The message of a failed action for one form field, if it concerns that field (see
/// [`concerns`]).
pub fn field_error<T>(value: Option<Result<T, ApiFailure>>, field: &str) -> Option<String> {
    match value {
        Some(Err(f)) if f.field.as_deref().is_some_and(|x| concerns(x, field)) => Some(f.message),
        _ => None,
    }
}

/// The failure of an action that none of `shown` (the fields the form shows messages under)
/// concerns: a failure of the whole action, or one about a field the form has no place for
/// (an alias cycle is about `spec.tags[a].from.name`). The form shows it beside its button, so
/// no failure is silent whatever field it names (issue 17 point 1).
pub fn unplaced<T>(value: Option<Result<T, ApiFailure>>, shown: &[&str]) -> Option<ApiFailure> {
    match value {
        Some(Err(f)) if !f.field.as_deref().is_some_and(|x| shown.iter().any(|s| concerns(x, s))) => Some(f),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_keep_paths_and_digests_readable() {
        assert_eq!(query_value("/ns/demo/app"), "/ns/demo/app");
        assert_eq!(query_value("sha256:abc-1.2_3~"), "sha256:abc-1.2_3~");
        assert_eq!(query_value("a b&c=d?e#f+g%"), "a%20b%26c%3Dd%3Fe%23f%2Bg%25");
        assert_eq!(query_value("é"), "%C3%A9", "UTF-8 bytes, upper-case hex");
        assert_eq!(query_value(""), "");
    }

    fn failed(field: Option<&str>) -> Option<Result<(), ApiFailure>> {
        Some(Err(ApiFailure { message: "broken".into(), field: field.map(str::to_string), code: 422 }))
    }

    #[test]
    fn field_errors_match_the_field_or_a_path_through_it() {
        assert_eq!(field_error(failed(Some("name")), "name").as_deref(), Some("broken"));
        assert_eq!(field_error(failed(Some("metadata.name")), "name").as_deref(), Some("broken"));
        assert_eq!(field_error(failed(Some("from.name")), "from").as_deref(), Some("broken"));
        assert_eq!(field_error(failed(Some("metadata.name")), "metadata.name").as_deref(), Some("broken"));
        assert_eq!(field_error(failed(Some("username")), "name"), None, "a suffix of a word is not the field");
        assert_eq!(field_error(failed(Some("spec.url")), "name"), None);
        assert_eq!(field_error(failed(None), "name"), None, "a failure of the whole action");
        assert_eq!(field_error(Some(Ok(())), "name"), None);
        assert_eq!(field_error::<()>(None, "name"), None, "nothing done yet");
    }

    #[test]
    fn failures_no_shown_field_concerns_are_shown_beside_the_action() {
        let shown = ["source", "destination"];
        assert_eq!(unplaced(failed(Some("spec.tags[a].from.name")), &shown).map(|f| f.message).as_deref(), Some("broken"));
        assert_eq!(unplaced(failed(None), &shown).map(|f| f.message).as_deref(), Some("broken"), "the whole action failed");
        assert_eq!(unplaced(failed(Some("source")), &shown), None, "shown at its field");
        assert_eq!(unplaced(failed(Some("from.destination")), &shown), None);
        assert_eq!(unplaced(Some(Ok::<(), ApiFailure>(())), &shown), None);
        assert_eq!(unplaced(failed(Some("spec.tags[0]")), &["spec.tags"]), None, "an item of a shown list field");
        assert_eq!(field_error(failed(Some("spec.tags[1]")), "spec.tags").as_deref(), Some("broken"));
    }

    #[test]
    fn sign_in_links_name_the_page_to_come_back_to() {
        assert_eq!(sign_in_href_from(None), "/signin");
        assert_eq!(sign_in_href_from(Some("/")), "/signin", "the catalog is where signing in goes anyway");
        assert_eq!(sign_in_href_from(Some("/signin?error=x")), "/signin", "never back to the sign-in page");
        assert_eq!(sign_in_href_from(Some("/ns/demo/app")), "/signin?next=/ns/demo/app");
        assert_eq!(sign_in_href_from(Some("/?q=a b&sort=updated")), "/signin?next=/%3Fq%3Da%20b%26sort%3Dupdated");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn sign_in_links_on_the_server_name_the_request() {
        let owner = Owner::new();
        owner.with(|| {
            assert_eq!(sign_in_href(), "/signin", "no request: no page to name");
            let (parts, ()) = http::Request::get("/images/sha256:ab?x=1").body(()).unwrap().into_parts();
            provide_context(parts);
            assert_eq!(sign_in_href(), "/signin?next=/images/sha256:ab%3Fx%3D1");
        });
    }

    #[test]
    fn short_digests() {
        assert_eq!(short_digest(&format!("sha256:{}", "a".repeat(64))), format!("sha256:{}", "a".repeat(12)));
        assert_eq!(short_digest("abcdefghijklmnopqrstuvwxyz"), "abcdefghijklmnopqrs");
    }

    #[test]
    fn storage_in_words() {
        let s = |mirrored, stored_bytes| storage_words(&ImageStorage { mirrored, stored_bytes });
        assert_eq!(s(true, 12_345_678), "Mirrored locally · 12.3 MB stored");
        assert_eq!(s(false, 0), "Not mirrored yet (pulled through on first pull)");
        assert_eq!(s(false, 1_500), "Partly mirrored · 1.5 kB stored (the rest is pulled through on first pull)");
    }
}
