//! The `imagestreams` binary: `serve`, or one client command.
//!
//! Must not: do anything but call `cli::run` and exit with its code (and name the allocator).

/// mimalloc rather than glibc's malloc: the server renders pages from many small allocations,
/// and glibc's malloc, free and consolidation took a quarter of a page's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let code = server::cli::run().await;
    std::process::exit(code);
}
