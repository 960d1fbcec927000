//! Image-change webhooks end to end: the real API router and dispatcher, receivers on loopback
//! that verify every signature. Covers the cases of spec §7.1, retries after 500s and timeouts,
//! per-subscription order, a dead receiver, the outbox across a restart, "send test event",
//! "redeliver", the egress guard for targets, validation and the write-only secret.

mod common;

use axum::http::StatusCode;
use common::receiver::{Receiver, Step};
use common::{TestApp, digest_n, is_path, istag_path};
use serde_json::{Value, json};
use server::sealing::Sealer;
use server::workers::delivery::{DeliveryConfig, DispatcherHandle};
use std::time::Duration;

const SECRET: &str = "s3cret-signing-key-0123";
const HOOKS: &str = "/api/v1/namespaces/default/webhooks";

fn fast() -> DeliveryConfig {
    DeliveryConfig {
        timeout: Duration::from_millis(500),
        max_attempts: 5,
        // On the service clock, which the tests move by hand.
        backoff_base: Duration::from_millis(200),
        backoff_max: Duration::from_millis(800),
        ..Default::default()
    }
}

async fn app_for(targets: &[String]) -> (TestApp, DispatcherHandle) {
    let targets = targets.to_vec();
    let app = TestApp::build(tempfile::tempdir().unwrap(), move |s| s.with_webhook_targets(&targets)).await;
    let d = server::workers::delivery::start(app.service.clone(), fast());
    (app, d)
}

fn hook(name: &str, url: &str, tags: &[&str], events: &[&str]) -> Value {
    json!({"metadata": {"name": name}, "spec": {"url": url, "secret": SECRET, "tags": tags, "events": events}})
}

/// A mapping with a chosen pull reference (a push through another registry name).
async fn map(app: &TestApp, tag: &str, digest: &str, reference: &str) {
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreammappings",
            json!({"metadata": {"name": "app"}, "tag": tag, "image": {"metadata": {"name": digest}, "dockerImageReference": reference}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// (type, subject, newImage, pullSpec) of what a receiver accepted.
fn summary(received: &[common::receiver::Received]) -> Vec<(String, String, Value, Value)> {
    received
        .iter()
        .map(|r| {
            assert!(r.signature_ok, "a delivery with a bad signature: {:?}", r.event);
            let e = &r.event;
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                e["subject"].as_str().unwrap_or_default().to_string(),
                e["data"]["newImage"].clone(),
                e["data"]["pullSpec"].clone(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_changed_fires_exactly_as_triggers_do() {
    let all = Receiver::start(SECRET, vec![]).await;
    let prod_only = Receiver::start(SECRET, vec![]).await;
    let (app, _d) = app_for(&[all.allow_entry(), prod_only.allow_entry()]).await;
    let r = app
        .create_stream(
            "default",
            json!({"metadata": {"name": "app"}, "spec": {"tags": [{"name": "local", "referencePolicy": {"type": "Local"}}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post(HOOKS, hook("deploy", &all.url(), &["app:*"], &["ImageChanged", "TagDeleted", "ImportFailed"])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(!r.text.contains(SECRET) && !r.text.contains("\"secret\""), "the secret is never returned: {}", r.text);
    let r = app.post(HOOKS, hook("prod-only", &prod_only.url(), &["app:prod"], &[])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let (d1, d2) = (digest_n(1), digest_n(2));
    // A new digest at the head fires; the same push again writes nothing and fires nothing.
    map(&app, "prod", &d1, &format!("quay.io/org/app@{d1}")).await;
    map(&app, "prod", &d1, &format!("quay.io/org/app@{d1}")).await;
    // Local policy: the pull spec is ours (registry.test:5000/default/app@…).
    map(&app, "local", &d2, &format!("quay.io/org/app@{d2}")).await;
    // The same image under another reference: fires under Source, not under Local.
    map(&app, "prod", &d1, &format!("mirror.io/org/app@{d1}")).await;
    map(&app, "local", &d2, &format!("mirror.io/org/app@{d2}")).await;
    // A new tag tracking prod's image fires for that tag.
    let r = app
        .put(
            &istag_path("default", "app:stable"),
            json!({"metadata": {"name": "app:stable"}, "tag": {"name": "stable", "from": {"kind": "ImageStreamTag", "name": "app:prod"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A generation-only refresh: the spec tag changes (short source name), the head is
    // re-resolved to the same reference and image with a new generation. No event.
    let mut stream = app.get(&is_path("default", "app")).await.body;
    let before = stream["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "stable").unwrap()["items"][0].clone();
    for t in stream["spec"]["tags"].as_array_mut().unwrap() {
        if t["name"] == "stable" {
            t["from"]["name"] = json!("prod");
        }
    }
    // And a DockerImage tag that nothing imports yet: a tag without a head never fires.
    stream["spec"]["tags"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "pending", "from": {"kind": "DockerImage", "name": "quay.io/org/app:9"}}));
    let r = app.put(&is_path("default", "app"), stream).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let after = r.body["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "stable").unwrap()["items"][0].clone();
    assert_eq!((&before["image"], &before["dockerImageReference"]), (&after["image"], &after["dockerImageReference"]));
    assert_ne!(before["generation"], after["generation"], "the refresh did happen");
    // An import that fails (the registry is not allowed) fires ImportFailed with its reason.
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports",
            json!({"metadata": {"name": "app"}, "spec": {"import": true, "images": [{"from": {"kind": "DockerImage", "name": "127.0.0.1:9/org/app:1"}, "to": {"name": "broken"}}]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Deleting a tag fires TagDeleted.
    assert_eq!(app.delete(&istag_path("default", "app:local")).await.status, StatusCode::OK);

    let got = summary(&settled(&app, &all, 6).await);
    let ours = format!("registry.test:5000/default/app@{d2}");
    let want = vec![
        ("io.imagestreams.image.changed".into(), "app:prod".into(), json!(d1), json!(format!("quay.io/org/app@{d1}"))),
        ("io.imagestreams.image.changed".into(), "app:local".into(), json!(d2), json!(ours)),
        ("io.imagestreams.image.changed".into(), "app:prod".into(), json!(d1), json!(format!("mirror.io/org/app@{d1}"))),
        ("io.imagestreams.image.changed".into(), "app:stable".into(), json!(d1), json!(format!("mirror.io/org/app@{d1}"))),
        ("io.imagestreams.import.failed".into(), "app:broken".into(), Value::Null, Value::Null),
        ("io.imagestreams.tag.deleted".into(), "app:local".into(), Value::Null, Value::Null),
    ];
    assert_eq!(got, want);
    let received = all.accepted();
    let failed = &received[4].event;
    assert!(failed["data"]["message"].as_str().unwrap().contains("resolves to the non-public address 127.0.0.1"), "{failed}");
    assert_eq!(failed["data"]["reason"], "Forbidden", "{failed}");
    let deleted = &received[5].event;
    assert_eq!((&deleted["data"]["oldImage"], &deleted["data"]["oldPullSpec"]), (&json!(d2), &json!(ours)));
    // CloudEvents 1.0 envelope.
    let first = &received[0].event;
    assert_eq!(first["specversion"], "1.0");
    assert_eq!(first["source"], "/apis/image.openshift.io/v1/namespaces/default/imagestreams/app");
    assert_eq!(first["datacontenttype"], "application/json");
    assert!(first["data"]["resourceVersion"].as_str().unwrap().parse::<i64>().unwrap() > 0);
    assert_eq!(
        (&first["data"]["namespace"], &first["data"]["stream"], &first["data"]["tag"]),
        (&json!("default"), &json!("app"), &json!("prod"))
    );

    let got = summary(&settled(&app, &prod_only, 2).await);
    assert_eq!(got.iter().map(|g| g.3.clone()).collect::<Vec<_>>(), vec![want[0].3.clone(), want[2].3.clone()]);

    // Deleting the stream tells subscribers each tag is gone.
    assert_eq!(app.delete(&is_path("default", "app")).await.status, StatusCode::OK);
    let got = summary(&settled(&app, &all, 6 + 4).await);
    let mut gone: Vec<String> = got[6..].iter().map(|g| g.1.clone()).collect();
    gone.sort();
    assert_eq!(gone, vec!["app:broken", "app:pending", "app:prod", "app:stable"]);
    assert!(got[6..].iter().all(|g| g.0 == "io.imagestreams.tag.deleted"));
}

/// Retries wait on the service clock, which stands still in tests: this moves it to the next
/// retry that is due and waits for that attempt to be recorded (no polling), until `done` holds.
async fn drive_retries_until(app: &TestApp, done: impl Fn() -> bool) {
    let mut attempts = app.service.delivery_attempts();
    while !done() {
        next_attempt(app, &mut attempts).await;
    }
}

/// Moves the clock to the next queued delivery when it waits on it, then waits for the next
/// recorded attempt.
async fn next_attempt(app: &TestApp, attempts: &mut tokio::sync::watch::Receiver<u64>) {
    if let Some(due) = app.service.next_delivery_due_ms().await.unwrap() {
        let now = app.service.now_ms();
        if due > now {
            app.advance_ms(due - now);
        }
    }
    tokio::time::timeout(Duration::from_secs(20), attempts.changed()).await.expect("a delivery attempt").unwrap();
}

/// `n` accepted by `receiver`, once the service has nothing queued any more (so no more can
/// follow).
async fn settled(app: &TestApp, receiver: &Receiver, n: usize) -> Vec<common::receiver::Received> {
    receiver.wait_accepted(n).await;
    app.settle_deliveries().await;
    receiver.accepted()
}

fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_errors_and_timeouts_keep_order_and_give_up_in_the_end() {
    let flaky = Receiver::start(SECRET, vec![Step::Answer(500), Step::Stall(Duration::from_secs(2)), Step::Answer(503)]).await;
    let dead = closed_port();
    let (app, _d) = app_for(&[flaky.allow_entry(), format!("127.0.0.1:{dead}")]).await;
    assert_eq!(app.post(HOOKS, hook("flaky", &flaky.url(), &["*:*"], &[])).await.status, StatusCode::CREATED);
    let dead_url = format!("http://127.0.0.1:{dead}/hook");
    assert_eq!(app.post(HOOKS, hook("dead", &dead_url, &["app:*"], &[])).await.status, StatusCode::CREATED);

    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    // Many quick changes: every one arrives, in order, after the first one's retries.
    for n in 1..=12 {
        assert_eq!(app.push("default", "app", "prod", &digest_n(n)).await.status, StatusCode::CREATED);
    }
    drive_retries_until(&app, || flaky.accepted().len() >= 12).await;
    let got = summary(&settled(&app, &flaky, 12).await);
    let images: Vec<Value> = got.iter().map(|g| g.2.clone()).collect();
    assert_eq!(images, (1..=12).map(|n| json!(digest_n(n))).collect::<Vec<_>>());
    let first_tries: Vec<u16> = flaky.received().iter().take(4).map(|r| r.answered).collect();
    assert_eq!(first_tries, vec![500, 0, 503, 200], "the stalled request (0) was given up by the sender");

    let log = app.get(&format!("{HOOKS}/flaky/deliveries")).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 12);
    assert!(items.iter().all(|d| d["state"] == "Delivered"), "{}", log.text);
    let oldest = items.last().unwrap();
    assert_eq!(oldest["attempts"], 4);
    let codes: Vec<Value> = oldest["attemptLog"].as_array().unwrap().iter().map(|a| a["statusCode"].clone()).collect();
    assert_eq!(codes, vec![json!(500), Value::Null, json!(503), json!(200)]);
    let errors: Vec<Value> = oldest["attemptLog"].as_array().unwrap().iter().map(|a| a["error"].clone()).collect();
    assert_eq!(errors[0], "the receiver answered 500 Internal Server Error");
    assert_eq!(errors[1], "the receiver did not answer in time");
    assert_eq!(errors[3], Value::Null);
    assert!(oldest["attemptLog"][1]["latencyMs"].as_i64().unwrap() >= 500);

    // The dead receiver: five attempts each, then Failed, and the queue moves on.
    let mut attempts = app.service.delivery_attempts();
    let items = loop {
        let log = app.get(&format!("{HOOKS}/dead/deliveries")).await;
        let items = log.body["items"].as_array().unwrap().clone();
        if items.iter().filter(|d| d["state"] == "Failed").count() >= 2 {
            break items;
        }
        next_attempt(&app, &mut attempts).await;
    };
    let oldest = items.last().unwrap();
    assert_eq!((&oldest["state"], &oldest["attempts"]), (&json!("Failed"), &json!(5)), "{oldest}");
    let error = oldest["attemptLog"][0]["error"].as_str().unwrap();
    assert!(error.starts_with(&format!("could not connect to 127.0.0.1:{dead}: Connection refused")), "{error}");
    let status = app.get(&format!("{HOOKS}/dead")).await.body;
    assert_eq!(status["status"]["lastDelivery"]["state"], "Failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_survives_a_restart_between_change_and_delivery() {
    let receiver = Receiver::start(SECRET, vec![]).await;
    let targets = vec![receiver.allow_entry()];
    let dir = tempfile::tempdir().unwrap();
    let key_dir = dir.path().to_path_buf();
    let setup = |targets: Vec<String>, key_dir: std::path::PathBuf| {
        move |s: server::service::Service| s.with_webhook_targets(&targets).with_sealer(Sealer::load_or_create(&key_dir).unwrap())
    };
    // First life: no dispatcher runs (the process "dies" after the commit).
    let app = TestApp::build(dir, setup(targets.clone(), key_dir.clone())).await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    assert_eq!(app.post(HOOKS, hook("deploy", &receiver.url(), &["app:prod"], &[])).await.status, StatusCode::CREATED);
    assert_eq!(app.push("default", "app", "prod", &digest_n(7)).await.status, StatusCode::CREATED);
    let log = app.get(&format!("{HOOKS}/deploy/deliveries")).await.body;
    assert_eq!((&log["items"][0]["state"], &log["items"][0]["attempts"]), (&json!("Pending"), &json!(0)));
    let dir = app.into_dir();
    // No dispatcher ran in the first life: nothing can have been sent.

    // Second life on the same data directory: the queued delivery goes out, signed with the
    // secret that was sealed by the first.
    let app = TestApp::build(dir, setup(targets, key_dir)).await;
    let _d = server::workers::delivery::start(app.service.clone(), fast());
    let got = summary(&settled(&app, &receiver, 1).await);
    assert_eq!(
        got,
        vec![(
            "io.imagestreams.image.changed".into(),
            "app:prod".into(),
            json!(digest_n(7)),
            json!(format!("quay.io/org/app@{}", digest_n(7)))
        )]
    );
    let log = app.get(&format!("{HOOKS}/deploy/deliveries")).await.body;
    assert_eq!(log["items"][0]["state"], "Delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_events_redelivery_guard_validation_and_secrecy() {
    let receiver = Receiver::start(SECRET, vec![]).await;
    let port = receiver.port;
    // A wildcard entry lets the name through but never opens loopback (checked when sending).
    let (app, _d) = app_for(&[receiver.allow_entry(), format!("*:{}", port)]).await;

    let r = app.post(HOOKS, hook("deploy", &receiver.url(), &["app:prod"], &[])).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = app.post(&format!("{HOOKS}/deploy/test"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let first = r.body["id"].as_i64().unwrap();
    let got = settled(&app, &receiver, 1).await;
    assert!(got[0].signature_ok);
    assert_eq!(got[0].event["type"], "io.imagestreams.webhook.test");
    assert_eq!(got[0].delivery, first.to_string());

    let r = app.post(&format!("{HOOKS}/deploy/deliveries/{first}/redeliver"), json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["redeliveryOf"], first);
    let got = settled(&app, &receiver, 2).await;
    assert_eq!(got[1].event["id"], got[0].event["id"], "a redelivery carries the same CloudEvent id");
    assert_ne!(got[1].delivery, got[0].delivery);
    assert!(got[1].signature_ok);
    assert_eq!(app.post(&format!("{HOOKS}/deploy/deliveries/999/redeliver"), json!({})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&format!("{HOOKS}/deploy/deliveries/x/redeliver"), json!({})).await.status, StatusCode::BAD_REQUEST);

    // The secret is write-only; a PUT without one keeps it (the next event still verifies).
    for path in [format!("{HOOKS}/deploy"), HOOKS.to_string()] {
        let r = app.get(&path).await;
        assert!(!r.text.contains(SECRET) && !r.text.contains("\"secret\""), "{}", r.text);
    }
    let mut w = app.get(&format!("{HOOKS}/deploy")).await.body;
    w["spec"]["tags"] = json!(["app:*"]);
    let r = app.put(&format!("{HOOKS}/deploy"), w.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["spec"]["tags"], json!(["app:*"]));
    assert_eq!(app.put(&format!("{HOOKS}/deploy"), w).await.status, StatusCode::CONFLICT, "a stale resourceVersion");
    assert_eq!(app.post(&format!("{HOOKS}/deploy/test"), json!({})).await.status, StatusCode::ACCEPTED);
    assert!(settled(&app, &receiver, 3).await[2].signature_ok);

    // Validation names each field and rule.
    let bad =
        json!({"metadata": {"name": "Bad_Name"}, "spec": {"url": "ftp://x", "secret": "short", "tags": ["app"], "events": ["Pushed"]}});
    let r = app.post(HOOKS, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let fields: Vec<&str> = r.body["details"]["causes"].as_array().unwrap().iter().map(|c| c["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["metadata.name", "spec.url", "spec.secret", "spec.tags[0]", "spec.events[0]"]);
    assert!(
        r.body["message"].as_str().unwrap().contains("spec.url: Invalid value: \"ftp://x\": scheme \"ftp\" is not supported"),
        "{}",
        r.text
    );
    let r = app.post(HOOKS, json!({"metadata": {"name": "nosecret"}, "spec": {"url": receiver.url(), "tags": ["*:*"]}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["message"].as_str().unwrap().contains("spec.secret: Required value"), "{}", r.text);
    assert_eq!(app.post(HOOKS, hook("deploy", &receiver.url(), &["*:*"], &[])).await.status, StatusCode::CONFLICT);
    assert_eq!(app.post("/api/v1/namespaces/nope/webhooks", hook("x", &receiver.url(), &["*:*"], &[])).await.status, StatusCode::NOT_FOUND);

    // The guard: targets outside the list, and literal non-public addresses, are refused when
    // the subscription is written.
    let r = app.post(HOOKS, hook("other", &format!("http://127.0.0.1:{}/hook", port + 1), &["*:*"], &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["message"].as_str().unwrap().contains("is forbidden: not allowed by --allowed-webhook-target"), "{}", r.text);
    let r = app.post(HOOKS, hook("meta", &format!("http://169.254.169.254:{port}/latest"), &["*:*"], &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body["message"].as_str().unwrap().contains("resolves to the non-public address 169.254.169.254"), "{}", r.text);
    // A host name the wildcard lets through is checked on its resolved address when sending.
    let r = app.post(HOOKS, hook("byname", &format!("http://localhost:{port}/hook"), &["*:*"], &[])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(app.post(&format!("{HOOKS}/byname/test"), json!({})).await.status, StatusCode::ACCEPTED);
    let mut attempts = app.service.delivery_attempts();
    let error = loop {
        let log = app.get(&format!("{HOOKS}/byname/deliveries")).await.body;
        if let Some(e) = log["items"][0]["attemptLog"][0]["error"].as_str() {
            break e.to_string();
        }
        next_attempt(&app, &mut attempts).await;
    };
    assert!(error.contains("resolves to the non-public address"), "{error}");
    assert_eq!(receiver.received().len(), 3, "nothing reached the receiver through the refused name");
    // A refusal by the operator's rules does not pass by retrying: the delivery failed at once.
    app.settle_deliveries().await;
    let log = app.get(&format!("{HOOKS}/byname/deliveries")).await.body;
    assert_eq!(log["items"][0]["state"], "Failed", "{log}");
    assert_eq!(log["items"][0]["attempts"], 1, "{log}");
    assert!(log["items"][0].get("nextAttempt").is_none(), "{log}");
    // Numeric forms of an address that the delivery's lookup would read as loopback are refused
    // when the subscription is written, as the dotted form is.
    for host in ["127.1", "0x7f000001", "2130706433", "0177.0.0.1"] {
        let r = app.post(HOOKS, hook("numeric", &format!("http://{host}:{port}/hook"), &["*:*"], &[])).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{host}: {}", r.text);
        assert!(r.body["message"].as_str().unwrap().contains("127.0.0.1"), "{host}: {}", r.text);
        assert_eq!(r.body["details"]["causes"][0]["field"], "spec.url", "{}", r.text);
    }

    // Deleting the subscription drops its queue and log.
    assert_eq!(app.delete(&format!("{HOOKS}/byname")).await.status, StatusCode::OK);
    assert_eq!(app.get(&format!("{HOOKS}/byname/deliveries")).await.status, StatusCode::NOT_FOUND);
}

/// A target's port is judged when the subscription is written, as its addresses are when
/// literal: 443 and 80, or a port an `--allowed-webhook-target` entry names. Before, a named
/// host on another port was accepted and its first delivery failed.
#[tokio::test]
async fn a_target_port_no_entry_allows_is_refused_when_written() {
    let (app, _d) = app_for(&[]).await;
    let r = app.post(HOOKS, hook("alt-port", "https://hooks.example.com:8443/x", &["*:*"], &[])).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"]["causes"][0]["field"], "spec.url", "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("port 8443 is not allowed: only 443 and 80"), "{}", r.text);
    for (n, url) in ["https://hooks.example.com/x", "http://hooks.example.com:80/x", "https://hooks.example.com:443/x"].iter().enumerate() {
        let r = app.post(HOOKS, hook(&format!("default-port-{n}"), url, &["*:*"], &[])).await;
        assert_eq!(r.status, StatusCode::CREATED, "{url}: {}", r.text);
    }
    let (named, _d2) = app_for(&["hooks.example.com:8443".to_string()]).await;
    let r = named.post(HOOKS, hook("alt-port", "https://hooks.example.com:8443/x", &["*:*"], &[])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// The live review's M6 reproducer: a receiver answers 200 with 100 header lines, at the
/// client's limit once the egress proxy adds its own, so the HTTP client fails after the request
/// went out, and its error text names the whole target URL. The delivery log records a fixed
/// message naming only host and port, for editors and viewers alike; anonymous readers of the
/// public namespace do not see delivery logs at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_errors_never_carry_the_target_url() {
    let mut answer = String::from("HTTP/1.1 200 OK\r\n");
    for n in 1..=99 {
        answer.push_str(&format!("x-h{n}: v\r\n"));
    }
    answer.push_str("content-length: 0\r\n\r\n");
    let port = common::receiver::raw_answer(answer.into_bytes()).await;
    let (app, _d) = app_for(&[format!("127.0.0.1:{port}")]).await;
    assert_eq!(app.service.bootstrap_admin("admin", "admin-password-1").await.unwrap(), server::service::Bootstrap::Created);
    let signed_in = |user: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let r = app.send_with("POST", "/api/v1/session", Some(json!({"username": user, "password": password})), &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            let cookie = r.set_cookie.unwrap().split(';').next().unwrap().to_string();
            vec![("cookie".to_string(), cookie)]
        }
    };
    let admin = signed_in("admin", "admin-password-1").await;
    let ok = |method: &'static str, path: String, body: Option<Value>, h: Vec<(String, String)>| {
        let app = &app;
        async move {
            let r = app.send_with(method, &path, body, &h).await;
            assert!(r.status.is_success(), "{method} {path}: {} {}", r.status, r.text);
            r.body
        }
    };
    ok("POST", "/api/v1/users".into(), Some(json!({"name": "vera", "password": "vera-password-1"})), admin.clone()).await;
    ok("PUT", "/api/v1/namespaces/default/members/vera".into(), Some(json!({"role": "viewer"})), admin.clone()).await;
    ok("PUT", "/api/v1/namespaces/default/visibility".into(), Some(json!({"public": true})), admin.clone()).await;
    let vera = signed_in("vera", "vera-password-1").await;
    let url = format!("http://127.0.0.1:{port}/services/T0001/B0002/SLACKSECRET?token=QUERYSECRET");
    ok("POST", HOOKS.into(), Some(hook("slack", &url, &["*:*"], &[])), admin.clone()).await;
    ok("POST", format!("{HOOKS}/slack/test"), Some(json!({})), admin.clone()).await;

    let deliveries = format!("{HOOKS}/slack/deliveries");
    let mut attempts = app.service.delivery_attempts();
    let error = loop {
        let log = ok("GET", deliveries.clone(), None, admin.clone()).await;
        if let Some(e) = log["items"][0]["attemptLog"][0]["error"].as_str() {
            break e.to_string();
        }
        next_attempt(&app, &mut attempts).await;
    };
    assert_eq!(error, format!("the receiver's answer was too large (too many or too long headers): 127.0.0.1:{port}"));
    for (who, h) in [("editor", admin.clone()), ("viewer", vera.clone())] {
        let r = app.send_with("GET", &deliveries, None, &h).await;
        assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.text);
        for secret in ["SLACKSECRET", "QUERYSECRET", "/services", "token="] {
            assert!(!r.text.contains(secret), "{who} sees {secret}: {}", r.text);
        }
    }
    let anonymous = app.send_with("GET", &deliveries, None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{}", anonymous.text);
    assert!(!anonymous.text.contains("SECRET"));
}

/// Per-namespace quotas (review M9): 50 subscriptions; 30 test events and redeliveries a minute
/// on the service clock; 1000 pending deliveries, beyond which a change's deliveries are logged
/// as failed, unsent, and hand-made ones are refused. No dispatcher runs, so nothing leaves the
/// queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_quotas_bound_each_namespace() {
    let app = TestApp::new().await;
    assert_eq!(app.create_stream("default", json!({"metadata": {"name": "app"}})).await.status, StatusCode::CREATED);
    for i in 0..50 {
        let r = app.post(HOOKS, hook(&format!("h{i}"), &format!("https://hooks.example.com/h{i}"), &["*:*"], &[])).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = app.post(HOOKS, hook("h50", "https://hooks.example.com/h50", &["*:*"], &[])).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("exceeded quota: at most 50 webhooks per namespace"), "{}", r.text);

    let test_path = format!("{HOOKS}/h0/test");
    let test = || app.post(&test_path, json!({}));
    let mut first = 0;
    for i in 0..30 {
        let r = test().await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "test event {i}: {}", r.text);
        first = r.body["id"].as_i64().unwrap();
    }
    let r = test().await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains("at most 30 test events and redeliveries per minute"), "{}", r.text);
    let r = app.post(&format!("{HOOKS}/h0/deliveries/{first}/redeliver"), json!({})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "redeliveries count too: {}", r.text);
    app.advance(61);
    assert_eq!(test().await.status, StatusCode::ACCEPTED, "a minute later");

    // 31 pending; each new tag queues one delivery per subscription (50).
    let quota = server::service::MAX_PENDING_PER_NAMESPACE;
    for i in 0..(quota as u64).div_ceil(50) {
        assert_eq!(app.push("default", "app", &format!("t{i}"), &digest_n(i)).await.status, StatusCode::CREATED);
    }
    let hooks = app.get(HOOKS).await.body;
    let pending: i64 = hooks["items"].as_array().unwrap().iter().map(|w| w["status"]["pending"].as_i64().unwrap()).sum();
    assert_eq!(pending, quota, "at the quota, not beyond");
    // Subscriptions are served in name order; h9 is the last, so its newest delivery was dropped.
    let log = app.get(&format!("{HOOKS}/h9/deliveries")).await.body;
    let newest = &log["items"][0];
    assert_eq!(newest["state"], "Failed", "{newest}");
    let note = newest["attemptLog"][0]["error"].as_str().unwrap();
    assert!(note.starts_with(&format!("not sent: the namespace already has {quota} deliveries pending")), "{note}");
    let r = test().await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.body["message"].as_str().unwrap().contains(&format!("already has {quota} webhook deliveries pending")), "{}", r.text);
    // The change itself went ahead.
    let last = format!("app:t{}", (quota as u64).div_ceil(50) - 1);
    assert_eq!(app.get(&istag_path("default", &last)).await.status, StatusCode::OK);
}
