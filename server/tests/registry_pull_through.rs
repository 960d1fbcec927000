//! Pull-through details a real registry cannot show: an upstream that counts its blob GETs and
//! sends slowly proves that concurrent pulls of one blob share one download; an index imported
//! with PreserveOriginal has its children (and their blobs) pulled through by digest.

mod common;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::TestApp;
use common::registry::sha256;
use futures::StreamExt;
use http_body_util::BodyExt;
use serde_json::json;
use server::importer::ImporterConfig;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tower::ServiceExt;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Manifests by digest or tag: (media type, bytes).
type Documents = Arc<Mutex<HashMap<String, (String, Vec<u8>)>>>;

/// A loopback upstream: documents by digest (and tags), blob GETs counted, blobs sent in four
/// slow pieces.
#[derive(Clone, Default)]
struct Upstream {
    manifests: Documents,
    blobs: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    blob_gets: Arc<AtomicUsize>,
}

impl Upstream {
    fn blob(&self, data: &[u8]) -> String {
        let d = sha256(data);
        self.blobs.lock().unwrap().insert(d.clone(), data.to_vec());
        d
    }

    fn manifest(&self, tag: Option<&str>, media_type: &str, doc: serde_json::Value) -> (String, usize) {
        let bytes = doc.to_string().into_bytes();
        let d = sha256(&bytes);
        let mut m = self.manifests.lock().unwrap();
        m.insert(d.clone(), (media_type.into(), bytes.clone()));
        if let Some(t) = tag {
            m.insert(t.into(), (media_type.into(), bytes.clone()));
        }
        (d, bytes.len())
    }

    /// An image of one layer; returns (manifest digest, size, layer digest).
    fn image(&self, seed: &str, layer: &[u8]) -> (String, usize, String) {
        let config = json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"seed": seed}}, "rootfs": {"type": "layers", "diff_ids": []}})
            .to_string()
            .into_bytes();
        let c = self.blob(&config);
        let l = self.blob(layer);
        let (d, size) = self.manifest(
            None,
            OCI_MANIFEST,
            json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": c, "size": config.len()},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": l, "size": layer.len()}]}),
        );
        (d, size, l)
    }

    async fn start(self) -> String {
        let app = axum::Router::new()
            .route("/v2/", axum::routing::get(|| async { "{}" }))
            .route("/v2/up/app/manifests/{reference}", axum::routing::get(manifest))
            .route("/v2/up/app/blobs/{digest}", axum::routing::get(blob))
            .with_state(self);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        addr.to_string()
    }
}

async fn manifest(State(u): State<Upstream>, Path(reference): Path<String>) -> Response {
    match u.manifests.lock().unwrap().get(&reference).cloned() {
        Some((mt, bytes)) => {
            ([(header::CONTENT_TYPE, mt), ("docker-content-digest".parse().unwrap(), sha256(&bytes))], bytes).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn blob(State(u): State<Upstream>, Path(digest): Path<String>) -> Response {
    let Some(data) = u.blobs.lock().unwrap().get(&digest).cloned() else { return StatusCode::NOT_FOUND.into_response() };
    u.blob_gets.fetch_add(1, Ordering::SeqCst);
    let len = data.len();
    let pieces: Vec<Vec<u8>> = data.chunks(len.div_ceil(4).max(1)).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::iter(pieces).then(|p| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        Ok::<_, std::io::Error>(bytes::Bytes::from(p))
    });
    ([(header::CONTENT_LENGTH, len.to_string())], Body::from_stream(stream)).into_response()
}

async fn app_for(host: &str) -> TestApp {
    TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![host.to_string()],
        allowed_registries: vec![host.to_string()],
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await
}

async fn import(app: &TestApp, from: &str, mode: &str) {
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports",
            json!({"metadata": {"name": "app"}, "spec": {"import": true, "images": [{"from": {"kind": "DockerImage", "name": from},
                "to": {"name": "1"}, "importPolicy": {"insecure": true, "importMode": mode}}]}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["status"]["images"][0]["status"]["status"], "Success", "{}", r.text);
}

async fn get(app: &TestApp, path: &str) -> (StatusCode, Vec<u8>) {
    let resp = app.router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default())
}

#[tokio::test]
async fn concurrent_pulls_of_a_blob_share_one_download() {
    let upstream = Upstream::default();
    let layer: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let (digest, _, l) = upstream.image("shared", &layer);
    let head = upstream.manifests.lock().unwrap()[&digest].clone();
    upstream.manifests.lock().unwrap().insert("1".into(), head);
    let counter = upstream.blob_gets.clone();
    let host = upstream.start().await;
    let app = app_for(&host).await;
    import(&app, &format!("{host}/up/app:1"), "Legacy").await;
    let gets_after_import = counter.load(Ordering::SeqCst);

    let path = format!("/v2/default/app/blobs/{l}");
    let (a, b, c) = tokio::join!(get(&app, &path), get(&app, &path), get(&app, &path));
    for (status, body) in [a, b, c] {
        assert_eq!(status, StatusCode::OK);
        assert!(body == layer, "a client got {} bytes, not the layer", body.len());
    }
    assert_eq!(counter.load(Ordering::SeqCst) - gets_after_import, 1, "one upstream download for three clients");
    // Mirrored: the next pull does not reach the upstream.
    for _ in 0..100 {
        let (status, body) = get(&app, &path).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, layer);
        if counter.load(Ordering::SeqCst) - gets_after_import == 1 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert_eq!(counter.load(Ordering::SeqCst) - gets_after_import, 1, "served from the mirror");
}

#[tokio::test]
async fn children_of_an_imported_index_are_pulled_through_by_digest() {
    let upstream = Upstream::default();
    let (amd, amd_size, amd_layer) = upstream.image("amd", b"amd layer");
    let (arm, arm_size, arm_layer) = upstream.image("arm", b"arm layer");
    let (index, _) = upstream.manifest(
        Some("1"),
        OCI_INDEX,
        json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd, "size": amd_size, "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": OCI_MANIFEST, "digest": arm, "size": arm_size, "platform": {"architecture": "arm64", "os": "linux"}}]}),
    );
    let host = upstream.clone().start().await;
    let app = app_for(&host).await;
    import(&app, &format!("{host}/up/app:1"), "PreserveOriginal").await;
    let resp = app
        .router
        .clone()
        .oneshot(Request::get("/v2/default/app/manifests/1").header("accept", OCI_INDEX).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.headers()["docker-content-digest"], index.as_str());
    let (status, _) = get(&app, &format!("/v2/default/app/manifests/{arm}")).await;
    assert_eq!(status, StatusCode::OK, "a child of the listed index");
    let (status, body) = get(&app, &format!("/v2/default/app/blobs/{arm_layer}")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"arm layer".as_slice()));
    let (status, body) = get(&app, &format!("/v2/default/app/blobs/{amd_layer}")).await;
    assert_eq!((status, body.as_slice()), (StatusCode::OK, b"amd layer".as_slice()));
    // A digest that is in no history item is never fetched, even though the upstream has it.
    let gets = upstream.blob_gets.load(Ordering::SeqCst);
    let stranger = upstream.blob(b"never imported");
    let (status, _) = get(&app, &format!("/v2/default/app/blobs/{stranger}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(upstream.blob_gets.load(Ordering::SeqCst), gets, "the upstream was not asked");
}
