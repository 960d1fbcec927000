//! Image-change webhooks (PRODUCT.md "What it is": deployments are told when a tag moves to a new
//! image; which moves count is spec §7.1, `app::domain::triggers`): subscriptions per namespace
//! (secret sealed, never returned), the outbox (every stream write queues the deliveries its tag
//! changes cause, in the write's own transaction), the delivery log, "send test event" and
//! "redeliver". Sending is the dispatcher's job (`workers::delivery`), which reads the outbox
//! through `service::deliveries`.
//!
//! Quotas per namespace (review M9): at most `MAX_WEBHOOKS_PER_NAMESPACE` subscriptions and
//! `MAX_PENDING_PER_NAMESPACE` pending deliveries (a change beyond that records its deliveries as
//! failed, unsent, saying why), and `MAX_MANUAL_PER_MINUTE` test events and redeliveries a
//! minute on the service clock (429 beyond). Delivery logs show readers attempt errors with
//! every URL reduced to scheme, host and port, like the subscription itself.
//!
//! Must not: send anything, restate which changes a subscription wants (the domain's rule), or
//! return a signing secret.

use super::streams::check_namespace_matches;
use super::{Caller, Service, Verb, db, new_uid};
use crate::store::{self, AttemptRow, DeliveryRow, WebhookRow};
use app::domain::triggers::{DeliveryState, parse_target_url, url_for_readers, validate_webhook};
use app::model::*;
use sqlx::SqliteConnection;
use sqlx::types::Json;
use std::collections::BTreeMap;

pub const RES_WEBHOOKS: Resource = Resource { plural: "webhooks", group: "", kind: "Webhook" };
const RES_DELIVERIES: Resource = Resource { plural: "webhookdeliveries", group: "", kind: "WebhookDelivery" };

/// How many deliveries the log shows.
const LOG_PAGE: i64 = 100;

/// Subscriptions a namespace may have.
pub const MAX_WEBHOOKS_PER_NAMESPACE: i64 = 50;
/// Deliveries a namespace may have waiting; beyond, new ones are recorded as failed, unsent.
/// It bounds the outbox while a receiver is down (a pending delivery is its CloudEvent, about
/// 1 KB), and is far above what a receiver that answers leaves queued: the dispatcher sends a
/// subscription's queue back to back.
pub const MAX_PENDING_PER_NAMESPACE: i64 = 10_000;
/// "Send test event" and "redeliver" calls a namespace may make per minute.
pub const MAX_MANUAL_PER_MINUTE: i64 = 30;

/// Why a delivery was not queued: the namespace's pending quota is used up.
fn pending_quota_message() -> String {
    format!(
        "not sent: the namespace already has {MAX_PENDING_PER_NAMESPACE} deliveries pending (quota of pending deliveries per namespace)"
    )
}

/// An attempt error as a reader sees it: every URL reduced to scheme, host and port (older
/// entries could carry a whole target URL, which is often the receiver's credential).
fn error_for_readers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["http://", "https://"].iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')')).map_or(rest.len(), |e| at + e);
        out.push_str(&url_for_readers(&rest[at..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn delivery_view(d: &DeliveryRow, attempts: Vec<DeliveryAttempt>) -> WebhookDelivery {
    let pending = d.state == DELIVERY_PENDING;
    WebhookDelivery {
        id: d.id,
        event_id: d.event_id.clone(),
        event_type: d.event_type.clone(),
        subject: d.subject.clone(),
        created: d.created.clone(),
        state: d.state.clone(),
        attempts: d.attempts,
        next_attempt: pending
            .then(|| chrono::DateTime::from_timestamp_millis(d.next_attempt))
            .flatten()
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        redelivery_of: d.redelivery_of,
        attempt_log: attempts,
    }
}

impl Service {
    fn webhook_view(&self, row: &WebhookRow, pending: i64, last: Option<WebhookDelivery>) -> Webhook {
        Webhook {
            api_version: "v1".into(),
            kind: "Webhook".into(),
            metadata: ObjectMeta::stored(&row.namespace, &row.name, &row.uid, row.resource_version, &row.created),
            spec: WebhookSpec { url: row.url.clone(), secret: None, tags: row.tags.0.clone(), events: row.events.0.clone() },
            status: WebhookStatus { pending, last_delivery: last },
        }
    }

    async fn webhook_with_status(&self, conn: &mut SqliteConnection, row: &WebhookRow) -> Result<Webhook, ApiError> {
        let pending = store::count_pending(conn, row.id).await.map_err(db)?;
        let last = store::last_finished(conn, row.id).await.map_err(db)?.map(|d| delivery_view(&d, vec![]));
        Ok(self.webhook_view(row, pending, last))
    }

    /// The operator's rule for targets (`--allowed-webhook-target`), checked when a subscription
    /// is written; the resolved addresses are checked again at every delivery.
    fn check_target(&self, url: &str) -> Result<(), FieldError> {
        let Ok((_, host, port)) = parse_target_url(url) else { return Ok(()) };
        // A literal address, also in the numeric forms the delivery's lookup reads as one
        // (`127.1`, `0x7f000001`), and a port no entry allows: refused now rather than at the
        // first delivery. A name's addresses are known only when sending.
        let literal: Option<std::net::IpAddr> =
            host.trim_matches(['[', ']']).parse().ok().or_else(|| crate::egress::numeric_ipv4(&host).map(std::net::IpAddr::V4));
        let result = self.webhook_guard.check_name(&host, port).and_then(|()| match literal {
            Some(ip) => self.webhook_guard.check_addresses(&host, port, &[std::net::SocketAddr::new(ip, port)]),
            None => self.webhook_guard.check_port_of_name(&host, port),
        });
        result.map_err(|m| FieldError::forbidden("spec.url", m))
    }

    fn validated(&self, w: &Webhook, creating: bool) -> Result<(), ApiError> {
        let mut errs = validate_webhook(w, creating);
        if !errs.iter().any(|e| e.field == "spec.url")
            && let Err(e) = self.check_target(&w.spec.url)
        {
            errs.push(e);
        }
        if errs.is_empty() { Ok(()) } else { Err(ApiError::invalid(RES_WEBHOOKS, &w.metadata.name, &errs)) }
    }

    pub async fn create_webhook(&self, caller: &Caller, ns: &str, mut w: Webhook) -> Result<Webhook, ApiError> {
        self.allow(caller, Verb::Create, "webhooks", Some(ns))?;
        check_namespace_matches(&mut w.metadata, ns)?;
        self.validated(&w, true)?;
        let secret = w.spec.secret.clone().unwrap_or_default();
        let sealed_secret = self.sealer.seal(secret.as_bytes()).map_err(ApiError::internal)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        if store::get_webhook(&mut tx, ns, &w.metadata.name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_WEBHOOKS, &w.metadata.name));
        }
        if store::count_webhooks(&mut tx, ns).await.map_err(db)? >= MAX_WEBHOOKS_PER_NAMESPACE {
            return Err(ApiError::forbidden(format!(
                "webhooks {:?} is forbidden: exceeded quota: at most {MAX_WEBHOOKS_PER_NAMESPACE} webhooks per namespace; delete one first",
                w.metadata.name
            )));
        }
        let mut row = WebhookRow {
            id: 0,
            namespace: ns.into(),
            name: w.metadata.name.clone(),
            uid: new_uid(),
            resource_version: store::next_resource_version(&mut tx).await.map_err(db)?,
            created: self.now_rfc3339(),
            url: w.spec.url.clone(),
            sealed_secret,
            tags: Json(w.spec.tags.clone()),
            events: Json(w.spec.events.clone()),
        };
        row.id = store::insert_webhook(&mut tx, &row).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(self.webhook_view(&row, 0, None))
    }

    /// PUT: replaces url, tags and events; the secret only when one is sent.
    pub async fn update_webhook(&self, caller: &Caller, ns: &str, name: &str, mut w: Webhook) -> Result<Webhook, ApiError> {
        self.allow(caller, Verb::Update, "webhooks", Some(ns))?;
        check_namespace_matches(&mut w.metadata, ns)?;
        if w.metadata.name != name {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        self.validated(&w, false)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let mut row = store::get_webhook(&mut tx, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_WEBHOOKS, name))?;
        if let Some(sent) = w.metadata.resource_version.as_deref()
            && sent != row.resource_version.to_string()
        {
            return Err(ApiError::conflict(
                RES_WEBHOOKS,
                name,
                "the object has been modified; please apply your changes to the latest version and try again",
            ));
        }
        if row.url == w.spec.url && row.tags.0 == w.spec.tags && row.events.0 == w.spec.events && w.spec.secret.is_none() {
            return self.webhook_with_status(&mut tx, &row).await;
        }
        if let Some(secret) = &w.spec.secret {
            row.sealed_secret = self.sealer.seal(secret.as_bytes()).map_err(ApiError::internal)?;
        }
        (row.url, row.tags, row.events) = (w.spec.url.clone(), Json(w.spec.tags.clone()), Json(w.spec.events.clone()));
        row.resource_version = store::next_resource_version(&mut tx).await.map_err(db)?;
        store::update_webhook(&mut tx, &row).await.map_err(db)?;
        let view = self.webhook_with_status(&mut tx, &row).await?;
        tx.commit().await.map_err(db)?;
        Ok(view)
    }

    pub async fn get_webhook(&self, caller: &Caller, ns: &str, name: &str) -> Result<Webhook, ApiError> {
        self.allow(caller, Verb::Get, "webhooks", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        let row = store::get_webhook(&mut conn, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_WEBHOOKS, name))?;
        Ok(self.as_seen_by(caller, ns, self.webhook_with_status(&mut conn, &row).await?))
    }

    /// A webhook as `caller` may see it: its whole target URL only for those who may change the
    /// subscription, since a URL often is the receiver's credential (Slack's and Teams' are).
    /// Readers see where events go (scheme, host and port), not the rest.
    fn as_seen_by(&self, caller: &Caller, ns: &str, mut w: Webhook) -> Webhook {
        if !self.may(caller, Verb::Update, "webhooks", Some(ns)) {
            w.spec.url = url_for_readers(&w.spec.url);
        }
        w
    }

    pub async fn list_webhooks(&self, caller: &Caller, ns: &str) -> Result<List<Webhook>, ApiError> {
        self.allow(caller, Verb::List, "webhooks", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        let mut items = vec![];
        for row in store::list_webhooks(&mut conn, ns).await.map_err(db)? {
            items.push(self.as_seen_by(caller, ns, self.webhook_with_status(&mut conn, &row).await?));
        }
        drop(conn);
        Ok(List { api_version: "v1".into(), kind: "WebhookList".into(), metadata: self.list_meta(None).await?, items })
    }

    /// Deletes a subscription and its queue and log.
    pub async fn delete_webhook(&self, caller: &Caller, ns: &str, name: &str) -> Result<Status, ApiError> {
        self.delete_webhook_if(caller, ns, name, &app::domain::deletion::Preconditions::default()).await
    }

    /// DELETE with preconditions, checked inside the delete's transaction.
    pub async fn delete_webhook_if(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        pre: &app::domain::deletion::Preconditions,
    ) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "webhooks", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let row = store::get_webhook(&mut tx, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_WEBHOOKS, name))?;
        pre.check(RES_WEBHOOKS, name, &row.uid, &row.resource_version.to_string())?;
        store::delete_webhook(&mut tx, row.id).await.map_err(db)?;
        store::next_resource_version(&mut tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(Status::success("webhooks", "", name))
    }

    /// The delivery log: the newest deliveries with every attempt.
    pub async fn list_deliveries(&self, caller: &Caller, ns: &str, name: &str) -> Result<List<WebhookDelivery>, ApiError> {
        self.allow(caller, Verb::Get, "webhooks", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db)?;
        let row = store::get_webhook(&mut tx, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_WEBHOOKS, name))?;
        let deliveries = store::list_deliveries(&mut tx, row.id, LOG_PAGE).await.map_err(db)?;
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        let mut attempts: BTreeMap<i64, Vec<DeliveryAttempt>> = BTreeMap::new();
        for a in store::attempts_of(&mut tx, &ids).await.map_err(db)? {
            attempts.entry(a.delivery_id).or_default().push(DeliveryAttempt {
                attempt: a.attempt,
                time: a.time,
                status_code: a.status_code.and_then(|c| u16::try_from(c).ok()),
                latency_ms: a.latency_ms,
                error: a.error,
            });
        }
        tx.commit().await.map_err(db)?;
        if !self.may(caller, Verb::Update, "webhooks", Some(ns)) {
            for a in attempts.values_mut().flatten() {
                a.error = a.error.as_deref().map(error_for_readers);
            }
        }
        let items = deliveries.iter().map(|d| delivery_view(d, attempts.remove(&d.id).unwrap_or_default())).collect();
        Ok(List { api_version: "v1".into(), kind: "WebhookDeliveryList".into(), metadata: ListMeta::default(), items })
    }

    /// "Send test event": queues a ping through the same path as real events.
    pub async fn test_webhook(&self, caller: &Caller, ns: &str, name: &str) -> Result<WebhookDelivery, ApiError> {
        self.allow(caller, Verb::Update, "webhooks", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let row = store::get_webhook(&mut tx, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_WEBHOOKS, name))?;
        self.check_manual_quota(&mut tx, ns).await?;
        let rv = store::current_resource_version(&mut tx).await.map_err(db)?;
        let data = ImageChangeEvent {
            namespace: ns.into(),
            stream: String::new(),
            tag: String::new(),
            resource_version: rv.to_string(),
            message: Some(format!("a test event for webhook {name:?}")),
            ..Default::default()
        };
        let event = self.cloud_event(CE_TYPE_TEST, format!("/api/v1/namespaces/{ns}/webhooks/{name}"), String::new(), data);
        let mut budget = PendingBudget::of(&mut tx, ns).await?;
        let d = self.queue(&mut tx, row.id, &event, &mut budget).await?;
        tx.commit().await.map_err(db)?;
        self.wake_deliveries();
        Ok(delivery_view(&d, vec![]))
    }

    /// "Redeliver": queues the same event (same CloudEvent id and body) as a new delivery.
    pub async fn redeliver(&self, caller: &Caller, ns: &str, name: &str, delivery: i64) -> Result<WebhookDelivery, ApiError> {
        self.allow(caller, Verb::Update, "webhooks", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let row = store::get_webhook(&mut tx, ns, name).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_WEBHOOKS, name))?;
        let old = store::get_delivery(&mut tx, row.id, delivery)
            .await
            .map_err(db)?
            .ok_or_else(|| ApiError::not_found(RES_DELIVERIES, &delivery.to_string()))?;
        self.check_manual_quota(&mut tx, ns).await?;
        let mut d = DeliveryRow {
            id: 0,
            webhook_id: row.id,
            created: self.now_rfc3339(),
            state: DELIVERY_PENDING.into(),
            attempts: 0,
            next_attempt: self.now_ms(),
            redelivery_of: Some(old.id),
            ..old
        };
        d.id = store::queue_delivery(&mut tx, &d).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.wake_deliveries();
        Ok(delivery_view(&d, vec![]))
    }

    /// "Send test event" and "redeliver" are bounded per namespace: a rate on the service clock,
    /// and the pending quota (a hand-made delivery is refused rather than recorded as unsent).
    async fn check_manual_quota(&self, tx: &mut SqliteConnection, ns: &str) -> Result<(), ApiError> {
        let since = (self.clock_now() - chrono::Duration::seconds(60)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        if store::count_manual_deliveries_since(tx, ns, CE_TYPE_TEST, &since).await.map_err(db)? >= MAX_MANUAL_PER_MINUTE {
            return Err(ApiError::too_many_requests(format!(
                "exceeded quota: at most {MAX_MANUAL_PER_MINUTE} test events and redeliveries per minute in namespace {ns:?}; try again in a minute"
            ))
            .with_retry_after(60));
        }
        if store::pending_in_namespace_up_to(tx, ns, MAX_PENDING_PER_NAMESPACE).await.map_err(db)? >= MAX_PENDING_PER_NAMESPACE {
            return Err(ApiError::too_many_requests(format!(
                "exceeded quota: namespace {ns:?} already has {MAX_PENDING_PER_NAMESPACE} webhook deliveries pending; try again when they are sent"
            )));
        }
        Ok(())
    }

    pub(super) fn cloud_event(&self, event_type: &str, source: String, subject: String, data: ImageChangeEvent) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: uuid::Uuid::new_v4().to_string(),
            source,
            event_type: event_type.into(),
            subject,
            time: self.now_rfc3339(),
            datacontenttype: "application/json".into(),
            data,
        }
    }

    /// Queues delivery of `e` to subscription `webhook_id` (a redelivery `of` another), or, with
    /// the namespace's pending quota used up, records it as failed, unsent.
    /// The delivery of `e` to subscription `webhook_id` (a redelivery `of` another), pending and
    /// due now, not yet written.
    pub(super) fn delivery_row(&self, webhook_id: i64, e: &CloudEvent, of: Option<i64>) -> Result<DeliveryRow, ApiError> {
        Ok(DeliveryRow {
            id: 0,
            webhook_id,
            event_id: e.id.clone(),
            event_type: e.event_type.clone(),
            subject: e.subject.clone(),
            payload: serde_json::to_string(e).map_err(|e| ApiError::internal(e.to_string()))?,
            created: e.time.clone(),
            state: DELIVERY_PENDING.into(),
            attempts: 0,
            next_attempt: self.now_ms(),
            redelivery_of: of,
        })
    }

    /// Records `d` as failed, unsent, because the namespace's pending quota is used up: the
    /// change itself goes ahead, and the namespace's receivers (and its editors, in the log) see
    /// what was dropped.
    pub(super) async fn record_unsent(&self, tx: &mut SqliteConnection, mut d: DeliveryRow) -> Result<DeliveryRow, ApiError> {
        d.state = DELIVERY_FAILED.into();
        d.next_attempt = 0;
        d.id = store::queue_delivery(tx, &d).await.map_err(db)?;
        let note = AttemptRow {
            delivery_id: d.id,
            attempt: 0,
            time: self.clock_now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            status_code: None,
            latency_ms: 0,
            error: Some(pending_quota_message()),
        };
        store::record_attempt(tx, &note, DeliveryState::Failed, 0).await.map_err(db)?;
        Ok(d)
    }

    /// Queues delivery of `e` to subscription `webhook_id` now, or, with the namespace's pending
    /// quota used up, records it as failed, unsent.
    pub(super) async fn queue(
        &self,
        tx: &mut SqliteConnection,
        webhook_id: i64,
        e: &CloudEvent,
        budget: &mut PendingBudget,
    ) -> Result<DeliveryRow, ApiError> {
        let mut d = self.delivery_row(webhook_id, e, None)?;
        if !budget.take_counting(tx, 0).await? {
            return self.record_unsent(tx, d).await;
        }
        d.id = store::queue_delivery(tx, &d).await.map_err(db)?;
        Ok(d)
    }
}

/// What is left of a namespace's pending quota within one transaction: read once (an upper
/// bound, exact only near the quota: `store::pending_in_namespace_up_to`), then kept as
/// deliveries are queued, so a change that queues one delivery per subscription does not count
/// again for each. When the kept figure reaches the quota and was a bound, it is counted.
pub(super) struct PendingBudget {
    namespace: String,
    pending: i64,
    exact: bool,
}

impl PendingBudget {
    /// The budget of namespace `ns` as `tx` sees it (the transaction holds the writer's lock,
    /// so nobody else queues meanwhile).
    pub(super) async fn of(tx: &mut SqliteConnection, ns: &str) -> Result<Self, ApiError> {
        let pending = store::pending_in_namespace_up_to(tx, ns, MAX_PENDING_PER_NAMESPACE).await.map_err(db)?;
        Ok(PendingBudget { namespace: ns.to_string(), pending, exact: pending >= MAX_PENDING_PER_NAMESPACE })
    }

    /// The budget from an upper bound of the pending deliveries (`store::subscriptions_with_pending_bound`).
    pub(super) fn from_bound(ns: &str, bound: i64) -> Self {
        PendingBudget { namespace: ns.to_string(), pending: bound, exact: false }
    }

    /// Takes one place; false when the quota is used up. `unwritten`: deliveries taken from this
    /// budget but not yet written (an exact count does not see them).
    pub(super) async fn take_counting(&mut self, tx: &mut SqliteConnection, unwritten: i64) -> Result<bool, ApiError> {
        if self.pending >= MAX_PENDING_PER_NAMESPACE && !self.exact {
            self.pending = store::count_pending_in_namespace(tx, &self.namespace).await.map_err(db)? + unwritten;
            self.exact = true;
        }
        if self.pending >= MAX_PENDING_PER_NAMESPACE {
            return Ok(false);
        }
        self.pending += 1;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The quota's upper bound (ids from the oldest pending delivery to the newest) may be far
    /// above the real count when many deliveries in between were sent; then the budget counts
    /// exactly and still queues. When the real count reaches the quota, it refuses.
    #[tokio::test]
    async fn an_upper_bound_over_the_quota_falls_back_to_the_exact_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::Store::open(dir.path()).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let now = "2026-12-01T00:00:00Z";
        store::insert_namespace(&mut tx, "team", "uid-team", 1, now).await.unwrap();
        let hook = WebhookRow {
            id: 0,
            namespace: "team".into(),
            name: "ci".into(),
            uid: "uid-hook".into(),
            resource_version: 2,
            created: now.into(),
            url: "http://127.0.0.1:9/".into(),
            sealed_secret: vec![0],
            tags: Json(vec![]),
            events: Json(vec![]),
        };
        let hook_id = store::insert_webhook(&mut tx, &hook).await.unwrap();
        // One delivery still pending (id 1), and one sent long after (id 20,000): the bound is
        // 20,000, the count 1.
        for (id, state) in [(1_i64, app::model::DELIVERY_PENDING), (20_000, "delivered")] {
            store::fixtures::insert_deliveries(&mut tx, id..=id, hook_id, state, now).await.unwrap();
        }
        let (_, bound) = store::subscriptions_with_pending_bound(&mut tx, "team").await.unwrap();
        assert_eq!(bound, 20_000, "the bound spans every id from the oldest pending one");
        assert_eq!(store::pending_in_namespace_up_to(&mut tx, "team", MAX_PENDING_PER_NAMESPACE).await.unwrap(), 1);

        let mut budget = PendingBudget::from_bound("team", bound);
        assert!(budget.take_counting(&mut tx, 0).await.unwrap(), "one pending of 10,000: there is room");
        assert!(budget.exact, "the bound was over the quota, so the budget counted");
        assert_eq!(budget.pending, 2);

        // Fill the namespace to the quota for real: now the exact count refuses.
        store::fixtures::insert_deliveries(
            &mut tx,
            20_001..=20_000 + MAX_PENDING_PER_NAMESPACE - 1,
            hook_id,
            app::model::DELIVERY_PENDING,
            now,
        )
        .await
        .unwrap();
        let mut full = PendingBudget::of(&mut tx, "team").await.unwrap();
        assert!(!full.take_counting(&mut tx, 0).await.unwrap(), "10,000 pending: the quota is used up");
    }

    #[test]
    fn readers_see_attempt_errors_with_urls_reduced_to_scheme_host_and_port() {
        // What attempts stored before errors became fixed messages (review M6).
        let old =
            "sending failed: error sending request for url (http://127.0.0.1:18206/services/T0001/B0002/SLACKSECRET?token=QUERYSECRET)";
        assert_eq!(error_for_readers(old), "sending failed: error sending request for url (http://127.0.0.1:18206/…)");
        assert_eq!(error_for_readers("the receiver answered 500 Internal Server Error"), "the receiver answered 500 Internal Server Error");
        assert_eq!(error_for_readers("to https://h.example/x?y and https://g.example"), "to https://h.example/… and https://g.example");
    }
}
