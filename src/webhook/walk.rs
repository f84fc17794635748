//! The processor's walk over one pass: which installations must wait (per-installation order)
//! and what the pass did.
use std::collections::HashSet;

use crate::store::deliveries;

/// What a pass has found so far: the installations whose later deliveries must wait, and what
/// the run loop must know.
#[derive(Default)]
pub(super) struct Walk {
    blocked: HashSet<i64>,
    pub result: Pass,
}

impl Walk {
    pub(super) fn is_blocked(&self, w: &deliveries::Waiting) -> bool {
        w.installation_id.is_some_and(|i| self.blocked.contains(&i))
    }

    pub(super) fn block(&mut self, w: &deliveries::Waiting) {
        self.blocked.extend(w.installation_id);
    }

    pub(super) fn record(&mut self, chunk: &[deliveries::Waiting], handled: Vec<Option<bool>>) {
        for (w, done) in chunk.iter().zip(handled) {
            if done.is_some() {
                self.result = self.result.max(Pass::Handled);
            }
            if done != Some(true) {
                self.block(w);
            }
        }
    }

    pub(super) fn panicked(&mut self, w: &deliveries::Waiting, panic: tokio::task::JoinError) {
        tracing::error!(error = %panic, "webhook processor panicked on a delivery");
        self.result = Pass::Panicked;
        self.block(w);
    }
}

/// What a pass did, in increasing order of what the run loop must know.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Pass {
    /// Nothing was due.
    #[default]
    Nothing,
    /// At least one delivery was handled: look again at once.
    Handled,
    /// A delivery panicked: wait a poll interval before trying it again.
    Panicked,
}
