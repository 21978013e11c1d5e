//! What an MCP server writes, before anything trusts it.
//!
//! stdout: every line must be one JSON-RPC 2.0 message. rmcp silently drops
//! lines it cannot parse, so a server that answers with garbage would look
//! like a server that hangs. [`filter_stdout`] sits between the server and
//! rmcp: it forwards well-formed messages, counts and records malformed
//! ones (so a timeout can say "the server wrote 2 malformed messages"), and
//! bounds a line at [`MAX_MESSAGE_BYTES`] so a server cannot exhaust memory.
//!
//! stderr: [`log_stderr`] sends each line to warden's log (tracing, target
//! `warden::mcp`), redacted, and keeps the last few lines so a crash report
//! can quote them.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader, DuplexStream};

use super::{EventSink, ServerEvent};
use crate::redact::Redactor;

/// Largest message accepted from a server (rmcp's own stdio limit).
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
/// Longest stderr line kept; the rest of the line is dropped.
pub const MAX_STDERR_LINE: usize = 4096;
/// stderr lines kept for crash reports.
pub const STDERR_TAIL_LINES: usize = 8;
/// Malformed messages recorded in the audit log per server (all are logged).
const MALFORMED_EVENTS: u64 = 3;
/// Characters of a malformed line quoted in events and errors.
const EXCERPT_CHARS: usize = 120;

/// Malformed output seen from one server.
#[derive(Debug, Default)]
pub struct WireStats {
    malformed: AtomicU64,
    first: Mutex<Option<String>>,
}

impl WireStats {
    /// Malformed messages so far.
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }

    /// "the server wrote 2 malformed messages (first: `…`)", or `None`.
    pub fn describe_since(&self, before: u64) -> Option<String> {
        let n = self.malformed().saturating_sub(before);
        if n == 0 {
            return None;
        }
        let first = self.first.lock().ok().and_then(|f| f.clone());
        Some(format!(
            "the server wrote {n} malformed message{} on stdout (first: {})",
            if n == 1 { "" } else { "s" },
            first.unwrap_or_default()
        ))
    }

    fn record(&self, excerpt: String) -> u64 {
        if let Ok(mut first) = self.first.lock()
            && first.is_none()
        {
            *first = Some(excerpt);
        }
        self.malformed.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// The last lines a server wrote to stderr (redacted).
#[derive(Debug)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
    /// True once stderr reached EOF (every line is in).
    closed: tokio::sync::watch::Sender<bool>,
}

impl Default for StderrTail {
    fn default() -> Self {
        StderrTail {
            lines: Mutex::default(),
            closed: tokio::sync::watch::Sender::new(false),
        }
    }
}

impl StderrTail {
    /// The kept lines, oldest first, joined with ` | `; `None` when empty.
    pub fn describe(&self) -> Option<String> {
        let lines = self.lines.lock().ok()?;
        (!lines.is_empty()).then(|| lines.iter().cloned().collect::<Vec<_>>().join(" | "))
    }

    /// Wait up to `limit` for stderr to reach EOF (after the process ended,
    /// so a crash report has its last words).
    pub async fn wait_closed(&self, limit: std::time::Duration) {
        let mut rx = self.closed.subscribe();
        let _ = tokio::time::timeout(limit, rx.wait_for(|c| *c)).await;
    }

    fn push(&self, line: String) {
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == STDERR_TAIL_LINES {
                lines.pop_front();
            }
            lines.push_back(line);
        }
    }
}

/// Text of a server line, safe to show: redacted and shortened.
pub fn excerpt(bytes: &[u8], redactor: &Redactor, chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = crate::redact::redact(&redactor.redact(text.trim_end()));
    let mut out: String = text.chars().take(chars).collect();
    if text.chars().count() > chars {
        out.push('…');
    }
    format!("{out:?}")
}

/// Whether a line is one JSON-RPC 2.0 message (an object with
/// `"jsonrpc": "2.0"`). Batches were removed from MCP in 2025-06.
fn is_message(line: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        jsonrpc: &'a str,
    }
    serde_json::from_slice::<Envelope>(line).is_ok_and(|e| e.jsonrpc == "2.0")
}

/// One line read with a bound.
enum Line {
    Complete,
    TooLong(usize),
    Eof,
}

/// Read a `\n`-terminated line into `buf` (cleared first), never holding
/// more than `max` bytes; the rest of a longer line is consumed and dropped.
async fn read_line<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut total = 0usize;
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(if total == 0 {
                Line::Eof
            } else if total > max {
                Line::TooLong(total)
            } else {
                Line::Complete
            });
        }
        let newline = available.iter().position(|b| *b == b'\n');
        let take = newline.map_or(available.len(), |i| i + 1);
        if total + take <= max {
            buf.extend_from_slice(&available[..take]);
        } else if total <= max {
            let room = max - total;
            buf.extend_from_slice(&available[..room.min(take)]);
        }
        total += take;
        r.consume(take);
        if newline.is_some() {
            return Ok(if total > max {
                Line::TooLong(total)
            } else {
                Line::Complete
            });
        }
    }
}

/// Forward well-formed messages from `stdout` to the returned stream (read
/// it with rmcp); record malformed ones. The stream ends when stdout does.
pub fn filter_stdout<R>(
    server: String,
    stdout: R,
    stats: std::sync::Arc<WireStats>,
    redactor: std::sync::Arc<Redactor>,
    events: EventSink,
) -> DuplexStream
where
    R: AsyncRead + Unpin + Send + 'static,
{
    let (rmcp_side, mut ours) = tokio::io::duplex(256 * 1024);
    tokio::spawn(async move {
        let mut reader = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            let excerpt = match read_line(&mut reader, &mut buf, MAX_MESSAGE_BYTES).await {
                Ok(Line::Eof) | Err(_) => break,
                Ok(Line::TooLong(n)) => format!("a line of {n} bytes (limit {MAX_MESSAGE_BYTES})"),
                Ok(Line::Complete) => {
                    let line = buf.trim_ascii();
                    if line.is_empty() {
                        continue;
                    }
                    if is_message(line) {
                        let mut msg = line.to_vec();
                        msg.push(b'\n');
                        if ours.write_all(&msg).await.is_err() {
                            break; // rmcp is gone: the connection is closing
                        }
                        continue;
                    }
                    excerpt(line, &redactor, EXCERPT_CHARS)
                }
            };
            let n = stats.record(excerpt.clone());
            tracing::warn!(target: "warden::mcp", server = %server, "malformed message on stdout: {excerpt}");
            if n <= MALFORMED_EVENTS {
                events.push(ServerEvent {
                    server: server.clone(),
                    status: "malformed_message".into(),
                    detail: format!("not a JSON-RPC 2.0 message: {excerpt}"),
                });
            }
        }
        let _ = ours.shutdown().await;
    });
    rmcp_side
}

/// Log every stderr line of a server (redacted) and keep the last few.
pub fn log_stderr<R>(
    server: String,
    stderr: R,
    tail: std::sync::Arc<StderrTail>,
    redactor: std::sync::Arc<Redactor>,
) where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        loop {
            match read_line(&mut reader, &mut buf, MAX_STDERR_LINE).await {
                Ok(Line::Eof) | Err(_) => break,
                Ok(Line::Complete | Line::TooLong(_)) => {}
            }
            let raw = String::from_utf8_lossy(&buf);
            let line = crate::redact::redact(&redactor.redact(raw.trim_end()));
            if line.is_empty() {
                continue;
            }
            tracing::info!(target: "warden::mcp", server = %server, "stderr: {line}");
            tail.push(line);
        }
        tail.closed.send_replace(true);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn only_jsonrpc_objects_are_messages() {
        assert!(is_message(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#));
        assert!(!is_message(br#"{"jsonrpc":"1.0","id":1}"#));
        assert!(!is_message(br#"[{"jsonrpc":"2.0","id":1}]"#));
        assert!(!is_message(b"hello"));
        assert!(!is_message(br#"{"half": "#));
    }

    #[tokio::test]
    async fn lines_are_bounded() {
        let data = format!("{}\nshort\n", "x".repeat(100));
        let mut r = BufReader::with_capacity(7, data.as_bytes());
        let mut buf = Vec::new();
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::TooLong(101)
        ));
        assert!(buf.len() <= 10);
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"short\n");
        assert!(matches!(
            read_line(&mut r, &mut buf, 10).await.unwrap(),
            Line::Eof
        ));
    }

    #[tokio::test]
    async fn filter_forwards_messages_and_counts_garbage() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\nnot json ghp_abcdefghijklmnopqrstuvwxyz0123456789\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n";
        let stats = std::sync::Arc::new(WireStats::default());
        let events = EventSink::default();
        let mut out = filter_stdout(
            "s".into(),
            &input[..],
            stats.clone(),
            std::sync::Arc::new(Redactor::without_env()),
            events.clone(),
        );
        let mut forwarded = String::new();
        out.read_to_string(&mut forwarded).await.unwrap();
        assert_eq!(
            forwarded,
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n"
        );
        assert_eq!(stats.malformed(), 1);
        let why = stats.describe_since(0).unwrap();
        assert!(why.contains("1 malformed message"), "{why}");
        assert!(!why.contains("ghp_"), "secrets are redacted: {why}");
        let recorded = events.take();
        assert_eq!(recorded.len(), 1);
        assert_eq!(recorded[0].status, "malformed_message");
        assert_eq!(stats.describe_since(1), None);
    }
}
