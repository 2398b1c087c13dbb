//! The eBPF monitor's in-kernel filter of opens (`Monitor::set_unreached`) on the running
//! kernel: needs root (CI runs the suite as root). With it, only the opens of the listed
//! processes, and of what they fork without exec'ing, are events; an unconfined process
//! leaves the list at its exec, one under another profile stays.
//!
//! The negative checks use a sentinel: the ring buffer is ordered, so once the last
//! listed process's open has arrived, the earlier processes' opens would have arrived
//! before it.

mod common;

use knoxctl::monitor::{EventKind, Monitor, MonitorConfig, MonitorEvent, Unreached};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
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
    let (a, a_fork, a_exec, b, c_exec, after) = (
        mark("a"),
        mark("a-fork"),
        mark("a-exec"),
        mark("b"),
        mark("c-exec"),
        mark("after"),
    );

    // A (unconfined): its own open, its forked subshell's, then its exec'd cat's.
    let unconfined = held(
        r#"read go; read -r y <"$1"; (read -r y <"$2"); exec /bin/cat "$3""#,
        &[&a, &a_fork, &a_exec],
    );
    // B: not listed.
    let unlisted = held(r#"read go; read -r y <"$1""#, &[&b]);
    // C (under another profile): stays listed across its exec.
    let other = held(r#"read go; exec /bin/cat "$1""#, &[&c_exec]);
    let (ua, ub, uc) = (unconfined.id(), unlisted.id(), other.id());
    let scan = move || {
        vec![
            (ua, Some(Unreached::Unconfined)),
            (ub, None),
            (uc, Some(Unreached::OtherProfile)),
        ]
    };
    assert!(mon.set_unreached(Some(&scan)).unwrap(), "the filter is on");
    // The fork/exec/exit programs that follow the list are attached with it.
    assert_eq!(common::bpf_links(), without + 3);

    go(unconfined);
    go(unlisted);
    go(other);
    let seen = until_open(&rx, &c_exec);
    assert!(opened(&seen, &a), "the listed process's open: {seen:#?}");
    assert!(opened(&seen, &a_fork), "its fork's open: {seen:#?}");
    assert!(
        !opened(&seen, &a_exec),
        "an unconfined process leaves the list at exec: {seen:#?}"
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
