//! Symlinks among deny-read paths: Landlock checks the inode a path
//! resolves to, so denying a link's own name protects nothing. A `.env`
//! that is a link to `~/secrets/app.env` (dotfile managers do this, and so
//! can a command) must deny `~/secrets/app.env`, and a link inside a denied
//! directory (`~/.ssh/id_ed25519 -> ~/dotfiles/…`) its target too.
//!
//! - A glob match that is itself a symlink is resolved before **every**
//!   command (one `lstat` per match, plus the chain when it is a link): a
//!   link one command creates under a deny glob is followed for the next.
//!   Literal deny-read paths are looked at once per process in `warden
//!   run` (no command can turn one into a link) and at every start of a
//!   one-shot `warden sandbox`.
//! - Symlinks inside a denied directory are found with a walk that does not
//!   follow links, once per directory per process: commands cannot change
//!   a denied directory (it is carved out of every writable root).
//! - A chain is followed to its end (up to the kernel's 40 links); a
//!   target that does not exist is denied as a path, so it cannot be
//!   created in the sandbox, and is resolved again next time.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::resolve::canonical_or_normal;

/// Entries walked per denied directory when looking for links inside.
const DIR_WALK_LIMIT: usize = 100_000;

/// The kernel's limit on links followed in one lookup (`MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// Links found inside each denied directory, per process.
static INNER: Mutex<Option<HashMap<PathBuf, Vec<PathBuf>>>> = Mutex::new(None);

/// Targets found for each literal deny-read path, per process.
static LITERAL: Mutex<Option<HashMap<PathBuf, Vec<PathBuf>>>> = Mutex::new(None);

/// `deny` plus the resolved target of every symlink in it or inside a
/// denied directory; sorted and deduplicated. Each path is looked at again
/// on every call (glob matches: a command can plant a link).
pub(super) fn with_link_targets(mut deny: Vec<PathBuf>, cached: bool) -> Vec<PathBuf> {
    let targets: Vec<PathBuf> = deny.iter().flat_map(|p| targets_of(p, cached)).collect();
    deny.extend(targets);
    deny.sort();
    deny.dedup();
    deny
}

/// The targets of literal deny-read paths: with `cached`, found once per
/// process, as no command can turn a literal deny-read path into a link
/// (it is carved out of every writable root, and a missing one cannot be
/// created); this keeps `warden run`'s per-command cost to the glob
/// matches.
pub(super) fn literal_targets(paths: &[PathBuf], cached: bool) -> Vec<PathBuf> {
    // Most literal entries (the `~/…` defaults) do not exist: one listing
    // of their directory answers for them ([`super::listing`]).
    let mut listings = super::listing::Listings::default();
    let mut targets = |p: &Path| {
        if listings.surely_absent(p) {
            Vec::new()
        } else {
            targets_of(p, cached)
        }
    };
    if !cached {
        return paths.iter().flat_map(|p| targets(p)).collect();
    }
    let mut slot = LITERAL.lock().unwrap_or_else(|e| e.into_inner());
    let map = slot.get_or_insert_with(HashMap::new);
    let mut out = Vec::new();
    for p in paths {
        out.extend(
            map.entry(p.clone())
                .or_insert_with(|| targets(p))
                .iter()
                .cloned(),
        );
    }
    out
}

/// What denying `path` must also deny: its target when it is a link (and
/// the links inside that target when it is a directory), the targets of
/// the links inside it when it is a directory.
fn targets_of(path: &Path, cached: bool) -> Vec<PathBuf> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Vec::new();
    };
    if meta.file_type().is_symlink() {
        let target = resolve(path);
        let mut out = Vec::new();
        if std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir()) {
            out = links_inside(&target, cached);
        }
        out.push(target);
        out
    } else if meta.is_dir() {
        links_inside(path, cached)
    } else {
        Vec::new()
    }
}

/// `deny` plus the resolved target of each path in it that is a symlink
/// (directories are not searched).
pub(super) fn with_top_level_targets(mut deny: Vec<PathBuf>) -> Vec<PathBuf> {
    let targets: Vec<PathBuf> = deny
        .iter()
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()))
        .map(|p| resolve(p))
        .collect();
    deny.extend(targets);
    deny
}

/// The path a symlink finally names: canonical when the chain ends at an
/// existing file, else the first missing hop (under its canonical parent).
pub(super) fn resolve(link: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(link) {
        return c;
    }
    let mut p = link.to_path_buf();
    for _ in 0..MAX_LINK_HOPS {
        match std::fs::read_link(&p) {
            Ok(target) => {
                let parent = p.parent().unwrap_or(Path::new("/"));
                p = canonical_or_normal(&parent.join(target));
            }
            Err(_) => return canonical_or_normal(&p),
        }
    }
    p
}

/// Resolved targets of the symlinks under `dir` that point outside it.
fn links_inside(dir: &Path, cached: bool) -> Vec<PathBuf> {
    if !cached {
        return walk_links(dir);
    }
    let mut slot = INNER.lock().unwrap_or_else(|e| e.into_inner());
    let map = slot.get_or_insert_with(HashMap::new);
    map.entry(dir.to_path_buf())
        .or_insert_with(|| walk_links(dir))
        .clone()
}

fn walk_links(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut seen = 0usize;
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in rd.flatten() {
            seen += 1;
            if seen > DIR_WALK_LIMIT {
                tracing::warn!(
                    dir = %dir.display(),
                    "deny-read directory has more than {DIR_WALK_LIMIT} entries; symlinks \
                     beyond them are not followed"
                );
                return out;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                let target = resolve(&entry.path());
                if !target.starts_with(dir) {
                    out.push(target);
                }
            } else if kind.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_and_chains_are_resolved_to_their_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let (ws, out) = (root.join("ws"), root.join("outside"));
        std::fs::create_dir_all(ws.join("sub")).unwrap();
        std::fs::create_dir_all(out.join("dir")).unwrap();
        std::fs::write(out.join("secret"), "x").unwrap();
        std::fs::write(out.join("dir/inner-secret"), "x").unwrap();
        // .env -> hop1 -> hop2 -> outside/secret
        symlink(out.join("secret"), root.join("hop2")).unwrap();
        symlink("../../hop2", ws.join("sub/hop1")).unwrap();
        symlink("sub/hop1", ws.join(".env")).unwrap();
        // A link to a directory, and a dangling one.
        symlink(out.join("dir"), ws.join("sub/.env")).unwrap();
        symlink(out.join("later/file"), ws.join(".env.later")).unwrap();
        // A denied directory holding a link that leaves it.
        let ssh = root.join("ssh");
        std::fs::create_dir_all(ssh.join("keys")).unwrap();
        symlink(out.join("key"), ssh.join("keys/id")).unwrap();
        symlink("../config", ssh.join("keys/local")).unwrap();

        let deny = vec![
            ws.join(".env"),
            ws.join("sub/.env"),
            ws.join(".env.later"),
            ssh.clone(),
        ];
        let got = with_link_targets(deny, false);
        for want in [
            out.join("secret"),
            out.join("dir"),
            out.join("later/file"),
            out.join("key"),
        ] {
            assert!(
                got.contains(&want),
                "{} missing from {got:?}",
                want.display()
            );
        }
        assert!(
            !got.iter().any(|p| p.ends_with("config")),
            "a link that stays inside the denied directory adds nothing: {got:?}"
        );
    }

    #[test]
    fn a_loop_ends() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        symlink(root.join("b"), root.join("a")).unwrap();
        symlink(root.join("a"), root.join("b")).unwrap();
        let p = resolve(&root.join("a"));
        assert!(p.starts_with(&root), "{}", p.display());
    }
}
