//! The HTTP/1.1 accept loop of `serve`. Owns connections: their limits (how many, how many per
//! client, how long a request head may take) and their graceful end. Must not know what the
//! routes do.
//!
//! The limits answer review M2 (slowloris and file-descriptor exhaustion):
//! - a request head must arrive within `header_read_timeout`. hyper counts it from the moment the
//!   connection waits for a head, on a new connection and between the requests of a kept-alive
//!   one (hyper 1.12, `proto/h1/conn.rs` `poll_read_head`: the timer starts whenever the
//!   connection is back to reading a head), so it is the idle keep-alive timeout too. A response
//!   being written (a watch, a live page) is not waiting for a head and is not cut;
//! - at most `max_connections` at once: beyond it the loop stops accepting (the kernel's backlog
//!   holds the rest) until one ends;
//! - at most `max_connections_per_client` from one client (one IPv4 address, one IPv6 /64): a
//!   further one is closed at once, so one client cannot take the global allowance;
//! - accept errors (out of file descriptors) back off, and their warning is written at most once
//!   per `QUIET_PERIOD` with the count of those left out, not once per retry.

use crate::service::client_of;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The limits of the listener (`serve --header-read-timeout`, `--max-connections`,
/// `--max-connections-per-client`).
#[derive(Clone, Copy, Debug)]
pub struct ListenerConfig {
    /// How long a client has to send a whole request head, counted from when the connection
    /// starts waiting for one (so also how long a kept-alive connection may sit idle).
    pub header_read_timeout: Duration,
    /// Open connections at most; beyond, accepting pauses.
    pub max_connections: usize,
    /// Open connections of one client at most; beyond, a new one is closed at once.
    pub max_connections_per_client: usize,
    /// After accepting stops, how long open requests may take to finish.
    pub shutdown_timeout: Duration,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_client: 128,
            shutdown_timeout: Duration::from_secs(20),
        }
    }
}

/// A repeated warning is written at most this often.
const QUIET_PERIOD: Duration = Duration::from_secs(10);

/// Open connections per client. A slot is taken when a connection is accepted and given back
/// when the connection ends (`ClientSlot`'s drop); a client with none has no entry, so the map
/// never holds more entries than there are open connections.
#[derive(Default)]
struct PerClient {
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerClient {
    fn take(self: &Arc<Self>, peer: IpAddr, limit: usize) -> Option<ClientSlot> {
        let client = client_of(peer);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(client).or_insert(0);
        if *n >= limit {
            if *n == 0 {
                open.remove(&client);
            }
            return None;
        }
        *n += 1;
        Some(ClientSlot { clients: self.clone(), client })
    }
}

struct ClientSlot {
    clients: Arc<PerClient>,
    client: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut open = self.clients.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// A warning that would repeat (one per refused connection, one per failed accept) is written
/// once per `QUIET_PERIOD`, saying how many were left out.
#[derive(Default)]
struct QuietWarning {
    last: Option<Instant>,
    left_out: u64,
}

impl QuietWarning {
    /// `Some(left out since the last one)` when this one is to be written.
    fn due(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|t| now.duration_since(t) < QUIET_PERIOD) {
            self.left_out += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.left_out))
    }
}

/// Serves HTTP/1.1 (what browsers and the CLI speak to us over plain HTTP) with one small task
/// per connection: an idle watch then costs little more than hyper's read and write buffers
/// (`axum::serve` keeps an HTTP/1-or-2 connection per client). Each request carries its peer
/// address (`ConnectInfo`) for the audit log. When `shutdown` completes it stops accepting,
/// closes idle kept-alive connections, and gives open requests `shutdown_timeout` to finish
/// (watches and live pages have ended by then: the service's draining ends them).
pub async fn serve_http1(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: ListenerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
    let per_client = Arc::new(PerClient::default());
    let (mut accept_warning, mut refusal_warning, mut full_warning) =
        (QuietWarning::default(), QuietWarning::default(), QuietWarning::default());
    let mut backoff = Duration::from_millis(50);
    loop {
        // A free slot first: at the global limit nothing is accepted until a connection ends.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if let Some(left_out) = full_warning.due(Instant::now()) {
                    tracing::warn!(
                        max = config.max_connections,
                        left_out,
                        "--max-connections reached; accepting waits for a connection to end"
                    );
                }
                tokio::select! {
                    p = slots.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => {
                    backoff = Duration::from_millis(50);
                    a
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off (up to a second) rather
                    // than spin, and say so once in a while rather than at every retry.
                    if let Some(left_out) = accept_warning.due(Instant::now()) {
                        tracing::warn!(error = %e, left_out, "accepting a connection failed");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(client_slot) = per_client.take(peer.ip(), config.max_connections_per_client.max(1)) else {
            if let Some(left_out) = refusal_warning.due(Instant::now()) {
                tracing::warn!(client = %client_of(peer.ip()), left_out, "closed a connection beyond --max-connections-per-client");
            }
            drop(stream);
            continue;
        };
        serve_connection(stream, peer, &app, &config, &graceful, (permit, client_slot));
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(config.shutdown_timeout) => {
            tracing::warn!(timeout_ms = config.shutdown_timeout.as_millis() as u64, "requests still in flight at the shutdown timeout were cut");
        }
    }
}

/// Runs one connection on its own task; `slots` (its global and per-client slots) are given
/// back when it ends.
fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: &axum::Router,
    config: &ListenerConfig,
    graceful: &hyper_util::server::graceful::GracefulShutdown,
    slots: (tokio::sync::OwnedSemaphorePermit, ClientSlot),
) {
    use tower::Layer;
    let _ = stream.set_nodelay(true);
    let service = axum::Extension(axum::extract::ConnectInfo(peer)).layer(app.clone());
    let conn = hyper::server::conn::http1::Builder::new()
        // Without a timer hyper silently leaves the header-read timeout off.
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        let _slots = slots;
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "connection ended");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_slots_are_limited_and_given_back() {
        let clients = Arc::new(PerClient::default());
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = clients.take(a, 2).unwrap();
        let _second = clients.take(a, 2).unwrap();
        assert!(clients.take(a, 2).is_none(), "the third of one client is refused");
        let other = clients.take(b, 2);
        assert!(other.is_some(), "another client is not");
        drop(first);
        assert!(clients.take(a, 2).is_some(), "an ended connection gives its slot back");
        drop(other);
        assert!(!clients.open.lock().unwrap().contains_key(&b), "a client without connections has no entry");
    }

    /// `GET /healthz` on a kept-alive connection; `None` when no answer came within `wait`.
    async fn healthz(conn: &mut tokio::net::TcpStream, wait: Duration) -> Option<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.ok()?;
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(wait, conn.read(&mut buf)).await.ok()?.ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        text.lines().next().map(str::to_string)
    }

    /// At `max_connections` the listener stops accepting: a further client waits (in the
    /// kernel's backlog) until a connection ends, and is then served.
    #[tokio::test]
    async fn beyond_the_global_limit_accepting_waits_for_a_connection_to_end() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
        let config = ListenerConfig { max_connections: 2, ..Default::default() };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_http1(listener, app, config, async move {
            let _ = stopped.await;
        }));
        let mut first = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut second = tokio::net::TcpStream::connect(addr).await.unwrap();
        for conn in [&mut first, &mut second] {
            assert_eq!(healthz(conn, Duration::from_secs(5)).await.as_deref(), Some("HTTP/1.1 200 OK"));
        }
        let mut third = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert_eq!(healthz(&mut third, Duration::from_millis(300)).await, None, "not accepted while two are open");
        drop(first);
        let mut answer = String::new();
        let read = async {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 1024];
            let n = third.read(&mut buf).await.unwrap();
            answer = String::from_utf8_lossy(&buf[..n]).to_string();
        };
        tokio::time::timeout(Duration::from_secs(5), read).await.expect("accepted once a connection ended");
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        let _ = stop.send(());
        drop((second, third));
        server.await.unwrap();
    }

    #[test]
    fn repeated_warnings_are_written_once_per_period() {
        let mut w = QuietWarning::default();
        let t = Instant::now();
        assert_eq!(w.due(t), Some(0));
        for i in 1..100 {
            assert_eq!(w.due(t + Duration::from_millis(i * 50)), None);
        }
        assert_eq!(w.due(t + QUIET_PERIOD), Some(99), "the next one says how many were left out");
    }
}
