//! The webhook receiver: verify (signature.rs), read the headers (headers.rs), check the payload
//! (events.rs), store it (ingest.rs); then, in the background, process it (process.rs, handle.rs).
pub mod events;
pub mod handle;
pub mod headers;
pub mod ingest;
pub mod process;
pub mod replay;
pub mod signature;
