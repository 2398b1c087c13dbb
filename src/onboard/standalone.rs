//! Standalone mode, for hosts where systemd is not PID 1 (containers' hosts, minimal VMs,
//! CI): the supervisor (`knoxctl agent --supervise`, [`super::supervisor`]) runs detached in
//! its own session and keeps the agent running as its child; their output goes to a log
//! file and the supervisor's pid to the pid file. If the supervisor itself is killed,
//! `knoxctl onboard vm` starts a new one, and says so when it finds it gone.

use super::Error;
use super::paths::Paths;
use super::procs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// The pid in the pid file (the supervisor's), if that process is running and is this
/// installation's (a stale pid file may name a pid that now belongs to something else).
pub fn running_pid(paths: &Paths) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(&paths.pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let p = procs::read(pid)?;
    (!p.is_zombie() && p.belongs_to(paths)).then_some(pid)
}

/// Starts `<bin> agent --config <config> --supervise` detached: a new session (no
/// controlling terminal, untouched by the caller's hangup or Ctrl-C), the root directory as
/// working directory, stdin from /dev/null and stdout/stderr appended to the log. Returns
/// the supervisor's pid, also written to the pid file.
pub fn start(paths: &Paths) -> Result<i32, Error> {
    // Nothing rotates the log in standalone mode: keep one previous generation, rotated
    // when the agent starts.
    if std::fs::metadata(&paths.log).is_ok_and(|m| m.len() > LOG_ROTATE_BYTES) {
        let _ = std::fs::rename(&paths.log, paths.log.with_extension("log.1"));
    }
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(&paths.log)
        .map_err(Error::io("opening", &paths.log))?;
    let _ = writeln!(log, "{LOG_MARK} at {} ----", super::timestamp());
    let err = log.try_clone().map_err(Error::io("opening", &paths.log))?;
    let mut cmd = Command::new(&paths.bin);
    cmd.arg("agent")
        .arg("--config")
        .arg(&paths.config)
        .arg("--supervise")
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        // The agent reads its paths from the configuration only, never from the
        // environment of whoever onboarded it.
        .env_remove("KNOXCTL_SOCKET")
        .env_remove("KNOXCTL_STATE_DIR")
        .env_remove(super::paths::ROOT_ENV)
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env("NO_COLOR", "1");
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(Error::io("starting", &paths.bin))?;
    let pid = child.id() as i32;
    // Not waited for: the agent outlives this command by design.
    drop(child);
    super::write_atomic(&paths.pid_file, format!("{pid}\n").as_bytes(), 0o644)?;
    Ok(pid)
}

/// Stops `pid` (an agent found by its command line) and the supervisor named by the pid
/// file (which stops its agent first), and removes the pid file.
pub fn stop(paths: &Paths, pid: Option<i32>) -> Vec<procs::Stopped> {
    let mut pids: Vec<i32> = pid.into_iter().chain(running_pid(paths)).collect();
    pids.dedup();
    let stopped = pids
        .into_iter()
        .map(|p| procs::terminate(p, super::STOP_GRACE))
        .collect();
    let _ = std::fs::remove_file(&paths.pid_file);
    stopped
}

/// A log larger than this is moved to `agent.log.1` when the agent starts.
const LOG_ROTATE_BYTES: u64 = 32 << 20;

/// Written to the log before each start, so that the lines of one run can be found.
pub const LOG_MARK: &str = "---- knoxctl onboard: starting the agent";

/// The last `n` lines the latest run of the agent wrote.
pub fn last_run_log(paths: &Paths, n: usize) -> String {
    let tail = super::tail_lines(&paths.log, n).unwrap_or_default();
    match tail.rfind(LOG_MARK) {
        Some(i) => tail[i..].to_string(),
        None => tail,
    }
}

/// Whether `agent_pid` (the pid an agent reports in its status) is the supervisor `pid` or
/// its child.
pub fn is_same_agent(pid: i32, agent_pid: u32) -> bool {
    pid as u32 == agent_pid || procs::parent(agent_pid as i32) == Some(pid)
}
