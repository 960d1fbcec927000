//! Scheduled garbage collection of the registry's blob store: every `--gc-interval` of the
//! service clock, one `Service::collect_garbage_on_schedule` run (the protocol, and what is
//! spared, is the service's: `service::registry::gc`). A test moves the clock and the worker
//! looks again at once.
//!
//! Must not: decide what is garbage, or read the wall clock for when to run.

use crate::service::Service;
use std::time::Duration;
use tokio::task::JoinHandle;

/// `serve --gc-interval`.
#[derive(Clone, Copy, Debug)]
pub struct GcConfig {
    pub interval: Duration,
}

/// Owns the collection task; dropping it stops it (a run in progress stops between two
/// candidates: each candidate's delete is its own transaction, so nothing is left half done
/// but an object whose row went, which the next upload of that digest rewrites).
pub struct GcHandle(JoinHandle<()>);

impl Drop for GcHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The longest real wait between two looks at the service clock (a clock that jumps without
/// telling, like the system clock after a suspend, is noticed within this).
const LOOK_AGAIN: Duration = Duration::from_secs(60);

/// Starts the scheduled collection: the first run one interval after the start.
pub fn start(service: Service, cfg: GcConfig) -> GcHandle {
    // Read before the task starts: the first run is one interval after `start` returned.
    let interval_ms = cfg.interval.as_millis().min(i64::MAX as u128) as i64;
    let mut moves = service.clock_moves();
    let mut due = service.now_ms().saturating_add(interval_ms);
    GcHandle(tokio::spawn(async move {
        loop {
            let now = service.now_ms();
            if now >= due {
                if let Err(e) = service.collect_garbage_on_schedule().await {
                    tracing::warn!(error = %e, "scheduled garbage collection failed");
                }
                due = service.now_ms().saturating_add(interval_ms);
                continue;
            }
            let wait = Duration::from_millis((due - now) as u64).min(LOOK_AGAIN);
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = moves.changed() => if changed.is_err() { return },
            }
        }
    }))
}
