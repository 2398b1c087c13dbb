//! From kernel to alert: enforcer decisions and monitor events are matched to the rules
//! that caused them, enriched with process facts, shaped as KubeArmor alerts and handed to
//! the store. Each source runs on its own thread; queues are bounded and every loss is
//! counted in [`Stats`].

use super::core::{HostRules, Stats};
use crate::alert::{Alert, format_rfc3339};
use crate::enforce::{EnforcerEvent, Operation};
use crate::policy::normalize::Rule;
use crate::procfs::ProcessInfo;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};

/// What every alert of this agent carries.
#[derive(Clone, Debug)]
pub struct AlertContext {
    pub cluster_name: String,
    pub host_name: String,
}

/// KubeArmor writes directories with a trailing slash (`"Cwd": "/root/"`).
fn dir_with_slash(d: &str) -> String {
    if d.is_empty() || d.ends_with('/') {
        d.to_string()
    } else {
        format!("{d}/")
    }
}

pub fn base_alert(ctx: &AlertContext, p: &ProcessInfo, timestamp_ns: u128) -> Alert {
    let secs = (timestamp_ns / 1_000_000_000) as i64;
    let nanos = (timestamp_ns % 1_000_000_000) as u32;
    Alert {
        timestamp: secs,
        updated_time: format_rfc3339(secs, nanos),
        cluster_name: ctx.cluster_name.clone(),
        host_name: ctx.host_name.clone(),
        host_pid: p.pid,
        host_ppid: p.ppid,
        pid: p.pid,
        ppid: p.ppid,
        uid: p.uid as i32,
        cwd: dir_with_slash(&p.cwd),
        tty: p.tty.clone(),
        kind: "MatchedHostPolicy".to_string(),
        ..Alert::default()
    }
}

/// Fills the policy fields from the rule that decided, or marks a default-posture decision.
pub fn set_rule(alert: &mut Alert, rule: Option<&Rule>) {
    match rule {
        Some(r) => {
            alert.policy_name = r.policy.rsplit('/').next().unwrap_or(&r.policy).to_string();
            alert.severity = r.severity.map(|s| s.to_string()).unwrap_or_default();
            alert.tags = r.tags.join(",");
            alert.atags = r.tags.clone();
            alert.message = r.message.clone().unwrap_or_default();
        }
        None => alert.policy_name = "DefaultPosture".to_string(),
    }
}

/// An enforcer decision as an alert. For an exec, the acting process is still the image that
/// asked for it (the shell), which KubeArmor reports as the Source and parent.
pub fn enforcer_alert(ev: &EnforcerEvent, host: &HostRules, ctx: &AlertContext) -> Alert {
    let mut a = base_alert(ctx, &ev.process, ev.timestamp_ns);
    set_rule(&mut a, ev.rule.and_then(|i| host.set.rules.get(i)));
    a.operation = ev.operation.to_string();
    a.resource = ev.resource.clone();
    a.data = ev.data.clone();
    a.enforcer = ev.backend.alert_name().to_string();
    a.action = ev.action.clone();
    a.result = ev.result.clone();
    match ev.operation {
        Operation::Process => {
            a.process_name = ev.resource.clone();
            a.parent_process_name = ev.process.exe.clone();
            a.source = ev.process.exe.clone();
        }
        _ => {
            a.process_name = ev.process.exe.clone();
            a.parent_process_name = ev.process.parent_exe.clone();
            a.source = ev.process.cmdline.clone();
        }
    }
    a
}

/// Hands an alert to the store's queue, counting it as dropped when the queue is full.
pub fn submit(tx: &SyncSender<Alert>, alert: Alert, stats: &Stats) {
    match tx.try_send(alert) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
            stats.alerts_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs until the enforcer's sender is dropped (the enforcer stopped).
pub fn run_enforcer_events(
    events: Receiver<EnforcerEvent>,
    host: Arc<RwLock<HostRules>>,
    ctx: AlertContext,
    alerts: SyncSender<Alert>,
    stats: Arc<Stats>,
) {
    for ev in events {
        let alert = {
            let host = host.read().expect("host rules lock");
            enforcer_alert(&ev, &host, &ctx)
        };
        submit(&alerts, alert, &stats);
    }
}
