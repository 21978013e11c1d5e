//! `warden audit verify` (check one log's hash chain) and `warden audit
//! stats` (policy statistics across many runs).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use serde_json::json;

use super::GlobalArgs;
use crate::audit::stats::{DEFAULT_TOP, StatsBuilder};
use crate::audit::stats_text::format_stats;
use crate::audit::{AuditReadError, AuditSummary, verify_file};
use crate::error::{Error, ExitStatus};
use crate::redact::redact;

const VERIFY_HELP: &str = "\
Checks that every record parses, that records are numbered 1, 2, 3 … in
order, that each record's \"prev\" is the SHA-256 of the line before it, and
that all belong to one run starting with run_started.

A last line cut short by a crash or SIGKILL (no final newline) is reported as
a torn write and does not fail verification: the records before it are
intact. Removing whole records from the end is only detectable against the
chain head published by the run (check run, job summary): pass it as --head.

Without FILE, the newest log of the workspace (--cwd, else the current
directory) in warden's state directory is verified:
$XDG_STATE_HOME/warden/audit/<workspace>-<hash>/, else
~/.local/state/warden/audit/<workspace>-<hash>/ (where `warden run` writes
when --audit is not given).

Exit codes: 0 intact · 1 broken (the first bad record is named), or the head
differs from --head · 2 the file cannot be read, or no log was found

Examples:
  warden audit verify
  warden audit verify ~/.local/state/warden/audit/app-3f2a9c0d51e7b8aa/20261105T101500Z-9f3a61c2.jsonl
  warden audit verify run.jsonl --head 3f2a9c0d51e7b8aa";

const STATS_HELP: &str = "\
Across runs: rejection and override rates; auto-rejections vs rule denials vs
reviewer denials vs reviewer failures; rejections by category and by rule;
the most repeated rejected actions; the most often approved command prefixes,
each with a suggested [[command_rules]] entry; reviewer latency p50/p95;
cache hit rate; breaker trips; escalations per run.

Every log is verified first; a broken one stops the command (exit 1).
A directory stands for the *.jsonl files in it. Without FILE|DIR, the logs of
the workspace (--cwd, else the current directory) in warden's state
directory are read: $XDG_STATE_HOME/warden/audit/<workspace>-<hash>/, else
~/.local/state/warden/audit/<workspace>-<hash>/.

Examples:
  warden audit stats
  warden audit stats --cwd ../other-checkout
  warden audit stats runs/*.jsonl --json --top 20";

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain of an audit log.
    #[command(after_help = VERIFY_HELP)]
    Verify {
        /// Audit log [default: the workspace's newest, in warden's state
        /// directory].
        file: Option<PathBuf>,
        /// Expected chain head (SHA-256 of the last record, or a prefix of
        /// at least 12 hex digits), as published by the run.
        #[arg(long, value_name = "SHA256")]
        head: Option<String>,
        /// Machine-readable result on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Policy statistics across runs.
    #[command(after_help = STATS_HELP)]
    Stats {
        /// Audit logs, or directories of them [default: the workspace's
        /// directory in warden's state directory].
        #[arg(value_name = "FILE|DIR")]
        files: Vec<PathBuf>,
        /// Machine-readable statistics on stdout.
        #[arg(long)]
        json: bool,
        /// Rows in each "most frequent" list.
        #[arg(long, default_value_t = DEFAULT_TOP, value_name = "N")]
        top: usize,
    },
}

pub fn run(global: &GlobalArgs, cmd: AuditCommand) -> Result<ExitStatus, Error> {
    match cmd {
        AuditCommand::Verify { file, head, json } => {
            let file = match file {
                Some(f) => f,
                None => newest_default_log(global)?,
            };
            verify(&file, head.as_deref(), json)
        }
        AuditCommand::Stats { files, json, top } => {
            let files = match files.is_empty() {
                true => vec![default_dir_with_logs(global)?],
                false => files,
            };
            stats(&files, json, top)
        }
    }
}

/// The workspace's default audit directory, refused (exit 2) when it holds
/// no log.
fn default_dir_with_logs(global: &GlobalArgs) -> Result<PathBuf, Error> {
    let workspace = super::session::workspace(global)?;
    let dir = crate::audit::default_audit_dir(&workspace).map_err(Error::Usage)?;
    let logs = crate::audit::location::logs_in(&dir)
        .map_err(|e| Error::usage(format!("cannot list {}: {e}", dir.display())))?;
    if logs.is_empty() {
        return Err(Error::usage(format!(
            "no audit log of {} in {} (warden run writes there without --audit)\n  help: name \
             the log or its directory, or pass --cwd for another workspace",
            workspace.display(),
            dir.display()
        )));
    }
    Ok(dir)
}

/// The newest log in the workspace's default audit directory (what
/// `warden report` and `warden audit verify` read without a path).
pub(super) fn newest_default_log(global: &GlobalArgs) -> Result<PathBuf, Error> {
    let dir = default_dir_with_logs(global)?;
    let logs = crate::audit::location::logs_in(&dir)
        .map_err(|e| Error::usage(format!("cannot list {}: {e}", dir.display())))?;
    logs.into_iter()
        .next_back()
        .ok_or_else(|| Error::usage(format!("no audit log in {}", dir.display())))
}

fn verify(file: &Path, expected_head: Option<&str>, as_json: bool) -> Result<ExitStatus, Error> {
    if let Some(h) = expected_head
        && (h.len() < 12 || h.len() > 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(Error::usage(format!(
            "--head {h:?}: expected 12 to 64 hex digits of the chain head"
        )));
    }
    let verified = match verify_file(file) {
        Ok(v) => v,
        Err(e @ AuditReadError::Io { .. }) => return Err(Error::usage(e)),
        Err(AuditReadError::Broken { broken, .. }) => {
            if as_json {
                println!(
                    "{}",
                    json!({
                        "ok": false,
                        "file": file,
                        "broken": {
                            "record": broken.record,
                            "kind": format!("{:?}", broken.kind).to_lowercase(),
                            "detail": broken.detail,
                        },
                    })
                );
            } else {
                eprintln!(
                    "error: audit log {} is broken at record {}: {}",
                    file.display(),
                    broken.record,
                    redact(&broken.detail)
                );
            }
            return Ok(ExitStatus::Failure);
        }
    };
    let head_matches = expected_head.is_none_or(|h| verified.head.starts_with(&h.to_lowercase()));
    let records = verified.records.len();
    if as_json {
        println!(
            "{}",
            json!({
                "ok": head_matches,
                "file": file,
                "records": records,
                "head": verified.head,
                "head_matches": expected_head.map(|_| head_matches),
                "finished": verified.finished(),
                "torn_tail": verified.torn_tail.as_ref().map(|t| json!({
                    "record": t.record, "bytes": t.bytes,
                })),
            })
        );
    } else {
        let mut out = format!(
            "{}: {records} record{} intact, chain head {}",
            file.display(),
            if records == 1 { "" } else { "s" },
            verified.head
        );
        if let Some(t) = &verified.torn_tail {
            let _ = write!(
                out,
                "\nwarning: the last line is torn ({} bytes of record {} without a newline): \
                 the writer was interrupted mid-write (crash or kill); the records before it are intact",
                t.bytes, t.record
            );
        }
        if !verified.finished() {
            out.push_str(
                "\nnote: the log has no run_finished record: the run was interrupted, or records were removed from the end (compare the chain head with the one the run published)",
            );
        }
        println!("{out}");
        if !head_matches {
            eprintln!(
                "error: the chain head is {}, not {}: records were removed from the end, or this is not the log the run published",
                verified.head,
                expected_head.unwrap_or_default()
            );
        }
    }
    Ok(if head_matches {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn stats(inputs: &[PathBuf], as_json: bool, top: usize) -> Result<ExitStatus, Error> {
    let files = expand_inputs(inputs)?;
    let mut builder = StatsBuilder::default();
    for file in &files {
        match AuditSummary::load(file) {
            Ok(summary) => builder.add_run(&summary),
            Err(e @ AuditReadError::Io { .. }) => return Err(Error::usage(e)),
            Err(e @ AuditReadError::Broken { .. }) => {
                eprintln!("error: {}", redact(&e.to_string()));
                return Ok(ExitStatus::Failure);
            }
        }
    }
    let stats = builder.finish(top);
    if as_json {
        let mut value = serde_json::to_value(&stats).expect("stats serialize");
        crate::redact::redact_json(&mut value);
        println!(
            "{}",
            serde_json::to_string_pretty(&value).expect("JSON values serialize")
        );
    } else {
        print!("{}", redact(&format_stats(&stats)));
    }
    Ok(ExitStatus::Success)
}

/// Files as given, directories as their `*.jsonl` files (sorted).
fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input)
                .map_err(|e| Error::usage(format!("cannot list {}: {e}", input.display())))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && p.is_file())
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(Error::usage(format!(
                    "{} holds no *.jsonl audit logs",
                    input.display()
                )));
            }
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}
