//! Account rules shared by the server, the forms and the CLI: the namespace roles and what a
//! password must be (PRODUCT.md, "Accounts and teams").
//!
//! Must not: know who is calling (that is the server's `Caller`) or store anything.

/// A role in a namespace, weakest first: each includes what the ones before it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Reads streams, tags, images and webhooks.
    Viewer,
    /// Also tags, imports, pushes and manages webhooks and registry credentials.
    Editor,
    /// Also manages members and visibility, and reads the audit log.
    Admin,
}

impl Role {
    /// Every role, weakest first (the order forms offer them in).
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    /// The role named `s` (`viewer`, `editor`, `admin`; exact, lower case).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The role's name as the API and the CLI write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// The detail of a `NotSupported` field error for an unknown role:
    /// `supported values: "viewer", "editor", "admin"`.
    pub fn supported_values() -> String {
        let names: Vec<String> = Role::ALL.iter().map(|r| format!("{:?}", r.as_str())).collect();
        format!("supported values: {}", names.join(", "))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    fn roles_parse_print_and_order() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("Admin"), None);
        assert_eq!(Role::parse(""), None);
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
        assert_eq!(Role::supported_values(), "supported values: \"viewer\", \"editor\", \"admin\"");
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert_eq!(password_error("123456789").unwrap(), "must be at least 10 characters long");
        assert!(password_error("1234567890").is_none());
        assert!(password_error("ééééééééé").is_some(), "characters, not bytes");
    }
}
