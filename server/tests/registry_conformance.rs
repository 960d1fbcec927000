//! OCI Distribution Specification conformance (issue 15, point 7): the four workflows of the
//! spec's conformance suite (opencontainers/distribution-spec, `conformance/01_pull_test.go`,
//! `02_push_test.go`, `03_discovery_test.go`, `04_management_test.go`), walked check by check
//! in our own harness: reqwest against the real `imagestreams` binary on a loopback port. Every
//! check is one assertion whose message starts with the suite's own title of the check, so a
//! failure names the check it broke. Setup and teardown steps are checked too, as the suite
//! checks them.
//!
//! Each workflow runs on its own fresh, single-user server (a loopback server without accounts
//! lets every request do everything); `all_four_workflows_in_order_with_registry_tokens` runs
//! them in the suite's order against one repository on a server with accounts, as the admin
//! with a bearer token from `/v2/token`, so what one workflow leaves behind meets the next.
//!
//! Repository names here are `<namespace>/<stream>`: the suite's `<name>` is
//! `default/conformance`, its cross-mount repository (`conformance-<uuid>`, one path segment, no
//! repository name this registry has) is `default/crossmount-<random>`.
//!
//! Where the suite accepts either of two behaviours, the harness asserts the one this registry
//! chose, so a change of behaviour is noticed: a monolithic `POST ?digest=` answers 201, a
//! mount from a readable repository 201, a mount without `from` 202 (no automatic content
//! discovery: the suite's `OCI_AUTOMATIC_CROSSMOUNT=false` variant), tag deletion 202, blob
//! deletion 202, referrers filtering applied (`OCI-Filters-Applied: artifactType`), a manifest
//! with no layers accepted (the suite only warns when it is not).
//!
//! Deliberate gaps, not applicable here:
//! - the suite's variants that skip their own setup and read what to pull from the environment
//!   (`OCI_TAG_NAME`, `OCI_MANIFEST_DIGEST`, `OCI_BLOB_DIGEST`, `OCI_TAG_LIST`): the harness
//!   always pushes its own content;
//! - `OCI-Chunk-Min-Length` (the suite rebuilds its chunked blob when a registry demands larger
//!   chunks): this registry takes chunks of any size and does not send the header; the harness
//!   asserts it is absent;
//! - the suite's `OCI_DELETE_MANIFEST_BEFORE_BLOBS=false` teardown order: the default order
//!   (manifests first) is walked.

mod common;

use common::registry::sha256;
use reqwest::header::{HeaderMap, HeaderName};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_imagestreams");
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const OCTETS: &str = "application/octet-stream";
/// The suite's repository (`<name>`).
const NAME: &str = "default/conformance";
/// The suite's tag of the pulled and the managed manifest.
const TEST_TAG: &str = "tagtest0";
/// A manifest reference that is no valid tag (the suite's `nonexistentManifest`).
const NONEXISTENT_MANIFEST: &str = ".INVALID_MANIFEST_NAME";
/// The error codes of the spec's table (an error body must use one of them).
const ERROR_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
];
const ADMIN_PASSWORD: &str = "conformance-admin-password-1";

/// `n` random bytes.
fn random_bytes(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        out.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    out.truncate(n);
    out
}

// ---------------------------------------------------------------------------------------------
// The server under test.

/// `imagestreams serve` on a free loopback port with its own data directory; killed on drop.
struct Server {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// A single-user server (no accounts: every loopback request may do everything), or with
    /// `accounts` an administrator `admin` and challenges on `/v2/`.
    fn start(accounts: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--allowed-registry", "127.0.0.1:1", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .env_remove("IMAGESTREAMS_ADMIN_PASSWORD")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if accounts {
            cmd.env("IMAGESTREAMS_ADMIN_PASSWORD", ADMIN_PASSWORD);
        }
        let (child, host) = common::portal::spawn_serving(&mut cmd, dir.path());
        Server { child, base: format!("http://{host}"), _dir: dir }
    }
}

// ---------------------------------------------------------------------------------------------
// The client: the suite's `reggie` requests, as plain reqwest.

/// One answer, read whole.
struct Answer {
    method: Method,
    path: String,
    status: StatusCode,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
    }

    /// `Location` as a path (an absolute URL loses its scheme and host, as reggie's
    /// `GetRelativeLocation` does).
    fn location(&self) -> String {
        let l = self.header("location");
        match reqwest::Url::parse(l) {
            Ok(u) => match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            },
            Err(_) => l.to_string(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn is_2xx(&self) -> bool {
        self.status.is_success()
    }

    /// The first error code of an OCI error body.
    fn error_code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_string()
    }

    /// What a failed check prints.
    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(600).collect();
        format!("{} {} answered {}; headers {:?}; body {body}", self.method, self.path, self.status, self.headers)
    }
}

/// Asserts one check of the suite; the message is the check's title and the answer.
#[track_caller]
fn check(ok: bool, title: &str, answer: &Answer) {
    assert!(ok, "conformance check failed: {title}\n  {}", answer.describe());
}

struct Client {
    http: reqwest::Client,
    base: String,
    /// The suite's `<name>`.
    name: String,
    /// A registry token (the run with accounts).
    bearer: Option<String>,
}

impl Client {
    fn new(server: &Server) -> Client {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Client { http, base: server.base.clone(), name: NAME.to_string(), bearer: None }
    }

    /// A request to `path` (`<name>` replaced by the repository), with headers and a body.
    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Answer {
        let path = path.replace("<name>", &self.name);
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(HeaderName::from_bytes(k.as_bytes()).unwrap(), *v);
        }
        if let Some(token) = &self.bearer {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.bytes().await.unwrap_or_else(|e| panic!("{method} {path}: reading the body: {e}"));
        Answer { method, path, status, headers, body }
    }

    async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, &[], None).await
    }

    async fn head(&self, path: &str) -> Answer {
        self.send(Method::HEAD, path, &[], None).await
    }

    async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, &[], None).await
    }

    async fn get_manifest(&self, method: Method, reference: &str) -> Answer {
        self.send(method, &format!("/v2/<name>/manifests/{reference}"), &[("accept", OCI_MANIFEST)], None).await
    }

    async fn put_manifest(&self, reference: &str, media_type: &str, content: &[u8]) -> Answer {
        self.send(Method::PUT, &format!("/v2/<name>/manifests/{reference}"), &[("content-type", media_type)], Some(content.to_vec())).await
    }

    /// The suite's "populate registry with test blob": `POST` a session, `PUT` the content with
    /// its digest.
    async fn push_blob(&self, blob: &Blob) -> Answer {
        let started = self.send(Method::POST, "/v2/<name>/blobs/uploads/", &[], None).await;
        check(started.status == StatusCode::ACCEPTED, "POST to open an upload session should yield 202", &started);
        self.put_upload(&started.location(), &blob.digest, Some(&blob.content)).await
    }

    /// `PUT <location>?digest=…` with a body (or none, `Content-Length: 0`).
    async fn put_upload(&self, location: &str, digest: &str, content: Option<&[u8]>) -> Answer {
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let len = content.map_or(0, <[u8]>::len).to_string();
        let body = content.map(<[u8]>::to_vec).unwrap_or_default();
        self.send(Method::PUT, &url, &[("content-type", OCTETS), ("content-length", &len)], Some(body)).await
    }

    async fn tag_list(&self, query: &str) -> (Answer, Vec<String>) {
        let a = self.get(&format!("/v2/<name>/tags/list{query}")).await;
        let tags =
            a.json()["tags"].as_array().map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()).unwrap_or_default();
        (a, tags)
    }
}

/// 2xx, or 405 (deletion not allowed): what the suite's teardown accepts for manifests.
fn deleted_or_refused(a: &Answer) -> bool {
    a.is_2xx() || a.status == StatusCode::METHOD_NOT_ALLOWED
}

/// 2xx, 404 or 405: what the suite's teardown accepts for blobs.
fn deleted_gone_or_refused(a: &Answer) -> bool {
    deleted_or_refused(a) || a.status == StatusCode::NOT_FOUND
}

// ---------------------------------------------------------------------------------------------
// The suite's test content (its `setup.go`, rebuilt: same shapes, our own bytes).

#[derive(Clone)]
struct Blob {
    content: Vec<u8>,
    digest: String,
}

impl Blob {
    fn of(content: Vec<u8>) -> Blob {
        let digest = sha256(&content);
        Blob { content, digest }
    }

    fn descriptor(&self, media_type: &str) -> Value {
        json!({"mediaType": media_type, "digest": self.digest, "size": self.content.len()})
    }

    /// A JSON document, pretty-printed as the suite's `MarshalIndent` does.
    fn json(v: &Value) -> Blob {
        Blob::of(serde_json::to_vec_pretty(v).unwrap())
    }
}

struct Fixtures {
    /// One image config per workflow (0 pull, 1 push, 2 discovery, 3 management, 4 referrers'
    /// subject), each unique by a random author.
    configs: Vec<Blob>,
    /// One image manifest per config, all with the one layer.
    manifests: Vec<Blob>,
    layer: Blob,
    empty_layer_manifest: Blob,
    /// The streamed blob (42 random bytes).
    blob_a: Blob,
    /// The chunked blob and its two chunks.
    blob_b: Blob,
    chunk1: Vec<u8>,
    chunk2: Vec<u8>,
    empty_json: Blob,
    ref_blob_a: Blob,
    ref_blob_b: Blob,
    artifact_type_a: String,
    refs_a_config: Blob,
    refs_a_layer: Blob,
    refs_b_config: Blob,
    refs_b_layer: Blob,
    /// An artifact whose subject (manifests[3]) is not pushed while the referrers are listed.
    refs_c_layer: Blob,
    refs_index: Blob,
    /// The annotation each referrer of manifests[4] carries.
    annotations: HashMap<String, String>,
    crossmount: String,
}

const ANNOTATION: &str = "org.example.conformance.test";

impl Fixtures {
    fn new() -> Fixtures {
        let configs: Vec<Blob> = (0..5)
            .map(|_| {
                Blob::json(&json!({
                    "architecture": "amd64",
                    "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": []},
                    "author": uuid::Uuid::new_v4().simple().to_string(),
                }))
            })
            .collect();
        // The registry never looks inside a layer: random bytes stand for a tarball.
        let layer = Blob::of(random_bytes(180));
        use base64::Engine;
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        // The config descriptor carries `data` and a field the spec does not define: a registry
        // must keep unknown fields (the digest covers them).
        let config_descriptor = |c: &Blob| {
            let mut d = c.descriptor(OCI_CONFIG);
            d["data"] = b64(&c.content).into();
            d["newUnspecifiedField"] = b64(b"hello world").into();
            d
        };
        let manifests: Vec<Blob> = configs
            .iter()
            .map(|c| {
                Blob::json(&json!({
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": config_descriptor(c),
                    "layers": [layer.descriptor("application/vnd.oci.image.layer.v1.tar+gzip")],
                }))
            })
            .collect();
        // No `mediaType` field: the Content-Type says what it is.
        let empty_layer_manifest = Blob::json(&json!({"schemaVersion": 2, "config": config_descriptor(&configs[1]), "layers": []}));
        let blob_b = Blob::of(random_bytes(42));
        let (chunk1, chunk2) = (blob_b.content[..22].to_vec(), blob_b.content[22..].to_vec());
        let empty_json = Blob::of(b"{}".to_vec());
        let ref_blob_a = Blob::of(b"conformance artifact A: a bagel".to_vec());
        let ref_blob_b = Blob::of(b"conformance artifact B: a croissant".to_vec());
        let artifact_type_a = "application/vnd.example.conformance.bagel".to_string();
        let artifact_type_b = "application/vnd.example.conformance.croissant";
        let subject = |m: &Blob| m.descriptor(OCI_MANIFEST);
        let config_artifact = |t: &str, blob: &Blob, note: &str| {
            Blob::json(&json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": blob.descriptor(t),
                "subject": subject(&manifests[4]),
                "layers": [empty_json.descriptor(OCI_EMPTY)],
                "annotations": {ANNOTATION: note},
            }))
        };
        let layer_artifact = |t: &str, blob: &Blob, subject_of: &Blob, note: Option<&str>| {
            let mut m = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": t,
                "config": empty_json.descriptor(OCI_EMPTY),
                "subject": subject(subject_of),
                "layers": [blob.descriptor(t)],
            });
            if let Some(note) = note {
                m["annotations"] = json!({ANNOTATION: note});
            }
            Blob::json(&m)
        };
        let refs_a_config = config_artifact(&artifact_type_a, &ref_blob_a, "test config a");
        let refs_b_config = config_artifact(artifact_type_b, &ref_blob_b, "test config b");
        let refs_a_layer = layer_artifact(&artifact_type_a, &ref_blob_a, &manifests[4], Some("test layer a"));
        let refs_b_layer = layer_artifact(artifact_type_b, &ref_blob_b, &manifests[4], Some("test layer b"));
        let refs_c_layer = layer_artifact(artifact_type_b, &ref_blob_b, &manifests[3], None);
        let refs_index = Blob::json(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "artifactType": "application/vnd.example.conformance.stand",
            "manifests": [refs_a_config.descriptor(OCI_MANIFEST), refs_a_layer.descriptor(OCI_MANIFEST)],
            "subject": subject(&manifests[4]),
            "annotations": {ANNOTATION: "test index"},
        }));
        let annotations = HashMap::from([
            (refs_a_config.digest.clone(), "test config a".to_string()),
            (refs_b_config.digest.clone(), "test config b".to_string()),
            (refs_a_layer.digest.clone(), "test layer a".to_string()),
            (refs_b_layer.digest.clone(), "test layer b".to_string()),
            (refs_index.digest.clone(), "test index".to_string()),
        ]);
        Fixtures {
            configs,
            manifests,
            layer,
            empty_layer_manifest,
            blob_a: Blob::of(random_bytes(42)),
            blob_b,
            chunk1,
            chunk2,
            empty_json,
            ref_blob_a,
            ref_blob_b,
            artifact_type_a,
            refs_a_config,
            refs_a_layer,
            refs_b_config,
            refs_b_layer,
            refs_c_layer,
            refs_index,
            annotations,
            crossmount: format!("default/crossmount-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]),
        }
    }

    /// A digest nothing holds (the suite's `dummyDigest`).
    fn dummy_digest() -> String {
        sha256(b"hello world")
    }
}

// ---------------------------------------------------------------------------------------------
// 01: Pull.

async fn pull_workflow(c: &Client, f: &Fixtures) {
    // Setup.
    for blob in [&f.configs[0], &f.configs[1], &f.layer] {
        let a = c.push_blob(blob).await;
        check(a.is_2xx(), "Pull setup: populate registry with test blob/layer", &a);
    }
    let a = c.put_manifest(TEST_TAG, OCI_MANIFEST, &f.manifests[0].content).await;
    check(a.is_2xx(), "Pull setup: populate registry with test manifest (by tag)", &a);
    let a = c.put_manifest(&f.manifests[1].digest, OCI_MANIFEST, &f.manifests[1].content).await;
    check(a.is_2xx(), "Pull setup: populate registry with test manifest (by digest)", &a);

    // Pull blobs.
    let dummy = Fixtures::dummy_digest();
    let a = c.head(&format!("/v2/<name>/blobs/{dummy}")).await;
    check(a.status == StatusCode::NOT_FOUND, "HEAD request to nonexistent blob should result in 404 response", &a);
    let a = c.head(&format!("/v2/<name>/blobs/{}", f.configs[0].digest)).await;
    check(a.status == StatusCode::OK, "HEAD request to existing blob should yield 200", &a);
    let d = a.header("docker-content-digest");
    check(d.is_empty() || d == f.configs[0].digest, "HEAD request to existing blob should yield 200 (Docker-Content-Digest)", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{dummy}")).await;
    check(a.status == StatusCode::NOT_FOUND, "GET nonexistent blob should result in 404 response", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", f.configs[0].digest)).await;
    check(a.status == StatusCode::OK, "GET request to existing blob URL should yield 200", &a);
    check(a.body[..] == f.configs[0].content[..], "GET request to existing blob URL should yield 200 (the blob's bytes)", &a);

    // Pull manifests.
    let a = c.get_manifest(Method::HEAD, NONEXISTENT_MANIFEST).await;
    check(a.status == StatusCode::NOT_FOUND, "HEAD request to nonexistent manifest should return 404", &a);
    for (i, m) in f.manifests[..2].iter().enumerate() {
        let a = c.get_manifest(Method::HEAD, &m.digest).await;
        let title = format!("HEAD request to manifest[{i}] path (digest) should yield 200 response");
        check(a.status == StatusCode::OK, &title, &a);
        let d = a.header("docker-content-digest");
        check(d.is_empty() || d == m.digest, &format!("{title} (Docker-Content-Digest)"), &a);
    }
    let a = c.get_manifest(Method::HEAD, TEST_TAG).await;
    check(a.status == StatusCode::OK, "HEAD request to manifest path (tag) should yield 200 response", &a);
    let d = a.header("docker-content-digest");
    check(
        d.is_empty() || d == f.manifests[0].digest,
        "HEAD request to manifest path (tag) should yield 200 response (Docker-Content-Digest)",
        &a,
    );
    let a = c.get_manifest(Method::GET, NONEXISTENT_MANIFEST).await;
    check(a.status == StatusCode::NOT_FOUND, "GET nonexistent manifest should return 404", &a);
    for (i, m) in f.manifests[..2].iter().enumerate() {
        let a = c.get_manifest(Method::GET, &m.digest).await;
        check(a.status == StatusCode::OK, &format!("GET request to manifest[{i}] path (digest) should yield 200 response"), &a);
        check(
            a.body[..] == m.content[..],
            &format!("GET request to manifest[{i}] path (digest) should yield 200 response (the bytes pushed)"),
            &a,
        );
    }
    let a = c.get_manifest(Method::GET, TEST_TAG).await;
    check(a.status == StatusCode::OK, "GET request to manifest path (tag) should yield 200 response", &a);

    // Error codes.
    let a = c
        .send(Method::GET, "/v2/<name>/manifests/sha256:totallywrong", &[("content-type", OCI_MANIFEST)], Some(b"blablabla".to_vec()))
        .await;
    let title = "400 response body should contain OCI-conforming JSON message";
    check(a.status == StatusCode::BAD_REQUEST || a.status == StatusCode::NOT_FOUND, title, &a);
    if a.status == StatusCode::BAD_REQUEST {
        check(ERROR_CODES.contains(&a.error_code().as_str()), title, &a);
    }

    // Teardown: manifests before blobs (the suite's default).
    for (i, m) in f.manifests[..2].iter().enumerate() {
        let a = c.delete(&format!("/v2/<name>/manifests/{}", m.digest)).await;
        check(deleted_or_refused(&a), &format!("Delete manifest[{i}] created in setup"), &a);
    }
    for (what, blob) in [("config[0] blob", &f.configs[0]), ("config[1] blob", &f.configs[1]), ("layer blob", &f.layer)] {
        let a = c.delete(&format!("/v2/<name>/blobs/{}", blob.digest)).await;
        check(deleted_gone_or_refused(&a), &format!("Delete {what} created in setup"), &a);
    }
}

// ---------------------------------------------------------------------------------------------
// 02: Push.

async fn push_workflow(c: &Client, f: &Fixtures) {
    // Blob Upload Streamed.
    let a = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[], None).await;
    check(!a.header("location").is_empty(), "PATCH request with blob in body should yield 202 response (POST gives a Location)", &a);
    let a = c.send(Method::PATCH, &a.location(), &[("content-type", OCTETS)], Some(f.blob_a.content.clone())).await;
    check(a.status == StatusCode::ACCEPTED, "PATCH request with blob in body should yield 202 response", &a);
    let a = c.put_upload(&a.location(), &f.blob_a.digest, None).await;
    check(a.status == StatusCode::CREATED, "PUT request to session URL with digest should yield 201 response", &a);
    check(!a.header("location").is_empty(), "PUT request to session URL with digest should yield 201 response (Location)", &a);

    // Blob Upload Monolithic.
    let dummy = Fixtures::dummy_digest();
    let a = c.get(&format!("/v2/<name>/blobs/{dummy}")).await;
    check(a.status == StatusCode::NOT_FOUND, "GET nonexistent blob should result in 404 response", &a);
    let cfg = &f.configs[1];
    let len = cfg.content.len().to_string();
    let a = c
        .send(
            Method::POST,
            &format!("/v2/<name>/blobs/uploads/?digest={}", cfg.digest),
            &[("content-length", &len), ("content-type", OCTETS)],
            Some(cfg.content.clone()),
        )
        .await;
    let title = "POST request with digest and blob should yield a 201 or 202";
    check(!a.header("location").is_empty(), title, &a);
    // Either is conformant; this registry stores a monolithic upload at once.
    check(a.status == StatusCode::CREATED, title, &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", cfg.digest)).await;
    check(a.status == StatusCode::OK, "GET request to blob URL from prior request should yield 200 or 404 based on response code", &a);
    let a = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[], None).await;
    check(a.status == StatusCode::ACCEPTED, "POST request should yield a session ID", &a);
    let a = c.put_upload(&a.location(), &cfg.digest, Some(&cfg.content)).await;
    check(!a.header("location").is_empty(), "PUT upload of a blob should yield a 201 Response (Location)", &a);
    check(a.status == StatusCode::CREATED, "PUT upload of a blob should yield a 201 Response", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", cfg.digest)).await;
    check(a.status == StatusCode::OK, "GET request to existing blob should yield 200 response", &a);
    let a = c.push_blob(&f.layer).await;
    check(!a.header("location").is_empty(), "PUT upload of a layer blob should yield a 201 Response (Location)", &a);
    check(a.status == StatusCode::CREATED, "PUT upload of a layer blob should yield a 201 Response", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", f.layer.digest)).await;
    check(a.status == StatusCode::OK, "GET request to existing layer should yield 200 response", &a);

    // Blob Upload Chunked.
    let (len1, len2) = (f.chunk1.len(), f.chunk2.len());
    let range1 = format!("0-{}", len1 - 1);
    let range2 = format!("{len1}-{}", len1 + len2 - 1);
    let a = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[("content-length", "0")], None).await;
    check(!a.header("location").is_empty(), "Out-of-order blob upload should return 416 (POST gives a Location)", &a);
    check(a.header("oci-chunk-min-length").is_empty(), "Out-of-order blob upload should return 416 (no minimum chunk length)", &a);
    let a = c
        .send(
            Method::PATCH,
            &a.location(),
            &[("content-type", OCTETS), ("content-length", &len2.to_string()), ("content-range", &range2)],
            Some(f.chunk2.clone()),
        )
        .await;
    check(a.status == StatusCode::RANGE_NOT_SATISFIABLE, "Out-of-order blob upload should return 416", &a);
    let prev = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[("content-length", "0")], None).await;
    check(!prev.header("location").is_empty(), "PATCH request with first chunk should return 202 (POST gives a Location)", &prev);
    let chunk1_headers = [("content-type", OCTETS), ("content-length", &len1.to_string()), ("content-range", &range1)];
    let a = c.send(Method::PATCH, &prev.location(), &chunk1_headers, Some(f.chunk1.clone())).await;
    check(a.status == StatusCode::ACCEPTED, "PATCH request with first chunk should return 202", &a);
    check(a.header("range") == range1, "PATCH request with first chunk should return 202 (Range)", &a);
    let a = c.send(Method::PATCH, &prev.location(), &chunk1_headers, Some(f.chunk1.clone())).await;
    check(a.status == StatusCode::RANGE_NOT_SATISFIABLE, "Retry previous blob chunk should return 416", &a);
    let a = c.get(&prev.location()).await;
    let title = "Get on stale blob upload should return 204 with a range and location";
    check(a.status == StatusCode::NO_CONTENT, title, &a);
    check(!a.header("location").is_empty(), title, &a);
    check(a.header("range") == range1, title, &a);
    let a = c
        .send(
            Method::PATCH,
            &a.location(),
            &[("content-length", &len2.to_string()), ("content-range", &range2), ("content-type", OCTETS)],
            Some(f.chunk2.clone()),
        )
        .await;
    let title = "PATCH request with second chunk should return 202";
    check(a.status == StatusCode::ACCEPTED, title, &a);
    check(a.header("range") == format!("0-{}", f.blob_b.content.len() - 1), title, &a);
    check(!a.header("location").is_empty(), title, &a);
    let a = c.put_upload(&a.location(), &f.blob_b.digest, None).await;
    check(a.status == StatusCode::CREATED, "PUT request with digest should return 201", &a);
    check(!a.header("location").is_empty(), "PUT request with digest should return 201 (Location)", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", f.blob_b.digest)).await;
    check(
        a.status == StatusCode::OK && a.body[..] == f.blob_b.content[..],
        "PUT request with digest should return 201 (the chunks joined)",
        &a,
    );

    // Cross-Repository Blob Mount.
    let cross = &f.crossmount;
    let a = c.send(Method::POST, &format!("/v2/{cross}/blobs/uploads/?mount={dummy}"), &[], None).await;
    let title = "Cross-mounting of a blob without the from argument should yield session id";
    check(a.status == StatusCode::ACCEPTED, title, &a);
    check(!a.header("location").is_empty(), title, &a);
    let a = c.send(Method::POST, &format!("/v2/{cross}/blobs/uploads/?mount={}&from={}", f.blob_a.digest, c.name), &[], None).await;
    // 201 or 202 are both conformant; the caller may read the source here, so it is mounted.
    check(a.status == StatusCode::CREATED, "POST request to mount another repository's blob should return 201 or 202", &a);
    let title = "GET request to test digest within cross-mount namespace should return 200";
    check(a.location() == format!("/v2/{cross}/blobs/{}", f.blob_a.digest), title, &a);
    let a = c.get(&a.location()).await;
    check(a.status == StatusCode::OK, title, &a);
    // No automatic content discovery (the suite's `OCI_AUTOMATIC_CROSSMOUNT=false`): a mount
    // without `from` opens a session.
    let a = c.send(Method::POST, &format!("/v2/{cross}/blobs/uploads/?mount={}", f.blob_a.digest), &[], None).await;
    check(
        a.status == StatusCode::ACCEPTED,
        "Cross-mounting without from, and automatic content discovery disabled should return a 202",
        &a,
    );
    check(
        a.location().starts_with(&format!("/v2/{cross}/blobs/uploads/")),
        "Cross-mounting of nonexistent blob should yield session id",
        &a,
    );

    // Manifest Upload.
    let a = c.get_manifest(Method::GET, NONEXISTENT_MANIFEST).await;
    check(a.status == StatusCode::NOT_FOUND, "GET nonexistent manifest should return 404", &a);
    for i in 0..4 {
        let a = c.put_manifest(&format!("test{i}"), OCI_MANIFEST, &f.manifests[1].content).await;
        check(!a.header("location").is_empty(), "PUT should accept a manifest upload (Location)", &a);
        check(a.status == StatusCode::CREATED, "PUT should accept a manifest upload", &a);
    }
    let a = c.put_manifest("emptylayer", OCI_MANIFEST, &f.empty_layer_manifest.content).await;
    // The suite only warns when this is refused; this registry takes it.
    check(a.status == StatusCode::CREATED, "Registry should accept a manifest upload with no layers", &a);
    check(!a.header("location").is_empty(), "Registry should accept a manifest upload with no layers (Location)", &a);
    let a = c.get_manifest(Method::GET, &f.manifests[1].digest).await;
    check(a.status == StatusCode::OK, "GET request to manifest URL (digest) should yield 200 response", &a);

    // Teardown.
    let a = c.delete(&format!("/v2/<name>/manifests/{}", f.manifests[1].digest)).await;
    check(deleted_or_refused(&a), "Delete manifest created in tests", &a);
    let a = c.delete(&format!("/v2/<name>/manifests/{}", f.empty_layer_manifest.digest)).await;
    check(deleted_or_refused(&a), "Delete manifest created in tests (the one with no layers)", &a);
    let a = c.delete(&format!("/v2/<name>/blobs/{}", cfg.digest)).await;
    check(deleted_gone_or_refused(&a), "Delete config blob created in tests", &a);
    let a = c.delete(&format!("/v2/<name>/blobs/{}", f.layer.digest)).await;
    check(deleted_gone_or_refused(&a), "Delete layer blob created in setup", &a);
}

// ---------------------------------------------------------------------------------------------
// 03: Content discovery.

async fn discovery_workflow(c: &Client, f: &Fixtures) {
    // Setup.
    for blob in [&f.configs[2], &f.layer] {
        let a = c.push_blob(blob).await;
        check(a.is_2xx(), "Content discovery setup: populate registry with test blob/layer", &a);
    }
    for i in 0..4 {
        for tag in [format!("test{i}"), format!("TEST{i}")] {
            let a = c.put_manifest(&tag, OCI_MANIFEST, &f.manifests[2].content).await;
            check(a.is_2xx(), "Populate registry with test tags", &a);
        }
    }
    let (a, _) = c.tag_list("").await;
    check(a.status == StatusCode::OK, "Populate registry with test tags (list)", &a);

    // References setup.
    let title = "References setup";
    assert_eq!(f.empty_json.digest, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "{title}: empty JSON");
    for blob in [&f.empty_json, &f.ref_blob_a] {
        let a = c.push_blob(blob).await;
        check(a.is_2xx(), title, &a);
    }
    let subject4 = f.manifests[4].digest.as_str();
    for (m, media_type) in [(&f.refs_a_config, OCI_MANIFEST), (&f.refs_a_layer, OCI_MANIFEST), (&f.refs_index, OCI_INDEX)] {
        let a = c.put_manifest(&m.digest, media_type, &m.content).await;
        check(a.is_2xx(), &format!("{title}: a referrer pushed before its subject"), &a);
        check(a.header("oci-subject") == subject4, &format!("{title}: OCI-Subject"), &a);
    }
    for blob in [&f.configs[4], &f.layer] {
        let a = c.push_blob(blob).await;
        check(a.is_2xx(), title, &a);
    }
    let a = c.put_manifest(TEST_TAG, OCI_MANIFEST, &f.manifests[4].content).await;
    check(a.is_2xx(), &format!("{title}: the subject"), &a);
    let a = c.push_blob(&f.ref_blob_b).await;
    check(a.is_2xx(), title, &a);
    for m in [&f.refs_b_config, &f.refs_b_layer] {
        let a = c.put_manifest(&m.digest, OCI_MANIFEST, &m.content).await;
        check(a.is_2xx(), &format!("{title}: a referrer pushed after its subject"), &a);
        check(a.header("oci-subject") == subject4, &format!("{title}: OCI-Subject"), &a);
    }
    let a = c.put_manifest(&f.refs_c_layer.digest, OCI_MANIFEST, &f.refs_c_layer.content).await;
    check(a.is_2xx(), &format!("{title}: a referrer of a subject never pushed"), &a);
    check(a.header("oci-subject") == f.manifests[3].digest, &format!("{title}: OCI-Subject"), &a);

    // Listing tags.
    let (a, tags) = c.tag_list("").await;
    let title = "GET request to list tags should yield 200 response and be in sorted order";
    check(a.status == StatusCode::OK, title, &a);
    let mut lexical = tags.clone();
    lexical.sort_by_key(|t| t.to_lowercase());
    let mut ascii = tags.clone();
    ascii.sort();
    check(tags == lexical || tags == ascii, title, &a);
    check(tags.len() >= 9, &format!("{title} (every tag pushed)"), &a);
    let num = tags.len() / 2;
    let (a, page) = c.tag_list(&format!("?n={num}")).await;
    let title = "GET number of tags should be limitable by `n` query parameter";
    check(a.status == StatusCode::OK, title, &a);
    check(page.len() == num, title, &a);
    let last = page[num - 1].clone();
    let (a, next) = c.tag_list(&format!("?n={num}&last={last}")).await;
    let title = "GET start of tag is set by `last` query parameter";
    check(a.status == StatusCode::OK, title, &a);
    check(next.len() <= num && !next.contains(&last), title, &a);
    check(next.first().is_some_and(|t| *t == tags[num]), &format!("{title} (the page after `last`)"), &a);

    // Listing referrers.
    let index_of = |a: &Answer| -> Vec<Value> { a.json()["manifests"].as_array().cloned().unwrap_or_default() };
    let dummy = Fixtures::dummy_digest();
    let a = c.get(&format!("/v2/<name>/referrers/{dummy}")).await;
    let title = "GET request to nonexistent blob should result in empty 200 response";
    check(a.status == StatusCode::OK, title, &a);
    check(a.header("content-type") == OCI_INDEX, title, &a);
    check(a.json().is_object() && index_of(&a).is_empty(), title, &a);
    let annotated = |a: &Answer, m: &[Value]| {
        m.iter().all(|d| {
            let notes = d["annotations"].as_object().cloned().unwrap_or_default();
            let digest = d["digest"].as_str().unwrap_or_default();
            notes.len() == 1 && notes.get(ANNOTATION).and_then(Value::as_str) == f.annotations.get(digest).map(String::as_str)
        }) || {
            check(false, "referrers carry their annotations", a);
            false
        }
    };
    let a = c.get(&format!("/v2/<name>/referrers/{subject4}")).await;
    let title = "GET request to existing blob should yield 200";
    check(a.status == StatusCode::OK, title, &a);
    check(a.header("content-type") == OCI_INDEX, title, &a);
    let m = index_of(&a);
    check(m.len() == 5, title, &a);
    check(m[0]["digest"] != m[1]["digest"], title, &a);
    annotated(&a, &m);
    let a = c.get(&format!("/v2/<name>/referrers/{subject4}?artifactType={}", f.artifact_type_a)).await;
    let title = "GET request to existing blob with filter should yield 200";
    check(a.status == StatusCode::OK, title, &a);
    check(a.header("content-type") == OCI_INDEX, title, &a);
    // Filtering is implemented: the header says so and two referrers are of the type.
    check(a.header("oci-filters-applied") == "artifactType", title, &a);
    let m = index_of(&a);
    check(m.len() == 2, title, &a);
    annotated(&a, &m);
    let a = c.get(&format!("/v2/<name>/referrers/{}", f.manifests[3].digest)).await;
    let title = "GET request to missing manifest should yield 200";
    check(a.status == StatusCode::OK, title, &a);
    check(a.header("content-type") == OCI_INDEX, title, &a);
    let m = index_of(&a);
    check(m.len() == 1 && m[0]["digest"] == f.refs_c_layer.digest.as_str(), title, &a);

    // Teardown.
    let references = [
        &f.refs_index,
        &f.manifests[2],
        &f.manifests[4],
        &f.refs_a_config,
        &f.refs_a_layer,
        &f.refs_b_config,
        &f.refs_b_layer,
        &f.refs_c_layer,
    ];
    for m in references {
        let a = c.delete(&format!("/v2/<name>/manifests/{}", m.digest)).await;
        check(deleted_gone_or_refused(&a), "Delete created manifest & associated tags", &a);
    }
    let a = c.delete(&format!("/v2/<name>/blobs/{}", f.configs[2].digest)).await;
    check(deleted_gone_or_refused(&a), "Delete config blob created in tests", &a);
    let a = c.delete(&format!("/v2/<name>/blobs/{}", f.layer.digest)).await;
    check(deleted_gone_or_refused(&a), "Delete layer blob created in setup", &a);
    // References teardown: the manifests again (gone by now), then their blobs.
    for m in [&f.refs_index, &f.refs_a_config, &f.refs_a_layer, &f.manifests[4], &f.refs_b_config, &f.refs_b_layer] {
        let a = c.delete(&format!("/v2/<name>/manifests/{}", m.digest)).await;
        check(deleted_gone_or_refused(&a), "References teardown (manifests)", &a);
    }
    for blob in [&f.configs[4], &f.ref_blob_a, &f.ref_blob_b, &f.empty_json] {
        let a = c.delete(&format!("/v2/<name>/blobs/{}", blob.digest)).await;
        check(deleted_gone_or_refused(&a), "References teardown (blobs)", &a);
    }
}

// ---------------------------------------------------------------------------------------------
// 04: Content management.

async fn management_workflow(c: &Client, f: &Fixtures) {
    // Setup.
    for blob in [&f.configs[3], &f.layer] {
        let a = c.push_blob(blob).await;
        check(a.is_2xx(), "Content management setup: populate registry with test config blob/layer", &a);
    }
    let a = c.put_manifest(TEST_TAG, OCI_MANIFEST, &f.manifests[3].content).await;
    check(a.is_2xx(), "Populate registry with test tag", &a);
    let (a, tags) = c.tag_list("").await;
    check(a.status == StatusCode::OK, "Check how many tags there are before anything gets deleted", &a);
    let num_tags = tags.len();

    // Manifest delete.
    let a = c.delete(&format!("/v2/<name>/manifests/{TEST_TAG}")).await;
    // 202, or 400 UNSUPPORTED / 405 where tags cannot be deleted; tags can be here.
    check(
        a.status == StatusCode::ACCEPTED,
        "DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)",
        &a,
    );
    let a = c.delete(&format!("/v2/<name>/manifests/{}", f.manifests[3].digest)).await;
    check(
        a.status == StatusCode::ACCEPTED || a.status == StatusCode::NOT_FOUND,
        "DELETE request to manifest (digest) should yield 202 response unless already deleted",
        &a,
    );
    let a = c.get_manifest(Method::GET, &f.manifests[3].digest).await;
    // Deletion is allowed here, so 404 (the suite also accepts 200 where it is not).
    check(
        a.status == StatusCode::NOT_FOUND,
        "GET request to deleted manifest URL should yield 404 response, unless delete is disallowed",
        &a,
    );
    let (a, tags) = c.tag_list("").await;
    let title = "GET request to tags list should reflect manifest deletion";
    check(a.status == StatusCode::OK || a.status == StatusCode::NOT_FOUND, title, &a);
    if a.status == StatusCode::OK {
        check(tags.len() == num_tags - 1 && !tags.iter().any(|t| t == TEST_TAG), title, &a);
    } else {
        check(num_tags == 1, title, &a);
    }

    // Blob delete.
    let title = "DELETE request to blob URL should yield 202 response";
    let a = c.delete(&format!("/v2/<name>/blobs/{}", f.configs[3].digest)).await;
    check(a.status == StatusCode::ACCEPTED, title, &a);
    let a = c.delete(&format!("/v2/<name>/blobs/{}", f.layer.digest)).await;
    check(a.status == StatusCode::ACCEPTED, title, &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", f.configs[3].digest)).await;
    check(a.status == StatusCode::NOT_FOUND, "GET request to deleted blob URL should yield 404 response", &a);
}

// ---------------------------------------------------------------------------------------------
// The tests.

async fn fresh() -> (Server, Client, Fixtures) {
    let server = tokio::task::spawn_blocking(|| Server::start(false)).await.unwrap();
    let client = Client::new(&server);
    let a = client.get("/v2/").await;
    check(a.status == StatusCode::OK && a.header("docker-distribution-api-version") == "registry/2.0", "GET /v2/ answers 200", &a);
    (server, client, Fixtures::new())
}

#[tokio::test]
async fn workflow_01_pull() {
    let (_server, c, f) = fresh().await;
    pull_workflow(&c, &f).await;
}

#[tokio::test]
async fn workflow_02_push() {
    let (_server, c, f) = fresh().await;
    push_workflow(&c, &f).await;
}

#[tokio::test]
async fn workflow_03_content_discovery() {
    let (_server, c, f) = fresh().await;
    discovery_workflow(&c, &f).await;
}

#[tokio::test]
async fn workflow_04_content_management() {
    let (_server, c, f) = fresh().await;
    management_workflow(&c, &f).await;
}

/// The suite as it is run against a registry with accounts: one repository, the four
/// workflows in order, every request with a bearer token the client got from the challenge's
/// realm for both repositories.
#[tokio::test]
async fn all_four_workflows_in_order_with_registry_tokens() {
    let server = tokio::task::spawn_blocking(|| Server::start(true)).await.unwrap();
    let mut c = Client::new(&server);
    let f = Fixtures::new();
    let a = c.get("/v2/").await;
    check(a.status == StatusCode::UNAUTHORIZED, "GET /v2/ without credentials is challenged", &a);
    let challenge = a.header("www-authenticate").to_string();
    let realm = challenge.split("realm=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or_default().to_string();
    check(realm.ends_with("/v2/token"), "the challenge names the token realm", &a);
    let scopes: String = [NAME, f.crossmount.as_str()].iter().map(|r| format!("scope=repository:{r}:pull,push,delete&")).collect();
    let res = c.http.get(format!("{realm}?{scopes}")).basic_auth("admin", Some(ADMIN_PASSWORD)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the token endpoint answers the admin");
    let token: Value = res.json().await.unwrap();
    c.bearer = Some(token["token"].as_str().unwrap().to_string());
    let a = c.get("/v2/").await;
    check(a.status == StatusCode::OK, "GET /v2/ with the token answers 200", &a);
    pull_workflow(&c, &f).await;
    push_workflow(&c, &f).await;
    discovery_workflow(&c, &f).await;
    management_workflow(&c, &f).await;
}

/// A few checks of the redesigned suite (its `run.go`, since 2025) that the four workflows
/// above do not make: sha512 blobs, a cancelled upload, the last chunk sent with the `PUT`, a
/// manifest pushed under a malformed digest, a missing manifest by digest and by tag, and an
/// empty repository's tag list and referrers.
#[tokio::test]
async fn checks_of_the_redesigned_suite() {
    let (_server, c, f) = fresh().await;
    // sha512: post+put, then pulled back whole.
    let content = random_bytes(512);
    let sha512 = format!("sha512:{:x}", sha2::Sha512::digest(&content));
    let started = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[], None).await;
    let a = c.put_upload(&started.location(), &sha512, Some(&content)).await;
    check(a.status == StatusCode::CREATED, "sha512 blobs: post+put should yield 201", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{sha512}")).await;
    check(a.status == StatusCode::OK && a.body[..] == content[..], "sha512 blobs: the blob pulled back", &a);
    check(a.header("docker-content-digest") == sha512, "sha512 blobs: Docker-Content-Digest", &a);
    let a = c
        .send(Method::POST, &format!("/v2/<name>/blobs/uploads/?digest={sha512}"), &[("content-type", OCTETS)], Some(content.clone()))
        .await;
    check(a.status == StatusCode::CREATED, "sha512 blobs: post only should yield 201", &a);
    // post cancel: the session is gone, the blob never appears.
    let blob = Blob::of(random_bytes(512));
    let started = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[], None).await;
    let a = c.send(Method::PATCH, &started.location(), &[("content-type", OCTETS)], Some(blob.content.clone())).await;
    check(a.status == StatusCode::ACCEPTED, "post cancel: a chunk", &a);
    let a = c.delete(&started.location()).await;
    check(a.status == StatusCode::NO_CONTENT, "post cancel: DELETE of the session should yield 204", &a);
    let a = c.get(&started.location()).await;
    check(a.status == StatusCode::NOT_FOUND && a.error_code() == "BLOB_UPLOAD_UNKNOWN", "post cancel: the session is unknown", &a);
    let a = c.put_upload(&started.location(), &blob.digest, None).await;
    check(a.status == StatusCode::NOT_FOUND && a.error_code() == "BLOB_UPLOAD_UNKNOWN", "post cancel: it cannot be finished", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", blob.digest)).await;
    check(a.status == StatusCode::NOT_FOUND, "post cancel: the blob was not stored", &a);
    // chunked multi and put chunk: three chunks, the last one in the PUT.
    let blob = Blob::of(random_bytes(300));
    let started = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[("content-length", "0")], None).await;
    let mut location = started.location();
    for (start, end) in [(0usize, 100usize), (100, 200)] {
        let range = format!("{start}-{}", end - 1);
        let a = c
            .send(Method::PATCH, &location, &[("content-type", OCTETS), ("content-range", &range)], Some(blob.content[start..end].to_vec()))
            .await;
        check(a.status == StatusCode::ACCEPTED && a.header("range") == format!("0-{}", end - 1), "chunked multi: a chunk", &a);
        location = a.location();
    }
    let a = c.put_upload(&location, &blob.digest, Some(&blob.content[200..])).await;
    check(a.status == StatusCode::CREATED, "chunked multi and put chunk: the PUT with the last chunk should yield 201", &a);
    let a = c.get(&format!("/v2/<name>/blobs/{}", blob.digest)).await;
    check(a.status == StatusCode::OK && a.body[..] == blob.content[..], "chunked multi and put chunk: the blob pulled back", &a);
    // A wrong digest on finishing an upload stores nothing.
    let started = c.send(Method::POST, "/v2/<name>/blobs/uploads/", &[], None).await;
    let a = c.put_upload(&started.location(), &Fixtures::dummy_digest(), Some(b"not hello world")).await;
    check(
        a.status == StatusCode::BAD_REQUEST && a.error_code() == "DIGEST_INVALID",
        "a PUT whose digest does not match is DIGEST_INVALID",
        &a,
    );
    // Manifest errors.
    for blob in [&f.configs[0], &f.layer] {
        c.push_blob(blob).await;
    }
    let a = c.put_manifest("sha256:baddigeststring", OCI_MANIFEST, &f.manifests[0].content).await;
    check(a.status == StatusCode::BAD_REQUEST, "invalid-digest-format: manifest-put should be refused", &a);
    check(ERROR_CODES.contains(&a.error_code().as_str()), "invalid-digest-format: manifest-put (error code)", &a);
    let a = c.get_manifest(Method::GET, "sha256:baddigeststring").await;
    check(a.status == StatusCode::BAD_REQUEST || a.status == StatusCode::NOT_FOUND, "invalid-digest-format: manifest-get", &a);
    let a = c.put_manifest(&f.manifests[1].digest, OCI_MANIFEST, &f.manifests[1].content).await;
    check(
        a.status == StatusCode::BAD_REQUEST && a.error_code() == "MANIFEST_BLOB_UNKNOWN",
        "a manifest whose config was never pushed is MANIFEST_BLOB_UNKNOWN",
        &a,
    );
    let a = c.put_manifest(TEST_TAG, OCI_MANIFEST, &f.manifests[0].content).await;
    check(a.status == StatusCode::CREATED, "a manifest by tag", &a);
    let a = c.get_manifest(Method::GET, &sha256(&random_bytes(1024))).await;
    check(a.status == StatusCode::NOT_FOUND && a.error_code() == "MANIFEST_UNKNOWN", "missing-manifest: by-digest", &a);
    let a = c.get_manifest(Method::GET, "missing-abcdefghij").await;
    check(a.status == StatusCode::NOT_FOUND && a.error_code() == "MANIFEST_UNKNOWN", "missing-manifest: by-tag", &a);
    // An empty repository (pushed to, nothing tagged): its tag list and referrers are empty.
    let empty = Client { name: f.crossmount.clone(), ..Client::new(&_server) };
    let a = empty.push_blob(&f.configs[1]).await;
    check(a.status == StatusCode::CREATED, "empty repository: a blob", &a);
    let (a, tags) = empty.tag_list("").await;
    check((a.status == StatusCode::OK && tags.is_empty()) || a.status == StatusCode::NOT_FOUND, "empty tag list", &a);
    let a = empty.get(&format!("/v2/<name>/referrers/{}", f.manifests[0].digest)).await;
    check(a.status == StatusCode::OK && a.json()["manifests"].as_array().is_some_and(Vec::is_empty), "empty referrers", &a);
}
