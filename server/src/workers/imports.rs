//! The background import controllers (spec §4.4): one imports DockerImage tags whose spec
//! generation is newer than what was observed, as soon as a write announces the stream; the
//! scheduler re-imports scheduled tags every interval, at a bounded rate. Both go through the
//! service's ImageStreamImport, like any client. The tasks stop when their handle is dropped.
//!
//! The controller imports several streams at once (the server's import limit) and takes them
//! from a fair queue: namespaces in turn, each with at most its share running, so a namespace
//! whose registry tarpits thousands of tags delays only itself.
//!
//! Must not: fetch from registries itself (the service's ImageStreamImport does).

use crate::service::{Caller, Service};
use app::domain::imports::tags_needing_import;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

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

/// A stream by namespace and name, the import queue's shape.
type StreamKey = (String, String);

/// Streams waiting for the controller, per namespace; namespaces take turns.
#[derive(Default)]
struct FairQueue {
    /// Namespaces with waiting streams, in turn order.
    turns: VecDeque<String>,
    waiting: HashMap<String, VecDeque<String>>,
    queued: HashSet<StreamKey>,
    running: HashSet<StreamKey>,
    running_per_namespace: HashMap<String, usize>,
    /// Announced again while being imported: imported once more afterwards (the running
    /// import may have read the stream before the change).
    again: HashSet<StreamKey>,
}

impl FairQueue {
    fn push(&mut self, key: StreamKey) {
        if self.running.contains(&key) {
            self.again.insert(key);
            return;
        }
        if !self.queued.insert(key.clone()) {
            return;
        }
        let (ns, name) = key;
        let waiting = self.waiting.entry(ns.clone()).or_default();
        if waiting.is_empty() {
            self.turns.push_back(ns);
        }
        waiting.push_back(name);
    }

    /// The next stream to import: the first namespace in turn that has fewer than `share`
    /// imports running gives its oldest waiting stream, and goes to the back of the turn.
    fn start_next(&mut self, share: usize) -> Option<StreamKey> {
        for _ in 0..self.turns.len() {
            let ns = self.turns.pop_front()?;
            if self.running_per_namespace.get(&ns).copied().unwrap_or(0) >= share {
                self.turns.push_back(ns);
                continue;
            }
            let waiting = self.waiting.get_mut(&ns)?;
            let name = waiting.pop_front()?;
            if waiting.is_empty() {
                self.waiting.remove(&ns);
            } else {
                self.turns.push_back(ns.clone());
            }
            let key = (ns, name);
            self.queued.remove(&key);
            self.running.insert(key.clone());
            *self.running_per_namespace.entry(key.0.clone()).or_default() += 1;
            return Some(key);
        }
        None
    }

    fn finish(&mut self, key: &StreamKey) {
        self.running.remove(key);
        if let Some(n) = self.running_per_namespace.get_mut(&key.0) {
            *n -= 1;
            if *n == 0 {
                self.running_per_namespace.remove(&key.0);
            }
        }
        if self.again.remove(key) {
            self.push(key.clone());
        }
    }
}

async fn run_imports(service: Service, mut rx: mpsc::UnboundedReceiver<StreamKey>) {
    let (parallel, share) = service.import_limits();
    let mut queue = FairQueue::default();
    // Catch up with what was pending when the server stopped (candidates come from one cheap
    // query; each is checked by the exact rule before anything is fetched).
    match service.import_candidates().await {
        Ok(candidates) => candidates.into_iter().for_each(|c| queue.push(c)),
        Err(e) => tracing::warn!(error = %e, "import controller could not find pending imports"),
    }
    let mut running: JoinSet<()> = JoinSet::new();
    let mut keys: HashMap<tokio::task::Id, StreamKey> = HashMap::new();
    let mut open = true;
    loop {
        while running.len() < parallel
            && let Some(key) = queue.start_next(share)
        {
            let (service, (ns, name)) = (service.clone(), key.clone());
            let task = running.spawn(async move { import_pending(&service, &ns, &name).await });
            keys.insert(task.id(), key);
        }
        tokio::select! {
            announced = rx.recv(), if open => match announced {
                Some(key) => queue.push(key),
                None => open = false,
            },
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => {
                        tracing::warn!(error = %e, "an import task ended abnormally");
                        e.id()
                    }
                };
                if let Some(key) = keys.remove(&id) {
                    queue.finish(&key);
                }
            },
            else => return,
        }
    }
}

/// Imports every tag of the stream that needs it; failures land in tag conditions.
pub async fn import_pending(service: &Service, ns: &str, name: &str) {
    let Ok(stream) = service.get_stream(&Caller::system(), ns, name).await else { return };
    let tags = tags_needing_import(&stream);
    if tags.is_empty() {
        return;
    }
    service.import_stream_tags(ns, name, &stream, &tags).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ns: &str, name: &str) -> StreamKey {
        (ns.to_string(), name.to_string())
    }

    #[test]
    fn namespaces_take_turns_and_keep_to_their_share() {
        let mut q = FairQueue::default();
        for i in 0..5 {
            q.push(key("a", &format!("s{i}")));
        }
        q.push(key("b", "only"));
        // a's first, then b's, although a announced five streams before it.
        assert_eq!(q.start_next(1), Some(key("a", "s0")));
        assert_eq!(q.start_next(1), Some(key("b", "only")));
        // a has its one share running: nothing else starts until it finishes.
        assert_eq!(q.start_next(1), None);
        q.finish(&key("a", "s0"));
        assert_eq!(q.start_next(1), Some(key("a", "s1")));
    }

    #[test]
    fn a_stream_is_queued_once_and_again_after_a_change_while_running() {
        let mut q = FairQueue::default();
        q.push(key("a", "s"));
        q.push(key("a", "s"));
        assert_eq!(q.start_next(2), Some(key("a", "s")));
        assert_eq!(q.start_next(2), None, "queued once");
        q.push(key("a", "s"));
        assert_eq!(q.start_next(2), None, "not twice at the same time");
        q.finish(&key("a", "s"));
        assert_eq!(q.start_next(2), Some(key("a", "s")), "imported again after the change");
    }
}
