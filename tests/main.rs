//! hubsync's integration tests: one binary, one module per capability.
mod support;

mod api_projects;
mod browser;
mod foundation;
mod github_client;
mod github_data;
mod github_fake;
mod github_setup;
mod migrations;
mod pages;
mod replicas;
mod security;
mod sse;
mod sse_burst;
mod sync_flow;
mod sync_history;
mod sync_lifecycle;
mod sync_patterns;
mod sync_queue;
mod sync_reconcile;
mod sync_size_limit;
mod webhooks;
mod webhooks_burst;
mod webhooks_events;
mod webhooks_malformed;
mod webhooks_replay;
