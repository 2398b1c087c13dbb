//! From kernel to alert: enforcer decisions and monitor events are matched to the rules
//! that caused them, enriched with process facts, shaped as KubeArmor alerts and handed to
//! the store. Each source runs on its own thread; queues are bounded and every loss is
//! counted (by the monitor, the enforcer and the store's writer).

use super::config::{Families, Visibility};
use super::container_monitor::{ContainerIndex, Member};
use super::core::{HostRules, SharedRules};
use crate::alert::store::AlertSender;
use crate::alert::{Alert, format_rfc3339};
use crate::enforce::{AlertAction, EnforcerEvent, Operation};
use crate::monitor::{EventKind, MonitorEvent};
use crate::policy::matcher::{CompiledRules, Decision, Known, Subject, Verdict};
use crate::policy::normalize::Rule;
use crate::procfs::{ProcCache, ProcessInfo};
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// How long a decision of a generation the agent has not published yet waits for it: the
/// apply that made it is still running (BPF-LSM writes its maps, fanotify retires the old
/// group). An apply that fails publishes its rollback instead, which ends the wait too.
const PUBLISH_WAIT: Duration = Duration::from_secs(10);

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

/// An enforcer decision as an alert, with `rule` the rule that decided (in the rules of
/// the decision's generation). For an exec, the acting process is still the image that
/// asked for it (the shell), which KubeArmor reports as the Source and parent.
pub fn enforcer_alert(ev: &EnforcerEvent, rule: Option<&Rule>, ctx: &AlertContext) -> Alert {
    let mut a = base_alert(ctx, &ev.process, ev.timestamp_ns);
    set_rule(&mut a, rule);
    a.operation = ev.operation.to_string();
    a.resource = ev.resource.clone();
    a.data = ev.data.clone();
    a.enforcer = ev.backend.alert_name().to_string();
    a.action = ev.action.as_str().to_string();
    a.result = ev.result.as_str().to_string();
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

/// The container fields of an alert about a process in `c`, as KubeArmor fills them for
/// containers outside Kubernetes: `MatchedPolicy`, the namespace `container_namespace`,
/// the container's name as pod and container name, its labels as sorted `k=v` pairs
/// comma-joined, and the pids the container's own pid namespace gives (`PID`, `PPID`; the
/// host's stay in `HostPID`, `HostPPID`).
pub fn set_container(alert: &mut Alert, c: &crate::container::Container, p: &ProcessInfo) {
    alert.kind = "MatchedPolicy".to_string();
    alert.namespace_name = crate::container::CONTAINER_NAMESPACE.to_string();
    alert.pod_name = c.name.clone();
    alert.container_name = c.name.clone();
    alert.container_id = c.id.clone();
    alert.container_image = c.image.clone();
    alert.labels = c
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    alert.pid = p.ns_pid;
    alert.ppid = p.ns_ppid;
}

/// Runs until the enforcer's sender is dropped (the enforcer stopped). Audit decisions of
/// the enforcer are left to the monitor when it runs, so each audited operation gives one
/// alert (from the "eBPF Monitor", as in KubeArmor).
pub fn run_enforcer_events(
    events: Receiver<EnforcerEvent>,
    host: Arc<SharedRules>,
    ctx: AlertContext,
    alerts: AlertSender,
    monitor_running: bool,
) {
    for ev in events {
        if let Some(target) = &ev.container {
            // A container's decision: its rules came with it, and nothing else reports
            // its audits (the monitor leaves the rules this enforcer holds to it).
            let rule = ev.rule.and_then(|r| target.set.rules.get(r.index));
            let mut alert = enforcer_alert(&ev, rule, &ctx);
            set_container(&mut alert, &target.container, &ev.process);
            alerts.send(alert);
            continue;
        }
        let deadline = Instant::now() + PUBLISH_WAIT;
        let alert = loop {
            let seen = host.publication();
            let rules = host.read();
            let decider = match ev.rule {
                None => None,
                Some(r) => match rules.decider(r) {
                    Some(d) => Some(d),
                    None if Instant::now() < deadline => {
                        drop(rules);
                        host.wait_after(seen, deadline);
                        continue;
                    }
                    None => {
                        tracing::warn!(?r, "a decision's rules were never published");
                        None
                    }
                },
            };
            if monitor_running
                && ev.action == AlertAction::Audit
                && decider.as_ref().is_some_and(|d| !d.enforcer_reports)
            {
                break None;
            }
            break Some(enforcer_alert(&ev, decider.and_then(|d| d.rule), &ctx));
        };
        if let Some(alert) = alert {
            alerts.send(alert);
        }
    }
}

/// Process facts for a monitor event, read only when a rule needs them.
struct LazySubject {
    uid: u32,
    /// For exec the source is the parent's executable; for file access the process's own.
    source_pid: u32,
    source: Option<String>,
}

impl LazySubject {
    fn new(uid: u32, source_pid: u32) -> LazySubject {
        LazySubject {
            uid,
            source_pid,
            source: None,
        }
    }
}

impl Subject for LazySubject {
    fn source(&mut self) -> &str {
        let pid = self.source_pid;
        self.source.get_or_insert_with(|| match program_of(pid) {
            Some(exe) => exe.to_string(),
            None => proc_exe(pid),
        })
    }

    fn uid(&mut self) -> u32 {
        self.uid
    }
}

/// The owner of `path` as the process named it, under `root` (`/` for the host's
/// processes, which then cost no path copy: this runs for every judged event).
fn owner_of(root: &std::path::Path, path: &str) -> u32 {
    let md = if root == std::path::Path::new("/") {
        std::fs::metadata(path)
    } else {
        std::fs::metadata(root.join(path.trim_start_matches('/')))
    };
    md.map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(u32::MAX)
}

/// The program each process runs, in the order of the monitor's events: what its last exec
/// named (symlinks resolved, as /proc names it), or, until its own exec is read, the
/// program of the process that forked it. This answers before /proc does: /proc
/// tells what a process runs when its event is read, which for an event that came before
/// an exec is already the next program (a shell's `cat x > f` opens `f` in the forked
/// shell, then execs cat; BPF-LSM sees the shell open it), and for a process that exited
/// is nothing. The ring buffer orders a process's fork, its events and its exec as they
/// happened. /proc still answers for processes whose exec this map never saw (started
/// before the agent). An exit keeps the entry a while longer (a parent's exit may be read
/// before the exec of a child it did not wait for).
struct ExecPaths {
    paths: std::collections::HashMap<u32, ExecPath>,
    /// Exited pids, oldest first: dropped once [`EXITED_KEPT`] later exits are read.
    exited: std::collections::VecDeque<u32>,
}

struct ExecPath {
    path: Arc<str>,
    exited: bool,
}

/// Entries beyond which the map starts over (an exit lost by the kernel's ring would
/// otherwise leave its entry forever): bounded memory, the processes then fall back to /proc.
const EXEC_PATHS_MAX: usize = 65_536;
/// Exited processes whose programs are still known.
const EXITED_KEPT: usize = 1024;

impl ExecPaths {
    fn new() -> ExecPaths {
        ExecPaths {
            paths: std::collections::HashMap::new(),
            exited: std::collections::VecDeque::new(),
        }
    }

    fn set(&mut self, pid: u32, path: Arc<str>) {
        if self.paths.len() >= EXEC_PATHS_MAX && !self.paths.contains_key(&pid) {
            self.paths.clear();
            self.exited.clear();
        }
        self.paths.insert(
            pid,
            ExecPath {
                path,
                exited: false,
            },
        );
    }

    /// A successful exec of `path` (absolute: relative ones are resolved by the caller) by
    /// a process whose root is `root` (`/` on the host, `/proc/PID/root` in a container).
    /// A path that names the caller's own files (`/proc/self/fd/7`, `/dev/fd/3`: runc
    /// running its init from a sealed memfd copy of itself, fexecve) means nothing here:
    /// /proc names that program, now rather than later (runc's init soon execs the
    /// container's program, whose name its own opens must not get). Gone already, it
    /// stays unnamed, and so do the processes it forked, rather than be named after what
    /// /proc would say later.
    fn exec(&mut self, pid: u32, path: &str, root: &std::path::Path) {
        // Running itself again: the program it ran (as the events knew it) goes on.
        if path == "/proc/self/exe" && self.paths.contains_key(&pid) {
            return;
        }
        let program = resolve_program(root, path).unwrap_or_else(|| proc_exe(pid));
        self.set(pid, Arc::from(program));
    }

    /// A new process runs the program of the process that forked it (`parent`; no
    /// allocation: the path is shared). A parent whose exec was never seen is asked of
    /// /proc once, for both of them.
    fn fork(&mut self, pid: u32, parent: u32) {
        let path = match self.paths.get(&parent) {
            Some(p) => Some(p.path.clone()),
            None => {
                let exe = proc_exe(parent);
                (!exe.is_empty()).then(|| {
                    let exe: Arc<str> = Arc::from(exe);
                    self.set(parent, exe.clone());
                    exe
                })
            }
        };
        match path {
            Some(path) => self.set(pid, path),
            None => {
                self.paths.remove(&pid);
            }
        }
    }

    fn exit(&mut self, pid: u32) {
        if let Some(p) = self.paths.get_mut(&pid) {
            p.exited = true;
            self.exited.push_back(pid);
        }
        while self.exited.len() > EXITED_KEPT {
            let Some(old) = self.exited.pop_front() else {
                break;
            };
            if self.paths.get(&old).is_some_and(|p| p.exited) {
                self.paths.remove(&old);
            }
        }
    }

    /// The program `pid` runs as of the events read so far, if its exec or fork was seen.
    fn get(&self, pid: u32) -> Option<Arc<str>> {
        self.paths.get(&pid).map(|p| p.path.clone())
    }
}

/// `/proc/PID/exe` now: the program a process runs when its event is read.
fn proc_exe(pid: u32) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| {
            p.to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string()
        })
        .unwrap_or_default()
}

/// The program a process runs as of the events read so far ([`ExecPaths`]); None for the
/// processes whose exec and fork the monitor never saw (/proc answers for those).
fn program_of(pid: u32) -> Option<Arc<str>> {
    EXECS.with_borrow(|e| e.get(pid))
}

/// How many symlinks a path may go through before it is given up (the kernel's limit).
const MAX_SYMLINKS: usize = 40;

/// `path` as a process whose root is `root` would find it, with every symlink resolved
/// (`/bin/sh` → `/usr/bin/dash`): the name /proc and BPF-LSM give the program. Resolved
/// under `root` one component at a time, so that a container's absolute links stay in
/// its own tree. None for names relative to the caller (`/proc/self/...`, `/dev/fd/N`),
/// which only the caller could resolve; a path that cannot be followed (gone since) stays
/// as named.
fn resolve_program(root: &std::path::Path, path: &str) -> Option<String> {
    if path.starts_with("/proc/") || path.starts_with("/dev/fd/") {
        return None;
    }
    let host = root == std::path::Path::new("/");
    if host {
        return Some(
            std::fs::canonicalize(path)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| path.to_string()),
        );
    }
    let mut done: Vec<String> = Vec::new();
    // Components still to walk, the next one last.
    let mut todo: Vec<String> = path.rsplit('/').map(str::to_string).collect();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => done.push(c),
        }
        match std::fs::read_link(root.join(done.join("/"))) {
            Ok(target) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Some(path.to_string());
                }
                done.pop();
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(target.rsplit('/').map(str::to_string));
            }
            // Not a link.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {}
            Err(_) => return Some(path.to_string()),
        }
    }
    Some(format!("/{}", done.join("/")))
}

thread_local! {
    /// Fed and read by the monitor's pipeline thread only.
    static EXECS: std::cell::RefCell<ExecPaths> = std::cell::RefCell::new(ExecPaths::new());
}

/// How long the monitor's pipeline trusts what it read from /proc about a process (see
/// [`ProcCache`]): a process that changes its cwd or command line without an exec is
/// reported with the old ones for at most this long.
const PROC_TTL: Duration = Duration::from_millis(100);

thread_local! {
    /// The monitor's pipeline runs on one thread: its cache needs no lock.
    static PROCS: std::cell::RefCell<ProcCache> = std::cell::RefCell::new(ProcCache::new(PROC_TTL));
}

/// The facts a monitor event carries, completed from /proc while the process may still run,
/// with the programs as of the event ([`actor`]). `known`: the program the kernel read
/// with the event itself (a syscall's), when it could.
fn monitor_process(ev: &MonitorEvent, known: Option<&str>) -> ProcessInfo {
    PROCS.with_borrow_mut(|c| {
        let cached = c.get(
            ev.pid as i32,
            ev.ppid as i32,
            &ev.comm,
            ev.kind == EventKind::Exec,
        );
        let who = actor(cached, ev, known);
        let mut p = cached.clone();
        p.pid = ev.pid as i32;
        p.ppid = ev.ppid as i32;
        p.uid = ev.uid;
        if !who.cmdline {
            p.cmdline.clear();
        }
        p.exe = who.exe;
        p.parent_exe = who.parent_exe;
        p
    })
}

/// Who did what an event says, as of the event: the programs of the process and of its
/// parent.
struct Actor {
    exe: String,
    parent_exe: String,
    /// /proc's command line is this program's: /proc was read while the process ran it
    /// (not after an exec the event came before).
    cmdline: bool,
}

/// The programs of `ev`'s process and of its parent: the kernel's own reading (`known`)
/// first, then [`ExecPaths`] (the order of events), then what /proc said (`p`) for the
/// processes whose exec and fork the monitor never saw. A process is never named after
/// the file it opened: without a program it stays unnamed.
fn actor(p: &ProcessInfo, ev: &MonitorEvent, known: Option<&str>) -> Actor {
    let exe = match known.filter(|k| !k.is_empty()) {
        Some(k) => k.to_string(),
        None => match program_of(ev.pid) {
            Some(e) => e.to_string(),
            None => p.exe.clone(),
        },
    };
    let parent_exe = match program_of(ev.ppid) {
        Some(e) => e.to_string(),
        None => p.parent_exe.clone(),
    };
    Actor {
        cmdline: exe == p.exe,
        exe,
        parent_exe,
    }
}

thread_local! {
    /// The last rule set asked about, and whether any of its rules is `ownerOnly` (held,
    /// so that its address cannot be reused by another set while it is remembered).
    static OWNER_RULES: std::cell::RefCell<Option<(Arc<CompiledRules>, bool)>> =
        const { std::cell::RefCell::new(None) };
}

/// Whether the rules of `host` compare a file's owner (`ownerOnly`): only then is the
/// file's owner worth a stat() per event (the matcher looks at it for nothing else).
fn needs_owner(host: &HostRules) -> bool {
    OWNER_RULES.with_borrow_mut(|cached| match cached {
        Some((rules, needs)) if Arc::ptr_eq(rules, &host.compiled) => *needs,
        _ => {
            let needs = host.set.rules.iter().any(|r| r.owner_only);
            *cached = Some((host.compiled.clone(), needs));
            needs
        }
    })
}

/// Which monitor alerts an exec or open deserves: matching Audit rules, and Block rules
/// the operation got past (not enforceable by this backend): `Audit (Block)`.
fn monitor_findings(v: &Verdict) -> Vec<(usize, AlertAction)> {
    let mut found: Vec<(usize, AlertAction)> = Vec::new();
    if let Decision::Deny { rule } = v.decision {
        found.push((rule, AlertAction::AuditBlock));
    }
    found.extend(v.audits.iter().map(|&r| (r, AlertAction::Audit)));
    found
}

/// What the monitor made of one event.
struct Judged {
    alerts: Vec<Alert>,
    /// A rule decided or audited the exec or open, alert or not: the enforcer reports
    /// that rule itself (BPF-LSM reports every decision, fanotify its blocks), or it
    /// refused the operation (a failed exec or open). Such an event is never logged.
    matched: bool,
    /// A successful relative exec's path resolved through the new image (read from /proc
    /// once, for the alert and the log alike).
    exe: Option<String>,
}

impl Judged {
    fn alerts(alerts: Vec<Alert>) -> Judged {
        Judged {
            alerts,
            matched: false,
            exe: None,
        }
    }
}

/// Whether an open's flags ask to write.
fn open_writes(flags: i32) -> bool {
    let acc = flags & libc::O_ACCMODE;
    acc == libc::O_WRONLY
        || acc == libc::O_RDWR
        || flags & (libc::O_APPEND | libc::O_TRUNC | libc::O_CREAT) != 0
}

/// The path a successful relative exec (`./x`) ran: the new image's.
fn exec_image(ev: &MonitorEvent) -> Option<String> {
    (ev.kind == EventKind::Exec && ev.retval >= 0 && !ev.path.starts_with('/')).then(|| {
        std::fs::read_link(format!("/proc/{}/exe", ev.pid))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| ev.path.clone())
    })
}

fn operation_name(op: Operation) -> &'static str {
    match op {
        Operation::Process => "Process",
        Operation::File => "File",
        Operation::Network => "Network",
        Operation::Capabilities => "Capabilities",
    }
}

/// Judges an event once: its alerts, and whether a rule matched it (see [`Judged`]).
/// `root`: where the process's paths are: `/` for the host's, the container's root for a
/// container's (an `ownerOnly` rule compares with the owner of the container's file).
fn monitor_alerts(
    ev: &MonitorEvent,
    host: &HostRules,
    ctx: &AlertContext,
    root: &std::path::Path,
) -> Judged {
    let (operation, write) = match ev.kind {
        EventKind::Syscall => {
            return Judged::alerts(syscall_alert(ev, host, ctx, root).into_iter().collect());
        }
        EventKind::Exec => (Operation::Process, false),
        EventKind::Open => (Operation::File, open_writes(ev.flags)),
        _ => return Judged::alerts(Vec::new()),
    };
    if operation == Operation::Process && host.exec_inert {
        return Judged::alerts(Vec::new());
    }
    let exe = exec_image(ev);
    let path = exe.as_deref().unwrap_or(&ev.path);
    let mut subject = LazySubject::new(
        ev.uid,
        if operation == Operation::Process {
            ev.ppid
        } else {
            ev.pid
        },
    );
    let owner = if needs_owner(host) {
        owner_of(root, path)
    } else {
        u32::MAX
    };
    let verdict = match operation {
        Operation::Process => host.compiled.exec(path, owner, &mut subject),
        _ => host.compiled.open(path, write, owner, &mut subject),
    };
    let matched = matches!(verdict.decision, Decision::Deny { .. }) || !verdict.audits.is_empty();
    // A refused exec or open is the enforcer's to report.
    if ev.retval < 0 {
        return Judged {
            alerts: Vec::new(),
            matched,
            exe,
        };
    }
    let mut found = monitor_findings(&verdict);
    found.retain(|(rule, _)| !host.enforcer_reports.contains(rule));
    // `ld.so PROGRAM`: the loader reads PROGRAM and maps it, no exec of it happens. The
    // process rules judge that read as PROGRAM's exec by the loader's parent.
    let mut loaded = false;
    if found.is_empty()
        && operation == Operation::File
        && !write
        && !host.exec_inert
        && crate::procfs::is_dynamic_loader(&ev.comm)
    {
        let mut parent = LazySubject::new(ev.uid, ev.ppid);
        found = monitor_findings(&host.compiled.exec(path, owner, &mut parent));
        found.retain(|(rule, _)| !host.enforcer_reports.contains(rule));
        loaded = !found.is_empty();
    }
    let operation = if loaded {
        Operation::Process
    } else {
        operation
    };
    let mut enforcer = std::borrow::Cow::Borrowed("eBPF Monitor");
    if found.is_empty()
        && let Some((rule, why)) = unreached_block(ev, &verdict, host)
    {
        found.push((rule, AlertAction::AuditBlock));
        enforcer = why.into();
    }
    let Some(&(rule, action)) = found.first() else {
        return Judged {
            alerts: Vec::new(),
            matched,
            exe,
        };
    };
    // The process's facts are borrowed from the cache: copied once, into the alert.
    let a = PROCS.with_borrow_mut(|c| {
        let p = c.get(
            ev.pid as i32,
            ev.ppid as i32,
            &ev.comm,
            ev.kind == EventKind::Exec,
        );
        let who = actor(p, ev, None);
        let p_exe = who.exe.as_str();
        let mut a = event_alert(ctx, ev, p);
        set_rule(&mut a, host.set.rules.get(rule));
        a.operation = operation_name(operation).to_string();
        a.resource = path.to_string();
        a.enforcer = enforcer.into_owned();
        a.action = action.as_str().to_string();
        a.result = crate::alert::result_text(ev.retval);
        a.parent_process_name = who.parent_exe.clone();
        match operation {
            Operation::Process => {
                a.data = if loaded {
                    format!("syscall=SYS_OPENAT loader={p_exe}")
                } else {
                    "syscall=SYS_EXECVE".to_string()
                };
                a.process_name = path.to_string();
                a.source = a.parent_process_name.clone();
            }
            _ => {
                a.data = monitor_open_data(ev.flags);
                a.process_name = p_exe.to_string();
                // No command line left to read, or it is the next program's: the program
                // at least.
                a.source = match p.cmdline.is_empty() || !who.cmdline {
                    true => a.process_name.clone(),
                    false => p.cmdline.clone(),
                };
            }
        }
        a
    });
    Judged {
        alerts: vec![a],
        matched,
        exe,
    }
}

/// A Block rule the enforcer holds (and reports itself) whose exec or open of a host
/// process succeeded all the same, because the enforcer does not reach that process
/// (AppArmor: running since before its profile was loaded): the rule, and the alert's
/// `Enforcer` saying why. Looked at only for such operations, which are rare: the
/// enforcer refuses the others (`retval < 0`) and alerts them itself.
fn unreached_block(ev: &MonitorEvent, v: &Verdict, host: &HostRules) -> Option<(usize, String)> {
    let Decision::Deny { rule } = v.decision else {
        return None;
    };
    if !host.unreached || ev.retval < 0 || !host.enforcer_reports.contains(&rule) {
        return None;
    }
    let why =
        crate::enforce::apparmor::unconfined::reach(ev.pid, ev.ppid, ev.kind == EventKind::Exec)?;
    Some((rule, why))
}

/// [`base_alert`] of a monitor event: the kernel's pid, parent and uid, the rest from
/// the process's cached facts.
fn event_alert(ctx: &AlertContext, ev: &MonitorEvent, p: &ProcessInfo) -> Alert {
    let secs = (ev.timestamp_ns / 1_000_000_000) as i64;
    let nanos = (ev.timestamp_ns % 1_000_000_000) as u32;
    Alert {
        timestamp: secs,
        updated_time: format_rfc3339(secs, nanos),
        cluster_name: ctx.cluster_name.clone(),
        host_name: ctx.host_name.clone(),
        host_pid: ev.pid as i32,
        host_ppid: ev.ppid as i32,
        pid: ev.pid as i32,
        ppid: ev.ppid as i32,
        uid: ev.uid as i32,
        cwd: dir_with_slash(&p.cwd),
        tty: p.tty.clone(),
        kind: "MatchedHostPolicy".to_string(),
        ..Alert::default()
    }
}

thread_local! {
    /// The last open flags rendered and their `Data`: a process opens with the same
    /// flags again and again, and rendering them is most of an alert's formatting.
    static OPEN_DATA: std::cell::RefCell<(i32, String)> = const { std::cell::RefCell::new((0, String::new())) };
}

/// `Data` of an open the monitor saw.
fn monitor_open_data(flags: i32) -> String {
    OPEN_DATA.with_borrow_mut(|(last, data)| {
        if data.is_empty() || *last != flags {
            *data = format!(
                "syscall=SYS_OPENAT flags={}",
                crate::kernel::flags::open_flags(flags as u32)
            );
            *last = flags;
        }
        data.clone()
    })
}

/// The names of a two-path syscall's paths, for `Data`.
fn path_names(syscall: &str) -> (&'static str, &'static str) {
    match syscall {
        "pivot_root" => ("new_root", "put_old"),
        _ => ("oldpath", "newpath"),
    }
}

/// A syscall event as the alert of the first syscall rule it matches: always Audit, from
/// the eBPF Monitor, with KubeArmor's `Data: syscall=SYS_<NAME>` (the syscall the kernel
/// saw: `rm` reports SYS_UNLINKAT, `unlink` SYS_UNLINK).
fn syscall_alert(
    ev: &MonitorEvent,
    host: &HostRules,
    ctx: &AlertContext,
    root: &std::path::Path,
) -> Option<Alert> {
    let detail = ev.syscall.as_ref()?;
    let name = crate::policy::syscalls::name(detail.nr)?;
    let complete: Vec<Option<&str>> = detail
        .paths
        .iter()
        .map(|p| p.as_ref().filter(|p| p.complete).map(|p| p.path.as_str()))
        .collect();
    // The executable comes with the event, read in the kernel (the caller may be gone
    // before /proc could be read); /proc only when the kernel could not read it.
    let found = match &detail.exe {
        Some(exe) => host.syscalls.first_match(
            name,
            &complete,
            &mut Known {
                source: exe,
                uid: ev.uid,
            },
        ),
        None => host
            .syscalls
            .first_match(name, &complete, &mut LazySubject::new(ev.uid, ev.pid)),
    };
    let Some(found) = found else {
        // Not asked for by a syscall rule: watched (while file rules exist) because
        // no enforcer without an LSM hook can refuse it.
        if !host.kernel_reports && NAME_CHANGES.contains(&name) {
            return name_change_alert(ev, host, ctx, name, &complete, root);
        }
        return None;
    };
    let resource = match found.path {
        Some(i) => detail.paths[i].as_ref().map(|p| p.path.clone()),
        None => detail.paths.iter().flatten().next().map(|p| p.path.clone()),
    }
    .unwrap_or_default();
    let rule = host.set.rules.get(found.rule);
    Some(syscall_event_alert(
        ev,
        ctx,
        name,
        rule,
        "Syscall",
        resource,
        AlertAction::Audit,
    ))
}

/// A syscall event's alert: KubeArmor's `Data: syscall=SYS_<NAME>`, with both names of a
/// two-path syscall.
fn syscall_event_alert(
    ev: &MonitorEvent,
    ctx: &AlertContext,
    name: &str,
    rule: Option<&Rule>,
    operation: &str,
    resource: String,
    action: AlertAction,
) -> Alert {
    let detail = ev.syscall.as_ref();
    let mut data = format!("syscall=SYS_{}", name.to_ascii_uppercase());
    if let Some([Some(old), Some(new)]) = detail.map(|d| &d.paths) {
        let (o, n) = path_names(name);
        data.push_str(&format!(" {o}={} {n}={}", old.path, new.path));
    }
    let process = monitor_process(ev, detail.and_then(|d| d.exe.as_deref()));
    let mut a = base_alert(ctx, &process, ev.timestamp_ns);
    set_rule(&mut a, rule);
    a.operation = operation.to_string();
    a.resource = resource;
    a.data = data;
    a.enforcer = "eBPF Monitor".to_string();
    a.action = action.as_str().to_string();
    a.result = crate::alert::result_text(ev.retval);
    a.process_name = process.exe.clone();
    a.parent_process_name = process.parent_exe.clone();
    a.source = if process.cmdline.is_empty() {
        process.exe.clone()
    } else {
        process.cmdline.clone()
    };
    a
}

/// The syscalls that change or remove a file's names: no enforcer without an LSM hook
/// (fanotify has no permission event for them) can refuse them, so the monitor watches
/// them while file rules could deny a write (see agent::follow_rules).
pub const NAME_CHANGES: &[&str] = &[
    "rename",
    "renameat",
    "renameat2",
    "link",
    "linkat",
    "unlink",
    "unlinkat",
];

/// A name change of a file that a Block rule (or readOnly) protects from writes: the
/// enforcer could not stop it, so it is an `Audit (Block)` alert naming that rule.
fn name_change_alert(
    ev: &MonitorEvent,
    host: &HostRules,
    ctx: &AlertContext,
    name: &str,
    paths: &[Option<&str>],
    root: &std::path::Path,
) -> Option<Alert> {
    let mut subject = LazySubject::new(ev.uid, ev.pid);
    let (rule, resource) = paths.iter().flatten().find_map(|p| {
        match host
            .compiled
            .open(p, true, owner_of(root, p), &mut subject)
            .decision
        {
            Decision::Deny { rule } => Some((rule, p.to_string())),
            _ => None,
        }
    })?;
    let operation = Operation::File.to_string();
    let rule = host.set.rules.get(rule);
    Some(syscall_event_alert(
        ev,
        ctx,
        name,
        rule,
        &operation,
        resource,
        AlertAction::AuditBlock,
    ))
}

/// Where the monitor's events that raise no alert go when visibility asks for them: the
/// telemetry store's own writer, so that a flood of logs never delays or drops an alert
/// (its queue fills and counts its own drops).
pub struct LogSink {
    pub logs: AlertSender,
    pub visibility: Visibility,
}

/// Runs until the monitor stops. A process in a registered container is judged by its
/// container's rules, never the host's (see [`ContainerIndex`]). An event that raised no
/// alert and whose family is visible for its process (host or container) becomes a log.
pub fn run_monitor_events(
    events: Receiver<MonitorEvent>,
    host: Arc<SharedRules>,
    containers: Arc<ContainerIndex>,
    ctx: AlertContext,
    alerts: AlertSender,
    logs: Option<LogSink>,
) {
    for ev in events {
        // Forks and exits never alert: no container lookup (and no /proc read) for them.
        if matches!(ev.kind, EventKind::Fork | EventKind::Exit) {
            if ev.kind == EventKind::Exit {
                PROCS.with_borrow_mut(|c| c.forget(ev.pid as i32));
                EXECS.with_borrow_mut(|e| e.exit(ev.pid));
            } else {
                // The program of the process that forked it (see EventKind::Fork).
                let forker = u32::try_from(ev.retval)
                    .ok()
                    .filter(|&f| f > 0)
                    .unwrap_or(ev.ppid);
                EXECS.with_borrow_mut(|e| e.fork(ev.pid, forker));
            }
            continue;
        }
        let member = containers.member(ev.pid, ev.cgroup_id);
        let judged = match &member {
            None => monitor_alerts(&ev, &host.read(), &ctx, std::path::Path::new("/")),
            Some(member) => container_monitor_alerts(&ev, member, &ctx),
        };
        // Recorded after judging: an exec's rules look at its parent, not at the image.
        if ev.kind == EventKind::Exec && ev.retval >= 0 {
            let root = match &member {
                None => std::path::PathBuf::from("/"),
                Some(m) => std::path::PathBuf::from(format!("/proc/{}/root", m.container.pid)),
            };
            match judged.exe.as_deref() {
                // Read from /proc: already the real path.
                Some(exe) if exe.starts_with('/') => {
                    EXECS.with_borrow_mut(|e| e.set(ev.pid, Arc::from(exe)))
                }
                _ if ev.path.starts_with('/') => {
                    EXECS.with_borrow_mut(|e| e.exec(ev.pid, &ev.path, &root))
                }
                // A relative exec the rules did not resolve: /proc answers for it.
                _ => EXECS.with_borrow_mut(|e| {
                    e.paths.remove(&ev.pid);
                }),
            }
        }
        if judged.alerts.is_empty() {
            if let Some(sink) = &logs {
                let visible = match &member {
                    None => sink.visibility.host,
                    Some(_) => sink.visibility.containers,
                };
                if family_visible(ev.kind, &visible)
                    && !judged.matched
                    && let Some(mut log) = monitor_log_of(&ev, &ctx, &visible, judged.exe)
                {
                    if let Some(m) = &member {
                        set_container_log(&mut log, &m.container, &ev);
                    }
                    sink.logs.send(log);
                }
            }
            continue;
        }
        for a in judged.alerts {
            alerts.send(a);
        }
    }
}

/// The family of KubeArmor's visibility settings an event belongs to; None for events
/// that are never logs (forks, exits, and syscalls, which the monitor traces only for
/// syscall rules).
fn family_visible(kind: EventKind, visible: &Families) -> bool {
    match kind {
        EventKind::Exec => visible.process,
        EventKind::Open => visible.file,
        EventKind::Connect | EventKind::Accept | EventKind::Bind => visible.network,
        EventKind::Exit | EventKind::Fork | EventKind::Syscall => false,
    }
}

/// A monitor event as KubeArmor's `HostLog`: the fields of the alert it would have been
/// (Source, Resource, Data, Result as KubeArmor fills them), no policy and no action.
/// None when its family is not visible.
pub fn monitor_log(ev: &MonitorEvent, ctx: &AlertContext, visible: &Families) -> Option<Alert> {
    monitor_log_of(ev, ctx, visible, exec_image(ev))
}

/// [`monitor_log`] with the relative exec's image already read (`exe`, see
/// [`exec_image`]).
fn monitor_log_of(
    ev: &MonitorEvent,
    ctx: &AlertContext,
    visible: &Families,
    exe: Option<String>,
) -> Option<Alert> {
    if !family_visible(ev.kind, visible) {
        return None;
    }
    // A successful exec names the new image; a failed one what the caller asked for.
    let exe = exe.unwrap_or_else(|| ev.path.clone());
    let process = monitor_process(ev, None);
    let mut a = base_alert(ctx, &process, ev.timestamp_ns);
    a.kind = "HostLog".to_string();
    a.result = crate::alert::result_text(ev.retval);
    a.process_name = process.exe.clone();
    a.parent_process_name = process.parent_exe.clone();
    a.source = process.cmdline.clone();
    match ev.kind {
        EventKind::Exec => {
            a.operation = Operation::Process.to_string();
            a.resource = exe.clone();
            a.data = "syscall=SYS_EXECVE".to_string();
            // As the exec alerts: the image run, asked for by the parent's.
            a.process_name = exe;
            a.source = process.parent_exe.clone();
            if ev.retval < 0 {
                // The caller is still its old image: it is the parent of nothing new.
                a.parent_process_name = process.exe.clone();
                a.source = process.exe.clone();
            }
        }
        EventKind::Open => {
            a.operation = Operation::File.to_string();
            a.resource = ev.path.clone();
            a.data = monitor_open_data(ev.flags);
        }
        _ => {
            a.operation = Operation::Network.to_string();
            let (resource, data) = network_fields(ev);
            a.resource = resource;
            a.data = data;
        }
    }
    if a.source.is_empty() {
        a.source = process.exe.clone();
    }
    Some(a)
}

/// A container's process: the container's fields, and `ContainerLog`.
fn set_container_log(log: &mut Alert, c: &crate::container::Container, ev: &MonitorEvent) {
    let p = ProcessInfo {
        ns_pid: ev.ns_pid as i32,
        ns_ppid: ev.ns_ppid as i32,
        ..ProcessInfo::default()
    };
    set_container(log, c, &p);
    log.kind = "ContainerLog".to_string();
}

/// `Resource` and `Data` of a network event, in the words of KubeArmor's network logs:
/// `remoteip=127.0.0.1 port=8080 protocol=TCP` (bind: `localip=`; a Unix socket:
/// `sun_path=/run/x.sock`) and `syscall=SYS_CONNECT domain=AF_INET type=SOCK_STREAM`.
fn network_fields(ev: &MonitorEvent) -> (String, String) {
    let syscall = match ev.kind {
        EventKind::Accept => "SYS_ACCEPT",
        EventKind::Bind => "SYS_BIND",
        _ => "SYS_CONNECT",
    };
    let domain = match ev.family as i32 {
        libc::AF_INET => "AF_INET".to_string(),
        libc::AF_INET6 => "AF_INET6".to_string(),
        libc::AF_UNIX => "AF_UNIX".to_string(),
        libc::AF_NETLINK => "AF_NETLINK".to_string(),
        f => f.to_string(),
    };
    let sock_type = match ev.sock_type as i32 {
        libc::SOCK_STREAM => "SOCK_STREAM".to_string(),
        libc::SOCK_DGRAM => "SOCK_DGRAM".to_string(),
        libc::SOCK_RAW => "SOCK_RAW".to_string(),
        libc::SOCK_SEQPACKET => "SOCK_SEQPACKET".to_string(),
        t => t.to_string(),
    };
    let protocol = match (ev.protocol as i32, ev.sock_type as i32) {
        (libc::IPPROTO_TCP, _) | (0, libc::SOCK_STREAM) => "TCP",
        (libc::IPPROTO_UDP, _) | (0, libc::SOCK_DGRAM) => "UDP",
        (libc::IPPROTO_ICMP, _) => "ICMP",
        (libc::IPPROTO_ICMPV6, _) => "ICMPv6",
        (libc::IPPROTO_SCTP, _) => "SCTP",
        _ => "RAW",
    };
    let resource = match ev.addr {
        Some(addr) => {
            let side = if ev.kind == EventKind::Bind {
                "localip"
            } else {
                "remoteip"
            };
            format!(
                "{side}={} port={} protocol={protocol}",
                addr.ip(),
                addr.port()
            )
        }
        None if !ev.path.is_empty() => format!("sun_path={}", ev.path),
        None => String::new(),
    };
    (
        resource,
        format!("syscall={syscall} domain={domain} type={sock_type}"),
    )
}

/// The monitor's alerts about a process in a container: those of its container's rules
/// that its enforcer does not report itself, with the container's fields.
fn container_monitor_alerts(ev: &MonitorEvent, member: &Member, ctx: &AlertContext) -> Judged {
    let Some(rules) = &member.rules else {
        return Judged::alerts(Vec::new());
    };
    let root = std::path::PathBuf::from(format!("/proc/{}/root", member.container.pid));
    let mut found = monitor_alerts(ev, rules, ctx, &root);
    // The kernel's numbers: the process has often exited before its event is read.
    let p = ProcessInfo {
        ns_pid: ev.ns_pid as i32,
        ns_ppid: ev.ns_ppid as i32,
        ..ProcessInfo::default()
    };
    for a in &mut found.alerts {
        set_container(a, &member.container, &p);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `flags=` part of a `Data`.
    fn flags_of(data: &str) -> &str {
        data.split_whitespace()
            .find_map(|w| w.strip_prefix("flags="))
            .unwrap_or_else(|| panic!("no flags in {data:?}"))
    }

    fn event(kind: EventKind) -> MonitorEvent {
        MonitorEvent {
            kind,
            timestamp_ns: 1_796_547_240_000_000_000,
            pid: std::process::id(),
            ppid: 1,
            tid: std::process::id(),
            uid: 0,
            comm: String::new(),
            path: String::new(),
            flags: 0,
            retval: 0,
            addr: None,
            family: libc::AF_INET as u16,
            sock_type: libc::SOCK_STREAM as u16,
            protocol: 0,
            syscall: None,
            cgroup_id: 0,
            ns_pid: 0,
            ns_ppid: 0,
        }
    }

    /// Network logs in KubeArmor's words; only visible families are logged.
    #[test]
    fn network_logs_read_as_kubearmors() {
        let ctx = AlertContext {
            cluster_name: "c".into(),
            host_name: "h".into(),
        };
        let mut ev = event(EventKind::Connect);
        ev.addr = Some("127.0.0.1:8080".parse().unwrap());
        let all = Families {
            process: true,
            file: true,
            network: true,
            capabilities: false,
        };
        let log = monitor_log(&ev, &ctx, &all).unwrap();
        assert_eq!(log.kind, "HostLog");
        assert_eq!(log.operation, "Network");
        assert_eq!(log.resource, "remoteip=127.0.0.1 port=8080 protocol=TCP");
        assert_eq!(
            log.data,
            "syscall=SYS_CONNECT domain=AF_INET type=SOCK_STREAM"
        );
        assert_eq!(log.result, "Passed");
        assert!(log.policy_name.is_empty() && log.action.is_empty());
        ev.kind = EventKind::Bind;
        ev.sock_type = libc::SOCK_DGRAM as u16;
        ev.protocol = libc::IPPROTO_UDP as u16;
        ev.retval = -98;
        let log = monitor_log(&ev, &ctx, &all).unwrap();
        assert_eq!(log.resource, "localip=127.0.0.1 port=8080 protocol=UDP");
        assert_eq!(log.data, "syscall=SYS_BIND domain=AF_INET type=SOCK_DGRAM");
        assert_eq!(log.result, "Address already in use");
        let mut unix = event(EventKind::Accept);
        unix.family = libc::AF_UNIX as u16;
        unix.path = "/run/x.sock".into();
        let log = monitor_log(&unix, &ctx, &all).unwrap();
        assert_eq!(log.resource, "sun_path=/run/x.sock");
        assert!(log.data.starts_with("syscall=SYS_ACCEPT domain=AF_UNIX"));
        let none = Families::default();
        for kind in [EventKind::Connect, EventKind::Exec, EventKind::Open] {
            assert!(monitor_log(&event(kind), &ctx, &none).is_none());
        }
        // Forks, exits and syscalls are never logs.
        for kind in [EventKind::Fork, EventKind::Exit, EventKind::Syscall] {
            assert!(monitor_log(&event(kind), &ctx, &all).is_none());
        }
    }

    /// The same open, seen by BPF-LSM, fanotify or the eBPF monitor, reads the same in
    /// every alert's `Data` (the prefixes name the hook or syscall each one saw).
    #[test]
    fn every_backend_renders_the_same_open_flags() {
        let largefile = 0o100000;
        let cases: &[(i32, &str)] = &[
            (libc::O_RDONLY | libc::O_CLOEXEC, "O_RDONLY|O_CLOEXEC"),
            (
                libc::O_WRONLY | libc::O_CREAT | libc::O_NOCTTY | libc::O_NONBLOCK,
                "O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK",
            ),
            (
                libc::O_NOATIME | libc::O_CLOEXEC,
                "O_RDONLY|O_CLOEXEC|O_NOATIME",
            ),
            (
                largefile | libc::O_RDONLY | libc::O_CLOEXEC,
                "O_RDONLY|O_LARGEFILE|O_CLOEXEC",
            ),
            (libc::O_RDWR | libc::O_DSYNC, "O_RDWR"),
            (libc::O_RDWR | libc::O_SYNC, "O_RDWR|O_SYNC"),
            (
                libc::O_RDWR | libc::O_TMPFILE,
                "O_RDWR|O_DIRECTORY|O_TMPFILE",
            ),
            (
                libc::O_WRONLY | libc::O_APPEND | libc::O_DIRECT,
                "O_WRONLY|O_APPEND|O_DIRECT",
            ),
        ];
        for &(flags, want) in cases {
            let datas = [
                crate::enforce::bpf_lsm::open_data(flags as u32),
                crate::enforce::fanotify::openat_data(flags as u32 as u64),
                monitor_open_data(flags),
            ];
            for d in &datas {
                assert_eq!(flags_of(d), want, "{flags:#o}: {datas:?}");
            }
        }
    }

    /// A pid no process has: /proc has nothing for it, as for a process already gone.
    fn gone_pid() -> u32 {
        (1_000_000..)
            .find(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
            .unwrap()
    }

    #[test]
    fn exec_paths_answer_for_gone_processes_forks_and_recent_exits() {
        let mut e = ExecPaths::new();
        let host = std::path::Path::new("/");
        let (a, b, c) = (gone_pid(), gone_pid() + 1, gone_pid() + 2);
        // On the host the real path, symlinks resolved (as /proc names it).
        let real = std::fs::canonicalize("/proc/self/exe").unwrap();
        e.exec(a, real.to_str().unwrap(), host);
        e.fork(b, a);
        assert_eq!(e.get(b).as_deref(), real.to_str());
        // Names of the caller's own files mean nothing here: /proc names the program
        // while the process runs, and it stays unnamed once it is gone.
        let me = std::process::id();
        e.exec(me, "/proc/self/fd/7", host);
        assert_eq!(e.get(me).as_deref(), real.to_str());
        e.exec(b, "/dev/fd/3", host);
        assert_eq!(e.get(b).as_deref(), Some(""));
        e.set(c, Arc::from("/usr/bin/runc"));
        e.exec(c, "/proc/self/exe", host);
        assert_eq!(e.get(c).as_deref(), Some("/usr/bin/runc"));
        e.fork(c, b);
        assert_eq!(e.get(c).as_deref(), Some(""));
        e.fork(b, a);
        // An exited process is known until EXITED_KEPT later exits are read.
        e.exit(a);
        assert!(e.get(a).is_some());
        for p in 0..EXITED_KEPT as u32 {
            e.exec(10 + p, "/x", host);
            e.exit(10 + p);
        }
        assert!(e.get(a).is_none());
        assert!(e.get(b).is_some(), "b never exited");
        // A fork of a process whose exec was never seen, and that /proc cannot name:
        // nothing, /proc answers for the child.
        e.exec(c, "/x", host);
        e.fork(c, a);
        assert!(e.get(c).is_none());
        // A running parent never seen: /proc names it, for it and its child.
        e.paths.remove(&me);
        e.fork(c, me);
        assert_eq!(e.get(c).as_deref(), real.to_str());
        assert_eq!(e.get(me).as_deref(), real.to_str());
    }

    /// A container's programs are resolved in its own tree: its absolute links lead to its
    /// own files, never the host's.
    #[test]
    fn programs_resolve_under_a_containers_root() {
        let root = std::env::temp_dir().join(format!("knox-resolve-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/dash"), "").unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("/usr/bin/dash", root.join("usr/bin/sh")).unwrap();
        std::os::unix::fs::symlink("../bin/sh", root.join("usr/bin/rel")).unwrap();
        let r = |p: &str| resolve_program(&root, p);
        assert_eq!(r("/bin/sh").as_deref(), Some("/usr/bin/dash"));
        assert_eq!(r("/usr/bin/rel").as_deref(), Some("/usr/bin/dash"));
        assert_eq!(
            r("/usr/./bin/../bin/dash").as_deref(),
            Some("/usr/bin/dash")
        );
        // Gone since: as named.
        assert_eq!(r("/bin/gone").as_deref(), Some("/bin/gone"));
        assert_eq!(r("/proc/self/exe"), None);
        // A loop is given up, as the kernel does.
        std::os::unix::fs::symlink("/loop", root.join("loop")).unwrap();
        assert_eq!(r("/loop").as_deref(), Some("/loop"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn source_of_a_gone_process_is_its_exec() {
        let pid = gone_pid();
        let mut subject = LazySubject::new(0, pid);
        assert_eq!(subject.source(), "");
        EXECS.with_borrow_mut(|e| e.exec(pid, "/usr/bin/env", std::path::Path::new("/")));
        let mut subject = LazySubject::new(0, pid);
        let want = std::fs::canonicalize("/usr/bin/env").unwrap();
        assert_eq!(subject.source(), want.to_str().unwrap());
    }

    /// Events read after the process exec'd are named after the program that did them:
    /// the one of the events' order, not /proc's, which already names the next one.
    #[test]
    fn events_before_an_exec_are_the_old_programs() {
        let me = std::process::id();
        let real = std::fs::canonicalize("/proc/self/exe").unwrap();
        let real = real.to_str().unwrap();
        let mut ev = event(EventKind::Open);
        ev.path = "/etc/hostname".into();
        // Never seen: /proc's.
        EXECS.with_borrow_mut(|e| e.paths.remove(&me));
        let p = monitor_process(&ev, None);
        assert_eq!(p.exe, real);
        assert!(!p.cmdline.is_empty());
        // As the events say (a shell before its exec): its program, and no command line
        // of the program /proc saw.
        EXECS.with_borrow_mut(|e| e.set(me, Arc::from("/usr/bin/bash")));
        let p = monitor_process(&ev, None);
        assert_eq!(p.exe, "/usr/bin/bash");
        assert!(p.cmdline.is_empty(), "{p:?}");
        let ctx = AlertContext {
            cluster_name: "c".into(),
            host_name: "h".into(),
        };
        let files = Families {
            process: false,
            file: true,
            network: false,
            capabilities: false,
        };
        let log = monitor_log(&ev, &ctx, &files).unwrap();
        assert_eq!(log.process_name, "/usr/bin/bash");
        assert_eq!(log.source, "/usr/bin/bash");
        // The kernel's own reading beats both.
        assert_eq!(monitor_process(&ev, Some("/k")).exe, "/k");
        // Nor is a process whose program nobody knows named after the file it opened.
        let mut gone = event(EventKind::Open);
        gone.pid = gone_pid();
        gone.ppid = gone.pid;
        gone.path = "/etc/hostname".into();
        let log = monitor_log(&gone, &ctx, &files).unwrap();
        assert_eq!(log.process_name, "");
        EXECS.with_borrow_mut(|e| e.paths.remove(&me));
    }
}
