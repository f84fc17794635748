//! hubsync attacked over HTTP as the internet and a large organisation would (issue 19): each
//! module proves one defence, on SQLite and PostgreSQL.
mod access_logs;
pub mod browser;
pub mod child;
mod logs_and_files;
mod pages;
mod raw;
mod secrets;
mod sessions;
mod webhook_load;
