//! Names: namespaces, image streams, tags (spec §2.1–2.3, PRODUCT difference 1), and the
//! `<stream>:<tag>` / `<stream>@<id>` resource-name forms.
//!
//! Must not: check whether a named thing exists (that needs storage; the service does it).

use crate::model::{ApiError, FieldError};

/// Upstream's stream-name pattern, quoted in its message.
pub const STREAM_NAME_PATTERN: &str = "[a-z0-9]+(?:[._-][a-z0-9]+)*";
const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

/// `[a-z0-9]+(?:[._-][a-z0-9]+)*`: single separators only.
fn matches_stream_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut prev_sep = true; // the first byte may not be a separator
    for &c in b {
        let alnum = c.is_ascii_lowercase() || c.is_ascii_digit();
        let sep = matches!(c, b'.' | b'_' | b'-');
        if sep {
            if prev_sep {
                return false;
            }
            prev_sep = true;
        } else if alnum {
            prev_sep = false;
        } else {
            return false;
        }
    }
    !prev_sep
}

/// Path-segment rules shared by every object name: not `.`/`..`, no `/`, no `%`.
pub fn path_segment_errors(name: &str) -> Vec<String> {
    let mut errs = vec![];
    if name == "." || name == ".." {
        errs.push(format!("may not be '{name}'"));
        return errs;
    }
    for bad in ['/', '%'] {
        if name.contains(bad) {
            errs.push(format!("may not contain '{bad}'"));
        }
    }
    errs
}

/// Validates a namespace name (RFC 1123 label, at most 63 characters).
pub fn validate_namespace_name(ns: &str, field: &str) -> Vec<FieldError> {
    if ns.is_empty() {
        return vec![FieldError::required(field, "")];
    }
    let mut errs = vec![];
    if ns.len() > 63 {
        errs.push(FieldError::invalid(field, ns, "must be no more than 63 characters"));
    }
    let b = ns.as_bytes();
    let ok = b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-') && b[0] != b'-' && b[b.len() - 1] != b'-';
    if !ok {
        errs.push(FieldError::invalid(field, ns, DNS1123_LABEL_MSG));
    }
    errs
}

/// Validates a stream name within its namespace (spec §2.1), reporting on `metadata.name`.
pub fn validate_stream_name(namespace: &str, name: &str) -> Vec<FieldError> {
    if name.is_empty() {
        return vec![FieldError::required("metadata.name", "name or generateName is required")];
    }
    let mut errs: Vec<FieldError> = path_segment_errors(name).into_iter().map(|m| FieldError::invalid("metadata.name", name, m)).collect();
    if errs.is_empty() && !matches_stream_name(name) {
        errs.push(FieldError::invalid("metadata.name", name, format!("must match {STREAM_NAME_PATTERN:?}")));
    }
    if namespace.len() + 1 + name.len() > 255 {
        errs.push(FieldError::invalid("metadata.name", name, "'namespace/name' cannot be longer than 255 characters"));
    }
    if namespace.is_empty() {
        errs.push(FieldError::required("metadata.namespace", ""));
    } else {
        errs.extend(validate_namespace_name(namespace, "metadata.namespace"));
    }
    errs
}

/// `^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$` (PRODUCT difference 1: the server checks tags too).
pub fn is_valid_tag_name(tag: &str) -> bool {
    super::reference::is_valid_tag(tag)
}

/// `oc tag`'s message for a bad destination tag, also used by the server.
pub fn invalid_tag_message(tag: &str) -> String {
    format!(
        "invalid tag {tag:?} format, tags must start with an alphanumeric character followed by alphanumeric, '.' or '-' characters, and have a maximum of 128 characters"
    )
}

/// Splits an ImageStreamTag resource name `<stream>:<tag>` (spec §2.3); any other shape is 400
/// with upstream's one message (`nameAndTag` replaces the parser's own, the image form
/// `<stream>@<id>` included).
pub fn parse_istag_name(name: &str) -> Result<(String, String), ApiError> {
    if name.contains('@') {
        return Err(ApiError::bad_request("ImageStreamTags must be retrieved with <name>:<tag>"));
    }
    let parts: Vec<&str> = name.split(':').collect();
    match parts.as_slice() {
        [s, t] if !s.is_empty() && !t.is_empty() => Ok((s.to_string(), t.to_string())),
        _ => Err(ApiError::bad_request("ImageStreamTags must be retrieved with <name>:<tag>")),
    }
}

/// Splits an ImageStreamImage resource name `<stream>@<id>`; any other shape is 400.
pub fn parse_isimage_name(name: &str) -> Result<(String, String), ApiError> {
    let parts: Vec<&str> = name.split('@').collect();
    match parts.as_slice() {
        [s, i] if !s.is_empty() && !i.is_empty() => Ok((s.to_string(), i.to_string())),
        _ => Err(ApiError::bad_request("ImageStreamImages must be retrieved with <name>@<id>")),
    }
}

/// A spec-tag source inside a stream (`parseFromReference`): `<tag>` / `<stream>:<tag>` for
/// ImageStreamTag, `<id>` / `<stream>@<id>` for ImageStreamImage. Returns (stream, tag-or-id);
/// the stream is empty when the source is in the same stream.
pub fn parse_from_reference(from_name: &str, separator: char) -> Result<(String, String), String> {
    let other = if separator == ':' { '@' } else { ':' };
    let parts: Vec<&str> = from_name.split(separator).collect();
    let bad = || "must be of the form <tag>, <repo>:<tag>, <id>, or <repo>@<id>".to_string();
    if from_name.contains(other) && separator == ':' {
        return Err(bad());
    }
    match parts.as_slice() {
        [only] => Ok((String::new(), only.to_string())),
        [s, t] => Ok((s.to_string(), t.to_string())),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        for ok in ["a", "ruby", "my-app", "a.b_c-d", "0"] {
            assert!(validate_stream_name("ns", ok).is_empty(), "{ok}");
        }
        let msg = |n: &str| validate_stream_name("ns", n).iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ");
        assert_eq!(msg("Ruby"), "metadata.name: Invalid value: \"Ruby\": must match \"[a-z0-9]+(?:[._-][a-z0-9]+)*\"");
        assert_eq!(msg("a--b"), "metadata.name: Invalid value: \"a--b\": must match \"[a-z0-9]+(?:[._-][a-z0-9]+)*\"");
        assert_eq!(msg("a/b"), "metadata.name: Invalid value: \"a/b\": may not contain '/'");
        assert_eq!(msg("a%b"), "metadata.name: Invalid value: \"a%b\": may not contain '%'");
        assert_eq!(msg(".."), "metadata.name: Invalid value: \"..\": may not be '..'");
        assert_eq!(msg(""), "metadata.name: Required value: name or generateName is required");
        for bad in ["-a", "a-", "a.", "_a"] {
            assert!(!validate_stream_name("ns", bad).is_empty(), "{bad}");
        }
        let ns63 = "n".repeat(63);
        assert!(validate_stream_name(&ns63, &"a".repeat(191)).is_empty());
        assert_eq!(validate_stream_name(&ns63, &"a".repeat(192))[0].detail, "'namespace/name' cannot be longer than 255 characters");
    }

    #[test]
    fn namespace_names() {
        assert!(validate_namespace_name("team-a", "metadata.name").is_empty());
        for bad in ["Team", "-a", "a-", "a_b", "a.b"] {
            let e = validate_namespace_name(bad, "metadata.name");
            assert!(e[0].detail.starts_with("a lowercase RFC 1123 label must consist of"), "{bad}");
        }
        assert!(!validate_namespace_name(&"a".repeat(64), "metadata.name").is_empty());
    }

    #[test]
    fn tag_names() {
        assert!(is_valid_tag_name("v1.0-rc_1"));
        assert!(is_valid_tag_name("_x"));
        assert!(is_valid_tag_name(&"t".repeat(128)));
        for bad in ["", ".a", "-a", "a/b", "a:b", "ä", &"t".repeat(129)] {
            assert!(!is_valid_tag_name(bad), "{bad}");
        }
    }

    #[test]
    fn istag_and_isimage_names() {
        assert_eq!(parse_istag_name("is:t").unwrap(), ("is".into(), "t".into()));
        for bad in ["is", "is:", ":t", "is:a:b", "is@sha256:abc", "is@sha"] {
            assert_eq!(parse_istag_name(bad).unwrap_err().message(), "ImageStreamTags must be retrieved with <name>:<tag>");
        }
        assert_eq!(parse_isimage_name("is@abc").unwrap(), ("is".into(), "abc".into()));
        for bad in ["is", "is@", "@x", "a@b@c"] {
            assert_eq!(parse_isimage_name(bad).unwrap_err().code(), 400);
        }
    }

    #[test]
    fn from_references() {
        assert_eq!(parse_from_reference("v1", ':').unwrap(), ("".into(), "v1".into()));
        assert_eq!(parse_from_reference("app:v1", ':').unwrap(), ("app".into(), "v1".into()));
        assert_eq!(parse_from_reference("app@sha256:abc", '@').unwrap(), ("app".into(), "sha256:abc".into()));
        assert!(parse_from_reference("a:b:c", ':').is_err());
        assert!(parse_from_reference("a@b", ':').is_err());
    }
}
