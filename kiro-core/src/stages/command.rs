//! [`CommandExecutor`], which runs a configured program once per task (how a
//! coding agent CLI is plugged in), and [`task_brief`], the markdown brief
//! that program reads on standard input.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::confine::Confiner;
use crate::config::ExecutorConfig;
use crate::format::format_id_list;
use crate::format::markdown::indent_rest;
use crate::links::SpecLinks;
use crate::process::Output;
use crate::sandbox::{Launcher, SandboxMode, Support};
use crate::spec::{AcceptanceCriterion, CorrectnessProperty, Section, Spec, SpecKind, Task};
use crate::stage::PipelineEvent;
use crate::stage::{Executor, StageContext, StageError, TaskOutcome};

/// How many characters of the last output line a done outcome's summary keeps.
const SUMMARY_CHARS: usize = 200;

/// How many bytes of output a failed outcome keeps as evidence (the end).
const EVIDENCE_BYTES: usize = 16 * 1024;

/// The longest brief passed as one command-line argument, in bytes. Linux
/// refuses a single argument of 32 pages (128 KiB, `MAX_ARG_STRLEN`) or
/// more with `E2BIG`; checking first turns that into an error naming the
/// task and the limit instead of a failed spawn.
pub const MAX_BRIEF_ARGUMENT_BYTES: usize = 128 * 1024 - 1;

/// Where a command reads the [`task_brief`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BriefInput {
    /// On standard input (the default): the brief has no size limit and
    /// stays out of the process list.
    #[default]
    Stdin,
    /// As one more argument at the end of the command line, for a tool that
    /// takes its prompt only as an argument; standard input is then empty.
    /// A brief longer than [`MAX_BRIEF_ARGUMENT_BYTES`] fails the task with
    /// [`StageError::Invalid`] before anything runs.
    Argument,
}

/// Runs a configured command once per task: how any coding-agent CLI is
/// plugged in.
///
/// For each task the command (no shell) runs in the root of a workspace
/// repository (the first one unless [`CommandExecutor::repo`] names
/// another), with the [`task_brief`] on standard input (or as its last
/// argument, [`BriefInput::Argument`]) and these environment variables:
///
/// | Variable | Value |
/// |---|---|
/// | `KIRO_WORKSPACE` | the root of the repository the command runs in (the one set with [`CommandExecutor::repo`], else the task's first) |
/// | `KIRO_REPOS` | the task's repositories, comma-separated, the one it runs in first |
/// | `KIRO_SPEC` | the spec's name |
/// | `KIRO_TASK_ID` | the task's id (`2.1`) |
/// | `KIRO_TASK_TITLE` | the task's title |
/// | `KIRO_RUN_ID` | the run's id, empty outside the engine |
///
/// The command must be allowed by the workspace policy
/// ([`Workspace::check_command`](crate::workspace::Workspace::check_command));
/// a denied command is [`StageError::Core`] and nothing runs. Exit code 0 is
/// a done outcome whose summary is the last non-empty line of standard
/// output; any other end is a failed outcome with `exit N` (or `killed by
/// signal N`) as summary and the end of standard error (of standard output
/// when standard error is empty) as evidence. A timeout is
/// [`StageError::Timeout`] and cancellation [`StageError::Cancelled`]; in both
/// cases the command's whole process group has been stopped.
///
/// # Sandbox
///
/// With a [`Launcher`] ([`CommandExecutor::launcher`]), the command runs
/// confined by the kernel (see [`crate::sandbox`]) under the sandbox mode
/// ([`CommandExecutor::sandbox`], else `[policy] sandbox` of the context's
/// config): on Linux with Landlock it may write only beneath the
/// directories of [`Policy::writable_roots`](crate::workspace::Policy::writable_roots)
/// in its repository, a private temporary directory (its `TMPDIR`, removed
/// after the task) and `/dev`; it gets `SIGKILL` if kiro dies; and where kiro
/// may create cgroups, everything it started is killed when it ends, even
/// processes that left its process group. A writable directory that does
/// not exist yet is created first (only inside the repository), so that a
/// task can write the first file of `src/`; one that resolves outside the
/// repository through a symbolic link is not granted. Each outcome records
/// what was in force in [`TaskOutcome::sandbox`], and a
/// [`PipelineEvent::Message`] says it in one line (`sandbox: landlock
/// enforced (ABI 7), writable: src/ ...`).
///
/// In `enforce` mode, a command that cannot be confined (no launcher, no
/// Landlock, a ruleset the kernel only partly enforces) does not run: the
/// task fails with [`SandboxError::Refused`](crate::sandbox::SandboxError::Refused) (inside [`StageError::Core`] as
/// [`Error::Backend`](crate::Error::Backend)) naming the reason. In `best-effort` mode it runs
/// unconfined and the report says why; without a launcher it runs as a
/// plain child process, as without a sandbox.
///
/// ```
/// # tokio::runtime::Runtime::new()?.block_on(async {
/// use kiro_core::spec::{Spec, Task, TaskId};
/// use kiro_core::stage::{Executor, OutcomeStatus, StageContext};
/// use kiro_core::stages::CommandExecutor;
/// use kiro_core::workspace::{Policy, Workspace};
///
/// let dir = tempfile::tempdir()?;
/// let policy = Policy { commands: vec!["sh".into()], ..Policy::default() };
/// let ws = Workspace::builder().repo("main", dir.path()).policy(policy).build()?;
/// let cx = StageContext::builder(ws).spec_name("notes").build();
/// let task = Task { id: Some(TaskId::new("1")), title: "Create the model".into(), ..Task::default() };
///
/// let exec = CommandExecutor::new(["sh", "-c", "echo \"did $KIRO_TASK_ID of $KIRO_SPEC\""]);
/// let outcome = exec.execute(&task, &Spec::default(), &cx).await?;
/// assert_eq!(outcome.status, OutcomeStatus::Done);
/// assert_eq!(outcome.summary, "did 1 of notes");
/// # Ok::<(), Box<dyn std::error::Error>>(()) })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct CommandExecutor {
    argv: Vec<String>,
    timeout: Option<Duration>,
    repo: Option<String>,
    env: Vec<(String, String)>,
    /// Launcher, mode override and state directories; clones share the
    /// counter that names task cgroups.
    confiner: Confiner,
    brief: BriefInput,
}

impl CommandExecutor {
    /// Runs this command line (`argv[0]` is the program) for every task,
    /// without a time limit.
    pub fn new<I, S>(argv: I) -> CommandExecutor
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CommandExecutor {
            argv: argv.into_iter().map(Into::into).collect(),
            timeout: None,
            repo: None,
            env: Vec::new(),
            confiner: Confiner::new(),
            brief: BriefInput::Stdin,
        }
    }

    /// The executor `[executor]` of `.kiro/config.toml` describes, with its
    /// `timeout_secs` (0 means no limit): its `command`, else the command
    /// line of its `preset` ([`CommandExecutor::preset`]); `None` when it
    /// names neither. (A config file cannot set both; a value built in code
    /// that does runs the explicit `command`.)
    pub fn from_config(cfg: &ExecutorConfig) -> Option<CommandExecutor> {
        let mut exec = match (
            cfg.command.as_ref().filter(|argv| !argv.is_empty()),
            cfg.preset,
        ) {
            (Some(argv), _) => CommandExecutor::new(argv),
            (None, Some(preset)) => CommandExecutor::preset(preset),
            (None, None) => return None,
        };
        for dir in &cfg.state_dirs {
            exec = exec.state_dir(expand_home(dir));
        }
        Some(if cfg.timeout_secs > 0 {
            exec.timeout(Duration::from_secs(cfg.timeout_secs))
        } else {
            exec
        })
    }

    /// Lets the confined agent also write beneath `dir`, a directory outside
    /// the workspace where the agent program keeps its own state (caches,
    /// sessions, credentials it refreshes). Without it such a program fails
    /// under the sandbox with "permission denied". Writes there are not
    /// checkpointed, detected or rolled back: grant only what the agent
    /// needs. A directory that does not exist or is not absolute is not
    /// granted (the report's `writable` list shows what was).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.confiner = self.confiner.state_dir(dir);
        self
    }

    /// Stops a task's command after this long ([`StageError::Timeout`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs in the root of this workspace repository (default: the task's
    /// first repository, [`StageContext::task_repos`], else the workspace's
    /// default one).
    pub fn repo(mut self, name: impl Into<String>) -> Self {
        self.repo = Some(name.into());
        self
    }

    /// Sets an extra environment variable for the command; the `KIRO_*`
    /// variables above always take their documented values.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs each task's command through this launcher, which confines it
    /// before it starts (see the type's "Sandbox" section). The kiro CLI
    /// passes its own executable and hidden `__sandbox` subcommand.
    pub fn launcher(mut self, launcher: Launcher) -> Self {
        self.confiner = self.confiner.launcher(launcher);
        self
    }

    /// The sandbox mode, instead of `[policy] sandbox` of the context's config.
    pub fn sandbox(mut self, mode: SandboxMode) -> Self {
        self.confiner = self.confiner.mode(mode);
        self
    }

    /// Takes this as the kernel's Landlock support instead of asking the
    /// kernel ([`landlock_support`](crate::sandbox::landlock_support)); the launcher is told too. Only an
    /// unavailable support changes anything: it simulates a kernel without
    /// Landlock, which is how `enforce`'s refusal is tested on one with it.
    pub fn landlock_support(mut self, support: Support) -> Self {
        self.confiner = self.confiner.landlock_support(support);
        self
    }

    /// Where the command reads the task brief (default
    /// [`BriefInput::Stdin`]).
    pub fn brief_input(mut self, input: BriefInput) -> Self {
        self.brief = input;
        self
    }

    /// The command line (without the brief, when it goes at the end).
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Where the command reads the task brief.
    pub fn brief(&self) -> BriefInput {
        self.brief
    }
}

/// `dir` with a leading `~/` replaced by the home directory (`HOME`); other
/// paths as they are.
fn expand_home(dir: &Path) -> PathBuf {
    match (dir.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => dir.to_owned(),
    }
}

#[async_trait]
impl Executor for CommandExecutor {
    async fn execute(
        &self,
        task: &Task,
        spec: &Spec,
        cx: &StageContext,
    ) -> Result<TaskOutcome, StageError> {
        let id = task.id.clone().ok_or_else(|| {
            StageError::invalid(format!("task {:?} has no id", task.title.trim()))
        })?;
        let ws = cx.workspace();
        let repo = super::repo_or_first(cx, self.repo.as_ref());
        // The policy sees the configured command line: the brief is data,
        // and a denial should not quote a whole brief back. The task's
        // repository may narrow the commands allowed.
        ws.check_command_in(&repo, &self.argv)?;
        let brief = task_brief(task, spec);
        let (argv, stdin) = match self.brief {
            BriefInput::Stdin => (self.argv.clone(), Some(brief.into_bytes())),
            BriefInput::Argument if brief.len() > MAX_BRIEF_ARGUMENT_BYTES => {
                return Err(StageError::invalid(format!(
                    "the brief of task {id} is {} bytes, more than the {MAX_BRIEF_ARGUMENT_BYTES} \
                     one command-line argument may hold; use an agent that reads it on standard input",
                    brief.len()
                )));
            }
            BriefInput::Argument => {
                let mut argv = self.argv.clone();
                argv.push(brief);
                (argv, None)
            }
        };
        let root = ws.root(&repo)?.to_path_buf();
        let spec_name = if spec.name.is_empty() {
            cx.spec_name()
        } else {
            spec.name.as_str()
        };

        let (mut cmd, confined) = self.confiner.prepare(
            cx.config().policy.sandbox,
            &root,
            &ws.policy().writable_roots(),
            &argv,
        )?;
        if let Some(bytes) = stdin {
            cmd = cmd.stdin(bytes);
        }
        for (k, v) in &self.env {
            cmd = cmd.env(k, v);
        }
        cmd = cmd
            .env("KIRO_WORKSPACE", &root)
            .env("KIRO_SPEC", spec_name)
            .env("KIRO_TASK_ID", id.as_str())
            .env("KIRO_TASK_TITLE", task.title.as_str())
            .env("KIRO_RUN_ID", cx.run_id().map_or("", |r| r.as_str()))
            .env("KIRO_REPOS", task_repos(cx, &repo));
        // The private temporary directory wins over a configured TMPDIR:
        // under Landlock it is the only temporary place the agent may write.
        if let Some(temp) = confined.temp_dir() {
            for var in ["TMPDIR", "TMP", "TEMP"] {
                cmd = cmd.env(var, temp);
            }
        }
        if let Some(t) = self.timeout {
            cmd = cmd.timeout(t);
        }

        let out = cmd.run(cx.cancel()).await?;
        if out.cancelled {
            return Err(StageError::Cancelled);
        }
        let report = confined.report(&out)?;
        cx.events().send(PipelineEvent::Message {
            node: cx.node().to_owned(),
            text: format!("sandbox: {report}"),
        });
        if out.timed_out {
            return Err(StageError::Timeout(self.timeout.unwrap_or(out.duration)));
        }
        let mut outcome = if out.success() {
            TaskOutcome::done(id, summary_line(&out.stdout))
        } else {
            TaskOutcome::failed(id, failure_summary(&out), evidence(&out))
        };
        outcome.duration_ms = u64::try_from(out.duration.as_millis()).unwrap_or(u64::MAX);
        outcome.sandbox = Some(report);
        Ok(outcome)
    }
}

/// The last non-empty line of `stdout`, shortened to [`SUMMARY_CHARS`], or `exit 0`.
/// `KIRO_REPOS`: the task's repositories, comma-separated, with `repo` (the
/// one the command runs in) first.
fn task_repos(cx: &StageContext, repo: &str) -> String {
    let mut names = vec![repo];
    names.extend(
        cx.task_repos()
            .iter()
            .map(String::as_str)
            .filter(|r| *r != repo),
    );
    names.join(",")
}

fn summary_line(stdout: &str) -> String {
    let Some(line) = stdout.lines().map(str::trim).rfind(|l| !l.is_empty()) else {
        return "exit 0".to_owned();
    };
    if line.chars().count() <= SUMMARY_CHARS {
        return line.to_owned();
    }
    let mut short: String = line.chars().take(SUMMARY_CHARS).collect();
    short.push('…');
    short
}

/// `exit N`, or `killed by signal N` when a signal ended the command.
fn failure_summary(out: &Output) -> String {
    match (out.code, out.signal) {
        (Some(code), _) => format!("exit {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "ended without an exit code".to_owned(),
    }
}

/// The end of standard error (of standard output when standard error is
/// empty), at most [`EVIDENCE_BYTES`] long.
fn evidence(out: &Output) -> String {
    let text = if out.stderr.trim().is_empty() {
        &out.stdout
    } else {
        &out.stderr
    };
    let text = text.trim_end();
    if text.len() <= EVIDENCE_BYTES {
        return text.to_owned();
    }
    let mut start = text.len().saturating_sub(EVIDENCE_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!(
        "[kiro: earlier output not kept]\n{}",
        text.get(start..).unwrap_or_default()
    )
}

/// The markdown brief given to an executor for one task.
///
/// It holds, in this order: the task's title and id, the spec's name, the
/// parent task, the tasks it depends on (with their titles) and its links;
/// the task's text (title and details); the text of every requirement or
/// criterion it links (`_Requirements: ..._`), grouped by requirement with
/// the user story, or by behaviour group for a bugfix spec, plus any link the
/// spec does not define; the correctness properties that validate those
/// criteria or that the task names; and the design sections relevant to
/// them: the overview, and every section whose title or body mentions a
/// linked criterion id (`1.2`), a linked requirement (`Requirement 1`) or a
/// linked requirement's title. Parts with nothing to say are left out. The
/// same task and spec always give the same text.
///
/// ```
/// use kiro_core::format::{parse_requirements, parse_tasks};
/// use kiro_core::spec::Spec;
/// use kiro_core::stages::task_brief;
///
/// let reqs = "# Requirements Document\n\n## Requirements\n\n### Requirement 1: Save\n\n#### Acceptance Criteria\n\n1. WHEN a user saves, THE App SHALL store the note\n";
/// let tasks = "# Implementation Plan\n\n- [ ] 1. Store notes\n  - Write the repository\n  - _Requirements: 1.1_\n";
/// let spec = Spec {
///     name: "notes".into(),
///     requirements: Some(parse_requirements(reqs).value),
///     tasks: Some(parse_tasks(tasks).value),
///     ..Spec::default()
/// };
/// let brief = task_brief(&spec.tasks.as_ref().unwrap().tasks[0], &spec);
/// assert!(brief.starts_with("# Task 1: Store notes\n"));
/// assert!(brief.contains("- 1.1: WHEN a user saves, THE App SHALL store the note\n"));
/// ```
pub fn task_brief(task: &Task, spec: &Spec) -> String {
    let mut out = String::new();
    let id = task.id.as_ref().map_or("", |id| id.as_str());
    let title_line = task.title.split_whitespace().collect::<Vec<_>>().join(" ");
    if id.is_empty() {
        out.push_str(&format!("# Task: {title_line}\n\n"));
    } else {
        out.push_str(&format!("# Task {id}: {title_line}\n\n"));
    }

    // Facts about the task, one bullet each.
    let all_tasks: Vec<&Task> = spec.tasks.as_ref().map_or_else(Vec::new, |t| t.all_tasks());
    let task_title = |wanted: &str| {
        all_tasks
            .iter()
            .find(|t| t.id.as_ref().is_some_and(|i| i.as_str() == wanted))
            .map(|t| t.title.split_whitespace().collect::<Vec<_>>().join(" "))
    };
    let mut facts: Vec<String> = Vec::new();
    if !spec.name.is_empty() {
        let kind = match spec.kind {
            SpecKind::Feature => "feature",
            SpecKind::Bugfix => "bugfix",
        };
        facts.push(format!("Spec: {} ({kind})", spec.name));
    }
    if let Some(parent) = task.id.as_ref().and_then(|i| i.parent()) {
        match task_title(parent.as_str()) {
            Some(t) => facts.push(format!("Part of: task {parent} ({t})")),
            None => facts.push(format!("Part of: task {parent}")),
        }
    }
    if !task.depends_on.is_empty() {
        let deps: Vec<String> = task
            .depends_on
            .iter()
            .map(|d| match task_title(d.as_str()) {
                Some(t) => format!("{d} ({t})"),
                None => d.to_string(),
            })
            .collect();
        facts.push(format!("Depends on: {}", deps.join(", ")));
    }
    if !task.requirements.is_empty() {
        facts.push(format!(
            "Requirements: {}",
            format_id_list(task.requirements.iter().map(|c| c.as_str()))
        ));
    }
    if !task.properties.is_empty() {
        facts.push(format!(
            "Properties: {}",
            format_id_list(task.properties.iter().map(|p| p.as_str()))
        ));
    }
    if task.optional {
        facts.push("Optional: yes".to_owned());
    }
    for fact in &facts {
        out.push_str(&format!("- {fact}\n"));
    }
    if !facts.is_empty() {
        out.push('\n');
    }

    // The task itself.
    out.push_str("## Task\n\n");
    out.push_str(task.title.trim());
    out.push('\n');
    // Bullets in a row form one list; a block stands apart from its neighbours.
    let mut prev_block = true;
    for d in &task.details {
        match d.strip_prefix('\n') {
            Some(block) => {
                out.push('\n');
                out.push_str(block.trim_end());
                out.push('\n');
                prev_block = true;
            }
            None => {
                if prev_block {
                    out.push('\n');
                }
                out.push_str("- ");
                out.push_str(&indent_rest(d.trim_end(), 2));
                out.push('\n');
                prev_block = false;
            }
        }
    }

    // Links resolve as everywhere else (`links::SpecLinks`): a
    // requirement-level id (`6`) names every criterion of requirement 6.
    let spec_links = SpecLinks::new(spec);
    let linked: BTreeSet<usize> = spec_links
        .resolve_all(&task.requirements)
        .into_iter()
        .collect();
    let linked_criteria: BTreeSet<&str> = linked
        .iter()
        .filter_map(|&i| spec_links.criteria().get(i))
        .map(|c| c.id.as_str())
        .collect();
    let names_requirement = |r: &str| {
        task.requirements
            .iter()
            .any(|c| c.is_requirement_level() && c.as_str() == r)
    };
    let groups = criterion_groups(spec);
    let mut linked_ids: Vec<&str> = Vec::new();
    let mut linked_reqs: Vec<(&str, &str)> = Vec::new();
    let mut reqs_text = String::new();
    for group in &groups {
        let whole = group.requirement.is_some_and(names_requirement);
        let picked: Vec<&AcceptanceCriterion> = group
            .criteria
            .iter()
            .filter(|c| linked_criteria.contains(c.id.as_str()))
            .collect();
        if !whole && picked.is_empty() {
            continue;
        }
        if let Some(r) = group.requirement {
            linked_reqs.push((r, group.title));
        }
        reqs_text.push_str(&format!("\n### {}\n", group.heading));
        if let Some(story) = &group.story {
            reqs_text.push_str(&format!("\n{story}\n"));
        }
        if !picked.is_empty() {
            reqs_text.push('\n');
        }
        for c in picked {
            linked_ids.push(c.id.as_str());
            reqs_text.push_str(&format!("- {}: {}\n", c.id, indent_rest(c.text.trim(), 2)));
        }
    }
    // A link is defined when it names a criterion, or a requirement
    // (even one without criteria yet).
    let unresolved: Vec<&str> = task
        .requirements
        .iter()
        .filter(|c| {
            spec_links.resolve(c).is_empty()
                && !(c.is_requirement_level()
                    && groups.iter().any(|g| g.requirement == Some(c.as_str())))
        })
        .map(|c| c.as_str())
        .collect();
    if !reqs_text.is_empty() || !unresolved.is_empty() {
        out.push_str("\n## Requirements\n");
        out.push_str(&reqs_text);
        if !unresolved.is_empty() {
            out.push_str(&format!(
                "\nNot defined in the spec: {}\n",
                format_id_list(unresolved)
            ));
        }
    }

    if let Some(design) = &spec.design {
        let props: Vec<&CorrectnessProperty> = design
            .properties
            .iter()
            .filter(|p| {
                task.properties.contains(&p.id)
                    || p.validates.iter().any(|v| {
                        spec_links.resolve(v).iter().any(|i| linked.contains(i))
                            || (v.is_requirement_level() && names_requirement(v.as_str()))
                    })
            })
            .collect();
        if !props.is_empty() {
            out.push_str("\n## Correctness properties\n");
            for p in props {
                out.push_str(&format!("\n### Property {}: {}\n", p.id, p.title.trim()));
                let statement = p.statement.trim();
                if !statement.is_empty() {
                    out.push_str(&format!("\n{statement}\n"));
                }
                if !p.validates.is_empty() {
                    out.push_str(&format!(
                        "\n_Validates: Requirements {}_\n",
                        format_id_list(p.validates.iter().map(|v| v.as_str()))
                    ));
                }
            }
        }

        let sections: Vec<&Section> = design
            .sections
            .iter()
            .filter(|s| is_overview(&s.title) || relevant(s, &linked_ids, &linked_reqs))
            .collect();
        if !sections.is_empty() {
            out.push_str("\n## Design\n");
            for s in sections {
                let level = usize::from(s.level.clamp(1, 5)) + 1;
                out.push_str(&format!("\n{} {}\n", "#".repeat(level), s.title.trim()));
                let body = s.body.trim();
                if !body.is_empty() {
                    out.push_str(&format!("\n{body}\n"));
                }
            }
        }
    }
    out
}

/// Requirement-like groups of criteria: requirements of a feature spec,
/// behaviour groups of a bugfix spec.
struct CriterionGroup<'a> {
    /// The requirement id, for a feature spec.
    requirement: Option<&'a str>,
    /// The requirement's title (empty for a bugfix group).
    title: &'a str,
    heading: String,
    story: Option<String>,
    criteria: &'a [AcceptanceCriterion],
}

fn criterion_groups(spec: &Spec) -> Vec<CriterionGroup<'_>> {
    let mut groups = Vec::new();
    if let Some(doc) = &spec.requirements {
        for r in &doc.requirements {
            let title = r.title.trim();
            let heading = if title.is_empty() {
                format!("Requirement {}", r.id)
            } else {
                format!("Requirement {}: {title}", r.id)
            };
            let story = r.user_story.as_ref().map(|s| {
                let label = s.label.as_deref().unwrap_or("User Story:");
                format!("**{label}** {}", s.text.trim())
            });
            groups.push(CriterionGroup {
                requirement: Some(r.id.as_str()),
                title,
                heading,
                story,
                criteria: &r.criteria,
            });
        }
    }
    if let Some(doc) = &spec.bugfix {
        for g in &doc.groups {
            groups.push(CriterionGroup {
                requirement: None,
                title: "",
                heading: g.title.trim().to_owned(),
                story: None,
                criteria: &g.clauses,
            });
        }
    }
    groups
}

/// Whether a design section title names the overview (English, Chinese, Japanese).
fn is_overview(title: &str) -> bool {
    let t = title.trim().to_lowercase();
    t == "overview" || t.starts_with("overview ") || ["概述", "概要", "概览"].contains(&t.as_str())
}

/// Whether a design section mentions a linked criterion or requirement.
fn relevant(section: &Section, criteria: &[&str], reqs: &[(&str, &str)]) -> bool {
    let text = format!("{}\n{}", section.title, section.body);
    if criteria.iter().any(|c| mentions_id(&text, c)) {
        return true;
    }
    let lower = text.to_lowercase();
    reqs.iter().any(|(id, title)| {
        let phrase = format!("requirement {id}");
        mentions_id(&lower, &phrase)
            || (title.chars().count() >= 4 && lower.contains(&title.to_lowercase()))
    })
}

/// Whether `id` occurs in `text` as a whole number: `1.2` in `see 1.2,` but
/// not in `1.23`, `11.2` or `v1.2.3`.
fn mentions_id(text: &str, id: &str) -> bool {
    if id.is_empty() {
        return false;
    }
    text.match_indices(id).any(|(at, _)| {
        let before = text.get(..at).and_then(|s| s.chars().next_back());
        let after = text.get(at + id.len()..).unwrap_or_default();
        let mut rest = after.chars();
        let next = rest.next();
        let ok_before = !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '.');
        let ok_after = match next {
            Some(c) if c.is_ascii_digit() => false,
            Some('.') => !rest.next().is_some_and(|c| c.is_ascii_digit()),
            _ => true,
        };
        ok_before && ok_after
    })
}

#[cfg(test)]
mod tests {
    use super::{mentions_id, summary_line};

    #[test]
    fn ids_are_matched_as_whole_numbers() {
        assert!(mentions_id("see 1.2, then", "1.2"));
        assert!(mentions_id("(1.2)", "1.2"));
        assert!(mentions_id("ends with 1.2.", "1.2"));
        assert!(!mentions_id("1.23", "1.2"));
        assert!(!mentions_id("11.2", "1.2"));
        assert!(!mentions_id("v1.2.3", "1.2"));
        assert!(mentions_id("requirement 3 says", "requirement 3"));
        assert!(!mentions_id("requirement 31", "requirement 3"));
    }

    #[test]
    fn summary_is_the_last_non_empty_line() {
        assert_eq!(summary_line("a\nb\n\n  \n"), "b");
        assert_eq!(summary_line(""), "exit 0");
        let long = "x".repeat(300);
        assert_eq!(summary_line(&long).chars().count(), 201);
    }
}
