//! The primitives of credentials: random secrets and ids, the SHA-256 digests sessions and tokens
//! are stored as, their constant-time comparison, and argon2id password hashes.
//!
//! Must not: fall back to weaker randomness (no randomness is a 500, never a guessable secret)
//! or log a secret.

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

/// An argon2id hash (default parameters, random salt) of `password`, in PHC string format.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt = random_bytes(16, "a salt")?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::internal(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Whether `password` matches `hash` (a malformed hash matches nothing).
pub(super) fn verify_password(password: &str, hash: &str) -> bool {
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
