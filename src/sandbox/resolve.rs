//! [`SandboxPolicy`]: a profile's `[sandbox]` settings resolved against one
//! workspace into absolute paths, ready to be sent to the helper process.
//!
//! Resolution rules (also in docs/threat-model.md):
//! - `~` expands against `$HOME` (in `deny_read`, also against the account's
//!   home when it differs: [`super::account_home`]); relative writable roots are relative to the
//!   workspace; existing paths are canonicalised (symlinks resolved) so a
//!   deny or protect entry names the real inode, not an alias.
//! - `.git`, `.warden` and `.github/workflows` are always protected (besides
//!   any configured entries), in the workspace and in every extra writable
//!   root; a worktree's real gitdir (and its common dir) is protected too,
//!   and so are the `.git` files of its submodule and worktree checkouts
//!   ([`super::git_links`]).
//! - The GitHub runner's command files (`GITHUB_ENV`, `GITHUB_OUTPUT`, …) are
//!   protected wherever they are, so no writable root can reach them.
//! - deny-read entries with glob characters stay patterns here; the helper
//!   expands them when the sandbox starts (see [`super::plan`]).

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::SandboxError;
use crate::config::{Config, GitMode, NetworkMode, SandboxConfig, SandboxFallback, SandboxMode};

/// Paths every profile protects inside writable roots.
pub const BUILTIN_PROTECTED: [&str; 3] = [".git", ".warden", ".github/workflows"];

/// Environment variables naming the GitHub runner's command files: writing
/// `LD_PRELOAD=…` into `GITHUB_ENV` would run code in every later step.
pub const RUNNER_COMMAND_FILES: [&str; 5] = [
    "GITHUB_ENV",
    "GITHUB_OUTPUT",
    "GITHUB_PATH",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_STATE",
];

/// One deny-read entry after `~` expansion.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyRead {
    /// A literal path (canonical when it exists).
    Path(PathBuf),
    /// A glob, matched against absolute paths under `base` (the workspace for
    /// relative patterns, else the pattern's literal prefix).
    Glob { base: PathBuf, pattern: String },
    /// Every entry of `dir` except those holding one of `keep` and warden's
    /// private temp dirs (`RUNNER_TEMP`: step scripts, the runner's command
    /// files, actions' credential files; see [`runner_temp_entry`]).
    EntriesOf { dir: PathBuf, keep: Vec<PathBuf> },
}

/// The sandbox one workspace gets under one profile: absolute paths only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SandboxPolicy {
    pub mode: SandboxMode,
    /// Canonical workspace directory (writable in `workspace-write`).
    pub workspace: PathBuf,
    /// Extra writable roots (not including the workspace or the temp dir).
    pub writable_roots: Vec<PathBuf>,
    pub deny_read: Vec<DenyRead>,
    /// Paths that stay read-only even inside a writable root; under
    /// `sandbox.git = "commit"`, those in the workspace are writable and
    /// guarded instead (restored after every command).
    pub protected: Vec<PathBuf>,
    pub git: GitMode,
    /// The profile's network for every command (`sandbox.network`).
    pub network: NetworkMode,
    /// The egress proxy of this run, once warden has started it; a
    /// `proxy`-mode command without one is refused (see `prepare`).
    #[serde(skip)]
    pub proxy: Option<super::network::ProxyEndpoint>,
    pub fallback: SandboxFallback,
    pub timeout: Duration,
    pub output_limit: usize,
    /// Extra variable names passed to children (credentials still removed).
    pub env_pass: Vec<String>,
    pub env_set: BTreeMap<String, String>,
}

impl SandboxPolicy {
    /// Resolve the profile's sandbox for `workspace`.
    pub fn from_config(cfg: &Config, workspace: &Path) -> Result<Self, SandboxError> {
        Self::from_sandbox_config(cfg.sandbox_mode, &cfg.sandbox, workspace)
    }

    /// Same as [`Self::from_config`] from the two pieces it reads.
    pub fn from_sandbox_config(
        mode: SandboxMode,
        sb: &SandboxConfig,
        workspace: &Path,
    ) -> Result<Self, SandboxError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let workspace = std::fs::canonicalize(workspace)
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| {
                SandboxError::Config(format!(
                    "workspace `{}` is not an existing directory",
                    workspace.display()
                ))
            })?;
        let mut canonical = Canonicalizer::default();
        let mut writable_roots = Vec::new();
        for raw in &sb.writable_roots {
            let expanded = expand_tilde(raw, home.as_deref()).ok_or_else(|| {
                SandboxError::Config(format!(
                    "sandbox.writable_roots entry `{raw}` starts with `~` but HOME is not set"
                ))
            })?;
            let p = canonical.resolve(&workspace.join(expanded));
            if !writable_roots.contains(&p) && p != workspace {
                writable_roots.push(p);
            }
        }

        let mut deny_read = Vec::new();
        // Dedup by hash: the default list has ~80 entries, and comparing
        // each against every earlier one (`Vec::contains`, component-wise
        // path equality) cost more than resolving them all.
        let mut denied: HashSet<DenyRead> = HashSet::new();
        // `~` entries are denied under the account's home as well, when it
        // is not `$HOME` (a container job's HOME=/github/home for root).
        let mut raws: Vec<(&String, Option<&Path>)> = sb
            .deny_read
            .iter()
            .map(|raw| (raw, home.as_deref()))
            .collect();
        let account_home = super::account_home::other_than(home.as_deref());
        if let Some(account) = account_home.as_deref() {
            raws.extend(
                sb.deny_read
                    .iter()
                    .filter(|raw| *raw == "~" || raw.starts_with("~/"))
                    .map(|raw| (raw, Some(account))),
            );
        }
        for (raw, against) in raws {
            let expanded = expand_tilde(raw, against).ok_or_else(|| {
                SandboxError::Config(format!("sandbox.deny_read `{raw}`: HOME is not set"))
            })?;
            let entry = if has_glob_chars(&expanded) {
                globset::Glob::new(&expanded.to_string_lossy()).map_err(|e| {
                    SandboxError::Config(format!(
                        "sandbox.deny_read `{raw}` is not a valid glob: {e}"
                    ))
                })?;
                let (base, pattern) = glob_base(&workspace, &expanded);
                DenyRead::Glob { base, pattern }
            } else {
                DenyRead::Path(canonical.resolve(&workspace.join(expanded)))
            };
            if denied.insert(entry.clone()) {
                deny_read.push(entry);
            }
        }

        if let Some(entry) = runner_temp_entry(&workspace) {
            deny_read.push(entry);
        }
        // warden's own state: the protected-path journal holds copies of
        // `.git/config` (super::journal).
        if let Some(state) = super::journal::state_dir() {
            let entry = DenyRead::Path(canonical.resolve(&state));
            if denied.insert(entry.clone()) {
                deny_read.push(entry);
            }
        }
        for path in self_hosted_runner_credentials() {
            let entry = DenyRead::Path(canonical.resolve(&path));
            if denied.insert(entry.clone()) {
                deny_read.push(entry);
            }
        }

        let mut protected = Vec::new();
        let mut push = |p: PathBuf| {
            if !protected.contains(&p) {
                protected.push(p);
            }
        };
        let roots: Vec<PathBuf> = std::iter::once(workspace.clone())
            .chain(writable_roots.iter().cloned())
            .collect();
        let entries = BUILTIN_PROTECTED
            .iter()
            .map(|s| s.to_string())
            .chain(sb.protected.iter().cloned());
        let mut seen = Vec::new();
        for raw in entries {
            // The profiles repeat the built-in entries: resolve each once.
            if seen.contains(&raw) {
                continue;
            }
            seen.push(raw.clone());
            let expanded = expand_tilde(&raw, home.as_deref()).ok_or_else(|| {
                SandboxError::Config(format!("sandbox.protected `{raw}`: HOME is not set"))
            })?;
            if expanded.is_absolute() {
                push(canonical.resolve(&expanded));
                continue;
            }
            for root in &roots {
                let p = root.join(&expanded);
                let gitdirs = real_gitdirs(&p);
                for gitdir in &gitdirs {
                    push(gitdir.clone());
                }
                if raw == ".git" {
                    // The `.git` files of submodule and worktree checkouts
                    // in a writable root: repointed, they would make git
                    // trust a gitdir the command wrote.
                    let own = p.is_dir().then(|| p.clone());
                    let links = own
                        .iter()
                        .chain(&gitdirs)
                        .flat_map(|dir| super::git_links::linked_dot_git_files(dir))
                        .chain(super::git_links::gitmodules_dot_git(root));
                    for link in links {
                        if roots.iter().any(|r| link.starts_with(r)) {
                            push(link);
                        }
                    }
                }
                push(canonical.resolve(&p));
            }
        }
        for var in RUNNER_COMMAND_FILES {
            if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                push(canonical.resolve(Path::new(&v)));
            }
        }

        Ok(SandboxPolicy {
            mode,
            workspace,
            writable_roots,
            deny_read,
            protected,
            git: sb.git,
            network: sb.network,
            proxy: None,
            fallback: sb.fallback,
            timeout: sb.timeout,
            output_limit: sb.output_limit,
            env_pass: sb.env_pass.clone(),
            env_set: sb.env_set.clone(),
        })
    }

    /// Whether commands run without Landlock and seccomp at all.
    pub fn is_full_access(&self) -> bool {
        self.mode == SandboxMode::DangerFullAccess
    }
}

/// The runner's temp directory, deny-read in the sandbox: the runner keeps
/// each step's script there, `GITHUB_ENV` & co. under
/// `_runner_file_commands/`, and actions their credentials
/// (`actions/checkout` v6's `git-credentials-<uuid>.config`, its SSH key,
/// `setup-node`'s `.npmrc`). Entries holding the workspace, the warden
/// executable (the Action installs it there) or the system temp dir (the
/// commands' own `TMPDIR`s) stay readable; warden's audit log is written
/// by warden, outside the sandbox, and stays denied.
fn runner_temp_entry(workspace: &Path) -> Option<DenyRead> {
    let raw = std::env::var_os("RUNNER_TEMP").filter(|v| !v.is_empty())?;
    let dir = std::fs::canonicalize(raw).ok().filter(|d| d.is_dir())?;
    let mut keep = vec![workspace.to_path_buf()];
    keep.extend(std::env::current_exe().and_then(std::fs::canonicalize).ok());
    keep.extend(std::fs::canonicalize(std::env::temp_dir()).ok());
    Some(DenyRead::EntriesOf { dir, keep })
}

/// A self-hosted runner's registration credentials, next to its `_work`
/// directory (`RUNNER_TEMP` is `<runner>/_work/_temp`): whoever reads them
/// can impersonate the runner and take the jobs of other workflows.
fn self_hosted_runner_credentials() -> Vec<PathBuf> {
    let Some(temp) = std::env::var_os("RUNNER_TEMP").filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    let work = Path::new(&temp).parent();
    match work.filter(|w| w.file_name().is_some_and(|n| n == "_work")) {
        Some(work) => {
            let root = work.parent().unwrap_or(Path::new("/"));
            [".credentials", ".credentials_rsaparams", ".runner"]
                .iter()
                .map(|f| root.join(f))
                .collect()
        }
        None => Vec::new(),
    }
}

/// `~` and `~/x` against `home`; other paths unchanged. `None` when a `~`
/// path meets a missing HOME (the caller reports it).
pub fn expand_tilde(raw: &str, home: Option<&Path>) -> Option<PathBuf> {
    if raw == "~" {
        return home.map(Path::to_path_buf);
    }
    match raw.strip_prefix("~/") {
        Some(rest) => home.map(|h| h.join(rest)),
        None => Some(PathBuf::from(raw)),
    }
}

/// Canonical path when it exists; otherwise the longest existing prefix
/// canonicalised and the rest appended lexically (so a protected path that
/// does not exist yet still sits under the real workspace path).
pub fn canonical_or_normal(p: &Path) -> PathBuf {
    Canonicalizer::default().resolve(p)
}

/// [`canonical_or_normal`] over many paths that share parents (every `~/…`
/// deny_read entry sits in HOME): each directory is canonicalised once,
/// and a path that does not exist costs one `stat` instead of realpath(3)
/// reading the link of each of its components before failing.
/// Names missing from a directory's listing cost no `stat` at all
/// ([`super::listing`]).
#[derive(Default)]
struct Canonicalizer {
    known: std::collections::HashMap<PathBuf, Option<PathBuf>>,
    listings: super::listing::Listings,
}

impl Canonicalizer {
    fn resolve(&mut self, p: &Path) -> PathBuf {
        let normal = normalize(p);
        let mut existing = normal.as_path();
        let mut rest = Vec::new();
        loop {
            let canonical = match self.known.get(existing) {
                Some(known) => known.clone(),
                None => {
                    // realpath fails wherever stat does.
                    let c = if self.listings.surely_absent(existing) {
                        None
                    } else {
                        std::fs::metadata(existing)
                            .and_then(|_| std::fs::canonicalize(existing))
                            .ok()
                    };
                    self.known.insert(existing.to_path_buf(), c.clone());
                    c
                }
            };
            if let Some(mut out) = canonical {
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return out;
            }
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent;
                }
                _ => return normal,
            }
        }
    }
}

/// Lexical normalisation: drop `.`, resolve `..` against the path itself.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub(crate) fn has_glob_chars(p: &Path) -> bool {
    p.to_string_lossy().contains(['*', '?', '[', '{'])
}

/// Split a glob into the directory to walk and the absolute pattern.
fn glob_base(workspace: &Path, expanded: &Path) -> (PathBuf, String) {
    // The workspace (or `/`) is literal whatever characters its name has
    // (`/tmp/build[1]`): only the entry's own components can be a glob,
    // and the pattern is kept relative to the base.
    let (mut base, rel) = match expanded.strip_prefix("/") {
        Ok(rel) => (PathBuf::from("/"), rel),
        Err(_) => (workspace.to_path_buf(), expanded),
    };
    let mut rest: Vec<String> = Vec::new();
    for c in rel.components() {
        let part = Path::new(c.as_os_str());
        if rest.is_empty() && !has_glob_chars(part) {
            base.push(part);
        } else {
            rest.push(part.to_string_lossy().into_owned());
        }
    }
    if rest.is_empty() {
        if let Some(name) = base.file_name().map(|n| n.to_string_lossy().into_owned()) {
            rest.push(name);
            base.pop();
        }
    }
    (canonical_or_normal(&base), rest.join("/"))
}

/// For a `.git` that is a file (worktree or submodule: `gitdir: PATH`), the
/// real gitdir and its common dir; empty otherwise.
pub(super) fn real_gitdirs(dot_git: &Path) -> Vec<PathBuf> {
    if dot_git.file_name().is_none_or(|n| n != ".git") || !dot_git.is_file() {
        return Vec::new();
    }
    let Ok(text) = std::fs::read_to_string(dot_git) else {
        return Vec::new();
    };
    let Some(target) = text.lines().find_map(|l| l.strip_prefix("gitdir:")) else {
        return Vec::new();
    };
    let base = dot_git.parent().unwrap_or(Path::new("/"));
    let gitdir = canonical_or_normal(&base.join(target.trim()));
    let mut out = vec![gitdir.clone()];
    if let Ok(common) = std::fs::read_to_string(gitdir.join("commondir")) {
        out.push(canonical_or_normal(&gitdir.join(common.trim())));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox_config() -> SandboxConfig {
        SandboxConfig {
            writable_roots: vec!["extra".into()],
            deny_read: vec!["~/.ssh".into(), "**/.env".into()],
            protected: vec!["infra".into()],
            network: NetworkMode::Off,
            git: crate::config::GitMode::Commit,
            fallback: SandboxFallback::Refuse,
            timeout: Duration::from_secs(60),
            output_limit: 1 << 20,
            env_pass: vec![],
            env_set: BTreeMap::new(),
        }
    }

    #[test]
    fn resolves_paths_against_the_workspace() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        std::fs::create_dir_all(ws.join("extra")).unwrap();
        let p =
            SandboxPolicy::from_sandbox_config(SandboxMode::WorkspaceWrite, &sandbox_config(), &ws)
                .unwrap();
        let ws = std::fs::canonicalize(&ws).unwrap();
        assert_eq!(p.workspace, ws);
        assert_eq!(p.writable_roots, vec![ws.join("extra")]);
        for rel in [".git", ".warden", ".github/workflows", "infra"] {
            assert!(p.protected.contains(&ws.join(rel)), "{rel} not protected");
            assert!(p.protected.contains(&ws.join("extra").join(rel)));
        }
        assert!(p.deny_read.contains(&DenyRead::Glob {
            base: ws.clone(),
            pattern: "**/.env".to_owned(),
        }));
    }

    #[test]
    fn glob_characters_in_the_workspace_name_are_literal() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("build[1]");
        std::fs::create_dir_all(ws.join("secrets")).unwrap();
        let ws = std::fs::canonicalize(&ws).unwrap();
        let (base, pattern) = glob_base(&ws, Path::new("secrets/*.pem"));
        assert_eq!((base, pattern.as_str()), (ws.join("secrets"), "*.pem"));
        let (base, pattern) = glob_base(&ws, Path::new("**/.env"));
        assert_eq!((base, pattern.as_str()), (ws.clone(), "**/.env"));
    }

    #[test]
    fn worktree_gitdir_is_protected() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        let real = tmp.path().join("main/.git/worktrees/ws");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("commondir"), "../..\n").unwrap();
        std::fs::write(ws.join(".git"), format!("gitdir: {}\n", real.display())).unwrap();
        let p =
            SandboxPolicy::from_sandbox_config(SandboxMode::WorkspaceWrite, &sandbox_config(), &ws)
                .unwrap();
        let real = std::fs::canonicalize(&real).unwrap();
        assert!(p.protected.contains(&real));
        assert!(
            p.protected
                .contains(&real.parent().unwrap().parent().unwrap().to_path_buf())
        );
    }

    #[test]
    fn missing_workspace_is_a_config_error() {
        let err = SandboxPolicy::from_sandbox_config(
            SandboxMode::ReadOnly,
            &sandbox_config(),
            Path::new("/nonexistent/warden/ws"),
        )
        .unwrap_err();
        assert!(matches!(err, SandboxError::Config(_)), "{err}");
    }

    #[test]
    fn tilde_expansion() {
        let home = Path::new("/home/u");
        assert_eq!(expand_tilde("~", Some(home)).unwrap(), home);
        assert_eq!(
            expand_tilde("~/.ssh", Some(home)).unwrap(),
            home.join(".ssh")
        );
        assert_eq!(expand_tilde("a/~", Some(home)).unwrap(), Path::new("a/~"));
        assert!(expand_tilde("~/.ssh", None).is_none());
    }

    #[test]
    fn missing_paths_resolve_under_the_real_parent() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        let p = canonical_or_normal(&tmp.path().join("a/../b/c"));
        assert_eq!(p, real.join("b/c"));
    }

    /// One cache over many paths (what a policy does) resolves each as a
    /// fresh lookup would, through symlinked and missing parents alike.
    #[test]
    fn a_shared_canonicalizer_agrees_with_fresh_lookups() {
        let tmp = tempfile::tempdir().unwrap();
        let real = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(real.join("data/config")).unwrap();
        std::fs::write(real.join("data/config/token"), "x").unwrap();
        std::os::unix::fs::symlink(real.join("data/config"), real.join("home-config")).unwrap();
        let paths = [
            "home-config/token",
            "home-config/missing/deeper",
            "home-config",
            "missing/x",
            "data/../home-config/gh",
        ];
        let mut shared = Canonicalizer::default();
        for rel in paths {
            let p = tmp.path().join(rel);
            assert_eq!(shared.resolve(&p), canonical_or_normal(&p), "{rel}");
        }
        assert_eq!(
            shared.resolve(&tmp.path().join("home-config/missing/deeper")),
            real.join("data/config/missing/deeper")
        );
    }
}
