//! Retention of the logs: once a minute the watch event log is trimmed (by age and count), and
//! audit entries older than `--audit-max-age` are purged, and expired sign-in sessions are deleted. The webhook delivery log is trimmed by
//! the dispatcher, which knows which deliveries are still queued.
//!
//! Must not: decide what is old by itself (the service asks its clock) or touch the store.

use crate::service::Service;
use std::time::Duration;
use tokio::task::JoinHandle;

/// `serve --watch-event-max-age`, `--watch-event-max-count`, `--audit-max-age`.
#[derive(Clone, Copy, Debug)]
pub struct RetentionConfig {
    pub watch_event_max_age: Duration,
    pub watch_event_max_count: i64,
    pub audit_max_age: Duration,
}

/// Owns the retention task; dropping it stops it.
pub struct MaintenanceHandle(JoinHandle<()>);

impl Drop for MaintenanceHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the retention task.
pub fn start(service: Service, cfg: RetentionConfig) -> MaintenanceHandle {
    MaintenanceHandle(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            run_once(&service, &cfg).await;
        }
    }))
}

/// One retention pass (what the task does every minute).
pub async fn run_once(service: &Service, cfg: &RetentionConfig) {
    if let Err(e) = service.trim_watch_events(cfg.watch_event_max_age, cfg.watch_event_max_count).await {
        tracing::warn!(error = %e, "trimming the watch event log failed");
    }
    if let Err(e) = service.purge_audit(cfg.audit_max_age).await {
        tracing::warn!(error = %e, "purging the audit log failed");
    }
    if let Err(e) = service.purge_expired_sessions().await {
        tracing::warn!(error = %e, "deleting expired sessions failed");
    }
}
