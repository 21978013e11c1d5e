//! Reaching processes outside the sandbox: changing another process's
//! limits, priority, I/O priority, CPU affinity or scheduler; System V
//! shared memory; and, with the network off, unix datagrams to a socket
//! path. Each attempt is first shown to work without the sandbox against
//! a process (or segment, or socket) the test started outside, then to
//! fail inside with the target left as it was. Routine uses on oneself
//! keep working.

use crate::sandbox_support;

use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command};
use std::time::Duration;

use sandbox_support::{Fixture, require_tool};

/// A same-user process outside the sandbox, killed on drop.
struct Target(Child);

impl Target {
    /// `sleep` leading its own process group (so that `renice -g` of it
    /// reaches nothing else).
    fn start() -> Target {
        use std::os::unix::process::CommandExt;
        Target(
            Command::new("sleep")
                .arg("300")
                .process_group(0)
                .spawn()
                .unwrap(),
        )
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// Fields of /proc/<pid>/stat after the command name (field 3 first).
    fn stat(&self) -> Vec<String> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        let (_, rest) = stat.rsplit_once(')').unwrap();
        rest.split_whitespace().map(str::to_owned).collect()
    }

    fn status_line(&self, key: &str) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_owned()))
            .unwrap()
    }

    fn open_files_limit(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/limits", self.pid()))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .unwrap()
            .to_owned()
    }

    fn io_priority(&self) -> String {
        let out = Command::new("ionice")
            .args(["-p", &self.pid().to_string()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Everything the attacks below may change, read back from outside.
    fn settings(&self) -> String {
        let stat = self.stat();
        format!(
            "nice {} policy {} cpus {} io {} | {}",
            stat[16],
            stat[38],
            self.status_line("Cpus_allowed_list:"),
            self.io_priority(),
            self.open_files_limit()
        )
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `tool` (a shell snippet with `PID`) changes a same-user process outside
/// when run directly, and fails inside the sandbox leaving it unchanged.
async fn assert_reach_refused(f: &Fixture, tool: &str) {
    let control = Target::start();
    let before = control.settings();
    let direct = f.run_direct(&tool.replace("PID", &control.pid().to_string()));
    assert!(direct.status.success(), "control `{tool}`: {direct:?}");
    assert_ne!(
        control.settings(),
        before,
        "control: `{tool}` changed nothing"
    );

    let target = Target::start();
    let before = target.settings();
    let out = f.run(&tool.replace("PID", &target.pid().to_string())).await;
    assert_ne!(out.exit_code, Some(0), "`{tool}` worked inside: {out:?}");
    assert!(
        out.stderr.contains("Operation not permitted"),
        "`{tool}`: {out:?}"
    );
    assert_eq!(target.settings(), before, "`{tool}` changed the target");
}

#[tokio::test]
async fn changing_another_process_is_refused() {
    for tool in ["prlimit", "renice", "ionice", "taskset", "chrt"] {
        if !require_tool(tool) {
            return;
        }
    }
    let f = Fixture::new();
    for tool in [
        "prlimit --pid PID --nofile=64:64",
        "renice -n 5 -p PID",
        "ionice -c3 -p PID",
        "taskset -p 1 PID",
        "chrt -i -p 0 PID",
        // A process group reaches others as well (PRIO_USER too, which
        // has no control here: it would renice every process of the user;
        // `seccomp_cross::tests` covers it).
        "renice -n 6 -g PID",
    ] {
        assert_reach_refused(&f, tool).await;
    }
}

#[tokio::test]
async fn routine_limits_and_priorities_on_oneself_still_work() {
    for tool in ["ionice", "taskset", "chrt", "prlimit"] {
        if !require_tool(tool) {
            return;
        }
    }
    let f = Fixture::new();
    let out = f
        .run(
            "set -e; nice -n 5 sh -c 'echo nice=$(cut -d\" \" -f19 /proc/self/stat)'; \
             ionice -c3 ionice; taskset -c 0 grep Cpus_allowed_list /proc/self/status; \
             chrt -b 0 chrt -p 0; prlimit --nofile=50:50 sh -c 'ulimit -n'; \
             ulimit -n 100; ulimit -n",
        )
        .await;
    assert_eq!(out.exit_code, Some(0), "{out:?}");
    for expected in [
        "nice=5",
        "idle",
        "Cpus_allowed_list:\t0",
        "SCHED_BATCH",
        "50\n",
        "100\n",
    ] {
        assert!(out.stdout.contains(expected), "{expected}: {out:?}");
    }
}

/// ctypes access to System V shared memory: `create TEXT` (prints the id
/// and key), `read ID` (prints the contents, then overwrites them),
/// `get KEY` (prints the id), `show ID` (contents only), `remove ID`.
const SHM: &str = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
def attach(shmid):
    p = libc.shmat(shmid, None, 0)
    if p is None or p == ctypes.c_void_p(-1).value:
        sys.exit(f"shmat: errno {ctypes.get_errno()}")
    return p
mode, arg = sys.argv[1], sys.argv[2]
if mode == "create":
    key = 0x5a000000 | (int(arg[-6:], 16) & 0xffffff)
    shmid = libc.shmget(key, 4096, 0o1600)
    if shmid < 0:
        sys.exit(f"shmget: errno {ctypes.get_errno()}")
    ctypes.memmove(attach(shmid), arg.encode(), len(arg))
    print(shmid, key)
elif mode == "get":
    shmid = libc.shmget(int(arg), 0, 0)
    if shmid < 0:
        sys.exit(f"shmget: errno {ctypes.get_errno()}")
    print(shmid)
elif mode in ("read", "show"):
    p = attach(int(arg))
    print(ctypes.string_at(p, 64).split(b"\0")[0].decode())
    if mode == "read":
        ctypes.memmove(p, b"OVERWRITTEN", 11)
elif mode == "remove":
    libc.shmctl(int(arg), 0, None)
"#;

#[tokio::test]
async fn system_v_shared_memory_outside_is_out_of_reach() {
    if !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    let helper = f.ws.join("src/shm.py");
    std::fs::write(&helper, SHM).unwrap();
    let shm = |args: &str| f.run_direct(&format!("python3 src/shm.py {args}"));
    let created = shm(&format!("create {}", f.canary));
    assert!(created.status.success(), "{created:?}");
    let created = String::from_utf8_lossy(&created.stdout).to_string();
    let (id, key) = created.trim().split_once(' ').unwrap();
    struct Remove<'a>(&'a dyn Fn());
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            (self.0)()
        }
    }
    let remove = || {
        shm(&format!("remove {id}"));
    };
    let _remove = Remove(&remove);

    // Control: another process of the same user reads it by id and by key.
    let by_key = shm(&format!("get {key}"));
    assert_eq!(String::from_utf8_lossy(&by_key.stdout).trim(), id);
    let direct = f.run_direct(&format!("python3 src/shm.py show {id}"));
    assert!(
        String::from_utf8_lossy(&direct.stdout).contains(&f.canary),
        "control: {direct:?}"
    );

    for attempt in [format!("read {id}"), format!("get {key}")] {
        let out = f.run(&format!("python3 src/shm.py {attempt}")).await;
        assert_ne!(out.exit_code, Some(0), "{attempt}: {out:?}");
        assert!(!out.stdout.contains(&f.canary), "{attempt}: {out:?}");
        assert!(out.stderr.contains("errno 1"), "{attempt}: EPERM: {out:?}");
    }
    if require_tool("ipcmk") {
        let out = f.run("ipcmk -M 4096").await;
        assert_ne!(out.exit_code, Some(0), "a segment was created: {out:?}");
    }
    let after = shm(&format!("show {id}"));
    assert!(
        String::from_utf8_lossy(&after.stdout).contains(&f.canary),
        "the segment was changed from inside: {after:?}"
    );
}

/// Sends one datagram to the socket path in argv[1] each way a command
/// could: an unbound datagram socket (sendto, sendmsg), `SOCK_RAW` (a
/// datagram socket for AF_UNIX), and a connected datagram socketpair
/// given an address. Prints `sent` or `refused` for each.
const DATAGRAMS: &str = r#"
import socket, sys
path = sys.argv[1]
U = socket.AF_UNIX
for how in ["dgram-sendto", "dgram-sendmsg", "raw-sendmsg", "pair-sendmsg", "cloexec-sendmsg"]:
    try:
        if how.startswith("pair"):
            s, _ = socket.socketpair(U, socket.SOCK_DGRAM)
        elif how.startswith("raw"):
            s = socket.socket(U, socket.SOCK_RAW)
        elif how.startswith("cloexec"):
            s = socket.socket(U, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK)
        else:
            s = socket.socket(U, socket.SOCK_DGRAM)
        if how.endswith("sendto"):
            s.sendto(how.encode(), path)
        else:
            s.sendmsg([how.encode()], [], 0, path)
        print("sent", how)
    except OSError as e:
        print("refused", how, e.errno)
"#;

fn received(server: &UnixDatagram) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = server.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

#[tokio::test]
async fn unix_datagrams_to_a_socket_outside_are_refused_with_the_network_off() {
    if !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    std::fs::write(f.ws.join("src/dgram.py"), DATAGRAMS).unwrap();
    let path = f.home.join("listener.sock");
    let server = UnixDatagram::bind(&path).unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let script = format!("python3 src/dgram.py {}", path.display());

    let direct = f.run_direct(&script);
    let text = String::from_utf8_lossy(&direct.stdout);
    assert_eq!(text.matches("sent").count(), 5, "control: {direct:?}");
    assert_eq!(
        received(&server).len(),
        5,
        "control: every datagram arrives"
    );

    let out = f.run(&script).await;
    assert_eq!(out.stdout.matches("refused").count(), 5, "{out:?}");
    assert!(!out.stdout.contains("sent"), "{out:?}");
    assert_eq!(
        received(&server),
        Vec::<String>::new(),
        "a datagram arrived"
    );

    // What stays: stream and seqpacket socketpairs.
    let out = f
        .run(
            "python3 -c 'import socket\n\
             for t in (socket.SOCK_STREAM, socket.SOCK_SEQPACKET):\n    \
             a, b = socket.socketpair(socket.AF_UNIX, t)\n    \
             a.sendmsg([b\"ok\"])\n    print(b.recv(2).decode())'",
        )
        .await;
    assert_eq!(out.stdout, "ok\nok\n", "{out:?}");
}

/// `setpriv` arguments that run a command as the unprivileged user 65534.
const AS_NOBODY: [&str; 3] = ["--reuid=65534", "--regid=65534", "--clear-groups"];

#[test]
fn an_unprivileged_user_cannot_reach_its_own_other_processes_either() {
    if !require_tool("setpriv") || !require_tool("renice") || !require_tool("prlimit") {
        return;
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI runs these tests as root (needed to switch users)"
        );
        eprintln!("skipped: switching to an unprivileged user needs root");
        return;
    }
    use std::os::unix::process::CommandExt;
    let f = Fixture::new();
    let root = f.ws.parent().unwrap();
    let chown = Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(root)
        .status()
        .unwrap();
    assert!(chown.success());
    let nobody = |program: &str| {
        let mut cmd = Command::new("setpriv");
        cmd.args(AS_NOBODY)
            .arg(program)
            .current_dir(&f.ws)
            .env("HOME", &f.home);
        cmd
    };
    let spawn_target = || Target(nobody("sleep").arg("300").process_group(0).spawn().unwrap());
    // Control: as that user, renice and prlimit reach its other process.
    let control = spawn_target();
    let before = control.settings();
    let pid = control.pid().to_string();
    let direct = nobody("sh")
        .args([
            "-c",
            &format!("renice -n 5 -p {pid} && prlimit --pid {pid} --nofile=8:8"),
        ])
        .output()
        .unwrap();
    assert!(direct.status.success(), "control: {direct:?}");
    assert_ne!(control.settings(), before, "control changed nothing");

    let target = spawn_target();
    let before = target.settings();
    let pid = target.pid().to_string();
    let out = nobody(&sandbox_support::warden_exe().to_string_lossy())
        .args(["sandbox", "--cwd"])
        .arg(&f.ws)
        .args([
            "--",
            "sh",
            "-c",
            &format!(
                "renice -n 5 -p {pid}; prlimit --pid {pid} --nofile=8:8; \
                 prlimit --pid $PPID --nofile=3:3; \
                 setsid sleep 321 & echo $! > src/pids; exit 0"
            ),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("Operation not permitted").count(),
        3,
        "{stderr}"
    );
    assert_eq!(target.settings(), before, "the target was changed");
    let survivor: i32 = std::fs::read_to_string(f.ws.join("src/pids"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = sandbox_support::alive(survivor);
    // SAFETY: kill(2) on a process this test's command started.
    unsafe { libc::kill(survivor, libc::SIGKILL) };
    assert!(!alive, "the setsid child outlived its command");
}

/// `mq_open` of the queue in argv[1] (read-write), via ctypes: prints
/// `opened` or `errno N`.
const MQ_OPEN: &str = r#"
import ctypes, os, sys
rt = ctypes.CDLL("librt.so.1", use_errno=True)
flags = os.O_RDWR | (os.O_CREAT if sys.argv[2:] == ["create"] else 0)
q = rt.mq_open(sys.argv[1].encode(), flags, 0o600, None)
print("opened" if q >= 0 else f"errno {ctypes.get_errno()}")
if sys.argv[2:] == ["unlink"]:
    rt.mq_unlink(sys.argv[1].encode())
"#;

#[tokio::test]
async fn posix_ipc_outside_is_read_only_or_refused() {
    if !require_tool("python3") {
        return;
    }
    let f = Fixture::new();
    // A POSIX shared-memory object of another process: a file in /dev/shm.
    let name = format!("warden-test-{}", f.canary);
    let shm = std::path::Path::new("/dev/shm").join(&name);
    std::fs::write(&shm, &f.canary).unwrap();
    let out = f
        .run(&format!("echo OVERWRITTEN > {}", shm.display()))
        .await;
    let content = std::fs::read_to_string(&shm).unwrap();
    std::fs::remove_file(&shm).unwrap();
    assert_ne!(out.exit_code, Some(0), "{out:?}");
    assert_eq!(content, f.canary, "a /dev/shm object was overwritten");

    // A POSIX message queue: opened by another process directly, refused
    // from inside.
    std::fs::write(f.ws.join("src/mq.py"), MQ_OPEN).unwrap();
    let queue = format!("/{name}");
    let direct = f.run_direct(&format!("python3 src/mq.py {queue} create"));
    assert_eq!(
        String::from_utf8_lossy(&direct.stdout).trim(),
        "opened",
        "{direct:?}"
    );
    let control = f.run_direct(&format!("python3 src/mq.py {queue}"));
    let out = f.run(&format!("python3 src/mq.py {queue}")).await;
    f.run_direct(&format!("python3 src/mq.py {queue} unlink"));
    assert_eq!(String::from_utf8_lossy(&control.stdout).trim(), "opened");
    assert!(out.stdout.starts_with("errno"), "{out:?}");
}
