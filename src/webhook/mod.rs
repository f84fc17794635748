//! The webhook receiver: verify (signature.rs), read the headers (headers.rs), check the payload
//! (events.rs), store it (ingest.rs, batched by inbox.rs); then, in the background, process it
//! (process.rs, handle.rs).
pub mod events;
pub mod handle;
pub mod headers;
pub mod inbox;
pub mod ingest;
pub mod process;
pub mod replay;
pub mod signature;
pub mod waiting;
mod walk;

use std::time::Duration;

/// How webhook deliveries are received and processed.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Largest body accepted; GitHub caps payloads at 25 MB.
    pub max_body_bytes: usize,
    /// Off: deliveries are stored but not processed (they are once a process with it on runs).
    pub process: bool,
    /// Attempts before a delivery that keeps failing is marked failed.
    pub max_attempts: u32,
    /// Delay before the first retry; it doubles with each attempt.
    pub retry_delay: Duration,
    /// How often GitHub's delivery log is read for deliveries that never reached hubsync
    /// (`HUBSYNC_REDELIVERY_SECS`; zero: never).
    pub redelivery_interval: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 25 * 1024 * 1024,
            process: true,
            max_attempts: 5,
            retry_delay: Duration::from_secs(5),
            redelivery_interval: Duration::from_secs(300),
        }
    }
}
