//! How streams are shown to people, where the web UI and the CLI show the same thing: `oc`'s
//! human durations (`5 minutes ago`), sizes in decimal units (`12.3 MB`), and the columns of
//! the stream list (spec §9.1: IMAGE REPOSITORY, the TAGS width rule, UPDATED), which the
//! catalog page and `get is` both print.
//!
//! Must not: hold what only one of them prints. The CLI's tables and `describe is` (spec
//! §9.2–9.3) are in the server's `cli/print.rs`; the pages' markup is in `views`.

use crate::model::*;
use chrono::{DateTime, Utc};

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
    // Ties (tags moved in the same second) in version order: `1.0.2` before `1.0.10`.
    tags.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| super::tag_order::version_cmp(&a.1, &b.1)));
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

/// A size in decimal units with one decimal, rounded half up (`52.4 MB`). Integer arithmetic:
/// float formatting would cost the browser build ~14 KB for this one line.
pub fn human_size(bytes: i64) -> String {
    let unit = [(1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB")].into_iter().find(|(u, _)| bytes >= *u);
    match unit {
        Some((u, name)) => {
            let tenths = (bytes * 10 + u / 2) / u;
            format!("{}.{} {name}", tenths / 10, tenths % 10)
        }
        None => format!("{bytes} B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn sizes_use_decimal_units_with_one_rounded_decimal() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1_000), "1.0 kB");
        assert_eq!(human_size(1_249), "1.2 kB");
        assert_eq!(human_size(1_250), "1.3 kB");
        assert_eq!(human_size(52_428_800), "52.4 MB");
        assert_eq!(human_size(3_000_000_000), "3.0 GB");
    }
}
