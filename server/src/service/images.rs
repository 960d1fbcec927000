//! Image objects (cluster scoped, read-only through the API; created by mappings and imports).
//! Must not: hold SQL or restate a lookup rule of `app::domain::lookup`.

use super::{Caller, Service, Verb, db, page_size};
use crate::store;
use app::model::*;

impl Service {
    pub async fn get_image(&self, caller: &Caller, digest: &str) -> Result<Image, ApiError> {
        self.allow(caller, Verb::Get, "images", None)?;
        let mut conn = self.store.read().await.map_err(db)?;
        store::get_image(&mut conn, digest).await.map_err(db)?.ok_or_else(|| ApiError::not_found(RES_IMAGES, digest))
    }

    pub async fn list_images(&self, caller: &Caller, limit: Option<i64>, cont: Option<&str>) -> Result<List<Image>, ApiError> {
        self.allow(caller, Verb::List, "images", None)?;
        let limit = page_size(limit)?;
        let mut conn = self.store.read().await.map_err(db)?;
        let mut items = store::list_images(&mut conn, cont.unwrap_or(""), limit + 1).await.map_err(db)?;
        let next = if items.len() as i64 > limit {
            items.truncate(limit as usize);
            items.last().map(|i| i.metadata.name.clone())
        } else {
            None
        };
        drop(conn);
        Ok(List { api_version: IMAGE_API_VERSION.into(), kind: "ImageList".into(), metadata: self.list_meta(next).await?, items })
    }
}
