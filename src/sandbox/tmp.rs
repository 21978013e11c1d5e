//! Each command's private temp dir (`TMPDIR`, `TMP`, `TEMP`): a fresh
//! directory of its own, mode 0700, writable by that command only, removed
//! with its contents when the command ends.
//!
//! `warden sandbox` and MCP servers get one directly in the system temp
//! dir ([`PrivateTmp::create`]). The commands of `warden run` get one
//! inside a per-process run directory ([`PrivateTmp::in_run_dir`], also
//! 0700, removed when warden exits normally): the run directory is what
//! the cached Landlock plan makes writable, so that the plan stays the same
//! from one command to the next ([`super::plan_cache`]), and a per-command
//! writes-only layer narrows writes to the command's own directory
//! ([`super::prepare`]). Names start with `warden-sbx-` either way.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

use super::SandboxError;

/// The run directory of this process, once created.
static RUN_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// A command's private temp dir, removed (with its contents) on drop.
pub struct PrivateTmp {
    path: PathBuf,
    /// The per-process run directory it is in, if any.
    run_dir: Option<PathBuf>,
}

impl PrivateTmp {
    /// A fresh directory in the system temp dir.
    pub fn create() -> Result<Self, SandboxError> {
        Ok(PrivateTmp {
            path: create_unique(&system_temp()?, "warden-sbx-")?,
            run_dir: None,
        })
    }

    /// A fresh directory inside this process's run directory.
    pub fn in_run_dir() -> Result<Self, SandboxError> {
        let mut slot = RUN_DIR.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..2 {
            let run_dir = match &*slot {
                Some(dir) => dir.clone(),
                None => {
                    let dir = create_unique(&system_temp()?, "warden-sbx-")?;
                    static CLEANUP: Once = Once::new();
                    CLEANUP.call_once(|| {
                        // SAFETY: registers a plain `extern "C"` function
                        // to run at exit.
                        unsafe { libc::atexit(remove_run_dir) };
                    });
                    *slot = Some(dir.clone());
                    dir
                }
            };
            match create_unique(&run_dir, "cmd-") {
                Ok(path) => {
                    return Ok(PrivateTmp {
                        path,
                        run_dir: Some(run_dir),
                    });
                }
                // Someone removed the run directory: make a new one.
                Err(_) if !run_dir.is_dir() => *slot = None,
                Err(e) => return Err(e),
            }
        }
        Err(SandboxError::Supervisor(
            "cannot create a private temp dir".into(),
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The per-process run directory this one is in.
    pub fn run_dir(&self) -> Option<&Path> {
        self.run_dir.as_deref()
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

fn system_temp() -> Result<PathBuf, SandboxError> {
    std::fs::canonicalize(std::env::temp_dir())
        .map_err(|e| SandboxError::Supervisor(format!("temp dir: {e}")))
}

/// A new mode-0700 directory `base/PREFIX<pid>-<random>`.
fn create_unique(base: &Path, prefix: &str) -> Result<PathBuf, SandboxError> {
    for _ in 0..16 {
        let p = base.join(format!(
            "{prefix}{}-{:016x}",
            std::process::id(),
            fastrand::u64(..)
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&p) {
            Ok(()) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(SandboxError::Supervisor(format!(
                    "cannot create a private temp dir in `{}`: {e}",
                    base.display()
                )));
            }
        }
    }
    Err(SandboxError::Supervisor(
        "cannot create a private temp dir".into(),
    ))
}

/// At exit: remove the run directory (skipped if another thread holds the
/// lock at that moment, rather than risk a hang).
extern "C" fn remove_run_dir() {
    if let Ok(mut slot) = RUN_DIR.try_lock()
        && let Some(dir) = slot.take()
    {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn run_dir_temp_dirs_are_private_fresh_and_removed() {
        let a = PrivateTmp::in_run_dir().unwrap();
        let b = PrivateTmp::in_run_dir().unwrap();
        assert_ne!(a.path(), b.path());
        let run = a.run_dir().unwrap().to_path_buf();
        assert_eq!(b.run_dir(), Some(run.as_path()), "one run dir per process");
        assert!(a.path().starts_with(&run));
        assert!(a.path().to_string_lossy().contains("warden-sbx-"));
        assert_eq!((mode(&run), mode(a.path())), (0o700, 0o700));
        std::fs::write(a.path().join("x"), "").unwrap();
        let path = a.path().to_path_buf();
        drop(a);
        assert!(!path.exists());
        assert!(run.is_dir(), "the run dir stays for the next command");
        drop(b);
    }

    #[test]
    fn fresh_dirs_are_removed() {
        let t = PrivateTmp::create().unwrap();
        let path = t.path().to_path_buf();
        assert_eq!(mode(&path), 0o700);
        assert!(t.run_dir().is_none());
        std::fs::write(path.join("x"), "").unwrap();
        drop(t);
        assert!(!path.exists());
    }
}
