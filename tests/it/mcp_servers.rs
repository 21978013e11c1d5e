//! MCP servers as real processes (the test server, rmcp's server side),
//! started through warden's sandbox: handshake and paged tool lists, calls,
//! and every way a server can misbehave — failing to start, crashing,
//! hanging, writing garbage — each bounded in time and reported.

use crate::mcp_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use mcp_support::{Ws, server_bin, wait_gone};
use serde_json::json;
use warden::config::{
    McpServerConfig, NetworkMode, SandboxConfig, SandboxFallback, SandboxMode, Trust,
};
use warden::decision::Source;
use warden::mcp::launch::LaunchContext;
use warden::mcp::servers::ServerState;
use warden::mcp::{McpServers, McpTools, ServerEvent};
use warden::sandbox::stdio::{StdioRequest, spawn_stdio};
use warden::sandbox::{SandboxPolicy, SandboxRuntime};

fn server(args: &[&str]) -> McpServerConfig {
    McpServerConfig {
        command: server_bin().to_owned(),
        args: args.iter().map(|s| s.to_string()).collect(),
        env: BTreeMap::new(),
        cwd: None,
        trust: Trust::Trusted,
        enabled_tools: None,
        disabled_tools: vec![],
        tools: BTreeMap::new(),
        network: false,
        startup_timeout: Duration::from_secs(20),
        tool_timeout: Duration::from_secs(20),
        source: Source {
            file: "test.toml".into(),
            line: 1,
            column: None,
        },
    }
}

fn context(ws: &Ws) -> LaunchContext {
    let sandbox = SandboxConfig {
        writable_roots: vec![],
        deny_read: vec![ws.home.join(".ssh").display().to_string()],
        protected: vec![],
        network: NetworkMode::Off,
        git: warden::config::GitMode::Commit,
        fallback: SandboxFallback::Refuse,
        timeout: Duration::from_secs(60),
        output_limit: 1 << 20,
        env_pass: vec![],
        env_set: BTreeMap::new(),
    };
    LaunchContext {
        runtime: SandboxRuntime {
            warden_exe: crate::workspace_support::warden_exe(),
        },
        policy: SandboxPolicy::from_sandbox_config(SandboxMode::WorkspaceWrite, &sandbox, &ws.ws)
            .unwrap(),
        workspace: ws.ws.clone(),
    }
}

async fn start(ws: &Ws, servers: &[(&str, McpServerConfig)]) -> McpServers {
    let configs = servers
        .iter()
        .map(|(n, c)| (n.to_string(), c.clone()))
        .collect();
    McpServers::start(&configs, &context(ws)).await
}

fn failure(servers: &McpServers, name: &str) -> String {
    match &servers.states()[name] {
        ServerState::Failed(why) => why.clone(),
        ServerState::Running(_) => panic!("{name} started"),
    }
}

fn statuses(events: &[ServerEvent], server: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e.server == server)
        .map(|e| e.status.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed_across_pages_and_offered_with_schemas() {
    let ws = Ws::new();
    let mut cfg = server(&["--page-size", "2"]);
    cfg.disabled_tools = vec!["delete_all".into(), "delete_al".into()];
    let servers = start(&ws, &[("local", cfg)]).await;
    let ServerState::Running(conn) = &servers.states()["local"] else {
        panic!("{}", failure(&servers, "local"));
    };
    assert_eq!(conn.tools.len(), 13, "every page was read");
    let specs = servers.specs();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"mcp__local__echo"), "{names:?}");
    assert!(
        !names.contains(&"mcp__local__delete_all"),
        "disabled tools are not offered"
    );
    let echo = specs.iter().find(|s| s.name == "mcp__local__echo").unwrap();
    assert_eq!(echo.parameters["properties"]["text"]["type"], "string");
    assert!(echo.description.contains("Echo the text back."));
    // Annotations as declared; missing hints stay missing (worst case).
    assert_eq!(
        servers.annotations("local", "echo").read_only_hint,
        Some(true)
    );
    assert!(servers.annotations("local", "echo").is_read_only());
    assert!(!servers.annotations("local", "write_note").is_read_only());
    assert_eq!(
        servers.annotations("local", "write_note").read_only_hint,
        None
    );
    assert_eq!(
        servers.annotations("local", "delete_all").destructive_hint,
        Some(true)
    );
    assert!(!servers.annotations("local", "nope").is_read_only());
    let events = servers.take_events();
    assert_eq!(statuses(&events, "local"), ["started"]);
    assert!(
        events[0].detail.contains("13 tools, 12 offered"),
        "{}",
        events[0].detail
    );
    assert!(
        events[0]
            .detail
            .contains("configured tools the server does not have: delete_al"),
        "a typo in the config is pointed out: {}",
        events[0].detail
    );
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_return_text_or_tool_errors() {
    let ws = Ws::new();
    let servers = start(&ws, &[("s", server(&[]))]).await;
    assert_eq!(
        servers.call("s", "echo", json!({"text": "hi"})).await,
        Ok("echo: hi".into())
    );
    let err = servers.call("s", "fail", json!({})).await.unwrap_err();
    assert!(err.contains("failed on purpose"), "{err}");
    let err = servers
        .call("s", "echo", json!(["not", "an", "object"]))
        .await
        .unwrap_err();
    assert!(err.contains("must be a JSON object"), "{err}");
    let err = servers
        .call("s", "no_such_tool", json!({}))
        .await
        .unwrap_err();
    assert!(err.contains("has no tool `no_such_tool`"), "{err}");
    let err = servers.call("s", "echo", json!({})).await.unwrap_err();
    assert!(
        err.contains("-32602") || err.contains("text"),
        "invalid params: {err}"
    );
    let err = servers.call("other", "echo", json!({})).await.unwrap_err();
    assert!(err.contains("not configured"), "{err}");
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_call_is_a_tool_error_and_later_calls_fail_fast() {
    let ws = Ws::new();
    let servers = start(&ws, &[("s", server(&[]))]).await;
    servers.take_events();
    let t0 = Instant::now();
    let err = servers.call("s", "crash", json!({})).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(
        err.contains("crashing on request"),
        "stderr is quoted: {err}"
    );
    let err = servers
        .call("s", "echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert!(err.contains("no longer running"), "{err}");
    let events = servers.take_events();
    assert_eq!(
        statuses(&events, "s"),
        ["crashed"],
        "reported once: {events:?}"
    );
    assert!(servers.take_events().is_empty());
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_tool_times_out_and_the_server_stays_usable() {
    let ws = Ws::new();
    let mut cfg = server(&[]);
    cfg.tool_timeout = Duration::from_millis(800);
    let servers = start(&ws, &[("s", cfg)]).await;
    servers.take_events();
    let t0 = Instant::now();
    let err = servers.call("s", "hang", json!({})).await.unwrap_err();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(
        err.contains("no answer within 800ms (tool_timeout)"),
        "{err}"
    );
    let events = servers.take_events();
    assert_eq!(statuses(&events, "s"), ["tool_timeout"]);
    assert!(
        events[0].detail.starts_with("hang:"),
        "{}",
        events[0].detail
    );
    assert_eq!(
        servers
            .call("s", "echo", json!({"text": "still here"}))
            .await,
        Ok("echo: still here".into())
    );
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_output_is_named_in_the_timeout_error() {
    let ws = Ws::new();
    let mut cfg = server(&[]);
    cfg.tool_timeout = Duration::from_millis(800);
    let servers = start(&ws, &[("s", cfg)]).await;
    servers.take_events();
    let err = servers.call("s", "garble", json!({})).await.unwrap_err();
    assert!(err.contains("tool_timeout"), "{err}");
    assert!(err.contains("2 malformed messages"), "{err}");
    assert!(err.contains("this is not JSON-RPC"), "{err}");
    let events = servers.take_events();
    assert_eq!(
        statuses(&events, "s"),
        ["malformed_message", "malformed_message", "tool_timeout"]
    );
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_failures_are_bounded_and_reported() {
    let ws = Ws::new();
    let quick = |args: &[&str]| {
        let mut c = server(args);
        c.startup_timeout = Duration::from_secs(1);
        c
    };
    let mut missing = quick(&[]);
    missing.command = "warden-no-such-mcp-server".into();
    let mut bad_cwd = quick(&[]);
    bad_cwd.cwd = Some("does/not/exist".into());
    let t0 = Instant::now();
    let servers = start(
        &ws,
        &[
            ("exits", quick(&["--exit-at-start", "4"])),
            ("hangs", quick(&["--hang-at-start"])),
            ("garbage", quick(&["--garbage-at-start"])),
            ("missing", missing),
            ("badcwd", bad_cwd),
            ("bad__name", quick(&[])),
            ("fine", quick(&[])),
        ],
    )
    .await;
    assert!(
        t0.elapsed() < Duration::from_secs(6),
        "started together, bounded: {:?}",
        t0.elapsed()
    );
    let why = failure(&servers, "exits");
    assert!(why.contains("exited with code 4"), "{why}");
    assert!(why.contains("exiting at start as asked"), "{why}");
    let why = failure(&servers, "hangs");
    assert!(
        why.contains("no answer within 1s (startup_timeout)"),
        "{why}"
    );
    let why = failure(&servers, "garbage");
    assert!(why.contains("1 malformed message"), "{why}");
    assert!(why.contains("not an MCP server"), "{why}");
    let why = failure(&servers, "missing");
    assert!(
        why.contains("cannot run `warden-no-such-mcp-server`"),
        "{why}"
    );
    let why = failure(&servers, "badcwd");
    assert!(why.contains("not an existing directory"), "{why}");
    let why = failure(&servers, "bad__name");
    assert!(why.contains("may not contain `__`"), "{why}");
    assert!(matches!(servers.states()["fine"], ServerState::Running(_)));
    // A call to a failed server is a tool error saying why.
    let err = servers
        .call("exits", "echo", json!({"text": "x"}))
        .await
        .unwrap_err();
    assert!(
        err.contains("failed to start") && err.contains("code 4"),
        "{err}"
    );
    let events = servers.take_events();
    for name in [
        "exits",
        "hangs",
        "garbage",
        "missing",
        "badcwd",
        "bad__name",
    ] {
        assert!(
            statuses(&events, name).contains(&"failed_to_start".to_string()),
            "{name}: {events:?}"
        );
    }
    assert_eq!(statuses(&events, "fine"), ["started"]);
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_run_in_the_sandbox_with_network_only_when_configured() {
    let ws = Ws::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut networked = server(&[]);
    networked.network = true;
    let mut with_env = server(&[]);
    with_env
        .env
        .insert("TEAM_SETTING".into(), "from-config".into());
    let servers = start(&ws, &[("offline", with_env), ("online", networked)]).await;
    // Filesystem: the profile's deny-read applies to the server.
    let key = ws.home.join(".ssh/id_rsa").display().to_string();
    let err = servers
        .call("offline", "read_file", json!({"path": key}))
        .await
        .unwrap_err();
    assert!(err.contains("Permission denied"), "{err}");
    assert!(!err.contains(&ws.canary));
    // Writes outside the writable roots are refused too.
    let outside = ws.root.join("outside.txt").display().to_string();
    let err = servers
        .call(
            "offline",
            "write_note",
            json!({"path": outside, "text": "x"}),
        )
        .await
        .unwrap_err();
    assert!(err.contains("Permission denied"), "{err}");
    let inside = ws.ws.join("notes/n.txt").display().to_string();
    servers
        .call(
            "offline",
            "write_note",
            json!({"path": inside, "text": "hi"}),
        )
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(ws.ws.join("notes/n.txt")).unwrap(),
        "hi"
    );
    // Network: off unless the server's config says so.
    let err = servers
        .call("offline", "connect", json!({"addr": addr}))
        .await
        .unwrap_err();
    assert!(err.contains("connect"), "{err}");
    assert_eq!(
        servers
            .call("online", "connect", json!({"addr": addr}))
            .await,
        Ok("connected".into())
    );
    // Environment: the server's own `env`, the sandbox's allow-list, a
    // private TMPDIR; nothing else of warden's.
    assert_eq!(
        servers
            .call("offline", "get_env", json!({"name": "TEAM_SETTING"}))
            .await,
        Ok("from-config".into())
    );
    assert_eq!(
        servers
            .call("online", "get_env", json!({"name": "TEAM_SETTING"}))
            .await,
        Ok("<unset>".into())
    );
    assert_eq!(
        servers
            .call("offline", "get_env", json!({"name": "CARGO_MANIFEST_DIR"}))
            .await,
        Ok("<unset>".into()),
        "warden's environment is not passed wholesale"
    );
    let tmp = servers
        .call("offline", "get_env", json!({"name": "TMPDIR"}))
        .await
        .unwrap();
    assert!(tmp.contains("warden-sbx-"), "{tmp}");
    servers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_every_server_process() {
    let ws = Ws::new();
    let servers = start(&ws, &[("a", server(&[])), ("b", server(&[]))]).await;
    let mut pids = Vec::new();
    for name in ["a", "b"] {
        let pid: u32 = servers
            .call(name, "pid", json!({}))
            .await
            .unwrap()
            .parse()
            .unwrap();
        assert!(!mcp_support::process_gone(pid));
        pids.push(pid);
    }
    // One of them hangs in a call: shutdown must not wait for it.
    let hang = servers.call("b", "hang", json!({}));
    let t0 = Instant::now();
    tokio::select! {
        _ = hang => panic!("hang answered"),
        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
    }
    servers.shutdown().await;
    assert!(t0.elapsed() < Duration::from_secs(8), "{:?}", t0.elapsed());
    for pid in pids {
        assert!(wait_gone(pid), "server process {pid} outlived shutdown");
    }
    assert!(
        servers.take_events().iter().all(|e| e.status != "crashed"),
        "a requested stop is not a crash"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writing_to_a_dead_server_is_never_a_broken_pipe() {
    // warden runs with the default SIGPIPE disposition: a write to a pipe
    // without a reader would kill it. The stdin pipe keeps a reader for
    // as long as warden holds the process, so the write just lands.
    use tokio::io::AsyncWriteExt;
    let ws = Ws::new();
    let ctx = context(&ws);
    let req = StdioRequest {
        argv: vec!["true".into()],
        cwd: ws.ws.clone(),
        grants: Default::default(),
        env: BTreeMap::new(),
    };
    let mut process = spawn_stdio(&ctx.runtime, &ctx.policy, &req).await.unwrap();
    assert!(process.enforcement.sandboxed);
    let end = process.wait_for_end(Duration::from_secs(5)).await.unwrap();
    assert_eq!(end.code, Some(0), "{end:?}");
    let mut stdin = process.stdin.take().unwrap();
    stdin.write_all(&[b'x'; 4096]).await.unwrap();
    stdin.flush().await.unwrap();
    // A command that cannot be executed ends at once and says why.
    let req = StdioRequest {
        argv: vec!["/nonexistent/server".into()],
        ..req
    };
    let process = spawn_stdio(&ctx.runtime, &ctx.policy, &req).await.unwrap();
    let end = process.wait_for_end(Duration::from_secs(5)).await.unwrap();
    assert!(
        end.describe().contains("cannot run `/nonexistent/server`"),
        "{end:?}"
    );
}
