//! The audit trail: a hash-chained, write-ahead JSONL log per run, and what
//! is computed from it.
//!
//! - [`event`]: the record schema (one [`Record`] per line).
//! - [`location`]: where logs go by default (warden's state directory,
//!   one subdirectory per workspace, outside every command's reach).
//! - [`log`]: the writer ([`AuditLog::append`] redacts, chains, writes and
//!   fsyncs before returning).
//! - [`shared`]: [`SharedLog`], one run's log shared by the judge and the
//!   run around it.
//! - [`verify`]: reading and chain verification ([`read_log`],
//!   [`verify_file`]), telling a torn last write from tampering.
//! - [`summary`]: [`AuditSummary`], the one input of every report.
//! - [`stats`]: policy statistics across runs (`warden audit stats`), and
//!   [`stats_text`], their human-readable form.

pub mod event;
pub mod location;
pub mod log;
pub mod shared;
pub mod stats;
pub mod stats_text;
pub mod summary;
pub mod verify;

pub use event::{Event, GENESIS_PREV, Record, SCHEMA_VERSION};
pub use location::{default_audit_dir, default_log_path};
pub use log::{AuditLog, new_run_id};
pub use shared::SharedLog;
pub use summary::AuditSummary;
pub use verify::{AuditReadError, BrokenChain, Verified, read_log, verify_bytes, verify_file};
