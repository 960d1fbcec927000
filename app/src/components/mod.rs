//! Widgets shared by pages.

use crate::api::ApiFailure;
use leptos::prelude::*;

/// A pull spec with a copy button (the click is handled by `/portal-ui.js`, so it works before
/// and without hydration).
#[component]
pub fn PullSpec(#[prop(into)] label: String, #[prop(into)] spec: String) -> impl IntoView {
    let aria = format!("Copy {label}: {spec}");
    view! {
        <span class="pullspec">
            <code>{spec.clone()}</code>
            <button type="button" class="copy" data-copy=spec aria-label=aria>"Copy"</button>
        </span>
    }
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

/// `<duration> ago` for an RFC 3339 time, with the exact time as a tooltip.
#[component]
pub fn Ago(#[prop(into)] time: String) -> impl IntoView {
    let text = crate::domain::present::ago(&time, chrono::Utc::now());
    view! { <time datetime=time.clone() title=time>{text}</time> }
}

/// A short digest (`sha256:` and the first 12 hex digits) linking to the image page.
#[component]
pub fn DigestLink(#[prop(into)] digest: String) -> impl IntoView {
    let short = short_digest(&digest);
    let href = format!("/images/{digest}");
    view! { <a href=href class="digest" title=digest><code>{short}</code></a> }
}

pub fn short_digest(d: &str) -> String {
    match d.split_once(':') {
        Some((alg, hex)) => format!("{alg}:{}", hex.chars().take(12).collect::<String>()),
        None => d.chars().take(19).collect(),
    }
}

/// An error from the server, shown as an alert (with the way to sign in when that is the cure).
#[component]
pub fn Failure(failure: ApiFailure) -> impl IntoView {
    let sign_in = (failure.code == 401).then(|| view! { " " <a href=sign_in_href()>"Sign in"</a> });
    view! { <p class="error" role="alert">{failure.message}{sign_in}</p> }
}

/// `/signin`, naming the page to come back to (`?next=`) when there is one.
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
    match here.filter(|h| h != "/" && !h.starts_with("/signin")) {
        Some(h) => format!("/signin?next={}", query_value(&h)),
        None => "/signin".into(),
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters, `/` and `:` stay: they are
/// allowed in a query and keep paths and digests readable).
pub fn query_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A full page load of `href` (after signing out every part of the page must be read again as
/// nobody; after deleting a stream its page is gone).
pub fn reload_to(href: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = leptos::prelude::window().location().set_href(href);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = href;
}

/// The message of a failed action for one field, if it concerns that field.
pub fn field_error(value: Option<Result<String, ApiFailure>>, field: &str) -> Option<String> {
    match value {
        Some(Err(f))
            if f.field
                .as_deref()
                .is_some_and(|x| x == field || x.ends_with(&format!(".{field}")) || x.starts_with(&format!("{field}."))) =>
        {
            Some(f.message)
        }
        _ => None,
    }
}

/// Asks `/portal-ui.js` for one server-sent-events connection to the watch (filtered by
/// namespace and name when given); it passes every change on as an `imagestreams:change`
/// window event, which the page's live parts ([`refresh_on_change`]) listen to.
///
/// `since` is the resourceVersion the page's data was read at: the connection replays every
/// change after it, so nothing between the server's render and the connection is lost.
#[component]
pub fn Live(#[prop(into)] namespace: String, #[prop(into)] name: String, since: Option<String>) -> impl IntoView {
    let mut url = format!("/api/v1/live/imagestreams?namespace={namespace}&name={name}");
    if let Some(rv) = since.filter(|v| !v.is_empty()) {
        url.push_str(&format!("&resourceVersion={rv}"));
    }
    view! { <span hidden data-live=url></span> }
}

/// The window event that says "something on this page changed": sent by the live connection
/// and by every island whose action succeeded. Islands share no reactive state, so this event
/// is how a form tells the parts beside it to read themselves again.
pub const CHANGE_EVENT: &str = "imagestreams:change";

/// Tells the page's live parts that something changed (after a successful action).
pub fn announce_change() {
    #[cfg(feature = "hydrate")]
    if let Ok(event) = leptos::web_sys::Event::new(CHANGE_EVENT) {
        let _ = window().dispatch_event(&event);
    }
}

/// Reads a server-rendered part again into `target` whenever the page hears of a change
/// ([`CHANGE_EVENT`]). One reading at a time: changes that arrive meanwhile ask for one more
/// reading after it, so a burst of changes (a wall dashboard while CI pushes) costs two readings,
/// not one per change, and always ends with the newest markup. A failure replaces the part with
/// its message.
pub fn refresh_on_change<Fut>(target: NodeRef<leptos::html::Div>, read: impl Fn() -> Fut + 'static)
where
    Fut: std::future::Future<Output = Result<String, ApiFailure>> + 'static,
{
    #[cfg(feature = "hydrate")]
    {
        use std::{cell::Cell, rc::Rc};
        let (busy, again, read) = (Rc::new(Cell::new(false)), Rc::new(Cell::new(false)), Rc::new(read));
        let handle = window_event_listener_untyped(CHANGE_EVENT, move |_| {
            if busy.replace(true) {
                again.set(true);
                return;
            }
            let (busy, again, read) = (busy.clone(), again.clone(), read.clone());
            leptos::task::spawn_local(async move {
                loop {
                    again.set(false);
                    let answer = read().await;
                    if let Some(div) = target.get_untracked() {
                        show_part(&div, answer);
                    }
                    if !again.get() {
                        break;
                    }
                }
                busy.set(false);
            });
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (target, read);
}

#[cfg(feature = "hydrate")]
fn show_part(div: &leptos::web_sys::HtmlDivElement, answer: Result<String, ApiFailure>) {
    match answer {
        Ok(html) => div.set_inner_html(&html),
        Err(failure) => {
            div.set_inner_html("<p class=\"error\" role=\"alert\"></p>");
            if let Ok(Some(p)) = div.query_selector("p") {
                p.set_text_content(Some(&failure.message));
            }
        }
    }
}

/// What a [`LivePart`] shows, so it can read it again.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Part {
    Catalog { query: String, sort: String, page: u32 },
    Dashboard,
    Image { digest: String },
    StreamImage { namespace: String, name: String },
    Audit { namespace: String },
}

impl Part {
    async fn read(self) -> Result<String, ApiFailure> {
        match self {
            Part::Catalog { query, sort, page } => crate::api::list_catalog(query, sort, page).await.map(|p| p.html),
            Part::Dashboard => crate::api::get_dashboard().await,
            Part::Image { digest } => crate::api::get_image_page(digest).await,
            Part::StreamImage { namespace, name } => crate::api::get_stream_image_page(namespace, name).await,
            Part::Audit { namespace } => crate::api::namespace_audit(namespace).await,
        }
    }
}

/// A read-only part of a page that follows changes: the server renders it (its children); the
/// island only replaces the markup with a fresh rendering when something changed.
#[island]
pub fn LivePart(part: Part, children: Children) -> impl IntoView {
    let target = NodeRef::new();
    refresh_on_change(target, move || part.clone().read());
    view! { <div class="rendered" node_ref=target>{children()}</div> }
}

/// Says "hydrated" once the browser build has made the page interactive. It is the last island
/// of every page, and islands hydrate in document order.
#[island]
pub fn HydrationMarker() -> impl IntoView {
    let (hydrated, set_hydrated) = signal(false);
    Effect::new(move |_| set_hydrated.set(true));
    view! { <p id="hydration-state" class="sr-only">{move || if hydrated.get() { "hydrated" } else { "ssr" }}</p> }
}

/// Who is signed in, in the header: their name (to their account) and "Sign out", or "Sign in".
#[component]
pub fn UserMenu() -> impl IntoView {
    view! {
        <div class="user-menu">
            <Suspense fallback=|| ()>
                {Suspend::new(async move {
                    match crate::api::current_user().await {
                        Ok(m) if m.user.is_some() => {
                            let name = m.user.unwrap_or_default();
                            view! { <a href="/account" class="who">{name}</a><SignOut/> }.into_any()
                        }
                        Ok(m) if m.open => ().into_any(),
                        _ => view! { <a href=sign_in_href()>"Sign in"</a> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// Signs out, then loads the catalog as nobody.
#[island]
fn SignOut() -> impl IntoView {
    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            if crate::api::sign_out().await.is_ok() {
                reload_to("/");
            }
        })
    };
    view! { <button type="button" on:click=sign_out>"Sign out"</button> }
}
