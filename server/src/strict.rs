//! Strict decoding (`?fieldValidation=Strict`, what `kubectl apply` and `edit` ask for): which
//! fields of a document the target type does not know, named as upstream names them
//! (`spec.tags[0].foo`), and the 400 that lists them. Used by the HTTP edge's `decode` and by the
//! service's PATCH path alike.
//!
//! Must not: decide whether a request is strict (the edge reads the query).

use app::model::ApiError;

/// The unknown fields of a document for `T`, as upstream names them (`spec.tags[0].foo`).
pub fn unknown_fields<'de, T: serde::Deserialize<'de>, D: serde::Deserializer<'de>>(de: D) -> Result<(T, Vec<String>), D::Error> {
    let mut unknown = vec![];
    let value = serde_ignored::deserialize(de, |path| unknown.push(field_path(&path)))?;
    Ok((value, unknown))
}

fn field_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", field_path(parent)),
        Path::Map { parent, key } => match field_path(parent) {
            p if p.is_empty() => key.clone(),
            p => format!("{p}.{key}"),
        },
        Path::Some { parent } | Path::NewtypeStruct { parent } | Path::NewtypeVariant { parent } => field_path(parent),
    }
}

/// The 400 of a strict decode that met unknown fields, in upstream's words (none: `Ok`).
pub fn refuse_unknown(unknown: &[String]) -> Result<(), ApiError> {
    if unknown.is_empty() {
        return Ok(());
    }
    let fields: Vec<String> = unknown.iter().take(20).map(|f| format!("unknown field \"{f}\"")).collect();
    Err(ApiError::bad_request(format!("strict decoding error: {}", fields.join(", "))))
}
