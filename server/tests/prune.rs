//! `prune images` through the API, in process on the service clock: images pushed to the
//! integrated registry day after day, the decisions of a dry run (each with its reason), the
//! keep mark, the "pulled recently" rule fed by real pulls through `/v2`, a real prune (history
//! then Images), and who may prune what.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use common::prune::{DAY, decisions, push_daily};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

fn image_decision(report: &Value, digest: &str) -> String {
    let i = report["images"].as_array().unwrap().iter().find(|i| i["digest"] == digest).unwrap();
    format!("{} {}", if i["decision"]["keep"].as_bool().unwrap() { "keep" } else { "delete" }, i["decision"]["reason"].as_str().unwrap())
}

#[tokio::test]
async fn prune_explains_every_decision_and_removes_what_it_said() {
    let app = TestApp::new().await;
    let latest = push_daily(&app, "app", "latest", 1, 6).await;
    let pinned = push_daily(&app, "app", "pinned", 10, 5).await;
    // A keep mark on `pinned`.
    let r = app
        .send_with(
            "PATCH",
            "/apis/image.openshift.io/v1/namespaces/default/imagestreams/app",
            Some(json!({"metadata": {"annotations": {"imagestreams.io/keep-tags": "pinned"}}})),
            &[("content-type".into(), "application/merge-patch+json".into())],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Revision 5 of latest (the 2nd oldest) was pulled through the registry two days ago.
    app.advance(DAY);
    let pulled = &latest[1];
    assert_eq!(app.get(&format!("/v2/default/app/manifests/{pulled}")).await.status, 200);
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    app.advance(2 * DAY);

    let dry = app.post("/api/v1/prune/images", json!({})).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let report = dry.body;
    assert_eq!(report["dryRun"], true);
    assert_eq!(
        decisions(&report, "app"),
        vec![
            "latest#0 keep head of tag latest",
            "latest#1 keep revision 2 of 3 kept",
            "latest#2 keep revision 3 of 3 kept",
            "latest#3 delete revision 4 beyond the newest 3",
            "latest#4 keep pulled 2 days ago",
            "latest#5 delete revision 6 beyond the newest 3",
            "pinned#0 keep head of tag pinned",
            "pinned#1 keep kept mark",
            "pinned#2 keep kept mark",
            "pinned#3 keep kept mark",
            "pinned#4 keep kept mark",
        ]
    );
    assert_eq!(image_decision(&report, &latest[0]), "delete no history item refers to it");
    assert_eq!(image_decision(&report, &latest[2]), "delete no history item refers to it");
    assert_eq!(image_decision(&report, &latest[5]), "keep in the history of default/app:latest");
    assert_eq!(image_decision(&report, &pinned[0]), "keep in the history of default/app:pinned");
    assert_eq!(report["summary"], "Summary: deleted 2 image object(s), deleted 2 image stream tag item(s), updated 1 image stream(s)");
    // A dry run changes nothing.
    let stream = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams/app").await.body;
    assert_eq!(stream["status"]["tags"][0]["items"].as_array().unwrap().len(), 6);

    // Fewer revisions asked: more goes; a negative count is refused with upstream's words.
    let r = app.post("/api/v1/prune/images", json!({"keepTagRevisions": -1})).await;
    assert_eq!(r.status, 400);
    assert!(r.text.contains("--keep-tag-revisions must be greater than or equal to 0"), "{}", r.text);

    // The real prune does what the dry run said.
    let real = app.post("/api/v1/prune/images", json!({"confirm": true})).await;
    assert_eq!(real.status, 200, "{}", real.text);
    assert_eq!(real.body["dryRun"], false);
    assert_eq!(real.body["summary"], report["summary"]);
    let stream = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams/app").await.body;
    let kept: Vec<&str> = stream["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "latest").unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(kept, vec![latest[5].as_str(), latest[4].as_str(), latest[3].as_str(), latest[1].as_str()]);
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", latest[0])).await.status, 404);
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", latest[1])).await.status, 200);
    // Nothing left to do.
    let again = app.post("/api/v1/prune/images", json!({"confirm": true})).await;
    assert_eq!(again.body["summary"], "Summary: deleted 0 objects");
    // A new head after the prune (whose deletes left gaps in the stored order) goes in front.
    let newest = push_daily(&app, "app", "latest", 20, 1).await;
    let stream = app.get("/apis/image.openshift.io/v1/namespaces/default/imagestreams/app").await.body;
    let order: Vec<&str> = stream["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "latest").unwrap()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(order, vec![newest[0].as_str(), latest[5].as_str(), latest[4].as_str(), latest[3].as_str(), latest[1].as_str()]);
}

#[tokio::test]
async fn a_young_stream_and_young_items_stay_and_a_namespace_prune_keeps_images() {
    let app = TestApp::new().await;
    let digests = push_daily(&app, "app", "latest", 1, 5).await;
    // Keep everything younger than 10 days: the stream itself is 5 days old.
    let r = app.post("/api/v1/prune/images", json!({"keepYoungerThanSeconds": 10 * DAY})).await;
    assert!(decisions(&r.body, "app").iter().all(|d| d.ends_with("keep stream younger than 10d")), "{:?}", decisions(&r.body, "app"));
    // One namespace: history only, no Image decisions.
    let r = app
        .post("/api/v1/namespaces/default/prune/images", json!({"keepTagRevisions": 1, "keepYoungerThanSeconds": 0, "confirm": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["images"], json!([]));
    assert_eq!(r.body["summary"], "Summary: deleted 4 image stream tag item(s), updated 1 image stream(s)");
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", digests[0])).await.status, 200);
}

/// A namespace with no streams prunes to an empty report (it crashed the answer once), with
/// and without progress lines; a namespace that does not exist is 404, for everyone.
#[tokio::test]
async fn an_empty_namespace_prunes_to_nothing_and_a_missing_one_is_not_found() {
    let app = TestApp::new().await;
    assert!(app.post("/api/v1/namespaces", json!({"metadata": {"name": "empty"}})).await.status.is_success());
    let r = app.post("/api/v1/namespaces/empty/prune/images", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["summary"], "Summary: deleted 0 objects");
    let r = app.post("/api/v1/namespaces/empty/prune/images?progress=true", json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let last: Value = serde_json::from_str(r.text.lines().last().unwrap()).unwrap();
    assert_eq!(last["report"]["summary"], "Summary: deleted 0 objects", "{}", r.text);
    let r = app.post("/api/v1/namespaces/nope/prune/images", json!({})).await;
    assert_eq!((r.status.as_u16(), r.body["reason"].as_str()), (404, Some("NotFound")), "{}", r.text);
}

/// A stream of `tags` tags with `history` items each, its digests unique to `seed` (no Image
/// objects: every item but the heads names a missing image).
fn bulk_stream(ns: &str, name: &str, tags: usize, history: usize, seed: usize) -> app::model::ImageStream {
    use app::model::*;
    let mut s = ImageStream::new(ns, name);
    s.metadata.uid = Some(format!("bulk-{seed}"));
    s.metadata.generation = Some(1);
    s.metadata.creation_timestamp = Some("2020-01-01T00:00:00Z".into());
    s.metadata.resource_version = Some("1".into());
    for t in 0..tags {
        let items = (0..history)
            .map(|h| {
                let d = format!("sha256:{:064x}", seed * 1000 + t * 100 + h);
                TagEvent {
                    created: format!("2020-01-{:02}T00:00:00Z", 28 - h),
                    docker_image_reference: format!("example.com/{ns}/{name}@{d}"),
                    image: d,
                    generation: 1,
                }
            })
            .collect();
        s.status.tags.push(NamedTagEventList { tag: format!("v{t}"), items: Some(items), conditions: vec![] });
    }
    s.normalize_tag_lists();
    s
}

/// More streams than the prune reads at once (it walks them in batches and writes its answer
/// as it goes): the JSON report, the NDJSON lines and the real prune agree, and the streams
/// come out with their heads and a new resourceVersion.
#[tokio::test]
async fn a_prune_larger_than_a_batch_streams_its_report() {
    let app = TestApp::new().await;
    let n = 600;
    let streams = (0..n).map(|i| bulk_stream("bulk", &format!("app-{i:04}"), 2, 4, i));
    app.service.bulk_load(&["bulk".to_string()], streams, 100).await.unwrap();
    let before = app.get("/apis/image.openshift.io/v1/namespaces/bulk/imagestreams/app-0599").await.body;

    let dry = app.post("/api/v1/prune/images", json!({"keepYoungerThanSeconds": 0})).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    let listed = dry.body["streams"].as_array().unwrap();
    assert_eq!(listed.len(), n);
    // In order, every item decided: heads kept, the rest name missing images.
    let names: Vec<&str> = listed.iter().map(|s| s["name"].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(
        decisions(&dry.body, "app-0321"),
        vec![
            "v0#0 keep head of tag v0",
            "v0#1 delete its image is missing",
            "v0#2 delete its image is missing",
            "v0#3 delete its image is missing",
            "v1#0 keep head of tag v1",
            "v1#1 delete its image is missing",
            "v1#2 delete its image is missing",
            "v1#3 delete its image is missing",
        ]
    );
    let summary = format!("Summary: deleted {} image stream tag item(s), updated {n} image stream(s)", n * 6);
    assert_eq!(dry.body["summary"], summary);
    assert_eq!(dry.body["deletedItems"], n * 6);

    // The same as lines: progress, a line per stream, then the counts without the lists.
    let lines = app.post("/api/v1/prune/images?progress=true", json!({"keepYoungerThanSeconds": 0})).await;
    assert_eq!(lines.status, 200);
    let lines: Vec<Value> = lines.text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let streamed: Vec<&Value> = lines.iter().filter_map(|l| l.get("stream")).collect();
    assert_eq!(streamed.len(), n);
    assert_eq!(streamed[321], &listed[321]);
    let progress: Vec<&Value> = lines.iter().filter_map(|l| l.get("progress")).filter(|p| p["phase"] == "history").collect();
    assert!(progress.len() >= 3, "{progress:?}");
    assert_eq!(progress.last().unwrap()["done"], n);
    assert_eq!(progress.last().unwrap()["total"], n);
    let last = lines.last().unwrap();
    assert_eq!(last["report"]["summary"], summary);
    assert_eq!(last["report"]["streams"], json!([]));

    let real = app.post("/api/v1/prune/images", json!({"keepYoungerThanSeconds": 0, "confirm": true})).await;
    assert_eq!(real.status, 200, "{}", real.text);
    assert_eq!(real.body["summary"], summary);
    assert_eq!(real.body["streams"].as_array().unwrap().len(), n);
    let after = app.get("/apis/image.openshift.io/v1/namespaces/bulk/imagestreams/app-0599").await.body;
    let heads: Vec<&Value> = after["status"]["tags"].as_array().unwrap().iter().map(|t| &t["items"]).collect();
    assert_eq!(heads.len(), 2);
    assert!(heads.iter().all(|items| items.as_array().unwrap().len() == 1), "{heads:?}");
    assert_eq!(after["status"]["tags"][0]["items"][0], before["status"]["tags"][0]["items"][0]);
    let rv = |s: &Value| s["metadata"]["resourceVersion"].as_str().unwrap().parse::<i64>().unwrap();
    assert!(rv(&after) > rv(&before));
    // Watchers were told: the stream's next event after the old version is the prune's
    // MODIFIED, carrying what is now stored.
    let watch = format!(
        "/apis/image.openshift.io/v1/namespaces/bulk/imagestreams?watch=true&resourceVersion={}&fieldSelector=metadata.name%3Dapp-0599",
        rv(&before)
    );
    let resp = app.router.clone().oneshot(Request::get(watch).body(Body::empty()).unwrap()).await.unwrap();
    let mut body = resp.into_body();
    let mut buf = vec![];
    while !buf.contains(&b'\n') {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame()).await.unwrap().unwrap().unwrap();
        buf.extend_from_slice(&frame.into_data().unwrap_or_default());
    }
    let line = buf.split(|b| *b == b'\n').next().unwrap();
    let event: Value = serde_json::from_slice(line).unwrap();
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"], after);
    let again = app.post("/api/v1/prune/images", json!({"keepYoungerThanSeconds": 0, "confirm": true})).await;
    assert_eq!(again.body["summary"], "Summary: deleted 0 objects");
}

/// The browser's whole-server preview runs in the background: its progress moves through the
/// phases, and what it keeps for the page is bounded (the first streams that lose items, a few
/// that do not), while the summary counts everything.
#[tokio::test]
async fn the_pages_prune_preview_runs_in_the_background_and_keeps_a_bounded_report() {
    use server::service::Caller;
    let app = TestApp::new().await;
    let n = 300;
    let streams = (0..n).map(|i| bulk_stream("bulk", &format!("app-{i:04}"), 2, if i % 2 == 0 { 4 } else { 1 }, i));
    app.service.bulk_load(&["bulk".to_string()], streams, 100).await.unwrap();
    let opts = app::domain::prune::PruneOptions { keep_younger_than_seconds: 0, confirm: true, ..Default::default() };
    let id = app.service.start_prune_job(Caller::system(), opts).unwrap();
    let mut seen = vec![];
    let report = loop {
        let job = app.service.prune_job(&Caller::system(), &id).unwrap();
        seen.push((job.phase, job.done, job.total));
        if let Some(r) = job.result {
            break r.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    };
    // A preview, whatever the options said: nothing changed.
    assert!(report.dry_run);
    assert_eq!(report.updated_streams, n / 2);
    assert_eq!(report.deleted_items, n / 2 * 6);
    let losing = report.streams.iter().filter(|s| s.deleted() > 0).count();
    assert_eq!(losing, app::api::PRUNE_PREVIEW_LISTED);
    assert_eq!(report.streams.len() - losing, app::api::PRUNE_PREVIEW_LISTED / 5);
    let last = app.service.prune_job(&Caller::system(), &id).unwrap();
    assert_eq!((last.phase, last.done, last.total), ("images", 0, 0), "{seen:?}");
    let stream = app.get("/apis/image.openshift.io/v1/namespaces/bulk/imagestreams/app-0000").await.body;
    assert_eq!(stream["status"]["tags"][0]["items"].as_array().unwrap().len(), 4);
    // Someone else's job is not theirs to read.
    let other = Caller { user: Some("mallory".into()), ..Default::default() };
    assert!(app.service.prune_job(&other, &id).is_err());
}

/// The CLI against the real binary: a namespace admin prunes their namespace (dry run notice on
/// stderr, the decision table and upstream's lines on stdout) but not the server.
#[test]
fn prune_images_from_the_command_line() {
    use common::portal::Portal;
    let portal = Portal::start(&["--allowed-registry", "127.0.0.1:1"], &[("IMAGESTREAMS_ADMIN_PASSWORD", "admin-password-1")]);
    let admin = portal.scratch("admin");
    let nina = portal.scratch("nina");
    let run = |cfg: &std::path::Path, args: &[&str]| {
        let out = portal.cli(cfg, args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let ok = |cfg: &std::path::Path, args: &[&str]| {
        let (code, out, err) = run(cfg, args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        (out, err)
    };
    ok(&admin, &["login", "-u", "admin", "-p", "admin-password-1"]);
    ok(&admin, &["create", "namespace", "team"]);
    ok(&admin, &["create", "user", "nina", "--password", "nina-password-1"]);
    ok(&admin, &["policy", "add-role-to-user", "admin", "nina", "-n", "team"]);
    ok(&admin, &["tag", "--reference", "quay.io/x/app:1", "app:v1", "-n", "team"]);
    ok(&nina, &["login", "-u", "nina", "-p", "nina-password-1"]);

    let (code, _, err) = run(&nina, &["prune", "images"]);
    assert_eq!(code, 1);
    assert!(err.contains("pruning the whole server needs a server administrator"), "{err}");
    let (out, err) = ok(&nina, &["prune", "images", "-n", "team", "--keep-younger-than", "0"]);
    assert_eq!(err, "Dry run enabled - no modifications will be made. Add --confirm to remove images\n");
    assert!(out.starts_with("TAG "), "{out}");
    assert!(out.contains("team/app:v1"), "{out}");
    assert!(out.contains("head of tag v1"), "{out}");
    assert!(out.ends_with("Summary: deleted 0 objects\n"), "{out}");
    let (code, _, err) = run(&nina, &["prune", "images", "-n", "team", "--keep-tag-revisions", "-1"]);
    assert_eq!((code, err.as_str()), (1, "error: --keep-tag-revisions must be greater than or equal to 0\n"));
    let (out, _) = ok(&admin, &["prune", "images", "-o", "json"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["dryRun"], true);
    assert!(report["streams"].as_array().unwrap().iter().any(|s| s["namespace"] == "team"));
}
