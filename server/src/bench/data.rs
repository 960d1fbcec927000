//! Synthetic data for the UI benchmark (`imagestreams bench-data`, hidden): N streams with T tags
//! each and H history items per tag, written in bulk (`Service::bulk_load`),
//! plus one stream whose single tag has a long history (the timeline benchmark) and one with
//! many tags, `wide/many` (the tag table's first page at scale, issue 17 point 3).
//! Not used by the product itself.
//! Must not: be used by the product.

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
pub async fn generate(data_dir: &Path, streams: usize, tags: usize, history: usize, timeline: usize, wide: usize) -> anyhow::Result<usize> {
    let service = crate::service::Service::open(data_dir, String::new()).await?;
    let namespaces = (streams / 1000).max(1);
    let names: Vec<String> = (0..namespaces).map(|n| format!("bench-{n}")).collect();
    let all = (0..streams).map(|i| stream(&format!("bench-{}", i % namespaces), &format!("app-{i:05}"), tags, history, i as u64));
    let mut written = service.bulk_load(&names, all, 500).await.map_err(|e| anyhow::anyhow!("{}", e.message()))? * tags * history;
    if timeline > 0 {
        let long = stream("timeline", "long", 1, timeline, 9_999_999);
        service.bulk_load(&["timeline".to_string()], [long], 1).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        written += timeline;
    }
    if wide > 0 {
        let many = stream("wide", "many", wide, 3, 8_888_888);
        service.bulk_load(&["wide".to_string()], [many], 1).await.map_err(|e| anyhow::anyhow!("{}", e.message()))?;
        written += wide * 3;
    }
    Ok(written)
}
