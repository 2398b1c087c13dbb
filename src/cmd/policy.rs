//! `knoxctl policy ...`: validate and explain work offline; apply/diff/list/get/delete talk
//! to the agent. Every policy is printed as its [`crate::policy::PolicyId`]
//! (`kubearmorhostpolicy/NAME`, `kubearmorpolicy/NAMESPACE/NAME`), which get and delete
//! take back.

use super::ExitStatus;
use super::{
    AgentConn, ChangeOutput, ListOutput, PolicyCommand, PolicyFiles, Posture, TableOrJson,
    TextOrJson, YamlOrJson,
};
use crate::agent::api::{self, Request, Response, SourceFile};
use crate::output::{Document, paint, print_document, table, unified_diff};
use crate::policy::files::{read_inputs, validate_inputs, validate_paths};
use crate::policy::normalize::{self, Category, Rule, RuleSet};
use crate::policy::validate::{FileReport, Options, RAW_APPARMOR_WARNING, Severity};
use crate::policy::{Action, Policy};
use clap::Args;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    #[command(flatten)]
    pub files: PolicyFiles,
    /// Treat warnings (unknown fields, likely mistakes) as errors
    #[arg(long)]
    pub strict: bool,
    /// Skip documents that are not KubeArmor policies (a Deployment next to the policies)
    #[arg(long)]
    pub skip_other_kinds: bool,
    #[arg(short, long, value_enum, default_value_t = TextOrJson::Text)]
    pub output: TextOrJson,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub files: PolicyFiles,
    /// Skip documents that are not KubeArmor policies
    #[arg(long)]
    pub skip_other_kinds: bool,
    /// What happens to operations no Allow rule permits, in allow-list mode
    #[arg(long, value_enum, default_value_t = Posture::Audit)]
    pub default_posture: Posture,
    #[arg(short, long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

pub const TEST_ABOUT: &str = "\
Replays recorded operations against draft policies and reports what each rule would have \
done: how many operations it would have blocked, audited or allowed, the first and last \
time, and up to 3 example programs and resources; then what the default posture would \
have done to operations no Allow rule permits (allow-list drafts). The drafts are read and \
validated as `policy apply` reads them and judged with the matcher the enforcers use: \
host policies judge records without a ContainerName whose HostName their nodeSelector \
selects, container policies the records of the containers their selector selects \
(ContainerName and Labels).

Records come from the agent's telemetry store (--state-dir), or from a KubeArmor JSON \
Lines export with --from FILE (`karmor logs --json`, logs and alerts alike; - for standard \
input). Exec, file open (reads and writes, from the flags) and socket records are judged; \
others are counted and skipped. The telemetry cannot tell a file's owner: ownerOnly rules \
take the process's user as the owner.

Exit status: 0 nothing would have been blocked; 1 something would have been blocked (a CI \
gate before `policy apply`), or the drafts are invalid, or the records cannot be read; 2 \
usage error.";

#[derive(Args, Debug)]
pub struct TestArgs {
    #[command(flatten)]
    pub files: PolicyFiles,
    /// Replay only records from this time on: a duration back from now (30m, 2h, 7d) or an
    /// RFC 3339 time or date
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,
    /// Read records from a KubeArmor JSON Lines file (- for standard input) instead of the
    /// telemetry store
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath)]
    pub from: Option<PathBuf>,
    /// What operations no Allow rule permits get, in allow-list mode
    #[arg(long, value_enum, default_value_t = Posture::Audit)]
    pub default_posture: Posture,
    /// Skip documents that are not KubeArmor policies
    #[arg(long)]
    pub skip_other_kinds: bool,
    #[arg(short, long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
    /// Set from the global --state-dir.
    #[arg(skip)]
    pub state_dir: Option<PathBuf>,
}

pub fn run(command: PolicyCommand, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    match command {
        PolicyCommand::Validate(args) => validate(args),
        PolicyCommand::Test(args) => test(*args),
        PolicyCommand::Explain(args) => explain(args),
        PolicyCommand::Apply {
            files,
            skip_other_kinds,
            dry_run,
            output,
        } => apply(&files.all(), skip_other_kinds, dry_run, output, conn),
        PolicyCommand::Diff {
            files,
            skip_other_kinds,
        } => diff(&files.all(), skip_other_kinds, conn),
        PolicyCommand::List { output } => list(output, conn),
        PolicyCommand::Get { name, output } => get(&name, output, conn),
        PolicyCommand::Delete {
            names,
            files,
            all,
            ignore_not_found,
            dry_run,
            output,
        } => delete(
            DeleteArgs {
                names,
                all,
                ignore_not_found,
                output,
                dry_run,
            },
            &files,
            conn,
        ),
    }
}

#[derive(Serialize, Default)]
struct Summary {
    files: usize,
    documents: usize,
    valid: usize,
    invalid: usize,
    /// Files that could not be read as YAML at all (also counted in `invalid`).
    unreadable: usize,
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
            s.unreadable += 1;
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

fn validate(args: ValidateArgs) -> anyhow::Result<ExitStatus> {
    let reports = validate_paths(
        &args.files.all(),
        Options {
            strict: args.strict,
            skip_other_kinds: args.skip_other_kinds,
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
            // A file that is not YAML has no documents to call valid or invalid: say so,
            // rather than "0 documents: 1 invalid".
            let unreadable = match summary.unreadable {
                0 => String::new(),
                n => format!(", {} not readable as policies", plural(n, "file")),
            };
            println!(
                "{} in {}: {} valid, {} invalid{unreadable} ({}, {})",
                plural(summary.documents, "document"),
                plural(summary.files, "file"),
                summary.valid,
                summary.invalid - summary.unreadable,
                plural(summary.errors, "error"),
                plural(summary.warnings, "warning"),
            );
        }
    }
    Ok(if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// Printed under a table with a denying rule: which errno a process sees is the enforcer's
/// choice, not the policy's.
const DENIED_NOTE: &str = "denied: the call fails with EACCES (Permission denied) under BPF-LSM \
and with EPERM (Operation not permitted) under fanotify; `knoxctl probe` shows what each \
enforcer can deny on this host";

fn effect(r: &Rule) -> String {
    if !r.allowed_args.is_empty() && r.action == Action::Block {
        return format!(
            "denied unless its arguments are exactly: {}, alert",
            r.allowed_args.join(" ")
        );
    }
    match (r.action, r.owner_only, r.read_only) {
        (Action::Audit, true, _) => "permitted, alert for non-owners".to_string(),
        (Action::Audit, false, _) => "permitted, alert".to_string(),
        // ownerOnly: "allow the owner only; otherwise block all", whatever the action.
        (_, true, true) => "owner may read; writes and others denied, alert".to_string(),
        (_, true, false) => "owner permitted; others denied, alert".to_string(),
        (Action::Block, false, true) => "writes denied, reads permitted, alert".to_string(),
        (Action::Block, false, false) => "denied, alert".to_string(),
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

fn explain(args: ExplainArgs) -> anyhow::Result<ExitStatus> {
    let opts = Options {
        skip_other_kinds: args.skip_other_kinds,
        ..Options::default()
    };
    let reports = validate_paths(&args.files.all(), opts);
    if !reports.iter().all(|r| r.valid) {
        print_diagnostics(&reports, true);
        super::error("the policies above are invalid; nothing to explain");
        return Ok(ExitStatus::Failure);
    }
    let policies: Vec<Policy> = reports.iter().flat_map(|r| r.policies().cloned()).collect();
    let sets = normalize::normalize(&policies);
    match args.output {
        TableOrJson::Json | TableOrJson::Yaml => {
            let out: Vec<_> = sets
                .iter()
                .map(|s| serde_json::json!({ "ruleSet": s, "posture": posture_lines(s, args.default_posture) }))
                .collect();
            print_document(&out, args.output.document().expect("a document format"))?;
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
                if set.rules.iter().any(|r| effect(r).contains("denied")) {
                    println!("{DENIED_NOTE}");
                }
                for (name, action) in &set.presets {
                    println!("preset {name}: {action}");
                }
                for line in posture_lines(set, args.default_posture) {
                    println!("{line}");
                }
                for raw in &set.apparmor {
                    println!(
                        "raw AppArmor rules of {} (spec.apparmor), enforced only by the AppArmor enforcer:",
                        raw.policy
                    );
                    for l in &raw.lines {
                        println!("  {l}");
                    }
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
    Ok(ExitStatus::Success)
}

/// `policy test`: replays records against draft policies.
fn test(args: TestArgs) -> anyhow::Result<ExitStatus> {
    use crate::learn::replay::Replay;
    use crate::learn::source::EventSource;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let since = match args
        .since
        .as_deref()
        .map(|s| super::alerts::parse_time(s, now))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Ok(super::usage(&format!("--since {e}"), "policy test")),
    };
    let Ok((_, policies)) = read_valid(
        &args.files.all(),
        args.skip_other_kinds,
        "nothing was tested",
    ) else {
        return Ok(ExitStatus::Failure);
    };
    let source = match &args.from {
        Some(f) => EventSource::File(f.clone()),
        None => EventSource::Store(
            args.state_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(super::AgentConn::DEFAULT_STATE_DIR)),
        ),
    };
    let mut replay = Replay::new(policies, args.default_posture);
    let stats = source
        .for_each(since, |a| replay.record(a))
        .map_err(anyhow::Error::from)?;
    let report = replay.finish();
    if stats.bad_lines > 0 {
        eprintln!(
            "knoxctl: {}: {} lines skipped (not KubeArmor records)",
            source.describe(),
            stats.bad_lines
        );
    }
    match args.output {
        TableOrJson::Json | TableOrJson::Yaml => {
            print_document(&report, args.output.document().expect("a document format"))?;
        }
        TableOrJson::Table | TableOrJson::Wide => {
            let mut t = table(&[
                "Policy",
                "Operation",
                "Match",
                "Action",
                "Block",
                "Audit",
                "Allow",
                "First",
                "Last",
                "Processes",
                "Resources",
            ]);
            for r in &report.rules {
                let name = if r.policy == "DefaultPosture" {
                    format!("DefaultPosture ({})", r.field)
                } else {
                    r.policy.clone()
                };
                t.add_row(vec![
                    name,
                    r.operation.clone(),
                    r.matches.clone(),
                    r.action.clone(),
                    r.would_block.to_string(),
                    r.would_audit.to_string(),
                    r.would_allow.to_string(),
                    r.first.clone(),
                    r.last.clone(),
                    r.processes.join(", "),
                    r.resources.join(", "),
                ]);
            }
            if args.output == TableOrJson::Wide {
                t.whole();
            }
            println!("{t}");
            println!(
                "{} records from {}: {} operations judged ({} of targets no draft selects); {} would be blocked, {} audited (default posture {})",
                report.records,
                source.describe(),
                report.operations - report.unselected,
                report.unselected,
                report.would_block,
                report.would_audit,
                report.posture,
            );
            let posture_audits: u64 = report
                .rules
                .iter()
                .filter(|r| r.policy == "DefaultPosture")
                .map(|r| r.would_audit)
                .sum();
            if posture_audits > 0 {
                println!(
                    "with --default-posture block, {posture_audits} more operations would be blocked"
                );
            }
        }
    }
    Ok(if report.would_block > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

const API_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends a request; agent-side refusals become errors with the agent's message (its code
/// is for programs, not people).
fn call(conn: &AgentConn, request: &Request) -> anyhow::Result<Response> {
    match api::call(&conn.socket, request, API_TIMEOUT)? {
        Response::Error { message, .. } => anyhow::bail!("{message}"),
        r => Ok(r),
    }
}

/// Reads and validates the files locally, so mistakes are reported even without an agent
/// and nothing is sent unless every document is valid; `refused` ends the error line
/// ("nothing was applied").
fn read_valid(
    paths: &[PathBuf],
    skip_other_kinds: bool,
    refused: &str,
) -> Result<(Vec<SourceFile>, Vec<Policy>), ()> {
    let inputs = read_inputs(paths);
    let opts = Options {
        skip_other_kinds,
        ..Options::default()
    };
    let reports = validate_inputs(&inputs, opts);
    if !reports.iter().all(|r| r.valid) {
        print_diagnostics(&reports, true);
        super::error(&format!("invalid policies; {refused}"));
        return Err(());
    }
    let policies = reports.iter().flat_map(|r| r.policies().cloned()).collect();
    let files = inputs
        .into_iter()
        .filter_map(|i| {
            i.bytes.ok().map(|b| SourceFile {
                path: i.label,
                content: String::from_utf8_lossy(&b).into_owned(),
            })
        })
        .collect();
    Ok((files, policies))
}

/// The printed identity of a result; agents before `id` existed sent only kind and name.
fn shown(id: String, kind: &str, name: &str) -> String {
    if id.is_empty() {
        format!("{}/{name}", kind.to_lowercase())
    } else {
        id
    }
}

fn apply(
    paths: &[PathBuf],
    skip_other_kinds: bool,
    dry_run: bool,
    output: ChangeOutput,
    conn: &AgentConn,
) -> anyhow::Result<ExitStatus> {
    let Ok((files, _)) = read_valid(paths, skip_other_kinds, "nothing was applied") else {
        return Ok(ExitStatus::Failure);
    };
    let raw = raw_rules_files(&files, skip_other_kinds);
    let request = if dry_run {
        Request::DryRunApply {
            files,
            skip_other_kinds,
        }
    } else {
        Request::Apply {
            files,
            skip_other_kinds,
        }
    };
    let response = call(conn, &request).map_err(|e| {
        // The agent names a policy whose raw AppArmor rules the parser refused; the file
        // it came from is known here only.
        let msg = e.to_string();
        let named: Vec<String> = raw
            .iter()
            .filter(|(key, _)| {
                msg.contains(&format!("{key}: spec.apparmor")) || msg.contains(&format!(" {key}, "))
            })
            .map(|(key, path)| format!("{key} is in {path}"))
            .collect();
        if msg.contains("spec.apparmor") && !named.is_empty() {
            anyhow::anyhow!("{msg} ({})", named.join("; "))
        } else {
            e
        }
    })?;
    match response {
        Response::Applied { results, warnings } => {
            for w in for_enforcer(warnings, conn) {
                eprintln!("{w}");
            }
            for r in results {
                let id = shown(r.id, &r.kind, &r.name);
                if output == ChangeOutput::Name {
                    println!("{id}");
                } else if dry_run {
                    println!("{id} {} (dry run)", r.outcome);
                } else {
                    println!("{id} {}: {}", r.outcome, r.effect);
                }
            }
            Ok(ExitStatus::Success)
        }
        Response::Invalid { diagnostics } => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            super::error("invalid policies; nothing was applied");
            Ok(ExitStatus::Failure)
        }
        other => anyhow::bail!("unexpected response from the agent: {other:?}"),
    }
}

/// (policy key, file) of each policy in `files` with raw AppArmor rules.
fn raw_rules_files(files: &[SourceFile], skip_other_kinds: bool) -> Vec<(String, String)> {
    let opts = Options {
        skip_other_kinds,
        ..Options::default()
    };
    files
        .iter()
        .filter(|f| f.content.contains("apparmor"))
        .flat_map(|f| {
            let r = crate::policy::validate::validate_bytes(&f.path, f.content.as_bytes(), opts);
            r.policies()
                .filter(|p| normalize::RawAppArmor::of(p).is_some())
                .map(|p| (p.key(), f.path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `policy apply`'s warnings, the one on every spec.apparmor said for the agent's
/// enforcer, which the validator does not know: none under AppArmor (it loads the raw
/// rules), "not enforced here" under any other.
fn for_enforcer(warnings: Vec<String>, conn: &AgentConn) -> Vec<String> {
    if !warnings.iter().any(|w| w.contains(RAW_APPARMOR_WARNING)) {
        return warnings;
    }
    let enforcer = match api::call(&conn.socket, &Request::Status, API_TIMEOUT) {
        Ok(Response::Status { status }) => status.enforcer,
        _ => return warnings,
    };
    let apparmor = enforcer == crate::enforce::Backend::Apparmor.to_string();
    warnings
        .into_iter()
        .filter_map(|w| match w.contains(RAW_APPARMOR_WARNING) {
            false => Some(w),
            true if apparmor => None,
            true => Some(w.replace(
                RAW_APPARMOR_WARNING,
                &format!("not enforced here: the agent enforces with {enforcer}, which does not load raw AppArmor rules (only the AppArmor enforcer does): this part of the policy does nothing"),
            )),
        })
        .collect()
}

struct DeleteArgs {
    names: Vec<String>,
    all: bool,
    ignore_not_found: bool,
    output: ChangeOutput,
    dry_run: bool,
}

fn delete(args: DeleteArgs, paths: &[PathBuf], conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let files = if paths.is_empty() {
        Vec::new()
    } else {
        match read_valid(paths, true, "nothing was deleted") {
            Ok((files, _)) => files,
            Err(()) => return Ok(ExitStatus::Failure),
        }
    };
    let (names, all) = (args.names, args.all);
    let request = if args.dry_run {
        Request::DryRunDelete { names, files, all }
    } else {
        Request::Delete { names, files, all }
    };
    match call(conn, &request)? {
        Response::Deleted { names, failed } => {
            let suffix = if args.dry_run { " (dry run)" } else { "" };
            for n in &names {
                if args.output == ChangeOutput::Name {
                    println!("{n}");
                } else {
                    println!("{n} deleted{suffix}");
                }
            }
            let mut ok = true;
            for f in failed {
                if f.code == "not-found" && args.ignore_not_found {
                    continue;
                }
                ok = false;
                super::error(&f.message);
            }
            if all && names.is_empty() {
                eprintln!("knoxctl: no policies applied; nothing to delete");
            }
            Ok(if ok {
                ExitStatus::Success
            } else {
                ExitStatus::Failure
            })
        }
        Response::Invalid { diagnostics } => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            super::error("invalid policies; nothing was deleted");
            Ok(ExitStatus::Failure)
        }
        other => anyhow::bail!("unexpected response from the agent: {other:?}"),
    }
}

fn diff(paths: &[PathBuf], skip_other_kinds: bool, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let Ok((_, policies)) = read_valid(paths, skip_other_kinds, "nothing to compare") else {
        return Ok(ExitStatus::Trouble);
    };
    match diff_policies(&policies, conn) {
        Ok(true) => Ok(ExitStatus::Failure),
        Ok(false) => Ok(ExitStatus::Success),
        Err(e) => {
            super::report(&e);
            Ok(ExitStatus::Trouble)
        }
    }
}

/// Prints a diff per policy that apply would change; true when there was one.
pub(super) fn diff_policies(policies: &[Policy], conn: &AgentConn) -> anyhow::Result<bool> {
    let mut changed = false;
    for p in policies {
        let p = p.clone().defaulted();
        let id = p.id();
        let request = Request::Get {
            name: id.to_string(),
        };
        let applied: Option<Policy> = match api::call(&conn.socket, &request, API_TIMEOUT)? {
            Response::Policy { policy } => Some(serde_json::from_value(policy).map_err(|e| {
                anyhow::anyhow!("the agent sent {id} in a form this knoxctl cannot read: {e}")
            })?),
            Response::Error { code, .. } if code == "not-found" => None,
            Response::Error { message, .. } => anyhow::bail!("{message}"),
            other => anyhow::bail!("unexpected response from the agent: {other:?}"),
        };
        if applied.as_ref() == Some(&p) {
            continue;
        }
        changed = true;
        let yaml =
            |p: &Policy| crate::yaml::to_yaml(&serde_json::to_value(p).expect("policy serializes"));
        let (old, old_label) = match &applied {
            Some(a) => (yaml(a), format!("{id} (applied)")),
            None => (String::new(), "/dev/null".to_string()),
        };
        print!(
            "{}",
            unified_diff(&old, &yaml(&p), &old_label, &format!("{id} (file)"))
        );
    }
    Ok(changed)
}

fn list(output: ListOutput, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let Response::Policies { items } = call(conn, &Request::List)? else {
        anyhow::bail!("unexpected response from the agent");
    };
    // Times as the table prints them (RFC 3339, as kubectl's timestamps), not epoch seconds.
    let documents = || -> anyhow::Result<serde_json::Value> {
        let mut v = serde_json::to_value(&items)?;
        for (item, p) in v.as_array_mut().into_iter().flatten().zip(&items) {
            item["appliedAt"] = crate::output::format_time(p.applied_at).into();
        }
        Ok(v)
    };
    match output {
        ListOutput::Json => print_document(&documents()?, Document::Json)?,
        ListOutput::Yaml => print_document(&documents()?, Document::Yaml)?,
        ListOutput::Name => {
            for p in items {
                println!("{}", shown(p.id, &p.kind, &p.name));
            }
        }
        ListOutput::Table | ListOutput::Wide => {
            if items.is_empty() {
                // On stderr, like kubectl's "No resources found": stdout stays empty.
                eprintln!("No policies applied.");
                return Ok(ExitStatus::Success);
            }
            let mut t = table(&[
                "Policy",
                "Action",
                "Rules",
                "On this host",
                "Applied",
                "Source",
            ]);
            for p in items {
                t.add_row(vec![
                    shown(p.id, &p.kind, &p.name),
                    p.action,
                    p.rules.to_string(),
                    if p.applies_here {
                        "yes".into()
                    } else {
                        "no".into()
                    },
                    crate::output::format_time(p.applied_at),
                    p.source,
                ]);
            }
            t.pin(&["Kind", "Action", "Rules", "On this host", "Applied"]);
            if output == ListOutput::Wide {
                t.whole();
            }
            println!("{t}");
        }
    }
    Ok(ExitStatus::Success)
}

fn get(name: &str, output: YamlOrJson, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
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
        YamlOrJson::Json => print_document(&policy, Document::Json)?,
        YamlOrJson::Yaml => print_document(&policy, Document::Yaml)?,
        YamlOrJson::Name => println!("{}", policy_id(&policy)),
    }
    Ok(ExitStatus::Success)
}

/// The identifier of a policy the agent sent back, as `list` prints it.
fn policy_id(policy: &serde_json::Value) -> String {
    match serde_json::from_value::<Policy>(policy.clone()) {
        Ok(p) => crate::policy::id::PolicyId::of(&p.defaulted()).to_string(),
        Err(_) => {
            let field = |path: &[&str]| {
                path.iter()
                    .try_fold(policy, |v, k| v.get(k))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            format!(
                "{}/{}",
                field(&["kind"]).to_lowercase(),
                field(&["metadata", "name"])
            )
        }
    }
}
