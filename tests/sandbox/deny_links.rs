//! Deny-read through symlinks and in the runner's temp directory (issue 12,
//! class 7 and the RUNNER_TEMP half of class 8): a `.env` that is a link
//! to a file outside the workspace, chains, links to directories, links
//! created by one command for the next, links inside a denied directory,
//! and the step scripts and credential files in `$RUNNER_TEMP`. Each test
//! first proves the read works without the sandbox.

use crate::sandbox_support;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use sandbox_support::{Fixture, warden_exe};

/// A canary file outside the workspace and outside every deny-read entry.
fn outside_secret(f: &Fixture, rel: &str) -> PathBuf {
    let p = f.home.parent().unwrap().join("outside").join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, format!("TOKEN={}\n", f.canary)).unwrap();
    p
}

#[tokio::test]
async fn a_dot_env_symlink_to_a_file_outside_the_workspace_is_denied_at_its_target() {
    let f = Fixture::new();
    let secret = outside_secret(&f, "app.env");
    symlink(&secret, f.ws.join(".env")).unwrap();
    f.assert_read_blocked("cat .env").await;
    // The target by its own name, and through a second, unmatched link.
    f.assert_read_blocked(&format!("cat {}", secret.display()))
        .await;
    f.assert_read_blocked(&format!(
        "ln -sf {} src/other && cat src/other",
        secret.display()
    ))
    .await;
}

#[tokio::test]
async fn a_chain_of_links_and_a_link_to_a_directory_are_denied_at_their_ends() {
    let f = Fixture::new();
    let secret = outside_secret(&f, "chain/end.env");
    let hop = f.home.parent().unwrap().join("hop");
    symlink(&secret, &hop).unwrap();
    symlink(&hop, f.ws.join("src/hop2")).unwrap();
    symlink("hop2", f.ws.join("src/.env")).unwrap();
    f.assert_read_blocked("cat src/.env").await;
    f.assert_read_blocked(&format!("cat {}", secret.display()))
        .await;

    let dir_secret = outside_secret(&f, "vault/db.env");
    std::fs::create_dir_all(f.ws.join("src/deep")).unwrap();
    symlink(dir_secret.parent().unwrap(), f.ws.join("src/deep/.env")).unwrap();
    f.assert_read_blocked("cat src/deep/.env/db.env").await;
    f.assert_read_blocked(&format!("cat {}", dir_secret.display()))
        .await;
}

/// `warden run` keeps the glob matches with inotify between commands: a
/// link one command plants under a deny glob is resolved for the next,
/// and so is one whose target appears only later.
#[tokio::test]
async fn a_dot_env_link_planted_by_one_command_is_denied_at_its_target_to_the_next() {
    let f = Fixture::new();
    let secret = outside_secret(&f, "planted.env");
    std::fs::create_dir_all(f.ws.join("pkg")).unwrap();
    assert_eq!(f.run("cat README.md").await.exit_code, Some(0), "warm");
    let out = f.run(&format!("ln -s {} src/.env", secret.display())).await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    f.assert_read_blocked("cat src/.env").await;
    f.assert_read_blocked(&format!("cat {}", secret.display()))
        .await;

    // A dangling link whose target is written later, outside the sandbox.
    let later = f.home.parent().unwrap().join("outside/later.env");
    let out = f
        .run(&format!(
            "mkdir -p pkg/l && ln -s {} pkg/l/.env",
            later.display()
        ))
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    std::fs::write(&later, format!("TOKEN={}\n", f.canary)).unwrap();
    f.assert_read_blocked("cat pkg/l/.env").await;
}

#[tokio::test]
async fn a_link_inside_a_denied_directory_is_denied_at_its_target() {
    let f = Fixture::new();
    // A dotfile manager keeps the real key elsewhere.
    let real = f.home.join("dotfiles/ssh/id_ed25519");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, format!("KEY {}\n", f.canary)).unwrap();
    symlink(&real, f.home.join(".ssh/id_ed25519")).unwrap();
    f.assert_read_blocked("cat ~/.ssh/id_ed25519").await;
    f.assert_read_blocked(&format!("cat {}", real.display()))
        .await;
    // The rest of the dotfiles stay readable.
    std::fs::write(f.home.join("dotfiles/bashrc"), "ok\n").unwrap();
    assert_eq!(f.run("cat ~/dotfiles/bashrc").await.stdout, "ok\n");
}

/// A fake self-hosted runner: `RUNNER_TEMP` is `<runner>/_work/_temp`.
struct RunnerTemp {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

fn runner_temp(f: &Fixture) -> RunnerTemp {
    let runner = f.home.parent().unwrap().join("actions-runner");
    let dir = runner.join("_work/_temp");
    let uuid = "3f2c1d9e-8a7b-4c6d-9e0f-1a2b3c4d5e6f";
    let files = vec![
        // The step's own script.
        dir.join(format!("{uuid}.sh")),
        // actions/checkout v6's credentials file.
        dir.join(format!("git-credentials-{uuid}.config")),
        // What earlier steps appended to GITHUB_ENV.
        dir.join(format!("_runner_file_commands/set_env_{uuid}")),
        // The runner's registration credentials.
        runner.join(".credentials"),
        runner.join(".credentials_rsaparams"),
    ];
    for p in &files {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("SECRET={}\n", f.canary)).unwrap();
    }
    RunnerTemp { dir, files }
}

fn warden_sandbox(f: &Fixture, rt: &Path, tmpdir: &Path, script: &str) -> std::process::Output {
    Command::new(warden_exe())
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(["--", "bash", "-c", script])
        .env("HOME", &f.home)
        .env("RUNNER_TEMP", rt)
        .env("TMPDIR", tmpdir)
        .output()
        .unwrap()
}

#[test]
fn runner_temp_and_the_runner_s_credentials_are_unreadable_inside_warden_sandbox() {
    let f = Fixture::new();
    let rt = runner_temp(&f);
    for file in &rt.files {
        let script = format!("cat {}", file.display());
        let direct = f.run_direct(&script);
        assert!(
            String::from_utf8_lossy(&direct.stdout).contains(&f.canary),
            "control: {direct:?}"
        );
        let tmp = f.home.parent().unwrap().join("systmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let out = warden_sandbox(&f, &rt.dir, &tmp, &script);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!all.contains(&f.canary), "{} leaked: {all}", file.display());
        assert_ne!(out.status.code(), Some(0), "{all}");
    }
    // A wildcard over the directory reads nothing either.
    let tmp = f.home.parent().unwrap().join("systmp");
    let out = warden_sandbox(
        &f,
        &rt.dir,
        &tmp,
        &format!("cat {}/* {}/*/* 2>&1", rt.dir.display(), rt.dir.display()),
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&f.canary));
}

/// With the system temp dir *being* `RUNNER_TEMP` (a runner whose TMPDIR
/// points there), the command's own `TMPDIR` inside it still works, and
/// the step script next to it stays unreadable.
#[test]
fn warden_s_own_temp_dir_in_runner_temp_stays_usable() {
    let f = Fixture::new();
    let rt = runner_temp(&f);
    let out = warden_sandbox(
        &f,
        &rt.dir,
        &rt.dir,
        &format!(
            "echo mine > \"$TMPDIR/x\" && cat \"$TMPDIR/x\" && cat {}",
            rt.files[0].display()
        ),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("mine\n"), "{out:?}");
    assert!(!stdout.contains(&f.canary), "{stdout}");
    assert_ne!(out.status.code(), Some(0));
}

/// The credential files the default list was missing (issue 12, class 7)
/// are unreadable under every built-in profile's `deny_read`, as
/// `warden sandbox` applies it with a HOME holding them all.
#[test]
fn default_deny_read_covers_the_credential_files_of_common_tools() {
    let f = Fixture::new();
    let in_home = [
        ".config/git/credentials",
        ".m2/settings.xml",
        ".config/pip/pip.conf",
        ".yarnrc.yml",
        ".pgpass",
        ".config/containers/auth.json",
        ".codex/auth.json",
        ".config/github-copilot/apps.json",
        ".claude/.credentials.json",
        ".cache/huggingface/token",
        ".docker/config.json",
        ".kube/config",
        ".aws/credentials",
        ".netrc",
        ".git-credentials",
        ".config/gh/hosts.yml",
        ".cargo/credentials.toml",
        ".terraform.d/credentials.tfrc.json",
    ];
    let mut files: Vec<PathBuf> = in_home.iter().map(|r| f.home.join(r)).collect();
    files.push(f.ws.join("gha-creds-0123456789abcdef.json"));
    for p in &files {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, format!("secret {}\n", f.canary)).unwrap();
    }
    // Builds still read what sits next to them.
    std::fs::write(f.home.join(".cache/huggingface/models.txt"), "ok\n").unwrap();
    for profile in ["ci", "dev", "review", "nightly"] {
        for p in &files {
            let script = format!("cat {}", p.display());
            let direct = f.run_direct(&script);
            assert!(
                String::from_utf8_lossy(&direct.stdout).contains(&f.canary),
                "control: {direct:?}"
            );
            let out = Command::new(warden_exe())
                .args(["sandbox", "--profile", profile, "--cwd"])
                .arg(&f.ws)
                .args(["--", "bash", "-c", &script])
                .env("HOME", &f.home)
                .output()
                .unwrap();
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(&f.canary),
                "{profile}: {} readable",
                p.display()
            );
            assert_ne!(out.status.code(), Some(0), "{profile}: {}", p.display());
        }
    }
    let out = Command::new(warden_exe())
        .args(["sandbox", "--profile", "ci", "--cwd"])
        .arg(&f.ws)
        .args(["--", "cat"])
        .arg(f.home.join(".cache/huggingface/models.txt"))
        .env("HOME", &f.home)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n", "{out:?}");
}

/// The same as an unprivileged user (root in the tests and CI drops to
/// `nobody` with `setpriv`): a runner's files readable to that user by
/// their mode stay unreadable in the sandbox, and so does a symlinked
/// `.env`'s target.
#[test]
fn runner_temp_and_link_targets_are_unreadable_as_an_unprivileged_user() {
    use std::os::unix::fs::PermissionsExt;
    let is_root = euid_is_root();
    if is_root && !sandbox_support::require_tool("setpriv") {
        return;
    }
    let f = Fixture::new();
    let rt = runner_temp(&f);
    let secret = outside_secret(&f, "app.env");
    symlink(&secret, f.ws.join(".env")).unwrap();
    // Everything readable (and the workspace writable) by `nobody`, by mode.
    let root = f.home.parent().unwrap().to_path_buf();
    let mut stack = vec![root.parent().unwrap().join(root.file_name().unwrap())];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.file_type().is_symlink() {
            continue;
        }
        let mode = if meta.is_dir() { 0o777 } else { 0o666 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    let as_user = |sandboxed: bool, target: &Path| {
        let mut cmd = if is_root {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
            c
        } else {
            Command::new("env")
        };
        if sandboxed {
            cmd.arg(warden_exe())
                .args(["sandbox", "--profile", "ci", "--cwd"])
                .arg(&f.ws)
                .arg("--");
        }
        cmd.arg("cat")
            .arg(target)
            .current_dir(&f.ws)
            .env("HOME", &f.home)
            .env("RUNNER_TEMP", &rt.dir)
            .env("TMPDIR", &root)
            .output()
            .unwrap()
    };
    // The sandbox does start for that user and reads what it may.
    let readme = as_user(true, &f.ws.join("README.md"));
    assert_eq!(
        String::from_utf8_lossy(&readme.stdout),
        "hello\n",
        "{readme:?}"
    );
    for target in [&rt.files[0], &rt.files[1], &f.ws.join(".env"), &secret] {
        let direct = as_user(false, target);
        assert!(
            String::from_utf8_lossy(&direct.stdout).contains(&f.canary),
            "control as the user: {direct:?}"
        );
        let out = as_user(true, target);
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(&f.canary),
            "{} leaked to the unprivileged user: {out:?}",
            target.display()
        );
        assert_ne!(out.status.code(), Some(0), "{out:?}");
    }
}

/// Whether the tests run as root (`/proc/self/status`, no libc call).
fn euid_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
        .unwrap_or(false)
}
