//! `.../imagestreamtags[/{stream}:{tag}]`.
//! Must not: hold rules or look anything up itself (one service call per request).

use super::imagestreams::ListOnlyQuery;
use super::{ApiResult, Who, decode, deleted, respond};
use crate::service::Service;
use app::model::ImageStreamTag;
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
    q.refuse_watch(app::model::RES_IMAGESTREAMTAGS)?;
    let (labels, fields) = super::imagestreams::selectors(q.label_selector.as_deref(), q.field_selector.as_deref())?;
    let list = s.list_istags(&who, &ns, q.limit, q.continue_token.as_deref(), &labels, &fields).await?;
    super::table::respond_list(&headers, &list, s.clock_now())
}

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    let found = s.get_istag(&who, &ns, &name).await?;
    super::table::respond_one(&headers, &found, s.clock_now())
}

pub async fn update(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let istag: ImageStreamTag = decode(&headers, &body)?;
    let updated = s.set_istag(&who, &ns, &name, istag, false).await?;
    respond(&headers, StatusCode::OK, &updated)
}

pub async fn create(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let istag: ImageStreamTag = decode(&headers, &body)?;
    let name = istag.metadata.name.clone();
    let created = s.set_istag(&who, &ns, &name, istag, true).await?;
    respond(&headers, StatusCode::CREATED, &created)
}

pub async fn delete(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let pre = super::delete_preconditions(&headers, &body)?;
    deleted(&headers, s.delete_istag_if(&who, &ns, &name, &pre).await?)
}
