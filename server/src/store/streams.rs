//! Image streams as rows: the stream, its spec tags, status tags (conditions) and history items.
//! A stream is loaded and saved as a whole aggregate, or, for the writes that only look at and
//! add to the heads of its tags (an ImageStreamMapping), with each tag's newest item alone, so
//! such a write's cost does not grow with the history. Saving writes only what changed (new
//! heads, a head changed in place, changed tags) and records the change in the watch event log
//! in the same transaction.
//!
//! Must not: apply image-stream rules (history merge, generations: `app::domain`) or decide who
//! may see a stream (the caller passes the namespace scope).

use super::StoreResult;
use super::script::Script;
use app::model::*;
use sqlx::types::Json;
use sqlx::{FromRow, QueryBuilder, Sqlite, SqliteConnection};
use std::collections::BTreeMap;

/// A stored stream and its row id.
#[derive(Clone, Debug)]
pub struct StoredStream {
    /// The `image_streams` row id (what tags and history rows point at).
    pub id: i64,
    /// The stream with its tags and history (only each tag's newest item when `heads_only`).
    pub stream: ImageStream,
    /// Loaded by `load_stream_heads`: the history holds each tag's head alone, so a save may
    /// only add heads or change a head in place (anything else is refused, never written).
    pub heads_only: bool,
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
        StoredStream { id: row.id, stream: s, heads_only: false }
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
    of_streams_on(select, "stream_id", ids, order)
}

/// `of_streams` with the stream id in `column` (a joined select names its table).
fn of_streams_on(select: &str, column: &str, ids: impl Iterator<Item = i64>, order: &str) -> QueryBuilder<Sqlite> {
    let mut q = QueryBuilder::new(select);
    q.push(" WHERE ");
    q.push(column);
    q.push(" IN (");
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
    fill_tags_with(conn, streams, Items::All).await
}

/// Which history items `fill_tags_with` reads.
#[derive(Clone, Copy)]
enum Items {
    All,
    Heads,
}

/// The newest history item of every status tag of the streams (one seek per tag: the
/// `(stream_id, tag, seq)` key), as `SELECT * FROM tag_events` would give them.
const HEAD_ITEMS: &str = "SELECT e.* FROM status_tags t CROSS JOIN tag_events e ON e.stream_id = t.stream_id AND e.tag = t.tag \
     AND e.seq = (SELECT max(seq) FROM tag_events m WHERE m.stream_id = t.stream_id AND m.tag = t.tag)";

/// `fill_tags`, with all history items or the heads alone.
async fn fill_tags_with(conn: &mut SqliteConnection, streams: &mut [StoredStream], items: Items) -> StoreResult<()> {
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
    let mut q = match items {
        Items::All => of_streams("SELECT * FROM tag_events", index.keys().copied(), "ORDER BY stream_id, tag, seq DESC"),
        Items::Heads => of_streams_on(HEAD_ITEMS, "t.stream_id", index.keys().copied(), "ORDER BY e.stream_id, e.tag"),
    };
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
    let Some(row) = stream_row(&mut tx, namespace, name).await? else { return Ok(None) };
    let mut v = vec![StoredStream::from(row)];
    fill_tags(&mut tx, &mut v).await?;
    tx.commit().await?;
    Ok(v.pop())
}

/// The `image_streams` row of a stream.
async fn stream_row(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<StreamRow>> {
    sqlx::query_as("SELECT * FROM image_streams WHERE namespace = ? AND name = ?").bind(namespace).bind(name).fetch_optional(conn).await
}

/// The stream for a write that only reads and adds heads (an ImageStreamMapping, a push by
/// tag): spec tags, status tags and each tag's newest history item alone (`heads_only`). Its
/// cost does not grow with the history. It opens no transaction of its own (each statement is a
/// round trip): inside a write's transaction the reads are one snapshot; outside one (a
/// mapping's read before it takes the writer) they may straddle a commit, which the caller's
/// check of the stream's version under the writer catches.
pub async fn load_stream_heads(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<StoredStream>> {
    let Some(row) = stream_row(conn, namespace, name).await? else { return Ok(None) };
    let mut v = vec![StoredStream { heads_only: true, ..StoredStream::from(row) }];
    fill_tags_with(conn, &mut v, Items::Heads).await?;
    Ok(v.pop())
}

/// What a mapping's write checks and needs under the writer, read in one round trip: the
/// resource versions of stream `id` and of image `digest` (`None`: not stored), to compare with
/// what it read before it held the writer (an image's version changes whenever its row does: it
/// is replaced, never updated in place); the resource version counter (the write's version is
/// the next); and the subscriptions of `namespace` with the bound of its pending deliveries
/// (`subscriptions_with_pending_bound`).
#[derive(Debug)]
pub struct WriteState {
    /// The stream's stored version.
    pub stream_version: Option<i64>,
    /// The image's stored version.
    pub image_version: Option<i64>,
    /// The resource version counter: the last version given out.
    pub counter: i64,
    /// The namespace's webhook subscriptions, by name.
    pub subscriptions: Vec<super::WebhookRow>,
    /// No more deliveries of the namespace are pending than this.
    pub pending_bound: i64,
}

/// The query of `write_state_locked`: `?1` the pending state, `?2` the namespace, `?3` the
/// stream's row id, `?4` the image's digest. Always one row at least (the left join); a row
/// without a subscription has no `id`.
const WRITE_STATE_SQL: &str = concat!(
    "SELECT (SELECT resource_version FROM image_streams WHERE id = ?3) AS stream_version,
            (SELECT resource_version FROM images WHERE digest = ?4) AS image_version,
            (SELECT current FROM resource_version_counter WHERE id = 1) AS counter, ",
    pending_bound_sql!(),
    " AS pending_bound, w.*
     FROM (SELECT 1) AS one LEFT JOIN webhooks w ON w.namespace = ?2 ORDER BY w.name"
);

/// Reads the `WriteState` of a write to stream `id` (in `namespace`) naming image `digest`, on
/// the group commit's locked connection (see `Locked`), after opening the write's `savepoint`
/// (see `store::Savepoint`).
pub fn write_state_locked(
    conn: &super::Locked<'_>,
    savepoint: &mut super::Savepoint,
    namespace: &str,
    id: i64,
    digest: &str,
) -> StoreResult<WriteState> {
    use super::script::locked_error;
    savepoint.enter_locked(conn)?;
    let mut statement = conn.0.prepare_cached(WRITE_STATE_SQL).map_err(locked_error)?;
    let mut rows = statement.query(rusqlite::params![super::webhooks::PENDING, namespace, id, digest]).map_err(locked_error)?;
    let mut state: Option<WriteState> = None;
    while let Some(row) = rows.next().map_err(locked_error)? {
        let state = match &mut state {
            Some(state) => state,
            None => state.insert(WriteState {
                stream_version: row.get("stream_version").map_err(locked_error)?,
                image_version: row.get("image_version").map_err(locked_error)?,
                counter: row.get("counter").map_err(locked_error)?,
                pending_bound: row.get::<_, Option<i64>>("pending_bound").map_err(locked_error)?.unwrap_or(0),
                subscriptions: vec![],
            }),
        };
        if row.get::<_, Option<i64>>("id").map_err(locked_error)?.is_some() {
            state.subscriptions.push(super::WebhookRow::from_locked_row(row)?);
        }
    }
    state.ok_or_else(|| sqlx::Error::Protocol("the write state query answered no row".into()))
}

/// The streams (with tags and history) named by `(namespace, name, resourceVersion)` whose
/// current version is that one; the others (changed since, or deleted) are left out. What the
/// watch event log renders its events from.
pub async fn streams_at_versions(conn: &mut SqliteConnection, wanted: &[(&str, &str, i64)]) -> StoreResult<Vec<StoredStream>> {
    if wanted.is_empty() {
        return Ok(vec![]);
    }
    let rows: Vec<StreamRow> = sqlx::query_as(
        "SELECT s.* FROM json_each(?1) w CROSS JOIN image_streams s
         ON s.namespace = json_extract(w.value, '$[0]') AND s.name = json_extract(w.value, '$[1]')
         AND s.resource_version = json_extract(w.value, '$[2]') ORDER BY s.id",
    )
    .bind(Json(wanted))
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
    let mut script = Script::new();
    write_spec_tags(&mut script, id, &s.spec.tags);
    for list in &s.status.tags {
        write_status_tag(&mut script, id, list);
    }
    super::events::push_event(&mut script, rv_of(s), s.namespace(), &s.metadata.name, "ADDED", None, now);
    script.run(conn).await?;
    Ok(id)
}

/// Every stored change of a stream is also a watch event, in the same transaction: what changed,
/// not the stream (a `DELETED` event keeps the last state: see `events`).
async fn record(conn: &mut SqliteConnection, s: &ImageStream, event_type: &str, now: &str) -> StoreResult<()> {
    let last = (event_type == "DELETED").then_some(s);
    super::record_event(conn, rv_of(s), s.namespace(), &s.metadata.name, event_type, last, now).await
}

fn rv_of(s: &ImageStream) -> i64 {
    s.metadata.resource_version.as_deref().and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Saves a changed stream over its stored version `old`: the row, the spec tags, and only the
/// status tags that differ. A tag whose history gained heads (and perhaps had its head changed
/// in place, as `add_tag_event` does for the same reference or image) gets only those rows
/// written, so a write's cost does not grow with the tag's history. Any other history change
/// rewrites the tag, which a `heads_only` stream cannot do: that is refused (a `Protocol`
/// error), never written. Every statement, and the watch event, go in one round trip.
///
/// `outbox`: webhook deliveries the change queues, written in the same round trip.
pub async fn update_stream(
    conn: &mut SqliteConnection,
    old: &StoredStream,
    s: &ImageStream,
    now: &str,
    outbox: &[super::DeliveryRow],
) -> StoreResult<()> {
    let mut script = Script::new();
    push_stream_update(&mut script, StreamChange { old, new: s, now, outbox })?;
    script.run(conn).await
}

/// A stream's change as `write_at_version` saves it.
#[derive(Clone, Copy, Debug)]
pub struct StreamChange<'a> {
    /// The stream as stored.
    pub old: &'a StoredStream,
    /// Its new state, carrying the write's resource version.
    pub new: &'a ImageStream,
    /// RFC 3339: the watch event's time.
    pub now: &'a str,
    /// The webhook deliveries the change queues.
    pub outbox: &'a [super::DeliveryRow],
}

/// One write at resource version `rv`, in one round trip: the counter is set to `rv`, `image`
/// is inserted at it, and `change` is saved as `update_stream` does. The caller read the
/// counter under the writer in this transaction (`write_state_locked`): `rv` is the one after it.
pub async fn write_at_version(
    conn: &mut SqliteConnection,
    rv: i64,
    image: Option<super::NewImage<'_>>,
    change: Option<StreamChange<'_>>,
) -> StoreResult<()> {
    at_version_script(rv, image, change)?.run(conn).await
}

/// `write_at_version` on the group commit's locked connection (see `Locked`).
pub fn write_at_version_locked(
    conn: &super::Locked<'_>,
    rv: i64,
    image: Option<super::NewImage<'_>>,
    change: Option<StreamChange<'_>>,
) -> StoreResult<()> {
    at_version_script(rv, image, change)?.run_locked(conn)
}

fn at_version_script(rv: i64, image: Option<super::NewImage<'_>>, change: Option<StreamChange<'_>>) -> StoreResult<Script> {
    let mut script = Script::new();
    script.statement("UPDATE resource_version_counter SET current = ").push_bind(rv).push(" WHERE id = 1");
    if let Some(image) = image {
        super::images::push_new_image(&mut script, image, rv);
    }
    if let Some(change) = change {
        push_stream_update(&mut script, change)?;
    }
    Ok(script)
}

/// The statements of `update_stream`.
fn push_stream_update(script: &mut Script, change: StreamChange<'_>) -> StoreResult<()> {
    let StreamChange { old, new: s, now, outbox } = change;
    let id = old.id;
    script
        .statement("UPDATE image_streams SET resource_version = ")
        .push_bind(rv_of(s))
        .push(", generation = ")
        .push_bind(s.metadata.generation.unwrap_or(1))
        .push(", labels = ")
        .push_bind(Json(&s.metadata.labels))
        .push(", annotations = ")
        .push_bind(Json(&s.metadata.annotations))
        .push(", lookup_local = ")
        .push_bind(s.spec.lookup_policy.local)
        .push(", docker_image_repository = ")
        .push_bind(&s.spec.docker_image_repository)
        .push(", last_updated = ")
        .push_bind(newest_head(s))
        .push(" WHERE id = ")
        .push_bind(id);
    if s.spec.tags != old.stream.spec.tags {
        script.statement("DELETE FROM spec_tags WHERE stream_id = ").push_bind(id);
        write_spec_tags(script, id, &s.spec.tags);
    }
    for list in &s.status.tags {
        match old.stream.status_tag(&list.tag) {
            Some(o) if o == list => {}
            Some(o) => match new_heads(o, list) {
                Some(change) => write_new_heads(script, id, list, o, change),
                // A tag with no stored history (a failed import's `items: null`) is rewritten
                // whole even from heads: there is nothing behind its head to lose.
                None if old.heads_only && !o.items().is_empty() => {
                    return Err(sqlx::Error::Protocol(format!(
                        "the history of tag {:?} changed beyond its head, but only heads were loaded",
                        list.tag
                    )));
                }
                None => {
                    delete_status_tag(script, id, &list.tag);
                    write_status_tag(script, id, list);
                }
            },
            None => write_status_tag(script, id, list),
        }
    }
    for list in &old.stream.status.tags {
        if s.status_tag(&list.tag).is_none() {
            delete_status_tag(script, id, &list.tag);
        }
    }
    super::events::push_event(script, rv_of(s), s.namespace(), &s.metadata.name, "MODIFIED", None, now);
    super::webhooks::push_deliveries(script, outbox);
    Ok(())
}

/// How a tag's history changed when only heads were added in front of the stored items.
#[derive(Clone, Copy, Debug, PartialEq)]
struct NewHeads {
    /// Items added in front.
    added: usize,
    /// The stored head was changed in place (its reference, image or generation).
    head_changed: bool,
}

/// `Some` when `new`'s items are `old`'s with heads added in front and perhaps `old`'s head
/// changed in place; `None` for any other change (items removed, reordered, or null).
fn new_heads(old: &NamedTagEventList, new: &NamedTagEventList) -> Option<NewHeads> {
    let (o, n) = (old.items(), new.items());
    if old.items.is_some() != new.items.is_some() || n.len() < o.len() {
        return None;
    }
    let added = n.len() - o.len();
    if n[added..] == *o {
        return Some(NewHeads { added, head_changed: false });
    }
    (!o.is_empty() && n[added + 1..] == o[1..]).then_some(NewHeads { added, head_changed: true })
}

/// Writes a tag's new heads above the highest stored `seq` (after changing the stored head in
/// place if it changed), and the conditions if they changed; the positions are found by the
/// statements themselves (the `(stream_id, tag, seq)` key).
fn write_new_heads(script: &mut Script, id: i64, list: &NamedTagEventList, old: &NamedTagEventList, change: NewHeads) {
    if list.conditions != old.conditions {
        script
            .statement("UPDATE status_tags SET conditions = ")
            .push_bind(Json(&list.conditions))
            .push(" WHERE stream_id = ")
            .push_bind(id)
            .push(" AND tag = ")
            .push_bind(&list.tag);
    }
    let items = list.items();
    if change.head_changed {
        let head = &items[change.added];
        script
            .statement("UPDATE tag_events SET created = ")
            .push_bind(&head.created)
            .push(", docker_image_reference = ")
            .push_bind(&head.docker_image_reference)
            .push(", image = ")
            .push_bind(&head.image)
            .push(", generation = ")
            .push_bind(head.generation)
            .push(" WHERE stream_id = ")
            .push_bind(id)
            .push(" AND tag = ")
            .push_bind(&list.tag)
            .push(" AND seq = (SELECT max(seq) FROM tag_events WHERE stream_id = ")
            .push_bind(id)
            .push(" AND tag = ")
            .push_bind(&list.tag)
            .push(")");
    }
    // Oldest first, each above the one before.
    for e in items[..change.added].iter().rev() {
        script
            .statement("INSERT INTO tag_events (stream_id, tag, seq, created, docker_image_reference, image, generation) VALUES (")
            .push_bind(id)
            .push(", ")
            .push_bind(&list.tag)
            .push(", (SELECT COALESCE(max(seq), -1) + 1 FROM tag_events WHERE stream_id = ")
            .push_bind(id)
            .push(" AND tag = ")
            .push_bind(&list.tag)
            .push("), ")
            .push_bind(&e.created)
            .push(", ")
            .push_bind(&e.docker_image_reference)
            .push(", ")
            .push_bind(&e.image)
            .push(", ")
            .push_bind(e.generation)
            .push(")");
    }
}

fn write_spec_tags(script: &mut Script, id: i64, tags: &[TagReference]) {
    for t in tags {
        let q = script.statement(
            "INSERT INTO spec_tags (stream_id, name, annotations, from_kind, from_name, from_namespace, reference, generation,
             import_insecure, import_scheduled, import_mode, reference_policy) VALUES (",
        );
        let mut row = q.separated(", ");
        row.push_bind(id)
            .push_bind(&t.name)
            .push_bind(t.annotations.as_ref().map(Json))
            .push_bind(t.from.as_ref().map(|f| f.kind.clone()))
            .push_bind(t.from.as_ref().map(|f| f.name.clone()))
            .push_bind(t.from.as_ref().map(|f| f.namespace.clone()))
            .push_bind(t.reference)
            .push_bind(t.generation)
            .push_bind(t.import_policy.insecure)
            .push_bind(t.import_policy.scheduled)
            .push_bind(&t.import_policy.import_mode)
            .push_bind(&t.reference_policy.kind);
        q.push(")");
    }
}

fn delete_status_tag(script: &mut Script, id: i64, tag: &str) {
    script.statement("DELETE FROM tag_events WHERE stream_id = ").push_bind(id).push(" AND tag = ").push_bind(tag.to_string());
    script.statement("DELETE FROM status_tags WHERE stream_id = ").push_bind(id).push(" AND tag = ").push_bind(tag.to_string());
}

/// Inserts history items (newest first) at positions `n - 1` down to 0.
fn insert_items(script: &mut Script, id: i64, tag: &str, items: &[TagEvent]) {
    let n = items.len() as i64;
    for (i, e) in items.iter().enumerate() {
        let q =
            script.statement("INSERT INTO tag_events (stream_id, tag, seq, created, docker_image_reference, image, generation) VALUES (");
        q.separated(", ")
            .push_bind(id)
            .push_bind(tag.to_string())
            .push_bind(n - 1 - i as i64)
            .push_bind(&e.created)
            .push_bind(&e.docker_image_reference)
            .push_bind(&e.image)
            .push_bind(e.generation);
        q.push(")");
    }
}

fn write_status_tag(script: &mut Script, id: i64, list: &NamedTagEventList) {
    let q = script.statement("INSERT INTO status_tags (stream_id, tag, conditions, items_null) VALUES (");
    q.separated(", ").push_bind(id).push_bind(&list.tag).push_bind(Json(&list.conditions)).push_bind(list.items.is_none());
    q.push(")");
    insert_items(script, id, &list.tag, list.items());
}

/// Deletes a stream; `last` is its final state carrying the deletion's resource version.
pub async fn delete_stream(conn: &mut SqliteConnection, id: i64, last: &ImageStream, now: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM image_streams WHERE id = ?").bind(id).execute(&mut *conn).await?;
    record(conn, last, "DELETED", now).await
}
