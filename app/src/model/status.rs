//! The Kubernetes `Status` object: the one error envelope of every API answer, and the success
//! answer of deletes. `ApiError` wraps it with constructors that produce upstream's wording.
//!
//! Must not: word an error differently from upstream where upstream has a wording.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::fmt;

/// The most bytes of a value a message repeats: a field error names what was sent, but a 60 KB
/// name must not come back whole (several times) in the answer.
pub const MAX_ECHOED_VALUE: usize = 256;

/// `value` as an answer repeats it: whole up to `MAX_ECHOED_VALUE` bytes, else its beginning
/// (cut at a character boundary) and "…".
pub fn excerpt(value: &str) -> Cow<'_, str> {
    match echoed_len(value) {
        None => Cow::Borrowed(value),
        Some(cut) => Cow::Owned(format!("{}…", &value[..cut])),
    }
}

/// A field error's value: quoted as Go's `%q` would, cut as `excerpt` cuts, with its length.
fn quoted_excerpt(value: &str) -> String {
    match echoed_len(value) {
        None => format!("{value:?}"),
        Some(cut) => format!("{:?}… ({} bytes)", &value[..cut], value.len()),
    }
}

/// Where a value too long to repeat whole is cut; `None` when it is short enough.
fn echoed_len(value: &str) -> Option<usize> {
    if value.len() <= MAX_ECHOED_VALUE {
        return None;
    }
    (0..=MAX_ECHOED_VALUE).rev().find(|i| value.is_char_boundary(*i))
}

/// A `Status` object as Kubernetes sends it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub kind: String,
    pub api_version: String,
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<StatusDetails>,
    pub code: u16,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDetails {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<StatusCause>,
    /// Seconds after which the request may succeed if sent again (Kubernetes' `retryAfterSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u32>,
}

/// One field error inside an `Invalid` status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusCause {
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub field: String,
}

impl Status {
    /// The success answer of a delete.
    pub fn success(kind: &str, group: &str, name: &str) -> Self {
        Status {
            kind: "Status".into(),
            api_version: "v1".into(),
            metadata: Default::default(),
            status: "Success".into(),
            message: String::new(),
            reason: String::new(),
            details: Some(StatusDetails {
                name: name.into(),
                group: group.into(),
                kind: kind.into(),
                causes: vec![],
                retry_after_seconds: None,
            }),
            code: 200,
        }
    }
}

/// The kind of a field error, printed as upstream's `field.ErrorType` strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    NotSupported,
    Forbidden,
    NotFound,
    Duplicate,
    TooLong,
    /// Kubernetes' `field.TooMany`: a list longer than its bound.
    TooMany,
    InternalError,
}

impl FieldErrorKind {
    fn label(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::TooMany => "Too many",
            FieldErrorKind::InternalError => "Internal error",
        }
    }

    fn cause_reason(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::InternalError => "InternalError",
        }
    }
}

/// One violated rule on one field: `spec.tags[v1].from.kind: Required value: valid values are …`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// The field path, e.g. `spec.tags[v1].from.name`.
    pub field: String,
    pub kind: FieldErrorKind,
    /// The offending value as upstream prints it (already quoted for strings); `None` where
    /// upstream prints no value (Required, Forbidden, Not found print the value differently).
    pub value: Option<String>,
    /// The rule, in upstream's words.
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Required, value: None, detail: detail.into() }
    }
    /// An invalid string value: printed quoted.
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Invalid, value: Some(quoted_excerpt(value)), detail: detail.into() }
    }
    /// An invalid non-string value (bool, number): printed bare.
    pub fn invalid_raw(field: impl Into<String>, value: impl fmt::Display, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Invalid, value: Some(value.to_string()), detail: detail.into() }
    }
    pub fn not_supported(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::NotSupported, value: Some(quoted_excerpt(value)), detail: detail.into() }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Forbidden, value: None, detail: detail.into() }
    }
    pub fn not_found(field: impl Into<String>, value: &str) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::NotFound, value: Some(quoted_excerpt(value)), detail: String::new() }
    }
    /// `Too many: <actual>: must have at most <max> items`, as Kubernetes words it.
    pub fn too_many(field: impl Into<String>, actual: usize, max: usize) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::TooMany,
            value: Some(actual.to_string()),
            detail: format!("must have at most {max} items"),
        }
    }
    pub fn internal(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::InternalError, value: None, detail: detail.into() }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.kind.label())?;
        if let Some(v) = &self.value {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// An API error: a failed `Status` plus the HTTP code it travels with.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    /// Boxed: errors travel through every `Result` of the service, keep them one pointer wide.
    pub status: Box<Status>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.status.message)
    }
}

impl std::error::Error for ApiError {}

/// A resource as errors name it: `imagestreams` in group `image.openshift.io`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resource {
    pub plural: &'static str,
    pub group: &'static str,
    pub kind: &'static str,
}

impl Resource {
    /// `imagestreams.image.openshift.io`, or just `namespaces` for the core group.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() { self.plural.to_string() } else { format!("{}.{}", self.plural, self.group) }
    }
}

pub const IMAGE_GROUP: &str = "image.openshift.io";
pub const RES_IMAGESTREAMS: Resource = Resource { plural: "imagestreams", group: IMAGE_GROUP, kind: "ImageStream" };
pub const RES_IMAGESTREAMTAGS: Resource = Resource { plural: "imagestreamtags", group: IMAGE_GROUP, kind: "ImageStreamTag" };
pub const RES_IMAGESTREAMIMAGES: Resource = Resource { plural: "imagestreamimages", group: IMAGE_GROUP, kind: "ImageStreamImage" };
/// Singular form: upstream names it so in ImageStreamImage lookups (`imagestreamimage.image.openshift.io`).
pub const RES_IMAGESTREAMIMAGE_SINGULAR: Resource = Resource { plural: "imagestreamimage", group: IMAGE_GROUP, kind: "ImageStreamImage" };
pub const RES_IMAGES: Resource = Resource { plural: "images", group: IMAGE_GROUP, kind: "Image" };
pub const RES_IMAGESTREAMMAPPINGS: Resource = Resource { plural: "imagestreammappings", group: IMAGE_GROUP, kind: "ImageStreamMapping" };
pub const RES_NAMESPACES: Resource = Resource { plural: "namespaces", group: "", kind: "Namespace" };

impl ApiError {
    fn failure(code: u16, reason: &str, message: String, details: Option<StatusDetails>) -> Self {
        ApiError {
            status: Box::new(Status {
                kind: "Status".into(),
                api_version: "v1".into(),
                metadata: Default::default(),
                status: "Failure".into(),
                message,
                reason: reason.into(),
                details,
                code,
            }),
        }
    }

    fn details(res: Resource, name: &str) -> Option<StatusDetails> {
        Some(StatusDetails {
            name: excerpt(name).into_owned(),
            group: res.group.into(),
            kind: res.plural.into(),
            causes: vec![],
            retry_after_seconds: None,
        })
    }

    pub fn code(&self) -> u16 {
        self.status.code
    }
    pub fn reason(&self) -> &str {
        &self.status.reason
    }
    pub fn message(&self) -> &str {
        &self.status.message
    }

    /// 404 `<resource> "<name>" not found`.
    pub fn not_found(res: Resource, name: &str) -> Self {
        Self::failure(404, "NotFound", format!("{} \"{}\" not found", res.qualified(), excerpt(name)), Self::details(res, name))
    }
    /// 409 `<resource> "<name>" already exists`.
    pub fn already_exists(res: Resource, name: &str) -> Self {
        Self::failure(409, "AlreadyExists", format!("{} \"{}\" already exists", res.qualified(), excerpt(name)), Self::details(res, name))
    }
    /// 409 `Operation cannot be fulfilled on <resource> "<name>": <detail>`.
    pub fn conflict(res: Resource, name: &str, detail: &str) -> Self {
        Self::failure(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{}\": {}", res.qualified(), excerpt(name), detail),
            Self::details(res, name),
        )
    }
    /// 400 with a free message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::failure(400, "BadRequest", message.into(), None)
    }
    /// 403 with a free message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::failure(403, "Forbidden", message.into(), None)
    }
    /// 401: no (valid) credentials where some are needed.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::failure(401, "Unauthorized", message.into(), None)
    }
    /// 429: slow down (repeated failed sign-ins).
    pub fn too_many_requests(message: impl Into<String>) -> Self {
        Self::failure(429, "TooManyRequests", message.into(), None)
    }
    /// The same error with `details.retryAfterSeconds` (the HTTP answer carries it as the
    /// `Retry-After` header too, as the Kubernetes API server's 429s do).
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.status.details.get_or_insert_with(Default::default).retry_after_seconds = Some(seconds);
        self
    }
    /// 405 for a verb a resource does not support.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::failure(405, "MethodNotAllowed", message.into(), None)
    }
    /// 500: only for faults of the server itself (database gone), never for caller mistakes.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::failure(500, "InternalError", format!("Internal error occurred: {}", message.into()), None)
    }
    /// 415 / 406 style errors of content negotiation are reported as BadRequest upstream.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::failure(415, "UnsupportedMediaType", message.into(), None)
    }
    /// 422 `<Kind>.<group> "<name>" is invalid: <field errors joined by ", ">`.
    pub fn invalid(res: Resource, name: &str, errors: &[FieldError]) -> Self {
        let name = excerpt(name);
        let name = name.as_ref();
        let joined: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        let kind_qualified = if res.group.is_empty() { res.kind.to_string() } else { format!("{}.{}", res.kind, res.group) };
        let message = if joined.len() == 1 {
            format!("{kind_qualified} \"{name}\" is invalid: {}", joined[0])
        } else {
            format!("{kind_qualified} \"{name}\" is invalid: [{}]", joined.join(", "))
        };
        let causes = errors
            .iter()
            .map(|e| StatusCause {
                reason: e.kind.cause_reason().into(),
                message: {
                    let s = e.to_string();
                    s.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&s).to_string()
                },
                field: e.field.clone(),
            })
            .collect();
        Self::failure(
            422,
            "Invalid",
            message,
            Some(StatusDetails { name: name.into(), group: res.group.into(), kind: res.kind.into(), causes, retry_after_seconds: None }),
        )
    }

    /// Rebuilds an error from a `Status` a server sent (the CLI's side).
    pub fn from_status(status: Status) -> Self {
        ApiError { status: Box::new(status) }
    }
}

#[cfg(test)]
mod echo_tests {
    use super::*;

    #[test]
    fn long_values_come_back_cut_with_their_length() {
        let long = "a".repeat(60_000);
        let e = FieldError::invalid("metadata.name", &long, "must be no more than 253 characters");
        let status = ApiError::invalid(Resource { group: "image.openshift.io", kind: "ImageStream", plural: "imagestreams" }, &long, &[e]);
        let text = serde_json::to_string(&status.status).unwrap();
        assert!(text.len() < 2_000, "{} bytes", text.len());
        assert!(status.status.message.contains("… (60000 bytes)"), "{}", status.status.message);
        assert_eq!(excerpt("short"), "short");
        // Cut at a character boundary.
        let wide = "é".repeat(200);
        assert!(excerpt(&wide).ends_with("é…"));
    }
}
