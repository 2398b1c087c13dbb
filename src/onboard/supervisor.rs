//! The standalone-mode supervisor (`knoxctl agent --supervise`): keeps one agent running
//! on a host where systemd is not PID 1, as `Restart=always` does in systemd mode.
//!
//! It owns the agent process and nothing else: it holds no lock, no socket and no kernel
//! object, so that a crash of the agent (the only process with state) is always recoverable
//! by starting a new one. With fanotify, nothing is enforced between the agent's death and
//! the new agent's marks, so the first restart is immediate; only an agent that keeps dying
//! quickly is restarted with a growing delay (a crash loop must not eat the CPU).
//!
//! What it did is recorded in `supervisor.json` next to the agent's socket (`knoxctl probe`
//! and `sysdump` read it, also while the agent is down) and each restart is a line in the
//! log (the supervisor's stderr is the agent's log file).
//!
//! Signals: SIGTERM or SIGINT stop the agent (SIGTERM, SIGKILL after the stop grace) and
//! then the supervisor; everything else the supervisor does is waiting in `sigtimedwait`,
//! so an idle supervisor never wakes up.

use super::procs;
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The record's file name, in the directory of the agent's socket.
pub const RECORD_FILE: &str = "supervisor.json";

/// An agent that ran this long before it exited counts as having run well: the next
/// restart is immediate again. An agent starts in well under a second; one that dies
/// sooner than this is failing at or just after start, where retrying at once only burns
/// the CPU.
const STABLE_AFTER: Duration = Duration::from_secs(10);
/// The delay after the second quick failure in a row; it doubles with each further one.
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(30);

/// What the supervisor has done, as `supervisor.json` has it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub supervisor_pid: u32,
    /// The agent it runs now; 0 while it waits to restart one.
    pub agent_pid: u32,
    pub started_at: String,
    /// Agents started after the first one.
    pub restarts: u64,
    pub last_exit: Option<LastExit>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastExit {
    pub pid: u32,
    /// `exited with status 1`, `killed by signal 9 (SIGKILL)`.
    pub how: String,
    pub at: String,
    /// How long that agent ran, in seconds.
    pub ran_secs: f64,
    /// How long the supervisor waited before starting the next one, in milliseconds.
    pub restart_delay_ms: u64,
}

/// The record of the supervisor whose agent listens on `socket`, if that supervisor is
/// still running (a record left by a killed supervisor says nothing about the present).
pub fn record_for(socket: &Path) -> Option<Record> {
    let path = record_path(socket);
    let r: Record = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    procs::is_running(r.supervisor_pid as i32).then_some(r)
}

pub fn record_path(socket: &Path) -> PathBuf {
    socket.parent().unwrap_or(Path::new("/")).join(RECORD_FILE)
}

/// The delay before restarting an agent that failed quickly `quick_failures` times in a row
/// (counting this one): none the first time, then 250 ms doubling up to 30 s.
pub fn restart_delay(quick_failures: u32) -> Duration {
    match quick_failures {
        0 | 1 => Duration::ZERO,
        n => FIRST_DELAY
            .saturating_mul(1u32 << (n - 2).min(16))
            .min(MAX_DELAY),
    }
}

/// `exited with status 1`, `killed by signal 9 (SIGKILL)`.
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => {
            let core = if status.core_dumped() {
                ", core dumped"
            } else {
                ""
            };
            format!("killed by signal {s} ({}{core})", signal_name(s))
        }
        _ => format!("ended ({status})"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("blocking signals for the supervisor: {0}")]
    Signals(std::io::Error),
    #[error("starting the agent {}: {source}", exe.display())]
    Spawn {
        exe: PathBuf,
        source: std::io::Error,
    },
}

/// The signals the supervisor waits for, blocked so that they queue up for `sigtimedwait`
/// instead of running handlers (the agent gets an empty mask again, see `spawn`).
struct Signals(libc::sigset_t);

impl Signals {
    fn block() -> Result<Signals, SupervisorError> {
        // SAFETY: plain sigset manipulation on a local; pthread_sigmask on the calling
        // thread, which is the only one (the supervisor starts no threads).
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGTERM, libc::SIGINT, libc::SIGCHLD, libc::SIGHUP] {
                libc::sigaddset(&mut set, s);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(SupervisorError::Signals(std::io::Error::from_raw_os_error(
                    rc,
                )));
            }
            Ok(Signals(set))
        }
    }

    /// The next of the blocked signals, or None once `timeout` has passed (None: forever).
    fn wait(&self, timeout: Option<Duration>) -> Option<i32> {
        loop {
            let ts = timeout.map(|t| libc::timespec {
                tv_sec: t.as_secs() as libc::time_t,
                tv_nsec: t.subsec_nanos() as libc::c_long,
            });
            // SAFETY: valid set and optional timespec; no siginfo wanted.
            let sig = unsafe {
                libc::sigtimedwait(
                    &self.0,
                    std::ptr::null_mut(),
                    ts.as_ref().map_or(std::ptr::null(), |t| t as *const _),
                )
            };
            if sig >= 0 {
                return Some(sig);
            }
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EAGAIN) => return None,
                // EINTR: a signal outside the set (SIGSTOP/SIGCONT); wait again. The
                // timeout restarts, which only lengthens a restart delay slightly.
                _ => continue,
            }
        }
    }
}

/// Runs the agent (`exe` with `args`, which must not contain `--supervise`) and restarts it
/// whenever it exits, until SIGTERM or SIGINT. The record goes to `record`.
pub fn run(exe: &Path, args: &[OsString], record: &Path) -> Result<(), SupervisorError> {
    let signals = Signals::block()?;
    let mut rec = Record {
        supervisor_pid: std::process::id(),
        started_at: super::timestamp(),
        ..Record::default()
    };
    let mut quick_failures = 0u32;
    let mut first = true;
    loop {
        let started = Instant::now();
        let mut child = match spawn(exe, args) {
            Ok(c) => c,
            // The binary was removed or replaced by a broken one: keep trying, as slowly
            // as a crash loop, so that a repaired installation comes back by itself.
            Err(e) if !first => {
                quick_failures += 1;
                let delay = restart_delay(quick_failures).max(FIRST_DELAY);
                tracing::error!(error = %e, delay_ms = delay.as_millis() as u64, "supervisor: cannot start the agent; trying again");
                if stop_requested(&signals, Some(delay)) {
                    remove_record(record);
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        if !first {
            rec.restarts += 1;
        }
        first = false;
        rec.agent_pid = child.id();
        write_record(record, &rec);
        let status = match wait_child(&signals, &mut child) {
            Waited::Exited(s) => s,
            Waited::StopRequested => {
                stop_child(&signals, &mut child);
                remove_record(record);
                tracing::info!("supervisor: stopped");
                return Ok(());
            }
        };
        let ran = started.elapsed();
        if ran >= STABLE_AFTER {
            quick_failures = 0;
        }
        quick_failures += 1;
        let delay = restart_delay(quick_failures);
        let how = describe(status);
        tracing::warn!(
            pid = rec.agent_pid,
            ran_secs = format!("{:.1}", ran.as_secs_f64()),
            delay_ms = delay.as_millis() as u64,
            restart = rec.restarts + 1,
            "supervisor: the agent ended ({how}); restarting it"
        );
        rec.last_exit = Some(LastExit {
            pid: rec.agent_pid,
            how,
            at: super::timestamp(),
            ran_secs: (ran.as_secs_f64() * 10.0).round() / 10.0,
            restart_delay_ms: delay.as_millis() as u64,
        });
        rec.agent_pid = 0;
        write_record(record, &rec);
        if !delay.is_zero() && stop_requested(&signals, Some(delay)) {
            remove_record(record);
            return Ok(());
        }
    }
}

fn spawn(exe: &Path, args: &[OsString]) -> Result<Child, SupervisorError> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(exe);
    cmd.args(args).stdin(Stdio::null());
    // The blocked mask is inherited through exec (std does not reset it): an agent that
    // never sees SIGTERM could only be killed.
    // SAFETY: sigemptyset and pthread_sigmask are async-signal-safe and touch only the
    // child's own stack and mask.
    unsafe {
        cmd.pre_exec(|| {
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
    cmd.spawn().map_err(|source| SupervisorError::Spawn {
        exe: exe.to_path_buf(),
        source,
    })
}

enum Waited {
    Exited(ExitStatus),
    StopRequested,
}

fn wait_child(signals: &Signals, child: &mut Child) -> Waited {
    loop {
        // A SIGCHLD may have been consumed while the child was being started.
        if let Ok(Some(s)) = child.try_wait() {
            return Waited::Exited(s);
        }
        // SIGCHLD: checked at the top. SIGHUP: the supervisor has no terminal and no
        // configuration of its own to reload.
        if let Some(libc::SIGTERM | libc::SIGINT) = signals.wait(None) {
            return Waited::StopRequested;
        }
    }
}

/// True when SIGTERM or SIGINT arrives within `timeout`.
fn stop_requested(signals: &Signals, timeout: Option<Duration>) -> bool {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return false;
        }
        match signals.wait(left) {
            Some(libc::SIGTERM | libc::SIGINT) => return true,
            Some(_) => {}
            None => return false,
        }
    }
}

/// SIGTERM to the agent (it answers pending permission events and flushes its alerts),
/// SIGKILL if it is still there after the stop grace.
fn stop_child(signals: &Signals, child: &mut Child) {
    let pid = child.id() as i32;
    // SAFETY: kill(2) on our own child, which has not been reaped yet (so the pid is ours).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + super::STOP_GRACE;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        signals.wait(Some(left.min(Duration::from_millis(200))));
    }
}

fn write_record(path: &Path, rec: &Record) {
    let mut b = serde_json::to_vec_pretty(rec).expect("record serializes");
    b.push(b'\n');
    if let Err(e) = super::write_atomic(path, &b, 0o644) {
        tracing::warn!(error = %e, "supervisor: cannot write its record");
    }
}

fn remove_record(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_at_once_then_backs_off() {
        let d: Vec<u64> = (1..=10)
            .map(|n| restart_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(
            d,
            [0, 250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]
        );
        assert_eq!(restart_delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(
            describe(ExitStatus::from_raw(1 << 8)),
            "exited with status 1"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(11 | 0x80)),
            "killed by signal 11 (SIGSEGV, core dumped)"
        );
    }

    #[test]
    fn record_next_to_the_socket() {
        assert_eq!(
            record_path(Path::new("/run/knoxctl/agent.sock")),
            Path::new("/run/knoxctl/supervisor.json")
        );
    }
}
