//! CLI tests: the built `imagestreams` binary serving on a free port, and the client commands
//! run against it, their output compared with oc's text.

mod common;

use common::registry::Registry;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_imagestreams");

struct Server {
    child: Child,
    url: String,
    host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Server {
    start_server_with(&[])
}

fn start_server_with(extra: &[&str]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    // An allow-list naming nothing reachable: tags of quay.io in these tests must not make
    // the import controller leave the machine.
    cmd.args(["serve", "--allowed-registry", "127.0.0.1:1", "--data-dir"])
        // A data directory that does not exist yet, as on a first start: serve creates it.
        .arg(dir.path().join("data"))
        .args(extra)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let (child, host) = common::portal::spawn_serving(&mut cmd, dir.path());
    let url = format!("http://{host}");
    Server { child, url, host, _dir: dir }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cli(server: &Server, args: &[&str]) -> Run {
    let out: Output =
        Command::new(BIN).args(args).env("IMAGESTREAMS_SERVER", &server.url).env_remove("IMAGESTREAMS_NAMESPACE").output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn ok(server: &Server, args: &[&str]) -> String {
    let r = cli(server, args);
    assert_eq!(r.code, 0, "{args:?} failed: {}{}", r.stdout, r.stderr);
    r.stdout
}

fn fails(server: &Server, args: &[&str]) -> String {
    let r = cli(server, args);
    assert_eq!(r.code, 1, "{args:?} should fail: {}{}", r.stdout, r.stderr);
    r.stderr
}

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

/// Pushes an image through the API, as the registry would.
fn push(server: &Server, ns: &str, stream: &str, tag: &str, d: &str) {
    let body = serde_json::json!({
        "metadata": {"name": stream}, "tag": tag,
        "image": {"metadata": {"name": d}, "dockerImageReference": format!("quay.io/org/{stream}@{d}")}
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/apis/image.openshift.io/v1/namespaces/{ns}/imagestreammappings", server.url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 201);
}

#[test]
fn tag_get_describe_delete_like_oc() {
    let s = start_server();
    assert_eq!(ok(&s, &["create", "namespace", "demo"]), "namespace/demo created\n");
    assert_eq!(fails(&s, &["create", "namespace", "demo"]), "Error from server (AlreadyExists): namespaces \"demo\" already exists\n");

    assert_eq!(ok(&s, &["tag", "quay.io/o/a:1", "app:v1", "-n", "demo"]), "Tag app:v1 set to quay.io/o/a:1.\n");
    // A DockerImage tag nothing imported yet: the stream exists, with no history.
    assert_eq!(
        ok(&s, &["get", "is", "-n", "demo"]),
        format!(
            "NAME      IMAGE REPOSITORY{}TAGS      UPDATED\napp       {}/demo/app\n",
            " ".repeat((s.host.len() + 9 + 3).max(10) - 16),
            s.host
        )
    );

    push(&s, "demo", "app", "latest", &digest(1));
    assert_eq!(ok(&s, &["tag", "app:latest", "app:prod", "-n", "demo"]), format!("Tag app:prod set to app@{}.\n", digest(1)));
    assert_eq!(ok(&s, &["tag", "--alias", "app:prod", "app:stable", "-n", "demo"]), "Tag app:stable set up to track app:prod.\n");
    assert_eq!(
        ok(&s, &["tag", "quay.io/o/a:2", "app:nightly", "--scheduled", "--reference-policy=local", "-n", "demo"]),
        "Tag app:nightly set to import quay.io/o/a:2 periodically.\n"
    );
    // A later push to latest does not move the permanent prod tag (nor stable, which tracks it).
    push(&s, "demo", "app", "latest", &digest(2));

    assert_eq!(
        ok(&s, &["get", "istag", "-n", "demo", "-o", "name"]),
        "imagestreamtag.image.openshift.io/app:latest\nimagestreamtag.image.openshift.io/app:prod\nimagestreamtag.image.openshift.io/app:stable\n"
    );
    let table = ok(&s, &["get", "istag", "-n", "demo", "-o", "wide"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["NAME", "IMAGE", "REFERENCE", "UPDATED", "IMAGE", "NAME", "PULL", "BY", "TAG", "PULL", "BY", "DIGEST"]
    );
    // Beyond oc: the tag's pull specs in the portal's registry, as `describe is` prints them.
    let repo = format!("{}/demo/app", s.host);
    let cells = |line: &str| {
        let words: Vec<String> = line.split_whitespace().map(str::to_string).collect();
        // NAME, IMAGE REFERENCE, then (after UPDATED's words) IMAGE NAME, PULL BY TAG, PULL BY DIGEST.
        [&words[..2], &words[words.len() - 3..]].concat()
    };
    assert_eq!(
        cells(lines[1]),
        [
            "app:latest".to_string(),
            format!("quay.io/org/app@{}", digest(2)),
            digest(2),
            format!("{repo}:latest"),
            format!("{repo}@{}", digest(2))
        ],
        "{table}"
    );
    assert_eq!(cells(lines[2])[2..], [digest(1), format!("{repo}:prod"), format!("{repo}@{}", digest(1))], "{table}");
    // One istag by name: its stream only, the same cells.
    let one = ok(&s, &["get", "istag", "app:prod", "-n", "demo", "-o", "wide"]);
    assert_eq!(cells(one.lines().nth(1).unwrap_or_default()), cells(lines[2]), "{one}");

    let json = ok(&s, &["get", "is", "app", "-n", "demo", "-o", "json", "--export"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["metadata"]["name"], "app");
    for gone in ["uid", "resourceVersion", "creationTimestamp", "generation"] {
        assert!(v["metadata"].get(gone).is_none(), "--export keeps {gone}");
    }
    assert_eq!(v["spec"]["tags"].as_array().unwrap().len(), 4);
    let yaml = ok(&s, &["get", "is", "app", "-n", "demo", "-o", "yaml"]);
    assert!(yaml.contains("kind: ImageStream\n") && yaml.contains("resourceVersion:"), "{yaml}");
    let by_digest = format!("app@{}", digest(2));
    assert_eq!(
        ok(&s, &["get", "isimage", &by_digest, "-n", "demo", "-o", "name"]),
        format!("imagestreamimage.image.openshift.io/{by_digest}\n")
    );
    let ambiguous = fails(&s, &["get", "isimage", "app@0000", "-n", "demo"]);
    assert!(ambiguous.starts_with("Error from server (Conflict): Operation cannot be fulfilled on imagestreamimage.image.openshift.io \"app@0000\": multiple images match the prefix"), "{ambiguous}");
    let images = ok(&s, &["get", "image"]);
    assert!(images.starts_with("NAME") && images.contains(&digest(1)) && images.contains(&digest(2)), "{images}");

    let d = ok(&s, &["describe", "is", "app", "-n", "demo"]);
    assert!(d.starts_with("Name:\t\t\tapp\nNamespace:\t\tdemo\nCreated:\t\t"), "{d}");
    assert!(d.contains(&format!("Image Repository:\t{}/demo/app\n", s.host)), "{d}");
    assert!(d.contains("Unique Images:\t\t2\nTags:\t\t\t5\n"), "{d}");
    assert!(
        d.contains(&format!(
            "\nprod (stable)\n  tagged from app@{}\n  pull by tag:\t{repo}:prod\n  pull by digest:\t{repo}@{}\n\n  * quay.io/org/app@{}\n",
            digest(1),
            digest(1),
            digest(1)
        )),
        "{d}"
    );
    // `--reference-policy=local` (and only that) earns the pull-through line; the block of a
    // scheduled tag nothing has imported yet (the allow-list blocks quay.io) in upstream's order.
    assert!(
        d.contains(
            "\nnightly\n  updates automatically from registry quay.io/o/a:2\n    prefer registry pullthrough when referencing this tag\n\n"
        ),
        "{d}"
    );
    assert!(d.contains("\nv1\n  tagged from quay.io/o/a:1\n\n"), "{d}");
    assert!(
        d.contains(&format!(
            "\nlatest\n  no spec tag\n  pull by tag:\t{repo}:latest\n  pull by digest:\t{repo}@{}\n\n  * quay.io/org/app@",
            digest(2)
        )),
        "{d}"
    );
    let order: Vec<&str> = d.lines().filter(|l| !l.starts_with(' ') && !l.is_empty() && !l.contains(':')).collect();
    assert_eq!(order, vec!["latest", "nightly", "prod (stable)", "v1"], "describe tag order");

    assert_eq!(ok(&s, &["tag", "-d", "app:v1", "-n", "demo"]), "Deleted tag demo/app:v1.\n");
    assert_eq!(ok(&s, &["delete", "istag", "app:nightly", "-n", "demo"]), "imagestreamtag.image.openshift.io \"app:nightly\" deleted\n");
    assert_eq!(ok(&s, &["delete", "is", "app", "-n", "demo"]), "imagestream.image.openshift.io \"app\" deleted\n");
    assert_eq!(
        fails(&s, &["get", "is", "app", "-n", "demo"]),
        "Error from server (NotFound): imagestreams.image.openshift.io \"app\" not found\n"
    );
}

#[test]
fn client_errors_and_environment() {
    let s = start_server();
    assert_eq!(fails(&s, &["tag", "Bad", "app:x"]), "error: invalid SOURCE: repository name must be lowercase\n");
    assert_eq!(fails(&s, &["tag", "quay.io/a:1"]), "error: at least a destination is required\n");
    assert_eq!(fails(&s, &["tag", "app:1", "other:t", "--alias"]), "error: cannot set alias across different Image Streams\n");
    assert_eq!(fails(&s, &["tag", "-d", "app:t", "--scheduled"]), "error: cannot set flags for importing images when deleting a tag\n");
    assert_eq!(
        fails(&s, &["tag", "quay.io/a:1", "app:t", "--reference-policy", "remote"]),
        "error: reference policy must be set to 'source' or 'local'\n"
    );
    assert_eq!(
        fails(&s, &["tag", "missing:v1", "app:t"]),
        "Error from server (NotFound): imagestreams.image.openshift.io \"missing\" not found\n"
    );
    assert_eq!(ok(&s, &["tag", "quay.io/a:1", "app:t"]), "Tag app:t set to quay.io/a:1.\n");
    assert_eq!(
        fails(&s, &["tag", "app:t", "app:u"]),
        "error: \"app:t\" is not currently pointing to an image, cannot use it as the source of a tag\n"
    );
    assert_eq!(
        fails(&s, &["tag", "-d", "app:nope"]),
        "Error from server (NotFound): imagestreamtags.image.openshift.io \"app:nope\" not found\n"
    );
    assert_eq!(fails(&s, &["get", "widgets"]), "error: the server doesn't have a resource type \"widgets\"\n");
    assert_eq!(fails(&s, &["tag", "quay.io/a:1", "ghost/app:t"]), "Error from server (NotFound): namespaces \"ghost\" not found\n");
    let r = cli(&s, &["get", "is", "-n", "empty"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr, "Error from server (NotFound): namespaces \"empty\" not found\n");
    // Flags fall back to IMAGESTREAMS_* variables.
    let out = Command::new(BIN)
        .args(["get", "is", "-o", "name"])
        .env("IMAGESTREAMS_SERVER", &s.url)
        .env("IMAGESTREAMS_NAMESPACE", "default")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "imagestream.image.openshift.io/app\n");
    // A name never reaches another path (a fresh user's finding: `delete webhook
    // '../../../../../api/v1/namespaces/victim'` deleted the namespace).
    ok(&s, &["create", "namespace", "victim"]);
    for args in [
        &["delete", "webhook", "../../../../../api/v1/namespaces/victim"][..],
        &["delete", "token", "../namespaces/victim"],
        &["delete", "is", "app?x=1"],
        &["describe", "is", "app#x"],
        &["policy", "add-role-to-user", "admin", "../../victim"],
    ] {
        let err = fails(&s, args);
        assert!(err.starts_with("error: invalid "), "{args:?}: {err}");
    }
    assert!(fails(&s, &["delete", "istag", "app:../../x"]).starts_with("error: invalid "));
    assert_eq!(cli(&s, &["get", "is", "-n", "victim"]).code, 0, "the namespace is still there");
    // An unreachable server is a clear local error.
    let out = Command::new(BIN).args(["get", "is", "--server", "http://127.0.0.1:1"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: unable to reach the server at http://127.0.0.1:1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_image_like_oc() {
    let reg = Registry::start().await;
    let v1 = reg.push_image("lib/app", Some("v1"), "v1", "amd64", false).await;
    let v2 = reg.push_image("lib/app", Some("v2"), "v2", "amd64", false).await;
    let h = reg.host.clone();
    let s = tokio::task::spawn_blocking(move || start_server_with(&["--insecure-registry", &h, "--allowed-registry", &h])).await.unwrap();
    let run = |args: Vec<String>| {
        let s = &s;
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        cli(s, &refs)
    };
    let from_v1 = format!("{}/lib/app:v1", reg.host);
    let r = run(vec!["import-image".into(), "app:v1".into(), format!("--from={from_v1}")]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "error: no image stream named \"app\" exists, pass --confirm to create and import\n"));
    let r = run(vec!["import-image".into(), "app:v1".into(), format!("--from={from_v1}"), "--confirm".into()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("imagestream.image.openshift.io/app imported\n\nName:\t\t\tapp\n"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("\nv1\n  tagged from {from_v1}\n")), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("  * {}/lib/app@{}\n", reg.host, v1.digest)), "{}", r.stdout);
    // Re-importing an existing tag needs no --from.
    assert_eq!(run(vec!["import-image".into(), "app:v1".into()]).code, 0);
    let r = run(vec!["import-image".into(), "app:nope".into()]);
    assert_eq!(
        r.stderr,
        "error: the tag \"nope\" does not exist on the image stream - choose an existing tag to import or use the 'tag' command to create a new tag\n"
    );
    let r = run(vec!["import-image".into(), "app:v1".into(), format!("--from={}/lib/app:v2", reg.host)]);
    assert_eq!(
        r.stderr,
        format!(
            "error: the tag \"v1\" points to \"{from_v1}\" - use the 'tag' command if you want to change the source to \"{}/lib/app:v2\"\n",
            reg.host
        )
    );
    assert_eq!(
        run(vec!["import-image".into(), "app:v1".into(), "--all".into()]).stderr,
        "error: cannot specify a tag \"app:v1\" as well as --all\n"
    );
    assert_eq!(
        run(vec!["import-image".into(), format!("app@{}", v1.digest)]).stderr,
        "error: to import images by ID, use the 'tag' command\n"
    );
    assert!(
        run(vec!["import-image".into(), "Bad".into()])
            .stderr
            .starts_with("error: the image name must be a valid container image pull spec")
    );
    // A tag that does not exist upstream: partial failure, exit status 1.
    let r = run(vec!["import-image".into(), "app:gone".into(), format!("--from={}/lib/app:gone", reg.host)]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("imagestream.image.openshift.io/app imported with errors\n"), "{}", r.stdout);
    assert!(
        r.stdout.contains(&format!("error: tag gone failed: dockerimage.image.openshift.io \"{}/lib/app:gone\" not found", reg.host)),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("  ! error: Import failed (NotFound): "), "{}", r.stdout);
    assert_eq!(r.stderr, "error: imported completed with errors\n");
    // A whole repository into a new stream.
    let r = run(vec!["import-image".into(), "all".into(), format!("--from={}/lib/app", reg.host), "--all".into(), "--confirm".into()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let names = run(vec!["get".into(), "istag".into(), "-o".into(), "name".into()]).stdout;
    assert!(
        names.contains("imagestreamtag.image.openshift.io/all:v1\n") && names.contains("imagestreamtag.image.openshift.io/all:v2\n"),
        "{names}"
    );
    // Dry run: looks up, stores nothing.
    let r = run(vec![
        "import-image".into(),
        "dry:v2".into(),
        format!("--from={}/lib/app:v2", reg.host),
        "--confirm".into(),
        "--dry-run".into(),
    ]);
    assert!(r.stdout.starts_with("imagestream.image.openshift.io/dry imported (dry run)\n"), "{}", r.stdout);
    assert_eq!(run(vec!["get".into(), "is".into(), "dry".into()]).code, 1);
    // `tag` of a registry image: the controller imports it in the background.
    assert_eq!(run(vec!["tag".into(), format!("{}/lib/app:v2", reg.host), "bg:v2".into()]).code, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let r = run(vec!["get".into(), "istag".into(), "bg:v2".into(), "-o".into(), "json".into()]);
        if r.code == 0 {
            let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
            assert_eq!(v["image"]["metadata"]["name"], v2.digest);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no background import: {}", r.stderr);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[test]
fn get_is_watch_prints_changes_as_they_come() {
    use std::io::BufRead;
    let s = start_server();
    assert_eq!(ok(&s, &["tag", "quay.io/o/a:1", "web:v1"]), "Tag web:v1 set to quay.io/o/a:1.\n");
    let mut child = Command::new(BIN)
        .args(["get", "is", "-w"])
        .env("IMAGESTREAMS_SERVER", &s.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(Duration::from_secs(10)).expect("a line from get -w");
    assert!(next().starts_with("NAME"), "the header first");
    assert!(next().starts_with("web "), "then the current streams");
    // A change made elsewhere appears as a new row.
    push(&s, "default", "web", "latest", &digest(7));
    let row = next();
    assert!(row.starts_with("web ") && row.contains("latest"), "{row}");
    assert_eq!(ok(&s, &["delete", "is", "web"]), "imagestream.image.openshift.io \"web\" deleted\n");
    assert!(next().starts_with("web "), "a deletion prints the last state");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_from_the_command_line() {
    let secret = "cli-signing-secret-0123";
    let receiver = common::receiver::Receiver::start(secret, vec![]).await;
    let s = start_server_with(&["--allowed-webhook-target", &receiver.allow_entry(), "--webhook-retry-base", "50ms"]);
    let url = receiver.url();
    let run = |args: Vec<String>| {
        let s = &s;
        tokio::task::block_in_place(|| cli(s, &args.iter().map(String::as_str).collect::<Vec<_>>()))
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let r = run(args(&["create", "webhook", "deploy", "--url", &url, "--secret", secret, "--tag", "app:prod"]));
    assert_eq!((r.code, r.stdout.as_str()), (0, "webhook/deploy created\n"), "{}", r.stderr);
    let r = run(args(&["create", "webhook", "bad", "--url", "ftp://x", "--secret", "short", "--tag", "app"]));
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("Error from server (Invalid): Webhook \"bad\" is invalid: [spec.url: "), "{}", r.stderr);
    assert!(r.stderr.contains("spec.secret: Invalid value: <hidden>: must be at least 16 characters long"), "{}", r.stderr);

    tokio::task::block_in_place(|| ok(&s, &["tag", "quay.io/o/a:1", "app:prod", "--reference"]));
    let got = receiver.wait_accepted(1).await;
    assert!(got[0].signature_ok);
    assert_eq!((got[0].event["subject"].as_str(), got[0].event["data"]["pullSpec"].as_str()), (Some("app:prod"), Some("quay.io/o/a:1")));

    let table = run(args(&["get", "webhooks"])).stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME ") && lines[0].contains("URL") && lines[0].ends_with("LAST DELIVERY"), "{table}");
    assert!(
        lines[1].starts_with("deploy ") && lines[1].contains(&url) && lines[1].contains("app:prod") && lines[1].contains("ImageChanged"),
        "{table}"
    );
    assert!(!table.contains(secret));
    assert_eq!(run(args(&["webhook", "test", "deploy"])).stdout, "test event queued for webhook/deploy as delivery 2\n");
    receiver.wait_accepted(2).await;
    let log = run(args(&["webhook", "deliveries", "deploy"])).stdout;
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines[0].starts_with("ID ") && lines[0].contains("STATE"), "{log}");
    assert!(lines[1].starts_with("2 ") && lines[1].contains("io.imagestreams.webhook.test") && lines[1].contains("Delivered"), "{log}");
    assert!(lines[2].starts_with("1 ") && lines[2].contains("io.imagestreams.image.changed") && lines[2].contains(" 200 "), "{log}");
    assert_eq!(run(args(&["webhook", "redeliver", "deploy", "1"])).stdout, "delivery 1 of webhook/deploy queued again as delivery 3\n");
    let got = receiver.wait_accepted(3).await;
    assert_eq!(got[2].event["id"], got[0].event["id"]);
    assert_eq!(run(args(&["delete", "webhook", "deploy"])).stdout, "webhook \"deploy\" deleted\n");
    // oc writes this note to stderr (stdout stays empty for scripts), for every kind alike.
    let r = run(args(&["get", "webhooks"]));
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "", "No resources found in default namespace.\n"));
}

/// `cli_in` with `input` on standard input.
fn cli_in_with_stdin(server: &Server, config: &std::path::Path, args: &[&str], input: &str) -> Run {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env("IMAGESTREAMS_SERVER", &server.url)
        .env("IMAGESTREAMS_CONFIG", config)
        .env_remove("IMAGESTREAMS_NAMESPACE")
        .env_remove("IMAGESTREAMS_TOKEN")
        .env_remove("IMAGESTREAMS_USER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

fn cli_in(server: &Server, config: &std::path::Path, args: &[&str]) -> Run {
    let out: Output = Command::new(BIN)
        .args(args)
        .env("IMAGESTREAMS_SERVER", &server.url)
        .env("IMAGESTREAMS_CONFIG", config)
        .env_remove("IMAGESTREAMS_NAMESPACE")
        .env_remove("IMAGESTREAMS_TOKEN")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
fn accounts_from_the_command_line() {
    let secrets = tempfile::tempdir().unwrap();
    let file = secrets.path().join("admin-password");
    std::fs::write(&file, "first-admin-password\n").unwrap();
    let s = start_server_with(&["--admin-password-file", file.to_str().unwrap()]);
    let config = secrets.path().join("config");
    let run = |args: &[&str]| cli_in(&s, &config, args);
    let ok = |args: &[&str]| {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}{}", r.stdout, r.stderr);
        r.stdout
    };
    let r = run(&["whoami"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "error: You must be logged in to the server (Unauthorized)\n"));
    let r = run(&["get", "is"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("Error from server (Unauthorized): Unauthorized"), "{}", r.stderr);
    let r = run(&["login", "-u", "admin", "-p", "not-the-password"]);
    assert_eq!((r.code, r.stderr.as_str()), (1, "Error from server (Unauthorized): Unauthorized: the user name or password is wrong\n"));

    let out = ok(&["login", "-u", "admin", "-p", "first-admin-password"]);
    assert!(out.starts_with(&format!("Logged into \"{}\" as \"admin\" using a new API token (", s.url)), "{out}");
    let saved = std::fs::metadata(config.join("tokens.json")).unwrap();
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&saved.permissions()) & 0o777, 0o600);
    assert_eq!(ok(&["whoami"]), "admin\n");
    assert_eq!(ok(&["create", "user", "alice", "--password", "alice-password-1"]), "user/alice created\n");
    // Without --password the password is read from standard input (out of sight of `ps`).
    let r = cli_in_with_stdin(&s, &config, &["create", "user", "bob"], "bob-password-12\n");
    assert_eq!((r.code, r.stdout.as_str()), (0, "user/bob created\n"), "{}", r.stderr);
    let bob = secrets.path().join("bob-config");
    let r = cli_in(&s, &bob, &["login", "-u", "bob", "-p", "bob-password-12"]);
    assert_eq!(r.code, 0, "bob signs in with the password read from stdin: {}", r.stderr);
    assert_eq!(ok(&["create", "namespace", "team"]), "namespace/team created\n");
    assert_eq!(ok(&["policy", "add-role-to-user", "editor", "alice", "-n", "team"]), "role/editor added: \"alice\"\n");
    assert_eq!(ok(&["get", "members", "-n", "team"]), "USER      ROLE\nadmin     admin\nalice     editor\n");
    let r = run(&["policy", "add-role-to-user", "owner", "alice", "-n", "team"]);
    assert!(r.stderr.contains("role: Unsupported value: \"owner\""), "{}", r.stderr);

    // A limited token: read-only in team.
    let token = ok(&["create", "token", "ci", "--namespace-scope", "team", "--max-role", "viewer"]).trim().to_string();
    assert!(token.starts_with("ist_"), "{token}");
    let r = run(&["--token", &token, "tag", "--reference", "quay.io/x/app:1", "app:v1", "-n", "team"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("Error from server (Forbidden): imagestreamtags.image.openshift.io is forbidden: User \"admin\" cannot"),
        "{}",
        r.stderr
    );
    let r = run(&["--token", &token, "get", "is", "-n", "team"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, "No resources found in team namespace.\n"));
    let tokens = ok(&["get", "tokens"]);
    assert!(tokens.lines().any(|l| l.contains(" ci ") && l.contains("team") && l.contains("viewer") && l.ends_with("active")), "{tokens}");
    let id = token.split('_').nth(1).unwrap();
    assert_eq!(ok(&["delete", "token", id]), format!("token \"{id}\" revoked\n"));
    let r = run(&["--token", &token, "get", "is", "-n", "team"]);
    assert!(r.stderr.contains("expired or revoked"), "{}", r.stderr);

    assert_eq!(ok(&["set", "visibility", "public", "-n", "team"]), "namespace/team is public\n");
    let audit = ok(&["get", "audit", "-n", "team"]);
    assert!(audit.starts_with("TIME ") && audit.contains("PUT /api/v1/namespaces/team/members/alice (update members)"), "{audit}");
    assert!(audit.lines().any(|l| l.contains(" admin ") && l.contains(" 403 ") && l.contains("Forbidden")), "the refused tag: {audit}");

    assert_eq!(ok(&["logout"]), format!("Logged out of \"{}\"\n", s.url));
    assert_eq!(run(&["whoami"]).code, 1);
    // A public namespace reads without signing in.
    let r = run(&["get", "is", "-n", "team"]);
    assert_eq!((r.code, r.stderr.as_str()), (0, "No resources found in team namespace.\n"));

    ok(&["login", "-u", "alice", "-p", "alice-password-1"]);
    assert_eq!(ok(&["passwd", "--current", "alice-password-1", "--new", "alice-password-2"]), "Password changed.\n");
    assert_eq!(ok(&["tag", "--reference", "quay.io/x/app:1", "app:v1", "-n", "team"]), "Tag app:v1 set to quay.io/x/app:1.\n");
    let r = run(&["delete", "is", "app", "-n", "team"]);
    assert!(r.stderr.contains("User \"alice\" cannot delete resource \"imagestreams\""), "editors do not delete streams: {}", r.stderr);
}

/// Sends a whole `GET /healthz` on `conn` (kept alive) and reads the answer's status line; `None`
/// when the server closed the connection instead of answering.
fn healthz_on(conn: &mut std::net::TcpStream) -> Option<String> {
    use std::io::{BufRead, Write};
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut reader = std::io::BufReader::new(conn.try_clone().unwrap());
    let mut status = String::new();
    match reader.read_line(&mut status) {
        Ok(n) if n > 0 => {}
        _ => return None,
    }
    // Read the rest of the answer ("ok", with its length) so the connection is idle again.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    let mut body = [0u8; 2];
    std::io::Read::read_exact(&mut reader, &mut body).ok()?;
    Some(status.trim_end().to_string())
}

/// Waits (at most `limit`) for the server to close `conn`, reading and dropping whatever it sends
/// first; returns how long that took, or `None` if it stayed open.
fn closed_within(conn: &mut std::net::TcpStream, limit: Duration) -> Option<Duration> {
    use std::io::Read;
    let start = Instant::now();
    conn.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 512];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Some(start.elapsed()),
            Err(_) => return None,
        }
        if start.elapsed() > limit {
            return None;
        }
    }
}

/// Review M2, live: a request head that never ends (`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n` and no
/// final CRLF) was never closed. Now the server closes it after `--header-read-timeout`, and an
/// idle kept-alive connection too, while a prompt request is answered.
#[test]
fn half_open_requests_are_closed_after_the_header_read_timeout() {
    use std::io::Write;
    let s = start_server_with(&["--header-read-timeout", "1s"]);
    let mut half_open = std::net::TcpStream::connect(&s.host).unwrap();
    half_open.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n").unwrap();
    let mut kept_alive = std::net::TcpStream::connect(&s.host).unwrap();
    assert_eq!(healthz_on(&mut kept_alive).as_deref(), Some("HTTP/1.1 200 OK"));
    let took = closed_within(&mut half_open, Duration::from_secs(10)).expect("the half-open request was not closed");
    assert!(took >= Duration::from_millis(500), "closed after the timeout, not at once: {took:?}");
    assert!(closed_within(&mut kept_alive, Duration::from_secs(10)).is_some(), "an idle kept-alive connection is closed too");
    let mut fresh = std::net::TcpStream::connect(&s.host).unwrap();
    assert_eq!(healthz_on(&mut fresh).as_deref(), Some("HTTP/1.1 200 OK"), "the server still answers");
}

/// Review M2: one client could hold every connection (file descriptors). Beyond
/// `--max-connections-per-client` a new connection of that client is closed at once, another
/// client is still served, and an ended connection gives its slot back.
#[test]
fn connections_beyond_the_per_client_limit_are_refused() {
    let s = start_server_with(&["--max-connections-per-client", "3", "--header-read-timeout", "60s"]);
    // Three served connections (start_server's probe may hold a slot for a moment: retry).
    let mut held: Vec<std::net::TcpStream> = vec![];
    let deadline = Instant::now() + Duration::from_secs(10);
    while held.len() < 3 {
        let mut conn = std::net::TcpStream::connect(&s.host).unwrap();
        match healthz_on(&mut conn) {
            Some(status) => {
                assert_eq!(status, "HTTP/1.1 200 OK");
                held.push(conn);
            }
            None => {
                assert!(Instant::now() < deadline, "only {} connections within the limit were served", held.len());
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    let mut fourth = std::net::TcpStream::connect(&s.host).unwrap();
    assert_eq!(healthz_on(&mut fourth), None, "the fourth connection of one client is closed unanswered");
    // Another client (127.0.0.2 reaches the server on 127.0.0.1 through the loopback interface).
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let addr: std::net::SocketAddr = s.host.parse().unwrap();
    let other = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket.connect(addr).await.unwrap().into_std().unwrap()
    });
    other.set_nonblocking(false).unwrap();
    let mut other = other;
    assert_eq!(healthz_on(&mut other).as_deref(), Some("HTTP/1.1 200 OK"), "a fresh client is still served");
    // Closing one gives its slot back (once the server has seen the close).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = std::net::TcpStream::connect(&s.host).unwrap();
        if healthz_on(&mut again).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "the ended connection's slot was not given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A proxy in front of the server that, on the first read of one image stream, changes that
/// stream behind the reader's back (as a scheduled import would) before handing the read out:
/// the reader's next write carries a resourceVersion that is already stale.
struct Interposer {
    upstream: String,
    stream_path: String,
    changed: std::sync::atomic::AtomicBool,
    imports: std::sync::atomic::AtomicUsize,
    conflicts: std::sync::atomic::AtomicUsize,
    http: reqwest::Client,
}

async fn interpose(
    axum::extract::State(p): axum::extract::State<std::sync::Arc<Interposer>>,
    req: axum::extract::Request,
) -> axum::response::Response {
    use std::sync::atomic::Ordering;
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let mut fwd = p.http.request(parts.method.clone(), format!("{}{path}", p.upstream)).body(body.to_vec());
    for (k, v) in &parts.headers {
        if k != axum::http::header::HOST && k != axum::http::header::CONTENT_LENGTH {
            fwd = fwd.header(k, v);
        }
    }
    let resp = fwd.send().await.unwrap();
    let status = resp.status();
    let content_type = resp.headers().get(axum::http::header::CONTENT_TYPE).cloned();
    let bytes = resp.bytes().await.unwrap();
    if path.ends_with("/imagestreamimports") {
        p.imports.fetch_add(1, Ordering::SeqCst);
        if status.as_u16() == 409 {
            p.conflicts.fetch_add(1, Ordering::SeqCst);
        }
    }
    if parts.method == axum::http::Method::GET && path == p.stream_path && !p.changed.swap(true, Ordering::SeqCst) {
        let mapping = serde_json::json!({
            "metadata": {"name": "app"}, "tag": "pushed",
            "image": {"metadata": {"name": digest(77)}, "dockerImageReference": format!("quay.io/org/app@{}", digest(77))}
        });
        let url = format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreammappings", p.upstream);
        assert_eq!(p.http.post(url).json(&mapping).send().await.unwrap().status().as_u16(), 201);
    }
    let mut out = axum::response::Response::new(axum::body::Body::from(bytes));
    *out.status_mut() = status;
    if let Some(ct) = content_type {
        out.headers_mut().insert(axum::http::header::CONTENT_TYPE, ct);
    }
    out
}

/// `import-image` read the stream, the server changed it, the import request then carried a
/// stale resourceVersion: the command reads again and succeeds, as oc's retry on conflict does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_image_survives_a_change_between_its_read_and_its_write() {
    use std::sync::atomic::Ordering;
    let reg = Registry::start().await;
    let v1 = reg.push_image("lib/app", Some("v1"), "race1", "amd64", false).await;
    let h = reg.host.clone();
    let s = std::sync::Arc::new(
        tokio::task::spawn_blocking(move || start_server_with(&["--insecure-registry", &h, "--allowed-registry", &h])).await.unwrap(),
    );
    let from = format!("--from={}/lib/app:v1", reg.host);
    let run = |args: Vec<String>| {
        let s = s.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            cli(&s, &refs)
        })
    };
    let r = run(vec!["import-image".into(), "app:v1".into(), from.clone(), "--confirm".into()]).await.unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let proxy = std::sync::Arc::new(Interposer {
        upstream: s.url.clone(),
        stream_path: "/apis/image.openshift.io/v1/namespaces/default/imagestreams/app".into(),
        changed: false.into(),
        imports: 0.into(),
        conflicts: 0.into(),
        http: reqwest::Client::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().fallback(interpose).with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let r = run(vec!["--server".into(), proxy_url, "import-image".into(), "app:v1".into()]).await.unwrap();
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("imagestream.image.openshift.io/app imported\n"), "{}", r.stdout);
    assert!(r.stdout.contains(&format!("@{}\n", v1.digest)), "{}", r.stdout);
    // The race did happen: the first request met the change and was answered 409, the second
    // (after reading again) went through.
    assert!(proxy.changed.load(Ordering::SeqCst));
    assert_eq!((proxy.imports.load(Ordering::SeqCst), proxy.conflicts.load(Ordering::SeqCst)), (2, 1));
    // The concurrent change is still there.
    let tags = run(vec!["get".into(), "istag".into(), "-o".into(), "name".into()]).await.unwrap().stdout;
    assert!(tags.contains("app:pushed") && tags.contains("app:v1"), "{tags}");
}

/// `create secret docker-registry` with its registry given by flag or by variable, next to the
/// portal's global `--server`: the secret names the registry, and reaches the portal.
#[test]
fn registry_secret_names_the_registry_not_the_portal() {
    let s = start_server();
    ok(&s, &["create", "namespace", "demo"]);
    let out = Command::new(BIN)
        .args(["--server", &s.url, "-n", "demo", "create", "secret", "docker-registry", "byflag"])
        .args(["--docker-server", "registry.example:5000", "--docker-username", "u", "--docker-password", "p"])
        .env_remove("IMAGESTREAMS_SERVER")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "secret/byflag created\n", "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(BIN)
        .args(["-n", "demo", "create", "secret", "docker-registry", "byenv", "--docker-username", "u", "--docker-password", "p"])
        .env("IMAGESTREAMS_SERVER", &s.url)
        .env("IMAGESTREAMS_DOCKER_SERVER", "other.example:5000")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "secret/byenv created\n", "{}", String::from_utf8_lossy(&out.stderr));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let registries = |name: &str| {
        rt.block_on(async {
            let url = format!("{}/api/v1/namespaces/demo/secrets/{name}", s.url);
            let v: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            v["registries"].clone()
        })
    };
    assert_eq!(registries("byflag"), serde_json::json!(["registry.example:5000"]));
    assert_eq!(registries("byenv"), serde_json::json!(["other.example:5000"]));
}
