//! The read models of the web pages: a page of the catalog, a stream with what the blob store
//! holds of its tags' images, an image with the streams that use it (and their repositories in
//! the portal's registry), the dashboard (newest tag movements, failing imports, streams updated
//! today) and a namespace's settings with its storage use. Each reads under the caller's
//! namespace scope, so a page never shows what the API would refuse.
//!
//! Must not: render markup (that is the app's `views`) or restate a column rule (that is
//! `app::domain::present`).

use super::{Caller, Service, Verb, db};
use crate::store::{self, CatalogSort};
use app::api::{
    CatalogSlice, CatalogStream, Dashboard, DashboardMove, FailingImport, ImageFacts, ImageStorage, ImageSummary, ImageUse, StreamFacts,
};
use app::domain::present::{image_repository_column, last_updated, tags_by_recency, tags_column};
use app::domain::tag_table::{TagQuery, tag_page};
use app::domain::views::tag_views;
use app::model::{ApiError, CONDITION_IMPORT_SUCCESS, ImageStream, RES_IMAGES};
use chrono::SecondsFormat;
use std::collections::{BTreeMap, BTreeSet};

/// Streams per catalog page.
pub const CATALOG_PAGE: u32 = 50;

/// How many moves (tags, aliases folded in), failing tags and streams the dashboard shows at
/// most; it reads `DASHBOARD_RECENT` history items to find the latest move of that many tags.
const DASHBOARD_MOVES: usize = 12;
const DASHBOARD_RECENT: i64 = 400;
const DASHBOARD_LIST: i64 = 50;

/// How many images (with their children) one page asks the blob store about at most: a stream
/// page shows its tags' heads, and `registry_storage_of` answers 500 digests at most.
const STORAGE_IMAGES: usize = 200;

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
        let (resource_version, uses) = {
            let mut conn = self.store.read().await.map_err(db)?;
            // Read before the facts: changes after it reach the page live.
            let resource_version = store::current_resource_version(&mut conn).await.map_err(db)?.to_string();
            (resource_version, store::image_uses(&mut conn, digest, scope.as_deref()).await.map_err(db)?)
        };
        if uses.is_empty() && !caller.server_admin() {
            return Err(ApiError::not_found(RES_IMAGES, digest));
        }
        let image = self.get_image(&Caller::system(), digest).await?;
        let uses: Vec<ImageUse> = uses
            .into_iter()
            .map(|u| ImageUse {
                repository: self.registry_repository(&u.namespace, &u.name).unwrap_or_default(),
                namespace: u.namespace,
                stream: u.name,
                tag: u.tag,
                created: u.created,
                current: u.head,
            })
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
        let storage =
            self.image_storage(std::slice::from_ref(&image.metadata.name)).await?.remove(&image.metadata.name).unwrap_or_default();
        Ok(ImageFacts { image, uses, yaml, storage, resource_version })
    }

    /// The stream page's facts: the stream, and what the blob store holds of the image each of
    /// its tags points at now.
    /// Sizes and platforms are read for every head in one query (the table sorts by size); the
    /// blob store is asked only about the heads of the rows `table` shows (a page of 25 to 100
    /// tags), so a stream with 500 tags costs what a page costs.
    pub async fn stream_facts(&self, caller: &Caller, namespace: &str, name: &str, table: &TagQuery) -> Result<StreamFacts, ApiError> {
        let stream = self.get_stream(caller, namespace, name).await?;
        let heads: BTreeSet<String> =
            stream.status.tags.iter().filter_map(|l| l.items().first()).map(|h| h.image.clone()).filter(|i| !i.is_empty()).collect();
        let images: BTreeMap<String, ImageSummary> = {
            let mut conn = self.store.read().await.map_err(db)?;
            store::image_summaries(&mut conn, &heads.into_iter().collect::<Vec<_>>())
                .await
                .map_err(db)?
                .into_iter()
                .map(|(d, (size, platforms))| (d, ImageSummary { size, platforms }))
                .collect()
        };
        let page = tag_page(tag_views(&stream), table, |t| t.history.first().and_then(|h| images.get(&h.image)).map(|i| i.size));
        let shown: BTreeSet<String> =
            page.rows.iter().filter_map(|t| t.history.first()).map(|h| h.image.clone()).filter(|i| !i.is_empty()).collect();
        let storage = self.image_storage(&shown.into_iter().collect::<Vec<_>>()).await?;
        Ok(StreamFacts { stream, storage, images })
    }

    /// What the blob store holds of each of `digests` (images): [`Service::registry_storage_of`]
    /// with an index's children folded in, so an index counts as mirrored only when every
    /// platform is, and its bytes are its own and its children's.
    async fn image_storage(&self, digests: &[String]) -> Result<BTreeMap<String, ImageStorage>, ApiError> {
        let mut children: BTreeMap<String, Vec<String>> = BTreeMap::new();
        {
            let mut conn = self.store.read().await.map_err(db)?;
            for d in digests.iter().take(STORAGE_IMAGES) {
                if let Some(image) = store::get_image(&mut conn, d).await.map_err(db)?
                    && !image.docker_image_manifests.is_empty()
                {
                    children.insert(d.clone(), image.docker_image_manifests.iter().map(|m| m.digest.clone()).collect());
                }
            }
        }
        let mut wanted: Vec<String> = digests.iter().take(STORAGE_IMAGES).cloned().collect();
        wanted.extend(children.values().flatten().cloned());
        wanted.sort();
        wanted.dedup();
        let found = self.registry_storage_of(&wanted).await?;
        let of = |d: &String| {
            found.get(d).map(|(mirrored, bytes)| ImageStorage { mirrored: *mirrored, stored_bytes: *bytes }).unwrap_or_default()
        };
        Ok(digests
            .iter()
            .take(STORAGE_IMAGES)
            .map(|d| {
                let mut s = of(d);
                for child in children.get(d).into_iter().flatten() {
                    let c = of(child);
                    s.mirrored &= c.mirrored;
                    s.stored_bytes += c.stored_bytes;
                }
                (d.clone(), s)
            })
            .collect())
    }

    /// The image page of an ImageStreamImage name (`<stream>@<id>`, as `get isimage` finds it).
    pub async fn stream_image_facts(&self, caller: &Caller, namespace: &str, name: &str) -> Result<ImageFacts, ApiError> {
        let found = self.get_stream_image(caller, namespace, name).await?;
        self.image_facts(caller, &found.image.metadata.name).await
    }

    /// The wall screen: the latest move of each recently moved tag (aliases folded in), tags
    /// whose last import failed, the streams and tags updated since midnight UTC (of the service
    /// clock), and the moves per hour over the last day.
    pub async fn dashboard(&self, caller: &Caller) -> Result<Dashboard, ApiError> {
        let scope = caller.visible_namespaces();
        let now = self.clock_now();
        let today = now.format("%Y-%m-%dT00:00:00Z").to_string();
        let first_hour = now - chrono::Duration::hours(23);
        let since_hour = first_hour.format("%Y-%m-%dT%H:00:00Z").to_string();
        let mut conn = self.store.read().await.map_err(db)?;
        // Read before the rest: a move after it reaches the page live.
        let resource_version = store::current_resource_version(&mut conn).await.map_err(db)?.to_string();
        let recent = store::recent_movements(&mut conn, DASHBOARD_RECENT, scope.as_deref()).await.map_err(db)?;
        let moves = latest_moves(recent, DASHBOARD_MOVES);
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
        let (streams_today, tags_today) = store::changed_since(&mut conn, &today, scope.as_deref()).await.map_err(db)?;
        let per_hour = store::moves_per_hour(&mut conn, &since_hour, scope.as_deref()).await.map_err(db)?;
        let hours: Vec<String> = (0..24).map(|i| (first_hour + chrono::Duration::hours(i)).format("%Y-%m-%dT%H").to_string()).collect();
        let moves_per_hour =
            hours.iter().map(|h| per_hour.iter().find(|(hour, _)| hour == h).map(|(_, n)| (*n).max(0) as u64).unwrap_or(0)).collect();
        Ok(Dashboard {
            moves,
            failing,
            updated_today,
            streams_today: streams_today.max(0) as u64,
            tags_today: tags_today.max(0) as u64,
            moves_per_hour,
            current_hour: hours.last().cloned().unwrap_or_default(),
            generated: now.to_rfc3339_opts(SecondsFormat::Secs, true),
            resource_version,
        })
    }
}

/// The latest move of each tag in `recent` (history items, newest first), at most `limit` lines:
/// a tag already shown is skipped (only its newest move counts), and tags of the same stream that
/// moved to the same image at the same moment (an alias and its source, a push of several tags)
/// share one line.
fn latest_moves(recent: Vec<store::TagMovementRow>, limit: usize) -> Vec<DashboardMove> {
    let mut seen: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut out: Vec<DashboardMove> = vec![];
    for m in recent {
        if !seen.insert((m.namespace.clone(), m.name.clone(), m.tag.clone())) {
            continue;
        }
        if let Some(line) =
            out.iter_mut().find(|l| l.namespace == m.namespace && l.stream == m.name && l.image == m.image && l.created == m.created)
        {
            line.tags.push(m.tag);
            continue;
        }
        if out.len() == limit {
            continue;
        }
        out.push(DashboardMove {
            namespace: m.namespace,
            stream: m.name,
            tags: vec![m.tag],
            image: m.image,
            docker_image_reference: m.docker_image_reference,
            created: m.created,
        });
    }
    out
}

impl Service {
    /// A namespace's settings page: its members, whether it is public, whether the caller
    /// administers it, and the bytes the blob store holds for its images.
    pub async fn namespace_settings(&self, caller: &Caller, namespace: &str) -> Result<app::api::NamespaceSettings, ApiError> {
        let members = self.list_members(caller, namespace).await?;
        let public = self.get_visibility(caller, namespace).await?.public;
        let can_admin = self.may(caller, Verb::Update, "members", Some(namespace));
        let storage_bytes = self.namespace_storage(caller, namespace).await?;
        Ok(app::api::NamespaceSettings { members, public, can_admin, storage_bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(stream: &str, tag: &str, image: &str, created: &str) -> store::TagMovementRow {
        store::TagMovementRow {
            namespace: "ns".into(),
            name: stream.into(),
            tag: tag.into(),
            created: created.into(),
            docker_image_reference: format!("reg/{stream}@{image}"),
            image: image.into(),
            generation: 1,
        }
    }

    /// Items have whole seconds: a tag and its alias that move twice within one second show
    /// their second move (the order of the history, not of the rows, decides).
    #[tokio::test]
    async fn a_tag_moved_twice_in_one_second_shows_its_newest_move() {
        use chrono::{DateTime, Utc};
        struct Fixed(DateTime<Utc>);
        impl crate::service::Clock for Fixed {
            fn now(&self) -> DateTime<Utc> {
                self.0
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let at = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc);
        let service = Service::open(dir.path(), "registry.local".into()).await.unwrap().with_clock(std::sync::Arc::new(Fixed(at)));
        let caller = Caller::system();
        service.create_namespace(&caller, app::model::Namespace::new("team")).await.unwrap();
        service.create_stream(&caller, "team", app::model::ImageStream::new("team", "app")).await.unwrap();
        let digests = [format!("sha256:{}", "1".repeat(64)), format!("sha256:{}", "2".repeat(64))];
        for (i, digest) in digests.iter().enumerate() {
            // As the API takes them (the e2e test `wall.spec.ts` posts the same).
            let mapping: app::model::ImageStreamMapping = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "app"}, "tag": "prod",
                "image": {"metadata": {"name": digest}, "dockerImageReference": format!("reg.example/team/app@{digest}")}
            }))
            .unwrap();
            service.create_mapping(&caller, "team", mapping).await.unwrap();
            if i == 0 {
                let alias: app::model::ImageStreamTag = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": "app:live"}, "tag": {"name": "live", "from": {"kind": "ImageStreamTag", "name": "prod"}}
                }))
                .unwrap();
                service.set_istag(&caller, "team", "app:live", alias, true).await.unwrap();
            }
        }
        let moves = service.dashboard(&caller).await.unwrap().moves;
        let lines: Vec<(Vec<String>, String)> = moves.into_iter().map(|m| (m.tags, m.image)).collect();
        assert_eq!(lines, vec![(vec!["live".to_string(), "prod".to_string()], digests[1].clone())]);
    }

    #[test]
    fn the_latest_moves_show_each_tag_once_and_aliases_on_their_sources_line() {
        let recent = vec![
            row("app", "prod", "sha256:b", "2026-11-30T10:00:00Z"),
            row("app", "stable", "sha256:b", "2026-11-30T10:00:00Z"),
            row("web", "latest", "sha256:b", "2026-11-30T10:00:00Z"),
            row("app", "prod", "sha256:a", "2026-11-30T09:00:00Z"),
            row("app", "dev", "sha256:a", "2026-11-30T09:00:00Z"),
            row("app", "stable", "sha256:a", "2026-11-30T08:00:00Z"),
        ];
        let lines: Vec<(String, Vec<String>)> = latest_moves(recent, 10).into_iter().map(|l| (l.stream, l.tags)).collect();
        assert_eq!(
            lines,
            vec![
                ("app".into(), vec!["prod".to_string(), "stable".to_string()]),
                ("web".into(), vec!["latest".to_string()]),
                ("app".into(), vec!["dev".to_string()]),
            ],
            "prod's older move is gone; stable is shown with prod; another stream's same digest is its own line"
        );
    }

    #[test]
    fn the_latest_moves_stop_at_the_limit_but_still_fold_aliases() {
        let recent = vec![
            row("app", "a", "sha256:1", "2026-11-30T10:00:00Z"),
            row("app", "b", "sha256:2", "2026-11-30T09:00:00Z"),
            row("app", "a2", "sha256:1", "2026-11-30T10:00:00Z"),
        ];
        let lines = latest_moves(recent, 1);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].tags, vec!["a".to_string(), "a2".to_string()]);
    }
}
