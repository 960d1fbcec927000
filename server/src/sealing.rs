//! Encryption at rest of registry credentials: XChaCha20-Poly1305 with a 256-bit key kept in
//! `<data-dir>/sealing.key` (created with mode 0600 on first start) or given as 64 hex digits in
//! `IMAGESTREAMS_SEALING_KEY`. A sealed value is `nonce (24 bytes) || ciphertext`.
//! Must not: log or return plain text.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use std::path::Path;

/// Seals and opens values with the server's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| format!("no randomness: {e}"))?;
    Ok(buf)
}

/// The key written as 64 hex digits (surrounding whitespace, such as a file's newline, allowed).
fn parse_hex_key(s: &str) -> Result<[u8; 32], String> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(s.trim(), &mut key).map_err(|_| "the sealing key must be 64 hexadecimal digits".to_string())?;
    Ok(key)
}

impl Sealer {
    /// A sealer with the given key.
    pub fn from_key(key: [u8; 32]) -> Self {
        Sealer { cipher: XChaCha20Poly1305::new(Key::from_slice(&key)) }
    }

    /// The key from `IMAGESTREAMS_SEALING_KEY`, else `<data_dir>/sealing.key`, created if missing.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, String> {
        if let Ok(hex) = std::env::var("IMAGESTREAMS_SEALING_KEY") {
            return Ok(Self::from_key(parse_hex_key(&hex)?));
        }
        let path = data_dir.join("sealing.key");
        if let Ok(text) = std::fs::read_to_string(&path) {
            return Ok(Self::from_key(parse_hex_key(&text)?));
        }
        let key: [u8; 32] = random()?;
        write_private(&path, &hex::encode(key)).map_err(|e| format!("writing {}: {e}", path.display()))?;
        Ok(Self::from_key(key))
    }

    /// `plain` encrypted under a fresh random nonce: `nonce || ciphertext`.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
        let nonce: [u8; 24] = random()?;
        let mut out = nonce.to_vec();
        out.extend(self.cipher.encrypt(XNonce::from_slice(&nonce), plain).map_err(|_| "sealing failed".to_string())?);
        Ok(out)
    }

    /// The plain text of a sealed value; an error if it was sealed with another key or altered.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, String> {
        if sealed.len() < 24 {
            return Err("sealed value too short".into());
        }
        let (nonce, body) = sealed.split_at(24);
        self.cipher.decrypt(XNonce::from_slice(nonce), body).map_err(|_| "the sealed value does not open with this key".to_string())
    }
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_tamper_fails() {
        let s = Sealer::from_key([7u8; 32]);
        let sealed = s.seal(b"user:pass").unwrap();
        assert!(!sealed.windows(4).any(|w| w == b"pass"), "no plain text in the sealed bytes");
        assert_eq!(s.open(&sealed).unwrap(), b"user:pass");
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(s.open(&bad).is_err());
        assert!(Sealer::from_key([8u8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn hex_keys_parse_strictly() {
        let key = [0xabu8; 32];
        assert_eq!(parse_hex_key(&format!("{}\n", hex::encode(key))).unwrap(), key);
        assert_eq!(parse_hex_key(&"AB".repeat(32)).unwrap(), key, "either case");
        for bad in ["", "ab", &"ab".repeat(33), &"zz".repeat(32), &format!("+{}", "a".repeat(63))] {
            assert_eq!(parse_hex_key(bad).unwrap_err(), "the sealing key must be 64 hexadecimal digits", "{bad:?}");
        }
    }

    #[test]
    fn key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load_or_create(dir.path()).unwrap();
        let b = Sealer::load_or_create(dir.path()).unwrap();
        assert_eq!(b.open(&a.seal(b"x").unwrap()).unwrap(), b"x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sealing.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
