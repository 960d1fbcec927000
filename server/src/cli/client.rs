//! A small HTTP client of the API for the CLI: JSON in and out, `Status` errors turned into
//! oc's `Error from server (<Reason>): <message>` lines.

use app::model::{ApiError, Status};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An error the CLI prints and exits non-zero on.
#[derive(Debug)]
pub enum CliError {
    /// The server answered with a failure `Status`.
    Server(ApiError),
    /// A client-side problem, printed as `error: <message>`.
    Local(String),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Server(e) => write!(f, "Error from server ({}): {}", e.reason(), e.message()),
            CliError::Local(m) => write!(f, "error: {m}"),
        }
    }
}

/// A failure answer as an error: its `Status`, or the raw text when it is not one.
fn failure(code: reqwest::StatusCode, bytes: &[u8]) -> CliError {
    match serde_json::from_slice::<Status>(bytes) {
        Ok(s) => CliError::Server(ApiError::from_status(s)),
        Err(_) => CliError::Local(format!("the server answered {code}: {}", String::from_utf8_lossy(bytes))),
    }
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<&str>) -> Self {
        Client {
            base: base.trim_end_matches('/').to_string(),
            token: token.map(str::to_string),
            http: reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build().unwrap_or_default(),
        }
    }

    async fn send<T: DeserializeOwned>(&self, req: reqwest::RequestBuilder) -> Result<T, CliError> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| CliError::Local(format!("unable to reach the server at {}: {e}", self.base)))?;
        let code = resp.status();
        let bytes = resp.bytes().await.map_err(|e| CliError::Local(format!("reading the answer: {e}")))?;
        if !code.is_success() {
            return Err(failure(code, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| CliError::Local(format!("the server's answer could not be read: {e}")))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        self.send(self.http.get(format!("{}{path}", self.base))).await
    }

    pub async fn get_value(&self, path: &str) -> Result<serde_json::Value, CliError> {
        self.get(path).await
    }

    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body)).await
    }

    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T, CliError> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(body)).await
    }

    /// Opens a watch and calls `on_line` with each event line until the server ends it.
    pub async fn watch_lines(&self, path: &str, mut on_line: impl FnMut(&str) -> Result<(), CliError>) -> Result<(), CliError> {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        // A watch has no overall deadline (the client's default timeout would end it).
        let mut resp = req
            .timeout(std::time::Duration::from_secs(365 * 24 * 3600))
            .send()
            .await
            .map_err(|e| CliError::Local(format!("unable to reach the server at {}: {e}", self.base)))?;
        if !resp.status().is_success() {
            let code = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(failure(code, &bytes));
        }
        let mut buf: Vec<u8> = vec![];
        while let Some(chunk) = resp.chunk().await.map_err(|e| CliError::Local(format!("the watch ended: {e}")))? {
            buf.extend_from_slice(&chunk);
            while let Some(i) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=i).collect();
                on_line(String::from_utf8_lossy(&line).trim_end())?;
            }
        }
        Ok(())
    }

    /// A request whose success has no body (204).
    pub async fn send_no_content<B: Serialize>(&self, method: reqwest::Method, path: &str, body: &B) -> Result<(), CliError> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).json(body);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| CliError::Local(format!("unable to reach the server at {}: {e}", self.base)))?;
        if resp.status().is_success() {
            return Ok(());
        }
        let code = resp.status();
        let bytes = resp.bytes().await.unwrap_or_default();
        Err(failure(code, &bytes))
    }

    /// Signs in with a user name and password: the session cookie's value.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<String, CliError> {
        let resp = self
            .http
            .post(format!("{}/api/v1/session", self.base))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(|e| CliError::Local(format!("unable to reach the server at {}: {e}", self.base)))?;
        let cookie = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| c.split(';').next()?.strip_prefix("imagestreams_session=").map(str::to_string));
        if !resp.status().is_success() {
            let code = resp.status();
            let bytes = resp.bytes().await.unwrap_or_default();
            return Err(failure(code, &bytes));
        }
        cookie.ok_or_else(|| CliError::Local("the server did not start a session".into()))
    }

    /// POST with a session cookie instead of a token (login creating its token).
    pub async fn post_with_session<B: Serialize, T: DeserializeOwned>(&self, path: &str, session: &str, body: &B) -> Result<T, CliError> {
        let req = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, format!("imagestreams_session={session}"))
            .json(body);
        let client = Client { base: self.base.clone(), token: None, http: self.http.clone() };
        client.send(req).await
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn delete(&self, path: &str) -> Result<Status, CliError> {
        self.send(self.http.delete(format!("{}{path}", self.base))).await
    }
}
