//! Kubernetes selectors on lists and watches (`?labelSelector=`, `?fieldSelector=`), with
//! upstream's syntax and messages (`k8s.io/apimachinery/pkg/labels` and `pkg/fields`):
//!
//! - labels: comma-separated requirements `key=value`, `key==value`, `key!=value`,
//!   `key in (a,b)`, `key notin (a,b)`, `key` (exists) and `!key` (does not exist); all must hold;
//! - fields: `metadata.name` and `metadata.namespace` with `=`, `==` or `!=`; any other field is
//!   refused (`field label not supported: <field>`), never ignored.
//!
//! Bounded: at most `MAX_SELECTOR_LEN` characters and `MAX_REQUIREMENTS` requirements.
//! Must not: know which objects it is applied to (callers pass labels, names and namespaces).

use std::collections::{BTreeMap, BTreeSet};

/// The longest selector accepted, in characters.
pub const MAX_SELECTOR_LEN: usize = 4096;
/// The most requirements one selector may have.
pub const MAX_REQUIREMENTS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Operator {
    Equals(String),
    NotEquals(String),
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

/// A parsed label selector; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<(String, Operator)>);

/// Splits on commas outside parentheses.
fn split_requirements(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (vec![], 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().map(str::trim).filter(|p| !p.is_empty()).collect()
}

/// Upstream's rule for label keys: an optional DNS-subdomain prefix and `/`, then a name of at
/// most 63 characters, alphanumeric at both ends, `-`, `_` and `.` inside.
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 63
        && n.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && n.starts_with(|c: char| c.is_ascii_alphanumeric())
        && n.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Whether `k` is a valid label or annotation key (a qualified name, `apimachinery`'s
/// `IsQualifiedName`).
pub fn valid_key(k: &str) -> bool {
    match k.split_once('/') {
        Some((prefix, name)) => !prefix.is_empty() && prefix.len() <= 253 && valid_name(name) && prefix.split('.').all(valid_name),
        None => valid_name(k),
    }
}

/// Whether `v` is a valid label value (`IsValidLabelValue`): empty, or a name part.
pub fn valid_value(v: &str) -> bool {
    v.is_empty() || valid_name(v)
}

fn bad(requirement: &str, why: &str) -> String {
    format!("unable to parse requirement: {requirement:?}: {why}")
}

impl LabelSelector {
    /// Parses a label selector, or says why not in upstream's words.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        if s.chars().count() > MAX_SELECTOR_LEN {
            return Err(format!("the label selector is longer than {MAX_SELECTOR_LEN} characters"));
        }
        let parts = split_requirements(s);
        if parts.len() > MAX_REQUIREMENTS {
            return Err(format!("the label selector has more than {MAX_REQUIREMENTS} requirements"));
        }
        let mut out = vec![];
        for part in parts {
            let (key, op) = parse_requirement(part)?;
            if !valid_key(&key) {
                return Err(bad(
                    part,
                    &format!(
                        "invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
                    ),
                ));
            }
            out.push((key, op));
        }
        Ok(LabelSelector(out))
    }

    /// Whether labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, op)| match op {
            Operator::Equals(v) => labels.get(k) == Some(v),
            Operator::NotEquals(v) => labels.get(k) != Some(v),
            Operator::In(vs) => labels.get(k).is_some_and(|l| vs.contains(l)),
            Operator::NotIn(vs) => labels.get(k).is_none_or(|l| !vs.contains(l)),
            Operator::Exists => labels.contains_key(k),
            Operator::DoesNotExist => !labels.contains_key(k),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_set(part: &str, rest: &str) -> Result<BTreeSet<String>, String> {
    let inner = rest.trim().strip_prefix('(').and_then(|r| r.strip_suffix(')')).ok_or_else(|| bad(part, "found '', expected: '('"))?;
    let values: BTreeSet<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if let Some(v) = values.iter().find(|v| !valid_value(v)) {
        return Err(bad(part, &format!("invalid label value: {v:?}")));
    }
    Ok(values)
}

fn parse_requirement(part: &str) -> Result<(String, Operator), String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok((key.trim().to_string(), Operator::DoesNotExist));
    }
    if let Some((key, value)) = part.split_once("!=") {
        let value = value.trim();
        if !valid_value(value) {
            return Err(bad(part, &format!("invalid label value: {value:?}")));
        }
        return Ok((key.trim().to_string(), Operator::NotEquals(value.to_string())));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        let value = value.trim();
        if !valid_value(value) {
            return Err(bad(part, &format!("invalid label value: {value:?}")));
        }
        return Ok((key.trim().to_string(), Operator::Equals(value.to_string())));
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default().to_string();
    match words.next().map(str::trim_start) {
        None => Ok((key, Operator::Exists)),
        Some(rest) if rest.starts_with("notin") => Ok((key, Operator::NotIn(parse_set(part, &rest["notin".len()..])?))),
        Some(rest) if rest.starts_with("in") => Ok((key, Operator::In(parse_set(part, &rest["in".len()..])?))),
        Some(_) => Err(bad(part, "found unexpected text, expected: in, notin, =, ==, !=")),
    }
}

/// A parsed field selector over `metadata.name` and `metadata.namespace`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<(FieldName, bool, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FieldName {
    Name,
    Namespace,
}

impl FieldSelector {
    /// Parses a field selector; a field other than `metadata.name` and `metadata.namespace` is
    /// refused with upstream's message.
    pub fn parse(s: &str) -> Result<FieldSelector, String> {
        if s.chars().count() > MAX_SELECTOR_LEN {
            return Err(format!("the field selector is longer than {MAX_SELECTOR_LEN} characters"));
        }
        let mut requirements = vec![];
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: '{part}'; can't understand '{part}'"));
            };
            let name = match field.trim() {
                "metadata.name" => FieldName::Name,
                "metadata.namespace" => FieldName::Namespace,
                other => return Err(format!("field label not supported: {other}")),
            };
            requirements.push((name, equal, value.trim().to_string()));
        }
        if requirements.len() > MAX_REQUIREMENTS {
            return Err(format!("the field selector has more than {MAX_REQUIREMENTS} requirements"));
        }
        Ok(FieldSelector { requirements })
    }

    /// Whether an object of this name and namespace is selected.
    pub fn matches(&self, name: &str, namespace: &str) -> bool {
        self.requirements.iter().all(|(field, equal, value)| {
            let actual = match field {
                FieldName::Name => name,
                FieldName::Namespace => namespace,
            };
            (actual == value) == *equal
        })
    }

    /// The one name an equality requirement pins (lets a store read just that object).
    pub fn name(&self) -> Option<&str> {
        self.requirements.iter().find(|(f, eq, _)| *f == FieldName::Name && *eq).map(|(_, _, v)| v.as_str())
    }

    /// The one namespace an equality requirement pins.
    pub fn namespace(&self) -> Option<&str> {
        self.requirements.iter().find(|(f, eq, _)| *f == FieldName::Namespace && *eq).map(|(_, _, v)| v.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether a requirement is `!=` (watches follow equalities only).
    pub fn has_inequality(&self) -> bool {
        self.requirements.iter().any(|(_, equal, _)| !equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selectors_follow_upstream_syntax() {
        let l = labels(&[("team", "blue"), ("tier", "web")]);
        for (sel, want) in [
            ("team=blue", true),
            ("team==blue", true),
            ("team!=blue", false),
            ("team in (red, blue)", true),
            ("team notin (red,blue)", false),
            ("team,tier=web", true),
            ("!team", false),
            ("!owner", true),
            ("owner", false),
            ("example.com/owner!=x", true),
            ("", true),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
        assert!(LabelSelector::parse("team in blue").unwrap_err().contains("expected: '('"));
        assert!(LabelSelector::parse("te am=x").is_err());
        assert!(LabelSelector::parse("team=-x").unwrap_err().contains("invalid label value"));
        assert!(LabelSelector::parse(&"a=b,".repeat(100)).is_err());
    }

    #[test]
    fn field_selectors_name_and_namespace_only() {
        let f = FieldSelector::parse("metadata.name=app,metadata.namespace!=other").unwrap();
        assert!(f.matches("app", "team"));
        assert!(!f.matches("app", "other"));
        assert_eq!(f.name(), Some("app"));
        assert_eq!(FieldSelector::parse("spec.foo=x").unwrap_err(), "field label not supported: spec.foo");
        assert!(FieldSelector::parse("metadata.name").is_err());
    }
}
