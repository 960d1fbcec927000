//! The primitives of credentials: random secrets and ids, the SHA-256 digests sessions and tokens
//! are stored as, their constant-time comparison, and argon2id password hashes, which run off the
//! async workers behind a small limit (`PasswordHashing`).
//!
//! Must not: fall back to weaker randomness (no randomness is a 500, never a guessable secret),
//! log a secret, or hash a password on an async worker (about 30 ms of CPU and 19 MiB each: a
//! flood of sign-ins would stall every other request, review M1).

use app::model::ApiError;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::Digest;
use subtle::ConstantTimeEq;

/// The lowercase hex SHA-256 of `s`: how session and token secrets are stored and looked up.
pub(super) fn sha256_hex(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// `n` random bytes. Secrets without randomness would be guessable: refuse (500) rather than
/// fall back.
fn random_bytes(n: usize, what: &str) -> Result<Vec<u8>, ApiError> {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).map_err(|e| ApiError::internal(format!("no randomness for {what}: {e}")))?;
    Ok(b)
}

/// A secret of `n` random bytes, URL-safe base64 (a session cookie, a token's secret part).
pub(super) fn random_b64(n: usize) -> Result<String, ApiError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(n, "secrets")?))
}

/// An id of `n` random bytes in hex (a token's public id).
pub(super) fn random_hex(n: usize) -> Result<String, ApiError> {
    Ok(hex::encode(random_bytes(n, "ids")?))
}

/// Compares two digests in time independent of where they differ.
pub(super) fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Where password hashes run: on tokio's blocking threads, at most `parallel` at once (about one
/// per core: more would only share the same cores and multiply argon2's 19 MiB), with at most
/// `queue` more waiting their turn. Beyond that a caller is told at once that the server is busy
/// (429), so a flood of sign-ins costs the attacker requests, not the server memory or workers.
/// The short queue keeps a few people signing in at the same moment from being refused.
#[derive(Debug)]
pub struct PasswordHashing {
    running: std::sync::Arc<tokio::sync::Semaphore>,
    admitted: std::sync::Arc<tokio::sync::Semaphore>,
}

impl PasswordHashing {
    pub fn new(parallel: usize, queue: usize) -> Self {
        let parallel = parallel.max(1);
        PasswordHashing {
            running: std::sync::Arc::new(tokio::sync::Semaphore::new(parallel)),
            admitted: std::sync::Arc::new(tokio::sync::Semaphore::new(parallel + queue)),
        }
    }

    /// One hash per core at once, three times as many waiting.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        Self::new(cores, 3 * cores)
    }

    /// Runs `work` on a blocking thread once a slot is free. The slots move into the blocking
    /// task, so a caller that goes away (the client hung up) does not free them before the hash
    /// is done.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let admitted = self.admitted.clone().try_acquire_owned().map_err(|_| busy())?;
        let running = self.running.clone().acquire_owned().await.map_err(|_| busy())?;
        tokio::task::spawn_blocking(move || {
            let _slots = (admitted, running);
            work()
        })
        .await
        .map_err(|e| ApiError::internal(format!("password hashing failed: {e}")))
    }

    /// `hash_password` off the async workers.
    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_string();
        self.run(move || hash_password(&password)).await?
    }

    /// `verify_password` off the async workers.
    pub async fn verify(&self, password: &str, hash: &str) -> Result<bool, ApiError> {
        let (password, hash) = (password.to_string(), hash.to_string());
        self.run(move || verify_password(&password, &hash)).await
    }
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self::for_this_machine()
    }
}

/// The answer when every hashing slot is taken.
fn busy() -> ApiError {
    ApiError::too_many_requests("the server is busy hashing passwords; retry later").with_retry_after(1)
}

/// An argon2id hash (default parameters, random salt) of `password`, in PHC string format.
/// Blocking (tens of milliseconds): async code goes through `PasswordHashing`.
fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = random_bytes(16, "a salt")?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Whether `password` matches `hash` (a malformed hash matches nothing). Blocking, like
/// `hash_password`.
fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
    }

    /// Review M1: hashing is limited. With one slot running and one waiting, a third caller is
    /// told at once that the server is busy (429); once the slots are free, hashing works again.
    #[tokio::test]
    async fn a_full_hashing_queue_answers_busy() {
        let hashing = std::sync::Arc::new(PasswordHashing::new(1, 1));
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let blocker = {
            let hashing = hashing.clone();
            tokio::spawn(async move {
                hashing
                    .run(move || {
                        started_tx.send(()).unwrap();
                        release_rx.recv().unwrap();
                    })
                    .await
            })
        };
        tokio::task::spawn_blocking(move || started_rx.recv().unwrap()).await.unwrap();
        let waiting = {
            let hashing = hashing.clone();
            tokio::spawn(async move { hashing.verify("correct horse battery", "not a hash").await })
        };
        // The waiting one holds the only queue place once it has been admitted.
        while hashing.admitted.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let err = hashing.hash("another password").await.unwrap_err();
        assert_eq!((err.code(), err.reason()), (429, "TooManyRequests"));
        assert_eq!(err.message(), "the server is busy hashing passwords; retry later");
        release_tx.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        assert!(!waiting.await.unwrap().unwrap(), "the queued one ran after the first");
        let h = hashing.hash("correct horse battery").await.unwrap();
        assert!(hashing.verify("correct horse battery", &h).await.unwrap());
    }

    #[test]
    fn digests_and_comparison() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert_eq!(random_hex(6).unwrap().len(), 12);
        assert_eq!(random_b64(32).unwrap().len(), 43);
    }
}
