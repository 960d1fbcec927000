//! `POST /api/v1/prune/images` (the whole server, server administrators) and
//! `POST /api/v1/namespaces/{ns}/prune/images` (one namespace's history, its admins): the body
//! is `PruneOptions` (`keepTagRevisions`, `keepYoungerThanSeconds`, `all`, `confirm`; all
//! optional, upstream's defaults), the answer the `PruneReport` — every decision with its
//! reason and the `Summary:` line. Without `confirm: true` it is a dry run.

use super::{ApiResult, Who, decode, respond};
use crate::service::Service;
use app::domain::prune::PruneOptions;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;

/// The request body: every field optional.
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PruneRequest {
    keep_tag_revisions: Option<i64>,
    keep_younger_than_seconds: Option<i64>,
    all: Option<bool>,
    confirm: Option<bool>,
}

fn options(headers: &HeaderMap, body: &Bytes, namespace: Option<String>) -> Result<PruneOptions, app::model::ApiError> {
    let req: PruneRequest = if body.is_empty() { PruneRequest::default() } else { decode(headers, body)? };
    let defaults = PruneOptions::default();
    let revisions = req.keep_tag_revisions.unwrap_or(defaults.keep_tag_revisions as i64);
    let younger = req.keep_younger_than_seconds.unwrap_or(defaults.keep_younger_than_seconds as i64);
    app::domain::prune::validate(revisions, younger).map_err(app::model::ApiError::bad_request)?;
    Ok(PruneOptions {
        keep_tag_revisions: revisions.min(u32::MAX as i64) as u32,
        keep_younger_than_seconds: younger as u64,
        all: req.all.unwrap_or(defaults.all),
        namespace,
        confirm: req.confirm.unwrap_or(false),
        ..Default::default()
    })
}

/// `?progress=true`: the answer is newline-delimited JSON, `{"progress": {"phase", "done",
/// "total"}}` lines as the prune goes, then `{"report": …}` (or `{"status": …}` on failure).
#[derive(serde::Deserialize, Default)]
pub struct ProgressQuery {
    #[serde(default)]
    progress: bool,
}

pub async fn server(
    State(s): State<Service>,
    Who(caller): Who,
    Query(q): Query<ProgressQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let opts = options(&headers, &body, None)?;
    run(s, caller, opts, q.progress, &headers).await
}

pub async fn namespace(
    State(s): State<Service>,
    Who(caller): Who,
    Path(ns): Path<String>,
    Query(q): Query<ProgressQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let opts = options(&headers, &body, Some(ns))?;
    run(s, caller, opts, q.progress, &headers).await
}

async fn run(s: Service, caller: crate::service::Caller, opts: PruneOptions, progress: bool, headers: &HeaderMap) -> ApiResult {
    s.may_prune(&caller, &opts)?;
    // `imagestreams_maintenance_runs_total{kind="prune"}`.
    let confirm = opts.confirm;
    let count = move |ok: bool| {
        crate::metrics::metrics().run(
            "prune",
            if !ok {
                "failure"
            } else if confirm {
                "success"
            } else {
                "dry_run"
            },
        )
    };
    if !progress {
        let report = s.prune_images(&caller, &opts, None).await;
        count(report.is_ok());
        return respond(headers, StatusCode::OK, &report?);
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // The prune goes on if the client leaves: it is one decision, applied stream by stream.
    // In the request's span: the prune's lines keep its request id.
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let lines = tx.clone();
        let report = move |phase: &str, done: usize, total: usize| {
            let _ = lines.send(serde_json::json!({"progress": {"phase": phase, "done": done, "total": total}}).to_string());
        };
        let outcome = s.prune_images(&caller, &opts, Some(&report)).await;
        count(outcome.is_ok());
        let last = match outcome {
            Ok(r) => serde_json::json!({"report": r}),
            Err(e) => serde_json::json!({"status": e.status}),
        };
        let _ = tx.send(last.to_string());
    }));
    let body =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|l| (Ok::<_, std::io::Error>(format!("{l}\n")), rx)) });
    Ok((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, "application/x-ndjson")], axum::body::Body::from_stream(body)).into_response())
}
