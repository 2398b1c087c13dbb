//! Where each syscall keeps the objects it acts on (`struct sc_shape` in monitor.bpf.c),
//! and which tracepoints report it. Argument positions are the x86-64 syscall ABI's, as
//! the names are (KubeArmor's syscall enum is x86-64's).

/// The argument holds nothing the monitor reads (`ARG_NONE` in monitor.bpf.c).
pub(crate) const ARG_NONE: u8 = 0xff;

// `sc_shape.flags` (SCF_* in monitor.bpf.c).
pub(crate) const SCF_ON: u8 = 0x1;
pub(crate) const SCF_AT_ENTRY: u8 = 0x2;
pub(crate) const SCF_EXE: u8 = 0x4;
pub(crate) const SCF_CWD: u8 = 0x8;
pub(crate) const SCF_EXEC: u8 = 0x10;

/// `struct sc_shape`: up to two objects, each a path argument relative to a dirfd
/// argument (`ARG_NONE`: the cwd), or without a path argument the file open on the dirfd
/// argument itself.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    pub flags: u8,
    pub path: [u8; 2],
    pub dirfd: [u8; 2],
    pub pad: [u8; 3],
}

// SAFETY: plain bytes, no padding beyond the explicit `pad`, any bit pattern is valid.
unsafe impl aya::Pod for Shape {}

const N: u8 = ARG_NONE;

const fn shape(flags: u8, path: [u8; 2], dirfd: [u8; 2]) -> Shape {
    Shape {
        flags,
        path,
        dirfd,
        pad: [0; 3],
    }
}

/// One path in argument `p`, relative to the cwd.
const fn cwd(p: u8) -> Shape {
    shape(0, [p, N], [N, N])
}

/// One path in argument `p`, relative to the dirfd in argument `d`.
const fn at(d: u8, p: u8) -> Shape {
    shape(0, [p, N], [d, N])
}

/// The file open on the fd in argument `d`.
const fn fd(d: u8) -> Shape {
    shape(0, [N, N], [d, N])
}

/// How syscall `name` is read: where its objects are and what happens at its exit.
/// Syscalls without a path or a file are reported with their number and result only.
pub(crate) fn shape_of(name: &str) -> Shape {
    match name {
        "open" | "creat" | "stat" | "lstat" | "access" | "truncate" | "chroot" | "mkdir"
        | "rmdir" | "unlink" | "readlink" | "chmod" | "chown" | "lchown" | "utime" | "utimes"
        | "mknod" | "umount2" | "swapon" | "swapoff" | "acct" | "statfs" | "setxattr"
        | "lsetxattr" | "getxattr" | "lgetxattr" | "listxattr" | "llistxattr" | "removexattr"
        | "lremovexattr" | "uselib" => cwd(0),
        "chdir" => shape(SCF_CWD, [0, N], [N, N]),
        "execve" => shape(SCF_EXEC, [0, N], [N, N]),
        // mount(source, target, ...): the mount point; the source is often no path at all.
        "mount" | "inotify_add_watch" => cwd(1),
        "openat" | "openat2" | "newfstatat" | "statx" | "faccessat" | "mkdirat" | "unlinkat"
        | "readlinkat" | "fchmodat" | "fchownat" | "futimesat" | "utimensat" | "mknodat"
        | "name_to_handle_at" => at(0, 1),
        "execveat" => shape(SCF_EXEC, [1, N], [0, N]),
        "rename" | "link" | "pivot_root" => shape(0, [0, 1], [N, N]),
        "renameat" | "renameat2" | "linkat" => shape(0, [1, 3], [0, 2]),
        // symlink(target, linkpath): what is created is linkpath; target is only its text.
        "symlink" => cwd(1),
        "symlinkat" => at(1, 2),
        "fanotify_mark" => at(3, 4),
        "fchdir" => shape(SCF_CWD, [N, N], [0, N]),
        // Metadata changes through an fd. Not read/write/close and the like: their fd is
        // as often a pipe or a socket, whose "path" would mean nothing.
        "fchmod" | "fchown" | "ftruncate" | "fallocate" | "fsetxattr" | "fremovexattr"
        | "fstatfs" => fd(0),
        "exit" | "exit_group" => shape(SCF_AT_ENTRY, [N, N], [N, N]),
        _ => shape(0, [N, N], [N, N]),
    }
}

/// The names of the syscall's tracepoints to try, `sys_enter_<name>` and `sys_exit_<name>`
/// for each: the kernel names them after the SYSCALL_DEFINE, which is not always the
/// syscall table's name (stat is `newstat`, umount2 is `umount`).
pub(crate) fn tracepoint_names(name: &str) -> Vec<String> {
    let alias = match name {
        "sendfile" => Some("sendfile64"),
        "umount2" => Some("umount"),
        "_sysctl" => Some("sysctl"),
        _ => None,
    };
    let mut v: Vec<String> = alias.into_iter().map(String::from).collect();
    v.push(name.to_string());
    v.push(format!("new{name}"));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_follow_the_syscall_abi() {
        assert_eq!(shape_of("unlink"), cwd(0));
        assert_eq!(shape_of("unlinkat"), at(0, 1));
        let r = shape_of("renameat2");
        assert_eq!((r.path, r.dirfd), ([1, 3], [0, 2]));
        assert_eq!(shape_of("symlinkat"), at(1, 2));
        assert_eq!(shape_of("fchmod"), fd(0));
        assert_eq!(shape_of("execve").flags, SCF_EXEC);
        assert_eq!(shape_of("exit_group").flags, SCF_AT_ENTRY);
        assert_eq!(shape_of("getpid"), shape(0, [N, N], [N, N]));
        assert_eq!(std::mem::size_of::<Shape>(), 8);
    }

    #[test]
    fn tracepoint_names_cover_the_renamed_syscalls() {
        assert_eq!(tracepoint_names("unlink")[0], "unlink");
        assert!(tracepoint_names("stat").contains(&"newstat".to_string()));
        assert_eq!(tracepoint_names("umount2")[0], "umount");
    }
}
