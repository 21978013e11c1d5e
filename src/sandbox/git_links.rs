//! The `.git` files that tie a repository's submodule and worktree checkouts
//! to their gitdirs, so that [`super::resolve`] protects them.
//!
//! A submodule checkout holds a `.git` *file* (`gitdir: ../.git/modules/sub`)
//! and so does a linked worktree. Inside the workspace that file is an
//! ordinary writable file, and pointing it at a directory the command wrote
//! (`gitdir: ../planted`, with a `core.fsmonitor` in its config) makes a later,
//! unsandboxed `git status` of the superproject run the planted command when
//! it looks into the submodule. git itself says where these files are: each
//! submodule gitdir under `modules/` records its checkout in `core.worktree`,
//! and each `worktrees/<name>/gitdir` names the worktree's `.git` file.
//! A submodule checkout with an embedded `.git` *directory* is found by the
//! checkout's `.gitmodules` instead (read when the policy is resolved, so
//! the checkout's own, not one a command rewrote).

use std::path::{Path, PathBuf};

use super::resolve::canonical_or_normal;

/// The `.git` files of the submodule checkouts (nested ones included) and
/// linked worktrees of the repository whose gitdir is `gitdir`.
pub fn linked_dot_git_files(gitdir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    submodules(&gitdir.join("modules"), &mut out);
    if let Ok(entries) = std::fs::read_dir(gitdir.join("worktrees")) {
        for entry in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(entry.path().join("gitdir")) {
                let target = text.trim();
                if !target.is_empty() {
                    out.push(canonical_or_normal(&entry.path().join(target)));
                }
            }
        }
    }
    out
}

/// The `.git` of each submodule checkout `.gitmodules` names under
/// `worktree` (nested ones included), file or directory: a checkout with
/// an embedded `.git` directory (an old git, or a repository cloned into
/// place) has no gitdir under `modules/` to find it by. `worktree` must be
/// canonical.
pub fn gitmodules_dot_git(worktree: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    gitmodules(worktree, &mut out, 0);
    out
}

fn gitmodules(worktree: &Path, out: &mut Vec<PathBuf>, depth: usize) {
    let Ok(text) = std::fs::read_to_string(worktree.join(".gitmodules")) else {
        return;
    };
    for rel in submodule_paths(&text) {
        let checkout = worktree.join(&rel);
        let dot_git = checkout.join(".git");
        // Never through a symlink (git refuses one on a submodule's path),
        // so never outside the (canonical) root.
        let real = std::fs::canonicalize(&checkout).is_ok_and(|c| c == checkout);
        if !real || !checkout.is_dir() || std::fs::symlink_metadata(&dot_git).is_err() {
            continue;
        }
        out.push(dot_git);
        if depth < 8 {
            gitmodules(&checkout, out, depth + 1);
        }
    }
}

/// `submodule.*.path` values of a `.gitmodules` text, only plain relative
/// paths (no `..`, not absolute).
fn submodule_paths(text: &str) -> Vec<PathBuf> {
    let mut in_submodule = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[') {
            in_submodule = section
                .trim_start()
                .to_ascii_lowercase()
                .starts_with("submodule");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if !in_submodule || !key.trim().eq_ignore_ascii_case("path") {
            continue;
        }
        let path = PathBuf::from(value.trim().trim_matches('"'));
        let plain = path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        if plain && !path.as_os_str().is_empty() {
            out.push(path);
        }
    }
    out
}

/// Walk `modules/`: a directory with a `HEAD` is a submodule gitdir (its
/// name may hold slashes, so any other directory is walked further).
fn submodules(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue; // never through a symlink
        }
        if path.join("HEAD").is_file() {
            if let Some(worktree) = std::fs::read_to_string(path.join("config"))
                .ok()
                .and_then(|text| core_worktree(&text))
            {
                out.push(canonical_or_normal(&path.join(worktree)).join(".git"));
            }
            submodules(&path.join("modules"), out);
        } else {
            submodules(&path, out);
        }
    }
}

/// `core.worktree` of a git config text (the last one wins, as in git).
fn core_worktree(text: &str) -> Option<String> {
    let mut in_core = false;
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(section) = line.strip_prefix('[') {
            let name = section.split(']').next().unwrap_or("").trim();
            in_core = name.eq_ignore_ascii_case("core");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if in_core && key.trim().eq_ignore_ascii_case("worktree") {
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            found = Some(value.to_string());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_submodule_checkouts_nested_ones_and_worktrees() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let git = root.join("ws/.git");
        let module = |rel: &str, worktree: &str| {
            let d = git.join(rel);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("HEAD"), "ref: refs/heads/main\n").unwrap();
            std::fs::write(
                d.join("config"),
                format!("[core]\n\tbare = false\n\tworktree = {worktree}\n"),
            )
            .unwrap();
        };
        module("modules/sub", "../../../sub");
        module("modules/lib/foo", "../../../../lib/foo");
        module("modules/sub/modules/nested", "../../../../../sub/nested");
        std::fs::create_dir_all(git.join("worktrees/w")).unwrap();
        std::fs::write(
            git.join("worktrees/w/gitdir"),
            format!("{}\n", root.join("ws/wt/.git").display()),
        )
        .unwrap();
        let mut got = linked_dot_git_files(&git);
        got.sort();
        let mut want: Vec<PathBuf> = ["sub", "lib/foo", "sub/nested", "wt"]
            .iter()
            .map(|p| root.join("ws").join(p).join(".git"))
            .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn gitmodules_names_embedded_git_directories_nested_ones_and_no_escapes() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::write(
            ws.join(".gitmodules"),
            "[submodule \"a\"]\n\tpath = vendor/a\n\turl = x\n             [submodule \"up\"]\n\tpath = ../outside\n             [submodule \"abs\"]\n\tpath = /etc\n             [submodule \"missing\"]\n\tpath = gone\n             [submodule \"link\"]\n\tpath = link\n",
        )
        .unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outside.path().join(".git")).unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.join("link")).unwrap();
        std::fs::create_dir_all(ws.join("vendor/a/.git")).unwrap();
        std::fs::write(
            ws.join("vendor/a/.gitmodules"),
            "[submodule \"b\"]\npath = b\n",
        )
        .unwrap();
        std::fs::create_dir_all(ws.join("vendor/a/b")).unwrap();
        std::fs::write(ws.join("vendor/a/b/.git"), "gitdir: x\n").unwrap();
        assert_eq!(
            gitmodules_dot_git(&ws),
            [ws.join("vendor/a/.git"), ws.join("vendor/a/b/.git")]
        );
    }

    #[test]
    fn core_worktree_is_read_from_the_core_section_only() {
        assert_eq!(
            core_worktree("[core]\n worktree = \"../a b\"\n[x]\nworktree = no\n"),
            Some("../a b".into())
        );
        assert_eq!(core_worktree("[remote \"o\"]\nworktree = x\n"), None);
    }
}
