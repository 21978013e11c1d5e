//! `warden-mcp-test-server`: a small MCP server (rmcp's server side over
//! stdio) for warden's MCP tests. It is an `[[example]]` of the package, not
//! a bin, so that `cargo install` never puts it in a user's PATH; `cargo
//! test` / `cargo nextest run` build it, and the tests find it next to the
//! warden binary (`tests/it/mcp_support/mod.rs`). It is not part of warden.
//!
//! Tools, by annotation:
//! - read-only (`readOnlyHint: true`): `echo`, `read_file`, `get_env`,
//!   `connect`, `log_stderr`, `pid`, `fail`, and the misbehaving `crash` (exits),
//!   `hang` (never answers) and `garble` (writes a non-JSON line, never
//!   answers);
//! - read-only but open-world: `search`;
//! - no annotations at all (worst case): `write_note`;
//! - destructive: `delete_all`.
//!
//! Start-up misbehaviour, by flag: `--exit-at-start CODE`, `--hang-at-start`,
//! `--garbage-at-start`; `--stderr-at-start TEXT` writes TEXT to stderr
//! first; `--page-size N` pages `tools/list` (default 3, so clients must
//! follow cursors).

use std::io::Write;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, ListToolsResult, PaginatedRequestParams, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router,
};
use serde::Deserialize;

#[derive(Debug, Clone)]
struct TestServer {
    tool_router: ToolRouter<Self>,
    page_size: usize,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct TextArg {
    /// The text.
    text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct PathArg {
    /// A file path.
    path: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct NameArg {
    /// An environment variable name.
    name: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct AddrArg {
    /// host:port to connect to.
    addr: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct NoteArg {
    /// Where to write.
    path: String,
    /// What to write.
    text: String,
}

fn text(s: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(s.into())])
}

fn error(s: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(s.into())])
}

#[tool_router]
impl TestServer {
    #[tool(
        description = "Echo the text back.",
        annotations(read_only_hint = true)
    )]
    fn echo(&self, Parameters(a): Parameters<TextArg>) -> CallToolResult {
        text(format!("echo: {}", a.text))
    }

    #[tool(description = "Read a file.", annotations(read_only_hint = true))]
    fn read_file(&self, Parameters(a): Parameters<PathArg>) -> CallToolResult {
        match std::fs::read_to_string(&a.path) {
            Ok(s) => text(s),
            Err(e) => error(format!("cannot read {}: {e}", a.path)),
        }
    }

    #[tool(
        description = "The value of an environment variable, or <unset>.",
        annotations(read_only_hint = true)
    )]
    fn get_env(&self, Parameters(a): Parameters<NameArg>) -> CallToolResult {
        text(std::env::var(&a.name).unwrap_or_else(|_| "<unset>".into()))
    }

    #[tool(
        description = "Open a TCP connection to host:port.",
        annotations(read_only_hint = true)
    )]
    fn connect(&self, Parameters(a): Parameters<AddrArg>) -> CallToolResult {
        let addr = match a.addr.parse() {
            Ok(addr) => addr,
            Err(e) => return error(format!("bad address {}: {e}", a.addr)),
        };
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(_) => text("connected"),
            Err(e) => error(format!("connect {}: {e}", a.addr)),
        }
    }

    #[tool(
        description = "Write the text to stderr.",
        annotations(read_only_hint = true)
    )]
    fn log_stderr(&self, Parameters(a): Parameters<TextArg>) -> CallToolResult {
        eprintln!("{}", a.text);
        text("logged")
    }

    #[tool(
        description = "The server's process id.",
        annotations(read_only_hint = true)
    )]
    fn pid(&self) -> CallToolResult {
        text(std::process::id().to_string())
    }

    #[tool(description = "Always fails.", annotations(read_only_hint = true))]
    fn fail(&self) -> CallToolResult {
        error("failed on purpose")
    }

    #[tool(
        description = "Exit the server with code 3.",
        annotations(read_only_hint = true)
    )]
    fn crash(&self) -> CallToolResult {
        eprintln!("test server: crashing on request");
        std::process::exit(3)
    }

    #[tool(description = "Never answer.", annotations(read_only_hint = true))]
    async fn hang(&self) -> CallToolResult {
        std::future::pending::<()>().await;
        unreachable!()
    }

    #[tool(
        description = "Write a malformed message instead of an answer.",
        annotations(read_only_hint = true)
    )]
    async fn garble(&self) -> CallToolResult {
        {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(b"this is not JSON-RPC\n{\"half\": \n");
            let _ = out.flush();
        }
        std::future::pending::<()>().await;
        unreachable!()
    }

    #[tool(
        description = "Search the web (pretend).",
        annotations(read_only_hint = true, open_world_hint = true)
    )]
    fn search(&self, Parameters(a): Parameters<TextArg>) -> CallToolResult {
        text(format!("no results for {}", a.text))
    }

    /// Write a note to a file (no annotations: the worst case).
    #[tool]
    fn write_note(&self, Parameters(a): Parameters<NoteArg>) -> CallToolResult {
        match std::fs::write(&a.path, &a.text) {
            Ok(()) => text(format!("wrote {}", a.path)),
            Err(e) => error(format!("cannot write {}: {e}", a.path)),
        }
    }

    #[tool(
        description = "Delete everything (pretend).",
        annotations(read_only_hint = false, destructive_hint = true)
    )]
    fn delete_all(&self) -> CallToolResult {
        text("deleted nothing, this is a test")
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for TestServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut all = self.tool_router.list_all();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        let start: usize = match request.and_then(|r| r.cursor) {
            Some(c) => c
                .parse()
                .map_err(|_| ErrorData::invalid_params("bad cursor", None))?,
            None => 0,
        };
        let end = (start + self.page_size).min(all.len());
        Ok(ListToolsResult {
            result_type: None,
            meta: None,
            next_cursor: (end < all.len()).then(|| end.to_string()),
            ttl_ms: None,
            cache_scope: None,
            tools: all.get(start..end).unwrap_or_default().to_vec(),
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut page_size = 3;
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--stderr-at-start" => {
                eprintln!("{value}");
                i += 1;
            }
            "--exit-at-start" => {
                eprintln!("test server: exiting at start as asked");
                std::process::exit(value.parse().unwrap_or(1));
            }
            "--hang-at-start" => std::future::pending::<()>().await,
            "--garbage-at-start" => {
                println!("hello, I am not an MCP server");
                std::future::pending::<()>().await
            }
            "--page-size" => {
                page_size = value.parse().unwrap_or(3).max(1);
                i += 1;
            }
            other => {
                eprintln!("test server: unknown argument {other}");
                std::process::exit(2);
            }
        }
        i += 1;
    }
    let server = TestServer {
        tool_router: TestServer::tool_router(),
        page_size,
    };
    match server.serve(rmcp::transport::stdio()).await {
        Ok(running) => {
            let _ = running.waiting().await;
        }
        Err(e) => {
            eprintln!("test server: {e}");
            std::process::exit(1);
        }
    }
}
