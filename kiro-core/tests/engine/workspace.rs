//! Workspace sandbox: path resolution, write policy, command policy, journal,
//! snapshots and the hash cache, on real temporary folders.

// Tests state their expectations with unwrap/panic; a failure is the test
// failing, which is what these lints guard against in library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kiro_core::workspace::{sha256_hex, HashCache, Policy, Workspace};
use kiro_core::Error;

/// Writes `files` (path, contents) under `root`, creating folders, with an
/// mtime an hour in the past so the hash cache trusts them (files touched in
/// the last seconds are re-hashed on purpose).
fn tree(root: &Path, files: &[(&str, &str)]) {
    for (path, contents) in files {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, contents).unwrap();
        age(&p, 3600);
    }
}

fn age(path: &Path, secs: u64) {
    let f = fs::File::options().write(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap();
}

fn permissive(root: &Path) -> Workspace {
    Workspace::builder()
        .repo("main", root)
        .policy(Policy::permissive())
        .build()
        .unwrap()
}

fn assert_escape(r: Result<impl std::fmt::Debug, Error>, what: &str) {
    match r {
        Err(Error::PathEscape { repo, path, reason }) => {
            assert_eq!(repo, "main", "{what}");
            assert!(!path.as_os_str().is_empty(), "{what}");
            assert!(!reason.is_empty(), "{what}");
        }
        other => panic!("{what}: expected PathEscape, got {other:?}"),
    }
}

#[test]
fn dot_dot_escape_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    tree(&root, &[("a/b.txt", "b")]);
    fs::write(dir.path().join("secret"), "s").unwrap();
    let ws = permissive(&root);
    for p in ["../secret", "a/../../secret", "a/../../repo/a/b.txt", ".."] {
        assert_escape(ws.read("main", p), p);
        assert_escape(ws.write("main", p, b"x"), p);
    }
    // `..` that stays inside is fine.
    assert_eq!(ws.read("main", "a/../a/b.txt").unwrap(), b"b");
    assert_eq!(fs::read_to_string(dir.path().join("secret")).unwrap(), "s");
}

#[test]
fn absolute_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &[("a.txt", "a")]);
    let ws = permissive(dir.path());
    let abs = dir.path().join("a.txt");
    assert_escape(ws.read("main", &abs), "absolute inside");
    assert_escape(
        ws.write("main", "/tmp/kiro-never-written", b"x"),
        "absolute",
    );
    assert!(!Path::new("/tmp/kiro-never-written").exists());
    let err = ws.read("main", &abs).unwrap_err().to_string();
    assert!(err.contains("main") && err.contains("a.txt"), "{err}");
}

#[cfg(unix)]
#[test]
fn symlink_to_outside_is_refused() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let outside = dir.path().join("outside");
    tree(&root, &[("ok.txt", "ok")]);
    tree(&outside, &[("secret.txt", "s")]);
    symlink(outside.join("secret.txt"), root.join("file-link")).unwrap();
    symlink(&outside, root.join("dir-link")).unwrap();
    symlink(outside.join("missing.txt"), root.join("dangling")).unwrap();
    let ws = permissive(&root);

    assert_escape(ws.read("main", "file-link"), "file symlink read");
    assert_escape(ws.write("main", "file-link", b"x"), "file symlink write");
    assert_escape(ws.read("main", "dir-link/secret.txt"), "dir symlink read");
    assert_escape(
        ws.write("main", "dir-link/new.txt", b"x"),
        "dir symlink write",
    );
    assert_escape(
        ws.write("main", "dir-link/deep/er/new.txt", b"x"),
        "dir symlink, missing sub-folders",
    );
    assert_escape(
        ws.remove("main", "dir-link/secret.txt"),
        "dir symlink remove",
    );
    assert_escape(ws.write("main", "dangling", b"x"), "dangling symlink");
    assert_escape(ws.list("main", "dir-link"), "dir symlink list");

    assert_eq!(fs::read_to_string(outside.join("secret.txt")).unwrap(), "s");
    assert!(!outside.join("new.txt").exists());
    assert!(!outside.join("deep").exists());
    assert!(!outside.join("missing.txt").exists());
}

#[cfg(unix)]
#[test]
fn symlink_inside_the_root_is_allowed() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &[("real/a.txt", "a")]);
    symlink(dir.path().join("real"), dir.path().join("alias")).unwrap();
    symlink("real/a.txt", dir.path().join("a-link")).unwrap();
    let ws = permissive(dir.path());
    assert_eq!(ws.read("main", "alias/a.txt").unwrap(), b"a");
    assert_eq!(ws.read("main", "a-link").unwrap(), b"a");
    let entry = ws.write("main", "alias/b.txt", b"b").unwrap();
    // The journal names the file that was really written.
    assert_eq!(entry.path, PathBuf::from("real/b.txt"));
    assert_eq!(fs::read(dir.path().join("real/b.txt")).unwrap(), b"b");
}

#[cfg(unix)]
#[test]
fn symlink_cannot_lend_a_writable_name() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &[("protected/p.txt", "p")]);
    fs::create_dir_all(dir.path().join("src")).unwrap();
    symlink(
        dir.path().join("protected/p.txt"),
        dir.path().join("src/p.txt"),
    )
    .unwrap();
    let ws = Workspace::builder()
        .repo("main", dir.path())
        .policy(Policy {
            writable: vec!["src/**".into()],
            ..Policy::default()
        })
        .build()
        .unwrap();
    assert!(matches!(
        ws.write("main", "src/p.txt", b"x"),
        Err(Error::NotWritable { .. })
    ));
    assert_eq!(
        fs::read_to_string(dir.path().join("protected/p.txt")).unwrap(),
        "p"
    );
}

#[test]
fn writable_globs_allow_and_deny() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &[("Cargo.toml", "[package]")]);
    let ws = Workspace::builder()
        .repo("main", dir.path())
        .policy(Policy {
            writable: vec!["src/**".into(), "*.md".into(), "tests/*.rs".into()],
            commands: vec![],
        })
        .build()
        .unwrap();
    let check = |path: &str, allowed: bool| {
        assert_eq!(ws.is_writable("main", path).unwrap(), allowed, "{path}");
        let r = ws.write("main", path, b"x");
        if allowed {
            assert!(r.is_ok(), "{path}: {r:?}");
        } else {
            match r {
                Err(Error::NotWritable { repo, path: p }) => {
                    assert_eq!(repo, "main");
                    assert_eq!(p, PathBuf::from(path));
                }
                other => panic!("{path}: expected NotWritable, got {other:?}"),
            }
        }
    };
    check("src/lib.rs", true);
    check("src/a/b/c.rs", true);
    check("README.md", true);
    check("tests/t.rs", true);
    check("tests/sub/t.rs", false);
    check("docs/README.md", false);
    check("Cargo.toml", false);
    assert_eq!(
        fs::read_to_string(dir.path().join("Cargo.toml")).unwrap(),
        "[package]"
    );
    assert!(matches!(
        ws.remove("main", "Cargo.toml"),
        Err(Error::NotWritable { .. })
    ));

    // The default policy is read-only.
    let ro = Workspace::single(dir.path()).unwrap();
    assert!(matches!(
        ro.write("main", "src/lib.rs", b"y"),
        Err(Error::NotWritable { .. })
    ));
}

#[test]
fn invalid_glob_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let r = Workspace::builder()
        .repo("main", dir.path())
        .policy(Policy {
            writable: vec!["src/[".into()],
            commands: vec![],
        })
        .build();
    assert!(matches!(r, Err(Error::InvalidGlob { ref pattern, .. }) if pattern == "src/["));
}

#[test]
fn command_policy_allows_and_denies() {
    let policy = Policy {
        writable: vec![],
        commands: vec!["npm".into(), "cargo test".into(), "git diff --stat".into()],
    };
    let allowed: &[&[&str]] = &[
        &["npm", "ci"],
        &["/usr/local/bin/npm", "test"],
        &["cargo", "test"],
        &["cargo", "test", "--all"],
        &["git", "diff", "--stat", "HEAD"],
    ];
    for argv in allowed {
        assert!(policy.check_command(argv).is_ok(), "{argv:?}");
    }
    let denied: &[&[&str]] = &[
        &["cargo", "publish"],
        &["cargo"],
        &["git", "diff"],
        &["git", "push"],
        &["rm", "-rf", "/"],
        &["npmx"],
        &[],
    ];
    for argv in denied {
        match policy.check_command(argv) {
            Err(Error::CommandDenied { command }) => assert_eq!(command, argv.join(" ")),
            other => panic!("{argv:?}: expected CommandDenied, got {other:?}"),
        }
    }
    let msg = policy
        .check_command(&["cargo", "publish"])
        .unwrap_err()
        .to_string();
    assert!(msg.contains("cargo publish"), "{msg}");

    // An empty list denies everything; `*` allows everything.
    assert!(Policy::default().check_command(&["ls"]).is_err());
    assert!(Policy::permissive().check_command(&["ls", "-l"]).is_ok());
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::single(dir.path()).unwrap();
    assert!(matches!(
        ws.check_command(&["ls"]),
        Err(Error::CommandDenied { .. })
    ));
}

/// A command an agent chose may not run a program from inside the
/// workspace under the name of an allowed one, however the path is spelt;
/// installed programs are judged by the policy alone.
#[test]
fn agent_commands_never_run_a_program_from_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/ls"), "#!/bin/sh\n").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let link = outside.path().join("ls");
    std::os::unix::fs::symlink(root.join("src/ls"), &link).unwrap();
    let ws = Workspace::builder()
        .repo("main", &root)
        .policy(Policy {
            writable: vec!["src/**".into()],
            commands: vec!["ls".into()],
        })
        .build()
        .unwrap();
    let inside = root.join("src/ls");
    let through_dots = format!("{}/../src/ls", root.join("src").display());
    for argv in [
        vec!["./src/ls"],
        vec!["src/ls"],
        vec![inside.to_str().unwrap()],
        vec![through_dots.as_str()],
        vec![link.to_str().unwrap()],
    ] {
        assert!(
            matches!(
                ws.check_agent_command(&argv),
                Err(Error::CommandDenied { .. })
            ),
            "{argv:?}"
        );
        // The configured executor's own command line is the owner's, not an
        // agent's: the plain policy check keeps matching by file name.
        assert!(ws.check_command(&argv).is_ok(), "{argv:?}");
    }
    assert!(ws.check_agent_command(&["ls", "-l"]).is_ok());
    assert!(ws.check_agent_command(&["/bin/ls"]).is_ok());
    assert!(ws.check_agent_command(&["cat"]).is_err());
}

#[test]
fn journal_records_before_and_after_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let journal_file = dir.path().join("journal/writes.jsonl");
    let root = dir.path().join("repo");
    tree(&root, &[("old.txt", "old")]);
    let ws = Workspace::builder()
        .repo("main", &root)
        .policy(Policy::permissive())
        .journal_file(&journal_file)
        .build()
        .unwrap();
    ws.write("main", "new/file.txt", b"one").unwrap();
    ws.write("main", "new/file.txt", b"two").unwrap();
    ws.write("main", "old.txt", b"OLD").unwrap();
    ws.remove("main", "old.txt").unwrap();

    let j = ws.journal();
    assert_eq!(j.len(), 4);
    assert_eq!(j[0].path, PathBuf::from("new/file.txt"));
    assert_eq!(j[0].before, None);
    assert_eq!(j[0].after.as_deref(), Some(sha256_hex(b"one").as_str()));
    assert_eq!(j[1].before, j[0].after);
    assert_eq!(j[1].after.as_deref(), Some(sha256_hex(b"two").as_str()));
    assert_eq!(j[2].before.as_deref(), Some(sha256_hex(b"old").as_str()));
    assert_eq!(j[3].before.as_deref(), Some(sha256_hex(b"OLD").as_str()));
    assert_eq!(j[3].after, None);
    assert!(j.iter().all(|e| e.repo == "main" && e.time_ms > 0));
    assert!(!root.join("old.txt").exists());
    assert_eq!(fs::read(root.join("new/file.txt")).unwrap(), b"two");

    // The JSONL file holds the same entries; a torn last line is ignored.
    assert_eq!(Workspace::read_journal(&journal_file).unwrap(), j);
    let mut text = fs::read_to_string(&journal_file).unwrap();
    text.push_str("{\"repo\":\"ma");
    fs::write(&journal_file, text).unwrap();
    assert_eq!(Workspace::read_journal(&journal_file).unwrap(), j);

    // SHA-256 of "abc" (FIPS 180-2 test vector).
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn snapshot_diff_detects_created_modified_deleted() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        &[("keep.txt", "k"), ("edit.txt", "e"), ("gone/x.txt", "x")],
    );
    let ws = Workspace::single(dir.path()).unwrap();
    let before = ws.snapshot("main").unwrap();
    assert_eq!(before.repo, "main");
    assert_eq!(before.files.len(), 3);

    fs::write(dir.path().join("edit.txt"), "E").unwrap();
    fs::remove_file(dir.path().join("gone/x.txt")).unwrap();
    tree(dir.path(), &[("new/y.txt", "y")]);
    // A new mtime with the same contents is no modification.
    age(&dir.path().join("keep.txt"), 60);

    let after = ws.snapshot("main").unwrap();
    let changes = before.diff(&after);
    assert_eq!(changes.created, vec![PathBuf::from("new/y.txt")]);
    assert_eq!(changes.modified, vec![PathBuf::from("edit.txt")]);
    assert_eq!(changes.deleted, vec![PathBuf::from("gone/x.txt")]);
    assert!(after.diff(&after).is_empty());
    assert_eq!(after.files[Path::new("edit.txt")].sha256, sha256_hex(b"E"));
}

#[test]
fn ignored_paths_are_not_scanned() {
    let dir = tempfile::tempdir().unwrap();
    tree(
        dir.path(),
        &[
            (".gitignore", "*.log\n/build/\n"),
            ("src/lib.rs", "fn x() {}"),
            ("debug.log", "noise"),
            ("build/out.o", "bin"),
            ("target/debug/app", "bin"),
            ("sub/target/x", "bin"),
            ("node_modules/pkg/index.js", "js"),
            (".git/HEAD", "ref"),
            (".kiro/runs/r1/checkpoint.json", "{}"),
            (".kiro/specs/demo/tasks.md", "# Tasks"),
            ("src/target.rs", "a file named like a skipped folder"),
        ],
    );
    let ws = permissive(dir.path());
    let snap = ws.snapshot("main").unwrap();
    let paths: Vec<&str> = snap.files.keys().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(
        paths,
        vec![
            ".gitignore",
            ".kiro/specs/demo/tasks.md",
            "src/lib.rs",
            "src/target.rs"
        ]
    );
    assert_eq!(
        ws.list("main", "").unwrap(),
        snap.files.keys().cloned().collect::<Vec<_>>()
    );
    assert_eq!(
        ws.list("main", "src").unwrap(),
        vec![PathBuf::from("src/lib.rs"), PathBuf::from("src/target.rs")]
    );
    // Ignored files change without the snapshot noticing.
    let before = ws.snapshot("main").unwrap();
    fs::write(dir.path().join("debug.log"), "more noise").unwrap();
    fs::write(dir.path().join("target/debug/app2"), "bin").unwrap();
    assert!(before.diff(&ws.snapshot("main").unwrap()).is_empty());
}

#[test]
fn unchanged_rescan_reads_nothing_and_a_touch_rehashes_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<(String, String)> = (0..50)
        .map(|i| (format!("d{}/f{i}.txt", i % 5), format!("contents {i}")))
        .collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    tree(dir.path(), &refs);
    let ws = Workspace::single(dir.path()).unwrap();
    let cache = Arc::clone(ws.hash_cache());

    let first = ws.snapshot("main").unwrap();
    assert_eq!(first.files.len(), 50);
    assert_eq!(cache.hashed(), 50);

    let second = ws.snapshot("main").unwrap();
    assert_eq!(cache.hashed(), 50, "an unchanged re-scan read files");
    assert_eq!(first, second);

    // Same contents, new mtime: re-hashed, and still no change.
    age(&dir.path().join("d3/f3.txt"), 120);
    let third = ws.snapshot("main").unwrap();
    assert_eq!(cache.hashed(), 51);
    assert!(second.diff(&third).is_empty());

    // Recently modified files are hashed on every scan until they settle,
    // because a same-size write within the mtime granularity would be invisible.
    fs::write(dir.path().join("d1/f1.txt"), "CONTENTS 1").unwrap();
    let fourth = ws.snapshot("main").unwrap();
    assert_eq!(cache.hashed(), 52);
    ws.snapshot("main").unwrap();
    assert_eq!(cache.hashed(), 53);
    assert_eq!(
        third.diff(&fourth).modified,
        vec![PathBuf::from("d1/f1.txt")]
    );
}

#[test]
fn hash_cache_persists_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    tree(&root, &[("a.txt", "a"), ("b/c.txt", "c")]);
    let cache_file = dir.path().join("cache/hashes.json");
    assert!(HashCache::load(&cache_file).unwrap().is_empty());

    let ws = Workspace::single(&root).unwrap();
    let before = ws.snapshot("main").unwrap();
    ws.hash_cache().save(&cache_file).unwrap();

    let cache = Arc::new(HashCache::load(&cache_file).unwrap());
    assert_eq!(cache.len(), 2);
    let ws2 = Workspace::builder()
        .repo("main", &root)
        .hash_cache(Arc::clone(&cache))
        .build()
        .unwrap();
    assert_eq!(ws2.snapshot("main").unwrap(), before);
    assert_eq!(cache.hashed(), 0);
}

#[test]
fn repositories_are_resolved_by_name() {
    let app = tempfile::tempdir().unwrap();
    let docs = tempfile::tempdir().unwrap();
    tree(app.path(), &[("README.md", "app")]);
    tree(docs.path(), &[("README.md", "docs")]);
    let ws = Workspace::builder()
        .repo("app", app.path())
        .repo("docs", docs.path())
        .policy(Policy::permissive())
        .build()
        .unwrap();
    assert_eq!(ws.repos().collect::<Vec<_>>(), vec!["app", "docs"]);
    assert_eq!(ws.read("app", "README.md").unwrap(), b"app");
    assert_eq!(ws.read("docs", "README.md").unwrap(), b"docs");
    assert_eq!(
        ws.root("docs").unwrap(),
        fs::canonicalize(docs.path()).unwrap()
    );
    ws.write("docs", "guide.md", b"g").unwrap();
    assert!(docs.path().join("guide.md").exists());
    assert!(!app.path().join("guide.md").exists());
    assert_eq!(ws.journal()[0].repo, "docs");

    match ws.read("web", "README.md") {
        Err(Error::UnknownRepo { repo }) => assert_eq!(repo, "web"),
        other => panic!("expected UnknownRepo, got {other:?}"),
    }
    assert!(matches!(ws.snapshot("web"), Err(Error::UnknownRepo { .. })));

    // Builder errors: no repository, a duplicate name, a missing root.
    assert!(matches!(
        Workspace::builder().build(),
        Err(Error::InvalidWorkspace { .. })
    ));
    assert!(matches!(
        Workspace::builder()
            .repo("a", app.path())
            .repo("a", docs.path())
            .build(),
        Err(Error::InvalidWorkspace { .. })
    ));
    assert!(matches!(
        Workspace::single(app.path().join("missing")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn workspace_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Workspace>();
    check::<HashCache>();
    check::<Policy>();
    check::<kiro_core::workspace::Snapshot>();
}

// ---------------------------------------------------------------------------
// Modes and symbolic links in snapshots (issue 11, item 4).

#[cfg(unix)]
#[test]
fn snapshots_record_modes_and_links_without_following_them() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "secret").unwrap();
    fs::create_dir_all(outside.path().join("dir")).unwrap();
    fs::write(outside.path().join("dir/inner.txt"), "inner").unwrap();
    let root = dir.path();
    tree(root, &[("src/a.rs", "a"), ("run.sh", "#!/bin/sh\n")]);
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    symlink(outside.path().join("secret"), root.join("src/link")).unwrap();
    symlink(outside.path().join("dir"), root.join("src/dirlink")).unwrap();
    symlink("a.rs", root.join("src/alias")).unwrap();
    let ws = permissive(root);
    let snap = ws.snapshot("main").unwrap();

    // (path, mode, link target)
    let want: [(&str, u32, Option<String>); 5] = [
        ("run.sh", 0o755, None),
        ("src/a.rs", 0o644, None),
        ("src/alias", 0, Some("a.rs".into())),
        (
            "src/dirlink",
            0,
            Some(outside.path().join("dir").display().to_string()),
        ),
        (
            "src/link",
            0,
            Some(outside.path().join("secret").display().to_string()),
        ),
    ];
    let got: Vec<(String, u32, Option<String>)> = snap
        .files
        .iter()
        .map(|(p, s)| (p.to_string_lossy().into_owned(), s.mode, s.symlink.clone()))
        .collect();
    let want: Vec<(String, u32, Option<String>)> = want
        .into_iter()
        .map(|(p, m, l)| (p.to_owned(), m, l))
        .collect();
    // A umask may take bits from new files; modes are compared as set.
    let umasked = |m: u32| m & !0o022;
    assert_eq!(
        got.iter()
            .map(|(p, m, l)| (p.clone(), umasked(*m), l.clone()))
            .collect::<Vec<_>>(),
        want
    );
    // A link's hash is of its target text, never of what it points to.
    let link = &snap.files[Path::new("src/link")];
    assert_eq!(
        link.sha256,
        sha256_hex(
            outside
                .path()
                .join("secret")
                .display()
                .to_string()
                .as_bytes()
        )
    );
    // The linked directory was not descended into (the list above has
    // nothing under `src/dirlink`), and `list` has no links.
    assert_eq!(
        ws.list("main", "").unwrap(),
        vec![PathBuf::from("run.sh"), PathBuf::from("src/a.rs")]
    );

    // A mode change alone, a retargeted link and a file turned into a link
    // are all modifications.
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::remove_file(root.join("src/alias")).unwrap();
    symlink("b.rs", root.join("src/alias")).unwrap();
    fs::remove_file(root.join("src/a.rs")).unwrap();
    symlink("alias", root.join("src/a.rs")).unwrap();
    let changes = snap.diff(&ws.snapshot("main").unwrap());
    assert_eq!(
        changes.modified,
        vec![
            PathBuf::from("run.sh"),
            PathBuf::from("src/a.rs"),
            PathBuf::from("src/alias")
        ]
    );
    assert!(changes.created.is_empty() && changes.deleted.is_empty());
}
