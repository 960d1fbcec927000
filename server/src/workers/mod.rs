//! Background work of `serve`, beside the service (never under it): the import controller and
//! scheduler (`imports`), webhook delivery off the outbox (`delivery`) and the retention of the
//! event, audit and delivery logs (`maintenance`), the registry's garbage collection (`gc`) and the
//! schedule of team retention policies (`retention_policies`).
//!
//! Every worker is owned by a guard that stops it when dropped, calls only `Service` methods
//! (never `store`, never the service's fields) and takes its time from the service's injected
//! clock, so tests move time by hand instead of sleeping.
//!
//! Must not: hold a rule, name `store` or the service's fields, or read the wall clock for a decision.

pub mod delivery;
pub mod gc;
pub mod imports;
pub mod maintenance;
pub mod retention_policies;

pub use delivery::{DeliveryConfig, DispatcherHandle};
pub use gc::{GcConfig, GcHandle};
pub use imports::{ControllerHandle, ScheduleConfig};
pub use maintenance::{MaintenanceHandle, RetentionConfig};
pub use retention_policies::{RetentionPolicyConfig, RetentionPolicyHandle};

use crate::service::Service;

/// What `serve` starts.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Scheduled re-imports; `None` runs only the import controller.
    pub schedule: Option<ScheduleConfig>,
    pub delivery: DeliveryConfig,
    pub retention: RetentionConfig,
    /// Team retention policies' schedule; `None`: policies run only when asked.
    pub retention_policies: Option<RetentionPolicyConfig>,
    /// Scheduled garbage collection of the blob store; `None`: only on demand.
    pub gc: Option<GcConfig>,
}

/// Owns every background task of `serve`; dropping it stops them all.
pub struct Workers {
    service: Service,
    _imports: ControllerHandle,
    delivery: DispatcherHandle,
    _maintenance: MaintenanceHandle,
    _retention_policies: Option<RetentionPolicyHandle>,
    _gc: Option<GcHandle>,
}

impl Workers {
    /// The service wired to the workers (its writes announce streams to the import controller).
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The end of a graceful shutdown (the service is draining): gives webhook attempts in
    /// flight at most `limit` to finish and be recorded, then stops everything. Imports need no
    /// wait: one cut short has written nothing (it commits once, at its end), and its stream is
    /// found again at the next start.
    pub async fn stop(mut self, limit: std::time::Duration) {
        if !self.delivery.finish(limit).await {
            tracing::warn!("webhook attempts still in flight at the shutdown timeout were cut; they stay queued");
        }
    }
}

/// Starts every worker.
pub fn start(service: Service, cfg: WorkerConfig) -> Workers {
    let (service, imports) = imports::start(service, cfg.schedule);
    let delivery = delivery::start(service.clone(), cfg.delivery);
    let maintenance = maintenance::start(service.clone(), cfg.retention);
    let retention_policies = cfg.retention_policies.map(|c| retention_policies::start(service.clone(), c));
    let gc = cfg.gc.map(|c| gc::start(service.clone(), c));
    Workers { service, _imports: imports, delivery, _maintenance: maintenance, _retention_policies: retention_policies, _gc: gc }
}
