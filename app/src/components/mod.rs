//! Widgets shared by pages.

use crate::api::ApiFailure;
use crate::api::page_resource;
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
    let sign_in = (failure.code == 401).then(|| view! { " " <a href="/signin">"Sign in"</a> });
    view! { <p class="error" role="alert">{failure.message}{sign_in}</p> }
}

/// A full page load of `href`: after signing in or out every page must be read again with the
/// new identity, so a client-side route change is not enough.
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

/// Keeps a page live: asks `/portal-ui.js` for one server-sent-events connection to the watch
/// (filtered by namespace and name when given) and bumps `changed` on every change, so the page
/// reads its data again.
///
/// `since` is the resourceVersion the page's data was read at: the connection replays every
/// change after it, so nothing between the server's render and the connection is lost.
#[component]
pub fn Live(#[prop(into)] namespace: String, #[prop(into)] name: String, since: Option<String>, changed: RwSignal<u32>) -> impl IntoView {
    let mut url = format!("/api/v1/live/imagestreams?namespace={namespace}&name={name}");
    if let Some(rv) = since.filter(|v| !v.is_empty()) {
        url.push_str(&format!("&resourceVersion={rv}"));
    }
    let handle = window_event_listener_untyped("imagestreams:change", move |_| changed.update(|n| *n = n.wrapping_add(1)));
    on_cleanup(move || handle.remove());
    view! { <span hidden data-live=url></span> }
}

/// Who is signed in, in the header: their name (to their account) and "Sign out", or "Sign in".
#[component]
pub fn UserMenu() -> impl IntoView {
    let me = page_resource(|| (), |_| crate::api::current_user());
    let sign_out = Action::new(|_: &()| crate::api::sign_out());
    Effect::new(move |_| {
        if matches!(sign_out.value().get(), Some(Ok(()))) {
            reload_to("/");
        }
    });
    view! {
        <div class="user-menu">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(m) if m.user.is_some() => {
                            let name = m.user.unwrap_or_default();
                            view! {
                                <a href="/account" class="who">{name}</a>
                                <button type="button" on:click=move |_| { sign_out.dispatch(()); }>"Sign out"</button>
                            }
                            .into_any()
                        }
                        Ok(m) if m.open => ().into_any(),
                        _ => view! { <a href="/signin">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}
