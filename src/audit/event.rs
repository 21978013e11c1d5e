//! The audit event model: one [`Record`] per line of the JSONL log.
//!
//! A record is a small envelope (schema version, sequence number, timestamp,
//! run and turn ids, hash of the previous line) around one [`Event`], tagged
//! by `"event"`:
//!
//! ```json
//! {"v":1,"seq":3,"ts":"2026-11-05T10:15:00.123Z","run_id":"r-…","turn":1,
//!  "prev":"9f…","event":"decided","action_id":"a2","decision":{…},
//!  "denial_id":"D1","cache_hit":false,"latency_ms":412}
//! ```
//!
//! The schema is versioned by [`SCHEMA_VERSION`]; a reader refuses records of
//! a newer version rather than misreading them.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::decision::Decision;

/// Version of the record schema written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// `prev` of the first record: there is no previous line.
pub const GENESIS_PREV: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// 1 for the first record, then +1 per line: the line number.
    pub seq: u64,
    /// When the record was written (RFC 3339, UTC, milliseconds).
    pub ts: String,
    pub run_id: String,
    /// The turn the event belongs to (set by [`Event::TurnStarted`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    /// SHA-256 (hex) of the previous line's bytes, without its newline;
    /// [`GENESIS_PREV`] for the first record.
    pub prev: String,
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Every string in an event is redacted before it is written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The run began with this resolved configuration.
    RunStarted {
        profile: String,
        /// SHA-256 (hex) of the resolved configuration.
        config_digest: String,
        /// The task as given (redacted).
        prompt: String,
        workspace: String,
        warden_version: String,
        /// What the sandbox enforces on this kernel (Landlock ABI, seccomp,
        /// network, fallbacks taken).
        #[serde(default)]
        sandbox: serde_json::Value,
    },
    /// A model turn began; this record and later ones carry its number in
    /// the envelope's `turn`.
    TurnStarted { number: u32 },
    /// The agent asked for an action (`a1`, `a2`, …).
    ActionProposed {
        action_id: String,
        /// The tool call that carried it (`shell`, `apply_patch`, an MCP tool).
        tool: String,
        action: Action,
    },
    /// The pipeline decided; written (and fsynced) before anything runs.
    Decided {
        action_id: String,
        decision: Decision,
        /// `D1`, `D2`, … for a kept denial or escalation a human may
        /// override.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        denial_id: Option<String>,
        #[serde(default)]
        cache_hit: bool,
        /// Time to decide, reviewer included.
        #[serde(default)]
        latency_ms: u64,
    },
    /// What running an allowed action produced.
    Executed {
        action_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(default)]
        timed_out: bool,
        #[serde(default)]
        truncated: bool,
        #[serde(default)]
        duration_ms: u64,
        /// Operations the sandbox refused (Landlock/seccomp denials seen).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        refusals: Vec<String>,
        /// Guarded protected paths the command changed (a `.git` grant):
        /// each restored, or the run stopped.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        protected_changes: Vec<crate::sandbox::ProtectedChange>,
        /// The start of the output (redacted, bounded by the writer).
        #[serde(default)]
        output_excerpt: String,
    },
    /// The circuit breaker interrupted the turn (the envelope's `turn`).
    BreakerTripped {
        /// Denials in a row at the trip.
        consecutive: u32,
        /// Denials within the rolling window at the trip.
        in_window: u32,
        /// Size of the rolling window.
        window: u32,
        reason: String,
    },
    /// A human approved a kept denial (`--approve D2`, `/warden approve D2`).
    Overridden {
        denial_id: String,
        action_id: String,
        by: String,
    },
    /// An MCP server changed state (started, crashed, …).
    McpServer {
        server: String,
        status: String,
        #[serde(default)]
        detail: String,
    },
    /// A deny-read glob matches a file git tracks: its content is in
    /// `.git/objects`, readable by every command, whatever the sandbox
    /// hides (the file's name and the entry, never its content). Also
    /// written, with an empty `file`, when the tracked files could not be
    /// listed (`detail` says why).
    DenyReadTracked {
        file: String,
        entry: String,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        detail: String,
    },
    /// The run ended with this exit code.
    RunFinished {
        exit_code: i32,
        reason: String,
        /// Token usage and similar provider figures.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        usage: Option<serde_json::Value>,
    },
}

impl Event {
    /// The `"event"` tag of this event, as written.
    pub fn name(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::TurnStarted { .. } => "turn_started",
            Event::ActionProposed { .. } => "action_proposed",
            Event::Decided { .. } => "decided",
            Event::Executed { .. } => "executed",
            Event::BreakerTripped { .. } => "breaker_tripped",
            Event::Overridden { .. } => "overridden",
            Event::McpServer { .. } => "mcp_server",
            Event::DenyReadTracked { .. } => "deny_read_tracked",
            Event::RunFinished { .. } => "run_finished",
        }
    }
}
