//! `warden gh find-audit` against a mock GitHub API: the newest restorable
//! audit artifact of a thread, never one a fork's run uploaded.

use crate::workspace_support::warden_exe;

use crate::github_mock::{GithubMock, OWNER, REPO, TOKEN};
use serde_json::{Value, json};

const REPO_ID: u64 = 1296269;

fn artifact(id: u64, name: &str, created: &str, run: u64, head_repo: u64, expired: bool) -> Value {
    json!({
        "id": id, "name": name, "size_in_bytes": 2048, "expired": expired,
        "created_at": created, "expires_at": "2027-01-01T00:00:00Z",
        "archive_download_url": format!("https://api.github.com/repos/{OWNER}/{REPO}/actions/artifacts/{id}/zip"),
        "workflow_run": {"id": run, "repository_id": REPO_ID, "head_repository_id": head_repo,
                          "head_branch": "feature", "head_sha": "1111111111111111111111111111111111111111"}
    })
}

fn find(mock_url: &str, name: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("github_output");
    let out = std::process::Command::new(warden_exe())
        .env_clear()
        .args(["gh", "find-audit", "--attempts", "1", "--name", name])
        .env("GITHUB_API_URL", mock_url)
        .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
        .env("GITHUB_TOKEN", TOKEN)
        .env("GITHUB_OUTPUT", &output)
        .output()
        .unwrap();
    (
        out.status.code(),
        std::fs::read_to_string(&output).unwrap_or_default(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn picks_the_newest_same_repository_artifact() {
    let mock = GithubMock::start();
    mock.set_artifacts(vec![
        // Newest first, as GitHub lists them.
        artifact(
            40,
            "warden-audit-pr-7",
            "2026-11-05T10:00:00Z",
            904,
            999,
            false,
        ), // a fork's run
        artifact(
            30,
            "warden-audit-pr-7",
            "2026-11-04T10:00:00Z",
            903,
            REPO_ID,
            true,
        ), // expired
        artifact(
            20,
            "warden-audit-pr-7",
            "2026-11-03T10:00:00Z",
            902,
            REPO_ID,
            false,
        ),
        artifact(
            10,
            "warden-audit-pr-7",
            "2026-11-02T10:00:00Z",
            901,
            REPO_ID,
            false,
        ),
        artifact(
            50,
            "warden-audit-pr-8",
            "2026-11-06T10:00:00Z",
            905,
            REPO_ID,
            false,
        ),
    ]);
    let (code, outputs, err) = find(&mock.url, "warden-audit-pr-7");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        outputs,
        "found=true\nrun-id=902\nartifact-id=20\nartifact-name=warden-audit-pr-7\n"
    );
    let req = &mock.requests()[0];
    assert_eq!(req.path, "/repos/octo/demo/actions/artifacts");
    assert_eq!(req.query, "name=warden-audit-pr-7&per_page=100");
    assert!(mock.violations().is_empty());
}

#[test]
fn a_new_thread_has_nothing_to_restore() {
    let mock = GithubMock::start();
    mock.set_artifacts(vec![artifact(
        40,
        "warden-audit-pr-7",
        "2026-11-05T10:00:00Z",
        904,
        999,
        false,
    )]);
    let (code, outputs, _) = find(&mock.url, "warden-audit-pr-7");
    assert_eq!(code, Some(0));
    assert_eq!(
        outputs,
        "found=false\nrun-id=\nartifact-id=\nartifact-name=\n"
    );
}

#[test]
fn errors_are_not_an_empty_thread() {
    let mock = GithubMock::start();
    mock.outage(502);
    let (code, outputs, err) = find(&mock.url, "warden-audit-pr-7");
    assert_eq!(code, Some(5), "{err}");
    assert_eq!(outputs, "");
    let (code, _, err) = find(&mock.url, "pr-7&name=other");
    assert_eq!(code, Some(2), "{err}");
}
