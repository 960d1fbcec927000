//! `prune images` (spec §8): reads every stream's history, the Images and the registry's last
//! pulls once, asks `app::domain::prune` for a decision per item and per Image, and — with
//! `confirm` — applies it: one transaction per stream (the stream read again and decided again
//! inside it, so a tag moved meanwhile is judged as it is now; the change goes out as a watch
//! event and to webhooks like any other), then one per Image (deleted only if, inside that
//! transaction, no history item names it any more). Server administrators prune the whole
//! server (history, then Images); a namespace's admins prune its history only (Images may be
//! shared with other namespaces and stay).
//!
//! Must not: hold SQL (`store::prune`) or re-state a rule of `app::domain::prune`.

use super::{Caller, Service, Verb, db};
use crate::store::{self, PruneItem, PruneStream};
use app::domain::prune::{
    Decision, ImageFacts, ImagePrune, Item, ItemPrune, PruneOptions, PruneReport, StreamFacts, StreamPrune, decide_images, decide_items,
    kept_tags, summary_with_blobs,
};
use app::model::{ANNOTATION_IMAGE_MANAGED, ApiError, ImageStream};
use std::collections::{BTreeMap, HashMap};

/// RFC 3339 → unix seconds (an unreadable time counts as the epoch: old).
fn unix(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t).map(|d| d.timestamp()).unwrap_or(0)
}

/// What the service is told as a prune goes: the phase (`deciding`, `deleting history`,
/// `deleting images`), how many of its steps are done, of how many.
pub type PruneProgress = dyn Fn(&str, usize, usize) + Send + Sync;

impl Service {
    /// Prunes (or, without `confirm`, reports what a prune would do). `pulled_within` is the
    /// server's "pulled recently" window (`--prune-pulled-within`).
    pub async fn prune_images(
        &self,
        caller: &Caller,
        opts: &PruneOptions,
        progress: Option<&PruneProgress>,
    ) -> Result<PruneReport, ApiError> {
        self.may_prune(caller, opts)?;
        let now = self.clock_now().timestamp();
        let pulled_within = opts.pulled_within_seconds.or(self.prune_pulled_within.map(|d| d.as_secs()));
        let ns = opts.namespace.as_deref();
        let mut conn = self.store.read().await.map_err(db)?;
        let streams = store::prune_streams(&mut conn, ns).await.map_err(db)?;
        let items = store::prune_items(&mut conn, ns).await.map_err(db)?;
        let images = store::prune_images(&mut conn).await.map_err(db)?;
        let children = store::list_children(&mut conn).await.map_err(db)?;
        let pulls = store::last_pulls(&mut conn, None).await.map_err(db)?;
        drop(conn);

        let mut image_facts: BTreeMap<String, ImageFacts> = images
            .into_iter()
            .map(|i| {
                let managed = i.annotations.0.get(ANNOTATION_IMAGE_MANAGED).is_some_and(|v| v == "true");
                (i.digest, ImageFacts { created: unix(&i.created), managed, children: vec![] })
            })
            .collect();
        for (list, child) in children {
            if let Some(f) = image_facts.get_mut(&list) {
                f.children.push(child);
            }
        }
        // Last pull per (namespace, stream, digest) and per digest anywhere.
        let mut stream_pulls: HashMap<(String, String, String), i64> = HashMap::new();
        let mut any_pull: HashMap<String, i64> = HashMap::new();
        for (n, s, d, at) in pulls {
            let at = unix(&at);
            let e = any_pull.entry(d.clone()).or_insert(at);
            *e = (*e).max(at);
            stream_pulls.insert((n, s, d), at);
        }

        let mut by_stream: BTreeMap<i64, Vec<PruneItem>> = BTreeMap::new();
        for i in items {
            by_stream.entry(i.stream_id).or_default().push(i);
        }
        let mut report = PruneReport { dry_run: !opts.confirm, ..Default::default() };
        let mut remaining: BTreeMap<String, String> = BTreeMap::new();
        let total = streams.len();
        for (n, s) in streams.iter().enumerate() {
            let items = with_revisions(by_stream.remove(&s.id).unwrap_or_default());
            let decisions = self.decide_stream(opts, now, pulled_within, s, &items, &image_facts, &stream_pulls);
            let mut sp = StreamPrune { namespace: s.namespace.clone(), name: s.name.clone(), items: vec![] };
            for ((item, created), decision) in items.iter().zip(decisions) {
                if decision.keep {
                    remaining.entry(item.image.clone()).or_insert_with(|| format!("{}/{}:{}", s.namespace, s.name, item.tag));
                }
                sp.items.push(ItemPrune {
                    tag: item.tag.clone(),
                    revision: item.revision,
                    image: item.image.clone(),
                    created: created.clone(),
                    decision,
                });
            }
            if let Some(p) = progress
                && (n + 1).is_multiple_of(500)
            {
                p("deciding", n + 1, total);
            }
            report.streams.push(sp);
        }
        if ns.is_none() {
            let decisions = decide_images(opts, now, pulled_within, &image_facts, &remaining, |d| any_pull.get(d).copied());
            report.images = decisions.into_iter().map(|(digest, decision)| ImagePrune { digest, decision }).collect();
        }
        if let Some(p) = progress {
            p("deciding", total, total);
        }

        if opts.confirm {
            self.apply_prune(opts, now, pulled_within, &streams, &mut report, &image_facts, &stream_pulls, progress).await?;
            if ns.is_none() && report.deleted_images > 0 {
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
        } else {
            report.deleted_items = report.streams.iter().map(StreamPrune::deleted).sum();
            report.updated_streams = report.streams.iter().filter(|s| s.deleted() > 0).count();
            report.deleted_images = report.images.iter().filter(|i| !i.decision.keep).count();
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

    #[allow(clippy::too_many_arguments)]
    fn decide_stream(
        &self,
        opts: &PruneOptions,
        now: i64,
        pulled_within: Option<u64>,
        s: &PruneStream,
        items: &[(Item, String)],
        images: &BTreeMap<String, ImageFacts>,
        pulls: &HashMap<(String, String, String), i64>,
    ) -> Vec<Decision> {
        let facts = StreamFacts { created: unix(&s.created), kept_tags: kept_tags(&s.annotations.0) };
        let only: Vec<Item> = items.iter().map(|(i, _)| i.clone()).collect();
        decide_items(
            opts,
            now,
            pulled_within,
            &facts,
            &only,
            |d| images.contains_key(d),
            |d| pulls.get(&(s.namespace.clone(), s.name.clone(), d.to_string())).copied(),
        )
    }

    /// Applies a decided prune (see the module doc); the report's counts become what was done.
    #[allow(clippy::too_many_arguments)]
    async fn apply_prune(
        &self,
        opts: &PruneOptions,
        now: i64,
        pulled_within: Option<u64>,
        streams: &[PruneStream],
        report: &mut PruneReport,
        images: &BTreeMap<String, ImageFacts>,
        pulls: &HashMap<(String, String, String), i64>,
        progress: Option<&PruneProgress>,
    ) -> Result<(), ApiError> {
        let changing = report.streams.iter().filter(|s| s.deleted() > 0).count();
        let mut done = 0usize;
        for (s, sp) in streams.iter().zip(report.streams.iter_mut()) {
            if sp.deleted() == 0 {
                continue;
            }
            done += 1;
            if let Some(p) = progress
                && done.is_multiple_of(100)
            {
                p("deleting history", done, changing);
            }
            let mut tx = self.store.begin().await.map_err(db)?;
            let Some(old) = store::load_stream(&mut tx, &s.namespace, &s.name).await.map_err(db)? else { continue };
            // Decided again on the stream as it is now.
            let mut items: Vec<(Item, String)> = vec![];
            for list in &old.stream.status.tags {
                for (rev, e) in list.items().iter().enumerate() {
                    items.push((
                        Item { tag: list.tag.clone(), revision: rev, image: e.image.clone(), created: unix(&e.created) },
                        e.created.clone(),
                    ));
                }
            }
            let decisions = self.decide_stream(opts, now, pulled_within, s, &items, images, pulls);
            let mut new: ImageStream = old.stream.clone();
            let mut deleted = 0usize;
            let mut k = 0usize;
            for list in new.status.tags.iter_mut() {
                if let Some(v) = list.items.as_mut() {
                    v.retain(|_| {
                        let keep = decisions.get(k).is_none_or(|d| d.keep);
                        k += 1;
                        if !keep {
                            deleted += 1;
                        }
                        keep
                    });
                }
            }
            new.status.tags.retain(|t| !t.items().is_empty() || !t.conditions.is_empty());
            sp.items = items
                .into_iter()
                .zip(decisions)
                .map(|((i, created), decision)| ItemPrune { tag: i.tag, revision: i.revision, image: i.image, created, decision })
                .collect();
            if deleted == 0 {
                continue;
            }
            let v = store::next_resource_version(&mut tx).await.map_err(db)?;
            new.metadata.resource_version = Some(v.to_string());
            self.save_stream(&mut tx, &old, &new).await?;
            tx.commit().await.map_err(db)?;
            self.announce();
            report.deleted_items += deleted;
            report.updated_streams += 1;
        }
        let going = report.images.iter().filter(|i| !i.decision.keep).count();
        for (n, ip) in report.images.iter_mut().filter(|i| !i.decision.keep).enumerate() {
            if let Some(p) = progress
                && (n + 1).is_multiple_of(100)
            {
                p("deleting images", n + 1, going);
            }
            let mut tx = self.store.begin().await.map_err(db)?;
            if store::delete_unreferenced_image(&mut tx, &ip.digest).await.map_err(db)? {
                tx.commit().await.map_err(db)?;
                report.deleted_images += 1;
            } else {
                ip.decision = Decision { keep: true, reason: "a history item refers to it again".into() };
            }
        }
        Ok(())
    }
}

/// Numbers each stream's items per tag (they come newest first per tag) and keeps their
/// creation time as written.
fn with_revisions(items: Vec<PruneItem>) -> Vec<(Item, String)> {
    let mut out = Vec::with_capacity(items.len());
    let mut last_tag: Option<String> = None;
    let mut rev = 0usize;
    for i in items {
        if last_tag.as_deref() == Some(i.tag.as_str()) {
            rev += 1;
        } else {
            rev = 0;
            last_tag = Some(i.tag.clone());
        }
        let created = unix(&i.created);
        out.push((Item { tag: i.tag, revision: rev, image: i.image, created }, i.created));
    }
    out
}
