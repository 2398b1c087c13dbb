//! Alert forwarding: each forwarder configured in config.yaml (`forwarders:`) sends the
//! alerts the agent stores to one receiver (syslog over UDP, TCP, TLS or the local socket;
//! a webhook, Splunk HEC, Elasticsearch `_bulk` or an OTLP/HTTP logs endpoint), in batches,
//! retrying with exponential backoff, without losing what a receiver outage holds up.
//!
//! Design: a forwarder is a cursor over the alert store, not a second queue. Every alert is
//! already committed to the store (`alerts.db` in the state directory) with an id that only
//! grows (see [`crate::alert::store`]), so the store *is* the disk-backed queue: a forwarder
//! reads the alerts after the last id its receiver acknowledged, sends them, and only then
//! moves its cursor (`<state-dir>/forward/<name>.cursor`, written to a temporary file,
//! fsync'd and renamed over the old one). A receiver that is down holds the cursor back
//! and the alerts wait in the store, across agent restarts too; nothing is copied, so
//! forwarding costs no extra disk writes per alert and cannot disagree with the store.
//!
//! The bound is the store's retention (`alerts.maxRows`, `alerts.maxAgeDays`): an outage
//! that lasts past it lets retention delete alerts the forwarder has not sent. Ids are dense
//! (the writer numbers each committed alert), so the forwarder sees exactly how many are
//! gone — a jump in ids after its cursor — counts them in `lost`, raises an alert that says
//! so (Type `SystemEvent`, the forwarder's name as Resource, ATags `forward-lost` and
//! `count=N`; itself stored and forwarded), and carries on from the oldest alert still
//! there.
//!
//! Once, not twice: the cursor never goes back, so nothing a receiver acknowledged is sent
//! again, even after a restart. What a receiver got but did not acknowledge (a timeout, a
//! crash between its write and its answer) is sent again; receivers that can tell use the
//! alert's stable id ([`stable_id`]: host, timestamp and store id): Elasticsearch indexes
//! it as `_id` (a resend overwrites the same document), webhooks and OTLP carry it as
//! `AlertID` / `log.record.uid` and the webhook's `Idempotency-Key` header, Splunk HEC in
//! the event and as the indexed field `AlertID` (`fields`), syslog as the RFC 5424 `meta`
//! `sequenceId` and in the JSON. Acknowledged means a 2xx answer over HTTP (with Splunk's
//! `useAck`, the indexer's acknowledgement of the request's ackId, polled on the
//! forwarder's channel: an answer lost after HEC took the batch is then waited for, not
//! resent), and for syslog over TCP or TLS a completed write and flush on a connection the
//! receiver has not closed (checked before each batch); syslog over UDP and the local
//! socket has no acknowledgement at all beyond the kernel accepting the datagram.
//!
//! A new forwarder starts at the newest stored alert: configuring one does not replay the
//! store's history into a SIEM. An idle forwarder sleeps until the store's writer commits:
//! it is woken by the same [`CommitWatch`] as `knoxctl alerts tail` (inotify on the state
//! directory, which every commit writes) and then reads the store; without inotify it
//! looks at the writer's commit counter every [`POLL`]. Forwarders retry on their backoff
//! timer; at shutdown each sends what it can within [`SHUTDOWN_BOUND`] and keeps its
//! cursor, so the rest goes out at the next start.

pub mod http;
pub mod syslog;

use crate::alert::Alert;
use crate::alert::store::{CommitWatch, Store, StoreError};
use crate::kernel::wake::EventFd;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How often an idle forwarder looks at the writer's commit counter when it cannot watch
/// the state directory (no inotify); with a [`CommitWatch`], the longest it sleeps.
pub const POLL: Duration = Duration::from_millis(200);
/// How soon an idle forwarder looks at the commit counter again after a write in the
/// state directory that the counter did not show yet.
const RECHECK: Duration = Duration::from_millis(2);
/// How long shutdown waits for forwarders to send what is pending.
pub const SHUTDOWN_BOUND: Duration = Duration::from_secs(3);
/// The first retry's delay; doubled after each failure up to `maxBackoffSecs`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The subdirectory of the state directory that holds the cursors.
pub const CURSOR_DIR: &str = "forward";

/// What a forwarder speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Syslog,
    Webhook,
    Splunk,
    Elasticsearch,
    Otlp,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Syslog => "syslog",
            Kind::Webhook => "webhook",
            Kind::Splunk => "splunk",
            Kind::Elasticsearch => "elasticsearch",
            Kind::Otlp => "otlp",
        })
    }
}

fn default_batch() -> usize {
    500
}
fn default_max_backoff() -> u64 {
    60
}
fn default_timeout() -> u64 {
    10
}
/// How long a Splunk forwarder with `useAck` waits for the indexer's acknowledgement of a
/// batch HEC took before sending it again, when `ackTimeoutSecs` is not given: indexer
/// acknowledgement follows replication, which takes seconds to a minute under load.
pub const DEFAULT_ACK_TIMEOUT_SECS: u64 = 120;

/// One entry of `forwarders:` in config.yaml.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ForwarderConfig {
    /// Names the cursor file and the forwarder in `probe`: letters, digits, `-`, `_`, `.`.
    pub name: String,
    pub kind: Kind,
    /// syslog: `udp://HOST:PORT`, `tcp://HOST:PORT`, `tls://HOST:PORT`, `unix:///dev/log`;
    /// the others: an `http://` or `https://` URL (a URL without a path gets the kind's
    /// usual one: `/services/collector/event`, `/_bulk`, `/v1/logs`).
    pub address: String,
    /// Most alerts per request (per write for syslog over TCP/TLS).
    #[serde(default = "default_batch")]
    pub batch_size: usize,
    /// The longest pause between retries.
    #[serde(default = "default_max_backoff")]
    pub max_backoff_secs: u64,
    /// Connect, write and answer timeout of one attempt.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Extra HTTP headers; values may name environment variables (`${NAME}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Splunk's HEC token, Elasticsearch's API key, a webhook's or OTLP's bearer token;
    /// may name environment variables (`${NAME}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The token read from a file (its surrounding white space trimmed), instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Elasticsearch: the index (default `knoxctl-alerts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Splunk: the sourcetype (default `knoxctl:alert`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sourcetype: Option<String>,
    /// Splunk: indexer acknowledgement (the HEC token must have it enabled): each request
    /// goes on this forwarder's channel (`X-Splunk-Request-Channel`) and a batch counts as
    /// sent once `/services/collector/ack` confirms its ackId, not at the 200.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub use_ack: bool,
    /// Splunk with `useAck`: how long to wait for a batch's acknowledgement before sending
    /// it again (default [`DEFAULT_ACK_TIMEOUT_SECS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_timeout_secs: Option<u64>,
    /// A PEM file of CA certificates to trust for `tls://` and `https://` besides the
    /// public roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// A configuration mistake: which forwarder (its index), which field, what is wrong.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub index: usize,
    pub field: &'static str,
    pub msg: String,
}

/// Checks what serde cannot: names, addresses, sizes and fields that belong to the kind.
pub fn validate(forwarders: &[ForwarderConfig]) -> Result<(), Invalid> {
    let mut seen = std::collections::BTreeSet::new();
    for (index, f) in forwarders.iter().enumerate() {
        let bad = |field, msg: String| Invalid { index, field, msg };
        if f.name.is_empty()
            || !f
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            || f.name.starts_with('.')
        {
            return Err(bad(
                "name",
                format!(
                    "forwarder name `{}`: use letters, digits, `-`, `_` and `.` (not first)",
                    f.name
                ),
            ));
        }
        if !seen.insert(f.name.as_str()) {
            return Err(bad(
                "name",
                format!("forwarder name `{}` is used twice", f.name),
            ));
        }
        Target::parse(f.kind, &f.address).map_err(|m| bad("address", m))?;
        if f.batch_size == 0 || f.batch_size > 100_000 {
            return Err(bad(
                "batchSize",
                format!("batchSize {} is not between 1 and 100000", f.batch_size),
            ));
        }
        if f.timeout_secs == 0 {
            return Err(bad("timeoutSecs", "timeoutSecs must be at least 1".into()));
        }
        if f.max_backoff_secs == 0 {
            return Err(bad(
                "maxBackoffSecs",
                "maxBackoffSecs must be at least 1".into(),
            ));
        }
        if f.token.is_some() && f.token_file.is_some() {
            return Err(bad("tokenFile", "give token or tokenFile, not both".into()));
        }
        let http = f.kind != Kind::Syslog;
        let only = |field, ok: bool, kinds: &str| {
            if ok {
                Ok(())
            } else {
                Err(bad(
                    field,
                    format!("{field} is for {kinds} forwarders, not {}", f.kind),
                ))
            }
        };
        only("headers", http || f.headers.is_empty(), "HTTP")?;
        only("token", http || f.token.is_none(), "HTTP")?;
        only("tokenFile", http || f.token_file.is_none(), "HTTP")?;
        only(
            "index",
            f.kind == Kind::Elasticsearch || f.index.is_none(),
            "elasticsearch",
        )?;
        only(
            "sourcetype",
            f.kind == Kind::Splunk || f.sourcetype.is_none(),
            "splunk",
        )?;
        only("useAck", f.kind == Kind::Splunk || !f.use_ack, "splunk")?;
        only(
            "ackTimeoutSecs",
            f.use_ack || f.ack_timeout_secs.is_none(),
            "splunk (with useAck: true)",
        )?;
        if f.ack_timeout_secs == Some(0) {
            return Err(bad(
                "ackTimeoutSecs",
                "ackTimeoutSecs must be at least 1".into(),
            ));
        }
        if f.kind == Kind::Splunk && f.token.is_none() && f.token_file.is_none() {
            return Err(bad(
                "token",
                "a splunk forwarder needs a token (HEC)".into(),
            ));
        }
        if let Some(i) = &f.index
            && (i.is_empty()
                || i.contains(['/', '\\', '*', '?', '"', '<', '>', '|', ' ', ',', '#']))
        {
            return Err(bad("index", format!("`{i}` is not an index name")));
        }
    }
    Ok(())
}

/// Where a forwarder sends, parsed from `address`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Udp(String),
    Tcp(String),
    /// host (for the certificate's name), host:port
    Tls(String, String),
    Unix(PathBuf),
    Http(String),
}

impl Target {
    pub fn parse(kind: Kind, address: &str) -> Result<Target, String> {
        let (scheme, rest) = address
            .split_once("://")
            .ok_or_else(|| format!("address `{address}` has no scheme (like udp://, https://)"))?;
        if kind == Kind::Syslog {
            let host_port = |rest: &str| -> Result<(String, String), String> {
                let (host, port) = rest
                    .rsplit_once(':')
                    .filter(|(h, _)| !h.is_empty())
                    .ok_or_else(|| format!("address `{address}`: give HOST:PORT"))?;
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| format!("address `{address}`: `{port}` is not a port"))?;
                let host = host.trim_start_matches('[').trim_end_matches(']');
                Ok((host.to_string(), rest.to_string()))
            };
            return match scheme {
                "udp" => Ok(Target::Udp(host_port(rest)?.1)),
                "tcp" => Ok(Target::Tcp(host_port(rest)?.1)),
                "tls" => {
                    let (h, hp) = host_port(rest)?;
                    Ok(Target::Tls(h, hp))
                }
                "unix" if rest.starts_with('/') => Ok(Target::Unix(PathBuf::from(rest))),
                "unix" => Err(format!(
                    "address `{address}`: a socket path must be absolute (unix:///dev/log)"
                )),
                _ => Err(format!(
                    "address `{address}`: syslog goes over udp://, tcp://, tls:// or unix://"
                )),
            };
        }
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "address `{address}`: {kind} needs an http:// or https:// URL"
            ));
        }
        let mut url =
            reqwest::Url::parse(address).map_err(|e| format!("address `{address}`: {e}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("address `{address}` has no host"));
        }
        if url.path() == "/" || url.path().is_empty() {
            let path = match kind {
                Kind::Splunk => "/services/collector/event",
                Kind::Elasticsearch => "/_bulk",
                Kind::Otlp => "/v1/logs",
                Kind::Webhook | Kind::Syslog => "/",
            };
            url.set_path(path);
        }
        Ok(Target::Http(url.to_string()))
    }

    /// The target for people: no credentials or query of a URL.
    pub fn display(&self) -> String {
        match self {
            Target::Udp(a) => format!("udp://{a}"),
            Target::Tcp(a) => format!("tcp://{a}"),
            Target::Tls(_, a) => format!("tls://{a}"),
            Target::Unix(p) => format!("unix://{}", p.display()),
            Target::Http(u) => match reqwest::Url::parse(u) {
                Ok(mut u) => {
                    let _ = u.set_username("");
                    let _ = u.set_password(None);
                    u.set_query(None);
                    u.to_string()
                }
                Err(_) => u.clone(),
            },
        }
    }
}

/// `${NAME}` replaced by the environment variable's value; an unset one is an error
/// (naming the variable, never a value).
pub fn expand_env(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| "an unclosed `${` in a secret".to_string())?;
        let name = &after[..end];
        let value =
            std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The token a forwarder sends, resolved now (the file or variable may appear later).
fn resolve_token(c: &ForwarderConfig) -> Result<Option<String>, String> {
    if let Some(t) = &c.token {
        return expand_env(t).map(Some);
    }
    if let Some(p) = &c.token_file {
        return std::fs::read_to_string(p)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| format!("tokenFile {}: {e}", p.display()));
    }
    Ok(None)
}

/// An alert's id that stays the same when it is sent again: host, timestamp, store id.
pub fn stable_id(id: i64, a: &Alert) -> String {
    let host = if a.host_name.is_empty() {
        "-"
    } else {
        &a.host_name
    };
    format!("{host}-{}-{id}", a.timestamp)
}

/// An alert as forwarders send it: its KubeArmor JSON plus `AlertID` ([`stable_id`]).
pub fn alert_json(id: i64, a: &Alert) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("AlertID".into(), stable_id(id, a).into());
    }
    v
}

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth retrying (the receiver is down, slow, overloaded or refused for now).
    #[error("{0}")]
    Retry(String),
    /// The receiver says the request is too large: send fewer alerts at once.
    #[error("{0}")]
    TooLarge(String),
}

/// What a receiver did with a batch it acknowledged.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Alerts the receiver acknowledged but refused for good (a mapping conflict in
    /// Elasticsearch, OTLP's rejectedLogRecords): resending would not help.
    pub rejected: u64,
    /// Why, when some were.
    pub why: Option<String>,
}

/// A connection (or client) to one receiver.
pub trait Sender: Send {
    /// Sends the batch; Ok once the receiver acknowledged all of it.
    fn send(&mut self, batch: &[(i64, Alert)]) -> Result<Delivered, SendError>;
}

/// Builds the sender of a configuration (resolving its secrets now).
pub fn connect(c: &ForwarderConfig) -> Result<Box<dyn Sender>, String> {
    let target = Target::parse(c.kind, &c.address)?;
    let timeout = Duration::from_secs(c.timeout_secs);
    match (c.kind, target) {
        (Kind::Syslog, t) => Ok(Box::new(syslog::SyslogSender::new(
            t,
            timeout,
            c.ca_file.clone(),
        )?)),
        (_, Target::Http(url)) => {
            let token = resolve_token(c)?;
            let mut headers = Vec::new();
            for (k, v) in &c.headers {
                headers.push((
                    k.clone(),
                    expand_env(v).map_err(|e| format!("header {k}: {e}"))?,
                ));
            }
            Ok(Box::new(http::HttpSender::new(http::HttpOptions {
                kind: c.kind,
                url,
                timeout,
                token,
                headers,
                index: c.index.clone().unwrap_or_else(|| "knoxctl-alerts".into()),
                sourcetype: c
                    .sourcetype
                    .clone()
                    .unwrap_or_else(|| "knoxctl:alert".into()),
                ca_file: c.ca_file.clone(),
                ack_timeout: c.use_ack.then(|| {
                    Duration::from_secs(c.ack_timeout_secs.unwrap_or(DEFAULT_ACK_TIMEOUT_SECS))
                }),
            })?))
        }
        (k, t) => Err(format!("{k} cannot send to {}", t.display())),
    }
}

/// One forwarder's state, for `probe` and `sysdump` (in the agent's status).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ForwarderStatus {
    pub name: String,
    pub kind: String,
    pub target: String,
    /// Alerts the receiver acknowledged since the agent started.
    pub sent: u64,
    /// Alerts stored after the cursor, not acknowledged yet.
    pub pending: u64,
    /// Failed attempts since the agent started.
    pub retries: u64,
    /// Alerts deleted by retention before they could be sent (since the agent started).
    pub lost: u64,
    /// Alerts the receiver acknowledged but refused for good.
    #[serde(default)]
    pub rejected: u64,
    /// The id of the last alert acknowledged (the cursor).
    pub cursor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Epoch seconds of the last acknowledged batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_success: Option<i64>,
}

/// What the agent lends the forwarders.
pub struct Context {
    pub state_dir: PathBuf,
    /// The writer's commit count: new alerts to forward when it moves.
    pub commits: Box<dyn Fn() -> u64 + Send + Sync>,
    /// Raises the alert that says alerts were lost.
    pub raise: Box<dyn Fn(Alert) + Send + Sync>,
    pub cluster_name: String,
    pub host_name: String,
}

struct Shared {
    status: Mutex<ForwarderStatus>,
    stop: AtomicBool,
    /// Set by `stop`, waited on by sleeps.
    bell: (Mutex<bool>, Condvar),
    /// Signalled by `stop` too: ends an idle wait on the [`CommitWatch`].
    wake: Option<EventFd>,
}

impl Shared {
    fn update(&self, f: impl FnOnce(&mut ForwarderStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Sleeps for `d` unless stopped first; returns whether stopping.
    fn sleep(&self, d: Duration) -> bool {
        let (m, c) = &self.bell;
        let guard = m.lock().unwrap_or_else(|p| p.into_inner());
        let _ = c
            .wait_timeout_while(guard, d, |rang| !*rang)
            .unwrap_or_else(|p| p.into_inner());
        self.stop.load(Ordering::Relaxed)
    }
}

/// The running forwarders.
pub struct Forwarders {
    workers: Vec<(Arc<Shared>, std::thread::JoinHandle<()>)>,
}

/// Reads forwarders' status while they run (for the agent's status).
#[derive(Clone)]
pub struct StatusHandle(Vec<Arc<Shared>>);

impl StatusHandle {
    pub fn get(&self) -> Vec<ForwarderStatus> {
        self.0
            .iter()
            .map(|s| s.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .collect()
    }
}

impl Forwarders {
    /// Starts a thread per forwarder.
    pub fn start(configs: &[ForwarderConfig], ctx: Context) -> std::io::Result<Forwarders> {
        let ctx = Arc::new(ctx);
        let mut workers = Vec::new();
        for c in configs {
            let target = Target::parse(c.kind, &c.address)
                .map(|t| t.display())
                .unwrap_or_else(|_| c.address.clone());
            let shared = Arc::new(Shared {
                status: Mutex::new(ForwarderStatus {
                    name: c.name.clone(),
                    kind: c.kind.to_string(),
                    target,
                    ..Default::default()
                }),
                stop: AtomicBool::new(false),
                bell: (Mutex::new(false), Condvar::new()),
                wake: EventFd::new().ok(),
            });
            let (s, c, ctx) = (shared.clone(), c.clone(), ctx.clone());
            let handle = std::thread::Builder::new()
                .name(format!("forward-{}", c.name))
                .spawn(move || Worker::new(c, s, ctx).run())?;
            workers.push((shared, handle));
        }
        Ok(Forwarders { workers })
    }

    pub fn status_handle(&self) -> StatusHandle {
        StatusHandle(self.workers.iter().map(|(s, _)| s.clone()).collect())
    }

    /// Stops every forwarder: each sends what it can within [`SHUTDOWN_BOUND`] (the rest
    /// waits in the store behind its cursor).
    pub fn stop(self) -> Vec<ForwarderStatus> {
        let deadline = Instant::now() + SHUTDOWN_BOUND;
        for (s, _) in &self.workers {
            *s.bell.0.lock().unwrap_or_else(|p| p.into_inner()) = true;
            s.stop.store(true, Ordering::Relaxed);
            s.bell.1.notify_all();
            if let Some(w) = &s.wake {
                w.signal();
            }
        }
        let handle = StatusHandle(self.workers.iter().map(|(s, _)| s.clone()).collect());
        for (_, h) in self.workers {
            // A worker stuck in a receiver's timeout past the bound is left behind: the
            // process exits after this anyway, and its cursor says what was acknowledged.
            while !h.is_finished() && Instant::now() < deadline + Duration::from_secs(1) {
                std::thread::sleep(Duration::from_millis(10));
            }
            if h.is_finished() {
                let _ = h.join();
            }
        }
        handle.get()
    }
}

/// A cursor file: the id of the last alert the receiver acknowledged.
pub struct Cursor {
    path: PathBuf,
    dir: PathBuf,
}

impl Cursor {
    pub fn new(state_dir: &Path, name: &str) -> Cursor {
        let dir = state_dir.join(CURSOR_DIR);
        Cursor {
            path: dir.join(format!("{name}.cursor")),
            dir,
        }
    }

    /// The saved id, or None for a new forwarder.
    pub fn load(&self) -> std::io::Result<Option<i64>> {
        match std::fs::read_to_string(&self.path) {
            Ok(s) => s.trim().parse().map(Some).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: not an alert id", self.path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Saves `id` durably: a crash leaves either the old or the new cursor.
    pub fn save(&self, id: i64) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self.path.with_extension("cursor.tmp");
        {
            let mut f = std::fs::File::create(&tmp)?;
            writeln!(f, "{id}")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &self.path)?;
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

struct Worker {
    config: ForwarderConfig,
    shared: Arc<Shared>,
    ctx: Arc<Context>,
    cursor_file: Cursor,
    sender: Option<Box<dyn Sender>>,
    backoff: Duration,
    /// The batch size in use (halved when the receiver says a request is too large).
    batch_size: usize,
}

impl Worker {
    fn new(config: ForwarderConfig, shared: Arc<Shared>, ctx: Arc<Context>) -> Worker {
        Worker {
            cursor_file: Cursor::new(&ctx.state_dir, &config.name),
            batch_size: config.batch_size,
            config,
            shared,
            ctx,
            sender: None,
            backoff: FIRST_BACKOFF,
        }
    }

    fn error(&self, e: impl std::fmt::Display) {
        let msg = e.to_string();
        tracing::warn!(forwarder = %self.config.name, error = %msg, "forwarding failed");
        self.shared.update(|s| s.last_error = Some(msg));
    }

    /// Waits after a failure (doubling the next wait); returns whether stopping.
    fn back_off(&mut self) -> bool {
        let d = self.backoff;
        self.backoff = (self.backoff * 2).min(Duration::from_secs(self.config.max_backoff_secs));
        self.shared.sleep(d)
    }

    fn run(mut self) {
        // The writer creates the store before forwarders start; open it read-only.
        let store = loop {
            match Store::open_readonly(&self.ctx.state_dir) {
                Ok(s) => break s,
                Err(e) => {
                    self.error(e);
                    if self.back_off() {
                        return;
                    }
                }
            }
        };
        let mut cursor = loop {
            let loaded = self.cursor_file.load().and_then(|c| match c {
                Some(c) => Ok(c),
                None => {
                    // New: from the newest alert on.
                    let last = store.last_id().map_err(std::io::Error::other)?;
                    self.cursor_file.save(last)?;
                    Ok(last)
                }
            });
            match loaded {
                Ok(c) => break c,
                Err(e) => {
                    self.error(format!("cursor {}: {e}", self.cursor_file.path.display()));
                    if self.back_off() {
                        return;
                    }
                }
            }
        };
        self.backoff = FIRST_BACKOFF;
        self.shared.update(|s| s.cursor = cursor);
        // Made before the first look at the store: a commit after that look is seen.
        let watch = match (&self.shared.wake, CommitWatch::new(&self.ctx.state_dir)) {
            (Some(wake), Ok(w)) => Some((w, wake.fd())),
            (_, Err(e)) => {
                tracing::debug!(forwarder = %self.config.name, error = %e, "no inotify: polling the store");
                None
            }
            (None, Ok(_)) => None,
        };
        let mut stop_at: Option<Instant> = None;
        loop {
            if stop_at.is_none() && self.shared.stop.load(Ordering::Relaxed) {
                stop_at = Some(Instant::now() + SHUTDOWN_BOUND);
            }
            if stop_at.is_some_and(|t| Instant::now() >= t) {
                return;
            }
            let commits = (self.ctx.commits)();
            let batch = match self.next_batch(&store, &mut cursor) {
                Ok(b) => b,
                Err(e) => {
                    self.error(e);
                    if self.back_off() && stop_at.is_some() {
                        return;
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                if stop_at.is_some() {
                    return;
                }
                // Idle: wait for the writer to commit something.
                let mut timeout = POLL;
                while commits == (self.ctx.commits)() {
                    let (stopping, written) = match &watch {
                        Some((w, wake)) => {
                            let written = w.wait_or(Some(*wake), timeout);
                            (self.shared.stop.load(Ordering::Relaxed), written)
                        }
                        None => (self.shared.sleep(POLL), false),
                    };
                    if stopping {
                        break;
                    }
                    // The write may be a commit still under way (inotify fires at its
                    // first write to the WAL, its count comes after its last): look at
                    // the count again soon, as no further write may announce it.
                    timeout = if written { RECHECK } else { POLL };
                }
                continue;
            }
            match self.deliver(&store, cursor, &batch, stop_at) {
                Some(last) => {
                    cursor = last;
                    self.save_cursor(cursor, stop_at);
                }
                None => return, // stopping with the batch unacknowledged
            }
        }
    }

    /// The next alerts after `cursor`; moves `cursor` over alerts retention deleted first
    /// (counting them as lost and saying so).
    fn next_batch(
        &mut self,
        store: &Store,
        cursor: &mut i64,
    ) -> Result<Vec<(i64, Alert)>, StoreError> {
        let last = store.last_id()?;
        if last < *cursor {
            // The store was removed and started again: its ids start again too.
            tracing::warn!(forwarder = %self.config.name, cursor = *cursor, last, "the alert store is newer than this forwarder's cursor: starting from its first alert");
            *cursor = 0;
            self.save_cursor(0, None);
        }
        let mut batch = Vec::new();
        store.for_each_after(*cursor, self.batch_size, |id, a| {
            batch.push((id, a.clone()));
            Ok::<_, StoreError>(())
        })?;
        // Ids are dense: a gap after the cursor is alerts retention deleted.
        let first = batch.first().map_or(last + 1, |(id, _)| *id);
        if first > *cursor + 1 {
            let lost = (first - *cursor - 1) as u64;
            self.lost(*cursor + 1, first - 1, lost);
            *cursor = first - 1;
            self.save_cursor(*cursor, None);
        }
        let pending = (last - *cursor).max(0) as u64;
        self.shared.update(|s| {
            s.pending = pending;
            s.cursor = *cursor;
        });
        Ok(batch)
    }

    fn lost(&self, from: i64, to: i64, n: u64) {
        let name = &self.config.name;
        tracing::error!(forwarder = %name, lost = n, from, to, "alerts deleted by retention before they were forwarded");
        self.shared.update(|s| s.lost += n);
        let now = crate::kernel::clock::now_epoch_ns();
        let secs = (now / 1_000_000_000) as i64;
        (self.ctx.raise)(Alert {
            timestamp: secs,
            updated_time: crate::alert::format_rfc3339(secs, (now % 1_000_000_000) as u32),
            cluster_name: self.ctx.cluster_name.clone(),
            host_name: self.ctx.host_name.clone(),
            kind: "SystemEvent".into(),
            resource: self.config.name.clone(),
            severity: "8".into(),
            atags: vec!["forward-lost".into(), format!("count={n}")],
            message: format!(
                "forwarder {name}: {n} alerts (store ids {from} to {to}) were deleted by retention (alerts.maxRows, alerts.maxAgeDays) before the receiver acknowledged them; they are lost to this forwarder"
            ),
            enforcer: "knoxctl".into(),
            action: "Audit".into(),
            ..Default::default()
        });
    }

    /// Sends `batch` until the receiver acknowledges it (Some(last id sent)) or the
    /// forwarder stops (None).
    fn deliver(
        &mut self,
        store: &Store,
        mut acked: i64,
        batch: &[(i64, Alert)],
        mut stop_at: Option<Instant>,
    ) -> Option<i64> {
        let mut done = 0;
        while done < batch.len() {
            if stop_at.is_none() && self.shared.stop.load(Ordering::Relaxed) {
                stop_at = Some(Instant::now() + SHUTDOWN_BOUND);
            }
            if stop_at.is_some_and(|t| Instant::now() >= t) {
                return (done > 0).then(|| batch[done - 1].0);
            }
            let part = &batch[done..(done + self.batch_size).min(batch.len())];
            let result = match &mut self.sender {
                Some(s) => s.send(part),
                None => match connect(&self.config) {
                    Ok(mut s) => {
                        let r = s.send(part);
                        self.sender = Some(s);
                        r
                    }
                    Err(e) => Err(SendError::Retry(e)),
                },
            };
            match result {
                Ok(d) => {
                    done += part.len();
                    let n = part.len() as u64;
                    self.backoff = FIRST_BACKOFF;
                    if d.rejected > 0 {
                        tracing::warn!(forwarder = %self.config.name, rejected = d.rejected, why = ?d.why, "receiver refused alerts");
                    }
                    self.shared.update(|s| {
                        s.sent += n - d.rejected.min(n);
                        s.rejected += d.rejected;
                        s.last_success = Some(crate::kernel::clock::now_epoch());
                        if d.rejected > 0 {
                            s.last_error = d.why.clone();
                        }
                    });
                    acked = batch[done - 1].0;
                    if let Ok(last) = store.last_id() {
                        self.shared
                            .update(|s| s.pending = (last - acked).max(0) as u64);
                    }
                    if done < batch.len() {
                        // Acknowledged so far: keep it even if the rest fails.
                        self.save_cursor(acked, stop_at);
                    }
                }
                Err(e) => {
                    self.shared.update(|s| s.retries += 1);
                    if let SendError::TooLarge(_) = e
                        && self.batch_size > 1
                    {
                        self.batch_size = (self.batch_size / 2).max(1);
                    }
                    self.error(&e);
                    // What waits keeps growing during an outage: say so.
                    if let Ok(last) = store.last_id() {
                        self.shared
                            .update(|s| s.pending = (last - acked).max(0) as u64);
                    }
                    // A broken connection is rebuilt; HTTP clients pool their own.
                    if self.config.kind == Kind::Syslog {
                        self.sender = None;
                    }
                    // Shutting down: no retries (the batch waits in the store).
                    if stop_at.is_some() || self.back_off() {
                        return (done > 0).then(|| batch[done - 1].0);
                    }
                }
            }
        }
        Some(batch[batch.len() - 1].0)
    }

    fn save_cursor(&mut self, id: i64, stop_at: Option<Instant>) {
        self.shared.update(|s| s.cursor = id);
        // Not saved means sent again after a restart: retried, never skipped.
        while let Err(e) = self.cursor_file.save(id) {
            self.error(format!("cursor {}: {e}", self.cursor_file.path.display()));
            if self.back_off() || stop_at.is_some() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: Kind, address: &str) -> ForwarderConfig {
        ForwarderConfig {
            name: "siem".into(),
            kind,
            address: address.into(),
            batch_size: 500,
            max_backoff_secs: 60,
            timeout_secs: 10,
            headers: BTreeMap::new(),
            token: None,
            token_file: None,
            index: None,
            sourcetype: None,
            use_ack: false,
            ack_timeout_secs: None,
            ca_file: None,
        }
    }

    #[test]
    fn targets_parse_and_hide_credentials() {
        assert_eq!(
            Target::parse(Kind::Syslog, "udp://127.0.0.1:514"),
            Ok(Target::Udp("127.0.0.1:514".into()))
        );
        assert_eq!(
            Target::parse(Kind::Syslog, "tls://logs.example:6514"),
            Ok(Target::Tls(
                "logs.example".into(),
                "logs.example:6514".into()
            ))
        );
        assert_eq!(
            Target::parse(Kind::Syslog, "unix:///dev/log"),
            Ok(Target::Unix("/dev/log".into()))
        );
        assert!(Target::parse(Kind::Syslog, "tcp://host").is_err());
        assert!(Target::parse(Kind::Syslog, "tcp://host:99999").is_err());
        assert!(Target::parse(Kind::Syslog, "http://host:80").is_err());
        assert!(Target::parse(Kind::Webhook, "udp://h:1").is_err());
        assert_eq!(
            Target::parse(Kind::Splunk, "https://splunk:8088"),
            Ok(Target::Http(
                "https://splunk:8088/services/collector/event".into()
            ))
        );
        assert_eq!(
            Target::parse(Kind::Elasticsearch, "http://es:9200/"),
            Ok(Target::Http("http://es:9200/_bulk".into()))
        );
        assert_eq!(
            Target::parse(Kind::Otlp, "http://otel:4318/custom/logs"),
            Ok(Target::Http("http://otel:4318/custom/logs".into()))
        );
        let t = Target::parse(Kind::Webhook, "https://u:secret@hook.example/in?key=k").unwrap();
        assert_eq!(t.display(), "https://hook.example/in");
    }

    #[test]
    fn validation_names_the_field() {
        let mut c = cfg(Kind::Syslog, "udp://127.0.0.1:514");
        assert_eq!(validate(std::slice::from_ref(&c)), Ok(()));
        c.token = Some("x".into());
        assert_eq!(
            validate(std::slice::from_ref(&c)).unwrap_err().field,
            "token"
        );
        let two = [
            cfg(Kind::Syslog, "udp://a:1"),
            cfg(Kind::Webhook, "http://a"),
        ];
        let e = validate(&two).unwrap_err();
        assert_eq!((e.index, e.field), (1, "name"));
        assert!(e.msg.contains("used twice"), "{}", e.msg);
        let e = validate(&[cfg(Kind::Splunk, "http://a")]).unwrap_err();
        assert_eq!(e.field, "token");
        let mut c = cfg(Kind::Webhook, "http://a");
        c.name = "../x".into();
        assert_eq!(validate(&[c]).unwrap_err().field, "name");
        let mut c = cfg(Kind::Webhook, "http://a");
        c.batch_size = 0;
        assert_eq!(validate(&[c]).unwrap_err().field, "batchSize");
        let mut c = cfg(Kind::Webhook, "http://a");
        c.use_ack = true;
        let e = validate(&[c]).unwrap_err();
        assert_eq!(e.field, "useAck");
        assert!(e.msg.contains("for splunk forwarders"), "{}", e.msg);
        let mut c = cfg(Kind::Splunk, "http://a");
        c.token = Some("t".into());
        c.ack_timeout_secs = Some(5);
        assert_eq!(validate(&[c.clone()]).unwrap_err().field, "ackTimeoutSecs");
        c.use_ack = true;
        assert_eq!(validate(&[c]), Ok(()));
    }

    #[test]
    fn secrets_come_from_the_environment() {
        // SAFETY: a variable only this test reads.
        unsafe { std::env::set_var("KNOXCTL_FWD_TEST_TOKEN", "s3cret") };
        assert_eq!(
            expand_env("Bearer ${KNOXCTL_FWD_TEST_TOKEN}").unwrap(),
            "Bearer s3cret"
        );
        let e = expand_env("${KNOXCTL_FWD_TEST_UNSET}").unwrap_err();
        assert_eq!(e, "environment variable KNOXCTL_FWD_TEST_UNSET is not set");
        assert!(expand_env("${OPEN").is_err());
        assert_eq!(expand_env("plain").unwrap(), "plain");
    }

    #[test]
    fn cursor_is_saved_and_loaded() {
        let dir = std::env::temp_dir().join(format!("knoxctl-fwd-cursor-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Cursor::new(&dir, "siem");
        assert_eq!(c.load().unwrap(), None);
        c.save(42).unwrap();
        assert_eq!(c.load().unwrap(), Some(42));
        c.save(43).unwrap();
        assert_eq!(Cursor::new(&dir, "siem").load().unwrap(), Some(43));
        std::fs::write(dir.join(CURSOR_DIR).join("siem.cursor"), "junk").unwrap();
        assert!(c.load().is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn stable_ids_do_not_depend_on_the_attempt() {
        let a = Alert {
            timestamp: 1_700_000_000,
            host_name: "vm1".into(),
            ..Default::default()
        };
        assert_eq!(stable_id(7, &a), "vm1-1700000000-7");
        assert_eq!(alert_json(7, &a)["AlertID"], "vm1-1700000000-7");
    }
}
