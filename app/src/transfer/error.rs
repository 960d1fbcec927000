//! [`ApiFailure`], the error every server function answers with: the message, the form field it
//! concerns (if any) and the HTTP status, so a page shows it next to its field or as an alert.
//!
//! Must not: depend on anything in `app` but `model` (widgets and views use this type, and
//! the server functions must stay above them).

use crate::model::ApiError;
use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// An error a page can show: the message, and the form field it is about (if any).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiFailure {
    pub message: String,
    pub field: Option<String>,
    pub code: u16,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl FromServerFnError for ApiFailure {
    type Encoder = JsonEncoding;
    /// What server_fn itself reports, with the status of whose fault it is: arguments that are
    /// missing or do not decode are the caller's (400; a body past the route's limit, 413), a
    /// method the function does not take 405; the rest (serializing our own answer, a
    /// browser-side request failure) 500.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let code = match &value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::Deserialization(m) if m.contains("length limit exceeded") => 413,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) | ServerFnErrorErr::Deserialization(_) => 400,
            ServerFnErrorErr::UnsupportedRequestMethod(_) => 405,
            _ => 500,
        };
        ApiFailure { message: value.to_string(), field: None, code }
    }
}

impl From<ApiError> for ApiFailure {
    fn from(e: ApiError) -> Self {
        let field = e.status.details.as_ref().and_then(|d| d.causes.first()).map(|c| c.field.clone()).filter(|f| !f.is_empty());
        ApiFailure { message: e.message().to_string(), field, code: e.code() }
    }
}

impl ApiFailure {
    /// A client-side rule broken in a form field.
    pub fn at(field: &str, message: impl Into<String>) -> Self {
        ApiFailure { message: message.into(), field: Some(field.into()), code: 400 }
    }
}
