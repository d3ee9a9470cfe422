//! The checkpoint store: round trips, blobs, torn logs, rollback, fork, and
//! SIGKILL at random instants.
// Test helpers outside `#[test]` functions assert by unwrapping too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use kiro_core::checkpoint::{
    apply_intent, complete_intents, rollback_files, BlobId, Checkpoint, CheckpointId,
    CheckpointStore, Durability, FileChange, FileCheckpointStore, FileState, Manifest,
    ManifestEntry, RollbackHooks, RollbackPlan, RunId,
};
use kiro_core::Error;

use crate::whole_tree as tree;

fn present(store: &FileCheckpointStore, bytes: &[u8]) -> FileState {
    FileState::present(store.put_blob(bytes).unwrap(), 0o644)
}

fn checkpoint(run: &RunId, seq: u64, parent: Option<&Checkpoint>) -> Checkpoint {
    let mut cp = Checkpoint::new(
        run.clone(),
        CheckpointId::from_seq(seq),
        format!("node {seq}"),
    );
    cp.parent = parent.map(Checkpoint::reference);
    cp.artifacts = serde_json::json!({ "seq": seq, "text": "需求 ✓" });
    cp
}

#[test]
fn round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    assert_eq!(store.runs().unwrap(), Vec::<RunId>::new());
    let run = store.create_run().unwrap();
    assert_eq!(store.runs().unwrap(), vec![run.clone()]);
    assert_eq!(store.list(&run).unwrap(), vec![]);
    assert_eq!(store.latest(&run).unwrap(), None);

    let mut first = checkpoint(&run, 1, None);
    first.files.push(FileChange::new(
        "app",
        "src/lib.rs",
        present(&store, b"pub fn a() {}\n"),
    ));
    store.put(&first).unwrap();
    let mut second = checkpoint(&run, 2, Some(&first));
    second.files.push(
        FileChange::new("app", "README.md", FileState::Deleted)
            .with_before(present(&store, b"# r\n")),
    );
    store.put(&second).unwrap();

    assert_eq!(
        store.list(&run).unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(store.get(&run, &first.id).unwrap(), first);
    assert_eq!(store.latest(&run).unwrap(), Some(second.clone()));
    // Pretty copies are written only when asked for.
    assert!(!store.run_dir(&run).unwrap().join("c000002.json").exists());

    // A second store instance (another process) sees the same data.
    let again = FileCheckpointStore::new(dir.path());
    assert_eq!(
        again.list(&run).unwrap(),
        vec![first.clone(), second.clone()]
    );

    assert!(matches!(
        store.put(&second),
        Err(Error::DuplicateCheckpoint { .. })
    ));
    let mut dangling = checkpoint(&run, 3, Some(&second));
    dangling.files.push(FileChange::new(
        "app",
        "x",
        FileState::present(BlobId::of(b"never stored"), 0o644),
    ));
    assert!(matches!(
        store.put(&dangling),
        Err(Error::BlobNotFound { .. })
    ));
    assert!(matches!(
        store.get(&run, &CheckpointId::from_seq(9)),
        Err(Error::CheckpointNotFound { .. })
    ));
    let unknown = RunId::new("no-such-run").unwrap();
    assert!(matches!(
        store.list(&unknown),
        Err(Error::RunNotFound { .. })
    ));

    let schema = serde_json::to_string(&schemars::schema_for!(Checkpoint)).unwrap();
    assert!(schema.contains("mode") && schema.contains("symlink") && schema.contains("parent"));
}

#[test]
fn ids_are_validated_when_deserialized() {
    let json = r#"{"run_id":"../evil","id":"c1","parent":null,"node":"n","created_at":"t","artifacts":null,"files":[]}"#;
    assert!(serde_json::from_str::<Checkpoint>(json).is_err());
    let json = json.replace("../evil", "good");
    assert!(serde_json::from_str::<Checkpoint>(&json).is_ok());
}

#[test]
fn run_ids_are_unique_and_time_ordered() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let mut made = Vec::new();
    for _ in 0..40 {
        made.push(store.create_run().unwrap());
    }
    let distinct: HashSet<_> = made.iter().collect();
    assert_eq!(distinct.len(), made.len());
    let listed = store.runs().unwrap();
    assert_eq!(listed.len(), made.len());
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
    // Time-ordered: the stamp part never goes backwards in creation order.
    let stamp = |r: &RunId| r.as_str().split('-').next().unwrap().to_owned();
    assert!(made.windows(2).all(|w| stamp(&w[0]) <= stamp(&w[1])));
}

#[test]
fn blobs_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let a = store.put_blob(b"same content").unwrap();
    let b = store.put_blob(b"same content").unwrap();
    assert_eq!(a, b);
    assert_eq!(a, BlobId::of(b"same content"));
    assert_eq!(store.get_blob(&a).unwrap(), b"same content");
    let path = store.blob_path(&a);
    assert!(path.starts_with(dir.path().join(".kiro/runs/blobs")));
    assert_eq!(
        path.parent().unwrap().file_name().unwrap(),
        &a.as_str()[..2]
    );
    let files: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(files.len(), 1);
    let empty = store.put_blob(b"").unwrap();
    assert_eq!(store.get_blob(&empty).unwrap(), b"");

    std::fs::write(&path, b"tampered").unwrap();
    assert!(matches!(store.get_blob(&a), Err(Error::CorruptBlob { .. })));
    assert!(matches!(
        store.get_blob(&BlobId::of(b"absent")),
        Err(Error::BlobNotFound { .. })
    ));
}

#[test]
fn torn_log_line_is_ignored() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let run = store.create_run().unwrap();
    let first = checkpoint(&run, 1, None);
    let second = checkpoint(&run, 2, Some(&first));
    store.put(&first).unwrap();
    store.put(&second).unwrap();
    let log = store.run_dir(&run).unwrap().join("log.jsonl");
    let full = serde_json::to_string(&checkpoint(&run, 3, Some(&second))).unwrap();
    let torn = &full.as_bytes()[..full.len() / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(torn)
        .unwrap();

    let reader = FileCheckpointStore::new(dir.path());
    assert_eq!(
        reader.list(&run).unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(reader.latest(&run).unwrap(), Some(second.clone()));
    assert!(reader.get(&run, &CheckpointId::from_seq(3)).is_err());

    // A complete record without its newline is torn too: the newline is the
    // last byte written, so its absence means the append did not finish.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(&full.as_bytes()[full.len() / 2..])
        .unwrap();
    assert_eq!(reader.list(&run).unwrap().len(), 2);

    // The next writer cuts the torn tail off and appends whole lines.
    let third = checkpoint(&run, 3, Some(&second));
    reader.put(&third).unwrap();
    assert_eq!(reader.list(&run).unwrap(), vec![first, second, third]);
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.ends_with('\n'));

    // A damaged committed line is an error naming the line, not silence.
    let damaged = text.replacen("\"node\"", "\"nod", 1);
    std::fs::write(&log, damaged).unwrap();
    match reader.list(&run) {
        Err(Error::CorruptCheckpoint { line, .. }) => assert_eq!(line, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn put_many_commits_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let a = store.create_run().unwrap();
    let b = store.create_run().unwrap();
    let a1 = checkpoint(&a, 1, None);
    let a2 = checkpoint(&a, 2, Some(&a1));
    let b1 = checkpoint(&b, 1, None);
    let a3 = checkpoint(&a, 3, Some(&a2));
    store
        .put_many(&[a1.clone(), a2.clone(), b1.clone(), a3.clone()])
        .unwrap();
    assert_eq!(
        store.list(&a).unwrap(),
        vec![a1.clone(), a2.clone(), a3.clone()]
    );
    assert_eq!(store.list(&b).unwrap(), vec![b1.clone()]);

    // A batch with a duplicate (inside it or against the log) writes nothing.
    let b2 = checkpoint(&b, 2, Some(&b1));
    let err = store.put_many(&[b2.clone(), a2.clone()]);
    assert!(
        matches!(err, Err(Error::DuplicateCheckpoint { .. })),
        "{err:?}"
    );
    let err = store.put_many(&[b2.clone(), b2.clone()]);
    assert!(
        matches!(err, Err(Error::DuplicateCheckpoint { .. })),
        "{err:?}"
    );
    assert_eq!(store.list(&b).unwrap(), vec![b1.clone()]);
    store.put_many(&[]).unwrap();
    store.put_many(std::slice::from_ref(&b2)).unwrap();
    assert_eq!(store.get(&b, &b2.id).unwrap(), b2);

    // Through `dyn`, `Box` and `Arc` the same store answers the same.
    let shared: std::sync::Arc<dyn CheckpointStore> = std::sync::Arc::new(store);
    assert_eq!(shared.latest(&b).unwrap(), Some(b2.clone()));
    let boxed: Box<&dyn CheckpointStore> = Box::new(&*shared);
    assert_eq!(boxed.list(&a).unwrap().len(), 3);
}

/// Every file under `root` (relative path → content and executable bit).
fn snapshot(root: &Path) -> BTreeMap<String, (Vec<u8>, bool)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, bool)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, (std::fs::read(&path).unwrap(), is_exec(&path)));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[cfg(unix)]
fn is_exec(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_exec(_path: &Path) -> bool {
    false
}

#[cfg(unix)]
fn set_exec(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[cfg(not(unix))]
fn set_exec(_path: &Path) {}

/// Writes a file in the tree and returns the change to record.
fn write(
    store: &FileCheckpointStore,
    root: &Path,
    rel: &str,
    bytes: &[u8],
    exec: bool,
) -> FileChange {
    let path = root.join(rel);
    let old = state_on_disk(store, &path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
    if exec {
        set_exec(&path);
    }
    FileChange::new("app", rel, state_on_disk(store, &path)).with_before(old)
}

fn delete(store: &FileCheckpointStore, root: &Path, rel: &str) -> FileChange {
    let path = root.join(rel);
    let old = state_on_disk(store, &path);
    std::fs::remove_file(&path).unwrap();
    FileChange::new("app", rel, FileState::Deleted).with_before(old)
}

/// The state a checkpoint records for what is at `path` (a link is not
/// followed), with a file's content stored.
fn state_on_disk(store: &FileCheckpointStore, path: &Path) -> FileState {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => FileState::Symlink {
            target: std::fs::read_link(path)
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        },
        Ok(meta) => FileState::present(
            store.put_blob(&std::fs::read(path).unwrap()).unwrap(),
            mode_bits(&meta),
        ),
        Err(_) => FileState::Deleted,
    }
}

#[cfg(unix)]
fn mode_bits(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_bits(_meta: &std::fs::Metadata) -> u32 {
    0o644
}

#[test]
fn rollback_restores_trees_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("keep.txt"), "untouched\n").unwrap();
    std::fs::write(root.join("src/edit.rs"), "fn v1() {}\n").unwrap();
    std::fs::write(root.join("del.txt"), "to be deleted\n").unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\necho 1\n").unwrap();
    set_exec(&root.join("run.sh"));
    let initial = snapshot(&root);

    let store = FileCheckpointStore::new(dir.path().join("ws"));
    let run = store.create_run().unwrap();

    // Checkpoint 1: a new file and an edit.
    let mut c1 = checkpoint(&run, 1, None);
    c1.files
        .push(write(&store, &root, "src/new.rs", b"fn new() {}\n", false));
    c1.files.push(write(
        &store,
        &root,
        "src/edit.rs",
        "fn v2() { \"ü\" }\n".as_bytes(),
        false,
    ));
    store.put(&c1).unwrap();
    let at_c1 = snapshot(&root);

    // Checkpoint 2: edit again, delete, create nested files, change modes.
    let mut c2 = checkpoint(&run, 2, Some(&c1));
    c2.files
        .push(write(&store, &root, "src/edit.rs", b"fn v3() {}\n", false));
    c2.files
        .push(write(&store, &root, "src/new.rs", b"fn newer() {}\n", true));
    c2.files.push(delete(&store, &root, "del.txt"));
    c2.files.push(write(
        &store,
        &root,
        "gen/deep/later.txt",
        b"later\n",
        false,
    ));
    c2.files.push(write(
        &store,
        &root,
        "run.sh",
        b"#!/bin/sh\necho 2\n",
        false,
    ));
    store.put(&c2).unwrap();
    assert_ne!(snapshot(&root), at_c1);

    let roots = HashMap::from([("app".to_string(), root.clone())]);
    let current = store.materialize(&run, &c2.id).unwrap();
    let target = store.materialize(&run, &c1.id).unwrap();
    let report = rollback_files(&store, &current, &target, &roots).unwrap();
    assert_eq!(snapshot(&root), at_c1);
    assert!(
        !root.join("gen").exists(),
        "emptied directories are removed"
    );
    assert!(report
        .removed
        .contains(&("app".into(), "gen/deep/later.txt".into())));
    assert!(report.written.contains(&("app".into(), "del.txt".into())));
    assert!(!report.written.contains(&("app".into(), "keep.txt".into())));

    // Rolling back again changes nothing; rolling forward restores c2.
    let again = rollback_files(&store, &target, &target, &roots).unwrap();
    assert_eq!(again, Default::default());
    rollback_files(&store, &target, &current, &roots).unwrap();
    assert_eq!(snapshot(&root)["src/edit.rs"].0, b"fn v3() {}\n");
    assert!(snapshot(&root)["src/new.rs"].1);
    assert!(!root.join("del.txt").exists());

    // Back to before the run: the empty manifest.
    rollback_files(&store, &current, &Manifest::new(), &roots).unwrap();
    assert_eq!(snapshot(&root), initial);
}

#[test]
fn rollback_refuses_escapes() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    let roots = HashMap::from([("app".to_string(), root.clone())]);
    let blob = store.put_blob(b"x").unwrap();
    let target_with = |repo: &str, path: &str| -> Manifest {
        Manifest::from([(
            (repo.to_string(), path.to_string()),
            kiro_core::checkpoint::ManifestEntry {
                before: FileState::Deleted,
                state: FileState::present(blob.clone(), 0o644),
            },
        )])
    };
    for bad in ["../outside.txt", "/etc/passwd", "a/../../x", ""] {
        let err = rollback_files(&store, &Manifest::new(), &target_with("app", bad), &roots);
        assert!(
            matches!(err, Err(Error::PathEscape { .. })),
            "{bad}: {err:?}"
        );
    }
    assert!(!dir.path().join("outside.txt").exists());
    let err = rollback_files(&store, &Manifest::new(), &target_with("other", "x"), &roots);
    assert!(matches!(err, Err(Error::UnknownRepo { .. })));
    #[cfg(unix)]
    {
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let err = rollback_files(
            &store,
            &Manifest::new(),
            &target_with("app", "link/x"),
            &roots,
        );
        assert!(matches!(err, Err(Error::PathEscape { .. })), "{err:?}");
        assert!(!outside.join("x").exists());
    }
}

#[test]
fn fork_keeps_the_old_branch() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path());
    let run = store.create_run().unwrap();
    let mut cps = Vec::new();
    for seq in 1..=3 {
        let mut cp = checkpoint(&run, seq, cps.last());
        cp.files.push(FileChange::new(
            "app",
            format!("f{seq}.txt"),
            present(&store, format!("{seq}").as_bytes()),
        ));
        store.put(&cp).unwrap();
        cps.push(cp);
    }
    let fork = store.fork(&run, &cps[1].id).unwrap();
    assert_ne!(fork, run);
    assert_eq!(store.list(&run).unwrap(), cps, "the old run is untouched");
    let first = store.latest(&fork).unwrap().unwrap();
    assert_eq!(first.parent, Some(cps[1].reference()));
    assert_eq!(first.artifacts, cps[1].artifacts);
    assert!(first.files.is_empty());

    let mut next = checkpoint(&fork, 2, Some(&first));
    next.files
        .push(FileChange::new("app", "g.txt", present(&store, b"g")));
    store.put(&next).unwrap();
    let on_fork: Vec<String> = store
        .materialize(&fork, &next.id)
        .unwrap()
        .into_keys()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(on_fork, ["f1.txt", "f2.txt", "g.txt"]);
    let on_old: Vec<String> = store
        .materialize(&run, &cps[2].id)
        .unwrap()
        .into_keys()
        .map(|(_, p)| p)
        .collect();
    assert_eq!(on_old, ["f1.txt", "f2.txt", "f3.txt"]);
    assert_eq!(store.runs().unwrap().len(), 2);
}

// ---------------------------------------------------------------------------
// Crash test: a child process writes checkpoints until it is SIGKILLed.

const WRITER_ENV: &str = "KIRO_CHECKPOINT_CRASH_WRITER";
/// Set for the rounds whose writer skips syncs ([`Durability::ProcessCrash`]).
const NO_SYNC_ENV: &str = "KIRO_CHECKPOINT_CRASH_NO_SYNC";

/// A small xorshift generator, seeded per process, so that the test needs no
/// extra crate.
struct Rng(u64);

impl Rng {
    fn seeded() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        Rng(nanos ^ (u64::from(std::process::id()) << 32) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Appends one checkpoint to `run` following the store's id convention
/// (`c<n>` for the n-th checkpoint), with a few files, some of them repeated
/// contents (dedup) and some large enough that writes take time.
fn write_one(store: &FileCheckpointStore, run: &RunId, rng: &mut Rng) -> Checkpoint {
    let list = store.list(run).unwrap();
    let parent = list.last();
    let mut cp = checkpoint(run, list.len() as u64 + 1, parent);
    for i in 0..1 + rng.below(3) {
        let bytes = if rng.below(3) == 0 {
            format!("shared content {}", rng.below(4)).into_bytes()
        } else {
            let len = rng.below(16 * 1024) as usize;
            let seed = rng.next();
            (0..len)
                .map(|j| (seed >> (j % 57)) as u8 ^ j as u8)
                .collect()
        };
        let mode = if rng.below(2) == 0 { 0o755 } else { 0o644 };
        let state = FileState::present(store.put_blob(&bytes).unwrap(), mode);
        cp.files.push(FileChange::new(
            "app",
            format!("dir{}/f{i}.bin", rng.below(5)),
            state,
        ));
    }
    store.put(&cp).unwrap();
    cp
}

/// The writer: runs only in the child process started by
/// [`sigkill_at_random_points_leaves_the_store_readable`].
#[test]
fn crash_writer_child() {
    let Some(root) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let durability = if std::env::var_os(NO_SYNC_ENV).is_some_and(|v| v == "1") {
        Durability::ProcessCrash
    } else {
        Durability::PowerLoss
    };
    let store = FileCheckpointStore::new(PathBuf::from(root)).with_durability(durability);
    let mut rng = Rng::seeded();
    let mut run = match store.runs().unwrap().pop() {
        Some(run) => run,
        None => store.create_run().unwrap(),
    };
    loop {
        match rng.below(40) {
            0 => run = store.create_run().unwrap(),
            1 => {
                if let Some(latest) = store.latest(&run).unwrap() {
                    run = store.fork(&run, &latest.id).unwrap();
                }
            }
            _ => {}
        }
        if store.list(&run).unwrap().len() >= 150 {
            run = store.create_run().unwrap();
        }
        if rng.below(4) == 0 {
            // A group commit of two chained checkpoints.
            let list = store.list(&run).unwrap();
            let first = checkpoint(&run, list.len() as u64 + 1, list.last());
            let second = checkpoint(&run, list.len() as u64 + 2, Some(&first));
            store.put_many(&[first, second]).unwrap();
        } else {
            write_one(&store, &run, &mut rng);
        }
    }
}

/// Everything a reader can check: every run lists, every listed checkpoint
/// can be fetched, its blobs exist and hash right, and its chain
/// materializes. Returns the number of checkpoints.
fn check_store(store: &FileCheckpointStore) -> usize {
    let mut total = 0;
    let mut seen_blobs = HashSet::new();
    for run in store.runs().unwrap() {
        let list = store.list(&run).unwrap();
        assert_eq!(store.latest(&run).unwrap().as_ref(), list.last());
        let ids: HashSet<_> = list.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), list.len(), "duplicate ids in {run}");
        for cp in &list {
            assert_eq!(&store.get(&run, &cp.id).unwrap(), cp);
            for change in &cp.files {
                if let FileState::Present { blob, .. } = &change.state {
                    if seen_blobs.insert(blob.clone()) {
                        let bytes = store.get_blob(blob).unwrap();
                        assert_eq!(&BlobId::of(&bytes), blob);
                    }
                }
            }
        }
        if let Some(last) = list.last() {
            store.materialize(&run, &last.id).unwrap();
        }
        total += list.len();
    }
    total
}

#[test]
fn sigkill_at_random_points_leaves_the_store_readable() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = Rng::seeded();
    let mut previous = 0;
    let mut grew = 0;
    const KILLS: usize = 36;
    for round in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "checkpoint::crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(WRITER_ENV, dir.path())
            // Every other round the writer does not sync: a SIGKILL must
            // still leave the store readable and lose nothing committed.
            .env(NO_SYNC_ENV, if round % 2 == 1 { "1" } else { "" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The child needs a few milliseconds to start; the random delay then
        // lands anywhere in its loop (blob writes, log appends, copies).
        std::thread::sleep(Duration::from_micros(5_000 + rng.below(80_000)));
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer must die by the signal"
        );

        let store = FileCheckpointStore::new(dir.path());
        let total = check_store(&store);
        assert!(
            total >= previous,
            "round {round}: committed checkpoints vanished"
        );
        if total > previous {
            grew += 1;
        }
        // Writing continues after the crash, in the run the child was using.
        if let Some(run) = store.runs().unwrap().pop() {
            write_one(&store, &run, &mut rng);
            let leftovers = std::fs::read_dir(store.run_dir(&run).unwrap())
                .unwrap()
                .filter(|e| {
                    let name = e.as_ref().unwrap().file_name();
                    name.to_string_lossy().starts_with(".kiro-tmp-")
                })
                .count();
            assert_eq!(leftovers, 0, "round {round}: temporary files left behind");
        }
        previous = check_store(&store);
        assert_eq!(
            previous,
            total + usize::from(!store.runs().unwrap().is_empty())
        );
    }
    // Disks differ (a data sync took 9 ms where this was written), so the
    // bar only proves that kills landed while the writer was writing.
    assert!(
        grew >= KILLS / 4,
        "the writer made progress in only {grew} of {KILLS} rounds"
    );
}

#[test]
fn pretty_copies_are_written_when_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileCheckpointStore::new(dir.path()).with_pretty_copies(true);
    let run = store.create_run().unwrap();
    let first = checkpoint(&run, 1, None);
    store.put(&first).unwrap();
    let copy = store.run_dir(&run).unwrap().join("c000001.json");
    let from_copy: Checkpoint = serde_json::from_slice(&std::fs::read(copy).unwrap()).unwrap();
    assert_eq!(from_copy, first);
    assert_eq!(store.get(&run, &first.id).unwrap(), first);
}

// ---------------------------------------------------------------------------
// Exact, all-or-nothing rollback (issue 11, items 3 and 4).

#[test]
fn modes_are_recorded_and_old_executable_flags_still_read() {
    let blob = BlobId::of(b"x");
    // (record as stored, state read back)
    let cases = [
        (
            r#"{"kind":"present","blob":"B","executable":true}"#,
            FileState::present(blob.clone(), 0o755),
        ),
        (
            r#"{"kind":"present","blob":"B","executable":false}"#,
            FileState::present(blob.clone(), 0o644),
        ),
        (
            r#"{"kind":"present","blob":"B","mode":384}"#,
            FileState::present(blob.clone(), 0o600),
        ),
        // Set-id bits are never recorded, so never restored.
        (
            r#"{"kind":"present","blob":"B","mode":2541}"#,
            FileState::present(blob.clone(), 0o755),
        ),
        (
            r#"{"kind":"symlink","target":"../x"}"#,
            FileState::Symlink {
                target: "../x".into(),
            },
        ),
        (r#"{"kind":"deleted"}"#, FileState::Deleted),
    ];
    for (json, want) in cases {
        let json = json.replace('B', blob.as_str());
        let got: FileState = serde_json::from_str(&json).unwrap();
        assert_eq!(got, want, "{json}");
        // What is written now reads back the same.
        let again: FileState = serde_json::from_str(&serde_json::to_string(&got).unwrap()).unwrap();
        assert_eq!(again, want);
    }
    let written = serde_json::to_string(&FileState::present(blob, 0o755)).unwrap();
    assert!(
        written.contains(r#""mode":493"#) && !written.contains("executable"),
        "{written}"
    );
}

/// A repository changed away from a recorded state (see [`changed_tree`]).
struct Changed {
    /// Holds the repository and the store.
    _dir: tempfile::TempDir,
    root: PathBuf,
    store: FileCheckpointStore,
    /// Every path involved and the state to return to.
    wanted: Vec<((String, String), FileState)>,
    /// The tree as it was in that state.
    expected: tree::Tree,
}

/// A repository of a few files and its store, changed (edits, a deletion,
/// new files, a mode change, links) after its states were recorded.
fn changed_tree() -> Changed {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/a.rs"), "a1\n").unwrap();
    std::fs::write(root.join("src/b.rs"), "b1\n").unwrap();
    std::fs::write(root.join("run.sh"), "#!/bin/sh\n").unwrap();
    std::fs::write(root.join("gone.txt"), "gone\n").unwrap();
    #[cfg(unix)]
    {
        tree::chmod(&root.join("run.sh"), 0o755);
        tree::chmod(&root.join("src/b.rs"), 0o600);
        std::os::unix::fs::symlink("a.rs", root.join("src/alias")).unwrap();
    }
    let expected = tree::capture(&root);
    let store = FileCheckpointStore::new(dir.path().join("ws"));
    let names = [
        "src/a.rs",
        "src/b.rs",
        "run.sh",
        "gone.txt",
        "src/alias",
        "new.txt",
        "gen/deep/x",
        "src/link",
    ];
    let wanted: Vec<_> = names
        .iter()
        .map(|n| {
            (
                ("app".to_string(), n.to_string()),
                state_on_disk(&store, &root.join(n)),
            )
        })
        .collect();

    std::fs::write(root.join("src/a.rs"), "a2\n").unwrap();
    std::fs::write(root.join("src/b.rs"), "b2\n").unwrap();
    std::fs::remove_file(root.join("gone.txt")).unwrap();
    std::fs::write(root.join("new.txt"), "new\n").unwrap();
    std::fs::create_dir_all(root.join("gen/deep")).unwrap();
    std::fs::write(root.join("gen/deep/x"), "x\n").unwrap();
    #[cfg(unix)]
    {
        tree::chmod(&root.join("run.sh"), 0o644);
        std::fs::remove_file(root.join("src/alias")).unwrap();
        std::os::unix::fs::symlink("b.rs", root.join("src/alias")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("src/link")).unwrap();
    }
    assert_ne!(tree::capture(&root), expected);
    Changed {
        _dir: dir,
        root,
        store,
        wanted,
        expected,
    }
}

#[test]
fn a_rollback_with_a_missing_or_corrupt_blob_changes_nothing() {
    for corrupt in [false, true] {
        let Changed {
            _dir,
            root,
            store,
            wanted,
            ..
        } = changed_tree();
        let before = tree::capture(&root);
        let roots = HashMap::from([("app".to_string(), root.clone())]);
        // The blob of one file to restore is lost (or damaged) in the store.
        let FileState::Present { blob, .. } = &wanted[1].1 else {
            panic!()
        };
        let path = store.blob_path(blob);
        if corrupt {
            std::fs::write(&path, "not the content").unwrap();
        } else {
            std::fs::remove_file(&path).unwrap();
        }
        let current: Manifest = wanted
            .iter()
            .map(|(k, _)| {
                (
                    k.clone(),
                    ManifestEntry {
                        before: FileState::Deleted,
                        state: FileState::Deleted,
                    },
                )
            })
            .collect();
        let target: Manifest = wanted
            .iter()
            .map(|(k, s)| {
                (
                    k.clone(),
                    ManifestEntry {
                        before: FileState::Deleted,
                        state: s.clone(),
                    },
                )
            })
            .collect();
        let err = rollback_files(&store, &current, &target, &roots).unwrap_err();
        match (&err, corrupt) {
            (Error::BlobNotFound { blob: b }, false)
            | (Error::CorruptBlob { blob: b, .. }, true) => {
                assert_eq!(b, blob.as_str());
            }
            _ => panic!("corrupt={corrupt}: {err:?}"),
        }
        // Refused before touching anything: not one file was removed or written.
        tree::assert_same(&tree::capture(&root), &before, "after a refused rollback");
        let err = RollbackPlan::new(&store, wanted.clone(), &roots).unwrap_err();
        assert!(matches!(
            err,
            Error::BlobNotFound { .. } | Error::CorruptBlob { .. }
        ));
    }
}

#[test]
fn rollback_restores_contents_modes_and_links_exactly() {
    let Changed {
        _dir,
        root,
        store,
        wanted,
        expected,
    } = changed_tree();
    let roots = HashMap::from([("app".to_string(), root.clone())]);
    let plan = RollbackPlan::new(&store, wanted.clone(), &roots).unwrap();
    let report = plan
        .apply(&store, &roots, &RollbackHooks::default())
        .unwrap();
    tree::assert_same(&tree::capture(&root), &expected, "after rollback");
    assert!(
        !root.join("gen").exists(),
        "emptied directories are removed"
    );
    assert!(report.removed.contains(&("app".into(), "new.txt".into())));
    // What the rollback overwrote or removed is kept in the store.
    for step in plan.steps() {
        if let FileState::Present { blob, .. } = &step.before {
            assert!(store.has_blob(blob), "{}", step.path);
        }
    }
    // Nothing left to do the second time.
    assert!(RollbackPlan::new(&store, wanted, &roots)
        .unwrap()
        .is_empty());
}

#[cfg(unix)]
#[test]
fn rollback_never_writes_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    // Stands for /etc/shadow: a file outside the repository.
    let secret = dir.path().join("shadow");
    std::fs::write(&secret, "root:secret\n").unwrap();
    tree::chmod(&secret, 0o600);
    std::fs::write(root.join("config.txt"), "tracked\n").unwrap();
    let store = FileCheckpointStore::new(dir.path().join("ws"));
    let key = ("app".to_string(), "config.txt".to_string());
    let wanted = vec![(key, state_on_disk(&store, &root.join("config.txt")))];
    let expected = tree::capture(&root);

    // The tracked path became a link to the secret file.
    std::fs::remove_file(root.join("config.txt")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join("config.txt")).unwrap();
    let roots = HashMap::from([("app".to_string(), root.clone())]);
    RollbackPlan::new(&store, wanted, &roots)
        .unwrap()
        .apply(&store, &roots, &RollbackHooks::default())
        .unwrap();
    tree::assert_same(&tree::capture(&root), &expected, "after rollback");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), "root:secret\n");
    assert_eq!(mode_bits(&std::fs::metadata(&secret).unwrap()), 0o600);
}

#[test]
fn a_rollback_interrupted_at_any_step_is_completed_by_the_next_one() {
    let steps = {
        let Changed {
            _dir,
            root,
            store,
            wanted,
            ..
        } = changed_tree();
        let roots = HashMap::from([("app".to_string(), root)]);
        RollbackPlan::new(&store, wanted, &roots)
            .unwrap()
            .steps()
            .len()
    };
    assert!(steps >= 6, "{steps} steps");
    for stop in 1..=steps {
        let Changed {
            _dir,
            root,
            store,
            wanted,
            expected,
        } = changed_tree();
        let roots = HashMap::from([("app".to_string(), root.clone())]);
        let run = store.create_run().unwrap();
        let cp = Checkpoint::new(run.clone(), CheckpointId::from_seq(1), "rollback to c0");
        let intent = RollbackPlan::new(&store, wanted, &roots)
            .unwrap()
            .into_intent(cp);
        // A crash after `stop` steps: the hook stops the rollback there.
        let crash = |done: usize| {
            if done == stop {
                Err(Error::Backend("crash".into()))
            } else {
                Ok(())
            }
        };
        let hooks = RollbackHooks {
            after_step: Some(&crash),
        };
        assert!(apply_intent(&store, &intent, &roots, &hooks).is_err());
        assert_eq!(
            store.intents().unwrap(),
            vec![intent.clone()],
            "stop {stop}"
        );
        assert_eq!(store.list(&run).unwrap(), vec![], "not committed yet");
        // It holds a checkpoint's artifacts: for its owner's eyes only.
        let intent_file = store.run_dir(&run).unwrap().join("rollback.intent");
        assert_eq!(
            mode_bits(&std::fs::metadata(&intent_file).unwrap()) & 0o077,
            0
        );
        if stop < steps {
            assert_ne!(tree::capture(&root), expected, "stop {stop}: half done");
        }

        // The next command completes it: the tree, the checkpoint, no intent.
        let done = complete_intents(&store, &roots, |_| true).unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, intent.checkpoint.reference());
        tree::assert_same(&tree::capture(&root), &expected, &format!("stop {stop}"));
        assert_eq!(store.list(&run).unwrap(), vec![intent.checkpoint.clone()]);
        assert!(store.intents().unwrap().is_empty());
        assert!(complete_intents(&store, &roots, |_| true)
            .unwrap()
            .is_empty());
    }
}
