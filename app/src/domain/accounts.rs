//! Account rules shared by the server and the forms: what a password must be.
//!
//! Must not: decide who may do what (the server's service checks permissions) or touch stored
//! accounts.

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Why a new password is refused, if it is.
pub fn password_error(password: &str) -> Option<String> {
    (password.chars().count() < MIN_PASSWORD_LEN).then(|| format!("must be at least {MIN_PASSWORD_LEN} characters long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_need_ten_characters() {
        assert_eq!(password_error("123456789").unwrap(), "must be at least 10 characters long");
        assert!(password_error("1234567890").is_none());
        assert!(password_error("ééééééééé").is_some(), "characters, not bytes");
    }
}
