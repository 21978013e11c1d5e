//! The write-ahead audit log writer: one JSONL file per run, each record
//! chained to the previous one by SHA-256, each append written in one
//! `write` and flushed to disk (`fdatasync`) before it returns.
//!
//! The caller writes a decision with [`AuditLog::append`] *before* running
//! the action, so a crash can lose an action's result but never the decision
//! that allowed it. A failed append poisons the writer: every later append
//! fails too, because a gap would break the chain and the caller must stop
//! running actions it can no longer record.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::event::{Event, GENESIS_PREV, SCHEMA_VERSION};

/// Bytes of command output kept in an `executed` record (after redaction).
pub const MAX_OUTPUT_EXCERPT: usize = 4096;

/// The writer of one run's audit log.
pub struct AuditLog {
    file: File,
    path: PathBuf,
    run_id: String,
    next_seq: u64,
    prev: String,
    turn: Option<u32>,
    poisoned: bool,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("run_id", &self.run_id)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

/// A new run id: UTC time and 32 random bits, `20261105T101500Z-9f3a61c2`.
/// Safe to use as a file name.
pub fn new_run_id() -> String {
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let compact: String = now.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}-{:08x}", fastrand::u32(..))
}

/// The envelope as written: header fields first, then the event's tag and
/// fields, so a line reads in order.
#[derive(Serialize)]
struct Line<'a> {
    v: u32,
    seq: u64,
    ts: &'a str,
    run_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    turn: Option<u32>,
    prev: &'a str,
    event: &'a str,
    #[serde(flatten)]
    fields: &'a serde_json::Map<String, serde_json::Value>,
}

impl AuditLog {
    /// Create the log at `path` (and its directory). Refuses to touch an
    /// existing file: one file per run, never appended to by another run.
    pub fn create(path: impl AsRef<Path>, run_id: &str) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        if run_id.is_empty()
            || !run_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("run id {run_id:?} may only contain letters, digits, '.', '_' and '-'"),
            ));
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&dir).map_err(|e| with_path(e, "creating", &dir))?;
        let mut options = OpenOptions::new();
        options.append(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options
            .open(&path)
            .map_err(|e| with_path(e, "creating", &path))?;
        // The new directory entry must survive a crash too.
        #[cfg(unix)]
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(AuditLog {
            file,
            path,
            run_id: run_id.to_owned(),
            next_seq: 1,
            prev: GENESIS_PREV.to_owned(),
            turn: None,
            poisoned: false,
        })
    }

    /// Redact, chain, write and flush one event. Returns only once the record
    /// (and every buffered record before it) is on disk; after an error the
    /// log refuses further appends.
    pub fn append(&mut self, event: Event) -> io::Result<()> {
        self.write_record(&event, true)
    }

    /// Redact, chain and write one event without waiting for the disk. For
    /// records whose loss in a power failure loses no decision (proposals,
    /// execution results): the next [`append`](Self::append) or
    /// [`sync`](Self::sync) makes them durable, and a killed process loses
    /// nothing (the bytes are in the kernel). Decisions always use `append`.
    pub fn append_buffered(&mut self, event: Event) -> io::Result<()> {
        self.write_record(&event, false)
    }

    /// Flush everything written so far to disk.
    pub fn sync(&mut self) -> io::Result<()> {
        self.check_poisoned()?;
        if let Err(e) = self.file.sync_data() {
            self.poisoned = true;
            return Err(with_path(e, "flushing", &self.path));
        }
        Ok(())
    }

    fn check_poisoned(&self) -> io::Result<()> {
        if self.poisoned {
            return Err(io::Error::other(format!(
                "{}: an earlier write failed; the audit log cannot be continued",
                self.path.display()
            )));
        }
        Ok(())
    }

    fn write_record(&mut self, event: &Event, sync: bool) -> io::Result<()> {
        self.check_poisoned()?;
        if let Event::TurnStarted { number } = event {
            self.turn = Some(*number);
        }
        let line = self.encode(event)?;
        let digest = hex::encode(Sha256::digest(&line));
        let mut bytes = line;
        bytes.push(b'\n');
        let mut written = self.file.write_all(&bytes);
        if sync && written.is_ok() {
            written = self.file.sync_data();
        }
        if let Err(e) = written {
            self.poisoned = true;
            return Err(with_path(e, "writing", &self.path));
        }
        self.prev = digest;
        self.next_seq += 1;
        Ok(())
    }

    fn encode(&self, event: &Event) -> io::Result<Vec<u8>> {
        let mut value = serde_json::to_value(event).map_err(io::Error::other)?;
        crate::redact::redact_json(&mut value);
        let serde_json::Value::Object(mut fields) = value else {
            return Err(io::Error::other("audit events serialize to JSON objects"));
        };
        fields.remove("event");
        if let Some(serde_json::Value::String(excerpt)) = fields.get_mut("output_excerpt") {
            truncate_excerpt(excerpt);
        }
        let ts = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let line = Line {
            v: SCHEMA_VERSION,
            seq: self.next_seq,
            ts: &ts,
            run_id: &self.run_id,
            turn: self.turn,
            prev: &self.prev,
            event: event.name(),
            fields: &fields,
        };
        serde_json::to_vec(&line).map_err(io::Error::other)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// SHA-256 of the last record written (the chain head), or
    /// [`GENESIS_PREV`] before the first. Publishing it elsewhere (check run,
    /// job summary) is what makes removing the tail of the log detectable.
    pub fn head(&self) -> &str {
        &self.prev
    }

    /// Number of records written so far.
    pub fn len(&self) -> u64 {
        self.next_seq - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Cut an excerpt to [`MAX_OUTPUT_EXCERPT`] bytes on a character boundary.
/// Runs after redaction, so a secret cut in half was already replaced whole.
fn truncate_excerpt(excerpt: &mut String) {
    if excerpt.len() <= MAX_OUTPUT_EXCERPT {
        return;
    }
    let mut cut = MAX_OUTPUT_EXCERPT;
    while !excerpt.is_char_boundary(cut) {
        cut -= 1;
    }
    excerpt.truncate(cut);
    excerpt.push_str("…[truncated]");
}

fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("{what} audit log {}: {e}", path.display()),
    )
}
