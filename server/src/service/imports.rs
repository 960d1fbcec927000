//! ImageStreamImport (spec §4.2–4.3): registry lookups happen outside any transaction (a slow
//! registry must never hold the writer), then one transaction stores new Image objects and the
//! stream changes. An import that changes nothing writes nothing. Every import holds one of
//! the importer's slots from its first lookup to its commit: clients wait a bounded time for
//! one (then 429), the server's own controllers wait their turn.
//!
//! Must not: contact a registry inside a transaction, or other than through the importer (whose
//! egress guard decides which registries may be reached).

use super::normalize_registry;
use super::streams::check_namespace_matches;
use super::{Caller, Service, Verb, db, new_uid};
use crate::importer::{FetchSpec, Fetched, RegistryLogin};
use crate::store::{self, StoredStream};
use app::domain::imports::*;
use app::domain::reference::DockerImageReference;
use app::model::*;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub const RES_IMAGESTREAMIMPORTS: Resource = Resource { plural: "imagestreamimports", group: IMAGE_GROUP, kind: "ImageStreamImport" };

/// How far a running import is: images looked up of the total.
#[derive(Debug, Default)]
pub struct ImportProgress {
    pub total: AtomicUsize,
    pub done: AtomicUsize,
}

/// One lookup of an import request: where from, into which tag, with which policies.
struct Lookup {
    from: String,
    tag: Option<String>,
    policy: TagImportPolicy,
    reference_policy: TagReferencePolicy,
    include_manifest: bool,
}

fn strip(mut image: Image, include_manifest: bool) -> Image {
    if !include_manifest {
        image.strip_raw();
    }
    image
}

/// The registry an import looks up (`host[:port]`, `docker.io` when none is named), as a metric
/// label (bounded to 64 characters).
fn registry_of(from: &str) -> String {
    match DockerImageReference::parse(from) {
        Ok(r) => super::for_log(&normalize_registry(if r.registry.is_empty() { "docker.io" } else { &r.registry })).into_owned(),
        Err(_) => "invalid".to_string(),
    }
}

/// Counts each lookup by registry and outcome (`imagestreams_imports_total`); returns the
/// registries the import reached.
fn count_lookups(lookups: &[Lookup], fetched: &[Result<crate::importer::Fetched, OperationStatus>]) -> std::collections::BTreeSet<String> {
    let mut registries = std::collections::BTreeSet::new();
    for (l, f) in lookups.iter().zip(fetched) {
        let registry = registry_of(&l.from);
        let outcome = if f.is_ok() { "success" } else { "failure" }.to_string();
        crate::metrics::metrics().imports.get_or_create(&crate::metrics::ImportLabels { registry: registry.clone(), outcome }).inc();
        registries.insert(registry);
    }
    registries
}

impl Service {
    pub async fn import_images(&self, caller: &Caller, ns: &str, isi: ImageStreamImport) -> Result<ImageStreamImport, ApiError> {
        self.import_images_with_progress(caller, ns, isi, None).await
    }

    /// `import_images`, counting looked-up images into `progress` as they finish (the web
    /// form shows "tags done of total" for long repository imports). The steps: check the
    /// request, plan the lookups (the listed images, then the repository's tags), fetch them
    /// (outside any transaction), answer entry by entry, and store what was asked for.
    pub async fn import_images_with_progress(
        &self,
        caller: &Caller,
        ns: &str,
        mut isi: ImageStreamImport,
        progress: Option<Arc<ImportProgress>>,
    ) -> Result<ImageStreamImport, ApiError> {
        let existing = self.check_import_request(caller, ns, &mut isi).await?;
        let wait = if caller.system { None } else { Some(self.importer.config.import_queue_wait) };
        let _slot = self.importer.slots.acquire(ns, wait).await.map_err(|busy| ApiError::too_many_requests(busy.to_string()))?;
        let started = std::time::Instant::now();
        let name = isi.metadata.name.clone();
        let credentials = self.registry_credentials(ns).await?;
        let auth_for = |from: &str| -> Option<RegistryLogin> {
            let r = DockerImageReference::parse(from).ok()?;
            let registry = normalize_registry(if r.registry.is_empty() { "docker.io" } else { &r.registry });
            credentials.get(&registry).map(|c| RegistryLogin { username: c.username.clone(), password: c.password.clone() })
        };
        let (lookups, repository_status) = self.plan_lookups(&isi, &auth_for).await;
        let prefer = |tag: &Option<String>, key: &str| -> Option<String> {
            let t = existing.as_ref()?.stream.spec_tag(tag.as_deref()?)?;
            t.annotations.as_ref()?.get(key).cloned()
        };
        let now = self.now_rfc3339();
        let specs: Vec<FetchSpec> = lookups
            .iter()
            .map(|l| FetchSpec {
                now: now.clone(),
                from: l.from.clone(),
                insecure: l.policy.insecure,
                import_mode: l.policy.import_mode.clone(),
                prefer_arch: prefer(&l.tag, ANNOTATION_PREFER_ARCH),
                prefer_os: prefer(&l.tag, ANNOTATION_PREFER_OS),
                auth: auth_for(&l.from),
            })
            .collect();
        let fetched = self.fetch_with_fallback(&specs, progress.as_deref()).await;
        let registries = count_lookups(&lookups, &fetched);
        tracing::info!(
            namespace = %ns,
            stream = %super::for_log(&name),
            images = fetched.len(),
            failed = fetched.iter().filter(|f| f.is_err()).count(),
            "import looked up"
        );
        answer_import(&mut isi, &lookups, &fetched, repository_status);
        if !isi.spec.import {
            return Ok(isi);
        }
        let results: Vec<TagImport> = lookups
            .iter()
            .zip(&fetched)
            .filter_map(|(l, f)| {
                let tag = l.tag.clone()?;
                Some(TagImport {
                    tag,
                    from: l.from.clone(),
                    import_policy: l.policy.clone(),
                    reference_policy: l.reference_policy.clone(),
                    outcome: match f {
                        Ok(f) => Ok((f.image.metadata.name.clone(), f.image.docker_image_reference.clone())),
                        Err(s) => Err(s.clone()),
                    },
                })
            })
            .collect();
        let store_started = std::time::Instant::now();
        let stored = self.store_import(ns, &name, &isi.metadata, &fetched, &results).await?;
        tracing::debug!(elapsed_ms = store_started.elapsed().as_millis() as u64, "import stored");
        isi.status.import = Some(stored);
        let took = started.elapsed().as_secs_f64();
        for registry in registries {
            crate::metrics::metrics().import_duration.get_or_create(&crate::metrics::RegistryLabels { registry }).observe(took);
        }
        Ok(isi)
    }

    /// The checks before any lookup: permission, validation, the registry allow-list, the
    /// namespace and the stream's preconditions. Returns the stream as stored, if it exists.
    async fn check_import_request(&self, caller: &Caller, ns: &str, isi: &mut ImageStreamImport) -> Result<Option<StoredStream>, ApiError> {
        self.allow(caller, Verb::Create, "imagestreamimports", Some(ns))?;
        check_namespace_matches(&mut isi.metadata, ns)?;
        let name = isi.metadata.name.clone();
        default_targets(isi);
        let errs = validate_import(isi);
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_IMAGESTREAMIMPORTS, &name, &errs));
        }
        // Registries the operator does not allow refuse the whole request (spec §4.2 step 1).
        // The server's own controllers import tag by tag instead: a refused tag fails on its
        // own lookup (same message) and gets its condition, and the stream's other tags import.
        let mut forbidden = vec![];
        for (i, spec) in isi.spec.images.iter().enumerate().filter(|_| !caller.system) {
            if let Err(m) = self.importer.check_allowed(&spec.from.name, spec.import_policy.insecure) {
                forbidden.push(FieldError::forbidden(format!("spec.images[{i}].from.name"), m));
            }
        }
        if let Some(repo) = &isi.spec.repository
            && let Err(m) = self.importer.check_allowed(&repo.from.name, repo.import_policy.insecure)
        {
            forbidden.push(FieldError::forbidden("spec.repository.from.name", m));
        }
        if !forbidden.is_empty() {
            return Err(ApiError::invalid(RES_IMAGESTREAMIMPORTS, &name, &forbidden));
        }
        let existing = {
            let mut conn = self.store.read().await.map_err(db)?;
            self.require_namespace(&mut conn, ns).await?;
            store::load_stream(&mut conn, ns, &name).await.map_err(db)?
        };
        check_import_preconditions(&isi.metadata, existing.as_ref().map(|s| &s.stream), &name)?;
        Ok(existing)
    }

    /// The lookups of a request: its listed images, then the tags of its repository (listed at
    /// the registry, at most `--max-images-bulk-imported-per-repository`), with the
    /// repository's status when it has one.
    async fn plan_lookups(
        &self,
        isi: &ImageStreamImport,
        auth_for: &impl Fn(&str) -> Option<RegistryLogin>,
    ) -> (Vec<Lookup>, Option<RepositoryImportStatus>) {
        let mut lookups: Vec<Lookup> = isi
            .spec
            .images
            .iter()
            .map(|i| Lookup {
                from: i.from.name.clone(),
                tag: i.to.as_ref().map(|t| t.name.clone()),
                policy: defaulted_policy(&i.import_policy),
                reference_policy: i.reference_policy.clone(),
                include_manifest: i.include_manifest,
            })
            .collect();
        let Some(repo) = &isi.spec.repository else { return (lookups, None) };
        let status = match self.importer.list_tags(&repo.from.name, repo.import_policy.insecure, &auth_for(&repo.from.name)).await {
            Ok(tags) => {
                let (take, additional) = select_repository_tags(tags, self.importer.config.max_images_bulk);
                for t in take {
                    lookups.push(Lookup {
                        from: format!("{}:{t}", repo.from.name),
                        tag: Some(t),
                        policy: defaulted_policy(&repo.import_policy),
                        reference_policy: repo.reference_policy.clone(),
                        include_manifest: repo.include_manifest,
                    });
                }
                RepositoryImportStatus { status: OperationStatus::success(), images: vec![], additional_tags: additional }
            }
            Err(status) => RepositoryImportStatus { status, images: vec![], additional_tags: vec![] },
        };
        (lookups, Some(status))
    }

    /// Fetches every spec; when a lookup that carried credentials was refused, the whole import
    /// again without them: upstream retries anonymously when a registry says "incorrect username
    /// or password" (spec §4.2 step 3), so stale credentials never block public images. oci-client
    /// drops the body of a 401, so any refusal of a lookup with credentials counts.
    async fn fetch_with_fallback(&self, specs: &[FetchSpec], progress: Option<&ImportProgress>) -> Vec<Result<Fetched, OperationStatus>> {
        let fetch_started = std::time::Instant::now();
        if let Some(p) = progress {
            p.total.store(specs.len(), Ordering::Relaxed);
        }
        let fetched = self.fetch_all(specs, progress).await;
        tracing::debug!(images = specs.len(), elapsed_ms = fetch_started.elapsed().as_millis() as u64, "import lookups done");
        let refused_with_credentials =
            fetched.iter().zip(specs).any(|(f, s)| s.auth.is_some() && matches!(f, Err(st) if st.reason == "Unauthorized"));
        if !refused_with_credentials {
            return fetched;
        }
        let anonymous: Vec<FetchSpec> = specs.iter().cloned().map(|s| FetchSpec { auth: None, ..s }).collect();
        self.fetch_all(&anonymous, None).await
    }

    /// Fetches with bounded concurrency, answers in request order.
    async fn fetch_all(&self, specs: &[FetchSpec], progress: Option<&ImportProgress>) -> Vec<Result<Fetched, OperationStatus>> {
        let importer = self.importer.clone();
        futures::stream::iter(specs.iter().cloned())
            .map(|spec| {
                let importer = importer.clone();
                // Own tasks, so parsing and hashing spread over all cores.
                // In the import's span: its lines keep the request id or the stream.
                let task = tokio::spawn(tracing::Instrument::in_current_span(async move { importer.fetch(&spec).await }));
                async move {
                    task.await
                        .unwrap_or_else(|e| Err(OperationStatus::failure("InternalError", format!("the import task failed: {e}"), 500)))
                }
            })
            .buffered(self.importer.config.concurrency.max(1))
            .inspect(|_| {
                if let Some(p) = progress {
                    p.done.fetch_add(1, Ordering::Relaxed);
                }
            })
            .collect()
            .await
    }

    /// The write half of an import: one transaction.
    async fn store_import(
        &self,
        ns: &str,
        name: &str,
        meta: &ObjectMeta,
        fetched: &[Result<Fetched, OperationStatus>],
        results: &[TagImport],
    ) -> Result<ImageStream, ApiError> {
        let now = self.now_rfc3339();
        let mut tx = self.store.begin().await.map_err(db)?;
        let old = store::load_stream(&mut tx, ns, name).await.map_err(db)?;
        check_import_preconditions(meta, old.as_ref().map(|s| &s.stream), name)?;
        let mut rv: Option<i64> = None;
        for f in fetched.iter().flatten() {
            for image in std::iter::once(&f.image).chain(&f.children) {
                // What the registry answered replaces metadata a mapping only claimed (M4).
                if store::image_verified(&mut tx, &image.metadata.name).await.map_err(db)? == Some(true) {
                    continue;
                }
                let v = match rv {
                    Some(v) => v,
                    None => *rv.insert(store::next_resource_version(&mut tx).await.map_err(db)?),
                };
                let mut stored = image.clone();
                stored.strip_raw();
                store::put_imported_image(&mut tx, &stored, &new_uid(), v, &now).await.map_err(db)?;
            }
        }
        let mut stream = match &old {
            Some(o) => o.stream.clone(),
            None => ImageStream::new(ns, name),
        };
        let changed = apply_import(&mut stream, results, &now);
        if changed {
            let v = match rv {
                Some(v) => v,
                None => store::next_resource_version(&mut tx).await.map_err(db)?,
            };
            stream.metadata.resource_version = Some(v.to_string());
            match &old {
                Some(o) => self.save_stream(&mut tx, o, &stream).await?,
                None => {
                    stream.metadata.uid = Some(new_uid());
                    stream.metadata.creation_timestamp = Some(now.clone());
                    self.save_new_stream(&mut tx, &stream).await?;
                }
            }
        }
        tx.commit().await.map_err(db)?;
        self.announce();
        Ok(self.with_public_repository(stream))
    }
}

/// Import-mode and reference-policy defaults of a request.
fn defaulted_policy(p: &TagImportPolicy) -> TagImportPolicy {
    let mut p = p.clone();
    if p.import_mode.is_empty() {
        p.import_mode = IMPORT_MODE_LEGACY.into();
    }
    p
}

/// resourceVersion / uid preconditions of an import (spec §4.2 step 2).
fn check_import_preconditions(meta: &ObjectMeta, stream: Option<&ImageStream>, name: &str) -> Result<(), ApiError> {
    let rv = meta.resource_version.as_deref().filter(|v| !v.is_empty());
    let uid = meta.uid.as_deref().filter(|v| !v.is_empty());
    match stream {
        None if rv.is_some() || uid.is_some() => Err(ApiError::not_found(RES_IMAGESTREAMS, name)),
        None => Ok(()),
        Some(s) => {
            if let Some(uid) = uid
                && Some(uid) != s.metadata.uid.as_deref()
            {
                return Err(ApiError::not_found(RES_IMAGESTREAMS, name));
            }
            if let Some(rv) = rv
                && Some(rv) != s.metadata.resource_version.as_deref()
            {
                return Err(ApiError::conflict(
                    RES_IMAGESTREAMS,
                    name,
                    &format!(
                        "the image stream was updated from {rv:?} to {:?}",
                        s.metadata.resource_version.as_deref().unwrap_or_default()
                    ),
                ));
            }
            Ok(())
        }
    }
}

impl Service {
    /// One pass of the scheduler (spec §4.4): re-imports the scheduled tags of up to `limit`
    /// due streams and sets each one's next due time. An unchanged remote writes nothing to the
    /// stream. Time comes from the service clock, so tests drive it.
    /// Due streams are imported side by side, as many as the server runs imports at once (the
    /// slots keep each namespace to its share).
    pub async fn scheduled_import_pass(&self, interval: std::time::Duration, limit: i64) -> Result<usize, ApiError> {
        let now = self.now_rfc3339();
        let due = {
            let mut conn = self.store.read().await.map_err(db)?;
            store::due_scheduled_streams(&mut conn, &now, limit).await.map_err(db)?
        };
        let next_due = (self.clock.now() + chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::minutes(15)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (parallel, _) = self.import_limits();
        let passes: Vec<Result<(), ApiError>> = futures::stream::iter(due.iter().cloned())
            .map(|store::StreamKey { namespace, name }| {
                let next_due = next_due.clone();
                async move {
                    let (ns, name) = (&namespace, &name);
                    if let Ok(stream) = self.get_stream(&Caller::system(), ns, name).await {
                        // Digest-pinned tags already imported are left out: nothing to fetch.
                        let tags = app::domain::imports::scheduled_tags(&stream);
                        if !tags.is_empty() {
                            self.import_stream_tags(ns, name, &stream, &tags).await;
                        }
                    }
                    let mut tx = self.store.begin().await.map_err(db)?;
                    store::set_next_due(&mut tx, ns, name, &next_due).await.map_err(db)?;
                    tx.commit().await.map_err(db)
                }
            })
            .buffer_unordered(parallel)
            .collect()
            .await;
        passes.into_iter().collect::<Result<Vec<()>, ApiError>>()?;
        Ok(due.len())
    }

    /// How many imports run at once: (server-wide, per namespace). The import controller
    /// schedules by these.
    pub fn import_limits(&self) -> (usize, usize) {
        self.importer.slots.limits()
    }

    /// Imports `tags` of a stream for the server's own controllers, in batches of at most
    /// `MAX_IMPORT_IMAGES`; failures land in tag conditions (and in the log).
    pub async fn import_stream_tags(&self, ns: &str, name: &str, stream: &ImageStream, tags: &[String]) {
        use tracing::Instrument;
        // Every line of a background import names the stream it acts on.
        let span = tracing::info_span!("import", namespace = %ns, stream = %super::for_log(name), tags = tags.len());
        self.import_stream_tags_inner(ns, name, stream, tags).instrument(span).await
    }

    async fn import_stream_tags_inner(&self, ns: &str, name: &str, stream: &ImageStream, tags: &[String]) {
        for images in import_batches(stream, tags) {
            let mut isi = ImageStreamImport::new(ns, name, true);
            isi.spec.images = images;
            if let Err(e) = self.import_images(&Caller::system(), ns, isi).await {
                tracing::warn!(namespace = %ns, stream = %name, error = %e, "background import failed");
            }
        }
    }
}

impl Service {
    /// Streams that may have tags to import (for the controller's catch-up at start).
    /// (namespace, name) pairs, the import queue's shape.
    pub async fn import_candidates(&self) -> Result<Vec<(String, String)>, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        Ok(store::import_candidates(&mut conn).await.map_err(db)?.into_iter().map(|k| (k.namespace, k.name)).collect())
    }
}

/// The import's status, entry by entry: the listed images, then the repository's (a
/// repository with failed tags is `ImportFailed` even when listing it worked).
fn answer_import(
    isi: &mut ImageStreamImport,
    lookups: &[Lookup],
    fetched: &[Result<Fetched, OperationStatus>],
    repository_status: Option<RepositoryImportStatus>,
) {
    let statuses: Vec<ImageImportStatus> = lookups
        .iter()
        .zip(fetched)
        .map(|(l, f)| match f {
            Ok(f) => ImageImportStatus {
                status: OperationStatus::success(),
                image: Some(strip(f.image.clone(), l.include_manifest)),
                tag: l.tag.clone().unwrap_or_default(),
                manifests: f.children.iter().cloned().map(|c| strip(c, l.include_manifest)).collect(),
            },
            Err(s) => ImageImportStatus { status: s.clone(), image: None, tag: l.tag.clone().unwrap_or_default(), manifests: vec![] },
        })
        .collect();
    let (image_statuses, repo_statuses) = statuses.split_at(isi.spec.images.len().min(statuses.len()));
    isi.status.images = image_statuses.to_vec();
    if let Some(mut rs) = repository_status {
        rs.images = repo_statuses.to_vec();
        let failed = rs.images.iter().filter(|i| !i.status.is_success()).count();
        if failed > 0 && rs.status.is_success() {
            rs.status = OperationStatus::failure("ImportFailed", repository_failure_message(failed), 0);
        }
        isi.status.repository = Some(rs);
    }
}
