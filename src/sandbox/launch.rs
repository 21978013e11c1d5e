//! Starting one command inside the sandbox with a single `clone`.
//!
//! Everything is built **before** the child exists — the Landlock ruleset
//! (by warden, its rules added, so only `landlock_restrict_self` on its
//! descriptor is left, see [`super::landlock_apply`]), the seccomp BPF
//! program, argv and envp as C strings, every path `execve` will try (the
//! `PATH` search is done up front, like `execvp` would do it), the working
//! directory. The child is created the way `posix_spawn` creates one
//! (`CLONE_VM | CLONE_VFORK`, see [`Launch::spawn`]); between `clone` and
//! `execve` it only makes system calls (async-signal-safe: no allocation,
//! no lock) and writes only to its own stack, so this is sound even when
//! the parent has other threads:
//!
//! 1. empty signal mask, `SIGPIPE`/`SIGCHLD`/`SIGXFSZ` back to their
//!    defaults (warden ignores `SIGPIPE` and `SIGXFSZ`; ignored signals
//!    survive `execve`);
//! 2. its own process group (when asked), `PR_SET_PDEATHSIG(SIGKILL)`;
//! 3. stdio `dup2`, every other descriptor close-on-exec
//!    ([`close_inherited_descriptors`]), `chdir`;
//! 4. `no_new_privs`, Landlock `restrict_self`, dropping every
//!    capability ([`caps::drop_all`]),
//!    seccomp — in the order the supervisor once applied them to itself;
//! 5. a fixed-size report on a close-on-exec pipe: what the kernel enforced
//!    and whether that is a refusal ([`super::enforcement::must_refuse`],
//!    allocation-free twin of [`super::enforcement::assess`]); a refusal
//!    exits with [`SUPERVISOR_FAILED`] without running anything;
//! 6. `execve` of each candidate path; a failure is reported (errno) and
//!    the child exits 127 (not found) or 126.
//!
//! The parent reads the reports ([`super::child_report`]) until the pipe
//! closes: a close after the first report means `execve` succeeded.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

pub use super::child_report::{Applied, ChildOutcome, Stage};
use super::child_report::{Kind, Record, fail, read_records, write_record};
use super::enforcement::{
    Enforcement, KernelReport, LandlockState, Verdict, assess, known_gaps, must_refuse,
    requested_abi,
};
use super::landlock_apply::{self, BuiltRuleset, LandlockFacts};
use super::{caps, seccomp};
use crate::config::SandboxFallback;

/// Called by `main` at start-up: a file-size limit (`RLIMIT_FSIZE`, which
/// another process of the same user may lower with `prlimit --pid`) must
/// not kill warden in the middle of a run with SIGXFSZ: ignored, a write
/// past the limit fails with `EFBIG` instead, and the audit log's writer
/// stops the run (exit 5) with every record before it intact. Commands get
/// the default action back (step 1 above). Here because `unsafe` lives in
/// `sandbox` only (`[lints]` in Cargo.toml).
pub fn ignore_file_size_limit_signal() {
    // SAFETY: setting a signal disposition at start-up, before any thread.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
}

/// Exit code of a sandbox that refused or failed before the command ran.
pub const SUPERVISOR_FAILED: i32 = 5;

/// What to apply, when the command is sandboxed.
pub struct SandboxSetup {
    /// Landlock rulesets, enforced in order (stacked: an access must be
    /// allowed by each): the plan, and possibly a writes-only layer.
    pub layers: Vec<Arc<BuiltRuleset>>,
    pub deny_network: bool,
    pub fallback: SandboxFallback,
}

/// Where the child's stdin, stdout and stderr come from (`None`: inherit).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdio {
    pub stdin: Option<RawFd>,
    pub stdout: Option<RawFd>,
    pub stderr: Option<RawFd>,
}

struct Sandbox {
    /// No descriptor when the kernel has no Landlock (the child then only
    /// sets no_new_privs, and the verdict decides).
    layers: Vec<Arc<BuiltRuleset>>,
    seccomp: &'static seccomp::Filter,
    /// Of the layers together (the state is the weakest one's).
    facts: LandlockFacts,
    fallback: SandboxFallback,
}

/// A command ready to be started: every byte the child needs is here.
pub struct Launch {
    /// Owns the strings `argv_ptrs` points into.
    _argv: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    /// Owns the strings `envp_ptrs` points into.
    _envp: Vec<CString>,
    envp_ptrs: Vec<*const libc::c_char>,
    /// Paths `execve` tries in order (one when argv[0] has a `/`).
    candidates: Vec<CString>,
    cwd: CString,
    sandbox: Option<Sandbox>,
    stdio: [RawFd; 3],
    new_process_group: bool,
}

fn cstring(what: &str, bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| format!("{what} contains a NUL byte"))
}

impl Launch {
    /// Build everything the child needs. `env` is the command's whole
    /// environment; its `PATH` (else `/bin:/usr/bin`) is searched when
    /// `argv[0]` has no `/`.
    pub fn build(
        argv: &[String],
        env: &[(String, String)],
        cwd: &Path,
        sandbox: Option<SandboxSetup>,
        stdio: Stdio,
        new_process_group: bool,
    ) -> Result<Launch, String> {
        let Some(program) = argv.first().filter(|p| !p.is_empty()) else {
            return Err("empty command".into());
        };
        let argv_c = argv
            .iter()
            .map(|a| cstring("an argument", a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let envp = env
            .iter()
            .map(|(k, v)| cstring("an environment variable", format!("{k}={v}").as_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        let path_var = env
            .iter()
            .rev()
            .find(|(k, _)| k == "PATH")
            .map_or("/bin:/usr/bin", |(_, v)| v.as_str());
        let candidates = exec_candidates(program, path_var)?;
        let sandbox = match sandbox {
            None => None,
            Some(setup) => {
                let all: Vec<LandlockFacts> = setup.layers.iter().map(|l| l.facts).collect();
                let first = all.first().ok_or("no Landlock layer given")?;
                Some(Sandbox {
                    facts: LandlockFacts {
                        state: landlock_apply::combined_state(&all),
                        ..*first
                    },
                    layers: setup.layers,
                    seccomp: seccomp::filter(setup.deny_network)?,
                    fallback: setup.fallback,
                })
            }
        };
        let argv_ptrs = null_terminated(&argv_c);
        let envp_ptrs = null_terminated(&envp);
        Ok(Launch {
            _argv: argv_c,
            argv_ptrs,
            _envp: envp,
            envp_ptrs,
            candidates,
            cwd: cstring("the working directory", cwd.as_os_str().as_bytes())?,
            sandbox,
            stdio: [
                stdio.stdin.unwrap_or(-1),
                stdio.stdout.unwrap_or(-1),
                stdio.stderr.unwrap_or(-1),
            ],
            new_process_group,
        })
    }

    /// Start the child, which applies the sandbox and `execve`s; returns
    /// once it has exec'd or given up (it is not reaped here).
    ///
    /// The child is created like `posix_spawn` does it: `clone(CLONE_VM |
    /// CLONE_VFORK)` on a stack of its own. It shares warden's memory (no
    /// page tables copied, none torn down at `execve`) while the calling
    /// thread waits for it to exec or exit; it only reads that memory and
    /// writes to its own stack.
    pub fn spawn(self) -> Result<Spawned, String> {
        let (report_read, report_write) =
            super::exec::pipe().map_err(|e| format!("report pipe: {e}"))?;
        let stack = ChildStack::new().map_err(|e| format!("child stack: {e}"))?;
        let args = ChildArgs {
            launch: &self,
            report: report_write.as_raw_fd(),
            // SAFETY: getpid has no preconditions.
            parent: unsafe { libc::getpid() },
        };
        // SAFETY: `child_entry` only runs `child_after_fork` (system calls
        // on memory prepared above, which outlives the call: CLONE_VFORK
        // returns only once the child has exec'd or exited) and never
        // returns; its stack is the mapping above.
        let pid = unsafe {
            libc::clone(
                child_entry,
                stack.top(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&args as *const ChildArgs<'_>).cast_mut().cast(),
            )
        };
        if pid < 0 {
            return Err(format!("clone: {}", std::io::Error::last_os_error()));
        }
        drop(stack);
        drop(report_write);
        let records = read_records(&report_read);
        let facts = self.sandbox.as_ref().map(|s| (s.facts, s.fallback));
        Ok(Spawned {
            pid,
            outcome: ChildOutcome::from_records(&records),
            facts,
        })
    }

    /// The child between `clone` and `execve`.
    ///
    /// # Safety
    ///
    /// Only in the child of `clone`, running on its own stack and sharing
    /// the parent's memory, which it only reads. Everything below is a
    /// system call or plain arithmetic on memory built before:
    /// [`landlock_apply::restrict_self`] is one system call,
    /// [`seccomp::Filter::apply`] is `seccompiler::apply_filter`: two
    /// system calls (`prctl`, `seccomp`) with no heap value built on
    /// success (seccompiler 0.5), and [`caps::drop_all`] works on the
    /// stack. Each `unsafe` block below is one such call.
    unsafe fn child_after_fork(&self, report: RawFd, parent: libc::pid_t) -> ! {
        // SAFETY: an all-zero `sigset_t` is a valid value (plain integers).
        let mut empty: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `empty` is a live, writable sigset on our stack.
        unsafe { libc::sigemptyset(&mut empty) };
        // SAFETY: reads `empty`; a null old-set pointer is allowed.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) };
        for signal in [libc::SIGPIPE, libc::SIGCHLD, libc::SIGXFSZ] {
            // SAFETY: restoring a default disposition takes integers only.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }

        // SAFETY: setpgid(0, 0) takes integers only.
        if self.new_process_group && unsafe { libc::setpgid(0, 0) } != 0 {
            // SAFETY: we are the child (this function's contract).
            unsafe { fail(report, Stage::ProcessGroup) };
        }
        // The command dies with its supervisor; a supervisor that died
        // before this line is caught by the parent check.
        // SAFETY: prctl(PR_SET_PDEATHSIG) takes integers only.
        unsafe {
            libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        // SAFETY: getppid has no preconditions.
        if unsafe { libc::getppid() } != parent {
            // SAFETY: _exit ends this child without running anything of
            // the parent's (no atexit handlers, no buffers flushed).
            unsafe { libc::_exit(SUPERVISOR_FAILED) };
        }
        for (target, fd) in self.stdio.iter().enumerate() {
            // SAFETY: dup2 takes integers only; `fd` is the caller's open
            // descriptor and `target` is 0, 1 or 2.
            if *fd >= 0 && unsafe { libc::dup2(*fd, target as RawFd) } < 0 {
                // SAFETY: we are the child (this function's contract).
                unsafe { fail(report, Stage::Stdio) };
            }
        }
        if !close_inherited_descriptors() {
            // SAFETY: we are the child (this function's contract).
            unsafe { fail(report, Stage::Descriptors) };
        }
        // SAFETY: `cwd` is a NUL-terminated string built before the clone.
        if unsafe { libc::chdir(self.cwd.as_ptr()) } != 0 {
            // SAFETY: we are the child (this function's contract).
            unsafe { fail(report, Stage::Chdir) };
        }

        let mut record = Record::new(Kind::Applied);
        if let Some(sb) = self.sandbox.as_ref() {
            let nnp = landlock_apply::set_no_new_privs();
            let mut state = LandlockState::None;
            for layer in &sb.layers {
                let Some(fd) = &layer.fd else { continue };
                if !landlock_apply::restrict_self(fd.as_raw_fd()) {
                    // SAFETY: we are the child (this function's contract).
                    unsafe { fail(report, Stage::Landlock) };
                }
                state = sb.facts.state;
            }
            // Fail closed: a command that kept a capability could
            // plant what outlives it (file capabilities, devices).
            let caps_dropped = caps::drop_all();
            if !caps_dropped {
                // SAFETY: we are the child (this function's contract).
                unsafe { fail(report, Stage::Capabilities) };
            }
            let seccomp_ok = nnp && sb.seccomp.apply();
            let kernel = KernelReport {
                kernel_abi: sb.facts.kernel_abi,
                ruleset: state,
                no_new_privs: nnp,
                seccomp: seccomp_ok,
            };
            let refused = must_refuse(&kernel, sb.fallback);
            record = Record::applied(state, nnp, seccomp_ok, caps_dropped, refused);
            if refused {
                // SAFETY: `report` is the report pipe's write end, open
                // until `execve` (close-on-exec).
                unsafe { write_record(report, &record) };
                // SAFETY: _exit ends this child without running anything of
                // the parent's.
                unsafe { libc::_exit(SUPERVISOR_FAILED) };
            }
        }
        // SAFETY: `report` is the report pipe's write end, open until
        // `execve` (close-on-exec).
        unsafe { write_record(report, &record) };

        let mut saw_eacces = false;
        let mut errno = libc::ENOENT;
        for candidate in &self.candidates {
            // SAFETY: the path, argv and envp are NUL-terminated strings
            // and null-terminated pointer arrays built before the clone,
            // alive until this child execs or exits.
            unsafe {
                libc::execve(
                    candidate.as_ptr(),
                    self.argv_ptrs.as_ptr(),
                    self.envp_ptrs.as_ptr(),
                )
            };
            // SAFETY: errno's location is thread-local and always valid.
            errno = unsafe { *libc::__errno_location() };
            match errno {
                libc::EACCES => saw_eacces = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => break,
            }
        }
        if saw_eacces && errno != libc::EACCES && is_search_miss(errno) {
            errno = libc::EACCES;
        }
        // SAFETY: `report` is still the open report pipe (no exec happened).
        unsafe { write_record(report, &Record::failed(Kind::ExecFailed, 0, errno)) };
        // SAFETY: _exit ends this child without running anything of the
        // parent's.
        unsafe { libc::_exit(exec_failure_code(errno)) }
    }
}

/// Mark every descriptor above stdin, stdout and stderr close-on-exec, so
/// the command starts with those three only: whatever warden (or whoever
/// started warden: `7<~/.ssh/id_rsa`, a runner's leaked pipe, a directory
/// descriptor to `openat` from) had open is not the command's. Done on
/// every launch path, sandboxed or not (an `unsandboxed` grant lifts
/// Landlock and seccomp, not this). One system call, no allocation
/// (Linux ≥ 5.11, older than any kernel with the Landlock warden needs);
/// false if the kernel refused it, and the child then gives up.
fn close_inherited_descriptors() -> bool {
    // SAFETY: close_range(first, last, flags) takes integers only; with
    // CLOSE_RANGE_CLOEXEC it closes nothing now (the report pipe and the
    // Landlock descriptors stay usable until `execve`).
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        ) == 0
    }
}

/// What the child needs, passed through `clone`'s argument pointer.
struct ChildArgs<'a> {
    launch: &'a Launch,
    report: RawFd,
    parent: libc::pid_t,
}

extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` of `Launch::spawn`, alive until the
    // child has exec'd or exited (CLONE_VFORK); we are that child.
    unsafe {
        let args = &*(arg as *const ChildArgs<'_>);
        args.launch.child_after_fork(args.report, args.parent)
    }
}

/// The child's stack until `execve`, with a guard page below it.
struct ChildStack {
    base: *mut libc::c_void,
}

/// Ample for a few system calls and the seccompiler and capability code.
const CHILD_STACK_LEN: usize = 256 * 1024;
const GUARD_LEN: usize = 4096;

impl ChildStack {
    fn new() -> std::io::Result<ChildStack> {
        // SAFETY: a fresh anonymous mapping; the lowest page is then made
        // inaccessible so an overflow faults instead of writing elsewhere.
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                CHILD_STACK_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return Err(std::io::Error::last_os_error());
            }
            let stack = ChildStack { base };
            if libc::mprotect(base, GUARD_LEN, libc::PROT_NONE) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(stack)
        }
    }

    /// The initial stack pointer (stacks grow down on every Linux target
    /// warden supports).
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of our own mapping.
        unsafe { self.base.cast::<u8>().add(CHILD_STACK_LEN).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping made in `new`, no longer in use
        // (the child has exec'd or exited).
        unsafe { libc::munmap(self.base, CHILD_STACK_LEN) };
    }
}

/// Errors after which `execvp` keeps searching `PATH`.
fn is_search_miss(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT
    )
}

/// The shell's convention: 127 not found, 126 found but not runnable.
pub fn exec_failure_code(errno: i32) -> i32 {
    if errno == libc::ENOENT { 127 } else { 126 }
}

fn null_terminated(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// `execvp`'s search, done before the child exists: argv[0] itself when it contains
/// a `/`, else each `PATH` entry joined with it (an empty entry is the
/// working directory, as in `execvp`).
fn exec_candidates(program: &str, path_var: &str) -> Result<Vec<CString>, String> {
    if program.contains('/') {
        return Ok(vec![cstring("the command", program.as_bytes())?]);
    }
    path_var
        .split(':')
        .map(|dir| {
            let joined = if dir.is_empty() {
                program.to_string()
            } else {
                format!("{}/{program}", dir.trim_end_matches('/'))
            };
            cstring("a PATH entry", OsStr::new(&joined).as_bytes())
        })
        .collect()
}

/// A started (or failed) child; the caller supervises and reaps `pid`.
#[derive(Debug)]
pub struct Spawned {
    pub pid: libc::pid_t,
    pub outcome: ChildOutcome,
    facts: Option<(LandlockFacts, SandboxFallback)>,
}

impl Spawned {
    /// The audit record of what the kernel enforced, or the refusal (the
    /// message names the missing kernel feature), from the child's report.
    pub fn enforcement(&self, applied: &Applied) -> Result<Enforcement, String> {
        let Some((facts, fallback)) = self.facts.filter(|_| applied.sandboxed) else {
            return Ok(Enforcement::default());
        };
        let report = KernelReport {
            kernel_abi: facts.kernel_abi,
            ruleset: applied.landlock,
            no_new_privs: applied.no_new_privs,
            seccomp: applied.seccomp,
        };
        let degraded = match assess(&report, fallback) {
            Verdict::Enforced => Vec::new(),
            Verdict::Degraded(why) => why,
            Verdict::Refuse(feature) => return Err(feature),
        };
        Ok(Enforcement {
            sandboxed: true,
            landlock_abi: facts.kernel_abi.max(0),
            landlock_requested_abi: requested_abi(facts.kernel_abi),
            landlock: Some(applied.landlock),
            seccomp: applied.seccomp,
            no_new_privs: applied.no_new_privs,
            network_tcp_landlock: facts.tcp_rules,
            scoped: facts.scoped,
            degraded,
            gaps: known_gaps(facts.kernel_abi),
            capabilities_dropped: applied.capabilities_dropped,
            ..Enforcement::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_follow_execvp() {
        let c = exec_candidates("ls", "/usr/local/bin:/bin/::rel").unwrap();
        let got: Vec<&str> = c.iter().map(|s| s.to_str().unwrap()).collect();
        assert_eq!(got, ["/usr/local/bin/ls", "/bin/ls", "ls", "rel/ls"]);
        let c = exec_candidates("./x/y", "/bin").unwrap();
        assert_eq!(c, [CString::new("./x/y").unwrap()]);
        assert!(exec_candidates("a\0b", "/bin").is_err());
        assert_eq!(exec_failure_code(libc::ENOENT), 127);
        assert_eq!(exec_failure_code(libc::EACCES), 126);
    }
}
