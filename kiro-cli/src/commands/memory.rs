//! `kiro memory`: the workspace's memory store (`.kiro/memory.db`, see
//! `kiro_memory`): add, list, show, search, forget, ingest, recall, export
//! and import. Every memory's text is untrusted (it may come from a review
//! comment): text output goes through [`output::print_escaped`].

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, Context, Result};
use kiro_core::escape::escape_control;
use kiro_core::memory::RecallReason;
use kiro_memory::github::{GitHubClient, PullRequest, Token};
use kiro_memory::ingest::{parse_github, parse_rfc3339_ms, Format, IngestReport, Ingestor};
use kiro_memory::steering::{self, MemoryExport, SteeringNote, SteeringOptions};
use kiro_memory::{
    AddOutcome, Kind, ListFilter, MemoryId, MemoryRecord, MemoryStore, NewMemory, RecallContext,
    Scope, Source,
};
use schemars::JsonSchema;
use serde::Serialize;

use crate::cli::{
    IngestFormat, MemoryAddArgs, MemoryExportArgs, MemoryFileFormat, MemoryImportArgs,
    MemoryIngestArgs, MemoryListArgs, MemoryRecallArgs, MemorySearchArgs, MemoryShowArgs,
    TextOrJson,
};
use crate::output;
use crate::workspace::Workspace;

/// What `kiro memory list|show|search|recall --format json` print (`kiro
/// schema memory`): the memories, with a search's or recall's score, and
/// why recall chose each.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct MemoryListing {
    /// The memories, in the command's order (list: oldest first; search
    /// and recall: best first).
    pub(crate) memories: Vec<ListedMemory>,
}

/// One memory of a [`MemoryListing`].
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct ListedMemory {
    /// The memory as stored.
    pub(crate) memory: MemoryRecord,
    /// Search: BM25 relevance; recall: the rank score (higher is better).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) score: Option<f64>,
    /// Recall: every reason it was chosen, the strongest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) reasons: Vec<RecallReason>,
    /// Recall: the tokens it takes of the budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tokens: Option<u32>,
}

impl ListedMemory {
    fn of(memory: MemoryRecord) -> ListedMemory {
        ListedMemory {
            memory,
            score: None,
            reasons: Vec::new(),
            tokens: None,
        }
    }
}

/// The workspace's store, created on first use.
fn open(ws: &Workspace) -> Result<MemoryStore> {
    MemoryStore::open_workspace(ws.root()).context("cannot open the memory store")
}

fn parse_id(text: &str) -> Result<MemoryId> {
    text.parse::<MemoryId>()
        .map_err(|_| anyhow!("`{}` is not a memory id", escape_control(text)))
}

fn parse_kind(text: &str) -> Result<Kind> {
    text.parse::<Kind>().map_err(|_| {
        anyhow!(
            "unknown kind `{}`: expected rule, preference, fact or lesson",
            escape_control(text)
        )
    })
}

/// `global`, `repository:NAME`, `path:GLOB` or `spec:NAME`, as scopes display.
fn parse_scope(text: &str) -> Result<Scope> {
    let (kind, value) = text.split_once(':').unwrap_or((text, ""));
    let scope = match kind {
        "global" if value.is_empty() => Scope::Global,
        "repository" | "path" | "spec" if !value.is_empty() => Scope::from_parts(kind, value)?,
        _ => {
            return Err(anyhow!(
                "unknown scope `{}`: expected global, repository:NAME, path:GLOB or spec:NAME",
                escape_control(text)
            ))
        }
    };
    Ok(scope)
}

/// Unix milliseconds as an HTTP date, for people.
fn time(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    httpdate::fmt_http_date(at)
}

/// Prints a listing as JSON or one line per memory.
fn print_listing(listing: &MemoryListing, format: TextOrJson) -> Result<()> {
    match format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(listing)?),
        TextOrJson::Text => {
            let mut out = String::new();
            for m in &listing.memories {
                let r = &m.memory;
                let _ = write!(out, "#{} [{}] {}", r.id, r.kind, r.scope);
                if let Some(score) = m.score {
                    let _ = write!(out, " score {score:.3}");
                }
                if !r.is_current() {
                    out.push_str(" (superseded)");
                }
                let _ = writeln!(out, ": {}", r.title);
                if !m.reasons.is_empty() {
                    let why: Vec<String> = m.reasons.iter().map(ToString::to_string).collect();
                    let _ = writeln!(out, "    because: {}", why.join("; "));
                }
            }
            if listing.memories.is_empty() {
                out.push_str("no memories\n");
            }
            output::print_escaped(&out)
        }
    }
}

/// Reads `path`, or standard input for `-`, bounded by the workspace's
/// input limit.
fn read_text(ws: &Workspace, path: &Path) -> Result<String> {
    super::read_input(ws, path)
}

/// `kiro memory add`.
pub(super) fn add(ws: &Workspace, args: &MemoryAddArgs) -> Result<ExitCode> {
    let text = if args.text == "-" {
        read_text(ws, Path::new("-"))?
    } else {
        args.text.clone()
    };
    let mut new = NewMemory::new(text)
        .kind(parse_kind(&args.kind)?)
        .scope(parse_scope(&args.scope)?);
    if let Some(title) = &args.title {
        new = new.title(title.clone());
    }
    if let Some(url) = &args.source {
        new = new.source(Source::url(url.clone()));
    }
    let store = open(ws)?;
    let outcome = store.add(new).context("cannot add the memory")?;
    output::println(&describe(&outcome))?;
    Ok(ExitCode::SUCCESS)
}

/// One line saying what an add did.
fn describe(outcome: &AddOutcome) -> String {
    let ids = |ids: &[MemoryId]| {
        ids.iter()
            .map(|i| format!("#{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match outcome {
        AddOutcome::Inserted { id } => format!("added memory #{id}"),
        AddOutcome::Merged { into, similarity } => {
            format!("merged into memory #{into} (similarity {similarity:.2})")
        }
        AddOutcome::Superseded { id, old } => {
            format!("added memory #{id}, superseding {}", ids(old))
        }
        AddOutcome::Outdated { id, by } => {
            format!("added memory #{id}, already superseded by #{by}")
        }
        // The outcome enum may grow; its id is still the memory's.
        #[allow(unreachable_patterns, reason = "AddOutcome may gain variants")]
        other => format!("stored memory #{}", other.id()),
    }
}

/// `kiro memory list`.
pub(super) fn list(ws: &Workspace, args: &MemoryListArgs) -> Result<ExitCode> {
    let mut filter = ListFilter::new().include_superseded(args.all);
    if let Some(kind) = &args.kind {
        filter = filter.kind(parse_kind(kind)?);
    }
    if let Some(at) = &args.as_of {
        let ms = parse_rfc3339_ms(at).ok_or_else(|| {
            anyhow!(
                "--as-of `{}` is not an RFC 3339 time (2026-01-31T12:00:00Z)",
                escape_control(at)
            )
        })?;
        filter = filter.as_of(ms);
    }
    if let Some(n) = args.limit {
        filter = filter.limit(n);
    }
    let memories = open(ws)?
        .list(&filter)
        .context("cannot list the memories")?;
    let listing = MemoryListing {
        memories: memories.into_iter().map(ListedMemory::of).collect(),
    };
    print_listing(&listing, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro memory show`.
pub(super) fn show(ws: &Workspace, args: &MemoryShowArgs) -> Result<ExitCode> {
    let id = parse_id(&args.id)?;
    let memory = open(ws)?
        .get(id)
        .context("cannot read the memory")?
        .ok_or_else(|| anyhow!("no memory with id {id}"))?;
    if args.format == TextOrJson::Json {
        let listing = MemoryListing {
            memories: vec![ListedMemory::of(memory)],
        };
        print_listing(&listing, args.format)?;
        return Ok(ExitCode::SUCCESS);
    }
    let m = &memory;
    let mut out = format!(
        "memory #{}: {}\nkind: {}\nscope: {}\nconfidence: {:.2}\ncreated: {}\nupdated: {}\nvalid from: {}\n",
        m.id,
        m.title,
        m.kind,
        m.scope,
        m.confidence,
        time(m.created_at),
        time(m.updated_at),
        time(m.valid_from)
    );
    if let Some(end) = m.invalid_at {
        let _ = write!(out, "superseded: {}", time(end));
        if let Some(by) = m.superseded_by {
            let _ = write!(out, " by #{by}");
        }
        out.push('\n');
    }
    let _ = write!(out, "recalled: {} times", m.use_count);
    if let Some(last) = m.last_used {
        let _ = write!(out, ", last {}", time(last));
    }
    out.push('\n');
    for source in &m.sources {
        let _ = writeln!(out, "source: {}", source.describe());
    }
    out.push('\n');
    for line in m.content.lines() {
        let _ = writeln!(out, "    {line}");
    }
    output::print_escaped(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro memory search`.
pub(super) fn search(ws: &Workspace, args: &MemorySearchArgs) -> Result<ExitCode> {
    let hits = open(ws)?
        .search(&args.query, args.limit)
        .context("cannot search the memories")?;
    let listing = MemoryListing {
        memories: hits
            .into_iter()
            .map(|h| ListedMemory {
                score: Some(h.score),
                ..ListedMemory::of(h.memory)
            })
            .collect(),
    };
    print_listing(&listing, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro memory forget`.
pub(super) fn forget(ws: &Workspace, args: &MemoryShowArgs) -> Result<ExitCode> {
    let id = parse_id(&args.id)?;
    if !open(ws)?.forget(id).context("cannot forget the memory")? {
        return Err(anyhow!("no memory with id {id}"));
    }
    output::println(&format!("forgot memory #{id}"))?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro memory recall`.
pub(super) fn recall(ws: &Workspace, args: &MemoryRecallArgs) -> Result<ExitCode> {
    let mut context = RecallContext::new(args.text.clone());
    for path in &args.paths {
        context = context.path(path.clone());
    }
    if let Some(spec) = &args.spec {
        context = context.spec(spec.clone());
    }
    if let Some(n) = args.limit {
        context = context.limit(n);
    }
    let recalled = open(ws)?
        .recall(&context, args.budget)
        .context("cannot recall")?;
    let listing = MemoryListing {
        memories: recalled
            .into_iter()
            .map(|r| ListedMemory {
                score: Some(r.score),
                reasons: r.reasons,
                tokens: Some(r.tokens),
                ..ListedMemory::of(r.memory)
            })
            .collect(),
    };
    print_listing(&listing, args.format)?;
    Ok(ExitCode::SUCCESS)
}

/// `kiro memory ingest`.
pub(super) fn ingest(ws: &Workspace, args: &MemoryIngestArgs) -> Result<ExitCode> {
    let store = open(ws)?;
    let ingestor = Ingestor::new();
    let report = if let Some(pr) = &args.github {
        let pr: PullRequest = pr.parse()?;
        let client = match &args.github_api {
            None => GitHubClient::from_env(),
            Some(base) => {
                let mut client = GitHubClient::builder().base_url(base.clone());
                if let Some(token) = std::env::var("GITHUB_TOKEN")
                    .ok()
                    .filter(|t| !t.trim().is_empty())
                {
                    client = client.token(Token::new(token.trim()));
                }
                client.build()
            }
        };
        client
            .ingest(&pr, &ingestor, &store)
            .with_context(|| format!("cannot ingest the review feedback of {pr}"))?
    } else {
        // Read here rather than by `Ingestor::ingest_file`: standard input
        // too, and never more than the workspace's input limit.
        let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
        let text = read_text(ws, &path)?;
        let name = path.display().to_string();
        let format = match args.format {
            Some(IngestFormat::Github) => Format::GitHub,
            Some(IngestFormat::Text) => Format::Text,
            None => Format::detect(&text),
        };
        match format {
            Format::GitHub => {
                let parsed = parse_github(&name, &text)?;
                let mut report = ingestor.ingest(&store, &parsed.comments)?;
                report.diagnostics = parsed.diagnostics;
                report
            }
            Format::Text => {
                let source = (path != Path::new("-")).then(|| Source::url(name.clone()));
                ingestor.ingest_note(&store, &text, source)?
            }
        }
    };
    for line in &report.diagnostics {
        eprintln!("skipped: {}", escape_control(line));
    }
    match args.report {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&report)?)?,
        TextOrJson::Text => output::print_escaped(&ingest_summary(&report))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Counts, then one line per rejected item.
fn ingest_summary(report: &IngestReport) -> String {
    let rejected: Vec<_> = report.rejected().collect();
    let mut out = format!(
        "{} items: {} lessons stored, {} merged into existing memories, {} chatter, {} rejected\n",
        report.items.len(),
        report.stored(),
        report.merged(),
        report.chatter(),
        rejected.len()
    );
    for (item, rejection) in rejected {
        let what = item
            .url
            .clone()
            .or_else(|| item.comment.map(|c| format!("comment {c}")))
            .unwrap_or_else(|| "an item".to_owned());
        let _ = writeln!(out, "rejected {what}: {rejection}");
    }
    out
}

/// Prints import and export notes to standard error.
fn print_notes(notes: &[SteeringNote]) {
    for note in notes {
        let at = note.line.map(|l| format!(":{l}")).unwrap_or_default();
        eprintln!(
            "note: {}{at}: {}",
            escape_control(&note.subject),
            escape_control(&note.message)
        );
    }
}

/// `kiro memory export`.
pub(super) fn export(ws: &Workspace, args: &MemoryExportArgs) -> Result<ExitCode> {
    let store = open(ws)?;
    match args.format {
        MemoryFileFormat::Json => {
            let export = steering::export_json(&store).context("cannot export the memories")?;
            let text = format!("{}\n", serde_json::to_string_pretty(&export)?);
            match &args.out {
                Some(path) => kiro_core::store::write_atomic(path, text.as_bytes())
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => output::print(&text)?,
            }
        }
        MemoryFileFormat::Steering => {
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| ws.root().join(steering::STEERING_DIR));
            let report =
                steering::export_steering(&store, &dir).context("cannot export the memories")?;
            print_notes(&report.notes);
            let mut out = format!(
                "exported {} memories to {} steering files\n",
                report.exported,
                report.written.len()
            );
            for path in &report.written {
                let _ = writeln!(out, "wrote {}", ws.display(path).display());
            }
            output::print_escaped(&out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kiro memory import`.
pub(super) fn import(ws: &Workspace, args: &MemoryImportArgs) -> Result<ExitCode> {
    let store = open(ws)?;
    let outcomes = match args.format {
        MemoryFileFormat::Steering => {
            let report = steering::import_steering(&store, ws.root(), &SteeringOptions::default())
                .context("cannot import the steering files")?;
            print_notes(&report.notes);
            report.outcomes
        }
        MemoryFileFormat::Json => {
            let path = args.file.clone().unwrap_or_else(|| PathBuf::from("-"));
            let text = read_text(ws, &path)?;
            let export: MemoryExport = serde_json::from_str(&text).with_context(|| {
                format!("{} is not a `kiro memory export` document", path.display())
            })?;
            steering::import_json(&store, &export).context("cannot import the memories")?
        }
    };
    let merged = outcomes
        .iter()
        .filter(|o| matches!(o, AddOutcome::Merged { .. }))
        .count();
    output::println(&format!(
        "imported {} memories: {} new, {merged} merged into existing ones",
        outcomes.len(),
        outcomes.len() - merged
    ))?;
    Ok(ExitCode::SUCCESS)
}
