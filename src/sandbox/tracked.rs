//! Deny-read entries that name files git tracks. A committed `.env` is in
//! `.git/objects`, which every command can read (git needs it): hiding the
//! working-tree copy protects nothing, so `warden run` says so at start
//! instead of pretending. A glob that matches a tracked file is a warning
//! (and an audit record naming the file, never its content); an explicit
//! path that is tracked is a configuration error.
//!
//! The tracked files come from `git ls-files -z`, run by warden outside the
//! sandbox once per run, hardened ([`super::git_cmd`]: nothing from the
//! repository's config or warden's environment runs a program, and the
//! index lock is not taken). Without git, or when git cannot list the files
//! (not a checkout, a repository git refuses), nothing is checked and the
//! caller says so.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use super::git_cmd::{hardened_git, run};
use super::resolve::{canonical_or_normal, expand_tilde, has_glob_chars};

/// One deny-read entry that names a tracked file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedDenied {
    /// The tracked file, relative to the workspace.
    pub file: PathBuf,
    /// Index of the entry in `sandbox.deny_read`, and the entry as written.
    pub index: usize,
    pub entry: String,
    /// A literal path (an error), not a glob (a warning).
    pub explicit: bool,
}

/// The workspace's tracked files (relative), or why they cannot be listed;
/// `Ok(None)` when the workspace is not a git checkout at all.
pub fn tracked_files(workspace: &Path) -> Result<Option<Vec<PathBuf>>, String> {
    if !workspace.join(".git").exists() {
        return Ok(None);
    }
    let mut cmd = hardened_git(OsStr::new("git"), workspace, None);
    cmd.args(["ls-files", "-z", "--cached"]);
    let stdout = run(cmd, None).map_err(|e| format!("git ls-files: {e}"))?;
    use std::os::unix::ffi::OsStrExt;
    Ok(Some(
        stdout
            .split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| PathBuf::from(std::ffi::OsStr::from_bytes(s)))
            .collect(),
    ))
}

/// Which `deny_read` entries name which of `tracked` (relative to
/// `workspace`, canonical). A glob matches a file or one of its parent
/// directories (a denied directory is denied as a whole). One pass over
/// the tracked files with every glob in one set, and only the literal
/// paths inside the workspace: a repository can track 100,000 files.
pub fn tracked_denied(
    workspace: &Path,
    home: Option<&Path>,
    deny_read: &[String],
    tracked: &[PathBuf],
) -> Vec<TrackedDenied> {
    let mut literals: Vec<(usize, PathBuf)> = Vec::new();
    let mut glob_index: Vec<usize> = Vec::new();
    let mut globs = GlobSetBuilder::new();
    for (index, raw) in deny_read.iter().enumerate() {
        let Some(expanded) = expand_tilde(raw, home) else {
            continue;
        };
        let absolute = workspace.join(&expanded);
        if !has_glob_chars(&expanded) {
            let path = canonical_or_normal(&absolute);
            if let Ok(rel) = path.strip_prefix(workspace) {
                literals.push((index, rel.to_path_buf()));
            }
            continue;
        }
        // An invalid glob is refused by the policy already.
        if let Ok(glob) = GlobBuilder::new(&absolute.to_string_lossy())
            .literal_separator(true)
            .build()
        {
            globs.add(glob);
            glob_index.push(index);
        }
    }
    let globs = globs.build().unwrap_or_else(|_| GlobSet::empty());
    let mut found = Vec::new();
    for file in tracked {
        for (index, path) in &literals {
            if file.starts_with(path) {
                found.push((*index, file, true));
            }
        }
        if glob_index.is_empty() {
            continue;
        }
        let mut hits: Vec<usize> = Vec::new();
        for ancestor in file.ancestors().filter(|a| !a.as_os_str().is_empty()) {
            hits.extend(globs.matches(workspace.join(ancestor)));
        }
        hits.sort_unstable();
        hits.dedup();
        for hit in hits {
            found.push((glob_index[hit], file, false));
        }
    }
    found.sort_by_key(|(index, _, _)| *index);
    found
        .into_iter()
        .map(|(index, file, explicit)| TrackedDenied {
            file: file.clone(),
            index,
            entry: deny_read[index].clone(),
            explicit,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_paths_against_tracked_files() {
        let ws = Path::new("/nonexistent-ws");
        let tracked: Vec<PathBuf> = [
            "src/main.rs",
            ".env",
            "app/.env.prod",
            "cfg/.env/key",
            "keys/k",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let deny = vec![
            "~/.ssh".to_string(),
            "**/.env".to_string(),
            "**/.env.*".to_string(),
            "keys".to_string(),
        ];
        let got = tracked_denied(ws, Some(Path::new("/h")), &deny, &tracked);
        let files: Vec<(&str, usize, bool)> = got
            .iter()
            .map(|t| (t.file.to_str().unwrap(), t.index, t.explicit))
            .collect();
        assert_eq!(
            files,
            [
                (".env", 1, false),
                ("cfg/.env/key", 1, false),
                ("app/.env.prod", 2, false),
                ("keys/k", 3, true)
            ]
        );
    }

    #[test]
    fn a_directory_that_is_not_a_checkout_has_nothing_tracked() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(tracked_files(tmp.path()), Ok(None));
    }
}
