//! Holes found by attacking the hardened sandbox from outside (red team,
//! after issue 12), each proven first without the sandbox and then closed
//! in the real one, as the unprivileged user a hosted runner is (root in
//! the tests and CI drops to `nobody` with `setpriv`).
//!
//! Landlock does not cover `chmod`: a command may change the mode of any
//! file its user owns, inside the writable roots or not. Deny-read entries
//! that warden finds by listing a directory (the entries of `$RUNNER_TEMP`,
//! the matches of a `**/.env` glob) were skipped when the listing failed,
//! so a command could make a directory unlistable (`chmod 300`), let the
//! next command's plan see nothing in it, and `chmod 755` it back to read
//! what it holds.

use crate::run_support;
use crate::sandbox_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sandbox_support::{git, require_tool, warden_exe};

const NOBODY: u32 = 65534;

pub(crate) fn euid_is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command run as the unprivileged user: `nobody` through `setpriv` when
/// the tests run as root, else the current user.
pub(crate) fn as_user(program: &Path) -> Command {
    if euid_is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A temp tree owned by the user the commands run as (`nobody` when root),
/// with a git workspace `ws` and a HOME (also used by `audit_reach`).
pub(crate) struct Tree {
    _tmp: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) ws: PathBuf,
    pub(crate) home: PathBuf,
    canary: String,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&ws).unwrap();
        git(&ws, &["init", "-q", "-b", "main"]);
        std::fs::write(ws.join("README.md"), "hello\n").unwrap();
        Tree {
            _tmp: tmp,
            root,
            ws,
            home,
            canary: format!("CANARY-{:016x}", fastrand::u64(..)),
        }
    }

    /// Hand the whole tree to the user the commands run as.
    pub(crate) fn give_away(&self) {
        std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o755)).unwrap();
        if !euid_is_root() {
            return;
        }
        let mut stack = vec![self.root.clone()];
        while let Some(p) = stack.pop() {
            std::os::unix::fs::lchown(&p, Some(NOBODY), Some(NOBODY)).unwrap();
            if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            }
        }
    }

    pub(crate) fn sh_as_user(&self, script: &str) -> std::process::Output {
        as_user(Path::new("/bin/sh"))
            .args(["-c", script])
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .output()
            .unwrap()
    }
}

/// `warden run` with a `$RUNNER_TEMP` holding a step script (GitHub writes
/// `run:` steps there with `${{ secrets.* }}` already substituted): one
/// command makes the directory unlistable, the next makes it listable again
/// and reads the script. The unlistable directory is now denied as a whole.
#[test]
fn an_unlistable_runner_temp_is_denied_as_a_whole_in_warden_run() {
    if euid_is_root() && !require_tool("setpriv") {
        return;
    }
    let t = Tree::new();
    let rt = t.root.join("runner-temp");
    std::fs::create_dir_all(&rt).unwrap();
    let step = rt.join("0f9d2c4e-5b6a-4f1e-9d3c-2a7b8c9d0e1f.sh");
    std::fs::write(&step, format!("echo token={}\n", t.canary)).unwrap();
    // The attacker's helper, so that no command names `$RUNNER_TEMP` (the
    // pipeline would refuse that by itself, before the sandbox).
    std::fs::write(
        t.ws.join("x.sh"),
        format!(
            "case $1 in\nhide) chmod 300 '{rt}' ;;\nread) chmod 755 '{rt}'; cat '{rt}'/*.sh; echo read-done ;;\nesac\n",
            rt = rt.display()
        ),
    )
    .unwrap();
    let scenario = t.root.join("scenario.yaml");
    std::fs::write(
        &scenario,
        "description: hide the runner temp dir from the plan, then read it\nprompt: x\nturns:\n\
         \x20 - tool_calls:\n      - name: shell\n        arguments: { command: \"sh x.sh hide\" }\n\
         \x20 - tool_calls:\n      - name: shell\n        arguments: { command: \"sh x.sh read\" }\n\
         \x20 - text: done\n",
    )
    .unwrap();
    let audit = t.root.join("audit/run.jsonl");
    t.give_away();

    // Control: as the user, without the sandbox, the two steps read it.
    let direct = t.sh_as_user("sh x.sh hide && sh x.sh read");
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains(&t.canary),
        "control: {direct:?}"
    );

    let out = as_user(&warden_exe())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &t.home)
        .env("LANG", "C.UTF-8")
        .env("RUNNER_TEMP", &rt)
        .arg("--cwd")
        .arg(&t.ws)
        .args(["run", "--profile", "ci", "--provider", "script"])
        .arg("--scenario")
        .arg(&scenario)
        .arg("--audit")
        .arg(&audit)
        .arg("x")
        .output()
        .unwrap();
    // The commands' output is in the audit log (`output_excerpt`).
    let all: Vec<String> = run_support::read_jsonl(&audit)
        .iter()
        .map(|r| r.to_string())
        .collect();
    let all = all.join("\n");
    assert!(
        all.contains("read-done"),
        "the reading command ran in the sandbox: {out:?}\n{all}"
    );
    assert!(
        !all.contains(&t.canary)
            && !String::from_utf8_lossy(&out.stdout).contains(&t.canary)
            && !String::from_utf8_lossy(&out.stderr).contains(&t.canary),
        "the step script leaked: {all}"
    );
}

/// A `**/.env` in a directory that is not listable when the plan is made
/// (`chmod 000`, by an earlier step or command of the same user) was not
/// denied; the command made the directory listable and read it. The
/// directory is now denied as a whole, and the rest of the workspace
/// stays readable.
#[test]
fn a_dot_env_in_an_unlistable_directory_stays_unreadable() {
    if euid_is_root() && !require_tool("setpriv") {
        return;
    }
    let t = Tree::new();
    let cfg = t.ws.join("config");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join(".env"), format!("API_KEY={}\n", t.canary)).unwrap();
    t.give_away();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o000)).unwrap();
    let attack = "chmod 755 config; cat config/.env";

    let direct = t.sh_as_user(attack);
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains(&t.canary),
        "control: {direct:?}"
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o000)).unwrap();

    let sandboxed = |script: &str| {
        as_user(&warden_exe())
            .args(["sandbox", "--profile", "ci", "--cwd"])
            .arg(&t.ws)
            .args(["--", "sh", "-c", script])
            .env("HOME", &t.home)
            .output()
            .unwrap()
    };
    let out = sandboxed(attack);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&t.canary),
        "{out:?}"
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let readme = sandboxed("cat README.md");
    assert_eq!(
        String::from_utf8_lossy(&readme.stdout),
        "hello\n",
        "{readme:?}"
    );
}

/// Credential files the default list still missed: git's cookie file
/// (`http.cookieFile`, how Gerrit and googlesource hosts authenticate),
/// Pulumi's and sentry-cli's tokens. Unreadable under every built-in
/// profile.
#[test]
fn credential_files_the_defaults_missed_are_unreadable() {
    let t = Tree::new();
    let files =
        [".gitcookies", ".pulumi/credentials.json", ".sentryclirc"].map(|rel| t.home.join(rel));
    for p in &files {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("token {}\n", t.canary)).unwrap();
    }
    for profile in ["ci", "dev", "review", "nightly"] {
        for p in &files {
            let run = |sandboxed: bool| {
                let mut cmd = if sandboxed {
                    let mut c = Command::new(warden_exe());
                    c.args(["sandbox", "--profile", profile, "--cwd"])
                        .arg(&t.ws)
                        .args(["--", "cat"]);
                    c
                } else {
                    Command::new("cat")
                };
                cmd.arg(p).env("HOME", &t.home).output().unwrap()
            };
            let direct = run(false);
            assert!(
                String::from_utf8_lossy(&direct.stdout).contains(&t.canary),
                "control: {direct:?}"
            );
            let out = run(true);
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(&t.canary),
                "{profile}: {} readable: {out:?}",
                p.display()
            );
            assert_ne!(out.status.code(), Some(0), "{profile}: {out:?}");
        }
    }
}

/// The home of the account the tests run as, from `/etc/passwd`.
fn account_home() -> Option<PathBuf> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() }.to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() > 5 && f[2] == uid).then(|| PathBuf::from(f[5]))
    })
}

/// Removes a file on drop (a canary planted in the account's real home).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `~` in `deny_read` expanded against `$HOME` only: with a `$HOME` that
/// is not the account's home (GitHub's container jobs run root with
/// `HOME=/github/home`; ssh and others keep using `/root`), the account's
/// own `~/.ssh`, `~/.aws`, … stayed readable. Both are denied now.
#[test]
fn deny_read_under_home_also_covers_the_account_s_own_home() {
    let account = account_home().filter(|h| h.is_dir());
    if !sandbox_support::require(
        account.is_some(),
        "the account has no home directory in /etc/passwd",
    ) {
        return;
    }
    let account = account.unwrap();
    let t = Tree::new();
    let name = format!("warden-redteam-{:016x}", fastrand::u64(..));
    let secret = RemoveOnDrop(account.join(&name));
    std::fs::write(&secret.0, format!("{}\n", t.canary)).unwrap();
    let deny = format!("sandbox.deny_read=[\"~/{name}\"]");
    let direct = Command::new("cat").arg(&secret.0).output().unwrap();
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains(&t.canary),
        "control: {direct:?}"
    );
    let out = Command::new(warden_exe())
        .args(["sandbox", "--profile", "ci", "-c", &deny, "--cwd"])
        .arg(&t.ws)
        .arg("--")
        .arg("cat")
        .arg(&secret.0)
        .env("HOME", &t.home)
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains(&t.canary),
        "the account's home was readable with another HOME: {out:?}"
    );
    assert_ne!(out.status.code(), Some(0), "{out:?}");
}
