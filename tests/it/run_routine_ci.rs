//! Routine work through the whole `warden run --profile ci` path (decision
//! pipeline, zygote, sandbox) with the machine's real `HOME`, as a CI job
//! has it: a Rust crate's `cargo test`, a Node package's `npm test`
//! (`node --test`) and a Python project's pytest, offline, each run and
//! passing. The same projects through the sandbox alone are in
//! `tests/sandbox/routine_ci.rs`.

use crate::run_support;
use crate::sandbox_support;

use run_support::{RunFixture, events};
use sandbox_support::{require_pytest, require_tool};

fn write(dir: &std::path::Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[test]
fn cargo_npm_and_pytest_projects_pass_through_warden_run_under_ci() {
    if !require_tool("cargo") || !require_tool("npm") || !require_pytest() {
        return;
    }
    let f = RunFixture::new();
    let git = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(&f.ws)
        .status()
        .unwrap();
    assert!(git.success());
    write(
        &f.ws.join("rs"),
        &[
            (
                "Cargo.toml",
                "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
            ),
            (
                "src/lib.rs",
                "#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() { assert_eq!(2 + 3, 5); }\n}\n",
            ),
        ],
    );
    write(
        &f.ws.join("js"),
        &[
            (
                "package.json",
                r#"{"name":"tiny","version":"1.0.0","scripts":{"test":"node --test"}}"#,
            ),
            (
                "add.test.js",
                "const test = require('node:test');\nconst assert = require('node:assert');\n\
                 test('adds', () => { assert.strictEqual(2 + 3, 5); });\n",
            ),
        ],
    );
    write(
        &f.ws.join("py"),
        &[("test_tiny.py", "def test_add():\n    assert 2 + 3 == 5\n")],
    );
    let scenario = f.write(
        "routine.yaml",
        r##"
prompt: Run the tests of every project.
on_exhausted: error
turns:
  - tool_calls:
      - name: shell
        arguments: { command: ["cargo", "test", "--offline"], cwd: "rs" }
  - expect:
      last_tool_result: { is_error: false, contains: "1 passed" }
    tool_calls:
      - name: shell
        arguments: { command: ["npm", "test"], cwd: "js" }
  - expect:
      last_tool_result: { is_error: false, contains: "# pass 1" }
    tool_calls:
      - name: shell
        arguments: { command: ["python3", "-m", "pytest", "-q"], cwd: "py" }
  - expect:
      last_tool_result: { is_error: false, contains: "1 passed" }
    text: All green.
"##,
    );
    let home = std::env::var_os("HOME").expect("HOME is set");
    let mut cmd = f.scripted("ci", &scenario);
    cmd.env("HOME", &home);
    for var in ["CARGO_HOME", "RUSTUP_HOME", "PYENV_ROOT"] {
        if let Some(v) = std::env::var_os(var) {
            cmd.env(var, v);
        }
    }
    let out = cmd.output().unwrap();
    let records = f.audit_records();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}\n{:#?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        events(&records, "executed")
    );
    let executed = events(&records, "executed");
    assert_eq!(executed.len(), 3, "{executed:?}");
    for e in executed {
        assert_eq!(e["exit_code"], 0, "{e}");
    }
}
