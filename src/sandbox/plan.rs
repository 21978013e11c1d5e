//! The filesystem access plan: which paths get which Landlock rights.
//!
//! Landlock only *adds* rights, and a rule on a directory covers everything
//! beneath it. So "read everything except `~/.ssh`" or "write the workspace
//! except `.git`" is built by **splitting**: a hierarchy that contains a
//! carve-out is not granted as a whole; instead its directory gets only
//! `ReadDir` (so it can still be listed) and each of its entries is granted
//! recursively, skipping the carve-out. Consequences, all deliberate:
//! - symlinks met while splitting are never granted (access through them is
//!   checked against their target's own rules);
//! - a split directory of a writable root keeps its existing entries
//!   writable but allows no new entries, deletions or renames directly in
//!   it: Landlock cannot give a directory rights that its protected
//!   children would not inherit (see docs/threat-model.md, "Top-level
//!   entries");
//! - a carve-out that does not exist yet is protected by splitting its
//!   nearest existing ancestor, so it cannot be created either;
//! - names inside a deny-read directory can be listed (the split parent has
//!   `ReadDir`, which Landlock applies beneath it); contents cannot be read.
//!
//! The plan is computed from the live filesystem when the sandbox starts and
//! is pure data, so it is unit-tested without applying anything.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Rights of one rule, independent of the Landlock ABI (mapped in
/// [`super::landlock_apply`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Rights {
    /// Execute, read files, list directories.
    Read,
    /// List this directory (and, as Landlock goes, everything beneath).
    ListDir,
    /// Read plus every write right, including `REFER` (renames and links
    /// inside writable roots; never granted elsewhere).
    Write,
    /// A device file: read, write, truncate, ioctl.
    Device,
}

/// One Landlock rule to add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRule {
    pub path: PathBuf,
    pub rights: Rights,
    /// The rule's path must exist (a root the policy names); a split entry
    /// that vanished meanwhile is simply not granted.
    pub required: bool,
}

/// What to grant, before splitting.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanInput {
    /// Whole-filesystem read (always, in practice).
    pub read_root: Option<PathBuf>,
    /// Writable hierarchies and the carve-outs each must respect (deny-read
    /// paths always; protected paths unless a grant covers them).
    pub writable: Vec<(PathBuf, Vec<PathBuf>)>,
    /// Directories the read root leaves out, except for listing them:
    /// nothing beneath is readable unless a rule grants it (`/dev`, whose
    /// devices are granted one by one, see [`super::devices`]).
    pub listed_only: Vec<PathBuf>,
    /// Device files to make writable when they exist.
    pub devices: Vec<PathBuf>,
    /// Paths nothing may read (expanded, see [`super::deny`]).
    pub deny: Vec<PathBuf>,
}

/// Compute the rules. Reads directories that must be split.
pub fn build(input: &PlanInput) -> Vec<PlanRule> {
    build_watched(input, &mut |_| {})
}

/// [`build`], calling `before_read` with each directory it splits just
/// before reading it ([`super::plan_cache`] watches them).
pub fn build_watched(input: &PlanInput, before_read: &mut dyn FnMut(&Path)) -> Vec<PlanRule> {
    let mut out = Vec::new();
    let deny = refs(&input.deny);
    let mut split = Split {
        out: &mut out,
        before_read,
    };
    if let Some(root) = &input.read_root {
        let mut carve = deny.clone();
        carve.extend(refs(&input.listed_only));
        split.grant(root.clone(), Rights::Read, &carve, true);
        for dir in &input.listed_only {
            if is_within(dir, root) && !deny.iter().any(|d| is_within(dir, d)) {
                split.out.push(PlanRule {
                    path: dir.clone(),
                    rights: Rights::ListDir,
                    required: false,
                });
            }
        }
    }
    for (root, carve) in &input.writable {
        split.grant(root.clone(), Rights::Write, &refs(carve), true);
    }
    for dev in &input.devices {
        if dev.exists() {
            split.grant(dev.clone(), Rights::Device, &deny, false);
        }
    }
    out
}

fn refs(paths: &[PathBuf]) -> Vec<&Path> {
    paths.iter().map(PathBuf::as_path).collect()
}

/// `path` is `base` or beneath it. Both are absolute and normalised (no
/// `.`, `..`, doubled or trailing `/`), so comparing bytes is comparing
/// components — several times faster, and this runs for every entry of
/// every split directory before each command.
fn is_within(path: &Path, base: &Path) -> bool {
    let (p, b) = (path.as_os_str().as_bytes(), base.as_os_str().as_bytes());
    p.starts_with(b) && (p.len() == b.len() || b.ends_with(b"/") || p[b.len()] == b'/')
}

struct Split<'a> {
    out: &'a mut Vec<PlanRule>,
    before_read: &'a mut dyn FnMut(&Path),
}

impl Split<'_> {
    /// Grant `rights` on `path` minus every carve-out beneath it.
    fn grant(&mut self, path: PathBuf, rights: Rights, carve: &[&Path], required: bool) {
        if carve.iter().any(|c| is_within(&path, c)) {
            return; // inside (or equal to) a carve-out: nothing
        }
        let inner: Vec<&Path> = carve
            .iter()
            .copied()
            .filter(|c| is_within(c, &path))
            .collect();
        if inner.is_empty() {
            self.out.push(PlanRule {
                path,
                rights,
                required,
            });
            return;
        }
        (self.before_read)(&path);
        let listing = std::fs::read_dir(&path);
        self.out.push(PlanRule {
            path,
            rights: Rights::ListDir,
            required,
        });
        let Ok(rd) = listing else {
            return;
        };
        // Sorted for a stable plan. The name is taken once per entry (a
        // plain `sort_by_key(file_name)` allocates two per comparison, which
        // showed at thousands of entries), symlinks dropped before sorting.
        let mut entries: Vec<(std::ffi::OsString, PathBuf)> = rd
            .flatten()
            .filter(|e| !e.file_type().is_ok_and(|t| t.is_symlink()))
            .map(|e| (e.file_name(), e.path()))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for (_, entry) in entries {
            self.grant(entry, rights, &inner, false);
        }
    }
}

/// Whether `path` may be written under the plan (used to classify
/// refusals): true when a `Write`/`Device` rule covers it.
pub fn allows_write(rules: &[PlanRule], path: &Path) -> bool {
    rules
        .iter()
        .any(|r| matches!(r.rights, Rights::Write | Rights::Device) && path.starts_with(&r.path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rules: &[PlanRule], p: &Path) -> Option<Rights> {
        rules.iter().find(|r| r.path == p).map(|r| r.rights)
    }

    #[test]
    fn is_within_compares_whole_components() {
        let w = |p: &str, b: &str| is_within(Path::new(p), Path::new(b));
        assert!(w("/a/b", "/a/b") && w("/a/b/c", "/a/b") && w("/a", "/"));
        assert!(!w("/a/bc", "/a/b") && !w("/a", "/a/b") && !w("/ab", "/a"));
        for (p, b) in [
            ("/x/y/z", "/x/y"),
            ("/x/yz", "/x/y"),
            ("/", "/"),
            ("/q", "/x"),
        ] {
            assert_eq!(w(p, b), Path::new(p).starts_with(b), "{p} in {b}");
        }
    }

    #[test]
    fn splits_around_deny_and_protected() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        let ws = root.join("ws");
        for d in [
            home.join(".ssh"),
            home.join("docs"),
            ws.join(".git/hooks"),
            ws.join("src"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ws.join("README"), "x").unwrap();
        std::os::unix::fs::symlink(home.join(".ssh"), ws.join("link")).unwrap();
        let deny = vec![home.join(".ssh")];
        let input = PlanInput {
            read_root: Some(root.clone()),
            writable: vec![(
                ws.clone(),
                vec![home.join(".ssh"), ws.join(".git"), ws.join(".warden")],
            )],
            listed_only: vec![],
            devices: vec![],
            deny,
        };
        let rules = build(&input);
        assert_eq!(rule(&rules, &root), Some(Rights::ListDir));
        assert_eq!(rule(&rules, &home), Some(Rights::ListDir));
        assert_eq!(rule(&rules, &home.join("docs")), Some(Rights::Read));
        assert_eq!(rule(&rules, &home.join(".ssh")), None);
        // Write side: ws is split (protected .git inside), .git not granted.
        let ws_rules: Vec<_> = rules
            .iter()
            .filter(|r| r.path == ws)
            .map(|r| r.rights)
            .collect();
        assert_eq!(ws_rules, [Rights::Read, Rights::ListDir]);
        assert_eq!(rule(&rules, &ws.join("src")), Some(Rights::Write));
        assert!(
            rules
                .iter()
                .any(|r| r.path == ws.join("README") && r.rights == Rights::Write)
        );
        assert!(
            !rules
                .iter()
                .any(|r| r.path.starts_with(ws.join(".git")) && r.rights == Rights::Write)
        );
        assert!(
            !rules.iter().any(|r| r.path == ws.join("link")),
            "symlinks never granted"
        );
        assert!(allows_write(&rules, &ws.join("src/main.rs")));
        assert!(!allows_write(&rules, &ws.join(".git/config")));
        assert!(!allows_write(&rules, &ws.join("new-top-level")));
    }
}
