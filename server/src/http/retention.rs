//! A namespace's retention policy and the record of its runs:
//! `GET/PUT/DELETE /api/v1/namespaces/{ns}/retention` (the policy: `keepTagRevisions`,
//! `keepYoungerThanSeconds`, `keepTagPatterns`, `pulledWithinSeconds`),
//! `POST …/retention/preview` (a dry run of the policy in the body, before saving: the
//! `PruneReport`), `POST …/retention/run` (run the saved policy now),
//! `GET …/retention/runs?limit=&continue=` (newest first) and `GET …/retention/runs/{id}` (one
//! run with its report).
//!
//! Must not: check a rule or a permission (the service does).

use super::{ApiResult, ListQuery, Who, decode_known_fields, respond};
use crate::service::Service;
use app::domain::retention::RetentionPolicy;
use app::model::Status;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.get_retention_policy(&who, &ns).await?)
}

pub async fn put(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    // Unknown fields are refused: a misspelt `keepTagRevision` must not save the default.
    let policy: RetentionPolicy = decode_known_fields(&headers, &body)?;
    respond(&headers, StatusCode::OK, &s.set_retention_policy(&who, &ns, policy).await?)
}

pub async fn delete(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    s.delete_retention_policy(&who, &ns).await?;
    super::deleted(&headers, Status::success("RetentionPolicy", "", &ns))
}

pub async fn preview(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    // An empty body previews the defaults (`prune images`' own).
    let policy: RetentionPolicy = if body.is_empty() { RetentionPolicy::default() } else { decode_known_fields(&headers, &body)? };
    respond(&headers, StatusCode::OK, &s.preview_retention(&who, &ns, &policy).await?)
}

pub async fn run(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.run_retention_now(&who, &ns).await?)
}

pub async fn runs(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path(ns): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.retention_runs(&who, &ns, q.limit, q.continue_token.as_deref()).await?)
}

pub async fn run_record(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path((ns, id)): Path<(String, String)>) -> ApiResult {
    let id = id.parse::<i64>().map_err(|_| app::model::ApiError::not_found(crate::service::RES_RETENTION, &format!("{ns}/runs/{id}")))?;
    respond(&headers, StatusCode::OK, &s.retention_run(&who, &ns, id).await?)
}
