//! Team retention policies (issue 16, point 4): what a namespace's admins keep — the newest N
//! revisions of each tag, what is younger than D, the tags matching patterns, what was pulled
//! within D — its validation (every message names its field, so the API's `Status` and the
//! UI's form show it at that field), the policy's durations as people type them (`7d`,
//! `1h30m`), and what a run of a policy is: a namespace prune (`prune::PruneOptions`) with
//! `confirm`, recorded as a `RetentionRun`.
//!
//! The policy is stored as the API takes it; the rules it feeds are `prune`'s, so a preview, a
//! scheduled run and `prune images -n` with the same numbers decide alike, with the same
//! reasons.
//!
//! Must not: read the clock, schedule anything or touch storage (the service and the retention
//! worker do), or restate a pruning rule (that is `prune`).

use super::prune::{PruneOptions, PruneReport, short_duration};
use crate::model::FieldError;
use serde::{Deserialize, Serialize};

/// The most revisions per tag a policy may keep (beyond that it keeps everything anyway, and a
/// typo of an extra digit is likelier than a wish).
pub const MAX_KEEP_REVISIONS: i64 = 1000;
/// The longest duration a policy may name: ten years, in seconds.
pub const MAX_DURATION_SECONDS: i64 = 10 * 365 * 86_400;
/// How many tag patterns a policy may carry.
pub const MAX_PATTERNS: usize = 20;
/// The longest tag pattern (a tag is at most 128 characters).
pub const MAX_PATTERN_LEN: usize = 128;

/// A namespace's retention policy, as the API takes and gives it. Numbers are signed so a
/// negative one is refused by `validate` with a message naming its field, not by the decoder.
/// Missing fields take `prune images`' defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RetentionPolicy {
    /// Keep the newest N revisions of every tag (the head always stays).
    pub keep_tag_revisions: i64,
    /// Keep what is younger than this many seconds.
    pub keep_younger_than_seconds: i64,
    /// Keep the whole history of tags matching these patterns (`*` matches any run).
    pub keep_tag_patterns: Vec<String>,
    /// Keep what was pulled through the registry within this many seconds; `None`: the
    /// server's `--prune-pulled-within`; 0 turns the rule off for this namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pulled_within_seconds: Option<i64>,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        let d = PruneOptions::default();
        RetentionPolicy {
            keep_tag_revisions: d.keep_tag_revisions as i64,
            keep_younger_than_seconds: d.keep_younger_than_seconds as i64,
            keep_tag_patterns: vec![],
            pulled_within_seconds: None,
        }
    }
}

impl RetentionPolicy {
    /// The prune a run of this policy is: the namespace's history only, for real when `confirm`.
    /// Call on a validated policy (out-of-range numbers are clamped, never wrapped).
    pub fn prune_options(&self, namespace: &str, confirm: bool) -> PruneOptions {
        PruneOptions {
            keep_tag_revisions: self.keep_tag_revisions.clamp(0, u32::MAX as i64) as u32,
            keep_younger_than_seconds: self.keep_younger_than_seconds.max(0) as u64,
            all: true,
            namespace: Some(namespace.to_string()),
            confirm,
            keep_tag_patterns: self.keep_tag_patterns.clone(),
            pulled_within_seconds: self.pulled_within_seconds.map(|s| s.max(0) as u64),
        }
    }

    /// The policy in one line, as a run's record and the UI describe it.
    pub fn describe(&self) -> String {
        let mut parts = vec![
            format!("keep {} revision(s) per tag", self.keep_tag_revisions),
            format!("younger than {}", short_duration(self.keep_younger_than_seconds.max(0) as u64)),
        ];
        if !self.keep_tag_patterns.is_empty() {
            parts.push(format!("tags matching {}", self.keep_tag_patterns.join(", ")));
        }
        match self.pulled_within_seconds {
            Some(0) => parts.push("pulls ignored".into()),
            Some(s) => parts.push(format!("pulled within {}", short_duration(s.max(0) as u64))),
            None => parts.push("pulled within the server's window".into()),
        }
        parts.join("; ")
    }
}

/// The policy's rules, each broken one a `FieldError` at its field (`keepTagRevisions`,
/// `keepYoungerThanSeconds`, `keepTagPatterns[i]`, `pulledWithinSeconds`).
pub fn validate(p: &RetentionPolicy) -> Vec<FieldError> {
    let mut errs = vec![];
    if !(0..=MAX_KEEP_REVISIONS).contains(&p.keep_tag_revisions) {
        errs.push(FieldError::invalid_raw("keepTagRevisions", p.keep_tag_revisions, format!("must be between 0 and {MAX_KEEP_REVISIONS}")));
    }
    let duration = |field: &str, v: i64, errs: &mut Vec<FieldError>| {
        if !(0..=MAX_DURATION_SECONDS).contains(&v) {
            errs.push(FieldError::invalid_raw(field, v, format!("must be between 0 and {MAX_DURATION_SECONDS} seconds (10 years)")));
        }
    };
    duration("keepYoungerThanSeconds", p.keep_younger_than_seconds, &mut errs);
    if let Some(v) = p.pulled_within_seconds {
        duration("pulledWithinSeconds", v, &mut errs);
    }
    if p.keep_tag_patterns.len() > MAX_PATTERNS {
        errs.push(FieldError::forbidden("keepTagPatterns", format!("at most {MAX_PATTERNS} patterns")));
    }
    for (i, pattern) in p.keep_tag_patterns.iter().enumerate() {
        let field = format!("keepTagPatterns[{i}]");
        if let Err(detail) = validate_pattern(pattern) {
            errs.push(FieldError::invalid(field, pattern, detail));
        } else if p.keep_tag_patterns[..i].contains(pattern) {
            errs.push(FieldError { kind: crate::model::FieldErrorKind::Duplicate, ..FieldError::invalid(field, pattern, "") });
        }
    }
    errs
}

/// A tag pattern: a tag's characters (`A-Za-z0-9_.-`) and `*`, 1 to 128 of them.
pub fn validate_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("must not be empty".into());
    }
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(format!("must be no more than {MAX_PATTERN_LEN} characters"));
    }
    if let Some(c) = pattern.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '*'))) {
        return Err(format!("may contain only letters, digits, '_', '.', '-' and '*' (found {c:?})"));
    }
    Ok(())
}

/// A duration as people type it in the policy form: `90` (seconds), `30s`, `15m`, `3h`, `7d`,
/// `2w`, or several of them (`1h30m`). Returns seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("enter a duration such as 60m, 12h or 7d".into());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().map_err(|_| "is too large".to_string());
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(format!("{text:?} is not a duration: use s, m, h, d or w after each number (60m, 12h, 7d)")),
        };
        let n: i64 = number.parse().map_err(|_| format!("{text:?} is not a duration: a number must come before each unit"))?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(|| "is too large".to_string())?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("{text:?} is not a duration: the last number has no unit (s, m, h, d or w)"));
    }
    Ok(total)
}

/// The policy form as typed (revisions, durations as text, patterns separated by commas or
/// spaces, an empty "pulled within" for the server's window) → the policy, or every field that
/// does not parse or breaks a rule, at its field.
pub fn parse_form(revisions: &str, younger: &str, patterns: &str, pulled_within: &str) -> Result<RetentionPolicy, Vec<FieldError>> {
    let mut errs = vec![];
    let keep_tag_revisions = match revisions.trim().parse::<i64>() {
        Ok(n) => n,
        Err(_) => {
            errs.push(FieldError::invalid("keepTagRevisions", revisions.trim(), "must be a whole number"));
            0
        }
    };
    let keep_younger_than_seconds = parse_duration(younger).unwrap_or_else(|e| {
        errs.push(FieldError::invalid("keepYoungerThanSeconds", younger.trim(), e));
        0
    });
    let pulled_within_seconds = if pulled_within.trim().is_empty() {
        None
    } else {
        Some(parse_duration(pulled_within).unwrap_or_else(|e| {
            errs.push(FieldError::invalid("pulledWithinSeconds", pulled_within.trim(), e));
            0
        }))
    };
    let policy = RetentionPolicy {
        keep_tag_revisions,
        keep_younger_than_seconds,
        keep_tag_patterns: patterns.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()).map(str::to_string).collect(),
        pulled_within_seconds,
    };
    // Rules only for the fields that parsed (a field is reported once).
    for e in validate(&policy) {
        if !errs.iter().any(|x| x.field == e.field) {
            errs.push(e);
        }
    }
    if errs.is_empty() { Ok(policy) } else { Err(errs) }
}

/// A namespace's stored policy: the policy, who set it and when, and when the schedule last ran it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredRetentionPolicy {
    pub namespace: String,
    pub policy: RetentionPolicy,
    /// RFC 3339.
    pub updated: String,
    pub updated_by: String,
    /// RFC 3339; the schedule counts its interval from here (from `updated` before a first run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_scheduled_run: Option<String>,
}

/// What started a run.
pub const TRIGGER_SCHEDULE: &str = "schedule";
pub const TRIGGER_MANUAL: &str = "manual";
/// A run's state: recorded as `running` before the prune starts, so a run the server did not
/// finish (a crash, a restart) stays visible as one that never reached `succeeded`.
pub const RUN_RUNNING: &str = "running";
pub const RUN_SUCCEEDED: &str = "succeeded";
pub const RUN_FAILED: &str = "failed";

/// One run of a namespace's policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionRun {
    pub id: i64,
    pub namespace: String,
    /// RFC 3339.
    pub started: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished: Option<String>,
    /// `schedule` or `manual`.
    pub trigger: String,
    /// Who ran it: a user name, or `schedule`.
    pub by: String,
    /// `running`, `succeeded` or `failed`.
    pub state: String,
    /// The policy as it was when the run started.
    pub policy: RetentionPolicy,
    pub deleted_items: i64,
    pub updated_streams: i64,
    pub deleted_images: i64,
    /// Bytes the run freed in the blob store (the prune report's). 0 for a namespace run: it
    /// removes history items (and no Image objects, which other namespaces may share); the blobs
    /// they leave unreferenced are reclaimed later by the registry's garbage collection.
    pub bytes_freed: i64,
    /// The report's `Summary:` line.
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every decision with its reason (only when one run is read, not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<PruneReport>,
}

/// A page of runs, newest first, Kubernetes list style.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionRunList {
    pub items: Vec<RetentionRun>,
    pub metadata: RunListMeta,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunListMeta {
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(errs: &[FieldError]) -> Vec<String> {
        errs.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn every_broken_rule_names_its_field() {
        let p = RetentionPolicy {
            keep_tag_revisions: -1,
            keep_younger_than_seconds: MAX_DURATION_SECONDS + 1,
            keep_tag_patterns: vec!["v1.*".into(), "".into(), "a/b".into(), "v1.*".into()],
            pulled_within_seconds: Some(-5),
        };
        assert_eq!(
            fields(&validate(&p)),
            vec![
                "keepTagRevisions: Invalid value: -1: must be between 0 and 1000",
                "keepYoungerThanSeconds: Invalid value: 315360001: must be between 0 and 315360000 seconds (10 years)",
                "pulledWithinSeconds: Invalid value: -5: must be between 0 and 315360000 seconds (10 years)",
                "keepTagPatterns[1]: Invalid value: \"\": must not be empty",
                "keepTagPatterns[2]: Invalid value: \"a/b\": may contain only letters, digits, '_', '.', '-' and '*' (found '/')",
                "keepTagPatterns[3]: Duplicate value: \"v1.*\"",
            ]
        );
        assert!(validate(&RetentionPolicy::default()).is_empty());
        let many = RetentionPolicy { keep_tag_patterns: (0..21).map(|i| format!("t{i}")).collect(), ..Default::default() };
        assert_eq!(fields(&validate(&many)), vec!["keepTagPatterns: Forbidden: at most 20 patterns"]);
    }

    #[test]
    fn durations_as_typed() {
        for (text, secs) in [("90", 90), ("30s", 30), ("15m", 900), ("3h", 10_800), ("7d", 604_800), ("2w", 1_209_600), ("1h30m", 5400)] {
            assert_eq!(parse_duration(text), Ok(secs), "{text}");
        }
        for bad in ["", "h", "5x", "5m3", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_form_parses_or_names_each_bad_field_once() {
        let p = parse_form("2", "1d", "v1.*, release-*", "").unwrap();
        assert_eq!(
            p,
            RetentionPolicy {
                keep_tag_revisions: 2,
                keep_younger_than_seconds: 86_400,
                keep_tag_patterns: vec!["v1.*".into(), "release-*".into()],
                pulled_within_seconds: None
            }
        );
        let errs = parse_form("two", "soon", "ok a/b", "3d").unwrap_err();
        assert_eq!(
            errs.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(),
            vec!["keepTagRevisions", "keepYoungerThanSeconds", "keepTagPatterns[1]"]
        );
        assert_eq!(parse_form("3", "60m", "", "0").unwrap().pulled_within_seconds, Some(0));
    }

    #[test]
    fn a_run_is_a_confirmed_namespace_prune() {
        let p = RetentionPolicy {
            keep_tag_revisions: 2,
            keep_tag_patterns: vec!["v*".into()],
            pulled_within_seconds: Some(60),
            ..Default::default()
        };
        let o = p.prune_options("team", true);
        assert_eq!((o.namespace.as_deref(), o.confirm, o.keep_tag_revisions), (Some("team"), true, 2));
        assert_eq!((o.keep_tag_patterns, o.pulled_within_seconds), (vec!["v*".to_string()], Some(60)));
        assert_eq!(p.describe(), "keep 2 revision(s) per tag; younger than 1h; tags matching v*; pulled within 1m");
    }
}
