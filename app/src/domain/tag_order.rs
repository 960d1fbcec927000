//! The tag priority order used by `describe` and by repository imports (spec §9.3, §4.2 step 8):
//! `latest`; then minor versions (`5.1`, `v5.1`, `5.1-rc1`) newest first; then full semantic
//! versions (`5.1.3`, `v5.1.3-other`) newest first; then everything else alphabetically. For equal
//! versions the tag without the `v` prefix comes first (`2.0` before `v2.0`).
//!
//! [`version_cmp`] is the order people read tag names in (issue 17 point 3): numbers compare as
//! numbers, so `1.0.2` comes before `1.0.10` in the tag table, the timeline and the catalog.
//!
//! Must not: drop or rename tags (it only orders them).

use std::cmp::Ordering;

/// A semantic version: numbers, pre-release identifiers (build metadata is ignored for order).
#[derive(Clone, Debug, PartialEq, Eq)]
struct SemVer {
    core: [u64; 3],
    pre: Vec<String>,
}

fn parse_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0')) {
        return None;
    }
    s.parse().ok()
}

fn valid_ident(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// Strict `MAJOR.MINOR.PATCH[-pre][+build]`, as blang/semver parses it.
fn parse_semver(s: &str) -> Option<SemVer> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    if let Some(b) = build
        && !b.split('.').all(valid_ident)
    {
        return None;
    }
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    if nums.len() != 3 {
        return None;
    }
    let core = [parse_number(nums[0])?, parse_number(nums[1])?, parse_number(nums[2])?];
    let pre = match pre {
        None => vec![],
        Some(p) => {
            let ids: Vec<String> = p.split('.').map(str::to_string).collect();
            // Numeric identifiers must not have leading zeros.
            if !ids.iter().all(|i| valid_ident(i) && (!i.bytes().all(|c| c.is_ascii_digit()) || parse_number(i).is_some())) {
                return None;
            }
            ids
        }
    };
    Some(SemVer { core, pre })
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                for (a, b) in self.pre.iter().zip(&other.pre) {
                    let ord = match (a.parse::<u64>(), b.parse::<u64>()) {
                        (Ok(x), Ok(y)) => x.cmp(&y),
                        (Ok(_), Err(_)) => Ordering::Less,
                        (Err(_), Ok(_)) => Ordering::Greater,
                        (Err(_), Err(_)) => a.cmp(b),
                    };
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
                self.pre.len().cmp(&other.pre.len())
            }
        })
    }
}

impl PartialOrd for SemVer {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Debug)]
enum Priority {
    Latest,
    Minor(SemVer),
    Full(SemVer),
    Other,
}

fn rank(p: &Priority) -> u8 {
    match p {
        Priority::Latest => 0,
        Priority::Minor(_) => 1,
        Priority::Full(_) => 2,
        Priority::Other => 3,
    }
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

fn prioritize(tag: &str) -> (Priority, bool) {
    if tag == "latest" {
        return (Priority::Latest, false);
    }
    let (short, prefixed) = match tag.strip_prefix('v') {
        Some(s) => (s, true),
        None => (tag, false),
    };
    if let Some(v) = parse_semver(short) {
        return (Priority::Full(v), prefixed);
    }
    // `X.Y` and `X.Y-word`: read as `X.Y.0[-word]`.
    let (minor, suffix) = match short.split_once('-') {
        Some((m, s)) => (m, Some(s)),
        None => (short, None),
    };
    if let Some((x, y)) = minor.split_once('.')
        && is_digits(x)
        && is_digits(y)
        && suffix.is_none_or(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')))
    {
        let expanded = match suffix {
            Some(s) => format!("{minor}.0-{s}"),
            None => format!("{minor}.0"),
        };
        if let Some(v) = parse_semver(&expanded) {
            return (Priority::Minor(v), prefixed);
        }
    }
    (Priority::Other, prefixed)
}

/// Orders tags by upstream's priority (see the module doc). Stable and total.
pub fn prioritize_tags(tags: &mut [String]) {
    let mut keyed: Vec<(Priority, bool, String)> = tags
        .iter()
        .map(|t| {
            let (p, prefixed) = prioritize(t);
            (p, prefixed, t.clone())
        })
        .collect();
    keyed.sort_by(|a, b| {
        rank(&a.0).cmp(&rank(&b.0)).then_with(|| match (&a.0, &b.0) {
            (Priority::Minor(x), Priority::Minor(y)) | (Priority::Full(x), Priority::Full(y)) => {
                y.cmp(x).then(a.1.cmp(&b.1)).then_with(|| a.2.cmp(&b.2))
            }
            _ => a.2.cmp(&b.2),
        })
    });
    for (slot, (_, _, t)) in tags.iter_mut().zip(keyed) {
        *slot = t;
    }
}

/// Tag names in "version" order: runs of digits compare as numbers (`1.0.2` < `1.0.10`,
/// `build-9` < `build-10`), everything else character by character; digits before letters.
/// Names equal in that reading (`1.01` and `1.1`) fall back to plain order, so it is total.
pub fn version_cmp(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a.as_bytes(), b.as_bytes());
    loop {
        match (x.first(), y.first()) {
            (None, None) => return a.cmp(b),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(p), Some(q)) if p.is_ascii_digit() && q.is_ascii_digit() => {
                let run = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
                let (m, n) = (run(x), run(y));
                // Leading zeros do not make a number bigger.
                let trim = |s: &'_ [u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
                let (dx, dy) = (&x[trim(&x[..m]).min(m)..m], &y[trim(&y[..n]).min(n)..n]);
                let ord = dx.len().cmp(&dy.len()).then_with(|| dx.cmp(dy));
                if ord != Ordering::Equal {
                    return ord;
                }
                (x, y) = (&x[m..], &y[n..]);
            }
            (Some(p), Some(q)) => {
                // A digit sorts before any other character.
                let ord = match (p.is_ascii_digit(), q.is_ascii_digit()) {
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    _ => p.cmp(q),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
                (x, y) = (&x[1..], &y[1..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_numbers() {
        let mut v = vec!["1.0.10", "latest", "1.0.2", "build-10", "1.0.2-rc1", "build-9", "v2", "10", "9", "1.01", "1.1", "a"];
        v.sort_by(|a, b| version_cmp(a, b));
        assert_eq!(v, vec!["1.0.2", "1.0.2-rc1", "1.0.10", "1.01", "1.1", "9", "10", "a", "build-9", "build-10", "latest", "v2"]);
        assert_eq!(version_cmp("1.0.2", "1.0.10"), Ordering::Less);
        assert_eq!(version_cmp("x", "x"), Ordering::Equal);
        assert_eq!(version_cmp(&"9".repeat(40), &"1".repeat(41)), Ordering::Less, "no overflow on long numbers");
    }

    fn order(tags: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = tags.iter().map(|s| s.to_string()).collect();
        prioritize_tags(&mut v);
        v
    }

    #[test]
    fn upstream_order() {
        assert_eq!(
            order(&["other", "1.0.0", "v2.0", "latest", "2.0", "5.1-rc1", "5.1", "v1.2.3-beta", "1.2.3", "abc", "10.0"]),
            vec!["latest", "10.0", "5.1", "5.1-rc1", "2.0", "v2.0", "1.2.3", "v1.2.3-beta", "1.0.0", "abc", "other"]
        );
    }

    #[test]
    fn non_versions_are_alphabetical() {
        assert_eq!(order(&["b", "a", "1", "v01.2", "c.d"]), vec!["1", "a", "b", "c.d", "v01.2"]);
    }
}
