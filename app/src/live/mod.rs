//! What keeps a page current and says who is there: the watch connection
//! ([`LiveConnection`]), the "something changed" event ([`announce_change`],
//! [`refresh_on_change`]), parts that read themselves again ([`LivePart`], [`PartSource`]), the
//! user menu with "Sign out", the hydration marker the browser tests wait for, and
//! [`Failure`], how a server function's error is shown.
//!
//! It sits beside `pages`: it may call server functions (to read a part again, to ask who is
//! signed in, to sign out).
//!
//! Must not: render a page's read-only markup itself (that is `views`, through the server
//! functions) or hold rules (that is `domain`).

use crate::api::{ApiFailure, current_user, get_dashboard, get_image_page, get_stream_image_page, list_catalog, namespace_audit, sign_out};
use crate::widgets::sign_in_href;
use leptos::prelude::*;

/// An error from the server, shown as an alert (with the way to sign in when that is the cure).
#[component]
pub fn Failure(failure: ApiFailure) -> impl IntoView {
    let sign_in = (failure.code == 401).then(|| view! { " " <a href=sign_in_href()>"Sign in"</a> });
    view! { <p class="error" role="alert">{failure.message}{sign_in}</p> }
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

/// Asks `/portal-ui.js` for one server-sent-events connection to the watch (filtered by
/// namespace and name when given); it passes every change on as an `imagestreams:change`
/// window event, which the page's live parts ([`refresh_on_change`]) listen to. The element
/// itself is hidden: it only carries the connection's address.
///
/// `since` is the resourceVersion the page's data was read at: the connection replays every
/// change after it, so nothing between the server's render and the connection is lost.
#[component]
pub fn LiveConnection(#[prop(into)] namespace: String, #[prop(into)] name: String, since: Option<String>) -> impl IntoView {
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

/// The attribute of `<html>` that `/portal-ui.js` sets when the live connection passes on a
/// change (its value counts them): a part that hydrates after one reads itself at once.
pub const LIVE_CHANGES_ATTRIBUTE: &str = "data-live-changes";

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
        let on_change = Rc::new(move || {
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
        let listener = on_change.clone();
        let handle = window_event_listener_untyped(CHANGE_EVENT, move |_| listener());
        on_cleanup(move || handle.remove());
        // The live connection opens when the page loads, before the islands hydrate: a change it
        // passed on before this part listened (it marks each on the page, `/portal-ui.js`) is
        // read now, or the part would show the server's render until the next change.
        if document().document_element().is_some_and(|html| html.has_attribute(LIVE_CHANGES_ATTRIBUTE)) {
            on_change();
        }
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

/// Which server-rendered part a [`LivePart`] shows, so it can read it again.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum PartSource {
    Catalog { query: String, sort: String, page: u32 },
    Dashboard,
    Image { digest: String },
    StreamImage { namespace: String, name: String },
    Audit { namespace: String },
}

impl PartSource {
    /// The part's markup, rendered afresh by its server function.
    async fn read(self) -> Result<String, ApiFailure> {
        match self {
            PartSource::Catalog { query, sort, page } => list_catalog(query, sort, page).await.map(|p| p.html),
            PartSource::Dashboard => get_dashboard().await.map(|p| p.html),
            PartSource::Image { digest } => get_image_page(digest).await.map(|p| p.html),
            PartSource::StreamImage { namespace, name } => get_stream_image_page(namespace, name).await.map(|p| p.html),
            PartSource::Audit { namespace } => namespace_audit(namespace).await,
        }
    }
}

/// A read-only part of a page that follows changes: the server renders it (its children); the
/// island only replaces the markup with a fresh rendering when something changed.
#[island]
pub fn LivePart(part: PartSource, children: Children) -> impl IntoView {
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
                    // Server administrators (and the single local user of an open server) also
                    // get the whole-server prune preview, which no other page links to.
                    match current_user().await {
                        Ok(m) if m.user.is_some() => {
                            let name = m.user.unwrap_or_default();
                            let prune = m.admin.then(|| view! { <a href="/admin/prune">"Prune"</a> });
                            view! { {prune}<a href="/account" class="who">{name}</a><SignOut/> }.into_any()
                        }
                        Ok(m) if m.open => view! { <a href="/admin/prune">"Prune"</a> }.into_any(),
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
    let on_click = move |_| {
        leptos::task::spawn_local(async move {
            if sign_out().await.is_ok() {
                reload_to("/");
            }
        })
    };
    view! { <button type="button" on:click=on_click>"Sign out"</button> }
}
