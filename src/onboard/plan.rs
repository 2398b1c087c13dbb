//! `onboard vm`: the plan (what will be written where, which enforcer and mode and why,
//! whether the agent must start or restart), computed from the host as it is and changing
//! nothing, and then its execution, ending with proof that the agent answers.
//!
//! Re-running with the same flags finds nothing to change and restarts nothing; a changed
//! flag rewrites the configuration and restarts the agent. Configuration keys onboarding
//! has no flag for (postures, retention, the API group) are kept as the administrator set
//! them.

use super::paths::Paths;
use super::{Error, Mode, Receipt, procs, standalone, systemd};
use crate::agent::api::{self, Request as ApiRequest, Response, Status};
use crate::agent::config::{Config, EnforcerChoice};
use crate::enforce::{Backend, ProbeResult};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What the user asked for.
#[derive(Clone, Debug)]
pub struct Request {
    pub enforcer: EnforcerChoice,
    pub cluster_name: String,
    pub labels: BTreeMap<String, String>,
    pub mode: Option<Mode>,
    pub docs: Docs,
}

/// The documentation onboarding installs next to the binary, rendered from the command tree
/// (src/cmd/assets.rs). The command layer hands the renderers in, so that onboarding, which
/// sits below the commands, does not import them.
#[derive(Clone, Copy, Debug)]
pub struct Docs {
    pub completion: fn(clap_complete::Shell) -> Vec<u8>,
    pub man_pages: fn() -> Vec<(String, Vec<u8>)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Create,
    Update,
    Keep,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Keep => "keep",
        })
    }
}

#[derive(Clone, Debug)]
pub enum Content {
    Bytes(Vec<u8>),
    /// A copy of this file (the running executable).
    CopyOf(PathBuf),
}

#[derive(Clone, Debug)]
pub struct FilePlan {
    pub what: &'static str,
    pub path: PathBuf,
    pub change: Change,
    pub content: Content,
    pub mode: u32,
    /// The agent reads it, so a change restarts the agent (not so for completions and man
    /// pages).
    pub agent_reads: bool,
}

/// `FilePlan::what` of the man pages, which the plan shows as one line.
pub const MAN_PAGE: &str = "man page";

#[derive(Clone, Debug)]
pub struct DirPlan {
    pub path: PathBuf,
    pub what: &'static str,
    pub mode: u32,
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentAction {
    Start,
    /// Why: which files changed, or the mode switch.
    Restart(String),
    Nothing,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub paths: Paths,
    pub mode: Mode,
    pub mode_reason: String,
    /// The mode of a running installation this plan switches away from.
    pub switch_from: Option<Mode>,
    pub enforcer: EnforcerChoice,
    /// What the agent will run, as the probe found it.
    pub backend: Backend,
    pub enforcer_reason: String,
    pub dirs: Vec<DirPlan>,
    pub files: Vec<FilePlan>,
    pub agent: AgentAction,
    /// The agent running now, if any.
    pub running_pid: Option<i32>,
    pub previous_receipt: Option<Receipt>,
    /// BPF-LSM pins the planned enforcer will not use. Pinned programs stay attached
    /// without an agent, so they would go on enforcing stale rules next to the new
    /// enforcer: removed once the old agent has stopped.
    pub stale_pins: Option<PathBuf>,
}

impl Plan {
    /// Nothing to write and nothing to start: the host is onboarded as asked.
    pub fn nothing_to_do(&self) -> bool {
        self.agent == AgentAction::Nothing
            && self.switch_from.is_none()
            && self.files.iter().all(|f| f.change == Change::Keep)
            && self.dirs.iter().all(|d| d.change == Change::Keep)
            && self.previous_receipt.is_some()
            && self.stale_pins.is_none()
    }

    /// Steps `execute` will report, for a progress bar.
    pub fn step_count(&self) -> u64 {
        5
    }

    /// The command line the agent runs with.
    pub fn agent_command(&self) -> String {
        format!(
            "{} agent --config {}",
            self.paths.bin.display(),
            self.paths.config.display()
        )
    }
}

/// Picks the mode: the requested one if it can work, else systemd where it is PID 1.
pub fn resolve_mode(
    requested: Option<Mode>,
    systemd_pid1: bool,
    paths: &Paths,
) -> Result<(Mode, String), Error> {
    match requested {
        Some(Mode::Systemd) if !systemd_pid1 => Err(Error::SystemdNotRunning),
        Some(Mode::Systemd) if !paths.is_real() => Err(Error::SystemdPrefixed {
            root: paths.root.display().to_string(),
        }),
        Some(Mode::Systemd) => Ok((Mode::Systemd, "requested with --mode systemd".into())),
        Some(Mode::Standalone) => Ok((Mode::Standalone, "requested with --mode standalone".into())),
        None if systemd_pid1 && paths.is_real() => Ok((
            Mode::Systemd,
            "systemd is PID 1 here: a hardened service with restarts and a watchdog".into(),
        )),
        None if !paths.is_real() => Ok((
            Mode::Standalone,
            format!(
                "installing under {} (KNOXCTL_ROOT), which systemd does not manage",
                paths.root.display()
            ),
        )),
        None => Ok((
            Mode::Standalone,
            "systemd is not PID 1 here (no /run/systemd/system): a detached supervisor that \
             restarts the agent when it exits, with a pid file and a log file"
                .into(),
        )),
    }
}

/// Which backend the agent will run for `choice`, and why, from the probe's findings
/// (strongest first). An explicit choice that does not work here is refused now, before
/// anything is installed, instead of leaving an agent that cannot start.
pub fn resolve_enforcer(
    choice: EnforcerChoice,
    probes: &[ProbeResult],
) -> Result<(Backend, String), Error> {
    let usable: Vec<String> = probes
        .iter()
        .filter(|p| p.usable)
        .map(|p| p.backend.to_string())
        .collect();
    let wanted = match choice {
        EnforcerChoice::Auto => {
            // The agent's own rule (BPF-LSM, then AppArmor where its denials can be
            // alerted, then fanotify), so that the plan names what will run.
            let pick = crate::enforce::auto_pick(probes).filter(|b| *b != Backend::MonitorOnly);
            // Every stronger backend passed over, with its reason.
            let skipped: Vec<String> = probes
                .iter()
                .take_while(|p| Some(p.backend) != pick && p.backend != Backend::MonitorOnly)
                .map(|p| {
                    if p.usable {
                        format!("{}: its denials would raise no alerts here", p.backend)
                    } else {
                        format!("{}: {}", p.backend, p.reason)
                    }
                })
                .collect();
            let why = |head: &str| {
                if skipped.is_empty() {
                    head.to_string()
                } else {
                    format!("{head}; not {}", skipped.join("; not "))
                }
            };
            return Ok(match pick {
                Some(b) => (
                    b,
                    why(&format!(
                        "auto: {b} is the strongest enforcer that works here"
                    )),
                ),
                None => (
                    Backend::MonitorOnly,
                    why(
                        "auto: no enforcer works on this kernel, so policies are audited (alerts), not enforced",
                    ),
                ),
            });
        }
        EnforcerChoice::BpfLsm => Backend::BpfLsm,
        EnforcerChoice::Apparmor => Backend::Apparmor,
        EnforcerChoice::Fanotify => Backend::Fanotify,
        EnforcerChoice::MonitorOnly => Backend::MonitorOnly,
    };
    match probes.iter().find(|p| p.backend == wanted) {
        Some(p) if p.usable || wanted == Backend::MonitorOnly => {
            Ok((wanted, format!("requested with --enforcer {wanted}")))
        }
        Some(p) => Err(Error::EnforcerUnavailable {
            backend: wanted.to_string(),
            reason: p.reason.clone(),
            usable: usable.join(", "),
        }),
        None => Ok((wanted, format!("requested with --enforcer {wanted}"))),
    }
}

/// The configuration onboarding writes: the existing one (keys it has no flag for stay
/// as they are) with the flags and this installation's paths (a prefixed installation
/// must never pin BPF objects where a real one does: its offboarding would remove them).
pub fn desired_config(existing: Option<&Config>, req: &Request, paths: &Paths) -> Config {
    let mut c = existing.cloned().unwrap_or_default();
    c.cluster_name = req.cluster_name.clone();
    c.labels = req.labels.clone();
    c.enforcer = req.enforcer;
    c.socket = paths.socket.clone();
    c.state_dir = paths.state_dir.clone();
    c.bpf_pin_dir = paths.bpf_pin.clone();
    c
}

/// Whether `a` and `b` are the same file, or files with the same bytes.
fn same_file(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (ma, mb) = (std::fs::metadata(a)?, std::fs::metadata(b)?);
    if ma.dev() == mb.dev() && ma.ino() == mb.ino() {
        return Ok(true);
    }
    if ma.len() != mb.len() {
        return Ok(false);
    }
    Ok(std::fs::read(a)? == std::fs::read(b)?)
}

fn file_change(path: &Path, wanted: &[u8]) -> Change {
    match std::fs::read(path) {
        Ok(have) if have == wanted => Change::Keep,
        Ok(_) => Change::Update,
        Err(_) => Change::Create,
    }
}

/// Shell completions (for the shells installed here, see `Paths::completions`) and man
/// pages, rendered from this binary rather than copied from a source tree, so that they
/// describe the commands of the binary being installed.
fn docs(paths: &Paths, docs: Docs) -> Vec<FilePlan> {
    let mut files = Vec::new();
    for c in paths.completions() {
        if !c.installed_if.is_dir() {
            continue;
        }
        let script = (docs.completion)(c.shell);
        if script.is_empty() {
            continue;
        }
        files.push(FilePlan {
            what: "completion",
            path: c.path.to_path_buf(),
            change: file_change(c.path, &script),
            content: Content::Bytes(script),
            mode: 0o644,
            agent_reads: false,
        });
    }
    for (name, page) in (docs.man_pages)() {
        let path = paths.man_dir.join(name);
        files.push(FilePlan {
            what: MAN_PAGE,
            change: file_change(&path, &page),
            path,
            content: Content::Bytes(page),
            mode: 0o644,
            agent_reads: false,
        });
    }
    files
}

/// Asks the agent at `socket` for its status.
pub fn agent_status(socket: &Path, timeout: Duration) -> Option<Status> {
    match api::call(socket, &ApiRequest::Status, timeout) {
        Ok(Response::Status { status }) => Some(status),
        _ => None,
    }
}

/// The plan for `req` on this host, from what is installed and running now. Changes
/// nothing (the enforcer probe opens and closes a test fanotify group, nothing more).
pub fn plan(req: &Request, paths: &Paths, probes: &[ProbeResult]) -> Result<Plan, Error> {
    let (mode, mode_reason) = resolve_mode(req.mode, systemd::is_pid1(), paths)?;
    let (backend, enforcer_reason) = resolve_enforcer(req.enforcer, probes)?;
    let previous_receipt = Receipt::load(paths);

    let existing = if paths.config.exists() {
        Some(Config::load(&paths.config, true)?)
    } else {
        None
    };
    let config = desired_config(existing.as_ref(), req, paths);
    let config_change = match &existing {
        None => Change::Create,
        Some(c) if *c == config => Change::Keep,
        Some(_) => Change::Update,
    };

    let exe =
        std::env::current_exe().map_err(Error::io("locating", Path::new("/proc/self/exe")))?;
    let bin_change = match same_file(&exe, &paths.bin) {
        Ok(true) => Change::Keep,
        Ok(false) => Change::Update,
        Err(_) if paths.bin.exists() => Change::Update,
        Err(_) => Change::Create,
    };

    let mut dirs = Vec::new();
    for (path, what, dir_mode) in paths.owned_dirs() {
        let standalone_only = path == paths.run_dir || path == paths.log_dir;
        if standalone_only && mode == Mode::Systemd {
            continue;
        }
        dirs.push(DirPlan {
            path: path.to_path_buf(),
            what,
            mode: dir_mode,
            change: if path.is_dir() {
                Change::Keep
            } else {
                Change::Create
            },
        });
    }

    let mut files = vec![
        FilePlan {
            what: "binary",
            path: paths.bin.clone(),
            change: bin_change,
            content: Content::CopyOf(exe),
            mode: 0o755,
            agent_reads: true,
        },
        FilePlan {
            what: "configuration",
            path: paths.config.clone(),
            change: config_change,
            content: Content::Bytes(config.to_yaml().into_bytes()),
            mode: 0o600,
            agent_reads: true,
        },
    ];
    if mode == Mode::Systemd {
        let unit = systemd::render_unit(paths);
        files.push(FilePlan {
            what: "systemd unit",
            path: paths.unit.clone(),
            change: file_change(&paths.unit, unit.as_bytes()),
            content: Content::Bytes(unit.into_bytes()),
            mode: 0o644,
            agent_reads: true,
        });
    }
    // Podman runs it for every container, with or without the agent (the hook fails
    // open); harmless where podman is not installed, and ready when it is.
    let hook = crate::container::hook::definition(
        &Path::new("/").join(paths.bin.strip_prefix(&paths.root).unwrap_or(&paths.bin)),
        &Path::new("/").join(
            paths
                .socket
                .strip_prefix(&paths.root)
                .unwrap_or(&paths.socket),
        ),
    );
    files.push(FilePlan {
        what: "OCI hook",
        path: paths.oci_hook.clone(),
        change: file_change(&paths.oci_hook, hook.as_bytes()),
        content: Content::Bytes(hook.into_bytes()),
        mode: 0o644,
        agent_reads: false,
    });
    files.extend(docs(paths, req.docs));

    // What runs now, and in which mode. A standalone agent is found by its pid file, or
    // by its command line when the pid file is gone.
    let systemd_pid = if systemd::is_pid1() && paths.is_real() {
        systemd::is_active().then(systemd::main_pid).flatten()
    } else {
        None
    };
    let standalone_pid = standalone::running_pid(paths).or_else(|| {
        let mut agents = procs::agents_of(paths);
        // Without the pid file, the supervisor stands for its agent.
        agents.sort_by_key(|p| !p.is_supervisor());
        agents
            .into_iter()
            .map(|p| p.pid)
            .find(|&p| Some(p) != systemd_pid)
    });
    let status = agent_status(&paths.socket, Duration::from_secs(3));
    let (running_pid, switch_from) = match mode {
        Mode::Standalone => (standalone_pid, systemd_pid.map(|_| Mode::Systemd)),
        Mode::Systemd => (systemd_pid, standalone_pid.map(|_| Mode::Standalone)),
    };
    if let Some(s) = &status
        && !standalone_pid.is_some_and(|p| standalone::is_same_agent(p, s.pid))
        && systemd_pid.is_none_or(|p| p as u32 != s.pid)
    {
        return Err(Error::ForeignAgent {
            pid: s.pid,
            socket: paths.socket.display().to_string(),
        });
    }
    let changed: Vec<&str> = files
        .iter()
        .filter(|f| f.change != Change::Keep && f.agent_reads)
        .map(|f| f.what)
        .collect();
    let agent = match (switch_from, running_pid, &status) {
        (Some(from), _, _) => AgentAction::Restart(format!("switching from {from} mode")),
        (None, None, _) => AgentAction::Start,
        (None, Some(pid), None) => AgentAction::Restart(format!(
            "the running agent (pid {pid}) does not answer on {}",
            paths.socket.display()
        )),
        (None, Some(_), Some(_)) if !changed.is_empty() => {
            AgentAction::Restart(format!("the {} changed", changed.join(" and ")))
        }
        (None, Some(_), Some(_)) => AgentAction::Nothing,
    };
    let runs_bpf_lsm = status
        .as_ref()
        .is_some_and(|s| s.enforcer == Backend::BpfLsm.to_string());
    // Only pinned links (`link_<hook>`) keep programs attached; maps alone (an `auto`
    // agent that tried BPF-LSM and fell back leaves some) enforce nothing.
    let pinned_links = std::fs::read_dir(&paths.bpf_pin).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("link_"))
    });
    let stale_pins = (backend != Backend::BpfLsm
        && pinned_links
        && !(runs_bpf_lsm && agent == AgentAction::Nothing))
        .then(|| paths.bpf_pin.clone());
    Ok(Plan {
        stale_pins,
        paths: paths.clone(),
        mode,
        mode_reason,
        switch_from,
        enforcer: req.enforcer,
        backend,
        enforcer_reason,
        dirs,
        files,
        agent,
        running_pid,
        previous_receipt,
    })
}

/// What onboarding did and found.
#[derive(Debug)]
pub struct Outcome {
    pub status: Status,
    pub started: bool,
    pub elapsed: Duration,
}

/// Carries out `plan`, calling `progress` at each step, and waits until the agent answers.
pub fn execute(plan: &Plan, progress: &mut dyn FnMut(&str)) -> Result<Outcome, Error> {
    let start = Instant::now();
    let paths = &plan.paths;
    let mut receipt = plan.previous_receipt.clone().unwrap_or(Receipt {
        version: super::RECEIPT_VERSION,
        mode: plan.mode,
        binary_installed: false,
        created_dirs: Vec::new(),
        onboarded_at: super::timestamp(),
        knoxctl_version: String::new(),
    });
    receipt.mode = plan.mode;
    receipt.knoxctl_version = env!("CARGO_PKG_VERSION").to_string();

    progress("creating directories");
    for d in &plan.dirs {
        super::create_dirs(&d.path, d.mode, &mut receipt.created_dirs)?;
    }

    progress("installing files");
    for f in &plan.files {
        if let Some(parent) = f.path.parent() {
            super::create_dirs(parent, 0o755, &mut receipt.created_dirs)?;
        }
        match (&f.change, &f.content) {
            (Change::Keep, _) => {}
            (_, Content::Bytes(b)) => super::write_atomic(&f.path, b, f.mode)?,
            (change, Content::CopyOf(src)) => {
                install_copy(src, &f.path, f.mode)?;
                if *change == Change::Create {
                    receipt.binary_installed = true;
                }
            }
        }
    }
    // Before the agent starts: an agent that fails to come up is still offboardable.
    super::write_atomic(&paths.receipt, &receipt.to_bytes(), 0o644)?;

    progress("stopping the running agent");
    if let Some(from) = plan.switch_from {
        stop_mode(from, paths)?;
    }
    match (&plan.agent, plan.mode) {
        (AgentAction::Nothing, _) => {}
        (_, Mode::Standalone) => {
            standalone::stop(paths, plan.running_pid);
        }
        (AgentAction::Restart(_), Mode::Systemd) => {
            systemd::systemctl(&["stop", systemd::UNIT_NAME])?;
        }
        (AgentAction::Start, Mode::Systemd) => {}
    }
    if let Some(pins) = &plan.stale_pins {
        crate::enforce::bpf_lsm::remove_pins(pins).map_err(Error::io("removing", pins))?;
    }
    let started = plan.agent != AgentAction::Nothing;
    progress("starting the agent");
    let expect_pid = match (&plan.agent, plan.mode) {
        (AgentAction::Nothing, _) => plan.running_pid,
        (_, Mode::Standalone) => Some(standalone::start(paths)?),
        (_, Mode::Systemd) => {
            if plan
                .files
                .iter()
                .any(|f| f.what == "systemd unit" && f.change != Change::Keep)
            {
                systemd::systemctl(&["daemon-reload"])?;
            }
            systemd::systemctl(&["enable", "--quiet", systemd::UNIT_NAME])?;
            systemd::systemctl(&["start", systemd::UNIT_NAME])?;
            systemd::main_pid()
        }
    };

    progress("waiting for the agent to answer");
    let status = wait_ready(plan, expect_pid)?;
    Ok(Outcome {
        status,
        started,
        elapsed: start.elapsed(),
    })
}

/// Copies the running executable into place through a temporary file and a rename, so that
/// a running copy (the agent) keeps its old file and nobody sees half a binary.
fn install_copy(src: &Path, dst: &Path, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = dst.with_file_name(format!(
        ".{}.tmp.{}",
        dst.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        std::fs::copy(src, &tmp)?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))?;
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, dst)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(Error::io("installing", dst))
}

/// Stops an agent running in `mode` (a mode switch).
fn stop_mode(mode: Mode, paths: &Paths) -> Result<(), Error> {
    match mode {
        Mode::Standalone => {
            standalone::stop(paths, None);
        }
        Mode::Systemd => {
            systemd::systemctl(&["disable", "--now", "--quiet", systemd::UNIT_NAME])?;
            let _ = std::fs::remove_file(&paths.unit);
            systemd::systemctl(&["daemon-reload"])?;
        }
    }
    Ok(())
}

/// How long an agent may take to enforce its persisted policies, load the monitor and
/// open its API: well under a second on real hardware, but its BPF programs are verified
/// first, which took 30 s on one emulated CPU in the VM tests; this only bounds the wait for
/// an agent that never comes up.
const READY_TIMEOUT: Duration = Duration::from_secs(150);

/// Waits until the agent answers a status request, and checks that the one answering is
/// the one just started.
fn wait_ready(plan: &Plan, pid: Option<i32>) -> Result<Status, Error> {
    let paths = &plan.paths;
    let start = Instant::now();
    let log = || match plan.mode {
        Mode::Standalone => standalone::last_run_log(paths, 20),
        Mode::Systemd => std::process::Command::new("journalctl")
            .args([
                "-u",
                systemd::UNIT_NAME,
                "-n",
                "20",
                "--no-pager",
                "-o",
                "cat",
            ])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default(),
    };
    loop {
        if let Some(s) = agent_status(&paths.socket, Duration::from_secs(2))
            && pid.is_none_or(|p| match plan.mode {
                Mode::Standalone => standalone::is_same_agent(p, s.pid),
                Mode::Systemd => p as u32 == s.pid,
            })
        {
            return Ok(s);
        }
        if let Some(p) = pid
            && !procs::is_running(p)
        {
            return Err(Error::AgentDown {
                reason: format!("the agent (pid {p}) exited"),
                log: log(),
            });
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(Error::AgentDown {
                reason: format!(
                    "no answer on {} within {} s",
                    paths.socket.display(),
                    READY_TIMEOUT.as_secs()
                ),
                log: log(),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enforce::{ProbeResult, probe_monitor_only};

    fn probe(backend: Backend, usable: bool, reason: &str) -> ProbeResult {
        ProbeResult {
            backend,
            usable,
            reason: reason.into(),
            coverage: Vec::new(),
        }
    }

    #[test]
    fn enforcer_resolution_says_why() {
        let probes = vec![
            probe(Backend::BpfLsm, false, "not in this build"),
            probe(Backend::Apparmor, false, "not active"),
            probe(Backend::Fanotify, true, "permission events work"),
            probe_monitor_only(),
        ];
        let (b, why) = resolve_enforcer(EnforcerChoice::Auto, &probes).unwrap();
        assert_eq!(b, Backend::Fanotify);
        assert_eq!(
            why,
            "auto: fanotify is the strongest enforcer that works here; not bpf-lsm: not in this build; not apparmor: not active"
        );
        let e = resolve_enforcer(EnforcerChoice::BpfLsm, &probes)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bpf-lsm enforcer is not usable on this host: not in this build"),
            "{e}"
        );
        assert!(
            e.contains("Enforcers that work here: fanotify, monitor-only"),
            "{e}"
        );
        let none = vec![
            probe(Backend::BpfLsm, false, "a"),
            probe(Backend::Apparmor, false, "b"),
            probe(Backend::Fanotify, false, "c"),
            probe_monitor_only(),
        ];
        let (b, why) = resolve_enforcer(EnforcerChoice::Auto, &none).unwrap();
        assert_eq!(b, Backend::MonitorOnly);
        assert!(why.contains("audited (alerts), not enforced"), "{why}");
        assert_eq!(
            resolve_enforcer(EnforcerChoice::MonitorOnly, &none)
                .unwrap()
                .0,
            Backend::MonitorOnly
        );
    }

    #[test]
    fn mode_resolution() {
        let real = Paths::from_root(None);
        let tmp = Paths::under(Path::new("/tmp/k"));
        assert_eq!(resolve_mode(None, true, &real).unwrap().0, Mode::Systemd);
        assert_eq!(
            resolve_mode(None, false, &real).unwrap().0,
            Mode::Standalone
        );
        assert_eq!(resolve_mode(None, true, &tmp).unwrap().0, Mode::Standalone);
        assert!(matches!(
            resolve_mode(Some(Mode::Systemd), false, &real),
            Err(Error::SystemdNotRunning)
        ));
        assert!(matches!(
            resolve_mode(Some(Mode::Systemd), true, &tmp),
            Err(Error::SystemdPrefixed { .. })
        ));
    }

    #[test]
    fn config_keeps_what_onboarding_has_no_flag_for() {
        let paths = Paths::under(Path::new("/tmp/k"));
        let mut existing = Config {
            api_group: Some("knox".into()),
            ..Config::default()
        };
        existing.alerts.max_rows = 10;
        let req = Request {
            enforcer: EnforcerChoice::Fanotify,
            cluster_name: "lab".into(),
            labels: BTreeMap::from([("env".into(), "prod".into())]),
            mode: None,
            docs: Docs {
                completion: |_| Vec::new(),
                man_pages: Vec::new,
            },
        };
        let c = desired_config(Some(&existing), &req, &paths);
        assert_eq!(c.api_group.as_deref(), Some("knox"));
        assert_eq!(c.alerts.max_rows, 10);
        assert_eq!(c.cluster_name, "lab");
        assert_eq!(c.enforcer, EnforcerChoice::Fanotify);
        assert_eq!(c.socket, paths.socket);
        assert_eq!(c.state_dir, paths.state_dir);
        assert_eq!(c.bpf_pin_dir, paths.bpf_pin);
    }
}
