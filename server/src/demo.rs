//! Start-up data: the `default` namespace every fresh data directory has, and the sample
//! namespaces and streams of `serve --demo`, written through the service like any client would.
//! `demo/web` has three weeks of history (CI builds, a burst of hotfixes, promotions, a
//! reference-only tag), written through a service whose clock is set to each move's time, so a
//! first look at a timeline or the dashboard is not empty.
//!
//! Must not: write around the service.

use crate::service::{Caller, Clock, Service};
use app::model::*;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

/// A clock that always says the same time: the moment of one demo move.
struct At(DateTime<Utc>);

impl Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub async fn ensure_default_namespace(service: &Service) -> Result<(), ApiError> {
    let caller = Caller::system();
    match service.create_namespace(&caller, Namespace::new("default")).await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == 409 => Ok(()),
        Err(e) => Err(e),
    }
}

/// A made-up digest that looks like one: 64 hex digits mixed from `seed` (splitmix64).
pub(crate) fn fake_digest(seed: u64) -> String {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut hex = String::with_capacity(64);
    for _ in 0..4 {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        hex.push_str(&format!("{:016x}", z ^ (z >> 31)));
    }
    format!("sha256:{hex}")
}

/// A made-up but well-formed image with a config people can read.
fn demo_image(n: u64, repo: &str, arch: &str, created: &str) -> Image {
    let digest = fake_digest(0xd3a0_0000 + n);
    Image {
        metadata: ObjectMeta { name: digest.clone(), ..Default::default() },
        docker_image_reference: format!("{repo}@{digest}"),
        docker_image_manifest_media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        docker_image_metadata_version: "1.0".into(),
        docker_image_layers: vec![
            ImageLayer {
                name: fake_digest(0x1a00_0000 + n),
                size: 3_400_000 + n as i64 * 1000,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            },
            ImageLayer {
                name: fake_digest(0x1b00_0000 + n),
                size: 12_000 + n as i64,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            },
        ],
        docker_image_metadata: Some(DockerImageMetadata {
            id: fake_digest(0xc0f1_0000 + n),
            created: created.into(),
            architecture: arch.into(),
            os: "linux".into(),
            author: "demo@imagestreams.local".into(),
            size: 3_412_000 + n as i64 * 1001,
            config: Some(DockerConfig {
                user: "1001".into(),
                env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
                cmd: vec!["/usr/bin/run".into()],
                working_dir: "/opt/app".into(),
                labels: [("org.opencontainers.image.source".to_string(), format!("https://{repo}"))].into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Adds the `demo` and `team-a` namespaces with a few streams, unless `demo` exists already.
pub async fn load(service: &Service) -> Result<(), ApiError> {
    let caller = Caller::system();
    if service.get_namespace(&caller, "demo").await.is_ok() {
        return Ok(());
    }
    for ns in ["demo", "team-a"] {
        service.create_namespace(&caller, Namespace::new(ns)).await?;
    }
    let streams: &[(&str, &str, &str, &[&str])] = &[
        ("demo", "ruby", "quay.io/sclorg/ruby", &["3.3", "3.2", "latest"]),
        ("demo", "nginx", "docker.io/library/nginx", &["1.27", "latest"]),
        ("demo", "app", "registry.example.com/demo/app", &["build-41", "build-42"]),
        ("team-a", "api", "registry.example.com/team-a/api", &["v1.0.0", "v1.1.0"]),
    ];
    let mut n = 0u64;
    for (ns, name, repo, tags) in streams {
        // Images arrive as pushes (mappings), not as DockerImage tags: a demo must never make
        // the import controller reach out to the registries it names.
        service.create_stream(&caller, ns, ImageStream::new(ns, name)).await?;
        for t in *tags {
            n += 1;
            let mapping = ImageStreamMapping {
                api_version: IMAGE_API_VERSION.into(),
                kind: "ImageStreamMapping".into(),
                metadata: ObjectMeta::named(Some(ns), name),
                image: demo_image(n, repo, if n.is_multiple_of(3) { "arm64" } else { "amd64" }, "2026-01-01T00:00:00Z"),
                tag: t.to_string(),
            };
            service.create_mapping(&caller, ns, mapping).await?;
        }
    }
    // A promotion: app:prod is a permanent copy of build-42, app:stable tracks prod.
    let promote = |tag: &str, kind: &str, from: &str| {
        ImageStreamTag::setting(
            "demo",
            "app",
            TagReference {
                name: tag.into(),
                from: Some(ObjectReference { kind: kind.into(), name: from.into(), namespace: String::new() }),
                ..Default::default()
            },
        )
    };
    // A stream pushed to the integrated registry itself: `podman pull <host>/demo/hello:latest`
    // works on a fresh demo (the other streams name registries a demo never reaches).
    for (version, tags) in [("1.0", &["1.0", "latest"][..]), ("1.1", &["1.1", "latest"][..])] {
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["/hello"], "Labels": {"org.opencontainers.image.version": version, "org.opencontainers.image.title": "hello"}},
            "rootfs": {"type": "layers", "diff_ids": []}
        });
        for tag in tags {
            service
                .push_config_image("demo", "hello", tag, config.to_string().as_bytes())
                .await
                .map_err(|e| ApiError::internal(format!("the demo image could not be pushed: {}", e.message)))?;
        }
    }
    web_history(service).await?;
    let app = service.get_stream(&caller, "demo", "app").await?;
    if let Some(head) = app.head("build-42") {
        let pinned = format!("app@{}", head.image);
        service.set_istag(&caller, "demo", "app:prod", promote("prod", KIND_IMAGE_STREAM_IMAGE, &pinned), false).await?;
        service.set_istag(&caller, "demo", "app:stable", promote("stable", KIND_IMAGE_STREAM_TAG, "prod"), false).await?;
    }
    Ok(())
}

/// `demo/web`: moves over the last three weeks. A CI build about every 40 hours moves
/// `latest` and gets its own version tag; every fourth is promoted to `stable`; ten days ago three
/// hotfixes moved `latest` within 25 minutes (drawn as one dot with a count); `dev` moved nine
/// times in the last day, between the last three builds; `upstream` is a reference-only tag.
async fn web_history(service: &Service) -> Result<(), ApiError> {
    let caller = Caller::system();
    let (ns, name, repo) = ("demo", "web", "registry.example.com/demo/web");
    service.create_stream(&caller, ns, ImageStream::new(ns, name)).await?;
    let start = service.clock_now() - Duration::days(21);
    let mut moves: Vec<(DateTime<Utc>, u64, Vec<String>)> = vec![];
    for k in 0..12u64 {
        let at = start + Duration::hours(40 * k as i64 + (k as i64 * 7) % 5);
        let mut tags = vec!["latest".to_string(), format!("1.{k}.0")];
        if k % 4 == 3 {
            tags.push("stable".into());
        }
        moves.push((at, 300 + k, tags));
    }
    let burst = start + Duration::days(11) + Duration::hours(3);
    for (i, minutes) in [0i64, 9, 25].into_iter().enumerate() {
        moves.push((burst + Duration::minutes(minutes), 320 + i as u64, vec!["latest".into(), format!("1.5.{}", i + 1)]));
    }
    moves.sort_by_key(|m| m.0);
    for (at, n, tags) in moves {
        let at_service = service.clone().with_clock(Arc::new(At(at)));
        let created = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for tag in tags {
            let mapping = ImageStreamMapping {
                api_version: IMAGE_API_VERSION.into(),
                kind: "ImageStreamMapping".into(),
                metadata: ObjectMeta::named(Some(ns), name),
                image: demo_image(n, repo, "amd64", &created),
                tag,
            };
            at_service.create_mapping(&caller, ns, mapping).await?;
        }
    }
    // `dev` is pointed at the last three builds in turn through the last day (as a promotion
    // would: by image), so the dashboard's hourly chart has a shape on a fresh demo and the
    // timeline's colours stay the builds'.
    let now = service.clock_now();
    for (i, hours) in [22i64, 19, 15, 12, 8, 5, 3, 2, 1].into_iter().enumerate() {
        let at_service = service.clone().with_clock(Arc::new(At(now - Duration::hours(hours) - Duration::minutes(17))));
        let image = fake_digest(0xd3a0_0000 + 309 + i as u64 % 3);
        let dev = TagReference {
            name: "dev".into(),
            from: Some(ObjectReference { kind: KIND_IMAGE_STREAM_IMAGE.into(), name: format!("{name}@{image}"), namespace: String::new() }),
            ..Default::default()
        };
        at_service.set_istag(&caller, ns, "web:dev", ImageStreamTag::setting(ns, name, dev), false).await?;
    }
    // A reference-only tag keeps one history item (a new reference without an image replaces
    // the head's, as upstream), so it is set once.
    let at_service = service.clone().with_clock(Arc::new(At(now - Duration::days(12))));
    let reference = TagReference {
        name: "upstream".into(),
        reference: true,
        from: Some(ObjectReference {
            kind: KIND_DOCKER_IMAGE.into(),
            name: "docker.io/library/nginx:1.27".into(),
            namespace: String::new(),
        }),
        ..Default::default()
    };
    at_service.set_istag(&caller, ns, "web:upstream", ImageStreamTag::setting(ns, name, reference), false).await?;
    Ok(())
}
