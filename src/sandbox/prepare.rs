//! Turning a policy plus one request into what the helper applies: the
//! effective writable set (mode, writable roots, grants, private temp
//! dir), the expanded deny list, the Landlock plan and the guarded
//! protected paths. Runs in warden, "when the sandbox starts".

use std::path::{Path, PathBuf};

use super::ExecRequest;
use super::SandboxError;
use super::deny;
use super::landlock_apply::{self, BuiltRuleset};
use super::plan::{self, PlanInput, PlanRule};
use super::policy::{SandboxPolicy, canonical_or_normal};
use super::spec::writable_devices;
use crate::config::SandboxMode;

/// The per-command sandbox, resolved.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub sandboxed: bool,
    pub network: bool,
    pub mode_label: String,
    pub rules: Vec<PlanRule>,
    /// Writable hierarchies granted (for the record).
    pub writable: Vec<PathBuf>,
    /// Protected paths a grant overlaps: snapshotted and verified.
    pub guarded: Vec<PathBuf>,
    pub deny: Vec<PathBuf>,
    pub notes: Vec<String>,
}

impl Prepared {
    /// The Landlock ruleset of this plan, built (`None` when unsandboxed).
    pub fn build_ruleset(&self) -> Result<Option<BuiltRuleset>, SandboxError> {
        if !self.sandboxed {
            return Ok(None);
        }
        landlock_apply::build(&self.rules, !self.network)
            .map(Some)
            .map_err(SandboxError::Helper)
    }
}

/// How deny-read globs are expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expansion {
    /// Through the per-process inotify cache ([`super::deny`]): many
    /// commands in one process (`warden run`).
    Cached,
    /// One plain walk (a one-shot `warden sandbox`: watching every
    /// directory would only add cost).
    Once,
}

/// Resolve the sandbox for one command; `tmpdir` is its private temp dir.
pub fn prepare(
    policy: &SandboxPolicy,
    req: &ExecRequest,
    tmpdir: &Path,
    expansion: Expansion,
) -> Result<Prepared, SandboxError> {
    let grants = &req.grants;
    let sandboxed = !policy.is_full_access() && !grants.unsandboxed;
    let network = policy.network || grants.wants_network() || !sandboxed;
    let mode_label = if grants.unsandboxed {
        "unsandboxed".to_string()
    } else {
        policy.mode.as_str().to_string()
    };
    let mut notes = Vec::new();
    let deny = match expansion {
        Expansion::Cached => deny::expand(&policy.deny_read),
        Expansion::Once => deny::expand_once(&policy.deny_read),
    }
    .map_err(SandboxError::Config)?;
    for d in &deny {
        if let Ok(meta) = std::fs::symlink_metadata(d) {
            use std::os::unix::fs::MetadataExt;
            if meta.is_file() && meta.nlink() > 1 {
                notes.push(format!(
                    "deny-read file `{}` has {} hard links; deny-read is path-based, so links \
                     elsewhere stay readable",
                    d.display(),
                    meta.nlink()
                ));
            }
        }
    }
    if !sandboxed {
        return Ok(Prepared {
            sandboxed,
            network,
            mode_label,
            rules: Vec::new(),
            writable: Vec::new(),
            guarded: Vec::new(),
            deny,
            notes,
        });
    }

    let with_protected: Vec<PathBuf> = deny.iter().chain(&policy.protected).cloned().collect();
    let mut writable: Vec<(PathBuf, Vec<PathBuf>)> = Vec::new();
    if policy.mode == SandboxMode::WorkspaceWrite {
        writable.push((policy.workspace.clone(), with_protected.clone()));
        for root in &policy.writable_roots {
            writable.push((root.clone(), with_protected.clone()));
        }
    }
    writable.push((tmpdir.to_path_buf(), deny.clone()));

    let mut granted = Vec::new();
    for raw in &grants.write {
        let asked = canonical_or_normal(&req.cwd.join(raw));
        let mut path = asked.clone();
        while !path.exists() {
            match path.parent() {
                Some(p) => path = p.to_path_buf(),
                None => break,
            }
        }
        if path != asked {
            notes.push(format!(
                "write grant `{}` does not exist; granted its nearest existing ancestor `{}` \
                 (Landlock can only grant existing paths)",
                asked.display(),
                path.display()
            ));
        }
        granted.push(path.clone());
        writable.push((path, deny.clone()));
    }
    let guarded: Vec<PathBuf> = policy
        .protected
        .iter()
        .filter(|p| granted.iter().any(|g| p.starts_with(g) || g.starts_with(p)))
        .cloned()
        .collect();

    let input = PlanInput {
        read_root: Some(PathBuf::from("/")),
        writable: writable.clone(),
        devices: writable_devices(),
        deny: deny.clone(),
    };
    let rules = plan::build(&input);
    Ok(Prepared {
        sandboxed,
        network,
        mode_label,
        rules,
        writable: writable.into_iter().map(|(p, _)| p).collect(),
        guarded,
        deny,
        notes,
    })
}
