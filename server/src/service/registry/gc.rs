//! Online garbage collection of the registry's blob store (issue 16 point 5): deletes the
//! manifests and blobs (rows and objects) that nothing live refers to, while pushes and pulls go
//! on — no read-only window — and never a blob that a push is uploading or is about to refer to.
//! It runs on a schedule (`workers::gc`, `--gc-interval`), on demand (`POST
//! /api/v1/registry/garbage-collection`, with a dry run) and after a real prune; each run is
//! recorded (`registry_gc_runs`) and audited.
//!
//! # The protocol
//!
//! **Live.** A *manifest* is live when a history item of any stream names it or an index child
//! of it, a repository holds it by digest (`repository_contents`: pushed by tag or by digest,
//! not deleted), an Image of that digest remains (pruning removes Images; until then the Image
//! may be tagged again and must stay pullable), it was stored less than the grace period ago, or
//! it is a child of a live index. Referrers are held by the repository they were pushed to like
//! any manifest pushed by digest. A *blob* is live when it is a live manifest's bytes or a live
//! manifest refers to it (config, layer), a remaining Image has it as a layer or config (`$.Id`),
//! it was written, re-uploaded or mounted less than the grace period ago (`registry_blobs.stored`
//! and `repository_contents.added` move forward on every such use), a client HEAD or GET it
//! from a repository less than the grace period ago (remembered in memory: a client that learnt
//! "the registry has it" skips the upload and PUTs its manifest next — Quay's `manifest blob
//! unknown` failures were exactly that window), or a write of it is in flight (pinned, below).
//!
//! **Pins.** Every path that writes a blob object or a row that makes a blob wanted holds a pin
//! (a shared lock per digest, `DigestLocks`) from before its first look at the blob's row until
//! its transaction committed: an upload's finish (object write + rows), a mount (check + rows),
//! the mirror of a pull-through (object + row), and a manifest PUT (its own digest and every
//! digest it names, from the "is it in this repository" check through the commit). Collection
//! takes the exclusive lock of one digest at a time *without waiting* (`try_write`): a pinned
//! digest is in use and skipped; a writer arriving while a digest is being collected waits until
//! row and object are both gone, then writes afresh (so an object deleted after its row cannot
//! take a concurrent re-upload's bytes with it).
//!
//! **One run.** (1) Candidates are chosen in one read (`store::gc_manifest_candidates`,
//! `gc_blob_candidates`: the live set as one recursive query). (2) Per manifest candidate,
//! indexes first: one write transaction re-checks every rule on the current state and deletes
//! the record (its references go with it). (3) Per blob candidate: the exclusive lock taken,
//! then (under it) not seen recently, then one write transaction re-checks every rule (conservatively: *any*
//! stored manifest naming the blob keeps it) and deletes the row and the repositories' claims;
//! after the commit the object is deleted, then the lock is released. SQLite has one writer, so
//! each final check and delete is serialised with every push transaction.
//!
//! **Why a push never commits a manifest over a deleted blob** (distribution#2881). A manifest
//! PUT pins its blobs, then checks they are recorded and in the repository, then writes the
//! manifest object, then — in its one transaction — checks again that every blob and child it
//! names is still recorded (`store::first_unrecorded_ref`) before it inserts anything. Either a
//! collection's delete transaction of blob B committed before the push transaction began: then
//! the push sees B missing and answers `MANIFEST_BLOB_UNKNOWN` (the client uploads B again) and
//! commits nothing. Or the push transaction committed first: then B is the reference of a stored
//! manifest and the collection's final check keeps it. No third order exists with one writer.
//! With the pin, the first case cannot even arise after the PUT's first check: the collector
//! cannot lock B while the PUT holds it. The in-transaction check is the proof that does not
//! depend on the pins (it also holds for a collector in another process sharing the database).
//!
//! **What a grace period is for.** Uploads land before the manifest that names them: a blob
//! pushed (or mounted, or confirmed by HEAD) less than `--gc-grace` ago is never collected, so
//! a client has that long between its blob uploads and its manifest PUT. Blobs of a push that
//! never came are reclaimed after it.
//!
//! Must not: decide what is pruned (history items and Images are the prune's), hold SQL (that is
//! `store::registry`), or wait on a pinned digest while holding anything.

use super::{RegistryError, rdb};
use crate::blobs::Digest;
use crate::service::{AuditNote, Caller, Service, Verb, db};
use crate::store::{self, GcRunRow};
use app::model::ApiError;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

/// Digests written or used right now, and recently: the in-memory half of liveness.
#[derive(Default)]
pub(crate) struct DigestLocks {
    /// One lock per digest someone holds or waits for (removed when the last holder leaves).
    locks: Mutex<HashMap<String, Arc<RwLock<()>>>>,
    /// When a client last HEAD or GET a stored blob from a repository (service clock, ms).
    seen: Mutex<HashMap<String, i64>>,
}

/// A shared hold on a digest: collection skips it while any pin exists.
pub(crate) struct Pin {
    guard: Option<OwnedRwLockReadGuard<()>>,
    digest: String,
    locks: Arc<DigestLocks>,
}

/// The collector's exclusive hold on a digest (no pin exists; new pins wait).
struct Exclusive {
    guard: Option<OwnedRwLockWriteGuard<()>>,
    digest: String,
    locks: Arc<DigestLocks>,
}

impl DigestLocks {
    fn lock_of(&self, digest: &str) -> Arc<RwLock<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(digest.to_string()).or_default().clone()
    }

    /// Forgets the lock of `digest` when nobody holds or waits for it (the map's is the last).
    fn release(&self, digest: &str) {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        if locks.get(digest).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(digest);
        }
    }

    /// Pins `digest` (waits only while the collector is deleting that very digest).
    pub(crate) async fn pin(self: &Arc<Self>, digest: &str) -> Pin {
        let guard = self.lock_of(digest).read_owned().await;
        Pin { guard: Some(guard), digest: digest.to_string(), locks: self.clone() }
    }

    /// Pins every digest of `digests` (sorted and deduplicated, so two pushes never hold them
    /// in different orders — not that shared locks could deadlock, but the collector's
    /// try-lock then sees a consistent set).
    pub(crate) async fn pin_all(self: &Arc<Self>, digests: impl IntoIterator<Item = String>) -> Vec<Pin> {
        let mut v: Vec<String> = digests.into_iter().collect();
        v.sort();
        v.dedup();
        let mut pins = Vec::with_capacity(v.len());
        for d in v {
            pins.push(self.pin(&d).await);
        }
        pins
    }

    /// The exclusive hold of `digest`, unless it is pinned.
    fn try_exclusive(self: &Arc<Self>, digest: &str) -> Option<Exclusive> {
        let lock = self.lock_of(digest);
        match lock.try_write_owned() {
            Ok(guard) => Some(Exclusive { guard: Some(guard), digest: digest.to_string(), locks: self.clone() }),
            Err(_) => {
                self.release(digest);
                None
            }
        }
    }

    /// Notes that a client was told a stored blob exists (HEAD, GET). Entries older than
    /// `forget_before_ms` protect nothing; they are dropped when the map grows large (with the
    /// schedule off, no collection would ever drop them).
    pub(crate) fn saw(&self, digest: &str, now_ms: i64, forget_before_ms: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= MAX_SEEN && !seen.contains_key(digest) {
            seen.retain(|_, t| *t >= forget_before_ms);
        }
        seen.insert(digest.to_string(), now_ms);
    }

    /// Whether `digest` was seen at or after `since_ms`.
    fn seen_since(&self, digest: &str, since_ms: i64) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(digest).is_some_and(|t| *t >= since_ms)
    }

    /// Forgets what was seen before `before_ms` (it protects nothing any more).
    fn forget_seen_before(&self, before_ms: i64) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, t| *t >= before_ms);
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.locks.release(&self.digest);
    }
}

impl Drop for Exclusive {
    fn drop(&mut self) {
        drop(self.guard.take());
        self.locks.release(&self.digest);
    }
}

/// Who started a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GcTrigger {
    /// The worker (`--gc-interval`).
    Schedule,
    /// `POST /api/v1/registry/garbage-collection`.
    Api,
    /// After a real prune.
    Prune,
}

impl GcTrigger {
    fn as_str(self) -> &'static str {
        match self {
            GcTrigger::Schedule => "schedule",
            GcTrigger::Api => "api",
            GcTrigger::Prune => "prune",
        }
    }
}

/// One manifest or blob a run deleted (or, dry, would delete).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcItem {
    pub digest: String,
    /// `manifest` (its record) or `blob` (bytes in the store: layers, configs, manifests' bytes).
    pub kind: String,
    pub size: i64,
}

/// What a run did (the API's answer, and the run's record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcReport {
    /// The run's id in the record (0 for a dry run: not recorded).
    pub id: i64,
    pub trigger: GcTrigger,
    pub dry_run: bool,
    pub started: String,
    pub finished: String,
    /// Blobs younger than this (seconds) were spared.
    pub grace_seconds: u64,
    pub manifests_deleted: i64,
    pub blobs_deleted: i64,
    pub bytes_freed: i64,
    /// Candidates of the first read that the final check found in use (a push, a pull, a new
    /// reference since), kept.
    pub kept_in_use: i64,
    /// Objects whose rows went but whose deletion the blob store refused (logged; the bytes
    /// are unreachable and taken again by a later upload of the same digest).
    pub failures: i64,
    /// What went (at most `MAX_LISTED` entries).
    pub deleted: Vec<GcItem>,
}

/// A run of the record (`GET /api/v1/registry/garbage-collection`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GcRun {
    pub id: i64,
    pub trigger: String,
    pub by: Option<String>,
    pub dry_run: bool,
    pub started: String,
    pub finished: String,
    pub manifests_deleted: i64,
    pub blobs_deleted: i64,
    pub bytes_freed: i64,
    pub kept_in_use: i64,
    pub failures: i64,
}

/// Blobs remembered as seen before old ones are dropped (about 100 bytes each).
const MAX_SEEN: usize = 100_000;
/// Entries a report lists (counts are always complete).
const MAX_LISTED: usize = 1000;
/// Runs `gc_runs` shows.
const RUNS_SHOWN: i64 = 100;

/// `imagestreams_maintenance_runs_total{kind="gc"}`.
fn count_gc(report: &Result<GcReport, ApiError>, dry_run: bool) {
    let outcome = match report {
        Err(_) => "failure",
        Ok(_) if dry_run => "dry_run",
        Ok(_) => "success",
    };
    crate::metrics::metrics().run("gc", outcome);
}

impl Service {
    /// A collection asked for by a server administrator (the admin API; the prune command
    /// after a real prune passes `GcTrigger::Prune`).
    pub async fn collect_garbage(&self, caller: &Caller, trigger: GcTrigger, dry_run: bool) -> Result<GcReport, ApiError> {
        let verb = if dry_run { Verb::Get } else { Verb::Delete };
        self.allow(caller, verb, "registry/garbage-collection", None)?;
        let report = self.run_gc(trigger, caller.user.clone(), dry_run).await;
        count_gc(&report, dry_run);
        report
    }

    /// The scheduled collection (the worker).
    pub async fn collect_garbage_on_schedule(&self) -> Result<GcReport, ApiError> {
        let report = self.run_gc(GcTrigger::Schedule, None, false).await;
        count_gc(&report, false);
        report
    }

    /// The recorded runs, newest first (server administrators).
    pub async fn gc_runs(&self, caller: &Caller) -> Result<Vec<GcRun>, ApiError> {
        self.allow(caller, Verb::List, "registry/garbage-collection", None)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let rows = store::gc_runs(&mut conn, RUNS_SHOWN).await.map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|r| GcRun {
                id: r.id,
                trigger: r.trigger,
                by: r.by_user,
                dry_run: r.dry_run,
                started: r.started,
                finished: r.finished,
                manifests_deleted: r.manifests_deleted,
                blobs_deleted: r.blobs_deleted,
                bytes_freed: r.bytes_freed,
                kept_in_use: r.kept_in_use,
                failures: r.failures,
            })
            .collect())
    }

    /// Pins `digest` against collection until the pin is dropped (see the module doc).
    pub(crate) async fn pin_digest(&self, digest: &str) -> Pin {
        self.registry.locks.pin(digest).await
    }

    /// Pins every digest of `digests`.
    pub(crate) async fn pin_digests(&self, digests: impl IntoIterator<Item = String>) -> Vec<Pin> {
        self.registry.locks.pin_all(digests).await
    }

    /// Notes that a client learnt a stored blob exists (it may refer to it next).
    pub(crate) fn saw_blob(&self, digest: &str) {
        let now = self.now_ms();
        let grace = self.registry.config.gc_grace.as_millis().min(i64::MAX as u128) as i64;
        self.registry.locks.saw(digest, now, now.saturating_sub(grace));
    }

    /// One run (see the module doc). Runs never overlap: a second waits for the first.
    async fn run_gc(&self, trigger: GcTrigger, by: Option<String>, dry_run: bool) -> Result<GcReport, ApiError> {
        let _one_at_a_time = self.registry.gc_running.lock().await;
        let grace = self.registry.config.gc_grace;
        let started_at = self.clock_now();
        let started = self.now_rfc3339();
        let cutoff_at = started_at - chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::hours(1));
        // Timestamps are stored to the second: the cutoff is rounded down, so a blob stored in
        // the cutoff's own second counts as young (never the other way round).
        let cutoff = cutoff_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let seen_since = cutoff_at.timestamp_millis();
        let locks = self.registry.locks.clone();
        locks.forget_seen_before(seen_since);

        let (manifests, blobs) = {
            let mut conn = self.store.read().await.map_err(db)?;
            let m = store::gc_manifest_candidates(&mut conn, &cutoff).await.map_err(db)?;
            let b = store::gc_blob_candidates(&mut conn, &cutoff).await.map_err(db)?;
            (m, b)
        };
        let mut report = GcReport {
            id: 0,
            trigger,
            dry_run,
            started,
            finished: String::new(),
            grace_seconds: grace.as_secs(),
            manifests_deleted: 0,
            blobs_deleted: 0,
            bytes_freed: 0,
            kept_in_use: 0,
            failures: 0,
            deleted: vec![],
        };
        fn list(report: &mut GcReport, digest: &str, kind: &str, size: i64) {
            if report.deleted.len() < MAX_LISTED {
                report.deleted.push(GcItem { digest: digest.to_string(), kind: kind.to_string(), size });
            }
        }

        for m in &manifests {
            // A PUT of this manifest (or of an index naming it) holds a pin: in use.
            let Some(hold) = locks.try_exclusive(&m.digest) else {
                report.kept_in_use += 1;
                continue;
            };
            if dry_run {
                report.manifests_deleted += 1;
                list(&mut report, &m.digest, "manifest", m.size);
                continue;
            }
            let mut tx = self.store.begin().await.map_err(db)?;
            let deleted = store::gc_delete_manifest(&mut tx, &m.digest, &cutoff).await.map_err(db)?;
            tx.commit().await.map_err(db)?;
            drop(hold);
            if deleted {
                report.manifests_deleted += 1;
                list(&mut report, &m.digest, "manifest", m.size);
            } else {
                report.kept_in_use += 1;
            }
        }

        for b in &blobs {
            let Ok(digest) = b.digest.parse::<Digest>() else {
                // Rows are written from parsed digests only; one that does not parse names no object.
                tracing::warn!(digest = %super::super::for_log(&b.digest), "a blob row with an invalid digest; skipped");
                continue;
            };
            let Some(hold) = locks.try_exclusive(&b.digest) else {
                report.kept_in_use += 1;
                continue;
            };
            // Asked only now that the digest is held: a HEAD or GET notes "seen" while it holds
            // a pin, so one that answered before this point is seen here, and one after waits
            // for the delete and answers 404 (the client uploads again).
            if locks.seen_since(&b.digest, seen_since) {
                report.kept_in_use += 1;
                continue;
            }
            if dry_run {
                drop(hold);
                report.blobs_deleted += 1;
                report.bytes_freed += b.size;
                list(&mut report, &b.digest, "blob", b.size);
                continue;
            }
            let mut tx = self.store.begin().await.map_err(db)?;
            let freed = store::gc_delete_blob(&mut tx, &b.digest, &cutoff).await.map_err(db)?;
            tx.commit().await.map_err(db)?;
            let Some(size) = freed else {
                report.kept_in_use += 1;
                continue;
            };
            // The row is gone; the object goes while the digest is still held, so no upload of
            // the same digest can write it in between and lose its bytes.
            if let Err(e) = self.registry.config.blobs.delete(&digest).await {
                tracing::error!(digest = %digest, error = %e, "garbage collection could not delete a blob object");
                report.failures += 1;
            }
            drop(hold);
            report.blobs_deleted += 1;
            report.bytes_freed += size;
            list(&mut report, &b.digest, "blob", size);
        }

        report.finished = self.now_rfc3339();
        if !dry_run {
            report.id = self.record_gc_run(&report, by.clone()).await.map_err(|e| {
                tracing::error!(error = %e.message, "the garbage collection run could not be recorded");
                ApiError::internal("the garbage collection ran, but its record could not be written")
            })?;
            let note = AuditNote {
                user: Some(by.clone().unwrap_or_else(|| "system:imagestreams".into())),
                operation: Some(format!(
                    "delete registry blobs: {} manifests, {} blobs, {} bytes freed, {} kept in use",
                    report.manifests_deleted, report.blobs_deleted, report.bytes_freed, report.kept_in_use
                )),
                ..Default::default()
            };
            self.record_request(format!("garbage collection #{} ({})", report.id, trigger.as_str()), note, None, 200).await;
        }
        tracing::info!(
            trigger = trigger.as_str(),
            dry_run,
            manifests = report.manifests_deleted,
            blobs = report.blobs_deleted,
            bytes = report.bytes_freed,
            kept = report.kept_in_use,
            "registry garbage collection"
        );
        Ok(report)
    }

    async fn record_gc_run(&self, r: &GcReport, by: Option<String>) -> Result<i64, RegistryError> {
        let row = GcRunRow {
            id: 0,
            started: r.started.clone(),
            finished: r.finished.clone(),
            trigger: r.trigger.as_str().to_string(),
            by_user: by,
            dry_run: r.dry_run,
            manifests_deleted: r.manifests_deleted,
            blobs_deleted: r.blobs_deleted,
            bytes_freed: r.bytes_freed,
            kept_in_use: r.kept_in_use,
            failures: r.failures,
        };
        let mut tx = self.store.begin().await.map_err(rdb)?;
        let id = store::insert_gc_run(&mut tx, &row).await.map_err(rdb)?;
        tx.commit().await.map_err(rdb)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn pins_keep_the_collector_out_and_leave_nothing_behind() {
        let locks = Arc::new(DigestLocks::default());
        let pin = locks.pin("sha256:a").await;
        assert!(locks.try_exclusive("sha256:a").is_none(), "a pinned digest is in use");
        let other = locks.try_exclusive("sha256:b").expect("an unpinned digest can be taken");
        drop(other);
        drop(pin);
        let held = locks.try_exclusive("sha256:a").expect("free again");
        // A writer arriving now waits until the collector let go.
        let waiting = {
            let locks = locks.clone();
            tokio::spawn(async move { locks.pin("sha256:a").await })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        drop(waiting.await.unwrap());
        assert!(locks.locks.lock().unwrap().is_empty(), "no lock outlives its holders");
    }

    #[test]
    fn what_was_seen_protects_until_forgotten() {
        let locks = DigestLocks::default();
        locks.saw("sha256:a", 1_000, 0);
        assert!(locks.seen_since("sha256:a", 500));
        assert!(!locks.seen_since("sha256:a", 1_001));
        locks.forget_seen_before(2_000);
        assert!(!locks.seen_since("sha256:a", 0));
    }
}
