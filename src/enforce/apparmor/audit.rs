//! The kernel's audit records, as text: one record is `audit(SECS.MSECS:SERIAL): key=value
//! ...` with the record type beside it (the netlink message type, or `type=N` in the kernel
//! log). Pure parsing: [`super::alerts`] reads the records and maps them to rules.
//!
//! AppArmor's decisions are AVC records (type 1400): `apparmor="DENIED" operation="open"
//! class="file" profile="knoxctl-host" name="/etc/shadow" pid=42 comm="cat"
//! requested_mask="r" denied_mask="r" fsuid=0 ouid=0`, `operation="capable" capname=..`,
//! `operation="create" family="inet" sock_type="raw" ...`. The kernel writes a string it
//! does not trust (a path, a comm, a profile name) in double quotes, or, when it holds a
//! space, a quote, a control or a non-ASCII byte, as bare hexadecimal (`name=2F746D70...`):
//! a bare value of a string field is decoded. Nothing here panics on garbage: a record
//! that does not parse is `None`, a field that does not is absent.
//!
//! One event can be several records (the AVC, then `SYSCALL` (1300) and `PROCTITLE` (1327)
//! when the task has an audit context, then `EOE` (1320)), each its own netlink message,
//! sharing the serial. [`Event`] gathers what the later ones add.

use std::collections::BTreeMap;

pub const AUDIT_AVC: u16 = 1400;
pub const AUDIT_SYSCALL: u16 = 1300;
pub const AUDIT_PROCTITLE: u16 = 1327;
pub const AUDIT_EOE: u16 = 1320;

/// Fields whose value is a string the kernel may hex-encode.
const STRING_FIELDS: &[&str] = &[
    "name",
    "comm",
    "profile",
    "target",
    "exe",
    "proctitle",
    "peer",
    "info",
    "label",
];

/// One record: its type, time, serial and fields (decoded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub kind: u16,
    /// Nanoseconds since the epoch (the kernel gives milliseconds).
    pub timestamp_ns: u128,
    pub serial: u64,
    pub fields: BTreeMap<String, String>,
}

impl Record {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    fn number(&self, key: &str) -> Option<i64> {
        self.get(key)?.parse().ok()
    }
}

/// Parses `body`, the text after the record type: `audit(1733580000.123:456): k=v ...`.
/// Trailing NULs and newlines (netlink payloads may carry them) are ignored.
pub fn parse(kind: u16, body: &str) -> Option<Record> {
    let body = body.trim_end_matches(['\0', '\n', ' ']);
    let rest = body.trim_start().strip_prefix("audit(")?;
    let (stamp, rest) = rest.split_once("):")?;
    let (time, serial) = stamp.split_once(':')?;
    let (secs, msecs) = time.split_once('.').unwrap_or((time, "0"));
    let secs: u64 = secs.parse().ok()?;
    let msecs: u64 = msecs.parse().ok()?;
    let serial: u64 = serial.parse().ok()?;
    Some(Record {
        kind,
        timestamp_ns: secs as u128 * 1_000_000_000 + msecs.min(999) as u128 * 1_000_000,
        serial,
        fields: fields(rest),
    })
}

/// Parses a kernel log line: `audit: type=1400 audit(...): ...`, with or without the
/// `/dev/kmsg` prefix (`6,1234,5678,-;`).
pub fn parse_kmsg(line: &str) -> Option<Record> {
    let msg = match line.split_once(';') {
        Some((prefix, msg)) if !prefix.contains(' ') => msg,
        _ => line,
    };
    let rest = msg.trim_start().strip_prefix("audit: type=")?;
    let (kind, body) = rest.split_once(' ')?;
    parse(kind.parse().ok()?, body)
}

/// `key=value` pairs: quoted values run to the closing quote (the kernel never puts a
/// quote inside one), bare ones to the next space.
fn fields(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches([' ', '\n']);
        if rest.is_empty() {
            break;
        }
        let Some(eq) = rest.find('=') else { break };
        let key = &rest[..eq];
        if key.contains(' ') {
            // A word without a value (`msg='...'` fragments of user records): skip it.
            rest = &rest[key.find(' ').map_or(rest.len(), |i| i + 1)..];
            continue;
        }
        let after = &rest[eq + 1..];
        let (value, quoted, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], true, &q[end + 1..]),
                None => (q, true, ""),
            }
        } else if let Some(q) = after.strip_prefix('\'') {
            // User-space records wrap their own fields in msg='...': read them too.
            let end = q.find('\'').unwrap_or(q.len());
            out.extend(fields(&q[..end]));
            rest = q.get(end + 1..).unwrap_or("");
            continue;
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (&after[..end], false, &after[end..])
        };
        let value = if !quoted && STRING_FIELDS.contains(&key) {
            unhex(value).unwrap_or_else(|| value.to_string())
        } else {
            value.to_string()
        };
        out.insert(key.to_string(), value);
        rest = next;
    }
    out
}

/// Decodes the kernel's hex encoding of an untrusted string (`audit_log_n_hex`, upper
/// case), or `None` when `s` is not one.
pub fn unhex(s: &str) -> Option<String> {
    if s.is_empty() || !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect();
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// What an AppArmor AVC record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Avc {
    pub timestamp_ns: u128,
    pub serial: u64,
    /// `DENIED`, `AUDIT`, `ALLOWED` (complain mode), `STATUS`.
    pub verdict: String,
    pub operation: String,
    /// `file`, `net`, `cap`, … (absent in older kernels).
    pub class: String,
    pub profile: String,
    /// The object's path (file operations).
    pub name: String,
    pub pid: i32,
    pub comm: String,
    pub requested_mask: String,
    pub denied_mask: String,
    pub fsuid: Option<u32>,
    pub ouid: Option<u32>,
    pub capname: String,
    pub family: String,
    pub sock_type: String,
    pub protocol: Option<i64>,
}

impl Avc {
    /// The AppArmor part of an AVC record; `None` for other records (SELinux, user AVCs).
    pub fn of(r: &Record) -> Option<Avc> {
        if r.kind != AUDIT_AVC {
            return None;
        }
        let s = |k: &str| r.get(k).unwrap_or_default().to_string();
        Some(Avc {
            timestamp_ns: r.timestamp_ns,
            serial: r.serial,
            verdict: r.get("apparmor")?.to_string(),
            operation: s("operation"),
            class: s("class"),
            profile: s("profile"),
            name: s("name"),
            pid: r
                .number("pid")
                .and_then(|p| i32::try_from(p).ok())
                .unwrap_or(0),
            comm: s("comm"),
            requested_mask: s("requested_mask"),
            denied_mask: s("denied_mask"),
            fsuid: r.number("fsuid").and_then(|u| u32::try_from(u).ok()),
            ouid: r.number("ouid").and_then(|u| u32::try_from(u).ok()),
            capname: s("capname"),
            family: s("family"),
            sock_type: s("sock_type"),
            protocol: r.number("protocol"),
        })
    }

    /// The mask that was refused (the requested one when the kernel gave no denied mask).
    pub fn mask(&self) -> &str {
        if self.denied_mask.is_empty() {
            &self.requested_mask
        } else {
            &self.denied_mask
        }
    }

    pub fn is_capability(&self) -> bool {
        self.class == "cap" || self.operation == "capable"
    }

    pub fn is_network(&self) -> bool {
        self.class == "net" || (!self.family.is_empty() && self.name.is_empty())
    }
}

/// The process facts the records after an AVC add (`SYSCALL`, `PROCTITLE`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extra {
    pub ppid: Option<i32>,
    pub uid: Option<u32>,
    pub exe: Option<String>,
    /// The command line, arguments joined by spaces.
    pub cmdline: Option<String>,
}

impl Extra {
    /// Takes what `r` (a record of the same event) tells.
    pub fn add(&mut self, r: &Record) {
        match r.kind {
            AUDIT_SYSCALL => {
                self.ppid = r.number("ppid").and_then(|p| i32::try_from(p).ok());
                self.uid = r.number("uid").and_then(|u| u32::try_from(u).ok());
                self.exe = r.get("exe").map(str::to_string);
            }
            AUDIT_PROCTITLE => {
                // Hex of the NUL-separated argv (always hex when it holds a NUL).
                if let Some(t) = r.get("proctitle") {
                    let args: Vec<&str> = t.split('\0').filter(|a| !a.is_empty()).collect();
                    self.cmdline = Some(args.join(" "));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Record texts as Debian's 6.12 kernel writes them (from the VM's kernel log).
    const OPEN: &str = r#"audit(1765100000.123:456): apparmor="DENIED" operation="open" class="file" profile="knoxctl-host" name="/etc/fim/config" pid=1234 comm="sh" requested_mask="wa" denied_mask="wa" fsuid=0 ouid=0"#;
    const EXEC: &str = r#"audit(1765100001.004:457): apparmor="DENIED" operation="exec" class="file" profile="knoxctl-host" name="/usr/bin/apt-get" pid=99 comm="sh" requested_mask="x" denied_mask="x" fsuid=0 ouid=0"#;

    #[test]
    fn avc_records_parse_with_their_time_and_serial() {
        let r = parse(AUDIT_AVC, OPEN).expect("parses");
        assert_eq!(r.serial, 456);
        assert_eq!(r.timestamp_ns, 1_765_100_000_123_000_000);
        let a = Avc::of(&r).expect("apparmor");
        assert_eq!(a.verdict, "DENIED");
        assert_eq!(a.operation, "open");
        assert_eq!(a.profile, "knoxctl-host");
        assert_eq!(a.name, "/etc/fim/config");
        assert_eq!(a.pid, 1234);
        assert_eq!(a.comm, "sh");
        assert_eq!(a.mask(), "wa");
        assert_eq!((a.fsuid, a.ouid), (Some(0), Some(0)));
        let e = Avc::of(&parse(AUDIT_AVC, EXEC).unwrap()).unwrap();
        assert_eq!((e.operation.as_str(), e.mask()), ("exec", "x"));
    }

    #[test]
    fn hex_encoded_names_and_comms_are_decoded() {
        // "/tmp/a b" and comm "my prog": a space makes the kernel write hex.
        let text = r#"audit(1765100002.000:9): apparmor="DENIED" operation="mknod" class="file" profile="knoxctl-host" name=2F746D702F612062 pid=7 comm=6D792070726F67 requested_mask="c" denied_mask="c" fsuid=1000 ouid=1000"#;
        let a = Avc::of(&parse(AUDIT_AVC, text).unwrap()).unwrap();
        assert_eq!(a.name, "/tmp/a b");
        assert_eq!(a.comm, "my prog");
        assert_eq!(a.fsuid, Some(1000));
        // Numbers are never decoded, even when they look like hex.
        assert_eq!(
            parse(1, "audit(1.0:1): pid=12 x=AB").unwrap().get("x"),
            Some("AB")
        );
        assert_eq!(unhex("2F7"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn capability_and_network_records() {
        let cap = r#"audit(1765100003.500:10): apparmor="DENIED" operation="capable" class="cap" profile="knoxctl-host" pid=5 comm="ping" capability=13  capname="net_raw""#;
        let a = Avc::of(&parse(AUDIT_AVC, cap).unwrap()).unwrap();
        assert!(a.is_capability() && !a.is_network());
        assert_eq!(a.capname, "net_raw");
        let net = r#"audit(1765100003.600:11): apparmor="DENIED" operation="create" class="net" profile="knoxctl-host-src-usr-bin-curl" pid=6 comm="curl" family="inet" sock_type="stream" protocol=6 requested_mask="create" denied_mask="create""#;
        let n = Avc::of(&parse(AUDIT_AVC, net).unwrap()).unwrap();
        assert!(n.is_network() && !n.is_capability());
        assert_eq!(
            (n.family.as_str(), n.sock_type.as_str()),
            ("inet", "stream")
        );
        assert_eq!(n.protocol, Some(6));
        // Older kernels: no class field.
        let old = r#"audit(1.000:12): apparmor="DENIED" operation="create" profile="p" pid=6 comm="nc" family="inet6" sock_type="dgram" protocol=17"#;
        assert!(
            Avc::of(&parse(AUDIT_AVC, old).unwrap())
                .unwrap()
                .is_network()
        );
    }

    #[test]
    fn kernel_log_lines_carry_the_type() {
        let line = format!("5,1021,123456789,-;audit: type=1400 {OPEN}");
        let r = parse_kmsg(&line).expect("kmsg line");
        assert_eq!(r.kind, AUDIT_AVC);
        assert_eq!(r.get("name"), Some("/etc/fim/config"));
        // As dmesg prints it.
        let r = parse_kmsg(&format!("audit: type=1400 {EXEC}")).expect("dmesg line");
        assert_eq!(r.serial, 457);
        assert!(parse_kmsg("5,1,2,-;EXT4-fs (vda): mounted filesystem").is_none());
    }

    #[test]
    fn later_records_of_the_event_add_the_process() {
        // Each is its own netlink message, with the AVC's serial.
        let syscall = r#"audit(1765100000.123:456): arch=c000003e syscall=257 success=no exit=-13 a0=ffffff9c ppid=1200 pid=1234 auid=4294967295 uid=0 gid=0 euid=0 comm="sh" exe="/usr/bin/dash" subj=knoxctl-host key=(null)"#;
        let title = "audit(1765100000.123:456): proctitle=7368002D63006563686F2078203E3E202F6574632F66696D2F636F6E666967";
        let mut x = Extra::default();
        x.add(&parse(AUDIT_SYSCALL, syscall).unwrap());
        x.add(&parse(AUDIT_PROCTITLE, title).unwrap());
        assert_eq!(x.ppid, Some(1200));
        assert_eq!(x.uid, Some(0));
        assert_eq!(x.exe.as_deref(), Some("/usr/bin/dash"));
        assert_eq!(
            x.cmdline.as_deref(),
            Some("sh -c echo x >> /etc/fim/config")
        );
        // A proctitle without NULs is quoted, and kept as it is.
        let mut y = Extra::default();
        y.add(&parse(AUDIT_PROCTITLE, r#"audit(1.0:1): proctitle="sleep""#).unwrap());
        assert_eq!(y.cmdline.as_deref(), Some("sleep"));
    }

    #[test]
    fn user_records_fields_inside_msg_are_read() {
        let r = parse(1107, r#"audit(1.0:2): pid=1 uid=0 msg='apparmor="DENIED" operation="dbus_method_call" bus="system"'"#).unwrap();
        assert_eq!(r.get("apparmor"), Some("DENIED"));
        assert_eq!(r.get("bus"), Some("system"));
        // Not an AVC record: no AppArmor decision of ours.
        assert!(Avc::of(&r).is_none());
    }

    #[test]
    fn garbage_never_panics() {
        let samples = [
            "",
            "audit(",
            "audit()",
            "audit(1.2:3)",
            "audit(1.2:3):",
            "audit(x.y:z): a=b",
            "audit(99999999999999999999.1:1): a=b",
            "audit(1.2:3): =",
            "audit(1.2:3): a=\"unterminated",
            "audit(1.2:3): a='unterminated",
            "audit(1.2:3): name=ÄÖ comm=é",
            "audit(1.2:3): \u{0}\u{0}=\u{0}",
            "audit(1.2:3): a b c = d ==== ''' \"\"",
            "audit(1.2:3): apparmor=DENIED pid=-5 fsuid=-1 ouid=99999999999 protocol=x",
        ];
        for s in samples {
            for kind in [AUDIT_AVC, AUDIT_SYSCALL, AUDIT_PROCTITLE, 0] {
                if let Some(r) = parse(kind, s) {
                    let _ = Avc::of(&r);
                    Extra::default().add(&r);
                }
                let _ = parse_kmsg(s);
            }
        }
        // Every prefix of real records, cut at any byte (a char boundary), too.
        for text in [OPEN, EXEC] {
            for i in 0..text.len() {
                if text.is_char_boundary(i) {
                    let _ = parse(AUDIT_AVC, &text[..i]).map(|r| Avc::of(&r));
                }
            }
        }
        // Pseudo-random bytes.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let mut b = b"audit(1.2:3): ".to_vec();
            for _ in 0..64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.push(b"=\"' aF0/\x00\xff:()"[(x % 13) as usize]);
            }
            let s = String::from_utf8_lossy(&b);
            let _ = parse(AUDIT_AVC, &s).map(|r| Avc::of(&r));
        }
    }
}
