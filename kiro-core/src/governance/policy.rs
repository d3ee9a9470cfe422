//! `.kiro/policy.toml`: roles, who approves which gate, protected paths,
//! commands per repository, required checks and usage limits.
//!
//! Like `.kiro/config.toml`, every table is optional and anything the file
//! says must be understood: an unknown key, a value of the wrong type, a
//! member that is neither an email nor `sub:`/`group:`/`user:`, a glob that
//! does not compile or a role that `[roles]` does not define is an
//! [`Error::Config`] naming the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::config::{config_error, line_col};
use crate::error::{Error, Result};
pub use crate::stage::GateName;

/// Where the policy lives, relative to the workspace root.
pub const POLICY_PATH: &str = ".kiro/policy.toml";

/// `[identity]`: how approvers are identified. The OIDC keys (`issuer`,
/// `audience`, `jwks_file`, `jwks_url`, `leeway_seconds`) are those of the
/// verifier of ID tokens; `allow_unverified` says whether a local user
/// (`KIRO_ACTOR`, git's `user.email`, the OS user) may approve at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct IdentityPolicy {
    /// May an approver without an ID token approve (default `false`)?
    pub allow_unverified: bool,
    /// The ID tokens' issuer (`iss`).
    pub issuer: Option<String>,
    /// The audience the tokens must name (`aud`).
    pub audience: Option<String>,
    /// The issuer's JWKS in a file, relative to the workspace root.
    pub jwks_file: Option<PathBuf>,
    /// The issuer's JWKS URL (fetched by the CLI, never by kiro-core).
    pub jwks_url: Option<String>,
    /// Clock skew allowed on `exp`/`nbf`, in seconds.
    pub leeway_seconds: Option<u64>,
}

/// A check a task must pass before it is marked `[x]` (`[checks] required`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RequiredCheck {
    /// The `[verifier] command` of `.kiro/config.toml` exits 0, run in the
    /// task's repository.
    Tests,
    /// `kiro lint` of the spec has no error-level finding.
    Lint,
    /// Every criterion the task names has at least one annotated test.
    Coverage,
}

impl fmt::Display for RequiredCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequiredCheck::Tests => "tests",
            RequiredCheck::Lint => "lint",
            RequiredCheck::Coverage => "coverage",
        })
    }
}

/// `[limits]`: what one run may spend on models.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct UsageLimits {
    /// Most tokens (input and output) one run may use.
    pub max_tokens: Option<u64>,
    /// Most US dollars one run may cost, priced by `[llm.prices]` of
    /// `.kiro/config.toml` for `[llm] model`.
    pub max_cost: Option<f64>,
}

/// `[repos.<name>]`: what a repository allows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RepoPolicy {
    /// Programs allowed in this repository; `None` leaves `[policy]
    /// commands` of `.kiro/config.toml` alone. A command must be allowed
    /// by both lists: the repository's narrows the workspace's.
    pub commands: Option<Vec<String>>,
}

/// One `[[protected]]` rule: changes to these paths need an approval by
/// one of these roles.
#[derive(Clone, Debug)]
pub struct ProtectedRule {
    /// The globs, relative to a repository root (`infra/**`, `**/*.sql`).
    pub paths: Vec<String>,
    /// The roles whose `execution` approval allows such changes.
    pub approvers: Vec<String>,
    /// The compiled globs.
    set: GlobSet,
}

impl ProtectedRule {
    /// Whether `path` (relative to a repository root, `/`-separated)
    /// matches one of the rule's globs.
    pub fn matches(&self, path: &str) -> bool {
        self.set.is_match(path)
    }

    /// The rule as the user wrote it, for messages: `infra/**, **/*.sql`.
    pub fn label(&self) -> String {
        self.paths.join(", ")
    }
}

/// The parsed `.kiro/policy.toml`.
///
/// ```
/// use kiro_core::governance::{GateName, PolicyFile};
///
/// let text = "[roles]\nlead = [\"alice@example.com\"]\n[gates]\ntasks = [\"lead\"]\n";
/// let policy = PolicyFile::parse(text, ".kiro/policy.toml")?;
/// assert_eq!(policy.gate_roles(GateName::Tasks), Some(&["lead".to_owned()][..]));
/// let err = PolicyFile::parse("[gates]\ntasks = [\"lead\"]\n", ".kiro/policy.toml").unwrap_err();
/// assert!(err.to_string().starts_with(".kiro/policy.toml:2:10: unknown role `lead`"));
/// # Ok::<(), kiro_core::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct PolicyFile {
    /// `[identity]`.
    pub identity: IdentityPolicy,
    /// `[roles]`: role name → members (`alice@example.com`, `sub:<subject>`,
    /// `group:<name>`, `user:<local name>`).
    pub roles: BTreeMap<String, Vec<String>>,
    /// `[gates]`: the roles that may approve each listed gate. A gate not
    /// listed is not governed.
    pub gates: BTreeMap<GateName, Vec<String>>,
    /// `[[protected]]`, in file order.
    pub protected: Vec<ProtectedRule>,
    /// `[repos.<name>]`.
    pub repos: BTreeMap<String, RepoPolicy>,
    /// `[checks] required`, in file order.
    pub required_checks: Vec<RequiredCheck>,
    /// `[limits]`.
    pub limits: UsageLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    identity: IdentityPolicy,
    #[serde(default)]
    roles: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    gates: BTreeMap<GateName, Vec<Spanned<String>>>,
    #[serde(default)]
    protected: Vec<RawProtected>,
    #[serde(default)]
    repos: BTreeMap<String, RepoPolicy>,
    #[serde(default)]
    checks: RawChecks,
    #[serde(default)]
    limits: UsageLimits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProtected {
    paths: Vec<Spanned<String>>,
    approvers: Spanned<Vec<Spanned<String>>>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawChecks {
    required: Vec<RequiredCheck>,
}

impl PolicyFile {
    /// Reads `<root>/.kiro/policy.toml`; `None` when the file does not
    /// exist (no governance: every gate is decided as without a policy).
    ///
    /// # Errors
    /// [`Error::Config`] for a file that does not parse or names an unknown
    /// role; [`Error::Io`] when it cannot be read.
    pub fn load(root: impl AsRef<Path>) -> Result<Option<PolicyFile>> {
        let path = root.as_ref().join(POLICY_PATH);
        match crate::store::read_text_file(&path, crate::store::DEFAULT_MAX_INPUT_BYTES)? {
            Some(text) => PolicyFile::parse(&text, &path).map(Some),
            None => Ok(None),
        }
    }

    /// Parses the text of a policy file; `path` only names the file in
    /// errors.
    ///
    /// # Errors
    /// [`Error::Config`] with the line and column of the first problem.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<PolicyFile> {
        let path = path.as_ref();
        let raw: RawPolicy = toml::from_str(text).map_err(|e| config_error(text, path, &e))?;
        let at = |offset: usize, message: String, expected: Option<&str>| {
            let (line, column) = line_col(text, offset);
            Error::Config {
                path: path.to_owned(),
                line,
                column,
                message,
                expected: expected.map(str::to_owned),
            }
        };
        let mut roles = BTreeMap::new();
        for (name, members) in raw.roles {
            let mut list = Vec::with_capacity(members.len());
            for member in members {
                if !is_member_form(member.get_ref()) {
                    return Err(at(
                        member.span().start,
                        format!(
                            "member {:?} of role `{name}` has no known form",
                            member.get_ref()
                        ),
                        Some("an email, `sub:<subject>`, `group:<name>` or `user:<local name>`"),
                    ));
                }
                list.push(member.into_inner());
            }
            roles.insert(name, list);
        }
        let known = |role: &Spanned<String>| -> Result<String> {
            if roles.contains_key(role.get_ref()) {
                Ok(role.get_ref().clone())
            } else {
                Err(at(
                    role.span().start,
                    format!("unknown role `{}`", role.get_ref()),
                    Some("a role defined in `[roles]`"),
                ))
            }
        };
        let mut gates = BTreeMap::new();
        for (gate, list) in &raw.gates {
            let names = list.iter().map(known).collect::<Result<Vec<_>>>()?;
            gates.insert(*gate, names);
        }
        let mut protected = Vec::new();
        for rule in &raw.protected {
            if rule.approvers.get_ref().is_empty() {
                return Err(at(
                    rule.approvers.span().start,
                    "a `[[protected]]` rule with no approvers".to_owned(),
                    Some("at least one role"),
                ));
            }
            let approvers = rule
                .approvers
                .get_ref()
                .iter()
                .map(known)
                .collect::<Result<Vec<_>>>()?;
            let mut builder = GlobSetBuilder::new();
            for pattern in &rule.paths {
                // As for writable globs: `*` stays inside one folder.
                let glob = GlobBuilder::new(pattern.get_ref())
                    .literal_separator(true)
                    .build()
                    .map_err(|e| {
                        at(
                            pattern.span().start,
                            format!("invalid glob {:?}: {}", pattern.get_ref(), e.kind()),
                            None,
                        )
                    })?;
                builder.add(glob);
            }
            let set = builder
                .build()
                .map_err(|e| at(0, format!("invalid protected globs: {e}"), None))?;
            protected.push(ProtectedRule {
                paths: rule.paths.iter().map(|p| p.get_ref().clone()).collect(),
                approvers,
                set,
            });
        }
        let mut required_checks = Vec::new();
        for check in raw.checks.required {
            if !required_checks.contains(&check) {
                required_checks.push(check);
            }
        }
        Ok(PolicyFile {
            identity: raw.identity,
            roles,
            gates,
            protected,
            repos: raw.repos,
            required_checks,
            limits: raw.limits,
        })
    }

    /// The roles that may approve `gate`, or `None` when `[gates]` does not
    /// list it (the gate is not governed).
    pub fn gate_roles(&self, gate: GateName) -> Option<&[String]> {
        self.gates.get(&gate).map(Vec::as_slice)
    }

    /// The programs `[repos.<repo>] commands` allows, if it says.
    pub fn repo_commands(&self, repo: &str) -> Option<&[String]> {
        self.repos.get(repo)?.commands.as_deref()
    }

    /// Every member of `roles`, for messages (`lead (alice@example.com)`).
    pub fn describe_roles(&self, roles: &[String]) -> String {
        roles
            .iter()
            .map(|role| match self.roles.get(role) {
                Some(members) if !members.is_empty() => {
                    format!("{role} ({})", members.join(", "))
                }
                _ => format!("{role} (no members)"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Whether a member string has one of the known forms.
fn is_member_form(member: &str) -> bool {
    let prefixed = ["sub:", "group:", "user:"]
        .iter()
        .find_map(|p| member.strip_prefix(p));
    match prefixed {
        Some(rest) => !rest.trim().is_empty(),
        None => member.contains('@') && !member.chars().any(char::is_whitespace),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` and returns the error's `line:column: message`.
    fn error(text: &str) -> String {
        match PolicyFile::parse(text, "p.toml") {
            Ok(_) => "no error".to_owned(),
            Err(e) => e.to_string().trim_start_matches("p.toml:").to_owned(),
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        let roles = "[roles]\nlead = [\"a@x.io\"]\n";
        let cases: &[(&str, &str)] = &[
            ("[gates]\ntasks = [\"lead\"]\n", "2:10: unknown role `lead`"),
            (
                &format!(
                    "{roles}[[protected]]\npaths = [\"a/**\"]\napprovers = [\"lead\", \"sec\"]\n"
                ),
                "5:22: unknown role `sec`",
            ),
            (
                &format!("{roles}[gates]\ndeploy = [\"lead\"]\n"),
                "4:1: unknown variant `deploy`",
            ),
            (
                "[roles]\nlead = [\"alice\"]\n",
                "2:9: member \"alice\" of role `lead`",
            ),
            (
                &format!("{roles}[checks]\nrequired = [\"fuzz\"]\n"),
                "4:13: unknown variant `fuzz`",
            ),
            (&format!("{roles}[limits]\nmax_tokens = -1\n"), "4:14:"),
            (
                "[identity]\nallow_unverifed = true\n",
                "2:1: unknown field `allow_unverifed`",
            ),
            (
                &format!("{roles}[[protected]]\npaths = [\"a/[\"]\napprovers = [\"lead\"]\n"),
                "4:10: invalid glob",
            ),
        ];
        for (text, expected) in cases {
            let got = error(text);
            assert!(
                got.starts_with(expected),
                "{text:?}: got {got:?}, want {expected:?}"
            );
        }
    }

    #[test]
    fn a_full_policy_reads() {
        let text = r#"
[identity]
issuer = "https://idp.example.com"
audience = "kiro"
jwks_file = "jwks.json"
allow_unverified = true
[roles]
lead = ["alice@example.com", "user:bob"]
security = ["group:security", "sub:1234"]
[gates]
requirements = ["lead"]
merge = ["lead", "security"]
[[protected]]
paths = ["infra/**", "**/*.sql"]
approvers = ["security"]
[repos.api]
commands = ["cargo"]
[checks]
required = ["tests", "lint", "coverage", "tests"]
[limits]
max_tokens = 2000000
max_cost = 25.0
"#;
        let p = PolicyFile::parse(text, "p.toml").unwrap();
        assert!(p.identity.allow_unverified);
        assert_eq!(p.gate_roles(GateName::Merge).unwrap().len(), 2);
        assert_eq!(p.gate_roles(GateName::Design), None);
        assert!(p.protected[0].matches("db/schema/1.sql"));
        assert!(p.protected[0].matches("infra/main.tf"));
        assert!(!p.protected[0].matches("src/infra.rs"));
        assert_eq!(p.repo_commands("api"), Some(&["cargo".to_owned()][..]));
        assert_eq!(
            p.required_checks,
            [
                RequiredCheck::Tests,
                RequiredCheck::Lint,
                RequiredCheck::Coverage
            ]
        );
        assert_eq!(p.limits.max_tokens, Some(2_000_000));
        assert_eq!("merge".parse::<GateName>().unwrap(), GateName::Merge);
        assert!("deploy".parse::<GateName>().is_err());
    }
}
