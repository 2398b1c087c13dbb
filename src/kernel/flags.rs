//! Open flags as KubeArmor renders them in alert `Data` (`flags=O_RDONLY|O_CLOEXEC`): the
//! one renderer every backend uses, so the same open gives the same `Data` whichever of
//! BPF-LSM, fanotify or the eBPF monitor saw it.
//!
//! The order and the tests are KubeArmor's `getOpenFlags` in
//! `KubeArmor/monitor/syscallParser.go` (the version that renders with octal literals;
//! a newer copy seen in the wild tests hexadecimal bits that are not x86-64's, e.g.
//! `0x8000` as O_SYNC, and was not followed): the access mode (`&01` O_WRONLY, else `&02`
//! O_RDWR, else O_RDONLY), then O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_APPEND,
//! O_NONBLOCK, O_SYNC, O_ASYNC, O_LARGEFILE, O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC,
//! O_DIRECT, O_NOATIME, O_PATH, O_TMPFILE, each printed when all its bits are set.
//! O_SYNC is two bits (O_DSYNC alone prints nothing) and O_TMPFILE's own bit is tested
//! alone (so `O_TMPFILE` also prints `O_DIRECTORY`, whose bit it includes).
//!
//! The values are the generic Linux ones (x86-64, arm64), written as numbers rather than
//! `libc::O_*`: glibc defines O_LARGEFILE as 0 on x86-64 (it is implied there), while
//! the kernel still reports bit 0o100000 for every 64-bit open, and KubeArmor prints it.

/// (bits, name) in KubeArmor's order.
const NAMED: &[(u32, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o4010000, "O_SYNC"),
    (0o20000, "O_ASYNC"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o2000000, "O_CLOEXEC"),
    (0o40000, "O_DIRECT"),
    (0o1000000, "O_NOATIME"),
    (0o10000000, "O_PATH"),
    (0o20000000, "O_TMPFILE"),
];

/// Open flags as KubeArmor prints them; see the module documentation.
pub fn open_flags(flags: u32) -> String {
    let mut out = String::from(if flags & 0o1 != 0 {
        "O_WRONLY"
    } else if flags & 0o2 != 0 {
        "O_RDWR"
    } else {
        "O_RDONLY"
    });
    for &(bits, name) in NAMED {
        if flags & bits == bits {
            out.push('|');
            out.push_str(name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Flag strings of real KubeArmor alerts, and the flags that produced them.
    #[test]
    fn renders_real_kubearmor_alerts() {
        // docs/accuknox-vm-hardening.md (shared docs), a KubeArmor host alert:
        // "Data":"syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK"
        assert_eq!(
            open_flags((libc::O_WRONLY | libc::O_CREAT | libc::O_NOCTTY | libc::O_NONBLOCK) as u32),
            "O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK"
        );
        // docs/reference/kubearmor.md, from KubeArmor's getting-started/kubearmor-events.md:
        // "syscall=SYS_OPENAT fd=-100 flags=O_RDONLY|O_CLOEXEC"
        assert_eq!(
            open_flags((libc::O_RDONLY | libc::O_CLOEXEC) as u32),
            "O_RDONLY|O_CLOEXEC"
        );
    }

    #[test]
    fn follows_kubearmors_order_not_bit_order() {
        assert_eq!(open_flags(0), "O_RDONLY");
        // O_CLOEXEC (0o2000000) before O_DIRECT (0o40000) and O_NOATIME (0o1000000).
        assert_eq!(
            open_flags((libc::O_NOATIME | libc::O_CLOEXEC) as u32),
            "O_RDONLY|O_CLOEXEC|O_NOATIME"
        );
        assert_eq!(
            open_flags((libc::O_RDWR | libc::O_APPEND | libc::O_TRUNC) as u32),
            "O_RDWR|O_TRUNC|O_APPEND"
        );
        assert_eq!(
            open_flags((libc::O_DIRECTORY | libc::O_NONBLOCK) as u32),
            "O_RDONLY|O_NONBLOCK|O_DIRECTORY"
        );
        // What the kernel hands a 64-bit process's open: O_LARGEFILE is set.
        assert_eq!(
            open_flags(0o100000 | libc::O_CLOEXEC as u32),
            "O_RDONLY|O_LARGEFILE|O_CLOEXEC"
        );
    }

    #[test]
    fn composite_flags() {
        // O_SYNC is two bits; O_DSYNC alone is not O_SYNC.
        assert_eq!(open_flags(libc::O_DSYNC as u32), "O_RDONLY");
        assert_eq!(
            open_flags((libc::O_RDWR | libc::O_SYNC) as u32),
            "O_RDWR|O_SYNC"
        );
        // O_TMPFILE includes O_DIRECTORY's bit; KubeArmor prints both.
        assert_eq!(
            open_flags((libc::O_RDWR | libc::O_TMPFILE) as u32),
            "O_RDWR|O_DIRECTORY|O_TMPFILE"
        );
        // Both access bits: KubeArmor tests O_WRONLY first.
        assert_eq!(open_flags(3), "O_WRONLY");
    }
}
