//! The permission check of accounts (`RoleAuthorizer`): what the caller's roles allow (the role
//! an operation needs is `app::domain::accounts::required_role`), and how a refusal is worded. 401 for a request without credentials where some are needed, 404 for a
//! namespace the caller may not read at all (its existence is not revealed), 403 with
//! Kubernetes' wording for too little a role.
//!
//! Must not: read the store (the `Caller` carries everything the check needs) or note anything
//! for the audit log (`Service::allow` does, before asking).

use super::{Caller, Role};
use crate::service::Verb;
use app::domain::accounts::{readable_without_role, required_role};
use app::model::*;

/// The API group of a resource, as 403 messages name it.
fn group_of(resource: &str) -> &'static str {
    match resource {
        "imagestreams" | "imagestreamtags" | "imagestreamimages" | "imagestreamimports" | "imagestreammappings" | "images" => {
            "image.openshift.io"
        }
        _ => "",
    }
}

/// The permission check of accounts: what the caller's roles allow. 401 for a request without
/// credentials where some are needed, 404 for a namespace the caller may not read at all (its
/// existence is not revealed), 403 for too little a role.
pub struct RoleAuthorizer {
    /// `serve --restrict-namespace-creation`: only server administrators create namespaces.
    pub restrict_namespace_creation: bool,
}

impl crate::service::Authorizer for RoleAuthorizer {
    fn check(&self, caller: &Caller, verb: Verb, resource: &str, namespace: Option<&str>) -> Result<(), ApiError> {
        if caller.system || caller.open {
            return Ok(());
        }
        let forbidden = |scope: String| {
            let group = group_of(resource);
            let qualified = if group.is_empty() { resource.to_string() } else { format!("{resource}.{group}") };
            ApiError::forbidden(format!(
                "{qualified} is forbidden: User \"{}\" cannot {} resource \"{resource}\" in API group \"{group}\"{scope}",
                caller.name_for_messages(),
                verb.as_str()
            ))
        };
        let Some(ns) = namespace else {
            return match (resource, verb) {
                // Lists are filtered to what the caller may read.
                ("namespaces" | "imagestreams", Verb::List) => Ok(()),
                ("namespaces", Verb::Create) if !caller.signed_in() => Err(unauthorized()),
                // A limited token stays inside its limits: a new namespace would make its owner
                // admin of something the token was never meant to reach (review M8).
                ("namespaces", Verb::Create) if caller.limited_token() => {
                    Err(forbidden(" at the cluster scope: the token is limited to namespaces or a role; sign in instead".into()))
                }
                ("namespaces", Verb::Create) if !self.restrict_namespace_creation || caller.server_admin() => Ok(()),
                _ if caller.server_admin() => Ok(()),
                _ if !caller.signed_in() => Err(unauthorized()),
                _ => Err(forbidden(" at the cluster scope".into())),
            };
        };
        let needed = required_role(verb, resource);
        let role = caller.role_in(ns);
        // Readers without a role (a public namespace, --anonymous-read) see streams, tags and
        // images; everything else of the namespace needs a role there (review L3).
        let reads = needed == Role::Viewer && matches!(verb, Verb::Get | Verb::List) && readable_without_role(resource);
        if reads && caller.can_read(ns) {
            return Ok(());
        }
        if role.is_some_and(|r| r >= needed) {
            return Ok(());
        }
        if !caller.signed_in() {
            return Err(unauthorized());
        }
        if !caller.can_read(ns) {
            return Err(ApiError::not_found(RES_NAMESPACES, ns));
        }
        Err(forbidden(format!(" in the namespace \"{ns}\"")))
    }
}

/// The 401 of a request without (valid) credentials where some are needed.
pub fn unauthorized() -> ApiError {
    ApiError::unauthorized("Unauthorized: sign in, or send an API token as \"Authorization: Bearer <token>\"")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Authorizer;
    use crate::service::access::caller::TokenScope;

    fn member(roles: &[(&str, Role)]) -> Caller {
        Caller {
            user: Some("bob".into()),
            user_id: Some(2),
            roles: roles.iter().map(|(n, r)| (n.to_string(), *r)).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn roles_and_token_limits() {
        let a = RoleAuthorizer { restrict_namespace_creation: false };
        let bob = member(&[("team", Role::Editor)]);
        assert!(a.check(&bob, Verb::Update, "imagestreams", Some("team")).is_ok());
        assert_eq!(a.check(&bob, Verb::Delete, "imagestreams", Some("team")).unwrap_err().code(), 403);
        assert_eq!(a.check(&bob, Verb::Get, "imagestreams", Some("other")).unwrap_err().code(), 404);
        let anon = Caller::default();
        assert_eq!(a.check(&anon, Verb::Get, "imagestreams", Some("team")).unwrap_err().code(), 401);
        let public = Caller { public: ["team".to_string()].into(), ..Default::default() };
        assert!(a.check(&public, Verb::Get, "imagestreams", Some("team")).is_ok());
        assert_eq!(a.check(&public, Verb::Create, "imagestreams", Some("team")).unwrap_err().code(), 401);
        let limited = Caller {
            token: Some(TokenScope { id: "t".into(), namespaces: None, max_role: Some(Role::Viewer) }),
            ..member(&[("team", Role::Admin)])
        };
        assert_eq!(a.check(&limited, Verb::Create, "imagestreamtags", Some("team")).unwrap_err().code(), 403);
        let elsewhere = Caller {
            token: Some(TokenScope { id: "t".into(), namespaces: Some(["x".to_string()].into()), max_role: None }),
            ..member(&[("team", Role::Admin)])
        };
        assert_eq!(a.check(&elsewhere, Verb::Get, "imagestreams", Some("team")).unwrap_err().code(), 404);
        let msg = a.check(&bob, Verb::Delete, "imagestreams", Some("team")).unwrap_err().message().to_string();
        assert_eq!(
            msg,
            "imagestreams.image.openshift.io is forbidden: User \"bob\" cannot delete resource \"imagestreams\" in API group \"image.openshift.io\" in the namespace \"team\""
        );
        assert!(a.check(&Caller { open: true, ..Default::default() }, Verb::Delete, "namespaces", Some("x")).is_ok());
    }

    #[test]
    fn limited_tokens_and_public_readers_stay_within_their_view() {
        let a = RoleAuthorizer { restrict_namespace_creation: false };
        let capped = Caller {
            token: Some(TokenScope { id: "t".into(), namespaces: None, max_role: Some(Role::Viewer) }),
            ..member(&[("team", Role::Admin)])
        };
        let scoped = Caller {
            token: Some(TokenScope { id: "t".into(), namespaces: Some(["team".to_string()].into()), max_role: None }),
            ..member(&[("team", Role::Admin)])
        };
        for limited in [&capped, &scoped] {
            let err = a.check(limited, Verb::Create, "namespaces", None).unwrap_err();
            assert_eq!(err.code(), 403, "{}", err.message());
            assert!(err.message().contains("the token is limited"), "{}", err.message());
        }
        assert!(a.check(&member(&[]), Verb::Create, "namespaces", None).is_ok(), "a session may create namespaces");
        let public = Caller { public: ["team".to_string()].into(), ..Default::default() };
        let anonymous_read = Caller { anonymous_read: true, ..Default::default() };
        let outsider = Caller { public: ["team".to_string()].into(), ..member(&[]) };
        for reader in [&public, &anonymous_read] {
            assert!(a.check(reader, Verb::Get, "imagestreamtags", Some("team")).is_ok());
            for res in ["members", "visibility", "webhooks", "secrets", "audit"] {
                assert_eq!(a.check(reader, Verb::List, res, Some("team")).unwrap_err().code(), 401, "{res}");
            }
        }
        assert_eq!(a.check(&outsider, Verb::List, "members", Some("team")).unwrap_err().code(), 403, "readable, so not hidden");
    }
}
