//! hubsync's integration tests: one binary, one module per capability.
mod support;

mod foundation;
mod github_client;
mod github_data;
mod github_fake;
mod github_setup;
mod migrations;
mod webhooks;
mod webhooks_events;
mod webhooks_malformed;
mod webhooks_replay;
