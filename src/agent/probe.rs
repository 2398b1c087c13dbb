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
}

/// What `--enforcer auto` starts ([`crate::enforce::select`]), from the probes: BPF-LSM;
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

/// Tries every backend and the monitor.
pub fn probe_report() -> ProbeReport {
    let mut enforcers = crate::enforce::probe_all();
    let apparmor_usable = enforcers
        .iter()
        .any(|r| r.backend == Backend::Apparmor && r.usable);
    let apparmor_alerts = apparmor_usable && crate::enforce::apparmor::alert_source().is_ok();
    let auto = auto_choice(&enforcers, apparmor_alerts);
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
    ProbeReport {
        selected: auto.unwrap_or(Backend::MonitorOnly),
        enforcement_available: auto.is_some(),
        enforcers,
        monitor: MonitorProbe {
            usable: monitor.is_ok(),
            reason: monitor.err(),
            syscalls_usable: syscalls.is_ok(),
            syscalls_reason: syscalls.err(),
        },
    }
}

#[cfg(test)]
mod tests {
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
