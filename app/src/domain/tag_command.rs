//! `oc tag` as a pure plan (spec §3.1–3.5): source-kind detection, flag checks, destination
//! parsing, the TagReference sent per destination and the messages printed. The CLI executes the
//! plan over HTTP; the web form uses the same checks. A broken rule is a [`TagCommandError`]:
//! oc's message, and the argument it concerns as data, so a form shows it at that field.
//!
//! Must not: do I/O (the caller reads the source tag's head and sends the requests) or know
//! about forms beyond naming the argument an error concerns.

use super::names::{invalid_tag_message, is_valid_tag_name};
use super::reference::DockerImageReference;
use crate::model::*;

/// The argument of `tag` a broken rule concerns; forms show the message next to that field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagField {
    /// SOURCE, and the flags that say how it is read and referenced (`--source`,
    /// `--reference-policy`, an alias across streams).
    Source,
    /// The destinations, and every other flag (`--alias`, the import flags, `--delete`).
    Destination,
}

impl TagField {
    /// The name of the form field: `"source"` or `"destination"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TagField::Source => "source",
            TagField::Destination => "destination",
        }
    }
}

/// A broken rule of `tag`: oc's message (its `Display`, exactly what the CLI prints) and the
/// argument it concerns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TagCommandError {
    pub field: TagField,
    pub message: String,
}

impl TagCommandError {
    fn source(message: impl Into<String>) -> Self {
        TagCommandError { field: TagField::Source, message: message.into() }
    }

    fn destination(message: impl Into<String>) -> Self {
        TagCommandError { field: TagField::Destination, message: message.into() }
    }
}

/// The message alone (what the CLI prints).
impl From<TagCommandError> for String {
    fn from(e: TagCommandError) -> String {
        e.message
    }
}

/// What the user typed.
#[derive(Clone, Debug, Default)]
pub struct TagArgs {
    pub args: Vec<String>,
    pub alias: bool,
    pub reference: bool,
    pub reference_policy: Option<String>,
    pub scheduled: bool,
    pub insecure: bool,
    pub import_mode: Option<String>,
    pub source_kind: Option<String>,
    pub delete: bool,
    /// The current project (`-n`).
    pub namespace: String,
}

/// One `[ns/]stream:tag` destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Destination {
    pub namespace: String,
    pub stream: String,
    pub tag: String,
}

impl Destination {
    /// `stream:tag`, or `ns/stream:tag` when outside the current project.
    pub fn label(&self, current: &str) -> String {
        if self.namespace == current {
            format!("{}:{}", self.stream, self.tag)
        } else {
            format!("{}/{}:{}", self.namespace, self.stream, self.tag)
        }
    }
}

/// The source of a tag operation after detection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagSource {
    pub kind: &'static str,
    pub reference: DockerImageReference,
}

/// A checked `tag` command. Built once per command, so the size difference of the variants
/// does not matter.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum TagPlan {
    Delete(Vec<Destination>),
    Set { source: TagSource, destinations: Vec<Destination>, template: TagReference, alias: bool, scheduled: bool },
}

fn parse_destination(arg: &str, check_tag: bool, current: &str) -> Result<Destination, TagCommandError> {
    let parts: Vec<&str> = arg.split('/').collect();
    let (ns, rest) = match parts.as_slice() {
        [rest] => (current.to_string(), *rest),
        [ns, rest] => {
            if ns.is_empty() {
                return Err(TagCommandError::destination(format!("invalid namespace \"\" for image stream {arg:?}")));
            }
            (ns.to_string(), *rest)
        }
        _ => return Err(TagCommandError::destination(format!("invalid image stream {arg:?}"))),
    };
    let Some((stream, tag)) = rest.split_once(':') else {
        return Err(TagCommandError::destination(format!("{arg:?} must be of the form <stream_name>:<tag>")));
    };
    if stream.is_empty() {
        return Err(TagCommandError::destination(format!("invalid name \"\" for image stream {arg:?}")));
    }
    if check_tag && !is_valid_tag_name(tag) {
        return Err(TagCommandError::destination(invalid_tag_message(tag)));
    }
    Ok(Destination { namespace: ns, stream: stream.to_string(), tag: tag.to_string() })
}

fn kind_from_flag(flag: &str) -> Result<&'static str, TagCommandError> {
    match flag.to_ascii_lowercase().as_str() {
        "imagestreamtag" | "istag" => Ok(KIND_IMAGE_STREAM_TAG),
        "imagestreamimage" | "isimage" => Ok(KIND_IMAGE_STREAM_IMAGE),
        "docker" | "dockerimage" => Ok(KIND_DOCKER_IMAGE),
        _ => Err(TagCommandError::source(format!(
            "invalid source {flag:?}; valid values are docker, dockerimage, imagestreamimage, imagestreamtag, isimage, istag"
        ))),
    }
}

/// Detects the source kind of a parsed SOURCE without `--source` (spec §3.1).
pub fn detect_source_kind(r: &DockerImageReference) -> &'static str {
    if !r.registry.is_empty() {
        KIND_DOCKER_IMAGE
    } else if !r.id.is_empty() && super::reference::is_digest(&r.id) {
        KIND_IMAGE_STREAM_IMAGE
    } else if !r.tag.is_empty() {
        KIND_IMAGE_STREAM_TAG
    } else {
        KIND_DOCKER_IMAGE
    }
}

/// Checks the arguments and flags and builds the plan. Errors are oc's messages, with the
/// argument they concern.
pub fn plan_tag(a: &TagArgs) -> Result<TagPlan, TagCommandError> {
    if a.delete {
        if a.alias {
            return Err(TagCommandError::destination("--alias and --delete may not be both specified"));
        }
        if a.source_kind.is_some() {
            return Err(TagCommandError::source("cannot specify a source kind when deleting"));
        }
        if a.args.is_empty() {
            return Err(TagCommandError::source("you must specify a source and at least one destination or one or more tags to delete"));
        }
        if a.scheduled || a.insecure {
            return Err(TagCommandError::destination("cannot set flags for importing images when deleting a tag"));
        }
        if a.import_mode.is_some() {
            return Err(TagCommandError::destination("cannot specify an import mode when deleting"));
        }
        let dests = a.args.iter().map(|d| parse_destination(d, false, &a.namespace)).collect::<Result<_, _>>()?;
        return Ok(TagPlan::Delete(dests));
    }
    let Some((source_arg, dest_args)) = a.args.split_first() else {
        return Err(TagCommandError::source("you must specify a source and at least one destination or one or more tags to delete"));
    };
    let policy = match a.reference_policy.as_deref() {
        None | Some("source") => REFERENCE_POLICY_SOURCE,
        Some("local") => REFERENCE_POLICY_LOCAL,
        Some(_) => return Err(TagCommandError::source("reference policy must be set to 'source' or 'local'")),
    };
    let mode = match a.import_mode.as_deref() {
        None | Some(IMPORT_MODE_LEGACY) => IMPORT_MODE_LEGACY,
        Some(IMPORT_MODE_PRESERVE_ORIGINAL) => IMPORT_MODE_PRESERVE_ORIGINAL,
        Some(_) => return Err(TagCommandError::destination("valid ImportMode values are Legacy or PreserveOriginal")),
    };
    let mut reference = DockerImageReference::parse(source_arg).map_err(|e| TagCommandError::source(format!("invalid SOURCE: {e}")))?;
    let kind = match &a.source_kind {
        Some(flag) => kind_from_flag(flag)?,
        None => detect_source_kind(&reference),
    };
    if kind != KIND_DOCKER_IMAGE {
        if !reference.registry.is_empty() {
            return Err(TagCommandError::source("server in SOURCE is only allowed when providing a container image"));
        }
        if reference.namespace == "library" {
            reference.namespace = a.namespace.clone();
        }
        if kind == KIND_IMAGE_STREAM_TAG && reference.tag.is_empty() {
            return Err(TagCommandError::source("--source=ImageStreamTag requires a valid <name>:<tag> in SOURCE"));
        }
        if kind == KIND_IMAGE_STREAM_IMAGE && reference.id.is_empty() {
            return Err(TagCommandError::source("--source=ImageStreamImage requires a valid <name>@<id> in SOURCE"));
        }
    }
    if dest_args.is_empty() {
        return Err(TagCommandError::destination("at least a destination is required"));
    }
    let destinations: Vec<Destination> = dest_args.iter().map(|d| parse_destination(d, true, &a.namespace)).collect::<Result<_, _>>()?;
    // oc's order: the importing flags' rule first, then the alias rules.
    if kind != KIND_DOCKER_IMAGE && (a.scheduled || a.insecure) {
        return Err(TagCommandError::destination("only container images can have importing flags set"));
    }
    if a.alias && (a.scheduled || a.insecure) {
        return Err(TagCommandError::destination("cannot set a container image tag as an alias and also set import flags"));
    }
    if a.alias && destinations.iter().any(|d| d.namespace != a.namespace || d.stream != reference.name) {
        return Err(TagCommandError::source("cannot set alias across different Image Streams"));
    }
    let template = TagReference {
        reference: a.reference,
        import_policy: TagImportPolicy { insecure: a.insecure, scheduled: a.scheduled, import_mode: mode.into() },
        reference_policy: TagReferencePolicy { kind: policy.into() },
        ..Default::default()
    };
    Ok(TagPlan::Set { source: TagSource { kind, reference }, destinations, template, alias: a.alias, scheduled: a.scheduled })
}

/// Where the stream page's tag form takes its image from (issue 17 point 2): said explicitly,
/// so a bare `build-42` is never taken for `docker.io/library/build-42`.
pub const FROM_THIS_STREAM: &str = "here";
/// A tag of another stream (`stream:tag` or `namespace/stream:tag`).
pub const FROM_OTHER_STREAM: &str = "stream";
/// An image in a registry (`registry/repository:tag` or `@digest`).
pub const FROM_REGISTRY: &str = "registry";

/// What "a tag or image of this stream" names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ThisStreamSource {
    /// A tag of the stream.
    Tag(String),
    /// An image of the stream by digest or digest prefix (with or without `sha256:`).
    Image(String),
}

/// Reads the form's source for [`FROM_THIS_STREAM`]: a tag name (`build-42`, or `app:build-42`
/// for the stream `app`) or an image's digest, a prefix of it will do (`3695d50`,
/// `sha256:3695…`, `@3695d50`). `has_tag` says whether the stream has a tag of that name (a tag
/// named like hex wins over a digest prefix).
pub fn this_stream_source(stream: &str, input: &str, has_tag: impl Fn(&str) -> bool) -> Result<ThisStreamSource, String> {
    let x = input.trim();
    let x = x.strip_prefix(&format!("{stream}:")).or_else(|| x.strip_prefix(&format!("{stream}@"))).unwrap_or(x);
    let x = x.strip_prefix('@').unwrap_or(x);
    if x.is_empty() {
        return Err("Pick a tag from the list, or give an image's digest".into());
    }
    if has_tag(x) {
        return Ok(ThisStreamSource::Tag(x.to_string()));
    }
    let hex = x.strip_prefix("sha256:").unwrap_or(x);
    if hex.len() >= 4 && hex.len() <= 64 && hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Ok(ThisStreamSource::Image(hex.to_ascii_lowercase()));
    }
    if x.contains([':', '/', '@']) {
        return Err("That names another stream or a registry: choose \"A tag of another stream\" or \"An image in a registry\"".into());
    }
    Err(format!("This stream has no tag {x}. Pick a tag from the list, or give an image's digest (a prefix will do)"))
}

/// The form's destination as `stream:tag`: a bare tag name is a tag of `stream`; anything with
/// a `:` is taken as written (`other:tag`, `ns/other:tag`).
pub fn form_destination(stream: &str, destination: &str) -> String {
    let d = destination.trim();
    if d.contains(':') || d.is_empty() { d.to_string() } else { format!("{stream}:{d}") }
}

/// The spec tag to send to one destination. `resolved` is the head of the source tag, needed
/// only for a permanent (non-alias) ImageStreamTag source: the tag is pinned to that digest.
/// Returns the TagReference and the source as printed in the message.
pub fn tag_reference_for(
    source: &TagSource,
    dest: &Destination,
    template: &TagReference,
    alias: bool,
    current: &str,
    resolved: Option<&TagEvent>,
) -> Result<(TagReference, String), TagCommandError> {
    let r = &source.reference;
    let mut tag = template.clone();
    tag.name = dest.tag.clone();
    // The source namespace as sent: the one typed, else the current project when the
    // destination is elsewhere.
    let src_ns = if !r.namespace.is_empty() {
        r.namespace.clone()
    } else if dest.namespace != current {
        current.to_string()
    } else {
        String::new()
    };
    let printed;
    match source.kind {
        KIND_DOCKER_IMAGE => {
            tag.from = Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: r.exact(), namespace: String::new() });
            tag.generation = Some(0);
            printed = r.exact();
        }
        KIND_IMAGE_STREAM_TAG if !alias => {
            let Some(head) = resolved else {
                return Err(TagCommandError::source(format!(
                    "{:?} is not currently pointing to an image, cannot use it as the source of a tag",
                    r.exact()
                )));
            };
            if head.image.is_empty() {
                tag.from = Some(ObjectReference {
                    kind: KIND_DOCKER_IMAGE.into(),
                    name: head.docker_image_reference.clone(),
                    namespace: String::new(),
                });
                printed = head.docker_image_reference.clone();
            } else {
                let name = format!("{}@{}", r.name, head.image);
                tag.from = Some(ObjectReference { kind: KIND_IMAGE_STREAM_IMAGE.into(), name: name.clone(), namespace: src_ns });
                printed = name;
            }
        }
        KIND_IMAGE_STREAM_TAG => {
            let name = format!("{}:{}", r.name, r.tag);
            tag.from = Some(ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: name.clone(), namespace: src_ns });
            printed = r.exact();
        }
        _ => {
            let name = format!("{}@{}", r.name, r.id);
            tag.from = Some(ObjectReference { kind: KIND_IMAGE_STREAM_IMAGE.into(), name: name.clone(), namespace: src_ns });
            printed = r.exact();
        }
    }
    Ok((tag, printed))
}

/// The line printed after a destination was set.
pub fn tag_message(dest: &Destination, current: &str, source: &str, alias: bool, scheduled: bool) -> String {
    if alias {
        return format!("Tag {} set up to track {}.", dest.label(current), source);
    }
    if scheduled {
        if dest.namespace != current {
            return format!("Tag {} set to {} periodically.", dest.label(current), source);
        }
        return format!("Tag {} set to import {} periodically.", dest.label(current), source);
    }
    format!("Tag {} set to {}.", dest.label(current), source)
}

/// The line printed after a destination was deleted.
pub fn delete_message(dest: &Destination) -> String {
    format!("Deleted tag {}/{}:{}.", dest.namespace, dest.stream, dest.tag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> TagArgs {
        TagArgs { args: a.iter().map(|s| s.to_string()).collect(), namespace: "demo".into(), ..Default::default() }
    }
    fn err(a: TagArgs) -> String {
        plan_tag(&a).unwrap_err().to_string()
    }
    fn field(a: TagArgs) -> TagField {
        plan_tag(&a).unwrap_err().field
    }
    fn source_kind(s: &str) -> &'static str {
        match plan_tag(&args(&[s, "app:t"])).unwrap() {
            TagPlan::Set { source, .. } => source.kind,
            _ => unreachable!(),
        }
    }

    #[test]
    fn detects_source_kinds() {
        assert_eq!(source_kind("busybox"), KIND_DOCKER_IMAGE);
        assert_eq!(source_kind("busybox:latest"), KIND_IMAGE_STREAM_TAG);
        assert_eq!(source_kind("docker.io/busybox:latest"), KIND_DOCKER_IMAGE);
        assert_eq!(source_kind(&format!("app@sha256:{}", "a".repeat(64))), KIND_IMAGE_STREAM_IMAGE);
        assert_eq!(source_kind("other/app:v1"), KIND_IMAGE_STREAM_TAG);
    }

    #[test]
    fn flag_and_argument_errors() {
        assert_eq!(err(args(&[])), "you must specify a source and at least one destination or one or more tags to delete");
        assert_eq!(err(args(&["a:b"])), "at least a destination is required");
        assert_eq!(err(args(&["Bad", "a:b"])), "invalid SOURCE: repository name must be lowercase");
        let mut a = args(&["x", "a:b"]);
        a.source_kind = Some("pod".into());
        assert_eq!(
            err(a),
            "invalid source \"pod\"; valid values are docker, dockerimage, imagestreamimage, imagestreamtag, isimage, istag"
        );
        let mut a = args(&["q.io/x:1", "a:b"]);
        a.source_kind = Some("ISTag".into());
        assert_eq!(err(a), "server in SOURCE is only allowed when providing a container image");
        let mut a = args(&["x", "a:b"]);
        a.source_kind = Some("istag".into());
        assert_eq!(err(a), "--source=ImageStreamTag requires a valid <name>:<tag> in SOURCE");
        let mut a = args(&["x:1", "a:b"]);
        a.source_kind = Some("isimage".into());
        assert_eq!(err(a), "--source=ImageStreamImage requires a valid <name>@<id> in SOURCE");
        let mut a = args(&["app:1", "app:b"]);
        a.alias = true;
        a.scheduled = true;
        assert_eq!(err(a), "only container images can have importing flags set", "the importing flags' rule comes first");
        let mut a = args(&["q.io/app:1", "app:b"]);
        a.alias = true;
        a.scheduled = true;
        assert_eq!(err(a), "cannot set a container image tag as an alias and also set import flags");
        let mut a = args(&["app:1", "other:b"]);
        a.alias = true;
        assert_eq!(err(a), "cannot set alias across different Image Streams");
        let mut a = args(&["app:1", "x/app:b"]);
        a.alias = true;
        assert_eq!(err(a), "cannot set alias across different Image Streams");
        let mut a = args(&["app:1", "app:b"]);
        a.insecure = true;
        assert_eq!(err(a), "only container images can have importing flags set");
        let mut a = args(&["q.io/a", "app:b"]);
        a.reference_policy = Some("Local".into());
        assert_eq!(err(a), "reference policy must be set to 'source' or 'local'");
        let mut a = args(&["q.io/a", "app:b"]);
        a.import_mode = Some("legacy".into());
        assert_eq!(err(a), "valid ImportMode values are Legacy or PreserveOriginal");
        assert_eq!(err(args(&["q.io/a", "app"])), "\"app\" must be of the form <stream_name>:<tag>");
        assert_eq!(err(args(&["q.io/a", "a/b/c:d"])), "invalid image stream \"a/b/c:d\"");
        assert_eq!(err(args(&["q.io/a", "/app:t"])), "invalid namespace \"\" for image stream \"/app:t\"");
        assert_eq!(err(args(&["q.io/a", ":t"])), "invalid name \"\" for image stream \":t\"");
        assert!(err(args(&["q.io/a", "app:-t"])).starts_with("invalid tag \"-t\" format, tags must start"));
    }

    #[test]
    fn error_fields() {
        assert_eq!(field(args(&["Bad", "a:b"])), TagField::Source, "invalid SOURCE");
        let mut a = args(&["app:1", "other:b"]);
        a.alias = true;
        assert_eq!(field(a), TagField::Source, "alias across streams");
        assert_eq!(field(args(&["q.io/a", "app"])), TagField::Destination, "must be of the form <stream_name>:<tag>");
        // The field is data, not read from the text: a destination that mentions "source".
        assert_eq!(field(args(&["q.io/a", "source"])), TagField::Destination);
        assert_eq!(TagField::Source.as_str(), "source");
        assert_eq!(TagField::Destination.as_str(), "destination");
        assert_eq!(String::from(plan_tag(&args(&["a:b"])).unwrap_err()), "at least a destination is required");
    }

    #[test]
    fn delete_checks() {
        let mut a = args(&["app:t"]);
        a.delete = true;
        a.alias = true;
        assert_eq!(err(a), "--alias and --delete may not be both specified");
        let mut a = args(&["app:t"]);
        a.delete = true;
        a.scheduled = true;
        assert_eq!(err(a), "cannot set flags for importing images when deleting a tag");
        let mut a = args(&["app:t"]);
        a.delete = true;
        a.import_mode = Some("Legacy".into());
        assert_eq!(err(a), "cannot specify an import mode when deleting");
        let mut a = args(&["app:t"]);
        a.delete = true;
        a.source_kind = Some("istag".into());
        assert_eq!(err(a), "cannot specify a source kind when deleting");
        let mut a = args(&["app:t", "o/app:u"]);
        a.delete = true;
        let TagPlan::Delete(d) = plan_tag(&a).unwrap() else { unreachable!() };
        assert_eq!(delete_message(&d[1]), "Deleted tag o/app:u.");
    }

    #[test]
    fn references_sent_per_kind() {
        let a = args(&["docker.io/busybox:1", "app:t"]);
        let TagPlan::Set { source, destinations, template, alias, .. } = plan_tag(&a).unwrap() else { unreachable!() };
        let (t, printed) = tag_reference_for(&source, &destinations[0], &template, alias, "demo", None).unwrap();
        assert_eq!(t.from.unwrap().name, "docker.io/busybox:1", "exact, no library inserted");
        assert_eq!((t.generation, t.import_policy.import_mode.as_str()), (Some(0), "Legacy"));
        assert_eq!(tag_message(&destinations[0], "demo", &printed, false, false), "Tag app:t set to docker.io/busybox:1.");

        let a = args(&["app:v1", "other/app:t"]);
        let TagPlan::Set { source, destinations, template, .. } = plan_tag(&a).unwrap() else { unreachable!() };
        let d = format!("sha256:{}", "b".repeat(64));
        let head = TagEvent { image: d.clone(), docker_image_reference: format!("q.io/a@{d}"), ..Default::default() };
        let (t, printed) = tag_reference_for(&source, &destinations[0], &template, false, "demo", Some(&head)).unwrap();
        let from = t.from.unwrap();
        assert_eq!(
            (from.kind.as_str(), from.name.as_str(), from.namespace.as_str()),
            (KIND_IMAGE_STREAM_IMAGE, format!("app@{d}").as_str(), "demo")
        );
        assert_eq!(t.generation, None);
        assert_eq!(tag_message(&destinations[0], "demo", &printed, false, false), format!("Tag other/app:t set to app@{d}."));
        assert_eq!(
            tag_reference_for(&source, &destinations[0], &template, false, "demo", None).unwrap_err().to_string(),
            "\"app:v1\" is not currently pointing to an image, cannot use it as the source of a tag"
        );

        let mut a = args(&["app:v1", "app:stable"]);
        a.alias = true;
        let TagPlan::Set { source, destinations, template, alias, .. } = plan_tag(&a).unwrap() else { unreachable!() };
        let (t, printed) = tag_reference_for(&source, &destinations[0], &template, alias, "demo", None).unwrap();
        assert_eq!(t.from.unwrap().name, "app:v1");
        assert_eq!(tag_message(&destinations[0], "demo", &printed, true, false), "Tag app:stable set up to track app:v1.");

        let mut a = args(&["q.io/a:1", "app:s"]);
        a.scheduled = true;
        let TagPlan::Set { destinations, .. } = plan_tag(&a).unwrap() else { unreachable!() };
        assert_eq!(tag_message(&destinations[0], "demo", "q.io/a:1", false, true), "Tag app:s set to import q.io/a:1 periodically.");
    }

    #[test]
    fn the_forms_source_of_this_stream_is_a_tag_or_an_image() {
        let tags = ["build-42", "abcd1234"];
        let has = |t: &str| tags.contains(&t);
        assert_eq!(this_stream_source("app", "build-42", has), Ok(ThisStreamSource::Tag("build-42".into())));
        assert_eq!(
            this_stream_source("app", "app:build-42", has),
            Ok(ThisStreamSource::Tag("build-42".into())),
            "this stream's name may lead"
        );
        assert_eq!(this_stream_source("app", "abcd1234", has), Ok(ThisStreamSource::Tag("abcd1234".into())), "a tag named like hex wins");
        assert_eq!(this_stream_source("app", "3695d50", has), Ok(ThisStreamSource::Image("3695d50".into())), "a digest prefix");
        assert_eq!(this_stream_source("app", "app@3695D50", has), Ok(ThisStreamSource::Image("3695d50".into())));
        assert_eq!(this_stream_source("app", "sha256:3695d50", has), Ok(ThisStreamSource::Image("3695d50".into())));
        assert!(this_stream_source("app", "nginx:latest", has).unwrap_err().contains("another stream"));
        assert!(this_stream_source("app", "build-43", has).unwrap_err().starts_with("This stream has no tag build-43."));
        assert!(this_stream_source("app", " ", has).is_err());
        assert_eq!(form_destination("app", "prod"), "app:prod", "a bare tag name is a tag of this stream");
        assert_eq!(form_destination("app", "web:prod"), "web:prod");
        assert_eq!(form_destination("app", ""), "");
    }
}
