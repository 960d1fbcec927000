//! The concurrency suite (issue 18, point 5): many clients write one image stream at once
//! through the real API router (in process), each with its own tags: a permanent tag
//! (`c<N>-x`, tagged from the stream's images), an alias of it (`c<N>-a`), and an imported tag
//! (`c<N>-imp`, imported from a real `docker-registry` on 127.0.0.1). Operations: tag, alias,
//! import, delete, restore (tag an older image of the tag's own history again, read back from
//! the server first), and reads.
//!
//! Every client keeps a model of its tags from what the server acknowledged. Asserted:
//! - 0 lost updates: at the end (and at every restore, read back mid-run) each tag's history is
//!   exactly the model's: every acknowledged change is there, in order, nothing else;
//! - 0 answers 5xx; 0 answers 409 (no operation sends a precondition, so none is caused by the
//!   client's own input); a 404 only for deleting a tag the client had already deleted;
//! - history and generations consistent: every spec tag's and history item's generation is at
//!   most the stream's, items' generations never grow from newest to oldest, and a permanent or
//!   imported tag's head carries its spec tag's generation.
//!
//! - the watch agrees (short run): replayed from before the clients started, its events come in
//!   strictly increasing resourceVersions, each object's generations are consistent and never
//!   lower than the previous event's, and the last event's object is the stream as it is read.
//!
//! Sizes: `concurrency_short` (8 clients × 30 operations) runs with `cargo test`; the full run is
//! `cargo test -p server --test reliability_concurrency -- --ignored --nocapture` (50 × 200;
//! `CONCURRENCY_CLIENTS` and `CONCURRENCY_OPS` change either).

mod common;

use axum::http::StatusCode;
use common::registry::Registry;
use common::reliability::{Rng, env_or};
use common::*;
use serde_json::{Value, json};
use server::importer::ImporterConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STREAM: &str = "app";
const IMPORTS: &str = "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports";
/// Upstream tags pushed to the registry, each a distinct image.
const UPSTREAM_TAGS: usize = 4;

/// What the server answered, counted by status over the whole run.
#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, u64>,
    /// Every 5xx and 409 with what was asked: each one fails the run.
    bad: Vec<String>,
    /// 429s (the import slots were busy) that were retried.
    retried: u64,
}

impl Tally {
    fn record(&mut self, what: &str, status: StatusCode, text: &str) {
        *self.by_status.entry(status.as_u16()).or_default() += 1;
        if status.is_server_error() || status == StatusCode::CONFLICT {
            self.bad.push(format!("{what}: {status} {}", text.chars().take(300).collect::<String>()));
        }
    }
}

/// One tag's history as the client knows it from acknowledged writes: images, newest first;
/// `None` while the tag does not exist.
type History = Option<Vec<String>>;

/// Adds `image` as the new head unless it already is (the history merge adds an item only
/// when the head changes).
fn push_head(h: &mut History, image: &str) {
    let items = h.get_or_insert_with(Vec::new);
    if items.first().map(String::as_str) != Some(image) {
        items.insert(0, image.to_string());
    }
}

#[derive(Default, Debug)]
struct Model {
    permanent: History,
    alias: History,
    imported: History,
    acknowledged: u64,
}

struct Run {
    app: TestApp,
    registry_host: String,
    /// The stream's images (digests) a tag may point at, imported before the clients start.
    images: Vec<String>,
    tally: Mutex<Tally>,
}

fn tag_name(client: usize, kind: &str) -> String {
    format!("c{client}-{kind}")
}

/// The images of `tag`'s history in `stream`, newest first (`None`: no status tag).
fn history_of(stream: &Value, tag: &str) -> History {
    let tags = stream["status"]["tags"].as_array()?;
    let t = tags.iter().find(|t| t["tag"] == tag)?;
    Some(t["items"].as_array().map(|i| i.iter().map(|e| e["image"].as_str().unwrap_or_default().to_string()).collect()).unwrap_or_default())
}

fn spec_tag<'a>(stream: &'a Value, tag: &str) -> Option<&'a Value> {
    stream["spec"]["tags"].as_array()?.iter().find(|t| t["name"] == tag)
}

impl Run {
    async fn put_tag(&self, client: usize, tag: &str, from: Value) -> (StatusCode, Value) {
        let r = self
            .app
            .put(
                &istag_path("default", &format!("{STREAM}:{tag}")),
                json!({"metadata": {"name": format!("{STREAM}:{tag}")}, "tag": {"from": from}}),
            )
            .await;
        self.tally.lock().unwrap().record(&format!("client {client} PUT {tag}"), r.status, &r.text);
        (r.status, r.body)
    }

    /// Tags the permanent tag to `image` of this stream; the model follows when acknowledged.
    async fn tag(&self, client: usize, model: &mut Model, image: &str) {
        let x = tag_name(client, "x");
        let (status, body) = self.put_tag(client, &x, json!({"kind": "ImageStreamImage", "name": format!("{STREAM}@{image}")})).await;
        if status.is_success() {
            assert_eq!(body["image"]["metadata"]["name"], image, "client {client}: the answer names the tagged image");
            push_head(&mut model.permanent, image);
            // The alias tracks it: its history follows.
            if model.alias.is_some() {
                push_head(&mut model.alias, image);
            }
            model.acknowledged += 1;
        }
    }

    async fn alias(&self, client: usize, model: &mut Model) {
        let (a, x) = (tag_name(client, "a"), tag_name(client, "x"));
        let (status, body) = self.put_tag(client, &a, json!({"kind": "ImageStreamTag", "name": x})).await;
        if status.is_success() {
            let head = model.permanent.as_ref().and_then(|h| h.first().cloned());
            // Its target's image; with no target (deleted), the alias keeps its own last one.
            let shown = head.clone().or_else(|| model.alias.as_ref().and_then(|h| h.first().cloned()));
            assert_eq!(
                body["image"]["metadata"]["name"].as_str().map(str::to_string),
                shown,
                "client {client}: the alias shows its target's image"
            );
            if model.alias.is_none() {
                model.alias = Some(vec![]);
            }
            if let Some(head) = head {
                push_head(&mut model.alias, &head);
            }
            model.acknowledged += 1;
        }
    }

    async fn import(&self, client: usize, model: &mut Model, upstream_tag: usize) {
        let imp = tag_name(client, "imp");
        let body = json!({"metadata": {"name": STREAM}, "spec": {"import": true, "images": [
            {"from": {"kind": "DockerImage", "name": format!("{}/lib/app:v{upstream_tag}", self.registry_host)}, "to": {"name": imp}}
        ]}});
        loop {
            let r = self.app.post(IMPORTS, body.clone()).await;
            if r.status == StatusCode::TOO_MANY_REQUESTS {
                // The import slots were busy: what a client does is come back later.
                self.tally.lock().unwrap().retried += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            self.tally.lock().unwrap().record(&format!("client {client} import {imp}"), r.status, &r.text);
            if r.status.is_success() {
                let st = &r.body["status"]["images"][0];
                assert_eq!(st["status"]["status"], "Success", "client {client}: import from the local registry: {}", r.text);
                let digest = st["image"]["metadata"]["name"].as_str().unwrap().to_string();
                assert_eq!(digest, self.images[upstream_tag]);
                push_head(&mut model.imported, &digest);
                model.acknowledged += 1;
            }
            return;
        }
    }

    async fn delete(&self, client: usize, model: &mut Model, which: usize) {
        let (kind, h) = match which {
            0 => ("x", &mut model.permanent),
            1 => ("a", &mut model.alias),
            _ => ("imp", &mut model.imported),
        };
        let tag = tag_name(client, kind);
        let r = self.app.delete(&istag_path("default", &format!("{STREAM}:{tag}"))).await;
        self.tally.lock().unwrap().record(&format!("client {client} DELETE {tag}"), r.status, &r.text);
        match r.status {
            s if s.is_success() => {
                *h = None;
                model.acknowledged += 1;
            }
            // Only a tag this client already deleted (or never made) may be missing.
            StatusCode::NOT_FOUND => assert!(h.is_none(), "client {client}: {tag} was acknowledged but is not found: {}", r.text),
            s => panic!("client {client}: DELETE {tag}: {s} {}", r.text),
        }
    }

    /// Reads the stream, checks this client's tags against its model (read after write), and
    /// tags an older image of the permanent tag's history again.
    async fn restore(&self, client: usize, model: &mut Model, rng: &mut Rng) {
        let r = self.app.get(&is_path("default", STREAM)).await;
        self.tally.lock().unwrap().record(&format!("client {client} GET"), r.status, &r.text);
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        check_client(&r.body, client, model);
        let Some(items) = history_of(&r.body, &tag_name(client, "x")) else { return };
        if items.len() < 2 {
            return;
        }
        let older = items[1 + rng.below(items.len() as u64 - 1) as usize].clone();
        self.tag(client, model, &older).await;
    }

    async fn client(self: Arc<Self>, client: usize, ops: u64) -> Model {
        let mut rng = Rng::new(client as u64 + 1);
        let mut model = Model::default();
        for _ in 0..ops {
            match rng.below(100) {
                0..30 => {
                    let image = rng.pick(&self.images).clone();
                    self.tag(client, &mut model, &image).await;
                }
                30..45 => self.alias(client, &mut model).await,
                45..65 => {
                    let t = rng.below(UPSTREAM_TAGS as u64) as usize;
                    self.import(client, &mut model, t).await;
                }
                65..77 => {
                    let which = rng.below(3) as usize;
                    self.delete(client, &mut model, which).await;
                }
                77..95 => self.restore(client, &mut model, &mut rng).await,
                _ => {
                    let r = self.app.get(&istag_path("default", &format!("{STREAM}:{}", tag_name(client, "x")))).await;
                    self.tally.lock().unwrap().record(&format!("client {client} GET istag"), r.status, &r.text);
                }
            }
        }
        model
    }
}

/// This client's three tags in `stream` against its model: history exactly as acknowledged,
/// spec tags present exactly when the model has the tag, the alias pointing at its target.
fn check_client(stream: &Value, client: usize, model: &Model) {
    for (kind, expected) in [("x", &model.permanent), ("a", &model.alias), ("imp", &model.imported)] {
        let tag = tag_name(client, kind);
        let got = history_of(stream, &tag);
        // A tag without any image yet (an alias of a missing tag) has no history items.
        let expected_items = expected.clone().filter(|h| !h.is_empty());
        let got_items = got.filter(|h| !h.is_empty());
        assert_eq!(got_items, expected_items, "client {client}, tag {tag}: history differs from the acknowledged writes");
        let spec = spec_tag(stream, &tag);
        assert_eq!(spec.is_some(), expected.is_some(), "client {client}, tag {tag}: spec tag present {:?}, model {expected:?}", spec);
        if kind == "a"
            && let Some(spec) = spec
        {
            assert_eq!(spec["from"]["kind"], "ImageStreamTag", "{spec}");
            assert_eq!(spec["from"]["name"], tag_name(client, "x"), "{spec}");
        }
    }
}

/// Generations: none above the stream's; newest items carry the highest; a permanent or
/// imported tag's head carries its spec tag's generation.
fn check_generations(stream: &Value) {
    let g = stream["metadata"]["generation"].as_i64().expect("metadata.generation");
    for t in stream["spec"]["tags"].as_array().into_iter().flatten() {
        let tg = t["generation"].as_i64().unwrap_or(0);
        assert!(tg <= g, "spec tag {} generation {tg} > stream generation {g}", t["name"]);
    }
    for t in stream["status"]["tags"].as_array().into_iter().flatten() {
        let name = t["tag"].as_str().unwrap_or_default();
        let gens: Vec<i64> = t["items"].as_array().into_iter().flatten().map(|i| i["generation"].as_i64().unwrap_or(0)).collect();
        assert!(gens.iter().all(|x| *x <= g), "tag {name}: item generations {gens:?} above the stream's {g}");
        assert!(gens.windows(2).all(|w| w[0] >= w[1]), "tag {name}: item generations {gens:?} grow towards older items");
        let is_alias = name.ends_with("-a");
        if let (false, Some(spec), Some(head)) = (is_alias, spec_tag(stream, name), gens.first()) {
            assert_eq!(Some(*head), spec["generation"].as_i64(), "tag {name}: head generation {head} vs spec {spec}");
        }
    }
}

/// Replays the namespace's watch from `from` up to the stream as it is now (`last`): events in
/// strictly increasing resourceVersions, consistent generations, the last object equal to `last`.
async fn check_watch_replay(app: &TestApp, from: &str, last: &Value) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let target: i64 = last["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    let req =
        axum::http::Request::get(format!("/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=1&resourceVersion={from}"))
            .body(axum::body::Body::empty())
            .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body();
    let (mut buf, mut previous_rv, mut previous_generation, mut events) = (Vec::<u8>::new(), from.parse::<i64>().unwrap(), 0, 0);
    loop {
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            let event: Value = serde_json::from_slice(&line).unwrap();
            if event["type"] == "BOOKMARK" {
                continue;
            }
            assert_eq!(event["type"], "MODIFIED", "{}", event["type"]);
            let object = &event["object"];
            let rv: i64 = object["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
            assert!(rv > previous_rv, "watch event {rv} after {previous_rv}");
            let generation = object["metadata"]["generation"].as_i64().unwrap();
            assert!(generation >= previous_generation, "generation {generation} after {previous_generation}");
            check_generations(object);
            (previous_rv, previous_generation) = (rv, generation);
            events += 1;
            if rv == target {
                assert_eq!(object, last, "the watch's last object is not the stream as read");
                println!("watch replay: {events} events up to resourceVersion {target}");
                return;
            }
            assert!(rv < target, "the watch went past {target} to {rv}");
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.expect("the watch stalled before the last change");
        let frame = frame.expect("the watch ended before the last change").unwrap();
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
    }
}

async fn run(clients: usize, ops: u64, replay_watch: bool) {
    let reg = Registry::start().await;
    let mut upstream = vec![];
    for t in 0..UPSTREAM_TAGS {
        upstream.push(reg.push_image("lib/app", Some(&format!("v{t}")), &format!("concurrency-{t}"), "amd64", false).await.digest);
    }
    let app = TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![reg.host.clone()],
        allowed_registries: vec![reg.host.clone()],
        timeout: Duration::from_secs(10),
        max_concurrent_imports: 8,
        max_concurrent_imports_per_namespace: 8,
        import_queue_wait: Duration::from_secs(30),
        ..Default::default()
    })
    .await;
    // The stream's images: every upstream tag imported once (seed tags nobody else touches).
    for (t, digest) in upstream.iter().enumerate() {
        let r = app
            .post(
                IMPORTS,
                json!({"metadata": {"name": STREAM}, "spec": {"import": true, "images": [
                    {"from": {"kind": "DockerImage", "name": format!("{}/lib/app:v{t}", reg.host)}, "to": {"name": format!("seed-{t}")}}
                ]}}),
            )
            .await;
        assert_eq!(r.body["status"]["images"][0]["image"]["metadata"]["name"], digest.as_str(), "{}", r.text);
    }
    let seeded = app.get(&is_path("default", STREAM)).await.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let run = Arc::new(Run { app, registry_host: reg.host.clone(), images: upstream, tally: Default::default() });
    let started = std::time::Instant::now();
    let tasks: Vec<_> = (0..clients).map(|c| tokio::spawn(run.clone().client(c, ops))).collect();
    let mut models = vec![];
    for t in tasks {
        models.push(t.await.expect("a client panicked"));
    }
    let elapsed = started.elapsed();

    let stream = run.app.get(&is_path("default", STREAM)).await;
    assert_eq!(stream.status, StatusCode::OK);
    for (c, model) in models.iter().enumerate() {
        check_client(&stream.body, c, model);
    }
    check_generations(&stream.body);
    if replay_watch {
        check_watch_replay(&run.app, &seeded, &stream.body).await;
    }
    // Nothing but the clients' and seed tags exists.
    let mut expected_tags: Vec<String> = (0..UPSTREAM_TAGS).map(|t| format!("seed-{t}")).collect();
    for (c, m) in models.iter().enumerate() {
        for (kind, h) in [("x", &m.permanent), ("a", &m.alias), ("imp", &m.imported)] {
            if h.is_some() {
                expected_tags.push(tag_name(c, kind));
            }
        }
    }
    expected_tags.sort();
    let mut spec_tags: Vec<String> =
        stream.body["spec"]["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    spec_tags.sort();
    assert_eq!(spec_tags, expected_tags);

    let tally = run.tally.lock().unwrap();
    let acknowledged: u64 = models.iter().map(|m| m.acknowledged).sum();
    println!(
        "{clients} clients × {ops} operations in {elapsed:.1?}: {acknowledged} acknowledged changes, answers by status {:?}, {} import retries after 429",
        tally.by_status, tally.retried
    );
    assert!(tally.bad.is_empty(), "{} answers 5xx or 409:\n{}", tally.bad.len(), tally.bad.join("\n"));
    assert!(acknowledged > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_short() {
    run(env_or("CONCURRENCY_CLIENTS", 8) as usize, env_or("CONCURRENCY_OPS", 30), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the full concurrency run: 50 clients × 200 operations"]
async fn concurrency_full() {
    // Every event carries the whole stream, thousands of items by the end: the replay would
    // move gigabytes, so only the short run does it.
    run(env_or("CONCURRENCY_CLIENTS", 50) as usize, env_or("CONCURRENCY_OPS", 200), false).await;
}
