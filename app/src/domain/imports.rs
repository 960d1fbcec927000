//! What an import does to a stream (spec §4.2–4.4), pure: validating an ImageStreamImport,
//! choosing the tags of a repository import, which tags the controller must import, and
//! applying fetched results (new history items, conditions, generations).
//!
//! Must not: contact a registry or read the clock (the importer fetches, the caller hands in the
//! results and times).

use super::history::{add_tag_event, update_tracking_tags};
use super::names::validate_stream_name;
use super::reference::DockerImageReference;
use super::streams::is_importable;
use super::tag_order::prioritize_tags;
use crate::model::*;

/// Most images one ImageStreamImport may list (`spec.images`): each is a registry lookup, so a
/// request's work is bounded before any of it starts. The controllers import bigger streams in
/// batches of this size (`import_batches`).
pub const MAX_IMPORT_IMAGES: usize = 100;

/// `ValidateImageStreamImport`, plus a bound on `spec.images`.
pub fn validate_import(isi: &ImageStreamImport) -> Vec<FieldError> {
    let mut errs = vec![];
    if isi.spec.images.len() > MAX_IMPORT_IMAGES {
        // One error for the list, not one per entry: the entries are not even looked at.
        errs.push(FieldError::invalid_raw(
            "spec.images",
            isi.spec.images.len(),
            format!("must have at most {MAX_IMPORT_IMAGES} items (import more in several requests)"),
        ));
        return errs;
    }
    // Upstream's order: each image (target, source, import policy), the repository, the
    // emptiness of the whole, the object's name last.
    for (i, spec) in isi.spec.images.iter().enumerate() {
        let f = format!("spec.images[{i}]");
        if spec.from.kind != KIND_DOCKER_IMAGE {
            errs.push(FieldError::invalid(format!("{f}.from.kind"), &spec.from.kind, "only DockerImage is supported"));
        } else {
            if let Some(to) = &spec.to {
                if to.name.is_empty() {
                    errs.push(FieldError::invalid(format!("{f}.to.name"), "", "the name of the target tag must be specified"));
                } else if !super::names::is_valid_tag_name(&to.name) {
                    errs.push(FieldError::invalid(format!("{f}.to.name"), &to.name, super::names::invalid_tag_message(&to.name)));
                }
            }
            if spec.from.name.is_empty() {
                errs.push(FieldError::required(format!("{f}.from.name"), ""));
            } else if spec.from.name != "*"
                && let Err(e) = DockerImageReference::parse(&spec.from.name)
            {
                errs.push(FieldError::invalid(format!("{f}.from.name"), &spec.from.name, e.to_string()));
            }
        }
        errs.extend(validate_import_mode(&spec.import_policy, &format!("{f}.importPolicy")));
    }
    if let Some(repo) = &isi.spec.repository {
        if repo.from.kind != KIND_DOCKER_IMAGE {
            errs.push(FieldError::invalid("spec.repository.from.kind", &repo.from.kind, "only DockerImage is supported"));
        } else if repo.from.name.is_empty() {
            errs.push(FieldError::required("spec.repository.from.name", "container image references require a name"));
        } else if let Err(message) = check_import_source(&repo.from.name, true) {
            errs.push(FieldError::invalid("spec.repository.from.name", &repo.from.name, message));
        }
        errs.extend(validate_import_mode(&repo.import_policy, "spec.repository.importPolicy"));
    }
    if isi.spec.images.is_empty() && isi.spec.repository.is_none() {
        // Upstream reports the missing list as an invalid `nil`, printed "null".
        errs.push(FieldError::invalid("spec.images", "null", "you must specify at least one image or a repository import"));
    }
    errs.extend(validate_stream_name(isi.metadata.namespace.as_deref().unwrap_or_default(), &isi.metadata.name));
    errs
}

/// `ValidateImportPolicy`: the import mode is empty, `Legacy` or `PreserveOriginal`.
fn validate_import_mode(policy: &TagImportPolicy, f: &str) -> Vec<FieldError> {
    let mode = policy.import_mode.as_str();
    if matches!(mode, "" | IMPORT_MODE_LEGACY | IMPORT_MODE_PRESERVE_ORIGINAL) {
        return vec![];
    }
    vec![FieldError::invalid(format!("{f}.importMode"), mode, "invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'")]
}

/// The source of an import (`import-image`'s `--from`, the import form's first field): a
/// reference, and with `--all` (a whole repository) one without a tag or ID. The error is the
/// rule's message.
pub fn check_import_source(from: &str, all: bool) -> Result<DockerImageReference, String> {
    let r = DockerImageReference::parse(from).map_err(|e| e.to_string())?;
    if all && (!r.tag.is_empty() || !r.id.is_empty()) {
        return Err("you must specify an image repository, not a tag or ID".into());
    }
    Ok(r)
}

/// Defaults `to` from the tag of `from` (spec §1.2 defaulting).
pub fn default_targets(isi: &mut ImageStreamImport) {
    for spec in &mut isi.spec.images {
        if spec.to.is_none()
            && let Ok(r) = DockerImageReference::parse(&spec.from.name)
            && !r.tag.is_empty()
        {
            spec.to = Some(LocalObjectReference { name: r.tag });
        }
    }
}

/// Repository import: the empty tag reads as `latest`, tags are taken in priority order, at most
/// `limit` (negative = no limit). Returns (imported, additional).
pub fn select_repository_tags(mut tags: Vec<String>, limit: i64) -> (Vec<String>, Vec<String>) {
    for t in &mut tags {
        if t.is_empty() {
            *t = DEFAULT_TAG.into();
        }
    }
    tags.sort();
    tags.dedup();
    prioritize_tags(&mut tags);
    if limit < 0 || tags.len() as i64 <= limit {
        return (tags, vec![]);
    }
    let rest = tags.split_off(limit as usize);
    (tags, rest)
}

/// The generation a tag was last observed at: the newer of its head and its ImportSuccess condition.
pub fn observed_generation(stream: &ImageStream, tag: &str) -> i64 {
    observed_generation_of(stream.status_tag(tag))
}

/// [`observed_generation`] of a status tag already found (0 without one).
pub fn observed_generation_of(list: Option<&NamedTagEventList>) -> i64 {
    let Some(list) = list else { return 0 };
    let head = list.items().first().map(|h| h.generation).unwrap_or(0);
    let cond = list.conditions.iter().filter(|c| c.kind == CONDITION_IMPORT_SUCCESS).map(|c| c.generation).max().unwrap_or(0);
    head.max(cond)
}

/// Tags the import controller must import now (spec §4.4): importable tags whose spec
/// generation is unset or newer than what was observed.
pub fn tags_needing_import(stream: &ImageStream) -> Vec<String> {
    stream
        .spec
        .tags
        .iter()
        .filter(|t| is_importable(t))
        .filter(|t| t.generation.is_none_or(|g| g > observed_generation(stream, &t.name)))
        .map(|t| t.name.clone())
        .collect()
}

/// Tags the scheduler re-imports on each pass (spec §4.4): importable, `importPolicy.scheduled`,
/// and not a source pinned by digest that is already imported. A digest names one manifest for
/// ever, so once it is in the history there is nothing new to fetch; until then (the first
/// import failed or never ran) it is retried like any scheduled tag.
pub fn scheduled_tags(stream: &ImageStream) -> Vec<String> {
    stream
        .spec
        .tags
        .iter()
        .filter(|t| t.import_policy.scheduled && is_importable(t))
        .filter(|t| !pinned_and_imported(stream, t))
        .map(|t| t.name.clone())
        .collect()
}

/// Whether a tag's source names a digest that its history already holds.
fn pinned_and_imported(stream: &ImageStream, tag: &TagReference) -> bool {
    let Some(from) = &tag.from else { return false };
    let Ok(r) = DockerImageReference::parse(&from.name) else { return false };
    !r.id.is_empty() && stream.status_tag(&tag.name).is_some_and(|l| l.items().iter().any(|i| i.image == r.id))
}

/// The import requests for `tags` of a stream, as the controller sends them.
pub fn import_requests(stream: &ImageStream, tags: &[String]) -> Vec<ImageImportSpec> {
    tags.iter()
        .filter_map(|t| stream.spec_tag(t))
        .filter_map(|t| {
            let from = t.from.clone()?;
            let mut policy = t.import_policy.clone();
            if stream.metadata.annotations.get(ANNOTATION_INSECURE_REPOSITORY).map(String::as_str) == Some("true") {
                policy.insecure = true;
            }
            Some(ImageImportSpec {
                from,
                to: Some(LocalObjectReference { name: t.name.clone() }),
                import_policy: policy,
                reference_policy: t.reference_policy.clone(),
                include_manifest: false,
            })
        })
        .collect()
}

/// The import requests for `tags` of a stream in batches of at most `MAX_IMPORT_IMAGES` (one
/// ImageStreamImport each), as the controllers send them.
pub fn import_batches(stream: &ImageStream, tags: &[String]) -> Vec<Vec<ImageImportSpec>> {
    import_requests(stream, tags).chunks(MAX_IMPORT_IMAGES).map(<[ImageImportSpec]>::to_vec).collect()
}

/// The outcome of one tag of an import, as the importer produced it.
#[derive(Clone, Debug)]
pub struct TagImport {
    pub tag: String,
    /// The source as written by the client (the spec tag's `from.name`).
    pub from: String,
    pub import_policy: TagImportPolicy,
    pub reference_policy: TagReferencePolicy,
    /// Ok((digest, dockerImageReference)) or Err(status of the failure).
    pub outcome: Result<(String, String), OperationStatus>,
}

/// Applies import results to a stream (spec §4.3). Returns whether the stream changed; an
/// unchanged stream that already carries the check annotation must not be written.
pub fn apply_import(stream: &mut ImageStream, results: &[TagImport], now: &str) -> bool {
    let before = stream.clone();
    let next = stream.metadata.generation.unwrap_or(0) + 1;
    let mut moved: Vec<String> = vec![];
    for r in results {
        match &r.outcome {
            Ok((digest, reference)) => {
                let event =
                    TagEvent { created: now.into(), docker_image_reference: reference.clone(), image: digest.clone(), generation: next };
                let head = stream.head(&r.tag).cloned();
                let spec = stream.spec_tag(&r.tag).cloned();
                let changed = match (&head, &spec) {
                    (None, _) | (_, None) => true,
                    (Some(h), Some(s)) => {
                        s.generation.is_none()
                            || h.docker_image_reference != event.docker_image_reference
                            || h.image != event.image
                            || s.generation.unwrap_or(0) > h.generation
                    }
                };
                if changed {
                    let mut tag = spec.clone().unwrap_or_else(|| TagReference { name: r.tag.clone(), ..Default::default() });
                    tag.from = Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: r.from.clone(), namespace: String::new() });
                    tag.generation = Some(0);
                    if spec.is_none() {
                        tag.reference_policy = r.reference_policy.clone();
                    }
                    stream.set_spec_tag(tag);
                    if add_tag_event(stream, &r.tag, event) {
                        moved.push(r.tag.clone());
                    }
                }
                if let Some(t) = stream.spec_tag_mut(&r.tag) {
                    t.import_policy = r.import_policy.clone();
                }
                let list = stream.status_tag_entry(&r.tag);
                list.conditions.clear();
            }
            Err(status) => {
                let condition = TagEventCondition {
                    kind: CONDITION_IMPORT_SUCCESS.into(),
                    status: "False".into(),
                    last_transition_time: now.into(),
                    reason: status.reason.clone(),
                    message: if status.message.is_empty() { "unknown error prevented import".into() } else { status.message.clone() },
                    generation: next,
                };
                let list = stream.status_tag_entry(&r.tag);
                let identical = list.conditions.iter().any(|c| {
                    c.kind == condition.kind
                        && c.status == condition.status
                        && c.reason == condition.reason
                        && c.message == condition.message
                });
                if identical {
                    continue;
                }
                list.conditions = vec![condition];
                match stream.spec_tag_mut(&r.tag) {
                    Some(t) => t.generation = Some(0),
                    None => stream.set_spec_tag(TagReference {
                        name: r.tag.clone(),
                        from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: r.from.clone(), namespace: String::new() }),
                        generation: Some(0),
                        import_policy: r.import_policy.clone(),
                        reference_policy: r.reference_policy.clone(),
                        ..Default::default()
                    }),
                }
            }
        }
    }
    // A status tag left with neither items nor conditions (a failure that later cleared on a
    // tag without history) is not kept.
    stream.status.tags.retain(|l| l.items.as_ref().is_some_and(|i| !i.is_empty()) || !l.conditions.is_empty());
    update_tracking_tags(stream, &moved);
    let changed = *stream != before;
    if changed {
        stream.metadata.generation = Some(next);
        for t in &mut stream.spec.tags {
            if t.generation == Some(0) {
                t.generation = Some(next);
            }
        }
    }
    let has_check = stream.metadata.annotations.contains_key(ANNOTATION_REPOSITORY_CHECK);
    if changed || !has_check {
        stream.metadata.annotations.insert(ANNOTATION_REPOSITORY_CHECK.into(), now.into());
        return true;
    }
    false
}

/// `<repository as written>@<digest>`: the reference an imported image is stored under.
pub fn imported_reference(from: &str, digest: &str) -> String {
    match DockerImageReference::parse(from) {
        Ok(r) => {
            let mut repo = r.as_repository();
            repo.id = digest.into();
            repo.exact()
        }
        Err(_) => format!("{from}@{digest}"),
    }
}

/// The message of a repository import with failures.
pub fn repository_failure_message(failed: usize) -> String {
    if failed == 1 {
        "one of the images from this repository failed to import".into()
    } else {
        format!("{failed} of the images from this repository failed to import")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u64) -> String {
        format!("sha256:{n:064x}")
    }

    fn ok(tag: &str, from: &str, n: u64) -> TagImport {
        TagImport {
            tag: tag.into(),
            from: from.into(),
            import_policy: TagImportPolicy { import_mode: "Legacy".into(), ..Default::default() },
            reference_policy: TagReferencePolicy::default(),
            outcome: Ok((d(n), imported_reference(from, &d(n)))),
        }
    }

    fn failed(tag: &str, from: &str, reason: &str, message: &str) -> TagImport {
        TagImport { outcome: Err(OperationStatus::failure(reason, message, 404)), ..ok(tag, from, 0) }
    }

    #[test]
    fn scheduled_tags_skip_only_pinned_digests_already_imported() {
        let tag = |name: &str, from: &str, scheduled: bool| TagReference {
            name: name.into(),
            from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: from.into(), namespace: String::new() }),
            import_policy: TagImportPolicy { scheduled, ..Default::default() },
            ..Default::default()
        };
        let pinned = format!("q.io/o/a@{}", d(1));
        let mut s = ImageStream::new("ns", "app");
        s.spec.tags = vec![
            tag("byTag", "q.io/o/a:1", true),
            tag("pinned", &pinned, true),
            tag("pinnedOther", &format!("q.io/o/a@{}", d(2)), true),
            tag("manual", "q.io/o/a:2", false),
        ];
        // Nothing imported yet: every scheduled tag, pinned or not, is tried.
        assert_eq!(scheduled_tags(&s), ["byTag", "pinned", "pinnedOther"]);
        // Imported: the pinned tags whose digest is in their history are done for good; a tag
        // followed by name is rechecked for ever.
        let scheduled = |r: TagImport| TagImport { import_policy: TagImportPolicy { scheduled: true, ..r.import_policy.clone() }, ..r };
        let results = [scheduled(ok("byTag", "q.io/o/a:1", 3)), scheduled(ok("pinned", &pinned, 1))];
        assert!(apply_import(&mut s, &results, "2025-01-01T00:00:00Z"));
        assert_eq!(scheduled_tags(&s), ["byTag", "pinnedOther"]);
        // A pinned tag whose history holds another image (the pin was changed) is fetched again.
        s.spec_tag_mut("pinned").unwrap().from.as_mut().unwrap().name = format!("q.io/o/a@{}", d(2));
        assert_eq!(scheduled_tags(&s), ["byTag", "pinned", "pinnedOther"]);
    }

    #[test]
    fn an_import_lists_at_most_100_images_and_the_controller_sends_batches() {
        let tags: Vec<TagReference> = (0..250)
            .map(|i| TagReference {
                name: format!("t{i}"),
                from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: format!("q.io/o/a:{i}"), namespace: String::new() }),
                ..Default::default()
            })
            .collect();
        let mut s = ImageStream::new("ns", "app");
        s.spec.tags = tags;
        let names: Vec<String> = s.spec.tags.iter().map(|t| t.name.clone()).collect();
        let batches = import_batches(&s, &names);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), vec![100, 100, 50]);
        let mut isi = ImageStreamImport::new("ns", "app", true);
        isi.spec.images = batches[0].clone();
        assert!(validate_import(&isi).is_empty(), "{:?}", validate_import(&isi));
        isi.spec.images.extend(batches[2].iter().take(1).cloned());
        let errs = validate_import(&isi);
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].to_string(), "spec.images: Invalid value: 101: must have at most 100 items (import more in several requests)");
    }

    #[test]
    fn worked_example_generations() {
        // `oc tag q.io/o/a:1 app:v1` on a fresh stream: stream gen 2, tag gen 2; import → 3.
        let mut s = ImageStream::new("ns", "app");
        s.metadata.generation = Some(2);
        s.spec.tags = vec![TagReference {
            name: "v1".into(),
            from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: "q.io/o/a:1".into(), namespace: String::new() }),
            generation: Some(2),
            ..Default::default()
        }];
        assert_eq!(tags_needing_import(&s), vec!["v1".to_string()]);
        assert!(apply_import(&mut s, &[ok("v1", "q.io/o/a:1", 1)], "T1"));
        assert_eq!(s.metadata.generation, Some(3));
        assert_eq!(s.spec_tag("v1").unwrap().generation, Some(3));
        let h = s.head("v1").unwrap();
        assert_eq!((h.generation, h.docker_image_reference.as_str()), (3, format!("q.io/o/a@{}", d(1)).as_str()));
        assert_eq!(s.metadata.annotations[ANNOTATION_REPOSITORY_CHECK], "T1");
        assert!(tags_needing_import(&s).is_empty());
        // Unchanged re-import: nothing to write.
        assert!(!apply_import(&mut s, &[ok("v1", "q.io/o/a:1", 1)], "T2"));
        assert_eq!(s.metadata.annotations[ANNOTATION_REPOSITORY_CHECK], "T1");
        // A new digest is prepended.
        assert!(apply_import(&mut s, &[ok("v1", "q.io/o/a:1", 2)], "T3"));
        assert_eq!(s.status_tag("v1").unwrap().items().len(), 2);
        assert_eq!(s.metadata.generation, Some(4));
    }

    #[test]
    fn failures_set_one_condition_and_repeat_writes_nothing() {
        let mut s = ImageStream::new("ns", "app");
        s.metadata.generation = Some(1);
        s.metadata.annotations.insert(ANNOTATION_REPOSITORY_CHECK.into(), "T0".into());
        let f = failed("v1", "q.io/o/a:1", "NotFound", "dockerimage.image.openshift.io \"q.io/o/a:1\" not found");
        assert!(apply_import(&mut s, std::slice::from_ref(&f), "T1"));
        let c = &s.status_tag("v1").unwrap().conditions[0];
        assert_eq!((c.reason.as_str(), c.generation, c.last_transition_time.as_str()), ("NotFound", 2, "T1"));
        assert_eq!(s.spec_tag("v1").unwrap().generation, Some(2), "the spec tag is created at the new generation");
        assert!(s.status_tag("v1").unwrap().items.is_none());
        assert!(!apply_import(&mut s, &[f], "T2"), "an identical failure writes nothing");
        // A later success clears the condition.
        assert!(apply_import(&mut s, &[ok("v1", "q.io/o/a:1", 1)], "T3"));
        assert!(s.status_tag("v1").unwrap().conditions.is_empty());
        assert_eq!(s.head("v1").unwrap().image, d(1));
    }

    #[test]
    fn repository_tags_follow_priority_and_limit() {
        let tags = vec!["b".into(), "1.0".into(), "".into(), "2.0".into(), "a".into()];
        let (take, rest) = select_repository_tags(tags, 3);
        assert_eq!(take, vec!["latest", "2.0", "1.0"]);
        assert_eq!(rest, vec!["a", "b"]);
        let (take, rest) = select_repository_tags(vec!["x".into(), "y".into()], -1);
        assert_eq!((take.len(), rest.len()), (2, 0));
    }

    #[test]
    fn validation_messages() {
        let mut isi = ImageStreamImport::new("ns", "app", true);
        assert_eq!(validate_import(&isi)[0].detail, "you must specify at least one image or a repository import");
        isi.spec.images.push(ImageImportSpec {
            from: ObjectReference { kind: "ImageStreamTag".into(), name: "x".into(), namespace: String::new() },
            ..Default::default()
        });
        isi.spec.repository = Some(RepositoryImportSpec {
            from: ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: "q.io/o/a:1".into(), namespace: String::new() },
            ..Default::default()
        });
        let e: Vec<String> = validate_import(&isi).iter().map(|e| e.to_string()).collect();
        assert_eq!(e[0], "spec.images[0].from.kind: Invalid value: \"ImageStreamTag\": only DockerImage is supported");
        assert_eq!(e[1], "spec.repository.from.name: Invalid value: \"q.io/o/a:1\": you must specify an image repository, not a tag or ID");
    }

    #[test]
    fn import_sources() {
        let repository_only = Err("you must specify an image repository, not a tag or ID".to_string());
        assert_eq!(check_import_source("q.io/o/a:1", true).map(|_| ()), repository_only);
        assert_eq!(check_import_source(&format!("q.io/o/a@{}", d(1)), true).map(|_| ()), repository_only);
        assert_eq!(check_import_source("q.io/o/a", true).map(|r| r.name), Ok("a".to_string()));
        assert!(check_import_source("q.io/o/a:1", false).is_ok(), "one image may name its tag");
        assert_eq!(check_import_source("Bad", false).map(|_| ()), Err("repository name must be lowercase".to_string()));
        assert_eq!(check_import_source("Bad", true).map(|_| ()), Err("repository name must be lowercase".to_string()));
    }

    #[test]
    fn references_keep_the_repository_as_written() {
        assert_eq!(imported_reference("busybox:1.36", &d(1)), format!("busybox@{}", d(1)));
        assert_eq!(imported_reference("docker.io/busybox", &d(1)), format!("docker.io/busybox@{}", d(1)));
        assert_eq!(imported_reference("127.0.0.1:5000/a/b:t", &d(1)), format!("127.0.0.1:5000/a/b@{}", d(1)));
    }
}
