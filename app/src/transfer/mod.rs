//! What travels between the server functions and the pages: the transfer types (`types`), the
//! error every server function answers with (`error`).
//! Its own module, below `views` and `widgets`, so those can name these types without naming
//! the server functions (`api`), which sit above them.
//!
//! Must not: call server functions, render markup or hold rules.

pub mod error;
pub mod types;

pub use error::ApiFailure;
pub use types::*;
