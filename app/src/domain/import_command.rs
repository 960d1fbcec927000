//! `oc import-image` as a pure plan (spec §4.1): the checks oc makes on the command line, the
//! ImageStreamImport sent for the stream as it is now (following same-stream aliases to the tag
//! really imported, inheriting each tag's import flags), and what the answer reports. The CLI
//! reads the stream, sends the request and prints; every rule and message is here.
//!
//! Must not: do I/O, or print the stream (that is the CLI's `describe`).

use super::reference::DockerImageReference;
use super::streams::is_importable;
use crate::model::*;

/// What the user typed.
#[derive(Clone, Debug, Default)]
pub struct ImportArgs {
    /// `NAME[:TAG]`: the stream (and tag) to import into.
    pub name: String,
    /// The image to import; default: NAME as written.
    pub from: Option<String>,
    pub confirm: bool,
    pub all: bool,
    pub scheduled: bool,
    pub insecure: bool,
    pub reference_policy: Option<String>,
    pub import_mode: Option<String>,
    pub dry_run: bool,
    /// The current project (`-n`).
    pub namespace: String,
}

/// An `import-image` command whose arguments passed oc's checks.
#[derive(Clone, Debug)]
pub struct ImportPlan {
    args: ImportArgs,
    /// NAME parsed: its `name` is the stream, its `tag` the tag (empty: `latest`).
    target: DockerImageReference,
    reference_policy: &'static str,
    import_mode: &'static str,
}

/// The first message oc prints when the imported stream had failures; the command then exits 1.
pub const IMPORT_FAILED: &str = "imported completed with errors";

/// Checks the arguments and flags, before anything is read from the server. Errors are oc's
/// messages.
pub fn plan_import(args: ImportArgs) -> Result<ImportPlan, String> {
    let target = DockerImageReference::parse(&args.name).map_err(|_| {
        "the image name must be a valid container image pull spec or reference to an image stream (e.g. myregistry/myteam/image:tag)"
            .to_string()
    })?;
    if !target.id.is_empty() {
        return Err("to import images by ID, use the 'tag' command".into());
    }
    if !target.tag.is_empty() && args.all {
        return Err(format!("cannot specify a tag {:?} as well as --all", args.name));
    }
    // Unlike `tag`, oc reads this flag case-insensitively here.
    let reference_policy = match args.reference_policy.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("source") => REFERENCE_POLICY_SOURCE,
        Some("local") => REFERENCE_POLICY_LOCAL,
        Some(_) => return Err("valid reference policy values are source or local".into()),
    };
    let import_mode = match args.import_mode.as_deref() {
        None | Some(IMPORT_MODE_LEGACY) => IMPORT_MODE_LEGACY,
        Some(IMPORT_MODE_PRESERVE_ORIGINAL) => IMPORT_MODE_PRESERVE_ORIGINAL,
        Some(_) => return Err("valid ImportMode values are Legacy or PreserveOriginal".into()),
    };
    Ok(ImportPlan { args, target, reference_policy, import_mode })
}

fn docker(name: &str) -> ObjectReference {
    ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: name.into(), namespace: String::new() }
}

impl ImportPlan {
    /// The stream imported into (read before [`ImportPlan::request`]).
    pub fn stream(&self) -> &str {
        &self.target.name
    }

    pub fn dry_run(&self) -> bool {
        self.args.dry_run
    }

    /// The ImageStreamImport to send, given the stream as it is now (`None`: it does not exist).
    pub fn request(&self, stream: Option<&ImageStream>) -> Result<ImageStreamImport, String> {
        let a = &self.args;
        let name = self.stream();
        if stream.is_none() && !a.confirm {
            return Err(format!("no image stream named {name:?} exists, pass --confirm to create and import"));
        }
        let stream_insecure =
            stream.is_some_and(|s| s.metadata.annotations.get(ANNOTATION_INSECURE_REPOSITORY).map(String::as_str) == Some("true"));
        let policy = |insecure: bool, scheduled: bool| TagImportPolicy {
            // The stream annotation counts unless --insecure was given; either way the tag's own flag adds.
            insecure: a.insecure || insecure || stream_insecure,
            scheduled: a.scheduled || scheduled,
            import_mode: self.import_mode.into(),
        };
        let reference_policy = TagReferencePolicy { kind: self.reference_policy.into() };
        let mut isi = ImageStreamImport::new(&a.namespace, name, !a.dry_run);
        if let Some(s) = stream {
            isi.metadata.resource_version = s.metadata.resource_version.clone();
            isi.metadata.uid = s.metadata.uid.clone();
        }
        let repository = |from: &str| RepositoryImportSpec {
            from: docker(from),
            import_policy: policy(false, false),
            reference_policy: reference_policy.clone(),
            include_manifest: false,
        };
        if a.all {
            match (&a.from, stream) {
                (Some(from), Some(s)) if s.spec.docker_image_repository != *from && !a.confirm => {
                    return Err(if s.spec.docker_image_repository.is_empty() {
                        "the image stream does not currently import an entire Docker repository, pass --confirm to update".to_string()
                    } else {
                        format!(
                            "the image stream has a different import spec {:?}, pass --confirm to update",
                            s.spec.docker_image_repository
                        )
                    });
                }
                (Some(from), _) => isi.spec.repository = Some(repository(from)),
                (None, None) => isi.spec.repository = Some(repository(&a.name)),
                (None, Some(s)) => {
                    for t in s.spec.tags.iter().filter(|t| is_importable(t)) {
                        let from = t.from.as_ref().map(|f| f.name.clone()).unwrap_or_default();
                        isi.spec.images.push(ImageImportSpec {
                            from: docker(&from),
                            to: Some(LocalObjectReference { name: t.name.clone() }),
                            import_policy: policy(t.import_policy.insecure, t.import_policy.scheduled),
                            reference_policy: reference_policy.clone(),
                            include_manifest: false,
                        });
                    }
                    if isi.spec.images.is_empty() {
                        return Err("image stream does not have tags pointing to external container images".into());
                    }
                }
            }
            return Ok(isi);
        }
        let (tag, from, inherited) = match stream {
            Some(s) => self.existing_tag(s)?,
            None => (self.tag(), a.from.clone().unwrap_or_else(|| a.name.clone()), TagImportPolicy::default()),
        };
        isi.spec.images.push(ImageImportSpec {
            from: docker(&from),
            to: Some(LocalObjectReference { name: tag }),
            import_policy: policy(inherited.insecure, inherited.scheduled),
            reference_policy,
            include_manifest: false,
        });
        Ok(isi)
    }

    /// The tag named on the command line, `latest` when none.
    fn tag(&self) -> String {
        if self.target.tag.is_empty() { DEFAULT_TAG.to_string() } else { self.target.tag.clone() }
    }

    /// One tag of an existing stream: the tag really imported (same-stream aliases followed),
    /// its source and the import flags it already has.
    fn existing_tag(&self, s: &ImageStream) -> Result<(String, String, TagImportPolicy), String> {
        let a = &self.args;
        let name = self.stream();
        let mut tag = self.tag();
        let from = a.from.clone().unwrap_or_else(|| a.name.clone());
        let mut seen = vec![tag.clone()];
        while let Some(t) = s.spec_tag(&tag) {
            let Some(f) = &t.from else { break };
            if f.kind != KIND_IMAGE_STREAM_TAG {
                break;
            }
            let (src_stream, src_tag) = f.name.split_once(':').unwrap_or((name, f.name.as_str()));
            if src_stream != name || (!f.namespace.is_empty() && f.namespace != a.namespace) {
                return Err(format!("tag {tag:?} points to an imagestreamtag from another ImageStream"));
            }
            if seen.iter().any(|t| t == src_tag) {
                return Err(format!("tag {tag:?} on the image stream is a reference to same tag"));
            }
            seen.push(src_tag.to_string());
            tag = src_tag.to_string();
        }
        match s.spec_tag(&tag) {
            None if a.from.is_none() => Err(format!(
                "the tag {tag:?} does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag"
            )),
            None => Ok((tag, from, TagImportPolicy::default())),
            Some(t) => match &t.from {
                None => {
                    Err(format!("tag {tag:?} already exists - you must use the 'tag' command if you want to change the source to {from:?}"))
                }
                Some(f) if f.kind != KIND_DOCKER_IMAGE => {
                    Err(format!("tag {tag:?} points to existing {} {:?}, it cannot be re-imported", f.kind, f.name))
                }
                Some(f) if a.from.as_ref().is_some_and(|given| *given != f.name) => Err(format!(
                    "the tag {tag:?} points to {:?} - use the 'tag' command if you want to change the source to {from:?}",
                    f.name
                )),
                Some(f) => Ok((tag, f.name.clone(), t.import_policy.clone())),
            },
        }
    }
}

/// Every image result of an answered import: the single images, then the repository's.
pub fn image_results(done: &ImageStreamImport) -> impl Iterator<Item = &ImageImportStatus> {
    done.status.images.iter().chain(done.status.repository.iter().flat_map(|r| r.images.iter()))
}

/// What an answered import reports, in oc's words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOutcome {
    /// `error: …` lines: each failed tag, and a repository that failed as a whole.
    pub failures: Vec<String>,
    /// Tags of the repository left out by the server's per-import limit.
    pub additional_tags: Vec<String>,
}

impl ImportOutcome {
    pub fn of(done: &ImageStreamImport) -> Self {
        let mut failures: Vec<String> = image_results(done)
            .filter(|i| !i.status.is_success())
            .map(|i| format!("error: tag {} failed: {}", i.tag, i.status.message))
            .collect();
        if let Some(rs) = &done.status.repository
            && !rs.status.is_success()
            && rs.images.is_empty()
        {
            failures.push(format!("error: {}", rs.status.message));
        }
        let additional_tags = done.status.repository.as_ref().map(|r| r.additional_tags.clone()).unwrap_or_default();
        ImportOutcome { failures, additional_tags }
    }

    /// The first line: `imagestream.image.openshift.io/<stream> imported[ with errors][ (dry run)]`.
    pub fn headline(&self, stream: &str, dry_run: bool) -> String {
        let verb = if self.failures.is_empty() { "imported" } else { "imported with errors" };
        let dry = if dry_run { " (dry run)" } else { "" };
        format!("imagestream.image.openshift.io/{stream} {verb}{dry}")
    }

    /// The closing `info:` line about tags a repository import left out, if any.
    pub fn additional_tags_message(&self) -> Option<String> {
        (!self.additional_tags.is_empty()).then(|| {
            format!(
                "info: The remote repository contained {} additional tags which were not imported: {}",
                self.additional_tags.len(),
                self.additional_tags.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(name: &str) -> ImportArgs {
        ImportArgs { name: name.into(), namespace: "demo".into(), ..Default::default() }
    }
    fn docker_tag(name: &str, from: &str) -> TagReference {
        TagReference { name: name.into(), from: Some(docker(from)), ..Default::default() }
    }
    fn istag(name: &str, from: &str) -> TagReference {
        TagReference {
            name: name.into(),
            from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: from.into(), namespace: String::new() }),
            ..Default::default()
        }
    }
    fn stream(tags: Vec<TagReference>) -> ImageStream {
        let mut s = ImageStream::new("demo", "app");
        s.metadata.resource_version = Some("7".into());
        s.spec.tags = tags;
        s
    }
    fn request(a: ImportArgs, s: Option<&ImageStream>) -> Result<ImageStreamImport, String> {
        plan_import(a)?.request(s)
    }
    fn image(isi: &ImageStreamImport) -> (&str, &str, bool, bool) {
        let i = &isi.spec.images[0];
        (i.from.name.as_str(), i.to.as_ref().unwrap().name.as_str(), i.import_policy.insecure, i.import_policy.scheduled)
    }

    #[test]
    fn command_line_checks() {
        let cases: Vec<(ImportArgs, &str)> = vec![
            (
                args("Bad"),
                "the image name must be a valid container image pull spec or reference to an image stream (e.g. myregistry/myteam/image:tag)",
            ),
            (args(&format!("app@sha256:{}", "a".repeat(64))), "to import images by ID, use the 'tag' command"),
            (ImportArgs { all: true, ..args("app:v1") }, "cannot specify a tag \"app:v1\" as well as --all"),
            (ImportArgs { reference_policy: Some("remote".into()), ..args("app") }, "valid reference policy values are source or local"),
            (ImportArgs { import_mode: Some("legacy".into()), ..args("app") }, "valid ImportMode values are Legacy or PreserveOriginal"),
        ];
        for (a, want) in cases {
            let name = a.name.clone();
            assert_eq!(plan_import(a).unwrap_err(), want, "{name}");
        }
        let p = plan_import(ImportArgs { reference_policy: Some("Local".into()), ..args("q.io/org/app:v1") }).unwrap();
        assert_eq!(p.stream(), "app");
    }

    #[test]
    fn new_streams_need_confirm() {
        assert_eq!(request(args("app:v1"), None).unwrap_err(), "no image stream named \"app\" exists, pass --confirm to create and import");
        let isi = request(ImportArgs { confirm: true, from: Some("q.io/o/a:1".into()), dry_run: true, ..args("app:v1") }, None).unwrap();
        assert_eq!(image(&isi), ("q.io/o/a:1", "v1", false, false));
        assert!(!isi.spec.import, "a dry run only looks");
        assert_eq!((isi.metadata.name.as_str(), isi.metadata.namespace.as_deref()), ("app", Some("demo")));
        let isi = request(ImportArgs { confirm: true, ..args("q.io/o/app") }, None).unwrap();
        assert_eq!(image(&isi), ("q.io/o/app", "latest", false, false), "NAME is the source when --from is not given");
    }

    #[test]
    fn existing_tags() {
        let mut scheduled = docker_tag("v1", "q.io/o/a:1");
        scheduled.import_policy.scheduled = true;
        let s = stream(vec![
            scheduled,
            istag("stable", "v1"),
            istag("loop", "loop2"),
            istag("loop2", "loop"),
            istag("other", "web:v1"),
            TagReference { name: "bare".into(), ..Default::default() },
            TagReference {
                name: "pinned".into(),
                from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_IMAGE.into(), name: "app@sha256:1".into(), namespace: String::new() }),
                ..Default::default()
            },
        ]);
        assert_eq!(
            request(args("app"), Some(&s)).unwrap_err(),
            "the tag \"latest\" does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag"
        );
        let isi = request(ImportArgs { insecure: true, ..args("app:stable") }, Some(&s)).unwrap();
        assert_eq!(image(&isi), ("q.io/o/a:1", "v1", true, true), "the alias is followed; the tag's own flags are kept");
        assert_eq!(isi.metadata.resource_version.as_deref(), Some("7"));
        let errors = [
            (args("app:loop"), "tag \"loop2\" on the image stream is a reference to same tag"),
            (args("app:other"), "tag \"other\" points to an imagestreamtag from another ImageStream"),
            (
                ImportArgs { from: Some("q.io/x".into()), ..args("app:bare") },
                "tag \"bare\" already exists - you must use the 'tag' command if you want to change the source to \"q.io/x\"",
            ),
            (args("app:pinned"), "tag \"pinned\" points to existing ImageStreamImage \"app@sha256:1\", it cannot be re-imported"),
            (
                ImportArgs { from: Some("q.io/o/a:2".into()), ..args("app:v1") },
                "the tag \"v1\" points to \"q.io/o/a:1\" - use the 'tag' command if you want to change the source to \"q.io/o/a:2\"",
            ),
        ];
        for (a, want) in errors {
            let name = a.name.clone();
            assert_eq!(request(a, Some(&s)).unwrap_err(), want, "{name}");
        }
        let isi = request(ImportArgs { from: Some("q.io/o/b:1".into()), ..args("app:new") }, Some(&s)).unwrap();
        assert_eq!(image(&isi), ("q.io/o/b:1", "new", false, false), "a new tag of an existing stream with --from");
    }

    #[test]
    fn the_stream_annotation_makes_imports_insecure() {
        let mut s = stream(vec![docker_tag("v1", "q.io/o/a:1")]);
        s.metadata.annotations.insert(ANNOTATION_INSECURE_REPOSITORY.into(), "true".into());
        assert_eq!(image(&request(args("app:v1"), Some(&s)).unwrap()), ("q.io/o/a:1", "v1", true, false));
    }

    #[test]
    fn whole_repositories() {
        let all = |a: ImportArgs| ImportArgs { all: true, ..a };
        let isi = request(all(ImportArgs { confirm: true, ..args("q.io/o/app") }), None).unwrap();
        assert_eq!(isi.spec.repository.unwrap().from.name, "q.io/o/app");
        let mut s = stream(vec![docker_tag("v1", "q.io/o/a:1"), istag("stable", "v1")]);
        let isi = request(all(args("app")), Some(&s)).unwrap();
        assert_eq!(isi.spec.images.len(), 1, "every importable tag, again");
        assert_eq!(image(&isi), ("q.io/o/a:1", "v1", false, false));
        assert_eq!(
            request(all(ImportArgs { from: Some("q.io/o/a".into()), ..args("app") }), Some(&s)).unwrap_err(),
            "the image stream does not currently import an entire Docker repository, pass --confirm to update"
        );
        s.spec.docker_image_repository = "q.io/o/b".into();
        assert_eq!(
            request(all(ImportArgs { from: Some("q.io/o/a".into()), ..args("app") }), Some(&s)).unwrap_err(),
            "the image stream has a different import spec \"q.io/o/b\", pass --confirm to update"
        );
        let isi = request(all(ImportArgs { from: Some("q.io/o/a".into()), confirm: true, ..args("app") }), Some(&s)).unwrap();
        assert_eq!(isi.spec.repository.unwrap().from.name, "q.io/o/a");
        assert_eq!(
            request(all(args("app")), Some(&stream(vec![istag("stable", "v1")]))).unwrap_err(),
            "image stream does not have tags pointing to external container images"
        );
    }

    #[test]
    fn outcomes() {
        let mut done = ImageStreamImport::new("demo", "app", true);
        done.status.images = vec![
            ImageImportStatus { status: OperationStatus::success(), tag: "v1".into(), ..Default::default() },
            ImageImportStatus { status: OperationStatus::failure("NotFound", "gone", 404), tag: "v2".into(), ..Default::default() },
        ];
        done.status.repository = Some(RepositoryImportStatus {
            status: OperationStatus::failure("Unauthorized", "denied", 401),
            images: vec![],
            additional_tags: vec!["a".into(), "b".into()],
        });
        let o = ImportOutcome::of(&done);
        assert_eq!(o.failures, ["error: tag v2 failed: gone", "error: denied"]);
        assert_eq!(o.headline("app", true), "imagestream.image.openshift.io/app imported with errors (dry run)");
        assert_eq!(
            o.additional_tags_message().unwrap(),
            "info: The remote repository contained 2 additional tags which were not imported: a, b"
        );
        let ok = ImportOutcome::default();
        assert_eq!(ok.headline("app", false), "imagestream.image.openshift.io/app imported");
        assert_eq!(ok.additional_tags_message(), None);
    }
}
