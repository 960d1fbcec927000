//! The read-only wall dashboard (`/dashboard`): recent tag movements across namespaces, failing
//! imports, streams updated today. Large type, dark, no controls. It follows changes live over
//! server-sent events, and reloads itself every five minutes as well (a plain meta refresh, so
//! it keeps going for days, even without JavaScript). Its content is `views::dashboard`.
//!
//! Must not: render the content itself.

use crate::api::get_dashboard;
use crate::live::{LiveConnection, LivePart, PartSource};
use crate::widgets::{PageTitle, Rendered};
use leptos::prelude::*;
use leptos_meta::Meta;

#[component]
pub fn DashboardPage() -> impl IntoView {
    // Live over server-sent events; the meta refresh stays as a fallback for walls that run
    // for days without anyone watching the connection.
    view! {
        <PageTitle text="Dashboard"/>
        <Meta http_equiv="refresh" content="300"/>
        <LiveConnection namespace="" name="" since=None/>
        <div class="dashboard">
            <h1>"Image streams"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    match get_dashboard().await {
                        Ok(html) => view! { <LivePart part=PartSource::Dashboard><Rendered html/></LivePart> }.into_any(),
                        Err(e) => view! { <p class="error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
