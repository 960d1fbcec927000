//! Sign-in under hostile input (issue 13 point 7; reviews M1 and L2): oversized names and
//! passwords are refused before any work and not echoed, and one client's failures slow that
//! client only. Requests carry their peer address as the listener gives it (`ConnectInfo`).

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tower::ServiceExt;

const ADMIN_PASSWORD: &str = "admin-password-1";

async fn with_admin() -> TestApp {
    let app = TestApp::build(tempfile::tempdir().unwrap(), |s| s).await;
    assert_eq!(app.service.bootstrap_admin("admin", ADMIN_PASSWORD).await.unwrap(), server::service::Bootstrap::Created);
    app
}

/// `POST /api/v1/session` from `from` (an IP address), as the listener hands it over.
async fn sign_in_from(app: &TestApp, from: &str, user: &str, password: &str) -> (StatusCode, Value) {
    let peer = SocketAddr::new(from.parse().unwrap(), 40_000);
    let req = Request::post("/api/v1/session")
        .header("content-type", "application/json")
        .extension(ConnectInfo(peer))
        .body(Body::from(json!({"username": user, "password": password}).to_string()))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Review M1's input: a 1.5 MB user name was hashed, kept in the throttle and logged whole. The
/// body is now over the sign-in route's limit (413 before it is read); a name that fits the body
/// but not the rule is refused (422, naming the field and the bound) without being echoed, and
/// neither counts as a failure; nor does an oversized password.
#[tokio::test]
async fn an_oversized_user_name_or_password_is_refused_before_any_work() {
    let app = with_admin().await;
    let (status, body) = sign_in_from(&app, "198.51.100.7", &"a".repeat(1_500_000), "x").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    let long = "a".repeat(10_000);
    for _ in 0..5 {
        let (status, body) = sign_in_from(&app, "198.51.100.7", &long, "x").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["reason"], "Invalid");
        assert_eq!(body["message"], "User \"\" is invalid: username: Too long: may not be more than 63 bytes");
        assert_eq!(body["details"]["causes"][0]["field"], "username");
    }
    let (status, body) = sign_in_from(&app, "198.51.100.7", "admin", &"p".repeat(1025)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["message"], "User \"\" is invalid: password: Too long: may not be more than 1024 bytes");
    // None of them counted as a failed attempt of that client.
    let (status, _) = sign_in_from(&app, "198.51.100.7", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

/// New users and new passwords have the same bounds, and the oversized name is not echoed as the
/// object's name either.
#[tokio::test]
async fn new_users_and_passwords_are_bounded_too() {
    let app = with_admin().await;
    let session = {
        let req = Request::post("/api/v1/session")
            .header("content-type", "application/json")
            .body(Body::from(json!({"username": "admin", "password": ADMIN_PASSWORD}).to_string()))
            .unwrap();
        let resp = app.router.clone().oneshot(req).await.unwrap();
        let set = resp.headers()["set-cookie"].to_str().unwrap().to_string();
        set.split(';').next().unwrap().to_string()
    };
    let h = vec![("cookie".to_string(), session)];
    let r = app.send_with("POST", "/api/v1/users", Some(json!({"name": "u".repeat(10_000), "password": "a-good-password-1"})), &h).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["message"], "User \"\" is invalid: name: Too long: may not be more than 63 bytes");
    let r = app.send_with("POST", "/api/v1/users", Some(json!({"name": "vera", "password": "p".repeat(1025)})), &h).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["message"], "User \"vera\" is invalid: password: Invalid value: <hidden>: must be no more than 1024 bytes long");
    let r =
        app.send_with("PUT", "/api/v1/session/password", Some(json!({"current": "c".repeat(2000), "new": "a-good-password-2"})), &h).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["message"], "User \"admin\" is invalid: current: Too long: may not be more than 1024 bytes");
    assert!(app.service.bootstrap_admin(&"r".repeat(64), ADMIN_PASSWORD).await.is_err(), "the first administrator's name too");
}

/// Review L2's exploit: one client failing at `admin` over and over kept `admin` out for
/// everyone. Now only that client waits; the administrator elsewhere signs in.
#[tokio::test]
async fn a_guessing_client_cannot_lock_admin_out_for_others() {
    let app = with_admin().await;
    for _ in 0..3 {
        assert_eq!(sign_in_from(&app, "198.51.100.7", "admin", "wrong-password").await.0, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = sign_in_from(&app, "198.51.100.7", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "the guessing client waits, right password or not");
    assert_eq!(body["message"], "too many failed sign-ins for \"admin\"; try again in 1 s");
    assert_eq!(body["details"]["retryAfterSeconds"], 1, "the wait, for clients too: {body}");
    let (status, body) = sign_in_from(&app, "192.0.2.10", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "another client is not kept out: {body}");
    assert_eq!(body["user"], "admin");
}

/// Review L2: three free guesses per name, for every name at once (spraying). One client's
/// failures over all names are counted too; after twenty it waits, another client does not.
#[tokio::test]
async fn spraying_many_names_from_one_client_is_slowed() {
    let app = with_admin().await;
    for i in 0..20 {
        let (status, _) = sign_in_from(&app, "2001:db8:7:7::1", &format!("user{i}"), "winter-2026!").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // Another address of the same IPv6 /64 is the same client.
    let (status, body) = sign_in_from(&app, "2001:db8:7:7::99", "user20", "winter-2026!").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["message"], "too many failed sign-ins from this address; try again in 1 s");
    assert_eq!(body["details"]["retryAfterSeconds"], 1, "{body}");
    assert_eq!(sign_in_from(&app, "192.0.2.10", "admin", ADMIN_PASSWORD).await.0, StatusCode::OK);
    app.advance(1);
    assert_eq!(sign_in_from(&app, "2001:db8:7:7::1", "admin", ADMIN_PASSWORD).await.0, StatusCode::OK, "after the wait");
}
