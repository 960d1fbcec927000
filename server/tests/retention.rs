//! Team retention policies through the API, in process on the service clock: validation with
//! each message at its field, a preview (dry run of an unsaved policy, every item with its
//! reason, nothing changed), the schedule (nothing before the interval, one recorded run after
//! it that removed what the preview said, audited as the schedule), "run now", paged runs, and
//! a namespace deleted with its policy. Who may do what is in `accounts.rs`' matrix.

mod common;

use common::TestApp;
use common::prune::{DAY, config, decisions, push_daily};
use serde_json::{Value, json};
use std::time::Duration;

const POLICY: &str = "/api/v1/namespaces/default/retention";

async fn history(app: &TestApp, stream: &str, tag: &str) -> Vec<String> {
    let s = app.get(&format!("/apis/image.openshift.io/v1/namespaces/default/imagestreams/{stream}")).await.body;
    s["status"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tag"] == tag)
        .map(|t| t["items"].as_array().unwrap().iter().map(|i| i["image"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_policy_is_validated_field_by_field() {
    let app = TestApp::new().await;
    let r = app.get(POLICY).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.body["message"], "retention \"default\" not found");

    let r = app
        .put(POLICY, json!({"keepTagRevisions": -1, "keepYoungerThanSeconds": 3600, "keepTagPatterns": ["v1.*", "a/b", "v1.*"], "pulledWithinSeconds": -7}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let causes: Vec<String> = r.body["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c["field"].as_str().unwrap(), c["message"].as_str().unwrap()))
        .collect();
    assert_eq!(
        causes,
        vec![
            "keepTagRevisions Invalid value: -1: must be between 0 and 1000",
            "pulledWithinSeconds Invalid value: -7: must be between 0 and 315360000 seconds (10 years)",
            "keepTagPatterns[1] Invalid value: \"a/b\": may contain only letters, digits, '_', '.', '-' and '*' (found '/')",
            "keepTagPatterns[2] Duplicate value: \"v1.*\"",
        ]
    );
    assert!(r.body["message"].as_str().unwrap().starts_with("RetentionPolicy \"default\" is invalid: ["), "{}", r.text);
    // A wrong type is the decoder's 400; a namespace that does not exist is 404.
    assert_eq!(app.put(POLICY, json!({"keepTagRevisions": "three"})).await.status, 400);
    // Unknown fields are refused by name, not dropped (a misspelt field would save the default
    // and keep less), in the policy and in a preview's.
    let r = app.put(POLICY, json!({"keepTagRevision": 1, "keepTagPatterns": []})).await;
    assert_eq!(
        (r.status.as_u16(), r.body["message"].as_str()),
        (400, Some("strict decoding error: unknown field \"keepTagRevision\"")),
        "{}",
        r.text
    );
    assert_eq!(app.get(POLICY).await.status, 404, "nothing was stored");
    // An array is not a policy, though serde would read one field by field.
    let r = app.put(POLICY, json!([5, 10])).await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    assert_eq!(app.get(POLICY).await.status, 404, "nothing was stored");
    let r = app.post(&format!("{POLICY}/preview"), json!({"keepYoungerThan": "1h"})).await;
    assert_eq!(
        (r.status.as_u16(), r.body["message"].as_str()),
        (400, Some("strict decoding error: unknown field \"keepYoungerThan\"")),
        "{}",
        r.text
    );
    assert_eq!(app.put("/api/v1/namespaces/nowhere/retention", json!({})).await.status, 404);

    // Missing fields take `prune images`' defaults; the stored policy says who and when.
    let r = app.put(POLICY, json!({"keepTagPatterns": ["release-*"]})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["policy"], json!({"keepTagRevisions": 3, "keepYoungerThanSeconds": 3600, "keepTagPatterns": ["release-*"]}));
    assert_eq!(r.body["updated"], "2026-01-01T12:00:00Z");
    assert_eq!(r.body["updatedBy"], "local user");
    assert_eq!(app.get(POLICY).await.body, r.body);

    assert_eq!(app.delete(POLICY).await.status, 200);
    assert_eq!(app.get(POLICY).await.status, 404);
    assert_eq!(app.delete(POLICY).await.status, 404);
}

#[tokio::test]
async fn preview_explains_each_item_and_the_schedule_removes_what_it_said() {
    let app = TestApp::new().await;
    let latest = push_daily(&app, "app", "latest", 1, 5).await;
    let release = push_daily(&app, "app", "release-1", 10, 3).await;
    app.advance(DAY);
    let policy = json!({"keepTagRevisions": 2, "keepYoungerThanSeconds": 0, "keepTagPatterns": ["release-*"], "pulledWithinSeconds": 0});

    // The preview of an unsaved policy: every item with the rule that decided it.
    let r = app.post(&format!("{POLICY}/preview"), policy.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["dryRun"], true);
    assert_eq!(
        decisions(&r.body, "app"),
        vec![
            "latest#0 keep head of tag latest",
            "latest#1 keep revision 2 of 2 kept",
            "latest#2 delete revision 3 beyond the newest 2",
            "latest#3 delete revision 4 beyond the newest 2",
            "latest#4 delete revision 5 beyond the newest 2",
            "release-1#0 keep head of tag release-1",
            "release-1#1 keep tag matches release-*",
            "release-1#2 keep tag matches release-*",
        ]
    );
    assert_eq!(r.body["images"], json!([]), "a namespace's run leaves Image objects alone");
    assert_eq!(r.body["summary"], "Summary: deleted 3 image stream tag item(s), updated 1 image stream(s)");
    // A bad policy is refused before anything is read; a preview changes nothing and is no run.
    let bad = app.post(&format!("{POLICY}/preview"), json!({"keepYoungerThanSeconds": -1})).await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.body["details"]["causes"][0]["field"], "keepYoungerThanSeconds");
    assert_eq!(history(&app, "app", "latest").await.len(), 5);
    assert_eq!(app.get(&format!("{POLICY}/runs")).await.body["items"], json!([]));

    // Saved: the schedule counts the interval from the save.
    assert_eq!(app.put(POLICY, policy).await.status, 200);
    let interval = Duration::from_secs(DAY as u64);
    assert_eq!(app.service.retention_pass(interval).await.unwrap(), 0, "not due before the interval");
    app.advance(DAY - 1);
    assert_eq!(app.service.retention_pass(interval).await.unwrap(), 0);
    app.advance(1);
    assert_eq!(app.service.retention_pass(interval).await.unwrap(), 1, "due once the interval has passed");
    assert_eq!(app.service.retention_pass(interval).await.unwrap(), 0, "and not again until the next interval");

    // It removed what the preview said, and nothing else.
    assert_eq!(history(&app, "app", "latest").await, vec![latest[4].clone(), latest[3].clone()]);
    assert_eq!(history(&app, "app", "release-1").await.len(), release.len());
    assert_eq!(app.get(&format!("/apis/image.openshift.io/v1/images/{}", latest[0])).await.status, 200);

    // The run's record: when, by the schedule, counts, bytes (0: GC reclaims blobs), the report.
    let runs = app.get(&format!("{POLICY}/runs")).await;
    assert_eq!(runs.status, 200, "{}", runs.text);
    let run = &runs.body["items"][0];
    assert_eq!(runs.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (run["trigger"].as_str(), run["by"].as_str(), run["state"].as_str()),
        (Some("schedule"), Some("schedule"), Some("succeeded"))
    );
    assert_eq!((run["deletedItems"].as_i64(), run["updatedStreams"].as_i64(), run["bytesFreed"].as_i64()), (Some(3), Some(1), Some(0)));
    assert_eq!(run["summary"], "Summary: deleted 3 image stream tag item(s), updated 1 image stream(s)");
    assert_eq!(run["started"], "2026-01-11T12:00:00Z");
    assert_eq!(run["policy"]["keepTagRevisions"], 2);
    assert!(run.get("report").is_none(), "lists leave the reports out");
    let one = app.get(&format!("{POLICY}/runs/{}", run["id"])).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.body["report"]["dryRun"], false);
    assert_eq!(decisions(&one.body["report"], "app")[2], "latest#2 delete revision 3 beyond the newest 2");
    assert_eq!(app.get(&format!("{POLICY}/runs/999")).await.status, 404);

    // Audited as the schedule's, in the namespace's log.
    let audit = app.get("/api/v1/namespaces/default/audit").await.body;
    let entry = audit.as_array().unwrap().iter().find(|e| e["user"] == "system:retention-schedule").expect("the scheduled run is audited");
    assert_eq!(entry["namespace"], "default");
    assert_eq!(entry["outcome"], "success");
    assert_eq!(
        entry["action"],
        format!("retention run {} (schedule): Summary: deleted 3 image stream tag item(s), updated 1 image stream(s)", run["id"])
    );

    // The next interval: nothing left to remove, recorded all the same.
    app.advance(DAY);
    assert_eq!(app.service.retention_pass(interval).await.unwrap(), 1);
    let runs = app.get(&format!("{POLICY}/runs")).await.body;
    assert_eq!(runs["items"][0]["summary"], "Summary: deleted 0 objects");
}

#[tokio::test]
async fn run_now_pages_of_runs_and_a_deleted_namespace() {
    let app = TestApp::new().await;
    app.create_namespace("team").await;
    let team = "/api/v1/namespaces/team/retention";
    assert_eq!(app.post(&format!("{team}/run"), json!({})).await.status, 404, "no policy, nothing to run");
    for n in 0..3 {
        app.service.push_config_image("team", "web", "latest", &config(n)).await.unwrap();
        app.advance(DAY);
    }
    assert_eq!(app.put(team, json!({"keepTagRevisions": 1, "keepYoungerThanSeconds": 0})).await.status, 200);
    let r = app.post(&format!("{team}/run"), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["trigger"].as_str(), r.body["by"].as_str(), r.body["deletedItems"].as_i64()),
        (Some("manual"), Some("local user"), Some(2))
    );
    for _ in 0..2 {
        app.advance(60);
        assert_eq!(app.post(&format!("{team}/run"), json!({})).await.status, 200);
    }
    // Newest first, paged with a continue token.
    let page = app.get(&format!("{team}/runs?limit=2")).await.body;
    let ids: Vec<i64> = page["items"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] > ids[1]);
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    let rest = app.get(&format!("{team}/runs?limit=2&continue={token}")).await.body;
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["metadata"].get("continue").is_none());
    assert_eq!(app.get(&format!("{team}/runs?continue=x")).await.status, 400);
    // The other namespace's runs are its own.
    assert_eq!(app.get(&format!("{POLICY}/runs")).await.body["items"], json!([]));

    // A namespace deleted takes its policy and runs along; one created again starts clean.
    assert_eq!(app.delete("/api/v1/namespaces/team").await.status, 200);
    app.create_namespace("team").await;
    assert_eq!(app.get(team).await.status, 404);
    assert_eq!(app.get(&format!("{team}/runs")).await.body["items"], json!([]));
}

/// `set retention` and `get retention` against the real binary: a namespace admin sets the
/// policy, a bad value is refused naming its field, a viewer reads it but may not set it.
#[test]
fn retention_from_the_command_line() {
    use common::portal::Portal;
    let portal = Portal::start(&["--allowed-registry", "127.0.0.1:1"], &[("IMAGESTREAMS_ADMIN_PASSWORD", "admin-password-1")]);
    let admin = portal.scratch("admin");
    let nina = portal.scratch("nina");
    let vic = portal.scratch("vic");
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
        out
    };
    ok(&admin, &["login", "-u", "admin", "-p", "admin-password-1"]);
    ok(&admin, &["create", "namespace", "team"]);
    for (user, role) in [("nina", "admin"), ("vic", "viewer")] {
        ok(&admin, &["create", "user", user, "--password", &format!("{user}-password-1")]);
        ok(&admin, &["policy", "add-role-to-user", role, user, "-n", "team"]);
    }
    ok(&nina, &["login", "-u", "nina", "-p", "nina-password-1"]);
    ok(&vic, &["login", "-u", "vic", "-p", "vic-password-1"]);

    let out =
        ok(&nina, &["set", "retention", "-n", "team", "--keep-tag-revisions", "2", "--keep-tag-pattern", "v1.*", "--pulled-within", "3d"]);
    assert_eq!(
        out,
        "retention policy of namespace/team set: keep 2 revision(s) per tag; younger than 1h; tags matching v1.*; pulled within 3d\n"
    );
    let (code, _, err) = run(&nina, &["set", "retention", "-n", "team", "--keep-tag-revisions", "-1"]);
    assert_eq!(code, 1);
    assert!(err.contains("keepTagRevisions: Invalid value: -1: must be between 0 and 1000"), "{err}");
    let (code, _, err) = run(&nina, &["set", "retention", "-n", "team", "--keep-younger-than", "soon"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid argument \"soon\" for \"--keep-younger-than\" flag"), "{err}");

    let out = ok(&vic, &["get", "retention", "-n", "team"]);
    assert!(out.contains("keep 2 revision(s) per tag; younger than 1h; tags matching v1.*; pulled within 3d"), "{out}");
    assert!(out.contains("Updated:\t") && out.contains(" by nina"), "{out}");
    assert!(out.ends_with("No runs yet.\n"), "{out}");
    let json: Value = serde_json::from_str(&ok(&vic, &["get", "retention", "-n", "team", "-o", "json"])).unwrap();
    assert_eq!(json["policy"]["keepTagPatterns"], json!(["v1.*"]));
    let (code, _, err) = run(&vic, &["set", "retention", "-n", "team"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot update resource \"retention\""), "{err}");
}
