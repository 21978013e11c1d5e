//! Publishing to GitHub against a local mock of the API that checks every
//! request as GitHub would: sticky comment create/update/pagination, check
//! runs with batched annotations, degrading to workflow commands, retries,
//! the job summary, and that no planted secret leaves in any of it.

use crate::workspace_support::warden_exe;

use crate::audit_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::github_mock::{BOT, Comment, Fault, GithubMock, PR, TOKEN};
use audit_support::*;
use warden::audit::{AuditSummary, Event};
use warden::decision::{Category, Layer, Outcome, Source};
use warden::error::ExitStatus;
use warden::github::client::RetryPolicy;
use warden::report::default_report_config;
use warden::report::github::{Delivery, GithubEnv, PublishOptions, PublishOutcome, publish_with};

const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Fixture {
    dir: tempfile::TempDir,
    env: BTreeMap<String, String>,
    log: PathBuf,
}

impl Fixture {
    fn new(api_url: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let event = dir.path().join("event.json");
        std::fs::write(
            &event,
            format!(r#"{{"pull_request":{{"number":{PR},"head":{{"sha":"{HEAD_SHA}"}}}}}}"#),
        )
        .unwrap();
        let log = dir.path().join("run.jsonl");
        write_log(&log, "run-1", sample_events());
        let pairs = [
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_API_URL", api_url.to_owned()),
            ("GITHUB_SERVER_URL", "https://github.com".to_owned()),
            ("GITHUB_REPOSITORY", "octo/demo".to_owned()),
            ("GITHUB_TOKEN", TOKEN.to_owned()),
            ("GITHUB_EVENT_PATH", event.display().to_string()),
            ("GITHUB_SHA", "f".repeat(40)),
            ("GITHUB_RUN_ID", "42".to_owned()),
            ("GITHUB_WORKFLOW", "CI".to_owned()),
            ("GITHUB_JOB", "agent".to_owned()),
            (
                "GITHUB_WORKFLOW_REF",
                "octo/demo/.github/workflows/agent.yml@refs/pull/7/merge".to_owned(),
            ),
            (
                "GITHUB_STEP_SUMMARY",
                dir.path().join("summary.md").display().to_string(),
            ),
        ];
        let env = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Fixture { dir, env, log }
    }

    fn github_env(&self) -> GithubEnv {
        GithubEnv::from_map(&self.env)
    }

    fn summary(&self) -> AuditSummary {
        AuditSummary::load(&self.log).unwrap()
    }

    fn step_summary(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("summary.md")).unwrap_or_default()
    }
}

fn fast() -> PublishOptions {
    PublishOptions {
        retry: RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
        },
        print_workflow_commands: false,
    }
}

async fn publish(fixture: &Fixture, summary: &AuditSummary) -> PublishOutcome {
    publish_with(
        summary,
        &fixture.github_env(),
        &default_report_config(),
        &fast(),
    )
    .await
}

fn requests(mock: &GithubMock, method: &str, path_contains: &str) -> usize {
    mock.count(method, path_contains)
}

fn assert_no_violations(mock: &GithubMock) {
    let violations = mock.violations();
    assert!(violations.is_empty(), "{violations:#?}");
    // GitHub takes any name; warden's check run is always `warden`.
    assert!(mock.check_runs().iter().all(|r| r.name == "warden"));
}

/// Nothing planted (nor the API token) in any request body, the job summary
/// or workflow commands.
fn assert_no_secrets(mock: &GithubMock, fixture: &Fixture, outcome: &PublishOutcome) {
    for r in &mock.requests() {
        for secret in [PLANTED_TOKEN, "Plant3d", TOKEN] {
            assert!(
                !r.body.contains(secret),
                "{} {}: {}",
                r.method,
                r.path,
                r.body
            );
            assert!(!r.path.contains(secret) && !r.query.contains(secret));
        }
    }
    let summary = fixture.step_summary();
    assert!(!summary.contains("Plant3d"));
    for line in &outcome.workflow_commands {
        assert!(!line.contains("Plant3d"), "{line}");
    }
    assert!(!outcome.describe().contains(TOKEN));
}

#[tokio::test]
async fn first_run_creates_the_comment_and_the_second_updates_it() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let fixture = Fixture::new(&url);
    let summary = fixture.summary();
    let first = publish(&fixture, &summary).await;
    assert!(
        matches!(first.comment, Delivery::Done(ref s) if s.starts_with("created")),
        "{first:?}"
    );
    assert!(matches!(first.check_run, Delivery::Done(_)), "{first:?}");
    assert!(first.workflow_commands.is_empty());
    assert!(!first.failed());

    // The second run of the same job: a different report, same marker.
    let mut second_summary = summary.clone();
    second_summary.run_id = "run-2".into();
    second_summary.breaker_trips.clear();
    let second = publish(&fixture, &second_summary).await;
    assert!(
        matches!(second.comment, Delivery::Done(ref s) if s.starts_with("updated")),
        "{second:?}"
    );

    let comments = mock.comments();
    assert_eq!(comments.len(), 1, "no second comment");
    let comment = &comments[0];
    assert!(comment.body.starts_with("<!-- warden:CI:agent -->\n"));
    assert!(comment.body.contains("run-2"), "updated in place");
    assert!(!comment.body.contains("Circuit breaker"));
    assert!(comment.body.contains("/warden approve D3"));
    assert!(
        comment
            .body
            .contains("https://github.com/octo/demo/actions/runs/42")
    );
    // Update by PATCH on the comment, as GitHub documents; never POST there.
    let patch = mock
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.contains("/issues/comments/"))
        .expect("a PATCH");
    assert_eq!(
        patch.path,
        format!("/repos/octo/demo/issues/comments/{}", comment.id)
    );
    assert_eq!(
        patch.authorization().as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(requests(&mock, "POST", "/issues/7/comments"), 1);
    assert_eq!(requests(&mock, "POST", "/issues/comments/"), 0);
    assert_eq!(requests(&mock, "POST", "/check-runs"), 2);
    assert_no_violations(&mock);
    assert_no_secrets(&mock, &fixture, &second);
}

#[tokio::test]
async fn the_marker_comment_is_found_on_page_two_and_foreign_markers_are_ignored() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let fixture = Fixture::new(&url);
    {
        for i in 0..150u64 {
            let (body, login) = match i {
                // Someone pasted the marker: not ours, not updated.
                3 => (
                    "<!-- warden:CI:agent -->\nlooks official".to_owned(),
                    "mallory",
                ),
                // Another job's comment.
                40 => ("<!-- warden:CI:other -->\n…".to_owned(), BOT),
                120 => ("<!-- warden:CI:agent -->\nold report".to_owned(), BOT),
                _ => (format!("comment {i}"), "someone"),
            };
            mock.push_comment(Comment {
                id: 1 + i,
                issue: PR,
                body,
                login: login.into(),
            });
        }
    }
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert_eq!(
        outcome.comment,
        Delivery::Done("updated comment 121".into())
    );
    let comments = mock.comments();
    assert_eq!(comments.len(), 150);
    assert!(comments[120].body.contains("2 denied"));
    assert_eq!(comments[3].body, "<!-- warden:CI:agent -->\nlooks official");
    assert!(comments[40].body.starts_with("<!-- warden:CI:other -->"));
    // Page 2 was fetched through the Link header's absolute URL.
    let pages: Vec<_> = mock
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/comments"))
        .map(|r| (r.path.clone(), r.query.clone()))
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert_eq!(pages[1].0, "/repositories/1/issues/7/comments");
    assert!(pages[1].1.contains("page=2"));
    assert_no_violations(&mock);
}

/// A run with `n` denials, each decided by a rule on its own line.
fn many_denials(n: u32) -> AuditSummary {
    let mut records = fixed_records();
    let template = records[6].clone();
    let finish = records.pop().unwrap();
    records.truncate(2);
    for i in 0..n {
        let mut r = template.clone();
        let mut d = decision(
            Outcome::Deny,
            Some(Category::Rules),
            Layer::CommandRules,
            None,
            "forbidden",
        );
        d.source = Some(Source {
            file: ".warden/config.toml".into(),
            line: i + 1,
            column: Some(3),
        });
        r.event = Event::Decided {
            action_id: format!("a{i}"),
            decision: d,
            denial_id: Some(format!("D{}", i + 1)),
            cache_hit: false,
            latency_ms: 1,
        };
        records.push(r);
    }
    records.push(finish);
    AuditSummary::from_records(
        &records,
        warden::audit::summary::ChainInfo {
            records: records.len() as u64,
            head: "ab".repeat(32),
            torn_tail: false,
        },
    )
}

#[tokio::test]
async fn a_hundred_and_twenty_annotations_go_in_three_requests() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let fixture = Fixture::new(&url);
    let outcome = publish(&fixture, &many_denials(120)).await;
    assert_eq!(
        outcome.check_run,
        Delivery::Done("check run 1002 with 120 annotations in 3 requests".into()),
        "{outcome:?}"
    );
    let runs = mock.check_runs();
    let run = &runs[0];
    assert_eq!(run.annotations.len(), 120);
    assert_eq!(
        run.head_sha, HEAD_SHA,
        "on the PR head, not the merge commit"
    );
    assert_eq!(run.conclusion, "neutral", "denials are neutral by default");
    let batch_sizes: Vec<usize> = mock
        .requests()
        .iter()
        .filter(|r| r.path.contains("/check-runs") && r.method != "GET")
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            v["output"]["annotations"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(batch_sizes, [50, 50, 20]);
    let first = &run.annotations[0];
    assert_eq!(first["path"], ".warden/config.toml");
    assert_eq!(first["start_line"], 1);
    assert_eq!(first["start_column"], 3);
    assert_eq!(first["annotation_level"], "failure");
    assert_eq!(run.annotations[119]["start_line"], 120);
    assert_no_violations(&mock);
}

#[tokio::test]
async fn a_read_only_token_degrades_to_workflow_commands() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    mock.read_only();
    let fixture = Fixture::new(&url);
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(
        matches!(outcome.comment, Delivery::Degraded(ref s) if s.contains("403")),
        "{outcome:?}"
    );
    assert!(
        matches!(outcome.check_run, Delivery::Degraded(_)),
        "{outcome:?}"
    );
    assert!(!outcome.failed());
    assert_eq!(outcome.exit_status(true), None, "degrading is not failing");
    let commands = &outcome.workflow_commands;
    assert_eq!(commands.len(), 3);
    assert!(
        commands[0].starts_with(
            "::error file=.warden/config.toml,line=12,endLine=12,title=warden denied D1%3A "
        ),
        "{}",
        commands[0]
    );
    assert!(commands[1].starts_with("::notice file=.github/workflows/ci.yml,line=1,"));
    assert!(commands[2].starts_with("::warning file=.github/workflows/agent.yml,line=1,"));
    assert!(commands.iter().all(|c| !c.contains('\n')));
    // 403 is not retried.
    assert_eq!(requests(&mock, "POST", "/check-runs"), 1);
    // The job summary is a file: written regardless.
    assert!(fixture.step_summary().contains("2 denied"));
    assert_no_secrets(&mock, &fixture, &outcome);
}

#[tokio::test]
async fn no_token_means_workflow_commands_and_the_job_summary() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let mut fixture = Fixture::new(&url);
    fixture.env.remove("GITHUB_TOKEN");
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(matches!(outcome.check_run, Delivery::Degraded(ref s) if s.contains("GITHUB_TOKEN")));
    assert_eq!(outcome.workflow_commands.len(), 3);
    assert!(matches!(outcome.step_summary, Delivery::Done(_)));
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    {
        mock.push_fault(Fault {
            method: "POST",
            path_contains: "/check-runs",
            status: 502,
            after_effect: false,
            headers: vec![],
            message: "Server Error",
        });
        mock.push_fault(Fault {
            method: "GET",
            path_contains: "/issues/7/comments",
            status: 503,
            after_effect: false,
            headers: vec![],
            message: "Service Unavailable",
        });
        // A secondary rate limit: 403 with Retry-After is retried.
        mock.push_fault(Fault {
            method: "PATCH",
            path_contains: "/check-runs/",
            status: 403,
            after_effect: false,
            headers: vec![("retry-after", "1")],
            message: "You have exceeded a secondary rate limit.",
        });
    }
    let fixture = Fixture::new(&url);
    let outcome = publish(&fixture, &many_denials(60)).await;
    assert!(matches!(outcome.comment, Delivery::Done(_)), "{outcome:?}");
    assert!(
        matches!(outcome.check_run, Delivery::Done(_)),
        "{outcome:?}"
    );
    assert!(outcome.workflow_commands.is_empty());
    assert_eq!(mock.faults_left(), 0, "every fault was hit");
    assert_eq!(mock.check_runs().len(), 1);
    assert_eq!(mock.check_runs()[0].annotations.len(), 60);
    assert_eq!(mock.comments().len(), 1);
    assert_eq!(requests(&mock, "POST", "/check-runs"), 2);
    assert_eq!(requests(&mock, "PATCH", "/check-runs/"), 2);
    assert_no_violations(&mock);
}

#[tokio::test]
async fn a_creation_that_landed_before_a_502_is_not_duplicated() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    {
        for (path, status) in [("/issues/7/comments", 502), ("/check-runs", 500)] {
            mock.push_fault(Fault {
                method: "POST",
                path_contains: path,
                status,
                after_effect: true,
                headers: vec![],
                message: "Server Error",
            });
        }
    }
    let fixture = Fixture::new(&url);
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(matches!(outcome.comment, Delivery::Done(_)), "{outcome:?}");
    assert!(
        matches!(outcome.check_run, Delivery::Done(_)),
        "{outcome:?}"
    );
    assert_eq!(
        mock.comments().len(),
        1,
        "the comment that landed was found"
    );
    assert_eq!(
        mock.check_runs().len(),
        1,
        "the check run that landed was found by external_id"
    );
    assert_eq!(requests(&mock, "POST", "/issues/7/comments"), 1);
    assert_eq!(requests(&mock, "POST", "/check-runs"), 1);
    assert_no_violations(&mock);
}

#[tokio::test]
async fn github_down_fails_only_a_required_report_and_never_touches_the_log() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    {
        for _ in 0..20 {
            mock.push_fault(Fault {
                method: "GET",
                path_contains: "/",
                status: 500,
                after_effect: false,
                headers: vec![],
                message: "down",
            });
            mock.push_fault(Fault {
                method: "POST",
                path_contains: "/",
                status: 500,
                after_effect: false,
                headers: vec![],
                message: "down",
            });
        }
    }
    let fixture = Fixture::new(&url);
    let before = std::fs::read(&fixture.log).unwrap();
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(
        outcome.comment.is_failed() && outcome.check_run.is_failed(),
        "{outcome:?}"
    );
    assert!(outcome.failed());
    assert_eq!(outcome.exit_status(true), Some(ExitStatus::Infrastructure));
    assert_eq!(outcome.exit_status(false), None);
    // Bounded retries: 4 attempts at the comment lookup. The check run is
    // created once; a retry would first look for a check run the failed
    // attempt may have created, and that lookup failed 4 times too.
    assert_eq!(requests(&mock, "GET", "/issues/7/comments"), 4);
    assert_eq!(requests(&mock, "POST", "/check-runs"), 1);
    assert_eq!(requests(&mock, "GET", "/check-runs"), 4);
    // Annotations still reach the job via workflow commands.
    assert_eq!(outcome.workflow_commands.len(), 3);
    assert_eq!(std::fs::read(&fixture.log).unwrap(), before);
    warden::audit::verify_file(&fixture.log).unwrap();
}

#[tokio::test]
async fn the_job_summary_stays_under_one_mebibyte() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let mut fixture = Fixture::new(&url);
    // Only the job summary matters here (and the API part would make
    // thousands of annotations).
    fixture.env.remove("GITHUB_TOKEN");
    let path = fixture.dir.path().join("summary.md");
    // An earlier part of the step already wrote most of the budget.
    std::fs::write(&path, "x".repeat(1024 * 1024 - 20_000)).unwrap();
    let outcome = publish(&fixture, &many_denials(2000)).await;
    assert!(
        matches!(outcome.step_summary, Delivery::Done(_)),
        "{outcome:?}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.len() <= 1024 * 1024, "{}", text.len());
    assert!(text.contains("**Truncated:**"));
    // Full: refused rather than overflowing.
    std::fs::write(&path, "x".repeat(1024 * 1024)).unwrap();
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(outcome.step_summary.is_failed());
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 1024 * 1024);
}

#[tokio::test]
async fn enterprise_server_base_paths_are_kept() {
    let mock = GithubMock::start_under("/api/v3");
    let url = mock.url.clone();
    assert!(url.ends_with("/api/v3"));
    let fixture = Fixture::new(&url);
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(matches!(outcome.comment, Delivery::Done(_)), "{outcome:?}");
    assert!(
        matches!(outcome.check_run, Delivery::Done(_)),
        "{outcome:?}"
    );
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v3/"))
    );
    assert_no_violations(&mock);
}

#[tokio::test]
async fn push_events_get_a_check_run_but_no_comment() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let mut fixture = Fixture::new(&url);
    let push = fixture.dir.path().join("push.json");
    std::fs::write(&push, r#"{"ref":"refs/heads/main"}"#).unwrap();
    fixture
        .env
        .insert("GITHUB_EVENT_PATH".into(), push.display().to_string());
    let outcome = publish(&fixture, &fixture.summary()).await;
    assert!(matches!(outcome.comment, Delivery::Skipped(_)));
    assert!(matches!(outcome.check_run, Delivery::Done(_)));
    assert_eq!(mock.check_runs()[0].head_sha, "f".repeat(40), "GITHUB_SHA");
}

#[test]
fn report_github_command_end_to_end() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let fixture = Fixture::new(&url);
    let mut cmd = std::process::Command::new(warden_exe());
    cmd.env_clear()
        .envs(&fixture.env)
        .args(["report", "--github", "--require-report", "--audit"])
        .arg(&fixture.log);
    let out = runtime
        .block_on(runtime.spawn_blocking(move || cmd.output()))
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("PR comment: done: created comment"),
        "{stderr}"
    );
    assert!(stderr.contains("check run: done"), "{stderr}");
    assert!(out.stdout.is_empty());
    assert_eq!(mock.comments().len(), 1);
    assert!(
        fixture
            .step_summary()
            .contains("Approved boundary crossings")
    );

    // GitHub refuses (not a permission problem) and --require-report: exit 5.
    for fault in [
        Fault {
            method: "GET",
            path_contains: "/issues/7/comments",
            status: 404,
            after_effect: false,
            headers: vec![],
            message: "Not Found",
        },
        Fault {
            method: "POST",
            path_contains: "/check-runs",
            status: 422,
            after_effect: false,
            headers: vec![],
            message: "Validation Failed",
        },
    ] {
        mock.push_fault(fault);
    }
    let mut cmd = std::process::Command::new(warden_exe());
    cmd.env_clear()
        .envs(&fixture.env)
        .args(["report", "--github", "--require-report", "--audit"])
        .arg(&fixture.log);
    let out = runtime
        .block_on(runtime.spawn_blocking(move || cmd.output()))
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("PR comment: FAILED"), "{stderr}");
    assert!(!stderr.contains(TOKEN));
    // Without a token: workflow commands on stdout, exit 0.
    let mut cmd = std::process::Command::new(warden_exe());
    cmd.env_clear()
        .envs(&fixture.env)
        .env_remove("GITHUB_TOKEN")
        .args(["report", "--github", "--audit"])
        .arg(&fixture.log);
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("::")).count(),
        3,
        "{stdout}"
    );
    assert!(!stdout.contains("Plant3d"));
}
