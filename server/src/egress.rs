//! Where imports and webhook deliveries may connect (PRODUCT difference 8): the operator's
//! `--allowed-registry` globs, and a refusal of non-public addresses (loopback, private,
//! link-local, multicast, reserved, and the IPv6 forms that embed or tunnel to them), of the
//! server's own interface addresses, and of ports other than 443 and 80, unless an entry names
//! the host (or, for a port, the port) explicitly. The check runs on resolved addresses,
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

/// The special-purpose IPv4 blocks (IANA's registry) a registry or webhook target is never
/// in, each with the name its refusal gives.
const V4_RULES: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "\"this network\", 0.0.0.0/8"),
    ([10, 0, 0, 0], 8, "private, RFC 1918"),
    ([100, 64, 0, 0], 10, "carrier-grade NAT, 100.64.0.0/10"),
    ([127, 0, 0, 0], 8, "loopback, 127.0.0.0/8"),
    ([169, 254, 0, 0], 16, "link-local, 169.254.0.0/16"),
    ([172, 16, 0, 0], 12, "private, RFC 1918"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments, 192.0.0.0/24"),
    ([192, 0, 2, 0], 24, "documentation, 192.0.2.0/24"),
    ([192, 88, 99, 0], 24, "6to4 relay anycast, 192.88.99.0/24"),
    ([192, 168, 0, 0], 16, "private, RFC 1918"),
    ([198, 18, 0, 0], 15, "benchmarking, 198.18.0.0/15"),
    ([198, 51, 100, 0], 24, "documentation, 198.51.100.0/24"),
    ([203, 0, 113, 0], 24, "documentation, 203.0.113.0/24"),
    ([224, 0, 0, 0], 4, "multicast, 224.0.0.0/4"),
    ([240, 0, 0, 0], 4, "reserved, 240.0.0.0/4"),
];

/// The IPv6 blocks refused outright, most specific first. The forms that embed an IPv4 address
/// and can carry a connection to it (IPv4-mapped, NAT64's well-known prefix, ISATAP) are judged by
/// the embedded address instead (`embedded_ipv4`); the older tunnelling forms (IPv4-compatible,
/// 6to4, Teredo) and local-use NAT64 are refused whole, as no registry is reached through them.
const V6_RULES: &[(u128, u8, &str)] = &[
    (0, 128, "unspecified, ::"),
    (1, 128, "loopback, ::1"),
    (0xffff_0000_0000_0000, 96, "IPv4-translated, ::ffff:0:0:0/96"),
    (0, 96, "IPv4-compatible, ::/96"),
    (0x0064_ff9b_0001 << 80, 48, "local-use NAT64, 64:ff9b:1::/48"),
    (0x0100 << 112, 64, "discard-only, 100::/64"),
    (0x2001 << 112, 32, "Teredo, 2001::/32"),
    (0x2001_0db8 << 96, 32, "documentation, 2001:db8::/32"),
    (0x2001 << 112, 23, "IETF protocol assignments, 2001::/23"),
    (0x2002 << 112, 16, "6to4, 2002::/16"),
    (0x3fff << 112, 20, "documentation, 3fff::/20"),
    (0xfc00 << 112, 7, "unique local, fc00::/7"),
    (0xfe80 << 112, 10, "link-local, fe80::/10"),
    (0xfec0 << 112, 10, "site-local, fec0::/10"),
    (0xff00 << 112, 8, "multicast, ff00::/8"),
];

fn in_v4(ip: std::net::Ipv4Addr, net: [u8; 4], len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    u32::from(ip) & mask == u32::from_be_bytes(net) & mask
}

fn in_v6(ip: std::net::Ipv6Addr, net: u128, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    u128::from(ip) & mask == net & mask
}

/// The IPv4 address an IPv6 address carries a connection to, and the form's name: IPv4-mapped
/// (`::ffff:a.b.c.d`, a socket of the IPv4 stack), NAT64's well-known prefix (`64:ff9b::/96`,
/// translated to the IPv4 address by the network's NAT64), and an ISATAP interface id
/// (`…:0:5efe:a.b.c.d`, tunnelled to it by an ISATAP router).
pub fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<(std::net::Ipv4Addr, &'static str)> {
    let s = v6.segments();
    let tail = std::net::Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some((v4, "IPv4-mapped"));
    }
    if in_v6(v6, 0x0064_ff9b << 96, 96) {
        return Some((tail, "NAT64, 64:ff9b::/96"));
    }
    if s[4] & 0xfdff == 0 && s[5] == 0x5efe {
        return Some((tail, "ISATAP"));
    }
    None
}

/// The IPv4 address a host written in one of the numeric forms the C resolver accepts
/// (`inet_aton`: one to four parts, each decimal, octal with a leading `0` or hex with `0x`; the
/// last part fills the bytes left, so `127.1` is 127.0.0.1 and `0x7f000001` and `2130706433`
/// are too) stands for; `None` for anything else (a name, or a part out of range). A webhook
/// target is checked with it when written, since the delivery's lookup (`getaddrinfo`) reads
/// such a host as that address.
pub fn numeric_ipv4(host: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = host.strip_suffix('.').unwrap_or(host).split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for p in &parts {
        let (digits, radix) = match p.get(..2) {
            Some("0x" | "0X") => (&p[2..], 16),
            _ if p.len() > 1 && p.starts_with('0') => (&p[1..], 8),
            _ => (*p, 10),
        };
        if digits.is_empty() && radix != 16 {
            return None;
        }
        let v = if digits.is_empty() { 0 } else { u32::from_str_radix(digits, radix).ok()? };
        values.push(v);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|v| *v > 255) {
        return None;
    }
    let room = 8 * (4 - leading.len() as u32);
    if room < 32 && *last >> room != 0 {
        return None;
    }
    let high = leading.iter().enumerate().fold(0u32, |acc, (i, v)| acc | (v << (24 - 8 * i as u32)));
    Some(std::net::Ipv4Addr::from(high | last))
}

/// Why `ip` is not a public unicast address, naming the rule (`None`: it is public).
pub fn non_public_reason(ip: IpAddr) -> Option<String> {
    match ip {
        IpAddr::V4(v4) => V4_RULES.iter().find(|(net, len, _)| in_v4(v4, *net, *len)).map(|(_, _, name)| name.to_string()),
        IpAddr::V6(v6) => {
            if let Some((v4, form)) = embedded_ipv4(v6) {
                return non_public_reason(IpAddr::V4(v4)).map(|why| format!("{form} form of {v4}: {why}"));
            }
            V6_RULES.iter().find(|(net, len, _)| in_v6(v6, *net, *len)).map(|(_, _, name)| name.to_string())
        }
    }
}

/// Loopback, private (RFC 1918, ULA), link-local, unspecified, multicast, reserved, and the
/// IPv6 forms that embed or tunnel to such an address (see `non_public_reason`).
pub fn is_non_public(ip: IpAddr) -> bool {
    non_public_reason(ip).is_some()
}

/// The ports registries and webhook targets may use without an allow-list entry naming the port.
pub const DEFAULT_PORTS: [u16; 2] = [443, 80];

/// The addresses of this machine's own interfaces: a service listening on all of them (a
/// database, an admin page) is reached through the public one without any firewall seeing it.
/// Read anew at each check (a few microseconds), so an address gained later counts too.
fn own_addresses() -> Vec<IpAddr> {
    match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces.iter().map(|i| i.ip()).collect(),
        Err(e) => {
            // The other rules still hold; only this one cannot be applied.
            tracing::warn!(error = %e, "the egress guard could not list this server's interface addresses");
            vec![]
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
    /// The server's own addresses as a test sets them (`None`: this machine's, read per check).
    own: Option<Vec<IpAddr>>,
}

impl RegistryGuard {
    pub fn new(entries: &[String]) -> Self {
        RegistryGuard {
            allowed: entries.iter().filter(|e| !e.trim().is_empty()).map(|e| AllowEntry::parse(e)).collect(),
            webhooks: false,
            own: None,
        }
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

    /// The address check, on the resolved addresses, in this order (the message names the rule
    /// that refused): every address must be public (`non_public_reason`) and none the server's
    /// own, unless an entry names the host and port without wildcards; and a port other than 443
    /// or 80 needs an entry that names the port (a port scan of public hosts otherwise). The port
    /// is judged after the addresses, so a loopback target is refused as loopback whatever its
    /// port.
    pub fn check_addresses(&self, host: &str, port: u16, addrs: &[SocketAddr]) -> Result<(), String> {
        if self.allowed.iter().any(|e| e.names_explicitly(host, port)) {
            return Ok(());
        }
        let (what, flag) = self.what();
        for a in addrs {
            if let Some(why) = non_public_reason(a.ip()) {
                return Err(format!(
                    "{what} \"{host}:{port}\" resolves to the non-public address {} ({why}); name it in {flag} to allow it",
                    a.ip()
                ));
            }
        }
        let own = self.own.clone().unwrap_or_else(own_addresses);
        let is_own = |ip: IpAddr| {
            let v4 = match ip {
                IpAddr::V6(v6) => embedded_ipv4(v6).map(|(v4, _)| IpAddr::V4(v4)),
                IpAddr::V4(_) => None,
            };
            own.contains(&ip) || v4.is_some_and(|v4| own.contains(&v4))
        };
        if let Some(a) = addrs.iter().find(|a| is_own(a.ip())) {
            return Err(format!(
                "{what} \"{host}:{port}\" resolves to the non-public address {} (an address of this server's own interfaces); name it in {flag} to allow it",
                a.ip()
            ));
        }
        self.check_port(host, port)
    }

    /// The port rule of [`check_addresses`](Self::check_addresses) alone, for a target known by
    /// name before it is resolved (a webhook subscription being written): an entry naming the
    /// host and port without wildcards, 443 or 80, or a port an entry names.
    pub fn check_port_of_name(&self, host: &str, port: u16) -> Result<(), String> {
        if self.allowed.iter().any(|e| e.names_explicitly(host, port)) {
            return Ok(());
        }
        self.check_port(host, port)
    }

    /// 443 and 80, or a port an entry names (its pattern written by the operator).
    fn check_port(&self, host: &str, port: u16) -> Result<(), String> {
        if DEFAULT_PORTS.contains(&port) || self.allowed.iter().any(|e| e.port.is_some() && e.matches(host, port)) {
            return Ok(());
        }
        if self.webhooks {
            return Err(format!(
                "webhook target \"{host}:{port}\" is forbidden: port {port} is not allowed: only 443 and 80 unless an --allowed-webhook-target entry names the port (e.g. \"{host}:{port}\")"
            ));
        }
        // "not allowed by whitelist", as the allow-list's refusal, so the importer reports it as
        // Forbidden when the proxy refuses a redirect for it.
        Err(format!(
            "importing images from registry \"{host}:{port}\" is forbidden: port {port} not allowed by whitelist: only 443 and 80 unless an --allowed-registry entry names the port (e.g. \"{host}:{port}\")"
        ))
    }

    #[cfg(test)]
    fn with_own_addresses(mut self, own: &[&str]) -> Self {
        self.own = Some(own.iter().map(|a| a.parse().unwrap()).collect());
        self
    }

    /// Resolves and checks; returns the addresses to connect to. A name that does not resolve
    /// is not a refusal (`EgressError::Unresolved`): nothing forbade it, it is not there.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        self.check_name(host, port).map_err(EgressError::Refused)?;
        let bare = host.trim_matches(['[', ']']);
        let addrs: Vec<SocketAddr> =
            tokio::net::lookup_host((bare, port)).await.map_err(|e| EgressError::unresolved(host, port, &e.to_string()))?.collect();
        if addrs.is_empty() {
            return Err(EgressError::unresolved(host, port, "the name has no address"));
        }
        self.check_addresses(host, port, &addrs).map_err(EgressError::Refused)?;
        Ok(addrs)
    }
}

/// Why the guard gave no address to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EgressError {
    /// The operator's rules refuse the host (allow-list, non-public address, port): Forbidden.
    Refused(String),
    /// The name did not resolve (`could not reach registry-1.docker.io: name not found`): the
    /// registry is unreachable, which is not a refusal (issue 17 point 1).
    Unresolved(String),
}

impl EgressError {
    fn unresolved(host: &str, port: u16, lookup_error: &str) -> Self {
        let place = if DEFAULT_PORTS.contains(&port) { host.to_string() } else { format!("{host}:{port}") };
        EgressError::Unresolved(format!("could not reach {place}: {}", lookup_words(lookup_error)))
    }

    pub fn message(&self) -> &str {
        match self {
            EgressError::Refused(m) | EgressError::Unresolved(m) => m,
        }
    }
}

impl std::fmt::Display for EgressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// A resolver's error in words (`getaddrinfo`'s texts vary by libc).
fn lookup_words(error: &str) -> String {
    let e = error.to_ascii_lowercase();
    if ["name or service not known", "no address associated", "nodename nor servname", "no such host", "not known"]
        .iter()
        .any(|m| e.contains(m))
    {
        return "name not found".into();
    }
    if e.contains("temporary failure") || e.contains("try again") {
        return "the name server did not answer".into();
    }
    error.trim_start_matches("failed to lookup address information: ").to_string()
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
        let mut last_warning: Option<std::time::Instant> = None;
        loop {
            let conn = match listener.accept().await {
                Ok((conn, _)) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin, and
                    // warn once in ten seconds rather than at every retry (no log flood).
                    if last_warning.is_none_or(|t| t.elapsed() >= std::time::Duration::from_secs(10)) {
                        last_warning = Some(std::time::Instant::now());
                        tracing::warn!(error = %e, "the egress proxy could not accept a connection");
                    }
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
    let addrs = guard.resolve(host, port).await.map_err(|e| match e {
        EgressError::Refused(m) => (403, m),
        EgressError::Unresolved(m) => (502, m),
    })?;
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
    fn numeric_hosts_read_as_the_resolver_reads_them() {
        let v4 = |s: &str| numeric_ipv4(s).map(|a| a.to_string());
        for (host, addr) in [
            ("127.1", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("127.0.1", "127.0.0.1"),
            ("10.0.0.1", "10.0.0.1"),
            ("0", "0.0.0.0"),
            ("0x", "0.0.0.0"),
            ("169.254.43518", "169.254.169.254"),
        ] {
            assert_eq!(v4(host).as_deref(), Some(addr), "{host}");
        }
        for host in ["localhost", "example.com", "1.2.3.4.5", "256.1", "1.2.3.256", "1.2.65536", "08", "1..2", "", "0x1g", "4294967296"] {
            assert_eq!(v4(host), None, "{host}");
        }
    }

    #[test]
    fn lookup_failures_in_words() {
        assert_eq!(lookup_words("failed to lookup address information: Name or service not known"), "name not found");
        assert_eq!(lookup_words("failed to lookup address information: No address associated with hostname"), "name not found");
        assert_eq!(
            lookup_words("failed to lookup address information: Temporary failure in name resolution"),
            "the name server did not answer"
        );
        assert_eq!(lookup_words("failed to lookup address information: something else"), "something else");
        let e = EgressError::unresolved("registry-1.docker.io", 443, "failed to lookup address information: Name or service not known");
        assert_eq!(e, EgressError::Unresolved("could not reach registry-1.docker.io: name not found".into()));
        assert_eq!(EgressError::unresolved("r.example", 5000, "x").message(), "could not reach r.example:5000: x");
    }

    /// Issue 17 point 1: a name that does not resolve is an unreachable registry, not a refusal
    /// (it was reported as Forbidden).
    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_unreachable_not_forbidden() {
        match RegistryGuard::new(&[]).resolve("nosuch.invalid", 443).await {
            Err(EgressError::Unresolved(m)) => assert!(m.starts_with("could not reach nosuch.invalid: "), "{m}"),
            other => panic!("{other:?}"),
        }
        // A refusal stays a refusal.
        let refused = RegistryGuard::new(&["quay.io".to_string()]).resolve("nosuch.invalid", 443).await;
        assert!(matches!(refused, Err(EgressError::Refused(m)) if m.contains("not allowed by whitelist")));
    }

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
        let g = RegistryGuard::default().with_own_addresses(&[]);
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(g.check_addresses("localhost", 5000, &[lo]).unwrap_err().contains("non-public address 127.0.0.1"));
        let named = RegistryGuard::new(&["localhost:5000".into()]);
        assert!(named.check_addresses("localhost", 5000, &[lo]).is_ok());
        let wildcard = RegistryGuard::new(&["*:5000".into()]);
        assert!(wildcard.check_addresses("localhost", 5000, &[lo]).is_err(), "a wildcard does not open loopback");
    }

    /// Each special-purpose block the review found open (L5 b), and the rule each is refused by.
    #[test]
    fn every_special_purpose_block_is_refused_by_name() {
        for (a, rule) in [
            ("192.0.0.8", "IETF protocol assignments, 192.0.0.0/24"),
            ("198.18.0.1", "benchmarking, 198.18.0.0/15"),
            ("198.19.255.255", "benchmarking, 198.18.0.0/15"),
            ("240.0.0.1", "reserved, 240.0.0.0/4"),
            ("255.255.255.255", "reserved, 240.0.0.0/4"),
            ("224.0.0.251", "multicast, 224.0.0.0/4"),
            ("239.255.255.250", "multicast, 224.0.0.0/4"),
            ("192.0.2.1", "documentation, 192.0.2.0/24"),
            ("0.1.2.3", "\"this network\", 0.0.0.0/8"),
            ("::", "unspecified, ::"),
            ("::1", "loopback, ::1"),
            ("::10.0.0.5", "IPv4-compatible, ::/96"),
            ("::8.8.8.8", "IPv4-compatible, ::/96"),
            ("::ffff:0:8.8.8.8", "IPv4-translated, ::ffff:0:0:0/96"),
            ("64:ff9b:1::a00:5", "local-use NAT64, 64:ff9b:1::/48"),
            ("2002:a00:5::1", "6to4, 2002::/16"),
            ("2002:808:808::1", "6to4, 2002::/16"),
            ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo, 2001::/32"),
            ("2001:10::1", "IETF protocol assignments, 2001::/23"),
            ("2001:db8::1", "documentation, 2001:db8::/32"),
            ("100::1", "discard-only, 100::/64"),
            ("fec0::1", "site-local, fec0::/10"),
            ("fe80::1", "link-local, fe80::/10"),
            ("fd12::1", "unique local, fc00::/7"),
            ("ff02::1", "multicast, ff00::/8"),
            ("ff0e::1", "multicast, ff00::/8"),
        ] {
            assert_eq!(non_public_reason(a.parse().unwrap()).as_deref(), Some(rule), "{a}");
        }
    }

    /// The forms that carry a connection to an embedded IPv4 address are judged by it: NAT64 to
    /// an internal address is refused (the review's `[64:ff9b::a00:5]`), NAT64 to a public one is
    /// how an IPv6-only network reaches public registries and stays open.
    #[test]
    fn ipv4_embedding_forms_are_judged_by_the_embedded_address() {
        let why = |a: &str| non_public_reason(a.parse().unwrap());
        assert_eq!(why("64:ff9b::a00:5").as_deref(), Some("NAT64, 64:ff9b::/96 form of 10.0.0.5: private, RFC 1918"));
        assert_eq!(why("64:ff9b::7f00:1").as_deref(), Some("NAT64, 64:ff9b::/96 form of 127.0.0.1: loopback, 127.0.0.0/8"));
        assert_eq!(why("64:ff9b::a9fe:a9fe").as_deref(), Some("NAT64, 64:ff9b::/96 form of 169.254.169.254: link-local, 169.254.0.0/16"));
        assert_eq!(why("64:ff9b::808:808"), None);
        assert_eq!(why("::ffff:10.0.0.1").as_deref(), Some("IPv4-mapped form of 10.0.0.1: private, RFC 1918"));
        assert_eq!(why("::ffff:8.8.8.8"), None);
        assert_eq!(why("2606:4700::5efe:c0a8:101").as_deref(), Some("ISATAP form of 192.168.1.1: private, RFC 1918"));
        assert_eq!(why("2606:4700::200:5efe:a00:1").as_deref(), Some("ISATAP form of 10.0.0.1: private, RFC 1918"));
        assert_eq!(why("2606:4700::1111"), None);
        let g = RegistryGuard::default().with_own_addresses(&[]);
        let nat64: SocketAddr = "[64:ff9b::a00:5]:443".parse().unwrap();
        assert_eq!(
            g.check_addresses("internal.example.com", 443, &[nat64]).unwrap_err(),
            "registry \"internal.example.com:443\" resolves to the non-public address 64:ff9b::a00:5 (NAT64, 64:ff9b::/96 form of 10.0.0.5: private, RFC 1918); name it in --allowed-registry to allow it"
        );
    }

    /// The host's own public address (L5 a) is refused like loopback, in any spelling that
    /// reaches it, unless an entry names it.
    #[test]
    fn the_servers_own_addresses_are_refused() {
        let g = RegistryGuard::for_webhooks(&[]).with_own_addresses(&["8.8.4.4", "2606:4700::1111"]);
        let own: SocketAddr = "8.8.4.4:443".parse().unwrap();
        assert_eq!(
            g.check_addresses("me.example.com", 443, &[own]).unwrap_err(),
            "webhook target \"me.example.com:443\" resolves to the non-public address 8.8.4.4 (an address of this server's own interfaces); name it in --allowed-webhook-target to allow it"
        );
        let via_nat64: SocketAddr = "[64:ff9b::808:404]:443".parse().unwrap();
        assert!(g.check_addresses("me.example.com", 443, &[via_nat64]).unwrap_err().contains("own interfaces"));
        let v6: SocketAddr = "[2606:4700::1111]:80".parse().unwrap();
        assert!(g.check_addresses("me6.example.com", 80, &[v6]).unwrap_err().contains("own interfaces"));
        let other: SocketAddr = "8.8.8.8:443".parse().unwrap();
        assert!(g.check_addresses("dns.example.com", 443, &[other]).is_ok());
        let named = RegistryGuard::for_webhooks(&["me.example.com".into()]).with_own_addresses(&["8.8.4.4"]);
        assert!(named.check_addresses("me.example.com", 443, &[own]).is_ok(), "an entry naming the host opens it");
        // This machine's real interfaces: loopback is among them (and refused as loopback first).
        assert!(own_addresses().iter().any(|a| a.is_loopback()), "{:?}", own_addresses());
    }

    /// Ports other than 443 and 80 (L5 c) need an entry naming the port, for registries and
    /// webhook targets alike; the message says it was the port.
    #[test]
    fn other_ports_need_an_entry_naming_them() {
        let public: SocketAddr = "8.8.8.8:6379".parse().unwrap();
        let open = RegistryGuard::default().with_own_addresses(&[]);
        assert_eq!(
            open.check_addresses("cache.example.com", 6379, &[public]).unwrap_err(),
            "importing images from registry \"cache.example.com:6379\" is forbidden: port 6379 not allowed by whitelist: only 443 and 80 unless an --allowed-registry entry names the port (e.g. \"cache.example.com:6379\")"
        );
        for port in DEFAULT_PORTS {
            assert!(open.check_addresses("r.example.com", port, &[SocketAddr::new(public.ip(), port)]).is_ok(), "{port}");
        }
        let hooks = RegistryGuard::for_webhooks(&[]).with_own_addresses(&[]);
        assert_eq!(
            hooks.check_addresses("cache.example.com", 6379, &[public]).unwrap_err(),
            "webhook target \"cache.example.com:6379\" is forbidden: port 6379 is not allowed: only 443 and 80 unless an --allowed-webhook-target entry names the port (e.g. \"cache.example.com:6379\")"
        );
        let named = RegistryGuard::new(&["r.example.com:5000".into(), "*.corp.example.com:8443".into()]).with_own_addresses(&[]);
        assert!(named.check_addresses("r.example.com", 5000, &[SocketAddr::new(public.ip(), 5000)]).is_ok());
        assert!(named.check_addresses("git.corp.example.com", 8443, &[SocketAddr::new(public.ip(), 8443)]).is_ok());
        let other_port = SocketAddr::new(public.ip(), 5001);
        assert!(named.check_addresses("r.example.com", 5001, &[other_port]).unwrap_err().contains("port 5001 not allowed"));
        // An entry without a port opens only 443 and 80 (its host matches, the port does not).
        let no_port = RegistryGuard::for_webhooks(&["hooks.example.com".into()]).with_own_addresses(&[]);
        assert!(no_port.check_addresses("hooks.example.com", 8080, &[SocketAddr::new(public.ip(), 8080)]).is_err());
        // A loopback target is refused as loopback, whatever its port.
        let lo: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        assert!(open.check_addresses("localhost", 5000, &[lo]).unwrap_err().contains("loopback"));
    }
}
