//! Pushes: blob uploads (monolithic `POST ?digest=`, `POST` then `PUT`, chunked `PATCH` with
//! `Content-Range`, cross-repository mounts where the caller can pull the source), manifests by
//! tag or digest, and deletes. An upload is spooled to local disk with its running hash and
//! becomes a blob only when `PUT ?digest=` matches; uploads untouched for `upload_ttl` are
//! dropped; an interrupted push leaves nothing visible. A manifest's blobs and children must be
//! in the repository first. A manifest pushed by tag enters the stream like an
//! ImageStreamMapping (spec §3.8): the Image built from the manifest and its config, a history
//! item prepended, tracking tags following, the watch event and webhooks; a push creates the
//! stream when the caller may create streams. All database writes of a push are one
//! transaction, after the content is in the blob store. Writes pin their digests against the
//! garbage collector, and a manifest's references are checked again inside its transaction
//! (the protocol is in `gc`).
//!
//! Must not: accept content whose digest it has not checked.

use super::pull::describe_manifest;
use super::{Action, BodyStream, RegistryCaller, RegistryError, Repository, rdb};
use crate::blobs::{Digest, Hasher};
use crate::importer::Parsed;
use crate::service::{Service, new_uid};
use crate::store;
use app::domain::history::{add_tag_event, update_tracking_tags};
use app::model::{ANNOTATION_IMAGE_MANAGED, Image, ImageStream, TagEvent};
use bytes::Bytes;
use futures::StreamExt;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;

/// An upload in progress.
pub(crate) struct Upload {
    repo: Repository,
    /// The user who started it (another may not continue it).
    owner: Option<String>,
    spool: PathBuf,
    hasher: Hasher,
    size: u64,
    /// When a request last used it (service clock, unix milliseconds).
    touched: i64,
    /// A request is writing to it now.
    busy: bool,
}

/// Where an upload stands: its id and how many bytes it holds (the `Range` header's end + 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadStatus {
    pub id: String,
    pub offset: u64,
}

/// The answer to `POST /v2/<name>/blobs/uploads/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The blob is in the repository (a monolithic upload, or a mount): 201.
    Created { digest: String },
    /// An upload session was opened: 202.
    Started(UploadStatus),
}

/// The hash a new upload starts with (sha256; a `sha512` finish hashes the spool again).
fn new_hasher() -> Hasher {
    Digest::sha256_of(b"").hasher()
}

impl Service {
    /// `POST /v2/<name>/blobs/uploads/[?digest=…|?mount=…&from=…]`.
    pub async fn registry_start_upload(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        digest: Option<&str>,
        mount: Option<(&str, Option<&str>)>,
        body: BodyStream,
    ) -> Result<UploadOutcome, RegistryError> {
        self.registry_allow(rc, repo, Action::Push)?;
        if let Some((mounted, from)) = mount
            && let Some(digest) = self.try_mount(rc, repo, mounted, from).await?
        {
            return Ok(UploadOutcome::Created { digest });
        }
        if let Some(digest) = digest {
            let digest: Digest = digest.parse().map_err(RegistryError::digest_invalid)?;
            // Held from before the object is written until its rows are committed (`gc`).
            let _pin = self.pin_digest(&digest.to_string()).await;
            let size = self.write_blob(&digest, body).await?;
            self.record_blob(repo, &digest, size).await?;
            return Ok(UploadOutcome::Created { digest: digest.to_string() });
        }
        let status = self.open_upload(rc, repo)?;
        Ok(UploadOutcome::Started(status))
    }

    /// A mount of `digest` from `from` (or, without `from`, from nowhere: refused), when the
    /// caller may pull there and the blob is stored and held there; `None` falls back to an
    /// upload, as the spec says.
    async fn try_mount(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        digest: &str,
        from: Option<&str>,
    ) -> Result<Option<String>, RegistryError> {
        let digest: Digest = digest.parse().map_err(RegistryError::digest_invalid)?;
        let Some(from) = from.and_then(|f| Repository::parse(f).ok()) else { return Ok(None) };
        if self.registry_allow(rc, &from, Action::Pull).is_err() {
            return Ok(None);
        }
        let d = digest.to_string();
        // Held from before the look at the blob's row until the mount is committed: a
        // collection cannot delete the blob in between and leave a row without its object.
        let _pin = self.pin_digest(&d).await;
        let mut conn = self.store.read().await.map_err(rdb)?;
        let Some(size) = store::blob_size(&mut conn, &d).await.map_err(rdb)? else { return Ok(None) };
        if !blob_in_repository(&mut conn, &from, &d).await? {
            return Ok(None);
        }
        drop(conn);
        self.record_blob(repo, &digest, size as u64).await?;
        Ok(Some(d))
    }

    /// Records a blob the blob store now holds as part of `repo` (one transaction); a blob or
    /// claim recorded already is touched (its grace period starts again).
    async fn record_blob(&self, repo: &Repository, digest: &Digest, size: u64) -> Result<(), RegistryError> {
        let now = self.now_rfc3339();
        let d = digest.to_string();
        let mut tx = self.store.begin().await.map_err(rdb)?;
        store::put_blob(&mut tx, &d, size as i64, &now).await.map_err(rdb)?;
        store::add_repository_content(&mut tx, &repo.namespace, &repo.stream, &d, "blob", &now).await.map_err(rdb)?;
        tx.commit().await.map_err(rdb)
    }

    /// Streams a body into the blob store under `digest` (verified; a mismatch stores nothing).
    async fn write_blob(&self, digest: &Digest, mut body: BodyStream) -> Result<u64, RegistryError> {
        let max = self.registry.config.max_blob_bytes;
        let store_failed = |e: crate::blobs::BlobError| {
            tracing::error!(error = %e, "the blob store failed");
            RegistryError::internal("the blob store failed to write")
        };
        let mut writer = self.registry.config.blobs.writer(digest).await.map_err(store_failed)?;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => {
                    writer.abort().await;
                    return Err(body_error(e));
                }
            };
            if writer.size() + chunk.len() as u64 > max {
                writer.abort().await;
                return Err(RegistryError::size_invalid(format!("the blob is larger than the {max} bytes this registry takes")));
            }
            if let Err(e) = writer.write(&chunk).await {
                writer.abort().await;
                return Err(store_failed(e));
            }
        }
        match writer.finish().await {
            Ok(n) => {
                crate::metrics::metrics().add_registry_bytes("pushed", n);
                Ok(n)
            }
            Err(crate::blobs::BlobError::DigestMismatch { expected, got }) => {
                Err(RegistryError::digest_invalid(format!("the content's digest is {got}, not {expected}; nothing was stored")))
            }
            Err(e) => Err(store_failed(e)),
        }
    }

    /// Opens an upload session (bounded per user and server-wide; expired ones go first).
    fn open_upload(&self, rc: &RegistryCaller, repo: &Repository) -> Result<UploadStatus, RegistryError> {
        let cfg = &self.registry.config;
        std::fs::create_dir_all(&cfg.spool_dir).map_err(|e| {
            tracing::error!(error = %e, "the upload spool directory could not be created");
            RegistryError::internal("the upload could not be started")
        })?;
        let now = self.now_ms();
        let mut uploads = self.registry.uploads.lock().unwrap_or_else(|p| p.into_inner());
        let ttl = cfg.upload_ttl.as_millis() as i64;
        uploads.retain(|_, u| {
            let live = u.busy || now - u.touched < ttl;
            if !live {
                let _ = std::fs::remove_file(&u.spool);
            }
            live
        });
        let owner = rc.user().map(str::to_string);
        let mine = uploads.values().filter(|u| u.owner == owner).count();
        if uploads.len() >= cfg.max_uploads || mine >= cfg.max_uploads_per_user {
            return Err(RegistryError::too_many_requests("too many uploads in progress; finish or cancel some first", Some(10)));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let spool = cfg.spool_dir.join(format!("upload-{id}"));
        std::fs::File::create(&spool).map_err(|e| {
            tracing::error!(error = %e, "the upload spool could not be created");
            RegistryError::internal("the upload could not be started")
        })?;
        uploads.insert(id.clone(), Upload { repo: repo.clone(), owner, spool, hasher: new_hasher(), size: 0, touched: now, busy: false });
        Ok(UploadStatus { id, offset: 0 })
    }

    /// Takes an upload for one request (`busy`), checking it belongs to the repository and
    /// caller.
    fn take_upload(&self, rc: &RegistryCaller, repo: &Repository, id: &str) -> Result<(PathBuf, Hasher, u64), RegistryError> {
        let now = self.now_ms();
        let mut uploads = self.registry.uploads.lock().unwrap_or_else(|p| p.into_inner());
        let Some(u) = uploads.get_mut(id) else { return Err(RegistryError::upload_unknown()) };
        if u.repo != *repo || u.owner.as_deref() != rc.user() {
            return Err(RegistryError::upload_unknown());
        }
        if now - u.touched >= self.registry.config.upload_ttl.as_millis() as i64 && !u.busy {
            let _ = std::fs::remove_file(&u.spool);
            uploads.remove(id);
            return Err(RegistryError::upload_unknown());
        }
        if u.busy {
            return Err(RegistryError::range_invalid("another request is writing to this upload"));
        }
        u.busy = true;
        Ok((u.spool.clone(), u.hasher.clone(), u.size))
    }

    /// Gives an upload back after a request (with what it wrote, or unchanged on failure).
    fn put_back(&self, id: &str, state: Option<(Hasher, u64)>) {
        let now = self.now_ms();
        let mut uploads = self.registry.uploads.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(u) = uploads.get_mut(id) {
            u.busy = false;
            u.touched = now;
            if let Some((h, size)) = state {
                u.hasher = h;
                u.size = size;
            }
        }
    }

    /// Appends a body to an upload's spool, hashing it; `Err` leaves the spool cut back to
    /// where it was.
    async fn append(
        &self,
        spool: &std::path::Path,
        mut hasher: Hasher,
        size: u64,
        mut body: BodyStream,
    ) -> Result<(Hasher, u64), RegistryError> {
        let max = self.registry.config.max_blob_bytes;
        let failed = |e: std::io::Error| {
            tracing::error!(error = %e, "the upload spool failed");
            RegistryError::internal("the upload could not be written")
        };
        let mut file = tokio::fs::OpenOptions::new().append(true).open(spool).await.map_err(failed)?;
        let mut written = size;
        let result: Result<(), RegistryError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(body_error)?;
                if written + chunk.len() as u64 > max {
                    return Err(RegistryError::size_invalid(format!("the blob is larger than the {max} bytes this registry takes")));
                }
                file.write_all(&chunk).await.map_err(failed)?;
                hasher.update(&chunk);
                written += chunk.len() as u64;
            }
            file.flush().await.map_err(failed)
        }
        .await;
        match result {
            Ok(()) => Ok((hasher, written)),
            Err(e) => {
                // What this request wrote is not part of the upload.
                let _ = file.set_len(size).await;
                Err(e)
            }
        }
    }

    /// `PATCH /v2/<name>/blobs/uploads/<id>`: a chunk; `Content-Range: <start>-<end>` must start
    /// where the upload ends (else 416).
    pub async fn registry_patch_upload(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        id: &str,
        content_range: Option<(u64, u64)>,
        body: BodyStream,
    ) -> Result<UploadStatus, RegistryError> {
        self.registry_allow(rc, repo, Action::Push)?;
        let (spool, hasher, size) = self.take_upload(rc, repo, id)?;
        if let Some((start, _)) = content_range
            && start != size
        {
            self.put_back(id, None);
            return Err(RegistryError::range_invalid(format!("the chunk starts at {start}, but the upload holds {size} bytes")));
        }
        match self.append(&spool, hasher, size, body).await {
            Ok((hasher, size)) => {
                self.put_back(id, Some((hasher, size)));
                Ok(UploadStatus { id: id.to_string(), offset: size })
            }
            Err(e) => {
                self.put_back(id, None);
                Err(e)
            }
        }
    }

    /// `PUT /v2/<name>/blobs/uploads/<id>?digest=…`: the last chunk (if any), then the check:
    /// the blob is stored only when the whole upload has `digest`.
    pub async fn registry_finish_upload(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        id: &str,
        digest: &str,
        body: BodyStream,
    ) -> Result<String, RegistryError> {
        self.registry_allow(rc, repo, Action::Push)?;
        let digest: Digest = digest.parse().map_err(RegistryError::digest_invalid)?;
        let (spool, hasher, size) = self.take_upload(rc, repo, id)?;
        let (hasher, size) = match self.append(&spool, hasher, size, body).await {
            Ok(done) => done,
            Err(e) => {
                self.put_back(id, None);
                return Err(e);
            }
        };
        let got = if digest.to_string().starts_with("sha256:") {
            hasher.clone().finish()
        } else {
            let data = tokio::fs::read(&spool).await.unwrap_or_default();
            let mut h = digest.hasher();
            h.update(&data);
            h.finish()
        };
        if got != digest {
            // The upload stays open (the client may fix its digest), as distribution does.
            self.put_back(id, Some((hasher, size)));
            return Err(RegistryError::digest_invalid(format!("the upload's digest is {got}, not {digest}")));
        }
        let file = tokio::fs::File::open(&spool).await.map_err(|e| {
            tracing::error!(error = %e, "the upload spool could not be read");
            RegistryError::internal("the upload could not be read")
        })?;
        let body = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20).boxed();
        let pin = self.pin_digest(&digest.to_string()).await;
        let stored = self.write_blob(&digest, body).await;
        // Finished or failed for good: the session ends either way.
        {
            let mut uploads = self.registry.uploads.lock().unwrap_or_else(|p| p.into_inner());
            uploads.remove(id);
        }
        let _ = tokio::fs::remove_file(&spool).await;
        let size = stored?;
        self.record_blob(repo, &digest, size).await?;
        drop(pin);
        Ok(digest.to_string())
    }

    /// `GET /v2/<name>/blobs/uploads/<id>`: where the upload stands.
    pub fn registry_upload_status(&self, rc: &RegistryCaller, repo: &Repository, id: &str) -> Result<UploadStatus, RegistryError> {
        self.registry_allow(rc, repo, Action::Push)?;
        let now = self.now_ms();
        let uploads = self.registry.uploads.lock().unwrap_or_else(|p| p.into_inner());
        match uploads.get(id) {
            Some(u)
                if u.repo == *repo
                    && u.owner.as_deref() == rc.user()
                    && now - u.touched < self.registry.config.upload_ttl.as_millis() as i64 =>
            {
                Ok(UploadStatus { id: id.to_string(), offset: u.size })
            }
            _ => Err(RegistryError::upload_unknown()),
        }
    }

    /// `DELETE /v2/<name>/blobs/uploads/<id>`: cancels an upload.
    pub fn registry_cancel_upload(&self, rc: &RegistryCaller, repo: &Repository, id: &str) -> Result<(), RegistryError> {
        self.registry_allow(rc, repo, Action::Push)?;
        let mut uploads = self.registry.uploads.lock().unwrap_or_else(|p| p.into_inner());
        match uploads.get(id) {
            Some(u) if u.repo == *repo && u.owner.as_deref() == rc.user() && !u.busy => {
                let _ = std::fs::remove_file(&u.spool);
                uploads.remove(id);
                Ok(())
            }
            _ => Err(RegistryError::upload_unknown()),
        }
    }

    /// `PUT /v2/<name>/manifests/<reference>`: stores a manifest whose blobs (or children) the
    /// repository holds; by tag, it enters the stream (see the module doc). Returns the digest
    /// and the subject, if any.
    pub async fn registry_put_manifest(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        reference: &str,
        content_type: Option<&str>,
        body: Bytes,
    ) -> Result<(String, Option<String>), RegistryError> {
        self.registry_allow(rc, repo, Action::Push)?;
        let (digest, tag) = if reference.contains(':') {
            let d: Digest = reference.parse().map_err(RegistryError::digest_invalid)?;
            if !d.matches(&body) {
                return Err(RegistryError::digest_invalid(format!("the manifest's digest is not {d}")));
            }
            (d, None)
        } else {
            if !app::domain::names::is_valid_tag_name(reference) {
                return Err(RegistryError::tag_invalid(reference));
            }
            (Digest::sha256_of(&body), Some(reference.to_string()))
        };
        let d = digest.to_string();
        let (stored, refs) = describe_manifest(&d, &body, content_type).map_err(RegistryError::manifest_invalid)?;
        if let Some(ct) = content_type.map(|c| c.split(';').next().unwrap_or_default().trim())
            && ct.starts_with("application/vnd.")
            && ct != stored.media_type
        {
            return Err(RegistryError::manifest_invalid(format!(
                "the Content-Type {ct} does not match the manifest's mediaType {}",
                stored.media_type
            )));
        }
        let parsed = crate::importer::parse_manifest(&body).map_err(RegistryError::manifest_invalid)?;
        // The manifest and everything it names are pinned against garbage collection from
        // before this check until the commit (the protocol is in `gc`).
        let _pins = self.pin_digests(std::iter::once(d.clone()).chain(refs.iter().map(|r| r.digest.clone()))).await;
        // Everything the manifest names must be in this repository already.
        let mut conn = self.store.read().await.map_err(rdb)?;
        for r in &refs {
            let present = if r.kind == "manifest" {
                store::stored_manifest(&mut conn, &r.digest).await.map_err(rdb)?.is_some()
                    && (store::repository_holds(&mut conn, &repo.namespace, &repo.stream, &r.digest).await.map_err(rdb)?
                        || !store::manifest_sources(&mut conn, &repo.namespace, &repo.stream, &r.digest).await.map_err(rdb)?.is_empty())
            } else {
                store::blob_size(&mut conn, &r.digest).await.map_err(rdb)?.is_some()
                    && blob_in_repository(&mut conn, repo, &r.digest).await?
            };
            if !present {
                return Err(RegistryError::manifest_blob_unknown(&r.digest));
            }
        }
        drop(conn);
        let images = match &tag {
            Some(_) => Some(self.images_of_push(repo, &d, &body, &parsed).await?),
            None => None,
        };
        self.registry.config.blobs.put(&digest, body.clone()).await.map_err(|e| {
            tracing::error!(error = %e, "the blob store failed to write a manifest");
            RegistryError::internal("the manifest could not be stored")
        })?;
        let now = self.now_rfc3339();
        let mut tx = self.store.begin().await.map_err(rdb)?;
        // Checked again inside the transaction: whatever a collection deleted since the check
        // above is seen here, and nothing is committed over it (distribution#2881; see `gc`).
        if let Some(missing) = store::first_unrecorded_ref(&mut tx, &refs).await.map_err(rdb)? {
            return Err(RegistryError::manifest_blob_unknown(&missing));
        }
        store::put_blob(&mut tx, &d, body.len() as i64, &now).await.map_err(rdb)?;
        store::put_manifest(&mut tx, &stored, &refs, &now).await.map_err(rdb)?;
        store::add_repository_content(&mut tx, &repo.namespace, &repo.stream, &d, "manifest", &now).await.map_err(rdb)?;
        let changed = match (&tag, images) {
            (Some(tag), Some((image, children))) => self.push_to_stream(&mut tx, rc, repo, tag, image, children, &now).await?,
            _ => false,
        };
        tx.commit().await.map_err(rdb)?;
        if changed {
            self.announce();
        }
        Ok((d, stored.subject))
    }

    /// The Image objects of a manifest pushed by tag: the image (from its config), or the index
    /// and its children.
    async fn images_of_push(
        &self,
        repo: &Repository,
        digest: &str,
        body: &[u8],
        parsed: &Parsed,
    ) -> Result<(Image, Vec<Image>), RegistryError> {
        let spec = format!("{}/{}", self.registry_host, repo.name());
        match parsed {
            Parsed::Image(m) => Ok((self.image_of_stored(&spec, digest, body, m).await?, vec![])),
            Parsed::List(list) => {
                let image = crate::importer::list_image(&spec, digest, body, list, &self.now_rfc3339());
                let mut children = vec![];
                for c in &list.manifests {
                    let Ok(cd) = c.digest.parse::<Digest>() else { continue };
                    let Ok(Some(raw)) = self.registry.config.blobs.read_small(&cd, crate::importer::MAX_MANIFEST_BYTES as u64).await else {
                        return Err(RegistryError::manifest_blob_unknown(&c.digest));
                    };
                    if let Ok(Parsed::Image(m)) = crate::importer::parse_manifest(&raw) {
                        children.push(self.image_of_stored(&spec, &c.digest, &raw, &m).await?);
                    }
                }
                Ok((image, children))
            }
        }
    }

    async fn image_of_stored(
        &self,
        spec: &str,
        digest: &str,
        raw: &[u8],
        m: &crate::importer::SingleManifest,
    ) -> Result<Image, RegistryError> {
        let config = match m.config_digest.parse::<Digest>() {
            Ok(cd) => self
                .registry
                .config
                .blobs
                .read_small(&cd, crate::importer::MAX_CONFIG_BYTES as u64)
                .await
                .ok()
                .flatten()
                .unwrap_or_default(),
            Err(_) => Bytes::new(),
        };
        let mut image = crate::importer::image_from_manifest(spec, digest, raw, m, &config);
        image.metadata.annotations.insert(ANNOTATION_IMAGE_MANAGED.into(), "true".into());
        image.strip_raw();
        Ok(image)
    }

    /// The ImageStreamMapping a push by tag is (spec §3.8), inside the push's transaction:
    /// the images stored (verified: the registry holds their bytes), the history item
    /// prepended, tracking tags updated, the stream created when missing and allowed. Returns
    /// whether the stream changed.
    #[allow(clippy::too_many_arguments)]
    async fn push_to_stream(
        &self,
        tx: &mut sqlx::SqliteConnection,
        rc: &RegistryCaller,
        repo: &Repository,
        tag: &str,
        image: Image,
        children: Vec<Image>,
        now: &str,
    ) -> Result<bool, RegistryError> {
        let api = |e: app::model::ApiError| match e.code() {
            404 => RegistryError::name_unknown(&repo.name()),
            403 | 401 => RegistryError::denied(e.status.message),
            _ => RegistryError::internal(e.status.message),
        };
        if store::get_namespace(tx, &repo.namespace).await.map_err(rdb)?.is_none() {
            return Err(RegistryError::name_unknown(&repo.name()));
        }
        let mut rv: Option<i64> = None;
        for img in std::iter::once(&image).chain(&children) {
            if store::image_verified(tx, &img.metadata.name).await.map_err(rdb)? == Some(true) {
                continue;
            }
            let v = match rv {
                Some(v) => v,
                None => *rv.insert(store::next_resource_version(tx).await.map_err(rdb)?),
            };
            store::put_imported_image(tx, img, &new_uid(), v, now).await.map_err(rdb)?;
        }
        // A push reads and adds heads only (add_tag_event, update_tracking_tags): its cost must
        // not grow with the stream's history.
        let old = store::load_stream_heads(tx, &repo.namespace, &repo.stream).await.map_err(rdb)?;
        if old.is_none() {
            self.allow(&rc.caller, app::domain::accounts::Verb::Create, "imagestreams", Some(&repo.namespace)).map_err(api)?;
        }
        let mut stream = match &old {
            Some(o) => o.stream.clone(),
            None => ImageStream::new(&repo.namespace, &repo.stream),
        };
        let public = self.with_public_repository(stream.clone()).status.docker_image_repository;
        let digest = image.metadata.name.clone();
        let event = TagEvent {
            created: now.to_string(),
            docker_image_reference: format!("{public}@{digest}"),
            image: digest,
            generation: stream.metadata.generation.unwrap_or(1),
        };
        let mut changed = add_tag_event(&mut stream, tag, event);
        if changed {
            update_tracking_tags(&mut stream, &[tag.to_string()]);
        }
        if old.is_none() {
            changed = true;
        }
        if !changed {
            return Ok(rv.is_some());
        }
        let v = match rv {
            Some(v) => v,
            None => store::next_resource_version(tx).await.map_err(rdb)?,
        };
        stream.metadata.resource_version = Some(v.to_string());
        match &old {
            Some(o) => self.save_stream(tx, o, &stream).await.map_err(api)?,
            None => {
                stream.metadata.uid = Some(new_uid());
                stream.metadata.creation_timestamp = Some(now.to_string());
                stream.metadata.generation = Some(1);
                self.save_new_stream(tx, &stream).await.map_err(api)?;
            }
        }
        Ok(true)
    }

    /// `DELETE /v2/<name>/manifests/<reference>`: by tag, the tag (like `delete istag`); by
    /// digest, the image's history items in the stream (tags left without history go) and the
    /// repository's own copy. Admins only.
    pub async fn registry_delete_manifest(&self, rc: &RegistryCaller, repo: &Repository, reference: &str) -> Result<(), RegistryError> {
        self.registry_allow(rc, repo, Action::Delete)?;
        if !reference.contains(':') {
            if !app::domain::names::is_valid_tag_name(reference) {
                return Err(RegistryError::tag_invalid(reference));
            }
            return match self.delete_istag(&rc.caller, &repo.namespace, &format!("{}:{reference}", repo.stream)).await {
                Ok(_) => Ok(()),
                Err(e) if e.code() == 404 => Err(RegistryError::manifest_unknown(reference)),
                Err(e) if e.code() == 403 || e.code() == 401 => Err(RegistryError::denied(e.status.message)),
                Err(e) => Err(RegistryError::internal(e.status.message)),
            };
        }
        let digest: Digest = reference.parse().map_err(RegistryError::digest_invalid)?;
        let d = digest.to_string();
        let mut tx = self.store.begin().await.map_err(rdb)?;
        let removed = store::remove_repository_content(&mut tx, &repo.namespace, &repo.stream, &d).await.map_err(rdb)? > 0;
        let old = store::load_stream(&mut tx, &repo.namespace, &repo.stream).await.map_err(rdb)?;
        let mut changed = false;
        if let Some(o) = &old {
            let mut stream = o.stream.clone();
            for t in stream.status.tags.iter_mut() {
                if let Some(items) = t.items.as_mut() {
                    let before = items.len();
                    items.retain(|i| i.image != d);
                    changed |= items.len() != before;
                }
            }
            stream.status.tags.retain(|t| !t.items().is_empty() || !t.conditions.is_empty());
            if changed {
                let v = store::next_resource_version(&mut tx).await.map_err(rdb)?;
                stream.metadata.resource_version = Some(v.to_string());
                self.save_stream(&mut tx, o, &stream).await.map_err(|e| RegistryError::internal(e.status.message))?;
            }
        }
        if !removed && !changed {
            return Err(RegistryError::manifest_unknown(&d));
        }
        tx.commit().await.map_err(rdb)?;
        if changed {
            self.announce();
        }
        Ok(())
    }

    /// `DELETE /v2/<name>/blobs/<digest>`: the repository no longer holds the blob of its own
    /// (a manifest that still refers to it keeps it readable). Admins only.
    pub async fn registry_delete_blob(&self, rc: &RegistryCaller, repo: &Repository, digest: &str) -> Result<(), RegistryError> {
        self.registry_allow(rc, repo, Action::Delete)?;
        let digest: Digest = digest.parse().map_err(RegistryError::digest_invalid)?;
        let d = digest.to_string();
        let mut tx = self.store.begin().await.map_err(rdb)?;
        if store::remove_repository_content(&mut tx, &repo.namespace, &repo.stream, &d).await.map_err(rdb)? == 0 {
            return Err(RegistryError::blob_unknown(&d));
        }
        tx.commit().await.map_err(rdb)
    }
}

impl Service {
    /// Pushes an image made here, as the server itself: `config` (an image config document) and
    /// no layers, into `<ns>/<stream>:<tag>`, exactly as a client's push would go. The demo's
    /// images that `podman pull` can fetch from the integrated registry come from it.
    pub async fn push_config_image(&self, ns: &str, stream: &str, tag: &str, config: &[u8]) -> Result<String, RegistryError> {
        let rc = RegistryCaller { caller: crate::service::Caller::system(), access: None };
        let repo = Repository::parse(&format!("{ns}/{stream}"))?;
        let config_digest = Digest::sha256_of(config);
        let body: BodyStream = futures::stream::iter([Ok(Bytes::copy_from_slice(config))]).boxed();
        self.registry_start_upload(&rc, &repo, Some(&config_digest.to_string()), None, body).await?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": crate::importer::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len()},
            "layers": []
        });
        let (digest, _) =
            self.registry_put_manifest(&rc, &repo, tag, Some(crate::importer::OCI_MANIFEST), Bytes::from(manifest.to_string())).await?;
        Ok(digest)
    }
}

/// Whether the repository holds a blob: uploaded or mounted there, referred to by a manifest
/// it holds, or part of an image of its history.
async fn blob_in_repository(conn: &mut sqlx::SqliteConnection, repo: &Repository, digest: &str) -> Result<bool, RegistryError> {
    Ok(store::repository_holds(conn, &repo.namespace, &repo.stream, digest).await.map_err(rdb)?
        || store::referenced_in_repository(conn, &repo.namespace, &repo.stream, digest).await.map_err(rdb)?
        || !store::blob_sources(conn, &repo.namespace, &repo.stream, digest).await.map_err(rdb)?.is_empty())
}

/// A request body that broke off (a client gone, or over the edge's limit).
fn body_error(e: std::io::Error) -> RegistryError {
    RegistryError::upload_invalid(format!("the request body could not be read: {e}"))
}
