//! The webhook dispatcher: works off the outbox the service fills, through service methods only
//! (due deliveries, targets, attempts), on the service clock. Per subscription one delivery
//! is in flight at a time, oldest first, so receivers see a subscription's events in order, and
//! a subscription's due deliveries go out back to back and are recorded together (`work_queue`); a
//! failed attempt is retried with exponential backoff and jitter up to a bounded number of
//! attempts, then marked Failed and the queue moves on. Sending happens here, off the request
//! path: a slow or dead receiver only ever holds its own subscription's queue.
//!
//! Each POST goes through the egress guard's proxy (`--allowed-webhook-target`, non-public
//! addresses refused unless named), never follows redirects, and is signed:
//! `X-Imagestreams-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
//! Must not: touch the store or the service's fields; keep a subscription waiting on another;
//! store a library's error text (reqwest's names the whole URL, which is often the receiver's
//! credential): a failure is recorded as one of a few fixed messages (`transport_failure`).

use crate::service::{AttemptOutcome, QueuedDelivery, Service, WebhookClient};
use app::domain::triggers::{DeliveryState, parse_target_url};
use app::model::{DELIVERY_HEADER, SIGNATURE_HEADER};
use hmac::{Hmac, Mac};
use std::collections::HashSet;
use std::time::Duration;
use tokio::task::JoinHandle;

/// `serve --webhook-*` settings.
#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Per attempt, connect to last byte.
    pub timeout: Duration,
    pub max_attempts: i64,
    /// The first retry waits about this long; each further one twice as long.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Subscriptions delivering at the same time.
    pub concurrency: usize,
    /// Finished deliveries kept per subscription in the log.
    pub keep_log: i64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            concurrency: 32,
            keep_log: 200,
        }
    }
}

/// Owns the dispatcher task; dropping it stops deliveries (the outbox keeps what is queued).
pub struct DispatcherHandle(JoinHandle<()>);

impl DispatcherHandle {
    /// Waits (at most `limit`) for the dispatcher to end by itself: once the service drains it
    /// starts no attempt and ends when those in flight are recorded. An attempt still running at
    /// the limit is cut when the handle drops; it was not recorded, so its delivery stays queued
    /// and is sent again after the restart (same event id).
    pub async fn finish(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, &mut self.0).await.is_ok()
    }
}

impl Drop for DispatcherHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The signature header value for `body` sent at `t` (unix seconds).
pub fn signature(secret: &[u8], t: i64, body: &str) -> String {
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The wait before retry number `attempt + 1`: base·2^(attempt-1), capped, with "equal jitter"
/// (half fixed, half random) so receivers that come back are not hit by every sender at once.
pub fn backoff(cfg: &DeliveryConfig, attempt: i64) -> Duration {
    let exp = cfg.backoff_base.saturating_mul(1u32 << (attempt - 1).clamp(0, 20) as u32).min(cfg.backoff_max);
    let half = exp / 2;
    let mut r = [0u8; 4];
    let _ = getrandom::fill(&mut r);
    half + half.mul_f64(f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX))
}

/// Starts the dispatcher.
pub fn start(service: Service, cfg: DeliveryConfig) -> DispatcherHandle {
    DispatcherHandle(tokio::spawn(run(service, cfg)))
}

async fn run(service: Service, cfg: DeliveryConfig) {
    let client = match service.webhook_client(cfg.timeout).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the webhook dispatcher could not start; deliveries stay queued");
            return;
        }
    };
    // (subscription, attempts recorded) when a subscription's turn ends.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, usize)>();
    let mut recorded_since_trim = 0usize;
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut last_trim = tokio::time::Instant::now();
    let mut draining = service.draining_signal();
    loop {
        if *draining.borrow() {
            // Shutting down: nothing new; the attempts in flight finish and are recorded.
            while !in_flight.is_empty() {
                match done_rx.recv().await {
                    Some((webhook, _)) => in_flight.remove(&webhook),
                    None => break,
                };
            }
            return;
        }
        let now = service.now_ms();
        let heads = service.queued_deliveries().await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "reading the webhook outbox failed");
            vec![]
        });
        let mut next_due: Option<i64> = None;
        for d in heads {
            if in_flight.contains(&d.webhook_id) {
                continue;
            }
            if d.due_ms > now || in_flight.len() >= cfg.concurrency {
                next_due = Some(next_due.map_or(d.due_ms, |n: i64| n.min(d.due_ms)));
                continue;
            }
            in_flight.insert(d.webhook_id);
            let (service, client, cfg, done) = (service.clone(), client.clone(), cfg.clone(), done_tx.clone());
            tokio::spawn(async move {
                let recorded = work_queue(&service, &client, &cfg, d.webhook_id).await;
                let _ = done.send((d.webhook_id, recorded));
            });
        }
        // Once a minute, or sooner after a burst: a log of thousands of finished deliveries
        // (each its whole CloudEvent) would otherwise sit on disk until the minute is up.
        if last_trim.elapsed() > Duration::from_secs(60) || recorded_since_trim >= TRIM_AFTER {
            last_trim = tokio::time::Instant::now();
            recorded_since_trim = 0;
            if let Err(e) = service.trim_delivery_log(cfg.keep_log).await {
                tracing::warn!(error = %e, "trimming the webhook delivery log failed");
            }
        }
        // The clock may be a test's, moved by hand: whoever moves it wakes us, and a real clock
        // is re-read at least once a minute.
        let wait = next_due.map_or(Duration::from_secs(60), |t| Duration::from_millis((t - now).clamp(1, 60_000) as u64));
        tokio::select! {
            _ = service.deliveries_queued() => {}
            Some((webhook, n)) = done_rx.recv() => { in_flight.remove(&webhook); recorded_since_trim += n; }
            _ = tokio::time::sleep(wait) => {}
            _ = draining.changed() => {}
        }
        while let Ok((webhook, n)) = done_rx.try_recv() {
            in_flight.remove(&webhook);
            recorded_since_trim += n;
        }
    }
}

/// Why an attempt failed, and whether retrying could change it (`AttemptOutcome::permanent`).
type Failure = (String, bool);

/// What one POST came to: the status code if the receiver answered, and a failure otherwise
/// (or for a non-2xx answer).
async fn send(service: &Service, client: &WebhookClient, url: &str, secret: &[u8], d: &QueuedDelivery) -> (Option<u16>, Option<Failure>) {
    // The guard answers first with a clear reason; the proxy enforces it again per connection.
    let (_, host, port) = match parse_target_url(url) {
        Ok(t) => t,
        Err(m) => return (None, Some((format!("the target URL {m}"), true))),
    };
    if let Err(refused) = service.check_webhook_target(&host, port).await {
        return (None, Some((refused.reason, refused.permanent)));
    }
    // Real time, not the service clock: the receiver checks it against its own clock to refuse
    // replays, and nothing stores it.
    let t = chrono::Utc::now().timestamp();
    let sent = client
        .http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/cloudevents+json; charset=utf-8")
        .header(SIGNATURE_HEADER, signature(secret, t, &d.payload))
        .header(DELIVERY_HEADER, d.id.to_string())
        .body(d.payload.clone())
        .send()
        .await;
    match sent {
        // The proxy checks again per connection (a name may resolve elsewhere by then): kept
        // as a failure that may pass.
        Ok(resp) if WebhookClient::answered_by_proxy(&resp) => (None, Some((proxy_answer(resp, &host, port).await, false))),
        Ok(resp) if resp.status().is_success() => (Some(resp.status().as_u16()), None),
        Ok(resp) => {
            let code = resp.status().as_u16();
            let reason = resp.status().canonical_reason().unwrap_or("");
            (Some(code), Some((format!("the receiver answered {code} {reason}").trim_end().to_string(), false)))
        }
        // Without the URL, so not even a debug print of it can carry the receiver's credential.
        Err(e) => (None, Some((transport_failure(&e.without_url(), &host, port), false))),
    }
}

/// The most bytes of the egress proxy's own answer kept (it names only host and port).
const MAX_PROXY_TEXT: usize = 300;

/// The egress proxy's refusal or connection failure. Its text is the proxy's own (host and
/// port, never the path), but it travels in a response a receiver could imitate, so it is kept
/// only if it names nothing but the target's host and port, and cut short.
async fn proxy_answer(resp: reqwest::Response, host: &str, port: u16) -> String {
    let fallback = format!("the egress proxy refused the connection to {host}:{port}");
    let Ok(text) = resp.text().await else { return fallback };
    if text.len() > MAX_PROXY_TEXT || text.contains('/') || text.contains('?') {
        return fallback;
    }
    text
}

/// A fixed description of a failed send: the kind of failure and where (host and port, which
/// readers may see), never the library's text, which carries the whole URL.
pub fn transport_failure(e: &reqwest::Error, host: &str, port: u16) -> String {
    let hyper = source_chain(e).find_map(|s| s.downcast_ref::<hyper::Error>());
    if e.is_timeout() || hyper.is_some_and(hyper::Error::is_timeout) {
        return "the receiver did not answer in time".into();
    }
    let kind = if e.is_connect() {
        "could not connect (refused, unreachable, or the TLS handshake failed)"
    } else if hyper.is_some_and(hyper::Error::is_parse_too_large) {
        "the receiver's answer was too large (too many or too long headers)"
    } else if hyper.is_some_and(hyper::Error::is_parse) {
        "the receiver's answer was not valid HTTP"
    } else if hyper.is_some_and(|h| h.is_incomplete_message() || h.is_closed() || h.is_canceled()) {
        "the connection closed before the receiver answered"
    } else if e.is_body() || e.is_decode() {
        "reading the receiver's answer failed"
    } else if e.is_redirect() {
        "the receiver redirected (redirects are not followed)"
    } else if e.is_builder() {
        "the request could not be built (check the URL)"
    } else {
        "sending failed"
    };
    format!("{kind}: {host}:{port}")
}

/// `e` and its sources, outermost first.
fn source_chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |e| e.source())
}

/// Deliveries of one subscription read, sent in order and then recorded together: one read and
/// one write transaction per run instead of per delivery. Under a write load the writer is
/// shared by every request, so a record per delivery let a receiver fall behind the writes
/// for good. A kill between a send and its record sends that delivery again after the restart,
/// with the same event and delivery ids (at least once). 128, not 32: with runs of 32 a single
/// subscription's deliveries (each a POST through the egress proxy, in order) fell behind 2,650
/// writes/s on the write benchmark until the namespace's pending quota refused 33–81 of 100,000;
/// with 128 the record's wait for the group commit is spread over four times the sends, and
/// every delivery arrived as the writes did (`scripts/bench-writes.sh`).
const RUN: i64 = 128;
/// Attempts recorded after which the delivery log is trimmed without waiting for its minute.
const TRIM_AFTER: usize = 5000;
/// Runs of one subscription sent before its slot goes back to the loop, so with more
/// subscriptions than `concurrency` a long queue does not keep the others waiting.
const RUNS_PER_TURN: usize = 4;

/// Works off subscription `webhook_id`'s queue, oldest first, in runs of due deliveries sent back
/// to back. It stops at a failed attempt (the retry waits its backoff, and nothing after it
/// goes first), a delivery not yet due, the end of the queue, a drain, or after
/// `RUNS_PER_TURN` runs; the loop picks the queue up from there.
/// Returns how many attempts it recorded.
async fn work_queue(service: &Service, client: &WebhookClient, cfg: &DeliveryConfig, webhook_id: i64) -> usize {
    use tracing::Instrument;
    let draining = service.draining_signal();
    let mut recorded = 0;
    for _ in 0..RUNS_PER_TURN {
        let run = match service.due_run_of(webhook_id, RUN).await {
            Ok(run) if !run.is_empty() => run,
            _ => return recorded,
        };
        let target = match service.delivery_target(webhook_id).await {
            Ok(Some(t)) => t,
            // Deleted meanwhile (its queue went with it), or the database is away: the loop comes back.
            Ok(None) | Err(_) => return recorded,
        };
        let full = run.len() as i64 == RUN;
        let mut sent = Vec::with_capacity(run.len());
        for d in run {
            // Every line of the attempt names the subscription and the delivery (never the URL:
            // it is often the receiver's credential).
            let span = tracing::info_span!("webhook", namespace = %target.namespace, webhook = %target.name, delivery = d.id, attempt = d.attempts + 1);
            let outcome = send_attempt(service, client, &target, &d).instrument(span.clone()).await;
            let failed = outcome.error.is_some();
            let wait = backoff(cfg, d.attempts + 1);
            sent.push((d, outcome, wait, span));
            if failed || *draining.borrow() {
                break;
            }
        }
        let all_delivered = sent.iter().all(|(_, o, _, _)| o.error.is_none());
        let spans: Vec<_> = sent.iter().map(|(d, o, _, span)| (d.id, o.status_code, o.error.clone(), span.clone())).collect();
        match service.record_delivery_attempts(sent.into_iter().map(|(d, o, w, _)| (d, o, w)).collect(), cfg.max_attempts).await {
            Ok(states) => {
                recorded += states.len();
                for ((_, status_code, error, span), state) in spans.into_iter().zip(states) {
                    let _entered = span.enter();
                    match state {
                        DeliveryState::Failed => tracing::warn!(status_code, error = ?error, "webhook delivery failed for good"),
                        DeliveryState::Pending => {
                            tracing::info!(status_code, error = ?error, "webhook delivery attempt failed; it will be retried")
                        }
                        DeliveryState::Delivered => tracing::info!(status_code, "webhook delivered"),
                    }
                }
            }
            Err(e) => {
                // Not recorded: the run stays queued and is sent again (same ids).
                tracing::error!(error = %e, webhook = %target.name, "recording webhook attempts failed");
                return recorded;
            }
        }
        if !all_delivered || !full || *draining.borrow() {
            return recorded;
        }
    }
    recorded
}

/// One POST of `d` to `target`, timed in real time (a test clock does not move by itself).
async fn send_attempt(
    service: &Service,
    client: &WebhookClient,
    target: &crate::service::DeliveryTarget,
    d: &QueuedDelivery,
) -> AttemptOutcome {
    let started = std::time::Instant::now();
    let (status_code, failure) = match &target.secret {
        Ok(secret) => send(service, client, &target.url, secret, d).await,
        Err(why) => (None, Some((why.clone(), true))),
    };
    let (error, permanent) = failure.map_or((None, false), |(e, p)| (Some(e), p));
    AttemptOutcome { status_code, error, permanent, latency: started.elapsed() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 style check against a value computed independently (python hmac).
        let s = signature(b"0123456789abcdef", 1_700_000_000, "{\"a\":1}");
        assert_eq!(s, "t=1700000000,v1=9eb18f493f8ec135d9eb2dad817c369bb4e9cbfa818657897a7437c1cd8c3a23");
    }

    #[tokio::test]
    async fn transport_failures_never_carry_the_url() {
        // A port nothing listens on: a connect error whose Display names the whole URL.
        let url = "http://127.0.0.1:9/services/T0001/B0002/SLACKSECRET?token=QUERYSECRET";
        let e = reqwest::Client::new().post(url).send().await.unwrap_err();
        assert!(e.to_string().contains("QUERYSECRET"), "the library's text does: {e}");
        let text = transport_failure(&e.without_url(), "127.0.0.1", 9);
        assert!(!text.contains("SECRET") && !text.contains("/services"), "{text}");
        assert!(text.ends_with(": 127.0.0.1:9"), "{text}");
    }

    #[test]
    fn backoff_grows_with_jitter_and_cap() {
        let cfg = DeliveryConfig { backoff_base: Duration::from_secs(2), backoff_max: Duration::from_secs(10), ..Default::default() };
        for (attempt, full) in [(1, 2), (2, 4), (3, 8), (4, 10), (30, 10)] {
            let d = backoff(&cfg, attempt);
            let full = Duration::from_secs(full);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d:?}");
        }
    }
}
