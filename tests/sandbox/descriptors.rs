//! Class 5 of the boundary: descriptors inherited by warden are not the
//! command's. `warden sandbox -- sh -c 'cat <&7' 7<~/.ssh/id_rsa` printed
//! the key; now every descriptor above stdin, stdout and stderr is
//! close-on-exec when the command starts (`close_range` in the command's
//! process, on every launch path). Each test first shows the descriptor
//! works without the sandbox.

use crate::sandbox_support;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Once;

use sandbox_support::{Fixture, require_tool, warden_exe};

/// A canary file outside the workspace (not in any deny list: the
/// descriptor, not the path, is what must not reach the command).
fn secret(f: &Fixture) -> std::path::PathBuf {
    let path = f.home.join("secret.txt");
    std::fs::write(&path, format!("{}\n", f.canary)).unwrap();
    path
}

/// `bash -c 'bash -c CMD N<FILE'` (dash has no descriptor above 9) with `CMD` being `inner` either directly or
/// through `warden sandbox`: the shell opens FILE at descriptor N (without
/// close-on-exec) and execs, as a CI step would.
fn with_descriptor(f: &Fixture, sandboxed: bool, inner: &str, fd: u32, file: &Path) -> Output {
    let prefix = if sandboxed {
        "exec \"$0\" sandbox --cwd \"$1\" -- "
    } else {
        "exec "
    };
    let script = format!("{prefix}bash -c '{inner}' {fd}<\"$2\"");
    Command::new("bash")
        .arg("-c")
        .arg(&script)
        .arg(warden_exe())
        .arg(&f.ws)
        .arg(file)
        .current_dir(&f.ws)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn assert_descriptor_closed(f: &Fixture, inner: &str, fd: u32, file: &Path) {
    let direct = with_descriptor(f, false, inner, fd, file);
    assert!(
        text(&direct).contains(&f.canary),
        "control: `{inner}` with fd {fd} did not read the file without the sandbox: {direct:?}"
    );
    let out = with_descriptor(f, true, inner, fd, file);
    assert!(
        !text(&out).contains(&f.canary),
        "`{inner}` read an inherited descriptor through the sandbox: {out:?}"
    );
    assert!(!out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bad file descriptor"),
        "{out:?}"
    );
}

#[test]
fn an_inherited_descriptor_of_a_secret_is_closed() {
    let f = Fixture::new();
    let file = secret(&f);
    assert_descriptor_closed(&f, "cat <&7", 7, &file);
}

#[test]
fn a_high_inherited_descriptor_is_closed() {
    let f = Fixture::new();
    let file = secret(&f);
    assert_descriptor_closed(&f, "cat <&200", 200, &file);
}

#[test]
fn an_inherited_directory_descriptor_cannot_be_opened_from() {
    if !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    secret(&f);
    // openat(7, "secret.txt"): the classic escape through a directory
    // descriptor opened outside.
    let inner = "python3 -c \"import os; print(open(os.open(\\\"secret.txt\\\", os.O_RDONLY, dir_fd=7)).read())\"";
    assert_descriptor_closed(&f, inner, 7, &f.home);
}

#[tokio::test]
async fn a_directory_descriptor_opened_inside_does_not_reach_a_denied_file() {
    if !require_tool("python3") {
        return;
    }
    // Landlock checks the path walked from a directory descriptor too: the
    // fixture denies ~/.ssh, and HOME itself is readable.
    let f = Fixture::new();
    leak_into_children(&f);
    let home = f.home.display();
    f.assert_read_blocked(&format!(
        "python3 -c 'import os; d = os.open(\"{home}\", os.O_RDONLY); \
         print(open(os.open(\".ssh/id_rsa\", os.O_RDONLY, dir_fd=d)).read())'"
    ))
    .await;
}

/// A descriptor of the canary open in this test process without
/// close-on-exec, at 200, before this binary's first sandboxed command
/// (so the zygote `execute` starts inherits it, as `warden run`'s would
/// from a CI step).
fn leak_into_children(f: &Fixture) {
    static LEAKED: Once = Once::new();
    let file = secret(f);
    LEAKED.call_once(|| {
        let path = std::ffi::CString::new(file.as_os_str().as_bytes()).unwrap();
        // SAFETY: open and dup2 on a path we own; the descriptor is kept
        // open on purpose for the rest of the process.
        unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
            assert!(fd >= 0);
            assert_eq!(libc::dup2(fd, 200), 200);
            libc::close(fd);
        }
    });
}

#[tokio::test]
async fn warden_runs_supervisors_close_inherited_descriptors() {
    let f = Fixture::new();
    leak_into_children(&f);
    // Every Fixture writes its own canary; the leaked descriptor is the
    // first one's (of this process), so read what it holds.
    let direct = f.run_direct("cat <&200");
    let leaked = String::from_utf8_lossy(&direct.stdout).to_string();
    assert!(
        leaked.starts_with("CANARY-"),
        "control: fd 200 is not readable without the sandbox: {direct:?}"
    );
    let out = f.run("cat <&200; ls /proc/self/fd").await;
    assert!(
        !out.stdout.contains(leaked.trim()) && !out.stderr.contains(leaked.trim()),
        "{out:?}"
    );
    assert!(out.stderr.contains("Bad file descriptor"), "{out:?}");
    // Only stdin, stdout, stderr (and ls's own directory descriptor).
    let fds: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{out:?}");
}

#[test]
fn stdin_stdout_and_stderr_still_reach_the_command() {
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "echo piped-in | \"$0\" sandbox --cwd \"$1\" -- \
             sh -c 'read x; echo \"out:$x\"; echo \"err:$x\" >&2; ls /proc/self/fd'",
        )
        .arg(warden_exe())
        .arg(&Fixture::new().ws)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.starts_with("out:piped-in\n"), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("err:piped-in"),
        "{out:?}"
    );
    let fds: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{out:?}");
}

#[tokio::test]
async fn mcp_servers_close_inherited_descriptors() {
    use tokio::io::AsyncReadExt;
    use warden::sandbox::stdio::{StdioRequest, spawn_stdio};
    // An MCP server starts through a fresh `warden __sandbox-exec`, which
    // inherits this process's leaked descriptor 200.
    let f = Fixture::new();
    leak_into_children(&f);
    let direct = f.run_direct("cat <&200");
    let leaked = String::from_utf8_lossy(&direct.stdout).trim().to_string();
    assert!(leaked.starts_with("CANARY-"), "control: {direct:?}");
    let req = StdioRequest {
        argv: vec![
            "bash".into(),
            "-c".into(),
            "cat <&200; ls /proc/self/fd".into(),
        ],
        cwd: f.ws.clone(),
        grants: Default::default(),
        env: Default::default(),
    };
    let mut process = spawn_stdio(&sandbox_support::runtime(), &f.policy(), &req)
        .await
        .expect("server started");
    let mut stdout = String::new();
    let mut stderr = String::new();
    process
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .await
        .unwrap();
    process
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(
        !stdout.contains(&leaked) && !stderr.contains(&leaked),
        "{stdout} {stderr}"
    );
    assert!(stderr.contains("Bad file descriptor"), "{stderr}");
    let fds: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "{stdout}");
}
