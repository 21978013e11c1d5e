//! A guarded git directory that a command moved away and replaced (by
//! another directory, a symlink, or a `.git` file pointing elsewhere).
//!
//! [`super::guard`] snapshots only what a later git would execute or trust
//! in a gitdir, not its objects and refs, so content alone cannot put a
//! swapped `.git` back: the history is in the directory that was moved. The
//! guard records the gitdir's identity (device and inode) before the
//! command; afterwards, if the path holds something else, the original is
//! looked for by that identity in the hierarchies the command could write
//! (a rename cannot leave them: Landlock refuses `REFER` elsewhere), the
//! impostor is removed and the original renamed back. Not found (the
//! command deleted it) is a change warden cannot undo: exit 5.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Device and inode of a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) struct Identity {
    dev: u64,
    ino: u64,
}

/// How many entries the search reads at most before giving up (a
/// workspace with a large `target/` or `node_modules/`).
const SEARCH_LIMIT: usize = 500_000;

impl Identity {
    /// The identity of `path` if it is a directory (never through a symlink).
    pub(super) fn of_dir(path: &Path) -> Option<Self> {
        let meta = std::fs::symlink_metadata(path).ok()?;
        meta.is_dir().then(|| Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Find the directory with this identity beneath one of `roots`.
    fn find(self, roots: &[PathBuf]) -> Option<PathBuf> {
        let mut budget = SEARCH_LIMIT;
        let mut stack: Vec<PathBuf> = roots.to_vec();
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                budget = budget.checked_sub(1)?;
                // `file_type` comes from the directory entry: no stat, and
                // a symlink is never followed.
                if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                    continue;
                }
                let path = entry.path();
                if Identity::of_dir(&path) == Some(self) {
                    return Some(path);
                }
                stack.push(path);
            }
        }
        None
    }
}

/// Put the directory with identity `original` back at `path` if something
/// else is there now. `Ok(false)`: nothing to do; `Ok(true)`: moved back;
/// `Err`: swapped and not put back.
pub(super) fn put_back(path: &Path, original: Identity, roots: &[PathBuf]) -> Result<bool, String> {
    if Identity::of_dir(path) == Some(original) {
        return Ok(false);
    }
    let found = original
        .find(roots)
        .ok_or_else(|| format!("{} was replaced and the original is gone", path.display()))?;
    super::guard::remove(path)
        .map_err(|e| format!("removing what replaced {}: {e}", path.display()))?;
    std::fs::rename(&found, path)
        .map_err(|e| format!("moving {} back to {}: {e}", found.display(), path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_directory_is_found_and_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let git = ws.join(".git");
        std::fs::create_dir_all(git.join("objects")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        let id = Identity::of_dir(&git).unwrap();
        std::fs::create_dir_all(ws.join("a/b")).unwrap();
        std::fs::rename(&git, ws.join("a/b/hidden")).unwrap();
        std::fs::write(&git, "gitdir: /elsewhere\n").unwrap();

        assert_eq!(put_back(&git, id, std::slice::from_ref(&ws)), Ok(true));
        assert_eq!(Identity::of_dir(&git), Some(id));
        assert!(git.join("HEAD").is_file());
        assert!(!ws.join("a/b/hidden").exists());
        assert_eq!(put_back(&git, id, &[ws]), Ok(false), "nothing left to do");
    }

    #[test]
    fn a_deleted_directory_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        std::fs::create_dir_all(&git).unwrap();
        let id = Identity::of_dir(&git).unwrap();
        std::fs::remove_dir(&git).unwrap();
        std::os::unix::fs::symlink("/tmp", &git).unwrap();
        let err = put_back(&git, id, &[tmp.path().to_path_buf()]).unwrap_err();
        assert!(err.contains("replaced"), "{err}");
    }
}
