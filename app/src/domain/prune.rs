//! Image pruning (spec §8, `oc adm prune images`) as pure rules: which history items of a
//! stream and which Image objects go, and — for every one of them — the rule that decided it,
//! so a dry run, a real run and the UI's preview all explain themselves.
//!
//! With no pods here, "in use" means (PRODUCT, Pruning): the head of a tag, pulled through the
//! integrated registry within `pulled_within`, or marked to keep (a tag named in the stream's
//! `imagestreams.io/keep-tags` annotation keeps its whole history).
//!
//! Stage 1, per stream (a stream younger than the threshold is skipped whole), per tag, per item
//! at revision `rev` (0 = newest), the first rule that applies decides:
//! 1. younger than `keep_younger_than` → keep;
//! 2. the head (`rev == 0`) → keep ("head of tag");
//! 3. a tag with the keep mark → keep;
//! 4. the Image object is missing → delete;
//! 5. `rev < keep_tag_revisions` → keep ("revision r of n");
//! 6. pulled within `pulled_within` → keep;
//! 7. otherwise delete.
//!
//! Stage 2, images (only when pruning the whole server): an Image is kept when a remaining item
//! names it, when it is a child of a kept manifest list, when `--all=false` and the registry
//! does not manage it, when it is younger than the threshold, or when it was pulled within
//! `pulled_within`; otherwise it is deleted.
//!
//! Must not: read or write storage (the service hands in what it read and applies the result).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The stream annotation naming tags whose history is never pruned (comma-separated).
pub const ANNOTATION_KEEP_TAGS: &str = "imagestreams.io/keep-tags";

/// What a prune is asked to do (the CLI flags of `prune images`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneOptions {
    /// `--keep-tag-revisions` (3): the newest revisions of each tag kept.
    pub keep_tag_revisions: u32,
    /// `--keep-younger-than` (60m), in seconds.
    pub keep_younger_than_seconds: u64,
    /// `--all` (true): also prune images the integrated registry does not manage.
    pub all: bool,
    /// `--namespace`: only the streams of this namespace, and no Image objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `--confirm`: really delete (otherwise a dry run).
    #[serde(default)]
    pub confirm: bool,
    /// Tags whose whole history is kept, as patterns (`*` matches any run of characters):
    /// a team retention policy's "keep tags matching" rule, on top of each stream's keep mark.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keep_tag_patterns: Vec<String>,
    /// Keep what was pulled through the registry within this many seconds; `None`: the
    /// server's `--prune-pulled-within`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled_within_seconds: Option<u64>,
}

impl Default for PruneOptions {
    fn default() -> Self {
        PruneOptions {
            keep_tag_revisions: 3,
            keep_younger_than_seconds: 3600,
            all: true,
            namespace: None,
            confirm: false,
            keep_tag_patterns: vec![],
            pulled_within_seconds: None,
        }
    }
}

/// Whether an item or image stays or goes, and the rule that said so, in words a person reads
/// (`head of tag latest`, `revision 2 of 3 kept`, `younger than 60m`, `pulled 3 days ago`,
/// `kept mark`, `child of a kept index sha256:…`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub keep: bool,
    pub reason: String,
}

impl Decision {
    fn keep(reason: impl Into<String>) -> Self {
        Decision { keep: true, reason: reason.into() }
    }
    fn delete(reason: impl Into<String>) -> Self {
        Decision { keep: false, reason: reason.into() }
    }
}

/// One history item as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub tag: String,
    /// 0 = newest.
    pub revision: usize,
    pub image: String,
    /// Unix seconds.
    pub created: i64,
}

/// What the rules need to know about one stream.
#[derive(Clone, Debug, Default)]
pub struct StreamFacts {
    /// Unix seconds.
    pub created: i64,
    /// Tags with the keep mark.
    pub kept_tags: BTreeSet<String>,
}

/// What the rules need to know about the images.
#[derive(Clone, Debug, Default)]
pub struct ImageFacts {
    /// Unix seconds.
    pub created: i64,
    /// `openshift.io/image.managed=true`.
    pub managed: bool,
    /// Children (a manifest list).
    pub children: Vec<String>,
}

/// `60m`, `3h`, `2d`: a duration as the reasons print it.
pub fn short_duration(seconds: u64) -> String {
    match seconds {
        s if s >= 86_400 && s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        s if s >= 3600 && s.is_multiple_of(3600) => format!("{}h", s / 3600),
        s if s >= 60 && s.is_multiple_of(60) => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// `3 days ago`, `5 hours ago`, `just now`.
pub fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    let (n, unit) = match s {
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 86_400 => (1, "day"),
        s if s >= 2 * 3600 => (s / 3600, "hours"),
        s if s >= 3600 => (1, "hour"),
        s if s >= 120 => (s / 60, "minutes"),
        s if s >= 60 => (1, "minute"),
        _ => return "just now".into(),
    };
    format!("{n} {unit} ago")
}

/// Whether `tag` matches `pattern`, where `*` matches any run of characters (`v1.*`, `*-lts`,
/// `release-*-final`) and everything else matches itself.
pub fn tag_matches(pattern: &str, tag: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == tag;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !tag.starts_with(first) || tag.len() < first.len() + last.len() || !tag.ends_with(last) {
        return false;
    }
    let mut rest = &tag[first.len()..tag.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

/// The tags of the keep-mark annotation.
pub fn kept_tags(annotations: &BTreeMap<String, String>) -> BTreeSet<String> {
    annotations
        .get(ANNOTATION_KEEP_TAGS)
        .map(|v| v.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_string).collect())
        .unwrap_or_default()
}

/// Stage 1 for one stream: a decision per item, in the order given. `image_exists` says whether
/// the Image object of a digest exists; `last_pull` when (unix seconds) the stream last served
/// a digest through the registry.
pub fn decide_items(
    opts: &PruneOptions,
    now: i64,
    pulled_within: Option<u64>,
    stream: &StreamFacts,
    items: &[Item],
    image_exists: impl Fn(&str) -> bool,
    last_pull: impl Fn(&str) -> Option<i64>,
) -> Vec<Decision> {
    let threshold = short_duration(opts.keep_younger_than_seconds);
    let young = |t: i64| now - t < seconds(opts.keep_younger_than_seconds);
    if young(stream.created) {
        return items.iter().map(|_| Decision::keep(format!("stream younger than {threshold}"))).collect();
    }
    items
        .iter()
        .map(|item| {
            if young(item.created) {
                return Decision::keep(format!("younger than {threshold}"));
            }
            if item.revision == 0 {
                return Decision::keep(format!("head of tag {}", item.tag));
            }
            if stream.kept_tags.contains(&item.tag) {
                return Decision::keep("kept mark");
            }
            if let Some(p) = opts.keep_tag_patterns.iter().find(|p| tag_matches(p, &item.tag)) {
                return Decision::keep(format!("tag matches {p}"));
            }
            if !image_exists(&item.image) {
                return Decision::delete("its image is missing");
            }
            if (item.revision as u32) < opts.keep_tag_revisions {
                return Decision::keep(format!("revision {} of {} kept", item.revision + 1, opts.keep_tag_revisions));
            }
            if let (Some(within), Some(at)) = (pulled_within, last_pull(&item.image))
                && now - at < seconds(within)
            {
                return Decision::keep(format!("pulled {}", ago(now - at)));
            }
            Decision::delete(format!("revision {} beyond the newest {}", item.revision + 1, opts.keep_tag_revisions))
        })
        .collect()
}

/// Stage 2 for one image, on its own facts: `remaining` is one place a kept item names it
/// (`ns/stream:tag`), `last_pull` its latest pull in any repository (unix seconds). A deleted
/// image may still be kept as a child of a kept list (`child_of_kept_index`).
pub fn decide_image(
    opts: &PruneOptions,
    now: i64,
    pulled_within: Option<u64>,
    facts: &ImageFacts,
    remaining: Option<&str>,
    last_pull: Option<i64>,
) -> Decision {
    if let Some(place) = remaining {
        return Decision::keep(format!("in the history of {place}"));
    }
    if !opts.all && !facts.managed {
        return Decision::keep("not managed by the integrated registry (--all=false)");
    }
    if now - facts.created < seconds(opts.keep_younger_than_seconds) {
        return Decision::keep(format!("younger than {}", short_duration(opts.keep_younger_than_seconds)));
    }
    if let (Some(within), Some(at)) = (pulled_within, last_pull)
        && now - at < seconds(within)
    {
        return Decision::keep(format!("pulled {}", ago(now - at)));
    }
    Decision::delete("no history item refers to it")
}

/// The decision for an image its own rules would delete but a kept manifest list `parent`
/// names.
pub fn child_of_kept_index(parent: &str) -> Decision {
    Decision::keep(format!("child of a kept index {parent}"))
}

/// The children kept because a kept list names them, each with one such list: `lists` are the
/// manifest lists with whether their own rules keep them and their children. A list kept this
/// way keeps its own children in turn.
pub fn children_of_kept_lists(lists: &BTreeMap<String, (bool, Vec<String>)>) -> BTreeMap<&str, &str> {
    let mut kept_by: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue: Vec<&str> = lists.iter().filter(|(_, (keep, _))| *keep).map(|(d, _)| d.as_str()).collect();
    while let Some(parent) = queue.pop() {
        let Some((_, children)) = lists.get(parent) else { continue };
        for c in children {
            if kept_by.contains_key(c.as_str()) {
                continue;
            }
            kept_by.insert(c.as_str(), parent);
            // A child list its own rules would delete is now kept: its children too.
            if let Some((false, _)) = lists.get(c.as_str()) {
                queue.push(c.as_str());
            }
        }
    }
    kept_by
}

/// Stage 2 over a whole set of images (what the service does a page at a time): a decision per
/// image. `remaining` maps each digest a kept item names to one place that names it
/// (`ns/stream:tag`); `last_pull` is the image's latest pull in any repository.
pub fn decide_images(
    opts: &PruneOptions,
    now: i64,
    pulled_within: Option<u64>,
    images: &BTreeMap<String, ImageFacts>,
    remaining: &BTreeMap<String, String>,
    last_pull: impl Fn(&str) -> Option<i64>,
) -> BTreeMap<String, Decision> {
    let own = |digest: &str, facts: &ImageFacts| {
        decide_image(opts, now, pulled_within, facts, remaining.get(digest).map(String::as_str), last_pull(digest))
    };
    let lists: BTreeMap<String, (bool, Vec<String>)> =
        images.iter().filter(|(_, f)| !f.children.is_empty()).map(|(d, f)| (d.clone(), (own(d, f).keep, f.children.clone()))).collect();
    let kept_by = children_of_kept_lists(&lists);
    images
        .iter()
        .map(|(digest, facts)| {
            let d = own(digest, facts);
            let d = match kept_by.get(digest.as_str()) {
                Some(parent) if !d.keep => child_of_kept_index(parent),
                _ => d,
            };
            (digest.clone(), d)
        })
        .collect()
}

/// What a prune decided (or, in a dry run, would decide): every history item of every stream
/// it looked at and every Image, each with the rule that decided it; the counts as upstream's
/// `Summary:` line gives them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub dry_run: bool,
    #[serde(default)]
    pub streams: Vec<StreamPrune>,
    #[serde(default)]
    pub images: Vec<ImagePrune>,
    pub deleted_items: usize,
    pub updated_streams: usize,
    pub deleted_images: usize,
    /// After a real prune of the whole server, the garbage collection it ran: blobs deleted
    /// from the registry's store and the bytes freed (blobs still within the collector's grace
    /// period are left for a later run).
    #[serde(default)]
    pub deleted_blobs: usize,
    #[serde(default)]
    pub bytes_freed: u64,
    pub summary: String,
}

/// One stream's history items and their decisions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamPrune {
    pub namespace: String,
    pub name: String,
    pub items: Vec<ItemPrune>,
}

impl StreamPrune {
    /// How many items go.
    pub fn deleted(&self) -> usize {
        self.items.iter().filter(|i| !i.decision.keep).count()
    }
}

/// One history item's decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemPrune {
    pub tag: String,
    /// 0 = newest.
    pub revision: usize,
    pub image: String,
    pub created: String,
    pub decision: Decision,
}

/// One Image's decision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePrune {
    pub digest: String,
    pub decision: Decision,
}

/// The `Summary:` line of upstream's report.
pub fn summary_line(images: usize, items: usize, streams: usize) -> String {
    summary_with_blobs(images, items, streams, 0)
}

/// The `Summary:` line with the blobs the registry deleted (upstream's last part).
pub fn summary_with_blobs(images: usize, items: usize, streams: usize, blobs: usize) -> String {
    let mut parts = vec![];
    if images > 0 {
        parts.push(format!("deleted {images} image object(s)"));
    }
    if items > 0 {
        parts.push(format!("deleted {items} image stream tag item(s)"));
    }
    if streams > 0 {
        parts.push(format!("updated {streams} image stream(s)"));
    }
    if blobs > 0 {
        parts.push(format!("deleted {blobs} blob(s)"));
    }
    if parts.is_empty() { "Summary: deleted 0 objects".into() } else { format!("Summary: {}", parts.join(", ")) }
}

/// A window in seconds as a difference of Unix times can be compared with: a window past
/// `i64::MAX` seconds is as good as forever (it must not wrap to a negative one).
fn seconds(window: u64) -> i64 {
    i64::try_from(window).unwrap_or(i64::MAX)
}

/// The validation messages of `prune images` flags (upstream's wording).
pub fn validate(keep_tag_revisions: i64, keep_younger_than_seconds: i64) -> Result<(), String> {
    if keep_younger_than_seconds < 0 {
        return Err("--keep-younger-than must be greater than or equal to 0".into());
    }
    if keep_tag_revisions < 0 {
        return Err("--keep-tag-revisions must be greater than or equal to 0".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000_000_000;
    const DAY: i64 = 86_400;

    fn item(tag: &str, revision: usize, image: &str, age_days: i64) -> Item {
        Item { tag: tag.into(), revision, image: image.into(), created: NOW - age_days * DAY }
    }

    fn decide(opts: &PruneOptions, stream: &StreamFacts, items: &[Item], pulls: &[(&str, i64)]) -> Vec<String> {
        let pulls: BTreeMap<String, i64> = pulls.iter().map(|(d, t)| (d.to_string(), *t)).collect();
        decide_items(opts, NOW, Some(7 * DAY as u64), stream, items, |d| d != "missing", |d| pulls.get(d).copied())
            .into_iter()
            .map(|d| format!("{} {}", if d.keep { "keep" } else { "delete" }, d.reason))
            .collect()
    }

    #[test]
    fn each_item_names_the_rule_that_decided_it() {
        let opts = PruneOptions::default();
        let stream = StreamFacts { created: NOW - 100 * DAY, kept_tags: ["pinned".to_string()].into() };
        let items = [
            item("latest", 0, "a", 30),
            item("latest", 1, "b", 30),
            item("latest", 2, "missing", 30),
            item("latest", 3, "c", 30),
            item("latest", 4, "d", 30),
            item("latest", 5, "e", 0),
            item("pinned", 7, "f", 30),
        ];
        assert_eq!(
            decide(&opts, &stream, &items, &[("d", NOW - 3 * DAY)]),
            vec![
                "keep head of tag latest",
                "keep revision 2 of 3 kept",
                "delete its image is missing",
                "delete revision 4 beyond the newest 3",
                "keep pulled 3 days ago",
                "keep younger than 1h",
                "keep kept mark",
            ]
        );
    }

    #[test]
    fn tag_patterns() {
        for (p, t, m) in [
            ("v1.*", "v1.2", true),
            ("v1.*", "v2.0", false),
            ("*-lts", "3.2-lts", true),
            ("release-*-final", "release-7-final", true),
            ("release-*-final", "release-final", false),
            ("exact", "exact", true),
            ("*", "anything", true),
            ("a*b*c", "a-x-b-y-c", true),
            ("a*b*c", "a-c", false),
        ] {
            assert_eq!(tag_matches(p, t), m, "{p} {t}");
        }
        let opts = PruneOptions { keep_tag_patterns: vec!["v1.*".into()], ..Default::default() };
        let stream = StreamFacts { created: NOW - 100 * DAY, ..Default::default() };
        assert_eq!(decide(&opts, &stream, &[item("v1.0", 5, "x", 30)], &[]), vec!["keep tag matches v1.*"]);
    }

    #[test]
    fn a_young_stream_is_skipped_whole() {
        let opts = PruneOptions { keep_younger_than_seconds: 2 * DAY as u64, ..Default::default() };
        let stream = StreamFacts { created: NOW - DAY, ..Default::default() };
        assert_eq!(decide(&opts, &stream, &[item("t", 9, "x", 30)], &[]), vec!["keep stream younger than 2d"]);
    }

    #[test]
    fn images_are_kept_by_history_children_management_age_and_pulls() {
        let facts = |age: i64, managed: bool, children: &[&str]| ImageFacts {
            created: NOW - age * DAY,
            managed,
            children: children.iter().map(|c| c.to_string()).collect(),
        };
        let images: BTreeMap<String, ImageFacts> = [
            ("list".to_string(), facts(30, true, &["child"])),
            ("child".to_string(), facts(30, true, &[])),
            ("old".to_string(), facts(30, true, &[])),
            ("foreign".to_string(), facts(30, false, &[])),
            ("new".to_string(), facts(0, true, &[])),
            ("pulled".to_string(), facts(30, true, &[])),
        ]
        .into();
        let remaining: BTreeMap<String, String> = [("list".to_string(), "ns/app:latest".to_string())].into();
        let pulls: BTreeMap<&str, i64> = [("pulled", NOW - DAY)].into();
        let opts = PruneOptions { all: false, ..Default::default() };
        let d = decide_images(&opts, NOW, Some(7 * DAY as u64), &images, &remaining, |x| pulls.get(x).copied());
        let said = |k: &str| format!("{} {}", if d[k].keep { "keep" } else { "delete" }, d[k].reason);
        assert_eq!(said("list"), "keep in the history of ns/app:latest");
        assert_eq!(said("child"), "keep child of a kept index list");
        assert_eq!(said("old"), "delete no history item refers to it");
        assert_eq!(said("foreign"), "keep not managed by the integrated registry (--all=false)");
        assert_eq!(said("new"), "keep younger than 1h");
        assert_eq!(said("pulled"), "keep pulled 1 day ago");
    }

    #[test]
    fn summary_and_validation_use_upstream_wording() {
        assert_eq!(summary_line(0, 0, 0), "Summary: deleted 0 objects");
        assert_eq!(
            summary_line(2, 5, 1),
            "Summary: deleted 2 image object(s), deleted 5 image stream tag item(s), updated 1 image stream(s)"
        );
        assert_eq!(validate(-1, 0).unwrap_err(), "--keep-tag-revisions must be greater than or equal to 0");
        assert_eq!(validate(0, -1).unwrap_err(), "--keep-younger-than must be greater than or equal to 0");
        assert_eq!(short_duration(3600), "1h");
        assert_eq!(short_duration(90), "90s");
        assert_eq!(ago(3 * DAY), "3 days ago");
    }
}
