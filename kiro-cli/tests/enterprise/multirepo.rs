//! `kiro status` on a multi-repository workspace (`.kiro/workspace.toml`):
//! one line (and one JSON object) per repository with its branch, head, the
//! spec's run commits on `kiro/<spec>` (those with its `Kiro-Spec:` trailer)
//! and its dirty files, read from two git repositories the test creates and
//! a project folder outside git.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{expect_code, kiro_cmd, stdout};

/// Runs git in `dir` with a fixed identity, no signing and no user or
/// system configuration, and returns its trimmed output.
fn git(dir: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new("git");
    cmd.arg("-C").arg(dir).args([
        "-c",
        "user.name=Test",
        "-c",
        "user.email=test@example.com",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
    ]);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GIT_") {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `base/project` (not under git, holding `.kiro/`), and the git
/// repositories `base/api` (on `kiro/cross` with one run commit) and
/// `base/web` (the default, on `main`, with one changed and one new file).
fn layout() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let spec = base.join("project/.kiro/specs/cross");
    fs::create_dir_all(&spec).unwrap();
    fs::write(
        spec.join("tasks.md"),
        "# Implementation Plan\n\n- [ ] 1. API endpoint\n  - _Repos: api_\n- [ ] 2. Web page\n",
    )
    .unwrap();
    fs::write(
        base.join("project/.kiro/workspace.toml"),
        "[repos.api]\npath = \"../api\"\n\n[repos.web]\npath = \"../web\"\ndefault = true\n",
    )
    .unwrap();
    for repo in ["api", "web"] {
        let root = base.join(repo);
        fs::create_dir_all(&root).unwrap();
        git(&root, &["init", "-q"]);
        fs::write(root.join("README.md"), format!("# {repo}\n")).unwrap();
        git(&root, &["add", "README.md"]);
        git(&root, &["commit", "-q", "-m", "initial"]);
    }
    let api = base.join("api");
    git(&api, &["checkout", "-q", "-b", "kiro/cross"]);
    fs::write(api.join("routes.rs"), "fn route() {}\n").unwrap();
    git(&api, &["add", "routes.rs"]);
    git(
        &api,
        &[
            "commit",
            "-q",
            "-m",
            "1 API endpoint\n\nKiro-Spec: cross\nKiro-Task: 1",
        ],
    );
    let web = base.join("web");
    fs::write(web.join("README.md"), "# web, edited\n").unwrap();
    fs::write(web.join("notes.txt"), "new\n").unwrap();
    (dir, base)
}

#[test]
fn status_shows_every_repository_with_its_git_state() {
    let (_dir, base) = layout();
    let project = base.join("project");
    let out = kiro_cmd(&project, &["status", "cross"]).output().unwrap();
    expect_code(&out, 0);
    let text = stdout(&out);
    let api_head = git(&base.join("api"), &["rev-parse", "--short=7", "HEAD"]);
    let web_head = git(&base.join("web"), &["rev-parse", "--short=7", "HEAD"]);
    let expected = [
        format!("repo api: ../api; branch kiro/cross at {api_head}; 1 run commit; 0 dirty files"),
        format!(
            "repo web (default): ../web; branch main at {web_head}; 0 run commits; 2 dirty files"
        ),
        "repo main: .; not a git work tree".to_owned(),
    ];
    let repo_lines: Vec<&str> = text.lines().filter(|l| l.starts_with("repo ")).collect();
    assert_eq!(repo_lines, expected, "{text}");

    let out = kiro_cmd(&project, &["status", "cross", "--format", "json"])
        .output()
        .unwrap();
    expect_code(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let repos = json["repos"].as_array().unwrap();
    let names: Vec<&str> = repos.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api", "web", "main"]);
    let api = &repos[0];
    assert_eq!(api["branch"], "kiro/cross");
    assert_eq!(api["default"], false);
    let run_commits = api["run_commits"].as_array().unwrap();
    assert_eq!(run_commits.len(), 1);
    assert!(
        run_commits[0]
            .as_str()
            .unwrap()
            .ends_with(" 1 API endpoint"),
        "{api}"
    );
    assert_eq!(
        api["head"].as_str().unwrap(),
        git(&base.join("api"), &["rev-parse", "HEAD"])
    );
    let web = &repos[1];
    assert_eq!(web["default"], true);
    assert_eq!(web["dirty"], serde_json::json!(["README.md", "notes.txt"]));
    assert_eq!(web["run_commits"], serde_json::json!([]));
    let main = &repos[2];
    assert_eq!(main["branch"], serde_json::Value::Null);
    assert_eq!(main["root"], ".");
}

#[test]
fn a_bad_manifest_is_reported_at_its_line() {
    let (_dir, base) = layout();
    let project = base.join("project");
    fs::write(
        project.join(".kiro/workspace.toml"),
        "[repos.api]\npath = \"../api\"\n\n[repos.web]\npaths = \"../web\"\n",
    )
    .unwrap();
    let out = kiro_cmd(&project, &["status", "cross"]).output().unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("workspace.toml:5:1"), "{err}");
}
