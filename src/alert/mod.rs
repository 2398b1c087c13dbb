//! Alerts in KubeArmor's format (the `feeder.Alert` message as JSON): what users filter,
//! store, stream and forward. Field names and value formats are KubeArmor's exactly, so
//! logs exported from KubeArmor (`karmor logs --json`) and ours are interchangeable.

pub mod filter;
pub mod packed;
pub mod scan;
pub mod store;
pub mod summary;
pub mod throttle;

use serde::{Deserialize, Serialize};

/// One alert or log record. Empty strings and zero numbers are omitted from JSON, as
/// KubeArmor's protobuf-JSON output omits default values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Alert {
    /// Seconds since the epoch.
    #[serde(rename = "Timestamp", skip_serializing_if = "is_zero")]
    pub timestamp: i64,
    /// RFC 3339 with nanoseconds, UTC (`2024-05-28T17:33:52.123456789Z`).
    #[serde(rename = "UpdatedTime", skip_serializing_if = "String::is_empty")]
    pub updated_time: String,
    #[serde(rename = "ClusterName", skip_serializing_if = "String::is_empty")]
    pub cluster_name: String,
    #[serde(rename = "HostName", skip_serializing_if = "String::is_empty")]
    pub host_name: String,
    #[serde(rename = "NamespaceName", skip_serializing_if = "String::is_empty")]
    pub namespace_name: String,
    #[serde(rename = "PodName", skip_serializing_if = "String::is_empty")]
    pub pod_name: String,
    #[serde(rename = "Labels", skip_serializing_if = "String::is_empty")]
    pub labels: String,
    #[serde(rename = "ContainerID", skip_serializing_if = "String::is_empty")]
    pub container_id: String,
    #[serde(rename = "ContainerName", skip_serializing_if = "String::is_empty")]
    pub container_name: String,
    #[serde(rename = "ContainerImage", skip_serializing_if = "String::is_empty")]
    pub container_image: String,
    #[serde(rename = "HostPPID", skip_serializing_if = "is_zero_i32")]
    pub host_ppid: i32,
    #[serde(rename = "HostPID", skip_serializing_if = "is_zero_i32")]
    pub host_pid: i32,
    #[serde(rename = "PPID", skip_serializing_if = "is_zero_i32")]
    pub ppid: i32,
    #[serde(rename = "PID", skip_serializing_if = "is_zero_i32")]
    pub pid: i32,
    /// Always serialized: uid 0 (root) is the interesting case.
    #[serde(rename = "UID")]
    pub uid: i32,
    #[serde(rename = "ParentProcessName", skip_serializing_if = "String::is_empty")]
    pub parent_process_name: String,
    #[serde(rename = "ProcessName", skip_serializing_if = "String::is_empty")]
    pub process_name: String,
    #[serde(rename = "PolicyName", skip_serializing_if = "String::is_empty")]
    pub policy_name: String,
    /// A number as a string ("10"), as KubeArmor sends it.
    #[serde(rename = "Severity", skip_serializing_if = "String::is_empty")]
    pub severity: String,
    /// Comma-joined.
    #[serde(rename = "Tags", skip_serializing_if = "String::is_empty")]
    pub tags: String,
    #[serde(rename = "ATags", skip_serializing_if = "Vec::is_empty")]
    pub atags: Vec<String>,
    #[serde(rename = "Message", skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// MatchedHostPolicy, MatchedPolicy, SystemEvent, HostLog, ContainerLog.
    #[serde(rename = "Type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The command line of the acting process (or, for process operations on the host,
    /// the parent's executable, as KubeArmor reports it).
    #[serde(rename = "Source", skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Process, File, Network, Capabilities, Syscall, Device, AlertThreshold.
    #[serde(rename = "Operation", skip_serializing_if = "String::is_empty")]
    pub operation: String,
    #[serde(rename = "Resource", skip_serializing_if = "String::is_empty")]
    pub resource: String,
    /// `syscall=SYS_EXECVE`, `syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT`, ...
    #[serde(rename = "Data", skip_serializing_if = "String::is_empty")]
    pub data: String,
    /// BPFLSM, AppArmor, fanotify, eBPF Monitor.
    #[serde(rename = "Enforcer", skip_serializing_if = "String::is_empty")]
    pub enforcer: String,
    /// Allow, Audit, Block, Audit (Block), Audit (Allow).
    #[serde(rename = "Action", skip_serializing_if = "String::is_empty")]
    pub action: String,
    /// What the process really got: Passed, Permission denied, Operation not permitted.
    #[serde(rename = "Result", skip_serializing_if = "String::is_empty")]
    pub result: String,
    #[serde(rename = "Cwd", skip_serializing_if = "String::is_empty")]
    pub cwd: String,
    /// `pts2`; empty without a controlling terminal.
    #[serde(rename = "TTY", skip_serializing_if = "String::is_empty")]
    pub tty: String,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_i32(v: &i32) -> bool {
    *v == 0
}

/// The `Result` text for a syscall return value, as KubeArmor words it.
pub fn result_text(retval: i64) -> String {
    match retval {
        r if r >= 0 => "Passed".to_string(),
        -1 => "Operation not permitted".to_string(),
        -2 => "No such file or directory".to_string(),
        -13 => "Permission denied".to_string(),
        r => {
            let msg = std::io::Error::from_raw_os_error((-r) as i32).to_string();
            // "Permission denied (os error 13)" → "Permission denied"
            match msg.rfind(" (os error") {
                Some(i) => msg[..i].to_string(),
                None => format!("Unknown ({r})"),
            }
        }
    }
}

/// `2024-05-28T17:33:52.123456789Z` for a time since the epoch (UTC, proleptic Gregorian),
/// KubeArmor's UpdatedTime format.
pub fn format_rfc3339(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    // Digits written directly: this runs for every alert, and `format!` was most of it.
    let mut out = String::with_capacity(30);
    if (0..=9999).contains(&y) {
        push_digits(&mut out, y as u64, 4);
    } else {
        out.push_str(&format!("{y:04}"));
    }
    for (sep, n, width) in [
        ('-', m as u64, 2),
        ('-', d as u64, 2),
        ('T', (rem / 3600) as u64, 2),
        (':', (rem % 3600 / 60) as u64, 2),
        (':', (rem % 60) as u64, 2),
        ('.', u64::from(nanos), 9),
    ] {
        out.push(sep);
        push_digits(&mut out, n, width);
    }
    out.push('Z');
    out
}

/// `n` with at least `width` (≤ 20) digits, zero-padded.
fn push_digits(out: &mut String, mut n: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut at = buf.len();
    while n > 0 || buf.len() - at < width {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.push_str(std::str::from_utf8(&buf[at..]).unwrap_or_default());
}

/// Epoch seconds of an RFC 3339 time (`2026-12-06T08:54:00Z`, `...08:54:00.5+01:00`, a
/// space for the `T`), or of a date alone (`2026-12-06`, midnight UTC). Fractions of a
/// second are dropped. None when it is not one.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let s = s.trim();
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    if date.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&day) {
        return None;
    }
    // Days-from-civil (Howard Hinnant's algorithm), the inverse of format_rfc3339's.
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let Some(rest) = rest else {
        return Some(days * 86_400);
    };
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return None,
    };
    let clock = clock.split('.').next()?;
    let mut c = clock.splitn(3, ':');
    let (h, mi, sec) = (num(c.next()?)?, num(c.next()?)?, num(c.next()?)?);
    if clock.len() != 8 || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let offset_secs = match offset {
        "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (num(oh)? * 3600 + num(om)? * 60)
        }
    };
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs)
}

/// Fields KubeArmor's protobuf-JSON may carry as strings (int64 in proto3 JSON) that the
/// alert holds as numbers.
const NUMERIC_FIELDS: [&str; 6] = ["Timestamp", "HostPPID", "HostPID", "PPID", "PID", "UID"];

/// Parses one KubeArmor alert. Exact first (the common case, and fast); failing that, the
/// spellings other KubeArmor exporters use: numbers as strings, Severity as a number, nulls.
pub fn parse_alert(line: &[u8]) -> Result<Alert, serde_json::Error> {
    let first = match serde_json::from_slice::<Alert>(line) {
        Ok(a) => return Ok(a),
        Err(e) => e,
    };
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_slice(line) else {
        return Err(first);
    };
    map.retain(|_, v| !v.is_null());
    for (k, v) in map.iter_mut() {
        if NUMERIC_FIELDS.contains(&k.as_str()) {
            if let Some(n) = v.as_str().and_then(|s| s.trim().parse::<i64>().ok()) {
                *v = n.into();
            }
        } else if k == "Severity" && v.is_number() {
            *v = v.to_string().into();
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|_| first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_parsing_of_other_exporters() {
        let a = parse_alert(
            br#"{"Timestamp":"1716918832","PID":"7","Severity":5,"Tags":null,"Action":"Block"}"#,
        )
        .unwrap();
        assert_eq!(a.timestamp, 1716918832);
        assert_eq!(a.pid, 7);
        assert_eq!(a.severity, "5");
        assert_eq!(a.action, "Block");
        assert!(parse_alert(b"[1,2]").is_err());
        assert!(parse_alert(br#"{"PID":"x"}"#).is_err());
    }

    #[test]
    fn parses_rfc3339_back() {
        for secs in [0, 1_717_000_432, 1_796_547_240, 951_782_400] {
            let text = format_rfc3339(secs, 123);
            assert_eq!(parse_rfc3339(&text), Some(secs), "{text}");
        }
        assert_eq!(parse_rfc3339("2026-12-06T08:54:00Z"), Some(1_796_547_240));
        assert_eq!(
            parse_rfc3339("2026-12-06 09:54:00+01:00"),
            Some(1_796_547_240)
        );
        assert_eq!(parse_rfc3339("2026-12-06"), Some(1_796_515_200));
        for bad in [
            "",
            "2026-13-01",
            "2026-12-06T08:54Z",
            "2026-12-06T08:54:00",
            "90",
            "1h",
            "2026-1-6",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn rfc3339() {
        assert_eq!(format_rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_rfc3339(1_716_918_832, 5),
            "2024-05-28T17:53:52.000000005Z"
        );
        assert_eq!(
            format_rfc3339(1_796_547_240, 999_999_999),
            "2026-12-06T08:54:00.999999999Z"
        );
        assert_eq!(
            format_rfc3339(-62_167_219_201, 0),
            "-001-12-31T23:59:59.000000000Z"
        );
    }

    #[test]
    fn results() {
        assert_eq!(result_text(0), "Passed");
        assert_eq!(result_text(-13), "Permission denied");
        assert_eq!(result_text(-1), "Operation not permitted");
    }
}
