//! A webhook card's facts and a webhook's delivery log as markup; the log's "Redeliver"
//! buttons name their delivery (`data-redeliver`) for the island around it.
//!
//! Must not: call server functions or hold the webhook buttons and form (that is
//! `pages::webhooks`).

use crate::domain::triggers::subscribed_events;
use crate::model::{DELIVERY_DELIVERED, DELIVERY_FAILED, Webhook, WebhookDelivery};
use crate::transfer::types::WebhookCard;
use crate::widgets::{Ago, render_html};
use leptos::prelude::*;

/// A card's facts as markup.
pub fn render_card(hook: &Webhook) -> WebhookCard {
    let hook = hook.clone();
    let name = hook.metadata.name.clone();
    let html = render_html(move || {
        let last = match hook.status.last_delivery.clone() {
            Some(d) => view! { <span class=state_class(&d.state)>{d.state.clone()}</span> " " <Ago time=d.created.clone()/> }.into_any(),
            None => view! { <span class="muted">"none yet"</span> }.into_any(),
        };
        let events = subscribed_events(&hook.spec).join(", ");
        view! {
            <dl class="facts">
                <dt>"URL"</dt><dd><code>{hook.spec.url.clone()}</code></dd>
                <dt>"Tags"</dt><dd>{hook.spec.tags.join(", ")}</dd>
                <dt>"Events"</dt><dd>{events}</dd>
                <dt>"Pending"</dt><dd class="pending">{hook.status.pending}</dd>
                <dt>"Last delivery"</dt><dd>{last}</dd>
            </dl>
        }
    });
    WebhookCard { name, html }
}

fn state_class(state: &str) -> &'static str {
    match state {
        DELIVERY_DELIVERED => "state ok",
        DELIVERY_FAILED => "state error",
        _ => "state pending",
    }
}

/// The delivery log as markup: newest first, the last attempt of each.
pub fn render_deliveries(name: &str, items: Vec<WebhookDelivery>) -> String {
    let caption = format!("Deliveries of {name}, newest first");
    render_html(move || {
        if items.is_empty() {
            return view! { <p class="empty">"No deliveries yet."</p> }.into_any();
        }
        view! {
            <div class="table-wrap">
                <table class="deliveries">
                    <caption class="sr-only">{caption}</caption>
                    <thead><tr>
                        <th scope="col">"ID"</th><th scope="col">"Queued"</th><th scope="col">"Event"</th>
                        <th scope="col">"Tag"</th><th scope="col">"State"</th><th scope="col" class="num">"Attempts"</th>
                        <th scope="col" class="num">"Code"</th><th scope="col" class="num">"Latency"</th>
                        <th scope="col">"Error"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                    </tr></thead>
                    <tbody>
                        {items.into_iter().map(delivery_row).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    })
}

fn delivery_row(d: WebhookDelivery) -> impl IntoView {
    let last = d.attempt_log.last().cloned();
    let id = d.id;
    let label = format!("Redeliver delivery {id}");
    let event = d.event_type.trim_start_matches("io.imagestreams.").to_string();
    let subject = d.subject.clone();
    let state = match &d.next_attempt {
        Some(_) if d.attempts > 0 => format!("{} (retrying)", d.state),
        _ => d.state.clone(),
    };
    view! {
        <tr data-delivery=id.to_string() data-state=d.state.clone()>
            <td>{id}{d.redelivery_of.map(|o| format!(" (of {o})"))}</td>
            <td><Ago time=d.created.clone()/></td>
            <td>{event}</td>
            <td>{subject}</td>
            <td><span class=state_class(&d.state)>{state}</span></td>
            <td class="num">{d.attempts}</td>
            <td class="num">{last.as_ref().and_then(|a| a.status_code).map(|c| c.to_string())}</td>
            <td class="num">{last.as_ref().map(|a| format!("{} ms", a.latency_ms))}</td>
            <td class="error-text">{last.and_then(|a| a.error)}</td>
            <td><button type="button" aria-label=label data-redeliver=id.to_string()>"Redeliver"</button></td>
        </tr>
    }
}
