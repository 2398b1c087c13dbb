//! The files every program needs, which a file allow-list leaves alone: the grants of
//! AppArmor's `abstractions/base` (and the `abstractions/crypto` it includes), as
//! AppArmor 3/4 ship them.
//!
//! Why: KubeArmor's AppArmor container profiles start with `#include <abstractions/base>`,
//! so under KubeArmor a file allow-list with a block posture still lets every program load
//! its dynamic loader and shared libraries, read `ld.so.cache`, locale and timezone data,
//! `/dev/urandom`, and write `/dev/null`; only what the Allow rules grant comes on top.
//! KubeArmor's container scenarios rely on it (`bash -c 'cat /secret.txt'` under an Allow
//! for `/secret.txt` alone must work). A backend that sees every open of a container (the
//! fanotify backend) and `policy test`, which predicts it, apply this list to opens no
//! rule matched in file allow-list mode ([`crate::policy::matcher::CompiledRules::with_base_exemption`]):
//! such an open passes instead of getting the default posture. A Block rule still wins,
//! since only misses reach this list.
//!
//! The list is the abstraction with its variables expanded (`@{etc_ro}`: `/etc`,
//! `/usr/etc`; `@{run}`: `/run`, `/var/run`; `@{PROC}`: `/proc`; `@{sys}`: `/sys`;
//! `@{pid}`: a number; `@{multiarch}` and the `tls` and `.hmac` lines are inside
//! `/{usr/,}lib{,32,64}/**`), in the AppArmor glob syntax the matcher knows. `m` (map
//! executable) needs no entry: mapping follows an open, which is what is checked here.
//! Grants that are not about files (ptrace, signal, unix sockets) and the home-directory
//! `owner` lines for eCryptfs are left out.

use super::matcher::Glob;
use std::sync::OnceLock;

/// What `abstractions/base` grants on a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `r` (or `mr`).
    Read,
    /// `w`: sockets and the log device, which are written only.
    Write,
    /// `rw`.
    ReadWrite,
}

/// `abstractions/base` (with `abstractions/crypto`), line by line where a line stands alone.
const GRANTS: &[(&str, Access)] = &[
    // The dynamic loader and shared libraries (`/{usr/,}lib{,32,64}/** r` and `**.so* mr`,
    // which covers the multiarch directories, gconv modules and locale archives).
    ("/{usr/,}lib{,32,64}/**", Access::Read),
    ("/opt/*-linux-uclibc/lib/ld-uClibc*so*", Access::Read),
    ("/{,usr/}etc/ld.so.cache", Access::Read),
    ("/{,usr/}etc/ld.so.conf", Access::Read),
    ("/{,usr/}etc/ld.so.conf.d/{,*.conf}", Access::Read),
    ("/{,usr/}etc/ld.so.preload", Access::Read),
    ("/{,usr/}etc/bindresvport.blacklist", Access::Read),
    // Locale and time zone.
    ("/{,usr/}etc/locale/**", Access::Read),
    ("/{,usr/}etc/locale.alias", Access::Read),
    ("/{,usr/}etc/localtime", Access::Read),
    ("/etc/writable/localtime", Access::Read),
    ("/usr/share/locale{,-bundle,-langpack}/**", Access::Read),
    ("/usr/share/**/locale/**", Access::Read),
    ("/usr/share/zoneinfo/{,**}", Access::Read),
    ("/usr/share/common-licenses/**", Access::Read),
    // Devices.
    ("/dev/{random,urandom}", Access::Read),
    ("/dev/{null,zero,full}", Access::ReadWrite),
    ("/dev/log", Access::Write),
    // Logging and uuidd.
    (
        "/{,var/}run/systemd/journal/{dev-log,socket}",
        Access::Write,
    ),
    ("/{,var/}run/systemd/journal/stdout", Access::ReadWrite),
    ("/{,var/}run/uuidd/request", Access::Read),
    // What the C library reads about the system.
    (
        "/proc/sys/kernel/{version,ngroups_max,cap_last_cap}",
        Access::Read,
    ),
    ("/proc/{meminfo,stat,cpuinfo,filesystems}", Access::Read),
    ("/proc/sys/vm/overcommit_memory", Access::Read),
    ("/proc/sys/crypto/*", Access::Read),
    ("/proc/[1-9]*/{maps,auxv,status}", Access::Read),
    ("/sys/devices/system/cpu/{,online,possible}", Access::Read),
    // abstractions/crypto.
    ("/{,usr/}etc/gcrypt/{hwf.deny,random.conf}", Access::Read),
    ("/{etc,usr/share}/crypto-policies/*/*.txt", Access::Read),
];

fn grants() -> &'static [(Glob, Access)] {
    static G: OnceLock<Vec<(Glob, Access)>> = OnceLock::new();
    G.get_or_init(|| {
        GRANTS
            .iter()
            .map(|(p, a)| {
                let g = Glob::new(p).unwrap_or_else(|e| panic!("base grant {p}: {e}"));
                (g, *a)
            })
            .collect()
    })
}

/// The grants as written: (AppArmor glob, access), in the list's order. The backends
/// that cannot ask [`allows`] on every open (AppArmor profiles, BPF-LSM's maps) generate
/// their form of the exemption from this, so that every backend grants from one list.
pub fn grants_written() -> impl Iterator<Item = (&'static str, Access)> {
    GRANTS.iter().copied()
}

/// The first directory of every grant: most paths are ruled out by it alone.
fn may_match(path: &str) -> bool {
    let top = path
        .strip_prefix('/')
        .and_then(|r| r.split('/').next())
        .unwrap_or("");
    matches!(
        top,
        "usr" | "lib" | "lib32" | "lib64" | "etc" | "opt" | "dev" | "run" | "var" | "proc" | "sys"
    )
}

/// Whether `abstractions/base` lets a program open `path` (for writing when `write`).
pub fn allows(path: &str, write: bool) -> bool {
    if !may_match(path) {
        return false;
    }
    grants().iter().any(|(g, a)| {
        let ok = match a {
            Access::Read => !write,
            Access::Write => write,
            Access::ReadWrite => true,
        };
        ok && g.matches(path)
    })
}

/// Whether the answer for `path` differs between reading and writing.
pub fn depends_on_write(path: &str) -> bool {
    allows(path, false) != allows(path, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_compiles() {
        assert_eq!(grants().len(), GRANTS.len());
    }

    #[test]
    fn loader_libraries_and_runtime_files_are_read_only() {
        for p in [
            "/lib64/ld-linux-x86-64.so.2",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/usr/lib/x86_64-linux-gnu/libtinfo.so.6.4",
            "/lib/x86_64-linux-gnu/libpcre2-8.so.0",
            "/usr/lib32/libc.so.6",
            "/usr/lib/locale/C.utf8/LC_CTYPE",
            "/usr/lib/x86_64-linux-gnu/gconv/gconv-modules.cache",
            "/etc/ld.so.cache",
            "/etc/ld.so.conf.d/x86_64-linux-gnu.conf",
            "/etc/ld.so.preload",
            "/etc/localtime",
            "/usr/share/zoneinfo/Europe/Paris",
            "/usr/share/locale/de/LC_MESSAGES/bash.mo",
            "/usr/share/vim/locale/x",
            "/dev/urandom",
            "/proc/meminfo",
            "/proc/1234/status",
            "/sys/devices/system/cpu/online",
            "/etc/crypto-policies/back-ends/openssl.txt",
        ] {
            assert!(allows(p, false), "{p} read");
            assert!(!allows(p, true), "{p} write");
            assert!(depends_on_write(p), "{p}");
        }
    }

    #[test]
    fn null_devices_are_read_and_written() {
        for p in ["/dev/null", "/dev/zero", "/dev/full"] {
            assert!(allows(p, false) && allows(p, true), "{p}");
            assert!(!depends_on_write(p), "{p}");
        }
        assert!(allows("/dev/log", true) && !allows("/dev/log", false));
    }

    #[test]
    fn everything_else_is_left_to_the_rules() {
        for p in [
            "/etc/shadow",
            "/etc/passwd",
            "/etc/hosts",
            "/etc/ld.so.conf.d/evil",
            "/etc/locales",
            "/usr/bin/curl",
            "/usr/libexec/x",
            "/usr/library/x",
            "/libx/y",
            "/usr/share/doc/bash/README",
            "/usr/share/zoneinfox",
            "/dev/tty",
            "/dev/sda",
            "/proc/self/mem",
            "/proc/1234/environ",
            "/proc/kcore",
            "/sys/devices/system/cpu/cpu0/online",
            "/srv/secret",
            "/secret.txt",
            "relative/lib/x",
            "",
        ] {
            assert!(!allows(p, false) && !allows(p, true), "{p}");
            assert!(!depends_on_write(p), "{p}");
        }
    }
}
