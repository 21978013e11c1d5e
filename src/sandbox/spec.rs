//! The wire between warden and the supervisor of one command
//! ([`super::supervisor`], in a zygote fork or a `__sandbox-exec` process).
//!
//! warden writes one [`SupervisorSpec`] (length-prefixed JSON) into a pipe the
//! supervisor holds and keeps that pipe open: closing it is the
//! supervisor's signal to kill the command and everything it started
//! (timeouts, and warden dying). The supervisor answers with
//! [`SupervisorMessage`] JSON lines on a second pipe.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::enforcement::Enforcement;
use super::landlock_apply::LandlockFacts;
use crate::config::SandboxFallback;

/// Everything the supervisor needs; computed by warden when the sandbox starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SupervisorSpec {
    pub argv: Vec<String>,
    /// The command's working directory (absolute).
    pub cwd: PathBuf,
    /// The command's whole environment (already scrubbed by warden).
    pub env: Vec<(String, String)>,
    /// Apply Landlock and seccomp (false: `danger-full-access` or an
    /// `unsandboxed` grant; the environment is scrubbed either way).
    pub sandboxed: bool,
    pub deny_network: bool,
    pub fallback: SandboxFallback,
    /// The Landlock rulesets warden built, in the order they are enforced
    /// (their descriptors travel next to the spec: `SCM_RIGHTS` to the
    /// zygote, `--ruleset-fd` to a `__sandbox-exec` supervisor); empty when not sandboxed.
    pub landlock: Vec<LandlockFacts>,
}

/// What the supervisor reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SupervisorMessage {
    /// The sandbox is in place (possibly degraded, see the record).
    Enforced { enforcement: Enforcement },
    /// Fail closed: the kernel cannot enforce the sandbox.
    Refused { feature: String },
    /// The supervisor could not set things up (bad rule path, bad spec).
    SetupFailed { message: String },
    /// The command could not be started (not found, not executable).
    ExecFailed { message: String, code: i32 },
    /// The command ended.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
}

/// A length-prefixed JSON value.
pub fn framed<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let json = serde_json::to_vec(value)?;
    let mut out = Vec::with_capacity(8 + json.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

impl SupervisorMessage {
    /// The supervisor's last message for a command (nothing follows it).
    pub fn is_final(&self) -> bool {
        !matches!(self, SupervisorMessage::Enforced { .. })
    }
}

/// Write a length-prefixed JSON value.
pub fn write_framed<W: Write, T: Serialize>(mut w: W, value: &T) -> std::io::Result<()> {
    w.write_all(&framed(value)?)?;
    w.flush()
}

/// Largest spec accepted (a plan has thousands of rules at most).
const MAX_SPEC: u64 = 64 << 20;

/// Read one length-prefixed JSON value.
pub fn read_framed<R: Read, T: for<'de> Deserialize<'de>>(mut r: R) -> std::io::Result<T> {
    let mut len = [0u8; 8];
    r.read_exact(&mut len)?;
    let len = u64::from_le_bytes(len);
    if len > MAX_SPEC {
        return Err(std::io::Error::other(format!(
            "spec of {len} bytes is too large"
        )));
    }
    let mut buf = vec![0u8; len as usize];
    r.read_exact(&mut buf)?;
    serde_json::from_slice(&buf).map_err(std::io::Error::other)
}

impl SupervisorMessage {
    /// The one decoder of the supervisor's status lines (warden's side of
    /// `warden run` and of MCP servers both read through it): one JSON line
    /// without its newline, `None` for garbage, which is skipped (never
    /// trusted for more than reporting: the child cannot reach this pipe,
    /// it is close-on-exec).
    pub fn decode_line(line: &[u8]) -> Option<SupervisorMessage> {
        serde_json::from_slice(line).ok()
    }
}

/// Every message in the supervisor's status lines ([`SupervisorMessage::decode_line`]).
pub fn parse_messages(bytes: &[u8]) -> Vec<SupervisorMessage> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .filter_map(SupervisorMessage::decode_line)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_round_trips() {
        let spec = SupervisorSpec {
            argv: vec!["true".into()],
            cwd: PathBuf::from("/"),
            env: vec![("PATH".into(), "/bin".into())],
            sandboxed: true,
            deny_network: true,
            fallback: SandboxFallback::Refuse,
            landlock: vec![],
        };
        let mut buf = Vec::new();
        write_framed(&mut buf, &spec).unwrap();
        let back: SupervisorSpec = read_framed(buf.as_slice()).unwrap();
        assert_eq!(back.argv, spec.argv);
        assert_eq!(back.env, spec.env);
        let msgs = parse_messages(b"{\"type\":\"exited\",\"code\":3,\"signal\":null}\nnoise\n");
        assert_eq!(
            msgs,
            vec![SupervisorMessage::Exited {
                code: Some(3),
                signal: None
            }]
        );
    }

    #[test]
    fn one_decoder_for_status_lines() {
        let exited = SupervisorMessage::decode_line(br#"{"type":"exited","code":0,"signal":null}"#);
        assert!(exited.as_ref().is_some_and(SupervisorMessage::is_final));
        let enforced = serde_json::to_vec(&SupervisorMessage::Enforced {
            enforcement: Enforcement::default(),
        })
        .unwrap();
        let enforced = SupervisorMessage::decode_line(&enforced).unwrap();
        assert!(!enforced.is_final(), "more follows the sandbox report");
        for garbage in [
            &b""[..],
            b"noise",
            br#"{"type":"exited""#,
            br#"{"type":"other"}"#,
        ] {
            assert_eq!(SupervisorMessage::decode_line(garbage), None);
        }
    }
}
