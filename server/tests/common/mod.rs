//! Test harness: a service on a temporary SQLite file with a fixed clock, the real API router
//! driven in-process, and helpers for requests and seeded images.
#![allow(dead_code)]

pub mod oci;
pub mod portal;
pub mod prune;
pub mod receiver;
pub mod registry;
pub mod reliability;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::importer::ImporterConfig;
use server::service::{Clock, Service};
use server::store::Store;
use std::sync::{Arc, Mutex};
use tower::ServiceExt;

/// A clock tests move by hand.
pub struct TestClock(pub Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

pub const REGISTRY: &str = "registry.test:5000";

pub struct TestApp {
    pub router: Router,
    pub service: Service,
    pub clock: Arc<TestClock>,
    _dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub content_type: String,
    /// The `Set-Cookie` header, if the answer had one.
    pub set_cookie: Option<String>,
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_importer(ImporterConfig::default()).await
    }

    /// A test app whose imports use `config` (insecure registries, limits, timeouts).
    pub async fn with_importer(config: ImporterConfig) -> TestApp {
        Self::build(tempfile::tempdir().unwrap(), |s| s.with_importer(config)).await
    }

    /// A test app in `dir` (reused across a simulated restart) whose service `setup` adjusts.
    pub async fn build(dir: tempfile::TempDir, setup: impl FnOnce(Service) -> Service) -> TestApp {
        let store = Store::open(dir.path()).await.unwrap();
        let clock = Arc::new(TestClock(Mutex::new(Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap())));
        let service = setup(Service::new(store, REGISTRY.into()).with_clock(clock.clone()));
        server::demo::ensure_default_namespace(&service).await.unwrap();
        let router = server::http::api_router(service.clone());
        TestApp { router, service, clock, _dir: dir }
    }

    /// A test app whose registry keeps blobs on the filesystem (`<data dir>/blobs`, as `serve`
    /// does) and spares blobs younger than `grace` from garbage collection.
    pub async fn with_registry_on_disk(grace: std::time::Duration) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let (blobs, spool) = (dir.path().join("blobs"), dir.path().join("spool"));
        Self::build(dir, move |s| {
            s.with_registry(server::service::RegistryConfig {
                blobs: server::blobs::BlobStore::filesystem(&blobs).unwrap(),
                spool_dir: spool,
                gc_grace: grace,
                ..Default::default()
            })
        })
        .await
    }

    /// Where `with_registry_on_disk` keeps the blob store.
    pub fn blobs_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("blobs")
    }

    /// Stops the app and hands back its data directory (to start another on it).
    pub fn into_dir(self) -> tempfile::TempDir {
        self._dir
    }

    /// The data directory (database files) of this app.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Moves the service clock and tells the service (its timers look again).
    pub fn advance(&self, seconds: i64) {
        self.advance_ms(seconds * 1000);
    }

    pub fn advance_ms(&self, ms: i64) {
        {
            let mut t = self.clock.0.lock().unwrap();
            *t += chrono::Duration::milliseconds(ms);
        }
        self.service.clock_moved();
    }

    /// Until no delivery is queued: each wait is for the next recorded attempt (no polling); a
    /// retry waiting on the clock gets the clock moved to it.
    pub async fn settle_deliveries(&self) {
        let mut attempts = self.service.delivery_attempts();
        loop {
            let Some(due) = self.service.next_delivery_due_ms().await.unwrap() else { return };
            let now = self.service.now_ms();
            if due > now {
                self.advance_ms(due - now);
            }
            tokio::time::timeout(std::time::Duration::from_secs(20), attempts.changed())
                .await
                .expect("a queued delivery was attempted")
                .unwrap();
        }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Value>, accept: Option<&str>) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        let req = match body {
            Some(b) => req.header("content-type", "application/json").body(Body::from(b.to_string())).unwrap(),
            None => req.body(Body::empty()).unwrap(),
        };
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, text, content_type, set_cookie: None }
    }

    /// A request with extra headers (credentials, Origin, …).
    pub async fn send_with(&self, method: &str, path: &str, body: Option<Value>, headers: &[(String, String)]) -> Reply {
        let resp = self.router.clone().oneshot(build(method, path, body, headers)).await.unwrap();
        let status = resp.status();
        let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let set_cookie = resp.headers().get("set-cookie").map(|v| v.to_str().unwrap().to_string());
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, body, text, content_type, set_cookie }
    }

    /// Only the status of a request whose body never ends (watches, live updates).
    pub async fn status_of(&self, method: &str, path: &str, headers: &[(String, String)]) -> StatusCode {
        self.router.clone().oneshot(build(method, path, None, headers)).await.unwrap().status()
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, None, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send("POST", path, Some(body), None).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.send("PUT", path, Some(body), None).await
    }
    pub async fn delete(&self, path: &str) -> Reply {
        self.send("DELETE", path, None, None).await
    }

    pub async fn create_namespace(&self, ns: &str) {
        let r = self.post("/api/v1/namespaces", json!({"metadata": {"name": ns}})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }

    pub async fn create_stream(&self, ns: &str, body: Value) -> Reply {
        self.post(&is_path(ns, ""), body).await
    }

    /// Pushes a synthetic image into `stream:tag` through an ImageStreamMapping.
    pub async fn push(&self, ns: &str, stream: &str, tag: &str, digest: &str) -> Reply {
        self.post(
            &format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreammappings"),
            json!({
                "metadata": {"name": stream},
                "tag": tag,
                "image": {
                    "metadata": {"name": digest},
                    "dockerImageReference": format!("quay.io/org/{stream}@{digest}"),
                    "dockerImageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
                    "dockerImageLayers": [{"name": digest_n(900), "size": 1234, "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}],
                    "dockerImageMetadata": {"Architecture": "amd64", "Size": 1234, "Config": {"User": "1001", "Cmd": ["run"]}}
                }
            }),
        )
        .await
    }
}

fn build(method: &str, path: &str, body: Option<Value>, headers: &[(String, String)]) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    // A PATCH is a JSON merge patch unless the test says otherwise.
    let content_type = if method == "PATCH" { "application/merge-patch+json" } else { "application/json" };
    let has_type = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    match body {
        Some(b) if has_type => req.body(Body::from(b.to_string())).unwrap(),
        Some(b) => req.header("content-type", content_type).body(Body::from(b.to_string())).unwrap(),
        None => req.body(Body::empty()).unwrap(),
    }
}

pub fn is_path(ns: &str, name: &str) -> String {
    if name.is_empty() {
        format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams")
    } else {
        format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams/{name}")
    }
}

pub fn istag_path(ns: &str, name: &str) -> String {
    format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreamtags/{name}")
}

/// A deterministic, valid sha256 digest.
pub fn digest_n(n: u64) -> String {
    format!("sha256:{n:064x}")
}

pub fn docker_tag(name: &str, from: &str) -> Value {
    json!({"name": name, "from": {"kind": "DockerImage", "name": from}})
}
