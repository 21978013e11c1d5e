//! MCP end to end: `warden run --provider script` with `[mcp_servers]`
//! configured through `--config`, real server processes (the test server,
//! and the reference `@modelcontextprotocol/server-everything` when Node is
//! installed), the real pipeline, sandbox and audit log; and `warden mcp
//! list`.

use crate::mcp_support;
use crate::sandbox_support;

use mcp_support::{Ws, everything_server, server_toml, toml_str};
use sandbox_support::require;

/// The trusted local server and an untrusted third-party one.
fn team(extra: &str) -> String {
    format!(
        "{extra}\n{}\n{}",
        server_toml("local", "trusted", ""),
        server_toml("vendor", "untrusted", "")
    )
}

#[test]
fn ci_auto_rejects_side_effects_and_runs_trusted_read_only_tools() {
    let ws = Ws::new();
    // This rule would approve everything on `local`; in `ci` the category
    // is false, so no reviewer (rules or LLM) is ever asked.
    let config = team(
        r#"
[[review_rules]]
decision = "approve"
mcp_server = ["local", "vendor"]
reason = "would approve"
"#,
    );
    let scenario = r#"
prompt: tidy the notes
turns:
  - expect:
      tools: [shell, mcp__local__echo, mcp__local__write_note, mcp__vendor__echo]
    tool_calls:
      - name: mcp__local__echo
        arguments: {text: hi}
  - expect:
      last_tool_result: {contains: "echo: hi", is_error: false}
    tool_calls:
      - name: mcp__local__write_note
        arguments: {path: notes/ci.txt, text: written}
  - expect:
      last_tool_result: {denied: true, contains: "mcp_elicitations"}
    tool_calls:
      - name: mcp__vendor__echo
        arguments: {text: hi}
  - expect:
      last_tool_result: {denied: true}
    text: done
"#;
    let run = ws.run(scenario, &config, &["--profile", "ci"]);
    assert_eq!(run.code(), 0, "{}", run.dump());
    let d = run.decision("mcp__local__echo");
    assert_eq!(
        (d["outcome"].as_str(), d["layer"].as_str()),
        (Some("run"), Some("sandbox"))
    );
    assert!(run.executed("mcp__local__echo").is_some());
    for tool in ["mcp__local__write_note", "mcp__vendor__echo"] {
        let d = run.decision(tool);
        assert_eq!(d["outcome"], "deny", "{tool}: {d}");
        assert_eq!(d["layer"], "auto_reject", "{tool}: {d}");
        assert_eq!(d["category"], "mcp_elicitations");
        assert!(d.get("reviewer").is_none(), "no reviewer verdict: {d}");
        let layers: Vec<&str> = d["trace"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["layer"].as_str().unwrap())
            .collect();
        assert!(!layers.contains(&"review_rules"), "{layers:?}");
        assert!(run.executed(tool).is_none(), "{tool} must not run");
    }
    assert!(!ws.ws.join("notes/ci.txt").exists());
}

#[test]
fn dev_reviews_side_effects_and_untrusted_read_only_tools() {
    let ws = Ws::new();
    let config = team(
        r#"
approvals_reviewer = "rules"
[[review_rules]]
decision = "approve"
mcp_server = ["local"]
mcp_tool = ["write_note"]
mcp_arguments = { path = "notes/*" }
reason = "notes may be written"
"#,
    );
    let scenario = r#"
prompt: write a note
turns:
  - tool_calls:
      - name: mcp__local__write_note
        arguments: {path: notes/dev.txt, text: reviewed and written}
  - expect:
      last_tool_result: {contains: "wrote notes/dev.txt", is_error: false}
    tool_calls:
      - name: mcp__vendor__echo
        arguments: {text: hi}
  - expect:
      last_tool_result: {denied: true, contains: "escalated"}
    text: done
"#;
    let run = ws.run(scenario, &config, &["--profile", "dev"]);
    assert_eq!(run.code(), 0, "{}", run.dump());
    let d = run.decision("mcp__local__write_note");
    assert_eq!(d["outcome"], "approve", "{d}");
    assert_eq!(d["layer"], "review_rules", "{d}");
    assert_eq!(d["reason"], "notes may be written");
    assert_eq!(
        std::fs::read_to_string(ws.ws.join("notes/dev.txt")).unwrap(),
        "reviewed and written"
    );
    // The untrusted server says `echo` is read-only; it is reviewed anyway
    // (here: no rule decides, so it escalates and does not run).
    let d = run.decision("mcp__vendor__echo");
    assert_eq!(d["outcome"], "escalate", "{d}");
    assert_eq!(d["layer"], "no_rule", "{d}");
    assert_eq!(d["category"], "mcp_elicitations");
    assert!(run.executed("mcp__vendor__echo").is_none());
}

#[test]
fn a_crashed_or_broken_server_is_a_tool_error_and_the_run_continues() {
    let ws = Ws::new();
    let config = format!(
        "{}\n{}",
        server_toml("local", "trusted", ""),
        server_toml("broken", "trusted", "args = [\"--exit-at-start\", \"4\"]")
    );
    let scenario = r#"
prompt: use the tools
turns:
  - tool_calls:
      - name: mcp__local__crash
  - expect:
      last_tool_result: {is_error: true, contains: "exited with code 3"}
    tool_calls:
      - name: mcp__local__echo
        arguments: {text: again}
  - expect:
      last_tool_result: {is_error: true, contains: "no longer running"}
    tool_calls:
      - name: mcp__broken__echo
        arguments: {text: x}
  - expect:
      last_tool_result: {is_error: true, contains: "failed to start"}
    tool_calls:
      - name: shell
        arguments: {command: "cat README.md"}
  - expect:
      last_tool_result: {contains: "hello", is_error: false}
    text: carried on without the MCP tools
"#;
    let run = ws.run(scenario, &config, &["--profile", "dev"]);
    assert_eq!(run.code(), 0, "{}", run.dump());
    let events = run.server_events();
    let find = |server: &str, status: &str| {
        events
            .iter()
            .find(|(s, st, _)| s == server && st == status)
            .unwrap_or_else(|| panic!("no {status} event for {server}: {events:?}"))
            .2
            .clone()
    };
    assert!(find("broken", "failed_to_start").contains("exited with code 4"));
    find("local", "started");
    let crash = find("local", "crashed");
    assert!(crash.contains("exited with code 3"), "{crash}");
    assert!(crash.contains("crashing on request"), "{crash}");
    // Calls to a dead or never-started server are answered before any
    // decision: nothing would run, so nothing is reviewed or counted.
    assert!(
        run.events("action_proposed")
            .iter()
            .all(|r| r["tool"] != "mcp__broken__echo")
    );
    // The log with its MCP events still verifies.
    let verified = warden::audit::verify_file(&ws.root.join("audit.jsonl")).unwrap();
    assert!(verified.finished());
}

#[test]
fn server_stderr_is_logged_redacted_and_secrets_stay_out_of_its_environment() {
    // warden's own GITHUB_TOKEN never reaches the server; the server's own
    // `env` does (it answers with the value), but what it sends back is
    // redacted for the model and the audit log, and so is its stderr.
    let ws = Ws::new();
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let config_secret = "config-secret-value-4711";
    let config = server_toml(
        "local",
        "trusted",
        &format!(
            "args = [\"--stderr-at-start\", {}]\nenv = {{ API_TOKEN = {} }}",
            toml_str(&format!("starting with {token} and {config_secret}")),
            toml_str(config_secret)
        ),
    );
    let scenario = r#"
prompt: check the environment
turns:
  - tool_calls:
      - name: mcp__local__get_env
        arguments: {name: GITHUB_TOKEN}
  - expect:
      last_tool_result: {contains: "<unset>"}
    tool_calls:
      - name: mcp__local__get_env
        arguments: {name: API_TOKEN}
  - expect:
      last_tool_result: {contains: "[REDACTED]", not_contains: "config-secret-value-4711"}
    text: done
"#;
    let scenario_file = ws.file("scenario.yaml", scenario);
    let config_file = ws.file("config.toml", &config);
    let audit = ws.root.join("audit.jsonl");
    let out = ws
        .warden(&[
            "-v",
            "run",
            "--provider",
            "script",
            "--scenario",
            scenario_file.to_str().unwrap(),
            "--config",
            config_file.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
            "--no-report",
        ])
        .env("GITHUB_TOKEN", token)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("stderr: starting with"))
        .unwrap_or_else(|| panic!("server stderr not logged:\n{stderr}"));
    assert!(line.contains("[REDACTED]"), "{line}");
    assert!(!stderr.contains(token), "token leaked:\n{stderr}");
    assert!(
        !stderr.contains(config_secret),
        "server secret leaked:\n{stderr}"
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(!log.contains(token) && !log.contains(config_secret));
}

#[test]
fn mcp_list_shows_each_tool_with_its_class_and_why() {
    let ws = Ws::new();
    let config = ws.file(
        "team.toml",
        &format!(
            "{}\n{}\n{}",
            server_toml(
                "local",
                "trusted",
                "disabled_tools = [\"delete_all\"]\n[mcp_servers.local.tools.crash]\ndecision = \"forbidden\""
            ),
            server_toml("vendor", "untrusted", ""),
            server_toml("broken", "untrusted", "args = [\"--exit-at-start\", \"9\"]"),
        ),
    );
    let out = ws
        .warden(&[
            "mcp",
            "list",
            "--profile",
            "ci",
            "--json",
            "--config",
            config.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "a server failed to start");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profile"], "ci");
    let server = |name: &str| {
        v["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap()
            .clone()
    };
    let class = |server: &serde_json::Value, tool: &str| {
        let t = server["tools"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == tool)
            .unwrap_or_else(|| panic!("no {tool}"))
            .clone();
        (t["class"].as_str().unwrap().to_owned(), t)
    };
    let local = server("local");
    assert_eq!(local["status"], "running");
    let (c, echo) = class(&local, "echo");
    assert_eq!(c, "routine");
    assert_eq!(echo["model_name"], "mcp__local__echo");
    assert_eq!(echo["annotations"]["readOnlyHint"], true);
    let (c, note) = class(&local, "write_note");
    assert_eq!(c, "mcp_elicitations");
    assert_eq!(
        (note["outcome"].as_str(), note["layer"].as_str()),
        (Some("deny"), Some("auto_reject"))
    );
    assert_eq!(class(&local, "crash").0, "forbidden");
    assert_eq!(class(&local, "delete_all").0, "disabled");
    let (c, vecho) = class(&server("vendor"), "echo");
    assert_eq!(
        c, "mcp_elicitations",
        "untrusted hints are not trusted: {vecho}"
    );
    let broken = server("broken");
    assert_eq!(broken["status"], "failed");
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("exited with code 9")
    );

    // The text form, without the failing server: exit 0.
    let config = ws.file("ok.toml", &server_toml("local", "trusted", ""));
    let out = ws
        .warden(&["mcp", "list", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("local (trusted): 13 tools; sandbox workspace-write, network off"),
        "{text}"
    );
    let echo_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("echo "))
        .unwrap();
    assert!(
        echo_line.contains("routine") && echo_line.contains("read-only"),
        "{echo_line}"
    );
    let note_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("write_note "))
        .unwrap();
    assert!(
        note_line.contains("mcp_elicitations") && note_line.contains("no hints"),
        "{note_line}"
    );
}

#[test]
fn reference_server_everything_from_npm() {
    let entry = match everything_server() {
        Ok(p) => p,
        Err(None) => {
            require(false, "Node.js is not installed");
            return;
        }
        Err(Some(setup)) => panic!("{setup}"),
    };
    let ws = Ws::new();
    let config = format!(
        "[mcp_servers.everything]\ncommand = \"node\"\nargs = [{}, \"stdio\"]\ntrust = \"trusted\"\n",
        toml_str(entry.to_str().unwrap())
    );
    let config_file = ws.file("everything.toml", &config);
    let out = ws
        .warden(&[
            "mcp",
            "list",
            "--json",
            "--config",
            config_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tools = v["servers"][0]["tools"].as_array().unwrap();
    let class_of = |name: &str| {
        tools
            .iter()
            .find(|t| t["name"] == name)
            .map(|t| t["class"].as_str().unwrap().to_owned())
    };
    assert_eq!(class_of("echo").as_deref(), Some("routine"), "{tools:?}");
    assert!(
        tools.iter().any(|t| t["class"] == "mcp_elicitations"),
        "some tools have side effects: {tools:?}"
    );

    let marker = "warden-e2e-marker-value";
    let scenario = format!(
        r#"
prompt: try the reference server
turns:
  - tool_calls:
      - name: mcp__everything__echo
        arguments: {{message: hello from warden}}
  - expect:
      last_tool_result: {{contains: "hello from warden", is_error: false}}
    tool_calls:
      - name: mcp__everything__get-env
  - expect:
      last_tool_result: {{contains: "PATH", not_contains: "{marker}", is_error: false}}
    text: done
"#
    );
    let scenario_file = ws.file("scenario.yaml", &scenario);
    let audit = ws.root.join("audit.jsonl");
    let out = ws
        .warden(&[
            "run",
            "--provider",
            "script",
            "--scenario",
            scenario_file.to_str().unwrap(),
            "--config",
            config_file.to_str().unwrap(),
            "--audit",
            audit.to_str().unwrap(),
            "--no-report",
        ])
        .env("WARDEN_E2E_MARKER", marker)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    assert!(log.contains("\"status\":\"started\""), "{log}");
}
