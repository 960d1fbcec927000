//! The read models of the web pages: a page of the catalog, an image with the streams that use
//! it, and the dashboard (newest tag movements, failing imports, streams updated today). Each
//! reads under the caller's namespace scope, so a page never shows what the API would refuse.
//!
//! Must not: render markup (that is the app's `views`) or restate a column rule (that is
//! `app::domain::present`).

use super::{Caller, Service, Verb, db};
use crate::store::{self, CatalogSort};
use app::api::{CatalogSlice, CatalogStream, Dashboard, FailingImport, ImageFacts, ImageUse, TagMovement};
use app::domain::present::{image_repository_column, last_updated, tags_by_recency, tags_column};
use app::model::{ApiError, CONDITION_IMPORT_SUCCESS, ImageStream, RES_IMAGES, TagEvent};
use chrono::SecondsFormat;
use std::collections::BTreeSet;

/// Streams per catalog page.
pub const CATALOG_PAGE: u32 = 50;

/// How many movements, failing tags and streams the dashboard shows at most.
const DASHBOARD_MOVEMENTS: i64 = 20;
const DASHBOARD_LIST: i64 = 50;

/// The catalog row of a stream (its columns are `app::domain::present`'s).
fn catalog_row(s: &ImageStream) -> CatalogStream {
    let images: BTreeSet<&str> =
        s.status.tags.iter().flat_map(|l| l.items().iter().map(|i| i.image.as_str())).filter(|i| !i.is_empty()).collect();
    let mut tags: BTreeSet<&str> = s.spec.tags.iter().map(|t| t.name.as_str()).collect();
    tags.extend(s.status.tags.iter().map(|l| l.tag.as_str()));
    CatalogStream {
        namespace: s.namespace().to_string(),
        name: s.metadata.name.clone(),
        image_repository: image_repository_column(s),
        tags: tags_column(&tags_by_recency(s)),
        updated: last_updated(s),
        tag_count: tags.len(),
        image_count: images.len(),
    }
}

impl Service {
    /// Page `page` (from 1) of the streams the caller may read whose name, tag or image matches
    /// `query`; `sort` is `updated` (newest first) or anything else (by name).
    pub async fn catalog_slice(&self, caller: &Caller, query: &str, sort: &str, page: u32) -> Result<CatalogSlice, ApiError> {
        self.allow(caller, Verb::List, "imagestreams", None)?;
        let scope = caller.visible_namespaces();
        let sort = if sort == "updated" { CatalogSort::Updated } else { CatalogSort::Name };
        let page = page.max(1);
        // A search longer than any name, tag or digest matches nothing; it is cut, not scanned.
        let query: String = query.chars().take(200).collect();
        let mut conn = self.store.read().await.map_err(db)?;
        // Read before the page: changes after it reach the page live.
        let resource_version = store::current_resource_version(&mut conn).await.map_err(db)?.to_string();
        let offset = i64::from(page - 1) * i64::from(CATALOG_PAGE);
        let found =
            store::catalog_page(&mut conn, query.trim(), sort, offset, i64::from(CATALOG_PAGE), scope.as_deref()).await.map_err(db)?;
        let streams = found
            .entries
            .into_iter()
            .map(|e| {
                let mut row = catalog_row(&self.with_public_repository(e.stream));
                row.tag_count = e.tag_count as usize;
                row.image_count = e.image_count as usize;
                row
            })
            .collect();
        Ok(CatalogSlice { streams, total: found.total as u64, page, page_size: CATALOG_PAGE, resource_version })
    }

    /// An image and where it is used: for anyone who may read a namespace that uses the image
    /// (or was the image; server administrators see every image). 404 otherwise.
    pub async fn image_facts(&self, caller: &Caller, digest: &str) -> Result<ImageFacts, ApiError> {
        let scope = caller.visible_namespaces();
        let uses = {
            let mut conn = self.store.read().await.map_err(db)?;
            store::image_uses(&mut conn, digest, scope.as_deref()).await.map_err(db)?
        };
        if uses.is_empty() && !caller.server_admin() {
            return Err(ApiError::not_found(RES_IMAGES, digest));
        }
        let image = self.get_image(&Caller::system(), digest).await?;
        let uses: Vec<ImageUse> = uses
            .into_iter()
            .map(|u| ImageUse { namespace: u.namespace, stream: u.name, tag: u.tag, created: u.created, current: u.head })
            .collect();
        // The YAML of `get isimage <stream>@<digest> -o yaml --export` where the image is used.
        let yaml = match uses.first() {
            Some(u) => match self.get_stream_image(caller, &u.namespace, &format!("{}@{}", u.stream, digest)).await {
                Ok(mut isimage) => {
                    isimage.metadata.export();
                    crate::yaml::to_string(&isimage)
                }
                Err(_) => crate::yaml::to_string(&image),
            },
            None => crate::yaml::to_string(&image),
        };
        Ok(ImageFacts { image, uses, yaml })
    }

    /// The image page of an ImageStreamImage name (`<stream>@<id>`, as `get isimage` finds it).
    pub async fn stream_image_facts(&self, caller: &Caller, namespace: &str, name: &str) -> Result<ImageFacts, ApiError> {
        let found = self.get_stream_image(caller, namespace, name).await?;
        self.image_facts(caller, &found.image.metadata.name).await
    }

    /// The wall screen: the newest tag movements, tags whose last import failed, and the
    /// streams updated since midnight UTC (of the service clock).
    pub async fn dashboard(&self, caller: &Caller) -> Result<Dashboard, ApiError> {
        let scope = caller.visible_namespaces();
        let now = self.clock_now();
        let today = now.format("%Y-%m-%dT00:00:00Z").to_string();
        let mut conn = self.store.read().await.map_err(db)?;
        let movements = store::recent_movements(&mut conn, DASHBOARD_MOVEMENTS, scope.as_deref())
            .await
            .map_err(db)?
            .into_iter()
            .map(|m| TagMovement {
                namespace: m.namespace,
                stream: m.name,
                tag: m.tag,
                event: TagEvent {
                    created: m.created,
                    docker_image_reference: m.docker_image_reference,
                    image: m.image,
                    generation: m.generation,
                },
            })
            .collect();
        let failing = store::tags_with_conditions(&mut conn, DASHBOARD_LIST, scope.as_deref())
            .await
            .map_err(db)?
            .into_iter()
            .filter_map(|t| {
                let condition = t.conditions.0.into_iter().find(|c| c.kind == CONDITION_IMPORT_SUCCESS && c.status == "False")?;
                Some(FailingImport { namespace: t.namespace, stream: t.name, tag: t.tag, condition })
            })
            .collect();
        let updated_today = store::updated_since(&mut conn, &today, DASHBOARD_LIST, scope.as_deref())
            .await
            .map_err(db)?
            .into_iter()
            .map(|r| catalog_row(&self.with_public_repository(r.stream)))
            .collect();
        Ok(Dashboard { movements, failing, updated_today, generated: now.to_rfc3339_opts(SecondsFormat::Secs, true) })
    }
}

impl Service {
    /// A namespace's settings page: its members, whether it is public, and whether the caller
    /// administers it.
    pub async fn namespace_settings(&self, caller: &Caller, namespace: &str) -> Result<app::api::NamespaceSettings, ApiError> {
        let members = self.list_members(caller, namespace).await?;
        let public = self.get_visibility(caller, namespace).await?.public;
        let can_admin = self.may(caller, Verb::Update, "members", Some(namespace));
        Ok(app::api::NamespaceSettings { members, public, can_admin })
    }
}
