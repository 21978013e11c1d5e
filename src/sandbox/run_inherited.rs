//! `warden sandbox`: the warden process is its own sandbox supervisor.
//!
//! No second warden process: warden prepares the plan, builds the Landlock
//! ruleset and the seccomp program, `fork`s once ([`super::launch`]: the child
//! applies the sandbox and `execve`s the command) and supervises the child
//! itself, as a child subreaper, with warden's own stdin, stdout and
//! stderr. The command gets its own process group (as under a `__sandbox-exec`
//! supervisor) and `PR_SET_PDEATHSIG(SIGKILL)`.
//!
//! - timeout: the command's process group and every descendant are killed;
//! - SIGINT, SIGTERM, SIGHUP, SIGQUIT to warden: the same, then warden
//!   restores guarded paths, removes the private temp dir and dies by that
//!   signal ([`SandboxError::Interrupted`] tells the caller to);
//! - SIGKILL of warden: the [`super::guardian`] above this process sweeps
//!   (the command itself dies by its parent-death signal).

use std::time::Instant;

use super::commit_guard::CommitGuard;
use super::devices::given_terminals;
use super::exec::{command_env, fill_record};
use super::guard::Guard;
use super::journal::Journal;
use super::launch::{ChildOutcome, Launch, SandboxSetup, Stdio, exec_failure_code};
use super::prepare::{Begun, Reuse, begin};
use super::supervise::{Child, SignalWatch, Wake, become_subreaper};
use super::tmp::PrivateTmp;
use super::{ExecOutput, ExecRequest, SandboxError, SandboxPolicy};

/// Run a command in the sandbox with warden's own stdin, stdout and stderr
/// (`warden sandbox`); output fields of the result are empty. Blocks.
pub fn run_inherited(
    policy: &SandboxPolicy,
    req: &ExecRequest,
) -> Result<ExecOutput, SandboxError> {
    if let Some(note) = super::journal::check_stale(&policy.workspace)? {
        eprintln!("warden: note: {note}");
    }
    let tmp = PrivateTmp::create()?;
    let Begun { req, prepared, env } = begin(policy, req, &tmp, Reuse::Off, &given_terminals())?;
    let req = &req;
    let commits = CommitGuard::begin(policy, &prepared.guarded)?;
    let guard = Guard::for_command(&prepared).map_err(SandboxError::Request)?;
    let journal = Journal::for_guard(&policy.workspace, &guard, &prepared.writable)?;
    let vars = command_env(&env.vars, &Default::default(), tmp.path());
    let sandbox = match prepared.sandboxed {
        true => Some(SandboxSetup {
            layers: prepared.rulesets()?,
            deny_network: !prepared.network.is_on(),
            fallback: policy.fallback,
        }),
        false => None,
    };
    let launch = Launch::build(&req.argv, &vars, &req.cwd, sandbox, Stdio::default(), true)
        .map_err(SandboxError::Supervisor)?;

    let signals = SignalWatch::new();
    let reaper = become_subreaper();
    let started = Instant::now();
    let spawned = launch.spawn().map_err(SandboxError::Supervisor)?;
    let mut child = Child::new(spawned.pid);
    let applied = match &spawned.outcome {
        ChildOutcome::Running(a) | ChildOutcome::ExecFailed(a, _) | ChildOutcome::Refused(a) => *a,
        ChildOutcome::SetupFailed(msg) => {
            child.reap();
            return Err(SandboxError::Supervisor(msg.clone()));
        }
    };
    let mut enforcement = match spawned.enforcement(&applied) {
        Ok(e) => e,
        Err(feature) => {
            child.reap();
            return Err(SandboxError::Unsupported {
                command: req.argv[0].clone(),
                feature,
            });
        }
    };

    let (mut timed_out, mut interrupted) = (false, None);
    let ended = if let ChildOutcome::ExecFailed(_, errno) = spawned.outcome {
        child.reap();
        eprintln!(
            "warden: cannot run `{}`: {}",
            req.argv[0],
            std::io::Error::from_raw_os_error(errno)
        );
        super::supervise::Ended {
            code: Some(exec_failure_code(errno)),
            signal: None,
        }
    } else {
        let deadline = started + req.timeout.unwrap_or(policy.timeout);
        let watch: Vec<_> = signals.iter().map(SignalWatch::fd).collect();
        match child.wait_until(&watch, Some(deadline)) {
            Wake::Exited => {}
            Wake::Deadline => timed_out = true,
            Wake::Fd(_) => interrupted = signals.as_ref().and_then(SignalWatch::take),
        }
        if timed_out || interrupted.is_some() {
            child.kill(true);
        }
        child.reap()
    };
    reaper.sweep();
    let duration = started.elapsed();
    // Every process of the command is dead: restore, or fail closed.
    let mut protected_changes = guard.finish()?;
    if let Some(commits) = commits {
        protected_changes.extend(commits.finish()?);
    }
    Journal::close_opt(journal);
    drop(tmp);
    if let Some(signal) = interrupted {
        return Err(SandboxError::Interrupted { signal });
    }
    drop(signals);
    fill_record(&mut enforcement, &prepared, env.removed);
    Ok(ExecOutput {
        exit_code: ended.code,
        signal: ended.signal,
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
        timed_out,
        duration,
        refusals: Vec::new(),
        enforcement,
        protected_changes,
    })
}
