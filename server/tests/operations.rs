//! Operations (issue 18, points 1–4), each against the real `imagestreams` binary:
//! - metrics: `/metrics` scraped and parsed (OpenMetrics text), values moving after real
//!   actions (registry pushes and pulls, a pull-through from a real registry, imports, a webhook
//!   delivery, a watch, garbage collection, a prune), on the API port for administrators only
//!   and on `--metrics-listen` without credentials; the README names every metric;
//! - logs: JSON lines, the request id taken from `X-Request-Id` (or made) and echoed, on every
//!   line of the request; background work names its stream or webhook; none of the secrets the
//!   test used (passwords, an API token, registry credentials, a webhook secret) in any line;
//! - backup and restore while writes go on, compared stream by stream, image by image, blob by
//!   blob;
//! - graceful shutdown on SIGTERM: `/readyz` 503 while draining, a watch ends with a BOOKMARK
//!   that resumes without loss after the restart, a request in flight finishes, exit 0.

mod common;

use common::portal::{BIN, Portal};
use common::receiver::Receiver;
use common::registry::{Registry, free_port, sha256};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const ADMIN_PASSWORD: &str = "admin-Pa55word-7f3e1c";
const NINA_PASSWORD: &str = "nina-Pa55word-92ab4d";
const REGISTRY_PASSWORD: &str = "robot-Pa55word-c0ffee";
const WEBHOOK_SECRET: &str = "whsec-0123456789-abcdef";
const IMAGE_API: &str = "/apis/image.openshift.io/v1";

// ---------------------------------------------------------------------------------------------
// A Prometheus/OpenMetrics text parser, strict enough to fail on a malformed exposition.

/// One scrape: samples by name and labels, and the declared families with their types.
#[derive(Debug, Default)]
struct Scrape {
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
    types: BTreeMap<String, String>,
}

/// Parses `name{k="v",…} value` (label values may hold `{`, `}`, `,` and escaped quotes).
fn parse_sample(line: &str) -> Result<(String, BTreeMap<String, String>, f64), String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(r) = rest.strip_prefix('{') {
        let mut chars = r.char_indices().peekable();
        let mut key = String::new();
        loop {
            let (i, c) = chars.next().ok_or("unterminated labels")?;
            match c {
                '}' if key.is_empty() => {
                    rest = &r[i + 1..];
                    break;
                }
                ',' if key.is_empty() => {}
                '=' => {
                    if chars.next().map(|x| x.1) != Some('"') {
                        return Err("label value not quoted".into());
                    }
                    let mut value = String::new();
                    loop {
                        let (_, c) = chars.next().ok_or("unterminated label value")?;
                        match c {
                            '\\' => value.push(chars.next().ok_or("dangling escape")?.1),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(std::mem::take(&mut key), value);
                }
                c if c.is_ascii_alphanumeric() || c == '_' => key.push(c),
                c => return Err(format!("unexpected {c:?} in labels")),
            }
        }
    }
    let value = rest.trim().split(' ').next().ok_or("no value")?;
    let value: f64 = value.parse().map_err(|e| format!("value {value:?}: {e}"))?;
    Ok((name.to_string(), labels, value))
}

fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "an OpenMetrics exposition ends with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            scrape.types.insert(name.to_string(), kind.to_string());
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
        } else {
            let sample = parse_sample(line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            let family = scrape.types.keys().any(|f| sample.0.starts_with(f.as_str()));
            assert!(family, "a sample of an undeclared family: {line}");
            scrape.samples.push(sample);
        }
    }
    scrape
}

impl Scrape {
    /// The sum of the samples named `name` whose labels include `labels` (0 when none).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|s| s.2)
            .sum()
    }
}

// ---------------------------------------------------------------------------------------------

fn client() -> reqwest::Client {
    // No pooled connections: each request is a new connection, as a new client's would be.
    reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap()
}

async fn scrape(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = client().get(format!("{url}/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let code = resp.status().as_u16();
    let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (code, ct, resp.text().await.unwrap())
}

/// Runs the CLI against `portal` with config dir `cfg`; stdout, or a panic naming stderr.
fn cli_ok(portal: &Portal, cfg: &std::path::Path, args: &[&str]) -> String {
    let out = portal.cli(cfg, args);
    assert!(out.status.success(), "{args:?}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Pushes a one-layer image to `repo:tag` of the portal's registry (basic auth `auth`, or none).
async fn push_image(base: &str, auth: Option<(&str, &str)>, repo: &str, tag: &str, seed: &str) -> (String, Vec<u8>) {
    let http = client();
    let with = |r: reqwest::RequestBuilder| match auth {
        Some((u, p)) => r.basic_auth(u, Some(p)),
        None => r,
    };
    let layer = format!("layer of {seed}, {}", "x".repeat(4096)).into_bytes();
    let config = common::oci::config(seed);
    for blob in [&layer, &config] {
        let r =
            with(http.post(format!("{base}/v2/{repo}/blobs/uploads/?digest={}", sha256(blob)))).body(blob.clone()).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 201, "blob push: {}", r.text().await.unwrap());
    }
    let manifest = common::oci::image_manifest(&config, &[&layer]);
    let r = with(http.put(format!("{base}/v2/{repo}/manifests/{tag}")))
        .header("content-type", common::registry::OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "manifest push: {}", r.text().await.unwrap());
    (sha256(&manifest), layer)
}

/// Waits (15 s at most) until `check` holds on a fresh scrape; the last scrape either way.
async fn scrape_until(url: &str, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let s = parse(&scrape(url, None).await.2);
        if check(&s) || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Metrics and logs of one server through a day's worth of real actions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_real_actions_and_logs_carry_ids_but_no_secrets() {
    let upstream = Registry::start().await;
    let pushed = upstream.push_image("lib/app", Some("v1"), "ops", "amd64", false).await;
    let receiver = Receiver::start(WEBHOOK_SECRET, vec![]).await;
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut portal = Portal::start(
        &[
            "--metrics-listen",
            &metrics_addr,
            "--log-format",
            "json",
            "--allowed-registry",
            &format!("{},127.0.0.1:1", upstream.host),
            "--insecure-registry",
            &upstream.host,
            "--allowed-webhook-target",
            &receiver.allow_entry(),
        ],
        // LEPTOS_OUTPUT_NAME: what cargo-leptos compiles in; without it Leptos prints a warning
        // of its own (not a log line) at start.
        &[("IMAGESTREAMS_ADMIN_PASSWORD", ADMIN_PASSWORD), ("RUST_LOG", "info"), ("LEPTOS_OUTPUT_NAME", "portal")],
    );
    let metrics_url = format!("http://{metrics_addr}");
    let api = portal.url.clone();

    // Who may read /metrics: administrators on the API port; anyone on --metrics-listen.
    let admin = portal.scratch("admin");
    cli_ok(&portal, &admin, &["login", "-u", "admin", "-p", ADMIN_PASSWORD]);
    let token = cli_ok(&portal, &admin, &["create", "token", "scraper"]).trim().to_string();
    assert!(token.len() > 16, "{token}");
    cli_ok(&portal, &admin, &["create", "user", "nina", "--password", NINA_PASSWORD]);
    let nina = portal.scratch("nina");
    cli_ok(&portal, &nina, &["login", "-u", "nina", "-p", NINA_PASSWORD]);
    assert_eq!(scrape(&api, None).await.0, 401, "anonymous");
    let nina_token = cli_ok(&portal, &nina, &["create", "token", "mine"]).trim().to_string();
    assert_eq!(scrape(&api, Some(&nina_token)).await.0, 403, "a user who is not a server administrator");
    let (code, content_type, text) = scrape(&api, Some(&token)).await;
    assert_eq!(code, 200, "{text}");
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    let before = parse(&text);
    let (code, _, unauthenticated) = scrape(&metrics_url, None).await;
    assert_eq!(code, 200);
    parse(&unauthenticated);

    // The README lists every metric.
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let unlisted: Vec<&String> = before.types.keys().filter(|f| !readme.contains(f.as_str())).collect();
    assert!(unlisted.is_empty(), "README does not list {unlisted:?}");

    // Real actions.
    cli_ok(&portal, &admin, &["create", "namespace", "team"]);
    cli_ok(
        &portal,
        &admin,
        &[
            "create",
            "secret",
            "docker-registry",
            "robot",
            "--docker-server",
            "127.0.0.1:1",
            "--docker-username",
            "robot",
            "--docker-password",
            REGISTRY_PASSWORD,
            "-n",
            "team",
        ],
    );
    // An import that succeeds (the real registry) and one that fails (nothing listens on :1).
    cli_ok(
        &portal,
        &admin,
        &["import-image", "imported:v1", "--from", &format!("{}/lib/app:v1", upstream.host), "--confirm", "--insecure", "-n", "team"],
    );
    let _ = portal.cli(&admin, &["import-image", "broken:v1", "--from", "127.0.0.1:1/lib/app:v1", "--confirm", "-n", "team"]);
    // A webhook delivery.
    cli_ok(
        &portal,
        &admin,
        &["create", "webhook", "deploy-hook", "--url", &receiver.url(), "--secret", WEBHOOK_SECRET, "--tag", "*:*", "-n", "team"],
    );
    cli_ok(&portal, &admin, &["webhook", "test", "deploy-hook", "-n", "team"]);
    assert!(!receiver.wait_accepted(1).await.is_empty(), "the test event was delivered");
    // A push, a pull of what was pushed, and a pull-through of the imported image.
    let (_manifest, layer) = push_image(&api, Some(("admin", ADMIN_PASSWORD)), "team/pushed", "v1", "pushed").await;
    let http = client();
    let pulled =
        http.get(format!("{api}/v2/team/pushed/blobs/{}", sha256(&layer))).basic_auth("admin", Some(ADMIN_PASSWORD)).send().await.unwrap();
    assert_eq!(pulled.status().as_u16(), 200);
    assert_eq!(pulled.bytes().await.unwrap().len(), layer.len());
    let through =
        http.get(format!("{api}/v2/team/imported/blobs/{}", pushed.layer_digest)).basic_auth("admin", Some(&token)).send().await.unwrap();
    assert_eq!(through.status().as_u16(), 200);
    assert_eq!(through.bytes().await.unwrap().len(), pushed.layer_size);
    // Garbage collection and a prune dry run.
    let gc = http.post(format!("{api}/api/v1/registry/garbage-collection")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(gc.status().as_u16(), 200, "{}", gc.text().await.unwrap());
    let prune = http.post(format!("{api}/api/v1/prune/images")).bearer_auth(&token).json(&json!({})).send().await.unwrap();
    assert_eq!(prune.status().as_u16(), 200, "{}", prune.text().await.unwrap());
    // An open watch and an open live page.
    let watch = http.get(format!("{api}{IMAGE_API}/imagestreams?watch=1")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    let live = http.get(format!("{api}/api/v1/live/imagestreams?namespace=team")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200);

    let after = scrape_until(&metrics_url, |s| {
        s.get("imagestreams_registry_bytes_total", &[("direction", "mirrored")]) >= pushed.layer_size as f64
            && s.get("imagestreams_watchers", &[]) >= 1.0
            && s.get("imagestreams_live_pages", &[]) >= 1.0
    })
    .await;
    let moved = |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    let requests = "imagestreams_http_requests_total";
    for (labels, at_least) in [
        (vec![("method", "GET"), ("route", "/v2/{name}/blobs/{digest}"), ("status", "200")], 2.0),
        (vec![("method", "POST"), ("route", "/v2/{name}/blobs/uploads"), ("status", "201")], 2.0),
        (vec![("method", "PUT"), ("route", "/v2/{name}/manifests/{reference}"), ("status", "201")], 1.0),
        (vec![("method", "POST"), ("route", "/api/v1/namespaces"), ("status", "201")], 1.0),
        (vec![("method", "GET"), ("route", "/metrics"), ("status", "403")], 0.0),
        (vec![("method", "POST"), ("route", "/api/v1/registry/garbage-collection"), ("status", "200")], 1.0),
    ] {
        assert!(moved(requests, &labels) >= at_least, "{labels:?} moved by {} (< {at_least})", moved(requests, &labels));
    }
    assert!(before.get(requests, &[("route", "/metrics"), ("status", "403")]) >= 1.0, "the refused scrape was counted");
    assert!(moved("imagestreams_http_request_duration_seconds_count", &[("route", "/v2/{name}/blobs/{digest}")]) >= 2.0);
    assert!(after.get("imagestreams_http_request_duration_seconds_bucket", &[("route", "/api/v1/namespaces"), ("le", "+Inf")]) >= 1.0);
    assert!(moved("imagestreams_imports_total", &[("registry", &upstream.host), ("outcome", "success")]) >= 1.0);
    assert!(moved("imagestreams_imports_total", &[("registry", "127.0.0.1:1"), ("outcome", "failure")]) >= 1.0);
    assert!(moved("imagestreams_import_duration_seconds_count", &[("registry", &upstream.host)]) >= 1.0);
    assert!(moved("imagestreams_webhook_deliveries_total", &[("outcome", "delivered")]) >= 1.0);
    assert!(moved("imagestreams_webhook_delivery_duration_seconds_count", &[("outcome", "delivered")]) >= 1.0);
    assert_eq!(after.get("imagestreams_webhook_outbox_depth", &[]), 0.0, "delivered: nothing queued");
    let bytes = |d| moved("imagestreams_registry_bytes_total", &[("direction", d)]);
    assert!(bytes("served") >= (layer.len() + pushed.layer_size) as f64, "served {}", bytes("served"));
    assert!(bytes("pushed") >= layer.len() as f64, "pushed {}", bytes("pushed"));
    assert!(bytes("pulled_through") >= pushed.layer_size as f64, "pulled through {}", bytes("pulled_through"));
    assert!(bytes("mirrored") >= pushed.layer_size as f64, "mirrored {}", bytes("mirrored"));
    assert!(after.get("imagestreams_blob_store_bytes", &[]) >= (layer.len() + pushed.layer_size) as f64);
    assert!(after.get("imagestreams_blob_store_blobs", &[]) >= 4.0);
    assert!(after.get("imagestreams_watch_event_log_events", &[]) >= 2.0);
    assert_eq!(after.get("imagestreams_watchers", &[]), 1.0);
    assert_eq!(after.get("imagestreams_live_pages", &[]), 1.0);
    assert!(moved("imagestreams_maintenance_runs_total", &[("kind", "gc"), ("outcome", "success")]) >= 1.0);
    assert!(moved("imagestreams_maintenance_runs_total", &[("kind", "prune"), ("outcome", "dry_run")]) >= 1.0);
    assert!(moved("imagestreams_db_pool_wait_seconds_count", &[("pool", "writer")]) >= 5.0);
    assert!(moved("imagestreams_db_pool_wait_seconds_count", &[("pool", "reader")]) >= 5.0);
    assert!(moved("imagestreams_db_transaction_duration_seconds_count", &[]) >= 5.0);
    assert_eq!(after.get("imagestreams_draining", &[]), 0.0);
    drop((watch, live));
    let closed =
        scrape_until(&metrics_url, |s| s.get("imagestreams_watchers", &[]) == 0.0 && s.get("imagestreams_live_pages", &[]) == 0.0).await;
    assert_eq!(closed.get("imagestreams_watchers", &[]), 0.0, "a closed watch is no longer counted");
    assert_eq!(closed.get("imagestreams_live_pages", &[]), 0.0, "a closed live page is no longer counted");

    // The request id: the client's when it is a short token, echoed, on every line of the request.
    let r = http
        .get(format!("{api}{IMAGE_API}/namespaces/team/imagestreams/pushed"))
        .bearer_auth(&token)
        .header("x-request-id", "ops-test-0001")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-request-id"], "ops-test-0001");
    let bad = "bad id; with spaces";
    let r = http.get(format!("{api}/healthz")).header("x-request-id", bad).send().await.unwrap();
    let made = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(made.len(), 32, "{made}");
    // A failing request logs its error inside its span too.
    let r = http
        .get(format!("{api}{IMAGE_API}/namespaces/team/imagestreams/nothing-here"))
        .bearer_auth(&token)
        .header("x-request-id", "ops-test-0002")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);

    // Stop the server (cleanly) so its log is complete, then read it.
    portal.terminate();
    assert!(portal.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()), "exit 0 on SIGTERM");
    let log = portal.log();
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("a log line that is not JSON ({e}): {l}"))).collect();
    assert!(lines.len() > 20, "{log}");
    let id_of = |l: &Value| l["spans"].as_array().into_iter().flatten().find_map(|s| s["id"].as_str().map(str::to_string));
    let of_request: Vec<&Value> = lines.iter().filter(|l| id_of(l).as_deref() == Some("ops-test-0001")).collect();
    assert!(
        of_request.iter().any(|l| l["fields"]["message"] == "answered" && l["fields"]["status"] == 200),
        "the request's own line: {of_request:?}"
    );
    assert!(lines.iter().any(|l| id_of(l).as_deref() == Some(made.as_str())), "a made id is logged");
    assert!(!log.contains("bad id"), "an invalid request id is not logged");
    let route_of = |l: &Value| l["spans"].as_array().into_iter().flatten().find_map(|s| s["route"].as_str().map(str::to_string));
    assert!(
        lines.iter().filter(|l| l["fields"]["message"] == "answered").all(|l| id_of(l).is_some() && route_of(l).is_some()),
        "every answered line has its request's id and route"
    );
    // Background work says what it acts on.
    let in_span = |name: &str, field: &str, value: &str| {
        lines.iter().any(|l| l["spans"].as_array().into_iter().flatten().any(|s| s["name"] == name && s[field] == value))
    };
    assert!(in_span("webhook", "webhook", "deploy-hook"), "a delivery's lines name the webhook");
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "import looked up" && l["fields"]["stream"] == "imported"),
        "an import names its stream"
    );
    // No secret the test used, anywhere.
    for secret in [ADMIN_PASSWORD, NINA_PASSWORD, REGISTRY_PASSWORD, WEBHOOK_SECRET, token.as_str(), nina_token.as_str()] {
        assert!(!log.contains(secret), "the log carries a secret ({}…)", &secret[..6]);
    }
    // The receiver's address is fine to log; its path is not (webhook URLs often carry a
    // credential in the path).
    assert!(!log.contains("/hook"), "a webhook URL's path is in the log");
}

/// `--log-format text` (the default): the request id is in the line's span.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_carry_the_request_id_too() {
    let mut portal = Portal::start(&[], &[("RUST_LOG", "info")]);
    let r = client().get(format!("{}/readyz", portal.url)).header("x-request-id", "text-log-42").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["x-request-id"], "text-log-42");
    portal.terminate();
    assert!(portal.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()));
    let log = portal.log();
    let line = log.lines().find(|l| l.contains("text-log-42")).unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains("request{id=text-log-42") && line.contains("route=/readyz") && line.contains("answered"), "{line}");
}

/// A client that accepts gzip (kubectl's does) gets lists compressed but watches plain: a
/// compressor per open watch held about 430 KB of the server's memory, and the Kubernetes API
/// server does not compress watches either. The watch still delivers at once.
#[tokio::test]
async fn watches_are_never_compressed() {
    let portal = Portal::start(&[], &[]);
    let base = format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreams", portal.url);
    let http = client();
    let r = http.post(&base).json(&json!({"metadata": {"name": "gz"}})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let r = http.get(&base).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(r.headers().get("content-encoding").map(|v| v.to_str().unwrap()), Some("gzip"), "lists are compressed");
    let rv = get_json(&base).await["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let watch = http.get(format!("{base}?watch=1&resourceVersion={rv}")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    assert_eq!(watch.headers()["content-type"], "application/json;stream=watch");
    assert!(watch.headers().get("content-encoding").is_none(), "{:?}", watch.headers());
    let r = http.post(&base).json(&json!({"metadata": {"name": "gz2"}})).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let mut body = Box::pin(watch.bytes_stream());
    let mut buf = vec![];
    let event = next_line(&mut body, &mut buf).await.expect("the event arrives");
    assert_eq!((event["type"].as_str(), event["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("gz2")));
    portal.terminate();
}

// ---------------------------------------------------------------------------------------------
// Backups.

/// What the writers did: stream name → the digest pushed to its tag `v1`.
type Written = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// Creates streams and pushes an image to each, one after the other, until told to stop.
async fn write_until(base: String, written: Written, stop: std::sync::Arc<std::sync::atomic::AtomicBool>, start: usize) {
    let http = client();
    let mut i = start;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let name = format!("s{i:04}");
        let r = http
            .post(format!("{base}{IMAGE_API}/namespaces/default/imagestreams"))
            .json(&json!({"metadata": {"name": name, "labels": {"n": i.to_string()}}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
        let (digest, _) = push_image(&base, None, &format!("default/{name}"), "v1", &name).await;
        written.lock().unwrap().push((name, digest));
        i += 1;
    }
}

async fn get_json(url: &str) -> Value {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200, "{url}");
    r.json().await.unwrap()
}

/// `backup` while streams are created and images pushed, `restore` into a fresh directory, a
/// server on it: every stream, image and blob of the snapshot is there, equal to the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_while_writing_then_restore_holds_every_stream_image_and_blob() {
    let live = Portal::start(&[], &[]);
    let written: Written = Default::default();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = tokio::spawn(write_until(live.url.clone(), written.clone(), stop.clone(), 0));
    while written.lock().unwrap().len() < 15 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before_backup = written.lock().unwrap().clone();
    let backup_dir = live.scratch("backups").join("b1");
    let data_dir = live.data_dir.clone();
    let bd = backup_dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN).args(["backup", "--to"]).arg(&bd).arg("--data-dir").arg(&data_dir).output().unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("blobs"), "{}", String::from_utf8_lossy(&out.stdout));
    // Writes went on during the backup and go on a little after it.
    let at_end = written.lock().unwrap().len();
    while written.lock().unwrap().len() < at_end + 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(backup_dir.join("backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["blobsMissing"], json!([]));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(backup_dir.join("imagestreams.db")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the copied database is the owner's only");
    }

    // A second backup into the same place is refused (never overwritten).
    let again =
        std::process::Command::new(BIN).args(["backup", "--to"]).arg(&backup_dir).arg("--data-dir").arg(&live.data_dir).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&again.stderr));

    let restored_dir = live.scratch("restored").join("data");
    let out =
        std::process::Command::new(BIN).args(["restore", "--from"]).arg(&backup_dir).arg("--data-dir").arg(&restored_dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The integrated registry's host is written into streams: the restored server keeps the
    // original's, as an operator moving a server would.
    let restored = Portal::start_on(&restored_dir, &["--registry-host", &live.host], &[]);

    // Streams: the restored list is a snapshot at its resourceVersion R. Every live stream that
    // has not changed since R is there, equal; every restored stream is a live one as it was.
    let list = get_json(&format!("{}{IMAGE_API}/imagestreams", restored.url)).await;
    let r: i64 = list["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    let restored_streams: BTreeMap<String, Value> =
        list["items"].as_array().unwrap().iter().map(|s| (s["metadata"]["name"].as_str().unwrap().to_string(), s.clone())).collect();
    let live_list = get_json(&format!("{}{IMAGE_API}/imagestreams", live.url)).await;
    let mut unchanged = 0;
    for s in live_list["items"].as_array().unwrap() {
        let name = s["metadata"]["name"].as_str().unwrap();
        let rv: i64 = s["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
        match restored_streams.get(name) {
            Some(copy) if rv <= r => {
                assert_eq!(copy, s, "stream {name} differs from the original");
                unchanged += 1;
            }
            Some(copy) => {
                let copy_rv: i64 = copy["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
                assert!(copy_rv <= r && copy_rv < rv, "{name}: the copy is an older state");
            }
            None => assert!(rv > r, "stream {name} (version {rv} ≤ {r}) is missing from the restore"),
        }
    }
    assert!(restored_streams.keys().all(|n| live_list["items"].as_array().unwrap().iter().any(|s| s["metadata"]["name"] == n.as_str())));
    assert!(unchanged >= before_backup.len(), "{unchanged} unchanged streams, {} written before the backup", before_backup.len());
    // Everything written before the backup started is there, tag and image.
    for (name, digest) in &before_backup {
        let s = restored_streams.get(name).unwrap_or_else(|| panic!("{name} written before the backup is missing"));
        let tags = s["status"]["tags"].as_array().unwrap();
        assert_eq!(tags[0]["items"][0]["image"], digest.as_str(), "{name}");
    }
    // Images: each restored one equals the original.
    let images = get_json(&format!("{}{IMAGE_API}/images", restored.url)).await;
    let images = images["items"].as_array().unwrap();
    assert!(images.len() >= before_backup.len());
    for image in images {
        let name = image["metadata"]["name"].as_str().unwrap();
        assert_eq!(&get_json(&format!("{}{IMAGE_API}/images/{name}", live.url)).await, image, "image {name}");
    }
    // Blobs: every image of every restored stream pulls from the restored registry, each
    // digest verified (nothing is pulled through: pushed images have no upstream).
    let http = client();
    for (name, s) in &restored_streams {
        // A stream created before the snapshot and pushed to after it has no image in the copy.
        let Some(digest) = s["status"]["tags"][0]["items"][0]["image"].as_str() else { continue };
        let m = http
            .get(format!("{}/v2/default/{name}/manifests/{digest}", restored.url))
            .header("accept", common::registry::OCI_MANIFEST)
            .send()
            .await
            .unwrap();
        assert_eq!(m.status().as_u16(), 200, "{name}");
        let body = m.bytes().await.unwrap();
        assert_eq!(sha256(&body), digest);
        let doc: Value = serde_json::from_slice(&body).unwrap();
        let mut blobs = vec![doc["config"]["digest"].as_str().unwrap().to_string()];
        blobs.extend(doc["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()));
        for b in blobs {
            let got = http.get(format!("{}/v2/default/{name}/blobs/{b}", restored.url)).send().await.unwrap();
            assert_eq!(got.status().as_u16(), 200, "{name} {b}");
            assert_eq!(sha256(&got.bytes().await.unwrap()), b, "{name} {b}");
        }
    }
    // A restore never writes into a data directory that has anything in it.
    let out =
        std::process::Command::new(BIN).args(["restore", "--from"]).arg(&backup_dir).arg("--data-dir").arg(&restored_dir).output().unwrap();
    assert!(!out.status.success());
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown.

/// Reads the next line of a streaming body (`None` at its end), within 15 s.
async fn next_line(body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin), buf: &mut Vec<u8>) -> Option<Value> {
    use futures::StreamExt;
    loop {
        if let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            return Some(serde_json::from_slice(&line).unwrap());
        }
        match tokio::time::timeout(Duration::from_secs(15), body.next()).await.expect("a watch line in time") {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => panic!("the watch broke instead of ending cleanly: {e}"),
            None => return None,
        }
    }
}

/// SIGTERM: `/readyz` answers 503 while the server drains, a watch ends with a BOOKMARK, a
/// request in flight (an upload still sending its body) finishes, the process exits 0; after
/// the restart the watch resumes from the bookmark and loses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_ends_watches_with_a_bookmark_and_lets_requests_finish() {
    let mut portal = Portal::start(&["--shutdown-delay", "1500ms", "--shutdown-timeout", "20s"], &[("RUST_LOG", "info")]);
    let base = portal.url.clone();
    let http = client();
    assert_eq!(http.get(format!("{base}/readyz")).send().await.unwrap().status().as_u16(), 200);
    let streams = format!("{base}{IMAGE_API}/namespaces/default/imagestreams");
    let rv = get_json(&streams).await["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let watch = http.get(format!("{streams}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true")).send().await.unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    let mut events = watch.bytes_stream();
    let mut buf = vec![];
    let created = http.post(&streams).json(&json!({"metadata": {"name": "before"}})).send().await.unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let added = next_line(&mut events, &mut buf).await.unwrap();
    assert_eq!((added["type"].as_str(), added["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("before")));
    let added_rv: i64 = added["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();

    // An upload whose body is still arriving when the signal comes.
    let layer = vec![7u8; 256 * 1024];
    let start = http.post(format!("{base}/v2/default/slow/blobs/uploads/")).send().await.unwrap();
    assert_eq!(start.status().as_u16(), 202);
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let location = if location.starts_with('/') { format!("{base}{location}") } else { location };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    let body = reqwest::Body::wrap_stream(tokio_stream_from(rx));
    let patch = tokio::spawn(http.patch(&location).header("content-type", "application/octet-stream").body(body).send());
    tx.send(Ok(layer[..1024].to_vec())).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    portal.terminate();
    // Draining: not ready (on a new connection), the watch ends with its resume point.
    let mut ready = 0;
    for _ in 0..20 {
        ready = client().get(format!("{base}/readyz")).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
        if ready == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready, 503, "/readyz while draining");
    let bookmark = next_line(&mut events, &mut buf).await.expect("a BOOKMARK before the end");
    assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
    let resume: i64 = bookmark["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(resume >= added_rv, "the bookmark ({resume}) is at or after what was sent ({added_rv})");
    assert!(next_line(&mut events, &mut buf).await.is_none(), "the watch ends after its bookmark");
    drop(events);

    // The upload in flight goes on past the point where accepting stopped, and finishes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&portal.host).is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting long after --shutdown-delay");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for chunk in layer[1024..].chunks(64 * 1024) {
        tx.send(Ok(chunk.to_vec())).await.unwrap();
    }
    drop(tx);
    let answer = patch.await.unwrap().expect("the upload's answer");
    assert_eq!(answer.status().as_u16(), 202, "the request in flight finished");
    assert_eq!(answer.headers()["range"], format!("0-{}", layer.len() - 1));
    let status = portal.wait_exit(Duration::from_secs(20)).expect("the server exits");
    assert!(status.success(), "{status:?}");
    let log = portal.log();
    assert!(log.contains("shutting down") && log.contains("stopped"), "{log}");

    // After the restart the watch resumes from the bookmark: nothing lost, nothing repeated.
    let again = Portal::start_on(&portal.data_dir, &[], &[]);
    let streams = format!("{}{IMAGE_API}/namespaces/default/imagestreams", again.url);
    let watch = client().get(format!("{streams}?watch=1&resourceVersion={resume}")).send().await.unwrap();
    assert_eq!(watch.status().as_u16(), 200);
    let mut events = watch.bytes_stream();
    let mut buf = vec![];
    assert_eq!(client().post(&streams).json(&json!({"metadata": {"name": "after"}})).send().await.unwrap().status().as_u16(), 201);
    let next = next_line(&mut events, &mut buf).await.unwrap();
    assert_eq!((next["type"].as_str(), next["object"]["metadata"]["name"].as_str()), (Some("ADDED"), Some("after")), "{next}");
    drop(events);
}

/// A stream over an mpsc receiver (reqwest bodies take streams).
fn tokio_stream_from(
    rx: tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// SIGTERM while a webhook attempt is in flight (the receiver takes 2 s to answer): the attempt
/// finishes and is recorded before the process exits, so the outbox is empty and nothing is sent
/// twice after the restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_webhook_attempt_in_flight_finish_and_be_recorded() {
    use common::receiver::Step;
    let receiver = Receiver::start(WEBHOOK_SECRET, vec![Step::Stall(Duration::from_secs(2))]).await;
    let mut portal = Portal::start(&["--allowed-webhook-target", &receiver.allow_entry()], &[("RUST_LOG", "info")]);
    let cfg = portal.scratch("cli");
    cli_ok(&portal, &cfg, &["create", "webhook", "hook", "--url", &receiver.url(), "--secret", WEBHOOK_SECRET, "--tag", "*:*"]);
    cli_ok(&portal, &cfg, &["webhook", "test", "hook"]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while receiver.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the attempt started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    portal.terminate();
    let status = portal.wait_exit(Duration::from_secs(20)).expect("the server exits");
    assert!(status.success(), "{status:?}");
    let first = receiver.received();
    assert_eq!(first.len(), 1);

    let again = Portal::start_on(&portal.data_dir, &["--allowed-webhook-target", &receiver.allow_entry()], &[]);
    let log = get_json(&format!("{}/api/v1/namespaces/default/webhooks/hook/deliveries", again.url)).await;
    let deliveries = log["items"].as_array().or(log.as_array()).cloned().unwrap_or_default();
    assert_eq!(deliveries.len(), 1, "{log}");
    assert_eq!((deliveries[0]["state"].as_str(), deliveries[0]["attempts"].as_i64()), (Some("Delivered"), Some(1)), "{log}");
    let scrape = parse(&scrape(&again.url, None).await.2);
    assert_eq!(scrape.get("imagestreams_webhook_outbox_depth", &[]), 0.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 1, "not sent again after the restart");
    assert_eq!(receiver.received()[0].delivery, first[0].delivery);
}

// ---------------------------------------------------------------------------------------------
// Draining, in process: every watch and live page ends with its resume point.

/// Reads a streaming body until it ends (`Some(text)`) or `wait` passes without its end (`None`).
async fn read_to_end(body: axum::body::Body, wait: Duration) -> Option<String> {
    use http_body_util::BodyExt;
    let bytes = tokio::time::timeout(wait, body.collect()).await.ok()?.ok()?.to_bytes();
    Some(String::from_utf8_lossy(&bytes).to_string())
}

/// Reads a streaming body until what was read contains `needle` (10 s at most); what was read.
async fn read_until(body: &mut axum::body::Body, needle: &str) -> String {
    use http_body_util::BodyExt;
    let mut text = String::new();
    while !text.contains(needle) {
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame()).await.expect("in time").expect("not ended").unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    text
}

#[tokio::test]
async fn draining_ends_watches_and_live_pages_at_their_resume_point_and_readyz_fails() {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let app = common::TestApp::new().await;
    let streams = format!("{IMAGE_API}/namespaces/default/imagestreams");
    assert_eq!(app.post(&streams, json!({"metadata": {"name": "a"}})).await.status, 201);
    let rv = app.service.current_resource_version().await.unwrap();
    let open = |path: String| {
        let router = app.router.clone();
        async move { router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap() }
    };
    let watch = open(format!("{streams}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true")).await;
    let listing_watch = open(format!("{streams}?watch=1&allowWatchBookmarks=true")).await;
    let live = open(format!("/api/v1/live/imagestreams?namespace=default&resourceVersion={rv}")).await;
    // kubectl's `get -w`: no bookmarks asked for.
    let plain_watch = open(format!("{streams}?watch=1&resourceVersion={rv}")).await;
    assert_eq!((watch.status().as_u16(), listing_watch.status().as_u16(), live.status().as_u16()), (200, 200, 200));
    assert_eq!(plain_watch.status().as_u16(), 200);
    let b = app.post(&streams, json!({"metadata": {"name": "b"}})).await;
    assert_eq!(b.status, 201);
    let b_rv = b.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    assert_eq!(app.get("/readyz").await.status, 200);
    // The clients read b: their positions are past it.
    let (mut watch, mut listing_watch, mut live) = (watch.into_body(), listing_watch.into_body(), live.into_body());
    let mut plain_watch = plain_watch.into_body();
    let mut watch_text = String::new();
    for body in [&mut watch, &mut listing_watch, &mut live, &mut plain_watch] {
        let read = read_until(body, "\"name\":\"b\"").await;
        if watch_text.is_empty() {
            watch_text = read;
        }
    }

    app.service.start_draining();
    assert!(app.service.draining());
    let ready = app.get("/readyz").await;
    assert_eq!((ready.status.as_u16(), ready.text.as_str()), (503, "draining"));

    let text = watch_text + &read_to_end(watch, Duration::from_secs(10)).await.expect("the watch ends");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "BOOKMARK", "{text}");
    assert_eq!(last["object"]["metadata"]["resourceVersion"], b_rv.as_str(), "the bookmark is where the watch stood: {text}");
    assert_eq!(lines[lines.len() - 2]["object"]["metadata"]["name"], "b");
    // A watch that listed first and then followed ends the same way. (Its listing, sent after b
    // was stored, showed b already; its bookmark may be older than b: resuming from it sends b
    // again, never loses it.)
    let text = read_to_end(listing_watch, Duration::from_secs(10)).await.expect("the listing watch ends");
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["type"], "BOOKMARK", "{text}");
    let at: i64 = last["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    assert!(at >= rv && at <= b_rv.parse::<i64>().unwrap(), "{text}");
    // The live page's last event is the bookmark, with its version as the event id (what the
    // browser sends back as Last-Event-ID).
    let text = read_to_end(live, Duration::from_secs(10)).await.expect("the live page ends");
    let last_event = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last_event.contains("BOOKMARK") && last_event.contains(&format!("id: {b_rv}")), "{text}");
    // A watch without bookmarks ends after its last event, with nothing more (kubectl would
    // print a BOOKMARK as an object named <unknown>); it resumes from that event.
    let text = read_to_end(plain_watch, Duration::from_secs(10)).await.expect("the plain watch ends");
    assert!(!text.contains("BOOKMARK"), "{text}");
    // A watch opened while draining ends at once with its bookmark.
    let late = open(format!("{streams}?watch=1&resourceVersion={b_rv}&allowWatchBookmarks=true")).await;
    let text = read_to_end(late.into_body(), Duration::from_secs(10)).await.expect("ends at once");
    assert!(text.contains("BOOKMARK"), "{text}");
}
