//! The benchmarks' helpers, hidden subcommands of the binary (`bench-data`, `bench-watch`):
//! a synthetic dataset written in bulk, and a load of concurrent watchers. Not used by the
//! product itself; the README's bench scripts drive them.
//!
//! Must not: be used by the product (only the hidden subcommands call it).

pub mod data;
pub mod watch;
