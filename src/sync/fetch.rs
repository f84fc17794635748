//! A run's content fetching: the commit's tarball when many blobs are missing, else blob by
//! blob, stored in batches; progress events as it goes.
use std::{collections::HashSet, time::Instant};

use futures_util::{stream, StreamExt, TryStreamExt};
use sea_orm::DbErr;
use tokio::sync::mpsc;
use tokio_util::io::StreamReader;

use super::{error::RunError, runner::Run, tarball};
use crate::{
    git::Sha,
    github::RepoName,
    progress::{self, ProgressEvent},
    store::{manifests, runs::RunCounts},
};

/// Blobs stored per transaction, and the bytes a batch may hold before it is written.
const BATCH_BLOBS: usize = 200;
const BATCH_BYTES: usize = 8 << 20;

/// Fetched blobs waiting to be written together: one transaction per batch instead of per blob.
#[derive(Default)]
struct Batch {
    blobs: Vec<manifests::NewBlob>,
    bytes: usize,
}

impl Batch {
    /// Adds a blob; true when the batch should be written now.
    fn push(&mut self, sha: String, content: Vec<u8>) -> bool {
        self.bytes += content.len();
        let size = content.len() as i64;
        self.blobs.push(manifests::NewBlob {
            sha,
            size,
            content: Some(content),
        });
        self.blobs.len() >= BATCH_BLOBS || self.bytes >= BATCH_BYTES
    }
}

impl Run<'_> {
    /// Stores every wanted blob found in the commit's tarball. A broken or incomplete archive is
    /// not fatal: the caller fetches whatever is still missing blob by blob.
    pub(super) async fn read_tarball(
        &self,
        repo: &RepoName,
        commit: &Sha,
        wanted: HashSet<String>,
        total: usize,
        counts: &mut RunCounts,
    ) -> Result<(), RunError> {
        let body = self.client.tarball(repo, commit).await?;
        let reader = StreamReader::new(body.map_err(std::io::Error::other));
        let (tx, mut rx) = mpsc::channel(8);
        let extract = tokio::spawn(tarball::extract_wanted(
            reader,
            wanted,
            self.settings.max_file_size,
            tx,
        ));
        let mut last = Instant::now();
        let mut found = 0usize;
        let mut batch = Batch::default();
        while let Some(blob) = rx.recv().await {
            counts.bytes_fetched += blob.content.len() as i64;
            counts.files_fetched += 1;
            found += 1;
            if batch.push(blob.sha, blob.content) {
                self.write(&mut batch).await?;
            }
            if last.elapsed() >= self.settings.progress_interval {
                last = Instant::now();
                self.progress(found, total).await?;
            }
        }
        self.write(&mut batch).await?;
        match extract.await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "tarball unusable; fetching the rest as blobs")
            }
            Err(e) => {
                tracing::warn!(error = %e, "tarball reader failed; fetching the rest as blobs")
            }
        }
        Ok(())
    }

    pub(super) async fn fetch_blobs(
        &self,
        repo: &RepoName,
        wanted: HashSet<String>,
        mut done: usize,
        total: usize,
        counts: &mut RunCounts,
    ) -> Result<(), RunError> {
        let shas: Vec<Sha> = wanted.iter().filter_map(|s| Sha::parse(s).ok()).collect();
        let mut fetched = stream::iter(shas)
            .map(|sha| async move { self.client.blob(repo, &sha).await.map(|b| (sha, b)) })
            .buffer_unordered(self.settings.blob_concurrency);
        let mut last = Instant::now();
        let mut batch = Batch::default();
        while let Some((sha, content)) = fetched.try_next().await? {
            if tarball::git_blob_sha(&content) != sha.as_str() {
                return Err(RunError::Corrupt {
                    sha: sha.to_string(),
                });
            }
            counts.bytes_fetched += content.len() as i64;
            counts.files_fetched += 1;
            done += 1;
            if batch.push(sha.to_string(), content.to_vec()) {
                self.write(&mut batch).await?;
            }
            if last.elapsed() >= self.settings.progress_interval {
                last = Instant::now();
                self.progress(done, total).await?;
            }
        }
        self.write(&mut batch).await
    }

    /// Writes a batch of blobs in one transaction and empties it.
    async fn write(&self, batch: &mut Batch) -> Result<(), RunError> {
        if batch.blobs.is_empty() {
            return Ok(());
        }
        let txn = crate::store::begin_write(self.db).await?;
        manifests::store_blobs(&txn, std::mem::take(&mut batch.blobs)).await?;
        txn.commit().await?;
        batch.bytes = 0;
        Ok(())
    }

    pub(super) async fn progress(&self, done: usize, total: usize) -> Result<(), DbErr> {
        let event = ProgressEvent::Progress {
            run_id: self.run.id,
            branch: self.target.branch.clone(),
            done: done as u64,
            total: total as u64,
        };
        progress::record(self.db, self.target.project_id, &event).await?;
        self.hub.poke();
        Ok(())
    }
}
