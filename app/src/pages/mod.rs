//! One module per page.

pub mod catalog;
