//! The catalog (`/`): streams across namespaces with the `oc get is` columns plus counts,
//! server-side search (name, tag, digest prefix), sorting and pagination; forms to create a
//! namespace or a stream. The table is `views::catalog`, a live part here.
//!
//! Must not: render the table itself or restate the name rules (they are `domain::names`).

use crate::api::{ApiFailure, RenderedPart, create_namespace, create_stream, delete_namespace, list_catalog};
use crate::domain::names::{validate_namespace_name, validate_stream_name};
use crate::domain::plain::rule_words;
use crate::live::{Failure, LiveConnection, LivePart, PartSource, announce_change};
use crate::widgets::{PageTitle, Rendered};
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let (q, sort, page) = use_query_map().with_untracked(|query| {
        let q = query.get("q").unwrap_or_default();
        let sort = query.get("sort").filter(|s| s == "updated").unwrap_or_else(|| "name".into());
        let page = query.get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1);
        (q, sort, page)
    });
    let (by_name, by_updated) = (sort == "name", sort == "updated");
    let part = PartSource::Catalog { query: q.clone(), sort: sort.clone(), page };
    let title = if q.is_empty() { "Image streams".to_string() } else { format!("Streams matching {q}") };
    // A plain form's answer (`api::back_to_page`).
    let answer = use_query_map().with_untracked(|query| query.get("failed").map(Err).or_else(|| query.get("notice").map(Ok)));
    view! {
        <PageTitle text=title/>
        <h1>"Image streams"</h1>
        {answer.map(|a| match a {
            Ok(m) => view! { <p class="ok page-answer" role="status" id="page-answer">{m}</p> }.into_any(),
            Err(m) => view! { <p class="error page-answer" role="alert" id="page-answer">{m}</p> }.into_any(),
        })}
        <form method="get" action="/" class="search" role="search">
            <label for="q">"Search"</label>
            <input id="q" name="q" type="search" placeholder="namespace, name, namespace/name, tag or digest prefix" value=q.clone()/>
            <label for="sort">"Sort by"</label>
            <select id="sort" name="sort">
                <option value="name" selected=by_name>"name"</option>
                <option value="updated" selected=by_updated>"last updated"</option>
            </select>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match list_catalog(q, sort, page).await {
                    Ok(RenderedPart { html, resource_version }) => view! {
                        <LiveConnection namespace="" name="" since=Some(resource_version)/>
                        <LivePart part><Rendered html/></LivePart>
                    }
                    .into_any(),
                    Err(e) => view! { <Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
        <CreateForms/>
    }
}

/// Create a namespace, create a stream; validated as you type with the shared rules.
#[island(lazy)]
fn CreateForms() -> impl IntoView {
    let ns_name = RwSignal::new(String::new());
    let create_ns = Action::new(move |name: &String| {
        let name = name.clone();
        async move { create_namespace(name.clone()).await.map(|_| format!("Namespace {name} created.")) }
    });
    let ns_hint = move || {
        let n = ns_name.get();
        if n.is_empty() {
            return None;
        }
        validate_namespace_name(&n, "metadata.name").first().map(|e| rule_words(&e.field, &e.detail))
    };
    let stream_ns = RwSignal::new("default".to_string());
    let stream_name = RwSignal::new(String::new());
    let create_is = Action::new(move |(ns, name): &(String, String)| {
        let (ns, name) = (ns.clone(), name.clone());
        async move { create_stream(ns.clone(), name.clone()).await.map(|_| (ns.trim().to_string(), name.trim().to_string())) }
    });
    let is_hint = move || {
        let n = stream_name.get();
        if n.is_empty() {
            return None;
        }
        validate_stream_name(&stream_ns.get(), &n).first().map(|e| rule_words(&e.field, &e.to_string()))
    };
    let namespace_to_delete = RwSignal::new(String::new());
    let confirm_delete = RwSignal::new(false);
    let delete_ns = Action::new(move |name: &String| {
        let name = name.clone();
        async move { delete_namespace(name.clone()).await.map(|_| format!("Namespace {name} deleted.")) }
    });
    Effect::new(move |_| {
        // Read all before deciding: a short-circuit would leave the later ones untracked.
        let (ns_done, is_done, del_done) = (create_ns.value().get(), create_is.value().get(), delete_ns.value().get());
        if matches!(ns_done, Some(Ok(_))) || matches!(is_done, Some(Ok(_))) || matches!(del_done, Some(Ok(_))) {
            announce_change();
        }
    });
    let result = |v: Option<Result<String, ApiFailure>>| match v {
        Some(Ok(m)) => Some(view! { <p class="ok" role="status">{m}</p> }.into_any()),
        Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
        None => None,
    };
    view! {
        <noscript><p class="muted small nojs-note">"Without JavaScript, deleting a namespace is not offered here: use "<code>"DELETE /api/v1/namespaces/NAME"</code>"."</p></noscript>
        <section class="forms" aria-label="Create">
            // Plain forms too (fields named as the server functions' arguments): without
            // JavaScript they post, and the page comes back with the answer (`api::back_to_page`).
            <form class="card" method="post" action=crate::api::CreateNamespace::url() on:submit=move |ev| {
                ev.prevent_default();
                create_ns.value().set(None);
                create_ns.dispatch(ns_name.get());
            }>
                <h2>"New namespace"</h2>
                <label for="new-namespace">"Name"</label>
                <input id="new-namespace" name="name" required prop:value=ns_name on:input=move |ev| ns_name.set(event_target_value(&ev))
                    aria-describedby="new-namespace-hint"/>
                <p id="new-namespace-hint" class="hint error">{ns_hint}</p>
                <button type="submit" disabled=move || ns_hint().is_some() || create_ns.pending().get()>"Create namespace"</button>
                {move || result(create_ns.value().get())}
            </form>
            <form class="card" method="post" action=crate::api::CreateStream::url() on:submit=move |ev| {
                ev.prevent_default();
                create_is.value().set(None);
                create_is.dispatch((stream_ns.get(), stream_name.get()));
            }>
                <h2>"New image stream"</h2>
                <label for="new-stream-namespace">"Namespace"</label>
                <input id="new-stream-namespace" name="namespace" value="default" required prop:value=stream_ns on:input=move |ev| stream_ns.set(event_target_value(&ev))/>
                <label for="new-stream-name">"Name"</label>
                <input id="new-stream-name" name="name" required prop:value=stream_name on:input=move |ev| stream_name.set(event_target_value(&ev))
                    aria-describedby="new-stream-hint"/>
                <p id="new-stream-hint" class="hint error">{is_hint}</p>
                <button type="submit" disabled=move || is_hint().is_some() || create_is.pending().get()>"Create image stream"</button>
                // The new stream's page is one click away (issue 17 point 8).
                {move || match create_is.value().get() {
                    Some(Ok((ns, name))) => {
                        let href = format!("/ns/{ns}/{name}");
                        Some(view! { <p class="ok" role="status">"Image stream "<a href=href>{format!("{ns}/{name}")}</a>" created."</p> }.into_any())
                    }
                    Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
                    None => None,
                }}
            </form>
            <form class="card js-only" on:submit=move |ev| {
                ev.prevent_default();
                if confirm_delete.get() {
                    delete_ns.value().set(None);
                    delete_ns.dispatch(namespace_to_delete.get());
                    confirm_delete.set(false);
                } else {
                    confirm_delete.set(true);
                }
            }>
                <h2>"Delete a namespace"</h2>
                <label for="delete-namespace">"Name"</label>
                <input id="delete-namespace" required prop:value=namespace_to_delete on:input=move |ev| { namespace_to_delete.set(event_target_value(&ev)); confirm_delete.set(false); }/>
                <p class="hint">{move || confirm_delete.get().then(|| format!("This deletes {} with all its streams, tags and history. Press again to confirm.", namespace_to_delete.get()))}</p>
                // Escape takes the question back (issue 17 point 9); the focus stays on the button.
                <button type="submit" class="danger" on:keydown=move |ev| if ev.key() == "Escape" && confirm_delete.get_untracked() {
                    ev.prevent_default();
                    confirm_delete.set(false);
                }>{move || if confirm_delete.get() { "Confirm delete" } else { "Delete namespace…" }}</button>
                {move || result(delete_ns.value().get())}
            </form>
        </section>
    }
}
