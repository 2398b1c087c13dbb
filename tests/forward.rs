//! Alert forwarding (issue #17, item 2) against real receivers on loopback: rsyslog from
//! Debian (our own rsyslogd child, with its own configuration, ports and output file) for
//! syslog over UDP, TCP and the local socket; a rustls server for syslog over TLS; HTTP
//! receivers written here that fail on purpose (500s, connection refused, too slow). The
//! agent test runs a real agent that blocks execs, takes the receiver down for 30 s during
//! a burst of alerts (restarting the agent meanwhile) and checks that every alert arrives,
//! none twice; another lets retention delete alerts a forwarder could not send.
//!
//! `cargo test --release --test forward -- --ignored throughput --nocapture` measures each
//! kind's throughput to a loopback receiver (BENCHMARKS.md).

mod common;

use common::*;
use knoxctl::alert::Alert;
use knoxctl::alert::store::{AlertWriter, Retention, WriterOptions};
use knoxctl::forward::{Context, ForwarderConfig, ForwarderStatus, Forwarders, Kind};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("knoxctl-fwd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config(name: &str, kind: Kind, address: &str) -> ForwarderConfig {
    ForwarderConfig {
        name: name.into(),
        kind,
        address: address.into(),
        batch_size: 500,
        max_backoff_secs: 1,
        timeout_secs: 2,
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

/// A store with its writer, and forwarders reading it (the agent's arrangement).
struct Bench {
    dir: PathBuf,
    writer: Option<AlertWriter>,
    sender: knoxctl::alert::store::AlertSender,
    forwarders: Option<Forwarders>,
    sent: u64,
}

impl Bench {
    fn new(tag: &str) -> Bench {
        let dir = scratch(tag);
        let (writer, sender) = AlertWriter::spawn_with(
            &dir,
            Retention::default(),
            WriterOptions {
                flush_interval: Duration::from_millis(20),
                ..WriterOptions::default()
            },
        )
        .unwrap();
        Bench {
            dir,
            writer: Some(writer),
            sender,
            forwarders: None,
            sent: 0,
        }
    }

    fn start(&mut self, configs: &[ForwarderConfig]) {
        knoxctl::forward::validate(configs).unwrap();
        let stats = self.writer.as_ref().unwrap().stats_handle();
        let raise = self.sender.clone();
        self.forwarders = Some(
            Forwarders::start(
                configs,
                Context {
                    state_dir: self.dir.clone(),
                    commits: Box::new(move || stats().batches),
                    raise: Box::new(move |a| {
                        raise.send(a);
                    }),
                    cluster_name: "test".into(),
                    host_name: "fwd-test".into(),
                },
            )
            .unwrap(),
        );
        // Each forwarder has saved its first cursor (the newest alert) once it reports one.
        wait_until("cursors", Duration::from_secs(10), || {
            configs.iter().all(|c| {
                self.dir
                    .join("forward")
                    .join(format!("{}.cursor", c.name))
                    .exists()
            })
        });
    }

    /// `n` alerts, committed.
    fn alerts(&mut self, n: u64) {
        let stored = self.writer.as_ref().unwrap().stats().stored;
        for _ in 0..n {
            self.sent += 1;
            let i = self.sent;
            assert!(self.sender.send_wait(Alert {
                timestamp: 1_765_000_000 + i as i64,
                updated_time: format!("2025-12-06T05:46:{:02}.{i:09}Z", i % 60),
                host_name: "fwd-test".into(),
                cluster_name: "test".into(),
                host_pid: i as i32,
                policy_name: "fwd-policy".into(),
                action: "Block".into(),
                operation: "Process".into(),
                resource: format!("/usr/bin/tool-{i}"),
                message: "blocked".into(),
                kind: "MatchedHostPolicy".into(),
                ..Default::default()
            }));
        }
        let w = self.writer.as_ref().unwrap();
        wait_until("alerts stored", Duration::from_secs(60), || {
            w.stats().stored >= stored + n
        });
    }

    fn status(&self) -> Vec<ForwarderStatus> {
        self.forwarders.as_ref().unwrap().status_handle().get()
    }

    fn status_of(&self, name: &str) -> ForwarderStatus {
        self.status().into_iter().find(|s| s.name == name).unwrap()
    }

    fn wait_sent(&self, name: &str, n: u64, limit: Duration) -> ForwarderStatus {
        let start = Instant::now();
        loop {
            let s = self.status_of(name);
            if s.sent >= n {
                return s;
            }
            assert!(
                start.elapsed() < limit,
                "{name}: only {s:?} after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Some(f) = self.forwarders.take() {
            f.stop();
        }
        if let Some(w) = self.writer.take() {
            w.shutdown();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- an HTTP receiver that fails on purpose ----

#[derive(Clone, Debug)]
struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

#[derive(Default)]
struct Behaviour {
    /// Answer 500 to this many requests (not accepted).
    fail: usize,
    /// Accept (record) the next this many requests, but answer only after `delay`.
    slow: usize,
    delay: Duration,
    /// Accepted requests.
    accepted: Vec<Request>,
    /// Every request, accepted or not.
    seen: usize,
    /// Splunk HEC with indexer acknowledgement: event requests need a channel and are
    /// answered with an ackId; `/services/collector/ack` polls are answered below.
    splunk_ack: bool,
    /// Answer 503 to this many ack polls (the batch stays taken).
    ack_errors: usize,
    /// Answer "not indexed yet" to this many ack polls.
    ack_pending: usize,
    /// AckIds never confirmed: the indexer lost those batches.
    ack_lost: Vec<u64>,
    /// Ack polls: (channel query, the acks asked for).
    ack_polls: Vec<(String, serde_json::Value)>,
}

struct HttpReceiver {
    port: u16,
    state: Arc<Mutex<Behaviour>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn read_request(s: &mut TcpStream) -> Option<Request> {
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
    }
    let len: usize = headers.get("content-length")?.parse().ok()?;
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        headers,
        body,
    })
}

impl HttpReceiver {
    fn start(port: u16, state: Arc<Mutex<Behaviour>>) -> HttpReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (st, stop2) = (state.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || {
                            s.set_nonblocking(false).unwrap();
                            let Some(req) = read_request(&mut s) else {
                                return;
                            };
                            let splunk_ack = st.lock().unwrap().splunk_ack;
                            if splunk_ack {
                                let (code, body) = splunk_answer(&st, &req);
                                let _ = write!(
                                    s,
                                    "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                    body.len()
                                );
                                return;
                            }
                            let (code, delay) = {
                                let mut b = st.lock().unwrap();
                                b.seen += 1;
                                if b.fail > 0 {
                                    b.fail -= 1;
                                    (500, Duration::ZERO)
                                } else {
                                    b.accepted.push(req.clone());
                                    if b.slow > 0 {
                                        b.slow -= 1;
                                        (200, b.delay)
                                    } else {
                                        (200, Duration::ZERO)
                                    }
                                }
                            };
                            std::thread::sleep(delay);
                            let body = if req.path == "/_bulk" {
                                r#"{"took":1,"errors":false,"items":[]}"#
                            } else if code == 500 {
                                "on purpose"
                            } else {
                                "{}"
                            };
                            let _ = write!(
                                s,
                                "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            );
                        });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        HttpReceiver {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// Closes the listening socket: connections are refused until it starts again.
    fn down(mut self) -> (u16, Arc<Mutex<Behaviour>>) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (self.port, self.state.clone())
    }

    fn accepted(&self) -> Vec<Request> {
        self.state.lock().unwrap().accepted.clone()
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a Splunk HEC with indexer acknowledgement answers: an event request on a channel
/// is taken (recorded) and given the next ackId, one without a channel refused (code 10,
/// as Splunk does); an ack poll says which of the ackIds asked for are indexed.
fn splunk_answer(st: &Mutex<Behaviour>, req: &Request) -> (u16, String) {
    let mut b = st.lock().unwrap();
    b.seen += 1;
    if req.path.starts_with("/services/collector/ack") {
        let asked: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let channel = req.path.split_once('?').map_or("", |(_, q)| q).to_string();
        b.ack_polls.push((channel, asked.clone()));
        if b.ack_errors > 0 {
            b.ack_errors -= 1;
            return (503, r#"{"text":"Server is busy","code":9}"#.into());
        }
        let pending = b.ack_pending > 0;
        b.ack_pending = b.ack_pending.saturating_sub(1);
        let mut acks = serde_json::Map::new();
        for id in asked["acks"].as_array().into_iter().flatten() {
            let id = id.as_u64().unwrap();
            acks.insert(
                id.to_string(),
                (!pending && !b.ack_lost.contains(&id)).into(),
            );
        }
        return (200, serde_json::json!({ "acks": acks }).to_string());
    }
    if !req.headers.contains_key("x-splunk-request-channel") {
        return (
            400,
            r#"{"text":"Data channel is missing","code":10}"#.into(),
        );
    }
    let ack_id = b.accepted.len();
    b.accepted.push(req.clone());
    (
        200,
        format!(r#"{{"text":"Success","code":0,"ackId":{ack_id}}}"#),
    )
}

/// The alerts (as JSON) a request carried, in each kind's format.
fn alerts_in(kind: Kind, req: &Request) -> Vec<serde_json::Value> {
    let text = std::str::from_utf8(&req.body).unwrap();
    match kind {
        Kind::Webhook => serde_json::from_str::<Vec<serde_json::Value>>(text).unwrap(),
        Kind::Splunk => text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].clone())
            .collect(),
        Kind::Elasticsearch => {
            let lines: Vec<serde_json::Value> = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            lines
                .chunks(2)
                .map(|p| {
                    assert_eq!(p[0]["index"]["_id"], p[1]["AlertID"], "_id is the AlertID");
                    p[1].clone()
                })
                .collect()
        }
        Kind::Otlp => {
            let v: serde_json::Value = serde_json::from_str(text).unwrap();
            v["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let mut m = serde_json::Map::new();
                    for a in r["attributes"].as_array().unwrap() {
                        let v = &a["value"];
                        let v = v
                            .get("stringValue")
                            .cloned()
                            .or_else(|| v.get("intValue").cloned())
                            .unwrap_or_default();
                        m.insert(a["key"].as_str().unwrap().to_string(), v);
                    }
                    serde_json::Value::Object(m)
                })
                .collect()
        }
        Kind::Syslog => unreachable!(),
    }
}

/// AlertIDs received, with how many times each.
fn id_counts(kind: Kind, reqs: &[Request]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in reqs {
        for a in alerts_in(kind, r) {
            *m.entry(a["AlertID"].as_str().unwrap().to_string())
                .or_insert(0) += 1;
        }
    }
    m
}

#[test]
fn http_kinds_retry_server_errors_and_deliver_each_alert_once() {
    // SAFETY: read only by this test's forwarders.
    unsafe { std::env::set_var("KNOXCTL_FWD_TEST_SECRET", "t0ken") };
    let kinds = [
        (Kind::Webhook, "/hook", "Bearer t0ken"),
        (Kind::Splunk, "/services/collector/event", "Splunk t0ken"),
        (Kind::Elasticsearch, "/_bulk", "ApiKey t0ken"),
        (Kind::Otlp, "/v1/logs", "Bearer t0ken"),
    ];
    let mut bench = Bench::new("http");
    let mut receivers = Vec::new();
    let mut configs = Vec::new();
    for (kind, path, _) in kinds {
        let state = Arc::new(Mutex::new(Behaviour {
            fail: 2,
            ..Default::default()
        }));
        let r = HttpReceiver::start(0, state);
        let base = format!("http://127.0.0.1:{}", r.port);
        let mut c = config(
            &kind.to_string(),
            kind,
            &if kind == Kind::Webhook {
                format!("{base}{path}")
            } else {
                base
            },
        );
        c.batch_size = 7;
        c.token = Some("${KNOXCTL_FWD_TEST_SECRET}".into());
        c.headers.insert("X-Origin".into(), "knoxctl-test".into());
        receivers.push(r);
        configs.push(c);
    }
    bench.start(&configs);
    bench.alerts(30);
    for ((kind, path, auth), r) in kinds.iter().zip(&receivers) {
        let s = bench.wait_sent(&kind.to_string(), 30, Duration::from_secs(20));
        assert_eq!((s.sent, s.pending, s.lost), (30, 0, 0), "{kind}: {s:?}");
        assert!(s.retries >= 2, "{kind}: two 500s are retries: {s:?}");
        assert!(
            s.last_error.as_deref().unwrap_or("").contains("HTTP 500"),
            "{kind}: {s:?}"
        );
        assert!(
            !s.last_error.unwrap().contains("t0ken"),
            "no secret in errors"
        );
        assert!(s.last_success.is_some());
        let reqs = r.accepted();
        for q in &reqs {
            assert_eq!(&q.path, path, "{kind}");
            assert_eq!(q.headers["authorization"], *auth, "{kind}");
            assert_eq!(q.headers["x-origin"], "knoxctl-test", "{kind}");
        }
        let ids = id_counts(*kind, &reqs);
        assert_eq!(ids.len(), 30, "{kind}: every alert");
        assert!(ids.values().all(|n| *n == 1), "{kind}: none twice: {ids:?}");
        // The alert itself is there: the KubeArmor fields, by their names.
        let first = alerts_in(*kind, &reqs[0]);
        assert_eq!(first[0]["PolicyName"], "fwd-policy", "{kind}");
        assert_eq!(first[0]["Resource"], "/usr/bin/tool-1", "{kind}");
        if *kind == Kind::Webhook {
            assert!(
                reqs[0].headers["idempotency-key"].starts_with("fwd-test-1765000001-1+"),
                "{:?}",
                reqs[0].headers
            );
        }
    }
}

#[test]
fn refused_and_slow_receivers_lose_nothing_and_resends_keep_their_ids() {
    let port = free_port();
    let mut bench = Bench::new("slow");
    let mut c = config(
        "es",
        Kind::Elasticsearch,
        &format!("http://127.0.0.1:{port}"),
    );
    c.timeout_secs = 1;
    c.batch_size = 10;
    bench.start(&[c]);
    // Nobody listens: refused.
    bench.alerts(25);
    wait_until("retries while refused", Duration::from_secs(10), || {
        bench.status_of("es").retries >= 2
    });
    let s = bench.status_of("es");
    assert_eq!((s.sent, s.pending), (0, 25), "{s:?}");
    assert!(
        s.last_error
            .as_deref()
            .unwrap_or("")
            .contains("POST http://127.0.0.1"),
        "{s:?}"
    );
    // Up, but the first answer comes after the client gave up: the batch is sent again.
    let state = Arc::new(Mutex::new(Behaviour {
        slow: 1,
        delay: Duration::from_millis(2500),
        ..Default::default()
    }));
    let r = HttpReceiver::start(port, state);
    let s = bench.wait_sent("es", 25, Duration::from_secs(30));
    assert_eq!((s.sent, s.pending, s.lost), (25, 0, 0), "{s:?}");
    let ids = id_counts(Kind::Elasticsearch, &r.accepted());
    assert_eq!(ids.len(), 25, "every alert, by _id");
    let resent: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        !resent.is_empty() && resent.len() <= 10,
        "the timed-out batch came again with the same _id (Elasticsearch overwrites it): {ids:?}"
    );
}

/// Splunk HEC's indexer acknowledgement (`useAck`): every request goes on one channel, and
/// a batch HEC took counts as sent only once its ackId is confirmed. Failures after HEC took
/// a batch (ack polls answered 503, then "not indexed yet") are waited out: no event reaches
/// the receiver twice. A batch whose ackId is never confirmed (the indexer lost it) is sent
/// again after ackTimeoutSecs, every event with the AlertID it had (in the event and as the
/// indexed field), so a deduplicating receiver ends with each alert exactly once.
#[test]
fn splunk_indexer_acknowledgement_sends_a_taken_batch_once_and_a_lost_one_again() {
    let state = Arc::new(Mutex::new(Behaviour {
        splunk_ack: true,
        ack_errors: 1,
        ack_pending: 2,
        ..Default::default()
    }));
    let r = HttpReceiver::start(0, state.clone());
    let mut bench = Bench::new("splunk-ack");
    let mut c = config("hec", Kind::Splunk, &format!("http://127.0.0.1:{}", r.port));
    c.token = Some("hec-token".into());
    c.batch_size = 10;
    c.use_ack = true;
    c.ack_timeout_secs = Some(3);
    bench.start(&[c]);

    // (1) Polls fail, then say "not yet": waited out, nothing sent twice.
    bench.alerts(25);
    let s = bench.wait_sent("hec", 25, Duration::from_secs(30));
    assert_eq!((s.sent, s.pending, s.lost), (25, 0, 0), "{s:?}");
    let reqs = r.accepted();
    let ids = id_counts(Kind::Splunk, &reqs);
    assert_eq!(ids.len(), 25, "every alert");
    assert!(ids.values().all(|n| *n == 1), "none twice: {ids:?}");
    let channel = reqs[0].headers["x-splunk-request-channel"].clone();
    assert_eq!(channel.len(), 36, "a GUID: {channel}");
    for q in &reqs {
        assert_eq!(q.headers["x-splunk-request-channel"], channel);
        assert_eq!(q.headers["authorization"], "Splunk hec-token");
        for line in std::str::from_utf8(&q.body).unwrap().lines() {
            let e: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(e["fields"]["AlertID"], e["event"]["AlertID"], "{e}");
        }
    }
    {
        let b = state.lock().unwrap();
        assert!(b.ack_polls.len() >= 1 + 2 + reqs.len(), "{:?}", b.ack_polls);
        assert!(
            b.ack_polls
                .iter()
                .all(|(q, _)| *q == format!("channel={channel}")),
            "{:?}",
            b.ack_polls
        );
        assert_eq!(b.ack_polls[0].1, serde_json::json!({"acks": [0]}));
    }

    // (2) The indexer loses the next batch: sent again after ackTimeoutSecs, with the same
    // AlertIDs; deduplicated by them, each alert is there once.
    let lost = reqs.len();
    state.lock().unwrap().ack_lost.push(lost as u64);
    bench.alerts(5);
    let s = bench.wait_sent("hec", 30, Duration::from_secs(30));
    assert_eq!((s.sent, s.pending), (30, 0), "{s:?}");
    assert!(s.retries >= 1, "{s:?}");
    assert!(
        s.last_error
            .as_deref()
            .unwrap_or("")
            .contains(&format!("did not acknowledge ackId {lost}")),
        "{s:?}"
    );
    let reqs = r.accepted();
    let lost_ids: std::collections::BTreeSet<String> = id_counts(Kind::Splunk, &reqs[lost..=lost])
        .into_keys()
        .collect();
    let ids = id_counts(Kind::Splunk, &reqs);
    assert_eq!(ids.len(), 30, "every alert, by AlertID");
    let twice: std::collections::BTreeSet<String> = ids
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id.clone())
        .collect();
    assert_eq!(twice, lost_ids, "only the lost batch came again: {ids:?}");
    assert!(ids.values().all(|n| *n <= 2), "{ids:?}");
}

/// Without `useAck`, HEC's 200 is the acknowledgement: an answer that comes after the
/// forwarder gave up sends the batch again, and the resent events carry the AlertID they
/// had, so a receiver deduplicates them.
#[test]
fn splunk_resends_after_a_timeout_keep_their_alert_ids() {
    let state = Arc::new(Mutex::new(Behaviour {
        slow: 1,
        delay: Duration::from_millis(2500),
        ..Default::default()
    }));
    let r = HttpReceiver::start(0, state);
    let mut bench = Bench::new("splunk-slow");
    let mut c = config("hec", Kind::Splunk, &format!("http://127.0.0.1:{}", r.port));
    c.token = Some("hec-token".into());
    c.timeout_secs = 1;
    c.batch_size = 10;
    bench.start(&[c]);
    bench.alerts(15);
    let s = bench.wait_sent("hec", 15, Duration::from_secs(30));
    assert_eq!((s.sent, s.pending, s.lost), (15, 0, 0), "{s:?}");
    let reqs = r.accepted();
    let ids = id_counts(Kind::Splunk, &reqs);
    assert_eq!(ids.len(), 15, "every alert, by AlertID");
    let twice = ids.values().filter(|n| **n > 1).count();
    assert!(
        (1..=10).contains(&twice),
        "the timed-out batch came again under the same AlertIDs: {ids:?}"
    );
    for q in &reqs {
        for line in std::str::from_utf8(&q.body).unwrap().lines() {
            let e: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(e["fields"]["AlertID"], e["event"]["AlertID"], "{e}");
        }
    }
}

// ---- rsyslog ----

struct Rsyslog {
    dir: PathBuf,
    child: Option<std::process::Child>,
}

impl Rsyslog {
    fn start(dir: &Path, udp: u16, tcp: u16) -> Rsyslog {
        let conf = dir.join("rsyslog.conf");
        std::fs::write(
            &conf,
            format!(
                r#"global(workDirectory="{d}")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{udp}")
input(type="imtcp" address="127.0.0.1" port="{tcp}")
input(type="imuxsock" socket="{d}/log" useSpecialParser="off" parseHostname="on")
template(name="fwd" type="string" string="%inputname% %app-name% %msgid% %structured-data% %msg%\n")
action(type="omfile" file="{d}/out.log" template="fwd")
"#,
                d = dir.display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("/usr/sbin/rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&conf)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("rsyslogd.log")).unwrap())
            .spawn()
            .expect("start rsyslogd");
        let r = Rsyslog {
            dir: dir.to_path_buf(),
            child: Some(child),
        };
        wait_until("rsyslogd listening", Duration::from_secs(10), || {
            TcpStream::connect(("127.0.0.1", tcp)).is_ok() && dir.join("log").exists()
        });
        r
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// (input, sequenceId, alert JSON) of each line written so far.
    fn lines(&self) -> Vec<(String, i64, serde_json::Value)> {
        let text = std::fs::read_to_string(self.dir.join("out.log")).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains(" knoxctl alert "))
            .map(|l| {
                let mut parts = l.splitn(4, ' ');
                let input = parts.next().unwrap().to_string();
                assert_eq!(parts.next(), Some("knoxctl"), "{l}");
                assert_eq!(parts.next(), Some("alert"), "{l}");
                let (sd, msg) = parts.next().unwrap().split_once("] ").unwrap();
                let seq = sd
                    .strip_prefix("[meta sequenceId=\"")
                    .and_then(|s| s.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("structured data: {l}"))
                    .parse()
                    .unwrap();
                let json =
                    serde_json::from_str(msg.trim_start()).unwrap_or_else(|e| panic!("{e}: {l}"));
                (input, seq, json)
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn rsyslog_present() -> bool {
    prerequisite(
        Path::new("/usr/sbin/rsyslogd").exists(),
        "rsyslogd (Debian's rsyslog package) is not installed",
    )
}

#[test]
fn syslog_reaches_rsyslog_over_udp_tcp_and_the_local_socket() {
    if !rsyslog_present() {
        return;
    }
    let dir = scratch("rsyslog");
    let (udp, tcp) = (free_port(), free_port());
    let mut rsyslog = Rsyslog::start(&dir, udp, tcp);
    let mut bench = Bench::new("syslog");
    let mut t = config("tcp", Kind::Syslog, &format!("tcp://127.0.0.1:{tcp}"));
    t.batch_size = 8;
    bench.start(&[
        config("udp", Kind::Syslog, &format!("udp://127.0.0.1:{udp}")),
        t,
        config(
            "local",
            Kind::Syslog,
            &format!("unix://{}", dir.join("log").display()),
        ),
    ]);
    bench.alerts(40);
    for name in ["udp", "tcp", "local"] {
        bench.wait_sent(name, 40, Duration::from_secs(10));
    }
    let count = |input: &str, lines: &[(String, i64, serde_json::Value)]| {
        lines.iter().filter(|(i, _, _)| i == input).count()
    };
    wait_until("rsyslog wrote 120 lines", Duration::from_secs(10), || {
        rsyslog.lines().len() >= 120
    });
    let lines = rsyslog.lines();
    assert_eq!(count("imudp", &lines), 40);
    assert_eq!(count("imtcp", &lines), 40);
    assert_eq!(count("imuxsock", &lines), 40);
    for (_, seq, json) in &lines {
        assert_eq!(
            json["AlertID"],
            format!("fwd-test-{}-{seq}", 1_765_000_000 + seq)
        );
        assert_eq!(json["Resource"], format!("/usr/bin/tool-{seq}"));
    }

    // rsyslog restarts: TCP waits for it and sends every alert once.
    rsyslog.stop();
    bench.alerts(20);
    wait_until("a refused connection", Duration::from_secs(10), || {
        bench.status_of("tcp").pending == 20
    });
    std::thread::sleep(Duration::from_millis(1500));
    let rsyslog = Rsyslog::start(&dir, udp, tcp);
    let s = bench.wait_sent("tcp", 60, Duration::from_secs(20));
    assert!(s.retries >= 1, "{s:?}");
    wait_until(
        "rsyslog wrote 60 TCP lines",
        Duration::from_secs(10),
        || count("imtcp", &rsyslog.lines()) >= 60,
    );
    let tcp_seqs: Vec<i64> = rsyslog
        .lines()
        .into_iter()
        .filter(|(i, _, _)| i == "imtcp")
        .map(|(_, s, _)| s)
        .collect();
    assert_eq!(
        tcp_seqs,
        (1..=60).collect::<Vec<_>>(),
        "every alert once, in order"
    );
    drop(bench);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- syslog over TLS: a rustls server (Debian's rsyslog package has no TLS driver) ----

fn certificate(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost"])
        // An end-entity certificate (webpki refuses a CA one as the server's).
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    prerequisite(ok, "openssl (to make the TLS receiver's certificate)").then_some((cert, key))
}

/// Messages a TLS receiver got, and how many connections it accepted.
type TlsGot = Arc<Mutex<(Vec<String>, usize)>>;

/// Accepts TLS connections; reads octet-counted frames; the first connection is closed by
/// the server after `close_after` messages.
fn tls_receiver(cert: &Path, key: &Path, close_after: usize) -> (u16, TlsGot) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = Arc::new(Mutex::new((Vec::new(), 0usize)));
    let g = got.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(sock) = stream else { return };
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut tls = rustls::StreamOwned::new(conn, sock);
            let first = {
                let mut g = g.lock().unwrap();
                g.1 += 1;
                g.1 == 1
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                // Whole frames: MSG-LEN SP MSG.
                while let Some(sp) = buf.iter().position(|b| *b == b' ') {
                    let len: usize = std::str::from_utf8(&buf[..sp]).unwrap().parse().unwrap();
                    if buf.len() < sp + 1 + len {
                        break;
                    }
                    let msg = String::from_utf8(buf[sp + 1..sp + 1 + len].to_vec()).unwrap();
                    buf.drain(..sp + 1 + len);
                    g.lock().unwrap().0.push(msg);
                }
                if first && g.lock().unwrap().0.len() >= close_after {
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                    break;
                }
                match tls.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
        }
    });
    (port, got)
}

#[test]
fn syslog_over_tls_verifies_the_receiver_and_reconnects() {
    let dir = scratch("tls");
    let Some((cert, key)) = certificate(&dir) else {
        return;
    };
    let (port, got) = tls_receiver(&cert, &key, 10);
    let mut bench = Bench::new("tls-store");
    let mut c = config("tls", Kind::Syslog, &format!("tls://localhost:{port}"));
    c.ca_file = Some(cert.clone());
    // Without our CA the certificate is refused, and nothing is sent.
    let (other_port, _) = tls_receiver(&cert, &key, usize::MAX);
    let mut untrusted = config(
        "untrusted",
        Kind::Syslog,
        &format!("tls://localhost:{other_port}"),
    );
    untrusted.max_backoff_secs = 60;
    bench.start(&[c, untrusted]);
    bench.alerts(10);
    bench.wait_sent("tls", 10, Duration::from_secs(10));
    wait_until(
        "the server closed the first connection",
        Duration::from_secs(10),
        || got.lock().unwrap().0.len() >= 10,
    );
    std::thread::sleep(Duration::from_millis(300));
    bench.alerts(10);
    let s = bench.wait_sent("tls", 20, Duration::from_secs(10));
    assert!(s.retries >= 1, "the closed connection was noticed: {s:?}");
    wait_until("20 messages", Duration::from_secs(10), || {
        got.lock().unwrap().0.len() >= 20
    });
    let (msgs, conns) = got.lock().unwrap().clone();
    assert_eq!(conns, 2, "reconnected once");
    let seqs: Vec<String> = msgs
        .iter()
        .map(|m| {
            assert!(m.starts_with("<36>1 2025-12-06T05:46:"), "{m}");
            m.split("sequenceId=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(seqs, (1..=20).map(|i| i.to_string()).collect::<Vec<_>>());
    let u = bench.status_of("untrusted");
    assert_eq!(u.sent, 0, "{u:?}");
    let e = u.last_error.unwrap_or_default();
    assert!(
        e.contains("TLS handshake") && e.contains("certificate"),
        "{e}"
    );
    drop(bench);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- a real agent ----

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

/// An agent whose config forwards to a webhook at `port`, with a Block rule on a copied
/// binary it returns.
fn forwarding_agent(tag: &str, port: u16, batch: usize, extra: &str) -> (Agent, PathBuf) {
    let mut agent = Agent::new(tag, "fanotify");
    agent.write(
        "config.yaml",
        &format!(
            "clusterName: test\n{extra}forwarders:\n  - name: hook\n    kind: webhook\n    address: http://127.0.0.1:{port}/alerts\n    batchSize: {batch}\n    maxBackoffSecs: 2\n    timeoutSecs: 2\n"
        ),
    );
    let blocked = agent.dir.join("blocked-true");
    std::fs::copy("/usr/bin/true", &blocked).unwrap();
    agent.spawn();
    let policy = agent.write(
        "block.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: fwd-block}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: '*'}}}}\n  process: {{matchPaths: [{{path: {}}}]}}\n  action: Block\n",
            blocked.display()
        ),
    );
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    (agent, blocked)
}

fn exec_blocked(path: &Path, n: usize) {
    for _ in 0..n {
        let r = std::process::Command::new(path).status();
        assert!(r.is_err(), "{} must be blocked", path.display());
    }
}

fn agent_forwarder(agent: &Agent) -> serde_json::Value {
    let o = agent.cli(&["probe", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    v["agent"]["forwarders"][0].clone()
}

/// (UpdatedTime, HostPID) of each alert: what identifies one without our ids.
fn key(a: &serde_json::Value) -> (String, i64) {
    (
        a["UpdatedTime"].as_str().unwrap_or_default().to_string(),
        a["HostPID"].as_i64().unwrap_or(0),
    )
}

#[test]
fn a_receiver_down_for_30_s_during_a_burst_gets_every_alert_once() {
    if !prerequisite(is_root(), "root (the agent blocks execs with fanotify)") {
        return;
    }
    let state = Arc::new(Mutex::new(Behaviour::default()));
    let receiver = HttpReceiver::start(0, state);
    let port = receiver.port;
    let (mut agent, blocked) = forwarding_agent("fwd-outage", port, 50, "");

    exec_blocked(&blocked, 5);
    wait_until(
        "the first alerts forwarded",
        Duration::from_secs(15),
        || id_counts(Kind::Webhook, &receiver.accepted()).len() >= 5,
    );

    // Down for 30 s; a burst meanwhile, and the agent restarted in the middle of it.
    let down_at = Instant::now();
    let (port, state) = receiver.down();
    exec_blocked(&blocked, 150);
    agent.wait_alerts(&["PolicyName=fwd-block"], 155);
    let f = agent_forwarder(&agent);
    assert!(f["retries"].as_u64().unwrap_or(0) >= 1, "{f}");
    agent.stop();
    agent.spawn();
    exec_blocked(&blocked, 150);
    agent.wait_alerts(&["PolicyName=fwd-block"], 305);
    wait_until(
        "the forwarder sees all 300 pending",
        Duration::from_secs(15),
        || agent_forwarder(&agent)["pending"].as_u64() == Some(300),
    );
    let o = agent.cli(&["probe"]);
    let text = stdout(&o);
    assert!(
        text.contains("hook") && text.contains("webhook") && text.contains("300"),
        "probe shows the forwarder with its pending alerts:\n{text}"
    );
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down_at.elapsed()));
    let receiver = HttpReceiver::start(port, state);

    let stored = agent.alerts(&["PolicyName=fwd-block"]);
    assert_eq!(stored.len(), 305, "one alert per blocked exec");
    wait_until("every alert forwarded", Duration::from_secs(30), || {
        id_counts(Kind::Webhook, &receiver.accepted()).len() >= 305
    });
    std::thread::sleep(Duration::from_millis(500));
    let reqs = receiver.accepted();
    let ids = id_counts(Kind::Webhook, &reqs);
    assert_eq!(ids.len(), 305, "every alert arrived");
    assert!(ids.values().all(|n| *n == 1), "none twice");
    let mut got: Vec<(String, i64)> = reqs
        .iter()
        .flat_map(|r| alerts_in(Kind::Webhook, r))
        .map(|a| key(&a))
        .collect();
    got.sort();
    let mut want: Vec<(String, i64)> = stored.iter().map(key).collect();
    want.sort();
    assert_eq!(got, want, "the stored alerts, by time and pid");
    let f = agent_forwarder(&agent);
    assert_eq!(f["pending"], 0, "{f}");
    assert_eq!(f["lost"], 0, "{f}");
    assert_eq!(f["kind"], "webhook", "{f}");
    assert_eq!(
        f["target"],
        format!("http://127.0.0.1:{port}/alerts"),
        "{f}"
    );
}

#[test]
fn alerts_retention_deletes_before_they_are_sent_are_counted_and_alerted() {
    if !prerequisite(is_root(), "root (the agent blocks execs with fanotify)") {
        return;
    }
    let port = free_port();
    let (agent, blocked) = forwarding_agent("fwd-lost", port, 5, "alerts: {maxRows: 20}\n");
    exec_blocked(&blocked, 60);
    // Retention keeps the newest 20 (it runs every 10 s while alerts arrive).
    wait_until("retention", Duration::from_secs(40), || {
        agent.alerts(&["PolicyName=fwd-block"]).len() == 20
    });
    let state = Arc::new(Mutex::new(Behaviour::default()));
    let receiver = HttpReceiver::start(port, state);
    wait_until("the loss counted", Duration::from_secs(20), || {
        agent_forwarder(&agent)["lost"].as_u64().unwrap_or(0) > 0
    });
    wait_until("the rest forwarded", Duration::from_secs(20), || {
        agent_forwarder(&agent)["pending"] == 0
    });
    let f = agent_forwarder(&agent);
    let lost = f["lost"].as_u64().unwrap();
    let reqs = receiver.accepted();
    let ids = id_counts(Kind::Webhook, &reqs);
    assert!(ids.values().all(|n| *n == 1), "none twice");
    let alerts: Vec<serde_json::Value> = reqs
        .iter()
        .flat_map(|r| alerts_in(Kind::Webhook, r))
        .collect();
    let blocks = alerts
        .iter()
        .filter(|a| a["PolicyName"] == "fwd-block")
        .count() as u64;
    assert_eq!(blocks + lost, 60, "sent + lost = all: {f}");
    // The loss is an alert of its own: stored, and forwarded too.
    let said = agent.alerts(&["Type=SystemEvent", "Resource=hook"]);
    assert_eq!(said.len(), 1, "{said:?}");
    assert!(
        said[0]["Message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("forwarder hook: {lost} alerts (store ids ")),
        "{}",
        said[0]
    );
    assert!(
        alerts
            .iter()
            .any(|a| a["Type"] == "SystemEvent" && a["ATags"][0] == "forward-lost")
    );
}

// ---- throughput (BENCHMARKS.md) ----

/// A TCP or TLS syslog sink counting octet-counted frames.
fn count_frames(mut r: impl Read, count: Arc<std::sync::atomic::AtomicU64>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let mut at = 0;
        while let Some(sp) = buf[at..].iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&buf[at..at + sp])
                .unwrap()
                .parse()
                .unwrap();
            if buf.len() < at + sp + 1 + len {
                break;
            }
            at += sp + 1 + len;
            count.fetch_add(1, Ordering::Relaxed);
        }
        buf.drain(..at);
        match r.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

#[test]
#[ignore = "a benchmark: cargo test --release --test forward -- --ignored throughput --nocapture"]
fn throughput() {
    const N: u64 = 50_000;
    let dir = scratch("throughput-cert");
    let (cert, key) = certificate(&dir).expect("openssl");
    let mut rows = Vec::new();
    for kind in [
        "webhook",
        "splunk",
        "elasticsearch",
        "otlp",
        "udp",
        "tcp",
        "tls",
    ] {
        let mut bench = Bench::new(&format!("tp-{kind}"));
        let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut _keep: Option<HttpReceiver> = None;
        let address = match kind {
            "udp" => {
                let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                let port = s.local_addr().unwrap().port();
                let c = count.clone();
                std::thread::spawn(move || {
                    let mut b = vec![0u8; 65536];
                    while s.recv(&mut b).is_ok() {
                        c.fetch_add(1, Ordering::Relaxed);
                    }
                });
                format!("udp://127.0.0.1:{port}")
            }
            "tcp" => {
                let l = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = l.local_addr().unwrap().port();
                let c = count.clone();
                std::thread::spawn(move || {
                    for s in l.incoming().flatten() {
                        count_frames(s, c.clone());
                    }
                });
                format!("tcp://127.0.0.1:{port}")
            }
            "tls" => {
                let (port, got) = tls_receiver(&cert, &key, usize::MAX);
                let c = count.clone();
                std::thread::spawn(move || {
                    loop {
                        c.store(got.lock().unwrap().0.len() as u64, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(5));
                    }
                });
                format!("tls://localhost:{port}")
            }
            _ => {
                let r = HttpReceiver::start(0, Arc::new(Mutex::new(Behaviour::default())));
                let a = format!("http://127.0.0.1:{}/", r.port);
                _keep = Some(r);
                a
            }
        };
        let k = match kind {
            "udp" | "tcp" | "tls" => Kind::Syslog,
            "webhook" => Kind::Webhook,
            "splunk" => Kind::Splunk,
            "elasticsearch" => Kind::Elasticsearch,
            _ => Kind::Otlp,
        };
        let mut c = config("tp", k, &address);
        c.ca_file = Some(cert.clone());
        c.timeout_secs = 30;
        if k == Kind::Splunk {
            c.token = Some("t".into());
        }
        // The store holds N alerts before the forwarder starts from the oldest.
        bench.alerts(N);
        knoxctl::forward::Cursor::new(&bench.dir, "tp")
            .save(0)
            .unwrap();
        let start = Instant::now();
        bench.start(&[c]);
        let deadline = Instant::now() + Duration::from_secs(120);
        while bench.status_of("tp").sent < N && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let secs = start.elapsed().as_secs_f64();
        let s = bench.status_of("tp");
        if s.sent < N {
            eprintln!("| {kind} | did not finish: {s:?}");
            continue;
        }
        let received = count.load(Ordering::Relaxed);
        rows.push(format!(
            "| {kind} | {N} | {secs:.2} s | {:.0} alerts/s |{}",
            N as f64 / secs,
            if k == Kind::Syslog {
                format!(" receiver counted {received}")
            } else {
                String::new()
            }
        ));
        eprintln!("{}", rows.last().unwrap());
    }
    println!("| kind | alerts | time | throughput |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
}
