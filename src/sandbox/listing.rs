//! "Surely absent" answers from one directory listing, for planners that
//! look up many names in the same few directories (the ~80 `~/…`
//! credential entries of the default deny list all sit in `$HOME`, most
//! of them missing): after a directory has been asked about a few times
//! it is listed once, and a name missing from the listing needs no
//! `statx`. Only absence is answered: a name that is listed is still
//! looked up by the caller as before (it may be a dangling link, a
//! directory, or gone by now), and a directory that cannot be listed
//! answers nothing. So the result is what one `stat` at the time of the
//! listing would have said, which is all the callers' snapshot of the
//! filesystem ever was.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Lookups in one directory before it is listed: a directory asked about
/// once or twice is cheaper to `stat` into than to list.
const LIST_AFTER: u32 = 3;

#[derive(Default)]
pub(super) struct Listings {
    asked: HashMap<PathBuf, u32>,
    listed: HashMap<PathBuf, Option<HashSet<OsString>>>,
}

impl Listings {
    /// Whether `path` did not exist when its directory was listed.
    /// `false` means "look it up".
    pub(super) fn surely_absent(&mut self, path: &Path) -> bool {
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return false;
        };
        // Under a directory that is itself missing (`~/.local/share/…`
        // with no `~/.local`), nothing exists.
        if dir.parent().is_some() && self.surely_absent(dir) {
            return true;
        }
        if !self.listed.contains_key(dir) {
            let asked = self.asked.entry(dir.to_path_buf()).or_insert(0);
            *asked += 1;
            if *asked < LIST_AFTER {
                return false;
            }
            let names = std::fs::read_dir(dir).ok().and_then(|rd| {
                rd.map(|e| e.map(|e| e.file_name()))
                    .collect::<Result<HashSet<_>, _>>()
                    .ok()
            });
            self.listed.insert(dir.to_path_buf(), names);
        }
        matches!(self.listed.get(dir), Some(Some(names)) if !names.contains(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_missing_from_a_listing_are_absent() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("here"), "").unwrap();
        std::os::unix::fs::symlink("nowhere", tmp.path().join("dangling")).unwrap();
        let mut l = Listings::default();
        // Below the threshold nothing is answered.
        assert!(!l.surely_absent(&tmp.path().join("a")));
        assert!(!l.surely_absent(&tmp.path().join("b")));
        assert!(l.surely_absent(&tmp.path().join("c")));
        assert!(!l.surely_absent(&tmp.path().join("here")));
        assert!(!l.surely_absent(&tmp.path().join("dangling")));
        // Under a missing directory, nothing exists.
        assert!(l.surely_absent(&tmp.path().join("gone/x/y")));
        // A directory that exists but cannot be listed answers nothing
        // (a file stands in for it: read_dir fails).
        let file = tmp.path().join("here");
        for name in ["x", "y", "z", "w"] {
            assert!(!l.surely_absent(&file.join(name)));
        }
    }
}
