//! warden's side of running a command: prepare the sandbox, start the
//! helper in its own process group with a scrubbed environment, hand it the
//! spec, enforce the timeout, capture output, verify guarded paths, and
//! look for refusals.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::enforcement::Enforcement;
use super::env::scrub;
use super::guard::Guard;
use super::output::{Captured, capture};
use super::prepare::{Prepared, prepare};
use super::refusal::{DetectContext, detect};
use super::spec::{HelperMessage, HelperSpec, parse_messages, write_framed};
use super::{ExecOutput, ExecRequest, SandboxError, SandboxPolicy, SandboxRuntime};

/// How long the helper gets to kill everything after a timeout before
/// warden kills its process group itself.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(2);

/// Run a command in the sandbox and capture its output (the agent loop).
pub async fn execute(
    rt: &SandboxRuntime,
    policy: &SandboxPolicy,
    req: &ExecRequest,
) -> Result<ExecOutput, SandboxError> {
    run(rt, policy, req, true).await
}

/// Run a command in the sandbox with warden's own stdin, stdout and stderr
/// (`warden sandbox`). Output fields of the result are empty.
pub async fn run_inherited(
    rt: &SandboxRuntime,
    policy: &SandboxPolicy,
    req: &ExecRequest,
) -> Result<ExecOutput, SandboxError> {
    run(rt, policy, req, false).await
}

async fn run(
    rt: &SandboxRuntime,
    policy: &SandboxPolicy,
    req: &ExecRequest,
    captured: bool,
) -> Result<ExecOutput, SandboxError> {
    if req.argv.is_empty() || req.argv[0].is_empty() {
        return Err(SandboxError::Request("no command given".into()));
    }
    let cwd = std::fs::canonicalize(&req.cwd)
        .ok()
        .filter(|p| p.is_dir())
        .ok_or_else(|| {
            SandboxError::Request(format!(
                "working directory `{}` is not an existing directory",
                req.cwd.display()
            ))
        })?;
    let req = &ExecRequest {
        cwd: cwd.clone(),
        ..req.clone()
    };
    let tmp = PrivateTmp::create()?;
    let prepared = prepare(policy, req, tmp.path())?;
    if !prepared.sandboxed {
        tracing::warn!(
            command = %req.argv[0],
            mode = %prepared.mode_label,
            "running without Landlock and seccomp (environment still scrubbed)"
        );
    }
    if !super::caps::protect_self() {
        tracing::warn!(
            "cannot mark warden non-dumpable; /proc/<pid>/environ relies on Landlock alone"
        );
    }
    let guard = Guard::snapshot(&prepared.guarded).map_err(SandboxError::Request)?;
    let env = scrub(std::env::vars_os(), &policy.env_pass, &policy.env_set);

    let (spec_read, spec_write) = pipe()?;
    let (status_read, status_write) = pipe()?;
    let mut cmd = tokio::process::Command::new(&rt.warden_exe);
    cmd.arg("__sandbox-exec")
        .arg("--spec-fd")
        .arg(spec_read.as_raw_fd().to_string())
        .arg("--status-fd")
        .arg(status_write.as_raw_fd().to_string())
        .env_clear()
        .envs(&env.vars)
        .env("TMPDIR", tmp.path())
        .env("TMP", tmp.path())
        .env("TEMP", tmp.path())
        .current_dir(&cwd)
        // No kill_on_drop: if this future is dropped, closing the control
        // pipe makes the helper kill the command and its descendants.
        .process_group(0);
    if captured {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if req.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    }
    let inherit = [spec_read.as_raw_fd(), status_write.as_raw_fd()];
    // SAFETY: the closure runs between fork and exec and only calls
    // fcntl(2), which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for fd in inherit {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| {
        SandboxError::Helper(format!("cannot start `{}`: {e}", rt.warden_exe.display()))
    })?;
    drop(spec_read);
    drop(status_write);
    let pgid = child.id().map(|p| p as libc::pid_t);

    let spec = HelperSpec {
        argv: req.argv.clone(),
        sandboxed: prepared.sandboxed,
        deny_network: !prepared.network,
        fallback: policy.fallback,
        rules: prepared.rules.clone(),
    };
    // Written off the async threads: a large spec blocks until the helper
    // reads it. The file stays open afterwards as the helper's control pipe.
    let control = tokio::task::spawn_blocking(move || {
        let mut f = File::from(spec_write);
        write_framed(&mut f, &spec).map(|_| f)
    });
    let status_reader = tokio::task::spawn_blocking(move || {
        let mut bytes = Vec::new();
        let _ = File::from(status_read).read_to_end(&mut bytes);
        bytes
    });
    if let (Some(stdin), Some(bytes)) = (child.stdin.take(), req.stdin.clone()) {
        tokio::spawn(async move {
            let mut stdin = stdin;
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let budget = Arc::new(Mutex::new(policy.output_limit));
    let out_task = child
        .stdout
        .take()
        .map(|s| tokio::spawn(capture(s, budget.clone())));
    let err_task = child
        .stderr
        .take()
        .map(|s| tokio::spawn(capture(s, budget.clone())));

    let control = control
        .await
        .map_err(|e| SandboxError::Helper(e.to_string()))?
        .ok(); // a write error means the helper died; its status says why
    let timeout = req.timeout.unwrap_or(policy.timeout);
    let timed_out = tokio::time::timeout(timeout, child.wait()).await.is_err();
    drop(control); // tells the helper to kill everything, if it still runs
    if timed_out
        && tokio::time::timeout(KILL_GRACE, child.wait())
            .await
            .is_err()
    {
        if let Some(pgid) = pgid {
            // SAFETY: kill(2) on the helper's own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
    let helper_status = child.wait().await.ok();
    let duration = started.elapsed();
    let messages = parse_messages(&status_reader.await.unwrap_or_default());
    let stdout = join_capture(out_task).await;
    let mut stderr = join_capture(err_task).await;
    let protected_changes = guard.verify_and_restore();

    let mut enforcement: Option<Enforcement> = None;
    let (mut exit_code, mut signal) = (None, None);
    let mut exited = false;
    for msg in messages {
        match msg {
            HelperMessage::Refused { feature } => {
                return Err(SandboxError::Unsupported {
                    command: req.argv[0].clone(),
                    feature,
                });
            }
            HelperMessage::SetupFailed { message } => return Err(SandboxError::Helper(message)),
            HelperMessage::Enforced { enforcement: e } => enforcement = Some(e),
            HelperMessage::ExecFailed { message, code } => {
                exit_code = Some(code);
                exited = true;
                if captured {
                    stderr
                        .kept
                        .extend_from_slice(format!("warden: {message}\n").as_bytes());
                } else {
                    eprintln!("warden: {message}");
                }
            }
            HelperMessage::Exited { code, signal: s } => {
                (exit_code, signal, exited) = (code, s, true);
            }
        }
    }
    let Some(mut enforcement) = enforcement else {
        return Err(SandboxError::Helper(format!(
            "the helper ended ({}) before reporting the sandbox; nothing was run",
            helper_status.map_or("unknown status".to_string(), |s| s.to_string())
        )));
    };
    if !exited {
        signal = Some(libc::SIGKILL);
    }
    fill_record(&mut enforcement, &prepared, env.removed);

    let failed = exit_code != Some(0) || timed_out;
    let refusals = if failed && prepared.sandboxed {
        let ctx = DetectContext {
            argv: &req.argv,
            cwd: &cwd,
            rules: &prepared.rules,
            deny: &prepared.deny,
            network_denied: !prepared.network,
        };
        let text = format!("{}\n{}", stderr.tail_text(), stdout.tail_text());
        detect(&ctx, &text)
    } else {
        Vec::new()
    };
    let limit = policy.output_limit;
    Ok(ExecOutput {
        exit_code,
        signal,
        truncated: stdout.truncated || stderr.truncated,
        stdout: stdout.text(limit),
        stderr: stderr.text(limit),
        timed_out,
        duration,
        refusals,
        enforcement,
        protected_changes,
    })
}

pub(super) fn fill_record(e: &mut Enforcement, prepared: &Prepared, env_removed: Vec<String>) {
    e.sandboxed = prepared.sandboxed;
    e.mode = prepared.mode_label.clone();
    e.network = prepared.network;
    e.writable = prepared.writable.clone();
    e.guarded = prepared.guarded.clone();
    e.env_removed = env_removed;
    e.notes.extend(prepared.notes.iter().cloned());
}

async fn join_capture(task: Option<tokio::task::JoinHandle<Captured>>) -> Captured {
    let Some(task) = task else {
        return Captured::default();
    };
    // Every process holding the pipes is dead by now; the grace only guards
    // against a descendant the helper could not reach.
    match tokio::time::timeout(KILL_GRACE, task).await {
        Ok(Ok(c)) => c,
        _ => Captured::default(),
    }
}

pub(super) fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SandboxError::Helper(format!(
            "pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The command's private temp dir (`TMPDIR`), removed afterwards.
pub(super) struct PrivateTmp(PathBuf);

impl PrivateTmp {
    pub(super) fn create() -> Result<Self, SandboxError> {
        use std::os::unix::fs::DirBuilderExt;
        let base = std::fs::canonicalize(std::env::temp_dir())
            .map_err(|e| SandboxError::Helper(format!("temp dir: {e}")))?;
        for _ in 0..16 {
            let p = base.join(format!(
                "warden-sbx-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&p) {
                Ok(()) => return Ok(PrivateTmp(p)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(SandboxError::Helper(format!(
                        "cannot create a private temp dir in `{}`: {e}",
                        base.display()
                    )));
                }
            }
        }
        Err(SandboxError::Helper(
            "cannot create a private temp dir".into(),
        ))
    }

    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
