//! The catalog's read queries: streams with search, sorting and pagination (an `OFFSET` page: the
//! catalog is browsed by page number), where an image is used, the newest tag movements and the
//! tags with conditions.
//!
//! Must not: decide who may see what (the caller passes the namespace scope: the names that may
//! be shown, `None` for all, bound as a JSON array for `json_each`).

use super::streams::{StreamRow, TagEventRow, decode_rows, streams_from_rows};
use super::{StoreResult, StoredStream};
use app::model::{ImageStream, NamedTagEventList, TagEventCondition};
use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

/// How the catalog is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogSort {
    /// By name, then namespace.
    Name,
    /// Newest head first; streams without history last.
    Updated,
}

/// A search matches a stream by `namespace/name` (so a namespace, a name, or both with the slash:
/// `shop`, `web`, `shop/web`, `shop/`), an exact tag name, or a digest prefix of 4+ characters.
const CATALOG_FILTER: &str = "(?1 = '' OR (s.namespace || '/' || s.name) LIKE '%' || ?1 || '%' ESCAPE '\\'
     OR EXISTS (SELECT 1 FROM spec_tags t WHERE t.stream_id = s.id AND t.name = ?2)
     OR EXISTS (SELECT 1 FROM status_tags t WHERE t.stream_id = s.id AND t.tag = ?2)
     OR (length(?2) >= 4 AND EXISTS (SELECT 1 FROM tag_events e WHERE e.stream_id = s.id
             AND (e.image LIKE ?1 || '%' ESCAPE '\\' OR e.image LIKE 'sha256:' || ?1 || '%' ESCAPE '\\'))))";

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A catalog row as the database has it: the stream with only each tag's head, and counts.
/// (Reading whole histories for a page of 50 streams was most of the page's time.)
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    /// The stream with each tag's head only.
    pub stream: ImageStream,
    /// Spec and status tags, each name once.
    pub tag_count: i64,
    /// Distinct images in the history.
    pub image_count: i64,
}

/// One page of the catalog.
#[derive(Clone, Debug)]
pub struct CatalogPageRows {
    /// The page's streams, in the page's order.
    pub entries: Vec<CatalogEntry>,
    /// How many streams match in all (for the pager).
    pub total: i64,
}

#[derive(sqlx::FromRow)]
struct CatalogRow {
    id: i64,
    namespace: String,
    name: String,
    docker_image_repository: String,
    tag_count: i64,
    image_count: i64,
}

/// One page of the catalog and the number of matching streams.
pub async fn catalog_page(
    conn: &mut SqliteConnection,
    query: &str,
    sort: CatalogSort,
    offset: i64,
    limit: i64,
    scope: Option<&[String]>,
) -> StoreResult<CatalogPageRows> {
    let order = match sort {
        CatalogSort::Name => "s.name, s.namespace",
        CatalogSort::Updated => "s.last_updated IS NULL, s.last_updated DESC, s.name, s.namespace",
    };
    let like = escape_like(query);
    // The count, the page and its heads from one snapshot.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let conn = &mut *tx;
    let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM image_streams s WHERE {CATALOG_FILTER} AND (?3 IS NULL OR s.namespace IN (SELECT value FROM json_each(?3)))"
    )))
    .bind(&like)
    .bind(query)
    .bind(scope.map(Json))
    .fetch_one(&mut *conn)
    .await?;
    // Only the two fixed ORDER BY clauses above are interpolated; values are bound.
    let rows: Vec<CatalogRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT s.id, s.namespace, s.name, s.docker_image_repository,
            (SELECT count(*) FROM (SELECT name FROM spec_tags WHERE stream_id = s.id UNION SELECT tag FROM status_tags WHERE stream_id = s.id)) AS tag_count,
            (SELECT count(DISTINCT image) FROM tag_events WHERE stream_id = s.id AND image <> '') AS image_count
         FROM image_streams s WHERE {CATALOG_FILTER} AND (?5 IS NULL OR s.namespace IN (SELECT value FROM json_each(?5)))
         ORDER BY {order} LIMIT ?3 OFFSET ?4"
    )))
    .bind(&like)
    .bind(query)
    .bind(limit)
    .bind(offset)
    .bind(scope.map(Json))
    .fetch_all(&mut *conn)
    .await?;
    let mut entries: Vec<(i64, CatalogEntry)> = rows
        .into_iter()
        .map(|r| {
            let mut stream = ImageStream::new(&r.namespace, &r.name);
            stream.spec.docker_image_repository = r.docker_image_repository;
            (r.id, CatalogEntry { stream, tag_count: r.tag_count, image_count: r.image_count })
        })
        .collect();
    if !entries.is_empty() {
        // Heads only: for each status tag, its newest item, one primary-key seek each. (CROSS
        // JOIN keeps the tags first: walking every item and asking whether it is the newest
        // took 5 ms for 50 streams of 100 items, this 0.6 ms.)
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT e.stream_id, e.tag, e.created, e.docker_image_reference, e.image, e.generation
             FROM status_tags t CROSS JOIN tag_events e WHERE t.stream_id IN (",
        );
        let mut ids = q.separated(", ");
        for (id, _) in &entries {
            ids.push_bind(*id);
        }
        q.push(
            ") AND e.stream_id = t.stream_id AND e.tag = t.tag
             AND e.seq = (SELECT max(x.seq) FROM tag_events x WHERE x.stream_id = t.stream_id AND x.tag = t.tag)
             ORDER BY e.stream_id, e.tag",
        );
        let index: std::collections::BTreeMap<i64, usize> = entries.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
        for r in decode_rows::<TagEventRow>(q.build().fetch_all(&mut *conn).await?)? {
            let head = r.event();
            entries[index[&r.stream_id]].1.stream.status.tags.push(NamedTagEventList {
                tag: r.tag,
                items: Some(vec![head]),
                conditions: vec![],
            });
        }
    }
    tx.commit().await?;
    Ok(CatalogPageRows { entries: entries.into_iter().map(|(_, e)| e).collect(), total })
}

/// A history item that points at an image, and whether it is its tag's head.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ImageUseRow {
    /// The stream's namespace.
    pub namespace: String,
    /// The stream.
    pub name: String,
    /// The tag.
    pub tag: String,
    /// When the item was added (RFC 3339).
    pub created: String,
    /// Whether it is the tag's newest item.
    pub head: bool,
}

/// Every history item that points at `digest` (heads first, newest first, at most 200).
pub async fn image_uses(conn: &mut SqliteConnection, digest: &str, scope: Option<&[String]>) -> StoreResult<Vec<ImageUseRow>> {
    sqlx::query_as(
        "SELECT s.namespace, s.name, e.tag, e.created,
                e.seq = (SELECT max(x.seq) FROM tag_events x WHERE x.stream_id = e.stream_id AND x.tag = e.tag) AS head
         FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
         WHERE e.image = ?1 AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         ORDER BY head DESC, e.created DESC, s.namespace, s.name, e.tag, e.seq DESC LIMIT 200",
    )
    .bind(digest)
    .bind(scope.map(Json))
    .fetch_all(conn)
    .await
}

/// One history item with the tag and stream it belongs to.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TagMovementRow {
    /// The stream's namespace.
    pub namespace: String,
    /// The stream.
    pub name: String,
    /// The tag.
    pub tag: String,
    /// When the tag moved (RFC 3339).
    pub created: String,
    /// The pull spec the tag moved to.
    pub docker_image_reference: String,
    /// The image digest.
    pub image: String,
    /// The tag generation of the move.
    pub generation: i64,
}

/// The newest tag movements, newest first. `created` has whole seconds: a tag that moved twice
/// within one has both items at the same time, and its history position (`seq`) says which is
/// newer.
pub async fn recent_movements(conn: &mut SqliteConnection, limit: i64, scope: Option<&[String]>) -> StoreResult<Vec<TagMovementRow>> {
    sqlx::query_as(
        "SELECT s.namespace, s.name, e.tag, e.created, e.docker_image_reference, e.image, e.generation
         FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
         WHERE (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         ORDER BY e.created DESC, s.namespace, s.name, e.tag, e.seq DESC LIMIT ?1",
    )
    .bind(limit)
    .bind(scope.map(Json))
    .fetch_all(conn)
    .await
}

/// Tag moves per hour since `since` (RFC 3339, UTC): `(hour, moves)` with the hour as
/// `YYYY-MM-DDTHH`, oldest first; hours without a move are left out.
pub async fn moves_per_hour(conn: &mut SqliteConnection, since: &str, scope: Option<&[String]>) -> StoreResult<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT substr(e.created, 1, 13) AS hour, COUNT(*) AS moves
         FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
         WHERE e.created >= ?1 AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         GROUP BY hour ORDER BY hour",
    )
    .bind(since)
    .bind(scope.map(Json))
    .fetch_all(conn)
    .await
}

/// How many streams changed, and how many tags moved, since `since` (RFC 3339, UTC).
pub async fn changed_since(conn: &mut SqliteConnection, since: &str, scope: Option<&[String]>) -> StoreResult<(i64, i64)> {
    let streams: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM image_streams WHERE last_updated >= ?1 AND (?2 IS NULL OR namespace IN (SELECT value FROM json_each(?2)))",
    )
    .bind(since)
    .bind(scope.map(Json))
    .fetch_one(&mut *conn)
    .await?;
    let tags: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT DISTINCT e.stream_id, e.tag FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
         WHERE e.created >= ?1 AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2))))",
    )
    .bind(since)
    .bind(scope.map(Json))
    .fetch_one(conn)
    .await?;
    Ok((streams, tags))
}

/// A status tag that has conditions.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TagConditionsRow {
    /// The stream's namespace.
    pub namespace: String,
    /// The stream.
    pub name: String,
    /// The status tag.
    pub tag: String,
    /// A stored value that does not decode is an error, not an empty list.
    pub conditions: Json<Vec<TagEventCondition>>,
}

/// Tags that carry conditions (a failed import), by namespace, stream and tag.
pub async fn tags_with_conditions(conn: &mut SqliteConnection, limit: i64, scope: Option<&[String]>) -> StoreResult<Vec<TagConditionsRow>> {
    sqlx::query_as(
        "SELECT s.namespace, s.name, t.tag, t.conditions FROM status_tags t JOIN image_streams s ON s.id = t.stream_id
         WHERE t.conditions <> '[]' AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         ORDER BY s.namespace, s.name, t.tag LIMIT ?1",
    )
    .bind(limit)
    .bind(scope.map(Json))
    .fetch_all(conn)
    .await
}

/// Streams whose newest head is at or after `since`, newest first.
pub async fn updated_since(
    conn: &mut SqliteConnection,
    since: &str,
    limit: i64,
    scope: Option<&[String]>,
) -> StoreResult<Vec<StoredStream>> {
    let rows: Vec<StreamRow> = sqlx::query_as(
        "SELECT * FROM image_streams WHERE last_updated >= ?1 AND (?3 IS NULL OR namespace IN (SELECT value FROM json_each(?3)))
         ORDER BY last_updated DESC LIMIT ?2",
    )
    .bind(since)
    .bind(limit)
    .bind(scope.map(Json))
    .fetch_all(&mut *conn)
    .await?;
    streams_from_rows(conn, rows).await
}
