//! Docker pull specs (spec §2.4): the anchored grammar `[domain/]name[:tag][@digest]`, the split
//! into registry / namespace / name / tag / id, and the printing and defaulting helpers.
//! Hand-written instead of a regex engine: the rules are small, it never backtracks, and it keeps
//! the browser bundle small (this module is compiled to WASM for form validation).
//! Stored strings are never normalised here; callers choose `exact()` or `to_string()`.
//!
//! Must not: resolve or contact a registry (this is grammar only).

use std::fmt;

/// Docker Hub's canonical registry name and its aliases.
pub const DOCKER_DEFAULT_REGISTRY: &str = "docker.io";
pub const DOCKER_DEFAULT_V1_REGISTRY: &str = "index.docker.io";
pub const DOCKER_DEFAULT_V2_REGISTRY: &str = "registry-1.docker.io";
/// The longest accepted repository name, domain included.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// Why a pull spec does not parse; `Display` gives upstream's exact message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceError {
    NameEmpty,
    NameContainsUppercase,
    InvalidFormat,
    NameTooLong,
    DigestInvalidLength,
    DigestUnsupported,
    DigestInvalidFormat,
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReferenceError::NameEmpty => "repository name must have at least one component",
            ReferenceError::NameContainsUppercase => "repository name must be lowercase",
            ReferenceError::InvalidFormat => "invalid reference format",
            ReferenceError::NameTooLong => "repository name must not be more than 255 characters",
            ReferenceError::DigestInvalidLength => "invalid checksum digest length",
            ReferenceError::DigestUnsupported => "unsupported digest algorithm",
            ReferenceError::DigestInvalidFormat => "invalid checksum digest format",
        })
    }
}

impl std::error::Error for ReferenceError {}

/// A parsed pull spec. Empty strings mean "not given".
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DockerImageReference {
    pub registry: String,
    pub namespace: String,
    pub name: String,
    pub tag: String,
    pub id: String,
}

fn is_lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*`
pub fn is_name_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or any number of "-".
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`
fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Host components joined by `.`, optionally followed by `:<digits>`.
fn is_domain(s: &str) -> bool {
    let (host, port) = match s.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (s, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return false;
    }
    host.split('.').all(is_domain_component)
}

/// `[\w][\w.-]{0,127}`: at most 128 characters, the first a word character.
pub fn is_valid_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b.len() <= 128 && is_word(b[0]) && b.iter().all(|c| is_word(*c) || *c == b'.' || *c == b'-')
}

/// The digest shape `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn matches_digest_shape(s: &str) -> bool {
    let Some((alg, hex)) = s.split_once(':') else {
        return false;
    };
    if hex.len() < 32 || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    let b = alg.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut i = 0;
    loop {
        // One component: a letter then letters/digits.
        if i >= b.len() || !b[i].is_ascii_alphabetic() {
            return false;
        }
        i += 1;
        while i < b.len() && b[i].is_ascii_alphanumeric() {
            i += 1;
        }
        if i == b.len() {
            return true;
        }
        if !matches!(b[i], b'-' | b'_' | b'+' | b'.') {
            return false;
        }
        i += 1;
    }
}

/// Validates a digest string: shape, then a supported algorithm with its exact hex length.
pub fn parse_digest(s: &str) -> Result<(), ReferenceError> {
    if !matches_digest_shape(s) {
        return Err(ReferenceError::DigestInvalidFormat);
    }
    let (alg, hex) = s.split_once(':').unwrap_or_default();
    let want = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(ReferenceError::DigestUnsupported),
    };
    if hex.len() != want {
        return Err(ReferenceError::DigestInvalidLength);
    }
    // go-digest's encoding is lowercase hex (`^[a-f0-9]{64}$` for sha256): `sha256:AB…` and
    // `sha256:ab…` would otherwise be two images, and the registry refuses the first.
    if !hex.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ReferenceError::DigestInvalidFormat);
    }
    Ok(())
}

/// True when `s` is a complete, supported digest (`sha256:<64 hex>` …).
pub fn is_digest(s: &str) -> bool {
    parse_digest(s).is_ok()
}

/// The three matched parts of a reference: name (with domain), tag, digest.
struct Matched<'a> {
    name: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// The anchored reference grammar; `None` when the string does not match.
fn match_reference(s: &str) -> Option<Matched<'_>> {
    let (left, digest) = match s.split_once('@') {
        Some((l, d)) => (l, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest
        && !matches_digest_shape(d)
    {
        return None;
    }
    // A tag separator is a ':' after the last '/'; a ':' before it belongs to a port.
    let last_slash = left.rfind('/');
    let (name, tag) = match left.rfind(':') {
        Some(c) if last_slash.is_none_or(|sl| c > sl) => (&left[..c], Some(&left[c + 1..])),
        _ => (left, None),
    };
    if let Some(t) = tag
        && !is_valid_tag(t)
    {
        return None;
    }
    let comps: Vec<&str> = name.split('/').collect();
    let (first, rest) = comps.split_first()?;
    let first_ok = if rest.is_empty() { is_name_component(first) } else { is_name_component(first) || is_domain(first) };
    if !first_ok || !rest.iter().all(|c| is_name_component(c)) {
        return None;
    }
    Some(Matched { name, tag, digest })
}

impl DockerImageReference {
    /// Parses a pull spec with upstream's errors, in upstream's priority order.
    pub fn parse(spec: &str) -> Result<Self, ReferenceError> {
        if spec.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        let Some(m) = match_reference(spec) else {
            if match_reference(&spec.to_ascii_lowercase()).is_some() {
                return Err(ReferenceError::NameContainsUppercase);
            }
            return Err(ReferenceError::InvalidFormat);
        };
        if m.name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong);
        }
        if let Some(d) = m.digest {
            parse_digest(d)?;
        }
        let mut r = DockerImageReference::default();
        let slash = m.name.find('/');
        let registry_only = slash.is_none() && (m.name.contains('.') || m.name.starts_with("localhost"));
        let name_only = match slash {
            None => !registry_only,
            Some(i) => {
                let first = &m.name[..i];
                !first.contains([':', '.']) && first != "localhost"
            }
        };
        if registry_only {
            // Upstream keeps the whole matched reference as the registry (tag and digest included).
            r.registry = spec.to_string();
        } else if name_only {
            r.name = m.name.to_string();
        } else if let Some(i) = slash {
            r.registry = m.name[..i].to_string();
            r.name = m.name[i + 1..].to_string();
        }
        if !registry_only && let Some(t) = m.tag {
            r.tag = t.to_string();
        }
        if let Some(d) = m.digest {
            r.id = d.to_string();
        }
        if let Some(i) = r.name.find('/') {
            r.namespace = r.name[..i].to_string();
            r.name = r.name[i + 1..].to_string();
        }
        Ok(r)
    }

    /// `name[:tag|@id]`: an id that is a digest prints as `@id`, any other as `:id`; id wins.
    pub fn name_string(&self) -> String {
        if self.name.is_empty() {
            String::new()
        } else if !self.id.is_empty() {
            let sep = if is_digest(&self.id) { '@' } else { ':' };
            format!("{}{}{}", self.name, sep, self.id)
        } else if !self.tag.is_empty() {
            format!("{}:{}", self.name, self.tag)
        } else {
            self.name.clone()
        }
    }

    /// Prints only the fields that are set: `[registry/][namespace/]name[:tag|@id]`.
    pub fn exact(&self) -> String {
        let mut s = self.registry.clone();
        if !s.is_empty() {
            s.push('/');
        }
        if !self.namespace.is_empty() {
            s.push_str(&self.namespace);
            s.push('/');
        }
        let name = self.name_string();
        if name.is_empty() {
            return if self.registry.is_empty() { String::new() } else { s };
        }
        s + &name
    }

    /// The registry-relative repository: `[namespace/]name`.
    pub fn repository_name(&self) -> String {
        let r = DockerImageReference { registry: String::new(), tag: String::new(), id: String::new(), ..self.clone() };
        r.exact()
    }

    /// The reference without tag or id.
    pub fn as_repository(&self) -> Self {
        DockerImageReference { tag: String::new(), id: String::new(), ..self.clone() }
    }

    /// Fills what a Docker client assumes: `docker.io`, `library` on Docker Hub, `latest`.
    pub fn docker_client_defaults(&self) -> Self {
        let mut r = self.clone();
        if r.registry.is_empty() {
            r.registry = DOCKER_DEFAULT_REGISTRY.into();
        }
        if r.namespace.is_empty() && is_registry_docker_hub(&r.registry) {
            r.namespace = "library".into();
        }
        if r.tag.is_empty() {
            r.tag = "latest".into();
        }
        r
    }

    /// Prefers the id over the tag: a digest id drops the tag; a non-digest id becomes the tag.
    pub fn most_specific(&self) -> Self {
        let mut r = self.clone();
        if r.id.is_empty() {
            return r;
        }
        if is_digest(&r.id) {
            r.tag.clear();
        } else if r.tag.is_empty() {
            r.tag = std::mem::take(&mut r.id);
        }
        r
    }

    /// Equality after Docker client defaults: `foobar` equals `docker.io/library/foobar:latest`.
    pub fn equivalent(&self, other: &Self) -> bool {
        self.docker_client_defaults() == other.docker_client_defaults()
    }

    /// Host and port to contact: Docker Hub becomes `registry-1.docker.io`; the port defaults to
    /// 443, or 80 when insecure.
    pub fn registry_host_port(&self, insecure: bool) -> (String, String) {
        let mut host = if self.registry.is_empty() { DOCKER_DEFAULT_REGISTRY.to_string() } else { self.registry.clone() };
        if host == DOCKER_DEFAULT_REGISTRY || host == DOCKER_DEFAULT_V1_REGISTRY {
            host = DOCKER_DEFAULT_V2_REGISTRY.into();
        }
        if let Some((h, p)) = host.rsplit_once(':') {
            return (h.to_string(), p.to_string());
        }
        (host, if insecure { "80".into() } else { "443".into() })
    }
}

/// `String()` upstream: `exact()` with `library` inserted for Docker Hub registries.
impl fmt::Display for DockerImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut r = self.clone();
        if r.namespace.is_empty() && is_registry_docker_hub(&r.registry) {
            r.namespace = "library".into();
        }
        f.write_str(&r.exact())
    }
}

pub fn is_registry_docker_hub(registry: &str) -> bool {
    matches!(registry, DOCKER_DEFAULT_REGISTRY | DOCKER_DEFAULT_V1_REGISTRY | DOCKER_DEFAULT_V2_REGISTRY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// go-digest refuses uppercase hex ("invalid checksum digest format"), so `sha256:AB…` is
    /// not a second name of `sha256:ab…` (a helper mapped both as two images).
    #[test]
    fn digests_are_lowercase_hex() {
        assert_eq!(parse_digest(&format!("sha256:{}", "AB".repeat(32))), Err(ReferenceError::DigestInvalidFormat));
        assert_eq!(parse_digest(&format!("sha256:{}", "ab".repeat(32))), Ok(()));
        assert!(DockerImageReference::parse(&format!("quay.io/a/b@sha256:{}", "AB".repeat(32))).is_err());
    }

    fn p(s: &str) -> DockerImageReference {
        DockerImageReference::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn parts(r: &DockerImageReference) -> [&str; 5] {
        [&r.registry, &r.namespace, &r.name, &r.tag, &r.id]
    }

    #[test]
    fn splits_registry_namespace_name_tag_id() {
        let cases: &[(&str, [&str; 5])] = &[
            ("busybox", ["", "", "busybox", "", ""]),
            ("busybox:1.36", ["", "", "busybox", "1.36", ""]),
            ("docker.io/busybox", ["docker.io", "", "busybox", "", ""]),
            ("quay.io/org/app:v1", ["quay.io", "org", "app", "v1", ""]),
            ("bar/foo/baz", ["", "bar", "foo/baz", "", ""]),
            ("localhost/app", ["localhost", "", "app", "", ""]),
            ("localhost:5000/ns/app:t", ["localhost:5000", "ns", "app", "t", ""]),
            ("FOO/bar", ["", "FOO", "bar", "", ""]),
            ("quay.io", ["quay.io", "", "", "", ""]),
            ("localhost:5000", ["localhost:5000", "", "", "", ""]),
            ("localhostfoo", ["localhostfoo", "", "", "", ""]),
            ("a--b/c__d", ["", "a--b", "c__d", "", ""]),
        ];
        for (spec, want) in cases {
            assert_eq!(parts(&p(spec)), *want, "{spec}");
        }
        let r = p(&format!("quay.io/org/app:v1@{D}"));
        assert_eq!(parts(&r), ["quay.io", "org", "app", "v1", D]);
    }

    #[test]
    fn errors_in_priority_order() {
        let e = |s: &str| DockerImageReference::parse(s).unwrap_err().to_string();
        assert_eq!(e(""), "repository name must have at least one component");
        assert_eq!(e("Foo"), "repository name must be lowercase");
        assert_eq!(e("quay.io/Org/App"), "repository name must be lowercase");
        for bad in ["a..b", "a-.b", "-a", "a_", "_a", "a/", "/a", "a:", "a@", "a:-x", "a b"] {
            assert_eq!(e(bad), "invalid reference format", "{bad}");
        }
        let long = format!("a/{}", "b".repeat(254));
        assert_eq!(e(&long), "repository name must not be more than 255 characters");
        assert_eq!(e(&format!("a@sha256:{}", "a".repeat(32))), "invalid checksum digest length");
        assert_eq!(e(&format!("a@md5:{}", "a".repeat(32))), "unsupported digest algorithm");
        assert_eq!(e(&format!("a:{}", "t".repeat(129))), "invalid reference format");
        assert!(DockerImageReference::parse(&format!("a:{}", "t".repeat(128))).is_ok());
    }

    #[test]
    fn exact_string_and_defaults() {
        assert_eq!(p("busybox").exact(), "busybox");
        assert_eq!(p("busybox").to_string(), "busybox");
        assert_eq!(p("docker.io/busybox:1").to_string(), "docker.io/library/busybox:1");
        assert_eq!(p("docker.io/busybox:1").exact(), "docker.io/busybox:1");
        assert_eq!(p("busybox:1.36").docker_client_defaults().exact(), "docker.io/library/busybox:1.36");
        assert_eq!(p(&format!("a:t@{D}")).exact(), format!("a@{D}"));
        assert_eq!(p(&format!("a:t@{D}")).most_specific().tag, "");
        assert_eq!(p("quay.io").exact(), "quay.io/");
        assert!(p("foobar").equivalent(&p("docker.io/library/foobar:latest")));
        assert_eq!(p("busybox").registry_host_port(false), ("registry-1.docker.io".into(), "443".into()));
        assert_eq!(p("r.io/a").registry_host_port(true), ("r.io".into(), "80".into()));
        assert_eq!(p("r.io:5000/a").registry_host_port(false), ("r.io".into(), "5000".into()));
        assert_eq!(p("quay.io/org/app:1").repository_name(), "org/app");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = DockerImageReference::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_reference_alphabet(s in "[a-zA-Z0-9:/@._-]{0,80}") {
            let _ = DockerImageReference::parse(&s);
        }

        #[test]
        fn print_parse_round_trips(
            reg in proptest::option::of("[a-z][a-z0-9]{0,8}\\.(io|com)(:[0-9]{2,5})?"),
            ns in proptest::option::of("[a-z0-9]{1,6}([_-][a-z0-9]{1,4})?"),
            // No "." here: a dotted single component is a registry by upstream's rule (tested above).
            name in "[a-z0-9]{1,8}((__|-+|_)[a-z0-9]{1,5}){0,2}",
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
            id in proptest::option::of("[0-9a-f]{64}"),
        ) {
            let mut spec = String::new();
            if let Some(r) = &reg { spec.push_str(r); spec.push('/'); }
            if let Some(n) = &ns { spec.push_str(n); spec.push('/'); }
            spec.push_str(&name);
            if let Some(t) = &tag { spec.push(':'); spec.push_str(t); }
            if let Some(i) = &id { spec.push_str("@sha256:"); spec.push_str(i); }
            let parsed = DockerImageReference::parse(&spec).unwrap();
            let printed = parsed.exact();
            let reparsed = DockerImageReference::parse(&printed).unwrap();
            // Exact() drops the tag when an id is present (id wins); everything else survives.
            let mut expected = parsed.clone();
            if !expected.id.is_empty() { expected.tag.clear(); }
            prop_assert_eq!(reparsed, expected);
            prop_assert_eq!(parsed.registry, reg.unwrap_or_default());
        }
    }
}
