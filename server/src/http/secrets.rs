//! `/api/v1/namespaces/{ns}/secrets[/{name}]`: registry credentials, write-only.
//! Must not: ever return a secret's data.

use super::imagestreams::ListOnlyQuery;
use super::{ApiResult, Who, decode, deleted, respond};
use crate::service::Service;
use app::model::Secret;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

pub async fn list(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path(ns): Path<String>,
    Query(q): Query<ListOnlyQuery>,
) -> ApiResult {
    q.refuse_watch(app::model::Resource { plural: "secrets", group: "", kind: "Secret" })?;
    q.refuse_selectors(app::model::Resource { plural: "secrets", group: "", kind: "Secret" })?;
    respond(&headers, StatusCode::OK, &s.list_secrets(&who, &ns).await?)
}

pub async fn create(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let secret: Secret = decode(&headers, &body)?;
    respond(&headers, StatusCode::CREATED, &s.create_secret(&who, &ns, secret).await?)
}

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.get_secret(&who, &ns, &name).await?)
}

pub async fn delete(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let pre = super::delete_preconditions(&headers, &body)?;
    deleted(&headers, s.delete_secret_if(&who, &ns, &name, &pre).await?)
}
