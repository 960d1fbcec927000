//! The background import controllers (spec §4.4): one imports DockerImage tags whose spec
//! generation is newer than what was observed, as soon as a write announces the stream; the
//! scheduler re-imports scheduled tags every interval, at a bounded rate. Both go through the
//! service's ImageStreamImport, like any client. The tasks stop when their handle is dropped.
//! Must not: fetch from registries itself (the service's ImageStreamImport does).

use crate::service::{Caller, Service};
use app::domain::imports::{import_requests, tags_needing_import};
use app::model::ImageStreamImport;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Owns the controller tasks; dropping it aborts them.
pub struct ControllerHandle {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for ControllerHandle {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Scheduler settings (`serve --scheduled-import-interval`, `--max-scheduled-imports-per-minute`).
#[derive(Clone, Copy, Debug)]
pub struct ScheduleConfig {
    pub interval: Duration,
    pub max_per_minute: i64,
}

/// Wires the import queue into the service and starts the controller (and, when given, the
/// scheduler). Returns the service to use (it announces writes) and the task guard.
pub fn start(service: Service, schedule: Option<ScheduleConfig>) -> (Service, ControllerHandle) {
    let (tx, rx) = mpsc::unbounded_channel();
    let service = service.with_import_queue(tx);
    let mut tasks = vec![tokio::spawn(run_imports(service.clone(), rx))];
    if let Some(cfg) = schedule {
        tasks.push(tokio::spawn(run_scheduler(service.clone(), cfg)));
    }
    (service, ControllerHandle { tasks })
}

async fn run_imports(service: Service, mut rx: mpsc::UnboundedReceiver<(String, String)>) {
    // Catch up with what was pending when the server stopped (candidates come from one cheap
    // query; each is checked by the exact rule before anything is fetched).
    match service.import_candidates().await {
        Ok(candidates) => {
            for (ns, name) in candidates {
                import_pending(&service, &ns, &name).await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "import controller could not find pending imports"),
    }
    while let Some((ns, name)) = rx.recv().await {
        import_pending(&service, &ns, &name).await;
    }
}

/// Imports every tag of the stream that needs it; failures land in tag conditions.
pub async fn import_pending(service: &Service, ns: &str, name: &str) {
    let Ok(stream) = service.get_stream(&Caller::system(), ns, name).await else { return };
    let tags = tags_needing_import(&stream);
    if tags.is_empty() {
        return;
    }
    let mut isi = ImageStreamImport::new(ns, name, true);
    isi.spec.images = import_requests(&stream, &tags);
    if let Err(e) = service.import_images(&Caller::system(), ns, isi).await {
        tracing::warn!(namespace = ns, stream = name, error = %e, "background import failed");
    }
}

async fn run_scheduler(service: Service, cfg: ScheduleConfig) {
    let tick = cfg.interval.min(Duration::from_secs(60));
    let per_tick = ((cfg.max_per_minute as f64) * tick.as_secs_f64() / 60.0).ceil().max(1.0) as i64;
    let mut timer = tokio::time::interval(tick);
    loop {
        timer.tick().await;
        if let Err(e) = service.scheduled_import_pass(cfg.interval, per_tick).await {
            tracing::warn!(error = %e, "scheduled import pass failed");
        }
    }
}
