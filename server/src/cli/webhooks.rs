//! `create webhook`, `get webhooks`, `delete webhook` and `webhook test|deliveries|redeliver`:
//! the image-change subscriptions of a namespace from the command line (the API's
//! `/api/v1/namespaces/{ns}/webhooks`). The secret goes to the server once and is never shown.

use super::client::CliError;
use super::commands::{Context, local, write_out};
use app::domain::present::{ago, render_table};
use app::model::*;
use std::io::Write;

type CmdResult = Result<(), CliError>;

fn base(ctx: &Context) -> String {
    format!("/api/v1/namespaces/{}/webhooks", ctx.namespace)
}

pub fn is_webhook_kind(kind: &str) -> bool {
    matches!(kind.to_ascii_lowercase().as_str(), "webhook" | "webhooks" | "wh")
}

pub async fn create(
    ctx: &Context,
    name: &str,
    url: &str,
    secret: &str,
    tags: &[String],
    events: &[String],
    out: &mut dyn Write,
) -> CmdResult {
    let mut w = Webhook::default();
    w.metadata.name = name.to_string();
    w.spec = WebhookSpec { url: url.into(), secret: Some(secret.into()), tags: tags.to_vec(), events: events.to_vec() };
    let created: Webhook = ctx.client.post(&base(ctx), &w).await?;
    write_out(out, &format!("webhook/{} created\n", created.metadata.name))
}

pub async fn get(ctx: &Context, name: Option<&str>, output: Option<&str>, out: &mut dyn Write) -> CmdResult {
    let items: Vec<Webhook> = match name {
        Some(n) => vec![ctx.client.get(&format!("{}/{n}", base(ctx))).await?],
        None => ctx.client.get::<List<Webhook>>(&base(ctx)).await?.items,
    };
    match output {
        Some("json") => {
            let v = if name.is_some() { serde_json::to_value(&items[0]) } else { serde_json::to_value(&items) };
            write_out(out, &format!("{}\n", serde_json::to_string_pretty(&v.map_err(|e| local(e.to_string()))?).unwrap_or_default()))
        }
        Some("yaml") => write_out(out, &crate::yaml::try_to_string(&items).map_err(local)?),
        Some("name") => write_out(out, &items.iter().map(|w| format!("webhook/{}\n", w.metadata.name)).collect::<String>()),
        None | Some("wide") => {
            if items.is_empty() {
                return write_out(out, &format!("No resources found in {} namespace.\n", ctx.namespace));
            }
            let now = chrono::Utc::now();
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|w| {
                    let events = app::domain::triggers::subscribed_events(&w.spec).join(",");
                    let last = w.status.last_delivery.as_ref().map(|d| format!("{} {}", d.state, ago(&d.created, now))).unwrap_or_default();
                    vec![w.metadata.name.clone(), w.spec.url.clone(), w.spec.tags.join(","), events, w.status.pending.to_string(), last]
                })
                .collect();
            write_out(out, &render_table(&["NAME", "URL", "TAGS", "EVENTS", "PENDING", "LAST DELIVERY"], &rows))
        }
        Some(other) => Err(local(format!("unable to match a printer suitable for the output format {other:?}"))),
    }
}

pub async fn delete(ctx: &Context, name: &str, out: &mut dyn Write) -> CmdResult {
    ctx.client.delete(&format!("{}/{name}", base(ctx))).await?;
    write_out(out, &format!("webhook \"{name}\" deleted\n"))
}

pub async fn test(ctx: &Context, name: &str, out: &mut dyn Write) -> CmdResult {
    let d: WebhookDelivery = ctx.client.post(&format!("{}/{name}/test", base(ctx)), &serde_json::json!({})).await?;
    write_out(out, &format!("test event queued for webhook/{name} as delivery {}\n", d.id))
}

pub async fn redeliver(ctx: &Context, name: &str, id: i64, out: &mut dyn Write) -> CmdResult {
    let d: WebhookDelivery = ctx.client.post(&format!("{}/{name}/deliveries/{id}/redeliver", base(ctx)), &serde_json::json!({})).await?;
    write_out(out, &format!("delivery {id} of webhook/{name} queued again as delivery {}\n", d.id))
}

/// The delivery log, newest first: one row per delivery with its last attempt.
pub async fn deliveries(ctx: &Context, name: &str, output: Option<&str>, out: &mut dyn Write) -> CmdResult {
    let list: List<WebhookDelivery> = ctx.client.get(&format!("{}/{name}/deliveries", base(ctx))).await?;
    if output == Some("json") {
        return write_out(out, &format!("{}\n", serde_json::to_string_pretty(&list.items).map_err(|e| local(e.to_string()))?));
    }
    if list.items.is_empty() {
        return write_out(out, &format!("No deliveries for webhook/{name} yet.\n"));
    }
    let now = chrono::Utc::now();
    let rows: Vec<Vec<String>> = list
        .items
        .iter()
        .map(|d| {
            let last = d.attempt_log.last();
            vec![
                d.id.to_string(),
                d.event_type.clone(),
                d.subject.clone(),
                d.state.clone(),
                d.attempts.to_string(),
                last.and_then(|a| a.status_code).map(|c| c.to_string()).unwrap_or_default(),
                last.map(|a| format!("{}ms", a.latency_ms)).unwrap_or_default(),
                ago(&d.created, now),
                last.and_then(|a| a.error.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    write_out(out, &render_table(&["ID", "TYPE", "SUBJECT", "STATE", "ATTEMPTS", "CODE", "LATENCY", "AGE", "ERROR"], &rows))
}
