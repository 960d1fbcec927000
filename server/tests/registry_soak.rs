//! The no-loss soak of the registry with online garbage collection (issue 16 point 6): workers
//! push images by tag (sharing base layers across repositories and namespaces, uploading
//! monolithically, in chunks or by mount, skipping blobs a HEAD says exist), move tags (a push
//! to an existing tag), push artifacts by digest and delete them, abandon uploads and later push
//! manifests over them, delete tags and manifests, and pull and verify — while a collector runs
//! again and again with a grace period of a few seconds of the service clock, which the workers
//! move as they go. In process (the real router), with the filesystem blob store.
//!
//! At the end every manifest of every tag (and every artifact not deleted) pulls completely with
//! every blob verified, every recorded blob's object exists and has its digest, and no object is
//! left without its row. Counted and asserted: 0 MANIFEST_BLOB_UNKNOWN, 0 broken images, 0 5xx.
//!
//! `soak_short` (about 600 registry operations) runs with `cargo test`; the full soak is
//! `SOAK_OPS=20000 cargo test --release -p server --test registry_soak -- --ignored --nocapture`.

mod common;

use common::TestApp;
use common::oci::{Answer, call, config, image_manifest, object_path, pull_verified, push_blob, push_blob_chunked, put_manifest, sha};
use server::service::Caller;
use server::service::registry::GcTrigger;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// xorshift64*: the soak's randomness, seeded per worker so a run can be repeated.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// `min` and up to `spread` more random bytes.
    fn blob(&mut self, min: usize, spread: u64) -> Vec<u8> {
        let n = min + self.below(spread) as usize;
        self.bytes(n)
    }
}

const REPOS: &[&str] = &["default/web", "default/api", "default/db", "soak/web", "soak/batch", "soak/tools"];
const TAGS: &[&str] = &["latest", "v1", "v2", "stable"];
/// Registry operations between two moves of the service clock by one second.
const OPS_PER_SECOND: u64 = 40;
/// The collector's grace period: ~200 operations of slack for a push between its first upload
/// and its manifest, far more than a push takes; many grace periods pass in a run.
const GRACE_SECONDS: u64 = 5;

#[derive(Default)]
struct Stats {
    ops: AtomicU64,
    pushes: AtomicU64,
    tag_moves: AtomicU64,
    artifacts: AtomicU64,
    artifact_deletes: AtomicU64,
    abandoned: AtomicU64,
    reused_abandoned: AtomicU64,
    reused_after_head: AtomicU64,
    tag_deletes: AtomicU64,
    head_deletes: AtomicU64,
    pulls: AtomicU64,
    pulled_bytes: AtomicU64,
    /// A pull that raced a delete (manifest or blob 404 after a tag or digest delete).
    pull_races: AtomicU64,
    mounts: AtomicU64,
    gc_runs: AtomicU64,
    gc_kept_in_use: AtomicI64,
    bytes_freed: AtomicI64,
    blobs_freed: AtomicI64,
    manifest_blob_unknown: AtomicU64,
    server_errors: AtomicU64,
    broken: AtomicU64,
    unexpected: AtomicU64,
    /// The first problems, said in full.
    problems: Mutex<Vec<String>>,
}

/// An artifact pushed by digest: its repository, manifest, config and layer.
type Artifact = (String, Vec<u8>, Vec<u8>, Vec<u8>);

struct Soak {
    app: TestApp,
    stats: Stats,
    bases: Vec<Vec<u8>>,
    /// Artifacts pushed by digest and not deleted: (repository, manifest, config, layer).
    artifacts: Mutex<Vec<Artifact>>,
    /// Blobs uploaded and not (yet) named by any manifest: (repository, bytes).
    abandoned: Mutex<Vec<(String, Vec<u8>)>>,
    target: u64,
    done: AtomicBool,
    unique: AtomicU64,
}

impl Soak {
    /// Counts one registry operation and moves the service clock every `OPS_PER_SECOND`.
    fn op(&self, a: &Answer, what: &str) {
        let n = self.stats.ops.fetch_add(1, Relaxed) + 1;
        if n.is_multiple_of(OPS_PER_SECOND) {
            self.app.advance(1);
        }
        if a.status >= 500 {
            self.stats.server_errors.fetch_add(1, Relaxed);
            self.problem(format!("{what}: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
    }

    fn problem(&self, p: String) {
        let mut v = self.stats.problems.lock().unwrap();
        if v.len() < 20 {
            v.push(p);
        }
    }

    fn unique(&self) -> u64 {
        self.unique.fetch_add(1, Relaxed)
    }

    /// Puts a blob into `repo` the way clients do: HEAD first (present: skip), else a mount
    /// from another repository (base layers, sometimes), a chunked upload or a monolithic one.
    async fn ensure_blob(&self, rng: &mut Rng, repo: &str, data: &[u8], mountable: bool) -> bool {
        let d = sha(data);
        let head = call(&self.app.router, "HEAD", &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await;
        self.op(&head, "HEAD blob");
        if head.status == 200 {
            return true;
        }
        if mountable && rng.below(3) == 0 {
            let from = REPOS[rng.below(REPOS.len() as u64) as usize];
            let a = call(&self.app.router, "POST", &format!("/v2/{repo}/blobs/uploads/?mount={d}&from={from}"), &[], vec![]).await;
            self.op(&a, "mount");
            if a.status == 201 {
                self.stats.mounts.fetch_add(1, Relaxed);
                return true;
            }
            if a.status == 202 {
                // Not mountable from there: the spec's fallback, an upload session.
                let location = a.header("location");
                let sep = if location.contains('?') { '&' } else { '?' };
                let put = call(&self.app.router, "PUT", &format!("{location}{sep}digest={d}"), &[], data.to_vec()).await;
                self.op(&put, "PUT upload after a refused mount");
                return put.status == 201;
            }
        }
        let a = if rng.below(4) == 0 {
            let a = push_blob_chunked(&self.app.router, repo, data).await;
            // POST, PATCH and PUT.
            self.op(&a, "chunked upload");
            self.op(&a, "chunked upload");
            a
        } else {
            push_blob(&self.app.router, repo, data).await
        };
        self.op(&a, "upload");
        if a.status != 201 {
            self.stats.unexpected.fetch_add(1, Relaxed);
            self.problem(format!("upload {d} to {repo}: {} {}", a.status, String::from_utf8_lossy(&a.body)));
        }
        a.status == 201
    }

    /// A manifest PUT that must be taken (its blobs were just put into the repository).
    async fn put_expecting_success(&self, repo: &str, reference: &str, m: &[u8]) -> bool {
        let a = put_manifest(&self.app.router, repo, reference, m).await;
        self.op(&a, "PUT manifest");
        match (a.status, a.code().as_str()) {
            (201, _) => true,
            (400, "MANIFEST_BLOB_UNKNOWN") => {
                self.stats.manifest_blob_unknown.fetch_add(1, Relaxed);
                self.problem(format!("PUT {repo}:{reference}: MANIFEST_BLOB_UNKNOWN {}", String::from_utf8_lossy(&a.body)));
                false
            }
            (s, _) => {
                if s < 500 {
                    self.stats.unexpected.fetch_add(1, Relaxed);
                    self.problem(format!("PUT {repo}:{reference}: {s} {}", String::from_utf8_lossy(&a.body)));
                }
                false
            }
        }
    }

    /// An image by tag: a shared base layer, a layer and a config of its own.
    async fn push_tagged(&self, rng: &mut Rng) {
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
        let base = &self.bases[rng.below(self.bases.len() as u64) as usize];
        let n = self.unique();
        let layer = rng.blob(1024, 16 * 1024);
        let cfg = config(&format!("image {n}"));
        for (blob, mountable) in [(base.as_slice(), true), (layer.as_slice(), false), (cfg.as_slice(), false)] {
            if !self.ensure_blob(rng, repo, blob, mountable).await {
                return;
            }
        }
        let head = call(&self.app.router, "HEAD", &format!("/v2/{repo}/manifests/{tag}"), &[], vec![]).await;
        self.op(&head, "HEAD manifest");
        if self.put_expecting_success(repo, tag, &image_manifest(&cfg, &[base, &layer])).await {
            self.stats.pushes.fetch_add(1, Relaxed);
            if head.status == 200 {
                self.stats.tag_moves.fetch_add(1, Relaxed);
            }
        }
    }

    /// An artifact by digest (no tag, no Image): deleted later, then it is garbage.
    async fn push_artifact(&self, rng: &mut Rng) {
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let n = self.unique();
        let layer = rng.blob(512, 8 * 1024);
        let cfg = config(&format!("artifact {n}"));
        for blob in [&layer, &cfg] {
            if !self.ensure_blob(rng, repo, blob, false).await {
                return;
            }
        }
        let m = image_manifest(&cfg, &[&layer]);
        if self.put_expecting_success(repo, &sha(&m), &m).await {
            self.stats.artifacts.fetch_add(1, Relaxed);
            self.artifacts.lock().unwrap().push((repo.to_string(), m, cfg, layer));
        }
    }

    /// Deletes an artifact by digest, and its blobs from its repository.
    async fn delete_artifact(&self, rng: &mut Rng) {
        let picked = {
            let mut v = self.artifacts.lock().unwrap();
            if v.is_empty() {
                None
            } else {
                let i = rng.below(v.len() as u64) as usize;
                Some(v.swap_remove(i))
            }
        };
        let Some((repo, m, cfg, layer)) = picked else { return };
        let a = call(&self.app.router, "DELETE", &format!("/v2/{repo}/manifests/{}", sha(&m)), &[], vec![]).await;
        self.op(&a, "DELETE manifest by digest");
        if a.status != 202 {
            self.stats.unexpected.fetch_add(1, Relaxed);
            self.problem(format!("DELETE {repo}@{}: {}", sha(&m), a.status));
        }
        for blob in [&cfg, &layer] {
            let a = call(&self.app.router, "DELETE", &format!("/v2/{repo}/blobs/{}", sha(blob)), &[], vec![]).await;
            // 404: a collection took it already (its grace period ran out after the PUT).
            self.op(&a, "DELETE blob");
        }
        self.stats.artifact_deletes.fetch_add(1, Relaxed);
    }

    /// An upload no manifest names (yet): an interrupted push.
    async fn abandon(&self, rng: &mut Rng) {
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let blob = rng.blob(256, 8 * 1024);
        if self.ensure_blob(rng, repo, &blob, false).await {
            self.stats.abandoned.fetch_add(1, Relaxed);
            self.abandoned.lock().unwrap().push((repo.to_string(), blob));
        }
    }

    /// The push resumed: a manifest over a blob uploaded earlier (collected meanwhile or not).
    /// The client asks first; told "it exists", it skips the upload — Quay's failure window.
    async fn reuse_abandoned(&self, rng: &mut Rng) {
        let picked = {
            let mut v = self.abandoned.lock().unwrap();
            if v.is_empty() {
                None
            } else {
                let i = rng.below(v.len() as u64) as usize;
                Some(v.swap_remove(i))
            }
        };
        let Some((repo, blob)) = picked else { return };
        let head = call(&self.app.router, "HEAD", &format!("/v2/{repo}/blobs/{}", sha(&blob)), &[], vec![]).await;
        self.op(&head, "HEAD abandoned blob");
        if head.status != 200 {
            if !self.ensure_blob(rng, &repo, &blob, false).await {
                return;
            }
        } else {
            self.stats.reused_after_head.fetch_add(1, Relaxed);
        }
        let cfg = config(&format!("resumed {}", self.unique()));
        if !self.ensure_blob(rng, &repo, &cfg, false).await {
            return;
        }
        let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
        if self.put_expecting_success(&repo, tag, &image_manifest(&cfg, &[&blob])).await {
            self.stats.reused_abandoned.fetch_add(1, Relaxed);
        }
    }

    async fn delete_tag(&self, rng: &mut Rng) {
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
        let a = call(&self.app.router, "DELETE", &format!("/v2/{repo}/manifests/{tag}"), &[], vec![]).await;
        self.op(&a, "DELETE tag");
        if a.status == 202 {
            self.stats.tag_deletes.fetch_add(1, Relaxed);
        }
    }

    /// Deletes a tag's head by digest (its history items go from every tag of the stream).
    async fn delete_head_by_digest(&self, rng: &mut Rng) {
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
        let head = call(&self.app.router, "HEAD", &format!("/v2/{repo}/manifests/{tag}"), &[], vec![]).await;
        self.op(&head, "HEAD manifest");
        if head.status != 200 {
            return;
        }
        let d = head.header("docker-content-digest");
        let a = call(&self.app.router, "DELETE", &format!("/v2/{repo}/manifests/{d}"), &[], vec![]).await;
        self.op(&a, "DELETE manifest by digest");
        if a.status == 202 {
            self.stats.head_deletes.fetch_add(1, Relaxed);
        }
    }

    /// Pulls a tag: the manifest, then every blob, each verified.
    async fn pull(&self, rng: &mut Rng) {
        let repo = REPOS[rng.below(REPOS.len() as u64) as usize];
        let tag = TAGS[rng.below(TAGS.len() as u64) as usize];
        let m =
            call(&self.app.router, "GET", &format!("/v2/{repo}/manifests/{tag}"), &[("accept", common::oci::OCI_MANIFEST)], vec![]).await;
        self.op(&m, "GET manifest");
        if m.status == 404 {
            self.stats.pull_races.fetch_add(1, Relaxed);
            return;
        }
        if m.status != 200 {
            return;
        }
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&m.body) else {
            self.stats.broken.fetch_add(1, Relaxed);
            self.problem(format!("GET {repo}:{tag}: not a manifest"));
            return;
        };
        let mut digests = vec![doc["config"]["digest"].as_str().unwrap_or_default().to_string()];
        digests.extend(doc["layers"].as_array().into_iter().flatten().map(|l| l["digest"].as_str().unwrap_or_default().to_string()));
        for d in digests {
            let b = call(&self.app.router, "GET", &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await;
            self.op(&b, "GET blob");
            match b.status {
                200 if sha(&b.body) == d => {
                    self.stats.pulled_bytes.fetch_add(b.body.len() as u64, Relaxed);
                }
                200 => {
                    self.stats.broken.fetch_add(1, Relaxed);
                    self.problem(format!("GET {repo} blob {d}: the bytes have the digest {}", sha(&b.body)));
                    return;
                }
                // The image's manifest was deleted by digest meanwhile (the repository no
                // longer holds its blobs); checked for real at the end.
                404 => {
                    self.stats.pull_races.fetch_add(1, Relaxed);
                    return;
                }
                _ => return,
            }
        }
        self.stats.pulls.fetch_add(1, Relaxed);
    }

    async fn worker(self: Arc<Self>, seed: u64) {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        while self.stats.ops.load(Relaxed) < self.target {
            match rng.below(100) {
                0..30 => self.push_tagged(&mut rng).await,
                30..38 => self.push_artifact(&mut rng).await,
                38..44 => self.delete_artifact(&mut rng).await,
                44..50 => self.abandon(&mut rng).await,
                50..56 => self.reuse_abandoned(&mut rng).await,
                56..60 => self.delete_tag(&mut rng).await,
                60..62 => self.delete_head_by_digest(&mut rng).await,
                _ => self.pull(&mut rng).await,
            }
        }
    }

    /// Collects again and again until the workers are done.
    async fn collector(self: Arc<Self>) {
        while !self.done.load(Relaxed) {
            self.collect_once().await;
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }

    async fn collect_once(&self) {
        match self.app.service.collect_garbage(&Caller::system(), GcTrigger::Api, false).await {
            Ok(r) => {
                self.stats.gc_runs.fetch_add(1, Relaxed);
                self.stats.bytes_freed.fetch_add(r.bytes_freed, Relaxed);
                self.stats.blobs_freed.fetch_add(r.blobs_deleted, Relaxed);
                self.stats.gc_kept_in_use.fetch_add(r.kept_in_use, Relaxed);
                if r.failures > 0 {
                    self.stats.server_errors.fetch_add(r.failures as u64, Relaxed);
                    self.problem(format!("a collection failed to delete {} objects", r.failures));
                }
            }
            Err(e) => {
                self.stats.server_errors.fetch_add(1, Relaxed);
                self.problem(format!("collection: {}", e.message()));
            }
        }
    }
}

/// Every tag of every repository and every artifact left pulls and verifies; every recorded
/// blob's object exists with its digest and size; no object is left without its row.
async fn verify_everything(soak: &Soak) -> (u64, u64) {
    let router = &soak.app.router;
    let (mut images, mut bytes) = (0, 0);
    for repo in REPOS {
        let tags = call(router, "GET", &format!("/v2/{repo}/tags/list"), &[], vec![]).await;
        if tags.status == 404 {
            continue;
        }
        for tag in tags.json()["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str()) {
            match pull_verified(router, repo, tag).await {
                Ok(n) => {
                    images += 1;
                    bytes += n;
                }
                Err(e) => {
                    soak.stats.broken.fetch_add(1, Relaxed);
                    soak.problem(format!("at the end: {e}"));
                }
            }
        }
    }
    let artifacts = soak.artifacts.lock().unwrap().clone();
    for (repo, m, _, _) in artifacts {
        match pull_verified(router, &repo, &sha(&m)).await {
            Ok(n) => {
                images += 1;
                bytes += n;
            }
            Err(e) => {
                soak.stats.broken.fetch_add(1, Relaxed);
                soak.problem(format!("at the end, artifact: {e}"));
            }
        }
    }
    // The store against its rows.
    let db = soak.app.data_dir().join("imagestreams.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display())).await.unwrap();
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT digest, size FROM registry_blobs").fetch_all(&pool).await.unwrap();
    let dir = soak.app.blobs_dir();
    for (d, size) in &rows {
        match std::fs::read(object_path(&dir, d)) {
            Ok(data) if sha(&data) == *d && data.len() as i64 == *size => {}
            Ok(_) => {
                soak.stats.broken.fetch_add(1, Relaxed);
                soak.problem(format!("at the end: the object of {d} does not have its digest or size"));
            }
            Err(e) => {
                soak.stats.broken.fetch_add(1, Relaxed);
                soak.problem(format!("at the end: the object of recorded blob {d} is missing: {e}"));
            }
        }
    }
    let recorded: std::collections::HashSet<String> = rows.iter().map(|(d, _)| d.trim_start_matches("sha256:").to_string()).collect();
    let mut orphans = 0;
    for prefix in std::fs::read_dir(dir.join("blobs").join("sha256")).into_iter().flatten().flatten() {
        for object in std::fs::read_dir(prefix.path()).into_iter().flatten().flatten() {
            let name = object.file_name().to_string_lossy().to_string();
            if !name.contains('#') && !recorded.contains(&name) {
                orphans += 1;
            }
        }
    }
    if orphans > 0 {
        soak.problem(format!("at the end: {orphans} objects in the store without a row"));
        soak.stats.broken.fetch_add(orphans, Relaxed);
    }
    pool.close().await;
    (images, bytes)
}

async fn soak(target: u64, workers: u64) {
    let app = TestApp::with_registry_on_disk(Duration::from_secs(GRACE_SECONDS)).await;
    app.create_namespace("soak").await;
    let mut rng = Rng(0x5eed);
    let bases = (0..4).map(|_| rng.bytes(48 * 1024)).collect();
    let soak = Arc::new(Soak {
        app,
        stats: Stats::default(),
        bases,
        artifacts: Mutex::new(vec![]),
        abandoned: Mutex::new(vec![]),
        target,
        done: AtomicBool::new(false),
        unique: AtomicU64::new(0),
    });
    let started = Instant::now();
    let collector = tokio::spawn(soak.clone().collector());
    let tasks: Vec<_> = (0..workers).map(|w| tokio::spawn(soak.clone().worker(w + 1))).collect();
    for t in tasks {
        t.await.unwrap();
    }
    soak.done.store(true, Relaxed);
    collector.await.unwrap();
    let ran = started.elapsed();

    // Once more after the grace period: what is left is what something needs.
    let (images_before, _) = verify_everything(&soak).await;
    soak.app.advance(GRACE_SECONDS as i64 + 1);
    soak.collect_once().await;
    let (images, verified_bytes) = verify_everything(&soak).await;

    let s = &soak.stats;
    let n = |a: &AtomicU64| a.load(Relaxed);
    println!(
        "registry soak: {} registry operations by {workers} workers in {:.1}s ({:.0} ops/s)\n  \
         pushes by tag {} (tag moves {}), artifacts {} (deleted {}), abandoned uploads {} (resumed {}, {} after a HEAD said \
         it exists), mounts {}, tag deletes {}, head deletes by digest {}\n  \
         pulls verified {} ({} bytes), pulls that raced a delete {}\n  \
         collections {} (in use at the final check {}): {} blobs, {} bytes reclaimed\n  \
         at the end: {images_before} images verified, {images} after one more collection ({verified_bytes} bytes)\n  \
         MANIFEST_BLOB_UNKNOWN {}, broken {}, 5xx {}, other unexpected answers {}",
        n(&s.ops),
        ran.as_secs_f64(),
        n(&s.ops) as f64 / ran.as_secs_f64(),
        n(&s.pushes),
        n(&s.tag_moves),
        n(&s.artifacts),
        n(&s.artifact_deletes),
        n(&s.abandoned),
        n(&s.reused_abandoned),
        n(&s.reused_after_head),
        n(&s.mounts),
        n(&s.tag_deletes),
        n(&s.head_deletes),
        n(&s.pulls),
        n(&s.pulled_bytes),
        n(&s.pull_races),
        n(&s.gc_runs),
        s.gc_kept_in_use.load(Relaxed),
        s.blobs_freed.load(Relaxed),
        s.bytes_freed.load(Relaxed),
        n(&s.manifest_blob_unknown),
        n(&s.broken),
        n(&s.server_errors),
        n(&s.unexpected),
    );
    let problems = s.problems.lock().unwrap().clone();
    assert_eq!(n(&s.manifest_blob_unknown), 0, "{problems:#?}");
    assert_eq!(n(&s.broken), 0, "{problems:#?}");
    assert_eq!(n(&s.server_errors), 0, "{problems:#?}");
    assert_eq!(n(&s.unexpected), 0, "{problems:#?}");
    assert_eq!(images, images_before, "the last collection took nothing an image needs");
    assert!(n(&s.ops) >= target);
    assert!(n(&s.pushes) > 0 && n(&s.pulls) > 0 && n(&s.gc_runs) > 0);
    assert!(s.bytes_freed.load(Relaxed) > 0, "abandoned uploads and deleted artifacts were reclaimed");
}

/// The CI version: a few hundred registry operations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    soak(600, 6).await;
}

/// The full soak: `SOAK_OPS` registry operations (default 20,000), `SOAK_WORKERS` workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: SOAK_OPS=20000 cargo test --release -p server --test registry_soak -- --ignored --nocapture"]
async fn soak_full() {
    let ops = std::env::var("SOAK_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let workers = std::env::var("SOAK_WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(8);
    soak(ops, workers).await;
}
