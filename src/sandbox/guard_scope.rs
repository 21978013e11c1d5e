//! What [`super::guard`] snapshots under one guarded protected path, and the
//! walk that reads it.
//!
//! A plain protected path (`.warden`, `.github/workflows`) is taken whole. A
//! git directory is taken by what a later, unsandboxed git would execute or
//! trust, in the main gitdir and in every gitdir beneath it:
//!
//! - `config`, `config.worktree` (`core.fsmonitor`, `core.hooksPath`,
//!   `core.sshCommand`, aliases, includes…), `hooks/`, `info/`;
//! - `objects/info/alternates` (and `http-alternates`): objects from elsewhere;
//! - `commondir`, `gitdir`: where a worktree's git finds its repository;
//! - `modules/**/`: submodule gitdirs, nested ones included
//!   (`modules/a/modules/b/`), whose names may hold slashes
//!   (`modules/lib/foo/`): a directory of `modules/` with a `HEAD` is a
//!   gitdir, any other one is walked further;
//! - `worktrees/*/`: each linked worktree's gitdir.
//!
//! The directories on the way (`modules/`, `modules/a/`, `objects/`…) are
//! recorded too, so a directory swapped for a symlink is seen and put back,
//! and a gitdir that appears (a submodule or worktree added by the command)
//! is reported and removed. Objects, refs, logs and the index are git's
//! ordinary business and are not read. The walk never follows a symlink.

use std::collections::BTreeMap;
use std::fs::Metadata;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Refuse to guard more than this (the grant would then be unsafe to give).
pub(super) const MAX_GUARDED_BYTES: u64 = 64 << 20;

/// Entries of a gitdir taken whole (files, or `hooks/` and `info/` trees).
const GITDIR_WHOLE: [&str; 6] = [
    "config",
    "config.worktree",
    "hooks",
    "info",
    "commondir",
    "gitdir",
];

/// Entries of `objects/info/` git follows to other object stores.
const ALTERNATES: [&str; 2] = ["alternates", "http-alternates"];

/// One entry as it was (or is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Node {
    File {
        #[serde(with = "hex_bytes")]
        bytes: Vec<u8>,
        mode: u32,
    },
    Dir {
        mode: u32,
    },
    Symlink(PathBuf),
}

/// File contents in the journal ([`super::journal`]) as hex.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// How a guarded root is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Scope {
    /// Every entry beneath it.
    Whole,
    /// What git executes or trusts (module doc).
    GitDir,
}

/// How one directory met during a [`Scope::GitDir`] walk is walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Walk {
    Whole,
    GitDir,
    /// `modules/` or a directory beneath it that is not a gitdir.
    Modules,
    /// `worktrees/`: every directory in it is a gitdir.
    Worktrees,
    Objects,
    ObjectsInfo,
}

/// The scope for one protected path: a git directory is one named `.git`,
/// or one that looks like a gitdir (a worktree's real gitdir, a bare repo).
pub(super) fn scope_of(p: &Path) -> Scope {
    let is_dir = std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir());
    if is_dir && (p.file_name().is_some_and(|n| n == ".git") || looks_like_gitdir(p)) {
        Scope::GitDir
    } else {
        Scope::Whole
    }
}

fn looks_like_gitdir(p: &Path) -> bool {
    let is_file = |name: &str| std::fs::symlink_metadata(p.join(name)).is_ok_and(|m| m.is_file());
    let is_dir = |name: &str| std::fs::symlink_metadata(p.join(name)).is_ok_and(|m| m.is_dir());
    is_file("HEAD") && (is_dir("objects") || is_file("commondir"))
}

/// Everything `scope` covers under `root`, keyed by the path relative to
/// `root` (`""` is the root). `total` counts file bytes read; the walk
/// stops once it passes [`MAX_GUARDED_BYTES`] (the caller refuses then).
///
/// `repair` (verification, after the command): an entry warden cannot read
/// because of its mode (a command running as an ordinary user can
/// `chmod 000 .git/hooks` to hide what it planted there from a walk by the
/// same user) is given its owner's read (and search) bits and read; the
/// mode recorded is the one found, so the difference is restored.
pub(super) fn collect(
    root: &Path,
    scope: Scope,
    out: &mut BTreeMap<PathBuf, Node>,
    total: &mut u64,
    repair: bool,
) -> Result<(), String> {
    let walk = match scope {
        Scope::Whole => Walk::Whole,
        Scope::GitDir => Walk::GitDir,
    };
    Visit {
        root,
        repair,
        out,
        total,
    }
    .visit(root, walk)
}

/// One walk's state.
struct Visit<'a> {
    root: &'a Path,
    repair: bool,
    out: &'a mut BTreeMap<PathBuf, Node>,
    total: &'a mut u64,
}

impl Visit<'_> {
    fn visit(&mut self, path: &Path, walk: Walk) -> Result<(), String> {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(()); // absent: anything created there later is "added"
        };
        let err = |e: std::io::Error| format!("snapshot `{}`: {e}", path.display());
        let rel = path.strip_prefix(self.root).unwrap_or(path).to_path_buf();
        let node = self.read_node(path, &meta).map_err(err)?;
        let is_dir = matches!(node, Node::Dir { .. });
        self.out.insert(rel, node);
        if !is_dir || *self.total > MAX_GUARDED_BYTES {
            return Ok(());
        }
        if walk == Walk::Objects {
            // Only `objects/info` matters, and a repository's `objects/`
            // holds up to 256 fan-out directories: look it up, not list.
            return self.visit(&path.join("info"), Walk::ObjectsInfo);
        }
        let entries = match std::fs::read_dir(path) {
            Err(e) if self.repair && e.kind() == std::io::ErrorKind::PermissionDenied => {
                let mode = meta.permissions().mode() | 0o700;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(err)?;
                std::fs::read_dir(path)
            }
            other => other,
        };
        for entry in entries.map_err(err)? {
            let entry = entry.map_err(err)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                // Git writes no such names; one in `modules/` is still recorded.
                if matches!(walk, Walk::Whole | Walk::Modules | Walk::Worktrees) {
                    self.visit(&entry.path(), Walk::Whole)?;
                }
                continue;
            };
            let child = entry.path();
            let next = match walk {
                Walk::Whole => Some(Walk::Whole),
                Walk::GitDir => match name {
                    n if GITDIR_WHOLE.contains(&n) => Some(Walk::Whole),
                    "modules" => Some(Walk::Modules),
                    "worktrees" => Some(Walk::Worktrees),
                    "objects" => Some(Walk::Objects),
                    _ => None,
                },
                Walk::Modules if is_real_dir(&child) && has_head(&child) => Some(Walk::GitDir),
                Walk::Modules => Some(Walk::Modules),
                Walk::Worktrees => Some(Walk::GitDir),
                Walk::Objects => None, // not listed (above)
                Walk::ObjectsInfo => ALTERNATES.contains(&name).then_some(Walk::Whole),
            };
            if let Some(next) = next {
                self.visit(&child, next)?;
            }
            if *self.total > MAX_GUARDED_BYTES {
                return Ok(());
            }
        }
        Ok(())
    }

    fn read_node(&mut self, path: &Path, meta: &Metadata) -> std::io::Result<Node> {
        let mode = meta.permissions().mode();
        Ok(if meta.file_type().is_symlink() {
            Node::Symlink(std::fs::read_link(path)?)
        } else if meta.is_dir() {
            Node::Dir { mode }
        } else {
            *self.total += meta.len();
            if *self.total > MAX_GUARDED_BYTES {
                // Not read: the caller refuses the grant (snapshot) or
                // restores what it has (verification).
                return Ok(Node::File {
                    bytes: Vec::new(),
                    mode,
                });
            }
            if let Some(bytes) = super::guard_cache::lookup(path, meta) {
                return Ok(Node::File { bytes, mode });
            }
            let bytes = match std::fs::read(path) {
                Err(e) if self.repair && e.kind() == std::io::ErrorKind::PermissionDenied => {
                    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o600))?;
                    std::fs::read(path)?
                }
                other => other?,
            };
            super::guard_cache::store(path, meta, &bytes);
            Node::File { bytes, mode }
        })
    }
}

fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn has_head(p: &Path) -> bool {
    std::fs::symlink_metadata(p.join("HEAD")).is_ok_and(|m| m.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(root: &Path, scope: Scope) -> Vec<String> {
        let mut out = BTreeMap::new();
        collect(root, scope, &mut out, &mut 0, false).unwrap();
        out.keys().map(|k| k.display().to_string()).collect()
    }

    fn gitdir(p: &Path) {
        for d in ["hooks", "info", "objects/info", "objects/ab", "refs/heads"] {
            std::fs::create_dir_all(p.join(d)).unwrap();
        }
        for f in [
            "HEAD",
            "config",
            "index",
            "objects/ab/cd",
            "refs/heads/main",
        ] {
            std::fs::write(p.join(f), "x").unwrap();
        }
    }

    #[test]
    fn a_gitdir_walk_covers_modules_and_worktrees_but_not_objects_or_refs() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        gitdir(&git);
        std::fs::write(git.join("objects/info/alternates"), "/x\n").unwrap();
        std::fs::write(git.join("objects/info/packs"), "").unwrap();
        gitdir(&git.join("modules/a"));
        gitdir(&git.join("modules/a/modules/b"));
        gitdir(&git.join("modules/lib/foo"));
        std::fs::create_dir_all(git.join("worktrees/w")).unwrap();
        for f in ["HEAD", "commondir", "gitdir", "config.worktree", "index"] {
            std::fs::write(git.join("worktrees/w").join(f), "x").unwrap();
        }
        assert_eq!(scope_of(&git), Scope::GitDir);
        let got = keys(&git, Scope::GitDir);
        for want in [
            "",
            "config",
            "hooks",
            "info",
            "objects",
            "objects/info",
            "objects/info/alternates",
            "modules",
            "modules/a",
            "modules/a/config",
            "modules/a/hooks",
            "modules/a/modules/b/config",
            "modules/a/modules/b/hooks",
            "modules/lib",
            "modules/lib/foo/config",
            "worktrees/w/commondir",
            "worktrees/w/gitdir",
            "worktrees/w/config.worktree",
        ] {
            assert!(got.contains(&want.to_string()), "{want} missing: {got:?}");
        }
        for not in ["HEAD", "index", "refs", "objects/ab", "objects/info/packs"] {
            assert!(!got.iter().any(|k| k == not), "{not} walked: {got:?}");
            assert!(
                !got.iter().any(|k| k.ends_with(&format!("/{not}"))),
                "{got:?}"
            );
        }
    }

    #[test]
    fn the_walk_records_a_symlink_and_does_not_follow_it() {
        let tmp = tempfile::tempdir().unwrap();
        let git = tmp.path().join(".git");
        gitdir(&git);
        let elsewhere = tmp.path().join("elsewhere");
        gitdir(&elsewhere.join("x"));
        std::os::unix::fs::symlink(&elsewhere, git.join("modules")).unwrap();
        let got = keys(&git, Scope::GitDir);
        assert!(got.contains(&"modules".to_string()));
        assert!(!got.iter().any(|k| k.starts_with("modules/")), "{got:?}");
    }

    #[test]
    fn a_plain_directory_is_taken_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let w = tmp.path().join(".warden");
        std::fs::create_dir_all(w.join("objects")).unwrap();
        std::fs::write(w.join("objects/x"), "x").unwrap();
        assert_eq!(scope_of(&w), Scope::Whole);
        assert_eq!(keys(&w, Scope::Whole), ["", "objects", "objects/x"]);
    }
}
