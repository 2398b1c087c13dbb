//! The pseudo-filesystems BPF and LSM code needs, mounted where nothing (no systemd, a
//! minimal VM, a container) mounted them: bpffs for pinning, tracefs for tracepoint ids,
//! securityfs for the list of active LSMs. Mounting one that is there already is never
//! tried, so a host's own mounts are left alone. Also the mount table as this process sees
//! it (fanotify's filesystems, where cgroup2 is).

use std::ffi::CString;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PseudoFs {
    /// bpffs on /sys/fs/bpf.
    Bpf,
    /// tracefs on /sys/kernel/tracing (or the older /sys/kernel/debug/tracing).
    Trace,
    /// securityfs on /sys/kernel/security.
    Security,
}

#[derive(Debug, thiserror::Error)]
#[error("mounting {fstype} on {target}: {source}")]
pub struct MountError {
    pub fstype: &'static str,
    pub target: &'static str,
    pub source: std::io::Error,
}

impl PseudoFs {
    pub fn fstype(self) -> &'static str {
        match self {
            PseudoFs::Bpf => "bpf",
            PseudoFs::Trace => "tracefs",
            PseudoFs::Security => "securityfs",
        }
    }

    pub fn target(self) -> &'static str {
        match self {
            PseudoFs::Bpf => "/sys/fs/bpf",
            PseudoFs::Trace => "/sys/kernel/tracing",
            PseudoFs::Security => "/sys/kernel/security",
        }
    }

    /// Whether what we need from it is there already.
    pub fn present(self) -> bool {
        match self {
            // /sys/fs/bpf exists as an empty directory before anything is mounted on it.
            PseudoFs::Bpf => std::fs::read_to_string("/proc/self/mounts")
                .unwrap_or_default()
                .lines()
                .any(|l| {
                    let mut f = l.split_whitespace().skip(1);
                    f.next() == Some(self.target()) && f.next() == Some(self.fstype())
                }),
            PseudoFs::Trace => {
                Path::new("/sys/kernel/tracing/events").is_dir()
                    || Path::new("/sys/kernel/debug/tracing/events").is_dir()
            }
            PseudoFs::Security => Path::new("/sys/kernel/security/lsm").exists(),
        }
    }
}

/// Mounts `fs` on its usual mount point unless it is there already.
pub fn ensure(fs: PseudoFs) -> Result<(), MountError> {
    if fs.present() {
        return Ok(());
    }
    let err = |source| MountError {
        fstype: fs.fstype(),
        target: fs.target(),
        source,
    };
    let cstr = |s: &str| CString::new(s).expect("no NUL in constant names");
    let (source, target, fstype) = (cstr(fs.fstype()), cstr(fs.target()), cstr(fs.fstype()));
    // SAFETY: NUL-terminated strings that outlive the call; no data argument.
    let rc = unsafe {
        libc::mount(
            source.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(err(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// `(filesystem type, mount point)` of every mount this process sees.
pub fn mounts() -> Vec<(String, PathBuf)> {
    mounts_in(Path::new("/proc/self/mountinfo"))
}

/// [`mounts`] of another mount namespace (`/proc/<pid>/mountinfo`): mount points as
/// that namespace's processes see them.
pub fn mounts_in(mountinfo: &Path) -> Vec<(String, PathBuf)> {
    let Ok(text) = std::fs::read_to_string(mountinfo) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mount = left.split(' ').nth(4)?;
            Some((fstype.to_string(), PathBuf::from(unescape_mountinfo(mount))))
        })
        .collect()
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_what_mount_8_takes() {
        assert_eq!(PseudoFs::Bpf.fstype(), "bpf");
        let e = MountError {
            fstype: PseudoFs::Trace.fstype(),
            target: PseudoFs::Trace.target(),
            source: std::io::Error::from_raw_os_error(libc::EPERM),
        };
        assert!(
            e.to_string()
                .starts_with("mounting tracefs on /sys/kernel/tracing: ")
        );
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        // An escape that ends the field.
        assert_eq!(unescape_mountinfo("/mnt/a\\040"), "/mnt/a ");
    }
}
