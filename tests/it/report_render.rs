//! The offline renderers (Markdown, SARIF, JSON), annotations and check-run
//! conclusions: pure functions of the summary, snapshot-tested.

use crate::workspace_support::warden_exe;

use crate::audit_support;

use assert_cmd::Command;
use audit_support::*;
use predicates::prelude::*;
use warden::audit::summary::ChainInfo;
use warden::audit::{AuditSummary, Event};
use warden::config::{Conclusion, ReportConfig};
use warden::decision::{Category, Layer, Outcome};
use warden::report::annotations::{Level, annotations};
use warden::report::markdown::{MarkdownOptions, render};
use warden::report::{conclusion, default_report_config, sarif};

fn summary_of(records: &[warden::audit::Record]) -> AuditSummary {
    AuditSummary::from_records(
        records,
        ChainInfo {
            records: records.len() as u64,
            head: "5e1f".repeat(16),
            torn_tail: false,
        },
    )
}

fn sample_summary() -> AuditSummary {
    summary_of(&fixed_records())
}

fn comment_options() -> MarkdownOptions {
    MarkdownOptions {
        marker: Some("<!-- warden:CI:agent -->".into()),
        run_url: Some("https://github.com/octo/demo/actions/runs/42".into()),
        limit: 65_536,
        include_approvals: false,
        ..MarkdownOptions::default()
    }
}

#[test]
fn markdown_comment_snapshot() {
    let md = render(
        &sample_summary(),
        &default_report_config(),
        &comment_options(),
    );
    assert!(!md.contains("Plant3d"));
    insta::assert_snapshot!("comment", md);
}

#[test]
fn markdown_full_report_snapshot() {
    let md = render(
        &sample_summary(),
        &default_report_config(),
        &MarkdownOptions::default(),
    );
    insta::assert_snapshot!("full_report", md);
}

#[test]
fn sarif_snapshot() {
    let log = sarif::render(&sample_summary(), &default_report_config());
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    // D1, D2 (overridden: a note), D3; approvals are not annotated by default.
    assert_eq!(results.len(), 3);
    assert!(!log.to_string().contains("Plant3d"));
    insta::assert_json_snapshot!("sarif", log);
}

#[test]
fn annotations_point_at_the_touched_file_the_rule_or_the_workflow() {
    let s = sample_summary();
    let list = annotations(
        &s,
        &default_report_config(),
        Some(".github/workflows/agent.yml"),
    );
    let by_id = |id: &str| {
        list.iter()
            .find(|a| a.denial_id.as_deref() == Some(id))
            .unwrap()
    };
    // D1: the command rule's line.
    let d1 = by_id("D1");
    let loc = d1.location.as_ref().unwrap();
    assert_eq!(
        (loc.path.as_str(), loc.start_line),
        (".warden/config.toml", 12)
    );
    assert_eq!(d1.level, Level::Failure);
    assert_eq!(d1.rule_id, "command_rules/.warden/config.toml:12");
    assert!(d1.message.contains("/warden approve D1"));
    // D2: the workflow file it tried to write (absolute → workspace-relative);
    // overridden, so only a notice.
    let d2 = by_id("D2");
    assert_eq!(
        d2.location.as_ref().unwrap().path,
        ".github/workflows/ci.yml"
    );
    assert_eq!(d2.level, Level::Notice);
    assert!(d2.message.contains("approved by alice"));
    // D3: no file, no repository rule: the fallback.
    let d3 = by_id("D3");
    assert_eq!(
        d3.location.as_ref().unwrap().path,
        ".github/workflows/agent.yml"
    );
    assert_eq!(d3.level, Level::Warning);
    // Without a fallback D3 has no location; approvals only on request.
    let bare = annotations(&s, &default_report_config(), None);
    assert!(bare.iter().any(|a| a.location.is_none()));
    let mut config = default_report_config();
    config.annotate_approvals = true;
    let with_approvals = annotations(&s, &config, None);
    assert_eq!(with_approvals.len(), 5);
    assert_eq!(
        with_approvals
            .iter()
            .filter(|a| a.level == Level::Notice)
            .count(),
        3
    );
}

#[test]
fn conclusion_follows_the_report_config() {
    let s = sample_summary();
    let config = |b, e, d| ReportConfig {
        on_breaker: b,
        on_escalation: e,
        on_denial: d,
        annotate_approvals: false,
    };
    use Conclusion::*;
    assert_eq!(conclusion(&s, &config(Failure, Neutral, Neutral)), Failure);
    assert_eq!(conclusion(&s, &config(Neutral, Neutral, Success)), Neutral);
    assert_eq!(conclusion(&s, &config(Success, Success, Failure)), Failure);
    assert_eq!(conclusion(&s, &config(Success, Success, Success)), Success);
    // A clean run succeeds; an interrupted one fails whatever the config.
    let mut clean: Vec<_> = fixed_records().into_iter().take(5).collect();
    let finish = fixed_records().pop().unwrap();
    let mut finish_ok = finish.clone();
    finish_ok.event = Event::RunFinished {
        exit_code: 0,
        reason: "done".into(),
        usage: None,
    };
    clean.push(finish_ok);
    assert_eq!(
        conclusion(&summary_of(&clean), &config(Failure, Failure, Failure)),
        Success
    );
    clean.pop();
    assert_eq!(
        conclusion(&summary_of(&clean), &config(Success, Success, Success)),
        Failure
    );
}

/// A run with `n` denials whose reasons are long.
fn many_denials(n: usize) -> AuditSummary {
    let mut records = fixed_records();
    let template = records[6].clone();
    records.truncate(2);
    for i in 0..n {
        let mut r = template.clone();
        r.event = Event::Decided {
            action_id: format!("a{i}"),
            decision: decision(
                Outcome::Deny,
                Some(Category::SandboxApproval),
                Layer::AutoReview,
                None,
                &format!("denied because {}", "reason ".repeat(30)),
            ),
            denial_id: Some(format!("D{i}")),
            cache_hit: false,
            latency_ms: 3,
        };
        records.push(r);
    }
    summary_of(&records)
}

#[test]
fn long_reports_are_truncated_with_a_pointer_to_the_record() {
    let s = many_denials(2000);
    let md = render(&s, &default_report_config(), &comment_options());
    assert!(md.len() <= 65_536, "{}", md.len());
    assert!(md.len() > 60_000, "uses the space it has: {}", md.len());
    assert!(md.starts_with("<!-- warden:CI:agent -->\n"));
    assert!(md.contains("**Truncated:**"));
    assert!(md.contains("more decisions not shown"));
    assert!(md.contains("[this run](https://github.com/octo/demo/actions/runs/42)"));
    assert!(md.contains("| `D0` |"));
    assert!(!md.contains("| `D1999` |"));
    // The footer survives truncation.
    assert!(md.contains("chain head"));
    // A limit too small for even the header is still respected.
    let tiny = MarkdownOptions {
        limit: 300,
        ..comment_options()
    };
    let md = render(&s, &default_report_config(), &tiny);
    assert!(md.len() <= 300, "{}", md.len());
    assert!(md.contains("Truncated"));
}

#[test]
fn untrusted_text_cannot_forge_markup() {
    let mut records = fixed_records();
    if let Event::Decided { decision, .. } = &mut records[6].event {
        decision.reason =
            "ok\n<!-- warden:CI:agent -->\n[click](https://evil.example) @maintainer <img src=x>"
                .into();
    }
    let md = render(
        &summary_of(&records),
        &default_report_config(),
        &comment_options(),
    );
    assert_eq!(md.matches("<!-- warden:CI:agent -->").count(), 1);
    // Every `<` of the reason is escaped: no HTML reaches the renderer.
    assert_eq!(md.matches("<img").count(), md.matches("\\<img").count());
    assert_eq!(md.matches("\\<img").count(), 1);
    assert!(!md.contains("](https://evil.example)"));
    assert!(!md.contains("@maintainer"));
}

#[test]
fn report_command_renders_each_format_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    write_log(&path, "run-1", sample_events());
    for format in ["markdown", "json", "sarif"] {
        let out = Command::new(warden_exe())
            .args(["report", "--format", format, "--audit"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{format}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(!text.contains("Plant3d"), "{format}");
        if format != "markdown" {
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert!(v.is_object(), "{format}");
        }
    }
    let sarif_path = dir.path().join("out.sarif");
    Command::new(warden_exe())
        .args(["report", "--format", "sarif", "-o"])
        .arg(&sarif_path)
        .arg("--audit")
        .arg(&path)
        .assert()
        .code(0)
        .stdout(predicate::str::is_empty());
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 3);
}

#[test]
fn report_refuses_a_broken_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    write_log(&path, "run-1", sample_events());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("pipe to shell", "pipe to shelL", 1)).unwrap();
    Command::new(warden_exe())
        .args(["report", "--audit"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("broken at record 7"));
    Command::new(warden_exe())
        .args(["report", "--audit", "/nonexistent/x.jsonl"])
        .assert()
        .code(2);
}

#[test]
fn the_process_own_secret_environment_values_are_redacted_from_reports() {
    // The log was written by another process that did not know the value;
    // the report's process has it in a secret-named variable.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.jsonl");
    let secret = "corp-deploy-credential-7731";
    let mut events = sample_events();
    events.insert(
        2,
        Event::McpServer {
            server: "deploy".into(),
            status: "crashed".into(),
            detail: format!("exited after printing {secret}"),
        },
    );
    write_log(&path, "run-1", events);
    assert!(std::fs::read_to_string(&path).unwrap().contains(secret));
    for format in ["markdown", "json", "sarif"] {
        let out = Command::new(warden_exe())
            .env("DEPLOY_TOKEN", secret)
            .args(["report", "--format", format, "--audit"])
            .arg(&path)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(!text.contains(secret), "{format}: {text}");
        if format == "markdown" {
            assert!(text.contains("#### MCP servers"), "{text}");
            assert!(text.contains("exited after printing [REDACTED]"), "{text}");
        }
    }
}
