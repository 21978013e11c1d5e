//! Class 6 of the boundary: running as root (containers, self-hosted
//! runners). A command planted a setuid-root copy of a shell and set a
//! `security.capability` xattr; run later by an unprivileged user, the
//! copy gave euid 0. Now the command holds no capability at all, and
//! seccomp refuses a setuid or setgid mode bit in every call that sets a
//! mode. Each spelling is first shown to plant the bit without the
//! sandbox. These tests run as root (here and in CI); the unprivileged
//! cases use `setpriv --reuid=nobody`.

use crate::sandbox_support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use sandbox_support::{Fixture, require_tool, warden_exe};

fn assert_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "these tests need root (they run as root here and in CI)"
    );
}

fn capability_lines(status: &str) -> Vec<(String, u64)> {
    status
        .lines()
        .filter(|l| l.starts_with("Cap"))
        .map(|l| {
            let (name, hex) = l.split_once(':').unwrap();
            (
                name.to_string(),
                u64::from_str_radix(hex.trim(), 16).unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_command_holds_no_capability() {
    assert_root();
    let f = Fixture::new();
    let direct = f.run_direct("cat /proc/self/status");
    let outside = capability_lines(&String::from_utf8_lossy(&direct.stdout));
    assert!(
        outside.iter().any(|(n, v)| n == "CapEff" && *v != 0),
        "control: root has capabilities outside: {outside:?}"
    );
    let through_run = f.run("cat /proc/self/status").await.stdout;
    let cli = Command::new(warden_exe())
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args(["--", "cat", "/proc/self/status"])
        .output()
        .unwrap();
    for status in [
        through_run,
        String::from_utf8_lossy(&cli.stdout).into_owned(),
    ] {
        let caps = capability_lines(&status);
        let names: Vec<&str> = caps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]);
        assert!(caps.iter().all(|(_, v)| *v == 0), "{caps:?}");
        // Set before the drop: setuid bits and file capabilities of
        // anything the command runs are ignored too.
        assert!(
            !status.contains("NoNewPrivs:\t0"),
            "no_new_privs is set: {status}"
        );
    }
}

/// Each way of planting a setuid or setgid file, as a script run in `$D`
/// (a fresh directory) with `$SRC` a setuid-root binary and `$TARBALL` an
/// archive holding one, both prepared outside.
const SPELLINGS: &[&str] = &[
    "cp /bin/sh p && chmod 4755 p",
    "cp /bin/sh p && chmod 04755 p",
    "cp /bin/sh p && chmod u+s p",
    "cp /bin/sh p && chmod g+s p",
    "cp /bin/sh p && chmod 7755 p",
    "cp /bin/sh p && chmod 2755 p",
    "install -m 4755 /bin/sh p",
    "cp -a \"$SRC\" p",
    "cp -p \"$SRC\" p",
    "tar xf \"$TARBALL\"",
    "cp /bin/sh p && python3 -c 'import os; os.chmod(\"p\", 0o4755)'",
    "cp /bin/sh p && python3 -c 'import os; fd = os.open(\"p\", os.O_RDONLY); os.fchmod(fd, 0o4755)'",
    // fchmodat2 (452) by number: glibc's fchmodat may use it.
    "cp /bin/sh p && python3 -c 'import ctypes; libc = ctypes.CDLL(None, use_errno=True); \
     import sys; sys.exit(libc.syscall(452, -100, b\"p\", 0o4755, 0) != 0)'",
    "python3 -c 'import os; os.close(os.open(\"p\", os.O_CREAT | os.O_WRONLY, 0o4755))'",
    "python3 -c 'import os; d = os.open(\".\", os.O_RDONLY); \
     os.close(os.open(\"p\", os.O_CREAT | os.O_WRONLY, 0o6755, dir_fd=d))'",
    "python3 -c 'import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); \
     sys.exit(libc.creat(b\"p\", 0o4755) < 0)'",
    "python3 -c 'import os, stat; os.mknod(\"p\", stat.S_IFREG | 0o4755)'",
    "python3 -c 'import os, stat; d = os.open(\".\", os.O_RDONLY); \
     os.mknod(\"p\", stat.S_IFREG | 0o2755, dir_fd=d)'",
];

/// Files under `dir` with a setuid or setgid bit.
fn setid_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in walk(dir) {
        let mode = std::fs::symlink_metadata(&entry).unwrap().mode();
        if mode & 0o6000 != 0 && !entry.is_dir() {
            out.push(format!("{} {mode:o}", entry.display()));
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

/// A setuid-root binary and a tarball holding one, outside the workspace.
fn setid_sources(f: &Fixture) -> (std::path::PathBuf, std::path::PathBuf) {
    let src_dir = f.home.join("setid");
    std::fs::create_dir_all(&src_dir).unwrap();
    let src = src_dir.join("p");
    std::fs::copy("/bin/sh", &src).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let tarball = f.home.join("setid.tar");
    let st = Command::new("tar")
        .arg("cf")
        .arg(&tarball)
        .arg("-C")
        .arg(&src_dir)
        .arg("p")
        .status()
        .unwrap();
    assert!(st.success());
    (src, tarball)
}

fn script_in(dir: &Path, src: &Path, tarball: &Path, spelling: &str) -> String {
    format!(
        "umask 022; export SRC='{}' TARBALL='{}'; cd '{}' && {spelling}",
        src.display(),
        tarball.display(),
        dir.display()
    )
}

#[tokio::test]
async fn setuid_and_setgid_bits_are_refused_whatever_sets_them() {
    assert_root();
    if !require_tool("python3") || !require_tool("install") || !require_tool("tar") {
        return;
    }
    let f = Fixture::new();
    let (src, tarball) = setid_sources(&f);
    let outside = f.home.join("outside");
    for (i, spelling) in SPELLINGS.iter().enumerate() {
        let direct_dir = outside.join(i.to_string());
        std::fs::create_dir_all(&direct_dir).unwrap();
        let direct = f.run_direct(&script_in(&direct_dir, &src, &tarball, spelling));
        assert!(
            direct.status.success() && !setid_files(&direct_dir).is_empty(),
            "control: `{spelling}` planted no setid file without the sandbox: {direct:?}"
        );
        let dir = f.ws.join("src").join(i.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let out = f.run(&script_in(&dir, &src, &tarball, spelling)).await;
        assert_eq!(
            setid_files(&dir),
            Vec::<String>::new(),
            "`{spelling}` planted a setid file: {out:?}"
        );
        assert_ne!(out.exit_code, Some(0), "`{spelling}`: {out:?}");
        assert!(
            out.stderr.contains("Operation not permitted")
                || out.stderr.contains("[Errno 1]")
                || out.stderr.is_empty(), // the ctypes ones exit 1 silently
            "`{spelling}`: {out:?}"
        );
    }
    assert_eq!(setid_files(&f.ws), Vec::<String>::new());
}

#[tokio::test]
async fn file_capabilities_and_privileged_xattrs_cannot_be_set() {
    assert_root();
    if !require_tool("setcap") || !require_tool("setfattr") || !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    let attempts = [
        "setcap cap_setuid+ep p",
        // A v2 security.capability value granting CAP_SETUID (bit 7).
        "setfattr -n security.capability -v 0x0000000280000000000000000000000000000000 p",
        "python3 -c 'import os; os.setxattr(\"p\", \"security.capability\", \
         bytes.fromhex(\"0000000280000000000000000000000000000000\"))'",
        "setfattr -n trusted.planted -v 1 p",
    ];
    for (i, attempt) in attempts.iter().enumerate() {
        let dir_out = f.home.join(format!("xattr-{i}"));
        let dir_in = f.ws.join("src").join(format!("xattr-{i}"));
        for d in [&dir_out, &dir_in] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::copy("/bin/true", d.join("p")).unwrap();
        }
        let script = |d: &Path| format!("cd '{}' && {attempt}", d.display());
        let direct = f.run_direct(&script(&dir_out));
        assert!(direct.status.success(), "control: `{attempt}`: {direct:?}");
        let out = f.run(&script(&dir_in)).await;
        assert_ne!(out.exit_code, Some(0), "`{attempt}`: {out:?}");
        let listed = Command::new("getfattr")
            .args(["-d", "-m", "-"])
            .arg(dir_in.join("p"))
            .output()
            .unwrap();
        let listed = String::from_utf8_lossy(&listed.stdout);
        assert!(
            !listed.contains("security.capability") && !listed.contains("trusted."),
            "`{attempt}` set {listed}"
        );
    }
    // Ordinary user xattrs (what build caches use) still work.
    std::fs::copy("/bin/true", f.ws.join("src/u")).unwrap();
    let out = f
        .run("setfattr -n user.cache -v 1 src/u && getfattr -n user.cache src/u")
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
}

#[tokio::test]
async fn routine_permission_changes_still_work() {
    assert_root();
    if !require_tool("tar") {
        return;
    }
    let f = Fixture::new();
    std::fs::write(f.ws.join("run.sh"), "#!/bin/sh\necho ran\n").unwrap();
    std::fs::set_permissions(f.ws.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    sandbox_support::git(&f.ws, &["add", "run.sh"]);
    sandbox_support::git(&f.ws, &["commit", "-qm", "exe"]);
    let out = f
        .run(
            "set -e; cd src; echo 'echo hi' > a.sh; chmod +x a.sh; ./a.sh; chmod 755 a.sh; \
             mkdir -p d/e; echo x > d/e/f; chmod 0640 d/e/f; chmod -R u+rwX d; \
             cp -a d d2; stat -c '%a' d2/e/f; cp -p a.sh b.sh; stat -c '%a' b.sh; \
             tar cf t.tar d a.sh; mkdir x; tar xf t.tar -C x; stat -c '%a' x/a.sh; \
             git clone -q \"$PWD/..\" clone; stat -c '%a' clone/run.sh; clone/run.sh; \
             chmod 1777 d && stat -c '%a' d",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "hi\n640\n755\n755\n755\nran\n1777\n", "{out:?}");
    // The price, documented: setgid on a directory is refused too (seccomp
    // cannot tell what a path names).
    let out = f.run("mkdir src/shared && chmod g+s src/shared").await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
}

/// Make the fixture's directories reachable by `nobody`.
fn open_to_nobody(f: &Fixture) {
    let mut dir = f.ws.join("src");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    while dir.pop() {
        if dir == Path::new("/") || dir == Path::new("/tmp") {
            break;
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// Run `args` as `nobody` in `cwd`.
fn as_nobody(cwd: &Path, args: &[&std::ffi::OsStr]) -> Output {
    Command::new("setpriv")
        .current_dir(cwd)
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(args)
        // nobody cannot write root's HOME, where warden keeps its journal.
        .env(
            "XDG_STATE_HOME",
            std::env::temp_dir().join(format!("warden-nobody-state-{:x}", fastrand::u64(..))),
        )
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_planted_setuid_copy_gives_nobody_root_only_when_planted_outside() {
    assert_root();
    if !require_tool("setpriv") {
        return;
    }
    let f = Fixture::new();
    open_to_nobody(&f);
    let plant = |name: &str| format!("cp /usr/bin/id src/{name} && chmod 4755 src/{name}");
    // Control: planted outside, `id -u` run by nobody reports euid 0.
    let direct = f.run_direct(&plant("outside"));
    assert!(direct.status.success(), "{direct:?}");
    let euid = as_nobody(
        &f.ws,
        &[f.ws.join("src/outside").as_os_str(), "-u".as_ref()],
    );
    assert_eq!(
        String::from_utf8_lossy(&euid.stdout).trim(),
        "0",
        "control: the setuid copy did not give root: {euid:?}"
    );
    f.run(&plant("inside")).await;
    let planted = f.ws.join("src/inside");
    assert_eq!(std::fs::metadata(&planted).unwrap().mode() & 0o6000, 0);
    let euid = as_nobody(&f.ws, &[planted.as_os_str(), "-u".as_ref()]);
    assert_eq!(
        String::from_utf8_lossy(&euid.stdout).trim(),
        "65534",
        "{euid:?}"
    );
}

#[test]
fn an_unprivileged_warden_sandbox_refuses_setuid_bits_and_holds_no_capability() {
    assert_root();
    if !require_tool("setpriv") {
        return;
    }
    let f = Fixture::new();
    open_to_nobody(&f);
    // nobody may set the setuid bit of its own file (a setuid-nobody
    // program): the control.
    let script =
        "cd src && cp /bin/true t && chmod u+s t; stat -c '%a' t; grep Cap /proc/self/status";
    let direct = as_nobody(&f.ws, &["sh".as_ref(), "-c".as_ref(), script.as_ref()]);
    assert!(
        String::from_utf8_lossy(&direct.stdout).starts_with("4755"),
        "control: {direct:?}"
    );
    std::fs::remove_file(f.ws.join("src/t")).unwrap();
    let ws = f.ws.as_os_str();
    let out = as_nobody(
        &f.ws,
        &[
            warden_exe().as_os_str(),
            "sandbox".as_ref(),
            "--cwd".as_ref(),
            ws,
            "--".as_ref(),
            "sh".as_ref(),
            "-c".as_ref(),
            script.as_ref(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("755\n"), "{out:?}");
    let caps = capability_lines(&stdout);
    // Without CAP_SETPCAP the bounding set cannot be lowered (and grants
    // nothing under no_new_privs); every other set is empty.
    assert_eq!(caps.len(), 5, "{out:?}");
    assert!(
        caps.iter().all(|(n, v)| n == "CapBnd" || *v == 0),
        "{caps:?}"
    );
}

#[tokio::test]
async fn hard_linking_a_setuid_binary_into_the_workspace_is_refused() {
    // A link keeps a setuid binary (and its bugs, after an upgrade) under
    // the workspace; Landlock grants REFER only inside writable roots.
    assert_root();
    let f = Fixture::new();
    let (src, _) = setid_sources(&f);
    let script = |name: &str| format!("ln '{}' src/{name}", src.display());
    let direct = f.run_direct(&script("outside"));
    assert!(direct.status.success(), "control: {direct:?}");
    assert_eq!(setid_files(&f.ws.join("src")).len(), 1, "control");
    std::fs::remove_file(f.ws.join("src/outside")).unwrap();
    let out = f.run(&script("inside")).await;
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert!(out.stderr.contains("Invalid cross-device link"), "{out:?}");
    assert_eq!(setid_files(&f.ws), Vec::<String>::new());
}
