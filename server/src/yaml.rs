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

/// Decodes one YAML document into `T`, within serde-saphyr's default budget (it refuses alias
/// bombs and runaway nesting with an error instead of working through them).
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the document is not UTF-8: {e}"))?;
    serde_saphyr::from_str(text).map_err(|e| e.to_string())
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
