//! `imagestreams bench-writes` (hidden): the write benchmark's client (issue 18, point 6).
//! Creates namespace `bench` with `streams` streams and a webhook subscribed to every tag (its
//! receiver runs here, on `sink_port`, and answers 204), then `clients` concurrent clients post
//! ImageStreamMappings, each a new image on one of four tags of one stream: every write stores
//! an Image, a history item, a watch event and an outbox row. Prints, per window of writes, the
//! throughput and latency (p50/p99/max), so a decay with the history's length shows; at the end
//! the server's resident memory (`scripts/bench-writes.sh` adds the database's growth per write).
//!
//! Must not: be used by the product.

use super::{percentile, rss_kb};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The server's base URL.
    pub server: String,
    /// The server's process id (resident memory from /proc), if known.
    pub pid: Option<u32>,
    /// Concurrent clients.
    pub clients: usize,
    /// Streams the writes are spread over (client `i` writes to stream `i % streams`).
    pub streams: usize,
    /// Writes in all.
    pub writes: u64,
    /// Writes per reported window.
    pub window: u64,
    /// Port of the webhook receiver this client runs on 127.0.0.1 (0: any free one; the server
    /// must be allowed to send there: `--allowed-webhook-target 127.0.0.1:<port>`).
    pub sink_port: u16,
}

/// Runs the plan and prints its report.
pub async fn run(plan: Plan) -> anyhow::Result<()> {
    let sink = tokio::net::TcpListener::bind(("127.0.0.1", plan.sink_port)).await?;
    let sink_port = sink.local_addr()?.port();
    let received = Arc::new(AtomicU64::new(0));
    let counter = received.clone();
    let receiver = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        async { axum::http::StatusCode::NO_CONTENT }
    });
    tokio::spawn(async move { axum::serve(sink, receiver).await });

    let http = reqwest::Client::builder().pool_max_idle_per_host(plan.clients * 2).build()?;
    let server = plan.server.trim_end_matches('/');
    let ns = "bench";
    let created = http.post(format!("{server}/api/v1/namespaces")).json(&serde_json::json!({"metadata": {"name": ns}})).send().await?;
    anyhow::ensure!(created.status().is_success(), "creating namespace {ns}: {}", created.status());
    let base = format!("{server}/apis/image.openshift.io/v1/namespaces/{ns}");
    for s in 0..plan.streams {
        let r =
            http.post(format!("{base}/imagestreams")).json(&serde_json::json!({"metadata": {"name": format!("s{s:02}")}})).send().await?;
        anyhow::ensure!(r.status().is_success(), "creating stream s{s:02}: {}", r.status());
    }
    let hook = serde_json::json!({
        "metadata": {"name": "sink"},
        "spec": {"url": format!("http://127.0.0.1:{sink_port}/hook"), "secret": "bench-webhook-secret-0123", "tags": ["*:*"]}
    });
    let r = http.post(format!("{server}/api/v1/namespaces/{ns}/webhooks")).json(&hook).send().await?;
    anyhow::ensure!(r.status().is_success(), "creating the webhook: {} {}", r.status(), r.text().await.unwrap_or_default());

    let next = Arc::new(AtomicU64::new(0));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<Result<f64, String>>();
    let started = Instant::now();
    for c in 0..plan.clients {
        let (http, next, done, url) = (http.clone(), next.clone(), done_tx.clone(), format!("{base}/imagestreammappings"));
        let (stream, total) = (format!("s{:02}", c % plan.streams), plan.writes);
        tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= total {
                    return;
                }
                let digest = format!("sha256:{:064x}", n + 1);
                let body = serde_json::json!({
                    "metadata": {"name": stream}, "tag": format!("t{}", n % 4),
                    "image": {"metadata": {"name": digest}, "dockerImageReference": format!("quay.io/bench/{stream}@{digest}")}
                });
                let sent = Instant::now();
                let answer = match http.post(&url).json(&body).send().await {
                    Ok(r) if r.status().is_success() => Ok(sent.elapsed().as_secs_f64() * 1000.0),
                    Ok(r) => Err(format!("{} {}", r.status(), r.text().await.unwrap_or_default())),
                    Err(e) => Err(e.to_string()),
                };
                if done.send(answer).is_err() {
                    return;
                }
            }
        });
    }
    drop(done_tx);
    let (mut window, mut all, mut failed) = (Vec::new(), Vec::new(), 0u64);
    let mut window_started = Instant::now();
    let mut finished = 0u64;
    while let Some(answer) = done_rx.recv().await {
        finished += 1;
        match answer {
            Ok(ms) => window.push(ms),
            Err(e) => {
                failed += 1;
                if failed <= 5 {
                    eprintln!("write failed: {e}");
                }
            }
        }
        if finished.is_multiple_of(plan.window) || finished == plan.writes {
            let secs = window_started.elapsed().as_secs_f64();
            window.sort_by(f64::total_cmp);
            println!(
                "writes {:>7}..{:<7} {:>7.0} writes/s  p50 {:>5.1} ms  p99 {:>5.1} ms  max {:>6.1} ms",
                finished - (window.len() as u64),
                finished,
                window.len() as f64 / secs,
                percentile(&window, 0.5),
                percentile(&window, 0.99),
                window.last().copied().unwrap_or(f64::NAN)
            );
            all.append(&mut window);
            window_started = Instant::now();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    println!(
        "all: {} writes ({failed} failed) by {} clients on {} streams in {secs:.1} s: {:.0} writes/s, p50 {:.1} ms, p99 {:.1} ms",
        all.len(),
        plan.clients,
        plan.streams,
        all.len() as f64 / secs,
        percentile(&all, 0.5),
        percentile(&all, 0.99)
    );
    if let Some(pid) = plan.pid {
        println!("server RSS: {} KB", rss_kb(pid).unwrap_or(0));
    }
    // The outbox drains behind the writes: how long it takes to deliver the rest (up to 30 s).
    let drain = Instant::now();
    while received.load(Ordering::Relaxed) < plan.writes && drain.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "webhook deliveries received: {} of {} ({:.2} s after the last write)",
        received.load(Ordering::Relaxed),
        plan.writes,
        drain.elapsed().as_secs_f64()
    );
    anyhow::ensure!(failed == 0, "{failed} writes failed");
    anyhow::ensure!(received.load(Ordering::Relaxed) >= plan.writes, "webhook deliveries are missing 30 s after the last write");
    Ok(())
}
