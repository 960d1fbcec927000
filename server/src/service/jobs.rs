//! Web imports that run in the background while the form shows their progress. A job belongs
//! to the caller who started it (anyone else gets a 404, like someone else's token); its
//! progress lives only in this process (the import's result is stored in the stream), and a
//! finished job is kept for ten minutes of the service clock so a slow poll still sees it.
//!
//! A job's task is request work moved off the request, not a background worker: it ends when
//! its import ends (every registry lookup has a deadline, `--registry-timeout`).
//!
//! Must not: import by itself (it runs `Service::import_from_form`) or outlive the process.

use super::{Caller, ImportProgress, Service, Verb};
use app::api::{ApiFailure, ImportForm, ImportJob, page_failure};
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
