//! Registry failures as upstream's import statuses (spec §4.2 `formatRepositoryError`). Every
//! message that carries text from a registry or from the HTTP client is scrubbed before it leaves
//! here: URLs lose their user info, query and fragment (a redirect to storage often carries a
//! signature there) and the text is cut to `MAX_REGISTRY_TEXT` bytes, since statuses are stored,
//! sent in watch events and webhooks, and shown to every reader of the stream (review M3, M6).
//! Must not: retry or decide what a failure means for the tag (the service records it), or
//! return a registry's text unscrubbed.

use app::domain::reference::DockerImageReference;
use app::model::OperationStatus;
use oci_client::errors::{OciDistributionError, OciErrorCode};
use std::time::Duration;

/// The normalised form importer messages use (`docker.io/library/busybox:1.36`).
fn normalised(r: &DockerImageReference) -> String {
    let mut d = r.docker_client_defaults();
    if !r.id.is_empty() {
        d.tag.clear();
    }
    d.to_string()
}

pub fn http_only_message(r: &DockerImageReference) -> String {
    format!("the repository {} is HTTP only and requires the insecure flag to import", r.repository_name())
}

pub fn timeout(r: &DockerImageReference, d: Duration) -> OperationStatus {
    OperationStatus::failure("InternalError", format!("{}: the registry did not answer within {}s", normalised(r), d.as_secs()), 500)
}

/// A blob the manifest names (its image config) that the registry does not have: not the
/// image that is missing, as the generic not-found message would say.
pub fn missing_blob(r: &DockerImageReference, what: &str, digest: &str) -> OperationStatus {
    OperationStatus::failure(
        "NotFound",
        format!("{}: the {what} {digest} the manifest names is missing from the registry", normalised(r)),
        404,
    )
}

pub fn invalid_manifest(r: &DockerImageReference, detail: &str) -> OperationStatus {
    OperationStatus::failure("InternalError", scrubbed(&format!("{}: {detail}", normalised(r))), 500)
}

/// The most bytes of a failure message kept (registries answer errors with whole pages).
pub const MAX_REGISTRY_TEXT: usize = 1024;

/// `text` with every `http://` / `https://` URL in it reduced to scheme, host, port and path
/// (no user info, query or fragment), cut to `MAX_REGISTRY_TEXT` bytes on a character boundary.
pub fn scrubbed(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_REGISTRY_TEXT + 8));
    let mut rest = text;
    while let Some(at) = ["http://", "https://"].iter().filter_map(|p| rest.find(p)).min() {
        out.push_str(&rest[..at]);
        let url_text = &rest[at..];
        let end = url_text.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | ')' | '`')).unwrap_or(url_text.len());
        // Punctuation that ends a sentence or a list item is not part of the URL.
        let end = url_text[..end].trim_end_matches([',', '.', ';', ':']).len();
        let (candidate, after) = url_text.split_at(end);
        match reqwest::Url::parse(candidate) {
            Ok(mut u) => {
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.set_query(None);
                u.set_fragment(None);
                out.push_str(u.as_str());
            }
            // Not a URL after all: keep the scheme's letters only, never the rest of the token.
            Err(_) => out.push_str(&candidate[..candidate.find("//").map_or(0, |i| i + 2)]),
        }
        rest = after;
        if out.len() > MAX_REGISTRY_TEXT {
            break;
        }
    }
    out.push_str(rest);
    if out.len() > MAX_REGISTRY_TEXT {
        let mut cut = MAX_REGISTRY_TEXT;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// A failure to talk to the registry at all (refused, TLS mismatch), as opposed to an answer.
pub fn is_transport_error(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(re) => re.is_connect() || re.is_request() && !re.is_timeout() && re.status().is_none(),
        _ => false,
    }
}

/// Whether the registry speaks plain HTTP (so a secure attempt failed only for want of TLS).
pub async fn answers_plain_http(registry: &str, proxy: &str, timeout: Duration) -> bool {
    let Ok(proxy) = reqwest::Proxy::http(proxy) else { return false };
    let Ok(client) = reqwest::Client::builder().proxy(proxy).timeout(timeout.min(Duration::from_secs(5))).build() else { return false };
    // Through the guarding proxy, which refuses (403) what the guard refuses.
    client
        .get(format!("http://{registry}/v2/"))
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() != 403 || r.headers().contains_key("docker-distribution-api-version"))
}

fn not_found(r: &DockerImageReference) -> OperationStatus {
    OperationStatus::failure("NotFound", format!("dockerimage.image.openshift.io \"{}\" not found", normalised(r)), 404)
}

fn unauthorized(r: &DockerImageReference, detail: &str) -> OperationStatus {
    if detail.contains("username or password") {
        return OperationStatus::failure("Unauthorized", format!("incorrect username or password for image \"{}\"", normalised(r)), 401);
    }
    OperationStatus::failure("Unauthorized", format!("you may not have access to the container image \"{}\"", normalised(r)), 401)
}

/// The import status of a registry failure, its message scrubbed (see the module doc).
pub fn map(r: &DockerImageReference, e: &OciDistributionError) -> OperationStatus {
    let mut status = classify(r, e);
    status.message = scrubbed(&status.message);
    status
}

fn classify(r: &DockerImageReference, e: &OciDistributionError) -> OperationStatus {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => not_found(r),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            if codes.iter().any(|c| {
                matches!(c, OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound | OciErrorCode::BlobUnknown)
            }) {
                not_found(r)
            } else if codes.iter().any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied)) {
                unauthorized(r, &envelope.to_string())
            } else {
                OperationStatus::failure("InternalError", format!("{}: {envelope}", normalised(r)), 500)
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => not_found(r),
        // The guarding proxy's refusal (a redirect to a forbidden place, say).
        OciDistributionError::ServerError { code: 403, message, .. }
            if message.contains("non-public address") || message.contains("not allowed by whitelist") =>
        {
            OperationStatus::failure("Forbidden", message.clone(), 403)
        }
        OciDistributionError::ServerError { code: 401 | 403, message, .. } => unauthorized(r, message),
        OciDistributionError::ServerError { code: 502, message, .. } if message.starts_with("could not connect") => {
            OperationStatus::failure("InternalError", format!("{}: the registry could not be reached: {message}", normalised(r)), 500)
        }
        OciDistributionError::AuthenticationFailure(m) => unauthorized(r, m),
        OciDistributionError::UnauthorizedError { .. } => unauthorized(r, ""),
        OciDistributionError::RequestError(re) if re.is_timeout() => {
            OperationStatus::failure("InternalError", format!("{}: the registry did not answer in time", normalised(r)), 500)
        }
        OciDistributionError::RequestError(re) if re.is_connect() => OperationStatus::failure(
            "InternalError",
            format!("{}: the registry could not be reached: {}", normalised(r), root_cause(re)),
            500,
        ),
        other => OperationStatus::failure("InternalError", format!("{}: {other}", normalised(r)), 500),
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_text_loses_credentials_in_urls_and_is_cut_on_a_character_boundary() {
        let s = scrubbed(
            "error sending request for url (https://user:pa55@blob.example.com/v2/x/blobs/sha256:ab?X-Amz-Signature=SECRET&t=1#frag): closed",
        );
        assert_eq!(s, "error sending request for url (https://blob.example.com/v2/x/blobs/sha256:ab): closed");
        assert_eq!(scrubbed("see http://[bad/?q=SECRET then"), "see http:// then");
        let long = format!("{}{}", "é".repeat(600), "tail");
        let cut = scrubbed(&long);
        assert!(cut.len() <= MAX_REGISTRY_TEXT + '…'.len_utf8() && cut.ends_with('…') && !cut.contains("tail"), "{}", cut.len());
        assert_eq!(scrubbed("no url here"), "no url here");
    }

    #[test]
    fn a_registry_error_page_is_stored_scrubbed_and_short() {
        let r = DockerImageReference::parse("registry.example.com/team/app:1").unwrap();
        let e = OciDistributionError::ServerError {
            code: 500,
            url: "https://reg-user:reg-pass@registry.example.com/v2/team/app/manifests/1?X-Amz-Signature=URLSIG".into(),
            message: format!("see https://a:b@cdn.example.com/blob?token=BODYTOKEN {}", "<p>oops</p>".repeat(1000)),
        };
        let status = map(&r, &e);
        assert_eq!(status.code, 500);
        for secret in ["URLSIG", "BODYTOKEN", "reg-pass", "reg-user", "a:b@"] {
            assert!(!status.message.contains(secret), "{secret}: {}", status.message);
        }
        assert!(
            status.message.starts_with(
                "registry.example.com/team/app:1: Server error: url https://registry.example.com/v2/team/app/manifests/1, code: 500"
            ),
            "{}",
            status.message
        );
        assert!(status.message.len() <= MAX_REGISTRY_TEXT + '…'.len_utf8(), "{}", status.message.len());
    }
}
