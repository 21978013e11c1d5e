//! Reading git config files the way git does, as far as finding
//! credentials needs: sections and subsections, values with quotes,
//! escapes, comments and continuation lines, and `include.path` /
//! `includeIf.<condition>.path` followed to the files they name.
//!
//! Include conditions (`gitdir:`, `gitdir/i:`, `onbranch:`,
//! `hasconfig:remote.*.url:`) are **not** evaluated: every include is
//! followed. Whether git would read a file depends on the directory and
//! branch a command runs in, which the command chooses; a refusal for a
//! file git would skip is safe, a miss is not. Paths resolve as git
//! resolves them: `~/` against HOME, a relative path against the directory
//! of the file that includes it. A missing include is skipped (git skips
//! it too); includes nested deeper than git's limit of 10, or a cycle
//! (which git refuses the same way), are reported as problems.

use std::path::{Path, PathBuf};

/// git's `MAX_INCLUDE_DEPTH`.
pub const MAX_INCLUDE_DEPTH: usize = 10;

/// Config files read through includes at most (a bound on fan-out).
const MAX_FILES: usize = 256;

/// One `key = value` of a config file. `section` is lowercase, `subsection`
/// as written (case-sensitive in git), `key` lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub section: String,
    pub subsection: Option<String>,
    pub key: String,
    /// `None` for a bare key (boolean true).
    pub value: Option<String>,
    /// 1-based line of the key.
    pub line: usize,
}

/// One file read, with the include that led to it (`None` for a root).
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub included_from: Option<(PathBuf, usize)>,
    pub entries: Vec<Entry>,
}

/// Read `root` and every file it includes, transitively. Problems (too
/// deep, a cycle, too many files) are returned as `(file, line, what)`.
pub fn read_with_includes(
    root: &Path,
    home: Option<&Path>,
) -> (Vec<ConfigFile>, Vec<(PathBuf, usize, String)>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    let mut stack = Vec::new();
    visit(root, None, home, &mut stack, &mut files, &mut problems);
    (files, problems)
}

fn visit(
    path: &Path,
    included_from: Option<(PathBuf, usize)>,
    home: Option<&Path>,
    stack: &mut Vec<PathBuf>,
    files: &mut Vec<ConfigFile>,
    problems: &mut Vec<(PathBuf, usize, String)>,
) {
    let Ok(text) = std::fs::read(path) else {
        return; // missing or unreadable: git reads nothing there either
    };
    if files.len() >= MAX_FILES {
        let (file, line) = included_from.unwrap_or((path.to_path_buf(), 0));
        problems.push((file, line, format!("more than {MAX_FILES} included files")));
        return;
    }
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let entries = parse(&String::from_utf8_lossy(&text));
    let includes: Vec<(PathBuf, usize)> = entries
        .iter()
        .filter_map(|e| include_target(e, path, home).map(|p| (p, e.line)))
        .collect();
    files.push(ConfigFile {
        path: path.to_path_buf(),
        included_from,
        entries,
    });
    stack.push(canonical);
    for (target, line) in includes {
        let target_id = std::fs::canonicalize(&target).unwrap_or_else(|_| target.clone());
        if stack.contains(&target_id) {
            problems.push((
                path.to_path_buf(),
                line,
                "an include cycle (git refuses this config)".into(),
            ));
        } else if stack.len() >= MAX_INCLUDE_DEPTH {
            problems.push((
                path.to_path_buf(),
                line,
                format!("includes nested deeper than git's limit of {MAX_INCLUDE_DEPTH}"),
            ));
        } else {
            let from = Some((path.to_path_buf(), line));
            visit(&target, from, home, stack, files, problems);
        }
    }
    stack.pop();
}

/// The file an `include.path` or `includeIf.*.path` entry names.
fn include_target(e: &Entry, file: &Path, home: Option<&Path>) -> Option<PathBuf> {
    let is_include = (e.section == "include" && e.subsection.is_none())
        || (e.section == "includeif" && e.subsection.is_some());
    if !is_include || e.key != "path" {
        return None;
    }
    let raw = e.value.as_deref().filter(|v| !v.is_empty())?;
    let p = if let Some(rest) = raw.strip_prefix("~/") {
        home?.join(rest)
    } else if raw == "~" {
        home?.to_path_buf()
    } else {
        let p = Path::new(raw);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            file.parent().unwrap_or(Path::new("/")).join(p)
        }
    };
    Some(p)
}

/// Parse a config text. Malformed lines are skipped (git would refuse the
/// file, so nothing in it reaches a command through git).
pub fn parse(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut subsection: Option<String> = None;
    let lines: Vec<&str> = text.split('\n').map(|l| l.trim_end_matches('\r')).collect();
    let mut i = 0;
    while i < lines.len() {
        let start_line = i + 1;
        let mut rest = lines[i].trim_start();
        i += 1;
        if rest.starts_with('[') {
            let Some((name, sub, after)) = parse_header(rest) else {
                continue;
            };
            section = name;
            subsection = sub;
            rest = after.trim_start(); // `[core] bare = false` is allowed
        }
        if rest.is_empty() || rest.starts_with(['#', ';']) || section.is_empty() {
            continue;
        }
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(rest.len());
        if name_len == 0 {
            continue;
        }
        let key = rest[..name_len].to_ascii_lowercase();
        let after = rest[name_len..].trim_start();
        let value = if let Some(v) = after.strip_prefix('=') {
            let (value, used) = parse_value(v, &lines[i..]);
            i += used;
            Some(value)
        } else {
            None
        };
        out.push(Entry {
            section: section.clone(),
            subsection: subsection.clone(),
            key,
            value,
            line: start_line,
        });
    }
    out
}

/// `[name]`, `[name "sub"]` or `[name.sub]` → (name, sub, text after `]`).
fn parse_header(line: &str) -> Option<(String, Option<String>, &str)> {
    let inner = &line[1..];
    let quote = inner
        .find('"')
        .filter(|q| inner.find(']').is_none_or(|c| *q < c));
    if let Some(q) = quote {
        let name = inner[..q].trim().to_ascii_lowercase();
        let mut sub = String::new();
        let mut end = None;
        let mut chars = inner[q + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => sub.extend(chars.next().map(|(_, c)| c)),
                '"' => {
                    end = Some(q + 1 + i + 1);
                    break;
                }
                c => sub.push(c),
            }
        }
        let after = inner[end?..].trim_start().strip_prefix(']')?;
        return Some((name, Some(sub), after));
    }
    let close = inner.find(']')?;
    let full = inner[..close].trim();
    let after = &inner[close + 1..];
    match full.split_once('.') {
        Some((name, sub)) => Some((
            name.to_ascii_lowercase(),
            Some(sub.to_ascii_lowercase()),
            after,
        )),
        None => Some((full.to_ascii_lowercase(), None, after)),
    }
}

/// A value starting at `first`, continued on `more` lines after a trailing
/// backslash; returns it and how many extra lines it used. Like git:
/// whitespace outside quotes is dropped at both ends, `#`/`;` outside
/// quotes start a comment, `\n`, `\t`, `\b`, `\\` and `\"` are escapes.
fn parse_value(first: &str, more: &[&str]) -> (String, usize) {
    let mut value = String::new();
    let mut pending_space = String::new();
    let mut quoted = false;
    let mut used = 0;
    let mut line = first;
    loop {
        let mut chars = line.chars().peekable();
        let mut continued = false;
        while let Some(c) = chars.next() {
            if c.is_whitespace() && !quoted {
                if !value.is_empty() {
                    pending_space.push(' ');
                }
                continue;
            }
            if matches!(c, '#' | ';') && !quoted {
                break;
            }
            if c == '\\' && chars.peek().is_none() {
                continued = true;
                break;
            }
            value.push_str(&std::mem::take(&mut pending_space));
            match c {
                '"' => quoted = !quoted,
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('b') => {
                        value.pop();
                    }
                    Some(c) => value.push(c),
                    None => {}
                },
                c => value.push(c),
            }
        }
        if !continued || used >= more.len() {
            break;
        }
        line = more[used];
        used += 1;
    }
    (value, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (section, subsection, key, value, line) of each entry.
    type Row = (String, Option<String>, String, Option<String>, usize);

    fn keys(text: &str) -> Vec<Row> {
        parse(text)
            .into_iter()
            .map(|e| (e.section, e.subsection, e.key, e.value, e.line))
            .collect()
    }

    #[test]
    fn parses_what_git_writes_and_what_people_write() {
        let text = "# c\n[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://h/o/r ; c\n\
[http \"https://github.com/\"]\n\textraheader = AUTHORIZATION: basic eA==\n\
[includeIf \"gitdir:/w/.git/worktrees/*\"]\n\tpath = /t/git-credentials-1.config\n\
[Section.Sub] Key = \"a \\\"q\\\" #x\" # comment\n[s]\nflag\nlong = one \\\n  two\nnext = 1\n";
        let got = keys(text);
        let s = |v: &str| Some(v.to_string());
        assert_eq!(got[0], ("core".into(), None, "bare".into(), s("false"), 3));
        assert_eq!(got[1].3, s("https://h/o/r"));
        assert_eq!(got[2].1, s("https://github.com/"));
        assert_eq!(got[2].3, s("AUTHORIZATION: basic eA=="));
        assert_eq!(
            (got[3].0.as_str(), got[3].1.as_deref(), got[3].4),
            ("includeif", Some("gitdir:/w/.git/worktrees/*"), 9)
        );
        assert_eq!(
            got[4],
            (
                "section".into(),
                s("sub"),
                "key".into(),
                s("a \"q\" #x"),
                10
            )
        );
        assert_eq!(got[5], ("s".into(), None, "flag".into(), None, 12));
        assert_eq!(
            got[6].3,
            s("one   two"),
            "git keeps the spaces around a continuation"
        );
        assert_eq!((got[7].2.as_str(), got[7].4), ("next", 15));
    }

    #[test]
    fn includes_resolve_like_git_and_stop_at_cycles_and_depth() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let home = d.join("home");
        std::fs::create_dir_all(home.join("sub")).unwrap();
        std::fs::create_dir_all(d.join("repo/.git")).unwrap();
        std::fs::write(
            d.join("repo/.git/config"),
            "[include]\n\tpath = ../rel.inc\n[includeIf \"onbranch:x\"]\n\tpath = ~/sub/h.inc\n\
[includeIf \"gitdir:/nowhere/\"]\n\tpath = /nonexistent/x.inc\n",
        )
        .unwrap();
        std::fs::write(d.join("repo/rel.inc"), "[a]\n\tb = 1\n").unwrap();
        std::fs::write(home.join("sub/h.inc"), "[include]\n\tpath = h.inc\n").unwrap();
        let (files, problems) = read_with_includes(&d.join("repo/.git/config"), Some(&home));
        let names: Vec<_> = files.iter().map(|f| f.path.clone()).collect();
        assert_eq!(
            names,
            [
                d.join("repo/.git/config"),
                d.join("repo/.git/../rel.inc"),
                home.join("sub/h.inc")
            ]
        );
        assert_eq!(
            files[2].included_from,
            Some((d.join("repo/.git/config"), 4))
        );
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].2.contains("cycle"));

        // A chain longer than git's limit is a problem, not a silent stop.
        for i in 0..12 {
            std::fs::write(
                d.join(format!("c{i}")),
                format!("[include]\n\tpath = c{}\n", i + 1),
            )
            .unwrap();
        }
        let (files, problems) = read_with_includes(&d.join("c0"), None);
        assert_eq!(files.len(), MAX_INCLUDE_DEPTH);
        assert!(problems[0].2.contains("deeper"), "{problems:?}");
    }
}
