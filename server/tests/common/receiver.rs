//! A webhook receiver on 127.0.0.1 for tests: it verifies every signature independently (HMAC-
//! SHA256 over "<t>.<body>", timestamp within five minutes, as README tells receivers to) and
//! records what arrived. Its answers follow a script: each request takes the next step
//! (a status code, or a stall longer than the sender's timeout); after the script, 200.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Step {
    Answer(u16),
    Stall(Duration),
}

#[derive(Clone, Debug)]
pub struct Received {
    pub event: Value,
    pub delivery: String,
    pub signature_ok: bool,
    pub answered: u16,
}

#[derive(Default)]
struct Inner {
    script: VecDeque<Step>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct Receiver {
    pub port: u16,
    secret: Arc<Vec<u8>>,
    inner: Arc<Mutex<Inner>>,
    /// Told of every request as it arrives (what waits await instead of polling).
    arrived: Arc<tokio::sync::Notify>,
}

pub fn verify(secret: &[u8], header: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = x.parse::<i64>().ok(),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else { return false };
    if (chrono::Utc::now().timestamp() - t).abs() > 300 {
        return false;
    }
    let Ok(expected) =
        (0..v1.len()).step_by(2).map(|i| u8::from_str_radix(v1.get(i..i + 2).unwrap_or("zz"), 16)).collect::<Result<Vec<u8>, _>>()
    else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let step = r.inner.lock().unwrap().script.pop_front();
    // Recorded on arrival; a stalled request counts as answered 0 (the sender gives up first).
    let code = match step {
        Some(Step::Stall(_)) => 0,
        Some(Step::Answer(c)) => c,
        None => 200,
    };
    let sig = headers.get("x-imagestreams-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let received = Received {
        event: serde_json::from_slice(&body).unwrap_or(Value::Null),
        delivery: headers.get("x-imagestreams-delivery").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
        signature_ok: verify(&r.secret, sig, &body)
            && headers.get("content-type").and_then(|v| v.to_str().ok()) == Some("application/cloudevents+json; charset=utf-8"),
        answered: code,
    };
    r.inner.lock().unwrap().received.push(received);
    r.arrived.notify_waiters();
    if let Some(Step::Stall(d)) = step {
        tokio::time::sleep(d).await;
        return StatusCode::OK;
    }
    StatusCode::from_u16(code).unwrap()
}

impl Receiver {
    pub async fn start(secret: &str, script: Vec<Step>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let r = Receiver {
            port,
            secret: Arc::new(secret.as_bytes().to_vec()),
            inner: Arc::new(Mutex::new(Inner { script: script.into(), received: vec![] })),
            arrived: Default::default(),
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn allow_entry(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Everything received so far (answered or not).
    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// Those answered 2xx, in arrival order.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| (200..300).contains(&r.answered)).collect()
    }

    /// Waits (on arrivals, not by polling) until `n` were accepted, at most 15 s. To be sure no
    /// more follow, settle the service's deliveries afterwards (`TestApp::settle_deliveries`).
    pub async fn wait_accepted(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if self.accepted().len() >= n {
                return self.accepted();
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return self.accepted();
            }
        }
    }
}

/// A receiver that answers every request with `answer`, byte for byte (answers no well-behaved
/// server sends, such as one at the client's header limit). It reads the request's head and
/// body (by `content-length`) first. Returns its port; it runs until the test ends.
pub async fn raw_answer(answer: Vec<u8>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = sock.read(&mut buf).await else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").and_then(|v| v.trim().parse::<usize>().ok()))
                        .unwrap_or(0);
                    if seen.len() >= end + 4 + length {
                        break;
                    }
                }
                let _ = sock.write_all(&answer).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    port
}
