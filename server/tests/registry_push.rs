//! Pushes through the integrated registry, in process on the service clock: upload sessions
//! (chunks, `Content-Range`, expiry), interrupted pushes leaving nothing visible, manifests
//! needing their blobs in the repository (mounts), a push by tag entering the stream like an
//! ImageStreamMapping (history prepended, tracking tags following), and referrers.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct Answer {
    status: u16,
    headers: axum::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default()
    }
    fn code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_string()
    }
}

async fn call(app: &TestApp, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app.router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes().to_vec();
    Answer { status, headers, body }
}

fn digest(data: &[u8]) -> String {
    common::registry::sha256(data)
}

/// Pushes a blob in one request (`POST ?digest=`).
async fn push_blob(app: &TestApp, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let a = call(app, "POST", &format!("/v2/{repo}/blobs/uploads/?digest={d}"), &[], data.to_vec()).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    d
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// An image manifest over a config and one layer.
fn manifest(config: &[u8], layer: &[u8]) -> Vec<u8> {
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(layer), "size": layer.len()}]
    })
    .to_string()
    .into_bytes()
}

fn config(n: u32) -> Vec<u8> {
    json!({"architecture": "arm64", "os": "linux", "config": {"Env": [format!("N={n}")], "Labels": {"n": n.to_string()}},
        "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn uploads_in_chunks_expire_on_the_clock_and_leave_nothing_when_interrupted() {
    let app = TestApp::new().await;
    let start = call(&app, "POST", "/v2/default/app/blobs/uploads/", &[], vec![]).await;
    assert_eq!(start.status, 202);
    let location = start.header("location");
    assert!(location.starts_with("/v2/default/app/blobs/uploads/"), "{location}");
    assert_eq!(start.header("range"), "0-0");
    let a = call(&app, "PATCH", &location, &[("content-range", "0-5")], b"hello ".to_vec()).await;
    assert_eq!((a.status, a.header("range")), (202, "0-5".to_string()));
    // A chunk that does not start where the upload ends is refused.
    let a = call(&app, "PATCH", &location, &[("content-range", "3-5")], b"lo ".to_vec()).await;
    assert_eq!(a.status, 416);
    let a = call(&app, "GET", &location, &[], vec![]).await;
    assert_eq!((a.status, a.header("range")), (204, "0-5".to_string()));
    // A wrong digest at the end: refused, nothing stored, the upload stays.
    let a = call(&app, "PUT", &format!("{location}?digest={}", digest(b"something else")), &[], b"world".to_vec()).await;
    assert_eq!((a.status, a.code()), (400, "DIGEST_INVALID".to_string()));
    let a = call(&app, "GET", &format!("/v2/default/app/blobs/{}", digest(b"something else")), &[], vec![]).await;
    assert_eq!(a.status, 404);

    // Untouched for longer than --upload-ttl (1 h): gone.
    app.advance(3601);
    let a = call(&app, "PATCH", &location, &[], b"more".to_vec()).await;
    assert_eq!((a.status, a.code()), (404, "BLOB_UPLOAD_UNKNOWN".to_string()));
    // Nothing of the interrupted push is visible: no blob, no repository, no stream.
    let a = call(&app, "GET", &format!("/v2/default/app/blobs/{}", digest(b"hello world")), &[], vec![]).await;
    assert_eq!((a.status, a.code()), (404, "NAME_UNKNOWN".to_string()));
    let a = call(&app, "GET", "/v2/default/app/tags/list", &[], vec![]).await;
    assert_eq!((a.status, a.code()), (404, "NAME_UNKNOWN".to_string()));
    assert_eq!(app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams/app").await.status, 404);

    // A whole upload in chunks then PUT: the blob is there.
    let start = call(&app, "POST", "/v2/default/app/blobs/uploads/", &[], vec![]).await;
    let location = start.header("location");
    call(&app, "PATCH", &location, &[("content-range", "0-5")], b"hello ".to_vec()).await;
    let a = call(&app, "PUT", &format!("{location}?digest={}", digest(b"hello world")), &[], b"world".to_vec()).await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("docker-content-digest"), digest(b"hello world"));
    let a = call(&app, "GET", &format!("/v2/default/app/blobs/{}", digest(b"hello world")), &[], vec![]).await;
    assert_eq!((a.status, a.body.as_slice()), (200, b"hello world".as_slice()));
}

#[tokio::test]
async fn a_push_by_tag_is_an_image_stream_mapping_and_blobs_must_be_in_the_repository() {
    let app = TestApp::new().await;
    let (c1, l1) = (config(1), b"layer one".to_vec());
    push_blob(&app, "default/a", &c1).await;
    push_blob(&app, "default/a", &l1).await;
    // The blobs are in default/a, not in default/b: the manifest is refused there...
    let m1 = manifest(&c1, &l1);
    let a = call(&app, "PUT", "/v2/default/b/manifests/v1", &[("content-type", OCI_MANIFEST)], m1.clone()).await;
    assert_eq!((a.status, a.code()), (400, "MANIFEST_BLOB_UNKNOWN".to_string()));
    // ...until they are mounted from default/a.
    for d in [digest(&c1), digest(&l1)] {
        let a = call(&app, "POST", &format!("/v2/default/b/blobs/uploads/?mount={d}&from=default/a"), &[], vec![]).await;
        assert_eq!(a.status, 201, "mount {d}");
    }
    // A Content-Type that contradicts the document is refused.
    let a =
        call(&app, "PUT", "/v2/default/b/manifests/v1", &[("content-type", "application/vnd.oci.image.index.v1+json")], m1.clone()).await;
    assert_eq!((a.status, a.code()), (400, "MANIFEST_INVALID".to_string()));

    // A tracking tag follows v1 (spec §3.4): latest -> v1.
    let created = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreams",
            json!({"metadata": {"name": "b"}, "spec": {"tags": [{"name": "latest", "from": {"kind": "ImageStreamTag", "name": "v1"}}]}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let a = call(&app, "PUT", "/v2/default/b/manifests/v1", &[("content-type", OCI_MANIFEST)], m1.clone()).await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("docker-content-digest"), digest(&m1));
    assert_eq!(a.header("location"), format!("/v2/default/b/manifests/{}", digest(&m1)));

    // A second image to the same tag: prepended to its history.
    app.advance(60);
    let (c2, l2) = (config(2), b"layer two".to_vec());
    push_blob(&app, "default/b", &c2).await;
    push_blob(&app, "default/b", &l2).await;
    let m2 = manifest(&c2, &l2);
    assert_eq!(call(&app, "PUT", "/v2/default/b/manifests/v1", &[("content-type", OCI_MANIFEST)], m2.clone()).await.status, 201);
    let stream = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams/b").await.body;
    let v1 = stream["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "v1").unwrap();
    let history: Vec<&str> = v1["items"].as_array().unwrap().iter().map(|i| i["image"].as_str().unwrap()).collect();
    assert_eq!(history, vec![digest(&m2), digest(&m1)]);
    assert_eq!(v1["items"][0]["dockerImageReference"], format!("{}/default/b@{}", common::REGISTRY, digest(&m2)));
    let latest = stream["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "latest").unwrap();
    assert_eq!(latest["items"][0]["image"], digest(&m2).as_str(), "the tracking tag follows the push");
    // The Image object is built from the manifest and its config.
    let istag = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/b:v1").await.body;
    assert_eq!(istag["image"]["dockerImageMetadata"]["Architecture"], "arm64");
    assert_eq!(istag["image"]["dockerImageMetadata"]["Config"]["Labels"]["n"], "2");
    assert_eq!(istag["image"]["dockerImageLayers"][0]["size"], l2.len());
    // Tags list both, sorted; pulling by tag gives the head.
    let a = call(&app, "GET", "/v2/default/b/tags/list", &[], vec![]).await;
    assert_eq!(a.json(), json!({"name": "default/b", "tags": ["latest", "v1"]}));
    let a = call(&app, "GET", "/v2/default/b/manifests/latest", &[], vec![]).await;
    assert_eq!(a.body, m2);

    // Referrers: an artifact pushed by digest whose subject is m2.
    let empty = b"{}".to_vec();
    push_blob(&app, "default/b", &empty).await;
    let sbom = b"{\"sbom\": true}".to_vec();
    push_blob(&app, "default/b", &sbom).await;
    let artifact = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest(&empty), "size": 2},
        "layers": [{"mediaType": "application/json", "digest": digest(&sbom), "size": sbom.len()}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": digest(&m2), "size": m2.len()},
        "annotations": {"org.example.kind": "sbom"}
    })
    .to_string()
    .into_bytes();
    let a =
        call(&app, "PUT", &format!("/v2/default/b/manifests/{}", digest(&artifact)), &[("content-type", OCI_MANIFEST)], artifact.clone())
            .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.header("oci-subject"), digest(&m2));
    let a = call(&app, "GET", &format!("/v2/default/b/referrers/{}", digest(&m2)), &[], vec![]).await;
    assert_eq!(a.header("content-type"), "application/vnd.oci.image.index.v1+json");
    let index = a.json();
    assert_eq!(index["manifests"][0]["digest"], digest(&artifact).as_str());
    assert_eq!(index["manifests"][0]["artifactType"], "application/vnd.example.sbom");
    assert_eq!(index["manifests"][0]["annotations"]["org.example.kind"], "sbom");
    let a = call(&app, "GET", &format!("/v2/default/b/referrers/{}?artifactType=application/other", digest(&m2)), &[], vec![]).await;
    assert_eq!(a.header("oci-filters-applied"), "artifactType");
    assert_eq!(a.json()["manifests"], json!([]));
    // Pushing by digest does not make a tag.
    let a = call(&app, "GET", "/v2/default/b/tags/list", &[], vec![]).await;
    assert_eq!(a.json()["tags"], json!(["latest", "v1"]));
}
