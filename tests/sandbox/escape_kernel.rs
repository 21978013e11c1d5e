//! What seccomp closes beyond files and network. New namespaces: a user
//! namespace gives the command every capability inside it and the kernel's
//! namespace code as attack surface, so `unshare` and `clone` with
//! `CLONE_NEW*` are refused; each of those tests first shows the attempt
//! works without the sandbox (where the machine forbids unprivileged user
//! namespaces, the test says so and stops). `clone3` answers `ENOSYS`, and
//! threads and child processes keep working through libc's fallback.
//! Terminal injection (`TIOCSTI`) is refused.

use crate::sandbox_support;

use sandbox_support::{Fixture, require, require_tool};

async fn assert_refused(f: &Fixture, script: &str) {
    let direct = f.run_direct(script);
    // A host that forbids user namespaces outright cannot show the control;
    // in CI (root) it must work, or the test proves nothing.
    if !require(
        direct.status.success(),
        &format!("`{script}` fails without the sandbox too (no user namespaces here?): {direct:?}"),
    ) {
        return;
    }
    let out = f.run(script).await;
    assert_ne!(
        out.exit_code,
        Some(0),
        "`{script}` made a namespace: {out:?}"
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "`{script}`: {}",
        out.stderr
    );
}

#[tokio::test]
async fn unshare_of_a_user_namespace_is_refused() {
    let f = Fixture::new();
    if !require_tool("unshare") {
        return;
    }
    assert_refused(&f, "unshare --user true").await;
    assert_refused(&f, "unshare --map-root-user id -u").await;
    assert_refused(&f, "unshare --user --net true").await;
}

#[tokio::test]
async fn clone_with_a_namespace_flag_is_refused() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    // clone(CLONE_NEWUSER | SIGCHLD) by hand, bypassing libc's wrappers.
    let script = "python3 -c 'import ctypes, os, sys\n\
libc = ctypes.CDLL(None, use_errno=True)\n\
pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\n\
if pid == 0: os._exit(0)\n\
if pid < 0: sys.exit(\"clone: \" + os.strerror(ctypes.get_errno()))\n\
os.waitpid(pid, 0)'";
    if !require(
        std::env::consts::ARCH == "x86_64",
        "the raw clone number is x86_64's",
    ) {
        return;
    }
    assert_refused(&f, script).await;
}

#[tokio::test]
async fn threads_and_processes_still_start() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    let out = f
        .run(
            "python3 -c 'import threading, subprocess\n\
t = threading.Thread(target=print, args=(\"thread\",)); t.start(); t.join()\n\
print(subprocess.run([\"sh\", \"-c\", \"echo child\"], capture_output=True, text=True).stdout.strip())'",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "thread\nchild\n", "{out:?}");
}

/// `clone3` is answered `ENOSYS` (not `EPERM`: libc would not fall back),
/// where without the sandbox the same bad call gets `EINVAL`.
#[tokio::test]
async fn clone3_answers_enosys() {
    let f = Fixture::new();
    if !require_tool("python3")
        || !require(
            std::env::consts::ARCH == "x86_64",
            "the raw clone3 number is x86_64's",
        )
    {
        return;
    }
    // clone3(NULL, 0): EINVAL from the kernel (size too small).
    let script = "python3 -c 'import ctypes, errno\n\
libc = ctypes.CDLL(None, use_errno=True)\n\
libc.syscall(435, None, 0)\n\
print(errno.errorcode[ctypes.get_errno()])'";
    let direct = f.run_direct(script);
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout),
        "EINVAL\n",
        "{direct:?}"
    );
    let out = f.run(script).await;
    assert_eq!(out.stdout, "ENOSYS\n", "{out:?}");
}

/// TIOCSTI (typing into the terminal warden was started from) is refused
/// before the kernel looks at the descriptor: on `/dev/null` the kernel
/// says ENOTTY, the sandbox says EPERM first.
#[tokio::test]
async fn terminal_injection_ioctls_are_refused() {
    let f = Fixture::new();
    if !require_tool("python3") {
        return;
    }
    let script = "python3 -c 'import errno, fcntl, os, termios\n\
fd = os.open(\"/dev/null\", os.O_RDWR)\n\
try:\n    fcntl.ioctl(fd, termios.TIOCSTI, b\"x\")\n\
except OSError as e:\n    print(errno.errorcode[e.errno])'";
    let direct = f.run_direct(script);
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout),
        "ENOTTY\n",
        "{direct:?}"
    );
    let out = f.run(script).await;
    assert_eq!(out.stdout, "EPERM\n", "{out:?}");
}
