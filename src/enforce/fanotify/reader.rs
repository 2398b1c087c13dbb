//! The event loop of one fanotify group: read permission events, decide with the
//! compiled rules, answer the kernel, then report.
//!
//! Rules of the loop, each of which prevents a hang of the host:
//! - every permission event gets an answer, also when deciding fails or panics;
//! - this thread never opens a file that could be marked: it reads the event fd it was
//!   given, /proc (where the kernel refuses permission events) and nothing else;
//! - events caused by any thread of the agent itself are allowed at once;
//! - facts for alerts are read while the process is still parked, and the alert is sent
//!   with `try_send` after the answer, so a slow consumer can never stall the kernel.
//!
//! Errors while deciding resolve the way an operation no rule matched would: allowed
//! unless its category (exec or open) is in allow-list mode, the default posture then
//! (counted in `errors`). An open whose flags cannot be read counts as a write (only
//! `readOnly` restrictions can tell the difference, and they should fail closed). The
//! flags come from the parked syscall: `fcntl(F_GETFL)` on the event fd would only show
//! the flags this backend gave `fanotify_init`, because the kernel opens a file of its
//! own for each event. The same syscall tells the kernel's open of a program it is
//! about to run from a real open: file allow-list mode leaves the former to the
//! process rules.

use super::plan::Identities;
use super::sys::{self, ProcPath};
use crate::enforce::{
    AlertAction, Backend, ContainerTarget, EnforcerEvent, Generation, OpResult, Operation, RuleRef,
};
use crate::policy::matcher::{CompiledRules, Decision, FastMap, Posture, Subject, Verdict};
use crate::procfs::{self, ProcessInfo};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU8, AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(super) const RUNNING: u8 = 0;
/// Replaced by a newer group: marks are gone, decide what is still queued, then exit.
pub(super) const RETIRE: u8 = 1;
/// Enforcement ends: allow what is still queued, then exit.
pub(super) const STOP: u8 = 2;

/// How long a retiring reader waits for stragglers (events that passed the mark check
/// just before the marks were removed) when the enforcer could not wait for them for
/// certain (`sys::mark_barrier` failed, e.g. at the fanotify group limit). Whatever
/// reaches the group after this is allowed by the kernel when the group closes; 20 ms
/// was once too short on a loaded 2-core machine.
pub(super) const DRAIN_QUIET: i32 = 100;
const CACHE_CAP: usize = 16 * 1024;
const INTERP_CAP: usize = 4096;
/// The ELF interpreter is opened within the same execve, microseconds after the binary.
const INTERP_WINDOW: Duration = Duration::from_secs(5);
/// How long a thread found in a container's cgroup is taken to still be there (see
/// [`Members`]): procfs's per-pid cache window.
const MEMBER_WINDOW: Duration = Duration::from_millis(100);
const MEMBER_CAP: usize = 4096;

#[derive(Default)]
pub(super) struct Counters {
    pub events: AtomicU64,
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
    pub own: AtomicU64,
    pub errors: AtomicU64,
    pub dropped_alerts: AtomicU64,
    pub cache_hits: AtomicU64,
    pub overflows: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// What every group of one enforcer shares.
pub(super) struct Shared {
    pub counters: Counters,
    pub deny_response: u32,
    pub deny_result: OpResult,
    pub own_pid: i32,
    pub events: SyncSender<EnforcerEvent>,
}

pub(super) struct Control {
    state: AtomicU8,
    /// Milliseconds a retiring or stopping reader waits for more events once its queue is
    /// empty.
    quiet_ms: AtomicI32,
    wake: sys::EventFd,
}

impl Control {
    pub fn new() -> io::Result<Control> {
        Ok(Control {
            state: AtomicU8::new(RUNNING),
            quiet_ms: AtomicI32::new(DRAIN_QUIET),
            wake: sys::EventFd::new()?,
        })
    }

    /// Tells the reader to leave `RUNNING`; it exits once its queue has been empty for
    /// `quiet_ms`.
    pub fn set(&self, state: u8, quiet_ms: i32) {
        self.quiet_ms.store(quiet_ms, Ordering::SeqCst);
        self.state.store(state, Ordering::SeqCst);
        self.wake.signal();
    }
}

pub(super) fn spawn(
    fan: Arc<OwnedFd>,
    ctl: Arc<Control>,
    rules: Arc<CompiledRules>,
    ids: Identities,
    generation: Generation,
    shared: Arc<Shared>,
    scope: Option<Arc<ContainerTarget>>,
) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("knox-fanotify".into())
        .spawn(move || {
            Reader {
                fan,
                ctl,
                rules,
                ids,
                generation,
                shared,
                scope,
                cache: FastMap::default(),
                interps: FastMap::default(),
                members: Members::default(),
                link: Vec::new(),
                scratch: Vec::new(),
            }
            .run()
        })
}

const CLASS_EXEC: u8 = 0;
const CLASS_READ: u8 = 1;
const CLASS_WRITE: u8 = 2;
/// Opened by the dynamic loader as the program it is about to run.
const CLASS_LOADED: u8 = 3;

/// The file as it is now: a change of content, owner, mode or links moves ctime.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    dev: u64,
    ino: u64,
    ctime: i64,
    ctime_ns: i64,
    class: u8,
}

impl Key {
    fn of(st: &libc::stat, class: u8) -> Key {
        Key {
            dev: st.st_dev,
            ino: st.st_ino,
            ctime: st.st_ctime,
            ctime_ns: st.st_ctime_nsec,
            class,
        }
    }
}

/// A decision for one file reached through one path (rules are about paths, and hard
/// links or bind mounts give an inode several), and for one source when a rule's
/// `fromSource` took part.
struct Cached {
    path: Box<str>,
    source: Option<Box<str>>,
    verdict: Verdict,
    interp: Option<Box<str>>,
    /// The protected name the verdict was made on, when the process used another one.
    protected: Option<Box<str>>,
}

impl Cached {
    /// `data` naming the protected path, when the decision was made on it.
    fn data(&self, data: String) -> String {
        match &self.protected {
            Some(p) => format!("{data} protected={p}"),
            None => data,
        }
    }
}

struct Expected {
    dev: u64,
    ino: u64,
    at: Instant,
}

/// Lazily read facts about the parked thread.
struct Facts {
    tid: i32,
    exec: bool,
    status: Option<Option<(i32, i32, u32)>>,
    source: Option<String>,
    used_source: bool,
    used_uid: bool,
}

impl Facts {
    fn new(tid: i32, exec: bool) -> Facts {
        Facts {
            tid,
            exec,
            status: None,
            source: None,
            used_source: false,
            used_uid: false,
        }
    }

    fn status(&mut self) -> Option<(i32, i32, u32)> {
        *self
            .status
            .get_or_insert_with(|| sys::thread_status(self.tid))
    }
}

impl Subject for Facts {
    fn source(&mut self) -> &str {
        self.used_source = true;
        if self.source.is_none() {
            // Exec: the parent's executable, as KubeArmor's BPF-LSM (the thread is still
            // running the old image, usually the parent's own). Open: the thread's own.
            let pid = if self.exec {
                self.status().map(|s| s.1).unwrap_or(0)
            } else {
                self.tid
            };
            let mut buf = Vec::new();
            let s = if pid > 0 && sys::readlink(&ProcPath::new(pid, "exe"), &mut buf).is_ok() {
                String::from_utf8_lossy(&buf).into_owned()
            } else {
                String::new()
            };
            self.source = Some(s);
        }
        self.source.as_deref().unwrap_or_default()
    }

    fn uid(&mut self) -> u32 {
        self.used_uid = true;
        // Unknown uid: nobody owns a file as u32::MAX, so ownerOnly fails closed.
        self.status().map(|s| s.2).unwrap_or(u32::MAX)
    }
}

/// How a file was being opened, from the parked syscall.
struct OpenCall {
    nr: i64,
    dirfd: i32,
    flags: Option<u64>,
}

const SYS_EXECVE: i64 = libc::SYS_execve;
const SYS_EXECVEAT: i64 = libc::SYS_execveat;

impl OpenCall {
    fn read(tid: i32) -> OpenCall {
        let Some(s) = sys::parked_syscall(tid) else {
            return OpenCall {
                nr: -1,
                dirfd: 0,
                flags: None,
            };
        };
        let dirfd = s.args[0] as u32 as i32;
        let flags = match s.nr {
            libc::SYS_open => Some(s.args[1]),
            libc::SYS_openat => Some(s.args[2]),
            libc::SYS_open_by_handle_at => Some(s.args[2]),
            libc::SYS_creat => Some((libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC) as u64),
            libc::SYS_openat2 => {
                // struct open_how starts with the u64 flags.
                let mut b = [0u8; 8];
                match sys::read_mem(tid, s.args[2], &mut b) {
                    Ok(8) => Some(u64::from_ne_bytes(b)),
                    _ => None,
                }
            }
            _ => None,
        };
        OpenCall {
            nr: s.nr,
            dirfd,
            flags,
        }
    }

    fn is_exec(&self) -> bool {
        matches!(self.nr, SYS_EXECVE | SYS_EXECVEAT | libc::SYS_uselib)
    }

    fn writes(&self) -> bool {
        if self.is_exec() {
            // The kernel opening a binary or library to run it reads it.
            return false;
        }
        match self.flags {
            Some(f) => {
                f & libc::O_ACCMODE as u64 != libc::O_RDONLY as u64
                    || f & (libc::O_APPEND | libc::O_TRUNC | libc::O_CREAT) as u64 != 0
            }
            None => true,
        }
    }

    fn render(&self) -> String {
        let flags = || render_flags(self.flags.unwrap_or(0));
        match self.nr {
            libc::SYS_open => format!("syscall=SYS_OPEN flags={}", flags()),
            libc::SYS_openat => format!("syscall=SYS_OPENAT fd={} flags={}", self.dirfd, flags()),
            libc::SYS_openat2 if self.flags.is_some() => {
                format!("syscall=SYS_OPENAT2 fd={} flags={}", self.dirfd, flags())
            }
            libc::SYS_openat2 => format!("syscall=SYS_OPENAT2 fd={}", self.dirfd),
            libc::SYS_creat => format!("syscall=SYS_CREAT flags={}", flags()),
            libc::SYS_open_by_handle_at => {
                format!("syscall=SYS_OPEN_BY_HANDLE_AT flags={}", flags())
            }
            SYS_EXECVE => "syscall=SYS_EXECVE".into(),
            SYS_EXECVEAT => "syscall=SYS_EXECVEAT".into(),
            libc::SYS_uselib => "syscall=SYS_USELIB".into(),
            n if n >= 0 => format!("syscall={n}"),
            _ => "syscall=unknown".into(),
        }
    }
}

/// Open flags as KubeArmor prints them (one renderer for every backend).
pub(super) fn render_flags(f: u64) -> String {
    // Flags are an int in every open call; higher bits of the register are not flags.
    crate::kernel::flags::open_flags(f as u32)
}

struct Alert {
    operation: Operation,
    resource: String,
    data: String,
    rule: Option<usize>,
    action: AlertAction,
}

#[derive(Default)]
struct Outcome {
    deny: bool,
    alerts: Vec<Alert>,
}

impl Outcome {
    fn add(
        &mut self,
        v: &Verdict,
        operation: Operation,
        resource: &str,
        data: impl FnOnce() -> String,
    ) {
        self.deny |= v.decision.denies();
        let mut found: Vec<(Option<usize>, AlertAction)> = Vec::new();
        match v.decision {
            Decision::Deny { rule } => found.push((Some(rule), AlertAction::Block)),
            Decision::DefaultPosture(Posture::Block) => found.push((None, AlertAction::Block)),
            Decision::DefaultPosture(Posture::Audit) => found.push((None, AlertAction::Audit)),
            Decision::Allow { .. } | Decision::Pass => {}
        }
        found.extend(v.audits.iter().map(|&r| (Some(r), AlertAction::Audit)));
        if found.is_empty() {
            return;
        }
        let data = data();
        for (rule, action) in found {
            self.alerts.push(Alert {
                operation,
                resource: resource.to_string(),
                data: data.clone(),
                rule,
                action,
            });
        }
    }
}

#[repr(C, align(8))]
struct EventBuf([u8; 8192]);

struct Reader {
    fan: Arc<OwnedFd>,
    ctl: Arc<Control>,
    rules: Arc<CompiledRules>,
    /// The marked objects by identity: other names of them are decided on theirs too.
    ids: Identities,
    /// Of `rules`: what this group's decisions are attributed with.
    generation: Generation,
    shared: Arc<Shared>,
    /// A container's group: only that container's processes are judged, and its alerts
    /// name it.
    scope: Option<Arc<ContainerTarget>>,
    cache: FastMap<Key, Vec<Rc<Cached>>>,
    /// Per thread: the ELF interpreter its exec, allowed a moment ago, will load next.
    interps: FastMap<i32, Expected>,
    /// A container's group: the threads recently found in its cgroup.
    members: Members,
    link: Vec<u8>,
    scratch: Vec<u8>,
}

impl Reader {
    fn run(mut self) {
        let mut buf = Box::new(EventBuf([0; 8192]));
        let fan = self.fan.as_raw_fd();
        let mut state = RUNNING;
        loop {
            let timeout = if state == RUNNING {
                -1
            } else {
                self.ctl.quiet_ms.load(Ordering::SeqCst)
            };
            let (ready, woken) = match sys::poll2(fan, self.ctl.wake.fd(), timeout) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    bump(&self.shared.counters.errors);
                    (true, false)
                }
            };
            if woken {
                self.ctl.wake.clear();
                state = self.ctl.state.load(Ordering::SeqCst);
            }
            if state != RUNNING && !ready && !woken {
                return;
            }
            loop {
                match sys::read(fan, &mut buf.0) {
                    Ok(0) => break,
                    Ok(n) => self.batch(&buf.0[..n], state == STOP),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(_) => {
                        // The kernel could not hand over one event (e.g. no fd for it);
                        // it answered that event itself.
                        bump(&self.shared.counters.errors);
                        break;
                    }
                }
            }
        }
    }

    fn batch(&mut self, buf: &[u8], allow_all: bool) {
        let meta_len = std::mem::size_of::<libc::fanotify_event_metadata>();
        let mut off = 0;
        while off + meta_len <= buf.len() {
            // SAFETY: at least meta_len bytes remain; read_unaligned has no alignment need.
            let meta: libc::fanotify_event_metadata =
                unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
            let len = meta.event_len as usize;
            if len < meta_len || off + len > buf.len() {
                break;
            }
            let handled = catch_unwind(AssertUnwindSafe(|| self.handle(&meta, allow_all)));
            if handled.is_err() {
                // handle() guards everything before its answer, so a panic here came
                // after it and only lost an alert. Start from a clean cache.
                bump(&self.shared.counters.errors);
                self.cache.clear();
            }
            off += len;
        }
    }

    fn handle(&mut self, meta: &libc::fanotify_event_metadata, allow_all: bool) {
        let shared = self.shared.clone();
        let counters = &shared.counters;
        if meta.mask & libc::FAN_Q_OVERFLOW != 0 {
            bump(&counters.overflows);
            return;
        }
        if meta.fd < 0 {
            bump(&counters.errors);
            return;
        }
        // SAFETY: the kernel installed this fd for us; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(meta.fd) };
        let perm = meta.mask & (libc::FAN_OPEN_PERM | libc::FAN_OPEN_EXEC_PERM);
        if perm == 0 {
            return;
        }
        bump(&counters.events);
        if meta.vers != libc::FANOTIFY_METADATA_VERSION {
            bump(&counters.errors);
            self.answer(fd.as_raw_fd(), true);
            return;
        }
        if allow_all {
            self.answer(fd.as_raw_fd(), true);
            return;
        }
        if sys::is_thread_of(shared.own_pid, meta.pid) {
            bump(&counters.own);
            self.answer(fd.as_raw_fd(), true);
            return;
        }
        let tid = meta.pid;
        // Guarded like deciding: an unwind here would leave the event unanswered. In
        // doubt the thread is judged.
        if let Some(scope) = &self.scope {
            let now = Instant::now();
            if !self.members.known(tid, now) {
                match catch_unwind(|| in_container(tid, &scope.container)) {
                    Ok(false) => {
                        self.answer(fd.as_raw_fd(), true);
                        return;
                    }
                    Ok(true) => self.members.remember(tid, now),
                    Err(_) => {}
                }
            }
        }
        let outcome =
            match catch_unwind(AssertUnwindSafe(|| self.decide(fd.as_raw_fd(), perm, tid))) {
                Ok(o) => o,
                Err(_) => {
                    bump(&counters.errors);
                    self.cache.clear();
                    let mut o = Outcome::default();
                    let exec = perm & libc::FAN_OPEN_EXEC_PERM != 0;
                    o.add(&self.unmatched(exec), operation(exec), "", String::new);
                    o
                }
            };
        // Read while the process is parked: once answered it may exit. Nothing between
        // here and the answer may unwind past it.
        let process = if outcome.alerts.is_empty() {
            None
        } else {
            let in_container = self.scope.is_some();
            Some(
                catch_unwind(|| {
                    let p = process_facts(tid);
                    if in_container {
                        procfs::with_ns_pids(p)
                    } else {
                        p
                    }
                })
                .unwrap_or_else(|_| {
                    bump(&counters.errors);
                    ProcessInfo {
                        pid: tid,
                        ..ProcessInfo::default()
                    }
                }),
            )
        };
        let result = self.answer(fd.as_raw_fd(), !outcome.deny);
        drop(fd);
        let Some(process) = process else {
            return;
        };
        let timestamp_ns = crate::kernel::clock::now_epoch_ns();
        for a in outcome.alerts {
            let ev = EnforcerEvent {
                backend: Backend::Fanotify,
                operation: a.operation,
                resource: a.resource,
                data: a.data,
                rule: a.rule.map(|index| RuleRef {
                    generation: self.generation,
                    index,
                }),
                action: a.action,
                result,
                process: process.clone(),
                timestamp_ns,
                container: self.scope.clone(),
            };
            match shared.events.try_send(ev) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    bump(&counters.dropped_alerts)
                }
            }
        }
    }

    /// Answers the kernel; returns what the process got.
    fn answer(&self, event_fd: RawFd, allow: bool) -> OpResult {
        let fan = self.fan.as_raw_fd();
        let counters = &self.shared.counters;
        if allow {
            if sys::respond(fan, event_fd, libc::FAN_ALLOW).is_err() {
                bump(&counters.errors);
            }
            bump(&counters.allowed);
            return OpResult::Passed;
        }
        bump(&counters.denied);
        match sys::respond(fan, event_fd, self.shared.deny_response) {
            Ok(()) => self.shared.deny_result,
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL)
                    && self.shared.deny_response != libc::FAN_DENY =>
            {
                // The kernel took back its custom-errno support: plain FAN_DENY is EPERM.
                bump(&counters.errors);
                if sys::respond(fan, event_fd, libc::FAN_DENY).is_err() {
                    bump(&counters.errors);
                }
                OpResult::OperationNotPermitted
            }
            Err(_) => {
                // ENOENT: the waiter is gone (killed); nothing got through.
                bump(&counters.errors);
                self.shared.deny_result
            }
        }
    }

    /// The verdict for an exec (`exec`) or open no rule could be matched against.
    fn unmatched(&self, exec: bool) -> Verdict {
        Verdict {
            decision: self.rules.unmatched(exec),
            audits: Vec::new(),
        }
    }

    fn decide(&mut self, fd: RawFd, perm: u64, tid: i32) -> Outcome {
        let mut out = Outcome::default();
        let Ok(st) = sys::fstat(fd) else {
            bump(&self.shared.counters.errors);
            let exec = perm & libc::FAN_OPEN_EXEC_PERM != 0;
            out.add(&self.unmatched(exec), operation(exec), "", String::new);
            return out;
        };
        if perm & libc::FAN_OPEN_EXEC_PERM != 0 {
            self.decide_exec(fd, tid, &st, &mut out);
        }
        if perm & libc::FAN_OPEN_PERM != 0 {
            self.decide_open(fd, tid, &st, &mut out);
        }
        out
    }

    fn decide_exec(&mut self, fd: RawFd, tid: i32, st: &libc::stat, out: &mut Outcome) {
        if self.take_interpreter(tid, st) {
            // The loader named by a binary we just allowed: loaded like a library, not an
            // exec of its own (KubeArmor's bprm_check hook does not see it either).
            return;
        }
        let rules = self.rules.clone();
        let owner = st.st_uid;
        let mut facts = Facts::new(tid, true);
        let cached = self.lookup(
            Key::of(st, CLASS_EXEC),
            fd,
            &mut facts,
            true,
            Name::Unread,
            |p, f| rules.exec(p, owner, f),
        );
        let Some(c) = cached else {
            bump(&self.shared.counters.errors);
            out.add(&self.unmatched(true), Operation::Process, "", || {
                exec_data(tid)
            });
            return;
        };
        if c.verdict.decision.denies() {
            self.interps.remove(&tid);
        } else if let Some(interp) = &c.interp {
            self.expect_interpreter(tid, interp);
        }
        out.add(&c.verdict, Operation::Process, &c.path, || {
            c.data(exec_data(tid))
        });
    }

    fn decide_open(&mut self, fd: RawFd, tid: i32, st: &libc::stat, out: &mut Outcome) {
        // The path first: it decides whether the flags matter, and gives the thread
        // time to park before its syscall is read.
        if sys::readlink(&ProcPath::self_fd(fd), &mut self.link).is_err() {
            self.link.clear();
        }
        // Reached under another name, the protected name's rules decide whether the
        // flags matter: asked only when some readOnly rule exists and the used name's
        // rules do not already say so (it costs a stat of the parent; otherwise the
        // protected name is looked for only when the cache misses).
        let mut name = Name::Read;
        let needs_flags = match std::str::from_utf8(&self.link) {
            Ok(p) if self.rules.open_depends_on_write(p) => true,
            Ok(p) if self.rules.any_read_only() => {
                let protected = self.protected_name(st.st_dev, st.st_ino, p, tid);
                let depends = protected
                    .as_deref()
                    .is_some_and(|q| self.rules.open_depends_on_write(q));
                name = Name::Resolved(protected);
                depends
            }
            Ok(_) => false,
            Err(_) => true,
        };
        // Without a readOnly candidate, reads and writes get the same answer; the flags
        // are then read only if an alert needs them.
        let mut call = needs_flags.then(|| OpenCall::read(tid));
        let write = call.as_ref().is_some_and(OpenCall::writes);
        let class = if write { CLASS_WRITE } else { CLASS_READ };
        let rules = self.rules.clone();
        let owner = st.st_uid;
        let mut facts = Facts::new(tid, false);
        let cached = self.lookup(Key::of(st, class), fd, &mut facts, false, name, |p, f| {
            rules.open(p, write, owner, f)
        });
        let Some(c) = cached else {
            bump(&self.shared.counters.errors);
            let data = || call.unwrap_or_else(|| OpenCall::read(tid)).render();
            out.add(&self.unmatched(false), Operation::File, "", data);
            return;
        };
        // An exec raises an open event too (on the program and on its interpreter) where
        // file rules put marks. That open is the exec, which file allow-list mode leaves
        // to the process rules, as the BPF-LSM enforcer's file_open hook does: a program
        // no file rule allows still runs. Asked only of misses, which alert anyway.
        let exec_miss = matches!(c.verdict.decision, Decision::DefaultPosture(_))
            && call.get_or_insert_with(|| OpenCall::read(tid)).is_exec();
        if !c.verdict.decision.denies()
            && self.ids.file(st.st_dev, st.st_ino).is_some()
            && procfs::is_dynamic_loader(facts.source())
        {
            let loader = facts.source().to_owned();
            self.decide_loaded(fd, tid, st, &loader, out);
        }
        let data = || c.data(call.unwrap_or_else(|| OpenCall::read(tid)).render());
        if exec_miss {
            let pass = Verdict {
                decision: Decision::Pass,
                audits: c.verdict.audits.clone(),
            };
            out.add(&pass, Operation::File, &c.path, data);
        } else {
            out.add(&c.verdict, Operation::File, &c.path, data);
        }
    }

    /// A program opened by the dynamic loader running as a program: it will map and run
    /// it with no exec of its own, so the process rules decide, as if it were exec'd by
    /// the loader's parent (a fromSource rule sees the shell that ran `ld.so PROGRAM`).
    fn decide_loaded(
        &mut self,
        fd: RawFd,
        tid: i32,
        st: &libc::stat,
        loader: &str,
        out: &mut Outcome,
    ) {
        let rules = self.rules.clone();
        let owner = st.st_uid;
        let mut facts = Facts::new(tid, true);
        // The open's path is still in `link`.
        let Some(c) = self.lookup(
            Key::of(st, CLASS_LOADED),
            fd,
            &mut facts,
            false,
            Name::Read,
            |p, f| rules.exec(p, owner, f),
        ) else {
            return;
        };
        out.add(&c.verdict, Operation::Process, &c.path, || {
            c.data(format!("syscall=SYS_OPENAT loader={loader}"))
        });
    }

    /// The cached decision for this file, path and (when it mattered) source, or a fresh one.
    fn lookup(
        &mut self,
        key: Key,
        fd: RawFd,
        facts: &mut Facts,
        want_interp: bool,
        name: Name,
        eval: impl Fn(&str, &mut Facts) -> Verdict,
    ) -> Option<Rc<Cached>> {
        if matches!(name, Name::Unread) {
            sys::readlink(&ProcPath::self_fd(fd), &mut self.link).ok()?;
        }
        if self.link.is_empty() {
            return None;
        }
        if let Some(list) = self.cache.get(&key) {
            for c in list {
                if c.path.as_bytes() != self.link.as_slice() {
                    continue;
                }
                let hit = match &c.source {
                    None => true,
                    Some(s) => facts.source() == &**s,
                };
                if hit {
                    bump(&self.shared.counters.cache_hits);
                    return Some(c.clone());
                }
            }
        }
        let path: Box<str> = String::from_utf8_lossy(&self.link).into();
        let mut verdict = eval(&path, facts);
        let mut protected = None;
        let name = match name {
            Name::Resolved(name) => name,
            Name::Unread | Name::Read => self.protected_name(key.dev, key.ino, &path, facts.tid),
        };
        if let Some(name) = name {
            let theirs = eval(&name, facts);
            if stricter(&theirs, &verdict) {
                verdict = theirs;
                protected = Some(name);
            }
        }
        let interp = if want_interp && !verdict.decision.denies() {
            sys::elf_interpreter(fd)
        } else {
            None
        };
        let source = facts.used_source.then(|| Box::from(facts.source()));
        let cached = Rc::new(Cached {
            path,
            source,
            verdict,
            interp,
            protected,
        });
        // A decision that looked at the uid holds for that uid only: not cached.
        if !facts.used_uid {
            if self.cache.len() >= CACHE_CAP {
                self.cache.clear();
            }
            let list = self.cache.entry(key).or_default();
            if list.len() >= 16 {
                list.clear();
            }
            list.push(cached.clone());
        }
        Some(cached)
    }

    /// The name the rules gave the object `path` reached, when that is another name: the
    /// marked file itself (hard link, bind-mounted file), or the marked directory the
    /// path's parent is (bind-mounted or renamed directory or ancestor), looked up as the
    /// agent sees it and, failing that, as the process does (its mount namespace).
    fn protected_name(&self, dev: u64, ino: u64, path: &str, tid: i32) -> Option<Box<str>> {
        if let Some(p) = self.ids.file(dev, ino) {
            return (p != path).then(|| p.into());
        }
        if !self.ids.has_dirs() {
            return None;
        }
        let (parent, name) = path.rsplit_once('/')?;
        let parent = if parent.is_empty() { "/" } else { parent };
        let marked = |at: &str| {
            let md = std::fs::metadata(at).ok()?;
            self.ids.dir(md.dev(), md.ino())
        };
        let dir = marked(parent).or_else(|| marked(&format!("/proc/{tid}/root{parent}")))?;
        let full = if dir == "/" {
            format!("/{name}")
        } else {
            format!("{dir}/{name}")
        };
        (full != path).then(|| full.into())
    }

    fn expect_interpreter(&mut self, tid: i32, interp: &str) {
        // The loader path is in the process's root (a container's, maybe).
        let root = ProcPath::new(tid, "root");
        let root = root.as_bytes_with_nul();
        self.scratch.clear();
        self.scratch.extend_from_slice(&root[..root.len() - 1]);
        self.scratch.extend_from_slice(interp.as_bytes());
        self.scratch.push(0);
        let Ok(st) = sys::stat_c(&self.scratch) else {
            return;
        };
        if self.interps.len() >= INTERP_CAP {
            self.interps.retain(|_, e| e.at.elapsed() < INTERP_WINDOW);
            if self.interps.len() >= INTERP_CAP {
                self.interps.clear();
            }
        }
        self.interps.insert(
            tid,
            Expected {
                dev: st.st_dev,
                ino: st.st_ino,
                at: Instant::now(),
            },
        );
    }

    fn take_interpreter(&mut self, tid: i32, st: &libc::stat) -> bool {
        match self.interps.get(&tid) {
            Some(e) if e.dev == st.st_dev && e.ino == st.st_ino => {
                let fresh = e.at.elapsed() < INTERP_WINDOW;
                self.interps.remove(&tid);
                fresh
            }
            _ => false,
        }
    }
}

/// `Data` of an openat(AT_FDCWD, ...) with `flags`, as this backend reports it.
#[cfg(test)]
pub(crate) fn openat_data(flags: u64) -> String {
    OpenCall {
        nr: libc::SYS_openat,
        dirfd: libc::AT_FDCWD,
        flags: Some(flags),
    }
    .render()
}

/// What `lookup` is told about the path of the event's file.
enum Name {
    /// Not read yet.
    Unread,
    /// In `link`; the protected name is looked for if the cache misses.
    Read,
    /// In `link`, and the protected name (if another) already found.
    Resolved(Option<Box<str>>),
}

/// Whether `a` says more than `b`: it denies where `b` does not, or a rule matched where
/// none of `b`'s did (allowed or audited, rather than left to the default).
fn stricter(a: &Verdict, b: &Verdict) -> bool {
    let said = |v: &Verdict| {
        matches!(v.decision, Decision::Allow { .. } | Decision::Deny { .. }) || !v.audits.is_empty()
    };
    (a.decision.denies() && !b.decision.denies()) || (!b.decision.denies() && said(a) && !said(b))
}

fn operation(exec: bool) -> Operation {
    if exec {
        Operation::Process
    } else {
        Operation::File
    }
}

fn exec_data(tid: i32) -> String {
    match sys::parked_syscall(tid) {
        Some(s) if s.nr == SYS_EXECVEAT => "syscall=SYS_EXECVEAT".into(),
        _ => "syscall=SYS_EXECVE".into(),
    }
}

/// The threads a container's group found in the container's cgroup in the last
/// [`MEMBER_WINDOW`], so that the other opens of a program (its loader, libraries, files)
/// do not each read `/proc/<tid>/cgroup` again (that read was a fifth of the reader's time
/// per event). Only membership is remembered: a thread found outside is asked again at its
/// next event, because `runc exec` and `podman exec` start a process on the host and move
/// it in. Stale answers are bounded by the window: a tid is not given to another thread
/// within it (the kernel hands out pids cyclically up to `pid_max`), and a thread moved
/// out of the container by the host's root is judged by the container's rules for at most
/// that long (from inside, a container cannot leave its cgroup subtree).
#[derive(Default)]
struct Members {
    seen: FastMap<i32, Instant>,
}

impl Members {
    fn known(&self, tid: i32, now: Instant) -> bool {
        self.seen
            .get(&tid)
            .is_some_and(|&at| now.saturating_duration_since(at) < MEMBER_WINDOW)
    }

    fn remember(&mut self, tid: i32, now: Instant) {
        if self.seen.len() >= MEMBER_CAP {
            self.seen
                .retain(|_, at| now.saturating_duration_since(*at) < MEMBER_WINDOW);
            if self.seen.len() >= MEMBER_CAP {
                self.seen.clear();
            }
        }
        self.seen.insert(tid, now);
    }
}

/// Whether thread `tid` runs in container `c`: its unified cgroup is the container's or
/// below it (a root process that makes a sub-cgroup and moves into it stays judged, whatever
/// it names it), or, without a cgroup2 hierarchy, its cgroup path names the container. A
/// positive answer is kept for a short while ([`Members`]).
fn in_container(tid: i32, c: &crate::container::Container) -> bool {
    // Hybrid hierarchies list a dozen controllers; 4 KiB holds them.
    let mut buf = [0u8; 4096];
    let Ok(n) = sys::read_proc(&ProcPath::new(tid, "cgroup"), &mut buf) else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(&buf[..n]) else {
        return false;
    };
    let base = c.cgroup_path.as_str();
    match crate::container::cgroup::unified_path(text) {
        Some(path) if !base.is_empty() && base != "/" => {
            path == base
                || path
                    .strip_prefix(base)
                    .is_some_and(|rest| rest.starts_with('/'))
        }
        _ => crate::container::cgroup::container_of_proc_cgroup(text).is_some_and(|m| m.id == c.id),
    }
}

/// The acting process (its thread group, not the thread) as alerts describe it.
fn process_facts(tid: i32) -> ProcessInfo {
    let tgid = sys::thread_status(tid).map(|s| s.0).unwrap_or(tid);
    procfs::process_info(tgid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_render_like_kubearmor() {
        let f = |v: i32| render_flags(v as u64);
        assert_eq!(f(libc::O_RDONLY | libc::O_CLOEXEC), "O_RDONLY|O_CLOEXEC");
        assert_eq!(f(libc::O_WRONLY | libc::O_CREAT), "O_WRONLY|O_CREAT");
        assert_eq!(
            f(libc::O_WRONLY | libc::O_CREAT | libc::O_APPEND),
            "O_WRONLY|O_CREAT|O_APPEND"
        );
        assert_eq!(f(libc::O_RDWR | libc::O_SYNC), "O_RDWR|O_SYNC");
        // KubeArmor tests O_TMPFILE's own bit, and prints the O_DIRECTORY bit it includes.
        assert_eq!(
            f(libc::O_RDWR | libc::O_TMPFILE),
            "O_RDWR|O_DIRECTORY|O_TMPFILE"
        );
        assert_eq!(
            f(libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NONBLOCK),
            "O_RDONLY|O_NONBLOCK|O_DIRECTORY"
        );
    }

    #[test]
    fn container_members_are_remembered_for_a_short_window_only() {
        let t0 = Instant::now();
        let mut m = Members::default();
        assert!(!m.known(42, t0), "nothing is known before it is found");
        m.remember(42, t0);
        assert!(m.known(42, t0));
        assert!(m.known(42, t0 + MEMBER_WINDOW - Duration::from_millis(1)));
        assert!(
            !m.known(42, t0 + MEMBER_WINDOW),
            "asked again after the window"
        );
        assert!(!m.known(43, t0), "per thread");
        // Full: the stale entries are dropped; if all are fresh, all are (bounded memory,
        // and a forgotten member is only asked again).
        for tid in 1000..1000 + MEMBER_CAP as i32 - 1 {
            m.remember(tid, t0);
        }
        assert_eq!(m.seen.len(), MEMBER_CAP);
        let after = t0 + MEMBER_WINDOW + Duration::from_millis(1);
        m.remember(7, after);
        assert!(m.known(7, after) && !m.known(42, after));
        assert_eq!(m.seen.len(), 1, "the stale entries were dropped");
        for tid in 1000..1000 + MEMBER_CAP as i32 - 1 {
            m.remember(tid, after);
        }
        assert_eq!(m.seen.len(), MEMBER_CAP);
        m.remember(8, after);
        assert!(m.known(8, after) && !m.known(1000, after));
        assert_eq!(m.seen.len(), 1);
    }

    #[test]
    fn writes_are_what_can_change_the_file() {
        let call = |nr, flags| OpenCall {
            nr,
            dirfd: -100,
            flags,
        };
        let o = |f: i32| Some(f as u64);
        assert!(!call(libc::SYS_openat, o(libc::O_RDONLY)).writes());
        assert!(call(libc::SYS_openat, o(libc::O_WRONLY)).writes());
        assert!(call(libc::SYS_openat, o(libc::O_RDWR)).writes());
        assert!(call(libc::SYS_openat, o(libc::O_RDONLY | libc::O_TRUNC)).writes());
        assert!(call(libc::SYS_openat, o(libc::O_RDONLY | libc::O_CREAT)).writes());
        assert!(call(libc::SYS_open, o(libc::O_WRONLY | libc::O_APPEND)).writes());
        assert!(!call(libc::SYS_execve, None).writes());
        assert!(call(-1, None).writes(), "unknown flags fail closed");
        assert_eq!(
            call(
                libc::SYS_openat,
                o(libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC)
            )
            .render(),
            "syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_TRUNC"
        );
        assert_eq!(call(libc::SYS_execve, None).render(), "syscall=SYS_EXECVE");
    }
}
