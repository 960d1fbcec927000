//! The imagestreams server and CLI.
//!
//! A short tour (dependencies point one way: http → service → store):
//! - `http`: the axum API router, one file per resource; errors become `Status` objects;
//! - `service`: one transaction per mutation, permission checks, the clock;
//! - `store`: all SQL (SQLite via sqlx, WAL, one writer and a reader pool);
//! - `portal`: the Leptos UI mounted next to the API, and the backend its server functions call;
//! - `cli`: `imagestreams serve` and the oc-like client commands;
//! - `delivery`: the webhook dispatcher working off the outbox;
//! - `demo`: sample data for `serve --demo`.

pub mod bench;
pub mod cli;
pub mod demo;
pub mod egress;
pub mod http;
pub mod importer;
pub mod sealing;
pub mod serve;
pub mod service;
pub mod store;
pub mod workers;
pub mod yaml;
