//! Web imports that run in the background while the form shows their progress. A job belongs
//! to the caller who started it (anyone else gets a 404, like someone else's token); its
//! progress lives only in this process (the import's result is stored in the stream), and a
//! finished job is kept for ten minutes of the service clock so a slow poll still sees it.
//!
//! A job's task is request work moved off the request, not a background worker: it ends when
//! its import ends (every registry lookup has a deadline, `--registry-timeout`).
//!
//! The same for the whole-server prune preview of `/admin/prune`: the dry run goes in the
//! background and the page polls its phase and counts; what it keeps for the page is bounded
//! (the first `PRUNE_PREVIEW_LISTED` streams and Images that lose something, and the summary).
//!
//! Must not: import or prune by itself (it runs `Service::import_from_form` and
//! `Service::prune_images`) or outlive the process.

use super::{Caller, ImportProgress, PruneOutput, PrunePart, Service, Verb};
use app::api::{ApiFailure, ImportForm, ImportJob, PRUNE_PREVIEW_LISTED, page_failure};
use app::domain::prune::{PruneOptions, PruneReport};
use app::model::{ApiError, Resource};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// The resource name a missing job is reported as.
const RES_IMPORT_JOBS: Resource = Resource { plural: "imports", group: "portal", kind: "Import" };

/// How long a finished job's result stays readable, in seconds.
const KEEP_FINISHED_SECS: i64 = 600;

/// How a web import ended (the summary, or the failure) and when (service clock).
type Finished = (Result<String, ApiFailure>, DateTime<Utc>);

/// A web import running in the background.
#[derive(Default)]
struct WebImport {
    /// Who started it (the user name; `None` for an open server's anonymous caller).
    owner: Option<String>,
    progress: Arc<ImportProgress>,
    /// The summary or the failure, and when it finished (service clock).
    finished: Mutex<Option<Finished>>,
}

impl WebImport {
    fn finished_before(&self, t: DateTime<Utc>) -> bool {
        self.finished.lock().ok().and_then(|f| f.as_ref().map(|(_, at)| *at < t)).unwrap_or(false)
    }
}

/// The web imports of this process, by job id.
#[derive(Default)]
pub struct ImportJobs(Mutex<HashMap<String, Arc<WebImport>>>);

impl Service {
    /// Starts the import form's import in the background as `caller` (checked first) and
    /// returns the job id to poll with `import_job`.
    pub async fn start_import_job(&self, caller: Caller, form: ImportForm) -> Result<String, ApiError> {
        self.allow(&caller, Verb::Create, "imagestreamimports", Some(&form.namespace))?;
        let id = super::new_job_id();
        let job = Arc::new(WebImport { owner: caller.user.clone(), ..Default::default() });
        {
            let mut jobs = self.import_jobs.0.lock().unwrap_or_else(|p| p.into_inner());
            let horizon = self.clock_now() - chrono::Duration::seconds(KEEP_FINISHED_SECS);
            jobs.retain(|_, j| !j.finished_before(horizon));
            jobs.insert(id.clone(), job.clone());
        }
        let service = self.clone();
        // In the span of the request that started it: its lines keep that request's id.
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let namespace = form.namespace.clone();
            let result =
                service.import_from_form(&caller, form, Some(job.progress.clone())).await.map_err(|e| page_failure(&e, &namespace));
            let at = service.clock_now();
            if let Ok(mut f) = job.finished.lock() {
                *f = Some((result, at));
            }
        }));
        Ok(id)
    }

    /// The progress of a web import the caller started (404 for anyone else's).
    pub fn import_job(&self, caller: &Caller, id: &str) -> Result<ImportJob, ApiError> {
        let job = self
            .import_jobs
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .filter(|j| caller.open || j.owner == caller.user)
            .ok_or_else(|| ApiError::not_found(RES_IMPORT_JOBS, id))?;
        let result = job.finished.lock().ok().and_then(|f| f.as_ref().map(|(r, _)| r.clone()));
        Ok(ImportJob { done: job.progress.done.load(Ordering::Relaxed), total: job.progress.total.load(Ordering::Relaxed), result })
    }
}

/// How a prune preview ended (its bounded report, or the failure) and when (service clock).
type PruneFinished = (Result<PruneReport, ApiError>, DateTime<Utc>);

/// A whole-server prune preview running in the background.
#[derive(Default)]
struct WebPrune {
    owner: Option<String>,
    /// Phase, done, total.
    progress: Mutex<(&'static str, usize, usize)>,
    finished: Mutex<Option<PruneFinished>>,
}

/// The prune previews of this process, by job id.
#[derive(Default)]
pub struct PruneJobs(Mutex<HashMap<String, Arc<WebPrune>>>);

/// What a prune preview job reports: its progress and, once finished, the bounded report.
pub struct PruneJobState {
    pub phase: &'static str,
    pub done: usize,
    pub total: usize,
    pub result: Option<Result<PruneReport, ApiError>>,
}

impl Service {
    /// Starts a dry run of `prune images` (whatever `opts.confirm` says) in the background as
    /// `caller` (checked first) and returns the job id to poll with `prune_job`.
    pub fn start_prune_job(&self, caller: Caller, opts: PruneOptions) -> Result<String, ApiError> {
        let opts = PruneOptions { confirm: false, ..opts };
        self.may_prune(&caller, &opts)?;
        let id = super::new_job_id();
        let job = Arc::new(WebPrune { owner: caller.user.clone(), progress: Mutex::new(("history", 0, 0)), ..Default::default() });
        {
            let mut jobs = self.prune_jobs.0.lock().unwrap_or_else(|p| p.into_inner());
            let horizon = self.clock_now() - chrono::Duration::seconds(KEEP_FINISHED_SECS);
            jobs.retain(|_, j| !j.finished.lock().ok().and_then(|f| f.as_ref().map(|(_, at)| *at < horizon)).unwrap_or(false));
            jobs.insert(id.clone(), job.clone());
        }
        let service = self.clone();
        tokio::spawn(tracing::Instrument::in_current_span(async move {
            let (tx, mut parts) = tokio::sync::mpsc::channel::<PrunePart>(64);
            let run = async {
                let tx = tx;
                service.prune_images(&caller, &opts, PruneOutput::Parts(&tx)).await
            };
            // Only what the page lists is kept: the first streams and Images that lose
            // something, and a few streams that lose nothing (what stays, and why).
            let collect = async {
                let (mut streams, mut images) = (vec![], vec![]);
                let (mut losing, mut others) = (0usize, 0usize);
                while let Some(part) = parts.recv().await {
                    match part {
                        PrunePart::Progress { phase, done, total } => {
                            if let Ok(mut p) = job.progress.lock() {
                                *p = (phase, done, total);
                            }
                        }
                        PrunePart::Stream(s) if s.deleted() > 0 && losing < PRUNE_PREVIEW_LISTED => {
                            losing += 1;
                            streams.push(s);
                        }
                        PrunePart::Stream(s) if s.deleted() == 0 && others < PRUNE_PREVIEW_LISTED / 5 => {
                            others += 1;
                            streams.push(s);
                        }
                        PrunePart::Image(i) if !i.decision.keep && images.len() < PRUNE_PREVIEW_LISTED => images.push(i),
                        _ => {}
                    }
                }
                (streams, images)
            };
            let (result, (streams, images)) = tokio::join!(run, collect);
            let result = result.map(|r| PruneReport { streams, images, ..r });
            let at = service.clock_now();
            if let Ok(mut f) = job.finished.lock() {
                *f = Some((result, at));
            }
        }));
        Ok(id)
    }

    /// The progress of a prune preview the caller started (404 for anyone else's).
    pub fn prune_job(&self, caller: &Caller, id: &str) -> Result<PruneJobState, ApiError> {
        let job = self
            .prune_jobs
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .filter(|j| caller.open || j.owner == caller.user)
            .ok_or_else(|| ApiError::not_found(RES_PRUNE_JOBS, id))?;
        let (phase, done, total) = job.progress.lock().map(|p| *p).unwrap_or(("history", 0, 0));
        let result = job.finished.lock().ok().and_then(|f| f.as_ref().map(|(r, _)| r.clone()));
        Ok(PruneJobState { phase, done, total, result })
    }
}

/// The resource name a missing prune job is reported as.
const RES_PRUNE_JOBS: Resource = Resource { plural: "prunes", group: "portal", kind: "Prune" };
