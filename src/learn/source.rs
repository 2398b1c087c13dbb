//! Where recorded behaviour comes from: one seam for both commands. A KubeArmor JSON Lines
//! export (`karmor logs --json`, logs and alerts alike, or `knoxctl alerts -o json`) or the
//! agent's store. Records arrive in the source's order (the store's is chronological, an
//! export's is the file's); everything built on them is order-independent (first and last
//! times are minimum and maximum), so both give the same answers.

use super::LearnError;
use crate::alert::Alert;
use crate::alert::scan::{LineQuery, Verdict};
use crate::alert::store::{Query, Store, StoreError, StoreKind};
use serde::{Deserialize, Deserializer};
use std::borrow::Cow;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// Longest line read from an export; KubeArmor records are about a kilobyte.
const MAX_LINE: usize = 1 << 20;

#[derive(Clone, Debug)]
pub enum EventSource {
    /// A JSON Lines file, or `-` for standard input.
    File(PathBuf),
    /// The agent's state directory.
    Store(PathBuf),
}

/// What reading a source saw.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Records handed on (inside the window).
    pub records: u64,
    /// Lines that were not KubeArmor records (skipped).
    pub bad_lines: u64,
}

/// The recorded behaviour of an agent's state directory: its telemetry (`logs.db`: the
/// operations no rule decided, as HostLog/ContainerLog) and its alerts (`alerts.db`: the
/// operations rules decided or audited). The two are disjoint by construction (the agent
/// logs an event only when no alert was raised for it), so together they are everything
/// the monitor saw of the visible families. Without a telemetry store there is nothing
/// to learn from: that is an error that says how to turn it on.
pub fn open_telemetry(state_dir: &Path) -> Result<(Store, Option<Store>), LearnError> {
    let logs = match Store::open_readonly_kind(state_dir, StoreKind::Logs) {
        Ok(s) => s,
        Err(StoreError::Missing { path }) => return Err(LearnError::NoTelemetry { path }),
        Err(e) => return Err(e.into()),
    };
    let alerts = match Store::open_readonly(state_dir) {
        Ok(s) => Some(s),
        Err(StoreError::Missing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok((logs, alerts))
}

impl EventSource {
    pub fn describe(&self) -> String {
        match self {
            EventSource::File(p) if p.as_os_str() == "-" => "<stdin>".to_string(),
            EventSource::File(p) => p.display().to_string(),
            EventSource::Store(dir) => format!("the telemetry store in {}", dir.display()),
        }
    }

    /// Calls `f` with every record whose Timestamp is at or after `since` (all when None).
    pub fn for_each(
        &self,
        since: Option<i64>,
        mut f: impl FnMut(&Alert),
    ) -> Result<SourceStats, LearnError> {
        match self {
            EventSource::Store(dir) => {
                let (logs, alerts) = open_telemetry(dir)?;
                let mut stats = SourceStats::default();
                let q = Query {
                    since,
                    ..Query::default()
                };
                for store in std::iter::once(&logs).chain(alerts.as_ref()) {
                    store.query_each(&q, |_, a| {
                        stats.records += 1;
                        f(a);
                        Ok::<_, StoreError>(())
                    })?;
                }
                Ok(stats)
            }
            EventSource::File(path) => {
                let name = self.describe();
                let input: Box<dyn Read> = if path.as_os_str() == "-" {
                    Box::new(std::io::stdin())
                } else {
                    Box::new(
                        std::fs::File::open(path).map_err(|source| LearnError::Read {
                            path: name.clone(),
                            source,
                        })?,
                    )
                };
                let reader = std::io::BufReader::with_capacity(1 << 16, input);
                read_lines(reader, since, &mut f)
                    .map_err(|source| LearnError::Read { path: name, source })
            }
        }
    }
}

/// The fields of a record that judging and learning read, borrowed from the line where
/// it has no escapes: decoding only these (the others are stepped over) is what makes a
/// million-line export quick. Anything unusual (nulls, numbers as strings in other
/// fields) falls back to [`crate::alert::parse_alert`].
#[derive(Deserialize)]
struct Lite<'a> {
    #[serde(rename = "Timestamp", default, deserialize_with = "number")]
    timestamp: i64,
    #[serde(rename = "UID", default, deserialize_with = "number")]
    uid: i64,
    #[serde(rename = "PID", default, deserialize_with = "number")]
    pid: i64,
    #[serde(rename = "HostPID", default, deserialize_with = "number")]
    host_pid: i64,
    #[serde(rename = "HostPPID", default, deserialize_with = "number")]
    host_ppid: i64,
    #[serde(rename = "UpdatedTime", borrow, default)]
    updated_time: Cow<'a, str>,
    #[serde(rename = "HostName", borrow, default)]
    host_name: Cow<'a, str>,
    #[serde(rename = "ContainerName", borrow, default)]
    container_name: Cow<'a, str>,
    #[serde(rename = "ContainerID", borrow, default)]
    container_id: Cow<'a, str>,
    #[serde(rename = "ContainerImage", borrow, default)]
    container_image: Cow<'a, str>,
    #[serde(rename = "Labels", borrow, default)]
    labels: Cow<'a, str>,
    #[serde(rename = "Type", borrow, default)]
    kind: Cow<'a, str>,
    #[serde(rename = "Operation", borrow, default)]
    operation: Cow<'a, str>,
    #[serde(rename = "ProcessName", borrow, default)]
    process_name: Cow<'a, str>,
    #[serde(rename = "ParentProcessName", borrow, default)]
    parent_process_name: Cow<'a, str>,
    #[serde(rename = "Source", borrow, default)]
    source: Cow<'a, str>,
    #[serde(rename = "Resource", borrow, default)]
    resource: Cow<'a, str>,
    #[serde(rename = "Data", borrow, default)]
    data: Cow<'a, str>,
    #[serde(rename = "Result", borrow, default)]
    result: Cow<'a, str>,
}

/// A number, or a number in a string (proto3 JSON writes int64 so).
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N<'a> {
        I(i64),
        S(&'a str),
    }
    match N::deserialize(d)? {
        N::I(n) => Ok(n),
        N::S(s) => s.trim().parse().map_err(serde::de::Error::custom),
    }
}

impl Lite<'_> {
    fn into_alert(self) -> Alert {
        Alert {
            timestamp: self.timestamp,
            uid: self.uid as i32,
            pid: self.pid as i32,
            host_pid: self.host_pid as i32,
            host_ppid: self.host_ppid as i32,
            updated_time: self.updated_time.into_owned(),
            host_name: self.host_name.into_owned(),
            container_name: self.container_name.into_owned(),
            container_id: self.container_id.into_owned(),
            container_image: self.container_image.into_owned(),
            labels: self.labels.into_owned(),
            kind: self.kind.into_owned(),
            operation: self.operation.into_owned(),
            process_name: self.process_name.into_owned(),
            parent_process_name: self.parent_process_name.into_owned(),
            source: self.source.into_owned(),
            resource: self.resource.into_owned(),
            data: self.data.into_owned(),
            result: self.result.into_owned(),
            ..Alert::default()
        }
    }
}

/// JSON Lines: one record per line; blank lines are skipped, other lines that are not
/// KubeArmor records are counted.
fn read_lines(
    mut r: impl BufRead,
    since: Option<i64>,
    f: &mut impl FnMut(&Alert),
) -> std::io::Result<SourceStats> {
    let q = LineQuery::new(Vec::new(), since, None);
    let mut stats = SourceStats::default();
    let mut buf = Vec::with_capacity(4096);
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)?;
        if n == 0 {
            return Ok(stats);
        }
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE {
            // Too long: skip the rest of it.
            stats.bad_lines += 1;
            let mut rest = Vec::new();
            r.read_until(b'\n', &mut rest)?;
            continue;
        }
        let line = buf.trim_ascii();
        let line = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        // Objects only: serde would read a struct from an array too.
        if line[0] == b'{'
            && let Ok(lite) = serde_json::from_slice::<Lite>(line)
        {
            if since.is_none_or(|s| lite.timestamp >= s) {
                stats.records += 1;
                f(&lite.into_alert());
            }
            continue;
        }
        match q.judge(line) {
            Verdict::Skip => {}
            Verdict::Match(a) => {
                stats.records += 1;
                f(&a);
            }
            Verdict::Bad(_) => stats.bad_lines += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_json_lines_within_the_window() {
        let text = b"{\"Timestamp\":100,\"Operation\":\"File\"}\n\nnot json\n[1,2]\n{\"Timestamp\":\"200\",\"Operation\":\"Process\",\"Tags\":null,\"Resource\":\"\\/etc\"}\n";
        let mut seen = Vec::new();
        let stats = read_lines(&text[..], Some(150), &mut |a: &Alert| {
            assert_eq!(a.resource, "/etc");
            seen.push(a.timestamp)
        })
        .unwrap();
        assert_eq!(seen, [200]);
        assert_eq!(
            stats,
            SourceStats {
                records: 1,
                bad_lines: 2
            }
        );
        seen.clear();
        read_lines(&text[..], None, &mut |a: &Alert| seen.push(a.timestamp)).unwrap();
        assert_eq!(seen, [100, 200]);
    }
}
