//! Content-addressed storage of the integrated registry: blobs and manifests by their digest,
//! behind the `object_store` crate (the local filesystem under `--data-dir` by default, any
//! S3-compatible store with `--blob-store s3://bucket/prefix`). Every object is named by a parsed
//! [`Digest`] (`blobs/<algorithm>/<first two hex>/<hex>`), never by a path built from a raw
//! string, and every write is verified against its digest before it becomes visible: a write
//! goes through a multipart upload that object_store commits atomically (a rename on the
//! filesystem, a completed multipart upload on S3) only after the digest matched; a mismatch
//! aborts it and nothing is stored.
//!
//! Must not: decide who may read or write a blob, or remember which repository holds what
//! (that is the service and the store); it knows nothing above it.

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::Digest as _;
use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::sync::Arc;

/// A content digest as the OCI image spec defines it (`algorithm:encoded`), restricted to the
/// algorithms registries use: `sha256` (64 lowercase hex digits) and `sha512` (128).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

/// The hash function of a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }
    fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

impl FromStr for Digest {
    type Err = String;

    /// Errors name the rule broken (`BlobError`-free: callers map it to `DIGEST_INVALID`).
    fn from_str(s: &str) -> Result<Self, String> {
        let (algorithm, hex) = s.split_once(':').ok_or_else(|| "a digest has the form <algorithm>:<hex>".to_string())?;
        let algorithm = match algorithm {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            other => {
                return Err(format!(
                    "the digest algorithm {:?} is not supported (sha256 or sha512)",
                    other.chars().take(32).collect::<String>()
                ));
            }
        };
        if hex.len() != algorithm.hex_len() || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(format!("a {} digest is {} lowercase hex digits", algorithm.name(), algorithm.hex_len()));
        }
        Ok(Digest { algorithm, hex: hex.to_string() })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl Digest {
    /// The sha256 digest of `data`.
    pub fn sha256_of(data: &[u8]) -> Digest {
        Digest { algorithm: Algorithm::Sha256, hex: hex::encode(sha2::Sha256::digest(data)) }
    }

    /// A hasher of this digest's algorithm.
    pub fn hasher(&self) -> Hasher {
        match self.algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Whether `data` has this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        let mut h = self.hasher();
        h.update(data);
        h.finish() == *self
    }

    /// The encoded part (hex digits).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// Where the object of this digest lives in the store.
    fn location(&self) -> ObjectPath {
        // Every part is checked hex or a fixed name: no separator or `..` can come from outside.
        ObjectPath::from(format!("blobs/{}/{}/{}", self.algorithm.name(), &self.hex[..2], self.hex))
    }
}

/// A running hash of a stream, in the algorithm of the digest it is checked against.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything hashed.
    pub fn finish(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest { algorithm: Algorithm::Sha256, hex: hex::encode(h.finalize()) },
            Hasher::Sha512(h) => Digest { algorithm: Algorithm::Sha512, hex: hex::encode(h.finalize()) },
        }
    }
}

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The content does not have the digest it was written under; nothing was stored.
    #[error("the content has the digest {got}, not {expected}")]
    DigestMismatch { expected: Digest, got: Digest },
    /// The requested range is outside the blob.
    #[error("the range is not satisfiable")]
    Range,
    /// The store failed (disk, network); the detail is for the server log.
    #[error("the blob store failed: {0}")]
    Store(#[from] object_store::Error),
    #[error("the blob store failed: {0}")]
    Io(#[from] std::io::Error),
}

/// A readable blob: its whole size, the range being read and its bytes.
pub struct BlobRead {
    pub size: u64,
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, BlobError>>,
}

/// Bytes read from a file per chunk when serving (object_store's own file stream reads 8 KiB
/// per blocking task; a registry serving 256 MB layers wants far fewer, larger reads).
const FILE_CHUNK: usize = 256 * 1024;
/// Size of the parts of a multipart write (S3's minimum part size is 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// The blob store (cheap to clone: shared).
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// What the store is, for the log (`filesystem /data/blobs`, `s3 bucket/prefix`).
    description: String,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobStore({})", self.description)
    }
}

impl BlobStore {
    /// Blobs in the directory `dir` (created, mode 0700 on Unix).
    pub fn filesystem(dir: &std::path::Path) -> Result<BlobStore, BlobError> {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(BlobStore { store: Arc::new(store), description: format!("filesystem {}", dir.display()) })
    }

    /// Blobs in an S3-compatible bucket: `s3://bucket[/prefix]`, credentials and endpoint from
    /// the usual `AWS_*` environment variables (`AWS_ENDPOINT` for MinIO and the like,
    /// `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint).
    pub fn s3(url: &str) -> Result<BlobStore, BlobError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| BlobError::Io(std::io::Error::other(format!("{url:?}: {e}"))))?;
        let store = object_store::aws::AmazonS3Builder::from_env().with_url(url).build()?;
        let prefix = parsed.path().trim_matches('/').to_string();
        let store: Arc<dyn ObjectStore> =
            if prefix.is_empty() { Arc::new(store) } else { Arc::new(object_store::prefix::PrefixStore::new(store, prefix.as_str())) };
        Ok(BlobStore { store, description: format!("s3 {}", url) })
    }

    /// Blobs in memory (tests).
    pub fn memory() -> BlobStore {
        BlobStore { store: Arc::new(object_store::memory::InMemory::new()), description: "memory".into() }
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The size of a stored blob, or `None` when it is not stored.
    pub async fn size(&self, digest: &Digest) -> Result<Option<u64>, BlobError> {
        match self.store.head(&digest.location()).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a stored blob, or a range of it (`start..end`, end exclusive; an end past the
    /// size is cut to the size). `None` when it is not stored; `BlobError::Range` when the
    /// range starts past its end.
    pub async fn open(&self, digest: &Digest, range: Option<Range<u64>>) -> Result<Option<BlobRead>, BlobError> {
        let options = GetOptions { range: range.clone().map(GetRange::Bounded), ..Default::default() };
        let result = match self.store.get_opts(&digest.location(), options).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(object_store::Error::NotModified { .. }) => return Err(BlobError::Range),
            Err(e) if range.is_some() && e.to_string().contains("range") => return Err(BlobError::Range),
            Err(e) => return Err(e.into()),
        };
        let size = result.meta.size;
        let range = result.range.clone();
        let body = match result.payload {
            GetResultPayload::File(file, _) => file_stream(file, range.clone()),
            GetResultPayload::Stream(s) => s.map_err(BlobError::from).boxed(),
        };
        Ok(Some(BlobRead { size, range, body }))
    }

    /// A whole stored blob of at most `limit` bytes (manifests, configs): `None` when it is not
    /// stored or is larger.
    pub async fn read_small(&self, digest: &Digest, limit: u64) -> Result<Option<Bytes>, BlobError> {
        match self.size(digest).await? {
            Some(n) if n <= limit => {}
            _ => return Ok(None),
        }
        match self.store.get(&digest.location()).await {
            Ok(r) => Ok(Some(r.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Stores `data` under `digest` after checking it has that digest.
    pub async fn put(&self, digest: &Digest, data: Bytes) -> Result<(), BlobError> {
        let got = {
            let mut h = digest.hasher();
            h.update(&data);
            h.finish()
        };
        if got != *digest {
            return Err(BlobError::DigestMismatch { expected: digest.clone(), got });
        }
        self.store.put(&digest.location(), data.into()).await?;
        Ok(())
    }

    /// A verified streaming write of `digest` (see `BlobWriter`).
    pub async fn writer(&self, digest: &Digest) -> Result<BlobWriter, BlobError> {
        let upload = self.store.put_multipart(&digest.location()).await?;
        Ok(BlobWriter {
            upload: WriteMultipart::new_with_chunk_size(upload, PART_SIZE),
            hasher: digest.hasher(),
            expected: digest.clone(),
            size: 0,
        })
    }

    /// Deletes a stored blob (a missing one is fine).
    pub async fn delete(&self, digest: &Digest) -> Result<(), BlobError> {
        match self.store.delete(&digest.location()).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A write in progress: bytes are hashed as they are written; `finish` makes the blob visible
/// only when the hash is the expected digest, else aborts. Dropping it unfinished leaves
/// nothing visible (the store discards the parts).
pub struct BlobWriter {
    upload: WriteMultipart,
    hasher: Hasher,
    expected: Digest,
    size: u64,
}

impl BlobWriter {
    pub async fn write(&mut self, data: &[u8]) -> Result<(), BlobError> {
        self.hasher.update(data);
        self.size += data.len() as u64;
        self.upload.wait_for_capacity(2).await?;
        self.upload.write(data);
        Ok(())
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Commits the blob if it has the expected digest; returns its size.
    pub async fn finish(self) -> Result<u64, BlobError> {
        let got = self.hasher.finish();
        if got != self.expected {
            let _ = self.upload.abort().await;
            return Err(BlobError::DigestMismatch { expected: self.expected, got });
        }
        self.upload.finish().await?;
        Ok(self.size)
    }

    pub async fn abort(self) {
        let _ = self.upload.abort().await;
    }
}

/// `range` of an open file, read in large chunks on the blocking pool.
fn file_stream(file: std::fs::File, range: Range<u64>) -> BoxStream<'static, Result<Bytes, BlobError>> {
    use std::io::{Read, Seek, SeekFrom};
    let state = (Some(file), range.start, range.end, false);
    futures::stream::try_unfold(state, |(file, pos, end, seeked)| async move {
        let Some(mut file) = file else { return Ok(None) };
        if pos >= end {
            return Ok(None);
        }
        let want = ((end - pos) as usize).min(FILE_CHUNK);
        let (file, chunk) = tokio::task::spawn_blocking(move || -> std::io::Result<(std::fs::File, Vec<u8>)> {
            if !seeked {
                file.seek(SeekFrom::Start(pos))?;
            }
            let mut buf = vec![0u8; want];
            let mut filled = 0;
            while filled < want {
                let n = file.read(&mut buf[filled..])?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            buf.truncate(filled);
            Ok((file, buf))
        })
        .await
        .map_err(|e| BlobError::Io(std::io::Error::other(e)))??;
        if chunk.is_empty() {
            return Err(BlobError::Io(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the blob file is shorter than its size")));
        }
        let next = pos + chunk.len() as u64;
        Ok(Some((Bytes::from(chunk), (Some(file), next, end, true))))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_parse_strictly() {
        let ok = format!("sha256:{}", "a".repeat(64));
        assert_eq!(ok.parse::<Digest>().unwrap().to_string(), ok);
        for bad in [
            "sha256:".to_string(),
            format!("sha256:{}", "A".repeat(64)),
            format!("sha256:{}/../x", "a".repeat(58)),
            format!("md5:{}", "a".repeat(32)),
            "a".repeat(64),
            format!("sha512:{}", "a".repeat(64)),
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad}");
        }
        assert!(format!("sha512:{}", "0".repeat(128)).parse::<Digest>().is_ok());
    }

    #[tokio::test]
    async fn writes_are_verified_and_ranges_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::filesystem(&dir.path().join("blobs")).unwrap();
        let data = Bytes::from(vec![7u8; 600_000]);
        let d = Digest::sha256_of(&data);
        let mut w = store.writer(&d).await.unwrap();
        w.write(&data[..100]).await.unwrap();
        w.write(&data[100..]).await.unwrap();
        assert_eq!(w.finish().await.unwrap(), 600_000);
        assert_eq!(store.size(&d).await.unwrap(), Some(600_000));
        let read = store.open(&d, Some(10..300_010)).await.unwrap().unwrap();
        let got: Vec<Bytes> = read.body.try_collect().await.unwrap();
        assert_eq!(got.iter().map(|b| b.len()).sum::<usize>(), 300_000);
        // A wrong digest stores nothing.
        let other = Digest::sha256_of(b"other");
        let mut w = store.writer(&other).await.unwrap();
        w.write(b"not other").await.unwrap();
        assert!(matches!(w.finish().await, Err(BlobError::DigestMismatch { .. })));
        assert_eq!(store.size(&other).await.unwrap(), None);
        assert!(store.put(&other, Bytes::from_static(b"nope")).await.is_err());
        assert!(store.open(&other, None).await.unwrap().is_none());
    }
}
