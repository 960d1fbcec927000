//! Who may do what (PRODUCT.md "What it is": teams, self-service). A request's credentials (an
//! API token, or a session cookie) become a `Caller` once, at the edge: the user, their role in
//! each namespace (capped by the token's limits), the public namespaces, and whether accounts are
//! on at all. Every operation then asks `Service::allow` (the single check) with its verb,
//! resource and namespace.
//!
//! Accounts are on once a user exists (the first administrator comes from
//! `serve --admin-password-file` or `IMAGESTREAMS_ADMIN_PASSWORD`). Before that the server is open,
//! as it was before accounts, and says so (`WhoAmI.open`, a warning at start).
//!
//! The parts: `caller` (credentials to `Caller`), `authorize` (the check and its 401/403/404
//! wording), `crypto` (secrets, digests, password hashes and the limit they run behind),
//! `sessions` (sign-in and its throttle, sign-out, passwords), `users`, `tokens`, and `members`
//! (members and the public flag). The audit log is `service::audit`.
//!
//! Must not: write SQL (that is `store`), keep a secret in plain text (sessions and tokens are
//! stored as SHA-256 digests, passwords as argon2id: PRODUCT difference 7), or let a stored value
//! that does not decode widen what a caller may do (the store fails the read; the answer is 500).

mod authorize;
mod caller;
mod crypto;
mod members;
mod sessions;
mod setup;
mod tokens;
mod users;

pub use app::domain::accounts::Role;
pub use authorize::{RoleAuthorizer, unauthorized};
pub use caller::{AuditNote, AuditSlot, Caller, Credentials};
pub use crypto::PasswordHashing;
pub use sessions::{SESSION_COOKIE, SignInThrottle, client_of};
pub(crate) use setup::Setup;
pub use setup::{Bootstrap, SETUP_TOKEN_PREFIX, unauthorized_change};
pub(crate) use tokens::TOKEN_PREFIX as API_TOKEN_PREFIX;
pub(crate) use users::AccountsSwitch;

use app::model::Resource;

/// The resource of user errors (sign-in, passwords, user creation).
pub const RES_USERS: Resource = Resource { plural: "users", group: "", kind: "User" };
/// The resource of API token errors.
pub const RES_TOKENS: Resource = Resource { plural: "tokens", group: "", kind: "Token" };
/// The resource of member errors.
pub const RES_MEMBERS: Resource = Resource { plural: "members", group: "", kind: "Member" };
