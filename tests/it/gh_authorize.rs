//! `warden gh authorize` against a mock GitHub API: who may trigger a
//! comment-driven run, and that every failure to find out is a refusal.

use crate::workspace_support::warden_exe;

use std::process::Output;

use crate::github_mock::{GithubMock, OWNER, REPO, TOKEN};
use serde_json::{Value, json};

struct Job {
    dir: tempfile::TempDir,
}

impl Job {
    fn new(event: Value) -> Job {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("event.json"), event.to_string()).unwrap();
        Job { dir }
    }

    fn output_file(&self) -> std::path::PathBuf {
        self.dir.path().join("github_output")
    }

    /// Run `warden gh authorize ARGS` in a clean GitHub Actions environment.
    fn authorize(&self, api_url: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut cmd = std::process::Command::new(warden_exe());
        cmd.env_clear()
            .args(["gh", "authorize"])
            .args(args)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_API_URL", api_url)
            .env("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}"))
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_ACTOR", "someone-else")
            .env("GITHUB_EVENT_PATH", self.dir.path().join("event.json"))
            .env("GITHUB_OUTPUT", self.output_file());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn outputs(&self) -> String {
        std::fs::read_to_string(self.output_file()).unwrap_or_default()
    }
}

fn comment_by(login: &str, user_type: &str) -> Value {
    json!({
        "action": "created",
        "issue": {"number": 7, "pull_request": {"url": "https://api.github.com/repos/octo/demo/pulls/7"}},
        "comment": {"body": "/warden approve D2", "user": {"login": login, "type": user_type}},
        "sender": {"login": login, "type": user_type}
    })
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn permission_requests(mock: &GithubMock) -> Vec<String> {
    mock.requests()
        .iter()
        .filter(|r| r.path.ends_with("/permission"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[test]
fn a_writer_is_allowed_and_named_in_the_outputs() {
    let mock = GithubMock::start();
    mock.set_permission("alice", "write", "write");
    let job = Job::new(comment_by("alice", "User"));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("alice (comment.user.login) may trigger")
    );
    assert_eq!(job.outputs(), "actor=alice\npermission=permission write\n");
    assert_eq!(
        permission_requests(&mock),
        ["GET /repos/octo/demo/collaborators/alice/permission"]
    );
    let req = &mock.requests()[0];
    assert_eq!(
        req.headers.get("authorization").unwrap().to_str().unwrap(),
        format!("Bearer {TOKEN}")
    );
    assert!(mock.violations().is_empty(), "{:?}", mock.violations());
}

#[test]
fn maintainers_and_admins_pass_readers_and_triagers_do_not() {
    let mock = GithubMock::start();
    mock.set_permission("mia", "write", "maintain");
    mock.set_permission("ada", "admin", "admin");
    mock.set_permission("rob", "read", "read");
    mock.set_permission("tri", "read", "triage");
    mock.set_permission("wes", "write", "write");
    for (login, args, code) in [
        ("mia", &[][..], 0),
        ("ada", &[][..], 0),
        ("rob", &[][..], 1),
        ("tri", &[][..], 1),
        ("mia", &["--require", "maintain"][..], 0),
        ("wes", &["--require", "maintain"][..], 1),
        ("mia", &["--require", "admin"][..], 1),
        ("ada", &["--require", "admin"][..], 0),
    ] {
        let job = Job::new(comment_by(login, "User"));
        let out = job.authorize(&mock.url, args, &[]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{login} {args:?}: {}",
            stderr(&out)
        );
        if code == 1 {
            assert!(stderr(&out).contains("refused"), "{}", stderr(&out));
            assert_eq!(job.outputs(), "", "a refusal sets no outputs");
        }
    }
}

#[test]
fn a_reader_is_refused_with_a_clear_message() {
    let mock = GithubMock::start();
    mock.set_permission("rob", "read", "read");
    let job = Job::new(comment_by("rob", "User"));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("rob (comment.user.login) has read permission on octo/demo; this needs write, maintain or admin"),
        "{err}"
    );
}

#[test]
fn an_unknown_user_is_refused() {
    let mock = GithubMock::start();
    let job = Job::new(comment_by("stranger", "User"));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a collaborator"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bot_is_refused_unless_allow_listed_and_never_looked_up() {
    let mock = GithubMock::start();
    // Even a bot GitHub would call a writer is refused without the list.
    mock.set_permission("helper[bot]", "write", "write");
    let job = Job::new(comment_by("helper[bot]", "Bot"));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is a bot that is not allow-listed"),
        "{}",
        stderr(&out)
    );
    let other = job.authorize(&mock.url, &["--allow-bot", "renovate[bot]"], &[]);
    assert_eq!(
        other.status.code(),
        Some(1),
        "another bot on the list does not help"
    );

    let by_flag = job.authorize(&mock.url, &["--allow-bot", "helper"], &[]);
    assert_eq!(by_flag.status.code(), Some(0), "{}", stderr(&by_flag));
    let by_env = job.authorize(
        &mock.url,
        &[],
        &[("WARDEN_ALLOWED_BOTS", "x[bot], helper[bot]")],
    );
    assert_eq!(by_env.status.code(), Some(0), "{}", stderr(&by_env));
    assert!(job.outputs().contains("permission=allow-listed bot"));
    assert!(permission_requests(&mock).is_empty());

    // A login with the suffix is a bot whatever the payload's type says.
    let untyped = Job::new(comment_by("helper[bot]", "User"));
    assert_eq!(
        untyped.authorize(&mock.url, &[], &[]).status.code(),
        Some(1)
    );
}

#[test]
fn every_actor_of_the_event_must_pass() {
    let mock = GithubMock::start();
    mock.set_permission("alice", "admin", "admin");
    mock.set_permission("mallory", "read", "read");
    // mallory edited alice's comment: both acted.
    let mut event = comment_by("alice", "User");
    event["sender"] = json!({"login": "mallory", "type": "User"});
    let job = Job::new(event);
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("mallory (sender.login) has read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn github_actor_is_used_without_an_event() {
    let mock = GithubMock::start();
    mock.set_permission("someone-else", "write", "write");
    let job = Job::new(json!({}));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("someone-else (GITHUB_ACTOR)"));
}

#[test]
fn a_forged_login_never_reaches_the_api() {
    let mock = GithubMock::start();
    let job = Job::new(comment_by("alice/../../../admin", "User"));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a GitHub login"),
        "{}",
        stderr(&out)
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn an_api_error_is_a_refusal_exit_5() {
    let mock = GithubMock::start();
    mock.set_permission("alice", "admin", "admin");
    mock.outage(500);
    let job = Job::new(comment_by("alice", "User"));
    let out = job.authorize(&mock.url, &["--attempts", "2"], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("refused: cannot confirm the actor's permission"),
        "{err}"
    );
    assert!(err.contains("HTTP 500"), "{err}");
    assert_eq!(
        permission_requests(&mock).len(),
        2,
        "retried once, then refused"
    );
    assert_eq!(job.outputs(), "");
}

#[test]
fn a_token_without_access_is_a_refusal_exit_5() {
    let mock = GithubMock::start();
    mock.outage(403);
    let job = Job::new(comment_by("alice", "User"));
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert_eq!(permission_requests(&mock).len(), 1, "a 403 is not retried");
}

#[test]
fn an_unreachable_api_is_a_refusal_exit_5() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let job = Job::new(comment_by("alice", "User"));
    let out = job.authorize(
        &format!("http://127.0.0.1:{port}"),
        &["--attempts", "1"],
        &[],
    );
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cannot reach GitHub"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_job_without_token_or_repository_is_a_usage_error() {
    let mock = GithubMock::start();
    let job = Job::new(comment_by("alice", "User"));
    let out = job.authorize(&mock.url, &[], &[("GITHUB_TOKEN", "")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("GITHUB_TOKEN is not set"),
        "{}",
        stderr(&out)
    );
    let out = job.authorize(&mock.url, &[], &[("GITHUB_REPOSITORY", "")]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::write(job.dir.path().join("event.json"), "{").unwrap();
    let out = job.authorize(&mock.url, &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unreadable event is not guessed around"
    );
    assert!(mock.requests().is_empty());
}
