//! Image-change triggers (spec §7.1) as webhook events: which tag changes of a stream write a
//! subscriber must hear about, which subscriptions match a tag, and the validation of a
//! subscription's spec (shared by the API and the form in the browser).
//!
//! "Image changed" is exactly the trigger rule: the pull spec a trigger resolves for the tag's
//! head (`resolved_pull_spec`, which honours the reference policy) differs before and after the
//! write. So a new digest at the head fires, a generation-only refresh does not, a reference-only
//! change fires under `Source` but not under `Local`, history below the head never fires, and a
//! tag without a head never fires. Both streams must carry `status.dockerImageRepository`.
//!
//! Must not: send or queue anything (the server's outbox and dispatcher do), or see Leptos.

use super::lookup::resolved_pull_spec;
use super::names::{is_valid_tag_name, path_segment_errors};
use crate::model::*;
use std::collections::BTreeSet;

/// One tag change a subscriber may be told about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagChange {
    /// `ImageChanged`, `TagDeleted` or `ImportFailed`.
    pub event: &'static str,
    pub tag: String,
    pub old_image: Option<String>,
    pub new_image: Option<String>,
    pub old_pull_spec: Option<String>,
    pub pull_spec: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// The `data` of the CloudEvent a change sends: the change itself, with the stream it happened
/// in and the stream's resourceVersion after it.
pub fn image_change_event(namespace: &str, stream: &str, resource_version: &str, c: &TagChange) -> ImageChangeEvent {
    ImageChangeEvent {
        namespace: namespace.to_string(),
        stream: stream.to_string(),
        tag: c.tag.clone(),
        old_image: c.old_image.clone(),
        new_image: c.new_image.clone(),
        old_pull_spec: c.old_pull_spec.clone(),
        pull_spec: c.pull_spec.clone(),
        resource_version: resource_version.to_string(),
        reason: c.reason.clone(),
        message: c.message.clone(),
    }
}

fn head_image(s: Option<&ImageStream>, tag: &str) -> Option<String> {
    s.and_then(|s| s.head(tag)).map(|h| h.image.clone()).filter(|i| !i.is_empty())
}

fn failed_import<'a>(s: &'a ImageStream, tag: &str) -> Option<&'a TagEventCondition> {
    s.status_tag(tag)?.conditions.iter().find(|c| c.kind == CONDITION_IMPORT_SUCCESS && c.status == "False")
}

fn tag_names(s: &ImageStream) -> BTreeSet<String> {
    s.spec.tags.iter().map(|t| t.name.clone()).chain(s.status.tags.iter().map(|t| t.tag.clone())).collect()
}

/// The changes between two stored states of a stream (`None`: not there before / deleted), in
/// tag order.
pub fn tag_changes(old: Option<&ImageStream>, new: Option<&ImageStream>) -> Vec<TagChange> {
    let old_tags = old.map(tag_names).unwrap_or_default();
    let new_tags = new.map(tag_names).unwrap_or_default();
    let mut out = vec![];
    for tag in old_tags.union(&new_tags) {
        let before = old.and_then(|s| resolved_pull_spec(s, tag));
        let after = new.and_then(|s| resolved_pull_spec(s, tag));
        let change = |event| TagChange {
            event,
            tag: tag.clone(),
            old_image: head_image(old, tag),
            new_image: head_image(new, tag),
            old_pull_spec: before.clone(),
            pull_spec: after.clone(),
            reason: None,
            message: None,
        };
        if !new_tags.contains(tag) {
            out.push(change(EVENT_TAG_DELETED));
            continue;
        }
        if after.is_some() && after != before {
            out.push(change(EVENT_IMAGE_CHANGED));
        }
        // A failure is news when it is new or says something else; an identical repeated
        // failure is not even written (spec §4.2), so it cannot fire twice.
        if let Some(c) = new.and_then(|s| failed_import(s, tag)) {
            let was = old.and_then(|s| failed_import(s, tag));
            if was.is_none_or(|w| (&w.reason, &w.message, w.generation) != (&c.reason, &c.message, c.generation)) {
                out.push(TagChange { reason: Some(c.reason.clone()), message: Some(c.message.clone()), ..change(EVENT_IMPORT_FAILED) });
            }
        }
    }
    out
}

/// Whether a subscription pattern (`stream:tag`, `stream:*`, `*:*`) covers `stream:tag`.
pub fn pattern_matches(pattern: &str, stream: &str, tag: &str) -> bool {
    match pattern.split_once(':') {
        Some((s, t)) => (s == "*" || s == stream) && (t == "*" || t == tag),
        None => false,
    }
}

/// The events a subscription receives (`spec.events`, defaulted).
pub fn subscribed_events(spec: &WebhookSpec) -> Vec<String> {
    if spec.events.is_empty() { vec![EVENT_IMAGE_CHANGED.to_string()] } else { spec.events.clone() }
}

/// Whether a subscription wants this change.
pub fn subscription_wants(spec: &WebhookSpec, stream: &str, change: &TagChange) -> bool {
    subscribed_events(spec).iter().any(|e| e == change.event) && spec.tags.iter().any(|p| pattern_matches(p, stream, &change.tag))
}

/// Splits `scheme://host[:port]/path` into (scheme, host, port); the error says what is wrong.
pub fn parse_target_url(url: &str) -> Result<(String, String, u16), String> {
    let (scheme, rest) = url.split_once("://").ok_or("must be an absolute http:// or https:// URL")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("scheme {scheme:?} is not supported; use http or https")),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("must not carry credentials (user@host); sign with the secret instead".into());
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces or control characters".into());
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, p) = v6.split_once(']').ok_or("has an unclosed [ in the host")?;
        (h.to_string(), p.strip_prefix(':').map(str::to_string))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p.to_string())),
            None => (authority.to_string(), None),
        }
    };
    if host.is_empty() {
        return Err("has no host".into());
    }
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| format!("port {p:?} is not a number from 1 to 65535"))?,
        None => default_port,
    };
    Ok((scheme, host.to_ascii_lowercase(), port))
}

/// Shortest secret accepted: HMAC keys shorter than this are guessable.
pub const MIN_SECRET_LEN: usize = 16;

/// Validates a subscription. `creating` requires the secret; on update it may be left out.
pub fn validate_webhook(w: &Webhook, creating: bool) -> Vec<FieldError> {
    let mut errs = vec![];
    let name = &w.metadata.name;
    if name.is_empty() {
        errs.push(FieldError::required("metadata.name", "name is required"));
    } else {
        for m in path_segment_errors(name) {
            errs.push(FieldError::invalid("metadata.name", name, m));
        }
        if name.len() > 63 || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            errs.push(FieldError::invalid("metadata.name", name, "must consist of lower case letters, digits, '-' or '.' (at most 63)"));
        }
    }
    if w.spec.url.is_empty() {
        errs.push(FieldError::required("spec.url", "the target URL is required"));
    } else if let Err(m) = parse_target_url(&w.spec.url) {
        errs.push(FieldError::invalid("spec.url", &w.spec.url, m));
    }
    match &w.spec.secret {
        None if creating => errs.push(FieldError::required("spec.secret", "a signing secret is required")),
        Some(s) if s.len() < MIN_SECRET_LEN => {
            errs.push(FieldError::invalid_raw("spec.secret", "<hidden>", format!("must be at least {MIN_SECRET_LEN} characters long")))
        }
        _ => {}
    }
    if w.spec.tags.is_empty() {
        errs.push(FieldError::required("spec.tags", "name at least one stream:tag, stream:* or *:*"));
    }
    for (i, p) in w.spec.tags.iter().enumerate() {
        let field = format!("spec.tags[{i}]");
        let Some((stream, tag)) = p.split_once(':') else {
            errs.push(FieldError::invalid(field, p, "must be stream:tag, stream:* or *:*"));
            continue;
        };
        if stream != "*" && (stream.is_empty() || !path_segment_errors(stream).is_empty() || stream.contains(['*', ':'])) {
            errs.push(FieldError::invalid(field, p, "the stream must be a stream name or *"));
        } else if stream == "*" && tag != "*" {
            errs.push(FieldError::invalid(field, p, "with any stream (*) the tag must be * too"));
        } else if tag != "*" && !is_valid_tag_name(tag) {
            errs.push(FieldError::invalid(field, p, "the tag must be a tag name or *"));
        }
    }
    for (i, e) in w.spec.events.iter().enumerate() {
        if !WEBHOOK_EVENTS.contains(&e.as_str()) {
            errs.push(FieldError::not_supported(
                format!("spec.events[{i}]"),
                e,
                format!("supported values: {}", WEBHOOK_EVENTS.map(|e| format!("{e:?}")).join(", ")),
            ));
        }
    }
    errs
}

/// What readers of a webhook see of its target URL (those who may change it see it all, since a
/// URL is often the receiver's credential): `scheme://host[:port]`, with `/…` standing for any
/// path or query left out.
pub fn url_for_readers(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "…".into() };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest[..end].rsplit_once('@').map_or(&rest[..end], |(_, host)| host);
    let hidden = if end < rest.len() && &rest[end..] != "/" { "/…" } else { "" };
    format!("{scheme}://{authority}{hidden}")
}

/// Where a delivery stands in the outbox (`WebhookDelivery.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryState {
    /// Queued: due now or at its next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every attempt failed; the queue moved on.
    Failed,
}

impl DeliveryState {
    /// The stored and shown name (`Pending`, `Delivered`, `Failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => DELIVERY_PENDING,
            DeliveryState::Delivered => DELIVERY_DELIVERED,
            DeliveryState::Failed => DELIVERY_FAILED,
        }
    }
}

/// The state of a delivery after its attempt number `attempt` (from 1): delivered when it
/// succeeded, failed for good when it was the last of `max_attempts`, else pending for a retry.
pub fn state_after_attempt(attempt: i64, max_attempts: i64, succeeded: bool) -> DeliveryState {
    match () {
        _ if succeeded => DeliveryState::Delivered,
        _ if attempt >= max_attempts => DeliveryState::Failed,
        _ => DeliveryState::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::add_tag_event;

    const A: &str = "sha256:aaaa000000000000000000000000000000000000000000000000000000000001";
    const B: &str = "sha256:bbbb000000000000000000000000000000000000000000000000000000000002";

    fn stream(policy: &str) -> ImageStream {
        let mut s = ImageStream::new("ns", "app");
        s.status.docker_image_repository = "ir.local:5000/ns/app".into();
        let mut t = TagReference { name: "prod".into(), ..Default::default() };
        t.reference_policy.kind = policy.into();
        s.spec.tags.push(t);
        s
    }

    fn push(s: &mut ImageStream, reference: &str, image: &str, generation: i64) {
        let ev = TagEvent { created: "t".into(), docker_image_reference: reference.into(), image: image.into(), generation };
        add_tag_event(s, "prod", ev);
    }

    fn events(old: &ImageStream, new: &ImageStream) -> Vec<&'static str> {
        tag_changes(Some(old), Some(new)).into_iter().map(|c| c.event).collect()
    }

    #[test]
    fn new_digest_at_head_fires() {
        let mut old = stream(REFERENCE_POLICY_SOURCE);
        push(&mut old, &format!("q.io/o/a@{A}"), A, 1);
        let mut new = old.clone();
        push(&mut new, &format!("q.io/o/a@{B}"), B, 2);
        let c = tag_changes(Some(&old), Some(&new));
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].event, c[0].old_image.as_deref(), c[0].new_image.as_deref()), (EVENT_IMAGE_CHANGED, Some(A), Some(B)));
        assert_eq!(c[0].pull_spec.as_deref(), Some(format!("q.io/o/a@{B}").as_str()));
    }

    #[test]
    fn first_head_fires_and_no_head_never_fires() {
        let old = stream(REFERENCE_POLICY_SOURCE);
        let mut new = old.clone();
        assert!(events(&old, &new).is_empty(), "a spec tag without a head");
        push(&mut new, &format!("q.io/o/a@{A}"), A, 1);
        assert_eq!(events(&old, &new), vec![EVENT_IMAGE_CHANGED]);
        assert_eq!(tag_changes(None, Some(&new)).len(), 1, "a new stream with a head");
    }

    #[test]
    fn generation_only_refresh_does_not_fire() {
        let mut old = stream(REFERENCE_POLICY_SOURCE);
        push(&mut old, &format!("q.io/o/a@{A}"), A, 1);
        let mut new = old.clone();
        push(&mut new, &format!("q.io/o/a@{A}"), A, 5);
        assert_ne!(old, new, "the generation moved");
        assert!(events(&old, &new).is_empty());
    }

    #[test]
    fn reference_only_change_fires_under_source_not_local() {
        for (policy, fires) in [(REFERENCE_POLICY_SOURCE, true), (REFERENCE_POLICY_LOCAL, false)] {
            let mut old = stream(policy);
            push(&mut old, &format!("q.io/o/a@{A}"), A, 1);
            let mut new = old.clone();
            push(&mut new, &format!("mirror.io/o/a@{A}"), A, 2);
            assert_eq!(!events(&old, &new).is_empty(), fires, "{policy}");
            if !fires {
                assert_eq!(resolved_pull_spec(&new, "prod").unwrap(), format!("ir.local:5000/ns/app@{A}"));
            }
        }
    }

    #[test]
    fn history_below_the_head_never_fires() {
        let mut old = stream(REFERENCE_POLICY_SOURCE);
        push(&mut old, &format!("q.io/o/a@{A}"), A, 1);
        push(&mut old, &format!("q.io/o/a@{B}"), B, 2);
        let mut new = old.clone();
        new.status.tags[0].items.as_mut().unwrap().pop();
        assert!(events(&old, &new).is_empty());
    }

    #[test]
    fn deletion_and_failures() {
        let mut old = stream(REFERENCE_POLICY_SOURCE);
        push(&mut old, &format!("q.io/o/a@{A}"), A, 1);
        let mut new = old.clone();
        new.spec.tags.clear();
        new.status.tags.clear();
        assert_eq!(events(&old, &new), vec![EVENT_TAG_DELETED]);
        assert_eq!(tag_changes(Some(&old), None)[0].event, EVENT_TAG_DELETED);

        let mut failed = old.clone();
        let cond = TagEventCondition {
            kind: CONDITION_IMPORT_SUCCESS.into(),
            status: "False".into(),
            reason: "NotFound".into(),
            message: "not found".into(),
            generation: 2,
            ..Default::default()
        };
        failed.status.tags[0].conditions.push(cond.clone());
        let c = tag_changes(Some(&old), Some(&failed));
        assert_eq!((c[0].event, c[0].reason.as_deref()), (EVENT_IMPORT_FAILED, Some("NotFound")));
        assert!(events(&failed, &failed.clone()).is_empty(), "the same failure again");
        let mut other = failed.clone();
        other.status.tags[0].conditions[0].message = "unauthorized".into();
        assert_eq!(events(&failed, &other), vec![EVENT_IMPORT_FAILED]);
    }

    #[test]
    fn patterns_and_validation() {
        assert!(pattern_matches("app:prod", "app", "prod"));
        assert!(pattern_matches("app:*", "app", "x") && pattern_matches("*:*", "web", "x"));
        assert!(!pattern_matches("app:prod", "app", "dev") && !pattern_matches("app", "app", "prod"));
        let mut w = Webhook::default();
        w.metadata.name = "deploy".into();
        w.spec = WebhookSpec {
            url: "https://hooks.example.com/x".into(),
            secret: Some("0123456789abcdef".into()),
            tags: vec!["app:prod".into()],
            events: vec![],
        };
        assert!(validate_webhook(&w, true).is_empty());
        w.spec.url = "ftp://x".into();
        w.spec.secret = Some("short".into());
        w.spec.tags = vec!["app".into(), "*:prod".into()];
        w.spec.events = vec!["Pushed".into()];
        let fields: Vec<String> = validate_webhook(&w, true).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, vec!["spec.url", "spec.secret", "spec.tags[0]", "spec.tags[1]", "spec.events[0]"]);
        assert_eq!(parse_target_url("http://127.0.0.1:8080/h").unwrap(), ("http".into(), "127.0.0.1".into(), 8080));
        assert_eq!(parse_target_url("https://[::1]/h").unwrap().2, 443);
        assert!(parse_target_url("http://u:p@h/").unwrap_err().contains("credentials"));
        assert!(parse_target_url("http://h:99999/").unwrap_err().contains("port"));
    }

    #[test]
    fn readers_see_where_events_go_not_the_credential_in_the_url() {
        assert_eq!(url_for_readers("https://hooks.slack.com/services/T0/B0/secret"), "https://hooks.slack.com/…");
        assert_eq!(url_for_readers("http://ci.example.com:8080/hook?token=abc"), "http://ci.example.com:8080/…");
        assert_eq!(url_for_readers("https://ci.example.com"), "https://ci.example.com");
        assert_eq!(url_for_readers("https://ci.example.com/"), "https://ci.example.com");
        assert_eq!(url_for_readers("https://user:pw@ci.example.com/x"), "https://ci.example.com/…");
        assert_eq!(url_for_readers("not a url"), "…");
    }

    #[test]
    fn a_delivery_is_retried_until_its_last_attempt() {
        assert_eq!(state_after_attempt(1, 3, true), DeliveryState::Delivered);
        assert_eq!(state_after_attempt(3, 3, true), DeliveryState::Delivered);
        assert_eq!(state_after_attempt(1, 3, false), DeliveryState::Pending);
        assert_eq!(state_after_attempt(2, 3, false), DeliveryState::Pending);
        assert_eq!(state_after_attempt(3, 3, false), DeliveryState::Failed);
        assert_eq!(state_after_attempt(1, 1, false), DeliveryState::Failed);
        assert_eq!(DeliveryState::Failed.as_str(), "Failed");
    }
}
