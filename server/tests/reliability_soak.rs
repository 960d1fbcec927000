//! The soak (issue 18, point 5): the real `imagestreams serve` binary under mixed load for a
//! long time: page reads (catalog, stream page, dashboard), API writes (image stream
//! mappings, tag deletes), watches (long ones, and short ones opened and dropped again and
//! again), live pages, imports from a real `docker-registry`, and a webhook subscription whose
//! every delivery a receiver verifies.
//!
//! The data set stays bounded (images come from a fixed pool, tags are deleted and written
//! again), so what grows would be the server's own, not the data's. The load runs twice: a
//! warm-up, then the measured phase; after each the load stops and the server idles for a
//! moment, and its resident memory and open file descriptors are read from `/proc`.
//! Asserted:
//! - resident memory after the measured phase is < 10 % above what it was after the warm-up
//!   (its highest idle reading, see below);
//! - no file descriptor leak: after the measured phase at most 2 more open descriptors than
//!   after the warm-up (the read pool may open a connection it had not needed yet);
//! - p99 latencies stable: the p99 of reads, of writes and of imports in the last fifth of the
//!   measured phase is at most 1.5 × that of the first fifth plus 25 ms in the full soak (2 × plus
//!   50 ms in the short one, whose fifths hold only a hundred requests or so);
//! - 0 answers 5xx, 0 failed requests, every watch line parses, every delivery is signed.
//!
//! The warm-up runs in rounds until one ends no more than 3 % above the highest idle memory of
//! the rounds before (at most four); that highest level is the reference: "after the warm-up"
//! means once the server's caches have filled.
//!
//! `soak_short` (8 s warm-up rounds, 24 s measured) runs with `cargo test`; the full soak is
//! `SOAK_MINUTES=30 cargo test --release -p server --test reliability_soak -- --ignored --nocapture`
//! (warm-up rounds: a tenth of it, at least a minute).

mod common;

use common::portal::Portal;
use common::receiver::Receiver;
use common::registry::Registry;
use common::reliability::{Rng, env_or, open_fds, percentile, rss_kib};
use common::*;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API: &str = "/apis/image.openshift.io/v1/namespaces/default";
const SECRET: &str = "soak-webhook-secret";
const STREAMS: &[&str] = &["web", "api", "batch"];
/// Images the writers map (a fixed pool: the images table stops growing early).
const POOL: u64 = 64;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
    /// An import waits on the registry too: its own percentile.
    Import,
}

#[derive(Default)]
struct Stats {
    /// (when, kind, latency) of every request the load made.
    samples: Vec<(Instant, Kind, Duration)>,
    errors: Vec<String>,
}

struct Load {
    base: String,
    registry: String,
    stop: AtomicBool,
    stats: Mutex<Stats>,
    watch_lines: AtomicU64,
}

impl Load {
    fn record(&self, kind: Kind, started: Instant, outcome: Result<reqwest::StatusCode, String>, what: &str) {
        let mut s = self.stats.lock().unwrap();
        match outcome {
            Ok(status) if status.is_success() || status.as_u16() == 404 && what.starts_with("DELETE") => {
                s.samples.push((started, kind, started.elapsed()))
            }
            Ok(status) => s.errors.push(format!("{what}: {status}")),
            Err(e) => s.errors.push(format!("{what}: {e}")),
        }
    }

    async fn timed(&self, kind: Kind, req: reqwest::RequestBuilder, what: String) -> Option<Value> {
        let started = Instant::now();
        match req.send().await {
            Ok(r) => {
                let status = r.status();
                let body = r.bytes().await;
                self.record(kind, started, body.as_ref().map(|_| status).map_err(|e| e.to_string()), &what);
                body.ok().and_then(|b| serde_json::from_slice(&b).ok())
            }
            Err(e) => {
                self.record(kind, started, Err(e.to_string()), &what);
                None
            }
        }
    }

    async fn pages(self: Arc<Self>) {
        let client = reqwest::Client::new();
        let mut rng = Rng::new(1);
        while !self.stop.load(Ordering::Relaxed) {
            let path = match rng.below(3) {
                0 => "/".to_string(),
                1 => format!("/ns/default/{}", rng.pick(STREAMS)),
                _ => "/dashboard".to_string(),
            };
            self.timed(Kind::Read, client.get(format!("{}{path}", self.base)), format!("GET {path}")).await;
            let path = format!("{API}/imagestreams/{}", rng.pick(STREAMS));
            self.timed(Kind::Read, client.get(format!("{}{path}", self.base)), format!("GET {path}")).await;
        }
    }

    async fn writes(self: Arc<Self>, w: u64) {
        let client = reqwest::Client::new();
        let mut rng = Rng::new(100 + w);
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            n += 1;
            let stream = rng.pick(STREAMS);
            let tag = format!("w{w}-{}", rng.below(4));
            if n.is_multiple_of(12) {
                let url = format!("{}{API}/imagestreamtags/{stream}:{tag}", self.base);
                self.timed(Kind::Write, client.delete(url), format!("DELETE {stream}:{tag}")).await;
                continue;
            }
            let image = digest_n(1 + rng.below(POOL));
            let body = json!({"metadata": {"name": stream}, "tag": tag,
                "image": {"metadata": {"name": image}, "dockerImageReference": format!("quay.io/soak/{stream}@{image}")}});
            let url = format!("{}{API}/imagestreammappings", self.base);
            self.timed(Kind::Write, client.post(url).json(&body), format!("POST mapping {stream}:{tag}")).await;
        }
    }

    async fn imports(self: Arc<Self>) {
        let client = reqwest::Client::new();
        let mut rng = Rng::new(7);
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            n += 1;
            let tag = format!("imp-{}", rng.below(3));
            if n.is_multiple_of(10) {
                let url = format!("{}{API}/imagestreamtags/imported:{tag}", self.base);
                self.timed(Kind::Write, client.delete(url), format!("DELETE imported:{tag}")).await;
                continue;
            }
            let body = json!({"metadata": {"name": "imported"}, "spec": {"import": true, "images": [
                {"from": {"kind": "DockerImage", "name": format!("{}/lib/app:v{}", self.registry, rng.below(3))}, "to": {"name": tag}}
            ]}});
            let answer = self
                .timed(Kind::Import, client.post(format!("{}{API}/imagestreamimports", self.base)).json(&body), "POST import".into())
                .await;
            if let Some(a) = answer
                && a["status"]["images"][0]["status"]["status"] != "Success"
            {
                self.stats.lock().unwrap().errors.push(format!("import failed: {a}"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A watch held open until the load stops (`long`), or opened, read for a few lines and
    /// dropped, again and again.
    async fn watches(self: Arc<Self>, long: bool, path: &'static str) {
        let client = reqwest::Client::new();
        while !self.stop.load(Ordering::Relaxed) {
            let resp = match client.get(format!("{}{path}", self.base)).send().await {
                Ok(r) if r.status().is_success() => r,
                Ok(r) => {
                    self.stats.lock().unwrap().errors.push(format!("watch {path}: {}", r.status()));
                    return;
                }
                Err(e) => {
                    self.stats.lock().unwrap().errors.push(format!("watch {path}: {e}"));
                    return;
                }
            };
            let mut body = resp.bytes_stream();
            let mut buf: Vec<u8> = vec![];
            let mut lines = 0;
            let deadline = Instant::now() + Duration::from_millis(if long { u64::MAX / 4 } else { 1500 });
            while !self.stop.load(Ordering::Relaxed) && Instant::now() < deadline && (long || lines < 5) {
                let Ok(next) = tokio::time::timeout(Duration::from_millis(250), body.next()).await else { continue };
                let Some(Ok(chunk)) = next else { break };
                buf.extend_from_slice(&chunk);
                while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=i).collect();
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim();
                    // NDJSON for watches; a live page's stream is server-sent events.
                    let parsed = if path.contains("watch=1") {
                        serde_json::from_str::<Value>(text).is_ok_and(|v| v["type"].is_string())
                    } else {
                        true
                    };
                    if !text.is_empty() && !parsed {
                        self.stats.lock().unwrap().errors.push(format!("watch {path}: a line that is no event: {text}"));
                    }
                    lines += 1;
                    self.watch_lines.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Runs the whole load for `length`; returns the stats it gathered.
async fn load_for(base: &str, registry: &str, length: Duration) -> (Stats, u64) {
    let load = Arc::new(Load {
        base: base.into(),
        registry: registry.into(),
        stop: AtomicBool::new(false),
        stats: Default::default(),
        watch_lines: AtomicU64::new(0),
    });
    let mut tasks = vec![tokio::spawn(load.clone().pages()), tokio::spawn(load.clone().imports())];
    for w in 0..3 {
        tasks.push(tokio::spawn(load.clone().writes(w)));
    }
    for (long, path) in [
        (true, "/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=1"),
        (true, "/apis/image.openshift.io/v1/imagestreams?watch=1"),
        (false, "/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=1"),
        (false, "/api/v1/live/imagestreams"),
        (true, "/api/v1/live/imagestreams"),
    ] {
        tasks.push(tokio::spawn(load.clone().watches(long, path)));
    }
    tokio::time::sleep(length).await;
    load.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.expect("a load task panicked");
    }
    let lines = load.watch_lines.load(Ordering::Relaxed);
    let stats = std::mem::take(&mut *load.stats.lock().unwrap());
    (stats, lines)
}

/// Resident memory (KiB) and open descriptors once the server has been idle for a moment.
async fn idle_usage(pid: u32) -> (u64, usize) {
    tokio::time::sleep(Duration::from_millis(1500)).await;
    (rss_kib(pid), open_fds(pid))
}

fn p99_of(samples: &[(Instant, Kind, Duration)], kind: Kind, from: Instant, to: Instant) -> (Duration, usize) {
    let picked: Vec<Duration> = samples.iter().filter(|(t, k, _)| *k == kind && *t >= from && *t < to).map(|(_, _, d)| *d).collect();
    (percentile(&picked, 99.0), picked.len())
}

/// How much the last fifth's p99 may exceed the first fifth's: `factor` × it + `slack`.
struct Tolerance {
    factor: f64,
    slack: Duration,
}

async fn soak(warm_up: Duration, measured: Duration, tolerance: Tolerance) {
    let registry = Registry::start().await;
    for v in 0..3 {
        registry.push_image("lib/app", Some(&format!("v{v}")), &format!("soak-{v}"), "amd64", false).await;
    }
    let receiver = Receiver::start(SECRET, vec![]).await;
    let portal = Portal::start(
        &["--allowed-registry", &registry.host, "--insecure-registry", &registry.host, "--allowed-webhook-target", &receiver.allow_entry()],
        &[("LEPTOS_OUTPUT_NAME", "portal")],
    );
    let client = reqwest::Client::new();
    for s in STREAMS.iter().chain(&["imported"]) {
        let r = client.post(format!("{}{API}/imagestreams", portal.url)).json(&json!({"metadata": {"name": s}})).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let hook = json!({"metadata": {"name": "all"}, "spec": {"url": receiver.url(), "secret": SECRET, "tags": ["*:*"]}});
    let r = client.post(format!("{}/api/v1/namespaces/default/webhooks", portal.url)).json(&hook).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    drop(client);
    let pid = portal.pid();

    // Warmed up once the server's idle memory has settled: its caches fill under load (each
    // connection's SQLite page cache, the watch hub's ring of recent batches, the allocator's
    // pages), and a single short warm-up sometimes ended below where the server then stays
    // (102-118 MB after 8 s against 115-130 MB throughout the measured phase, debug build).
    // Rounds of `warm_up` until one ends no more than 3 % above the highest idle memory so far
    // (three at least, four at most); that highest level is the warmed-up server's (idle
    // readings of the same server vary by several percent from one moment to the next). Two
    // short rounds could settle below it: a CI run read 113 MB after two 8 s rounds and 125 MB
    // at the end (+10.0 %), where runs of the same tree read −7 % and +2 %.
    let mut warm_stats = Stats { samples: vec![], errors: vec![] };
    let mut warm_rounds = 0;
    let mut highest: Option<u64> = None;
    let (rss_warm, fds_warm) = loop {
        let (round, _) = load_for(&portal.url, &registry.host, warm_up).await;
        warm_rounds += 1;
        warm_stats.samples.extend(round.samples);
        warm_stats.errors.extend(round.errors);
        let (rss, fds) = idle_usage(pid).await;
        let settled = warm_rounds >= 3 && highest.is_some_and(|h| rss * 100 <= h * 103);
        let top = highest.map_or(rss, |h| h.max(rss));
        highest = Some(top);
        if settled || warm_rounds == 4 {
            break (top, fds);
        }
    };
    let started = Instant::now();
    let mut during = vec![];
    let sampler = {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let handle = tokio::spawn(async move {
            let mut seen = vec![];
            while !s.load(Ordering::Relaxed) {
                seen.push((rss_kib(pid), open_fds(pid)));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            seen
        });
        (stop, handle)
    };
    let (stats, watch_lines) = load_for(&portal.url, &registry.host, measured).await;
    sampler.0.store(true, Ordering::Relaxed);
    during.extend(sampler.1.await.unwrap());
    let ended = Instant::now();
    let (rss_end, fds_end) = idle_usage(pid).await;

    let fifth = (ended - started) / 5;
    let mut report = vec![];
    let mut unstable = vec![];
    for (kind, name) in [(Kind::Read, "reads"), (Kind::Write, "writes"), (Kind::Import, "imports")] {
        let (first, n1) = p99_of(&stats.samples, kind, started, started + fifth);
        let (last, n5) = p99_of(&stats.samples, kind, ended - fifth, ended);
        let (all, n) = p99_of(&stats.samples, kind, started, ended);
        report.push(format!("{name}: {n} requests, p99 {all:?}; first fifth p99 {first:?} ({n1}), last fifth p99 {last:?} ({n5})"));
        if last > first.mul_f64(tolerance.factor) + tolerance.slack {
            unstable.push(format!("{name}: p99 {first:?} → {last:?}"));
        }
    }
    let delivered = receiver.received();
    let max_rss = during.iter().map(|(r, _)| *r).max().unwrap_or(0);
    // The trend under load, at ten evenly spaced moments (KiB).
    let trend: Vec<u64> = (0..10).filter_map(|i| during.get(i * during.len() / 10).map(|(r, _)| *r)).collect();
    let max_fds = during.iter().map(|(_, f)| *f).max().unwrap_or(0);
    println!(
        "soak: warm-up {warm_rounds} × {warm_up:?} ({} requests), measured {measured:?}\n  idle after warm-up: {rss_warm} KiB resident, {fds_warm} fds\n  idle at the end: {rss_end} KiB resident, {fds_end} fds\n  under load at most {max_rss} KiB, {max_fds} fds; resident through the phase {trend:?}\n  {}\n  {watch_lines} watch lines, {} webhook deliveries",
        warm_stats.samples.len(),
        report.join("\n  "),
        delivered.len()
    );
    let errors: Vec<&String> = warm_stats.errors.iter().chain(&stats.errors).collect();
    assert!(errors.is_empty(), "{} failed requests, e.g. {:?}", errors.len(), &errors[..errors.len().min(10)]);
    assert!(delivered.iter().all(|r| r.signature_ok), "a delivery with a bad signature");
    assert!(!delivered.is_empty(), "no webhook delivery arrived");
    assert!(watch_lines > 0, "the watches saw nothing");
    assert!(rss_end * 10 < rss_warm * 11, "resident memory grew from {rss_warm} KiB to {rss_end} KiB (≥ 10 %)");
    assert!(fds_end <= fds_warm + 2, "open file descriptors grew from {fds_warm} to {fds_end}");
    assert!(unstable.is_empty(), "p99 latencies grew: {unstable:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_short() {
    // A few hundred requests per fifth: their p99 is a handful of samples, so the margin is wider.
    let tolerance = Tolerance { factor: 2.0, slack: Duration::from_millis(50) };
    soak(Duration::from_secs(env_or("SOAK_WARMUP_SECONDS", 8)), Duration::from_secs(env_or("SOAK_SECONDS", 24)), tolerance).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the 30-minute soak"]
async fn soak_full() {
    let minutes = env_or("SOAK_MINUTES", 30);
    let measured = Duration::from_secs(minutes * 60);
    soak((measured / 10).max(Duration::from_secs(60)), measured, Tolerance { factor: 1.5, slack: Duration::from_millis(25) }).await;
}
