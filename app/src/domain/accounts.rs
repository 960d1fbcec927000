//! Account rules shared by the server, the forms and the CLI: the namespace roles and what a
//! password must be (PRODUCT.md, "Accounts and teams").
//!
//! Must not: know who is calling (that is the server's `Caller`) or store anything.

use super::names::validate_namespace_name;
use crate::model::{ApiToken, FieldError, FieldErrorKind};

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

/// Longest password, in bytes: room for any passphrase or generated secret, while a sign-in
/// cannot make the server hash megabytes (argon2 takes any length).
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Longest user name: users are named like namespaces (an RFC 1123 label).
pub const MAX_USER_NAME_LEN: usize = 63;

/// Why a new password is refused, if it is.
pub fn password_error(password: &str) -> Option<String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(format!("must be no more than {MAX_PASSWORD_BYTES} bytes long"));
    }
    (password.chars().count() < MIN_PASSWORD_LEN).then(|| format!("must be at least {MIN_PASSWORD_LEN} characters long"))
}

/// `field: Too long: may not be more than N bytes`, without the value (it may be megabytes, or
/// a password).
pub fn too_long(field: &str, max: usize) -> FieldError {
    FieldError { field: field.into(), kind: FieldErrorKind::TooLong, value: None, detail: format!("may not be more than {max} bytes") }
}

/// What a sign-in is checked for before any work: the lengths. A name or password within them
/// is otherwise not judged (a wrong one is just wrong).
pub fn sign_in_errors(username: &str, password: &str) -> Vec<FieldError> {
    let mut errs = vec![];
    if username.trim().len() > MAX_USER_NAME_LEN {
        errs.push(too_long("username", MAX_USER_NAME_LEN));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        errs.push(too_long("password", MAX_PASSWORD_BYTES));
    }
    errs
}

/// Validates a new user's name: the namespace-name rule, its length checked first so an
/// oversized name is refused without being echoed.
pub fn validate_user_name(name: &str, field: &str) -> Vec<FieldError> {
    if name.len() > MAX_USER_NAME_LEN {
        return vec![too_long(field, MAX_USER_NAME_LEN)];
    }
    validate_namespace_name(name, field)
}

/// What a caller wants to do, for the permission check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    List,
    Create,
    Update,
    Delete,
}

impl Verb {
    /// The verb as Kubernetes messages and audit notes word it (`get`, `list`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Delete => "delete",
        }
    }
}

/// The role an operation needs (PRODUCT.md "What it is": teams decide who may view, edit or
/// administer): viewers read; editors tag, import, delete tags and manage webhooks; admins manage
/// members, registry credentials, the public flag, the audit log, retention policies (and run them), and delete streams and the
/// namespace.
pub fn required_role(verb: Verb, resource: &str) -> Role {
    match (resource, verb) {
        ("secrets" | "audit", _) => Role::Admin,
        ("members" | "visibility", Verb::Get | Verb::List) => Role::Viewer,
        ("members" | "visibility", _) => Role::Admin,
        // Retention policies and their runs: members read them, admins set and run them (a
        // run deletes history, like deleting a stream).
        ("retention", Verb::Get | Verb::List) => Role::Viewer,
        ("retention", _) => Role::Admin,
        ("imagestreams" | "namespaces", Verb::Delete) => Role::Admin,
        (_, Verb::Get | Verb::List) => Role::Viewer,
        _ => Role::Editor,
    }
}

/// Whether reading `resource` is open to readers without a role in the namespace (a public
/// namespace, or `serve --anonymous-read`): streams, tags and images only. Members, visibility,
/// webhooks and their delivery logs, registry credentials and the audit log need a role there;
/// user names feed password guessing and delivery logs describe the receivers.
pub fn readable_without_role(resource: &str) -> bool {
    matches!(resource, "namespaces" | "imagestreams" | "imagestreamtags" | "imagestreamimages" | "imagestreams/layers")
}

/// The longest token name accepted, in bytes.
pub const MAX_TOKEN_NAME_LEN: usize = 100;

/// What a valid token request asks for, parsed: its highest role and its expiry (UTC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenLimits {
    pub name: String,
    pub max_role: Option<Role>,
    pub expires: Option<chrono::DateTime<chrono::Utc>>,
}

/// The rules of a new API token at `now`: a name (at most 100 bytes), a known `maxRole`,
/// namespace names that could exist, and an RFC 3339 expiry in the future. Every broken rule is
/// reported, with the field it concerns.
pub fn validate_token_request(spec: &ApiToken, now: chrono::DateTime<chrono::Utc>) -> Result<TokenLimits, Vec<FieldError>> {
    let mut errs = vec![];
    let name = spec.name.trim();
    if name.is_empty() {
        errs.push(FieldError::required("name", "a name says what the token is for"));
    } else if name.len() > MAX_TOKEN_NAME_LEN {
        errs.push(FieldError::invalid("name", name, format!("must be at most {MAX_TOKEN_NAME_LEN} characters")));
    }
    let max_role = spec.max_role.as_deref().and_then(|r| {
        let role = Role::parse(r);
        if role.is_none() {
            errs.push(FieldError::not_supported("maxRole", r, Role::supported_values()));
        }
        role
    });
    for (i, ns) in spec.namespaces.iter().flatten().enumerate() {
        errs.extend(validate_namespace_name(ns, &format!("namespaces[{i}]")));
    }
    let expires = spec.expires.as_deref().and_then(|e| match chrono::DateTime::parse_from_rfc3339(e) {
        Ok(t) if t.with_timezone(&chrono::Utc) <= now => {
            errs.push(FieldError::invalid("expires", e, "must be in the future"));
            None
        }
        Ok(t) => Some(t.with_timezone(&chrono::Utc)),
        Err(_) => {
            errs.push(FieldError::invalid("expires", e, "must be an RFC 3339 time"));
            None
        }
    });
    if errs.is_empty() { Ok(TokenLimits { name: name.to_string(), max_role, expires }) } else { Err(errs) }
}

/// The token form's lifetime: empty for a token that never expires, else a whole number of
/// days, at least 1, counted from `now` (RFC 3339, to the second).
pub fn expiry_after_days(days: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, String> {
    match days.trim() {
        "" => Ok(None),
        d => match d.parse::<i64>() {
            Ok(n) if (1..=36_500).contains(&n) => {
                Ok(Some((now + chrono::Duration::days(n)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)))
            }
            _ => Err("the lifetime is a whole number of days, at least 1".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operation_needs_its_role() {
        assert_eq!(required_role(Verb::Get, "imagestreams"), Role::Viewer);
        assert_eq!(required_role(Verb::Update, "imagestreamtags"), Role::Editor);
        assert_eq!(required_role(Verb::Create, "webhooks"), Role::Editor);
        assert_eq!(required_role(Verb::Delete, "imagestreams"), Role::Admin);
        assert_eq!(required_role(Verb::Delete, "namespaces"), Role::Admin);
        assert_eq!(required_role(Verb::List, "members"), Role::Viewer);
        assert_eq!(required_role(Verb::Update, "members"), Role::Admin);
        assert_eq!(required_role(Verb::Get, "secrets"), Role::Admin);
        assert_eq!(required_role(Verb::List, "audit"), Role::Admin);
        assert_eq!(required_role(Verb::Get, "retention"), Role::Viewer);
        assert_eq!(required_role(Verb::Update, "retention"), Role::Admin);
        assert_eq!(required_role(Verb::Create, "retention"), Role::Admin);
        assert_eq!(Verb::Delete.as_str(), "delete");
    }

    #[test]
    fn public_readers_see_streams_tags_and_images_only() {
        for r in ["imagestreams", "imagestreamtags", "imagestreamimages", "namespaces"] {
            assert!(readable_without_role(r), "{r}");
        }
        for r in ["members", "visibility", "webhooks", "secrets", "audit", "images"] {
            assert!(!readable_without_role(r), "{r}");
        }
    }

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

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&chrono::Utc)
    }

    #[test]
    fn token_requests_report_every_broken_rule_by_field() {
        let now = at("2026-01-01T12:00:00Z");
        let ok = ApiToken {
            name: " ci ".into(),
            max_role: Some("editor".into()),
            expires: Some("2026-02-01T00:00:00+01:00".into()),
            ..Default::default()
        };
        let limits = validate_token_request(&ok, now).unwrap();
        assert_eq!((limits.name.as_str(), limits.max_role), ("ci", Some(Role::Editor)));
        assert_eq!(limits.expires, Some(at("2026-01-31T23:00:00Z")));
        let bad = ApiToken {
            name: String::new(),
            max_role: Some("owner".into()),
            namespaces: Some(vec!["Bad_NS".into()]),
            expires: Some("2025-01-01T00:00:00Z".into()),
            ..Default::default()
        };
        let fields: Vec<String> = validate_token_request(&bad, now).unwrap_err().into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["name", "maxRole", "namespaces[0]", "expires"]);
        let long = ApiToken { name: "x".repeat(101), ..Default::default() };
        assert_eq!(validate_token_request(&long, now).unwrap_err()[0].field, "name");
        let garbled = ApiToken { name: "t".into(), expires: Some("tomorrow".into()), ..Default::default() };
        assert_eq!(validate_token_request(&garbled, now).unwrap_err()[0].detail, "must be an RFC 3339 time");
    }

    #[test]
    fn the_form_counts_whole_days() {
        let now = at("2026-01-01T12:00:00Z");
        assert_eq!(expiry_after_days("", now), Ok(None));
        assert_eq!(expiry_after_days(" 30 ", now), Ok(Some("2026-01-31T12:00:00Z".into())));
        for bad in ["0", "-1", "1.5", "soon", "99999999999999999999"] {
            assert!(expiry_after_days(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_and_passwords_have_a_maximum_length_and_are_not_echoed() {
        assert!(sign_in_errors(&"a".repeat(MAX_USER_NAME_LEN), &"p".repeat(MAX_PASSWORD_BYTES)).is_empty());
        let errs = sign_in_errors(&"a".repeat(1_500_000), &"p".repeat(MAX_PASSWORD_BYTES + 1));
        let shown: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown, ["username: Too long: may not be more than 63 bytes", "password: Too long: may not be more than 1024 bytes"]);
        assert_eq!(validate_user_name(&"a".repeat(64), "name")[0].to_string(), "name: Too long: may not be more than 63 bytes");
        assert!(validate_user_name("alice", "name").is_empty());
        assert_eq!(password_error(&"p".repeat(MAX_PASSWORD_BYTES + 1)).unwrap(), "must be no more than 1024 bytes long");
        assert!(password_error(&"p".repeat(MAX_PASSWORD_BYTES)).is_none());
    }

    #[test]
    fn passwords_need_ten_characters() {
        assert_eq!(password_error("123456789").unwrap(), "must be at least 10 characters long");
        assert!(password_error("1234567890").is_none());
        assert!(password_error("ééééééééé").is_some(), "characters, not bytes");
    }
}
