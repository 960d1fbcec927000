//! The read-only wall dashboard (`/dashboard`): big tiles of failing imports, streams and tags
//! updated today, moves per hour and the latest moves, across the namespaces the viewer may
//! read. It follows changes live over server-sent events (the existing [`LivePart`]: one
//! reading at a time however fast changes come, the markup replaced in place, so it can stay
//! open for days), and its relative times tick in `/portal-ui.js`. Without JavaScript a meta
//! refresh inside `<noscript>` reloads it every five minutes; with JavaScript nothing reloads
//! the page (a reload would hide a leak instead of proving there is none).
//!
//! `?kiosk=1` is the wall-screen mode: no header (see `TopHeader` in `lib.rs`), larger type,
//! the tiles sized to the screen so it fits 1920×1080 and 1280×720 without scrolling.
//! Its content is `views::dashboard`.
//!
//! Must not: render the content itself.

use crate::api::get_dashboard;
use crate::live::{LiveConnection, LivePart, PartSource};
use crate::transfer::types::RenderedPart;
use crate::widgets::{PageTitle, Rendered};
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Whether the page was asked for in kiosk mode (`?kiosk=1`).
pub fn kiosk_requested() -> bool {
    use_query_map().with_untracked(|q| q.get("kiosk").is_some_and(|v| v == "1" || v == "true"))
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let kiosk = kiosk_requested();
    view! {
        <PageTitle text="Dashboard"/>
        <noscript><meta http-equiv="refresh" content="300"/></noscript>
        <div class=if kiosk { "dashboard kiosk" } else { "dashboard" }>
            <div class="wall-head">
                <h1>"Image streams"</h1>
                {(!kiosk).then(|| view! { <a href="/dashboard?kiosk=1" class="kiosk-link">"Wall screen mode"</a> })}
            </div>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {Suspend::new(async move {
                    match get_dashboard().await {
                        Ok(RenderedPart { html, resource_version }) => view! {
                            <LiveConnection namespace="" name="" since=Some(resource_version)/>
                            <LivePart part=PartSource::Dashboard><Rendered html/></LivePart>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="error">{e.message}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
