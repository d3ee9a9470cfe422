//! The Landlock calls: probing the kernel and restricting the launcher.

use std::path::PathBuf;

use super::{LandlockState, Support};

/// The write-class rights kiro handles, and which of them a rule grants
/// beneath a writable directory.
///
/// `ResolveUnix` (connecting to Unix sockets, ABI 9) is not a write to a
/// file: handling it would cut the agent off from sockets such as an SSH
/// agent's, which the write policy does not speak about.
#[cfg(all(target_os = "linux", feature = "landlock"))]
fn write_rights() -> landlock::BitFlags<landlock::AccessFs> {
    use landlock::{AccessFs, ABI};
    AccessFs::from_write(ABI::V10) & !AccessFs::ResolveUnix
}

/// Why Landlock is unavailable in a build without it.
#[cfg(not(all(target_os = "linux", feature = "landlock")))]
const UNAVAILABLE: &str = if cfg!(target_os = "linux") {
    "kiro was built without the `landlock` feature"
} else {
    "Landlock exists only on Linux"
};

/// What the launcher restricts writes to.
// Without Landlock nothing reads the grants: the launcher still builds them,
// so that both builds take the same path up to the kernel call.
#[cfg_attr(not(all(target_os = "linux", feature = "landlock")), allow(dead_code))]
pub(crate) struct Grants<'a> {
    /// Directory hierarchies the agent may write beneath.
    pub(crate) dirs: &'a [PathBuf],
    /// Single files the agent may write (not create or remove).
    pub(crate) files: &'a [PathBuf],
}

#[cfg(all(target_os = "linux", feature = "landlock"))]
pub(crate) fn support() -> Support {
    use landlock::{LandlockStatus, RestrictSelf};
    // With no flags and `no_new_privs` off, `apply` only reads the kernel's
    // ABI version: nothing about the caller changes.
    match RestrictSelf::default().no_new_privs(false).apply() {
        Ok(status) => match status.landlock {
            LandlockStatus::Available { effective_abi, .. } => {
                Support::available(effective_abi as u32)
            }
            LandlockStatus::NotEnabled => {
                Support::unavailable("Landlock is built into this kernel but not enabled")
            }
            LandlockStatus::NotImplemented => {
                Support::unavailable("this kernel has no Landlock (Linux 5.13 or later needed)")
            }
        },
        Err(e) => Support::unavailable(format!("cannot query Landlock: {e}")),
    }
}

#[cfg(not(all(target_os = "linux", feature = "landlock")))]
pub(crate) fn support() -> Support {
    Support::unavailable(UNAVAILABLE)
}

/// Restricts the calling thread (and what it later executes) to writing
/// beneath `grants` and `/dev`. `Err` says why nothing is in force; the
/// caller decides whether that stops the launch.
#[cfg(all(target_os = "linux", feature = "landlock"))]
pub(crate) fn restrict(grants: &Grants<'_>) -> Result<LandlockState, String> {
    use landlock::{
        AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, ABI,
    };

    let handled = write_rights();
    let mut ruleset = Ruleset::default()
        .handle_access(handled)
        .map_err(|e| format!("cannot build the Landlock ruleset: {e}"))?
        .create()
        .map_err(|e| format!("cannot create the Landlock ruleset: {e}"))?;
    let dev = PathBuf::from("/dev");
    for dir in grants.dirs.iter().chain(std::iter::once(&dev)) {
        let fd = PathFd::new(dir).map_err(|e| format!("cannot open {}: {e}", dir.display()))?;
        ruleset = ruleset
            .add_rule(PathBeneath::new(fd, handled))
            .map_err(|e| format!("cannot allow writes beneath {}: {e}", dir.display()))?;
    }
    for file in grants.files {
        let fd = PathFd::new(file).map_err(|e| format!("cannot open {}: {e}", file.display()))?;
        // A rule on a file may only carry the rights that apply to files.
        ruleset = ruleset
            .add_rule(PathBeneath::new(
                fd,
                handled & AccessFs::from_file(ABI::V10),
            ))
            .map_err(|e| format!("cannot allow writes to {}: {e}", file.display()))?;
    }
    let status = ruleset
        .restrict_self()
        .map_err(|e| format!("cannot enforce the Landlock ruleset: {e}"))?;
    let abi = match status.landlock {
        landlock::LandlockStatus::Available { effective_abi, .. } => effective_abi as u32,
        _ => 0,
    };
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => LandlockState::Enforced { abi },
        RulesetStatus::PartiallyEnforced => LandlockState::Partial { abi },
        RulesetStatus::NotEnforced => LandlockState::Unavailable {
            reason: support()
                .reason
                .unwrap_or_else(|| "the kernel enforced none of the rules".to_owned()),
        },
    })
}

#[cfg(not(all(target_os = "linux", feature = "landlock")))]
pub(crate) fn restrict(_grants: &Grants<'_>) -> Result<LandlockState, String> {
    Ok(LandlockState::Unavailable {
        reason: UNAVAILABLE.to_owned(),
    })
}
