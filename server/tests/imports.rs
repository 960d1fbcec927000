//! Imports against a real registry (Debian's docker-registry on a free loopback port), with
//! images the tests push themselves.

mod common;

use axum::http::StatusCode;
use common::registry::Registry;
use common::*;
use serde_json::{Value, json};
use server::importer::ImporterConfig;
use std::time::Duration;

const IMPORTS: &str = "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports";

fn config(reg: &Registry) -> ImporterConfig {
    ImporterConfig {
        insecure_registries: vec![reg.host.clone()],
        allowed_registries: vec![reg.host.clone()],
        timeout: Duration::from_secs(5),
        ..Default::default()
    }
}

fn import_one(stream: &str, from: &str, tag: &str) -> Value {
    json!({"metadata": {"name": stream}, "spec": {"import": true, "images": [{"from": {"kind": "DockerImage", "name": from}, "to": {"name": tag}}]}})
}

fn rv(v: &Value) -> String {
    v["metadata"]["resourceVersion"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn first_import_unchanged_reimport_and_changed_digest() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let pushed = reg.push_image("lib/app", Some("v1"), "one", "amd64", false).await;
    let from = format!("{}/lib/app:v1", reg.host);
    let r = app.post(IMPORTS, import_one("app", &from, "v1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let status = &r.body["status"]["images"][0];
    assert_eq!(status["status"]["status"], "Success", "{}", r.text);
    assert_eq!(status["tag"], "v1");
    let image = &status["image"];
    assert_eq!(image["metadata"]["name"], pushed.digest);
    assert_eq!(image["dockerImageReference"], format!("{}/lib/app@{}", reg.host, pushed.digest));
    assert_eq!(image["dockerImageManifestMediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(image["dockerImageLayers"][0]["name"], pushed.layer_digest);
    assert_eq!(image["dockerImageLayers"][0]["size"], pushed.layer_size);
    let meta = &image["dockerImageMetadata"];
    assert_eq!(meta["Id"], pushed.config_digest);
    assert_eq!(meta["Architecture"], "amd64");
    assert_eq!(meta["Author"], "tests@imagestreams");
    assert_eq!(meta["Created"], "2026-01-02T03:04:05Z");
    assert_eq!(meta["Size"], pushed.config_size + pushed.layer_size);
    assert_eq!(meta["Config"]["User"], "1001");
    assert_eq!(meta["Config"]["Cmd"], json!(["/bin/run", "one"]));
    assert_eq!(meta["Config"]["Entrypoint"], json!(["/entry"]));
    assert_eq!(meta["Config"]["WorkingDir"], "/work");
    assert_eq!(meta["Config"]["ExposedPorts"], json!({"8080/tcp": {}}));
    assert_eq!(meta["Config"]["Volumes"], json!({"/data": {}}));
    assert_eq!(meta["Config"]["Labels"], json!({"seed": "one"}));
    assert!(image.get("dockerImageManifest").is_none(), "raw manifest is stripped without includeManifest");
    let stream = &r.body["status"]["import"];
    assert_eq!(stream["metadata"]["generation"], 1);
    assert_eq!(stream["spec"]["tags"][0]["generation"], 1);
    assert_eq!(stream["status"]["tags"][0]["items"][0]["generation"], 1);
    assert_eq!(stream["metadata"]["annotations"]["openshift.io/image.dockerRepositoryCheck"], "2026-01-01T12:00:00Z");
    // The image object is stored.
    let stored = app.get(&format!("/apis/image.openshift.io/v1/images/{}", pushed.digest)).await;
    assert_eq!(stored.body["dockerImageMetadata"]["Config"]["WorkingDir"], "/work");

    // Unchanged re-import: nothing written.
    let before = app.get(&is_path("default", "app")).await.body;
    app.advance(60);
    let again = app.post(IMPORTS, import_one("app", &from, "v1")).await;
    assert_eq!(again.status, StatusCode::CREATED);
    let after = app.get(&is_path("default", "app")).await.body;
    assert_eq!(rv(&before), rv(&after), "an unchanged import writes nothing");

    // The tag moves upstream: history grows, generations follow the import.
    let newer = reg.push_image("lib/app", Some("v1"), "two", "amd64", false).await;
    app.post(IMPORTS, import_one("app", &from, "v1")).await;
    let s = app.get(&is_path("default", "app")).await.body;
    let items = s["status"]["tags"][0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["image"], newer.digest);
    assert_eq!(items[1]["image"], pushed.digest);
    assert_eq!(items[0]["generation"], 2);
    assert_eq!(s["metadata"]["generation"], 2);
}

#[tokio::test]
async fn docker_schema2_and_dry_run() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let pushed = reg.push_image("lib/docker", Some("1.0"), "docker", "amd64", true).await;
    let from = format!("{}/lib/docker:1.0", reg.host);
    let mut dry = import_one("d", &from, "1.0");
    dry["spec"]["import"] = json!(false);
    let r = app.post(IMPORTS, dry).await;
    assert_eq!(
        r.body["status"]["images"][0]["image"]["dockerImageManifestMediaType"],
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert!(r.body["status"].get("import").is_none());
    assert_eq!(app.get(&is_path("default", "d")).await.status, StatusCode::NOT_FOUND, "a dry run stores nothing");
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", pushed.digest)).await.status, StatusCode::NOT_FOUND);
    let r = app.post(IMPORTS, import_one("d", &from, "1.0")).await;
    assert_eq!(r.body["status"]["import"]["status"]["tags"][0]["items"][0]["image"], pushed.digest);
}

/// A tag a failed import left without history (`items: null`, conditions only) takes a push
/// afterwards: a mapping reads heads only, and a tag with nothing behind its head is written
/// whole (issue 18 review: this was refused with a 500).
#[tokio::test]
async fn a_mapping_onto_a_tag_only_a_failed_import_made() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let from = format!("{}/lib/none:missing", reg.host);
    let r = app.post(IMPORTS, import_one("app", &from, "t")).await;
    assert_eq!(r.body["status"]["images"][0]["status"]["status"], "Failure", "{}", r.text);
    let s = app.get(&is_path("default", "app")).await.body;
    let tag = s["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "t").cloned().unwrap();
    assert!(tag["items"].is_null() && tag["conditions"][0]["status"] == "False", "{tag}");
    let pushed = app.push("default", "app", "t", &digest_n(1)).await;
    assert_eq!(pushed.status, StatusCode::CREATED, "{}", pushed.text);
    let s = app.get(&is_path("default", "app")).await.body;
    let tag = s["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "t").cloned().unwrap();
    assert_eq!(tag["items"].as_array().map(|i| i.len()), Some(1), "{tag}");
    assert_eq!(tag["items"][0]["image"], digest_n(1));
    assert!(tag["conditions"].as_array().is_none_or(|c| c.is_empty()), "a new head clears the failure: {tag}");
}

#[tokio::test]
async fn failures_become_conditions_and_clear_on_success() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let pushed = reg.push_image("lib/app", Some("gone"), "gone", "amd64", false).await;
    let from = format!("{}/lib/app:gone", reg.host);
    app.post(IMPORTS, import_one("app", &from, "gone")).await;
    reg.delete_manifest("lib/app", &pushed.digest).await;
    app.advance(10);
    let r = app.post(IMPORTS, import_one("app", &from, "gone")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(st["status"], "Failure");
    assert_eq!(st["reason"], "NotFound");
    assert_eq!(st["message"], format!("dockerimage.image.openshift.io \"{}/lib/app:gone\" not found", reg.host));
    let s = app.get(&is_path("default", "app")).await.body;
    let tag = &s["status"]["tags"][0];
    assert_eq!(tag["conditions"][0]["type"], "ImportSuccess");
    assert_eq!(tag["conditions"][0]["status"], "False");
    assert_eq!(tag["conditions"][0]["reason"], "NotFound");
    assert_eq!(tag["conditions"][0]["lastTransitionTime"], "2026-01-01T12:00:10Z");
    assert_eq!(tag["items"].as_array().unwrap().len(), 1, "history is untouched by a failure");
    // The identical failure again writes nothing.
    app.advance(10);
    app.post(IMPORTS, import_one("app", &from, "gone")).await;
    assert_eq!(rv(&app.get(&is_path("default", "app")).await.body), rv(&s));
    // It comes back: the condition clears.
    let back = reg.push_image("lib/app", Some("gone"), "back", "amd64", false).await;
    app.post(IMPORTS, import_one("app", &from, "gone")).await;
    let s = app.get(&is_path("default", "app")).await.body;
    assert!(s["status"]["tags"][0].get("conditions").is_none());
    assert_eq!(s["status"]["tags"][0]["items"][0]["image"], back.digest);
}

#[tokio::test]
async fn http_only_registry_needs_the_insecure_flag() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(ImporterConfig {
        timeout: Duration::from_secs(5),
        allowed_registries: vec![reg.host.clone()],
        ..Default::default()
    })
    .await;
    reg.push_image("lib/app", Some("v1"), "x", "amd64", false).await;
    let r = app.post(IMPORTS, import_one("app", &format!("{}/lib/app:v1", reg.host), "v1")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(
        (st["reason"].as_str(), st["message"].as_str()),
        (Some("BadRequest"), Some("the repository lib/app is HTTP only and requires the insecure flag to import"))
    );
    // With the flag on the tag it works.
    let mut insecure = import_one("app", &format!("{}/lib/app:v1", reg.host), "v1");
    insecure["spec"]["images"][0]["importPolicy"] = json!({"insecure": true});
    let r = app.post(IMPORTS, insecure).await;
    assert_eq!(r.body["status"]["images"][0]["status"]["status"], "Success", "{}", r.text);
    assert_eq!(r.body["status"]["import"]["spec"]["tags"][0]["importPolicy"]["insecure"], true);
}

#[tokio::test]
async fn registry_down_and_registry_that_never_answers() {
    let down = format!("127.0.0.1:{}", registry::free_port());
    // Accepts connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_host = silent.local_addr().unwrap().to_string();
    let app = TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![down.clone(), silent_host.clone()],
        allowed_registries: vec![down.clone(), silent_host.clone()],
        timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let r = app.post(IMPORTS, import_one("a", &format!("{down}/x/y:1"), "1")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(st["reason"], "InternalError");
    assert!(st["message"].as_str().unwrap().starts_with(&format!("{down}/x/y:1: ")), "{}", r.text);
    // The silent registry never answers: the import comes back at all only because the
    // registry timeout (1 s) ends the lookup.
    let r = app.post(IMPORTS, import_one("b", &format!("{silent_host}/x/y:1"), "1")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(st["reason"], "InternalError");
    assert!(st["message"].as_str().unwrap().contains("did not answer"), "{}", r.text);
    drop(silent);
    // Other requests were never blocked: the API still answers.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
}

#[tokio::test]
async fn manifest_lists_legacy_and_preserve_original() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let (index, amd, arm) = reg.push_index("lib/multi", "v1", "multi").await;
    let from = format!("{}/lib/multi:v1", reg.host);
    // Legacy: linux/amd64 is chosen.
    let r = app.post(IMPORTS, import_one("legacy", &from, "v1")).await;
    assert_eq!(r.body["status"]["images"][0]["image"]["metadata"]["name"], amd.digest, "{}", r.text);
    // Legacy with a preferred architecture on the tag.
    app.create_stream(
        "default",
        json!({"metadata": {"name": "pref"}, "spec": {"tags": [{"name": "v1", "annotations": {"importer.image.openshift.io/prefer-arch": "arm64"}, "from": {"kind": "DockerImage", "name": from}, "reference": true}]}}),
    )
    .await;
    let r = app.post(IMPORTS, import_one("pref", &from, "v1")).await;
    assert_eq!(r.body["status"]["images"][0]["image"]["metadata"]["name"], arm.digest, "{}", r.text);
    // PreserveOriginal: the list itself, and every child imported.
    let mut keep = import_one("keep", &from, "v1");
    keep["spec"]["images"][0]["importPolicy"] = json!({"importMode": "PreserveOriginal"});
    let r = app.post(IMPORTS, keep).await;
    let st = &r.body["status"]["images"][0];
    assert_eq!(st["image"]["metadata"]["name"], index, "{}", r.text);
    assert_eq!(st["image"]["dockerImageManifests"].as_array().unwrap().len(), 2);
    assert_eq!(st["image"]["dockerImageManifests"][0]["architecture"], "arm64");
    assert_eq!(st["image"]["dockerImageManifests"][0]["variant"], "v8");
    assert!(st["image"].get("dockerImageLayers").is_none());
    assert_eq!(st["manifests"].as_array().unwrap().len(), 2);
    let child = app.get(&format!("/apis/image.openshift.io/v1/namespaces/default/imagestreamimages/keep@{}", arm.digest)).await;
    assert_eq!(child.status, StatusCode::OK, "a child of a preserved list resolves: {}", child.text);
    assert_eq!(child.body["image"]["dockerImageMetadata"]["Architecture"], "arm64");
}

#[tokio::test]
async fn repository_import_with_limit() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(ImporterConfig { max_images_bulk: 3, ..config(&reg) }).await;
    for t in ["latest", "1.0", "2.0", "a", "b"] {
        reg.push_image("lib/many", Some(t), t, "amd64", false).await;
    }
    let body = json!({"metadata": {"name": "many"}, "spec": {"import": true, "repository": {"from": {"kind": "DockerImage", "name": format!("{}/lib/many", reg.host)}}}});
    let r = app.post(IMPORTS, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let repo = &r.body["status"]["repository"];
    assert_eq!(repo["status"]["status"], "Success");
    let tags: Vec<&str> = repo["images"].as_array().unwrap().iter().map(|i| i["tag"].as_str().unwrap()).collect();
    assert_eq!(tags, vec!["latest", "2.0", "1.0"]);
    assert_eq!(repo["additionalTags"], json!(["a", "b"]));
    let s = app.get(&is_path("default", "many")).await.body;
    let spec: Vec<&str> = s["spec"]["tags"].as_array().unwrap().iter().map(|t| t["from"]["name"].as_str().unwrap()).collect();
    assert_eq!(
        spec,
        vec![format!("{}/lib/many:1.0", reg.host), format!("{}/lib/many:2.0", reg.host), format!("{}/lib/many:latest", reg.host)]
    );
}

#[tokio::test]
async fn validation_and_preconditions() {
    let app = TestApp::new().await;
    let r = app.post(IMPORTS, json!({"metadata": {"name": "app"}, "spec": {"import": true}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["message"],
        "ImageStreamImport.image.openshift.io \"app\" is invalid: spec.images: Invalid value: \"null\": you must specify at least one image or a repository import"
    );
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    let mut stale = import_one("app", "quay.io/o/a:1", "v1");
    stale["metadata"]["resourceVersion"] = json!("1");
    let r = app.post(IMPORTS, stale).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body["message"].as_str().unwrap().ends_with("the image stream was updated from \"1\" to \"3\""), "{}", r.text);
}

#[tokio::test]
async fn scheduled_tags_are_rechecked_on_the_clock() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let first = reg.push_image("lib/sched", Some("v1"), "s1", "amd64", false).await;
    let from = format!("{}/lib/sched:v1", reg.host);
    let mut body = import_one("sched", &from, "v1");
    body["spec"]["images"][0]["importPolicy"] = json!({"scheduled": true, "insecure": true});
    app.post(IMPORTS, body).await;
    let interval = Duration::from_secs(900);
    // First pass: never scheduled, so due; unchanged remote writes nothing to the stream.
    let before = rv(&app.get(&is_path("default", "sched")).await.body);
    assert_eq!(app.service.scheduled_import_pass(interval, 60).await.unwrap(), 1);
    assert_eq!(rv(&app.get(&is_path("default", "sched")).await.body), before);
    // Not due again until the interval has passed.
    let second = reg.push_image("lib/sched", Some("v1"), "s2", "amd64", false).await;
    app.advance(600);
    assert_eq!(app.service.scheduled_import_pass(interval, 60).await.unwrap(), 0);
    app.advance(301);
    assert_eq!(app.service.scheduled_import_pass(interval, 60).await.unwrap(), 1);
    let s = app.get(&is_path("default", "sched")).await.body;
    let items = s["status"]["tags"][0]["items"].as_array().unwrap();
    assert_eq!((items[0]["image"].as_str(), items[1]["image"].as_str()), (Some(second.digest.as_str()), Some(first.digest.as_str())));
}

#[tokio::test]
async fn the_controller_imports_new_docker_tags() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let (service, _guard) = server::workers::imports::start(app.service.clone(), None);
    let router = server::http::api_router(service);
    let pushed = reg.push_image("lib/ctl", Some("v1"), "ctl", "amd64", false).await;
    let body = json!({"metadata": {"name": "ctl:v1"}, "tag": {"from": {"kind": "DockerImage", "name": format!("{}/lib/ctl:v1", reg.host)}, "generation": 0}});
    use tower::ServiceExt;
    let req = axum::http::Request::put(istag_path("default", "ctl:v1"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let mut changes = app.service.subscribe_changes();
    assert_eq!(router.clone().oneshot(req).await.unwrap().status(), StatusCode::OK);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = app.get(&is_path("default", "ctl")).await.body;
        if s["status"]["tags"][0]["items"][0]["image"] == json!(pushed.digest) {
            // Stream generation 1 (create) → the import makes it 2, as upstream's worked example.
            assert_eq!(s["metadata"]["generation"], 2, "{s}");
            assert_eq!(s["spec"]["tags"][0]["generation"], 2, "{s}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the controller did not import: {s}");
        // The controller's write announces itself: wait for the next commit, not for a time.
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    }
}

/// A stream with a tag whose registry the allow-list does not name (here: the list was narrowed
/// by a restart): the controller records that tag's Forbidden condition, with upstream's
/// message, and still imports the stream's other tag.
#[tokio::test]
async fn the_controller_records_refused_tags_and_imports_the_rest() {
    let reg = Registry::start().await;
    let wide =
        TestApp::with_importer(ImporterConfig { allowed_registries: vec![reg.host.clone(), "old.example.com".into()], ..config(&reg) })
            .await;
    let pushed = reg.push_image("lib/mix", Some("v1"), "mix", "amd64", false).await;
    let body = json!({"metadata": {"name": "mix"}, "spec": {"tags": [
        {"name": "good", "from": {"kind": "DockerImage", "name": format!("{}/lib/mix:v1", reg.host)}},
        {"name": "old", "from": {"kind": "DockerImage", "name": "old.example.com/lib/mix:v1"}},
    ]}});
    assert_eq!(wide.post(&is_path("default", ""), body).await.status, StatusCode::CREATED);

    // Restarted with a narrower list: the controller's catch-up finds both tags pending.
    let narrowed = wide.service.clone().with_importer(config(&reg));
    let mut changes = narrowed.subscribe_changes();
    let (_service, _guard) = server::workers::imports::start(narrowed, None);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = wide.get(&is_path("default", "mix")).await.body;
        let tags = s["status"]["tags"].as_array().cloned().unwrap_or_default();
        let tag = |name: &str| tags.iter().find(|t| t["tag"] == name).cloned().unwrap_or_default();
        let (good, old) = (tag("good"), tag("old"));
        if good["items"][0]["image"] == json!(pushed.digest) && old["conditions"][0]["reason"] == "Forbidden" {
            let condition = &old["conditions"][0];
            assert_eq!(condition["type"], "ImportSuccess", "{s}");
            assert_eq!(condition["status"], "False", "{s}");
            assert_eq!(
                condition["message"],
                format!(
                    "importing images from registry \"old.example.com:443\" is forbidden: registry \"old.example.com:443\" not allowed by whitelist: \"{}\"",
                    reg.host
                ),
                "{s}"
            );
            assert_eq!(old["items"], Value::Null, "a refused tag has no image: {s}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the controller did not finish both tags: {s}");
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    }
}

#[tokio::test]
async fn namespace_credentials_are_used_and_never_returned() {
    let reg = Registry::start_with_auth("robot", "s3cret-pass").await;
    let app = TestApp::with_importer(config(&reg)).await;
    let pushed = reg.push_image("team/private", Some("v1"), "private", "amd64", false).await;
    let from = format!("{}/team/private:v1", reg.host);
    // Without credentials: refused.
    let r = app.post(IMPORTS, import_one("p", &from, "v1")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(st["reason"], "Unauthorized", "{}", r.text);
    assert_eq!(st["message"], format!("you may not have access to the container image \"{}/team/private:v1\"", reg.host));
    // Wrong credentials: still refused.
    let secret = |name: &str, password: &str| {
        json!({"metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
               "stringData": {".dockerconfigjson": json!({"auths": {reg.host.clone(): {"username": "robot", "password": password}}}).to_string()}})
    };
    assert_eq!(app.post("/api/v1/namespaces/default/secrets", secret("wrong", "nope")).await.status, StatusCode::CREATED);
    let r = app.post(IMPORTS, import_one("p", &from, "v1")).await;
    assert_eq!(r.body["status"]["images"][0]["status"]["reason"], "Unauthorized", "{}", r.text);
    // Right credentials (in another namespace's secret they would not count).
    assert_eq!(app.delete("/api/v1/namespaces/default/secrets/wrong").await.status, StatusCode::OK);
    let created = app.post("/api/v1/namespaces/default/secrets", secret("robot", "s3cret-pass")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert!(!created.text.contains("s3cret"), "the password is never returned: {}", created.text);
    assert_eq!(created.body["registries"], json!([reg.host.clone()]));
    let listed = app.get("/api/v1/namespaces/default/secrets").await;
    assert!(!listed.text.contains("s3cret") && !listed.text.contains("dockerconfigjson\":"), "{}", listed.text);
    let r = app.post(IMPORTS, import_one("p", &from, "v1")).await;
    assert_eq!(r.body["status"]["images"][0]["image"]["metadata"]["name"], pushed.digest, "{}", r.text);
    // At rest the password is sealed: no database file holds it in plain text.
    for entry in std::fs::read_dir(app.data_dir()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(11).any(|w| w == b"s3cret-pass"), "plain password found at rest");
    }
    // Invalid secrets are refused with field errors.
    let bad = app.post("/api/v1/namespaces/default/secrets", json!({"metadata": {"name": "x"}, "type": "Opaque"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let bad = app
        .post(
            "/api/v1/namespaces/default/secrets",
            json!({"metadata": {"name": "y"}, "type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{}"}}),
        )
        .await;
    assert_eq!(bad.body["message"], "Secret \"y\" is invalid: data[.dockerconfigjson]: Invalid value: <hidden>: has no \"auths\" object");
}

#[tokio::test]
async fn allow_list_and_non_public_addresses_are_refused() {
    let reg = Registry::start().await;
    reg.push_image("lib/app", Some("v1"), "x", "amd64", false).await;
    let from = format!("{}/lib/app:v1", reg.host);
    // An allow-list that does not name the registry: the whole request is refused.
    let app =
        TestApp::with_importer(ImporterConfig { allowed_registries: vec!["quay.io".into(), "*.example.com:5000".into()], ..config(&reg) })
            .await;
    let r = app.post(IMPORTS, import_one("app", &from, "v1")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["message"],
        format!(
            "ImageStreamImport.image.openshift.io \"app\" is invalid: spec.images[0].from.name: Forbidden: importing images from registry \"{h}\" is forbidden: registry \"{h}\" not allowed by whitelist: \"quay.io:443\", \"*.example.com:5000\"",
            h = reg.host
        )
    );
    assert_eq!(app.get(&is_path("default", "app")).await.status, StatusCode::NOT_FOUND);
    // No allow-list: public registries only; loopback is refused on its resolved address.
    let open = TestApp::with_importer(ImporterConfig { allowed_registries: vec![], ..config(&reg) }).await;
    let r = open.post(IMPORTS, import_one("app", &from, "v1")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(st["reason"], "Forbidden", "{}", r.text);
    assert!(st["message"].as_str().unwrap().contains("resolves to the non-public address 127.0.0.1"), "{}", r.text);
    // A wildcard does not open loopback either; only an explicit entry does.
    let wild = TestApp::with_importer(ImporterConfig { allowed_registries: vec!["127.0.0.*:*".into()], ..config(&reg) }).await;
    let r = wild.post(IMPORTS, import_one("app", &from, "v1")).await;
    assert_eq!(r.body["status"]["images"][0]["status"]["reason"], "Forbidden", "{}", r.text);
}

/// A registry that redirects to a host the guard refuses: the redirect is checked again and the
/// forbidden host never sees a request.
#[tokio::test]
async fn redirects_are_checked_again() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let hits = Arc::new(AtomicUsize::new(0));
    let target = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_port = target.local_addr().unwrap().port();
    let counted = hits.clone();
    tokio::spawn(async move {
        loop {
            if target.accept().await.is_ok() {
                counted.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let redirector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = redirector.local_addr().unwrap().to_string();
    let location = format!("http://localhost:{target_port}/v2/x/y/manifests/1");
    let app_router = axum::Router::new().route("/v2/", axum::routing::get(|| async { "{}" })).fallback(move || {
        let location = location.clone();
        async move { (StatusCode::TEMPORARY_REDIRECT, [("location", location)], "") }
    });
    tokio::spawn(async move { axum::serve(redirector, app_router).await });
    let app = TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![host.clone()],
        allowed_registries: vec![host.clone()],
        timeout: Duration::from_secs(3),
        ..Default::default()
    })
    .await;
    let r = app.post(IMPORTS, import_one("app", &format!("{host}/x/y:1"), "1")).await;
    let st = &r.body["status"]["images"][0]["status"];
    assert_eq!(st["status"], "Failure", "{}", r.text);
    assert_eq!(st["reason"], "Forbidden", "{}", r.text);
    assert!(st["message"].as_str().unwrap().contains("localhost"), "{}", r.text);
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the refused host was never contacted");
}

/// A registry that refuses the stored credentials ("incorrect username or password") but serves
/// its images anonymously: the import retries without credentials and succeeds (spec §4.2 step 3).
#[tokio::test]
async fn stale_credentials_fall_back_to_anonymous() {
    use axum::http::HeaderMap;
    use axum::response::IntoResponse;
    let config = json!({"architecture": "amd64", "os": "linux", "config": {"User": "anon"}}).to_string();
    let config_digest = registry::sha256(config.as_bytes());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": registry::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": []
    })
    .to_string();
    let manifest_digest = registry::sha256(manifest.as_bytes());
    let refused = || {
        (
            StatusCode::UNAUTHORIZED,
            [("content-type", "application/json"), ("www-authenticate", "Basic realm=\"fake\"")],
            json!({"errors": [{"code": "UNAUTHORIZED", "message": "incorrect username or password"}]}).to_string(),
        )
            .into_response()
    };
    let (m, md, c) = (manifest.clone(), manifest_digest.clone(), config.clone());
    let router = axum::Router::new()
        .route("/v2/", axum::routing::get(move || async move { refused() }))
        .route(
            "/v2/pub/img/manifests/{reference}",
            axum::routing::get(move |headers: HeaderMap| {
                let (m, md) = (m.clone(), md.clone());
                async move {
                    if headers.contains_key("authorization") {
                        return refused();
                    }
                    ([("content-type", registry::OCI_MANIFEST.to_string()), ("docker-content-digest", md)], m).into_response()
                }
            }),
        )
        .route("/v2/pub/img/blobs/{digest}", axum::routing::get(move || async move { c.clone() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, router).await });
    let app = TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![host.clone()],
        allowed_registries: vec![host.clone()],
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let secret = json!({"metadata": {"name": "stale"}, "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json!({"auths": {host.clone(): {"username": "old", "password": "expired"}}}).to_string()}});
    assert_eq!(app.post("/api/v1/namespaces/default/secrets", secret).await.status, StatusCode::CREATED);
    let r = app.post(IMPORTS, import_one("anon", &format!("{host}/pub/img:v1"), "v1")).await;
    let st = &r.body["status"]["images"][0];
    assert_eq!(st["status"]["status"], "Success", "{}", r.text);
    assert_eq!(st["image"]["metadata"]["name"], manifest_digest);
    assert_eq!(st["image"]["dockerImageMetadata"]["Config"]["User"], "anon");
}

// ---- A hostile registry (issue 13, point 7; review M3) ----

/// A registry on 127.0.0.1 that misbehaves by repository: `good/img` serves one small image
/// for every tag, `big/img` a 5 MiB manifest without `Docker-Content-Digest`, `endless/img` a
/// manifest that never ends (chunked, no length), `error/img` a 500 whose body never ends,
/// `layers/img` an image of 2,000 layers, `list/img` an index of 1,500 entries, `config/img`
/// a 9 MiB image config, `tags/img` a tag list whose pages never run out, `tarpit/img` nothing
/// for a minute.
struct Hostile {
    host: String,
    good_digest: String,
}

async fn hostile_registry() -> Hostile {
    use axum::body::Body;
    use axum::extract::Query;
    use axum::http::Uri;
    use axum::response::{IntoResponse, Response};
    use std::collections::HashMap;

    let config = json!({"architecture": "amd64", "os": "linux", "config": {"User": "1001"}}).to_string();
    let config_digest = registry::sha256(config.as_bytes());
    let manifest_with = |config_digest: &str, config_size: usize, layers: usize| {
        let layers: Vec<Value> = (0..layers)
            .map(|i| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest_n(i as u64), "size": 1}))
            .collect();
        json!({"schemaVersion": 2, "mediaType": registry::OCI_MANIFEST,
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
               "layers": layers})
        .to_string()
    };
    let good = manifest_with(&config_digest, config.len(), 1);
    let good_digest = registry::sha256(good.as_bytes());
    let layered = manifest_with(&config_digest, config.len(), 2000);
    let big_config = format!("{{\"pad\":\"{}\"}}", "x".repeat(9 << 20));
    let big_config_digest = registry::sha256(big_config.as_bytes());
    let with_big_config = manifest_with(&big_config_digest, big_config.len(), 1);
    let entries: Vec<Value> = (0..1500)
        .map(|i| json!({"mediaType": registry::OCI_MANIFEST, "digest": digest_n(i), "size": 1, "platform": {"architecture": "amd64", "os": "linux"}}))
        .collect();
    let list = json!({"schemaVersion": 2, "mediaType": registry::OCI_INDEX, "manifests": entries}).to_string();

    let (good_d, gd) = (good.clone(), good_digest.clone());
    let handler = move |uri: Uri, Query(q): Query<HashMap<String, String>>| {
        let (good, good_digest, layered, with_big_config, list) =
            (good_d.clone(), gd.clone(), layered.clone(), with_big_config.clone(), list.clone());
        let (config, config_digest, big_config, big_config_digest) =
            (config.clone(), config_digest.clone(), big_config.clone(), big_config_digest.clone());
        async move {
            let path = uri.path();
            let manifest = |body: String| -> Response { ([("content-type", registry::OCI_MANIFEST)], body).into_response() };
            if path == "/v2/" {
                return "{}".into_response();
            }
            if path.starts_with("/v2/good/img/manifests/") {
                return ([("content-type", registry::OCI_MANIFEST.to_string()), ("docker-content-digest", good_digest)], good)
                    .into_response();
            }
            if path.ends_with(&format!("/blobs/{config_digest}")) {
                return config.into_response();
            }
            if path.ends_with(&format!("/blobs/{big_config_digest}")) {
                return big_config.into_response();
            }
            if path.starts_with("/v2/big/img/manifests/") {
                return manifest(format!("{{\"schemaVersion\":2,\"pad\":\"{}\"}}", "x".repeat(5 << 20)));
            }
            if path.starts_with("/v2/endless/img/manifests/") {
                let chunk = bytes::Bytes::from(vec![b' '; 64 << 10]);
                let endless = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
                return ([("content-type", registry::OCI_MANIFEST)], Body::from_stream(endless)).into_response();
            }
            if path.starts_with("/v2/error/img/manifests/") {
                // "upstream exploded: EEEE…" without end (the review's 100 MB body, and more).
                let first = futures::stream::once(async { Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"upstream exploded: ")) });
                let chunk = bytes::Bytes::from(vec![b'E'; 64 << 10]);
                let rest = futures::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
                return (StatusCode::INTERNAL_SERVER_ERROR, Body::from_stream(futures::StreamExt::chain(first, rest))).into_response();
            }
            if path.starts_with("/v2/layers/img/manifests/") {
                return manifest(layered);
            }
            if path.starts_with("/v2/config/img/manifests/") {
                return manifest(with_big_config);
            }
            if path.starts_with("/v2/list/img/manifests/") {
                return ([("content-type", registry::OCI_INDEX)], list).into_response();
            }
            if path == "/v2/tags/img/tags/list" {
                // Always a full page of new tags after `last`.
                let start: u64 = q.get("last").and_then(|l| l.trim_start_matches('t').parse().ok()).map(|n: u64| n + 1).unwrap_or(0);
                let tags: Vec<String> = (start..start + 1000).map(|i| format!("t{i:09}")).collect();
                return axum::Json(json!({"name": "tags/img", "tags": tags})).into_response();
            }
            if path.starts_with("/v2/tarpit/") {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            StatusCode::NOT_FOUND.into_response()
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    Hostile { host, good_digest }
}

fn hostile_config(h: &Hostile) -> ImporterConfig {
    ImporterConfig {
        insecure_registries: vec![h.host.clone()],
        allowed_registries: vec![h.host.clone()],
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

/// The failure status of importing `repo:1` from the hostile registry into stream `stream`.
async fn import_failure(app: &TestApp, h: &Hostile, stream: &str, repo: &str) -> Value {
    let r = app.post(IMPORTS, import_one(stream, &format!("{}/{repo}:1", h.host), "1")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let st = r.body["status"]["images"][0]["status"].clone();
    assert_eq!(st["status"], "Failure", "{}", r.text);
    st
}

#[tokio::test]
async fn oversized_manifests_fail_fast_without_being_read_whole() {
    let h = hostile_registry().await;
    let app = TestApp::with_importer(hostile_config(&h)).await;
    let started = std::time::Instant::now();
    let st = import_failure(&app, &h, "big", "big/img").await;
    assert_eq!(st["message"], format!("{}/big/img:1: the manifest is larger than 4 MiB", h.host));
    // A manifest that never ends is cut at the same budget: it was never buffered whole (it
    // has no whole), and the lookup ends long before the registry timeout.
    let st = import_failure(&app, &h, "endless", "endless/img").await;
    assert_eq!(st["message"], format!("{}/endless/img:1: the manifest is larger than 4 MiB", h.host));
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    // The failure is the tag's condition.
    let s = app.get(&is_path("default", "endless")).await.body;
    assert_eq!(s["status"]["tags"][0]["conditions"][0]["message"], st["message"], "{s}");
    // An image config over its budget is refused the same way.
    let st = import_failure(&app, &h, "config", "config/img").await;
    assert_eq!(st["message"], format!("{}/config/img:1: the image config is larger than 8 MiB", h.host));
}

#[tokio::test]
async fn a_huge_registry_error_is_stored_as_a_short_message() {
    let h = hostile_registry().await;
    let app = TestApp::with_importer(hostile_config(&h)).await;
    let started = std::time::Instant::now();
    let st = import_failure(&app, &h, "err", "error/img").await;
    assert!(started.elapsed() < Duration::from_secs(8), "the endless error body was read no further than its budget");
    let message = st["message"].as_str().unwrap();
    assert!(message.len() <= 1300, "{} bytes", message.len());
    assert!(message.contains("upstream exploded"), "{message}");
    let s = app.get(&is_path("default", "err")).await.body;
    let stored = s["status"]["tags"][0]["conditions"][0]["message"].as_str().unwrap();
    assert!(stored.len() <= 1300, "stored condition of {} bytes", stored.len());
}

#[tokio::test]
async fn too_many_layers_list_entries_or_tags_are_refused() {
    let h = hostile_registry().await;
    let app = TestApp::with_importer(hostile_config(&h)).await;
    let st = import_failure(&app, &h, "layers", "layers/img").await;
    assert_eq!(st["message"], format!("{}/layers/img:1: the manifest has 2000 layers, more than the 1000 allowed", h.host));
    let s = app.get(&is_path("default", "layers")).await.body;
    assert_eq!(s["status"]["tags"][0]["items"], Value::Null, "no image was stored: {s}");
    let st = import_failure(&app, &h, "list", "list/img").await;
    assert_eq!(st["message"], format!("{}/list/img:1: the manifest list has 1500 entries, more than the 1000 allowed", h.host));
    // A repository whose tag pages never run out: the listing stops at 10,000 tags.
    let all = json!({"metadata": {"name": "tags"}, "spec": {"import": true, "repository": {"from": {"kind": "DockerImage", "name": format!("{}/tags/img", h.host)}}}});
    let r = app.post(IMPORTS, all).await;
    let st = &r.body["status"]["repository"]["status"];
    assert_eq!(st["status"], "Failure", "{}", r.text);
    assert_eq!(st["message"], format!("{}/tags/img: the repository has more than 10000 tags; import the ones you need by name", h.host));
}

#[tokio::test]
async fn an_import_request_lists_at_most_100_images() {
    let app = TestApp::new().await;
    let images: Vec<Value> = (0..101).map(|i| json!({"from": {"kind": "DockerImage", "name": format!("quay.io/o/a:{i}")}})).collect();
    let r = app.post(IMPORTS, json!({"metadata": {"name": "many"}, "spec": {"import": true, "images": images}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.body["message"],
        "ImageStreamImport.image.openshift.io \"many\" is invalid: spec.images: Invalid value: 101: must have at most 100 items (import more in several requests)"
    );
    assert_eq!(r.body["details"]["causes"][0]["field"], "spec.images", "{}", r.text);
}

/// The controller imports a stream with more tags than one request may list, in batches.
#[tokio::test]
async fn the_controller_imports_streams_with_more_tags_than_one_request_lists() {
    let h = hostile_registry().await;
    let app = TestApp::with_importer(hostile_config(&h)).await;
    let mut changes = app.service.subscribe_changes();
    let (service, _guard) = server::workers::imports::start(app.service.clone(), None);
    let tags: Vec<Value> = (0..120).map(|i| docker_tag(&format!("t{i}"), &format!("{}/good/img:t{i}", h.host))).collect();
    let router = server::http::api_router(service);
    use tower::ServiceExt;
    let req = axum::http::Request::post(is_path("default", ""))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({"metadata": {"name": "wide"}, "spec": {"tags": tags}}).to_string()))
        .unwrap();
    assert_eq!(router.oneshot(req).await.unwrap().status(), StatusCode::CREATED);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s = app.get(&is_path("default", "wide")).await.body;
        let imported = s["status"]["tags"].as_array().map(|t| t.iter().filter(|t| t["items"][0]["image"] == json!(h.good_digest)).count());
        if imported == Some(120) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the controller imported {imported:?} of 120 tags");
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    }
}

/// Namespace A's streams point at a registry that never answers; namespace B's import still
/// completes well before a single one of A's lookups has even timed out, through the
/// controller and through the API. A's own extra imports wait for its share, then get 429.
#[tokio::test]
async fn a_tarpit_registry_in_one_namespace_does_not_stall_another() {
    let h = hostile_registry().await;
    let timeout = Duration::from_secs(6);
    let app = TestApp::with_importer(ImporterConfig {
        timeout,
        max_concurrent_imports: 3,
        max_concurrent_imports_per_namespace: 1,
        import_queue_wait: Duration::from_millis(300),
        ..hostile_config(&h)
    })
    .await;
    app.create_namespace("slow").await;
    app.create_namespace("fast").await;
    let mut changes = app.service.subscribe_changes();
    let (service, _guard) = server::workers::imports::start(app.service.clone(), None);
    let router = server::http::api_router(service);
    use tower::ServiceExt;
    let create = |ns: &str, body: Value| {
        axum::http::Request::post(is_path(ns, ""))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    // Namespace slow: five streams of 20 tarpit tags each, announced first.
    for s in 0..5 {
        let tags: Vec<Value> = (0..20).map(|i| docker_tag(&format!("t{i}"), &format!("{}/tarpit/img:{s}-{i}", h.host))).collect();
        let req = create("slow", json!({"metadata": {"name": format!("s{s}")}, "spec": {"tags": tags}}));
        assert_eq!(router.clone().oneshot(req).await.unwrap().status(), StatusCode::CREATED);
    }
    let started = std::time::Instant::now();
    let req =
        create("fast", json!({"metadata": {"name": "app"}, "spec": {"tags": [docker_tag("v1", &format!("{}/good/img:v1", h.host))]}}));
    assert_eq!(router.clone().oneshot(req).await.unwrap().status(), StatusCode::CREATED);
    loop {
        let s = app.get(&is_path("fast", "app")).await.body;
        if s["status"]["tags"][0]["items"][0]["image"] == json!(h.good_digest) {
            break;
        }
        assert!(started.elapsed() < timeout, "namespace fast waited for namespace slow's tarpit: {s}");
        let _ = tokio::time::timeout(Duration::from_millis(200), changes.changed()).await;
    }
    // Through the API too: fast's import is admitted and answers at once…
    let r = app
        .post("/apis/image.openshift.io/v1/namespaces/fast/imagestreamimports", import_one("api", &format!("{}/good/img:v2", h.host), "v2"))
        .await;
    assert_eq!(r.body["status"]["images"][0]["status"]["status"], "Success", "{}", r.text);
    assert!(started.elapsed() < timeout, "took {:?}", started.elapsed());
    // …while slow, whose share the controller holds, is told to come back later.
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/slow/imagestreamimports",
            import_one("more", &format!("{}/good/img:v3", h.host), "v3"),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.body["message"], "this namespace already runs its share of imports (1 at once); try again later");
}

/// A registry that hands out Bearer tokens (as Docker Hub and Quay do): the importer follows the
/// challenge to the realm, asks for pull access to the repository, and uses the token, reading
/// the token answer within its own budget.
#[tokio::test]
async fn bearer_token_registries_are_followed_to_their_realm() {
    use axum::http::{HeaderMap, Uri};
    use axum::response::IntoResponse;
    use std::collections::HashMap;
    let config = json!({"architecture": "arm64", "os": "linux"}).to_string();
    let config_digest = registry::sha256(config.as_bytes());
    let manifest = json!({"schemaVersion": 2, "mediaType": registry::OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()}, "layers": []})
    .to_string();
    let digest = registry::sha256(manifest.as_bytes());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = listener.local_addr().unwrap().to_string();
    let realm = format!("http://{host}/token");
    let handler = move |uri: Uri, headers: HeaderMap, axum::extract::Query(q): axum::extract::Query<HashMap<String, String>>| {
        let (config, manifest, realm) = (config.clone(), manifest.clone(), realm.clone());
        async move {
            if uri.path() == "/token" {
                // Only the repository's pull scope is granted.
                if q.get("scope").map(String::as_str) != Some("repository:priv/img:pull")
                    || q.get("service").map(String::as_str) != Some("fake")
                {
                    return StatusCode::FORBIDDEN.into_response();
                }
                return axum::Json(json!({"token": "tok-123", "expires_in": 300})).into_response();
            }
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer tok-123") {
                let challenge = format!("Bearer realm=\"{realm}\",service=\"fake\",scope=\"repository:priv/img:pull\"");
                return (StatusCode::UNAUTHORIZED, [("www-authenticate", challenge)], "{\"errors\":[{\"code\":\"UNAUTHORIZED\"}]}")
                    .into_response();
            }
            if uri.path().starts_with("/v2/priv/img/manifests/") {
                return ([("content-type", registry::OCI_MANIFEST)], manifest).into_response();
            }
            if uri.path().starts_with("/v2/priv/img/blobs/") {
                return config.into_response();
            }
            StatusCode::NOT_FOUND.into_response()
        }
    };
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    let app = TestApp::with_importer(ImporterConfig {
        insecure_registries: vec![host.clone()],
        allowed_registries: vec![host.clone()],
        timeout: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let r = app.post(IMPORTS, import_one("priv", &format!("{host}/priv/img:v1"), "v1")).await;
    let st = &r.body["status"]["images"][0];
    assert_eq!(st["status"]["status"], "Success", "{}", r.text);
    assert_eq!(st["image"]["metadata"]["name"], digest);
    assert_eq!(st["image"]["dockerImageMetadata"]["Architecture"], "arm64");
}

/// A scheduled tag pinned by digest (spec §4.4): retried until its first successful import,
/// then never fetched again, so a registry that has gone away cannot give it a failure.
#[tokio::test]
async fn scheduled_tags_pinned_by_digest_are_imported_once() {
    let reg = Registry::start().await;
    let app = TestApp::with_importer(config(&reg)).await;
    let interval = Duration::from_secs(900);
    let image = reg.push_image("lib/elsewhere", Some("v1"), "pin1", "amd64", false).await;
    // Pinned to a digest the repository does not hold yet: the first import fails.
    let from = format!("{}/lib/pinned@{}", reg.host, image.digest);
    let mut body = import_one("pinned", &from, "v1");
    body["spec"]["images"][0]["importPolicy"] = json!({"scheduled": true, "insecure": true});
    let r = app.post(IMPORTS, body).await;
    assert_eq!(r.body["status"]["images"][0]["status"]["reason"], "NotFound", "{}", r.text);
    let s = app.get(&is_path("default", "pinned")).await.body;
    assert_eq!(s["status"]["tags"][0]["conditions"][0]["status"], "False", "{s}");
    // Retried on the schedule: once the manifest is there, the next pass imports it.
    let same = reg.push_image("lib/pinned", None, "pin1", "amd64", false).await;
    assert_eq!(same.digest, image.digest);
    assert_eq!(app.service.scheduled_import_pass(interval, 60).await.unwrap(), 1);
    let s = app.get(&is_path("default", "pinned")).await.body;
    assert_eq!(s["status"]["tags"][0]["items"][0]["image"], image.digest.as_str(), "{s}");
    assert!(s["status"]["tags"][0].get("conditions").is_none_or(|c| c.as_array().is_some_and(Vec::is_empty)), "{s}");
    let imported = rv(&s);
    // Done for good: with the registry gone, later passes neither fetch nor record a failure.
    drop(reg);
    for _ in 0..2 {
        app.advance(901);
        assert_eq!(app.service.scheduled_import_pass(interval, 60).await.unwrap(), 1);
    }
    let s = app.get(&is_path("default", "pinned")).await.body;
    assert_eq!(rv(&s), imported, "the stream was not written: {s}");
    assert!(s["status"]["tags"][0].get("conditions").is_none_or(|c| c.as_array().is_some_and(Vec::is_empty)), "{s}");
    assert_eq!(s["status"]["tags"][0]["items"].as_array().map(Vec::len), Some(1), "{s}");
}
