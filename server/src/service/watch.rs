//! Watching image streams (PRODUCT "Watch"): a watch from resourceVersion N first replays every
//! stored change after N from the event log, in order, then follows new ones as commits
//! announce them. A version older than the retained log answers 410 Gone (reason Expired).
//! Without a version it first lists the current streams as ADDED, page by page.
//! Idle watchers hold only a small state and a `watch` receiver: no polling of the event log
//! while nothing moves.
//!
//! Access that ends, ends the watch (issue 13): a watch keeps the credentials it was opened
//! with, not the caller they resolved to, and asks again whenever an account change is
//! announced (the access epoch: token revoked, signed out, password changed, member or
//! visibility changed, namespace or user created or deleted) and on a short timer (expiry of a
//! token or a session, on the service clock). When the answer is no it sends one `ERROR` event
//! (a `Status`: 401, 403, 404 or 410) and ends. A watch follows namespaces by identity (uid): a
//! namespace deleted and created again under the same name is another namespace, and its
//! streams never reach a watcher of the old one. A watch also ends cleanly after
//! `--watch-max-duration` (clients resume from their last resourceVersion), and each client
//! address may hold at most `--max-watches-per-client` at once (429 beyond).
//!
//! Must not: hold a read transaction while a watcher is slow, send an event of a namespace the
//! caller may not read (now, not when the watch began), or collect a whole listing in memory.

use super::{Caller, Credentials, Service, TaskGuard, Verb, db};
use crate::store;
use app::model::*;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchRequest {
    pub namespace: Option<String>,
    /// `fieldSelector=metadata.name=<name>`.
    pub name: Option<String>,
    /// `labelSelector=`: only streams whose labels match; a change that takes a stream out of
    /// the selection is sent as DELETED, one that brings it in as ADDED.
    pub labels: app::domain::selectors::LabelSelector,
    /// Replay changes after this version; `None` starts with the current streams as ADDED.
    pub resource_version: Option<i64>,
    /// Send BOOKMARK events while idle (`allowWatchBookmarks=true`), and one at the watch's
    /// position when the server shuts down.
    pub bookmarks: bool,
    /// End with a BOOKMARK at the watch's position when the server shuts down even without
    /// `bookmarks`: a live page's (its id is what the browser resumes from). An API watch that
    /// did not ask for bookmarks gets none (kubectl's `get -w` prints one as an object named
    /// `<unknown>`); it resumes from its last event, as with the Kubernetes API server.
    pub bookmark_at_drain: bool,
    pub bookmark_interval: Duration,
    /// `timeoutSeconds=`: the watch ends cleanly after this long, as the Kubernetes API server
    /// ends it (client-go's `Watch(timeout=…)`, the Python client's `timeout_seconds`). The
    /// server's `--watch-max-duration` still bounds it; `None`: that bound alone.
    pub timeout: Option<Duration>,
}

/// The bounds of watches (`serve` flags).
#[derive(Clone, Debug)]
pub struct WatchLimits {
    /// `--watch-max-duration`: a watch ends cleanly after this long (on the service clock).
    pub max_duration: Duration,
    /// `--max-watches-per-client`: open watches (and live streams) per client address.
    pub max_per_client: usize,
    /// How often a watch with a token or a session asks again whether it still holds (expiry
    /// is not announced). A watch without either is not woken for it.
    pub recheck_interval: Duration,
}

impl Default for WatchLimits {
    fn default() -> Self {
        WatchLimits { max_duration: Duration::from_secs(30 * 60), max_per_client: 100, recheck_interval: Duration::from_secs(1) }
    }
}

/// What every watch of a service shares: its limits, the access epoch, and the count of open
/// watches per client.
pub(crate) struct WatchControl {
    limits: WatchLimits,
    /// Moves after every committed account change; every watch asks again when it does.
    epoch: tokio::sync::watch::Sender<u64>,
    /// Open watches by client address.
    clients: Mutex<HashMap<String, usize>>,
}

impl WatchControl {
    pub(crate) fn new(limits: WatchLimits) -> Self {
        WatchControl { limits, epoch: tokio::sync::watch::channel(0).0, clients: Mutex::new(HashMap::new()) }
    }

    /// Takes one of the client's watch slots; 429 when it holds them all.
    fn claim(self: &Arc<Self>, remote: Option<&str>) -> Result<ClientSlot, ApiError> {
        // Requests without a peer address (in-process callers) share one slot group.
        let key = remote.unwrap_or("").to_string();
        let mut clients = self.clients.lock().map_err(|_| ApiError::internal("the watch table is unusable"))?;
        let open = clients.entry(key.clone()).or_insert(0);
        if *open >= self.limits.max_per_client {
            return Err(ApiError::too_many_requests(format!(
                "too many open watches from this client: the limit is {} (--max-watches-per-client); close one and try again",
                self.limits.max_per_client
            ))
            .with_retry_after(1));
        }
        *open += 1;
        Ok(ClientSlot { control: self.clone(), key })
    }
}

/// One open watch of a client; given back when the watch is dropped.
struct ClientSlot {
    control: Arc<WatchControl>,
    key: String,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut clients) = self.control.clients.lock()
            && let Some(open) = clients.get_mut(&self.key)
        {
            *open = open.saturating_sub(1);
            if *open == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

#[derive(Serialize)]
struct WatchLine<'a, T: Serialize> {
    #[serde(rename = "type")]
    event_type: &'a str,
    object: T,
}

pub type WatchStream = Pin<Box<dyn Stream<Item = Bytes> + Send>>;

/// 410 Gone, reason Expired: the version was trimmed from the event log.
fn expired(rv: i64, horizon: i64) -> ApiError {
    let mut e = ApiError::bad_request(format!("too old resource version: {rv} ({horizon})"));
    e.status.reason = "Expired".into();
    e.status.code = 410;
    e
}

/// 504 Timeout, reason Timeout, cause `ResourceVersionTooLarge`: a version this server has not
/// reached, as the Kubernetes API server answers ("Too large resource version"; client-go's
/// reflector then lists again). A client meets it after the server was restored from a backup
/// older than what it last saw; without this answer its watch would wait for that version in
/// silence.
fn too_large(rv: i64, current: i64) -> ApiError {
    let mut e = ApiError::bad_request(format!("Too large resource version: {rv}, current: {current}"));
    e.status.reason = "Timeout".into();
    e.status.code = 504;
    e.status.details = Some(app::model::StatusDetails {
        causes: vec![app::model::StatusCause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        }],
        retry_after_seconds: Some(1),
        ..Default::default()
    });
    e
}

/// 410 Gone: what the watch followed is no longer there as it was (list again, watch again).
fn gone(message: String) -> ApiError {
    let mut e = ApiError::bad_request(message);
    e.status.reason = "Gone".into();
    e.status.code = 410;
    e
}

/// The `ERROR` event that ends a watch.
fn error_line(e: &ApiError) -> Bytes {
    framed(serde_json::to_string(&WatchLine { event_type: "ERROR", object: &*e.status }).unwrap_or_default())
}

/// A watch line as it is sent: the JSON object and its newline (the watch stream's framing).
fn framed(mut line: String) -> Bytes {
    line.push('\n');
    Bytes::from(line)
}

/// Streams listed per page of the initial listing.
const LIST_PAGE: i64 = 200;

/// Which namespaces a watch follows, by identity.
#[derive(Clone, Debug, PartialEq)]
enum View {
    /// One namespace: the one that had the name when the watch began (its uid).
    Namespace { name: String, uid: String },
    /// Across namespaces: these (uid → name), or every one (`None`: a server administrator, a
    /// server without accounts, `--anonymous-read`).
    Across(Option<BTreeMap<String, String>>),
}

impl View {
    /// Whether an event of the namespace with this uid belongs to the view.
    fn shows(&self, uid: Option<&str>) -> bool {
        match self {
            View::Namespace { uid: pinned, .. } => uid == Some(pinned.as_str()),
            View::Across(None) => true,
            View::Across(Some(visible)) => uid.is_some_and(|u| visible.contains_key(u)),
        }
    }

    fn namespace(&self) -> Option<&str> {
        match self {
            View::Namespace { name, .. } => Some(name),
            View::Across(_) => None,
        }
    }

    fn pinned_uid(&self) -> Option<&str> {
        match self {
            View::Namespace { uid, .. } => Some(uid),
            View::Across(_) => None,
        }
    }
}

/// The namespace a watch followed has no longer the uid it began with: 404 when the name is
/// free, 410 when another namespace has it now.
fn namespace_changed(name: &str, now: Option<&str>) -> ApiError {
    match now {
        None => ApiError::not_found(RES_NAMESPACES, name),
        Some(_) => {
            gone(format!("namespaces \"{name}\" was deleted and created again; this watch followed the deleted one: list and watch again"))
        }
    }
}

impl Service {
    fn line(&self, event_type: &str, stream: ImageStream) -> Option<Bytes> {
        serde_json::to_string(&WatchLine { event_type, object: self.with_public_repository(stream) }).ok().map(framed)
    }

    /// Bounds of watches (`--watch-max-duration`, `--max-watches-per-client`).
    pub fn with_watch_limits(mut self, limits: WatchLimits) -> Self {
        self.watches = Arc::new(WatchControl::new(limits));
        self
    }

    /// Moves the access epoch: every open watch asks again whether its caller may still see what
    /// it shows. Called after the commit of every change of accounts, members, visibility or
    /// namespaces (so the answer reads the committed state).
    pub(crate) fn access_changed(&self) {
        self.watches.epoch.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// What the caller may follow now: the namespace `ns` by its uid (404 when there is none),
    /// or the namespaces visible to the caller.
    async fn view_of(&self, conn: &mut sqlx::SqliteConnection, caller: &Caller, ns: Option<&str>) -> Result<View, ApiError> {
        Ok(match ns {
            Some(name) => match store::namespace_uid(conn, name).await.map_err(db)? {
                Some(uid) => View::Namespace { name: name.to_string(), uid },
                None => return Err(ApiError::not_found(RES_NAMESPACES, name)),
            },
            None => View::Across(match caller.visible_namespaces() {
                None => None,
                Some(names) => {
                    Some(store::namespace_uids(conn, Some(&names)).await.map_err(db)?.into_iter().map(|(name, uid)| (uid, name)).collect())
                }
            }),
        })
    }

    /// Starts a watch with the request's credentials (kept, to ask again while it runs). Errors
    /// (401, 403/404, 410 for a trimmed version, 429 for too many watches) come before the first
    /// byte; later refusals are the watch's last event.
    pub async fn watch_streams(&self, creds: Credentials, req: WatchRequest) -> Result<WatchStream, ApiError> {
        // Subscribed before the caller is resolved: an account change committed from here on is
        // asked about again, even one that lands while the watch starts.
        let epoch = self.watches.epoch.subscribe();
        let caller = self.resolve_caller(creds.clone()).await?;
        self.allow(&caller, Verb::List, "imagestreams", req.namespace.as_deref())?;
        let slot = self.watches.claim(creds.remote.as_deref())?;
        let mut conn = self.store.read().await.map_err(db)?;
        let view = self.view_of(&mut conn, &caller, req.namespace.as_deref()).await?;
        let horizon = store::watch_horizon(&mut conn).await.map_err(db)?;
        let (from, listing) = match req.resource_version {
            Some(rv) if rv < horizon => return Err(expired(rv, horizon)),
            Some(rv) => {
                let current = store::current_resource_version(&mut conn).await.map_err(db)?;
                if rv > current {
                    return Err(too_large(rv, current));
                }
                (rv, None)
            }
            // Like Kubernetes: the current objects as ADDED (page by page), then changes after.
            None => (store::current_resource_version(&mut conn).await.map_err(db)?, Some((String::new(), String::new()))),
        };
        // A selector watch resumed from a version (what `kubectl get -w -l` does after its list):
        // the client holds what the selector selects now.
        let selected = match (req.labels.is_empty(), listing.is_some()) {
            (true, _) => None,
            (false, true) => Some(Default::default()),
            (false, false) => Some(self.selected_now(&mut conn, &view, &req).await?),
        };
        drop(conn);
        // Subscribe before catching up, so nothing published meanwhile is missed. A watch from
        // at or after what the hub has published needs no catch-up from the log at all.
        let hub = self.watch_hub();
        let batches = hub.batches.subscribe();
        let published = hub.published.load(std::sync::atomic::Ordering::Acquire);
        let follow = Follow { position: from, batches, catch_up: published < 0 || from < published };
        let limits = &self.watches.limits;
        let recheck_period = limits.recheck_interval.max(Duration::from_millis(10));
        // Only credentials can lapse unannounced (a token's or a session's expiry): a watch
        // without any asks again on account changes alone, and has no re-check to wait for.
        let lapsable = creds.bearer.is_some() || creds.session.is_some();
        let next_recheck = lapsable.then(|| tokio::time::Instant::now() + recheck_period);
        let lifetime = req.timeout.map_or(limits.max_duration, |t| t.min(limits.max_duration));
        let deadline = chrono::Duration::from_std(lifetime).ok().and_then(|d| self.clock_now().checked_add_signed(d));
        let mut state = WatchState {
            service: self.clone(),
            next_bookmark: bookmark_after(self.clock_now(), req.bookmark_interval),
            clock: self.clock_moves(),
            req,
            // The audit entry was the opening request's; asking again later writes none.
            creds: Credentials { audit: None, ..creds },
            user_id: caller.user_id,
            view,
            listing,
            listed: vec![],
            selected,
            follow,
            epoch,
            recheck_due: false,
            recheck_period,
            next_recheck,
            deadline,
            deadline_at: None,
            bookmark_at: None,
            timer: None,
            ended: false,
            draining: self.draining_signal(),
            _slot: slot,
        };
        state.retime();
        use futures::StreamExt;
        Ok(Box::pin(
            futures::stream::unfold(Box::new(state), |mut st| async move {
                let lines = st.next_lines().await?;
                Some((futures::stream::iter(lines), st))
            })
            .flatten(),
        ))
    }
}

/// One open watch.
struct WatchState {
    service: Service,
    req: WatchRequest,
    /// What the watch was opened with; resolved again at every re-check.
    creds: Credentials,
    /// The user who opened it: another user (or nobody) behind the same credentials later means
    /// the session ended.
    user_id: Option<i64>,
    view: View,
    /// The initial listing still to send: the key of the last stream sent (`None`: done).
    listing: Option<(String, String)>,
    /// The pages listed so far, in key order: events a page already reflects are not sent again.
    listed: Vec<Listed>,
    /// With a label selector: the streams (namespace, name) the client holds as selected, so a
    /// change that takes one out of the selection is sent as DELETED and one that brings it in
    /// as ADDED, as Kubernetes does. `None` without a selector.
    selected: Option<std::collections::HashSet<(String, String)>>,
    follow: Follow,
    epoch: tokio::sync::watch::Receiver<u64>,
    recheck_due: bool,
    /// How often credentials that can lapse are asked about again.
    recheck_period: Duration,
    /// When they are next asked about (`None`: the watch has none, see `watch_streams`).
    next_recheck: Option<tokio::time::Instant>,
    /// When the next bookmark is due, on the service clock.
    next_bookmark: DateTime<Utc>,
    /// Moves of a hand-moved clock (tests): bookmarks and expiry are looked at again.
    clock: tokio::sync::watch::Receiver<u64>,
    /// When the watch ends cleanly (service clock); `None`: never.
    deadline: Option<DateTime<Utc>>,
    /// The deadline and the next bookmark in real time (`retime`): what the timer waits for.
    deadline_at: Option<tokio::time::Instant>,
    bookmark_at: Option<tokio::time::Instant>,
    /// The watch's one timer, set to the earliest of `deadline_at`, `bookmark_at` and
    /// `next_recheck` (`wake_at`), made when first needed. A watch wakes only when one of them
    /// is due: a periodic timer woke each of 10,000 idle watches every second.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    ended: bool,
    /// Turns true when the server starts shutting down: the watch ends with a BOOKMARK at its
    /// position, the point a client resumes from (`resourceVersion=`) on another server or
    /// after the restart.
    draining: tokio::sync::watch::Receiver<bool>,
    _slot: ClientSlot,
}

/// A page of the initial listing: every stream with a key up to `upto` (`None`: all the rest)
/// as it was at `version`.
struct Listed {
    upto: Option<(String, String)>,
    version: i64,
}

/// What following yields.
enum Step {
    Lines(Vec<Bytes>),
    /// An account change was announced.
    Recheck,
    /// The re-check timer fired.
    Timer,
    End,
    /// The server is shutting down.
    Drain,
}

impl WatchState {
    /// The next lines to send; `None` ends the watch.
    async fn next_lines(&mut self) -> Option<Vec<Bytes>> {
        loop {
            if self.ended {
                return None;
            }
            // The maximum lifetime: a clean end; the client resumes from its last version.
            if self.deadline_at.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return None;
            }
            if *self.draining.borrow() {
                return self.drain();
            }
            if self.recheck_due || self.epoch.has_changed().unwrap_or(true) {
                self.recheck_due = false;
                self.epoch.borrow_and_update();
                if let Err(e) = Box::pin(self.reauthorize()).await {
                    return Some(self.end_with(&e));
                }
            }
            if self.listing.is_some() {
                match Box::pin(self.list_page()).await {
                    Ok(lines) if lines.is_empty() => continue,
                    Ok(lines) => return Some(lines),
                    Err(e) => return Some(self.end_with(&e)),
                }
            }
            match self.follow().await {
                Step::Lines(lines) => {
                    // An account change announced while these were read is answered before they
                    // go out: nothing committed after a refusal reaches the caller.
                    if self.epoch.has_changed().unwrap_or(true) {
                        self.epoch.borrow_and_update();
                        if let Err(e) = Box::pin(self.reauthorize()).await {
                            return Some(self.end_with(&e));
                        }
                    }
                    self.bookmark_later();
                    return Some(lines);
                }
                Step::Recheck => self.recheck_due = true,
                // A clock moved by hand may have taken credentials past their expiry; a re-check
                // fell due. Only credentials can lapse unannounced (see `watch_streams`).
                Step::Timer => self.recheck_due |= self.next_recheck.is_some(),
                Step::End => return None,
                Step::Drain => return self.drain(),
            }
        }
    }

    /// The last lines of a watch when the server shuts down: a BOOKMARK at the position (the
    /// resume point, for a client that takes bookmarks and for a live page), then the end. A
    /// watch still sending its initial listing has no resume point yet; it just ends (the client
    /// lists again).
    fn drain(&mut self) -> Option<Vec<Bytes>> {
        self.ended = true;
        if self.listing.is_some() || !(self.req.bookmarks || self.req.bookmark_at_drain) {
            return None;
        }
        bookmark_line(self.follow.position).map(|l| vec![l])
    }

    fn end_with(&mut self, e: &ApiError) -> Vec<Bytes> {
        self.ended = true;
        vec![error_line(e)]
    }

    /// Asks again, from the original credentials, whether the caller may still see what the
    /// watch shows: 401 when the credentials no longer prove the same user, the permission
    /// check's answer, 404/410 when the namespace followed is gone, 410 when a namespace left
    /// the caller's view across namespaces. Namespaces that became visible join the view.
    async fn reauthorize(&mut self) -> Result<(), ApiError> {
        let s = &self.service;
        let caller = s.resolve_caller(self.creds.clone()).await?;
        if self.user_id.is_some() && caller.user_id != self.user_id {
            return Err(ApiError::unauthorized(
                "Unauthorized: the sign-in this watch was opened with has ended (signed out, password changed, or expired)",
            ));
        }
        s.authorizer.check(&caller, Verb::List, "imagestreams", self.view.namespace())?;
        let mut conn = s.store.read().await.map_err(db)?;
        match &self.view {
            View::Namespace { name, uid } => {
                let now = store::namespace_uid(&mut conn, name).await.map_err(db)?;
                if now.as_deref() != Some(uid.as_str()) {
                    return Err(namespace_changed(name, now.as_deref()));
                }
            }
            View::Across(before) => {
                let View::Across(now) = s.view_of(&mut conn, &caller, None).await? else {
                    return Err(ApiError::internal("a watch across namespaces got a one-namespace view"));
                };
                let lost = match (before, &now) {
                    (_, None) => None,
                    (None, Some(_)) => Some("access to every namespace ended".to_string()),
                    (Some(b), Some(n)) => b
                        .iter()
                        .find(|(uid, _)| !n.contains_key(*uid))
                        .map(|(_, name)| format!("namespace {name:?} left this watch's view")),
                };
                if let Some(why) = lost {
                    return Err(gone(format!("{why} (deleted, made private, or access removed): list and watch again")));
                }
                self.view = View::Across(now);
            }
        }
        Ok(())
    }

    /// One page of the initial listing, read with the version it reflects.
    async fn list_page(&mut self) -> Result<Vec<Bytes>, ApiError> {
        let Some(after) = self.listing.clone() else { return Ok(vec![]) };
        let s = &self.service;
        let mut conn = s.store.read().await.map_err(db)?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db)?;
        let version = store::current_resource_version(&mut tx).await.map_err(db)?;
        let scope: Option<Vec<String>> = match &self.view {
            View::Namespace { name, uid } => {
                let now = store::namespace_uid(&mut tx, name).await.map_err(db)?;
                if now.as_deref() != Some(uid.as_str()) {
                    return Err(namespace_changed(name, now.as_deref()));
                }
                None
            }
            View::Across(None) => None,
            View::Across(Some(visible)) => {
                // The visible names that still belong to the namespaces the view holds.
                let names: Vec<String> = visible.values().cloned().collect();
                let now = store::namespace_uids(&mut tx, Some(&names)).await.map_err(db)?;
                Some(now.into_iter().filter(|(_, uid)| visible.contains_key(uid)).map(|(name, _)| name).collect())
            }
        };
        let page =
            store::list_streams(&mut tx, self.view.namespace(), (&after.0, &after.1), LIST_PAGE, scope.as_deref()).await.map_err(db)?;
        drop(tx);
        drop(conn);
        let upto = (page.len() as i64 == LIST_PAGE)
            .then(|| page.last().map(|s| (s.stream.namespace().to_string(), s.stream.metadata.name.clone())))
            .flatten();
        self.listed.push(Listed { upto: upto.clone(), version });
        self.listing = upto;
        Ok(page
            .into_iter()
            .filter(|row| self.req.name.as_ref().is_none_or(|n| *n == row.stream.metadata.name))
            .filter(|row| self.req.labels.matches(&row.stream.metadata.labels))
            .filter_map(|row| {
                if let Some(set) = self.selected.as_mut() {
                    set.insert((row.stream.namespace().to_string(), row.stream.metadata.name.clone()));
                }
                self.service.line("ADDED", row.stream)
            })
            .collect())
    }

    /// Puts the next bookmark one interval from now (service clock), for a watch that takes
    /// bookmarks: after each event sent, and after each bookmark.
    fn bookmark_later(&mut self) {
        if self.req.bookmarks {
            self.next_bookmark = bookmark_after(self.service.clock_now(), self.req.bookmark_interval);
            self.retime();
        }
    }

    /// Puts the deadline and the next bookmark, which are on the service clock, in real time:
    /// at the start, when the next bookmark moves, and when the clock is moved by hand (tests).
    /// A time too far to reach is never.
    fn retime(&mut self) {
        let (now, clock) = (tokio::time::Instant::now(), self.service.clock_now());
        let at = |t: DateTime<Utc>| now.checked_add((t - clock).to_std().unwrap_or(Duration::ZERO));
        self.deadline_at = self.deadline.and_then(at);
        self.bookmark_at = if self.req.bookmarks { at(self.next_bookmark) } else { None };
    }

    /// When the watch's timer must wake it next (`None`: nothing is due, ever).
    fn wake_at(&self) -> Option<tokio::time::Instant> {
        [self.deadline_at, self.bookmark_at, self.next_recheck].into_iter().flatten().min()
    }

    /// An event as a label-selector watch sends it (see `selected`): as it is while the stream
    /// stays selected, ADDED when it enters the selection, DELETED when it leaves, nothing while
    /// it stays out. Without a selector, as it is.
    fn select(&mut self, namespace: &str, name: &str, labels: &std::collections::BTreeMap<String, String>, line: &Bytes) -> Option<Bytes> {
        // Shared, not copied: every watcher sends the hub's one rendering of an event.
        let Some(set) = self.selected.as_mut() else { return Some(line.clone()) };
        let key = (namespace.to_string(), name.to_string());
        let was = set.contains(&key);
        let deleted = line.starts_with(br#"{"type":"DELETED""#);
        let now = !deleted && self.req.labels.matches(labels);
        match (was, now) {
            (true, true) => Some(line.clone()),
            (false, true) => {
                set.insert(key);
                Some(retype(line, "ADDED"))
            }
            (true, false) => {
                set.remove(&key);
                Some(retype(line, "DELETED"))
            }
            (false, false) => None,
        }
    }

    /// Whether the initial listing already sent the stream as of this version.
    fn listed_covers(&self, namespace: &str, name: &str, rv: i64) -> bool {
        self.listed
            .iter()
            .find(|l| l.upto.as_ref().is_none_or(|(n, m)| (namespace, name) <= (n.as_str(), m.as_str())))
            .is_some_and(|l| rv <= l.version)
    }

    /// Whether an event goes to this watch.
    fn shows(&self, rv: i64, namespace: &str, uid: Option<&str>, name: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
        rv > self.follow.position
            && self.view.shows(uid)
            && self.req.name.as_ref().is_none_or(|n| n == name)
            && (self.selected.is_some() || self.req.labels.matches(labels))
            && !self.listed_covers(namespace, name, rv)
    }

    /// Moves past a version; the listing's pages no longer matter once it is past all of them.
    fn advance(&mut self, position: i64) {
        self.follow.position = position;
        if self.listing.is_none() && self.listed.iter().all(|l| l.version <= position) {
            self.listed.clear();
        }
    }

    /// The next lines of the watch (`follow.position` moves past them), or a re-check to do.
    /// Catching up (at the start, or after falling behind the hub) reads the event log;
    /// following reads the hub's batches, which every watcher shares.
    async fn follow(&mut self) -> Step {
        use tokio::sync::broadcast::error::RecvError;
        enum Woke {
            Batch(Result<Arc<Batch>, RecvError>),
            Timer,
        }
        loop {
            if self.follow.position == i64::MAX {
                return Step::End;
            }
            if let Some(step) = self.signalled() {
                return step;
            }
            if self.follow.catch_up {
                // Boxed: an idle watcher waits below, and must not carry the (large) state of
                // database futures inline.
                match Box::pin(self.catch_up()).await {
                    None => return Step::End,
                    Some(CatchUp::Lines(lines, next)) => {
                        self.advance(next);
                        if !lines.is_empty() {
                            return Step::Lines(lines);
                        }
                        continue;
                    }
                    Some(CatchUp::Current(now)) => {
                        self.advance(self.follow.position.max(now));
                        self.follow.catch_up = false;
                    }
                }
            }
            let position = self.follow.position;
            // The timer, set to what is due next. It is looked at before the hub (a watch kept
            // busy by events still notices its deadline and its re-checks), by the clock rather
            // than by polling it: a timer polled at every event cost every watch a registration.
            let wake = self.wake_at();
            if let Some(at) = wake {
                match &mut self.timer {
                    Some(timer) if timer.deadline() == at => {}
                    Some(timer) => timer.as_mut().reset(at),
                    None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
                }
            }
            // The rarely moving signals (account changes, the clock moved by hand, draining) are
            // not waited on here: the hub pokes every watch when one moves (`poke_on_signals`),
            // and `signalled` looks. Waiting on them here cost every watch, at every event, a
            // lock on each signal's list of waiters to register and one to leave it.
            let woke = if wake.is_some_and(|at| at <= tokio::time::Instant::now()) {
                Woke::Timer
            } else {
                let (batches, timer) = (&mut self.follow.batches, &mut self.timer);
                tokio::select! {
                    biased;
                    r = batches.recv() => Woke::Batch(r),
                    () = async {
                        match timer {
                            Some(timer) => timer.as_mut().await,
                            None => std::future::pending().await,
                        }
                    }, if wake.is_some() => Woke::Timer,
                }
            };
            match woke {
                Woke::Timer => {
                    let now = tokio::time::Instant::now();
                    if self.bookmark_at.is_some_and(|at| at <= now) {
                        self.bookmark_later();
                        let Some(line) = bookmark_line(position) else { continue };
                        return Step::Lines(vec![line]);
                    }
                    if self.next_recheck.is_some_and(|at| at <= now) {
                        self.next_recheck = Some(now + self.recheck_period);
                    }
                    // A re-check, or the deadline (`next_lines` looks at both).
                    return Step::Timer;
                }
                Woke::Batch(Err(RecvError::Closed)) => return Step::End,
                Woke::Batch(Err(RecvError::Lagged(_))) => self.follow.catch_up = true,
                Woke::Batch(Ok(batch)) => {
                    if batch.upto <= position {
                        continue;
                    }
                    if batch.after > position {
                        self.follow.catch_up = true;
                        continue;
                    }
                    let mut lines = Vec::new();
                    for e in &batch.events {
                        if self.shows(e.resource_version, &e.namespace, e.namespace_uid.as_deref(), &e.name, &e.labels)
                            && let Some(line) = self.select(&e.namespace, &e.name, &e.labels, &e.line)
                        {
                            lines.push(line);
                        }
                    }
                    self.advance(batch.upto);
                    if !lines.is_empty() {
                        return Step::Lines(lines);
                    }
                }
            }
        }
    }

    /// What a signal that moved since the watch last looked asks of it: draining ends it, an
    /// account change (the access epoch) asks again whether its caller may see what it follows
    /// (its sender gone: the end), and a clock moved by hand looks again at expiry, lifetime
    /// and bookmarks (the service clock).
    fn signalled(&mut self) -> Option<Step> {
        if self.draining.has_changed().unwrap_or(false) {
            self.draining.borrow_and_update();
            return Some(Step::Drain);
        }
        match self.epoch.has_changed() {
            Ok(true) => return Some(Step::Recheck),
            Err(_) => return Some(Step::End),
            Ok(false) => {}
        }
        if self.clock.has_changed().unwrap_or(false) {
            self.clock.borrow_and_update();
            self.retime();
            return Some(Step::Timer);
        }
        None
    }

    /// Reads the event log after the position: its next events, or (none left) the current
    /// version. A trimmed position yields the ERROR line and ends the watch.
    async fn catch_up(&mut self) -> Option<CatchUp> {
        let position = self.follow.position;
        let mut conn = self.service.store.read().await.ok()?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await.ok()?;
        let now = store::current_resource_version(&mut tx).await.ok()?;
        let horizon = store::watch_horizon(&mut tx).await.ok()?;
        if position < horizon {
            return Some(CatchUp::Lines(vec![error_line(&expired(position, horizon))], i64::MAX));
        }
        let events = store::events_after(&mut tx, position, self.view.pinned_uid(), self.req.name.as_deref(), 500).await.ok()?;
        let last = events.last().map(|last| last.resource_version);
        let events = render_events(&mut tx, events).await.ok()?;
        drop(tx);
        Some(match last {
            Some(last) => {
                let shown: Vec<_> = events
                    .into_iter()
                    .filter(|e| {
                        self.shows(e.resource_version, &e.namespace, e.namespace_uid.as_deref(), &e.name, &e.stream.metadata.labels)
                    })
                    .collect();
                let mut lines = vec![];
                for e in shown {
                    let (ns, name, labels) = (e.namespace.clone(), e.name.clone(), e.stream.metadata.labels.clone());
                    if let Some(line) = self.service.line(e.event_type, e.stream)
                        && let Some(line) = self.select(&ns, &name, &labels, &line)
                    {
                        lines.push(line);
                    }
                }
                CatchUp::Lines(lines, last)
            }
            None => CatchUp::Current(now),
        })
    }
}

/// `now` plus a bookmark interval, saturating (an interval too long to add means never).
/// A BOOKMARK event at `position`: only kind, apiVersion and the version.
/// An event of the log with the stream it carries: the stream at exactly the event's version.
struct RenderedEvent {
    resource_version: i64,
    namespace: String,
    namespace_uid: Option<String>,
    name: String,
    event_type: &'static str,
    stream: ImageStream,
}

/// The event types, as `'static` names.
fn event_type_name(t: &str) -> &'static str {
    match t {
        "ADDED" => "ADDED",
        "DELETED" => "DELETED",
        _ => "MODIFIED",
    }
}

/// Renders events of the log (oldest first), in the read transaction they were read in: the log
/// records what changed, not the stream (issue 18: a write's cost must not grow with the
/// history), so each event is given the stream from its rows, and only at the event's own
/// version, so every object a watcher gets is exactly the version it is labelled with.
///
/// An `ADDED` or `MODIFIED` event of a stream that has changed again since (or was deleted) is
/// left out: the later event carries the newer state, and a deletion carries the last one. A
/// change committed after the previous one was read gets its own event; changes of one stream
/// committed before the reader got to the first (quick successive writes, a replay, a watcher
/// that fell behind) arrive once, at the newest state, in the order of the last changes
/// (level-based, as a Kubernetes reflector after a re-list). A stream created and changed
/// again before the watcher read it arrives as `MODIFIED` (client-go's informers and our pages
/// take an unknown object's `MODIFIED` as its addition). Each stream is loaded once per page,
/// however many watchers there are (the hub renders for all of them).
async fn render_events(conn: &mut sqlx::SqliteConnection, events: Vec<store::StoredEvent>) -> Result<Vec<RenderedEvent>, sqlx::Error> {
    let wanted: Vec<(&str, &str, i64)> =
        events.iter().filter(|e| e.object.is_none()).map(|e| (e.namespace.as_str(), e.name.as_str(), e.resource_version)).collect();
    let mut current: HashMap<(String, String), ImageStream> = store::streams_at_versions(conn, &wanted)
        .await?
        .into_iter()
        .map(|s| ((s.stream.namespace().to_string(), s.stream.metadata.name.clone()), s.stream))
        .collect();
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let key = (e.namespace, e.name);
        let stream = match e.object {
            Some(last) => last.0,
            None => {
                let at_this_version =
                    current.get(&key).is_some_and(|s| s.metadata.resource_version.as_deref() == Some(&*e.resource_version.to_string()));
                match current.remove(&key) {
                    Some(stream) if at_this_version => stream,
                    Some(stream) => {
                        current.insert(key, stream);
                        continue;
                    }
                    None => continue,
                }
            }
        };
        out.push(RenderedEvent {
            resource_version: e.resource_version,
            namespace: key.0,
            namespace_uid: e.namespace_uid,
            name: key.1,
            event_type: event_type_name(&e.event_type),
            stream,
        });
    }
    Ok(out)
}

fn bookmark_line(position: i64) -> Option<Bytes> {
    let meta = ObjectMeta { resource_version: Some(position.to_string()), ..Default::default() };
    let bookmark = ImageStream { metadata: meta, ..ImageStream::new("", "") };
    let mut v = serde_json::to_value(&WatchLine { event_type: "BOOKMARK", object: bookmark }).ok()?;
    if let Some(o) = v.get_mut("object").and_then(|o| o.as_object_mut()) {
        o.retain(|k, _| k == "kind" || k == "apiVersion" || k == "metadata");
    }
    Some(framed(v.to_string()))
}

fn bookmark_after(now: DateTime<Utc>, interval: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(interval).ok().and_then(|d| now.checked_add_signed(d)).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// A watch line with another event type (lines are `{"type":"…","object":…}`).
fn retype(line: &Bytes, event_type: &str) -> Bytes {
    let text = std::str::from_utf8(line).unwrap_or_default();
    match text.strip_prefix(r#"{"type":""#).and_then(|rest| rest.split_once('"')) {
        Some((_, rest)) => Bytes::from(format!(r#"{{"type":"{event_type}"{rest}"#)),
        None => line.clone(),
    }
}

impl Service {
    /// The streams a label-selector watch resumed from a version starts out holding: those in its
    /// view the selector selects now.
    async fn selected_now(
        &self,
        conn: &mut sqlx::SqliteConnection,
        view: &View,
        req: &WatchRequest,
    ) -> Result<std::collections::HashSet<(String, String)>, ApiError> {
        let scope: Option<Vec<String>> = match view {
            View::Across(Some(visible)) => Some(visible.values().cloned().collect()),
            _ => None,
        };
        let mut set = std::collections::HashSet::new();
        let mut after = (String::new(), String::new());
        loop {
            let page = store::list_streams(conn, view.namespace(), (&after.0, &after.1), LIST_PAGE, scope.as_deref()).await.map_err(db)?;
            let full = page.len() as i64 == LIST_PAGE;
            if let Some(last) = page.last() {
                after = (last.stream.namespace().to_string(), last.stream.metadata.name.clone());
            }
            set.extend(
                page.into_iter()
                    .filter(|s| {
                        req.labels.matches(&s.stream.metadata.labels) && req.name.as_ref().is_none_or(|n| *n == s.stream.metadata.name)
                    })
                    .map(|s| (s.stream.namespace().to_string(), s.stream.metadata.name)),
            );
            if !full {
                return Ok(set);
            }
        }
    }

    /// The hub every watch follows, started with the first watch.
    fn watch_hub(&self) -> &WatchHub {
        self.watch_hub.get_or_init(|| {
            let batches = tokio::sync::broadcast::channel(HUB_CAPACITY).0;
            let published = Arc::new(std::sync::atomic::AtomicI64::new(-1));
            // The reader holds a service without the hub (no cycle): when the last service is
            // dropped, so is the hub, and its guard stops the reader.
            let reader = Service { watch_hub: Arc::new(std::sync::OnceLock::new()), ..self.clone() };
            let tail = TaskGuard::spawn(reader.tail(batches.clone(), published.clone()));
            let signals = TaskGuard::spawn(poke_on_signals(
                self.watches.epoch.subscribe(),
                self.clock_moves(),
                self.draining_signal(),
                batches.clone(),
            ));
            WatchHub { batches, published, _tail: tail, _signals: signals }
        })
    }

    /// The hub's one reader of the event log: after every commit it reads what is new once,
    /// renders each event's line once, and publishes the batch to every watcher. So a change
    /// costs one query and one serialisation however many watch.
    async fn tail(self, hub: tokio::sync::broadcast::Sender<Arc<Batch>>, published: Arc<std::sync::atomic::AtomicI64>) {
        let mut changes = self.subscribe_changes();
        let mut position = self.current_resource_version().await.unwrap_or(0);
        loop {
            let Ok(mut conn) = self.store.read().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let read = async {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let now = store::current_resource_version(&mut tx).await?;
                let events = store::events_after(&mut tx, position, None, None, 500).await?;
                // A full page of the log: more may follow at once (rendered events may be fewer).
                let full = events.len() == 500;
                let last = events.last().map(|e| e.resource_version);
                // Rendered in the snapshot the events were read in (see `render_events`).
                Ok::<_, sqlx::Error>((now, full, last, render_events(&mut tx, events).await?))
            };
            let (now, full, last, events) = match read.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "the watch hub could not read the event log");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            drop(conn);
            let upto = if full { last.unwrap_or(now) } else { now };
            if upto > position {
                let events = events
                    .into_iter()
                    .filter_map(|e| {
                        let labels = e.stream.metadata.labels.clone();
                        let line = self.line(e.event_type, e.stream)?;
                        Some(HubEvent {
                            resource_version: e.resource_version,
                            namespace: e.namespace,
                            namespace_uid: e.namespace_uid,
                            name: e.name,
                            labels,
                            line,
                        })
                    })
                    .collect();
                // Stored before sending: a watch that reads `upto` and skips its catch-up has
                // subscribed already, so it gets this batch (and skips what it has).
                published.store(upto, std::sync::atomic::Ordering::Release);
                // No receivers is fine: the batch is simply not needed.
                let _ = hub.send(Arc::new(Batch { after: position, upto, events }));
                position = upto;
            } else if published.load(std::sync::atomic::Ordering::Acquire) < 0 {
                published.store(position, std::sync::atomic::Ordering::Release);
                // An empty batch from where the hub starts. Its start is read when its task first
                // runs, which can be after a change that a watch opened meanwhile (subscribed,
                // caught up before that commit) has not seen: such a watch is behind this batch's
                // `after` and catches up from the log; without it, it would wait for the next
                // change to learn it missed one (a restarted server, a change right after the
                // first watch).
                let _ = hub.send(Arc::new(Batch { after: position, upto: position, events: vec![] }));
            }
            if full {
                continue;
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    }
}

/// The watch hub: the batches it publishes, and the version they reach (-1 before the first
/// read of the log).
pub(crate) struct WatchHub {
    batches: tokio::sync::broadcast::Sender<Arc<Batch>>,
    published: Arc<std::sync::atomic::AtomicI64>,
    /// The one reader of the event log; stops with the hub.
    _tail: TaskGuard,
    /// The one waiter on the rarely moving signals (`poke_on_signals`); stops with the hub.
    _signals: TaskGuard,
}

/// Wakes every watch when one of the rarely moving signals moves (the access epoch, the clock
/// moved by hand, draining): this one task waits on them, not every watch, and sends the hub an
/// empty batch before every version (which every watch skips), so each watch wakes and looks
/// at the signals itself (`WatchState::signalled`). A watch that misses the batch (fallen
/// behind the hub) looks at them too before it catches up.
async fn poke_on_signals(
    mut epoch: tokio::sync::watch::Receiver<u64>,
    mut clock: tokio::sync::watch::Receiver<u64>,
    mut draining: tokio::sync::watch::Receiver<bool>,
    hub: tokio::sync::broadcast::Sender<Arc<Batch>>,
) {
    loop {
        let open = tokio::select! {
            r = epoch.changed() => r.is_ok(),
            r = clock.changed() => r.is_ok(),
            r = draining.changed() => r.is_ok(),
        };
        let _ = hub.send(Arc::new(Batch { after: i64::MIN, upto: i64::MIN, events: vec![] }));
        if !open {
            // A signal's sender is gone: the service is going away (watches see it themselves).
            return;
        }
    }
}

/// Batches the hub keeps for watchers that are a little behind; one further behind catches up
/// from the event log.
const HUB_CAPACITY: usize = 256;

/// Every stored change with a resource version in (`after`, `upto`], rendered.
pub(crate) struct Batch {
    after: i64,
    upto: i64,
    events: Vec<HubEvent>,
}

struct HubEvent {
    resource_version: i64,
    namespace: String,
    namespace_uid: Option<String>,
    name: String,
    /// The stream's labels, for watches with a label selector.
    labels: std::collections::BTreeMap<String, String>,
    /// Framed (`framed`), shared by every watch that sends it.
    line: Bytes,
}

/// A watch's place in the log: its position (`i64::MAX` once ended), its hub subscription, and
/// whether it must read the log first.
struct Follow {
    position: i64,
    batches: tokio::sync::broadcast::Receiver<Arc<Batch>>,
    catch_up: bool,
}

enum CatchUp {
    /// Lines to send, and the position after them.
    Lines(Vec<Bytes>, i64),
    /// Nothing after the position: the current version.
    Current(i64),
}

impl Service {
    /// Trims the event log: events older than `max_age`, and all but the newest `keep`.
    /// Watches from a trimmed version then get 410 Gone. Returns how many were dropped.
    pub async fn trim_watch_events(&self, max_age: Duration, keep: i64) -> Result<u64, ApiError> {
        let before = (self.clock_now() - chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::hours(1)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut tx = self.store.begin().await.map_err(db)?;
        let n = store::trim_events(&mut tx, &before, keep.max(0)).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(n)
    }
}

impl Service {
    /// The newest resource version (where a live page starts following).
    pub async fn current_resource_version(&self) -> Result<i64, ApiError> {
        let mut conn = self.store.read().await.map_err(db)?;
        store::current_resource_version(&mut conn).await.map_err(db)
    }
}
