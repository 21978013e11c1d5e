//! Nested repositories in the workspace: a `.git` directory, a `.git`
//! file (`gitdir: …`) or a bare-looking gitdir (`HEAD`, `objects/`,
//! `refs/`) anywhere below the workspace root but in its own `.git`.
//!
//! Each one holds configuration a later git executes: a nested repo's
//! `config` (`core.fsmonitor`, `core.hooksPath`, aliases, `core.pager`)
//! and `hooks/` run when git works in it, and git works in it when a later
//! step runs git anywhere below it (discovery stops at the nearest `.git`,
//! or at a directory that looks like a gitdir), or when the superproject
//! recurses into it (a gitlink in the index: `git status`, `git commit`,
//! `git submodule`). So, around every command that can write the
//! workspace under `sandbox.git = "commit"`:
//!
//! - before: the markers are listed ([`super::deny::git_markers`]: in
//!   `warden run` kept exact with inotify, for the cost of draining its
//!   queue; one-shot, from the deny-read walk already made), and each one
//!   found is guarded like `.git/modules/*` ([`super::guard`]: its config,
//!   hooks, info, …; a `.git` file whole, and the gitdir it names when that
//!   is in the workspace). A nested repository removed whole by the
//!   command stays removed (nothing of it executes); one moved elsewhere
//!   in the workspace is moved back;
//! - after (every process of the command dead): a marker that was not
//!   there before is **neutralised**: a `.git` the command created
//!   (directory, file or symlink) is removed, and a bare-looking directory
//!   it made loses its `HEAD` (git no longer takes it for a repository).
//!
//! New gitlinks in the index and in commits are put back by
//! [`super::git_commits`].

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::deny::{MarkerRead, git_markers};
use super::guard::{ProtectedChange, change, remove};
use super::guard_swap::Identity;

/// What a marker is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) enum Kind {
    /// An entry named `.git` (directory, `gitdir:` file or symlink).
    DotGit,
    /// A directory git would take for a bare repository.
    Bare,
}

/// One nested repository, by its path relative to the workspace (the
/// `.git` entry, or the bare gitdir).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(super) struct Marker {
    pub rel: PathBuf,
    pub kind: Kind,
}

/// The nested repositories of a workspace before a command, and how to
/// find them again after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NestedRepos {
    workspace: PathBuf,
    before: BTreeSet<Marker>,
    /// The directory identity of each marker that was a directory, to
    /// find one the command moved.
    identities: Vec<(Marker, Identity)>,
    /// `true` in `warden run` (the inotify-kept tree), `false` one-shot.
    cached: bool,
}

impl NestedRepos {
    /// The markers under `workspace` now. `cached`: `warden run`'s
    /// per-process tree; otherwise what the one-shot deny walk just saw.
    pub fn scan(workspace: &Path, cached: bool) -> Result<Self, String> {
        let read = match cached {
            true => MarkerRead::Cached,
            false => MarkerRead::Walked,
        };
        let before = classify(workspace, &git_markers(workspace, read)?);
        let identities = before
            .iter()
            .filter_map(|m| Some((m.clone(), Identity::of_dir(&workspace.join(&m.rel))?)))
            .collect();
        Ok(NestedRepos {
            workspace: workspace.to_path_buf(),
            before,
            identities,
            cached,
        })
    }

    /// The paths to guard: each marker, and the gitdir a `.git` file in
    /// the workspace names (outside the workspace's own `.git`, which is
    /// guarded already).
    pub(super) fn guarded_paths(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for m in &self.before {
            let path = self.workspace.join(&m.rel);
            if let Some(target) = gitfile_target(&path)
                && target.starts_with(&self.workspace)
                && !target.starts_with(self.workspace.join(".git"))
            {
                out.push(target);
            }
            out.push(path);
        }
        out.sort();
        out.dedup();
        out
    }

    /// Before the guarded trees are compared: a nested gitdir the command
    /// moved (found by its identity among the new markers) is moved back.
    pub(super) fn move_back(&self) -> Vec<ProtectedChange> {
        let Ok(now) = self.markers_now() else {
            return Vec::new(); // the neutralising pass reports it
        };
        let mut changes = Vec::new();
        for (marker, id) in &self.identities {
            let home = self.workspace.join(&marker.rel);
            if Identity::of_dir(&home) == Some(*id) {
                continue;
            }
            let moved = now
                .iter()
                .filter(|m| !self.before.contains(m))
                .map(|m| self.workspace.join(&m.rel))
                .find(|p| Identity::of_dir(p) == Some(*id));
            let Some(moved) = moved else { continue };
            let restored = remove(&home).is_ok()
                && home
                    .parent()
                    .is_some_and(|p| std::fs::create_dir_all(p).is_ok())
                && std::fs::rename(&moved, &home).is_ok();
            changes.push(change(home, "moved", restored));
        }
        changes
    }

    /// After the guarded trees are restored: every marker the command
    /// created is neutralised (`restore`) or only reported.
    pub(super) fn new_markers(&self, restore: bool) -> Vec<ProtectedChange> {
        let now = match self.markers_now() {
            Ok(now) => now,
            Err(why) => {
                tracing::error!("looking for nested repositories: {why}");
                return vec![change(self.workspace.clone(), "unreadable", false)];
            }
        };
        let mut changes = Vec::new();
        for m in now.difference(&self.before) {
            let path = self.workspace.join(&m.rel);
            let (target, what) = match m.kind {
                Kind::DotGit => (path.clone(), "nested repository added"),
                Kind::Bare => (path.join("HEAD"), "bare repository added"),
            };
            let restored = restore && remove(&target).is_ok();
            changes.push(change(path, what, restored));
        }
        changes
    }

    fn markers_now(&self) -> Result<BTreeSet<Marker>, String> {
        let read = match self.cached {
            true => MarkerRead::Cached,
            false => MarkerRead::Fresh,
        };
        Ok(classify(
            &self.workspace,
            &git_markers(&self.workspace, read)?,
        ))
    }

    /// A copy that reads the disk afresh (a journal's, in another process).
    pub(super) fn uncached(&self) -> Self {
        NestedRepos {
            cached: false,
            ..self.clone()
        }
    }
}

/// Markers from the raw `.git`/`HEAD` entries (relative): the workspace's
/// own `.git` and anything inside a `.git` are not nested repositories of
/// the workspace (the first is guarded whole, the rest is guarded with
/// the gitdir it is in).
fn classify(workspace: &Path, raw: &BTreeSet<PathBuf>) -> BTreeSet<Marker> {
    let mut out = BTreeSet::new();
    for rel in raw {
        let Some(parent) = rel.parent() else { continue };
        if parent.components().any(|c| c.as_os_str() == ".git") || rel == Path::new(".git") {
            continue;
        }
        if rel.file_name().is_some_and(|n| n == ".git") {
            out.insert(Marker {
                rel: rel.clone(),
                kind: Kind::DotGit,
            });
        } else if !parent.as_os_str().is_empty() && looks_bare(&workspace.join(parent)) {
            out.insert(Marker {
                rel: parent.to_path_buf(),
                kind: Kind::Bare,
            });
        }
    }
    out
}

/// What git's `is_git_directory` asks of a directory (`HEAD` present,
/// `objects/` and `refs/` directories; followed as git follows them).
fn looks_bare(dir: &Path) -> bool {
    let is_dir = |n: &str| std::fs::metadata(dir.join(n)).is_ok_and(|m| m.is_dir());
    is_dir("objects") && is_dir("refs")
}

/// The gitdir a `gitdir: …` file names, resolved against its directory
/// (lexically: never followed through a symlink by warden).
fn gitfile_target(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > 4096 {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let target = text.strip_prefix("gitdir:")?.trim();
    if target.is_empty() {
        return None;
    }
    Some(super::resolve::canonical_or_normal(
        &path.parent()?.join(target),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(ws: &Path) -> Vec<(String, Kind)> {
        let raw = git_markers(ws, MarkerRead::Fresh).unwrap();
        classify(ws, &raw)
            .into_iter()
            .map(|m| (m.rel.display().to_string(), m.kind))
            .collect()
    }

    fn bare(d: &Path) {
        for sub in ["objects", "refs"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        std::fs::write(d.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    }

    #[test]
    fn nested_dot_git_entries_and_bare_gitdirs_are_found_but_not_the_workspace_s_own() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        bare(&ws.join(".git"));
        bare(&ws.join(".git/modules/m"));
        std::fs::create_dir_all(ws.join("a/b")).unwrap();
        bare(&ws.join("a/b/.git"));
        bare(&ws.join("a/b/.git/worktrees/w"));
        std::fs::create_dir_all(ws.join("c")).unwrap();
        std::fs::write(ws.join("c/.git"), "gitdir: ../evil\n").unwrap();
        bare(&ws.join("evil"));
        std::fs::create_dir_all(ws.join("d")).unwrap();
        std::fs::write(
            ws.join("d/HEAD"),
            "not a repository: no objects/ or refs/\n",
        )
        .unwrap();
        assert_eq!(
            markers(&ws),
            [
                ("a/b/.git".to_string(), Kind::DotGit),
                ("c/.git".to_string(), Kind::DotGit),
                ("evil".to_string(), Kind::Bare),
            ]
        );
        let nested = NestedRepos {
            workspace: ws.clone(),
            before: classify(&ws, &git_markers(&ws, MarkerRead::Fresh).unwrap()),
            identities: Vec::new(),
            cached: false,
        };
        assert_eq!(
            nested.guarded_paths(),
            [ws.join("a/b/.git"), ws.join("c/.git"), ws.join("evil")]
        );
    }

    #[test]
    fn markers_a_command_adds_are_neutralised_and_earlier_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        bare(&ws.join("old/.git"));
        let nested = NestedRepos::scan(&ws, false).unwrap();
        bare(&ws.join("new/.git"));
        std::fs::create_dir_all(ws.join("link")).unwrap();
        std::fs::write(ws.join("link/.git"), "gitdir: ../src\n").unwrap();
        bare(&ws.join("src"));
        let mut got: Vec<(String, String, bool)> = nested
            .new_markers(true)
            .into_iter()
            .map(|c| {
                let rel = c.path.strip_prefix(&ws).unwrap().display().to_string();
                (rel, c.change, c.restored)
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                ("link/.git".into(), "nested repository added".into(), true),
                ("new/.git".into(), "nested repository added".into(), true),
                ("src".into(), "bare repository added".into(), true),
            ]
        );
        assert!(!ws.join("new/.git").exists() && !ws.join("link/.git").exists());
        assert!(!ws.join("src/HEAD").exists() && ws.join("src/objects").is_dir());
        assert!(ws.join("old/.git/HEAD").is_file(), "the earlier one stays");
        assert!(nested.new_markers(true).is_empty(), "nothing left");
    }

    #[test]
    fn a_moved_nested_gitdir_is_moved_back() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        bare(&ws.join("vendor/x/.git"));
        std::fs::write(ws.join("vendor/x/.git/objects/keep"), "history").unwrap();
        let nested = NestedRepos::scan(&ws, false).unwrap();
        std::fs::rename(ws.join("vendor/x"), ws.join("moved")).unwrap();
        let changes = nested.move_back();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert!(changes[0].restored, "{changes:?}");
        assert!(ws.join("vendor/x/.git/objects/keep").is_file());
        assert!(nested.new_markers(true).is_empty());
    }
}
