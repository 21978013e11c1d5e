//! Which workspace files were written during this run, for the inputs of a
//! pre-approved command that only matter when the agent changed them
//! (lockfiles, manifests, package-manager configuration: see
//! [`super::preapproval`]).
//!
//! Commands write the workspace in many ways warden does not see one by
//! one (`cp`, `sed -i`, a build script, a rename, a hard link), so nothing
//! is tracked per write. Instead the run takes a snapshot when it starts
//! (before its first action runs) of every file whose name one of the
//! pre-approval inputs uses, with its inode, size, mtime and ctime. A file
//! is *written this run* when it is new or any of those changed. ctime is
//! set by the kernel on every change and cannot be set back from user
//! space, so `touch -d` cannot hide a change. On a filesystem with
//! whole-second timestamps the content is hashed too (files up to 8 MiB).
//!
//! The walk skips `.git`, `node_modules` and `target` (no project's
//! manifest or configuration lives there), follows no symlink and stops
//! after [`MAX_ENTRIES`]. What it cannot see fails closed: a command run
//! from a skipped directory or outside the workspace, or a walk that hit
//! the limit, counts as having written its inputs.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Directory entries one walk visits at most.
pub const MAX_ENTRIES: usize = 50_000;

/// Directories never walked: repository internals and generated trees.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "target"];

/// Files up to this size are also hashed where timestamps are coarse.
const MAX_HASHED: u64 = 8 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    /// The content's SHA-256, on a filesystem whose timestamps have whole
    /// seconds only (both nanosecond parts zero): there a same-size rewrite
    /// within the second the run started would leave the rest unchanged.
    digest: Option<[u8; 32]>,
}

impl Fingerprint {
    fn of(path: &Path, meta: &std::fs::Metadata) -> Self {
        let coarse = meta.mtime_nsec() == 0 && meta.ctime_nsec() == 0;
        let digest = (coarse && meta.is_file() && meta.size() <= MAX_HASHED)
            .then(|| std::fs::read(path).ok())
            .flatten()
            .map(|bytes| {
                use sha2::Digest as _;
                sha2::Sha256::digest(bytes).into()
            });
        Fingerprint {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            digest,
        }
    }
}

/// A file's fingerprint and, for a symlink, its target's.
type Seen = (Fingerprint, Option<Fingerprint>);

/// What `path` is now (not following a last symlink), if it is a file or
/// a symlink.
fn seen(path: &Path) -> Option<Seen> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if meta.file_type().is_symlink() {
        let target = std::fs::metadata(path)
            .ok()
            .map(|t| Fingerprint::of(path, &t));
        Some((Fingerprint::of(path, &meta), target))
    } else if meta.is_file() {
        Some((Fingerprint::of(path, &meta), None))
    } else {
        None
    }
}

/// The files the tracked names matched, by path.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    files: HashMap<PathBuf, Seen>,
    /// The walk stopped at [`MAX_ENTRIES`].
    truncated: bool,
}

impl Snapshot {
    fn take(root: &Path, names: &[&str]) -> Snapshot {
        let mut snap = Snapshot::default();
        // Breadth first: when a huge tree hits the limit, the shallow
        // directories (the root's `.cargo/`, its lockfiles) are recorded.
        let mut queue = std::collections::VecDeque::from([root.to_path_buf()]);
        let mut visited = 0usize;
        while let Some(dir) = queue.pop_front() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                visited += 1;
                if visited > MAX_ENTRIES {
                    snap.truncated = true;
                    return snap;
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let path = entry.path();
                if kind.is_dir() {
                    if !SKIPPED_DIRS.contains(&name.as_ref()) {
                        queue.push_back(path);
                    }
                } else if kind.is_file() && names.iter().any(|n| matches_name(&path, n)) {
                    if let Some(s) = seen(&path) {
                        snap.files.insert(path, s);
                    }
                } else if kind.is_symlink() && names.iter().any(|n| names_component(n, &name)) {
                    // A link named like an input or its directory (`.cargo`)
                    // is recorded with its target, so a new or re-pointed
                    // link is a change; a linked directory's files too.
                    if let Some(s) = seen(&path) {
                        snap.files.insert(path.clone(), s);
                    }
                    if let Ok(inner) = std::fs::read_dir(&path) {
                        for child in inner.flatten() {
                            let child_path = path.join(child.file_name());
                            if names.iter().any(|n| matches_name(&child_path, n))
                                && let Ok(meta) = std::fs::metadata(&child_path)
                            {
                                let fp = Fingerprint::of(&child_path, &meta);
                                snap.files.insert(child_path, (fp, None));
                            }
                        }
                    }
                }
            }
        }
        snap
    }
}

/// Whether `component` is one of the components of the input `name`.
fn names_component(name: &str, component: &str) -> bool {
    Path::new(name)
        .components()
        .any(|c| c.as_os_str() == component)
}

/// Whether `path` ends with `name` (a file name or a suffix such as
/// `.cargo/config.toml`), component by component.
pub fn matches_name(path: &Path, name: &str) -> bool {
    let mut want = Path::new(name).components().rev();
    let mut have = path.components().rev();
    loop {
        match (want.next(), have.next()) {
            (None, _) => return true,
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// What warden knows about this run's writes.
#[derive(Debug, Clone, Default)]
pub struct RunWrites {
    /// The workspace as it was when the run started.
    start: Option<(PathBuf, Snapshot)>,
    /// Paths known to be written (policy fixtures: `written:`).
    listed: Vec<PathBuf>,
    /// An action decided earlier in this turn that may write the workspace
    /// and has not run yet (a turn's calls are all decided, then run).
    pending: Option<String>,
}

impl RunWrites {
    /// Nothing was written: one decision outside a run (`warden check`).
    pub fn nothing() -> Self {
        RunWrites::default()
    }

    /// These absolute paths were written (fixtures, tests).
    pub fn listed(paths: Vec<PathBuf>) -> Self {
        RunWrites {
            listed: paths,
            ..RunWrites::default()
        }
    }

    /// The start of a run in `workspace`: snapshot every file a
    /// pre-approval input names. Call it before the run's first action.
    pub fn at_start(workspace: &Path) -> Self {
        let names = super::preapproval::tracked_names();
        RunWrites {
            start: Some((workspace.to_path_buf(), Snapshot::take(workspace, &names))),
            ..RunWrites::default()
        }
    }

    /// An allowed action that may write the workspace was decided and has
    /// not run yet (`what` summarises it); `None` once everything decided
    /// so far has run. Until then no input can be known unchanged: the
    /// earlier call runs first.
    pub fn set_pending(&mut self, what: Option<String>) {
        self.pending = what;
    }

    /// The allowed action decided earlier in this turn that has not run
    /// yet, if any.
    pub fn pending(&self) -> Option<&str> {
        self.pending.as_deref()
    }

    /// An input written this run: a file in the workspace whose path ends
    /// with one of `names` (the first found), or `cwd` itself when the
    /// command runs where the snapshot does not look (outside the
    /// workspace, in a skipped directory) or the walk hit its limit. Walks
    /// the workspace: for the inputs a tool may read anywhere in it
    /// (workspace members' manifests).
    pub fn written(&self, cwd: &Path, names: &[&str]) -> Option<Written> {
        let (workspace, start) = match self.known(cwd, names) {
            Ok(found) => return found,
            Err(start) => start,
        };
        let now = Snapshot::take(workspace, names);
        if now.truncated {
            return Some(Written::Unknown(workspace.clone()));
        }
        let mut changed: Vec<&PathBuf> = now
            .files
            .iter()
            .filter(|(p, s)| start.files.get(*p) != Some(s))
            .map(|(p, _)| p)
            .collect();
        changed.sort();
        changed.first().map(|p| Written::File((*p).clone()))
    }

    /// Like [`RunWrites::written`], but only where a tool discovers its
    /// configuration: `cwd` and each directory above it up to the
    /// workspace root (`.cargo/config.toml`, `.npmrc`, `rust-toolchain`).
    /// A few `lstat`s instead of a walk.
    pub fn written_near(&self, cwd: &Path, names: &[&str]) -> Option<Written> {
        let (workspace, start) = match self.known(cwd, names) {
            Ok(found) => return found,
            Err(start) => start,
        };
        for dir in cwd.ancestors().take_while(|d| d.starts_with(workspace)) {
            for name in names {
                // The file, and each directory on the way that is a
                // symlink (`.cargo` -> elsewhere).
                let mut path = dir.to_path_buf();
                for part in Path::new(name).components() {
                    path.push(part);
                    let now = seen(&path);
                    let link_or_file = now.is_some();
                    if link_or_file && start.files.get(&path) != now.as_ref() {
                        return Some(Written::File(path));
                    }
                    if !link_or_file && !path.is_dir() {
                        break;
                    }
                }
            }
        }
        None
    }

    /// What is known without looking at the files: a listed write, or that
    /// nothing can be known (`Ok`); otherwise the snapshot to compare with.
    fn known(&self, cwd: &Path, names: &[&str]) -> Result<Option<Written>, (&PathBuf, &Snapshot)> {
        if let Some(p) = self
            .listed
            .iter()
            .find(|p| names.iter().any(|n| matches_name(p, n)))
        {
            return Ok(Some(Written::File(p.clone())));
        }
        let Some((workspace, start)) = self.start.as_ref() else {
            return Ok(None);
        };
        let unseen = cwd
            .strip_prefix(workspace)
            .map(|rel| {
                rel.components()
                    .any(|c| SKIPPED_DIRS.iter().any(|s| c.as_os_str() == *s))
            })
            .unwrap_or(true);
        if unseen {
            return Ok(Some(Written::Unknown(cwd.to_path_buf())));
        }
        Err((workspace, start))
    }
}

/// What [`RunWrites::written`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Written {
    /// This file was written (or created) in this run.
    File(PathBuf),
    /// Nothing is known about the inputs of a command run here.
    Unknown(PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_by_component() {
        let p = Path::new("/w/app/.cargo/config.toml");
        assert!(matches_name(p, ".cargo/config.toml"));
        assert!(matches_name(p, "config.toml"));
        assert!(!matches_name(p, "cargo/config.toml"));
        assert!(!matches_name(
            Path::new("/w/x-package.json"),
            "package.json"
        ));
    }

    #[test]
    fn a_changed_new_or_retimed_file_is_written_and_an_untouched_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        std::fs::create_dir_all(ws.join("web")).unwrap();
        std::fs::write(ws.join("web/package-lock.json"), "{}").unwrap();
        std::fs::write(ws.join("Cargo.toml"), "[package]").unwrap();
        let names = ["package-lock.json", "Cargo.toml", ".npmrc"];
        let writes = RunWrites::at_start(ws);
        assert_eq!(writes.written(ws, &names), None, "nothing changed yet");

        // Rewritten with content of the same size, then its mtime set back:
        // the ctime still moved.
        let lock = ws.join("web/package-lock.json");
        let before = std::fs::metadata(&lock).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&lock, "[]").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(before)
            .unwrap();
        assert_eq!(
            writes.written(ws, &names),
            Some(Written::File(lock.clone()))
        );
        assert_eq!(writes.written(&ws.join("web"), &["Cargo.toml"]), None);
        // Run from a subdirectory, a change anywhere in the workspace counts.
        assert_eq!(
            writes.written(&ws.join("web"), &["package-lock.json"]),
            Some(Written::File(lock))
        );

        // A new file the start did not have.
        let fresh = RunWrites::at_start(ws);
        std::fs::write(ws.join("web/.npmrc"), "registry=https://x.example/").unwrap();
        assert_eq!(
            fresh.written(ws, &[".npmrc"]),
            Some(Written::File(ws.join("web/.npmrc")))
        );
        // Outside the workspace nothing is known.
        let other = tempfile::tempdir().unwrap();
        assert_eq!(
            fresh.written(other.path(), &[".npmrc"]),
            Some(Written::Unknown(other.path().to_path_buf()))
        );
    }

    #[test]
    fn a_symlink_planted_or_repointed_in_place_of_an_input_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        std::fs::create_dir_all(ws.join("src/evil")).unwrap();
        std::fs::write(ws.join("src/evil/config.toml"), "[source]").unwrap();
        std::fs::write(ws.join("src/lock.json"), "{}").unwrap();
        let names = [".cargo/config.toml", "package-lock.json"];
        let writes = RunWrites::at_start(ws);
        // `.cargo` -> src/evil: cargo reads src/evil/config.toml as
        // .cargo/config.toml.
        std::os::unix::fs::symlink("src/evil", ws.join(".cargo")).unwrap();
        assert_eq!(
            writes.written(ws, &names[..1]),
            Some(Written::File(ws.join(".cargo")))
        );
        std::os::unix::fs::symlink("src/lock.json", ws.join("package-lock.json")).unwrap();
        assert_eq!(
            writes.written(ws, &names[1..]),
            Some(Written::File(ws.join("package-lock.json")))
        );
        // A link committed before the run, whose target the agent edits.
        let later = RunWrites::at_start(ws);
        assert_eq!(later.written(ws, &names), None);
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(ws.join("src/evil/config.toml"), "[registries]").unwrap();
        assert_eq!(
            later.written(ws, &names),
            Some(Written::File(ws.join(".cargo/config.toml")))
        );
    }

    #[test]
    fn near_looks_where_tools_discover_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        std::fs::create_dir_all(ws.join("crates/a/src")).unwrap();
        std::fs::create_dir_all(ws.join("other")).unwrap();
        std::fs::create_dir_all(ws.join(".cargo")).unwrap();
        std::fs::write(ws.join(".cargo/config.toml"), "[build]").unwrap();
        let names = [".cargo/config.toml"];
        let writes = RunWrites::at_start(ws);
        let cwd = ws.join("crates/a/src");
        assert_eq!(writes.written_near(&cwd, &names), None);
        // Created above the working directory: cargo reads it.
        std::fs::create_dir_all(ws.join("crates/.cargo")).unwrap();
        std::fs::write(ws.join("crates/.cargo/config.toml"), "[target.x]").unwrap();
        assert_eq!(
            writes.written_near(&cwd, &names),
            Some(Written::File(ws.join("crates/.cargo/config.toml")))
        );
        // Beside it: cargo does not, and neither does `near`.
        assert_eq!(writes.written_near(&ws.join("other"), &names), None);
        // The root's one, edited in place.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(ws.join(".cargo/config.toml"), "[source]").unwrap();
        assert_eq!(
            writes.written_near(&ws.join("other"), &names),
            Some(Written::File(ws.join(".cargo/config.toml")))
        );
        // A directory symlink planted in its place.
        let fresh = RunWrites::at_start(ws);
        std::fs::rename(ws.join("other"), ws.join("elsewhere")).unwrap();
        std::fs::create_dir_all(ws.join("x")).unwrap();
        std::os::unix::fs::symlink(ws.join("crates/.cargo"), ws.join("x/.cargo")).unwrap();
        assert_eq!(
            fresh.written_near(&ws.join("x"), &names),
            Some(Written::File(ws.join("x/.cargo")))
        );
    }

    #[test]
    fn skipped_directories_fail_closed() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        std::fs::create_dir_all(ws.join("node_modules/x")).unwrap();
        std::fs::write(ws.join("node_modules/x/package.json"), "{}").unwrap();
        let writes = RunWrites::at_start(ws);
        // Not walked: no project reads its inputs from there...
        assert_eq!(writes.written(ws, &["package.json"]), None);
        // ...and a command run from inside it knows nothing.
        let inside = ws.join("node_modules/x");
        assert_eq!(
            writes.written(&inside, &["package.json"]),
            Some(Written::Unknown(inside))
        );
        // A listed write is known wherever it is.
        let listed = RunWrites::listed(vec![ws.join("node_modules/x/package.json")]);
        assert!(listed.written(ws, &["package.json"]).is_some());
        assert!(
            RunWrites::nothing()
                .written(ws, &["package.json"])
                .is_none()
        );
    }
}
