//! Credentials git's config hands to every sandboxed command: the config
//! must stay readable (git needs it), so `warden run` refuses to start the
//! agent next to one.
//!
//! What is found: `actions/checkout` v5 writes the job's token into the
//! checkout's `.git/config` as `http.<origin>/.extraheader = AUTHORIZATION:
//! basic <base64>`; v6 writes the same entry into
//! `$RUNNER_TEMP/git-credentials-<uuid>.config` and points the checkout at
//! it with `includeIf "gitdir:<workspace>/.git"` (and `…/.git/worktrees/*`,
//! and the container paths `/github/workspace/…` →
//! `/github/runner_temp/…`), submodules with `includeIf
//! "gitdir:<workspace>/.git/modules/<name>"`. Remote, proxy and `url.<base>`
//! URLs can carry `user:token@`. Every config git reads in the sandbox is
//! scanned — the checkout's (its gitdir and common dir, `config.worktree`,
//! each submodule's under `modules/`), the user's (`~/.gitconfig`,
//! `~/.config/git/config`) and the system's (`/etc/gitconfig`) — with their
//! includes followed ([`super::git_config`]).

use std::path::{Path, PathBuf};

use super::git_config::{self, Entry};

/// Depth of `.git/modules/<a>/modules/<b>/…` searched for submodule configs.
const MAX_SUBMODULE_DEPTH: usize = 8;

/// One credential found: where, and what kind (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedCredential {
    pub file: PathBuf,
    pub line: usize,
    pub kind: String,
    /// The include that brought this file in (`file`, line), if any.
    pub included_from: Option<(PathBuf, usize)>,
}

impl std::fmt::Display for PersistedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.kind)?;
        if let Some((from, line)) = &self.included_from {
            write!(f, " (included from {}:{line})", from.display())?;
        }
        Ok(())
    }
}

/// The git config files a command in `workspace` reads (with `home` as
/// HOME) and the credentials in them and in everything they include.
pub fn persisted_credentials(workspace: &Path, home: Option<&Path>) -> Vec<PersistedCredential> {
    let mut found = Vec::new();
    for root in config_roots(workspace, home) {
        let (files, problems) = git_config::read_with_includes(&root, home);
        for file in files {
            for (line, kind) in scan_entries(&file.entries) {
                found.push(PersistedCredential {
                    file: file.path.clone(),
                    line,
                    kind: kind.to_string(),
                    included_from: file.included_from.clone(),
                });
            }
        }
        for (file, line, what) in problems {
            found.push(PersistedCredential {
                file,
                line,
                kind: format!("{what}: the included files cannot all be checked"),
                included_from: None,
            });
        }
    }
    found.dedup();
    found
}

/// Every top-level config file git may read for a command in `workspace`.
fn config_roots(workspace: &Path, home: Option<&Path>) -> Vec<PathBuf> {
    let dot_git = workspace.join(".git");
    let mut dirs = vec![dot_git.clone()];
    dirs.extend(super::resolve::real_gitdirs(&dot_git));
    let mut roots = Vec::new();
    let mut modules = Vec::new();
    for dir in &dirs {
        roots.push(dir.join("config"));
        roots.push(dir.join("config.worktree"));
        modules.push((dir.join("modules"), 0));
    }
    while let Some((dir, depth)) = modules.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in rd.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let module = entry.path();
            roots.push(module.join("config"));
            roots.push(module.join("config.worktree"));
            if depth < MAX_SUBMODULE_DEPTH {
                // A submodule name may contain `/`, and nested ones sit in
                // `<module>/modules/`: search every directory below.
                modules.push((module, depth + 1));
            }
        }
    }
    if let Some(home) = home {
        roots.push(home.join(".gitconfig"));
        roots.push(home.join(".config/git/config"));
    }
    roots.push(PathBuf::from("/etc/gitconfig"));
    roots.sort();
    roots.dedup();
    roots
}

/// `(line, kind)` of every credential-bearing entry.
fn scan_entries(entries: &[Entry]) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for e in entries {
        let value = e.value.as_deref().unwrap_or("").to_ascii_lowercase();
        if e.key == "extraheader" && e.section == "http" && is_secret_header(&value) {
            out.push((e.line, "an http.extraheader with a credential header"));
        } else if matches!(
            e.key.as_str(),
            "url" | "pushurl" | "proxy" | "insteadof" | "pushinsteadof"
        ) && url_has_userinfo(&value)
        {
            out.push((e.line, "a URL with a user name or token in it"));
        } else if e.section == "credential" && e.key == "helper" && inline_secret(&value) {
            out.push((e.line, "a credential helper that prints a secret itself"));
        } else if e
            .subsection
            .as_deref()
            .is_some_and(|s| url_has_userinfo(&s.to_ascii_lowercase()))
        {
            out.push((
                e.line,
                "a URL with a user name or token in its section name",
            ));
        }
    }
    out
}

/// `AUTHORIZATION: basic …` and other headers that carry a secret
/// (`PRIVATE-TOKEN`, `X-Api-Key`, `Cookie`, …).
fn is_secret_header(value: &str) -> bool {
    let name = value.split(':').next().unwrap_or("");
    ["auth", "token", "cookie", "key", "secret", "session"]
        .iter()
        .any(|w| name.contains(w))
}

/// An inline helper (`!f() { echo password=…; }; f`) that carries the
/// secret rather than fetching it from a store.
fn inline_secret(helper: &str) -> bool {
    helper.starts_with('!')
        && ["password=", "ghp_", "ghs_", "gho_", "github_pat_", "glpat-"]
            .iter()
            .any(|w| helper.contains(w))
}

/// `scheme://user[:secret]@host…` (scp-like `git@host:path` is not one).
fn url_has_userinfo(url: &str) -> bool {
    let url = url.trim_matches('"');
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    match authority.split_once('@') {
        // ssh://git@host is a login name, not a secret.
        Some((user, _)) => url.starts_with("http") || user.contains(':'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str) -> Vec<(usize, &'static str)> {
        scan_entries(&git_config::parse(text))
    }

    #[test]
    fn finds_what_actions_checkout_persists_and_tokens_in_urls() {
        let text = "[core]\n\trepositoryformatversion = 0\n\
[remote \"origin\"]\n\turl = https://x-access-token:ghs_abc@github.com/o/r\n\
\tfetch = +refs/heads/*:refs/remotes/origin/*\n\
[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3M=\n\
[HTTP.https://h/]\n\tExtraHeader = \"PRIVATE-TOKEN: glpat-x\"\n\
[url \"https://git.example/\"]\n\tinsteadOf = https://x:tok@github.com/\n\
[credential]\n\thelper = \"!f() { echo password=ghs_x; }; f\"\n\
[credential]\n\thelper = store\n";
        assert_eq!(
            scan(text).into_iter().map(|(l, _)| l).collect::<Vec<_>>(),
            [4, 7, 9, 11, 13]
        );
    }

    #[test]
    fn ordinary_configs_are_clean() {
        let text = "[remote \"origin\"]\n\turl = https://github.com/o/r\n\
[remote \"ssh\"]\n\turl = git@github.com:o/r.git\n\
[remote \"ssh2\"]\n\turl = ssh://git@github.com/o/r.git\n\
[http]\n\textraheader = X-Trace: 1\n[user]\n\tname = A = B\n";
        assert!(scan(text).is_empty(), "{:?}", scan(text));
    }

    #[test]
    fn worktree_gitdirs_are_read_too() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("repo.git");
        std::fs::create_dir_all(real.join("worktrees/w")).unwrap();
        std::fs::write(real.join("worktrees/w/commondir"), "../..\n").unwrap();
        std::fs::write(
            real.join("config"),
            "[http]\n\textraheader = Authorization: bearer x\n",
        )
        .unwrap();
        let ws = tmp.path().join("w");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(
            ws.join(".git"),
            format!("gitdir: {}\n", real.join("worktrees/w").display()),
        )
        .unwrap();
        let found = persisted_credentials(&ws, None);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].file.ends_with("repo.git/config"));
        assert_eq!(found[0].line, 2);
    }
}
