//! The crash suite (issue 18, point 5): the real `imagestreams serve` binary is killed with
//! SIGKILL (`kill -9`, no chance to clean up) at a random moment while clients write (image
//! stream mappings, tags of images, imports from a real `docker-registry` on 127.0.0.1) and
//! while the webhook dispatcher delivers the changes to a receiver that verifies signatures.
//! Then it is started again on the same data directory, for the next trial.
//!
//! After every kill: `PRAGMA integrity_check` answers `ok` (run by Debian's `sqlite3` on the
//! files the dead process left), and after the restart every write the server acknowledged
//! (2xx) is there: the image in its tag's history. At the end, with no new writes, the outbox
//! resumes: every acknowledged change reaches the receiver at least once, and all deliveries
//! of one change carry one event id and one delivery id (a receiver can drop repeats). The
//! receiver answers some attempts 500 and stalls others past the webhook timeout, so retries
//! and attempts in flight are among what the kills hit.
//!
//! Every change here is unique (a new image, or a new tag), so "one change" is one
//! (stream:tag, image) pair.
//!
//! `crash_short` runs the 10 trials with `cargo test` (about 25 s); `crash_full` runs 50:
//! `cargo test -p server --test reliability_crash -- --ignored --nocapture` (`CRASH_TRIALS`
//! changes either number).

mod common;

use common::portal::Portal;
use common::receiver::{Receiver, Step};
use common::registry::Registry;
use common::reliability::{Rng, env_or, integrity_check};
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const API: &str = "/apis/image.openshift.io/v1/namespaces/default";
const SECRET: &str = "crash-suite-webhook-secret";
const STREAMS: &[&str] = &["s0", "s1", "s2"];
const WRITERS: usize = 4;

/// An acknowledged change: `stream`'s `tag` now has `image` at its head.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Change {
    stream: String,
    tag: String,
    image: String,
}

struct Env {
    registry: Registry,
    /// Upstream images `lib/app:v<N>` (digests).
    upstream: Vec<String>,
    receiver: Receiver,
    data_dir: tempfile::TempDir,
}

impl Env {
    fn start_portal(&self) -> Portal {
        Portal::start_on(
            &self.data_dir.path().join("data"),
            &[
                "--allowed-registry",
                &self.registry.host,
                "--insecure-registry",
                &self.registry.host,
                "--allowed-webhook-target",
                &self.receiver.allow_entry(),
                "--webhook-timeout",
                "2s",
                "--webhook-retry-base",
                "200ms",
            ],
            &[],
        )
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap()
}

/// One writer: mappings of new images, tags of those images under new names, imports into new
/// tags, until the server goes away. Returns what was acknowledged.
async fn writer(base: String, trial: u64, w: u64, acked: Arc<Mutex<Vec<Change>>>, upstream: Vec<String>, registry: String) {
    let client = http();
    let mut rng = Rng::new(trial * 100 + w + 1);
    let mut mine: Vec<Change> = vec![];
    for n in 0.. {
        let stream = rng.pick(STREAMS).to_string();
        let choice = rng.below(10);
        let (url, method, body, change) = if choice < 6 || mine.iter().all(|c| c.stream != stream) {
            let image = digest_n(trial << 40 | w << 32 | n);
            let tag = format!("t{}", rng.below(4));
            let body = json!({
                "metadata": {"name": stream}, "tag": tag,
                "image": {"metadata": {"name": image}, "dockerImageReference": format!("quay.io/crash/{stream}@{image}")}
            });
            (format!("{base}{API}/imagestreammappings"), reqwest::Method::POST, body, Change { stream, tag, image })
        } else if choice < 8 {
            let source = mine.iter().rfind(|c| c.stream == stream && c.tag.starts_with('t')).cloned();
            let Some(source) = source else { continue };
            let tag = format!("p-{trial}-{w}-{n}");
            let body = json!({"metadata": {"name": format!("{stream}:{tag}")}, "tag": {"from": {"kind": "ImageStreamImage", "name": format!("{stream}@{}", source.image)}}});
            (format!("{base}{API}/imagestreamtags/{stream}:{tag}"), reqwest::Method::PUT, body, Change { stream, tag, image: source.image })
        } else {
            let v = rng.below(upstream.len() as u64) as usize;
            let tag = format!("imp-{trial}-{w}-{n}");
            let body = json!({"metadata": {"name": stream}, "spec": {"import": true, "images": [
                {"from": {"kind": "DockerImage", "name": format!("{registry}/lib/app:v{v}")}, "to": {"name": tag}}
            ]}});
            (format!("{base}{API}/imagestreamimports"), reqwest::Method::POST, body, Change { stream, tag, image: upstream[v].clone() })
        };
        let Ok(resp) = client.request(method, &url).json(&body).send().await else { break };
        let status = resp.status();
        let Ok(text) = resp.text().await else { break };
        // The kill may cut an answer off; only a whole 2xx answer is an acknowledgement.
        assert!(!status.is_server_error(), "{url}: {status} {text}");
        if !status.is_success() {
            panic!("{url}: {status} {text}");
        }
        if url.ends_with("imagestreamimports") {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["status"]["images"][0]["status"]["status"], "Success", "{text}");
        }
        mine.push(change.clone());
        acked.lock().unwrap().push(change);
    }
}

/// Every acknowledged change is in its tag's history on the server at `base`.
async fn check_acknowledged(base: &str, acked: &[Change]) {
    let client = http();
    let mut streams: BTreeMap<String, Value> = BTreeMap::new();
    for s in STREAMS {
        let v: Value = client.get(format!("{base}{API}/imagestreams/{s}")).send().await.unwrap().json().await.unwrap();
        streams.insert(s.to_string(), v);
    }
    for c in acked {
        let s = &streams[&c.stream];
        let tag = s["status"]["tags"].as_array().and_then(|t| t.iter().find(|t| t["tag"] == c.tag.as_str()));
        let found = tag.and_then(|t| t["items"].as_array()).is_some_and(|items| items.iter().any(|i| i["image"] == c.image.as_str()));
        assert!(found, "acknowledged {c:?} is missing after the crash: {}", tag.map(|t| t.to_string()).unwrap_or_default());
    }
}

fn check_integrity(data_dir: &Path, trial: u64) {
    let result = integrity_check(&data_dir.join("imagestreams.db"));
    assert_eq!(result, "ok", "trial {trial}: integrity_check after kill -9");
}

async fn crash_trials(trials: u64) {
    let registry = Registry::start().await;
    let mut upstream = vec![];
    for v in 0..3 {
        upstream.push(registry.push_image("lib/app", Some(&format!("v{v}")), &format!("crash-{v}"), "amd64", false).await.digest);
    }
    // The receiver fails some attempts (500s, and stalls past the webhook timeout, during which
    // a kill may come), so deliveries are retried across kills too.
    let script = (0..80)
        .map(|i| match i % 9 {
            2 => Step::Answer(500),
            6 => Step::Stall(Duration::from_millis(2500)),
            _ => Step::Answer(200),
        })
        .collect();
    let receiver = Receiver::start(SECRET, script).await;
    let env = Env { registry, upstream, receiver, data_dir: tempfile::tempdir().unwrap() };
    let acked: Arc<Mutex<Vec<Change>>> = Default::default();

    // Before the first trial: the streams and the subscription, acknowledged.
    {
        let portal = env.start_portal();
        let client = http();
        for s in STREAMS {
            let r = client.post(format!("{}{API}/imagestreams", portal.url)).json(&json!({"metadata": {"name": s}})).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 201);
        }
        let hook = json!({"metadata": {"name": "all"}, "spec": {"url": env.receiver.url(), "secret": SECRET, "tags": ["*:*"]}});
        let r = client.post(format!("{}/api/v1/namespaces/default/webhooks", portal.url)).json(&hook).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    }

    let mut rng = Rng::new(7);
    for trial in 0..trials {
        let portal = env.start_portal();
        let before = acked.lock().unwrap().len();
        let writers: Vec<_> = (0..WRITERS as u64)
            .map(|w| tokio::spawn(writer(portal.url.clone(), trial, w, acked.clone(), env.upstream.clone(), env.registry.host.clone())))
            .collect();
        // A random moment: early (mid-start of the dispatcher's first round) to well into the load.
        let wait = Duration::from_millis(300 + rng.below(1700));
        tokio::time::sleep(wait).await;
        let acknowledged_so_far = acked.lock().unwrap().len();
        let pending_deliveries = acknowledged_so_far.saturating_sub(env.receiver.accepted().len());
        drop(portal); // SIGKILL, then reaped.
        for w in writers {
            w.await.expect("a writer saw a 5xx or an unexpected refusal");
        }
        let now = acked.lock().unwrap().len();
        println!(
            "trial {trial}: killed after {wait:?}, {} writes acknowledged, about {pending_deliveries} deliveries outstanding",
            now - before
        );
        check_integrity(&env.data_dir.path().join("data"), trial);
        // Restarted: everything acknowledged so far (this trial and every earlier one) is there.
        let portal = env.start_portal();
        let so_far = acked.lock().unwrap().clone();
        check_acknowledged(&portal.url, &so_far).await;
        drop(portal);
        check_integrity(&env.data_dir.path().join("data"), trial);
    }

    // The last life: no writes; the outbox resumes and drains.
    let portal = env.start_portal();
    let acked = acked.lock().unwrap().clone();
    let expected: BTreeSet<(String, String)> = acked.iter().map(|c| (format!("{}:{}", c.stream, c.tag), c.image.clone())).collect();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let delivered: BTreeSet<(String, String)> = env
            .receiver
            .accepted()
            .iter()
            .map(|r| {
                (
                    r.event["subject"].as_str().unwrap_or_default().to_string(),
                    r.event["data"]["newImage"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let missing: Vec<_> = expected.difference(&delivered).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} acknowledged changes never delivered, e.g. {:?}",
            missing.len(),
            expected.len(),
            &missing[..missing.len().min(5)]
        );
        env.receiver.wait_accepted(env.receiver.accepted().len() + 1).await;
    }
    // Stable ids: every delivery of one change carries the same event id and delivery id, and
    // one event id never names two changes.
    let mut ids: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    let mut changes_of_id: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    let received = env.receiver.received();
    for r in &received {
        assert!(r.signature_ok, "a delivery with a bad signature: {:?}", r.event);
        let key = (
            r.event["subject"].as_str().unwrap_or_default().to_string(),
            r.event["data"]["newImage"].as_str().unwrap_or_default().to_string(),
        );
        let id = r.event["id"].as_str().unwrap_or_default().to_string();
        assert!(!id.is_empty(), "an event without id: {}", r.event);
        ids.entry(key.clone()).or_default().insert((id.clone(), r.delivery.clone()));
        changes_of_id.entry(id).or_default().insert(key);
    }
    for (key, set) in &ids {
        assert_eq!(set.len(), 1, "{key:?} was delivered under several ids: {set:?}");
    }
    for (id, keys) in &changes_of_id {
        assert_eq!(keys.len(), 1, "event id {id} names several changes: {keys:?}");
    }
    let repeats = received.len() - ids.len();
    println!(
        "{trials} trials: {} acknowledged changes, all present; {} delivery attempts for {} changes ({repeats} repeats: retries after the receiver's failures, attempts a kill cut short)",
        acked.len(),
        received.len(),
        ids.len()
    );
    drop(portal);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_short() {
    crash_trials(env_or("CRASH_TRIALS", 10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "50 kill -9 trials"]
async fn crash_full() {
    crash_trials(env_or("CRASH_TRIALS", 50)).await;
}
