//! Webhook subscriptions and their delivery outbox. Deliveries are queued by the service inside
//! the transaction of the stream change (so a crash loses none) and worked off by the dispatcher
//! one at a time per subscription, oldest first (so order is kept).

use super::StoreResult;
use sqlx::{Row, SqliteConnection};

#[derive(Clone, Debug)]
pub struct WebhookRow {
    pub id: i64,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub resource_version: i64,
    pub created: String,
    pub url: String,
    pub sealed_secret: Vec<u8>,
    /// JSON arrays.
    pub tags: String,
    pub events: String,
}

fn webhook_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<WebhookRow> {
    Ok(WebhookRow {
        id: r.try_get("id")?,
        namespace: r.try_get("namespace")?,
        name: r.try_get("name")?,
        uid: r.try_get("uid")?,
        resource_version: r.try_get("resource_version")?,
        created: r.try_get("created")?,
        url: r.try_get("url")?,
        sealed_secret: r.try_get("sealed_secret")?,
        tags: r.try_get("tags")?,
        events: r.try_get("events")?,
    })
}

pub async fn insert_webhook(conn: &mut SqliteConnection, w: &WebhookRow) -> StoreResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO webhooks (namespace, name, uid, resource_version, created, url, sealed_secret, tags, events)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&w.namespace)
    .bind(&w.name)
    .bind(&w.uid)
    .bind(w.resource_version)
    .bind(&w.created)
    .bind(&w.url)
    .bind(&w.sealed_secret)
    .bind(&w.tags)
    .bind(&w.events)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

pub async fn update_webhook(conn: &mut SqliteConnection, w: &WebhookRow) -> StoreResult<()> {
    sqlx::query("UPDATE webhooks SET resource_version = ?, url = ?, sealed_secret = ?, tags = ?, events = ? WHERE id = ?")
        .bind(w.resource_version)
        .bind(&w.url)
        .bind(&w.sealed_secret)
        .bind(&w.tags)
        .bind(&w.events)
        .bind(w.id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn get_webhook(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<WebhookRow>> {
    let r = sqlx::query("SELECT * FROM webhooks WHERE namespace = ? AND name = ?").bind(namespace).bind(name).fetch_optional(conn).await?;
    r.as_ref().map(webhook_from_row).transpose()
}

pub async fn webhook_by_id(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<WebhookRow>> {
    let r = sqlx::query("SELECT * FROM webhooks WHERE id = ?").bind(id).fetch_optional(conn).await?;
    r.as_ref().map(webhook_from_row).transpose()
}

/// Every subscription of a namespace, by name.
pub async fn list_webhooks(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<WebhookRow>> {
    let rows = sqlx::query("SELECT * FROM webhooks WHERE namespace = ? ORDER BY name").bind(namespace).fetch_all(conn).await?;
    rows.iter().map(webhook_from_row).collect()
}

pub async fn delete_webhook(conn: &mut SqliteConnection, id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM webhooks WHERE id = ?").bind(id).execute(conn).await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: i64,
    pub webhook_id: i64,
    pub event_id: String,
    pub event_type: String,
    pub subject: String,
    pub payload: String,
    pub created: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt: i64,
    pub redelivery_of: Option<i64>,
}

fn delivery_from_row(r: &sqlx::sqlite::SqliteRow) -> StoreResult<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.try_get("id")?,
        webhook_id: r.try_get("webhook_id")?,
        event_id: r.try_get("event_id")?,
        event_type: r.try_get("type")?,
        subject: r.try_get("subject")?,
        payload: r.try_get("payload")?,
        created: r.try_get("created")?,
        state: r.try_get("state")?,
        attempts: r.try_get("attempts")?,
        next_attempt: r.try_get("next_attempt")?,
        redelivery_of: r.try_get("redelivery_of")?,
    })
}

/// Queues a delivery (state `Pending`, due at `due_ms`); returns its id.
pub async fn queue_delivery(conn: &mut SqliteConnection, d: &DeliveryRow) -> StoreResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, type, subject, payload, created, state, attempts, next_attempt, redelivery_of)
         VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING id",
    )
    .bind(d.webhook_id)
    .bind(&d.event_id)
    .bind(&d.event_type)
    .bind(&d.subject)
    .bind(&d.payload)
    .bind(&d.created)
    .bind(&d.state)
    .bind(d.next_attempt)
    .bind(d.redelivery_of)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The head of each subscription's queue (its oldest pending delivery), due or not.
pub async fn queue_heads(conn: &mut SqliteConnection, state: &str) -> StoreResult<Vec<DeliveryRow>> {
    let rows = sqlx::query(
        "SELECT d.* FROM webhook_deliveries d
         JOIN (SELECT min(id) AS id FROM webhook_deliveries WHERE state = ?1 GROUP BY webhook_id) h ON h.id = d.id
         ORDER BY d.next_attempt",
    )
    .bind(state)
    .fetch_all(conn)
    .await?;
    rows.iter().map(delivery_from_row).collect()
}

pub async fn get_delivery(conn: &mut SqliteConnection, webhook_id: i64, id: i64) -> StoreResult<Option<DeliveryRow>> {
    let r = sqlx::query("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND id = ?")
        .bind(webhook_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(delivery_from_row).transpose()
}

/// The newest `limit` deliveries of a subscription, newest first.
pub async fn list_deliveries(conn: &mut SqliteConnection, webhook_id: i64, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
    let rows = sqlx::query("SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?")
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(delivery_from_row).collect()
}

pub async fn count_pending(conn: &mut SqliteConnection, webhook_id: i64, state: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = ?")
        .bind(webhook_id)
        .bind(state)
        .fetch_one(conn)
        .await
}

/// The newest delivery that is no longer pending.
pub async fn last_finished(conn: &mut SqliteConnection, webhook_id: i64, pending: &str) -> StoreResult<Option<DeliveryRow>> {
    let r = sqlx::query("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND state != ? ORDER BY id DESC LIMIT 1")
        .bind(webhook_id)
        .bind(pending)
        .fetch_optional(conn)
        .await?;
    r.as_ref().map(delivery_from_row).transpose()
}

#[derive(Clone, Debug)]
pub struct AttemptRow {
    pub delivery_id: i64,
    pub attempt: i64,
    pub time: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// Records one attempt and the delivery's new state in one go.
pub async fn record_attempt(conn: &mut SqliteConnection, a: &AttemptRow, state: &str, next_attempt: i64) -> StoreResult<()> {
    sqlx::query("INSERT INTO webhook_attempts (delivery_id, attempt, time, status_code, latency_ms, error) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(a.delivery_id)
        .bind(a.attempt)
        .bind(&a.time)
        .bind(a.status_code)
        .bind(a.latency_ms)
        .bind(&a.error)
        .execute(&mut *conn)
        .await?;
    sqlx::query("UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt = ? WHERE id = ?")
        .bind(state)
        .bind(a.attempt)
        .bind(next_attempt)
        .bind(a.delivery_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The attempts of some deliveries, by delivery then attempt.
pub async fn attempts_of(conn: &mut SqliteConnection, delivery_ids: &[i64]) -> StoreResult<Vec<AttemptRow>> {
    if delivery_ids.is_empty() {
        return Ok(vec![]);
    }
    let placeholders = vec!["?"; delivery_ids.len()].join(", ");
    let sql = format!("SELECT * FROM webhook_attempts WHERE delivery_id IN ({placeholders}) ORDER BY delivery_id, attempt");
    // Only "?" placeholders are interpolated; values are bound.
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in delivery_ids {
        q = q.bind(*id);
    }
    let rows = q.fetch_all(conn).await?;
    rows.iter()
        .map(|r| {
            Ok(AttemptRow {
                delivery_id: r.try_get("delivery_id")?,
                attempt: r.try_get("attempt")?,
                time: r.try_get("time")?,
                status_code: r.try_get("status_code")?,
                latency_ms: r.try_get("latency_ms")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}

/// Keeps the newest `keep` finished deliveries of every subscription (the log's size bound).
pub async fn trim_deliveries(conn: &mut SqliteConnection, pending: &str, keep: i64) -> StoreResult<u64> {
    let r = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE state != ?1 AND id IN (
           SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY id DESC) AS n
                           FROM webhook_deliveries WHERE state != ?1) WHERE n > ?2)",
    )
    .bind(pending)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}
