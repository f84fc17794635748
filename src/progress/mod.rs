//! Progress events: every change a watcher should see is a `sync_events` row, so live streams and
//! replays (`Last-Event-ID`) read the same log. The hub tails that table and fans rows out to
//! subscribers in this process, whichever process (or replica) wrote them.
mod hub;
mod record;

pub use hub::{latest_id, replay, Event, Hub};
pub use record::*;
