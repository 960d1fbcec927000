//! Registry documents → Image objects: manifests (OCI and Docker schema 2), manifest lists and
//! OCI indexes, image configs (spec §1.3), and the platform choice of Legacy imports. Lists and
//! layers are bounded while parsing (`MAX_LIST_ENTRIES`, `MAX_LAYERS`).
//! Must not: fetch anything (it parses what `importer` fetched).

use app::domain::reference::{DOCKER_DEFAULT_REGISTRY, DockerImageReference, is_registry_docker_hub};
use app::model::*;
use oci_client::Reference;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const ACCEPTED: &[&str] = &[OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

/// Our parsed reference as oci-client's (Docker Hub gets its `library/` namespace).
pub fn oci_reference(r: &DockerImageReference) -> Reference {
    let registry = if r.registry.is_empty() { DOCKER_DEFAULT_REGISTRY.to_string() } else { r.registry.clone() };
    let mut repo = r.repository_name();
    if r.namespace.is_empty() && is_registry_docker_hub(&registry) {
        repo = format!("library/{repo}");
    }
    if !r.id.is_empty() {
        Reference::with_digest(registry, repo, r.id.clone())
    } else {
        Reference::with_tag(registry, repo, if r.tag.is_empty() { "latest".into() } else { r.tag.clone() })
    }
}

pub struct Layer {
    pub digest: String,
    pub size: i64,
    pub media_type: String,
}

pub struct SingleManifest {
    pub media_type: String,
    pub config_digest: String,
    pub layers: Vec<Layer>,
}

pub struct ListEntry {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    pub architecture: String,
    pub os: String,
    pub variant: String,
}

pub struct ManifestList {
    pub media_type: String,
    pub manifests: Vec<ListEntry>,
}

pub enum Parsed {
    Image(SingleManifest),
    List(ManifestList),
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Most layers one image may have (registries refuse far fewer; Docker's own limit is 127).
pub const MAX_LAYERS: usize = 1000;
/// Most entries one manifest list or index may have.
pub const MAX_LIST_ENTRIES: usize = 1000;

/// The first `N` elements of a JSON array, and how many it had: elements past `N` are skipped
/// without being built, so a document with millions of entries costs no more memory than one
/// with `N`.
struct Capped<T, const N: usize> {
    items: Vec<T>,
    total: usize,
}

impl<'de, T: serde::Deserialize<'de>, const N: usize> serde::Deserialize<'de> for Capped<T, N> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: serde::Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Visit<T, N> {
            type Value = Capped<T, N>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                let mut total = 0;
                while total < N {
                    match seq.next_element::<T>()? {
                        Some(item) => items.push(item),
                        None => return Ok(Capped { items, total }),
                    }
                    total += 1;
                }
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    total += 1;
                }
                Ok(Capped { items, total })
            }
        }
        d.deserialize_seq(Visit::<T, N>(std::marker::PhantomData))
    }
}

/// The parts of a manifest or list the importer reads; everything else is skipped unread.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    schema_version: Option<i64>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Capped<Descriptor, MAX_LIST_ENTRIES>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Capped<Descriptor, MAX_LAYERS>>,
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(serde::Deserialize, Default)]
struct Platform {
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

/// Reads a manifest or a list. Schema 1 and unknown documents are refused, and so are lists
/// with more than `MAX_LIST_ENTRIES` entries and images with more than `MAX_LAYERS` layers.
pub fn parse(raw: &[u8]) -> Result<Parsed, String> {
    let v: Document = serde_json::from_slice(raw).map_err(|e| format!("the manifest is not valid JSON of a manifest: {e}"))?;
    if v.schema_version != Some(2) {
        return Err("only schema 2 manifests and OCI manifests can be imported".into());
    }
    let media_type = v.media_type.unwrap_or_default();
    if let Some(list) = v.manifests {
        if list.total > MAX_LIST_ENTRIES {
            return Err(format!("the manifest list has {} entries, more than the {MAX_LIST_ENTRIES} allowed", list.total));
        }
        let manifests = list
            .items
            .into_iter()
            .map(|m| {
                let p = m.platform.unwrap_or_default();
                ListEntry {
                    digest: m.digest.unwrap_or_default(),
                    media_type: m.media_type.unwrap_or_default(),
                    size: m.size.unwrap_or(0),
                    architecture: p.architecture.unwrap_or_default(),
                    os: p.os.unwrap_or_default(),
                    variant: p.variant.unwrap_or_default(),
                }
            })
            .collect();
        let media_type = if media_type.is_empty() { OCI_INDEX.into() } else { media_type };
        return Ok(Parsed::List(ManifestList { media_type, manifests }));
    }
    let config_digest = v.config.and_then(|c| c.digest).unwrap_or_default();
    if config_digest.is_empty() {
        return Err("the manifest has no config".into());
    }
    let layers = match v.layers {
        Some(l) if l.total > MAX_LAYERS => {
            return Err(format!("the manifest has {} layers, more than the {MAX_LAYERS} allowed", l.total));
        }
        Some(l) => l
            .items
            .into_iter()
            .map(|l| Layer {
                digest: l.digest.unwrap_or_default(),
                size: l.size.unwrap_or(0),
                media_type: l.media_type.unwrap_or_default(),
            })
            .collect(),
        None => vec![],
    };
    let media_type = if media_type.is_empty() { OCI_MANIFEST.into() } else { media_type };
    Ok(Parsed::Image(SingleManifest { media_type, config_digest, layers }))
}

/// Legacy mode's choice: the tag's preferred arch/os, else linux/amd64, else the first entry.
pub fn choose_platform<'a>(list: &'a ManifestList, arch: Option<&str>, os: Option<&str>) -> Option<&'a ListEntry> {
    if arch.is_some() || os.is_some() {
        let want_os = os.unwrap_or("linux");
        let want_arch = arch.unwrap_or("amd64");
        if let Some(m) = list.manifests.iter().find(|m| m.os == want_os && m.architecture == want_arch) {
            return Some(m);
        }
    }
    list.manifests.iter().find(|m| m.os == "linux" && m.architecture == "amd64").or_else(|| list.manifests.first())
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(s).collect()).unwrap_or_default()
}

fn object_keys(v: &Value) -> BTreeMap<String, Value> {
    v.as_object().map(|o| o.keys().map(|k| (k.clone(), Value::Object(Default::default()))).collect()).unwrap_or_default()
}

/// An Image from one manifest and its config blob.
pub fn image(repo: &str, digest: &str, raw: &[u8], m: &SingleManifest, config_raw: &[u8]) -> Image {
    let c: Value = serde_json::from_slice(config_raw).unwrap_or(Value::Null);
    let cfg = &c["config"];
    let mut unique: BTreeSet<&str> = BTreeSet::new();
    let layer_bytes: i64 = m.layers.iter().filter(|l| unique.insert(&l.digest)).map(|l| l.size).sum();
    let config = DockerConfig {
        hostname: s(&cfg["Hostname"]),
        user: s(&cfg["User"]),
        env: strings(&cfg["Env"]),
        cmd: strings(&cfg["Cmd"]),
        entrypoint: strings(&cfg["Entrypoint"]),
        working_dir: s(&cfg["WorkingDir"]),
        exposed_ports: object_keys(&cfg["ExposedPorts"]),
        volumes: object_keys(&cfg["Volumes"]),
        labels: cfg["Labels"].as_object().map(|o| o.iter().map(|(k, v)| (k.clone(), s(v))).collect()).unwrap_or_default(),
    };
    Image {
        metadata: ObjectMeta {
            name: digest.into(),
            annotations: [("image.openshift.io/dockerLayersOrder".to_string(), "ascending".to_string())].into(),
            ..Default::default()
        },
        docker_image_reference: format!("{repo}@{digest}"),
        docker_image_metadata: Some(DockerImageMetadata {
            id: m.config_digest.clone(),
            parent: s(&c["parent"]),
            comment: s(&c["comment"]),
            created: s(&c["created"]),
            container: s(&c["container"]),
            docker_version: s(&c["docker_version"]),
            author: s(&c["author"]),
            config: Some(config),
            architecture: s(&c["architecture"]),
            os: s(&c["os"]),
            size: config_raw.len() as i64 + layer_bytes,
            ..Default::default()
        }),
        docker_image_metadata_version: "1.0".into(),
        docker_image_layers: m
            .layers
            .iter()
            .map(|l| ImageLayer { name: l.digest.clone(), size: l.size, media_type: l.media_type.clone() })
            .collect(),
        docker_image_manifest_media_type: m.media_type.clone(),
        docker_image_manifest: String::from_utf8_lossy(raw).into(),
        docker_image_config: String::from_utf8_lossy(config_raw).into(),
        ..Default::default()
    }
}

/// The Image of a preserved manifest list: no layers, its children in `dockerImageManifests`.
/// `now` is its creation time (a list has none of its own).
pub fn list_image(repo: &str, digest: &str, raw: &[u8], list: &ManifestList, now: &str) -> Image {
    Image {
        metadata: ObjectMeta { name: digest.into(), ..Default::default() },
        docker_image_reference: format!("{repo}@{digest}"),
        docker_image_metadata: Some(DockerImageMetadata { id: digest.into(), created: now.to_string(), ..Default::default() }),
        docker_image_metadata_version: "1.0".into(),
        docker_image_manifest_media_type: list.media_type.clone(),
        docker_image_manifests: list
            .manifests
            .iter()
            .map(|m| ImageManifest {
                digest: m.digest.clone(),
                media_type: m.media_type.clone(),
                manifest_size: m.size,
                architecture: m.architecture.clone(),
                os: m.os.clone(),
                variant: m.variant.clone(),
            })
            .collect(),
        docker_image_manifest: String::from_utf8_lossy(raw).into(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(n: usize) -> Vec<u8> {
        let layers: Vec<serde_json::Value> = (0..n).map(|i| serde_json::json!({"digest": format!("sha256:{i:064x}"), "size": 1})).collect();
        serde_json::json!({"schemaVersion": 2, "config": {"digest": "sha256:00"}, "layers": layers}).to_string().into_bytes()
    }

    #[test]
    fn layers_up_to_the_limit_are_read_and_more_are_counted_not_kept() {
        let Ok(Parsed::Image(m)) = parse(&layers(MAX_LAYERS)) else { panic!("the limit itself is fine") };
        assert_eq!(m.layers.len(), MAX_LAYERS);
        assert_eq!(parse(&layers(MAX_LAYERS + 5)).err().unwrap(), "the manifest has 1005 layers, more than the 1000 allowed");
    }

    #[test]
    fn unknown_fields_are_skipped_and_wrong_documents_refused() {
        let doc = br#"{"schemaVersion": 2, "annotations": {"a": [1, {"b": null}]}, "config": {"digest": "sha256:00", "x": 1}}"#;
        assert!(matches!(parse(doc), Ok(Parsed::Image(m)) if m.layers.is_empty() && m.config_digest == "sha256:00"));
        assert_eq!(parse(br#"{"schemaVersion": 1}"#).err().unwrap(), "only schema 2 manifests and OCI manifests can be imported");
        assert!(parse(b"[").err().unwrap().starts_with("the manifest is not valid JSON of a manifest"));
    }
}
