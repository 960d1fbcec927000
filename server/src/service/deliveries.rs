//! The outbox as the webhook dispatcher (`workers::delivery`) sees it: which deliveries are due,
//! where each goes and with which secret, and the record of each attempt with the delivery's
//! next state. Times are the service clock's, so tests move them by hand.
//!
//! Must not: send anything (that is the worker's) or decide the retry schedule's shape (the
//! worker passes the wait; the state after an attempt is `app::domain::triggers`' rule).

use super::{Service, db};
use crate::egress::{PROXY_ANSWER_HEADER, ProxyGuard, start_proxy};
use crate::store::{self, AttemptRow};
use app::domain::triggers::{DeliveryState, state_after_attempt};
use app::model::ApiError;
use std::sync::Arc;
use std::time::Duration;

/// A delivery waiting at the head of its subscription's queue.
#[derive(Clone, Debug)]
pub struct QueuedDelivery {
    pub id: i64,
    pub webhook_id: i64,
    /// The CloudEvent as sent (JSON).
    pub payload: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it is due, in unix milliseconds of the service clock.
    pub due_ms: i64,
}

impl From<store::DeliveryRow> for QueuedDelivery {
    fn from(d: store::DeliveryRow) -> Self {
        QueuedDelivery { id: d.id, webhook_id: d.webhook_id, payload: d.payload, attempts: d.attempts, due_ms: d.next_attempt }
    }
}

/// Where a delivery goes.
#[derive(Clone, Debug)]
pub struct DeliveryTarget {
    pub namespace: String,
    pub name: String,
    pub url: String,
    /// The signing secret, or why it does not open (sealed with another key).
    pub secret: Result<Vec<u8>, String>,
}

/// Why a delivery's target may not be sent to now (`Service::check_webhook_target`).
#[derive(Clone, Debug)]
pub struct TargetRefused {
    /// Said in the delivery log.
    pub reason: String,
    /// Retrying cannot change it: the operator's rules refuse the target (a name that does not
    /// resolve is not permanent).
    pub permanent: bool,
}

/// What one attempt came to.
#[derive(Clone, Debug)]
pub struct AttemptOutcome {
    /// The receiver's status code, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed (`None`: delivered).
    pub error: Option<String>,
    /// The failure cannot pass by retrying: the operator's rules refuse the target, or its URL
    /// or signing secret cannot be used. The delivery fails at once instead of waiting out its
    /// retries.
    pub permanent: bool,
    pub latency: Duration,
}

impl Service {
    /// "now" of the service clock in unix milliseconds (the outbox's time unit).
    pub fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// The head of every subscription's queue (its oldest pending delivery), due or not, soonest
    /// first.
    pub async fn queued_deliveries(&self) -> Result<Vec<QueuedDelivery>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let heads = store::queue_heads(&mut conn).await.map_err(db)?;
        Ok(heads.into_iter().map(QueuedDelivery::from).collect())
    }

    /// Up to `limit` due deliveries of subscription `webhook_id` from its queue's head, oldest
    /// first (none when its head is not due).
    pub async fn due_run_of(&self, webhook_id: i64, limit: i64) -> Result<Vec<QueuedDelivery>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let run = store::due_run_of(&mut conn, webhook_id, self.now_ms(), limit).await.map_err(db)?;
        Ok(run.into_iter().map(QueuedDelivery::from).collect())
    }

    /// Where the deliveries of subscription `webhook_id` go (`None` once it is deleted).
    pub async fn delivery_target(&self, webhook_id: i64) -> Result<Option<DeliveryTarget>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let Some(hook) = store::webhook_by_id(&mut conn, webhook_id).await.map_err(db)? else { return Ok(None) };
        let secret =
            self.sealer.open(&hook.sealed_secret).map_err(|_| "the secret does not open with this server's key; set a new one".to_string());
        Ok(Some(DeliveryTarget { namespace: hook.namespace, name: hook.name, url: hook.url, secret }))
    }

    /// Records attempts, each `(delivery, outcome, retry_in)`, in one transaction and moves each
    /// delivery on: delivered, failed for good after `max_attempts`, or pending again `retry_in`
    /// from now. Returns the new states in order.
    pub async fn record_delivery_attempts(
        &self,
        attempts: Vec<(QueuedDelivery, AttemptOutcome, Duration)>,
        max_attempts: i64,
    ) -> Result<Vec<DeliveryState>, ApiError> {
        let m = crate::metrics::metrics();
        let time = self.clock_now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut rows = Vec::with_capacity(attempts.len());
        for (delivery, outcome, retry_in) in attempts {
            let number = delivery.attempts + 1;
            let state = match state_after_attempt(number, max_attempts, outcome.error.is_none()) {
                DeliveryState::Pending if outcome.permanent => DeliveryState::Failed,
                state => state,
            };
            let label = match state {
                DeliveryState::Delivered => "delivered",
                DeliveryState::Pending => "retry",
                DeliveryState::Failed => "failed",
            };
            let outcome_label = crate::metrics::OutcomeLabels { outcome: label.to_string() };
            m.webhook_deliveries.get_or_create(&outcome_label).inc();
            m.webhook_duration.get_or_create(&outcome_label).observe(outcome.latency.as_secs_f64());
            let next = match state {
                DeliveryState::Pending => self.now_ms().saturating_add(i64::try_from(retry_in.as_millis()).unwrap_or(i64::MAX)),
                DeliveryState::Delivered | DeliveryState::Failed => 0,
            };
            let row = AttemptRow {
                delivery_id: delivery.id,
                attempt: number,
                time: time.clone(),
                status_code: outcome.status_code.map(i64::from),
                latency_ms: i64::try_from(outcome.latency.as_millis()).unwrap_or(i64::MAX),
                error: outcome.error,
            };
            rows.push((row, state, next));
        }
        // With the writes beside it in one group commit: a receiver that keeps up records a
        // run of one or two deliveries after each write, a transaction of its own each time.
        let states: Vec<DeliveryState> = rows.iter().map(|(_, state, _)| *state).collect();
        let (recorded, done) = tokio::sync::oneshot::channel();
        self.store.group_write(Box::new(AttemptsWrite { rows, failed: None, recorded }));
        done.await.map_err(|_| ApiError::internal("recording the attempts was dropped"))?.map_err(ApiError::internal)?;
        let n = states.len() as u64;
        self.delivery_attempts.send_modify(|c| *c += n);
        Ok(states)
    }

    /// Keeps the newest `keep` finished deliveries of every subscription.
    pub async fn trim_delivery_log(&self, keep: i64) -> Result<u64, ApiError> {
        let mut tx = self.store.begin().await.map_err(db)?;
        let n = store::trim_deliveries(&mut tx, keep).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }

    /// Resolves when a commit may have queued deliveries (or `wake_deliveries` was called).
    pub async fn deliveries_queued(&self) {
        self.delivery_wakeup.notified().await
    }

    /// Wakes the webhook dispatcher: deliveries may be due (after a commit, or after a test
    /// moved the clock).
    pub fn wake_deliveries(&self) {
        self.delivery_wakeup.notify_one();
    }

    /// Changes with every recorded delivery attempt: what a test awaits instead of polling.
    pub fn delivery_attempts(&self) -> tokio::sync::watch::Receiver<u64> {
        self.delivery_attempts.subscribe()
    }

    /// When the earliest queued delivery is due (service clock, ms), if any is queued.
    pub async fn next_delivery_due_ms(&self) -> Result<Option<i64>, ApiError> {
        Ok(self.queued_deliveries().await?.iter().map(|d| d.due_ms).min())
    }

    /// Says the service clock was moved by hand (tests): timers that wait on it (the
    /// dispatcher's retries, watches' bookmarks and expiry checks) look at it again now.
    pub fn clock_moved(&self) {
        self.clock_moves.send_modify(|n| *n += 1);
        self.wake_deliveries();
    }

    /// Changes whenever `clock_moved` is called.
    pub(crate) fn clock_moves(&self) -> tokio::sync::watch::Receiver<u64> {
        self.clock_moves.subscribe()
    }

    /// Whether `host:port` may receive webhooks (`--allowed-webhook-target`; non-public
    /// addresses only when named), checked on its resolved addresses; the reason when not.
    pub async fn check_webhook_target(&self, host: &str, port: u16) -> Result<(), TargetRefused> {
        self.webhook_guard.resolve(host, port).await.map(|_| ()).map_err(|e| TargetRefused {
            // The operator's rules refuse it: retrying sends it nowhere either. A name that does
            // not resolve now may later.
            permanent: matches!(e, crate::egress::EgressError::Refused(_)),
            reason: e.to_string(),
        })
    }

    /// The HTTP client deliveries are sent with: every connection through a guarding egress
    /// proxy of its own (checked again per connection and redirect), no redirects followed,
    /// `timeout` per attempt. The proxy stops when the client is dropped.
    pub async fn webhook_client(&self, timeout: Duration) -> Result<WebhookClient, String> {
        let (proxy, guard) = start_proxy(self.webhook_guard.clone()).await.map_err(|e| format!("the egress proxy could not start: {e}"))?;
        let http = reqwest::Client::builder()
            .proxy(reqwest::Proxy::all(format!("http://{proxy}")).map_err(|e| e.to_string())?)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .user_agent(concat!("imagestreams/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(WebhookClient { http, _proxy: Arc::new(guard) })
    }
}

/// The client of webhook deliveries and the proxy it goes through (stopped with the last clone).
#[derive(Clone)]
pub struct WebhookClient {
    pub http: reqwest::Client,
    _proxy: Arc<ProxyGuard>,
}

impl WebhookClient {
    /// Whether an answer was made by the egress proxy itself (a refusal or a connection
    /// failure), not by the receiver.
    pub fn answered_by_proxy(response: &reqwest::Response) -> bool {
        response.headers().contains_key(PROXY_ANSWER_HEADER)
    }
}

/// Attempts of a run of deliveries as a write of the group commit.
struct AttemptsWrite {
    rows: Vec<(AttemptRow, DeliveryState, i64)>,
    failed: Option<String>,
    recorded: tokio::sync::oneshot::Sender<Result<(), String>>,
}

impl store::GroupedWrite for AttemptsWrite {
    fn apply_locked(&mut self, conn: &store::Locked<'_>, _savepoint: &mut store::Savepoint) -> Option<bool> {
        match store::record_attempts_locked(conn, &self.rows) {
            Ok(()) => Some(true),
            Err(e) => {
                self.failed = Some(e.to_string());
                Some(false)
            }
        }
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let _ = self.recorded.send(committed.and(self.failed.map_or(Ok(()), Err)));
    }
}
