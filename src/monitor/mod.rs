//! The eBPF monitor: tracepoint programs (C, compiled with clang; objects committed next to
//! their sources) that report exec/exit/fork, file opens, network connect/accept/bind and
//! the syscalls that syscall rules name through a ring buffer. It feeds Audit alerts and
//! enriches enforcer alerts.
//!
//! This module owns loading `bpf/monitor.bpf.o` (embedded in the binary, so `cargo build`
//! needs no clang; `scripts/build-bpf.sh` regenerates it), attaching its programs, the
//! reader thread that decodes the ring buffer into [`MonitorEvent`]s, and the in-kernel
//! switches (which families are reported, which syscalls, which pids are ignored, whose
//! opens are reported: [`Monitor::set_unreached`]).
//!
//! Back-pressure never grows memory: the kernel drops into a per-CPU counter when the ring
//! buffer is full, and the reader drops into a counter when the bounded channel to the
//! agent is full; [`Monitor::stats`] reports both.

mod event;
mod syscalls;

use crate::kernel::{self, wake::EventFd};
use aya::maps::{Array, HashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::fexit::FExitLink;
use aya::programs::tp_btf::BtfTracePointLink;
use aya::programs::trace_point::TracePointLink;
use aya::programs::{BtfTracePoint, FExit, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};
use std::collections::BTreeMap;
use std::error::Error as _;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The compiled tracepoint programs (see `bpf/monitor.bpf.c`).
static OBJECT: &[u8] = aya::include_bytes_aligned!("bpf/monitor.bpf.o");

/// Ring buffer size used by [`Monitor::start`]: about 80,000 typical events (an exec with
/// a short path takes ~100 bytes), i.e. well over a second of a heavy exec storm.
pub const DEFAULT_RING_BYTES: u32 = 8 << 20;

/// How long the reader sleeps in poll(2): the latency of an event, since the programs
/// wake the reader only when a quarter of the ring buffer is unread (see `submit` in
/// monitor.bpf.c: a wakeup per event costs more than the event itself). 10 ms while
/// events come; on a quiet machine it stretches to 500 ms, the latency of the first
/// audit alert after a pause, so that an idle agent sleeps (benches/agent-idle.sh).
/// stop() wakes the reader at once through an eventfd.
const POLL_TIMEOUT: kernel::ring::PollTimeout = kernel::ring::PollTimeout {
    busy: 10,
    idle: 500,
};

// Indexes of the `config` array map (CFG_* in monitor.bpf.c).
const CONFIG_EXEC: u32 = 0;
const CONFIG_FILES: u32 = 1;
const CONFIG_NETWORK: u32 = 2;
const CONFIG_UNREACHED: u32 = 3;

// Values of config[CONFIG_UNREACHED] (UNREACHED_* in monitor.bpf.c).
const UNREACHED_OFF: u32 = 0;
const UNREACHED_TRACK: u32 = 1;
const UNREACHED_FILTER: u32 = 2;

/// Programs that keep `unreached_tgids` current (forks add, execs mark, exits remove):
/// they are attached while it is in use, whatever the process family's switch.
const LINEAGE: [&str; 3] = ["sched_exec", "sched_exit", "sched_fork"];

// Event kinds (EV_* in monitor.bpf.c).
const KIND_EXEC: u32 = 1;
const KIND_EXIT: u32 = 2;
const KIND_FORK: u32 = 3;
const KIND_OPEN: u32 = 4;
const KIND_CONNECT: u32 = 5;
const KIND_ACCEPT: u32 = 6;
const KIND_BIND: u32 = 7;
const KIND_SYSCALL: u32 = 8;
/// Not an event: a watched process exec'd (see [`Relabel`]).
const KIND_UNREACHED_EXEC: u32 = 9;

/// Entries of the `syscalls` map (SC_MAX in monitor.bpf.c).
const SC_MAX: u32 = 512;

// `str_flags` of syscall events (SCS_* in monitor.bpf.c), per string i.
const fn scs_truncated(i: usize) -> u16 {
    1 << i
}
const fn scs_relative(i: usize) -> u16 {
    0x10 << i
}

#[cfg(test)]
use event::EVENT_HDR_SIZE;
use event::EventHeader;

const AF_INET: u16 = libc::AF_INET as u16;
const AF_INET6: u16 = libc::AF_INET6 as u16;

/// Event families; the index is also the family's slot in the `config` map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    Process = CONFIG_EXEC as isize,
    Files = CONFIG_FILES as isize,
    Network = CONFIG_NETWORK as isize,
}

const FAMILIES: [Family; 3] = [Family::Process, Family::Files, Family::Network];

/// Where a program attaches.
#[derive(Clone, Copy, Debug)]
enum Hook {
    /// A classic tracepoint (category, name). `optional` ones do not exist on every
    /// architecture (arm64 has no open/creat syscalls) and are skipped when absent.
    TracePoint {
        category: &'static str,
        name: &'static str,
        optional: bool,
    },
    /// A BTF-typed raw tracepoint.
    BtfTracePoint(&'static str),
    /// fexit on a kernel function: the open programs' cheaper route, used instead of the
    /// open tracepoints where the kernel accepts trampolines ([`Kernel::open_fexit`]).
    FExit(&'static str),
}

const fn tp(category: &'static str, name: &'static str) -> Hook {
    Hook::TracePoint {
        category,
        name,
        optional: false,
    }
}

const fn optional_tp(category: &'static str, name: &'static str) -> Hook {
    Hook::TracePoint {
        category,
        name,
        optional: true,
    }
}

/// Every program of monitor.bpf.c: (function name, family, hook).
const PROGRAMS: &[(&str, Family, Hook)] = &[
    (
        "enter_execve",
        Family::Process,
        tp("syscalls", "sys_enter_execve"),
    ),
    (
        "exit_execve",
        Family::Process,
        tp("syscalls", "sys_exit_execve"),
    ),
    (
        "enter_execveat",
        Family::Process,
        tp("syscalls", "sys_enter_execveat"),
    ),
    (
        "exit_execveat",
        Family::Process,
        tp("syscalls", "sys_exit_execveat"),
    ),
    (
        "sched_exec",
        Family::Process,
        tp("sched", "sched_process_exec"),
    ),
    (
        "sched_exit",
        Family::Process,
        tp("sched", "sched_process_exit"),
    ),
    (
        "sched_fork",
        Family::Process,
        Hook::BtfTracePoint("sched_process_fork"),
    ),
    (
        "enter_openat",
        Family::Files,
        tp("syscalls", "sys_enter_openat"),
    ),
    (
        "exit_openat",
        Family::Files,
        tp("syscalls", "sys_exit_openat"),
    ),
    (
        "enter_openat2",
        Family::Files,
        optional_tp("syscalls", "sys_enter_openat2"),
    ),
    (
        "exit_openat2",
        Family::Files,
        optional_tp("syscalls", "sys_exit_openat2"),
    ),
    (
        "enter_open",
        Family::Files,
        optional_tp("syscalls", "sys_enter_open"),
    ),
    (
        "exit_open",
        Family::Files,
        optional_tp("syscalls", "sys_exit_open"),
    ),
    (
        "enter_creat",
        Family::Files,
        optional_tp("syscalls", "sys_enter_creat"),
    ),
    (
        "exit_creat",
        Family::Files,
        optional_tp("syscalls", "sys_exit_creat"),
    ),
    (
        "fexit_openat",
        Family::Files,
        Hook::FExit("__x64_sys_openat"),
    ),
    (
        "fexit_openat2",
        Family::Files,
        Hook::FExit("__x64_sys_openat2"),
    ),
    ("fexit_open", Family::Files, Hook::FExit("__x64_sys_open")),
    ("fexit_creat", Family::Files, Hook::FExit("__x64_sys_creat")),
    (
        "enter_connect",
        Family::Network,
        tp("syscalls", "sys_enter_connect"),
    ),
    (
        "exit_connect",
        Family::Network,
        tp("syscalls", "sys_exit_connect"),
    ),
    (
        "enter_accept",
        Family::Network,
        optional_tp("syscalls", "sys_enter_accept"),
    ),
    (
        "exit_accept",
        Family::Network,
        optional_tp("syscalls", "sys_exit_accept"),
    ),
    (
        "enter_accept4",
        Family::Network,
        tp("syscalls", "sys_enter_accept4"),
    ),
    (
        "exit_accept4",
        Family::Network,
        tp("syscalls", "sys_exit_accept4"),
    ),
    (
        "enter_bind",
        Family::Network,
        tp("syscalls", "sys_enter_bind"),
    ),
    (
        "exit_bind",
        Family::Network,
        tp("syscalls", "sys_exit_bind"),
    ),
];

#[derive(Clone, Debug)]
pub struct MonitorConfig {
    /// Process events: exec, exit, fork.
    pub exec: bool,
    /// File opens (costly: every open on the host goes through the programs' fast path).
    pub files: bool,
    /// connect, accept, bind.
    pub network: bool,
    /// Bound of the channel to the consumer; events beyond it are counted and dropped.
    pub channel_capacity: usize,
    /// Processes (host tgids) whose own activity is never reported.
    pub ignore_pids: Vec<u32>,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            exec: true,
            files: false,
            network: true,
            channel_capacity: 65536,
            ignore_pids: vec![std::process::id()],
        }
    }
}

/// Why a process is in `unreached_tgids` (UNREACHED_LABEL_* in monitor.bpf.c): what its
/// next exec does to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreached {
    /// Outside every profile: its next exec puts it under one, the enforcer's or another
    /// (a program with a profile of its own), which [`Unreachable::after_exec`] tells.
    Unconfined = 1,
    /// Under a profile of someone else's (a distribution's): its execs stay under such
    /// profiles as far as the monitor knows (it stays in the map).
    OtherProfile = 2,
}

/// UNREACHED_LABEL_EXECED: exec'd since it was Unconfined, label not read yet (watched).
#[cfg(test)]
const UNREACHED_LABEL_EXECED: u32 = 3;

/// Processes whose opens are reported, from /proc: `(tgid, Some(why))` to report,
/// `(tgid, None)` for a process seen and not to report.
pub type UnreachedScan = Vec<(u32, Option<Unreached>)>;

/// Which processes an enforcer does not reach, as the monitor's in-kernel filter of opens
/// asks it ([`Monitor::set_unreached`]): the enforcer's knowledge (AppArmor labels), which
/// the monitor does not have.
pub trait Unreachable: Send + Sync {
    /// Every process now, from /proc.
    fn scan(&self) -> UnreachedScan;
    /// Why `tgid`, an [`Unreached::Unconfined`] process that has just exec'd, is still
    /// not reached; None when it is now, or is gone. Called from the monitor's reader
    /// thread, before the events that follow the exec are handed on.
    fn after_exec(&self, tgid: u32) -> Option<Unreached>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Exec,
    Exit,
    Fork,
    Open,
    Connect,
    Accept,
    Bind,
    Syscall,
}

impl EventKind {
    fn from_raw(kind: u32) -> Option<EventKind> {
        Some(match kind {
            KIND_EXEC => EventKind::Exec,
            KIND_EXIT => EventKind::Exit,
            KIND_FORK => EventKind::Fork,
            KIND_OPEN => EventKind::Open,
            KIND_CONNECT => EventKind::Connect,
            KIND_ACCEPT => EventKind::Accept,
            KIND_BIND => EventKind::Bind,
            KIND_SYSCALL => EventKind::Syscall,
            _ => return None,
        })
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventKind::Exec => "exec",
            EventKind::Exit => "exit",
            EventKind::Fork => "fork",
            EventKind::Open => "open",
            EventKind::Connect => "connect",
            EventKind::Accept => "accept",
            EventKind::Bind => "bind",
            EventKind::Syscall => "syscall",
        })
    }
}

/// One event, as the kernel saw it. Pids are host pids (the init pid namespace).
///
/// Per kind:
/// - `Exec`: the process after a successful exec (new comm and uid, `retval` 0, `path` the
///   name the kernel executed), or the caller of a failed one (`retval` = -errno, `path` as
///   passed to execve). `flags` are execveat's flags.
/// - `Exit`: the last thread of a process ended; `retval` is the wait(2) status
///   (`code << 8`, or the terminating signal in the low 7 bits).
/// - `Fork`: a new process (new threads are not reported); `pid`/`tid` are the child's,
///   `ppid` its parent, `comm` and `uid` inherited from the parent; `retval` the process
///   that forked it, whose program the child runs (not always the parent: `CLONE_PARENT`
///   gives the child its forker's parent).
/// - `Open`: open/openat/openat2/creat; `path` as passed (relative paths stay relative),
///   `flags` the open flags, `retval` the fd or -errno.
/// - `Connect`/`Bind`: the caller's address, `retval` 0 or -errno (a non-blocking connect
///   gives -EINPROGRESS). `Accept`: the peer's address, `retval` the new fd or -errno.
///   For AF_UNIX, `path` holds the socket path (`@name` for abstract sockets).
/// - `Syscall`: a syscall named with [`Monitor::set_syscalls`]; `retval` its result (what
///   it returned, or -errno), `syscall` its number and objects, `path` its first object.
#[derive(Clone, Debug, PartialEq)]
pub struct MonitorEvent {
    pub kind: EventKind,
    /// Nanoseconds since the Unix epoch (converted from the kernel's boot-time clock).
    pub timestamp_ns: u128,
    pub pid: u32,
    pub ppid: u32,
    pub tid: u32,
    pub uid: u32,
    pub comm: String,
    /// Exec filename / opened path ("" for network, except AF_UNIX).
    pub path: String,
    /// Open flags (see [`open_flags`]); execveat flags for exec.
    pub flags: i32,
    pub retval: i64,
    /// Network events with an IPv4/IPv6 address.
    pub addr: Option<SocketAddr>,
    /// Socket family, type (SOCK_STREAM...) and protocol (IPPROTO_TCP...); 0 if unknown.
    pub family: u16,
    pub sock_type: u16,
    pub protocol: u16,
    /// `Syscall` events only.
    pub syscall: Option<SyscallDetail>,
    /// The task's cgroup v2 id (0 without cgroup2): which container, if any, it is in.
    pub cgroup_id: u64,
    /// `pid` and `ppid` as the process's own pid namespace numbers them (a container's
    /// view; equal to them on the host). `ns_ppid` is 0 for a parent outside it.
    pub ns_pid: u32,
    pub ns_ppid: u32,
}

/// What a `Syscall` event adds to the common fields.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyscallDetail {
    /// The syscall's number (see [`crate::policy::syscalls::name`]).
    pub nr: u32,
    /// The objects of a syscall that takes paths or acts on an fd: its path, and the second
    /// one of rename, link, pivot_root (new name, put_old). How each is resolved to an
    /// absolute path, and what is not resolved, is told at the top of monitor.bpf.c's
    /// syscall section.
    pub paths: [Option<SyscallPath>; 2],
    /// The caller's executable, when [`SyscallWatch::exe`] asked for it.
    pub exe: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SyscallPath {
    /// Absolute and lexically normalized (no `//`, `.` or `..`) when `complete`.
    pub path: String,
    /// False when the path was truncated (deeper than 64 components or longer than
    /// PATH_MAX), or stayed relative because its directory could not be resolved.
    pub complete: bool,
}

/// A syscall the monitor is to report.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SyscallWatch {
    /// The x86-64 name, as KubeArmor's syscall enum spells it (`unlink`).
    pub name: String,
    /// Whether its events carry the caller's executable (read in the kernel: the process
    /// may be gone by the time userspace could read /proc/PID/exe).
    pub exe: bool,
}

/// A syscall [`Monitor::set_syscalls`] could not trace, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Untraced {
    pub name: String,
    pub reason: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonitorStats {
    /// Events delivered into the channel.
    pub received: u64,
    /// Events the kernel could not write because the ring buffer was full.
    pub lost_in_kernel: u64,
    /// Events read from the ring buffer but dropped because the channel was full (or its
    /// receiver gone).
    pub dropped_in_userspace: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    /// The kernel cannot run the monitor (no BTF, BPF refused...).
    #[error("the eBPF monitor is not usable on this kernel: {0}")]
    Unsupported(String),
    /// Loading the object or a program failed (verifier, relocation, permissions).
    #[error("loading the eBPF monitor: {0}")]
    Load(String),
    #[error("attaching {program} to {tracepoint}: {reason}")]
    Attach {
        program: String,
        tracepoint: String,
        reason: String,
    },
    #[error("eBPF map {map}: {reason}")]
    Map { map: &'static str, reason: String },
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        source: std::io::Error,
    },
}

/// An error and its sources on one line: aya's top-level messages ("error relocating
/// section") hide the useful part in the source chain.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn map_err(map: &'static str) -> impl Fn(aya::maps::MapError) -> MonitorError {
    move |e| MonitorError::Map {
        map,
        reason: chain(&e),
    }
}

/// Counters shared with the reader thread.
#[derive(Default)]
struct Counters {
    received: AtomicU64,
    dropped: AtomicU64,
}

/// An attached program; dropping it detaches it.
#[expect(dead_code, reason = "held only for its Drop, which detaches")]
enum Link {
    TracePoint(TracePointLink),
    Btf(BtfTracePointLink),
    FExit(FExitLink),
}

/// Resolves the EV_UNREACHED_EXEC records in the reader thread: the kernel marked the
/// process's entry UNREACHED_LABEL_EXECED (still watched); [`Unreachable::after_exec`]
/// says what it runs under now, and the entry is removed or relabelled. Its own handles
/// of the maps, so that the reader never waits for [`Kernel`]'s lock.
struct Relabel {
    source: Arc<Mutex<Option<Arc<dyn Unreachable>>>>,
    tgids: HashMap<MapData, u32, u8>,
    config: Array<MapData, u32>,
}

impl Relabel {
    fn exec(&mut self, tgid: u32) {
        let source = self
            .source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Off: set_unreached(None) clears the map.
        let Some(source) = source else {
            return;
        };
        match source.after_exec(tgid) {
            None => {
                let _ = self.tgids.remove(&tgid);
            }
            // In place when the entry is there (an exit may have removed it since, then
            // this one only lingers until the next scan's sweep); a full map is the
            // kernel's overflow: every open is reported until the next apply.
            Some(why) => {
                if let Err(e) = self.tgids.insert(tgid, why as u8, 0) {
                    tracing::warn!(error = %chain(&e), "eBPF monitor: unreached_tgids is full; every open is reported");
                    let _ = self.config.set(CONFIG_UNREACHED, UNREACHED_TRACK, 0);
                }
            }
        }
    }
}

/// Another handle of the same kernel map.
fn dup_map(map: &MapData, name: &'static str) -> Result<MapData, MonitorError> {
    use std::os::fd::AsFd;
    let fd = map
        .fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| MonitorError::Io {
            context: "duplicating a map's fd",
            source,
        })?;
    MapData::from_fd(fd).map_err(map_err(name))
}

/// The loaded programs and the maps userspace writes, behind one lock.
struct Kernel {
    ebpf: Ebpf,
    config: Array<MapData, u32>,
    ignore: HashMap<MapData, u32, u8>,
    unreached_tgids: HashMap<MapData, u32, u8>,
    /// Which families are on (indexed like `config`).
    on: [bool; 3],
    /// config[CONFIG_UNREACHED] as last written by userspace.
    unreached: u32,
    /// Who answers for the watched processes' execs (shared with the reader's [`Relabel`]).
    unreached_source: Arc<Mutex<Option<Arc<dyn Unreachable>>>>,
    /// Attached links, per program (indexed like `PROGRAMS`).
    links: Vec<Option<Link>>,
    /// What the syscall programs report, by syscall number.
    syscalls: Array<MapData, syscalls::Shape>,
    /// The enter and exit links of each traced syscall.
    syscall_links: BTreeMap<u32, Vec<Link>>,
    /// Whether the kernel accepted the syscall programs (they need bpf_loop, Linux 5.17);
    /// without them the other families still work.
    syscall_support: Result<(), String>,
    /// Whether opens are reported by the fexit programs (the kernel loaded and attached
    /// them) rather than by the open syscall tracepoints, or why not.
    open_fexit: Result<(), String>,
}

impl Kernel {
    /// Sets the families' switches and attaches or detaches their programs.
    ///
    /// The switch in the `config` map is what the programs obey, so a change is atomic
    /// from the kernel's point of view. Programs of a family that is off are also
    /// detached: an attached syscall tracepoint costs every such syscall on the host even
    /// when the program returns at once (on the 2-core dev VM, open+close went from ~3.3
    /// to ~4.2-5.2 us with the open programs attached but switched off).
    fn set_families(&mut self, on: [bool; 3]) -> Result<(), MonitorError> {
        let before = std::mem::replace(&mut self.on, on);
        if let Err(e) = self.attach_wanted() {
            self.on = before;
            self.detach_unwanted();
            return Err(e);
        }
        for family in FAMILIES {
            let i = family as usize;
            self.config
                .set(i as u32, u32::from(on[i]), 0)
                .map_err(map_err("config"))?;
        }
        self.detach_unwanted();
        Ok(())
    }

    /// Whether program `i` of `PROGRAMS` should be attached.
    fn wanted(&self, i: usize) -> bool {
        let (name, family, hook) = PROGRAMS[i];
        if family == Family::Files {
            // One route for opens: fexit where it works, the tracepoints otherwise.
            let fexit = matches!(hook, Hook::FExit(_));
            return self.on[family as usize] && fexit == self.open_fexit.is_ok();
        }
        self.on[family as usize] || (self.unreached != UNREACHED_OFF && LINEAGE.contains(&name))
    }

    fn detach_unwanted(&mut self) {
        let unwanted: Vec<usize> = (0..PROGRAMS.len()).filter(|&i| !self.wanted(i)).collect();
        let unwanted: Vec<Link> = unwanted
            .into_iter()
            .filter_map(|i| self.links[i].take())
            .collect();
        detach_all(unwanted);
    }

    /// Reports only the opens of the processes `source` lists, and of their descendants
    /// while it says they are not reached (None: every open, as far as the files family is
    /// on). Each call with a source rebuilds the set. Returns whether opens are filtered:
    /// not when the set does not fit `unreached_tgids` (every open is then reported).
    fn set_unreached(
        &mut self,
        source: Option<Arc<dyn Unreachable>>,
    ) -> Result<bool, MonitorError> {
        // Before the scan: what execs while it runs is resolved too.
        *self
            .unreached_source
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = source.clone();
        let Some(source) = source else {
            self.write_unreached(UNREACHED_OFF)?;
            self.detach_unwanted();
            let keys: Vec<u32> = self.unreached_tgids.keys().filter_map(Result::ok).collect();
            for k in keys {
                let _ = self.unreached_tgids.remove(&k);
            }
            return Ok(false);
        };
        if self.unreached == UNREACHED_FILTER
            && self.config.get(&CONFIG_UNREACHED, 0).ok() == Some(UNREACHED_TRACK)
        {
            tracing::warn!("eBPF monitor: unreached_tgids was full; every open was reported since");
        }
        // Followed first, then filled: what forks from a listed process during the scan
        // is added by the kernel, whether or not the scan saw it.
        let before = self.unreached;
        self.unreached = UNREACHED_TRACK;
        if let Err(e) = self.attach_wanted() {
            self.unreached = before;
            self.detach_unwanted();
            return Err(e);
        }
        self.write_unreached(UNREACHED_TRACK)?;
        let listed = source.scan();
        let seen: std::collections::HashSet<u32> = listed.iter().map(|(p, _)| *p).collect();
        let mut full = false;
        for (pid, why) in listed {
            match why {
                Some(why) => {
                    if let Err(e) = self.unreached_tgids.insert(pid, why as u8, 0) {
                        tracing::warn!(error = %chain(&e), "eBPF monitor: unreached_tgids is full; every open is reported");
                        full = true;
                        break;
                    }
                }
                None => {
                    let _ = self.unreached_tgids.remove(&pid);
                }
            }
        }
        // Entries of processes gone while nothing followed them (the map is kept while
        // the filter is off only until this call).
        let stale: Vec<u32> = self
            .unreached_tgids
            .keys()
            .filter_map(Result::ok)
            .filter(|p| !seen.contains(p) && !Path::new(&format!("/proc/{p}")).exists())
            .collect();
        for p in stale {
            let _ = self.unreached_tgids.remove(&p);
        }
        if full {
            return Ok(false);
        }
        self.write_unreached(UNREACHED_FILTER)?;
        Ok(true)
    }

    fn write_unreached(&mut self, mode: u32) -> Result<(), MonitorError> {
        self.config
            .set(CONFIG_UNREACHED, mode, 0)
            .map_err(map_err("config"))?;
        self.unreached = mode;
        Ok(())
    }

    /// Attaches every wanted program that is not attached yet.
    fn attach_wanted(&mut self) -> Result<(), MonitorError> {
        for (i, &(name, _, hook)) in PROGRAMS.iter().enumerate() {
            if !self.wanted(i) || self.links[i].is_some() {
                continue;
            }
            let hook_name = match hook {
                Hook::TracePoint { category, name, .. } => format!("{category}/{name}"),
                Hook::BtfTracePoint(name) => format!("tp_btf/{name}"),
                Hook::FExit(function) => format!("fexit/{function}"),
            };
            let err = |reason: String| MonitorError::Attach {
                program: name.into(),
                tracepoint: hook_name.clone(),
                reason,
            };
            if let Hook::TracePoint {
                category,
                name,
                optional: true,
            } = hook
                && !tracepoint_exists(category, name)
            {
                continue; // never loaded, see load_all()
            }
            let program = self
                .ebpf
                .program_mut(name)
                .ok_or_else(|| err("missing from the object".into()))?;
            let link = match hook {
                Hook::TracePoint { category, name, .. } => {
                    let program: &mut TracePoint =
                        program.try_into().map_err(|e| err(chain(&e)))?;
                    let id = program.attach(category, name).map_err(|e| err(chain(&e)))?;
                    Link::TracePoint(program.take_link(id).map_err(|e| err(chain(&e)))?)
                }
                Hook::BtfTracePoint(_) => {
                    let program: &mut BtfTracePoint =
                        program.try_into().map_err(|e| err(chain(&e)))?;
                    let id = program.attach().map_err(|e| err(chain(&e)))?;
                    Link::Btf(program.take_link(id).map_err(|e| err(chain(&e)))?)
                }
                Hook::FExit(_) => {
                    let attached = <&mut FExit>::try_from(program)
                        .map_err(|e| chain(&e))
                        .and_then(|p| {
                            let id = p.attach().map_err(|e| chain(&e))?;
                            p.take_link(id).map_err(|e| chain(&e))
                        });
                    match attached {
                        Ok(link) => Link::FExit(link),
                        Err(reason) => {
                            // Loaded but not attachable: the tracepoints take over.
                            tracing::warn!(
                                program = name,
                                %reason,
                                "eBPF monitor: fexit refused; opens are traced by syscall tracepoints"
                            );
                            self.open_fexit = Err(reason);
                            self.detach_unwanted();
                            return self.attach_wanted();
                        }
                    }
                }
            };
            self.links[i] = Some(link);
        }
        Ok(())
    }

    /// Makes the syscall programs report exactly `watch`; returns what cannot be traced.
    ///
    /// Newly named syscalls get their tracepoints attached first and their `syscalls`
    /// entry written second; syscalls no longer named are switched off in the map first
    /// and detached second, so what is reported changes at once for the kernel.
    fn set_syscalls(&mut self, watch: &[SyscallWatch]) -> Result<Vec<Untraced>, MonitorError> {
        let mut untraced = Vec::new();
        let mut wanted: BTreeMap<u32, (syscalls::Shape, &str)> = BTreeMap::new();
        for w in watch {
            let untrace = |reason: String| Untraced {
                name: w.name.clone(),
                reason,
            };
            let nr = match crate::policy::syscalls::number(&w.name) {
                Some(nr) if nr < SC_MAX => nr,
                Some(_) => {
                    untraced.push(untrace("its number is beyond the monitor's table".into()));
                    continue;
                }
                None if cfg!(target_arch = "x86_64") => {
                    untraced.push(untrace("not an x86-64 syscall".into()));
                    continue;
                }
                None => {
                    untraced.push(untrace(
                        "syscall rules name x86-64 syscalls; this machine numbers them differently"
                            .into(),
                    ));
                    continue;
                }
            };
            if let Err(reason) = &self.syscall_support {
                untraced.push(untrace(format!(
                    "the kernel refused the monitor's syscall programs: {reason}"
                )));
                continue;
            }
            let mut shape = syscalls::shape_of(&w.name);
            shape.flags |= syscalls::SCF_ON;
            if w.exe {
                shape.flags |= syscalls::SCF_EXE;
            }
            wanted
                .entry(nr)
                .and_modify(|(s, _)| s.flags |= shape.flags)
                .or_insert((shape, w.name.as_str()));
        }
        let new: Vec<(u32, &str)> = wanted
            .iter()
            .filter(|(nr, _)| !self.syscall_links.contains_key(nr))
            .map(|(&nr, &(_, name))| (nr, name))
            .collect();
        for (nr, name) in new {
            match self.attach_syscall(name) {
                Ok(links) => {
                    self.syscall_links.insert(nr, links);
                }
                Err(reason) => {
                    wanted.remove(&nr);
                    untraced.push(Untraced {
                        name: name.to_string(),
                        reason,
                    });
                }
            }
        }
        for (&nr, (shape, _)) in &wanted {
            self.syscalls
                .set(nr, shape, 0)
                .map_err(map_err("syscalls"))?;
        }
        let gone: Vec<u32> = self
            .syscall_links
            .keys()
            .filter(|nr| !wanted.contains_key(nr))
            .copied()
            .collect();
        let mut links = Vec::new();
        for nr in gone {
            self.syscalls
                .set(nr, syscalls::Shape::default(), 0)
                .map_err(map_err("syscalls"))?;
            links.extend(self.syscall_links.remove(&nr).unwrap_or_default());
        }
        detach_all(links);
        Ok(untraced)
    }

    /// Attaches the generic syscall programs to the tracepoints of syscall `name`.
    fn attach_syscall(&mut self, name: &str) -> Result<Vec<Link>, String> {
        let Some(tp) = syscalls::tracepoint_names(name).into_iter().find(|tp| {
            tracepoint_exists("syscalls", &format!("sys_enter_{tp}"))
                && tracepoint_exists("syscalls", &format!("sys_exit_{tp}"))
        }) else {
            return Err(format!(
                "this kernel has no syscalls:sys_enter_{name} tracepoint (the syscall is not \
                 implemented here, or not traceable)"
            ));
        };
        let mut links = Vec::new();
        // Exit first: an entry recorded by sc_enter always finds its exit program.
        for (program, event) in [("sc_exit", "exit"), ("sc_enter", "enter")] {
            let tracepoint = format!("sys_{event}_{tp}");
            let err = |e: &dyn std::error::Error| {
                format!("attaching {program} to syscalls/{tracepoint}: {}", chain(e))
            };
            let program: &mut TracePoint = self
                .ebpf
                .program_mut(program)
                .ok_or_else(|| format!("{program} missing from the object"))?
                .try_into()
                .map_err(|e: aya::programs::ProgramError| err(&e))?;
            let id = program
                .attach("syscalls", &tracepoint)
                .map_err(|e| err(&e))?;
            links.push(Link::TracePoint(
                program.take_link(id).map_err(|e| err(&e))?,
            ));
        }
        Ok(links)
    }
}

/// Detaches links in parallel: each detach waits for an RCU grace period in the kernel
/// (~60 ms here), which parallel detaches share instead of queueing for.
fn detach_all(links: Vec<Link>) {
    if links.len() <= 1 {
        return;
    }
    std::thread::scope(|scope| {
        for link in links {
            let spawned = std::thread::Builder::new()
                .name("knoxctl-detach".into())
                .spawn_scoped(scope, move || drop(link));
            // Without a thread, the link (dropped with the error) detaches right here.
            drop(spawned);
        }
    });
}

/// A running monitor. Dropping it (or [`Monitor::stop`]) detaches every program and joins
/// the reader thread.
pub struct Monitor {
    kernel: Mutex<Option<Kernel>>,
    lost: PerCpuArray<MapData, u64>,
    counters: Arc<Counters>,
    stopping: Arc<AtomicBool>,
    /// Written to wake the reader out of poll(2) at stop.
    wake: Arc<EventFd>,
    reader: Option<JoinHandle<()>>,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn take_map(ebpf: &mut Ebpf, map: &'static str) -> Result<aya::maps::Map, MonitorError> {
    ebpf.take_map(map).ok_or(MonitorError::Map {
        map,
        reason: "missing from the object".into(),
    })
}

impl Monitor {
    /// Loads and attaches the monitor with a [`DEFAULT_RING_BYTES`] ring buffer.
    pub fn start(config: MonitorConfig) -> Result<(Monitor, Receiver<MonitorEvent>), MonitorError> {
        Self::start_with_ring_size(config, DEFAULT_RING_BYTES)
    }

    /// Like [`Monitor::start`] with a chosen ring buffer size in bytes (rounded up to a
    /// power of two of at least one page, as the kernel requires).
    pub fn start_with_ring_size(
        config: MonitorConfig,
        ring_bytes: u32,
    ) -> Result<(Monitor, Receiver<MonitorEvent>), MonitorError> {
        kernel::fs::ensure(kernel::fs::PseudoFs::Trace).map_err(|e| MonitorError::Io {
            context: "mounting tracefs on /sys/kernel/tracing",
            source: e.source,
        })?;
        let btf = Btf::from_sys_fs()
            .map_err(|e| MonitorError::Unsupported(format!("no kernel BTF: {}", chain(&e))))?;
        let ring_bytes = ring_bytes.max(page_size()).next_power_of_two();
        let mut ebpf = EbpfLoader::new()
            .btf(Some(&btf))
            .map_max_entries("events", ring_bytes)
            .load(OBJECT)
            .map_err(|e| MonitorError::Load(chain(&e)))?;
        // Every program is verified now, even those of families that are off, so that a
        // program this kernel rejects fails start() rather than a later set_families().
        load_all(&mut ebpf, &btf)?;
        let open_fexit = load_open_fexit(&mut ebpf, &btf);
        let syscall_support = load_syscall_programs(&mut ebpf).map_err(|e| {
            tracing::warn!(error = %e, "eBPF monitor: no syscall events on this kernel");
            kernel::verifier::shorten(&e.to_string())
        });

        let config_map =
            Array::try_from(take_map(&mut ebpf, "config")?).map_err(map_err("config"))?;
        let mut ignore: HashMap<MapData, u32, u8> =
            HashMap::try_from(take_map(&mut ebpf, "ignore_pids")?)
                .map_err(map_err("ignore_pids"))?;
        // Ignored pids are in place before any program runs.
        for pid in &config.ignore_pids {
            ignore.insert(pid, 1, 0).map_err(map_err("ignore_pids"))?;
        }
        let unreached_tgids: HashMap<MapData, u32, u8> =
            HashMap::try_from(take_map(&mut ebpf, "unreached_tgids")?)
                .map_err(map_err("unreached_tgids"))?;
        let unreached_source = Arc::new(Mutex::new(None));
        let relabel = {
            use aya::maps::IterableMap;
            Relabel {
                source: unreached_source.clone(),
                tgids: HashMap::try_from(aya::maps::Map::HashMap(dup_map(
                    unreached_tgids.map(),
                    "unreached_tgids",
                )?))
                .map_err(map_err("unreached_tgids"))?,
                config: Array::try_from(aya::maps::Map::Array(dup_map(
                    config_map.map(),
                    "config",
                )?))
                .map_err(map_err("config"))?,
            }
        };
        let lost = PerCpuArray::try_from(take_map(&mut ebpf, "lost")?).map_err(map_err("lost"))?;
        let ring = RingBuf::try_from(take_map(&mut ebpf, "events")?).map_err(map_err("events"))?;
        let syscalls_map =
            Array::try_from(take_map(&mut ebpf, "syscalls")?).map_err(map_err("syscalls"))?;

        let mut kernel = Kernel {
            ebpf,
            config: config_map,
            ignore,
            unreached_tgids,
            on: [false; 3],
            unreached: UNREACHED_OFF,
            unreached_source: unreached_source.clone(),
            links: PROGRAMS.iter().map(|_| None).collect(),
            syscalls: syscalls_map,
            syscall_links: BTreeMap::new(),
            syscall_support,
            open_fexit,
        };
        kernel.set_families([config.exec, config.files, config.network])?;

        let wake = Arc::new(EventFd::new().map_err(|source| MonitorError::Io {
            context: "eventfd",
            source,
        })?);

        let (tx, rx) = std::sync::mpsc::sync_channel(config.channel_capacity);
        let counters = Arc::new(Counters::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let reader = {
            let counters = counters.clone();
            let stopping = stopping.clone();
            let wake = wake.clone();
            std::thread::Builder::new()
                .name("knoxctl-monitor".into())
                .spawn(move || read_loop(ring, tx, relabel, &counters, &stopping, &wake))
                .map_err(|source| MonitorError::Io {
                    context: "spawning the monitor reader thread",
                    source,
                })?
        };
        match &kernel.open_fexit {
            Ok(()) => tracing::info!("eBPF monitor: opens traced by fexit on the open syscalls"),
            Err(reason) => {
                tracing::info!(%reason, "eBPF monitor: opens traced by syscall tracepoints (fexit not usable)")
            }
        }
        tracing::debug!(ring_bytes, ?config, "eBPF monitor started");
        Ok((
            Monitor {
                kernel: Mutex::new(Some(kernel)),
                lost,
                counters,
                stopping,
                wake,
                reader: Some(reader),
            },
            rx,
        ))
    }

    /// Whether opens are reported from fexit programs, or why the open syscall
    /// tracepoints report them (see monitor.bpf.c, open_fexit).
    pub fn open_fexit(&self) -> Result<(), String> {
        let kernel = self.kernel.lock().unwrap_or_else(|p| p.into_inner());
        match kernel.as_ref() {
            Some(kernel) => kernel.open_fexit.clone(),
            None => Err("the monitor is stopped".into()),
        }
    }

    /// Turns event families on or off, effective immediately in the kernel (a syscall
    /// already in flight when its family is switched on is not reported). Programs of
    /// families that are off are detached, so they cost nothing.
    pub fn set_families(&self, exec: bool, files: bool, network: bool) -> Result<(), MonitorError> {
        let mut kernel = self.kernel.lock().unwrap_or_else(|p| p.into_inner());
        match kernel.as_mut() {
            Some(kernel) => kernel.set_families([exec, files, network]),
            None => Ok(()),
        }
    }

    /// Which opens the files family reports: with `source`, only those of the processes
    /// its scan lists (an enforcer does not reach them) and of what they fork, the kernel
    /// following forks and exits from then on, and `source` telling what an
    /// [`Unreached::Unconfined`] process's exec put it under (still watched until it
    /// has); without, every open. Each call with a source re-reads its scan. Returns
    /// whether opens are filtered (not when the set outgrows the kernel's map: every open
    /// is then reported, the safe side).
    pub fn set_unreached(
        &self,
        source: Option<Arc<dyn Unreachable>>,
    ) -> Result<bool, MonitorError> {
        let mut kernel = self.kernel.lock().unwrap_or_else(|p| p.into_inner());
        match kernel.as_mut() {
            Some(kernel) => kernel.set_unreached(source),
            None => Ok(false),
        }
    }

    /// Reports exactly the syscalls in `watch` from now on (none: every syscall program is
    /// detached, costing nothing). Returns the ones that cannot be traced here, and why;
    /// the others are traced even then.
    pub fn set_syscalls(&self, watch: &[SyscallWatch]) -> Result<Vec<Untraced>, MonitorError> {
        let mut kernel = self.kernel.lock().unwrap_or_else(|p| p.into_inner());
        match kernel.as_mut() {
            Some(kernel) => kernel.set_syscalls(watch),
            None => Ok(Vec::new()),
        }
    }

    /// Whether this kernel runs the syscall programs (the reason when it does not).
    pub fn syscall_support(&self) -> Result<(), String> {
        let kernel = self.kernel.lock().unwrap_or_else(|p| p.into_inner());
        match kernel.as_ref() {
            Some(kernel) => kernel.syscall_support.clone(),
            None => Err("the monitor is stopped".into()),
        }
    }

    /// Stops reporting the activity of process `pid` (a host tgid).
    pub fn ignore_pid(&self, pid: u32) -> Result<(), MonitorError> {
        let mut kernel = self.kernel.lock().unwrap_or_else(|p| p.into_inner());
        match kernel.as_mut() {
            Some(kernel) => kernel
                .ignore
                .insert(pid, 1, 0)
                .map_err(map_err("ignore_pids")),
            None => Ok(()),
        }
    }

    pub fn stats(&self) -> MonitorStats {
        let lost_in_kernel = self
            .lost
            .get(&0, 0)
            .map(|per_cpu| per_cpu.iter().sum())
            .unwrap_or(0);
        MonitorStats {
            received: self.counters.received.load(Ordering::Relaxed),
            lost_in_kernel,
            dropped_in_userspace: self.counters.dropped.load(Ordering::Relaxed),
        }
    }

    /// Detaches every program, lets the reader drain what the kernel already wrote, and
    /// joins it.
    pub fn stop(self) {
        drop(self);
    }

    fn shutdown(&mut self) {
        // Programs first, so nothing new is written while the reader drains.
        let kernel = self
            .kernel
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut kernel) = kernel {
            let mut links: Vec<Link> = kernel.links.iter_mut().filter_map(Option::take).collect();
            links.extend(
                std::mem::take(&mut kernel.syscall_links)
                    .into_values()
                    .flatten(),
            );
            detach_all(links);
        }
        self.stopping.store(true, Ordering::SeqCst);
        self.wake.signal();
        if let Some(reader) = self.reader.take()
            && reader.join().is_err()
        {
            tracing::error!("the eBPF monitor reader thread panicked");
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// What [`probe`] found beyond "the monitor works".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// Whether syscall events (syscall rules) work, or why not.
    pub syscalls: Result<(), String>,
    /// Whether opens are reported from fexit programs (no syscall slow path), or why the
    /// syscall tracepoints report them.
    pub open_fexit: Result<(), String>,
}

/// Loads and attaches every program, checks that events of our own reach userspace (an
/// open of /dev/null; a getppid for syscall events), and detaches: tells whether the
/// monitor works on this host.
pub fn probe() -> Result<ProbeOutcome, MonitorError> {
    let config = MonitorConfig {
        exec: true,
        files: true,
        network: true,
        channel_capacity: 1024,
        ignore_pids: Vec::new(),
    };
    let (monitor, rx) = Monitor::start_with_ring_size(config, 1 << 16)?;
    let tid = gettid();
    let open_seen = await_own_event(
        &rx,
        tid,
        &|| {
            let _ = std::fs::File::open("/dev/null");
        },
        &|ev| ev.kind == EventKind::Open && ev.path == "/dev/null",
    );
    let syscalls =
        match monitor.set_syscalls(&[SyscallWatch {
            name: "getppid".into(),
            exe: false,
        }]) {
            Ok(untraced) if !untraced.is_empty() => Err(untraced[0].reason.clone()),
            Ok(_) => {
                // SAFETY: getppid has no preconditions.
                let call = || unsafe {
                    libc::getppid();
                };
                let is_getppid = |ev: &MonitorEvent| {
                    ev.kind == EventKind::Syscall
                        && ev.syscall.as_ref().map(|d| d.nr)
                            == crate::policy::syscalls::number("getppid")
                };
                if await_own_event(&rx, tid, &call, &is_getppid) {
                    Ok(())
                } else {
                    Err("programs attached, but no syscall event reached the ring buffer within 2 s"
                    .into())
                }
            }
            Err(e) => Err(e.to_string()),
        };
    let open_fexit = monitor.open_fexit();
    monitor.stop();
    if open_seen {
        Ok(ProbeOutcome {
            syscalls,
            open_fexit,
        })
    } else {
        Err(MonitorError::Unsupported(
            "programs attached, but no event reached the ring buffer within 2 s".into(),
        ))
    }
}

/// Calls `act` until an event of thread `tid` that `want` accepts arrives, for up to 2 s;
/// retried because on a busy host the probe's small ring or channel may drop the event.
fn await_own_event(
    rx: &Receiver<MonitorEvent>,
    tid: u32,
    act: &dyn Fn(),
    want: &dyn Fn(&MonitorEvent) -> bool,
) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        act();
        let round = Instant::now() + Duration::from_millis(100);
        while let Some(left) = round.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(ev) if ev.tid == tid && want(&ev) => return true,
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    false
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u32 } else { 4096 }
}

/// Loads the fexit route for opens; an error says why the open tracepoints are used
/// instead (no trampolines on this kernel, not x86-64, ...). All or nothing: the two
/// routes are never mixed.
fn load_open_fexit(ebpf: &mut Ebpf, btf: &Btf) -> Result<(), String> {
    if !cfg!(target_arch = "x86_64") {
        return Err("the fexit programs read x86-64 syscall registers".into());
    }
    for &(name, _, hook) in PROGRAMS {
        let Hook::FExit(function) = hook else {
            continue;
        };
        let program: &mut FExit = ebpf
            .program_mut(name)
            .ok_or_else(|| format!("program {name} missing from the object"))?
            .try_into()
            .map_err(|e| format!("program {name}: {}", chain(&e)))?;
        program.load(function, btf).map_err(|e| {
            let reason = format!("program {name}: {}", chain(&e));
            tracing::debug!(%reason, "eBPF monitor: opens are traced by syscall tracepoints");
            kernel::verifier::shorten(&reason)
        })?;
    }
    Ok(())
}

/// Loads (verifies) every program but the optional ones whose tracepoint this kernel
/// lacks (Kernel::attach skips those too) and the fexit ones ([`load_open_fexit`]).
fn load_all(ebpf: &mut Ebpf, btf: &Btf) -> Result<(), MonitorError> {
    for &(name, _, hook) in PROGRAMS {
        let missing = || MonitorError::Load(format!("program {name} missing from the object"));
        match hook {
            Hook::TracePoint {
                category,
                name: tracepoint,
                optional,
            } => {
                if optional && !tracepoint_exists(category, tracepoint) {
                    tracing::debug!(tracepoint, "not on this kernel; skipped");
                    continue;
                }
                let program: &mut TracePoint = ebpf
                    .program_mut(name)
                    .ok_or_else(missing)?
                    .try_into()
                    .map_err(|e| load_error(name, &e))?;
                program.load().map_err(|e| load_error(name, &e))?;
            }
            Hook::BtfTracePoint(tracepoint) => {
                let program: &mut BtfTracePoint = ebpf
                    .program_mut(name)
                    .ok_or_else(missing)?
                    .try_into()
                    .map_err(|e| load_error(name, &e))?;
                program
                    .load(tracepoint, btf)
                    .map_err(|e| load_error(name, &e))?;
            }
            Hook::FExit(_) => {}
        }
    }
    Ok(())
}

/// Loads the generic syscall programs, which mod.rs attaches per syscall (not in
/// PROGRAMS): a kernel that refuses them (bpf_loop is Linux 5.17) still runs the rest.
fn load_syscall_programs(ebpf: &mut Ebpf) -> Result<(), MonitorError> {
    for name in ["sc_enter", "sc_exit"] {
        let program: &mut TracePoint = ebpf
            .program_mut(name)
            .ok_or_else(|| MonitorError::Load(format!("program {name} missing from the object")))?
            .try_into()
            .map_err(|e| load_error(name, &e))?;
        program.load().map_err(|e| load_error(name, &e))?;
    }
    Ok(())
}

fn tracepoint_exists(category: &str, name: &str) -> bool {
    [
        "/sys/kernel/tracing/events",
        "/sys/kernel/debug/tracing/events",
    ]
    .iter()
    .any(|root| Path::new(root).join(category).join(name).is_dir())
}

/// EPERM from BPF_PROG_LOAD means the kernel refuses BPF here (no CAP_BPF/root, or a
/// lockdown/sysctl policy): a property of the host, not a bug in the programs.
fn load_error(program: &str, e: &aya::programs::ProgramError) -> MonitorError {
    let message = format!("program {program}: {}", chain(e));
    let eperm = e
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.raw_os_error() == Some(libc::EPERM))
        || message.contains("Operation not permitted");
    if eperm {
        MonitorError::Unsupported(message)
    } else {
        MonitorError::Load(message)
    }
}

fn read_loop(
    ring: RingBuf<MapData>,
    tx: SyncSender<MonitorEvent>,
    mut relabel: Relabel,
    counters: &Counters,
    stopping: &AtomicBool,
    wake: &EventFd,
) {
    // Shutdown detaches the programs before setting `stopping`: the last drain is complete.
    kernel::ring::read_until_stopped(
        ring,
        stopping,
        wake,
        POLL_TIMEOUT,
        "eBPF monitor",
        |item, offset| {
            // Resolved here, before the process's next events are handed on.
            if let Some((h, _)) = EventHeader::parse(item)
                && h.kind == KIND_UNREACHED_EXEC
            {
                relabel.exec(h.tgid);
                return;
            }
            let Some(event) = decode(item, offset) else {
                return;
            };
            match tx.try_send(event) {
                Ok(()) => counters.received.fetch_add(1, Ordering::Relaxed),
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed)
                }
            };
        },
    );
}

/// A NUL-terminated (or full) byte string.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Decodes one ring buffer record (`struct event` in monitor.bpf.c); `offset` converts
/// boot time to epoch time. None for a record too short or of an unknown kind.
fn decode(b: &[u8], offset: i128) -> Option<MonitorEvent> {
    let (h, payload) = EventHeader::parse(b)?;
    let kind = EventKind::from_raw(h.kind)?;
    let family = h.family();
    let port = h.port();
    let raw_addr = h.addr;
    let addr = match (h.has_addr != 0, family) {
        (true, AF_INET) => {
            let ip = Ipv4Addr::new(raw_addr[0], raw_addr[1], raw_addr[2], raw_addr[3]);
            Some(SocketAddr::new(IpAddr::V4(ip), port))
        }
        (true, AF_INET6) => Some(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(raw_addr)), port)),
        _ => None,
    };
    let syscall = (kind == EventKind::Syscall).then(|| decode_syscall(&h, payload));
    let path = match &syscall {
        Some(d) => d
            .paths
            .iter()
            .flatten()
            .next()
            .map(|p| p.path.clone())
            .unwrap_or_default(),
        None => c_string(payload),
    };
    Some(MonitorEvent {
        kind,
        timestamp_ns: kernel::clock::boot_ns_to_epoch(h.ts_ns, offset),
        pid: h.tgid,
        ppid: h.ppid,
        tid: h.tid,
        uid: h.uid,
        flags: h.flags,
        retval: h.retval,
        family,
        sock_type: h.sock_type(),
        protocol: h.protocol(),
        addr,
        comm: c_string(&h.comm),
        path,
        syscall,
        cgroup_id: h.cgroup_id,
        ns_pid: h.ns_tgid,
        ns_ppid: h.ns_ppid,
    })
}

/// The syscall part of a record: `str_len` and `str_flags` (where network events have
/// their address), and up to three strings in `payload`. A length running past the
/// payload makes that string and the ones after it absent.
fn decode_syscall(h: &EventHeader, payload: &[u8]) -> SyscallDetail {
    let flags = h.str_flags();
    let mut at = 0;
    let mut strings: [Option<(String, u16)>; 3] = Default::default();
    for (i, slot) in strings.iter_mut().enumerate() {
        let n = h.str_len(i);
        if n == 0 {
            continue;
        }
        let Some(raw) = payload.get(at..at + n) else {
            break;
        };
        at += n;
        *slot = Some((c_string(raw), flags & (scs_truncated(i) | scs_relative(i))));
    }
    let [first, second, exe] = strings;
    let path = |s: Option<(String, u16)>| {
        s.map(|(p, problems)| {
            let complete = problems == 0 && p.starts_with('/');
            SyscallPath {
                path: if complete {
                    crate::policy::syscall_rules::normalize_path(&p)
                } else {
                    p
                },
                complete,
            }
        })
    };
    SyscallDetail {
        // The C keeps the syscall number in `flags` for syscall events.
        nr: h.flags as u32,
        paths: [path(first), path(second)],
        exe: exe.map(|(p, _)| p),
    }
}

/// Open flags as KubeArmor renders them in alert `Data`, for a [`MonitorEvent::flags`]
/// (see [`crate::kernel::flags`], the renderer every backend shares).
pub fn open_flags(flags: i32) -> String {
    kernel::flags::open_flags(flags as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_can_be_shared_between_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Monitor>();
    }

    #[test]
    fn open_flags_like_kubearmor() {
        assert_eq!(open_flags(0), "O_RDONLY");
        assert_eq!(
            open_flags(libc::O_RDONLY | libc::O_CLOEXEC),
            "O_RDONLY|O_CLOEXEC"
        );
        assert_eq!(
            open_flags(libc::O_WRONLY | libc::O_CREAT | libc::O_NOCTTY | libc::O_NONBLOCK),
            "O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK"
        );
        assert_eq!(
            open_flags(libc::O_RDWR | libc::O_APPEND | libc::O_TRUNC),
            "O_RDWR|O_TRUNC|O_APPEND"
        );
        // O_SYNC is two bits; O_DSYNC alone is not O_SYNC.
        assert_eq!(open_flags(libc::O_DSYNC), "O_RDONLY");
        assert_eq!(open_flags(libc::O_SYNC), "O_RDONLY|O_SYNC");
    }

    fn record(kind: u32, family: u16, addr: &[u8], port: u16, path: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; EVENT_HDR_SIZE];
        b[0..8].copy_from_slice(&1_000u64.to_ne_bytes());
        b[8..12].copy_from_slice(&kind.to_ne_bytes());
        b[12..16].copy_from_slice(&42u32.to_ne_bytes());
        b[16..20].copy_from_slice(&1u32.to_ne_bytes());
        b[20..24].copy_from_slice(&43u32.to_ne_bytes());
        b[24..28].copy_from_slice(&1000u32.to_ne_bytes());
        b[28..32].copy_from_slice(&0o2000000i32.to_ne_bytes());
        b[32..40].copy_from_slice(&(-13i64).to_ne_bytes());
        b[40..42].copy_from_slice(&family.to_ne_bytes());
        b[42..44].copy_from_slice(&1u16.to_ne_bytes());
        b[44..46].copy_from_slice(&6u16.to_ne_bytes());
        b[46..48].copy_from_slice(&port.to_ne_bytes());
        b[48..48 + addr.len()].copy_from_slice(addr);
        b[64..68].copy_from_slice(b"bash");
        b[80..84].copy_from_slice(&(path.len() as u32).to_ne_bytes());
        b[84..88].copy_from_slice(&u32::from(!addr.is_empty()).to_ne_bytes());
        b.extend_from_slice(path);
        // The kernel pads records to 8 bytes.
        while !b.len().is_multiple_of(8) {
            b.push(0);
        }
        b
    }

    fn syscall_record(nr: u32, strings: &[&[u8]], flags: u16) -> Vec<u8> {
        let payload: Vec<u8> = strings.concat();
        let mut b = record(KIND_SYSCALL, 0, &[], 0, &payload);
        b[28..32].copy_from_slice(&nr.to_ne_bytes());
        for (i, s) in strings.iter().enumerate() {
            b[40 + 2 * i..42 + 2 * i].copy_from_slice(&(s.len() as u16).to_ne_bytes());
        }
        b[46..48].copy_from_slice(&flags.to_ne_bytes());
        b
    }

    #[test]
    fn decodes_syscall_records() {
        // renameat2: two paths (the first lexically normalized), then the executable.
        let r = syscall_record(316, &[b"/tmp/./a/../b\0", b"/tmp/c\0", b"/usr/bin/mv\0"], 0);
        let e = decode(&r, 0).unwrap();
        assert_eq!(e.kind, EventKind::Syscall);
        assert_eq!(e.path, "/tmp/b");
        let d = e.syscall.unwrap();
        assert_eq!(d.nr, 316);
        let path = |p: &str, complete| {
            Some(SyscallPath {
                path: p.into(),
                complete,
            })
        };
        assert_eq!(d.paths, [path("/tmp/b", true), path("/tmp/c", true)]);
        assert_eq!(d.exe.as_deref(), Some("/usr/bin/mv"));

        // No first path, an unresolved relative second one, a truncated executable.
        let r = syscall_record(
            87,
            &[b"", b"rel\0", b"/x\0"],
            scs_relative(1) | scs_truncated(2),
        );
        let d = decode(&r, 0).unwrap().syscall.unwrap();
        assert_eq!(d.paths, [None, path("rel", false)]);
        assert_eq!(d.exe.as_deref(), Some("/x"));

        // A truncated path is kept as written, and marked.
        let r = syscall_record(87, &[b"/a/b\0"], scs_truncated(0));
        assert_eq!(
            decode(&r, 0).unwrap().syscall.unwrap().paths[0],
            path("/a/b", false)
        );

        // Lengths running past the payload: those strings are absent.
        let mut r = syscall_record(87, &[b"/a\0"], 0);
        r[42..44].copy_from_slice(&100u16.to_ne_bytes());
        let d = decode(&r, 0).unwrap().syscall.unwrap();
        assert_eq!(d.paths, [path("/a", true), None]);
        // Other kinds carry no syscall part.
        assert!(
            decode(&record(KIND_OPEN, 0, &[], 0, b"/etc\0"), 0)
                .unwrap()
                .syscall
                .is_none()
        );
    }

    const SOURCE: &str = include_str!("bpf/monitor.bpf.c");

    #[test]
    fn event_kinds_agree_with_the_c() {
        let mut defined = crate::kernel::c_defines(SOURCE, "EV_");
        assert_eq!(defined.len(), 9, "{defined:?}");
        let notice = ("UNREACHED_EXEC".to_string(), u64::from(KIND_UNREACHED_EXEC));
        assert!(defined.contains(&notice), "{defined:?}");
        defined.retain(|d| *d != notice);
        // Consumed by the reader, never an event.
        assert!(EventKind::from_raw(KIND_UNREACHED_EXEC).is_none());
        for (name, value) in defined {
            let kind = EventKind::from_raw(value as u32).unwrap_or_else(|| panic!("EV_{name}"));
            assert_eq!(kind.to_string().to_uppercase(), name);
        }
        assert!(EventKind::from_raw(0).is_none());
    }

    /// The two routes for opens cover the same syscalls, and each fexit program is in the
    /// C under the section mod.rs attaches it by.
    #[test]
    fn open_routes_cover_the_same_syscalls() {
        let mut traced: Vec<&str> = PROGRAMS
            .iter()
            .filter_map(|(_, family, hook)| match hook {
                Hook::TracePoint { name, .. } if *family == Family::Files => {
                    name.strip_prefix("sys_enter_")
                }
                _ => None,
            })
            .collect();
        let mut fexit: Vec<&str> = PROGRAMS
            .iter()
            .filter_map(|(name, family, hook)| match hook {
                Hook::FExit(function) => {
                    assert_eq!(*family, Family::Files, "{name}");
                    assert!(
                        SOURCE.contains(&format!("SEC(\"fexit/{function}\")\nint {name}(")),
                        "{name}"
                    );
                    function.strip_prefix("__x64_sys_")
                }
                _ => None,
            })
            .collect();
        traced.sort_unstable();
        fexit.sort_unstable();
        assert_eq!(traced, fexit);
    }

    #[test]
    fn switches_and_sizes_agree_with_the_c() {
        let cfg = crate::kernel::c_defines(SOURCE, "CFG_");
        for family in FAMILIES {
            let name = match family {
                Family::Process => "EXEC",
                Family::Files => "FILES",
                Family::Network => "NETWORK",
            };
            assert!(cfg.contains(&(name.to_string(), family as u64)), "{cfg:?}");
        }
        assert!(cfg.contains(&("UNREACHED".to_string(), u64::from(CONFIG_UNREACHED))));
        let modes = crate::kernel::c_defines(SOURCE, "UNREACHED_");
        for (name, value) in [
            ("OFF", UNREACHED_OFF),
            ("TRACK", UNREACHED_TRACK),
            ("FILTER", UNREACHED_FILTER),
            ("LABEL_UNCONFINED", Unreached::Unconfined as u32),
            ("LABEL_OTHER", Unreached::OtherProfile as u32),
            ("LABEL_EXECED", UNREACHED_LABEL_EXECED),
        ] {
            assert!(
                modes.contains(&(name.to_string(), u64::from(value))),
                "{name}: {modes:?}"
            );
        }
        for name in LINEAGE {
            assert!(PROGRAMS.iter().any(|p| p.0 == name), "{name}");
        }
        let sc_max = crate::kernel::c_defines(SOURCE, "SC_MAX");
        assert_eq!(sc_max, [(String::new(), u64::from(SC_MAX))]);
        assert!(SOURCE.contains(&format!(
            "_Static_assert(EVENT_HDR_SIZE == {},",
            event::EVENT_HDR_SIZE
        )));
    }

    #[test]
    fn decodes_records() {
        let e = decode(&record(KIND_EXEC, 0, &[], 0, b"/bin/true\0"), 5).unwrap();
        assert_eq!(e.kind, EventKind::Exec);
        assert_eq!(e.timestamp_ns, 1_005);
        assert_eq!((e.pid, e.ppid, e.tid, e.uid), (42, 1, 43, 1000));
        assert_eq!(e.comm, "bash");
        assert_eq!(e.path, "/bin/true");
        assert_eq!(e.retval, -13);
        assert_eq!(e.addr, None);

        let e = decode(
            &record(KIND_CONNECT, AF_INET, &[127, 0, 0, 1], 8080, b""),
            0,
        )
        .unwrap();
        assert_eq!(e.addr, Some("127.0.0.1:8080".parse().unwrap()));
        assert_eq!((e.family, e.sock_type, e.protocol), (2, 1, 6));
        assert_eq!(e.path, "");

        let v6 = Ipv6Addr::LOCALHOST.octets();
        let e = decode(&record(KIND_ACCEPT, AF_INET6, &v6, 22, b""), 0).unwrap();
        assert_eq!(e.addr, Some("[::1]:22".parse().unwrap()));

        // A path_len larger than the record is clamped, an unknown kind is skipped.
        let mut r = record(KIND_OPEN, 0, &[], 0, b"/etc\0");
        r[80..84].copy_from_slice(&5000u32.to_ne_bytes());
        assert_eq!(decode(&r, 0).unwrap().path, "/etc");
        assert!(decode(&record(99, 0, &[], 0, b""), 0).is_none());
        // An AF_INET event without an address (a failed accept) has none.
        let e = decode(&record(KIND_ACCEPT, AF_INET, &[], 0, b""), 0).unwrap();
        assert_eq!((e.addr, e.family), (None, 2));
        assert!(decode(&[0u8; 10], 0).is_none());
    }
}
