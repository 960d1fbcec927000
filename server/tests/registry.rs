//! The integrated registry with real clients: `skopeo` (and `podman` where it runs) against the
//! real server binary, Debian's `docker-registry` as the upstream of pull-throughs (plain HTTP,
//! and with htpasswd and namespace credentials), logins with passwords and API tokens, roles,
//! and the pull spec handed out for `Local` reference policy.

mod common;

use common::portal::Portal;
use common::registry::Registry;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// Runs skopeo; returns (success, stdout, stderr).
fn skopeo(args: &[&str]) -> (bool, String, String) {
    let out = Command::new("skopeo").args(args).output().expect("skopeo (Debian package) must be installed");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn skopeo_ok(args: &[&str]) -> String {
    let (ok, out, err) = skopeo(args);
    assert!(ok, "skopeo {args:?} failed: {err}");
    out
}

fn http() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = http().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Imports `from` into `default/<stream>:<tag>` through the API (insecure: plain-HTTP upstream),
/// with `reference_policy` (`Source` or `Local`).
async fn import(portal: &Portal, stream: &str, from: &str, tag: &str, reference_policy: &str) -> Value {
    let body = json!({"metadata": {"name": stream}, "spec": {"import": true, "images": [{
        "from": {"kind": "DockerImage", "name": from}, "to": {"name": tag},
        "importPolicy": {"insecure": true}, "referencePolicy": {"type": reference_policy}}]}});
    let r = http()
        .post(format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamimports", portal.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["status"]["images"][0]["status"]["status"], "Success", "{v}");
    v
}

fn stored_blob(portal: &Portal, digest: &str) -> bool {
    let hex = digest.trim_start_matches("sha256:");
    portal.data_dir.join("blobs/blobs/sha256").join(&hex[..2]).join(hex).exists()
}

/// Waits (a few seconds at most) for the mirror to hold `digest`: blobs are written to the
/// blob store after the client got them.
async fn wait_stored(portal: &Portal, digest: &str) -> bool {
    for _ in 0..100 {
        if stored_blob(portal, digest) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}

fn upstream_args(up: &Registry) -> Vec<String> {
    vec!["--allowed-registry".into(), up.host.clone(), "--insecure-registry".into(), up.host.clone()]
}

fn start(up: &Registry, extra: &[&str], env: &[(&str, &str)]) -> Portal {
    let mut args: Vec<String> = upstream_args(up);
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Portal::start(&args, env)
}

#[tokio::test]
async fn skopeo_copies_in_and_out_oci_docker_and_multi_arch() {
    let up = Registry::start().await;
    let oci = up.push_image("src/app", Some("1"), "app-one", "amd64", false).await;
    let docker = up.push_image("src/dock", Some("1"), "dock-one", "amd64", true).await;
    let (index, amd, arm) = up.push_index("src/multi", "1", "multi").await;
    let portal = start(&up, &[], &[]);
    let p = &portal.host;

    // /v2/ answers as a registry (single-user loopback server: no login needed).
    let r = http().get(format!("{}/v2/", portal.url)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-distribution-api-version"], "registry/2.0");

    // Push an OCI image by tag: it enters the stream like an ImageStreamMapping.
    skopeo_ok(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/src/app:1", up.host),
        &format!("docker://{p}/default/app:v1"),
    ]);
    let (code, istag) = get_json(&format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/app:v1", portal.url)).await;
    assert_eq!(code, 200, "{istag}");
    assert_eq!(istag["image"]["metadata"]["name"], oci.digest.as_str());
    assert_eq!(istag["image"]["dockerImageReference"], format!("{p}/default/app@{}", oci.digest));
    assert_eq!(istag["image"]["dockerImageMetadata"]["Architecture"], "amd64");
    // As upstream serializes a DockerImage 1.0 (openshift/api image/docker10).
    assert_eq!(istag["image"]["dockerImageMetadata"]["kind"], "DockerImage");
    assert_eq!(istag["image"]["dockerImageMetadata"]["apiVersion"], "image.openshift.io/1.0");
    assert_eq!(istag["image"]["dockerImageMetadata"]["Config"]["Labels"]["seed"], "app-one");
    assert_eq!(istag["image"]["dockerImageLayers"][0]["name"], oci.layer_digest.as_str());
    assert_eq!(istag["image"]["metadata"]["annotations"]["openshift.io/image.managed"], "true");

    // Inspect, list tags, copy out: the same digest and content come back.
    let inspected: Value =
        serde_json::from_str(&skopeo_ok(&["inspect", "--tls-verify=false", &format!("docker://{p}/default/app:v1")])).unwrap();
    assert_eq!(inspected["Digest"], oci.digest.as_str());
    assert_eq!(inspected["Labels"]["seed"], "app-one");
    let tags: Value = serde_json::from_str(&skopeo_ok(&["list-tags", "--tls-verify=false", &format!("docker://{p}/default/app")])).unwrap();
    assert_eq!(tags["Tags"], json!(["v1"]));
    let out = portal.scratch("out-oci");
    skopeo_ok(&["copy", "--src-tls-verify=false", &format!("docker://{p}/default/app:v1"), &format!("dir:{}", out.display())]);
    assert_eq!(std::fs::read(out.join(oci.layer_digest.trim_start_matches("sha256:"))).unwrap(), oci.layer);

    // Docker schema 2 keeps its media type.
    skopeo_ok(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/src/dock:1", up.host),
        &format!("docker://{p}/default/dock:1"),
    ]);
    let r = http()
        .get(format!("{}/v2/default/dock/manifests/1", portal.url))
        .header("accept", "application/vnd.docker.distribution.manifest.v2+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(r.headers()["docker-content-digest"], docker.digest.as_str());

    // A multi-arch index with --all: the index and both children; a client that accepts no
    // index type gets the linux/amd64 child.
    skopeo_ok(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/src/multi:1", up.host),
        &format!("docker://{p}/default/multi:1"),
    ]);
    let r = http()
        .get(format!("{}/v2/default/multi/manifests/1", portal.url))
        .header("accept", "application/vnd.oci.image.index.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], index.as_str());
    let r = http()
        .get(format!("{}/v2/default/multi/manifests/1", portal.url))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["docker-content-digest"], amd.digest.as_str());
    let (_, istag) = get_json(&format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/multi:1", portal.url)).await;
    let children: Vec<&str> =
        istag["image"]["dockerImageManifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert_eq!(children, vec![arm.digest.as_str(), amd.digest.as_str()]);
    let out = portal.scratch("out-multi");
    skopeo_ok(&["copy", "--all", "--src-tls-verify=false", &format!("docker://{p}/default/multi:1"), &format!("oci:{}:x", out.display())]);

    // Delete by digest: the tag goes with its only history item.
    skopeo_ok(&["delete", "--tls-verify=false", &format!("docker://{p}/default/app@{}", oci.digest)]);
    let (code, _) = get_json(&format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/app:v1", portal.url)).await;
    assert_eq!(code, 404);
    let (ok, _, err) = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{p}/default/app:v1")]);
    assert!(!ok && err.contains("manifest unknown"), "{err}");
}

#[tokio::test]
async fn pull_through_mirrors_once_and_serves_when_the_upstream_is_down() {
    let up = Registry::start().await;
    let web = up.push_image("src/web", Some("1"), "web-one", "amd64", false).await;
    let other = up.push_image("src/web", Some("other"), "not-imported", "amd64", false).await;
    let portal = start(&up, &[], &[]);
    let p = &portal.host;
    import(&portal, "web", &format!("{}/src/web:1", up.host), "1", "Source").await;
    assert!(!stored_blob(&portal, &web.layer_digest), "an import fetches metadata only");

    // Never an open proxy: the upstream has `other`, the stream's history does not.
    let r = http().get(format!("{}/v2/default/web/manifests/{}", portal.url, other.digest)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "MANIFEST_UNKNOWN");
    let r = http().get(format!("{}/v2/default/web/blobs/{}", portal.url, other.layer_digest)).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = http().get(format!("{}/v2/default/nothing/manifests/1", portal.url)).send().await.unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "NAME_UNKNOWN");

    // Two clients at once, then the mirror holds everything.
    let a = portal.scratch("a");
    let b = portal.scratch("b");
    let src = format!("docker://{p}/default/web:1");
    let (ra, rb) = std::thread::scope(|s| {
        let ja = s.spawn(|| skopeo(&["copy", "--src-tls-verify=false", &src, &format!("dir:{}", a.display())]));
        let jb = s.spawn(|| skopeo(&["copy", "--src-tls-verify=false", &src, &format!("dir:{}", b.display())]));
        (ja.join().unwrap(), jb.join().unwrap())
    });
    assert!(ra.0 && rb.0, "{} {}", ra.2, rb.2);
    let layer_file = web.layer_digest.trim_start_matches("sha256:");
    assert_eq!(std::fs::read(a.join(layer_file)).unwrap(), web.layer);
    assert_eq!(std::fs::read(b.join(layer_file)).unwrap(), web.layer);
    for d in [&web.digest, &web.config_digest, &web.layer_digest] {
        assert!(wait_stored(&portal, d).await, "{d} mirrored");
    }

    // The upstream goes away; pulls go on from the mirror.
    drop(up);
    let c = portal.scratch("c");
    skopeo_ok(&["copy", "--src-tls-verify=false", &src, &format!("dir:{}", c.display())]);
    assert_eq!(std::fs::read(c.join(layer_file)).unwrap(), web.layer);
    // Range requests on a local blob.
    let r =
        http().get(format!("{}/v2/default/web/blobs/{}", portal.url, web.layer_digest)).header("range", "bytes=0-4").send().await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], format!("bytes 0-4/{}", web.layer_size));
    assert_eq!(r.bytes().await.unwrap().as_ref(), &web.layer[..5]);
}

#[tokio::test]
async fn pull_through_uses_namespace_credentials_and_the_mirror_can_be_off() {
    let up = Registry::start_with_auth("robot", "robot-pass").await;
    let img = up.push_image("private/app", Some("1"), "private-one", "amd64", false).await;
    let portal = start(&up, &["--registry-mirror=false"], &[]);
    let secret = json!({"metadata": {"name": "upstream"}, "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": json!({"auths": {up.host.clone(): {"username": "robot", "password": "robot-pass"}}}).to_string()}});
    let r = http().post(format!("{}/api/v1/namespaces/default/secrets", portal.url)).json(&secret).send().await.unwrap();
    assert_eq!(r.status(), 201);
    import(&portal, "private", &format!("{}/private/app:1", up.host), "1", "Source").await;
    let out = portal.scratch("out");
    skopeo_ok(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{}/default/private:1", portal.host),
        &format!("dir:{}", out.display()),
    ]);
    assert_eq!(std::fs::read(out.join(img.layer_digest.trim_start_matches("sha256:"))).unwrap(), img.layer);
    assert!(!stored_blob(&portal, &img.layer_digest), "--registry-mirror=false keeps nothing");
}

/// Signs in with the CLI as `user` and returns an API token.
fn login(portal: &Portal, config: &Path, user: &str, password: &str) -> String {
    let out = portal.cli(config, &["login", "-u", user, "-p", password]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = portal.cli(config, &["create", "token", &format!("registry-{user}")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cli_ok(portal: &Portal, config: &Path, args: &[&str]) {
    let out = portal.cli(config, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn registry_logins_tokens_and_roles() {
    let up = Registry::start().await;
    up.push_image("src/app", Some("1"), "roles", "amd64", false).await;
    let portal = start(&up, &[], &[("IMAGESTREAMS_ADMIN_PASSWORD", "admin-password-1")]);
    let p = portal.host.clone();
    let admin_cfg = portal.scratch("admin");
    login(&portal, &admin_cfg, "admin", "admin-password-1");
    cli_ok(&portal, &admin_cfg, &["create", "namespace", "team"]);
    cli_ok(&portal, &admin_cfg, &["create", "user", "vera", "--password", "vera-password-1"]);
    cli_ok(&portal, &admin_cfg, &["create", "user", "eddie", "--password", "eddie-password-1"]);
    cli_ok(&portal, &admin_cfg, &["policy", "add-role-to-user", "viewer", "vera", "-n", "team"]);
    cli_ok(&portal, &admin_cfg, &["policy", "add-role-to-user", "editor", "eddie", "-n", "team"]);

    // Anonymous: challenged with the token realm.
    let r = http().get(format!("{}/v2/", portal.url)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"].to_str().unwrap(), format!("Bearer realm=\"http://{p}/v2/token\",service=\"{p}\""));

    let src = format!("docker://{}/src/app:1", up.host);
    let dest = format!("docker://{p}/team/app:1");
    // A viewer may not push; an editor may (password, then an API token as the password).
    let (ok, _, err) =
        skopeo(&["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", "vera:vera-password-1", &src, &dest]);
    assert!(!ok, "a viewer pushed");
    assert!(err.contains("denied") || err.contains("unauthorized"), "{err}");
    let (ok, _, err) =
        skopeo(&["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", "eddie:wrong-password", &src, &dest]);
    assert!(!ok && err.contains("unauthorized"), "{err}");
    skopeo_ok(&["copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", "eddie:eddie-password-1", &src, &dest]);
    let eddie_cfg = portal.scratch("eddie");
    let token = login(&portal, &eddie_cfg, "eddie", "eddie-password-1");
    assert!(token.starts_with("ist_"), "{token}");
    skopeo_ok(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("anything:{token}"),
        &src,
        &format!("docker://{p}/team/app:2"),
    ]);

    // The viewer pulls; anonymous does not, until the namespace is public.
    skopeo_ok(&["inspect", "--tls-verify=false", "--creds", "vera:vera-password-1", &format!("docker://{p}/team/app:1")]);
    let (ok, _, _) = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{p}/team/app:1")]);
    assert!(!ok, "anonymous pulled from a private namespace");
    cli_ok(&portal, &admin_cfg, &["set", "visibility", "public", "-n", "team"]);
    skopeo_ok(&["inspect", "--tls-verify=false", &format!("docker://{p}/team/app:1")]);

    // A token asked for pull and push grants a viewer pull only.
    let r = http()
        .get(format!("{}/v2/token?service={p}&scope=repository:team/app:pull,push", portal.url))
        .basic_auth("vera", Some("vera-password-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let answer: Value = r.json().await.unwrap();
    let token = answer["token"].as_str().unwrap();
    use base64::Engine;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap())
            .unwrap();
    assert_eq!(claims["access"], json!([{"type": "repository", "name": "team/app", "actions": ["pull"]}]));
    // Its bearer may not push a blob: 401 naming the scope to ask for.
    let r = http().post(format!("{}/v2/team/app/blobs/uploads/", portal.url)).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"].to_str().unwrap().contains("scope=\"repository:team/app:pull,push\""));
    // The catalog shows what the caller may read.
    let r = http().get(format!("{}/v2/_catalog", portal.url)).basic_auth("vera", Some("vera-password-1")).send().await.unwrap();
    let catalog: Value = r.json().await.unwrap();
    assert_eq!(catalog["repositories"], json!(["team/app"]));
    // Registry pushes are in the audit log.
    let out = portal.cli(&admin_cfg, &["get", "audit", "-n", "team"]);
    let audit = String::from_utf8_lossy(&out.stdout);
    assert!(audit.contains("/v2/team/app/manifests/1"), "{audit}");
}

#[tokio::test]
async fn the_local_policy_pull_spec_is_pullable() {
    let up = Registry::start().await;
    let img = up.push_image("src/local", Some("1"), "local-one", "amd64", false).await;
    let portal = start(&up, &[], &[]);
    import(&portal, "local", &format!("{}/src/local:1", up.host), "1", "Local").await;
    let (_, istag) = get_json(&format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/local:1", portal.url)).await;
    let spec = istag["image"]["dockerImageReference"].as_str().unwrap().to_string();
    assert_eq!(spec, format!("{}/default/local@{}", portal.host, img.digest));
    let inspected: Value = serde_json::from_str(&skopeo_ok(&["inspect", "--tls-verify=false", &format!("docker://{spec}")])).unwrap();
    assert_eq!(inspected["Digest"], img.digest.as_str());
    let out = portal.scratch("out");
    skopeo_ok(&["copy", "--src-tls-verify=false", &format!("docker://{spec}"), &format!("dir:{}", out.display())]);
    assert_eq!(std::fs::read(out.join(img.layer_digest.trim_start_matches("sha256:"))).unwrap(), img.layer);
}

/// podman, where it runs here (root, vfs storage in a scratch directory).
fn podman(root: &Path, args: &[&str]) -> Option<(bool, String)> {
    let out = Command::new("podman")
        .arg("--root")
        .arg(root.join("root"))
        .arg("--runroot")
        .arg(root.join("run"))
        .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
        .args(args)
        .output()
        .ok()?;
    Some((out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))))
}

#[tokio::test]
async fn podman_pulls_through_and_pushes() {
    let up = Registry::start().await;
    // A layer podman can unpack: an uncompressed tar of one file.
    let files = tempfile::tempdir().unwrap();
    std::fs::write(files.path().join("hello.txt"), "hello from the integrated registry\n").unwrap();
    let tar = Command::new("tar").args(["-cf", "-", "-C"]).arg(files.path()).arg("hello.txt").output().unwrap();
    assert!(tar.status.success());
    up.push_image_with_layer("src/pod", Some("1"), "pod-one", "amd64", false, tar.stdout, true).await;
    let portal = start(&up, &[], &[]);
    let root = portal.scratch("podman");
    match podman(&root, &["info"]) {
        Some((true, _)) => {}
        other => {
            eprintln!("podman does not run here, skipping: {other:?}");
            return;
        }
    }
    import(&portal, "pod", &format!("{}/src/pod:1", up.host), "1", "Source").await;
    let (ok, out) = podman(&root, &["pull", "--tls-verify=false", &format!("{}/default/pod:1", portal.host)]).unwrap();
    assert!(ok, "{out}");
    let (ok, out) =
        podman(&root, &["tag", &format!("{}/default/pod:1", portal.host), &format!("{}/default/pushed:2", portal.host)]).unwrap();
    assert!(ok, "{out}");
    let (ok, out) = podman(&root, &["push", "--tls-verify=false", &format!("{}/default/pushed:2", portal.host)]).unwrap();
    assert!(ok, "{out}");
    let (code, istag) = get_json(&format!("{}/apis/image.openshift.io/v1/namespaces/default/imagestreamtags/pushed:2", portal.url)).await;
    assert_eq!(code, 200, "{istag}");
}
