//! Synthetic data for the UI benchmark (`imagestreams bench-data`, hidden): N streams with T tags
//! each and H history items per tag, written straight through the store in large transactions,
//! plus one stream whose single tag has a long history (the timeline benchmark).
//! Not used by the product itself.

use crate::store::{self, Store};
use app::model::*;
use std::path::Path;

/// Well-formed, distinct digests (the demo's generator).
fn digest(n: u64) -> String {
    crate::demo::fake_digest(n)
}

fn stream(ns: &str, name: &str, tags: usize, history: usize, seed: u64) -> ImageStream {
    let mut s = ImageStream::new(ns, name);
    s.metadata.uid = Some(format!("bench-{seed}"));
    s.metadata.generation = Some(1);
    s.metadata.creation_timestamp = Some("2026-01-01T00:00:00Z".into());
    s.metadata.resource_version = Some("1".into());
    for t in 0..tags {
        let tag = format!("v{t}.0");
        s.spec.tags.push(TagReference {
            name: tag.clone(),
            from: Some(ObjectReference {
                kind: KIND_DOCKER_IMAGE.into(),
                name: format!("quay.example.com/{ns}/{name}:{tag}"),
                namespace: String::new(),
            }),
            generation: Some(1),
            import_policy: TagImportPolicy { import_mode: IMPORT_MODE_LEGACY.into(), ..Default::default() },
            ..Default::default()
        });
        let items = (0..history)
            .map(|h| {
                let d = digest(seed * 1_000_003 + (t * history + h) as u64);
                let minute = (history - h) as i64;
                TagEvent {
                    created: (chrono::DateTime::<chrono::Utc>::from_timestamp(
                        1_767_225_600 + (seed as i64 % 86_400) * 60 - minute * 3600,
                        0,
                    )
                    .unwrap_or_default())
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    docker_image_reference: format!("quay.example.com/{ns}/{name}@{d}"),
                    image: d,
                    generation: 1,
                }
            })
            .collect();
        s.status.tags.push(NamedTagEventList { tag, items: Some(items), conditions: vec![] });
    }
    s.normalize_tag_lists();
    s
}

/// Writes the dataset; returns the number of history items written.
pub async fn generate(data_dir: &Path, streams: usize, tags: usize, history: usize, timeline: usize) -> anyhow::Result<usize> {
    let store = Store::open(data_dir).await?;
    let mut written = 0usize;
    let namespaces = (streams / 1000).max(1);
    let mut tx = store.begin().await?;
    for n in 0..namespaces {
        store::insert_namespace(&mut tx, &format!("bench-{n}"), &format!("ns-{n}"), 1, "2026-01-01T00:00:00Z").await?;
    }
    tx.commit().await?;
    for chunk in (0..streams).collect::<Vec<_>>().chunks(500) {
        let mut tx = store.begin().await?;
        for &i in chunk {
            let mut s = stream(&format!("bench-{}", i % namespaces), &format!("app-{i:05}"), tags, history, i as u64);
            s.metadata.resource_version = Some(store::next_resource_version(&mut tx).await?.to_string());
            store::insert_stream(&mut tx, &s).await?;
            written += tags * history;
        }
        tx.commit().await?;
    }
    if timeline > 0 {
        let mut tx = store.begin().await?;
        store::insert_namespace(&mut tx, "timeline", "ns-timeline", 1, "2026-01-01T00:00:00Z").await?;
        let mut s = stream("timeline", "long", 1, timeline, 9_999_999);
        s.metadata.resource_version = Some(store::next_resource_version(&mut tx).await?.to_string());
        store::insert_stream(&mut tx, &s).await?;
        tx.commit().await?;
        written += timeline;
    }
    Ok(written)
}
