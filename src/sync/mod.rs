//! The sync layer: the queue of runs, the worker, one run's algorithm (see DESIGN.md).
pub mod intake;
pub mod planner;
pub mod tarball;
