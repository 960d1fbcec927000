//! The benchmarks' helpers, hidden subcommands of the binary (`bench-data`, `bench-watch`, `bench-writes`):
//! a synthetic dataset written in bulk, and a load of concurrent watchers. Not used by the
//! product itself; the README's bench scripts drive them.
//!
//! Must not: be used by the product (only the hidden subcommands call it).

pub mod data;
pub mod watch;
pub mod writes;

/// The resident memory of process `pid` in KB (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// The `p` quantile (0..=1) of sorted values, nearest rank; NaN when there are none.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
