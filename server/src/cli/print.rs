//! How the CLI shows things, oc's way: the kubectl table writer, each resource's `get` columns
//! (spec §9.1–9.2, as [`Printable`] impls; the stream list's columns come from
//! `app::domain::present`, which the catalog page shares) and `describe is` (§9.3).
//!
//! Beyond oc: `describe is` and `get istag -o wide` both print each tag's pull specs in the
//! portal's registry (by tag and by digest), from `app::domain::lookup::registry_pull_specs`, the
//! rule the stream and image pages use for their `podman pull` commands, so all of them agree.
//!
//! Must not: fetch anything or choose the format (the commands and `output.rs` do), or restate a
//! column the web UI also shows (that belongs in `app::domain::present`).

use super::output::Printable;
use app::domain::history::fold_aliases;
use app::domain::lookup::{RegistryPullSpecs, registry_pull_specs};
use app::domain::present::{ago, image_repository_column, last_updated, tags_by_recency, tags_column};
use app::domain::tag_order::prioritize_tags;
use app::model::*;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// kubectl's table writer: columns padded to max(10, width + 3), the last column unpadded.
pub fn render_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    all.extend(rows.iter().cloned());
    let cols = header.len();
    let mut widths = vec![0usize; cols];
    for r in &all {
        for (i, c) in r.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    for r in &all {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate().take(cols) {
            if i + 1 == cols {
                line.push_str(c);
            } else {
                let w = (widths[i] + 3).max(10);
                line.push_str(c);
                line.push_str(&" ".repeat(w - c.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Tab-aligned `Label:\tvalue` lines as Go's tabwriter pads them with tabs (tab width 8).
fn aligned(lines: &[(String, String)]) -> String {
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
    let stop = width.div_ceil(8) * 8;
    lines
        .iter()
        .map(|(l, v)| {
            let tabs = stop / 8 - l.len() / 8;
            format!("{l}{}{v}\n", "\t".repeat(tabs.max(1)))
        })
        .collect()
}

fn map_lines(m: &BTreeMap<String, String>) -> String {
    if m.is_empty() {
        return "<none>".into();
    }
    m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n\t\t\t")
}

/// `oc describe is NAME`.
pub fn describe_stream(stream: &ImageStream, now: DateTime<Utc>) -> String {
    let mut head: Vec<(String, String)> = vec![
        ("Name:".into(), stream.metadata.name.clone()),
        ("Namespace:".into(), stream.namespace().into()),
        ("Created:".into(), stream.metadata.creation_timestamp.as_deref().map(|t| ago(t, now)).unwrap_or_default()),
        ("Labels:".into(), map_lines(&stream.metadata.labels)),
    ];
    let mut annotations = stream.metadata.annotations.clone();
    if let Some(d) = annotations.remove("description") {
        head.insert(0, ("Description:".into(), d));
    }
    head.push(("Annotations:".into(), map_lines(&annotations)));
    let repo = if stream.status.public_docker_image_repository.is_empty() {
        stream.status.docker_image_repository.clone()
    } else {
        stream.status.public_docker_image_repository.clone()
    };
    head.push(("Image Repository:".into(), repo));
    head.push(("Image Lookup:".into(), format!("local={}", stream.spec.lookup_policy.local)));
    let mut images: BTreeSet<&str> = BTreeSet::new();
    let mut ref_only = false;
    for l in &stream.status.tags {
        for i in l.items() {
            if i.image.is_empty() {
                ref_only = true;
            } else {
                images.insert(&i.image);
            }
        }
    }
    head.push(("Unique Images:".into(), (images.len() + usize::from(ref_only)).to_string()));
    let mut all_tags: BTreeSet<String> = stream.status.tags.iter().map(|l| l.tag.clone()).collect();
    all_tags.extend(stream.spec.tags.iter().map(|t| t.name.clone()));
    head.push(("Tags:".into(), if all_tags.is_empty() { "<none>".into() } else { all_tags.len().to_string() }));
    let mut out = aligned(&head);
    if all_tags.is_empty() {
        return out;
    }

    let (aliases, folded) = fold_aliases(stream);
    let mut order: Vec<String> = all_tags.into_iter().filter(|t| !folded.contains(t)).collect();
    prioritize_tags(&mut order);
    for tag in order {
        out.push('\n');
        match aliases.get(&tag) {
            Some(a) => out.push_str(&format!("{tag} ({})\n", a.join(", "))),
            None => out.push_str(&format!("{tag}\n")),
        }
        out.push_str(&describe_tag(stream, &tag, now));
    }
    out
}

fn describe_tag(stream: &ImageStream, tag: &str, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    let spec = stream.spec_tag(tag);
    match spec {
        None => out.push_str("  no spec tag\n"),
        Some(t) => {
            match &t.from {
                None => out.push_str("  tag without source image\n"),
                Some(from) => {
                    let name = if !from.namespace.is_empty() && from.namespace != stream.namespace() {
                        format!("{}/{}", from.namespace, from.name)
                    } else {
                        from.name.clone()
                    };
                    let scheduled = t.import_policy.scheduled;
                    let line = match from.kind.as_str() {
                        KIND_IMAGE_STREAM_TAG if t.reference => format!("reference to {name}"),
                        KIND_IMAGE_STREAM_TAG if scheduled => format!("updates automatically from {name}"),
                        KIND_DOCKER_IMAGE if t.reference => format!("reference to registry {name}"),
                        KIND_DOCKER_IMAGE if scheduled => format!("updates automatically from registry {name}"),
                        KIND_IMAGE_STREAM_IMAGE if t.reference => format!("reference to image {name}"),
                        KIND_IMAGE_STREAM_TAG | KIND_DOCKER_IMAGE | KIND_IMAGE_STREAM_IMAGE => format!("tagged from {name}"),
                        // A kind the server does not know (stored by an older client): oc names it.
                        other if t.reference => format!("reference to {other} {name}"),
                        other => format!("updates from {other} {name}"),
                    };
                    out.push_str(&format!("  {line}\n"));
                    if t.import_policy.insecure {
                        out.push_str("    will use insecure HTTPS or HTTP connections\n");
                    }
                }
            }
            // oc prints this for `Local` only: the tag is served through the portal's registry
            // (pull-through), where `Source` hands out the source's own pull spec. oc checks the
            // policy of every spec tag, with or without a source.
            if t.reference_policy.kind == REFERENCE_POLICY_LOCAL {
                out.push_str("    prefer registry pullthrough when referencing this tag\n");
            }
        }
    }
    // Not oc's: where the portal's registry serves the tag (what the pages' `podman pull`
    // commands and `get istag -o wide` name).
    if let Some(p) = registry_pull_specs(stream, tag) {
        out.push_str(&format!("  pull by tag:\t{}\n  pull by digest:\t{}\n", p.by_tag, p.by_digest));
    }
    out.push('\n');
    if let Some(t) = spec
        && let Some(ann) = &t.annotations
    {
        let mut any = false;
        if let Some(d) = ann.get("description") {
            out.push_str(&format!("  {d}\n"));
            any = true;
        }
        for (key, label) in [("tags", "Tags"), ("supports", "Supports")] {
            if let Some(v) = ann.get(key) {
                out.push_str(&format!("  {label}: {}\n", v.split(',').map(str::trim).collect::<Vec<_>>().join(", ")));
                any = true;
            }
        }
        if let Some(v) = ann.get("sampleRepo") {
            out.push_str(&format!("  Example Repo: {v}\n"));
            any = true;
        }
        if any {
            out.push('\n');
        }
    }
    let list = stream.status_tag(tag);
    if let Some(t) = spec
        && !t.reference
        && t.from.is_some()
    {
        let observed = list
            .map(|l| {
                let h = l.items().first().map(|h| h.generation).unwrap_or(0);
                let c = l.conditions.iter().filter(|c| c.kind == CONDITION_IMPORT_SUCCESS).map(|c| c.generation).max().unwrap_or(0);
                h.max(c)
            })
            .unwrap_or(0);
        if t.generation.unwrap_or(0) > observed {
            out.push_str("  ~ importing latest image ...\n");
        }
    }
    if let Some(l) = list {
        for c in &l.conditions {
            if c.kind == CONDITION_IMPORT_SUCCESS && c.status == "False" {
                out.push_str(&format!("  ! error: Import failed ({}): {}\n", c.reason, c.message));
                out.push_str(&format!("      {}\n", ago(&c.last_transition_time, now)));
            }
        }
        for (i, item) in l.items().iter().enumerate() {
            let marker = if i == 0 { "  * " } else { "    " };
            out.push_str(&format!("{marker}{}\n", item.docker_image_reference));
            let digest_in_ref = item.docker_image_reference.rsplit_once('@').map(|(_, d)| d);
            let when = ago(&item.created, now);
            if !item.image.is_empty() && digest_in_ref != Some(item.image.as_str()) {
                out.push_str(&format!("      {when}\t{}\n", item.image));
            } else {
                out.push_str(&format!("      {when}\n"));
            }
        }
    }
    out
}

/// `get is`: NAME, IMAGE REPOSITORY, TAGS, UPDATED.
impl Printable for ImageStream {
    const RESOURCE: &'static str = "imagestream.image.openshift.io";
    fn name(&self) -> Option<String> {
        Some(self.metadata.name.clone())
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"]
    }
    fn row(&self, now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        vec![
            self.metadata.name.clone(),
            image_repository_column(self),
            tags_column(&tags_by_recency(self)),
            last_updated(self).map(|t| ago(&t, now)).unwrap_or_default(),
        ]
    }
}

/// `get istag`: NAME, IMAGE REFERENCE, UPDATED (+ IMAGE NAME, and beyond oc PULL BY TAG and
/// PULL BY DIGEST, when wide: see [`istag_wide_table`]).
impl Printable for ImageStreamTag {
    const RESOURCE: &'static str = "imagestreamtag.image.openshift.io";
    fn name(&self) -> Option<String> {
        Some(self.metadata.name.clone())
    }
    fn columns(wide: bool) -> &'static [&'static str] {
        if wide { ISTAG_WIDE } else { &["NAME", "IMAGE REFERENCE", "UPDATED"] }
    }
    fn row(&self, now: DateTime<Utc>, wide: bool) -> Vec<String> {
        istag_row(self, None, now, wide)
    }
}

const ISTAG_WIDE: &[&str] = &["NAME", "IMAGE REFERENCE", "UPDATED", "IMAGE NAME", "PULL BY TAG", "PULL BY DIGEST"];

fn istag_row(t: &ImageStreamTag, pull: Option<&RegistryPullSpecs>, now: DateTime<Utc>, wide: bool) -> Vec<String> {
    let mut row = vec![
        t.metadata.name.clone(),
        t.image.docker_image_reference.clone(),
        ago(t.metadata.creation_timestamp.as_deref().unwrap_or_default(), now),
    ];
    if wide {
        row.push(t.image.metadata.name.clone());
        row.push(pull.map(|p| p.by_tag.clone()).unwrap_or_default());
        row.push(pull.map(|p| p.by_digest.clone()).unwrap_or_default());
    }
    row
}

/// `get istag -o wide`, with each tag's pull specs in the portal's registry taken from its
/// stream (among `streams`) by the rule `describe is` and the pages use.
pub fn istag_wide_table(tags: &[ImageStreamTag], streams: &[ImageStream], now: DateTime<Utc>) -> String {
    let rows: Vec<Vec<String>> = tags
        .iter()
        .map(|t| {
            let pull = t.metadata.name.split_once(':').and_then(|(stream, tag)| {
                streams
                    .iter()
                    .find(|s| s.metadata.name == stream && s.metadata.namespace == t.metadata.namespace)
                    .and_then(|s| registry_pull_specs(s, tag))
            });
            istag_row(t, pull.as_ref(), now, true)
        })
        .collect();
    render_table(ISTAG_WIDE, &rows)
}

/// `get isimage`: NAME, UPDATED (+ IMAGE REFERENCE, IMAGE NAME when wide).
impl Printable for ImageStreamImage {
    const RESOURCE: &'static str = "imagestreamimage.image.openshift.io";
    fn name(&self) -> Option<String> {
        Some(self.metadata.name.clone())
    }
    fn columns(wide: bool) -> &'static [&'static str] {
        if wide { &["NAME", "UPDATED", "IMAGE REFERENCE", "IMAGE NAME"] } else { &["NAME", "UPDATED"] }
    }
    fn row(&self, now: DateTime<Utc>, wide: bool) -> Vec<String> {
        let mut row = vec![self.metadata.name.clone(), ago(self.metadata.creation_timestamp.as_deref().unwrap_or_default(), now)];
        if wide {
            row.push(self.image.docker_image_reference.clone());
            row.push(self.image.metadata.name.clone());
        }
        row
    }
}

/// `get image`: NAME, IMAGE REFERENCE.
impl Printable for Image {
    const RESOURCE: &'static str = "image.image.openshift.io";
    fn name(&self) -> Option<String> {
        Some(self.metadata.name.clone())
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["NAME", "IMAGE REFERENCE"]
    }
    fn row(&self, _now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        vec![self.metadata.name.clone(), self.docker_image_reference.clone()]
    }
}

/// `get webhooks`: the subscription and its last delivery; never the secret.
impl Printable for Webhook {
    const RESOURCE: &'static str = "webhook";
    fn name(&self) -> Option<String> {
        Some(self.metadata.name.clone())
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["NAME", "URL", "TAGS", "EVENTS", "PENDING", "LAST DELIVERY"]
    }
    fn row(&self, now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        let events = app::domain::triggers::subscribed_events(&self.spec).join(",");
        let last = self.status.last_delivery.as_ref().map(|d| format!("{} {}", d.state, ago(&d.created, now))).unwrap_or_default();
        vec![self.metadata.name.clone(), self.spec.url.clone(), self.spec.tags.join(","), events, self.status.pending.to_string(), last]
    }
}

/// `webhook deliveries`: one row per delivery with its last attempt.
impl Printable for WebhookDelivery {
    const RESOURCE: &'static str = "webhookdelivery";
    fn name(&self) -> Option<String> {
        Some(self.id.to_string())
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["ID", "TYPE", "SUBJECT", "STATE", "ATTEMPTS", "CODE", "LATENCY", "AGE", "ERROR"]
    }
    fn row(&self, now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        let last = self.attempt_log.last();
        vec![
            self.id.to_string(),
            self.event_type.clone(),
            self.subject.clone(),
            self.state.clone(),
            self.attempts.to_string(),
            last.and_then(|a| a.status_code).map(|c| c.to_string()).unwrap_or_default(),
            last.map(|a| format!("{}ms", a.latency_ms)).unwrap_or_default(),
            ago(&self.created, now),
            last.and_then(|a| a.error.clone()).unwrap_or_default(),
        ]
    }
}

/// `get tokens`: the caller's API tokens, never their secrets.
impl Printable for ApiToken {
    const RESOURCE: &'static str = "token";
    fn name(&self) -> Option<String> {
        Some(self.id.clone())
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["ID", "NAME", "NAMESPACES", "MAX ROLE", "EXPIRES", "AGE", "STATE"]
    }
    fn row(&self, now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            self.namespaces.as_ref().map(|n| n.join(",")).unwrap_or_else(|| "*".into()),
            self.max_role.clone().unwrap_or_else(|| "-".into()),
            self.expires.clone().unwrap_or_else(|| "never".into()),
            ago(&self.created, now),
            if self.revoked.is_some() { "revoked".into() } else { "active".into() },
        ]
    }
}

/// `get members`: USER, ROLE.
impl Printable for Member {
    const RESOURCE: &'static str = "member";
    fn name(&self) -> Option<String> {
        Some(self.user.clone())
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["USER", "ROLE"]
    }
    fn row(&self, _now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        vec![self.user.clone(), self.role.clone()]
    }
}

/// `get audit`: who asked what, from where, and how it ended. Entries have no names.
impl Printable for AuditEntry {
    const RESOURCE: &'static str = "audit";
    fn name(&self) -> Option<String> {
        None
    }
    fn columns(_wide: bool) -> &'static [&'static str] {
        &["TIME", "USER", "TOKEN", "FROM", "CODE", "OUTCOME", "ACTION"]
    }
    fn row(&self, _now: DateTime<Utc>, _wide: bool) -> Vec<String> {
        let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        vec![
            self.time.clone(),
            or_dash(&self.user),
            or_dash(&self.token),
            or_dash(&self.remote),
            self.code.to_string(),
            self.outcome.clone(),
            self.action.clone(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::domain::history::add_tag_event;
    use chrono::TimeZone;

    #[test]
    fn table_padding() {
        let t =
            render_table(&["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"], &[vec!["app".into(), "r/ns/app".into(), "".into(), "".into()]]);
        assert_eq!(t, "NAME      IMAGE REPOSITORY   TAGS      UPDATED\napp       r/ns/app\n");
    }

    #[test]
    fn image_stream_tag_rows_from_typed_values() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let mut ist = ImageStreamTag::setting("demo", "app", TagReference { name: "v1".into(), ..Default::default() });
        ist.metadata.creation_timestamp = Some("2025-01-01T11:00:00Z".into());
        ist.image.docker_image_reference = "q.io/o/a@sha256:1".into();
        ist.image.metadata.name = "sha256:1".into();
        assert_eq!(ist.row(now, false), ["app:v1", "q.io/o/a@sha256:1", "About an hour ago"]);
        assert_eq!(ist.row(now, true)[3], "sha256:1");
        // No time: an empty cell, as before.
        ist.metadata.creation_timestamp = None;
        assert_eq!(ist.row(now, false)[2], "");
    }

    #[test]
    fn describe_layout() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let mut s = ImageStream::new("demo", "app");
        s.metadata.creation_timestamp = Some("2025-01-01T10:00:00Z".into());
        s.status.docker_image_repository = "reg:5000/demo/app".into();
        s.spec.tags = vec![
            TagReference {
                name: "latest".into(),
                from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: "q.io/o/a:latest".into(), namespace: String::new() }),
                generation: Some(2),
                reference_policy: TagReferencePolicy { kind: REFERENCE_POLICY_LOCAL.into() },
                ..Default::default()
            },
            TagReference {
                name: "stable".into(),
                from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_TAG.into(), name: "latest".into(), namespace: String::new() }),
                generation: Some(2),
                ..Default::default()
            },
        ];
        let d1 = format!("sha256:{}", "1".repeat(64));
        let d2 = format!("sha256:{}", "2".repeat(64));
        add_tag_event(
            &mut s,
            "latest",
            TagEvent {
                created: "2025-01-01T10:00:00Z".into(),
                docker_image_reference: format!("q.io/o/a@{d1}"),
                image: d1.clone(),
                generation: 1,
            },
        );
        add_tag_event(
            &mut s,
            "latest",
            TagEvent {
                created: "2025-01-01T11:55:00Z".into(),
                docker_image_reference: format!("q.io/o/a@{d2}"),
                image: d2.clone(),
                generation: 2,
            },
        );
        let out = describe_stream(&s, now);
        let want = format!(
            "Name:\t\t\tapp\nNamespace:\t\tdemo\nCreated:\t\t2 hours ago\nLabels:\t\t\t<none>\nAnnotations:\t\t<none>\nImage Repository:\treg:5000/demo/app\nImage Lookup:\t\tlocal=false\nUnique Images:\t\t2\nTags:\t\t\t2\n\nlatest (stable)\n  tagged from q.io/o/a:latest\n    prefer registry pullthrough when referencing this tag\n  pull by tag:\treg:5000/demo/app:latest\n  pull by digest:\treg:5000/demo/app@{d2}\n\n  * q.io/o/a@{d2}\n      5 minutes ago\n    q.io/o/a@{d1}\n      2 hours ago\n"
        );
        assert_eq!(out, want);
    }

    /// Upstream's order for a scheduled, insecure `Local` tag that is still importing and whose
    /// last import failed: source line, insecure, pull-through, blank, annotations, importing,
    /// the failure, then history. A `Source` tag never gets the pull-through line.
    #[test]
    fn describe_scheduled_local_tag_importing_and_source_tag() {
        let now = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
        let mut s = ImageStream::new("demo", "app");
        s.metadata.creation_timestamp = Some("2025-01-01T10:00:00Z".into());
        s.status.docker_image_repository = "reg:5000/demo/app".into();
        let d1 = format!("sha256:{}", "1".repeat(64));
        s.spec.tags = vec![
            TagReference {
                name: "nightly".into(),
                from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: "q.io/o/a:2".into(), namespace: String::new() }),
                generation: Some(5),
                import_policy: TagImportPolicy { scheduled: true, insecure: true, ..Default::default() },
                reference_policy: TagReferencePolicy { kind: REFERENCE_POLICY_LOCAL.into() },
                annotations: Some(BTreeMap::from([("description".to_string(), "Nightly builds".to_string())])),
                ..Default::default()
            },
            TagReference {
                name: "plain".into(),
                from: Some(ObjectReference { kind: KIND_DOCKER_IMAGE.into(), name: "q.io/o/a:1".into(), namespace: String::new() }),
                generation: Some(2),
                reference_policy: TagReferencePolicy { kind: REFERENCE_POLICY_SOURCE.into() },
                ..Default::default()
            },
        ];
        add_tag_event(
            &mut s,
            "nightly",
            TagEvent {
                created: "2025-01-01T10:00:00Z".into(),
                docker_image_reference: format!("q.io/o/a@{d1}"),
                image: d1.clone(),
                generation: 3,
            },
        );
        add_tag_event(
            &mut s,
            "plain",
            TagEvent {
                created: "2025-01-01T10:00:00Z".into(),
                docker_image_reference: format!("q.io/o/a@{d1}"),
                image: d1.clone(),
                generation: 2,
            },
        );
        if let Some(list) = s.status.tags.iter_mut().find(|l| l.tag == "nightly") {
            list.conditions.push(TagEventCondition {
                kind: CONDITION_IMPORT_SUCCESS.into(),
                status: "False".into(),
                last_transition_time: "2025-01-01T11:57:00Z".into(),
                reason: "NotFound".into(),
                message: "dockerimage.image.openshift.io \"q.io/o/a:2\" not found".into(),
                generation: 4,
            });
        }
        let out = describe_stream(&s, now);
        let nightly = format!(
            "\nnightly\n  updates automatically from registry q.io/o/a:2\n    will use insecure HTTPS or HTTP connections\n    prefer registry pullthrough when referencing this tag\n  pull by tag:\treg:5000/demo/app:nightly\n  pull by digest:\treg:5000/demo/app@{d1}\n\n  Nightly builds\n\n  ~ importing latest image ...\n  ! error: Import failed (NotFound): dockerimage.image.openshift.io \"q.io/o/a:2\" not found\n      3 minutes ago\n  * q.io/o/a@{d1}\n      2 hours ago\n"
        );
        assert!(out.contains(&nightly), "{out}");
        // A `Source` tag is in the portal's registry too (pulled through from its source).
        assert!(
            out.ends_with(&format!(
                "\nplain\n  tagged from q.io/o/a:1\n  pull by tag:\treg:5000/demo/app:plain\n  pull by digest:\treg:5000/demo/app@{d1}\n\n  * q.io/o/a@{d1}\n      2 hours ago\n"
            )),
            "{out}"
        );
    }
}
