//! hubsync's integration tests: one binary, one module per capability.
mod support;

mod foundation;
mod webhooks;
mod webhooks_events;
mod webhooks_malformed;
mod webhooks_replay;
