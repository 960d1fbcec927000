//! One module per page: the page component the router names, and the islands and forms of that
//! page (the parts that act). A page reads its data through the server functions in `api` and
//! places their server-rendered markup with `widgets::Rendered` or `live::LivePart`.
//!
//! Must not: build read-only markup that the server could render (that is `views`), or restate
//! a rule (that is `domain`).

pub mod account;
pub mod catalog;
pub mod dashboard;
pub mod image;
pub mod namespace;
pub mod retention;
pub mod stream;
pub mod webhooks;
