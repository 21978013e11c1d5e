//! Capturing a command's stdout and stderr under one shared byte budget.
//!
//! The first `limit` bytes (stdout and stderr together, in arrival order)
//! are kept; the rest is read and dropped so the command never blocks on a
//! full pipe, and the cut stream ends with a truncation marker. The last
//! few KiB of each stream are also kept apart, so refusal detection still
//! sees the error at the end of a long, truncated output.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

/// Bytes of each stream's tail kept for refusal detection.
pub const TAIL_BYTES: usize = 16 * 1024;

/// One captured stream.
#[derive(Debug, Default)]
pub struct Captured {
    pub kept: Vec<u8>,
    pub tail: Vec<u8>,
    pub truncated: bool,
}

impl Captured {
    /// The kept text, with the marker when bytes were dropped.
    pub fn text(&self, limit: usize) -> String {
        let mut s = String::from_utf8_lossy(&self.kept).into_owned();
        if self.truncated {
            if !s.ends_with('\n') && !s.is_empty() {
                s.push('\n');
            }
            s.push_str(&format!(
                "[warden: output truncated: the sandbox keeps {limit} bytes of stdout and stderr]\n"
            ));
        }
        s
    }

    pub fn tail_text(&self) -> String {
        String::from_utf8_lossy(&self.tail).into_owned()
    }
}

/// Read `stream` to the end, keeping what the shared `budget` allows.
pub async fn capture<R: AsyncRead + Unpin>(mut stream: R, budget: Arc<Mutex<usize>>) -> Captured {
    let mut out = Captured::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let chunk = &buf[..n];
        let take = {
            let mut left = budget.lock().unwrap_or_else(|e| e.into_inner());
            let take = chunk.len().min(*left);
            *left -= take;
            take
        };
        out.kept.extend_from_slice(&chunk[..take]);
        if take < chunk.len() {
            out.truncated = true;
        }
        out.tail.extend_from_slice(chunk);
        if out.tail.len() > TAIL_BYTES {
            let cut = out.tail.len() - TAIL_BYTES;
            out.tail.drain(..cut);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shared_budget_truncates_with_marker() {
        let budget = Arc::new(Mutex::new(10));
        let a = capture(&b"0123456"[..], budget.clone()).await;
        let b = capture(&b"abcdefgh"[..], budget.clone()).await;
        assert_eq!(a.kept, b"0123456");
        assert!(!a.truncated);
        assert_eq!(b.kept, b"abc");
        assert!(b.truncated);
        assert!(b.text(10).contains("[warden: output truncated"));
        assert_eq!(b.tail, b"abcdefgh");
    }
}
