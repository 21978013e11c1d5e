//! The per-command wrapper around [`super::git_commits`]: when a command
//! can write the workspace's gitdir (the workspace under
//! `sandbox.git = "commit"`, or a grant on `.git`), the refs are read
//! before it runs and, once its processes are dead and the file guard has
//! put the gitdir's own files back, commits, branches, stashes and staged
//! entries of protected paths are put back too. The protected paths'
//! index entries are read once per process (a run is one process), so
//! the common command costs one [`RefState::read`] and nothing else.
//!
//! Fails closed: a state that cannot be read before the command refuses to
//! run it; one that cannot be checked or put back after it is
//! [`SandboxError::Unrestored`] (exit 5), like a protected file that
//! could not be restored.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use super::git_commits::{IndexBaseline, RefState, check_and_revert};
use super::{ProtectedChange, SandboxError, SandboxPolicy};

/// What one command's check needs, taken before it runs.
#[derive(Debug)]
pub struct CommitGuard {
    worktree: PathBuf,
    gitdir: PathBuf,
    protected_rel: Vec<PathBuf>,
    before: RefState,
    index: IndexBaseline,
}

impl CommitGuard {
    /// `None` when the command cannot write the gitdir: no `<workspace>/.git`
    /// directory, or no guarded path covering it (then `.git` is carved out
    /// and nothing can be committed).
    pub fn begin(
        policy: &SandboxPolicy,
        guarded: &[PathBuf],
    ) -> Result<Option<CommitGuard>, SandboxError> {
        let worktree = policy.workspace.clone();
        let gitdir = worktree.join(".git");
        let is_dir = std::fs::symlink_metadata(&gitdir)
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if !is_dir || !guarded.iter().any(|g| gitdir.starts_with(g)) {
            return Ok(None);
        }
        let protected_rel: Vec<PathBuf> = policy
            .protected
            .iter()
            .filter_map(|p| p.strip_prefix(&worktree).ok())
            .filter(|rel| !rel.as_os_str().is_empty() && *rel != Path::new(".git"))
            .map(Path::to_path_buf)
            .collect();
        let refuse = |what: &str, e: String| {
            SandboxError::Request(format!(
                "cannot read the {what} of {} before the command: {e}",
                gitdir.display()
            ))
        };
        let before = RefState::read(&gitdir).map_err(|e| refuse("refs", e))?;
        let index = baseline(&worktree, &gitdir, &protected_rel).map_err(|e| refuse("index", e))?;
        Ok(Some(CommitGuard {
            worktree,
            gitdir,
            protected_rel,
            before,
            index,
        }))
    }

    /// After the command and the file guard: what was put back. An entry
    /// not restored, or a state that could not be checked, is an error.
    pub fn finish(self) -> Result<Vec<ProtectedChange>, SandboxError> {
        let changes = match check_and_revert(
            &self.worktree,
            &self.gitdir,
            &self.before,
            &self.index,
            &self.protected_rel,
        ) {
            Ok(changes) => changes,
            Err(why) => {
                tracing::error!("commits of protected paths could not be checked: {why}");
                vec![super::guard::change(
                    self.gitdir.clone(),
                    "unreadable",
                    false,
                )]
            }
        };
        if changes.iter().any(|c| !c.restored) {
            return Err(SandboxError::Unrestored { changes });
        }
        Ok(changes)
    }
}

/// Index baselines by gitdir and protected paths.
type Baselines = HashMap<(PathBuf, Vec<PathBuf>), IndexBaseline>;

/// The index entries of the protected paths, read once per process and
/// gitdir: a run's first command sees the index the run started with.
fn baseline(
    worktree: &Path,
    gitdir: &Path,
    protected_rel: &[PathBuf],
) -> Result<IndexBaseline, String> {
    static CACHE: OnceLock<Mutex<Baselines>> = OnceLock::new();
    let key = (gitdir.to_path_buf(), protected_rel.to_vec());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.lock().map_err(|e| e.to_string())?.get(&key) {
        return Ok(hit.clone());
    }
    let read = IndexBaseline::read(worktree, gitdir, protected_rel)?;
    cache
        .lock()
        .map_err(|e| e.to_string())?
        .insert(key, read.clone());
    Ok(read)
}
