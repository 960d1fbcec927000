//! The registry's garbage collection over HTTP (server administrators): `POST
//! /api/v1/registry/garbage-collection` runs one collection now (`{"dryRun": true}` reports
//! what would go and deletes nothing; an empty body is a real run), `GET` lists the recorded
//! runs, newest first. Must not: decide what is garbage or who may ask (the service does).

use super::{ApiResult, Who, decode, respond};
use crate::service::Service;
use crate::service::registry::GcTrigger;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;

/// The body of a run request.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunRequest {
    #[serde(default)]
    dry_run: bool,
}

pub async fn run(State(s): State<Service>, Who(who): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    let request: RunRequest = if body.is_empty() { RunRequest::default() } else { decode(&headers, &body)? };
    let report = s.collect_garbage(&who, GcTrigger::Api, request.dry_run).await?;
    respond(&headers, StatusCode::OK, &report)
}

pub async fn list(State(s): State<Service>, Who(who): Who, headers: HeaderMap) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.gc_runs(&who).await?)
}
