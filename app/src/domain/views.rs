//! What the web pages show of a stream, derived from the stream alone (pure, also in WASM):
//! each tag's state in words, aliases folded into their target as `describe` does, its source,
//! flags and pull specs; when a tag offers "Import now"; what changed between history items.
//!
//! Must not: produce markup (that is `views`) or depend on anything but `model` and the rest of
//! `domain`.

use super::history::tracked_tag;
use super::imports::observed_generation_of;
use super::lookup::{RegistryPullSpecs, registry_pull_specs_of};
use super::tag_order::prioritize_tags;
use crate::model::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A tag's state, as a person reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagState {
    /// Has an image (imported, pushed, or tagged from another tag).
    Current,
    /// A DockerImage tag whose newer spec has not been imported yet.
    Importing,
    /// The last import failed.
    ImportFailed { reason: String, message: String, since: String },
    /// Points at a pull spec only; never imported.
    ReferenceOnly,
    /// A spec tag that has no image yet and is not being imported.
    NotImportedYet,
    /// History without a spec tag (pushed).
    NoSpecTag,
}

impl TagState {
    pub fn label(&self) -> &'static str {
        match self {
            TagState::Current => "current",
            TagState::Importing => "importing",
            TagState::ImportFailed { .. } => "import failed",
            TagState::ReferenceOnly => "reference only",
            TagState::NotImportedYet => "not imported yet",
            // Upstream says "no spec tag"; people say what happened (issue 17 point 7).
            TagState::NoSpecTag => "Pushed, not managed by a tag spec",
        }
    }
}

/// One tag of the stream page.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TagView {
    pub name: String,
    /// Same-stream tags that track this one (folded into it).
    pub aliases: Vec<String>,
    pub state: TagState,
    /// `tagged from …` / `tracks …` in words, if there is a spec tag with a source.
    pub source: Option<String>,
    /// The registry image an "import now" would import (importable DockerImage tags only).
    pub import_from: Option<String>,
    pub reference_policy: String,
    pub scheduled: bool,
    pub insecure: bool,
    pub reference: bool,
    pub import_mode: String,
    /// The tag in the portal's registry, by tag and by its head's digest (none while the tag has
    /// no image).
    pub pull: Option<RegistryPullSpecs>,
    pub history: Vec<TagEvent>,
}

impl TagView {
    /// Whether the tag offers "Import now": it has a registry source and its image is missing,
    /// pending or failed (a current tag re-imports on its schedule or by a new `tag`).
    pub fn offers_import_now(&self) -> bool {
        let failed_or_pending = matches!(self.state, TagState::ImportFailed { .. } | TagState::Importing | TagState::NotImportedYet);
        failed_or_pending && self.import_from.is_some()
    }
}

/// What changed from the `older` history item to `item`, in words (`None`: the tag's first).
pub fn change_words(item: &TagEvent, older: Option<&TagEvent>) -> &'static str {
    match older {
        None => "first image",
        Some(o) if o.image != item.image && o.docker_image_reference != item.docker_image_reference => "new image",
        Some(o) if o.image != item.image => "image replaced",
        Some(_) => "pull spec changed",
    }
}

fn source_words(stream: &ImageStream, t: &TagReference) -> Option<String> {
    let from = t.from.as_ref()?;
    let name = if !from.namespace.is_empty() && from.namespace != stream.namespace() {
        format!("{}/{}", from.namespace, from.name)
    } else {
        from.name.clone()
    };
    Some(match from.kind.as_str() {
        KIND_IMAGE_STREAM_TAG if tracked_tag(stream, Some(from)).is_some() => format!("tracks {name}"),
        KIND_DOCKER_IMAGE if t.reference => format!("reference to registry {name}"),
        KIND_DOCKER_IMAGE if t.import_policy.scheduled => format!("updates automatically from registry {name}"),
        KIND_DOCKER_IMAGE => format!("imported from {name}"),
        KIND_IMAGE_STREAM_IMAGE => format!("pinned to {name}"),
        _ => format!("tagged from {name}"),
    })
}

fn state_of(spec: Option<&TagReference>, list: Option<&NamedTagEventList>) -> TagState {
    if let Some(c) = list.and_then(|l| l.conditions.iter().find(|c| c.kind == CONDITION_IMPORT_SUCCESS && c.status == "False")) {
        return TagState::ImportFailed { reason: c.reason.clone(), message: c.message.clone(), since: c.last_transition_time.clone() };
    }
    let head = list.and_then(|l| l.items().first());
    match (spec, head) {
        (None, _) => TagState::NoSpecTag,
        (Some(t), _) if t.reference => TagState::ReferenceOnly,
        (Some(t), _) if super::streams::is_importable(t) && t.generation.unwrap_or(0) > observed_generation_of(list) => TagState::Importing,
        (Some(_), Some(h)) if !h.image.is_empty() => TagState::Current,
        (Some(_), Some(_)) => TagState::ReferenceOnly,
        (Some(_), None) => TagState::NotImportedYet,
    }
}

/// Every tag of the stream in `describe` order, aliases folded into their final target.
pub fn tag_views(stream: &ImageStream) -> Vec<TagView> {
    let (mut aliases, folded) = super::history::fold_aliases(stream);
    let mut names: BTreeSet<String> = stream.spec.tags.iter().map(|t| t.name.clone()).collect();
    names.extend(stream.status.tags.iter().map(|l| l.tag.clone()));
    let mut order: Vec<String> = names.into_iter().filter(|n| !folded.contains(n)).collect();
    prioritize_tags(&mut order);
    // Each tag's spec and status found once, by name (the first of a name, as `spec_tag` and
    // `status_tag` find it): a stream with 500 tags spent most of its page in linear lookups.
    let mut specs: HashMap<&str, &TagReference> = HashMap::with_capacity(stream.spec.tags.len());
    for t in &stream.spec.tags {
        specs.entry(t.name.as_str()).or_insert(t);
    }
    let mut statuses: HashMap<&str, &NamedTagEventList> = HashMap::with_capacity(stream.status.tags.len());
    for l in &stream.status.tags {
        statuses.entry(l.tag.as_str()).or_insert(l);
    }
    order
        .into_iter()
        .map(|name| {
            let spec = specs.get(name.as_str()).copied();
            let list = statuses.get(name.as_str()).copied();
            let history = list.map(|l| l.items().to_vec()).unwrap_or_default();
            TagView {
                aliases: aliases.remove(&name).unwrap_or_default(),
                state: state_of(spec, list),
                source: spec.and_then(|t| source_words(stream, t)),
                import_from: spec.filter(|t| super::streams::is_importable(t)).and_then(|t| t.from.as_ref()).map(|f| f.name.clone()),
                reference_policy: spec.map(|t| t.reference_policy.kind.clone()).unwrap_or_else(|| REFERENCE_POLICY_SOURCE.into()),
                scheduled: spec.is_some_and(|t| t.import_policy.scheduled),
                insecure: spec.is_some_and(|t| t.import_policy.insecure),
                reference: spec.is_some_and(|t| t.reference),
                import_mode: spec.map(|t| t.import_policy.import_mode.clone()).unwrap_or_default(),
                pull: registry_pull_specs_of(stream, &name, list.and_then(|l| l.items().first())),
                history,
                name,
            }
        })
        .collect()
}

/// For the stream timeline: every distinct image of the stream with a short label, so lanes of
/// tags that share an image can show it.
pub fn image_labels(stream: &ImageStream) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in &stream.status.tags {
        for i in l.items() {
            if !i.image.is_empty() {
                let short = i.image.split_once(':').map(|(_, h)| h).unwrap_or(&i.image);
                out.entry(i.image.clone()).or_insert_with(|| short.chars().take(12).collect());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::add_tag_event;

    fn d(n: u64) -> String {
        format!("sha256:{n:064x}")
    }

    #[test]
    fn states_in_words_and_folded_aliases() {
        let mut s = ImageStream::new("ns", "app");
        s.status.docker_image_repository = "reg/ns/app".into();
        let docker = |name: &str, from: &str, g: i64| TagReference {
            name: name.into(),
            from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: from.into(), namespace: String::new() }),
            generation: Some(g),
            ..Default::default()
        };
        s.spec.tags = vec![
            docker("latest", "q.io/a", 1),
            TagReference {
                name: "stable".into(),
                from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: "latest".into(), namespace: String::new() }),
                generation: Some(1),
                ..Default::default()
            },
            docker("new", "q.io/a:new", 2),
            TagReference { reference: true, ..docker("ref", "q.io/a:ref", 1) },
            docker("bad", "q.io/a:bad", 2),
        ];
        add_tag_event(
            &mut s,
            "latest",
            TagEvent { created: "t".into(), docker_image_reference: format!("q.io/a@{}", d(1)), image: d(1), generation: 1 },
        );
        add_tag_event(
            &mut s,
            "pushed",
            TagEvent { created: "t".into(), docker_image_reference: format!("reg/ns/app@{}", d(2)), image: d(2), generation: 1 },
        );
        s.status_tag_entry("bad").conditions.push(TagEventCondition {
            kind: CONDITION_IMPORT_SUCCESS.into(),
            status: "False".into(),
            reason: "NotFound".into(),
            message: "gone".into(),
            last_transition_time: "T".into(),
            generation: 2,
        });
        let v = tag_views(&s);
        let names: Vec<&str> = v.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, vec!["latest", "bad", "new", "pushed", "ref"]);
        assert_eq!(v[0].aliases, vec!["stable".to_string()]);
        assert_eq!(v[0].state, TagState::Current);
        assert_eq!(v[0].source.as_deref(), Some("imported from q.io/a"));
        assert_eq!(v[0].import_from.as_deref(), Some("q.io/a"));
        assert_eq!(v[4].import_from, None, "reference tags are never imported");
        let pull = v[0].pull.clone().expect("a current tag is in the registry");
        assert_eq!(pull.by_tag, "reg/ns/app:latest");
        assert_eq!(pull.by_digest, format!("reg/ns/app@{}", d(1)), "the portal's registry, not the source");
        assert_eq!(v[2].pull, None, "no image yet: not in the registry");
        assert_eq!(v[3].pull.as_ref().map(|p| p.by_tag.as_str()), Some("reg/ns/app:pushed"), "pushed, without a spec tag");
        assert_eq!(v[4].pull, None, "a reference-only tag is not in the registry");
        assert_eq!(v[1].state.label(), "import failed");
        assert_eq!(v[2].state, TagState::Importing);
        assert_eq!(v[3].state, TagState::NoSpecTag);
        assert_eq!(v[3].state.label(), "Pushed, not managed by a tag spec");
        assert_eq!(v[4].state, TagState::ReferenceOnly);
        assert_eq!(image_labels(&s).len(), 2);
    }

    #[test]
    fn import_now_is_offered_for_missing_pending_or_failed_registry_tags() {
        let tag = |state: TagState, from: Option<&str>| TagView {
            name: "t".into(),
            aliases: vec![],
            state,
            source: None,
            import_from: from.map(str::to_string),
            reference_policy: REFERENCE_POLICY_SOURCE.into(),
            scheduled: false,
            insecure: false,
            reference: false,
            import_mode: String::new(),
            pull: None,
            history: vec![],
        };
        let failed = TagState::ImportFailed { reason: "NotFound".into(), message: "gone".into(), since: "T".into() };
        for state in [failed.clone(), TagState::Importing, TagState::NotImportedYet] {
            assert!(tag(state.clone(), Some("q.io/a")).offers_import_now(), "{state:?}");
            assert!(!tag(state.clone(), None).offers_import_now(), "{state:?} without a registry source");
        }
        for state in [TagState::Current, TagState::ReferenceOnly, TagState::NoSpecTag] {
            assert!(!tag(state.clone(), Some("q.io/a")).offers_import_now(), "{state:?}");
        }
    }

    #[test]
    fn changes_between_history_items_in_words() {
        let item = |image: &str, reference: &str| TagEvent {
            created: "t".into(),
            docker_image_reference: reference.into(),
            image: image.into(),
            generation: 1,
        };
        let newest = item(&d(2), "q.io/a@2");
        assert_eq!(change_words(&newest, None), "first image");
        assert_eq!(change_words(&newest, Some(&item(&d(1), "q.io/a@1"))), "new image");
        assert_eq!(change_words(&newest, Some(&item(&d(1), "q.io/a@2"))), "image replaced");
        assert_eq!(change_words(&newest, Some(&item(&d(2), "q.io/b@2"))), "pull spec changed");
    }
}
