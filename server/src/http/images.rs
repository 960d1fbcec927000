//! `images`, `imagestreamimages` and `imagestreammappings`.
//! Must not: hold rules or look anything up itself (one service call per request).

use super::imagestreams::ListOnlyQuery;
use super::{ApiResult, Who, decode, respond};
use crate::service::Service;
use app::model::{ImageStreamImport, ImageStreamMapping};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};

pub async fn list(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Query(q): Query<ListOnlyQuery>) -> ApiResult {
    q.refuse_watch(app::model::RES_IMAGES)?;
    q.refuse_selectors(app::model::RES_IMAGES)?;
    let list = s.list_images(&who, q.limit, q.continue_token.as_deref()).await?;
    respond(&headers, StatusCode::OK, &list)
}

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(name): Path<String>) -> ApiResult {
    let found = s.get_image(&who, &name).await?;
    respond(&headers, StatusCode::OK, &found)
}

pub async fn get_stream_image(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    let found = s.get_stream_image(&who, &ns, &name).await?;
    respond(&headers, StatusCode::OK, &found)
}

pub async fn create_mapping(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let mapping: ImageStreamMapping = decode(&headers, &body)?;
    let mut status = s.create_mapping(&who, &ns, mapping).await?;
    // The Kubernetes API server's create handler gives a returned Status its answer's code
    // (apiserver `handlers/create.go`: 201).
    status.code = StatusCode::CREATED.as_u16();
    respond(&headers, StatusCode::CREATED, &status)
}

pub async fn create_import(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let isi: ImageStreamImport = decode(&headers, &body)?;
    let done = s.import_images(&who, &ns, isi).await?;
    respond(&headers, StatusCode::CREATED, &done)
}
