//! Image streams as rows: the stream, its spec tags, status tags (conditions) and history items.
//! A stream is loaded and saved as a whole aggregate; saving rewrites only the tags that changed.

use super::{StoreResult, json_map, to_json};
use app::model::*;
use sqlx::{Row, SqliteConnection};
use std::collections::BTreeMap;

/// A stored stream and its row id.
#[derive(Clone, Debug)]
pub struct StoredStream {
    pub id: i64,
    pub stream: ImageStream,
}

fn stream_from_row(row: &sqlx::sqlite::SqliteRow) -> StoreResult<StoredStream> {
    let mut s = ImageStream::new(&row.try_get::<String, _>("namespace")?, &row.try_get::<String, _>("name")?);
    s.metadata.uid = Some(row.try_get("uid")?);
    s.metadata.resource_version = Some(row.try_get::<i64, _>("resource_version")?.to_string());
    s.metadata.generation = Some(row.try_get("generation")?);
    s.metadata.creation_timestamp = Some(row.try_get("created")?);
    s.metadata.labels = json_map(&row.try_get::<String, _>("labels")?);
    s.metadata.annotations = json_map(&row.try_get::<String, _>("annotations")?);
    s.spec.lookup_policy.local = row.try_get::<i64, _>("lookup_local")? != 0;
    s.spec.docker_image_repository = row.try_get("docker_image_repository")?;
    Ok(StoredStream { id: row.try_get("id")?, stream: s })
}

/// Fills spec and status of the given streams (keyed by row id) with three queries.
async fn fill_tags(conn: &mut SqliteConnection, streams: &mut [StoredStream]) -> StoreResult<()> {
    if streams.is_empty() {
        return Ok(());
    }
    let index: BTreeMap<i64, usize> = streams.iter().enumerate().map(|(i, s)| (s.id, i)).collect();
    // At most one page of ids (the caller caps it), so a bound IN list is fine.
    let placeholders = vec!["?"; index.len()].join(", ");
    let sql = format!("SELECT * FROM spec_tags WHERE stream_id IN ({placeholders}) ORDER BY stream_id, name");
    // Only "?" placeholders are interpolated; values are bound.
    let mut built = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in index.keys() {
        built = built.bind(*id);
    }
    for row in built.fetch_all(&mut *conn).await? {
        let i = index[&row.try_get::<i64, _>("stream_id")?];
        let kind: Option<String> = row.try_get("from_kind")?;
        let from = kind.map(|kind| -> StoreResult<ObjectReference> {
            Ok(ObjectReference {
                kind,
                name: row.try_get::<Option<String>, _>("from_name")?.unwrap_or_default(),
                namespace: row.try_get::<Option<String>, _>("from_namespace")?.unwrap_or_default(),
            })
        });
        let annotations: Option<String> = row.try_get("annotations")?;
        streams[i].stream.spec.tags.push(TagReference {
            name: row.try_get("name")?,
            annotations: annotations.map(|a| json_map(&a)),
            from: from.transpose()?,
            reference: row.try_get::<i64, _>("reference")? != 0,
            generation: row.try_get("generation")?,
            import_policy: TagImportPolicy {
                insecure: row.try_get::<i64, _>("import_insecure")? != 0,
                scheduled: row.try_get::<i64, _>("import_scheduled")? != 0,
                import_mode: row.try_get("import_mode")?,
            },
            reference_policy: TagReferencePolicy { kind: row.try_get("reference_policy")? },
        });
    }
    let sql = format!("SELECT * FROM status_tags WHERE stream_id IN ({placeholders}) ORDER BY stream_id, tag");
    // Only "?" placeholders are interpolated; values are bound.
    let mut built = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in index.keys() {
        built = built.bind(*id);
    }
    for row in built.fetch_all(&mut *conn).await? {
        let i = index[&row.try_get::<i64, _>("stream_id")?];
        let conditions: Vec<TagEventCondition> = serde_json::from_str(&row.try_get::<String, _>("conditions")?).unwrap_or_default();
        let items_null = row.try_get::<i64, _>("items_null")? != 0;
        streams[i].stream.status.tags.push(NamedTagEventList {
            tag: row.try_get("tag")?,
            items: if items_null { None } else { Some(vec![]) },
            conditions,
        });
    }
    let sql = format!("SELECT * FROM tag_events WHERE stream_id IN ({placeholders}) ORDER BY stream_id, tag, seq DESC");
    // Only "?" placeholders are interpolated; values are bound.
    let mut built = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in index.keys() {
        built = built.bind(*id);
    }
    for row in built.fetch_all(&mut *conn).await? {
        let i = index[&row.try_get::<i64, _>("stream_id")?];
        let tag: String = row.try_get("tag")?;
        let event = TagEvent {
            created: row.try_get("created")?,
            docker_image_reference: row.try_get("docker_image_reference")?,
            image: row.try_get("image")?,
            generation: row.try_get("generation")?,
        };
        streams[i].stream.status_tag_entry(&tag).items.get_or_insert_with(Vec::new).push(event);
    }
    Ok(())
}

/// A stream is read with several queries; they run in one (read) transaction so they see one
/// snapshot, never a row from before a commit and tags from after it.
pub async fn load_stream(conn: &mut SqliteConnection, namespace: &str, name: &str) -> StoreResult<Option<StoredStream>> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let Some(row) = sqlx::query("SELECT * FROM image_streams WHERE namespace = ? AND name = ?")
        .bind(namespace)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Ok(None);
    };
    let mut v = vec![stream_from_row(&row)?];
    fill_tags(&mut tx, &mut v).await?;
    tx.commit().await?;
    Ok(v.pop())
}

/// One page of streams ordered by (namespace, name), after the given key; `namespace` limits
/// the page to one namespace.
pub async fn list_streams(
    conn: &mut SqliteConnection,
    namespace: Option<&str>,
    after: (&str, &str),
    limit: i64,
    scope: Option<&str>,
) -> StoreResult<Vec<StoredStream>> {
    // One snapshot for the page and its tags (see `load_stream`).
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let conn = &mut *tx;
    let rows = match namespace {
        Some(ns) => {
            sqlx::query("SELECT * FROM image_streams WHERE namespace = ? AND name > ? ORDER BY name LIMIT ?")
                .bind(ns)
                .bind(after.1)
                .bind(limit)
                .fetch_all(&mut *conn)
                .await?
        }
        None => {
            sqlx::query(
                "SELECT * FROM image_streams WHERE (namespace, name) > (?1, ?2)
                 AND (?4 IS NULL OR namespace IN (SELECT value FROM json_each(?4))) ORDER BY namespace, name LIMIT ?3",
            )
            .bind(after.0)
            .bind(after.1)
            .bind(limit)
            .bind(scope)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut v = rows.iter().map(stream_from_row).collect::<StoreResult<Vec<_>>>()?;
    fill_tags(conn, &mut v).await?;
    tx.commit().await?;
    Ok(v)
}

/// Streams (with tags and history) from rows of `image_streams`.
pub async fn streams_from_rows(conn: &mut SqliteConnection, rows: &[sqlx::sqlite::SqliteRow]) -> StoreResult<Vec<StoredStream>> {
    let mut v = rows.iter().map(stream_from_row).collect::<StoreResult<Vec<_>>>()?;
    fill_tags(conn, &mut v).await?;
    Ok(v)
}

fn newest_head(stream: &ImageStream) -> Option<String> {
    app::domain::present::last_updated(stream)
}

/// Inserts a new stream with its tags; returns the row id.
/// `now` stamps the watch event the write records (the service clock).
pub async fn insert_stream(conn: &mut SqliteConnection, s: &ImageStream, now: &str) -> StoreResult<i64> {
    let (id,): (i64,) = sqlx::query_as(
        "INSERT INTO image_streams (namespace, name, uid, resource_version, generation, created, labels, annotations, lookup_local, docker_image_repository, last_updated)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(s.namespace())
    .bind(&s.metadata.name)
    .bind(s.metadata.uid.as_deref().unwrap_or_default())
    .bind(rv_of(s))
    .bind(s.metadata.generation.unwrap_or(1))
    .bind(s.metadata.creation_timestamp.as_deref().unwrap_or_default())
    .bind(to_json(&s.metadata.labels))
    .bind(to_json(&s.metadata.annotations))
    .bind(s.spec.lookup_policy.local as i64)
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
    super::record_event(conn, rv_of(s), s.namespace(), &s.metadata.name, event_type, &to_json(s), now).await
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
    .bind(to_json(&s.metadata.labels))
    .bind(to_json(&s.metadata.annotations))
    .bind(s.spec.lookup_policy.local as i64)
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
        if old.status_tag(&list.tag) != Some(list) {
            delete_status_tag(conn, id, &list.tag).await?;
            write_status_tag(conn, id, list).await?;
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
        .bind(t.annotations.as_ref().map(to_json))
        .bind(t.from.as_ref().map(|f| f.kind.clone()))
        .bind(t.from.as_ref().map(|f| f.name.clone()))
        .bind(t.from.as_ref().map(|f| f.namespace.clone()))
        .bind(t.reference as i64)
        .bind(t.generation)
        .bind(t.import_policy.insecure as i64)
        .bind(t.import_policy.scheduled as i64)
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

async fn write_status_tag(conn: &mut SqliteConnection, id: i64, list: &NamedTagEventList) -> StoreResult<()> {
    sqlx::query("INSERT INTO status_tags (stream_id, tag, conditions, items_null) VALUES (?, ?, ?, ?)")
        .bind(id)
        .bind(&list.tag)
        .bind(to_json(&list.conditions))
        .bind(list.items.is_none() as i64)
        .execute(&mut *conn)
        .await?;
    let items = list.items();
    let n = items.len() as i64;
    for (i, e) in items.iter().enumerate() {
        sqlx::query(
            "INSERT INTO tag_events (stream_id, tag, seq, created, docker_image_reference, image, generation) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(&list.tag)
        .bind(n - 1 - i as i64)
        .bind(&e.created)
        .bind(&e.docker_image_reference)
        .bind(&e.image)
        .bind(e.generation)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Deletes a stream; `last` is its final state carrying the deletion's resource version.
pub async fn delete_stream(conn: &mut SqliteConnection, id: i64, last: &ImageStream, now: &str) -> StoreResult<()> {
    sqlx::query("DELETE FROM image_streams WHERE id = ?").bind(id).execute(&mut *conn).await?;
    record(conn, last, "DELETED", now).await
}
