//! YAML for the API (`Accept: application/yaml`, YAML request bodies), the CLI's `-o yaml` and
//! the image page: one place that chooses the crate and its limits. `serde-saphyr` is maintained
//! (`serde_yaml` is archived), never panics on input, and bounds what a document may cost while
//! it is parsed (alias expansion, nesting depth, events), so a small body cannot expand into a
//! large one.
//!
//! Must not: be used for anything but (de)serialising API objects.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The YAML form of an API object. Serialising our model types cannot fail (string keys, no
/// non-finite floats); should it ever, the error text is the document.
pub fn to_string<T: Serialize>(value: &T) -> String {
    try_to_string(value).unwrap_or_else(|e| format!("# could not encode YAML: {e}\n"))
}

/// The YAML form of an API object, or why it could not be written.
pub fn try_to_string<T: Serialize>(value: &T) -> Result<String, String> {
    serde_saphyr::to_string(value).map_err(|e| e.to_string())
}

/// The most aliases (`*name`) a document may use. API objects need none (kubectl and oc send
/// JSON); a few are allowed for hand-written files. Each alias can at most repeat what the body
/// already holds, so a body of at most 2 MiB decodes into at most `(MAX_ALIASES + 1) × 2 MiB`.
pub const MAX_ALIASES: usize = 8;
/// The deepest nesting of collections a document may have; our objects need about ten levels.
pub const MAX_DEPTH: usize = 32;

/// The parser's budget for request bodies: counted while the document is parsed, before any
/// value is built, so an alias bomb or a deeply nested document fails at the first event over
/// the limit (linear work), never after expanding it.
fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_aliases: MAX_ALIASES,
            max_anchors: 64,
            max_depth: MAX_DEPTH,
            flow_nesting_limit: MAX_DEPTH,
            max_documents: 1,
            max_nodes: 100_000,
            max_events: 200_000,
            max_total_scalar_bytes: 4 * 1024 * 1024,
            max_recorded_anchor_bytes: 256 * 1024,
            max_recorded_anchor_events: 10_000,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
            max_replay_stack_depth: 4,
            max_alias_expansions_per_anchor: MAX_ALIASES,
        },
    }
}

/// Decodes one YAML document into `T` within `options`' budget (aliases, depth, size): an alias
/// bomb or runaway nesting is an error, found in time linear in the body.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the document is not UTF-8: {e}"))?;
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::ImageStream;

    #[test]
    fn an_image_stream_round_trips() {
        let mut s = ImageStream::new("ns", "app");
        s.metadata.resource_version = Some("42".into());
        let text = to_string(&s);
        assert!(text.contains("kind: ImageStream\n"), "{text}");
        let back: ImageStream = from_slice(text.as_bytes()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn an_alias_bomb_is_refused_not_expanded() {
        let mut doc = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            doc.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let parsed: Result<serde_json::Value, String> = from_slice(doc.as_bytes());
        assert!(parsed.is_err(), "10^12 nodes from a 1 KB document must be refused");
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert!(from_slice::<serde_json::Value>(&[0xff, 0xfe]).is_err());
    }
}
