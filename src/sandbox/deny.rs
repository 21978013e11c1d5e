//! Expanding deny-read entries into the paths that exist when a command
//! starts, cheaply enough to do before every command.
//!
//! A glob (`**/.env`) is matched against paths relative to its base (the
//! pattern's literal prefix, canonical), every pattern sharing a base in
//! one walk ([`super::deny_match`]). A directory that matches is denied as
//! a whole and not descended; symlinks are never followed.
//!
//! The walk is the expensive part (every entry of the workspace, `target/`
//! and `node_modules/` included), so its result is cached per process and
//! kept exact with inotify ([`super::inotify`]): every directory walked is
//! watched, and before each command the queued events (created, deleted,
//! moved entries) are applied to the cached set. Once a command and all
//! its processes have ended, every change it made is in the queue: a file
//! one command creates under a deny-read glob is denied to the next one. The
//! cache is dropped and the tree walked again when the queue overflowed,
//! the base directory was replaced, moved or deleted, or a directory
//! cannot be watched unambiguously; without inotify (no instance or watch
//! left) every command walks, as before.
//!
//! Symlinks among the results are then resolved ([`super::deny_links`]):
//! what is denied is what a read through the name would reach.

use std::collections::{BTreeSet, HashMap};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::deny_match::Matcher;
use super::inotify::{DIR_CHANGES, Event, Inotify};
use super::resolve::DenyRead;

/// Cap on the entries one walk visits, so a huge tree cannot stall every
/// command.
const GLOB_WALK_LIMIT: usize = 500_000;

/// Cached trees kept per process (each holds one inotify instance).
const MAX_CACHED: usize = 4;

/// Expand deny-read entries into paths that exist now (literal entries are
/// kept even when missing: they then stop the path from being created),
/// through the per-process cache.
pub fn expand(entries: &[DenyRead]) -> Result<Vec<PathBuf>, String> {
    expand_with(entries, true)
}

/// [`expand`] with one plain walk and no cache (one-shot processes).
pub fn expand_once(entries: &[DenyRead]) -> Result<Vec<PathBuf>, String> {
    expand_with(entries, false)
}

fn expand_with(entries: &[DenyRead], cached: bool) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let mut literals = Vec::new();
    let mut entries_only = Vec::new();
    let mut groups: Vec<(PathBuf, Vec<String>)> = Vec::new();
    for e in entries {
        match e {
            DenyRead::Path(p) => literals.push(p.clone()),
            DenyRead::EntriesOf { dir, keep } => entries_only.extend(entries_of(dir, keep)?),
            DenyRead::Glob { base, pattern } => match groups.iter_mut().find(|(b, _)| b == base) {
                Some((_, patterns)) => patterns.push(pattern.clone()),
                None => groups.push((base.clone(), vec![pattern.clone()])),
            },
        }
    }
    for (base, mut patterns) in groups {
        patterns.sort();
        patterns.dedup();
        if cached {
            out.extend(expand_group(&base, &patterns)?);
        } else {
            let set = Matcher::new(&patterns)?;
            let mut found = Found::default();
            walk(&base, Path::new(""), &set, &mut found, &mut 0, None)?;
            out.extend(found.matches.into_iter().map(|rel| base.join(rel)));
            remember_walked_markers(&base, found.git_markers);
        }
    }
    let mut out = super::deny_links::with_link_targets(out, cached);
    out.extend(super::deny_links::literal_targets(&literals, cached));
    out.extend(literals);
    // The runner's temp dir can hold large trees (tool downloads, build
    // contexts): its entries are resolved when they are links themselves,
    // not searched for links inside.
    out.extend(super::deny_links::with_top_level_targets(entries_only));
    out.sort();
    out.dedup();
    Ok(out)
}

/// Name prefix of warden's private temp dirs ([`super::tmp`]).
const PRIVATE_TMP_PREFIX: &str = "warden-sbx-";

/// Every entry of `dir` but those that are, or hold, a `keep` path, and
/// warden's private temp dirs (when the system temp dir is `dir` itself).
/// One directory listing: `dir` is outside every writable root, so only
/// processes outside the sandbox add to it.
///
/// A `dir` that exists but cannot be listed is denied as a whole, or, when
/// a `keep` path is inside it, is an error: Landlock does not cover
/// `chmod`, so a command of the directory's owner can `chmod 300` it, let
/// the next command's plan list nothing, and `chmod 755` it back to read
/// every entry (a step script with the job's secrets in it).
fn entries_of(dir: &Path, keep: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if is_gone(&e) => return Ok(Vec::new()),
        Err(e) if keep.iter().any(|k| k.starts_with(dir)) => {
            return Err(format!(
                "cannot list `{}` to deny its entries ({e}); it holds a path that must stay \
                 readable, so it cannot be denied as a whole: make it listable (chmod u+r)",
                dir.display()
            ));
        }
        Err(_) => return Ok(vec![dir.to_path_buf()]),
    };
    Ok(rd
        .flatten()
        .filter(|e| {
            !e.file_name()
                .as_encoded_bytes()
                .starts_with(PRIVATE_TMP_PREFIX.as_bytes())
        })
        .map(|e| e.path())
        .filter(|p| !keep.iter().any(|k| k.starts_with(p)))
        .collect())
}

/// A listing failed because the directory is not there (any more): nothing
/// in it to deny. Any other failure (`EACCES`) means it exists unlisted.
fn is_gone(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))
}

struct CacheEntry {
    base: PathBuf,
    patterns: Vec<String>,
    set: Matcher,
    tree: Option<WatchedTree>,
    /// The git markers of the last plain walk (no inotify).
    walked_markers: BTreeSet<PathBuf>,
}

/// What a walk finds, relative to its base: the deny-read matches, and
/// every entry named like a git repository's marker ([`is_git_marker`]),
/// for [`super::git_nested`].
#[derive(Debug, Default, Clone)]
struct Found {
    matches: BTreeSet<PathBuf>,
    git_markers: BTreeSet<PathBuf>,
}

/// `.git` (a repository, or a `gitdir:` file), `HEAD` (a bare-looking
/// gitdir holds one): the names [`git_markers`] reports.
fn is_git_marker(name: &std::ffi::OsStr) -> bool {
    name == ".git" || name == "HEAD"
}

/// How [`git_markers`] gets its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerRead {
    /// From the per-process inotify-kept tree of `base` (shared with the
    /// deny-read globs under it; built when missing).
    Cached,
    /// What the plain walk of [`expand_once`] just saw under `base`, taken
    /// (a second call walks): the state before a one-shot command.
    Walked,
    /// A plain walk now.
    Fresh,
}

/// Entries named `.git` or `HEAD` under `base`, relative to it, found as
/// the deny-read walk finds files (never through a symlink; a directory a
/// deny-read glob matches is not entered: no command can write in it).
pub fn git_markers(base: &Path, read: MarkerRead) -> Result<BTreeSet<PathBuf>, String> {
    match read {
        MarkerRead::Cached => cached_markers(base),
        MarkerRead::Walked => match take_walked_markers(base) {
            Some(m) => Ok(m),
            None => git_markers(base, MarkerRead::Fresh),
        },
        MarkerRead::Fresh => {
            let mut found = Found::default();
            walk(
                base,
                Path::new(""),
                &Matcher::new(&[])?,
                &mut found,
                &mut 0,
                None,
            )?;
            Ok(found.git_markers)
        }
    }
}

/// The markers of the last one-shot walk, per base.
static WALKED_MARKERS: Mutex<Vec<(PathBuf, BTreeSet<PathBuf>)>> = Mutex::new(Vec::new());

fn remember_walked_markers(base: &Path, markers: BTreeSet<PathBuf>) {
    let mut kept = WALKED_MARKERS.lock().unwrap_or_else(|e| e.into_inner());
    kept.retain(|(b, _)| b != base);
    kept.push((base.to_path_buf(), markers));
}

fn take_walked_markers(base: &Path) -> Option<BTreeSet<PathBuf>> {
    let mut kept = WALKED_MARKERS.lock().unwrap_or_else(|e| e.into_inner());
    let i = kept.iter().position(|(b, _)| b == base)?;
    Some(kept.remove(i).1)
}

/// [`MarkerRead::Cached`]: the tree of `base` (whatever its patterns), or
/// one with no pattern.
fn cached_markers(base: &Path) -> Result<BTreeSet<PathBuf>, String> {
    let patterns = {
        let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .iter()
            .rev()
            .find(|c| c.base == base)
            .map(|c| c.patterns.clone())
            .unwrap_or_default()
    };
    expand_group(base, &patterns)?;
    let cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let entry = cache
        .iter()
        .rev()
        .find(|c| c.base == base && c.patterns == patterns)
        .ok_or("the walked tree went away")?;
    Ok(match &entry.tree {
        Some(tree) => tree.found.git_markers.clone(),
        None => entry.walked_markers.clone(),
    })
}

static CACHE: Mutex<Vec<CacheEntry>> = Mutex::new(Vec::new());

fn expand_group(base: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, String> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let idx = match cache
        .iter()
        .position(|c| c.base == base && c.patterns == patterns)
    {
        Some(i) => i,
        None => {
            if cache.len() >= MAX_CACHED {
                cache.remove(0);
            }
            cache.push(CacheEntry {
                base: base.to_path_buf(),
                patterns: patterns.to_vec(),
                set: Matcher::new(patterns)?,
                tree: None,
                walked_markers: BTreeSet::new(),
            });
            cache.len() - 1
        }
    };
    // Most recently used last.
    let mut entry = cache.remove(idx);
    let result = entry.expand();
    cache.push(entry);
    result
}

impl CacheEntry {
    fn expand(&mut self) -> Result<Vec<PathBuf>, String> {
        if let Some(tree) = &mut self.tree {
            if tree.refresh(&self.set) {
                return Ok(tree.absolute_matches());
            }
            self.tree = None;
        }
        match WatchedTree::build(&self.base, &self.set)? {
            Some(tree) => {
                let found = tree.absolute_matches();
                self.tree = Some(tree);
                Ok(found)
            }
            None => {
                let mut found = Found::default();
                walk(
                    &self.base,
                    Path::new(""),
                    &self.set,
                    &mut found,
                    &mut 0,
                    None,
                )?;
                self.walked_markers = found.git_markers;
                Ok(found
                    .matches
                    .into_iter()
                    .map(|rel| self.base.join(rel))
                    .collect())
            }
        }
    }
}

/// Walk `base/rel` adding matches (relative to `base`), watching each
/// directory first when `watch` is given. A directory that exists but
/// cannot be listed is denied as a whole (and the base itself is an
/// error): Landlock does not cover `chmod`, so a command of its owner could
/// make it listable again and read a `.env` the walk never saw.
fn walk(
    base: &Path,
    rel: &Path,
    set: &Matcher,
    found: &mut Found,
    seen: &mut usize,
    mut watch: Option<&mut Watches>,
) -> Result<(), String> {
    let mut stack = vec![rel.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let abs = base.join(&dir);
        let watched = watch.as_deref_mut().is_none_or(|w| w.add(&abs, &dir));
        let listed = std::fs::read_dir(&abs);
        if !watched && listed.is_ok() {
            // Not walked when it cannot be watched (the tree is then
            // walked again without watches, or a race swapped it).
            continue;
        }
        let rd = match listed {
            Ok(rd) => rd,
            Err(e) if is_gone(&e) => continue,
            Err(e) if dir.as_os_str().is_empty() => {
                return Err(format!(
                    "deny_read glob under `{}`: cannot list it ({e})",
                    base.display()
                ));
            }
            Err(_) => {
                found.matches.insert(dir);
                continue;
            }
        };
        for entry in rd.flatten() {
            *seen += 1;
            if *seen > GLOB_WALK_LIMIT {
                return Err(format!(
                    "deny_read glob under `{}` would scan more than {GLOB_WALK_LIMIT} entries; \
                     narrow the pattern",
                    base.display()
                ));
            }
            let name = entry.file_name();
            if is_git_marker(&name) {
                found.git_markers.insert(dir.join(&name));
            }
            if set.matches(&dir, &name) {
                found.matches.insert(dir.join(name));
                continue; // a denied directory is denied as a whole
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(dir.join(name));
            }
        }
    }
    Ok(())
}

/// The inotify instance and which directory (relative) each watch is on.
struct Watches {
    ino: Inotify,
    dirs: HashMap<i32, PathBuf>,
    /// A watch could not be added for a reason other than the directory
    /// vanishing (limits): the tree cannot be kept exact.
    broken: bool,
}

impl Watches {
    /// Watch `abs` (known as `rel`); false when it is gone or not a
    /// directory any more, or when watching is impossible (`broken`).
    fn add(&mut self, abs: &Path, rel: &Path) -> bool {
        let wd = match self.ino.add(abs, DIR_CHANGES) {
            Ok(wd) => wd,
            Err(e) => {
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT | libc::ENOTDIR | libc::EACCES)
                ) {
                    self.broken = true;
                }
                return false;
            }
        };
        // The same inode under two names (a bind mount) cannot be tracked
        // by name; a directory moved within the tree just gets its new name.
        if let Some(old) = self.dirs.insert(wd, rel.to_path_buf())
            && old != rel
            && abs_exists(abs, &old, rel)
        {
            self.broken = true;
        }
        true
    }

    fn forget_subtree(&mut self, rel: &Path) {
        self.dirs.retain(|_, d| !d.starts_with(rel));
    }
}

/// Whether the old name of a re-watched directory still exists next to the
/// new one (then it is one inode under two names).
fn abs_exists(abs: &Path, old: &Path, new: &Path) -> bool {
    let depth = new.components().count();
    let base = abs.ancestors().nth(depth).unwrap_or(abs);
    std::fs::symlink_metadata(base.join(old)).is_ok()
}

/// A walked, watched tree and its current matches.
struct WatchedTree {
    base: PathBuf,
    /// (dev, ino) of the base when walked: a replaced base means re-walk.
    base_id: (u64, u64),
    watches: Watches,
    found: Found,
}

fn identity(p: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()))
}

impl WatchedTree {
    /// Walk `base` with watches; `None` when inotify cannot be used (the
    /// caller then walks without a cache).
    fn build(base: &Path, set: &Matcher) -> Result<Option<WatchedTree>, String> {
        let (Some(ino), Some(base_id)) = (Inotify::new(), identity(base)) else {
            return Ok(None);
        };
        let mut watches = Watches {
            ino,
            dirs: HashMap::new(),
            broken: false,
        };
        let mut found = Found::default();
        walk(
            base,
            Path::new(""),
            set,
            &mut found,
            &mut 0,
            Some(&mut watches),
        )?;
        if watches.broken || watches.dirs.is_empty() {
            return Ok(None);
        }
        Ok(Some(WatchedTree {
            base: base.to_path_buf(),
            base_id,
            watches,
            found,
        }))
    }

    fn absolute_matches(&self) -> Vec<PathBuf> {
        self.found
            .matches
            .iter()
            .map(|rel| self.base.join(rel))
            .collect()
    }

    /// Apply every queued event; false when the tree must be walked again.
    fn refresh(&mut self, set: &Matcher) -> bool {
        if identity(&self.base) != Some(self.base_id) {
            return false;
        }
        let Some(events) = self.watches.ino.drain() else {
            return false;
        };
        events.iter().all(|ev| self.apply(ev, set)) && !self.watches.broken
    }

    /// Apply one event; false when the tree must be walked again.
    fn apply(&mut self, ev: &Event, set: &Matcher) -> bool {
        if ev.mask & libc::IN_Q_OVERFLOW != 0 {
            return false;
        }
        let Some(dir) = self.watches.dirs.get(&ev.wd).cloned() else {
            return true; // a watch we no longer track
        };
        if ev.mask & (libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED) != 0 {
            if dir.as_os_str().is_empty() {
                return false; // the base itself went away
            }
            if ev.mask & libc::IN_MOVE_SELF == 0 {
                self.forget(&dir);
            }
            return true;
        }
        let Some(name) = &ev.name else { return true };
        let path = dir.join(name);
        if ev.mask & (libc::IN_DELETE | libc::IN_MOVED_FROM) != 0 {
            self.forget(&path);
        }
        if ev.mask & (libc::IN_CREATE | libc::IN_MOVED_TO) != 0 {
            if is_git_marker(name) {
                self.found.git_markers.insert(path.clone());
            }
            if set.is_match(&path) {
                self.found.matches.insert(path);
            } else if ev.mask & libc::IN_ISDIR != 0 {
                let mut found = std::mem::take(&mut self.found);
                let walked = walk(
                    &self.base,
                    &path,
                    set,
                    &mut found,
                    &mut 0,
                    Some(&mut self.watches),
                );
                self.found = found;
                if walked.is_err() || self.watches.broken {
                    return false;
                }
            }
        }
        true
    }

    /// Drop matches and watches at or under `rel` (deleted or moved away).
    fn forget(&mut self, rel: &Path) {
        self.found.matches.retain(|p| !p.starts_with(rel));
        self.found.git_markers.retain(|p| !p.starts_with(rel));
        self.watches.forget_subtree(rel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::deny_match::compile;

    fn glob(base: &Path, rel: &str) -> DenyRead {
        DenyRead::Glob {
            base: base.to_path_buf(),
            pattern: format!("{}/{rel}", base.display()),
        }
    }

    fn fresh_walk(base: &Path, patterns: &[&str]) -> Vec<PathBuf> {
        let patterns: Vec<String> = patterns
            .iter()
            .map(|p| format!("{}/{p}", base.display()))
            .collect();
        let set = compile(&patterns).unwrap();
        let mut found = BTreeSet::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(base.join(&dir)).unwrap().flatten() {
                let rel = dir.join(e.file_name());
                if set.is_match(&rel) {
                    found.insert(rel);
                } else if e.file_type().unwrap().is_dir() {
                    stack.push(rel);
                }
            }
        }
        found.into_iter().map(|rel| base.join(rel)).collect()
    }

    #[test]
    fn glob_expansion_finds_nested_files() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        std::fs::create_dir_all(ws.join("a/b")).unwrap();
        std::fs::write(ws.join(".env"), "x").unwrap();
        std::fs::write(ws.join("a/b/.env"), "x").unwrap();
        std::fs::write(ws.join("a/b/env"), "x").unwrap();
        std::fs::write(ws.join("a/.env.local"), "x").unwrap();
        let got = expand(&[glob(&ws, "**/.env"), glob(&ws, "**/.env.*")]).unwrap();
        assert_eq!(
            got,
            vec![
                ws.join(".env"),
                ws.join("a/.env.local"),
                ws.join("a/b/.env")
            ]
        );
    }

    /// The cached, inotify-maintained expansion equals a fresh walk after
    /// every kind of change a command can make between two commands.
    #[test]
    fn cached_expansion_follows_every_change() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        let patterns = ["**/.env", "**/.env.*"];
        let set = Matcher::new(
            &patterns
                .iter()
                .map(|p| format!("{}/{p}", ws.display()))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        std::fs::create_dir_all(ws.join("src/deep")).unwrap();
        std::fs::write(ws.join("src/deep/.env"), "x").unwrap();
        let mut tree = WatchedTree::build(&ws, &set)
            .unwrap()
            .expect("inotify available");
        let mut check = |step: &str| {
            assert!(tree.refresh(&set), "{step}: asked for a new walk");
            assert_eq!(
                tree.absolute_matches(),
                fresh_walk(&ws, &patterns),
                "after {step}"
            );
        };
        check("the first walk");
        type Step<'a> = (&'a str, Box<dyn Fn() + 'a>);
        let steps: Vec<Step> = vec![
            (
                "a new file",
                Box::new(|| std::fs::write(ws.join("src/.env"), "x").unwrap()),
            ),
            (
                "a new tree",
                Box::new(|| {
                    std::fs::create_dir_all(ws.join("n1/n2/n3")).unwrap();
                    std::fs::write(ws.join("n1/n2/n3/.env.prod"), "x").unwrap();
                    std::fs::write(ws.join("n1/.env"), "x").unwrap();
                }),
            ),
            (
                "a file in the new tree",
                Box::new(|| std::fs::write(ws.join("n1/n2/.env"), "x").unwrap()),
            ),
            (
                "a rename onto the name",
                Box::new(|| {
                    std::fs::write(ws.join("src/plain"), "x").unwrap();
                    std::fs::rename(ws.join("src/plain"), ws.join("src/deep/.env.local")).unwrap();
                }),
            ),
            (
                "a hard link",
                Box::new(|| {
                    std::fs::hard_link(ws.join("src/deep/.env"), ws.join("n1/n2/.env.copy"))
                        .unwrap()
                }),
            ),
            (
                "a removed file",
                Box::new(|| std::fs::remove_file(ws.join("src/.env")).unwrap()),
            ),
            (
                "a moved directory",
                Box::new(|| std::fs::rename(ws.join("n1/n2"), ws.join("src/moved")).unwrap()),
            ),
            (
                "a file in the moved directory",
                Box::new(|| std::fs::write(ws.join("src/moved/n3/.env"), "x").unwrap()),
            ),
            (
                "a removed tree",
                Box::new(|| std::fs::remove_dir_all(ws.join("src/moved")).unwrap()),
            ),
            (
                "a directory named like the glob",
                Box::new(|| {
                    std::fs::create_dir_all(ws.join("cfg/.env")).unwrap();
                    std::fs::write(ws.join("cfg/.env/inner"), "x").unwrap();
                }),
            ),
            (
                "a directory moved out and back",
                Box::new(|| {
                    std::fs::rename(
                        ws.join("src"),
                        tmp.path()
                            .join("..")
                            .join(format!("out-{}", std::process::id())),
                    )
                    .ok();
                    let out = tmp
                        .path()
                        .join("..")
                        .join(format!("out-{}", std::process::id()));
                    std::fs::write(out.join("deep/.env.x"), "x").unwrap();
                    std::fs::rename(&out, ws.join("back")).unwrap();
                }),
            ),
        ];
        for (step, change) in steps {
            change();
            check(step);
        }
    }

    #[test]
    fn an_overflowed_queue_means_a_new_walk() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(tmp.path()).unwrap();
        let set = Matcher::new(&[format!("{}/**/.env", ws.display())]).unwrap();
        let mut tree = WatchedTree::build(&ws, &set)
            .unwrap()
            .expect("inotify available");
        let overflow = Event {
            wd: -1,
            mask: libc::IN_Q_OVERFLOW,
            name: None,
        };
        assert!(!tree.apply(&overflow, &set));
        assert!(tree.refresh(&set), "nothing queued: the cache stays");
    }

    #[test]
    fn a_replaced_base_is_walked_again() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::write(ws.join(".env"), "x").unwrap();
        let entries = [glob(&ws, "**/.env")];
        assert_eq!(expand(&entries).unwrap(), [ws.join(".env")]);
        std::fs::rename(&ws, root.join("old")).unwrap();
        std::fs::create_dir_all(ws.join("b")).unwrap();
        std::fs::write(ws.join("b/.env"), "x").unwrap();
        assert_eq!(expand(&entries).unwrap(), [ws.join("b/.env")]);
    }
}
