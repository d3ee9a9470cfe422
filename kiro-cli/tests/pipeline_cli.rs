//! End-to-end tests of the pipeline commands (`run`, `status`, `checkpoint`,
//! `rollback`, `fork`): each spawns the real `kiro` binary in a temporary
//! workspace whose executor is a small `sh` script, and checks exit status,
//! output and the files the run leaves. The crash test kills `kiro run` with
//! SIGKILL at random instants and checks that a resumed run finishes every
//! task without running checkpointed ones again.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly on purpose"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kiro_core::checkpoint::Checkpoint;
use serde_json::Value;
use tempfile::TempDir;

mod common;
use common::{expect_code, kiro_cmd, stderr, stdout};

#[path = "../../kiro-core/tests/support/tree.rs"]
mod whole_tree;

/// Three requirements' worth of EARS bullets: 4 leaf tasks and 3 optional
/// property tests with the default planner.
const REQUIREMENTS: &str = "\
- WHEN a user saves a note, THE Notes_App SHALL store it.
- THE Notes_App SHALL list notes by date.
- WHEN a user deletes a note, THE Notes_App SHALL remove it.
";

fn kiro(dir: &Path, args: &[&str]) -> Output {
    kiro_cmd(dir, args).output().unwrap()
}

/// A workspace after `kiro init`, whose executor runs `script` with `sh -c`
/// once per task, and a `req.txt` holding the requirements text.
fn workspace(script: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    expect_code(&kiro(dir.path(), &["init"]), 0);
    let config = dir.path().join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    let script = serde_json::to_string(script).unwrap();
    text.push_str(&format!(
        "\n[executor]\ncommand = [\"sh\", \"-c\", {script}]\n"
    ));
    fs::write(&config, text).unwrap();
    fs::write(dir.path().join("req.txt"), REQUIREMENTS).unwrap();
    dir
}

/// Writes `out/<task id>.txt` per task.
const MARKER_SCRIPT: &str = "mkdir -p out && echo \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.txt\"";

/// The run id in `run <id> <status>: ...`, the summary line on stdout.
fn run_id(out: &Output) -> String {
    let text = stdout(out);
    let line = text
        .lines()
        .find(|l| l.starts_with("run "))
        .unwrap_or_else(|| panic!("no summary line in {text:?}"));
    line.split_whitespace().nth(1).unwrap().to_owned()
}

/// `kiro checkpoint list --format json`, parsed.
fn checkpoint_list(dir: &Path) -> Vec<Value> {
    let out = kiro(dir, &["checkpoint", "list", "--format", "json"]);
    expect_code(&out, 0);
    serde_json::from_str::<Value>(&stdout(&out))
        .unwrap_or_else(|e| panic!("checkpoint list is not JSON ({e}): {}", stdout(&out)))
        .as_array()
        .unwrap()
        .clone()
}

/// The `run@id` of the checkpoint `node` wrote in `run`.
fn checkpoint_of(dir: &Path, run: &str, node: &str) -> String {
    let runs = checkpoint_list(dir);
    let r = runs.iter().find(|r| r["run_id"] == run).unwrap();
    let cp = r["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["node"] == node)
        .unwrap_or_else(|| panic!("no checkpoint of {node} in {r}"));
    cp["reference"].as_str().unwrap().to_owned()
}

/// Every file under `root` except the checkpoint store, with its bytes.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(root).unwrap().to_owned();
            // The checkpoint store and the audit log record history; a
            // rollback adds to them rather than restoring them.
            if rel == Path::new(".kiro/runs") || rel == Path::new(".kiro/audit.jsonl") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn run_with_yes_executes_every_task_and_marks_it_done() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 0);
    let summary = stdout(&out);
    assert!(summary.contains(" completed: "), "{summary}");
    assert!(
        summary.contains(&format!("last checkpoint {}@", run_id(&out))),
        "{summary}"
    );
    // Plain progress lines on a non-terminal stderr.
    let progress = stderr(&out);
    assert!(progress.contains("task 2.1 done ("), "{progress}");
    for id in ["1", "2.1", "2.2", "2.3"] {
        let file = ws.path().join(format!("out/{id}.txt"));
        assert_eq!(fs::read_to_string(&file).unwrap().trim(), id);
    }
    // Optional tasks are skipped unless asked for.
    assert!(!ws.path().join("out/2.4.txt").exists());
    let tasks = fs::read_to_string(ws.path().join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(tasks.contains("- [x] 2.1 "), "{tasks}");
    assert!(tasks.contains("- [ ]* 2.4 "), "{tasks}");
}

#[test]
fn include_optional_runs_optional_tasks() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(
        ws.path(),
        &[
            "run",
            "notes",
            "--from",
            "req.txt",
            "--yes",
            "--include-optional",
            "--jobs",
            "2",
        ],
    );
    expect_code(&out, 0);
    assert!(ws.path().join("out/2.4.txt").is_file());
}

#[test]
fn without_yes_and_without_a_terminal_the_run_stops_at_the_first_gate() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt"]);
    expect_code(&out, 3);
    let err = stderr(&out);
    assert!(err.contains("stopped at requirements approval"), "{err}");
    assert!(err.contains("kiro run notes --resume --yes"), "{err}");
    assert!(stdout(&out).contains("stopped at requirements approval"));
    assert!(ws
        .path()
        .join(".kiro/specs/notes/requirements.md")
        .is_file());
    assert!(!ws.path().join(".kiro/specs/notes/design.md").exists());
    let first = run_id(&out);

    // Resuming with --yes continues the same run.
    let out = kiro(ws.path(), &["run", "notes", "--resume", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(run_id(&out), first);
    assert!(ws.path().join("out/2.3.txt").is_file());
}

#[test]
fn until_stops_after_the_phase_and_plan_prints_the_graph_without_running() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
        ],
    );
    expect_code(&out, 0);
    assert!(ws.path().join(".kiro/specs/notes/tasks.md").is_file());
    assert!(!ws.path().join("out").exists());
    let before = checkpoint_list(ws.path());

    let out = kiro(ws.path(), &["run", "notes", "--plan"]);
    expect_code(&out, 0);
    let plan = stdout(&out);
    assert!(plan.contains("[ ] 1 task: "), "{plan}");
    assert!(plan.contains("2.1 task: "), "{plan}");
    assert!(plan.contains("2 parent: "), "{plan}");
    assert!(plan.contains("2.4 optional task: "), "{plan}");
    assert!(plan.contains("3 gate: Checkpoint"), "{plan}");
    let line = plan.lines().find(|l| l.contains(" 2.2 task: ")).unwrap();
    assert!(line.ends_with("waits for 1, 2.1"), "{line}");
    // Nothing ran and nothing was recorded.
    assert!(!ws.path().join("out").exists());
    assert_eq!(checkpoint_list(ws.path()), before);
}

#[test]
fn plan_without_tasks_is_an_error() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "design",
        ],
    );
    expect_code(&out, 0);
    let out = kiro(ws.path(), &["run", "notes", "--plan"]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("--until tasks"), "{}", stderr(&out));
}

#[test]
fn a_failing_task_exits_1_and_names_it() {
    let ws = workspace("if [ \"$KIRO_TASK_ID\" = 2.2 ]; then echo broken >&2; exit 4; fi");
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("task 2.2 failed"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(stdout(&out).contains(" failed: "), "{}", stdout(&out));
}

#[test]
fn missing_executor_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    expect_code(&kiro(dir.path(), &["init"]), 0);
    fs::write(dir.path().join("req.txt"), REQUIREMENTS).unwrap();
    let out = kiro(dir.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 2);
    assert!(stderr(&out).contains("[executor]"), "{}", stderr(&out));
}

#[test]
fn status_json_reports_tasks_progress_and_the_latest_run() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(ws.path(), &["status", "notes", "--format", "json"]);
    expect_code(&out, 2); // no such spec yet

    let run = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&run, 0);
    let out = kiro(ws.path(), &["status", "notes", "--format", "json"]);
    expect_code(&out, 0);
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["spec"], "notes");
    assert_eq!(status["path"], ".kiro/specs/notes");
    assert_eq!(
        status["documents"],
        serde_json::json!(["requirements", "design", "tasks"])
    );
    assert_eq!(status["progress"]["total"], 9);
    assert_eq!(status["progress"]["done"], 6);
    assert_eq!(status["progress"]["not_started"], 3);
    let task = status["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "2.1")
        .unwrap();
    assert_eq!(task["status"], "done");
    assert_eq!(task["depth"], 1);
    assert_eq!(task["outcome"], "done");
    let r = &status["run"];
    assert_eq!(r["id"], run_id(&run).as_str());
    assert!(r["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}@", run_id(&run))));
    assert_eq!(r["node"], "verify");
    assert!(r["completed"]
        .as_array()
        .unwrap()
        .contains(&Value::from("task 2.1")));
    assert_eq!(r["verification"]["untested"], 3);
    assert!(r["outcomes"].as_array().unwrap().len() >= 4);

    let text = kiro(ws.path(), &["status", "notes"]);
    expect_code(&text, 0);
    let text = stdout(&text);
    assert!(text.contains("tasks: 6/9 done"), "{text}");
    assert!(text.contains("[x] 2.1 "), "{text}");
    assert!(text.contains("latest run: "), "{text}");
}

#[test]
fn checkpoint_list_and_show() {
    let ws = workspace(MARKER_SCRIPT);
    let out = kiro(ws.path(), &["checkpoint", "list"]);
    expect_code(&out, 0);
    assert!(stderr(&out).contains("no runs yet"));

    let run = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&run, 0);
    let id = run_id(&run);

    let runs = checkpoint_list(ws.path());
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["run_id"], id.as_str());
    assert_eq!(runs[0]["spec"], "notes");
    let cps = runs[0]["checkpoints"].as_array().unwrap();
    assert_eq!(cps[0]["node"], "requirements");
    assert_eq!(cps[0]["parent"], Value::Null);
    assert_eq!(cps[1]["parent"], cps[0]["reference"]);
    let nodes: Vec<&str> = cps.iter().map(|c| c["node"].as_str().unwrap()).collect();
    for node in ["design", "tasks", "gate tasks", "task 2.1", "verify"] {
        assert!(nodes.contains(&node), "{nodes:?}");
    }
    // The last checkpoint is the one the run summary named.
    let last = cps.last().unwrap()["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(stdout(&run).contains(&format!("last checkpoint {last}")));

    // Filtering by spec.
    let other = kiro(
        ws.path(),
        &["checkpoint", "list", "elsewhere", "--format", "json"],
    );
    expect_code(&other, 0);
    assert_eq!(stdout(&other).trim(), "[]");
    let text = kiro(ws.path(), &["checkpoint", "list", "notes"]);
    expect_code(&text, 0);
    assert!(stdout(&text).contains(&format!("run {id} (spec notes")));

    // Show: text and the stored record as JSON.
    let task = checkpoint_of(ws.path(), &id, "task 2.1");
    let show = kiro(ws.path(), &["checkpoint", "show", &task]);
    expect_code(&show, 0);
    let text = stdout(&show);
    assert!(text.contains("node: task 2.1"), "{text}");
    assert!(text.contains("out/2.1.txt  present "), "{text}");
    assert!(text.contains("record: outcome"), "{text}");
    let json = kiro(
        ws.path(),
        &["checkpoint", "show", &task, "--format", "json"],
    );
    expect_code(&json, 0);
    let cp: Checkpoint = serde_json::from_str(&stdout(&json)).unwrap();
    assert_eq!(cp.node, "task 2.1");
    assert_eq!(cp.reference().to_string(), task);

    let bad = kiro(ws.path(), &["checkpoint", "show", "nonsense"]);
    expect_code(&bad, 2);
    assert!(stderr(&bad).contains("RUN@ID"), "{}", stderr(&bad));
}

/// Creates `out/<id>.txt`, appends to `journal.txt` (which exists before the
/// run) and removes `doomed.txt`, so that a rollback must remove, restore
/// and recreate files.
const EDITING_SCRIPT: &str = "mkdir -p out && echo \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.txt\" \
    && echo \"$KIRO_TASK_ID\" >> journal.txt && rm -f doomed.txt";

#[test]
fn rollback_restores_the_workspace_files_exactly() {
    let ws = workspace(EDITING_SCRIPT);
    fs::write(ws.path().join("journal.txt"), "before the run\n").unwrap();
    fs::write(ws.path().join("doomed.txt"), "keep me\n").unwrap();
    let first = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
        ],
    );
    expect_code(&first, 0);
    let id = run_id(&first);
    let at_tasks = tree(ws.path());

    let out = kiro(ws.path(), &["run", "notes", "--resume", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(run_id(&out), id);
    assert!(!ws.path().join("doomed.txt").exists());
    assert_ne!(tree(ws.path()), at_tasks);

    let target = checkpoint_of(ws.path(), &id, "tasks");
    let out = kiro(ws.path(), &["rollback", &target]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("removed out/2.1.txt"), "{text}");
    assert!(text.contains("restored journal.txt"), "{text}");
    assert!(text.contains("restored doomed.txt"), "{text}");
    assert!(
        text.contains(&format!("rolled back to {target}; new checkpoint {id}@")),
        "{text}"
    );
    assert_eq!(tree(ws.path()), at_tasks);

    // The rolled-back run resumes from the checkpoint: the tasks run again.
    let out = kiro(ws.path(), &["run", "notes", "--resume", &id, "--yes"]);
    expect_code(&out, 0);
    assert!(ws.path().join("out/2.3.txt").is_file());
}

#[test]
fn fork_starts_a_new_run_from_a_checkpoint_and_keeps_the_old_one() {
    let ws = workspace(MARKER_SCRIPT);
    let first = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&first, 0);
    let old = run_id(&first);
    let old_count = checkpoint_list(ws.path())[0]["checkpoints"]
        .as_array()
        .unwrap()
        .len();

    let from = checkpoint_of(ws.path(), &old, "task 1");
    let out = kiro(ws.path(), &["fork", &from]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("removed out/2.1.txt"), "{text}");
    let new = text
        .lines()
        .find_map(|l| l.strip_prefix("forked run "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    assert!(
        text.contains(&format!("kiro run notes --resume {new}")),
        "{text}"
    );
    assert!(ws.path().join("out/1.txt").is_file());
    assert!(!ws.path().join("out/2.1.txt").exists());

    let runs = checkpoint_list(ws.path());
    assert_eq!(runs.len(), 2);
    let old_run = runs.iter().find(|r| r["run_id"] == old.as_str()).unwrap();
    assert_eq!(old_run["checkpoints"].as_array().unwrap().len(), old_count);
    let new_run = runs.iter().find(|r| r["run_id"] == new.as_str()).unwrap();
    assert_eq!(new_run["spec"], "notes");
    assert_eq!(new_run["checkpoints"][0]["node"], "fork");
    assert_eq!(new_run["checkpoints"][0]["parent"], from.as_str());

    // `--resume` without a value now picks the fork, the latest run.
    let out = kiro(ws.path(), &["run", "notes", "--resume", "--yes"]);
    expect_code(&out, 0);
    assert_eq!(run_id(&out), new);
    assert!(ws.path().join("out/2.3.txt").is_file());
}

/// A small deterministic generator, so that a failing crash test can be
/// reproduced from the seed it prints.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The end lines per task in the executor's log.
fn ends(log: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for line in fs::read_to_string(log).unwrap_or_default().lines() {
        if let Some(id) = line.strip_prefix("end ") {
            *out.entry(id.to_owned()).or_default() += 1;
        }
    }
    out
}

/// The task nodes with a checkpoint, over every run of the workspace.
fn checkpointed_tasks(dir: &Path) -> BTreeSet<String> {
    checkpoint_list(dir)
        .iter()
        .flat_map(|r| r["checkpoints"].as_array().unwrap().clone())
        .filter_map(|c| {
            c["node"]
                .as_str()
                .and_then(|n| n.strip_prefix("task "))
                .map(str::to_owned)
        })
        .collect()
}

/// Starts `kiro run` and kills it with SIGKILL after `delay`.
fn run_and_kill(dir: &Path, args: &[&str], delay: Duration) {
    let mut child = kiro_cmd(dir, args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    // `Child::kill` sends SIGKILL on Unix: no handler runs, no cleanup.
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn killed_runs_resume_and_finish_without_rerunning_checkpointed_tasks() {
    // The log lies inside the workspace: the sandbox lets a task write
    // nowhere else (but its private temp dir).
    let script = "echo \"start $KIRO_TASK_ID\" >> task.log; sleep 0.05; mkdir -p out; \
         echo \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.txt\"; echo \"end $KIRO_TASK_ID\" >> task.log";
    let run_args = ["run", "notes", "--from", "req.txt", "--yes"];
    let resume_args = ["run", "notes", "--from", "req.txt", "--resume", "--yes"];

    // How long an undisturbed run takes, to spread the kills over it.
    let calibration = workspace(script);
    let started = Instant::now();
    expect_code(&kiro(calibration.path(), &run_args), 0);
    let full = started.elapsed();
    let leaves: BTreeSet<String> = ends(&calibration.path().join("task.log"))
        .into_keys()
        .collect();
    assert_eq!(leaves.len(), 4, "{leaves:?}");

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("crash test seed {seed}, undisturbed run {full:?}");
    let mut rng = XorShift(seed);
    let span = u64::try_from(full.as_millis()).unwrap().max(10);

    for i in 0..15 {
        let ws = workspace(script);
        let log = ws.path().join("task.log");
        // After each kill: the tasks checkpointed so far and how often each
        // had finished then. A killed run may leave its running task command
        // behind (where no parent-death signal stops it) and that orphan may still
        // finish, so a task can end twice before being checkpointed; what
        // must never happen is a checkpointed task ending again later.
        let mut observed: Vec<(BTreeSet<String>, BTreeMap<String, usize>)> = Vec::new();
        let mut kill = |args: &[&str], delay: Duration| {
            run_and_kill(ws.path(), args, delay);
            // Let orphaned task commands finish (each sleeps 50 ms) so that
            // their lines are in the log before it is read.
            std::thread::sleep(Duration::from_millis(150));
            // The store must be readable after any crash.
            observed.push((checkpointed_tasks(ws.path()), ends(&log)));
        };
        let delay = Duration::from_millis(rng.below(span));
        kill(&run_args, delay);
        // Every other time, kill the first resume too.
        if i % 2 == 1 {
            kill(&resume_args, Duration::from_millis(rng.below(span)));
        }

        let out = kiro(ws.path(), &resume_args);
        expect_code(&out, 0);
        assert!(stdout(&out).contains(" completed: "), "{}", stdout(&out));

        let ends = ends(&log);
        for leaf in &leaves {
            let n = ends.get(leaf).copied().unwrap_or(0);
            assert!(
                n >= 1,
                "iteration {i} (seed {seed}): task {leaf} never finished: {ends:?}"
            );
            for (k, (done, then)) in observed.iter().enumerate() {
                if done.contains(leaf) {
                    assert_eq!(
                        Some(&n),
                        then.get(leaf),
                        "iteration {i} (seed {seed}, first delay {delay:?}): task {leaf} was \
                         checkpointed after kill {k} but ran again: {ends:?}"
                    );
                }
            }
            // With a single kill, a checkpointed task ran exactly once.
            if observed.len() == 1 && observed[0].0.contains(leaf) {
                assert_eq!(n, 1, "iteration {i} (seed {seed}): {ends:?}");
            }
            assert!(ws.path().join(format!("out/{leaf}.txt")).is_file());
        }
        let tasks = fs::read_to_string(ws.path().join(".kiro/specs/notes/tasks.md")).unwrap();
        for leaf in &leaves {
            assert!(
                tasks.contains(&format!("- [x] {leaf} "))
                    || tasks.contains(&format!("- [x] {leaf}. ")),
                "iteration {i}: task {leaf} not marked done:\n{tasks}"
            );
        }
        // Still readable after the resumed run.
        let runs = checkpoint_list(ws.path());
        assert!(!runs.is_empty());
    }
}

#[test]
fn ctrl_c_stops_the_run_with_exit_130_and_the_run_resumes() {
    let ws =
        workspace("sleep 0.3; mkdir -p out && echo \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.txt\"");
    let child = kiro_cmd(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"])
        .spawn()
        .unwrap();
    // Wait until the first task is under way, then interrupt as a terminal would.
    let started = Instant::now();
    while !ws.path().join(".kiro/specs/notes/tasks.md").is_file() {
        assert!(started.elapsed() < Duration::from_secs(30), "no tasks.md");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    expect_code(&out, 130);
    let err = stderr(&out);
    assert!(err.contains("interrupted"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(stdout(&out).contains(" interrupted: "), "{}", stdout(&out));

    let out = kiro(ws.path(), &["run", "notes", "--resume", "--yes"]);
    expect_code(&out, 0);
    assert!(ws.path().join("out/2.3.txt").is_file());
}

#[test]
fn the_configured_verifier_decides_the_annotated_criteria() {
    let ws = workspace(MARKER_SCRIPT);
    fs::create_dir_all(ws.path().join("tests")).unwrap();
    fs::write(
        ws.path().join("tests/notes.rs"),
        "/// Validates: Requirements 1.1\n#[test]\nfn stores_a_saved_note() {}\n",
    )
    .unwrap();
    let config = ws.path().join(".kiro/config.toml");
    let base = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        format!("{base}\n[verifier]\ncommand = [\"sh\", \"-c\", \"exit 1\"]\n"),
    )
    .unwrap();
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 1);
    assert!(stderr(&out).contains("1.1"), "{}", stderr(&out));

    // A passing test command: resuming runs verification again, not the tasks.
    fs::write(
        &config,
        format!("{base}\n[verifier]\ncommand = [\"sh\", \"-c\", \"exit 0\"]\n"),
    )
    .unwrap();
    let out = kiro(ws.path(), &["run", "notes", "--resume", "--yes"]);
    expect_code(&out, 0);
    assert!(stdout(&out).contains(" completed: "), "{}", stdout(&out));
    let status = kiro(ws.path(), &["status", "notes", "--format", "json"]);
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["run"]["verification"]["passed"], 1);
    assert_eq!(status["run"]["verification"]["failed"], 0);
}

/// One run of a spec at a time: while another process holds the spec's
/// lock, `run`, `rollback` and `fork` exit 2 at once naming the holder; once
/// it is released they proceed.
#[test]
fn a_second_run_of_the_same_spec_is_refused_while_one_holds_it() {
    let ws = workspace(MARKER_SCRIPT);
    let first = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
        ],
    );
    expect_code(&first, 0);
    let id = run_id(&first);
    let target = checkpoint_of(ws.path(), &id, "tasks");

    let runs = ws.path().join(".kiro/runs");
    let mut held = kiro_core::checkpoint::SpecLock::acquire(&runs, "notes").unwrap();
    held.set_run("R-HOLDER").unwrap();
    let started = Instant::now();
    for args in [
        vec!["run", "notes", "--resume", "--yes"],
        vec!["rollback", target.as_str()],
        vec!["fork", target.as_str()],
    ] {
        let out = kiro(ws.path(), &args);
        expect_code(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("spec `notes` is busy: run R-HOLDER (pid "),
            "{args:?}: {err}"
        );
    }
    // Refused at once, not after waiting for the lock.
    assert!(started.elapsed() < Duration::from_secs(20));
    let tasks = fs::read_to_string(ws.path().join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(!tasks.contains("- [x]"), "{tasks}");

    drop(held);
    expect_code(&kiro(ws.path(), &["run", "notes", "--resume", "--yes"]), 0);
}

// ---------------------------------------------------------------------------
// Issue 11, items 8-10: secrets, actors and audit heads through real runs.

/// What the agent of [`secrets_an_agent_prints_are_stored_and_shown_nowhere`]
/// is given; the name makes it a secret ([`kiro_core::redact`]).
const SECRET: &str = "sk-test-6b1f0c9e2d7a4f3b";

/// Every file under `<root>/.kiro` except the blobs (workspace contents a
/// rollback must restore byte for byte), with its bytes.
fn kiro_state(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(dir: &Path, blobs: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path == blobs {
                continue;
            }
            if path.is_dir() {
                walk(&path, blobs, out);
            } else {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &root.join(".kiro"),
        &root.join(".kiro/runs/blobs"),
        &mut out,
    );
    out
}

#[test]
fn secrets_an_agent_prints_are_stored_and_shown_nowhere() {
    // Each task prints the key; task 2.2 also fails quoting it on stderr
    // (its evidence) and in its last line. `out/len.txt` shows the agent
    // really had the key.
    let ws = workspace(
        "mkdir -p out; echo ${#OPENAI_API_KEY} > out/len.txt; \
         echo \"calling the API with $OPENAI_API_KEY\"; \
         if [ \"$KIRO_TASK_ID\" = 2.2 ]; then echo \"401 for key $OPENAI_API_KEY\" >&2; exit 4; fi",
    );
    let with_key = |args: &[&str]| {
        kiro_cmd(ws.path(), args)
            .env("OPENAI_API_KEY", SECRET)
            .output()
            .unwrap()
    };
    let run = with_key(&["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&run, 1);
    assert_eq!(
        fs::read_to_string(ws.path().join("out/len.txt"))
            .unwrap()
            .trim(),
        SECRET.len().to_string()
    );
    let status_json = with_key(&["status", "notes", "--format", "json"]);
    expect_code(&status_json, 0);
    let status: Value = serde_json::from_str(&stdout(&status_json)).unwrap();
    let failed = status["run"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["task"] == "2.2")
        .unwrap();
    assert!(
        failed["evidence"]
            .as_str()
            .unwrap()
            .contains("401 for key [redacted:OPENAI_API_KEY]"),
        "{failed}"
    );
    let outputs = [
        run,
        status_json,
        with_key(&["status", "notes"]),
        with_key(&["spec", "show", "notes"]),
        with_key(&["checkpoint", "list", "--format", "json"]),
        with_key(&["audit", "list"]),
        with_key(&["audit", "list", "--format", "json"]),
    ];
    for out in &outputs {
        for stream in [stdout(out), stderr(out)] {
            assert!(!stream.contains(SECRET), "{stream}");
        }
    }
    let state = kiro_state(ws.path());
    assert!(state.iter().any(|(p, _)| p.ends_with("log.jsonl")));
    for (path, bytes) in &state {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(SECRET), "{}: {text}", path.display());
    }
    // Run logs are readable by their owner only.
    #[cfg(unix)]
    for (path, _) in state.iter().filter(|(p, _)| p.ends_with("log.jsonl")) {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
}

#[test]
fn a_kiro_actor_with_control_characters_is_refused_before_anything_runs() {
    let ws = workspace(MARKER_SCRIPT);
    let forged = "eve\n   9  2026-01-01T00:00:00.000Z  alice (os-user)  approval";
    let out = kiro_cmd(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"])
        .env("KIRO_ACTOR", forged)
        .output()
        .unwrap();
    expect_code(&out, 2);
    let err = stderr(&out);
    assert!(err.contains("KIRO_ACTOR"), "{err}");
    assert!(!err.contains("eve\n"), "the name is shown escaped: {err}");
    assert!(!ws.path().join(".kiro/audit.jsonl").exists());
    assert!(!ws.path().join(".kiro/specs/notes").exists(), "nothing ran");

    // A plain name is recorded with where it came from.
    let out = kiro_cmd(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"])
        .env("KIRO_ACTOR", "ci-bot")
        .output()
        .unwrap();
    expect_code(&out, 0);
    let list = kiro(ws.path(), &["audit", "list"]);
    expect_code(&list, 0);
    let text = stdout(&list);
    assert!(
        text.contains("  ci-bot (env:KIRO_ACTOR)  approval"),
        "{text}"
    );
}

#[test]
fn audit_verify_checks_the_log_against_the_heads_of_its_runs() {
    let ws = workspace(MARKER_SCRIPT);
    let run = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&run, 0);
    let id = run_id(&run);
    let log = ws.path().join(".kiro/audit.jsonl");
    let run_heads = ws
        .path()
        .join(".kiro/runs")
        .join(&id)
        .join("audit-heads.jsonl");
    assert!(run_heads.is_file(), "the run keeps its own heads");

    let out = kiro(ws.path(), &["audit", "verify"]);
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains("chain intact, matches "),
        "{}",
        stdout(&out)
    );

    // The last line deleted, with the workspace-wide heads removed too:
    // the run's heads still know the entry.
    let text = fs::read_to_string(&log).unwrap();
    let cut = text.trim_end().rfind('\n').unwrap() + 1;
    fs::write(&log, &text[..cut]).unwrap();
    fs::remove_file(ws.path().join(".kiro/runs/audit-heads.jsonl")).unwrap();
    let out = kiro(ws.path(), &["audit", "verify", "--format", "json"]);
    expect_code(&out, 1);
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["status"], "broken");
    assert_eq!(report["problem"]["problem"], "missing");

    // Deleted altogether.
    fs::remove_file(&log).unwrap();
    let out = kiro(ws.path(), &["audit", "verify"]);
    expect_code(&out, 1);
    assert!(stdout(&out).contains("missing"), "{}", stdout(&out));
}

// Sandbox: agents confined by the kernel (issue 11, item 1)
// ---------------------------------------------------------------------------

/// A workspace whose executor runs `script` and whose policy lets tasks
/// write only `src/**`.
fn confined_workspace(script: &str) -> TempDir {
    let ws = workspace(script);
    let config = ws.path().join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("\n[policy]\nwritable = [\"src/**\"]\n");
    fs::write(&config, text).unwrap();
    ws
}

/// `true` when this kernel has Landlock; prints why the test is skipped otherwise.
fn landlock_here() -> bool {
    match kiro_core::sandbox::landlock_support().reason {
        None => true,
        Some(reason) => {
            eprintln!("skipped: Landlock unavailable here ({reason})");
            false
        }
    }
}

#[test]
fn run_and_status_show_that_landlock_confined_the_agent() {
    if !landlock_here() {
        return;
    }
    let ws = confined_workspace(
        "echo \"$KIRO_TASK_ID\" > \"src/$KIRO_TASK_ID.txt\"; echo x > README.md; rm -rf .kiro; true",
    );
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("task 1: sandbox: landlock enforced (ABI ")
            && err.contains("writable: src/ and a private temp dir"),
        "{err}"
    );
    assert!(ws.path().join("src/1.txt").exists());
    assert!(
        !ws.path().join("README.md").exists(),
        "README.md was written"
    );
    // `rm -rf .kiro` did not reach the checkpoint store: status still reads the run.
    let status = kiro(ws.path(), &["status", "notes"]);
    expect_code(&status, 0);
    let text = stdout(&status);
    assert!(
        text.contains("sandbox (4 tasks): landlock enforced (ABI "),
        "{text}"
    );
    let json = kiro(ws.path(), &["status", "notes", "--format", "json"]);
    let json: Value = serde_json::from_str(&stdout(&json)).unwrap();
    let outcome = json["run"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["task"] == "1")
        .unwrap()
        .clone();
    assert_eq!(
        outcome["sandbox"]["landlock"]["state"], "enforced",
        "{outcome}"
    );
    assert_eq!(outcome["sandbox"]["mode"], "best-effort");
    assert_eq!(outcome["sandbox"]["writable"], serde_json::json!(["src/"]));
    assert_eq!(outcome["sandbox"]["pdeathsig"], true);
}

#[test]
fn with_sandbox_off_only_detection_stops_a_write_outside_the_policy() {
    let ws = confined_workspace("echo x > README.md");
    let config = ws.path().join(".kiro/config.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "\n[policy]\nwritable",
            "\n[policy]\nsandbox = \"off\"\nwritable",
        ),
    )
    .unwrap();
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    let err = stderr(&out);
    assert!(
        err.contains("sandbox: landlock off (sandbox = \"off\")"),
        "{err}"
    );
    // Unconfined, the agent's write lands; the rescan after the task finds
    // it outside `src/**`, fails the task and removes the file again.
    expect_code(&out, 1);
    assert!(
        err.contains("README.md (outside the writable globs)"),
        "{err}"
    );
    assert!(!ws.path().join("README.md").exists());
}

/// Whether a process exists and is not a zombie.
fn process_alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.trim().chars().next());
            !matches!(state, Some('Z' | 'X'))
        }
    }
}

#[test]
fn an_agent_does_not_outlive_a_sigkilled_kiro() {
    if !Path::new("/proc/self/stat").exists() {
        eprintln!("skipped: no /proc to watch the agent in");
        return;
    }
    // The agent writes its pid, waits, then writes `late.txt`: after kiro
    // is killed it must be dead before it gets there.
    let ws = workspace("echo $$ > agent.pid; sleep 1; echo late > late.txt");
    let mut child = kiro_cmd(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = ws.path().join("agent.pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid: i32 = loop {
        if let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the agent never started");
        std::thread::sleep(Duration::from_millis(10));
    };
    let started = Instant::now();
    child.kill().unwrap(); // SIGKILL: kiro runs no cleanup
    child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(2);
    while process_alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(!process_alive(pid), "agent {pid} outlived kiro");
    // Past the moment the agent would have written.
    std::thread::sleep(Duration::from_millis(1300).saturating_sub(started.elapsed()));
    assert!(
        !ws.path().join("late.txt").exists(),
        "the agent wrote after kiro died"
    );
}

// ---------------------------------------------------------------------------
// All-or-nothing, exact rollback and policy detection (issue 11, items 1, 3
// and 4): SIGKILL during a rollback and during a task, then the next command.

/// Polls until `path` exists (or panics after `limit`).
fn wait_for(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_micros(200));
    }
}

#[test]
fn a_rollback_killed_part_way_is_completed_by_the_next_command() {
    // Each task writes many files, so that applying a rollback takes long
    // enough to be killed in the middle of it.
    const MANY: &str = "mkdir -p \"out/$KIRO_TASK_ID\" && i=0; \
        while [ $i -lt 250 ]; do echo \"$KIRO_TASK_ID $i\" > \"out/$KIRO_TASK_ID/f$i.txt\"; i=$((i+1)); done";
    // The next command: the same rollback again, or a resumed run.
    for next in ["rollback", "run"] {
        let ws = workspace(MANY);
        let first = kiro(
            ws.path(),
            &[
                "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
            ],
        );
        expect_code(&first, 0);
        let id = run_id(&first);
        let at_tasks = whole_tree::capture(ws.path());
        expect_code(&kiro(ws.path(), &["run", "notes", "--resume", "--yes"]), 0);
        assert!(ws.path().join("out/2.3/f249.txt").is_file());
        let target = checkpoint_of(ws.path(), &id, "tasks");

        let end = checkpoint_of(ws.path(), &id, "verify");
        let rollbacks = |dir: &Path| {
            let runs = checkpoint_list(dir);
            let run = runs.iter().find(|r| r["run_id"] == id.as_str()).unwrap();
            run["checkpoints"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["node"].as_str().unwrap().starts_with("rollback to "))
                .count()
        };

        // SIGKILL as soon as the intent is stored, while files are removed.
        // A loaded machine may let the rollback finish first: then the tree
        // is rolled forward again and the kill retried.
        let intent = ws.path().join(format!(".kiro/runs/{id}/rollback.intent"));
        let mut interrupted = false;
        for _ in 0..10 {
            let mut child = kiro_cmd(ws.path(), &["rollback", &target])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            wait_for(&intent, Duration::from_secs(60));
            child.kill().unwrap();
            let _ = child.wait();
            if intent.is_file() {
                interrupted = true;
                break;
            }
            expect_code(&kiro(ws.path(), &["rollback", &end]), 0);
        }
        assert!(interrupted, "no kill landed during the rollback");
        let committed = rollbacks(ws.path());

        let out = match next {
            "rollback" => kiro(ws.path(), &["rollback", &target]),
            _ => kiro(
                ws.path(),
                &["run", "notes", "--resume", &id, "--yes", "--until", "tasks"],
            ),
        };
        expect_code(&out, 0);
        let err = stderr(&out);
        assert!(
            err.contains("completed an interrupted rollback"),
            "{next}: {err}"
        );
        assert!(!intent.exists(), "{next}: the intent is cleared");
        whole_tree::assert_same(
            &whole_tree::capture(ws.path()),
            &at_tasks,
            &format!("after `kiro {next}`"),
        );
        // The interrupted rollback's checkpoint was committed once.
        let added = if next == "rollback" { 2 } else { 1 };
        assert_eq!(rollbacks(ws.path()), committed + added, "{next}");
    }
}

#[test]
fn a_rollback_after_a_run_killed_mid_task_removes_what_the_task_half_wrote() {
    let outside = tempfile::tempdir().unwrap();
    let ready = outside.path().join("ready");
    let pid = outside.path().join("pid");
    // Task 2.2 writes part of its output, then hangs until killed.
    let script = format!(
        "mkdir -p out; if [ \"$KIRO_TASK_ID\" = 2.2 ]; then \
           printf 'half' > out/half.txt; chmod 755 out/half.txt; ln -s ../req.txt out/link; \
           echo $$ > '{pid}'; touch '{ready}'; exec sleep 30; fi; \
         echo \"$KIRO_TASK_ID\" > \"out/$KIRO_TASK_ID.txt\"",
        pid = pid.display(),
        ready = ready.display()
    );
    let ws = workspace(&script);
    // The agent reports through a folder outside the workspace, which the
    // sandbox lets it write as its state directory.
    let config = ws.path().join(".kiro/config.toml");
    let text = fs::read_to_string(&config).unwrap().replace(
        "\n[executor]\n",
        &format!("\n[executor]\nstate_dirs = [{:?}]\n", outside.path()),
    );
    fs::write(&config, text).unwrap();
    let first = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
        ],
    );
    expect_code(&first, 0);
    let id = run_id(&first);
    let at_tasks = whole_tree::capture(ws.path());

    let mut child = kiro_cmd(ws.path(), &["run", "notes", "--resume", "--yes"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for(&ready, Duration::from_secs(60));
    child.kill().unwrap();
    let _ = child.wait();
    let sleeper = fs::read_to_string(&pid).unwrap();
    let _ = Command::new("kill").args(["-9", sleeper.trim()]).status();
    assert!(ws.path().join("out/half.txt").is_file());

    let target = checkpoint_of(ws.path(), &id, "tasks");
    let out = kiro(ws.path(), &["rollback", &target]);
    expect_code(&out, 0);
    let text = stdout(&out);
    assert!(text.contains("removed out/half.txt"), "{text}");
    assert!(text.contains("removed out/link"), "{text}");
    whole_tree::assert_same(&whole_tree::capture(ws.path()), &at_tasks, "after rollback");
}

#[test]
fn a_run_whose_agent_writes_outside_the_policy_fails_and_is_reverted() {
    let agent = "if [ \"$KIRO_TASK_ID\" = 1 ]; then \
        echo pwned > README.md; mkdir -p src; echo ok > src/ok.txt; ln -s /etc/shadow src/link; fi";
    let ws = workspace(agent);
    fs::write(ws.path().join("README.md"), "# Notes\n").unwrap();
    let config = ws.path().join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    // Detection holds without the kernel's help: the sandbox is off, so
    // the agent's writes land and only the rescan after the task sees them.
    text.push_str("\n[policy]\nsandbox = \"off\"\nwritable = [\"src/**\"]\n");
    fs::write(&config, text).unwrap();

    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 1);
    let err = stderr(&out);
    for needle in [
        "README.md (outside the writable globs)",
        "src/link (symlink to /etc/shadow outside the workspace)",
    ] {
        assert!(err.contains(needle), "{needle} in {err}");
    }
    assert!(stdout(&out).contains(" failed: "), "{}", stdout(&out));
    assert_eq!(
        fs::read_to_string(ws.path().join("README.md")).unwrap(),
        "# Notes\n"
    );
    assert!(fs::symlink_metadata(ws.path().join("src/link")).is_err());
    assert_eq!(
        fs::read_to_string(ws.path().join("src/ok.txt")).unwrap(),
        "ok\n"
    );
}

#[test]
fn a_rollback_missing_a_blob_is_refused_before_any_file_changes() {
    let ws = workspace(MARKER_SCRIPT);
    let first = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
        ],
    );
    expect_code(&first, 0);
    let id = run_id(&first);
    expect_code(&kiro(ws.path(), &["run", "notes", "--resume", "--yes"]), 0);
    let target = checkpoint_of(ws.path(), &id, "tasks");
    // The blob of tasks.md as the target has it (unmarked) is lost.
    let show = kiro(
        ws.path(),
        &["checkpoint", "show", &target, "--format", "json"],
    );
    expect_code(&show, 0);
    let cp: Checkpoint = serde_json::from_str(&stdout(&show)).unwrap();
    let blob = cp
        .files
        .iter()
        .find(|f| f.path.ends_with("tasks.md"))
        .and_then(|f| f.state.blob())
        .unwrap()
        .to_string();
    let blob_file = ws
        .path()
        .join(".kiro/runs/blobs")
        .join(&blob[..2])
        .join(&blob[2..]);
    let saved = fs::read(&blob_file).unwrap();
    fs::remove_file(&blob_file).unwrap();
    let before = whole_tree::capture(ws.path());

    let out = kiro(ws.path(), &["rollback", &target]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains(&blob), "{}", stderr(&out));
    whole_tree::assert_same(
        &whole_tree::capture(ws.path()),
        &before,
        "after a refused rollback",
    );
    assert!(!ws
        .path()
        .join(format!(".kiro/runs/{id}/rollback.intent"))
        .exists());

    // With the blob back, the same rollback goes through.
    fs::write(&blob_file, saved).unwrap();
    expect_code(&kiro(ws.path(), &["rollback", &target]), 0);
    assert!(!ws.path().join("out").exists());
}

#[test]
fn a_rollback_restores_modes_and_removes_links_a_task_made() {
    // Task 1 edits a 0644 script and makes it executable, and links to it.
    let script = "mkdir -p out; if [ \"$KIRO_TASK_ID\" = 1 ]; then \
        echo 'echo 2' >> tool.sh; chmod 755 tool.sh; ln -s ../tool.sh out/link; fi";
    let ws = workspace(script);
    fs::write(ws.path().join("tool.sh"), "#!/bin/sh\necho 1\n").unwrap();
    #[cfg(unix)]
    whole_tree::chmod(&ws.path().join("tool.sh"), 0o644);
    let first = kiro(
        ws.path(),
        &[
            "run", "notes", "--from", "req.txt", "--yes", "--until", "tasks",
        ],
    );
    expect_code(&first, 0);
    let id = run_id(&first);
    let at_tasks = whole_tree::capture(ws.path());
    expect_code(&kiro(ws.path(), &["run", "notes", "--resume", "--yes"]), 0);
    assert!(fs::symlink_metadata(ws.path().join("out/link")).is_ok());

    let target = checkpoint_of(ws.path(), &id, "tasks");
    expect_code(&kiro(ws.path(), &["rollback", &target]), 0);
    whole_tree::assert_same(&whole_tree::capture(ws.path()), &at_tasks, "after rollback");
}

// ---------------------------------------------------------------------------
// The checkpoint store removed under a run (issue 11, item 6).

/// `workspace(script)` with the sandbox off, so that the agent can do what
/// Landlock would stop it doing.
fn unconfined_workspace(script: &str) -> TempDir {
    let ws = workspace(script);
    let config = ws.path().join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("\n[policy]\nsandbox = \"off\"\n");
    fs::write(&config, text).unwrap();
    ws
}

#[test]
fn a_run_whose_store_is_removed_by_a_task_stops_with_a_clear_error() {
    for doomed in [".kiro/runs", ".kiro"] {
        let script = format!("if [ \"$KIRO_TASK_ID\" = 2.1 ]; then rm -rf {doomed}; fi; echo done");
        let ws = unconfined_workspace(&script);
        let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
        expect_code(&out, 2);
        let err = stderr(&out);
        assert!(
            err.contains("was removed or replaced during the run"),
            "{doomed}: {err}"
        );
        assert!(!err.contains("blob"), "{doomed}: {err}");
    }
}

#[test]
fn a_store_outside_the_workspace_survives_a_task_that_removes_kiro_runs() {
    let store = tempfile::tempdir().unwrap();
    let ws = unconfined_workspace(
        "if [ \"$KIRO_TASK_ID\" = 2.1 ]; then rm -rf .kiro/runs; fi; echo done",
    );
    let config = ws.path().join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!("\n[checkpoints]\ndir = {:?}\n", store.path()));
    fs::write(&config, text).unwrap();

    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 0);
    let id = run_id(&out);
    assert!(store.path().join(&id).join("log.jsonl").is_file());
    assert!(store.path().join("audit-heads.jsonl").is_file());
    assert!(!ws.path().join(".kiro/runs").join(&id).exists());
    // Every command finds the history there.
    let runs = checkpoint_list(ws.path());
    assert_eq!(runs[0]["run_id"], id.as_str());
    expect_code(&kiro(ws.path(), &["audit", "verify"]), 0);
    let target = checkpoint_of(ws.path(), &id, "tasks");
    expect_code(&kiro(ws.path(), &["rollback", &target]), 0);

    // A directory inside the workspace would be scanned as task output.
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace(&format!("{:?}", store.path()), "\"state\"");
    fs::write(&config, text).unwrap();
    let out = kiro(ws.path(), &["checkpoint", "list"]);
    expect_code(&out, 2);
    assert!(
        stderr(&out).contains("lies inside the workspace"),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------------------
// Concurrency (issue 11, "done when"): two runs of one spec and one of
// another, started together.

#[test]
fn of_two_concurrent_runs_of_one_spec_one_is_refused_and_another_spec_runs_alongside() {
    // Each task leaves a line in its spec's log and takes a moment, so that
    // the runs overlap.
    let ws =
        workspace("mkdir -p out && echo \"$KIRO_TASK_ID\" >> \"out/$KIRO_SPEC.log\" && sleep 0.2");
    for spec in ["notes", "todo"] {
        let out = kiro(
            ws.path(),
            &[
                "run", spec, "--from", "req.txt", "--yes", "--until", "tasks",
            ],
        );
        expect_code(&out, 0);
    }
    let spawn = |spec: &str| {
        kiro_cmd(ws.path(), &["run", spec, "--resume", "--yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn("notes"), spawn("notes"), spawn("todo")];
    let outs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();

    let codes: Vec<Option<i32>> = outs[..2].iter().map(|o| o.status.code()).collect();
    let (refused, ran) = match codes.as_slice() {
        [Some(2), Some(0)] => (&outs[0], &outs[1]),
        [Some(0), Some(2)] => (&outs[1], &outs[0]),
        _ => panic!(
            "expected one run refused (2) and one completed (0), got {codes:?}:\n{}\n{}",
            stderr(&outs[0]),
            stderr(&outs[1])
        ),
    };
    assert!(
        stderr(refused).contains("spec `notes` is busy: run "),
        "{}",
        stderr(refused)
    );
    assert!(
        stdout(ran).contains(" completed: 6 tasks done, 0 failed"),
        "{}",
        stdout(ran)
    );
    expect_code(&outs[2], 0);
    assert!(
        stdout(&outs[2]).contains(" completed: 6 tasks done, 0 failed"),
        "{}",
        stdout(&outs[2])
    );

    for spec in ["notes", "todo"] {
        // Every task ran once, and the file and the status agree it is done.
        let log = fs::read_to_string(ws.path().join("out").join(format!("{spec}.log"))).unwrap();
        let mut ran: Vec<&str> = log.lines().collect();
        ran.sort_unstable();
        assert_eq!(ran, ["1", "2.1", "2.2", "2.3"], "{spec}");
        let tasks =
            fs::read_to_string(ws.path().join(".kiro/specs").join(spec).join("tasks.md")).unwrap();
        for id in ["1.", "2.", "2.1", "2.2", "2.3", "3."] {
            assert!(
                tasks.contains(&format!("- [x] {id}")),
                "{spec} {id}:\n{tasks}"
            );
        }
        let status = kiro(ws.path(), &["status", spec, "--format", "json"]);
        let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
        assert_eq!(status["progress"]["in_progress"], 0, "{spec}: {status}");
    }
}

#[test]
fn checkpoint_list_and_show_escape_control_characters_in_paths() {
    // Task 1 creates a file whose name clears the screen when printed raw.
    let ws = workspace(
        "if [ \"$KIRO_TASK_ID\" = 1 ]; then mkdir -p out && : > \"out/$(printf 'a\\033[2Jb')\"; fi",
    );
    let out = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 0);
    let id = run_id(&out);
    let at = checkpoint_of(ws.path(), &id, "task 1");
    for args in [
        vec!["checkpoint", "show", at.as_str()],
        vec!["checkpoint", "list"],
    ] {
        let out = kiro(ws.path(), &args);
        expect_code(&out, 0);
        assert!(
            !stdout(&out).contains('\u{1b}'),
            "{args:?}: {}",
            stdout(&out)
        );
    }
    let shown = stdout(&kiro(ws.path(), &["checkpoint", "show", &at]));
    assert!(shown.contains("out/a\\u{1b}[2Jb"), "{shown}");
}

/// The criteria of the report stored with the last checkpoint of `verify`
/// in `run`: criterion id → (status, first evidence excerpt).
fn run_report(dir: &Path, run: &str) -> BTreeMap<String, (String, String)> {
    let runs = checkpoint_list(dir);
    let checkpoints = runs.iter().find(|r| r["run_id"] == run).unwrap()["checkpoints"]
        .as_array()
        .unwrap();
    let verify = checkpoints.iter().rev().find(|c| c["node"] == "verify");
    let at = verify.unwrap()["reference"].as_str().unwrap();
    let out = kiro(dir, &["checkpoint", "show", at, "--format", "json"]);
    expect_code(&out, 0);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    json["artifacts"]["artifacts"]["report"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let excerpt = c["evidence"][0]["excerpt"].as_str().unwrap_or_default();
            (
                c["criterion"].as_str().unwrap().to_owned(),
                (c["status"].as_str().unwrap().to_owned(), excerpt.to_owned()),
            )
        })
        .collect()
}

#[test]
fn the_verify_phase_runs_the_spec_executable_properties() {
    // No test command: the properties alone decide the criteria they
    // validate. The seeded bug fails the round trip.
    let ws = workspace(MARKER_SCRIPT);
    let root = ws.path();
    common::lists::write_spec(root, true);
    common::lists::write_list_codec(root, true);
    let out = kiro(root, &["run", "lists", "--yes"]);
    expect_code(&out, 1);
    let progress = stderr(&out);
    for expected in [
        "verify: property 1 (Round trip) FAILED: counterexample [-1]; ",
        "verify: property 2 (Encoding never fails) passed after 100 cases",
        "criteria failed verification: 1.1",
    ] {
        assert!(
            progress.contains(expected),
            "{expected:?} not in\n{progress}"
        );
    }
    let run = run_id(&out);
    let report = run_report(root, &run);
    assert_eq!(report["1.1"].0, "failed");
    assert!(
        report["1.1"].1.contains("minimal failing input: [-1]"),
        "{:?}",
        report["1.1"]
    );
    assert_eq!(report["1.2"].0, "passed");
    assert_eq!(report["1.3"].0, "untested");
    let stored = fs::read_to_string(root.join(".kiro/pbt/lists.json")).unwrap();
    assert!(stored.contains("\"status\": \"failed\""), "{stored}");

    // Fixed, with a test command configured: resuming verifies again, the
    // properties run again (the stored counterexample first) and the test
    // command's report includes them.
    common::lists::write_list_codec(root, false);
    let config = root.join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str("\n[verifier]\ncommand = [\"sh\", \"-c\", \"exit 0\"]\n");
    fs::write(&config, text).unwrap();
    let out = kiro(root, &["run", "lists", "--resume", "--yes"]);
    expect_code(&out, 0);
    assert!(
        stderr(&out).contains("verify: property 1 (Round trip) passed after 100 cases"),
        "{}",
        stderr(&out)
    );
    let report = run_report(root, &run);
    assert_eq!(report["1.1"].0, "passed");
    assert_eq!(report["1.2"].0, "passed");
    let status = kiro(root, &["status", "lists", "--format", "json"]);
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["run"]["verification"]["passed"], 2);
    assert_eq!(status["run"]["verification"]["failed"], 0);
}

// ------------------------------------------------- the model end to end

use common::model::{completion, text, tool_calls, ModelServer};
use serde_json::json;

/// What the scripted model answers: the three planning stages by the name
/// of the schema they ask for, and kiro's agent by the task in its brief and
/// how many tool results it has seen.
fn scripted_model(request: &Value) -> Value {
    let schema = request
        .pointer("/response_format/json_schema/name")
        .and_then(Value::as_str);
    let reply = match schema {
        Some("requirements") => json!({
            "introduction": "A notes app keeps short notes for one user.",
            "glossary": [{ "term": "Notes_App", "definition": "the notes application" }],
            "requirements": [
                {
                    "title": "Save notes",
                    "role": "user",
                    "capability": "to save a note",
                    "benefit": "I can read it later",
                    "acceptance_criteria": ["WHEN a user saves a note, THE Notes_App SHALL store the note"]
                },
                {
                    "title": "List notes",
                    "role": "user",
                    "capability": "to list my notes",
                    "benefit": "I can find one",
                    "acceptance_criteria": ["THE Notes_App SHALL list notes by date"]
                }
            ]
        }),
        Some("design") => json!({
            "overview": "A module `src/notes.rs` with save and list.",
            "architecture": "One module, no storage backend.",
            "components_and_interfaces": "`save(text)` and `list()`.",
            "data_models": "A note is its text and a date.",
            "error_handling": "Saving an empty note is refused.",
            "testing_strategy": "Unit tests named after the criteria.",
            "properties": [{
                "title": "Saved notes are listed",
                "statement": "For any note saved, the listing contains it",
                "validates": ["1.1", "2.1"]
            }]
        }),
        Some("plan") => json!({
            "tasks": [
                {
                    "title": "Implement note storage in `src/notes.rs`",
                    "details": ["save(text) stores the note"],
                    "requirements": ["1.1"],
                    "depends_on": [],
                    "optional": false,
                    "subtasks": []
                },
                {
                    "title": "Implement the note listing",
                    "details": ["list() returns notes by date"],
                    "requirements": ["2.1"],
                    "depends_on": ["1"],
                    "optional": false,
                    "subtasks": []
                }
            ]
        }),
        Some(other) => panic!("unexpected schema {other}"),
        None => return agent_step(request),
    };
    completion(text(&reply.to_string()), 400, 150)
}

/// One turn of the agent's tool loop.
fn agent_step(request: &Value) -> Value {
    let messages = request["messages"].as_array().unwrap();
    let brief = messages
        .iter()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap();
    let step = messages.iter().filter(|m| m["role"] == "assistant").count();
    // The brief's first line names the task; later lines may name others
    // (what it depends on).
    let storage = brief.starts_with("# Task 1: ");
    let message = match (storage, step) {
        (true, 0) => tool_calls(&[
            (
                "call_1",
                "write_file",
                json!({ "path": "src/notes.rs", "content": "pub fn save(text: &str) -> bool { !text.is_empty() }\n// list\n" }),
            ),
            (
                "call_2",
                "write_file",
                json!({ "path": "tests/store.rs", "content": "/// Validates: Requirements 1.1\n#[test]\nfn stores_a_saved_note() {}\n" }),
            ),
        ]),
        (true, 1) => tool_calls(&[(
            "call_3",
            "run_command",
            json!({ "argv": ["test", "-f", "src/notes.rs"] }),
        )]),
        (false, 0) => tool_calls(&[
            (
                "call_4",
                "edit_file",
                json!({ "path": "src/notes.rs", "old": "// list", "new": "pub fn list() -> Vec<String> { Vec::new() }" }),
            ),
            (
                "call_5",
                "write_file",
                json!({ "path": "tests/list.rs", "content": "/// Validates: Requirements 2.1\n#[test]\nfn lists_notes_by_date() {}\n" }),
            ),
        ]),
        (true, _) => text("Stored notes in src/notes.rs."),
        (false, _) => text("Listed notes by date."),
    };
    completion(message, 900, 60)
}

/// Everything a run leaves that a user would compare: the spec documents,
/// the code the agent wrote, and the verdicts and usage `kiro status`
/// reports.
fn run_result(dir: &Path) -> (BTreeMap<String, String>, Value) {
    let mut files = BTreeMap::new();
    for rel in [
        ".kiro/specs/notes/requirements.md",
        ".kiro/specs/notes/design.md",
        ".kiro/specs/notes/tasks.md",
        "src/notes.rs",
        "tests/store.rs",
        "tests/list.rs",
    ] {
        let text = fs::read_to_string(dir.join(rel))
            .unwrap_or_else(|e| panic!("{rel} after the run: {e}"));
        files.insert(rel.to_owned(), text);
    }
    let out = kiro(dir, &["status", "notes", "--format", "json"]);
    expect_code(&out, 0);
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let run = &status["run"];
    (
        files,
        json!({ "verification": run["verification"], "usage": run["usage"], "outcomes": run["outcomes"].as_array().map(|o| o.iter().map(|o| json!([o["task"], o["status"], o["summary"]])).collect::<Vec<_>>()) }),
    )
}

#[test]
fn a_model_writes_the_spec_and_the_code_and_a_recorded_run_replays_offline() {
    let server = ModelServer::start(scripted_model);
    let ws = tempfile::tempdir().unwrap();
    let dir = ws.path();
    expect_code(&kiro(dir, &["init"]), 0);
    let config = dir.join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[verifier]\ncommand = [\"sh\", \"-c\", \"test -f src/notes.rs && grep -q 'pub fn list' src/notes.rs\"]\n\
         \n[llm]\nprovider = \"openai\"\nmodel = \"e2e-model\"\nbase_url = \"{}\"\ncache = \"read-write\"\n\
         [llm.prices.\"e2e-model\"]\ninput = 1.0\noutput = 2.0\n",
        server.base
    ));
    fs::write(&config, text).unwrap();
    fs::write(
        dir.join("req.txt"),
        "A notes app: a user saves short notes and lists them by date.\n",
    )
    .unwrap();

    let out = kiro(dir, &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&out, 0);
    let printed = stdout(&out);
    assert!(printed.contains(" completed: 2 tasks done"), "{printed}");
    assert!(printed.contains("model usage (e2e-model): "), "{printed}");
    assert!(printed.contains("estimated $"), "{printed}");
    assert!(
        printed.contains("  requirements 550 · design 550 · tasks 550 · task 1 "),
        "{printed}"
    );

    // Three planning requests, then the agent's turns: 3 for the first
    // task (write, run, finish) and 2 for the second (edit, finish).
    let requests = server.requests();
    assert_eq!(requests.len(), 8, "{requests:#?}");
    // The second agent turn carried the tool results of the first, and
    // the command really ran.
    let results: Vec<&Value> = requests
        .iter()
        .flat_map(|r| r["messages"].as_array().unwrap())
        .filter(|m| m["role"] == "tool")
        .collect();
    assert!(results.iter().any(|m| m["tool_call_id"] == "call_3"));

    let (files, status) = run_result(dir);
    assert!(files["src/notes.rs"].contains("pub fn list() -> Vec<String>"));
    assert!(files[".kiro/specs/notes/requirements.md"]
        .contains("WHEN a user saves a note, THE Notes_App SHALL store the note"));
    assert!(files[".kiro/specs/notes/design.md"].contains("Saved notes are listed"));
    assert!(files[".kiro/specs/notes/tasks.md"].contains("- [x] 1. Implement note storage"));
    assert_eq!(status["verification"]["passed"], 2, "{status:#}");
    assert_eq!(status["verification"]["failed"], 0, "{status:#}");
    let usage = &status["usage"];
    for phase in ["requirements", "design", "tasks"] {
        assert_eq!(usage["phases"][phase]["requests"], 1, "{usage:#}");
        assert_eq!(usage["phases"][phase]["input_tokens"], 400, "{usage:#}");
    }
    assert_eq!(usage["tasks"]["1"]["requests"], 3, "{usage:#}");
    assert_eq!(usage["tasks"]["2"]["requests"], 2, "{usage:#}");
    let (input, output) = (3 * 400 + 5 * 900, 3 * 150 + 5 * 60);
    assert_eq!(usage["total"]["input_tokens"], input, "{usage:#}");
    assert_eq!(usage["total"]["output_tokens"], output, "{usage:#}");
    let cost = usage["cost_usd"].as_f64().unwrap();
    assert!(
        (cost - f64::from(input + 2 * output) / 1e6).abs() < 1e-4,
        "{cost}"
    );

    // The same run again, from the same starting point, with the model
    // gone: every reply comes from the recording.
    server.stop();
    for generated in [".kiro/specs/notes", "src", "tests", ".kiro/runs"] {
        fs::remove_dir_all(dir.join(generated)).unwrap();
    }
    let replay = kiro_cmd(dir, &["run", "notes", "--from", "req.txt", "--yes"])
        .env("KIRO_LLM_CACHE", "replay-only")
        .output()
        .unwrap();
    expect_code(&replay, 0);
    let (replayed_files, replayed_status) = run_result(dir);
    assert_eq!(replayed_files, files);
    assert_eq!(replayed_status, status);

    // Without the recording, replay-only refuses instead of calling out.
    fs::remove_dir_all(dir.join(".kiro/llm-cache")).unwrap();
    for generated in [".kiro/specs/notes", "src", "tests", ".kiro/runs"] {
        fs::remove_dir_all(dir.join(generated)).unwrap();
    }
    let miss = kiro_cmd(dir, &["run", "notes", "--from", "req.txt", "--yes"])
        .env("KIRO_LLM_CACHE", "replay-only")
        .output()
        .unwrap();
    expect_code(&miss, 1);
    assert!(stderr(&miss).contains("replay"), "{}", stderr(&miss));
}

#[test]
fn spec_new_with_a_model_writes_linted_ears_requirements_and_reports_the_cost() {
    let server = ModelServer::start(scripted_model);
    let ws = tempfile::tempdir().unwrap();
    let dir = ws.path();
    expect_code(&kiro(dir, &["init"]), 0);
    let config = dir.join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[llm]\nprovider = \"openai\"\nmodel = \"e2e-model\"\nbase_url = \"{}\"\n",
        server.base
    ));
    fs::write(&config, text).unwrap();
    fs::write(dir.join("idea.txt"), "Users save notes and list them.\n").unwrap();
    let out = kiro(
        dir,
        &["spec", "new", "notes", "--from", "idea.txt", "--llm"],
    );
    expect_code(&out, 0);
    assert_eq!(stdout(&out).trim(), ".kiro/specs/notes/requirements.md");
    // No price configured: the usage is shown, the cost is not guessed.
    assert!(
        stderr(&out).contains("550 tokens (400 in, 150 out) in 1 requests, no price"),
        "{}",
        stderr(&out)
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let asked = requests[0].to_string();
    assert!(asked.contains("Users save notes and list them."), "{asked}");
    let lint = kiro(dir, &["spec", "lint", "notes"]);
    expect_code(&lint, 0);
    let doc = fs::read_to_string(dir.join(".kiro/specs/notes/requirements.md")).unwrap();
    assert!(
        doc.contains("1. WHEN a user saves a note, THE Notes_App SHALL store the note"),
        "{doc}"
    );
    assert!(
        doc.contains("**User Story:** As a user, I want to list my notes, so that I can find one"),
        "{doc}"
    );
}

/// `[executor] acp`: `kiro run` drives an Agent Client Protocol agent (the
/// protocol-level test agent of kiro-llm) per task, answering its file and
/// terminal requests through the workspace policy; what it wrote is in the
/// task's checkpoint like any executor's.
#[test]
fn an_acp_agent_runs_the_tasks_of_kiro_run() {
    let agent = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../kiro-llm/tests/data/acp_agent.py"
    );
    let ws = tempfile::tempdir().unwrap();
    let dir = ws.path();
    expect_code(&kiro(dir, &["init"]), 0);
    let config = dir.join(".kiro/config.toml");
    let mut text = fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "\n[executor]\nacp = [\"python3\", {}]\n\n[policy]\nwritable = [\"src/**\"]\ncommands = [\"echo\"]\n",
        serde_json::to_string(agent).unwrap()
    ));
    fs::write(&config, text).unwrap();
    fs::write(dir.join("README.md"), "first\nsecond\nthird\n").unwrap();
    fs::create_dir_all(dir.join(".kiro/specs/notes")).unwrap();
    fs::write(
        dir.join(".kiro/specs/notes/tasks.md"),
        "# Implementation Plan\n\n- [ ] 1. Write the output\n",
    )
    .unwrap();
    let out = kiro_cmd(dir, &["run", "notes", "--yes", "--until", "execute"])
        .env("ACP_SCENARIO", "done")
        .output()
        .unwrap();
    expect_code(&out, 0);
    assert!(
        stdout(&out).contains(" completed: 1 tasks done"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        fs::read_to_string(dir.join("src/out.txt")).unwrap(),
        "line two was second\n"
    );
    let tasks = fs::read_to_string(dir.join(".kiro/specs/notes/tasks.md")).unwrap();
    assert!(tasks.contains("- [x] 1. Write the output"), "{tasks}");
    let cps = checkpoint_list(dir);
    let task = cps
        .iter()
        .flat_map(|run| run["checkpoints"].as_array().unwrap())
        .find(|c| c["node"] == "task 1")
        .unwrap_or_else(|| panic!("{cps:#?}"));
    let shown = kiro(
        dir,
        &[
            "checkpoint",
            "show",
            task["reference"].as_str().unwrap(),
            "--format",
            "json",
        ],
    );
    expect_code(&shown, 0);
    assert!(
        stdout(&shown).contains("\"src/out.txt\""),
        "{}",
        stdout(&shown)
    );
}

/// With a memory store in the workspace, each task's checkpoint records
/// which memories were recalled for it, shown by `checkpoint show` and
/// `status --format json`; without one, nothing is recorded.
#[test]
fn a_run_records_the_memories_recalled_for_each_task() {
    let ws = workspace(MARKER_SCRIPT);
    let plain = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&plain, 0);
    let status = kiro(ws.path(), &["status", "notes", "--format", "json"]);
    assert!(
        !stdout(&status).contains("\"recalled\""),
        "{}",
        stdout(&status)
    );

    let ws = workspace(MARKER_SCRIPT);
    let add = kiro(
        ws.path(),
        &[
            "memory",
            "add",
            "Keep commit messages in the imperative mood",
            "--kind",
            "rule",
        ],
    );
    expect_code(&add, 0);
    let run = kiro(ws.path(), &["run", "notes", "--from", "req.txt", "--yes"]);
    expect_code(&run, 0);
    let id = run_id(&run);

    let out = kiro(ws.path(), &["status", "notes", "--format", "json"]);
    expect_code(&out, 0);
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let ran: Vec<&Value> = status["run"]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        // Only tasks the executor ran (its script marks them) recall:
        // parents and checkpoints settle without it.
        .filter(|o| {
            let task = o["task"].as_str().unwrap();
            ws.path().join(format!("out/{task}.txt")).is_file()
        })
        .collect();
    assert!(ran.len() >= 4, "{status:#}");
    for outcome in ran {
        // The global rule is recalled for every task the executor ran.
        assert_eq!(outcome["recalled"][0]["id"], "1", "{outcome:#}");
        assert_eq!(
            outcome["recalled"][0]["reason"], "recalled for every task",
            "{outcome:#}"
        );
    }

    let task = checkpoint_of(ws.path(), &id, "task 2.1");
    let show = kiro(ws.path(), &["checkpoint", "show", &task]);
    expect_code(&show, 0);
    let text = stdout(&show);
    assert!(
        text.contains("recalled memories for task 2.1:\n  #1: recalled for every task ("),
        "{text}"
    );
}
