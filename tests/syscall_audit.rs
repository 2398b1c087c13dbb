//! Syscall rules (KubeArmor's `syscalls` section, audit-only) end to end, as root on this
//! host's kernel: a real agent traces the syscalls its rules name with the eBPF monitor and
//! stores KubeArmor-format alerts for the calls that match.
//!
//! Negative checks use a sentinel: the call that must not alert is made first, then one
//! that must; alerts are stored in event order, so once the second is stored the first
//! would have been too.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn host_policy(agent: &Agent, name: &str, syscalls: &str) -> PathBuf {
    let host = knoxctl::identity::hostname();
    agent.write(
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: {name}\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: {host}\n  severity: 5\n  tags: [global-tag]\n  syscalls:\n{syscalls}  action: Audit\n"
        ),
    )
}

/// A scratch directory under the agent's, by its real path (the one the kernel reports).
fn scratch(agent: &Agent, name: &str) -> PathBuf {
    let dir = agent.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::canonicalize(dir).unwrap()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Runs `program args...` in `cwd`; returns its pid and whether it succeeded.
fn run(program: &str, args: &[&str], cwd: &Path) -> (u32, bool) {
    let mut child = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    (pid, child.wait().unwrap().success())
}

fn touch(p: &Path) {
    std::fs::write(p, "x").unwrap();
}

fn one(agent: &Agent, filters: &[&str]) -> serde_json::Value {
    let got = agent.wait_alerts(filters, 1);
    assert_eq!(
        got.len(),
        1,
        "alerts matching {filters:?}: {got:#?}\nagent log:\n{}",
        agent.log()
    );
    got[0].clone()
}

#[test]
fn unlink_is_audited_with_its_path_result_and_process() {
    let agent = Agent::start("sc-unlink", "fanotify");
    let policy = host_policy(
        &agent,
        "audit-unlink",
        "    matchSyscalls:\n    - syscall: [unlink]\n    severity: 7\n    message: Unlink used\n",
    );
    let applied = agent.apply_ok(&policy);
    assert!(
        applied.contains(
            "kubearmorhostpolicy/audit-unlink created: audited on this host: 1 syscall rule(s) audited by the eBPF monitor"
        ),
        "{applied}"
    );
    let sentinel = host_policy(
        &agent,
        "audit-sentinel",
        "    matchSyscalls:\n    - syscall: [mkdir]\n",
    );
    agent.apply_ok(&sentinel);
    let dir = scratch(&agent, "files");

    // `unlink FILE`: the unlink syscall, on an absolute path.
    let file = dir.join("dummy");
    touch(&file);
    let (pid, ok) = run("/usr/bin/unlink", &[&s(&file)], &dir);
    assert!(ok);
    let a = one(
        &agent,
        &["PolicyName=audit-unlink", &format!("Resource={}", s(&file))],
    );
    assert_eq!(a["Operation"], "Syscall", "{a:#}");
    assert_eq!(a["Data"], "syscall=SYS_UNLINK", "{a:#}");
    assert_eq!(a["Enforcer"], "eBPF Monitor", "{a:#}");
    assert_eq!(a["Action"], "Audit", "{a:#}");
    assert_eq!(a["Result"], "Passed", "{a:#}");
    assert_eq!(a["Type"], "MatchedHostPolicy", "{a:#}");
    assert_eq!(a["Severity"], "7", "{a:#}");
    assert_eq!(a["Message"], "Unlink used", "{a:#}");
    assert_eq!(a["Tags"], "global-tag", "{a:#}");
    assert_eq!(a["HostPID"], pid, "{a:#}");
    assert_eq!(a["HostPPID"], std::process::id(), "{a:#}");
    // Read in the kernel: `unlink` has exited long before its event is turned into an alert.
    assert_eq!(a["ProcessName"], "/usr/bin/unlink", "{a:#}");
    assert_eq!(a["UID"], 0, "{a:#}");

    // A failed call: Result is the errno's text.
    let missing = dir.join("missing");
    let (_, ok) = run("/usr/bin/unlink", &[&s(&missing)], &dir);
    assert!(!ok);
    let a = one(
        &agent,
        &[
            "PolicyName=audit-unlink",
            &format!("Resource={}", s(&missing)),
        ],
    );
    assert_eq!(a["Result"], "No such file or directory", "{a:#}");

    // A relative path is reported absolute, resolved against the caller's cwd.
    touch(&dir.join("relative"));
    let (_, ok) = run("/usr/bin/unlink", &["relative"], &dir);
    assert!(ok);
    one(
        &agent,
        &[
            "PolicyName=audit-unlink",
            &format!("Resource={}", s(&dir.join("relative"))),
        ],
    );

    // `rm` calls unlinkat: another syscall, which the rule does not name.
    let removed = dir.join("removed-by-rm");
    touch(&removed);
    assert!(run("/usr/bin/rm", &[&s(&removed)], &dir).1);
    let marker = dir.join("marker-1");
    assert!(run("/usr/bin/mkdir", &[&s(&marker)], &dir).1);
    one(
        &agent,
        &[
            "PolicyName=audit-sentinel",
            &format!("Resource={}", s(&marker)),
        ],
    );
    let rm = agent.alerts(&[&format!("Resource={}", s(&removed))]);
    assert!(rm.is_empty(), "{rm:#?}");

    // Deleted: no alerts any more (the tracepoints are detached too).
    let o = agent.cli(&["policy", "delete", "audit-unlink"]);
    assert!(o.status.success(), "{}", out(&o));
    let after = dir.join("after-delete");
    touch(&after);
    assert!(run("/usr/bin/unlink", &[&s(&after)], &dir).1);
    let marker = dir.join("marker-2");
    assert!(run("/usr/bin/mkdir", &[&s(&marker)], &dir).1);
    one(
        &agent,
        &[
            "PolicyName=audit-sentinel",
            &format!("Resource={}", s(&marker)),
        ],
    );
    let late = agent.alerts(&[
        "PolicyName=audit-unlink",
        &format!("Resource={}", s(&after)),
    ]);
    assert!(late.is_empty(), "alerts after delete: {late:#?}");
}

#[test]
fn match_paths_directories_and_from_source() {
    let agent = Agent::start("sc-paths", "monitor-only");
    let dir = scratch(&agent, "tree");
    for d in ["watched/a/b", "direct/sub", "outside"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let policy = host_policy(
        &agent,
        "audit-paths",
        &format!(
            "    matchPaths:\n    - path: {d}/watched/\n      recursive: true\n      syscall: [unlink]\n    - path: {d}/direct/\n      syscall: [unlink]\n    matchSyscalls:\n    - syscall: [rmdir]\n      fromSource:\n      - path: /usr/bin/rmdir\n",
            d = s(&dir)
        ),
    );
    let applied = agent.apply_ok(&policy);
    assert!(
        applied.contains("audited on this host: 3 syscall rule(s) audited by the eBPF monitor"),
        "{applied}"
    );

    let unlink = |rel: &str| {
        let p = dir.join(rel);
        touch(&p);
        assert!(run("/usr/bin/unlink", &[&s(&p)], &dir).1, "unlink {rel}");
        s(&p)
    };
    // Not audited: outside the directories, below a non-recursive one, rmdir from
    // another executable (this test's own).
    let outside = unlink("outside/x");
    let too_deep = unlink("direct/sub/y");
    let other_rmdir = dir.join("by-the-test");
    std::fs::create_dir(&other_rmdir).unwrap();
    std::fs::remove_dir(&other_rmdir).unwrap();
    // Audited: at any depth below the recursive one, a direct child of the other, rmdir
    // by /usr/bin/rmdir.
    let deep = unlink("watched/a/b/z");
    let direct = unlink("direct/w");
    let by_rmdir = dir.join("by-rmdir");
    std::fs::create_dir(&by_rmdir).unwrap();
    assert!(run("/usr/bin/rmdir", &[&s(&by_rmdir)], &dir).1);

    let a = one(
        &agent,
        &["PolicyName=audit-paths", &format!("Resource={deep}")],
    );
    assert_eq!(a["Data"], "syscall=SYS_UNLINK", "{a:#}");
    one(
        &agent,
        &["PolicyName=audit-paths", &format!("Resource={direct}")],
    );
    let a = one(
        &agent,
        &[
            "PolicyName=audit-paths",
            &format!("Resource={}", s(&by_rmdir)),
        ],
    );
    assert_eq!(a["Data"], "syscall=SYS_RMDIR", "{a:#}");
    assert_eq!(a["ProcessName"], "/usr/bin/rmdir", "{a:#}");
    for quiet in [outside, too_deep, s(&other_rmdir)] {
        let got = agent.alerts(&["PolicyName=audit-paths", &format!("Resource={quiet}")]);
        assert!(got.is_empty(), "{quiet}: {got:#?}");
    }
    assert_eq!(
        agent.alerts(&["PolicyName=audit-paths"]).len(),
        3,
        "one alert per audited call"
    );
}

#[test]
fn untraceable_syscalls_are_reported_not_ignored() {
    let agent = Agent::start("sc-untraced", "monitor-only");
    // No kernel implements afs_syscall: there is no tracepoint to attach to.
    let policy = host_policy(
        &agent,
        "audit-afs",
        "    matchSyscalls:\n    - syscall: [afs_syscall]\n",
    );
    let applied = agent.apply_ok(&policy);
    assert!(
        applied.contains(
            "audit-afs created: on this host; 1 of 1 syscall rule(s) raise no alerts here, see `knoxctl probe`"
        ),
        "{applied}"
    );
    let o = agent.cli(&["probe", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let unaudited = v["agent"]["unaudited"].as_array().unwrap();
    assert_eq!(unaudited.len(), 1, "{v:#}");
    let line = unaudited[0].as_str().unwrap();
    assert!(
        line.starts_with("Syscall afs_syscall (audit-afs): not traced here: afs_syscall: ")
            && line.contains("sys_enter_afs_syscall"),
        "{line}"
    );
}
