//! The write path every stream change takes: the stream is saved and the webhook deliveries its
//! tag changes cause are queued in the same transaction (the outbox; for a changed stream in the
//! same round trip as its rows), so a crash loses neither
//! and a failed write leaves neither. Which changes a subscription wants is
//! `app::domain::triggers`'; the CloudEvent envelope is `webhooks`'.
//!
//! Must not: commit (the caller owns the transaction) or send anything (`workers::delivery`).

use super::webhooks::PendingBudget;
use super::{Service, db};
use crate::store::{self, DeliveryRow, StoredStream};
use app::domain::triggers::{image_change_event, subscription_wants, tag_changes};
use app::model::*;
use sqlx::SqliteConnection;

impl Service {
    /// The outbox: the deliveries, one for every subscription of the stream's namespace that
    /// wants one of the tag changes between `old` and `new`, for the caller to write in its
    /// transaction. Those beyond the namespace's pending quota are recorded here, as failed and
    /// unsent, and not returned.
    pub(crate) async fn tag_event_deliveries(
        &self,
        tx: &mut SqliteConnection,
        old: Option<&ImageStream>,
        new: Option<&ImageStream>,
    ) -> Result<Vec<DeliveryRow>, ApiError> {
        let Some(any) = new.or(old) else { return Ok(vec![]) };
        let (hooks, pending) = store::subscriptions_with_pending_bound(tx, any.namespace()).await.map_err(db)?;
        self.deliveries_for(tx, hooks, pending, old, new).await
    }

    /// `tag_event_deliveries` with the namespace's subscriptions and the bound of its pending
    /// deliveries already read under the writer (`store::write_state_locked`).
    pub(crate) async fn deliveries_for(
        &self,
        tx: &mut SqliteConnection,
        hooks: Vec<store::WebhookRow>,
        pending: i64,
        old: Option<&ImageStream>,
        new: Option<&ImageStream>,
    ) -> Result<Vec<DeliveryRow>, ApiError> {
        let Some(any) = new.or(old) else { return Ok(vec![]) };
        let ns = any.namespace().to_string();
        let wanted = self.wanted_deliveries(&hooks, old, new)?;
        let mut budget = PendingBudget::from_bound(&ns, pending);
        let mut queued = vec![];
        for d in wanted {
            // Counts what is queued so far (not yet written) on top of what is stored.
            if budget.take_counting(tx, queued.len() as i64).await? {
                queued.push(d);
            } else {
                self.record_unsent(tx, d).await?;
            }
        }
        Ok(queued)
    }

    /// `deliveries_for` without the database, for a write on the group commit's locked
    /// connection: `None` when the namespace's `pending` bound leaves less room under
    /// `MAX_PENDING_PER_NAMESPACE` than the deliveries need, so the exact count must decide
    /// (through `deliveries_for`).
    pub(crate) fn deliveries_within_bound(
        &self,
        hooks: &[store::WebhookRow],
        pending: i64,
        old: Option<&ImageStream>,
        new: Option<&ImageStream>,
    ) -> Option<Result<Vec<DeliveryRow>, ApiError>> {
        match self.wanted_deliveries(hooks, old, new) {
            Ok(wanted) if pending.saturating_add(wanted.len() as i64) > super::MAX_PENDING_PER_NAMESPACE => None,
            wanted => Some(wanted),
        }
    }

    /// The deliveries the tag changes between `old` and `new` cause, in the order they are
    /// queued (subscriptions by name, then changes), before the namespace's quota is applied.
    fn wanted_deliveries(
        &self,
        hooks: &[store::WebhookRow],
        old: Option<&ImageStream>,
        new: Option<&ImageStream>,
    ) -> Result<Vec<DeliveryRow>, ApiError> {
        let Some(any) = new.or(old) else { return Ok(vec![]) };
        let (ns, name) = (any.namespace().to_string(), any.metadata.name.clone());
        if hooks.is_empty() {
            return Ok(vec![]);
        }
        // The trigger rule compares resolved pull specs, which need the repository (§7.1).
        let old = old.map(|s| self.with_public_repository(s.clone()));
        let new = new.map(|s| self.with_public_repository(s.clone()));
        let changes = tag_changes(old.as_ref(), new.as_ref());
        if changes.is_empty() {
            return Ok(vec![]);
        }
        let rv = new.as_ref().or(old.as_ref()).and_then(|s| s.metadata.resource_version.clone()).unwrap_or_default();
        let events: Vec<_> = changes
            .into_iter()
            .map(|c| {
                let data = image_change_event(&ns, &name, &rv, &c);
                let source = format!("{}/namespaces/{ns}/imagestreams/{name}", app::model::IMAGE_API_PATH);
                let e = self.cloud_event(cloud_event_type(c.event), source, format!("{name}:{}", c.tag), data);
                (c, e)
            })
            .collect();
        let mut wanted = vec![];
        for hook in hooks {
            let spec = WebhookSpec { tags: hook.tags.0.clone(), events: hook.events.0.clone(), ..Default::default() };
            for (change, event) in &events {
                if subscription_wants(&spec, &name, change) {
                    wanted.push(self.delivery_row(hook.id, event, None)?);
                }
            }
        }
        Ok(wanted)
    }

    /// Saves a new stream and queues the deliveries it causes (same transaction).
    pub(crate) async fn save_new_stream(&self, tx: &mut SqliteConnection, new: &ImageStream) -> Result<i64, ApiError> {
        let id = store::insert_stream(tx, new, &self.now_rfc3339()).await.map_err(db)?;
        let outbox = self.tag_event_deliveries(tx, None, Some(new)).await?;
        store::queue_deliveries(tx, &outbox).await.map_err(db)?;
        Ok(id)
    }

    /// Saves a changed stream and queues the deliveries it causes (same transaction, and the
    /// same round trip as the stream's rows).
    pub(crate) async fn save_stream(&self, tx: &mut SqliteConnection, old: &StoredStream, new: &ImageStream) -> Result<(), ApiError> {
        let outbox = self.tag_event_deliveries(tx, Some(&old.stream), Some(new)).await?;
        store::update_stream(tx, old, new, &self.now_rfc3339(), &outbox).await.map_err(db)
    }

    /// Deletes a stream (`last` carries the deletion's version) and queues its tags' deletion.
    pub(crate) async fn remove_stream(&self, tx: &mut SqliteConnection, old: &StoredStream, last: &ImageStream) -> Result<(), ApiError> {
        store::delete_stream(tx, old.id, last, &self.now_rfc3339()).await.map_err(db)?;
        let outbox = self.tag_event_deliveries(tx, Some(last), None).await?;
        store::queue_deliveries(tx, &outbox).await.map_err(db)
    }
}
