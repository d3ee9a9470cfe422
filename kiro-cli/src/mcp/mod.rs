//! `kiro mcp`: the Model Context Protocol server, so that any coding agent
//! can work spec-first through kiro. A thin layer over the same
//! [`Project`] use cases as the CLI: tools (see [`tools`]) and the spec
//! documents as resources `kiro://specs/<name>/<file>`.
//!
//! Served over stdio (newline-delimited JSON-RPC; nothing but protocol
//! frames goes to standard output, diagnostics go to standard error) or,
//! with `--http`, over MCP's streamable HTTP transport on a loopback
//! address only: the server acts with the rights of the user who runs it
//! and has no authentication of its own.
//!
//! Every call's arguments are checked against the tool's JSON Schema
//! first: a missing, unknown or mistyped field is a JSON-RPC error -32602
//! (invalid params) naming the field. A use case that fails (an unknown
//! spec, a task not ready) is a tool result with `isError: true` carrying
//! the error's message; nothing a client sends stops the server.

mod tools;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use kiro_core::project::Project;
use kiro_core::store::DocKind;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt as _};
use serde_json::{json, Value};

use crate::cli::McpArgs;
use crate::engine;
use crate::workspace::Workspace;

/// The scheme and prefix of a spec document's resource URI.
const RESOURCE_PREFIX: &str = "kiro://specs/";

/// The resource URI of a spec document.
pub(crate) fn resource_uri(spec: &str, file: &str) -> String {
    format!("{RESOURCE_PREFIX}{spec}/{file}")
}

/// The MCP server: the workspace's project and the tool catalogue.
#[derive(Clone)]
pub(crate) struct KiroServer {
    project: Arc<Project>,
    tools: Arc<Vec<tools::ToolSpec>>,
}

impl KiroServer {
    /// A server over the workspace at `root`, configured as the CLI is.
    pub(crate) fn open(root: &std::path::Path) -> Result<KiroServer> {
        Ok(KiroServer {
            project: Arc::new(Project::open(root).map_err(engine::explain)?),
            tools: Arc::new(tools::catalogue()?),
        })
    }

    fn has_memory(&self) -> bool {
        self.project.root().join(".kiro").join("memory.db").exists()
    }

    fn listed_tools(&self) -> Vec<Tool> {
        let memory = self.has_memory();
        self.tools
            .iter()
            .filter(|t| memory || !t.needs_memory)
            .map(|t| {
                let schema = match &t.schema {
                    Value::Object(map) => map.clone(),
                    _ => serde_json::Map::new(),
                };
                Tool::new(t.name, t.description, Arc::new(schema))
            })
            .collect()
    }

    /// The spec documents, as resources.
    fn resources(&self) -> Result<Vec<Resource>, ErrorData> {
        let dirs = self
            .project
            .spec_dirs()
            .map_err(|e| ErrorData::internal_error(format!("{:#}", engine::explain(e)), None))?;
        let mut out = Vec::new();
        for dir in dirs {
            let spec = kiro_core::project::spec_name(&dir);
            for kind in DocKind::ALL {
                let file = kind.file_name();
                if dir.join(file).is_file() {
                    out.push(
                        Resource::new(resource_uri(&spec, file), format!("{spec}/{file}"))
                            .with_mime_type("text/markdown"),
                    );
                }
            }
        }
        Ok(out)
    }

    fn read(&self, uri: &str) -> Result<String, ErrorData> {
        let not_found =
            |why: &str| ErrorData::resource_not_found(format!("no resource {uri}: {why}"), None);
        let Some((spec, file)) = uri
            .strip_prefix(RESOURCE_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        else {
            return Err(not_found("expected kiro://specs/<name>/<file>"));
        };
        if !DocKind::ALL.iter().any(|k| k.file_name() == file) {
            return Err(not_found("not a spec document"));
        }
        let dir = self
            .project
            .spec_dir(spec)
            .map_err(|e| not_found(&format!("{:#}", engine::explain(e))))?;
        let limit = self.project.load_options().max_input_bytes;
        match kiro_core::store::read_text_file(&dir.join(file), limit) {
            Ok(Some(text)) => Ok(text),
            Ok(None) => Err(not_found("the spec has no such document")),
            Err(e) => Err(ErrorData::internal_error(e.to_string(), None)),
        }
    }
}

impl ServerHandler for KiroServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .build(),
        )
        .with_server_info(Implementation::new("kiro", env!("CARGO_PKG_VERSION")))
        .with_instructions(
            "kiro serves the specs of one workspace (.kiro/specs/<name>/). Work spec-first: \
             next_tasks gives the tasks ready now with their briefs; start_task before editing, \
             complete_task when done (tasks.md is updated and a checkpoint written); trace and \
             verify show which acceptance criteria are covered and pass.",
        )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.listed_tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.as_ref();
        let memory = self.has_memory();
        let Some(tool) = self
            .tools
            .iter()
            .find(|t| t.name == name && (memory || !t.needs_memory))
        else {
            return Err(ErrorData::invalid_params(
                format!("unknown tool `{name}`"),
                Some(json!({ "tool": name })),
            ));
        };
        let args = Value::Object(request.arguments.unwrap_or_default());
        let outcome = match tools::validate(tool, &args) {
            Ok(()) => tools::call(self.project.clone(), tool.name, args).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(value) => {
                let text = serde_json::to_string_pretty(&value)
                    .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
                let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
                result.structured_content = Some(value);
                Ok(result.into())
            }
            Err(tools::CallError::InvalidParams { message, fields }) => Err(
                ErrorData::invalid_params(message, Some(json!({ "tool": name, "fields": fields }))),
            ),
            Err(tools::CallError::Tool(message)) => {
                Ok(CallToolResult::error(vec![ContentBlock::text(message)]).into())
            }
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(self.resources()?))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let text = self.read(&request.uri)?;
        let contents = ResourceContents::TextResourceContents {
            uri: request.uri.clone(),
            mime_type: Some("text/markdown".to_owned()),
            text,
            meta: None,
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// Runs `kiro mcp` until the client disconnects (stdio) or the process is
/// interrupted (HTTP).
pub(crate) fn run(ws: &Workspace, args: &McpArgs) -> Result<ExitCode> {
    let server = KiroServer::open(ws.root())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match args.http {
            None => serve_stdio(server).await,
            Some(addr) => serve_http(server, addr).await,
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn serve_stdio(server: KiroServer) -> Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP client did not initialize the session")?;
    running.waiting().await.context("the MCP session failed")?;
    Ok(())
}

async fn serve_http(server: KiroServer, addr: SocketAddr) -> Result<()> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

    if !addr.ip().is_loopback() {
        bail!(
            "refusing to serve MCP on {addr}: kiro mcp has no authentication and listens on \
             loopback addresses only (127.0.0.1, ::1)"
        );
    }
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let bound = listener.local_addr()?;
    // The bound address goes to standard error: with port 0 it is the only
    // way a caller learns the port.
    eprintln!("kiro mcp: listening on http://{bound}/mcp");
    // Sessions as MCP's streamable HTTP describes them (responses as SSE
    // events); the default allowed hosts are the loopback names.
    let config = StreamableHttpServerConfig::default();
    let service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => accepted.context("cannot accept a connection")?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let service = service.clone();
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let handler = hyper::service::service_fn(move |req| {
                let mut service = service.clone();
                async move { tower_service::Service::call(&mut service, req).await }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, handler)
                .await
            {
                eprintln!("kiro mcp: connection error: {e}");
            }
        });
    }
}
