//! Class 4 of the boundary: other terminals. `/dev/pts` was granted as a
//! whole (and everything under `/dev` was readable through the read
//! grant of `/`), so a command could read another session's keystrokes
//! and write a fake prompt to it. Now `/dev` is left out of the read grant
//! and a command gets a short list of devices plus the terminal(s) its
//! stdin, stdout and stderr are, and `/dev/tty` only when the controlling
//! terminal is one of them. Each refusal is first shown to work without
//! the sandbox. Creating a new pseudo-terminal inside is a documented
//! limit (docs/threat-model.md, "Terminals"), asserted as such.

use crate::sandbox_support;

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sandbox_support::{Fixture, require_tool, warden_exe};

/// A pseudo-terminal opened by the test: "another session".
struct Pty {
    master: OwnedFd,
    slave: OwnedFd,
    path: PathBuf,
}

fn open_pty() -> Pty {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors; no name buffer, termios or
    // window size is passed.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both were just opened and are owned by nobody else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let path = std::fs::read_link(format!("/proc/self/fd/{}", slave.as_raw_fd())).unwrap();
    assert!(path.starts_with("/dev/pts"), "{path:?}");
    Pty {
        master,
        slave,
        path,
    }
}

/// What a command run on `pty` printed, and whether it succeeded.
struct OnPty {
    ok: bool,
    output: String,
}

/// Run `argv` as the leader of a new session whose controlling terminal is
/// `pty`; its stdin, stdout and stderr are the terminal when `stdio_on_pty`,
/// else `/dev/null` and pipes (a command started from a terminal with its
/// output redirected). Returns everything written to the terminal (and to
/// the pipes).
fn run_on_pty(pty: Pty, argv: &[&str], stdio_on_pty: bool) -> OnPty {
    let slave_raw = pty.slave.as_raw_fd();
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..]);
    if stdio_on_pty {
        let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().unwrap());
        cmd.stdin(dup(&pty.slave))
            .stdout(dup(&pty.slave))
            .stderr(dup(&pty.slave));
    } else {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    // SAFETY: between fork and exec: setsid and ioctl only
    // (async-signal-safe); the slave descriptor is open in the child.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::ioctl(slave_raw, libc::TIOCSCTTY, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    // The Command keeps its copies of the slave until dropped; the master
    // reads EIO only once no copy is left outside the child.
    drop(cmd);
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        // EIO once the last holder of the terminal is gone.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{argv:?} did not end"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::new();
    for pipe in [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn Read>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn Read>),
    ]
    .into_iter()
    .flatten()
    {
        let mut pipe = pipe;
        pipe.read_to_string(&mut output).unwrap();
    }
    let terminal = reader.join().unwrap();
    OnPty {
        ok: status.success(),
        output: terminal + &output,
    }
}

fn sandboxed<'a>(f: &'a Fixture, script: &'a str) -> Vec<&'a str> {
    let ws = f.ws.to_str().unwrap();
    vec![
        warden_exe().to_str().unwrap().to_owned().leak(),
        "sandbox",
        "--cwd",
        ws,
        "--",
        "bash",
        "-c",
        script,
    ]
}

fn opens(path: &std::path::Path) -> String {
    let p = path.display();
    format!(
        "{{ exec 3<'{p}'; }} && echo opened-for-read; {{ exec 4>'{p}'; }} && echo opened-for-write; true"
    )
}

#[tokio::test]
async fn another_sessions_terminal_is_out_of_reach() {
    let f = Fixture::new();
    let other = open_pty();
    let script = opens(&other.path);
    let direct = f.run_direct(&script);
    let text = String::from_utf8_lossy(&direct.stdout);
    assert!(
        text.contains("opened-for-read") && text.contains("opened-for-write"),
        "control: {direct:?}"
    );
    let out = f.run(&script).await;
    assert!(!out.stdout.contains("opened-for"), "{out:?}");
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
    // The second spelling: the terminal through another process's
    // descriptor, /proc/<pid>/fd/N (this test process holds it).
    let via_proc = PathBuf::from(format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        other.slave.as_raw_fd()
    ));
    let script = opens(&via_proc);
    let direct = f.run_direct(&script);
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains("opened-for-write"),
        "control: {direct:?}"
    );
    let out = f.run(&script).await;
    assert!(!out.stdout.contains("opened-for"), "{out:?}");
    // And nothing the command tried reached the other terminal.
    let out = f
        .run(&format!("printf 'password: ' > '{}'", other.path.display()))
        .await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    // SAFETY: a non-blocking read of our own master descriptor.
    let pending = unsafe {
        libc::fcntl(other.master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
        let mut buf = [0u8; 64];
        libc::read(other.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
    };
    assert!(pending <= 0, "a fake prompt reached the other terminal");
}

#[test]
fn the_commands_own_terminal_still_works() {
    let f = Fixture::new();
    let other = open_pty();
    let mine = open_pty();
    let mine_path = mine.path.display().to_string();
    let script = format!(
        "tty; echo via-stdout; echo via-dev-tty > /dev/tty; echo via-path > \"$(tty)\"; \
         stty size >/dev/null && echo stty-works; ls /dev >/dev/null && echo dev-listed; \
         {} 2>/dev/null",
        opens(&other.path)
    );
    let direct = run_on_pty(open_pty(), &["bash", "-c", &script], true);
    assert!(
        direct.output.contains("opened-for-read"),
        "control: {}",
        direct.output
    );
    let run = run_on_pty(mine, &sandboxed(&f, &script), true);
    assert!(run.ok, "{}", run.output);
    for expected in [
        mine_path.as_str(),
        "via-stdout",
        "via-dev-tty",
        "via-path",
        "stty-works",
        "dev-listed",
    ] {
        assert!(run.output.contains(expected), "{expected}: {}", run.output);
    }
    assert!(!run.output.contains("opened-for"), "{}", run.output);
}

#[test]
fn dev_tty_is_refused_when_the_terminal_is_not_the_commands() {
    // Started from a terminal with stdio redirected: the controlling
    // terminal is still the user's, and `/dev/tty` would reach it.
    let f = Fixture::new();
    let script = "echo typed > /dev/tty && echo tty-opened";
    let direct = run_on_pty(open_pty(), &["bash", "-c", script], false);
    assert!(
        direct.output.contains("tty-opened"),
        "control: {}",
        direct.output
    );
    let run = run_on_pty(open_pty(), &sandboxed(&f, script), false);
    assert!(!run.output.contains("tty-opened"), "{}", run.output);
    assert!(!run.output.contains("typed"), "{}", run.output);
    assert!(run.output.contains("Permission denied"), "{}", run.output);
}

#[tokio::test]
async fn consoles_raw_disks_and_other_devices_are_out_of_reach() {
    let f = Fixture::new();
    let mut controlled = 0;
    for dev in [
        "/dev/console",
        "/dev/tty1",
        "/dev/tty0",
        "/dev/loop0",
        "/dev/vda",
        "/dev/sda",
        "/dev/kmsg",
        "/dev/input/event0",
    ] {
        let script = format!("{{ exec 3<{dev}; }} && echo opened");
        let direct = f.run_direct(&script);
        if !String::from_utf8_lossy(&direct.stdout).contains("opened") {
            continue; // absent here, or closed to this user anyway
        }
        controlled += 1;
        let out = f.run(&script).await;
        assert!(!out.stdout.contains("opened"), "{dev}: {out:?}");
        assert!(out.stderr.contains("Permission denied"), "{dev}: {out:?}");
    }
    assert!(
        controlled > 0,
        "no device here to show the refusal on (tests run as root)"
    );
}

#[tokio::test]
async fn routine_devices_still_work() {
    let f = Fixture::new();
    let out = f
        .run(
            "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 4 /dev/urandom | wc -c \
             && head -c 4 /dev/random | wc -c && cat <(echo substituted) && echo fd | cat /dev/stdin \
             && { echo x > /dev/full; [ $? -ne 0 ] && echo full-is-full; }",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout, "4\n4\n4\nsubstituted\nfd\nfull-is-full\n",
        "{out:?}"
    );
}

#[tokio::test]
async fn a_new_pseudo_terminal_cannot_be_opened_inside() {
    // The documented limit: /dev/ptmx opens, but Landlock checks the other
    // end at its path, /dev/pts/N (even through TIOCGPTPEER), and only the
    // command's own terminal is granted there.
    if !require_tool("python3") || !require_tool("script") {
        return;
    }
    let f = Fixture::new();
    let script = "python3 -c 'import os; m, s = os.openpty(); print(\"openpty-works\")'; \
                  script -qc 'echo script-works' /dev/null </dev/null; \
                  python3 -c 'import os; os.open(\"/dev/ptmx\", os.O_RDWR | os.O_NOCTTY); print(\"ptmx-opens\")'";
    let direct = f.run_direct(script);
    let text = String::from_utf8_lossy(&direct.stdout);
    assert!(
        text.contains("openpty-works") && text.contains("script-works"),
        "control: {direct:?}"
    );
    let out = f.run(script).await;
    assert!(!out.stdout.contains("openpty-works"), "{out:?}");
    assert!(!out.stdout.contains("script-works"), "{out:?}");
    assert!(out.stdout.contains("ptmx-opens"), "{out:?}");
    assert!(out.stderr.contains("Permission denied"), "{out:?}");
}
