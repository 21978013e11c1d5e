//! Escalation detection: did a failed command fail because the sandbox
//! refused something? If so, what — so the pipeline can review a widened
//! or unsandboxed retry (category `sandbox_approval`).
//!
//! The kernel does not tell the parent which access Landlock or seccomp
//! refused (Landlock's audit records need privileges to read), so this is a
//! heuristic over the command's output, made sound where it can be by
//! checking each candidate against the sandbox that was actually applied:
//! 1. Only a failed command (non-zero exit or signal) is examined.
//! 2. Lines with a refusal errno text (`Permission denied`, `Operation not
//!    permitted`, `Invalid cross-device link`, `EACCES`, `EPERM`, Python's
//!    `[Errno 13]`/`[Errno 1]`, git's `insufficient permission`) are scanned
//!    for paths, the way tools print them rather than tool by tool:
//!    absolute, `./…`, `~/…`; anything quoted (`'…'`, `"…"`, `` `…` ``,
//!    `‘…’`, `“…”`: coreutils, git, Python, pip, npm, cargo; spaces kept);
//!    a relative `dir/file` whose first component exists; the name a shell
//!    or a tool puts right before `: Permission denied` (`bash: line 1:
//!    NAME: …`, dash's `cannot create NAME: …`, git's `could not lock
//!    config file .git/config: …`). Relative paths are resolved against the
//!    cwd. When the line names none, the few lines above it are tried
//!    (cargo prints the path and the cause on separate lines).
//! 3. A path under a deny-read entry is a `read` refusal. A write the plan
//!    does not allow, that warden itself could make, is a `write` refusal:
//!    creating, removing, renaming or linking an entry ([`WriteOp::Entry`]:
//!    the path is missing, or the line says `remove`, `move`, `rename`,
//!    `link`, `mkdir`…) needs rights on its directory, writing a file in
//!    place on the file. Anything else (the file's permissions refused it
//!    too) is not the sandbox's doing and is not reported. Why a write is
//!    refused, and whether escalating helps, is [`super::write_scope`]'s.
//! 4. With the network off, lines with a socket/DNS/connection failure
//!    (`Could not resolve host`, `Temporary failure in name resolution`,
//!    `Network is unreachable`, `Couldn't connect`, `socket:` …), and
//!    refusal lines about a socket (in the line, the few above it, or the
//!    argv: a refused `connect` to a unix socket prints only `Operation not
//!    permitted`) are a `network` refusal; URLs or `host:port` in the argv
//!    or the line are named as the target.
//!
//! Limits: messages are matched in English (a non-English `LANG` defeats
//! step 2 and 4); a program that swallows the error or prints no path gives
//! no refusal; a path printed in an unrelated error line can be reported.
//! A missing refusal never widens anything: it only means no escalation is
//! proposed.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::plan::{PlanRule, allows_write};
use super::write_scope::WriteOp;

/// What kind of access was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    Read,
    Write,
    Network,
}

/// One access the sandbox refused, as far as the output shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Host, URL or `host:port` for network refusals, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// For a write: whether it changed a file in place or an entry of a
    /// directory (what [`super::write_scope::WriteScope::classify`] needs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<WriteOp>,
    /// The output line that shows it (redacted, at most 240 characters).
    pub evidence: String,
}

/// What the detector needs to know about the applied sandbox.
pub struct DetectContext<'a> {
    pub argv: &'a [String],
    pub cwd: &'a Path,
    pub rules: &'a [PlanRule],
    pub deny: &'a [PathBuf],
    pub network_denied: bool,
}

const DENIED_MARKERS: &[&str] = &[
    "permission denied",
    "operation not permitted",
    "invalid cross-device link",
    "eacces",
    "eperm",
    "[errno 13]",
    "[errno 1]",
    "read-only file system",
    "insufficient permission",
];

/// Words of a line that say a directory entry was being created, removed,
/// renamed or linked (rights on the directory, not on the file).
const ENTRY_VERBS: &[&str] = &[
    "remove",
    "rmdir",
    "unlink",
    "move",
    "rename",
    "link",
    "mkdir",
    "directory",
];

/// Shells print `SHELL: [line N: ]NAME: Permission denied` for a refused
/// redirection, NAME verbatim (spaces included).
const SHELLS: &[&str] = &["bash:", "sh:", "dash:", "zsh:", "ash:", "ksh:"];

const NETWORK_MARKERS: &[&str] = &[
    "could not resolve host",
    "temporary failure in name resolution",
    "name or service not known",
    "network is unreachable",
    "couldn't connect",
    "failed to connect",
    "connection refused",
    "getaddrinfo",
    "enotfound",
    "eai_again",
    "socket:",
    "socket.socket",
    "/dev/tcp",
    "network access",
];

const MAX_REFUSALS: usize = 10;

/// Lines looked back for a path when the refusal line names none.
const LOOKBACK: usize = 4;

/// Find refusals in `output` (stderr then stdout tail) of a failed command.
pub fn detect(ctx: &DetectContext<'_>, output: &str) -> Vec<Refusal> {
    let mut out: Vec<Refusal> = Vec::new();
    let lines: Vec<&str> = output.lines().collect();
    let argv_about_sockets = ctx.argv.iter().any(|a| about_sockets(a));
    for (i, line) in lines.iter().enumerate() {
        if out.len() >= MAX_REFUSALS {
            break;
        }
        let lower = line.to_ascii_lowercase();
        let denied = DENIED_MARKERS.iter().any(|m| lower.contains(m));
        if denied {
            // Tools like cargo print the cause on its own line under the
            // path ("failed to open: PATH" / "Caused by:" / "Permission
            // denied"): without a path here, look a few lines up.
            let mut paths = path_tokens(line, ctx.cwd, true);
            let mut said = lower.clone();
            if paths.is_empty() {
                // Lines above are other output (a traceback's `File
                // "t.py"`): only unambiguous paths count there.
                for prev in lines[i.saturating_sub(LOOKBACK)..i].iter().rev() {
                    paths = path_tokens(prev, ctx.cwd, false);
                    if !paths.is_empty() {
                        said = prev.to_ascii_lowercase();
                        break;
                    }
                }
            }
            for path in paths {
                let op = write_op(&said, &path);
                if let Some(kind) = classify(ctx, &path, op) {
                    if !out.iter().any(|r| r.path.as_ref() == Some(&path)) {
                        out.push(Refusal {
                            kind,
                            op: (kind == RefusalKind::Write).then_some(op),
                            path: Some(path),
                            target: None,
                            evidence: evidence(line),
                        });
                    }
                }
            }
        }
        // A refused connect(2) prints a bare "Operation not permitted": the
        // socket shows in the line, the lines above (a traceback's source
        // line) or the command itself (`python3 -c '…connect(…)'`).
        let networky = NETWORK_MARKERS.iter().any(|m| lower.contains(m))
            || (denied
                && (argv_about_sockets
                    || about_sockets(line)
                    || lines[i.saturating_sub(LOOKBACK)..i]
                        .iter()
                        .any(|l| about_sockets(l))));
        if ctx.network_denied && networky && !out.iter().any(|r| r.kind == RefusalKind::Network) {
            out.push(Refusal {
                kind: RefusalKind::Network,
                path: None,
                target: network_target(ctx.argv, line),
                op: None,
                evidence: evidence(line),
            });
        }
    }
    out
}

/// Whether `text` speaks of a socket or a connection.
fn about_sockets(text: &str) -> bool {
    let text = text.to_ascii_lowercase();
    text.contains("connect") || text.contains("socket")
}

fn evidence(line: &str) -> String {
    let red = crate::redact::redact(line.trim());
    match red.char_indices().nth(240) {
        Some((i, _)) => format!("{}…", &red[..i]),
        None => red,
    }
}

/// What a write to `path` named in `line` (lowercase) did: an entry
/// change when the line says so or the path does not exist (yet).
fn write_op(line: &str, path: &Path) -> WriteOp {
    if ENTRY_VERBS.iter().any(|v| line.contains(v)) {
        WriteOp::Entry
    } else {
        WriteOp::for_write(path)
    }
}

/// The directory whose rights creating or removing `path` needs: the one
/// above the first missing component (`mkdir -p a/b/c` creates `a`).
pub(super) fn entry_dir(path: &Path) -> Option<&Path> {
    let mut entry = path;
    while let Some(parent) = entry.parent().filter(|p| !p.exists()) {
        entry = parent;
    }
    entry.parent()
}

/// Is `path` refused by the sandbox (and not by ordinary permissions)?
fn classify(ctx: &DetectContext<'_>, path: &Path, op: WriteOp) -> Option<RefusalKind> {
    if ctx.deny.iter().any(|d| path.starts_with(d)) {
        return Some(RefusalKind::Read);
    }
    let needs = match op {
        WriteOp::Entry => entry_dir(path)?,
        WriteOp::Content => path,
    };
    if allows_write(ctx.rules, needs) {
        return None;
    }
    // Would warden itself (unsandboxed) be allowed to write it? If not, the
    // file's own permissions refused it: no escalation would help.
    let target = needs.ancestors().find(|p| p.exists())?;
    let c = CString::new(target.as_os_str().as_bytes()).ok()?;
    // SAFETY: access(2) with a valid NUL-terminated path.
    let writable = unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0;
    writable.then_some(RefusalKind::Write)
}

/// Paths a line names: absolute, `./`, `../`, `~/`, quoted; with
/// `lenient` (the refusal line itself) also relative quoted names, a
/// relative `dir/file` whose first component exists, and the name before
/// `: <refusal>` (see the module doc).
fn path_tokens(line: &str, cwd: &Path, lenient: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut push = |raw: &str, relative_ok: bool| {
        let quotes = |c: char| matches!(c, '(' | ')' | '"' | '\'' | '`' | '‘' | '’' | '“' | '”');
        let raw = raw
            .trim_start_matches(quotes)
            .trim_end_matches(|c: char| quotes(c) || matches!(c, ':' | ',' | ';' | '.'));
        if raw.is_empty() || raw.contains("://") || raw.len() > 4096 || raw.contains('\0') {
            return;
        }
        let p = if let Some(rest) = raw.strip_prefix("~/") {
            match std::env::var_os("HOME") {
                Some(h) => Path::new(&h).join(rest),
                None => return,
            }
        } else if raw.starts_with('/') {
            PathBuf::from(raw)
        } else if raw.starts_with("./")
            || raw.starts_with("../")
            || (lenient && relative_ok)
            || (lenient && raw.contains('/') && first_component_exists(raw, cwd))
        {
            cwd.join(raw)
        } else {
            return;
        };
        let p = super::resolve::canonical_or_normal(&p);
        if !out.contains(&p) {
            out.push(p);
        }
    };
    // Quoted segments may contain spaces; they are blanked out before the
    // bare tokens are whitespace-split, so `'/a b'` does not also yield `/a`.
    let mut bare = line.to_string();
    for (open, close) in [('\'', '\''), ('"', '"'), ('`', '`'), ('‘', '’'), ('“', '”')] {
        let mut from = 0;
        while let Some(start) = line[from..].find(open).map(|i| i + from) {
            let inner_start = start + open.len_utf8();
            let Some(end) = line[inner_start..].find(close).map(|i| i + inner_start) else {
                break;
            };
            let inner = &line[inner_start..end];
            // A relative quoted name: one component (a new file), or one
            // whose first component exists (not a quoted phrase).
            let plausible = !inner.contains(": ")
                && (!inner.contains('/')
                    || inner.starts_with(['/', '.', '~'])
                    || first_component_exists(inner, cwd));
            if !inner.trim().is_empty() && plausible {
                push(inner, true);
                bare.replace_range(
                    start..end + close.len_utf8(),
                    &" ".repeat(end + close.len_utf8() - start),
                );
            }
            from = end + close.len_utf8();
        }
    }
    // The name right before ": <refusal>" (bash, cat, dash, git); quoted
    // names were taken above, and a quote left here is part of a phrase.
    // A name taken whole (with its spaces) is blanked out like a quote.
    let lower = line.to_ascii_lowercase();
    let shell = SHELLS.iter().any(|s| lower.starts_with(s));
    let markers = [
        ": permission denied",
        ": operation not permitted",
        ": read-only file system",
    ];
    for marker in markers.iter().filter(|_| lenient) {
        let Some(idx) = lower.find(marker) else {
            continue;
        };
        // `PROGRAM: NAME: …`; a lone `PROGRAM: …` names no file.
        let Some((_, name)) = line[..idx].rsplit_once(": ") else {
            continue;
        };
        // An errno name (`Error: EACCES: permission denied`) is no file.
        let errno = name.len() > 1 && name.bytes().all(|b| b.is_ascii_uppercase());
        if errno || name.contains(['\'', '"', '`', '‘', '’', '“', '”']) {
            continue;
        }
        let name = [
            "cannot create ",
            "can't create ",
            "could not lock config file ",
        ]
        .iter()
        .find_map(|verb| name.strip_prefix(verb).map(|rest| (rest, true)))
        .unwrap_or((name, shell));
        match name {
            (n, verbatim) if verbatim && !n.trim().is_empty() => {
                push(n.trim(), true);
                bare.replace_range(idx - n.len()..idx, &" ".repeat(n.len()));
            }
            (n, _)
                if !n.is_empty()
                    && !n.contains(char::is_whitespace)
                    && (!n.contains('/')
                        || n.starts_with(['/', '.', '~'])
                        || first_component_exists(n, cwd)) =>
            {
                push(n, true)
            }
            _ => {}
        }
    }
    for tok in bare.split_whitespace() {
        push(tok, false);
    }
    out
}

/// `dir/file` whose `dir` is in `cwd` (so `origin/main` in a message is not
/// taken for a path).
fn first_component_exists(raw: &str, cwd: &Path) -> bool {
    raw.split('/')
        .next()
        .is_some_and(|first| !first.is_empty() && cwd.join(first).exists())
}

/// A URL or `host:port` from the argv, else from the line.
fn network_target(argv: &[String], line: &str) -> Option<String> {
    let url = |s: &str| {
        s.split_whitespace()
            .map(|t| t.trim_matches(|c| matches!(c, '\'' | '"' | '(' | ')')))
            .find(|t| t.contains("://") || t.starts_with("/dev/tcp/") || t.starts_with("/dev/udp/"))
            .map(str::to_string)
    };
    argv.iter().find_map(|a| url(a)).or_else(|| url(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::plan::Rights;

    fn ctx<'a>(
        rules: &'a [PlanRule],
        deny: &'a [PathBuf],
        argv: &'a [String],
    ) -> DetectContext<'a> {
        DetectContext {
            argv,
            cwd: Path::new("/"),
            rules,
            deny,
            network_denied: true,
        }
    }

    #[test]
    fn classifies_write_read_and_network() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        let outside = root.join("outside");
        std::fs::create_dir_all(&ws).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let rules = vec![PlanRule {
            path: ws.clone(),
            rights: Rights::Write,
            required: true,
        }];
        let deny = vec![root.join("secret")];
        let argv = vec!["curl".to_string(), "https://example.test/x".to_string()];
        let output = format!(
            "touch: cannot touch '{o}/f': Permission denied\n\
             cat: {s}/key: Permission denied\n\
             echo hi > {w}/ok: Permission denied\n\
             curl: (6) Could not resolve host: example.test\n",
            o = outside.display(),
            s = root.join("secret").display(),
            w = ws.display(),
        );
        let got = detect(&ctx(&rules, &deny, &argv), &output);
        let kinds: Vec<_> = got.iter().map(|r| (r.kind, r.path.clone())).collect();
        assert_eq!(
            kinds,
            [
                (RefusalKind::Write, Some(outside.join("f"))),
                (RefusalKind::Read, Some(root.join("secret/key"))),
                (RefusalKind::Network, None),
            ]
        );
        assert_eq!(got[2].target.as_deref(), Some("https://example.test/x"));
    }

    /// A refused unix-socket connect says only "Operation not permitted":
    /// the socket is in the argv or a traceback's source line above.
    #[test]
    fn a_bare_eperm_about_a_socket_is_a_network_refusal() {
        let eperm = "PermissionError: [Errno 1] Operation not permitted\n";
        let inline = vec![
            "python3".to_string(),
            "-c".to_string(),
            "import socket; s=socket.socket(socket.AF_UNIX); s.connect('/run/docker.sock')"
                .to_string(),
        ];
        let got = detect(&ctx(&[], &[], &inline), eperm);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].kind, RefusalKind::Network);

        let script = vec!["python3".to_string(), "t.py".to_string()];
        let traceback = format!("  File \"t.py\", line 3\n    s.connect(path)\n{eperm}");
        assert_eq!(
            detect(&ctx(&[], &[], &script), &traceback)[0].kind,
            RefusalKind::Network
        );
        // Nothing about sockets anywhere: not a network refusal.
        assert!(detect(&ctx(&[], &[], &script), eperm).is_empty());
    }

    #[test]
    fn python_permission_error_is_parsed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let line = format!(
            "PermissionError: [Errno 13] Permission denied: '{}'",
            root.join("x y").display()
        );
        let got = detect(&ctx(&[], &[], &[]), &line);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].path.as_deref(), Some(root.join("x y").as_path()));
    }

    /// A workspace whose root is split (it holds `.git`): `src/` and the
    /// existing `README` writable, nothing new at the root, `.git` and
    /// `outside/` not writable.
    struct Split {
        _tmp: tempfile::TempDir,
        ws: PathBuf,
        outside: PathBuf,
        rules: Vec<PlanRule>,
    }

    fn split() -> Split {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let ws = root.join("ws");
        let outside = root.join("outside");
        for d in [ws.join(".git/objects"), ws.join("src"), outside.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ws.join("README"), "x").unwrap();
        std::fs::write(ws.join("src/a.rs"), "").unwrap();
        std::fs::write(outside.join("f"), "").unwrap();
        let rule = |path: PathBuf, rights| PlanRule {
            path,
            rights,
            required: false,
        };
        let rules = vec![
            rule(ws.clone(), Rights::ListDir),
            rule(ws.join("src"), Rights::Write),
            rule(ws.join("README"), Rights::Write),
        ];
        Split {
            _tmp: tmp,
            ws,
            outside,
            rules,
        }
    }

    /// Refused writes as coreutils, shells, git, cargo, npm, Python and pip
    /// print them: the path (spaces, relative names, quotes of every kind)
    /// and whether an entry or a file's content was written.
    #[test]
    fn refused_writes_are_found_in_the_phrasing_of_common_tools() {
        let t = split();
        let (w, o) = (t.ws.display(), t.outside.display());
        let cases: Vec<(String, PathBuf, WriteOp)> = vec![
            (format!("mkdir: cannot create directory ‘{o}/x’: Permission denied"), t.outside.join("x"), WriteOp::Entry),
            ("mkdir: cannot create directory 'docs': Permission denied".into(), t.ws.join("docs"), WriteOp::Entry),
            ("mkdir: cannot create directory ‘new dir’: Permission denied".into(), t.ws.join("new dir"), WriteOp::Entry),
            ("sh: 1: cannot create CONTRIBUTING.md: Permission denied".into(), t.ws.join("CONTRIBUTING.md"), WriteOp::Entry),
            ("sh: 1: cannot create my notes.md: Permission denied".into(), t.ws.join("my notes.md"), WriteOp::Entry),
            (format!("warden-write: 1: cannot create {o}/notes dir/n.txt: Permission denied"), t.outside.join("notes dir/n.txt"), WriteOp::Entry),
            ("bash: line 1: new file.txt: Permission denied".into(), t.ws.join("new file.txt"), WriteOp::Entry),
            (format!("bash: {o}/r: Permission denied"), t.outside.join("r"), WriteOp::Entry),
            (format!("touch: cannot touch '{o}/a b': Permission denied"), t.outside.join("a b"), WriteOp::Entry),
            ("touch: cannot touch '../outside/rel': Permission denied".into(), t.outside.join("rel"), WriteOp::Entry),
            (format!("mv: cannot move 'src/a.rs' to '{o}/a.rs': Permission denied"), t.outside.join("a.rs"), WriteOp::Entry),
            ("rm: cannot remove 'README': Permission denied".into(), t.ws.join("README"), WriteOp::Entry),
            (format!("ln: failed to create symbolic link '{o}/l': Permission denied"), t.outside.join("l"), WriteOp::Entry),
            (format!("ln: failed to create hard link '{o}/f' => 'src/a.rs': Invalid cross-device link"), t.outside.join("f"), WriteOp::Entry),
            (format!("cp: cannot create regular file '{o}/f': Permission denied"), t.outside.join("f"), WriteOp::Content),
            (format!("tee: {o}/t: Permission denied"), t.outside.join("t"), WriteOp::Entry),
            (format!("fatal: Unable to create '{w}/.git/index.lock': Permission denied"), t.ws.join(".git/index.lock"), WriteOp::Entry),
            ("error: could not lock config file .git/config: Permission denied".into(), t.ws.join(".git/config"), WriteOp::Entry),
            ("error: insufficient permission for adding an object to repository database .git/objects".into(), t.ws.join(".git/objects"), WriteOp::Content),
            (format!("error: failed to write {w}/Cargo.lock\n\nCaused by:\n  failed to open: {w}/Cargo.lock\n\nCaused by:\n  Permission denied (os error 13)"), t.ws.join("Cargo.lock"), WriteOp::Entry),
            (format!("error: failed to create directory `{w}/target/debug`\n\nCaused by:\n  Permission denied (os error 13)"), t.ws.join("target/debug"), WriteOp::Entry),
            (format!("npm error code EACCES\nnpm error syscall mkdir\nnpm error path {w}/node_modules\nnpm error errno -13\nnpm error Error: EACCES: permission denied, mkdir '{w}/node_modules'"), t.ws.join("node_modules"), WriteOp::Entry),
            ("PermissionError: [Errno 13] Permission denied: '.venv'".into(), t.ws.join(".venv"), WriteOp::Entry),
            (format!("ERROR: Could not install packages due to an OSError: [Errno 13] Permission denied: '{o}/site/pkg'"), t.outside.join("site/pkg"), WriteOp::Entry),
            (format!("OSError: [Errno 18] Invalid cross-device link: 'src/a.rs' -> '{o}/moved'"), t.outside.join("moved"), WriteOp::Entry),
        ];
        for (output, path, op) in cases {
            let ctx = DetectContext {
                argv: &[],
                cwd: &t.ws,
                rules: &t.rules,
                deny: &[],
                network_denied: false,
            };
            let got = detect(&ctx, &output);
            assert_eq!(
                got.iter()
                    .map(|r| (r.kind, r.path.clone(), r.op))
                    .collect::<Vec<_>>(),
                [(RefusalKind::Write, Some(path), Some(op))],
                "{output}"
            );
        }
    }

    /// Writes the plan allows (a file's own permissions refused them), and
    /// lines that only look like they name a path, give no refusal.
    #[test]
    fn allowed_writes_and_pathless_lines_give_no_refusal() {
        let t = split();
        let ctx = DetectContext {
            argv: &[],
            cwd: &t.ws,
            rules: &t.rules,
            deny: &[],
            network_denied: false,
        };
        for output in [
            "touch: cannot touch 'src/ro': Permission denied",
            "sh: 1: cannot create src/x: Permission denied",
            "bash: line 1: README: Permission denied",
            "ssh: Permission denied",
            "error: could not do this: Permission denied",
            "remote: origin/main: Permission denied",
            "fatal: 'could not read from remote: x': Permission denied",
        ] {
            assert_eq!(detect(&ctx, output), [], "{output}");
        }
    }

    #[test]
    fn unrelated_output_yields_nothing() {
        let got = detect(&ctx(&[], &[], &[]), "error[E0425]: cannot find value `x`\n");
        assert!(got.is_empty());
    }
}
