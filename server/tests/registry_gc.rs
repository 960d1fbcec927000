//! Online garbage collection of the registry's blob store (issue 16 point 5), in process on the
//! service clock with the filesystem blob store: what goes (manifests deleted by digest and
//! their blobs, uploads no manifest ever named, once older than the grace period) and what stays
//! (everything a history item, a repository or an Image still names); dry runs; the record and
//! the audit entry; the scheduled worker; a blob a client was just told exists (Quay's window);
//! and distribution#2881's race — a push uploading blob B while a collection runs, then the
//! manifest naming B — which here ends either in a complete image or in MANIFEST_BLOB_UNKNOWN
//! with nothing committed, never in a manifest over a deleted blob.

mod common;

use common::TestApp;
use common::oci::{call, config, image_manifest, object_path, pull_verified, push_blob, put_manifest, sha};
use serde_json::json;
use server::service::Caller;
use server::service::registry::{GcReport, GcTrigger};
use std::time::Duration;

const GRACE: Duration = Duration::from_secs(60);

async fn collect(app: &TestApp, dry_run: bool) -> GcReport {
    app.service.collect_garbage(&Caller::system(), GcTrigger::Api, dry_run).await.unwrap()
}

fn deleted(report: &GcReport, kind: &str) -> Vec<String> {
    let mut v: Vec<String> = report.deleted.iter().filter(|i| i.kind == kind).map(|i| i.digest.clone()).collect();
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Pushes an image (config + layers) to `repo:reference`; asserts it was taken.
async fn push_image(app: &TestApp, repo: &str, reference: &str, cfg: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    for blob in std::iter::once(cfg).chain(layers.iter().copied()) {
        let a = push_blob(&app.router, repo, blob).await;
        assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    }
    let m = image_manifest(cfg, layers);
    let a = put_manifest(&app.router, repo, reference, &m).await;
    assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
    m
}

#[tokio::test]
async fn collection_deletes_only_what_nothing_refers_to_once_older_than_the_grace_period() {
    let app = TestApp::with_registry_on_disk(GRACE).await;
    let dir = app.blobs_dir();
    let base = vec![1u8; 40_000];
    // Two images through one tag (a tag move), sharing a base layer.
    let (ca, la) = (config("a"), b"layer a".to_vec());
    let ma = push_image(&app, "default/app", "v1", &ca, &[&base, &la]).await;
    let (cb, lb) = (config("b"), b"layer b".to_vec());
    let mb = push_image(&app, "default/app", "v1", &cb, &[&base, &lb]).await;
    // An artifact pushed by digest, then deleted by digest: it and its blobs are garbage.
    let (cx, lx) = (config("x"), b"layer x, deleted with its manifest".to_vec());
    let mx = image_manifest(&cx, &[&lx]);
    push_image(&app, "default/app", &sha(&mx), &cx, &[&lx]).await;
    let a = call(&app.router, "DELETE", &format!("/v2/default/app/manifests/{}", sha(&mx)), &[], vec![]).await;
    assert_eq!(a.status, 202);
    // An upload no manifest ever named (an interrupted push).
    let abandoned = b"uploaded, never named".to_vec();
    assert_eq!(push_blob(&app.router, "default/app", &abandoned).await.status, 201);

    // Everything is younger than the grace period: nothing goes, not even in a dry run.
    let r = collect(&app, true).await;
    assert_eq!((r.manifests_deleted, r.blobs_deleted), (0, 0), "{r:?}");

    app.advance(GRACE.as_secs() as i64 + 1);
    // Uploaded just now: young, spared.
    let young = b"uploaded after the others".to_vec();
    assert_eq!(push_blob(&app.router, "default/app", &young).await.status, 201);

    let garbage_blobs = sorted(vec![sha(&mx), sha(&cx), sha(&lx), sha(&abandoned)]);
    let garbage_bytes = (mx.len() + cx.len() + lx.len() + abandoned.len()) as i64;
    let dry = collect(&app, true).await;
    assert_eq!(deleted(&dry, "manifest"), vec![sha(&mx)]);
    assert_eq!(deleted(&dry, "blob"), garbage_blobs);
    assert_eq!(dry.bytes_freed, garbage_bytes);
    assert_eq!(dry.id, 0, "a dry run is not recorded");
    assert!(object_path(&dir, &sha(&lx)).exists(), "a dry run deletes nothing");

    let run = collect(&app, false).await;
    assert_eq!(deleted(&run, "manifest"), vec![sha(&mx)]);
    assert_eq!(deleted(&run, "blob"), garbage_blobs);
    assert_eq!((run.bytes_freed, run.kept_in_use, run.failures), (garbage_bytes, 0, 0));
    for d in &garbage_blobs {
        assert!(!object_path(&dir, d).exists(), "{d} is deleted from the store");
    }
    for d in [sha(&ma), sha(&mb), sha(&ca), sha(&cb), sha(&la), sha(&lb), sha(&base), sha(&young)] {
        assert!(object_path(&dir, &d).exists(), "{d} stays");
    }
    // What stays pulls completely: the tag's head, the older history item, by digest.
    pull_verified(&app.router, "default/app", "v1").await.unwrap();
    pull_verified(&app.router, "default/app", &sha(&ma)).await.unwrap();
    let a = call(&app.router, "GET", &format!("/v2/default/app/blobs/{}", sha(&abandoned)), &[], vec![]).await;
    assert_eq!((a.status, a.code()), (404, "BLOB_UNKNOWN".to_string()));

    // The run is recorded and audited; the API lists it.
    let runs = app.get("/api/v1/registry/garbage-collection").await;
    assert_eq!(runs.status, 200, "{}", runs.text);
    assert_eq!(runs.body[0]["id"], run.id);
    assert_eq!(runs.body[0]["trigger"], "api");
    assert_eq!(runs.body[0]["blobsDeleted"], 4);
    assert_eq!(runs.body[0]["bytesFreed"], garbage_bytes);
    let audit = app.get("/api/v1/audit").await;
    let actions: Vec<&str> = audit.body.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(
        actions.iter().any(|a| a.starts_with(&format!("garbage collection #{} (api)", run.id)) && a.contains("4 blobs")),
        "{actions:?}"
    );

    // Nothing more to do; deleting the tag leaves the images (the repository holds their
    // manifests, their Images remain until a prune), so nothing goes either.
    let a = call(&app.router, "DELETE", "/v2/default/app/manifests/v1", &[], vec![]).await;
    assert_eq!(a.status, 202);
    app.advance(GRACE.as_secs() as i64 + 1);
    let again = collect(&app, false).await;
    assert_eq!((again.manifests_deleted, again.blobs_deleted), (0, 1), "only the young upload, now old: {again:?}");
    assert_eq!(deleted(&again, "blob"), vec![sha(&young)]);
    pull_verified(&app.router, "default/app", &sha(&mb)).await.unwrap();
}

#[tokio::test]
async fn the_api_runs_a_collection_with_a_dry_run_for_server_administrators() {
    let app = TestApp::with_registry_on_disk(GRACE).await;
    let abandoned = b"never named".to_vec();
    assert_eq!(push_blob(&app.router, "default/app", &abandoned).await.status, 201);
    app.advance(GRACE.as_secs() as i64 + 1);
    let dry = app.post("/api/v1/registry/garbage-collection", json!({"dryRun": true})).await;
    assert_eq!(dry.status, 200, "{}", dry.text);
    assert_eq!((dry.body["dryRun"].as_bool(), dry.body["blobsDeleted"].as_i64()), (Some(true), Some(1)));
    assert_eq!(dry.body["deleted"][0]["digest"], sha(&abandoned));
    assert!(object_path(&app.blobs_dir(), &sha(&abandoned)).exists());
    let bad = app.post("/api/v1/registry/garbage-collection", json!({"dryrun": true})).await;
    assert_eq!(bad.status, 400, "an unknown field is refused, not taken for a real run: {}", bad.text);
    let run = app.send("POST", "/api/v1/registry/garbage-collection", None, None).await;
    assert_eq!(run.status, 200, "{}", run.text);
    assert_eq!((run.body["dryRun"].as_bool(), run.body["bytesFreed"].as_u64()), (Some(false), Some(abandoned.len() as u64)));
    assert!(!object_path(&app.blobs_dir(), &sha(&abandoned)).exists());
    assert_eq!(app.get("/api/v1/registry/garbage-collection").await.body.as_array().unwrap().len(), 1);
}

/// Quay's 2026 failure: a client asks whether a blob exists, is told yes, skips the upload and
/// PUTs its manifest — and a collection in between deleted the blob. Here a blob a client was
/// told exists is spared for a grace period; a blob nobody asked about is collected, and a
/// manifest naming it then is refused, never stored.
#[tokio::test]
async fn a_blob_a_client_was_just_told_exists_is_spared() {
    let app = TestApp::with_registry_on_disk(GRACE).await;
    let (told, untold) = (b"a layer the client asks about".to_vec(), b"a layer nobody asks about".to_vec());
    for b in [&told, &untold] {
        assert_eq!(push_blob(&app.router, "default/app", b).await.status, 201);
    }
    app.advance(GRACE.as_secs() as i64 + 1);
    let head = call(&app.router, "HEAD", &format!("/v2/default/app/blobs/{}", sha(&told)), &[], vec![]).await;
    assert_eq!(head.status, 200);
    let run = collect(&app, false).await;
    assert_eq!(deleted(&run, "blob"), vec![sha(&untold)]);
    assert_eq!(run.kept_in_use, 1, "the blob the client was told about: {run:?}");

    // The client skipped the upload of `told` and pushes its manifest: taken.
    let c = config("told");
    assert_eq!(push_blob(&app.router, "default/app", &c).await.status, 201);
    let m = image_manifest(&c, &[&told]);
    assert_eq!(put_manifest(&app.router, "default/app", "told", &m).await.status, 201);
    pull_verified(&app.router, "default/app", "told").await.unwrap();

    // The collected one: the manifest is refused and nothing of it is stored.
    let m = image_manifest(&c, &[&untold]);
    let a = put_manifest(&app.router, "default/app", "untold", &m).await;
    assert_eq!((a.status, a.code()), (400, "MANIFEST_BLOB_UNKNOWN".to_string()));
    let a = call(&app.router, "GET", &format!("/v2/default/app/manifests/{}", sha(&m)), &[], vec![]).await;
    assert_eq!(a.status, 404);
    // Uploaded again, it goes through.
    assert_eq!(push_blob(&app.router, "default/app", &untold).await.status, 201);
    assert_eq!(put_manifest(&app.router, "default/app", "untold", &m).await.status, 201);
    pull_verified(&app.router, "default/app", "untold").await.unwrap();
}

/// distribution#2881: blob B is uploaded, a collection runs while the manifest naming B is
/// PUT. B is older than the grace period here (the client was slow), so B really is garbage
/// when the collection looks — the worst case. Each round races the PUT against a collection on
/// two threads; whichever wins, the result is consistent: the manifest is stored with all its
/// blobs (they pull and verify), or it is refused with MANIFEST_BLOB_UNKNOWN and nothing of it
/// is stored. Never a manifest whose blob is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distribution_2881_a_collection_during_a_push_never_leaves_a_manifest_without_its_blob() {
    let app = std::sync::Arc::new(TestApp::with_registry_on_disk(Duration::from_secs(1)).await);
    let (mut stored, mut refused, mut collected_first) = (0, 0, 0);
    for round in 0..120 {
        let (c, b) = (config(&format!("race {round}")), format!("blob B of round {round}").into_bytes());
        for blob in [&c, &b] {
            assert_eq!(push_blob(&app.router, "default/race", blob).await.status, 201);
        }
        app.advance(2);
        let m = image_manifest(&c, &[&b]);
        let tag = format!("r{round}");
        // A third of the rounds each: the collection first, the push first, both at once.
        let (push, gc) = match round % 3 {
            0 => {
                let gc = collect(&app, false).await;
                (put_manifest(&app.router, "default/race", &tag, &m).await, gc)
            }
            1 => {
                let push = put_manifest(&app.router, "default/race", &tag, &m).await;
                (push, collect(&app, false).await)
            }
            _ => {
                let (a1, a2, m) = (app.clone(), app.clone(), m.clone());
                let push = tokio::spawn(async move { put_manifest(&a1.router, "default/race", &tag, &m).await });
                let gc = tokio::spawn(async move { collect(&a2, false).await });
                (push.await.unwrap(), gc.await.unwrap())
            }
        };
        if deleted(&gc, "blob").contains(&sha(&b)) {
            collected_first += 1;
        }
        match (push.status, push.code().as_str()) {
            (201, _) => {
                stored += 1;
                pull_verified(&app.router, "default/race", &format!("r{round}")).await.unwrap_or_else(|e| panic!("round {round}: {e}"));
                assert!(object_path(&app.blobs_dir(), &sha(&b)).exists());
                assert!(!deleted(&gc, "blob").contains(&sha(&b)), "round {round}: stored, yet its blob was collected");
            }
            (400, "MANIFEST_BLOB_UNKNOWN") => {
                refused += 1;
                let a = call(&app.router, "GET", &format!("/v2/default/race/manifests/{}", sha(&m)), &[], vec![]).await;
                assert_eq!(a.status, 404, "round {round}: refused, yet stored");
                let a = call(&app.router, "GET", &format!("/v2/default/race/manifests/r{round}"), &[], vec![]).await;
                assert_eq!(a.status, 404, "round {round}: refused, yet tagged");
            }
            other => panic!("round {round}: {other:?}: {}", String::from_utf8_lossy(&push.body)),
        }
    }
    println!("distribution#2881 race: {stored} pushes stored, {refused} refused, the blob collected first in {collected_first}");
    assert_eq!(stored + refused, 120);
    assert!(refused >= 40 && stored >= 40 && collected_first >= 40, "both orders were walked");
    // A collection afterwards takes nothing that a stored image needs.
    app.advance(2);
    collect(&app, false).await;
    for round in 0..120 {
        let tag = format!("r{round}");
        let a = call(&app.router, "HEAD", &format!("/v2/default/race/manifests/{tag}"), &[], vec![]).await;
        if a.status == 200 {
            pull_verified(&app.router, "default/race", &tag).await.unwrap();
        }
    }
}

/// The scheduled worker runs a collection each `--gc-interval` of the service clock.
#[tokio::test]
async fn the_worker_collects_on_the_service_clock() {
    let app = TestApp::with_registry_on_disk(GRACE).await;
    let abandoned = b"collected by the schedule".to_vec();
    assert_eq!(push_blob(&app.router, "default/app", &abandoned).await.status, 201);
    let _worker = server::workers::gc::start(app.service.clone(), server::workers::GcConfig { interval: Duration::from_secs(600) });
    app.advance(601);
    let mut runs = vec![];
    for _ in 0..500 {
        runs = app.service.gc_runs(&Caller::system()).await.unwrap();
        if !runs.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(runs.len(), 1, "one run after one interval");
    assert_eq!((runs[0].trigger.as_str(), runs[0].blobs_deleted), ("schedule", 1));
    assert!(!object_path(&app.blobs_dir(), &sha(&abandoned)).exists());
}
