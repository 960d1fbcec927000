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
use std::net::IpAddr;
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
    /// How long reading a request's body may go without a byte, and take in all (a registry
    /// upload: without a bound in all). See [`super::connection::BodyTimeouts`].
    pub body_timeouts: super::connection::BodyTimeouts,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_client: 128,
            shutdown_timeout: Duration::from_secs(20),
            body_timeouts: Default::default(),
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
/// per connection (`connection`: hyper for ordinary requests, a lean writer for watches). Each
/// request carries its peer address (`ConnectInfo`) for the audit log. When `shutdown` completes
/// it stops accepting, closes idle kept-alive connections, and gives open requests
/// `shutdown_timeout` to finish (watches and live pages have ended by then: the service's
/// draining ends them).
pub async fn serve_http1(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    config: ListenerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let max_connections = config.max_connections.clamp(1, tokio::sync::Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
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
        let _ = stream.set_nodelay(true);
        let connection =
            super::connection::serve(stream, peer, app.clone(), config.header_read_timeout, config.body_timeouts, stopped.clone());
        tokio::spawn(async move {
            let _slots = (permit, client_slot);
            connection.await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots free is all connections ended.
    tokio::select! {
        _ = slots.acquire_many(max_connections as u32) => {}
        _ = tokio::time::sleep(config.shutdown_timeout) => {
            tracing::warn!(timeout_ms = config.shutdown_timeout.as_millis() as u64, "requests still in flight at the shutdown timeout were cut");
        }
    }
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

/// The watch transport (`connection`) over real sockets: which requests it takes from hyper, and
/// that the connection goes on as the client expects around them.
#[cfg(test)]
mod transport_tests {
    use super::*;
    use axum::extract::RawQuery;
    use std::net::SocketAddr;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// `GET /items` answers `list`; `GET /items?watch=1&n=N` streams N lines and ends (`n=0`
    /// streams until the client leaves); dropping a watch's stream is told on `dropped`.
    fn app(dropped: tokio::sync::mpsc::UnboundedSender<()>) -> axum::Router {
        struct Told(tokio::sync::mpsc::UnboundedSender<()>);
        impl Drop for Told {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        axum::Router::new()
            .route(
                "/items",
                axum::routing::get(move |RawQuery(q): RawQuery| {
                    let dropped = dropped.clone();
                    async move {
                        let q = q.unwrap_or_default();
                        if !q.contains("watch=1") {
                            return axum::response::Response::new(axum::body::Body::from("list"));
                        }
                        let n: usize = q.split("n=").nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                        let told = Told(dropped);
                        let lines = futures::stream::iter((0..n).map(|i| Ok::<_, std::io::Error>(format!("event {i}\n"))));
                        let stream: std::pin::Pin<Box<dyn futures::Stream<Item = std::io::Result<String>> + Send>> =
                            if n == 0 { Box::pin(futures::stream::pending()) } else { Box::pin(lines) };
                        let body = futures::StreamExt::map(stream, move |l| {
                            let _ = &told;
                            l
                        });
                        axum::response::Response::new(axum::body::Body::from_stream(body))
                    }
                }),
            )
            .route("/echo", axum::routing::post(|body: String| async move { body }))
    }

    async fn start() -> (SocketAddr, tokio::sync::mpsc::UnboundedReceiver<()>, tokio::sync::oneshot::Sender<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve_http1(listener, app(tx), ListenerConfig::default(), async move {
            let _ = stopped.await;
        }));
        (addr, rx, stop)
    }

    /// Reads until `text` has arrived (or 5 s pass); everything read so far.
    async fn read_until(conn: &mut tokio::net::TcpStream, seen: &mut String, text: &str) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut buf = [0u8; 4096];
        while !seen.contains(text) {
            match tokio::time::timeout_at(deadline, conn.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => return false,
            }
        }
        true
    }

    #[tokio::test]
    async fn a_watch_after_a_list_on_one_connection_then_the_connection_goes_on() {
        let (addr, _dropped, _stop) = start().await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut seen = String::new();
        // kubectl's order: the list, then the watch on the same kept-alive connection.
        conn.write_all(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "list").await, "{seen}");
        seen.clear();
        conn.write_all(b"GET /items?watch=1&n=2 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "0\r\n\r\n").await, "{seen}");
        assert!(seen.starts_with("HTTP/1.1 200 OK\r\n"), "{seen}");
        assert!(seen.contains("transfer-encoding: chunked\r\n") && seen.contains("\r\ndate: "), "{seen}");
        let body = &seen[seen.find("\r\n\r\n").unwrap() + 4..];
        assert_eq!(body, "8\r\nevent 0\n\r\n8\r\nevent 1\n\r\n0\r\n\r\n");
        // The same connection serves the next request (hyper again), then another watch.
        seen.clear();
        conn.write_all(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "list").await, "{seen}");
        seen.clear();
        conn.write_all(b"GET /items?watch=1&n=1 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "event 0\n\r\n0\r\n\r\n").await, "{seen}");
    }

    #[tokio::test]
    async fn pipelined_requests_around_a_watch_are_answered_in_order() {
        let (addr, _dropped, _stop) = start().await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(
            b"GET /items?watch=1&n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items HTTP/1.1\r\nHost: x\r\n\r\nGET /items?watch=1&n=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut seen = String::new();
        assert!(read_until(&mut conn, &mut seen, "list").await, "{seen}");
        let mut rest = vec![];
        tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await.expect("closed after the last").unwrap();
        seen.push_str(&String::from_utf8_lossy(&rest));
        assert_eq!(seen.matches("HTTP/1.1 200 OK").count(), 3, "{seen}");
        let (first, second) = (seen.find("event 0").unwrap(), seen.find("list").unwrap());
        assert!(first < second && seen.rfind("event 0").unwrap() > second, "{seen}");
        assert!(seen.contains("connection: close\r\n"), "{seen}");
    }

    #[tokio::test]
    async fn a_client_leaving_an_idle_watch_ends_it() {
        let (addr, mut dropped, _stop) = start().await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /items?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut seen = String::new();
        assert!(read_until(&mut conn, &mut seen, "\r\n\r\n").await, "{seen}");
        assert!(tokio::time::timeout(Duration::from_millis(200), dropped.recv()).await.is_err(), "open while the client is there");
        drop(conn);
        assert!(tokio::time::timeout(Duration::from_secs(5), dropped.recv()).await.is_ok(), "ended once the client left");
    }

    /// A client that sends its next request during an idle watch and then leaves is noticed
    /// (a helper's attack: the look for the client leaving stopped at the request's bytes, so
    /// the watch was held until its next event); one that stays gets the request answered
    /// after the watch.
    #[tokio::test]
    async fn a_client_sending_during_a_watch_then_leaving_ends_it() {
        let (addr, mut dropped, _stop) = start().await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /items?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut seen = String::new();
        assert!(read_until(&mut conn, &mut seen, "\r\n\r\n").await, "{seen}");
        conn.write_all(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(tokio::time::timeout(Duration::from_millis(200), dropped.recv()).await.is_err(), "open while the client is there");
        drop(conn);
        assert!(tokio::time::timeout(Duration::from_secs(5), dropped.recv()).await.is_ok(), "ended once the client left");
        // The request sent during a watch that ends by itself is answered after it.
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"GET /items?watch=1&n=1 HTTP/1.1\r\nHost: x\r\n\r\nGET /items HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut seen = String::new();
        assert!(read_until(&mut conn, &mut seen, "list").await, "{seen}");
        assert!(seen.find("event 0").unwrap() < seen.find("list").unwrap(), "{seen}");
    }

    /// A body sent slowly or not at all fails its request within the body timeouts, and the
    /// connection closes (a helper's attack held 1,152 connections this way); a body sent at
    /// once is read as before.
    #[tokio::test]
    async fn a_stalled_or_dripping_body_fails_within_its_timeouts() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let config = ListenerConfig {
            body_timeouts: super::super::connection::BodyTimeouts { idle: Duration::from_millis(300), total: Duration::from_millis(1500) },
            ..Default::default()
        };
        tokio::spawn(serve_http1(listener, app(tx), config, std::future::pending()));
        let closed_within = |mut conn: tokio::net::TcpStream, wait: Duration| async move {
            let mut all = vec![];
            let read = tokio::time::timeout(wait, conn.read_to_end(&mut all)).await;
            (read.is_ok(), String::from_utf8_lossy(&all).to_string())
        };
        // Stalled: two of ten bytes.
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhi").await.unwrap();
        let (closed, answer) = closed_within(conn, Duration::from_secs(5)).await;
        assert!(closed, "a stalled body ends its connection");
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        // Dripping: a byte every 100 ms never stalls, but takes longer than the whole body may.
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n").await.unwrap();
        let started = tokio::time::Instant::now();
        let drip = async {
            for _ in 0..100 {
                if conn.write_all(b"x").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            conn
        };
        let conn = drip.await;
        assert!(started.elapsed() < Duration::from_secs(8), "the drip was cut off: {:?}", started.elapsed());
        let (closed, _) = closed_within(conn, Duration::from_secs(5)).await;
        assert!(closed);
        // At once: answered.
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello").await.unwrap();
        let (_, answer) = closed_within(conn, Duration::from_secs(5)).await;
        assert!(answer.starts_with("HTTP/1.1 200") && answer.ends_with("hello"), "{answer}");
    }

    #[tokio::test]
    async fn after_a_request_with_a_body_hyper_serves_the_rest_watches_included() {
        let (addr, mut dropped, _stop) = start().await;
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut seen = String::new();
        conn.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "hello").await, "{seen}");
        seen.clear();
        conn.write_all(b"GET /items?watch=1&n=1 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "event 0\n").await, "{seen}");
        assert!(read_until(&mut conn, &mut seen, "0\r\n\r\n").await, "{seen}");
        // hyper finds the client leaving an idle watch by reading.
        seen.clear();
        conn.write_all(b"GET /items?watch=1 HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "\r\n\r\n").await, "{seen}");
        while dropped.try_recv().is_ok() {}
        drop(conn);
        assert!(tokio::time::timeout(Duration::from_secs(5), dropped.recv()).await.is_ok(), "ended once the client left");
    }

    #[tokio::test]
    async fn stopping_closes_idle_connections_and_ends_the_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_http1(listener, app(tx), ListenerConfig::default(), async move {
            let _ = stopped.await;
        }));
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut seen = String::new();
        conn.write_all(b"GET /items HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        assert!(read_until(&mut conn, &mut seen, "list").await, "{seen}");
        let _ = stop.send(());
        tokio::time::timeout(Duration::from_secs(5), server).await.expect("the listener ended").unwrap();
        let mut rest = vec![];
        let n = tokio::time::timeout(Duration::from_secs(5), conn.read_to_end(&mut rest)).await.expect("closed").unwrap();
        assert_eq!(n, 0, "the idle connection was closed");
    }
}
