//! `knoxctl alerts`: filter recorded alerts from the store (read directly, so it works while
//! the agent is stopped) or KubeArmor JSON Lines from `--from`, and print them as a table or
//! JSON Lines; `knoxctl alerts tail` follows the store as the agent writes.
//!
//! `--from` reads one alert per line. A bad line (not JSON, not an object, too long) is
//! reported with its line number and skipped; the other lines are still filtered and printed,
//! and the exit status is 1 so that a pipeline notices. With `-o json`, matching input lines
//! are passed through unchanged, so fields knoxctl does not model (Owner, EventData, ...)
//! survive.

use super::ExitStatus;
use super::{AgentConn, AlertsArgs, AlertsCommand, TableOrJson};
use crate::agent::api::{self, Request};
use crate::alert::Alert;
use crate::alert::filter::{Filter, all_match, parse_duration};
use crate::alert::scan::{LineQuery, Verdict};
use crate::alert::store::{CommitWatch, Query, Store, StoreError, StoreKind};
use crate::kernel::clock::now_epoch;
use crate::output::{format_time, table};
use anyhow::Context;
use std::collections::VecDeque;
use std::io::{BufRead, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Rows a table shows when `--limit` is not given; a million-row table helps nobody.
const TABLE_DEFAULT_LIMIT: usize = 1000;
/// Longest accepted `--from` line; KubeArmor alerts are about a kilobyte.
const MAX_LINE: usize = 1 << 20;
/// Bad `--from` lines reported one by one before only counting.
const MAX_REPORTED: usize = 20;
/// `alerts summary`'s window when --since is not given: the last day.
const SUMMARY_DEFAULT_SECS: i64 = 24 * 3600;
/// How often `alerts tail` looks for new alerts when no commit woke it (the agent's
/// status, and a fallback where inotify is unavailable).
const TAIL_POLL: Duration = Duration::from_millis(200);

/// How one store is shown: `alerts` and `logs` share everything else (queries, output,
/// tail), and differ in their store, their words and their table's columns.
pub(super) struct View {
    pub kind: StoreKind,
    /// The command, for usage errors (`alerts`, `logs`).
    pub command: &'static str,
    /// The default table's columns; the first three stay whole on a narrow terminal.
    pub header: &'static [&'static str],
    /// What `-o wide` adds.
    pub wide: &'static [&'static str],
    pub row: fn(&Alert, bool) -> Vec<String>,
    /// What the agent counted as lost on the way to this store (for `tail`'s warnings).
    pub lost: fn(&api::Status) -> u64,
    /// Where this store's records come from, for the message when there is no store.
    pub missing_hint: &'static str,
    /// Which KubeArmor record types (`Type`) `--from` shows; the others are set aside and
    /// counted, and `elsewhere` names them and the command that shows them.
    pub keeps: fn(&str) -> bool,
    pub elsewhere: &'static str,
}

impl View {
    fn noun(&self) -> &'static str {
        self.kind.noun()
    }
}

pub(super) const ALERTS: View = View {
    kind: StoreKind::Alerts,
    command: "alerts",
    header: &TABLE_HEADER,
    wide: &WIDE_HEADER,
    row,
    lost: |st| {
        st.alerts_dropped
            + st.enforcer_events_dropped
            + st.monitor_lost_in_kernel
            + st.monitor_dropped_in_userspace
    },
    missing_hint: "Is the agent running with this state directory? Point --state-dir (or \
                   KNOXCTL_STATE_DIR) at the agent's state directory, or filter exported \
                   KubeArmor logs with --from FILE.",
    // Exports mix alerts and logs (`karmor logs --logFilter all`); `alerts --from` has
    // always taken every record as an alert.
    keeps: |_| true,
    elsewhere: "",
};

/// `--filter`, `--since` and `--until` as a query; Err is a usage error's message.
pub(super) fn query_of(
    filters: &[String],
    since: Option<&str>,
    until: Option<&str>,
    limit: Option<usize>,
    noun: &str,
) -> Result<Query, String> {
    let filters = filters
        .iter()
        .map(|e| Filter::parse_all(e))
        .collect::<Result<Vec<Vec<_>>, _>>()
        .map_err(|e| format!("--filter: {e}"))?
        .into_iter()
        .flatten()
        .collect();
    let now = now_epoch();
    let bound = |flag: &str, value: Option<&str>| {
        value
            .map(|s| parse_time(s, now))
            .transpose()
            .map_err(|e| format!("{flag}: {e}"))
    };
    let since = bound("--since", since)?;
    let until = bound("--until", until)?;
    if let (Some(s), Some(u)) = (since, until)
        && s > u
    {
        return Err(format!(
            "--since ({}) is after --until ({}): no {noun} can match",
            format_time(s),
            format_time(u)
        ));
    }
    Ok(Query {
        filters,
        since,
        until,
        limit,
    })
}

pub fn run(args: AlertsArgs, conn: &AgentConn) -> anyhow::Result<ExitStatus> {
    let query = match query_of(
        &args.filters,
        args.since.as_deref(),
        args.until.as_deref(),
        args.limit,
        "alert",
    ) {
        Ok(q) => q,
        Err(e) => return usage(&e),
    };
    let now = now_epoch();
    match (&args.command, &args.from) {
        (Some(AlertsCommand::Tail), Some(_)) => tail_usage(
            "--from cannot be combined with 'tail': tail follows the alert store; \
             to follow a KubeArmor stream, pipe it: karmor logs --json | knoxctl alerts --from -",
        ),
        (Some(AlertsCommand::Tail), None) => {
            if query.until.is_some() {
                return tail_usage(
                    "--until cannot be combined with 'tail', which follows new alerts",
                );
            }
            warn_if_no_agent(&ALERTS, conn, &args.state_dir);
            tail(&ALERTS, &args.state_dir, &conn.socket, query, args.output)
        }
        (Some(AlertsCommand::Summary), Some(_)) => usage(
            "--from cannot be combined with 'summary', which reads the alert store; \
             filter the file with --from and -o json, or import it into an agent's store",
        ),
        (Some(AlertsCommand::Summary), None) => {
            let until = query.until.unwrap_or(now);
            let since = query.since.unwrap_or(until - SUMMARY_DEFAULT_SECS);
            summary(&args.state_dir, query, since, until, args.output)
        }
        (None, Some(from)) => from_lines(&ALERTS, from, query, args.output),
        (None, None) => from_store(&ALERTS, &args.state_dir, query, args.output),
    }
}

/// `--since`/`--until`: a duration back from `now`, or an RFC 3339 time or date.
pub(super) fn parse_time(s: &str, now: i64) -> Result<i64, String> {
    let t = s.trim();
    if let Some(rest) = t.strip_prefix('-') {
        return Err(format!(
            "'{s}': durations already count back from now; write {rest}"
        ));
    }
    if let Some(secs) = crate::alert::parse_rfc3339(t) {
        return Ok(secs);
    }
    match parse_duration(t) {
        Ok(d) => Ok(now.saturating_sub(d.as_secs() as i64)),
        // Something that starts like a date is meant as one.
        Err(_)
            if t.len() >= 4
                && t.as_bytes()[..4].iter().all(u8::is_ascii_digit)
                && t.contains('-') =>
        {
            Err(format!(
                "'{s}' is not a time: use RFC 3339 (2026-12-06T08:54:00Z, \
                 2026-12-06T09:54:00+01:00) or a date (2026-12-06)"
            ))
        }
        Err(e) => Err(format!(
            "{e}; give a duration (30s, 10m, 1h30m, 7d) or a time (2026-12-06T08:54:00Z)"
        )),
    }
}

/// `alerts tail` reads the store, not the agent: when no agent answers, no new alert will
/// arrive, which a silent tail would hide.
pub(super) fn warn_if_no_agent(view: &View, conn: &AgentConn, state_dir: &Path) {
    if let Err(e) = api::call(&conn.socket, &Request::Status, Duration::from_secs(2)) {
        let noun = view.noun();
        eprintln!(
            "knoxctl: warning: {e}. Following the {noun} store in {} anyway; new {noun}s \
             appear only while an agent records into it.",
            state_dir.display()
        );
    }
}

fn usage(msg: &str) -> anyhow::Result<ExitStatus> {
    Ok(super::usage(msg, "alerts"))
}

/// Mistakes that only `tail` can make point at tail's help.
fn tail_usage(msg: &str) -> anyhow::Result<ExitStatus> {
    Ok(super::usage(msg, "alerts tail"))
}

fn open_store(view: &View, state_dir: &Path) -> anyhow::Result<Store> {
    let noun = view.noun();
    match Store::open_readonly_kind(state_dir, view.kind) {
        Err(StoreError::Missing { path }) => anyhow::bail!(
            "no {noun} store at {}: the agent has recorded no {noun}s in {} yet. {}",
            path.display(),
            state_dir.display(),
            view.missing_hint
        ),
        Err(e) if is_permission(&e) => Err(anyhow::Error::new(e).context(format!(
            "the {noun} store in {} is readable by root only; run with sudo",
            state_dir.display()
        ))),
        other => Ok(other?),
    }
}

fn is_permission(e: &StoreError) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::PermissionDenied
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// One alert as a JSON line or a YAML document (`---` first, so a stream of them is one
/// valid multi-document YAML file).
fn write_doc(w: &mut impl Write, alert: &Alert, output: TableOrJson) -> anyhow::Result<()> {
    if output == TableOrJson::Yaml {
        w.write_all(b"---\n")?;
        w.write_all(crate::yaml::to_yaml(&serde_json::to_value(alert)?).as_bytes())?;
    } else {
        serde_json::to_writer(&mut *w, alert)?;
        w.write_all(b"\n")?;
    }
    Ok(())
}

pub(super) fn from_store(
    view: &View,
    state_dir: &Path,
    mut query: Query,
    output: TableOrJson,
) -> anyhow::Result<ExitStatus> {
    let store = open_store(view, state_dir)?;
    let out = std::io::stdout();
    match output {
        TableOrJson::Json | TableOrJson::Yaml => {
            let mut w = BufWriter::with_capacity(1 << 16, out.lock());
            store.query_each(&query, |_, alert| write_doc(&mut w, alert, output))?;
            w.flush()?;
        }
        TableOrJson::Table | TableOrJson::Wide => {
            let capped = query.limit.is_none();
            if capped {
                query.limit = Some(TABLE_DEFAULT_LIMIT + 1);
            }
            let mut alerts = store.query(&query)?;
            let more = capped && alerts.len() > TABLE_DEFAULT_LIMIT;
            if more {
                alerts.remove(0);
            }
            print_table(view, &alerts, output == TableOrJson::Table)?;
            if more {
                eprintln!(
                    "knoxctl: showing the newest {TABLE_DEFAULT_LIMIT} matching {}s; \
                     use --limit N or -o json for more",
                    view.noun()
                );
            }
        }
    }
    Ok(ExitStatus::Success)
}

/// `alerts summary`: one pass over the window's alerts (filters apply) in the store.
fn summary(
    state_dir: &Path,
    mut query: Query,
    since: i64,
    until: i64,
    output: TableOrJson,
) -> anyhow::Result<ExitStatus> {
    use crate::alert::summary::{Summarizer, sparkline};
    let store = open_store(&ALERTS, state_dir)?;
    query.since = Some(since);
    query.until = Some(until);
    query.limit = None;
    let mut s = Summarizer::new(since, until);
    store.query_each(&query, |_, a| {
        s.add(a);
        Ok::<_, anyhow::Error>(())
    })?;
    let sum = s.finish();
    let out = std::io::stdout();
    let mut w = BufWriter::new(out.lock());
    match output {
        TableOrJson::Json => {
            serde_json::to_writer_pretty(&mut w, &sum)?;
            writeln!(w)?;
        }
        TableOrJson::Yaml => write!(w, "{}", crate::yaml::to_yaml(&serde_json::to_value(&sum)?))?,
        TableOrJson::Table | TableOrJson::Wide => {
            let counts = |m: &std::collections::BTreeMap<String, u64>| {
                let mut v: Vec<_> = m.iter().collect();
                v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                v.iter()
                    .map(|(k, n)| format!("{k} {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            writeln!(
                w,
                "{} alerts from {} to {}{}",
                sum.total,
                format_time(since),
                format_time(until),
                if sum.total == 0 {
                    String::new()
                } else {
                    format!(": {}", counts(&sum.actions))
                }
            )?;
            if sum.total == 0 {
                w.flush()?;
                return Ok(ExitStatus::Success);
            }
            writeln!(w, "by operation: {}", counts(&sum.operations))?;
            let per = match sum.bucket_secs / 3600 {
                1 => "PER HOUR".to_string(),
                h => format!("PER {h} HOURS"),
            };
            let mut t = table(&["POLICY", "ALERTS", "BLOCK", "AUDIT", "LAST", &per]);
            t.pin(&["ALERTS", "BLOCK", "AUDIT", "LAST", &per]);
            if output == TableOrJson::Wide {
                t.whole();
            }
            for p in &sum.policies {
                t.add_row(vec![
                    p.policy.clone(),
                    p.alerts.to_string(),
                    p.block.to_string(),
                    p.audit.to_string(),
                    format_time(p.last),
                    sparkline(&p.buckets),
                ]);
            }
            writeln!(w)?;
            write!(w, "{t}")?;
            let mut t = table(&["PROCESS", "ALERTS"]);
            t.pin(&["ALERTS"]);
            for c in &sum.processes {
                t.add_row(vec![c.name.clone(), c.alerts.to_string()]);
            }
            if sum.other_processes > 0 {
                t.add_row(vec!["(others)".into(), sum.other_processes.to_string()]);
            }
            writeln!(w)?;
            write!(w, "{t}")?;
        }
    }
    w.flush()?;
    Ok(ExitStatus::Success)
}

/// The default table: what a person scans first, narrow enough for 80 columns. `-o wide`
/// adds the rest.
const TABLE_HEADER: [&str; 6] = [
    "TIME",
    "ACTION",
    "OPERATION",
    "POLICY",
    "RESOURCE",
    "PROCESS",
];
const WIDE_HEADER: [&str; 5] = ["RESULT", "SEVERITY", "HOST PID", "UID", "HOST"];

fn row(a: &Alert, wide: bool) -> Vec<String> {
    let mut r = vec![
        format_time(a.timestamp),
        a.action.clone(),
        a.operation.clone(),
        a.policy_name.clone(),
        a.resource.clone(),
        a.process_name.clone(),
    ];
    if wide {
        r.extend([
            a.result.clone(),
            a.severity.clone(),
            a.host_pid.to_string(),
            a.uid.to_string(),
            a.host_name.clone(),
        ]);
    }
    r
}

fn print_table(view: &View, alerts: &[Alert], fit: bool) -> anyhow::Result<()> {
    if alerts.is_empty() {
        // On stderr, like kubectl's "No resources found": stdout stays empty for scripts.
        eprintln!("No {}s match.", view.noun());
        return Ok(());
    }
    let mut header = view.header.to_vec();
    if !fit {
        header.extend(view.wide);
    }
    let mut t = table(&header);
    t.pin(&view.header[..3]);
    if !fit {
        t.whole();
    }
    for a in alerts {
        t.add_row((view.row)(a, !fit));
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{t}")?;
    out.flush()?;
    Ok(())
}

/// Reads one line of at most `max` bytes into `buf` (without the newline). Returns None at
/// the end of input, else whether the line fit (an over-long line's rest is skipped) and how
/// many bytes it took from the input, newline included.
fn read_line_limited(
    r: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<(bool, u64)>> {
    buf.clear();
    let mut too_long = false;
    let mut taken = 0u64;
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((taken > 0).then_some((!too_long, taken)));
        }
        let (part, used, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], i + 1, true),
            None => (chunk, chunk.len(), false),
        };
        if !too_long {
            if buf.len() + part.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        r.consume(used);
        taken += used as u64;
        if done {
            return Ok(Some((!too_long, taken)));
        }
    }
}

type Input = std::io::BufReader<Box<dyn std::io::Read>>;

/// Input read whole when it is JSON documents rather than JSON Lines.
const MAX_DOCUMENT: u64 = 256 << 20;

/// A file at least this large is filtered by all cores, in pieces of [`PIECE`] bytes.
const PARALLEL_FROM: u64 = 4 << 20;
const PIECE: u64 = 8 << 20;

/// What `--from` kept: the newest matches (input order is taken as chronological), each
/// with the JSON text passed through by `-o json`.
struct Matches {
    /// Print each match as it comes (`-o json` without --limit).
    stream: bool,
    keep: usize,
    kept: VecDeque<(Alert, Vec<u8>)>,
    matched: usize,
    /// The view's record types ([`View::keeps`]).
    types: fn(&str) -> bool,
    /// Matches of the other types, not shown.
    set_aside: usize,
}

impl Matches {
    fn new(view: &View, output: TableOrJson, limit: Option<usize>) -> Matches {
        let keep = match output {
            TableOrJson::Json | TableOrJson::Yaml => limit.unwrap_or(usize::MAX),
            TableOrJson::Table | TableOrJson::Wide => limit.unwrap_or(TABLE_DEFAULT_LIMIT),
        };
        Matches {
            stream: output == TableOrJson::Json && limit.is_none(),
            keep,
            kept: VecDeque::new(),
            matched: 0,
            types: view.keeps,
            set_aside: 0,
        }
    }

    /// An empty one for a piece of the input, with the same settings.
    fn part(&self) -> Matches {
        Matches {
            stream: self.stream,
            keep: self.keep,
            kept: VecDeque::new(),
            matched: 0,
            types: self.types,
            set_aside: 0,
        }
    }

    /// Takes what a piece of the input matched, the piece being the next in input order.
    fn absorb(&mut self, part: Matches) {
        self.matched += part.matched;
        self.set_aside += part.set_aside;
        if self.keep == 0 {
            return;
        }
        for kept in part.kept {
            if self.kept.len() == self.keep {
                self.kept.pop_front();
            }
            self.kept.push_back(kept);
        }
    }

    /// Takes one matching alert; `raw` is its JSON text.
    fn offer(&mut self, alert: Alert, raw: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        if !(self.types)(&alert.kind) {
            self.set_aside += 1;
            return Ok(());
        }
        self.matched += 1;
        if self.stream {
            out.write_all(raw)?;
            out.write_all(b"\n")?;
        } else if self.keep > 0 {
            if self.kept.len() == self.keep {
                self.kept.pop_front();
            }
            self.kept.push_back((alert, raw.to_vec()));
        }
        Ok(())
    }
}

/// Why a line is not a KubeArmor record (`noun`: alert, log), with a hint for the usual
/// mistakes.
fn bad_line(line: &[u8], e: &serde_json::Error, noun: &str) -> String {
    let hint = if line.starts_with(b"== Alert") || line.starts_with(b"== Log") {
        " (this is the text `karmor logs` prints; run `karmor logs --json` for one JSON \
         alert per line)"
    } else if line == b"{" {
        // Indented JSON after JSON Lines: a whole file of it is read as documents, a mix
        // cannot be.
        " (this looks like indented JSON; give one alert per line, as `karmor logs --json` \
         prints them)"
    } else {
        ""
    };
    format!("not a KubeArmor {noun}: {e}{hint}")
}

/// Lines read and judged, and the bad ones among them.
#[derive(Default)]
struct Tally {
    lines: usize,
    bad: usize,
    /// The first [`MAX_REPORTED`] bad lines: (line number, why).
    reports: Vec<(usize, String)>,
    /// Line 1 is the input's first line (which may start with a byte-order mark).
    at_file_start: bool,
    /// What a record is called in reports (alert, log).
    noun: &'static str,
}

impl Tally {
    /// Judges one line (`lineno` counts from 1 in its part) into `m`.
    fn line(
        &mut self,
        q: &LineQuery,
        raw: &[u8],
        fits: bool,
        m: &mut Matches,
        out: &mut impl Write,
    ) -> std::io::Result<()> {
        self.lines += 1;
        let problem = if !fits {
            format!("line longer than {} MiB", MAX_LINE >> 20)
        } else {
            let line = if self.lines == 1 && self.at_file_start {
                raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw)
            } else {
                raw
            };
            let line = line.trim_ascii();
            match q.judge(line) {
                Verdict::Skip => return Ok(()),
                Verdict::Match(alert) => return m.offer(*alert, line, out),
                Verdict::Bad(e) => bad_line(line, &e, self.noun),
            }
        };
        self.bad += 1;
        if self.reports.len() < MAX_REPORTED {
            self.reports.push((self.lines, problem));
        }
        Ok(())
    }
}

/// `--from`: KubeArmor records of `view`'s kind from a file or stdin (`-`), filtered and
/// printed as the store's would be. Bad records are reported (file and line) and make the
/// exit status 1; an unreadable input is an error.
pub(super) fn from_lines(
    view: &View,
    from: &Path,
    query: Query,
    output: TableOrJson,
) -> anyhow::Result<ExitStatus> {
    let noun = view.noun();
    let stdin = from == Path::new("-");
    let name = if stdin {
        "<stdin>".to_string()
    } else {
        from.display().to_string()
    };
    let file = if stdin {
        None
    } else {
        Some(std::fs::File::open(from).with_context(|| format!("cannot read {name}"))?)
    };
    let input: Box<dyn std::io::Read> = match &file {
        None => Box::new(std::io::stdin()),
        Some(f) => Box::new(
            f.try_clone()
                .with_context(|| format!("cannot read {name}"))?,
        ),
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, input);
    let mut m = Matches::new(view, output, query.limit);
    let lq = LineQuery::new(query.filters.clone(), query.since, query.until);
    let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let documents = is_document(&mut reader).with_context(|| format!("cannot read {name}"))?;
    let big = file
        .as_ref()
        .and_then(|f| f.metadata().ok())
        .filter(|md| md.is_file() && md.len() >= PARALLEL_FROM)
        .map(|md| md.len());
    let (bad, total, unit) = if documents {
        let (bad, total) = from_documents(&mut reader, &name, noun, &lq, &mut m, &mut out)?;
        (
            bad,
            total,
            if noun == "alert" { "alerts" } else { "records" },
        )
    } else if let (Some(file), Some(len)) = (&file, big) {
        let (bad, total) = from_file_in_parallel(file, len, &name, noun, &lq, &mut m, &mut out)?;
        (bad, total, "lines")
    } else {
        let (bad, total) = from_json_lines(&mut reader, &name, noun, &lq, &mut m, &mut out)?;
        (bad, total, "lines")
    };
    match output {
        TableOrJson::Json | TableOrJson::Yaml => {
            for (alert, raw) in &m.kept {
                if output == TableOrJson::Json {
                    out.write_all(raw)?;
                    out.write_all(b"\n")?;
                } else {
                    write_doc(&mut out, alert, output)?;
                }
            }
            out.flush()?;
        }
        TableOrJson::Table | TableOrJson::Wide => {
            drop(out);
            let mut alerts: Vec<Alert> = m.kept.into_iter().map(|(a, _)| a).collect();
            // Exports are not always in time order (several nodes, merged files); a table is
            // read top to bottom as a timeline.
            alerts.sort_by_key(|a| (a.timestamp, a.updated_time.clone()));
            print_table(view, &alerts, output == TableOrJson::Table)?;
            if query.limit.is_none() && m.matched > TABLE_DEFAULT_LIMIT {
                eprintln!(
                    "knoxctl: showing the last {TABLE_DEFAULT_LIMIT} of {} matching \
                     {noun}s; use --limit N or -o json for more",
                    m.matched
                );
            }
        }
    }
    if m.set_aside > 0 {
        eprintln!(
            "knoxctl: {name}: {} matching {}",
            m.set_aside, view.elsewhere
        );
    }
    if bad > 0 {
        eprintln!("knoxctl: {name}: {bad} of {total} {unit} skipped (not KubeArmor {noun}s)");
        return Ok(ExitStatus::Failure);
    }
    Ok(ExitStatus::Success)
}

/// Whether the input is JSON documents (a JSON array, or objects spread over several
/// lines as `jq .` prints them) rather than one alert per line. Looks at the first line
/// only, without consuming it.
fn is_document(reader: &mut impl BufRead) -> std::io::Result<bool> {
    let buf = reader.fill_buf()?;
    let buf = buf.strip_prefix(b"\xef\xbb\xbf").unwrap_or(buf);
    let start = buf.trim_ascii_start();
    let first_line = start
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    Ok(start.first() == Some(&b'[') || first_line == b"{")
}

/// Reads the whole input as a sequence of JSON values; each object, or each element of an
/// array, is one alert. Returns (bad alerts, alerts seen).
fn from_documents(
    reader: &mut Input,
    name: &str,
    noun: &str,
    q: &LineQuery,
    m: &mut Matches,
    out: &mut impl Write,
) -> anyhow::Result<(usize, usize)> {
    let mut all = Vec::new();
    std::io::Read::take(reader, MAX_DOCUMENT + 1)
        .read_to_end(&mut all)
        .with_context(|| format!("cannot read {name}"))?;
    anyhow::ensure!(
        all.len() as u64 <= MAX_DOCUMENT,
        "{name} is larger than {} MiB of JSON; export JSON Lines (`karmor logs --json`) to \
         filter a stream of any size",
        MAX_DOCUMENT >> 20
    );
    let body = all.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&all);
    let (mut bad, mut total) = (0, 0);
    for value in serde_json::Deserializer::from_slice(body).into_iter::<serde_json::Value>() {
        let value = match value {
            Ok(v) => v,
            Err(e) => {
                bad += 1;
                eprintln!(
                    "knoxctl: {name}:{}:{}: not JSON, the rest is skipped: {e}",
                    e.line(),
                    e.column()
                );
                break;
            }
        };
        let items = match value {
            serde_json::Value::Array(items) => items,
            other => vec![other],
        };
        for item in items {
            total += 1;
            let raw = serde_json::to_vec(&item)?;
            match q.judge(&raw) {
                Verdict::Skip => {}
                Verdict::Match(alert) => m.offer(*alert, &raw, out)?,
                Verdict::Bad(e) => {
                    bad += 1;
                    if bad <= MAX_REPORTED {
                        eprintln!(
                            "knoxctl: {name}: {noun} {total}: skipped: not a KubeArmor {noun}: {e}"
                        );
                    }
                }
            }
        }
    }
    Ok((bad, total))
}

/// One alert per line (`karmor logs --json`, the agent's own export), read in order; a live
/// stream stays live. Returns (bad lines, lines read).
fn from_json_lines(
    reader: &mut Input,
    name: &str,
    noun: &'static str,
    q: &LineQuery,
    m: &mut Matches,
    out: &mut BufWriter<std::io::StdoutLock>,
) -> anyhow::Result<(usize, usize)> {
    let mut tally = Tally {
        at_file_start: true,
        noun,
        ..Tally::default()
    };
    let mut buf = Vec::new();
    loop {
        let status = read_line_limited(reader, &mut buf, MAX_LINE)
            .with_context(|| format!("cannot read {name}"))?;
        let Some((fits, _)) = status else { break };
        let reported = tally.reports.len();
        tally.line(q, &buf, fits, m, out)?;
        if tally.reports.len() > reported {
            let (lineno, why) = &tally.reports[reported];
            out.flush()?;
            eprintln!("knoxctl: {name}:{lineno}: skipped: {why}");
        }
        if m.stream && reader.buffer().is_empty() {
            out.flush()?;
        }
    }
    Ok((tally.bad, tally.lines))
}

/// A regular file's JSON Lines, filtered on every core: the file is cut into pieces of
/// [`PIECE`] bytes, a round of pieces (one per core) is judged at once, and each round's
/// output is written in file order before the next starts, so memory stays bounded by one
/// round whatever the file's size. Returns (bad lines, lines read).
fn from_file_in_parallel(
    file: &std::fs::File,
    len: u64,
    name: &str,
    noun: &'static str,
    q: &LineQuery,
    m: &mut Matches,
    out: &mut impl Write,
) -> anyhow::Result<(usize, usize)> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let pieces: Vec<u64> = (0..len.div_ceil(PIECE)).map(|i| i * PIECE).collect();
    let (mut lines, mut bad) = (0usize, 0usize);
    for round in pieces.chunks(cores) {
        let parts: Vec<std::io::Result<(Tally, Matches, Vec<u8>)>> = std::thread::scope(|s| {
            let workers: Vec<_> = round
                .iter()
                .map(|&start| {
                    let end = (start + PIECE).min(len);
                    let mut part = m.part();
                    s.spawn(move || {
                        let mut text = Vec::new();
                        let tally = judge_piece(file, start, end, noun, q, &mut part, &mut text)?;
                        Ok((tally, part, text))
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().expect("a --from worker panicked"))
                .collect()
        });
        for part in parts {
            let (tally, part, text) = part.with_context(|| format!("cannot read {name}"))?;
            for (lineno, why) in &tally.reports {
                if bad < MAX_REPORTED {
                    eprintln!("knoxctl: {name}:{}: skipped: {why}", lines + lineno);
                }
                bad += 1;
            }
            bad += tally.bad - tally.reports.len();
            lines += tally.lines;
            out.write_all(&text)?;
            m.absorb(part);
        }
    }
    Ok((bad, lines))
}

/// Judges the lines that start in `[start, end)` of `file`; a line that starts before
/// `start` belongs to the previous piece, one that starts before `end` is read to its end.
fn judge_piece(
    file: &std::fs::File,
    start: u64,
    end: u64,
    noun: &'static str,
    q: &LineQuery,
    m: &mut Matches,
    out: &mut Vec<u8>,
) -> std::io::Result<Tally> {
    use std::os::unix::fs::FileExt;
    /// `file` read from `pos` on, without moving a shared offset.
    struct At<'a> {
        file: &'a std::fs::File,
        pos: u64,
    }
    impl Read for At<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.file.read_at(buf, self.pos)?;
            self.pos += n as u64;
            Ok(n)
        }
    }
    let mut pos = start.saturating_sub(1);
    let mut r = std::io::BufReader::with_capacity(1 << 16, At { file, pos });
    let mut buf = Vec::new();
    if start > 0 {
        // The byte before the piece: a newline there means a line starts at `start`.
        let Some((_, taken)) = read_line_limited(&mut r, &mut buf, 0)? else {
            return Ok(Tally::default());
        };
        pos += taken;
    }
    // Only the file's first line may carry a byte-order mark.
    let mut tally = Tally {
        at_file_start: start == 0,
        noun,
        ..Tally::default()
    };
    while pos < end {
        let Some((fits, taken)) = read_line_limited(&mut r, &mut buf, MAX_LINE)? else {
            break;
        };
        pos += taken;
        tally.line(q, &buf, fits, m, out)?;
    }
    Ok(tally)
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// One line per alert for a stream, where a table's column widths cannot be known: the
/// table's columns in the table's order, the short ones padded to their usual widths.
fn tail_line(view: &View, a: &Alert, wide: bool) -> String {
    let r = (view.row)(a, wide);
    tail_format(&r.iter().map(String::as_str).collect::<Vec<_>>())
}

fn tail_format(cells: &[&str]) -> String {
    // TIME is always 20 wide; ACTION and OPERATION get the width of their longest usual
    // values ("Audit (Block)", "Operation").
    const PAD: [usize; 3] = [20, 13, 9];
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        let c = if c.is_empty() { "-" } else { c };
        line.push_str(c);
        if i + 1 < cells.len() {
            let w = PAD.get(i).copied().unwrap_or(0);
            line.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(c.chars().count()) + 3,
            ));
        }
    }
    line
}

/// What `alerts tail` keeps of the agent between looks: whether it answered, its pid, and
/// the losses it had counted then.
struct Watch {
    lost: fn(&api::Status) -> u64,
    noun: &'static str,
    socket: std::path::PathBuf,
    last_look: std::time::Instant,
    seen: Option<(u32, u64)>,
    answered: Option<bool>,
}

/// How often `alerts tail` asks the agent whether it still runs and lost anything.
const WATCH_EVERY: Duration = Duration::from_secs(2);

impl Watch {
    /// Says on stderr (never in the stream) when the agent stops answering, when one
    /// answers again (a restart: the store is followed all along, so nothing is missed),
    /// and when it counted alerts or events it could not record.
    fn look(&mut self) {
        if self.last_look.elapsed() < WATCH_EVERY {
            return;
        }
        self.last_look = std::time::Instant::now();
        let status = match api::call(&self.socket, &Request::Status, Duration::from_secs(1)) {
            Ok(api::Response::Status { status }) => Some(status),
            _ => None,
        };
        let Some(st) = status else {
            if self.answered == Some(true) {
                eprintln!(
                    "knoxctl: the agent stopped answering on {}; still following the store, new {}s appear when it runs again",
                    self.socket.display(),
                    self.noun
                );
            }
            self.answered = Some(false);
            return;
        };
        let lost = (self.lost)(&st);
        match self.seen {
            // A new pid, or counters that went back (a restart that got the same pid,
            // as pid 1 in a container does).
            Some((pid, before)) if pid != st.pid || lost < before => eprintln!(
                "knoxctl: the agent was restarted (pid {pid} -> {}); following on",
                st.pid
            ),
            None if self.answered == Some(false) => eprintln!(
                "knoxctl: the agent answers again (pid {}); following on",
                st.pid
            ),
            Some((_, before)) if lost > before => eprintln!(
                "knoxctl: warning: the agent dropped {} {}s or events since the last look (queues full); see knoxctl probe",
                lost - before,
                self.noun
            ),
            _ => {}
        }
        self.seen = Some((st.pid, lost));
        self.answered = Some(true);
    }
}

pub(super) fn tail(
    view: &View,
    state_dir: &Path,
    socket: &Path,
    query: Query,
    output: TableOrJson,
) -> anyhow::Result<ExitStatus> {
    let store = open_store(view, state_dir)?;
    // SIGINT/SIGTERM end the loop between polls, so output is flushed and the exit is 0.
    // SIGPIPE keeps its default (set in main): a closed pipe ends the process quietly.
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
        libc::signal(
            libc::SIGTERM,
            on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
    let mut out = BufWriter::new(std::io::stdout().lock());
    let print = |a: &Alert, out: &mut BufWriter<std::io::StdoutLock>| -> anyhow::Result<()> {
        match output {
            TableOrJson::Json | TableOrJson::Yaml => write_doc(out, a, output)?,
            TableOrJson::Table | TableOrJson::Wide => {
                writeln!(out, "{}", tail_line(view, a, output == TableOrJson::Wide))?
            }
        }
        Ok(())
    };
    if let Some(fit) = output.table().filter(|_| !crate::output::no_headers()) {
        let mut header = view.header.to_vec();
        if !fit {
            header.extend(view.wide);
        }
        writeln!(out, "{}", tail_format(&header))?;
        out.flush()?;
    }
    let mut last = store.last_id()?;
    // With --since or --limit, show the matching backlog first, as `tail -n` does.
    if query.since.is_some() || query.limit.is_some() {
        store.query_each(&query, |id, a| {
            if id <= last {
                print(a, &mut out)?;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        out.flush()?;
    }
    let follow = Query {
        filters: query.filters,
        ..Query::default()
    };
    // Woken by each commit; polling stays as the fallback (inotify instances exhausted).
    let commits = CommitWatch::new(state_dir).ok();
    let mut watch = Watch {
        lost: view.lost,
        noun: view.noun(),
        socket: socket.to_path_buf(),
        last_look: std::time::Instant::now() - WATCH_EVERY,
        seen: None,
        answered: None,
    };
    while !INTERRUPTED.load(Ordering::Relaxed) {
        watch.look();
        loop {
            let before = last;
            last = store.for_each_after(last, 4096, |_, a| {
                if all_match(&follow.filters, a) {
                    print(a, &mut out)?;
                }
                Ok::<_, anyhow::Error>(())
            })?;
            if last - before < 4096 {
                break;
            }
        }
        out.flush()?;
        match &commits {
            Some(c) => {
                c.wait(TAIL_POLL);
            }
            None => std::thread::sleep(TAIL_POLL),
        }
    }
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_not_buffered() {
        let input = format!("{}\nshort\n{}", "x".repeat(100), "y".repeat(5));
        let mut r = std::io::BufReader::with_capacity(8, input.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(
            read_line_limited(&mut r, &mut buf, 10).unwrap(),
            Some((false, 101))
        );
        assert_eq!(
            read_line_limited(&mut r, &mut buf, 10).unwrap(),
            Some((true, 6))
        );
        assert_eq!(buf, b"short");
        assert_eq!(
            read_line_limited(&mut r, &mut buf, 10).unwrap(),
            Some((true, 5))
        );
        assert_eq!(buf, b"yyyyy");
        assert_eq!(read_line_limited(&mut r, &mut buf, 10).unwrap(), None);
    }
}
