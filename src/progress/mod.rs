//! Progress events: every change a watcher should see is a `sync_events` row, so live streams and
//! replays (`Last-Event-ID`) read the same log. The hub tails that table by id and fans rows out
//! to subscribers in this process, whichever process (or replica) wrote them.
mod event;
mod gaps;
mod history;
mod hub;
mod listen;
mod method;
mod record;
mod tail;
mod wait;

/// Unscoped, for benches and tools; handlers read through `store::scoped::events`.
pub use crate::store::events::replay;
pub use event::{ProgressEvent, Published, SelectionChange};
pub use history::timeline;
pub use hub::{Event, Hub, Tailer};
pub use method::{Fallback, SyncMethod};
pub use record::*;
pub use wait::until_success;
