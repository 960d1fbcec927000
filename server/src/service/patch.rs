//! `PATCH` of image streams and image stream tags, as the Kubernetes API server does it (what
//! `kubectl apply`, `edit`, `label` and `annotate` send): the patch is applied to the stored
//! object's JSON, and the result goes through the same update path as a PUT — same validation,
//! same events and webhooks. Three patch types, by `Content-Type`:
//!
//! - `application/json-patch+json`: RFC 6902 operations;
//! - `application/merge-patch+json`: RFC 7396 (objects merge, `null` deletes, lists replace);
//! - `application/strategic-merge-patch+json`: like a merge patch, but lists with a merge key
//!   merge by it, as upstream's struct tags say (`spec.tags` by `name`, `status.tags` by `tag`),
//!   with the `$patch: delete` / `$patch: replace` directives; other `$` directives are dropped.
//!
//! A patch that names no `metadata.resourceVersion` applies to whatever is stored: a stream's
//! patch is applied in the writing transaction to the stream it reads, so no other writer can
//! come between; an image stream tag's is applied again when another writer (the import
//! controller, say) changed the object between our read and our write (as the API server's
//! `GuaranteedUpdate` does). A user's command never fails for the server's own background
//! work. A patch that does name one gets the usual 409 when it is stale.
//!
//! Must not: decide what a valid object is (the update path does) or write anything itself.

use super::{Caller, Service};
use app::model::{ApiError, ImageStream, ImageStreamTag};
use serde_json::{Map, Value};

/// How often a patch is re-applied after losing a race with another writer.
const RETRIES_ON_CONFLICT: usize = 5;

/// The patch types we apply, from the request's `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    StrategicMerge,
}

impl PatchType {
    /// The patch type a content type names, or the 415 upstream answers.
    pub fn from_content_type(content_type: Option<&str>) -> Result<PatchType, ApiError> {
        let essence = content_type.unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/json-patch+json" => Ok(PatchType::Json),
            "application/merge-patch+json" => Ok(PatchType::Merge),
            "application/strategic-merge-patch+json" => Ok(PatchType::StrategicMerge),
            _ => Err(ApiError::unsupported_media(
                "the body of the request was in an unknown format - accepted media types include: \
                     application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
            )),
        }
    }
}

/// The merge keys of lists in our objects' strategic merge patches (upstream's
/// `patchMergeKey` struct tags), by the path of the list from the object's root.
fn merge_key(path: &[&str]) -> Option<&'static str> {
    match path {
        ["spec", "tags"] => Some("name"),
        ["status", "tags"] => Some("tag"),
        _ => None,
    }
}

/// How many operations a JSON patch may have (the Kubernetes API server's
/// `maxJSONPatchOperations`).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// How many bytes a JSON patch's `copy` operations may copy in all (the serialized size of the
/// values copied): the request body limit of `/apis/`, as the Kubernetes API server bounds
/// them (`AccumulatedCopySizeLimit`, its request body limit). Without a bound, a 2.5 KB patch of
/// 40 copies, each of the one before, doubled the object 40 times: the server grew to 20 GB.
pub const MAX_JSON_PATCH_COPIED_BYTES: usize = 2 * 1024 * 1024;

/// The serialized size of a JSON value, counted without keeping it.
fn serialized_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Applies `patch` (the request body) of type `kind` to `target`. A JSON patch is bounded:
/// at most [`MAX_JSON_PATCH_OPERATIONS`] operations, and its copies at most
/// [`MAX_JSON_PATCH_COPIED_BYTES`] in all (413 `RequestEntityTooLarge` beyond, as the API server
/// answers).
pub fn apply(kind: PatchType, target: &Value, patch: &[u8]) -> Result<Value, ApiError> {
    let invalid = |e: &dyn std::fmt::Display| ApiError::bad_request(format!("the patch is not valid: {e}"));
    let mut out = target.clone();
    match kind {
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_slice(patch).map_err(|e| invalid(&e))?;
            if ops.len() > MAX_JSON_PATCH_OPERATIONS {
                return Err(invalid(&format_args!(
                    "the JSON patch has {} operations, more than the {MAX_JSON_PATCH_OPERATIONS} allowed",
                    ops.len()
                )));
            }
            let failed = |e: json_patch::PatchError| {
                let mut err = ApiError::bad_request(format!("the JSON patch could not be applied: {e}"));
                err.status.code = 422;
                err.status.reason = "Invalid".into();
                err
            };
            let mut copied = 0usize;
            for op in ops.0 {
                if let json_patch::PatchOperation::Copy(copy) = &op {
                    copied = copied.saturating_add(out.pointer(copy.from.as_str()).map_or(0, serialized_len));
                    if copied > MAX_JSON_PATCH_COPIED_BYTES {
                        let mut err = ApiError::bad_request(format!(
                            "the JSON patch's copy operations copy more than {MAX_JSON_PATCH_COPIED_BYTES} bytes in all"
                        ));
                        err.status.code = 413;
                        err.status.reason = "RequestEntityTooLarge".into();
                        return Err(err);
                    }
                }
                json_patch::patch(&mut out, &[op]).map_err(failed)?;
            }
        }
        PatchType::Merge => {
            let p: Value = serde_json::from_slice(patch).map_err(|e| invalid(&e))?;
            json_patch::merge(&mut out, &p);
        }
        PatchType::StrategicMerge => {
            let p: Value = serde_json::from_slice(patch).map_err(|e| invalid(&e))?;
            strategic_merge(&mut out, &p, &mut vec![]);
        }
    }
    Ok(out)
}

/// A strategic merge of `patch` into `target` at `path` (see the module doc).
fn strategic_merge(target: &mut Value, patch: &Value, path: &mut Vec<String>) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if p.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut replaced = p.clone();
        replaced.remove("$patch");
        *target = Value::Object(replaced);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        let key = merge_key(&path.iter().map(String::as_str).collect::<Vec<_>>());
        match (key, v, t.get_mut(k)) {
            (Some(key), Value::Array(items), Some(Value::Array(existing))) => merge_list(existing, items, key, path),
            (_, Value::Object(_), Some(existing)) => strategic_merge(existing, v, path),
            (_, _, _) => {
                let mut fresh = Value::Null;
                strategic_merge(&mut fresh, v, path);
                if !v.is_object() {
                    fresh = strip_directives(v);
                }
                t.insert(k.clone(), fresh);
            }
        }
        path.pop();
    }
}

/// Merges a patch list into a stored list by `key`: elements with the same key merge, new ones
/// are appended, `{"$patch": "delete", key: …}` removes one.
fn merge_list(existing: &mut Vec<Value>, items: &[Value], key: &str, path: &mut Vec<String>) {
    for item in items {
        let id = item.get(key).cloned();
        let position = id.as_ref().and_then(|id| existing.iter().position(|e| e.get(key) == Some(id)));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                existing.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut existing[i], item, path),
            (None, false) => existing.push(strip_directives(item)),
        }
    }
}

/// A value without `$` directives (what a new element or a replaced value stores).
fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), strip_directives(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

/// Whether the patched object names a `metadata.resourceVersion` of its own (then a stale one is
/// the caller's 409, and no retry happens).
fn pins_resource_version(kind: PatchType, patch: &[u8]) -> bool {
    match kind {
        PatchType::Json => serde_json::from_slice::<Vec<Value>>(patch)
            .map(|ops| ops.iter().any(|op| op.get("path").and_then(Value::as_str) == Some("/metadata/resourceVersion")))
            .unwrap_or(false),
        _ => serde_json::from_slice::<Value>(patch)
            .map(|p| p.pointer("/metadata/resourceVersion").is_some_and(|v| !v.is_null()))
            .unwrap_or(false),
    }
}

/// The patched object as `T`; with `strict` (`?fieldValidation=Strict`), unknown fields the patch
/// brought in are a 400 in upstream's words, as they are on a PUT.
fn decode_patched<T: serde::de::DeserializeOwned>(v: Value, strict: bool) -> Result<T, ApiError> {
    let invalid = |e: serde_json::Error| ApiError::bad_request(format!("the patched object is not valid: {e}"));
    if !strict {
        return serde_json::from_value(v).map_err(invalid);
    }
    let (value, unknown) = crate::strict::unknown_fields(v).map_err(invalid)?;
    crate::strict::refuse_unknown(&unknown)?;
    Ok(value)
}

fn encode<T: serde::Serialize>(v: &T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|e| ApiError::internal(format!("encoding the stored object: {e}")))
}

/// One PATCH request: its type, body and strictness, applied to whatever is stored at each try.
struct Patch<'a> {
    kind: PatchType,
    body: &'a [u8],
    strict: bool,
    /// The patch names a resourceVersion: a conflict is the caller's, not retried.
    pinned: bool,
}

impl<'a> Patch<'a> {
    fn new(kind: PatchType, body: &'a [u8], strict: bool) -> Self {
        Patch { kind, body, strict, pinned: pins_resource_version(kind, body) }
    }

    /// The stored object with the patch applied.
    fn to<T: serde::Serialize + serde::de::DeserializeOwned>(&self, current: &T) -> Result<T, ApiError> {
        decode_patched(apply(self.kind, &encode(current)?, self.body)?, self.strict)
    }

    /// Whether an update's failure is a race with another writer to retry (counting the try).
    fn retries(&self, e: &ApiError, attempt: &mut usize) -> bool {
        let again = e.code() == 409 && !self.pinned && *attempt < RETRIES_ON_CONFLICT;
        *attempt += 1;
        again
    }
}

impl Service {
    /// `PATCH …/imagestreams/{name}`; `strict`: `?fieldValidation=Strict`.
    pub async fn patch_stream(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        kind: PatchType,
        patch: &[u8],
        strict: bool,
    ) -> Result<ImageStream, ApiError> {
        let patch = Patch::new(kind, patch, strict);
        self.allow(caller, super::Verb::Get, "imagestreams", Some(ns))?;
        self.allow(caller, super::Verb::Update, "imagestreams", Some(ns))?;
        // Applied to the stream as the writing transaction reads it: no race to lose (before,
        // five re-applications were not enough against a few pushers to the same stream).
        self.change_stream(caller, ns, name, |current| patch.to(current)).await
    }

    /// `PATCH …/imagestreamtags/{stream}:{tag}`; `strict`: `?fieldValidation=Strict`.
    pub async fn patch_istag(
        &self,
        caller: &Caller,
        ns: &str,
        name: &str,
        kind: PatchType,
        patch: &[u8],
        strict: bool,
    ) -> Result<ImageStreamTag, ApiError> {
        let patch = Patch::new(kind, patch, strict);
        let mut attempt = 0;
        loop {
            let current = self.get_istag(caller, ns, name).await?;
            let mut patched: ImageStreamTag = patch.to(&current)?;
            // `kubectl annotate istag` patches metadata.annotations only: the tag's own copy,
            // unchanged by the patch, counts as not provided (else the update refuses it as
            // differing from the object's annotations).
            if let (Some(p), Some(c)) = (patched.tag.as_mut(), current.tag.as_ref())
                && p.annotations == c.annotations
                && patched.metadata.annotations != current.metadata.annotations
            {
                p.annotations = None;
            }
            match self.set_istag(caller, ns, name, patched, false).await {
                Err(e) if patch.retries(&e, &mut attempt) => {}
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stream() -> Value {
        json!({"metadata": {"name": "app", "labels": {"a": "1"}}, "spec": {"tags": [
            {"name": "latest", "from": {"kind": "DockerImage", "name": "x:1"}},
            {"name": "stable", "from": {"kind": "DockerImage", "name": "x:0"}}
        ]}})
    }

    #[test]
    fn strategic_merge_merges_spec_tags_by_name() {
        let patch = json!({"metadata": {"labels": {"b": "2", "a": null}}, "spec": {"tags": [
            {"name": "latest", "from": {"name": "x:2"}},
            {"name": "new", "from": {"kind": "DockerImage", "name": "y:1"}},
            {"name": "stable", "$patch": "delete"}
        ]}});
        let out = apply(PatchType::StrategicMerge, &stream(), patch.to_string().as_bytes()).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        let tags = out["spec"]["tags"].as_array().unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[0], json!({"name": "latest", "from": {"kind": "DockerImage", "name": "x:2"}}));
        assert_eq!(tags[1]["name"], "new");
    }

    #[test]
    fn merge_patch_replaces_lists_and_json_patch_applies_operations() {
        let patch = json!({"spec": {"tags": [{"name": "only"}]}});
        let out = apply(PatchType::Merge, &stream(), patch.to_string().as_bytes()).unwrap();
        assert_eq!(out["spec"]["tags"], json!([{"name": "only"}]));
        let ops = json!([{"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}}, {"op": "remove", "path": "/spec/tags/1"}]);
        let out = apply(PatchType::Json, &stream(), ops.to_string().as_bytes()).unwrap();
        assert_eq!(out["metadata"]["annotations"], json!({"k": "v"}));
        assert_eq!(out["spec"]["tags"].as_array().unwrap().len(), 1);
        let bad = json!([{"op": "remove", "path": "/spec/nothing"}]);
        assert_eq!(apply(PatchType::Json, &stream(), bad.to_string().as_bytes()).unwrap_err().code(), 422);
        assert_eq!(apply(PatchType::Merge, &stream(), b"{not json").unwrap_err().code(), 400);
    }

    /// A helper's attack: 40 copies, each of the one before, doubled the object 40 times (the
    /// server grew to 20 GB). The copies are bounded in all, as the API server bounds them;
    /// copies within the bound apply.
    #[test]
    fn json_patch_copies_are_bounded_in_all() {
        let mut ops = vec![json!({"op": "add", "path": "/spec/x", "value": ["x".repeat(1000)]})];
        ops.extend((0..40).map(|i| json!({"op": "copy", "from": "/spec", "path": format!("/spec/x{i}")})));
        let err = apply(PatchType::Json, &stream(), json!(ops).to_string().as_bytes()).unwrap_err();
        assert_eq!((err.code(), err.status.reason.as_str()), (413, "RequestEntityTooLarge"), "{}", err.status.message);
        let few = json!([{"op": "copy", "from": "/spec/tags/0", "path": "/spec/tags/-"}]);
        let out = apply(PatchType::Json, &stream(), few.to_string().as_bytes()).unwrap();
        assert_eq!(out["spec"]["tags"].as_array().unwrap().len(), 3);
        let too_many = json!(
            (0..=MAX_JSON_PATCH_OPERATIONS).map(|_| json!({"op": "test", "path": "/kind", "value": "ImageStream"})).collect::<Vec<_>>()
        );
        assert_eq!(apply(PatchType::Json, &stream(), too_many.to_string().as_bytes()).unwrap_err().code(), 400);
    }

    #[test]
    fn patch_types_come_from_the_content_type() {
        assert_eq!(PatchType::from_content_type(Some("application/merge-patch+json")).unwrap(), PatchType::Merge);
        assert_eq!(PatchType::from_content_type(Some("application/json-patch+json; charset=utf-8")).unwrap(), PatchType::Json);
        assert_eq!(PatchType::from_content_type(Some("application/json")).unwrap_err().code(), 415);
        assert!(pins_resource_version(PatchType::Merge, br#"{"metadata":{"resourceVersion":"3"}}"#));
        assert!(!pins_resource_version(PatchType::Merge, br#"{"metadata":{"labels":{"a":"b"}}}"#));
    }
}
