//! `.../imagestreams` (per namespace and across namespaces).
//! Must not: hold rules or look anything up itself (one service call per request).

use super::live::Creds;
use super::{ApiResult, Who, decode, deleted, respond};
use crate::service::{ListOptions, Service, WatchRequest};
use app::model::ImageStream;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use futures::StreamExt;
use serde::Deserialize;

/// The content type of a watch (Kubernetes' `application/json;stream=watch`: one JSON event per
/// line).
pub const WATCH_CONTENT_TYPE: &str = "application/json;stream=watch";

/// Query parameters of the stream collections: a list, or with `watch` a watch.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamsQuery {
    pub limit: Option<i64>,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    pub watch: Option<String>,
    pub resource_version: Option<String>,
    pub field_selector: Option<String>,
    pub label_selector: Option<String>,
    pub allow_watch_bookmarks: Option<String>,
    /// A watch's lifetime in seconds (Kubernetes' `ListOptions.timeoutSeconds`).
    pub timeout_seconds: Option<String>,
}

/// `timeoutSeconds=` of a watch: a non-negative integer (seconds, as Kubernetes parses it); `0`
/// or none is no timeout of the client's (the server's maximum lifetime holds either way).
fn watch_timeout(v: Option<&str>) -> Result<Option<std::time::Duration>, app::model::ApiError> {
    match v {
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<u64>() {
            Ok(0) => Ok(None),
            Ok(n) => Ok(Some(std::time::Duration::from_secs(n))),
            Err(_) => {
                Err(app::model::ApiError::bad_request(format!("timeoutSeconds: Invalid value: {v:?}: must be a non-negative integer")))
            }
        },
    }
}

/// The selectors of a list or watch (400 for one that does not parse or names an unsupported
/// field).
pub fn selectors(
    labels: Option<&str>,
    fields: Option<&str>,
) -> Result<(app::domain::selectors::LabelSelector, app::domain::selectors::FieldSelector), app::model::ApiError> {
    use app::domain::selectors::{FieldSelector, LabelSelector};
    let labels = LabelSelector::parse(labels.unwrap_or_default()).map_err(app::model::ApiError::bad_request)?;
    let fields = FieldSelector::parse(fields.unwrap_or_default()).map_err(app::model::ApiError::bad_request)?;
    Ok((labels, fields))
}

fn truthy(v: &Option<String>) -> bool {
    matches!(v.as_deref(), Some("1" | "true" | "True"))
}

/// Query parameters of a collection that can be listed but not watched.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListOnlyQuery {
    pub limit: Option<i64>,
    #[serde(rename = "continue")]
    pub continue_token: Option<String>,
    pub watch: Option<String>,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
}

impl ListOnlyQuery {
    /// A `?watch` on such a collection is upstream's 405 (`NewMethodNotSupported`), never a
    /// plain list the client would take for the start of a watch.
    pub fn refuse_watch(&self, res: app::model::Resource) -> Result<(), app::model::ApiError> {
        if !truthy(&self.watch) {
            return Ok(());
        }
        let mut e = app::model::ApiError::method_not_allowed(format!("watch is not supported on resources of kind {:?}", res.qualified()));
        e.status.details = Some(app::model::StatusDetails { group: res.group.into(), kind: res.plural.into(), ..Default::default() });
        Err(e)
    }

    /// Selectors on a collection that does not filter by them: 400, never silently the whole list.
    pub fn refuse_selectors(&self, res: app::model::Resource) -> Result<(), app::model::ApiError> {
        match (&self.label_selector, &self.field_selector) {
            (None, None) => Ok(()),
            _ => Err(app::model::ApiError::bad_request(format!(
                "labelSelector and fieldSelector are not supported on {}; list without them",
                res.qualified()
            ))),
        }
    }
}

/// A list, or with `watch` a watch. The watch gets the request's credentials (it asks again with
/// them while it runs); the list the caller they resolved to.
async fn list_or_watch(
    s: Service,
    who: crate::service::Caller,
    creds: crate::service::Credentials,
    headers: HeaderMap,
    ns: Option<String>,
    q: StreamsQuery,
) -> ApiResult {
    let (labels, fields) = selectors(q.label_selector.as_deref(), q.field_selector.as_deref())?;
    if truthy(&q.watch) {
        // A watch follows equalities only (`metadata.name=`, `metadata.namespace=`).
        if fields.has_inequality() {
            return Err(app::model::ApiError::bad_request("fieldSelector: only = and == are supported on watches").into());
        }
        let (name, selected_ns) = (fields.name().map(str::to_string), fields.namespace().map(str::to_string));
        if let (Some(a), Some(b)) = (&ns, &selected_ns)
            && a != b
        {
            return Err(app::model::ApiError::bad_request(
                "the fieldSelector's metadata.namespace differs from the namespace of the request",
            )
            .into());
        }
        // A resource version is an unsigned integer (Kubernetes parses it so); one past what a
        // version can reach here is answered as too large by the watch.
        let resource_version = match q.resource_version.as_deref() {
            None | Some("") | Some("0") => None,
            Some(v) => Some(v.parse::<u64>().map(|n| i64::try_from(n).unwrap_or(i64::MAX)).map_err(|_| {
                app::model::ApiError::bad_request(format!("resourceVersion: Invalid value: {v:?}: must be a non-negative integer"))
            })?),
        };
        let req = WatchRequest {
            namespace: ns.or(selected_ns),
            name,
            labels,
            resource_version,
            bookmarks: truthy(&q.allow_watch_bookmarks),
            bookmark_at_drain: false,
            bookmark_interval: s.bookmark_interval(),
            timeout: watch_timeout(q.timeout_seconds.as_deref())?,
        };
        let stream = s.watch_streams(creds, req).await?;
        // Counted as an open watcher while the body lives (`imagestreams_watchers`).
        let open = crate::metrics::Metrics::hold(&crate::metrics::metrics().watchers);
        // `kubectl get -w` asks for Table rows, as its list did.
        let as_table = super::table::wants_table(&headers);
        // Each line is framed already (its newline included) and shared with every other watch
        // sending the same event.
        let lines: super::connection::Lines = Box::pin(stream.map(move |line| {
            let _open = &open;
            match as_table {
                true => super::table::watch_line_as_table::<ImageStream>(&line, s.clock_now()).unwrap_or(line),
                false => line,
            }
        }));
        // The connection's transport writes the lines itself; the body is for hyper's.
        let (direct, body) = super::connection::WatchLines::new(lines);
        return Ok(axum::response::Response::builder()
            .status(StatusCode::OK)
            .header("content-type", WATCH_CONTENT_TYPE)
            .header("cache-control", "no-store")
            .extension(direct)
            .body(body)
            .map_err(|e| app::model::ApiError::internal(e.to_string()))?);
    }
    let opts = ListOptions { limit: q.limit, continue_token: q.continue_token, labels, fields };
    let list = s.list_streams(&who, ns.as_deref(), &opts).await?;
    super::table::respond_list(&headers, &list, s.clock_now())
}

pub async fn list_all(
    State(s): State<Service>,
    Who(who): Who,
    Creds(creds): Creds,
    headers: HeaderMap,
    Query(q): Query<StreamsQuery>,
) -> ApiResult {
    list_or_watch(s, who, creds, headers, None, q).await
}

pub async fn list(
    State(s): State<Service>,
    Who(who): Who,
    Creds(creds): Creds,
    headers: HeaderMap,
    Path(ns): Path<String>,
    Query(q): Query<StreamsQuery>,
) -> ApiResult {
    list_or_watch(s, who, creds, headers, Some(ns), q).await
}

pub async fn create(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path(ns): Path<String>, body: Bytes) -> ApiResult {
    let stream: ImageStream = decode(&headers, &body)?;
    let created = s.create_stream(&who, &ns, stream).await?;
    respond(&headers, StatusCode::CREATED, &created)
}

pub async fn get(State(s): State<Service>, Who(who): Who, headers: HeaderMap, Path((ns, name)): Path<(String, String)>) -> ApiResult {
    let found = s.get_stream(&who, &ns, &name).await?;
    super::table::respond_one(&headers, &found, s.clock_now())
}

pub async fn update(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let stream: ImageStream = decode(&headers, &body)?;
    let updated = s.update_stream(&who, &ns, &name, stream).await?;
    respond(&headers, StatusCode::OK, &updated)
}

pub async fn delete(
    State(s): State<Service>,
    Who(who): Who,
    headers: HeaderMap,
    Path((ns, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let pre = super::delete_preconditions(&headers, &body)?;
    deleted(&headers, s.delete_stream_if(&who, &ns, &name, &pre).await?)
}
