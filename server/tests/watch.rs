//! The watch API: replay and resume from a resourceVersion, live changes, 410 for a trimmed
//! version, no event for no-op writes, order across many quick changes, filters, deletions.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::time::Duration;
use tower::ServiceExt;

/// An open watch: reads newline-delimited events as they come.
struct Watch {
    body: Body,
    buf: Vec<u8>,
}

impl Watch {
    async fn open(app: &TestApp, query: &str) -> Result<Watch, (StatusCode, Value)> {
        let req = Request::get(format!("/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=1{query}"))
            .body(Body::empty())
            .unwrap();
        let resp = app.router.clone().oneshot(req).await.unwrap();
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let bytes = resp.into_body().collect().await.unwrap().to_bytes();
            return Err((status, serde_json::from_slice(&bytes).unwrap_or(Value::Null)));
        }
        assert_eq!(resp.headers()["content-type"], "application/json;stream=watch");
        Ok(Watch { body: resp.into_body(), buf: vec![] })
    }

    /// The next event, or None if none comes within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let frame = tokio::time::timeout(wait, self.body.frame()).await.ok()??.ok()?;
            if let Ok(data) = frame.into_data() {
                self.buf.extend_from_slice(&data);
            }
        }
    }

    async fn expect(&mut self) -> Value {
        self.next(Duration::from_secs(5)).await.expect("an event")
    }
}

fn rv(v: &Value) -> i64 {
    v["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn replay_resume_and_live() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let start = rv(&created);
    app.push("default", "app", "v1", &digest_n(1)).await;
    app.push("default", "app", "v2", &digest_n(2)).await;
    // Replay everything after the creation, in order.
    let mut w = Watch::open(&app, &format!("&resourceVersion={start}")).await.unwrap();
    let a = w.expect().await;
    let b = w.expect().await;
    assert_eq!((a["type"].as_str(), b["type"].as_str()), (Some("MODIFIED"), Some("MODIFIED")));
    assert!(rv(&a["object"]) < rv(&b["object"]));
    assert_eq!(b["object"]["status"]["tags"].as_array().unwrap().len(), 2);
    assert_eq!(b["object"]["status"]["dockerImageRepository"], "registry.test:5000/default/app", "objects are decorated like reads");
    // Then live.
    app.push("default", "app", "v3", &digest_n(3)).await;
    let c = w.expect().await;
    assert_eq!(c["object"]["status"]["tags"].as_array().unwrap().len(), 3);
    // Resume from the middle: only what came after.
    let mut resumed = Watch::open(&app, &format!("&resourceVersion={}", rv(&a["object"]))).await.unwrap();
    assert_eq!(rv(&resumed.expect().await["object"]), rv(&b["object"]));
    assert_eq!(rv(&resumed.expect().await["object"]), rv(&c["object"]));
    // Nothing is sent twice: the next event after them is the next change, not a repeat.
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&resumed.expect().await["object"]), sentinel, "nothing is sent twice");
}

#[tokio::test]
async fn no_resource_version_starts_with_added_and_filters_by_name() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "a"}})).await;
    app.create_stream("default", json!({"metadata": {"name": "b"}})).await;
    let mut w = Watch::open(&app, "").await.unwrap();
    let first = w.expect().await;
    let second = w.expect().await;
    assert_eq!((first["type"].as_str(), first["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("a")));
    assert_eq!(second["object"]["metadata"]["name"], "b");
    let mut only_b = Watch::open(&app, "&fieldSelector=metadata.name%3Db&resourceVersion=1").await.unwrap();
    let e = only_b.expect().await;
    assert_eq!((e["type"].as_str(), e["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("b")));
    app.push("default", "a", "v1", &digest_n(1)).await;
    app.delete(&is_path("default", "b")).await;
    let deleted = only_b.expect().await;
    assert_eq!((deleted["type"].as_str(), deleted["object"]["metadata"]["name"].as_str()), (Some("DELETED"), Some("b")));
    let bad = Watch::open(&app, "&fieldSelector=spec.tags%3Dx").await.err().unwrap();
    assert_eq!((bad.0, bad.1["message"].as_str()), (StatusCode::BAD_REQUEST, Some("field label not supported: spec.tags")));
}

#[tokio::test]
async fn trimmed_versions_are_gone() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let old = rv(&created);
    for n in 1..=5 {
        app.push("default", "app", "v1", &digest_n(n)).await;
    }
    // Keep the newest two events only.
    assert_eq!(app.service.trim_watch_events(Duration::from_secs(3600), 2).await.unwrap(), 4);
    let (status, body) = Watch::open(&app, &format!("&resourceVersion={old}")).await.err().unwrap();
    assert_eq!(status, StatusCode::GONE);
    assert_eq!(body["reason"], "Expired");
    assert!(body["message"].as_str().unwrap().starts_with(&format!("too old resource version: {old} (")));
    // From the horizon on, it works.
    let horizon: i64 = body["message"].as_str().unwrap().rsplit('(').next().unwrap().trim_end_matches(')').parse().unwrap();
    let mut w = Watch::open(&app, &format!("&resourceVersion={horizon}")).await.unwrap();
    assert_eq!(w.expect().await["type"], "MODIFIED");
    assert_eq!(w.expect().await["type"], "MODIFIED");
}

#[tokio::test]
async fn no_op_writes_produce_no_event() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    app.push("default", "app", "v1", &digest_n(1)).await;
    let now = rv(&app.get(&is_path("default", "app")).await.body);
    let mut w = Watch::open(&app, &format!("&resourceVersion={now}")).await.unwrap();
    // The same push again, and an unchanged PUT: nothing stored, nothing sent.
    app.push("default", "app", "v1", &digest_n(1)).await;
    let current = app.get(&is_path("default", "app")).await.body;
    assert_eq!(app.put(&is_path("default", "app"), current).await.status, StatusCode::OK);
    // The next event is the next real change: the no-op writes sent nothing before it.
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "no-op writes produced an event");
    let _ = created;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_quick_changes_arrive_in_order() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let mut w = Watch::open(&app, &format!("&resourceVersion={}", rv(&created))).await.unwrap();
    let mut tasks = vec![];
    for n in 1..=40u64 {
        let router = app.router.clone();
        tasks.push(tokio::spawn(async move {
            let body = json!({"metadata": {"name": "app"}, "tag": format!("t{n}"), "image": {"metadata": {"name": format!("sha256:{n:064x}")}, "dockerImageReference": format!("q.io/a@sha256:{n:064x}")}});
            let req = Request::post("/apis/image.openshift.io/v1/namespaces/default/imagestreammappings")
                .header("content-type", "application/json")
                .body(Body::from(body.to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let mut last = rv(&created);
    let mut tags = 0;
    for _ in 0..40 {
        let e = w.expect().await;
        let v = rv(&e["object"]);
        assert!(v > last, "versions strictly increase: {v} after {last}");
        last = v;
        tags = e["object"]["status"]["tags"].as_array().map(|a| a.len()).unwrap_or(0);
    }
    assert_eq!(tags, 40, "the last event holds every change");
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "no event beyond the 40 changes");
}

#[tokio::test]
async fn bookmarks_while_idle() {
    let app = TestApp::new().await;
    // Real time, kept short: the bookmark timer is tokio's, and pausing tokio's clock does not
    // work here (the watch reads SQLite on another thread, so a paused runtime looks idle and
    // jumps past every deadline).
    let service = app.service.clone().with_bookmark_interval(Duration::from_millis(200));
    let router = server::http::api_router(service);
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let req = Request::get(format!(
        "/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=true&allowWatchBookmarks=true&resourceVersion={}",
        rv(&created)
    ))
    .body(Body::empty())
    .unwrap();
    let resp = router.oneshot(req).await.unwrap();
    let mut w = Watch { body: resp.into_body(), buf: vec![] };
    let b = w.expect().await;
    assert_eq!(b["type"], "BOOKMARK");
    assert_eq!(b["object"]["kind"], "ImageStream");
    assert!(rv(&b["object"]) >= rv(&created));
}

/// One more real change of `default/<stream>` (a new tag pushed), and the stream's
/// resourceVersion after it. A watch whose next event carries that version has nothing queued
/// before it: a check that needs no waiting window.
async fn sentinel_change(app: &TestApp, stream: &str) -> i64 {
    assert_eq!(app.push("default", stream, "sentinel", &digest_n(999)).await.status, StatusCode::CREATED);
    rv(&app.get(&is_path("default", stream)).await.body)
}
