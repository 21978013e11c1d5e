//! Long-lived sandboxed children with piped stdio (MCP servers).
//!
//! The same supervisor as [`super::execute`] (Landlock, seccomp, scrubbed
//! environment, private temp dir, its own process group), started as a
//! fresh `warden __sandbox-exec` process (a server lives for the whole run,
//! so the zygote's fast start does not matter and the types stay tokio's),
//! but the command's stdin, stdout and stderr are pipes the caller keeps,
//! there is no timeout, and the process lives until [`StdioProcess::terminate`],
//! until the [`StdioProcess`] is dropped, or until warden dies: each closes
//! the control pipe, which makes the supervisor kill the command and everything
//! it started.
//!
//! Writes to a dead server: warden ignores SIGPIPE (see `main.rs`), and it
//! also keeps its own copy of the read end of the child's stdin, so the pipe
//! always has a reader and a write to a dead server lands in the pipe buffer
//! (then blocks, bounded by the caller's timeouts) instead of failing in the
//! middle of an rmcp message. A crashed server never takes warden down.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{ChildStderr, ChildStdout};
use tokio::sync::{mpsc, watch};

use super::enforcement::Enforcement;
use super::exec::{KILL_GRACE, command_env, fill_record, pipe};
use super::prepare::{Begun, Reuse, begin};
use super::spec::{SupervisorMessage, SupervisorSpec, write_framed};
use super::tmp::PrivateTmp;
use super::{ExecRequest, SandboxError, SandboxPolicy, SandboxRuntime};
use crate::decision::Grants;

/// A long-lived command to start in the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StdioRequest {
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// What the command may do beyond the profile's sandbox (e.g. network).
    pub grants: Grants,
    /// Set after the scrubbed environment and not filtered: the operator
    /// named these explicitly (an MCP server's `env`, often a token).
    pub env: BTreeMap<String, String>,
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEnd {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The command could not be started at all (not found, not executable).
    pub exec_error: Option<String>,
}

impl ProcessEnd {
    /// "exited with code 3", "killed by signal 9", "could not start: …".
    pub fn describe(&self) -> String {
        if let Some(e) = &self.exec_error {
            return format!("could not start: {e}");
        }
        match (self.code, self.signal) {
            (Some(c), _) => format!("exited with code {c}"),
            (None, Some(s)) => format!("killed by signal {s}"),
            (None, None) => "ended (status unknown)".into(),
        }
    }
}

/// A running sandboxed command with piped stdio.
pub struct StdioProcess {
    /// The command's stdin (take it for a transport).
    pub stdin: Option<tokio::net::unix::pipe::Sender>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
    /// What the kernel enforces for this command.
    pub enforcement: Enforcement,
    /// Closing it tells the supervisor to kill the command.
    control: Option<File>,
    /// Our copy of the read end of the command's stdin (see the module doc).
    _stdin_reader: OwnedFd,
    ended: watch::Receiver<Option<ProcessEnd>>,
    pgid: Option<libc::pid_t>,
}

impl std::fmt::Debug for StdioProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdioProcess")
            .field("pgid", &self.pgid)
            .field("ended", &*self.ended.borrow())
            .finish_non_exhaustive()
    }
}

impl StdioProcess {
    /// How the command ended, if it has.
    pub fn ended(&self) -> Option<ProcessEnd> {
        self.ended.borrow().clone()
    }

    /// A receiver that sees the end of the command (`Some`) when it happens.
    pub fn end_watch(&self) -> watch::Receiver<Option<ProcessEnd>> {
        self.ended.clone()
    }

    /// Wait up to `limit` for the command to end.
    pub async fn wait_for_end(&self, limit: Duration) -> Option<ProcessEnd> {
        wait_end(self.ended.clone(), limit).await
    }

    /// Stop the command: give it `grace` to exit by itself (the caller
    /// should have closed its stdin first), then have the supervisor kill it and
    /// everything it started, then kill the process group as a last resort.
    pub async fn terminate(&mut self, grace: Duration) -> ProcessEnd {
        drop(self.stdin.take());
        if let Some(end) = self.wait_for_end(grace).await {
            return end;
        }
        drop(self.control.take());
        if let Some(end) = self.wait_for_end(KILL_GRACE).await {
            return end;
        }
        if let Some(pgid) = self.pgid {
            // SAFETY: kill(2) on the supervisor's own process group.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
        self.wait_for_end(KILL_GRACE).await.unwrap_or(ProcessEnd {
            code: None,
            signal: Some(libc::SIGKILL),
            exec_error: None,
        })
    }
}

async fn wait_end(
    mut rx: watch::Receiver<Option<ProcessEnd>>,
    limit: Duration,
) -> Option<ProcessEnd> {
    let waited = tokio::time::timeout(limit, async {
        rx.wait_for(|e| e.is_some()).await.map(|end| end.clone())
    })
    .await;
    match waited {
        Ok(Ok(end)) => end,
        // The watcher is gone only after it published the end.
        _ => rx.borrow().clone(),
    }
}

/// Start `req` in the sandbox with piped stdio. Returns once the supervisor has
/// reported the sandbox in place; a command that cannot be executed shows
/// up as an early [`ProcessEnd`] with `exec_error`.
pub async fn spawn_stdio(
    rt: &SandboxRuntime,
    policy: &SandboxPolicy,
    req: &StdioRequest,
) -> Result<StdioProcess, SandboxError> {
    let tmp = PrivateTmp::create()?;
    let exec_req = ExecRequest {
        argv: req.argv.clone(),
        cwd: req.cwd.clone(),
        grants: req.grants.clone(),
        timeout: None,
        stdin: None,
    };
    // A server runs for the whole run, beside the commands: no guard can
    // verify it between them, so protected paths stay carved out of its
    // writable set (`sandbox.git = "read-only"` for it alone).
    let carved = SandboxPolicy {
        git: crate::config::GitMode::ReadOnly,
        ..policy.clone()
    };
    let Begun {
        req: exec_req,
        prepared,
        env,
    } = begin(&carved, &exec_req, &tmp, Reuse::Off, &[])?;
    let cwd = exec_req.cwd.clone();

    let pipe = || pipe().map_err(|e| SandboxError::Supervisor(format!("pipe: {e}")));
    let (spec_read, spec_write) = pipe()?;
    let (status_read, status_write) = pipe()?;
    let (stdin_read, stdin_write) = pipe()?;
    let child_stdin = stdin_read
        .try_clone()
        .map_err(|e| SandboxError::Supervisor(format!("dup stdin pipe: {e}")))?;
    let layers = prepared.rulesets()?;
    let ruleset_fds: Vec<RawFd> = layers
        .iter()
        .filter_map(|l| l.fd.as_ref())
        .map(AsRawFd::as_raw_fd)
        .collect();
    let mut cmd = tokio::process::Command::new(&rt.warden_exe);
    cmd.arg("__sandbox-exec")
        .arg("--spec-fd")
        .arg(spec_read.as_raw_fd().to_string())
        .arg("--status-fd")
        .arg(status_write.as_raw_fd().to_string());
    for fd in &ruleset_fds {
        cmd.arg("--ruleset-fd").arg(fd.to_string());
    }
    cmd.env_clear()
        .current_dir(&cwd)
        .stdin(Stdio::from(child_stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut inherit = vec![spec_read.as_raw_fd(), status_write.as_raw_fd()];
    inherit.extend(&ruleset_fds);
    // SAFETY: the closure runs between fork and exec and only calls
    // fcntl(2), which is async-signal-safe; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            for fd in &inherit {
                if libc::fcntl(*fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        SandboxError::Supervisor(format!("cannot start `{}`: {e}", rt.warden_exe.display()))
    })?;
    drop(spec_read);
    drop(status_write);
    let pgid = child.id().map(|p| p as libc::pid_t);

    let spec = SupervisorSpec {
        landlock: layers.iter().map(|l| l.facts).collect(),
        argv: req.argv.clone(),
        cwd: cwd.clone(),
        env: command_env(&env.vars, &req.env, tmp.path()),
        sandboxed: prepared.sandboxed,
        deny_network: !prepared.network.is_on(),
        fallback: policy.fallback,
    };
    drop(layers);
    let control = tokio::task::spawn_blocking(move || {
        let mut f = File::from(spec_write);
        write_framed(&mut f, &spec).map(|_| f)
    });
    let mut status = read_status(status_read);
    let control = control
        .await
        .map_err(|e| SandboxError::Supervisor(e.to_string()))?
        .ok();

    let mut enforcement = match status.recv().await {
        Some(SupervisorMessage::Enforced { enforcement }) => enforcement,
        Some(SupervisorMessage::Refused { feature }) => {
            return Err(SandboxError::Unsupported {
                command: req.argv[0].clone(),
                feature,
            });
        }
        Some(SupervisorMessage::SetupFailed { message }) => {
            return Err(SandboxError::Supervisor(message));
        }
        other => {
            let _ = child.start_kill();
            return Err(SandboxError::Supervisor(format!(
                "the helper ended before reporting the sandbox ({other:?}); nothing was started"
            )));
        }
    };
    fill_record(&mut enforcement, &prepared, env.removed);

    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let stdin = tokio::net::unix::pipe::Sender::from_owned_fd(stdin_write)
        .map_err(|e| SandboxError::Supervisor(format!("stdin pipe: {e}")))?;
    let (end_tx, end_rx) = watch::channel(None);
    tokio::spawn(async move {
        let supervisor = child.wait().await;
        let mut end = ProcessEnd {
            code: None,
            signal: None,
            exec_error: None,
        };
        let mut reported = false;
        // The status pipe closes when the supervisor exits; bounded anyway.
        while let Ok(Some(msg)) = tokio::time::timeout(KILL_GRACE, status.recv()).await {
            match msg {
                SupervisorMessage::Exited { code, signal } => {
                    (end.code, end.signal, reported) = (code, signal, true);
                }
                SupervisorMessage::ExecFailed { message, code } => {
                    (end.code, end.exec_error, reported) = (Some(code), Some(message), true);
                }
                _ => {}
            }
        }
        if !reported {
            tracing::warn!(
                ?supervisor,
                "the sandbox helper ended without reporting its command"
            );
            end.signal = Some(libc::SIGKILL);
        }
        drop(tmp); // the private temp dir outlives the command, not more
        let _ = end_tx.send(Some(end));
    });
    Ok(StdioProcess {
        stdin: Some(stdin),
        stdout,
        stderr,
        enforcement,
        control,
        _stdin_reader: stdin_read,
        ended: end_rx,
        pgid,
    })
}

/// The supervisor's JSON status lines, read off the async threads.
fn read_status(status: OwnedFd) -> mpsc::UnboundedReceiver<SupervisorMessage> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(File::from(status)).split(b'\n') {
            let Ok(line) = line else { break };
            if let Some(msg) = SupervisorMessage::decode_line(&line)
                && tx.send(msg).is_err()
            {
                break;
            }
        }
    });
    rx
}
