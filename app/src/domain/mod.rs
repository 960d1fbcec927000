//! The image-stream rules, pure and without I/O (spec sections in each module). Compiled into
//! the server, the CLI and the browser, so a form validates with the very rules the API applies.
//! Depends on nothing but `crate::model`.

pub mod accounts;
pub mod history;
pub mod import_command;
pub mod imports;
pub mod lookup;
pub mod names;
pub mod present;
pub mod reference;
pub mod streams;
pub mod tag_command;
pub mod tag_order;
pub mod triggers;
pub mod views;
