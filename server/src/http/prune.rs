//! `POST /api/v1/prune/images` (the whole server, server administrators) and
//! `POST /api/v1/namespaces/{ns}/prune/images` (one namespace's history, its admins): the body
//! is `PruneOptions` (`keepTagRevisions`, `keepYoungerThanSeconds`, `all`, `confirm`; all
//! optional, upstream's defaults), the answer the `PruneReport` — every decision with its
//! reason and the `Summary:` line — written as the prune makes it. Without `confirm: true` it
//! is a dry run.

use super::{ApiResult, Who, decode, respond};
use crate::service::{PruneOutput, PrunePart, Service};
use app::domain::prune::{PruneOptions, PruneReport};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use tokio::sync::{mpsc, oneshot};

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

/// `?progress=true`: the answer is newline-delimited JSON, in order: `{"progress": {"phase",
/// "done", "total"}}` lines as the prune goes, a `{"stream": …}` line per stream and an
/// `{"image": …}` line per Image as each is decided (and, in a real prune, applied), then
/// `{"report": …}` — the counts and the `Summary:` line, without the lists — or `{"status": …}`
/// on failure.
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

/// Parts waiting to be written before the prune is made to wait for the client.
const PARTS_IN_FLIGHT: usize = 32;
/// A chunk of the answer is cut at about this size.
const CHUNK: usize = 64 * 1024;

/// The answer is written as the prune goes (a server's report lists every history item: it
/// is never held whole); the prune runs on its own task, so a real prune goes on if the client
/// leaves. A failure before the first decision answers with its status; a later one ends the
/// JSON answer early (the client sees a broken body) or, with `?progress=true`, as a
/// `{"status": …}` line.
async fn run(s: Service, caller: crate::service::Caller, opts: PruneOptions, progress: bool, headers: &HeaderMap) -> ApiResult {
    s.may_prune(&caller, &opts)?;
    // `imagestreams_maintenance_runs_total{kind="prune"}` (here, not in the service: a
    // retention run prunes too and is counted as retention).
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
    if !progress && wants_yaml(headers) {
        let report = s.prune_images(&caller, &opts, PruneOutput::Report).await;
        count(report.is_ok());
        return respond(headers, StatusCode::OK, &report?);
    }
    let (tx, mut parts) = mpsc::channel::<PrunePart>(PARTS_IN_FLIGHT);
    let (done_tx, done) = oneshot::channel();
    let dry_run = !opts.confirm;
    // In the request's span: the prune's log lines keep its request id.
    tokio::spawn(tracing::Instrument::in_current_span(async move {
        let r = s.prune_images(&caller, &opts, PruneOutput::Parts(&tx)).await;
        count(r.is_ok());
        drop(tx);
        let _ = done_tx.send(r);
    }));
    let mut encoder = Encoder { ndjson: progress, dry_run, state: Listing::Start };
    let mut head = String::new();
    let content_type = if progress { "application/x-ndjson" } else { "application/json" };
    match parts.recv().await {
        Some(part) => encoder.part(part, &mut head),
        // Nothing decided (no streams, no images): the answer is whole already; `done` has
        // given its value and must not be awaited again.
        None => match done.await {
            Ok(Err(e)) => return Err(e.into()),
            Ok(Ok(report)) => {
                encoder.end(Ok(report), &mut head).map_err(|e| app::model::ApiError::internal(e.to_string()))?;
                return Ok((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, content_type)], head).into_response());
            }
            Err(_) => return Err(app::model::ApiError::internal("the prune ended without an answer").into()),
        },
    }
    let state = Some((parts, done, encoder, head));
    let body = futures::stream::unfold(state, |state| async move {
        let (mut parts, mut done, mut encoder, mut buf) = state?;
        while buf.len() < CHUNK {
            match parts.try_recv() {
                Ok(part) => encoder.part(part, &mut buf),
                Err(mpsc::error::TryRecvError::Empty) if !buf.is_empty() => break,
                Err(mpsc::error::TryRecvError::Empty) => match parts.recv().await {
                    Some(part) => encoder.part(part, &mut buf),
                    None => return finish(encoder, &mut done, buf).await,
                },
                Err(mpsc::error::TryRecvError::Disconnected) => return finish(encoder, &mut done, buf).await,
            }
        }
        Some((Ok::<_, std::io::Error>(buf), Some((parts, done, encoder, String::new()))))
    });
    Ok((StatusCode::OK, [(axum::http::header::CONTENT_TYPE, content_type)], axum::body::Body::from_stream(body)).into_response())
}

type Unfolded = Option<(
    Result<String, std::io::Error>,
    Option<(mpsc::Receiver<PrunePart>, oneshot::Receiver<Result<PruneReport, app::model::ApiError>>, Encoder, String)>,
)>;

/// The last chunk: what is buffered and the end of the answer.
async fn finish(
    mut encoder: Encoder,
    done: &mut oneshot::Receiver<Result<PruneReport, app::model::ApiError>>,
    mut buf: String,
) -> Unfolded {
    let result = done.await.unwrap_or_else(|_| Err(app::model::ApiError::internal("the prune ended without an answer")));
    match encoder.end(result, &mut buf) {
        Ok(()) => Some((Ok(buf), None)),
        Err(e) => Some((Err(e), None)),
    }
}

fn wants_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/yaml") || a.contains("application/x-yaml"))
}

/// Where the JSON answer is: which list is open.
enum Listing {
    Start,
    Streams,
    Images,
}

/// Writes parts as the JSON report (`{"dryRun", "streams": [...], "images": [...], counts,
/// "summary"}`, the shape of `PruneReport`) or as NDJSON lines.
struct Encoder {
    ndjson: bool,
    dry_run: bool,
    state: Listing,
}

impl Encoder {
    fn part(&mut self, part: PrunePart, out: &mut String) {
        if self.ndjson {
            let line = match part {
                PrunePart::Progress { phase, done, total } => {
                    serde_json::json!({"progress": {"phase": phase, "done": done, "total": total}}).to_string()
                }
                PrunePart::Stream(s) => format!("{{\"stream\":{}}}", json(&s)),
                PrunePart::Image(i) => format!("{{\"image\":{}}}", json(&i)),
            };
            out.push_str(&line);
            out.push('\n');
            return;
        }
        match (part, &self.state) {
            (PrunePart::Progress { .. }, _) => {}
            (PrunePart::Stream(s), Listing::Start) => {
                out.push_str(&format!("{{\"dryRun\":{},\"streams\":[", self.dry_run));
                out.push_str(&json(&s));
                self.state = Listing::Streams;
            }
            (PrunePart::Stream(s), Listing::Streams) => {
                out.push(',');
                out.push_str(&json(&s));
            }
            (PrunePart::Stream(s), Listing::Images) => {
                // The service sends every stream before any Image.
                tracing::warn!(stream = %s.name, "a prune sent a stream after its images; left out of the answer");
            }
            (PrunePart::Image(i), Listing::Start) => {
                out.push_str(&format!("{{\"dryRun\":{},\"streams\":[],\"images\":[", self.dry_run));
                out.push_str(&json(&i));
                self.state = Listing::Images;
            }
            (PrunePart::Image(i), Listing::Streams) => {
                out.push_str("],\"images\":[");
                out.push_str(&json(&i));
                self.state = Listing::Images;
            }
            (PrunePart::Image(i), Listing::Images) => {
                out.push(',');
                out.push_str(&json(&i));
            }
        }
    }

    /// The end of the answer: the report's counts and summary, or the failure.
    fn end(&mut self, result: Result<PruneReport, app::model::ApiError>, out: &mut String) -> Result<(), std::io::Error> {
        if self.ndjson {
            let last = match result {
                Ok(r) => serde_json::json!({"report": r}),
                Err(e) => serde_json::json!({"status": e.status}),
            };
            out.push_str(&last.to_string());
            out.push('\n');
            return Ok(());
        }
        let report = result.map_err(|e| std::io::Error::other(e.status.message))?;
        match self.state {
            Listing::Start => out.push_str(&format!("{{\"dryRun\":{},\"streams\":[],\"images\":[]", self.dry_run)),
            Listing::Streams => out.push_str("],\"images\":[]"),
            Listing::Images => out.push(']'),
        }
        // The rest of the report's fields, as `PruneReport` names them.
        let mut rest = match serde_json::to_value(&report) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => return Err(std::io::Error::other("the prune report could not be encoded")),
        };
        for listed in ["dryRun", "streams", "images"] {
            rest.remove(listed);
        }
        for (k, v) in rest {
            out.push_str(&format!(",{}:{v}", serde_json::Value::String(k)));
        }
        out.push('}');
        Ok(())
    }
}

/// A part as JSON text (parts are plain data: this cannot fail in practice; a failure writes
/// `null` rather than breaking the answer's shape).
fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}
