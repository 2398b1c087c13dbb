//! The raw system interface of the fanotify backend: group creation, marks, responses,
//! and the small /proc reads the decision path makes. Everything here that runs per
//! event works on caller-provided or stack buffers, so a decision allocates nothing
//! until it has something to report.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// `FAN_DENY_ERRNO(err)` from linux/fanotify.h (6.14+; the kernel accepts it only from
/// pre-content groups and only for a short list of errnos).
pub fn deny_errno(errno: i32) -> u32 {
    libc::FAN_DENY | (((errno as u32) & 0xff) << 24)
}

pub fn init(class: libc::c_uint) -> io::Result<OwnedFd> {
    let flags = class
        | libc::FAN_CLOEXEC
        | libc::FAN_NONBLOCK
        // The thread parked in the syscall, so /proc/<tid>/syscall shows its arguments.
        | libc::FAN_REPORT_TID
        // A full queue makes the kernel allow the operation (fail open); memory is the
        // lesser evil for a security agent.
        | libc::FAN_UNLIMITED_QUEUE
        | libc::FAN_UNLIMITED_MARKS;
    // O_NONBLOCK: the kernel opens an event fd for every event; for a FIFO a blocking
    // open would wait for a writer that is itself waiting for our answer.
    let event_flags = libc::O_RDONLY | libc::O_LARGEFILE | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: plain syscall; the returned fd is owned by us.
    let fd = unsafe { libc::fanotify_init(flags, event_flags as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by the kernel and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn mark(group: RawFd, flags: libc::c_uint, mask: u64, path: &Path) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let r = unsafe { libc::fanotify_mark(group, flags, mask, libc::AT_FDCWD, c.as_ptr()) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returns once no task can still be delivering an event through a mark that was removed
/// before the call; false if it could not make sure (the caller must then fall back to
/// waiting).
///
/// A task looks marks up and queues its event to their groups inside one read-side
/// section of the kernel's `fsnotify_mark_srcu`; removing a mark does not wait for those
/// sections. Closing a group does (`fsnotify_destroy_group` flushes the mark reaper, which
/// calls `synchronize_srcu`), but it first stops queueing, and a permission event that
/// cannot be queued is allowed. So this closes a throwaway group with one mark of its
/// own instead: when its close returns, every event headed for the removed marks sits in
/// its group's queue, where the reader decides it.
pub fn mark_barrier() -> bool {
    // SAFETY: plain syscall; the returned fd is owned below.
    let fd = unsafe {
        libc::fanotify_init(
            libc::FAN_CLASS_NOTIF | libc::FAN_CLOEXEC | libc::FAN_NONBLOCK,
            libc::O_RDONLY as libc::c_uint,
        )
    };
    if fd < 0 {
        return false;
    }
    // SAFETY: fd was just returned by the kernel and nothing else owns it.
    let group = unsafe { OwnedFd::from_raw_fd(fd) };
    // FAN_ACCESS without FAN_ONDIR on a directory: an attached mark that never fires.
    if mark(
        group.as_raw_fd(),
        libc::FAN_MARK_ADD,
        libc::FAN_ACCESS,
        Path::new("/"),
    )
    .is_err()
    {
        return false;
    }
    // The last close of a file runs its release before close() returns to user space.
    drop(group);
    true
}

/// Removes every mark of the group, so no new event is queued to it.
pub fn flush_marks(group: RawFd) {
    for kind in [
        libc::FAN_MARK_INODE,
        libc::FAN_MARK_MOUNT,
        libc::FAN_MARK_FILESYSTEM,
    ] {
        // SAFETY: FAN_MARK_FLUSH takes no path.
        unsafe {
            libc::fanotify_mark(
                group,
                libc::FAN_MARK_FLUSH | kind,
                0,
                libc::AT_FDCWD,
                std::ptr::null(),
            )
        };
    }
}

pub fn respond(group: RawFd, event_fd: RawFd, response: u32) -> io::Result<()> {
    let r = libc::fanotify_response {
        fd: event_fd,
        response,
    };
    let size = std::mem::size_of::<libc::fanotify_response>();
    // SAFETY: r lives on the stack for the call; size is its size.
    let n = unsafe { libc::write(group, (&raw const r).cast(), size) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

pub fn pread(fd: RawFd, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    // SAFETY: buf is valid for buf.len() bytes.
    let n = unsafe {
        libc::pread(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            offset as libc::off_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

pub fn fstat(fd: RawFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid value to overwrite.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out pointer.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// `stat` of a NUL-terminated path in `path`.
pub fn stat_c(path: &[u8]) -> io::Result<libc::stat> {
    debug_assert_eq!(path.last(), Some(&0));
    // SAFETY: as in fstat; path is NUL-terminated.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::stat(path.as_ptr().cast(), &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st)
}

/// Whether `tid` is a thread of the process `pid` (tgkill with signal 0 only checks).
pub fn is_thread_of(pid: i32, tid: i32) -> bool {
    tid == pid
        // SAFETY: signal 0 delivers nothing.
        || unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) } == 0
}

/// A /proc path built on the stack: `/proc/<pid>/<name>` or `/proc/self/fd/<n>`.
pub struct ProcPath {
    buf: [u8; 64],
    len: usize,
}

impl ProcPath {
    pub fn new(pid: i32, name: &str) -> ProcPath {
        let mut p = ProcPath {
            buf: [0; 64],
            len: 0,
        };
        p.push(b"/proc/");
        p.push_num(i64::from(pid));
        p.push(b"/");
        p.push(name.as_bytes());
        p
    }

    pub fn self_fd(fd: RawFd) -> ProcPath {
        let mut p = ProcPath {
            buf: [0; 64],
            len: 0,
        };
        p.push(b"/proc/self/fd/");
        p.push_num(i64::from(fd));
        p
    }

    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - 1 - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn push_num(&mut self, mut v: i64) {
        if v < 0 {
            self.push(b"-");
            v = -v;
        }
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }

    /// The path with its NUL terminator.
    pub fn as_bytes_with_nul(&self) -> &[u8] {
        &self.buf[..=self.len]
    }

    fn as_ptr(&self) -> *const libc::c_char {
        self.buf.as_ptr().cast()
    }
}

/// Reads a small /proc file into `buf` (one open, reads until EOF or full).
pub fn read_proc(path: &ProcPath, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just opened and is owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut total = 0;
    while total < buf.len() {
        match read(fd.as_raw_fd(), &mut buf[total..]) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// `readlink` into `out` (cleared first), without the " (deleted)" suffix procfs adds.
pub fn readlink(path: &ProcPath, out: &mut Vec<u8>) -> io::Result<()> {
    out.clear();
    out.reserve(libc::PATH_MAX as usize);
    // SAFETY: out has at least PATH_MAX bytes of spare capacity.
    let n = unsafe { libc::readlink(path.as_ptr(), out.as_mut_ptr().cast(), out.capacity()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: readlink initialised n bytes.
    unsafe { out.set_len(n as usize) };
    if let Some(stripped) = out.strip_suffix(b" (deleted)") {
        let len = stripped.len();
        out.truncate(len);
    }
    Ok(())
}

/// Reads `len` bytes of another process's memory at `addr` (through /proc/<tid>/mem).
pub fn read_mem(tid: i32, addr: u64, buf: &mut [u8]) -> io::Result<usize> {
    let path = ProcPath::new(tid, "mem");
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: owned here.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    pread(fd.as_raw_fd(), buf, addr)
}

/// The syscall a thread is parked in: number and its six arguments, from
/// /proc/<tid>/syscall (`257 0xffffff9c 0x7ff... 0x241 ...`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    pub nr: i64,
    pub args: [u64; 6],
}

pub fn parked_syscall(tid: i32) -> Option<Syscall> {
    let path = ProcPath::new(tid, "syscall");
    let mut buf = [0u8; 256];
    // The kernel queues the event and wakes us just before the thread goes to sleep;
    // until it sleeps procfs answers "running". It parks within microseconds, so a
    // short bounded wait is enough (past it the caller treats the flags as unknown).
    let deadline = Instant::now() + Duration::from_millis(20);
    loop {
        let n = read_proc(&path, &mut buf).ok()?;
        if buf[..n].starts_with(b"running") && Instant::now() < deadline {
            std::thread::yield_now();
            continue;
        }
        return parse_syscall(&buf[..n]);
    }
}

pub fn parse_syscall(text: &[u8]) -> Option<Syscall> {
    let text = std::str::from_utf8(text).ok()?;
    let mut fields = text.split_ascii_whitespace();
    let nr: i64 = fields.next()?.parse().ok()?;
    if nr < 0 {
        return None;
    }
    let mut args = [0u64; 6];
    for a in &mut args {
        let f = fields.next()?;
        *a = u64::from_str_radix(f.strip_prefix("0x")?, 16).ok()?;
    }
    Some(Syscall { nr, args })
}

/// `(tgid, ppid, real uid)` of a thread, from /proc/<tid>/status.
pub fn thread_status(tid: i32) -> Option<(i32, i32, u32)> {
    let mut buf = [0u8; 4096];
    let n = read_proc(&ProcPath::new(tid, "status"), &mut buf).ok()?;
    parse_status(&buf[..n])
}

pub fn parse_status(text: &[u8]) -> Option<(i32, i32, u32)> {
    let text = std::str::from_utf8(text).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_ascii_whitespace().next())
    };
    Some((
        field("Tgid:")?.parse().ok()?,
        field("PPid:")?.parse().ok()?,
        field("Uid:")?.parse().ok()?,
    ))
}

pub use crate::kernel::wake::EventFd;

/// Waits for either fd to become readable; `(a_ready, b_ready)`, both false on timeout.
pub fn poll2(a: RawFd, b: RawFd, timeout_ms: i32) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd {
            fd: a,
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b,
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    // SAFETY: fds is a valid array of two pollfd.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout_ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((fds[0].revents != 0, fds[1].revents != 0))
}

/// The path of a program's ELF interpreter (`PT_INTERP`), read through `fd`.
pub fn elf_interpreter(fd: RawFd) -> Option<Box<str>> {
    let mut eh = [0u8; 64];
    if pread(fd, &mut eh, 0).ok()? < 52 || &eh[..4] != b"\x7fELF" || eh[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]);
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let wide = match eh[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let (phoff, phentsize, phnum) = if wide {
        (
            u64_at(&eh, 32),
            u16_at(&eh, 54) as usize,
            u16_at(&eh, 56) as usize,
        )
    } else {
        (
            u64::from(u32_at(&eh, 28)),
            u16_at(&eh, 42) as usize,
            u16_at(&eh, 44) as usize,
        )
    };
    let min_entry = if wide { 56 } else { 32 };
    let mut ph = [0u8; 64 * 56];
    if phentsize < min_entry || phnum == 0 || phnum * phentsize > ph.len() {
        return None;
    }
    let got = pread(fd, &mut ph[..phnum * phentsize], phoff).ok()?;
    for i in 0..got / phentsize {
        let e = &ph[i * phentsize..];
        if u32_at(e, 0) != 3 {
            continue;
        }
        let (off, size) = if wide {
            (u64_at(e, 8), u64_at(e, 32))
        } else {
            (u64::from(u32_at(e, 4)), u64::from(u32_at(e, 16)))
        };
        let mut name = [0u8; 4096];
        let size = (size as usize).min(name.len());
        let n = pread(fd, &mut name[..size], off).ok()?;
        let end = name[..n].iter().position(|&c| c == 0).unwrap_or(n);
        return std::str::from_utf8(&name[..end]).ok().map(Box::from);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_paths_are_built_on_the_stack() {
        assert_eq!(
            ProcPath::new(1234, "syscall").as_bytes_with_nul(),
            b"/proc/1234/syscall\0"
        );
        assert_eq!(
            ProcPath::self_fd(7).as_bytes_with_nul(),
            b"/proc/self/fd/7\0"
        );
    }

    #[test]
    fn parses_parked_syscalls() {
        let s = parse_syscall(b"257 0xffffff9c 0x7ffc06a1aae2 0x241 0x1b6 0x0 0x0 0x7ffc 0x7f93\n")
            .unwrap();
        assert_eq!(s.nr, 257);
        assert_eq!(s.args[0] as u32 as i32, -100);
        assert_eq!(s.args[2], 0x241);
        assert_eq!(parse_syscall(b"running\n"), None);
        assert_eq!(parse_syscall(b"-1 0x7ffc 0x7f93\n"), None);
    }

    #[test]
    fn parses_status() {
        let s =
            b"Name:\tx\nTgid:\t10\nNgid:\t0\nPid:\t11\nPPid:\t1\nUid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(parse_status(s), Some((10, 1, 1000)));
    }

    #[test]
    fn reads_the_interpreter_of_a_dynamic_binary() {
        let f = std::fs::File::open("/bin/true").unwrap();
        let interp = elf_interpreter(f.as_raw_fd()).expect("/bin/true is dynamically linked");
        assert!(interp.contains("ld-linux"), "{interp}");
        let f = std::fs::File::open("/etc/hostname").unwrap();
        assert_eq!(elf_interpreter(f.as_raw_fd()), None);
    }

    #[test]
    fn own_threads_are_recognised() {
        let pid = std::process::id() as i32;
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            // SAFETY: gettid has no preconditions.
            tid_tx.send(unsafe { libc::gettid() }).unwrap();
            done_rx.recv().ok();
        });
        let tid = tid_rx.recv().unwrap();
        assert!(is_thread_of(pid, tid));
        assert!(!is_thread_of(pid, 1));
        done_tx.send(()).unwrap();
        t.join().unwrap();
    }
}
