//! Contents of guarded files kept by identity, so that a file no command
//! changed is not read again before and after every command of a run.
//!
//! A file's status change time (ctime) is set by the kernel on every write,
//! truncation, rename, link, chmod or chown, and no unprivileged call sets
//! it back (`utimensat` sets atime and mtime only; the clock needs
//! `CAP_SYS_TIME`, which no command holds). So a file whose device, inode,
//! size, mode, mtime and ctime are what they were holds what it held. Two
//! limits keep that true: a file is cached only once its ctime is
//! [`SETTLED`] old (the kernel's timestamps come from a coarse clock, so a
//! write in the same tick as the caching read could keep the ctime), and a
//! file system that does not keep ctime (some FUSE or network mounts)
//! defeats it, which docs/threat-model.md says.

use std::collections::HashMap;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a ctime must be before its file's content is cached.
const SETTLED: Duration = Duration::from_secs(2);

/// Bytes kept at most (protected paths are small: hooks, config, workflows).
const MAX_CACHED_BYTES: usize = 16 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mode: u32,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &Metadata) -> Self {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mode: meta.mode(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

struct Cache {
    files: HashMap<PathBuf, (Stamp, Vec<u8>)>,
    bytes: usize,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

/// The content of `path` if it is cached and `meta` (its `lstat` now)
/// shows it unchanged.
pub(super) fn lookup(path: &Path, meta: &Metadata) -> Option<Vec<u8>> {
    let cache = CACHE.lock().ok()?;
    let (stamp, bytes) = cache.as_ref()?.files.get(path)?;
    (*stamp == Stamp::of(meta)).then(|| bytes.clone())
}

/// Remember `bytes` as the content of `path` whose `lstat` before the read
/// was `meta`, if its ctime is settled.
pub(super) fn store(path: &Path, meta: &Metadata, bytes: &[u8]) {
    let ctime = UNIX_EPOCH + Duration::new(meta.ctime().max(0) as u64, meta.ctime_nsec() as u32);
    let settled = SystemTime::now()
        .duration_since(ctime)
        .is_ok_and(|age| age >= SETTLED);
    if !settled || bytes.len() as u64 != meta.size() {
        return;
    }
    let Ok(mut guard) = CACHE.lock() else {
        return;
    };
    let cache = guard.get_or_insert_with(|| Cache {
        files: HashMap::new(),
        bytes: 0,
    });
    if cache.bytes + bytes.len() > MAX_CACHED_BYTES {
        return;
    }
    cache.bytes += bytes.len();
    if let Some((_, old)) = cache
        .files
        .insert(path.to_path_buf(), (Stamp::of(meta), bytes.to_vec()))
    {
        cache.bytes -= old.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_file_is_not_cached_and_a_changed_one_misses() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("hook");
        std::fs::write(&p, "one").unwrap();
        let meta = std::fs::symlink_metadata(&p).unwrap();
        store(&p, &meta, b"one");
        assert_eq!(lookup(&p, &meta), None, "ctime not settled: not cached");

        // ctime cannot be set back, and waiting SETTLED is slow: put the
        // entry in as if it had settled, then change the file: the
        // new ctime (and size) make it miss.
        {
            let mut g = CACHE.lock().unwrap();
            let c = g.get_or_insert_with(|| Cache {
                files: HashMap::new(),
                bytes: 0,
            });
            c.files
                .insert(p.clone(), (Stamp::of(&meta), b"one".to_vec()));
        }
        assert_eq!(lookup(&p, &meta).as_deref(), Some(&b"one"[..]));
        std::fs::write(&p, "two").unwrap();
        let now = std::fs::symlink_metadata(&p).unwrap();
        assert_eq!(lookup(&p, &now), None, "same size, new ctime: read again");
    }
}
