//! The `imagestreams` binary: `serve`, or one client command.
//!
//! Must not: do anything but call `cli::run` and exit with its code.

#[tokio::main]
async fn main() {
    let code = server::cli::run().await;
    std::process::exit(code);
}
