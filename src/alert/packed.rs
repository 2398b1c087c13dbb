//! An alert packed into one contiguous buffer: how alerts travel from the threads that
//! make them to the store's writer.
//!
//! Why. An [`Alert`] is about twenty separate heap strings. Sent as it is, the writer's
//! thread touched each of them for the first time (to compare and intern them) and freed
//! them; under a flood the queue holds thousands of alerts, so every one of those strings
//! was a cache miss, and every free handed a chunk of the producer's heap to the writer's
//! malloc cache, leaving the producer's own allocations on malloc's slow path. Measured
//! with `perf` on `cargo bench --bench ingest`: those comparisons and frees were half the
//! writer's time and malloc a third of the pipeline's. Packed, the producer frees its own
//! strings while they are hot, and the writer reads one buffer front to back.
//!
//! Layout (integers little-endian): Timestamp (i64), HostPPID, HostPID, PPID, PID, UID
//! (i32 each); then the interned fields in [`INTERNED_FIELDS`] order, the inline ones
//! (UpdatedTime, Source, Resource), and ATags as a count: each string as a u32 length
//! and its UTF-8 bytes.

use super::Alert;

/// The fields the store keeps in its dictionary, in packing order.
pub const INTERNED_FIELDS: usize = 22;

const FIXED: usize = 8 + 5 * 4;

/// One packed alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packed(Box<[u8]>);

/// The strings of an alert that the store interns, in packing order.
fn interned(a: &Alert) -> [&str; INTERNED_FIELDS] {
    [
        &a.cluster_name,
        &a.host_name,
        &a.namespace_name,
        &a.pod_name,
        &a.labels,
        &a.container_id,
        &a.container_name,
        &a.container_image,
        &a.parent_process_name,
        &a.process_name,
        &a.policy_name,
        &a.severity,
        &a.tags,
        &a.message,
        &a.kind,
        &a.operation,
        &a.data,
        &a.enforcer,
        &a.action,
        &a.result,
        &a.cwd,
        &a.tty,
    ]
}

fn put(buf: &mut Vec<u8>, s: &str) {
    buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
    buf.extend_from_slice(s.as_bytes());
}

impl Packed {
    pub fn new(a: &Alert) -> Packed {
        let strs = interned(a);
        let inline = [&a.updated_time, &a.source, &a.resource];
        // Sized exactly: one allocation per alert.
        let len = FIXED
            + strs.iter().map(|s| 4 + s.len()).sum::<usize>()
            + inline.iter().map(|s| 4 + s.len()).sum::<usize>()
            + 4
            + a.atags.iter().map(|s| 4 + s.len()).sum::<usize>();
        let mut buf = Vec::with_capacity(len);
        buf.extend_from_slice(&a.timestamp.to_le_bytes());
        for n in [a.host_ppid, a.host_pid, a.ppid, a.pid, a.uid] {
            buf.extend_from_slice(&n.to_le_bytes());
        }
        for s in strs {
            put(&mut buf, s);
        }
        for s in inline {
            put(&mut buf, s);
        }
        buf.extend_from_slice(&(a.atags.len() as u32).to_le_bytes());
        for s in &a.atags {
            put(&mut buf, s);
        }
        debug_assert_eq!(buf.len(), len);
        Packed(buf.into_boxed_slice())
    }

    /// The fields, borrowed from the buffer.
    pub fn view(&self) -> View<'_> {
        let b = &self.0[..];
        let i32_at = |at: usize| i32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        let mut at = FIXED;
        let mut next = || {
            let n = u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize;
            let s = &b[at + 4..at + 4 + n];
            at += 4 + n;
            s
        };
        let interned: [&[u8]; INTERNED_FIELDS] = std::array::from_fn(|_| next());
        let updated_time = next();
        let source = next();
        let resource = next();
        View {
            timestamp: i64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
            host_ppid: i32_at(8),
            host_pid: i32_at(12),
            ppid: i32_at(16),
            pid: i32_at(20),
            uid: i32_at(24),
            interned,
            updated_time,
            source,
            resource,
            atags: &b[at..],
        }
    }

    /// The alert again, exactly as packed.
    pub fn unpack(&self) -> Alert {
        let v = self.view();
        // Packed from `&str`s, so always UTF-8; lossy only to avoid a panic path.
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let [
            cluster_name,
            host_name,
            namespace_name,
            pod_name,
            labels,
            container_id,
            container_name,
            container_image,
            parent_process_name,
            process_name,
            policy_name,
            severity,
            tags,
            message,
            kind,
            operation,
            data,
            enforcer,
            action,
            result,
            cwd,
            tty,
        ] = v.interned.map(s);
        Alert {
            timestamp: v.timestamp,
            updated_time: s(v.updated_time),
            cluster_name,
            host_name,
            namespace_name,
            pod_name,
            labels,
            container_id,
            container_name,
            container_image,
            host_ppid: v.host_ppid,
            host_pid: v.host_pid,
            ppid: v.ppid,
            pid: v.pid,
            uid: v.uid,
            parent_process_name,
            process_name,
            policy_name,
            severity,
            tags,
            atags: v.atags().map(s).collect(),
            message,
            kind,
            source: s(v.source),
            operation,
            resource: s(v.resource),
            data,
            enforcer,
            action,
            result,
            cwd,
            tty,
        }
    }
}

impl From<&Alert> for Packed {
    fn from(a: &Alert) -> Packed {
        Packed::new(a)
    }
}

/// A packed alert's fields as byte strings (UTF-8).
#[derive(Clone, Copy, Debug)]
pub struct View<'a> {
    pub timestamp: i64,
    pub host_ppid: i32,
    pub host_pid: i32,
    pub ppid: i32,
    pub pid: i32,
    pub uid: i32,
    /// In the order of [`Packed`]'s layout (ClusterName ... TTY).
    pub interned: [&'a [u8]; INTERNED_FIELDS],
    pub updated_time: &'a [u8],
    pub source: &'a [u8],
    pub resource: &'a [u8],
    /// ATags still packed (count, then the strings): compared whole, decoded on demand.
    pub atags: &'a [u8],
}

impl<'a> View<'a> {
    /// Severity, the 12th interned field.
    pub fn severity(&self) -> &'a [u8] {
        self.interned[11]
    }

    pub fn atags(&self) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        let b = self.atags;
        let count = u32::from_le_bytes(b[..4].try_into().expect("4 bytes"));
        let mut at = 4;
        (0..count).map(move |_| {
            let n = u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes")) as usize;
            let s = &b[at + 4..at + 4 + n];
            at += 4 + n;
            s
        })
    }

    pub fn has_atags(&self) -> bool {
        self.atags[..4] != [0, 0, 0, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_field() {
        let mut a = Alert {
            timestamp: -5,
            updated_time: "2024-05-28T17:53:52.000000005Z".into(),
            host_ppid: -1,
            host_pid: i32::MAX,
            ppid: 3,
            pid: 4,
            uid: 1000,
            atags: vec!["MITRE".into(), String::new(), "ünïcode".into()],
            ..Alert::default()
        };
        // A distinct value in every string field: a swapped pair would show.
        a.cluster_name = "cluster".into();
        a.host_name = "host".into();
        a.namespace_name = "ns".into();
        a.pod_name = "pod".into();
        a.labels = "a=b".into();
        a.container_id = "cid".into();
        a.container_name = "cname".into();
        a.container_image = "img".into();
        a.parent_process_name = "/bin/sh".into();
        a.process_name = "/bin/ls".into();
        a.policy_name = "pol".into();
        a.severity = "5".into();
        a.tags = "t1,t2".into();
        a.message = "msg".into();
        a.kind = "MatchedHostPolicy".into();
        a.source = "/bin/sh -c ls".into();
        a.operation = "Process".into();
        a.resource = "/bin/ls".into();
        a.data = "syscall=SYS_EXECVE".into();
        a.enforcer = "eBPF Monitor".into();
        a.action = "Audit".into();
        a.result = "Passed".into();
        a.cwd = "/root/".into();
        a.tty = "pts0".into();
        let p = Packed::new(&a);
        assert_eq!(p.unpack(), a);
        let v = p.view();
        assert_eq!(v.severity(), b"5");
        assert!(v.has_atags());
        assert_eq!(Packed::new(&Alert::default()).unpack(), Alert::default());
        assert!(!Packed::new(&Alert::default()).view().has_atags());
    }
}
