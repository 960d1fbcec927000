//! Kubernetes API discovery, so `kubectl` and the dynamic clients find the `image.openshift.io`
//! group here as they do on OpenShift: `/version`, `/api` (`APIVersions`), `/api/v1` (of the
//! core group, namespaces), `/apis`
//! (`APIGroupList`), `/apis/image.openshift.io` (`APIGroup`) and `/apis/image.openshift.io/v1`
//! (`APIResourceList`: each resource with its kind, scope, verbs and short names, after
//! OpenShift's own discovery document). Any other path under `/api/` or `/apis/` that no route
//! serves is a `Status` 404, never the UI's HTML.
//!
//! Must not: list a resource or verb the server does not serve (clients believe discovery).

use super::{ApiResult, respond};
use app::model::ApiError;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

/// The API group and version of image streams.
pub const GROUP: &str = "image.openshift.io";
pub const VERSION: &str = "v1";

/// One resource of the group: `(name, kind, namespaced, verbs, short names)`.
type ResourceRow = (&'static str, &'static str, bool, &'static [&'static str], &'static [&'static str]);

/// What this server serves of `image.openshift.io/v1`, with OpenShift's names, kinds, scopes and
/// short names; the verbs are the ones our routes answer.
const RESOURCES: &[ResourceRow] = &[
    ("images", "Image", false, &["get", "list"], &[]),
    ("imagestreamimages", "ImageStreamImage", true, &["get"], &["isimage"]),
    ("imagestreamimports", "ImageStreamImport", true, &["create"], &[]),
    ("imagestreammappings", "ImageStreamMapping", true, &["create"], &[]),
    ("imagestreams", "ImageStream", true, &["create", "delete", "get", "list", "patch", "update", "watch"], &["is"]),
    ("imagestreamtags", "ImageStreamTag", true, &["create", "delete", "get", "list", "patch", "update"], &["istag"]),
];

/// The `APIResourceList` of `image.openshift.io/v1`.
pub fn resource_list() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .map(|(name, kind, namespaced, verbs, short)| {
            let singular = kind.to_ascii_lowercase();
            let mut r = json!({
                "name": name,
                "singularName": singular,
                "namespaced": namespaced,
                "kind": kind,
                "verbs": verbs,
            });
            if !short.is_empty() {
                r["shortNames"] = json!(short);
            }
            if *name == "imagestreams" {
                r["categories"] = json!(["all"]);
            }
            r
        })
        .collect();
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"), "resources": resources})
}

fn group() -> Value {
    let version = json!({"groupVersion": format!("{GROUP}/{VERSION}"), "version": VERSION});
    json!({"name": GROUP, "versions": [version.clone()], "preferredVersion": version})
}

/// `GET /version`: the Kubernetes version document (kubectl prints it as the server version).
pub async fn version(headers: HeaderMap) -> ApiResult {
    let v = json!({
        "major": "1",
        "minor": "32",
        "gitVersion": concat!("v1.32.0+imagestreams-", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    });
    respond(&headers, StatusCode::OK, &v)
}

/// `GET /api`: the core group's versions.
pub async fn core_versions(headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}))
}

/// `GET /api/v1`: of the core group, this server serves namespaces (`ns`).
pub async fn core_resources(headers: HeaderMap) -> ApiResult {
    let namespaces = json!({
        "name": "namespaces",
        "singularName": "namespace",
        "namespaced": false,
        "kind": "Namespace",
        "verbs": ["create", "delete", "get", "list"],
        "shortNames": ["ns"],
    });
    respond(
        &headers,
        StatusCode::OK,
        &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1", "resources": [namespaces]}),
    )
}

/// `GET /apis`: the groups.
pub async fn groups(headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group()]}))
}

/// `GET /apis/image.openshift.io`: the group.
pub async fn image_group(headers: HeaderMap) -> ApiResult {
    let mut g = group();
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    respond(&headers, StatusCode::OK, &g)
}

/// `GET /apis/image.openshift.io/v1`: its resources.
pub async fn image_resources(headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &resource_list())
}

/// The OpenAPI v3 path of our group's document.
const OPENAPI_GROUP_PATH: &str = "/openapi/v3/apis/image.openshift.io/v1";

/// `GET /openapi/v3`: where each group version's OpenAPI document is (kubectl reads it before
/// `apply` and `edit`, to validate what it sends).
pub async fn openapi_index(headers: HeaderMap) -> ApiResult {
    let index = json!({"paths": {"apis/image.openshift.io/v1": {"serverRelativeURL": OPENAPI_GROUP_PATH}}});
    respond(&headers, StatusCode::OK, &index)
}

/// `GET /openapi/v3/apis/image.openshift.io/v1`: an OpenAPI 3.0 document naming each kind of the
/// group (`x-kubernetes-group-version-kind`, as upstream's schemas do) as an object whose fields
/// the server validates itself (`x-kubernetes-preserve-unknown-fields`): the server's own 422s
/// are the validation, with their field paths, rather than a second copy of the rules here.
pub async fn openapi_group(headers: HeaderMap) -> ApiResult {
    let mut schemas = serde_json::Map::new();
    let mut kinds: Vec<&str> = RESOURCES.iter().map(|r| r.1).collect();
    kinds.extend(["ImageStreamList", "ImageStreamTagList", "ImageList"]);
    for kind in kinds {
        schemas.insert(
            format!("com.github.openshift.api.image.v1.{kind}"),
            json!({
                "type": "object",
                "x-kubernetes-group-version-kind": [{"group": GROUP, "kind": kind, "version": VERSION}],
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                },
            }),
        );
    }
    // The PATCH operations, with the query parameters they honour: kubectl looks for
    // `fieldValidation` here to know it may leave validation to the server.
    let mut paths = serde_json::Map::new();
    for (resource, kind) in [("imagestreams", "ImageStream"), ("imagestreamtags", "ImageStreamTag")] {
        paths.insert(
            format!("/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{resource}/{{name}}"),
            json!({"patch": {
                "operationId": format!("patchImageOpenshiftIoV1Namespaced{kind}"),
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": {"group": GROUP, "kind": kind, "version": VERSION},
                "parameters": [{
                    "name": "fieldValidation",
                    "in": "query",
                    "description": "Ignore, Warn (treated as Ignore) or Strict (unknown fields are a 400).",
                    "schema": {"type": "string", "uniqueItems": true},
                }],
                "responses": {"200": {"description": "OK"}},
            }}),
        );
    }
    let doc = json!({
        "openapi": "3.0.0",
        "info": {"title": "imagestreams", "version": VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    });
    respond(&headers, StatusCode::OK, &doc)
}

/// Any path under `/api/` or `/apis/` that no route serves: a `Status` 404 as the Kubernetes API
/// server answers it, never the UI's HTML.
pub async fn not_found(uri: Uri) -> super::HttpError {
    let mut e = ApiError::bad_request(format!("the server could not find the requested resource ({})", uri.path()));
    e.status.code = 404;
    e.status.reason = "NotFound".into();
    super::HttpError(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_list_names_kinds_scopes_and_short_names() {
        let list = resource_list();
        let is = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "imagestreams").unwrap();
        assert_eq!(is["kind"], "ImageStream");
        assert_eq!(is["shortNames"], json!(["is"]));
        assert_eq!(is["namespaced"], true);
        let images = list["resources"].as_array().unwrap().iter().find(|r| r["name"] == "images").unwrap();
        assert_eq!(images["namespaced"], false);
    }
}
