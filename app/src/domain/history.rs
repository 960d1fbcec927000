//! Tag history: the merge rule for a new event (spec §3.7) and tracking aliases (spec §3.4 with
//! PRODUCT differences 3 and 4: chains propagate deterministically, cycles are rejected, and
//! creating an alias never rewrites the source's head).
//!
//! Must not: do I/O or read the clock (event times are handed in by the caller).

use crate::model::{FieldError, ImageStream, KIND_IMAGE_STREAM_TAG, TagEvent};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Merges `next` into the history of `tag`. Returns whether anything changed.
/// Only the head is compared, so A→B→A yields `[A, B, A]`.
pub fn add_tag_event(stream: &mut ImageStream, tag: &str, next: TagEvent) -> bool {
    let list = stream.status_tag_entry(tag);
    let items = list.items.get_or_insert_with(Vec::new);
    let Some(head) = items.first_mut() else {
        *items = vec![next];
        list.conditions.clear();
        return true;
    };
    let same_ref = head.docker_image_reference == next.docker_image_reference;
    let same_image = head.image == next.image;
    match (same_ref, same_image) {
        (true, true) if head.generation == next.generation => false,
        (true, true) => {
            head.generation = next.generation;
            list.conditions.clear();
            true
        }
        (true, false) => {
            head.image = next.image;
            head.generation = next.generation;
            true
        }
        (false, true) => {
            head.docker_image_reference = next.docker_image_reference;
            head.generation = next.generation;
            true
        }
        (false, false) => {
            items.insert(0, next);
            list.conditions.clear();
            true
        }
    }
}

/// The same-stream tag a spec tag tracks, if it is a tracking tag: `from.kind` ImageStreamTag,
/// `from.name` `<tag>` or `<this stream>:<tag>`, namespace empty or this one.
pub fn tracked_tag<'a>(stream: &ImageStream, from: Option<&'a crate::model::ObjectReference>) -> Option<&'a str> {
    let from = from?;
    if from.kind != KIND_IMAGE_STREAM_TAG || (!from.namespace.is_empty() && from.namespace != stream.namespace()) {
        return None;
    }
    match from.name.split_once(':') {
        None => Some(from.name.as_str()),
        Some((s, t)) if s == stream.metadata.name && !t.contains(':') => Some(t),
        _ => None,
    }
}

/// Same-stream aliases folded into the tag they finally resolve to, as `describe` shows them:
/// target → its aliases, and the set of folded alias names. A chain that ends in another alias
/// (a cycle) folds nothing.
pub fn fold_aliases(stream: &ImageStream) -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut folded: BTreeSet<String> = BTreeSet::new();
    let edges = alias_edges(stream);
    let ends = chain_ends(stream, &edges);
    for t in &stream.spec.tags {
        if let Some(Some(target)) = ends.get(t.name.as_str()) {
            aliases.entry(target.to_string()).or_default().push(t.name.clone());
            folded.insert(t.name.clone());
        }
    }
    (aliases, folded)
}

/// For every alias, the tag its chain of aliases ends at when that is a spec tag tracking
/// nothing; `None` when the chain closes a cycle or ends at a tag the spec lacks. Each tag is
/// walked once (the ends found are kept): a walk from every alias to its chain's end was
/// quadratic in a chain's length, and with a search of the spec at every step, cubic.
fn chain_ends<'a>(stream: &'a ImageStream, edges: &'a BTreeMap<String, String>) -> BTreeMap<&'a str, Option<&'a str>> {
    let spec: BTreeSet<&str> = stream.spec.tags.iter().map(|t| t.name.as_str()).collect();
    let mut ends: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for start in edges.keys() {
        let mut path: Vec<&str> = vec![];
        let mut on_path: BTreeSet<&str> = BTreeSet::new();
        let mut cur = start.as_str();
        let end = loop {
            if let Some(known) = ends.get(cur) {
                break *known;
            }
            let Some(next) = edges.get(cur) else { break spec.contains(cur).then_some(cur) };
            if !on_path.insert(cur) {
                break None;
            }
            path.push(cur);
            cur = next;
        };
        for alias in path {
            ends.insert(alias, end);
        }
    }
    ends
}

/// Alias edges `alias → tracked tag` of the stream's spec, sorted by alias.
fn alias_edges(stream: &ImageStream) -> BTreeMap<String, String> {
    stream.spec.tags.iter().filter_map(|t| tracked_tag(stream, t.from.as_ref()).map(|src| (t.name.clone(), src.to_string()))).collect()
}

/// Rejects alias cycles (`a → b → a`, `a → a`) with 422 field errors (PRODUCT difference 3).
/// Each cycle is reported once, at its alphabetically first member, written from where the
/// walk from the alphabetically first alias that reaches it enters it.
///
/// Each tag tracks at most one other, so a walk from a tag either reaches a tag an earlier
/// walk went through (nothing new past it) or closes a cycle on its own path: every tag is
/// walked once. (A walk from every tag, searching its path at every step, was cubic in a
/// chain's length: a chain of a few thousand aliases held a worker thread for minutes.)
pub fn validate_alias_cycles(stream: &ImageStream) -> Vec<FieldError> {
    let edges = alias_edges(stream);
    let mut walked: BTreeSet<&str> = BTreeSet::new();
    let mut errs = vec![];
    for start in edges.keys() {
        let mut path: Vec<&str> = vec![];
        let mut position: BTreeMap<&str, usize> = BTreeMap::new();
        let mut cur = start.as_str();
        while !walked.contains(cur) {
            if let Some(&pos) = position.get(cur) {
                let cycle: Vec<&str> = path[pos..].iter().copied().chain([cur]).collect();
                let key = path[pos..].iter().min().copied().unwrap_or_default();
                if let Some(t) = stream.spec_tag(key) {
                    let from = t.from.as_ref().map(|f| f.name.clone()).unwrap_or_default();
                    errs.push(FieldError::invalid(
                        format!("spec.tags[{key}].from.name"),
                        &from,
                        format!("tracking tags may not form a cycle: {}", cycle.join(" -> ")),
                    ));
                }
                break;
            }
            position.insert(cur, path.len());
            path.push(cur);
            let Some(next) = edges.get(cur) else { break };
            cur = next;
        }
        walked.extend(path);
    }
    errs
}

/// Propagates the heads of `changed` tags to every tag tracking them, through chains, in a fixed
/// order (breadth first, aliases sorted by name). Returns the tags whose history changed.
/// Requires an acyclic alias graph (see `validate_alias_cycles`); a visited set guards anyway.
pub fn update_tracking_tags(stream: &mut ImageStream, changed: &[String]) -> Vec<String> {
    // Tracked tag → the aliases tracking it, sorted (one pass over the aliases, not one per tag
    // reached).
    let mut trackers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (alias, target) in alias_edges(stream) {
        trackers.entry(target).or_default().push(alias);
    }
    let mut queue: VecDeque<String> = changed.iter().cloned().collect();
    let mut visited: BTreeSet<String> = changed.iter().cloned().collect();
    let mut updated = vec![];
    while let Some(source) = queue.pop_front() {
        let Some(head) = stream.head(&source).cloned() else { continue };
        for alias in trackers.get(&source).into_iter().flatten() {
            if alias == &source || visited.contains(alias) {
                continue;
            }
            visited.insert(alias.clone());
            if add_tag_event(stream, alias, head.clone()) {
                updated.push(alias.clone());
            }
            queue.push_back(alias.clone());
        }
    }
    updated
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ObjectReference, TagReference};
    use proptest::prelude::*;

    fn ev(r: &str, i: &str, g: i64) -> TagEvent {
        TagEvent { created: "2025-01-01T00:00:00Z".into(), docker_image_reference: r.into(), image: i.into(), generation: g }
    }

    fn items(s: &ImageStream, t: &str) -> Vec<(String, String, i64)> {
        s.status_tag(t)
            .map(|l| l.items().iter().map(|e| (e.docker_image_reference.clone(), e.image.clone(), e.generation)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn merge_rules() {
        let mut s = ImageStream::new("ns", "app");
        assert!(add_tag_event(&mut s, "t", ev("r1", "i1", 1)));
        assert!(!add_tag_event(&mut s, "t", ev("r1", "i1", 1)), "identical event is a no-op");
        assert!(add_tag_event(&mut s, "t", ev("r1", "i1", 2)));
        assert_eq!(items(&s, "t"), vec![("r1".into(), "i1".into(), 2)], "same ref+image: generation only");
        assert!(add_tag_event(&mut s, "t", ev("r1", "i2", 3)));
        assert_eq!(items(&s, "t"), vec![("r1".into(), "i2".into(), 3)], "same ref: image replaced in place");
        assert!(add_tag_event(&mut s, "t", ev("r2", "i2", 4)));
        assert_eq!(items(&s, "t"), vec![("r2".into(), "i2".into(), 4)], "same image: ref replaced in place");
        assert!(add_tag_event(&mut s, "t", ev("r3", "i3", 5)));
        assert!(add_tag_event(&mut s, "t", ev("r2", "i2", 6)));
        assert_eq!(items(&s, "t").len(), 3, "A→B→A keeps three items");
        assert_eq!(items(&s, "t")[0].0, "r2");
        assert_eq!(s.status_tag("t").unwrap().items()[1].created, "2025-01-01T00:00:00Z");
    }

    #[test]
    fn merge_clears_conditions_on_new_item() {
        let mut s = ImageStream::new("ns", "app");
        add_tag_event(&mut s, "t", ev("r1", "i1", 1));
        s.status_tag_entry("t").conditions.push(Default::default());
        add_tag_event(&mut s, "t", ev("r2", "i2", 2));
        assert!(s.status_tag("t").unwrap().conditions.is_empty());
    }

    fn alias(name: &str, target: &str) -> TagReference {
        TagReference {
            name: name.into(),
            from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: target.into(), namespace: String::new() }),
            generation: Some(1),
            ..Default::default()
        }
    }

    #[test]
    fn chains_propagate_and_cycles_are_rejected() {
        let mut s = ImageStream::new("ns", "app");
        s.set_spec_tag(alias("b", "c"));
        s.set_spec_tag(alias("a", "app:b"));
        assert!(validate_alias_cycles(&s).is_empty());
        add_tag_event(&mut s, "c", ev("r", "i", 7));
        let updated = update_tracking_tags(&mut s, &["c".into()]);
        assert_eq!(updated, vec!["b".to_string(), "a".to_string()]);
        assert_eq!(items(&s, "a"), vec![("r".into(), "i".into(), 7)], "alias carries the source event's generation");

        s.set_spec_tag(alias("c", "a"));
        let errs = validate_alias_cycles(&s);
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "spec.tags[a].from.name: Invalid value: \"app:b\": tracking tags may not form a cycle: a -> b -> c -> a"
        );
        let mut selfref = ImageStream::new("ns", "app");
        selfref.set_spec_tag(alias("x", "x"));
        assert_eq!(validate_alias_cycles(&selfref).len(), 1);
    }

    /// The walk from every alias with a search of its path (what `validate_alias_cycles` did
    /// before it walked each tag once), kept as the reference its answers must equal.
    fn reference_cycles(stream: &ImageStream) -> Vec<String> {
        let edges = alias_edges(stream);
        let mut reported = BTreeSet::new();
        let mut errs = vec![];
        for start in edges.keys() {
            let mut path = vec![start.clone()];
            let mut cur = start;
            while let Some(next) = edges.get(cur) {
                if let Some(pos) = path.iter().position(|p| p == next) {
                    let cycle: Vec<String> = path[pos..].iter().cloned().chain([next.clone()]).collect();
                    let key = path[pos..].iter().min().cloned().unwrap_or_default();
                    if reported.insert(key.clone()) {
                        errs.push(format!("{key}: {}", cycle.join(" -> ")));
                    }
                    break;
                }
                path.push(next.clone());
                cur = next;
            }
        }
        errs
    }

    /// What `fold_aliases` did before it kept the ends it found, as the reference.
    fn reference_fold(stream: &ImageStream) -> (BTreeMap<String, Vec<String>>, BTreeSet<String>) {
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut folded = BTreeSet::new();
        for t in &stream.spec.tags {
            let mut target = t.name.clone();
            let mut seen = BTreeSet::from([target.clone()]);
            while let Some(next) = stream.spec_tag(&target).and_then(|s| tracked_tag(stream, s.from.as_ref())) {
                if !seen.insert(next.to_string()) {
                    break;
                }
                target = next.to_string();
            }
            if target != t.name && stream.spec_tag(&target).is_some_and(|s| tracked_tag(stream, s.from.as_ref()).is_none()) {
                aliases.entry(target).or_default().push(t.name.clone());
                folded.insert(t.name.clone());
            }
        }
        (aliases, folded)
    }

    fn cycles_found(stream: &ImageStream) -> Vec<String> {
        validate_alias_cycles(stream)
            .iter()
            .map(|e| {
                let text = e.to_string();
                let key = text.trim_start_matches("spec.tags[").split(']').next().unwrap_or_default().to_string();
                format!("{key}: {}", text.rsplit("form a cycle: ").next().unwrap_or_default())
            })
            .collect()
    }

    proptest! {
        /// On any alias graph of a few tags (each tracking one of them, or nothing, or a tag the
        /// spec lacks), the cycles and the folds are the reference's, in the same order and words.
        #[test]
        fn alias_walks_agree_with_the_reference(targets in proptest::collection::vec(proptest::option::of(0u8..9), 1..8)) {
            let mut s = ImageStream::new("ns", "app");
            for (i, target) in targets.iter().enumerate() {
                let name = format!("t{i}");
                match target {
                    Some(t) => s.set_spec_tag(alias(&name, &format!("t{t}"))),
                    None => s.set_spec_tag(TagReference { name, ..Default::default() }),
                }
            }
            prop_assert_eq!(cycles_found(&s), reference_cycles(&s));
            prop_assert_eq!(fold_aliases(&s), reference_fold(&s));
        }
    }

    /// A chain of thousands of aliases is walked once per tag (the walk from every alias, with
    /// a search of its path at every step, took minutes on such a chain).
    #[test]
    fn long_alias_chains_fold_propagate_and_close_cycles() {
        let n = 5_000;
        let mut s = ImageStream::new("ns", "app");
        s.set_spec_tag(TagReference { name: "root".into(), ..Default::default() });
        for i in 0..n {
            let target = if i == 0 { "root".to_string() } else { format!("a{:05}", i - 1) };
            s.set_spec_tag(alias(&format!("a{i:05}"), &target));
        }
        assert!(validate_alias_cycles(&s).is_empty());
        let (aliases, folded) = fold_aliases(&s);
        assert_eq!((aliases["root"].len(), folded.len()), (n, n));
        add_tag_event(&mut s, "root", ev("r", "i", 1));
        assert_eq!(update_tracking_tags(&mut s, &["root".into()]).len(), n);
        assert_eq!(items(&s, &format!("a{:05}", n - 1)), vec![("r".into(), "i".into(), 1)]);
        // The chain's first alias tracks its last: one cycle of all of them.
        s.set_spec_tag(alias("a00000", &format!("a{:05}", n - 1)));
        let errs = validate_alias_cycles(&s);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].to_string().starts_with("spec.tags[a00000].from.name"), "{}", errs[0]);
        assert_eq!(fold_aliases(&s), (BTreeMap::new(), BTreeSet::new()));
    }

    #[test]
    fn other_streams_and_namespaces_do_not_track() {
        let s = ImageStream::new("ns", "app");
        let other = ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: "other:t".into(), namespace: String::new() };
        assert_eq!(tracked_tag(&s, Some(&other)), None);
        let ns = ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: "t".into(), namespace: "x".into() };
        assert_eq!(tracked_tag(&s, Some(&ns)), None);
    }

    proptest! {
        /// Whatever sequence of events arrives, the history grows by at most one item per event,
        /// never shrinks, and its head always carries the last event's ref, image and generation.
        #[test]
        fn history_invariants(events in proptest::collection::vec((0u8..3, 0u8..3, 0i64..4), 1..40)) {
            let mut s = ImageStream::new("ns", "app");
            let mut prev_len = 0;
            for (r, i, g) in events {
                let e = ev(&format!("r{r}"), &format!("i{i}"), g);
                add_tag_event(&mut s, "t", e.clone());
                let list = s.status_tag("t").unwrap().items();
                prop_assert!(list.len() >= prev_len);
                prop_assert!(list.len() <= prev_len + 1);
                prev_len = list.len();
                prop_assert_eq!(&list[0].docker_image_reference, &e.docker_image_reference);
                prop_assert_eq!(&list[0].image, &e.image);
                prop_assert_eq!(list[0].generation, e.generation);
            }
        }
    }
}
