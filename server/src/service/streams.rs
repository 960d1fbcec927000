//! Image streams: list, get, create, update (PUT), delete, and the write path every stream
//! mutation shares (validate → generations → resolve changed tags → one resource version).
//! Also ImageStreamMapping (a pushed image entering a stream) and ImageStreamImage reads.
//!
//! Image records are shared by digest across namespaces, so a mapping may attach an image that
//! is already stored only if the caller can read a stream that holds it, or sends the image's
//! manifest (`image.dockerImageManifest`, which must hash to the digest). Otherwise the answer
//! is the one for an image the caller cannot see (404), and the stored record is untouched. A
//! new digest is stored with the sender's metadata marked unverified; imports replace it
//! (review M4).
//!
//! Must not: restate a rule of `app::domain` (validation, generations, the history merge) or
//! write a stream other than through the outbox path (`save_new_stream`, `save_stream`,
//! `remove_stream` in `outbox`), which queues the webhooks a change causes.

use super::{Caller, Service, Verb, db, for_log, new_uid, page_size};
use crate::store::{self, StoredStream};
use app::domain::deletion::Preconditions;
use app::domain::history::{add_tag_event, update_tracking_tags};
use app::domain::lookup::find_stream_image;
use app::domain::names::parse_isimage_name;
use app::domain::selectors::{FieldSelector, LabelSelector};

use app::domain::streams::*;
use app::model::*;
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;
use std::collections::BTreeMap;

/// Whether a mapping proves it holds the image: it carries the manifest, which must hash to the
/// digest (a manifest that does not is a 422). `false` when no manifest is sent.
fn manifest_proves_digest(mapping: &ImageStreamMapping, stream: &str) -> Result<bool, ApiError> {
    let manifest = &mapping.image.docker_image_manifest;
    if manifest.is_empty() {
        return Ok(false);
    }
    let digest = &mapping.image.metadata.name;
    let err = |detail: String, value: String| {
        ApiError::invalid(RES_IMAGESTREAMMAPPINGS, stream, &[FieldError::invalid_raw("image.dockerImageManifest", value, detail)])
    };
    if !digest.starts_with("sha256:") {
        return Err(err(format!("only sha256 digests can be checked against a manifest, not {digest:?}"), "[...]".into()));
    }
    let actual = format!("sha256:{:x}", Sha256::digest(manifest.as_bytes()));
    if actual != *digest {
        return Err(err(format!("the manifest's digest must equal image.metadata.name ({digest})"), actual));
    }
    Ok(true)
}

/// `limit`, `continue` and the selectors of a list request.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    pub limit: Option<i64>,
    pub continue_token: Option<String>,
    /// `?labelSelector=`: only objects whose labels match.
    pub labels: LabelSelector,
    /// `?fieldSelector=` (`metadata.name`, `metadata.namespace`).
    pub fields: FieldSelector,
}

impl ListOptions {
    /// Whether a selector narrows the list (then pages are scanned until they fill).
    fn selects(&self) -> bool {
        !self.labels.is_empty() || !self.fields.is_empty()
    }
}

/// The continue token of stream lists: `<namespace>/<name>` of the last item.
fn parse_stream_token(token: Option<&str>) -> Result<(String, String), ApiError> {
    match token {
        None | Some("") => Ok((String::new(), String::new())),
        Some(t) => t
            .split_once('/')
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .ok_or_else(|| ApiError::bad_request(format!("continue: Invalid value: {t:?}: not a continue token of this list"))),
    }
}

impl Service {
    /// Read-time fields: `status.dockerImageRepository` is computed, never stored (spec §1.2).
    pub fn with_public_repository(&self, mut s: ImageStream) -> ImageStream {
        s.status.docker_image_repository =
            self.registry_repository(s.namespace(), &s.metadata.name).unwrap_or_else(|| s.spec.docker_image_repository.clone());
        s
    }

    /// `<registry host>/<namespace>/<stream>`: the stream's repository in the portal's own
    /// registry, `None` when no registry host is configured.
    pub fn registry_repository(&self, ns: &str, stream: &str) -> Option<String> {
        (!self.registry_host.is_empty()).then(|| format!("{}/{ns}/{stream}", self.registry_host))
    }

    pub(crate) async fn require_namespace(&self, conn: &mut SqliteConnection, ns: &str) -> Result<(), ApiError> {
        match store::get_namespace(conn, ns).await.map_err(db)? {
            Some(_) => Ok(()),
            None => Err(ApiError::not_found(RES_NAMESPACES, ns)),
        }
    }

    /// `load_stream_or_404` with each tag's head alone (`store::load_stream_heads`): for writes
    /// that only read and add heads, whose cost must not grow with the history.
    pub(crate) async fn load_stream_heads_or_404(
        &self,
        conn: &mut SqliteConnection,
        ns: &str,
        name: &str,
    ) -> Result<StoredStream, ApiError> {
        match store::load_stream_heads(conn, ns, name).await.map_err(db)? {
            Some(mut s) => {
                s.stream = self.with_public_repository(s.stream);
                Ok(s)
            }
            None => Err(ApiError::not_found(RES_IMAGESTREAMS, name)),
        }
    }

    pub(crate) async fn load_stream_or_404(&self, conn: &mut SqliteConnection, ns: &str, name: &str) -> Result<StoredStream, ApiError> {
        match store::load_stream(conn, ns, name).await.map_err(db)? {
            Some(mut s) => {
                s.stream = self.with_public_repository(s.stream);
                Ok(s)
            }
            None => Err(ApiError::not_found(RES_IMAGESTREAMS, name)),
        }
    }

    pub async fn list_streams(&self, caller: &Caller, ns: Option<&str>, opts: &ListOptions) -> Result<List<ImageStream>, ApiError> {
        self.allow(caller, Verb::List, "imagestreams", ns)?;
        let limit = page_size(opts.limit)?;
        let after = parse_stream_token(opts.continue_token.as_deref())?;
        let mut conn = self.store.read().await.map_err(db)?;
        if let Some(ns) = ns {
            self.require_namespace(&mut conn, ns).await?;
        }
        // Across namespaces: only those the caller may read.
        let scope = if ns.is_none() { caller.visible_namespaces() } else { None };
        let mut rows = if opts.selects() {
            // Selected: scan pages from the token until one more than a page matched (or the end).
            let mut found = vec![];
            let mut cursor = after.clone();
            loop {
                let page = store::list_streams(&mut conn, ns, (&cursor.0, &cursor.1), limit + 1, scope.as_deref()).await.map_err(db)?;
                let full = page.len() as i64 > limit;
                if let Some(last) = page.last() {
                    cursor = (last.stream.namespace().to_string(), last.stream.metadata.name.clone());
                }
                found.extend(page.into_iter().filter(|s| {
                    opts.labels.matches(&s.stream.metadata.labels) && opts.fields.matches(&s.stream.metadata.name, s.stream.namespace())
                }));
                if found.len() as i64 > limit || !full {
                    break found;
                }
            }
        } else {
            store::list_streams(&mut conn, ns, (&after.0, &after.1), limit + 1, scope.as_deref()).await.map_err(db)?
        };
        drop(conn);
        let next = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last().map(|s| format!("{}/{}", s.stream.namespace(), s.stream.metadata.name))
        } else {
            None
        };
        let items = rows.into_iter().map(|s| self.with_public_repository(s.stream)).collect();
        Ok(List { api_version: IMAGE_API_VERSION.into(), kind: "ImageStreamList".into(), metadata: self.list_meta(next).await?, items })
    }

    pub async fn get_stream(&self, caller: &Caller, ns: &str, name: &str) -> Result<ImageStream, ApiError> {
        self.allow(caller, Verb::Get, "imagestreams", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        Ok(self.load_stream_or_404(&mut conn, ns, name).await?.stream)
    }

    pub async fn create_stream(&self, caller: &Caller, ns: &str, mut stream: ImageStream) -> Result<ImageStream, ApiError> {
        self.allow(caller, Verb::Create, "imagestreams", Some(ns))?;
        check_namespace_matches(&mut stream.metadata, ns)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        if store::load_stream(&mut tx, ns, &stream.metadata.name).await.map_err(db)?.is_some() {
            return Err(ApiError::already_exists(RES_IMAGESTREAMS, &stream.metadata.name));
        }
        let created = self.write_stream(&mut tx, caller, stream, None).await?;
        tx.commit().await.map_err(db)?;
        self.announce();
        self.notify_imports(&created);
        Ok(self.with_public_repository(created))
    }

    pub async fn update_stream(&self, caller: &Caller, ns: &str, name: &str, stream: ImageStream) -> Result<ImageStream, ApiError> {
        self.allow(caller, Verb::Update, "imagestreams", Some(ns))?;
        self.change_stream(caller, ns, name, |_| Ok(stream)).await
    }

    /// Replaces a stream with what `change` makes of the stored one, read in the writing
    /// transaction: nothing can move between the read and the write, so a change that names no
    /// resourceVersion (a patch without one) never meets a conflict; one that names a stale
    /// version gets 409. The caller's permissions are checked before.
    pub(crate) async fn change_stream(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        change: impl FnOnce(&ImageStream) -> Result<ImageStream, ApiError>,
    ) -> Result<ImageStream, ApiError> {
        let mut tx = self.store.begin().await.map_err(db)?;
        let old = self.load_stream_or_404(&mut tx, ns, name).await?;
        let mut stream = change(&old.stream)?;
        check_namespace_matches(&mut stream.metadata, ns)?;
        if stream.metadata.name.is_empty() {
            stream.metadata.name = name.to_string();
        } else if stream.metadata.name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                stream.metadata.name
            )));
        }
        check_resource_version(&stream.metadata, &old.stream.metadata, RES_IMAGESTREAMS, name)?;
        // The uid is the object's identity: an update naming another is refused (Kubernetes'
        // `ValidateObjectMetaUpdate`), not quietly given the stored one.
        if let Some(uid) = stream.metadata.uid.as_deref().filter(|u| !u.is_empty())
            && old.stream.metadata.uid.as_deref().is_some_and(|stored| stored != uid)
        {
            return Err(ApiError::invalid(RES_IMAGESTREAMS, name, &[FieldError::invalid("metadata.uid", uid, "field is immutable")]));
        }
        let updated = self.write_stream(&mut tx, caller, stream, Some(&old)).await?;
        tx.commit().await.map_err(db)?;
        self.announce();
        self.notify_imports(&updated);
        Ok(self.with_public_repository(updated))
    }

    pub async fn delete_stream(&self, caller: &Caller, ns: &str, name: &str) -> Result<Status, ApiError> {
        self.delete_stream_if(caller, ns, name, &Preconditions::default()).await
    }

    /// DELETE with the `DeleteOptions`' preconditions, checked against the stream as this
    /// transaction reads it (so nothing can change between the check and the delete).
    pub async fn delete_stream_if(&self, caller: &Caller, ns: &str, name: &str, pre: &Preconditions) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Delete, "imagestreams", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let old = self.load_stream_or_404(&mut tx, ns, name).await?;
        let meta = &old.stream.metadata;
        pre.check(RES_IMAGESTREAMS, name, meta.uid.as_deref().unwrap_or_default(), meta.resource_version.as_deref().unwrap_or_default())?;
        let mut last = old.stream.clone();
        last.metadata.resource_version = Some(store::next_resource_version(&mut tx).await.map_err(db)?.to_string());
        self.remove_stream(&mut tx, &old, &last).await?;
        tx.commit().await.map_err(db)?;
        self.announce();
        Ok(Status::success("imagestreams", IMAGE_GROUP, name))
    }

    /// The shared write path of a stream. `old` is the stored stream (None to create). Returns
    /// the stream as stored; an update that changes nothing writes nothing and keeps the old
    /// resource version.
    pub(crate) async fn write_stream(
        &self,
        tx: &mut SqliteConnection,
        caller: &Caller,
        mut new: ImageStream,
        old: Option<&StoredStream>,
    ) -> Result<ImageStream, ApiError> {
        let name = new.metadata.name.clone();
        // An object of another kind or version is refused, as the API server's decoder refuses
        // it; an empty one is this (a body may leave them out). Stored and answered as what it is.
        if !new.kind.is_empty() && new.kind != "ImageStream" {
            return Err(ApiError::bad_request(format!("kind: the object is a {:?}, not an ImageStream", for_log(&new.kind))));
        }
        if !new.api_version.is_empty() && new.api_version != IMAGE_API_VERSION {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({}) does not match the expected API version ({IMAGE_API_VERSION})",
                for_log(&new.api_version)
            )));
        }
        new.kind = "ImageStream".into();
        new.api_version = IMAGE_API_VERSION.into();
        apply_defaults(&mut new);
        let errs = validate_image_stream(&new);
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_IMAGESTREAMS, &name, &errs));
        }
        let changed = match old {
            None => prepare_create(&mut new),
            Some(o) => prepare_update(&mut new, &o.stream),
        };
        let mut others = BTreeMap::new();
        for (src_ns, src_name) in source_streams(&new, &changed) {
            // Reading another namespace's images needs read access there (spec §3.3).
            if src_ns != new.namespace() && self.allow(caller, Verb::Get, "imagestreams/layers", Some(&src_ns)).is_err() {
                let tag = new
                    .spec
                    .tags
                    .iter()
                    .find(|t| t.from.as_ref().is_some_and(|f| f.namespace == src_ns))
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                return Err(ApiError::invalid(
                    RES_IMAGESTREAMS,
                    &name,
                    &[FieldError::forbidden(format!("spec.tags[{tag}].from"), format!("{src_ns}/{src_name}"))],
                ));
            }
            if let Some(s) = store::load_stream(tx, &src_ns, &src_name).await.map_err(db)? {
                others.insert((src_ns, src_name), self.with_public_repository(s.stream));
            }
        }
        let now = self.now_rfc3339();
        // Resolution rewrites refs into our registry, so it sees the decorated repository.
        new = self.with_public_repository(new);
        let ctx = ResolveContext { now: &now, registry_host: &self.registry_host, other_streams: &others };
        resolve_changed_tags(&mut new, old.map(|o| &o.stream), &changed, &ctx)
            .map_err(|errs| ApiError::invalid(RES_IMAGESTREAMS, &name, &errs))?;
        match old {
            Some(o) => {
                new.metadata.uid = o.stream.metadata.uid.clone();
                new.metadata.creation_timestamp = o.stream.metadata.creation_timestamp.clone();
                new.metadata.resource_version = o.stream.metadata.resource_version.clone();
                new.metadata.self_link = None;
                if new == o.stream {
                    return Ok(new);
                }
                new.metadata.resource_version = Some(store::next_resource_version(tx).await.map_err(db)?.to_string());
                self.save_stream(tx, o, &new).await?;
            }
            None => {
                new.metadata.uid = Some(new_uid());
                new.metadata.creation_timestamp = Some(now);
                new.metadata.self_link = None;
                new.metadata.resource_version = Some(store::next_resource_version(tx).await.map_err(db)?.to_string());
                self.save_new_stream(tx, &new).await?;
            }
        }
        Ok(new)
    }

    /// What a mapping reads: the stream with its tags' heads alone (it reads and adds heads only:
    /// add_tag_event, update_tracking_tags) and the Image (`mapping_image`). A stream is found
    /// only in a namespace that exists; without one, which of the two is missing.
    async fn mapping_view(
        &self,
        conn: &mut SqliteConnection,
        caller: &Caller,
        ns: &str,
        stream_name: &str,
        digest: &str,
        proven: bool,
    ) -> Result<(StoredStream, Option<Image>), ApiError> {
        let old = match self.load_stream_heads_or_404(conn, ns, stream_name).await {
            Ok(old) => old,
            Err(e) => {
                self.require_namespace(conn, ns).await?;
                return Err(e);
            }
        };
        Ok((old, self.mapping_image(conn, caller, digest, proven).await?))
    }

    /// The Image a mapping names, if it is stored; refused as not found when the caller may not
    /// see it.
    async fn mapping_image(
        &self,
        conn: &mut SqliteConnection,
        caller: &Caller,
        digest: &str,
        proven: bool,
    ) -> Result<Option<Image>, ApiError> {
        let existing = store::get_image(conn, digest).await.map_err(db)?;
        if existing.is_some()
            && !proven
            && !caller.server_admin()
            && !store::image_held_in(conn, digest, caller.visible_namespaces().as_deref()).await.map_err(db)?
        {
            // Known, but not to this caller: answered as an image they cannot see, so the
            // mapping neither reveals the stored metadata nor replaces it.
            return Err(ApiError::not_found(RES_IMAGES, digest));
        }
        Ok(existing)
    }

    /// What a new image names of stored content, its children, layers and config, must be held
    /// where the caller may read (`store::claimable`): an image held in a stream gives the
    /// stream's registry repository and `imagestreamimages` what it names, so naming another
    /// namespace's manifest or blob would read it. A carried manifest proves the image's digest,
    /// not what the mapping says it names, so it does not lift this. Refused as 422 with a
    /// Forbidden cause per field. Server administrators, and callers who read every namespace,
    /// are not asked. Pushes are not mappings: the registry checks each blob of a pushed
    /// manifest itself.
    async fn check_image_claims(&self, conn: &mut SqliteConnection, caller: &Caller, stream: &str, image: &Image) -> Result<(), ApiError> {
        let Some(scope) = caller.visible_namespaces() else { return Ok(()) };
        let children =
            image.docker_image_manifests.iter().enumerate().map(|(i, m)| (format!("image.dockerImageManifests[{i}].digest"), &m.digest));
        let layers = image.docker_image_layers.iter().enumerate().map(|(i, l)| (format!("image.dockerImageLayers[{i}].name"), &l.name));
        let config = image
            .docker_image_metadata
            .as_ref()
            .filter(|m| m.id.starts_with("sha256:") || m.id.starts_with("sha512:"))
            .map(|m| ("image.dockerImageMetadata.Id".to_string(), &m.id));
        let mut errs = vec![];
        // Bounded by validate_mapping (MAX_IMAGE_CLAIMS each); a digest named twice is asked once.
        let mut asked: BTreeMap<&str, bool> = BTreeMap::new();
        for (field, digest) in children.chain(layers).chain(config) {
            let ok = match asked.get(digest.as_str()) {
                Some(ok) => *ok,
                None => {
                    let ok = store::claimable(conn, digest, &scope).await.map_err(db)?;
                    asked.insert(digest, ok);
                    ok
                }
            };
            if !ok {
                errs.push(FieldError::forbidden(
                    field,
                    format!(
                        "{digest} is stored, and held in no image stream you may read: push the image through the registry \
                         (which checks each blob), or map it where you may read what it names"
                    ),
                ));
            }
        }
        if errs.is_empty() { Ok(()) } else { Err(ApiError::invalid(RES_IMAGESTREAMMAPPINGS, stream, &errs)) }
    }

    /// ImageStreamMapping (spec §3.8): stores the image if new and records it as the head of the
    /// tag; tracking tags follow. The stream generation does not change. The write joins the
    /// group commit (`store::GroupedWrite`): it is answered once its group is committed.
    pub async fn create_mapping(&self, caller: &Caller, ns: &str, mut mapping: ImageStreamMapping) -> Result<Status, ApiError> {
        self.allow(caller, Verb::Create, "imagestreammappings", Some(ns))?;
        check_namespace_matches(&mut mapping.metadata, ns)?;
        let stream_name = mapping.metadata.name.clone();
        let errs = validate_mapping(ns, &mapping);
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_IMAGESTREAMMAPPINGS, &stream_name, &errs));
        }
        let proven = manifest_proves_digest(&mapping, &stream_name)?;
        // Read first on a reader, holding nothing: the writer is the one thing every write
        // waits for, and each statement under it is a round trip. Under the writer the stream's
        // version alone is checked; when it moved meanwhile, everything is read again there.
        let seen = {
            let mut conn = self.store.read().await.map_err(db)?;
            let seen = self.mapping_view(&mut conn, caller, ns, &stream_name, &mapping.image.metadata.name, proven).await?;
            // A stored image keeps its record (what the mapping claims for it is not used).
            if seen.1.is_none() {
                self.check_image_claims(&mut conn, caller, &stream_name, &mapping.image).await?;
            }
            seen
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.store.group_write(Box::new(MappingWrite {
            service: self.clone(),
            caller: caller.clone(),
            ns: ns.to_string(),
            mapping: Some(mapping),
            proven,
            seen: Some(seen),
            resume: None,
            result: None,
            reply,
            span: tracing::Span::current(),
        }));
        answer.await.map_err(|_| ApiError::internal("the write was dropped before it was answered"))?
    }

    /// The mapping's write through sqlx, once its `WriteState` was read on the locked connection
    /// and what the reader saw (`seen`) did not hold: it reads again here.
    #[allow(clippy::too_many_arguments)]
    async fn write_mapping_read(
        &self,
        tx: &mut SqliteConnection,
        state: store::WriteState,
        caller: &Caller,
        ns: &str,
        mapping: ImageStreamMapping,
        proven: bool,
        seen: (StoredStream, Option<Image>),
    ) -> Result<Status, ApiError> {
        let stream_name = mapping.metadata.name.clone();
        let digest = mapping.image.metadata.name.clone();
        // What the reader saw holds if neither the stream's version nor the Image's moved since
        // (its writes, imports and prune, do not move the stream); else everything is read
        // again here. Whether the caller may see a stored Image is asked again here (other
        // streams' histories decide it).
        let (old, existing) = if seen_holds(&state, &seen, caller, proven) {
            seen
        } else if state.stream_version == stream_version(&seen.0) {
            let existing = self.mapping_image(tx, caller, &digest, proven).await?;
            (seen.0, existing)
        } else {
            self.mapping_view(tx, caller, ns, &stream_name, &digest, proven).await?
        };
        let Some(plan) = self.mapping_plan(mapping, old, existing, &state) else {
            return Ok(mapping_status(&stream_name));
        };
        self.write_mapping_planned(tx, state, plan).await
    }

    /// The mapping's write through sqlx, once planned (`write_mapping_locked` stopped at the
    /// namespace's delivery quota, which needs an exact count).
    async fn write_mapping_planned(
        &self,
        tx: &mut SqliteConnection,
        state: store::WriteState,
        plan: MappingPlan,
    ) -> Result<Status, ApiError> {
        let outbox = if plan.changed {
            self.deliveries_for(tx, state.subscriptions, state.pending_bound, Some(&plan.old.stream), Some(&plan.new)).await?
        } else {
            vec![]
        };
        store::write_at_version(tx, state.counter + 1, plan.new_image(), plan.change(&outbox)).await.map_err(db)?;
        Ok(mapping_status(&plan.new.metadata.name))
    }

    /// The mapping's write on the group commit's locked connection (`store::Locked`): `seen` is
    /// what the reader saw; the write opens `savepoint` first. It stops (`MappingStep`), to go on
    /// through sqlx, when what the reader saw does not hold or the namespace's delivery quota
    /// needs an exact count; nothing is written before that is known.
    #[allow(clippy::too_many_arguments)]
    fn write_mapping_locked(
        &self,
        conn: &store::Locked<'_>,
        savepoint: &mut store::Savepoint,
        caller: &Caller,
        ns: &str,
        mapping: ImageStreamMapping,
        proven: bool,
        seen: (StoredStream, Option<Image>),
    ) -> Result<Result<Status, ApiError>, MappingStep> {
        let digest = &mapping.image.metadata.name;
        let state = match store::write_state_locked(conn, savepoint, ns, seen.0.id, digest) {
            Ok(state) => state,
            Err(e) => return Ok(Err(db(e))),
        };
        if !seen_holds(&state, &seen, caller, proven) {
            return Err(MappingStep::Read(Box::new((state, mapping, seen))));
        }
        let stream_name = mapping.metadata.name.clone();
        let (old, existing) = seen;
        let Some(plan) = self.mapping_plan(mapping, old, existing, &state) else {
            return Ok(Ok(mapping_status(&stream_name)));
        };
        let outbox = if plan.changed {
            match self.deliveries_within_bound(&state.subscriptions, state.pending_bound, Some(&plan.old.stream), Some(&plan.new)) {
                Some(Ok(outbox)) => outbox,
                Some(Err(e)) => return Ok(Err(e)),
                None => return Err(MappingStep::Planned(Box::new((state, plan)))),
            }
        } else {
            vec![]
        };
        let written = store::write_at_version_locked(conn, state.counter + 1, plan.new_image(), plan.change(&outbox));
        Ok(written.map(|()| mapping_status(&stream_name)).map_err(db))
    }

    /// What a mapping writes over `old` (with the stored Image `existing`, if any), at the
    /// version after `state`'s counter; `None` when it changes nothing (a repeated push of the
    /// same image to the same tag), so no resource version is spent.
    fn mapping_plan(
        &self,
        mut mapping: ImageStreamMapping,
        old: StoredStream,
        existing: Option<Image>,
        state: &store::WriteState,
    ) -> Option<MappingPlan> {
        let tag = mapping.tag.clone();
        let digest = mapping.image.metadata.name.clone();
        let repo = old.stream.status.docker_image_repository.clone();
        if mapping.image.docker_image_reference.is_empty() {
            mapping.image.docker_image_reference = format!("{repo}@{digest}");
        }
        let now = self.now_rfc3339();
        let mut reference = mapping.image.docker_image_reference.clone();
        let new_image = match &existing {
            None => {
                let mut image = mapping.image;
                image.strip_raw();
                Some(image)
            }
            Some(img) if img.metadata.annotations.get(ANNOTATION_IMAGE_MANAGED).map(String::as_str) == Some("true") => {
                reference = format!("{repo}@{digest}");
                None
            }
            Some(_) => None,
        };
        let mut new = old.stream.clone();
        let event = TagEvent {
            created: now.clone(),
            docker_image_reference: reference,
            image: digest,
            generation: new.metadata.generation.unwrap_or(1),
        };
        if add_tag_event(&mut new, &tag, event) {
            update_tracking_tags(&mut new, std::slice::from_ref(&tag));
        }
        let changed = new != old.stream;
        if new_image.is_none() && !changed {
            return None;
        }
        // The counter was read under the writer, in this transaction: the write's version is
        // the next one.
        if changed {
            new.metadata.resource_version = Some((state.counter + 1).to_string());
        }
        Some(MappingPlan { old, new, changed, new_image, uid: new_uid(), now })
    }

    /// GET `imagestreamimages/<stream>@<id>` (spec §1.5, §5.2, PRODUCT difference 2).
    pub async fn get_stream_image(&self, caller: &Caller, ns: &str, name: &str) -> Result<ImageStreamImage, ApiError> {
        self.allow(caller, Verb::Get, "imagestreamimages", Some(ns))?;
        let (stream_name, id) = parse_isimage_name(name)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let stored = self.load_stream_or_404(&mut conn, ns, &stream_name).await?;
        let images: Vec<String> =
            stored.stream.status.tags.iter().flat_map(|l| l.items().iter().map(|i| i.image.clone())).filter(|i| !i.is_empty()).collect();
        let children = store::manifest_children(&mut conn, &images).await.map_err(db)?;
        let digest = find_stream_image(&stored.stream, &id, &children)?;
        let mut image = store::get_image(&mut conn, &digest).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_IMAGES, &digest))?;
        image.strip_raw();
        Ok(ImageStreamImage {
            api_version: IMAGE_API_VERSION.into(),
            kind: "ImageStreamImage".into(),
            metadata: ObjectMeta {
                name: format!("{stream_name}@{id}"),
                namespace: Some(ns.into()),
                creation_timestamp: image.metadata.creation_timestamp.clone(),
                annotations: stored.stream.metadata.annotations.clone(),
                ..Default::default()
            },
            image,
        })
    }
}

/// A body's namespace must be empty or equal the URL's; an empty one is filled in.
pub(crate) fn check_namespace_matches(meta: &mut ObjectMeta, ns: &str) -> Result<(), ApiError> {
    match meta.namespace.as_deref() {
        None | Some("") => {
            meta.namespace = Some(ns.to_string());
            Ok(())
        }
        Some(n) if n == ns => Ok(()),
        Some(_) => Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request")),
    }
}

/// Optimistic concurrency: a body carrying a resourceVersion must carry the stored one.
pub(crate) fn check_resource_version(sent: &ObjectMeta, stored: &ObjectMeta, res: Resource, name: &str) -> Result<(), ApiError> {
    match sent.resource_version.as_deref() {
        Some(v) if !v.is_empty() && Some(v) != stored.resource_version.as_deref() => Err(ApiError::conflict(
            res,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )),
        _ => Ok(()),
    }
}

/// A mapping's answer: success, naming the stream.
fn mapping_status(stream_name: &str) -> Status {
    Status::success("imagestreammappings", IMAGE_GROUP, stream_name)
}

/// Whether what the reader saw still holds under the writer: neither the stream's version nor
/// the stored Image's moved since, and a stored Image needs no second look at whether the
/// caller may see it.
fn seen_holds(state: &store::WriteState, seen: &(StoredStream, Option<Image>), caller: &Caller, proven: bool) -> bool {
    let image_version = seen.1.as_ref().and_then(|i| i.metadata.resource_version.as_deref()?.parse::<i64>().ok());
    (state.stream_version, state.image_version) == (stream_version(&seen.0), image_version)
        && (seen.1.is_none() || proven || caller.server_admin())
}

/// The stored stream's resource version, as a number.
fn stream_version(stored: &StoredStream) -> Option<i64> {
    stored.stream.metadata.resource_version.as_deref().and_then(|v| v.parse().ok())
}

/// What a mapping writes (`Service::mapping_plan`).
struct MappingPlan {
    /// The stream as stored.
    old: StoredStream,
    /// The stream with the new history item, at the write's version if `changed`.
    new: ImageStream,
    changed: bool,
    /// The Image to store, if it is new.
    new_image: Option<Image>,
    /// The new Image's uid.
    uid: String,
    /// RFC 3339: the history item's and the watch event's time.
    now: String,
}

impl MappingPlan {
    fn new_image(&self) -> Option<store::NewImage<'_>> {
        // The sender's claim, until an import fetches the image from a registry.
        self.new_image.as_ref().map(|image| store::NewImage { image, uid: &self.uid, created: &self.now, verified: false })
    }

    fn change<'a>(&'a self, outbox: &'a [store::DeliveryRow]) -> Option<store::StreamChange<'a>> {
        self.changed.then_some(store::StreamChange { old: &self.old, new: &self.new, now: &self.now, outbox })
    }
}

/// Where a mapping's write on the locked connection stopped, to go on through sqlx.
enum MappingStep {
    /// What the reader saw does not hold: read again (the state read, the mapping, what the
    /// reader saw).
    Read(Box<(store::WriteState, ImageStreamMapping, (StoredStream, Option<Image>))>),
    /// The namespace's delivery quota needs an exact count (the state read, the plan).
    Planned(Box<(store::WriteState, MappingPlan)>),
}

/// An ImageStreamMapping as a write of the group commit: its answer goes to the request once the
/// group is committed.
struct MappingWrite {
    service: Service,
    caller: Caller,
    ns: String,
    /// Taken by `apply_locked` (which runs once).
    mapping: Option<ImageStreamMapping>,
    proven: bool,
    seen: Option<(StoredStream, Option<Image>)>,
    /// Where `apply_locked` stopped, for `apply` to go on from.
    resume: Option<MappingStep>,
    result: Option<Result<Status, ApiError>>,
    reply: tokio::sync::oneshot::Sender<Result<Status, ApiError>>,
    /// The request's span, so the write's log lines carry its request id.
    span: tracing::Span,
}

impl store::GroupedWrite for MappingWrite {
    fn apply<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
        _savepoint: &'c mut store::Savepoint,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send + 'c>> {
        use tracing::Instrument;
        let span = self.span.clone();
        Box::pin(
            async move {
                let service = &self.service;
                let result = match self.resume.take() {
                    Some(MappingStep::Read(step)) => {
                        let (state, mapping, seen) = *step;
                        service.write_mapping_read(conn, state, &self.caller, &self.ns, mapping, self.proven, seen).await
                    }
                    Some(MappingStep::Planned(step)) => {
                        let (state, plan) = *step;
                        service.write_mapping_planned(conn, state, plan).await
                    }
                    None => Err(ApiError::internal("a mapping went on through sqlx without having started")),
                };
                let ok = result.is_ok();
                self.result = Some(result);
                ok
            }
            .instrument(span),
        )
    }

    fn apply_locked(&mut self, conn: &store::Locked<'_>, savepoint: &mut store::Savepoint) -> Option<bool> {
        let _span = self.span.enter();
        let result = match (self.mapping.take(), self.seen.take()) {
            (Some(mapping), Some(seen)) => {
                match self.service.write_mapping_locked(conn, savepoint, &self.caller, &self.ns, mapping, self.proven, seen) {
                    Ok(result) => result,
                    Err(step) => {
                        self.resume = Some(step);
                        return None;
                    }
                }
            }
            _ => Err(ApiError::internal("a mapping was written twice")),
        };
        let ok = result.is_ok();
        self.result = Some(result);
        Some(ok)
    }

    /// Its first statement (`store::write_state_locked`) opens the savepoint.
    fn enters_savepoint(&self) -> bool {
        true
    }

    fn finish(self: Box<Self>, committed: Result<(), String>) {
        let answer = match (committed, self.result) {
            (Ok(()), Some(result)) => {
                if result.is_ok() {
                    self.service.announce();
                }
                result
            }
            (Ok(()), None) => Err(ApiError::internal("the mapping was not written")),
            (Err(e), _) => Err(ApiError::internal(format!("the write failed: {e}"))),
        };
        let _ = self.reply.send(answer);
    }
}
