//! Image streams as rows: the stream, its spec tags, status tags (conditions) and history items.
//! A stream is loaded and saved as a whole aggregate; saving rewrites only the tags that changed,
//! and records the change in the watch event log in the same transaction.
//!
//! Must not: apply image-stream rules (history merge, generations: `app::domain`) or decide who
//! may see a stream (the caller passes the namespace scope).

use super::StoreResult;
use app::model::*;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeMap;

/// A stored stream and its row id.
#[derive(Clone, Debug)]
pub struct StoredStream {
    /// The `image_streams` row id (what tags and history rows point at).
    pub id: i64,
    /// The stream with its tags and history.
    pub stream: ImageStream,
}

/// An `image_streams` row.
#[derive(sqlx::FromRow)]
pub(super) struct StreamRow {
    id: i64,
    namespace: String,
    name: String,
    uid: String,
    resource_version: i64,
    generation: i64,
    created: String,
    labels: Json<BTreeMap<String, String>>,
    annotations: Json<BTreeMap<String, String>>,
    lookup_local: bool,
    docker_image_repository: String,
}

impl From<StreamRow> for StoredStream {
    fn from(row: StreamRow) -> Self {
        let mut s = ImageStream::new(&row.namespace, &row.name);
        s.metadata.uid = Some(row.uid);
        s.metadata.resource_version = Some(row.resource_version.to_string());
        s.metadata.generation = Some(row.generation);
        s.metadata.creation_timestamp = Some(row.created);
        s.metadata.labels = row.labels.0;
        s.metadata.annotations = row.annotations.0;
        s.spec.lookup_policy.local = row.lookup_local;
        s.spec.docker_image_repository = row.docker_image_repository;
        StoredStream { id: row.id, stream: s }
    }
}

/// A `spec_tags` row.
#[derive(sqlx::FromRow)]
struct SpecTagRow {
    stream_id: i64,
    name: String,
    /// `None`: upstream's `null` (not the same as `{}`).
    annotations: Option<Json<BTreeMap<String, String>>>,
    from_kind: Option<String>,
    from_name: Option<String>,
    from_namespace: Option<String>,
    reference: bool,
    generation: Option<i64>,
    import_insecure: bool,
    import_scheduled: bool,
    import_mode: String,
    reference_policy: String,
}

impl From<SpecTagRow> for TagReference {
    fn from(row: SpecTagRow) -> Self {
        TagReference {
            from: row.from_kind.map(|kind| ObjectReference {
                kind,
                name: row.from_name.unwrap_or_default(),
                namespace: row.from_namespace.unwrap_or_default(),
            }),
            name: row.name,
            annotations: row.annotations.map(|a| a.0),
            reference: row.reference,
            generation: row.generation,
            import_policy: TagImportPolicy { insecure: row.import_insecure, scheduled: row.import_scheduled, import_mode: row.import_mode },
            reference_policy: TagReferencePolicy { kind: row.reference_policy },
        }
    }
}

/// A `status_tags` row: a status tag without its history.
#[derive(sqlx::FromRow)]
struct StatusTagRow {
    stream_id: i64,
    tag: String,
    conditions: Json<Vec<TagEventCondition>>,
    /// Upstream distinguishes `items: null` from `[]`.
    items_null: bool,
}

/// A `tag_events` row: one history item.
#[derive(sqlx::FromRow)]
pub(super) struct TagEventRow {
    pub(super) stream_id: i64,
    pub(super) tag: String,
    created: String,
    docker_image_reference: String,
    image: String,
    generation: i64,
}

impl TagEventRow {
    /// The history item of the row.
    pub(super) fn event(&self) -> TagEvent {
        TagEvent {
            created: self.created.clone(),
            docker_image_reference: self.docker_image_reference.clone(),
            image: self.image.clone(),
            generation: self.generation,
        }
    }
}

/// `<select> WHERE stream_id IN (<ids>) <order>`, the ids bound. At most one page of ids (the
/// callers cap it), so one statement binds them all.
pub(super) fn of_streams(select: &str, ids: impl Iterator<Item = i64>, order: &str) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new(select);
    q.push(" WHERE stream_id IN (");
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(id);
    }
    q.push(") ");
    q.push(order);
    q
}

/// Decodes fetched rows into `T`. The many-row reads fetch plain rows (`Query::fetch_all`) and
/// decode them here: `QueryAs::fetch_all` decodes row by row off a stream, which measured 35-55%
/// slower on a 1,000-item history and on a page of 50 streams (`scripts/bench-ab.sh`, against
/// the hand-written mapping this replaced).
pub(super) fn decode_rows<T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>>(rows: Vec<sqlx::sqlite::SqliteRow>) -> StoreResult<Vec<T>> {
    rows.iter().map(T::from_row).collect()
}

/// Fills spec and status of the given streams (keyed by row id) with three queries.
async fn fill_tags(conn: &mut SqliteConnection, streams: &mut [StoredStream]) -> StoreResult<()> {
    if streams.is_empty() {
        return Ok(());
    }
    let index: BTreeMap<i64, usize> = streams.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    let mut q = of_streams("SELECT * FROM spec_tags", index.keys().copied(), "ORDER BY stream_id, name");
    for row in decode_rows::<SpecTagRow>(q.build().fetch_all(&mut *conn).await?)? {
        let i = index[&row.stream_id];
        streams[i].stream.spec.tags.push(row.into());
    }
    let mut q = of_streams("SELECT * FROM status_tags", index.keys().copied(), "ORDER BY stream_id, tag");
    for row in decode_rows::<StatusTagRow>(q.build().fetch_all(&mut *conn).await?)? {
        let i = index[&row.stream_id];
        streams[i].stream.status.tags.push(NamedTagEventList {
            tag: row.tag,
            items: if row.items_null { None } else { Some(vec![]) },
            conditions: row.conditions.0,
        });
    }
    let mut q = of_streams("SELECT * FROM tag_events", index.keys().copied(), "ORDER BY stream_id, tag, seq DESC");
    for row in decode_rows::<TagEventRow>(q.build().fetch_all(&mut *conn).await?)? {
        let i = index[&row.stream_id];
        let event = TagEvent {
            created: row.created,
            docker_image_reference: row.docker_image_reference,
            image: row.image,
            generation: row.generation,
        };
        streams[i].stream.status_tag_entry(&row.tag).items.get_or_insert_with(Vec::new).push(event);
    }
    Ok(())
}

/// A stream is read with several queries; they run in one (read) transaction so they see one
/// snapshot, never a row from before a commit and tags from after it.
pub async fn load_stream(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<StoredStream>> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let Some(row) = sqlx::query_as::<_, StreamRow>("SELECT * FROM image_streams WHERE namespace = ? AND name = ?")
        .bind(namespace)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let mut v = vec![StoredStream::from(row)];
    fill_tags(&mut tx, &mut v).await?;
    tx.commit().await?;
    Ok(v.pop())
}

/// The streams with these row ids (with tags and history), by id; ids that name no stream are
/// left out.
pub async fn streams_by_ids(conn: &mut SqliteConnection, ids: &[i64]) -> StoreResult<Vec<StoredStream>> {
    let rows: Vec<StreamRow> = sqlx::query_as("SELECT * FROM image_streams WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id")
        .bind(Json(ids))
        .fetch_all(&mut *conn)
        .await?;
    streams_from_rows(conn, rows).await
}

/// One page of streams ordered by (namespace, name), after the given key; `namespace` limits
/// the page to one namespace, `scope` (without `namespace`) to the namespaces that may be listed
/// (`None`: all).
pub async fn list_streams(
    conn: &mut SqliteConnection,
    namespace: Option<&str>,
    after: (&str, &str),
    limit: i64,
    scope: Option<&[String]>,
) -> StoreResult<Vec<StoredStream>> {
    // One snapshot for the page and its tags (see `load_stream`).
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let conn = &mut *tx;
    let rows: Vec<StreamRow> = match namespace {
        Some(ns) => {
            sqlx::query_as("SELECT * FROM image_streams WHERE namespace = ? AND name > ? ORDER BY name LIMIT ?")
                .bind(ns)
                .bind(after.1)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sqlx::query_as(
                "SELECT * FROM image_streams WHERE (namespace, name) > (?1, ?2)
                 AND (?4 IS NULL OR namespace IN (SELECT value FROM json_each(?4))) ORDER BY namespace, name LIMIT ?3",
            )
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .bind(scope.map(Json))
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let v = streams_from_rows(conn, rows).await?;
    tx.commit().await?;
    Ok(v)
}

/// Streams (with tags and history) from rows of `image_streams`.
pub(super) async fn streams_from_rows(conn: &mut SqliteConnection, rows: Vec<StreamRow>) -> StoreResult<Vec<StoredStream>> {
    let mut v: Vec<StoredStream> = rows.into_iter().map(StoredStream::from).collect();
    fill_tags(conn, &mut v).await?;
    Ok(v)
}

fn newest_head(stream: &ImageStream) -> Option<String> {
    app::domain::present::last_updated(stream)
}

/// Inserts a new stream with its tags; returns the row id.
/// `now` stamps the watch event the write records (the service clock).
pub async fn insert_stream(conn: &mut SqliteConnection, s: &ImageStream, now: &str) -> StoreResult<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO image_streams (namespace, name, uid, resource_version, generation, created, labels, annotations, lookup_local, docker_image_repository, last_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(s.namespace())
    .bind(&s.metadata.name)
    .bind(s.metadata.uid.as_deref().unwrap_or_default())
    .bind(rv_of(s))
    .bind(s.metadata.generation.unwrap_or(1))
    .bind(s.metadata.creation_timestamp.as_deref().unwrap_or_default())
    .bind(Json(&s.metadata.labels))
    .bind(Json(&s.metadata.annotations))
    .bind(s.spec.lookup_policy.local)
    .bind(&s.spec.docker_image_repository)
    .bind(newest_head(s))
    .fetch_one(&mut *conn)
    .await?;
    write_spec_tags(conn, id, &s.spec.tags).await?;
    for list in &s.status.tags {
        write_status_tag(conn, id, list).await?;
    }
    record(conn, s, "ADDED", now).await?;
    Ok(id)
}

/// Every stored change of a stream is also a watch event, in the same transaction.
async fn record(conn: &mut SqliteConnection, s: &ImageStream, event_type: &str, now: &str) -> StoreResult<()> {
    super::record_event(conn, rv_of(s), s.namespace(), &s.metadata.name, event_type, s, now).await
}

fn rv_of(s: &ImageStream) -> i64 {
    s.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Saves a changed stream over its stored version `old`: the row, the spec tags, and only the
/// status tags that differ.
pub async fn update_stream(conn: &mut SqliteConnection, id: i64, s: &ImageStream, old: &ImageStream, now: &str) -> StoreResult<()> {
    sqlx::query(
        "UPDATE image_streams SET resource_version = ?, generation = ?, labels = ?, annotations = ?, lookup_local = ?,
         docker_image_repository = ?, last_updated = ? WHERE id = ?",
    )
    .bind(rv_of(s))
    .bind(s.metadata.generation.unwrap_or(1))
    .bind(Json(&s.metadata.labels))
    .bind(Json(&s.metadata.annotations))
    .bind(s.spec.lookup_policy.local)
    .bind(&s.spec.docker_image_repository)
    .bind(newest_head(s))
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if s.spec.tags != old.spec.tags {
        sqlx::query("DELETE FROM spec_tags WHERE stream_id = ?").bind(id).execute(&mut *conn).await?;
        write_spec_tags(conn, id, &s.spec.tags).await?;
    }
    for list in &s.status.tags {
        match old.status_tag(&list.tag) {
            Some(o) if o == list => {}
            // The common write: new heads in front of an unchanged history. Only the new rows
            // are written, so a write's cost does not grow with the tag's history.
            Some(o) if list.items().ends_with(o.items()) && list.items.is_some() == o.items.is_some() => {
                prepend_items(conn, id, list, o).await?;
            }
            _ => {
                delete_status_tag(conn, id, &list.tag).await?;
                write_status_tag(conn, id, list).await?;
            }
        }
    }
    for list in &old.status.tags {
        if s.status_tag(&list.tag).is_none() {
            delete_status_tag(conn, id, &list.tag).await?;
        }
    }
    record(conn, s, "MODIFIED", now).await
}

async fn write_spec_tags(conn: &mut SqliteConnection, id: i64, tags: &[TagReference]) -> StoreResult<()> {
    for t in tags {
        sqlx::query(
            "INSERT INTO spec_tags (stream_id, name, annotations, from_kind, from_name, from_namespace, reference, generation,
             import_insecure, import_scheduled, import_mode, reference_policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&t.name)
        .bind(t.annotations.as_ref().map(Json))
        .bind(t.from.as_ref().map(|f| f.kind.clone()))
        .bind(t.from.as_ref().map(|f| f.name.clone()))
        .bind(t.from.as_ref().map(|f| f.namespace.clone()))
        .bind(t.reference)
        .bind(t.generation)
        .bind(t.import_policy.insecure)
        .bind(t.import_policy.scheduled)
        .bind(&t.import_policy.import_mode)
        .bind(&t.reference_policy.kind)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn delete_status_tag(conn: &mut SqliteConnection, id: i64, tag: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM tag_events WHERE stream_id = ? AND tag = ?").bind(id).bind(tag).execute(&mut *conn).await?;
    sqlx::query("DELETE FROM status_tags WHERE stream_id = ? AND tag = ?").bind(id).bind(tag).execute(&mut *conn).await?;
    Ok(())
}

/// Writes the items `list` has in front of `old`'s (its new heads) above the highest stored
/// `seq`, and the conditions if they changed.
async fn prepend_items(conn: &mut SqliteConnection, id: i64, list: &NamedTagEventList, old: &NamedTagEventList) -> StoreResult<()> {
    if list.conditions != old.conditions {
        sqlx::query("UPDATE status_tags SET conditions = ? WHERE stream_id = ? AND tag = ?")
            .bind(Json(&list.conditions))
            .bind(id)
            .bind(&list.tag)
            .execute(&mut *conn)
            .await?;
    }
    let new = &list.items()[..list.items().len() - old.items().len()];
    if new.is_empty() {
        return Ok(());
    }
    let top: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), -1) FROM tag_events WHERE stream_id = ? AND tag = ?")
        .bind(id)
        .bind(&list.tag)
        .fetch_one(&mut *conn)
        .await?;
    insert_items(conn, id, &list.tag, new, top + 1).await
}

/// Inserts history items (newest first) at positions `lowest + n - 1` down to `lowest`.
async fn insert_items(conn: &mut SqliteConnection, id: i64, tag: &str, items: &[TagEvent], lowest: i64) -> StoreResult<()> {
    let n = items.len() as i64;
    for (i, e) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO tag_events (stream_id, tag, seq, created, docker_image_reference, image, generation) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(tag)
        .bind(lowest + n - 1 - i as i64)
        .bind(&e.created)
        .bind(&e.docker_image_reference)
        .bind(&e.image)
        .bind(e.generation)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

async fn write_status_tag(conn: &mut SqliteConnection, id: i64, list: &NamedTagEventList) -> StoreResult<()> {
    sqlx::query("INSERT INTO status_tags (stream_id, tag, conditions, items_null) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(&list.tag)
        .bind(Json(&list.conditions))
        .bind(list.items.is_none())
        .execute(&mut *conn)
        .await?;
    insert_items(conn, id, &list.tag, list.items(), 0).await
}

/// Deletes a stream; `last` is its final state carrying the deletion's resource version.
pub async fn delete_stream(conn: &mut SqliteConnection, id: i64, last: &ImageStream, now: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM image_streams WHERE id = ?").bind(id).execute(&mut *conn).await?;
    record(conn, last, "DELETED", now).await
}
