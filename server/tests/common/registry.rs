//! A real registry for tests: Debian's `docker-registry` (CNCF distribution) on 127.0.0.1 with a
//! free port and our own config file, filled with images the tests build and push with
//! oci-client. Stopped when dropped.
#![allow(dead_code)]

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use reqwest::header::HeaderValue;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
    client: Client,
    auth: RegistryAuth,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Reads docker-registry's log until its `listening on ADDR` line and returns ADDR; the rest of
/// the log is drained in the background so the registry never blocks on a full pipe.
fn listening_address(stderr: std::process::ChildStderr) -> String {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("msg=\"listening on ").nth(1)
                && let Some(addr) = rest.split('"').next()
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20)).expect("docker-registry did not say where it listens")
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// What a pushed image looks like, so tests can compare what was imported.
#[derive(Clone, Debug)]
pub struct Pushed {
    pub digest: String,
    pub config_digest: String,
    pub layer_digest: String,
    pub layer_size: usize,
    pub config_size: usize,
    /// The manifest's own size (what an index's descriptor must say).
    pub manifest_size: usize,
    /// The layer's bytes as pushed (gzip of `layer of <seed>` unless given).
    pub layer: Vec<u8>,
}

/// `gzip -n` of `data` (a real compressed layer: registry clients recompress layers whose
/// media type says gzip but whose bytes are not).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    filter(&["-c", "-n"], data)
}

pub fn gunzip(data: &[u8]) -> Vec<u8> {
    filter(&["-d", "-c"], data)
}

fn filter(args: &[&str], data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("gzip").args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    out.stdout
}

impl Registry {
    pub async fn start() -> Registry {
        Self::start_inner(None).await
    }

    /// A registry that requires HTTP basic auth (htpasswd) for everything.
    pub async fn start_with_auth(user: &str, password: &str) -> Registry {
        Self::start_inner(Some((user, password))).await
    }

    async fn start_inner(auth: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        if let Some((user, password)) = auth {
            let htpasswd = dir.path().join("htpasswd");
            std::fs::write(&htpasswd, format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap())).unwrap();
            let mut text = std::fs::read_to_string(&config).unwrap();
            text.push_str(&format!("auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n", htpasswd.display()));
            std::fs::write(&config, text).unwrap();
        }
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("docker-registry (Debian package) must be installed");
        // The registry binds a port the system picks (a port probed free beforehand can be taken
        // by a test running alongside) and says which at level info: `msg="listening on ADDR"`.
        let host = listening_address(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let http = reqwest::Client::new();
        loop {
            if let Ok(r) = http.get(format!("http://{host}/v2/")).send().await
                && (r.status().is_success() || r.status().as_u16() == 401)
            {
                break;
            }
            assert!(Instant::now() < deadline, "docker-registry did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let client = Client::new(ClientConfig { protocol: ClientProtocol::Http, ..Default::default() });
        let auth = match auth {
            Some((u, p)) => RegistryAuth::Basic(u.into(), p.into()),
            None => RegistryAuth::Anonymous,
        };
        Registry { child, host, _dir: dir, client, auth }
    }

    fn reference(&self, repo: &str, tag_or_digest: &str) -> Reference {
        if tag_or_digest.starts_with("sha256:") {
            Reference::with_digest(self.host.clone(), repo.into(), tag_or_digest.into())
        } else {
            Reference::with_tag(self.host.clone(), repo.into(), tag_or_digest.into())
        }
    }

    async fn blob(&self, repo: &str, data: &[u8]) -> String {
        let d = sha256(data);
        let r = self.reference(repo, "latest");
        self.client.store_auth_if_needed(r.resolve_registry(), &self.auth).await;
        self.client.push_blob(&r, data.to_vec(), &d).await.unwrap();
        d
    }

    async fn manifest(&self, repo: &str, tag_or_digest: &str, body: &[u8], media_type: &'static str) {
        let r = self.reference(repo, tag_or_digest);
        self.client.store_auth_if_needed(r.resolve_registry(), &self.auth).await;
        self.client.push_manifest_raw(&r, body.to_vec(), HeaderValue::from_static(media_type)).await.unwrap();
    }

    /// Pushes a one-layer image with a known config under `repo:tag` (or only by digest when
    /// `tag` is None). `seed` makes contents distinct; `docker` picks Docker schema 2 types.
    pub async fn push_image(&self, repo: &str, tag: Option<&str>, seed: &str, arch: &str, docker: bool) -> Pushed {
        self.push_image_with_layer(repo, tag, seed, arch, docker, gzip(format!("layer of {seed}").as_bytes()), false).await
    }

    /// `push_image` with the given layer bytes; `tar` marks them an uncompressed tar (a layer a
    /// container engine can unpack: its media type says so and its diff id is its digest).
    #[allow(clippy::too_many_arguments)]
    pub async fn push_image_with_layer(
        &self,
        repo: &str,
        tag: Option<&str>,
        seed: &str,
        arch: &str,
        docker: bool,
        layer: Vec<u8>,
        tar: bool,
    ) -> Pushed {
        let layer_digest = self.blob(repo, &layer).await;
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "created": "2026-01-02T03:04:05Z",
            "author": "tests@imagestreams",
            "config": {
                "User": "1001",
                "Env": ["PATH=/usr/bin", format!("SEED={seed}")],
                "Cmd": ["/bin/run", seed],
                "Entrypoint": ["/entry"],
                "WorkingDir": "/work",
                "ExposedPorts": {"8080/tcp": {}},
                "Volumes": {"/data": {}},
                "Labels": {"seed": seed}
            },
            "rootfs": {"type": "layers", "diff_ids": [if tar { sha256(&layer) } else { sha256(&gunzip(&layer)) }]}
        })
        .to_string()
        .into_bytes();
        let config_digest = self.blob(repo, &config).await;
        let (mt, config_mt, layer_mt) = if docker {
            (DOCKER_MANIFEST, "application/vnd.docker.container.image.v1+json", "application/vnd.docker.image.rootfs.diff.tar.gzip")
        } else {
            (OCI_MANIFEST, "application/vnd.oci.image.config.v1+json", "application/vnd.oci.image.layer.v1.tar+gzip")
        };
        let layer_mt = if tar && !docker { "application/vnd.oci.image.layer.v1.tar" } else { layer_mt };
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": mt,
            "config": {"mediaType": config_mt, "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": layer_mt, "digest": layer_digest, "size": layer.len()}]
        })
        .to_string()
        .into_bytes();
        let digest = sha256(&manifest);
        self.manifest(repo, tag.unwrap_or(&digest), &manifest, mt).await;
        Pushed {
            digest,
            config_digest,
            layer_digest,
            layer_size: layer.len(),
            config_size: config.len(),
            manifest_size: manifest.len(),
            layer: layer.clone(),
        }
    }

    /// Pushes an OCI index of an amd64 and an arm64 image under `repo:tag`.
    pub async fn push_index(&self, repo: &str, tag: &str, seed: &str) -> (String, Pushed, Pushed) {
        let amd = self.push_image(repo, None, &format!("{seed}-amd64"), "amd64", false).await;
        let arm = self.push_image(repo, None, &format!("{seed}-arm64"), "arm64", false).await;
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": arm.digest, "size": arm.manifest_size, "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                {"mediaType": OCI_MANIFEST, "digest": amd.digest, "size": amd.manifest_size, "platform": {"architecture": "amd64", "os": "linux"}}
            ]
        })
        .to_string()
        .into_bytes();
        let digest = sha256(&index);
        self.manifest(repo, tag, &index, OCI_INDEX).await;
        (digest, amd, arm)
    }

    /// Deletes a tag's manifest (by digest) so the tag disappears upstream.
    pub async fn delete_manifest(&self, repo: &str, digest: &str) {
        let status =
            reqwest::Client::new().delete(format!("http://{}/v2/{repo}/manifests/{digest}", self.host)).send().await.unwrap().status();
        assert_eq!(status.as_u16(), 202, "delete manifest");
    }
}
