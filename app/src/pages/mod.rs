//! One module per page.

pub mod catalog;
pub mod dashboard;
pub mod image;
pub mod stream;
pub mod webhooks;
