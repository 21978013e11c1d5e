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

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::policy::DenyRead;

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
#[derive(Debug, Clone, Default)]
pub struct PlanInput {
    /// Whole-filesystem read (always, in practice).
    pub read_root: Option<PathBuf>,
    /// Writable hierarchies and the carve-outs each must respect (deny-read
    /// paths always; protected paths unless a grant covers them).
    pub writable: Vec<(PathBuf, Vec<PathBuf>)>,
    /// Device files to make writable when they exist.
    pub devices: Vec<PathBuf>,
    /// Paths nothing may read (expanded).
    pub deny: Vec<PathBuf>,
}

/// Cap on glob expansion so a huge workspace cannot stall every command.
const GLOB_WALK_LIMIT: usize = 500_000;

/// Expand deny-read entries into paths that exist now (literal entries are
/// kept even when missing: they then stop the path from being created).
pub fn expand_deny(entries: &[DenyRead]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for e in entries {
        match e {
            DenyRead::Path(p) => out.push(p.clone()),
            DenyRead::Glob { base, pattern } => {
                let matcher = globset::GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .map_err(|e| format!("deny_read glob `{pattern}`: {e}"))?
                    .compile_matcher();
                walk_matches(base, &matcher, &mut out)?;
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk_matches(
    base: &Path,
    matcher: &globset::GlobMatcher,
    out: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let mut stack = vec![base.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd.flatten() {
            seen += 1;
            if seen > GLOB_WALK_LIMIT {
                return Err(format!(
                    "deny_read glob under `{}` would scan more than {GLOB_WALK_LIMIT} entries; \
                     narrow the pattern",
                    base.display()
                ));
            }
            let path = entry.path();
            if matcher.is_match(&path) {
                out.push(path);
                continue; // a denied directory is denied as a whole
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            }
        }
    }
    Ok(())
}

/// Compute the rules. Reads directories that must be split.
pub fn build(input: &PlanInput) -> Vec<PlanRule> {
    let mut out = Vec::new();
    if let Some(root) = &input.read_root {
        grant(root, Rights::Read, &input.deny, true, &mut out);
    }
    for (root, carve) in &input.writable {
        grant(root, Rights::Write, carve, true, &mut out);
    }
    for dev in &input.devices {
        if dev.exists() {
            grant(dev, Rights::Device, &input.deny, false, &mut out);
        }
    }
    out
}

/// Grant `rights` on `path` minus every carve-out beneath it.
fn grant(path: &Path, rights: Rights, carve: &[PathBuf], required: bool, out: &mut Vec<PlanRule>) {
    if carve.iter().any(|c| path.starts_with(c)) {
        return; // inside (or equal to) a carve-out: nothing
    }
    let inner: Vec<PathBuf> = carve
        .iter()
        .filter(|c| c.starts_with(path))
        .cloned()
        .collect();
    if inner.is_empty() {
        out.push(PlanRule {
            path: path.to_path_buf(),
            rights,
            required,
        });
        return;
    }
    out.push(PlanRule {
        path: path.to_path_buf(),
        rights: Rights::ListDir,
        required,
    });
    let Ok(rd) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_type().is_ok_and(|t| t.is_symlink()) {
            continue;
        }
        grant(&entry.path(), rights, &inner, false, out);
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

    #[test]
    fn glob_expansion_finds_nested_files() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(ws.join("a/b")).unwrap();
        std::fs::write(ws.join(".env"), "x").unwrap();
        std::fs::write(ws.join("a/b/.env"), "x").unwrap();
        std::fs::write(ws.join("a/b/env"), "x").unwrap();
        let got = expand_deny(&[DenyRead::Glob {
            base: ws.clone(),
            pattern: format!("{}/**/.env", ws.display()),
        }])
        .unwrap();
        assert_eq!(got, vec![ws.join(".env"), ws.join("a/b/.env")]);
    }
}
