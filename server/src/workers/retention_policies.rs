//! The schedule of team retention policies: every tick (a minute, or the interval if shorter)
//! it asks the service to run the policies whose `--retention-interval` has passed since their
//! last scheduled run; the service decides what is due by its clock, so tests move the clock
//! and call `Service::retention_pass` instead of sleeping.
//!
//! Not to be confused with `maintenance`, which keeps the server's own logs short.
//!
//! Must not: decide what is due or what a policy removes (the service and `app::domain` do).

use crate::service::Service;
use std::time::Duration;
use tokio::task::JoinHandle;

/// `serve --retention-interval`.
#[derive(Clone, Copy, Debug)]
pub struct RetentionPolicyConfig {
    pub interval: Duration,
}

/// Owns the schedule's task; dropping it stops it.
pub struct RetentionPolicyHandle(JoinHandle<()>);

impl Drop for RetentionPolicyHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the schedule.
pub fn start(service: Service, cfg: RetentionPolicyConfig) -> RetentionPolicyHandle {
    RetentionPolicyHandle(tokio::spawn(async move {
        // The tick only asks; how often a policy runs is the interval, checked on the service clock.
        let mut every = tokio::time::interval(cfg.interval.min(Duration::from_secs(60)).max(Duration::from_secs(1)));
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            match service.retention_pass(cfg.interval).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(policies = n, "scheduled retention runs done"),
                Err(e) => tracing::warn!(error = %e, "the retention schedule's pass failed"),
            }
        }
    }))
}
