//! Backups of a data directory while its server runs, and restores into a new one (issue 18).
//!
//! `imagestreams backup` is a second process on the same machine as `serve`; it opens the data
//! directory itself rather than asking the API. SQLite in WAL mode lets a second process read a
//! consistent snapshot while the server writes, and `VACUUM INTO` writes that snapshot as one new,
//! compact database file without ever writing the live one. It needs no HTTP round trip, no admin
//! credential on disk, and works while the server is down too. (Talking to the API would put the
//! copy on the server's disk anyway, and stream every blob through the server.)
//!
//! The blob store is content-addressed and immutable, so the copy of the database decides what
//! the backup must hold. The order closes the race with garbage collection:
//! 1. copy every blob recorded *now* (the rows of the live database);
//! 2. `VACUUM INTO` the snapshot;
//! 3. copy the blobs the snapshot records that step 1 did not (those stored meanwhile).
//!
//! A blob in the snapshot was either recorded at step 1 (copied then, before any later
//! collection) or stored after it, and a blob younger than `--gc-grace` is never collected; a
//! backup that runs for less than that grace therefore misses none. A blob that is gone anyway
//! (a backup longer than the grace) is reported and its row dropped from the copy, so the copy
//! never claims content it lacks. Every blob copied is verified against its digest on the way.
//!
//! The sealing key (`sealing.key`) goes with the database: without it the stored registry
//! credentials and webhook secrets cannot be opened. A backup is complete when its
//! `backup.json` exists (written last); `restore` refuses a directory without one, and never
//! writes into a data directory that has anything in it. A restore runs the migrations (a backup
//! taken by an older version is brought up to date) and `PRAGMA integrity_check`.
//!
//! Must not: write the live database or blob store, or leave a half-written backup that
//! looks complete.

use crate::blobs::{BlobStore, Digest};
use crate::store::{self, Store};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The database file in a data directory and in a backup.
const DATABASE: &str = "imagestreams.db";
/// The sealing key file.
const SEALING_KEY: &str = "sealing.key";
/// What marks a complete backup.
pub const MANIFEST: &str = "backup.json";

/// `backup.json`: what a backup holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct BackupManifest {
    /// The format of this directory (1).
    pub format: u32,
    /// When the backup finished (RFC 3339).
    pub created: String,
    /// The server version that wrote it.
    pub version: String,
    pub database_bytes: u64,
    pub blobs: usize,
    pub blob_bytes: u64,
    /// Whether `sealing.key` is in the backup.
    pub sealing_key: bool,
    /// Blobs the snapshot recorded that were gone before they could be copied (collected while
    /// the backup ran); their rows were dropped from the copy.
    pub blobs_missing: Vec<String>,
}

/// Why a backup or restore failed: a sentence for the operator.
pub type OpsResult<T> = Result<T, String>;

fn io(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> String {
    let where_ = format!("{what} {}", path.display());
    move |e| format!("{where_}: {e}")
}

/// Creates `dir` private to this user (0700) if missing; refuses one that has anything in it.
fn empty_private_dir(dir: &Path, what: &str) -> OpsResult<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).map_err(io("reading", dir))?;
        if entries.next().is_some() {
            return Err(format!("{what} {} is not empty; give a new or empty directory", dir.display()));
        }
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io("creating", dir))
}

/// Copies one blob from `from` to `to`, verified against its digest. `Ok(None)`: `from` does
/// not hold it (any more).
async fn copy_blob(from: &BlobStore, to: &BlobStore, digest: &Digest) -> OpsResult<Option<u64>> {
    let read = match from.open(digest, None).await {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(None),
        Err(e) => return Err(format!("reading blob {digest}: {e}")),
    };
    let mut writer = to.writer(digest).await.map_err(|e| format!("writing blob {digest}: {e}"))?;
    let mut body = read.body;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(c) => writer.write(&c).await.map_err(|e| format!("writing blob {digest}: {e}"))?,
            Err(e) => {
                writer.abort().await;
                return Err(format!("reading blob {digest}: {e}"));
            }
        }
    }
    writer.finish().await.map(Some).map_err(|e| format!("blob {digest}: {e}"))
}

/// Copies the blobs named in `digests` that are not in `done` yet; returns the ones `from` no
/// longer holds. Adds what it copied to `done` and its bytes to `bytes`.
async fn copy_blobs(
    from: &BlobStore,
    to: &BlobStore,
    digests: &[String],
    done: &mut BTreeSet<String>,
    bytes: &mut u64,
) -> OpsResult<Vec<String>> {
    let mut missing = vec![];
    for d in digests {
        if done.contains(d) {
            continue;
        }
        // A row that does not parse names nothing the registry could serve: left out.
        let Ok(digest) = d.parse::<Digest>() else {
            missing.push(d.clone());
            continue;
        };
        match copy_blob(from, to, &digest).await? {
            Some(n) => {
                *bytes += n;
                done.insert(d.clone());
            }
            None => missing.push(d.clone()),
        }
    }
    Ok(missing)
}

async fn digests_of(store: &Store) -> OpsResult<Vec<String>> {
    let mut conn = store.read().await.map_err(|e| format!("reading the database: {e}"))?;
    store::blob_digests(&mut conn).await.map_err(|e| format!("reading the blob list: {e}"))
}

/// Backs up `data_dir` (its database, sealing key, and the blobs of `blobs`) into `to`, a new
/// or empty directory, while a server may be running on it.
pub async fn backup(data_dir: &Path, blobs: &BlobStore, to: &Path, now: &str) -> OpsResult<BackupManifest> {
    if absolute(to).starts_with(absolute(data_dir)) {
        return Err(format!(
            "the backup directory {} is inside the data directory {}: give one elsewhere (a backup goes with the data directory \
             if its disk is lost, and the next backup would copy this one)",
            to.display(),
            data_dir.display()
        ));
    }
    let live = Store::open_existing(data_dir).await.map_err(|e| format!("opening the database in {}: {e}", data_dir.display()))?;
    empty_private_dir(to, "the backup directory")?;
    let target_blobs = BlobStore::filesystem(&to.join("blobs")).map_err(|e| format!("the backup's blob directory: {e}"))?;
    let mut copied = BTreeSet::new();
    let mut blob_bytes = 0;
    // 1. What is recorded now (see the module doc for why first).
    let before = digests_of(&live).await?;
    copy_blobs(blobs, &target_blobs, &before, &mut copied, &mut blob_bytes).await?;
    // 2. The snapshot, under a temporary name until it is complete.
    let partial = to.join(format!("{DATABASE}.partial"));
    live.copy_into(&partial).await.map_err(|e| format!("copying the database (VACUUM INTO): {e}"))?;
    live.close().await;
    let database = to.join(DATABASE);
    std::fs::rename(&partial, &database).map_err(io("renaming", &partial))?;
    // Password hashes and sealed secrets: the owner's only, like the live database.
    #[cfg(unix)]
    std::fs::set_permissions(&database, std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io("protecting", &database))?;
    // 3. What the snapshot records that step 1 did not copy.
    let snapshot = Store::open_existing(to).await.map_err(|e| format!("opening the copied database: {e}"))?;
    let recorded = digests_of(&snapshot).await?;
    let missing = copy_blobs(blobs, &target_blobs, &recorded, &mut copied, &mut blob_bytes).await?;
    if !missing.is_empty() {
        let mut tx = snapshot.begin().await.map_err(|e| format!("updating the copied database: {e}"))?;
        store::forget_blob_rows(&mut tx, &missing).await.map_err(|e| format!("updating the copied database: {e}"))?;
        tx.commit().await.map_err(|e| format!("updating the copied database: {e}"))?;
        tracing::warn!(missing = missing.len(), "blobs were collected while the backup ran; their rows were dropped from the copy");
    }
    snapshot.close().await;
    let key = data_dir.join(SEALING_KEY);
    let sealing_key = key.is_file();
    if sealing_key {
        copy_private(&key, &to.join(SEALING_KEY))?;
    }
    let manifest = BackupManifest {
        format: 1,
        created: now.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        database_bytes: std::fs::metadata(&database).map_err(io("reading", &database))?.len(),
        blobs: recorded.len() - missing.len(),
        blob_bytes,
        sealing_key,
        blobs_missing: missing,
    };
    write_manifest(to, &manifest)?;
    Ok(manifest)
}

/// Restores the backup in `from` into `data_dir`, a new or empty directory: the database
/// (migrated to this version, integrity checked), the sealing key, and every blob (verified)
/// into `blobs` (`None`: the `file` store, `<data_dir>/blobs`).
pub async fn restore(from: &Path, data_dir: &Path, blobs: Option<&BlobStore>) -> OpsResult<BackupManifest> {
    let manifest_path = from.join(MANIFEST);
    let text =
        std::fs::read_to_string(&manifest_path).map_err(|e| format!("{} is not a complete backup ({MANIFEST}: {e})", from.display()))?;
    let manifest: BackupManifest = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    if manifest.format != 1 {
        return Err(format!("{}: backup format {} is not one this version reads", manifest_path.display(), manifest.format));
    }
    let created = !data_dir.exists();
    empty_private_dir(data_dir, "the data directory")?;
    let restored = restore_into(from, data_dir, blobs, &manifest).await;
    if restored.is_err() {
        // Nothing half-restored is left to be served by mistake: the directory goes back to
        // how it was (blobs already written to an object store stay; they are content-addressed
        // and unreferenced).
        let cleared = if created { std::fs::remove_dir_all(data_dir) } else { clear_dir(data_dir) };
        if let Err(e) = cleared {
            tracing::warn!(error = %e, dir = %data_dir.display(), "a failed restore could not remove what it wrote");
        }
    }
    restored.map(|()| manifest)
}

/// The steps of `restore` after the checks: on error the caller removes what they wrote.
async fn restore_into(from: &Path, data_dir: &Path, blobs: Option<&BlobStore>, manifest: &BackupManifest) -> OpsResult<()> {
    let database = data_dir.join(DATABASE);
    copy_private(&from.join(DATABASE), &database)?;
    if manifest.sealing_key {
        copy_private(&from.join(SEALING_KEY), &data_dir.join(SEALING_KEY))?;
    }
    // The migrations bring an older backup's schema up to date.
    let store = Store::open(data_dir).await.map_err(|e| format!("opening the restored database: {e}"))?;
    let integrity = store.integrity_check().await.map_err(|e| format!("checking the restored database: {e}"))?;
    if integrity != "ok" {
        return Err(format!("the restored database failed its integrity check: {integrity}"));
    }
    let digests = digests_of(&store).await?;
    store.close().await;
    let source = BlobStore::filesystem(&from.join("blobs")).map_err(|e| format!("the backup's blob directory: {e}"))?;
    let file_store;
    let target = match blobs {
        Some(b) => b,
        None => {
            file_store = BlobStore::filesystem(&data_dir.join("blobs")).map_err(|e| format!("the data directory's blob directory: {e}"))?;
            &file_store
        }
    };
    let (mut done, mut bytes) = (BTreeSet::new(), 0);
    let missing = copy_blobs(&source, target, &digests, &mut done, &mut bytes).await?;
    if !missing.is_empty() {
        return Err(format!("the backup lacks {} blob(s) its database records, e.g. {}", missing.len(), missing[0]));
    }
    Ok(())
}

/// Removes everything inside `dir`, keeping `dir`.
fn clear_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
    }
    Ok(())
}

/// `dir` made absolute with symbolic links resolved; a directory that does not exist yet is
/// resolved through its nearest existing ancestor, and the `..` below that ancestor are applied
/// by name (a directory that does not exist is no symbolic link), so `data/missing/../inside`
/// is `data/inside`.
fn absolute(dir: &Path) -> PathBuf {
    use std::path::Component;
    let mut existing = dir.to_path_buf();
    // The names below `existing`, innermost first; `None` is a `..`.
    let mut below: Vec<Option<std::ffi::OsString>> = vec![];
    loop {
        if let Ok(mut found) = existing.canonicalize() {
            for part in below.iter().rev() {
                match part {
                    Some(name) => found.push(name),
                    None => {
                        found.pop();
                    }
                }
            }
            return found;
        }
        match existing.components().next_back() {
            Some(Component::Normal(name)) => below.push(Some(name.to_owned())),
            Some(Component::ParentDir) => below.push(None),
            // `.` that cannot be resolved, or the root: nothing above to resolve through.
            _ => return dir.to_path_buf(),
        }
        existing = match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            Some(_) => PathBuf::from("."),
            None => return dir.to_path_buf(),
        };
    }
}

/// Copies a file, the copy private to this user (0600).
fn copy_private(from: &Path, to: &Path) -> OpsResult<()> {
    std::fs::copy(from, to).map_err(io("copying", from))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600)).map_err(io("setting the mode of", to))?;
    }
    Ok(())
}

/// Writes `backup.json` last, through a temporary name: its presence means the backup is whole.
fn write_manifest(to: &Path, manifest: &BackupManifest) -> OpsResult<()> {
    let text = serde_json::to_string_pretty(manifest).map_err(|e| e.to_string())?;
    let partial = to.join(format!("{MANIFEST}.partial"));
    std::fs::write(&partial, text).map_err(io("writing", &partial))?;
    std::fs::rename(&partial, to.join(MANIFEST)).map_err(io("renaming", &partial))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_backup_inside_the_data_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Store::open(&data).await.unwrap().close().await;
        let blobs = BlobStore::filesystem(&data.join("blobs")).unwrap();
        for to in [
            data.join("backup"),
            data.join("x/../backup2"),
            data.join("missing/../inside"),
            dir.path().join("missing/../data/inside"),
            data.clone(),
        ] {
            let e = backup(&data, &blobs, &to, "2026-12-01T00:00:00Z").await.unwrap_err();
            assert!(e.contains("is inside the data directory"), "{to:?}: {e}");
        }
        assert!(!data.join("backup").exists(), "nothing was written");
        let elsewhere = dir.path().join("backup");
        assert!(backup(&data, &blobs, &elsewhere, "2026-12-01T00:00:00Z").await.is_ok());
    }

    #[tokio::test]
    async fn a_failed_restore_leaves_no_partial_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Store::open(&data).await.unwrap().close().await;
        let blobs = BlobStore::filesystem(&data.join("blobs")).unwrap();
        let copy = dir.path().join("backup");
        backup(&data, &blobs, &copy, "2026-12-01T00:00:00Z").await.unwrap();
        // A backup whose database is damaged: the restore fails after copying it.
        std::fs::write(copy.join(DATABASE), b"not a database").unwrap();
        let new = dir.path().join("restored");
        assert!(restore(&copy, &new, None).await.is_err());
        assert!(!new.exists(), "the directory the restore created is gone again");
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(restore(&copy, &empty, None).await.is_err());
        assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "an empty directory given is left empty");
    }
}
