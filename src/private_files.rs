//! Files that hold secrets or synced code (the SQLite database, the credentials file) are created
//! for hubsync's user only: 0600, in a 0700 directory when hubsync makes the directory. A
//! directory the operator made is left as it is (README: what it should be).
use std::{io, path::Path};

/// Creates `dir` and any missing parents, each 0700. Existing directories are not touched.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates an empty `path` readable by this user only, unless it exists; creates its directory
/// as `create_dir` does. Returns whether it existed.
pub(crate) fn create_file(path: &Path) -> io::Result<bool> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_dir(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(true),
        Err(e) => Err(e),
    }
}

/// Whether group or others may read or write `path` (always false off Unix).
pub(crate) fn is_shared(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn new_directories_and_files_are_private_and_existing_ones_are_left_alone() {
        let root = std::env::temp_dir().join(format!("hubsync-private-{}", std::process::id()));
        let file = root.join("a/b/data.db");
        assert!(!create_file(&file).unwrap());
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&root.join("a/b")), 0o700);
        assert_eq!(mode(&root.join("a")), 0o700);
        assert!(!is_shared(&file));

        let theirs = root.join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert!(!create_file(&theirs.join("x.db")).unwrap());
        assert_eq!(
            mode(&theirs),
            0o750,
            "the operator's directory keeps its mode"
        );
        assert!(create_file(&theirs.join("x.db")).unwrap(), "exists now");
        assert!(is_shared(&theirs));
        let _ = std::fs::remove_dir_all(root);
    }
}
