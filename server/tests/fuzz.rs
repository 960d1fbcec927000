//! Fuzzing of what the server decodes from strangers (issue 13, point 10): request bodies of
//! every writing route in JSON and YAML (random bytes, random JSON values in the objects' shape,
//! random YAML text), and the pull-spec parser. Bounded by case count (`FUZZ_CASES`, default
//! 10,000 each, so CI runs it); the property is the same throughout: no panic and no 5xx.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use server::service::Bootstrap;
use tower::ServiceExt;

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(10_000)
}

/// Any JSON value, a few levels deep, with the strings and numbers that break parsers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| json!(f)),
        "\\PC{0,40}".prop_map(Value::String),
        "[a-z0-9:/@._-]{0,60}".prop_map(Value::String),
        Just(json!("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(
                prop_oneof![
                    "[a-zA-Z]{1,12}",
                    Just("name".to_string()),
                    Just("tags".to_string()),
                    Just("from".to_string()),
                    Just("kind".to_string()),
                    Just("tag".to_string()),
                    Just("image".to_string()),
                    Just("metadata".to_string()),
                    Just("spec".to_string()),
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// An object in the API's shape with random parts: a name that may be valid, random `spec`,
/// `tag`, `image` and annotations.
fn api_object() -> impl Strategy<Value = Value> {
    (prop_oneof!["[a-z0-9][a-z0-9-]{0,20}", "\\PC{0,30}"], json_value(), json_value(), json_value(), json_value()).prop_map(
        |(name, spec, tag, image, annotations)| {
            json!({"metadata": {"name": name, "annotations": annotations}, "spec": spec, "tag": tag, "image": image, "name": name})
        },
    )
}

/// YAML-looking text from the characters YAML gives meaning to.
fn yaml_text() -> impl Strategy<Value = String> {
    "[{}\\[\\]:,&*!|>'\"#\\n -a-z0-9%@`?]{0,300}"
}

#[derive(Debug, Clone)]
enum Body_ {
    Json(Value),
    Bytes(Vec<u8>),
    Yaml(String),
}

fn body() -> impl Strategy<Value = Body_> {
    prop_oneof![
        4 => api_object().prop_map(Body_::Json),
        2 => json_value().prop_map(Body_::Json),
        1 => proptest::collection::vec(any::<u8>(), 0..200).prop_map(Body_::Bytes),
        3 => yaml_text().prop_map(Body_::Yaml),
    ]
}

/// Every route that decodes a body, with the method it takes.
const ROUTES: &[(&str, &str)] = &[
    ("POST", "/api/v1/namespaces"),
    ("POST", "/apis/image.openshift.io/v1/namespaces/default/imagestreams"),
    ("PUT", "/apis/image.openshift.io/v1/namespaces/default/imagestreams/app"),
    ("POST", "/apis/image.openshift.io/v1/namespaces/default/imagestreamtags"),
    ("PUT", "/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/app:latest"),
    ("POST", "/apis/image.openshift.io/v1/namespaces/default/imagestreammappings"),
    ("POST", "/api/v1/namespaces/default/secrets"),
    ("POST", "/api/v1/tokens"),
    ("PUT", "/api/v1/namespaces/default/members/admin"),
    ("PUT", "/api/v1/namespaces/default/visibility"),
    ("POST", "/api/v1/users"),
    ("PUT", "/api/v1/session/password"),
    ("POST", "/api/v1/session"),
];

#[test]
fn request_decoders_never_panic_or_fail_with_5xx() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (app, cookie) = rt.block_on(async {
        let app = TestApp::new().await;
        assert_eq!(app.service.bootstrap_admin("admin", "admin-password-1").await.unwrap(), Bootstrap::Created);
        let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": "admin", "password": "admin-password-1"})), &[]).await;
        let cookie = r.set_cookie.unwrap().split(';').next().unwrap().to_string();
        app.post("/apis/image.openshift.io/v1/namespaces/default/imagestreams", json!({"metadata": {"name": "app"}})).await;
        (app, cookie)
    });
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let result = runner.run(&(0..ROUTES.len(), body()), |(route, body)| {
        let (method, path) = ROUTES[route];
        let (content_type, bytes) = match &body {
            Body_::Json(v) => ("application/json", v.to_string().into_bytes()),
            Body_::Bytes(b) => ("application/json", b.clone()),
            Body_::Yaml(t) => ("application/yaml", t.clone().into_bytes()),
        };
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .header("cookie", &cookie)
            .body(Body::from(bytes))
            .unwrap();
        let status = rt.block_on(app.router.clone().oneshot(req)).unwrap().status();
        prop_assert!(status.as_u16() < 500, "{method} {path} answered {status} to {body:?}");
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn the_pull_spec_parser_never_panics() {
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let spec = prop_oneof!["\\PC{0,120}", "[a-zA-Z0-9:/@._+\\[\\]-]{0,120}"];
    runner
        .run(&spec, |s| {
            let _ = app::domain::reference::DockerImageReference::parse(&s);
            let _ = app::domain::names::parse_from_reference(&s, ':');
            let _ = app::domain::names::parse_istag_name(&s);
            let _ = app::domain::names::parse_isimage_name(&s);
            Ok(())
        })
        .unwrap();
}
