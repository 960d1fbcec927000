//! The exploits of the security reviews (`shared/reviews/security.md`, `security-live.md`) as
//! regression tests, for what the HTTP edge and the first-administrator bootstrap decide (issue
//! 13, points 1–3): YAML alias bombs and deep nesting, body limits, anonymous writes refused
//! before the body is read, the cross-site `text/plain` takeover of a fresh server, the setup
//! token, a server beyond loopback without an administrator, `Host` checks against DNS
//! rebinding, security headers, and the audit log that anonymous refusals cannot flood.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::TestApp;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use server::service::{AccessConfig, Bootstrap};
use tower::ServiceExt;

/// The answer to a raw request: status, headers, JSON body (or Null) and text.
struct Raw {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    text: String,
}

async fn raw(router: &axum::Router, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Raw {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Raw { status, headers, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), text: String::from_utf8_lossy(&bytes).into() }
}

/// The review's alias bomb: one anchored scalar of `anchor` bytes and `aliases` aliases of it
/// in `metadata.annotations`.
fn alias_bomb(anchor: usize, aliases: usize) -> Vec<u8> {
    let a = "A".repeat(anchor);
    let refs: Vec<String> = (1..aliases).map(|i| format!("k{i}: *a")).collect();
    format!("metadata: {{name: x, annotations: {{k0: &a {a}, {}}}}}\n", refs.join(", ")).into_bytes()
}

/// The live review's H1b: an unknown field nested `depth` flow sequences deep.
fn nested(depth: usize) -> Vec<u8> {
    format!("metadata: {{name: x}}\nzzz: {}{}\n", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

const YAML: (&str, &str) = ("content-type", "application/yaml");

async fn with_admin() -> (TestApp, String) {
    let app = TestApp::new().await;
    assert_eq!(app.service.bootstrap_admin("admin", "admin-password-1").await.unwrap(), Bootstrap::Created);
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "admin", "password": "admin-password-1"})), &[]).await;
    let cookie = r.set_cookie.unwrap().split(';').next().unwrap().to_string();
    (app, cookie)
}

#[tokio::test]
async fn yaml_alias_bombs_and_deep_nesting_are_refused_before_any_expansion() {
    let (app, cookie) = with_admin().await;
    let started = std::time::Instant::now();
    // Anonymous: refused before the body is read, whatever it holds.
    let r = raw(&app.router, "POST", "/api/v1/namespaces", &[YAML], alias_bomb(10_000, 20_000)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = raw(&app.router, "POST", "/api/v1/namespaces", &[YAML], nested(100_000)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    // The review's 1.9 MB bomb is over the route's limit: refused on its declared length.
    let big = alias_bomb(1_000_000, 75_000);
    let len = big.len().to_string();
    let r = raw(&app.router, "POST", "/api/v1/namespaces", &[YAML, ("content-length", &len), ("cookie", &cookie)], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.body["reason"], "RequestEntityTooLarge");

    // Signed in, within the limits: the parser's budget refuses them (400), linear work.
    let is = "/apis/image.openshift.io/v1/namespaces/default/imagestreams";
    for (what, body) in [("alias bomb", alias_bomb(1_000_000, 900)), ("many aliases", alias_bomb(10, 20_000)), ("nesting", nested(100_000))]
    {
        let r = raw(&app.router, "POST", is, &[YAML, ("cookie", &cookie)], body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().starts_with("the request body is not a valid object"), "{what}: {}", r.text);
    }
    // Every one of them together took well under what one expansion would (the review saw 3.6 s
    // for 1.9 GB and 40 s for the nesting); the 50 ms target is measured by
    // scripts/bench-hostile.sh against a release build, not here.
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    // A plain YAML object still works.
    let r = raw(&app.router, "POST", is, &[YAML, ("cookie", &cookie)], b"metadata:\n  name: fine\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn bodies_have_per_route_limits_and_json_endpoints_take_only_json_or_yaml() {
    let (app, cookie) = with_admin().await;
    let big = vec![b' '; 17 * 1024];
    let len = big.len().to_string();
    let r = raw(&app.router, "POST", "/api/v1/session", &[("content-type", "application/json"), ("content-length", &len)], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.body["message"].as_str().unwrap().contains("larger than 16384 bytes"), "{}", r.text);
    // Without a declared length the body is cut off while it streams.
    let r = raw(&app.router, "POST", "/api/v1/tokens", &[("content-type", "application/json"), ("cookie", &cookie)], vec![b' '; 17 * 1024])
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);

    let body = br#"{"metadata":{"name":"plain"}}"#.to_vec();
    let r = raw(&app.router, "POST", "/api/v1/namespaces", &[("content-type", "text/plain"), ("cookie", &cookie)], body.clone()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    assert_eq!(r.body["reason"], "UnsupportedMediaType");
    let r = raw(&app.router, "POST", "/api/v1/namespaces", &[("content-type", "application/json"), ("cookie", &cookie)], body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// H2 of both reviews: a page on another site posts a `text/plain` form to a fresh server to
/// make itself administrator. Every variant is refused, and no user is created.
#[tokio::test]
async fn a_fresh_server_cannot_be_taken_over_by_a_cross_site_form() {
    let app = TestApp::new().await;
    let me = app.get("/api/v1/session").await;
    assert_eq!(me.body["open"], true, "loopback without accounts: single-user");
    let body = b"{\"name\":\"mallory\",\"password\":\"mallory-pass-1\",\"admin\":true,\"x\":\"=\"}\r\n".to_vec();
    let browser = [
        ("host", "127.0.0.1:3000"),
        ("content-type", "text/plain"),
        ("origin", "http://evil.example"),
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-mode", "navigate"),
    ];
    let r = raw(&app.router, "POST", "/api/v1/users", &browser, body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().starts_with("cross-site request refused"), "{}", r.text);
    // Without fetch metadata (an older browser): the foreign Origin.
    let r = raw(&app.router, "POST", "/api/v1/users", &[browser[0], browser[1], browser[2]], body.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Not from a browser at all, but text/plain: 415.
    let r = raw(&app.router, "POST", "/api/v1/users", &[browser[1]], body).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
    // Even as proper JSON from this machine: the first user is never created by an anonymous
    // request, open mode included.
    let r = app.post("/api/v1/users", json!({"name": "mallory", "password": "mallory-pass-1", "admin": true})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("setup token"), "{}", r.text);
    // The sign-in path is covered like every other.
    let r = raw(
        &app.router,
        "POST",
        "/api/v1/session",
        &[("content-type", "text/plain"), ("sec-fetch-site", "cross-site")],
        br#"{"username":"mallory","password":"mallory-pass-1","x":"="}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(app.get("/api/v1/session").await.body["open"], true, "still no user");
    assert!(!app.service.administrator_exists().await.unwrap());
}

#[tokio::test]
async fn the_setup_token_creates_the_first_administrator_once() {
    let app = TestApp::new().await;
    let token = app.service.issue_setup_token().await.unwrap().expect("no administrator yet");
    let setup = [("authorization".to_string(), format!("Bearer {token}"))];
    // It can do nothing else.
    let r = app.send_with("POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "x"}})), &setup).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    let r = app.send_with("POST", "/api/v1/users", Some(json!({"name": "root", "password": "root-password-1"})), &setup).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "only an administrator: {}", r.text);
    let r =
        app.send_with("POST", "/api/v1/users", Some(json!({"name": "root", "password": "root-password-1", "admin": true})), &setup).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["admin"], true);
    // Spent.
    let r = app.send_with("POST", "/api/v1/users", Some(json!({"name": "two", "password": "two-password-1", "admin": true})), &setup).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(app.service.issue_setup_token().await.unwrap(), None, "an administrator exists");
    assert_eq!(app.get("/api/v1/session").await.body["open"], false);
}

/// Beyond loopback, a server without an administrator lets nobody change anything.
#[tokio::test]
async fn a_server_beyond_loopback_without_an_administrator_refuses_every_change() {
    let app =
        TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_access(AccessConfig { loopback_only: false, ..Default::default() })).await;
    let me = app.get("/api/v1/session").await;
    assert_eq!((me.body["open"].as_bool(), me.body["user"].clone()), (Some(false), Value::Null));
    let r = app.post("/api/v1/namespaces", json!({"metadata": {"name": "mine"}})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("no administrator yet"), "{}", r.text);
    let r = app.post("/api/v1/users", json!({"name": "mallory", "password": "mallory-pass-1", "admin": true})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams").await.status, StatusCode::UNAUTHORIZED);
    // The operator's way in.
    assert_eq!(app.service.bootstrap_admin("admin", "admin-password-1").await.unwrap(), Bootstrap::Created);
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "admin", "password": "admin-password-1"})), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// `--admin-password-file` at a later start: when no administrator exists it makes one (a user
/// of that name is promoted), and it never touches a server that has one.
#[tokio::test]
async fn the_admin_password_makes_an_administrator_whenever_none_exists() {
    let (app, cookie) = with_admin().await;
    let h = [("cookie".to_string(), cookie)];
    let r = app.send_with("POST", "/api/v1/users", Some(json!({"name": "ops", "password": "ops-password-1"})), &h).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(app.service.bootstrap_admin("ops", "other-password-1").await.unwrap(), Bootstrap::AdministratorExists);
    // A database whose administrators are gone (an old takeover undone by hand, a restore).
    let dir = app.into_dir();
    {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("imagestreams.db").display())).await.unwrap();
        sqlx::query("UPDATE users SET admin = 0").execute(&pool).await.unwrap();
        pool.close().await;
    }
    let app = TestApp::build(dir, |s| s).await;
    assert!(!app.service.administrator_exists().await.unwrap());
    assert_eq!(app.service.bootstrap_admin("ops", "new-ops-password-1").await.unwrap(), Bootstrap::Promoted);
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "ops", "password": "new-ops-password-1"})), &[]).await;
    assert_eq!((r.status, r.body["admin"].as_bool()), (StatusCode::OK, Some(true)), "{}", r.text);
}

/// DNS rebinding: a page whose own name now resolves to us must not read or change anything.
#[tokio::test]
async fn a_foreign_host_header_is_misdirected_and_security_headers_are_set() {
    let (app, cookie) = with_admin().await;
    for path in ["/api/v1/session", "/apis/image.openshift.io/v1/namespaces/default/imagestreams"] {
        let r = raw(&app.router, "GET", path, &[("host", "rebind.evil.example:3000"), ("cookie", &cookie)], vec![]).await;
        assert_eq!(r.status, StatusCode::MISDIRECTED_REQUEST, "{path}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains("--public-url"), "{}", r.text);
    }
    for host in ["127.0.0.1:3000", "localhost:3000", "[::1]:3000"] {
        assert_eq!(raw(&app.router, "GET", "/api/v1/session", &[("host", host)], vec![]).await.status, StatusCode::OK, "{host}");
    }
    let configured = server::http::api_router_with(app.service.clone(), server::http::EdgeConfig::new(["https://portal.example.com"]));
    assert_eq!(raw(&configured, "GET", "/api/v1/session", &[("host", "portal.example.com")], vec![]).await.status, StatusCode::OK);
    let r = raw(&configured, "GET", "/healthz", &[], vec![]).await;
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    assert_eq!(r.headers["content-security-policy"], "frame-ancestors 'none'");
}

/// The review's M5: anonymous refusals (here 200 deletes of a namespace's stream) leave no trace
/// in that namespace's audit log, so they cannot push real entries out of view.
#[tokio::test]
async fn anonymous_refusals_do_not_flood_the_audit_log() {
    let (app, cookie) = with_admin().await;
    let h = [("cookie".to_string(), cookie)];
    for _ in 0..200 {
        let r = app.delete("/apis/image.openshift.io/v1/namespaces/default/imagestreams/x").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let log = app.send_with("GET", "/api/v1/namespaces/default/audit", None, &h).await;
    assert_eq!(log.body.as_array().map(Vec::len), Some(0), "{}", log.text);
    // A signed-in caller's changes and refusals are recorded.
    app.send_with("POST", "/apis/image.openshift.io/v1/namespaces/default/imagestreams", Some(json!({"metadata": {"name": "s"}})), &h)
        .await;
    let log = app.send_with("GET", "/api/v1/namespaces/default/audit", None, &h).await;
    assert_eq!(log.body.as_array().map(Vec::len), Some(1), "{}", log.text);
}

/// The audit API is paged (`limit`, `continue`, and a `Link` header naming the next page).
#[tokio::test]
async fn the_audit_log_is_paged() {
    let (app, cookie) = with_admin().await;
    let h = [("cookie".to_string(), cookie)];
    for i in 0..5 {
        let r = app
            .send_with(
                "POST",
                "/apis/image.openshift.io/v1/namespaces/default/imagestreams",
                Some(json!({"metadata": {"name": format!("s{i}")}})),
                &h,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
    }
    let mut seen = vec![];
    let mut path = "/api/v1/namespaces/default/audit?limit=2".to_string();
    loop {
        let r = raw(&app.router, "GET", &path, &[("cookie", &h[0].1)], vec![]).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page = r.body.as_array().unwrap().clone();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|e| e["action"].as_str().unwrap().to_string()));
        let Some(link) = r.headers.get("link") else { break };
        let link = link.to_str().unwrap();
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        path = link.trim_start_matches('<').split('>').next().unwrap().to_string();
    }
    let expected: Vec<String> = (0..5)
        .rev()
        .map(|_| "POST /apis/image.openshift.io/v1/namespaces/default/imagestreams (create imagestreams)".to_string())
        .collect();
    assert_eq!(seen, expected, "every entry once, newest first");
    let r = app.send_with("GET", "/api/v1/audit?continue=abc", None, &h).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

/// L6: behind a TLS proxy that does not say `X-Forwarded-Proto`, an https public URL still makes
/// the session cookie `Secure`; a data directory the server creates is private.
#[tokio::test]
async fn session_cookies_are_secure_when_the_public_url_is_https_and_the_data_dir_is_private() {
    let (app, _) = with_admin().await;
    let https =
        server::http::api_router_with(app.service.clone(), server::http::EdgeConfig::new(["https://portal.example.com"]).with_https(true));
    let r = raw(
        &https,
        "POST",
        "/api/v1/session",
        &[("content-type", "application/json")],
        br#"{"username":"admin","password":"admin-password-1"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let set = r.headers["set-cookie"].to_str().unwrap();
    assert!(set.ends_with("; Secure") && set.contains("HttpOnly"), "{set}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("fresh");
        server::store::Store::open(&data).await.unwrap();
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o700);
    }
}

/// L8: catalog search treats `%` and `_` as text in the digest branch too (a `____` query used
/// to match every image), and any page number is answered, never overflowed.
#[tokio::test]
async fn catalog_search_wildcards_are_text_and_pages_never_overflow() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    let digest = common::digest_n(7);
    assert!(app.push("default", "app", "v1", &digest).await.status.is_success());
    let me = server::service::Caller { open: true, ..Default::default() };
    let found = |q: &'static str| {
        let (s, me) = (app.service.clone(), me.clone());
        async move { s.catalog_slice(&me, q, "name", 1).await.unwrap().total }
    };
    assert_eq!(found("____").await, 0);
    assert_eq!(found("%%%%").await, 0);
    let prefix: &'static str = Box::leak(digest.trim_start_matches("sha256:")[..8].to_string().into_boxed_str());
    assert_eq!(found(prefix).await, 1, "a digest prefix still finds its stream");
    // Issue 17 point 8: the namespace, and `namespace/stream`, find it too.
    assert_eq!(found("default").await, 1, "a namespace finds its streams");
    assert_eq!(found("default/").await, 1);
    assert_eq!(found("default/app").await, 1, "namespace/stream");
    assert_eq!(found("other/app").await, 0, "the namespace must match too");
    let last = app.service.catalog_slice(&me, "", "name", u32::MAX).await.unwrap();
    assert!(last.streams.is_empty());
}

/// L6: expired sessions are deleted by the maintenance pass, not kept forever.
#[tokio::test]
async fn expired_sessions_are_purged() {
    let (app, _) = with_admin().await;
    assert_eq!(app.service.purge_expired_sessions().await.unwrap(), 0, "the session is live");
    app.advance(13 * 3600);
    assert_eq!(app.service.purge_expired_sessions().await.unwrap(), 1);
}

/// The live re-test's finding: a read-only CI token could change its owner's password (and
/// guess the current one without limit). A limited token is refused; wrong current passwords
/// are throttled like sign-ins.
#[tokio::test]
async fn a_limited_token_cannot_change_the_password_and_guesses_are_throttled() {
    let (app, cookie) = with_admin().await;
    let h = [("cookie".to_string(), cookie)];
    let t = app.send_with("POST", "/api/v1/tokens", Some(json!({"name": "ci", "maxRole": "viewer"})), &h).await;
    let token = t.body["token"].as_str().unwrap().to_string();
    let limited = [("authorization".to_string(), format!("Bearer {token}"))];
    let change = |current: &str| json!({"current": current, "new": "attacker-pass-1"});
    let r = app.send_with("PUT", "/api/v1/session/password", Some(change("admin-password-1")), &limited).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for _ in 0..3 {
        let r = app.send_with("PUT", "/api/v1/session/password", Some(change("wrong-guess-1")), &h).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    }
    let r = app.send_with("PUT", "/api/v1/session/password", Some(change("admin-password-1")), &h).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the fourth guess waits, right or not: {}", r.text);
    app.advance(2);
    let r = app.send_with("PUT", "/api/v1/session/password", Some(change("admin-password-1")), &h).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

/// The live re-test's finding: a signed-in caller looping on refused requests grew a
/// namespace's audit log without bound. At most 30 refusals per caller and minute are written.
#[tokio::test]
async fn a_signed_in_callers_refusals_cannot_flood_the_audit_log() {
    let (app, cookie) = with_admin().await;
    let h = [("cookie".to_string(), cookie)];
    let r = app.send_with("POST", "/api/v1/users", Some(json!({"name": "mal", "password": "mal-password-1"})), &h).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let s = app.send_with("POST", "/api/v1/session", Some(json!({"username": "mal", "password": "mal-password-1"})), &[]).await;
    let mal = [("cookie".to_string(), s.set_cookie.unwrap().split(';').next().unwrap().to_string())];
    for _ in 0..100 {
        let r = app.send_with("DELETE", "/apis/image.openshift.io/v1/namespaces/default/imagestreams/x", None, &mal).await;
        assert!(r.status.is_client_error());
    }
    let log = app.send_with("GET", "/api/v1/audit?limit=1000", None, &h).await;
    let by_mal = log.body.as_array().unwrap().iter().filter(|e| e["user"] == "mal").count();
    assert_eq!(by_mal, 30, "{}", log.text);
    // A new minute, a new budget.
    app.advance(60);
    app.send_with("DELETE", "/apis/image.openshift.io/v1/namespaces/default/imagestreams/x", None, &mal).await;
    let log = app.send_with("GET", "/api/v1/audit?limit=1000", None, &h).await;
    assert_eq!(log.body.as_array().unwrap().iter().filter(|e| e["user"] == "mal").count(), 31);
}

/// A page's `<title>` names what the address names (namespace, stream, search); markup in the
/// address stays text there (a fresh user's reflected XSS: `/ns/demo/</title><script>…` ran in
/// the reader's session and could create an administrator).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_the_address_is_text_in_the_page_title() {
    let app = TestApp::new().await;
    let options = leptos::prelude::LeptosOptions::builder().output_name("portal").build();
    let portal = server::http::ui::router(app.service.clone(), options, server::http::EdgeConfig::default());
    let evil = "%3C%2Ftitle%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    for path in [format!("/ns/default/{evil}"), format!("/?q={evil}"), format!("/namespaces/{evil}"), format!("/webhooks/{evil}")] {
        let r = raw(&portal, "GET", &path, &[("accept", "text/html")], vec![]).await;
        let head = r.text.split("</head>").next().unwrap_or_default().to_string();
        assert!(!r.text.contains("<script>alert(1)"), "{path}: the markup ran: {head}");
        let title = head.split("<title>").nth(1).and_then(|t| t.split("</title>").next()).unwrap_or_default().to_string();
        assert!(title.contains("&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;"), "{path}: title {title:?}");
    }
}

/// Server functions called with arguments that are missing or do not decode answer 400 (a body
/// past the limit 413), not 500; a plain form's failure never redirects off the site, whatever
/// the Referer says (a fresh user's findings).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_function_argument_errors_are_the_callers_and_redirects_stay_on_the_site() {
    use leptos::server_fn::ServerFn;
    let app = TestApp::new().await;
    let options = leptos::prelude::LeptosOptions::builder().output_name("portal").build();
    let portal = server::http::ui::router(app.service.clone(), options, server::http::EdgeConfig::default());
    let form = ("content-type", "application/x-www-form-urlencoded");
    let r = raw(&portal, "POST", app::api::CreateNamespace::PATH, &[form], vec![]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("missing field `name`"), "{}", r.text);
    let r = raw(&portal, "POST", app::api::Redeliver::PATH, &[form], b"namespace=a&name=b&delivery=abc".to_vec()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    for referer in ["http://evil.example/x", "//evil.example/x", "javascript:alert(1)", "http://localhost/\t/evil.example"] {
        let r = raw(&portal, "POST", app::api::CreateNamespace::PATH, &[form, ("accept", "text/html"), ("referer", referer)], vec![]).await;
        let location = r.headers.get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
        assert!(location.starts_with('/') && !location.starts_with("//"), "{referer}: {} Location {location:?}", r.status);
    }
    // A same-site Referer keeps its path.
    let r = raw(
        &portal,
        "POST",
        app::api::CreateNamespace::PATH,
        &[form, ("accept", "text/html"), ("host", "localhost:3000"), ("referer", "http://localhost:3000/ns/a")],
        vec![],
    )
    .await;
    let location = r.headers.get("location").map(|l| l.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(location.starts_with("/ns/a"), "{location:?}");
}

/// A 60 KB name is refused without coming back whole: the answer repeats the beginning of what
/// was sent, says how long it was, and stays small (it used to carry the name four times).
#[tokio::test]
async fn a_huge_value_is_not_echoed_whole() {
    let app = TestApp::new().await;
    let long = "a".repeat(60_000);
    let r = app.post("/apis/image.openshift.io/v1/namespaces/default/imagestreams", json!({"metadata": {"name": long}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", &r.text[..200.min(r.text.len())]);
    assert!(r.text.len() < 4_000, "the answer is {} bytes", r.text.len());
    assert!(r.body["message"].as_str().unwrap().contains("(60000 bytes)"), "{}", r.body["message"]);
    assert_eq!(r.body["details"]["causes"][0]["field"], "metadata.name");
    let r = app.get(&format!("/apis/image.openshift.io/v1/namespaces/default/imagestreams/{long}")).await;
    assert!(r.text.len() < 4_000, "a 404 for it is {} bytes", r.text.len());
}
