//! `fromSource` rules judged by the eBPF monitor for processes that are gone before their
//! events are read, as root on this host's kernel: a real agent (fanotify enforcer, whose
//! audits the monitor raises) must name the short-lived program from its exec event, not
//! from /proc, where nothing is left of it.
//!
//! Each program is a copy in the test's own directory, so that the rules are specific to
//! this test, and each run is repeated: a single run might be read while the process still
//! lives and pass by luck.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// How many times each short-lived program runs; every run must raise its alert.
const RUNS: usize = 5;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// A copy of `program` at `to` (executable).
fn copy_program(program: &str, to: &Path) {
    std::fs::copy(program, to).unwrap();
}

fn run(program: &Path, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn from_source_matches_programs_that_exited_before_their_events_were_read() {
    if !prerequisite(
        unsafe { libc::geteuid() } == 0,
        "root (the agent loads eBPF programs)",
    ) || !prerequisite(
        Path::new("/usr/bin/cat").exists() && Path::new("/bin/sh").exists(),
        "/usr/bin/cat and /bin/sh",
    ) {
        return;
    }
    let agent = Agent::start("fromsrc", "fanotify");
    // By its real path: the one the kernel reports.
    let dir = std::fs::canonicalize(&agent.dir).unwrap().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let cat = dir.join("mycat");
    copy_program("/usr/bin/cat", &cat);
    let sh = dir.join("mysh");
    copy_program("/bin/sh", &sh);
    let tru = dir.join("mytrue");
    copy_program("/bin/true", &tru);
    let secret = dir.join("secret");
    std::fs::write(&secret, "x").unwrap();

    let file_policy = agent.host_policy(
        "fromsrc-file",
        &format!(
            "  file:\n    matchPaths:\n    - path: {}\n      fromSource:\n      - path: {}\n",
            s(&secret),
            s(&cat)
        ),
        "Audit",
    );
    agent.apply_ok(&file_policy);
    // The parent's executable for process rules: a shell that runs the program and exits.
    let process_policy = agent.host_policy(
        "fromsrc-process",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n      fromSource:\n      - path: {}\n",
            s(&tru),
            s(&sh)
        ),
        "Audit",
    );
    agent.apply_ok(&process_policy);

    for _ in 0..RUNS {
        assert!(run(&cat, &[&s(&secret)]));
        // `; :` keeps the shell from exec'ing the program in its own place.
        assert!(run(&sh, &["-c", &format!("{}; :", s(&tru))]));
    }

    let files = agent.exact_alerts(&["PolicyName=fromsrc-file"], RUNS);
    for a in &files {
        assert_eq!(a["Operation"], "File", "{a:#}");
        assert_eq!(a["Action"], "Audit", "{a:#}");
        assert_eq!(a["Enforcer"], "eBPF Monitor", "{a:#}");
        assert_eq!(a["Resource"], s(&secret), "{a:#}");
        assert_eq!(a["ProcessName"], s(&cat), "{a:#}");
        // The command line when it could still be read, the program otherwise.
        let source = a["Source"].as_str().unwrap_or_default();
        assert!(source.starts_with(&s(&cat)), "{a:#}");
    }
    let execs = agent.exact_alerts(&["PolicyName=fromsrc-process"], RUNS);
    for a in &execs {
        assert_eq!(a["Operation"], "Process", "{a:#}");
        assert_eq!(a["Action"], "Audit", "{a:#}");
        assert_eq!(a["ProcessName"], s(&tru), "{a:#}");
        assert_eq!(a["Source"], s(&sh), "{a:#}");
        assert_eq!(a["ParentProcessName"], s(&sh), "{a:#}");
    }
}
