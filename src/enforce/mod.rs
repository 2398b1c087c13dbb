//! Enforcer backends behind one trait. A backend takes the host's normalized rule set,
//! makes the kernel deny what it blocks, and reports each decision it took as an
//! [`EnforcerEvent`]; the agent turns those into alerts.
//!
//! Backends are chosen by probing what this kernel really allows (loading, not reading
//! /sys/kernel/security/lsm), see [`probe`].

pub mod apparmor;
pub mod bpf_lsm;
pub mod fanotify;
pub mod monitor_only;

use crate::policy::matcher::Posture;
use crate::policy::normalize::RuleSet;
use crate::procfs::ProcessInfo;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    BpfLsm,
    Apparmor,
    Fanotify,
    MonitorOnly,
}

impl Backend {
    /// The `Enforcer` value in alerts (KubeArmor's spelling where KubeArmor has one).
    pub fn alert_name(self) -> &'static str {
        match self {
            Backend::BpfLsm => "BPFLSM",
            Backend::Apparmor => "AppArmor",
            Backend::Fanotify => "fanotify",
            Backend::MonitorOnly => "eBPF Monitor",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::BpfLsm => "bpf-lsm",
            Backend::Apparmor => "apparmor",
            Backend::Fanotify => "fanotify",
            Backend::MonitorOnly => "monitor-only",
        })
    }
}

/// Operations in the probe's coverage matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    Exec,
    FileRead,
    FileWrite,
    Create,
    Unlink,
    Rename,
    Network,
    Capabilities,
}

impl Op {
    pub const ALL: [Op; 8] = [
        Op::Exec,
        Op::FileRead,
        Op::FileWrite,
        Op::Create,
        Op::Unlink,
        Op::Rename,
        Op::Network,
        Op::Capabilities,
    ];
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The kernel denies the operation.
    Enforced,
    /// Seen and alerted (`Audit (Block)`), but not prevented.
    AuditOnly,
    /// Neither.
    None,
}

#[derive(Clone, Debug, Serialize)]
pub struct Coverage {
    pub op: Op,
    pub level: Level,
    pub note: String,
}

/// What a backend can do on this kernel, found by trying.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeResult {
    pub backend: Backend,
    pub usable: bool,
    /// Why it is or is not usable (the error the kernel gave, the missing feature).
    pub reason: String,
    pub coverage: Vec<Coverage>,
}

impl ProbeResult {
    /// The result of really trying a backend: `Ok` says why it works, `Err` why not;
    /// `coverage` gives the matrix for either case.
    pub fn tried(
        backend: Backend,
        attempt: Result<String, String>,
        coverage: fn(bool) -> Vec<Coverage>,
    ) -> ProbeResult {
        let usable = attempt.is_ok();
        ProbeResult {
            backend,
            usable,
            reason: attempt.unwrap_or_else(|e| e),
            coverage: coverage(usable),
        }
    }
}

/// `Process` or `File`, as in the alert's `Operation` field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Operation {
    Process,
    File,
    Network,
    Capabilities,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Process => "Process",
            Operation::File => "File",
            Operation::Network => "Network",
            Operation::Capabilities => "Capabilities",
        })
    }
}

/// Which apply's rules an enforcer decided with. Every apply makes a new one, so a
/// decision's rule index is looked up in the rules that produced it even when newer rules
/// were applied since (the alert pipeline lags behind the kernel). It wraps around
/// (BPF-LSM keeps it in a u32 in the kernel, across agent restarts): compare with
/// [`Generation::is_after`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Generation(pub u32);

impl Generation {
    pub fn next(self) -> Generation {
        Generation(self.0.wrapping_add(1))
    }

    /// Whether `self` was made after `other` (within half the counter's range).
    pub fn is_after(self, other: Generation) -> bool {
        (self.0.wrapping_sub(other.0) as i32) > 0
    }
}

/// The rule that decided: an index into the `RuleSet::rules` of the apply that made
/// `generation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleRef {
    pub generation: Generation,
    pub index: usize,
}

/// What was done about an operation, as the alert's `Action` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlertAction {
    Block,
    Audit,
    /// A Block rule that was not enforced, only reported (the eBPF monitor's).
    AuditBlock,
}

impl AlertAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertAction::Block => "Block",
            AlertAction::Audit => "Audit",
            AlertAction::AuditBlock => "Audit (Block)",
        }
    }
}

impl fmt::Display for AlertAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for AlertAction {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What the process got, as the alert's `Result` says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpResult {
    Passed,
    /// EACCES: BPF-LSM's denials (KubeArmor's), fanotify's where FAN_DENY_ERRNO works.
    PermissionDenied,
    /// EPERM: capability denials, fanotify's plain FAN_DENY.
    OperationNotPermitted,
}

impl OpResult {
    pub fn as_str(self) -> &'static str {
        match self {
            OpResult::Passed => "Passed",
            OpResult::PermissionDenied => "Permission denied",
            OpResult::OperationNotPermitted => "Operation not permitted",
        }
    }
}

impl fmt::Display for OpResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for OpResult {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One decision an enforcer took about a real operation.
#[derive(Clone, Debug)]
pub struct EnforcerEvent {
    pub backend: Backend,
    pub operation: Operation,
    /// The path (or address, capability) acted on.
    pub resource: String,
    /// KubeArmor-style detail: `syscall=SYS_EXECVE`, `syscall=SYS_OPENAT flags=O_WRONLY`.
    pub data: String,
    /// The rule that decided, in the rule set of the apply that was in force, or `None`
    /// for a default-posture decision (PolicyName `DefaultPosture`).
    pub rule: Option<RuleRef>,
    /// `Block`, or `Audit` (also for an audited default posture).
    pub action: AlertAction,
    /// What the process got.
    pub result: OpResult,
    /// The acting process, read before the kernel was answered.
    pub process: ProcessInfo,
    /// Nanoseconds since the epoch.
    pub timestamp_ns: u128,
    /// Set when a container's rules decided: `rule` then indexes that container's rule
    /// set (its `generation` means nothing), and the alert carries the container's fields.
    pub container: Option<std::sync::Arc<ContainerTarget>>,
}

/// One container and the rule set of the policies that select it: what a backend is given
/// to enforce inside that container only.
#[derive(Clone, Debug)]
pub struct ContainerTarget {
    pub container: crate::container::Container,
    pub set: RuleSet,
    /// Where the container's root directory is reached from the agent: `/proc/<pid>/root`,
    /// or, before the runtime pivoted into it (an OCI `createRuntime` hook), the rootfs
    /// path of its bundle. Rule paths are resolved under it.
    pub root: std::path::PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum EnforceError {
    #[error("{backend} is not usable on this kernel: {reason}")]
    Unsupported { backend: Backend, reason: String },
    #[error("{backend}: {context}: {source}")]
    Io {
        backend: Backend,
        context: String,
        source: std::io::Error,
    },
}

/// What `apply` did with a rule set: what is enforced and what could not be.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ApplyReport {
    /// Rules the kernel now enforces (indexes into the rule set).
    pub enforced: Vec<usize>,
    /// Rules the backend cannot enforce, with the reason (reported to users, never silent).
    pub unenforceable: Vec<(usize, String)>,
    /// Limits that concern the rule set rather than one rule, or only part of a rule
    /// (the default posture's reach, watched-directory bounds, conditions not evaluated).
    pub notes: Vec<String>,
}

/// A running enforcer. `apply` replaces the whole rule set atomically from the kernel's
/// point of view: there is no moment with neither the old nor the new rules.
pub trait Enforcer: Send {
    fn backend(&self) -> Backend;
    /// Whether the backend reports every decision on the rules it enforces, audits and
    /// allowed operations included, because it sees each operation in the kernel
    /// (BPF-LSM). The eBPF monitor then stays quiet about those rules; a backend that
    /// reports only what it denies (fanotify) leaves audits to the monitor.
    fn reports_every_decision(&self) -> bool {
        false
    }
    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError>;
    /// The generation of the last successful apply: decisions made with its rules carry it
    /// in their [`RuleRef`]s. Backends that report no decisions need not count.
    fn generation(&self) -> Generation {
        Generation::default()
    }
    /// Stops enforcing and releases every kernel object (marks, programs, profiles).
    /// Pending permission events are answered (allowed) first.
    fn stop(&mut self);
    /// Decisions not reported because the alert queue was full.
    fn dropped_events(&self) -> u64 {
        0
    }
    /// The backend's per-container rule sets, if it keeps them (BPF-LSM); handed out
    /// once, to the agent's container enforcement.
    fn container_rules(&mut self) -> Option<bpf_lsm::containers::ContainerLsm> {
        None
    }
}

/// Facts about the kernel's LSM stack, for probe reasons.
fn active_lsms() -> String {
    // securityfs may not be mounted (containers, minimal VMs); mounting it is harmless,
    // and failing to leaves the list empty, which the probes report.
    let _ = crate::kernel::fs::ensure(crate::kernel::fs::PseudoFs::Security);
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// BPF-LSM is the strongest backend: tried by loading its programs (not attaching).
pub fn probe_bpf_lsm() -> ProbeResult {
    bpf_lsm::probe()
}

/// AppArmor: tried by loading (and removing) an empty profile with apparmor_parser.
pub fn probe_apparmor() -> ProbeResult {
    apparmor::probe()
}

pub fn probe_monitor_only() -> ProbeResult {
    let coverage = Op::ALL
        .iter()
        .map(|&op| Coverage {
            op,
            level: match op {
                Op::Capabilities => Level::None,
                _ => Level::AuditOnly,
            },
            note: match op {
                Op::Capabilities => "the eBPF monitor has no capability events: capability rules neither block nor alert",
                Op::Unlink | Op::Rename => "a rename, link or unlink of a file that a file rule protects from writes is an Audit (Block) alert (eBPF monitor); a syscalls rule on it is audited too",
                _ => "alerted by the eBPF monitor, never denied",
            }
            .to_string(),
        })
        .collect();
    ProbeResult {
        backend: Backend::MonitorOnly,
        usable: true,
        reason: "always available".to_string(),
        coverage,
    }
}

/// Every backend, strongest first, each actually tried.
pub fn probe_all() -> Vec<ProbeResult> {
    vec![
        // Auto's order. AppArmor before fanotify: it refuses in the kernel what fanotify
        // cannot see (create, unlink, rename, network, capabilities), fails closed when the
        // agent dies, and its denials are alerts (from the kernel's audit records).
        probe_bpf_lsm(),
        probe_apparmor(),
        fanotify::probe(),
        probe_monitor_only(),
    ]
}

/// Which enforcer to run (the configuration's `enforcer`, `--enforcer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EnforcerChoice {
    Auto,
    BpfLsm,
    Apparmor,
    Fanotify,
    MonitorOnly,
}

/// What happens, in allow-list mode, to operations no Allow rule permits (KubeArmor's
/// hostDefault*Posture; its default is audit). Process rules share the file posture, as in
/// KubeArmor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Postures {
    pub file: Posture,
    pub network: Posture,
    pub capabilities: Posture,
}

impl Default for Postures {
    fn default() -> Self {
        Postures {
            file: Posture::Audit,
            network: Posture::Audit,
            capabilities: Posture::Audit,
        }
    }
}

/// The enforcer the agent runs, and why it was chosen.
pub struct Selected {
    pub enforcer: Box<dyn Enforcer>,
    pub reason: String,
}

/// What `--enforcer auto` starts ([`select`]), from the probes: BPF-LSM;
/// then AppArmor when its denials can become alerts here (`apparmor_alerts`: the kernel's
/// audit records can be read); then fanotify; then an AppArmor whose denials raise no
/// alerts. None: nothing enforces, monitoring only.
pub fn auto_choice(enforcers: &[ProbeResult], apparmor_alerts: bool) -> Option<Backend> {
    let usable = |b: Backend| enforcers.iter().any(|r| r.backend == b && r.usable);
    [
        (Backend::BpfLsm, true),
        (Backend::Apparmor, apparmor_alerts),
        (Backend::Fanotify, true),
        (Backend::Apparmor, true),
    ]
    .into_iter()
    .find(|&(b, ok)| ok && usable(b))
    .map(|(b, _)| b)
}

/// [`auto_choice`] on this host: whether AppArmor's denials can become alerts is asked
/// only where AppArmor could be picked.
pub fn auto_pick(probes: &[ProbeResult]) -> Option<Backend> {
    let apparmor_usable = probes
        .iter()
        .any(|r| r.backend == Backend::Apparmor && r.usable);
    auto_choice(probes, apparmor_usable && apparmor::alert_source().is_ok())
}

/// Starts the requested backend, or with `auto` the strongest one that works here.
/// Enforcement decisions are sent on `events`.
pub fn select(
    choice: EnforcerChoice,
    postures: &Postures,
    pin_dir: &std::path::Path,
    events: std::sync::mpsc::SyncSender<EnforcerEvent>,
) -> Result<Selected, EnforceError> {
    use EnforcerChoice as C;
    // Profiles an earlier agent with the AppArmor backend left loaded (it crashed) must
    // not keep enforcing old rules next to another backend; AppArmor's start reloads.
    if let Err(e) = apparmor::unload_all() {
        tracing::warn!(error = %e, "leftover knoxctl AppArmor profiles");
    }
    let file_posture = postures.file;
    let start_fanotify = |events| -> Result<Box<dyn Enforcer>, EnforceError> {
        Ok(Box::new(fanotify::FanotifyEnforcer::start(
            events,
            file_posture,
        )?))
    };
    let lsm_postures = *postures;
    let start_bpf_lsm = |events| -> Result<Box<dyn Enforcer>, EnforceError> {
        Ok(Box::new(bpf_lsm::BpfLsmEnforcer::start(
            events,
            lsm_postures,
            pin_dir,
        )?))
    };
    match choice {
        C::MonitorOnly => Ok(Selected {
            enforcer: Box::new(monitor_only::MonitorOnly),
            reason: "requested with --enforcer monitor-only".into(),
        }),
        C::Fanotify => Ok(Selected {
            enforcer: start_fanotify(events)?,
            reason: "requested with --enforcer fanotify".into(),
        }),
        C::BpfLsm => Ok(Selected {
            enforcer: start_bpf_lsm(events)?,
            reason: "requested with --enforcer bpf-lsm".into(),
        }),
        C::Apparmor => {
            let e = apparmor::AppArmorEnforcer::start(*postures, events)?;
            let reason = format!("requested with --enforcer apparmor; {}", e.alert_note());
            Ok(Selected {
                enforcer: Box::new(e),
                reason,
            })
        }
        C::Auto => {
            let mut skipped = Vec::new();
            match start_bpf_lsm(events.clone()) {
                Ok(e) => {
                    // BPF-LSM and AppArmor do not both enforce: no knoxctl profile is
                    // loaded (leftovers were unloaded above).
                    return Ok(Selected {
                        enforcer: e,
                        reason: "auto: BPF-LSM works here (the strongest backend)".into(),
                    });
                }
                Err(e) => skipped.push(e.to_string()),
            }
            // An AppArmor whose denials cannot become alerts (no audit records here) is
            // kept only if fanotify does not work either.
            let mut silent = None;
            match apparmor::AppArmorEnforcer::start(*postures, events.clone()) {
                Ok(e) if e.alerts() => {
                    let reason = format!(
                        "auto: AppArmor loads profiles here ({}); {}",
                        skipped.join("; "),
                        e.alert_note()
                    );
                    return Ok(Selected {
                        enforcer: Box::new(e),
                        reason,
                    });
                }
                Ok(e) => {
                    skipped.push(format!("apparmor: {}", e.alert_note()));
                    silent = Some(e);
                }
                Err(e) => skipped.push(e.to_string()),
            }
            match start_fanotify(events) {
                Ok(e) => {
                    drop(silent);
                    return Ok(Selected {
                        enforcer: e,
                        reason: format!("auto: fanotify works here ({})", skipped.join("; ")),
                    });
                }
                Err(e) => skipped.push(e.to_string()),
            }
            if let Some(e) = silent {
                return Ok(Selected {
                    enforcer: Box::new(e),
                    reason: format!(
                        "auto: AppArmor loads profiles here, nothing else enforces ({})",
                        skipped.join("; ")
                    ),
                });
            }
            Ok(Selected {
                enforcer: Box::new(monitor_only::MonitorOnly),
                reason: format!(
                    "auto: no enforcer works here, monitoring only ({})",
                    skipped.join("; ")
                ),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_compare_across_wraparound() {
        let g = Generation(u32::MAX);
        assert_eq!(g.next(), Generation(0));
        assert!(g.next().is_after(g));
        assert!(!g.is_after(g.next()));
        assert!(!g.is_after(g));
        assert!(Generation(5).is_after(Generation(2)));
    }

    #[test]
    fn actions_and_results_read_as_in_kubearmor_alerts() {
        assert_eq!(AlertAction::AuditBlock.as_str(), "Audit (Block)");
        assert_eq!(AlertAction::Block, "Block");
        assert_eq!(OpResult::PermissionDenied.to_string(), "Permission denied");
        assert_eq!(OpResult::OperationNotPermitted, "Operation not permitted");
        assert_eq!(OpResult::Passed, "Passed");
    }
}

#[cfg(test)]
mod auto_tests {
    use super::*;

    fn probes(usable: &[Backend]) -> Vec<ProbeResult> {
        [
            Backend::BpfLsm,
            Backend::Apparmor,
            Backend::Fanotify,
            Backend::MonitorOnly,
        ]
        .into_iter()
        .map(|b| ProbeResult {
            backend: b,
            usable: usable.contains(&b) || b == Backend::MonitorOnly,
            reason: String::new(),
            coverage: Vec::new(),
        })
        .collect()
    }

    #[test]
    fn auto_is_what_the_agent_starts() {
        use Backend::*;
        let all = probes(&[BpfLsm, Apparmor, Fanotify]);
        assert_eq!(auto_choice(&all, false), Some(BpfLsm));
        let no_lsm = probes(&[Apparmor, Fanotify]);
        assert_eq!(auto_choice(&no_lsm, true), Some(Apparmor));
        // AppArmor without audit records yields to fanotify, as enforce::select does…
        assert_eq!(auto_choice(&no_lsm, false), Some(Fanotify));
        // …unless nothing else enforces.
        assert_eq!(auto_choice(&probes(&[Apparmor]), false), Some(Apparmor));
        assert_eq!(auto_choice(&probes(&[]), true), None);
    }
}
