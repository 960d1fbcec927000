//! Bulk loading of synthetic data for benchmarks (`imagestreams bench-data`): namespaces and
//! already-valid streams written in large transactions, with no events, webhooks or checks.
//!
//! Must not: be reachable from the API or the UI.

use super::{Service, db};
use crate::store;
use app::model::{ApiError, ImageStream};

impl Service {
    /// Writes `namespaces`, then `streams` (each with a fresh resourceVersion) in transactions
    /// of `batch` streams. Returns the number of streams written.
    pub async fn bulk_load(
        &self,
        namespaces: &[String],
        streams: impl IntoIterator<Item = ImageStream>,
        batch: usize,
    ) -> Result<usize, ApiError> {
        let created = self.now_rfc3339();
        let mut tx = self.store.begin().await.map_err(db)?;
        for ns in namespaces {
            store::insert_namespace(&mut tx, ns, &super::new_uid(), 1, &created).await.map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        let mut written = 0usize;
        let mut streams = streams.into_iter().peekable();
        while streams.peek().is_some() {
            let mut tx = self.store.begin().await.map_err(db)?;
            for mut s in streams.by_ref().take(batch.max(1)) {
                s.metadata.resource_version = Some(store::next_resource_version(&mut tx).await.map_err(db)?.to_string());
                store::insert_stream(&mut tx, &s, &created).await.map_err(db)?;
                written += 1;
            }
            tx.commit().await.map_err(db)?;
        }
        Ok(written)
    }
}
