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
