//! Guarding protected paths that a grant made writable for one command.
//!
//! Landlock cannot carve `.git/hooks` out of a writable `.git`. So when a
//! grant (an allow rule's `write`, or an approved escalation) covers a
//! protected path, warden snapshots the parts that give persistence (for a
//! git directory, what a later git would execute or trust, submodules and
//! worktrees included: [`super::guard_scope`]; for any other protected
//! path, the whole subtree), and after the command verifies them and
//! restores every difference, reporting each one.
//!
//! The guard is a drop guard: [`Guard::finish`] is the normal way out (after
//! the supervisor killed everything the command left behind, so nothing can
//! re-plant), and a guard dropped without it (an error or a panic on the way
//! out of `execute`) restores in `Drop`. A difference warden could not undo
//! is an error ([`SandboxError::Unrestored`], exit 5), never a warning: the
//! checkout can no longer be trusted by later, unsandboxed steps.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::SandboxError;
use super::git_nested::NestedRepos;
use super::guard_scope::{MAX_GUARDED_BYTES, Node, Scope, collect, scope_of};
use super::guard_swap::{Identity, put_back};
use super::prepare::Prepared;

/// A change to a guarded path, found after the command and undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedChange {
    pub path: PathBuf,
    /// `added`, `modified`, `removed`, or `unreadable` (the verification
    /// could not walk it: never restored).
    pub change: String,
    /// Whether warden put the original back.
    pub restored: bool,
}

impl std::fmt::Display for ProtectedChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.restored {
            "restored"
        } else {
            "NOT restored"
        };
        write!(f, "{} ({}, {what})", self.path.display(), self.change)
    }
}

/// One guarded root and what it held before the command.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Tree {
    root: PathBuf,
    scope: Scope,
    before: BTreeMap<PathBuf, Node>,
    /// A git directory's own identity: swapped, it is moved back
    /// ([`super::guard_swap`]).
    identity: Option<Identity>,
    /// A nested repository ([`super::git_nested`]): removed whole by the
    /// command, it stays removed (nothing of it is left to execute).
    #[serde(default)]
    optional: bool,
}

/// A guard's snapshot as data, for the journal ([`super::journal`]).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct GuardSnapshot {
    trees: Vec<Tree>,
    search: Vec<PathBuf>,
    #[serde(default)]
    nested: Option<NestedRepos>,
}

/// Snapshots of every guarded path; restores them when finished or dropped.
#[derive(Debug, Default)]
pub struct Guard {
    trees: Vec<Tree>,
    /// Where a swapped git directory may have been moved: the hierarchies
    /// the command could write.
    search: Vec<PathBuf>,
    /// The workspace's nested repositories before the command: new ones
    /// are neutralised afterwards.
    nested: Option<NestedRepos>,
    finished: bool,
}

impl Guard {
    /// The guard of one prepared command: its guarded paths and, under
    /// `sandbox.git = "commit"`, the workspace's nested repositories.
    pub fn for_command(prepared: &Prepared) -> Result<Self, String> {
        let mut guard = Guard::snapshot(&prepared.guarded, &prepared.writable)?;
        if let Some(nested) = &prepared.nested {
            guard.watch_nested(nested.clone())?;
        }
        Ok(guard)
    }

    /// Guard the nested repositories found before the command (each like
    /// a gitdir of `.git/modules/`, but optional) and neutralise new ones
    /// after it.
    fn watch_nested(&mut self, nested: NestedRepos) -> Result<(), String> {
        let mut total = 0u64;
        for root in nested.guarded_paths() {
            if self.trees.iter().any(|t| root.starts_with(&t.root)) {
                continue; // a submodule checkout's `.git` file, guarded already
            }
            let scope = match std::fs::symlink_metadata(&root) {
                Ok(m) if m.is_dir() => Scope::GitDir,
                _ => Scope::Whole,
            };
            let mut before = BTreeMap::new();
            collect(&root, scope, &mut before, &mut total, false)?;
            if total > MAX_GUARDED_BYTES {
                self.finished = true;
                return Err(format!(
                    "the nested repositories' configuration and hooks hold more than {} MiB;                      refusing to run with them writable",
                    MAX_GUARDED_BYTES >> 20
                ));
            }
            self.trees.push(Tree {
                root,
                scope,
                before,
                identity: None,
                optional: true,
            });
        }
        self.nested = Some(nested);
        Ok(())
    }

    /// Snapshot `protected` paths (each may or may not exist yet) for a
    /// command that can write the hierarchies `writable`.
    pub fn snapshot(protected: &[PathBuf], writable: &[PathBuf]) -> Result<Self, String> {
        let mut guard = Guard {
            trees: Vec::new(),
            search: writable.to_vec(),
            nested: None,
            finished: false,
        };
        let mut total = 0u64;
        for root in protected {
            let scope = scope_of(root);
            let mut before = BTreeMap::new();
            collect(root, scope, &mut before, &mut total, false)?;
            if total > MAX_GUARDED_BYTES {
                guard.finished = true; // nothing ran: nothing to restore
                return Err(format!(
                    "protected path `{}` holds more than {} MiB; refusing to make it writable",
                    root.display(),
                    MAX_GUARDED_BYTES >> 20
                ));
            }
            guard.trees.push(Tree {
                root: root.clone(),
                scope,
                before,
                identity: (scope == Scope::GitDir)
                    .then(|| Identity::of_dir(root))
                    .flatten(),
                optional: false,
            });
        }
        Ok(guard)
    }

    /// The snapshot, to be written to the journal.
    pub(super) fn to_snapshot(&self) -> GuardSnapshot {
        GuardSnapshot {
            trees: self.trees.clone(),
            search: self.search.clone(),
            nested: self.nested.clone(),
        }
    }

    /// A guard over a journal's snapshot (it restores when finished or
    /// dropped, like one taken now).
    pub(super) fn from_snapshot(s: &GuardSnapshot) -> Self {
        Guard {
            trees: s.trees.clone(),
            search: s.search.clone(),
            nested: s.nested.as_ref().map(NestedRepos::uncached),
            finished: false,
        }
    }

    /// Whether anything is guarded at all.
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty() && self.nested.is_none()
    }

    /// What differs from the snapshot, changing nothing (a swapped git
    /// directory is reported as `replaced`, not moved back).
    pub(super) fn differences(&self) -> Vec<ProtectedChange> {
        let mut changes = Vec::new();
        for tree in self.trees.iter().filter(|t| !t.removed_whole()) {
            if let Some(id) = tree.identity
                && Identity::of_dir(&tree.root) != Some(id)
            {
                changes.push(change(tree.root.clone(), "replaced", false));
            }
            let mut now = BTreeMap::new();
            let mut total = 0;
            if collect(&tree.root, tree.scope, &mut now, &mut total, false).is_err() {
                changes.push(change(tree.root.clone(), "unreadable", false));
            }
            let at = |rel: &Path| match rel.as_os_str().is_empty() {
                true => tree.root.clone(),
                false => tree.root.join(rel),
            };
            for rel in now.keys().filter(|k| !tree.before.contains_key(*k)) {
                changes.push(change(at(rel), "added", false));
            }
            for (rel, node) in &tree.before {
                match now.get(rel) {
                    Some(n) if n == node => {}
                    Some(_) => changes.push(change(at(rel), "modified", false)),
                    None => changes.push(change(at(rel), "removed", false)),
                }
            }
        }
        if let Some(nested) = &self.nested {
            changes.extend(nested.new_markers(false));
        }
        changes
    }

    /// Drop without restoring (the user chose to keep the current state).
    pub(super) fn forget(mut self) {
        self.finished = true;
    }

    /// Verify and restore (every process of the command is dead by now):
    /// what differed, or an error naming what could not be put back.
    pub fn finish(mut self) -> Result<Vec<ProtectedChange>, SandboxError> {
        self.finished = true;
        let changes = self.verify_and_restore();
        if changes.iter().any(|c| !c.restored) {
            return Err(SandboxError::Unrestored { changes });
        }
        Ok(changes)
    }

    /// Compare with the snapshot and restore; returns what differed.
    fn verify_and_restore(&self) -> Vec<ProtectedChange> {
        let mut changes = Vec::new();
        if let Some(nested) = &self.nested {
            changes.extend(nested.move_back());
        }
        for tree in self.trees.iter().filter(|t| !t.removed_whole()) {
            let Tree {
                root,
                scope,
                before,
                identity,
                optional: _,
            } = tree;
            if let Some(id) = identity {
                match put_back(root, *id, &self.search) {
                    Ok(false) => {}
                    Ok(true) => changes.push(change(root.clone(), "replaced", true)),
                    Err(why) => {
                        tracing::error!("{why}");
                        changes.push(change(root.clone(), "replaced", false));
                    }
                }
            }
            let mut now = BTreeMap::new();
            let mut total = 0;
            // A walk that stops early would miss what was added after the
            // entry it stopped at: that is a change warden cannot vouch for.
            if let Err(why) = collect(root, *scope, &mut now, &mut total, true) {
                tracing::error!("verifying {}: {why}", root.display());
                changes.push(change(root.clone(), "unreadable", false));
            }
            let at = |rel: &Path| match rel.as_os_str().is_empty() {
                true => root.clone(),
                false => root.join(rel),
            };
            // Remove what was added; an added directory takes its contents
            // with it, so only the topmost added entry is reported.
            let added: Vec<&PathBuf> = now.keys().filter(|k| !before.contains_key(*k)).collect();
            for rel in added.iter().filter(|rel| {
                !added
                    .iter()
                    .any(|other| other != *rel && rel.starts_with(other))
            }) {
                let path = at(rel);
                let restored = remove(&path).is_ok();
                changes.push(change(path, "added", restored));
            }
            // In path order: a directory is put back before what it held.
            for (rel, node) in before {
                let kind = match now.get(rel) {
                    Some(n) if n == node => continue,
                    Some(_) => "modified",
                    None => "removed",
                };
                let path = at(rel);
                let restored = restore(&path, node).is_ok();
                changes.push(change(path, kind, restored));
            }
        }
        // Last: a tree restored above may have been what made a marker.
        if let Some(nested) = &self.nested {
            changes.extend(nested.new_markers(true));
        }
        changes
    }
}

impl Tree {
    /// An optional tree whose root is gone (not even a dangling link).
    fn removed_whole(&self) -> bool {
        self.optional && std::fs::symlink_metadata(&self.root).is_err()
    }
}

impl Drop for Guard {
    /// The way out that skipped [`Guard::finish`] (an error or a panic in
    /// `execute`) still restores; what it cannot undo is logged, and the
    /// caller's result is an error already.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        for c in self.verify_and_restore() {
            if c.restored {
                tracing::warn!("protected path changed by the command and restored: {c}");
            } else {
                tracing::error!("protected path changed by the command: {c}");
                eprintln!("warden: error: protected path changed by the command: {c}");
            }
        }
    }
}

pub(super) fn change(path: PathBuf, kind: &str, restored: bool) -> ProtectedChange {
    ProtectedChange {
        path,
        change: kind.to_string(),
        restored,
    }
}

pub(super) fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        // A directory the command made unreadable or unwritable (the same
        // user as warden unless warden is root) is opened up first.
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).or_else(|_| {
            open_up(path);
            std::fs::remove_dir_all(path)
        }),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Give every directory beneath `dir` its owner's rwx bits (never through
/// a symlink), so that it can be removed.
fn open_up(dir: &Path) {
    let Ok(meta) = std::fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let mode = meta.permissions().mode() | 0o700;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode));
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        open_up(&entry.path());
    }
}

fn restore(path: &Path, node: &Node) -> std::io::Result<()> {
    let current = std::fs::symlink_metadata(path).ok();
    match node {
        Node::Dir { mode } => {
            if current.as_ref().is_some_and(|m| !m.is_dir()) {
                remove(path)?;
            }
            std::fs::create_dir_all(path)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
        }
        Node::File { bytes, mode } => {
            if current.is_some() {
                remove(path)?; // also drops a symlink planted in its place
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, bytes)?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(*mode))
        }
        Node::Symlink(target) => {
            if current.is_some() {
                remove(path)?;
            }
            std::os::unix::fs::symlink(target, path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restores_git_config_and_hooks() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        std::fs::create_dir_all(git.join("hooks")).unwrap();
        std::fs::create_dir_all(git.join("objects")).unwrap();
        std::fs::write(git.join("config"), "[core]\n").unwrap();
        std::fs::write(git.join("hooks/pre-commit.sample"), "#!/bin/sh\n").unwrap();
        let guard = Guard::snapshot(std::slice::from_ref(&git), &[]).unwrap();

        std::fs::write(git.join("config"), "[core]\nhooksPath = /tmp/evil\n").unwrap();
        std::fs::write(git.join("hooks/pre-commit"), "#!/bin/sh\ncurl x\n").unwrap();
        std::fs::remove_file(git.join("hooks/pre-commit.sample")).unwrap();
        std::fs::write(git.join("objects/ab"), "not guarded").unwrap();

        let mut changes = guard.verify_and_restore();
        changes.sort_by(|a, b| a.path.cmp(&b.path));
        let summary: Vec<(String, &str, bool)> = changes
            .iter()
            .map(|c| {
                let rel = c.path.strip_prefix(&git).unwrap().display().to_string();
                (rel, c.change.as_str(), c.restored)
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("config".to_string(), "modified", true),
                ("hooks/pre-commit".to_string(), "added", true),
                ("hooks/pre-commit.sample".to_string(), "removed", true),
            ]
        );
        assert_eq!(
            std::fs::read_to_string(git.join("config")).unwrap(),
            "[core]\n"
        );
        assert!(!git.join("hooks/pre-commit").exists());
        assert!(git.join("hooks/pre-commit.sample").exists());
        assert!(git.join("objects/ab").exists(), "objects are not guarded");
        assert!(guard.finish().unwrap().is_empty());
    }

    #[test]
    fn a_missing_protected_dir_that_appears_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let warden = tmp.path().join(".warden");
        let guard = Guard::snapshot(std::slice::from_ref(&warden), &[]).unwrap();
        std::fs::create_dir_all(&warden).unwrap();
        std::fs::write(
            warden.join("config.toml"),
            "sandbox_mode = \"danger-full-access\"",
        )
        .unwrap();
        let changes = guard.finish().unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].change, "added");
        assert!(!warden.exists());
    }

    fn gitdir(p: &Path) {
        std::fs::create_dir_all(p.join("hooks")).unwrap();
        std::fs::create_dir_all(p.join("objects/info")).unwrap();
        std::fs::write(p.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(p.join("config"), "[core]\n").unwrap();
    }

    #[test]
    fn submodule_and_worktree_gitdirs_are_restored() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        gitdir(&git);
        gitdir(&git.join("modules/sub"));
        gitdir(&git.join("modules/sub/modules/nested"));
        let wt = git.join("worktrees/w");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join("HEAD"), "x").unwrap();
        std::fs::write(wt.join("commondir"), "../..\n").unwrap();
        let guard = Guard::snapshot(std::slice::from_ref(&git), &[]).unwrap();

        let planted = [
            "modules/sub/hooks/post-checkout",
            "modules/sub/modules/nested/hooks/pre-commit",
            "worktrees/w/config.worktree",
            "objects/info/alternates",
            "modules/sub/objects/info/alternates",
        ];
        for rel in planted {
            std::fs::write(git.join(rel), "planted").unwrap();
        }
        std::fs::write(git.join("modules/sub/config"), "[core]\nfsmonitor = x\n").unwrap();
        std::fs::write(wt.join("commondir"), "/elsewhere\n").unwrap();
        gitdir(&git.join("modules/new")); // a submodule gitdir that appears

        let changes = guard.finish().unwrap();
        let mut got: Vec<(String, &str)> = changes
            .iter()
            .inspect(|c| assert!(c.restored, "{c}"))
            .map(|c| {
                (
                    c.path.strip_prefix(&git).unwrap().display().to_string(),
                    c.change.as_str(),
                )
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, &str)> =
            planted.iter().map(|p| (p.to_string(), "added")).collect();
        want.extend([
            ("modules/new".to_string(), "added"),
            ("modules/sub/config".to_string(), "modified"),
            ("worktrees/w/commondir".to_string(), "modified"),
        ]);
        want.sort();
        assert_eq!(got, want);
        assert_eq!(
            std::fs::read_to_string(git.join("modules/sub/config")).unwrap(),
            "[core]\n"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join("commondir")).unwrap(),
            "../..\n"
        );
        assert!(!git.join("modules/new").exists());
    }

    #[test]
    fn a_directory_swapped_for_a_symlink_is_put_back() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        gitdir(&git);
        gitdir(&git.join("modules/sub"));
        let guard = Guard::snapshot(std::slice::from_ref(&git), &[]).unwrap();
        let evil = tmp.path().join("evil");
        gitdir(&evil.join("sub"));
        std::fs::write(evil.join("sub/config"), "[core]\nfsmonitor = x\n").unwrap();
        std::fs::rename(git.join("modules"), tmp.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&evil, git.join("modules")).unwrap();

        let changes = guard.finish().unwrap();
        assert!(
            changes
                .iter()
                .any(|c| c.path == git.join("modules") && c.change == "modified")
        );
        assert!(!git.join("modules").is_symlink());
        assert_eq!(
            std::fs::read_to_string(git.join("modules/sub/config")).unwrap(),
            "[core]\n"
        );
        assert!(
            evil.join("sub/config").exists(),
            "nothing is written through the link"
        );
        assert_eq!(
            std::fs::read_to_string(evil.join("sub/config")).unwrap(),
            "[core]\nfsmonitor = x\n"
        );
    }

    /// An early return (`?`) between the snapshot and `finish` still restores.
    #[test]
    fn a_guard_dropped_on_an_error_path_restores() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        gitdir(&git);
        fn run_then_fail(git: &Path) -> Result<Vec<ProtectedChange>, String> {
            let guard = Guard::snapshot(&[git.to_path_buf()], &[])?;
            std::fs::write(git.join("hooks/post-checkout"), "#!/bin/sh\n").unwrap();
            std::fs::write(git.join("config"), "[core]\nfsmonitor = x\n").unwrap();
            Err::<(), _>("the supervisor went away".to_string())?;
            guard.finish().map_err(|e| e.to_string())
        }
        assert!(run_then_fail(&git).is_err());
        assert!(!git.join("hooks/post-checkout").exists());
        assert_eq!(
            std::fs::read_to_string(git.join("config")).unwrap(),
            "[core]\n"
        );
    }

    /// What cannot be put back makes the command's result an error that
    /// names it (even as root: the parent is no longer a directory).
    #[test]
    fn a_change_that_cannot_be_restored_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let parent = tmp.path().join("repo");
        std::fs::create_dir_all(parent.join(".warden")).unwrap();
        std::fs::write(parent.join(".warden/config.toml"), "# ok\n").unwrap();
        let guard = Guard::snapshot(&[parent.join(".warden")], &[]).unwrap();
        std::fs::remove_dir_all(&parent).unwrap();
        std::fs::write(&parent, "a file where the directory was").unwrap();

        let Err(SandboxError::Unrestored { changes }) = guard.finish() else {
            panic!("an unrestorable change must be an error");
        };
        assert!(
            changes
                .iter()
                .any(|c| !c.restored && c.path == parent.join(".warden")),
            "{changes:?}"
        );
        let message = SandboxError::Unrestored { changes }.to_string();
        assert!(message.contains(".warden"), "{message}");
    }
}
