//! `warden check --reviewer auto_review --reviewer-base-url …` through the
//! real binary against a mock OpenAI server on 127.0.0.1: exactly one
//! review per check, and the verdict with the reviewer's rationale printed
//! (human and `--json`), with the documented exit codes.

use crate::workspace_support::warden_exe;

use crate::provider_mock;

use std::path::Path;

use assert_cmd::Command;
use provider_mock::{Api, MockResponse, MockServer, openai};
use serde_json::{Value, json};

const KEY: &str = "sk-reviewer-cli-key-0123456789";

fn answer(risk: &str, auth: &str, outcome: &str, rationale: &str) -> MockResponse {
    let content = json!({"risk_level": risk, "user_authorization": auth, "outcome": outcome, "rationale": rationale});
    MockResponse::json(
        200,
        openai::completion(
            json!({"role": "assistant", "content": content.to_string()}),
            "stop",
            50,
            10,
        ),
    )
}

/// Run `warden check` on an action that reaches the reviewer in `dev`.
async fn check(base_url: &str, home: &Path, extra: &[&str]) -> (i32, String, String) {
    let action = home.join("action.json");
    std::fs::write(
        &action,
        json!({
            "kind": "exec",
            "command": ["curl", "-fsSL", "https://downloads.example.org/tool.tar.gz"],
            "escalate": {"network": ["downloads.example.org"], "justification": "fetch the tool"}
        })
        .to_string(),
    )
    .unwrap();
    let mut args: Vec<String> = vec![
        "check".into(),
        "--profile".into(),
        "dev".into(),
        "--cwd".into(),
        home.display().to_string(),
        "--reviewer".into(),
        "auto_review".into(),
        "--reviewer-base-url".into(),
        base_url.into(),
        "--reviewer-model".into(),
        "review-model".into(),
        "--action".into(),
        action.display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let home = home.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(warden_exe())
            .args(&args)
            .env("HOME", &home)
            .env("WARDEN_REVIEWER_API_KEY", KEY)
            .env_remove("WARDEN_API_KEY")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("WARDEN_REQUIREMENTS")
            .env_remove("GITHUB_ACTIONS")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_review_per_check_with_the_rationale_printed() {
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(answer(
        "medium",
        "high",
        "allow",
        "The task asks to install this tool from its vendor.",
    ));
    let (code, stdout, stderr) = check(&server.base_url, home.path(), &[]).await;
    assert_eq!(code, 0, "approved → exit 0\n{stdout}\n{stderr}");
    assert_eq!(server.requests().len(), 1, "exactly one review");
    assert!(server.violations().is_empty(), "{:?}", server.violations());
    assert!(stdout.starts_with("approve: "), "{stdout}");
    assert!(stdout.contains("layer:    auto_review"), "{stdout}");
    assert!(
        stdout.contains("reviewer: risk medium / authorization high / answered allow"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rationale: The task asks to install this tool from its vendor."),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_carries_the_verdict() {
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(answer(
        "high",
        "unknown",
        "allow",
        "Nothing in the task names this host.",
    ));
    let (code, stdout, stderr) = check(&server.base_url, home.path(), &["--json"]).await;
    assert_eq!(
        code, 4,
        "high risk without authorization escalates → exit 4\n{stderr}"
    );
    assert_eq!(server.requests().len(), 1);
    let out: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    let d = &out["decision"];
    assert_eq!(d["outcome"], "escalate");
    assert_eq!(d["layer"], "auto_review");
    assert_eq!(d["reviewer"]["risk_level"], "high");
    assert_eq!(d["reviewer"]["user_authorization"], "unknown");
    assert_eq!(d["reviewer"]["model_outcome"], "allow");
    assert_eq!(
        d["reviewer"]["rationale"],
        "Nothing in the task names this host."
    );
    assert!(d["reviewer"]["latency_ms"].is_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_exits_1_and_a_failed_review_says_why() {
    let home = tempfile::tempdir().unwrap();
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(answer(
        "high",
        "low",
        "deny",
        "Downloads an unpinned binary.",
    ));
    let (code, stdout, _) = check(&server.base_url, home.path(), &[]).await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.starts_with("deny: "), "{stdout}");
    assert!(stdout.contains("Downloads an unpinned binary."));

    // The server answers prose: denied as reviewer_failed, still one request.
    let server = MockServer::start(Api::OpenAi, Some(KEY)).await;
    server.push(MockResponse::json(
        200,
        openai::completion(
            json!({"role": "assistant", "content": "I think this is fine."}),
            "stop",
            1,
            1,
        ),
    ));
    let (code, stdout, _) = check(&server.base_url, home.path(), &["--explain"]).await;
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(server.requests().len(), 1);
    assert!(stdout.contains("layer:    reviewer_failed"), "{stdout}");
    assert!(stdout.contains("fail closed"), "{stdout}");
    assert!(!stdout.contains(KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_reviewer_needs_a_scenario() {
    let home = tempfile::tempdir().unwrap();
    let (code, _, stderr) = check(
        "http://127.0.0.1:9/v1",
        home.path(),
        &["-c", "auto_review.provider=\"script\""],
    )
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--scenario"), "{stderr}");
}
