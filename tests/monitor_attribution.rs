//! Who the eBPF monitor names for an operation, as root on this host's kernel: the program
//! that did it when it did it. A shell's `cat x > f` opens `f` in the forked shell, which
//! only then execs cat: the open is the shell's (BPF-LSM sees the shell open it, and a
//! policy learned from the telemetry must say so), and only cat's own opens are cat's.
//! /proc, read when the events are, already names cat for both; the agent must go by the
//! order of its events instead.
//!
//! Each program is a copy in the test's own directory (the rules are this test's alone),
//! and cat is kept running (it reads its stdin, held open by the test) until the alerts
//! are in, so that /proc names cat for the whole time the events are read: a pipeline that
//! asked /proc first fails every run, not just the ones it read late.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const RUNS: usize = 3;

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn a_redirect_before_an_exec_is_the_shells_and_the_programs_opens_are_its_own() {
    if !prerequisite(
        unsafe { libc::geteuid() } == 0,
        "root (the agent loads eBPF programs)",
    ) || !prerequisite(
        Path::new("/usr/bin/cat").exists() && Path::new("/bin/bash").exists(),
        "/usr/bin/cat and /bin/bash",
    ) {
        return;
    }
    let agent = Agent::start("attrib", "monitor-only");
    // By its real path: the one the kernel reports.
    let dir = std::fs::canonicalize(&agent.dir).unwrap().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let bash = dir.join("mybash");
    std::fs::copy("/bin/bash", &bash).unwrap();
    let cat = dir.join("mycat");
    std::fs::copy("/usr/bin/cat", &cat).unwrap();
    let input = dir.join("input");
    std::fs::write(&input, "x\n").unwrap();
    let output = dir.join("output");

    // Every open of the two files, whoever makes it; and cat's exec, asked for by the shell.
    let files = agent.host_policy(
        "attrib-file",
        &format!(
            "  file:\n    matchPaths:\n    - path: {}\n    - path: {}\n",
            s(&input),
            s(&output)
        ),
        "Audit",
    );
    agent.apply_ok(&files);
    let process = agent.host_policy(
        "attrib-exec",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n      fromSource:\n      - path: {}\n",
            s(&cat),
            s(&bash)
        ),
        "Audit",
    );
    agent.apply_ok(&process);

    for run in 1..=RUNS {
        // `; :` keeps the shell from exec'ing cat in its own place: a forked shell opens
        // the output, then execs cat, which opens the input and reads its stdin (`-`).
        let mut child = Command::new(&bash)
            .args([
                "-c",
                &format!("{} {} - > {}; :", s(&cat), s(&input), s(&output)),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        agent.exact_alerts(
            &["PolicyName=attrib-file", &format!("Resource={}", s(&input))],
            run,
        );
        agent.exact_alerts(
            &[
                "PolicyName=attrib-file",
                &format!("Resource={}", s(&output)),
            ],
            run,
        );
        agent.exact_alerts(&["PolicyName=attrib-exec"], run);
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"done\n").unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
    }

    for a in agent.exact_alerts(
        &[
            "PolicyName=attrib-file",
            &format!("Resource={}", s(&output)),
        ],
        RUNS,
    ) {
        assert_eq!(a["Operation"], "File", "{a:#}");
        assert_eq!(
            a["ProcessName"],
            s(&bash),
            "the redirect is the shell's: {a:#}"
        );
        // The command line /proc has is cat's by then: the program stands for it.
        assert_eq!(a["Source"], s(&bash), "{a:#}");
        assert_eq!(a["ParentProcessName"], s(&bash), "{a:#}");
    }
    for a in agent.exact_alerts(
        &["PolicyName=attrib-file", &format!("Resource={}", s(&input))],
        RUNS,
    ) {
        assert_eq!(a["ProcessName"], s(&cat), "{a:#}");
        let source = a["Source"].as_str().unwrap_or_default();
        assert!(source.starts_with(&s(&cat)), "{a:#}");
        assert_eq!(a["ParentProcessName"], s(&bash), "{a:#}");
    }
    for a in agent.exact_alerts(&["PolicyName=attrib-exec"], RUNS) {
        assert_eq!(a["Operation"], "Process", "{a:#}");
        assert_eq!(a["ProcessName"], s(&cat), "{a:#}");
        assert_eq!(a["ParentProcessName"], s(&bash), "{a:#}");
        assert_eq!(a["Source"], s(&bash), "{a:#}");
    }
}

/// A process made with `CLONE_PARENT` (runc's nsexec makes its container's init so) is
/// its forker's sibling: it runs its forker's program, not its parent's, and its opens are
/// that program's.
#[cfg(target_arch = "x86_64")]
#[test]
fn a_clone_parent_child_runs_its_forkers_program() {
    let python = Path::new("/usr/bin/python3");
    if !prerequisite(
        unsafe { libc::geteuid() } == 0,
        "root (the agent loads eBPF programs)",
    ) || !prerequisite(python.exists(), "/usr/bin/python3")
    {
        return;
    }
    let python = std::fs::canonicalize(python).unwrap();
    let me = std::fs::canonicalize("/proc/self/exe").unwrap();
    let agent = Agent::start("attrib-cp", "monitor-only");
    let dir = std::fs::canonicalize(&agent.dir).unwrap().join("work");
    std::fs::create_dir_all(&dir).unwrap();
    let watched = dir.join("watched");
    std::fs::write(&watched, "x").unwrap();
    let policy = agent.host_policy(
        "attrib-cp",
        &format!("  file:\n    matchPaths:\n    - path: {}\n", s(&watched)),
        "Audit",
    );
    agent.apply_ok(&policy);
    // clone(CLONE_PARENT | SIGCHLD) as a raw syscall (56 on x86_64): the child is this
    // test's, made by python, which exits at once.
    let script = "import ctypes, os, sys\n\
                  libc = ctypes.CDLL(None, use_errno=True)\n\
                  if libc.syscall(56, 0x8000 | 17, 0, 0, 0, 0) == 0:\n    \
                  open(sys.argv[1]).close()\n    \
                  os._exit(0)\n";
    for _ in 0..RUNS {
        let st = Command::new(&python)
            .args(["-c", script, &s(&watched)])
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success());
    }
    for a in agent.exact_alerts(&["PolicyName=attrib-cp"], RUNS) {
        assert_eq!(a["ProcessName"], s(&python), "{a:#}");
        assert_eq!(a["ParentProcessName"], s(&me), "{a:#}");
    }
    // Reap the children python gave this test.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}
