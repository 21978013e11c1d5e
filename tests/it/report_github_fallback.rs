//! Where check-run annotations go when an annotation has no place of its
//! own (a built-in rule decided, no file touched) and `GITHUB_WORKFLOW_REF`
//! is missing (older runners, act, self-hosted wrappers): the workspace's
//! `.warden/config.toml`, else a local action's `action.yml`, else nowhere,
//! with a warning and the annotation as a workflow command. Checked against
//! the local GitHub API mock, on the exact request.

use crate::audit_support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::github_mock::{GithubMock, PR, TOKEN};
use audit_support::{WORKSPACE, sample_events, write_log};
use warden::audit::{AuditSummary, Event};
use warden::github::client::RetryPolicy;
use warden::report::default_report_config;
use warden::report::github::{Delivery, GithubEnv, PublishOptions, PublishOutcome, publish_with};

const HEAD_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// The sample run with its workspace moved to a real directory, and the
/// Actions environment of that run minus `GITHUB_WORKFLOW_REF`.
struct Fixture {
    _dir: tempfile::TempDir,
    workspace: PathBuf,
    env: BTreeMap<String, String>,
    summary: AuditSummary,
}

impl Fixture {
    fn new(api_url: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let workspace = root.join("ws");
        std::fs::create_dir_all(&workspace).unwrap();
        // Every workspace path of the sample, rewritten to the real one.
        let events: Vec<Event> = sample_events()
            .into_iter()
            .map(|e| {
                let json = serde_json::to_string(&e)
                    .unwrap()
                    .replace(WORKSPACE, workspace.to_str().unwrap());
                serde_json::from_str(&json).unwrap()
            })
            .collect();
        let log = root.join("run.jsonl");
        write_log(&log, "run-1", events);
        let event = root.join("event.json");
        std::fs::write(
            &event,
            format!(r#"{{"pull_request":{{"number":{PR},"head":{{"sha":"{HEAD_SHA}"}}}}}}"#),
        )
        .unwrap();
        let env = [
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_API_URL", api_url.to_owned()),
            ("GITHUB_REPOSITORY", "octo/demo".to_owned()),
            ("GITHUB_TOKEN", TOKEN.to_owned()),
            ("GITHUB_EVENT_PATH", event.display().to_string()),
            ("GITHUB_RUN_ID", "42".to_owned()),
            ("GITHUB_WORKFLOW", "CI".to_owned()),
            ("GITHUB_JOB", "agent".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let summary = AuditSummary::load(&log).unwrap();
        Fixture {
            _dir: dir,
            workspace,
            env,
            summary,
        }
    }

    fn write(&self, rel: &str) {
        let path = self.workspace.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "# x\n").unwrap();
    }

    async fn publish(&self) -> PublishOutcome {
        let options = PublishOptions {
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
            },
            print_workflow_commands: false,
        };
        publish_with(
            &self.summary,
            &GithubEnv::from_map(&self.env),
            &default_report_config(),
            &options,
        )
        .await
    }
}

/// `(path, start_line, title up to the colon)` of every annotation in the
/// check run's creating request, as sent.
fn sent_annotations(mock: &GithubMock) -> Vec<(String, u64, String)> {
    let requests = mock.requests();
    let create = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/check-runs"))
        .expect("the check run was created");
    let body: serde_json::Value = serde_json::from_str(&create.body).unwrap();
    let violations = mock.violations();
    assert!(violations.is_empty(), "{violations:#?}");
    body["output"]["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let title = a["title"].as_str().unwrap();
            (
                a["path"].as_str().unwrap().to_owned(),
                a["start_line"].as_u64().unwrap(),
                title.split(':').next().unwrap().to_owned(),
            )
        })
        .collect()
}

fn row(path: &str, line: u64, title: &str) -> (String, u64, String) {
    (path.to_owned(), line, title.to_owned())
}

#[tokio::test]
async fn without_the_workflow_ref_annotations_go_to_the_project_config() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let fixture = Fixture::new(&url);
    fixture.write(".warden/config.toml");
    // A local action too: the project config still comes first.
    fixture.write("action.yml");
    assert!(!fixture.env.contains_key("GITHUB_WORKFLOW_REF"));
    let mut env = fixture.env.clone();
    env.insert(
        "GITHUB_ACTION_PATH".into(),
        fixture.workspace.display().to_string(),
    );
    let fixture = Fixture { env, ..fixture };
    let outcome = fixture.publish().await;
    assert_eq!(
        outcome.check_run,
        Delivery::Done("check run 1002 with 3 annotations in 1 request".into()),
        "{outcome:?}"
    );
    assert_eq!(
        sent_annotations(&mock),
        [
            row(".warden/config.toml", 12, "warden denied D1"),
            row(".github/workflows/ci.yml", 1, "warden denied D2"),
            // D3: an MCP call escalated by the `user` layer, no file, no rule.
            row(".warden/config.toml", 1, "warden escalated D3"),
        ]
    );
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
    assert!(outcome.workflow_commands.is_empty());
}

#[tokio::test]
async fn without_a_project_config_a_local_actions_file_is_used() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let mut fixture = Fixture::new(&url);
    fixture.write(".github/actions/warden/action.yml");
    // The runner's spelling of a local action's directory.
    fixture.env.insert(
        "GITHUB_ACTION_PATH".into(),
        format!("{}/./.github/actions/warden", fixture.workspace.display()),
    );
    let outcome = fixture.publish().await;
    assert!(
        matches!(outcome.check_run, Delivery::Done(_)),
        "{outcome:?}"
    );
    assert_eq!(
        sent_annotations(&mock)[2],
        row(
            ".github/actions/warden/action.yml",
            1,
            "warden escalated D3"
        )
    );
    assert!(outcome.problems.is_empty(), "{:?}", outcome.problems);
}

#[tokio::test]
async fn when_nothing_can_be_located_warden_warns_and_prints_a_workflow_command() {
    let mock = GithubMock::start();
    let url = mock.url.clone();
    let mut fixture = Fixture::new(&url);
    // A remote action: its action.yml is outside the repository.
    let remote = tempfile::tempdir().unwrap();
    std::fs::write(remote.path().join("action.yml"), "name: warden\n").unwrap();
    fixture.env.insert(
        "GITHUB_ACTION_PATH".into(),
        remote.path().display().to_string(),
    );
    let outcome = fixture.publish().await;
    assert_eq!(
        outcome.check_run,
        Delivery::Done("check run 1002 with 2 annotations in 1 request".into()),
        "{outcome:?}"
    );
    assert_eq!(
        sent_annotations(&mock),
        [
            row(".warden/config.toml", 12, "warden denied D1"),
            row(".github/workflows/ci.yml", 1, "warden denied D2"),
        ]
    );
    assert_eq!(outcome.problems.len(), 1, "{:?}", outcome.problems);
    assert!(
        outcome.problems[0].starts_with("1 annotation has no file in the repository"),
        "{:?}",
        outcome.problems
    );
    assert!(
        outcome
            .describe()
            .contains("GITHUB_WORKFLOW_REF is not set")
    );
    // The one the check run could not carry, as a job-level annotation.
    assert_eq!(outcome.workflow_commands.len(), 1);
    assert!(
        outcome.workflow_commands[0].starts_with("::warning title=warden escalated D3%3A "),
        "{}",
        outcome.workflow_commands[0]
    );
}
