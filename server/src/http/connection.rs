//! One HTTP/1.1 connection, served in phases (issue 18: memory per idle watch). Owns how a
//! connection's requests reach the router and how a watch's answer reaches the socket. Must not
//! know what the routes do: it tells a watch by its request line only to pick the transport, and
//! every request, a watch's included, is answered by the same router.
//!
//! **Why.** hyper serves ordinary requests, and its HTTP/1 connection keeps an 8 KB read buffer
//! and an 8 KB write buffer for its whole life (hyper 1.12 `proto/h1/io.rs`, `INIT_BUFFER_SIZE`,
//! which `max_buf_size` cannot lower). A watch is idle almost all of its life, so hyper's buffers
//! were most of what 10,000 watches cost. A watch is therefore written here: its head, then each
//! event as one chunk written straight to the socket, with nothing kept between events.
//!
//! **How.** hyper reads the connection through a [`HeadGate`], which hands it one complete
//! request head at a time, and only heads of requests without a body (what a browser's and
//! kubectl's `GET`s are). Before handing a head over, the gate looks at it:
//! - an ordinary request without a body goes to hyper;
//! - a watch (a `GET` with `watch=1` or `watch=true` in its query, as the Kubernetes API takes
//!   it, or a live page under `/api/v1/live/`) ends hyper's phase: hyper is idle (it has answered
//!   everything it was given, see below), the gate answers its next read with end-of-file, hyper
//!   closes without shutting the socket down ([`hyper::server::conn::http1::Connection::into_parts`]),
//!   and the watch is served here, its lines taken from the watch itself ([`WatchLines`]). When
//!   the watch ends the connection goes back to hyper (a new hyper connection over the same
//!   socket), as kubectl's next request expects;
//! - anything else (a request with a body, HTTP/1.0, an upgrade, a head the gate cannot parse or
//!   longer than [`MAX_INSPECTED_HEAD`]) ends the phase the same way and hyper serves the rest of
//!   the connection as it always did, the gate passing bytes through untouched.
//!
//! hyper is idle whenever it reads in the first phase: it gets whole heads of requests without a
//! body, so it reads again only for the next head, and it is built with `half_close` so that it
//! does not read while an answer is being written (hyper's check for a client that left,
//! `mid_message_detect_eof`). A client that leaves during an ordinary answer is found when the
//! answer is written; one that leaves an idle watch is found here, by a read of the socket that
//! waits beside the watch's next event (bytes the client sends meanwhile, its next request, are
//! kept for hyper). A client that reads nothing for [`MAX_WRITE_STALL`] while an event waits
//! is cut off.
//!
//! Graceful end: when the listener's stop signal is given, a hyper phase finishes its request in
//! flight and closes (`graceful_shutdown`); a watch has been ended by the service's draining, and
//! its connection closes after its last chunk.

use axum::extract::ConnectInfo;
use axum::http;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http_body_util::BodyExt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// A head longer than this is not looked at: the rest of the connection is hyper's, with its own
/// limits (which answer such a head with 431).
pub const MAX_INSPECTED_HEAD: usize = 16 * 1024;

/// How long a watch's answer may wait for its client to read: a client that reads nothing for
/// this long while an event waits to be written is cut off, its watch ended (it resumes from
/// its last version, as after any end). Without a bound, a client that stopped reading held its
/// watch, its slot among the per-client watches and the events queued for it past the watch's
/// deadline, until the server stopped. The Kubernetes API server likewise closes a watcher that
/// does not keep up ("Forcing watcher close due to unresponsiveness").
pub const MAX_WRITE_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Headers a head may have to be looked at (hyper's own limit is 100; a head with more is
/// handed to hyper whole).
const MAX_INSPECTED_HEADERS: usize = 64;

/// The router as hyper's service for one connection: each request carries the peer's address
/// (`ConnectInfo`) for the audit log and the per-client limits. The future is boxed so the
/// connection can be taken apart after hyper's phase (`poll_without_shutdown` wants it `Unpin`).
#[derive(Clone)]
pub struct AppService {
    app: axum::Router,
    peer: SocketAddr,
    bodies: BodyTimeouts,
}

/// Bounds of time on reading a request's body: a client that declared a body and then sent it
/// slowly or not at all held its connection as long as it liked (a helper's attack: 1,152
/// stalled bodies filled `--max-connections`; sign-in and `/v2/token` read bodies before any
/// credentials are known). A body that breaks a bound fails its request (the handler answers as
/// for a body cut short: 400) and the connection closes.
#[derive(Clone, Copy, Debug)]
pub struct BodyTimeouts {
    /// At most this long without a byte of the body.
    pub idle: std::time::Duration,
    /// At most this long for the whole body, except a registry upload's (`/v2/…/blobs/uploads/…`,
    /// a blob of any size, bounded by `idle` alone). API objects, forms and manifests are a few
    /// MiB at most.
    pub total: std::time::Duration,
}

impl Default for BodyTimeouts {
    fn default() -> Self {
        BodyTimeouts { idle: std::time::Duration::from_secs(30), total: std::time::Duration::from_secs(60) }
    }
}

/// A request body read within [`BodyTimeouts`]. The timer runs only while the body waits for
/// bytes.
struct TimedBody {
    inner: axum::body::Body,
    idle: std::time::Duration,
    deadline: Option<tokio::time::Instant>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Bytes came since the timer was set: it is set again from now.
    moved: bool,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.moved = true;
            return Poll::Ready(frame);
        }
        let due = {
            let idle = tokio::time::Instant::now() + this.idle;
            this.deadline.map_or(idle, |d| d.min(idle))
        };
        match &mut this.timer {
            Some(timer) if this.moved => timer.as_mut().reset(due),
            Some(_) => {}
            None => this.timer = Some(Box::pin(tokio::time::sleep_until(due))),
        }
        this.moved = false;
        if let Some(timer) = this.timer.as_mut() {
            ready!(timer.as_mut().poll(cx));
        }
        let why = match this.deadline {
            Some(d) if tokio::time::Instant::now() >= d => "the request body took too long to arrive",
            _ => "the request body stalled",
        };
        Poll::Ready(Some(Err(axum::Error::new(io::Error::new(io::ErrorKind::TimedOut, why)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

type Answer = Pin<Box<dyn Future<Output = Result<axum::response::Response, std::convert::Infallible>> + Send>>;

impl AppService {
    fn answer(&self, mut req: axum::extract::Request) -> Answer {
        req.extensions_mut().insert(ConnectInfo(self.peer));
        if !http_body::Body::is_end_stream(req.body()) {
            let path = req.uri().path();
            let upload = path.starts_with("/v2/") && path.contains("/blobs/uploads");
            let deadline = (!upload).then(|| tokio::time::Instant::now() + self.bodies.total);
            req = req.map(|inner| axum::body::Body::new(TimedBody { inner, idle: self.bodies.idle, deadline, timer: None, moved: false }));
        }
        Box::pin(tower::ServiceExt::oneshot(self.app.clone(), req))
    }
}

impl hyper::service::Service<hyper::Request<hyper::body::Incoming>> for AppService {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = Answer;

    fn call(&self, req: hyper::Request<hyper::body::Incoming>) -> Answer {
        self.answer(req.map(axum::body::Body::new))
    }
}

/// A watch's lines (each one framed, its newline included), handed to this transport beside the
/// response, as an extension: a watch served here writes each line straight from the watch, not
/// through the response body's layers (axum's boxed body, the stream's adapter, the router's
/// compression, which passes watches through). Those layers cost a watch about a tenth of its
/// time per event at 10,000 watchers (issue 18, the watch benchmark's p99).
///
/// The response's body reads the same lines: when hyper serves the watch instead (a connection
/// passed through, see the module's doc) the answer is the same. Whoever reads first takes them.
#[derive(Clone)]
pub struct WatchLines(Arc<Mutex<Option<Lines>>>);

/// The lines of a watch, as [`WatchLines`] carries them.
pub type Lines = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

impl WatchLines {
    /// The extension and the body of one watch's response, both reading `lines`.
    pub fn new(lines: Lines) -> (Self, axum::body::Body) {
        let shared = Arc::new(Mutex::new(Some(lines)));
        let slot = shared.clone();
        let body = futures::stream::poll_fn(move |cx| {
            let mut lines = slot.lock().unwrap_or_else(PoisonError::into_inner);
            match lines.as_mut() {
                Some(lines) => lines.poll_next_unpin(cx).map(|line| line.map(Ok::<_, std::convert::Infallible>)),
                None => Poll::Ready(None),
            }
        });
        (WatchLines(shared), axum::body::Body::from_stream(body))
    }

    /// The lines, unless the body has them.
    fn take(&self) -> Option<Lines> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Where a watch's answer comes from: its lines (see [`WatchLines`]) or its body.
enum Pieces {
    Lines(Lines),
    Body(axum::body::Body),
}

impl Pieces {
    /// The next non-empty piece; `None` at the end, `Some(Err)` when the body failed.
    async fn next(&mut self) -> Option<Result<Bytes, axum::Error>> {
        match self {
            Pieces::Lines(lines) => loop {
                match lines.next().await? {
                    line if line.is_empty() => continue,
                    line => return Some(Ok(line)),
                }
            },
            Pieces::Body(body) => loop {
                match body.frame().await? {
                    Err(e) => return Some(Err(e)),
                    Ok(frame) => match frame.into_data() {
                        Ok(data) if !data.is_empty() => return Some(Ok(data)),
                        _ => continue,
                    },
                }
            },
        }
    }
}

/// What a head is, for the gate.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Not all of it has arrived.
    Incomplete,
    /// A request without a body, `len` bytes long, for hyper.
    Plain(usize),
    /// A watch's request, `len` bytes long, to be served here.
    Watch(usize),
    /// Anything else: hyper serves the rest of the connection.
    Other,
}

/// Looks at the head at the start of `bytes` (leading empty lines are allowed, as hyper allows
/// them).
fn inspect(bytes: &[u8]) -> Head {
    let mut headers = [httparse::EMPTY_HEADER; MAX_INSPECTED_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(bytes) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Head::Incomplete,
        Err(_) => return Head::Other,
    };
    if req.version != Some(1) {
        return Head::Other;
    }
    for h in req.headers.iter() {
        let name = h.name;
        let bodyless_length = name.eq_ignore_ascii_case("content-length") && h.value == b"0";
        if (name.eq_ignore_ascii_case("content-length") && !bodyless_length)
            || name.eq_ignore_ascii_case("transfer-encoding")
            || name.eq_ignore_ascii_case("upgrade")
            || name.eq_ignore_ascii_case("expect")
        {
            return Head::Other;
        }
    }
    match (req.method, req.path) {
        (Some("GET"), Some(target)) if is_watch(target) => Head::Watch(len),
        _ => Head::Plain(len),
    }
}

/// Whether a request target asks for a watch: `watch=1|true|True` in the query (the values the
/// API takes, `http::imagestreams`), or a live page (`/api/v1/live/...`, server-sent events). A
/// watch asked for in another spelling is still a watch; hyper then serves it. A live page must
/// come here: hyper, built with `half_close` for the gate, would not notice a browser leaving an
/// idle page until the next event.
fn is_watch(target: &str) -> bool {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    path.starts_with("/api/v1/live/") || query.split('&').any(|pair| matches!(pair.split_once('='), Some(("watch", "1" | "true" | "True"))))
}

/// Why hyper's phase ended, when it is not the end of the connection.
#[derive(Debug, PartialEq, Eq)]
enum PhaseEnd {
    /// A watch's head of this many bytes is at the start of the gate's bytes.
    Watch(usize),
    /// hyper serves the rest of the connection.
    PassThrough,
}

/// The socket as hyper reads it: see the module's doc.
pub struct HeadGate {
    stream: TcpStream,
    /// Bytes read from the socket and not yet given to hyper.
    pending: BytesMut,
    /// How many bytes at the start of `pending` hyper may have: a looked-at head.
    cleared: usize,
    /// Set when hyper's phase is over: hyper's next read gets end-of-file.
    ending: Option<PhaseEnd>,
    /// Bytes go to hyper untouched (the last phase).
    pass_through: bool,
    /// hyper has written since it last flushed: its write buffer may still hold the end of an
    /// answer, which ending the phase would lose (hyper counts a closed connection as done
    /// without flushing). The end then waits for the flush (`flushed` wakes the read).
    unflushed: bool,
    flushed: Option<std::task::Waker>,
}

impl HeadGate {
    fn new(stream: TcpStream) -> Self {
        HeadGate { stream, pending: BytesMut::new(), cleared: 0, ending: None, pass_through: false, unflushed: false, flushed: None }
    }

    /// Puts back what hyper read and did not use (nothing, when it was given whole heads).
    fn unread(&mut self, read_buf: Bytes) {
        if !read_buf.is_empty() {
            let mut joined = BytesMut::from(&read_buf[..]);
            joined.extend_from_slice(&self.pending);
            self.pending = joined;
        }
    }
}

impl AsyncRead for HeadGate {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.cleared > 0 {
                let n = this.cleared.min(buf.remaining());
                buf.put_slice(&this.pending[..n]);
                this.pending.advance(n);
                this.cleared -= n;
                if this.pending.is_empty() {
                    // An idle kept-alive connection keeps no buffer of the gate's.
                    this.pending = BytesMut::new();
                }
                return Poll::Ready(Ok(()));
            }
            if this.ending.is_some() {
                if this.unflushed {
                    this.flushed = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                return Poll::Ready(Ok(()));
            }
            if this.pass_through {
                if !this.pending.is_empty() {
                    this.cleared = this.pending.len();
                    continue;
                }
                return Pin::new(&mut this.stream).poll_read(cx, buf);
            }
            match inspect(&this.pending) {
                Head::Plain(len) => this.cleared = len,
                Head::Watch(len) => this.ending = Some(PhaseEnd::Watch(len)),
                Head::Other => this.ending = Some(PhaseEnd::PassThrough),
                Head::Incomplete if this.pending.len() > MAX_INSPECTED_HEAD => this.ending = Some(PhaseEnd::PassThrough),
                Head::Incomplete => {
                    let mut chunk = [0u8; 2048];
                    let mut read = ReadBuf::new(&mut chunk);
                    ready!(Pin::new(&mut this.stream).poll_read(cx, &mut read))?;
                    if read.filled().is_empty() {
                        // The client closed (a partial head is left unanswered, as hyper leaves it).
                        return Poll::Ready(Ok(()));
                    }
                    this.pending.extend_from_slice(read.filled());
                }
            }
        }
    }
}

impl AsyncWrite for HeadGate {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.unflushed = true;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }
    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        self.unflushed = true;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
    /// hyper flushes its socket only once its own buffer is written out (`Buffered::poll_flush`).
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let done = ready!(Pin::new(&mut self.stream).poll_flush(cx));
        if done.is_ok() {
            self.unflushed = false;
            if let Some(read) = self.flushed.take() {
                read.wake();
            }
        }
        Poll::Ready(done)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves one connection until it ends. `header_read_timeout` is hyper's (see `listener`);
/// `stop` turns true when the listener stops.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    header_read_timeout: std::time::Duration,
    bodies: BodyTimeouts,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let service = AppService { app, peer, bodies };
    let mut gate = HeadGate::new(stream);
    loop {
        let Some((next, end)) = hyper_phase(gate, &service, header_read_timeout, &mut stop).await else {
            return;
        };
        gate = next;
        match end {
            PhaseEnd::PassThrough => {
                gate.pass_through = true;
                let _ = hyper_phase(gate, &service, header_read_timeout, &mut stop).await;
                return;
            }
            PhaseEnd::Watch(len) => {
                let head = gate.pending.split_to(len).freeze();
                if gate.pending.is_empty() {
                    // Nothing kept for an idle watch.
                    gate.pending = BytesMut::new();
                }
                if !serve_watch(&mut gate.stream, &mut gate.pending, &head, &service, &stop).await {
                    return;
                }
            }
        }
    }
}

/// hyper serves the connection over the gate until the gate ends the phase (the gate is given
/// back, with why) or the connection ends (`None`).
async fn hyper_phase(
    io: HeadGate,
    service: &AppService,
    header_read_timeout: std::time::Duration,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<(HeadGate, PhaseEnd)> {
    let pass_through = io.pass_through;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        // Without a timer hyper silently leaves the header-read timeout off.
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        // While the gate looks at heads, hyper must not read during an answer (see the module's
        // doc); once bytes pass through it finds a client that left as it always did.
        .half_close(!pass_through);
    // Boxed: an idle watch's task then does not carry room for a hyper connection.
    let mut conn = Box::new(builder.serve_connection(hyper_util::rt::TokioIo::new(io), service.clone()));
    let mut stopping = *stop.borrow();
    if stopping {
        Pin::new(&mut *conn).graceful_shutdown();
    }
    let ended = loop {
        tokio::select! {
            ended = std::future::poll_fn(|cx| conn.poll_without_shutdown(cx)) => break ended,
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                Pin::new(&mut *conn).graceful_shutdown();
            }
        }
    };
    let parts = (*conn).into_parts();
    let mut gate = parts.io.into_inner();
    gate.unread(parts.read_buf);
    match gate.ending.take() {
        // hyper closed cleanly, having answered (and flushed) all it was given.
        Some(end) if !stopping && ended.is_ok() => Some((gate, end)),
        _ => {
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended");
            }
            None
        }
    }
}

/// Serves one watch's request (`head`) on the socket: the router answers it, the answer's head is
/// written, then each of its lines ([`WatchLines`], or each piece of its body when the answer
/// has none: an error, a live page's events) as one chunk, until they end or the client leaves.
/// `true` when the connection goes on (back to hyper).
async fn serve_watch(
    stream: &mut TcpStream,
    early: &mut BytesMut,
    head: &[u8],
    service: &AppService,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> bool {
    let Some((request, client_closes)) = request_of(head) else {
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
        return false;
    };
    let Ok(response) = service.answer(request).await;
    let (mut parts, body) = response.into_parts();
    let mut pieces = match parts.extensions.remove::<WatchLines>().and_then(|w| w.take()) {
        Some(lines) => {
            drop(body);
            Pieces::Lines(lines)
        }
        None => Pieces::Body(body),
    };
    let status = parts.status;
    let bodyless = status.is_informational() || status == http::StatusCode::NO_CONTENT || status == http::StatusCode::NOT_MODIFIED;
    let length = parts.headers.get(http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let chunked = !bodyless && length.is_none();
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(format!("HTTP/1.1 {} {}\r\n", status.as_u16(), status.canonical_reason().unwrap_or("")).as_bytes());
    for (name, value) in &parts.headers {
        if name == http::header::TRANSFER_ENCODING || name == http::header::CONNECTION {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !parts.headers.contains_key(http::header::DATE) {
        out.extend_from_slice(format!("date: {}\r\n", httpdate::fmt_http_date(std::time::SystemTime::now())).as_bytes());
    }
    if chunked {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if client_closes {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    // From here the socket is shared: the look for the client leaving waits on it for the whole
    // answer (one registration, not one per event) while the chunks are written beside it.
    let stream: &TcpStream = stream;
    if write_all(stream, &mut [io::IoSlice::new(&out)], MAX_WRITE_STALL).await.is_err() {
        return false;
    }
    drop(out);
    if bodyless {
        return !client_closes && !*stop.borrow();
    }
    // Until the body ends: its next piece, or the client leaving (end-of-file). Bytes the client
    // sends meanwhile (its next request) are kept for hyper, in `early`.
    let mut gone = std::pin::pin!(peer_gone(stream, early));
    let mut looking = true;
    loop {
        let piece = tokio::select! {
            biased;
            piece = pieces.next() => piece,
            left = &mut gone, if looking => {
                if left {
                    return false;
                }
                looking = false;
                continue;
            }
        };
        let data = match piece {
            None => break,
            Some(Err(e)) => {
                tracing::debug!(error = %e, "a watch's body failed");
                return false;
            }
            Some(Ok(data)) => data,
        };
        let written = if chunked {
            let mut size = [0u8; 20];
            let size = chunk_size_line(data.len(), &mut size);
            write_all(stream, &mut [io::IoSlice::new(size), io::IoSlice::new(&data), io::IoSlice::new(b"\r\n")], MAX_WRITE_STALL).await
        } else {
            write_all(stream, &mut [io::IoSlice::new(&data)], MAX_WRITE_STALL).await
        };
        if written.is_err() {
            return false;
        }
    }
    if chunked && write_all(stream, &mut [io::IoSlice::new(b"0\r\n\r\n")], MAX_WRITE_STALL).await.is_err() {
        return false;
    }
    !client_closes && !*stop.borrow()
}

/// A chunk's size line (`<hex>\r\n`, RFC 9112 section 7.1) in `buf`.
fn chunk_size_line(len: usize, buf: &mut [u8; 20]) -> &[u8] {
    use std::io::Write;
    let mut rest = &mut buf[..];
    // At most 16 hex digits and CRLF: it fits.
    let _ = write!(rest, "{len:x}\r\n");
    let left = rest.len();
    &buf[..20 - left]
}

/// Writes all of `parts` through a shared socket, waiting while it is full, each time for at
/// most `stall` (then `TimedOut`). One `sendmsg` each time (socket2), not `writev`: a socket
/// needs none of the file layer `writev` passes through (the file position's lock, the write
/// hooks), a few percent of a watch event's cost. The timer exists only while the socket is full.
async fn write_all(stream: &TcpStream, mut parts: &mut [io::IoSlice<'_>], stall: std::time::Duration) -> io::Result<()> {
    let socket = socket2::SockRef::from(stream);
    while !parts.is_empty() {
        match stream.try_io(tokio::io::Interest::WRITABLE, || socket.send_vectored(parts)) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut parts, n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => match tokio::time::timeout(stall, stream.writable()).await {
                Ok(ready) => ready?,
                Err(_) => {
                    tracing::debug!(stall_seconds = stall.as_secs_f64(), "a watch's client read nothing: cut off");
                    return Err(io::ErrorKind::TimedOut.into());
                }
            },
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Whether the client has left (end-of-file or an error). Bytes it sends before that (its next
/// request, pipelined) are read into `early`, for hyper once the watch ends; the client closing
/// after them is still noticed (before, a peek saw the bytes and the look stopped, so such a
/// client's watch was held until its next event). `false` once `early` holds more than a head
/// may be ([`MAX_INSPECTED_HEAD`]): the look stops and the rest waits in the socket.
async fn peer_gone(stream: &TcpStream, early: &mut BytesMut) -> bool {
    loop {
        if early.len() > MAX_INSPECTED_HEAD {
            return false;
        }
        if stream.readable().await.is_err() {
            return true;
        }
        early.reserve(2048);
        match stream.try_read_buf(early) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return true,
        }
    }
}

/// The request of a watch's head (already found complete by [`inspect`]), and whether the client
/// asked to close the connection after it. `None` when a header cannot be taken as HTTP's.
fn request_of(head: &[u8]) -> Option<(axum::extract::Request, bool)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_INSPECTED_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(head).ok()?;
    let mut builder = http::Request::builder().method(http::Method::GET).uri(parsed.path?).version(http::Version::HTTP_11);
    let mut closes = false;
    for h in parsed.headers.iter() {
        let name = http::HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        let value = http::HeaderValue::from_bytes(h.value).ok()?;
        if name == http::header::CONNECTION {
            closes |= value.as_bytes().split(|b| *b == b',').any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
        builder = builder.header(name, value);
    }
    Some((builder.body(axum::body::Body::empty()).ok()?, closes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_are_told_apart() {
        let get = |target: &str| format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        let w = get("/apis/image.openshift.io/v1/namespaces/a/imagestreams?watch=1&resourceVersion=3");
        assert_eq!(inspect(w.as_bytes()), Head::Watch(w.len()));
        let w = get("/apis/image.openshift.io/v1/imagestreams?resourceVersion=3&watch=true");
        assert_eq!(inspect(w.as_bytes()), Head::Watch(w.len()));
        let live = get("/api/v1/live/imagestreams?namespace=a");
        assert_eq!(inspect(live.as_bytes()), Head::Watch(live.len()));
        for plain in [get("/apis/image.openshift.io/v1/namespaces/a/imagestreams"), get("/?watch=0"), get("/x?nowatch=1")] {
            assert_eq!(inspect(plain.as_bytes()), Head::Plain(plain.len()), "{plain}");
        }
        // Two pipelined heads: the first is looked at alone.
        let two = format!("{}{}", get("/a"), get("/b?watch=1"));
        assert_eq!(inspect(two.as_bytes()), Head::Plain(get("/a").len()));
        assert_eq!(inspect(&two.as_bytes()[..10]), Head::Incomplete);
        for other in [
            "POST /a HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi".to_string(),
            "PATCH /v2/a/blobs/uploads/1 HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n".to_string(),
            "GET /a?watch=1 HTTP/1.0\r\n\r\n".to_string(),
            "GET /ws HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n".to_string(),
            "GET /a HT\0P/1.1\r\n\r\n".to_string(),
        ] {
            assert_eq!(inspect(other.as_bytes()), Head::Other, "{other}");
        }
        let empty_body = "POST /a HTTP/1.1\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(inspect(empty_body.as_bytes()), Head::Plain(empty_body.len()));
    }

    /// A client that stops reading cannot hold a watch's answer (issue 18, from a helper's
    /// attack: such a watch outlived its deadline and kept its slot until the server stopped).
    #[tokio::test]
    async fn a_write_to_a_client_that_reads_nothing_gives_up_after_the_stall() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let data = vec![b'x'; 64 << 20];
        let started = std::time::Instant::now();
        let stall = std::time::Duration::from_millis(300);
        let written = write_all(&server, &mut [io::IoSlice::new(&data)], stall).await;
        assert_eq!(written.map_err(|e| e.kind()), Err(io::ErrorKind::TimedOut), "more than the socket holds, never read");
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "gave up after {:?}", started.elapsed());
        // A client that reads gets everything.
        let (reader, writer) = (
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut client = client;
                let mut sink = vec![0u8; 1 << 20];
                let mut total = 0usize;
                while let Ok(n) = client.read(&mut sink).await {
                    if n == 0 {
                        break;
                    }
                    total += n;
                }
                total
            }),
            async {
                let more = vec![b'y'; 8 << 20];
                let done = write_all(&server, &mut [io::IoSlice::new(&more)], stall).await;
                drop(server);
                done
            },
        );
        assert!(writer.await.is_ok(), "a reading client is not cut off");
        assert!(reader.await.unwrap() >= 8 << 20);
    }

    #[test]
    fn chunk_size_lines_are_hex_and_crlf() {
        let mut buf = [0u8; 20];
        assert_eq!(chunk_size_line(0, &mut buf), b"0\r\n");
        assert_eq!(chunk_size_line(255, &mut buf), b"ff\r\n");
        assert_eq!(chunk_size_line(usize::MAX, &mut buf), b"ffffffffffffffff\r\n");
    }

    #[test]
    fn a_watch_request_keeps_its_headers_and_says_whether_it_closes() {
        let head = b"GET /x?watch=1 HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer t\r\nConnection: keep-alive, close\r\n\r\n";
        let (req, closes) = request_of(head).unwrap();
        assert!(closes);
        assert_eq!(req.uri(), "/x?watch=1");
        assert_eq!(req.headers()["authorization"], "Bearer t");
        let (_, closes) = request_of(b"GET /x?watch=1 HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
        assert!(!closes);
    }
}
