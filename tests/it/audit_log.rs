//! The audit log writer and verifier: chaining, redaction, write-ahead
//! flushing, and `warden audit verify` telling tampering from a torn write.

use crate::workspace_support::warden_exe;

use crate::audit_support;

use std::path::Path;

use assert_cmd::Command;
use audit_support::*;
use predicates::prelude::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use warden::audit::verify::BreakKind;
use warden::audit::{
    AuditLog, AuditSummary, Event, GENESIS_PREV, read_log, verify_bytes, verify_file,
};

fn sample_log(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("audit").join("run-1.jsonl");
    write_log(&path, "run-1", sample_events());
    path
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn warden() -> Command {
    Command::new(warden_exe())
}

#[test]
fn records_are_numbered_and_chained_by_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let raw = lines(&path);
    let records = read_log(&path).unwrap();
    assert_eq!(records.len(), sample_events().len());
    let mut prev = GENESIS_PREV.to_owned();
    for (i, (record, line)) in records.iter().zip(&raw).enumerate() {
        assert_eq!(record.seq, i as u64 + 1);
        assert_eq!(record.run_id, "run-1");
        assert_eq!(record.prev, prev, "record {}", i + 1);
        assert!(record.ts.ends_with('Z') && record.ts.contains('T'));
        prev = hex::encode(Sha256::digest(line.as_bytes()));
    }
    // Records after turn_started carry the turn; the envelope fields come first.
    assert_eq!(records[0].turn, None);
    assert_eq!(records[2].turn, Some(1));
    assert!(raw[3].starts_with(r#"{"v":1,"seq":4,"ts":""#), "{}", raw[3]);
    assert!(raw[3].contains(r#""event":"decided""#));
}

#[test]
fn every_string_is_redacted_before_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(PLANTED_TOKEN), "planted token in the log");
    assert!(!text.contains("Plant3dT0ken"));
    // Redacted in the prompt, an argv word, MCP arguments and output.
    assert!(text.matches("[REDACTED]").count() >= 4, "{text}");
    // The log still reads as records (the action types survive redaction).
    let summary = AuditSummary::load(&path).unwrap();
    assert_eq!(summary.counts.deny, 2);
}

#[test]
fn an_append_is_on_disk_when_it_returns() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.jsonl");
    let mut log = AuditLog::create(&path, "wal").unwrap();
    for (i, event) in sample_events().into_iter().take(4).enumerate() {
        log.append(event).unwrap();
        // A separate reader (another process would see the same) finds the
        // record complete and the chain intact.
        let v = verify_file(&path).unwrap();
        assert_eq!(v.records.len(), i + 1);
        assert!(v.torn_tail.is_none());
        assert_eq!(v.head, log.head());
    }
    assert_eq!(log.len(), 4);
}

#[test]
fn buffered_appends_chain_like_synced_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("group.jsonl");
    let mut log = AuditLog::create(&path, "group").unwrap();
    for (i, event) in sample_events().into_iter().take(4).enumerate() {
        if i % 2 == 0 {
            log.append_buffered(event).unwrap();
        } else {
            log.append(event).unwrap();
        }
        // Buffered or not, the record is complete for any reader at once
        // (it is in the kernel); only power loss could drop an unsynced one.
        let v = verify_file(&path).unwrap();
        assert_eq!(v.records.len(), i + 1);
        assert_eq!(v.head, log.head());
    }
    log.sync().unwrap();
}

#[test]
fn a_log_is_never_overwritten_and_run_ids_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let before = std::fs::read(&path).unwrap();
    let err = AuditLog::create(&path, "run-2").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("run-1.jsonl"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let err = AuditLog::create(dir.path().join("x.jsonl"), "../evil").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn new_run_ids_are_unique_and_file_safe() {
    let a = warden::audit::new_run_id();
    let b = warden::audit::new_run_id();
    assert_ne!(a, b);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let ws = tempfile::tempdir().unwrap();
    let path = warden::audit::default_log_path(ws.path(), &a).unwrap();
    assert_eq!(path.file_name().unwrap(), format!("{a}.jsonl").as_str());
    assert_eq!(
        path.parent(),
        Some(
            warden::audit::default_audit_dir(ws.path())
                .unwrap()
                .as_path()
        )
    );
    // Outside the workspace: commands may write all of it.
    assert!(!path.starts_with(ws.path()), "{}", path.display());
}

#[test]
fn verify_accepts_an_intact_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let head = verify_file(&path).unwrap().head;
    warden()
        .args(["audit", "verify"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "{} records intact",
            sample_events().len()
        )))
        .stdout(predicate::str::contains(&head));
    warden()
        .args(["audit", "verify", "--head", &head[..16]])
        .arg(&path)
        .assert()
        .code(0);
}

fn assert_broken_at(path: &Path, record: u64) {
    warden()
        .args(["audit", "verify"])
        .arg(path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "broken at record {record}:"
        )));
}

#[test]
fn verify_names_a_modified_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let mut l = lines(&path);
    // Record 7 is D1's decision: turn the deny into an approve.
    assert!(l[6].contains(r#""outcome":"deny""#));
    l[6] = l[6].replace(r#""outcome":"deny""#, r#""outcome":"approve""#);
    write_lines(&path, &l);
    assert_broken_at(&path, 7);
    let broken = verify_bytes(&std::fs::read(&path).unwrap()).unwrap_err();
    assert_eq!(broken.kind, BreakKind::Hash);
}

#[test]
fn verify_names_a_deleted_record() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let mut l = lines(&path);
    l.remove(4);
    write_lines(&path, &l);
    assert_broken_at(&path, 5);
}

#[test]
fn verify_names_reordered_records() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let mut l = lines(&path);
    l.swap(8, 9);
    write_lines(&path, &l);
    assert_broken_at(&path, 9);
}

#[test]
fn verify_rejects_a_rewritten_chain_that_kept_hashes_but_not_numbers() {
    // Re-chaining after a deletion needs renumbering too; a forger who
    // recomputes every prev still has to rewrite every later record, which
    // the published head then exposes.
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let published = verify_file(&path).unwrap().head;
    let mut l = lines(&path);
    l.pop();
    write_lines(&path, &l);
    warden()
        .args(["audit", "verify", "--head", &published])
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("no run_finished"))
        .stderr(predicate::str::contains(
            "records were removed from the end",
        ));
}

#[test]
fn a_missing_beginning_or_a_foreign_record_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let mut l = lines(&path);
    l.remove(0);
    write_lines(&path, &l);
    assert_broken_at(&path, 1);

    let other = dir.path().join("other.jsonl");
    write_log(&other, "run-2", sample_events());
    let path = sample_log(&dir.path().join("again"));
    let mut l = lines(&path);
    l[3] = lines(&other)[3].clone();
    write_lines(&path, &l);
    assert_broken_at(&path, 3);
}

#[test]
fn a_torn_last_line_is_reported_as_such_not_as_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let bytes = std::fs::read(&path).unwrap();
    // Cut the last record in half (its newline gone).
    let last_start = bytes[..bytes.len() - 1]
        .iter()
        .rposition(|b| *b == b'\n')
        .unwrap()
        + 1;
    let cut = last_start + (bytes.len() - last_start) / 2;
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let records = sample_events().len();
    warden()
        .args(["audit", "verify"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(format!(
            "{} records intact",
            records - 1
        )))
        .stdout(predicate::str::contains(format!(
            "of record {records} without a newline"
        )))
        .stdout(predicate::str::contains("torn"));
    // A report still renders from the intact prefix, and says so.
    warden()
        .args(["report", "--audit"])
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::contains("last write torn"))
        .stdout(predicate::str::contains("interrupted"));
}

#[test]
fn a_newer_schema_is_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let mut l = lines(&path);
    l[0] = l[0].replacen(r#"{"v":1,"#, r#"{"v":2,"#, 1);
    write_lines(&path, &l);
    let broken = verify_bytes(&std::fs::read(&path).unwrap()).unwrap_err();
    assert_eq!(broken.kind, BreakKind::UnsupportedVersion);
    assert!(broken.detail.contains("upgrade warden"));
}

#[test]
fn unreadable_logs_are_usage_errors() {
    warden()
        .args(["audit", "verify", "/nonexistent/warden/log.jsonl"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot read audit log"));
    warden()
        .args(["audit", "verify", "--head", "xyz", "/nonexistent"])
        .assert()
        .code(2);
}

#[test]
fn verify_json_output() {
    let dir = tempfile::tempdir().unwrap();
    let path = sample_log(dir.path());
    let out = warden()
        .args(["audit", "verify", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["finished"], true);
    assert_eq!(v["records"], sample_events().len());
    let mut l = lines(&path);
    l.swap(2, 3);
    write_lines(&path, &l);
    let out = warden()
        .args(["audit", "verify", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["broken"]["record"], 3);
    assert_eq!(v["broken"]["kind"], "sequence");
}

/// One sample log's bytes, written once for all property cases.
fn sample_bytes() -> Vec<u8> {
    static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BYTES
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::read(sample_log(dir.path())).unwrap()
        })
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Cutting the file anywhere (a crash at any byte) leaves a log that
    /// verifies, with exactly the complete lines as records.
    #[test]
    fn any_truncation_verifies_as_a_prefix(fraction in 0.0f64..1.0) {
        let bytes = sample_bytes();
        let cut = (bytes.len() as f64 * fraction) as usize;
        let prefix = &bytes[..cut];
        let v = verify_bytes(prefix).expect("a prefix always verifies");
        let complete = prefix.iter().filter(|b| **b == b'\n').count();
        prop_assert_eq!(v.records.len(), complete);
        let torn = prefix.last().is_some_and(|b| *b != b'\n');
        prop_assert_eq!(v.torn_tail.is_some(), torn);
    }

    /// Flipping any byte of a complete record (other than its last line's,
    /// which only the published head protects) is detected.
    #[test]
    fn any_modified_byte_breaks_the_chain(position in 0.0f64..1.0, replacement in b'a'..=b'z') {
        let bytes = sample_bytes();
        let last_start = bytes[..bytes.len() - 1].iter().rposition(|b| *b == b'\n').unwrap() + 1;
        let index = ((last_start - 1) as f64 * position) as usize;
        prop_assume!(bytes[index] != b'\n' && bytes[index] != replacement);
        let mut changed = bytes.clone();
        changed[index] = replacement;
        prop_assert!(verify_bytes(&changed).is_err());
    }
}

#[test]
fn turn_started_sets_the_envelope_turn() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("turns.jsonl");
    let mut events = sample_events();
    events.insert(5, Event::TurnStarted { number: 2 });
    write_log(&path, "turns", events);
    let records = read_log(&path).unwrap();
    assert_eq!(records[4].turn, Some(1));
    assert_eq!(records[5].turn, Some(2));
    assert_eq!(records.last().unwrap().turn, Some(2));
}
