//! What this host can do, as `knoxctl probe -o json` and sysdump report it: every enforcer
//! backend tried, which one `auto` picks, and whether the eBPF monitor loads. It lives
//! above both, since neither the enforcers nor the monitor know of each other.

use crate::enforce::{Backend, ProbeResult};
use serde::Serialize;

/// What `knoxctl probe -o json` and sysdump report: every backend tried, which one `auto`
/// picks, and whether the eBPF monitor loads.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeReport {
    pub enforcers: Vec<ProbeResult>,
    /// What `--enforcer auto` picks here.
    pub selected: Backend,
    /// Whether some backend makes the kernel deny (not only audit).
    pub enforcement_available: bool,
    pub monitor: MonitorProbe,
}

#[derive(Clone, Debug, Serialize)]
pub struct MonitorProbe {
    pub usable: bool,
    pub reason: Option<String>,
    /// Syscall events, which syscall rules need: the kernel may refuse their programs
    /// while the rest of the monitor works.
    #[serde(rename = "syscallsUsable")]
    pub syscalls_usable: bool,
    #[serde(rename = "syscallsReason")]
    pub syscalls_reason: Option<String>,
    /// How open events are traced: `fexit` (on the open syscalls: only opens pay) or
    /// `tracepoints` (syscall tracepoints: every syscall takes the slow path while on).
    #[serde(rename = "opensVia")]
    pub opens_via: &'static str,
    /// Why not fexit.
    #[serde(rename = "opensFexitReason")]
    pub opens_fexit_reason: Option<String>,
}

/// Tries every backend and the monitor.
pub fn probe_report() -> ProbeReport {
    let mut enforcers = crate::enforce::probe_all();
    let apparmor_usable = enforcers
        .iter()
        .any(|r| r.backend == Backend::Apparmor && r.usable);
    let auto = crate::enforce::auto_pick(&enforcers);
    if apparmor_usable && auto == Some(Backend::Fanotify) {
        // The probe already says why AppArmor's denials raise no alerts here.
        if let Some(r) = enforcers
            .iter_mut()
            .find(|r| r.backend == Backend::Apparmor)
        {
            r.reason.push_str(
                "; auto picks fanotify instead (its denials are alerts); AppArmor only when nothing else enforces",
            );
        }
    }
    let monitor = crate::monitor::probe().map_err(|e| e.to_string());
    let syscalls = match &monitor {
        Ok(outcome) => outcome.syscalls.clone(),
        Err(e) => Err(e.clone()),
    };
    let open_fexit = match &monitor {
        Ok(outcome) => outcome.open_fexit.clone(),
        Err(e) => Err(e.clone()),
    };
    ProbeReport {
        selected: auto.unwrap_or(Backend::MonitorOnly),
        enforcement_available: auto.is_some(),
        enforcers,
        monitor: MonitorProbe {
            usable: monitor.is_ok(),
            reason: monitor.err(),
            syscalls_usable: syscalls.is_ok(),
            syscalls_reason: syscalls.err(),
            opens_via: if open_fexit.is_ok() {
                "fexit"
            } else {
                "tracepoints"
            },
            opens_fexit_reason: open_fexit.err(),
        },
    }
}
