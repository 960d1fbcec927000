//! The write path every stream change takes: the stream is saved and the webhook deliveries its
//! tag changes cause are queued in the same transaction (the outbox), so a crash loses neither
//! and a failed write leaves neither. Which changes a subscription wants is
//! `app::domain::triggers`'; the CloudEvent envelope is `webhooks`'.
//!
//! Must not: commit (the caller owns the transaction) or send anything (`workers::delivery`).

use super::{Service, db};
use crate::store::{self, StoredStream};
use app::domain::triggers::{image_change_event, subscription_wants, tag_changes};
use app::model::*;
use sqlx::SqliteConnection;

impl Service {
    /// The outbox: queues, in the caller's transaction, a delivery for every subscription of the
    /// stream's namespace that wants one of the tag changes between `old` and `new`.
    pub(crate) async fn queue_tag_events(
        &self,
        tx: &mut SqliteConnection,
        old: Option<&ImageStream>,
        new: Option<&ImageStream>,
    ) -> Result<(), ApiError> {
        let Some(any) = new.or(old) else { return Ok(()) };
        let (ns, name) = (any.namespace().to_string(), any.metadata.name.clone());
        let hooks = store::list_webhooks(tx, &ns).await.map_err(db)?;
        if hooks.is_empty() {
            return Ok(());
        }
        // The trigger rule compares resolved pull specs, which need the repository (§7.1).
        let old = old.map(|s| self.with_public_repository(s.clone()));
        let new = new.map(|s| self.with_public_repository(s.clone()));
        let changes = tag_changes(old.as_ref(), new.as_ref());
        if changes.is_empty() {
            return Ok(());
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
        for hook in hooks {
            let spec = WebhookSpec { tags: hook.tags.0, events: hook.events.0, ..Default::default() };
            for (change, event) in &events {
                if subscription_wants(&spec, &name, change) {
                    self.queue(tx, hook.id, event, None).await?;
                }
            }
        }
        Ok(())
    }

    /// Saves a new stream and queues the deliveries it causes (same transaction).
    pub(crate) async fn save_new_stream(&self, tx: &mut SqliteConnection, new: &ImageStream) -> Result<i64, ApiError> {
        let id = store::insert_stream(tx, new, &self.now_rfc3339()).await.map_err(db)?;
        self.queue_tag_events(tx, None, Some(new)).await?;
        Ok(id)
    }

    /// Saves a changed stream and queues the deliveries it causes (same transaction).
    pub(crate) async fn save_stream(&self, tx: &mut SqliteConnection, old: &StoredStream, new: &ImageStream) -> Result<(), ApiError> {
        store::update_stream(tx, old.id, new, &old.stream, &self.now_rfc3339()).await.map_err(db)?;
        self.queue_tag_events(tx, Some(&old.stream), Some(new)).await
    }

    /// Deletes a stream (`last` carries the deletion's version) and queues its tags' deletion.
    pub(crate) async fn remove_stream(&self, tx: &mut SqliteConnection, old: &StoredStream, last: &ImageStream) -> Result<(), ApiError> {
        store::delete_stream(tx, old.id, last, &self.now_rfc3339()).await.map_err(db)?;
        self.queue_tag_events(tx, Some(last), None).await
    }
}
