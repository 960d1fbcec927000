//! Signing in and out, and passwords: a sign-in is refused before any work when its name or
//! password is longer than the domain allows; it checks the password (argon2id, off the async
//! workers behind `PasswordHashing`'s limit, against a dummy hash for unknown names so timing
//! does not tell them apart), is slowed down after failures (`SignInThrottle`), and starts a
//! session whose secret only the cookie holds. A password change needs the current one and ends
//! the user's other sessions.
//!
//! Must not: tell an unknown user name from a wrong password, keep the session secret, let the
//! throttle's memory grow with the names and addresses callers make up, let one client's failures
//! lock a user out for everyone else, or write a whole user-supplied value to the log.

use super::crypto::{random_b64, sha256_hex};
use super::{Caller, Credentials, RES_USERS, unauthorized};
use crate::service::{Service, db, for_log};
use crate::store;
use app::domain::accounts::{MAX_PASSWORD_BYTES, too_long};
use app::model::*;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "imagestreams_session";

/// A well-formed argon2id hash with the default parameters (m=19456, t=2, p=1) and an arbitrary
/// digest, which no known password matches. A sign-in for an unknown name is verified against it,
/// so it costs as long as one with a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3q2+7wX9bDkF0m3tYcR8t6cJq8b0u1L0m3m2pQx4y5E";

/// Free failed attempts at one name from one client before the waits start.
const FREE_ATTEMPTS: u32 = 3;
/// Free failed attempts of one client over all names before its waits start: guessing a few
/// passwords for each of many names (spraying) is slowed too.
const FREE_CLIENT_ATTEMPTS: u32 = 20;
/// The waits double up to `2^MAX_DOUBLINGS` seconds (about four minutes).
const MAX_DOUBLINGS: u32 = 8;
/// An entry without a failure for this long starts afresh. Far longer than the longest wait, so
/// waiting out the memory is never quicker than waiting out the throttle.
const FORGET_AFTER_SECS: i64 = 3600;
/// At most this many entries per table (each a few dozen bytes: names are at most 63 bytes).
const MAX_ENTRIES: usize = 10_000;

/// One client, for limits per client: an IPv4 address, or an IPv6 /64 (one subscriber's network
/// usually holds a whole /64, so counting its addresses one by one would limit nothing).
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
        v4 => v4,
    }
}

/// The client of a sign-in (`None`: not known, as for in-process callers; they share one).
type Client = Option<IpAddr>;

/// The failed sign-ins of one key.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
}

impl Failures {
    fn forgotten(&self, now: DateTime<Utc>) -> bool {
        (now - self.last).num_seconds() >= FORGET_AFTER_SECS
    }

    /// Seconds still to wait after `free` failures were let through.
    fn wait(&self, free: u32, now: DateTime<Utc>) -> i64 {
        if self.count < free || self.forgotten(now) {
            return 0;
        }
        let delay = 1i64 << (self.count - free).min(MAX_DOUBLINGS);
        (delay - (now - self.last).num_seconds()).max(0)
    }
}

/// Failure counts by key, at most `MAX_ENTRIES`. A key is forgotten an hour after its last
/// failure; when the table is full of live keys, the one with the fewest failures (the oldest
/// among those) makes room. A flood of made-up keys thus evicts other made-up keys, not the
/// throttled one someone is guessing at; `lru`'s least-recently-used order would do the opposite.
/// The scan that finds it is linear, but it runs only after a failed password check, which the
/// hashing limit already paces.
struct FailureTable<K> {
    entries: HashMap<K, Failures>,
}

impl<K> Default for FailureTable<K> {
    fn default() -> Self {
        FailureTable { entries: HashMap::new() }
    }
}

impl<K: std::hash::Hash + Eq + Clone> FailureTable<K> {
    fn wait(&self, key: &K, free: u32, now: DateTime<Utc>) -> i64 {
        self.entries.get(key).map_or(0, |f| f.wait(free, now))
    }

    fn failed(&mut self, key: K, now: DateTime<Utc>) {
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, f| !f.forgotten(now));
            if self.entries.len() >= MAX_ENTRIES
                && let Some(victim) = self.entries.iter().min_by_key(|(_, f)| (f.count, f.last)).map(|(k, _)| k.clone())
            {
                self.entries.remove(&victim);
            }
        }
        let f = self.entries.entry(key).or_insert(Failures { count: 0, last: now });
        if f.forgotten(now) {
            f.count = 0;
        }
        *f = Failures { count: f.count.saturating_add(1), last: now };
    }

    fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }
}

/// A throttle's wait as `Retry-After` seconds (at least 1).
fn retry_seconds(wait: i64) -> u32 {
    u32::try_from(wait.max(1)).unwrap_or(u32::MAX)
}

/// Why a sign-in must wait, and how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    /// This client failed too often at this name.
    Name(i64),
    /// This client failed too often, over all names.
    Client(i64),
}

/// Failed sign-ins, per (user name, client) and per client: after three failures at one name
/// from one client, each next attempt of that client at that name must wait twice as long; after
/// twenty failures of one client over all names, each next attempt of that client must. Another
/// client is not slowed by them, so an attacker cannot keep `admin` out for everyone (review L2).
///
/// Names and addresses are whatever callers send, so the memory is bounded (`FailureTable`).
#[derive(Default)]
pub struct SignInThrottle {
    tables: Mutex<ThrottleTables>,
}

#[derive(Default)]
struct ThrottleTables {
    by_name: FailureTable<(String, Client)>,
    by_client: FailureTable<Client>,
}

impl SignInThrottle {
    /// How long `client` must wait before trying `user` again (`None`: it may try now).
    fn wait(&self, user: &str, client: Client, now: DateTime<Utc>) -> Option<Wait> {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        let by_client = tables.by_client.wait(&client, FREE_CLIENT_ATTEMPTS, now);
        let by_name = tables.by_name.wait(&(user.to_string(), client), FREE_ATTEMPTS, now);
        match (by_name, by_client) {
            (0, 0) => None,
            (n, c) if n >= c => Some(Wait::Name(n)),
            (_, c) => Some(Wait::Client(c)),
        }
    }

    fn failed(&self, user: &str, client: Client, now: DateTime<Utc>) {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables.by_name.failed((user.to_string(), client), now);
        tables.by_client.failed(client, now);
    }

    /// A right password clears that name's failures from that client. The client's count over
    /// all names stays: else signing in to one's own account between guesses would reset it.
    fn succeeded(&self, user: &str, client: Client) {
        self.tables.lock().unwrap_or_else(|p| p.into_inner()).by_name.remove(&(user.to_string(), client));
    }

    #[cfg(test)]
    fn remembered(&self) -> (usize, usize) {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        (tables.by_name.entries.len(), tables.by_client.entries.len())
    }
}

/// Refuses a new password of user `user` that breaks the domain's rule (the value is never
/// echoed).
pub(super) fn check_new_password(user: &str, field: &str, password: &str) -> Result<(), ApiError> {
    match app::domain::accounts::password_error(password) {
        Some(rule) => Err(ApiError::invalid(RES_USERS, user, &[FieldError::invalid_raw(field, "<hidden>", rule)])),
        None => Ok(()),
    }
}

impl Service {
    /// The user a name and password belong to, checked as sign-in checks them (lengths first,
    /// the throttle, the same timing for unknown names) without starting a session: sign-in
    /// itself and the registry's Basic credentials (`docker login`) use it.
    pub(crate) async fn verify_password(&self, username: &str, password: &str, remote: Option<&str>) -> Result<store::UserRow, ApiError> {
        let errs = app::domain::accounts::sign_in_errors(username, password);
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_USERS, "", &errs));
        }
        let name = username.trim().to_string();
        let client = remote.and_then(|r| r.parse::<IpAddr>().ok()).map(client_of);
        let now = self.clock_now();
        match self.sign_ins.wait(&name, client, now) {
            Some(Wait::Name(wait)) => {
                return Err(ApiError::too_many_requests(format!("too many failed sign-ins for {name:?}; try again in {wait} s"))
                    .with_retry_after(retry_seconds(wait)));
            }
            Some(Wait::Client(wait)) => {
                return Err(ApiError::too_many_requests(format!("too many failed sign-ins from this address; try again in {wait} s"))
                    .with_retry_after(retry_seconds(wait)));
            }
            None => {}
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let user = store::user_by_name(&mut conn, &name).await.map_err(db)?;
        drop(conn);
        // Verify against a dummy hash for unknown names, so timing does not tell them apart.
        let known = user.is_some();
        let hash = user.as_ref().map_or(DUMMY_HASH, |u| u.password_hash.as_str());
        let ok = self.password_hashing.verify(password, hash).await? && user.is_some();
        let Some(user) = user.filter(|_| ok) else {
            self.sign_ins.failed(&name, client, now);
            // A name no user has is not written: it is often a password typed in the wrong
            // field (a helper found its test password in the log this way).
            match known {
                true => tracing::info!(user = %for_log(&name), remote = ?remote, "failed sign-in"),
                false => tracing::info!(remote = ?remote, "failed sign-in for a name no user has"),
            }
            return Err(ApiError::unauthorized("Unauthorized: the user name or password is wrong"));
        };
        self.sign_ins.succeeded(&name, client);
        Ok(user)
    }

    /// Signs in: returns the session secret (the cookie's value) and the user's view. A name or
    /// password over the domain's length is refused first (422, naming the field); after three
    /// failures at a name from one client, each attempt of that client must wait twice as long as
    /// the last (429); when every hashing slot is taken the answer is 429 as well.
    pub async fn sign_in(&self, form: &SignIn, remote: Option<String>) -> Result<(String, WhoAmI), ApiError> {
        let user = self.verify_password(&form.username, &form.password, remote.as_deref()).await?;
        let now = self.clock_now();
        let secret = random_b64(32)?;
        let expires = (now + chrono::Duration::from_std(self.session_ttl).unwrap_or(chrono::Duration::hours(12)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut tx = self.store.begin().await.map_err(db)?;
        store::insert_session(&mut tx, &sha256_hex(&secret), user.id, &self.now_rfc3339(), &expires).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        let caller = self.resolve_caller(Credentials { session: Some(secret.clone()), remote, ..Default::default() }).await?;
        Ok((secret, self.who_am_i(&caller)))
    }

    /// Ends the caller's session (nothing to do for a token).
    pub async fn sign_out(&self, caller: &Caller) -> Result<(), ApiError> {
        if let Some(hash) = &caller.session {
            let mut tx = self.store.begin().await.map_err(db)?;
            store::delete_session(&mut tx, hash).await.map_err(db)?;
            tx.commit().await.map_err(db)?;
            self.access_changed();
        }
        Ok(())
    }

    /// A user changes their own password (the current one is required); their other sessions end.
    /// The hashing runs before the write transaction (it takes tens of milliseconds and may wait
    /// for a slot: the database's one writer must not wait with it); the transaction then checks
    /// that the stored hash is still the one verified, so a change meanwhile is not overwritten.
    pub async fn change_password(&self, caller: &Caller, change: &PasswordChange) -> Result<(), ApiError> {
        let id = caller.user_id.ok_or_else(unauthorized)?;
        // An account action: a token limited to namespaces or a role stands for less than its
        // owner and may not take over the account (issue 13, point 5).
        if caller.token.as_ref().is_some_and(|t| t.namespaces.is_some() || t.max_role.is_some()) {
            return Err(ApiError::forbidden("a limited token cannot change its owner's password; sign in, or use an unlimited token"));
        }
        if change.current.len() > MAX_PASSWORD_BYTES {
            return Err(ApiError::invalid(
                RES_USERS,
                caller.user.as_deref().unwrap_or_default(),
                &[too_long("current", MAX_PASSWORD_BYTES)],
            ));
        }
        check_new_password(caller.user.as_deref().unwrap_or_default(), "new", &change.new)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let user = store::user_by_id(&mut conn, id).await.map_err(db)?.ok_or_else(unauthorized)?;
        drop(conn);
        // Guessing the current password here is guessing at sign-in: the same throttle counts it.
        let client = caller.remote.as_deref().and_then(|r| r.parse::<IpAddr>().ok()).map(client_of);
        let now = self.clock_now();
        if let Some(Wait::Name(wait) | Wait::Client(wait)) = self.sign_ins.wait(&user.name, client, now) {
            return Err(ApiError::too_many_requests(format!("too many wrong passwords; try again in {wait} s"))
                .with_retry_after(retry_seconds(wait)));
        }
        if !self.password_hashing.verify(&change.current, &user.password_hash).await? {
            self.sign_ins.failed(&user.name, client, now);
            let err = FieldError::invalid_raw("current", "<hidden>", "is not the current password");
            return Err(ApiError::invalid(RES_USERS, &user.name, &[err]));
        }
        let new_hash = self.password_hashing.hash(&change.new).await?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let stored = store::user_by_id(&mut tx, id).await.map_err(db)?.ok_or_else(unauthorized)?;
        if stored.password_hash != user.password_hash {
            return Err(ApiError::conflict(RES_USERS, &user.name, "the password was changed meanwhile; try again"));
        }
        store::set_password(&mut tx, id, &new_hash).await.map_err(db)?;
        store::delete_sessions_of(&mut tx, id, caller.session.as_deref().unwrap_or("")).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.access_changed();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordHash;

    fn client(s: &str) -> Client {
        Some(client_of(s.parse().unwrap()))
    }

    #[test]
    fn throttle_waits_double() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        let c = client("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(t.wait("u", c, now), None);
            t.failed("u", c, now);
        }
        assert_eq!(t.wait("u", c, now), Some(Wait::Name(1)));
        t.failed("u", c, now);
        assert_eq!(t.wait("u", c, now), Some(Wait::Name(2)));
        assert_eq!(t.wait("u", c, now + chrono::Duration::seconds(2)), None);
        t.succeeded("u", c);
        assert_eq!(t.wait("u", c, now), None);
    }

    /// Review L2: failures from one client do not keep the name out for another client.
    #[test]
    fn one_clients_failures_do_not_lock_the_name_for_others() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        let attacker = client("198.51.100.7");
        for _ in 0..12 {
            t.failed("admin", attacker, now);
        }
        assert!(matches!(t.wait("admin", attacker, now), Some(Wait::Name(w)) if w > 0));
        assert_eq!(t.wait("admin", client("192.0.2.10"), now), None, "the real admin, elsewhere, may sign in");
        assert_eq!(t.wait("admin", client("2001:db8:1:2::5"), now), None);
    }

    /// Review L2: guessing a few passwords for each of many names from one client (spraying) is
    /// slowed too; one IPv6 /64 is one client.
    #[test]
    fn spraying_from_one_client_is_slowed() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        for i in 0..FREE_CLIENT_ATTEMPTS {
            let c = client(&format!("2001:db8:1:2::{:x}", i + 1));
            assert_eq!(t.wait(&format!("user{i}"), c, now), None);
            t.failed(&format!("user{i}"), c, now);
        }
        let same_net = client("2001:db8:1:2:ffff::1");
        assert_eq!(t.wait("someone-else", same_net, now), Some(Wait::Client(1)));
        assert_eq!(t.wait("someone-else", client("2001:db8:1:3::1"), now), None, "another network is not slowed");
        t.succeeded("someone-else", same_net);
        assert_eq!(t.wait("someone-else", same_net, now), Some(Wait::Client(1)), "a success does not reset the client's count");
    }

    #[test]
    fn throttle_forgets_after_an_hour() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        let c = client("192.0.2.1");
        for _ in 0..5 {
            t.failed("u", c, now);
        }
        let later = now + chrono::Duration::seconds(FORGET_AFTER_SECS);
        t.failed("u", c, later);
        assert_eq!(t.wait("u", c, later), None, "a failure an hour on counts as the first");
    }

    /// Review M1: the throttle's memory was unbounded. Each table keeps at most `MAX_ENTRIES`,
    /// and a flood of made-up names does not free the name being guessed.
    #[test]
    fn throttle_memory_is_bounded_and_keeps_the_throttled() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        let attacker = client("198.51.100.7");
        for _ in 0..6 {
            t.failed("victim", attacker, now);
        }
        let waited = t.wait("victim", attacker, now);
        assert!(matches!(waited, Some(Wait::Name(w)) if w > 0));
        for i in 0..MAX_ENTRIES + 50 {
            let c = Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i as u32)));
            t.failed(&format!("made-up-{i}"), c, now + chrono::Duration::seconds(1));
        }
        assert_eq!(t.remembered(), (MAX_ENTRIES, MAX_ENTRIES));
        assert_eq!(t.wait("victim", attacker, now), waited, "a flood of new names does not free the guessed one");
        // Forgotten entries make room first.
        t.failed("late", client("192.0.2.99"), now + chrono::Duration::seconds(FORGET_AFTER_SECS + 1));
        let (names, clients) = t.remembered();
        assert!(names < 10 && clients < 10, "the stale entries went: {names} {clients}");
    }

    #[test]
    fn clients_are_addresses_and_ipv6_networks() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_of(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(client_of(ip("::ffff:203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(client_of(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_ne!(client_of(ip("2001:db8:1:3::1")), client_of(ip("2001:db8:1:2::1")));
    }

    /// Review M1: a 1.5 MB user name was written whole to the log at each failure.
    #[test]
    fn log_lines_carry_at_most_64_characters_of_a_value() {
        assert_eq!(for_log("admin"), "admin");
        assert_eq!(for_log(&"a".repeat(1_500_000)), format!("{}…", "a".repeat(64)));
        assert_eq!(for_log(&"é".repeat(65)), format!("{}…", "é".repeat(64)), "cut at a character, not a byte");
    }

    #[test]
    fn the_dummy_hash_is_well_formed() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
