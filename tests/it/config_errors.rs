//! Configuration errors through the real binary: exit status 2 and a
//! message that names `file:line:col` exactly.

use crate::workspace_support::warden_exe;

use std::path::Path;

use assert_cmd::Command;

fn warden(workspace: &Path) -> Command {
    let mut cmd = Command::new(warden_exe());
    cmd.current_dir(workspace)
        .env_remove("WARDEN_REQUIREMENTS")
        .env_remove("RUST_LOG");
    cmd
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Run `profiles show ci` with extra args and return (exit code, stderr).
fn show(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = warden(dir)
        .args(["profiles", "show", "ci"])
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn unknown_key_in_config_file_names_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "extra.toml",
        "# comment\n\n[sandbox]\n  netwrk = \"off\"\n",
    );
    let (code, err) = show(dir.path(), &["--config", "extra.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("error: extra.toml:4:3: unknown key `netwrk`"),
        "{err}"
    );
    assert!(err.contains("help: did you mean `network`?"), "{err}");
}

#[test]
fn near_miss_top_level_key_gets_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "sandbox-mode = \"read-only\"\n",
    );
    let (code, err) = show(dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(".warden/config.toml:1:1: unknown key `sandbox-mode`"),
        "{err}"
    );
    assert!(err.contains("did you mean `sandbox_mode`?"), "{err}");
}

#[test]
fn type_error_points_at_the_value() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "extra.toml", "[agent]\nmax_turns = \"many\"\n");
    let (code, err) = show(dir.path(), &["--config", "extra.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("extra.toml:2:13: invalid type: string \"many\""),
        "{err}"
    );
}

#[test]
fn bad_enum_value_lists_valid_values() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "extra.toml", "approvals_reviewer = \"robot\"\n");
    let (code, err) = show(dir.path(), &["--config", "extra.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("extra.toml:1:22: unknown value `robot`"),
        "{err}"
    );
    assert!(err.contains("`user`, `auto_review`, `rules`"), "{err}");
}

#[test]
fn approval_policy_errors_are_precise() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "extra.toml",
        "approval_policy = { granular = { rules = true, skills = false } }\n",
    );
    let (code, err) = show(dir.path(), &["--config", "extra.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("extra.toml:1:48: unknown key `skills`"),
        "{err}"
    );
    assert!(!err.contains("did not match any variant"), "{err}");
}

#[test]
fn failing_match_example_is_reported_at_the_example() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "[[command_rules]]\npattern = [\"terraform\", \"apply\"]\ndecision = \"prompt\"\nmatch = [\n    \"terraform apply\",\n    \"terraform plan\",\n]\n",
    );
    let (code, err) = show(dir.path(), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            ".warden/config.toml:6:5: `match` example \"terraform plan\" does not match this rule"
        ),
        "{err}"
    );
    assert!(
        err.contains("help: the rule at .warden/config.toml:1"),
        "{err}"
    );
}

#[test]
fn override_errors_point_into_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = show(
        dir.path(),
        &["-c", "agent.max_turns=10", "-c", "sandbox.netwrk=on"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("-c:2:9: unknown key `netwrk` (in `-c sandbox.netwrk=on`)"),
        "{err}"
    );
}

#[test]
fn missing_config_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (code, err) = show(dir.path(), &["--config", "nope.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read --config file `nope.toml`"),
        "{err}"
    );
}

#[test]
fn unknown_profile_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden(dir.path())
        .args(["profiles", "show", "cii"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("unknown profile `cii`") && err.contains("did you mean `ci`?"),
        "{err}"
    );
}

#[test]
fn requirements_forbidding_a_mode_name_both_places() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "# project\nsandbox_mode = \"danger-full-access\"\n",
    );
    write(
        dir.path(),
        "req.toml",
        "\nallowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n",
    );
    let (code, err) = show(dir.path(), &["--requirements", "req.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(
            "error: .warden/config.toml:2:16: sandbox_mode = \"danger-full-access\" is forbidden by managed requirements (req.toml:2: allowed_sandbox_modes = [\"read-only\", \"workspace-write\"])"
        ),
        "{err}"
    );
}

#[test]
fn requirements_forbidding_network_name_both_places() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "req.toml", "allow_network = false\n");
    let out = warden(dir.path())
        .args(["profiles", "show", "dev", "-c", "sandbox.network=on"])
        .env("WARDEN_REQUIREMENTS", "req.toml")
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("-c:1:17: sandbox.network = \"on\" is forbidden by managed requirements (req.toml:1: allow_network = false)"),
        "{err}"
    );
}

#[test]
fn requirements_forbidding_the_reviewer_name_both_places() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "req.toml",
        "allowed_approvals_reviewers = [\"rules\"]\n",
    );
    let out = warden(dir.path())
        .args(["profiles", "show", "nightly", "--requirements", "req.toml"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("builtin:profiles/nightly.toml:"), "{err}");
    assert!(
        err.contains("approvals_reviewer = \"auto_review\" is forbidden"),
        "{err}"
    );
    assert!(
        err.contains("req.toml:1: allowed_approvals_reviewers = [\"rules\"]"),
        "{err}"
    );
}

#[test]
fn bad_requirements_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "req.toml",
        "[[command_rules]]\npattern = []\ndecision = \"forbidden\"\n",
    );
    let (code, err) = show(dir.path(), &["--requirements", "req.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("req.toml:2:11: `pattern` cannot be empty"),
        "{err}"
    );
    let (code, err) = show(dir.path(), &["--requirements", "missing.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("cannot read requirements file `missing.toml`"),
        "{err}"
    );
}

/// Every error of every layer in one run, each at `file:line:col` with its
/// source line, a caret and labels: two in the project layer (a sandbox mode
/// the requirements forbid, with the requirement as the secondary place, and
/// a zero limit) and one in the `--config` layer (an unknown key: a layer
/// that does not parse adds nothing, but the others are still checked).
#[test]
fn three_errors_in_two_layers_are_reported_in_one_run() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        ".warden/config.toml",
        "# project layer\nsandbox_mode = \"danger-full-access\"\n\n[agent]\nmax_turns = 0\n",
    );
    write(dir.path(), "extra.toml", "[sandbox]\n  netwrk = \"off\"\n");
    write(
        dir.path(),
        "req.toml",
        "allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n",
    );
    let out = warden(dir.path())
        .args(["--config", "extra.toml", "--requirements", "req.toml"])
        .args(["check", "--", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    for headline in [
        "error: extra.toml:2:3: unknown key `netwrk`",
        "error: .warden/config.toml:5:13: `agent.max_turns` must be at least 1",
        "error: .warden/config.toml:2:16: sandbox_mode = \"danger-full-access\" is forbidden",
        "error: 3 errors in the configuration",
    ] {
        assert!(err.contains(headline), "{headline} in:\n{err}");
    }
    assert!(err.contains("^^^^^^ ") || err.contains("^^^^^^\n"), "{err}");
    assert!(err.contains("- the requirement it would weaken"), "{err}");
    insta::assert_snapshot!("three_errors_in_two_layers", err);
}

/// An excerpt never shows a value that may be a credential: an error inside
/// an environment table shows its line with the value elided.
#[test]
fn an_excerpt_elides_environment_values() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "ghp_excerptSecret0123456789abcdefABCDEF";
    write(
        dir.path(),
        "extra.toml",
        &format!("[sandbox.env.set]\n\"1BAD\" = \"{secret}\"\n"),
    );
    let (code, err) = show(dir.path(), &["--config", "extra.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("extra.toml:2:10: `1BAD` is not a valid environment variable name"),
        "{err}"
    );
    assert!(err.contains("2 | \"1BAD\" = …"), "{err}");
    assert!(!err.contains("excerptSecret"), "{err}");
}
