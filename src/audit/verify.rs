//! Reading and verifying an audit log: every record parses, numbers run
//! 1, 2, 3 …, each `prev` is the SHA-256 of the line before it, and all
//! records belong to one run that starts with `run_started`.
//!
//! Two failures are told apart on purpose:
//!
//! - a **torn tail**: the file does not end with a newline, so the last
//!   write was cut short (crash, SIGKILL, full disk). Every record before it
//!   is intact; verification succeeds and reports the torn bytes.
//! - a **broken chain**: a complete line that fails a check. Records were
//!   altered, removed, inserted or reordered; verification fails and names
//!   the first bad record.
//!
//! Removing whole records from the end cannot be told from a run that
//! stopped early by the file alone; comparing the chain head with the one
//! published in the check run or job summary (`--head`) detects it.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::event::{Event, GENESIS_PREV, Record, SCHEMA_VERSION};

/// A log whose complete records all verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub records: Vec<Record>,
    /// SHA-256 of the last complete record ([`GENESIS_PREV`] when empty).
    pub head: String,
    /// Bytes after the last newline: an interrupted final write.
    pub torn_tail: Option<TornTail>,
}

impl Verified {
    /// Whether the run wrote its `run_finished` record.
    pub fn finished(&self) -> bool {
        matches!(
            self.records.last().map(|r| &r.event),
            Some(Event::RunFinished { .. })
        )
    }
}

/// An incomplete last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// The record number the torn line would have had.
    pub record: u64,
    pub bytes: usize,
}

/// Why a log does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenChain {
    /// The first record that is not as written (1-based, = line number).
    pub record: u64,
    pub kind: BreakKind,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakKind {
    /// A line is not a valid record.
    Malformed,
    /// A record's number is not its position.
    Sequence,
    /// A record does not hash to the next record's `prev`.
    Hash,
    /// A record belongs to another run, or the log does not start a run.
    Run,
    /// Written by a newer warden (not tampering: upgrade to read it).
    UnsupportedVersion,
}

impl fmt::Display for BrokenChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.record, self.detail)
    }
}

/// Errors of [`read_log`] and [`verify_file`].
#[derive(Debug, thiserror::Error)]
pub enum AuditReadError {
    #[error("cannot read audit log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "audit log {path} is broken at {broken}\n  help: the log was altered after it was written; run `warden audit verify {path}` for details"
    )]
    Broken { path: PathBuf, broken: BrokenChain },
}

/// Read and verify a log file; see [`verify_bytes`].
pub fn verify_file(path: &Path) -> Result<Verified, AuditReadError> {
    let bytes = std::fs::read(path).map_err(|source| AuditReadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    verify_bytes(&bytes).map_err(|broken| AuditReadError::Broken {
        path: path.to_path_buf(),
        broken,
    })
}

/// The verified records of a log (a torn tail is dropped).
pub fn read_log(path: &Path) -> Result<Vec<Record>, AuditReadError> {
    verify_file(path).map(|v| v.records)
}

/// Verify the contents of a log.
pub fn verify_bytes(bytes: &[u8]) -> Result<Verified, BrokenChain> {
    let (complete, tail) = match bytes.iter().rposition(|b| *b == b'\n') {
        Some(last_newline) => bytes.split_at(last_newline + 1),
        None => (&bytes[..0], bytes),
    };
    let mut records = Vec::new();
    let mut prev = GENESIS_PREV.to_owned();
    let mut run_id: Option<String> = None;
    // `complete` is empty or ends with '\n': the last split piece is empty.
    let mut lines: Vec<&[u8]> = complete.split(|b| *b == b'\n').collect();
    lines.pop();
    for (index, line) in lines.into_iter().enumerate() {
        let number = index as u64 + 1;
        let record = check_line(number, line, &prev, run_id.as_deref())?;
        if run_id.is_none() {
            run_id = Some(record.run_id.clone());
        }
        prev = hex::encode(Sha256::digest(line));
        records.push(record);
    }
    let torn_tail = (!tail.is_empty()).then(|| TornTail {
        record: records.len() as u64 + 1,
        bytes: tail.len(),
    });
    Ok(Verified {
        records,
        head: prev,
        torn_tail,
    })
}

fn check_line(
    number: u64,
    line: &[u8],
    expected_prev: &str,
    run_id: Option<&str>,
) -> Result<Record, BrokenChain> {
    let broken = |kind, detail: String| BrokenChain {
        record: number,
        kind,
        detail,
    };
    if line.is_empty() {
        return Err(broken(BreakKind::Malformed, "empty line".into()));
    }
    // One parse in the common case; only a line that is not a current
    // record is parsed again to say why (a newer schema is not tampering).
    let record = match serde_json::from_slice::<Record>(line) {
        Ok(record) if record.v == SCHEMA_VERSION => record,
        Ok(record) => return Err(version_error(number, Some(u64::from(record.v)))),
        Err(e) => {
            let value: serde_json::Value = serde_json::from_slice(line)
                .map_err(|e| broken(BreakKind::Malformed, format!("not valid JSON ({e})")))?;
            let version = value.get("v").and_then(|v| v.as_u64());
            if version != Some(u64::from(SCHEMA_VERSION)) {
                return Err(version_error(number, version));
            }
            return Err(broken(
                BreakKind::Malformed,
                format!("not a valid record ({e})"),
            ));
        }
    };
    if record.seq != number {
        return Err(broken(
            BreakKind::Sequence,
            format!(
                "sequence number {} found at position {number}: records were removed, inserted or reordered",
                record.seq
            ),
        ));
    }
    if record.prev != expected_prev && number == 1 {
        return Err(broken(
            BreakKind::Hash,
            "its \"prev\" is not the all-zero value of a first record: the log's beginning was altered".into(),
        ));
    }
    if record.prev != expected_prev {
        // The record before this one is the one that no longer hashes to
        // what was chained.
        let altered = number - 1;
        return Err(BrokenChain {
            record: altered,
            kind: BreakKind::Hash,
            detail: format!(
                "its SHA-256 does not match the \"prev\" of record {number}: record {altered} was altered, or record {number} was replaced"
            ),
        });
    }
    match run_id {
        None if !matches!(record.event, Event::RunStarted { .. }) => {
            return Err(broken(
                BreakKind::Run,
                format!(
                    "the log starts with \"{}\", not \"run_started\": its beginning is missing",
                    record.event.name()
                ),
            ));
        }
        Some(id) if id != record.run_id => {
            return Err(broken(
                BreakKind::Run,
                format!("run id {:?} differs from the log's {id:?}", record.run_id),
            ));
        }
        _ => {}
    }
    Ok(record)
}

fn version_error(number: u64, version: Option<u64>) -> BrokenChain {
    match version {
        Some(v) if v > u64::from(SCHEMA_VERSION) => BrokenChain {
            record: number,
            kind: BreakKind::UnsupportedVersion,
            detail: format!(
                "schema version {v} is newer than this warden understands ({SCHEMA_VERSION}); upgrade warden to read it"
            ),
        },
        _ => BrokenChain {
            record: number,
            kind: BreakKind::Malformed,
            detail: "missing or invalid schema version \"v\"".into(),
        },
    }
}
