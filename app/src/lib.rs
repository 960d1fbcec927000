//! The imagestreams web app and the shared core.
//!
//! A tour, from the bottom up (each module may use only the ones above it in this list):
//! - `model`: the API resource types (OpenShift's JSON shapes), used by server, CLI and browser;
//! - `domain`: the image-stream rules, pure, also compiled to WASM so forms check as you type;
//!   its errors carry the field they concern;
//! - `transfer`: the transfer types and the error every server function answers with (it
//!   needs only `model`);
//! - `widgets`: small pure components and helpers (pull spec, digest link, "… ago", rendered
//!   markup, query values, field errors);
//! - `views` (server only): the renderers of every read-only part of a page, as markup;
//! - `api` (its `mod.rs`): the server functions, thin: they ask the backend in context
//!   (`api::backend`, server only, implemented by the server crate) and render with `views`;
//! - `live`: what keeps a page current (the watch connection, parts that read themselves
//!   again), the user menu and the error alert; it calls server functions;
//! - `pages`: one module per page, its islands and forms; they call server functions and use
//!   `live`, `widgets` and `domain`.
//!
//! So the dependency direction is `pages` → `live` → `api` (server functions) → `views` →
//! `widgets` → `transfer` → `domain` → `model` (`transfer` needs only `model`), and
//! `views` is never compiled into the browser.
//!
//! Must not: import upwards in that order. In particular `views` and `widgets` never call a
//! server function, `domain` never sees Leptos, and no module of `app` names a server type (the
//! server depends on `app`, through `api::backend::PortalBackend`).
//!
//! The crate is built twice: with `ssr` for the server and with `hydrate` for the browser.
//! Pages are server components in Leptos' islands mode: the browser build carries only the
//! `#[island]`s (forms, buttons, parts that refresh themselves), never a page's read-only
//! markup or the router; links are plain page loads.
//!
//! What keeps the browser's download small (README, "The web UI"): an island gets its first data
//! as props from the server page that renders it (read there, inside the page's `Suspense`),
//! never from a resource of its own, and reads again with a plain server-function call into a
//! signal; a `Resource` with `Transition` and `Suspend` cost about 10 KB gzipped per island. The
//! islands of the less visited pages are `#[island(lazy)]`: `cargo leptos build --split` puts
//! them in their own files, loaded by the pages that have them. Every build of the site needs
//! `--split`: without it the browser module imports a split loader that was never written.

#![recursion_limit = "256"]

pub mod api;
pub mod domain;
pub mod live;
pub mod model;
pub mod pages;
pub mod transfer;
#[cfg(feature = "ssr")]
pub mod views;
pub mod widgets;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};
use widgets::PageTitle;

/// The HTML document around the app (server side only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <link rel="icon" href="data:,"/>
                // Without JavaScript, controls that need it are not shown (issue 17 point 9): a
                // `type="button"` (copy, theme, the islands' buttons) does nothing without a
                // script, nor does a form without an `action` (the islands' forms that are not
                // plain forms too), nor anything marked `js-only`. A note under the header says
                // so; pages name what they leave out.
                <noscript><style>".js-only, button[type=button], form:not([action]) { display: none !important; }"</style></noscript>
                <script src="/portal-ui.js"></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/portal.css"/>
        <Title text="imagestreams"/>
        <Router>
            <a href="#main" class="skip">"Skip to content"</a>
            <TopHeader/>
            <noscript><p class="nojs-note muted small" id="nojs-note">"JavaScript is off: every page reads, and the plain forms (search, filters, tagging, importing, deleting tags, creating streams, signing in) work. Buttons that need JavaScript (copy, live actions, settings) are hidden; the API and the command line do the rest."</p></noscript>
            <main id="main">
                <Routes fallback=|| view! { <PageTitle text="Page not found"/><h1>"Page not found"</h1> }>
                    <Route path=StaticSegment("") view=pages::catalog::CatalogPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("dashboard") view=pages::dashboard::DashboardPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("ns"), ParamSegment("ns"), ParamSegment("stream")) view=pages::stream::StreamPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("images"), ParamSegment("digest")) view=pages::image::ImagePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("webhooks") view=pages::webhooks::WebhookNamespacesPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("webhooks"), ParamSegment("ns")) view=pages::webhooks::WebhooksPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("signin") view=pages::account::SignInPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("account") view=pages::account::AccountPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("namespaces"), ParamSegment("ns")) view=pages::namespace::NamespacePage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("namespaces"), ParamSegment("ns"), StaticSegment("prune")) view=pages::retention::RetentionPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("prune")) view=pages::retention::ServerPrunePage ssr=SsrMode::Async/>
                    // `/<namespace>/<stream>@<id>`, like `get isimage <stream>@<id> -n <namespace>`.
                    <Route path=(ParamSegment("ns"), ParamSegment("isimage")) view=pages::image::StreamImagePage ssr=SsrMode::Async/>
                </Routes>
            </main>
            // Last on the page: islands hydrate in document order, so when this one says
            // "hydrated", every island above it is interactive (end-to-end tests wait for it).
            <live::HydrationMarker/>
        </Router>
    }
}

/// The header with the main navigation, on every page except the dashboard in kiosk mode
/// (`/dashboard?kiosk=1`), where a wall screen has no use for it.
#[component]
fn TopHeader() -> impl IntoView {
    let path = leptos_router::hooks::use_location().pathname.get_untracked();
    if path == "/dashboard" && pages::dashboard::kiosk_requested() {
        return ().into_any();
    }
    view! {
        <header class="top">
            <a href="/" class="brand">"imagestreams"</a>
            <nav aria-label="Main">
                <a href="/">"Catalog"</a>
                <a href="/dashboard">"Dashboard"</a>
                <a href="/webhooks">"Webhooks"</a>
            </nav>
            <live::UserMenu/>
            <button type="button" class="theme" data-theme-toggle aria-label="Switch between light and dark theme">"◐ Theme"</button>
        </header>
    }
    .into_any()
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
