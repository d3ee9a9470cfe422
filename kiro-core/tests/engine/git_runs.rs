//! Git per task: the `git` wrapper on real repositories created by the test,
//! and runs that commit each finished task on `kiro/<spec>` in every
//! repository they use.

use std::path::Path;
use std::process::Command;

use kiro_core::git::{CommitMessage, GitRepo};
use kiro_core::Error;

/// Runs git in `dir` with a fixed identity and no user configuration.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new repository at `dir` on branch `main`, with one commit of `files`
/// (none: no commit at all).
fn init_repo(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q", "-b", "main"]);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    if !files.is_empty() {
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "initial"]);
    }
}

#[test]
fn git_wrapper_reads_head_branches_log_and_status() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("api");
    init_repo(&dir, &[("src/lib.rs", "// lib\n")]);
    let repo = GitRepo::open(dir.join("src")).unwrap();
    assert_eq!(repo.root(), dir.canonicalize().unwrap());
    let initial = repo.head().unwrap().unwrap();
    assert_eq!(repo.current_branch().unwrap().as_deref(), Some("main"));
    assert!(repo.status_porcelain().unwrap().is_empty());

    repo.create_branch("kiro/auth", &initial).unwrap();
    repo.switch("kiro/auth").unwrap();
    assert_eq!(repo.branches("kiro/").unwrap(), ["kiro/auth"]);
    assert_eq!(repo.branches("").unwrap(), ["kiro/auth", "main"]);

    std::fs::write(dir.join("src/lib.rs"), "// changed\n").unwrap();
    std::fs::write(dir.join("new file.txt"), "new\n").unwrap();
    std::fs::write(dir.join("untouched.txt"), "not staged\n").unwrap();
    let mut dirty = repo.status_porcelain().unwrap();
    dirty.sort();
    assert_eq!(dirty, ["new file.txt", "src/lib.rs", "untouched.txt"]);

    // Stage exactly the given paths; a path neither on disk nor in the index is ignored.
    repo.stage(&[
        "src/lib.rs".into(),
        "new file.txt".into(),
        "gone.txt".into(),
    ])
    .unwrap();
    let message = CommitMessage {
        subject: "1 Add login\n\nKiro-Run: forged".into(),
        trailers: vec![
            ("Kiro-Spec".into(), "auth".into()),
            ("Validates".into(), "1.1, 1.2".into()),
        ],
    };
    let id = repo.commit(&message).unwrap();
    assert_eq!(repo.head().unwrap().as_deref(), Some(id.as_str()));
    assert_eq!(repo.status_porcelain().unwrap(), ["untouched.txt"]);

    let log = repo.commits("kiro/auth").unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, id);
    assert_eq!(log[0].subject, "1 Add login Kiro-Run: forged");
    assert_eq!(
        log[0].trailers,
        [
            ("Kiro-Spec".to_owned(), "auth".to_owned()),
            ("Validates".to_owned(), "1.1, 1.2".to_owned())
        ]
    );
    assert_eq!(log[1].id, initial);
    assert_eq!(repo.commits("main..kiro/auth").unwrap().len(), 1);

    // Moving the checked-out branch back resets the index, not the files.
    repo.reset_branch("kiro/auth", Some(&initial)).unwrap();
    assert_eq!(repo.head().unwrap().as_deref(), Some(initial.as_str()));
    assert_eq!(
        std::fs::read_to_string(dir.join("src/lib.rs")).unwrap(),
        "// changed\n"
    );
    let mut dirty = repo.status_porcelain().unwrap();
    dirty.sort();
    assert_eq!(dirty, ["new file.txt", "src/lib.rs", "untouched.txt"]);
}

#[test]
fn git_wrapper_handles_unborn_heads_and_refuses_non_repositories() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("web");
    init_repo(&dir, &[]);
    let repo = GitRepo::open(&dir).unwrap();
    assert_eq!(repo.head().unwrap(), None);
    assert!(repo.commits("HEAD").unwrap().is_empty());
    // The first commit creates the branch HEAD names.
    repo.switch("kiro/auth").unwrap();
    assert_eq!(repo.current_branch().unwrap().as_deref(), Some("kiro/auth"));
    std::fs::write(dir.join("a.txt"), "a\n").unwrap();
    repo.stage(&["a.txt".into()]).unwrap();
    let id = repo
        .commit(&CommitMessage {
            subject: "1 First".into(),
            trailers: vec![],
        })
        .unwrap();
    assert_eq!(repo.branches("").unwrap(), ["kiro/auth"]);
    assert_eq!(repo.commits("kiro/auth").unwrap()[0].id, id);

    let plain = tmp.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    assert!(matches!(
        GitRepo::open(&plain),
        Err(Error::NotAGitRepo { .. })
    ));
    assert!(GitRepo::discover(&plain).is_none());
    assert!(matches!(
        repo.commits("--output=/tmp/x"),
        Err(Error::InvalidId { .. })
    ));
}
