//! How page data travels from the server's render to the browser: the JSON codec of page
//! resources ([`JsonBytes`]) and [`page_resource`].
//!
//! Must not: call server functions or know any transfer type (it is generic over them).

use leptos::prelude::*;
use serde::Serialize;

/// The codec of page resources: JSON, as Leptos' default, but decoded from bytes. Server
/// functions decode their answers from bytes too, so the browser build carries one JSON
/// deserializer per model type instead of two (one per reader; measured: see README).
pub struct JsonBytes;

impl<T: Serialize> leptos::server::codee::Encoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = String;
    fn encode(val: &T) -> Result<String, Self::Error> {
        serde_json::to_string(val)
    }
}

impl<T: serde::de::DeserializeOwned> leptos::server::codee::Decoder<T> for JsonBytes {
    type Error = serde_json::Error;
    type Encoded = str;
    fn decode(val: &str) -> Result<T, Self::Error> {
        serde_json::from_slice(val.as_bytes())
    }
}

/// A page resource: loads with `fetcher` whenever `source` changes; the server's first value
/// travels to the browser in the page (see [`JsonBytes`]).
#[track_caller]
pub fn page_resource<S, T, Fut>(
    source: impl Fn() -> S + Send + Sync + 'static,
    fetcher: impl Fn(S) -> Fut + Send + Sync + 'static,
) -> Resource<T, JsonBytes>
where
    S: PartialEq + Clone + Send + Sync + 'static,
    T: Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    Resource::new_with_options(source, fetcher, false)
}
