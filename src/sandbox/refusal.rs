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
//!    `[Errno 13]`/`[Errno 1]`) are scanned for path-like tokens (absolute,
//!    `./…`, `~/…` or quoted; relative ones resolved against the cwd); when
//!    the line names none, the few lines above it are tried (cargo prints
//!    the path and the cause on separate lines).
//! 3. A path under a deny-read entry is a `read` refusal. A path the plan
//!    does not make writable, that warden itself could write, is a `write`
//!    refusal. Anything else (the file's permissions refused it too) is not
//!    the sandbox's doing and is not reported.
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
];

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
            let mut paths = path_tokens(line, ctx.cwd);
            if paths.is_empty() {
                for prev in lines[i.saturating_sub(LOOKBACK)..i].iter().rev() {
                    paths = path_tokens(prev, ctx.cwd);
                    if !paths.is_empty() {
                        break;
                    }
                }
            }
            for path in paths {
                if let Some(kind) = classify(ctx, &path) {
                    if !out.iter().any(|r| r.path.as_ref() == Some(&path)) {
                        out.push(Refusal {
                            kind,
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

/// Is `path` refused by the sandbox (and not by ordinary permissions)?
fn classify(ctx: &DetectContext<'_>, path: &Path) -> Option<RefusalKind> {
    if ctx.deny.iter().any(|d| path.starts_with(d)) {
        return Some(RefusalKind::Read);
    }
    if allows_write(ctx.rules, path) {
        return None;
    }
    // Would warden itself (unsandboxed) be allowed to write it? If not, the
    // file's own permissions refused it: no escalation would help.
    let target = if path.exists() {
        path.to_path_buf()
    } else {
        path.ancestors().find(|p| p.exists())?.to_path_buf()
    };
    let c = CString::new(target.as_os_str().as_bytes()).ok()?;
    // SAFETY: access(2) with a valid NUL-terminated path.
    let writable = unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0;
    writable.then_some(RefusalKind::Write)
}

/// Path-like tokens in a line: absolute, `./`, `../`, `~/` or quoted.
fn path_tokens(line: &str, cwd: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut push = |raw: &str| {
        let quotes = |c: char| matches!(c, '(' | ')' | '"' | '\'' | '`' | '‘' | '’');
        let raw = raw
            .trim_start_matches(quotes)
            .trim_end_matches(|c: char| quotes(c) || matches!(c, ':' | ',' | ';' | '.'));
        if raw.is_empty() || raw.contains("://") {
            return;
        }
        let p = if let Some(rest) = raw.strip_prefix("~/") {
            match std::env::var_os("HOME") {
                Some(h) => Path::new(&h).join(rest),
                None => return,
            }
        } else if raw.starts_with('/') {
            PathBuf::from(raw)
        } else if raw.starts_with("./") || raw.starts_with("../") {
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
    for quote in ['\'', '"', '`', '‘'] {
        let close = if quote == '‘' { '’' } else { quote };
        let mut from = 0;
        while let Some(start) = line[from..].find(quote).map(|i| i + from) {
            let inner_start = start + quote.len_utf8();
            let Some(end) = line[inner_start..].find(close).map(|i| i + inner_start) else {
                break;
            };
            let inner = &line[inner_start..end];
            if inner.starts_with(['/', '.', '~']) {
                push(inner);
                bare.replace_range(
                    start..end + close.len_utf8(),
                    &" ".repeat(end + close.len_utf8() - start),
                );
            }
            from = end + close.len_utf8();
        }
    }
    for tok in bare.split_whitespace() {
        push(tok);
    }
    // A bare relative name right before ": Permission denied" (bash, cat).
    if let Some(idx) = line.find(": Permission denied") {
        let head = &line[..idx];
        if let Some(name) = head.rsplit(": ").next() {
            let name = name.trim();
            if !name.is_empty() && !name.contains(char::is_whitespace) && !name.starts_with('/') {
                push(&format!("./{name}"));
            }
        }
    }
    out
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

    #[test]
    fn unrelated_output_yields_nothing() {
        let got = detect(&ctx(&[], &[], &[]), "error[E0425]: cannot find value `x`\n");
        assert!(got.is_empty());
    }
}
