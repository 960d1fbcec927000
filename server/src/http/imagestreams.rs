//! `.../imagestreams` (per namespace and across namespaces).

use super::{ApiResult, ListQuery, caller, decode, deleted, respond};
use crate::service::{ListOptions, Service};
use app::model::ImageStream;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

fn opts(q: ListQuery) -> ListOptions {
    ListOptions { limit: q.limit, continue_token: q.continue_token }
}

pub async fn list_all(State(s): State<Service>, headers: HeaderMap, Query(q): Query<ListQuery>) -> ApiResult {
    let list = s.list_streams(&caller(&headers), None, &opts(q)).await?;
    respond(&headers, StatusCode::OK, &list)
}

pub async fn list(State(s): State<Service>, headers: HeaderMap, Path(ns): Path<String>, Query(q): Query<ListQuery>) -> ApiResult {
    let list = s.list_streams(&caller(&headers), Some(&ns), &opts(q)).await?;
    respond(&headers, StatusCode::OK, &list)
}

pub async fn create(State(s): State<Service>, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let stream: ImageStream = decode(&headers, &body)?;
    let created = s.create_stream(&caller(&headers), &ns, stream).await?;
    respond(&headers, StatusCode::CREATED, &created)
}

pub async fn get(State(s): State<Service>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    let found = s.get_stream(&caller(&headers), &ns, &name).await?;
    respond(&headers, StatusCode::OK, &found)
}

pub async fn update(State(s): State<Service>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>, body: Bytes) -> ApiResult {
    let stream: ImageStream = decode(&headers, &body)?;
    let updated = s.update_stream(&caller(&headers), &ns, &name, stream).await?;
    respond(&headers, StatusCode::OK, &updated)
}

pub async fn delete(State(s): State<Service>, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    deleted(&headers, s.delete_stream(&caller(&headers), &ns, &name).await?)
}
