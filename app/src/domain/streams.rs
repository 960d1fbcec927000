//! The rules of writing an image stream: validation (spec §2.1–2.2, PRODUCT difference 1),
//! generations on create and update (§3.6), and turning new or changed spec tags into history
//! events (§3.3) followed by tracking-alias propagation (§3.4). Pure: streams in other
//! namespaces or streams are handed in by the caller, already permission-checked.
//!
//! Must not: read other streams or check permissions itself (see above), or read the clock.

use super::history::{add_tag_event, tracked_tag, update_tracking_tags, validate_alias_cycles};
use super::lookup::resolve_image_id;
use super::names::{invalid_tag_message, is_valid_tag_name, parse_from_reference, validate_stream_name};
use super::reference::DockerImageReference;
use crate::model::*;
use std::collections::BTreeMap;

fn tag_field(tag: &str) -> String {
    format!("spec.tags[{tag}]")
}

/// Validates one spec tag (spec §2.2) plus its name (PRODUCT difference 1).
pub fn validate_spec_tag(tag: &TagReference) -> Vec<FieldError> {
    let f = tag_field(&tag.name);
    let mut errs = vec![];
    if !is_valid_tag_name(&tag.name) {
        errs.push(FieldError::invalid(
            format!("{f}.name"),
            &tag.name,
            invalid_tag_message(&tag.name).replacen(&format!("invalid tag {:?} format, ", tag.name), "", 1),
        ));
    }
    errs.extend(validate_tag_reference(tag, &f));
    errs
}

/// The rules of one tag reference (`ValidateImageStreamTagReference`) reported under `f`:
/// `spec.tags[<t>]` in a stream, `tag` in an ImageStreamTag. Its name is not checked here.
pub fn validate_tag_reference(tag: &TagReference, f: &str) -> Vec<FieldError> {
    let mut errs = vec![];
    if let Some(from) = &tag.from {
        if from.name.is_empty() {
            errs.push(FieldError::required(format!("{f}.from.name"), ""));
        }
        match from.kind.as_str() {
            KIND_DOCKER_IMAGE => {
                if !from.name.is_empty()
                    && let Err(e) = DockerImageReference::parse(&from.name)
                {
                    errs.push(FieldError::invalid(format!("{f}.from.name"), &from.name, e.to_string()));
                }
            }
            KIND_IMAGE_STREAM_TAG | KIND_IMAGE_STREAM_IMAGE => {
                if tag.import_policy.scheduled {
                    errs.push(FieldError::invalid_raw(
                        format!("{f}.importPolicy.scheduled"),
                        true,
                        "only tags pointing to Docker repositories may be scheduled for background import",
                    ));
                }
            }
            _ => errs.push(FieldError::required(
                format!("{f}.from.kind"),
                "valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag'",
            )),
        }
    }
    let rp = tag.reference_policy.kind.as_str();
    if !rp.is_empty() && rp != REFERENCE_POLICY_SOURCE && rp != REFERENCE_POLICY_LOCAL {
        errs.push(FieldError::invalid(format!("{f}.referencePolicy.type"), rp, "valid values are \"Source\", \"Local\""));
    }
    let mode = tag.import_policy.import_mode.as_str();
    if !matches!(mode, "" | IMPORT_MODE_LEGACY | IMPORT_MODE_PRESERVE_ORIGINAL) {
        errs.push(FieldError::invalid(
            format!("{f}.importPolicy.importMode"),
            mode,
            "invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'",
        ));
    }
    errs
}

/// An ImageStreamTag as sent (`ValidateImageStreamTag`): its tag reference under `tag`, and
/// `tag.annotations`, which must be absent or equal to `metadata.annotations` (the tag's
/// annotations are stored from the metadata; different ones would be dropped silently).
pub fn validate_image_stream_tag(istag: &ImageStreamTag) -> Vec<FieldError> {
    let mut errs = validate_labels_and_annotations(&istag.metadata, "metadata");
    let Some(tag) = &istag.tag else { return errs };
    errs.extend(validate_tag_reference(tag, "tag"));
    // Absent and empty are the same map (upstream compares with `Semantic.DeepEqual`).
    if tag.annotations.as_ref().is_some_and(|a| *a != istag.metadata.annotations) {
        errs.push(FieldError::invalid(
            "tag.annotations",
            "<map>",
            "tag annotations must not be provided or must be equal to the object meta annotations",
        ));
    }
    errs
}

/// Upstream's rule for label and annotation keys (`IsQualifiedName`), in its words.
const KEY_RULE: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an \
     alphanumeric character (at most 63 characters), after an optional DNS subdomain prefix and '/'";

/// The most bytes an object's annotations may hold, keys and values together (Kubernetes'
/// `TotalAnnotationSizeLimitB`).
pub const MAX_ANNOTATIONS_BYTES: usize = 256 * 1024;

/// Labels and annotations as the Kubernetes API server checks them (`ValidateLabels`,
/// `ValidateAnnotations`): keys are qualified names, label values empty or a name part (at most
/// 63 characters), annotations at most [`MAX_ANNOTATIONS_BYTES`] in all. A label the API took
/// could otherwise never be selected (`?labelSelector=` refuses such keys).
/// `at` is where the metadata is in the object (`metadata`, `image.metadata`).
pub fn validate_labels_and_annotations(meta: &ObjectMeta, at: &str) -> Vec<FieldError> {
    let mut errs = vec![];
    for (k, v) in &meta.labels {
        if !super::selectors::valid_key(k) {
            errs.push(FieldError::invalid(format!("{at}.labels"), k, KEY_RULE));
        }
        if !super::selectors::valid_value(v) {
            errs.push(FieldError::invalid(
                format!("{at}.labels"),
                v,
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and \
                 end with an alphanumeric character (at most 63 characters)",
            ));
        }
    }
    errs.extend(validate_annotations(&meta.annotations, &format!("{at}.annotations")));
    errs
}

/// Annotations at `field`: qualified-name keys (lowercased first, as upstream checks them), at
/// most [`MAX_ANNOTATIONS_BYTES`] in all.
pub fn validate_annotations(annotations: &BTreeMap<String, String>, field: &str) -> Vec<FieldError> {
    let mut errs = vec![];
    let mut size = 0usize;
    for (k, v) in annotations {
        if !super::selectors::valid_key(&k.to_ascii_lowercase()) {
            errs.push(FieldError::invalid(field, k, KEY_RULE));
        }
        size += k.len() + v.len();
    }
    if size > MAX_ANNOTATIONS_BYTES {
        errs.push(FieldError {
            field: field.into(),
            kind: crate::model::FieldErrorKind::TooLong,
            value: None,
            detail: format!("must have at most {MAX_ANNOTATIONS_BYTES} bytes"),
        });
    }
    errs
}

/// Validates a whole stream as submitted: names, labels and annotations, the deprecated
/// repository, every spec tag, alias cycles.
pub fn validate_image_stream(stream: &ImageStream) -> Vec<FieldError> {
    let mut errs = validate_stream_name(stream.namespace(), &stream.metadata.name);
    errs.extend(validate_labels_and_annotations(&stream.metadata, "metadata"));
    let repo = &stream.spec.docker_image_repository;
    if !repo.is_empty() {
        match DockerImageReference::parse(repo) {
            Err(e) => errs.push(FieldError::invalid("spec.dockerImageRepository", repo, e.to_string())),
            Ok(r) if !r.tag.is_empty() => {
                errs.push(FieldError::invalid("spec.dockerImageRepository", repo, "the repository name may not contain a tag"))
            }
            Ok(r) if !r.id.is_empty() => {
                errs.push(FieldError::invalid("spec.dockerImageRepository", repo, "the repository name may not contain an ID"))
            }
            Ok(_) => {}
        }
    }
    for t in &stream.spec.tags {
        errs.extend(validate_spec_tag(t));
        if let Some(annotations) = &t.annotations {
            errs.extend(validate_annotations(annotations, &format!("spec.tags[{}].annotations", t.name)));
        }
    }
    errs.extend(validate_alias_cycles(stream));
    errs
}

/// How many children (`dockerImageManifests`) or layers (`dockerImageLayers`) a mapped image may
/// name: far beyond an image's (Docker's limit is 127 layers) or a manifest list's.
pub const MAX_IMAGE_CLAIMS: usize = 1_000;

/// The rules of an ImageStreamMapping (spec §3.8) in namespace `ns`: the stream name, the tag
/// (required), the image digest, a parseable `dockerImageReference`, no layers beside manifests
/// (a manifest list has none of its own), and what the image names: at most
/// [`MAX_IMAGE_CLAIMS`] children and layers, each a digest.
pub fn validate_mapping(ns: &str, mapping: &ImageStreamMapping) -> Vec<FieldError> {
    let mut errs = validate_stream_name(ns, &mapping.metadata.name);
    let tag = mapping.tag.as_str();
    if tag.is_empty() {
        // Upstream requires it; defaulting to `latest` would move a tag nobody named.
        errs.push(FieldError::required("tag", ""));
    } else if !is_valid_tag_name(tag) {
        errs.push(FieldError::invalid("tag", tag, invalid_tag_message(tag)));
    }
    let digest = &mapping.image.metadata.name;
    if digest.is_empty() {
        errs.push(FieldError::required("image.metadata.name", "name or generateName is required"));
    } else if let Err(e) = super::reference::parse_digest(digest) {
        errs.push(FieldError::invalid("image.metadata.name", digest, e.to_string()));
    }
    if !mapping.image.docker_image_reference.is_empty()
        && let Err(e) = DockerImageReference::parse(&mapping.image.docker_image_reference)
    {
        errs.push(FieldError::invalid("image.dockerImageReference", &mapping.image.docker_image_reference, e.to_string()));
    }
    errs.extend(validate_labels_and_annotations(&mapping.image.metadata, "image.metadata"));
    // What a new image claims (its children, layers and config) is bounded and must be digests:
    // the registry serves what an image held in a repository names.
    let (children, layers) = (&mapping.image.docker_image_manifests, &mapping.image.docker_image_layers);
    if children.len() > MAX_IMAGE_CLAIMS {
        errs.push(FieldError::too_many("image.dockerImageManifests", children.len(), MAX_IMAGE_CLAIMS));
    }
    if layers.len() > MAX_IMAGE_CLAIMS {
        errs.push(FieldError::too_many("image.dockerImageLayers", layers.len(), MAX_IMAGE_CLAIMS));
    }
    for (i, m) in children.iter().enumerate().take(MAX_IMAGE_CLAIMS) {
        if let Err(e) = super::reference::parse_digest(&m.digest) {
            errs.push(FieldError::invalid(format!("image.dockerImageManifests[{i}].digest"), &m.digest, e.to_string()));
        }
    }
    for (i, l) in layers.iter().enumerate().take(MAX_IMAGE_CLAIMS) {
        if let Err(e) = super::reference::parse_digest(&l.name) {
            errs.push(FieldError::invalid(format!("image.dockerImageLayers[{i}].name"), &l.name, e.to_string()));
        }
        if l.size < 0 {
            errs.push(FieldError::invalid(
                format!("image.dockerImageLayers[{i}].size"),
                &l.size.to_string(),
                "must be greater than or equal to 0",
            ));
        }
    }
    if !mapping.image.docker_image_manifests.is_empty() && !mapping.image.docker_image_layers.is_empty() {
        errs.push(FieldError::invalid_raw(
            "image.dockerImageLayers",
            "[...]",
            "dockerImageLayers should not be set when dockerImageManifests is set",
        ));
    }
    errs
}

/// Applies upstream's defaults to a submitted stream: empty reference policy → Source, empty
/// import mode → Legacy, tag lists deduplicated (last wins) and sorted.
pub fn apply_defaults(stream: &mut ImageStream) {
    stream.normalize_tag_lists();
    for t in &mut stream.spec.tags {
        if t.reference_policy.kind.is_empty() {
            t.reference_policy.kind = REFERENCE_POLICY_SOURCE.into();
        }
        if t.import_policy.import_mode.is_empty() {
            t.import_policy.import_mode = IMPORT_MODE_LEGACY.into();
        }
    }
}

/// `tagRefChanged`: a new source, namespace, reference flag, import mode, or a client-sent
/// generation 0 (forced re-import). Kind, insecure, scheduled, reference policy and annotations
/// are not changes of the tag (they still bump the stream's generation).
pub fn tag_ref_changed(old: &TagReference, new: &TagReference, stream_namespace: &str) -> bool {
    let Some(from) = &new.from else { return false };
    if from.kind.is_empty() && from.name.is_empty() {
        return false;
    }
    let empty = ObjectReference::default();
    let old_from = old.from.as_ref().unwrap_or(&empty);
    let ns = |n: &str| if n.is_empty() { stream_namespace.to_string() } else { n.to_string() };
    ns(&old_from.namespace) != ns(&from.namespace)
        || old_from.name != from.name
        || old.reference != new.reference
        || old.import_policy.import_mode != new.import_policy.import_mode
        || (new.generation == Some(0) && old.generation != Some(0))
}

/// Create (§3.6): generation 1 everywhere, submitted status discarded. Returns the tags to
/// resolve (all of them).
pub fn prepare_create(stream: &mut ImageStream) -> Vec<String> {
    stream.metadata.generation = Some(1);
    stream.status.tags.clear();
    for t in &mut stream.spec.tags {
        t.generation = Some(1);
    }
    stream.spec.tags.iter().map(|t| t.name.clone()).collect()
}

/// Update (§3.6): the client's status is ignored; a spec tag generation may only be set to 0;
/// any spec change bumps `metadata.generation`; new, changed, null or 0 tag generations become
/// the stream generation. Returns the new or changed tags, to resolve.
pub fn prepare_update(new: &mut ImageStream, old: &ImageStream) -> Vec<String> {
    new.status = old.status.clone();
    let ns = old.namespace().to_string();
    let mut changed = vec![];
    for t in &mut new.spec.tags {
        let old_tag = old.spec_tag(&t.name);
        let is_changed = match old_tag {
            None => true,
            Some(o) => tag_ref_changed(o, t, &ns),
        };
        if is_changed {
            changed.push(t.name.clone());
        }
        if t.generation != Some(0) {
            t.generation = old_tag.and_then(|o| o.generation);
        }
    }
    let old_gen = old.metadata.generation.unwrap_or(0);
    let generation = if new.spec != old.spec || old_gen == 0 { old_gen + 1 } else { old_gen };
    new.metadata.generation = Some(generation);
    for t in &mut new.spec.tags {
        if changed.contains(&t.name) || matches!(t.generation, None | Some(0)) {
            t.generation = Some(generation);
        }
    }
    changed
}

/// Everything a resolution needs from outside the stream being written.
pub struct ResolveContext<'a> {
    /// RFC 3339 "now" of this request.
    pub now: &'a str,
    /// The integrated registry host (`--registry-host`), for rewriting refs that point at the
    /// source stream in our registry to this stream.
    pub registry_host: &'a str,
    /// Source streams in other namespaces or other streams, keyed by (namespace, name); missing
    /// ones do not exist.
    pub other_streams: &'a BTreeMap<(String, String), ImageStream>,
}

/// The other streams the changed tags of `stream` read from, as (namespace, name).
pub fn source_streams(stream: &ImageStream, changed: &[String]) -> Vec<(String, String)> {
    let mut out = vec![];
    for name in changed {
        let Some(t) = stream.spec_tag(name) else { continue };
        let Some(from) = &t.from else { continue };
        let sep = match from.kind.as_str() {
            KIND_IMAGE_STREAM_TAG => ':',
            KIND_IMAGE_STREAM_IMAGE => '@',
            _ => continue,
        };
        let Ok((src_stream, _)) = parse_from_reference(&from.name, sep) else { continue };
        let ns = if from.namespace.is_empty() { stream.namespace().to_string() } else { from.namespace.clone() };
        let src = if src_stream.is_empty() { stream.metadata.name.clone() } else { src_stream };
        let key = (ns, src);
        if (key.0.as_str(), key.1.as_str()) != (stream.namespace(), stream.metadata.name.as_str()) && !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// Resolves each changed spec tag into a history event (§3.3), merges it, then propagates heads
/// to tracking tags. Errors are field errors for a 422 on the stream.
pub fn resolve_changed_tags(
    stream: &mut ImageStream,
    old: Option<&ImageStream>,
    changed: &[String],
    ctx: &ResolveContext,
) -> Result<(), Vec<FieldError>> {
    let mut errs = vec![];
    for name in changed {
        let Some(tag) = stream.spec_tag(name).cloned() else { continue };
        let Some(from) = &tag.from else { continue };
        let generation = tag.generation.unwrap_or(0);
        let field = format!("{}.from.name", tag_field(name));
        let event = match from.kind.as_str() {
            KIND_DOCKER_IMAGE if tag.reference => {
                Some(TagEvent { created: ctx.now.into(), docker_image_reference: from.name.clone(), image: String::new(), generation })
            }
            KIND_IMAGE_STREAM_TAG | KIND_IMAGE_STREAM_IMAGE => {
                let sep = if from.kind == KIND_IMAGE_STREAM_TAG { ':' } else { '@' };
                let (src_stream, key) = match parse_from_reference(&from.name, sep) {
                    Ok(p) => p,
                    Err(msg) => {
                        errs.push(FieldError::invalid(field, &from.name, msg));
                        continue;
                    }
                };
                let src_ns = if from.namespace.is_empty() { stream.namespace().to_string() } else { from.namespace.clone() };
                let src_name = if src_stream.is_empty() { stream.metadata.name.clone() } else { src_stream };
                let same = src_ns == stream.namespace() && src_name == stream.metadata.name;
                let source = if same { Some(&*stream) } else { ctx.other_streams.get(&(src_ns.clone(), src_name.clone())) };
                let Some(source) = source else {
                    errs.push(FieldError::not_found(field, &from.name));
                    continue;
                };
                let resolved = if sep == ':' {
                    source.head(&key).map(|h| TagEvent { generation, ..h.clone() })
                } else {
                    match resolve_image_id(source, &key) {
                        Ok(item) => Some(TagEvent { created: ctx.now.into(), generation, ..item }),
                        Err(e) => {
                            errs.push(FieldError::invalid(field, &from.name, format!("error generating tag event: {}", e.message())));
                            continue;
                        }
                    }
                };
                resolved.map(|mut ev| {
                    if !tag.reference && !ctx.registry_host.is_empty() {
                        let src_prefix = format!("{}/{}/{}", ctx.registry_host, src_ns, src_name);
                        if ev.docker_image_reference.starts_with(&src_prefix) && !ev.image.is_empty() {
                            ev.docker_image_reference =
                                format!("{}/{}/{}@{}", ctx.registry_host, stream.namespace(), stream.metadata.name, ev.image);
                        }
                    }
                    ev
                })
            }
            _ => None,
        };
        if let Some(ev) = event {
            add_tag_event(stream, name, ev);
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Every tag whose head moved in this write drives its tracking aliases.
    let moved: Vec<String> =
        stream.status.tags.iter().filter(|l| old.and_then(|o| o.head(&l.tag)) != l.items().first()).map(|l| l.tag.clone()).collect();
    update_tracking_tags(stream, &moved);
    Ok(())
}

/// True for a spec tag the import controller would import: a DockerImage that is not reference.
pub fn is_importable(tag: &TagReference) -> bool {
    tag.from.as_ref().is_some_and(|f| f.kind == KIND_DOCKER_IMAGE) && !tag.reference
}

/// Whether a tag tracks another tag of the same stream.
pub fn is_alias(stream: &ImageStream, tag: &TagReference) -> bool {
    tracked_tag(stream, tag.from.as_ref()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaa000000000000000000000000000000000000000000000000000000000001";
    const B: &str = "sha256:bbbb000000000000000000000000000000000000000000000000000000000002";

    fn docker(name: &str, from: &str) -> TagReference {
        TagReference {
            name: name.into(),
            from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: from.into(), namespace: String::new() }),
            ..Default::default()
        }
    }
    fn istag(name: &str, from: &str, ns: &str) -> TagReference {
        TagReference {
            name: name.into(),
            from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: from.into(), namespace: ns.into() }),
            ..Default::default()
        }
    }
    fn ctx<'a>(others: &'a BTreeMap<(String, String), ImageStream>) -> ResolveContext<'a> {
        ResolveContext { now: "2026-01-01T00:00:00Z", registry_host: "reg:5000", other_streams: others }
    }
    fn pushed(s: &mut ImageStream, tag: &str, image: &str, generation: i64) {
        add_tag_event(
            s,
            tag,
            TagEvent {
                created: "2025-01-01T00:00:00Z".into(),
                docker_image_reference: format!("q.io/o/a@{image}"),
                image: image.into(),
                generation,
            },
        );
    }

    #[test]
    fn spec_tag_validation_messages() {
        let mut t = docker("v1", "");
        t.from.as_mut().unwrap().name = String::new();
        assert_eq!(validate_spec_tag(&t)[0].to_string(), "spec.tags[v1].from.name: Required value");
        let mut t = docker("v1", "x");
        t.from.as_mut().unwrap().kind = "Pod".into();
        assert_eq!(
            validate_spec_tag(&t)[0].to_string(),
            "spec.tags[v1].from.kind: Required value: valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag'"
        );
        assert_eq!(
            validate_spec_tag(&docker("v1", "Bad")).remove(0).to_string(),
            "spec.tags[v1].from.name: Invalid value: \"Bad\": repository name must be lowercase"
        );
        let mut t = istag("v1", "x", "");
        t.import_policy.scheduled = true;
        assert_eq!(
            validate_spec_tag(&t)[0].to_string(),
            "spec.tags[v1].importPolicy.scheduled: Invalid value: true: only tags pointing to Docker repositories may be scheduled for background import"
        );
        let mut t = docker("v1", "x");
        t.reference_policy.kind = "Remote".into();
        t.import_policy.import_mode = "Fancy".into();
        let e: Vec<String> = validate_spec_tag(&t).iter().map(|e| e.to_string()).collect();
        assert_eq!(e[0], "spec.tags[v1].referencePolicy.type: Invalid value: \"Remote\": valid values are \"Source\", \"Local\"");
        assert_eq!(
            e[1],
            "spec.tags[v1].importPolicy.importMode: Invalid value: \"Fancy\": invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal'"
        );
        assert_eq!(
            validate_spec_tag(&docker("-bad", "x"))[0].to_string(),
            "spec.tags[-bad].name: Invalid value: \"-bad\": tags must start with an alphanumeric character followed by alphanumeric, '.' or '-' characters, and have a maximum of 128 characters"
        );
    }

    #[test]
    fn repository_may_not_carry_tag() {
        let mut s = ImageStream::new("ns", "app");
        s.spec.docker_image_repository = "q.io/a:1".into();
        assert_eq!(validate_image_stream(&s)[0].detail, "the repository name may not contain a tag");
    }

    #[test]
    fn generations_follow_upstream() {
        let mut old = ImageStream::new("ns", "app");
        old.spec.tags = vec![docker("v1", "q.io/a:1")];
        apply_defaults(&mut old);
        assert_eq!(prepare_create(&mut old), vec!["v1".to_string()]);
        assert_eq!(old.metadata.generation, Some(1));
        // Unchanged spec: nothing moves.
        let mut same = old.clone();
        same.spec.tags[0].generation = Some(42); // clients cannot set anything but 0
        assert!(prepare_update(&mut same, &old).is_empty());
        assert_eq!(same.metadata.generation, Some(1));
        assert_eq!(same.spec.tags[0].generation, Some(1));
        // Insecure only: stream generation moves, the tag's does not.
        let mut insecure = old.clone();
        insecure.spec.tags[0].import_policy.insecure = true;
        assert!(prepare_update(&mut insecure, &old).is_empty());
        assert_eq!((insecure.metadata.generation, insecure.spec.tags[0].generation), (Some(2), Some(1)));
        // Generation 0 forces a change.
        let mut again = old.clone();
        again.spec.tags[0].generation = Some(0);
        assert_eq!(prepare_update(&mut again, &old), vec!["v1".to_string()]);
        assert_eq!((again.metadata.generation, again.spec.tags[0].generation), (Some(2), Some(2)));
        // A new source and a new tag.
        let mut moved = old.clone();
        moved.spec.tags[0].from.as_mut().unwrap().name = "q.io/a:2".into();
        moved.set_spec_tag(docker("v2", "q.io/a:3"));
        apply_defaults(&mut moved);
        assert_eq!(prepare_update(&mut moved, &old), vec!["v1".to_string(), "v2".to_string()]);
        assert_eq!(moved.spec.tags.iter().map(|t| t.generation).collect::<Vec<_>>(), vec![Some(2), Some(2)]);
    }

    #[test]
    fn reference_docker_tag_gets_immediate_event() {
        let mut s = ImageStream::new("ns", "app");
        let mut t = docker("r", "q.io/a:1");
        t.reference = true;
        s.spec.tags = vec![t];
        let changed = prepare_create(&mut s);
        let others = BTreeMap::new();
        resolve_changed_tags(&mut s, None, &changed, &ctx(&others)).unwrap();
        let head = s.head("r").unwrap();
        assert_eq!((head.docker_image_reference.as_str(), head.image.as_str(), head.generation), ("q.io/a:1", "", 1));
        assert!(s.head("x").is_none());
    }

    #[test]
    fn istag_source_copies_head_with_destination_generation() {
        let mut src = ImageStream::new("other", "base");
        pushed(&mut src, "stable", A, 5);
        let others = BTreeMap::from([(("other".to_string(), "base".to_string()), src)]);
        let mut s = ImageStream::new("ns", "app");
        s.spec.tags =
            vec![istag("prod", "base:stable", "other"), istag("missing", "nope:x", "other"), istag("empty", "base:none", "other")];
        let changed = prepare_create(&mut s);
        let errs = resolve_changed_tags(&mut s.clone(), None, &changed, &ctx(&others)).unwrap_err();
        assert_eq!(errs[0].to_string(), "spec.tags[missing].from.name: Not found: \"nope:x\"");
        s.spec.tags.retain(|t| t.name != "missing");
        let changed = prepare_create(&mut s);
        resolve_changed_tags(&mut s, None, &changed, &ctx(&others)).unwrap();
        let h = s.head("prod").unwrap();
        assert_eq!((h.image.as_str(), h.generation, h.created.as_str()), (A, 1, "2025-01-01T00:00:00Z"));
        assert!(s.head("empty").is_none(), "a source without a head is accepted with no status");
    }

    #[test]
    fn isimage_source_resolves_prefix_and_rewrites_internal_refs() {
        let mut s = ImageStream::new("ns", "app");
        add_tag_event(
            &mut s,
            "latest",
            TagEvent { created: "c".into(), docker_image_reference: format!("reg:5000/ns/app@{A}"), image: A.into(), generation: 1 },
        );
        let mut other = ImageStream::new("ns", "copy");
        other.spec.tags = vec![TagReference {
            name: "pinned".into(),
            from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_IMAGE.into(), name: "app@aaaa".into(), namespace: String::new() }),
            ..Default::default()
        }];
        let others = BTreeMap::from([(("ns".to_string(), "app".to_string()), s)]);
        let changed = prepare_create(&mut other);
        resolve_changed_tags(&mut other, None, &changed, &ctx(&others)).unwrap();
        let h = other.head("pinned").unwrap();
        assert_eq!(h.docker_image_reference, format!("reg:5000/ns/copy@{A}"));
        assert_eq!(h.created, "2026-01-01T00:00:00Z");
        other.spec.tags[0].from.as_mut().unwrap().name = "app@ffff".into();
        let errs = resolve_changed_tags(&mut other, None, &changed, &ctx(&others)).unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "spec.tags[pinned].from.name: Invalid value: \"app@ffff\": error generating tag event: imagestreamimage.image.openshift.io \"ffff\" not found"
        );
    }

    #[test]
    fn alias_follows_source_and_creation_keeps_source_generation() {
        let mut old = ImageStream::new("ns", "app");
        old.metadata.generation = Some(3);
        old.spec.tags = vec![docker("latest", "q.io/a")];
        old.spec.tags[0].generation = Some(3);
        pushed(&mut old, "latest", A, 3);
        let mut new = old.clone();
        new.set_spec_tag(istag("stable", "latest", ""));
        apply_defaults(&mut new);
        let changed = prepare_update(&mut new, &old);
        let others = BTreeMap::new();
        resolve_changed_tags(&mut new, Some(&old), &changed, &ctx(&others)).unwrap();
        assert_eq!(new.head("stable").unwrap().generation, 4);
        assert_eq!(new.head("latest").unwrap().generation, 3, "PRODUCT difference 4");
        // The source moves (an import or push): the alias follows with the source's generation.
        let before = new.clone();
        pushed(&mut new, "latest", B, 9);
        resolve_changed_tags(&mut new, Some(&before), &[], &ctx(&others)).unwrap();
        let h = new.head("stable").unwrap();
        assert_eq!((h.image.as_str(), h.generation), (B, 9));
    }

    #[test]
    fn importable_and_alias_predicates() {
        let s = ImageStream::new("ns", "app");
        assert!(is_importable(&docker("a", "x")));
        let mut r = docker("a", "x");
        r.reference = true;
        assert!(!is_importable(&r));
        assert!(is_alias(&s, &istag("a", "app:b", "")));
        assert!(!is_alias(&s, &istag("a", "other:b", "")));
    }
}
