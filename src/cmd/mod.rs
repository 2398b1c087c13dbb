//! The command tree: argument parsing for every subcommand and dispatch to its file.
//! Subcommands parse and print; the work happens in the domain modules.

pub mod agent;
pub mod alerts;
pub mod assets;
pub mod completion;
pub mod containers;
mod exit;
pub mod harden;
pub mod logs;
pub mod oci_hook;
pub mod offboard;
pub mod onboard;
pub mod pending;
pub mod policy;
pub mod probe;
pub mod sysdump;
mod values;
pub mod version;

use crate::agent::config::EnforcerChoice;
use crate::output::Document;
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};
use std::path::PathBuf;
use std::process::ExitCode;

pub use exit::{ExitStatus, clap_error, error, report, usage};

const AFTER_HELP: &str = "\
Exit status: 0 success; 1 a check or operation failed (invalid policy, denied, agent error); \
2 usage error (bad flags or arguments).";

#[derive(Parser, Debug)]
#[command(
    name = "knoxctl",
    version,
    about = "Runtime protection for Linux VMs: validate, apply and enforce KubeArmor policies",
    long_about = "knoxctl protects a Linux host and its containers at runtime. It validates and \
applies KubeArmor policies (KubeArmorHostPolicy for the host, KubeArmorPolicy for containers), \
enforces them with an embedded agent (BPF-LSM, else AppArmor, else fanotify: the strongest \
this kernel allows), records KubeArmor-format alerts, collects a sysdump, and recommends hardening policies from \
compliance-mapped templates (harden).",
    after_help = AFTER_HELP,
    propagate_version = true
)]
pub struct Cli {
    /// The agent's API socket [default: /run/knoxctl/agent.sock; for `agent` and `sysdump`,
    /// the one in the onboarded configuration]
    #[arg(long, global = true, env = "KNOXCTL_SOCKET", value_name = "PATH",
          value_hint = ValueHint::FilePath)]
    pub socket: Option<PathBuf>,
    /// The agent's state directory: applied policies and the alert store [default:
    /// /var/lib/knoxctl; for `agent` and `sysdump`, the one in the onboarded configuration]
    #[arg(long, global = true, env = "KNOXCTL_STATE_DIR", value_name = "DIR",
          value_hint = ValueHint::DirPath)]
    pub state_dir: Option<PathBuf>,
    /// Print tables without their header line
    #[arg(long, global = true)]
    pub no_headers: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Install and start the knoxctl agent on this machine
    Onboard {
        #[command(subcommand)]
        target: OnboardTarget,
    },
    /// Stop the agent and remove everything onboarding installed
    Offboard {
        #[command(subcommand)]
        target: OffboardTarget,
    },
    /// Show which enforcers work on this kernel and what each can enforce
    #[command(long_about = PROBE_ABOUT)]
    Probe(ProbeArgs),
    /// Validate, apply, list, inspect and delete policies
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Recommend hardening policies from compliance templates
    #[command(long_about = harden::ABOUT)]
    Harden {
        #[command(subcommand)]
        command: harden::HardenCommand,
    },
    /// Query and filter recorded alerts (KubeArmor format)
    Alerts(AlertsArgs),
    /// Query telemetry: the monitor's events that raised no alert (KubeArmor HostLog and
    /// ContainerLog), as config.yaml's visibility asks
    #[command(long_about = logs::ABOUT)]
    Logs(LogsArgs),
    /// Collect a diagnostic archive for bug reports
    #[command(long_about = SYSDUMP_ABOUT)]
    Sysdump(SysdumpArgs),
    /// List the containers on this host and the policies that select each
    #[command(long_about = containers::ABOUT)]
    Containers(containers::ContainersArgs),
    /// Run the embedded agent in the foreground
    Agent(AgentArgs),
    /// Report a container to the agent from an OCI runtime hook (podman)
    #[command(name = "oci-hook", long_about = oci_hook::ABOUT)]
    OciHook(oci_hook::OciHookArgs),
    /// Print a shell completion script
    Completion(completion::CompletionArgs),
    /// Print version and build information
    Version(version::VersionArgs),
}

pub use crate::onboard::Mode;

const PROBE_ABOUT: &str = "\
Shows which enforcers work on this kernel (each one is actually tried: a test fanotify group \
denies a test open, BPF programs are loaded), which one `--enforcer auto` picks, what each can \
enforce (enforced, audit only, or nothing, per operation), whether the eBPF monitor loads, and, \
when an agent answers, what it is enforcing and what it dropped.

Exit status: 0 when some enforcer makes the kernel deny what policies block; 1 when only \
monitoring (audit alerts) is possible here. -o json prints the same report as one JSON \
document (enforcers, selected, enforcementAvailable, monitor, agent).";

const ONBOARD_ABOUT: &str = "\
Installs and starts the knoxctl agent on this host, offline, in one command. It probes the \
kernel, shows the plan (each file and directory it will write, the enforcer and mode it \
picked and why), asks for confirmation, then: copies this executable to \
/usr/local/bin/knoxctl, writes /etc/knoxctl/config.yaml (keys it has no flag for are kept), \
creates /var/lib/knoxctl, installs the man pages (/usr/local/share/man/man1) and shell \
completions for the shells installed here, and runs the agent: as a hardened systemd service \
(knoxctl.service: restarts, watchdog, sandbox, only the capabilities it needs) where systemd \
is PID 1, else standalone (a detached supervisor restarts the agent whenever it exits; log \
/var/log/knoxctl/agent.log, pid file /run/knoxctl/agent.pid). It ends when the agent answers on \
/run/knoxctl/agent.sock.

Running it again changes nothing when nothing changed (no restart); a changed flag rewrites \
the configuration and restarts the agent. `knoxctl offboard vm` undoes it.

Confirmation: asked on a terminal; --yes skips it; without a terminal and without --yes \
nothing is done and the exit status is 2. --dry-run shows the plan and changes nothing.";

const OFFBOARD_ABOUT: &str = "\
Stops the agent (systemctl, or SIGTERM through the pid file and SIGKILL after 15 s), detaches \
every enforcer (removes the BPF pin directory /sys/fs/bpf/knoxctl, unloads AppArmor \
profiles named knoxctl-*; fanotify marks go with the agent process), removes the service, \
the configuration, the runtime directory, the man pages and completions, and the binary if \
onboarding installed it, and then checks, by reading /proc, bpffs and securityfs, that nothing is left. Applied \
policies, alerts and the log stay unless --purge is given.

Confirmation follows the same rules as onboard: asked on a terminal, skipped with --yes, \
refused (exit status 2) without a terminal. Exit status 1 when something could not be \
removed; the message says what is left.";

const SYSDUMP_ABOUT: &str = "\
Writes one .tar.gz for bug reports, with or without a running agent: the probe report, \
kernel and OS facts (uname, os-release, kernel command line, LSMs, lockdown, BTF, the \
kernel's BPF/LSM/fanotify config options), the configuration with secrets redacted (every \
key containing token, secret, password or key), the onboarding receipt and systemd unit, \
the applied policies (from the agent, else from the state directory), the agent's status and \
the last 500 lines of its log, knoxctl's BPF programs, links, maps and pins, AppArmor \
profiles and fanotify marks, the newest alerts as JSON Lines, and manifest.json listing \
every item with its status (ok, failed, skipped), error and size.

An item that cannot be collected is recorded as failed and the rest is still written. Exit \
status: 0 when the archive was written (its path is printed), 1 when it could not be.";

#[derive(Subcommand, Debug)]
pub enum OnboardTarget {
    /// Onboard this virtual machine or bare-metal host
    #[command(long_about = ONBOARD_ABOUT)]
    Vm(OnboardVmArgs),
}

#[derive(Args, Debug)]
pub struct OnboardVmArgs {
    /// Enforcer to use; auto probes the kernel and picks the strongest that works
    #[arg(long, value_enum, default_value_t = EnforcerChoice::Auto)]
    pub enforcer: EnforcerChoice,
    /// Cluster name reported in alerts (ClusterName)
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub cluster_name: String,
    /// Extra host identity label matched by nodeSelector (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = label_arg)]
    pub labels: Vec<String>,
    /// How to run the agent; default: systemd when systemd is PID 1, else standalone
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Show the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// A malformed label is a usage error (exit 2), caught before anything is probed.
fn label_arg(s: &str) -> Result<String, String> {
    crate::identity::parse_labels(&[s.to_string()])?;
    Ok(s.to_string())
}

#[derive(Subcommand, Debug)]
pub enum OffboardTarget {
    /// Offboard this virtual machine or bare-metal host
    #[command(long_about = OFFBOARD_ABOUT)]
    Vm(OffboardVmArgs),
}

#[derive(Args, Debug)]
pub struct OffboardVmArgs {
    /// Also remove applied policies, recorded alerts and the agent's log
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableOrJson {
    /// Columns that fit the terminal (long values cut with …; whole values when piped)
    Table,
    /// Every column, whole values, even on a terminal
    Wide,
    /// JSON (JSON Lines for alerts and logs)
    #[value(alias = "jsonl")]
    Json,
    /// YAML (one document per alert for alerts)
    #[value(alias = "yml")]
    Yaml,
}

impl TableOrJson {
    /// Whether this is one of the table formats, and whether values may be cut to fit.
    pub fn table(self) -> Option<bool> {
        match self {
            TableOrJson::Table => Some(true),
            TableOrJson::Wide => Some(false),
            TableOrJson::Json | TableOrJson::Yaml => None,
        }
    }

    /// The document format, for the two that are not tables.
    pub fn document(self) -> Option<Document> {
        match self {
            TableOrJson::Json => Some(Document::Json),
            TableOrJson::Yaml => Some(Document::Yaml),
            TableOrJson::Table | TableOrJson::Wide => None,
        }
    }
}

/// `policy list`: the table formats, documents, or only the identifiers.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListOutput {
    /// Columns that fit the terminal (long values cut with …; whole values when piped)
    Table,
    /// Every column, whole values, even on a terminal
    Wide,
    /// JSON
    Json,
    /// YAML
    #[value(alias = "yml")]
    Yaml,
    /// One KIND/NAME (KIND/NAMESPACE/NAME) per line, as get and delete take it
    Name,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextOrJson {
    /// Text for people
    Text,
    /// JSON
    Json,
}

/// `policy get`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum YamlOrJson {
    /// The policy as YAML
    #[value(alias = "yml")]
    Yaml,
    /// The policy as JSON
    Json,
    /// Only its KIND/NAME (KIND/NAMESPACE/NAME)
    Name,
}

/// `policy apply` and `policy delete`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeOutput {
    /// One line per policy: its identifier, what happened and its effect here
    Text,
    /// Only the identifiers of the policies changed (KIND/NAME, KIND/NAMESPACE/NAME)
    Name,
}

pub use crate::policy::matcher::Posture;

#[derive(Args, Debug)]
pub struct ProbeArgs {
    #[arg(short, long, value_enum, default_value_t = TableOrJson::Table)]
    pub output: TableOrJson,
}

/// Where client commands find the agent: the global `--socket`, else the default path.
#[derive(Debug, Clone)]
pub struct AgentConn {
    pub socket: PathBuf,
}

impl AgentConn {
    pub const DEFAULT_SOCKET: &str = "/run/knoxctl/agent.sock";
    /// Where `alerts` reads the store when no --state-dir is given.
    pub const DEFAULT_STATE_DIR: &str = "/var/lib/knoxctl";

    fn new(socket: Option<PathBuf>) -> AgentConn {
        AgentConn {
            socket: socket.unwrap_or_else(|| PathBuf::from(Self::DEFAULT_SOCKET)),
        }
    }
}

const POLICY_REF: &str = "Policies are named as apply and list print them: KIND/NAME for host and \
cluster policies (kubearmorhostpolicy/NAME), KIND/NAMESPACE/NAME for KubeArmorPolicy \
(kubearmorpolicy/NAMESPACE/NAME). Kinds are case-insensitive and have short forms: ksp \
(kubearmorpolicy), hsp or hostpolicy (kubearmorhostpolicy), csp or clusterpolicy \
(kubearmorclusterpolicy). A bare NAME, KIND/NAME for KubeArmorPolicy, or NAMESPACE/NAME \
is accepted when exactly one applied policy matches; otherwise the error lists the candidates.";

const DIFF_ABOUT: &str = "\
Shows what `policy apply` would change: for each policy of the files, a unified diff of the \
applied policy (--- side, /dev/null when it is not applied) and the file's (+++ side), as \
YAML. Nothing is changed.

Exit status, as kubectl diff: 0 no differences; 1 differences; 2 an error (invalid files, no \
agent).";

/// Where policies are read from, one convention for every command that reads them:
/// `-f/--filename` as kubectl takes it, positional paths as karmor does, or both.
#[derive(Args, Debug)]
#[group(required = true, multiple = true)]
pub struct PolicyFiles {
    /// Policy file, directory (searched recursively for *.yaml and *.yml, hidden entries
    /// skipped), or - for standard input; repeatable
    #[arg(short = 'f', long = "filename", visible_alias = "file", value_name = "PATH",
          value_hint = ValueHint::AnyPath)]
    pub filename: Vec<PathBuf>,
    /// The same as -f
    #[arg(value_name = "PATH", value_hint = ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
}

impl PolicyFiles {
    pub fn all(&self) -> Vec<PathBuf> {
        self.filename.iter().chain(&self.paths).cloned().collect()
    }
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check policy files against KubeArmor's CRD schemas and for likely mistakes
    Validate(policy::ValidateArgs),
    /// Show, as a table, what the normalized rule set of policy files will do
    Explain(policy::ExplainArgs),
    /// Replay recorded operations against draft policies: what would they have blocked?
    #[command(long_about = policy::TEST_ABOUT)]
    Test(Box<policy::TestArgs>),
    /// Apply policies through the agent (all documents or none)
    Apply {
        #[command(flatten)]
        files: PolicyFiles,
        /// Skip documents that are not KubeArmor policies (other manifests in a directory)
        #[arg(long)]
        skip_other_kinds: bool,
        /// Say what would be created, configured or left unchanged; change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(short, long, value_enum, default_value_t = ChangeOutput::Text)]
        output: ChangeOutput,
    },
    /// Show what apply would change, as a unified diff per policy
    #[command(long_about = DIFF_ABOUT)]
    Diff {
        #[command(flatten)]
        files: PolicyFiles,
        /// Skip documents that are not KubeArmor policies (other manifests in a directory)
        #[arg(long)]
        skip_other_kinds: bool,
    },
    /// List applied policies
    List {
        #[arg(short, long, value_enum, default_value_t = ListOutput::Table)]
        output: ListOutput,
    },
    /// Print one applied policy
    #[command(after_help = POLICY_REF)]
    Get {
        /// The policy: KIND/NAME, KIND/NAMESPACE/NAME, or NAME when unambiguous
        #[arg(value_name = "POLICY")]
        name: String,
        #[arg(short, long, value_enum, default_value_t = YamlOrJson::Yaml)]
        output: YamlOrJson,
    },
    /// Delete applied policies by name, by the files that define them, or all
    #[command(after_help = POLICY_REF)]
    Delete {
        /// Policies: KIND/NAME, KIND/NAMESPACE/NAME, or NAME when unambiguous. Those that
        /// exist are deleted; each missing one is reported (exit status 1)
        #[arg(value_name = "POLICY", required_unless_present_any = ["files", "all"])]
        names: Vec<String>,
        /// Delete the policies defined in these files (or directories, or - for stdin)
        #[arg(short = 'f', long = "filename", visible_alias = "file", value_name = "PATH",
              value_hint = ValueHint::AnyPath)]
        files: Vec<PathBuf>,
        /// Delete every applied policy
        #[arg(long, conflicts_with_all = ["names", "files"])]
        all: bool,
        /// A policy that is not applied is not an error
        #[arg(long)]
        ignore_not_found: bool,
        /// Say what would be deleted; change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(short, long, value_enum, default_value_t = ChangeOutput::Text)]
        output: ChangeOutput,
    },
}

#[derive(Args, Debug)]
pub struct AlertsArgs {
    #[command(subcommand)]
    pub command: Option<AlertsCommand>,
    /// Field=value, Field!=value, Field~regex, Field>=N (repeatable; all must hold)
    #[arg(long = "filter", value_name = "EXPR", global = true)]
    pub filters: Vec<String>,
    /// Only alerts at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a
    /// time (2026-12-06T08:54:00Z, 2026-12-06 09:54:00+01:00, 2026-12-06); summary: 24h
    #[arg(
        long,
        value_name = "DUR|TIME",
        allow_hyphen_values = true,
        global = true
    )]
    pub since: Option<String>,
    /// Only alerts at or before this (same forms as --since)
    #[arg(
        long,
        value_name = "DUR|TIME",
        allow_hyphen_values = true,
        global = true
    )]
    pub until: Option<String>,
    /// At most this many alerts (newest last); a table shows the newest 1000 unless set
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    #[arg(short, long, value_enum, default_value_t = TableOrJson::Table, global = true)]
    pub output: TableOrJson,
    /// Filter KubeArmor-format JSON Lines from a file (or - for stdin) instead of the store
    ///
    /// A large file is read by every core. With filters, a line that cannot match is
    /// skipped after a check that it is one JSON object; every line printed was checked
    /// whole as a KubeArmor alert, and bad lines are reported with their line numbers.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub from: Option<PathBuf>,
    /// The alert store's directory: the global --state-dir, else the default.
    #[arg(skip)]
    pub state_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum AlertsCommand {
    /// Follow new alerts as they arrive (JSON Lines with -o json)
    Tail,
    /// Counts of the window's alerts by policy (with a per-hour sparkline), action,
    /// operation and process (--since defaults to 24h)
    Summary,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(subcommand)]
    pub command: Option<LogsCommand>,
    /// Field=value, Field!=value, Field~regex (repeatable; all must hold), with KubeArmor's
    /// field names: Operation=Process, ProcessName=/usr/bin/curl, Resource~^/etc/
    #[arg(long = "filter", value_name = "EXPR", global = true)]
    pub filters: Vec<String>,
    /// Only logs at or after this: a duration back from now (30s, 10m, 1h30m, 7d) or a
    /// time (2026-12-06T08:54:00Z, 2026-12-06)
    #[arg(
        long,
        value_name = "DUR|TIME",
        allow_hyphen_values = true,
        global = true
    )]
    pub since: Option<String>,
    /// Only logs at or before this (same forms as --since)
    #[arg(long, value_name = "DUR|TIME", allow_hyphen_values = true)]
    pub until: Option<String>,
    /// At most this many logs (newest last); a table shows the newest 1000 unless set
    #[arg(long, value_name = "N", global = true)]
    pub limit: Option<usize>,
    #[arg(short, long, value_enum, default_value_t = TableOrJson::Table, global = true)]
    pub output: TableOrJson,
    /// Filter KubeArmor HostLog/ContainerLog JSON Lines from a file (or - for stdin)
    /// instead of the store
    ///
    /// Read as `alerts --from` reads alerts (a large file by every core); records of
    /// alert types are counted and left out, bad lines reported with their line numbers.
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub from: Option<PathBuf>,
    /// The log store's directory: the global --state-dir, else the default.
    #[arg(skip)]
    pub state_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum LogsCommand {
    /// Follow new logs as they arrive (JSON Lines with -o json)
    Tail,
}

#[derive(Args, Debug)]
pub struct SysdumpArgs {
    /// Archive to write, or a directory to write it in (default:
    /// knoxctl-sysdump-<hostname>-<UTC time>.tar.gz here)
    #[arg(short = 'o', long = "output", value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: Option<PathBuf>,
    /// How many of the newest alerts to include
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub alerts: usize,
    /// The global --state-dir (default: the one in the onboarded configuration).
    #[arg(skip)]
    pub state_dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AgentArgs {
    /// Configuration file
    #[arg(long, value_name = "FILE", value_hint = ValueHint::FilePath, default_value = "/etc/knoxctl/config.yaml")]
    pub config: PathBuf,
    /// The global --state-dir (default: the configuration's).
    #[arg(skip)]
    pub state_dir: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub enforcer: Option<EnforcerChoice>,
    /// Extra host identity label (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Keep the agent running: start it as a child and restart it whenever it exits (how
    /// standalone mode runs it; records restarts in supervisor.json next to the socket)
    #[arg(long)]
    pub supervise: bool,
}

/// Parses the command line and runs the command. Usage errors exit 2 (clap's convention),
/// failed checks 1.
pub fn run() -> ExitCode {
    drop_empty_env();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return clap_error(&e).into(),
    };
    crate::output::set_no_headers(cli.no_headers);
    let conn = AgentConn::new(cli.socket.clone());
    let result = match cli.command {
        Command::Policy { mut command } => {
            if let PolicyCommand::Test(a) = &mut command {
                a.state_dir = cli.state_dir.clone();
            }
            policy::run(command, &conn)
        }
        Command::Completion(args) => completion::run(args),
        Command::Version(args) => version::run(args),
        Command::Onboard {
            target: OnboardTarget::Vm(args),
        } => onboard::run(args),
        Command::Offboard {
            target: OffboardTarget::Vm(args),
        } => offboard::run(args),
        Command::Probe(args) => probe::run(args, &conn),
        Command::Containers(args) => containers::run(args, &conn),
        Command::OciHook(args) => oci_hook::run(args, &conn),
        Command::Harden { mut command } => {
            match &mut command {
                harden::HardenCommand::Recommend(a) => a.state_dir = cli.state_dir.clone(),
                harden::HardenCommand::Verify(a) => a.state_dir = cli.state_dir.clone(),
                harden::HardenCommand::Discover(a) => a.state_dir = cli.state_dir.clone(),
                _ => {}
            }
            harden::run(command, &conn)
        }
        Command::Alerts(mut args) => {
            args.state_dir = cli
                .state_dir
                .unwrap_or_else(|| PathBuf::from(AgentConn::DEFAULT_STATE_DIR));
            alerts::run(args, &conn)
        }
        Command::Logs(mut args) => {
            args.state_dir = cli
                .state_dir
                .unwrap_or_else(|| PathBuf::from(AgentConn::DEFAULT_STATE_DIR));
            logs::run(args, &conn)
        }
        Command::Sysdump(mut args) => {
            args.state_dir = cli.state_dir;
            sysdump::run(args, cli.socket)
        }
        Command::Agent(mut args) => {
            args.state_dir = cli.state_dir;
            agent::run(args, cli.socket)
        }
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            report(&e);
            ExitStatus::Failure.into()
        }
    }
}

/// An empty `KNOXCTL_SOCKET=` or `KNOXCTL_STATE_DIR=` counts as unset, as a shell user
/// clearing a variable for one command means it, rather than as an empty path.
fn drop_empty_env() {
    for var in ["KNOXCTL_SOCKET", "KNOXCTL_STATE_DIR"] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // SAFETY: `run` is called from `main` before any other thread exists.
            unsafe { std::env::remove_var(var) };
        }
    }
}
