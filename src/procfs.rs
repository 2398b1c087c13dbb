//! Process facts from /proc, used to enrich alerts (who did it, from where, on which TTY).
//! Best effort: a process may exit while we read; missing facts stay empty.

use std::collections::HashMap;
use std::fs;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcessInfo {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    /// Resolved executable path (`/usr/bin/bash`).
    pub exe: String,
    /// Command line joined with spaces (`/usr/bin/touch /usr/lib/x`).
    pub cmdline: String,
    pub cwd: String,
    /// `pts2`, or empty without a controlling pseudo-terminal.
    pub tty: String,
    /// The parent's executable path.
    pub parent_exe: String,
    /// In a container: the pid and parent pid its own pid namespace gives them (the last
    /// `NSpid`); 0 when not read (host processes).
    pub ns_pid: i32,
    pub ns_ppid: i32,
}

fn link(pid: i32, name: &str) -> String {
    fs::read_link(format!("/proc/{pid}/{name}"))
        .map(|p| {
            p.to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string()
        })
        .unwrap_or_default()
}

/// `(ppid, tty_nr)` from /proc/PID/stat (the comm field may contain spaces and parens).
fn stat(pid: i32) -> Option<(i32, u32)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let mut f = rest.split(' ');
    let _state = f.next()?;
    let ppid = f.next()?.parse().ok()?;
    let _pgrp = f.next()?;
    let _session = f.next()?;
    let tty_nr: u32 = f.next()?.parse().ok()?;
    Some((ppid, tty_nr))
}

fn uid(pid: i32) -> Option<u32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `pts<N>` for Unix98 pseudo-terminals (majors 136-143), `tty<N>` for virtual consoles.
/// Whether `name` (an executable's path or name, or a `comm`, which the kernel cuts to 15
/// bytes: `ld-linux-x86-64`) is an ELF dynamic loader (`ld-linux-x86-64.so.2`,
/// `ld-musl-x86_64.so.1`, `ld-2.31.so`, `ld.so`). A process running one as its program
/// was started as `ld.so PROGRAM`: the loader opens PROGRAM as data and maps it, and no
/// exec of PROGRAM happens.
pub fn is_dynamic_loader(name: &str) -> bool {
    let name = name.rsplit('/').next().unwrap_or(name);
    name == "ld.so"
        || name.starts_with("ld-linux")
        || name.starts_with("ld-musl")
        || (name.starts_with("ld-") && name.contains(".so"))
}

pub fn tty_name(tty_nr: u32) -> String {
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    match major {
        0 => String::new(),
        136..=143 => format!("pts{}", (major - 136) * 256 + minor),
        4 if minor < 64 => format!("tty{minor}"),
        _ => String::new(),
    }
}

pub fn cmdline(pid: i32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

pub fn process_info(pid: i32) -> ProcessInfo {
    let (ppid, tty_nr) = stat(pid).unwrap_or((0, 0));
    ProcessInfo {
        pid,
        ppid,
        uid: uid(pid).unwrap_or(0),
        exe: link(pid, "exe"),
        cmdline: cmdline(pid),
        cwd: link(pid, "cwd"),
        tty: tty_name(tty_nr),
        parent_exe: if ppid > 0 {
            link(ppid, "exe")
        } else {
            String::new()
        },
        ns_pid: 0,
        ns_ppid: 0,
    }
}

/// [`process_info`] remembered per pid for a short time, for a stream of events about the
/// same processes: reading /proc costs six files per process (~30 µs), which dominated the
/// monitor's pipeline when one process raised many alerts. An entry is read again when it
/// is older than its time to live (the cwd and the command line may change without an
/// exec), when the caller's `comm` or parent differ from the ones it was read with (an
/// exec or a reused pid), and when the caller says the process has just exec'd.
pub struct ProcCache {
    entries: HashMap<i32, Cached>,
    ttl: Duration,
}

struct Cached {
    info: ProcessInfo,
    comm: String,
    ppid: i32,
    read: Instant,
}

/// Entries beyond which the cache starts over (bounded memory under an exec flood, where
/// every event is a new pid and nothing would be reused anyway).
const PROC_CACHE_MAX: usize = 4096;

impl ProcCache {
    pub fn new(ttl: Duration) -> ProcCache {
        ProcCache {
            entries: HashMap::new(),
            ttl,
        }
    }

    /// The facts of `pid`, as the kernel named it (`comm`) with parent `ppid`; `fresh`
    /// reads /proc whatever the cache holds.
    pub fn get(&mut self, pid: i32, ppid: i32, comm: &str, fresh: bool) -> &ProcessInfo {
        let now = Instant::now();
        let stale = match self.entries.get(&pid) {
            Some(c) => {
                fresh || c.comm != comm || c.ppid != ppid || now.duration_since(c.read) > self.ttl
            }
            None => true,
        };
        if stale {
            if self.entries.len() >= PROC_CACHE_MAX && !self.entries.contains_key(&pid) {
                self.entries.clear();
            }
            let mut info = process_info(pid);
            // The process may be gone (no stat, no parent): the kernel's parent then.
            // Remembered like the rest, found or not (a parent /proc refuses, such as
            // init in some sandboxes, would be asked again at every event otherwise).
            if info.parent_exe.is_empty() && ppid > 0 && info.ppid != ppid {
                info.parent_exe = link(ppid, "exe");
            }
            self.entries.insert(
                pid,
                Cached {
                    info,
                    comm: comm.to_string(),
                    ppid,
                    read: now,
                },
            );
        }
        &self.entries.get(&pid).expect("inserted above").info
    }

    /// A process exited: its pid may be reused.
    pub fn forget(&mut self, pid: i32) {
        self.entries.remove(&pid);
    }
}

/// The pid `pid` has in its own (innermost) pid namespace: the last `NSpid` of its status.
pub fn ns_pid(pid: i32) -> Option<i32> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("NSpid:"))?;
    line.split_whitespace().last()?.parse().ok()
}

/// `p` with its in-namespace pids filled (for processes in containers). A parent outside
/// the container's pid namespace (the runtime's shim) has no pid there: 0, as KubeArmor
/// reports it.
pub fn with_ns_pids(mut p: ProcessInfo) -> ProcessInfo {
    p.ns_pid = ns_pid(p.pid).unwrap_or(0);
    let own_ns = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    p.ns_ppid = match (own_ns(p.pid), own_ns(p.ppid)) {
        (Some(a), Some(b)) if a == b && p.ppid > 0 => ns_pid(p.ppid).unwrap_or(0),
        _ => 0,
    };
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_loaders_are_known_by_name_and_comm() {
        for l in [
            "/lib64/ld-linux-x86-64.so.2",
            "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
            "ld-linux-x86-64",
            "/lib/ld-musl-x86_64.so.1",
            "/lib/ld-2.31.so",
            "ld.so",
        ] {
            assert!(is_dynamic_loader(l), "{l}");
        }
        for p in [
            "/usr/bin/ld",
            "/usr/bin/ld.gold",
            "ldconfig",
            "/usr/bin/ldd",
            "ld-helper",
        ] {
            assert!(!is_dynamic_loader(p), "{p}");
        }
    }

    #[test]
    fn reads_own_process() {
        let me = process_info(std::process::id() as i32);
        assert!(me.exe.contains("knoxctl"), "{me:?}");
        assert!(me.ppid > 0);
        assert!(!me.cwd.is_empty());
    }

    #[test]
    fn cache_rereads_after_exec_reparenting_and_ttl() {
        let me = std::process::id() as i32;
        let ppid = process_info(me).ppid;
        let mut c = ProcCache::new(Duration::from_millis(50));
        let first = c.get(me, ppid, "knoxctl", false).clone();
        assert!(first.exe.contains("knoxctl"), "{first:?}");
        // Poison the entry to see whether it is read again.
        c.entries.get_mut(&me).unwrap().info.exe = "cached".into();
        assert_eq!(c.get(me, ppid, "knoxctl", false).exe, "cached");
        assert_eq!(c.get(me, ppid, "other-comm", false).exe, first.exe);
        c.entries.get_mut(&me).unwrap().info.exe = "cached".into();
        assert_eq!(c.get(me, ppid + 1, "other-comm", false).exe, first.exe);
        c.entries.get_mut(&me).unwrap().info.exe = "cached".into();
        assert_eq!(c.get(me, ppid + 1, "other-comm", true).exe, first.exe);
        c.entries.get_mut(&me).unwrap().info.exe = "cached".into();
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(c.get(me, ppid + 1, "other-comm", false).exe, first.exe);
        c.forget(me);
        assert!(c.entries.is_empty());
    }

    #[test]
    fn tty_names() {
        assert_eq!(tty_name(0), "");
        assert_eq!(tty_name((136 << 8) | 2), "pts2");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
    }
}
