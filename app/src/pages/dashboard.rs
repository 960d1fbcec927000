//! The read-only wall dashboard (`/dashboard`): recent tag movements across namespaces, failing
//! imports, streams updated today. Large type, dark, no controls. It follows changes live over
//! server-sent events, and reloads itself every five minutes as well (a plain meta refresh, so
//! it keeps going for days, even without JavaScript).

use crate::api::get_dashboard;
use crate::components::{Live, LivePart, Part, Rendered};
use leptos::prelude::*;
use leptos_meta::Meta;

#[component]
pub fn DashboardPage() -> impl IntoView {
    // Live over server-sent events; the meta refresh stays as a fallback for walls that run
    // for days without anyone watching the connection.
    view! {
        <Meta http_equiv="refresh" content="300"/>
        <Live namespace="" name="" since=None/>
        <div class="dashboard">
            <h1>"Image streams"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    match get_dashboard().await {
                        Ok(html) => view! { <LivePart part=Part::Dashboard><Rendered html/></LivePart> }.into_any(),
                        Err(e) => view! { <p class="error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}

/// The dashboard's content as markup (server side): it has no controls at all.
#[cfg(feature = "ssr")]
pub fn render(d: crate::api::Dashboard) -> String {
    use crate::components::{Ago, short_digest};
    crate::components::render_html(move || {
        view! {
            <section aria-labelledby="moves">
                <h2 id="moves">"Recent tag movements"</h2>
                {if d.movements.is_empty() { view! { <p class="empty">"Nothing moved yet."</p> }.into_any() } else {
                    view! { <ol class="moves">{d.movements.into_iter().map(|m| view! {
                        <li><strong>{format!("{}/{}:{}", m.namespace, m.stream, m.tag)}</strong>" → "<code>{short_digest(&m.event.image)}</code>" "<Ago time=m.event.created/></li>
                    }).collect_view()}</ol> }.into_any()
                }}
            </section>
            <section aria-labelledby="failing">
                <h2 id="failing">"Failing imports"</h2>
                {if d.failing.is_empty() { view! { <p class="ok">"All imports are healthy."</p> }.into_any() } else {
                    view! { <ul class="failing">{d.failing.into_iter().map(|f| view! {
                        <li><strong>{format!("{}/{}:{}", f.namespace, f.stream, f.tag)}</strong>" "{format!("{}: {}", f.condition.reason, f.condition.message)}</li>
                    }).collect_view()}</ul> }.into_any()
                }}
            </section>
            <section aria-labelledby="today">
                <h2 id="today">"Updated today"</h2>
                {if d.updated_today.is_empty() { view! { <p class="empty">"No stream changed today."</p> }.into_any() } else {
                    view! { <ul class="today">{d.updated_today.into_iter().map(|s| view! {
                        <li>{format!("{}/{}", s.namespace, s.name)}" "<span class="muted">{s.tags}</span></li>
                    }).collect_view()}</ul> }.into_any()
                }}
            </section>
            <p class="muted small">"Updated "{d.generated}</p>
        }
    })
}
