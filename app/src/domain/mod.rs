//! The image-stream rules, pure and without I/O (spec sections in each module). Compiled into
//! the server, the CLI and the browser, so a form validates with the very rules the API applies.
//! Depends on nothing but `crate::model`. Its errors carry the field they concern as data
//! (`tag_command::TagCommandError`, `model::FieldError`), so every edge (HTTP, CLI, forms) shows
//! them its own way.
//!
//! Must not: do I/O, read the clock, know about Leptos, the server functions or markup, or
//! check permissions.

pub mod accounts;
pub mod deletion;
pub mod history;
pub mod import_command;
pub mod imports;
pub mod lookup;
pub mod names;
pub mod plain;
pub mod present;
pub mod prune;
pub mod reference;
pub mod retention;
pub mod secrets;
pub mod selectors;
pub mod streams;
pub mod tag_command;
pub mod tag_order;
pub mod tag_table;
pub mod triggers;
pub mod views;
