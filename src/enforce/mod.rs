//! Enforcer backends behind one trait. A backend takes the host's normalized rule set,
//! makes the kernel deny what it blocks, and reports each decision it took as an
//! [`EnforcerEvent`]; the agent turns those into alerts.
//!
//! Backends are chosen by probing what this kernel really allows (loading, not reading
//! /sys/kernel/security/lsm), see [`probe`].

pub mod fanotify;

use crate::policy::normalize::RuleSet;
use crate::procfs::ProcessInfo;
use serde::Serialize;
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

/// One decision an enforcer took about a real operation.
#[derive(Clone, Debug)]
pub struct EnforcerEvent {
    pub backend: Backend,
    pub operation: Operation,
    /// The path (or address, capability) acted on.
    pub resource: String,
    /// KubeArmor-style detail: `syscall=SYS_EXECVE`, `syscall=SYS_OPENAT flags=O_WRONLY`.
    pub data: String,
    /// Index into the `RuleSet::rules` the backend was given, or `None` for a
    /// default-posture decision (PolicyName `DefaultPosture`).
    pub rule: Option<usize>,
    /// `Block`, `Audit (Block)`, or `Audit` for an audited default posture.
    pub action: String,
    /// What the process got: `Permission denied`, `Operation not permitted`, `Passed`.
    pub result: String,
    /// The acting process, read before the kernel was answered.
    pub process: ProcessInfo,
    /// Nanoseconds since the epoch.
    pub timestamp_ns: u128,
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
    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError>;
    /// Stops enforcing and releases every kernel object (marks, programs, profiles).
    /// Pending permission events are answered (allowed) first.
    fn stop(&mut self);
}
