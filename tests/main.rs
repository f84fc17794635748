//! hubsync's integration tests: one binary, one module per capability.
mod support;

mod foundation;
mod migrations;
