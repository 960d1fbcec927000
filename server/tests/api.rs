//! HTTP tests: the real router in-process, one test per endpoint's success and error paths.

mod common;

use axum::http::StatusCode;
use common::*;
use serde_json::{Value, json};

fn tags_of(v: &Value, field: &str) -> Vec<String> {
    v[field]["tags"]
        .as_array()
        .map(|a| a.iter().map(|t| t["name"].as_str().or(t["tag"].as_str()).unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn namespaces_crud_and_errors() {
    let app = TestApp::new().await;
    app.create_namespace("team-a").await;
    let dup = app.post("/api/v1/namespaces", json!({"metadata": {"name": "team-a"}})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(dup.body["reason"], "AlreadyExists");
    assert_eq!(dup.body["message"], "namespaces \"team-a\" already exists");
    let bad = app.post("/api/v1/namespaces", json!({"metadata": {"name": "Team_A"}})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.body["kind"], "Status");
    assert!(
        bad.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Namespace \"Team_A\" is invalid: metadata.name: Invalid value: \"Team_A\": a lowercase RFC 1123 label")
    );
    assert_eq!(bad.body["details"]["causes"][0]["field"], "metadata.name");
    let missing = app.get("/api/v1/namespaces/nope").await;
    assert_eq!((missing.status, missing.body["message"].as_str().unwrap()), (StatusCode::NOT_FOUND, "namespaces \"nope\" not found"));
    let list = app.get("/api/v1/namespaces").await;
    let names: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|n| n["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["default", "team-a"]);
    assert_eq!(app.delete("/api/v1/namespaces/team-a").await.body["status"], "Success");
    assert_eq!(app.get("/api/v1/namespaces/team-a").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete("/api/v1/namespaces/team-a").await.status, StatusCode::NOT_FOUND);
    let garbage = app.send("POST", "/api/v1/namespaces", None, None).await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn create_stream_defaults_generations_and_repository() {
    let app = TestApp::new().await;
    let r = app
        .create_stream("default", json!({"metadata": {"name": "app"}, "spec": {"tags": [docker_tag("v2", "quay.io/o/a:2"), docker_tag("v1", "quay.io/o/a:1"), docker_tag("v1", "quay.io/o/a:1b")]}, "status": {"tags": [{"tag": "x", "items": []}]}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let s = &r.body;
    assert_eq!(s["apiVersion"], "image.openshift.io/v1");
    assert_eq!(s["kind"], "ImageStream");
    assert_eq!(s["metadata"]["generation"], 1);
    assert!(s["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert_eq!(s["metadata"]["creationTimestamp"], "2026-01-01T12:00:00Z");
    assert_eq!(s["status"]["dockerImageRepository"], "registry.test:5000/default/app");
    assert_eq!(tags_of(s, "spec"), vec!["v1", "v2"], "sorted, duplicates collapse to the last");
    assert_eq!(s["spec"]["tags"][0]["from"]["name"], "quay.io/o/a:1b");
    assert_eq!(s["spec"]["tags"][0]["generation"], 1);
    assert_eq!(s["spec"]["tags"][0]["referencePolicy"]["type"], "Source");
    assert_eq!(s["spec"]["tags"][0]["importPolicy"]["importMode"], "Legacy");
    assert_eq!(s["spec"]["tags"][0]["annotations"], Value::Null);
    assert_eq!(s["spec"]["lookupPolicy"]["local"], false);
    assert!(s["status"].get("tags").is_none(), "submitted status is discarded");

    let dup = app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    assert_eq!(
        (dup.status, dup.body["message"].as_str().unwrap()),
        (StatusCode::CONFLICT, "imagestreams.image.openshift.io \"app\" already exists")
    );
    let no_ns = app.create_stream("ghost", json!({"metadata": {"name": "app"}})).await;
    assert_eq!((no_ns.status, no_ns.body["message"].as_str().unwrap()), (StatusCode::NOT_FOUND, "namespaces \"ghost\" not found"));
    let wrong_ns = app.create_stream("default", json!({"metadata": {"name": "x", "namespace": "other"}})).await;
    assert_eq!(wrong_ns.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn create_stream_validation_errors_are_exact() {
    let app = TestApp::new().await;
    let r = app.create_stream("default", json!({"metadata": {"name": "Bad"}})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.body["reason"], "Invalid");
    assert_eq!(
        r.body["message"],
        "ImageStream.image.openshift.io \"Bad\" is invalid: metadata.name: Invalid value: \"Bad\": must match \"[a-z0-9]+(?:[._-][a-z0-9]+)*\""
    );
    let r = app
        .create_stream("default", json!({"metadata": {"name": "app"}, "spec": {"tags": [{"name": "v1", "from": {"kind": "Pod", "name": "x"}}, docker_tag("v2", "Quay.io/A")]}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["message"],
        "ImageStream.image.openshift.io \"app\" is invalid: [spec.tags[v1].from.kind: Required value: valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag', spec.tags[v2].from.name: Invalid value: \"Quay.io/A\": repository name must be lowercase]"
    );
    assert_eq!(r.body["details"]["causes"].as_array().unwrap().len(), 2);
    let bad_json = app.send("POST", &is_path("default", ""), Some(json!("not an object")), None).await;
    assert_eq!(bad_json.status, StatusCode::BAD_REQUEST);
    assert!(bad_json.body["message"].as_str().unwrap().starts_with("the request body is not a valid object"));
    // Nothing was written by the failures.
    assert_eq!(app.get(&is_path("default", "")).await.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn get_list_pagination_and_yaml() {
    let app = TestApp::new().await;
    for n in ["c", "a", "b"] {
        assert_eq!(app.create_stream("default", json!({"metadata": {"name": n}})).await.status, StatusCode::CREATED);
    }
    let missing = app.get(&is_path("default", "zzz")).await;
    assert_eq!(
        (missing.status, missing.body["message"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "imagestreams.image.openshift.io \"zzz\" not found")
    );
    let page1 = app.get(&format!("{}?limit=2", is_path("default", ""))).await;
    assert_eq!(page1.body["kind"], "ImageStreamList");
    let names = |r: &Reply| {
        r.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(names(&page1), vec!["a", "b"]);
    let token = page1.body["metadata"]["continue"].as_str().unwrap().to_string();
    let page2 = app.get(&format!("{}?limit=2&continue={}", is_path("default", ""), token.replace('/', "%2F"))).await;
    assert_eq!(names(&page2), vec!["c"]);
    assert!(page2.body["metadata"].get("continue").is_none());
    let bad_token = app.get(&format!("{}?continue=nonsense", is_path("default", ""))).await;
    assert_eq!(bad_token.status, StatusCode::BAD_REQUEST);
    let bad_limit = app.get(&format!("{}?limit=-1", is_path("default", ""))).await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
    app.create_namespace("other").await;
    app.create_stream("other", json!({"metadata": {"name": "a"}})).await;
    let all = app.get("/apis/image.openshift.io/v1/imagestreams").await;
    let keys: Vec<String> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}/{}", i["metadata"]["namespace"].as_str().unwrap(), i["metadata"]["name"].as_str().unwrap()))
        .collect();
    assert_eq!(keys, vec!["default/a", "default/b", "default/c", "other/a"]);
    let yaml = app.send("GET", &is_path("default", "a"), None, Some("application/yaml")).await;
    assert_eq!(yaml.content_type, "application/yaml");
    assert!(yaml.text.contains("kind: ImageStream\n"), "{}", yaml.text);
    assert!(yaml.text.contains("dockerImageRepository: registry.test:5000/default/a"));
}

#[tokio::test]
async fn update_generations_conflicts_and_noops() {
    let app = TestApp::new().await;
    let created = app
        .create_stream("default", json!({"metadata": {"name": "app"}, "spec": {"tags": [docker_tag("v1", "quay.io/o/a:1")]}}))
        .await
        .body;
    let rv1 = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    // Unchanged PUT: no write, same resourceVersion.
    let same = app.put(&is_path("default", "app"), created.clone()).await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(same.body["metadata"]["resourceVersion"].as_str().unwrap(), rv1);
    // Insecure: stream generation moves, tag generation does not.
    let mut insecure = created.clone();
    insecure["spec"]["tags"][0]["importPolicy"]["insecure"] = json!(true);
    let r = app.put(&is_path("default", "app"), insecure).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!((r.body["metadata"]["generation"].as_i64(), r.body["spec"]["tags"][0]["generation"].as_i64()), (Some(2), Some(1)));
    let rv2 = r.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    assert_ne!(rv1, rv2);
    // Stale resourceVersion: 409 and nothing written.
    let mut stale = created.clone();
    stale["spec"]["tags"][0]["from"]["name"] = json!("quay.io/o/a:2");
    let conflict = app.put(&is_path("default", "app"), stale).await;
    assert_eq!(conflict.status, StatusCode::CONFLICT);
    assert_eq!(
        conflict.body["message"],
        "Operation cannot be fulfilled on imagestreams.image.openshift.io \"app\": the object has been modified; please apply your changes to the latest version and try again"
    );
    assert_eq!(app.get(&is_path("default", "app")).await.body["spec"]["tags"][0]["from"]["name"], "quay.io/o/a:1");
    // New source: tag generation follows the stream generation.
    let mut moved = r.body.clone();
    moved["spec"]["tags"][0]["from"]["name"] = json!("quay.io/o/a:2");
    let r = app.put(&is_path("default", "app"), moved).await;
    assert_eq!((r.body["metadata"]["generation"].as_i64(), r.body["spec"]["tags"][0]["generation"].as_i64()), (Some(3), Some(3)));
    // Client-set status is ignored; a name mismatch is refused.
    let mut status = r.body.clone();
    status["status"]["tags"] = json!([{"tag": "fake", "items": [{"created": "2020-01-01T00:00:00Z", "dockerImageReference": "x", "image": "y", "generation": 1}]}]);
    assert!(app.put(&is_path("default", "app"), status).await.body["status"].get("tags").is_none());
    let mut renamed = r.body.clone();
    renamed["metadata"]["name"] = json!("other");
    let r = app.put(&is_path("default", "app"), renamed).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "the name of the object (other) does not match the name on the URL (app)")
    );
    assert_eq!(app.put(&is_path("default", "missing"), json!({"metadata": {"name": "missing"}})).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn delete_stream() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    let r = app.delete(&is_path("default", "app")).await;
    assert_eq!(
        (r.status, r.body["status"].as_str().unwrap(), r.body["details"]["kind"].as_str().unwrap()),
        (StatusCode::OK, "Success", "imagestreams")
    );
    assert_eq!(app.delete(&is_path("default", "app")).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn mappings_create_images_history_and_follow_aliases() {
    let app = TestApp::new().await;
    app.create_stream(
        "default",
        json!({"metadata": {"name": "app"}, "spec": {"tags": [{"name": "stable", "from": {"kind": "ImageStreamTag", "name": "latest"}}]}}),
    )
    .await;
    let r = app.push("default", "app", "latest", &digest_n(1)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["status"], "Success");
    assert_eq!(r.body["code"], 201, "the Status carries its answer's code, as the API server's create handler sets it");
    app.advance(60);
    app.push("default", "app", "latest", &digest_n(2)).await;
    let s = app.get(&is_path("default", "app")).await.body;
    let latest = &s["status"]["tags"][0];
    assert_eq!(latest["tag"], "latest");
    let items = latest["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["image"], digest_n(2));
    assert_eq!(items[0]["created"], "2026-01-01T12:01:00Z");
    assert_eq!(items[0]["generation"], 1, "pushes use the stream generation");
    assert_eq!(items[0]["dockerImageReference"], format!("quay.io/org/app@{}", digest_n(2)));
    assert_eq!(s["status"]["tags"][1]["tag"], "stable");
    assert_eq!(s["status"]["tags"][1]["items"][0]["image"], digest_n(2), "the alias tracks latest");
    assert_eq!(s["metadata"]["generation"], 1);

    let img = app.get(&format!("/apis/image.openshift.io/v1/images/{}", digest_n(2))).await;
    assert_eq!(img.status, StatusCode::OK);
    assert_eq!(img.body["dockerImageLayers"][0]["size"], 1234);
    assert_eq!(img.body["dockerImageMetadata"]["Config"]["User"], "1001");
    let images = app.get("/apis/image.openshift.io/v1/images").await;
    assert_eq!(images.body["items"].as_array().unwrap().len(), 2);
    let none = app.get(&format!("/apis/image.openshift.io/v1/images/{}", digest_n(9))).await;
    assert_eq!(none.body["message"], format!("images.image.openshift.io \"{}\" not found", digest_n(9)));

    let bad = app.push("default", "app", "latest", "sha256:abc").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.body["message"],
        "ImageStreamMapping.image.openshift.io \"app\" is invalid: [image.metadata.name: Invalid value: \"sha256:abc\": invalid checksum digest format, image.dockerImageReference: Invalid value: \"quay.io/org/app@sha256:abc\": invalid reference format]"
    );
    let bad_tag = app.push("default", "app", "-x", &digest_n(3)).await;
    assert_eq!(bad_tag.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = app.push("default", "ghost", "latest", &digest_n(3)).await;
    assert_eq!(
        (missing.status, missing.body["message"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "imagestreams.image.openshift.io \"ghost\" not found")
    );
}

/// A mapping reads and writes only the heads of a stream's tags (issue 18, point 6): the
/// history behind them is kept as it was, whether a new head is added in front, the head is
/// changed in place (the same reference with another image, as `add_tag_event` does upstream),
/// or an alias follows; and a full write of the stream afterwards still sees all of it.
#[tokio::test]
async fn mappings_keep_the_history_behind_the_heads() {
    let app = TestApp::new().await;
    app.create_stream(
        "default",
        json!({"metadata": {"name": "app"}, "spec": {"tags": [{"name": "stable", "from": {"kind": "ImageStreamTag", "name": "latest"}}]}}),
    )
    .await;
    for n in 1..=5 {
        assert_eq!(app.push("default", "app", "latest", &digest_n(n)).await.status, StatusCode::CREATED);
    }
    // The same reference (a tag reference) with another image: the head changes in place.
    let same_ref = |digest: String| {
        json!({"metadata": {"name": "app"}, "tag": "latest",
               "image": {"metadata": {"name": digest}, "dockerImageReference": "quay.io/org/app:latest"}})
    };
    let mapping = "/apis/image.openshift.io/v1/namespaces/default/imagestreammappings";
    assert_eq!(app.post(mapping, same_ref(digest_n(6))).await.status, StatusCode::CREATED);
    assert_eq!(app.post(mapping, same_ref(digest_n(7))).await.status, StatusCode::CREATED);
    let s = app.get(&is_path("default", "app")).await.body;
    let items = |tag: &str| -> Vec<(String, String)> {
        let list = s["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == tag).unwrap();
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["image"].as_str().unwrap().to_string(), i["dockerImageReference"].as_str().unwrap().to_string()))
            .collect()
    };
    let mut want: Vec<(String, String)> = vec![(digest_n(7), "quay.io/org/app:latest".into())];
    want.extend((1..=5).rev().map(|n| (digest_n(n), format!("quay.io/org/app@{}", digest_n(n)))));
    assert_eq!(items("latest"), want, "the head changed in place, the five items behind it kept");
    assert_eq!(items("stable"), want, "the alias followed every move");
    // A full write (PUT of the stream as read) changes nothing and loses nothing.
    assert_eq!(app.put(&is_path("default", "app"), s.clone()).await.status, StatusCode::OK);
    assert_eq!(app.get(&is_path("default", "app")).await.body["status"], s["status"]);
}

#[tokio::test]
async fn istag_get_names_and_reference_policy() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}, "spec": {"tags": [docker_tag("pending", "quay.io/o/a:1")]}})).await;
    app.push("default", "app", "latest", &digest_n(1)).await;
    for bad in ["app", "app:", ":t", "app:a:b"] {
        let r = app.get(&istag_path("default", bad)).await;
        assert_eq!(
            (r.status, r.body["message"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, "ImageStreamTags must be retrieved with <name>:<tag>"),
            "{bad}"
        );
    }
    // The image form too answers upstream's one message (`nameAndTag`).
    let r = app.get(&istag_path("default", "app@sha256:1")).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "ImageStreamTags must be retrieved with <name>:<tag>")
    );
    let r = app.get(&istag_path("default", "app:pending")).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "imagestreamtags.image.openshift.io \"app:pending\" not found")
    );
    let r = app.get(&istag_path("default", "ghost:latest")).await;
    assert_eq!(r.body["message"], "imagestreams.image.openshift.io \"ghost\" not found");
    let r = app.get(&istag_path("default", "app:latest")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["kind"], "ImageStreamTag");
    assert_eq!(r.body["metadata"]["name"], "app:latest");
    assert_eq!(r.body["tag"], Value::Null, "pushed tags have no spec tag");
    assert_eq!(r.body["image"]["metadata"]["name"], digest_n(1));
    assert_eq!(r.body["image"]["dockerImageReference"], format!("quay.io/org/app@{}", digest_n(1)));
    // Reference policy Local hands out our registry's pull spec.
    let put = app
        .put(
            &istag_path("default", "app:latest"),
            json!({"metadata": {"name": "app:latest"}, "tag": {"name": "latest", "referencePolicy": {"type": "Local"}}}),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let r = app.get(&istag_path("default", "app:latest")).await;
    assert_eq!(r.body["image"]["dockerImageReference"], format!("registry.test:5000/default/app@{}", digest_n(1)));
    let list = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreamtags").await;
    let names: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|i| i["metadata"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["app:latest"], "spec-only tags are not listed");
}

#[tokio::test]
async fn istag_put_creates_stream_and_permanent_and_alias_tags() {
    let app = TestApp::new().await;
    // PUT on a missing stream creates it; a DockerImage tag gets generation 0 → stream generation.
    let r = app
        .put(&istag_path("default", "app:v1"), json!({"metadata": {"name": "app:v1"}, "tag": {"name": "ignored", "from": {"kind": "DockerImage", "name": "quay.io/o/a:1"}, "generation": 0}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["tag"]["name"], "v1");
    assert_eq!(r.body["tag"]["generation"], 1);
    app.push("default", "app", "build", &digest_n(7)).await;
    // Permanent tag by digest prefix from the same stream.
    let r = app
        .put(
            &istag_path("default", "app:prod"),
            json!({"metadata": {"name": "app:prod"}, "tag": {"from": {"kind": "ImageStreamImage", "name": "app@00000000"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["image"]["metadata"]["name"], digest_n(7));
    // An alias of prod.
    let r = app
        .put(
            &istag_path("default", "app:stable"),
            json!({"metadata": {"name": "app:stable"}, "tag": {"from": {"kind": "ImageStreamTag", "name": "prod"}}}),
        )
        .await;
    assert_eq!(r.body["image"]["metadata"]["name"], digest_n(7));
    // A cycle is refused and writes nothing.
    let r = app
        .put(
            &istag_path("default", "app:prod"),
            json!({"metadata": {"name": "app:prod"}, "tag": {"from": {"kind": "ImageStreamTag", "name": "stable"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.body["message"],
        "ImageStream.image.openshift.io \"app\" is invalid: spec.tags[prod].from.name: Invalid value: \"stable\": tracking tags may not form a cycle: prod -> stable -> prod"
    );
    let s = app.get(&is_path("default", "app")).await.body;
    let prod = s["spec"]["tags"].as_array().unwrap().iter().find(|t| t["name"] == "prod").unwrap().clone();
    assert_eq!(prod["from"]["kind"], "ImageStreamImage");
    // Unknown digest prefix and unknown stream are field errors.
    let r = app
        .put(
            &istag_path("default", "app:x"),
            json!({"metadata": {"name": "app:x"}, "tag": {"from": {"kind": "ImageStreamImage", "name": "app@ffff"}}}),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "ImageStream.image.openshift.io \"app\" is invalid: spec.tags[x].from.name: Invalid value: \"app@ffff\": error generating tag event: imagestreamimage.image.openshift.io \"ffff\" not found"
    );
    let r = app
        .put(
            &istag_path("default", "app:y"),
            json!({"metadata": {"name": "app:y"}, "tag": {"from": {"kind": "ImageStreamTag", "name": "base:1", "namespace": "default"}}}),
        )
        .await;
    assert_eq!(r.body["message"], "ImageStream.image.openshift.io \"app\" is invalid: spec.tags[y].from.name: Not found: \"base:1\"");
    // POST refuses an existing tag.
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreamtags",
            json!({"metadata": {"name": "app:prod"}, "tag": {"from": {"kind": "DockerImage", "name": "x"}}}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::CONFLICT, "imagestreamtag.image.openshift.io \"app:prod\" already exists")
    );
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreamtags",
            json!({"metadata": {"name": "app:new"}, "tag": {"from": {"kind": "DockerImage", "name": "quay.io/x/y:1"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[tokio::test]
async fn cross_namespace_tag_copies_the_source_head() {
    let app = TestApp::new().await;
    app.create_namespace("base").await;
    app.create_stream("base", json!({"metadata": {"name": "ruby"}})).await;
    app.push("base", "ruby", "3.3", &digest_n(33)).await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    let r = app
        .put(
            &istag_path("default", "app:ruby"),
            json!({"metadata": {"name": "app:ruby"}, "tag": {"from": {"kind": "ImageStreamTag", "name": "ruby:3.3", "namespace": "base"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["image"]["metadata"]["name"], digest_n(33));
    // Cross-stream sources are resolved once: a later push to the source does not follow.
    app.push("base", "ruby", "3.3", &digest_n(34)).await;
    assert_eq!(app.get(&istag_path("default", "app:ruby")).await.body["image"]["metadata"]["name"], digest_n(33));
}

#[tokio::test]
async fn istag_delete_removes_spec_and_history() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}, "spec": {"tags": [docker_tag("v1", "quay.io/o/a:1")]}})).await;
    app.push("default", "app", "v1", &digest_n(1)).await;
    let r = app.delete(&istag_path("default", "app:v1")).await;
    assert_eq!((r.status, r.body["status"].as_str().unwrap()), (StatusCode::OK, "Success"));
    let s = app.get(&is_path("default", "app")).await.body;
    assert!(s["spec"].get("tags").is_none() && s["status"].get("tags").is_none());
    assert_eq!(s["metadata"]["generation"], 2);
    let r = app.delete(&istag_path("default", "app:v1")).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "imagestreamtags.image.openshift.io \"app:v1\" not found")
    );
    // The image object survives.
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", digest_n(1))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn isimage_prefixes_ambiguity_and_errors() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    let a = "sha256:aaaa000000000000000000000000000000000000000000000000000000000001";
    let b = "sha256:aaab000000000000000000000000000000000000000000000000000000000002";
    app.push("default", "app", "one", a).await;
    app.push("default", "app", "two", b).await;
    let path = |id: &str| format!("/apis/image.openshift.io/v1/namespaces/default/imagestreamimages/app@{id}");
    let r = app.get(&path("aaaa")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["metadata"]["name"], "app@aaaa");
    assert_eq!(r.body["image"]["metadata"]["name"], a);
    assert_eq!(app.get(&path("sha256:aaab")).await.body["image"]["metadata"]["name"], b);
    let r = app.get(&path("aaa")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.body["message"],
        format!(
            "Operation cannot be fulfilled on imagestreamimage.image.openshift.io \"app@aaa\": multiple images match the prefix \"aaa\": {a}, {b}"
        )
    );
    let r = app.get(&path("ffff")).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::NOT_FOUND, "imagestreamimage.image.openshift.io \"app@ffff\" not found")
    );
    let r = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreamimages/app").await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "ImageStreamImages must be retrieved with <name>@<id>")
    );
}

#[tokio::test]
async fn health_endpoints() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz").await.text, "ok");
    assert_eq!(app.get("/readyz").await.status, StatusCode::OK);
}

/// Two PUTs racing with the same resourceVersion: exactly one wins, the other is a 409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_with_same_resource_version() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "app"}})).await.body;
    let mut a = created.clone();
    a["spec"]["tags"] = json!([docker_tag("a", "quay.io/o/a:1")]);
    let mut b = created.clone();
    b["spec"]["tags"] = json!([docker_tag("b", "quay.io/o/b:1")]);
    // Two tasks on two worker threads, each with its own handle on the router.
    let put = |body: Value| {
        let router = app.router.clone();
        tokio::spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::put(is_path("default", "app"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            router.oneshot(req).await.unwrap().status().as_u16()
        })
    };
    let (ta, tb) = (put(a), put(b));
    let mut codes = vec![ta.await.unwrap(), tb.await.unwrap()];
    codes.sort();
    assert_eq!(codes, vec![200, 409]);
    let s = app.get(&is_path("default", "app")).await.body;
    assert_eq!(s["spec"]["tags"].as_array().unwrap().len(), 1, "only the winner's tag was stored");
}

/// A DELETE with a `DeleteOptions` body (as kubectl sends it).
async fn delete_with(app: &TestApp, path: &str, options: Value) -> common::Reply {
    app.send("DELETE", path, Some(options), None).await
}

fn preconditions(uid: Option<&str>, rv: Option<&str>) -> Value {
    let mut p = json!({});
    if let Some(u) = uid {
        p["uid"] = json!(u);
    }
    if let Some(v) = rv {
        p["resourceVersion"] = json!(v);
    }
    json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": p, "propagationPolicy": "Background"})
}

/// Issue 14 point 6: preconditions that do not hold are a 409 in upstream's words and delete
/// nothing; ones that hold (with kubectl's other options) delete.
#[tokio::test]
async fn delete_preconditions_of_streams_and_tags() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    app.push("default", "app", "v1", &digest_n(1)).await;
    let s = app.get(&is_path("default", "app")).await.body;
    let (uid, rv) = (s["metadata"]["uid"].as_str().unwrap().to_string(), s["metadata"]["resourceVersion"].as_str().unwrap().to_string());

    let r = delete_with(&app, &is_path("default", "app"), preconditions(Some("not-the-uid"), None)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.body["reason"], "Conflict");
    assert_eq!(
        r.body["message"],
        format!(
            "Operation cannot be fulfilled on ImageStream.image.openshift.io \"app\": the UID in the precondition (not-the-uid) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
        )
    );
    let r = delete_with(&app, &is_path("default", "app"), preconditions(Some(&uid), Some("1"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(
        r.body["message"],
        format!(
            "Operation cannot be fulfilled on ImageStream.image.openshift.io \"app\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({rv}). The object might have been modified"
        )
    );

    // The tag: upstream's own words for its uid; the stream's resourceVersion is the tag's.
    let r = delete_with(&app, &istag_path("default", "app:v1"), preconditions(Some("not-the-uid"), None)).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (
            StatusCode::CONFLICT,
            "Operation cannot be fulfilled on imagestreamtags.image.openshift.io \"app:v1\": the UID precondition was not met"
        )
    );
    let r = delete_with(&app, &istag_path("default", "app:v1"), preconditions(None, Some("1"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(app.get(&istag_path("default", "app:v1")).await.status, StatusCode::OK, "the tag is still there");
    let after = app.get(&is_path("default", "app")).await.body;
    assert_eq!(after["metadata"]["resourceVersion"], rv, "nothing was written");

    // Options that are not honoured but accepted, as upstream accepts them.
    let mut ok = preconditions(Some(&uid), Some(&rv));
    ok["gracePeriodSeconds"] = json!(0);
    let r = delete_with(&app, &istag_path("default", "app:v1"), ok).await;
    assert_eq!((r.status, r.body["status"].as_str()), (StatusCode::OK, Some("Success")), "{}", r.text);
    let rv = app.get(&is_path("default", "app")).await.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let r = delete_with(&app, &is_path("default", "app"), preconditions(Some(&uid), Some(&rv))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.get(&is_path("default", "app")).await.status, StatusCode::NOT_FOUND);
}

/// Issue 14 point 6 for the core resources: namespaces (their registry's wording), secrets and
/// webhooks (the generic wording); options of a delete are validated, and a dry run in the body
/// is refused like one in the query.
#[tokio::test]
async fn delete_preconditions_of_namespaces_secrets_and_webhooks() {
    let app = TestApp::new().await;
    app.create_namespace("team").await;
    let ns = app.get("/api/v1/namespaces/team").await.body;
    let ns_uid = ns["metadata"]["uid"].as_str().unwrap().to_string();
    let r = delete_with(&app, "/api/v1/namespaces/team", preconditions(Some("x"), None)).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap().to_string()),
        (
            StatusCode::CONFLICT,
            format!(
                "Operation cannot be fulfilled on namespaces \"team\": Precondition failed: UID in precondition: x, UID in object meta: {ns_uid}"
            )
        )
    );
    let r = delete_with(&app, "/api/v1/namespaces/team", preconditions(None, Some("1"))).await;
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: "),
        "{}",
        r.text
    );
    assert_eq!(app.get("/api/v1/namespaces/team").await.status, StatusCode::OK);

    let secret = json!({"metadata": {"name": "reg"}, "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": "{\"auths\":{\"r.example.com\":{\"username\":\"u\",\"password\":\"p\"}}}"}});
    let created = app.post("/api/v1/namespaces/team/secrets", secret).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let rv = created.body["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    let r = delete_with(&app, "/api/v1/namespaces/team/secrets/reg", preconditions(None, Some("1"))).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap().to_string()),
        (
            StatusCode::CONFLICT,
            format!(
                "Operation cannot be fulfilled on Secret \"reg\": the ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({rv}). The object might have been modified"
            )
        )
    );
    assert_eq!(app.get("/api/v1/namespaces/team/secrets/reg").await.status, StatusCode::OK);

    let hook = json!({"metadata": {"name": "hook"}, "spec": {"url": "https://hooks.example.com/x", "secret": "0123456789abcdef", "tags": ["app:*"]}});
    let created = app.post("/api/v1/namespaces/team/webhooks", hook).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let r = delete_with(&app, "/api/v1/namespaces/team/webhooks/hook", preconditions(Some("x"), None)).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Operation cannot be fulfilled on Webhook \"hook\": the UID in the precondition (x)")
    );
    assert_eq!(app.get("/api/v1/namespaces/team/webhooks/hook").await.status, StatusCode::OK);

    let r = delete_with(&app, "/api/v1/namespaces/team/webhooks/hook", json!({"propagationPolicy": "Eventually"})).await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Eventually\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        )
    );
    let r = delete_with(&app, "/api/v1/namespaces/team", json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get("/api/v1/namespaces/team").await.status, StatusCode::OK, "a dry run deletes nothing");
    let r = delete_with(&app, "/api/v1/namespaces/team", preconditions(Some(&ns_uid), None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Issue 14 point 7: tag annotations that differ from the object's are refused (create and
/// update), and a tag-less PUT of a tag that is only in status is a 400; nothing is stored.
#[tokio::test]
async fn istag_writes_refuse_instead_of_dropping() {
    let app = TestApp::new().await;
    let body = |name: &str, meta: Value, tag_annotations: Value| {
        json!({"metadata": {"name": name, "annotations": meta},
               "tag": {"from": {"kind": "DockerImage", "name": "quay.io/o/a:1"}, "annotations": tag_annotations}})
    };
    let invalid =
        "tag.annotations: Invalid value: \"<map>\": tag annotations must not be provided or must be equal to the object meta annotations";
    let r = app
        .post("/apis/image.openshift.io/v1/namespaces/default/imagestreamtags", body("app:v1", json!({"a": "1"}), json!({"b": "2"})))
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap().to_string()),
        (StatusCode::UNPROCESSABLE_ENTITY, format!("ImageStreamTag.image.openshift.io \"app:v1\" is invalid: {invalid}"))
    );
    assert_eq!(r.body["details"]["causes"][0]["field"], "tag.annotations");
    assert_eq!(app.get(&is_path("default", "app")).await.status, StatusCode::NOT_FOUND, "nothing was created");
    // Equal (or absent) tag annotations are fine, and stored.
    let r = app.put(&istag_path("default", "app:v1"), body("app:v1", json!({"a": "1"}), json!({"a": "1"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.put(&istag_path("default", "app:v1"), body("app:v1", json!({"a": "1"}), json!({"a": "2"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let s = app.get(&is_path("default", "app")).await.body;
    assert_eq!(s["spec"]["tags"][0]["annotations"], json!({"a": "1"}), "the refused update stored nothing");

    // The tag reference is validated as the ImageStreamTag's own field `tag`.
    let mut bad = body("app:v1", json!({"a": "1"}), Value::Null);
    bad["tag"]["from"]["kind"] = json!("Pod");
    let r = app.put(&istag_path("default", "app:v1"), bad).await;
    assert_eq!(
        r.body["message"],
        "ImageStreamTag.image.openshift.io \"app:v1\" is invalid: tag.from.kind: Required value: valid values are 'DockerImage', 'ImageStreamImage', 'ImageStreamTag'"
    );

    app.push("default", "app", "pushed", &digest_n(7)).await;
    let rv = app.get(&is_path("default", "app")).await.body["metadata"]["resourceVersion"].clone();
    let r = app
        .put(&istag_path("default", "app:pushed"), json!({"metadata": {"name": "app:pushed", "annotations": {"x": "y"}}, "tag": null}))
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::BAD_REQUEST, "imagestreamtag pushed is not a spec tag in imagestream default/app, cannot be updated")
    );
    assert_eq!(app.get(&is_path("default", "app")).await.body["metadata"]["resourceVersion"], rv);
}

/// Issue 14 point 8: a mapping names its tag; import validation speaks upstream's field paths
/// and words; a list-only collection answers `?watch` with a 405 Status.
#[tokio::test]
async fn mapping_import_and_watch_validation_as_upstream() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "app"}})).await;
    let r = app
        .post(
            "/apis/image.openshift.io/v1/namespaces/default/imagestreammappings",
            json!({"metadata": {"name": "app"}, "image": {"metadata": {"name": digest_n(1)}, "dockerImageReference": format!("quay.io/o/app@{}", digest_n(1))}}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["message"].as_str().unwrap()),
        (StatusCode::UNPROCESSABLE_ENTITY, "ImageStreamMapping.image.openshift.io \"app\" is invalid: tag: Required value")
    );
    assert_eq!(app.get(&istag_path("default", "app:latest")).await.status, StatusCode::NOT_FOUND, "no tag was moved");
    let r = app
        .post("/apis/image.openshift.io/v1/namespaces/default/imagestreammappings", json!({"metadata": {"name": "app"}, "image": {}}))
        .await;
    assert_eq!(
        r.body["message"],
        "ImageStreamMapping.image.openshift.io \"app\" is invalid: [tag: Required value, image.metadata.name: Required value: name or generateName is required]"
    );

    let isi = "/apis/image.openshift.io/v1/namespaces/default/imagestreamimports";
    let r = app.post(isi, json!({"metadata": {"name": "app"}, "spec": {"import": false}})).await;
    assert_eq!(
        r.body["message"],
        "ImageStreamImport.image.openshift.io \"app\" is invalid: spec.images: Invalid value: \"null\": you must specify at least one image or a repository import"
    );
    let r = app
        .post(
            isi,
            json!({"metadata": {"name": "app"}, "spec": {"import": false, "images": [
                {"from": {"kind": "DockerImage", "name": "quay.io/o/a:1"}, "to": {"name": ""}, "importPolicy": {"importMode": "Fancy"}}
            ]}}),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "ImageStreamImport.image.openshift.io \"app\" is invalid: [spec.images[0].to.name: Invalid value: \"\": the name of the target tag must be specified, spec.images[0].importPolicy.importMode: Invalid value: \"Fancy\": invalid import mode, valid modes are '', 'Legacy', 'PreserveOriginal']"
    );

    for (path, kind) in [
        ("/apis/image.openshift.io/v1/namespaces/default/imagestreamtags?watch=1", "imagestreamtags.image.openshift.io"),
        ("/apis/image.openshift.io/v1/images?watch=true", "images.image.openshift.io"),
        ("/api/v1/namespaces?watch=1", "namespaces"),
        ("/api/v1/namespaces/default/secrets?watch=1", "secrets"),
        ("/api/v1/namespaces/default/webhooks?watch=1", "webhooks"),
    ] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{path}: {}", r.text);
        assert_eq!(r.body["kind"], "Status");
        assert_eq!(r.body["reason"], "MethodNotAllowed");
        assert_eq!(r.body["message"], format!("watch is not supported on resources of kind \"{kind}\""));
    }
    assert_eq!(app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreamtags?watch=0").await.status, StatusCode::OK);
}

/// The stream page's bulk delete (issue 17 point 3): several tags in one transaction, one new
/// resourceVersion; a missing tag refuses the whole request and changes nothing.
#[tokio::test]
async fn several_tags_are_deleted_at_once_or_not_at_all() {
    use server::service::Caller;
    let app = TestApp::new().await;
    let tags: Vec<Value> = ["a", "b", "c"].iter().map(|t| docker_tag(t, &format!("quay.io/o/a:{t}"))).collect();
    assert_eq!(
        app.create_stream("default", json!({"metadata": {"name": "app"}, "spec": {"tags": tags}})).await.status,
        StatusCode::CREATED
    );
    let who = Caller::system();
    let before = app.service.get_stream(&who, "default", "app").await.unwrap();

    let refused = app.service.delete_istags(&who, "default", "app", &["a".into(), "nope".into()]).await.unwrap_err();
    assert_eq!((refused.code(), refused.message()), (404, "imagestreamtags.image.openshift.io \"app:nope\" not found"));
    let unchanged = app.service.get_stream(&who, "default", "app").await.unwrap();
    assert_eq!(unchanged.metadata.resource_version, before.metadata.resource_version, "nothing written");
    assert_eq!(unchanged.spec.tags.len(), 3);
    assert_eq!(app.service.delete_istags(&who, "default", "app", &[]).await.unwrap_err().code(), 400);

    assert_eq!(app.service.delete_istags(&who, "default", "app", &["c".into(), "a".into(), "a".into()]).await.unwrap(), 2);
    let after = app.service.get_stream(&who, "default", "app").await.unwrap();
    assert_eq!(after.spec.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(after.metadata.generation, Some(before.metadata.generation.unwrap() + 1), "one generation for the whole change");
    let rv = |s: &app::model::ImageStream| s.metadata.resource_version.clone().unwrap().parse::<i64>().unwrap();
    assert_eq!(rv(&after), rv(&before) + 1, "one resourceVersion for the whole change");
}

/// A patch without a resourceVersion never fails for other writers (a helper's attack: with four
/// pushers to the same stream, 33 of 40 `kubectl label` patches failed with 409 after five
/// re-applications). Each is applied to the stream as the writing transaction reads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpinned_patches_never_conflict_with_concurrent_pushes() {
    let app = std::sync::Arc::new(TestApp::new().await);
    app.create_stream("default", json!({"metadata": {"name": "busy"}})).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pushers: Vec<_> = (0..4u64)
        .map(|p| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = app.push("default", "busy", &format!("p{p}"), &digest_n(p * 100_000 + n)).await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                    n += 1;
                }
                n
            })
        })
        .collect();
    for i in 0..30 {
        let r =
            app.send_with("PATCH", &is_path("default", "busy"), Some(json!({"metadata": {"labels": {"round": i.to_string()}}})), &[]).await;
        assert_eq!(r.status, StatusCode::OK, "patch {i}: {}", r.text);
        assert_eq!(r.body["metadata"]["labels"]["round"], i.to_string());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut pushes = 0;
    for p in pushers {
        pushes += p.await.unwrap();
    }
    assert!(pushes > 0, "the pushers ran");
    // A pinned patch with a stale version still gets 409.
    let r = app
        .send_with("PATCH", &is_path("default", "busy"), Some(json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}})), &[])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}

/// What a helper's attack got through on a stream's metadata: labels no selector can name,
/// annotations without bound, another kind or version, and another uid on an update. Each is
/// refused as the Kubernetes API server refuses it.
#[tokio::test]
async fn stream_metadata_is_checked_as_the_api_server_checks_it() {
    let app = TestApp::new().await;
    let created = app.create_stream("default", json!({"metadata": {"name": "meta", "labels": {"team": "blue"}}})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    for (labels, why) in [
        (json!({"Bad Key": "v"}), "name part must consist of alphanumeric characters"),
        (json!({"": "v"}), "name part must consist of alphanumeric characters"),
        (json!({"ok": "has space"}), "a valid label must be an empty string"),
        (json!({"ok": "x".repeat(64)}), "a valid label must be an empty string"),
        (json!({"example.com/ok": ""}), ""),
    ] {
        let r = app.send_with("PATCH", &is_path("default", "meta"), Some(json!({"metadata": {"labels": labels}})), &[]).await;
        if why.is_empty() {
            assert_eq!(r.status, StatusCode::OK, "{labels}: {}", r.text);
        } else {
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{labels}: {}", r.text);
            assert_eq!(r.body["details"]["causes"][0]["field"], "metadata.labels", "{}", r.text);
            assert!(r.text.contains(why), "{labels}: {}", r.text);
        }
    }
    let r = app
        .send_with("PATCH", &is_path("default", "meta"), Some(json!({"metadata": {"annotations": {"big": "x".repeat(300 * 1024)}}})), &[])
        .await;
    assert!(matches!(r.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE), "{}", r.status);
    if r.status == StatusCode::UNPROCESSABLE_ENTITY {
        assert!(r.text.contains("metadata.annotations: Too long: must have at most 262144 bytes"), "{}", r.text);
    }
    // Another kind or version is refused, and changes nothing.
    let before = app.get(&is_path("default", "meta")).await.body;
    for body in [json!({"kind": "Secret"}), json!({"apiVersion": "v1"})] {
        let r = app.send_with("PATCH", &is_path("default", "meta"), Some(body.clone()), &[]).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
    }
    let after = app.get(&is_path("default", "meta")).await.body;
    assert_eq!(after["metadata"]["resourceVersion"], before["metadata"]["resourceVersion"], "nothing written");
    assert_eq!(after["kind"], "ImageStream");
    // Another uid on an update is refused.
    let mut other = after.clone();
    other["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    let r = app.send_with("PUT", &is_path("default", "meta"), Some(other), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let message = r.body["message"].as_str().unwrap_or_default();
    assert!(message.ends_with("metadata.uid: Invalid value: \"00000000-0000-0000-0000-000000000000\": field is immutable"), "{}", r.text);
}

/// Labels and annotations are checked wherever they are written: a mapped image's, an image
/// stream tag's, a spec tag's (a helper's re-check found these three open).
#[tokio::test]
async fn labels_and_annotations_are_checked_on_images_tags_and_spec_tags() {
    let app = TestApp::new().await;
    app.create_stream("default", json!({"metadata": {"name": "lab"}})).await;
    let mapping = json!({"metadata": {"name": "lab"}, "tag": "v1",
        "image": {"metadata": {"name": digest_n(77), "labels": {"Bad Key": "v"}}, "dockerImageReference": format!("quay.io/a/b@{}", digest_n(77))}});
    let r = app.post("/apis/image.openshift.io/v1/namespaces/default/imagestreammappings", mapping).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"]["causes"][0]["field"], "image.metadata.labels", "{}", r.text);
    let istag = json!({"metadata": {"name": "lab:v2", "annotations": {"not a key": "x"}},
        "tag": {"name": "v2", "from": {"kind": "DockerImage", "name": "quay.io/a/b:2"}}});
    let r = app.send_with("PUT", &istag_path("default", "lab:v2"), Some(istag), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["details"]["causes"][0]["field"], "metadata.annotations", "{}", r.text);
    let big = json!({"spec": {"tags": [{"name": "v3", "from": {"kind": "DockerImage", "name": "quay.io/a/b:3"},
        "annotations": {"a": "x".repeat(260 * 1024)}}]}});
    let r = app
        .send_with(
            "PATCH",
            &is_path("default", "lab"),
            Some(big),
            &[("content-type".into(), "application/strategic-merge-patch+json".into())],
        )
        .await;
    assert!(matches!(r.status, StatusCode::UNPROCESSABLE_ENTITY | StatusCode::PAYLOAD_TOO_LARGE), "{}", r.text);
    if r.status == StatusCode::UNPROCESSABLE_ENTITY {
        assert_eq!(r.body["details"]["causes"][0]["field"], "spec.tags[v3].annotations", "{}", r.text);
    }
}
