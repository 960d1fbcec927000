//! Signing in and out, and passwords: a sign-in checks the password (argon2id, against a dummy
//! hash for unknown names so timing does not tell them apart), is slowed down after failures
//! (`SignInThrottle`), and starts a session whose secret only the cookie holds. A password change
//! needs the current one and ends the user's other sessions.
//!
//! Must not: tell an unknown user name from a wrong password, keep the session secret, or let the
//! throttle's memory grow with the names callers make up.

use super::crypto::{hash_password, random_b64, sha256_hex, verify_password};
use super::{Caller, Credentials, RES_USERS, unauthorized};
use crate::service::{Service, db};
use crate::store;
use app::model::*;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "imagestreams_session";

/// A well-formed argon2id hash with the default parameters (m=19456, t=2, p=1) and an arbitrary
/// digest, which no known password matches. A sign-in for an unknown name is verified against it,
/// so it costs as long as one with a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3q2+7wX9bDkF0m3tYcR8t6cJq8b0u1L0m3m2pQx4y5E";

/// Free attempts before the waits start.
const FREE_ATTEMPTS: u32 = 3;
/// The waits double up to `2^MAX_DOUBLINGS` seconds (about four minutes).
const MAX_DOUBLINGS: u32 = 8;
/// A name without a failure for this long starts afresh. Far longer than the longest wait, so
/// waiting out the memory is never quicker than waiting out the throttle.
const FORGET_AFTER_SECS: i64 = 3600;
/// At most this many names are remembered (each entry is a few dozen bytes).
const MAX_NAMES: usize = 10_000;

/// The failed sign-ins of one user name.
#[derive(Clone, Copy, Debug)]
struct Failures {
    count: u32,
    last: DateTime<Utc>,
}

impl Failures {
    fn forgotten(&self, now: DateTime<Utc>) -> bool {
        (now - self.last).num_seconds() >= FORGET_AFTER_SECS
    }
}

/// Failed sign-ins per user name: after three, each next attempt must wait twice as long.
///
/// The names are whatever callers send, so the memory is bounded: a name is forgotten an hour
/// after its last failure, and beyond `MAX_NAMES` names the one with the fewest failures (the
/// oldest among those) makes room. A flood of made-up names thus evicts other made-up names, not
/// the throttled name someone is guessing passwords for.
#[derive(Default)]
pub struct SignInThrottle {
    failures: Mutex<HashMap<String, Failures>>,
}

impl SignInThrottle {
    /// Seconds to wait before `user` may try again (0: now).
    fn wait(&self, user: &str, now: DateTime<Utc>) -> i64 {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        match failures.get(user) {
            Some(f) if f.count >= FREE_ATTEMPTS => {
                let delay = 1i64 << (f.count - FREE_ATTEMPTS).min(MAX_DOUBLINGS);
                (delay - (now - f.last).num_seconds()).max(0)
            }
            _ => 0,
        }
    }

    fn failed(&self, user: &str, now: DateTime<Utc>) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if !failures.contains_key(user) && failures.len() >= MAX_NAMES {
            failures.retain(|_, f| !f.forgotten(now));
            if failures.len() >= MAX_NAMES
                && let Some(victim) = failures.iter().min_by_key(|(_, f)| (f.count, f.last)).map(|(name, _)| name.clone())
            {
                failures.remove(&victim);
            }
        }
        let f = failures.entry(user.to_string()).or_insert(Failures { count: 0, last: now });
        if f.forgotten(now) {
            f.count = 0;
        }
        *f = Failures { count: f.count.saturating_add(1), last: now };
    }

    fn succeeded(&self, user: &str) {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).remove(user);
    }

    #[cfg(test)]
    fn remembered(&self) -> usize {
        self.failures.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Refuses a new password that breaks the domain's rule (the value is never echoed).
pub(super) fn check_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    match app::domain::accounts::password_error(password) {
        Some(rule) => Err(ApiError::invalid(RES_USERS, "", &[FieldError::invalid_raw(field, "<hidden>", rule)])),
        None => Ok(()),
    }
}

impl Service {
    /// Signs in: returns the session secret (the cookie's value) and the user's view. After
    /// three failures for a name, each attempt must wait twice as long as the last (429).
    pub async fn sign_in(&self, form: &SignIn, remote: Option<String>) -> Result<(String, WhoAmI), ApiError> {
        let name = form.username.trim().to_string();
        let now = self.clock_now();
        let wait = self.sign_ins.wait(&name, now);
        if wait > 0 {
            return Err(ApiError::too_many_requests(format!("too many failed sign-ins for {name:?}; try again in {wait} s")));
        }
        let mut conn = self.store.read().await.map_err(db)?;
        let user = store::user_by_name(&mut conn, &name).await.map_err(db)?;
        drop(conn);
        // Verify against a dummy hash for unknown names, so timing does not tell them apart.
        let ok = match &user {
            Some(u) => verify_password(&form.password, &u.password_hash),
            None => {
                verify_password(&form.password, DUMMY_HASH);
                false
            }
        };
        let Some(user) = user.filter(|_| ok) else {
            self.sign_ins.failed(&name, now);
            tracing::info!(user = %name, remote = ?remote, "failed sign-in");
            return Err(ApiError::unauthorized("Unauthorized: the user name or password is wrong"));
        };
        self.sign_ins.succeeded(&name);
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
    pub async fn change_password(&self, caller: &Caller, change: &PasswordChange) -> Result<(), ApiError> {
        let id = caller.user_id.ok_or_else(unauthorized)?;
        check_new_password("new", &change.new)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        let user = store::user_by_id(&mut tx, id).await.map_err(db)?.ok_or_else(unauthorized)?;
        if !verify_password(&change.current, &user.password_hash) {
            let err = FieldError::invalid_raw("current", "<hidden>", "is not the current password");
            return Err(ApiError::invalid(RES_USERS, &user.name, &[err]));
        }
        store::set_password(&mut tx, id, &hash_password(&change.new)?).await.map_err(db)?;
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

    #[test]
    fn throttle_waits_double() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        for _ in 0..3 {
            assert_eq!(t.wait("u", now), 0);
            t.failed("u", now);
        }
        assert_eq!(t.wait("u", now), 1);
        t.failed("u", now);
        assert_eq!(t.wait("u", now), 2);
        assert_eq!(t.wait("u", now + chrono::Duration::seconds(2)), 0);
        t.succeeded("u");
        assert_eq!(t.wait("u", now), 0);
    }

    #[test]
    fn throttle_forgets_after_an_hour() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        for _ in 0..5 {
            t.failed("u", now);
        }
        let later = now + chrono::Duration::seconds(FORGET_AFTER_SECS);
        t.failed("u", later);
        assert_eq!(t.wait("u", later), 0, "a failure an hour on counts as the first");
    }

    #[test]
    fn throttle_memory_is_bounded_and_keeps_the_throttled() {
        let t = SignInThrottle::default();
        let now = chrono::Utc::now();
        for _ in 0..6 {
            t.failed("victim", now);
        }
        let waited = t.wait("victim", now);
        assert!(waited > 0);
        for i in 0..MAX_NAMES + 50 {
            t.failed(&format!("made-up-{i}"), now + chrono::Duration::seconds(1));
        }
        assert_eq!(t.remembered(), MAX_NAMES);
        assert_eq!(t.wait("victim", now), waited, "a flood of new names does not free the guessed one");
        // Forgotten names make room first.
        t.failed("late", now + chrono::Duration::seconds(FORGET_AFTER_SECS + 1));
        assert!(t.remembered() < 10, "the stale names went: {}", t.remembered());
    }

    #[test]
    fn the_dummy_hash_is_well_formed() {
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
