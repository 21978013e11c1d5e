//! warden's side of running a command for `warden run`: prepare the
//! sandbox, have the per-process [`super::zygote`] fork a supervisor that
//! holds the command's pipes, hand it the spec, enforce the timeout,
//! capture output, verify guarded paths, and look for refusals.

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::tmp::PrivateTmp;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

use super::commit_guard::CommitGuard;
use super::enforcement::Enforcement;
use super::guard::Guard;
use super::journal::Journal;
use super::output::{Captured, capture};
use super::prepare::{Begun, Prepared, Reuse, begin};
use super::refusal::{DetectContext, detect};
use super::spec::{SupervisorMessage, SupervisorSpec, parse_messages};
use super::{ExecOutput, ExecRequest, SandboxError, SandboxPolicy, SandboxRuntime};

/// How long the supervisor gets to kill everything after a timeout before
/// warden kills its process group itself.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(2);

/// Run a command in the sandbox and capture its output (the agent loop).
pub async fn execute(
    rt: &SandboxRuntime,
    policy: &SandboxPolicy,
    req: &ExecRequest,
) -> Result<ExecOutput, SandboxError> {
    let tmp = PrivateTmp::in_run_dir()?;
    let Begun { req, prepared, env } = begin(policy, req, &tmp, Reuse::PerProcess, &[])?;
    let req = &req;
    let commits = CommitGuard::begin(policy, &prepared.guarded)?;
    let guard = Guard::for_command(&prepared).map_err(SandboxError::Request)?;
    let journal = Journal::for_guard(&policy.workspace, &guard, &prepared.writable)?;
    let layers = prepared.rulesets()?;
    let spec = SupervisorSpec {
        argv: req.argv.clone(),
        cwd: req.cwd.clone(),
        env: command_env(&env.vars, &BTreeMap::new(), tmp.path()),
        sandboxed: prepared.sandboxed,
        deny_network: !prepared.network.is_on(),
        fallback: policy.fallback,
        landlock: layers.iter().map(|l| l.facts).collect(),
    };

    let (control_read, control_write) = pipe_pair()?;
    let (status_read, status_write) = pipe_pair()?;
    let (stdout_read, stdout_write) = pipe_pair()?;
    let (stderr_read, stderr_write) = pipe_pair()?;
    let (stdin_read, stdin_write) = match &req.stdin {
        Some(_) => {
            let (r, w) = pipe_pair()?;
            (r, Some(w))
        }
        None => (dev_null()?, None),
    };
    // The spec goes into the control pipe before the supervisor exists, so
    // it reads it at once; what does not fit is written afterwards.
    let mut control = async_sender(control_write)?;
    let spec_bytes =
        super::spec::framed(&spec).map_err(|e| SandboxError::Supervisor(e.to_string()))?;
    let written = control.try_write(&spec_bytes).unwrap_or(0);
    let started = Instant::now();
    let mut fds = vec![
        control_read.as_raw_fd(),
        status_write.as_raw_fd(),
        stdin_read.as_raw_fd(),
        stdout_write.as_raw_fd(),
        stderr_write.as_raw_fd(),
    ];
    fds.extend(
        layers
            .iter()
            .filter_map(|l| l.fd.as_ref())
            .map(AsRawFd::as_raw_fd),
    );
    // Everything that can fail is done before the supervisor starts: after
    // it, the only way out is through `guard.finish()` (the guard restores
    // on drop anyway, but only after the supervisor is done is it safe).
    let status = async_receiver(status_read)?;
    let stdin = stdin_write.map(async_sender).transpose()?;
    let stdout_rx = async_receiver(stdout_read)?;
    let stderr_rx = async_receiver(stderr_read)?;
    let pgid = super::zygote::start_supervisor(&rt.warden_exe, &fds)?;
    // The supervisor holds its own copies now; ours must close so that
    // end-of-file means "the supervisor (and the command) are done".
    drop((
        control_read,
        status_write,
        stdin_read,
        stdout_write,
        stderr_write,
    ));
    drop(layers);

    let mut status_task = tokio::spawn(read_status(status));
    if let (Some(mut stdin), Some(bytes)) = (stdin, req.stdin.clone()) {
        tokio::spawn(async move {
            let _ = stdin.write_all(&bytes).await;
        });
    }
    let budget = Arc::new(Mutex::new(policy.output_limit));
    let out_task = tokio::spawn(capture(stdout_rx, budget.clone()));
    let err_task = tokio::spawn(capture(stderr_rx, budget.clone()));

    let timeout = req.timeout.unwrap_or(policy.timeout);
    let mut status_bytes = tokio::time::timeout(timeout, async {
        // A write error means the supervisor died; its status says why.
        if written < spec_bytes.len() {
            let _ = control.write_all(&spec_bytes[written..]).await;
        }
        (&mut status_task).await
    })
    .await;
    let timed_out = status_bytes.is_err();
    drop(control); // tells the supervisor to kill everything, if it still runs
    if timed_out {
        status_bytes = tokio::time::timeout(KILL_GRACE, &mut status_task).await;
        if status_bytes.is_err() {
            // SAFETY: kill(2) on the supervisor's own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            status_bytes = tokio::time::timeout(KILL_GRACE, &mut status_task).await;
        }
    }
    let duration = started.elapsed();
    let status_bytes = match status_bytes {
        Ok(Ok(bytes)) => bytes,
        _ => Vec::new(),
    };
    let messages = parse_messages(&status_bytes);
    let stdout = join_capture(out_task).await;
    let mut stderr = join_capture(err_task).await;
    let mut protected_changes = guard.finish()?;
    if let Some(commits) = commits {
        protected_changes.extend(commits.finish()?);
    }
    Journal::close_opt(journal);

    let mut enforcement: Option<Enforcement> = None;
    let (mut exit_code, mut signal) = (None, None);
    let mut exited = false;
    for msg in messages {
        match msg {
            SupervisorMessage::Refused { feature } => {
                return Err(SandboxError::Unsupported {
                    command: req.argv[0].clone(),
                    feature,
                });
            }
            SupervisorMessage::SetupFailed { message } => {
                return Err(SandboxError::Supervisor(message));
            }
            SupervisorMessage::Enforced { enforcement: e } => enforcement = Some(e),
            SupervisorMessage::ExecFailed { message, code } => {
                exit_code = Some(code);
                exited = true;
                stderr
                    .kept
                    .extend_from_slice(format!("warden: {message}\n").as_bytes());
            }
            SupervisorMessage::Exited { code, signal: s } => {
                (exit_code, signal, exited) = (code, s, true);
            }
        }
    }
    let Some(mut enforcement) = enforcement else {
        return Err(SandboxError::Supervisor(
            "the sandbox supervisor ended before reporting the sandbox; nothing was run".into(),
        ));
    };
    if !exited {
        signal = Some(libc::SIGKILL);
    }
    fill_record(&mut enforcement, &prepared, env.removed);

    let failed = exit_code != Some(0) || timed_out;
    let refusals = if failed && prepared.sandboxed {
        let ctx = DetectContext {
            argv: &req.argv,
            cwd: &req.cwd,
            rules: &prepared.rules,
            deny: &prepared.deny,
            network_denied: prepared.network.is_off(),
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

/// The command's environment: the scrubbed variables, then `extra` (set
/// explicitly by the operator, e.g. an MCP server's `env`), then
/// `TMPDIR`/`TMP`/`TEMP` pointing at its private temp dir.
pub(super) fn command_env(
    scrubbed: &BTreeMap<String, String>,
    extra: &BTreeMap<String, String>,
    tmp: &Path,
) -> Vec<(String, String)> {
    let mut vars = scrubbed.clone();
    vars.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
    let tmp = tmp.to_string_lossy().into_owned();
    for name in ["TMPDIR", "TMP", "TEMP"] {
        vars.insert(name.to_string(), tmp.clone());
    }
    vars.into_iter().collect()
}

fn pipe_pair() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    pipe().map_err(|e| SandboxError::Supervisor(format!("pipe: {e}")))
}

fn dev_null() -> Result<OwnedFd, SandboxError> {
    std::fs::File::open("/dev/null")
        .map(OwnedFd::from)
        .map_err(|e| SandboxError::Supervisor(format!("/dev/null: {e}")))
}

fn async_sender(fd: OwnedFd) -> Result<pipe::Sender, SandboxError> {
    pipe::Sender::from_owned_fd(fd).map_err(|e| SandboxError::Supervisor(format!("pipe: {e}")))
}

fn async_receiver(fd: OwnedFd) -> Result<pipe::Receiver, SandboxError> {
    pipe::Receiver::from_owned_fd(fd).map_err(|e| SandboxError::Supervisor(format!("pipe: {e}")))
}

pub(super) fn fill_record(e: &mut Enforcement, prepared: &Prepared, env_removed: Vec<String>) {
    e.sandboxed = prepared.sandboxed;
    e.mode = prepared.mode_label.clone();
    e.network = !prepared.network.is_off();
    e.writable = prepared.writable.clone();
    e.landlock_rules = prepared.rules.len();
    e.guarded = prepared.guarded.clone();
    e.env_removed = env_removed;
    e.notes.extend(prepared.notes.iter().cloned());
}

/// The supervisor's status lines, up to its last message (it sends nothing
/// after one that ends the command: no need to wait for it to exit) or
/// end-of-file (it died).
async fn read_status(mut status: pipe::Receiver) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    let mut scanned = 0;
    loop {
        match status.read(&mut buf).await {
            Ok(0) | Err(_) => return bytes,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
        while let Some(end) = bytes[scanned..].iter().position(|b| *b == b'\n') {
            let line = &bytes[scanned..scanned + end];
            scanned += end + 1;
            if SupervisorMessage::decode_line(line).is_some_and(|m| m.is_final()) {
                return bytes;
            }
        }
    }
}

async fn join_capture(task: tokio::task::JoinHandle<Captured>) -> Captured {
    // Every process holding the pipes is dead by now; the grace only guards
    // against a descendant the supervisor could not reach.
    match tokio::time::timeout(KILL_GRACE, task).await {
        Ok(Ok(c)) => c,
        _ => Captured::default(),
    }
}

/// A close-on-exec pipe (read end, write end).
pub(super) fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}
