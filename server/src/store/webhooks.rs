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

impl WebhookRow {
    /// The subscription in a row read on the group commit's locked connection (its columns
    /// named as the table's), decoded as strictly as sqlx's `FromRow`.
    pub(super) fn from_locked_row(row: &rusqlite::Row<'_>) -> StoreResult<Self> {
        use super::script::locked_error;
        let json = |column: &str| -> StoreResult<Json<Vec<String>>> {
            let text: String = row.get(column).map_err(locked_error)?;
            serde_json::from_str(&text).map(Json).map_err(|e| sqlx::Error::ColumnDecode { index: column.to_string(), source: e.into() })
        };
        Ok(WebhookRow {
            id: row.get("id").map_err(locked_error)?,
            namespace: row.get("namespace").map_err(locked_error)?,
            name: row.get("name").map_err(locked_error)?,
            uid: row.get("uid").map_err(locked_error)?,
            resource_version: row.get("resource_version").map_err(locked_error)?,
            created: row.get("created").map_err(locked_error)?,
            url: row.get("url").map_err(locked_error)?,
            sealed_secret: row.get("sealed_secret").map_err(locked_error)?,
            tags: json("tags")?,
            events: json("events")?,
        })
    }
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

/// Queues deliveries (each due at its `next_attempt`, no attempts yet) in one statement added to
/// `script`; their ids are not read back.
pub(super) fn push_deliveries(script: &mut super::script::Script, rows: &[DeliveryRow]) {
    // 10 parameters a row, far below SQLite's 32,766 per statement.
    for chunk in rows.chunks(1000) {
        push_delivery_rows(script, chunk);
    }
}

fn push_delivery_rows(script: &mut super::script::Script, rows: &[DeliveryRow]) {
    let q = script.statement(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, type, subject, payload, created, state, attempts, next_attempt, redelivery_of) ",
    );
    q.push_values(rows, |mut b, d| {
        b.push_bind(d.webhook_id)
            .push_bind(d.event_id.clone())
            .push_bind(d.event_type.clone())
            .push_bind(d.subject.clone())
            .push_bind(d.payload.clone())
            .push_bind(d.created.clone())
            .push_bind(d.state.clone())
            .push_bind(0i64)
            .push_bind(d.next_attempt)
            .push_bind(d.redelivery_of);
    });
}

/// Queues deliveries (see `push_deliveries`) in one round trip.
pub async fn queue_deliveries(conn: &mut SqliteConnection, rows: &[DeliveryRow]) -> StoreResult<()> {
    let mut script = super::script::Script::new();
    push_deliveries(&mut script, rows);
    script.run(conn).await
}

/// The subscriptions of a namespace, by name, with an upper bound of its pending deliveries
/// (`pending_in_namespace_up_to`'s, read in the same round trip).
pub async fn subscriptions_with_pending_bound(conn: &mut SqliteConnection, namespace: &str) -> StoreResult<(Vec<WebhookRow>, i64)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        hook: WebhookRow,
        pending_bound: Option<i64>,
    }
    let rows: Vec<Row> = sqlx::query_as(concat!(
        "SELECT w.*, ",
        pending_bound_sql!(),
        " AS pending_bound FROM webhooks w WHERE w.namespace = ?2 ORDER BY w.name"
    ))
    .bind(PENDING)
    .bind(namespace)
    .fetch_all(conn)
    .await?;
    let bound = rows.first().and_then(|r| r.pending_bound).unwrap_or(0);
    Ok((rows.into_iter().map(|r| r.hook).collect(), bound))
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
pub(super) const PENDING: &str = app::model::DELIVERY_PENDING;

/// The head of each subscription's queue (its oldest pending delivery), due or not, soonest
/// first. One index lookup per subscription (`webhook_deliveries_queue`), however long the
/// queues: a `GROUP BY` over the pending rows costed every dispatcher round, which runs after
/// each commit, the length of the whole outbox.
pub async fn queue_heads(conn: &mut SqliteConnection) -> StoreResult<Vec<DeliveryRow>> {
    sqlx::query_as(
        "SELECT d.* FROM webhooks w
         JOIN webhook_deliveries d
           ON d.id = (SELECT q.id FROM webhook_deliveries q WHERE q.state = ?1 AND q.webhook_id = w.id ORDER BY q.id LIMIT 1)
         ORDER BY d.next_attempt",
    )
    .bind(PENDING)
    .fetch_all(conn)
    .await
}

/// Up to `limit` pending deliveries of one subscription from its head, oldest first, that are
/// due at `now_ms`; the run stops at the first one not due (a retry waiting its backoff), so
/// they are sent in order.
pub async fn due_run_of(conn: &mut SqliteConnection, webhook_id: i64, now_ms: i64, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
    let rows: Vec<DeliveryRow> = sqlx::query_as("SELECT * FROM webhook_deliveries WHERE state = ? AND webhook_id = ? ORDER BY id LIMIT ?")
        .bind(PENDING)
        .bind(webhook_id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().take_while(|d| d.next_attempt <= now_ms).collect())
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

/// Records attempts, each `(attempt, the delivery's state after it, its next attempt)`, as
/// `record_attempt` does, on the group commit's locked connection (see `Locked`).
pub fn record_attempts_locked(conn: &super::Locked<'_>, attempts: &[(AttemptRow, DeliveryState, i64)]) -> StoreResult<()> {
    let mut script = super::script::Script::new();
    for (a, state, next_attempt) in attempts {
        script
            .statement("INSERT INTO webhook_attempts (delivery_id, attempt, time, status_code, latency_ms, error) VALUES (")
            .push_bind(a.delivery_id)
            .push(", ")
            .push_bind(a.attempt)
            .push(", ")
            .push_bind(a.time.clone())
            .push(", ")
            .push_bind(a.status_code)
            .push(", ")
            .push_bind(a.latency_ms)
            .push(", ")
            .push_bind(a.error.clone())
            .push(")");
        script
            .statement("UPDATE webhook_deliveries SET state = ")
            .push_bind(state.as_str())
            .push(", attempts = ")
            .push_bind(a.attempt)
            .push(", next_attempt = ")
            .push_bind(*next_attempt)
            .push(" WHERE id = ")
            .push_bind(a.delivery_id);
    }
    script.run_locked(conn)
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

/// The pending deliveries of a namespace, counted exactly only when there may be `at_least` of
/// them: ids only grow, so no more are pending than there are ids from the namespace's oldest
/// pending delivery to the newest delivery anywhere (one index lookup per subscription). Below
/// `at_least` the answer is that bound, not the count; a count on every write costed each write
/// the length of the outbox.
pub async fn pending_in_namespace_up_to(conn: &mut SqliteConnection, namespace: &str, at_least: i64) -> StoreResult<i64> {
    let (_, bound) = subscriptions_with_pending_bound(conn, namespace).await?;
    if bound < at_least { Ok(bound) } else { count_pending_in_namespace(conn, namespace).await }
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

/// Rows for tests of the outbox's quota, written without the service's rules.
#[cfg(test)]
pub mod fixtures {
    use super::*;

    /// Deliveries of `webhook_id` with the row ids `ids`, all in `state`, in one statement.
    pub async fn insert_deliveries(
        conn: &mut SqliteConnection,
        ids: std::ops::RangeInclusive<i64>,
        webhook_id: i64,
        state: &str,
        created: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
             INSERT INTO webhook_deliveries (id, webhook_id, event_id, type, subject, payload, created, state, next_attempt)
             SELECT i, ?, 'e', 't', 's', '{}', ?, ?, 0 FROM n",
        )
        .bind(*ids.start())
        .bind(*ids.end())
        .bind(webhook_id)
        .bind(created)
        .bind(state)
        .execute(conn)
        .await
        .map(|_| ())
    }
}
