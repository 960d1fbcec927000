//! Admission of import requests: at most `global` run at once server-wide, and at most
//! `per_namespace` of one namespace run or wait at once. Both queues are first come, first
//! served (tokio's semaphores are fair), and a namespace holds at most its share of places in
//! the global queue, so one namespace whose registry tarpits cannot take every slot: the
//! others' imports are admitted in turn.
//!
//! Must not: decide what a caller may import, or fetch anything (the service asks for a slot
//! before its lookups and holds it until they are stored).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub struct ImportSlots {
    global: Arc<Semaphore>,
    global_limit: usize,
    per_namespace: usize,
    /// One semaphore per namespace with imports running or waiting (removed when idle).
    namespaces: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// Why no slot was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Busy {
    /// The namespace's share is taken for longer than the caller would wait.
    Namespace { limit: usize },
    /// Every slot of the server is taken for longer than the caller would wait.
    Server { limit: usize },
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Busy::Namespace { limit } => {
                write!(f, "this namespace already runs its share of imports ({limit} at once); try again later")
            }
            Busy::Server { limit } => write!(f, "the server already runs as many imports as it may ({limit} at once); try again later"),
        }
    }
}

/// A running import's place; dropping it admits the next one.
pub struct Slot {
    global: Option<OwnedSemaphorePermit>,
    namespace: Option<OwnedSemaphorePermit>,
    name: String,
    namespaces: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.global.take();
        let mut map = self.namespaces.lock().unwrap_or_else(|p| p.into_inner());
        self.namespace.take();
        forget_if_idle(&mut map, &self.name);
    }
}

/// Drops a namespace's semaphore once nobody holds or awaits it (permits and waiters keep a
/// reference, so only the map's is left).
fn forget_if_idle(map: &mut HashMap<String, Arc<Semaphore>>, name: &str) {
    if map.get(name).is_some_and(|s| Arc::strong_count(s) == 1) {
        map.remove(name);
    }
}

impl ImportSlots {
    pub fn new(global: usize, per_namespace: usize) -> Self {
        let global = global.max(1);
        ImportSlots {
            global: Arc::new(Semaphore::new(global)),
            global_limit: global,
            per_namespace: per_namespace.clamp(1, global),
            namespaces: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Limits: (server-wide, per namespace).
    pub fn limits(&self) -> (usize, usize) {
        (self.global_limit, self.per_namespace)
    }

    /// A slot for an import in `namespace`, waiting at most `wait` (`None`: as long as it takes,
    /// for the server's own controllers, which bound their own concurrency). The namespace's
    /// share is taken first, so a namespace waits for the server's slots with at most its share.
    pub async fn acquire(&self, namespace: &str, wait: Option<Duration>) -> Result<Slot, Busy> {
        let deadline = wait.map(|w| tokio::time::Instant::now() + w);
        let share = self
            .namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(namespace.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_namespace)))
            .clone();
        let permit = until(deadline, share.acquire_owned()).await;
        let Some(permit) = permit else {
            forget_if_idle(&mut self.namespaces.lock().unwrap_or_else(|p| p.into_inner()), namespace);
            return Err(Busy::Namespace { limit: self.per_namespace });
        };
        // From here on the slot's drop gives the share back, whatever happens.
        let mut slot = Slot { global: None, namespace: Some(permit), name: namespace.to_string(), namespaces: self.namespaces.clone() };
        slot.global = Some(until(deadline, self.global.clone().acquire_owned()).await.ok_or(Busy::Server { limit: self.global_limit })?);
        Ok(slot)
    }
}

async fn until<T, E>(deadline: Option<tokio::time::Instant>, f: impl std::future::Future<Output = Result<T, E>>) -> Option<T> {
    match deadline {
        Some(d) => tokio::time::timeout_at(d, f).await.ok()?.ok(),
        None => f.await.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_namespace_gets_its_share_and_no_more() {
        let slots = ImportSlots::new(3, 2);
        let a1 = slots.acquire("a", Some(Duration::ZERO)).await.unwrap();
        let _a2 = slots.acquire("a", Some(Duration::ZERO)).await.unwrap();
        assert_eq!(slots.acquire("a", Some(Duration::from_millis(10))).await.err(), Some(Busy::Namespace { limit: 2 }));
        // Namespace b still gets the server's last slot, then the server is full.
        let _b1 = slots.acquire("b", Some(Duration::ZERO)).await.unwrap();
        assert_eq!(slots.acquire("c", Some(Duration::from_millis(10))).await.err(), Some(Busy::Server { limit: 3 }));
        drop(a1);
        let _c1 = slots.acquire("c", Some(Duration::from_millis(10))).await.unwrap();
    }

    #[tokio::test]
    async fn idle_namespaces_are_forgotten() {
        let slots = ImportSlots::new(2, 1);
        let a = slots.acquire("a", None).await.unwrap();
        assert!(slots.acquire("a", Some(Duration::from_millis(5))).await.is_err());
        drop(a);
        assert!(slots.namespaces.lock().unwrap().is_empty());
    }
}
