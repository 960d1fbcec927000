//! The imagestreams server and CLI: one binary, `imagestreams`.
//!
//! A tour, top to bottom. Dependencies point one way, downwards; `tests/layering.rs` fails the
//! build when a module reaches past its floor.
//!
//! - `serve`: the composition root of `imagestreams serve`. Opens the store, loads the sealing
//!   key, builds the service, starts the workers and runs the listener. Nothing else wires parts.
//! - `cli`: the oc-like client commands (HTTP clients of a running portal) and the dispatch to
//!   `serve` and the benchmark helpers.
//! - `http`: the edge. One router for the API (one file per resource), the web UI's router and
//!   `UiBackend` adapter (`http::ui`), the request id, span and HTTP metrics of every request,
//!   the registry's included (`http::observe`), what every API request passes first (`http::edge`: Host,
//!   body limits, the caller before the body, cross-site and content-type checks, the audit
//!   entry), Kubernetes discovery and OpenAPI (`http::discovery`), `Table` answers
//!   (`http::table`), PATCH (`http::patch`), the HTTP/1 listener with its timeouts and
//!   connection limits (`http::listener`). Decodes, calls one service method, encodes; errors
//!   become Kubernetes `Status` objects.
//! - `registry`: the `/v2` edge of the integrated registry (OCI Distribution v1.1 paths, the OCI
//!   error envelope, the Docker token endpoint), beside the API edge: registry clients bring
//!   their own credentials, so the API edge's cookie, cross-site and content-type rules do not
//!   apply; its own `Host` check does. Rules stay in `service::registry`.
//! - `workers`: background tasks beside the service (import controller and scheduler, webhook
//!   delivery, log retention), each behind a guard that stops it, each calling only service
//!   methods, each on the service clock.
//! - `service`: the only door to the store. One transaction per mutation, the permission check,
//!   events and the webhook outbox, the clock. Rules come from `app::domain`.
//! - `store`: all SQL (SQLite via sqlx, WAL, one writer and a reader pool), typed rows.
//! - `importer`: the registry client of imports: bounded requests of its own (`registry`,
//!   oci-client reads whole bodies), manifests, configs, platforms, and the import slots
//!   (`slots`: a global limit with a fair share per namespace).
//! - `egress`: the guard every outbound connection passes (registries and webhook targets).
//! - `blobs`: content-addressed storage of the registry behind `object_store` (filesystem or
//!   S3), objects named by parsed digests, writes verified and atomic.
//! - `sealing`: registry credentials and webhook secrets encrypted at rest.
//! - `yaml`: the one YAML codec (API bodies within an alias/depth budget, `-o yaml`, the image
//!   page); `strict`: unknown-field detection for `fieldValidation=Strict`.
//! - `metrics`: the Prometheus registry every layer records into (a leaf: it names nothing
//!   above it); `/metrics` encodes it.
//! - `demo`: sample data for `serve --demo`; `bench`: the benchmarks' hidden subcommands.
//!
//! So: `cli` → `serve` → `http`, `registry`, `workers` → `service` → `store`, `blobs`, `importer`, `egress`,
//! `sealing`, `yaml`, `strict`; `importer` → `egress`. The service never names `http`, `workers`, `cli` or
//! `serve`; nothing but the service names `store` (it opens it too); workers name nothing but
//! the service; the importer and the egress guard know nothing above them. The app crate (`app::model`, `app::domain`, the Leptos pages) sits
//! under all of them; the server implements its `PortalBackend` seam in `http::ui`.
//!
//! Why `UiBackend` lives in `http` and not in `service`: it is an edge like the REST handlers
//! (it reads the request's credentials from the Leptos context); the service stays free of
//! Leptos.

pub mod bench;
pub mod blobs;
pub mod cli;
pub mod demo;
pub mod egress;
pub mod http;
pub mod importer;
pub mod metrics;
pub mod registry;
pub mod sealing;
pub mod serve;
pub mod service;
pub mod store;
pub mod strict;
pub mod workers;
pub mod yaml;
