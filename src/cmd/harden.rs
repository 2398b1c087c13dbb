//! `knoxctl harden`: list and show the built-in hardening templates, recommend concrete
//! policies for this host, its containers or a root file system (and write, report, diff
//! or apply them), and verify templates against the running agent.

use super::{AgentConn, ExitStatus};
use crate::agent::api::{self, Request, Response, SourceFile};
use crate::harden::catalog::{Catalog, Filter, Scope, Template};
use crate::harden::precondition::TargetFs;
use crate::harden::recommend::{
    self, Action, EnforcerCaps, LockoutGuard, Options, Outcome, Target,
};
use crate::harden::{HardenError, report};
use crate::output::{Document, print_document, table};
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum, ValueHint};
use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const ABOUT: &str = "\
Recommends hardening policies from a catalog of templates built into knoxctl (works \
offline): package managers, file integrity of system directories, credential files, cron and \
systemd persistence, log tampering, discovery tools, download and remote-copy tools, \
compilers, kernel modules, raw sockets, the trust store, shell history, SSH configuration and \
keys, execution from /tmp and /dev/shm, cryptominers and container escape. Each template maps \
to controls of MITRE ATT&CK, NIST 800-53 r5, NIST 800-190, CIS Debian 12, CIS Controls, CIS \
Docker, DISA STIG (Ubuntu 22.04, RHEL 9) and PCI DSS v4, each marked direct, compensating or \
weak.

Framework names are matched as people type them (pci-dss = PCI_DSS = \"PCI DSS\"; stig, cis \
and nist select the family); controls ignore case and spaces, and a control selects its \
enhancements (--control CM-7 matches CM-7(4), T1053 matches T1053.003).";

const RECOMMEND_ABOUT: &str = "\
Evaluates every template on a real target and prints what it recommends and what it skips, \
each with its evidence (\"/usr/bin/apt exists\", \"package apt 2.6.1 installed\", \"no \
/usr/bin/dnf\"). Targets: this host (default, --host), a container the agent knows \
(--container NAME, --all-containers: its root is /proc/PID/root, or the root file system the \
OCI hook reported while its process is not known yet), or a directory holding a root file \
system (--rootfs DIR; with --container NAME the policies select that container).

Rule paths are resolved as the target resolves them: /bin/x and /usr/bin/x are both listed \
where both exist (merged /usr), a symlink's target is listed too, and programs that are not \
there are dropped (listed). Host policies select kubearmor.io/hostname: <this host>; \
container policies select kubearmor.io/container.name: NAME$ (exactly that container). The \
output is valid under `policy validate --strict` and identical from run to run.

Actions: Audit by default. --action block blocks only templates marked safe to block; a \
template stays Audit, with the reason, when blocking it could lock the operator out (sshd, \
login shells, sudo, knoxctl and its state) or when this host's enforcer cannot block its \
rules (see `knoxctl probe`).

--out-dir writes one file per policy (harden-<template>.yaml) or, with --merge, one per \
target (where templates name the same resource, Block wins over Audit). Files are written \
only when every policy is valid, and the directory changes as a whole: the new set is \
staged next to it (so its parent must be writable) and swapped in with one rename, other \
files in it are kept, and a failure leaves it as it was. --report \
writes the coverage report (by extension: .md, .html, .json). --apply sends the policies to \
the agent in one request (all or none); on a terminal it first asks which to apply (--yes \
applies all without asking; without a terminal --apply needs --yes). --diff shows what apply \
would change (exit status 1 when something would). --dry-run with --apply asks the agent what \
would change and changes nothing (it needs no --yes).

Exit status: 0 done; 1 failed (no agent for --apply, a file could not be written); 2 usage \
error (unknown framework, category or control; no such container; --apply without --yes and \
without a terminal).";

#[derive(Subcommand, Debug)]
pub enum HardenCommand {
    /// List the built-in hardening templates
    #[command(long_about = ABOUT)]
    List(ListArgs),
    /// Show one template, or the policy it produces for a target
    Show(ShowArgs),
    /// Recommend hardening policies for this host, its containers or a root file system
    #[command(long_about = RECOMMEND_ABOUT)]
    Recommend(Box<RecommendArgs>),
    /// Run templates' verify recipes against the running agent
    #[command(long_about = VERIFY_ABOUT)]
    Verify(VerifyArgs),
    /// Generate least-permissive allow-list policies from recorded behaviour
    #[command(long_about = DISCOVER_ABOUT)]
    Discover(Box<DiscoverArgs>),
}

const DISCOVER_ABOUT: &str = "\
Generates a least-permissive allow-list policy for the host (--host, the default) or one \
container (--container NAME) from what it was recorded doing: the executables that ran \
(fromSource: their parents, when there were at most 3), the files they opened (readOnly \
unless written; fromSource: the programs that opened them, when at most 3) and the \
network protocols they used. Records come from the agent's telemetry store \
(--state-dir), or from a KubeArmor JSON Lines export with --from FILE (`karmor logs \
--json`; - for standard input). Operations that were denied are not learned.

Files are generalised only on evidence, and each generalisation is explained: \
/proc/<pid>/... becomes a pattern over the pid, and a directory in which at least \
--dir-threshold distinct files were opened becomes a matchDirectories rule for that \
directory alone (not recursive); top-level directories (/etc, /tmp, /home...) and \
credential directories (/etc/ssh, /etc/pam.d, .ssh) never are.

The policy never locks the operator out: in every category it has rules for, sshd, login \
shells, login, su, sudo and knoxctl (this binary too) may always be started, may open \
anything and may use tcp and udp, what a login session starts may run, and every program \
may read the dynamic loader's files.

The rules are Allow rules: what they do not allow gets the agent's default posture. \
--posture audit (default) is the posture to start with (what is not allowed is permitted \
and alerted); --posture block says the policy is meant to deny it, which takes effect when \
the agent's defaultPosture is block. The posture is recorded in the policy's annotations.

Output: the policy on standard output (-o yaml or json) and the explanation report (what \
was seen, how often, why each rule) on standard error; with --out-dir, the policy file \
(<name>.yaml or .json) and report.md are written there instead. The same records give \
byte-identical output, whatever their order; the policy is checked with `policy validate \
--strict` before it is printed.

Exit status: 0 a policy was generated; 1 nothing of the target was recorded, or the \
records cannot be read; 2 usage error.";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LearnScope {
    Process,
    File,
    Network,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscoverOutput {
    Yaml,
    Json,
}

#[derive(Args, Debug)]
pub struct DiscoverArgs {
    /// Learn the host's behaviour (records without a container); the default
    #[arg(long, conflicts_with = "container")]
    pub host: bool,
    /// Learn this container's behaviour (its ContainerName in the records)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Learn only from records from this time on: a duration back from now (30m, 2h, 7d)
    /// or an RFC 3339 time or date
    #[arg(long, value_name = "DURATION|TIME")]
    pub since: Option<String>,
    /// Read records from a KubeArmor JSON Lines file (- for standard input) instead of the
    /// telemetry store
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub from: Option<PathBuf>,
    /// Record first: wait this long (30s, 10m, 2h) while the workload runs under the
    /// agent, then learn from what the telemetry store recorded in that time
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["since", "from"])]
    pub learn: Option<String>,
    /// Which operations to learn (comma-separated)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "process,file,network"
    )]
    pub scope: Vec<LearnScope>,
    /// Distinct files opened in one directory from which the directory is allowed
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub dir_threshold: u32,
    /// The default posture the policy is meant for (recorded in its annotations)
    #[arg(long, value_enum, default_value_t = super::Posture::Audit)]
    pub posture: super::Posture,
    /// Write the policy and report.md into this directory instead
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub out_dir: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value_t = DiscoverOutput::Yaml)]
    pub output: DiscoverOutput,
    /// Set from the global --state-dir.
    #[arg(skip)]
    pub state_dir: Option<PathBuf>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScopeArg {
    Host,
    Container,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Scope {
        match s {
            ScopeArg::Host => Scope::Host,
            ScopeArg::Container => Scope::Container,
        }
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct FilterArgs {
    /// Only templates mapped to this framework (repeatable): mitre-attack, nist-800-53,
    /// nist-800-190, cis-debian12, cis-controls, cis-docker, stig-ubuntu2204, stig-rhel9,
    /// pci-dss, or a family (mitre, nist, cis, stig, pci)
    #[arg(long = "framework", value_name = "NAME")]
    pub frameworks: Vec<String>,
    /// Only templates mapped to this control (repeatable): CM-7(4), T1053, 11.5.2, UBTU-22-654055
    #[arg(long = "control", value_name = "ID")]
    pub controls: Vec<String>,
    /// Only templates of this category (repeatable), e.g. package-managers, ssh
    #[arg(long = "category", value_name = "NAME")]
    pub categories: Vec<String>,
    /// Only templates for hosts or for containers
    #[arg(long, value_enum)]
    pub scope: Option<ScopeArg>,
    /// Also import the templates of a kubearmor/policy-templates tree (repeatable): a
    /// directory, a .zip of one (a release archive), or an http(s) URL of such a zip
    /// (cached in the user's cache directory, revalidated, used offline when the download
    /// fails); every problem is reported as FILE:LINE with what was repaired or why it was
    /// skipped
    #[arg(long = "templates", value_name = "DIR|ZIP|URL", value_hint = ValueHint::AnyPath)]
    pub templates: Vec<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOutput {
    /// Columns that fit the terminal
    Table,
    /// Every column, whole values
    Wide,
    /// JSON
    Json,
    /// YAML
    #[value(alias = "yml")]
    Yaml,
    /// A Markdown table
    #[value(alias = "md")]
    Markdown,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Only templates whose preconditions hold on this host
    #[arg(long)]
    pub applicable: bool,
    #[arg(short, long, value_enum, default_value_t = ListOutput::Table)]
    pub output: ListOutput,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShowOutput {
    /// YAML
    #[value(alias = "yml")]
    Yaml,
    /// JSON
    Json,
    /// Markdown for people
    #[value(alias = "md")]
    Markdown,
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The template id (see `knoxctl harden list`)
    #[arg(value_name = "ID")]
    pub id: String,
    /// Print the policy it produces for `host` (this host) or `container=NAME` (a container
    /// the agent knows; its paths are resolved in the container's root)
    #[arg(long = "for", value_name = "host|container=NAME", value_parser = for_arg)]
    pub target: Option<ForTarget>,
    #[arg(short, long, value_enum, default_value_t = ShowOutput::Yaml)]
    pub output: ShowOutput,
}

#[derive(Clone, Debug)]
pub enum ForTarget {
    Host,
    Container(String),
}

fn for_arg(s: &str) -> Result<ForTarget, String> {
    match s.split_once('=') {
        None if s == "host" => Ok(ForTarget::Host),
        Some(("container", name)) if !name.is_empty() => Ok(ForTarget::Container(name.into())),
        _ => Err("expected `host` or `container=NAME`".into()),
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionArg {
    Audit,
    Block,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecommendOutput {
    /// Columns that fit the terminal
    Table,
    /// Every column, whole values
    Wide,
    /// The recommendations, skips and policies as one JSON document
    Json,
    /// The same as YAML
    #[value(alias = "yml")]
    Yaml,
}

#[derive(Args, Debug)]
pub struct RecommendArgs {
    /// This host (the default target)
    #[arg(long, conflicts_with_all = ["containers", "all_containers"])]
    pub host: bool,
    /// A container the agent knows, by name (repeatable); with --rootfs, the name the
    /// policies select
    #[arg(long = "container", value_name = "NAME")]
    pub containers: Vec<String>,
    /// Every container the agent knows
    #[arg(long, conflicts_with = "rootfs")]
    pub all_containers: bool,
    /// Evaluate on this root file system instead of the live target
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub rootfs: Option<PathBuf>,
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Only templates of at least this severity (1-10)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=10))]
    pub severity_min: Option<u8>,
    /// Audit (default), or Block where it is safe and enforceable here
    #[arg(long, value_enum, default_value_t = ActionArg::Audit)]
    pub action: ActionArg,
    /// Write the policies into this directory
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath, visible_alias = "outdir")]
    pub out_dir: Option<PathBuf>,
    /// One policy per target instead of one per template
    #[arg(long)]
    pub merge: bool,
    /// Write the coverage report: FILE.md, FILE.html or FILE.json
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub report: Option<PathBuf>,
    #[arg(short, long, value_enum, default_value_t = RecommendOutput::Table)]
    pub output: RecommendOutput,
    /// Apply the policies through the agent (all or none)
    #[arg(long)]
    pub apply: bool,
    /// Show what apply would change against the applied policies
    #[arg(long)]
    pub diff: bool,
    /// With --apply: ask the agent what would change, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replay the stored alerts of harden policies since then (30m, 24h, 7d, or a time):
    /// a template whose policy alerted stays Audit with the count and the programs
    #[arg(long, value_name = "DUR|TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// Do not ask which policies to apply
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The global --state-dir (for the lockout guard).
    #[arg(skip)]
    pub state_dir: Option<PathBuf>,
}

const VERIFY_ABOUT: &str = "\
For each template (the IDs given, or --all host templates whose preconditions hold here), \
applies its policy for this host in Audit mode, runs its trigger command (sh -c), and waits \
for an alert from that policy with the fields the template expects (Operation, Resource). \
The policy is deleted again afterwards unless it was applied before. Needs a running agent \
(root). Prints PASS, FAIL or SKIP per template and the counts: a FAIL says whether the \
agent's enforcer claims to enforce the template's rule sections (then it is a bug) or not \
(syscall rules: audited by the monitor); SKIP gives the unmet precondition, or what the \
recipe needs that is not here (a device whose driver is not loaded).

--container NAME verifies container templates in a container the agent knows: the \
KubeArmorPolicy is the one `harden show ID --for container=NAME` prints (preconditions and \
paths evaluated in the container's root), the trigger runs inside the container (podman \
exec, docker exec or runc exec as the agent's inventory names its runtime, else nsenter into \
its init process's namespaces and cgroup), and the alert must carry that ContainerName; \
the Resource expected is accepted under the name the container resolves it to. A template \
whose trigger needs a program the image lacks is skipped with its name.

Exit status: 0 every template passed, or failed only where the enforcer does not claim its \
rules (the FAIL line says so); 1 a template failed whose rules the enforcer claims to \
enforce, or no agent answered; 2 usage error (no such template or container, a template of \
the other scope).";

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The templates to verify
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub ids: Vec<String>,
    /// Every template of the target's scope whose preconditions hold there
    #[arg(long)]
    pub all: bool,
    /// Verify container templates inside this container (one the agent knows)
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// How long to wait for each alert, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub timeout: u64,
    /// The global --state-dir (the alert store).
    #[arg(skip)]
    pub state_dir: Option<PathBuf>,
}

pub fn run(command: HardenCommand, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let catalog = Catalog::builtin().context("the built-in template catalog is broken")?;
    let name = match &command {
        HardenCommand::List(_) => "harden list",
        HardenCommand::Show(_) => "harden show",
        HardenCommand::Recommend(_) => "harden recommend",
        HardenCommand::Verify(_) => "harden verify",
        HardenCommand::Discover(_) => "harden discover",
    };
    let result = match command {
        HardenCommand::List(args) => list(&catalog, args),
        HardenCommand::Show(args) => show(&catalog, args, conn),
        HardenCommand::Recommend(args) => recommend_cmd(&catalog, *args, conn),
        HardenCommand::Verify(args) => verify(&catalog, args, conn),
        HardenCommand::Discover(args) => discover(*args),
    };
    match result {
        Err(e) => match e.downcast_ref::<HardenError>() {
            Some(h) if h.is_usage() => Ok(super::usage(&h.to_string(), name)),
            _ => Err(e),
        },
        ok => ok,
    }
}

/// `harden discover`: an allow-list policy from recorded behaviour.
/// Waits while the agent records, with a bar on a terminal and one line otherwise.
fn record_for(wait: std::time::Duration) {
    use std::io::IsTerminal as _;
    let secs = wait.as_secs().max(1);
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(secs).with_style(
            indicatif::ProgressStyle::with_template("learning {bar:30} {elapsed}/{duration}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let start = std::time::Instant::now();
        while start.elapsed() < wait {
            std::thread::sleep(std::time::Duration::from_millis(200).min(wait - start.elapsed()));
            bar.set_position(start.elapsed().as_secs());
        }
        bar.finish_and_clear();
    } else {
        eprintln!(
            "knoxctl: learning for {}s: run the workload now",
            wait.as_secs_f64().round()
        );
        std::thread::sleep(wait);
    }
}

fn discover(args: DiscoverArgs) -> anyhow::Result<ExitStatus> {
    use crate::learn::discover::{Discovery, Options, Scope, Target};
    use crate::learn::source::EventSource;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut since = match args
        .since
        .as_deref()
        .map(|s| super::alerts::parse_time(s, now))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return Ok(super::usage(&format!("--since {e}"), "harden discover")),
    };
    let learn = match args
        .learn
        .as_deref()
        .map(crate::alert::filter::parse_duration)
    {
        None => None,
        Some(Ok(d)) if d.is_zero() => {
            return Ok(super::usage(
                "--learn needs a duration above zero",
                "harden discover",
            ));
        }
        Some(Ok(d)) => Some(d),
        Some(Err(e)) => return Ok(super::usage(&format!("--learn: {e}"), "harden discover")),
    };
    if args.container.as_deref() == Some("") {
        return Ok(super::usage("--container needs a name", "harden discover"));
    }
    let target = match &args.container {
        Some(c) => Target::Container(c.clone()),
        None => Target::Host,
    };
    let scope = Scope {
        process: args.scope.contains(&LearnScope::Process),
        file: args.scope.contains(&LearnScope::File),
        network: args.scope.contains(&LearnScope::Network),
    };
    // The running knoxctl is guarded wherever it is installed.
    let guard_extra = std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
        .into_iter()
        .collect();
    let source = match &args.from {
        Some(f) => EventSource::File(f.clone()),
        None => EventSource::Store(
            args.state_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(AgentConn::DEFAULT_STATE_DIR)),
        ),
    };
    if let (Some(wait), EventSource::Store(dir)) = (learn, &source) {
        // Refused before the wait, not after it: a store that records nothing cannot
        // be learned from however long one waits.
        crate::learn::source::open_telemetry(dir)?;
        since = Some(now);
        record_for(wait);
    }
    let mut d = Discovery::new(Options {
        target: target.clone(),
        scope,
        dir_threshold: args.dir_threshold as usize,
        posture: args.posture,
        guard_extra,
    });
    let stats = source
        .for_each(since, |a| d.record(a))
        .map_err(anyhow::Error::from)?;
    if stats.bad_lines > 0 {
        eprintln!(
            "knoxctl: {}: {} lines skipped (not KubeArmor records)",
            source.describe(),
            stats.bad_lines
        );
    }
    let what = match &target {
        Target::Host => "the host".to_string(),
        Target::Container(c) => format!("container {c}"),
    };
    if d.learned == 0 {
        super::error(&format!(
            "{} holds no exec, file open or socket of {what} that passed{}; nothing to learn from",
            source.describe(),
            if since.is_some() {
                " in the window"
            } else {
                ""
            }
        ));
        return Ok(ExitStatus::Failure);
    }
    let out = d.finish(&source.describe());
    let (text, ext) = match args.output {
        DiscoverOutput::Yaml => (crate::yaml::to_yaml(&out.policy), "yaml"),
        DiscoverOutput::Json => (serde_json::to_string_pretty(&out.policy)? + "\n", "json"),
    };
    // The policy is checked as `policy validate --strict` checks it: a generated policy
    // that the agent would refuse is a bug, not output.
    let check = crate::policy::validate::validate_bytes(
        "discovered",
        text.as_bytes(),
        crate::policy::validate::Options {
            strict: true,
            ..Default::default()
        },
    );
    if !check.valid {
        let problems: Vec<String> = check
            .diagnostics()
            .map(|d| d.render("discovered"))
            .collect();
        anyhow::bail!(
            "the discovered policy is not valid (a knoxctl bug):\n{}",
            problems.join("\n")
        );
    }
    match &args.out_dir {
        Some(dir) => {
            let file = format!("{}.{ext}", out.name);
            write_files(
                dir,
                &[(file.clone(), text), ("report.md".to_string(), out.report)],
            )
            .with_context(|| format!("cannot write {}", dir.display()))?;
            println!("{}", dir.join(file).display());
            println!("{}", dir.join("report.md").display());
        }
        None => {
            print!("{text}");
            eprint!("{}", out.report);
        }
    }
    Ok(ExitStatus::Success)
}

/// The built-in catalog plus the trees of `--templates`; each import problem is printed
/// on stderr as `SOURCE/FILE:LINE: skipped|repaired: reason` (SOURCE: the directory, the
/// zip or the URL as given).
fn with_imports(mut catalog: Catalog, sources: &[String]) -> anyhow::Result<Catalog> {
    use crate::harden::fetch::{self, Source};
    for given in sources {
        // Printed in notes and errors: a URL's credentials never are.
        let arg = &crate::redact::url_credentials(given);
        // A zip, downloaded or not, is unpacked into a temporary tree that lives until
        // this source is imported.
        let (dir, unpacked) = match Source::parse(given) {
            Source::Dir(d) => (d, None),
            Source::Zip(z) => {
                let tree = fetch::unpack(&z, arg)?;
                (tree.path(), Some(tree))
            }
            Source::Url(url) => {
                let cache = fetch::cache_dir().context(
                    "--templates URL caches the download, but there is no home directory \
                     to find the cache directory in (set XDG_CACHE_HOME)",
                )?;
                let got = fetch::fetch(&url, &cache)?;
                eprintln!("knoxctl: note: {}", got.note);
                let tree = fetch::unpack(&got.zip, arg)?;
                (tree.path(), Some(tree))
            }
        };
        // Files are named as they are in the source: inside a zip's top directory.
        let shown = match unpacked.as_ref().and_then(|t| t.top()) {
            Some(top) => format!("{}/{top}", arg.trim_end_matches('/')),
            None => arg.trim_end_matches('/').to_string(),
        };
        let imp = crate::harden::import::import_dir(&dir).map_err(|e| match e {
            // The temporary tree's path means nothing to the user; the source does.
            HardenError::Import { reason, .. } if dir.as_os_str() != arg.as_str() => {
                HardenError::Import {
                    path: arg.clone(),
                    reason,
                }
            }
            other => other,
        })?;
        for p in &imp.problems {
            eprintln!("{shown}/{}", p.render());
        }
        let skipped = imp
            .problems
            .iter()
            .filter(|p| p.kind == crate::harden::import::ProblemKind::Skipped)
            .count();
        eprintln!(
            "imported {} templates from {} ({} files; {} problems skipped a file or entry)",
            imp.templates.len(),
            arg,
            imp.files,
            skipped
        );
        catalog.extend(imp.templates);
    }
    Ok(catalog)
}

fn filter(
    catalog: &Catalog,
    f: &FilterArgs,
    severity_min: Option<u8>,
) -> Result<Filter, HardenError> {
    Filter::new(
        catalog,
        &f.frameworks,
        &f.controls,
        &f.categories,
        f.scope.map(Scope::from),
        severity_min,
    )
}

fn scopes(t: &Template) -> String {
    t.scope
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn frameworks_of(t: &Template) -> String {
    let set: BTreeSet<&str> = t.compliance.iter().map(|m| m.framework.as_str()).collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

fn list(catalog: &Catalog, args: ListArgs) -> anyhow::Result<ExitStatus> {
    let catalog = &with_imports(catalog.clone(), &args.filters.templates)?;
    let f = filter(catalog, &args.filters, None)?;
    let host = TargetFs::new("/");
    let templates: Vec<&Template> = catalog
        .templates
        .iter()
        .filter(|t| f.matches(t))
        .filter(|t| !args.applicable || t.preconditions.iter().all(|p| host.check(p).0))
        .collect();
    match args.output {
        ListOutput::Json | ListOutput::Yaml => {
            let doc = if args.output == ListOutput::Json {
                Document::Json
            } else {
                Document::Yaml
            };
            print_document(&templates, doc)?;
        }
        ListOutput::Markdown => {
            println!(
                "| Template | Category | Scope | Severity | Safe to block | Frameworks | Title |"
            );
            println!("|---|---|---|---|---|---|---|");
            for t in &templates {
                println!(
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    t.id,
                    t.category,
                    scopes(t),
                    t.severity,
                    if t.safe_to_block { "yes" } else { "no" },
                    frameworks_of(t),
                    t.title.replace('|', "\\|")
                );
            }
        }
        ListOutput::Table | ListOutput::Wide => {
            if templates.is_empty() {
                eprintln!("No templates match.");
                return Ok(ExitStatus::Success);
            }
            let mut tbl = table(&[
                "Template", "Category", "Scope", "Severity", "Block", "Controls", "Title",
            ]);
            for t in &templates {
                let controls: Vec<String> = t
                    .compliance
                    .iter()
                    .filter(|m| f.frameworks.is_empty() || f.frameworks.contains(&m.framework))
                    .map(|m| m.control.clone())
                    .collect();
                tbl.add_row(vec![
                    t.id.clone(),
                    t.category.clone(),
                    scopes(t),
                    t.severity.to_string(),
                    if t.safe_to_block {
                        "safe".into()
                    } else {
                        "audit".into()
                    },
                    controls.join(","),
                    t.title.clone(),
                ]);
            }
            tbl.pin(&["Template", "Category", "Scope"]);
            if args.output == ListOutput::Wide {
                tbl.whole();
            }
            println!("{tbl}");
        }
    }
    Ok(ExitStatus::Success)
}

fn show(catalog: &Catalog, args: ShowArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let t = catalog.get(&args.id)?;
    let Some(target) = args.target else {
        match args.output {
            ShowOutput::Json => print_document(t, Document::Json)?,
            ShowOutput::Yaml => print_document(t, Document::Yaml)?,
            ShowOutput::Markdown => print!("{}", template_markdown(t)),
        }
        return Ok(ExitStatus::Success);
    };
    // A container's paths are its own (another distribution, no merged /usr, programs the
    // host lacks): they are resolved in its root, found through the agent's inventory as
    // `recommend --container` does.
    let target = match target {
        ForTarget::Host => host_target(None),
        ForTarget::Container(name) => {
            let found = match container_targets(std::slice::from_ref(&name), false, conn)? {
                Ok(t) => t.into_iter().next(),
                Err(msg) => return Ok(super::usage(&msg, "harden show")),
            };
            match found {
                Some(t) => t,
                None => {
                    let msg = format!("no container named '{name}' on this host");
                    return Ok(super::usage(&msg, "harden show"));
                }
            }
        }
    };
    let opts = Options {
        action: Action::Audit,
        caps: None,
        guard: LockoutGuard::default(),
    };
    let out = recommend::recommend(&[t], &target, &opts);
    let Some(r) = out.recommendations.first() else {
        let why = out
            .skipped
            .first()
            .map(|s| s.reason.clone())
            .unwrap_or_default();
        super::error(&format!(
            "{} produces no policy for {}: {why}",
            t.id, target.label
        ));
        return Ok(ExitStatus::Failure);
    };
    for e in &r.evidence {
        eprintln!("# {e}");
    }
    if !r.dropped.is_empty() {
        eprintln!("# dropped (absent here): {}", r.dropped.join(", "));
    }
    match args.output {
        ShowOutput::Json => print_document(&r.policy, Document::Json)?,
        _ => print!("{}", crate::yaml::to_yaml(&r.policy)),
    }
    Ok(ExitStatus::Success)
}

fn template_markdown(t: &Template) -> String {
    let mut s = format!(
        "# {} — {}\n\nCategory: {}. Scope: {}. Severity: {}. Safe to block: {}.\n\n{}\n\nRemediation: {}\n\n## Compliance\n\n| Framework | Version | Control | Strength |\n|---|---|---|---|\n",
        t.id,
        t.title,
        t.category,
        scopes(t),
        t.severity,
        if t.safe_to_block { "yes" } else { "no" },
        t.rationale,
        t.remediation
    );
    for m in &t.compliance {
        s.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            m.framework, m.version, m.control, m.strength
        ));
    }
    s.push_str("\n## Enforcers\n\n");
    for e in &t.enforcers {
        let names: Vec<&str> = e.enforcers.iter().map(|e| e.as_str()).collect();
        s.push_str(&format!(
            "- {}: {}\n",
            e.section,
            if names.is_empty() {
                "audit only".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    s.push_str(&format!(
        "\n## Verify\n\n`{}` must raise an alert with {}\n",
        t.verify.trigger,
        t.verify
            .expect
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    // What the recipe needs on the target, or `harden verify` skips it there.
    if !t.verify.requires.is_empty() {
        s.push_str("\nThe recipe needs (verify skips the template where it is not met):\n\n");
        for p in &t.verify.requires {
            s.push_str(&format!("- {}\n", precondition_words(p)));
        }
    }
    s
}

/// A precondition as people read it (`/dev/cpu/0/msr exists`).
fn precondition_words(p: &crate::harden::precondition::Precondition) -> String {
    use crate::harden::precondition::Precondition as P;
    let code = |v: &[String]| {
        v.iter()
            .map(|x| format!("`{x}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match p {
        P::Exists(path) => format!("`{path}` exists"),
        P::AnyExists(paths) => format!("one of {} exists", code(paths)),
        P::Package(name) => format!("package `{name}` is installed"),
        P::Distro(ids) => format!("the distribution is one of {}", code(ids)),
        P::KernelMin(v) => format!("the kernel is at least {v}"),
        P::Not(inner) => format!("not: {}", precondition_words(inner)),
    }
}

fn host_target(rootfs: Option<&Path>) -> Target {
    let hostname = crate::identity::hostname();
    let (fs, label) = match rootfs {
        Some(dir) => (
            TargetFs::new(dir),
            format!("host {hostname} (root {})", dir.display()),
        ),
        None => (TargetFs::new("/"), format!("host {hostname}")),
    };
    Target {
        scope: Scope::Host,
        name: hostname,
        fs,
        label,
    }
}

/// The containers the agent knows, by name, with their init process.
fn container_targets(
    names: &[String],
    all: bool,
    conn: &AgentConn,
) -> anyhow::Result<Result<Vec<Target>, String>> {
    let items = match api::call(&conn.socket, &Request::Containers, Duration::from_secs(10))
        .context("a container target (--container, --for container=NAME) needs the agent's container inventory; for an unpacked image use recommend --rootfs DIR --container NAME")?
    {
        Response::Containers { items } => items,
        Response::Error { message, .. } => anyhow::bail!("{message}"),
        _ => anyhow::bail!("unexpected response from the agent (is it older than this knoxctl?)"),
    };
    let mut out = Vec::new();
    for name in names {
        if !items.iter().any(|i| &i.container.name == name) {
            let known: Vec<&str> = items.iter().map(|i| i.container.name.as_str()).collect();
            return Ok(Err(format!(
                "no container named '{name}' on this host (known: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )));
        }
    }
    for i in &items {
        let c = &i.container;
        if !(all || names.contains(&c.name)) {
            continue;
        }
        let Some((root, label)) = container_root(c) else {
            return Ok(Err(format!(
                "container '{}' has no known init process or root file system; is it running?",
                c.name
            )));
        };
        out.push(Target {
            scope: Scope::Container,
            fs: TargetFs::new(root),
            label: format!("container {} ({label})", c.name),
            name: c.name.clone(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Ok(out))
}

/// Where a container's files are seen from the host, and how to say so: its init
/// process's root (every mount of the container, volumes included) or, before the agent
/// knows that process, the root file system the OCI hook reported.
fn container_root(c: &crate::container::Container) -> Option<(PathBuf, String)> {
    if c.pid != 0 {
        return Some((
            PathBuf::from(format!("/proc/{}/root", c.pid)),
            format!("pid {}", c.pid),
        ));
    }
    (!c.rootfs.is_empty()).then(|| (PathBuf::from(&c.rootfs), format!("root {}", c.rootfs)))
}

/// What this host's enforcer can block: the agent's enforcer when one answers, else what
/// `--enforcer auto` would pick; each section is blockable when probe says its operations
/// are enforced.
fn enforcer_caps(conn: &AgentConn) -> EnforcerCaps {
    use crate::enforce::{Backend, Level, Op};
    let probes = crate::enforce::probe_all();
    let running = match api::call(&conn.socket, &Request::Status, Duration::from_secs(3)) {
        Ok(Response::Status { status }) => Some(status.enforcer),
        _ => None,
    };
    let chosen = probes
        .iter()
        .find(|p| {
            running
                .as_deref()
                .is_some_and(|r| r == p.backend.to_string())
        })
        .or_else(|| {
            probes
                .iter()
                .find(|p| p.usable && p.backend != Backend::MonitorOnly)
        })
        .or_else(|| probes.iter().find(|p| p.backend == Backend::MonitorOnly));
    let Some(p) = chosen else {
        return EnforcerCaps {
            backend: "none".into(),
            sections: BTreeSet::new(),
        };
    };
    let enforced = |op: Op| {
        p.coverage
            .iter()
            .any(|c| c.op == op && c.level == Level::Enforced)
    };
    let mut sections = BTreeSet::new();
    if enforced(Op::Exec) {
        sections.insert("process".to_string());
    }
    if enforced(Op::FileRead) && enforced(Op::FileWrite) {
        sections.insert("file".to_string());
    }
    if enforced(Op::Network) {
        sections.insert("network".to_string());
    }
    if enforced(Op::Capabilities) {
        sections.insert("capabilities".to_string());
    }
    EnforcerCaps {
        backend: p.backend.to_string(),
        sections,
    }
}

#[derive(serde::Serialize)]
struct RecommendDoc<'a> {
    outcomes: &'a [Outcome],
    policies: Vec<&'a serde_json::Value>,
}

fn recommend_cmd(
    catalog: &Catalog,
    args: RecommendArgs,
    conn: &AgentConn,
) -> anyhow::Result<ExitStatus> {
    let catalog = &with_imports(catalog.clone(), &args.filters.templates)?;
    let f = filter(catalog, &args.filters, args.severity_min)?;
    if args.dry_run && !args.apply {
        return Ok(super::usage(
            "--dry-run goes with --apply (without --apply nothing is changed anyway)",
            "harden recommend",
        ));
    }
    // Without a terminal nobody can be asked which policies to apply, and applying
    // everything unasked is not a default a script should get by accident.
    if args.apply && !args.yes && !args.dry_run && !interactive() {
        return Ok(super::usage(
            "--apply without a terminal needs --yes (nothing can be asked, so say that all \
             recommended policies are to be applied; or use --dry-run or --out-dir first)",
            "harden recommend",
        ));
    }
    let templates: Vec<&Template> = catalog.templates.iter().filter(|t| f.matches(t)).collect();
    let targets = if let Some(dir) = &args.rootfs {
        if !dir.is_dir() {
            return Ok(super::usage(
                &format!("--rootfs {}: not a directory", dir.display()),
                "harden recommend",
            ));
        }
        match args.containers.as_slice() {
            [] => vec![host_target(Some(dir))],
            [name] => vec![Target {
                scope: Scope::Container,
                fs: TargetFs::new(dir),
                label: format!("container {name} (root {})", dir.display()),
                name: name.clone(),
            }],
            _ => {
                return Ok(super::usage(
                    "--rootfs takes at most one --container",
                    "harden recommend",
                ));
            }
        }
    } else if !args.containers.is_empty() || args.all_containers {
        match container_targets(&args.containers, args.all_containers, conn)? {
            Ok(t) => t,
            Err(msg) => return Ok(super::usage(&msg, "harden recommend")),
        }
    } else {
        vec![host_target(None)]
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::AgentConn::DEFAULT_STATE_DIR));
    let action = match args.action {
        ActionArg::Audit => Action::Audit,
        ActionArg::Block => Action::Block,
    };
    let caps = (action == Action::Block).then(|| enforcer_caps(conn));
    let me: Vec<String> = std::env::current_exe()
        .ok()
        .map(|p| p.display().to_string())
        .into_iter()
        .collect();
    let bar = crate::output::progress_bar(targets.len() as u64);
    let mut outcomes = Vec::new();
    for t in &targets {
        bar.set_message(t.label.clone());
        let opts = Options {
            action,
            caps: caps.clone(),
            guard: LockoutGuard::for_host(&t.fs, &state_dir.display().to_string(), &me),
        };
        outcomes.push(recommend::recommend(&templates, t, &opts));
        bar.inc(1);
    }
    bar.finish_and_clear();
    if let Some(since) = &args.since {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let from = match super::alerts::parse_time(since, now) {
            Ok(t) => t,
            Err(e) => return Ok(super::usage(&format!("--since: {e}"), "harden recommend")),
        };
        replay(&mut outcomes, &state_dir, from, since)?;
    }

    // The documents to write or apply: per template, or one per target with --merge.
    let mut documents: Vec<(String, serde_json::Value)> = Vec::new();
    for (o, t) in outcomes.iter().zip(&targets) {
        if args.merge {
            documents.extend(recommend::merge(o, &templates, &t.name));
        } else {
            documents.extend(
                o.recommendations
                    .iter()
                    .map(|r| (r.policy_name.clone(), r.policy.clone())),
            );
        }
    }
    let texts: Vec<(String, String)> = documents
        .iter()
        .map(|(name, doc)| (format!("{name}.yaml"), crate::yaml::to_yaml(doc)))
        .collect();
    // Nothing leaves knoxctl unless every document is valid.
    for (file, text) in &texts {
        let r = crate::policy::validate::validate_bytes(file, text.as_bytes(), Default::default());
        if !r.valid {
            let lines: Vec<String> = r.diagnostics().map(|d| d.render(file)).collect();
            anyhow::bail!(
                "a generated policy is invalid (a bug in its template): {}",
                lines.join("; ")
            );
        }
    }

    match args.output {
        RecommendOutput::Json | RecommendOutput::Yaml => {
            let doc = RecommendDoc {
                outcomes: &outcomes,
                policies: documents.iter().map(|(_, d)| d).collect(),
            };
            print_document(
                &doc,
                if args.output == RecommendOutput::Json {
                    Document::Json
                } else {
                    Document::Yaml
                },
            )?;
        }
        RecommendOutput::Table | RecommendOutput::Wide => {
            print_outcomes(&outcomes, args.output == RecommendOutput::Wide)
        }
    }

    if let Some(dir) = &args.out_dir {
        write_files(dir, &texts)
            .with_context(|| format!("writing the policies into {}", dir.display()))?;
        eprintln!("wrote {} policies into {}", texts.len(), dir.display());
    }
    if let Some(path) = &args.report {
        let rep = report::build(&outcomes, &templates);
        let text = match path.extension().and_then(|e| e.to_str()) {
            Some("md") | Some("markdown") => report::markdown(&rep),
            Some("html") | Some("htm") => report::html(&rep),
            Some("json") => serde_json::to_string_pretty(&rep)? + "\n",
            _ => {
                return Ok(super::usage(
                    &format!(
                        "--report {}: the extension must be .md, .html or .json",
                        path.display()
                    ),
                    "harden recommend",
                ));
            }
        };
        write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing the report {}", path.display()))?;
        eprintln!("wrote the report {}", path.display());
    }
    let mut status = ExitStatus::Success;
    if args.diff {
        let policies: Vec<crate::policy::Policy> = documents
            .iter()
            .map(|(_, d)| serde_json::from_value(d.clone()))
            .collect::<Result<_, _>>()?;
        if super::policy::diff_policies(&policies, conn)? {
            status = ExitStatus::Failure;
        }
    }
    if args.apply {
        let chosen = match choose(&texts, args.yes) {
            Some(c) => c,
            None => {
                eprintln!("knoxctl: nothing applied");
                return Ok(status);
            }
        };
        if chosen.is_empty() {
            eprintln!("knoxctl: no policies to apply");
            return Ok(status);
        }
        return apply(chosen, args.dry_run, conn);
    }
    Ok(status)
}

/// The audit-first workflow: alerts the harden policies raised since `from` mean the
/// template matched real activity here, so it is not escalated to Block; the count and the
/// programs are said, to judge whether they were legitimate.
fn replay(
    outcomes: &mut [Outcome],
    state_dir: &Path,
    from: i64,
    since: &str,
) -> anyhow::Result<()> {
    let store = crate::alert::store::Store::open_readonly(state_dir).with_context(|| {
        format!(
            "--since replays the alert store in {}; is this the agent's --state-dir?",
            state_dir.display()
        )
    })?;
    let q = crate::alert::store::Query {
        since: Some(from),
        ..Default::default()
    };
    let alerts = store.query(&q).context("reading the alert store")?;
    for o in outcomes.iter_mut() {
        for r in &mut o.recommendations {
            let hits: Vec<&crate::alert::Alert> = alerts
                .iter()
                .filter(|a| a.policy_name == r.policy_name)
                .collect();
            if hits.is_empty() {
                r.evidence
                    .push(format!("no alerts from {} since {since}", r.policy_name));
                continue;
            }
            let programs: BTreeSet<&str> = hits
                .iter()
                .map(|a| {
                    if a.process_name.is_empty() {
                        a.source.as_str()
                    } else {
                        a.process_name.as_str()
                    }
                })
                .collect();
            let what = format!(
                "{} alerts from {} since {since} (by {})",
                hits.len(),
                r.policy_name,
                programs.into_iter().collect::<Vec<_>>().join(", ")
            );
            if r.action == Action::Block {
                r.action = Action::Audit;
                r.demoted = Some(format!("would have blocked activity seen here: {what}"));
                r.policy["spec"]["action"] = serde_json::json!("Audit");
            } else {
                r.evidence.push(what);
            }
        }
    }
    Ok(())
}

fn print_outcomes(outcomes: &[Outcome], wide: bool) {
    let mut tbl = table(&["Target", "Template", "Result", "Severity", "Evidence"]);
    for o in outcomes {
        for r in &o.recommendations {
            let mut ev = r.evidence.join("; ");
            if let Some(d) = &r.demoted {
                ev = format!("{ev}; Audit: {d}");
            }
            if !r.dropped.is_empty() {
                ev = format!("{ev}; dropped {}", r.dropped.join(","));
            }
            tbl.add_row(vec![
                o.target.clone(),
                r.template.clone(),
                r.action.as_str().into(),
                r.severity.to_string(),
                ev,
            ]);
        }
        for s in &o.skipped {
            tbl.add_row(vec![
                o.target.clone(),
                s.template.clone(),
                "skipped".into(),
                "-".into(),
                s.reason.clone(),
            ]);
        }
    }
    tbl.pin(&["Template", "Result"]);
    if wide {
        tbl.whole();
    }
    println!("{tbl}");
    let n: usize = outcomes.iter().map(|o| o.recommendations.len()).sum();
    let s: usize = outcomes.iter().map(|o| o.skipped.len()).sum();
    eprintln!("{n} recommended, {s} skipped");
}

/// Whether a person can be asked: the prompt reads stdin and draws on stderr.
fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// On a terminal without --yes: which policies to apply (all preselected). None when the
/// user cancels. Without a terminal, only --dry-run or --yes get here (checked up front).
fn choose(texts: &[(String, String)], yes: bool) -> Option<Vec<(String, String)>> {
    if yes || !interactive() {
        return Some(texts.to_vec());
    }
    let names: Vec<&str> = texts
        .iter()
        .map(|(f, _)| f.trim_end_matches(".yaml"))
        .collect();
    let picked = dialoguer::MultiSelect::new()
        .with_prompt("Policies to apply (space toggles, enter applies)")
        .items(&names)
        .defaults(&vec![true; names.len()])
        .interact_opt()
        .ok()??;
    Some(picked.into_iter().map(|i| texts[i].clone()).collect())
}

fn apply(
    texts: Vec<(String, String)>,
    dry_run: bool,
    conn: &AgentConn,
) -> anyhow::Result<ExitStatus> {
    let files: Vec<SourceFile> = texts
        .into_iter()
        .map(|(path, content)| SourceFile { path, content })
        .collect();
    let request = if dry_run {
        Request::DryRunApply {
            files,
            skip_other_kinds: false,
        }
    } else {
        Request::Apply {
            files,
            skip_other_kinds: false,
        }
    };
    let response = api::call(&conn.socket, &request, Duration::from_secs(60))
        .context("--apply needs the running agent (knoxctl onboard vm)")?;
    match response {
        Response::Applied { results, warnings } => {
            for w in warnings {
                eprintln!("{w}");
            }
            for r in results {
                if dry_run {
                    println!("{} {} (dry run)", r.id, r.outcome);
                } else {
                    println!("{} {}: {}", r.id, r.outcome, r.effect);
                }
            }
            Ok(ExitStatus::Success)
        }
        Response::Invalid { diagnostics } => {
            for d in diagnostics {
                eprintln!("{d}");
            }
            super::error("the agent refused the policies; nothing was applied");
            Ok(ExitStatus::Failure)
        }
        Response::Error { message, .. } => anyhow::bail!("{message}"),
        other => anyhow::bail!("unexpected response from the agent: {other:?}"),
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
/// so the file is either the old one or the whole new one.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.knoxctl-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
}

/// Writes the policies into `dir` as one change: a staging directory next to it gets the
/// entries `dir` already holds (hard links, so nothing is copied) and the new files, and
/// then takes `dir`'s place in one rename (an exchange when `dir` exists). Readers see the
/// old set or the new one, never a mix, and any error leaves `dir` as it was. The parent
/// must therefore be writable; `dir` is created (with its parents) when missing.
fn write_files(dir: &Path, texts: &[(String, String)]) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    let name = dir
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidInput,
                "it must name a directory (not . or ..), since it is replaced as a whole",
            )
        })?
        .to_os_string();
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    // Through symlinks to the directory the rename acts on, so a linked out-dir stays a
    // link to the new contents.
    let (parent, name) = match std::fs::canonicalize(dir) {
        Ok(real) => match (real.parent(), real.file_name()) {
            (Some(p), Some(n)) => (p.to_path_buf(), n.to_os_string()),
            _ => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    "the root directory cannot be replaced",
                ));
            }
        },
        Err(e) if e.kind() == ErrorKind::NotFound => (std::fs::canonicalize(parent)?, name),
        Err(e) => return Err(e),
    };
    let target = parent.join(&name);
    let old = match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_dir() => Some(m),
        Ok(_) => {
            return Err(Error::new(
                ErrorKind::AlreadyExists,
                "it exists and is not a directory",
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let staging = Staging(parent.join(format!(
        ".{}.knoxctl-{}",
        name.to_string_lossy(),
        std::process::id()
    )));
    let _ = std::fs::remove_dir_all(&staging.0);
    std::fs::create_dir(&staging.0)?;
    let new_names: BTreeSet<&str> = texts.iter().map(|(f, _)| f.as_str()).collect();
    if let Some(meta) = &old {
        for entry in std::fs::read_dir(&target)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let replaced = new_names.contains(file_name.to_string_lossy().as_ref());
            if replaced && !entry.file_type()?.is_file() {
                return Err(Error::new(
                    ErrorKind::AlreadyExists,
                    format!(
                        "{} is not a regular file; a policy would replace it",
                        entry.path().display()
                    ),
                ));
            }
            if !replaced {
                link_tree(&entry.path(), &staging.0.join(&file_name))?;
            }
        }
        use std::os::unix::fs::MetadataExt;
        std::fs::set_permissions(&staging.0, meta.permissions())?;
        // Only root can give the directory to someone else; anyone else already owns
        // what they create, so a refusal there changes nothing.
        let _ = std::os::unix::fs::chown(&staging.0, Some(meta.uid()), Some(meta.gid()));
    }
    for (file, text) in texts {
        let mut f = std::fs::File::create(staging.0.join(file))?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        f.sync_all()?;
    }
    std::fs::File::open(&staging.0)?.sync_all()?;
    if old.is_some() {
        exchange(&staging.0, &target)?;
        // Staging now holds the previous contents; its drop removes them.
    } else {
        std::fs::rename(&staging.0, &target)?;
    }
    std::fs::File::open(&parent)?.sync_all()?;
    Ok(())
}

/// A directory removed (with what it holds) when dropped: the staging directory on an
/// error, the previous contents after the exchange.
struct Staging(PathBuf);

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Recreates `src` at `dst` with hard links (directories are made, everything else
/// linked; a file that cannot be linked, e.g. on another mount, is copied).
fn link_tree(src: &Path, dst: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(src)?;
    if meta.is_dir() {
        std::fs::create_dir(dst)?;
        for entry in std::fs::read_dir(src)? {
            let entry = entry?;
            link_tree(&entry.path(), &dst.join(entry.file_name()))?;
        }
        return std::fs::set_permissions(dst, meta.permissions());
    }
    match std::fs::hard_link(src, dst) {
        Ok(()) => Ok(()),
        Err(_) if meta.file_type().is_symlink() => {
            std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)
        }
        Err(_) if meta.is_file() => std::fs::copy(src, dst).map(|_| ()),
        Err(e) => Err(e),
    }
}

/// Swaps two directories in one step (renameat2 RENAME_EXCHANGE). Where the file system
/// cannot (EINVAL), `to` is moved aside and `from` renamed in its place, and moved back
/// if that fails: `to` is briefly absent, but never half replaced.
fn exchange(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
    };
    let (cfrom, cto) = (c(from)?, c(to)?);
    // SAFETY: both are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            cfrom.as_ptr(),
            libc::AT_FDCWD,
            cto.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if !matches!(err.raw_os_error(), Some(libc::EINVAL) | Some(libc::ENOSYS)) {
        return Err(err);
    }
    exchange_by_renames(from, to)
}

/// The fallback of [`exchange`]: `to` moved aside to `FROM-old`, `from` renamed in its
/// place, the old contents moved to `from`.
fn exchange_by_renames(from: &Path, to: &Path) -> std::io::Result<()> {
    let mut aside = from.as_os_str().to_os_string();
    aside.push("-old");
    let aside = PathBuf::from(aside);
    // Left by an earlier run killed between the renames (the name carries a pid, so it is
    // a dead run's that had this pid; no live run owns it): rename() cannot replace a
    // non-empty directory, so it goes first.
    remove_aside(&aside)?;
    std::fs::rename(to, &aside)?;
    if let Err(e) = std::fs::rename(from, to) {
        std::fs::rename(&aside, to)?;
        return Err(e);
    }
    std::fs::rename(&aside, from)
}

/// Removes a left-over `-old` directory (or file) of the exchange fallback.
fn remove_aside(aside: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(aside) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(aside),
        Ok(_) => std::fs::remove_file(aside),
    }
}

fn verify(catalog: &Catalog, args: VerifyArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let scope = if args.container.is_some() {
        Scope::Container
    } else {
        Scope::Host
    };
    let templates: Vec<&Template> = if args.ids.is_empty() {
        catalog
            .templates
            .iter()
            .filter(|t| t.scope.contains(&scope))
            .collect()
    } else {
        let mut v = Vec::new();
        for id in &args.ids {
            let t = catalog.get(id)?;
            // recommend() passes over a template of the other scope in silence; one named
            // here would then be neither verified nor said to be skipped.
            if !t.scope.contains(&scope) {
                let msg = match scope {
                    Scope::Host => {
                        format!("{id} is a container template; verify it with --container NAME")
                    }
                    Scope::Container => {
                        format!("{id} is a host template; verify it without --container")
                    }
                };
                return Ok(super::usage(&msg, "harden verify"));
            }
            v.push(t);
        }
        v
    };
    let state_dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(super::AgentConn::DEFAULT_STATE_DIR));
    // Fail early and clearly when there is no agent to verify against.
    let status = match api::call(&conn.socket, &Request::Status, Duration::from_secs(5)) {
        Ok(Response::Status { status }) => status,
        Ok(_) => anyhow::bail!("unexpected response from the agent"),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context("harden verify needs the running agent (knoxctl onboard vm)"));
        }
    };
    let (target, place) = match &args.container {
        None => {
            // The policies must select the host as the agent names it.
            let mut host = host_target(None);
            if !status.hostname.is_empty() {
                host.name = status.hostname.clone();
            }
            (host, Place::Host)
        }
        Some(name) => {
            let c = match inventory_container(name, conn)? {
                Ok(c) => c,
                Err(msg) => return Ok(super::usage(&msg, "harden verify")),
            };
            let Some((root, label)) = container_root(&c) else {
                return Ok(super::usage(
                    &format!(
                        "container '{name}' has no known init process or root file system; is it running?"
                    ),
                    "harden verify",
                ));
            };
            let runner = ContainerRunner::for_container(&c);
            match &runner {
                Some(r) => eprintln!(
                    "knoxctl: note: triggers run in container {name} with {}",
                    r.describe()
                ),
                None => eprintln!(
                    "knoxctl: note: no way to run a command in container {name} here (no {} \
                     CLI, no runc state, no nsenter): every template is skipped",
                    c.runtime
                ),
            }
            let target = Target {
                scope: Scope::Container,
                fs: TargetFs::new(root),
                label: format!("container {} ({label})", c.name),
                name: c.name.clone(),
            };
            (
                target,
                Place::Container {
                    name: c.name.clone(),
                    runner,
                },
            )
        }
    };
    let opts = Options {
        action: Action::Audit,
        caps: None,
        guard: LockoutGuard::default(),
    };
    let out = recommend::recommend(&templates, &target, &opts);
    let (mut pass, mut fail, mut fail_claimed, mut skip) = (0, 0, 0, 0);
    for s in &out.skipped {
        println!("SKIP {}: {}", s.template, s.reason);
        skip += 1;
    }
    let run = VerifyRun {
        state_dir: &state_dir,
        conn,
        timeout: Duration::from_secs(args.timeout),
        fs: &target.fs,
        place: &place,
    };
    for r in &out.recommendations {
        let Some(t) = templates.iter().find(|t| t.id == r.template) else {
            continue;
        };
        if let Some(why) = t
            .verify
            .requires
            .iter()
            .map(|p| target.fs.check(p))
            .find_map(|(ok, why)| (!ok).then_some(why))
        {
            println!(
                "SKIP {}: its verify recipe needs what is not here: {why}",
                t.id
            );
            skip += 1;
            continue;
        }
        if let Place::Container { runner, .. } = &place {
            let missing = match runner {
                None => Some("a way to run a command in the container".to_string()),
                Some(_) => missing_programs(&t.verify.trigger, &target.fs),
            };
            if let Some(what) = missing {
                println!(
                    "SKIP {}: its verify trigger needs {what}, absent in the container",
                    t.id
                );
                skip += 1;
                continue;
            }
        }
        match run.one(t, r) {
            Ok(()) => {
                println!("PASS {}", t.id);
                pass += 1;
            }
            Err(why) => {
                // Whether the running enforcer is one the template says can enforce
                // every rule section it emits: such a failure is a bug, the others may
                // be what that enforcer cannot see.
                let (claimed, note) = claim(&r.policy, &status.enforcer);
                println!("FAIL {}: {why} ({note})", t.id);
                fail += 1;
                if claimed {
                    fail_claimed += 1;
                }
            }
        }
    }
    let what = match &place {
        Place::Host => "harden verify".to_string(),
        Place::Container { name, .. } => format!("harden verify (container {name})"),
    };
    println!(
        "{what}: {pass} passed, {fail} failed ({fail_claimed} that {} claims to enforce), {skip} skipped",
        status.enforcer
    );
    // A failure the enforcer does not claim is a limitation the line says, not a bug.
    Ok(ExitStatus::success_if(fail_claimed == 0))
}

/// Where a verify trigger runs and whose alerts count.
enum Place {
    Host,
    Container {
        name: String,
        /// None: nothing here can run a command in it.
        runner: Option<ContainerRunner>,
    },
}

/// The container `name` from the agent's inventory; Err: the usage message (no such
/// container, with the ones it knows).
fn inventory_container(
    name: &str,
    conn: &AgentConn,
) -> anyhow::Result<Result<crate::container::Container, String>> {
    let items = match api::call(&conn.socket, &Request::Containers, Duration::from_secs(10))
        .context("harden verify --container needs the agent's container inventory")?
    {
        Response::Containers { items } => items,
        Response::Error { message, .. } => anyhow::bail!("{message}"),
        _ => anyhow::bail!("unexpected response from the agent (is it older than this knoxctl?)"),
    };
    let known: Vec<String> = items.iter().map(|i| i.container.name.clone()).collect();
    match items.into_iter().find(|i| i.container.name == name) {
        Some(i) => Ok(Ok(i.container)),
        None => Ok(Err(format!(
            "no container named '{name}' on this host (known: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))),
    }
}

/// How a command is run inside a container: its runtime's own exec where that runtime's
/// CLI is here (the process gets the container's namespaces, cgroup, capabilities and
/// seccomp profile as the runtime gives them), else nsenter into the init process's
/// namespaces after joining its cgroup (enforcers that key containers by cgroup see it
/// as the container's).
#[derive(Debug)]
enum ContainerRunner {
    /// `podman|docker|runc exec ID SHELL -c TRIGGER`.
    Exec { program: &'static str, id: String },
    /// `nsenter -t PID -a SHELL -c TRIGGER`, moved into `cgroup_procs` first.
    Nsenter {
        pid: u32,
        cgroup_procs: Option<PathBuf>,
    },
}

impl ContainerRunner {
    fn for_container(c: &crate::container::Container) -> Option<ContainerRunner> {
        let on_path = |p: &str| {
            std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()))
        };
        for program in ["podman", "docker"] {
            if c.runtime == program && on_path(program) {
                return Some(ContainerRunner::Exec {
                    program,
                    id: c.id.clone(),
                });
            }
        }
        // A container run by runc directly (or under its hook) is in runc's state.
        if on_path("runc")
            && std::process::Command::new("runc")
                .args(["state", &c.id])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            return Some(ContainerRunner::Exec {
                program: "runc",
                id: c.id.clone(),
            });
        }
        if c.pid != 0 && on_path("nsenter") {
            let cgroup_procs = crate::container::cgroup2_mount()
                .filter(|_| !c.cgroup_path.is_empty())
                .map(|m| {
                    m.join(c.cgroup_path.trim_start_matches('/'))
                        .join("cgroup.procs")
                });
            return Some(ContainerRunner::Nsenter {
                pid: c.pid,
                cgroup_procs,
            });
        }
        None
    }

    fn describe(&self) -> String {
        match self {
            ContainerRunner::Exec { program, .. } => format!("{program} exec"),
            ContainerRunner::Nsenter { pid, cgroup_procs } => format!(
                "nsenter into pid {pid}'s namespaces{}",
                if cgroup_procs.is_some() {
                    " and its cgroup"
                } else {
                    ""
                }
            ),
        }
    }

    fn command(&self, shell: &str, trigger: &str) -> std::process::Command {
        use std::process::Command;
        match self {
            ContainerRunner::Exec { program, id } => {
                let mut c = Command::new(program);
                c.args(["exec", id, shell, "-c", trigger]);
                c
            }
            ContainerRunner::Nsenter { pid, cgroup_procs } => {
                let mut c = Command::new("nsenter");
                c.args(["-t", &pid.to_string(), "-a", shell, "-c", trigger]);
                if let Some(procs) = cgroup_procs.clone() {
                    use std::os::unix::process::CommandExt;
                    let path = std::ffi::CString::new(procs.as_os_str().as_encoded_bytes())
                        .unwrap_or_default();
                    // SAFETY: between fork and exec only open/write/close, which are
                    // async-signal-safe; "0" moves the writing process itself.
                    unsafe {
                        c.pre_exec(move || {
                            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                            if fd < 0 {
                                return Err(std::io::Error::last_os_error());
                            }
                            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                            let err = std::io::Error::last_os_error();
                            libc::close(fd);
                            if n != 1 {
                                return Err(err);
                            }
                            Ok(())
                        });
                    }
                }
                c
            }
        }
    }
}

/// The shell a container runs a trigger with: `sh`, or `bash` in an image that has bash
/// and no `sh` (an image built from a few binaries); None when it has neither.
fn container_shell(fs: &TargetFs) -> Option<&'static str> {
    ["sh", "bash"].into_iter().find(|sh| {
        ["/usr/local/bin", "/usr/bin", "/bin"]
            .iter()
            .any(|d| fs.exists(&format!("{d}/{sh}")))
    })
}

/// Shell words that run no program of the target.
const SHELL_BUILTINS: &[&str] = &[
    "[", "]", ":", "true", "false", "echo", "printf", "cd", "test", "exit", "set", "export",
    "read", "!", "{", "}", "(", ")", "for", "do", "done", "if", "then", "else", "fi", "while",
];

/// The programs a trigger runs that `fs` does not have, said as `a`, `a or b` (where the
/// trigger tries alternatives with `||`) and joined with `and`; None when it has them all.
/// A program the trigger itself makes first (`cp /bin/true /tmp/x && /tmp/x`) is not
/// looked for. Commands in `||` chains need one alternative; `;` and `&&` need each.
fn missing_programs(trigger: &str, fs: &TargetFs) -> Option<String> {
    let has = |prog: &str| -> bool {
        if prog.starts_with('/') {
            return fs.exists(prog);
        }
        [
            "/usr/local/sbin",
            "/usr/local/bin",
            "/usr/sbin",
            "/usr/bin",
            "/sbin",
            "/bin",
        ]
        .iter()
        .any(|d| fs.exists(&format!("{d}/{prog}")))
    };
    let mut missing: Vec<String> = Vec::new();
    if container_shell(fs).is_none() {
        missing.push("sh".into());
    }
    // Quoted text is an argument (a program's own script, `python3 -c '...; ...'`):
    // its separators are not the shell's.
    let mut unquoted = String::with_capacity(trigger.len());
    let mut quote = None;
    for ch in trigger.chars() {
        match (quote, ch) {
            (None, '\'' | '"') => {
                quote = Some(ch);
                unquoted.push('Q');
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, c) => unquoted.push(c),
        }
    }
    let mut made: Vec<&str> = Vec::new();
    for step in unquoted.split(';').flat_map(|s| s.split("&&")) {
        let mut alternatives: Vec<&str> = Vec::new();
        let mut any = false;
        for alt in step.split("||") {
            let words: Vec<&str> = alt
                .split_whitespace()
                .skip_while(|w| matches!(*w, "{" | "(" | "!"))
                .collect();
            let Some(first) = words.first().copied() else {
                continue;
            };
            let first = first.trim_start_matches(['{', '(']);
            if first.is_empty()
                || SHELL_BUILTINS.contains(&first)
                || first.contains('=')
                || made.contains(&first)
                || has(first)
            {
                any = true;
            } else {
                alternatives.push(first);
            }
            made.extend(words.iter().skip(1).copied());
        }
        if !any && !alternatives.is_empty() {
            missing.push(alternatives.join(" or "));
        }
    }
    missing.dedup();
    (!missing.is_empty()).then(|| missing.join(" and "))
}

/// Whether `enforcer` can enforce every rule section of `policy` (per
/// [`crate::harden::catalog::section_enforcers`]), and that said in words. fanotify's
/// permission events are refused by /proc and /sys (src/enforce/fanotify/plan.rs skips
/// them), so a file section whose every rule is there is not one it claims.
fn claim(policy: &serde_json::Value, enforcer: &str) -> (bool, String) {
    let sections: Vec<&str> = ["process", "file", "network", "capabilities", "syscalls"]
        .into_iter()
        .filter(|s| policy["spec"].get(*s).is_some())
        .collect();
    let pseudo_only = |section: &serde_json::Value| -> bool {
        let paths: Vec<&str> = ["matchPaths", "matchDirectories", "matchPatterns"]
            .iter()
            .filter_map(|k| section.get(*k)?.as_array())
            .flatten()
            .filter_map(|r| {
                ["path", "dir", "pattern"]
                    .iter()
                    .find_map(|f| r.get(*f)?.as_str())
            })
            .collect();
        !paths.is_empty()
            && paths
                .iter()
                .all(|p| p.starts_with("/proc/") || p.starts_with("/sys/"))
    };
    let not: Vec<&str> = sections
        .iter()
        .copied()
        .filter(|s| {
            !crate::harden::catalog::section_enforcers(s)
                .iter()
                .any(|e| e.as_str() == enforcer)
        })
        .collect();
    if enforcer == "fanotify" && not.is_empty() && pseudo_only(&policy["spec"]["file"]) {
        return (
            false,
            "fanotify does not enforce its file rules on /proc and /sys (they refuse permission events)"
                .to_string(),
        );
    }
    if not.is_empty() {
        (
            true,
            format!("{enforcer} enforces its {} rules", sections.join(", ")),
        )
    } else {
        (
            false,
            format!("{enforcer} does not enforce its {} rules", not.join(", ")),
        )
    }
}

/// What one verify run shares across templates.
struct VerifyRun<'a> {
    state_dir: &'a Path,
    conn: &'a AgentConn,
    timeout: Duration,
    /// The target's root: a container's Resource is accepted as it resolves there.
    fs: &'a TargetFs,
    place: &'a Place,
}

impl VerifyRun<'_> {
    /// Applies the recommendation's policy, runs the trigger where the target is, waits
    /// for the alert, and removes the policy again (whatever happened, unless it was
    /// applied before).
    fn one(&self, t: &Template, r: &recommend::Recommendation) -> Result<(), String> {
        let id = match self.place {
            Place::Host => format!("kubearmorhostpolicy/{}", r.policy_name),
            Place::Container { .. } => format!(
                "kubearmorpolicy/{}/{}",
                crate::policy::CONTAINER_NAMESPACE,
                r.policy_name
            ),
        };
        let socket = &self.conn.socket;
        let was_applied = matches!(
            api::call(
                socket,
                &Request::Get { name: id.clone() },
                Duration::from_secs(10)
            ),
            Ok(Response::Policy { .. })
        );
        let text = crate::yaml::to_yaml(&r.policy);
        let files = vec![SourceFile {
            path: r.file.clone(),
            content: text,
        }];
        let applied = api::call(
            socket,
            &Request::Apply {
                files,
                skip_other_kinds: false,
            },
            Duration::from_secs(60),
        );
        let result = match applied {
            Ok(Response::Applied { .. }) => self.trigger_and_wait(t, r),
            Ok(other) => Err(format!("apply failed: {other:?}")),
            Err(e) => Err(format!("apply failed: {e}")),
        };
        if !was_applied {
            let deleted = api::call(
                socket,
                &Request::Delete {
                    names: vec![id.clone()],
                    files: Vec::new(),
                    all: false,
                },
                Duration::from_secs(30),
            );
            // A policy left behind would keep auditing; say so loudly.
            if !matches!(deleted, Ok(Response::Deleted { .. })) {
                super::error(&format!(
                    "could not remove {id} after verifying {}: {deleted:?}; remove it with `knoxctl policy delete {}`",
                    t.id, r.policy_name
                ));
            }
        }
        result
    }

    fn trigger_and_wait(&self, t: &Template, r: &recommend::Recommendation) -> Result<(), String> {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
            - 1;
        let mut cmd = match self.place {
            Place::Host => {
                let mut c = std::process::Command::new("sh");
                c.args(["-c", &t.verify.trigger]);
                c
            }
            Place::Container { runner, .. } => match runner {
                Some(runner) => {
                    runner.command(container_shell(self.fs).unwrap_or("sh"), &t.verify.trigger)
                }
                None => return Err("no way to run a command in the container".into()),
            },
        };
        let ran = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if let Err(e) = ran {
            return Err(format!("could not run the trigger: {e}"));
        }
        self.wait_alert(t, &r.policy_name, since)
    }

    /// Whether alert field `key` carries what the template expects. In a container a
    /// Resource is accepted under the names it has there (`/usr/bin/su` is `/bin/su`
    /// where /usr is not merged, and the kernel reports what a link resolves to).
    fn field_ok(&self, key: &str, want: &str, got: &str) -> bool {
        if got == want {
            return true;
        }
        if key != "Resource" || matches!(self.place, Place::Host) {
            return false;
        }
        let mut names: Vec<String> = vec![want.to_string()];
        names.extend(recommend::usr_twin(want));
        let resolved: Vec<String> = names.iter().filter_map(|n| self.fs.resolve(n)).collect();
        names.iter().chain(&resolved).any(|n| n == got)
    }

    fn wait_alert(&self, t: &Template, policy: &str, since: i64) -> Result<(), String> {
        let container = match self.place {
            Place::Host => None,
            Place::Container { name, .. } => Some(name.as_str()),
        };
        let deadline = std::time::Instant::now() + self.timeout;
        loop {
            let store = crate::alert::store::Store::open_readonly(self.state_dir)
                .map_err(|e| format!("alert store: {e}"))?;
            let q = crate::alert::store::Query {
                since: Some(since),
                ..Default::default()
            };
            let alerts = store.query(&q).map_err(|e| format!("alert store: {e}"))?;
            let mut seen = Vec::new();
            for a in alerts.iter().filter(|a| a.policy_name == policy) {
                let v = serde_json::to_value(a).unwrap_or_default();
                let fields_ok = t.verify.expect.iter().all(|(k, want)| {
                    v.get(k)
                        .and_then(|x| x.as_str())
                        .is_some_and(|got| self.field_ok(k, want, got))
                });
                let container_ok = container.is_none_or(|c| a.container_name == c);
                if fields_ok && container_ok {
                    return Ok(());
                }
                seen.push(match container {
                    Some(_) => format!(
                        "{} {} in container '{}'",
                        a.operation, a.resource, a.container_name
                    ),
                    None => format!("{} {}", a.operation, a.resource),
                });
            }
            if std::time::Instant::now() >= deadline {
                return Err(if seen.is_empty() {
                    format!("no alert from {policy} within {} s", self.timeout.as_secs())
                } else {
                    seen.dedup();
                    format!(
                        "alerts from {policy} did not carry the expected fields{}: {}",
                        container
                            .map(|c| format!(" and ContainerName {c}"))
                            .unwrap_or_default(),
                        seen.join(", ")
                    )
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("knoxctl-outdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn texts(content: &str) -> Vec<(String, String)> {
        ["harden-a.yaml", "harden-b.yaml"]
            .iter()
            .map(|f| (f.to_string(), content.to_string()))
            .collect()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn out_dir_is_created_or_replaced_whole_keeping_other_entries() {
        let s = scratch("replace");
        let out = s.join("deep/out");
        write_files(&out, &texts("one")).unwrap();
        assert_eq!(names(&out), ["harden-a.yaml", "harden-b.yaml"]);
        std::fs::write(out.join("keep.txt"), "mine").unwrap();
        std::fs::create_dir(out.join("sub")).unwrap();
        std::fs::write(out.join("sub/x"), "x").unwrap();
        let inode = std::fs::metadata(out.join("keep.txt")).unwrap().ino();
        write_files(&out, &texts("two")).unwrap();
        assert_eq!(
            names(&out),
            ["harden-a.yaml", "harden-b.yaml", "keep.txt", "sub"]
        );
        assert_eq!(
            std::fs::read_to_string(out.join("harden-b.yaml")).unwrap(),
            "two"
        );
        assert_eq!(std::fs::read_to_string(out.join("sub/x")).unwrap(), "x");
        // Carried over by link, not copied.
        assert_eq!(
            std::fs::metadata(out.join("keep.txt")).unwrap().ino(),
            inode
        );
        // Nothing of the staging or the previous set is left next to it.
        assert_eq!(names(&s.join("deep")), ["out"]);
        // A link to the out-dir stays a link, to the new contents.
        let link = s.join("link");
        std::os::unix::fs::symlink(&out, &link).unwrap();
        write_files(&link, &texts("three")).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(out.join("harden-a.yaml")).unwrap(),
            "three"
        );
        let _ = std::fs::remove_dir_all(&s);
    }

    #[test]
    fn the_rename_fallback_clears_a_left_over_old_directory() {
        let s = scratch("aside");
        let (from, to) = (s.join(".out.knoxctl-1"), s.join("out"));
        for (d, f) in [(&from, "new"), (&to, "old")] {
            std::fs::create_dir(d).unwrap();
            std::fs::write(d.join("f"), f).unwrap();
        }
        // A killed run's left-over, not empty: rename() alone would fail (ENOTEMPTY).
        let aside = s.join(".out.knoxctl-1-old");
        std::fs::create_dir_all(aside.join("sub")).unwrap();
        std::fs::write(aside.join("sub/x"), "stale").unwrap();
        exchange_by_renames(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("f")).unwrap(), "new");
        assert_eq!(std::fs::read_to_string(from.join("f")).unwrap(), "old");
        assert!(!aside.exists());
        let _ = std::fs::remove_dir_all(&s);
    }

    #[test]
    fn a_failed_out_dir_write_leaves_the_previous_contents() {
        let s = scratch("fail");
        let out = s.join("out");
        write_files(&out, &texts("old")).unwrap();
        // A directory where a policy file goes: found while staging (other entries may
        // already be linked into the staging directory by then).
        std::fs::remove_file(out.join("harden-b.yaml")).unwrap();
        std::fs::create_dir(out.join("harden-b.yaml")).unwrap();
        std::fs::write(out.join("a-first.txt"), "mine").unwrap();
        let err = write_files(&out, &texts("new")).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
        assert_eq!(
            names(&out),
            ["a-first.txt", "harden-a.yaml", "harden-b.yaml"]
        );
        assert!(out.join("harden-b.yaml").is_dir());
        assert_eq!(
            std::fs::read_to_string(out.join("harden-a.yaml")).unwrap(),
            "old"
        );
        assert_eq!(names(&s), ["out"], "staging left behind");
        for bad in [Path::new("."), Path::new("..")] {
            assert!(write_files(bad, &texts("x")).is_err());
        }
        let _ = std::fs::remove_dir_all(&s);
    }

    #[test]
    fn a_trigger_needs_the_programs_it_runs_unless_it_makes_them() {
        let s = scratch("trigger");
        for f in ["bin/busybox", "usr/bin/cat"] {
            std::fs::create_dir_all(s.join(f).parent().unwrap()).unwrap();
            std::fs::write(s.join(f), "").unwrap();
        }
        std::os::unix::fs::symlink("busybox", s.join("bin/sh")).unwrap();
        let fs = TargetFs::new(&s);
        let missing = |t: &str| missing_programs(t, &fs);
        assert_eq!(missing("cat /etc/shadow > /dev/null"), None);
        assert_eq!(
            missing("cp /bin/true /tmp/x && /tmp/x; rm -f /tmp/x"),
            Some("cp and rm".into())
        );
        // One alternative of an || chain is enough; builtins and keywords need nothing.
        assert_eq!(missing("zypper --version || cat /x; true"), None);
        assert_eq!(
            missing("ss -t || netstat -t; true"),
            Some("ss or netstat".into())
        );
        assert_eq!(
            missing("for f in /a/*; do : >> $f; done 2> /dev/null; [ -e /x ] || { echo; }"),
            None
        );
        // A quoted script is an argument: its `;` splits nothing.
        assert_eq!(
            missing("python3 -c 'import socket; socket.socket()'"),
            Some("python3".into())
        );
        // No sh (nor bash): said first.
        std::fs::remove_file(s.join("bin/sh")).unwrap();
        assert_eq!(missing("cat /x"), Some("sh".into()));
        std::fs::write(s.join("usr/bin/bash"), "").unwrap();
        assert_eq!(container_shell(&fs), Some("bash"));
        let _ = std::fs::remove_dir_all(&s);
    }

    #[test]
    fn a_verify_failure_says_whether_the_enforcer_claims_the_template() {
        let process = serde_json::json!({"spec": {"process": {"matchPaths": []}}});
        assert_eq!(
            claim(&process, "bpf-lsm"),
            (true, "bpf-lsm enforces its process rules".to_string())
        );
        let mixed = serde_json::json!({"spec": {"file": {}, "syscalls": {}}});
        assert_eq!(
            claim(&mixed, "bpf-lsm"),
            (
                false,
                "bpf-lsm does not enforce its syscalls rules".to_string()
            )
        );
        let net = serde_json::json!({"spec": {"network": {}}});
        assert!(!claim(&net, "fanotify").0);
        // fanotify cannot see /proc and /sys; BPF-LSM can.
        let proc = serde_json::json!({"spec": {"file": {"matchPaths": [
            {"path": "/proc/sys/kernel/core_pattern", "readOnly": true}]}}});
        assert!(!claim(&proc, "fanotify").0);
        assert!(claim(&proc, "bpf-lsm").0);
        let mixed = serde_json::json!({"spec": {"file": {"matchPaths": [
            {"path": "/proc/sys/kernel/core_pattern"}, {"path": "/etc/passwd"}]}}});
        assert!(claim(&mixed, "fanotify").0);
    }
}
