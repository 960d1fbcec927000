//! Pruning and retention tests share these: images pushed to the integrated registry one a day
//! on the test clock, and a report's decisions as `tag#revision keep|delete reason` lines.
#![allow(dead_code)]

use super::TestApp;
use serde_json::{Value, json};

pub const DAY: i64 = 86_400;

/// An image config whose label `n` makes it distinct.
pub fn config(n: u32) -> Vec<u8> {
    json!({"architecture": "amd64", "os": "linux", "config": {"Labels": {"n": n.to_string()}}, "rootfs": {"type": "layers", "diff_ids": []}})
        .to_string()
        .into_bytes()
}

/// Pushes `count` images (`first`, `first + 1`, …) to `stream:tag`, one a day; their digests,
/// oldest first.
pub async fn push_daily(app: &TestApp, stream: &str, tag: &str, first: u32, count: u32) -> Vec<String> {
    let mut digests = vec![];
    for n in first..first + count {
        digests.push(app.service.push_config_image("default", stream, tag, &config(n)).await.unwrap());
        app.advance(DAY);
    }
    digests
}

/// The decisions of one stream of a prune report, one line per history item.
pub fn decisions(report: &Value, stream: &str) -> Vec<String> {
    let s = report["streams"].as_array().unwrap().iter().find(|s| s["name"] == stream).unwrap();
    s["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let keep = if i["decision"]["keep"].as_bool().unwrap() { "keep" } else { "delete" };
            format!("{}#{} {keep} {}", i["tag"].as_str().unwrap(), i["revision"], i["decision"]["reason"].as_str().unwrap())
        })
        .collect()
}
