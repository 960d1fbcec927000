//! Team retention policies (issue 16, point 4): a namespace's admins set, preview, delete and
//! run its policy; its members read the policy and the record of runs; the retention worker
//! asks `retention_pass` to run every policy whose interval has passed on the service clock.
//!
//! A run is a real namespace prune (`prune_images` with the policy's `PruneOptions`,
//! `confirm: true`) made by the server itself, recorded in two steps: the run row is written
//! (`running`) before the prune starts, and its outcome — counts, the `Summary:` line, the full
//! report, and for scheduled runs the audit entry — is written in one transaction when it ends.
//! The prune's own effects commit stream by stream (one transaction each, so a large namespace
//! never holds the writer for long, see `service::prune`); they cannot share the record's
//! transaction, which is why the row exists before them: a run the server did not finish stays
//! visible as `running`, never silently missing. Manual runs are audited by the edge like any
//! request; a scheduled run has no request, so its entry is written with its outcome.
//!
//! `bytesFreed` is what the prune's report says it freed, which for a namespace run is 0: it
//! removes history items, not Image objects or blobs (other namespaces may share them); the
//! registry's scheduled garbage collection reclaims and counts those bytes later.
//!
//! Must not: hold SQL (`store::retention`), restate a pruning or policy rule (`app::domain`), or
//! read the wall clock.

use super::{Caller, PruneOutput, Service, Verb, db};
use crate::store;
use app::domain::prune::PruneReport;
use app::domain::retention::{
    RUN_FAILED, RUN_RUNNING, RUN_SUCCEEDED, RetentionPolicy, RetentionRun, RetentionRunList, RunListMeta, StoredRetentionPolicy,
    TRIGGER_MANUAL, TRIGGER_SCHEDULE, validate,
};
use app::model::{ApiError, AuditEntry, Resource};

pub const RES_RETENTION: Resource = Resource { plural: "retention", group: "", kind: "RetentionPolicy" };
const RES_RETENTION_RUNS: Resource = Resource { plural: "retentionruns", group: "", kind: "RetentionRun" };

/// Who the audit log names for scheduled runs.
pub const SCHEDULE_USER: &str = "system:retention-schedule";

impl Service {
    /// A namespace's policy (404 when it has none).
    pub async fn get_retention_policy(&self, caller: &Caller, ns: &str) -> Result<StoredRetentionPolicy, ApiError> {
        self.allow(caller, Verb::Get, "retention", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        store::get_retention_policy(&mut conn, ns).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_RETENTION, ns))
    }

    /// Sets (or replaces) a namespace's policy after checking every rule.
    pub async fn set_retention_policy(
        &self,
        caller: &Caller,
        ns: &str,
        policy: RetentionPolicy,
    ) -> Result<StoredRetentionPolicy, ApiError> {
        self.allow(caller, Verb::Update, "retention", Some(ns))?;
        checked(ns, &policy)?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        let stored = StoredRetentionPolicy {
            namespace: ns.to_string(),
            policy,
            updated: self.now_rfc3339(),
            updated_by: who(caller),
            last_scheduled_run: None,
        };
        store::put_retention_policy(&mut tx, &stored).await.map_err(db)?;
        let saved = store::get_retention_policy(&mut tx, ns).await.map_err(db)?.unwrap_or(stored);
        tx.commit().await.map_err(db)?;
        Ok(saved)
    }

    /// Removes a namespace's policy (its runs stay on record).
    pub async fn delete_retention_policy(&self, caller: &Caller, ns: &str) -> Result<(), ApiError> {
        self.allow(caller, Verb::Delete, "retention", Some(ns))?;
        let mut tx = self.store.begin().await.map_err(db)?;
        self.require_namespace(&mut tx, ns).await?;
        if !store::delete_retention_policy(&mut tx, ns).await.map_err(db)? {
            return Err(ApiError::not_found(RES_RETENTION, ns));
        }
        tx.commit().await.map_err(db)
    }

    /// What `policy` would do to the namespace now: a dry run, every history item with its
    /// decision and reason. For the namespace's admins (those who may save it); it changes
    /// nothing, so it is not noted for the audit log.
    pub async fn preview_retention(&self, caller: &Caller, ns: &str, policy: &RetentionPolicy) -> Result<PruneReport, ApiError> {
        self.authorizer.check(caller, Verb::Update, "retention", Some(ns))?;
        checked(ns, policy)?;
        {
            let mut conn = self.store.read().await.map_err(db)?;
            self.require_namespace(&mut conn, ns).await?;
        }
        self.prune_images(&Caller::system(), &policy.prune_options(ns, false), PruneOutput::Report).await
    }

    /// Runs the namespace's saved policy now, for real ("Run now"); the run's record.
    pub async fn run_retention_now(&self, caller: &Caller, ns: &str) -> Result<RetentionRun, ApiError> {
        self.allow(caller, Verb::Create, "retention", Some(ns))?;
        let stored = {
            let mut conn = self.store.read().await.map_err(db)?;
            self.require_namespace(&mut conn, ns).await?;
            store::get_retention_policy(&mut conn, ns).await.map_err(db)?
        };
        let stored = stored.ok_or_else(|| ApiError::not_found(RES_RETENTION, ns))?;
        self.run_policy(&stored, TRIGGER_MANUAL, &who(caller)).await
    }

    /// One page of a namespace's runs, newest first (`limit` as the other lists: default 500, at
    /// most 1000; the continue token is the id after which the next page starts).
    pub async fn retention_runs(
        &self,
        caller: &Caller,
        ns: &str,
        limit: Option<i64>,
        continue_token: Option<&str>,
    ) -> Result<RetentionRunList, ApiError> {
        self.allow(caller, Verb::List, "retention", Some(ns))?;
        let limit = super::page_size(limit)?;
        let before = match continue_token {
            None | Some("") => None,
            Some(t) => Some(t.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "continue: Invalid value: {:?}: not a continue token of the retention runs",
                    t.chars().take(64).collect::<String>()
                ))
            })?),
        };
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        let mut items = store::retention_runs_page(&mut conn, ns, before, limit + 1).await.map_err(db)?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let continue_token = if more { items.last().map(|r| r.id.to_string()) } else { None };
        Ok(RetentionRunList { items, metadata: RunListMeta { continue_token } })
    }

    /// One run with its full report.
    pub async fn retention_run(&self, caller: &Caller, ns: &str, id: i64) -> Result<RetentionRun, ApiError> {
        self.allow(caller, Verb::Get, "retention", Some(ns))?;
        let mut conn = self.store.read().await.map_err(db)?;
        self.require_namespace(&mut conn, ns).await?;
        store::get_retention_run(&mut conn, ns, id)
            .await
            .map_err(db)?
            .ok_or_else(|| ApiError::not_found(RES_RETENTION_RUNS, &id.to_string()))
    }

    /// One pass of the retention schedule: runs the policy of every namespace whose last scheduled
    /// run (or, before one, its last change) is at least `interval` ago on the service clock.
    /// Returns how many ran; one namespace's failure is recorded on its run and does not stop
    /// the others.
    pub async fn retention_pass(&self, interval: std::time::Duration) -> Result<usize, ApiError> {
        let cutoff = (self.clock.now() - chrono::Duration::from_std(interval).unwrap_or(chrono::Duration::days(1)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let due = {
            let mut conn = self.store.read().await.map_err(db)?;
            store::due_retention_policies(&mut conn, &cutoff).await.map_err(db)?
        };
        for policy in &due {
            if let Err(e) = self.run_policy(policy, TRIGGER_SCHEDULE, TRIGGER_SCHEDULE).await {
                tracing::warn!(namespace = %policy.namespace, error = %e, "scheduled retention run failed");
            }
        }
        Ok(due.len())
    }

    /// Records the run as started (for a scheduled run, in the same transaction as moving the
    /// schedule on, so a pass that dies half-way does not run it twice), prunes, and records the
    /// outcome (see the module doc).
    async fn run_policy(&self, stored: &StoredRetentionPolicy, trigger: &str, by: &str) -> Result<RetentionRun, ApiError> {
        use tracing::Instrument;
        let span = tracing::info_span!("retention", namespace = %stored.namespace, trigger);
        let run = self.run_policy_inner(stored, trigger, by).instrument(span).await;
        crate::metrics::metrics().run("retention", if run.is_ok() { "success" } else { "failure" });
        run
    }

    async fn run_policy_inner(&self, stored: &StoredRetentionPolicy, trigger: &str, by: &str) -> Result<RetentionRun, ApiError> {
        let ns = stored.namespace.as_str();
        let mut run = RetentionRun {
            namespace: ns.to_string(),
            started: self.now_rfc3339(),
            trigger: trigger.to_string(),
            by: by.to_string(),
            state: RUN_RUNNING.into(),
            policy: stored.policy.clone(),
            ..Default::default()
        };
        let mut tx = self.store.begin().await.map_err(db)?;
        run.id = store::insert_retention_run(&mut tx, &run).await.map_err(db)?;
        if trigger == TRIGGER_SCHEDULE {
            store::set_last_scheduled_run(&mut tx, ns, &run.started).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;

        let outcome = self.prune_images(&Caller::system(), &stored.policy.prune_options(ns, true), PruneOutput::Report).await;
        run.finished = Some(self.now_rfc3339());
        match &outcome {
            Ok(report) => {
                run.state = RUN_SUCCEEDED.into();
                run.deleted_items = report.deleted_items as i64;
                run.updated_streams = report.updated_streams as i64;
                run.deleted_images = report.deleted_images as i64;
                run.bytes_freed = report.bytes_freed.min(i64::MAX as u64) as i64;
                run.summary = report.summary.clone();
                run.report = Some(report.clone());
            }
            Err(e) => {
                run.state = RUN_FAILED.into();
                run.error = Some(e.message().to_string());
            }
        }
        let mut tx = self.store.begin().await.map_err(db)?;
        store::finish_retention_run(&mut tx, &run).await.map_err(db)?;
        if trigger == TRIGGER_SCHEDULE {
            let (code, result) = match &outcome {
                Ok(_) => (200, "success".to_string()),
                Err(e) => (e.code(), "failure".to_string()),
            };
            let entry = AuditEntry {
                time: self.clock_now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                user: Some(SCHEDULE_USER.into()),
                token: None,
                namespace: Some(ns.to_string()),
                action: format!(
                    "retention run {} (schedule): {}",
                    run.id,
                    if run.summary.is_empty() { run.error.clone().unwrap_or_default() } else { run.summary.clone() }
                ),
                remote: None,
                code,
                outcome: result,
            };
            store::insert_audit(&mut tx, &entry).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        outcome.map(|_| run)
    }
}

/// The name a policy or run records for its author (the single local user of a loopback server
/// without accounts has none).
fn who(caller: &Caller) -> String {
    match &caller.user {
        Some(u) => u.clone(),
        None if caller.open => "local user".into(),
        None => "system:anonymous".into(),
    }
}

/// The policy's rules as a 422 naming each broken field.
fn checked(ns: &str, policy: &RetentionPolicy) -> Result<(), ApiError> {
    let errs = validate(policy);
    if errs.is_empty() { Ok(()) } else { Err(ApiError::invalid(RES_RETENTION, ns, &errs)) }
}
