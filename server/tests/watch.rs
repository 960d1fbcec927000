//! The watch API: replay and resume from a resourceVersion, live changes, 410 for a trimmed
//! version, no event for no-op writes, order across many quick changes, filters, deletions, the
//! paged initial listing. Access that ends ends the watch (issue 13, the live review's H3): a
//! revoked or expired token, a removed member, a signed-out live stream, a namespace made
//! private, a namespace deleted and created again (never reaching the old watcher, nor
//! replaying the old namespace to the new owner); the maximum lifetime and the limit per client.

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
        Watch::open_as(app, &format!("/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=1{query}"), &[]).await
    }

    /// A watch at `path` with the request headers `headers` (credentials).
    async fn open_as(app: &TestApp, path: &str, headers: &[(String, String)]) -> Result<Watch, (StatusCode, Value)> {
        let mut req = Request::get(path);
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
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

    /// Whether the server ends the stream within `wait` (no further event before the end).
    async fn closes_within(&mut self, wait: Duration) -> bool {
        assert!(!self.buf.contains(&b'\n'), "an event before the end: {}", String::from_utf8_lossy(&self.buf));
        match tokio::time::timeout(wait, self.body.frame()).await {
            Ok(None) => true,
            Ok(Some(Ok(frame))) => panic!("an event before the end: {:?}", frame.into_data()),
            Ok(Some(Err(e))) => panic!("the stream failed: {e}"),
            Err(_) => false,
        }
    }

    /// Every event until the end of the stream (which must come within 5 s).
    async fn until_end(&mut self) -> Vec<Value> {
        let mut events = vec![];
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                events.push(serde_json::from_slice(&line).unwrap());
                continue;
            }
            match tokio::time::timeout(Duration::from_secs(5), self.body.frame()).await.expect("the watch ends within 5 s") {
                None => return events,
                Some(frame) => {
                    if let Ok(data) = frame.unwrap().into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
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
    let middle = rv(&app.get(&is_path("default", "app")).await.body);
    app.push("default", "app", "v2", &digest_n(2)).await;
    let newest = rv(&app.get(&is_path("default", "app")).await.body);
    // A replay sends the stream once, at its newest state and exactly that version (the log
    // records what changed; the stream is rendered from its rows).
    let mut w = Watch::open(&app, &format!("&resourceVersion={start}")).await.unwrap();
    let b = w.expect().await;
    assert_eq!((b["type"].as_str(), rv(&b["object"])), (Some("MODIFIED"), newest), "{b}");
    assert_eq!(b["object"]["status"]["tags"].as_array().unwrap().len(), 2);
    assert_eq!(b["object"]["status"]["dockerImageRepository"], "registry.test:5000/default/app", "objects are decorated like reads");
    // Then live: a change made after the previous one was sent is its own event, at its version.
    for (n, tag) in [(3, "v3"), (4, "v4")] {
        app.push("default", "app", tag, &digest_n(n)).await;
        let e = w.expect().await;
        assert_eq!(rv(&e["object"]), rv(&app.get(&is_path("default", "app")).await.body), "{e}");
        assert_eq!(e["object"]["status"]["tags"].as_array().unwrap().len(), n as usize);
    }
    // Resume from the middle: only what came after, once per stream, newest last.
    let mut resumed = Watch::open(&app, &format!("&resourceVersion={middle}")).await.unwrap();
    let e = resumed.expect().await;
    assert_eq!(e["object"]["status"]["tags"].as_array().unwrap().len(), 4, "{e}");
    // Nothing is sent twice: the next event after it is the next change, not a repeat.
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&resumed.expect().await["object"]), sentinel, "nothing is sent twice");
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "nothing is sent twice");
}

/// The log keeps what changed, not whole streams: a replay brings each changed stream once, in
/// the order of their last changes (a stream created and changed since as MODIFIED, which
/// informers take as its addition), a deleted one as DELETED with its last state; a label
/// selector sees the same states of the streams it selects (issue 18, point 6).
#[tokio::test]
async fn a_replay_sends_each_changed_stream_once_at_its_newest_state() {
    let app = TestApp::new().await;
    let first = app.create_stream("default", json!({"metadata": {"name": "a"}})).await.body;
    app.create_stream("default", json!({"metadata": {"name": "gone"}})).await;
    app.push("default", "a", "v1", &digest_n(1)).await;
    app.create_stream("default", json!({"metadata": {"name": "b", "labels": {"team": "x"}}})).await;
    app.push("default", "b", "v1", &digest_n(2)).await;
    app.push("default", "gone", "v1", &digest_n(4)).await;
    app.push("default", "a", "v2", &digest_n(3)).await;
    assert_eq!(app.delete(&is_path("default", "gone")).await.status, StatusCode::OK);
    let a = rv(&app.get(&is_path("default", "a")).await.body);
    let b = rv(&app.get(&is_path("default", "b")).await.body);
    let mut w = Watch::open(&app, &format!("&resourceVersion={}", rv(&first))).await.unwrap();
    let seen: Vec<(String, String, i64, usize)> = [w.expect().await, w.expect().await, w.expect().await]
        .iter()
        .map(|e| {
            let tags = e["object"]["status"]["tags"].as_array().map_or(0, |t| t.len());
            (e["type"].as_str().unwrap().to_string(), e["object"]["metadata"]["name"].as_str().unwrap().to_string(), rv(&e["object"]), tags)
        })
        .collect();
    let deleted = &seen[2];
    assert_eq!(
        seen[..2].to_vec(),
        vec![("MODIFIED".to_string(), "b".to_string(), b, 1), ("MODIFIED".to_string(), "a".to_string(), a, 2)],
        "{seen:?}"
    );
    assert_eq!((deleted.0.as_str(), deleted.1.as_str(), deleted.3), ("DELETED", "gone", 1), "the last state: {seen:?}");
    assert!(deleted.2 > a, "{seen:?}");
    let sentinel = sentinel_change(&app, "a").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "one event per changed stream");
    // A label selector sees the same states: b alone, the one stream with the label.
    let mut labelled = Watch::open(&app, &format!("&labelSelector=team%3Dx&resourceVersion={}", rv(&first))).await.unwrap();
    let e = labelled.expect().await;
    assert_eq!((e["type"].as_str(), e["object"]["metadata"]["name"].as_str(), rv(&e["object"])), (Some("MODIFIED"), Some("b"), b), "{e}");
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
    // From the horizon on, it works: the stream at its newest version, once.
    let horizon: i64 = body["message"].as_str().unwrap().rsplit('(').next().unwrap().trim_end_matches(')').parse().unwrap();
    let mut w = Watch::open(&app, &format!("&resourceVersion={horizon}")).await.unwrap();
    let e = w.expect().await;
    assert_eq!((e["type"].as_str(), rv(&e["object"])), (Some("MODIFIED"), rv(&app.get(&is_path("default", "app")).await.body)));
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel);
}

/// A version the server has not reached (a client that saw more than a backup this server was
/// restored from holds) is 504 Timeout with the cause client-go looks for, at once, rather than
/// a watch that waits for it in silence; a version that is not an unsigned integer is 400.
#[tokio::test]
async fn a_version_not_reached_yet_is_too_large_and_a_negative_one_is_invalid() {
    let app = TestApp::new().await;
    let current = rv(&app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body);
    for ahead in [format!("{}", current + 1), "99999999999".into(), u64::MAX.to_string()] {
        let (status, body) = Watch::open(&app, &format!("&resourceVersion={ahead}")).await.err().unwrap();
        assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{ahead}: {body}");
        assert_eq!(body["reason"], "Timeout", "{body}");
        assert_eq!(body["code"], 504, "{body}");
        assert_eq!(body["details"]["causes"][0]["reason"], "ResourceVersionTooLarge", "{body}");
        assert_eq!(body["details"]["retryAfterSeconds"], 1, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.starts_with("Too large resource version: ") && message.ends_with(&format!(", current: {current}")), "{message}");
    }
    // The current version itself is a valid starting point: the next change arrives.
    let mut w = Watch::open(&app, &format!("&resourceVersion={current}")).await.unwrap();
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel);
    for bad in ["-1", "1.5", "x"] {
        let (status, body) = Watch::open(&app, &format!("&resourceVersion={bad}")).await.err().unwrap();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["message"], format!("resourceVersion: Invalid value: {bad:?}: must be a non-negative integer"), "{body}");
    }
}

/// A live page whose version was trimmed (left open for hours, or demo data older than the log
/// keeps) is told to read itself again and then follows from now; it is not left dead by a 410.
#[tokio::test]
async fn a_live_page_from_a_trimmed_version_resyncs_and_follows() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let old = rv(&created);
    for n in 1..=3 {
        app.push("default", "app", "v1", &digest_n(n)).await;
    }
    app.service.trim_watch_events(Duration::from_secs(3600), 1).await.unwrap();
    let mut live = Live::open(&app, &format!("?namespace=default&name=app&resourceVersion={old}"), &[]).await;
    assert_eq!(live.next().await.unwrap(), json!({"type": "RESYNC"}));
    app.push("default", "app", "v2", &digest_n(9)).await;
    let e = live.next().await.unwrap();
    assert_eq!((e["type"].as_str(), e["object"]["metadata"]["name"].as_str()), (Some("MODIFIED"), Some("app")), "{e}");
    assert!(e["object"]["status"]["tags"].as_array().unwrap().iter().any(|t| t["tag"] == "v2"), "{e}");
    // The same through the browser's reconnect header.
    let mut again = Live::open(&app, "?namespace=default&name=app", &[("last-event-id".into(), old.to_string())]).await;
    assert_eq!(again.next().await.unwrap()["type"], "RESYNC");
    // A version from the future (a server restored from an older backup): the same.
    let mut ahead = Live::open(&app, "?namespace=default&name=app", &[("last-event-id".into(), "99999999999".into())]).await;
    assert_eq!(ahead.next().await.unwrap()["type"], "RESYNC");
    app.push("default", "app", "v3", &digest_n(10)).await;
    assert_eq!(ahead.next().await.unwrap()["type"], "MODIFIED");
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
    // A watcher behind a burst gets the stream's states in order, each at its own version (a
    // state it fell behind on is skipped, never sent out of order), ending at the newest.
    let newest = rv(&app.get(&is_path("default", "app")).await.body);
    let mut last = rv(&created);
    let mut events = 0;
    while last < newest {
        let e = w.expect().await;
        let v = rv(&e["object"]);
        assert!(v > last, "versions strictly increase: {v} after {last}");
        let tags = e["object"]["status"]["tags"].as_array().map(|a| a.len()).unwrap_or(0);
        assert!(tags as i64 >= v - newest + 40, "a state holds every change before it: {tags} tags at {v}");
        last = v;
        events += 1;
    }
    assert_eq!(last, newest, "the last event is the newest state");
    assert!(events <= 40, "{events} events for 40 changes");
    let sentinel = sentinel_change(&app, "app").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "no event beyond the 40 changes");
}

#[tokio::test]
async fn bookmarks_while_idle() {
    let app = TestApp::new().await;
    // Bookmarks run on the service clock: moving it past the interval brings one at once.
    let service = app.service.clone().with_bookmark_interval(Duration::from_secs(30));
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
    app.advance(31);
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

// ---------------------------------------------------------------------------------------------
// Access that ends, ends the watch (issue 13, point 4; the live review's H3).

const IS: &str = "/apis/image.openshift.io/v1/namespaces";

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".into(), format!("Bearer {token}"))]
}

fn cookie(session: &str) -> Vec<(String, String)> {
    vec![("cookie".into(), format!("imagestreams_session={session}"))]
}

async fn ok(app: &TestApp, method: &str, path: &str, body: Option<Value>, h: &[(String, String)]) -> Value {
    let r = app.send_with(method, path, body, h).await;
    assert!(r.status.is_success(), "{method} {path}: {} {}", r.status, r.text);
    r.body
}

async fn sign_in(app: &TestApp, user: &str) -> String {
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": user, "password": format!("{user}-password-1")})), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.set_cookie.expect("a session cookie").split(';').next().unwrap().trim_start_matches("imagestreams_session=").to_string()
}

async fn token(app: &TestApp, session: &str, spec: Value) -> String {
    ok(app, "POST", "/api/v1/tokens", Some(spec), &cookie(session)).await["token"].as_str().unwrap().to_string()
}

/// The public id of a token (`ist_<id>_<secret>`).
fn token_id(token: &str) -> &str {
    token.split('_').nth(1).unwrap()
}

/// The live review's set-up: accounts on; `admin` (server administrator) made user `alice` and
/// `bob`, namespace `team` with stream `s0`; alice is a viewer of `team`.
struct Review {
    app: TestApp,
    admin: Vec<(String, String)>,
    alice: String,
    bob: String,
}

async fn review_with(setup: impl FnOnce(server::service::Service) -> server::service::Service) -> Review {
    let app = TestApp::build(tempfile::tempdir().unwrap(), setup).await;
    assert_eq!(app.service.bootstrap_admin("admin", "admin-password-1").await.unwrap(), server::service::Bootstrap::Created);
    let admin = cookie(&sign_in(&app, "admin").await);
    for u in ["alice", "bob"] {
        ok(&app, "POST", "/api/v1/users", Some(json!({"name": u, "password": format!("{u}-password-1")})), &admin).await;
    }
    ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), &admin).await;
    ok(&app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "s0"}})), &admin).await;
    ok(&app, "PUT", "/api/v1/namespaces/team/members/alice", Some(json!({"role": "viewer"})), &admin).await;
    let (alice, bob) = (sign_in(&app, "alice").await, sign_in(&app, "bob").await);
    Review { app, admin, alice, bob }
}

/// The review's set-up with a re-check timer too slow to matter: what ends its watches within
/// the tests' wait is the access epoch that every account change moves.
async fn review() -> Review {
    let epoch_only = server::service::WatchLimits { recheck_interval: Duration::from_secs(3600), ..Default::default() };
    review_with(|s| s.with_watch_limits(epoch_only)).await
}

/// A watch of `team` from now on (no initial listing), as `who`.
async fn watch_team(r: &Review, who: &[(String, String)]) -> Watch {
    let now = r.app.service.current_resource_version().await.unwrap();
    Watch::open_as(&r.app, &format!("{IS}/team/imagestreams?watch=1&resourceVersion={now}"), who).await.unwrap()
}

/// Asserts the watch's next event is the ERROR `Status` with `code`, then that it closes.
async fn ends_with_error(w: &mut Watch, code: u64) -> Value {
    let e = w.expect().await;
    assert_eq!((e["type"].as_str(), e["object"]["kind"].as_str()), (Some("ERROR"), Some("Status")), "{e}");
    assert_eq!(e["object"]["code"], code, "{e}");
    assert!(w.closes_within(Duration::from_secs(2)).await, "the watch closes after its ERROR");
    e
}

#[tokio::test]
async fn revoked_token_ends_its_watch_and_sees_nothing_after() {
    let r = review().await;
    let t1 = token(&r.app, &r.alice, json!({"name": "t1"})).await;
    let mut w1 = watch_team(&r, &bearer(&t1)).await;
    ok(&r.app, "DELETE", &format!("/api/v1/tokens/{}", token_id(&t1)), None, &cookie(&r.alice)).await;
    // What the review saw arrive after the revocation.
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "s1-after-revoke"}})), &r.admin).await;
    let e = ends_with_error(&mut w1, 401).await;
    assert_eq!(e["object"]["reason"], "Unauthorized");
}

#[tokio::test]
async fn expired_token_ends_its_watch_on_the_service_clock() {
    // Expiry is announced by nothing: moving the service clock makes the watch ask again (the
    // real-time re-check timer is an hour here, so it is not what ends the watch).
    let r = review_with(|s| {
        s.with_watch_limits(server::service::WatchLimits { recheck_interval: Duration::from_secs(3600), ..Default::default() })
    })
    .await;
    let expires = (r.app.service.clock_now() + chrono::Duration::minutes(10)).to_rfc3339();
    let t = token(&r.app, &r.alice, json!({"name": "short", "expires": expires})).await;
    let mut w = watch_team(&r, &bearer(&t)).await;
    assert!(w.next(Duration::from_millis(200)).await.is_none(), "the token is still valid: the watch stays open");
    r.app.advance(11 * 60);
    ends_with_error(&mut w, 401).await;
}

/// Credentials that lapse with nothing announcing it (the clock moved without telling the
/// service, as real time passes) are noticed by the watch's re-check timer.
#[tokio::test]
async fn lapsed_credentials_end_their_watch_at_the_next_recheck() {
    let r = review_with(|s| {
        s.with_watch_limits(server::service::WatchLimits { recheck_interval: Duration::from_millis(50), ..Default::default() })
    })
    .await;
    let expires = (r.app.service.clock_now() + chrono::Duration::minutes(10)).to_rfc3339();
    let t = token(&r.app, &r.alice, json!({"name": "short", "expires": expires})).await;
    let mut w = watch_team(&r, &bearer(&t)).await;
    assert!(w.next(Duration::from_millis(200)).await.is_none(), "the token is still valid: the watch stays open");
    *r.app.clock.0.lock().unwrap() += chrono::Duration::minutes(11);
    ends_with_error(&mut w, 401).await;
}

/// How often an open watch's task is woken while nothing happens: polls its body whenever it is
/// woken (with a waker that counts) for `settle` and then `idle`, and reports the wake-ups during
/// `idle` (those of `settle` are the watch's start: its first read of the log, the hub's first
/// batch).
async fn wakes_while_idle(w: &mut Watch, settle: Duration, idle: Duration) -> usize {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Counting(AtomicUsize);
    impl std::task::Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let count = Arc::new(Counting(AtomicUsize::new(0)));
    let waker = std::task::Waker::from(count.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let start = tokio::time::Instant::now();
    let (settled, end) = (start + settle, start + settle + idle);
    let mut before_idle = None;
    let mut seen = usize::MAX;
    while tokio::time::Instant::now() < end {
        let now = count.0.load(Ordering::SeqCst);
        if now != seen {
            seen = now;
            let polled = axum::body::HttpBody::poll_frame(std::pin::Pin::new(&mut w.body), &mut cx);
            assert!(polled.is_pending(), "nothing to send while idle");
        }
        if before_idle.is_none() && tokio::time::Instant::now() >= settled {
            before_idle = Some(count.0.load(Ordering::SeqCst));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    count.0.load(Ordering::SeqCst) - before_idle.unwrap_or(0)
}

/// An idle watch is woken only when something is due for it (issue 18: a re-check timer woke
/// each of 10,000 idle watches every second). Without credentials that can lapse, nothing is
/// due before its deadline; with a token, each re-check is.
#[tokio::test]
async fn an_idle_watch_wakes_only_when_something_is_due() {
    let (settle, idle) = (Duration::from_millis(300), Duration::from_millis(400));
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_watch_limits(limits(Duration::from_secs(3600), 100))).await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let mut anonymous = Watch::open(&app, &format!("&resourceVersion={}", rv(&created))).await.unwrap();
    assert_eq!(wakes_while_idle(&mut anonymous, settle, idle).await, 0, "a watch without credentials has nothing due");
    // A change still wakes it, and reaches it.
    app.create_stream("default", json!({"metadata": {"name": "woken"}})).await;
    assert_eq!(anonymous.expect().await["object"]["metadata"]["name"], "woken");

    let r = review_with(|s| s.with_watch_limits(limits(Duration::from_secs(3600), 100))).await;
    let t = token(&r.app, &r.alice, json!({"name": "t"})).await;
    let mut with_token = watch_team(&r, &bearer(&t)).await;
    let rechecks = wakes_while_idle(&mut with_token, settle, idle).await;
    assert!(rechecks >= 5, "a watch with a token asks again every 20 ms: woken {rechecks} times in 400 ms");
}

#[tokio::test]
async fn removed_member_watch_ends_and_sees_nothing_after() {
    let r = review().await;
    let t2 = token(&r.app, &r.alice, json!({"name": "t2"})).await;
    let mut w2 = watch_team(&r, &bearer(&t2)).await;
    ok(&r.app, "DELETE", "/api/v1/namespaces/team/members/alice", None, &r.admin).await;
    let secret = json!({"metadata": {"name": "s2-after-removal", "annotations": {"secret": "after-removal"}}});
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(secret), &r.admin).await;
    // What a new request with the same token gets: the namespace is not there for her.
    ends_with_error(&mut w2, 404).await;
}

#[tokio::test]
async fn removed_member_watch_across_namespaces_ends() {
    let r = review().await;
    let t = token(&r.app, &r.alice, json!({"name": "all"})).await;
    let now = r.app.service.current_resource_version().await.unwrap();
    let mut w = Watch::open_as(&r.app, &format!("/apis/image.openshift.io/v1/imagestreams?watch=1&resourceVersion={now}"), &bearer(&t))
        .await
        .unwrap();
    ok(&r.app, "DELETE", "/api/v1/namespaces/team/members/alice", None, &r.admin).await;
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "s2-after-removal"}})), &r.admin).await;
    let e = ends_with_error(&mut w, 410).await;
    assert!(e["object"]["message"].as_str().unwrap().contains("\"team\""), "{e}");
}

/// A live (server-sent events) stream: the JSON of each `data:` line.
struct Live {
    body: Body,
    buf: String,
}

impl Live {
    async fn open(app: &TestApp, query: &str, headers: &[(String, String)]) -> Live {
        let mut req = Request::get(format!("/api/v1/live/imagestreams{query}"));
        for (k, v) in headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let resp = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        Live { body: resp.into_body(), buf: String::new() }
    }

    /// The next event's data, or `None` when the stream ended (within 5 s).
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.find("\n\n") {
                let event: String = self.buf.drain(..i + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return Some(serde_json::from_str(data).unwrap());
                }
                continue;
            }
            let frame = tokio::time::timeout(Duration::from_secs(5), self.body.frame()).await.expect("an event or the end within 5 s")?;
            if let Ok(data) = frame.unwrap().into_data() {
                self.buf.push_str(&String::from_utf8_lossy(&data));
            }
        }
    }
}

#[tokio::test]
async fn signed_out_live_stream_ends() {
    let r = review().await;
    let mut w3 = Live::open(&r.app, "", &cookie(&r.alice)).await;
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "s1"}})), &r.admin).await;
    assert_eq!(w3.next().await.unwrap()["object"]["metadata"]["name"], "s1", "signed in, she sees team's changes");
    let out = r.app.send_with("DELETE", "/api/v1/session", None, &cookie(&r.alice)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT, "{}", out.text);
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "s2-after-sign-out"}})), &r.admin).await;
    let e = w3.next().await.unwrap();
    assert_eq!((e["type"].as_str(), e["object"]["code"].as_u64()), (Some("ERROR"), Some(401)), "{e}");
    assert!(w3.next().await.is_none(), "the stream closes after its ERROR");
}

#[tokio::test]
async fn password_change_ends_the_other_sessions_streams() {
    let r = review().await;
    let laptop = sign_in(&r.app, "alice").await;
    let mut w = watch_team(&r, &cookie(&laptop)).await;
    let change = json!({"current": "alice-password-1", "new": "alice-password-2"});
    let changed = r.app.send_with("PUT", "/api/v1/session/password", Some(change), &cookie(&r.alice)).await;
    assert!(changed.status.is_success(), "{}", changed.text);
    ends_with_error(&mut w, 401).await;
}

#[tokio::test]
async fn namespace_made_private_ends_anonymous_watch() {
    let r = review().await;
    ok(&r.app, "PUT", "/api/v1/namespaces/team/visibility", Some(json!({"public": true})), &r.admin).await;
    let mut w = watch_team(&r, &[]).await;
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "while-public"}})), &r.admin).await;
    assert_eq!(w.expect().await["object"]["metadata"]["name"], "while-public");
    ok(&r.app, "PUT", "/api/v1/namespaces/team/visibility", Some(json!({"public": false})), &r.admin).await;
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "after-private"}})), &r.admin).await;
    // Anonymous on a private namespace: sign in first.
    ends_with_error(&mut w, 401).await;
}

#[tokio::test]
async fn recreated_namespace_never_reaches_the_old_watcher() {
    let r = review().await;
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "s1"}})), &r.admin).await;
    let before_delete = r.app.service.current_resource_version().await.unwrap();
    let t3 = token(&r.app, &r.alice, json!({"name": "t3"})).await;
    let mut old = watch_team(&r, &bearer(&t3)).await;
    let mut old_all =
        Watch::open_as(&r.app, &format!("/apis/image.openshift.io/v1/imagestreams?watch=1&resourceVersion={before_delete}"), &bearer(&t3))
            .await
            .unwrap();
    ok(&r.app, "DELETE", "/api/v1/namespaces/team", None, &r.admin).await;
    let bob = cookie(&r.bob);
    ok(&r.app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), &bob).await;
    ok(&r.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "bobs-private"}})), &bob).await;
    for (watch, code) in [(&mut old, 404), (&mut old_all, 410)] {
        let events = watch.until_end().await;
        let (last, before) = events.split_last().expect("an ERROR event");
        assert_eq!((last["type"].as_str(), last["object"]["code"].as_u64()), (Some("ERROR"), Some(code)), "{events:?}");
        // Whatever came before the end was the old namespace's streams going away.
        for e in before {
            assert_eq!(e["type"], "DELETED", "{events:?}");
            assert!(["s0", "s1"].contains(&e["object"]["metadata"]["name"].as_str().unwrap()), "{events:?}");
        }
    }
    // Bob's replay of `team` from before the deletion shows only his namespace: no DELETED of
    // the old streams, no ADDED of them either.
    let mut replay =
        Watch::open_as(&r.app, &format!("{IS}/team/imagestreams?watch=1&resourceVersion={before_delete}"), &bob).await.unwrap();
    let first = replay.expect().await;
    assert_eq!((first["type"].as_str(), first["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("bobs-private")), "{first}");
    assert!(replay.next(Duration::from_millis(300)).await.is_none(), "nothing of the old namespace follows");
    // Nor does bob's audit of `team` show the old namespace's entries (alice's membership, the
    // admin's streams and the deletion); his own creation is there.
    let audit = ok(&r.app, "GET", "/api/v1/namespaces/team/audit", None, &bob).await;
    let text = audit.to_string();
    assert!(!text.contains("alice") && !text.contains("\"admin\""), "{text}");
    assert!(text.contains("bob"), "{text}");
}

fn limits(max_duration: Duration, max_per_client: usize) -> server::service::WatchLimits {
    server::service::WatchLimits { max_duration, max_per_client, recheck_interval: Duration::from_millis(20) }
}

#[tokio::test]
async fn watch_ends_cleanly_at_its_maximum_lifetime() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_watch_limits(limits(Duration::from_secs(60), 100))).await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let mut w = Watch::open(&app, &format!("&resourceVersion={}", rv(&created))).await.unwrap();
    app.advance(30);
    assert!(!w.closes_within(Duration::from_millis(200)).await, "half its lifetime: still open");
    app.advance(31);
    // A clean end: no ERROR; the client resumes from its last version.
    assert!(w.closes_within(Duration::from_secs(2)).await, "ended at its maximum lifetime");
}

/// `timeoutSeconds` (Kubernetes' `ListOptions`; the Python client's `timeout_seconds`) ends the
/// watch cleanly when it passes, within the server's maximum lifetime; a value that is not a
/// non-negative integer is refused.
#[tokio::test]
async fn watch_ends_cleanly_after_its_timeout_seconds() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_watch_limits(limits(Duration::from_secs(60), 100))).await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let mut w = Watch::open(&app, &format!("&resourceVersion={}&timeoutSeconds=10", rv(&created))).await.unwrap();
    let mut unbounded = Watch::open(&app, &format!("&resourceVersion={}&timeoutSeconds=0", rv(&created))).await.unwrap();
    app.advance(9);
    assert!(!w.closes_within(Duration::from_millis(200)).await, "before its timeout: still open");
    app.advance(2);
    assert!(w.closes_within(Duration::from_secs(2)).await, "ended after timeoutSeconds");
    assert!(!unbounded.closes_within(Duration::from_millis(200)).await, "timeoutSeconds=0 sets no timeout");
    // Longer than the server allows: the server's maximum lifetime ends it.
    let mut long = Watch::open(&app, &format!("&resourceVersion={}&timeoutSeconds=3600", rv(&created))).await.unwrap();
    app.advance(61);
    assert!(long.closes_within(Duration::from_secs(2)).await, "ended at the server's maximum lifetime");
    for bad in ["-1", "1.5", "x"] {
        let Err((status, body)) = Watch::open(&app, &format!("&timeoutSeconds={bad}")).await else { panic!("{bad}: accepted") };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(body["message"].as_str().unwrap().starts_with("timeoutSeconds: Invalid value"), "{body}");
    }
}

#[tokio::test]
async fn watches_per_client_are_limited() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_watch_limits(limits(Duration::from_secs(3600), 2))).await;
    let first = Watch::open(&app, "&resourceVersion=1").await.unwrap();
    let _second = Watch::open(&app, "&resourceVersion=1").await.unwrap();
    let (status, body) = Watch::open(&app, "&resourceVersion=1").await.err().unwrap();
    assert_eq!((status, body["reason"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("TooManyRequests")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("--max-watches-per-client"), "{body}");
    assert_eq!(body["details"]["retryAfterSeconds"], 1, "{body}");
    // As the Kubernetes API server answers a 429: the wait in a Retry-After header too.
    let refused = app
        .router
        .clone()
        .oneshot(
            Request::get("/apis/image.openshift.io/v1/namespaces/default/imagestreams?watch=1&resourceVersion=1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers().get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(app.status_of("GET", "/api/v1/live/imagestreams", &[]).await, StatusCode::TOO_MANY_REQUESTS, "live streams count too");
    // A closed watch gives its place back.
    drop(first);
    assert!(Watch::open(&app, "&resourceVersion=1").await.is_ok());
}

#[tokio::test]
async fn initial_listing_pages_send_every_stream_once() {
    let app = TestApp::new().await;
    // More than one page of the listing (200).
    for n in 0..230 {
        app.create_stream("default", json!({"metadata": {"name": format!("s{n:03}")}})).await;
    }
    let mut w = Watch::open(&app, "").await.unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..230 {
        let e = w.expect().await;
        assert_eq!(e["type"], "ADDED");
        assert!(seen.insert(e["object"]["metadata"]["name"].as_str().unwrap().to_string()), "sent twice: {e}");
    }
    let sentinel = sentinel_change(&app, "s000").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "nothing listed is sent again as a change");
}

#[tokio::test]
async fn changes_during_the_initial_listing_are_sent_once_after_it() {
    let app = TestApp::new().await;
    for n in 0..230 {
        app.create_stream("default", json!({"metadata": {"name": format!("s{n:03}")}})).await;
    }
    let mut w = Watch::open(&app, "").await.unwrap();
    // The first page (s000–s199) is read; the second is read once the first is sent.
    assert_eq!(w.expect().await["object"]["metadata"]["name"], "s000");
    app.push("default", "s010", "v1", &digest_n(1)).await;
    app.push("default", "s220", "v1", &digest_n(2)).await;
    let mut added = vec![];
    for _ in 1..230 {
        let e = w.expect().await;
        assert_eq!(e["type"], "ADDED", "{e}");
        added.push(e);
    }
    let s220 = added.iter().find(|e| e["object"]["metadata"]["name"] == "s220").unwrap();
    assert_eq!(s220["object"]["status"]["tags"][0]["tag"], "v1", "the second page shows s220 as it is now");
    // s010 was listed before its change: the change follows. s220's is in its listing already.
    let next = w.expect().await;
    assert_eq!((next["type"].as_str(), next["object"]["metadata"]["name"].as_str()), (Some("MODIFIED"), Some("s010")), "{next}");
    let sentinel = sentinel_change(&app, "s000").await;
    assert_eq!(rv(&w.expect().await["object"]), sentinel, "s220's change is not sent again");
}

#[test]
fn serve_flags_bound_watches() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: server::serve::ServeArgs,
    }
    let defaults = Cli::try_parse_from(["serve"]).unwrap().serve;
    assert_eq!((defaults.watch_max_duration, defaults.max_watches_per_client), (Duration::from_secs(30 * 60), 100));
    let set = Cli::try_parse_from(["serve", "--watch-max-duration", "5m", "--max-watches-per-client", "3"]).unwrap().serve;
    assert_eq!((set.watch_max_duration, set.max_watches_per_client), (Duration::from_secs(300), 3));
    for bad in [["--watch-max-duration", "0s"], ["--max-watches-per-client", "0"]] {
        let err = Cli::try_parse_from(["serve", bad[0], bad[1]]).err().expect("refused").to_string();
        assert!(err.contains(bad[0]), "{err}");
    }
}
