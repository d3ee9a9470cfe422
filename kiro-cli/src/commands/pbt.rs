//! `kiro pbt gen`: a spec's executable correctness properties as a test
//! file ([`kiro_proptest::codegen`]); `kiro pbt run`: the properties run
//! and their results stored for `kiro verify` and `kiro trace`
//! ([`kiro_proptest::results`]).

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};
use kiro_core::escape::escape_control;
use kiro_core::spec::PropertyId;
use kiro_proptest::codegen::RustTests;
use kiro_proptest::report::{CallResult, Outcome};
use kiro_proptest::results::{PbtRun, PbtStatus, SpecRun};

use crate::cli::{PbtGenArgs, PbtLang, PbtRunArgs, TextOrJson};
use crate::engine;
use crate::output;
use crate::workspace::Workspace;

/// Exit status when a property failed.
const EXIT_FAILED: u8 = 1;
/// Exit status when no property failed and one could not be checked.
const EXIT_ERRORED: u8 = 2;

/// Runs the spec's executable properties under the workspace's command
/// policy, stores their results, prints them and picks the exit status.
pub(super) fn run(ws: &Workspace, args: &PbtRunArgs) -> Result<ExitCode> {
    let dir = ws.spec_dir(&args.spec)?;
    let spec = ws.load(&dir)?.spec;
    let config = engine::config(ws)?;
    let mut options = SpecRun::new()
        .properties(args.properties.iter().map(PropertyId::new))
        .policy(kiro_core::project::policy(&config.policy));
    if let Some(cases) = args.cases {
        options = options.cases(cases);
    }
    if let Some(seed) = args.seed {
        options = options.seed(seed);
    }
    let ran = options.run(ws.root(), &spec)?;
    let saved = ran.save(ws.root(), &spec);
    match args.format {
        TextOrJson::Json => output::println(&serde_json::to_string_pretty(&ran)?)?,
        TextOrJson::Text => output::print_escaped(&render(&ran))?,
    }
    for warning in &ran.warnings {
        eprintln!("warning: {}", escape_control(warning));
    }
    saved?;
    Ok(match ran.status() {
        PbtStatus::Passed => ExitCode::SUCCESS,
        PbtStatus::Failed => ExitCode::from(EXIT_FAILED),
        PbtStatus::Errored => ExitCode::from(EXIT_ERRORED),
    })
}

/// The text report: a line per property (verdict, cases, criteria), the
/// counterexample, the calls of the failing case and how to repeat it
/// under a failure, the reason under an error, then the totals.
fn render(ran: &PbtRun) -> String {
    let mut out = String::new();
    let spec = &ran.spec;
    for report in &ran.reports {
        let (verdict, cases) = match &report.outcome {
            Outcome::Passed => ("passed", report.cases),
            Outcome::Failed(_) => ("FAILED", report.cases),
            Outcome::Aborted { .. } => ("errored", report.cases),
        };
        let mut cases = format!("{cases} case{}", if cases == 1 { "" } else { "s" });
        if report.replayed > 0 {
            let _ = write!(cases, " + {} stored", report.replayed);
        }
        let validates = if report.validates.is_empty() {
            "no criteria".to_owned()
        } else {
            let ids: Vec<&str> = report.validates.iter().map(|c| c.as_str()).collect();
            format!("validates {}", ids.join(", "))
        };
        let _ = writeln!(
            out,
            "property {} {}: {verdict} ({cases}; {validates})",
            report.property, report.title
        );
        match &report.outcome {
            Outcome::Passed => {}
            Outcome::Aborted { reason } => {
                for line in reason.lines() {
                    let _ = writeln!(out, "  {line}");
                }
            }
            Outcome::Failed(c) => {
                let _ = write!(out, "  counterexample: {}", compact(&c.input));
                let _ = if c.replayed {
                    writeln!(out)
                } else {
                    writeln!(out, " (shrunk in {} steps)", report.shrink_steps)
                };
                for call in &c.calls {
                    let on = if call.on == "target" {
                        String::new()
                    } else {
                        format!(" [{}]", call.on)
                    };
                    let answer = match &call.result {
                        CallResult::Ok(v) => format!("ok {}", compact(v)),
                        CallResult::Error(e) => format!("error {}", compact(&e.as_str().into())),
                        CallResult::Failure(e) => format!("FAILURE {e}"),
                    };
                    let _ = writeln!(
                        out,
                        "  {}{on}({}) -> {answer}",
                        call.op,
                        compact(&call.input)
                    );
                }
                for line in c.message.lines() {
                    let _ = writeln!(out, "  {line}");
                }
                if c.replayed {
                    let _ = writeln!(
                        out,
                        "  a stored counterexample (.kiro/pbt-regressions/{spec}/), replayed first: \
                         it fails until the bug is fixed"
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "  reproduce: kiro pbt run {spec} --property {} --seed {} \
                         (the counterexample is stored and replayed first)",
                        report.property, report.seed
                    );
                }
            }
        }
    }
    for skipped in &ran.skipped {
        let _ = writeln!(
            out,
            "property {} {}: skipped ({})",
            skipped.property, skipped.title, skipped.reason
        );
    }
    let totals = ran.totals;
    let _ = writeln!(
        out,
        "spec `{spec}`, seed {}: {} passed, {} failed, {} errored; results in {}",
        ran.seed, totals.passed, totals.failed, totals.errored, ran.file
    );
    out
}

/// A JSON value on one line.
fn compact(value: &serde_json::Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// Prints the test file, or writes it atomically to `--out` and prints
/// what it holds. A spec whose properties cannot become tests is an error
/// (exit 2) naming the property and what its block lacks.
pub(super) fn gen(ws: &Workspace, args: &PbtGenArgs) -> Result<ExitCode> {
    let dir = ws.spec_dir(&args.spec)?;
    let spec = ws.load(&dir)?.spec;
    let file = match args.lang {
        PbtLang::Rust => {
            let mut tests =
                RustTests::new(&spec).properties(args.properties.iter().map(PropertyId::new));
            if let Some(name) = &args.crate_name {
                tests = tests.crate_name(name);
            }
            tests.generate()?
        }
    };
    let Some(path) = &args.out else {
        output::print(&file.code)?;
        return Ok(ExitCode::SUCCESS);
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    kiro_core::store::write_atomic(path, file.code.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let ids = |ids: &mut dyn Iterator<Item = &PropertyId>| {
        ids.map(PropertyId::as_str).collect::<Vec<_>>().join(", ")
    };
    let mut summary = format!(
        "{}: {} test{} for spec `{}` (properties {})",
        path.display(),
        file.tests.len(),
        if file.tests.len() == 1 { "" } else { "s" },
        spec.name,
        ids(&mut file.tests.iter().map(|t| &t.property)),
    );
    if !file.skipped.is_empty() {
        summary.push_str(&format!(
            "; without a kiro-property block: {}",
            ids(&mut file.skipped.iter())
        ));
    }
    output::println(&escape_control(&summary))?;
    Ok(ExitCode::SUCCESS)
}
