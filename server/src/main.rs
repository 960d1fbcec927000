//! The `imagestreams` binary: `serve`, or one client command.

#[tokio::main]
async fn main() {
    let code = server::cli::run().await;
    std::process::exit(code);
}
