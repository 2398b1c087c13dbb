//! Process facts from /proc, used to enrich alerts (who did it, from where, on which TTY).
//! Best effort: a process may exit while we read; missing facts stay empty.

use std::fs;

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
    fn tty_names() {
        assert_eq!(tty_name(0), "");
        assert_eq!(tty_name((136 << 8) | 2), "pts2");
        assert_eq!(tty_name((4 << 8) | 1), "tty1");
    }
}
