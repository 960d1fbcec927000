//! The webhooks of a namespace (`/webhooks/<ns>`): its image-change subscriptions with their
//! delivery log (time, state, status code, latency, attempt, error), "send test event",
//! "redeliver", delete, and the form for a new one, validated as you type with the rules the
//! API applies (`domain::triggers::validate_webhook`). A card's facts and the delivery log are
//! rendered on the server (`views::webhooks`); the browser build carries the buttons and the form.
//!
//! Must not: render a card's facts or the delivery log itself, or restate a webhook rule.

use crate::api::{
    ApiFailure, WebhookCard, WebhookForm, create_webhook, delete_webhook, list_deliveries, list_namespace_names, list_webhooks, redeliver,
    send_test_event,
};
use crate::domain::triggers::validate_webhook;
use crate::live::Failure;
use crate::model::WEBHOOK_EVENTS;
use crate::widgets::{PageTitle, Rendered, clicked, unplaced};
use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

/// `/webhooks`, the header's link: webhooks belong to a namespace, so this page lets one choose
/// it (the namespaces the caller may read), rather than guessing `default`.
#[component]
pub fn WebhookNamespacesPage() -> impl IntoView {
    view! {
        <PageTitle text="Webhooks"/>
        <h1>"Webhooks"</h1>
        <p class="muted">"Webhooks belong to a namespace. Choose the namespace whose webhooks you want to see or add:"</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {Suspend::new(async move {
                match list_namespace_names().await {
                    Ok(names) if names.is_empty() => view! { <p class="empty">"There is no namespace you may read yet."</p> }.into_any(),
                    Ok(names) => view! {
                        <ul class="plain chooser" id="webhook-namespaces" aria-label="Namespaces">
                            {names.into_iter().map(|n| {
                                let href = format!("/webhooks/{n}");
                                view! { <li><a href=href>{n}</a></li> }
                            }).collect_view()}
                        </ul>
                    }
                    .into_any(),
                    Err(e) => view! { <Failure failure=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let ns = use_params_map().with_untracked(|p| p.get("ns").unwrap_or_default());
    view! {
        <PageTitle text=format!("Webhooks of {ns}")/>
        <nav aria-label="Breadcrumb" class="crumbs"><a href="/webhooks">"Webhooks"</a>" / "<span aria-current="page">{ns.clone()}</span></nav>
        <h1>"Webhooks of " {ns.clone()}</h1>
        <p class="muted">
            "Each subscription receives a signed CloudEvent when a tag it names gets a new image (the pull spec a trigger would use changes), "
            "is deleted, or fails to import. Deliveries are retried with backoff and kept in order."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let ns = ns.clone();
                Suspend::new(async move {
                    let cards = list_webhooks(ns.clone()).await;
                    view! { <WebhookList ns cards/> }
                })
            }}
        </Suspense>
    }
}

/// The subscriptions with their buttons and delivery logs, and the form for a new one. The
/// page reads the list on the server and hands it over (`cards`), so the island needs no
/// resource of its own; it reads the list again after a create or delete.
#[island(lazy)]
fn WebhookList(ns: String, cards: Result<Vec<WebhookCard>, ApiFailure>) -> impl IntoView {
    let ns = Signal::stored(ns);
    let version = RwSignal::new(0u32);
    let cards = RwSignal::new(cards);
    Effect::new(move |seen: Option<u32>| {
        let v = version.get();
        if seen.is_some_and(|s| s != v) {
            leptos::task::spawn_local(async move { cards.set(list_webhooks(ns.get_untracked()).await) });
        }
        v
    });
    // Each card's facts (pending count, last delivery) read again every two seconds, in place:
    // deliveries change in the background, and an open log or confirmation stays as it is.
    let facts: RwSignal<Vec<WebhookCard>> = RwSignal::new(vec![]);
    Effect::new(move |_| {
        let tick = move || {
            leptos::task::spawn_local(async move {
                if let Ok(list) = list_webhooks(ns.get_untracked()).await {
                    facts.set(list);
                }
            })
        };
        if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(2)) {
            on_cleanup(move || handle.clear());
        }
    });
    view! {
        {move || match cards.get() {
            Ok(list) if list.is_empty() => view! { <p class="empty">"No webhooks in this namespace yet."</p> }.into_any(),
            Ok(list) => view! {
                <div class="webhooks">
                    {list.into_iter().map(|card| view! { <HookCard ns card changed=version facts/> }).collect_view()}
                </div>
            }
            .into_any(),
            Err(e) => view! { <Failure failure=e/> }.into_any(),
        }}
        <NewWebhook ns changed=version/>
    }
}

#[component]
fn HookCard(ns: Signal<String>, card: WebhookCard, changed: RwSignal<u32>, facts: RwSignal<Vec<WebhookCard>>) -> impl IntoView {
    let WebhookCard { name, html } = card;
    let facts_name = name.clone();
    let live_html = move || facts.with(|f| f.iter().find(|c| c.name == facts_name).map(|c| c.html.clone())).unwrap_or_else(|| html.clone());
    let open = RwSignal::new(false);
    let log_version = RwSignal::new(0u32);
    let confirm = RwSignal::new(false);
    let n = name.clone();
    let test = Action::new(move |_: &()| {
        let (ns, name) = (ns.get_untracked(), n.clone());
        async move { send_test_event(ns, name).await.map(|id| format!("Test event queued as delivery {id}.")) }
    });
    let n = name.clone();
    let delete = Action::new(move |_: &()| {
        let (ns, name) = (ns.get_untracked(), n.clone());
        async move { delete_webhook(ns, name).await }
    });
    Effect::new(move |_| {
        if matches!(delete.value().get(), Some(Ok(()))) {
            changed.update(|v| *v += 1);
        }
    });
    Effect::new(move |_| {
        if matches!(test.value().get(), Some(Ok(_))) {
            open.set(true);
            log_version.update(|v| *v += 1);
        }
    });
    let label = format!("Webhook {name}");
    let (title, key, log_name) = (name.clone(), name.clone(), name);
    view! {
        <article class="card webhook" data-webhook=key aria-label=label>
            <h2>{title}</h2>
            <div class="rendered" inner_html=live_html></div>
            <div class="actions">
                <button type="button" on:click=move |_| { test.dispatch(()); } disabled=move || test.pending().get()>"Send test event"</button>
                <button type="button" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    {move || if open.get() { "Hide deliveries" } else { "Show deliveries" }}
                </button>
                // Escape takes the question back (issue 17 point 9); the focus stays on the button.
                <button type="button" class="danger" on:click=move |_| {
                    if confirm.get() { delete.dispatch(()); confirm.set(false); } else { confirm.set(true); }
                } on:keydown=move |ev| if ev.key() == "Escape" && confirm.get_untracked() {
                    ev.prevent_default();
                    confirm.set(false);
                }>{move || if confirm.get() { "Confirm delete" } else { "Delete…" }}</button>
            </div>
            {move || confirm.get().then(|| view! { <p class="hint">"This deletes the subscription with its queue and log. Press again to confirm."</p> })}
            {move || match test.value().get() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status">{m}</p> }.into_any()),
                Some(Err(e)) => Some(view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
                None => None,
            }}
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <p class="error" role="alert">{e.message}</p> })}
            {move || open.get().then(|| view! { <DeliveryLog ns name=log_name.clone() version=log_version/> })}
        </article>
    }
}

/// The newest deliveries with their last attempt; refreshed every second while open, since
/// deliveries change state in the background.
#[component]
fn DeliveryLog(ns: Signal<String>, name: String, version: RwSignal<u32>) -> impl IntoView {
    // Read when opened and again at every tick or redelivery; only ever rendered in the browser
    // (the log opens on a click), so it needs no resource to carry a server rendering over.
    let log: RwSignal<Option<Result<String, ApiFailure>>> = RwSignal::new(None);
    let n = name.clone();
    Effect::new(move |_| {
        version.track();
        let (ns, name) = (ns.get_untracked(), n.clone());
        leptos::task::spawn_local(async move { log.set(Some(list_deliveries(ns, name).await)) });
    });
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || version.update(|v| *v += 1), std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    let n = name.clone();
    let again = Action::new(move |id: &i64| {
        let (ns, name, id) = (ns.get_untracked(), n.clone(), *id);
        async move { redeliver(ns, name, id).await.map(|new| format!("Delivery {id} queued again as delivery {new}.")) }
    });
    Effect::new(move |_| {
        if matches!(again.value().get(), Some(Ok(_))) {
            version.update(|v| *v += 1);
        }
    });
    // The log's markup comes from the server; its "Redeliver" buttons name their delivery.
    let on_click = move |ev: leptos::ev::MouseEvent| {
        if let Some(id) = clicked(&ev, "data-redeliver").and_then(|(_, id)| id.parse::<i64>().ok()) {
            again.dispatch(id);
        }
    };
    view! {
        {move || again.value().get().map(|r: Result<String, ApiFailure>| match r {
            Ok(m) => view! { <p class="ok" role="status">{m}</p> }.into_any(),
            Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
        })}
        {move || match log.get() {
            None => view! { <p>"Loading deliveries…"</p> }.into_any(),
            Some(Ok(html)) => view! { <div class="rendered" on:click=on_click><Rendered html/></div> }.into_any(),
            Some(Err(e)) => view! { <Failure failure=e/> }.into_any(),
        }}
    }
}

/// The new-webhook form: every rule checked as you type; the server's answer (for example the
/// egress guard refusing the URL) shown at its field.
#[component]
fn NewWebhook(ns: Signal<String>, changed: RwSignal<u32>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let url = RwSignal::new(String::new());
    let secret = RwSignal::new(String::new());
    let tags = RwSignal::new(String::new());
    let events = RwSignal::new(vec![WEBHOOK_EVENTS[0].to_string()]);
    let form = move || WebhookForm {
        namespace: ns.get(),
        name: name.get(),
        url: url.get(),
        secret: secret.get(),
        tags: tags.get(),
        events: events.get(),
    };
    let create = Action::new(move |f: &WebhookForm| {
        let f = f.clone();
        async move { create_webhook(f.clone()).await.map(|_| format!("Webhook {} created.", f.name.trim())) }
    });
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(_))) {
            changed.update(|v| *v += 1);
            name.set(String::new());
            secret.set(String::new());
        }
    });
    // A rule is shown once its field has something in it; the server's error when it names the field.
    let hint = move |prefix: &'static str, filled: bool| -> Option<String> {
        let rules = validate_webhook(&form().to_webhook(), true);
        if filled && let Some(e) = rules.iter().find(|e| e.field.starts_with(prefix)) {
            return Some(e.to_string());
        }
        match create.value().get() {
            Some(Err(f)) if f.field.as_deref().is_some_and(|x| x.starts_with(prefix)) => Some(f.message),
            _ => None,
        }
    };
    let name_hint = move || hint("metadata.name", !name.get().is_empty());
    let url_hint = move || hint("spec.url", !url.get().is_empty());
    let secret_hint = move || hint("spec.secret", !secret.get().is_empty());
    let tags_hint = move || hint("spec.tags", !tags.get().is_empty());
    let valid = move || validate_webhook(&form().to_webhook(), true).is_empty();
    view! {
        <form class="card webhook-form" on:submit=move |ev| {
            ev.prevent_default();
            create.value().set(None);
            create.dispatch(form());
        }>
            <h2>"New webhook"</h2>
            <label for="webhook-name">"Name"</label>
            <input id="webhook-name" required prop:value=name on:input=move |ev| name.set(event_target_value(&ev)) aria-describedby="webhook-name-hint"/>
            <p id="webhook-name-hint" class="hint error">{name_hint}</p>
            <label for="webhook-url">"Target URL"</label>
            <input id="webhook-url" type="url" required placeholder="https://ci.example.com/hooks/images" prop:value=url
                on:input=move |ev| url.set(event_target_value(&ev)) aria-describedby="webhook-url-hint"/>
            <p id="webhook-url-hint" class="hint error">{url_hint}</p>
            <label for="webhook-secret">"Signing secret"</label>
            <input id="webhook-secret" type="password" autocomplete="new-password" required prop:value=secret
                on:input=move |ev| secret.set(event_target_value(&ev)) aria-describedby="webhook-secret-hint"/>
            <p id="webhook-secret-hint" class="hint error">{secret_hint}</p>
            <label for="webhook-tags">"Tags (stream:tag, stream:* or *:*; separate with commas)"</label>
            <input id="webhook-tags" required placeholder="app:prod, web:*" prop:value=tags
                on:input=move |ev| tags.set(event_target_value(&ev)) aria-describedby="webhook-tags-hint"/>
            <p id="webhook-tags-hint" class="hint error">{tags_hint}</p>
            <fieldset>
                <legend>"Events"</legend>
                {WEBHOOK_EVENTS
                    .iter()
                    .map(|e| {
                        let e = e.to_string();
                        let id = format!("webhook-event-{e}");
                        let (e1, e2, for_id) = (e.clone(), e.clone(), id.clone());
                        view! {
                            <label class="check" for=for_id>
                                <input id=id type="checkbox" prop:checked=move || events.get().contains(&e1)
                                    on:change=move |ev| {
                                        let on = event_target_checked(&ev);
                                        events.update(|v| {
                                            v.retain(|x| *x != e2);
                                            if on { v.push(e2.clone()); }
                                        });
                                    }/>
                                {e.clone()}
                            </label>
                        }
                    })
                    .collect_view()}
            </fieldset>
            <button type="submit" disabled=move || !valid() || create.pending().get()>"Create webhook"</button>
            {move || match create.value().get() {
                Some(Ok(m)) => Some(view! { <p class="ok" role="status">{m}</p> }.into_any()),
                _ => unplaced(create.value().get(), &["metadata.name", "spec.url", "spec.secret", "spec.tags"])
                    .map(|e| view! { <p class="error" role="alert">{e.message}</p> }.into_any()),
            }}
        </form>
    }
}
