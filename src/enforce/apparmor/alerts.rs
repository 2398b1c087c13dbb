//! AppArmor's denials as alerts: reads the kernel's audit records, keeps the AVC records of
//! `knoxctl-*` profiles that say `DENIED`, finds the rule that made each decision and sends
//! it as an [`EnforcerEvent`] on the channel every backend uses. Records that say `AUDIT`
//! come from the audited allow-everything line of an allow-list with posture audit
//! (see [`profile`]): an open or exec no rule grants is a default-posture Audit alert
//! (`Passed`); one an Allow rule grants, which the kernel audits too, is dropped.
//!
//! Where the records come from ([`Source::open`], said by `probe` and the agent log):
//! - the audit netlink socket's multicast group `AUDIT_NLGRP_READLOG` (Linux 3.16+,
//!   CAP_AUDIT_READ): the kernel sends every record there, whether or not an audit daemon
//!   (auditd, journald) owns the socket, and a reader changes no audit setting. Becoming
//!   the audit daemon (`AUDIT_SET` pid) was the alternative: it would take the records
//!   away from a running auditd, and an agent that dies would leave the kernel queueing
//!   for a dead pid; the multicast reader has nothing to restore on stop.
//! - the kernel log (`/dev/kmsg`, `audit: type=1400 ...`) when the multicast group cannot
//!   be joined: there the kernel prints audit records only while no audit daemon runs, and
//!   rate-limited (`printk_ratelimit`, 10 per 5 s), so bursts lose alerts.
//!
//! Mapping: the profile names the target (`knoxctl-host`: the host rules without
//! fromSource; `knoxctl-host-src-*`: a fromSource program's; `knoxctl-host-block-N`: a
//! blocked program an unconfined process started), and the path, operation and mask are
//! judged again by [`CompiledRules`], the matcher the other backends and the monitor use:
//! the denying rule names the policy, a default-posture denial (allow-list mode, posture
//! block) is `DefaultPosture`. A denial no rule explains in a profile holding raw rules
//! (`spec.apparmor`, whose `deny` lines the profile writes as `audit deny`) is a Block of
//! the policy whose raw lines refuse it ([`raw_match`]), as KubeArmor reports denials of
//! any line of its profiles (a policy of raw rules only is named by a stand-in rule: the
//! container target's gets one appended, the host's are kept by the agent after its rules,
//! [`raw_rule_index`]). A record still without a source (a rule set replaced between the
//! denial and its record) is counted, not guessed at.
//!
//! Process facts are read from /proc when the record arrives; a process that is gone by
//! then is described by the record (pid, comm, fsuid) and, when the task had an audit
//! context, by the `SYSCALL`/`PROCTITLE` records of the same event (ppid, exe, command
//! line), waited for at most [`WAIT_EXTRA`].

use super::audit::{self, Avc, Extra, Record};
use super::{profile, raw_match};
use crate::enforce::{
    AlertAction, Backend, ContainerTarget, EnforcerEvent, Generation, OpResult, Operation, RuleRef,
};
use crate::policy::Action;
use crate::policy::matcher::{CompiledRules, Decision, Known, Verdict};
use crate::policy::normalize::{Category, Matcher, Rule, RuleSet};
use crate::procfs::{self, ProcessInfo};
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a denial by a process that is gone waits for the rest of its event's records.
pub const WAIT_EXTRA: Duration = Duration::from_millis(50);
/// `AUDIT_NLGRP_READLOG`: the read-only multicast group of audit records.
const AUDIT_NLGRP_READLOG: u32 = 1;
/// Receive buffer for the netlink socket: room for bursts (a record is at most ~9 KiB).
const RCVBUF: libc::c_int = 8 << 20;
const BLOCK_PREFIX: &str = "knoxctl-host-block-";
const SOURCE_PREFIX: &str = "knoxctl-host-src-";

/// Where audit records are read.
pub enum Source {
    Netlink(OwnedFd),
    Kmsg(OwnedFd),
}

impl Source {
    /// The audit multicast group, or the kernel log; the error says why neither.
    pub fn open() -> Result<Source, String> {
        if audit_off() {
            return Err("the kernel runs with audit=0 and writes no audit records".into());
        }
        let netlink = match netlink() {
            Ok(fd) => return Ok(Source::Netlink(fd)),
            Err(e) => e,
        };
        kmsg().map(Source::Kmsg).map_err(|k| {
            format!(
                "joining the audit netlink multicast group failed ({netlink}), and so did opening /dev/kmsg ({k})"
            )
        })
    }

    /// Said in `probe` and the agent log.
    pub fn describe(&self) -> &'static str {
        match self {
            Source::Netlink(_) => {
                "alerts from the kernel's audit records, read from the audit netlink multicast group (AUDIT_NLGRP_READLOG: next to auditd or journald if they run, no audit setting changed)"
            }
            Source::Kmsg(_) => {
                "alerts from the kernel's audit records, read from the kernel log (/dev/kmsg: the audit netlink multicast group could not be joined; the kernel logs audit records there only while no audit daemon runs, and at most 10 per 5 s, so bursts lose alerts)"
            }
        }
    }

    fn fd(&self) -> RawFd {
        match self {
            Source::Netlink(f) | Source::Kmsg(f) => f.as_raw_fd(),
        }
    }

    /// Reads what is available (non-blocking) into `out`; Err(WouldBlock) when nothing.
    fn read(&self, buf: &mut [u8], out: &mut Vec<Record>, lost: &AtomicU64) -> io::Result<()> {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::read(self.fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // The socket overflowed, or kmsg records were overwritten: some are lost.
                Some(libc::ENOBUFS) | Some(libc::EPIPE) => {
                    lost.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                _ => return Err(e),
            }
        }
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let data = &buf[..n as usize];
        match self {
            Source::Netlink(_) => netlink_records(data, out),
            Source::Kmsg(_) => {
                if let Some(r) = audit::parse_kmsg(&String::from_utf8_lossy(data)) {
                    out.push(r);
                }
            }
        }
        Ok(())
    }
}

/// `audit=0` on the kernel command line: no audit records at all.
fn audit_off() -> bool {
    std::fs::read_to_string("/proc/cmdline")
        .map(|c| {
            c.split_whitespace()
                .any(|w| w == "audit=0" || w == "audit=off")
        })
        .unwrap_or(false)
}

fn netlink() -> Result<OwnedFd, String> {
    // SAFETY: plain socket(2).
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_AUDIT,
        )
    };
    if fd < 0 {
        return Err(format!(
            "socket(NETLINK_AUDIT): {}",
            io::Error::last_os_error()
        ));
    }
    // SAFETY: fd is a new socket we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: zeroed sockaddr_nl is valid; fields set below.
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    sa.nl_groups = 1 << (AUDIT_NLGRP_READLOG - 1);
    // SAFETY: sa is a valid sockaddr_nl of the given size.
    let r = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if r < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EPERM) => {
                "bind to AUDIT_NLGRP_READLOG: needs CAP_AUDIT_READ (run as root)".into()
            }
            _ => format!("bind to AUDIT_NLGRP_READLOG: {e}"),
        });
    }
    // Best effort: FORCE (root) passes rmem_max; the plain one is capped by it.
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: an int option.
        let r = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&RCVBUF as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if r == 0 {
            break;
        }
    }
    Ok(fd)
}

fn kmsg() -> Result<OwnedFd, String> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags_nonblock()
        .open("/dev/kmsg")
        .map_err(|e| format!("/dev/kmsg: {e}"))?;
    let fd = OwnedFd::from(file);
    // Only what is logged from now on.
    // SAFETY: lseek on our fd.
    unsafe { libc::lseek(fd.as_raw_fd(), 0, libc::SEEK_END) };
    Ok(fd)
}

trait NonBlock {
    fn custom_flags_nonblock(&mut self) -> &mut Self;
}

impl NonBlock for std::fs::OpenOptions {
    fn custom_flags_nonblock(&mut self) -> &mut Self {
        use std::os::unix::fs::OpenOptionsExt;
        self.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
    }
}

/// The records in one netlink datagram (one per message; the text is not NUL-terminated).
pub fn netlink_records(data: &[u8], out: &mut Vec<Record>) {
    const HDR: usize = 16;
    let mut off = 0;
    while off + HDR <= data.len() {
        let len =
            u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) as usize;
        let kind = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
        if len < HDR {
            break;
        }
        let end = (off + len).min(data.len());
        let text = String::from_utf8_lossy(&data[off + HDR..end]);
        if let Some(r) = audit::parse(kind, &text) {
            out.push(r);
        }
        // NLMSG_ALIGN.
        off += (len + 3) & !3;
    }
}

/// The rules denials are judged with: those of the last apply.
pub struct Rules {
    pub generation: Generation,
    pub set: RuleSet,
    pub compiled: CompiledRules,
}

/// What the enforcer and its reader share.
pub struct Shared {
    pub rules: Mutex<Option<Arc<Rules>>>,
    pub events: SyncSender<EnforcerEvent>,
    pub stop: AtomicBool,
    pub dropped: AtomicU64,
    /// Denials of knoxctl profiles that no rule explained.
    pub unattributed: AtomicU64,
    /// Reads that lost records (socket overflow, overwritten kernel log).
    pub lost: AtomicU64,
    /// Container profiles (`knoxctl-c-NAME`) of running containers: their denials are
    /// judged by that container's rules and carry its fields ([`super::containers`]).
    containers: Mutex<BTreeMap<String, Arc<super::containers::ContainerRules>>>,
}

impl Shared {
    pub fn new(events: SyncSender<EnforcerEvent>) -> Shared {
        Shared {
            rules: Mutex::new(None),
            events,
            stop: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            unattributed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            containers: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn set_rules(&self, rules: Rules) {
        *self.rules.lock().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(rules));
    }

    pub fn set_containers(&self, c: BTreeMap<String, Arc<super::containers::ContainerRules>>) {
        *self.containers.lock().unwrap_or_else(|e| e.into_inner()) = c;
    }

    fn container(&self, profile: &str) -> Option<Arc<super::containers::ContainerRules>> {
        let c = self.containers.lock().unwrap_or_else(|e| e.into_inner());
        c.get(profile).cloned()
    }

    fn current(&self) -> Option<Arc<Rules>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

pub fn spawn(source: Source, shared: Arc<Shared>) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("knox-apparmor".into())
        .spawn(move || Reader::new(shared).run(&source))
}

/// One decision, before the process is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub operation: Operation,
    pub resource: String,
    pub data: String,
    pub rule: Option<usize>,
    pub result: OpResult,
    /// Block for a denial, Audit for an audited operation the default posture let pass.
    pub action: AlertAction,
    /// The denial is of a blocked program's start (`knoxctl-host-block-N`): the acting
    /// process is the program itself, so its parent is the one that started it.
    pub started: bool,
    /// The denial is of this policy's raw rules (`spec.apparmor`): `rule` is then another
    /// rule of that policy, or None when it has none (the reader names it otherwise).
    pub raw_policy: Option<String>,
}

struct Pending {
    /// The container whose profile denied, with its rules.
    container: Option<Arc<crate::enforce::ContainerTarget>>,
    /// The process was read from /proc: the event's other records add nothing.
    alive: bool,
    at: Instant,
    findings: Vec<Finding>,
    generation: Generation,
    process: ProcessInfo,
    timestamp_ns: u128,
    extra: Extra,
}

struct Reader {
    shared: Arc<Shared>,
    /// Denials of processes that were gone, by serial, waiting for their event's records.
    pending: BTreeMap<u64, Pending>,
    /// Blocked programs already reported, by pid: their loader is refused several files.
    started: HashMap<i32, Instant>,
    /// Per container profile, its target and that target with stand-in rules for its
    /// policies of raw rules only ([`with_raw_rules`]), made once per set of rules.
    raw_targets: HashMap<String, (Arc<ContainerTarget>, Arc<ContainerTarget>)>,
}

impl Reader {
    fn new(shared: Arc<Shared>) -> Reader {
        Reader {
            shared,
            pending: BTreeMap::new(),
            started: HashMap::new(),
            raw_targets: HashMap::new(),
        }
    }

    /// `target` (of container profile `profile`) with its raw policies' stand-in rules.
    fn raw_target(&mut self, profile: &str, target: &Arc<ContainerTarget>) -> Arc<ContainerTarget> {
        if let Some((of, with)) = self.raw_targets.get(profile)
            && Arc::ptr_eq(of, target)
        {
            return with.clone();
        }
        if self.raw_targets.len() > 1024 {
            self.raw_targets.clear();
        }
        let with = Arc::new(with_raw_rules(target));
        self.raw_targets
            .insert(profile.to_string(), (target.clone(), with.clone()));
        with
    }

    fn run(mut self, source: &Source) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut records = Vec::new();
        loop {
            let stopping = self.shared.stop.load(Ordering::SeqCst);
            let mut pfd = libc::pollfd {
                fd: source.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, if stopping { 0 } else { 25 }) };
            let mut read_any = false;
            loop {
                match source.read(&mut buf, &mut records, &self.shared.lost) {
                    Ok(()) => read_any = true,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
                for r in records.drain(..) {
                    self.record(&r);
                }
            }
            self.flush(false);
            if stopping && !read_any {
                self.flush(true);
                return;
            }
        }
    }

    fn record(&mut self, r: &Record) {
        match r.kind {
            audit::AUDIT_AVC => {
                let Some(avc) = Avc::of(r) else { return };
                if avc.verdict == "DENIED" || avc.verdict == "AUDIT" {
                    self.denial(&avc);
                }
            }
            audit::AUDIT_SYSCALL | audit::AUDIT_PROCTITLE => {
                if let Some(p) = self.pending.get_mut(&r.serial) {
                    p.extra.add(r);
                }
            }
            audit::AUDIT_EOE => {
                if let Some(p) = self.pending.remove(&r.serial) {
                    self.send(p);
                }
            }
            _ => {}
        }
    }

    fn denial(&mut self, avc: &Avc) {
        let base = avc.profile.split("//").next().unwrap_or_default();
        if !base.starts_with(profile::PREFIX) || base == super::PROBE_PROFILE {
            return;
        }
        let (rules, container) = if base.starts_with(profile::CONTAINER_PREFIX) {
            let Some(c) = self.shared.container(base) else {
                self.shared.unattributed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            (c.rules.clone(), Some(c.target.clone()))
        } else {
            let Some(rules) = self.shared.current() else {
                return;
            };
            (rules, None)
        };
        // Most audited operations of an allow-list are ones an Allow rule grants: judged
        // before /proc is read for them (they raise nothing, and count as nothing).
        if avc.verdict == "AUDIT" && findings(avc, &rules, None).is_empty() {
            return;
        }
        let mut process = procfs::process_info(avc.pid);
        // Gone, or a zombie already: the record and the event's other records tell more.
        let alive = !process.exe.is_empty();
        if base.starts_with(BLOCK_PREFIX) {
            // One alert per blocked start: the loader is refused each library it tries.
            let now = Instant::now();
            if self.started.len() > 1024 {
                self.started
                    .retain(|_, t| now.duration_since(*t) < Duration::from_secs(10));
            }
            if let Some(t) = self.started.get(&avc.pid)
                && now.duration_since(*t) < Duration::from_secs(10)
            {
                return;
            }
            self.started.insert(avc.pid, now);
        }
        let exe = (!process.exe.is_empty()).then(|| process.exe.clone());
        let mut findings = findings(avc, &rules, exe.as_deref());
        let mut container = container;
        let unnamed = |f: &Finding| f.raw_policy.is_some() && f.rule.is_none();
        if findings.iter().any(unnamed) {
            match &container {
                // The event carries the container's rules: a stand-in rule names the
                // policy of raw rules only.
                Some(t) => {
                    let t = self.raw_target(base, t);
                    for f in findings.iter_mut().filter(|f| unnamed(f)) {
                        f.rule = t
                            .set
                            .rules
                            .iter()
                            .position(|r| Some(&r.policy) == f.raw_policy.as_ref());
                    }
                    container = Some(t);
                }
                // The host's alerts are named from the agent's rule set, which holds a
                // stand-in rule per raw entry after its rules ([`raw_rule_index`]).
                None => {
                    for f in findings.iter_mut().filter(|f| unnamed(f)) {
                        f.rule = rules
                            .set
                            .apparmor
                            .iter()
                            .position(|r| Some(&r.policy) == f.raw_policy.as_ref())
                            .map(|k| raw_rule_index(&rules.set, k));
                    }
                    findings.retain(|f| f.rule.is_some());
                }
            }
        }
        if findings.is_empty() {
            self.shared.unattributed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(?avc, "an AppArmor denial no rule explains");
            return;
        }
        if !alive {
            process.pid = avc.pid;
            process.uid = avc.fsuid.unwrap_or(process.uid);
            if process.cmdline.is_empty() {
                process.cmdline = avc.comm.clone();
            }
        }
        let p = Pending {
            container,
            alive,
            at: Instant::now(),
            findings,
            generation: rules.generation,
            process,
            timestamp_ns: avc.timestamp_ns,
            extra: Extra::default(),
        };
        if alive {
            self.send(p);
        } else {
            if self.pending.len() >= 256
                && let Some((&oldest, _)) = self.pending.iter().next()
                && let Some(old) = self.pending.remove(&oldest)
            {
                self.send(old);
            }
            // Two denials of one event (rename: both names) wait together.
            match self.pending.get_mut(&avc.serial) {
                Some(q) => q.findings.extend(p.findings),
                None => {
                    self.pending.insert(avc.serial, p);
                }
            }
        }
    }

    /// Sends pending denials whose wait is over (all of them with `all`).
    fn flush(&mut self, all: bool) {
        let due: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| all || p.at.elapsed() >= WAIT_EXTRA)
            .map(|(s, _)| *s)
            .collect();
        for s in due {
            if let Some(p) = self.pending.remove(&s) {
                self.send(p);
            }
        }
    }

    fn send(&self, p: Pending) {
        let mut process = p.process;
        if !p.alive {
            let x = p.extra;
            if let Some(ppid) = x.ppid.filter(|&pp| pp > 0) {
                process.ppid = ppid;
                if process.parent_exe.is_empty() {
                    process.parent_exe = procfs::process_info(ppid).exe;
                }
            }
            process.uid = x.uid.unwrap_or(process.uid);
            process.exe = x.exe.unwrap_or(process.exe);
            process.cmdline = x.cmdline.unwrap_or(process.cmdline);
        }
        for f in p.findings {
            let mut process = process.clone();
            if f.started {
                // The program runs already: the alert's Source is what started it.
                process.exe = std::mem::take(&mut process.parent_exe);
            }
            let ev = EnforcerEvent {
                backend: Backend::Apparmor,
                operation: f.operation,
                resource: f.resource,
                data: f.data,
                rule: f.rule.map(|index| RuleRef {
                    generation: p.generation,
                    index,
                }),
                action: f.action,
                result: f.result,
                process,
                timestamp_ns: p.timestamp_ns,
                container: p.container.clone(),
            };
            match self.shared.events.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    self.shared.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Which profile made a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// `knoxctl-host`: rules without fromSource.
    Host,
    /// `knoxctl-host-src-*`: a fromSource program's rules.
    Source,
    /// `knoxctl-host-block-N`: a blocked program started by an unconfined process.
    Block,
}

fn target(profile_name: &str) -> Option<Target> {
    let base = profile_name.split("//").next().unwrap_or_default();
    if base == profile::HOST || base.starts_with(profile::CONTAINER_PREFIX) {
        Some(Target::Host)
    } else if base.starts_with(SOURCE_PREFIX) {
        Some(Target::Source)
    } else if base.starts_with(BLOCK_PREFIX) {
        Some(Target::Block)
    } else {
        None
    }
}

/// The rules a denial in `avc.profile` came from, judged as the other backends judge them.
/// `exe`: the acting process's executable, when it could be read.
pub fn findings(avc: &Avc, rules: &Rules, exe: Option<&str>) -> Vec<Finding> {
    let Some(target) = target(&avc.profile) else {
        return Vec::new();
    };
    // The sources a rule of this profile can have: none in knoxctl-host; in a source's
    // profile, the program itself (KubeArmor's "current executable" for files, network and
    // capabilities, and the exec caller for process rules), which is the acting process.
    let mut sources: Vec<&str> = Vec::new();
    match target {
        Target::Host => sources.push(""),
        Target::Source => {
            sources.extend(exe);
            for r in &rules.set.rules {
                for s in &r.from_source {
                    if !sources.contains(&s.as_str()) {
                        sources.push(s);
                    }
                }
            }
        }
        Target::Block => return started(avc, rules, exe).into_iter().collect(),
    }
    if avc.verdict == "AUDIT" {
        return audited(avc, rules, &sources).into_iter().collect();
    }
    let one = if avc.is_capability() {
        capability(avc, rules, &sources)
    } else if avc.is_network() {
        network(avc, rules, &sources)
    } else if !avc.name.is_empty() {
        file(avc, rules, &sources)
    } else {
        None
    };
    // No rule explains it: the profile's raw rules (every profile of the target holds
    // them all) are what is left that denies.
    if one.is_none() && avc.verdict == "DENIED" && !rules.set.apparmor.is_empty() {
        return raw(avc, rules).into_iter().collect();
    }
    one.into_iter().collect()
}

/// A denial of a policy's raw rules (`spec.apparmor`), as KubeArmor reports a denial of
/// any line of its profiles: a Block of the policy whose raw lines refuse it
/// ([`raw_match::policy_of`]), with the operation the record says. The alert pipeline
/// names a policy by one of its rules: the policy's first rule when it has one (its
/// Severity, Tags and Message go into the alert); a policy of raw rules only has none,
/// and the reader gives it one where it can ([`Reader::denial`]).
fn raw(avc: &Avc, rules: &Rules) -> Option<Finding> {
    let policy = raw_match::policy_of(&rules.set.apparmor, avc)?;
    let rule = rules.set.rules.iter().position(|r| r.policy == policy);
    let (operation, resource, data, result) = if avc.is_capability() {
        let (resource, data) = cap_resource(avc);
        (
            Operation::Capabilities,
            resource,
            data,
            OpResult::OperationNotPermitted,
        )
    } else if avc.is_network() {
        let (resource, data) = net_resource(avc);
        (
            Operation::Network,
            resource,
            data,
            OpResult::PermissionDenied,
        )
    } else {
        let exec = avc.operation == "exec" || avc.mask().contains('x');
        let data = if exec {
            "syscall=SYS_EXECVE".to_string()
        } else {
            format!(
                "operation={} requested_mask={} denied_mask={}",
                avc.operation, avc.requested_mask, avc.denied_mask
            )
        };
        let operation = if exec {
            Operation::Process
        } else {
            Operation::File
        };
        (
            operation,
            avc.name.clone(),
            data,
            OpResult::PermissionDenied,
        )
    };
    Some(Finding {
        operation,
        resource,
        data,
        rule,
        result,
        action: AlertAction::Block,
        started: false,
        raw_policy: Some(policy.to_string()),
    })
}

/// The index an alert about the `k`th raw entry of the host's rule set names: past the
/// set's rules, where the agent keeps a [`raw_rule`] per raw entry (`HostRules`), so that
/// a denial by a policy of raw rules only names that policy.
pub fn raw_rule_index(set: &RuleSet, k: usize) -> usize {
    set.rules.len() + k
}

/// A raw policy's stand-in rule, for a policy of raw rules only: the alert pipeline reads
/// the policy's name from it (no Severity, Tags or Message: the rule set keeps none of a
/// policy that has no rule).
pub fn raw_rule(policy: &str) -> Rule {
    Rule {
        category: Category::File,
        matcher: Matcher::Pattern {
            pattern: "spec.apparmor".into(),
        },
        action: Action::Block,
        severity: None,
        tags: Vec::new(),
        message: None,
        read_only: false,
        owner_only: false,
        pts: None,
        from_source: Vec::new(),
        allowed_args: Vec::new(),
        policy: policy.to_string(),
        field: "spec.apparmor".into(),
    }
}

/// `target` with a stand-in rule appended for each policy of its raw rules that has no
/// rule of its own, so that a container alert can name it (the pipeline looks the rule
/// up in the event's target).
fn with_raw_rules(target: &ContainerTarget) -> ContainerTarget {
    let mut t = target.clone();
    for raw in &target.set.apparmor {
        if !t.set.rules.iter().any(|r| r.policy == raw.policy) {
            t.set.rules.push(raw_rule(&raw.policy));
        }
    }
    t
}

/// An operation the kernel let pass and audited (the allow-everything line of an
/// allow-list with posture audit): an exec or open that every source leaves to the default
/// posture is its Audit; one a rule decides (an Allow rule grants it: the kernel audits it
/// because the audit bits of all matching lines add up) is nothing. Other audited
/// operations (mapping, renames, attribute changes) are not reported, as BPF-LSM reports
/// opens and execs.
fn audited(avc: &Avc, rules: &Rules, sources: &[&str]) -> Option<Finding> {
    if avc.is_capability() || avc.is_network() || avc.name.is_empty() {
        return None;
    }
    let path = avc.name.as_str();
    let uid = avc.fsuid.unwrap_or(u32::MAX - 1);
    let owner = avc.ouid.unwrap_or(u32::MAX);
    let mask = avc.requested_mask.as_str();
    let c = &rules.compiled;
    let exec = avc.operation == "exec" || mask.contains('x');
    if !exec && avc.operation != "open" {
        return None;
    }
    let write = mask.contains(['w', 'a', 'c', 'd', 'l']);
    let posture = |s: &&str| {
        let mut who = Known { source: s, uid };
        let v = if exec {
            c.exec(path, owner, &mut who)
        } else {
            c.open(path, write, owner, &mut who)
        };
        v.decision == Decision::DefaultPosture(crate::policy::matcher::Posture::Audit)
    };
    if sources.is_empty() || !sources.iter().all(posture) {
        return None;
    }
    let (operation, data) = if exec {
        (Operation::Process, "syscall=SYS_EXECVE".to_string())
    } else {
        (
            Operation::File,
            format!("operation=open requested_mask={mask}"),
        )
    };
    Some(Finding {
        operation,
        resource: path.to_string(),
        data,
        rule: None,
        result: OpResult::Passed,
        action: AlertAction::Audit,
        started: false,
        raw_policy: None,
    })
}

/// The rule behind the first denying verdict over `sources`, a rule's over a posture's.
fn judge(sources: &[&str], verdict: impl Fn(&str) -> Verdict) -> Option<Option<usize>> {
    let mut posture = None;
    for s in sources {
        match verdict(s).decision {
            Decision::Deny { rule } => return Some(Some(rule)),
            Decision::DefaultPosture(crate::policy::matcher::Posture::Block) => {
                posture = Some(None)
            }
            _ => {}
        }
    }
    posture
}

fn file(avc: &Avc, rules: &Rules, sources: &[&str]) -> Option<Finding> {
    let mask = avc.mask();
    let path = avc.name.as_str();
    let uid = avc.fsuid.unwrap_or(u32::MAX - 1);
    let owner = avc.ouid.unwrap_or(u32::MAX);
    let c = &rules.compiled;
    let exec = |s: &str| c.exec(path, owner, &mut Known { source: s, uid });
    let data = |op: &str| {
        format!(
            "operation={op} requested_mask={} denied_mask={}",
            avc.requested_mask, avc.denied_mask
        )
    };
    let finding = |operation, rule, data| Finding {
        operation,
        resource: path.to_string(),
        data,
        rule,
        result: OpResult::PermissionDenied,
        action: AlertAction::Block,
        started: false,
        raw_policy: None,
    };
    if mask.contains('x') || avc.operation == "exec" {
        let rule = judge(sources, exec)?;
        return Some(finding(
            Operation::Process,
            rule,
            "syscall=SYS_EXECVE".into(),
        ));
    }
    // `m`: mapping as executable is refused by process rules (`ld.so PROGRAM`) and by
    // file Block rules.
    if mask.contains('m')
        && let Some(rule) = judge(sources, exec)
    {
        return Some(finding(Operation::Process, rule, data(&avc.operation)));
    }
    let write = mask.contains(['w', 'a', 'c', 'd', 'l']);
    let rule = judge(sources, |s| {
        c.open(path, write, owner, &mut Known { source: s, uid })
    })?;
    Some(finding(Operation::File, rule, data(&avc.operation)))
}

/// Whether a protocol rule covers a socket of `family` and `sock_type`, as the profile's
/// network lines do (see `profile::sockets`).
fn protocol_covers(protocol: &str, family: &str, sock_type: &str) -> bool {
    let inet = family == "inet" || family == "inet6";
    match protocol {
        "tcp" | "stream" => inet && sock_type == "stream",
        "udp" | "dgram" => inet && sock_type == "dgram",
        "raw" => inet && sock_type == "raw",
        "rdm" => inet && sock_type == "rdm",
        "seqpacket" => inet && sock_type == "seqpacket",
        "icmp" => family == "inet" && sock_type == "raw",
        "icmpv6" => family == "inet6" && sock_type == "raw",
        "packet" => family == "packet",
        "all" => inet || family == "packet",
        _ => false,
    }
}

/// The first Block rule of `category` whose matcher `hit`s and whose sources fit, or the
/// default posture when the category is in allow-list mode.
fn first_block(
    rules: &Rules,
    category: Category,
    sources: &[&str],
    allow_list: bool,
    hit: impl Fn(&Matcher) -> bool,
) -> Option<Option<usize>> {
    let found = rules.set.rules.iter().enumerate().find(|(_, r)| {
        r.category == category
            && r.action == Action::Block
            && hit(&r.matcher)
            && if r.from_source.is_empty() {
                true
            } else {
                sources.iter().any(|s| r.from_source.iter().any(|f| f == s))
            }
    });
    match found {
        Some((i, _)) => Some(Some(i)),
        None if allow_list => Some(None),
        None => None,
    }
}

/// A socket denial's Resource and Data, as KubeArmor words them.
fn net_resource(avc: &Avc) -> (String, String) {
    let resource = format!(
        "domain=AF_{} type=SOCK_{} protocol={}",
        avc.family.to_uppercase(),
        avc.sock_type.to_uppercase(),
        avc.protocol.unwrap_or(0)
    );
    let data = match avc.operation.as_str() {
        "create" => format!("syscall=SYS_SOCKET {resource}"),
        op => format!("operation={op} {resource}"),
    };
    (resource, data)
}

/// A capability denial's Resource and Data.
fn cap_resource(avc: &Avc) -> (String, String) {
    let cap = format!("CAP_{}", avc.capname.to_uppercase());
    let data = format!("operation=capable cap={cap}");
    (cap, data)
}

fn network(avc: &Avc, rules: &Rules, sources: &[&str]) -> Option<Finding> {
    let rule = first_block(
        rules,
        Category::Network,
        sources,
        rules.set.allow_list.network,
        |m| matches!(m, Matcher::Protocol { protocol } if protocol_covers(protocol, &avc.family, &avc.sock_type)),
    )?;
    let (resource, data) = net_resource(avc);
    Some(Finding {
        operation: Operation::Network,
        resource,
        data,
        rule,
        result: OpResult::PermissionDenied,
        action: AlertAction::Block,
        started: false,
        raw_policy: None,
    })
}

fn capability(avc: &Avc, rules: &Rules, sources: &[&str]) -> Option<Finding> {
    let name = avc.capname.to_lowercase();
    let rule = first_block(
        rules,
        Category::Capabilities,
        sources,
        rules.set.allow_list.capabilities,
        |m| matches!(m, Matcher::Capability { capability } if *capability == name),
    )?;
    let (resource, data) = cap_resource(avc);
    Some(Finding {
        operation: Operation::Capabilities,
        data,
        resource,
        rule,
        // capable() fails with EPERM.
        result: OpResult::OperationNotPermitted,
        action: AlertAction::Block,
        started: false,
        raw_policy: None,
    })
}

/// A denial in `knoxctl-host-block-N`: a process that was running before the first apply
/// started a blocked program, which runs in a profile that grants nothing. The program is
/// the process's executable, or, once it is gone, the blocked path whose name its comm is.
fn started(avc: &Avc, rules: &Rules, exe: Option<&str>) -> Option<Finding> {
    let base = |p: &str| -> String {
        let b = p.rsplit('/').next().unwrap_or(p);
        // comm holds 15 bytes.
        b.chars()
            .scan(0, |n, c| {
                *n += c.len_utf8();
                (*n <= 15).then_some(c)
            })
            .collect()
    };
    let block = |i: usize| {
        let r = &rules.set.rules[i];
        r.category == Category::Process && r.action == Action::Block && r.from_source.is_empty()
    };
    let (rule, program) = match exe {
        Some(exe) => match rules
            .compiled
            .exec(
                exe,
                avc.ouid.unwrap_or(u32::MAX),
                &mut Known {
                    source: "",
                    uid: u32::MAX - 1,
                },
            )
            .decision
        {
            Decision::Deny { rule } if block(rule) => (rule, exe.to_string()),
            _ => return None,
        },
        None => rules.set.rules.iter().enumerate().find_map(|(i, r)| {
            if !block(i) {
                return None;
            }
            match &r.matcher {
                Matcher::Path { path } if base(path) == avc.comm => Some((i, path.clone())),
                Matcher::Execname { name } if base(name) == avc.comm => Some((i, name.clone())),
                _ => None,
            }
        })?,
    };
    Some(Finding {
        operation: Operation::Process,
        resource: program,
        data: format!(
            "syscall=SYS_EXECVE profile={} operation={} name={}",
            avc.profile, avc.operation, avc.name
        ),
        rule: Some(rule),
        result: OpResult::PermissionDenied,
        action: AlertAction::Block,
        started: true,
        raw_policy: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::matcher::Posture;
    use crate::policy::validate::{Options, validate_bytes};

    const HOST_PROFILE: &str = profile::HOST;

    fn rules(yaml: &str) -> Rules {
        let r = validate_bytes("t.yaml", yaml.as_bytes(), Options::default());
        assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
        let policies: Vec<_> = r.policies().cloned().collect();
        let set = RuleSet::from_policies(&policies);
        Rules {
            generation: Generation(3),
            compiled: CompiledRules::new(&set, Posture::Block),
            set,
        }
    }

    fn policy(name: &str, body: &str) -> String {
        format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: '*'}}}}\n{body}"
        )
    }

    fn avc(text: &str) -> Avc {
        Avc::of(&audit::parse(audit::AUDIT_AVC, text).expect("parses")).expect("avc")
    }

    const FIM: &str = "  action: Block\n  file:\n    matchDirectories:\n    - dir: /usr/lib/\n      readOnly: true\n      recursive: true\n    - dir: /etc/fim/\n      readOnly: true\n      recursive: true\n";
    const PKG: &str = "  action: Block\n  process:\n    matchPaths:\n    - path: /usr/bin/apt-get\n    - path: /usr/bin/dpkg\n";

    fn both() -> Rules {
        rules(&format!(
            "{}---\n{}",
            policy("pkg", PKG),
            policy("fim", FIM)
        ))
    }

    #[test]
    fn file_denials_name_the_read_only_rule() {
        let r = both();
        for (op, mask, path) in [
            ("open", "wa", "/etc/fim/config"),
            ("mknod", "c", "/usr/lib/test_file"),
            ("unlink", "d", "/usr/lib/x/y.so"),
            ("rename_dest", "wc", "/usr/lib/eicar"),
        ] {
            let a = avc(&format!(
                r#"audit(1765100000.123:456): apparmor="DENIED" operation="{op}" class="file" profile="knoxctl-host" name="{path}" pid=1 comm="sh" requested_mask="{mask}" denied_mask="{mask}" fsuid=0 ouid=0"#
            ));
            let f = findings(&a, &r, Some("/usr/bin/dash"));
            assert_eq!(f.len(), 1, "{op}");
            let f = &f[0];
            assert_eq!(f.operation, Operation::File);
            assert_eq!(f.resource, path);
            assert_eq!(f.result, OpResult::PermissionDenied);
            let rule = &r.set.rules[f.rule.expect("a rule")];
            assert_eq!(rule.policy, "fim");
            assert!(f.data.contains(&format!("operation={op}")), "{}", f.data);
        }
        // A read of a read-only file is not denied by any rule: a record of it (which the
        // kernel would not write) is not attributed.
        let read = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" profile="knoxctl-host" name="/etc/fim/config" pid=1 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#,
        );
        assert!(findings(&read, &r, None).is_empty());
    }

    #[test]
    fn exec_and_map_denials_are_process_rules() {
        let r = both();
        let exec = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="exec" class="file" profile="knoxctl-host" name="/usr/bin/apt-get" pid=9 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#,
        );
        let f = &findings(&exec, &r, Some("/usr/bin/dash"))[0];
        assert_eq!(f.operation, Operation::Process);
        assert_eq!(f.data, "syscall=SYS_EXECVE");
        assert_eq!(r.set.rules[f.rule.unwrap()].policy, "pkg");
        let map = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="file_mmap" class="file" profile="knoxctl-host" name="/usr/bin/dpkg" pid=9 comm="ld-linux-x86-64" requested_mask="m" denied_mask="m" fsuid=0 ouid=0"#,
        );
        let f = &findings(&map, &r, None)[0];
        assert_eq!(f.operation, Operation::Process);
        assert_eq!(r.set.rules[f.rule.unwrap()].policy, "pkg");
    }

    #[test]
    fn a_blocked_program_started_by_an_unconfined_process_is_its_start() {
        let r = both();
        let lib = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host-block-2" name="/usr/lib/x86_64-linux-gnu/libc.so.6" pid=9 comm="dpkg" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#,
        );
        for exe in [Some("/usr/bin/dpkg"), None] {
            let f = findings(&lib, &r, exe);
            assert_eq!(f.len(), 1, "{exe:?}");
            assert!(f[0].started);
            assert_eq!(f[0].operation, Operation::Process);
            assert_eq!(f[0].resource, "/usr/bin/dpkg");
            assert_eq!(r.set.rules[f[0].rule.unwrap()].policy, "pkg");
        }
    }

    #[test]
    fn from_source_profiles_match_rules_of_that_source() {
        let body = "  action: Block\n  file:\n    matchPaths:\n    - path: /etc/shadow\n      fromSource:\n      - path: /usr/bin/cat\n  network:\n    matchProtocols:\n    - protocol: icmp\n      fromSource:\n      - path: /usr/bin/ping\n  capabilities:\n    matchCapabilities:\n    - capability: net_raw\n      fromSource:\n      - path: /usr/bin/ping\n";
        let r = rules(&policy("src", body));
        let open = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host-src-usr-bin-cat" name="/etc/shadow" pid=9 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#,
        );
        // The process is gone (no exe): the sources of the rule set are tried.
        for exe in [Some("/usr/bin/cat"), None] {
            let f = findings(&open, &r, exe);
            assert_eq!(f.len(), 1);
            assert_eq!(r.set.rules[f[0].rule.unwrap()].category, Category::File);
        }
        // The same denial in knoxctl-host is no fromSource rule's.
        let host = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host" name="/etc/shadow" pid=9 comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#,
        );
        assert!(findings(&host, &r, Some("/usr/bin/cat")).is_empty());
        let net = avc(
            r#"audit(1.0:2): apparmor="DENIED" operation="create" class="net" profile="knoxctl-host-src-usr-bin-ping" pid=6 comm="ping" family="inet" sock_type="raw" protocol=1 requested_mask="create" denied_mask="create""#,
        );
        let f = &findings(&net, &r, Some("/usr/bin/ping"))[0];
        assert_eq!(f.operation, Operation::Network);
        assert_eq!(f.resource, "domain=AF_INET type=SOCK_RAW protocol=1");
        assert_eq!(
            f.data,
            "syscall=SYS_SOCKET domain=AF_INET type=SOCK_RAW protocol=1"
        );
        assert!(matches!(
            r.set.rules[f.rule.unwrap()].matcher,
            Matcher::Protocol { .. }
        ));
        let cap = avc(
            r#"audit(1.0:3): apparmor="DENIED" operation="capable" class="cap" profile="knoxctl-host-src-usr-bin-ping" pid=5 comm="ping" capability=13  capname="net_raw""#,
        );
        let f = &findings(&cap, &r, None)[0];
        assert_eq!(f.operation, Operation::Capabilities);
        assert_eq!(f.resource, "CAP_NET_RAW");
        assert_eq!(f.result, OpResult::OperationNotPermitted);
    }

    #[test]
    fn allow_list_denials_are_the_default_posture() {
        let body = "  action: Allow\n  process:\n    matchPaths:\n    - path: /usr/bin/ls\n";
        let r = rules(&policy("allow", body));
        let exec = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="exec" class="file" profile="knoxctl-host" name="/usr/bin/id" pid=9 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#,
        );
        let f = &findings(&exec, &r, None)[0];
        assert_eq!(f.rule, None);
        assert_eq!(f.operation, Operation::Process);
    }

    #[test]
    fn allow_list_audits_are_the_default_posture_unless_an_allow_rule_grants() {
        // KubeArmor's host scenario: bash may only run date; files: head may only read
        // /etc/hostname. Posture audit: the profiles audit every exec and open.
        let body = "  action: Allow\n  process:\n    matchPaths:\n    - path: /usr/bin/date\n      fromSource:\n      - path: /usr/bin/bash\n  file:\n    matchPaths:\n    - path: /etc/hostname\n      fromSource:\n      - path: /usr/bin/head\n";
        let mut r = rules(&policy("allow", body));
        r.compiled = CompiledRules::new(&r.set, Posture::Audit);
        let record = |profile: &str, op: &str, name: &str, mask: &str| {
            avc(&format!(
                r#"audit(1.0:1): apparmor="AUDIT" operation="{op}" class="file" profile="{profile}" name="{name}" pid=9 comm="x" requested_mask="{mask}" fsuid=0 ouid=0"#
            ))
        };
        let bash = "knoxctl-host-src-usr-bin-bash";
        let head = "knoxctl-host-src-usr-bin-head";
        // Not granted: the default posture's Audit, Passed.
        for (profile, op, name, mask, operation) in [
            (bash, "exec", "/usr/bin/ls", "x", Operation::Process),
            (HOST_PROFILE, "exec", "/usr/bin/ls", "x", Operation::Process),
            (head, "open", "/etc/hosts", "r", Operation::File),
            (HOST_PROFILE, "open", "/etc/hostname", "r", Operation::File),
        ] {
            for exe in [None, Some("/usr/bin/x")] {
                let f = findings(&record(profile, op, name, mask), &r, exe);
                assert_eq!(f.len(), 1, "{profile} {op} {name}");
                assert_eq!(f[0].rule, None);
                assert_eq!(f[0].operation, operation);
                assert_eq!(f[0].action, AlertAction::Audit);
                assert_eq!(f[0].result, OpResult::Passed);
                assert_eq!(f[0].resource, name);
            }
        }
        // Granted by the Allow rule of the profile's source: audited by the kernel, no alert.
        assert!(findings(&record(bash, "exec", "/usr/bin/date", "x"), &r, None).is_empty());
        assert!(findings(&record(head, "open", "/etc/hostname", "r"), &r, None).is_empty());
        // Not opens or execs: nothing (BPF-LSM reports opens and execs).
        assert!(findings(&record(head, "file_mmap", "/etc/hosts", "m"), &r, None).is_empty());
        // A denial is still the Block it was.
        let d = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host" name="/etc/shadow" pid=9 comm="x" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#,
        );
        let mut b = rules(&policy("allow", body));
        b.compiled = CompiledRules::new(&b.set, Posture::Block);
        let f = findings(&d, &b, None);
        assert_eq!(f[0].action, AlertAction::Block);
        assert_eq!(f[0].result, OpResult::PermissionDenied);
    }

    const RAW: &str = "  apparmor: |\n    deny /etc/knox-raw/** r,\n    deny capability net_raw,\n";

    fn denied_open(profile: &str, name: &str, mask: &str) -> Avc {
        avc(&format!(
            r#"audit(1.0:1): apparmor="DENIED" operation="open" class="file" profile="{profile}" name="{name}" pid=9 comm="cat" requested_mask="{mask}" denied_mask="{mask}" fsuid=0 ouid=0"#
        ))
    }

    #[test]
    fn raw_rule_denials_name_the_policy_by_its_first_rule() {
        // Recorded on the VM: `audit deny /etc/knox-raw/** r,` refusing `cat`.
        let body = format!(
            "  severity: 7\n  tags: [raw]\n  message: raw rules\n  action: Block\n  file:\n    matchPaths:\n    - path: /etc/knox-file\n{RAW}"
        );
        let r = rules(&format!(
            "{}---\n{}",
            policy("pkg", PKG),
            policy("raw", &body)
        ));
        for profile in [HOST_PROFILE, "knoxctl-host-src-usr-bin-cat"] {
            let f = findings(&denied_open(profile, "/etc/knox-raw/file", "r"), &r, None);
            assert_eq!(f.len(), 1, "{profile}");
            let f = &f[0];
            assert_eq!(f.raw_policy.as_deref(), Some("raw"));
            let rule = &r.set.rules[f.rule.expect("the policy's rule")];
            assert_eq!(rule.policy, "raw");
            assert_eq!(rule.severity, Some(7));
            assert_eq!(rule.message.as_deref(), Some("raw rules"));
            assert_eq!(f.operation, Operation::File);
            assert_eq!(f.resource, "/etc/knox-raw/file");
            assert_eq!(f.action, AlertAction::Block);
            assert_eq!(f.result, OpResult::PermissionDenied);
            assert_eq!(f.data, "operation=open requested_mask=r denied_mask=r");
        }
        // A denial a rule explains stays that rule's.
        let exec = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="exec" class="file" profile="knoxctl-host" name="/usr/bin/dpkg" pid=9 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#,
        );
        let f = &findings(&exec, &r, None)[0];
        assert_eq!(f.raw_policy, None);
        assert_eq!(r.set.rules[f.rule.unwrap()].policy, "pkg");
        // A capability the raw rules refuse.
        let cap = avc(
            r#"audit(1.0:3): apparmor="DENIED" operation="capable" class="cap" profile="knoxctl-host" pid=5 comm="ping" capability=13  capname="net_raw""#,
        );
        let f = &findings(&cap, &r, None)[0];
        assert_eq!(f.raw_policy.as_deref(), Some("raw"));
        assert_eq!(f.operation, Operation::Capabilities);
        assert_eq!(f.resource, "CAP_NET_RAW");
        // Not refused by any raw line (all judged): no source, no finding.
        assert!(findings(&denied_open(HOST_PROFILE, "/etc/other", "r"), &r, None).is_empty());
        // An audited operation is not a raw denial.
        let audit = avc(
            r#"audit(1.0:1): apparmor="AUDIT" operation="open" class="file" profile="knoxctl-host" name="/etc/knox-raw/file" pid=9 comm="cat" requested_mask="r" fsuid=0 ouid=0"#,
        );
        assert!(findings(&audit, &r, None).is_empty());
    }

    #[test]
    fn several_raw_policies_are_told_apart_by_their_lines() {
        let a = "  apparmor: |\n    deny /etc/a/** r,\n  process:\n    matchPaths:\n    - path: /usr/bin/a\n  action: Block\n";
        let b = "  apparmor: |\n    deny /etc/{b,c}/* w,\n  process:\n    matchPaths:\n    - path: /usr/bin/b\n  action: Block\n";
        let r = rules(&format!("{}---\n{}", policy("pa", a), policy("pb", b)));
        let named = |name: &str, mask: &str| {
            findings(&denied_open(HOST_PROFILE, name, mask), &r, None)
                .first()
                .and_then(|f| f.raw_policy.clone())
        };
        assert_eq!(named("/etc/a/x", "r").as_deref(), Some("pa"));
        assert_eq!(named("/etc/c/x", "wc").as_deref(), Some("pb"));
        assert_eq!(named("/etc/c/x", "r"), None);
    }

    #[test]
    fn raw_only_denials_are_alerted_on_the_host_and_in_containers() {
        let r = rules(&policy("raw-only", RAW));
        let f = &findings(&denied_open(HOST_PROFILE, "/etc/knox-raw/f", "r"), &r, None)[0];
        assert_eq!((f.raw_policy.as_deref(), f.rule), (Some("raw-only"), None));

        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let shared = Arc::new(Shared::new(tx));
        shared.set_rules(rules(&policy("raw-only", RAW)));
        let target = Arc::new(ContainerTarget {
            container: crate::container::Container {
                name: "web".into(),
                ..Default::default()
            },
            set: r.set.clone(),
            root: "/".into(),
        });
        shared.set_containers(BTreeMap::from([(
            "knoxctl-c-web".to_string(),
            Arc::new(super::super::containers::ContainerRules {
                target: target.clone(),
                rules: Arc::new(rules(&policy("raw-only", RAW))),
            }),
        )]));
        let mut reader = Reader::new(shared.clone());
        let me = std::process::id();
        let text = |profile: &str| {
            format!(
                r#"audit(1765100000.123:9): apparmor="DENIED" operation="open" class="file" profile="{profile}" name="/etc/knox-raw/f" pid={me} comm="cat" requested_mask="r" denied_mask="r" fsuid=0 ouid=0"#
            )
        };
        // The host's: the stand-in rule after the set's rules, which the agent keeps.
        reader.record(&audit::parse(audit::AUDIT_AVC, &text(HOST_PROFILE)).unwrap());
        let ev = rx.try_recv().expect("a host alert");
        assert!(ev.container.is_none());
        assert_eq!(ev.rule.unwrap().index, raw_rule_index(&r.set, 0));
        assert_eq!(ev.action, AlertAction::Block);
        assert_eq!(shared.unattributed.load(Ordering::Relaxed), 0);
        // A container's event carries its rules, with a stand-in rule of the policy.
        for _ in 0..2 {
            reader.record(&audit::parse(audit::AUDIT_AVC, &text("knoxctl-c-web")).unwrap());
            let ev = rx.try_recv().expect("a container alert");
            let t = ev.container.expect("the container");
            assert_eq!(t.container.name, "web");
            let rule = &t.set.rules[ev.rule.unwrap().index];
            assert_eq!(rule.policy, "raw-only");
            assert_eq!(rule.field, "spec.apparmor");
            assert_eq!(ev.action, AlertAction::Block);
            assert_eq!(ev.result, OpResult::PermissionDenied);
            assert_eq!(ev.operation, Operation::File);
            assert_eq!(ev.resource, "/etc/knox-raw/f");
        }
        // Made once for the container's rules.
        assert_eq!(reader.raw_targets.len(), 1);
        assert_eq!(shared.unattributed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn profiles_of_others_are_ignored() {
        let r = both();
        let other = avc(
            r#"audit(1.0:1): apparmor="DENIED" operation="exec" profile="/usr/sbin/cupsd" name="/usr/bin/apt-get" pid=9 comm="cupsd" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#,
        );
        assert!(findings(&other, &r, None).is_empty());
    }

    #[test]
    fn netlink_datagrams_hold_aligned_messages() {
        let mut dgram = Vec::new();
        for (kind, text) in [
            (
                audit::AUDIT_AVC,
                r#"audit(1.5:7): apparmor="DENIED" operation="open" profile="knoxctl-host" name="/x" pid=1 comm="a""#,
            ),
            (audit::AUDIT_EOE, "audit(1.5:7): "),
        ] {
            let len = 16 + text.len();
            dgram.extend_from_slice(&(len as u32).to_ne_bytes());
            dgram.extend_from_slice(&kind.to_ne_bytes());
            dgram.extend_from_slice(&[0; 10]);
            dgram.extend_from_slice(text.as_bytes());
            while dgram.len() % 4 != 0 {
                dgram.push(0);
            }
        }
        let mut out = Vec::new();
        netlink_records(&dgram, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].get("name"), Some("/x"));
        assert_eq!((out[1].kind, out[1].serial), (audit::AUDIT_EOE, 7));
        // Truncated or nonsense datagrams give what parses, never a panic.
        for cut in 0..dgram.len() {
            netlink_records(&dgram[..cut], &mut Vec::new());
        }
        netlink_records(&[0xff; 64], &mut Vec::new());
        netlink_records(&[0; 64], &mut Vec::new());
    }

    /// A netlink message of `kind` holding `text`.
    fn message(kind: u16, text: &str) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + text.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(text.as_bytes());
        m
    }

    #[test]
    fn the_reader_reports_what_arrives_and_stops_when_told() {
        // A datagram socket pair stands in for the audit socket: same read loop.
        let (ours, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
        theirs.set_nonblocking(true).unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let shared = Arc::new(Shared::new(tx));
        shared.set_rules(both());
        let thread = spawn(Source::Netlink(OwnedFd::from(theirs)), shared.clone()).unwrap();
        let avc = format!(
            r#"audit(1765100000.123:77): apparmor="DENIED" operation="unlink" class="file" profile="knoxctl-host" name="/usr/lib/x" pid={} comm="rm" requested_mask="d" denied_mask="d" fsuid=0 ouid=0"#,
            std::process::id()
        );
        ours.send(&message(audit::AUDIT_AVC, &avc)).unwrap();
        let ev = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("the denial is reported");
        assert_eq!(ev.resource, "/usr/lib/x");
        assert_eq!(ev.operation, Operation::File);
        // Garbage on the socket is skipped.
        ours.send(&[0xff; 40]).unwrap();
        ours.send(&message(audit::AUDIT_AVC, "audit(nonsense"))
            .unwrap();
        let started = Instant::now();
        shared.stop.store(true, Ordering::SeqCst);
        thread.join().expect("no panic");
        assert!(started.elapsed() < Duration::from_secs(2));
        drop(shared);
        // The reader's sender is gone with it: the pipeline sees the end.
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(1)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        ));
    }

    #[test]
    fn a_gone_process_waits_for_its_events_records() {
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let shared = Arc::new(Shared::new(tx));
        shared.set_rules(both());
        let mut reader = Reader::new(shared.clone());
        // pid 0x7fffffff does not exist: the denial waits for the SYSCALL record.
        let avc = format!(
            r#"audit(1765100000.123:456): apparmor="DENIED" operation="exec" class="file" profile="knoxctl-host" name="/usr/bin/dpkg" pid={} comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#,
            i32::MAX
        );
        reader.record(&audit::parse(audit::AUDIT_AVC, &avc).unwrap());
        assert!(rx.try_recv().is_err());
        let syscall = r#"audit(1765100000.123:456): arch=c000003e syscall=59 success=no exit=-13 ppid=1 pid=2147483647 uid=1000 comm="sh" exe="/usr/bin/dash""#;
        reader.record(&audit::parse(audit::AUDIT_SYSCALL, syscall).unwrap());
        reader.record(&audit::parse(audit::AUDIT_EOE, "audit(1765100000.123:456): ").unwrap());
        let ev = rx.try_recv().expect("sent at EOE");
        assert_eq!(ev.backend, Backend::Apparmor);
        assert_eq!(ev.action, AlertAction::Block);
        assert_eq!(ev.result, OpResult::PermissionDenied);
        assert_eq!(ev.resource, "/usr/bin/dpkg");
        assert_eq!(ev.rule.map(|r| r.generation), Some(Generation(3)));
        assert_eq!(ev.process.pid, i32::MAX);
        assert_eq!(ev.process.ppid, 1);
        assert_eq!(ev.process.uid, 1000);
        assert_eq!(ev.process.exe, "/usr/bin/dash");
        assert_eq!(ev.timestamp_ns, 1_765_100_000_123_000_000);
        // Without further records it goes out after the wait.
        reader.record(&audit::parse(audit::AUDIT_AVC, &avc.replace(":456", ":457")).unwrap());
        reader.flush(false);
        assert!(rx.try_recv().is_err());
        std::thread::sleep(WAIT_EXTRA);
        reader.flush(false);
        let ev = rx.try_recv().expect("sent after the wait");
        assert_eq!(ev.process.cmdline, "sh");
    }

    #[test]
    fn a_live_process_is_read_from_proc() {
        let (tx, rx) = std::sync::mpsc::sync_channel(8);
        let shared = Arc::new(Shared::new(tx));
        shared.set_rules(both());
        let mut reader = Reader::new(shared);
        let me = std::process::id();
        let text = format!(
            r#"audit(1765100000.123:9): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host" name="/etc/fim/config" pid={me} comm="x" requested_mask="w" denied_mask="w" fsuid=0 ouid=0"#
        );
        reader.record(&audit::parse(audit::AUDIT_AVC, &text).unwrap());
        let ev = rx.try_recv().expect("sent at once");
        assert_eq!(ev.process.pid, me as i32);
        assert_eq!(
            ev.process.exe,
            std::env::current_exe().unwrap().to_string_lossy()
        );
        assert!(ev.process.ppid > 0);
        // Denials by other profiles or of other kinds are not alerts.
        for other in [
            text.replace("knoxctl-host", "knoxctl-probe"),
            text.replace("DENIED", "AUDIT"),
            text.replace("knoxctl-host", "/usr/sbin/cupsd"),
        ] {
            reader.record(&audit::parse(audit::AUDIT_AVC, &other).unwrap());
            assert!(rx.try_recv().is_err(), "{other}");
        }
    }
}
