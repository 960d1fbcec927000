//! YAML for the API (`Accept: application/yaml`, YAML request bodies), the CLI's `-o yaml` and
//! the image page: one place that chooses the crate and its limits.
//!
//! Must not: be used for anything but (de)serialising API objects.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The YAML form of an API object. Serialising our model types cannot fail (string keys, no
/// non-finite floats); should it ever, the error text is the document.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    serde_yaml::to_string(value).unwrap_or_else(|e| format!("# could not encode YAML: {e}\n"))
}

/// The YAML form of an API object, or why it could not be written.
pub fn try_to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, String> {
    serde_yaml::to_string(value).map_err(|e| e.to_string())
}

/// Decodes a YAML document into `T`.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_yaml::from_slice(body).map_err(|e| e.to_string())
}
