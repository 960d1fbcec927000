//! Teams (PRODUCT.md "What it is": teams, self-service) through the real API router: the
//! authorization matrix (every route for anonymous, viewer, editor, namespace admin, a member of
//! another namespace, the server administrator, and expired and revoked tokens), lists and watches
//! filtered to what the caller may read, public namespaces and --anonymous-read, token limits, the
//! cross-namespace source rule, CSRF refusals, the sign-in slowdown, the first-admin bootstrap,
//! passwords, the audit log, and stored limits and roles that do not decode (refused, never
//! widened).

mod common;

use axum::http::StatusCode;
use common::{TestApp, digest_n, is_path, istag_path};
use futures::StreamExt;
use serde_json::{Value, json};
use server::service::{AccessConfig, Bootstrap, Credentials, WatchRequest};
use std::collections::BTreeMap;

const IS: &str = "/apis/image.openshift.io/v1/namespaces";

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("authorization".into(), format!("Bearer {token}"))]
}

fn cookie(session: &str) -> Vec<(String, String)> {
    vec![("cookie".into(), format!("imagestreams_session={session}"))]
}

fn password(user: &str) -> String {
    format!("{user}-password-1")
}

/// Signs in and returns the session cookie's value.
async fn sign_in(app: &TestApp, user: &str, pass: &str) -> String {
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": user, "password": pass})), &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let set = r.set_cookie.expect("a session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    set.split(';').next().unwrap().trim_start_matches("imagestreams_session=").to_string()
}

async fn ok(app: &TestApp, method: &str, path: &str, body: Option<Value>, h: &[(String, String)]) -> Value {
    let r = app.send_with(method, path, body, h).await;
    assert!(r.status.is_success(), "{method} {path}: {} {}", r.status, r.text);
    r.body
}

async fn token_for(app: &TestApp, session: &str, spec: Value) -> String {
    let t = ok(app, "POST", "/api/v1/tokens", Some(spec), &cookie(session)).await;
    t["token"].as_str().unwrap().to_string()
}

struct Team {
    app: TestApp,
    /// Credentials by caller label.
    who: BTreeMap<&'static str, Vec<(String, String)>>,
    sessions: BTreeMap<&'static str, String>,
}

const CALLERS: [&str; 8] = ["anonymous", "viewer", "editor", "nsadmin", "outsider", "server", "expired", "revoked"];

/// admin (server administrator); ada administers `team` (vera viewer, eddie editor); otto
/// administers `other`. Every caller has a token; eddie also has an expired and a revoked one.
async fn team() -> Team {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = sign_in(&app, "admin", &password("admin")).await;
    for u in ["vera", "eddie", "ada", "otto"] {
        ok(&app, "POST", "/api/v1/users", Some(json!({"name": u, "password": password(u)})), &cookie(&admin)).await;
    }
    let mut sessions = BTreeMap::new();
    for (label, user) in [("viewer", "vera"), ("editor", "eddie"), ("nsadmin", "ada"), ("outsider", "otto"), ("server", "admin")] {
        sessions.insert(label, sign_in(&app, user, &password(user)).await);
    }
    let ada = cookie(&sessions["nsadmin"]);
    ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), &ada).await;
    ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "other"}})), &cookie(&sessions["outsider"])).await;
    ok(&app, "PUT", "/api/v1/namespaces/team/members/vera", Some(json!({"role": "viewer"})), &ada).await;
    ok(&app, "PUT", "/api/v1/namespaces/team/members/eddie", Some(json!({"role": "editor"})), &ada).await;
    // A name no user can have: refused as such (422 naming the field and its rule), not as an
    // unknown user.
    let r = app.send_with("PUT", "/api/v1/namespaces/team/members/Bad_Name", Some(json!({"role": "viewer"})), &ada).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"]["causes"][0]["field"], "user", "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("RFC 1123"), "{}", r.text);
    ok(&app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "app"}})), &ada).await;
    let mapping = |tag: &str, n: u64| json!({"metadata": {"name": "app"}, "tag": tag, "image": {"metadata": {"name": digest_n(n)}, "dockerImageReference": format!("quay.io/o/app@{}", digest_n(n))}});
    ok(&app, "POST", &format!("{IS}/team/imagestreammappings"), Some(mapping("latest", 1)), &ada).await;
    let hook = json!({"metadata": {"name": "hook"}, "spec": {"url": "https://hooks.example.com/x", "secret": "0123456789abcdef", "tags": ["app:*"]}});
    ok(&app, "POST", "/api/v1/namespaces/team/webhooks", Some(hook), &ada).await;
    ok(&app, "PUT", "/api/v1/namespaces/team/retention", Some(json!({"keepTagRevisions": 5})), &ada).await;
    for label in CALLERS {
        // What each caller's deletions may remove.
        ok(&app, "POST", &format!("{IS}/team/imagestreammappings"), Some(mapping(&format!("d-{label}"), 2)), &ada).await;
        ok(&app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": format!("del-{label}")}})), &ada).await;
    }
    ok(&app, "POST", "/api/v1/users", Some(json!({"name": "dummy", "password": password("dummy")})), &cookie(&admin)).await;
    let secret = |name: String| {
        json!({"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": "{\"auths\":{\"r.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}"}})
    };
    ok(&app, "POST", "/api/v1/namespaces/team/secrets", Some(secret("reg".into())), &ada).await;
    ok(&app, "POST", "/api/v1/namespaces/team/webhooks/hook/test", Some(json!({})), &ada).await;
    for label in CALLERS {
        ok(&app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": format!("put-{label}")}})), &ada).await;
        let w = json!({"metadata": {"name": format!("wd-{label}")}, "spec": {"url": "https://hooks.example.com/z", "secret": "0123456789abcdef", "tags": ["*:*"]}});
        ok(&app, "POST", "/api/v1/namespaces/team/webhooks", Some(w), &ada).await;
        ok(&app, "POST", "/api/v1/namespaces/team/secrets", Some(secret(format!("sd-{label}"))), &ada).await;
        let gone = format!("gone-{label}");
        ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": gone}})), &ada).await;
        ok(&app, "PUT", &format!("/api/v1/namespaces/{gone}/members/vera"), Some(json!({"role": "viewer"})), &ada).await;
        ok(&app, "PUT", &format!("/api/v1/namespaces/{gone}/members/eddie"), Some(json!({"role": "editor"})), &ada).await;
        let user = format!("m-{label}");
        ok(&app, "POST", "/api/v1/users", Some(json!({"name": user, "password": password("m")})), &cookie(&admin)).await;
        ok(&app, "PUT", &format!("/api/v1/namespaces/team/members/{user}"), Some(json!({"role": "viewer"})), &ada).await;
    }
    let mut who = BTreeMap::new();
    who.insert("anonymous", vec![]);
    for label in ["viewer", "editor", "nsadmin", "outsider", "server"] {
        let t = token_for(&app, &sessions[label], json!({"name": "matrix"})).await;
        who.insert(label, bearer(&t));
    }
    let expires = (app.service.clock_now() + chrono::Duration::hours(1)).to_rfc3339();
    let expired = token_for(&app, &sessions["editor"], json!({"name": "short", "expires": expires})).await;
    who.insert("expired", bearer(&expired));
    let revoked = token_for(&app, &sessions["editor"], json!({"name": "gone"})).await;
    let id = revoked.split('_').nth(1).unwrap();
    ok(&app, "DELETE", &format!("/api/v1/tokens/{id}"), None, &cookie(&sessions["editor"])).await;
    who.insert("revoked", bearer(&revoked));
    app.advance(2 * 3600);
    Team { app, who, sessions }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    /// Discovery documents: answered whatever the credentials (they hold nothing of anyone's).
    Public,
    /// Anyone (lists filtered to what the caller may read); only a bad token is refused.
    Anyone,
    /// Any signed-in user.
    SignedIn,
    Read,
    Edit,
    Admin,
    Server,
}

fn expected(need: Need, caller: &str) -> u16 {
    match (caller, need) {
        (_, Need::Public) => 200,
        ("expired" | "revoked", _) => 401,
        (_, Need::Anyone) => 200,
        ("anonymous", _) => 401,
        (_, Need::SignedIn) => 200,
        ("server", _) => 200,
        (_, Need::Server) => 403,
        ("outsider", _) => 404,
        ("viewer", Need::Read) | ("editor", Need::Read | Need::Edit) | ("nsadmin", Need::Read | Need::Edit | Need::Admin) => 200,
        _ => 403,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix() {
    let t = team().await;
    let rv = t.app.get_with(&format!("{IS}/team/imagestreams"), &t.who["server"]).await["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    type Route = (Need, &'static str, String, Option<Value>, bool);
    let routes = |c: &str| -> Vec<Route> {
        vec![
            (Need::Read, "GET", format!("{IS}/team/imagestreams"), None, false),
            (Need::Read, "GET", format!("{IS}/team/imagestreams/app"), None, false),
            (Need::Read, "GET", format!("{IS}/team/imagestreamtags"), None, false),
            (Need::Read, "GET", format!("{IS}/team/imagestreamtags/app:latest"), None, false),
            (Need::Read, "GET", format!("{IS}/team/imagestreamimages/app@{}", digest_n(1)), None, false),
            (Need::Read, "GET", "/api/v1/namespaces/team".into(), None, false),
            (Need::Read, "GET", "/api/v1/namespaces/team/members".into(), None, false),
            (Need::Read, "GET", "/api/v1/namespaces/team/visibility".into(), None, false),
            (Need::Read, "GET", "/api/v1/namespaces/team/webhooks".into(), None, false),
            (Need::Read, "GET", "/api/v1/namespaces/team/webhooks/hook/deliveries".into(), None, false),
            (Need::Read, "GET", format!("{IS}/team/imagestreams?watch=1&resourceVersion={rv}"), None, true),
            (Need::Read, "GET", "/api/v1/live/imagestreams?namespace=team".into(), None, true),
            (
                Need::Edit,
                "PUT",
                istag_path("team", &format!("app:t-{c}")),
                Some(
                    json!({"metadata": {"name": format!("app:t-{c}")}, "tag": {"name": format!("t-{c}"), "from": {"kind": "ImageStreamTag", "name": "app:latest"}}}),
                ),
                false,
            ),
            (
                Need::Edit,
                "POST",
                format!("{IS}/team/imagestreammappings"),
                Some(
                    json!({"metadata": {"name": "app"}, "tag": format!("m-{c}"), "image": {"metadata": {"name": digest_n(3)}, "dockerImageReference": format!("quay.io/o/app@{}", digest_n(3))}}),
                ),
                false,
            ),
            (Need::Edit, "DELETE", istag_path("team", &format!("app:d-{c}")), None, false),
            (Need::Edit, "POST", format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": format!("s-{c}")}})), false),
            (
                Need::Edit,
                "POST",
                format!("{IS}/team/imagestreamimports"),
                Some(
                    json!({"metadata": {"name": "app"}, "spec": {"import": false, "images": [{"from": {"kind": "DockerImage", "name": "127.0.0.1:9/x/y:1"}}]}}),
                ),
                false,
            ),
            (
                Need::Edit,
                "POST",
                "/api/v1/namespaces/team/webhooks".into(),
                Some(
                    json!({"metadata": {"name": format!("w-{c}")}, "spec": {"url": "https://hooks.example.com/y", "secret": "0123456789abcdef", "tags": ["*:*"]}}),
                ),
                false,
            ),
            (Need::Edit, "POST", "/api/v1/namespaces/team/webhooks/hook/test".into(), Some(json!({})), false),
            (Need::Admin, "DELETE", format!("{IS}/team/imagestreams/del-{c}"), None, false),
            (Need::Admin, "GET", "/api/v1/namespaces/team/secrets".into(), None, false),
            (
                Need::Admin,
                "POST",
                "/api/v1/namespaces/team/secrets".into(),
                Some(json!({"metadata": {"name": format!("sec-{c}")}, "type": "kubernetes.io/dockerconfigjson",
                    "stringData": {".dockerconfigjson": "{\"auths\":{\"r.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}"}})),
                false,
            ),
            (Need::Admin, "PUT", "/api/v1/namespaces/team/members/dummy".into(), Some(json!({"role": "viewer"})), false),
            (Need::Admin, "PUT", "/api/v1/namespaces/team/visibility".into(), Some(json!({"public": false})), false),
            (Need::Admin, "GET", "/api/v1/namespaces/team/audit".into(), None, false),
            // Retention: members read the policy and its runs; admins preview, run, delete and
            // set it (deleted and set again in that order, so the next caller finds it).
            (Need::Read, "GET", "/api/v1/namespaces/team/retention".into(), None, false),
            (Need::Read, "GET", "/api/v1/namespaces/team/retention/runs".into(), None, false),
            (Need::Admin, "POST", "/api/v1/namespaces/team/retention/preview".into(), Some(json!({"keepTagRevisions": 1})), false),
            (Need::Admin, "POST", "/api/v1/namespaces/team/retention/run".into(), Some(json!({})), false),
            (Need::Admin, "DELETE", "/api/v1/namespaces/team/retention".into(), None, false),
            (Need::Admin, "PUT", "/api/v1/namespaces/team/retention".into(), Some(json!({"keepTagRevisions": 5})), false),
            (Need::Server, "GET", "/apis/image.openshift.io/v1/images".into(), None, false),
            (Need::Server, "GET", "/api/v1/users".into(), None, false),
            (Need::Server, "POST", "/api/v1/users".into(), Some(json!({"name": format!("u-{c}"), "password": password("u")})), false),
            (Need::Server, "GET", "/api/v1/audit".into(), None, false),
            (Need::Server, "GET", "/metrics".into(), None, false),
            (Need::Server, "GET", "/api/v1/registry/garbage-collection".into(), None, false),
            (Need::Server, "POST", "/api/v1/registry/garbage-collection".into(), Some(json!({"dryRun": true})), false),
            (Need::Server, "GET", format!("/apis/image.openshift.io/v1/images/{}", digest_n(1)), None, false),
            (
                Need::Edit,
                "PUT",
                format!("{IS}/team/imagestreams/put-{c}"),
                Some(json!({"metadata": {"name": format!("put-{c}")}, "spec": {"lookupPolicy": {"local": true}}})),
                false,
            ),
            (
                Need::Edit,
                "PUT",
                "/api/v1/namespaces/team/webhooks/hook".into(),
                Some(json!({"metadata": {"name": "hook"}, "spec": {"url": "https://hooks.example.com/x", "tags": ["app:*"]}})),
                false,
            ),
            (Need::Read, "GET", "/api/v1/namespaces/team/webhooks/hook".into(), None, false),
            (Need::Edit, "DELETE", format!("/api/v1/namespaces/team/webhooks/wd-{c}"), None, false),
            (Need::Edit, "POST", "/api/v1/namespaces/team/webhooks/hook/deliveries/1/redeliver".into(), Some(json!({})), false),
            (Need::Admin, "GET", "/api/v1/namespaces/team/secrets/reg".into(), None, false),
            (Need::Admin, "DELETE", format!("/api/v1/namespaces/team/secrets/sd-{c}"), None, false),
            (Need::Admin, "DELETE", format!("/api/v1/namespaces/team/members/m-{c}"), None, false),
            (Need::SignedIn, "POST", "/api/v1/namespaces".into(), Some(json!({"metadata": {"name": format!("new-{c}")}})), false),
            (Need::SignedIn, "GET", "/api/v1/tokens".into(), None, false),
            (Need::SignedIn, "POST", "/api/v1/tokens".into(), Some(json!({"name": "from-the-matrix"})), false),
            (Need::Anyone, "GET", "/api/v1/session".into(), None, false),
            (Need::Anyone, "GET", "/api/v1/namespaces".into(), None, false),
            (Need::Anyone, "GET", "/apis/image.openshift.io/v1/imagestreams".into(), None, false),
            (Need::Anyone, "GET", "/api/v1/live/imagestreams".into(), None, true),
            (Need::Edit, "PATCH", format!("{IS}/team/imagestreams/app"), Some(json!({"metadata": {"labels": {"patched-by": c}}})), false),
            // `app:latest` was pushed (status only): a patch must give it a spec tag (a tag-less
            // write of a status-only tag is upstream's 400).
            (
                Need::Edit,
                "PATCH",
                istag_path("team", "app:latest"),
                Some(json!({"tag": {"from": {"kind": "ImageStreamImage", "name": format!("app@{}", digest_n(1))}}})),
                false,
            ),
            (Need::Public, "GET", "/apis/image.openshift.io/v1".into(), None, false),
            (Need::Public, "GET", "/openapi/v3".into(), None, false),
        ]
    };
    let mut wrong = vec![];
    let mut checked = 0;
    for c in CALLERS {
        for (need, method, path, body, streaming) in routes(c) {
            let code = if streaming {
                t.app.status_of(method, &path, &t.who[c]).await.as_u16()
            } else {
                t.app.send_with(method, &path, body, &t.who[c]).await.status.as_u16()
            };
            let got = if (200..300).contains(&code) { 200 } else { code };
            checked += 1;
            if got != expected(need, c) {
                wrong.push(format!("{c:9} {method} {path}: got {code}, want {}", expected(need, c)));
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {checked} answers differ:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(checked, 8 * 58);

    // The answers say why, in Kubernetes' words.
    let r = t.app.send_with("DELETE", &format!("{IS}/team/imagestreams/app"), None, &t.who["editor"]).await;
    assert_eq!(
        r.body["message"],
        "imagestreams.image.openshift.io is forbidden: User \"eddie\" cannot delete resource \"imagestreams\" in API group \"image.openshift.io\" in the namespace \"team\""
    );
    assert_eq!(r.body["reason"], "Forbidden");
    let r = t.app.send_with("GET", &format!("{IS}/team/imagestreams"), None, &t.who["outsider"]).await;
    assert_eq!(r.body["message"], "namespaces \"team\" not found", "existence is not revealed");
    let r = t.app.send_with("GET", &format!("{IS}/team/imagestreams"), None, &t.who["expired"]).await;
    assert_eq!(r.body["reason"], "Unauthorized");
    assert!(r.body["message"].as_str().unwrap().contains("expired or revoked"));

    // Deleting the namespace is its admins' (and the server admin's) business.
    let doomed = json!({"metadata": {"name": "doomed"}});
    ok(&t.app, "POST", "/api/v1/namespaces", Some(doomed), &t.who["nsadmin"]).await;
    ok(&t.app, "PUT", "/api/v1/namespaces/doomed/members/eddie", Some(json!({"role": "editor"})), &t.who["nsadmin"]).await;
    assert_eq!(t.app.send_with("DELETE", "/api/v1/namespaces/doomed", None, &t.who["editor"]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(t.app.send_with("DELETE", "/api/v1/namespaces/doomed", None, &t.who["anonymous"]).await.status, StatusCode::UNAUTHORIZED);
    ok(&t.app, "DELETE", "/api/v1/namespaces/doomed", None, &t.who["nsadmin"]).await;
}

impl TestApp {
    async fn get_with(&self, path: &str, h: &[(String, String)]) -> Value {
        ok(self, "GET", path, None, h).await
    }
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}/{}", i["metadata"]["namespace"].as_str().unwrap_or(""), i["metadata"]["name"].as_str().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_watches_public_namespaces_and_token_limits() {
    let t = team().await;
    let otto = &t.who["outsider"];
    ok(&t.app, "POST", &format!("{IS}/other/imagestreams"), Some(json!({"metadata": {"name": "secret-app"}})), otto).await;

    // Lists across namespaces show only what the caller may read.
    let all = "/apis/image.openshift.io/v1/imagestreams".to_string();
    let vera = t.app.get_with(&all, &t.who["viewer"]).await;
    assert!(names(&vera).iter().all(|n| n.starts_with("team/")) && names(&vera).contains(&"team/app".to_string()));
    assert_eq!(names(&t.app.get_with(&all, otto).await), vec!["other/secret-app"]);
    assert!(names(&t.app.get_with(&all, &t.who["server"]).await).len() > 2);
    assert_eq!(names(&t.app.get_with(&all, &[]).await), Vec::<String>::new(), "anonymous: only public namespaces");
    let ns: Vec<String> = t.app.get_with("/api/v1/namespaces", &t.who["viewer"]).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    // Her namespaces (team, and the ones the set-up made her viewer of), nothing else.
    assert!(ns.contains(&"team".to_string()) && ns.iter().all(|n| n == "team" || n.starts_with("gone-")), "{ns:?}");

    // A watch across namespaces carries only readable changes.
    let vera_creds = Credentials { bearer: Some(t.who["viewer"][0].1[7..].to_string()), ..Default::default() };
    let rv = t.app.service.current_resource_version().await.unwrap();
    let req = WatchRequest { resource_version: Some(rv), bookmark_interval: std::time::Duration::from_secs(30), ..Default::default() };
    let mut watch = t.app.service.watch_streams(vera_creds, req).await.unwrap();
    ok(&t.app, "POST", &format!("{IS}/other/imagestreams"), Some(json!({"metadata": {"name": "hidden"}})), otto).await;
    ok(&t.app, "POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "shown"}})), &t.who["editor"]).await;
    let line = tokio::time::timeout(std::time::Duration::from_secs(5), watch.next()).await.unwrap().unwrap();
    let event: Value = serde_json::from_slice(&line).unwrap();
    assert_eq!((event["type"].as_str(), event["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("shown")));

    // A public namespace: readable by anyone, changeable by its members only.
    ok(&t.app, "PUT", "/api/v1/namespaces/team/visibility", Some(json!({"public": true})), &t.who["nsadmin"]).await;
    assert_eq!(t.app.send_with("GET", &format!("{IS}/team/imagestreams/app"), None, &[]).await.status, StatusCode::OK);
    assert_eq!(t.app.send_with("GET", &format!("{IS}/team/imagestreams/app"), None, otto).await.status, StatusCode::OK);
    let tag = json!({"metadata": {"name": "app:x"}, "tag": {"name": "x", "from": {"kind": "ImageStreamTag", "name": "app:latest"}}});
    assert_eq!(t.app.send_with("PUT", &istag_path("team", "app:x"), Some(tag.clone()), &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(t.app.send_with("PUT", &istag_path("team", "app:x"), Some(tag.clone()), otto).await.status, StatusCode::FORBIDDEN);
    assert!(names(&t.app.get_with(&all, &[]).await).contains(&"team/app".to_string()));
    ok(&t.app, "PUT", "/api/v1/namespaces/team/visibility", Some(json!({"public": false})), &t.who["nsadmin"]).await;

    // Token limits: a role cap, and a namespace list.
    let ada = &t.sessions["nsadmin"];
    let capped = token_for(&t.app, ada, json!({"name": "ci-read", "maxRole": "viewer"})).await;
    assert_eq!(t.app.send_with("GET", &is_path("team", "app"), None, &bearer(&capped)).await.status, StatusCode::OK);
    assert_eq!(
        t.app.send_with("PUT", &istag_path("team", "app:x"), Some(tag.clone()), &bearer(&capped)).await.status,
        StatusCode::FORBIDDEN
    );
    let elsewhere = token_for(&t.app, ada, json!({"name": "only-other", "namespaces": ["other"]})).await;
    assert_eq!(t.app.send_with("GET", &is_path("team", "app"), None, &bearer(&elsewhere)).await.status, StatusCode::NOT_FOUND);
    let r = t.app.send_with("POST", "/api/v1/tokens", Some(json!({"name": "x"})), &bearer(&capped)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "a token cannot mint tokens");
    let r = t
        .app
        .send_with("POST", "/api/v1/tokens", Some(json!({"name": "", "maxRole": "owner", "expires": "yesterday"})), &cookie(ada))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r.body["details"]["causes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["name", "maxRole", "expires"]);
    let listed = t.app.get_with("/api/v1/tokens", &cookie(ada)).await;
    assert!(listed.as_array().unwrap().iter().all(|t| t.get("token").is_none()), "secrets are shown once: {listed}");
    // Someone else's token is "not found" to you.
    let id = capped.split('_').nth(1).unwrap();
    assert_eq!(
        t.app.send_with("DELETE", &format!("/api/v1/tokens/{id}"), None, &cookie(&t.sessions["editor"])).await.status,
        StatusCode::NOT_FOUND
    );

    // A tag whose source is in a namespace the caller cannot read (spec §3.3).
    let cross = json!({"metadata": {"name": "app:cross"}, "tag": {"name": "cross", "from": {"kind": "ImageStreamTag", "namespace": "other", "name": "secret-app:latest"}}});
    let r = t.app.send_with("PUT", &istag_path("team", "app:cross"), Some(cross), &t.who["editor"]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("spec.tags[cross].from: Forbidden: other/secret-app"), "{}", r.text);

    // The last admin stays.
    let r = t.app.send_with("PUT", "/api/v1/namespaces/team/members/ada", Some(json!({"role": "viewer"})), &cookie(ada)).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_read_for_kiosks() {
    let app =
        TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_access(AccessConfig { anonymous_read: true, ..Default::default() })).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = sign_in(&app, "admin", &password("admin")).await;
    ok(&app, "POST", &format!("{IS}/default/imagestreams"), Some(json!({"metadata": {"name": "wall"}})), &cookie(&admin)).await;
    assert_eq!(app.send_with("GET", &is_path("default", "wall"), None, &[]).await.status, StatusCode::OK);
    assert_eq!(names(&app.get_with("/apis/image.openshift.io/v1/imagestreams", &[]).await), vec!["default/wall"]);
    let r = app.send_with("DELETE", &is_path("default", "wall"), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_sign_in_slowdown_passwords_csrf_and_audit() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    // Before the first user: open, and it says so.
    let me = app.get_with("/api/v1/session", &[]).await;
    assert_eq!((me["open"].as_bool(), me["user"].clone()), (Some(true), Value::Null));
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "nobody", "password": "whatever-it-is"})), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(app.service.bootstrap_admin("admin", "short").await.is_err(), "a weak first password is refused");
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    assert_eq!(
        app.service.bootstrap_admin("root", &password("root")).await.unwrap(),
        Bootstrap::AdministratorExists,
        "only when no administrator exists"
    );
    assert_eq!(app.get_with("/api/v1/session", &[]).await["open"], false);
    assert_eq!(app.send_with("GET", &is_path("default", "x"), None, &[]).await.status, StatusCode::UNAUTHORIZED);

    // Three failures are free; then each attempt must wait, twice as long each time.
    for _ in 0..3 {
        let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "admin", "password": "wrong-password"})), &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "admin", "password": password("admin")})), &[]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("try again in 1 s"), "{}", r.text);
    app.advance(1);
    let admin = sign_in(&app, "admin", &password("admin")).await;
    let h = cookie(&admin);
    let r = app
        .send_with(
            "POST",
            "/api/v1/session",
            Some(json!({"username": "admin", "password": password("admin")})),
            &[("x-forwarded-proto".into(), "https".into())],
        )
        .await;
    assert!(r.set_cookie.as_deref().unwrap().contains("; Secure"), "Secure over HTTPS: {:?}", r.set_cookie);

    // CSRF: a cookie-authenticated change from another site is refused; from this one, or
    // with a bearer token, or from a non-browser client, it passes.
    let create = |name: &str| json!({"metadata": {"name": name}});
    let mut evil = h.clone();
    evil.push(("origin".into(), "https://evil.example".into()));
    evil.push(("host".into(), "127.0.0.1:3000".into()));
    let r = app.send_with("POST", &format!("{IS}/default/imagestreams"), Some(create("a")), &evil).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body["message"].as_str().unwrap().starts_with("cross-site request refused: Origin \"https://evil.example\""), "{}", r.text);
    let mut cross = h.clone();
    cross.push(("sec-fetch-site".into(), "cross-site".into()));
    assert_eq!(app.send_with("POST", &format!("{IS}/default/imagestreams"), Some(create("b")), &cross).await.status, StatusCode::FORBIDDEN);
    let mut same = h.clone();
    same.push(("origin".into(), "http://127.0.0.1:3000".into()));
    same.push(("host".into(), "127.0.0.1:3000".into()));
    assert_eq!(app.send_with("POST", &format!("{IS}/default/imagestreams"), Some(create("c")), &same).await.status, StatusCode::CREATED);
    let mut fetch = h.clone();
    fetch.push(("sec-fetch-site".into(), "same-origin".into()));
    assert_eq!(app.send_with("POST", &format!("{IS}/default/imagestreams"), Some(create("d")), &fetch).await.status, StatusCode::CREATED);
    let token = token_for(&app, &admin, json!({"name": "ci"})).await;
    let mut with_token = bearer(&token);
    with_token.push(("origin".into(), "https://evil.example".into()));
    assert_eq!(
        app.send_with("POST", &format!("{IS}/default/imagestreams"), Some(create("e")), &with_token).await.status,
        StatusCode::CREATED
    );
    assert_eq!(app.send_with("GET", &is_path("default", "c"), None, &evil).await.status, StatusCode::OK, "reads are not refused");

    // Passwords: the current one is needed; the old one stops working.
    ok(&app, "POST", "/api/v1/users", Some(json!({"name": "vera", "password": password("vera")})), &h).await;
    let vera = sign_in(&app, "vera", &password("vera")).await;
    let r =
        app.send_with("PUT", "/api/v1/session/password", Some(json!({"current": "nope", "new": "a-new-password-2"})), &cookie(&vera)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r =
        app.send_with("PUT", "/api/v1/session/password", Some(json!({"current": password("vera"), "new": "short"})), &cookie(&vera)).await;
    assert!(
        r.body["message"].as_str().unwrap().contains("new: Invalid value: <hidden>: must be at least 10 characters long"),
        "{}",
        r.text
    );
    ok(&app, "PUT", "/api/v1/session/password", Some(json!({"current": password("vera"), "new": "a-new-password-2"})), &cookie(&vera))
        .await;
    let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "vera", "password": password("vera")})), &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    sign_in(&app, "vera", "a-new-password-2").await;
    // Signing out ends the session.
    ok(&app, "DELETE", "/api/v1/session", None, &cookie(&vera)).await;
    assert_eq!(app.get_with("/api/v1/session", &cookie(&vera)).await["user"], Value::Null);

    // The audit log: who, which token, what, outcome, for every change, refusals of known callers included.
    let log = app.get_with("/api/v1/audit", &h).await;
    let entries = log.as_array().unwrap();
    let by_token = entries.iter().find(|e| e["token"].is_string()).expect("an entry made with a token");
    assert_eq!(by_token["user"], "admin");
    assert_eq!(by_token["namespace"], "default");
    assert_eq!(by_token["action"], "POST /apis/image.openshift.io/v1/namespaces/default/imagestreams (create imagestreams)");
    assert_eq!((by_token["code"].as_u64(), by_token["outcome"].as_str()), (Some(201), Some("success")));
    assert!(
        entries.iter().any(|e| e["code"] == 403 && e["outcome"] == "Forbidden" && e["user"] == "admin"),
        "the CSRF refusal, by its user"
    );
    // Refused anonymous requests (the failed and throttled sign-ins once accounts were on) are
    // not written: anyone could flood the log. The one failed sign-in recorded is the local
    // single user's, before the first administrator existed.
    let refused_sign_ins: Vec<_> = entries.iter().filter(|e| e["action"] == "POST /api/v1/session" && e["code"] != 200).collect();
    assert_eq!(refused_sign_ins.len(), 1, "{refused_sign_ins:?}");
    let ns_log = app.get_with("/api/v1/namespaces/default/audit", &h).await;
    assert!(ns_log.as_array().unwrap().iter().all(|e| e["namespace"] == "default"));
    // Purged by age.
    app.advance(100 * 24 * 3600);
    assert!(app.service.purge_audit(std::time::Duration::from_secs(90 * 24 * 3600)).await.unwrap() > 0);
    let h = bearer(&token);
    assert_eq!(app.get_with("/api/v1/audit", &h).await.as_array().unwrap().len(), 0);
}

/// Server functions (what the web pages call) ask the same check: a few of each kind through the
/// real portal router, for the callers of the matrix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_functions_check_the_caller() {
    use leptos::server_fn::ServerFn;
    use tower::ServiceExt;
    let t = team().await;
    let options = leptos::prelude::LeptosOptions::builder().output_name("portal").build();
    let portal = server::http::ui::router(t.app.service.clone(), options, server::http::EdgeConfig::default());
    let call = |path: &'static str, body: String, c: &'static str| {
        let portal = portal.clone();
        let headers = t.who[c].clone();
        async move {
            let mut req =
                axum::http::Request::builder().method("POST").uri(path).header("content-type", "application/x-www-form-urlencoded");
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = portal.oneshot(req.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
            let code = resp.status().as_u16();
            let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
            (code, String::from_utf8_lossy(&bytes).to_string())
        }
    };
    use app::api::*;
    let cases: Vec<(&'static str, String, Need)> = vec![
        (GetStream::PATH, "namespace=team&name=app&all_history=false&table[q]=".into(), Need::Read),
        (GetNamespaceSettings::PATH, "namespace=team".into(), Need::Read),
        (GetStreamImagePage::PATH, format!("namespace=team&name=app%40{}", digest_n(1)), Need::Read),
        (ListWebhooks::PATH, "namespace=team".into(), Need::Read),
        (DeleteTag::PATH, "namespace=team&stream=app&tag=d-CALLER".into(), Need::Edit),
        (SendTestEvent::PATH, "namespace=team&name=hook".into(), Need::Edit),
        (DeleteStream::PATH, "namespace=team&name=del-CALLER".into(), Need::Admin),
        (SetMember::PATH, "namespace=team&user=dummy&role=viewer".into(), Need::Admin),
        (SetPublic::PATH, "namespace=team&public=false".into(), Need::Admin),
        (NamespaceAudit::PATH, "namespace=team".into(), Need::Admin),
        (ListDeliveries::PATH, "namespace=team&name=hook".into(), Need::Read),
        (CreateStream::PATH, "namespace=team&name=fs-CALLER".into(), Need::Edit),
        (
            TagImage::PATH,
            "form[namespace]=team&form[source]=app:latest&form[destination]=app:ft-CALLER&form[mode]=permanent&form[reference_policy]=source&form[import_mode]=&form[scheduled]=false&form[insecure]=false".into(),
            Need::Edit,
        ),
        (
            ImportImages::PATH,
            "form[namespace]=team&form[stream]=app&form[from]=127.0.0.1:9/x/y:1&form[tag]=fi-CALLER&form[all]=false&form[scheduled]=false&form[insecure]=false&form[import_mode]=".into(),
            Need::Edit,
        ),
        (
            StartImport::PATH,
            "form[namespace]=team&form[stream]=app&form[from]=127.0.0.1:9/x/y:1&form[tag]=fj-CALLER&form[all]=false&form[scheduled]=false&form[insecure]=false&form[import_mode]=".into(),
            Need::Edit,
        ),
        (
            CreateWebhook::PATH,
            "form[namespace]=team&form[name]=fw-CALLER&form[url]=https://hooks.example.com/f&form[secret]=0123456789abcdef&form[tags]=app:*&form[events][0]=ImageChanged".into(),
            Need::Edit,
        ),
        (DeleteWebhook::PATH, "namespace=team&name=wd-CALLER".into(), Need::Edit),
        (Redeliver::PATH, "namespace=team&name=hook&delivery=1".into(), Need::Edit),
        (RemoveMember::PATH, "namespace=team&user=m-CALLER".into(), Need::Admin),
        (DeleteNamespace::PATH, "name=gone-CALLER".into(), Need::Admin),
        (GetDashboard::PATH, String::new(), Need::Anyone),
        (CurrentUser::PATH, String::new(), Need::Anyone),
        (ListTokens::PATH, String::new(), Need::SignedIn),
        (CreateToken::PATH, "form[name]=sf&form[namespaces]=&form[max_role]=&form[expires_in_days]=".into(), Need::SignedIn),
    ];
    let mut wrong = vec![];
    for c in CALLERS {
        for (path, body, need) in &cases {
            let (code, text) = call(path, body.replace("CALLER", c), c).await;
            // An import that got past the checks and then failed at the (unreachable) registry
            // was allowed: the page answers it as an error (502, "was not imported").
            let allowed = (200..300).contains(&code) || (code == 502 && text.contains("was not imported"));
            let got = if allowed { 200 } else { code };
            if got != expected(*need, c) {
                wrong.push(format!("{c:9} {path}: got {code} {text}, want {}", expected(*need, c)));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // The image page: for readers of a namespace that uses the image (else not found), and
    // server administrators.
    for (c, want) in [("anonymous", 404), ("viewer", 200), ("outsider", 404), ("server", 200), ("expired", 401)] {
        let (code, text) = call(GetImagePage::PATH, format!("digest={}", digest_n(1)), c).await;
        assert_eq!(code, want, "{c}: {text}");
    }
    // Import jobs are their starter's: another user's poll is "not found".
    let (code, id) = call(StartImport::PATH, "form[namespace]=team&form[stream]=app&form[from]=127.0.0.1:9/x/y:2&form[tag]=job&form[all]=false&form[scheduled]=false&form[insecure]=false&form[import_mode]=".into(), "editor").await;
    assert_eq!(code, 200, "{id}");
    let id: String = serde_json::from_str(&id).unwrap();
    assert_eq!(call(GetImportJob::PATH, format!("id={id}"), "editor").await.0, 200);
    assert_eq!(call(GetImportJob::PATH, format!("id={id}"), "viewer").await.0, 404);
    assert_eq!(call(GetImportJob::PATH, format!("id={id}"), "anonymous").await.0, 404);
    // Tokens of others cannot be revoked; signing out needs no rights.
    assert_eq!(call(RevokeToken::PATH, "id=000000000000".into(), "viewer").await.0, 404);
    assert_eq!(call(RevokeToken::PATH, "id=000000000000".into(), "anonymous").await.0, 401);
    assert_eq!(call(ChangePassword::PATH, "current=wrong-password&new=another-password-1".into(), "viewer").await.0, 422);
    assert_eq!(call(ChangePassword::PATH, "current=wrong-password&new=another-password-1".into(), "anonymous").await.0, 401);
    assert_eq!(call(SignOut::PATH, String::new(), "anonymous").await.0, 200);
    // The catalog page shows only the streams the caller may read (its rows carry
    // `data-key="<namespace>/<stream>"`).
    let rows = |text: &str| -> Vec<String> {
        let part: Value = serde_json::from_str(text).unwrap();
        let html = part["html"].as_str().unwrap().to_string();
        html.split("data-key=\"").skip(1).map(|r| r.split('"').next().unwrap_or_default().to_string()).collect()
    };
    let (code, text) = call(ListCatalog::PATH, "query=&sort=name&page=1".into(), "outsider").await;
    assert_eq!(code, 200);
    assert!(rows(&text).is_empty() && text.contains("No image streams match."), "{text}");
    let (_, text) = call(ListCatalog::PATH, "query=&sort=name&page=1".into(), "viewer").await;
    let keys = rows(&text);
    assert!(!keys.is_empty() && keys.iter().all(|k| k.starts_with("team/")), "{keys:?}");
    let (code, _) = call(CreateNamespace::PATH, "name=mine".into(), "anonymous").await;
    assert_eq!(code, 401);
}

/// A webhook's target URL is often the receiver's credential: only those who may change the
/// subscription see all of it; readers see scheme, host and port.
#[tokio::test]
async fn webhook_urls_are_shown_whole_only_to_those_who_may_change_them() {
    let t = team().await;
    let url = |c: &'static str| {
        let h = t.who[c].clone();
        let app = &t.app;
        async move {
            let one = ok(app, "GET", "/api/v1/namespaces/team/webhooks/hook", None, &h).await;
            let list = ok(app, "GET", "/api/v1/namespaces/team/webhooks", None, &h).await;
            let listed = list["items"].as_array().unwrap().iter().find(|w| w["metadata"]["name"] == "hook").unwrap()["spec"]["url"].clone();
            assert_eq!(one["spec"]["url"], listed, "{c}: one and list agree");
            listed
        }
    };
    assert_eq!(url("viewer").await, "https://hooks.example.com/…");
    assert_eq!(url("editor").await, "https://hooks.example.com/x");
    assert_eq!(url("nsadmin").await, "https://hooks.example.com/x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_creation_can_be_restricted_to_administrators() {
    let restricted = AccessConfig { restrict_namespace_creation: true, ..Default::default() };
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_access(restricted)).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = cookie(&sign_in(&app, "admin", &password("admin")).await);
    ok(&app, "POST", "/api/v1/users", Some(json!({"name": "vera", "password": password("vera")})), &admin).await;
    let vera = cookie(&sign_in(&app, "vera", &password("vera")).await);
    let r = app.send_with("POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "mine"}})), &vera).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(
        r.body["message"],
        "namespaces is forbidden: User \"vera\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope"
    );
    ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "mine"}})), &admin).await;
}

/// The sign-in page's plain form (no JavaScript): `POST /api/v1/session` with a form body
/// answers with redirects: back to `/signin` with the reason and the user name, or to the page
/// the visitor came from (a path here, else the catalog) with the session cookie. A form posted
/// from another site is refused.
#[tokio::test]
async fn the_sign_in_form_works_without_javascript() {
    use tower::ServiceExt;
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let post = |body: String, origin: Option<&'static str>| {
        let router = app.router.clone();
        async move {
            let mut req = axum::http::Request::post("/api/v1/session")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("host", "127.0.0.1:8080");
            if let Some(o) = origin {
                req = req.header("origin", o);
            }
            let resp = router.oneshot(req.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
            let header = |name: &str| resp.headers().get(name).map(|v| v.to_str().unwrap().to_string());
            (resp.status(), header("location"), header("set-cookie"))
        }
    };
    let (status, location, set) = post("username=admin&password=wrong+one".into(), Some("http://127.0.0.1:8080")).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/signin?user=admin&error=Unauthorized%3A+the+user+name+or+password+is+wrong"));
    assert_eq!(set, None);
    let (status, location, _) = post("username=admin".into(), None).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/signin?user=admin&error=Enter+a+user+name+and+a+password.")));

    let (status, location, set) = post("username=admin&password=admin-password-1".into(), Some("http://127.0.0.1:8080")).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")));
    let set = set.expect("a session cookie");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"), "{set}");
    let session = set.split(';').next().unwrap().trim_start_matches("imagestreams_session=").to_string();
    let me = ok(&app, "GET", "/api/v1/session", None, &cookie(&session)).await;
    assert_eq!(me["user"], "admin", "{me}");

    // Back to the page the visitor came from, also after a refusal; never to another site.
    let (_, location, _) = post("username=admin&password=nope&next=%2Fns%2Fteam%2Fapp%3Fhistory%3Dall".into(), None).await;
    assert_eq!(
        location.as_deref(),
        Some("/signin?user=admin&error=Unauthorized%3A+the+user+name+or+password+is+wrong&next=%2Fns%2Fteam%2Fapp%3Fhistory%3Dall")
    );
    let (status, location, _) = post("username=admin&password=admin-password-1&next=%2Fns%2Fteam%2Fapp%3Fhistory%3Dall".into(), None).await;
    assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/ns/team/app?history=all")));
    for elsewhere in ["next=%2F%2Fevil.example%2F", "next=https%3A%2F%2Fevil.example%2F", "next=%2F%5Cevil.example"] {
        let (status, location, _) = post(format!("username=admin&password=admin-password-1&{elsewhere}"), None).await;
        assert_eq!((status, location.as_deref()), (StatusCode::SEE_OTHER, Some("/")), "{elsewhere}");
    }

    // Login CSRF: another site's form may not sign the visitor in.
    let (status, location, set) = post("username=admin&password=admin-password-1".into(), Some("https://evil.example")).await;
    assert_eq!((status, location, set), (StatusCode::FORBIDDEN, None, None));
}

/// A stored token limit or role that does not decode refuses the request (a 500): it never
/// becomes "no limit" (an unrestricted or uncapped token) or a silently dropped membership. The
/// rows are corrupted with plain SQL, as a bad migration or a hand edit would.
#[tokio::test]
async fn undecodable_stored_limits_and_roles_refuse_instead_of_widening() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = cookie(&sign_in(&app, "admin", &password("admin")).await);
    ok(&app, "POST", "/api/v1/users", Some(json!({"name": "ed", "password": password("ed")})), &admin).await;
    for ns in ["team", "other"] {
        ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": ns}})), &admin).await;
        ok(&app, "PUT", &format!("/api/v1/namespaces/{ns}/members/ed"), Some(json!({"role": "editor"})), &admin).await;
    }
    let ed = sign_in(&app, "ed", &password("ed")).await;
    let scoped = bearer(&token_for(&app, &ed, json!({"name": "scoped", "namespaces": ["team"]})).await);
    let capped = bearer(&token_for(&app, &ed, json!({"name": "capped", "maxRole": "viewer"})).await);
    let other = format!("{IS}/other/imagestreams");
    async fn create(app: &TestApp, h: &[(String, String)]) -> StatusCode {
        app.send_with("POST", &format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": "x"}})), h).await.status
    }
    // The limits hold while the rows are intact.
    assert_eq!(app.status_of("GET", &other, &scoped).await, StatusCode::NOT_FOUND);
    assert_eq!(create(&app, &capped).await, StatusCode::FORBIDDEN);

    let db = sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(app.data_dir().join("imagestreams.db")))
        .await
        .unwrap();
    let corrupt = |sql: &'static str| {
        let db = db.clone();
        async move { assert_eq!(sqlx::query(sql).execute(&db).await.unwrap().rows_affected(), 1, "{sql}") }
    };
    corrupt("UPDATE api_tokens SET namespaces = '[\"team\"' WHERE name = 'scoped'").await;
    corrupt("UPDATE api_tokens SET max_role = 'owner' WHERE name = 'capped'").await;
    for (what, status) in [
        ("a token whose namespaces do not decode", app.status_of("GET", &other, &scoped).await),
        ("...nor may it read its own namespace", app.status_of("GET", &format!("{IS}/team/imagestreams"), &scoped).await),
        ("a token whose role cap is no role", create(&app, &capped).await),
    ] {
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}");
    }
    let listed = app.send_with("GET", "/api/v1/tokens", None, &cookie(&ed)).await;
    assert_eq!(listed.status, StatusCode::INTERNAL_SERVER_ERROR, "listing the corrupt tokens: {}", listed.text);

    // A membership whose role is no role: refused, not skipped (and not shown as a member).
    corrupt("UPDATE members SET role = 'owner' WHERE namespace = 'other' AND user_id = (SELECT id FROM users WHERE name = 'ed')").await;
    assert_eq!(app.status_of("GET", &format!("{IS}/team/imagestreams"), &cookie(&ed)).await, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(app.status_of("GET", "/api/v1/namespaces/other/members", &admin).await, StatusCode::INTERNAL_SERVER_ERROR);
    // The administrator's own credentials are intact.
    assert_eq!(app.status_of("GET", &format!("{IS}/team/imagestreams"), &admin).await, StatusCode::OK);
}

/// The live review's M8 sequence: a token limited to `ci` and `viewer` cannot create
/// namespaces, cannot list or revoke its owner's other tokens (it sees and may revoke only
/// itself), and `GET /api/v1/session` shows only the memberships within its limits, roles capped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_tokens_cannot_act_on_the_account() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = cookie(&sign_in(&app, "admin", &password("admin")).await);
    ok(&app, "POST", "/api/v1/users", Some(json!({"name": "alice", "password": password("alice")})), &admin).await;
    let alice = sign_in(&app, "alice", &password("alice")).await;
    for ns in ["ci", "team"] {
        ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": ns}})), &cookie(&alice)).await;
    }
    ok(&app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "secret-proj"}})), &admin).await;
    ok(&app, "PUT", "/api/v1/namespaces/secret-proj/members/alice", Some(json!({"role": "editor"})), &admin).await;
    let limited = token_for(&app, &alice, json!({"name": "ci-readonly", "namespaces": ["ci"], "maxRole": "viewer"})).await;
    let deploy = token_for(&app, &alice, json!({"name": "deploy-prod"})).await;
    let l = bearer(&limited);
    let id_of = |t: &str| t.split('_').nth(1).unwrap().to_string();

    let me = ok(&app, "GET", "/api/v1/session", None, &l).await;
    assert_eq!(me["namespaces"], json!([{"namespace": "ci", "role": "viewer"}]), "{me}");
    assert_eq!(me["admin"], false);
    let capped = bearer(&token_for(&app, &alice, json!({"name": "capped", "maxRole": "viewer"})).await);
    let me = ok(&app, "GET", "/api/v1/session", None, &capped).await;
    let roles: Vec<(&str, &str)> =
        me["namespaces"].as_array().unwrap().iter().map(|m| (m["namespace"].as_str().unwrap(), m["role"].as_str().unwrap())).collect();
    assert_eq!(roles, vec![("ci", "viewer"), ("secret-proj", "viewer"), ("team", "viewer")]);
    let me = ok(&app, "GET", "/api/v1/session", None, &cookie(&alice)).await;
    assert_eq!(me["namespaces"].as_array().unwrap().len(), 3, "a session shows every membership: {me}");

    for h in [&l, &capped] {
        let r = app.send_with("POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "prod"}})), h).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(
            r.body["message"],
            "namespaces is forbidden: User \"alice\" cannot create resource \"namespaces\" in API group \"\" at the cluster scope: the token is limited to namespaces or a role; sign in instead"
        );
    }
    assert_eq!(app.send_with("GET", "/api/v1/namespaces/prod", None, &admin).await.status, StatusCode::NOT_FOUND, "nothing squatted");

    let listed = ok(&app, "GET", "/api/v1/tokens", None, &l).await;
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![id_of(&limited).as_str()], "a limited token sees only itself");
    assert_eq!(ok(&app, "GET", "/api/v1/tokens", None, &cookie(&alice)).await.as_array().unwrap().len(), 3);
    let r = app.send_with("DELETE", &format!("/api/v1/tokens/{}", id_of(&deploy)), None, &l).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(ok(&app, "GET", "/api/v1/session", None, &bearer(&deploy)).await["user"], "alice", "the other token still works");
    let r = app.send_with("POST", "/api/v1/tokens", Some(json!({"name": "escalated"})), &l).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Within its limits it still works, and it may end itself.
    assert_eq!(app.send_with("GET", &format!("{IS}/ci/imagestreams"), None, &l).await.status, StatusCode::OK);
    assert_eq!(app.send_with("GET", &format!("{IS}/secret-proj/imagestreams"), None, &l).await.status, StatusCode::NOT_FOUND);
    ok(&app, "DELETE", &format!("/api/v1/tokens/{}", id_of(&limited)), None, &l).await;
    assert_eq!(app.send_with("GET", "/api/v1/tokens", None, &l).await.status, StatusCode::UNAUTHORIZED);
}

/// What a route needs, for callers without an ordinary role: the matrix for limited tokens and
/// for readers without a role (a public namespace).
#[derive(Clone, Copy, Debug, PartialEq)]
enum View {
    /// Streams, tags, images and the namespace itself: public readers see these.
    Content,
    /// Members, visibility, webhooks and delivery logs: a role in the namespace.
    Team,
    Edit,
    Admin,
    Server,
    /// Cluster-scoped creation of a namespace.
    CreateNamespace,
    ListTokens,
    CreateToken,
    Anyone,
}

/// `capped`: ada (admin of team) through a token limited to team and viewer; `elsewhere`: ada
/// through a token limited to `other`, where she has no role. With `public`, team is public:
/// `anonymous` and `outsider` (otto, admin of other, whole token) read it without a role.
fn expected_view(caller: &str, view: View, public: bool) -> u16 {
    use View::*;
    match (caller, view) {
        (_, Anyone) => 200,
        ("anonymous", Content) if public => 200,
        ("anonymous", _) => 401,
        ("capped" | "elsewhere", CreateNamespace | CreateToken | Server) => 403,
        (_, ListTokens | CreateToken | CreateNamespace) => 200,
        (_, Server) => 403,
        ("capped", Content | Team) => 200,
        ("capped", _) => 403,
        (_, Content) if public => 200,
        _ if public => 403,
        _ => 404,
    }
}

/// Every route of the authorization matrix for a limited token and for readers without a role
/// (review M8 and L3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorization_matrix_for_limited_tokens_and_readers_without_a_role() {
    use View::*;
    let t = team().await;
    let ada = &t.sessions["nsadmin"];
    let mut who = BTreeMap::new();
    who.insert("anonymous", vec![]);
    who.insert("outsider", t.who["outsider"].clone());
    who.insert("capped", bearer(&token_for(&t.app, ada, json!({"name": "capped", "namespaces": ["team"], "maxRole": "viewer"})).await));
    who.insert("elsewhere", bearer(&token_for(&t.app, ada, json!({"name": "elsewhere", "namespaces": ["other"]})).await));
    let rv = t.app.get_with(&format!("{IS}/team/imagestreams"), &t.who["server"]).await["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let secret = |name: String| {
        json!({"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
            "stringData": {".dockerconfigjson": "{\"auths\":{\"r.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}"}})
    };
    type Route = (View, &'static str, String, Option<Value>, bool);
    let routes = |c: &str| -> Vec<Route> {
        let tag = json!({"metadata": {"name": format!("app:lt-{c}")}, "tag": {"name": format!("lt-{c}"), "from": {"kind": "ImageStreamTag", "name": "app:latest"}}});
        let mapping = json!({"metadata": {"name": "app"}, "tag": format!("lm-{c}"), "image": {"metadata": {"name": digest_n(1)}}});
        let import = json!({"metadata": {"name": "app"}, "spec": {"import": false, "images": [{"from": {"kind": "DockerImage", "name": "127.0.0.1:9/x/y:1"}}]}});
        let hook = |name: String| json!({"metadata": {"name": name}, "spec": {"url": "https://hooks.example.com/y", "secret": "0123456789abcdef", "tags": ["*:*"]}});
        vec![
            (Content, "GET", format!("{IS}/team/imagestreams"), None, false),
            (Content, "GET", format!("{IS}/team/imagestreams/app"), None, false),
            (Content, "GET", format!("{IS}/team/imagestreamtags"), None, false),
            (Content, "GET", format!("{IS}/team/imagestreamtags/app:latest"), None, false),
            (Content, "GET", format!("{IS}/team/imagestreamimages/app@{}", digest_n(1)), None, false),
            (Content, "GET", "/api/v1/namespaces/team".into(), None, false),
            (Content, "GET", format!("{IS}/team/imagestreams?watch=1&resourceVersion={rv}"), None, true),
            (Content, "GET", "/api/v1/live/imagestreams?namespace=team".into(), None, true),
            (Team, "GET", "/api/v1/namespaces/team/members".into(), None, false),
            (Team, "GET", "/api/v1/namespaces/team/visibility".into(), None, false),
            (Team, "GET", "/api/v1/namespaces/team/webhooks".into(), None, false),
            (Team, "GET", "/api/v1/namespaces/team/webhooks/hook".into(), None, false),
            (Team, "GET", "/api/v1/namespaces/team/webhooks/hook/deliveries".into(), None, false),
            (Edit, "PUT", istag_path("team", &format!("app:lt-{c}")), Some(tag), false),
            (Edit, "POST", format!("{IS}/team/imagestreammappings"), Some(mapping), false),
            (Edit, "DELETE", istag_path("team", "app:latest"), None, false),
            (Edit, "POST", format!("{IS}/team/imagestreams"), Some(json!({"metadata": {"name": format!("ls-{c}")}})), false),
            (
                Edit,
                "PUT",
                format!("{IS}/team/imagestreams/app"),
                Some(json!({"metadata": {"name": "app"}, "spec": {"lookupPolicy": {"local": true}}})),
                false,
            ),
            (Edit, "POST", format!("{IS}/team/imagestreamimports"), Some(import), false),
            (Edit, "POST", "/api/v1/namespaces/team/webhooks".into(), Some(hook(format!("lw-{c}"))), false),
            (
                Edit,
                "PUT",
                "/api/v1/namespaces/team/webhooks/hook".into(),
                Some(json!({"metadata": {"name": "hook"}, "spec": {"url": "https://hooks.example.com/x", "tags": ["app:*"]}})),
                false,
            ),
            (Edit, "DELETE", "/api/v1/namespaces/team/webhooks/hook".into(), None, false),
            (Edit, "POST", "/api/v1/namespaces/team/webhooks/hook/test".into(), Some(json!({})), false),
            (Edit, "POST", "/api/v1/namespaces/team/webhooks/hook/deliveries/1/redeliver".into(), Some(json!({})), false),
            (Admin, "DELETE", format!("{IS}/team/imagestreams/app"), None, false),
            (Admin, "GET", "/api/v1/namespaces/team/secrets".into(), None, false),
            (Admin, "GET", "/api/v1/namespaces/team/secrets/reg".into(), None, false),
            (Admin, "POST", "/api/v1/namespaces/team/secrets".into(), Some(secret(format!("ls-{c}"))), false),
            (Admin, "DELETE", "/api/v1/namespaces/team/secrets/reg".into(), None, false),
            (Admin, "PUT", "/api/v1/namespaces/team/members/dummy".into(), Some(json!({"role": "viewer"})), false),
            (Admin, "DELETE", "/api/v1/namespaces/team/members/vera".into(), None, false),
            (Admin, "PUT", "/api/v1/namespaces/team/visibility".into(), Some(json!({"public": true})), false),
            (Admin, "GET", "/api/v1/namespaces/team/audit".into(), None, false),
            (Admin, "DELETE", "/api/v1/namespaces/team".into(), None, false),
            (Server, "GET", "/apis/image.openshift.io/v1/images".into(), None, false),
            (Server, "GET", format!("/apis/image.openshift.io/v1/images/{}", digest_n(1)), None, false),
            (Server, "GET", "/api/v1/users".into(), None, false),
            (Server, "POST", "/api/v1/users".into(), Some(json!({"name": format!("lu-{c}"), "password": password("u")})), false),
            (Server, "GET", "/api/v1/audit".into(), None, false),
            (Server, "GET", "/api/v1/registry/garbage-collection".into(), None, false),
            (Server, "POST", "/api/v1/registry/garbage-collection".into(), Some(json!({"dryRun": true})), false),
            (CreateNamespace, "POST", "/api/v1/namespaces".into(), Some(json!({"metadata": {"name": format!("ln-{c}")}})), false),
            (ListTokens, "GET", "/api/v1/tokens".into(), None, false),
            (CreateToken, "POST", "/api/v1/tokens".into(), Some(json!({"name": "from-the-matrix"})), false),
            (Anyone, "GET", "/api/v1/session".into(), None, false),
            (Anyone, "GET", "/api/v1/namespaces".into(), None, false),
            (Anyone, "GET", "/apis/image.openshift.io/v1/imagestreams".into(), None, false),
            (Anyone, "GET", "/api/v1/live/imagestreams".into(), None, true),
        ]
    };
    let mut wrong = vec![];
    let mut checked = 0;
    for public in [false, true] {
        if public {
            ok(&t.app, "PUT", "/api/v1/namespaces/team/visibility", Some(json!({"public": true})), &cookie(ada)).await;
        }
        for c in ["capped", "elsewhere", "anonymous", "outsider"] {
            // Names of what a route creates are per caller and phase.
            for (view, method, path, body, streaming) in routes(&format!("{c}-{}", u8::from(public))) {
                let code = if streaming {
                    t.app.status_of(method, &path, &who[c]).await.as_u16()
                } else {
                    t.app.send_with(method, &path, body, &who[c]).await.status.as_u16()
                };
                let got = if (200..300).contains(&code) { 200 } else { code };
                checked += 1;
                let want = expected_view(c, view, public);
                if got != want {
                    wrong.push(format!("{c:9} public={public:5} {method} {path}: got {code}, want {want}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {checked} answers differ:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(checked, 2 * 4 * 48);
    // Nothing a refused caller asked for happened.
    assert_eq!(t.app.send_with("GET", &istag_path("team", "app:latest"), None, &t.who["server"]).await.status, StatusCode::OK);
    assert_eq!(t.app.send_with("GET", "/api/v1/namespaces/team/webhooks/hook", None, &t.who["server"]).await.status, StatusCode::OK);
}

/// `--anonymous-read` shows every namespace's streams, tags and images, and nothing else of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_read_shows_streams_tags_and_images_only() {
    let app =
        TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_access(AccessConfig { anonymous_read: true, ..Default::default() })).await;
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = cookie(&sign_in(&app, "admin", &password("admin")).await);
    ok(&app, "POST", &format!("{IS}/default/imagestreams"), Some(json!({"metadata": {"name": "wall"}})), &admin).await;
    let mapping = json!({"metadata": {"name": "wall"}, "tag": "v1", "image": {"metadata": {"name": digest_n(7)}}});
    ok(&app, "POST", &format!("{IS}/default/imagestreammappings"), Some(mapping), &admin).await;
    let hook = json!({"metadata": {"name": "hook"}, "spec": {"url": "https://hooks.example.com/x", "secret": "0123456789abcdef", "tags": ["*:*"]}});
    ok(&app, "POST", "/api/v1/namespaces/default/webhooks", Some(hook), &admin).await;
    for path in
        [is_path("default", "wall"), istag_path("default", "wall:v1"), format!("{IS}/default/imagestreamimages/wall@{}", digest_n(7))]
    {
        assert_eq!(app.send_with("GET", &path, None, &[]).await.status, StatusCode::OK, "{path}");
    }
    for path in [
        "/api/v1/namespaces/default/members",
        "/api/v1/namespaces/default/visibility",
        "/api/v1/namespaces/default/webhooks",
        "/api/v1/namespaces/default/webhooks/hook",
        "/api/v1/namespaces/default/webhooks/hook/deliveries",
        "/api/v1/namespaces/default/secrets",
        "/api/v1/namespaces/default/audit",
        "/apis/image.openshift.io/v1/images",
    ] {
        let r = app.send_with("GET", path, None, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {}", r.text);
    }
}

/// Alice (admin of `ci`, nothing in `victim`) and the admin of `victim`, with their sessions.
async fn alice_and_victim(app: &TestApp) -> (Vec<(String, String)>, Vec<(String, String)>, Vec<(String, String)>) {
    assert_eq!(app.service.bootstrap_admin("admin", &password("admin")).await.unwrap(), Bootstrap::Created);
    let admin = cookie(&sign_in(app, "admin", &password("admin")).await);
    for u in ["alice", "bob"] {
        ok(app, "POST", "/api/v1/users", Some(json!({"name": u, "password": password(u)})), &admin).await;
    }
    let alice = cookie(&sign_in(app, "alice", &password("alice")).await);
    let bob = cookie(&sign_in(app, "bob", &password("bob")).await);
    ok(app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "ci"}})), &alice).await;
    ok(app, "POST", &format!("{IS}/ci/imagestreams"), Some(json!({"metadata": {"name": "probe"}})), &alice).await;
    ok(app, "POST", "/api/v1/namespaces", Some(json!({"metadata": {"name": "victim"}})), &bob).await;
    ok(app, "POST", &format!("{IS}/victim/imagestreams"), Some(json!({"metadata": {"name": "app"}})), &bob).await;
    (admin, alice, bob)
}

/// The live review's M4 probe: mapping someone else's digest into your own stream, to read its
/// metadata, is answered as for an unknown image (404) and leaves the stored image alone; with
/// the image's manifest (whose sha256 is the digest) the mapping proves it holds the image.
/// Cluster-wide image reads stay with server administrators.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_a_digest_needs_a_readable_stream_holding_it_or_its_manifest() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    let (admin, alice, bob) = alice_and_victim(&app).await;
    let manifest = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
    let digest = common::registry::sha256(manifest.as_bytes());
    let secret_image = json!({"metadata": {"name": "app"}, "tag": "web", "image": {"metadata": {"name": digest},
        "dockerImageMetadata": {"Config": {"Env": ["DB_PASSWORD=hunter2-victim"], "Cmd": ["/srv/app"]}}}});
    ok(&app, "POST", &format!("{IS}/victim/imagestreammappings"), Some(secret_image), &bob).await;

    let probe = |image: Value| json!({"metadata": {"name": "probe"}, "tag": "t", "image": image});
    let r =
        app.send_with("POST", &format!("{IS}/ci/imagestreammappings"), Some(probe(json!({"metadata": {"name": digest}}))), &alice).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.body["message"], format!("images.image.openshift.io \"{digest}\" not found"));
    let r = app.send_with("GET", &format!("{IS}/ci/imagestreamimages/probe@{digest}"), None, &alice).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.text.contains("hunter2"));
    assert_eq!(app.send_with("GET", &istag_path("ci", "probe:t"), None, &alice).await.status, StatusCode::NOT_FOUND, "no tag");
    // Metadata sent with the probe does not replace the stored record either.
    let poison = json!({"metadata": {"name": digest}, "dockerImageMetadata": {"Config": {"Env": ["INJECTED=by-alice"]}}});
    assert_eq!(
        app.send_with("POST", &format!("{IS}/ci/imagestreammappings"), Some(probe(poison)), &alice).await.status,
        StatusCode::NOT_FOUND
    );
    let stored = ok(&app, "GET", &format!("/apis/image.openshift.io/v1/images/{digest}"), None, &admin).await;
    assert_eq!(stored["dockerImageMetadata"]["Config"]["Env"], json!(["DB_PASSWORD=hunter2-victim"]));

    // A manifest that does not hash to the digest is refused by field.
    let wrong = json!({"metadata": {"name": digest}, "dockerImageManifest": "{}"});
    let r = app.send_with("POST", &format!("{IS}/ci/imagestreammappings"), Some(probe(wrong)), &alice).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"]["causes"][0]["field"], "image.dockerImageManifest", "{}", r.text);
    // With the manifest itself: she holds the image, and may tag it (the record stays as stored).
    let proven = json!({"metadata": {"name": digest}, "dockerImageManifest": manifest, "dockerImageMetadata": {"Config": {"Env": ["INJECTED=by-alice"]}}});
    ok(&app, "POST", &format!("{IS}/ci/imagestreammappings"), Some(probe(proven)), &alice).await;
    let seen = ok(&app, "GET", &format!("{IS}/victim/imagestreamimages/app@{digest}"), None, &bob).await;
    assert_eq!(seen["image"]["dockerImageMetadata"]["Config"]["Env"], json!(["DB_PASSWORD=hunter2-victim"]), "not overwritten");

    // Whoever can read a stream holding the digest may map it: bob, into another of his streams.
    ok(&app, "POST", &format!("{IS}/victim/imagestreams"), Some(json!({"metadata": {"name": "copy"}})), &bob).await;
    let again = json!({"metadata": {"name": "copy"}, "tag": "web", "image": {"metadata": {"name": digest}}});
    ok(&app, "POST", &format!("{IS}/victim/imagestreammappings"), Some(again), &bob).await;

    // Cluster-wide image reads: server administrators only, not with a limited token either.
    for path in [format!("/apis/image.openshift.io/v1/images/{digest}"), "/apis/image.openshift.io/v1/images".to_string()] {
        assert_eq!(app.send_with("GET", &path, None, &alice).await.status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(app.send_with("GET", &path, None, &[]).await.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(app.send_with("GET", &path, None, &admin).await.status, StatusCode::OK, "{path}");
    }
    let admin_session = admin[0].1.trim_start_matches("imagestreams_session=").to_string();
    let limited_admin = bearer(&token_for(&app, &admin_session, json!({"name": "ro", "maxRole": "viewer"})).await);
    assert_eq!(app.send_with("GET", "/apis/image.openshift.io/v1/images", None, &limited_admin).await.status, StatusCode::FORBIDDEN);
}

/// A helper's attack: a new image's mapping that names another namespace's image as its child,
/// or its layers or config as its own, made them readable through the claimant's stream
/// (`imagestreamimages`, the registry). What a new image names of stored content must be held
/// where the caller may read; digests stored nowhere, and one's own, may be named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_image_may_not_name_stored_content_the_caller_cannot_read() {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    let (_admin, alice, bob) = alice_and_victim(&app).await;
    let d = |n: u32| format!("sha256:{n:064x}");
    let (victim_image, victim_layer, victim_config) = (d(1), d(2), d(3));
    let secret = json!({"metadata": {"name": "app"}, "tag": "web", "image": {"metadata": {"name": victim_image},
        "dockerImageLayers": [{"name": victim_layer, "size": 10, "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}],
        "dockerImageMetadata": {"Id": victim_config, "Config": {"Env": ["API_KEY=s3cr3t"]}}}});
    ok(&app, "POST", &format!("{IS}/victim/imagestreammappings"), Some(secret), &bob).await;

    let claim = |n: u32, image: Value| {
        let mut image = image;
        image["metadata"] = json!({"name": d(100 + n)});
        json!({"metadata": {"name": "probe"}, "tag": format!("t{n}"), "image": image})
    };
    let child = json!({"dockerImageManifests": [{"digest": victim_image, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "manifestSize": 1, "architecture": "amd64", "os": "linux"}]});
    let layer = json!({"dockerImageLayers": [{"name": victim_layer, "size": 1, "mediaType": "x"}]});
    let config = json!({"dockerImageMetadata": {"Id": victim_config}});
    for (n, (image, field)) in [
        (child, "image.dockerImageManifests[0].digest"),
        (layer, "image.dockerImageLayers[0].name"),
        (config, "image.dockerImageMetadata.Id"),
    ]
    .into_iter()
    .enumerate()
    {
        let r = app.send_with("POST", &format!("{IS}/ci/imagestreammappings"), Some(claim(n as u32, image)), &alice).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {}", r.text);
        assert_eq!(r.body["details"]["causes"][0]["field"], field, "{}", r.text);
        assert_eq!(r.body["details"]["causes"][0]["reason"], "FieldValueForbidden", "{}", r.text);
    }
    let r = app.send_with("GET", &format!("{IS}/ci/imagestreamimages/probe@{victim_image}"), None, &alice).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(!r.text.contains("s3cr3t"));
    assert_eq!(app.send_with("GET", &istag_path("ci", "probe:t0"), None, &alice).await.status, StatusCode::NOT_FOUND, "nothing written");

    // Digests stored nowhere may be named; and the victim's owner may name his own.
    let fresh = json!({"dockerImageLayers": [{"name": d(50), "size": 1, "mediaType": "x"}], "dockerImageMetadata": {"Id": d(51)}});
    ok(&app, "POST", &format!("{IS}/ci/imagestreammappings"), Some(claim(9, fresh)), &alice).await;
    let own = json!({"metadata": {"name": "app"}, "tag": "again", "image": {"metadata": {"name": d(60)},
        "dockerImageLayers": [{"name": victim_layer, "size": 10, "mediaType": "x"}], "dockerImageMetadata": {"Id": victim_config}}});
    ok(&app, "POST", &format!("{IS}/victim/imagestreammappings"), Some(own), &bob).await;

    // What a new image names is bounded and must be digests.
    let many: Vec<Value> = (0..=1000).map(|n| json!({"name": d(1000 + n), "size": 1, "mediaType": "x"})).collect();
    let r =
        app.send_with("POST", &format!("{IS}/ci/imagestreammappings"), Some(claim(20, json!({"dockerImageLayers": many}))), &alice).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("image.dockerImageLayers: Too many: 1001: must have at most 1000 items"), "{}", r.text);
    let bad = json!({"dockerImageLayers": [{"name": "notadigest", "size": -5, "mediaType": "x"}]});
    let r = app.send_with("POST", &format!("{IS}/ci/imagestreammappings"), Some(claim(21, bad)), &alice).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let fields: Vec<&str> = r.body["details"]["causes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["image.dockerImageLayers[0].name", "image.dockerImageLayers[0].size"], "{}", r.text);
}

/// The live review's M4 poisoning: alice maps a digest first, with invented metadata (an
/// `image.openshift.io/managed` annotation, a foreign reference, an injected Env and Cmd). The
/// victim's mapping of the same digest does not attach her record; the victim's import of the
/// image replaces it with what the registry holds, for everyone, and her later mappings cannot
/// change it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_replace_image_metadata_a_mapping_only_claimed() {
    let reg = common::registry::Registry::start().await;
    let config = server::importer::ImporterConfig {
        insecure_registries: vec![reg.host.clone()],
        allowed_registries: vec![reg.host.clone()],
        timeout: std::time::Duration::from_secs(5),
        ..Default::default()
    };
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s.with_importer(config)).await;
    let (admin, alice, bob) = alice_and_victim(&app).await;
    let pushed = reg.push_image("lib/app", Some("v1"), "real", "amd64", false).await;
    let d = pushed.digest.clone();
    let fake = |env: &str| {
        json!({"metadata": {"name": "probe"}, "tag": "t", "image": {
            "metadata": {"name": d, "annotations": {"image.openshift.io/managed": "true"}},
            "dockerImageReference": format!("evil.example/x@{d}"),
            "dockerImageMetadata": {"Config": {"Env": [env], "Cmd": ["/bin/evil"]}}}})
    };
    ok(&app, "POST", &format!("{IS}/ci/imagestreammappings"), Some(fake("INJECTED=by-alice")), &alice).await;

    let mapped = json!({"metadata": {"name": "app"}, "tag": "web", "image": {"metadata": {"name": d}, "dockerImageMetadata": {"Config": {"Env": ["REAL=1"]}}}});
    let r = app.send_with("POST", &format!("{IS}/victim/imagestreammappings"), Some(mapped), &bob).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "alice's record is not attached to the victim's stream: {}", r.text);

    let import = json!({"metadata": {"name": "app"}, "spec": {"import": true, "images": [{"from": {"kind": "DockerImage", "name": format!("{}/lib/app:v1", reg.host)}, "to": {"name": "web"}}]}});
    let r = app.send_with("POST", &format!("{IS}/victim/imagestreamimports"), Some(import), &bob).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"]["images"][0]["status"]["status"], "Success", "{}", r.text);
    let check = |img: &Value| {
        let image = &img["image"];
        assert_eq!(image["dockerImageMetadata"]["Config"]["Cmd"], json!(["/bin/run", "real"]), "{img}");
        assert!(!img.to_string().contains("INJECTED") && !img.to_string().contains("/bin/evil"), "{img}");
        assert!(image["metadata"]["annotations"].get("image.openshift.io/managed").is_none(), "{img}");
        assert_eq!(image["dockerImageReference"], format!("{}/lib/app@{d}", reg.host));
    };
    check(&ok(&app, "GET", &format!("{IS}/victim/imagestreamimages/app@{d}"), None, &bob).await);
    check(&ok(&app, "GET", &format!("{IS}/ci/imagestreamimages/probe@{d}"), None, &alice).await);
    // Verified now: alice's next claim attaches (she holds the digest) but changes nothing.
    ok(&app, "POST", &format!("{IS}/ci/imagestreammappings"), Some(fake("INJECTED=again")), &alice).await;
    check(&ok(&app, "GET", &format!("{IS}/victim/imagestreamimages/app@{d}"), None, &bob).await);
    let stored = ok(&app, "GET", &format!("/apis/image.openshift.io/v1/images/{d}"), None, &admin).await;
    assert_eq!(stored["dockerImageLayers"][0]["name"], pushed.layer_digest);
}

/// The web pages' server functions keep the same limits: readers without a role get no members,
/// webhooks or delivery logs; a limited token gets no namespace creation, only itself among the
/// tokens, and only the memberships within its limits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_functions_keep_token_limits_and_the_public_view() {
    use leptos::server_fn::ServerFn;
    use tower::ServiceExt;
    let t = team().await;
    let ada = t.sessions["nsadmin"].clone();
    ok(&t.app, "PUT", "/api/v1/namespaces/team/visibility", Some(json!({"public": true})), &cookie(&ada)).await;
    let capped = token_for(&t.app, &ada, json!({"name": "capped", "namespaces": ["team"], "maxRole": "viewer"})).await;
    let options = leptos::prelude::LeptosOptions::builder().output_name("portal").build();
    let portal = server::http::ui::router(t.app.service.clone(), options, server::http::EdgeConfig::default());
    let call = |path: &'static str, body: String, headers: Vec<(String, String)>| {
        let portal = portal.clone();
        async move {
            let mut req =
                axum::http::Request::builder().method("POST").uri(path).header("content-type", "application/x-www-form-urlencoded");
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = portal.oneshot(req.body(axum::body::Body::from(body)).unwrap()).await.unwrap();
            let code = resp.status().as_u16();
            let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
            (code, String::from_utf8_lossy(&bytes).to_string())
        }
    };
    use app::api::*;
    for (who, h, team_view) in [("anonymous", vec![], 401), ("outsider", t.who["outsider"].clone(), 403)] {
        let (code, text) = call(GetStream::PATH, "namespace=team&name=app&all_history=false&table[q]=".into(), h.clone()).await;
        assert_eq!(code, 200, "{who}: {text}");
        for (path, body) in [
            (ListWebhooks::PATH, "namespace=team"),
            (ListDeliveries::PATH, "namespace=team&name=hook"),
            (GetNamespaceSettings::PATH, "namespace=team"),
        ] {
            let (code, text) = call(path, body.into(), h.clone()).await;
            assert_eq!(code, team_view, "{who} {path}: {text}");
            assert!(!text.contains("hooks.example.com") && !text.contains("vera"), "{who} {path}: {text}");
        }
    }
    let limited = bearer(&capped);
    let (code, text) = call(CreateNamespace::PATH, "name=squat".into(), limited.clone()).await;
    assert_eq!(code, 403, "{text}");
    let (code, me) = call(CurrentUser::PATH, String::new(), limited.clone()).await;
    assert_eq!(code, 200);
    let me: Value = serde_json::from_str(&me).unwrap();
    assert_eq!(me["namespaces"], json!([{"namespace": "team", "role": "viewer"}]), "{me}");
    let (code, tokens) = call(ListTokens::PATH, String::new(), limited.clone()).await;
    assert_eq!(code, 200);
    let own = capped.split('_').nth(1).unwrap();
    assert!(tokens.contains(own) && !tokens.contains("matrix"), "only itself: {tokens}");
    let other = ok(&t.app, "GET", "/api/v1/tokens", None, &cookie(&ada)).await;
    let matrix = other.as_array().unwrap().iter().find(|t| t["name"] == "matrix").unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(call(RevokeToken::PATH, format!("id={matrix}"), limited.clone()).await.0, 404);
    assert_eq!(t.app.send_with("GET", "/api/v1/session", None, &t.who["nsadmin"]).await.status, StatusCode::OK, "still valid");
}
