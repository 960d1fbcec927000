//! Webhook subscriptions and their delivery outbox. Deliveries are queued by the service inside
//! the transaction of the stream change (so a crash loses none) and worked off by the dispatcher
//! one at a time per subscription, oldest first (so order is kept).
//!
//! Must not: decide which changes a subscription wants, or the retry schedule (that is
//! `app::domain::triggers` and the dispatcher), or see a signing secret in plain text.

use super::StoreResult;
use app::domain::triggers::DeliveryState;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// A subscription as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WebhookRow {
    /// The row id.
    pub id: i64,
    /// The namespace it belongs to.
    pub namespace: String,
    /// Its name within the namespace.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// The resource version it was last written at.
    pub resource_version: i64,
    /// RFC 3339.
    pub created: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The signing secret, sealed (see `sealing`).
    pub sealed_secret: Vec<u8>,
    /// `stream:tag` patterns; empty: every tag.
    pub tags: Json<Vec<String>>,
    /// Event types; empty: every type.
    pub events: Json<Vec<String>>,
}

/// Stores a new subscription; returns its id.
pub async fn insert_webhook(conn: &mut SqliteConnection, w: &WebhookRow) -> StoreResult<i64> {
    sqlx::query_scalar(
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
    .await
}

/// Saves a changed subscription (version, url, secret, filters).
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

/// The subscription `name` of a namespace.
pub async fn get_webhook(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<WebhookRow>> {
    sqlx::query_as("SELECT * FROM webhooks WHERE namespace = ? AND name = ?").bind(namespace).bind(name).fetch_optional(conn).await
}

/// The subscription with id `id`.
pub async fn webhook_by_id(conn: &mut SqliteConnection, id: i64) -> StoreResult<Option<WebhookRow>> {
    sqlx::query_as("SELECT * FROM webhooks WHERE id = ?").bind(id).fetch_optional(conn).await
}

/// Every subscription of a namespace, by name.
pub async fn list_webhooks(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<Vec<WebhookRow>> {
    sqlx::query_as("SELECT * FROM webhooks WHERE namespace = ? ORDER BY name").bind(namespace).fetch_all(conn).await
}

/// Deletes a subscription (its queue and log go with it).
pub async fn delete_webhook(conn: &mut SqliteConnection, id: i64) -> StoreResult<()> {
    sqlx::query("DELETE FROM webhooks WHERE id = ?").bind(id).execute(conn).await?;
    Ok(())
}

/// A delivery of one event to one subscription.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DeliveryRow {
    /// The row id (also the `X-Imagestreams-Delivery` header).
    pub id: i64,
    /// The subscription.
    pub webhook_id: i64,
    /// The CloudEvent id (a redelivery keeps it).
    pub event_id: String,
    #[sqlx(rename = "type")]
    /// The CloudEvent type.
    pub event_type: String,
    /// The CloudEvent subject (`<stream>:<tag>`).
    pub subject: String,
    /// The CloudEvent as sent: JSON text, kept byte for byte so a redelivery sends the same body.
    pub payload: String,
    /// When it was queued (RFC 3339).
    pub created: String,
    /// `Pending`, `Delivered` or `Failed` (`DeliveryState::as_str`).
    pub state: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it is due, in unix milliseconds of the service clock.
    pub next_attempt: i64,
    /// The delivery this one repeats ("redeliver").
    pub redelivery_of: Option<i64>,
}

/// Queues a delivery (due at `next_attempt`, no attempts yet); returns its id.
pub async fn queue_delivery(conn: &mut SqliteConnection, d: &DeliveryRow) -> StoreResult<i64> {
    sqlx::query_scalar(
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
    .await
}

/// The stored name of the pending state (`DeliveryState::Pending`), which the queue queries
/// select by.
const PENDING: &str = app::model::DELIVERY_PENDING;

/// The head of each subscription's queue (its oldest pending delivery), due or not.
pub async fn queue_heads(conn: &mut SqliteConnection) -> StoreResult<Vec<DeliveryRow>> {
    sqlx::query_as(
        "SELECT d.* FROM webhook_deliveries d
         JOIN (SELECT min(id) AS id FROM webhook_deliveries WHERE state = ?1 GROUP BY webhook_id) h ON h.id = d.id
         ORDER BY d.next_attempt",
    )
    .bind(PENDING)
    .fetch_all(conn)
    .await
}

/// The delivery `id` of a subscription.
pub async fn get_delivery(conn: &mut SqliteConnection, webhook_id: i64, id: i64) -> StoreResult<Option<DeliveryRow>> {
    sqlx::query_as("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND id = ?").bind(webhook_id).bind(id).fetch_optional(conn).await
}

/// The newest `limit` deliveries of a subscription, newest first.
pub async fn list_deliveries(conn: &mut SqliteConnection, webhook_id: i64, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
    sqlx::query_as("SELECT * FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?")
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(conn)
        .await
}

/// How many deliveries of a subscription are pending.
pub async fn count_pending(conn: &mut SqliteConnection, webhook_id: i64) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE webhook_id = ? AND state = ?")
        .bind(webhook_id)
        .bind(PENDING)
        .fetch_one(conn)
        .await
}

/// The newest delivery that is no longer pending.
pub async fn last_finished(conn: &mut SqliteConnection, webhook_id: i64) -> StoreResult<Option<DeliveryRow>> {
    sqlx::query_as("SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND state != ? ORDER BY id DESC LIMIT 1")
        .bind(webhook_id)
        .bind(PENDING)
        .fetch_optional(conn)
        .await
}

/// One attempt of a delivery.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AttemptRow {
    /// The delivery.
    pub delivery_id: i64,
    /// The attempt's number, from 1.
    pub attempt: i64,
    /// When it was made (RFC 3339, milliseconds).
    pub time: String,
    /// The receiver's status code, if it answered.
    pub status_code: Option<i64>,
    /// How long the attempt took.
    pub latency_ms: i64,
    /// Why it failed (`None`: delivered).
    pub error: Option<String>,
}

/// Records one attempt and the delivery's new state in one go.
pub async fn record_attempt(conn: &mut SqliteConnection, a: &AttemptRow, state: DeliveryState, next_attempt: i64) -> StoreResult<()> {
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
        .bind(state.as_str())
        .bind(a.attempt)
        .bind(next_attempt)
        .bind(a.delivery_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The attempts of some deliveries (one page of the log), by delivery then attempt.
pub async fn attempts_of(conn: &mut SqliteConnection, delivery_ids: &[i64]) -> StoreResult<Vec<AttemptRow>> {
    if delivery_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = QueryBuilder::<Sqlite>::new("SELECT * FROM webhook_attempts WHERE delivery_id IN (");
    let mut ids = q.separated(", ");
    for id in delivery_ids {
        ids.push_bind(*id);
    }
    q.push(") ORDER BY delivery_id, attempt");
    q.build_query_as().fetch_all(conn).await
}

/// Keeps the newest `keep` finished deliveries of every subscription (the log's size bound).
pub async fn trim_deliveries(conn: &mut SqliteConnection, keep: i64) -> StoreResult<u64> {
    let r = sqlx::query(
        "DELETE FROM webhook_deliveries WHERE state != ?1 AND id IN (
           SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY webhook_id ORDER BY id DESC) AS n
                           FROM webhook_deliveries WHERE state != ?1) WHERE n > ?2)",
    )
    .bind(PENDING)
    .bind(keep)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// How many subscriptions a namespace has (its quota).
pub async fn count_webhooks(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<i64> {
    sqlx::query_scalar("SELECT count(*) FROM webhooks WHERE namespace = ?").bind(namespace).fetch_one(conn).await
}

/// How many deliveries are pending across every subscription of a namespace (its quota).
pub async fn count_pending_in_namespace(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.namespace = ? AND d.state = ?",
    )
    .bind(namespace)
    .bind(PENDING)
    .fetch_one(conn)
    .await
}

/// How many deliveries someone asked for by hand ("send test event" of type `test_type`, and
/// redeliveries) in a namespace since `since` (RFC 3339, the format `created` is stored in).
pub async fn count_manual_deliveries_since(conn: &mut SqliteConnection, namespace: &str, test_type: &str, since: &str) -> StoreResult<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE w.namespace = ? AND (d.type = ? OR d.redelivery_of IS NOT NULL) AND d.created > ?",
    )
    .bind(namespace)
    .bind(test_type)
    .bind(since)
    .fetch_one(conn)
    .await
}
