//! Where imports and webhook deliveries may connect (PRODUCT difference 8): the operator's
//! `--allowed-registry` globs, and a refusal of loopback, private, link-local and unspecified
//! addresses unless an entry names the host explicitly. The check runs on resolved addresses,
//! inside an in-process forward proxy that every registry connection goes through, so each
//! redirect and each re-resolution is checked again, and the connection goes to the very
//! address that was checked (no DNS rebinding window).
//!
//! Its own module because imports (`importer`) and webhook delivery (`workers::delivery`) both
//! go through it. Must not: know what is being fetched or sent (only where to).

use hyper_util::rt::TokioIo;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};

/// One `--allowed-registry` entry: `host[:port]` with `*` and `?` wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowEntry {
    pub host: String,
    pub port: Option<String>,
}

impl AllowEntry {
    pub fn parse(s: &str) -> AllowEntry {
        let s = s.trim().to_ascii_lowercase();
        if let Some(rest) = s.strip_prefix('[')
            && let Some((h, p)) = rest.split_once(']')
        {
            return AllowEntry { host: h.to_string(), port: p.strip_prefix(':').map(str::to_string) };
        }
        match s.split_once(':') {
            Some((h, p)) if !p.contains(':') => AllowEntry { host: h.to_string(), port: Some(p.to_string()) },
            _ => AllowEntry { host: s, port: None },
        }
    }

    /// Whether this entry allows `host:port`. An entry without port means 443, or 80 for an
    /// insecure connection (upstream's rule).
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.to_ascii_lowercase();
        let port_ok = match &self.port {
            Some(p) => glob(p, &port.to_string()),
            None => port == 443 || port == 80,
        };
        port_ok && (glob(&self.host, &host) || (self.host == "docker.io" && (host == "registry-1.docker.io" || host == "index.docker.io")))
    }

    /// Names the host literally (no wildcard): only such entries open non-public addresses.
    pub fn names_explicitly(&self, host: &str, port: u16) -> bool {
        !self.host.contains(['*', '?']) && self.port.as_deref().is_none_or(|p| !p.contains(['*', '?'])) && self.matches(host, port)
    }

    pub fn display(&self) -> String {
        format!("{}:{}", self.host, self.port.as_deref().unwrap_or("443"))
    }
}

/// `*` any run, `?` one character.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Loopback, private (RFC 1918, ULA), link-local, unspecified, and the like.
pub fn is_non_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.octets()[0] == 0
                // 100.64.0.0/10 carrier-grade NAT
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_non_public(IpAddr::V4(v4));
            }
            let seg = v6.segments();
            v6.is_loopback() || v6.is_unspecified() || (seg[0] & 0xfe00) == 0xfc00 || (seg[0] & 0xffc0) == 0xfe80
        }
    }
}

/// The policy: the allow-list (empty = any public host). One guard type serves registries
/// (`--allowed-registry`) and webhook targets (`--allowed-webhook-target`); only the words of
/// its messages differ.
#[derive(Clone, Debug, Default)]
pub struct RegistryGuard {
    pub allowed: Vec<AllowEntry>,
    webhooks: bool,
}

impl RegistryGuard {
    pub fn new(entries: &[String]) -> Self {
        RegistryGuard { allowed: entries.iter().filter(|e| !e.trim().is_empty()).map(|e| AllowEntry::parse(e)).collect(), webhooks: false }
    }

    /// The guard of webhook deliveries.
    pub fn for_webhooks(entries: &[String]) -> Self {
        RegistryGuard { webhooks: true, ..Self::new(entries) }
    }

    fn what(&self) -> (&'static str, &'static str) {
        if self.webhooks { ("webhook target", "--allowed-webhook-target") } else { ("registry", "--allowed-registry") }
    }

    /// The allow-list check on the name, before any lookup (upstream's message).
    pub fn check_name(&self, host: &str, port: u16) -> Result<(), String> {
        if self.allowed.is_empty() || self.allowed.iter().any(|e| e.matches(host, port)) {
            return Ok(());
        }
        let list: Vec<String> = self.allowed.iter().map(|e| format!("{:?}", e.display())).collect();
        if self.webhooks {
            return Err(format!(
                "webhook target \"{host}:{port}\" is forbidden: not allowed by --allowed-webhook-target: {}",
                list.join(", ")
            ));
        }
        Err(format!(
            "importing images from registry \"{host}:{port}\" is forbidden: registry \"{host}:{port}\" not allowed by whitelist: {}",
            list.join(", ")
        ))
    }

    /// The address check: every resolved address must be public unless an entry names the host.
    pub fn check_addresses(&self, host: &str, port: u16, addrs: &[SocketAddr]) -> Result<(), String> {
        if self.allowed.iter().any(|e| e.names_explicitly(host, port)) {
            return Ok(());
        }
        if let Some(bad) = addrs.iter().find(|a| is_non_public(a.ip())) {
            let (what, flag) = self.what();
            return Err(format!("{what} \"{host}:{port}\" resolves to the non-public address {}; name it in {flag} to allow it", bad.ip()));
        }
        Ok(())
    }

    /// Resolves and checks; returns the addresses to connect to.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        self.check_name(host, port)?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("{} \"{host}:{port}\" could not be resolved: {e}", self.what().0))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("{} \"{host}:{port}\" has no address", self.what().0));
        }
        self.check_addresses(host, port, &addrs)?;
        Ok(addrs)
    }
}

/// A forward proxy on 127.0.0.1 that applies the guard to every connection: `CONNECT` tunnels
/// for HTTPS, and absolute-form requests for plain HTTP forwarded over kept-alive upstream
/// connections (pooled per host and port; each was checked when it was opened).
/// The proxy runs until the returned guard is dropped.
pub async fn start_proxy(guard: Arc<RegistryGuard>) -> std::io::Result<(SocketAddr, ProxyGuard)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let pool = Arc::new(UpstreamPool::default());
    let task = tokio::spawn(async move {
        loop {
            let conn = match listener.accept().await {
                Ok((conn, _)) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "the egress proxy could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = conn.set_nodelay(true);
            let (guard, pool) = (guard.clone(), pool.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let (guard, pool) = (guard.clone(), pool.clone());
                    async move { Ok::<_, std::convert::Infallible>(handle(req, &guard, &pool).await) }
                });
                let served = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(conn), service).with_upgrades().await;
                if let Err(e) = served {
                    tracing::debug!(error = %e, "egress proxy connection ended");
                }
            });
        }
    });
    Ok((addr, ProxyGuard(task)))
}

/// Owns a running egress proxy; dropping it stops the proxy (its open tunnels end with it).
#[derive(Debug)]
pub struct ProxyGuard(tokio::task::JoinHandle<()>);

impl Drop for ProxyGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Set on answers the proxy makes itself (refusals, connection failures).
pub const PROXY_ANSWER_HEADER: &str = "x-imagestreams-egress";

type ProxyBody = http_body_util::combinators::BoxBody<bytes::Bytes, hyper::Error>;
type Sender = hyper::client::conn::http1::SendRequest<hyper::body::Incoming>;

/// Idle upstream HTTP connections by (host, port).
#[derive(Default)]
struct UpstreamPool {
    idle: std::sync::Mutex<std::collections::HashMap<(String, u16), Vec<Sender>>>,
}

impl UpstreamPool {
    fn take(&self, key: &(String, u16)) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(key)?;
        while let Some(s) = list.pop() {
            if !s.is_closed() {
                return Some(s);
            }
        }
        None
    }

    fn put(&self, key: (String, u16), s: Sender) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(key).or_default();
        if list.len() < 32 {
            list.push(s);
        }
    }
}

fn text_response(code: u16, message: String) -> hyper::Response<ProxyBody> {
    use http_body_util::BodyExt;
    let body = http_body_util::Full::new(bytes::Bytes::from(message)).map_err(|never| match never {}).boxed();
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = hyper::StatusCode::from_u16(code).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain"));
    // Marks the proxy's own answers, so a refusal is not mistaken for the upstream's reply.
    resp.headers_mut().insert(PROXY_ANSWER_HEADER, hyper::header::HeaderValue::from_static("1"));
    resp
}

async fn handle(req: hyper::Request<hyper::body::Incoming>, guard: &RegistryGuard, pool: &UpstreamPool) -> hyper::Response<ProxyBody> {
    use http_body_util::BodyExt;
    if req.method() == hyper::Method::CONNECT {
        let Some(authority) = req.uri().authority().map(|a| a.to_string()) else {
            return text_response(400, "CONNECT needs host:port".into());
        };
        let (host, port) = split_host_port(&authority, 443);
        let mut upstream = match connect_checked(guard, &host, port).await {
            Ok(s) => s,
            Err((code, m)) => return text_response(code, m),
        };
        tokio::spawn(async move {
            if let Ok(upgraded) = hyper::upgrade::on(req).await {
                let _ = tokio::io::copy_bidirectional(&mut TokioIo::new(upgraded), &mut upstream).await;
            }
        });
        return text_response(200, String::new());
    }
    let uri = req.uri().clone();
    if uri.scheme_str() != Some("http") {
        return text_response(400, "only absolute http:// requests and CONNECT are proxied".into());
    }
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']).to_string();
    let port = uri.port_u16().unwrap_or(80);
    let key = (host.clone(), port);
    let mut sender = match pool.take(&key) {
        Some(s) => s,
        None => {
            let stream = match connect_checked(guard, &host, port).await {
                Ok(s) => s,
                Err((code, m)) => return text_response(code, m),
            };
            let _ = stream.set_nodelay(true);
            match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
                Ok((sender, conn)) => {
                    tokio::spawn(conn);
                    sender
                }
                Err(e) => return text_response(502, format!("could not connect to {host}:{port}: {e}")),
            }
        }
    };
    // Origin-form upstream; hop-by-hop and proxy headers stay here.
    let (mut parts, body) = req.into_parts();
    parts.uri = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").parse().unwrap_or_default();
    for h in ["proxy-connection", "proxy-authorization", "connection", "keep-alive"] {
        parts.headers.remove(h);
    }
    if sender.ready().await.is_err() {
        return text_response(502, format!("could not connect to {host}:{port}: the connection closed"));
    }
    match sender.send_request(hyper::Request::from_parts(parts, body)).await {
        Ok(resp) => {
            pool.put(key, sender);
            resp.map(|b| b.boxed())
        }
        Err(e) => text_response(502, format!("could not connect to {host}:{port}: {e}")),
    }
}

fn split_host_port(authority: &str, default_port: u16) -> (String, u16) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((h, p)) = rest.split_once(']')
    {
        return (h.to_string(), p.strip_prefix(':').and_then(|p| p.parse().ok()).unwrap_or(default_port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default_port)),
        None => (authority.to_string(), default_port),
    }
}

async fn connect_checked(guard: &RegistryGuard, host: &str, port: u16) -> Result<TcpStream, (u16, String)> {
    let addrs = guard.resolve(host, port).await.map_err(|m| (403, m))?;
    let mut last = String::new();
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e.to_string(),
        }
    }
    Err((502, format!("could not connect to {host}:{port}: {last}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_ports() {
        let e = AllowEntry::parse("*.example.com");
        assert!(e.matches("quay.example.com", 443) && e.matches("a.example.com", 80));
        assert!(!e.matches("example.com", 443) && !e.matches("a.example.com", 5000));
        let e = AllowEntry::parse("127.0.0.1:50??");
        assert!(e.matches("127.0.0.1", 5000) && !e.matches("127.0.0.1", 6000));
        assert!(!e.names_explicitly("127.0.0.1", 5000));
        assert!(AllowEntry::parse("127.0.0.1:5000").names_explicitly("127.0.0.1", 5000));
        assert!(AllowEntry::parse("docker.io").matches("registry-1.docker.io", 443));
    }

    #[test]
    fn allow_list_messages() {
        let g = RegistryGuard::new(&["quay.io".into(), "r.example.com:5000".into()]);
        assert!(g.check_name("quay.io", 443).is_ok());
        assert_eq!(
            g.check_name("evil.io", 443).unwrap_err(),
            "importing images from registry \"evil.io:443\" is forbidden: registry \"evil.io:443\" not allowed by whitelist: \"quay.io:443\", \"r.example.com:5000\""
        );
        assert!(RegistryGuard::default().check_name("anything", 1).is_ok());
    }

    #[test]
    fn non_public_addresses() {
        for a in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "100.64.0.1",
        ] {
            assert!(is_non_public(a.parse().unwrap()), "{a}");
        }
        for a in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(!is_non_public(a.parse().unwrap()), "{a}");
        }
        let g = RegistryGuard::default();
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(g.check_addresses("localhost", 5000, &[lo]).unwrap_err().contains("non-public address 127.0.0.1"));
        let named = RegistryGuard::new(&["localhost:5000".into()]);
        assert!(named.check_addresses("localhost", 5000, &[lo]).is_ok());
        let wildcard = RegistryGuard::new(&["*:5000".into()]);
        assert!(wildcard.check_addresses("localhost", 5000, &[lo]).is_err(), "a wildcard does not open loopback");
    }
}
