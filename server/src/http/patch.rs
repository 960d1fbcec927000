//! `PATCH` of image streams and image stream tags: the patch type from `Content-Type`, the body
//! to the service (`Service::patch_stream`, `patch_istag`), the patched object back.
//! Must not: apply patches itself (the service does, inside its update path).

use super::{ApiResult, FieldValidation, Who, field_validation, respond};
use crate::service::{PatchType, Service};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};

fn patch_type(headers: &HeaderMap) -> Result<PatchType, app::model::ApiError> {
    PatchType::from_content_type(headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()))
}

fn strict(headers: &HeaderMap) -> bool {
    field_validation(headers) == FieldValidation::Strict
}

pub async fn image_stream(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let patched = s.patch_stream(&who, &ns, &name, patch_type(&headers)?, &body, strict(&headers)).await?;
    respond(&headers, StatusCode::OK, &patched)
}

pub async fn image_stream_tag(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let patched = s.patch_istag(&who, &ns, &name, patch_type(&headers)?, &body, strict(&headers)).await?;
    respond(&headers, StatusCode::OK, &patched)
}
