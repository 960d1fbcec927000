//! `create webhook`, `get webhooks`, `delete webhook` and `webhook test|deliveries|redeliver`:
//! the image-change subscriptions of a namespace from the command line (the API's
//! `/api/v1/namespaces/{ns}/webhooks`).
//!
//! Must not: show or keep the secret (it goes to the server once), or print a table or `-o`
//! format itself (`output.rs`, `print.rs`).

use super::output::{Answer, CmdResult, Context, Output, Printer, Scope, name_segment};
use app::model::*;

fn base(ctx: &Context) -> String {
    format!("/api/v1/namespaces/{}/webhooks", ctx.namespace)
}

/// What `create webhook` sends.
pub struct NewWebhook<'a> {
    pub name: &'a str,
    pub url: &'a str,
    pub secret: &'a str,
    pub tags: &'a [String],
    pub events: &'a [String],
}

pub async fn create(ctx: &Context, new: NewWebhook<'_>, out: &mut Output) -> CmdResult {
    let mut w = Webhook::default();
    w.metadata.name = new.name.to_string();
    w.spec = WebhookSpec { url: new.url.into(), secret: Some(new.secret.into()), tags: new.tags.to_vec(), events: new.events.to_vec() };
    let created: Webhook = ctx.client.post(&base(ctx), &w).await?;
    out.print(&format!("webhook/{} created\n", created.metadata.name))
}

/// `get webhooks [NAME]`.
pub async fn get(ctx: &Context, name: Option<&str>, printer: Printer, out: &mut Output) -> CmdResult {
    let answer = match name {
        Some(n) => Answer::one(ctx.client.get_value(&format!("{}/{}", base(ctx), name_segment("webhook", n)?)).await?),
        None => Answer::list(ctx.client.get_value(&base(ctx)).await?),
    };
    printer.print::<Webhook>(out, Scope::Namespace(&ctx.namespace), answer)
}

pub async fn delete(ctx: &Context, name: &str, out: &mut Output) -> CmdResult {
    ctx.client.delete(&format!("{}/{}", base(ctx), name_segment("webhook", name)?)).await?;
    out.print(&format!("webhook \"{name}\" deleted\n"))
}

pub async fn test(ctx: &Context, name: &str, out: &mut Output) -> CmdResult {
    let d: WebhookDelivery =
        ctx.client.post(&format!("{}/{}/test", base(ctx), name_segment("webhook", name)?), &serde_json::json!({})).await?;
    out.print(&format!("test event queued for webhook/{name} as delivery {}\n", d.id))
}

pub async fn redeliver(ctx: &Context, name: &str, id: i64, out: &mut Output) -> CmdResult {
    let path = format!("{}/{}/deliveries/{id}/redeliver", base(ctx), name_segment("webhook", name)?);
    let d: WebhookDelivery = ctx.client.post(&path, &serde_json::json!({})).await?;
    out.print(&format!("delivery {id} of webhook/{name} queued again as delivery {}\n", d.id))
}

/// The delivery log, newest first: one row per delivery with its last attempt (json and yaml:
/// every attempt).
pub async fn deliveries(ctx: &Context, name: &str, printer: Printer, out: &mut Output) -> CmdResult {
    let answer = Answer::list(ctx.client.get_value(&format!("{}/{}/deliveries", base(ctx), name_segment("webhook", name)?)).await?);
    printer.print::<WebhookDelivery>(out, Scope::Namespace(&ctx.namespace), answer)
}
