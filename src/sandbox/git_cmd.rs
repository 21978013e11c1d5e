//! The one way warden runs git itself: outside the sandbox, on a repository
//! that a sandboxed command may just have had write access to. Everything
//! that would let the repository (or the runner's environment) choose a
//! program for git to run, or change what git reads as history, is turned
//! off here, so a `git` warden runs executes git and nothing else.
//!
//! Repository config (`.git/config`, its includes) cannot be turned off from
//! the command line; the file guard restores it before warden's git runs,
//! and the settings below override the keys of it that run programs.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// `-c` settings for every git warden runs, each with why.
const CONFIG: &[&str] = &[
    // fsmonitor names a program git runs to list changed files (ls-files,
    // update-index refresh): the classic "config runs code" key.
    "core.fsmonitor=false",
    // update-ref runs the `reference-transaction` hook; no command here
    // should run any hook, so hooks come from a path that holds none.
    "core.hooksPath=/dev/null",
    // No transport: warden's git never fetches (a partial clone would
    // lazily fetch missing objects through the remote's helper or ssh).
    "core.sshCommand=",
    "protocol.allow=never",
    // No diff driver, pager or external diff runs for `git log`.
    "diff.external=",
    "core.pager=cat",
    // A forged commit-graph file can lie about a commit's parents and hide
    // a commit from the walk; read parents from the commits themselves.
    "core.commitGraph=false",
    // No automatic gc or maintenance (it could prune, or run anything).
    "gc.auto=0",
    "maintenance.auto=false",
];

/// A `git` command for the repository at `work_tree`, hardened (module doc).
/// With `git_dir`, git is told where the repository is and does no
/// discovery (a `.git` file redirecting elsewhere is not followed); without
/// it, discovery stops at `work_tree` (a ceiling at its parent).
/// `program` is `git` in production (found on PATH); tests pass a fake.
pub(crate) fn hardened_git(program: &OsStr, work_tree: &Path, git_dir: Option<&Path>) -> Command {
    let mut cmd = Command::new(program);
    // Nothing of warden's environment reaches git: GIT_DIR, GIT_EXEC_PATH
    // (which git-* programs run), GIT_SSH, GIT_EXTERNAL_DIFF,
    // GIT_CONFIG_PARAMETERS, LD_PRELOAD... Only PATH (to find git's own
    // programs) and HOME (git wants one; the global config is /dev/null).
    cmd.env_clear();
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            cmd.env(keep, v);
        }
    }
    cmd.envs([
        // No system or global config: the runner's, not the repository's.
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_ATTR_NOSYSTEM", "1"),
        // Reading never takes the index lock nor rewrites the index.
        ("GIT_OPTIONAL_LOCKS", "0"),
        ("GIT_PAGER", "cat"),
        ("GIT_TERMINAL_PROMPT", "0"),
        // `refs/replace/` and `info/grafts` change what history git shows;
        // warden judges the commits themselves.
        ("GIT_NO_REPLACE_OBJECTS", "1"),
        ("GIT_GRAFT_FILE", "/dev/null"),
        // No on-demand fetch of missing objects (partial clones).
        ("GIT_NO_LAZY_FETCH", "1"),
        // Pathspecs are paths, never globs or magic.
        ("GIT_LITERAL_PATHSPECS", "1"),
        ("LC_ALL", "C"),
    ]);
    for c in CONFIG {
        cmd.args(["-c", c]);
    }
    // git refuses a repository another user owns unless the runner's
    // global config lists it (actions/checkout does, for container jobs);
    // that config is not read here, so this workspace is listed instead.
    // The check exists because such a repository's config could run code,
    // which the settings above turn off.
    let mut safe = OsString::from("safe.directory=");
    safe.push(work_tree);
    cmd.arg("-c").arg(safe);
    cmd.args(["--no-pager", "--no-optional-locks"]);
    match git_dir {
        Some(dir) => {
            cmd.arg(format!("--git-dir={}", dir.display()));
            cmd.arg(format!("--work-tree={}", work_tree.display()));
        }
        None => {
            if let Some(parent) = work_tree.parent() {
                cmd.env("GIT_CEILING_DIRECTORIES", parent);
            }
        }
    }
    cmd.current_dir(work_tree);
    cmd
}

/// Run `cmd` (from [`hardened_git`]) with `stdin` fed to it, and return its
/// stdout; a failure is the first line of git's stderr.
pub(crate) fn run(mut cmd: Command, stdin: Option<&[u8]>) -> Result<Vec<u8>, String> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run git: {e}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error (git exited early) shows in its status below; git
        // reads all of its input before it acts, so no deadlock with stdout.
        let _ = pipe.write_all(input);
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        return Err(format!("git failed ({}): {}", out.status, first.trim()));
    }
    Ok(out.stdout)
}
