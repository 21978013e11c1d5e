//! Why the sandbox refuses a write to a path, and whether asking for more
//! can help: the one classification behind every write refusal the agent
//! is told about, whether the refusal was read from a command's output
//! ([`super::refusal`]) or is a file tool's own failed write
//! (`agent::exec`, which knows the path it wrote and never parses text).
//!
//! The answer follows the way the plan is built ([`super::prepare`],
//! [`super::plan`]):
//! - a deny-read path is carved out of every writable hierarchy, grants
//!   included: [`WriteBlock::DenyRead`], no escalation helps;
//! - a protected path is carved out of the writable roots, and out of the
//!   workspace under `sandbox.git = "read-only"` (under `"commit"` the
//!   workspace's protected paths are guarded instead, and a write to them
//!   is undone by the guard, not refused): [`WriteBlock::Protected`],
//!   escalation is pointless (what later steps execute or trust is never
//!   the agent's to change);
//! - a path under no writable hierarchy: [`WriteBlock::Outside`], an
//!   escalation with `write` naming it is the way;
//! - creating, removing, renaming or linking an entry needs rights on its
//!   directory, and a directory the plan splits around a carve-out gets
//!   none for new entries: around a deny-read path
//!   ([`WriteBlock::SplitByDenyRead`], a grant is split the same way, so
//!   escalation is pointless) or around a protected one
//!   ([`WriteBlock::SplitByProtected`], a `write` grant on the path lifts
//!   it, the protected path then guarded).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::resolve::{SandboxPolicy, canonical_or_normal};
use crate::config::{GitMode, SandboxMode};
use crate::decision::Grants;

/// What a write does, which decides whose rights it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOp {
    /// Writes an existing file in place: the file's own rights.
    Content,
    /// Creates, removes, renames or links an entry: its directory's rights.
    Entry,
}

impl WriteOp {
    /// `Entry` for a path that does not exist yet (writing creates it).
    pub fn for_write(path: &Path) -> WriteOp {
        match std::fs::symlink_metadata(path) {
            Ok(_) => WriteOp::Content,
            Err(_) => WriteOp::Entry,
        }
    }
}

/// Why the sandbox refuses a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum WriteBlock {
    /// Under no writable hierarchy (HOME, `/usr`, `/etc`, another checkout).
    Outside,
    /// A protected path (`.git`, `.warden`, `.github/workflows`, extras).
    Protected { entry: PathBuf },
    /// A deny-read path: neither readable nor writable.
    DenyRead { entry: PathBuf },
    /// A new entry (or a deletion or rename) in `dir`, which contains the
    /// deny-read `entry` (at any depth: every directory above a carve-out is
    /// split) and so takes no new entries, even under a grant.
    SplitByDenyRead { dir: PathBuf, entry: PathBuf },
    /// A new entry (or a deletion or rename) in `dir`, which contains the
    /// protected `entry`: only a write grant makes `dir` writable.
    SplitByProtected { dir: PathBuf, entry: PathBuf },
}

impl WriteBlock {
    /// Whether an escalation (`write` naming the path) can get it written.
    pub fn escalation_helps(&self) -> bool {
        matches!(
            self,
            WriteBlock::Outside | WriteBlock::SplitByProtected { .. }
        )
    }

    /// A few words for the audit log: `outside the writable roots`.
    pub fn label(&self) -> &'static str {
        match self {
            WriteBlock::Outside => "outside the writable roots",
            WriteBlock::Protected { .. } => "protected",
            WriteBlock::DenyRead { .. } => "deny-read",
            WriteBlock::SplitByDenyRead { .. } => "beside a deny-read path",
            WriteBlock::SplitByProtected { .. } => "beside a protected path",
        }
    }

    /// What the agent is told: why, and what to do about it.
    pub fn hint(&self) -> String {
        match self {
            WriteBlock::Outside => "outside the writable roots: if the task needs it, escalate \
                 with `write` naming this path, and a justification"
                .to_string(),
            WriteBlock::Protected { entry } => format!(
                "protected ({}): no command may change it, so an escalation is pointless; do \
                 not retry or work around it",
                entry.display()
            ),
            WriteBlock::DenyRead { entry } => format!(
                "a deny-read path ({}): no command may read or write it, and an escalation is \
                 pointless",
                entry.display()
            ),
            WriteBlock::SplitByDenyRead { dir, entry } => format!(
                "{} contains the deny-read {}, so no command may create, remove or rename entries \
                 directly in it (files already there stay writable in place); an escalation is \
                 pointless: write it in another directory",
                dir.display(),
                entry.display()
            ),
            WriteBlock::SplitByProtected { dir, entry } => format!(
                "{} contains the protected {}, so without a grant no command may create, remove or \
                 rename entries directly in it: if the task needs it, escalate with `write` \
                 naming this path, and a justification",
                dir.display(),
                entry.display()
            ),
        }
    }
}

/// What one command may write, as the plan draws it: the writable
/// hierarchies (and whether protected paths are carved from each), the
/// protected paths and the expanded deny-read paths.
#[derive(Debug, Clone, Default)]
pub struct WriteScope {
    /// `(root, carves protected paths)`: the workspace and writable roots
    /// do, a grant does not (protected paths under it are guarded).
    roots: Vec<(PathBuf, bool)>,
    protected: Vec<PathBuf>,
    deny: Vec<PathBuf>,
}

impl WriteScope {
    /// The scope of a command run with `grants` from `cwd` under `policy`;
    /// `deny` is the expanded deny-read list ([`super::deny::expand`]).
    /// `None` when the command has no sandbox at all (nothing is refused).
    pub fn new(
        policy: &SandboxPolicy,
        grants: &Grants,
        cwd: &Path,
        deny: Vec<PathBuf>,
    ) -> Option<WriteScope> {
        if policy.is_full_access() || grants.unsandboxed {
            return None;
        }
        let mut roots = Vec::new();
        if policy.mode == SandboxMode::WorkspaceWrite {
            // Under `sandbox.git = "commit"` the workspace's protected paths
            // are guarded, not carved (`prepare`): writes to them succeed
            // and the guard puts them back afterwards.
            let carves = policy.git != GitMode::Commit;
            roots.push((policy.workspace.clone(), carves));
            roots.extend(policy.writable_roots.iter().map(|r| (r.clone(), true)));
        }
        // As `prepare` grants them: relative to the cwd, a missing path
        // standing for its nearest existing ancestor.
        for raw in &grants.write {
            let asked = canonical_or_normal(&cwd.join(raw));
            let granted = asked
                .ancestors()
                .find(|p| p.exists())
                .unwrap_or(Path::new("/"));
            roots.push((granted.to_path_buf(), false));
        }
        Some(WriteScope {
            roots,
            protected: policy.protected.clone(),
            deny,
        })
    }

    /// [`Self::new`] with the policy's deny-read entries expanded now
    /// (through the per-process cache).
    pub fn expanded(
        policy: &SandboxPolicy,
        grants: &Grants,
        cwd: &Path,
    ) -> Result<Option<WriteScope>, String> {
        let deny = super::deny::expand(&policy.deny_read)?;
        Ok(Self::new(policy, grants, cwd, deny))
    }

    /// Why a write to `path` (absolute, or relative to `cwd`) is refused;
    /// `None` when the plan allows it (then whatever refused it was not
    /// the sandbox: the file's own permissions, a full disk…).
    pub fn classify(&self, cwd: &Path, path: &Path, op: WriteOp) -> Option<WriteBlock> {
        let path = canonical_or_normal(&cwd.join(path));
        if let Some(d) = self.deny.iter().find(|d| path.starts_with(d)) {
            return Some(WriteBlock::DenyRead { entry: d.clone() });
        }
        let covering: Vec<&(PathBuf, bool)> = self
            .roots
            .iter()
            .filter(|(r, _)| path.starts_with(r))
            .collect();
        if covering.is_empty() {
            return Some(WriteBlock::Outside);
        }
        let protected_at = |p: &Path| self.protected.iter().find(|c| p.starts_with(c));
        let carved = |p: &Path, carves: bool| carves && protected_at(p).is_some();
        if covering.iter().all(|(_, carves)| carved(&path, *carves)) {
            let entry = protected_at(&path).expect("carved by a protected path");
            return Some(WriteBlock::Protected {
                entry: entry.clone(),
            });
        }
        if op == WriteOp::Content {
            return None;
        }
        // The entry made is the first missing one (`mkdir -p a/b/c`), in
        // the directory above it.
        let mut entry = path.as_path();
        while let Some(parent) = entry.parent().filter(|p| !p.exists()) {
            entry = parent;
        }
        let dir = entry.parent()?;
        // `dir` takes new entries when a hierarchy covering it splits
        // nothing inside it (a carve-out beneath `dir` splits it).
        let strictly_below = |c: &Path| c != dir && c.starts_with(dir);
        let mut split_by: Option<WriteBlock> = None;
        for (root, carves) in &covering {
            if !dir.starts_with(root) || carved(dir, *carves) {
                continue;
            }
            let deny = self.deny.iter().find(|d| strictly_below(d));
            let protected = carves
                .then(|| self.protected.iter().find(|p| strictly_below(p)))
                .flatten();
            match (deny, protected) {
                (None, None) => return None,
                (Some(d), _) => {
                    split_by = Some(WriteBlock::SplitByDenyRead {
                        dir: dir.to_path_buf(),
                        entry: d.clone(),
                    })
                }
                (None, Some(p)) => {
                    split_by.get_or_insert(WriteBlock::SplitByProtected {
                        dir: dir.to_path_buf(),
                        entry: p.clone(),
                    });
                }
            }
        }
        // The entry's directory is itself outside, or protected.
        split_by.or_else(|| {
            Some(match protected_at(dir) {
                Some(p) => WriteBlock::Protected { entry: p.clone() },
                None => WriteBlock::Outside,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree {
        _tmp: tempfile::TempDir,
        root: PathBuf,
        ws: PathBuf,
    }

    /// `ws/` with `.git/`, `src/`, `conf/.env`, and `outside/`.
    fn tree() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        for d in ["ws/.git/hooks", "ws/src", "ws/conf/sub", "outside"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(ws.join("conf/.env"), "K=v\n").unwrap();
        std::fs::write(ws.join("conf/app.toml"), "").unwrap();
        Tree {
            _tmp: tmp,
            root,
            ws,
        }
    }

    fn sandbox_config() -> crate::config::SandboxConfig {
        crate::config::SandboxConfig {
            writable_roots: vec![],
            deny_read: vec![],
            protected: vec![],
            network: crate::config::NetworkMode::Off,
            git: crate::config::GitMode::ReadOnly,
            fallback: crate::config::SandboxFallback::Refuse,
            timeout: std::time::Duration::from_secs(60),
            output_limit: 1 << 20,
            env_pass: vec![],
            env_set: Default::default(),
        }
    }

    fn scope(t: &Tree, grants: &[&str]) -> WriteScope {
        scope_with(t, grants, &[t.ws.join("conf/.env")])
    }

    fn scope_with(t: &Tree, grants: &[&str], deny: &[PathBuf]) -> WriteScope {
        let policy = SandboxPolicy::from_sandbox_config(
            SandboxMode::WorkspaceWrite,
            &sandbox_config(),
            &t.ws,
        )
        .unwrap();
        let grants = Grants {
            write: grants.iter().map(PathBuf::from).collect(),
            ..Grants::default()
        };
        WriteScope::new(&policy, &grants, &t.ws, deny.to_vec()).unwrap()
    }

    #[test]
    fn each_class_of_refused_write() {
        let t = tree();
        let s = scope(&t, &[]);
        let c = |p: &str, op| s.classify(&t.ws, Path::new(p), op);
        let git = t.ws.join(".git");
        assert_eq!(c("src/new.rs", WriteOp::Entry), None);
        assert_eq!(c("conf/app.toml", WriteOp::Content), None, "in place");
        assert_eq!(
            c("conf/sub/new", WriteOp::Entry),
            None,
            "a subdirectory is whole"
        );
        assert_eq!(c("/usr/x", WriteOp::Entry), Some(WriteBlock::Outside));
        assert_eq!(c("../outside/x", WriteOp::Entry), Some(WriteBlock::Outside));
        assert_eq!(
            c(".git/index.lock", WriteOp::Entry),
            Some(WriteBlock::Protected { entry: git.clone() })
        );
        assert_eq!(
            c(".git/hooks/pre-commit", WriteOp::Content),
            Some(WriteBlock::Protected { entry: git.clone() })
        );
        let env = t.ws.join("conf/.env");
        assert_eq!(
            c("conf/.env", WriteOp::Content),
            Some(WriteBlock::DenyRead { entry: env.clone() })
        );
        assert_eq!(
            c("conf/new.toml", WriteOp::Entry),
            Some(WriteBlock::SplitByDenyRead {
                dir: t.ws.join("conf"),
                entry: env.clone()
            })
        );
        // Removing or renaming an existing file there is an entry change.
        assert!(matches!(
            c("conf/app.toml", WriteOp::Entry),
            Some(WriteBlock::SplitByDenyRead { .. })
        ));
        // A deny-read path splits every directory above it: the root too,
        // and a grant is split the same way.
        let got = c("CONTRIBUTING.md", WriteOp::Entry);
        assert_eq!(
            got,
            Some(WriteBlock::SplitByDenyRead {
                dir: t.ws.clone(),
                entry: env.clone()
            })
        );
        assert!(!got.unwrap().escalation_helps());
    }

    #[test]
    fn under_git_commit_the_workspace_is_whole_and_its_protected_paths_are_not_refused() {
        let t = tree();
        let mut config = sandbox_config();
        config.git = crate::config::GitMode::Commit;
        let policy =
            SandboxPolicy::from_sandbox_config(SandboxMode::WorkspaceWrite, &config, &t.ws)
                .unwrap();
        let env = t.ws.join("conf/.env");
        let s = WriteScope::new(&policy, &Grants::default(), &t.ws, vec![env.clone()]).unwrap();
        let c = |p: &str, op| s.classify(&t.ws, Path::new(p), op);
        // Guarded, not carved: the guard undoes these, the sandbox allows them.
        assert_eq!(c(".git/index.lock", WriteOp::Entry), None);
        assert_eq!(c(".git/hooks/pre-commit", WriteOp::Content), None);
        assert_eq!(c("src/new.rs", WriteOp::Entry), None);
        // A deny-read path still splits every directory above it.
        assert!(matches!(
            c("CONTRIBUTING.md", WriteOp::Entry),
            Some(WriteBlock::SplitByDenyRead { .. })
        ));
        assert_eq!(
            c("conf/.env", WriteOp::Content),
            Some(WriteBlock::DenyRead { entry: env })
        );
        assert_eq!(c("/usr/x", WriteOp::Entry), Some(WriteBlock::Outside));
    }

    #[test]
    fn a_root_split_around_git_alone_takes_new_entries_with_a_grant() {
        let t = tree();
        let s = scope_with(&t, &[], &[]);
        // A new top-level entry (`mkdir -p` makes the first missing one).
        for p in ["CONTRIBUTING.md", "docs/a/b.md"] {
            let got = s.classify(&t.ws, Path::new(p), WriteOp::Entry);
            assert!(
                matches!(&got, Some(WriteBlock::SplitByProtected { dir, .. }) if *dir == t.ws),
                "{p}: {got:?}"
            );
            assert!(got.unwrap().escalation_helps());
        }
        let granted = scope_with(&t, &["CONTRIBUTING.md"], &[]);
        assert_eq!(
            granted.classify(&t.ws, Path::new("CONTRIBUTING.md"), WriteOp::Entry),
            None
        );
    }

    #[test]
    fn a_write_grant_lifts_protected_splits_but_never_deny_read() {
        let t = tree();
        // A grant on a missing path grants its nearest existing ancestor.
        let s = scope(&t, &["src/new/x.rs", ".git"]);
        let c = |p: &str, op| s.classify(&t.ws, Path::new(p), op);
        assert_eq!(c("src/new/x.rs", WriteOp::Entry), None);
        assert_eq!(
            c(".git/index.lock", WriteOp::Entry),
            None,
            "guarded, not carved"
        );
        assert!(matches!(
            c("conf/new.toml", WriteOp::Entry),
            Some(WriteBlock::SplitByDenyRead { .. })
        ));
        assert!(matches!(
            c("conf/.env", WriteOp::Content),
            Some(WriteBlock::DenyRead { .. })
        ));
        let s = scope(&t, &[t.root.join("outside").to_str().unwrap()]);
        assert_eq!(
            s.classify(&t.ws, &t.root.join("outside/x"), WriteOp::Entry),
            None
        );
    }

    #[test]
    fn read_only_and_full_access() {
        let t = tree();
        let policy =
            |mode| SandboxPolicy::from_sandbox_config(mode, &sandbox_config(), &t.ws).unwrap();
        let ro = WriteScope::new(
            &policy(SandboxMode::ReadOnly),
            &Grants::default(),
            &t.ws,
            vec![],
        )
        .unwrap();
        assert_eq!(
            ro.classify(&t.ws, Path::new("src/x"), WriteOp::Entry),
            Some(WriteBlock::Outside)
        );
        assert!(
            WriteScope::new(
                &policy(SandboxMode::DangerFullAccess),
                &Grants::default(),
                &t.ws,
                vec![]
            )
            .is_none()
        );
        let hint = WriteBlock::Protected {
            entry: t.ws.join(".git"),
        }
        .hint();
        assert!(
            hint.contains("pointless") && hint.contains(".git"),
            "{hint}"
        );
        assert!(WriteBlock::Outside.hint().contains("escalate with `write`"));
    }
}
