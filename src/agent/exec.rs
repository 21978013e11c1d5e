//! Carrying out an allowed tool call. Every tool — shell, file reads and
//! writes, listings, searches, skills — runs as a sandboxed process with the
//! grants its decision gave, so the kernel enforces what the pipeline
//! predicted (deny-read, protected paths, symlinks out of the workspace).
//! warden itself never opens a file on the model's behalf.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::decision::Grants;
use crate::sandbox::write_scope::{WriteBlock, WriteOp, WriteScope};
use crate::sandbox::{
    ExecOutput, ExecRequest, ProtectedChange, Refusal, RefusalKind, SandboxError, SandboxPolicy,
    SandboxRuntime, execute,
};

/// How a command was run, for wording what the sandbox refused it.
struct Ran<'a> {
    cwd: &'a Path,
    grants: &'a Grants,
    /// The path a file tool wrote and how: a failed write is classified
    /// from it, not from the tool's output.
    wrote: Option<(&'a Path, WriteOp)>,
}

/// One refusal as the agent and the audit log are told it.
struct Told {
    refusal: Refusal,
    /// Why a write was refused ([`WriteScope::classify`]); `None` for reads,
    /// the network, and writes the policy would allow.
    block: Option<WriteBlock>,
}

/// What the model gets back, plus the facts the audit log records.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    pub content: String,
    pub is_error: bool,
    pub exec: Option<ExecFacts>,
}

#[derive(Debug, Clone, Default)]
pub struct ExecFacts {
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub truncated: bool,
    pub duration_ms: u64,
    pub refusals: Vec<String>,
    /// Guarded protected paths the command changed, and whether each was
    /// put back (one that was not ends the run).
    pub protected_changes: Vec<ProtectedChange>,
}

impl ExecFacts {
    /// A protected path stayed changed: nothing more may run.
    pub fn unrestored(&self) -> bool {
        self.protected_changes.iter().any(|c| !c.restored)
    }
}

impl ToolOutcome {
    pub fn error(msg: impl Into<String>) -> Self {
        ToolOutcome {
            content: msg.into(),
            is_error: true,
            exec: None,
        }
    }
}

/// Runs tool processes in the sandbox.
pub struct Executor {
    pub runtime: SandboxRuntime,
    pub policy: SandboxPolicy,
    pub workspace: PathBuf,
    pub skills_dirs: Vec<PathBuf>,
    /// Bytes of a result given back to the model.
    pub output_limit: usize,
}

impl Executor {
    async fn run(
        &self,
        argv: Vec<String>,
        cwd: &Path,
        grants: &Grants,
        timeout: Option<Duration>,
        stdin: Option<Vec<u8>>,
    ) -> Result<ExecOutput, ToolOutcome> {
        self.create_granted_dirs(grants)
            .map_err(ToolOutcome::error)?;
        let req = ExecRequest {
            argv,
            cwd: cwd.to_path_buf(),
            grants: grants.clone(),
            timeout,
            stdin,
        };
        match execute(&self.runtime, &self.policy, &req).await {
            Ok(out) => Ok(out),
            // The facts carry what stayed changed: the loop records them and
            // ends the run.
            Err(SandboxError::Unrestored { changes }) => Err(ToolOutcome {
                content: format!(
                    "warden: {}",
                    SandboxError::Unrestored {
                        changes: changes.clone()
                    }
                ),
                is_error: true,
                exec: Some(ExecFacts {
                    protected_changes: changes,
                    ..ExecFacts::default()
                }),
            }),
            Err(e) => Err(ToolOutcome::error(format!(
                "the sandbox could not run the command: {e}"
            ))),
        }
    }

    /// Create the missing build-output directories an allow rule names
    /// (`grants.write = ["target/"]`), one level only, directly under an
    /// existing directory of the workspace, never through a symlink and
    /// never on a protected path (this re-checks before touching the
    /// disk). Those outside the workspace are the sandbox's to create.
    fn create_granted_dirs(&self, grants: &Grants) -> Result<(), String> {
        for dir in &grants.create_dirs {
            // Outside the workspace the sandbox creates it exactly
            // (`sandbox::grant_paths`); here only workspace directories.
            if dir.exists() || !dir.starts_with(&self.workspace) {
                continue;
            }
            let Some(parent) = dir.parent() else { continue };
            let real_parent = parent
                .canonicalize()
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            if real_parent != parent || !real_parent.starts_with(&self.workspace) {
                return Err(format!(
                    "refusing to create {}: its parent is not a plain directory of the workspace",
                    dir.display()
                ));
            }
            match std::fs::create_dir(dir) {
                Ok(()) => tracing::info!("created {} for a granted write", dir.display()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
            }
        }
        Ok(())
    }

    fn cwd(&self, rel: Option<&Path>) -> PathBuf {
        match rel {
            Some(p) => crate::policy::paths::normalize(&self.workspace.join(p)),
            None => self.workspace.clone(),
        }
    }

    /// Shell commands: output is stdout+stderr with the exit status.
    pub async fn shell(
        &self,
        argv: &[String],
        cwd: Option<&Path>,
        grants: &Grants,
        timeout: Option<Duration>,
    ) -> ToolOutcome {
        let cwd = self.cwd(cwd);
        match self.run(argv.to_vec(), &cwd, grants, timeout, None).await {
            Ok(out) => self.outcome(out, true, &self.ran(&cwd, grants)),
            Err(failed) => failed,
        }
    }

    fn ran<'a>(&self, cwd: &'a Path, grants: &'a Grants) -> Ran<'a> {
        Ran {
            cwd,
            grants,
            wrote: None,
        }
    }

    pub async fn read_file(&self, path: &Path, grants: &Grants) -> ToolOutcome {
        let argv = vec![
            "cat".into(),
            "--".into(),
            path.to_string_lossy().into_owned(),
        ];
        match self.run(argv, &self.workspace, grants, None, None).await {
            Ok(out) => self.outcome(out, false, &self.ran(&self.workspace, grants)),
            Err(failed) => failed,
        }
    }

    pub async fn write_file(&self, path: &Path, content: &str, grants: &Grants) -> ToolOutcome {
        let op = WriteOp::for_write(&self.workspace.join(path));
        // `$1` is the path: never interpolated into the script.
        let argv = vec![
            "sh".into(),
            "-c".into(),
            "mkdir -p -- \"$(dirname -- \"$1\")\" && cat > \"$1\"".into(),
            "warden-write".into(),
            path.to_string_lossy().into_owned(),
        ];
        match self
            .run(
                argv,
                &self.workspace,
                grants,
                None,
                Some(content.as_bytes().to_vec()),
            )
            .await
        {
            Ok(out) if out.exit_code == Some(0) => ToolOutcome {
                content: format!("wrote {} bytes to {}", content.len(), path.display()),
                is_error: false,
                exec: Some(facts(&out, &[])),
            },
            Ok(out) => self.outcome(
                out,
                true,
                &Ran {
                    wrote: Some((path, op)),
                    ..self.ran(&self.workspace, grants)
                },
            ),
            Err(failed) => failed,
        }
    }

    pub async fn delete_file(&self, path: &Path, grants: &Grants) -> ToolOutcome {
        let argv = vec![
            "rm".into(),
            "--".into(),
            path.to_string_lossy().into_owned(),
        ];
        match self.run(argv, &self.workspace, grants, None, None).await {
            Ok(out) => self.outcome(
                out,
                true,
                &Ran {
                    wrote: Some((path, WriteOp::Entry)),
                    ..self.ran(&self.workspace, grants)
                },
            ),
            Err(failed) => failed,
        }
    }

    /// Apply a patch: read each file in the sandbox, patch in memory, write
    /// back in the sandbox. Nothing is written unless every file patches.
    pub async fn apply_patch(&self, patch: &str, grants: &[Grants]) -> ToolOutcome {
        let files = match super::patch::parse(patch) {
            Ok(f) => f,
            Err(e) => return ToolOutcome::error(format!("invalid patch: {e}")),
        };
        let mut results = Vec::new();
        for (fp, g) in files.iter().zip(grants) {
            let original = if fp.is_new {
                String::new()
            } else {
                let read = self.read_file(&fp.path, g).await;
                if read.is_error {
                    return ToolOutcome {
                        content: format!("cannot read {}: {}", fp.path.display(), read.content),
                        ..read
                    };
                }
                read.content
            };
            match super::patch::apply(fp, &original) {
                Ok(new) => results.push((fp.path.clone(), new, g.clone())),
                Err(e) => return ToolOutcome::error(format!("patch does not apply: {e}")),
            }
        }
        let mut summary = Vec::new();
        for (path, new, g) in results {
            let r = match new {
                Some(content) => self.write_file(&path, &content, &g).await,
                None => self.delete_file(&path, &g).await,
            };
            if r.is_error {
                return r;
            }
            summary.push(path.display().to_string());
        }
        ToolOutcome {
            content: format!("patched {}", summary.join(", ")),
            is_error: false,
            exec: None,
        }
    }

    pub async fn list_dir(&self, path: &Path, grants: &Grants) -> ToolOutcome {
        let argv = vec![
            "ls".into(),
            "-la".into(),
            "--".into(),
            path.to_string_lossy().into_owned(),
        ];
        match self.run(argv, &self.workspace, grants, None, None).await {
            Ok(out) => self.outcome(out, false, &self.ran(&self.workspace, grants)),
            Err(failed) => failed,
        }
    }

    pub async fn grep(&self, pattern: &str, path: &Path, grants: &Grants) -> ToolOutcome {
        let argv = vec![
            "grep".into(),
            "-rnE".into(),
            "--exclude-dir=.git".into(),
            "-e".into(),
            pattern.to_owned(),
            "--".into(),
            path.to_string_lossy().into_owned(),
        ];
        match self.run(argv, &self.workspace, grants, None, None).await {
            // grep exits 1 when nothing matched: not an error.
            Ok(out) if out.exit_code == Some(1) && out.stdout.is_empty() => ToolOutcome {
                content: "no matches".into(),
                is_error: false,
                exec: Some(facts(&out, &[])),
            },
            Ok(out) => self.outcome(out, false, &self.ran(&self.workspace, grants)),
            Err(failed) => failed,
        }
    }

    /// Find `<dir>/<name>/<script or "run">` in the skills directories.
    pub fn skill_path(&self, name: &str, script: Option<&str>) -> Option<PathBuf> {
        let file = script.unwrap_or("run");
        self.skills_dirs
            .iter()
            .map(|d| self.workspace.join(d).join(name).join(file))
            .find(|p| p.is_file())
    }

    pub async fn skill(
        &self,
        name: &str,
        script: Option<&str>,
        args: &[String],
        grants: &Grants,
    ) -> ToolOutcome {
        let Some(path) = self.skill_path(name, script) else {
            return ToolOutcome::error(format!(
                "no skill `{name}` (looked for {}/<name>/{} in the skills directories)",
                self.skills_dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                script.unwrap_or("run")
            ));
        };
        let mut argv = vec![path.to_string_lossy().into_owned()];
        argv.extend(args.iter().cloned());
        match self.run(argv, &self.workspace, grants, None, None).await {
            Ok(out) => self.outcome(out, true, &self.ran(&self.workspace, grants)),
            Err(failed) => failed,
        }
    }

    /// The refusals of a failed command, each write classified by the one
    /// function that knows the policy ([`WriteScope::classify`]). A file
    /// tool's own write comes first and is classified from the path it
    /// wrote (structured); the output's refusals of that path are the same
    /// refusal.
    fn told(&self, out: &ExecOutput, ran: &Ran<'_>) -> Vec<Told> {
        let failed = out.exit_code != Some(0) || out.timed_out;
        let tool_write = ran.wrote.filter(|_| failed);
        let classified_writes = out
            .refusals
            .iter()
            .any(|r| r.kind == RefusalKind::Write && r.path.is_some());
        if tool_write.is_none() && !classified_writes {
            return out
                .refusals
                .iter()
                .map(|r| Told {
                    refusal: r.clone(),
                    block: None,
                })
                .collect();
        }
        // Deny-read globs come from the per-process cache: only a failed
        // command pays for this.
        let scope = match WriteScope::expanded(&self.policy, ran.grants, ran.cwd) {
            Ok(scope) => scope,
            Err(e) => {
                tracing::warn!("cannot classify the refused writes: {e}");
                None
            }
        };
        let classify =
            |path: &Path, op: WriteOp| scope.as_ref().and_then(|s| s.classify(ran.cwd, path, op));
        let mut told = Vec::new();
        let mut tool_path = None;
        if let Some((path, op)) = tool_write
            && let Some(block) = classify(path, op)
        {
            let absolute = crate::sandbox::resolve::canonical_or_normal(&ran.cwd.join(path));
            let kind = match block {
                WriteBlock::DenyRead { .. } => RefusalKind::Read,
                _ => RefusalKind::Write,
            };
            told.push(Told {
                refusal: Refusal {
                    kind,
                    path: Some(absolute.clone()),
                    target: None,
                    op: Some(op),
                    evidence: "the file tool's write failed".to_string(),
                },
                block: Some(block),
            });
            tool_path = Some(absolute);
        }
        for r in &out.refusals {
            if r.path.is_some() && r.path == tool_path {
                continue;
            }
            let block = match (&r.kind, &r.path) {
                (RefusalKind::Write, Some(path)) => {
                    classify(path, r.op.unwrap_or_else(|| WriteOp::for_write(path)))
                }
                _ => None,
            };
            told.push(Told {
                refusal: r.clone(),
                block,
            });
        }
        told
    }

    fn outcome(&self, out: ExecOutput, with_status: bool, ran: &Ran<'_>) -> ToolOutcome {
        let ok = out.exit_code == Some(0) && !out.timed_out;
        let mut content = String::new();
        if with_status || !ok {
            content.push_str(&status_line(&out));
        }
        content.push_str(&out.stdout);
        if !out.stderr.is_empty() && (with_status || !ok) {
            if !content.ends_with('\n') && !content.is_empty() {
                content.push('\n');
            }
            content.push_str(&out.stderr);
        }
        if !out.protected_changes.is_empty() {
            content
                .push_str("\n[warden] the command changed protected paths; warden restored them: ");
            content.push_str(&describe_changes(&out.protected_changes));
        }
        let told = self.told(&out, ran);
        for t in &told {
            content.push_str("\n[warden] the sandbox refused: ");
            content.push_str(&describe_refusal(&t.refusal));
            if let Some(block) = &t.block {
                content.push_str(": ");
                content.push_str(&block.hint());
            }
        }
        // A classified write says itself whether escalating helps.
        if told.iter().any(|t| t.block.is_none()) {
            content.push_str(
                "\n[warden] if this is needed, retry with `escalate` naming exactly what is needed, and a justification.",
            );
        }
        ToolOutcome {
            content: cap(&content, self.output_limit),
            is_error: !ok,
            exec: Some(facts(&out, &told)),
        }
    }
}

fn status_line(out: &ExecOutput) -> String {
    if out.timed_out {
        "[timed out; the process group was killed]\n".to_owned()
    } else {
        match (out.exit_code, out.signal) {
            (Some(c), _) => format!("[exit status {c}]\n"),
            (None, Some(s)) => format!("[killed by signal {s}]\n"),
            (None, None) => "[exit status unknown]\n".to_owned(),
        }
    }
}

/// `write /etc/hosts`, `network x.example:443`.
fn describe_refusal(r: &Refusal) -> String {
    let kind = match r.kind {
        RefusalKind::Read => "read",
        RefusalKind::Write => "write",
        RefusalKind::Network => "network",
    };
    match (&r.path, &r.target) {
        (Some(p), _) => format!("{kind} {}", p.display()),
        (None, Some(t)) => format!("{kind} {t}"),
        (None, None) => kind.to_owned(),
    }
}

/// The facts the audit log records; each refusal as `write PATH (why)`.
fn facts(out: &ExecOutput, told: &[Told]) -> ExecFacts {
    ExecFacts {
        exit_code: out.exit_code,
        timed_out: out.timed_out,
        truncated: out.truncated,
        duration_ms: out.duration.as_millis() as u64,
        refusals: told
            .iter()
            .map(|t| match &t.block {
                Some(block) => format!("{} ({})", describe_refusal(&t.refusal), block.label()),
                None => describe_refusal(&t.refusal),
            })
            .collect(),
        protected_changes: out.protected_changes.clone(),
    }
}

/// `/ws/.git/hooks/post-checkout (added, restored), …`
pub fn describe_changes(changes: &[ProtectedChange]) -> String {
    changes
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Cap `text` at `limit` bytes (on a char boundary), marking the cut.
pub fn cap(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[warden: output truncated: {} of {} bytes shown]",
        &text[..end],
        end,
        text.len()
    )
}

#[cfg(test)]
mod tests {
    use super::cap;

    #[test]
    fn cap_marks_truncation_on_char_boundaries() {
        assert_eq!(cap("short", 10), "short");
        let s = "é".repeat(10);
        let c = cap(&s, 5);
        assert!(c.starts_with("éé"));
        assert!(c.contains("truncated: 4 of 20 bytes"));
    }
}
