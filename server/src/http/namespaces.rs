//! `/api/v1/namespaces[/{ns}]`.
//! Must not: hold rules or look anything up itself (one service call per request).

use super::imagestreams::ListOnlyQuery;
use super::{ApiResult, Who, decode, deleted, respond};
use crate::service::Service;
use app::model::Namespace;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

pub async fn list(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Query(q): Query<ListOnlyQuery>) -> ApiResult {
    q.refuse_watch(app::model::RES_NAMESPACES)?;
    q.refuse_selectors(app::model::RES_NAMESPACES)?;
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

pub async fn delete(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let pre = super::delete_preconditions(&headers, &body)?;
    deleted(&headers, s.delete_namespace_if(&who, &ns, &pre).await?)
}
