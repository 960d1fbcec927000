//! What the operator sees of a running server: the metrics exposition (with the gauges of
//! stored state read just before it) and the draining state of a graceful shutdown.
//!
//! Must not: record metrics of its own making (the parts that do the work record them).

use super::{Caller, Service, Verb, db};
use crate::metrics::metrics;
use crate::store;
use app::model::ApiError;

impl Service {
    /// The exposition for a caller: server administrators (or the single user of a loopback
    /// server without accounts) only.
    pub async fn metrics_text(&self, caller: &Caller) -> Result<String, ApiError> {
        self.allow(caller, Verb::Get, "metrics", None)?;
        self.refresh_gauges().await?;
        Ok(metrics().encode())
    }

    /// The exposition without a permission check: `--metrics-listen`, an address the operator
    /// chose for it. The gauges of stored state keep their last values if the database fails.
    pub async fn metrics_unauthenticated(&self) -> String {
        if let Err(e) = self.refresh_gauges().await {
            tracing::warn!(error = %e, "reading the gauges for /metrics failed");
        }
        metrics().encode()
    }

    /// Sets the gauges that describe stored state from the database.
    async fn refresh_gauges(&self) -> Result<(), ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let counts = store::operational_counts(&mut conn).await.map_err(db)?;
        let m = metrics();
        m.webhook_outbox.set(counts.outbox_pending);
        m.event_log.set(counts.watch_events);
        m.blob_store_blobs.set(counts.blobs);
        m.blob_store_bytes.set(counts.blob_bytes);
        Ok(())
    }

    /// Starts a graceful shutdown: `/readyz` answers 503 from now on, and every open watch and
    /// live page ends with a BOOKMARK at its position (its resume point).
    pub fn start_draining(&self) {
        self.draining.send_replace(true);
        metrics().draining.set(1);
    }

    /// Whether the server is shutting down.
    pub fn draining(&self) -> bool {
        *self.draining.borrow()
    }

    /// A receiver that turns true when draining starts.
    pub fn draining_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.subscribe()
    }
}
