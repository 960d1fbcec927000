//! Deletes with `DeleteOptions`: the preconditions a client may attach to a DELETE (`uid`,
//! `resourceVersion`), the options this server accepts without acting on them
//! (`propagationPolicy`, `gracePeriodSeconds`, `orphanDependents`: nothing here has dependents
//! or a grace period) and upstream's wording when a precondition does not hold.
//!
//! Three wordings exist upstream, and each resource answers with its own:
//! - the generic registry (`rest.BeforeDelete`): image streams, secrets, webhooks —
//!   `Operation cannot be fulfilled on ImageStream.image.openshift.io "x": the UID in the
//!   precondition (a) does not match the UID in record (b). The object might have been deleted
//!   and then recreated`;
//! - namespaces (`pkg/registry/core/namespace/storage`): `Precondition failed: UID in
//!   precondition: a, UID in object meta: b`;
//! - image stream tags (openshift-apiserver `imagestreamtag/rest.go`): `the UID precondition was
//!   not met`.
//!
//! Must not: look anything up (the service checks inside the delete's transaction).

use crate::model::{ApiError, FieldError, Resource};
use serde::{Deserialize, Serialize};

/// `DeleteOptions.meta.k8s.io`, as errors about the options themselves name it.
pub const RES_DELETE_OPTIONS: Resource = Resource { plural: "deleteoptions", group: "meta.k8s.io", kind: "DeleteOptions" };

/// The body of a DELETE (`meta/v1 DeleteOptions`). Every field is optional; an empty body is
/// the default.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Preconditions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub propagation_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphan_dependents: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dry_run: Vec<String>,
}

/// What must still be true of the stored object for the delete to go ahead.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
}

const PROPAGATION_POLICIES: [&str; 3] = ["Foreground", "Background", "Orphan"];

impl DeleteOptions {
    /// Upstream's `ValidateDeleteOptions` (the parts that apply here), then the preconditions.
    /// A `dryRun` in the body is refused like one in the query: this server does not dry-run
    /// deletes, and deleting for real would betray the client.
    pub fn into_preconditions(self) -> Result<Preconditions, ApiError> {
        let mut errs = vec![];
        if let Some(p) = &self.propagation_policy {
            if self.orphan_dependents.is_some() {
                errs.push(FieldError::invalid("propagationPolicy", p, "orphanDependents and deletionPropagation cannot be both set"));
            }
            if !PROPAGATION_POLICIES.contains(&p.as_str()) {
                errs.push(FieldError::not_supported(
                    "propagationPolicy",
                    p,
                    "supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
                ));
            }
        }
        for (i, v) in self.dry_run.iter().enumerate() {
            if v != "All" {
                errs.push(FieldError::not_supported(format!("dryRun[{i}]"), v, "supported values: \"All\""));
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::invalid(RES_DELETE_OPTIONS, "", &errs));
        }
        if !self.dry_run.is_empty() {
            return Err(ApiError::bad_request(
                "dryRun is not supported by this server: nothing was changed; send the request without dryRun",
            ));
        }
        Ok(self.preconditions.unwrap_or_default())
    }
}

/// A sent precondition value: absent and empty both mean "no precondition" (a client that
/// serialises an unset field as `""` asks for nothing).
fn wanted(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl Preconditions {
    /// Whether the preconditions ask for anything.
    pub fn is_empty(&self) -> bool {
        wanted(&self.uid).is_none() && wanted(&self.resource_version).is_none()
    }

    /// The generic registry's check (`rest.BeforeDelete`): `res.kind` names the resource, as
    /// upstream's conflict does (`ImageStream.image.openshift.io`, `Secret`).
    pub fn check(&self, res: Resource, name: &str, uid: &str, resource_version: &str) -> Result<(), ApiError> {
        let by_kind = Resource { plural: res.kind, group: res.group, kind: res.kind };
        if let Some(want) = wanted(&self.uid)
            && want != uid
        {
            return Err(ApiError::conflict(
                by_kind,
                name,
                &format!(
                    "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
                ),
            ));
        }
        if let Some(want) = wanted(&self.resource_version)
            && want != resource_version
        {
            return Err(ApiError::conflict(
                by_kind,
                name,
                &format!(
                    "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({resource_version}). The object might have been modified"
                ),
            ));
        }
        Ok(())
    }

    /// The namespace registry's check: same rule, its own words.
    pub fn check_namespace(&self, res: Resource, name: &str, uid: &str, resource_version: &str) -> Result<(), ApiError> {
        if let Some(want) = wanted(&self.uid)
            && want != uid
        {
            return Err(ApiError::conflict(
                res,
                name,
                &format!("Precondition failed: UID in precondition: {want}, UID in object meta: {uid}"),
            ));
        }
        if let Some(want) = wanted(&self.resource_version)
            && want != resource_version
        {
            return Err(ApiError::conflict(
                res,
                name,
                &format!(
                    "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {resource_version}"
                ),
            ));
        }
        Ok(())
    }

    /// An image stream tag's check against its stream. Upstream checks only the UID (its own
    /// words); a resourceVersion is checked too (the tag carries the stream's), so a client that
    /// asked "only if unchanged" never deletes a tag of a stream that changed since it looked.
    pub fn check_istag(&self, res: Resource, name: &str, uid: &str, resource_version: &str) -> Result<(), ApiError> {
        if wanted(&self.uid).is_some_and(|want| want != uid) {
            return Err(ApiError::conflict(res, name, "the UID precondition was not met"));
        }
        Preconditions { uid: None, resource_version: self.resource_version.clone() }.check(res, name, uid, resource_version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RES_IMAGESTREAMS, RES_IMAGESTREAMTAGS, RES_NAMESPACES};

    fn pre(uid: Option<&str>, rv: Option<&str>) -> Preconditions {
        Preconditions { uid: uid.map(str::to_string), resource_version: rv.map(str::to_string) }
    }

    #[test]
    fn generic_wording_names_the_kind() {
        let e = pre(Some("u1"), None).check(RES_IMAGESTREAMS, "app", "u2", "5").unwrap_err();
        assert_eq!(e.code(), 409);
        assert_eq!(e.reason(), "Conflict");
        assert_eq!(
            e.message(),
            "Operation cannot be fulfilled on ImageStream.image.openshift.io \"app\": the UID in the precondition (u1) does not match the UID in record (u2). The object might have been deleted and then recreated"
        );
        let e = pre(None, Some("4")).check(RES_IMAGESTREAMS, "app", "u2", "5").unwrap_err();
        assert_eq!(
            e.message(),
            "Operation cannot be fulfilled on ImageStream.image.openshift.io \"app\": the ResourceVersion in the precondition (4) does not match the ResourceVersion in record (5). The object might have been modified"
        );
        assert!(pre(Some("u2"), Some("5")).check(RES_IMAGESTREAMS, "app", "u2", "5").is_ok());
        assert!(pre(Some(""), Some("")).check(RES_IMAGESTREAMS, "app", "u2", "5").is_ok());
    }

    #[test]
    fn namespace_and_istag_wording() {
        let e = pre(Some("u1"), None).check_namespace(RES_NAMESPACES, "team", "u2", "3").unwrap_err();
        assert_eq!(
            e.message(),
            "Operation cannot be fulfilled on namespaces \"team\": Precondition failed: UID in precondition: u1, UID in object meta: u2"
        );
        let e = pre(None, Some("2")).check_namespace(RES_NAMESPACES, "team", "u2", "3").unwrap_err();
        assert_eq!(
            e.message(),
            "Operation cannot be fulfilled on namespaces \"team\": Precondition failed: ResourceVersion in precondition: 2, ResourceVersion in object meta: 3"
        );
        let e = pre(Some("u1"), None).check_istag(RES_IMAGESTREAMTAGS, "app:v1", "u2", "3").unwrap_err();
        assert_eq!(
            e.message(),
            "Operation cannot be fulfilled on imagestreamtags.image.openshift.io \"app:v1\": the UID precondition was not met"
        );
    }

    #[test]
    fn options_are_validated_and_dry_run_refused() {
        let ok = DeleteOptions { propagation_policy: Some("Background".into()), grace_period_seconds: Some(0), ..Default::default() };
        assert!(ok.into_preconditions().unwrap().is_empty());
        let bad = DeleteOptions { propagation_policy: Some("Later".into()), ..Default::default() };
        assert_eq!(
            bad.into_preconditions().unwrap_err().message(),
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Later\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        );
        let dry = DeleteOptions { dry_run: vec!["All".into()], ..Default::default() };
        assert_eq!(dry.into_preconditions().unwrap_err().code(), 400);
    }
}
