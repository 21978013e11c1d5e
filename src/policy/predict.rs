//! What an exec will need from beyond the sandbox, predicted from its
//! invocations before anything runs.
//!
//! The sandbox enforces deny-read paths, read-only protected paths, the
//! writable roots and the scrubbed environment for real. An exec that can
//! only do its job by crossing one of those lines is a boundary crossing,
//! just like a `read` or `write` action would be, so it is adjudicated (and
//! counted by the circuit breaker) instead of being recorded as a routine
//! `run` that then fails inside the sandbox:
//!
//! - **secret reads**: an argument or input redirection names a deny-read
//!   path (`cat ~/.ssh/id_rsa`, `tr … < /proc/1/environ`);
//! - **credential variables**: the command expands or asks for a variable
//!   the sandbox scrubs (`curl -H "token $GITHUB_TOKEN"`, `printenv
//!   AWS_SECRET_ACCESS_KEY`);
//! - **writes**: a redirection target or the destination of a program that
//!   writes files (`tee`, `cp`, `mv`, `ln`, `install`, `touch`, `mkdir`,
//!   `rm`, `sed -i`, `chmod`, `curl -o`, `wget -O`, `dd of=`) lands outside
//!   the writable roots or on a protected path, or somewhere warden cannot
//!   resolve (`>> "$GITHUB_ENV"`).
//!
//! Predictions are conservative in one direction only: a prediction can
//! make an exec a crossing, never make one routine.

use std::path::{Path, PathBuf};

use super::paths::{PathPolicy, WriteTarget, exec_path_words};
use super::wrappers::Invocation;
use crate::sandbox::env::is_credential_name;

/// What an exec needs beyond the sandbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Deny-read paths it names.
    pub secret_reads: Vec<PathBuf>,
    /// Credential-like environment variables it expands or prints.
    pub credential_variables: Vec<String>,
    /// Writes outside the writable roots or onto protected paths.
    pub writes: Vec<PathBuf>,
    /// Write targets warden cannot resolve, as written.
    pub unknown_writes: Vec<String>,
    /// Every path the arguments and redirections name, resolved: facts for
    /// the review rules, not a need by itself.
    pub mentioned: Vec<PathBuf>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.secret_reads.is_empty()
            && self.credential_variables.is_empty()
            && self.writes.is_empty()
            && self.unknown_writes.is_empty()
    }

    /// One line for the decision trace.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.secret_reads.is_empty() {
            parts.push(format!("reads deny-read {}", list(&self.secret_reads)));
        }
        if !self.credential_variables.is_empty() {
            parts.push(format!(
                "uses credential variable{} {} (scrubbed from the sandbox)",
                if self.credential_variables.len() > 1 {
                    "s"
                } else {
                    ""
                },
                self.credential_variables.join(", ")
            ));
        }
        if !self.writes.is_empty() {
            parts.push(format!(
                "writes {} (outside the writable roots or protected)",
                list(&self.writes)
            ));
        }
        if !self.unknown_writes.is_empty() {
            parts.push(format!(
                "writes to {} (a target warden cannot resolve)",
                self.unknown_writes.join(", ")
            ));
        }
        parts.join("; ")
    }
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Predict what `invocations` need, with relative paths against `base`
/// (the workspace when `None`).
pub fn predict(invocations: &[Invocation], paths: &PathPolicy, base: Option<&Path>) -> Needs {
    let mut needs = Needs::default();
    for inv in invocations {
        // A program named by a path (`./x`, `~/.local/bin/x`, or a literal
        // such as `.env` found in inline code) is a file it reads too.
        let argv0 = inv
            .argv
            .first()
            .map(String::as_str)
            .filter(|w| w.contains('/') || w.starts_with(['.', '~', '$']));
        let reads = argv0
            .into_iter()
            .chain(exec_path_words(&inv.argv))
            .chain(inv.reads.iter().map(String::as_str));
        for word in reads {
            let p = paths.ctx.resolve(word, base);
            let checkable = !unresolvable(word) || word.contains("/proc/");
            if checkable && paths.is_deny_read(&p) && !needs.secret_reads.contains(&p) {
                needs.secret_reads.push(p.clone());
            }
            needs.mentioned.push(p);
        }
        for name in credential_variables(&inv.argv) {
            if !needs.credential_variables.contains(&name) {
                needs.credential_variables.push(name);
            }
        }
        let targets = inv
            .writes
            .iter()
            .map(String::as_str)
            .chain(write_operands(&inv.argv));
        for target in targets {
            if harmless_device(target) || in_private_tmp(target) {
                continue;
            }
            if unresolvable(target) {
                needs.unknown_writes.push(target.to_owned());
                continue;
            }
            let p = paths.ctx.resolve_real(target, base);
            if paths.write_target(&p) != WriteTarget::Inside && !needs.writes.contains(&p) {
                needs.writes.push(p);
            }
        }
    }
    needs
}

/// Expansions warden does not evaluate (`$HOME` and `~` it does).
fn unresolvable(word: &str) -> bool {
    let without_home = word
        .strip_prefix("$HOME")
        .or_else(|| word.strip_prefix("${HOME}"))
        .unwrap_or(word);
    without_home.contains('$') || without_home.contains('`') || without_home == "$?"
}

/// `$TMPDIR/…` is the sandbox's private, writable temporary directory.
fn in_private_tmp(target: &str) -> bool {
    ["$TMPDIR", "${TMPDIR}", "$TMP", "${TMP}", "$TEMP", "${TEMP}"]
        .iter()
        .any(|v| {
            target.strip_prefix(v).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with('/') && !rest.contains("..")
            })
        })
}

fn harmless_device(target: &str) -> bool {
    matches!(
        target,
        "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "-"
    ) || target.starts_with("/dev/fd/")
}

/// `$NAME` / `${NAME}` expansions of credential-like names anywhere in the
/// argv, and the operands of `printenv`.
fn credential_variables(argv: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let program = argv
        .first()
        .map(|p| super::command_rules::basename(p))
        .unwrap_or("");
    for (i, word) in argv.iter().enumerate() {
        if program == "printenv" && i > 0 && !word.starts_with('-') && credential_name(word) {
            out.push(word.clone());
        }
        let mut rest = word.as_str();
        while let Some(at) = rest.find('$') {
            rest = &rest[at + 1..];
            let braced = rest.starts_with('{');
            let name_start = usize::from(braced);
            let name: String = rest[name_start..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if credential_name(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Environment-variable style (no lower case) and credential-like.
fn credential_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_ascii_lowercase()) && is_credential_name(name)
}

/// The files a program writes, from its argv (operands as written).
fn write_operands(argv: &[String]) -> Vec<&str> {
    let Some(first) = argv.first() else {
        return Vec::new();
    };
    let program = super::command_rules::basename(first);
    let args = &argv[1..];
    let operands = || {
        args.iter()
            .map(String::as_str)
            .filter(|w| !w.starts_with('-'))
            .collect::<Vec<_>>()
    };
    match program {
        "tee" | "touch" | "mkdir" | "rmdir" | "truncate" | "rm" | "unlink" | "shred" => operands(),
        "cp" | "mv" | "install" | "ln" => {
            if let Some(dir) = value_of(args, &["-t", "--target-directory"]) {
                return vec![dir];
            }
            let ops = operands();
            if ops.len() >= 2 {
                ops.last().copied().into_iter().collect()
            } else {
                Vec::new()
            }
        }
        "chmod" | "chown" | "chgrp" => operands().into_iter().skip(1).collect(),
        "sed" | "gsed" | "perl" if args.iter().any(|w| is_in_place(w)) => {
            // The first operand is the script unless `-e` gives it.
            let skip = usize::from(!args.iter().any(|w| w == "-e" || w == "--expression"));
            operands().into_iter().skip(skip).collect()
        }
        "dd" => args.iter().filter_map(|w| w.strip_prefix("of=")).collect(),
        "curl" => value_of(args, &["-o", "--output"]).into_iter().collect(),
        "wget" => value_of(args, &["-O", "--output-document"])
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

fn is_in_place(w: &str) -> bool {
    w == "--in-place"
        || w.starts_with("--in-place=")
        || (w.starts_with("-i") && !w.starts_with("--"))
        || (w.starts_with("-p") && w.contains('i') && !w.starts_with("--"))
}

/// The value of `-o VALUE`, `-oVALUE` or `--output=VALUE` / `--output VALUE`.
fn value_of<'a>(args: &'a [String], names: &[&str]) -> Option<&'a str> {
    for (i, w) in args.iter().enumerate() {
        for name in names {
            if w == name {
                return args.get(i + 1).map(String::as_str);
            }
            if let Some(v) = w.strip_prefix(name) {
                if let Some(v) = v.strip_prefix('=') {
                    return Some(v);
                }
                if !name.starts_with("--") && !v.is_empty() {
                    return Some(v);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SandboxMode;
    use crate::policy::paths::{PathContext, PathSet};
    use crate::policy::wrappers::analyze_exec;

    fn policy(mode: SandboxMode) -> PathPolicy {
        let ctx = PathContext {
            workspace: PathBuf::from("/ws"),
            home: PathBuf::from("/home/u"),
        };
        PathPolicy {
            mode,
            deny_read: PathSet::new(&["~/.ssh".into(), "**/.env".into()], &ctx).unwrap(),
            protected: PathSet::new(&[".git".into()], &ctx).unwrap(),
            writable_roots: match mode {
                SandboxMode::ReadOnly => vec![],
                _ => vec![PathBuf::from("/ws")],
            },
            ctx,
        }
    }

    fn needs(script: &str, mode: SandboxMode) -> Needs {
        let a = analyze_exec(&["bash".into(), "-c".into(), script.into()]);
        predict(&a.invocations, &policy(mode), None)
    }

    const WS: SandboxMode = SandboxMode::WorkspaceWrite;

    #[test]
    fn routine_commands_need_nothing() {
        for s in [
            "cargo test",
            "cargo test 2>&1 | tee test.log",
            "cp src/a.rs src/b.rs",
            "cargo build >/dev/null 2>&1",
            "rm -f target/x.log",
            "sed -i s/a/b/ src/lib.rs",
            "echo $HOME",
            "git commit -m 'rotate the token'",
            "cargo test > \"$TMPDIR/test.log\"",
            "git commit -F - <<'EOF'\nFix the .env loader\nEOF",
        ] {
            let n = needs(s, WS);
            assert!(n.is_empty(), "{s}: {n:?}");
        }
    }

    #[test]
    fn secret_reads() {
        assert_eq!(
            needs("cat ~/.ssh/id_rsa", WS).secret_reads,
            vec![PathBuf::from("/home/u/.ssh/id_rsa")]
        );
        assert_eq!(
            needs("grep KEY < app/.env", WS).secret_reads,
            vec![PathBuf::from("/ws/app/.env")]
        );
    }

    #[test]
    fn credential_variables_are_found() {
        assert_eq!(
            needs("curl -H \"token ${GITHUB_TOKEN}\" x", WS).credential_variables,
            vec!["GITHUB_TOKEN".to_owned()]
        );
        assert_eq!(
            needs("printenv AWS_SECRET_ACCESS_KEY", WS).credential_variables,
            vec!["AWS_SECRET_ACCESS_KEY".to_owned()]
        );
        // Lower-case shell variables are not environment credentials.
        assert!(needs("echo $token", WS).credential_variables.is_empty());
    }

    #[test]
    fn writes_outside_or_protected_or_unknown() {
        assert_eq!(
            needs("echo x >> ~/.bashrc", WS).writes,
            vec![PathBuf::from("/home/u/.bashrc")]
        );
        assert_eq!(
            needs("cp evil.sh .git/hooks/pre-commit", WS).writes,
            vec![PathBuf::from("/ws/.git/hooks/pre-commit")]
        );
        assert_eq!(
            needs("curl -s x -o .git/hooks/x", WS).writes,
            vec![PathBuf::from("/ws/.git/hooks/x")]
        );
        assert_eq!(
            needs("echo A=1 >> \"$GITHUB_ENV\"", WS).unknown_writes,
            vec!["$GITHUB_ENV".to_owned()]
        );
        // Every write leaves a read-only sandbox.
        assert_eq!(
            needs("cargo test > out.log", SandboxMode::ReadOnly).writes,
            vec![PathBuf::from("/ws/out.log")]
        );
    }
}
