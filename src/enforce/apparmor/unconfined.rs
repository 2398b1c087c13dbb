//! Operations a Block rule names that AppArmor did not refuse because the process was not
//! in a knoxctl profile: AppArmor attaches a profile at exec only, so a process that was
//! running before `knoxctl-host` was loaded (init, a shell, a daemon, and what they fork
//! without exec'ing) stays unconfined, and a program with a more specific profile of its
//! own keeps that one. The eBPF monitor sees such an operation succeed; [`reach`] says
//! whether its process runs outside knoxctl's profiles, and the alert's `Enforcer` then
//! says so (`AppArmor (unconfined: started before the profile)`), with `Result: Passed`.
//!
//! Owns: whether the AppArmor backend enforces the host now ([`set_active`], a flag the
//! monitor's pipeline checks before anything else), and the per-process cache of AppArmor
//! labels. The pipeline asks only about operations that matched a Block rule AppArmor holds
//! and succeeded (a confined process's are refused, and their audit records are the
//! alerts), so a label is read for bypassing processes only, once per process
//! ([`TTL`]). And [`scan`]: the processes outside knoxctl's profiles at an apply, which
//! the monitor's kernel filter then follows, so that only their opens are events, with
//! [`after_exec`] telling it what an unconfined one's exec put it under.

use super::containers::label;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The `Enforcer` of an alert about an unconfined process.
pub const UNCONFINED: &str = "AppArmor (unconfined: started before the profile)";

/// How long a process's label is trusted. A label changes only at exec (or when a profile
/// is unloaded: every apply forgets all); a pid reused within it by another process is
/// the only way a cached label can be wrong, and a process looping over a blocked file
/// then costs one /proc read per period, not one per open.
pub const TTL: Duration = Duration::from_secs(2);
/// Labels kept at most (then all are forgotten: bounded memory, a re-read each).
const MAX_CACHED: usize = 4096;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static CACHE: Mutex<Option<HashMap<u32, (Instant, Label)>>> = Mutex::new(None);

/// What a process runs under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Label {
    /// One of knoxctl's profiles: AppArmor decided its operations (refused the blocked
    /// ones, or exempts it on purpose: the agent, the parser).
    Knoxctl,
    Unconfined,
    /// Another profile (a distribution's): knoxctl's rules do not reach it.
    Other(String),
}

impl Label {
    fn of(text: &str) -> Label {
        if text.starts_with(super::profile::PREFIX) {
            Label::Knoxctl
        } else if text == "unconfined" {
            Label::Unconfined
        } else {
            Label::Other(text.to_string())
        }
    }

    /// The alert's `Enforcer` for an operation AppArmor let through; None for knoxctl's.
    pub fn enforcer(&self) -> Option<String> {
        match self {
            Label::Knoxctl => None,
            Label::Unconfined => Some(UNCONFINED.to_string()),
            Label::Other(p) => Some(format!(
                "AppArmor (confined by its own profile {p}, not by knoxctl's)"
            )),
        }
    }
}

/// The AppArmor backend enforces the host (from its start to its stop).
pub(super) fn set_active(on: bool) {
    ACTIVE.store(on, Ordering::SeqCst);
    forget_all();
}

/// Profiles were replaced or unloaded: a process's label may have changed.
pub(super) fn forget_all() {
    *CACHE.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// `pid`'s label, from the cache or /proc; None when the process is gone.
fn cached(pid: u32, now: Instant) -> Option<Label> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    let map = cache.get_or_insert_with(HashMap::new);
    if let Some((at, l)) = map.get(&pid)
        && now.duration_since(*at) < TTL
    {
        return Some(l.clone());
    }
    let l = Label::of(&label(pid)?);
    if map.len() >= MAX_CACHED {
        map.clear();
    }
    map.insert(pid, (now, l.clone()));
    Some(l)
}

/// The `Enforcer` of an alert about an operation by `pid` that a Block rule of the host's
/// AppArmor profiles names and that succeeded, or None when AppArmor does not enforce the
/// host or the process runs in a knoxctl profile (the operation was decided there, and its
/// denials are the audit records' alerts).
///
/// `exec`: the operation is the exec that made `pid` (its label is the new program's).
/// A gone process is judged by its parent otherwise (a process that forks without
/// exec'ing stays in its parent's label, and one that exec'd after the load would have
/// been refused); a gone exec'd program is not judged: an unconfined caller's blocked
/// program runs in its own knoxctl profile that grants nothing, fails and is alerted from
/// its audit records.
pub fn reach(pid: u32, ppid: u32, exec: bool) -> Option<String> {
    if !ACTIVE.load(Ordering::Relaxed) {
        return None;
    }
    let now = Instant::now();
    let l = match cached(pid, now) {
        Some(l) => l,
        None if exec => return None,
        None => cached(ppid, now)?,
    };
    l.enforcer()
}

/// PF_KTHREAD in /proc/PID/stat's flags: a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

/// The processes outside knoxctl's profiles now, with their label, for the eBPF monitor's
/// in-kernel filter of opens (the agent hands them to `Monitor::set_unreached`): every
/// process of /proc whose label is not a knoxctl profile, except the agent and kernel
/// threads (`None`: seen, and not watched). Read at each apply; from then on the kernel
/// follows forks (a child keeps its forker's label) and exits, and asks [`after_exec`]
/// about an unconfined process's exec: usually it is under `knoxctl-host` then (which
/// attaches to every program) and is no longer watched; a program with a more specific
/// profile of its own (a distribution's) keeps it watched.
///
/// Not followed: a process started after the apply that enters such a profile. A process
/// already under another profile at the apply stays watched across its execs (such
/// profiles may keep it, or make it unconfined).
pub fn scan() -> Vec<(u32, Option<Label>)> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .map(|pid| {
            if pid == me || kernel_thread(pid) {
                return (pid, None);
            }
            // Gone, or a process /proc hides the label of: judged by the pipeline.
            let outside = label(pid)
                .map(|l| Label::of(&l))
                .filter(|l| *l != Label::Knoxctl);
            (pid, outside)
        })
        .collect()
}

/// What `pid`, outside knoxctl's profiles before, runs under after an exec: read afresh
/// (and cached for [`reach`], so that its next operations are judged by the new label);
/// None when it is gone.
pub fn after_exec(pid: u32) -> Option<Label> {
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(map) = cache.as_mut() {
        map.remove(&pid);
    }
    drop(cache);
    cached(pid, Instant::now())
}

/// Whether `pid` is a kernel thread (a gone process is not).
fn kernel_thread(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // After the comm's closing parenthesis: state, ppid, pgrp, session, tty_nr, tpgid, flags.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().nth(6)?.parse::<u64>().ok())
        .is_some_and(|flags| flags & PF_KTHREAD != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The scan lists this test process (unconfined, or under whatever profile runs the
    /// tests, never a knoxctl one here) and skips kernel threads (kthreadd is pid 2).
    #[test]
    fn scan_lists_processes_outside_knoxctl_profiles_and_skips_kernel_threads() {
        assert!(kernel_thread(2));
        assert!(!kernel_thread(std::process::id()));
        let listed = scan();
        let me = listed.iter().find(|(p, _)| *p == std::process::id());
        assert_eq!(
            me,
            Some(&(std::process::id(), None)),
            "the agent itself is never listed"
        );
        let kthreadd = listed.iter().find(|(p, _)| *p == 2);
        assert_eq!(kthreadd, Some(&(2, None)));
        // This test's parent (cargo's test harness) runs outside knoxctl's profiles; with
        // AppArmor off in this kernel, /proc has no label and nothing is listed.
        let parent = std::os::unix::process::parent_id();
        let expected = label(parent).map(|_| ());
        let listed_parent = listed
            .iter()
            .find(|(p, _)| *p == parent)
            .and_then(|(_, w)| w.as_ref());
        assert_eq!(listed_parent.map(|_| ()), expected, "{listed_parent:?}");
    }

    #[test]
    fn labels_say_what_confines_the_process() {
        assert_eq!(Label::of("knoxctl-host"), Label::Knoxctl);
        assert_eq!(Label::of("knoxctl-host-block-3"), Label::Knoxctl);
        assert_eq!(Label::of("knoxctl-agent"), Label::Knoxctl);
        assert_eq!(Label::of("unconfined"), Label::Unconfined);
        assert_eq!(Label::Knoxctl.enforcer(), None);
        assert_eq!(Label::Unconfined.enforcer().as_deref(), Some(UNCONFINED));
        let other = Label::of("/usr/sbin/cupsd").enforcer().unwrap();
        assert!(other.contains("/usr/sbin/cupsd"), "{other}");
        assert!(other.starts_with("AppArmor ("), "{other}");
    }

    #[test]
    fn after_exec_reads_the_label_afresh() {
        let me = std::process::id();
        let now = Instant::now();
        CACHE
            .lock()
            .unwrap()
            .get_or_insert_with(HashMap::new)
            .insert(me, (now, Label::Other("stale".into())));
        // With AppArmor off in this kernel /proc has no label; with it on, the test runner
        // is never in a knoxctl profile: either way, not the stale cached one.
        let read = label(me).map(|l| Label::of(&l));
        assert_eq!(after_exec(me), read);
        assert_ne!(read, Some(Label::Other("stale".into())));
        assert_eq!(after_exec(u32::MAX), None, "a gone process");
    }

    #[test]
    fn nothing_is_read_while_apparmor_does_not_enforce() {
        // Not active (no AppArmor enforcer runs in this test process).
        assert_eq!(reach(std::process::id(), 1, false), None);
    }
}
