//! Imports under upstream faults (issue 18, point 5, "upstream faults"): a misbehaving registry
//! on 127.0.0.1, written here, answers per repository with one fault. Each tag was first
//! imported from a healthy repository; then its import points at a faulty one. For every
//! fault the import ends in a precise `ImportSuccess=False` condition on the tag (reason and
//! message), and nothing partial is stored: the tag's history is what it was, no image object
//! exists for the content the faulty registry sent, and the stream's other tags are untouched.
//! While an import waits on a registry slower than the timeout, another import of the same
//! namespace completes at once.
//!
//! Faults covered here: 500, 429 with `Retry-After`, a manifest body cut short (announced
//! length not sent), a manifest whose content does not match the digest asked for, a
//! `Docker-Content-Digest` header that does not match the body, a manifest whose config blob
//! is missing, a config blob cut short, and a registry slower than the timeout.
//! Also covered elsewhere, not repeated: a registry that is down or never answers, and huge
//! or endless answers (`imports.rs`); the same faults on the pull-through path of the
//! integrated registry (`registry_faults.rs`).

mod common;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::*;
use serde_json::{Value, json};
use server::importer::ImporterConfig;
use std::time::{Duration, Instant};

const IMPORTS: &str = "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports";
const TIMEOUT: Duration = Duration::from_secs(2);

/// A small image: its manifest (which names `config`), the config, and their digests.
struct Image {
    manifest: String,
    digest: String,
    config: String,
    config_digest: String,
}

fn image(seed: &str) -> Image {
    let config = json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"seed": seed}}}).to_string();
    let config_digest = registry::sha256(config.as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": registry::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_n(1), "size": 1}]})
    .to_string();
    let digest = registry::sha256(manifest.as_bytes());
    Image { manifest, digest, config, config_digest }
}

fn oci_error(status: StatusCode, code: &str) -> Response {
    (status, axum::Json(json!({"errors": [{"code": code, "message": "injected fault"}]}))).into_response()
}

/// Half of `body` under a `Content-Length` of all of it, then (after a pause, so the head and
/// the half are on the wire) the connection breaks.
fn cut_short(body: String) -> Response {
    let whole = body.len();
    let half = bytes::Bytes::from(body.into_bytes()).slice(..whole / 2);
    let stream = futures::StreamExt::chain(
        futures::stream::iter([Ok::<_, std::io::Error>(half)]),
        futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Err(std::io::Error::other("the upstream breaks off"))
        }),
    );
    ([(header::CONTENT_LENGTH, whole.to_string()), (header::CONTENT_TYPE, registry::OCI_MANIFEST.to_string())], Body::from_stream(stream))
        .into_response()
}

fn manifest_answer(img: &Image, digest_header: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, registry::OCI_MANIFEST.to_string()),
            (header::HeaderName::from_static("docker-content-digest"), digest_header.to_string()),
        ],
        img.manifest.clone(),
    )
        .into_response()
}

/// The fault registry: `good/img` (image "good"), `moved/img` (image "moved", a second healthy
/// image), and one repository per fault, each serving image "bad" (never stored anywhere).
async fn fault_registry() -> (String, Image, Image, Image) {
    let (good, moved, bad) = (image("good"), image("moved"), image("bad"));
    let images = std::sync::Arc::new((image("good"), image("moved"), image("bad")));
    let handler = move |uri: axum::http::Uri| {
        let images = images.clone();
        async move {
            let (good, moved, bad) = (&images.0, &images.1, &images.2);
            let path = uri.path();
            if path == "/v2/" {
                return "{}".into_response();
            }
            let Some((repo, rest)) = path.trim_start_matches("/v2/").split_once("/img/") else {
                return StatusCode::NOT_FOUND.into_response();
            };
            if let Some(digest) = rest.strip_prefix("blobs/") {
                return match (repo, digest) {
                    ("noconfig", _) => oci_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
                    ("cutconfig", d) if d == bad.config_digest => cut_short(bad.config.clone()),
                    (_, d) if d == good.config_digest => good.config.clone().into_response(),
                    (_, d) if d == moved.config_digest => moved.config.clone().into_response(),
                    (_, d) if d == bad.config_digest => bad.config.clone().into_response(),
                    _ => oci_error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
                };
            }
            let Some(reference) = rest.strip_prefix("manifests/") else { return StatusCode::NOT_FOUND.into_response() };
            match repo {
                "good" => manifest_answer(good, &good.digest),
                "moved" => manifest_answer(moved, &moved.digest),
                "e500" => oci_error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN"),
                "e429" => {
                    let mut r = oci_error(StatusCode::TOO_MANY_REQUESTS, "TOOMANYREQUESTS");
                    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
                    r
                }
                "cut" => cut_short(bad.manifest.clone()),
                // Asked by digest (the good image's), it answers other content.
                "wrongbody" => {
                    assert!(reference.starts_with("sha256:"), "wrongbody is asked by digest");
                    manifest_answer(bad, reference)
                }
                // By tag, its Docker-Content-Digest header claims another digest than the body's.
                "wrongheader" => manifest_answer(bad, &good.digest),
                "noconfig" | "cutconfig" => manifest_answer(bad, &bad.digest),
                "slow" => {
                    tokio::time::sleep(TIMEOUT * 5).await;
                    manifest_answer(bad, &bad.digest)
                }
                _ => StatusCode::NOT_FOUND.into_response(),
            }
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    (host, good, moved, bad)
}

async fn app_for(host: &str) -> TestApp {
    TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![host.into()],
        allowed_registries: vec![host.into()],
        timeout: TIMEOUT,
        ..Default::default()
    })
    .await
}

fn import_one(stream: &str, from: &str, tag: &str) -> Value {
    json!({"metadata": {"name": stream}, "spec": {"import": true, "images": [{"from": {"kind": "DockerImage", "name": from}, "to": {"name": tag}}]}})
}

fn tag_of<'a>(stream: &'a Value, tag: &str) -> &'a Value {
    stream["status"]["tags"].as_array().and_then(|t| t.iter().find(|t| t["tag"] == tag)).unwrap_or(&Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_fault_ends_in_a_precise_condition_and_stores_nothing() {
    let (host, good, moved, bad) = fault_registry().await;
    let app = app_for(&host).await;
    // (repository and reference, reason, message after "<source>: ")
    let bad_digest = &bad.digest;
    let config = &bad.config_digest;
    let good_digest = &good.digest;
    let cases: Vec<(String, &str, String)> = vec![
        // oci-client's words for a registry's 500, with the registry's own error.
        (
            "e500/img:1".into(),
            "InternalError",
            format!(
                "Server error: url http://{host}/v2/e500/img/manifests/1, code: 500, message: {{\"errors\":[{{\"code\":\"UNKNOWN\",\"message\":\"injected fault\"}}]}}"
            ),
        ),
        ("e429/img:1".into(), "TooManyRequests", "the registry answered 429 Too Many Requests; Retry-After: 7".into()),
        ("cut/img:1".into(), "InternalError", "the registry broke off the manifest before its end".into()),
        (
            format!("wrongbody/img@{good_digest}"),
            "InternalError",
            format!("the manifest does not match its digest {good_digest} (got {bad_digest})"),
        ),
        ("wrongheader/img:1".into(), "InternalError", format!("the manifest does not match its digest {good_digest} (got {bad_digest})")),
        ("noconfig/img:1".into(), "NotFound", format!("the image config {config} the manifest names is missing from the registry")),
        ("cutconfig/img:1".into(), "InternalError", "the registry broke off the image config before its end".into()),
    ];
    for (n, (source, reason, message)) in cases.iter().enumerate() {
        let stream = format!("f{n}");
        // First a healthy import: the tag has one item and a neighbour tag has its own.
        let ok = app.post(IMPORTS, import_one(&stream, &format!("{host}/good/img:1"), "t")).await;
        assert_eq!(ok.body["status"]["images"][0]["status"]["status"], "Success", "{}", ok.text);
        let ok = app.post(IMPORTS, import_one(&stream, &format!("{host}/moved/img:1"), "other")).await;
        assert_eq!(ok.body["status"]["images"][0]["status"]["status"], "Success", "{}", ok.text);
        let before = app.get(&is_path("default", &stream)).await.body;
        app.advance(10);

        let from = format!("{host}/{source}");
        let r = app.post(IMPORTS, import_one(&stream, &from, "t")).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let st = &r.body["status"]["images"][0]["status"];
        assert_eq!(st["status"], "Failure", "{source}: {}", r.text);
        assert_eq!(st["reason"], *reason, "{source}: {}", r.text);
        assert_eq!(st["message"], format!("{from}: {message}"), "{source}");
        assert!(r.body["status"]["images"][0].get("image").is_none_or(Value::is_null), "{source}: no image in a failed answer: {}", r.text);

        // On the tag: the condition, the history as it was; the other tag as it was.
        let after = app.get(&is_path("default", &stream)).await.body;
        let t = tag_of(&after, "t");
        let cond = &t["conditions"][0];
        assert_eq!((cond["type"].as_str(), cond["status"].as_str()), (Some("ImportSuccess"), Some("False")), "{source}: {t}");
        assert_eq!(cond["reason"], st["reason"], "{source}");
        assert_eq!(cond["message"], st["message"], "{source}");
        let failed_at =
            chrono::DateTime::parse_from_rfc3339("2026-01-01T12:00:00Z").unwrap() + chrono::Duration::seconds(20 * n as i64 + 10);
        assert_eq!(cond["lastTransitionTime"], failed_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "{source}");
        assert_eq!(t["items"], tag_of(&before, "t")["items"], "{source}: the history is untouched");
        assert_eq!(t["items"][0]["image"], good.digest.as_str());
        assert_eq!(tag_of(&after, "other"), tag_of(&before, "other"), "{source}: the other tag is untouched");
        // Nothing of what the faulty registry sent is stored.
        let img = app.get(&format!("/apis/image.openshift.io/v1/images/{}", bad.digest)).await;
        assert_eq!(img.status, StatusCode::NOT_FOUND, "{source}: the bad image was stored: {}", img.text);

        // The registry is healthy again (the tag imports from the good repository): the
        // condition clears and the history grows by exactly the new image.
        app.advance(10);
        let again = app.post(IMPORTS, import_one(&stream, &format!("{host}/moved/img:1"), "t")).await;
        assert_eq!(again.body["status"]["images"][0]["status"]["status"], "Success", "{}", again.text);
        let healed = app.get(&is_path("default", &stream)).await.body;
        let t = tag_of(&healed, "t");
        assert!(t.get("conditions").is_none_or(|c| c.as_array().is_none_or(|c| c.is_empty())), "{source}: {t}");
        let items: Vec<&str> = t["items"].as_array().unwrap().iter().map(|i| i["image"].as_str().unwrap()).collect();
        assert_eq!(items, vec![moved.digest.as_str(), good.digest.as_str()], "{source}");
    }
}

/// An import waiting on a registry slower than the timeout ends in a timeout condition; an
/// import of the same namespace started meanwhile completes at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_slower_than_the_timeout_fails_the_tag_and_delays_no_other_import() {
    let (host, good, _, bad) = fault_registry().await;
    let app = std::sync::Arc::new(app_for(&host).await);
    let ok = app.post(IMPORTS, import_one("slow", &format!("{host}/good/img:1"), "t")).await;
    assert_eq!(ok.body["status"]["images"][0]["status"]["status"], "Success", "{}", ok.text);
    let before = app.get(&is_path("default", "slow")).await.body;
    let started = Instant::now();
    let slow = {
        let (app, host) = (app.clone(), host.clone());
        tokio::spawn(async move { app.post(IMPORTS, import_one("slow", &format!("{host}/slow/img:1"), "t")).await })
    };
    // Let the slow one reach the registry first.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fast = app.post(IMPORTS, import_one("fast", &format!("{host}/good/img:1"), "t")).await;
    assert_eq!(fast.body["status"]["images"][0]["status"]["status"], "Success", "{}", fast.text);
    assert!(started.elapsed() < TIMEOUT, "the healthy import waited {:?} behind the slow one", started.elapsed());
    let slow = slow.await.unwrap();
    let took = started.elapsed();
    assert!(took >= TIMEOUT && took < TIMEOUT * 3, "the slow import ended after {took:?}, its timeout is {TIMEOUT:?}");
    let st = &slow.body["status"]["images"][0]["status"];
    assert_eq!(st["status"], "Failure", "{}", slow.text);
    assert_eq!(st["reason"], "InternalError");
    // Which deadline fires first (the request's or the whole import's) decides the ending:
    // "… did not answer within 2s" or "… did not answer in time".
    let message = st["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(&format!("{host}/slow/img:1: the registry did not answer ")), "{message}");
    let after = app.get(&is_path("default", "slow")).await.body;
    assert_eq!(tag_of(&after, "t")["items"], tag_of(&before, "t")["items"]);
    assert_eq!(tag_of(&after, "t")["conditions"][0]["message"], st["message"]);
    assert_eq!(tag_of(&after, "t")["items"][0]["image"], good.digest.as_str());
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", bad.digest)).await.status, StatusCode::NOT_FOUND);
}
