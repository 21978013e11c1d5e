//! One run's audit log shared between its writers: the judge (proposals,
//! decisions, overrides, breaker trips) and the run around it (turns,
//! executions, MCP server events, the end). A decision from another thread
//! (a proxy deciding one CONNECT) appends to the same chain.
//!
//! Each call holds the lock for one record (or one fsync), so records keep
//! the order of the calls and the chain has no gaps. A writer that panicked
//! while holding the lock leaves the log unusable: every later call fails,
//! like a poisoned [`AuditLog`], and nothing more runs without a record.
//! It imports only the rest of `audit`.

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{AuditLog, Event};

/// A cloneable handle on one [`AuditLog`].
#[derive(Debug, Clone)]
pub struct SharedLog {
    log: Arc<Mutex<AuditLog>>,
    run_id: Arc<str>,
    path: Arc<PathBuf>,
}

impl SharedLog {
    pub fn new(log: AuditLog) -> Self {
        SharedLog {
            run_id: log.run_id().into(),
            path: Arc::new(log.path().to_path_buf()),
            log: Arc::new(Mutex::new(log)),
        }
    }

    /// [`AuditLog::append`]: on disk (fsync) before it returns.
    pub fn append(&self, event: Event) -> io::Result<()> {
        self.lock()?.append(event)
    }

    /// [`AuditLog::append_buffered`]: in the file, durable at the next
    /// [`append`](Self::append) or [`sync`](Self::sync).
    pub fn append_buffered(&self, event: Event) -> io::Result<()> {
        self.lock()?.append_buffered(event)
    }

    /// [`AuditLog::sync`].
    pub fn sync(&self) -> io::Result<()> {
        self.lock()?.sync()
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn lock(&self) -> io::Result<MutexGuard<'_, AuditLog>> {
        self.log.lock().map_err(|_| {
            io::Error::other("the audit log's writer panicked; nothing more can be recorded")
        })
    }
}
