//! How streams are shown to people: `oc`'s human durations, the `get` tables (spec §9.1–9.2,
//! including the TAGS width rule) and `describe is` (§9.3). Shared by the CLI and the web UI.

use super::lookup::pull_spec_for_event;
use super::tag_order::prioritize_tags;
use crate::model::*;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// go-units `HumanDuration`.
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = d.num_minutes();
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (d.num_seconds() + 1800) / 3600;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", d.num_hours() / 24 / 365)
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// `<duration> ago`, or empty for a missing or unparsable time.
pub fn ago(time: &str, now: DateTime<Utc>) -> String {
    match parse_time(time) {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => String::new(),
    }
}

/// Status tags with a head, newest head first (to the second), ties by name.
pub fn tags_by_recency(stream: &ImageStream) -> Vec<String> {
    let mut tags: Vec<(i64, String)> = stream
        .status
        .tags
        .iter()
        .filter_map(|l| l.items().first().map(|h| (parse_time(&h.created).map(|t| t.timestamp()).unwrap_or(0), l.tag.clone())))
        .collect();
    tags.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, t)| t).collect()
}

/// The TAGS column: as many tags as fit in 40 characters by upstream's rule, then ` + N more...`.
pub fn tags_column(tags: &[String]) -> String {
    let mut remaining: i64 = 40;
    let mut shown: Vec<&str> = vec![];
    for (i, tag) in tags.iter().enumerate() {
        let len = tag.chars().count() as i64;
        remaining -= len + 1;
        if remaining >= 0 {
            shown.push(tag);
            continue;
        }
        // The first tag is always shown; a later one only if most of it fits.
        if i == 0 || (10 < remaining + len && 10 >= -remaining) {
            shown.push(tag);
        }
        break;
    }
    let mut out = shown.join(",");
    let hidden = tags.len() - shown.len();
    if hidden > 0 {
        out.push_str(&format!(" + {hidden} more..."));
    }
    out
}

/// IMAGE REPOSITORY: public, else spec, else status repository.
pub fn image_repository_column(stream: &ImageStream) -> String {
    if !stream.status.public_docker_image_repository.is_empty() {
        stream.status.public_docker_image_repository.clone()
    } else if !stream.spec.docker_image_repository.is_empty() {
        stream.spec.docker_image_repository.clone()
    } else {
        stream.status.docker_image_repository.clone()
    }
}

/// The newest head time of any tag.
pub fn last_updated(stream: &ImageStream) -> Option<String> {
    stream.status.tags.iter().filter_map(|l| l.items().first()).max_by_key(|h| parse_time(&h.created)).map(|h| h.created.clone())
}

/// One row of `get is`: NAME, IMAGE REPOSITORY, TAGS, UPDATED.
pub fn image_stream_row(stream: &ImageStream, now: DateTime<Utc>) -> Vec<String> {
    vec![
        stream.metadata.name.clone(),
        image_repository_column(stream),
        tags_column(&tags_by_recency(stream)),
        last_updated(stream).map(|t| ago(&t, now)).unwrap_or_default(),
    ]
}

/// Rows of `get istag` for one stream: NAME, IMAGE REFERENCE, UPDATED (+ IMAGE NAME when wide).
pub fn image_stream_tag_rows(stream: &ImageStream, now: DateTime<Utc>, wide: bool) -> Vec<Vec<String>> {
    stream
        .status
        .tags
        .iter()
        .filter_map(|l| {
            let head = l.items().first().filter(|h| !h.image.is_empty())?;
            let local = stream.spec_tag(&l.tag).is_some_and(|t| t.reference_policy.kind == REFERENCE_POLICY_LOCAL);
            let mut row =
                vec![format!("{}:{}", stream.metadata.name, l.tag), pull_spec_for_event(stream, head, local), ago(&head.created, now)];
            if wide {
                row.push(head.image.clone());
            }
            Some(row)
        })
        .collect()
}

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

    let (aliases, folded) = super::history::fold_aliases(stream);
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
        Some(t) => match &t.from {
            None => out.push_str("  tag without source image\n"),
            Some(from) => {
                let name = if !from.namespace.is_empty() && from.namespace != stream.namespace() {
                    format!("{}/{}", from.namespace, from.name)
                } else {
                    from.name.clone()
                };
                let line = match from.kind.as_str() {
                    KIND_IMAGE_STREAM_TAG if t.reference => format!("reference to {name}"),
                    KIND_IMAGE_STREAM_TAG if t.import_policy.scheduled => format!("updates automatically from {name}"),
                    KIND_DOCKER_IMAGE if t.reference => format!("reference to registry {name}"),
                    KIND_DOCKER_IMAGE if t.import_policy.scheduled => format!("updates automatically from registry {name}"),
                    KIND_IMAGE_STREAM_IMAGE if t.reference => format!("reference to image {name}"),
                    _ => format!("tagged from {name}"),
                };
                out.push_str(&format!("  {line}\n"));
                if t.import_policy.insecure {
                    out.push_str("    will use insecure HTTPS or HTTP connections\n");
                }
                if t.reference_policy.kind != REFERENCE_POLICY_LOCAL {
                    out.push_str("    prefer registry pullthrough when referencing this tag\n");
                }
            }
        },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::add_tag_event;
    use chrono::TimeZone;

    fn secs(s: i64) -> chrono::Duration {
        chrono::Duration::seconds(s)
    }

    #[test]
    fn human_durations() {
        let cases = [
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (3599, "59 minutes"),
            (3600, "About an hour"),
            (5399, "About an hour"),
            (5400, "2 hours"),
            (47 * 3600, "47 hours"),
            (48 * 3600, "2 days"),
            (14 * 86400, "2 weeks"),
            (60 * 86400, "2 months"),
            (800 * 86400, "2 years"),
        ];
        for (s, want) in cases {
            assert_eq!(human_duration(secs(s)), want, "{s}s");
        }
    }

    #[test]
    fn tags_column_width_rule() {
        let t = |v: &[&str]| tags_column(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(t(&[]), "");
        assert_eq!(t(&["latest", "v1"]), "latest,v1");
        let long = "x".repeat(50);
        assert_eq!(t(&[&long, "a"]), format!("{long} + 1 more..."));
        // 39 chars used by the first tag; the second overshoots by 11 > 10: cut.
        let a = "a".repeat(38);
        assert_eq!(t(&[&a, "bbbbbbbbbbbb"]), format!("{a} + 1 more..."));
        // 21 used; a 25-char tag overshoots by 7 (<= 10) and leaves 18 (> 10) of itself: kept,
        // and the list ends there.
        let a = "a".repeat(20);
        let b = "b".repeat(25);
        assert_eq!(t(&[&a, &b, "c"]), format!("{a},{b} + 1 more..."));
        let ten: Vec<String> = (0..10).map(|i| format!("tag{i}")).collect();
        assert_eq!(tags_column(&ten), "tag0,tag1,tag2,tag3,tag4,tag5,tag6,tag7 + 2 more...");
    }

    #[test]
    fn table_padding() {
        let t =
            render_table(&["NAME", "IMAGE REPOSITORY", "TAGS", "UPDATED"], &[vec!["app".into(), "r/ns/app".into(), "".into(), "".into()]]);
        assert_eq!(t, "NAME      IMAGE REPOSITORY   TAGS      UPDATED\napp       r/ns/app\n");
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
            "Name:\t\t\tapp\nNamespace:\t\tdemo\nCreated:\t\t2 hours ago\nLabels:\t\t\t<none>\nAnnotations:\t\t<none>\nImage Repository:\treg:5000/demo/app\nImage Lookup:\t\tlocal=false\nUnique Images:\t\t2\nTags:\t\t\t2\n\nlatest (stable)\n  tagged from q.io/o/a:latest\n    prefer registry pullthrough when referencing this tag\n\n  * q.io/o/a@{d2}\n      5 minutes ago\n    q.io/o/a@{d1}\n      2 hours ago\n"
        );
        assert_eq!(out, want);
    }
}
