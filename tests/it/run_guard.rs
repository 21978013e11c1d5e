//! `warden run` and guarded protected paths: a change a granted command
//! makes to a protected path is restored and recorded in the audit log and
//! the report; a change warden cannot undo stops the run at once (exit 5),
//! with the audit log and the report naming the path.

use crate::workspace_support::warden_exe;

use crate::run_support;

use crate::sandbox_support;

use run_support::{RunFixture, events};

/// A protected path inside a directory an allow rule grants, and a command
/// the rule pre-approves.
fn fixture(script: &str) -> (RunFixture, std::path::PathBuf, std::path::PathBuf) {
    let f = RunFixture::new();
    std::fs::create_dir_all(f.ws.join("infra/sub")).unwrap();
    std::fs::write(f.ws.join("infra/sub/cfg"), "original\n").unwrap();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&f.ws)
        .status()
        .unwrap();
    assert!(git.success());
    // Outside the workspace: a program the command could rewrite is never
    // pre-approved (policy::preapproval).
    let cmd = f.write("change.sh", &format!("#!/bin/sh\nset -e\n{script}\n"));
    std::fs::set_permissions(&cmd, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = f.write(
        "guard.toml",
        &format!(
            "[sandbox]\nprotected = [\"infra/sub/cfg\"]\n\n\
             [[command_rules]]\npattern = [{cmd:?}]\ndecision = \"allow\"\n\
             grants = {{ write = [\"infra\"] }}\njustification = \"the grant covers a protected path\"\n"
        ),
    );
    let scenario = f.write(
        "scenario.yaml",
        &format!(
            r#"
prompt: Change the infra config.
on_exhausted: error
turns:
  - tool_calls:
      - name: shell
        arguments: {{ command: [{cmd:?}] }}
  - text: Done.
"#
        ),
    );
    (f, config, scenario)
}

#[test]
fn a_restored_change_is_in_the_audit_log_and_the_run_goes_on() {
    let (f, config, scenario) = fixture("echo planted > infra/sub/cfg");
    f.scripted("ci", &scenario)
        .arg("--config")
        .arg(&config)
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(f.ws.join("infra/sub/cfg")).unwrap(),
        "original\n"
    );
    let records = f.audit_records();
    let executed = events(&records, "executed");
    let changes = &executed[0]["protected_changes"];
    let cfg = f.ws.join("infra/sub/cfg").display().to_string();
    assert_eq!(
        changes,
        &serde_json::json!([{"path": cfg, "change": "modified", "restored": true}]),
        "{executed:?}"
    );
    let excerpt = executed[0]["output_excerpt"].as_str().unwrap();
    assert!(excerpt.contains("warden restored them"), "{excerpt}");
}

/// The protected file's directory is swapped for a file: warden cannot put
/// the file back, so nothing more runs.
#[test]
fn a_change_that_cannot_be_restored_stops_the_run_with_exit_5() {
    let (f, config, scenario) = fixture("rm -r infra/sub\necho swapped > infra/sub");
    let out = f
        .scripted("ci", &scenario)
        .arg("--config")
        .arg(&config)
        .assert()
        .code(5);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    let cfg = f.ws.join("infra/sub/cfg").display().to_string();
    assert!(
        stderr.contains(&cfg) || stdout.contains(&cfg),
        "the output names the path: {stdout}\n{stderr}"
    );
    let records = f.audit_records();
    let executed = events(&records, "executed");
    assert_eq!(executed.len(), 1);
    assert_eq!(
        executed[0]["protected_changes"],
        serde_json::json!([{"path": cfg, "change": "removed", "restored": false}])
    );
    let finished = events(&records, "run_finished");
    assert_eq!(finished[0]["exit_code"], 5);
    let reason = finished[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&cfg) && reason.contains("could not restore"),
        "{reason}"
    );
    // The model was not asked again: the second turn never ran.
    assert_eq!(events(&records, "turn_started").len(), 1, "{records:?}");

    let report = f
        .warden()
        .args(["report", "--audit"])
        .arg(&f.audit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&report.stdout);
    assert!(
        report.contains("Protected paths changed") && report.contains("not restored"),
        "{report}"
    );
}

/// As an ordinary user (warden then has no power over the command's files
/// beyond their owner's), a command that plants a hook and then hides it
/// with `chmod 000 .git/hooks` does not keep it: the verification opens the
/// directory up, removes the hook and puts the mode back.
#[test]
fn an_unreadable_hooks_directory_does_not_hide_a_planted_hook_from_an_unprivileged_warden() {
    if !sandbox_support::require_tool("setpriv") {
        return;
    }
    let f = RunFixture::new();
    assert!(
        std::process::Command::new("git")
            .args(["init", "-q"])
            .current_dir(&f.ws)
            .status()
            .unwrap()
            .success()
    );
    let hooks = f.ws.join(".git/hooks");
    let plant = "#!/bin/sh\nset -e\nprintf '#!/bin/sh\\necho planted\\n' > .git/hooks/post-checkout\n\
                 chmod +x .git/hooks/post-checkout\nchmod 000 .git/hooks\n";
    // Outside the workspace: a program the command could rewrite is never
    // pre-approved (policy::preapproval).
    let script = f.write("plant.sh", plant);
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let config = f.write(
        "guard.toml",
        &format!(
            "[[command_rules]]\npattern = [{script:?}]\ndecision = \"allow\"\n\
             grants = {{ write = [\".git\"] }}\njustification = \"a .git grant\"\n"
        ),
    );
    let scenario = f.write(
        "scenario.yaml",
        &format!(
            "prompt: Plant.\non_exhausted: error\nturns:\n  - tool_calls:\n      - name: shell\n        \
             arguments: {{ command: [{script:?}] }}\n  - text: Done.\n"
        ),
    );
    let root = f.ws.parent().unwrap().to_path_buf();
    let chown = std::process::Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&root)
        .status()
        .unwrap();
    assert!(chown.success());
    let unprivileged = |args: &[&std::ffi::OsStr]| {
        std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .args(args)
            .current_dir(&f.ws)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &f.home)
            .env("LANG", "C.UTF-8")
            .output()
            .unwrap()
    };

    // Control: the same user, without warden, keeps the hidden hook.
    let direct = unprivileged(&[script.as_os_str()]);
    assert!(direct.status.success(), "control: {direct:?}");
    assert!(std::fs::symlink_metadata(hooks.join("post-checkout")).is_ok());
    std::fs::set_permissions(&hooks, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::remove_file(hooks.join("post-checkout")).unwrap();

    let warden = warden_exe();
    let out = unprivileged(&[
        warden.as_os_str(),
        "--cwd".as_ref(),
        f.ws.as_os_str(),
        "--config".as_ref(),
        config.as_os_str(),
        "run".as_ref(),
        "--profile".as_ref(),
        "ci".as_ref(),
        "--provider".as_ref(),
        "script".as_ref(),
        "--scenario".as_ref(),
        scenario.as_os_str(),
        "--audit".as_ref(),
        f.audit.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        std::fs::symlink_metadata(hooks.join("post-checkout")).is_err(),
        "the planted hook survived"
    );
    let mode = std::fs::metadata(&hooks).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o755
    );
    let records = f.audit_records();
    let changes = &events(&records, "executed")[0]["protected_changes"];
    let hook = hooks.join("post-checkout").display().to_string();
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"] == hook.as_str() && c["change"] == "added" && c["restored"] == true),
        "{changes}"
    );
}
