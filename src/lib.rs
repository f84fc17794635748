//! hubsync: a self-hosted GitHub App that keeps selected branches synced into a database.
//! See docs/architecture.md for the flow; `startup::run` builds the app for `main` and the tests
//! alike.
pub mod backoff;
pub mod cli;
pub mod config;
pub mod git;
pub mod github;
pub mod healing;
pub mod http;
pub mod ids;
pub mod metrics;
pub mod outbox;
pub mod passes;
pub mod private_files;
pub mod progress;
pub mod seal;
pub mod secret;
pub mod startup;
pub mod store;
pub mod sync;
mod tasks;
pub mod telemetry;
pub mod webhook;
