//! A small, strict unified-diff applier for the `apply_patch` tool.
//!
//! Strict on purpose: every hunk's context and removed lines must match the
//! file exactly at the stated position (or, failing that, at a unique
//! position elsewhere); otherwise the patch is refused with a message that
//! names the hunk. New files (`--- /dev/null`) and deletions
//! (`+++ /dev/null`) are supported.

use std::path::PathBuf;

/// One file's part of a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePatch {
    pub path: PathBuf,
    pub is_new: bool,
    pub is_delete: bool,
    hunks: Vec<Hunk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Hunk {
    old_start: usize,
    lines: Vec<(char, String)>,
}

/// Strip the `a/` / `b/` prefixes git adds.
fn clean_path(raw: &str) -> Option<PathBuf> {
    let raw = raw.split('\t').next().unwrap_or(raw).trim();
    if raw == "/dev/null" {
        return None;
    }
    let p = raw
        .strip_prefix("a/")
        .or_else(|| raw.strip_prefix("b/"))
        .unwrap_or(raw);
    Some(PathBuf::from(p))
}

/// Parse a unified diff.
pub fn parse(patch: &str) -> Result<Vec<FilePatch>, String> {
    let mut files = Vec::new();
    let mut lines = patch.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(old) = line.strip_prefix("--- ") else {
            continue;
        };
        let new_line = lines.next().ok_or("patch ends after a `---` line")?;
        let new = new_line
            .strip_prefix("+++ ")
            .ok_or_else(|| format!("expected `+++` after `{line}`"))?;
        let old_path = clean_path(old);
        let new_path = clean_path(new);
        let path = new_path
            .clone()
            .or(old_path.clone())
            .ok_or("both sides of a file header are /dev/null")?;
        let mut fp = FilePatch {
            path,
            is_new: old_path.is_none(),
            is_delete: new_path.is_none(),
            hunks: Vec::new(),
        };
        while let Some(l) = lines.peek() {
            if l.starts_with("--- ") || l.starts_with("diff ") {
                break;
            }
            let l = lines.next().expect("peeked");
            if let Some(header) = l.strip_prefix("@@ ") {
                let old_start = header
                    .split_whitespace()
                    .next()
                    .and_then(|r| r.strip_prefix('-'))
                    .and_then(|r| r.split(',').next())
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| format!("bad hunk header `{l}`"))?;
                fp.hunks.push(Hunk {
                    old_start,
                    lines: Vec::new(),
                });
            } else if let Some(h) = fp.hunks.last_mut() {
                match l.chars().next() {
                    Some(c @ (' ' | '+' | '-')) => h.lines.push((c, l[1..].to_owned())),
                    None => h.lines.push((' ', String::new())),
                    Some('\\') => {} // "\ No newline at end of file"
                    Some(_) => return Err(format!("unexpected line in hunk: `{l}`")),
                }
            }
        }
        if fp.hunks.is_empty() && !fp.is_delete {
            return Err(format!("no hunks for {}", fp.path.display()));
        }
        files.push(fp);
    }
    if files.is_empty() {
        return Err("no file headers (`--- a/…` / `+++ b/…`) found in the patch".into());
    }
    Ok(files)
}

/// The files a patch would write (for deciding before applying).
pub fn touched_files(patch: &str) -> Result<Vec<PathBuf>, String> {
    Ok(parse(patch)?.into_iter().map(|f| f.path).collect())
}

/// Apply one file's hunks to `original`; `None` result means delete.
pub fn apply(fp: &FilePatch, original: &str) -> Result<Option<String>, String> {
    if fp.is_delete {
        return Ok(None);
    }
    let had_trailing_newline = original.ends_with('\n') || original.is_empty();
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    // Apply from the last hunk up so earlier positions stay valid.
    let mut hunks = fp.hunks.clone();
    hunks.sort_by_key(|h| std::cmp::Reverse(h.old_start));
    for (n, h) in hunks.iter().enumerate() {
        let old: Vec<&str> = h
            .lines
            .iter()
            .filter(|(c, _)| *c != '+')
            .map(|(_, l)| l.as_str())
            .collect();
        let new: Vec<String> = h
            .lines
            .iter()
            .filter(|(c, _)| *c != '-')
            .map(|(_, l)| l.clone())
            .collect();
        let stated = h.old_start.saturating_sub(1);
        let fits =
            |at: usize| at + old.len() <= lines.len() && lines[at..at + old.len()] == old[..];
        let at = if fits(stated) {
            stated
        } else {
            let found: Vec<usize> = (0..=lines.len().saturating_sub(old.len()))
                .filter(|&i| fits(i))
                .collect();
            match found.as_slice() {
                [one] => *one,
                [] => {
                    return Err(format!(
                        "hunk {} of {} does not match the file",
                        hunks.len() - n,
                        fp.path.display()
                    ));
                }
                _ => {
                    return Err(format!(
                        "hunk {} of {} matches in several places",
                        hunks.len() - n,
                        fp.path.display()
                    ));
                }
            }
        };
        lines.splice(at..at + old.len(), new);
    }
    let mut out = lines.join("\n");
    if had_trailing_newline && !out.is_empty() {
        out.push('\n');
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_a_git_diff() {
        let patch = "diff --git a/src/x.rs b/src/x.rs\n--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1,3 +1,3 @@\n fn a() {}\n-fn b() {}\n+fn b() { 1 }\n fn c() {}\n";
        let files = parse(patch).unwrap();
        assert_eq!(files[0].path, PathBuf::from("src/x.rs"));
        let out = apply(&files[0], "fn a() {}\nfn b() {}\nfn c() {}\n")
            .unwrap()
            .unwrap();
        assert_eq!(out, "fn a() {}\nfn b() { 1 }\nfn c() {}\n");
    }

    #[test]
    fn new_files_and_mismatches() {
        let patch = "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1,2 @@\n+hello\n+world\n";
        let files = parse(patch).unwrap();
        assert!(files[0].is_new);
        assert_eq!(apply(&files[0], "").unwrap().unwrap(), "hello\nworld\n");
        let bad = "--- a/f\n+++ b/f\n@@ -1 +1 @@\n-nope\n+yes\n";
        let files = parse(bad).unwrap();
        assert!(
            apply(&files[0], "something else\n")
                .unwrap_err()
                .contains("does not match")
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("hello").is_err());
        assert!(parse("--- a/x\n").is_err());
    }
}
