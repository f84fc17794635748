//! hubsync attacked over HTTP as the internet and a large organisation would (issue 19): each
//! module proves one defence, on SQLite and PostgreSQL.
pub(crate) mod browser;
pub(crate) mod child;
mod logs_and_files;
mod pages;
mod raw;
mod secrets;
mod sessions;
mod webhook_load;
