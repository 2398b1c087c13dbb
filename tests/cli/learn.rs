//! `knoxctl policy test` and `knoxctl harden discover` over KubeArmor JSON Lines written
//! here: what a draft would have blocked (exactly), and discovered allow-lists that are
//! deterministic, valid, let the recorded workload run and never lock out sshd, login
//! shells or knoxctl.

use super::*;
use serde_json::{Value, json};

/// One KubeArmor host log record.
fn host(ts: i64, op: &str, process: &str, resource: &str, data: &str, parent: &str) -> Value {
    json!({
        "Timestamp": ts,
        "UpdatedTime": format!("2026-12-07T10:00:{:02}.000000000Z", ts % 60),
        "HostName": "web-1",
        "Type": "HostLog",
        "Operation": op,
        "ProcessName": process,
        "ParentProcessName": parent,
        "Source": if op == "Process" { parent.to_string() } else { format!("{process} --run") },
        "Resource": resource,
        "Data": data,
        "Result": "Passed",
        "UID": 0,
    })
}

fn exec(ts: i64, path: &str, parent: &str) -> Value {
    host(
        ts,
        "Process",
        path,
        &format!("{path} -x"),
        "syscall=SYS_EXECVE",
        parent,
    )
}

fn read(ts: i64, process: &str, path: &str) -> Value {
    host(
        ts,
        "File",
        process,
        path,
        "syscall=SYS_OPENAT fd=-100 flags=O_RDONLY|O_CLOEXEC",
        "",
    )
}

fn write(ts: i64, process: &str, path: &str) -> Value {
    host(
        ts,
        "File",
        process,
        path,
        "syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_APPEND",
        "",
    )
}

fn socket(ts: i64, process: &str, kind: &str) -> Value {
    host(
        ts,
        "Network",
        process,
        &format!("domain=AF_INET type={kind} protocol=0"),
        "syscall=SYS_SOCKET",
        "",
    )
}

/// A scripted service: systemd starts run.sh, which runs cat over five config files, curl
/// (reading /etc/hosts, one TCP socket) and writes its log; ps reads /proc.
fn workload() -> Vec<Value> {
    let mut v = vec![
        exec(1, "/opt/svc/run.sh", "/usr/lib/systemd/systemd"),
        exec(2, "/usr/bin/cat", "/opt/svc/run.sh"),
        exec(3, "/usr/bin/curl", "/opt/svc/run.sh"),
        exec(4, "/usr/bin/ps", "/opt/svc/run.sh"),
        read(5, "/usr/bin/curl", "/etc/hosts"),
        socket(6, "/usr/bin/curl", "SOCK_STREAM"),
        write(7, "/opt/svc/run.sh", "/var/log/svc/out.log"),
        write(8, "/opt/svc/run.sh", "/var/log/svc/out.log"),
        read(9, "/usr/bin/ps", "/proc/123/status"),
        read(10, "/usr/bin/ps", "/proc/456/status"),
        exec(30, "/usr/bin/curl", "/opt/svc/run.sh"),
    ];
    for (i, f) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        v.push(read(
            11 + i as i64,
            "/usr/bin/cat",
            &format!("/opt/svc/conf/{f}.conf"),
        ));
    }
    // Denied, and another target: neither is learned.
    let mut denied = exec(20, "/usr/bin/nc", "/opt/svc/run.sh");
    denied["Result"] = "Permission denied".into();
    v.push(denied);
    let mut other = exec(21, "/usr/bin/wget", "/bin/sh");
    other["ContainerName"] = "db".into();
    other["Type"] = "ContainerLog".into();
    v.push(other);
    v
}

fn lines(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

const DRAFT: &str = "apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: no-curl
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: web-1
  process:
    matchPaths:
    - path: /usr/bin/curl
      action: Block
  file:
    matchPaths:
    - path: /etc/hosts
      action: Audit
    matchDirectories:
    - dir: /var/log/svc/
      readOnly: true
      action: Block
";

#[test]
fn policy_test_predicts_blocks_and_audits_exactly() {
    let s = Scratch::new("learn-test");
    let log = s.write("logs.json", lines(&workload()));
    let draft = s.write("draft.yaml", DRAFT);
    let args = [
        "policy",
        "test",
        "-f",
        draft.to_str().unwrap(),
        "--from",
        log.to_str().unwrap(),
        "-o",
        "json",
    ];
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 18);
    assert_eq!(v["wouldBlock"], 4);
    assert_eq!(v["wouldAudit"], 1);
    let rule = |m: &str| {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["matches"] == m)
            .unwrap()
            .clone()
    };
    let curl = rule("/usr/bin/curl");
    assert_eq!(curl["wouldBlock"], 2);
    assert_eq!(curl["processes"], json!(["/usr/bin/curl"]));
    assert_eq!(curl["first"], "2026-12-07T10:00:03.000000000Z");
    assert_eq!(curl["last"], "2026-12-07T10:00:30.000000000Z");
    // The denied nc was attempted too, but no draft rule names it; wget ran in a container.
    let log_dir = rule("/var/log/svc/");
    assert_eq!(log_dir["wouldBlock"], 2);
    assert_eq!(log_dir["processes"], json!(["/opt/svc/run.sh"]));
    assert_eq!(log_dir["resources"], json!(["/var/log/svc/out.log"]));
    let hosts = rule("/etc/hosts");
    assert_eq!(
        (hosts["wouldAudit"].clone(), hosts["wouldBlock"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(hosts["processes"], json!(["/usr/bin/curl"]));
    // Stable: the same answer twice, byte for byte.
    assert_eq!(run(&args).stdout, out.stdout);

    // The table says the same.
    let out = run(&args[..6]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        has_row(
            &text,
            &[
                "no-curl",
                "Process",
                "/usr/bin/curl",
                "Block",
                "2",
                "0",
                "0"
            ]
        ),
        "{text}"
    );
    assert!(text.contains("4 would be blocked, 1 audited"), "{text}");
}

#[test]
fn policy_test_exit_status_is_a_ci_gate() {
    let s = Scratch::new("learn-gate");
    let log = s.write("logs.json", lines(&workload()));
    // Nothing of this draft matches: exit 0.
    let quiet = s.write(
        "quiet.yaml",
        DRAFT
            .replace("/usr/bin/curl", "/usr/bin/nmap")
            .replace("readOnly: true\n      action: Block", "action: Audit"),
    );
    let out = run(&[
        "policy",
        "test",
        "-f",
        quiet.to_str().unwrap(),
        "--from",
        log.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    // A window after every record: nothing judged.
    let out = run(&[
        "policy",
        "test",
        "-f",
        quiet.to_str().unwrap(),
        "--from",
        log.to_str().unwrap(),
        "--since",
        "2100-01-01",
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 0);
    // Usage errors: 2.
    let out = run(&[
        "policy",
        "test",
        "-f",
        quiet.to_str().unwrap(),
        "--from",
        log.to_str().unwrap(),
        "--since",
        "yesterday",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = run(&["policy", "test", "--from", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    // An invalid draft: 1, and nothing judged.
    let bad = s.write("bad.yaml", DRAFT.replace("action: Block", "action: Blok"));
    let out = run(&[
        "policy",
        "test",
        "-f",
        bad.to_str().unwrap(),
        "--from",
        log.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing was tested"),
        "{}",
        stderr(&out)
    );
    // No store and no --from: 1 with the reason.
    let out = run(&[
        "--state-dir",
        s.0.join("none").to_str().unwrap(),
        "policy",
        "test",
        "-f",
        quiet.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
}

fn discover(args: &[&str]) -> Output {
    let mut all = vec!["harden", "discover"];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn discover_is_deterministic_valid_and_explained() {
    let s = Scratch::new("learn-discover");
    let records = workload();
    let log = s.write("logs.json", lines(&records));
    let mut reversed = records.clone();
    reversed.reverse();
    // The same name: the policy records where it was learned from.
    let log2 = s.write("reversed/logs.json", lines(&reversed));
    let out = discover(&["--from", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_knoxctl"))
        .args(["harden", "discover", "--from", "logs.json"])
        .current_dir(log2.parent().unwrap())
        .output()
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_knoxctl"))
        .args(["harden", "discover", "--from", "logs.json"])
        .current_dir(&s.0)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&again),
        stdout(&out),
        "same records, another order: same policy"
    );
    let policy = s.write("discovered.yaml", &out.stdout);
    let v = run(&["policy", "validate", "--strict", policy.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    assert!(
        stdout(&v).contains("(0 errors, 0 warnings)"),
        "{}",
        stdout(&v)
    );
    let text = stdout(&out);
    assert!(text.contains("kind: KubeArmorHostPolicy"), "{text}");
    assert!(text.contains("kubearmor.io/hostname: web-1"), "{text}");
    let report = stderr(&out);
    // Each choice explained: the generalised directory, the pid pattern, fromSource.
    assert!(report.contains("| file | matchDirectories /opt/svc/conf/ | readOnly | /usr/bin/cat | 5 | 5 distinct files"), "{report}");
    assert!(
        report.contains("matchPatterns /proc/[0-9]*/status"),
        "{report}"
    );
    assert!(report.contains("| process | matchPaths /usr/bin/curl |  | /opt/svc/run.sh | 2 | ran 2 times; only from its parent"), "{report}");
    assert!(
        report.contains("1 denied operations not learned"),
        "{report}"
    );
    assert!(
        !text.contains("/usr/bin/nc") && !text.contains("wget"),
        "{text}"
    );

    // JSON says the same; --out-dir writes the policy and the report.
    let dir = s.0.join("out");
    let out = discover(&[
        "--from",
        log.to_str().unwrap(),
        "--out-dir",
        dir.to_str().unwrap(),
        "-o",
        "json",
        "--posture",
        "block",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let p: Value =
        serde_json::from_slice(&std::fs::read(dir.join("discovered-host-web-1.json")).unwrap())
            .unwrap();
    assert_eq!(
        p["metadata"]["annotations"]["knoxctl.io/default-posture"],
        "block"
    );
    assert_eq!(p["spec"]["action"], "Allow");
    assert!(
        std::fs::read_to_string(dir.join("report.md"))
            .unwrap()
            .contains("Default posture block")
    );
}

/// The discovered policy, replayed with a Block posture: the recorded workload passes
/// whole, what it never did is denied, and sshd, login shells and knoxctl always run.
#[test]
fn discovered_policy_lets_the_workload_run_and_never_locks_out() {
    let s = Scratch::new("learn-lockout");
    let log = s.write("logs.json", lines(&workload()));
    let out = discover(&["--from", log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let policy = s.write("discovered.yaml", &out.stdout);
    let test = |records: &[Value]| {
        let f = s.write("replay.json", lines(records));
        let out = run(&[
            "policy",
            "test",
            "-f",
            policy.to_str().unwrap(),
            "--from",
            f.to_str().unwrap(),
            "--default-posture",
            "block",
            "-o",
            "json",
        ]);
        let v: Value =
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr(&out)));
        (out.status.code(), v)
    };
    // The workload itself (the denied nc left out): zero denials.
    let ran: Vec<Value> = workload()
        .into_iter()
        .filter(|r| r["Result"] == "Passed")
        .collect();
    let (code, v) = test(&ran);
    assert_eq!(
        (code, v["wouldBlock"].clone()),
        (Some(0), json!(0)),
        "{v:#}"
    );
    // An exec and a file read it never did, a write to a file it only read: denied.
    let (code, v) = test(&[
        exec(40, "/usr/bin/wget", "/opt/svc/run.sh"),
        exec(41, "/usr/bin/curl", "/usr/bin/python3"),
        read(42, "/usr/bin/cat", "/etc/shadow"),
        write(43, "/usr/bin/cat", "/opt/svc/conf/a.conf"),
    ]);
    assert_eq!(
        (code, v["wouldBlock"].clone()),
        (Some(1), json!(4)),
        "{v:#}"
    );
    // The operator's way in: sshd, its session, a login shell running anything, sudo,
    // knoxctl (installed, and this binary), each opening what it needs.
    let me = env!("CARGO_BIN_EXE_knoxctl");
    let (code, v) = test(&[
        exec(50, "/usr/sbin/sshd", "/usr/lib/systemd/systemd"),
        exec(51, "/usr/bin/bash", "/usr/sbin/sshd"),
        exec(52, "/bin/bash", "/usr/lib/openssh/sshd-session"),
        exec(53, "/usr/bin/vim", "/usr/bin/bash"),
        exec(54, "/usr/bin/sudo", "/usr/bin/bash"),
        exec(55, "/usr/local/bin/knoxctl", "/usr/bin/sudo"),
        exec(56, me, "/usr/bin/bash"),
        read(57, "/usr/sbin/sshd", "/etc/shadow"),
        read(58, "/usr/bin/bash", "/root/.bashrc"),
        write(59, "/usr/local/bin/knoxctl", "/var/lib/knoxctl/state.json"),
        read(60, "/usr/bin/vim", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
        read(61, "/usr/bin/vim", "/etc/ld.so.cache"),
        socket(62, "/usr/sbin/sshd", "SOCK_STREAM"),
    ]);
    assert_eq!(
        (code, v["wouldBlock"].clone()),
        (Some(0), json!(0)),
        "{v:#}"
    );
}

#[test]
fn discover_targets_one_container_and_respects_scope() {
    let s = Scratch::new("learn-container");
    let log = s.write("logs.json", lines(&workload()));
    let out = discover(&[
        "--from",
        log.to_str().unwrap(),
        "--container",
        "db",
        "--scope",
        "process",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("kind: KubeArmorPolicy"), "{text}");
    assert!(text.contains("kubearmor.io/container.name: db$"), "{text}");
    assert!(text.contains("namespace: container_namespace"), "{text}");
    assert!(
        text.contains("/usr/bin/wget") && !text.contains("/usr/bin/curl"),
        "{text}"
    );
    assert!(
        !text.contains("file:") && !text.contains("network:"),
        "{text}"
    );
    let policy = s.write("db.yaml", &out.stdout);
    let v = run(&["policy", "validate", "--strict", policy.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(0), "{}", stdout(&v));
    // A container with no records: nothing to learn, exit 1.
    let out = discover(&["--from", log.to_str().unwrap(), "--container", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("nothing to learn"),
        "{}",
        stderr(&out)
    );
    // --host and --container do not go together; a bad scope is a usage error.
    assert_eq!(
        discover(&["--host", "--container", "db"]).status.code(),
        Some(2)
    );
    assert_eq!(discover(&["--scope", "disk"]).status.code(), Some(2));
}
