//! The server-side renderers: every read-only part of a page (the catalog table, a stream's
//! tags, timeline and histories, an image, the dashboard, webhook cards and delivery logs, the
//! token table, the audit log, prune previews and retention runs) as markup, which the server functions send and pages place with
//! `widgets::Rendered`. Compiled for the server only, so the browser build carries none of it.
//!
//! Buttons inside this markup name what they act on in `data-` attributes; the islands in
//! `pages` handle their clicks.
//!
//! Must not: call server functions, hold state or islands, or decide rules (they come from
//! `domain`, e.g. `domain::views`).

pub mod account;
pub mod catalog;
pub mod dashboard;
pub mod image;
pub mod namespace;
pub mod retention;
pub mod stream;
pub mod timeline;
pub mod webhooks;
