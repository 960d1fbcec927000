//! `/api/v1/namespaces[/{ns}]`.
//! Must not: hold rules or look anything up itself (one service call per request).

use super::{ApiResult, ListQuery, Who, decode, deleted, respond};
use crate::service::Service;
use app::model::Namespace;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

pub async fn list(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Query(q): Query<ListQuery>) -> ApiResult {
    let list = s.list_namespaces(&who, q.limit, q.continue_token.as_deref()).await?;
    super::table::respond_list(&headers, &list, s.clock_now())
}

pub async fn create(State(s): State<Service>, Who(who): Who, headers: HeaderMap, body: Bytes) -> ApiResult {
    let ns: Namespace = decode(&headers, &body)?;
    let created = s.create_namespace(&who, ns).await?;
    respond(&headers, StatusCode::CREATED, &created)
}

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    let found = s.get_namespace(&who, &ns).await?;
    super::table::respond_one(&headers, &found, s.clock_now())
}

pub async fn delete(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>) -> ApiResult {
    deleted(&headers, s.delete_namespace(&who, &ns).await?)
}
