//! The portal's read queries: the catalog with search, sorting and pagination, where an image
//! is used, and the dashboard's recent movements.

use super::{StoreResult, StoredStream};
use app::model::{ImageStream, NamedTagEventList, TagEvent};
use sqlx::{Row, SqliteConnection};

/// How the catalog is ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CatalogSort {
    Name,
    Updated,
}

const CATALOG_FILTER: &str = "(?1 = '' OR s.name LIKE '%' || ?1 || '%' ESCAPE '\\'
     OR EXISTS (SELECT 1 FROM spec_tags t WHERE t.stream_id = s.id AND t.name = ?2)
     OR EXISTS (SELECT 1 FROM status_tags t WHERE t.stream_id = s.id AND t.tag = ?2)
     OR (length(?2) >= 4 AND EXISTS (SELECT 1 FROM tag_events e WHERE e.stream_id = s.id
             AND (e.image LIKE ?2 || '%' OR e.image LIKE 'sha256:' || ?2 || '%'))))";

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}

/// A catalog row as the database has it: the stream with only each tag's head, and counts.
/// (Reading whole histories for a page of 50 streams was most of the page's time.)
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub stream: ImageStream,
    pub tag_count: i64,
    pub image_count: i64,
}

/// One page of the catalog and the number of matching streams.
pub async fn catalog_page(
    conn: &mut SqliteConnection,
    query: &str,
    sort: CatalogSort,
    offset: i64,
    limit: i64,
    scope: Option<&str>,
) -> StoreResult<(Vec<CatalogEntry>, i64)> {
    let order = match sort {
        CatalogSort::Name => "s.name, s.namespace",
        CatalogSort::Updated => "s.last_updated IS NULL, s.last_updated DESC, s.name, s.namespace",
    };
    let like = escape_like(query);
    // The count, the page and its heads from one snapshot.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let conn = &mut *tx;
    let (total,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM image_streams s WHERE {CATALOG_FILTER} AND (?3 IS NULL OR s.namespace IN (SELECT value FROM json_each(?3)))"
    )))
    .bind(&like)
    .bind(query)
    .bind(scope)
    .fetch_one(&mut *conn)
    .await?;
    // Only the two fixed ORDER BY clauses above are interpolated; values are bound.
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
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
    .bind(scope)
    .fetch_all(&mut *conn)
    .await?;
    let mut entries: Vec<(i64, CatalogEntry)> = vec![];
    for r in &rows {
        let mut stream = ImageStream::new(&r.try_get::<String, _>("namespace")?, &r.try_get::<String, _>("name")?);
        stream.spec.docker_image_repository = r.try_get("docker_image_repository")?;
        entries
            .push((r.try_get("id")?, CatalogEntry { stream, tag_count: r.try_get("tag_count")?, image_count: r.try_get("image_count")? }));
    }
    if !entries.is_empty() {
        let placeholders = vec!["?"; entries.len()].join(", ");
        // Heads only: the newest item of each tag, found through the primary key.
        let sql = format!(
            "SELECT e.stream_id, e.tag, e.created, e.docker_image_reference, e.image, e.generation FROM tag_events e
             WHERE e.stream_id IN ({placeholders})
               AND e.seq = (SELECT max(x.seq) FROM tag_events x WHERE x.stream_id = e.stream_id AND x.tag = e.tag)
             ORDER BY e.stream_id, e.tag"
        );
        // Only "?" placeholders are interpolated; values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (id, _) in &entries {
            q = q.bind(*id);
        }
        let index: std::collections::BTreeMap<i64, usize> = entries.iter().enumerate().map(|(i, (id, _))| (*id, i)).collect();
        for r in q.fetch_all(&mut *conn).await? {
            let i = index[&r.try_get::<i64, _>("stream_id")?];
            let tag: String = r.try_get("tag")?;
            let head = TagEvent {
                created: r.try_get("created")?,
                docker_image_reference: r.try_get("docker_image_reference")?,
                image: r.try_get("image")?,
                generation: r.try_get("generation")?,
            };
            entries[i].1.stream.status.tags.push(NamedTagEventList { tag, items: Some(vec![head]), conditions: vec![] });
        }
    }
    tx.commit().await?;
    Ok((entries.into_iter().map(|(_, e)| e).collect(), total))
}

/// Every history item that points at `digest`: (namespace, stream, tag, created, is head).
pub async fn image_uses(
    conn: &mut SqliteConnection,
    digest: &str,
    scope: Option<&str>,
) -> StoreResult<Vec<(String, String, String, String, bool)>> {
    let rows = sqlx::query(
        "SELECT s.namespace, s.name, e.tag, e.created,
                e.seq = (SELECT max(x.seq) FROM tag_events x WHERE x.stream_id = e.stream_id AND x.tag = e.tag) AS head
         FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
         WHERE e.image = ?1 AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         ORDER BY head DESC, e.created DESC LIMIT 200",
    )
    .bind(digest)
    .bind(scope)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((r.try_get("namespace")?, r.try_get("name")?, r.try_get("tag")?, r.try_get("created")?, r.try_get::<i64, _>("head")? != 0))
        })
        .collect()
}

/// The newest tag movements: (namespace, stream, tag, created, reference, image, generation).
pub async fn recent_movements(
    conn: &mut SqliteConnection,
    limit: i64,
    scope: Option<&str>,
) -> StoreResult<Vec<(String, String, String, String, String, String, i64)>> {
    let rows = sqlx::query(
        "SELECT s.namespace, s.name, e.tag, e.created, e.docker_image_reference, e.image, e.generation
         FROM tag_events e JOIN image_streams s ON s.id = e.stream_id
         WHERE (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         ORDER BY e.created DESC LIMIT ?1",
    )
    .bind(limit)
    .bind(scope)
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("namespace")?,
                r.try_get("name")?,
                r.try_get("tag")?,
                r.try_get("created")?,
                r.try_get("docker_image_reference")?,
                r.try_get("image")?,
                r.try_get("generation")?,
            ))
        })
        .collect()
}

/// Tags whose latest import failed: (namespace, stream, tag, conditions JSON).
pub async fn failing_tags(
    conn: &mut SqliteConnection,
    limit: i64,
    scope: Option<&str>,
) -> StoreResult<Vec<(String, String, String, String)>> {
    let rows = sqlx::query(
        "SELECT s.namespace, s.name, t.tag, t.conditions FROM status_tags t JOIN image_streams s ON s.id = t.stream_id
         WHERE t.conditions <> '[]' AND (?2 IS NULL OR s.namespace IN (SELECT value FROM json_each(?2)))
         ORDER BY s.namespace, s.name, t.tag LIMIT ?1",
    )
    .bind(limit)
    .bind(scope)
    .fetch_all(conn)
    .await?;
    rows.iter().map(|r| Ok((r.try_get("namespace")?, r.try_get("name")?, r.try_get("tag")?, r.try_get("conditions")?))).collect()
}

/// Streams whose newest head is at or after `since`, newest first.
pub async fn updated_since(conn: &mut SqliteConnection, since: &str, limit: i64, scope: Option<&str>) -> StoreResult<Vec<StoredStream>> {
    let rows = sqlx::query(
        "SELECT * FROM image_streams WHERE last_updated >= ?1 AND (?3 IS NULL OR namespace IN (SELECT value FROM json_each(?3)))
         ORDER BY last_updated DESC LIMIT ?2",
    )
    .bind(since)
    .bind(limit)
    .bind(scope)
    .fetch_all(&mut *conn)
    .await?;
    super::streams::streams_from_rows(conn, &rows).await
}
