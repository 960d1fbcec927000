//! One module per page.

pub mod account;
pub mod catalog;
pub mod dashboard;
pub mod image;
pub mod namespace;
pub mod stream;
pub mod webhooks;
