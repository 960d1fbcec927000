//! Registry requests in process (no sockets) for the registry tests that push and pull many
//! images: one request helper, blob pushes, image manifests over given configs and layers.
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A registry answer.
pub struct Answer {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
    }
    /// The OCI error code, if the answer is an error envelope.
    pub fn code(&self) -> String {
        self.json()["errors"][0]["code"].as_str().unwrap_or_default().to_string()
    }
}

pub async fn call(router: &Router, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = router.clone().oneshot(req.body(Body::from(body)).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    // A body that breaks off mid-way (a blob gone under a read) is an empty body here: the
    // caller's digest check catches it.
    let body = match resp.into_body().collect().await {
        Ok(b) => b.to_bytes().to_vec(),
        Err(_) => vec![],
    };
    Answer { status, headers, body }
}

pub fn sha(data: &[u8]) -> String {
    super::registry::sha256(data)
}

/// Pushes a blob in one request (`POST ?digest=`).
pub async fn push_blob(router: &Router, repo: &str, data: &[u8]) -> Answer {
    call(router, "POST", &format!("/v2/{repo}/blobs/uploads/?digest={}", sha(data)), &[], data.to_vec()).await
}

/// Pushes a blob as POST, PATCH, PUT (an upload session in two chunks).
pub async fn push_blob_chunked(router: &Router, repo: &str, data: &[u8]) -> Answer {
    let start = call(router, "POST", &format!("/v2/{repo}/blobs/uploads/"), &[], vec![]).await;
    if start.status != 202 {
        return start;
    }
    let location = start.header("location");
    let half = data.len() / 2;
    let range = format!("0-{}", half.saturating_sub(1));
    let a = call(router, "PATCH", &location, &[("content-range", range.as_str())], data[..half].to_vec()).await;
    if a.status != 202 {
        return a;
    }
    let sep = if location.contains('?') { '&' } else { '?' };
    call(router, "PUT", &format!("{location}{sep}digest={}", sha(data)), &[], data[half..].to_vec()).await
}

/// An image config distinct per `seed`.
pub fn config(seed: &str) -> Vec<u8> {
    json!({"architecture": "amd64", "os": "linux", "config": {"Env": [format!("SEED={seed}")], "Labels": {"seed": seed}},
        "rootfs": {"type": "layers", "diff_ids": []}})
    .to_string()
    .into_bytes()
}

/// An image manifest over a config and layers.
pub fn image_manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(l), "size": l.len()}))
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len()},
        "layers": layers
    })
    .to_string()
    .into_bytes()
}

/// PUTs a manifest by tag or digest.
pub async fn put_manifest(router: &Router, repo: &str, reference: &str, manifest: &[u8]) -> Answer {
    call(router, "PUT", &format!("/v2/{repo}/manifests/{reference}"), &[("content-type", OCI_MANIFEST)], manifest.to_vec()).await
}

/// Pulls a manifest and every blob it names, checking each digest: `Ok` with the bytes pulled,
/// or what went wrong.
pub async fn pull_verified(router: &Router, repo: &str, reference: &str) -> Result<u64, String> {
    let m = call(router, "GET", &format!("/v2/{repo}/manifests/{reference}"), &[("accept", OCI_MANIFEST)], vec![]).await;
    if m.status != 200 {
        return Err(format!("manifest {repo}:{reference}: {} {}", m.status, m.code()));
    }
    if reference.starts_with("sha256:") && sha(&m.body) != reference {
        return Err(format!("manifest {repo}@{reference}: wrong bytes"));
    }
    let doc: Value = serde_json::from_slice(&m.body).map_err(|e| format!("manifest {repo}:{reference}: {e}"))?;
    let mut digests = vec![doc["config"]["digest"].as_str().unwrap_or_default().to_string()];
    digests.extend(doc["layers"].as_array().into_iter().flatten().map(|l| l["digest"].as_str().unwrap_or_default().to_string()));
    let mut bytes = m.body.len() as u64;
    for d in digests {
        let b = call(router, "GET", &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await;
        if b.status != 200 {
            return Err(format!("blob {d} of {repo}:{reference}: {} {}", b.status, b.code()));
        }
        if sha(&b.body) != d {
            return Err(format!("blob {d} of {repo}:{reference}: the bytes have the digest {}", sha(&b.body)));
        }
        bytes += b.body.len() as u64;
    }
    Ok(bytes)
}

/// Where the filesystem blob store keeps `digest` under `blobs_dir`.
pub fn object_path(blobs_dir: &std::path::Path, digest: &str) -> std::path::PathBuf {
    let hex = digest.trim_start_matches("sha256:");
    blobs_dir.join("blobs").join("sha256").join(&hex[..2]).join(hex)
}
