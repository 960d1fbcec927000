//! `imagestreams bench-watch` (hidden): the watch benchmark's client. Opens N concurrent
//! watches on one namespace, measures the server's resident memory before and after (idle
//! watchers), then makes one tag change at a time and records, per watcher, the time from
//! sending the change to reading its event. Prints p50/p99/max per round and overall.
//! Must not: be used by the product.

use super::{percentile, rss_kb};
use std::time::{Duration, Instant};

fn digest(n: u64) -> String {
    format!("sha256:{n:064x}")
}

pub async fn run(server: &str, pid: u32, watchers: usize, rounds: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(0).build()?;
    let ns = "bench";
    let _ = http.post(format!("{server}/api/v1/namespaces")).json(&serde_json::json!({"metadata": {"name": ns}})).send().await?;
    let base = format!("{server}/apis/image.openshift.io/v1/namespaces/{ns}");
    let _ = http.post(format!("{base}/imagestreams")).json(&serde_json::json!({"metadata": {"name": "app"}})).send().await?;
    let listed: serde_json::Value = http.get(format!("{base}/imagestreams")).send().await?.json().await?;
    let rv = listed["metadata"]["resourceVersion"].as_str().unwrap_or("0").to_string();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kb(pid).unwrap_or(0);

    // Each watcher reports the instant it saw each round's marker tag.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let open = |n: usize| {
        for _ in 0..n {
            let (http, tx, ready) = (http.clone(), tx.clone(), ready_tx.clone());
            let url = format!("{base}/imagestreams?watch=1&resourceVersion={rv}");
            tokio::spawn(async move {
                let Ok(mut resp) = http.get(url).send().await else { return };
                let _ = ready.send(());
                let mut buf = String::new();
                let mut seen = 0usize;
                while let Ok(Some(chunk)) = resp.chunk().await {
                    let at = Instant::now();
                    buf.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(i) = buf.find('\n') {
                        let line: String = buf.drain(..=i).collect();
                        while line.contains(&format!("\"round-{seen}\"")) {
                            let _ = tx.send((seen, at));
                            seen += 1;
                        }
                    }
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
        let mut times = vec![];
        let deadline = sent + Duration::from_secs(10);
        while times.len() < connected {
            match tokio::time::timeout_at(deadline.into(), rx.recv()).await {
                Ok(Some((r, at))) if r == round => times.push(at.duration_since(sent).as_secs_f64() * 1000.0),
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        times.sort_by(f64::total_cmp);
        println!(
            "round {round}: {} of {connected} watchers got the change; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            times.len(),
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
