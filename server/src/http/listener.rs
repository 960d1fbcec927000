//! The HTTP/1.1 accept loop of `serve`. Owns connections and their graceful end; must not know
//! what the routes do.

/// Serves HTTP/1.1 (what browsers and the CLI speak to us over plain HTTP) with one small task
/// per connection: an idle watch then costs little more than hyper's read and write buffers
/// (`axum::serve` keeps an HTTP/1-or-2 connection per client). Each request carries its peer
/// address (`ConnectInfo`) for the audit log. When `shutdown` completes it stops accepting and gives
/// open requests five seconds (watches and live pages end then).
pub async fn serve_http1(listener: tokio::net::TcpListener, app: axum::Router, shutdown: impl std::future::Future<Output = ()>) {
    use tower::Layer;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = axum::Extension(axum::extract::ConnectInfo(peer)).layer(app.clone());
        let conn = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
    }
}
