//! `knoxctl policy ...`: validate and explain work offline; apply/list/get/delete talk to
//! the agent.

use super::{AgentConn, EXIT_FAILED, PolicyCommand, Posture, TableOrJson, TextOrJson, YamlOrJson};
use crate::agent::api::{self, Request, Response, SourceFile};
use crate::output::{paint, table};
use crate::policy::files::{read_inputs, validate_input, validate_paths};
use crate::policy::normalize::{self, Category, Rule, RuleSet};
use crate::policy::validate::{FileReport, Options, Severity};
use crate::policy::{Action, Policy};
use clap::{Args, ValueHint};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Files, directories (searched recursively for *.yaml and *.yml) or - for stdin
    #[arg(value_name = "PATH", required = true, value_hint = ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
    /// Treat warnings (unknown fields, likely mistakes) as errors
    #[arg(long)]
    pub strict: bool,
    #[arg(short, long, value_enum, default_value_t = TextOrJson::Text)]
    pub output: TextOrJson,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Policy files or directories (- for stdin)
    #[arg(short = 'f', long = "file", value_name = "PATH", required = true, value_hint = ValueHint::AnyPath)]
    pub files: Vec<PathBuf>,
    /// What happens to operations no Allow rule permits, in allow-list mode
    #[arg(long, value_enum, default_value_t = Posture::Audit)]
    pub default_posture: Posture,
    #[arg(short, long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Validate(args) => validate(args),
        PolicyCommand::Explain(args) => explain(args),
        PolicyCommand::Apply { files, conn } => apply(&files, &conn),
        PolicyCommand::List { output, conn } => list(output, &conn),
        PolicyCommand::Get { name, output, conn } => get(&name, output, &conn),
        PolicyCommand::Delete { names, files, conn } => delete(names, &files, &conn),
    }
}

#[derive(Serialize, Default)]
struct Summary {
    files: usize,
    documents: usize,
    valid: usize,
    invalid: usize,
    errors: usize,
    warnings: usize,
}

fn summarize(reports: &[FileReport]) -> Summary {
    let mut s = Summary {
        files: reports.len(),
        ..Summary::default()
    };
    for r in reports {
        if r.error.is_some() {
            s.invalid += 1;
        }
        s.documents += r.documents.len();
        s.valid += r.documents.iter().filter(|d| d.valid).count();
        s.invalid += r.documents.iter().filter(|d| !d.valid).count();
        for d in r.diagnostics() {
            match d.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
            }
        }
    }
    s
}

fn print_diagnostics(reports: &[FileReport], to_stderr: bool) {
    for r in reports {
        for d in r.diagnostics() {
            let line = d.render(&r.path);
            let line = match d.severity {
                Severity::Error => {
                    line.replacen(": error: ", &format!(": {}: ", paint("error", "1;31")), 1)
                }
                Severity::Warning => line.replacen(
                    ": warning: ",
                    &format!(": {}: ", paint("warning", "1;33")),
                    1,
                ),
            };
            if to_stderr {
                eprintln!("{line}")
            } else {
                println!("{line}")
            }
        }
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let reports = validate_paths(
        &args.paths,
        Options {
            strict: args.strict,
        },
    );
    let summary = summarize(&reports);
    let ok = reports.iter().all(|r| r.valid);
    match args.output {
        TextOrJson::Json => {
            let out = serde_json::json!({ "valid": ok, "strict": args.strict, "summary": summary, "files": reports });
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        TextOrJson::Text => {
            print_diagnostics(&reports, false);
            println!(
                "{} in {}: {} valid, {} invalid ({}, {})",
                plural(summary.documents, "document"),
                plural(summary.files, "file"),
                summary.valid,
                summary.invalid,
                plural(summary.errors, "error"),
                plural(summary.warnings, "warning"),
            );
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILED)
    })
}

fn effect(r: &Rule) -> String {
    let denied = if r.category == Category::Device {
        "denied"
    } else {
        "denied (Permission denied)"
    };
    match (r.action, r.owner_only, r.read_only) {
        (Action::Audit, true, _) => "permitted, alert for non-owners".to_string(),
        (Action::Audit, false, _) => "permitted, alert".to_string(),
        // ownerOnly: "allow the owner only; otherwise block all", whatever the action.
        (_, true, true) => format!("owner may read; writes and others {denied}, alert"),
        (_, true, false) => format!("owner permitted; others {denied}, alert"),
        (Action::Block, false, true) => format!("writes {denied}, reads permitted, alert"),
        (Action::Block, false, false) => format!("{denied}, alert"),
        (Action::Allow, false, true) => "reads permitted".to_string(),
        (Action::Allow, false, false) => "permitted".to_string(),
    }
}

fn posture_lines(set: &RuleSet, posture: Posture) -> Vec<String> {
    let fate = match posture {
        Posture::Audit => "permitted with an Audit alert (PolicyName DefaultPosture)",
        Posture::Block => "denied with a Block alert (PolicyName DefaultPosture)",
    };
    let mut lines = Vec::new();
    let a = &set.allow_list;
    // Per category: a process Allow rule does not put file opens in allow-list mode.
    for (on, what) in [
        (a.process, "process"),
        (a.file, "file"),
        (a.network, "network"),
        (a.capabilities, "capabilities"),
    ] {
        if on {
            lines.push(format!(
                "allow-list mode for {what}: anything not allowed is {fate}"
            ));
        }
    }
    lines
}

fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let reports = validate_paths(&args.files, Options::default());
    if !reports.iter().all(|r| r.valid) {
        print_diagnostics(&reports, true);
        eprintln!("knoxctl: error: the policies above are invalid; nothing to explain");
        return Ok(ExitCode::from(EXIT_FAILED));
    }
    let policies: Vec<Policy> = reports.iter().flat_map(|r| r.policies().cloned()).collect();
    let sets = normalize::normalize(&policies);
    match args.output {
        TableOrJson::Json => {
            let out: Vec<_> = sets
                .iter()
                .map(|s| serde_json::json!({ "ruleSet": s, "posture": posture_lines(s, args.default_posture) }))
                .collect();
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        TableOrJson::Table | TableOrJson::Wide => {
            for (i, set) in sets.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                let target = set
                    .target
                    .as_ref()
                    .map(|t| t.to_string())
                    .unwrap_or_default();
                println!("Target: {target}   policies: {}", set.policies.join(", "));
                let mut t = table(&[
                    "Operation",
                    "Match",
                    "From source",
                    "Action",
                    "Effect",
                    "Flags",
                    "Severity",
                    "Policy",
                ]);
                for r in &set.rules {
                    t.add_row(vec![
                        r.category.to_string(),
                        r.matcher.to_string(),
                        r.from_source.join(", "),
                        r.action.to_string(),
                        effect(r),
                        r.flags(),
                        r.severity.map(|s| s.to_string()).unwrap_or_default(),
                        r.policy.clone(),
                    ]);
                }
                if args.output == TableOrJson::Wide {
                    t.whole();
                }
                println!("{t}");
                for (name, action) in &set.presets {
                    println!("preset {name}: {action}");
                }
                for line in posture_lines(set, args.default_posture) {
                    println!("{line}");
                }
                for c in &set.conflicts {
                    println!(
                        "conflict: {} {} and {} {} match the same operations; Block wins",
                        c.winner_policy, c.winner_field, c.loser_policy, c.loser_field
                    );
                }
                if set.rules.iter().any(|r| r.category == Category::Syscall) {
                    println!("syscall rules are audit-only: they raise alerts and never deny");
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends a request; agent-side refusals become errors with the agent's message.
fn call(conn: &AgentConn, request: &Request) -> anyhow::Result<Response> {
    match api::call(&conn.socket, request, API_TIMEOUT)? {
        Response::Error { code, message } => anyhow::bail!("{message} ({code})"),
        r => Ok(r),
    }
}

/// Reads and validates the files locally, so mistakes are reported even without an agent
/// and nothing is sent unless every document is valid.
fn read_valid(paths: &[PathBuf]) -> anyhow::Result<Result<Vec<SourceFile>, ExitCode>> {
    let inputs = read_inputs(paths);
    let reports: Vec<FileReport> = inputs
        .iter()
        .map(|i| validate_input(i, Options::default()))
        .collect();
    if !reports.iter().all(|r| r.valid) {
        print_diagnostics(&reports, true);
        eprintln!("knoxctl: error: invalid policies; nothing was applied");
        return Ok(Err(ExitCode::from(EXIT_FAILED)));
    }
    Ok(Ok(inputs
        .into_iter()
        .filter_map(|i| {
            i.bytes.ok().map(|b| SourceFile {
                path: i.label,
                content: String::from_utf8_lossy(&b).into_owned(),
            })
        })
        .collect()))
}

fn apply(paths: &[PathBuf], conn: &AgentConn) -> anyhow::Result<ExitCode> {
    let files = match read_valid(paths)? {
        Ok(f) => f,
        Err(code) => return Ok(code),
    };
    match call(conn, &Request::Apply { files })? {
        Response::Applied { results, warnings } => {
            for w in warnings {
                eprintln!("{w}");
            }
            for r in results {
                println!(
                    "{}/{} {}: {}",
                    r.kind.to_lowercase(),
                    r.name,
                    r.outcome,
                    r.effect
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Response::Invalid { diagnostics } => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            eprintln!("knoxctl: error: invalid policies; nothing was applied");
            Ok(ExitCode::from(EXIT_FAILED))
        }
        other => anyhow::bail!("unexpected response from the agent: {other:?}"),
    }
}

fn delete(names: Vec<String>, paths: &[PathBuf], conn: &AgentConn) -> anyhow::Result<ExitCode> {
    let files = if paths.is_empty() {
        Vec::new()
    } else {
        match read_valid(paths)? {
            Ok(f) => f,
            Err(code) => return Ok(code),
        }
    };
    if names.is_empty() && files.is_empty() {
        eprintln!("knoxctl: error: give policy names or -f FILE");
        return Ok(ExitCode::from(super::EXIT_USAGE));
    }
    match call(conn, &Request::Delete { names, files })? {
        Response::Deleted { names } => {
            for n in names {
                println!("{n} deleted");
            }
            Ok(ExitCode::SUCCESS)
        }
        other => anyhow::bail!("unexpected response from the agent: {other:?}"),
    }
}

fn list(output: TableOrJson, conn: &AgentConn) -> anyhow::Result<ExitCode> {
    let Response::Policies { items } = call(conn, &Request::List)? else {
        anyhow::bail!("unexpected response from the agent");
    };
    match output {
        TableOrJson::Json => println!("{}", serde_json::to_string_pretty(&items)?),
        TableOrJson::Table | TableOrJson::Wide => {
            if items.is_empty() {
                println!("no policies applied");
                return Ok(ExitCode::SUCCESS);
            }
            let mut t = table(&[
                "Name",
                "Kind",
                "Action",
                "Rules",
                "On this host",
                "Applied",
                "Source",
            ]);
            for p in items {
                t.add_row(vec![
                    p.name,
                    p.kind,
                    p.action,
                    p.rules.to_string(),
                    if p.applies_here {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    super::alerts::format_time(p.applied_at),
                    p.source,
                ]);
            }
            t.pin(&["Kind", "Action", "Rules", "On this host", "Applied"]);
            if output == TableOrJson::Wide {
                t.whole();
            }
            println!("{t}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn get(name: &str, output: YamlOrJson, conn: &AgentConn) -> anyhow::Result<ExitCode> {
    let Response::Policy { policy } = call(
        conn,
        &Request::Get {
            name: name.to_string(),
        },
    )?
    else {
        anyhow::bail!("unexpected response from the agent");
    };
    match output {
        YamlOrJson::Json => println!("{}", serde_json::to_string_pretty(&policy)?),
        YamlOrJson::Yaml => print!("{}", crate::yaml::to_yaml(&policy)),
    }
    Ok(ExitCode::SUCCESS)
}
