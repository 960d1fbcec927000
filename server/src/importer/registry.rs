//! Bounded HTTP to one registry over one transport: manifests, blobs and tag pages are read
//! with a byte budget (a `Content-Length` over it is refused before reading, a body that grows
//! past it is dropped mid-stream), error bodies are read only so far and kept shorter still, and
//! auth (Basic or a Bearer token from the challenge's realm) is negotiated on a 401 and cached
//! per repository. oci-client reads every body whole (`res.bytes()`, upstream issue
//! oras-project/rust-oci-client#206), which is why these requests are made here.
//!
//! Must not: decide what a document means (`manifest` parses), or map failures to statuses
//! (`errors` does); every connection goes through the guarding egress proxy the caller built
//! the client with.

use super::RegistryLogin;
use bytes::{Bytes, BytesMut};
use oci_client::Reference;
use oci_client::errors::{OciDistributionError, OciEnvelope};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderMap, HeaderValue, WWW_AUTHENTICATE};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Mutex;

/// Largest manifest or manifest list read (CNCF distribution refuses to store bigger ones).
pub const MAX_MANIFEST_BYTES: usize = 4 << 20;
/// Largest image config read.
pub const MAX_CONFIG_BYTES: usize = 8 << 20;
/// Largest page of a tag list read.
pub const MAX_TAG_PAGE_BYTES: usize = 4 << 20;
/// How much of an error answer is read (enough for any OCI error envelope worth reading).
pub const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// How much of an error answer's text is kept for the message.
pub const MAX_ERROR_TEXT: usize = 1024;
/// Largest token answer of an auth realm read.
const MAX_TOKEN_BYTES: usize = 64 << 10;

/// Why a registry request did not give a usable document.
#[derive(Debug)]
pub enum Failure {
    /// The registry answered with an error, or could not be reached (mapped by `errors`).
    Registry(OciDistributionError),
    /// The answer was refused here (too big, wrong digest): the detail names the rule.
    Refused(String),
    /// The registry answered 429 Too Many Requests, with its `Retry-After` in seconds if it
    /// gave one (a date is read as "no advice").
    Throttled(Option<u64>),
}

impl From<OciDistributionError> for Failure {
    fn from(e: OciDistributionError) -> Self {
        Failure::Registry(e)
    }
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        Failure::Registry(OciDistributionError::RequestError(e))
    }
}

/// `4 MiB`, `64 KiB`: how limits read in messages.
pub fn human_bytes(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

/// One registry reached over one transport with one credential set, and the authorizations it
/// granted so far (per repository: Bearer tokens are scoped to one).
pub struct Endpoint {
    http: reqwest::Client,
    scheme: &'static str,
    login: Option<RegistryLogin>,
    authorizations: Mutex<HashMap<String, HeaderValue>>,
}

/// The `tags/list` answer (`tags` is `null` for an empty repository on some registries).
#[derive(serde::Deserialize)]
pub struct TagPage {
    #[serde(default)]
    pub tags: Option<Vec<String>>,
}

#[derive(serde::Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl Endpoint {
    pub fn new(http: reqwest::Client, plain_http: bool, login: Option<RegistryLogin>) -> Self {
        Endpoint { http, scheme: if plain_http { "http" } else { "https" }, login, authorizations: Mutex::new(HashMap::new()) }
    }

    fn base(&self, r: &Reference) -> String {
        format!("{}://{}/v2/{}", self.scheme, r.resolve_registry(), r.repository())
    }

    /// The manifest `r` names (by digest or tag) and its digest: the registry's
    /// `Docker-Content-Digest`, checked against the body, or the body's sha256 when it sends none.
    pub async fn manifest(&self, r: &Reference, accept: &[&str]) -> Result<(Bytes, String), Failure> {
        self.typed_manifest(r, accept).await.map(|(body, digest, _)| (body, digest))
    }

    /// `manifest`, with the registry's `Content-Type` (the manifest's media type on the wire).
    pub async fn typed_manifest(&self, r: &Reference, accept: &[&str]) -> Result<(Bytes, String, Option<String>), Failure> {
        let reference = r.digest().or(r.tag()).unwrap_or("latest");
        let url = format!("{}/manifests/{reference}", self.base(r));
        let (headers, body) = self.get(r, &url, accept, MAX_MANIFEST_BYTES, "manifest").await?;
        let header = headers.get("docker-content-digest").and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty());
        let digest = content_digest(&body, header, r.digest(), "manifest")?;
        let content_type = headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
        Ok((body, digest, content_type))
    }

    /// An open GET of a blob, answered 200: the body is the caller's to read (and verify); any
    /// other answer is the registry's error (429 as `Failure::Throttled`).
    pub async fn open_blob(&self, r: &Reference, digest: &str) -> Result<reqwest::Response, Failure> {
        let url = format!("{}/blobs/{digest}", self.base(r));
        let res = self.answer(r, &url, &[]).await?;
        if res.status() == StatusCode::OK {
            return Ok(res);
        }
        Err(failure_of(res, &url).await)
    }

    /// A blob of the repository (an image config), at most `limit` bytes, checked against its digest.
    pub async fn blob(&self, r: &Reference, digest: &str, limit: usize, what: &str) -> Result<Bytes, Failure> {
        let url = format!("{}/blobs/{digest}", self.base(r));
        let (_, body) = self.get(r, &url, &[], limit, what).await?;
        verify(&body, digest, what)?;
        Ok(body)
    }

    /// One page of the repository's tags (`n` at most, after `last`).
    pub async fn tag_page(&self, r: &Reference, n: usize, last: Option<&str>) -> Result<TagPage, Failure> {
        let mut url = reqwest::Url::parse(&format!("{}/tags/list", self.base(r)))
            .map_err(|e| Failure::Registry(OciDistributionError::UrlParseError(e.to_string())))?;
        url.query_pairs_mut().append_pair("n", &n.to_string());
        if let Some(last) = last {
            url.query_pairs_mut().append_pair("last", last);
        }
        let (_, body) = self.get(r, url.as_str(), &[], MAX_TAG_PAGE_BYTES, "tag list").await?;
        serde_json::from_slice(&body).map_err(|e| Failure::Refused(format!("the tag list is not valid: {e}")))
    }

    /// A GET with the repository's cached authorization; a 401 negotiates a new one from the
    /// challenge and tries once more (tokens expire).
    async fn get(&self, r: &Reference, url: &str, accept: &[&str], limit: usize, what: &str) -> Result<(HeaderMap, Bytes), Failure> {
        let res = self.answer(r, url, accept).await?;
        finish(res, url, limit, what).await
    }

    /// The registry's answer to a GET, body unread: with the repository's cached
    /// authorization, or, after a 401, with one negotiated from the challenge (once).
    async fn answer(&self, r: &Reference, url: &str, accept: &[&str]) -> Result<reqwest::Response, Failure> {
        let repository = r.repository().to_string();
        let cached = self.authorizations.lock().unwrap_or_else(|p| p.into_inner()).get(&repository).cloned();
        let res = self.send(url, accept, cached.as_ref()).await?;
        if res.status() != StatusCode::UNAUTHORIZED {
            return Ok(res);
        }
        let challenge = res.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).map(str::to_string);
        let Some(authorization) = self.authorize(r, challenge.as_deref()).await? else {
            return Ok(res);
        };
        if cached.as_ref() == Some(&authorization) {
            // The same authorization was just refused: asking again would not change that.
            return Ok(res);
        }
        drop(res);
        self.authorizations.lock().unwrap_or_else(|p| p.into_inner()).insert(repository, authorization.clone());
        self.send(url, accept, Some(&authorization)).await
    }

    async fn send(&self, url: &str, accept: &[&str], authorization: Option<&HeaderValue>) -> Result<reqwest::Response, Failure> {
        let mut req = self.http.get(url);
        if !accept.is_empty() {
            req = req.header(ACCEPT, accept.join(", "));
        }
        if let Some(a) = authorization {
            req = req.header(AUTHORIZATION, a.clone());
        }
        Ok(req.send().await?)
    }

    /// The authorization a challenge asks for: a Bearer token from its realm (with the login,
    /// if any, as Basic credentials there), or Basic credentials; `None` when there is nothing to
    /// offer (anonymous against a Basic realm).
    async fn authorize(&self, r: &Reference, challenge: Option<&str>) -> Result<Option<HeaderValue>, Failure> {
        let challenges = challenge.and_then(|c| http_auth::parse_challenges(c).ok()).unwrap_or_default();
        let bearer = challenges.iter().find(|c| c.scheme.eq_ignore_ascii_case("bearer"));
        if let Some(bearer) = bearer {
            let param = |name: &str| bearer.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.to_unescaped());
            if let Some(realm) = param("realm") {
                let mut req = self.http.get(&realm).query(&[("scope", format!("repository:{}:pull", r.repository()))]);
                if let Some(service) = param("service") {
                    req = req.query(&[("service", service)]);
                }
                if let Some(l) = &self.login {
                    req = req.basic_auth(&l.username, Some(&l.password));
                }
                let res = req.send().await?;
                let status = res.status();
                let body = read_prefix(res, MAX_TOKEN_BYTES).await?;
                if status != StatusCode::OK {
                    return Err(Failure::Registry(OciDistributionError::AuthenticationFailure(error_text(&body))));
                }
                let answer: TokenAnswer = serde_json::from_slice(&body)
                    .map_err(|e| Failure::Registry(OciDistributionError::RegistryTokenDecodeError(e.to_string())))?;
                let Some(token) = answer.token.or(answer.access_token).filter(|t| !t.is_empty()) else {
                    return Ok(None);
                };
                return Ok(HeaderValue::from_str(&format!("Bearer {token}")).ok());
            }
        }
        let basic = challenges.iter().any(|c| c.scheme.eq_ignore_ascii_case("basic"));
        match &self.login {
            // A registry without a usable challenge still gets the login (some send none).
            Some(l) if basic || bearer.is_none() => {
                use base64::Engine;
                let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", l.username, l.password));
                Ok(HeaderValue::from_str(&format!("Basic {encoded}")).ok())
            }
            _ => Ok(None),
        }
    }
}

/// The body of a successful answer within `limit`, or the registry's error (from a bounded
/// prefix of its body).
async fn finish(res: reqwest::Response, url: &str, limit: usize, what: &str) -> Result<(HeaderMap, Bytes), Failure> {
    let status = res.status();
    let headers = res.headers().clone();
    if status == StatusCode::OK {
        return match read_capped(res, limit).await {
            Ok(Some(body)) => Ok((headers, body)),
            Ok(None) => Err(Failure::Refused(format!("the {what} is larger than {}", human_bytes(limit)))),
            // The registry answered, then the body ended early (fewer bytes than announced, or
            // the connection broke): reqwest calls that "error decoding response body", which
            // says nothing to whoever reads the tag's condition.
            Err(e) if !e.is_timeout() => Err(Failure::Refused(format!("the registry broke off the {what} before its end"))),
            Err(e) => Err(e.into()),
        };
    }
    Err(failure_of(res, url).await)
}

/// The failure an answer other than 200 stands for: 429 with its `Retry-After` (seconds), or
/// the registry's error read from a bounded prefix of its body.
async fn failure_of(res: reqwest::Response, url: &str) -> Failure {
    let status = res.status();
    if status == StatusCode::TOO_MANY_REQUESTS {
        let retry_after = res.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
        return Failure::Throttled(retry_after);
    }
    match read_prefix(res, MAX_ERROR_BODY_BYTES).await {
        Ok(body) => Failure::Registry(registry_error(status, &body, url)),
        Err(e) => e.into(),
    }
}

/// The whole body if it fits in `limit` bytes, else `None` (without reading past the limit:
/// a declared length over it is refused before the first byte).
pub async fn read_capped(mut res: reqwest::Response, limit: usize) -> Result<Option<Bytes>, reqwest::Error> {
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Ok(None);
    }
    let mut buf = BytesMut::with_capacity(res.content_length().map(|n| n as usize).unwrap_or(8 << 10).min(limit));
    while let Some(chunk) = res.chunk().await? {
        if buf.len() + chunk.len() > limit {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Some(buf.freeze()))
}

/// At most `limit` bytes of the body (the rest is never read).
async fn read_prefix(mut res: reqwest::Response, limit: usize) -> Result<Bytes, reqwest::Error> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = res.chunk().await? {
        let room = limit - buf.len();
        if chunk.len() >= room {
            buf.extend_from_slice(&chunk[..room]);
            break;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// At most `MAX_ERROR_TEXT` bytes of `text`, cut at a character boundary, marked when cut.
pub fn clip(text: &str) -> String {
    if text.len() <= MAX_ERROR_TEXT {
        return text.to_string();
    }
    let mut end = MAX_ERROR_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (truncated)", &text[..end])
}

fn error_text(body: &[u8]) -> String {
    clip(&String::from_utf8_lossy(body))
}

/// oci-client's reading of an error answer (an OCI error envelope for a 4xx, else the text),
/// kept to `MAX_ERROR_TEXT` of text.
fn registry_error(status: StatusCode, body: &[u8], url: &str) -> OciDistributionError {
    match status {
        StatusCode::UNAUTHORIZED => OciDistributionError::UnauthorizedError { url: url.to_string() },
        s if s.is_success() => {
            OciDistributionError::SpecViolationError(format!("Expected HTTP Status {}, got {s} instead", StatusCode::OK))
        }
        s if s.is_client_error() => match serde_json::from_slice::<OciEnvelope>(body) {
            Ok(mut envelope) => {
                let mut room = MAX_ERROR_TEXT;
                envelope.errors.retain_mut(|e| {
                    e.detail = serde_json::Value::Null;
                    if room == 0 {
                        return false;
                    }
                    e.message = clip(&e.message);
                    room = room.saturating_sub(e.message.len());
                    true
                });
                OciDistributionError::RegistryError { envelope, url: url.to_string() }
            }
            Err(_) => OciDistributionError::ServerError { code: s.as_u16(), url: url.to_string(), message: error_text(body) },
        },
        s => OciDistributionError::ServerError { code: s.as_u16(), url: url.to_string(), message: error_text(body) },
    }
}

/// The digest of `body` in the algorithm of `expected` (sha256, sha384 or sha512).
fn digest_as(body: &[u8], expected: &str) -> Option<String> {
    let (algorithm, _) = expected.split_once(':')?;
    let hex = match algorithm {
        "sha256" => hex::encode(sha2::Sha256::digest(body)),
        "sha384" => hex::encode(sha2::Sha384::digest(body)),
        "sha512" => hex::encode(sha2::Sha512::digest(body)),
        _ => return None,
    };
    Some(format!("{algorithm}:{hex}"))
}

fn verify(body: &[u8], expected: &str, what: &str) -> Result<(), Failure> {
    match digest_as(body, expected) {
        Some(d) if d == expected => Ok(()),
        Some(d) => Err(Failure::Refused(format!("the {what} does not match its digest {expected} (got {d})"))),
        None => Err(Failure::Refused(format!("the digest {expected} of the {what} uses an unsupported algorithm"))),
    }
}

/// The content digest of a manifest (as oci-client decides it): the reference's and the
/// header's digests must both match the body; the header's is canonical; without either, sha256.
fn content_digest(body: &[u8], header: Option<&str>, reference: Option<&str>, what: &str) -> Result<String, Failure> {
    if let Some(r) = reference {
        verify(body, r, what)?;
    }
    match header {
        Some(h) => {
            verify(body, h, what)?;
            Ok(h.to_string())
        }
        None => Ok(reference.map(str::to_string).unwrap_or_else(|| format!("sha256:{}", hex::encode(sha2::Sha256::digest(body))))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_cuts_long_text_at_a_character() {
        assert_eq!(clip("short"), "short");
        let long = "é".repeat(2000);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_ERROR_TEXT + "… (truncated)".len(), "{}", clipped.len());
        assert!(clipped.ends_with("(truncated)"));
    }

    #[test]
    fn content_digest_checks_the_header_and_the_reference() {
        let body = b"{}";
        let d = format!("sha256:{}", hex::encode(sha2::Sha256::digest(body)));
        assert_eq!(content_digest(body, None, None, "manifest").unwrap(), d);
        assert_eq!(content_digest(body, Some(&d), Some(&d), "manifest").unwrap(), d);
        let other = format!("sha256:{}", "0".repeat(64));
        assert!(matches!(content_digest(body, Some(&other), None, "manifest"), Err(Failure::Refused(m)) if m.contains("does not match")));
        assert!(matches!(content_digest(body, None, Some(&other), "manifest"), Err(Failure::Refused(_))));
        assert!(matches!(content_digest(body, Some("md5:00"), None, "manifest"), Err(Failure::Refused(m)) if m.contains("unsupported")));
    }

    #[test]
    fn error_envelopes_and_texts_are_kept_short() {
        let big = "x".repeat(50_000);
        match registry_error(StatusCode::INTERNAL_SERVER_ERROR, big.as_bytes(), "u") {
            OciDistributionError::ServerError { message, .. } => assert!(message.len() < MAX_ERROR_TEXT + 32),
            other => panic!("{other:?}"),
        }
        let envelope = serde_json::json!({"errors": [
            {"code": "DENIED", "message": big, "detail": {"huge": big}},
            {"code": "DENIED", "message": "second"}
        ]})
        .to_string();
        match registry_error(StatusCode::FORBIDDEN, envelope.as_bytes(), "u") {
            OciDistributionError::RegistryError { envelope, .. } => assert!(envelope.to_string().len() < 2 * MAX_ERROR_TEXT),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limits_read_in_binary_units() {
        assert_eq!(human_bytes(MAX_MANIFEST_BYTES), "4 MiB");
        assert_eq!(human_bytes(MAX_ERROR_BODY_BYTES), "64 KiB");
        assert_eq!(human_bytes(1000), "1000 bytes");
    }
}
