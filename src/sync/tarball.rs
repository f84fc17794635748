//! A first sync from one tarball instead of one request per blob. The archive is streamed:
//! decompressed and read entry by entry, never held whole in memory.
//!
//! Tar entries carry paths, not blob shas, so each file's git blob sha is computed from its bytes
//! and only wanted shas are kept. That also guards against what `git archive` may alter
//! (`export-subst`, `export-ignore` in .gitattributes): an altered or missing file simply stays
//! wanted and is fetched as a blob afterwards.
use std::collections::HashSet;

use sha1::{Digest, Sha1};
use tokio::{io::AsyncRead, sync::mpsc};
use tokio_util::io::SyncIoBridge;

/// A wanted blob found in the archive.
#[derive(Debug)]
pub(crate) struct FoundBlob {
    pub sha: String,
    pub content: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum TarballError {
    #[error("reading the tarball failed: {0}")]
    Read(#[from] std::io::Error),
    #[error("the tarball reader stopped unexpectedly")]
    Aborted,
}

/// The sha git gives a blob with these bytes.
pub fn git_blob_sha(content: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", content.len()).as_bytes());
    h.update(content);
    hex::encode(h.finalize())
}

/// Reads a gzipped tarball and sends every file or symlink whose blob sha is in `wanted` (each
/// sha once). Files larger than `max_size` are skipped unread. Returns the shas still wanted.
/// The bounded channel keeps memory bounded: reading waits while the receiver stores.
pub(crate) async fn extract_wanted(
    reader: impl AsyncRead + Send + Unpin + 'static,
    mut wanted: HashSet<String>,
    max_size: u64,
    found: mpsc::Sender<FoundBlob>,
) -> Result<HashSet<String>, TarballError> {
    tokio::task::spawn_blocking(move || {
        let gz = flate2::read::GzDecoder::new(SyncIoBridge::new(reader));
        let mut archive = tar::Archive::new(gz);
        for entry in archive.entries()? {
            if wanted.is_empty() {
                break;
            }
            let mut entry = entry?;
            let kind = entry.header().entry_type();
            let content = if kind.is_file() {
                if entry.size() > max_size {
                    continue;
                }
                let mut buf = Vec::with_capacity(entry.size() as usize);
                std::io::Read::read_to_end(&mut entry, &mut buf)?;
                buf
            } else if kind.is_symlink() {
                // Git stores a symlink as a blob holding the target path.
                match entry.link_name_bytes() {
                    Some(target) => target.into_owned(),
                    None => continue,
                }
            } else {
                continue;
            };
            let sha = git_blob_sha(&content);
            if wanted.remove(&sha) && found.blocking_send(FoundBlob { sha, content }).is_err() {
                return Err(TarballError::Aborted);
            }
        }
        Ok(wanted)
    })
    .await
    .map_err(|_| TarballError::Aborted)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_shas_match_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        assert_eq!(
            git_blob_sha(b"hello\n"),
            "ce013625030ba8dba906f756967f9e9ca394464a"
        );
        assert_eq!(
            git_blob_sha(b""),
            "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
        );
    }

    fn tarball(files: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (path, content) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, format!("octo-hello-abc1234/{path}"), *content)
                .unwrap();
        }
        for (path, target) in links {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, format!("octo-hello-abc1234/{path}"), target)
                .unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    #[tokio::test]
    async fn keeps_only_wanted_blobs_and_reports_what_is_missing() {
        let bytes = tarball(
            &[
                ("a.txt", b"hello\n"),
                ("b.txt", b"other"),
                ("c.txt", b"hello\n"),
            ],
            &[("link", "a.txt")],
        );
        let wanted: HashSet<String> = [
            git_blob_sha(b"hello\n"),
            git_blob_sha(b"a.txt"),
            "f".repeat(40),
        ]
        .into_iter()
        .collect();
        let (tx, mut rx) = mpsc::channel(2);
        let task = tokio::spawn(extract_wanted(
            std::io::Cursor::new(bytes),
            wanted,
            1 << 20,
            tx,
        ));
        let mut got = Vec::new();
        while let Some(b) = rx.recv().await {
            got.push(b);
        }
        let missing = task.await.unwrap().unwrap();
        assert_eq!(got.len(), 2, "each wanted sha once: {got:?}");
        assert!(
            got.iter().any(|b| b.content == b"a.txt"),
            "symlink target is the blob"
        );
        assert_eq!(missing, ["f".repeat(40)].into_iter().collect());
    }

    #[tokio::test]
    async fn a_corrupt_archive_is_an_error_not_a_panic() {
        let (tx, _rx) = mpsc::channel(1);
        let wanted = [git_blob_sha(b"x")].into_iter().collect();
        let r = extract_wanted(
            std::io::Cursor::new(b"not a tarball".to_vec()),
            wanted,
            10,
            tx,
        )
        .await;
        assert!(r.is_err());
    }
}
