//! Pull-through under upstream faults (issue 15, point 9): a misbehaving loopback upstream
//! registry, written here, serves `/v2/`, manifests and configs normally (so imports succeed),
//! and for each repository's layer blob whatever the test sets: healthy, down (port closed),
//! slow beyond `--registry-timeout`, stalled in the middle of the body, 500, 429 with
//! `Retry-After: 7`, a truncated body (the announced `Content-Length` not sent, then the
//! connection closed), wrong content (a digest mismatch), or missing (404). The real
//! `imagestreams` binary imports a tag of each repository into a stream of its own, then a
//! client pulls the layer through `/v2/`.
//!
//! For every fault: the client gets the right answer (503 `UNAVAILABLE`, 429 `TOOMANYREQUESTS`
//! with `Retry-After: 7`, 404 `BLOB_UNKNOWN`, or a body that breaks off before its end, never a
//! complete wrong body); nothing is stored (no file for the digest under `<data-dir>/blobs`, no
//! spool left behind); a later pull asks the upstream again; once the upstream is healthy the
//! same pull succeeds and is mirrored. While one pull hangs on a slow upstream, another
//! stream's pull is served.

mod common;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::registry::sha256;
use futures::StreamExt as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_imagestreams");
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The portal's `--registry-timeout`.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a slow upstream makes a client wait: far beyond the timeout.
const SLOW: Duration = Duration::from_secs(60);
/// How long a broken upstream pauses in the middle of a body before it breaks (truncation) or
/// sends the rest (wrong content): the client's response has begun by then, so the test sees
/// the response break off, the harder case (a failure before that is a plain 503).
const MID_BODY_PAUSE: Duration = Duration::from_millis(1000);
/// Layer size: several spool chunks, so a broken body breaks in the middle.
const LAYER_BYTES: usize = 700 * 1024;

fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(n);
    out
}

// ---------------------------------------------------------------------------------------------
// The misbehaving upstream.

/// What the upstream does when a repository's layer blob is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Healthy,
    /// No answer for `SLOW`.
    Slow,
    /// The headers and half the body, then nothing for `SLOW`.
    StalledBody,
    ServerError,
    /// 429 with `Retry-After: 7`.
    Throttled,
    /// `Content-Length` of the whole layer, half of it sent, then the connection closed.
    Truncated,
    /// As many bytes as the layer has, but other bytes.
    WrongContent,
    /// 404 `BLOB_UNKNOWN`: the manifest names a blob the upstream does not have.
    Missing,
}

/// One image of the upstream: a manifest naming a config and one layer, all unique.
#[derive(Clone)]
struct UpstreamImage {
    manifest: bytes::Bytes,
    manifest_digest: String,
    config: bytes::Bytes,
    config_digest: String,
    layer: bytes::Bytes,
    layer_digest: String,
}

impl UpstreamImage {
    fn new() -> UpstreamImage {
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"fault-test": uuid::Uuid::new_v4().to_string()}},
            "rootfs": {"type": "layers", "diff_ids": []},
        }))
        .unwrap();
        let layer = random_bytes(LAYER_BYTES);
        let (config_digest, layer_digest) = (sha256(&config), sha256(&layer));
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
        }))
        .unwrap();
        UpstreamImage {
            manifest_digest: sha256(&manifest),
            manifest: manifest.into(),
            config: config.into(),
            config_digest,
            layer: layer.into(),
            layer_digest,
        }
    }
}

/// What the upstream serves and has been asked, shared with its handler.
#[derive(Default)]
struct UpstreamState {
    /// By repository (`faults/<stream>`).
    images: HashMap<String, UpstreamImage>,
    faults: Mutex<HashMap<String, Fault>>,
    /// Requests for each repository's layer blob.
    layer_requests: Mutex<HashMap<String, usize>>,
}

struct Upstream {
    host: String,
    state: Arc<UpstreamState>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Upstream {
    /// An upstream with one image per repository `faults/<stream>`, all healthy.
    async fn start(streams: &[&str]) -> Upstream {
        let images = streams.iter().map(|s| (format!("faults/{s}"), UpstreamImage::new())).collect();
        let state = Arc::new(UpstreamState { images, ..Default::default() });
        Self::serve_on("127.0.0.1:0", state).await
    }

    async fn serve_on(addr: &str, state: Arc<UpstreamState>) -> Upstream {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let app = axum::Router::new().fallback(answer).with_state(state.clone()).layer(axum::middleware::map_response(
            |mut r: Response| async move {
                // One request per connection: the portal never holds a pooled connection, so
                // closing the listener takes the upstream down for good.
                r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                r
            },
        ));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Upstream { host, state, server }
    }

    /// The port closed: nothing answers there any more.
    fn stop(&self) {
        self.server.abort();
    }

    /// The same upstream back on its port.
    async fn restart(&self) -> Upstream {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match tokio::net::TcpListener::bind(&self.host).await {
                Ok(l) => {
                    drop(l);
                    return Self::serve_on(&self.host, self.state.clone()).await;
                }
                Err(e) => {
                    assert!(Instant::now() < deadline, "the upstream's port {} stayed busy: {e}", self.host);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    fn set(&self, stream: &str, fault: Fault) {
        self.state.faults.lock().unwrap().insert(format!("faults/{stream}"), fault);
    }

    fn layer_requests(&self, stream: &str) -> usize {
        self.state.layer_requests.lock().unwrap().get(&format!("faults/{stream}")).copied().unwrap_or(0)
    }

    fn image(&self, stream: &str) -> &UpstreamImage {
        &self.state.images[&format!("faults/{stream}")]
    }
}

fn oci_error(status: StatusCode, code: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], json!({"errors": [{"code": code, "message": code}]}).to_string()).into_response()
}

/// The upstream's one handler: `/v2/`, manifests and blobs of `faults/<stream>`.
async fn answer(State(state): State<Arc<UpstreamState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    if path == "/v2/" || path == "/v2" {
        return (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{}").into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/") else { return oci_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN") };
    let parts: Vec<&str> = rest.split('/').collect();
    let [org, stream, kind, reference] = parts.as_slice() else { return oci_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN") };
    let repo = format!("{org}/{stream}");
    let Some(image) = state.images.get(&repo).cloned() else { return oci_error(StatusCode::NOT_FOUND, "NAME_UNKNOWN") };
    match *kind {
        "manifests" if *reference == "v1" || *reference == image.manifest_digest => (
            [
                (header::CONTENT_TYPE, OCI_MANIFEST),
                (header::HeaderName::from_static("docker-content-digest"), image.manifest_digest.as_str()),
            ],
            image.manifest.clone(),
        )
            .into_response(),
        "blobs" if *reference == image.config_digest => image.config.clone().into_response(),
        "blobs" if *reference == image.layer_digest => {
            *state.layer_requests.lock().unwrap().entry(repo.clone()).or_default() += 1;
            let fault = state.faults.lock().unwrap().get(&repo).copied().unwrap_or(Fault::Healthy);
            layer_answer(fault, image.layer).await
        }
        "manifests" => oci_error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN"),
        _ => oci_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
    }
}

async fn layer_answer(fault: Fault, layer: bytes::Bytes) -> Response {
    let half = layer.slice(..layer.len() / 2);
    let whole_length = [(header::CONTENT_LENGTH, layer.len().to_string())];
    match fault {
        Fault::Healthy => layer.into_response(),
        Fault::Slow => {
            tokio::time::sleep(SLOW).await;
            layer.into_response()
        }
        Fault::StalledBody => {
            let rest = layer.slice(layer.len() / 2..);
            let body = futures::stream::iter([Ok::<_, std::io::Error>(half)]).chain(futures::stream::once(async move {
                tokio::time::sleep(SLOW).await;
                Ok(rest)
            }));
            (whole_length, Body::from_stream(body)).into_response()
        }
        Fault::ServerError => oci_error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN"),
        Fault::Throttled => {
            let mut r = oci_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS");
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
            r
        }
        Fault::Truncated => {
            // Half the announced bytes, then the connection breaks.
            let body = futures::stream::iter([Ok(half)]).chain(futures::stream::once(async {
                tokio::time::sleep(MID_BODY_PAUSE).await;
                Err(std::io::Error::other("the upstream breaks off"))
            }));
            (whole_length, Body::from_stream(body)).into_response()
        }
        Fault::WrongContent => {
            let wrong = bytes::Bytes::from(layer.iter().map(|b| b ^ 0x5a).collect::<Vec<u8>>());
            let (first, rest) = (wrong.slice(..wrong.len() / 2), wrong.slice(wrong.len() / 2..));
            let body = futures::stream::iter([Ok::<_, std::io::Error>(first)]).chain(futures::stream::once(async move {
                tokio::time::sleep(MID_BODY_PAUSE).await;
                Ok(rest)
            }));
            (whole_length, Body::from_stream(body)).into_response()
        }
        Fault::Missing => oci_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
    }
}

// ---------------------------------------------------------------------------------------------
// The portal.

/// `imagestreams serve` (single-user, on loopback) allowed to reach the upstreams insecurely,
/// with a short registry timeout.
struct Portal {
    child: Child,
    base: String,
    data: PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Portal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A pull's answer; `body` is the error when the body broke off.
struct Pulled {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Result<bytes::Bytes, String>,
}

impl Pulled {
    fn code(&self) -> String {
        let body = self.body.as_ref().map(|b| serde_json::from_slice::<Value>(b).unwrap_or(Value::Null)).unwrap_or(Value::Null);
        body["errors"][0]["code"].as_str().unwrap_or_default().to_string()
    }

    fn describe(&self) -> String {
        let body = match &self.body {
            Ok(b) if b.len() > 400 => format!("{} bytes", b.len()),
            Ok(b) => String::from_utf8_lossy(b).into_owned(),
            Err(e) => format!("broke off: {e}"),
        };
        format!("{} {:?} {body}", self.status, self.headers)
    }
}

impl Portal {
    async fn start(upstreams: &[&str]) -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--registry-timeout", &format!("{}s", REGISTRY_TIMEOUT.as_secs()), "--data-dir"])
            .arg(&data)
            .env("RUST_LOG", "warn")
            .env_remove("IMAGESTREAMS_ADMIN_PASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for u in upstreams {
            cmd.args(["--allowed-registry", u, "--insecure-registry", u]);
        }
        let (child, host) = common::portal::spawn_serving(&mut cmd, dir.path());
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Portal { child, base: format!("http://{host}"), data, http, _dir: dir }
    }

    /// Imports `<upstream>/faults/<stream>:v1` into `default/<stream>:v1` (manifest and config
    /// only: the layer is not fetched).
    async fn import(&self, upstream: &Upstream, stream: &str) {
        let from = format!("{}/faults/{stream}:v1", upstream.host);
        let body = json!({"metadata": {"name": stream}, "spec": {"import": true, "images": [{"from": {"kind": "DockerImage", "name": from}, "to": {"name": "v1"}}]}});
        let res = self
            .http
            .post(format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamimports", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let v: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "import of {from}: {status} {v}");
        let image = &v["status"]["images"][0];
        assert_eq!(image["status"]["status"], "Success", "import of {from}: {v}");
        assert_eq!(image["image"]["metadata"]["name"], upstream.image(stream).manifest_digest.as_str(), "import of {from}");
        assert_eq!(upstream.layer_requests(stream), 0, "an import fetches the manifest and config, not the layers");
    }

    /// `GET /v2/default/<stream>/blobs/<digest>`, the body read to its end or its break.
    async fn pull_blob(&self, stream: &str, digest: &str) -> Pulled {
        let res = self.http.get(format!("{}/v2/default/{stream}/blobs/{digest}", self.base)).send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.map_err(|e| format!("{e:?}"));
        Pulled { status, headers, body }
    }

    /// `GET /v2/default/<stream>/manifests/v1`.
    async fn pull_manifest(&self, stream: &str) -> Pulled {
        let res = self
            .http
            .get(format!("{}/v2/default/{stream}/manifests/v1", self.base))
            .header(header::ACCEPT.as_str(), OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.map_err(|e| format!("{e:?}"));
        Pulled { status, headers, body }
    }

    /// Files under `<data-dir>/blobs` named for `digest` (final or partial).
    fn stored_files(&self, digest: &str) -> Vec<PathBuf> {
        let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
        let mut found = vec![];
        let mut dirs = vec![self.data.join("blobs")];
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.file_name().is_some_and(|n| n.to_string_lossy().contains(hex)) {
                    found.push(p);
                }
            }
        }
        found
    }

    /// Download spools left in `<data-dir>/spool`, waited for a moment (a failed download
    /// removes its spool right after telling its readers).
    async fn spools_left(&self) -> Vec<PathBuf> {
        let list = |dir: &Path| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .map(|d| {
                    d.flatten()
                        .map(|e| e.path())
                        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("pull-")))
                        .collect()
                })
                .unwrap_or_default()
        };
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let left = list(&self.data.join("spool"));
            if left.is_empty() || Instant::now() > deadline {
                return left;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the mirror to hold `digest` (it writes after the client got the last byte).
    async fn wait_mirrored(&self, digest: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.stored_files(digest).is_empty() {
            assert!(Instant::now() < deadline, "{digest} was not mirrored");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a fault must look like to the client.
enum Expect {
    /// An OCI error with this status and code (and `Retry-After` when given).
    Error(StatusCode, &'static str, Option<&'static str>),
    /// A 200 whose body breaks off before its end.
    BrokenBody,
}

#[track_caller]
fn assert_fault_answer(what: &str, pulled: &Pulled, expect: &Expect, layer: &[u8]) {
    match expect {
        Expect::Error(status, code, retry_after) => {
            assert_eq!(pulled.status, *status, "{what}: {}", pulled.describe());
            assert_eq!(pulled.code(), *code, "{what}: {}", pulled.describe());
            if let Some(after) = retry_after {
                let got = pulled.headers.get("retry-after").and_then(|v| v.to_str().ok());
                assert_eq!(got, Some(*after), "{what}: Retry-After: {}", pulled.describe());
            }
        }
        Expect::BrokenBody => {
            // The status may already be 200 when the upstream breaks; the body must not end.
            match &pulled.body {
                Err(_) => {}
                Ok(b) => panic!(
                    "{what}: the body ended normally ({} bytes, {}), where it must break off; status {}",
                    b.len(),
                    if b[..] == layer[..] { "the right bytes" } else { "NOT the layer" },
                    pulled.status
                ),
            }
        }
    }
}

/// The walk every fault gets: the pull fails as expected, nothing is stored or left spooled, a
/// second pull asks the upstream again and fails the same way; then, the upstream healthy, the
/// pull succeeds and is mirrored.
async fn fault_walk(portal: &Portal, upstream: &Upstream, stream: &str, fault: Fault, expect: Expect) {
    let layer = upstream.image(stream).layer.clone();
    let digest = upstream.image(stream).layer_digest.clone();
    upstream.set(stream, fault);
    let what = format!("{fault:?}");
    let pulled = portal.pull_blob(stream, &digest).await;
    assert_fault_answer(&format!("{what}, first pull"), &pulled, &expect, &layer);
    assert_eq!(upstream.layer_requests(stream), 1, "{what}: the upstream was asked once");
    assert!(portal.spools_left().await.is_empty(), "{what}: a spool was left behind");
    assert!(portal.stored_files(&digest).is_empty(), "{what}: something was stored: {:?}", portal.stored_files(&digest));
    let pulled = portal.pull_blob(stream, &digest).await;
    assert_fault_answer(&format!("{what}, second pull"), &pulled, &expect, &layer);
    assert_eq!(upstream.layer_requests(stream), 2, "{what}: a later pull asks the upstream again");
    assert!(portal.spools_left().await.is_empty(), "{what}: a spool was left behind");
    assert!(portal.stored_files(&digest).is_empty(), "{what}: something was stored: {:?}", portal.stored_files(&digest));
    // Nothing was poisoned: healthy again, the same pull succeeds and is mirrored. (The config
    // too: a blob smaller than one write once lost the race between the spool's writer and its
    // readers and broke off.)
    upstream.set(stream, Fault::Healthy);
    let config = upstream.image(stream).config.clone();
    let pulled = portal.pull_blob(stream, &upstream.image(stream).config_digest).await;
    assert!(
        pulled.status == StatusCode::OK && pulled.body.as_ref().is_ok_and(|b| *b == config),
        "{what}, the config: {}",
        pulled.describe()
    );
    let pulled = portal.pull_blob(stream, &digest).await;
    assert_eq!(pulled.status, StatusCode::OK, "{what}, healthy again: {}", pulled.describe());
    assert!(pulled.body.as_ref().is_ok_and(|b| b[..] == layer[..]), "{what}, healthy again: {}", pulled.describe());
    portal.wait_mirrored(&digest).await;
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test]
async fn upstream_500_is_unavailable() {
    let upstream = Upstream::start(&["error"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "error").await;
    fault_walk(&portal, &upstream, "error", Fault::ServerError, Expect::Error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", None)).await;
}

#[tokio::test]
async fn upstream_429_is_passed_on_with_its_retry_after() {
    let upstream = Upstream::start(&["throttled"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "throttled").await;
    let expect = Expect::Error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS", Some("7"));
    fault_walk(&portal, &upstream, "throttled", Fault::Throttled, expect).await;
}

#[tokio::test]
async fn blob_missing_upstream_is_blob_unknown() {
    let upstream = Upstream::start(&["missing"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "missing").await;
    fault_walk(&portal, &upstream, "missing", Fault::Missing, Expect::Error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", None)).await;
}

#[tokio::test]
async fn truncated_body_breaks_off_the_response() {
    let upstream = Upstream::start(&["truncated"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "truncated").await;
    fault_walk(&portal, &upstream, "truncated", Fault::Truncated, Expect::BrokenBody).await;
}

#[tokio::test]
async fn wrong_content_breaks_off_the_response() {
    let upstream = Upstream::start(&["wrong"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "wrong").await;
    fault_walk(&portal, &upstream, "wrong", Fault::WrongContent, Expect::BrokenBody).await;
}

#[tokio::test]
async fn body_stalled_beyond_the_timeout_breaks_off_the_response() {
    let upstream = Upstream::start(&["stalled"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "stalled").await;
    fault_walk(&portal, &upstream, "stalled", Fault::StalledBody, Expect::BrokenBody).await;
}

/// A slow upstream: the pull waits for the timeout and is then 503; meanwhile another
/// stream's pull, from a healthy upstream repository, is served at once.
#[tokio::test]
async fn slow_upstream_times_out_without_holding_up_other_pulls() {
    let upstream = Upstream::start(&["slow", "healthy"]).await;
    let portal = Arc::new(Portal::start(&[&upstream.host]).await);
    portal.import(&upstream, "slow").await;
    portal.import(&upstream, "healthy").await;
    upstream.set("slow", Fault::Slow);
    let slow_digest = upstream.image("slow").layer_digest.clone();
    let started = Instant::now();
    let slow = {
        let (portal, digest) = (portal.clone(), slow_digest.clone());
        tokio::spawn(async move { portal.pull_blob("slow", &digest).await })
    };
    while upstream.layer_requests("slow") == 0 {
        assert!(started.elapsed() < REGISTRY_TIMEOUT, "the slow pull never reached the upstream");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let healthy = upstream.image("healthy").clone();
    let pulled = portal.pull_blob("healthy", &healthy.layer_digest).await;
    assert_eq!(pulled.status, StatusCode::OK, "the healthy pull: {}", pulled.describe());
    assert!(pulled.body.as_ref().is_ok_and(|b| b[..] == healthy.layer[..]), "the healthy pull: {}", pulled.describe());
    assert!(!slow.is_finished(), "the healthy pull was served while the slow one hangs");
    let pulled = slow.await.unwrap();
    assert!(started.elapsed() >= REGISTRY_TIMEOUT, "the slow pull gave up after the timeout, not before: {:?}", started.elapsed());
    assert!(started.elapsed() < SLOW, "the slow pull gave up at the timeout");
    fault_walk_after_first(&portal, &upstream, "slow", &pulled, Expect::Error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", None)).await;
}

/// The rest of `fault_walk` once the first pull's answer is in.
async fn fault_walk_after_first(portal: &Portal, upstream: &Upstream, stream: &str, first: &Pulled, expect: Expect) {
    let layer = upstream.image(stream).layer.clone();
    let digest = upstream.image(stream).layer_digest.clone();
    assert_fault_answer("first pull", first, &expect, &layer);
    assert!(portal.spools_left().await.is_empty(), "a spool was left behind");
    assert!(portal.stored_files(&digest).is_empty(), "something was stored");
    let before = upstream.layer_requests(stream);
    let pulled = portal.pull_blob(stream, &digest).await;
    assert_fault_answer("second pull", &pulled, &expect, &layer);
    assert_eq!(upstream.layer_requests(stream), before + 1, "a later pull asks the upstream again");
    assert!(portal.stored_files(&digest).is_empty(), "something was stored");
    upstream.set(stream, Fault::Healthy);
    let pulled = portal.pull_blob(stream, &digest).await;
    assert!(pulled.body.as_ref().is_ok_and(|b| b[..] == layer[..]), "healthy again: {}", pulled.describe());
    portal.wait_mirrored(&digest).await;
}

/// The upstream's port closed: 503, nothing stored; back up, the pull succeeds and is mirrored;
/// down again, the mirror serves it.
#[tokio::test]
async fn upstream_down_is_unavailable_until_it_is_back() {
    let upstream = Upstream::start(&["down"]).await;
    let portal = Portal::start(&[&upstream.host]).await;
    portal.import(&upstream, "down").await;
    let image = upstream.image("down").clone();
    upstream.stop();
    // The import kept the manifest's record, not its bytes: the manifest is pulled through too.
    let pulled = portal.pull_manifest("down").await;
    let unavailable = Expect::Error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", None);
    assert_fault_answer("upstream down, the manifest", &pulled, &unavailable, &image.manifest);
    for attempt in ["first", "second"] {
        let pulled = portal.pull_blob("down", &image.layer_digest).await;
        let what = format!("upstream down, {attempt} pull");
        assert_fault_answer(&what, &pulled, &Expect::Error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", None), &image.layer);
        assert!(portal.spools_left().await.is_empty(), "{what}: a spool was left behind");
        assert!(portal.stored_files(&image.layer_digest).is_empty(), "{what}: something was stored");
    }
    let back = upstream.restart().await;
    let pulled = portal.pull_manifest("down").await;
    assert!(pulled.status == StatusCode::OK && pulled.body.as_ref().is_ok_and(|b| *b == image.manifest), "upstream back: the manifest");
    let pulled = portal.pull_blob("down", &image.config_digest).await;
    assert!(
        pulled.status == StatusCode::OK && pulled.body.as_ref().is_ok_and(|b| *b == image.config),
        "upstream back: the config: {}",
        pulled.describe()
    );
    let pulled = portal.pull_blob("down", &image.layer_digest).await;
    assert_eq!(pulled.status, StatusCode::OK, "upstream back: {}", pulled.describe());
    assert!(pulled.body.as_ref().is_ok_and(|b| b[..] == image.layer[..]), "upstream back: {}", pulled.describe());
    assert_eq!(back.layer_requests("down"), 1, "the pull after the upstream came back asked it");
    portal.wait_mirrored(&image.layer_digest).await;
    portal.wait_mirrored(&image.config_digest).await;
    back.stop();
    // Down again: the whole pull is served from the mirror.
    let pulled = portal.pull_manifest("down").await;
    assert!(pulled.status == StatusCode::OK && pulled.body.as_ref().is_ok_and(|b| *b == image.manifest), "mirrored: the manifest");
    let pulled = portal.pull_blob("down", &image.config_digest).await;
    assert!(pulled.status == StatusCode::OK && pulled.body.as_ref().is_ok_and(|b| *b == image.config), "mirrored: the config");
    let pulled = portal.pull_blob("down", &image.layer_digest).await;
    assert_eq!(pulled.status, StatusCode::OK, "mirrored, upstream down again: {}", pulled.describe());
    assert!(pulled.body.as_ref().is_ok_and(|b| b[..] == image.layer[..]), "mirrored, upstream down again");
    assert_eq!(back.layer_requests("down"), 1, "the mirror served it");
}

/// Clients that pull the same blob at once share one download, also when it fails: the
/// upstream is asked once, and every client's body breaks off.
#[tokio::test]
async fn clients_sharing_a_failing_download_all_see_it_fail() {
    let upstream = Upstream::start(&["shared"]).await;
    let portal = Arc::new(Portal::start(&[&upstream.host]).await);
    portal.import(&upstream, "shared").await;
    upstream.set("shared", Fault::WrongContent);
    let image = upstream.image("shared").clone();
    let pulls: Vec<_> = (0..3)
        .map(|_| {
            let (portal, digest) = (portal.clone(), image.layer_digest.clone());
            tokio::spawn(async move { portal.pull_blob("shared", &digest).await })
        })
        .collect();
    for (i, p) in pulls.into_iter().enumerate() {
        let pulled = p.await.unwrap();
        // A client that joined after the mismatch was found gets the plain 503.
        if pulled.status == StatusCode::SERVICE_UNAVAILABLE {
            assert_eq!(pulled.code(), "UNAVAILABLE", "client {i}: {}", pulled.describe());
        } else {
            assert_fault_answer(&format!("client {i}"), &pulled, &Expect::BrokenBody, &image.layer);
        }
    }
    assert_eq!(upstream.layer_requests("shared"), 1, "one download for every client");
    assert!(portal.spools_left().await.is_empty(), "a spool was left behind");
    assert!(portal.stored_files(&image.layer_digest).is_empty(), "something was stored");
}
