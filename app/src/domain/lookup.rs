//! Finding images inside a stream: ImageStreamImage id prefixes (spec §5.2, PRODUCT difference 2)
//! the pull spec a tag hands out under its reference policy (spec §6.1), and the pull specs of
//! a tag in the portal's own registry (what the pages, `describe` and `get istag -o wide` show).
//!
//! Must not: read streams or images from storage (the caller hands in the stream).

use super::reference::{DockerImageReference, is_digest};
use crate::model::{ApiError, ImageStream, REFERENCE_POLICY_LOCAL, RES_IMAGESTREAMIMAGE_SINGULAR, TagEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `DigestOrImageMatch`: for a digest image name, `id` matches when the hex part or the whole
/// name starts with it; otherwise only the whole-name prefix counts. No minimum length.
pub fn digest_or_image_match(image: &str, id: &str) -> bool {
    if is_digest(image)
        && let Some((_, hex)) = image.split_once(':')
        && hex.starts_with(id)
    {
        return true;
    }
    image.starts_with(id)
}

fn ambiguous(name: &str, id: &str, mut matches: Vec<String>) -> ApiError {
    matches.sort();
    matches.dedup();
    ApiError::conflict(RES_IMAGESTREAMIMAGE_SINGULAR, name, &format!("multiple images match the prefix {id:?}: {}", matches.join(", ")))
}

/// Spec-tag resolution (`ResolveImageID`): searches every history item of every tag. Exactly one
/// distinct image → that item (its ref); none → NotFound; several → Conflict listing them.
pub fn resolve_image_id(stream: &ImageStream, id: &str) -> Result<TagEvent, ApiError> {
    let mut found: BTreeMap<String, TagEvent> = BTreeMap::new();
    for list in &stream.status.tags {
        for item in list.items() {
            if !item.image.is_empty() && digest_or_image_match(&item.image, id) {
                found.entry(item.image.clone()).or_insert_with(|| item.clone());
            }
        }
    }
    match found.len() {
        0 => Err(ApiError::not_found(RES_IMAGESTREAMIMAGE_SINGULAR, id)),
        1 => Ok(found.into_values().next().unwrap_or_default()),
        _ => Err(ambiguous(id, id, found.into_keys().collect())),
    }
}

/// GET `imagestreamimages/<stream>@<id>`: searches the stream's layers view, i.e. every image of
/// the history plus the children of manifest lists (`children` maps a list digest to its child
/// digests). Several matches are a Conflict (PRODUCT difference 2), not an arbitrary pick.
pub fn find_stream_image(stream: &ImageStream, id: &str, children: &BTreeMap<String, Vec<String>>) -> Result<String, ApiError> {
    let name = format!("{}@{}", stream.metadata.name, id);
    let mut found: Vec<String> = vec![];
    let mut consider = |digest: &str| {
        if digest_or_image_match(digest, id) && !found.iter().any(|f| f == digest) {
            found.push(digest.to_string());
        }
    };
    for list in &stream.status.tags {
        for item in list.items() {
            if item.image.is_empty() {
                continue;
            }
            consider(&item.image);
            for child in children.get(&item.image).into_iter().flatten() {
                consider(child);
            }
        }
    }
    match found.len() {
        0 => Err(ApiError::not_found(RES_IMAGESTREAMIMAGE_SINGULAR, &name)),
        1 => Ok(found.remove(0)),
        _ => Err(ambiguous(&name, id, found)),
    }
}

/// The pull spec handed out for a tag's head: `Source` gives the head's reference verbatim;
/// `Local` gives `<status.dockerImageRepository>@<image>`, falling back to the head's reference
/// when there is no repository, no image, or the repository does not parse.
pub fn resolved_pull_spec(stream: &ImageStream, tag: &str) -> Option<String> {
    let head = stream.head(tag)?;
    let local = stream.spec_tag(tag).is_some_and(|t| t.reference_policy.kind == REFERENCE_POLICY_LOCAL);
    Some(pull_spec_for_event(stream, head, local))
}

/// `ResolveReferenceForTagEvent` for one event.
pub fn pull_spec_for_event(stream: &ImageStream, event: &TagEvent, local: bool) -> String {
    let repo = &stream.status.docker_image_repository;
    if local
        && !repo.is_empty()
        && !event.image.is_empty()
        && let Ok(mut r) = DockerImageReference::parse(repo)
    {
        r.tag.clear();
        r.id = event.image.clone();
        return r.exact();
    }
    event.docker_image_reference.clone()
}

/// A tag's pull specs in the portal's integrated registry (`/v2`): by tag and by its head's
/// digest. The registry serves every status tag whose head has an image, whatever the tag's
/// reference policy (under `Source` the image is pulled through from its source); a tag without
/// one is not there, so it has no pull specs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryPullSpecs {
    /// `<status.dockerImageRepository>:<tag>`.
    pub by_tag: String,
    /// `<status.dockerImageRepository>@<head image>`.
    pub by_digest: String,
    /// The head's image (the digest `by_digest` names).
    pub image: String,
}

/// [`RegistryPullSpecs`] of `tag`: `None` when the stream has no repository (no registry host)
/// or the tag has no head with an image.
pub fn registry_pull_specs(stream: &ImageStream, tag: &str) -> Option<RegistryPullSpecs> {
    registry_pull_specs_of(stream, tag, stream.head(tag))
}

/// [`registry_pull_specs`] with the tag's head already found.
pub fn registry_pull_specs_of(stream: &ImageStream, tag: &str, head: Option<&TagEvent>) -> Option<RegistryPullSpecs> {
    let repo = &stream.status.docker_image_repository;
    let head = head.filter(|h| !h.image.is_empty())?;
    if repo.is_empty() {
        return None;
    }
    let mut by_digest = DockerImageReference::parse(repo).ok()?;
    by_digest.tag.clear();
    by_digest.id = head.image.clone();
    Some(RegistryPullSpecs { by_tag: format!("{repo}:{tag}"), by_digest: by_digest.exact(), image: head.image.clone() })
}

/// The command a person copies to pull `spec` (the portal speaks the registry protocol, so
/// any client works; podman is the one the pages name).
pub fn pull_command(spec: &str) -> String {
    format!("podman pull {spec}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::add_tag_event;
    use crate::model::{TagReference, TagReferencePolicy};

    const A: &str = "sha256:aaaa000000000000000000000000000000000000000000000000000000000001";
    const B: &str = "sha256:aaab000000000000000000000000000000000000000000000000000000000002";
    const C: &str = "sha256:cccc000000000000000000000000000000000000000000000000000000000003";

    fn stream() -> ImageStream {
        let mut s = ImageStream::new("ns", "app");
        let ev =
            |i: &str| TagEvent { created: "t".into(), docker_image_reference: format!("q.io/o/a@{i}"), image: i.into(), generation: 1 };
        add_tag_event(&mut s, "x", ev(A));
        add_tag_event(&mut s, "x", ev(B));
        add_tag_event(&mut s, "y", ev(A));
        s
    }

    #[test]
    fn prefix_matching() {
        assert!(digest_or_image_match(A, "aaaa"));
        assert!(digest_or_image_match(A, "sha256:aaaa"));
        assert!(digest_or_image_match(A, "sha"));
        assert!(!digest_or_image_match(A, "bbbb"));
        assert!(digest_or_image_match("legacy-id", "leg"));
    }

    #[test]
    fn resolve_image_id_unique_missing_ambiguous() {
        let s = stream();
        assert_eq!(resolve_image_id(&s, "aaaa").unwrap().image, A, "same image in two tags is one match");
        let e = resolve_image_id(&s, "cc").unwrap_err();
        assert_eq!(e.message(), "imagestreamimage.image.openshift.io \"cc\" not found");
        let e = resolve_image_id(&s, "aaa").unwrap_err();
        assert_eq!(e.code(), 409);
        assert_eq!(
            e.message(),
            format!(
                "Operation cannot be fulfilled on imagestreamimage.image.openshift.io \"aaa\": multiple images match the prefix \"aaa\": {A}, {B}"
            )
        );
    }

    #[test]
    fn find_stream_image_includes_manifest_list_children() {
        let s = stream();
        let children = BTreeMap::from([(B.to_string(), vec![C.to_string()])]);
        assert_eq!(find_stream_image(&s, "cccc", &children).unwrap(), C);
        assert_eq!(
            find_stream_image(&s, "cccc", &BTreeMap::new()).unwrap_err().message(),
            "imagestreamimage.image.openshift.io \"app@cccc\" not found"
        );
        assert_eq!(find_stream_image(&s, "aaa", &children).unwrap_err().code(), 409);
    }

    #[test]
    fn reference_policy_source_and_local() {
        let mut s = stream();
        assert_eq!(resolved_pull_spec(&s, "x").unwrap(), format!("q.io/o/a@{B}"));
        s.set_spec_tag(TagReference {
            name: "x".into(),
            reference_policy: TagReferencePolicy { kind: "Local".into() },
            ..Default::default()
        });
        assert_eq!(resolved_pull_spec(&s, "x").unwrap(), format!("q.io/o/a@{B}"), "no repository: fall back");
        s.status.docker_image_repository = "reg.local:5000/ns/app".into();
        assert_eq!(resolved_pull_spec(&s, "x").unwrap(), format!("reg.local:5000/ns/app@{B}"));
        assert_eq!(resolved_pull_spec(&s, "nope"), None);
    }

    #[test]
    fn registry_pull_specs_by_tag_and_by_head_digest() {
        let mut s = stream();
        assert_eq!(registry_pull_specs(&s, "x"), None, "no registry host: no repository");
        s.status.docker_image_repository = "127.0.0.1:3000/ns/app".into();
        let x = registry_pull_specs(&s, "x").unwrap();
        assert_eq!(x.by_tag, "127.0.0.1:3000/ns/app:x");
        assert_eq!(x.by_digest, format!("127.0.0.1:3000/ns/app@{B}"), "the head, whatever the policy");
        assert_eq!(x.image, B);
        assert_eq!(registry_pull_specs(&s, "nosuch"), None);
        add_tag_event(
            &mut s,
            "ref",
            TagEvent { created: "t".into(), docker_image_reference: "q.io/o/a:r".into(), image: String::new(), generation: 1 },
        );
        assert_eq!(registry_pull_specs(&s, "ref"), None, "a reference-only head is not in the registry");
        assert_eq!(pull_command(&x.by_tag), "podman pull 127.0.0.1:3000/ns/app:x");
    }
}
