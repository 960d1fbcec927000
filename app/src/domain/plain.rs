//! Plain language first (issue 17 point 7): what the web pages say when something fails or is
//! counted. A message leads with a sentence a person understands ("A stream named web already
//! exists in shop.") and keeps the upstream wording after it in parentheses, since that is what
//! people search for; counts agree in number ("1 stream", "2 streams"); an import failure's
//! reason gets words ("Not found", "Registry unreachable").
//!
//! Only the web pages use this. The API keeps upstream's `Status` messages unchanged (clients
//! and `oc`-compatible output read them), so this module never changes what the HTTP edge
//! answers.
//!
//! Must not: know about Leptos or markup, or drop the upstream wording (it always follows).

use crate::model::Status;

/// `1 stream`, `2 streams`, `0 streams`: the noun in the number the count calls for (`noun`
/// is singular; the plural adds `s`, or pass both with [`count_of`]).
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// [`count`] with an irregular plural (`1 image`, `2 images` works with `count`; `1 alias`,
/// `2 aliases` does not).
pub fn count_of(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {one}") } else { format!("{n} {many}") }
}

/// What a stream or namespace name must look like, as a person would say it (the upstream rule
/// follows it where it is shown).
pub const NAMESPACE_NAME_WORDS: &str = "Use lowercase letters, digits and '-', starting and ending with a letter or digit.";
/// The stream name rule in words.
pub const STREAM_NAME_WORDS: &str =
    "Use lowercase letters and digits, with single '.', '_' or '-' between them, starting and ending with a letter or digit.";

/// A field rule's upstream wording led by a sentence in words, when there is one for it.
pub fn rule_words(field: &str, upstream: &str) -> String {
    match human_rule(field, upstream) {
        Some(words) => format!("{words} ({upstream})"),
        None => upstream.to_string(),
    }
}

fn human_rule(field: &str, upstream: &str) -> Option<&'static str> {
    if upstream.contains("RFC 1123 label") {
        return Some(NAMESPACE_NAME_WORDS);
    }
    if upstream.contains("must match") && (field.ends_with("name") || field.is_empty()) {
        return Some(STREAM_NAME_WORDS);
    }
    if upstream.contains("may not form a cycle") {
        return Some("These tags would track each other in a circle, so none of them would ever have an image.");
    }
    None
}

/// The object a `Status` is about, in words (`stream`, `namespace` …), from its `details.kind`
/// (a plural resource name for most errors, the kind for `Invalid`).
fn thing(kind: &str) -> &'static str {
    match kind {
        "imagestreams" | "ImageStream" => "stream",
        "imagestreamtags" | "ImageStreamTag" => "tag",
        "imagestreamimages" | "imagestreamimage" | "ImageStreamImage" | "images" | "Image" => "image",
        "namespaces" | "Namespace" => "namespace",
        "webhooks" | "Webhook" => "webhook",
        "users" | "User" => "user",
        "tokens" => "token",
        _ => "object",
    }
}

/// The human sentence for an error the server answered, where there is one: `namespace` is
/// where the action was (empty when none). `None`: the upstream message is all there is.
pub fn human_lead(status: &Status, namespace: &str) -> Option<String> {
    let details = status.details.as_ref();
    let name = details.map(|d| d.name.as_str()).unwrap_or_default();
    let what = thing(details.map(|d| d.kind.as_str()).unwrap_or_default());
    let in_ns = if namespace.is_empty() || what == "namespace" { String::new() } else { format!(" in {namespace}") };
    match status.reason.as_str() {
        "AlreadyExists" if !name.is_empty() => Some(match what {
            "tag" => format!("The tag {name} already exists{in_ns}."),
            "object" => format!("{name} already exists{in_ns}."),
            w => format!("A {w} named {name} already exists{in_ns}."),
        }),
        "NotFound" if !name.is_empty() => Some(match what {
            "tag" => format!("There is no tag {name}{in_ns}."),
            "image" => format!("There is no image {name}{in_ns}."),
            "object" => format!("Nothing named {name} was found{in_ns}."),
            w => format!("There is no {w} named {name}{in_ns}."),
        }),
        "Forbidden" if status.message.contains("not allowed by whitelist") || status.message.contains("is forbidden: port") => {
            Some("This server is not allowed to connect there.".into())
        }
        "Forbidden" if status.message.contains("non-public address") => Some("This server does not connect to private addresses.".into()),
        "Forbidden" => Some(if namespace.is_empty() {
            "You are not allowed to do this.".into()
        } else {
            format!("You are not allowed to do this in {namespace}.")
        }),
        "Unauthorized" => Some("Sign in to do this.".into()),
        "Conflict" if status.message.contains("has been modified") => Some("Someone else changed this at the same time; try again.".into()),
        "Invalid" => {
            let cause = details.and_then(|d| d.causes.first())?;
            human_rule(&cause.field, &cause.message).map(str::to_string)
        }
        _ => None,
    }
}

/// The message a page shows for a failed action: the human sentence, then the upstream wording
/// in parentheses; the upstream wording alone when there is no sentence for it.
pub fn page_message(status: &Status, namespace: &str) -> String {
    match human_lead(status, namespace) {
        Some(lead) if !status.message.is_empty() => format!("{lead} ({})", status.message),
        Some(lead) => lead,
        None => status.message.clone(),
    }
}

/// An import condition's reason in words (the stored reason stays upstream's).
pub fn import_reason_words(reason: &str, message: &str) -> &'static str {
    match reason {
        "NotFound" => "Not found",
        "Unauthorized" => "Not authorized",
        "Forbidden" => "Not allowed",
        "BadRequest" => "Refused",
        "TooManyRequests" => "Rate limited",
        "Invalid" => "Invalid source",
        _ if message.contains("could not reach") || message.contains("could not be reached") => "Registry unreachable",
        _ if message.contains("did not answer") => "Registry timed out",
        _ => "Import error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ApiError, FieldError, RES_IMAGESTREAMS, RES_IMAGESTREAMTAGS, RES_NAMESPACES};

    #[test]
    fn counts_agree_in_number() {
        assert_eq!(count(1u32, "stream"), "1 stream");
        assert_eq!(count(0u32, "stream"), "0 streams");
        assert_eq!(count(12u64, "tag"), "12 tags");
        assert_eq!(count_of(1u32, "alias", "aliases"), "1 alias");
        assert_eq!(count_of(3u32, "alias", "aliases"), "3 aliases");
    }

    #[test]
    fn messages_lead_with_a_sentence_and_keep_the_upstream_wording() {
        let exists = ApiError::already_exists(RES_IMAGESTREAMS, "web");
        assert_eq!(
            page_message(&exists.status, "shop"),
            "A stream named web already exists in shop. (imagestreams.image.openshift.io \"web\" already exists)"
        );
        let ns = ApiError::already_exists(RES_NAMESPACES, "shop");
        assert_eq!(page_message(&ns.status, "shop"), "A namespace named shop already exists. (namespaces \"shop\" already exists)");
        let missing = ApiError::not_found(RES_IMAGESTREAMS, "nosuch");
        assert_eq!(
            page_message(&missing.status, "demo"),
            "There is no stream named nosuch in demo. (imagestreams.image.openshift.io \"nosuch\" not found)"
        );
        let tag = ApiError::not_found(RES_IMAGESTREAMTAGS, "app:x");
        assert!(page_message(&tag.status, "demo").starts_with("There is no tag app:x in demo. ("));
        let bad = ApiError::bad_request("something upstream said");
        assert_eq!(page_message(&bad.status, "demo"), "something upstream said", "no sentence: upstream's alone");
    }

    #[test]
    fn name_rules_and_alias_cycles_in_words() {
        let e = ApiError::invalid(RES_NAMESPACES, "Shop", &crate::domain::names::validate_namespace_name("Shop", "metadata.name"));
        let m = page_message(&e.status, "");
        assert!(m.starts_with("Use lowercase letters, digits and '-'"), "{m}");
        assert!(m.contains("RFC 1123"), "the upstream rule follows: {m}");
        let cycle = FieldError::invalid("spec.tags[a].from.name", "app:b", "tracking tags may not form a cycle: a -> b -> a");
        let e = ApiError::invalid(RES_IMAGESTREAMS, "app", &[cycle]);
        assert!(page_message(&e.status, "demo").starts_with("These tags would track each other in a circle"));
        assert_eq!(rule_words("metadata.name", "must match \"x\""), format!("{STREAM_NAME_WORDS} (must match \"x\")"));
        assert_eq!(rule_words("spec.url", "must be https"), "must be https");
    }

    #[test]
    fn refusals_say_who_may_not_do_what() {
        let f = ApiError::forbidden("imagestreams.image.openshift.io is forbidden: User \"bob\" cannot create");
        assert!(page_message(&f.status, "shop").starts_with("You are not allowed to do this in shop. (imagestreams"));
        let guard = ApiError::forbidden(
            "importing images from registry \"evil.io:443\" is forbidden: registry \"evil.io:443\" not allowed by whitelist: \"quay.io:443\"",
        );
        assert!(page_message(&guard.status, "shop").starts_with("This server is not allowed to connect there."));
    }

    #[test]
    fn import_reasons_in_words() {
        assert_eq!(import_reason_words("NotFound", ""), "Not found");
        assert_eq!(import_reason_words("InternalError", "could not reach registry-1.docker.io: name not found"), "Registry unreachable");
        assert_eq!(import_reason_words("InternalError", "docker.io/x: the registry did not answer within 5s"), "Registry timed out");
        assert_eq!(import_reason_words("InternalError", "boom"), "Import error");
    }
}
