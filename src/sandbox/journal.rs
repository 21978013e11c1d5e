//! The guard's journal: what a command's protected paths held, on disk
//! while the command runs, so that a warden killed mid-command (SIGKILL, a
//! cancelled job) leaves nothing unverified without notice.
//!
//! Before a guarded command starts, warden writes its [`Guard`] snapshot to
//! `<state>/journal/<workspace key>/<pid>.json` (`<state>` is
//! [`state_dir`]: outside every writable root, and denied to every command,
//! since it holds copies of `.git/config`). After the command, once the
//! guard verified and restored, the file is removed. A journal whose
//! process is gone therefore means "killed between snapshot and
//! verification". The next warden command in that workspace
//! ([`check_stale`], run by `warden run` and `warden sandbox`) compares
//! the protected paths with it: unchanged, the journal is dropped with a
//! note; changed, the command refuses (exit 5) and names what changed,
//! because only the user can tell a killed command's plant from their own
//! later edit. `warden recover` ([`recover`]) restores from the journal
//! (the Action runs it in a final `if: always()` step), or, with
//! `--discard`, keeps the current state and drops the journal.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::SandboxError;
use super::guard::{Guard, GuardSnapshot, ProtectedChange};

/// `$XDG_STATE_HOME/warden`, else `~/.local/state/warden`: warden's own
/// state, which no command may read or write.
pub fn state_dir() -> Option<PathBuf> {
    state_dir_from(
        std::env::var_os("XDG_STATE_HOME").map(PathBuf::from),
        std::env::var_os("HOME").map(PathBuf::from),
    )
}

/// [`state_dir`] with the environment given. A relative or empty
/// `XDG_STATE_HOME` is ignored, as the XDG spec says.
pub fn state_dir_from(xdg_state_home: Option<PathBuf>, home: Option<PathBuf>) -> Option<PathBuf> {
    let xdg = xdg_state_home.filter(|p| p.is_absolute());
    let home = || {
        home.filter(|h| h.is_absolute())
            .map(|h| h.join(".local/state"))
    };
    xdg.or_else(home).map(|d| d.join("warden"))
}

/// One journal file.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    workspace: PathBuf,
    pid: u32,
    /// The process's start time (`/proc/<pid>/stat` field 22), so a reused
    /// pid is not taken for the writer.
    start: u64,
    snapshot: GuardSnapshot,
}

/// The journal of one running command; removed by [`Journal::close`].
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
}

/// The directory holding `workspace`'s journals.
fn workspace_dir(workspace: &Path) -> Option<PathBuf> {
    let key = hex::encode(&Sha256::digest(workspace.as_os_str().as_encoded_bytes())[..8]);
    Some(state_dir()?.join("journal").join(key))
}

impl Journal {
    /// Write `guard`'s snapshot for a command in `workspace`. `writable`:
    /// the command's writable hierarchies; a journal they could reach
    /// would let the command choose what recovery writes back, so that is
    /// refused.
    pub fn open(
        workspace: &Path,
        guard: &Guard,
        writable: &[PathBuf],
    ) -> Result<Self, SandboxError> {
        let dir = workspace_dir(workspace).ok_or_else(|| {
            SandboxError::Config(
                "cannot place the protected-path journal: neither XDG_STATE_HOME nor HOME is an absolute path"
                    .into(),
            )
        })?;
        if let Some(w) = writable.iter().find(|w| dir.starts_with(w)) {
            return Err(SandboxError::Config(format!(
                "warden's state directory `{}` is inside the writable root `{}`: a command could \
                 rewrite what warden restores; set XDG_STATE_HOME outside it",
                dir.display(),
                w.display()
            )));
        }
        let entry = Entry {
            workspace: workspace.to_path_buf(),
            pid: std::process::id(),
            start: start_time(std::process::id()).unwrap_or(0),
            snapshot: guard.to_snapshot(),
        };
        let io = |e: std::io::Error| {
            SandboxError::Supervisor(format!("writing the journal in {}: {e}", dir.display()))
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        let path = dir.join(format!("{}.json", entry.pid));
        let tmp = dir.join(format!(".{}.tmp", entry.pid));
        let bytes =
            serde_json::to_vec(&entry).map_err(|e| SandboxError::Supervisor(e.to_string()))?;
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        Ok(Journal { path })
    }

    /// [`Journal::open`] when `guard` guards anything (an unguarded
    /// command has nothing to leave unverified).
    pub fn for_guard(
        workspace: &Path,
        guard: &Guard,
        writable: &[PathBuf],
    ) -> Result<Option<Self>, SandboxError> {
        match guard.is_empty() {
            true => Ok(None),
            false => Journal::open(workspace, guard, writable).map(Some),
        }
    }

    /// The command was verified: nothing is pending.
    pub fn close(self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// [`Journal::close`] of what [`Journal::for_guard`] opened.
    pub fn close_opt(journal: Option<Self>) {
        if let Some(j) = journal {
            j.close();
        }
    }
}

/// Journals of `workspace` whose writer is gone.
fn stale(workspace: &Path) -> Vec<(PathBuf, Entry)> {
    let Some(dir) = workspace_dir(workspace) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let entry = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Entry>(&b).ok());
        match entry {
            Some(entry) if entry.workspace == workspace => {
                let alive = entry.pid == std::process::id()
                    || start_time(entry.pid).is_some_and(|s| s == entry.start);
                if !alive {
                    out.push((path, entry));
                }
            }
            // Unreadable: a journal warden cannot use is still a notice.
            Some(_) => {}
            None => out.push((
                path,
                Entry {
                    workspace: workspace.to_path_buf(),
                    pid: 0,
                    start: 0,
                    snapshot: GuardSnapshot::default(),
                },
            )),
        }
    }
    out
}

/// What [`recover`] found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Interrupted commands found (journals).
    pub journals: usize,
    pub changes: Vec<ProtectedChange>,
}

/// At the start of `warden run` and `warden sandbox`: an interrupted
/// command's protected paths, unchanged, only drop its journal (the note
/// is returned); changed, refuse.
pub fn check_stale(workspace: &Path) -> Result<Option<String>, SandboxError> {
    let found = stale(workspace);
    if found.is_empty() {
        return Ok(None);
    }
    let mut changed = Vec::new();
    for (_, entry) in &found {
        let guard = Guard::from_snapshot(&entry.snapshot);
        changed.extend(guard.differences());
        guard.forget(); // looking is not restoring
    }
    if changed.is_empty() && found.iter().all(|(_, e)| e.pid != 0) {
        for (path, _) in &found {
            let _ = std::fs::remove_file(path);
        }
        return Ok(Some(format!(
            "an earlier warden (pid {}) was stopped while a command ran; its protected paths are unchanged",
            found
                .iter()
                .map(|(_, e)| e.pid.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Err(SandboxError::Unverified {
        changes: changed,
        workspace: workspace.to_path_buf(),
    })
}

/// `warden recover`: restore every interrupted command's protected paths
/// from its journal (or, `discard`, keep them as they are), then drop the
/// journals. An unreadable journal, or a change that cannot be put back,
/// is an error.
pub fn recover(workspace: &Path, discard: bool) -> Result<Recovered, SandboxError> {
    let found = stale(workspace);
    let mut out = Recovered {
        journals: found.len(),
        ..Recovered::default()
    };
    for (path, entry) in found {
        if entry.pid == 0 && !discard {
            return Err(SandboxError::Supervisor(format!(
                "the journal {} cannot be read; inspect the protected paths, then run `warden recover --discard`",
                path.display()
            )));
        }
        let guard = Guard::from_snapshot(&entry.snapshot);
        if discard {
            out.changes.extend(guard.differences());
            guard.forget();
        } else {
            match guard.finish() {
                Ok(changes) => out.changes.extend(changes),
                Err(SandboxError::Unrestored { changes }) => {
                    return Err(SandboxError::Unrestored { changes });
                }
                Err(e) => return Err(e),
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    Ok(out)
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks) of a live
/// process: a zombie (killed, not yet reaped) is gone for this purpose.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_state<T>(f: impl FnOnce(&Path) -> T) -> T {
        let _lock = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let tmp = tempfile::tempdir().unwrap();
        let old = std::env::var_os("XDG_STATE_HOME");
        // SAFETY: tests touching XDG_STATE_HOME hold ENV; nothing else in
        // this test binary reads it concurrently.
        unsafe { std::env::set_var("XDG_STATE_HOME", tmp.path().join("state")) };
        let out = f(tmp.path());
        match old {
            // SAFETY: as above.
            Some(v) => unsafe { std::env::set_var("XDG_STATE_HOME", v) },
            // SAFETY: as above.
            None => unsafe { std::env::remove_var("XDG_STATE_HOME") },
        }
        out
    }

    pub(super) static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn repo(root: &Path) -> (PathBuf, PathBuf) {
        let ws = root.join("ws");
        let git = ws.join(".git");
        std::fs::create_dir_all(git.join("hooks")).unwrap();
        std::fs::create_dir_all(git.join("objects")).unwrap();
        std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(git.join("config"), "[core]\n").unwrap();
        (ws, git)
    }

    /// A journal left by a process that died, as warden killed mid-command
    /// leaves it.
    fn leave_journal(ws: &Path, git: &Path) -> PathBuf {
        let guard = Guard::snapshot(&[git.to_path_buf()], &[]).unwrap();
        let journal = Journal::open(ws, &guard, &[ws.to_path_buf()]).unwrap();
        let mut entry: Entry =
            serde_json::from_slice(&std::fs::read(&journal.path).unwrap()).unwrap();
        entry.pid = u32::MAX; // no such process
        std::fs::write(&journal.path, serde_json::to_vec(&entry).unwrap()).unwrap();
        guard.forget();
        journal.path
    }

    #[test]
    fn an_unchanged_interrupted_command_only_leaves_a_note() {
        with_state(|root| {
            let (ws, git) = repo(root);
            let path = leave_journal(&ws, &git);
            let note = check_stale(&ws).unwrap().expect("a note");
            assert!(note.contains("unchanged"), "{note}");
            assert!(!path.exists());
            assert!(check_stale(&ws).unwrap().is_none());
        });
    }

    #[test]
    fn a_plant_left_by_a_killed_command_refuses_then_recovers() {
        with_state(|root| {
            let (ws, git) = repo(root);
            leave_journal(&ws, &git);
            std::fs::write(git.join("hooks/pre-commit"), "#!/bin/sh\nevil\n").unwrap();
            std::fs::write(git.join("config"), "[core]\nfsmonitor = evil\n").unwrap();
            let Err(SandboxError::Unverified { changes, .. }) = check_stale(&ws) else {
                panic!("a changed protected path must refuse");
            };
            assert_eq!(changes.len(), 2, "{changes:?}");
            assert!(
                git.join("hooks/pre-commit").exists(),
                "checking changes nothing"
            );

            let rec = recover(&ws, false).unwrap();
            assert_eq!(rec.journals, 1);
            assert_eq!(rec.changes.len(), 2);
            assert!(!git.join("hooks/pre-commit").exists());
            assert_eq!(
                std::fs::read_to_string(git.join("config")).unwrap(),
                "[core]\n"
            );
            assert!(check_stale(&ws).unwrap().is_none(), "the journal is gone");
        });
    }

    #[test]
    fn discard_keeps_the_current_state() {
        with_state(|root| {
            let (ws, git) = repo(root);
            leave_journal(&ws, &git);
            std::fs::write(git.join("config"), "[user]\nname = me\n").unwrap();
            let rec = recover(&ws, true).unwrap();
            assert_eq!(rec.changes.len(), 1);
            assert_eq!(
                std::fs::read_to_string(git.join("config")).unwrap(),
                "[user]\nname = me\n"
            );
            assert!(check_stale(&ws).unwrap().is_none());
        });
    }

    #[test]
    fn a_running_writer_is_not_stale_and_a_journal_in_a_writable_root_is_refused() {
        with_state(|root| {
            let (ws, git) = repo(root);
            let guard = Guard::snapshot(std::slice::from_ref(&git), &[]).unwrap();
            let journal = Journal::open(&ws, &guard, std::slice::from_ref(&ws)).unwrap();
            assert!(check_stale(&ws).unwrap().is_none(), "our own journal");
            journal.close();
            let err = Journal::open(&ws, &guard, &[root.to_path_buf()]).unwrap_err();
            assert!(
                err.to_string().contains("inside the writable root"),
                "{err}"
            );
            guard.forget();
        });
    }
}
