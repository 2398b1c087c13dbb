//! fanotify backend: enforces process and file Block/Allow rules with the kernel's
//! permission events (`FAN_OPEN_EXEC_PERM` for exec, `FAN_OPEN_PERM` for open). The
//! kernel parks the operation until the agent answers allow or deny.
//!
//! Owns the backend's lifecycle (start, apply, stop, probe). [`plan`] chooses the marks
//! for a rule set, [`reader`] runs one group's event loop (decide, answer, report), and
//! `sys` wraps the system calls. Rule semantics live in [`crate::policy::matcher`].
//!
//! Every apply() creates a new fanotify group with its own reader thread, adds all the
//! marks the new rules need, and only then retires the previous group. While both exist
//! an operation waits for both answers and a deny from either wins, so a rule present
//! before and after the apply is never off. Retiring removes the old marks, waits until
//! every event that passed them is in the old group's queue (`sys::mark_barrier`),
//! decides those with the old rules, and only then closes the group: the kernel allows
//! whatever is still on its way to a group that closes. Decision caches belong
//! to a group, so every apply starts with an empty one.
//!
//! Limits of the mechanism, reported in [`probe`] and in each [`ApplyReport`]:
//! - Only opens and execs raise permission events. Create, unlink, rename, truncate and
//!   writes through descriptors opened earlier cannot be prevented. A denied `O_CREAT`
//!   leaves the new empty file behind, because the event comes after the creation.
//! - `FAN_DENY` makes the call fail with EPERM ("Operation not permitted").
//!   `FAN_DENY_ERRNO` is tried at start, but the kernel accepts it only from pre-content
//!   groups and only for a short list of errnos that does not include EACCES (6.18
//!   refuses it). Alerts report the errno the process actually got.
//! - If the agent dies, the kernel closes the group and allows every waiting and later
//!   operation (fail open). Run the agent under a supervisor.
//! - Internal errors never leave an event unanswered. They resolve as an operation no
//!   rule matched: allowed, or the default posture when that operation's category (exec
//!   or open) is in allow-list mode (counted in [`Stats::errors`]). Open flags that
//!   cannot be read count as a write, so `readOnly` fails closed. stop() allows whatever
//!   is still queued.
//! - Allow-list mode is per category (see [`crate::policy::matcher`]). Process allow-list
//!   mode checks every exec (whole-filesystem exec marks); file allow-list mode on the
//!   host cannot check every open, since a filesystem-wide open mark would make every
//!   open on the host wait for the agent, so its default posture reaches only the opens
//!   that file rules' marks see (the report says so). A container's own filesystems are
//!   marked whole for opens in file allow-list mode (and the files its runtime
//!   bind-mounts in get inode marks): every open of its files is checked. What AppArmor's
//!   `abstractions/base` grants every program (loader, libraries, locale, `/dev/null`:
//!   [`crate::policy::base_abstraction`]) is exempt from the default posture, as under
//!   KubeArmor's AppArmor profiles, which include it; Block rules still deny it.

mod plan;
mod reader;
mod sys;

use super::{
    ApplyReport, Backend, ContainerTarget, Coverage, EnforceError, Enforcer, EnforcerEvent,
    Generation, Level, Op, OpResult, ProbeResult,
};
use crate::policy::matcher::{CompileOptions, CompiledRules};
use crate::policy::normalize::{Rule, RuleSet};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use crate::policy::matcher::Posture;
#[cfg(test)]
pub(crate) use reader::openat_data;

/// How the backend runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// What allow-list mode does with operations no rule allows.
    pub default_posture: Posture,
    /// Filesystems (named by a path on each) that get whole-filesystem exec marks when a
    /// rule must see every exec (process allow-list mode, `execname`). `None`: every mounted
    /// filesystem that can hold programs. Like fapolicyd's `watch_fs`.
    pub exec_scope: Option<Vec<PathBuf>>,
    /// At most this many subdirectories are marked for recursive directory rules (inode
    /// marks pin inodes in memory). Past it, exec rules fall back to a filesystem exec
    /// mark and file rules leave the deeper directories unwatched (reported).
    pub max_dir_marks: usize,
}

impl Options {
    pub fn new(default_posture: Posture) -> Options {
        Options {
            default_posture,
            exec_scope: None,
            max_dir_marks: 4096,
        }
    }
}

/// Counters since start, over every group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Permission events read.
    pub events: u64,
    pub allowed: u64,
    pub denied: u64,
    /// Events caused by the agent's own threads (allowed at once).
    pub own: u64,
    /// Internal errors; each event involved was still answered.
    pub errors: u64,
    /// Alerts not sent because the channel was full or closed.
    pub dropped_alerts: u64,
    pub cache_hits: u64,
    /// Queue overflows (the kernel allowed those operations).
    pub overflows: u64,
}

/// The fanotify enforcer; see the module documentation.
pub struct FanotifyEnforcer {
    opts: Options,
    shared: Arc<reader::Shared>,
    class: libc::c_uint,
    deny_note: String,
    group: Option<Group>,
    /// The current group's: its decisions carry it.
    generation: Generation,
    /// One group per container with rules, by container id (see [`FanotifyEnforcer::apply_container`]).
    containers: BTreeMap<String, Group>,
}

struct Group {
    fd: Arc<OwnedFd>,
    ctl: Arc<reader::Control>,
    thread: Option<JoinHandle<()>>,
}

impl Group {
    fn start(
        class: libc::c_uint,
        rules: Arc<CompiledRules>,
        ids: plan::Identities,
        generation: Generation,
        shared: Arc<reader::Shared>,
        scope: Option<Arc<ContainerTarget>>,
    ) -> io::Result<Group> {
        let fd = Arc::new(sys::init(class)?);
        let ctl = Arc::new(reader::Control::new()?);
        // The reader runs before the first mark exists: a mark without a reader would
        // park every matching operation (including our own directory walk) forever.
        let thread = reader::spawn(
            fd.clone(),
            ctl.clone(),
            rules,
            ids,
            generation,
            shared,
            scope,
        )?;
        Ok(Group {
            fd,
            ctl,
            thread: Some(thread),
        })
    }

    /// Removes the marks, lets the reader answer what is queued (`RETIRE`: with its
    /// rules, `STOP`: allow), and closes the group once the reader is gone.
    fn finish(&mut self, state: u8) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        sys::flush_marks(self.fd.as_raw_fd());
        // Closing the group allows whatever is still on its way to it. A retiring group
        // must first see every event that passed its marks; a stopping one allows them
        // all anyway.
        let quiet = if state == reader::STOP || sys::mark_barrier() {
            0
        } else {
            reader::DRAIN_QUIET
        };
        self.ctl.set(state, quiet);
        let _ = thread.join();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.finish(reader::STOP);
    }
}

impl FanotifyEnforcer {
    /// Checks that this kernel gives us permission events and starts with no rules.
    pub fn start(
        events: SyncSender<EnforcerEvent>,
        default_posture: Posture,
    ) -> Result<FanotifyEnforcer, EnforceError> {
        FanotifyEnforcer::start_with(events, Options::new(default_posture))
    }

    pub fn start_with(
        events: SyncSender<EnforcerEvent>,
        opts: Options,
    ) -> Result<FanotifyEnforcer, EnforceError> {
        let mode = deny_mode().map_err(|e| EnforceError::Unsupported {
            backend: Backend::Fanotify,
            reason: init_error(&e),
        })?;
        Ok(FanotifyEnforcer {
            opts,
            shared: Arc::new(reader::Shared {
                counters: reader::Counters::default(),
                deny_response: mode.response,
                deny_result: mode.result,
                own_pid: std::process::id() as i32,
                events,
            }),
            class: mode.class,
            deny_note: mode.note,
            group: None,
            generation: Generation::default(),
            containers: BTreeMap::new(),
        })
    }

    /// Enforces `target`'s rules on its container's processes, and on nobody else: marks
    /// go on the container's own files (reached through its root), and an event from a
    /// process outside the container's cgroup is allowed without a look at the rules
    /// (KubeArmor's container policies are about the container's processes; the host's
    /// own rules keep applying to host processes). Audit rules are marked and reported
    /// here too, since the eBPF monitor matches host rules only. Replaces what an earlier
    /// call gave this container as `apply` does: the new group's marks exist before the
    /// old group retires.
    pub fn apply_container(
        &mut self,
        target: Arc<ContainerTarget>,
    ) -> Result<ApplyReport, EnforceError> {
        let root = target.root.clone();
        let compiled = Arc::new(compile(&target.set, self.opts.default_posture, Some(&root)));
        let scope = plan::Scope {
            root: &root,
            audits: true,
        };
        let plan = plan::Plan::build(&target.set, &compiled, &self.opts, &scope);
        let id = target.container.id.clone();
        let group = Group::start(
            self.class,
            compiled,
            plan.identities(),
            Generation::default(),
            self.shared.clone(),
            Some(target),
        )
        .map_err(|e| EnforceError::Io {
            backend: Backend::Fanotify,
            context: format!(
                "creating a fanotify group for container {}",
                &id[..id.len().min(12)]
            ),
            source: e,
        })?;
        let report = plan.apply(group.fd.as_raw_fd());
        if let Some(mut old) = self.containers.insert(id, group) {
            old.finish(reader::RETIRE);
        }
        Ok(report)
    }

    /// Stops enforcing a container's rules (it stopped, or no policy selects it any more).
    pub fn remove_container(&mut self, id: &str) {
        if let Some(mut g) = self.containers.remove(id) {
            g.finish(reader::STOP);
        }
    }

    pub fn stats(&self) -> Stats {
        let c = &self.shared.counters;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            events: get(&c.events),
            allowed: get(&c.allowed),
            denied: get(&c.denied),
            own: get(&c.own),
            errors: get(&c.errors),
            dropped_alerts: get(&c.dropped_alerts),
            cache_hits: get(&c.cache_hits),
            overflows: get(&c.overflows),
        }
    }

    /// What a denied process gets, as alerts spell it (`Operation not permitted` here).
    pub fn deny_result(&self) -> &'static str {
        self.shared.deny_result.as_str()
    }

    /// Why denials carry that errno.
    pub fn deny_note(&self) -> &str {
        &self.deny_note
    }
}

impl Enforcer for FanotifyEnforcer {
    fn dropped_events(&self) -> u64 {
        self.stats().dropped_alerts
    }

    fn backend(&self) -> Backend {
        Backend::Fanotify
    }

    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError> {
        let compiled = Arc::new(compile(rules, self.opts.default_posture, None));
        let plan = plan::Plan::build(rules, &compiled, &self.opts, &plan::Scope::host());
        // The retiring group keeps deciding with its own rules, under its own generation.
        let generation = self.generation.next();
        let group = Group::start(
            self.class,
            compiled,
            plan.identities(),
            generation,
            self.shared.clone(),
            None,
        )
        .map_err(|e| EnforceError::Io {
            backend: Backend::Fanotify,
            context: "creating a fanotify group".into(),
            source: e,
        })?;
        let report = plan.apply(group.fd.as_raw_fd());
        self.generation = generation;
        if let Some(mut old) = self.group.replace(group) {
            old.finish(reader::RETIRE);
        }
        Ok(report)
    }

    fn stop(&mut self) {
        if let Some(mut g) = self.group.take() {
            g.finish(reader::STOP);
        }
        for (_, mut g) in std::mem::take(&mut self.containers) {
            g.finish(reader::STOP);
        }
    }

    fn generation(&self) -> Generation {
        self.generation
    }
}

impl Drop for FanotifyEnforcer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `root`: a container's root, under which rule paths are resolved.
fn compile(rules: &RuleSet, posture: Posture, root: Option<&Path>) -> CompiledRules {
    // allowedArgs cannot be checked here (reported by the plan), so those rules are left
    // out rather than enforced without their condition.
    let skip = |_: usize, r: &Rule| !r.allowed_args.is_empty();
    let resolve = |p: &str| match root {
        Some(root) => Some(crate::container::resolve_in_root(root, p)),
        None => resolve_path(p),
    };
    // Every open of a container's own files is checked in file allow-list mode (see the
    // plan), and the libraries and runtime files every program needs are granted as
    // KubeArmor's AppArmor profiles grant them (`abstractions/base`).
    CompiledRules::with_options(
        rules,
        posture,
        &CompileOptions {
            resolve: Some(&resolve),
            skip: Some(&skip),
        },
    )
    .with_base_exemption()
}

/// The path the kernel reports for a rule path: events carry the object's real path,
/// while rules may name it through symlinks (`/bin/sh` is `/usr/bin/dash` here).
fn resolve_path(p: &str) -> Option<String> {
    let path = Path::new(p);
    if let Ok(c) = std::fs::canonicalize(path) {
        return c.to_str().map(String::from);
    }
    // Not there yet: resolve its directory.
    let parent = std::fs::canonicalize(path.parent()?).ok()?;
    parent.join(path.file_name()?).to_str().map(String::from)
}

struct DenyMode {
    class: libc::c_uint,
    response: u32,
    result: OpResult,
    note: String,
}

/// Picks the deny answer: `FAN_DENY_ERRNO(EACCES)` if the kernel takes it (the errno
/// KubeArmor and AppArmor give), plain `FAN_DENY` (EPERM) otherwise. The kernel
/// validates a response before looking for its event, so writing one for an fd that has
/// no event tells ENOENT (valid) from EINVAL (refused) without any event.
fn deny_mode() -> io::Result<DenyMode> {
    drop(sys::init(libc::FAN_CLASS_CONTENT)?);
    let eacces = sys::deny_errno(libc::EACCES);
    let note = match sys::init(libc::FAN_CLASS_PRE_CONTENT) {
        Ok(g) => match sys::respond(g.as_raw_fd(), i32::MAX, eacces) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                return Ok(DenyMode {
                    class: libc::FAN_CLASS_PRE_CONTENT,
                    response: eacces,
                    result: OpResult::PermissionDenied,
                    note: "the kernel accepts FAN_DENY_ERRNO(EACCES): denials read \"Permission denied\", as with KubeArmor".into(),
                });
            }
            Err(e) => format!(
                "the kernel refuses FAN_DENY_ERRNO(EACCES) ({e}): denials read \"Operation not permitted\" (EPERM), not KubeArmor's \"Permission denied\""
            ),
            Ok(()) => {
                "FAN_DENY_ERRNO(EACCES) gave no clear answer: denials use FAN_DENY (EPERM)".into()
            }
        },
        Err(e) => format!(
            "no pre-content groups ({e}), so no FAN_DENY_ERRNO: denials read \"Operation not permitted\" (EPERM)"
        ),
    };
    Ok(DenyMode {
        class: libc::FAN_CLASS_CONTENT,
        response: libc::FAN_DENY,
        result: OpResult::OperationNotPermitted,
        note,
    })
}

fn init_error(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) => {
            "fanotify_init: permission events need CAP_SYS_ADMIN (run as root)".into()
        }
        Some(libc::ENOSYS) => "fanotify_init: the kernel is built without fanotify".into(),
        Some(libc::EINVAL) => format!(
            "fanotify_init: {e} (a kernel without CONFIG_FANOTIFY_ACCESS_PERMISSIONS or too old for FAN_REPORT_TID)"
        ),
        _ => format!("fanotify_init: {e}"),
    }
}

/// Finds out, by trying, whether fanotify can enforce on this kernel: creates a group,
/// marks a temporary file with `FAN_OPEN_EXEC_PERM|FAN_OPEN_PERM`, denies a real open of
/// it, tries a whole-filesystem exec mark, and checks which errno a deny can carry.
pub fn probe() -> ProbeResult {
    ProbeResult::tried(Backend::Fanotify, try_probe(), coverage)
}

fn coverage(usable: bool) -> Vec<Coverage> {
    Op::ALL
        .iter()
        .map(|&op| {
            let (level, note) = if !usable {
                (Level::None, "fanotify permission events are not available")
            } else {
                match op {
                    Op::Exec => (
                        Level::Enforced,
                        "FAN_OPEN_EXEC_PERM: a marked program does not start until allowed, under any name (hard link, bind mount, another mount namespace: decided by its inode) and through the dynamic loader (`ld.so PROGRAM` opens it, refused for Block rules); a rule on a symlink to a multi-call binary (a busybox applet) blocks that whole binary, since the decision comes before the new program's argv exists; fileless (memfd) exec is not seen",
                    ),
                    Op::FileRead => (
                        Level::Enforced,
                        "FAN_OPEN_PERM on existing files under file rules; descriptors opened before the rule are not rechecked",
                    ),
                    Op::FileWrite => (
                        Level::Enforced,
                        "opens for writing (O_WRONLY, O_RDWR, O_APPEND, O_TRUNC, O_CREAT) of existing files, under any name (files and directories of rules are marked by inode: hard links, bind mounts, renamed ancestors, chroot and other mount namespaces reach the same rule); writes through descriptors opened earlier, truncate(2), replacing a file by rename, and a file created after the apply then hard-linked out of its directory are not seen",
                    ),
                    Op::Create => (
                        Level::AuditOnly,
                        "the permission event comes after creation: a denied O_CREAT leaves the empty file; the eBPF monitor reports creations",
                    ),
                    Op::Unlink => (
                        Level::AuditOnly,
                        "fanotify has no permission event for unlink: an unlink of a file that a file rule protects from writes is an Audit (Block) alert from the eBPF monitor, not refused; a syscalls rule on unlink/unlinkat/rmdir audits it too",
                    ),
                    Op::Rename => (
                        Level::AuditOnly,
                        "fanotify has no permission event for rename or link: renaming, linking or replacing a file that a file rule protects from writes is an Audit (Block) alert from the eBPF monitor, not refused; a syscalls rule on rename/renameat/renameat2 audits it too",
                    ),
                    Op::Network => (
                        Level::AuditOnly,
                        "fanotify sees files only: the eBPF monitor alerts on network rules, nothing denies them",
                    ),
                    Op::Capabilities => (
                        Level::None,
                        "neither fanotify nor the eBPF monitor sees capability checks: capability rules neither block nor alert",
                    ),
                }
            };
            Coverage {
                op,
                level,
                note: note.into(),
            }
        })
        .collect()
}

/// A temporary file removed on drop.
struct ProbeFile(PathBuf);

impl ProbeFile {
    fn create() -> Result<ProbeFile, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "knoxctl-fanotify-probe-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, b"probe\n")
            .map_err(|e| format!("creating {}: {e}", path.display()))?;
        Ok(ProbeFile(path))
    }
}

impl Drop for ProbeFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads every queued event of `group` and answers it with `response`; returns how many.
fn answer_all(group: &OwnedFd, response: u32) -> usize {
    #[repr(C, align(8))]
    struct Buf([u8; 4096]);
    let mut buf = Buf([0; 4096]);
    let meta_len = std::mem::size_of::<libc::fanotify_event_metadata>();
    let mut answered = 0;
    while let Ok(n) = sys::read(group.as_raw_fd(), &mut buf.0) {
        if n == 0 {
            break;
        }
        let mut off = 0;
        while off + meta_len <= n {
            // SAFETY: meta_len bytes remain at off.
            let meta: libc::fanotify_event_metadata =
                unsafe { std::ptr::read_unaligned(buf.0[off..].as_ptr().cast()) };
            if meta.fd >= 0 {
                let _ = sys::respond(group.as_raw_fd(), meta.fd, response);
                // SAFETY: the event fd is ours to close.
                unsafe { libc::close(meta.fd) };
                answered += 1;
            }
            off += (meta.event_len as usize).max(meta_len);
        }
    }
    answered
}

fn try_probe() -> Result<String, String> {
    let group = sys::init(libc::FAN_CLASS_CONTENT).map_err(|e| init_error(&e))?;
    let file = ProbeFile::create()?;
    let mask = libc::FAN_OPEN_EXEC_PERM | libc::FAN_OPEN_PERM;
    sys::mark(group.as_raw_fd(), libc::FAN_MARK_ADD, mask, &file.0).map_err(|e| {
        format!(
            "FAN_OPEN_EXEC_PERM mark on {}: {e} (needs Linux 5.0+ with CONFIG_FANOTIFY_ACCESS_PERMISSIONS)",
            file.0.display()
        )
    })?;
    // A real round trip: a thread opens the marked file and must get EPERM from our deny.
    let path = file.0.clone();
    let opener = std::thread::spawn(move || std::fs::File::open(&path).map(drop));
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut denied = 0;
    while denied == 0 && Instant::now() < deadline {
        let _ = sys::poll2(group.as_raw_fd(), group.as_raw_fd(), 100);
        denied = answer_all(&group, libc::FAN_DENY);
    }
    if denied == 0 {
        drop(group);
        let _ = opener.join();
        return Err("a marked file was opened but no permission event arrived within 2 s".into());
    }
    match opener.join() {
        Ok(Err(e)) if e.raw_os_error() == Some(libc::EPERM) => {}
        Ok(other) => {
            return Err(format!(
                "a denied open returned {other:?} instead of EPERM: the kernel does not honour fanotify answers"
            ));
        }
        Err(_) => return Err("the probe's opener thread panicked".into()),
    }
    // Whole-filesystem exec marks (process allow-list mode, execname). Removed at once; any exec
    // caught in between is allowed below.
    let dir = std::env::temp_dir();
    let fs_flags = libc::FAN_MARK_FILESYSTEM;
    let fs_note = match sys::mark(
        group.as_raw_fd(),
        libc::FAN_MARK_ADD | fs_flags,
        libc::FAN_OPEN_EXEC_PERM,
        &dir,
    ) {
        Ok(()) => {
            let _ = sys::mark(
                group.as_raw_fd(),
                libc::FAN_MARK_REMOVE | fs_flags,
                libc::FAN_OPEN_EXEC_PERM,
                &dir,
            );
            answer_all(&group, libc::FAN_ALLOW);
            "whole-filesystem exec marks work (process allow-list mode and execname rules)"
                .to_string()
        }
        Err(e) => format!(
            "whole-filesystem exec marks are refused ({e}): process allow-list mode and execname rules cannot be enforced"
        ),
    };
    drop(group);
    let deny_note = deny_mode()
        .map(|m| m.note)
        .unwrap_or_else(|e| init_error(&e));
    Ok(format!(
        "permission events work (an open of a marked test file was denied with EPERM); {fs_note}; {deny_note}"
    ))
}
