//! The CLI's HTTP client of the API: JSON in and out, the bearer token on every request, and
//! failure `Status` answers turned into oc's `Error from server (<Reason>): <message>` lines.
//!
//! Must not: know a command or print anything; it only carries requests and answers.

use crate::service::SESSION_COOKIE;
use app::model::{ApiError, Status};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error the CLI prints and exits non-zero on.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The server answered with a failure `Status`.
    #[error("Error from server ({}): {}", .0.reason(), .0.message())]
    Server(ApiError),
    /// A client-side problem.
    #[error("error: {0}")]
    Local(String),
}

/// A failure answer as an error: its `Status`, or the raw text when it is not one.
fn failure(code: reqwest::StatusCode, bytes: &[u8]) -> CliError {
    match serde_json::from_slice::<Status>(bytes) {
        Ok(s) => CliError::Server(ApiError::from_status(s)),
        Err(_) => CliError::Local(format!("the server answered {code}: {}", String::from_utf8_lossy(bytes))),
    }
}

/// The deadline of one request; a watch has none.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Client {
    base: String,
    /// Sends the bearer token, if any, with every request.
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Result<Self, CliError> {
        let mut headers = HeaderMap::new();
        if let Some(t) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| CliError::Local("the token is not a valid HTTP header value".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder().timeout(TIMEOUT).default_headers(headers).build().unwrap_or_default();
        Ok(Client { base: base.trim_end_matches('/').to_string(), http })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The address of `path` on the server. A path whose segments would be resolved away
    /// (`.`, `..`, also percent-encoded) or that carries a fragment, a backslash or control
    /// characters is refused: every path here is built from names, and a name must not reach
    /// another path (see `output::name_segment`, checked where names are read).
    fn url(&self, path: &str) -> Result<String, CliError> {
        let route = path.split('?').next().unwrap_or_default();
        let dot_segment = route.split('/').any(|seg| {
            let seg = percent_encoding::percent_decode_str(seg).decode_utf8_lossy().to_ascii_lowercase();
            seg == "." || seg == ".."
        });
        if dot_segment || path.contains('#') || path.contains('\\') || path.chars().any(|c| c.is_control() || c == ' ') {
            return Err(CliError::Local(format!("refusing the request path {path:?}: a name in it is not a valid name")));
        }
        Ok(format!("{}{path}", self.base))
    }

    fn unreachable(&self, e: reqwest::Error) -> CliError {
        CliError::Local(format!("unable to reach the server at {}: {e}", self.base))
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, CliError> {
        let resp = req.header("Accept", "application/json").send().await.map_err(|e| self.unreachable(e))?;
        let code = resp.status();
        let bytes = resp.bytes().await.map_err(|e| CliError::Local(format!("reading the answer: {e}")))?;
        if !code.is_success() {
            return Err(failure(code, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| CliError::Local(format!("the server's answer could not be read: {e}")))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(self.http.get(self.url(path)?)).await
    }

    pub async fn get_value(&self, path: &str) -> Result<serde_json::Value, CliError> {
        self.get(path).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(self.http.post(self.url(path)?).json(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(self.http.put(self.url(path)?).json(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Status, CliError> {
        self.send(self.http.delete(self.url(path)?)).await
    }

    /// Opens a watch and calls `on_line` with each event line until the server ends it.
    pub async fn watch_lines(&self, path: &str, mut on_line: impl FnMut(&str) -> Result<(), CliError>) -> Result<(), CliError> {
        // A watch has no overall deadline (the client's default timeout would end it).
        let mut resp = self
            .http
            .get(self.url(path)?)
            .timeout(std::time::Duration::from_secs(365 * 24 * 3600))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        each_line(&mut resp, "the watch", &mut on_line).await
    }

    /// POSTs `body` and calls `on_line` with each line of a streamed answer (a long
    /// operation's progress, then its result).
    pub async fn post_lines<B: Serialize>(
        &self,
        path: &str,
        body: &B,
        mut on_line: impl FnMut(&str) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let mut resp = self
            .http
            .post(self.url(path)?)
            .json(body)
            .timeout(std::time::Duration::from_secs(24 * 3600))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        each_line(&mut resp, "the answer", &mut on_line).await
    }

    /// A request whose success has no body (204).
    pub async fn send_no_content<B: Serialize>(&self, method: reqwest::Method, path: &str, body: &B) -> Result<(), CliError> {
        let resp = self.http.request(method, self.url(path)?).json(body).send().await.map_err(|e| self.unreachable(e))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let code = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(failure(code, &bytes))
    }

    /// A client without the token, for signing in: a stale saved token must not get in the way.
    fn anonymous(&self) -> Client {
        Client { base: self.base.clone(), http: reqwest::Client::builder().timeout(TIMEOUT).build().unwrap_or_default() }
    }

    /// Signs in with a user name and password: the session cookie's value.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<String, CliError> {
        let resp = self
            .anonymous()
            .http
            .post(self.url("/api/v1/session")?)
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let prefix = format!("{SESSION_COOKIE}=");
        let cookie = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.split(';').next()?.strip_prefix(prefix.as_str()).map(str::to_string));
        if !resp.status().is_success() {
            let code = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(failure(code, &bytes));
        }
        cookie.ok_or_else(|| CliError::Local("the server did not start a session".into()))
    }

    /// POST with a session cookie instead of the token (login creating its token).
    pub async fn post_with_session<B: Serialize, T: DeserializeOwned>(&self, path: &str, session: &str, body: &B) -> Result<T, CliError> {
        let anonymous = self.anonymous();
        let req = anonymous.http.post(self.url(path)?).header(reqwest::header::COOKIE, format!("{SESSION_COOKIE}={session}")).json(body);
        anonymous.send(req).await
    }
}

/// How often a read-modify-write command tries again after a 409 Conflict: oc's
/// `retry.DefaultRetry` (five tries, 10 ms apart).
const CONFLICT_TRIES: usize = 5;
const CONFLICT_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Runs `attempt` (read, apply, write) again while the write answers 409 Conflict, at most
/// [`CONFLICT_TRIES`] times, as oc's `retry.RetryOnConflict`. The resourceVersion such a
/// command sends is one it read itself a moment ago, so a conflict means the server's own
/// background work (a scheduled import, the import controller) changed the object in between:
/// reading again and re-applying the user's change is what the user asked for. Only when the
/// object keeps changing does the conflict reach the user.
pub async fn retry_on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, CliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, CliError>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(CliError::Server(e)) if e.code() == 409 && tries < CONFLICT_TRIES => {
                tries += 1;
                tokio::time::sleep(CONFLICT_PAUSE).await;
            }
            other => return other,
        }
    }
}

/// Feeds each line of a successful streamed answer to `on_line` (an error answer is the
/// server's `Status`).
async fn each_line(
    resp: &mut reqwest::Response,
    what: &str,
    on_line: &mut impl FnMut(&str) -> Result<(), CliError>,
) -> Result<(), CliError> {
    if !resp.status().is_success() {
        let code = resp.status();
        let mut bytes: Vec<u8> = vec![];
        while let Ok(Some(c)) = resp.chunk().await {
            bytes.extend_from_slice(&c);
            if bytes.len() > 1 << 20 {
                break;
            }
        }
        return Err(failure(code, &bytes));
    }
    let mut buf: Vec<u8> = vec![];
    while let Some(chunk) = resp.chunk().await.map_err(|e| CliError::Local(format!("{what} ended: {e}")))? {
        buf.extend_from_slice(&chunk);
        while let Some(i) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=i).collect();
            on_line(String::from_utf8_lossy(&line).trim_end())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{ApiError, RES_IMAGESTREAMS};
    use std::cell::Cell;

    fn conflict() -> CliError {
        CliError::Server(ApiError::conflict(RES_IMAGESTREAMS, "app", "the image stream was updated from \"3\" to \"4\""))
    }

    #[tokio::test]
    async fn conflicts_are_retried_a_bounded_number_of_times() {
        // Two conflicts, then success: the caller sees the success.
        let calls = Cell::new(0);
        let r = retry_on_conflict(|| {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move { if n < 3 { Err(conflict()) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.ok(), Some(3));
        // Always a conflict: oc's five tries, then the conflict reaches the user.
        calls.set(0);
        let r: Result<(), CliError> = retry_on_conflict(|| {
            calls.set(calls.get() + 1);
            async { Err(conflict()) }
        })
        .await;
        assert!(matches!(r, Err(CliError::Server(e)) if e.code() == 409));
        assert_eq!(calls.get(), CONFLICT_TRIES);
        // Any other failure is not retried.
        calls.set(0);
        let r: Result<(), CliError> = retry_on_conflict(|| {
            calls.set(calls.get() + 1);
            async { Err(CliError::Local("bad input".into())) }
        })
        .await;
        assert!(matches!(r, Err(CliError::Local(_))));
        assert_eq!(calls.get(), 1);
    }
}
