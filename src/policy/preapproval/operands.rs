//! Operands and requirements files: whether a package operand is a plain
//! registry name, and whether a requirements or constraints file says only
//! what a command line of names could (no option, URL or path).

use std::path::Path;

/// Bytes of a requirements file read at most.
const MAX_REQUIREMENTS: u64 = 1 << 20;

const SOURCE_PREFIXES: &[&str] = &[
    "git+",
    "git:",
    "hg+",
    "svn+",
    "bzr+",
    "github:",
    "gitlab:",
    "bitbucket:",
    "gist:",
    "ssh:",
    "file:",
    "link:",
    "portal:",
    "patch:",
    "exec:",
    "http:",
    "https:",
];

const ARCHIVES: &[&str] = &[
    ".whl", ".tar.gz", ".tgz", ".zip", ".tar", ".tar.bz2", ".tar.xz", ".gem",
];

/// Why a package operand is not a plain registry name, if it is not.
pub(super) fn spec_problem(arg: &str) -> Option<&'static str> {
    let lower = arg.to_ascii_lowercase();
    if lower.contains("://") {
        return Some("a URL");
    }
    let sources = std::iter::once(lower.as_str()).chain(lower.split('@').skip(1));
    for part in sources {
        if SOURCE_PREFIXES.iter().any(|p| part.starts_with(p)) {
            return Some("a URL, a VCS source or a local path");
        }
    }
    if lower.starts_with(['.', '/', '~']) {
        return Some("a local path");
    }
    // `@scope/name` is a registry name; any other `/` a path or a
    // repository shorthand (`user/repo`).
    let body = match lower.strip_prefix('@') {
        Some(scoped) => scoped.split_once('/').map_or("", |(_, rest)| rest),
        None => lower.as_str(),
    };
    if body.contains('/') {
        return Some("a local path or a repository");
    }
    if ARCHIVES.iter().any(|a| lower.ends_with(a)) {
        return Some("an archive file");
    }
    None
}

/// Why a requirements or constraints file must not be trusted, if so:
/// any option but `--hash`, an environment variable, a URL or a path.
pub fn requirements_problem(path: &Path) -> Option<String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("cannot be read ({e}), so its options are unknown")),
    };
    if meta.len() > MAX_REQUIREMENTS {
        return Some(format!(
            "larger than {MAX_REQUIREMENTS} bytes, so it is not examined"
        ));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return Some(format!("cannot be read ({e}), so its options are unknown")),
    };
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    for (n, line) in joined.lines().enumerate() {
        // A comment starts at `#` at the start or after whitespace.
        let code = match line.find(" #").or_else(|| line.find("\t#")) {
            _ if line.trim_start().starts_with('#') => "",
            Some(at) => &line[..at],
            None => line,
        };
        if code.contains("${") {
            return Some(format!("line {} expands an environment variable", n + 1));
        }
        let mut words = code.split_whitespace();
        while let Some(word) = words.next() {
            if word == "--hash" {
                words.next();
                continue;
            }
            if word.starts_with("--hash=") {
                continue;
            }
            if word.starts_with('-') {
                let shown = word.split_once('=').map_or(word, |(o, _)| o);
                return Some(format!("line {} sets `{shown}`", n + 1));
            }
            if let Some(what) = spec_problem(word) {
                return Some(format!("line {} names {what} (`{word}`)", n + 1));
            }
        }
    }
    None
}
