//! The records monitor.bpf.c writes to its ring buffer, mirrored: `struct event`'s header
//! as a `#[repr(C)]` struct checked against the C layout at compile time, and its `kind`
//! codes (`EV_*`) checked against the C defines by a test that reads monitor.bpf.c.
//! Turning a record into a [`super::MonitorEvent`] is the parent module's.

use std::mem::{offset_of, size_of};

/// `struct event` up to its path (EVENT_HDR_SIZE in monitor.bpf.c); `path_len` bytes
/// of path (or, for syscall events, up to three strings) follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EventHeader {
    /// bpf_ktime_get_boot_ns().
    pub ts_ns: u64,
    /// EV_*.
    pub kind: u32,
    pub tgid: u32,
    pub ppid: u32,
    pub tid: u32,
    pub uid: u32,
    /// Open/exec flags; EV_SYSCALL: the syscall number.
    pub flags: i32,
    pub retval: i64,
    /// The C union: `family, sock_type, protocol, port` for network events,
    /// `str_len[3], str_flags` for syscall events.
    pub words: [u16; 4],
    /// IPv4 in the first 4 bytes, network byte order (network events).
    pub addr: [u8; 16],
    pub comm: [u8; 16],
    /// Bytes of path, including its NUL; 0 without a path.
    pub path_len: u32,
    /// `addr` and `port` are set.
    pub has_addr: u32,
    /// bpf_get_current_cgroup_id(): the inode of the task's cgroup2 directory.
    pub cgroup_id: u64,
    /// tgid and ppid in the task's own pid namespace (ns_ppid 0: parent outside it).
    pub ns_tgid: u32,
    pub ns_ppid: u32,
}

pub(super) const EVENT_HDR_SIZE: usize = 104;
const _: () = assert!(size_of::<EventHeader>() == EVENT_HDR_SIZE);
const _: () = assert!(offset_of!(EventHeader, kind) == 8);
const _: () = assert!(offset_of!(EventHeader, flags) == 28);
const _: () = assert!(offset_of!(EventHeader, retval) == 32);
const _: () = assert!(offset_of!(EventHeader, words) == 40);
const _: () = assert!(offset_of!(EventHeader, addr) == 48);
const _: () = assert!(offset_of!(EventHeader, comm) == 64);
const _: () = assert!(offset_of!(EventHeader, path_len) == 80);
const _: () = assert!(offset_of!(EventHeader, has_addr) == 84);
const _: () = assert!(offset_of!(EventHeader, cgroup_id) == 88);
const _: () = assert!(offset_of!(EventHeader, ns_tgid) == 96);

impl EventHeader {
    /// The header of a record and its payload (clamped to the record); None when the
    /// record is shorter than a header.
    pub fn parse(record: &[u8]) -> Option<(EventHeader, &[u8])> {
        if record.len() < EVENT_HDR_SIZE {
            return None;
        }
        // SAFETY: EVENT_HDR_SIZE bytes are readable; every field is a plain integer, so
        // any bytes are a valid EventHeader; read_unaligned needs no alignment.
        let h: EventHeader = unsafe { std::ptr::read_unaligned(record.as_ptr().cast()) };
        let len = (h.path_len as usize).min(record.len() - EVENT_HDR_SIZE);
        Some((h, &record[EVENT_HDR_SIZE..EVENT_HDR_SIZE + len]))
    }

    pub fn family(&self) -> u16 {
        self.words[0]
    }
    pub fn sock_type(&self) -> u16 {
        self.words[1]
    }
    pub fn protocol(&self) -> u16 {
        self.words[2]
    }
    /// Host byte order.
    pub fn port(&self) -> u16 {
        self.words[3]
    }
    /// Syscall events: bytes of each string, NUL included; 0 when absent.
    pub fn str_len(&self, i: usize) -> usize {
        usize::from(self.words[i])
    }
    /// Syscall events: SCS_* bits.
    pub fn str_flags(&self) -> u16 {
        self.words[3]
    }
}
