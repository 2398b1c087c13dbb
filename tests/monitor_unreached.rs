//! The eBPF monitor's in-kernel filter of opens (`Monitor::set_unreached`) on the running
//! kernel: needs root (CI runs the suite as root). With it, only the opens of the listed
//! processes, and of what they fork, are events; at an unconfined process's exec the
//! monitor asks the source what it runs under now (AppArmor is simulated by the source's
//! answers): reached (knoxctl's profile), it leaves the list; under a profile of its own,
//! it stays, across its next execs too. One under another profile stays.
//!
//! The negative checks use a sentinel: the ring buffer is ordered, so once the last
//! listed process's open has arrived, the earlier processes' opens would have arrived
//! before it.

mod common;

use knoxctl::monitor::{
    EventKind, Monitor, MonitorConfig, MonitorEvent, Unreachable, Unreached, UnreachedScan,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WAIT: Duration = Duration::from_secs(10);

fn temp_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!(
        "knoxctl-monitor-unreached-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A shell running `script` with `args`, blocked reading its first line of stdin.
fn held(script: &str, args: &[&Path]) -> Child {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn go(mut c: Child) {
    c.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert!(c.wait().unwrap().success());
}

/// Lets a held shell read one line (it keeps its stdin for the next).
fn step(stdin: &mut ChildStdin) {
    stdin.write_all(b"go\n").unwrap();
}

/// AppArmor as the source tells it: the processes' labels at the scan, and the label each
/// exec'ing process has after it; the execs it was asked about, in order.
struct Simulated {
    listed: UnreachedScan,
    after_exec: Vec<(u32, Option<Unreached>)>,
    asked: Mutex<Vec<u32>>,
}

impl Unreachable for Simulated {
    fn scan(&self) -> UnreachedScan {
        self.listed.clone()
    }

    fn after_exec(&self, tgid: u32) -> Option<Unreached> {
        self.asked.lock().unwrap().push(tgid);
        self.after_exec
            .iter()
            .find(|(p, _)| *p == tgid)
            .and_then(|(_, why)| *why)
    }
}

impl Simulated {
    /// Waits until the monitor asked about `n` execs of `tgid`, and a little more: it
    /// updates the kernel's map right after the answer.
    fn wait_asked(&self, tgid: u32, n: usize) {
        let deadline = Instant::now() + WAIT;
        while self
            .asked
            .lock()
            .unwrap()
            .iter()
            .filter(|&&p| p == tgid)
            .count()
            < n
        {
            assert!(
                Instant::now() < deadline,
                "the monitor did not ask about {n} exec(s) of {tgid}: {:?}",
                self.asked.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Receives until a child's open of `path` arrives; returns every event received.
fn until_open(rx: &Receiver<MonitorEvent>, path: &Path) -> Vec<MonitorEvent> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + WAIT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(ev) => {
                let done = ev.kind == EventKind::Open
                    && ev.path == s(path)
                    && ev.pid != std::process::id();
                seen.push(ev);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!(
        "no open of {} within {WAIT:?}; saw {seen:#?}",
        path.display()
    );
}

/// Whether a child opened `path` (this test's own writes, before the filter, are events).
fn opened(seen: &[MonitorEvent], path: &Path) -> bool {
    seen.iter()
        .any(|e| e.kind == EventKind::Open && e.path == s(path) && e.pid != std::process::id())
}

#[test]
fn only_the_opens_of_listed_processes_and_their_forks_are_reported() {
    let (mon, rx) = Monitor::start(MonitorConfig {
        exec: false,
        files: true,
        network: false,
        channel_capacity: 65536,
        ignore_pids: Vec::new(),
    })
    .unwrap_or_else(|e| panic!("the eBPF monitor did not start (needs root on a BTF kernel): {e}"));
    let without = common::bpf_links();
    let dir = temp_dir();
    let mark = |n: &str| {
        let p = dir.join(n);
        std::fs::write(&p, "x\n").unwrap();
        p
    };
    let (a, a_fork, a_exec, b, c_exec, d_exec, d_exec2, after) = (
        mark("a"),
        mark("a-fork"),
        mark("a-exec"),
        mark("b"),
        mark("c-exec"),
        mark("d-exec"),
        mark("d-exec2"),
        mark("after"),
    );

    // A (unconfined): its own open, its forked subshell's, then it execs a shell (into
    // knoxctl's profile, the source says) that opens once told to.
    let mut unconfined = held(
        r#"read go; read -r y <"$1"; (read -r y <"$2"); exec /bin/sh -c 'read go; read -r y <"$1"' sh "$3""#,
        &[&a, &a_fork, &a_exec],
    );
    // B: not listed.
    let unlisted = held(r#"read go; read -r y <"$1""#, &[&b]);
    // C (under another profile): stays listed across its exec.
    let other = held(r#"read go; exec /bin/cat "$1""#, &[&c_exec]);
    // D (unconfined): execs a program with a profile of its own (the source says), which
    // opens once told to, then execs cat: watched throughout.
    let mut distro = held(
        r#"read go; exec /bin/sh -c 'read go; read -r y <"$1"; exec /bin/cat "$2"' sh "$1" "$2""#,
        &[&d_exec, &d_exec2],
    );
    let (ua, ub, uc, ud) = (unconfined.id(), unlisted.id(), other.id(), distro.id());
    let source = Arc::new(Simulated {
        listed: vec![
            (ua, Some(Unreached::Unconfined)),
            (ub, None),
            (uc, Some(Unreached::OtherProfile)),
            (ud, Some(Unreached::Unconfined)),
        ],
        after_exec: vec![(ua, None), (ud, Some(Unreached::OtherProfile))],
        asked: Mutex::new(Vec::new()),
    });
    assert!(
        mon.set_unreached(Some(source.clone())).unwrap(),
        "the filter is on"
    );
    // The fork/exec/exit programs that follow the list are attached with it.
    assert_eq!(common::bpf_links(), without + 3);

    let (mut a_in, mut d_in) = (
        unconfined.stdin.take().unwrap(),
        distro.stdin.take().unwrap(),
    );
    step(&mut a_in);
    step(&mut d_in);
    source.wait_asked(ua, 1);
    source.wait_asked(ud, 1);
    step(&mut a_in);
    step(&mut d_in);
    drop((a_in, d_in));
    assert!(unconfined.wait().unwrap().success());
    assert!(distro.wait().unwrap().success());
    go(unlisted);
    go(other);
    let seen = until_open(&rx, &c_exec);
    assert!(opened(&seen, &a), "the listed process's open: {seen:#?}");
    assert!(opened(&seen, &a_fork), "its fork's open: {seen:#?}");
    assert!(
        !opened(&seen, &a_exec),
        "an unconfined process leaves the list once its exec put it under knoxctl's profile: {seen:#?}"
    );
    assert!(
        opened(&seen, &d_exec),
        "an unconfined process that exec'd into a profile of its own stays listed: {seen:#?}"
    );
    assert!(
        opened(&seen, &d_exec2),
        "and across its next exec: {seen:#?}"
    );
    // Asked about D's first exec only: under another profile, its next one is not news.
    assert_eq!(
        source
            .asked
            .lock()
            .unwrap()
            .iter()
            .filter(|&&p| p == ud)
            .count(),
        1
    );
    assert!(
        !opened(&seen, &b),
        "an unlisted process's open was reported"
    );

    // Off: every open again (ours too), and the followers are detached.
    assert!(!mon.set_unreached(None).unwrap());
    assert_eq!(common::bpf_links(), without);
    Command::new("/bin/cat")
        .arg(&after)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    until_open(&rx, &after);
    drop(mon);
    let _ = std::fs::remove_dir_all(&dir);
}
