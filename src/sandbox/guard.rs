//! Guarding protected paths that a grant made writable for one command.
//!
//! Landlock cannot carve `.git/hooks` out of a writable `.git`. So when a
//! grant (an allow rule's `write`, or an approved escalation) covers a
//! protected path, warden snapshots the parts that give persistence —
//! for a git directory `config`, `config.worktree`, `hooks/` and `info/`
//! (objects, refs and the index are git's ordinary business); for any other
//! protected path, the whole subtree — and after the command verifies them
//! and restores every difference, reporting each one. Together with the
//! helper killing everything the command left behind, a change cannot
//! survive the command.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Refuse to guard more than this (the grant would then be unsafe to give).
const MAX_GUARDED_BYTES: u64 = 64 << 20;

/// Persistence-relevant entries of a git directory.
const GIT_GUARDED: [&str; 4] = ["config", "config.worktree", "hooks", "info"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    File { bytes: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Symlink(PathBuf),
}

/// A change to a guarded path, found after the command and undone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtectedChange {
    pub path: PathBuf,
    /// `added`, `modified` or `removed`.
    pub change: String,
    /// Whether warden put the original back.
    pub restored: bool,
}

/// Snapshots of every guarded path.
#[derive(Debug, Default)]
pub struct Guard {
    trees: Vec<(PathBuf, BTreeMap<PathBuf, Node>)>,
}

impl Guard {
    /// Snapshot `protected` paths (each may or may not exist yet).
    pub fn snapshot(protected: &[PathBuf]) -> Result<Self, String> {
        let mut guard = Guard::default();
        let mut total = 0u64;
        for p in protected {
            for root in guarded_roots(p) {
                let mut tree = BTreeMap::new();
                collect(&root, &root, &mut tree, &mut total)?;
                if total > MAX_GUARDED_BYTES {
                    return Err(format!(
                        "protected path `{}` holds more than {} MiB; refusing to make it writable",
                        p.display(),
                        MAX_GUARDED_BYTES >> 20
                    ));
                }
                guard.trees.push((root, tree));
            }
        }
        Ok(guard)
    }

    /// Compare with the snapshot and restore; returns what differed.
    pub fn verify_and_restore(&self) -> Vec<ProtectedChange> {
        let mut changes = Vec::new();
        for (root, before) in &self.trees {
            let mut now = BTreeMap::new();
            let mut total = 0;
            let _ = collect(root, root, &mut now, &mut total);
            // Remove what was added; an added directory takes its contents
            // with it, so only the topmost added entry is reported.
            let added: Vec<&PathBuf> = now.keys().filter(|k| !before.contains_key(*k)).collect();
            for rel in added.iter().filter(|rel| {
                !added
                    .iter()
                    .any(|other| other != *rel && rel.starts_with(other))
            }) {
                let path = if rel.as_os_str().is_empty() {
                    root.clone()
                } else {
                    root.join(rel)
                };
                let restored = remove(&path).is_ok();
                changes.push(change(path, "added", restored));
            }
            for (rel, node) in before {
                let path = if rel.as_os_str().is_empty() {
                    root.clone()
                } else {
                    root.join(rel)
                };
                let kind = match now.get(rel) {
                    Some(n) if n == node => continue,
                    Some(_) => "modified",
                    None => "removed",
                };
                let restored = restore(&path, node).is_ok();
                changes.push(change(path, kind, restored));
            }
        }
        changes
    }
}

fn change(path: PathBuf, kind: &str, restored: bool) -> ProtectedChange {
    ProtectedChange {
        path,
        change: kind.to_string(),
        restored,
    }
}

/// What to snapshot for one protected path.
fn guarded_roots(p: &Path) -> Vec<PathBuf> {
    let is_gitdir = p.file_name().is_some_and(|n| n == ".git")
        || (p.join("HEAD").is_file() && p.join("objects").is_dir());
    if is_gitdir && p.is_dir() {
        GIT_GUARDED.iter().map(|e| p.join(e)).collect()
    } else {
        vec![p.to_path_buf()]
    }
}

fn collect(
    root: &Path,
    path: &Path,
    out: &mut BTreeMap<PathBuf, Node>,
    total: &mut u64,
) -> Result<(), String> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(()); // absent: an empty snapshot, so anything created is "added"
    };
    let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let err = |e: std::io::Error| format!("snapshot `{}`: {e}", path.display());
    let mode = meta.permissions().mode();
    if meta.file_type().is_symlink() {
        out.insert(rel, Node::Symlink(std::fs::read_link(path).map_err(err)?));
    } else if meta.is_dir() {
        out.insert(rel, Node::Dir { mode });
        for entry in std::fs::read_dir(path).map_err(err)? {
            collect(root, &entry.map_err(err)?.path(), out, total)?;
            if *total > MAX_GUARDED_BYTES {
                return Ok(());
            }
        }
    } else {
        *total += meta.len();
        if *total > MAX_GUARDED_BYTES {
            return Ok(());
        }
        let bytes = std::fs::read(path).map_err(err)?;
        out.insert(rel, Node::File { bytes, mode });
    }
    Ok(())
}

fn remove(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
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
        let guard = Guard::snapshot(std::slice::from_ref(&git)).unwrap();

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
        assert!(guard.verify_and_restore().is_empty());
    }

    #[test]
    fn a_missing_protected_dir_that_appears_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let warden = tmp.path().join(".warden");
        let guard = Guard::snapshot(std::slice::from_ref(&warden)).unwrap();
        std::fs::create_dir_all(&warden).unwrap();
        std::fs::write(
            warden.join("config.toml"),
            "sandbox_mode = \"danger-full-access\"",
        )
        .unwrap();
        let changes = guard.verify_and_restore();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(changes[0].change, "added");
        assert!(!warden.exists());
    }
}
