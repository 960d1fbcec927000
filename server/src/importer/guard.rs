//! Where imports (and later webhooks) may connect (PRODUCT difference 8): the operator's
//! `--allowed-registry` globs, and a refusal of loopback, private, link-local and unspecified
//! addresses unless an entry names the host explicitly. The check runs on resolved addresses,
//! inside an in-process forward proxy that every registry connection goes through, so each
//! redirect and each re-resolution is checked again, and the connection goes to the very
//! address that was checked (no DNS rebinding window).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
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

/// The policy: the allow-list (empty = any public registry).
#[derive(Clone, Debug, Default)]
pub struct RegistryGuard {
    pub allowed: Vec<AllowEntry>,
}

impl RegistryGuard {
    pub fn new(entries: &[String]) -> Self {
        RegistryGuard { allowed: entries.iter().filter(|e| !e.trim().is_empty()).map(|e| AllowEntry::parse(e)).collect() }
    }

    /// The allow-list check on the name, before any lookup (upstream's message).
    pub fn check_name(&self, host: &str, port: u16) -> Result<(), String> {
        if self.allowed.is_empty() || self.allowed.iter().any(|e| e.matches(host, port)) {
            return Ok(());
        }
        let list: Vec<String> = self.allowed.iter().map(|e| format!("{:?}", e.display())).collect();
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
            return Err(format!(
                "registry \"{host}:{port}\" resolves to the non-public address {}; name it in --allowed-registry to import from it",
                bad.ip()
            ));
        }
        Ok(())
    }

    /// Resolves and checks; returns the addresses to connect to.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        self.check_name(host, port)?;
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| format!("registry \"{host}:{port}\" could not be resolved: {e}"))?
            .collect();
        if addrs.is_empty() {
            return Err(format!("registry \"{host}:{port}\" has no address"));
        }
        self.check_addresses(host, port, &addrs)?;
        Ok(addrs)
    }
}

/// A forward proxy on 127.0.0.1 that applies the guard to every connection: `CONNECT` tunnels
/// for HTTPS and absolute-form requests for plain HTTP. Runs until the process ends.
pub async fn start_proxy(guard: Arc<RegistryGuard>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else { continue };
            let guard = guard.clone();
            tokio::spawn(async move {
                if let Err(e) = serve_proxy_connection(conn, &guard).await {
                    tracing::debug!(error = %e, "egress proxy connection ended");
                }
            });
        }
    });
    Ok(addr)
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

async fn refuse(mut conn: TcpStream, code: u16, message: &str) -> std::io::Result<()> {
    let body = message.as_bytes();
    let reason = match code {
        403 => "Forbidden",
        502 => "Bad Gateway",
        _ => "Bad Request",
    };
    let head =
        format!("HTTP/1.1 {code} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    conn.write_all(head.as_bytes()).await?;
    conn.write_all(body).await
}

/// Connects to a checked address. Errors carry the HTTP code the proxy answers with: 403 for
/// a refusal of the guard, 502 for a registry that cannot be reached.
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

async fn serve_proxy_connection(conn: TcpStream, guard: &RegistryGuard) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).await?;
    let mut headers: Vec<String> = vec![];
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        headers.push(line);
    }
    let mut parts = request_line.split_whitespace();
    let (method, target, version) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or("HTTP/1.1"));
    if method.eq_ignore_ascii_case("CONNECT") {
        let (host, port) = split_host_port(target, 443);
        let mut upstream = match connect_checked(guard, &host, port).await {
            Ok(s) => s,
            Err((code, m)) => return refuse(reader.into_inner(), code, &m).await,
        };
        let mut client = reader.into_inner();
        client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n").await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    // Plain HTTP: `GET http://host:port/path HTTP/1.1`.
    let Some(rest) = target.strip_prefix("http://") else {
        return refuse(reader.into_inner(), 400, "only absolute http:// requests and CONNECT are proxied").await;
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = split_host_port(authority, 80);
    let mut upstream = match connect_checked(guard, &host, port).await {
        Ok(s) => s,
        Err((code, m)) => return refuse(reader.into_inner(), code, &m).await,
    };
    // One request per connection: the client may send its next request to another host.
    let mut head = format!("{method} {path} {version}\r\n");
    for h in headers {
        let lower = h.to_ascii_lowercase();
        if lower.starts_with("connection:") || lower.starts_with("proxy-connection:") || lower.starts_with("proxy-authorization:") {
            continue;
        }
        head.push_str(&h);
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).await?;
    let mut client = reader.into_inner();
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
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
