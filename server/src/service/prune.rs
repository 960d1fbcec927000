//! `prune images` (spec §8) at any size: the streams are walked a batch at a time (their history
//! items read with their keys and whether each Image exists), `app::domain::prune` decides
//! every item, and each stream's decisions go out as soon as they are made — into the returned
//! report, or one part at a time to the API's streamed answer — so memory holds a batch, not
//! the server's history. Between the stages only what stage 2 needs is kept: the images kept
//! items name (a 64-bit key and one place naming each), the last pulls (keyed the same way).
//!
//! With `confirm`, the streams of a batch are decided and changed in short write transactions
//! (as many streams as fit in ~100 ms, so other writers wait little): inside one, each stream
//! and its items are read and decided as they are now (a tag moved or a keep mark set a moment
//! ago counts), the items that go are deleted by key, the stream gets a new
//! resourceVersion and its watch event. A prune never removes a head (rule 2), so it moves no
//! tag and queues no webhook delivery. Then, for the whole server, the Images a page at a time:
//! each Image is deleted only if, inside the deleting transaction, no history item names it.
//! Server administrators prune the whole server (history, then Images); a namespace's admins
//! prune its history only (Images may be shared with other namespaces and stay).
//!
//! Must not: hold SQL (`store::prune`) or re-state a rule of `app::domain::prune`.

use super::{Caller, Service, Verb, db};
use crate::store::{self, PruneImage, PruneItem, PruneStream};
use app::domain::prune::{
    Decision, ImageFacts, ImagePrune, Item, ItemPrune, PruneOptions, PruneReport, StreamFacts, StreamPrune, child_of_kept_index,
    children_of_kept_lists, decide_image, decide_items, kept_tags, summary_with_blobs,
};
use app::model::{ANNOTATION_IMAGE_MANAGED, ApiError};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Streams whose history is read (and decided) at once.
const STREAM_BATCH: usize = 128;
/// Images read (and decided) at once.
const IMAGE_PAGE: i64 = 2000;
/// How long one write transaction of a real prune may go on taking further streams or images.
/// Longer transactions write far less: a deleted history item dirties pages of the history's
/// indexes (by image, by time) all over the file, and a page dirtied again in the same
/// transaction is written to the log once. Other writers wait at most about this long; readers
/// never wait (WAL). With the writer's 32 MB page cache (`Store::begin_bulk`), the benchmark's real
/// prune took 50 s at 100 ms, 35 s at 300 ms, 34 s at 500 ms.
const WRITE_SLICE: Duration = Duration::from_millis(300);

/// RFC 3339 → unix seconds (an unreadable time counts as the epoch: old).
fn unix(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).map(|d| d.timestamp()).unwrap_or(0)
}

/// A 64-bit key for a digest (or a repository and digest): what stage 2 remembers instead of
/// the strings. Two digests sharing a key can only keep an image that could go (the real
/// delete checks again in SQL), never delete one that must stay.
fn key(parts: &[&str]) -> u64 {
    let mut h = DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}

/// One part of a prune's answer, in order: progress as it goes, each stream's decisions, then
/// each Image's (digest order).
#[derive(Debug)]
pub enum PrunePart {
    /// `phase` (`history`, `images`): `done` of `total` steps.
    Progress {
        phase: &'static str,
        done: usize,
        total: usize,
    },
    Stream(StreamPrune),
    Image(ImagePrune),
}

/// Where a prune's decisions go.
pub enum PruneOutput<'a> {
    /// Into the returned report (a namespace's retention run, the UI's preview).
    Report,
    /// Sent as they are made (the API's streamed answer); the returned report then carries the
    /// counts and the summary, not the lists. A dry run stops when the receiver is gone; a real
    /// prune goes on.
    Parts(&'a mpsc::Sender<PrunePart>),
}

/// Where a kept item is, by index: the place stage 2 names (`ns/stream:tag`).
#[derive(Clone, Copy)]
struct Place {
    stream: u32,
    tag: u32,
}

/// What stage 2 needs from stage 1 and the pulls, kept small (see the module doc).
struct Memory<'a> {
    streams: &'a [PruneStream],
    /// Tag names, interned.
    tags: Vec<String>,
    tag_ids: HashMap<String, u32>,
    /// Digest key → one place a kept item names it.
    remaining: HashMap<u64, Place>,
    /// (namespace, stream, digest) key → last pull.
    stream_pulls: HashMap<u64, i64>,
    /// Digest key → last pull anywhere.
    any_pull: HashMap<u64, i64>,
}

impl Memory<'_> {
    fn keep_place(&mut self, stream: usize, tag: &str, image: &str) {
        let k = key(&[image]);
        if self.remaining.contains_key(&k) {
            return;
        }
        let tag = match self.tag_ids.get(tag) {
            Some(t) => *t,
            None => {
                let t = self.tags.len() as u32;
                self.tags.push(tag.to_string());
                self.tag_ids.insert(tag.to_string(), t);
                t
            }
        };
        self.remaining.insert(k, Place { stream: stream as u32, tag });
    }

    fn place_of(&self, digest: &str) -> Option<String> {
        let p = self.remaining.get(&key(&[digest]))?;
        let s = &self.streams[p.stream as usize];
        Some(format!("{}/{}:{}", s.namespace, s.name, self.tags[p.tag as usize]))
    }
}

/// A prune under way: its settings, what it remembers, and its counts.
struct Run<'a> {
    opts: &'a PruneOptions,
    now: i64,
    pulled_within: Option<u64>,
    out: PruneOutput<'a>,
    report: PruneReport,
    memory: Memory<'a>,
    /// The receiver of a dry run's parts is gone: nothing more to do.
    abandoned: bool,
}

impl Run<'_> {
    async fn send(&mut self, part: PrunePart) {
        match (&self.out, part) {
            (PruneOutput::Report, PrunePart::Stream(s)) => self.report.streams.push(s),
            (PruneOutput::Report, PrunePart::Image(i)) => self.report.images.push(i),
            (PruneOutput::Report, PrunePart::Progress { .. }) => {}
            (PruneOutput::Parts(tx), part) => {
                if tx.send(part).await.is_err() && !self.opts.confirm {
                    self.abandoned = true;
                }
            }
        }
    }

    /// Decides one stream's items as they are.
    fn decide(&self, s: &PruneStream, items: &[PruneItem]) -> Vec<Decision> {
        let facts = StreamFacts { created: unix(&s.created), kept_tags: kept_tags(&s.annotations.0) };
        let rules: Vec<Item> = with_revisions(items);
        let known: HashSet<&str> = items.iter().filter(|i| i.known).map(|i| i.image.as_str()).collect();
        decide_items(
            self.opts,
            self.now,
            self.pulled_within,
            &facts,
            &rules,
            |d| known.contains(d),
            |d| self.memory.stream_pulls.get(&key(&[&s.namespace, &s.name, d])).copied(),
        )
    }

    /// Counts a stream's final decisions, remembers what its kept items name, and sends it.
    async fn finish(&mut self, index: usize, items: Vec<PruneItem>, decisions: Vec<Decision>) {
        let streams = self.memory.streams;
        let s = &streams[index];
        let mut sp = StreamPrune { namespace: s.namespace.clone(), name: s.name.clone(), items: Vec::with_capacity(items.len()) };
        let mut rev = 0usize;
        let mut last_tag: Option<&str> = None;
        for (item, decision) in items.iter().zip(decisions) {
            rev = if last_tag == Some(item.tag.as_str()) { rev + 1 } else { 0 };
            last_tag = Some(item.tag.as_str());
            if decision.keep {
                self.memory.keep_place(index, &item.tag, &item.image);
            }
            sp.items.push(ItemPrune {
                tag: item.tag.clone(),
                revision: rev,
                image: item.image.clone(),
                created: item.created.clone(),
                decision,
            });
        }
        let deleted = sp.deleted();
        if deleted > 0 {
            self.report.deleted_items += deleted;
            self.report.updated_streams += 1;
        }
        self.send(PrunePart::Stream(sp)).await;
    }
}

impl Service {
    /// Prunes (or, without `confirm`, reports what a prune would do); see the module doc.
    /// The server's "pulled recently" window is `--prune-pulled-within` unless `opts` says.
    pub async fn prune_images(&self, caller: &Caller, opts: &PruneOptions, out: PruneOutput<'_>) -> Result<PruneReport, ApiError> {
        self.may_prune(caller, opts)?;
        let now = self.clock_now().timestamp();
        let pulled_within = opts.pulled_within_seconds.or(self.prune_pulled_within.map(|d| d.as_secs()));
        let ns = opts.namespace.as_deref();
        let mut conn = self.store.read().await.map_err(db)?;
        if let Some(ns) = ns {
            self.require_namespace(&mut conn, ns).await?;
        }
        let streams = store::prune_streams(&mut conn, ns).await.map_err(db)?;
        let pulls = store::last_pulls(&mut conn, None).await.map_err(db)?;
        drop(conn);

        let mut memory = Memory {
            streams: &streams,
            tags: vec![],
            tag_ids: HashMap::new(),
            remaining: HashMap::new(),
            stream_pulls: HashMap::new(),
            any_pull: HashMap::new(),
        };
        for (n, s, d, at) in pulls {
            let at = unix(&at);
            let e = memory.any_pull.entry(key(&[&d])).or_insert(at);
            *e = (*e).max(at);
            memory.stream_pulls.insert(key(&[&n, &s, &d]), at);
        }
        let mut run = Run {
            opts,
            now,
            pulled_within,
            out,
            report: PruneReport { dry_run: !opts.confirm, ..Default::default() },
            memory,
            abandoned: false,
        };

        // A real prune is a bulk write: the writer keeps a larger page cache while it runs.
        let bulk = if opts.confirm { Some(self.store.begin_bulk().await.map_err(db)?) } else { None };
        let ran = async {
            self.prune_history(&mut run).await?;
            if ns.is_none() && !run.abandoned {
                self.prune_image_objects(&mut run).await?;
            }
            Ok::<(), ApiError>(())
        }
        .await;
        if let Some(bulk) = bulk {
            bulk.end().await;
        }
        ran?;
        let mut report = std::mem::take(&mut run.report);
        if opts.confirm && ns.is_none() && report.deleted_images > 0 {
            // What the deleted Images held is now garbage in the blob store (upstream's
            // `--prune-registry`): collect it now rather than at the next scheduled run.
            match self.collect_garbage(caller, super::registry::GcTrigger::Prune, false).await {
                Ok(gc) => {
                    report.deleted_blobs = gc.blobs_deleted.max(0) as usize;
                    report.bytes_freed = gc.bytes_freed.max(0) as u64;
                }
                Err(e) => tracing::warn!(error = %e.status.message, "the garbage collection after a prune failed"),
            }
        }
        report.summary = summary_with_blobs(report.deleted_images, report.deleted_items, report.updated_streams, report.deleted_blobs);
        Ok(report)
    }

    /// Whether the caller may prune what `opts` names: the whole server, server administrators;
    /// one namespace, its admins. (Checked again by `prune_images`; the API asks first so a
    /// streamed answer starts only when the prune will run.)
    pub fn may_prune(&self, caller: &Caller, opts: &PruneOptions) -> Result<(), ApiError> {
        // A dry run changes nothing: it is checked like the prune, but not noted for the audit
        // log as a change.
        let check = |verb: Verb, resource: &str, ns: Option<&str>| {
            if opts.confirm { self.allow(caller, verb, resource, ns) } else { self.authorizer.check(caller, verb, resource, ns) }
        };
        match &opts.namespace {
            Some(ns) => check(Verb::Delete, "imagestreams", Some(ns)),
            None if caller.server_admin() => {
                if opts.confirm {
                    caller.note(Verb::Delete, "images", None);
                }
                Ok(())
            }
            None => Err(ApiError::forbidden(
                "pruning the whole server needs a server administrator; a namespace's admins prune it with --namespace",
            )),
        }
    }

    /// Stage 1: every stream, a batch at a time. A dry run reads the next batch's items while it
    /// decides this one's; a real prune reads and decides each stream inside the transaction
    /// that changes it (a stream that loses nothing is only read there).
    async fn prune_history(&self, run: &mut Run<'_>) -> Result<(), ApiError> {
        let streams = run.memory.streams;
        let total = streams.len();
        let read = |batch: &[PruneStream]| {
            let store = self.store.clone();
            let ids: Vec<i64> = batch.iter().map(|s| s.id).collect();
            tokio::spawn(async move {
                let mut conn = store.read().await?;
                store::prune_items(&mut conn, &ids).await
            })
        };
        let mut batches = streams.chunks(STREAM_BATCH).enumerate().peekable();
        let mut next = match (run.opts.confirm, batches.peek()) {
            (false, Some((_, b))) => Some(read(b)),
            _ => None,
        };
        while let Some((b, batch)) = batches.next() {
            let first = b * STREAM_BATCH;
            let decided: Vec<(Vec<PruneItem>, Vec<Decision>)> = if run.opts.confirm {
                let indexes: Vec<usize> = (first..first + batch.len()).collect();
                self.apply_history(run, &indexes).await?.into_iter().map(|(_, d)| d).collect()
            } else {
                let items = match next.take() {
                    Some(reading) => reading.await.map_err(|e| ApiError::internal(e.to_string()))?.map_err(db)?,
                    None => vec![],
                };
                next = batches.peek().map(|(_, b)| read(b));
                let mut by_stream: HashMap<i64, Vec<PruneItem>> = HashMap::new();
                for i in items {
                    by_stream.entry(i.stream_id).or_default().push(i);
                }
                batch
                    .iter()
                    .map(|s| {
                        let items = by_stream.remove(&s.id).unwrap_or_default();
                        let decisions = run.decide(s, &items);
                        (items, decisions)
                    })
                    .collect()
            };
            for (k, (items, decisions)) in decided.into_iter().enumerate() {
                run.finish(first + k, items, decisions).await;
            }
            if run.abandoned {
                return Ok(());
            }
            run.send(PrunePart::Progress { phase: "history", done: (first + batch.len()).min(total), total }).await;
        }
        Ok(())
    }

    /// Decides and applies the prune to these streams (indexes into the run's streams), as many
    /// per write transaction as fit in `WRITE_SLICE`; returns each stream's items and decisions
    /// as they were applied, in order (a stream deleted meanwhile: none).
    async fn apply_history(&self, run: &Run<'_>, indexes: &[usize]) -> Result<Vec<(usize, (Vec<PruneItem>, Vec<Decision>))>, ApiError> {
        let mut applied = Vec::with_capacity(indexes.len());
        let mut rest = indexes;
        while !rest.is_empty() {
            let started = Instant::now();
            let mut tx = self.store.begin().await.map_err(db)?;
            let mut changed = false;
            let mut taken = 0usize;
            while let Some((&index, tail)) = rest.split_first() {
                if taken > 0 && started.elapsed() >= WRITE_SLICE {
                    break;
                }
                taken += 1;
                rest = tail;
                let id = run.memory.streams[index].id;
                // Read and decided again as it is now.
                let Some(now) = store::prune_streams_by_id(&mut tx, &[id]).await.map_err(db)?.pop() else {
                    applied.push((index, (vec![], vec![])));
                    continue;
                };
                let items = store::prune_items(&mut tx, &[id]).await.map_err(db)?;
                let decisions = run.decide(&now, &items);
                let going: Vec<(&str, i64)> =
                    items.iter().zip(&decisions).filter(|(_, d)| !d.keep).map(|(i, _)| (i.tag.as_str(), i.seq)).collect();
                if !going.is_empty() {
                    store::delete_history_items(&mut tx, id, &going).await.map_err(db)?;
                    let rv = store::next_resource_version(&mut tx).await.map_err(db)?;
                    store::set_stream_version(&mut tx, id, rv).await.map_err(db)?;
                    // The watch event records the change; watchers get the stream as it now is.
                    store::record_event(&mut tx, rv, &now.namespace, &now.name, "MODIFIED", None, &self.now_rfc3339()).await.map_err(db)?;
                    changed = true;
                }
                applied.push((index, (items, decisions)));
            }
            tx.commit().await.map_err(db)?;
            if changed {
                self.announce();
            }
        }
        Ok(applied)
    }

    /// Stage 2 (the whole server): every Image, a page at a time by digest; with `confirm`, the
    /// page's deletions made before its decisions go out.
    async fn prune_image_objects(&self, run: &mut Run<'_>) -> Result<(), ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        let total = store::count_images(&mut conn).await.map_err(db)?.max(0) as usize;
        let children = store::list_children(&mut conn).await.map_err(db)?;
        let list_images = store::prune_list_images(&mut conn).await.map_err(db)?;
        drop(conn);
        // Which children a kept list keeps (lists are few next to images: held whole).
        let mut lists: BTreeMap<String, (bool, Vec<String>)> = BTreeMap::new();
        for i in &list_images {
            let keep = self.decide_own(run, i).keep;
            lists.insert(i.digest.clone(), (keep, vec![]));
        }
        for (list, child) in children {
            if let Some((_, c)) = lists.get_mut(&list) {
                c.push(child);
            }
        }
        let kept_by = children_of_kept_lists(&lists);
        run.send(PrunePart::Progress { phase: "images", done: 0, total }).await;

        let mut after = String::new();
        let mut done = 0usize;
        loop {
            let mut conn = self.store.read().await.map_err(db)?;
            let page = store::prune_images(&mut conn, &after, IMAGE_PAGE).await.map_err(db)?;
            drop(conn);
            let Some(last) = page.last() else { break };
            after = last.digest.clone();
            let mut decided: Vec<ImagePrune> = page
                .iter()
                .map(|i| {
                    let own = self.decide_own(run, i);
                    let decision = match kept_by.get(i.digest.as_str()) {
                        Some(parent) if !own.keep => child_of_kept_index(parent),
                        _ => own,
                    };
                    ImagePrune { digest: i.digest.clone(), decision }
                })
                .collect();
            if run.opts.confirm {
                self.delete_images(&mut decided).await?;
            }
            done += page.len();
            for ip in decided {
                if !ip.decision.keep {
                    run.report.deleted_images += 1;
                }
                run.send(PrunePart::Image(ip)).await;
            }
            if run.abandoned {
                return Ok(());
            }
            run.send(PrunePart::Progress { phase: "images", done, total: total.max(done) }).await;
        }
        Ok(())
    }

    /// An Image's own decision (before the lists that name it).
    fn decide_own(&self, run: &Run<'_>, i: &PruneImage) -> Decision {
        let facts = ImageFacts {
            created: unix(&i.created),
            managed: i.annotations.0.get(ANNOTATION_IMAGE_MANAGED).is_some_and(|v| v == "true"),
            children: vec![],
        };
        let place = run.memory.place_of(&i.digest);
        let pulled = run.memory.any_pull.get(&key(&[&i.digest])).copied();
        decide_image(run.opts, run.now, run.pulled_within, &facts, place.as_deref(), pulled)
    }

    /// Deletes the Images these decisions let go, a few per write transaction; one that a
    /// history item names again (inside the transaction) stays, and its decision says so.
    async fn delete_images(&self, decided: &mut [ImagePrune]) -> Result<(), ApiError> {
        let going: Vec<usize> = (0..decided.len()).filter(|&k| !decided[k].decision.keep).collect();
        let mut next = 0usize;
        while next < going.len() {
            let started = Instant::now();
            let mut tx = self.store.begin().await.map_err(db)?;
            let mut taken = 0usize;
            while next < going.len() && (taken == 0 || started.elapsed() < WRITE_SLICE) {
                let ip = &mut decided[going[next]];
                next += 1;
                taken += 1;
                if !store::delete_unreferenced_image(&mut tx, &ip.digest).await.map_err(db)? {
                    ip.decision = Decision { keep: true, reason: "a history item refers to it again".into() };
                }
            }
            tx.commit().await.map_err(db)?;
        }
        Ok(())
    }
}

/// The rules' view of a stream's items (per tag, newest first): numbered per tag.
fn with_revisions(items: &[PruneItem]) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    let mut last_tag: Option<&str> = None;
    let mut rev = 0usize;
    for i in items {
        rev = if last_tag == Some(i.tag.as_str()) { rev + 1 } else { 0 };
        last_tag = Some(i.tag.as_str());
        out.push(Item { tag: i.tag.clone(), revision: rev, image: i.image.clone(), created: unix(&i.created) });
    }
    out
}
