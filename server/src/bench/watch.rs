//! `imagestreams bench-watch` (hidden): the watch benchmark's client. Opens N concurrent
//! watches on one namespace, measures the server's resident memory before and after (idle
//! watchers), then makes one tag change at a time and records, per watcher, the time from
//! sending the change to reading its event. Prints p50/p99/max per round and overall.
//!
//! Each watcher is a plain HTTP/1.1 request on its own TCP connection, read with one small
//! buffer: the client shares the machine's cores with the server, and a heavier client (it was
//! reqwest, with a string per chunk and per line) measured mostly itself at 10,000 watchers.
//! Must not: be used by the product.

use super::{percentile, rss_kb};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

pub async fn run(server: &str, pid: u32, watchers: usize, rounds: usize, list_first: bool) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let ns = "bench";
    let _ = http.post(format!("{server}/api/v1/namespaces")).json(&serde_json::json!({"metadata": {"name": ns}})).send().await?;
    let base = format!("{server}/apis/image.openshift.io/v1/namespaces/{ns}");
    let _ = http.post(format!("{base}/imagestreams")).json(&serde_json::json!({"metadata": {"name": "app"}})).send().await?;
    let listed: serde_json::Value = http.get(format!("{base}/imagestreams")).send().await?.json().await?;
    let rv = listed["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kb(pid).unwrap_or(0);

    // Each watcher notes the instant it saw each round's marker tag in that round's list. A list
    // under a lock, not a channel to this task: a channel woke this task up to 10,000 times a
    // round, on the cores the server is measured on.
    let seen: Arc<Vec<Mutex<Vec<Instant>>>> = Arc::new((0..rounds).map(|_| Mutex::new(Vec::with_capacity(watchers))).collect());
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let addr = watch_address(server)?;
    let path = format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams?watch=1&resourceVersion={rv}");
    let list = list_first.then(|| format!("/apis/image.openshift.io/v1/namespaces/{ns}/imagestreams"));
    let open = |n: usize| {
        for _ in 0..n {
            let (path, list, seen, ready) = (path.clone(), list.clone(), seen.clone(), ready_tx.clone());
            tokio::spawn(async move {
                if let Err(e) = watch_raw(addr, list.as_deref(), &path, ready, seen).await {
                    eprintln!("a watcher ended: {e}");
                }
            });
        }
    };
    // In two halves: the second half's growth is the marginal cost of a watcher, free of what the
    // first connections cost once (database connections and caches, worker buffers).
    let half = watchers / 2;
    let mut connected = 0;
    let mut middle = before;
    for (i, n) in [half, watchers - half].into_iter().enumerate() {
        open(n);
        let target = connected + n;
        while connected < target {
            if tokio::time::timeout(Duration::from_secs(30), ready_rx.recv()).await.ok().flatten().is_none() {
                break;
            }
            connected += 1;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        if i == 0 {
            middle = rss_kb(pid).unwrap_or(0);
        }
    }
    let after = rss_kb(pid).unwrap_or(0);
    println!("watchers connected: {connected} of {watchers}");
    println!(
        "server RSS: {before} KB with none, {middle} KB with {half}, {after} KB with {connected} idle watchers: \
         {:.1} KB per idle watcher at the margin (second half), {:.1} KB per watcher overall",
        (after.saturating_sub(middle)) as f64 / (connected - half).max(1) as f64,
        (after.saturating_sub(before)) as f64 / connected.max(1) as f64
    );

    let mut all = vec![];
    for round in 0..rounds {
        let body = serde_json::json!({
            "metadata": {"name": "app"}, "tag": format!("round-{round}"),
            "image": {"metadata": {"name": digest(round as u64 + 1)}, "dockerImageReference": format!("quay.io/bench/app@{}", digest(round as u64 + 1))}
        });
        let sent = Instant::now();
        let status = http.post(format!("{base}/imagestreammappings")).json(&body).send().await?.status();
        anyhow::ensure!(status.is_success(), "the change failed: {status}");
        let deadline = sent + Duration::from_secs(10);
        while seen_in(&seen, round) < connected && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut times: Vec<f64> =
            seen[round].lock().map(|s| s.iter().map(|at| at.duration_since(sent).as_secs_f64() * 1000.0).collect()).unwrap_or_default();
        times.sort_by(f64::total_cmp);
        println!(
            "round {round}: {} of {connected} watchers got the change; first {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            times.len(),
            times.first().copied().unwrap_or(f64::NAN),
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times.last().copied().unwrap_or(f64::NAN)
        );
        all.extend(times);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    all.sort_by(f64::total_cmp);
    println!(
        "all rounds: {} deliveries; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().copied().unwrap_or(f64::NAN)
    );
    Ok(())
}

/// How many watchers have seen round `round`'s change so far.
fn seen_in(seen: &[Mutex<Vec<Instant>>], round: usize) -> usize {
    seen[round].lock().map(|s| s.len()).unwrap_or(0)
}

/// The server's address (`http://host:port`, resolved).
fn watch_address(server: &str) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    let url = reqwest::Url::parse(server)?;
    let host = url.host_str().ok_or_else(|| anyhow::anyhow!("--server {server}: no host"))?;
    let port = url.port_or_known_default().unwrap_or(80);
    (host, port).to_socket_addrs()?.next().ok_or_else(|| anyhow::anyhow!("--server {server}: no address"))
}

/// Bytes kept from one read to the next, so a marker split between two reads is still found.
const CARRY: usize = 64;

/// One watcher: lists first on the same connection when `list` is given (as kubectl does), sends
/// the watch request, says `ready` once the answer's head (200) arrived, then reports
/// the instant it reads the tag `round-N` of each round in turn in `seen[N]` (each event carries
/// the stream with every tag so far).
async fn watch_raw(
    addr: std::net::SocketAddr,
    list: Option<&str>,
    path: &str,
    ready: tokio::sync::mpsc::UnboundedSender<()>,
    seen_at: Arc<Vec<Mutex<Vec<Instant>>>>,
) -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await?;
    conn.set_nodelay(true)?;
    if let Some(list) = list {
        conn.write_all(format!("GET {list} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n").as_bytes()).await?;
        read_whole_answer(&mut conn).await?;
    }
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json\r\n\r\n").as_bytes()).await?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut have = 0;
    loop {
        let n = conn.read(&mut buf[have..]).await?;
        anyhow::ensure!(n > 0, "the connection closed before the answer's head");
        have += n;
        if let Some(end) = find(&buf[..have], b"\r\n\r\n") {
            anyhow::ensure!(buf.starts_with(b"HTTP/1.1 200"), "answer: {}", String::from_utf8_lossy(&buf[..end]));
            buf.copy_within(end + 4..have, 0);
            have -= end + 4;
            break;
        }
        anyhow::ensure!(have < buf.len(), "the answer's head is too long");
    }
    let _ = ready.send(());
    let mut seen = 0usize;
    let mut marker = format!("\"round-{seen}\"").into_bytes();
    loop {
        let at = Instant::now();
        while find(&buf[..have], &marker).is_some() {
            if let Some(Ok(mut round)) = seen_at.get(seen).map(|r| r.lock()) {
                round.push(at);
            }
            seen += 1;
            marker = format!("\"round-{seen}\"").into_bytes();
        }
        let keep = have.min(CARRY);
        buf.copy_within(have - keep..have, 0);
        have = keep;
        let n = conn.read(&mut buf[have..]).await?;
        if n == 0 {
            return Ok(());
        }
        have += n;
    }
}

/// Reads one answer with a `content-length` (a list) to its end, so the connection is free for
/// the next request.
async fn read_whole_answer(conn: &mut tokio::net::TcpStream) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 16 * 1024];
    let mut have = 0;
    let (head_end, length) = loop {
        let n = conn.read(&mut buf[have..]).await?;
        anyhow::ensure!(n > 0, "the connection closed during the list");
        have += n;
        if let Some(end) = find(&buf[..have], b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            anyhow::ensure!(head.starts_with("http/1.1 200"), "list answer: {head}");
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .ok_or_else(|| anyhow::anyhow!("the list answer has no content-length: {head}"))?;
            break (end + 4, length);
        }
        anyhow::ensure!(have < buf.len(), "the list answer's head is too long");
    };
    let mut left = (head_end + length).saturating_sub(have);
    anyhow::ensure!(have <= head_end + length, "more than the list arrived before the watch was sent");
    while left > 0 {
        let n = conn.read(&mut buf[..left.min(16 * 1024)]).await?;
        anyhow::ensure!(n > 0, "the connection closed during the list");
        left -= n;
    }
    Ok(())
}

/// Where `needle` first occurs (memchr's substring search: a window-by-window comparison cost
/// the client about 25 µs per event of a few KB, more than the server spent sending it).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}
