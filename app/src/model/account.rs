//! Accounts (PRODUCT.md, "What it is": teams, self-service): who is signed in, API tokens,
//! namespace members, the audit log, and the bodies of sign-in and password change. Passwords and
//! token secrets travel only inbound (a token's secret once, in the answer that creates it).
//!
//! Must not: carry a password or token secret outbound, or hold a rule (`domain::accounts`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub namespace: String,
    pub role: String,
}

/// `GET /api/v1/session`: the caller.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// `None` when nobody is signed in.
    pub user: Option<String>,
    /// A server-wide administrator.
    pub admin: bool,
    /// No user exists yet and the server listens on loopback only: the caller is the single local
    /// user, allowed everything (web pages of other sites still are not).
    pub open: bool,
    pub namespaces: Vec<Membership>,
    /// The token this request came with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignIn {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub new: String,
}

/// `POST /api/v1/users` (server administrators).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    pub name: String,
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    /// The public id (the token starts with `ist_<id>_`).
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Only these namespaces; `None`: every namespace of the user.
    #[serde(default)]
    pub namespaces: Option<Vec<String>>,
    /// At most this role (`viewer`, `editor`, `admin`); `None`: the user's roles.
    #[serde(default)]
    pub max_role: Option<String>,
    /// RFC 3339; `None`: never.
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
    /// The secret, in the answer to its creation only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub user: String,
    pub role: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Visibility {
    pub public: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub time: String,
    pub user: Option<String>,
    pub token: Option<String>,
    pub namespace: Option<String>,
    /// What was asked: `<method> <path>`, and the operation the permission check saw.
    pub action: String,
    pub remote: Option<String>,
    pub code: u16,
    /// `success`, or the failure's reason.
    pub outcome: String,
}
