//! One cgroup v2 per task, so that everything a task started can be stopped,
//! including processes that left its process group with `setsid`.
//!
//! kiro creates the task's cgroup as a child of its own (`<own>/kiro-<pid>-<n>`,
//! found from the `0::` line of `/proc/self/cgroup` and the `cgroup2` mount
//! of `/proc/self/mountinfo`); the launcher moves itself into it before it
//! starts the agent, so every descendant is born inside. When the task ends
//! (done, failed, timed out, cancelled, or its future dropped) everything
//! left in the cgroup is killed (`cgroup.kill`, else `SIGKILL` to each
//! member) and the directory removed.
//!
//! Where kiro may not create cgroups (not root and no delegated subtree, a
//! read-only mount, no cgroup v2, not Linux), [`TaskCgroup::create`] says why
//! and the task runs without one: its process group is still stopped as
//! before. The cgroup v2 "no internal processes" rule can refuse to move a
//! process into the new cgroup when controllers are enabled for children of
//! kiro's own; the launcher then reports it has no cgroup.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long [`kill`] waits for a cgroup to empty after killing it.
const EMPTY_WAIT: Duration = Duration::from_secs(2);

/// A cgroup created for one task; killed and removed when dropped.
#[derive(Debug)]
pub struct TaskCgroup {
    /// The directory in the cgroup file system.
    dir: PathBuf,
    /// Its path in the cgroup hierarchy (`/kiro-12-1`), for reports.
    name: String,
}

impl TaskCgroup {
    /// Creates `<own cgroup>/kiro-<pid>-<n>`, with the first free `n` from
    /// `first` on. `Err` says why no cgroup can be made.
    ///
    /// The cgroups of a kiro that died (`kiro-<pid>-<n>` whose process no
    /// longer exists) are killed and removed first: a SIGKILLed kiro cannot
    /// clean up after itself, and what is left in them was started by its
    /// tasks. (The pid is looked up in this process's PID namespace: kiro
    /// processes that share a parent cgroup must share one too.)
    pub fn create(first: u64) -> Result<TaskCgroup, String> {
        let own = own_cgroup()?;
        let pid = std::process::id();
        remove_orphans(&own.dir);
        for n in (0..1000).map(|i| first.wrapping_add(i)) {
            let leaf = format!("kiro-{pid}-{n}");
            let dir = own.dir.join(&leaf);
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let name = format!("{}/{leaf}", own.path.trim_end_matches('/'));
                    return Ok(TaskCgroup { dir, name });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(format!(
                        "cannot create a cgroup in {}: {e}",
                        own.dir.display()
                    ))
                }
            }
        }
        Err(format!("no free cgroup name in {}", own.dir.display()))
    }

    /// The cgroup's directory (what the launcher joins).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Its path in the cgroup hierarchy (`/kiro-12-1`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Kills every process in the cgroup and waits (briefly) until it is empty.
    pub fn kill(&self) {
        kill(&self.dir);
    }
}

impl Drop for TaskCgroup {
    fn drop(&mut self) {
        kill(&self.dir);
        // A killed process leaves its cgroup as it exits, which takes a
        // moment after the signal; `kill` waited for that, but a process
        // that was still being created can still make the first try fail.
        for _ in 0..20 {
            match std::fs::remove_dir(&self.dir) {
                Err(e) if is_busy(&e) => {
                    kill(&self.dir);
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => return,
            }
        }
    }
}

#[cfg(unix)]
fn is_busy(e: &io::Error) -> bool {
    e.raw_os_error() == Some(nix::errno::Errno::EBUSY as i32)
}

#[cfg(not(unix))]
fn is_busy(_e: &io::Error) -> bool {
    false
}

/// Kills and removes the task cgroups in `parent` of kiro processes that no
/// longer exist.
fn remove_orphans(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix("kiro-"))
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, n)| {
                n.bytes().all(|b| b.is_ascii_digit()).then_some(pid)?;
                pid.parse::<i32>().ok()
            })
        else {
            continue;
        };
        if !process_exists(owner) {
            let dir = entry.path();
            kill(&dir);
            let _ = std::fs::remove_dir(&dir);
        }
    }
}

#[cfg(unix)]
fn process_exists(pid: i32) -> bool {
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

#[cfg(not(unix))]
fn process_exists(_pid: i32) -> bool {
    true
}

/// Kills every process in the cgroup at `dir` and waits up to two seconds for
/// it to empty. Errors are ignored: a cgroup that is already gone has nothing
/// left to kill.
pub fn kill(dir: &Path) {
    let deadline = Instant::now() + EMPTY_WAIT;
    while !kill_once(dir) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Sends `SIGKILL` to everything in the cgroup at `dir` without waiting;
/// `true` when it was already empty (or is gone).
pub(crate) fn kill_once(dir: &Path) -> bool {
    let members = members(dir);
    if members.is_empty() {
        return true;
    }
    // `cgroup.kill` (Linux 5.14) kills the whole subtree at once, including
    // processes forked while it runs; before it, each member is signalled
    // (and the caller calls again for those forked meanwhile).
    if std::fs::write(dir.join("cgroup.kill"), b"1").is_err() {
        for pid in members {
            signal_kill(pid);
        }
    }
    false
}

/// The pids in `<dir>/cgroup.procs` (empty when it cannot be read).
fn members(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .map(|text| {
            text.lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(unix)]
fn signal_kill(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[cfg(not(unix))]
fn signal_kill(_pid: i32) {}

/// Moves the calling process into the cgroup at `dir`.
pub(crate) fn join(dir: &Path) -> io::Result<()> {
    std::fs::write(
        dir.join("cgroup.procs"),
        std::process::id().to_string().as_bytes(),
    )
}

/// The calling process's cgroup v2: its directory and its hierarchy path.
struct OwnCgroup {
    dir: PathBuf,
    path: String,
}

fn own_cgroup() -> Result<OwnCgroup, String> {
    let cgroups = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    locate(&cgroups, &mountinfo)
}

/// Finds the directory of the process's cgroup v2 from the texts of
/// `/proc/self/cgroup` and `/proc/self/mountinfo`.
fn locate(cgroups: &str, mountinfo: &str) -> Result<OwnCgroup, String> {
    let path = cgroups
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or("no cgroup v2 (no `0::` line in /proc/self/cgroup)")?
        .trim();
    if path.ends_with(" (deleted)") {
        return Err(format!("kiro's cgroup {path} was removed"));
    }
    for line in mountinfo.lines() {
        // `id parent major:minor root mount-point options [optional...] - fstype source super-options`
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        if right.split_whitespace().next() != Some("cgroup2") {
            continue;
        }
        let mut fields = left.split_whitespace();
        let (Some(root), Some(mount_point)) = (fields.nth(3), fields.next()) else {
            continue;
        };
        let root = unescape(root);
        let mount_point = unescape(mount_point);
        // The mount shows the hierarchy from `root` down; kiro's cgroup must
        // lie beneath it to be reachable through this mount.
        let Some(rest) = strip_dir_prefix(path, &root) else {
            continue;
        };
        let mut dir = PathBuf::from(mount_point);
        for part in rest.split('/').filter(|p| !p.is_empty()) {
            dir.push(part);
        }
        return Ok(OwnCgroup {
            dir,
            path: path.to_owned(),
        });
    }
    Err(format!(
        "kiro's cgroup {path} is not reachable through a mounted cgroup2 file system"
    ))
}

/// `path` below directory `prefix` (`/a/b` below `/a` is `/b`), if it is.
fn strip_dir_prefix<'a>(path: &'a str, prefix: &str) -> Option<&'a str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let (Some(b'\\'), Some(digits)) = (bytes.get(i), bytes.get(i + 1..i + 4)) {
            if let Some(value) = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.extend(bytes.get(i).copied());
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    fn check(cgroups: &str, mountinfo: &str, expected: Result<(&str, &str), &str>) {
        let got = locate(cgroups, mountinfo).map(|c| (c.dir, c.path));
        match expected {
            Ok((dir, path)) => {
                let (got_dir, got_path) = got.unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    (got_dir.as_path(), got_path.as_str()),
                    (Path::new(dir), path)
                );
            }
            Err(fragment) => {
                let e = got.err().unwrap_or_default();
                assert!(e.contains(fragment), "{e:?} lacks {fragment:?}");
            }
        }
    }

    #[test]
    fn the_v2_cgroup_is_found_through_its_mount() {
        // Hybrid layout, root cgroup.
        check(
            "4:memory:/x\n0::/\n",
            HYBRID,
            Ok(("/sys/fs/cgroup/unified", "/")),
        );
        // Unified layout, a nested cgroup.
        check(
            "0::/user.slice/app.scope\n",
            "25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
            Ok((
                "/sys/fs/cgroup/user.slice/app.scope",
                "/user.slice/app.scope",
            )),
        );
        // A container whose mount shows the hierarchy from its own cgroup down.
        check(
            "0::/docker/abc/sub\n",
            "25 1 0:22 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Ok(("/sys/fs/cgroup/sub", "/docker/abc/sub")),
        );
        // Escaped mount points.
        check(
            "0::/a\n",
            "25 1 0:22 / /mnt/my\\040cg rw - cgroup2 none rw\n",
            Ok(("/mnt/my cg/a", "/a")),
        );
    }

    #[test]
    fn without_a_usable_v2_mount_there_is_a_reason() {
        check("4:memory:/x\n", HYBRID, Err("no cgroup v2"));
        check(
            "0::/a\n",
            "31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n",
            Err("not reachable"),
        );
        check(
            "0::/elsewhere\n",
            "25 1 0:22 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Err("not reachable"),
        );
        check(
            "0::/docker/abcdef\n",
            "25 1 0:22 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
            Err("not reachable"),
        );
    }
}
