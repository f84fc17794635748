//! hubsync's integration tests: one binary, one module per capability.
mod support;

mod api_projects;
mod foundation;
mod pages;
mod sse;
mod sync_queue;
mod github_client;
mod github_data;
mod github_fake;
mod github_setup;
