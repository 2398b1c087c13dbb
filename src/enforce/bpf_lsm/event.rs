//! The records lsm.bpf.c writes to its ring buffer, mirrored: `struct event`'s header as
//! a `#[repr(C)]` struct checked against the C layout at compile time, and its `op` and
//! `verdict` codes as enums checked against the C defines by a test that reads
//! lsm.bpf.c. Decoding a record into an alert-shaped event is the parent module's.

use std::mem::{offset_of, size_of};

/// `struct event` up to its path (EVENT_HDR in lsm.bpf.c); `path_len` bytes of path follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct EventHeader {
    /// bpf_ktime_get_boot_ns().
    pub ts_ns: u64,
    pub tgid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// The deciding slot's rule + 1 (a generation-tagged index, see `bpf_lsm::untag`);
    /// 0: the default posture.
    pub rule: u32,
    /// `target.generation` when the program decided: which apply's rules it used.
    pub generation: u32,
    pub target: u32,
    /// Open flags, mmap prot, capability, (family << 16 | type).
    pub arg: u32,
    /// Socket protocol.
    pub arg2: u32,
    pub op: u8,
    pub verdict: u8,
    /// Bytes of path, without NUL; when the decision was made on the protected name, the
    /// path, a NUL and that name.
    pub path_len: u16,
    pub comm: [u8; 16],
    /// Container targets only: the pids of the task and its parent in the task's own pid
    /// namespace (0 for the host, or a parent outside it).
    pub ns_tgid: u32,
    pub ns_ppid: u32,
}

pub(super) const EVENT_HDR: usize = 72;
const _: () = assert!(size_of::<EventHeader>() == EVENT_HDR);
const _: () = assert!(offset_of!(EventHeader, rule) == 24);
const _: () = assert!(offset_of!(EventHeader, generation) == 28);
const _: () = assert!(offset_of!(EventHeader, arg) == 36);
const _: () = assert!(offset_of!(EventHeader, op) == 44);
const _: () = assert!(offset_of!(EventHeader, path_len) == 46);
const _: () = assert!(offset_of!(EventHeader, comm) == 48);
const _: () = assert!(offset_of!(EventHeader, ns_tgid) == 64);

impl EventHeader {
    /// The header of a record and the path after it (clamped to the record: the path, and
    /// after a NUL the protected name when there is one); None when the record is shorter
    /// than a header.
    pub fn parse(record: &[u8]) -> Option<(EventHeader, &[u8])> {
        if record.len() < EVENT_HDR {
            return None;
        }
        // SAFETY: EVENT_HDR bytes are readable; every field is a plain integer, so any
        // bytes are a valid EventHeader; read_unaligned needs no alignment.
        let h: EventHeader = unsafe { std::ptr::read_unaligned(record.as_ptr().cast()) };
        let path_len = usize::from(h.path_len).min(record.len() - EVENT_HDR);
        Some((h, &record[EVENT_HDR..EVENT_HDR + path_len]))
    }

    /// The task's comm, up to its NUL.
    pub fn comm(&self) -> String {
        let end = self
            .comm
            .iter()
            .position(|&c| c == 0)
            .unwrap_or(self.comm.len());
        String::from_utf8_lossy(&self.comm[..end]).into_owned()
    }

    /// The header's bytes, as the kernel writes them (tests build records with it).
    #[cfg(test)]
    pub fn to_bytes(self) -> Vec<u8> {
        // SAFETY: EventHeader is repr(C) without padding (the size assert above), so all
        // of its bytes are initialised.
        unsafe { std::slice::from_raw_parts((&raw const self).cast::<u8>(), EVENT_HDR).to_vec() }
    }
}

/// The operation an event is about (`OP_*` in lsm.bpf.c).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LsmOp {
    Exec = 1,
    Open = 2,
    Mmap = 3,
    Create = 4,
    Mkdir = 5,
    Unlink = 6,
    Rmdir = 7,
    Rename = 8,
    Link = 9,
    Symlink = 10,
    Chmod = 11,
    Chown = 12,
    Truncate = 13,
    Socket = 14,
    Connect = 15,
    Accept = 16,
    Capable = 17,
    Mount = 18,
}

impl LsmOp {
    pub const ALL: [LsmOp; 18] = [
        LsmOp::Exec,
        LsmOp::Open,
        LsmOp::Mmap,
        LsmOp::Create,
        LsmOp::Mkdir,
        LsmOp::Unlink,
        LsmOp::Rmdir,
        LsmOp::Rename,
        LsmOp::Link,
        LsmOp::Symlink,
        LsmOp::Chmod,
        LsmOp::Chown,
        LsmOp::Truncate,
        LsmOp::Socket,
        LsmOp::Connect,
        LsmOp::Accept,
        LsmOp::Capable,
        LsmOp::Mount,
    ];

    pub fn from_raw(op: u8) -> Option<LsmOp> {
        LsmOp::ALL.into_iter().find(|&o| o as u8 == op)
    }
}

/// What the program decided (`V_*` in lsm.bpf.c).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LsmVerdict {
    /// Denied by a rule, or by the default posture (rule 0).
    Deny = 1,
    /// Allowed; an Audit rule matched.
    Audit = 2,
    /// Allowed; allow-list mode and no rule allowed it.
    PostureAudit = 3,
    /// Allowed by design (a mount on or inside a protected directory): a Block rule's
    /// object was touched, alerted as `Audit (Block)`.
    AuditBlock = 4,
}

impl LsmVerdict {
    pub const ALL: [LsmVerdict; 4] = [
        LsmVerdict::Deny,
        LsmVerdict::Audit,
        LsmVerdict::PostureAudit,
        LsmVerdict::AuditBlock,
    ];

    pub fn from_raw(v: u8) -> Option<LsmVerdict> {
        LsmVerdict::ALL.into_iter().find(|&x| x as u8 == v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::c_defines;

    const SOURCE: &str = include_str!("lsm.bpf.c");

    /// `EXEC` for `Exec`, `POSTURE_AUDIT` for `PostureAudit`.
    fn c_name(debug: &str) -> String {
        let mut out = String::new();
        for (i, c) in debug.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    }

    #[test]
    fn op_codes_agree_with_the_c() {
        let defined = c_defines(SOURCE, "OP_");
        assert_eq!(defined.len(), LsmOp::ALL.len(), "{defined:?}");
        for (name, value) in defined {
            let op = LsmOp::from_raw(value as u8).unwrap_or_else(|| panic!("OP_{name} = {value}"));
            assert_eq!(c_name(&format!("{op:?}")), name);
        }
    }

    #[test]
    fn verdicts_agree_with_the_c() {
        let defined = c_defines(SOURCE, "V_");
        assert_eq!(defined.len(), LsmVerdict::ALL.len(), "{defined:?}");
        for (name, value) in defined {
            let v = LsmVerdict::from_raw(value as u8).unwrap_or_else(|| panic!("V_{name}"));
            assert_eq!(c_name(&format!("{v:?}")), name);
        }
    }

    #[test]
    fn header_size_is_the_c_one() {
        assert!(SOURCE.contains("_Static_assert(EVENT_HDR == 72,"));
        let (h, path) = EventHeader::parse(&[0u8; 78]).unwrap();
        assert_eq!((h.op, path.len()), (0, 0));
        assert!(EventHeader::parse(&[0u8; 71]).is_none());
    }
}
