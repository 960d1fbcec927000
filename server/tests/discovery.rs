//! Kubernetes API discovery (issue 14, point 1): the documents kubectl and the dynamic clients
//! read before anything else, and `Status` 404s for unknown API paths.

mod common;

use axum::http::StatusCode;
use common::TestApp;

#[tokio::test]
async fn discovery_documents_name_the_image_group_and_its_resources() {
    let app = TestApp::new().await;
    let apis = app.get("/apis").await;
    assert_eq!(apis.status, StatusCode::OK);
    assert_eq!(apis.body["kind"], "APIGroupList");
    assert_eq!(apis.body["groups"][0]["name"], "image.openshift.io");
    assert_eq!(apis.body["groups"][0]["preferredVersion"]["groupVersion"], "image.openshift.io/v1");
    assert_eq!(app.get("/api").await.body["versions"][0], "v1");
    assert_eq!(app.get("/api/v1").await.body["kind"], "APIResourceList");
    assert_eq!(app.get("/apis/image.openshift.io").await.body["kind"], "APIGroup");
    let v1 = app.get("/apis/image.openshift.io/v1").await.body;
    assert_eq!(v1["groupVersion"], "image.openshift.io/v1");
    let short: Vec<_> = v1["resources"].as_array().unwrap().iter().filter_map(|r| r["shortNames"].as_array()).flatten().cloned().collect();
    assert_eq!(short, vec!["isimage", "is", "istag"]);
    assert_eq!(app.get("/version").await.body["major"], "1");
}

#[tokio::test]
async fn unknown_api_paths_are_status_404s_and_known_ones_still_answer() {
    let app = TestApp::new().await;
    for path in ["/apis/apps/v1", "/apis/image.openshift.io/v1/namespaces/default/nothing", "/api/v1/pods", "/apis/image.openshift.io/v2"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!((r.body["kind"].as_str(), r.body["reason"].as_str()), (Some("Status"), Some("NotFound")), "{path}: {}", r.text);
    }
    assert_eq!(app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams").await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/namespaces").await.status, StatusCode::OK);
}

/// `?dryRun=All` must never become a real write: until a route serves dry runs, every change
/// that asks for one is refused and nothing is stored.
#[tokio::test]
async fn dry_run_is_refused_never_a_silent_write() {
    let app = TestApp::new().await;
    let path = "/apis/image.openshift.io/v1/namespaces/default/imagestreams?dryRun=All";
    let r = app.post(path, serde_json::json!({"metadata": {"name": "dry"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("nothing was changed"), "{}", r.text);
    assert_eq!(app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams/dry").await.status, StatusCode::NOT_FOUND);
    let r = app.post("/api/v1/namespaces?dryRun=All", serde_json::json!({"metadata": {"name": "dry"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/v1/namespaces/dry").await.status, StatusCode::NOT_FOUND);
}
