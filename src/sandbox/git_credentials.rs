//! Credentials a checkout leaves in git's config, where every sandboxed
//! command can read them: `actions/checkout` without
//! `persist-credentials: false` writes the job's token as
//! `http.<url>.extraheader = AUTHORIZATION: basic …`, and a remote URL can
//! carry `user:token@`. `.git/config` cannot be deny-read (git needs it),
//! so `warden run` refuses to start the agent next to one.

use std::path::{Path, PathBuf};

/// One credential found: where, and what kind (never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedCredential {
    pub file: PathBuf,
    pub line: usize,
    pub kind: &'static str,
}

impl std::fmt::Display for PersistedCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.kind)
    }
}

/// The git config files of `workspace`'s checkout (`.git/config`, or a
/// worktree's real gitdir and common dir) and the credentials in them.
pub fn persisted_credentials(workspace: &Path) -> Vec<PersistedCredential> {
    let dot_git = workspace.join(".git");
    let mut dirs = vec![dot_git.clone()];
    dirs.extend(super::policy::real_gitdirs(&dot_git));
    let mut found = Vec::new();
    for dir in dirs {
        let file = dir.join("config");
        if let Ok(text) = std::fs::read_to_string(&file) {
            found.extend(
                scan(&text)
                    .into_iter()
                    .map(|(line, kind)| PersistedCredential {
                        file: file.clone(),
                        line,
                        kind,
                    }),
            );
        }
    }
    found
}

/// `(line, kind)` of every credential-bearing entry of a git config text.
fn scan(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let Some((key, value)) = raw.split_once('=') else {
            continue;
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().to_ascii_lowercase();
        if key == "extraheader" && value.contains("authorization") {
            out.push((i + 1, "an http.extraheader with an Authorization header"));
        } else if matches!(key.as_str(), "url" | "pushurl") && url_has_userinfo(&value) {
            out.push((i + 1, "a remote URL with a user name or token in it"));
        }
    }
    out
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

    #[test]
    fn finds_what_actions_checkout_persists_and_tokens_in_urls() {
        let text = "[core]\n\trepositoryformatversion = 0\n\
[remote \"origin\"]\n\turl = https://x-access-token:ghs_abc@github.com/o/r\n\
\tfetch = +refs/heads/*:refs/remotes/origin/*\n\
[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic eC1hY2Nlc3M=\n";
        assert_eq!(
            scan(text).into_iter().map(|(l, _)| l).collect::<Vec<_>>(),
            [4, 7]
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
        let found = persisted_credentials(&ws);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].file.ends_with("repo.git/config"));
        assert_eq!(found[0].line, 2);
    }
}
