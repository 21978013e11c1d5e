//! Commits of protected paths: what the file guard cannot undo. With the
//! whole workspace writable ("commit" mode), a command can commit a
//! workflow edit, stash it, branch it, or stage it; restoring the files in
//! the working tree leaves that history in the repository for a later push.
//! So around every command:
//!
//! - before: [`RefState::read`] (no git process; tens of µs);
//! - once per run: [`IndexBaseline::read`], the index entries of the
//!   protected paths (one hardened git);
//! - after, every process of the command dead and the gitdir's own files
//!   restored by the guard: [`check_and_revert`]. Nothing changed: no git
//!   runs. Otherwise the commits reachable from a changed or new ref (or
//!   pseudo-ref) and from no ref of before are walked (one `git log`);
//!   if one of them changes a protected path, or the command added a
//!   `refs/replace/` entry or a ref warden cannot read, every ref the
//!   command changed is put back (one `git update-ref --stdin` transaction
//!   with old-value checks, new refs deleted, `HEAD` included) and checked
//!   again. The protected paths' index entries go back to the baseline.
//!   `shallow` is put back whenever it changed (it can hide commits from
//!   the walk, and from any later look at history).
//!
//! Protected paths are the caller's (workspace-relative) plus
//! `.gitmodules`: it decides what a later `git submodule update` fetches
//! and runs. A protected path's ancestors count as protected when they are
//! not directories in a commit (`.github` committed as a symlink puts
//! `.github/workflows` wherever it points).
//!
//! A merge counts when it differs from every parent in protected paths (it
//! brings something none of them had); each parent's side is walked too
//! (`--full-history`), so a bad commit reverted later on a merged branch is
//! found. Every git here is hardened ([`super::git_cmd`]). What this cannot
//! see: docs/threat-model.md, "Commits of protected paths".

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::ProtectedChange;
use super::git_cmd::{hardened_git, run};
use super::git_ref_state::{FileBytes, is_oid};
pub use super::git_ref_state::{RefState, RefValue, Storage};

/// Always protected in commits, whatever the profile lists.
const ALWAYS_PROTECTED: &str = ".gitmodules";

/// A gitlink's mode: a commit of another repository (a submodule).
const GITLINK: &str = "160000";

/// The index entries of the protected paths when the run started:
/// `(path, stage)` to `(mode, oid)`; and the paths that were gitlinks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IndexBaseline {
    entries: BTreeMap<(PathBuf, u8), (String, String)>,
    /// A gitlink makes a later `git status`, `git commit` or
    /// `git submodule` of the superproject run git in the nested
    /// repository at that path: a new one is unstaged.
    gitlinks: BTreeSet<PathBuf>,
}

impl IndexBaseline {
    /// `git ls-files -s -z` (one hardened git), for the repository at
    /// `gitdir` checked out at `worktree`.
    pub fn read(worktree: &Path, gitdir: &Path, protected_rel: &[PathBuf]) -> Result<Self, String> {
        read_index(
            OsStr::new("git"),
            worktree,
            gitdir,
            &Protected::new(protected_rel),
        )
    }
}

/// After a command (module doc). `Ok` lists what changed; an entry with
/// `restored: false` is one warden could not check or put back, and the
/// caller stops the run (exit 5). `Err`: the state could not be read at all
/// (also exit 5).
pub fn check_and_revert(
    worktree: &Path,
    gitdir: &Path,
    before: &RefState,
    index: &IndexBaseline,
    protected_rel: &[PathBuf],
) -> Result<Vec<ProtectedChange>, String> {
    check_and_revert_using(
        OsStr::new("git"),
        worktree,
        gitdir,
        before,
        index,
        protected_rel,
    )
}

/// [`check_and_revert`] with the git program to run (tests pass a fake).
pub(crate) fn check_and_revert_using(
    git: &OsStr,
    worktree: &Path,
    gitdir: &Path,
    before: &RefState,
    index: &IndexBaseline,
    protected_rel: &[PathBuf],
) -> Result<Vec<ProtectedChange>, String> {
    let protected = Protected::new(protected_rel);
    let after = RefState::read_using(git, gitdir)?;
    let mut changes = Vec::new();

    if before.shallow != after.shallow {
        let path = gitdir.join("shallow");
        let restored = put_back_file(&path, before.shallow.as_ref()).is_ok();
        changes.push(change(
            path,
            kind(&before.shallow, &after.shallow),
            restored,
        ));
    }

    let refs = changed(&before.refs, &after.refs);
    let pseudo = changed(&before.pseudo, &after.pseudo);
    if !refs.is_empty() || !pseudo.is_empty() {
        changes.extend(check_history(
            git, worktree, gitdir, before, &refs, &pseudo, &protected,
        ));
    }
    if before.index != after.index {
        changes.extend(check_index(git, worktree, gitdir, index, &protected));
    }
    Ok(changes)
}

/// The protected paths as git names them (relative), with their ancestors.
struct Protected {
    paths: Vec<PathBuf>,
    ancestors: BTreeSet<PathBuf>,
}

impl Protected {
    fn new(protected_rel: &[PathBuf]) -> Self {
        let mut paths: Vec<PathBuf> = protected_rel
            .iter()
            .filter(|p| {
                // git tracks nothing under `.git`, nor outside the worktree.
                p.is_relative()
                    && !p.starts_with(".git")
                    && !p.components().any(|c| c.as_os_str() == "..")
                    && !p.as_os_str().is_empty()
            })
            .cloned()
            .collect();
        paths.push(PathBuf::from(ALWAYS_PROTECTED));
        paths.sort();
        paths.dedup();
        let ancestors = paths
            .iter()
            .flat_map(|p| p.ancestors().skip(1))
            .filter(|a| !a.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .collect();
        Protected { paths, ancestors }
    }

    /// A path git reports (a blob, symlink or gitlink) that is, or is
    /// inside, a protected path, or stands where an ancestor of one is.
    fn covers(&self, path: &Path) -> bool {
        self.paths.iter().any(|p| path.starts_with(p)) || self.ancestors.contains(path)
    }
}

type Change<'a, V> = (&'a str, Option<&'a V>, Option<&'a V>);

/// Every key whose value differs (added, removed or changed).
fn changed<'a, V: PartialEq>(
    before: &'a BTreeMap<String, V>,
    after: &'a BTreeMap<String, V>,
) -> Vec<Change<'a, V>> {
    let names: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    names
        .into_iter()
        .filter_map(|n| {
            let (b, a) = (before.get(n), after.get(n));
            (b != a).then_some((n.as_str(), b, a))
        })
        .collect()
}

/// The history part of the check (module doc): what makes the command's
/// ref changes unacceptable, and their revert.
fn check_history(
    git: &OsStr,
    worktree: &Path,
    gitdir: &Path,
    before: &RefState,
    refs: &[Change<'_, RefValue>],
    pseudo: &[Change<'_, FileBytes>],
    protected: &Protected,
) -> Vec<ProtectedChange> {
    let mut found = Vec::new();
    let mut tips = BTreeSet::new();
    for (name, _, after) in refs {
        match after {
            Some(_) if name.starts_with("refs/replace/") => {
                found.push(change(gitdir.join(name), "replace ref added", false));
            }
            Some(RefValue::Unreadable(why)) => {
                found.push(change(gitdir.join(name), &format!("ref made {why}"), false));
            }
            Some(RefValue::Oid(oid)) => {
                tips.insert(oid.clone());
            }
            _ => {}
        }
    }
    for (name, _, after) in pseudo {
        match after {
            Some(FileBytes::Unreadable(why)) => {
                found.push(change(
                    gitdir.join(name),
                    &format!("pseudo-ref made {why}"),
                    false,
                ));
            }
            Some(FileBytes::Content(bytes)) => {
                // Only what the command added (a reflog keeps old entries).
                let had = match before.pseudo.get(*name) {
                    Some(FileBytes::Content(old)) => pseudo_ref_oids(old),
                    _ => Vec::new(),
                };
                tips.extend(
                    pseudo_ref_oids(bytes)
                        .into_iter()
                        .filter(|o| !had.contains(o)),
                );
            }
            None => {}
        }
    }
    let old: BTreeSet<&str> = before
        .refs
        .values()
        .filter_map(|v| match v {
            RefValue::Oid(o) => Some(o.as_str()),
            _ => None,
        })
        .collect();
    tips.retain(|t| !old.contains(t.as_str()));
    let mut unverifiable = false;
    if !tips.is_empty() {
        match committed_paths(git, worktree, gitdir, &tips, &old, protected) {
            Ok(paths) => {
                for p in paths {
                    found.push(change(worktree.join(p), "committed", false));
                }
            }
            Err(e) => {
                unverifiable = true;
                found.push(change(
                    gitdir.to_path_buf(),
                    &format!("commits unverifiable: {e}"),
                    false,
                ));
            }
        }
    }
    if found.is_empty() {
        return found;
    }
    let reverted = revert(git, worktree, gitdir, before, refs, pseudo);
    if let Err(e) = &reverted {
        tracing::error!("could not put back the refs a command changed: {e}");
    }
    for c in &mut found {
        c.restored =
            reverted.is_ok() && !(unverifiable && c.change.starts_with("commits unverifiable"));
    }
    found
}

/// The object names a pseudo-ref file holds: the first word of each line
/// (`MERGE_HEAD` has one per parent, `FETCH_HEAD` one per fetched ref),
/// and the second of a reflog's (`<old> <new> <who>...`).
fn pseudo_ref_oids(bytes: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .flat_map(|l| l.split_whitespace().take(2))
        .filter(|w| is_oid(w) && w.bytes().any(|b| b != b'0'))
        .map(str::to_string)
        .collect()
}

/// Protected paths changed by a commit reachable from `tips` and not from
/// `old` (one hardened `git log`; module doc for what counts).
fn committed_paths(
    git: &OsStr,
    worktree: &Path,
    gitdir: &Path,
    tips: &BTreeSet<String>,
    old: &BTreeSet<&str>,
    protected: &Protected,
) -> Result<BTreeSet<PathBuf>, String> {
    let mut cmd = hardened_git(git, worktree, Some(gitdir));
    cmd.arg("log").args([
        "--stdin",
        "--format=%x01%H%x02%P",
        "--raw",
        "-z",
        "--no-abbrev",
        "--full-history",
        "--root",
        "--diff-merges=separate",
        // Settings of the repository's config that would change what is
        // listed (renames, relative paths, hidden submodules, following one
        // file) or run a program (signature checks run gpg.program).
        "--no-renames",
        "--no-relative",
        "--ignore-submodules=none",
        "--no-show-signature",
        "--no-textconv",
        "--no-ext-diff",
        "--no-color",
    ]);
    // No pathspec: a new gitlink may be anywhere.
    let mut input = String::new();
    for t in tips {
        input.push_str(t);
        input.push('\n');
    }
    input.push_str("--not\n");
    for o in old {
        input.push_str(o);
        input.push('\n');
    }
    let out = run(cmd, Some(input.as_bytes()))?;
    Ok(parse_log(&out, protected))
}

/// The protected paths changed by the bad commits of a `git log` (format
/// above): a commit with one parent (or none) that changes one, a merge
/// whose diff against every parent changes one.
fn parse_log(out: &[u8], protected: &Protected) -> BTreeSet<PathBuf> {
    // commit -> (parents, diffs that touch protected paths, those paths)
    let mut commits: BTreeMap<&[u8], (usize, usize, BTreeSet<PathBuf>)> = BTreeMap::new();
    for record in out.split(|b| *b == 1).filter(|r| !r.is_empty()) {
        let mut fields = record.split(|b| *b == 0);
        let header = fields.next().unwrap_or_default();
        let mut hp = header.splitn(2, |b| *b == 2);
        let commit = hp.next().unwrap_or_default();
        let parents = hp
            .next()
            .map(|p| p.split(|b| *b == b' ').filter(|s| !s.is_empty()).count())
            .unwrap_or(0);
        let mut touched = BTreeSet::new();
        // The raw line before a path: `:<old mode> <new mode> …`.
        let mut pending: Option<&[u8]> = None;
        for field in fields {
            let field = field.strip_prefix(b"\n").unwrap_or(field);
            if field.first() == Some(&b':') {
                pending = Some(field);
            } else if let Some(meta) = pending.take() {
                let path = Path::new(OsStr::from_bytes(field));
                if protected.covers(path) || adds_gitlink(meta) {
                    touched.insert(path.to_path_buf());
                }
            }
        }
        let entry = commits
            .entry(commit)
            .or_insert((parents, 0, BTreeSet::new()));
        if !touched.is_empty() {
            entry.1 += 1;
            entry.2.extend(touched);
        }
    }
    commits
        .into_values()
        .filter(|(parents, touching, _)| *touching > 0 && *touching >= (*parents).max(1))
        .flat_map(|(_, _, paths)| paths)
        .collect()
}

/// Whether a `--raw` line (`:<old mode> <new mode> <old> <new> <status>`)
/// makes its path a gitlink that was none in the parent.
fn adds_gitlink(meta: &[u8]) -> bool {
    let mut modes = meta[1..].split(|b| *b == b' ');
    let (old, new) = (modes.next(), modes.next());
    new == Some(GITLINK.as_bytes()) && old != Some(GITLINK.as_bytes())
}

/// Put back every ref and pseudo-ref the command changed, then read the
/// state again to prove it (module doc).
fn revert(
    git: &OsStr,
    worktree: &Path,
    gitdir: &Path,
    before: &RefState,
    refs: &[Change<'_, RefValue>],
    pseudo: &[Change<'_, FileBytes>],
) -> Result<(), String> {
    let mut tx = Vec::<u8>::new();
    let mut symbolic = Vec::new();
    let mut detach = Vec::new();
    for (name, was, now) in refs {
        let path = gitdir.join(name);
        // The command is dead: a lock left behind is stale, and would make
        // the transaction fail.
        let _ = std::fs::remove_file(path.with_file_name(lock_name(&path)));
        // What stands at the ref now: a value to check against, or nothing
        // to check (a ref warden could not read, removed here first).
        let (now, checked) = match now {
            Some(RefValue::Unreadable(_)) if before.storage == Storage::Files => {
                remove_any(&path)?;
                // git does not take a gitdir without `refs/` for one.
                if *name == "refs" {
                    std::fs::create_dir(&path).map_err(|e| format!("cannot create refs/: {e}"))?;
                    continue;
                }
                (None, false)
            }
            other => (*other, true),
        };
        let is_head =
            *name == "HEAD" || (name.starts_with("worktrees/") && name.ends_with("/HEAD"));
        let line = match (was, now) {
            // A HEAD warden did not see (unborn in a reftable) stays.
            (None, _) if is_head => continue,
            (Some(RefValue::Oid(o)), Some(RefValue::Oid(n))) => {
                format!("update {name}\0{o}\0{n}\0")
            }
            // A symbolic ref made detached again: git refuses it in the
            // transaction that also updates the ref it points to.
            (Some(RefValue::Oid(o)), Some(RefValue::Symbolic(_))) => {
                detach.push((name, o));
                continue;
            }
            (Some(RefValue::Oid(o)), Some(RefValue::Unreadable(_))) => {
                format!("update {name}\0{o}\0\0")
            }
            (Some(RefValue::Oid(o)), None) if checked => format!("create {name}\0{o}\0"),
            (Some(RefValue::Oid(o)), None) => format!("update {name}\0{o}\0\0"),
            (Some(RefValue::Symbolic(target)), _) => {
                symbolic.push((name, target));
                continue;
            }
            (Some(RefValue::Unreadable(_)), _) => {
                return Err(format!(
                    "{name} was not a ref before the command: cannot put it back"
                ));
            }
            (None, Some(RefValue::Oid(n))) => format!("delete {name}\0{n}\0"),
            (None, Some(_)) => format!("delete {name}\0\0"),
            // Removed above; a packed entry of the name (shadowed) goes too.
            (None, None) if !checked => format!("update {name}\0{zero}\0\0", zero = "0".repeat(40)),
            (None, None) => continue,
        };
        tx.extend_from_slice(b"option no-deref\0");
        tx.extend_from_slice(line.as_bytes());
    }
    let _ = std::fs::remove_file(gitdir.join("packed-refs.lock"));
    if !tx.is_empty() {
        let mut cmd = hardened_git(git, worktree, Some(gitdir));
        cmd.args(["update-ref", "--stdin", "-z"]);
        run(cmd, Some(&tx)).map_err(|e| format!("update-ref: {e}"))?;
    }
    for (name, oid) in detach {
        let mut cmd = hardened_git(git, worktree, Some(gitdir));
        cmd.args(["update-ref", "--no-deref", name, oid]);
        run(cmd, None).map_err(|e| format!("update-ref {name}: {e}"))?;
    }
    for (name, target) in symbolic {
        let mut cmd = hardened_git(git, worktree, Some(gitdir));
        cmd.args(["symbolic-ref", name, target]);
        run(cmd, None).map_err(|e| format!("symbolic-ref {name}: {e}"))?;
    }
    // After the refs: deleting or updating `refs/stash` rewrites its reflog.
    for (name, was, _) in pseudo {
        put_back_file(&gitdir.join(name), *was)?;
    }
    let again = RefState::read_using(git, gitdir)?;
    for (name, was, _) in pseudo {
        if again.pseudo.get(*name) != *was {
            return Err(format!("{name} is not what it was after the revert"));
        }
    }
    for (name, was, _) in refs {
        if was.is_some() && again.refs.get(*name) != *was {
            return Err(format!("{name} is not what it was after the revert"));
        }
        if was.is_none() && again.refs.contains_key(*name) && !name.ends_with("HEAD") {
            return Err(format!("{name} is still there after the revert"));
        }
    }
    Ok(())
}

fn lock_name(path: &Path) -> OsString {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    name
}

/// The index half (module doc): put the protected paths' entries back to
/// the baseline, removals included (one `git update-index --index-info`).
fn check_index(
    git: &OsStr,
    worktree: &Path,
    gitdir: &Path,
    baseline: &IndexBaseline,
    protected: &Protected,
) -> Vec<ProtectedChange> {
    let now = match read_index(git, worktree, gitdir, protected) {
        Ok(now) => now,
        Err(e) => {
            return vec![change(
                gitdir.join("index"),
                &format!("unverifiable: {e}"),
                false,
            )];
        }
    };
    let new_gitlinks: BTreeSet<&PathBuf> = now.gitlinks.difference(&baseline.gitlinks).collect();
    if now.entries == baseline.entries && new_gitlinks.is_empty() {
        return Vec::new();
    }
    let mut paths: BTreeSet<&PathBuf> = baseline
        .entries
        .iter()
        .chain(now.entries.iter())
        .filter(|(k, _)| baseline.entries.get(k) != now.entries.get(k))
        .map(|((p, _), _)| p)
        .collect();
    paths.extend(new_gitlinks.iter().copied());
    let zero_len = baseline
        .entries
        .values()
        .chain(now.entries.values())
        .map(|(_, oid)| oid.len())
        .next()
        .unwrap_or(40);
    let zero = "0".repeat(zero_len);
    let mut input = Vec::new();
    for path in &paths {
        // Mode 0 removes the path (every stage); then the baseline's.
        input.extend_from_slice(format!("0 {zero}\t").as_bytes());
        input.extend_from_slice(path.as_os_str().as_bytes());
        input.push(0);
        for ((p, stage), (mode, oid)) in baseline
            .entries
            .range((path.to_path_buf(), 0)..=(path.to_path_buf(), 3))
        {
            debug_assert_eq!(p, *path);
            input.extend_from_slice(format!("{mode} {oid} {stage}\t").as_bytes());
            input.extend_from_slice(p.as_os_str().as_bytes());
            input.push(0);
        }
    }
    let mut cmd = hardened_git(git, worktree, Some(gitdir));
    cmd.args(["update-index", "-z", "--index-info"]);
    let restored = run(cmd, Some(&input))
        .and_then(|_| read_index(git, worktree, gitdir, protected))
        .is_ok_and(|again| {
            again.entries == baseline.entries && again.gitlinks.is_subset(&baseline.gitlinks)
        });
    paths
        .into_iter()
        .map(|p| {
            let what = match new_gitlinks.contains(p) {
                true => "gitlink staged",
                false => "staged",
            };
            change(worktree.join(p), what, restored)
        })
        .collect()
}

fn read_index(
    git: &OsStr,
    worktree: &Path,
    gitdir: &Path,
    protected: &Protected,
) -> Result<IndexBaseline, String> {
    // The whole index: gitlinks may be anywhere.
    let mut cmd = hardened_git(git, worktree, Some(gitdir));
    cmd.args(["ls-files", "-s", "-z"]);
    let out = run(cmd, None).map_err(|e| format!("ls-files: {e}"))?;
    let mut entries = BTreeMap::new();
    let mut gitlinks = BTreeSet::new();
    for record in out.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let bad = || {
            format!(
                "ls-files: an unexpected entry {:?}",
                String::from_utf8_lossy(record)
            )
        };
        let tab = record.iter().position(|b| *b == b'\t').ok_or_else(bad)?;
        let meta = std::str::from_utf8(&record[..tab]).map_err(|_| bad())?;
        let path = PathBuf::from(OsString::from_vec(record[tab + 1..].to_vec()));
        let mut words = meta.split(' ');
        let (Some(mode), Some(oid), Some(stage)) = (words.next(), words.next(), words.next())
        else {
            return Err(bad());
        };
        let stage: u8 = stage.parse().map_err(|_| bad())?;
        if mode == GITLINK {
            gitlinks.insert(path.clone());
        }
        if protected.covers(&path) {
            entries.insert((path, stage), (mode.to_string(), oid.to_string()));
        }
    }
    Ok(IndexBaseline { entries, gitlinks })
}

/// Put a file of the gitdir back as it was: its bytes through a new file
/// renamed over whatever is there now (never written through a symlink),
/// or removed when it did not exist. Unreadable before: cannot.
fn put_back_file(path: &Path, was: Option<&FileBytes>) -> Result<(), String> {
    match was {
        None => remove_any(path),
        Some(FileBytes::Content(bytes)) => {
            let dir = path.parent().ok_or("no parent directory")?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            std::io::Write::write_all(&mut tmp, bytes).map_err(|e| e.to_string())?;
            if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                remove_any(path)?;
            }
            tmp.persist(path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(())
        }
        Some(FileBytes::Unreadable(why)) => Err(format!(
            "{} was {why} before: cannot put it back",
            path.display()
        )),
    }
}

/// Remove a file, symlink or directory without following anything.
fn remove_any(path: &Path) -> Result<(), String> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    };
    result.map_err(|e| format!("cannot remove {}: {e}", path.display()))
}

fn kind<T>(before: &Option<T>, after: &Option<T>) -> &'static str {
    match (before, after) {
        (None, _) => "added",
        (_, None) => "removed",
        _ => "modified",
    }
}

fn change(path: PathBuf, kind: &str, restored: bool) -> ProtectedChange {
    ProtectedChange {
        path,
        change: kind.to_string(),
        restored,
    }
}

#[cfg(test)]
#[path = "git_commits_tests.rs"]
mod tests;
