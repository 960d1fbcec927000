//! The API resource types: OpenShift's `image.openshift.io/v1` shapes plus the Kubernetes
//! `Status` error envelope and list wrappers. Pure data with serde; shared by the server, the
//! browser and the CLI. Field names and `omitempty` behaviour follow upstream exactly (spec §1),
//! because clients compare JSON. No rules live here: those are in `crate::domain`.
//!
//! Must not: hold rules or depend on any other module of `app`.

mod account;
mod image;
mod import;
mod meta;
mod secret;
mod status;
mod stream;
mod webhook;

pub use account::*;
pub use image::*;
pub use import::*;
pub use meta::*;
pub use secret::*;
pub use status::*;
pub use stream::*;
pub use webhook::*;

/// API group version of every image resource.
pub const IMAGE_API_VERSION: &str = "image.openshift.io/v1";
/// The path prefix of the image API (`/apis/<group>/<version>`), for routes, clients and event sources.
pub const IMAGE_API_PATH: &str = "/apis/image.openshift.io/v1";
/// Annotation set on a stream by every import write (RFC 3339 UTC time).
pub const ANNOTATION_REPOSITORY_CHECK: &str = "openshift.io/image.dockerRepositoryCheck";
/// Annotation that makes the whole stream insecure for imports.
pub const ANNOTATION_INSECURE_REPOSITORY: &str = "openshift.io/image.insecureRepository";
/// Annotation on images pushed to (managed by) the integrated registry.
pub const ANNOTATION_IMAGE_MANAGED: &str = "openshift.io/image.managed";
/// The tag used when none is given.
pub const DEFAULT_TAG: &str = "latest";
/// Annotations on a spec tag choosing the platform of a manifest list in Legacy mode.
pub const ANNOTATION_PREFER_ARCH: &str = "importer.image.openshift.io/prefer-arch";
pub const ANNOTATION_PREFER_OS: &str = "importer.image.openshift.io/prefer-os";
