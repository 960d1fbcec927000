//! Pulls: manifests by tag or digest (with content negotiation for indexes), blobs with
//! ranges, served from the blob store when present and otherwise **pulled through** from where
//! the stream's history says the image came from (spec §6.2): the history item's
//! `dockerImageReference` (children of a listed index included), with the namespace's registry
//! credentials and the insecure setting of the stream or tag, through the importer's guarded,
//! bounded client. A digest the repository does not know is never fetched: the registry is no
//! open proxy.
//!
//! A blob pulled through is downloaded once, however many clients want it (`Download`): the
//! download is spooled to local disk while its hash is computed; every client streams from the
//! spool as it grows, and the last byte is held back until the digest is verified, so a client
//! never receives a complete wrong blob (a mismatch or a broken upstream aborts every response).
//! With the mirror on, the verified spool is then written to the blob store (atomic, verified
//! again) and recorded, so later pulls are local, also when the upstream is down.
//!
//! Must not: write anything a failed or unverified download produced.

use super::{Action, BodyStream, RegistryCaller, RegistryError, Repository, rdb};
use crate::blobs::Digest;
use crate::importer::{DOCKER_LIST, OCI_INDEX, Parsed, RegistryLogin};
use crate::service::{Service, normalize_registry};
use crate::store::{self, ImageSource, ManifestRef, StoredManifest};
use app::domain::reference::DockerImageReference;
use app::model::{ANNOTATION_INSECURE_REPOSITORY, OperationStatus};
use bytes::Bytes;
use futures::StreamExt;
use sqlx::types::Json;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// A manifest to send: its digest, media type and bytes.
#[derive(Clone, Debug)]
pub struct ManifestAnswer {
    pub digest: String,
    pub media_type: String,
    pub body: Bytes,
}

/// A blob to send: its whole size (unknown while a pull-through has not learnt it), the range
/// sent (`None`: all of it) and the bytes.
pub struct BlobAnswer {
    pub size: Option<u64>,
    pub range: Option<Range<u64>>,
    pub body: BodyStream,
}

/// A `Range` request header, parsed by the edge: `bytes=a-b`, `bytes=a-`, `bytes=-n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteRange {
    FromTo(u64, u64),
    From(u64),
    Suffix(u64),
}

impl ByteRange {
    /// Parses one range of a `Range` header (several ranges are not served: `None`).
    pub fn parse(header: &str) -> Option<ByteRange> {
        let spec = header.trim().strip_prefix("bytes=")?;
        if spec.contains(',') {
            return None;
        }
        let (a, b) = spec.split_once('-')?;
        match (a.trim(), b.trim()) {
            ("", n) => n.parse().ok().map(ByteRange::Suffix),
            (a, "") => a.parse().ok().map(ByteRange::From),
            (a, b) => Some(ByteRange::FromTo(a.parse().ok()?, b.parse().ok()?)),
        }
    }

    /// The byte range (end exclusive) in a blob of `size` bytes, or `RANGE_INVALID`.
    pub fn resolve(self, size: u64) -> Result<Range<u64>, RegistryError> {
        let r = match self {
            ByteRange::FromTo(a, b) if a <= b => a..(b + 1).min(size),
            ByteRange::From(a) => a..size,
            ByteRange::Suffix(n) if n > 0 => size.saturating_sub(n)..size,
            _ => return Err(RegistryError::range_invalid("the range is not valid")),
        };
        if r.start >= size || r.start >= r.end {
            return Err(RegistryError::range_invalid(format!("the range starts past the end of the blob ({size} bytes)")));
        }
        Ok(r)
    }
}

/// Bytes read from a spool per chunk.
const SPOOL_CHUNK: usize = 1 << 20;
/// Bytes gathered from the upstream before each write to the spool.
const SPOOL_WRITE: usize = 1 << 20;
/// Pull-through candidates tried per request (history items may name several upstreams).
const MAX_SOURCES: usize = 3;

/// How a download pulled through is going.
#[derive(Clone, Debug)]
pub(super) enum Progress {
    Connecting,
    Running {
        written: u64,
        total: Option<u64>,
    },
    /// Verified: all `size` bytes are in the spool.
    Done {
        size: u64,
    },
    Failed(RegistryError),
}

/// One blob being pulled through, shared by every client that wants it meanwhile.
pub(crate) struct Download {
    spool: PathBuf,
    progress: tokio::sync::watch::Sender<Progress>,
}

/// Where a history item's image can be fetched: the upstream reference by digest, transport
/// and credentials.
struct Upstream {
    reference: String,
    insecure: bool,
    auth: Option<RegistryLogin>,
}

impl Service {
    /// `GET|HEAD /v2/<name>/manifests/<reference>`. `accept` are the client's `Accept` media
    /// types: an index is answered with its linux/amd64 (else first) child to a client that
    /// accepts no index type, as CNCF distribution does. `pulled` records the pull (GET).
    pub async fn registry_manifest(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        reference: &str,
        accept: &[String],
        pulled: bool,
    ) -> Result<ManifestAnswer, RegistryError> {
        self.registry_allow(rc, repo, Action::Pull)?;
        let digest = self.resolve_manifest_reference(repo, reference).await?;
        let mut answer = self.manifest_content(repo, &digest).await?;
        let is_index = answer.media_type == OCI_INDEX || answer.media_type == DOCKER_LIST;
        let accepts_index = accept.is_empty() || accept.iter().any(|a| a == OCI_INDEX || a == DOCKER_LIST || a == "*/*");
        if is_index
            && !accepts_index
            && let Ok(Parsed::List(list)) = crate::importer::parse_manifest(&answer.body)
            && let Some(child) = crate::importer::choose_platform(&list, None, None)
            && let Ok(child) = child.digest.parse::<Digest>()
        {
            answer = self.manifest_content(repo, &child).await?;
        }
        if pulled {
            self.note_pull(repo, &answer.digest);
        }
        Ok(answer)
    }

    /// The digest a manifest reference names in the repository: a tag's head, or a digest the
    /// repository knows.
    async fn resolve_manifest_reference(&self, repo: &Repository, reference: &str) -> Result<Digest, RegistryError> {
        let mut conn = self.store.read().await.map_err(rdb)?;
        let unknown_repo =
            |exists: bool| if exists { RegistryError::manifest_unknown(reference) } else { RegistryError::name_unknown(&repo.name()) };
        if reference.contains(':') {
            let digest: Digest = reference.parse().map_err(RegistryError::digest_invalid)?;
            let d = digest.to_string();
            let known = store::repository_holds(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?
                || !store::manifest_sources(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?.is_empty()
                || store::referenced_in_repository(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?;
            if !known {
                let exists = store::stream_exists(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?
                    || store::repository_has_contents(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?;
                return Err(unknown_repo(exists));
            }
            return Ok(digest);
        }
        // A reference that is no valid tag names no manifest: a pull of it is 404, as the
        // distribution spec asks of any manifest not found (its conformance suite pulls
        // `.INVALID_MANIFEST_NAME`); TAG_INVALID stays the answer to pushing such a tag.
        let head = if app::domain::names::is_valid_tag_name(reference) {
            store::tag_head(&mut conn, &repo.namespace, &repo.stream, reference).await.map_err(rdb)?
        } else {
            None
        };
        match head.and_then(|h| h.parse::<Digest>().ok()) {
            Some(d) => Ok(d),
            None => {
                let exists = store::stream_exists(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?;
                Err(unknown_repo(exists))
            }
        }
    }

    /// A manifest's bytes: stored, or pulled through (and mirrored when the mirror is on).
    async fn manifest_content(&self, repo: &Repository, digest: &Digest) -> Result<ManifestAnswer, RegistryError> {
        let d = digest.to_string();
        let mut conn = self.store.read().await.map_err(rdb)?;
        if let Some(m) = store::stored_manifest(&mut conn, &d).await.map_err(rdb)? {
            drop(conn);
            match self.registry.config.blobs.read_small(digest, crate::importer::MAX_MANIFEST_BYTES as u64).await {
                Ok(Some(body)) => return Ok(ManifestAnswer { digest: d, media_type: m.media_type, body }),
                Ok(None) => tracing::warn!(digest = %d, "a recorded manifest is missing from the blob store; pulling it through"),
                Err(e) => tracing::warn!(digest = %d, error = %e, "the blob store failed to read a manifest; pulling it through"),
            }
            conn = self.store.read().await.map_err(rdb)?;
        }
        let sources = store::manifest_sources(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?;
        drop(conn);
        let upstreams = self.upstreams(repo, &sources, digest).await?;
        if upstreams.is_empty() {
            return Err(RegistryError::manifest_unknown(&d));
        }
        let mut last = None;
        for u in &upstreams {
            match self.importer.pull_manifest(&u.reference, u.insecure, &u.auth).await {
                Ok((body, content_type)) => {
                    crate::metrics::metrics().add_registry_bytes("pulled_through", body.len() as u64);
                    let (stored, refs) = describe_manifest(&d, &body, content_type.as_deref()).map_err(RegistryError::manifest_invalid)?;
                    if self.registry.config.mirror {
                        self.mirror_manifest(digest, &body, &stored, &refs).await;
                    }
                    return Ok(ManifestAnswer { digest: d, media_type: stored.media_type, body });
                }
                Err(status) => last = Some(pull_through_error(&status, &d, true)),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::manifest_unknown(&d)))
    }

    /// Writes a manifest pulled through to the blob store and records it; a failure is logged
    /// (the client still gets the verified manifest).
    async fn mirror_manifest(&self, digest: &Digest, body: &Bytes, stored: &StoredManifest, refs: &[ManifestRef]) {
        // Held from the object write until its rows are committed (see `gc`).
        let _pin = self.pin_digest(&digest.to_string()).await;
        if let Err(e) = self.registry.config.blobs.put(digest, body.clone()).await {
            tracing::warn!(digest = %digest, error = %e, "could not mirror a manifest");
            return;
        }
        let now = self.now_rfc3339();
        let written: Result<(), sqlx::Error> = async {
            let mut tx = self.store.begin().await?;
            store::put_blob(&mut tx, &stored.digest, stored.size, &now).await?;
            store::put_manifest(&mut tx, stored, refs, &now).await?;
            tx.commit().await
        }
        .await;
        match written {
            Ok(()) => crate::metrics::metrics().add_registry_bytes("mirrored", body.len() as u64),
            Err(e) => tracing::warn!(digest = %digest, error = %e, "could not record a mirrored manifest"),
        }
    }

    /// `GET|HEAD /v2/<name>/blobs/<digest>`: stored, or pulled through (`Download`).
    pub async fn registry_blob(
        &self,
        rc: &RegistryCaller,
        repo: &Repository,
        digest: &str,
        range: Option<ByteRange>,
        head: bool,
    ) -> Result<BlobAnswer, RegistryError> {
        self.registry_allow(rc, repo, Action::Pull)?;
        let digest: Digest = digest.parse().map_err(RegistryError::digest_invalid)?;
        let d = digest.to_string();
        // Pinned while the blob's row is read and, when it is stored, noted as seen: a client
        // told "it exists" may skip the upload and name it in a manifest next, so the
        // collector spares it for a grace period (see `gc`).
        let mut pin = Some(self.pin_digest(&d).await);
        let mut conn = self.store.read().await.map_err(rdb)?;
        let held = store::repository_holds(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?
            || store::referenced_in_repository(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?;
        let sources = if held { vec![] } else { store::blob_sources(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)? };
        if !held && sources.is_empty() {
            let exists = store::stream_exists(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?
                || store::repository_has_contents(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?;
            return Err(if exists { RegistryError::blob_unknown(&d) } else { RegistryError::name_unknown(&repo.name()) });
        }
        let stored = store::blob_size(&mut conn, &d).await.map_err(rdb)?;
        drop(conn);
        if let Some(size) = stored {
            self.saw_blob(&d);
            let size = size as u64;
            let range = range.map(|r| r.resolve(size)).transpose()?;
            if head {
                return Ok(BlobAnswer { size: Some(size), range, body: futures::stream::empty().boxed() });
            }
            let opened = self.registry.config.blobs.open(&digest, range.clone()).await;
            // Open, the object reads to its end even if it is deleted now.
            pin.take();
            match opened {
                Ok(Some(read)) => {
                    let body = read.body.map(|r| r.map_err(std::io::Error::other)).boxed();
                    return Ok(BlobAnswer { size: Some(read.size), range, body });
                }
                Ok(None) => tracing::warn!(digest = %d, "a recorded blob is missing from the blob store"),
                Err(e) => tracing::warn!(digest = %d, error = %e, "the blob store failed to read a blob"),
            }
        }
        // Not stored: what follows is a pull-through, which pins what it writes itself.
        drop(pin);
        let sources = if sources.is_empty() {
            let mut conn = self.store.read().await.map_err(rdb)?;
            store::blob_sources(&mut conn, &repo.namespace, &repo.stream, &d).await.map_err(rdb)?
        } else {
            sources
        };
        if sources.is_empty() {
            return Err(RegistryError::blob_unknown(&d));
        }
        self.pull_through_blob(repo, &digest, sources, range, head).await
    }

    /// A blob the store holds (mirrored just now), served from there.
    async fn stored_blob(&self, digest: &Digest, range: Option<ByteRange>, head: bool) -> Result<BlobAnswer, RegistryError> {
        let d = digest.to_string();
        let mut conn = self.store.read().await.map_err(rdb)?;
        let size = store::blob_size(&mut conn, &d).await.map_err(rdb)?.ok_or_else(|| RegistryError::blob_unknown(&d))? as u64;
        drop(conn);
        let range = range.map(|r| r.resolve(size)).transpose()?;
        if head {
            return Ok(BlobAnswer { size: Some(size), range, body: futures::stream::empty().boxed() });
        }
        match self.registry.config.blobs.open(digest, range.clone()).await {
            Ok(Some(read)) => {
                Ok(BlobAnswer { size: Some(read.size), range, body: read.body.map(|r| r.map_err(std::io::Error::other)).boxed() })
            }
            Ok(None) => Err(RegistryError::blob_unknown(&d)),
            Err(e) => {
                tracing::warn!(digest = %d, error = %e, "the blob store failed to read a blob");
                Err(RegistryError::internal("the blob store failed to read"))
            }
        }
    }

    /// Joins the download of `digest` in flight, or starts it, and answers once the upstream
    /// answered (its failure is the answer's).
    async fn pull_through_blob(
        &self,
        repo: &Repository,
        digest: &Digest,
        sources: Vec<ImageSource>,
        range: Option<ByteRange>,
        head: bool,
    ) -> Result<BlobAnswer, RegistryError> {
        if head {
            // A HEAD needs the size, not the bytes: a layer's size is in its image's record, so
            // asking whether a 1 GB layer exists does not download it (a config's is not: those
            // are small, and fetched).
            let mut conn = self.store.read().await.map_err(rdb)?;
            if let Some(size) = store::layer_size(&mut conn, &digest.to_string()).await.map_err(rdb)? {
                let size = size as u64;
                let range = range.map(|r| r.resolve(size)).transpose()?;
                return Ok(BlobAnswer { size: Some(size), range, body: futures::stream::empty().boxed() });
            }
        }
        let Some((download, file)) = self.join_download(repo, digest, sources).await? else {
            return self.stored_blob(digest, range, head).await;
        };
        let mut progress = download.progress.subscribe();
        let total = loop {
            let p = progress.borrow_and_update().clone();
            match p {
                Progress::Connecting => {}
                Progress::Running { total, .. } => break total,
                Progress::Done { size } => break Some(size),
                Progress::Failed(e) => return Err(e),
            }
            if progress.changed().await.is_err() {
                return Err(RegistryError::unavailable("the pull-through download stopped"));
            }
        };
        let range = match (range, total) {
            (Some(r), Some(size)) => Some(r.resolve(size)?),
            (Some(_), None) => return Err(RegistryError::range_invalid("the blob's size is not known yet; ask again without a range")),
            (None, _) => None,
        };
        if head {
            return Ok(BlobAnswer { size: total, range, body: futures::stream::empty().boxed() });
        }
        let start = range.as_ref().map_or(0, |r| r.start);
        let end = range.as_ref().map(|r| r.end);
        Ok(BlobAnswer { size: total, range, body: spool_reader(Arc::new(file), progress, start, end) })
    }

    /// The download of `digest` in flight (with the spool opened for reading), or a new one.
    async fn join_download(
        &self,
        repo: &Repository,
        digest: &Digest,
        sources: Vec<ImageSource>,
    ) -> Result<Option<(Arc<Download>, std::fs::File)>, RegistryError> {
        let io = |e: std::io::Error| {
            tracing::error!(error = %e, "the pull-through spool failed");
            RegistryError::internal("the pull-through spool could not be written")
        };
        {
            let downloads = self.registry.downloads.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(d) = downloads.get(digest)
                && let Ok(f) = std::fs::File::open(&d.spool)
            {
                return Ok(Some((d.clone(), f)));
            }
        }
        // A download that finished between the caller's look at the store and now has
        // mirrored the blob and left: serve what it stored rather than download it again.
        {
            let mut conn = self.store.read().await.map_err(rdb)?;
            if store::blob_size(&mut conn, &digest.to_string()).await.map_err(rdb)?.is_some() {
                return Ok(None);
            }
        }
        // Resolve where to fetch from before claiming the download (database work, no lock).
        let upstreams = self.upstreams(repo, &sources, digest).await?;
        if upstreams.is_empty() {
            return Err(RegistryError::blob_unknown(&digest.to_string()));
        }
        std::fs::create_dir_all(&self.registry.config.spool_dir).map_err(io)?;
        let mut downloads = self.registry.downloads.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(d) = downloads.get(digest)
            && let Ok(f) = std::fs::File::open(&d.spool)
        {
            return Ok(Some((d.clone(), f)));
        }
        let spool = self.registry.config.spool_dir.join(format!("pull-{}", uuid::Uuid::new_v4().simple()));
        let writer = std::fs::File::create(&spool).map_err(io)?;
        let reader = std::fs::File::open(&spool).map_err(io)?;
        let download = Arc::new(Download { spool, progress: tokio::sync::watch::channel(Progress::Connecting).0 });
        downloads.insert(digest.clone(), download.clone());
        drop(downloads);
        let service = self.clone();
        let (task_download, task_digest) = (download.clone(), digest.clone());
        // In the span of the request that started it (the one that waits first).
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            service.run_download(task_digest, task_download, writer, upstreams).await
        }));
        Ok(Some((download, reader)))
    }

    /// Downloads into the spool, verifies, tells the readers, mirrors, and cleans up.
    async fn run_download(&self, digest: Digest, download: Arc<Download>, writer: std::fs::File, upstreams: Vec<Upstream>) {
        let outcome = self.fetch_into_spool(&digest, &download, writer, &upstreams).await;
        match outcome {
            Ok(size) => {
                download.progress.send_replace(Progress::Done { size });
                if self.registry.config.mirror {
                    self.mirror_spool(&digest, &download.spool, size).await;
                }
            }
            Err(e) => {
                tracing::info!(digest = %digest, error = %e.message, "a pull-through download failed");
                download.progress.send_replace(Progress::Failed(e));
            }
        }
        {
            let mut downloads = self.registry.downloads.lock().unwrap_or_else(|p| p.into_inner());
            if downloads.get(&digest).is_some_and(|d| Arc::ptr_eq(d, &download)) {
                downloads.remove(&digest);
            }
        }
        // Readers keep their open handles; the name goes.
        let _ = tokio::fs::remove_file(&download.spool).await;
    }

    async fn fetch_into_spool(
        &self,
        digest: &Digest,
        download: &Download,
        writer: std::fs::File,
        upstreams: &[Upstream],
    ) -> Result<u64, RegistryError> {
        let d = digest.to_string();
        let mut answer = None;
        let mut last = None;
        for u in upstreams {
            match self.importer.pull_blob(&u.reference, &d, u.insecure, &u.auth).await {
                Ok(res) => {
                    answer = Some(res);
                    break;
                }
                Err(status) => last = Some(pull_through_error(&status, &d, false)),
            }
        }
        let Some(mut res) = answer else { return Err(last.unwrap_or_else(|| RegistryError::blob_unknown(&d))) };
        let max = self.registry.config.max_blob_bytes;
        let total = res.content_length();
        if total.is_some_and(|t| t > max) {
            return Err(RegistryError::size_invalid(format!("the blob is larger than the {max} bytes this registry takes")));
        }
        download.progress.send_replace(Progress::Running { written: 0, total });
        let mut file = tokio::fs::File::from_std(writer);
        let mut hasher = digest.hasher();
        // Bytes received, and bytes in the spool (what readers are told).
        let mut received: u64 = 0;
        let mut written: u64 = 0;
        let broken = |written: u64, why: String| {
            RegistryError::unavailable(format!("the upstream stopped sending {d} after {written} bytes: {why}"))
        };
        // Chunks are gathered and written SPOOL_WRITE bytes at a time: each write is a trip to
        // the blocking pool, and the network hands over chunks of a few KiB.
        let mut pending = bytes::BytesMut::with_capacity(SPOOL_WRITE);
        loop {
            let chunk = match res.chunk().await {
                Ok(Some(c)) => Some(c),
                Ok(None) => None,
                Err(e) => return Err(broken(received, crate::importer::scrub_error(&e))),
            };
            if let Some(c) = &chunk {
                received += c.len() as u64;
                crate::metrics::metrics().add_registry_bytes("pulled_through", c.len() as u64);
                if received > max || total.is_some_and(|t| received > t) {
                    return Err(RegistryError::size_invalid(format!(
                        "the upstream sent more of {d} than it announced or this registry takes"
                    )));
                }
                hasher.update(c);
                pending.extend_from_slice(c);
            }
            if pending.len() >= SPOOL_WRITE || (chunk.is_none() && !pending.is_empty()) {
                file.write_all(&pending).await.map_err(|e| broken(received, e.to_string()))?;
                // tokio's File hands a write to a background thread and returns before the
                // bytes are in the spool; readers read the spool as soon as they are told, so
                // they are told only what `flush` (that write done, no fsync) has put there.
                file.flush().await.map_err(|e| broken(received, e.to_string()))?;
                written = received;
                pending.clear();
                download.progress.send_modify(|p| *p = Progress::Running { written, total });
            }
            if chunk.is_none() {
                break;
            }
        }
        if total.is_some_and(|t| t != written) {
            return Err(broken(written, "the body is shorter than its Content-Length".into()));
        }
        let got = hasher.finish();
        if got != *digest {
            return Err(RegistryError::unavailable(format!("the upstream sent content with the digest {got} for {d}; nothing was kept")));
        }
        Ok(written)
    }

    /// Writes a verified spool to the blob store (verified again on the way) and records it.
    async fn mirror_spool(&self, digest: &Digest, spool: &std::path::Path, size: u64) {
        // Held from the object write until its row is committed (see `gc`).
        let _pin = self.pin_digest(&digest.to_string()).await;
        let copied: Result<(), String> = async {
            let mut file = tokio::fs::File::open(spool).await.map_err(|e| e.to_string())?;
            let mut writer = self.registry.config.blobs.writer(digest).await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = tokio::io::AsyncReadExt::read(&mut file, &mut buf).await.map_err(|e| e.to_string())?;
                if n == 0 {
                    break;
                }
                writer.write(&buf[..n]).await.map_err(|e| e.to_string())?;
            }
            writer.finish().await.map_err(|e| e.to_string())?;
            let mut conn = self.store.begin().await.map_err(|e| e.to_string())?;
            store::put_blob(&mut conn, &digest.to_string(), size as i64, &self.now_rfc3339()).await.map_err(|e| e.to_string())?;
            conn.commit().await.map_err(|e| e.to_string())
        }
        .await;
        match copied {
            Ok(()) => crate::metrics::metrics().add_registry_bytes("mirrored", size),
            Err(e) => tracing::warn!(digest = %digest, error = %e, "could not mirror a blob pulled through"),
        }
    }

    /// The upstreams of history items (at most `MAX_SOURCES`): items that name the integrated
    /// registry itself are skipped (spec §6.2), and so are references that do not parse.
    async fn upstreams(&self, repo: &Repository, sources: &[ImageSource], digest: &Digest) -> Result<Vec<Upstream>, RegistryError> {
        if sources.is_empty() {
            return Ok(vec![]);
        }
        let mut conn = self.store.read().await.map_err(rdb)?;
        let stream = store::load_stream(&mut conn, &repo.namespace, &repo.stream).await.map_err(rdb)?;
        drop(conn);
        let Some(stream) = stream.map(|s| s.stream) else { return Ok(vec![]) };
        let credentials = self
            .registry_credentials(&repo.namespace)
            .await
            .map_err(|_| RegistryError::internal("the registry credentials could not be read"))?;
        let stream_insecure = stream.metadata.annotations.get(ANNOTATION_INSECURE_REPOSITORY).is_some_and(|v| v == "true");
        let own = self.registry_host.to_ascii_lowercase();
        let mut out: Vec<Upstream> = vec![];
        for s in sources {
            let Ok(r) = DockerImageReference::parse(&s.docker_image_reference) else { continue };
            if r.registry.to_ascii_lowercase() == own {
                continue;
            }
            let mut by_digest = r.as_repository();
            by_digest.id = digest.to_string();
            let reference = by_digest.exact();
            if out.iter().any(|u| u.reference == reference) {
                continue;
            }
            let insecure = stream_insecure || stream.spec_tag(&s.tag).is_some_and(|t| t.import_policy.insecure);
            let registry = normalize_registry(if r.registry.is_empty() { "docker.io" } else { &r.registry });
            let auth = credentials.get(&registry).map(|c| RegistryLogin { username: c.username.clone(), password: c.password.clone() });
            out.push(Upstream { reference, insecure, auth });
            if out.len() == MAX_SOURCES {
                break;
            }
        }
        Ok(out)
    }

    /// Records a pull of an image from a repository, at most once a minute per pair, off the
    /// request (pruning reads it; a client's pull never waits for the write).
    pub(super) fn note_pull(&self, repo: &Repository, digest: &str) {
        let now = self.clock_now().timestamp();
        let key = (repo.namespace.clone(), repo.stream.clone(), digest.to_string());
        {
            let mut recorded = self.registry.recorded_pulls.lock().unwrap_or_else(|p| p.into_inner());
            if recorded.get(&key).is_some_and(|t| now - t < 60) {
                return;
            }
            if recorded.len() > 100_000 {
                recorded.clear();
            }
            recorded.insert(key.clone(), now);
        }
        let service = self.clone();
        tokio::spawn(async move {
            let at = service.now_rfc3339();
            let done: Result<(), sqlx::Error> = async {
                let mut tx = service.store.begin().await?;
                store::record_pull(&mut tx, &key.0, &key.1, &key.2, &at).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "could not record a pull");
            }
        });
    }
}

/// What a pull-through failure means to the client: the upstream's 404 is unknown content, its
/// 429 is passed on with `Retry-After`, anything else (down, slow, 5xx, refused) is 503.
fn pull_through_error(status: &OperationStatus, digest: &str, manifest: bool) -> RegistryError {
    match status.code {
        404 if manifest => RegistryError::manifest_unknown(digest),
        404 => RegistryError::blob_unknown(digest),
        429 => RegistryError::too_many_requests(
            format!("the upstream registry is throttling: {}", status.message),
            crate::importer::retry_after(status),
        ),
        _ => RegistryError::unavailable(format!("the upstream registry could not serve {digest}: {}", status.message)),
    }
}

/// The record of a manifest (media type, size, subject, artifact type, annotations) and what it
/// refers to. The media type is the document's `mediaType`, else the `Content-Type` it came
/// with, else what its shape says (an index has `manifests`).
pub(super) fn describe_manifest(
    digest: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<(StoredManifest, Vec<ManifestRef>), String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Descriptor {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        digest: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Extra {
        #[serde(default)]
        media_type: Option<String>,
        #[serde(default)]
        artifact_type: Option<String>,
        #[serde(default)]
        subject: Option<Descriptor>,
        #[serde(default)]
        config: Option<Descriptor>,
        #[serde(default)]
        annotations: Option<BTreeMap<String, String>>,
    }
    let parsed = crate::importer::parse_manifest(body)?;
    let extra: Extra = serde_json::from_slice(body).map_err(|e| format!("the manifest is not valid: {e}"))?;
    let content_type =
        content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_string()).filter(|c| c.starts_with("application/vnd."));
    let (shape_type, refs) = match &parsed {
        Parsed::Image(m) => {
            let mut refs = vec![ManifestRef {
                digest: m.config_digest.clone(),
                kind: "config",
                size: 0,
                media_type: extra.config.as_ref().and_then(|c| c.media_type.clone()).unwrap_or_default(),
            }];
            refs.extend(m.layers.iter().map(|l| ManifestRef {
                digest: l.digest.clone(),
                kind: "layer",
                size: l.size,
                media_type: l.media_type.clone(),
            }));
            (m.media_type.clone(), refs)
        }
        Parsed::List(l) => (
            l.media_type.clone(),
            l.manifests
                .iter()
                .map(|c| ManifestRef { digest: c.digest.clone(), kind: "manifest", size: c.size, media_type: c.media_type.clone() })
                .collect(),
        ),
    };
    for r in &refs {
        r.digest.parse::<Digest>().map_err(|e| format!("the manifest refers to {:?}: {e}", r.digest))?;
    }
    let media_type = extra.media_type.clone().or(content_type).unwrap_or(shape_type);
    let artifact_type =
        extra.artifact_type.clone().or_else(|| extra.config.as_ref().and_then(|c| c.media_type.clone())).unwrap_or_default();
    let subject = match extra.subject.and_then(|s| s.digest) {
        Some(s) => Some(s.parse::<Digest>().map_err(|e| format!("the manifest's subject {s:?}: {e}"))?.to_string()),
        None => None,
    };
    let stored = StoredManifest {
        digest: digest.to_string(),
        media_type,
        size: body.len() as i64,
        artifact_type,
        subject,
        annotations: Json(extra.annotations.unwrap_or_default()),
    };
    Ok((stored, refs))
}

/// Streams `start..end` (end: the blob's end when `None`) of a spool as its download fills
/// it: never the final byte before the download is verified, and an error (the response
/// aborts) when it fails.
fn spool_reader(file: Arc<std::fs::File>, progress: tokio::sync::watch::Receiver<Progress>, start: u64, end: Option<u64>) -> BodyStream {
    futures::stream::unfold((file, progress, start, end, false), |(file, mut progress, pos, end, finished)| async move {
        if finished {
            return None;
        }
        loop {
            let p = progress.borrow_and_update().clone();
            let (readable, size) = match p {
                Progress::Connecting => (0, None),
                Progress::Running { written, .. } => (written.saturating_sub(1), None),
                Progress::Done { size } => (size, Some(size)),
                Progress::Failed(e) => {
                    return Some((Err(std::io::Error::other(e.message)), (file, progress, pos, end, true)));
                }
            };
            let stop = end.unwrap_or(u64::MAX).min(size.unwrap_or(u64::MAX));
            let limit = readable.min(stop);
            if pos < limit {
                let want = ((limit - pos) as usize).min(SPOOL_CHUNK);
                let f = file.clone();
                let read = tokio::task::spawn_blocking(move || {
                    use std::os::unix::fs::FileExt;
                    let mut buf = vec![0u8; want];
                    let mut filled = 0;
                    while filled < want {
                        match f.read_at(&mut buf[filled..], pos + filled as u64) {
                            Ok(0) => break,
                            Ok(n) => filled += n,
                            Err(e) => return Err(e),
                        }
                    }
                    buf.truncate(filled);
                    Ok(buf)
                })
                .await;
                return match read {
                    Ok(Ok(buf)) if !buf.is_empty() => {
                        let next = pos + buf.len() as u64;
                        Some((Ok(Bytes::from(buf)), (file, progress, next, end, false)))
                    }
                    Ok(Ok(_)) => {
                        Some((Err(std::io::Error::other("the spool is shorter than announced")), (file, progress, pos, end, true)))
                    }
                    Ok(Err(e)) => Some((Err(e), (file, progress, pos, end, true))),
                    Err(e) => Some((Err(std::io::Error::other(e)), (file, progress, pos, end, true))),
                };
            }
            if size.is_some() && pos >= stop {
                return None;
            }
            if progress.changed().await.is_err() {
                // The download ended; its last word is still readable.
                let last = progress.borrow().clone();
                if !matches!(last, Progress::Done { .. } | Progress::Failed(_)) {
                    return Some((Err(std::io::Error::other("the pull-through download stopped")), (file, progress, pos, end, true)));
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_resolve() {
        assert_eq!(ByteRange::parse("bytes=0-9"), Some(ByteRange::FromTo(0, 9)));
        assert_eq!(ByteRange::parse("bytes=5-"), Some(ByteRange::From(5)));
        assert_eq!(ByteRange::parse("bytes=-3"), Some(ByteRange::Suffix(3)));
        assert_eq!(ByteRange::parse("bytes=0-1,4-5"), None);
        assert_eq!(ByteRange::FromTo(0, 9).resolve(100).unwrap(), 0..10);
        assert_eq!(ByteRange::FromTo(90, 200).resolve(100).unwrap(), 90..100);
        assert_eq!(ByteRange::Suffix(3).resolve(100).unwrap(), 97..100);
        assert_eq!(ByteRange::From(100).resolve(100).unwrap_err().status, 416);
        assert_eq!(ByteRange::FromTo(9, 3).resolve(100).unwrap_err().status, 416);
    }

    #[test]
    fn manifests_are_described_with_their_references_and_subject() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let doc = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.example.sbom",
            "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": d('a'), "size": 2},
            "layers": [{"mediaType": "application/json", "digest": d('b'), "size": 10}],
            "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('c'), "size": 100},
            "annotations": {"org.example": "x"}
        })
        .to_string();
        let (m, refs) = describe_manifest(&d('f'), doc.as_bytes(), None).unwrap();
        assert_eq!(m.artifact_type, "application/vnd.example.sbom");
        assert_eq!(m.subject, Some(d('c')));
        assert_eq!(refs.iter().map(|r| (r.kind, r.digest.clone())).collect::<Vec<_>>(), vec![("config", d('a')), ("layer", d('b'))]);
        let bad = doc.replace(&d('b'), "sha256:../../etc");
        assert!(describe_manifest(&d('f'), bad.as_bytes(), None).is_err());
    }
}
