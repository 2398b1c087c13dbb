//! Which knoxctl processes run on this host and which kernel objects they hold, read from
//! /proc rather than assumed: offboarding proves with it that nothing is left, sysdump
//! reports it, and onboarding tells its own agent apart from someone else's.

use super::paths::Paths;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Proc {
    pub pid: i32,
    /// /proc/PID/stat's state letter (`R`, `S`, `Z`, ...).
    pub state: char,
    pub exe: String,
    pub cmdline: Vec<String>,
    /// Open fanotify groups (each holds the marks and permission events of one enforcer).
    pub fanotify_fds: usize,
}

impl Proc {
    /// `knoxctl agent ...`
    pub fn is_agent(&self) -> bool {
        self.cmdline.get(1).is_some_and(|a| a == "agent")
    }

    /// `knoxctl agent ... --supervise`: the standalone supervisor, which restarts its
    /// agent when that is stopped alone, so it is stopped first.
    pub fn is_supervisor(&self) -> bool {
        self.is_agent() && self.cmdline.iter().any(|a| a == "--supervise")
    }

    /// Whether this is the agent of the installation at `paths`: an agent reading its
    /// configuration file (named with --config, or the default one when none is named).
    /// Other agents, e.g. tests' or one run by hand with its own file, are not touched even
    /// when started from the same binary.
    pub fn belongs_to(&self, paths: &Paths) -> bool {
        if !self.is_agent() {
            return false;
        }
        let mut config = None;
        let mut args = self.cmdline.iter().skip(2);
        while let Some(a) = args.next() {
            if a == "--config" {
                config = args.next().map(String::as_str);
            } else if let Some(v) = a.strip_prefix("--config=") {
                config = Some(v);
            }
        }
        Path::new(config.unwrap_or(crate::agent::config::DEFAULT_CONFIG)) == paths.config
    }

    /// Exited but not yet reaped: it holds no file, mark or program any more. (Orphans
    /// wait for PID 1 to reap them, and on some hosts PID 1 never does.)
    pub fn is_zombie(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }
}

fn stat_state(path: &str) -> Option<char> {
    let s = std::fs::read_to_string(path).ok()?;
    s[s.rfind(')')? + 1..].trim_start().chars().next()
}

/// The state letter of `pid`, if it exists. A process whose main thread has exited shows
/// `Z` while its other threads are still being torn down (and still hold its files and
/// locks): then the state of a live thread is returned instead.
pub fn state(pid: i32) -> Option<char> {
    let leader = stat_state(&format!("/proc/{pid}/stat"))?;
    if !matches!(leader, 'Z' | 'X') {
        return Some(leader);
    }
    let live = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| stat_state(&format!("{}/stat", t.path().display())))
        .find(|c| !matches!(c, 'Z' | 'X'));
    Some(live.unwrap_or(leader))
}

/// The parent of `pid`, from /proc/PID/stat.
pub fn parent(pid: i32) -> Option<i32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm) ": the state letter, then the parent's pid.
    s[s.rfind(')')? + 1..]
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Whether `pid` exists and has not exited (a zombie has).
pub fn is_running(pid: i32) -> bool {
    state(pid).is_some_and(|c| !matches!(c, 'Z' | 'X'))
}

pub fn read(pid: i32) -> Option<Proc> {
    let state = state(pid)?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| {
            p.to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string()
        })
        .unwrap_or_default();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default();
    Some(Proc {
        pid,
        state,
        exe,
        cmdline,
        fanotify_fds: fanotify_fdinfo(pid).len(),
    })
}

/// Every process named knoxctl (by its command name or its executable), except this one.
pub fn knoxctl_processes() -> Vec<Proc> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out: Vec<Proc> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| pid != me)
        .filter(|&pid| {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            comm.trim_end() == "knoxctl"
                || std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("knoxctl"))
                })
        })
        .filter_map(read)
        .collect();
    out.sort_by_key(|p| p.pid);
    out
}

/// The running (not exited) agents of the installation at `paths`.
pub fn agents_of(paths: &Paths) -> Vec<Proc> {
    knoxctl_processes()
        .into_iter()
        .filter(|p| p.belongs_to(paths) && !p.is_zombie())
        .collect()
}

/// `(fd, fdinfo text)` of each fanotify group `pid` holds; the text lists the group's
/// flags and one `fanotify ino:... mask:...` line per inode or filesystem mark.
pub fn fanotify_fdinfo(pid: i32) -> Vec<(u32, String)> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    let mut out: Vec<(u32, String)> = dir
        .filter_map(|e| {
            let e = e.ok()?;
            let fd: u32 = e.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(e.path()).ok()?;
            (target.to_string_lossy() == "anon_inode:[fanotify]").then_some(fd)
        })
        .filter_map(|fd| {
            let info = std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{fd}")).ok()?;
            Some((fd, info))
        })
        .collect();
    out.sort_by_key(|(fd, _)| *fd);
    out
}

/// BPF objects a process holds open, by kernel id (from /proc/PID/fdinfo: `prog_id:`,
/// `map_id:`, `link_id:`), so that bpftool's host-wide lists can be narrowed to knoxctl's
/// even where bpftool cannot name the owning process.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BpfIds {
    pub progs: Vec<u64>,
    pub maps: Vec<u64>,
    pub links: Vec<u64>,
}

pub fn bpf_ids(pid: i32) -> BpfIds {
    let mut ids = BpfIds::default();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return ids;
    };
    for e in dir.flatten() {
        let Ok(target) = std::fs::read_link(e.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let (key, list) = match target.as_ref() {
            "anon_inode:bpf-prog" => ("prog_id:", &mut ids.progs),
            "anon_inode:bpf-map" => ("map_id:", &mut ids.maps),
            "anon_inode:bpf_link" => ("link_id:", &mut ids.links),
            _ => continue,
        };
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        if let Some(id) = info
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().parse().ok())
        {
            list.push(id);
        }
    }
    for list in [&mut ids.progs, &mut ids.maps, &mut ids.links] {
        list.sort_unstable();
        list.dedup();
    }
    ids
}

/// How a process was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running.
    NotRunning,
    /// It exited after SIGTERM.
    Terminated,
    /// It ignored SIGTERM for `grace` and was killed.
    Killed,
}

/// SIGTERM, then SIGKILL after `grace`; returns once the process has exited (or after a
/// few more seconds, when even SIGKILL is not enough: a process stuck in the kernel).
pub fn terminate(pid: i32, grace: Duration) -> Stopped {
    if !is_running(pid) {
        return Stopped::NotRunning;
    }
    // SAFETY: kill(2) with a pid we checked and a valid signal number.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    if wait_exit(pid, grace) {
        return Stopped::Terminated;
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    wait_exit(pid, Duration::from_secs(5));
    Stopped::Killed
}

/// Waits until `pid` has exited; reaps it when it is our child so that it does not stay a
/// zombie. True when it exited in time.
pub fn wait_exit(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        // SAFETY: WNOHANG never blocks; ECHILD for processes that are not our children.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) };
        if !is_running(pid) {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_processes_and_stops_them() {
        let me = read(std::process::id() as i32).unwrap();
        assert!(matches!(me.state, 'R' | 'S'));
        assert!(!me.is_agent());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        assert!(is_running(pid));
        assert_eq!(terminate(pid, Duration::from_secs(5)), Stopped::Terminated);
        assert!(!is_running(pid));
        let _ = child.wait();
        assert_eq!(terminate(pid, Duration::from_secs(1)), Stopped::NotRunning);
        // A process that ignores SIGTERM is killed.
        let mut stubborn = std::process::Command::new("sh")
            .args(["-c", "trap '' TERM; exec sleep 30"])
            .spawn()
            .unwrap();
        let pid = stubborn.id() as i32;
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(terminate(pid, Duration::from_millis(300)), Stopped::Killed);
        let _ = stubborn.wait();
    }

    #[test]
    fn tells_agents_of_an_installation_apart() {
        let paths = Paths::under(Path::new("/tmp/k"));
        let p = |args: &[&str]| Proc {
            pid: 1,
            state: 'S',
            exe: "/tmp/k/usr/local/bin/knoxctl".into(),
            cmdline: args.iter().map(|s| s.to_string()).collect(),
            fanotify_fds: 0,
        };
        let config = "/tmp/k/etc/knoxctl/config.yaml";
        assert!(p(&["knoxctl", "agent", "--config", config]).belongs_to(&paths));
        assert!(p(&["knoxctl", "agent", &format!("--config={config}")]).belongs_to(&paths));
        assert!(!p(&["knoxctl", "agent", "--config", "/tmp/t/c.yaml"]).belongs_to(&paths));
        assert!(
            !p(&["knoxctl", "agent"]).belongs_to(&paths),
            "the default file is not this one"
        );
        assert!(!p(&["knoxctl", "probe", "--config", config]).belongs_to(&paths));
        let real = Paths::from_root(None);
        assert!(p(&["knoxctl", "agent"]).belongs_to(&real));
        assert!(p(&["knoxctl", "agent", "--config", "/etc/knoxctl/config.yaml"]).belongs_to(&real));
    }
}
