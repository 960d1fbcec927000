//! `POST /api/v1/prune/images` (the whole server, server administrators) and
//! `POST /api/v1/namespaces/{ns}/prune/images` (one namespace's history, its admins): the body
//! is `PruneOptions` (`keepTagRevisions`, `keepYoungerThanSeconds`, `all`, `confirm`; all
//! optional, upstream's defaults), the answer the `PruneReport` — every decision with its
//! reason and the `Summary:` line. Without `confirm: true` it is a dry run.

use super::{ApiResult, Who, decode, respond};
use crate::service::Service;
use app::domain::prune::PruneOptions;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

/// The request body: every field optional.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PruneRequest {
    keep_tag_revisions: Option<i64>,
    keep_younger_than_seconds: Option<i64>,
    all: Option<bool>,
    confirm: Option<bool>,
}

fn options(headers: &HeaderMap, body: &Bytes, namespace: Option<String>) -> Result<PruneOptions, app::model::ApiError> {
    let req: PruneRequest = if body.is_empty() { PruneRequest::default() } else { decode(headers, body)? };
    let defaults = PruneOptions::default();
    let revisions = req.keep_tag_revisions.unwrap_or(defaults.keep_tag_revisions as i64);
    let younger = req.keep_younger_than_seconds.unwrap_or(defaults.keep_younger_than_seconds as i64);
    app::domain::prune::validate(revisions, younger).map_err(app::model::ApiError::bad_request)?;
    Ok(PruneOptions {
        keep_tag_revisions: revisions.min(u32::MAX as i64) as u32,
        keep_younger_than_seconds: younger as u64,
        all: req.all.unwrap_or(defaults.all),
        namespace,
        confirm: req.confirm.unwrap_or(false),
        ..Default::default()
    })
}

pub async fn server(State(s): State<Service>, Who(caller): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    let opts = options(&headers, &body, None)?;
    let report = s.prune_images(&caller, &opts, None).await?;
    respond(&headers, StatusCode::OK, &report)
}

pub async fn namespace(State(s): State<Service>, Who(caller): Who, Path(ns): Path<String>, headers: HeaderMap, body: Bytes) -> ApiResult {
    let opts = options(&headers, &body, Some(ns))?;
    let report = s.prune_images(&caller, &opts, None).await?;
    respond(&headers, StatusCode::OK, &report)
}
