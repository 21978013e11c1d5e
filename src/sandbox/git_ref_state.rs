//! What a command could change in git's history, read from the gitdir
//! without running git ([`RefState::read`], taken before every command of
//! `warden run`, so it must cost tens of µs): `HEAD` (symbolic or
//! detached), every ref (loose files under `refs/`, `packed-refs`), each
//! linked worktree's `HEAD` and refs, the pseudo-refs git acts on later
//! (`MERGE_HEAD` makes the next `git commit` a merge with a commit of the
//! command's choosing), `shallow` (it hides history behind the commits it
//! lists), and the index file's identity.
//!
//! Never follows a symlink inside the gitdir: a ref that is a symlink (or a
//! FIFO, or garbage) is recorded as [`RefValue::Unreadable`], which the
//! check treats as a change it cannot vouch for. A repository whose refs
//! git keeps in a reftable (`extensions.refStorage = reftable`) is read
//! with one hardened `git for-each-ref` instead, and [`RefState::storage`]
//! says so.
//!
//! A `packed-refs` entry shadowed by a loose ref of the same name is not
//! recorded: git never reads it while the loose ref exists, and deleting
//! the ref deletes both.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use super::git_cmd::{hardened_git, run};

/// A loose ref file is a line; anything longer is not a ref.
const MAX_REF_BYTES: u64 = 4096;
/// `packed-refs`, `shallow`, `FETCH_HEAD` can be long, but not unbounded.
const MAX_LIST_BYTES: u64 = 64 << 20;

/// The stash's reflog, relative to the gitdir.
pub(super) const STASH_LOG: &str = "logs/refs/stash";

/// The value of one ref as stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefValue {
    /// An object name (hex, SHA-1 or SHA-256).
    Oid(String),
    /// `ref: <target>`.
    Symbolic(String),
    /// A symlink, a non-regular file, or content that is not a ref.
    Unreadable(String),
}

/// How the repository stores its refs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Loose files and `packed-refs`, read directly.
    Files,
    /// A reftable, read with one hardened `git for-each-ref` per state.
    Reftable,
}

/// A file's identity: any write through git (a new file renamed over it)
/// or in place changes one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    fn of(meta: &std::fs::Metadata) -> Self {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// A file kept byte for byte (pseudo-refs, `shallow`): what to put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileBytes {
    Content(Vec<u8>),
    /// A symlink or a non-regular file: never read through.
    Unreadable(String),
}

/// What a command could change in git's history (module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefState {
    pub(super) storage: Storage,
    /// `HEAD`, `worktrees/<id>/HEAD` and `refs/...` (loose over packed),
    /// and `worktrees/<id>/refs/...`; names as `git update-ref` takes them.
    pub(super) refs: BTreeMap<String, RefValue>,
    /// Other pseudo-refs (`MERGE_HEAD`, `FETCH_HEAD`, `ORIG_HEAD`...), by
    /// path relative to the gitdir: git refuses `update-ref` on several of
    /// them, so they are put back as files. Also the stash's reflog
    /// (`logs/refs/stash`): `git stash list` and `stash@{1}` read it, so
    /// an entry appended to it is a stash.
    pub(super) pseudo: BTreeMap<String, FileBytes>,
    pub(super) shallow: Option<FileBytes>,
    pub(super) index: Option<FileIdentity>,
}

impl RefState {
    /// Read the state of the repository at `gitdir` (module doc).
    pub fn read(gitdir: &Path) -> Result<Self, String> {
        Self::read_using(OsStr::new("git"), gitdir)
    }

    /// [`RefState::read`] with the git program to use for a reftable.
    pub(crate) fn read_using(git: &OsStr, gitdir: &Path) -> Result<Self, String> {
        let mut state = RefState {
            storage: Storage::Files,
            refs: BTreeMap::new(),
            pseudo: BTreeMap::new(),
            shallow: None,
            index: None,
        };
        let mut packed = false;
        let mut has_worktrees = false;
        let mut refs_dir = false;
        let mut logs_dir = false;
        let entries = std::fs::read_dir(gitdir)
            .map_err(|e| format!("cannot list {}: {e}", gitdir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", gitdir.display()))?;
            let name = entry.file_name();
            match name.to_str() {
                Some("HEAD") => {
                    state.refs.insert("HEAD".into(), read_ref(&entry.path()));
                }
                // Directories are walked only when they are directories
                // (the entry's own type: a symlink is not followed).
                Some("refs") if is_dir(&entry) => refs_dir = true,
                Some("refs") => {
                    state.refs.insert(
                        "refs".into(),
                        RefValue::Unreadable("not a directory".into()),
                    );
                }
                Some("logs") => logs_dir = is_dir(&entry),
                Some("packed-refs") => packed = true,
                Some("reftable") => state.storage = Storage::Reftable,
                Some("worktrees") => has_worktrees = is_dir(&entry),
                Some("shallow") => state.shallow = Some(read_bytes(&entry.path())),
                Some("index") => {
                    let meta = entry
                        .metadata()
                        .map_err(|e| format!("cannot stat the index: {e}"))?;
                    state.index = Some(FileIdentity::of(&meta));
                }
                Some(n) if is_pseudo_ref(n) => {
                    state.pseudo.insert(n.into(), read_bytes(&entry.path()));
                }
                _ => {}
            }
        }
        if logs_dir && is_real_dir(&gitdir.join("logs/refs")) {
            match read_file(&gitdir.join(STASH_LOG), MAX_LIST_BYTES) {
                Ok(bytes) => {
                    state
                        .pseudo
                        .insert(STASH_LOG.into(), FileBytes::Content(bytes));
                }
                Err(ReadError::Missing) => {}
                Err(ReadError::Other(why)) => {
                    state
                        .pseudo
                        .insert(STASH_LOG.into(), FileBytes::Unreadable(why));
                }
            }
        }
        if state.storage == Storage::Reftable {
            state.refs = for_each_ref(git, gitdir)?;
            return Ok(state);
        }
        if packed {
            read_packed(&gitdir.join("packed-refs"), &mut state.refs)?;
        }
        if refs_dir {
            walk_refs(&gitdir.join("refs"), "refs", &mut state.refs)?;
        }
        if has_worktrees {
            read_worktrees(gitdir, &mut state)?;
        }
        Ok(state)
    }

    /// How the refs were read (a reftable costs a git process per read).
    pub fn storage(&self) -> Storage {
        self.storage
    }
}

/// git's pseudo-refs: upper case and underscores at the top of a gitdir
/// (`MERGE_HEAD`, `ORIG_HEAD`, `FETCH_HEAD`...). `AUTO_MERGE` names a tree
/// that `git diff` shows, never a commit: not one of them.
fn is_pseudo_ref(name: &str) -> bool {
    name != "HEAD"
        && name.ends_with("_HEAD")
        && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

/// Why a file of the gitdir was not read.
enum ReadError {
    Missing,
    Other(String),
}

impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        match e {
            ReadError::Missing => "missing".into(),
            ReadError::Other(why) => why,
        }
    }
}

/// Open without following a symlink and without blocking on a FIFO, and
/// read at most `max` bytes of a regular file.
fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ReadError::Other("a symlink".into()),
            Some(libc::ENOENT) => ReadError::Missing,
            _ => ReadError::Other(format!("cannot open: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| ReadError::Other(format!("cannot stat: {e}")))?;
    if !meta.is_file() {
        return Err(ReadError::Other("not a regular file".into()));
    }
    if meta.len() > max {
        return Err(ReadError::Other(format!("larger than {max} bytes")));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Other(format!("cannot read: {e}")))?;
    Ok(bytes)
}

/// A directory entry that is a directory itself (not a link to one).
fn is_dir(entry: &std::fs::DirEntry) -> bool {
    entry.file_type().is_ok_and(|t| t.is_dir())
}

fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

fn read_bytes(path: &Path) -> FileBytes {
    match read_file(path, MAX_LIST_BYTES) {
        Ok(bytes) => FileBytes::Content(bytes),
        Err(why) => FileBytes::Unreadable(why.into()),
    }
}

fn read_ref(path: &Path) -> RefValue {
    match read_file(path, MAX_REF_BYTES) {
        Ok(bytes) => parse_ref(&bytes),
        Err(why) => RefValue::Unreadable(why.into()),
    }
}

fn parse_ref(bytes: &[u8]) -> RefValue {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return RefValue::Unreadable("not text".into());
    };
    let line = text.strip_suffix('\n').unwrap_or(text);
    if let Some(target) = line.strip_prefix("ref: ") {
        return RefValue::Symbolic(target.to_string());
    }
    if is_oid(line) {
        return RefValue::Oid(line.to_string());
    }
    RefValue::Unreadable("not a ref".into())
}

pub(super) fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Every loose ref under `dir` (named `prefix/...`), by the directory
/// entries' types: a symlink or special file is recorded, never followed
/// or opened; `*.lock` files are git's, not refs.
fn walk_refs(
    dir: &Path,
    prefix: &str,
    refs: &mut BTreeMap<String, RefValue>,
) -> Result<(), String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("cannot list {}: {e}", dir.display())),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            refs.insert(
                format!("{prefix}/{}", name.to_string_lossy()),
                RefValue::Unreadable("a name that is not UTF-8".into()),
            );
            continue;
        };
        if name.ends_with(".lock") {
            continue;
        }
        let full = format!("{prefix}/{name}");
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot stat {full}: {e}"))?;
        if kind.is_dir() {
            walk_refs(&entry.path(), &full, refs)?;
        } else if kind.is_file() {
            refs.insert(full, read_ref(&entry.path()));
        } else if kind.is_symlink() {
            refs.insert(full, RefValue::Unreadable("a symlink".into()));
        } else {
            refs.insert(full, RefValue::Unreadable("not a regular file".into()));
        }
    }
    Ok(())
}

/// `<oid> SP <name>` lines of `packed-refs` (the header and `^peeled`
/// lines are skipped). A line that is neither fails the read: git would
/// refuse the file too.
fn read_packed(path: &Path, refs: &mut BTreeMap<String, RefValue>) -> Result<(), String> {
    let bytes =
        read_file(path, MAX_LIST_BYTES).map_err(|e| format!("packed-refs: {}", String::from(e)))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| "packed-refs: not text".to_string())?;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') || line.starts_with('^') {
            continue;
        }
        match line.split_once(' ') {
            Some((oid, name)) if is_oid(oid) => {
                refs.insert(name.to_string(), RefValue::Oid(oid.to_string()));
            }
            _ => return Err(format!("packed-refs: a line that is not a ref: {line:?}")),
        }
    }
    Ok(())
}

/// Each linked worktree's `HEAD`, pseudo-refs and per-worktree refs
/// (`refs/bisect/`, `refs/worktree/`), named `worktrees/<id>/...` as git
/// names them from any worktree.
fn read_worktrees(gitdir: &Path, state: &mut RefState) -> Result<(), String> {
    let dir = gitdir.join("worktrees");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        // `worktrees` is a file or a dangling symlink: nothing git reads.
        Err(_) => return Ok(()),
    };
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        let id = entry.file_name().to_string_lossy().into_owned();
        if !is_dir(&entry) {
            continue;
        }
        let wt = entry.path();
        let base = format!("worktrees/{id}");
        state
            .refs
            .insert(format!("{base}/HEAD"), read_ref(&wt.join("HEAD")));
        for pseudo in std::fs::read_dir(&wt).into_iter().flatten().flatten() {
            let name = pseudo.file_name();
            if let Some(n) = name.to_str().filter(|n| is_pseudo_ref(n)) {
                state
                    .pseudo
                    .insert(format!("{base}/{n}"), read_bytes(&pseudo.path()));
            }
        }
        if is_real_dir(&wt.join("refs")) {
            walk_refs(&wt.join("refs"), &format!("{base}/refs"), &mut state.refs)?;
        }
    }
    Ok(())
}

/// The refs of a reftable repository: `HEAD` and every ref, from one
/// hardened `git for-each-ref --include-root-refs` (git 2.46 or later; an
/// older git fails, and so does the read: fail closed).
fn for_each_ref(git: &OsStr, gitdir: &Path) -> Result<BTreeMap<String, RefValue>, String> {
    let work_tree = gitdir.parent().unwrap_or(gitdir);
    let mut cmd = hardened_git(git, work_tree, Some(gitdir));
    cmd.args([
        "for-each-ref",
        "--include-root-refs",
        "--format=%(refname)%00%(symref)%00%(objectname)",
    ]);
    let out = run(cmd, None).map_err(|e| format!("reading a reftable: {e}"))?;
    let text = String::from_utf8(out).map_err(|_| "reftable: refs that are not UTF-8")?;
    let mut refs = BTreeMap::new();
    for line in text.lines() {
        let mut fields = line.split('\0');
        let (Some(name), Some(symref), Some(oid)) = (fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("reftable: an unexpected line: {line:?}"));
        };
        let value = if !symref.is_empty() {
            RefValue::Symbolic(symref.to_string())
        } else if is_oid(oid) {
            RefValue::Oid(oid.to_string())
        } else {
            RefValue::Unreadable("not a ref".into())
        };
        // Pseudo-refs other than HEAD are files even in a reftable
        // repository and were read as such.
        if name == "HEAD" || name.starts_with("refs/") {
            refs.insert(name.to_string(), value);
        }
    }
    // An unborn HEAD is not listed (a fresh repository); the check never
    // deletes a HEAD it did not see before.
    Ok(refs)
}
