//! `/api/v1/namespaces/{ns}/webhooks[/{name}]`: image-change subscriptions (secret write-only),
//! their delivery log, "send test event" and "redeliver".
//! Must not: send anything (the dispatcher does) or return a secret.

use super::imagestreams::ListOnlyQuery;
use super::{ApiResult, Who, decode, deleted, respond};
use crate::service::Service;
use app::model::{ApiError, Webhook};
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
    q.refuse_watch(app::model::Resource { plural: "webhooks", group: "", kind: "Webhook" })?;
    q.refuse_selectors(app::model::Resource { plural: "webhooks", group: "", kind: "Webhook" })?;
    respond(&headers, StatusCode::OK, &s.list_webhooks(&who, &ns).await?)
}

pub async fn create(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let w: Webhook = decode(&headers, &body)?;
    respond(&headers, StatusCode::CREATED, &s.create_webhook(&who, &ns, w).await?)
}

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.get_webhook(&who, &ns, &name).await?)
}

pub async fn update(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let w: Webhook = decode(&headers, &body)?;
    respond(&headers, StatusCode::OK, &s.update_webhook(&who, &ns, &name, w).await?)
}

pub async fn delete(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let pre = super::delete_preconditions(&headers, &body)?;
    deleted(&headers, s.delete_webhook_if(&who, &ns, &name, &pre).await?)
}

pub async fn deliveries(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
) -> ApiResult {
    respond(&headers, StatusCode::OK, &s.list_deliveries(&who, &ns, &name).await?)
}

pub async fn test(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    respond(&headers, StatusCode::ACCEPTED, &s.test_webhook(&who, &ns, &name).await?)
}

pub async fn redeliver(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name, id)): Path<(String, String, String)>,
) -> ApiResult {
    let id: i64 =
        id.parse().map_err(|_| ApiError::bad_request(format!("delivery: Invalid value: {id:?}: must be a delivery id (a number)")))?;
    respond(&headers, StatusCode::ACCEPTED, &s.redeliver(&who, &ns, &name, id).await?)
}
