//! The integrated registry's rows: blobs present in the blob store, manifests stored locally and
//! what they refer to, what each repository holds besides its tags' history, the last pull of
//! each image, and the questions the registry asks of the image-stream tables (a tag's head,
//! the visible tags, whether a digest belongs to a repository, where an image came from).
//!
//! Must not: touch the blob store or decide who may do what (the service does both).

use super::StoreResult;
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeMap;

/// A manifest stored locally (its bytes are the blob of its digest).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredManifest {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub artifact_type: String,
    pub subject: Option<String>,
    pub annotations: Json<BTreeMap<String, String>>,
}

/// What a stored manifest refers to.
#[derive(Clone, Debug)]
pub struct ManifestRef {
    pub digest: String,
    /// `config`, `layer` or `manifest` (a child of an index).
    pub kind: &'static str,
    pub size: i64,
    pub media_type: String,
}

/// A history item an image of a repository came from: where to fetch it through.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ImageSource {
    pub tag: String,
    pub docker_image_reference: String,
}

/// The head image of a status tag (`None`: no such tag, or no history).
pub async fn tag_head(conn: &mut SqliteConnection, ns: &str, stream: &str, tag: &str) -> StoreResult<Option<String>> {
    sqlx::query_scalar(
        "SELECT te.image FROM tag_events te JOIN image_streams s ON s.id = te.stream_id \
         WHERE s.namespace = ? AND s.name = ? AND te.tag = ? ORDER BY te.seq DESC LIMIT 1",
    )
    .bind(ns)
    .bind(stream)
    .bind(tag)
    .fetch_optional(conn)
    .await
}

/// Whether the stream exists.
pub async fn stream_exists(conn: &mut SqliteConnection, ns: &str, stream: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM image_streams WHERE namespace = ? AND name = ?")
        .bind(ns)
        .bind(stream)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Whether the repository holds anything of its own (uploads, manifests by digest).
pub async fn repository_has_contents(conn: &mut SqliteConnection, ns: &str, stream: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM repository_contents WHERE namespace = ? AND stream = ?")
        .bind(ns)
        .bind(stream)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Every status tag of a stream with its head image (`""` for reference-only heads), by name.
/// SQLite takes the bare `image` from the row holding `MAX(seq)`: the head.
pub async fn tag_heads(conn: &mut SqliteConnection, ns: &str, stream: &str) -> StoreResult<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT te.tag, te.image FROM (SELECT tag, image, MAX(seq) FROM tag_events WHERE stream_id = \
         (SELECT id FROM image_streams WHERE namespace = ? AND name = ?) GROUP BY tag) te ORDER BY te.tag",
    )
    .bind(ns)
    .bind(stream)
    .fetch_all(conn)
    .await
}

/// The history items of the stream that hold `digest` as their image or as a child of their
/// (manifest list) image, newest first.
pub async fn manifest_sources(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<Vec<ImageSource>> {
    sqlx::query_as(
        "SELECT te.tag, te.docker_image_reference FROM tag_events te JOIN image_streams s ON s.id = te.stream_id \
         WHERE s.namespace = ?1 AND s.name = ?2 \
         AND (te.image = ?3 OR te.image IN (SELECT image FROM image_manifests WHERE digest = ?3)) \
         ORDER BY te.created DESC, te.seq DESC LIMIT 16",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .fetch_all(conn)
    .await
}

/// The history items of the stream whose image (or a child of it) has `digest` as a layer or
/// as its config, newest first.
pub async fn blob_sources(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<Vec<ImageSource>> {
    sqlx::query_as(
        "WITH items AS (SELECT te.tag, te.docker_image_reference, te.image, te.created, te.seq FROM tag_events te \
           JOIN image_streams s ON s.id = te.stream_id WHERE s.namespace = ?1 AND s.name = ?2), \
         holders AS (SELECT image FROM image_layers WHERE digest = ?3 \
           UNION SELECT digest FROM images WHERE json_extract(metadata, '$.Id') = ?3) \
         SELECT i.tag, i.docker_image_reference FROM items i WHERE i.image IN holders \
           OR EXISTS (SELECT 1 FROM image_manifests m WHERE m.image = i.image AND m.digest IN holders) \
         ORDER BY i.created DESC, i.seq DESC LIMIT 16",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .fetch_all(conn)
    .await
}

/// Whether the repository holds `digest` of its own (`kind`: `manifest` or `blob`).
pub async fn repository_holds(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM repository_contents WHERE namespace = ? AND stream = ? AND digest = ?")
        .bind(ns)
        .bind(stream)
        .bind(digest)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Whether a manifest the repository holds (pushed by digest, or any stored manifest of its
/// history) refers to `digest`.
pub async fn referenced_in_repository(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM registry_manifest_refs r WHERE r.digest = ?3 AND (\
           r.manifest IN (SELECT digest FROM repository_contents WHERE namespace = ?1 AND stream = ?2) \
           OR r.manifest IN (SELECT te.image FROM tag_events te JOIN image_streams s ON s.id = te.stream_id \
                             WHERE s.namespace = ?1 AND s.name = ?2))",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// A stored manifest.
pub async fn stored_manifest(conn: &mut SqliteConnection, digest: &str) -> StoreResult<Option<StoredManifest>> {
    sqlx::query_as("SELECT digest, media_type, size, artifact_type, subject, annotations FROM registry_manifests WHERE digest = ?")
        .bind(digest)
        .fetch_optional(conn)
        .await
}

/// Records a stored manifest and what it refers to (a manifest already recorded is kept).
pub async fn put_manifest(conn: &mut SqliteConnection, m: &StoredManifest, refs: &[ManifestRef], now: &str) -> StoreResult<()> {
    let done = sqlx::query(
        "INSERT OR IGNORE INTO registry_manifests (digest, media_type, size, artifact_type, subject, annotations, stored) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&m.digest)
    .bind(&m.media_type)
    .bind(m.size)
    .bind(&m.artifact_type)
    .bind(&m.subject)
    .bind(&m.annotations)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 || refs.is_empty() {
        return Ok(());
    }
    for (n, chunk) in refs.chunks(100).enumerate() {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO registry_manifest_refs (manifest, position, digest, kind, size, media_type) ");
        q.push_values(chunk.iter().enumerate(), |mut b, (i, r)| {
            b.push_bind(&m.digest)
                .push_bind((n * 100 + i) as i64)
                .push_bind(&r.digest)
                .push_bind(r.kind)
                .push_bind(r.size)
                .push_bind(&r.media_type);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records a blob the blob store holds. A blob recorded already gets `stored` moved to `now`:
/// `stored` is when the blob was last written, mounted or re-uploaded, and garbage collection
/// spares blobs younger than its grace period, so a push that re-uploads an old unreferenced
/// blob is not undercut by a collection between its upload and its manifest.
pub async fn put_blob(conn: &mut SqliteConnection, digest: &str, size: i64, now: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registry_blobs (digest, size, stored) VALUES (?, ?, ?) \
         ON CONFLICT (digest) DO UPDATE SET stored = MAX(stored, excluded.stored)",
    )
    .bind(digest)
    .bind(size)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// The size of a blob the blob store holds (`None`: not stored).
pub async fn blob_size(conn: &mut SqliteConnection, digest: &str) -> StoreResult<Option<i64>> {
    sqlx::query_scalar("SELECT size FROM registry_blobs WHERE digest = ?").bind(digest).fetch_optional(conn).await
}

/// The size an image record gives a layer (`None`: no image has it as a layer).
pub async fn layer_size(conn: &mut SqliteConnection, digest: &str) -> StoreResult<Option<i64>> {
    sqlx::query_scalar("SELECT size FROM image_layers WHERE digest = ? AND size > 0 LIMIT 1").bind(digest).fetch_optional(conn).await
}

/// Which of `digests` the blob store holds.
pub async fn stored_blobs(conn: &mut SqliteConnection, digests: &[String]) -> StoreResult<BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for chunk in digests.chunks(500) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT digest, size FROM registry_blobs WHERE digest IN (");
        let mut sep = q.separated(", ");
        for d in chunk {
            sep.push_bind(d);
        }
        sep.push_unseparated(")");
        let rows: Vec<(String, i64)> = q.build_query_as().fetch_all(&mut *conn).await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Records that the repository holds `digest` (`kind`: `manifest` or `blob`); held already, its
/// `added` moves to `now` (an upload or mount again is a fresh use, see `put_blob`).
pub async fn add_repository_content(
    conn: &mut SqliteConnection,
    ns: &str,
    stream: &str,
    digest: &str,
    kind: &str,
    now: &str,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO repository_contents (namespace, stream, digest, kind, added) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT (namespace, stream, digest) DO UPDATE SET added = MAX(added, excluded.added)",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .bind(kind)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets that the repository holds `digest` of its own.
pub async fn remove_repository_content(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<u64> {
    let done = sqlx::query("DELETE FROM repository_contents WHERE namespace = ? AND stream = ? AND digest = ?")
        .bind(ns)
        .bind(stream)
        .bind(digest)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// The stored manifests whose `subject` is `digest` and that the repository holds (pushed by
/// digest, or in its history), ordered by digest.
pub async fn referrers(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<Vec<StoredManifest>> {
    sqlx::query_as(
        "SELECT digest, media_type, size, artifact_type, subject, annotations FROM registry_manifests m WHERE m.subject = ?3 AND (\
           m.digest IN (SELECT digest FROM repository_contents WHERE namespace = ?1 AND stream = ?2) \
           OR m.digest IN (SELECT te.image FROM tag_events te JOIN image_streams s ON s.id = te.stream_id \
                           WHERE s.namespace = ?1 AND s.name = ?2)) ORDER BY m.digest LIMIT 1000",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .fetch_all(conn)
    .await
}

/// Records a pull of `digest` from the repository at `now`.
pub async fn record_pull(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str, now: &str) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO registry_pulls (namespace, stream, digest, last_pulled) VALUES (?, ?, ?, ?) \
         ON CONFLICT (namespace, stream, digest) DO UPDATE SET last_pulled = excluded.last_pulled",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Repository names (`namespace/stream`) after `last`, at most `n`, in `scope` (`None`: all).
pub async fn repositories(conn: &mut SqliteConnection, scope: Option<&[String]>, last: &str, n: i64) -> StoreResult<Vec<String>> {
    let mut q: QueryBuilder<Sqlite> =
        QueryBuilder::new("SELECT namespace || '/' || name AS repo FROM image_streams WHERE namespace || '/' || name > ");
    q.push_bind(last);
    if let Some(scope) = scope {
        if scope.is_empty() {
            return Ok(vec![]);
        }
        q.push(" AND namespace IN (");
        let mut sep = q.separated(", ");
        for ns in scope {
            sep.push_bind(ns);
        }
        sep.push_unseparated(")");
    }
    q.push(" ORDER BY repo LIMIT ").push_bind(n);
    q.build_query_scalar().fetch_all(conn).await
}

/// Removes the stream's history items of `digest` (a manifest deleted through the registry);
/// returns the tags that had one.
pub async fn history_tags_of(conn: &mut SqliteConnection, ns: &str, stream: &str, digest: &str) -> StoreResult<Vec<String>> {
    sqlx::query_scalar(
        "SELECT DISTINCT te.tag FROM tag_events te JOIN image_streams s ON s.id = te.stream_id \
         WHERE s.namespace = ? AND s.name = ? AND te.image = ? ORDER BY te.tag",
    )
    .bind(ns)
    .bind(stream)
    .bind(digest)
    .fetch_all(conn)
    .await
}

/// The bytes the blob store holds for a namespace's images: every distinct stored blob that an
/// image of its streams' history (or a child of one) or its repositories' own contents refer to.
pub async fn namespace_storage(conn: &mut SqliteConnection, ns: &str) -> StoreResult<i64> {
    sqlx::query_scalar(
        "WITH imgs AS (SELECT te.image AS d FROM tag_events te JOIN image_streams s ON s.id = te.stream_id WHERE s.namespace = ?1 \
           UNION SELECT m.digest FROM image_manifests m WHERE m.image IN (SELECT te.image FROM tag_events te \
             JOIN image_streams s ON s.id = te.stream_id WHERE s.namespace = ?1) \
           UNION SELECT digest FROM repository_contents WHERE namespace = ?1), \
         blobs AS (SELECT d FROM imgs UNION SELECT r.digest FROM registry_manifest_refs r WHERE r.manifest IN (SELECT d FROM imgs) \
           UNION SELECT l.digest FROM image_layers l WHERE l.image IN (SELECT d FROM imgs)) \
         SELECT COALESCE(SUM(b.size), 0) FROM registry_blobs b WHERE b.digest IN (SELECT d FROM blobs)",
    )
    .bind(ns)
    .fetch_one(conn)
    .await
}

// ---- Garbage collection (the protocol is in `service::registry::gc`) ----

/// The manifests that are live, as a recursive CTE named `live(d)`: named by a history item or
/// a child of one, held by a repository, an Image's, stored after `?1` (the grace cutoff), or a
/// child of a live index. Callers append their SELECT.
const LIVE_MANIFESTS: &str = "WITH RECURSIVE live(d) AS ( \
       SELECT image FROM tag_events \
       UNION SELECT im.digest FROM image_manifests im WHERE im.image IN (SELECT image FROM tag_events) \
       UNION SELECT digest FROM repository_contents WHERE kind = 'manifest' \
       UNION SELECT digest FROM images \
       UNION SELECT digest FROM registry_manifests WHERE stored >= ?1 \
       UNION SELECT r.digest FROM registry_manifest_refs r JOIN live l ON r.manifest = l.d WHERE r.kind = 'manifest') ";

/// A candidate of a collection: its digest, the bytes it holds, and (manifests) whether it is an
/// index (indexes go first, so their children are free for the same run).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GcCandidate {
    pub digest: String,
    pub size: i64,
    pub is_index: bool,
}

/// Stored manifests no live manifest rule holds (one read; each is checked again before it goes).
pub async fn gc_manifest_candidates(conn: &mut SqliteConnection, cutoff: &str) -> StoreResult<Vec<GcCandidate>> {
    // Two constant strings joined: nothing from outside is in the SQL.
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LIVE_MANIFESTS} SELECT m.digest, m.size, \
           EXISTS (SELECT 1 FROM registry_manifest_refs r WHERE r.manifest = m.digest AND r.kind = 'manifest') AS is_index \
         FROM registry_manifests m WHERE m.digest NOT IN (SELECT d FROM live) ORDER BY is_index DESC, m.digest"
    )))
    .bind(cutoff)
    .fetch_all(conn)
    .await
}

/// Stored blobs (layers, configs, manifests' bytes) older than `cutoff` that no live manifest,
/// no Image and no repository's recent upload or mount holds (one read).
pub async fn gc_blob_candidates(conn: &mut SqliteConnection, cutoff: &str) -> StoreResult<Vec<GcCandidate>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{LIVE_MANIFESTS} SELECT b.digest, b.size, FALSE AS is_index FROM registry_blobs b WHERE b.stored < ?1 \
           AND b.digest NOT IN (SELECT d FROM live) \
           AND NOT EXISTS (SELECT 1 FROM registry_manifest_refs r WHERE r.digest = b.digest AND r.manifest IN (SELECT d FROM live)) \
           AND NOT EXISTS (SELECT 1 FROM image_layers l WHERE l.digest = b.digest) \
           AND NOT EXISTS (SELECT 1 FROM images i WHERE json_extract(i.metadata, '$.Id') = b.digest) \
           AND NOT EXISTS (SELECT 1 FROM repository_contents c WHERE c.digest = b.digest AND c.added >= ?1) \
         ORDER BY b.digest"
    )))
    .bind(cutoff)
    .fetch_all(conn)
    .await
}

/// The final check and delete of a manifest's record, inside the caller's write transaction:
/// deleted (with what it refers to) only when no rule holds it now. Conservative where the
/// candidate read was exact: any stored manifest naming it as a child keeps it (a dead parent
/// went first in this run, or goes in the next). Returns whether it was deleted.
pub async fn gc_delete_manifest(conn: &mut SqliteConnection, digest: &str, cutoff: &str) -> StoreResult<bool> {
    let live: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM tag_events WHERE image = ?1) \
           OR EXISTS (SELECT 1 FROM image_manifests im WHERE im.digest = ?1 \
                      AND EXISTS (SELECT 1 FROM tag_events te WHERE te.image = im.image)) \
           OR EXISTS (SELECT 1 FROM repository_contents WHERE digest = ?1) \
           OR EXISTS (SELECT 1 FROM images WHERE digest = ?1) \
           OR EXISTS (SELECT 1 FROM registry_manifests WHERE digest = ?1 AND stored >= ?2) \
           OR EXISTS (SELECT 1 FROM registry_manifest_refs WHERE digest = ?1 AND kind = 'manifest')",
    )
    .bind(digest)
    .bind(cutoff)
    .fetch_one(&mut *conn)
    .await?;
    if live {
        return Ok(false);
    }
    // registry_manifest_refs goes with it (ON DELETE CASCADE).
    let done = sqlx::query("DELETE FROM registry_manifests WHERE digest = ?").bind(digest).execute(&mut *conn).await?;
    Ok(done.rows_affected() > 0)
}

/// The final check and delete of a blob's record, inside the caller's write transaction: the
/// row (and the repositories' claims on it) go only when the blob is older than `cutoff` and
/// nothing holds it now — no stored manifest is it or refers to it (live or not: dead ones were
/// deleted before the blobs), no Image has it as a layer or config, no history item or index
/// child names it, no repository uploaded or mounted it after `cutoff`. Returns the bytes freed
/// (`None`: kept).
pub async fn gc_delete_blob(conn: &mut SqliteConnection, digest: &str, cutoff: &str) -> StoreResult<Option<i64>> {
    let size: Option<i64> = sqlx::query_scalar(
        "SELECT size FROM registry_blobs b WHERE b.digest = ?1 AND b.stored < ?2 \
           AND NOT EXISTS (SELECT 1 FROM registry_manifests WHERE digest = ?1) \
           AND NOT EXISTS (SELECT 1 FROM registry_manifest_refs WHERE digest = ?1) \
           AND NOT EXISTS (SELECT 1 FROM image_layers WHERE digest = ?1) \
           AND NOT EXISTS (SELECT 1 FROM images WHERE json_extract(metadata, '$.Id') = ?1) \
           AND NOT EXISTS (SELECT 1 FROM tag_events WHERE image = ?1) \
           AND NOT EXISTS (SELECT 1 FROM image_manifests WHERE digest = ?1) \
           AND NOT EXISTS (SELECT 1 FROM repository_contents WHERE digest = ?1 AND added >= ?2)",
    )
    .bind(digest)
    .bind(cutoff)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(size) = size else { return Ok(None) };
    sqlx::query("DELETE FROM repository_contents WHERE digest = ?").bind(digest).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM registry_blobs WHERE digest = ?").bind(digest).execute(&mut *conn).await?;
    Ok(Some(size))
}

/// The first of a manifest's references that is not recorded now (blobs in `registry_blobs`,
/// index children in `registry_manifests`): a manifest PUT asks inside its own transaction, so a
/// collection that deleted one since the PUT's first check is seen (`MANIFEST_BLOB_UNKNOWN`)
/// instead of a manifest committed over a missing blob.
pub async fn first_unrecorded_ref(conn: &mut SqliteConnection, refs: &[ManifestRef]) -> StoreResult<Option<String>> {
    let blobs: Vec<String> = refs.iter().filter(|r| r.kind != "manifest").map(|r| r.digest.clone()).collect();
    let stored = stored_blobs(conn, &blobs).await?;
    for r in refs {
        let present =
            if r.kind == "manifest" { stored_manifest(&mut *conn, &r.digest).await?.is_some() } else { stored.contains_key(&r.digest) };
        if !present {
            return Ok(Some(r.digest.clone()));
        }
    }
    Ok(None)
}

/// A recorded garbage collection run.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GcRunRow {
    pub id: i64,
    pub started: String,
    pub finished: String,
    pub trigger: String,
    pub by_user: Option<String>,
    pub dry_run: bool,
    pub manifests_deleted: i64,
    pub blobs_deleted: i64,
    pub bytes_freed: i64,
    pub kept_in_use: i64,
    pub failures: i64,
}

/// Records a run; returns its id.
pub async fn insert_gc_run(conn: &mut SqliteConnection, r: &GcRunRow) -> StoreResult<i64> {
    sqlx::query_scalar(
        "INSERT INTO registry_gc_runs (started, finished, trigger, by_user, dry_run, manifests_deleted, blobs_deleted, \
           bytes_freed, kept_in_use, failures) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(&r.started)
    .bind(&r.finished)
    .bind(&r.trigger)
    .bind(&r.by_user)
    .bind(r.dry_run)
    .bind(r.manifests_deleted)
    .bind(r.blobs_deleted)
    .bind(r.bytes_freed)
    .bind(r.kept_in_use)
    .bind(r.failures)
    .fetch_one(conn)
    .await
}

/// The newest runs, at most `n`.
pub async fn gc_runs(conn: &mut SqliteConnection, n: i64) -> StoreResult<Vec<GcRunRow>> {
    sqlx::query_as(
        "SELECT id, started, finished, trigger, by_user, dry_run, manifests_deleted, blobs_deleted, bytes_freed, kept_in_use, \
           failures FROM registry_gc_runs ORDER BY id DESC LIMIT ?",
    )
    .bind(n)
    .fetch_all(conn)
    .await
}
