//! Telemetry (`knoxctl logs`, config.yaml `visibility`): real agents (children with their
//! own state dir and socket, enforcing with fanotify, the eBPF monitor running) record the
//! monitor's events that raised no alert as KubeArmor HostLog records in logs.db, and only
//! the families visibility names; with visibility none (the default) nothing at all.

mod common;

use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `knoxctl logs -o json` with these filters: (exit code, records).
fn logs(agent: &Agent, filters: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let mut args = vec!["logs", "-o", "json", "--state-dir"];
    let state = agent.state.display().to_string();
    args.push(&state);
    for f in filters {
        args.extend(["--filter", f]);
    }
    let o = bin().args(&args).output().unwrap();
    let records = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (o.status.code().unwrap_or(-1), records, stderr(&o))
}

/// Logs are written in batches: waits (up to 10 s) until `want` of them match.
fn wait_logs(agent: &Agent, filters: &[&str], want: usize) -> Vec<serde_json::Value> {
    let start = Instant::now();
    loop {
        let (code, got, err) = logs(agent, filters);
        if (code == 0 && got.len() >= want) || start.elapsed() > Duration::from_secs(10) {
            assert_eq!(code, 0, "{err}");
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(path: &Path) {
    let s = Command::new(path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(s.success());
}

fn copy_true(agent: &Agent, name: &str) -> String {
    let p = agent.dir.join(name);
    std::fs::copy("/usr/bin/true", &p).unwrap();
    p.display().to_string()
}

fn audit_policy(agent: &Agent, name: &str, path: &str) {
    let host = knoxctl::identity::hostname();
    let policy = agent.write(
        &format!("{name}.yaml"),
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  action: Audit\n  process:\n    matchPaths: [{{path: {path}}}]\n"
        ),
    );
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
}

fn field<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or("")
}

#[test]
fn visible_events_are_logged_with_kubearmors_fields_and_alerts_are_not() {
    if !prerequisite(is_root(), "root (fanotify and the eBPF monitor)") {
        return;
    }
    let mut agent = Agent::new("logs-visible", "fanotify");
    agent.write(
        "config.yaml",
        "clusterName: test\nvisibility:\n  host: process,file,network\n  containers: none\n",
    );
    agent.spawn();
    let audited = copy_true(&agent, "logs-audited");
    audit_policy(&agent, "audit-logs-audited", &audited);
    let logged = copy_true(&agent, "logs-logged");
    let known = agent.write("known-file", "telemetry\n");
    let known = known.display().to_string();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    // The audited exec first: the monitor reads events in order, so once the later
    // exec's log is stored, this one was judged.
    run(Path::new(&audited));
    run(Path::new(&logged));
    std::fs::read(&known).unwrap();
    let _conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();

    // An exec.
    let got = wait_logs(
        &agent,
        &["Operation=Process", &format!("ProcessName={logged}")],
        1,
    );
    assert_eq!(got.len(), 1, "{got:?}\nagent log:\n{}", agent.log());
    let l = &got[0];
    for (name, want) in [
        ("Type", "HostLog"),
        ("Operation", "Process"),
        ("Resource", logged.as_str()),
        ("ProcessName", logged.as_str()),
        ("Data", "syscall=SYS_EXECVE"),
        ("Result", "Passed"),
        ("ClusterName", "test"),
    ] {
        assert_eq!(field(l, name), want, "{name} in {l}");
    }
    assert_eq!(field(l, "HostName"), knoxctl::identity::hostname());
    assert!(l["HostPID"].as_i64().unwrap_or(0) > 0, "{l}");
    assert!(l["Timestamp"].as_i64().unwrap_or(0) > 0, "{l}");
    assert!(!field(l, "UpdatedTime").is_empty(), "{l}");
    assert_eq!(l["UID"], 0, "{l}");
    // Not an alert: no policy, action or enforcer.
    for absent in ["PolicyName", "Action", "Enforcer", "Severity"] {
        assert!(l.get(absent).is_none(), "{absent} in {l}");
    }

    // A file open, by this test's own process.
    // (agent.write's own open for writing is logged too.)
    let got = wait_logs(
        &agent,
        &[
            "Operation=File",
            &format!("Resource={known}"),
            "Data~flags=O_RDONLY",
        ],
        1,
    );
    assert!(!got.is_empty(), "no File log; agent log:\n{}", agent.log());
    let f = &got[0];
    assert_eq!(field(f, "Type"), "HostLog");
    assert_eq!(field(f, "Result"), "Passed");
    assert!(
        field(f, "Data").starts_with("syscall=SYS_OPENAT flags=O_RDONLY"),
        "{f}"
    );
    let me = std::fs::read_link("/proc/self/exe").unwrap();
    assert_eq!(field(f, "ProcessName"), me.display().to_string(), "{f}");
    assert_eq!(f["HostPID"], std::process::id(), "{f}");

    // A connect to the loopback listener.
    let resource = format!("remoteip=127.0.0.1 port={port} protocol=TCP");
    let got = wait_logs(
        &agent,
        &["Operation=Network", &format!("Resource={resource}")],
        1,
    );
    assert!(
        !got.is_empty(),
        "no Network log; agent log:\n{}",
        agent.log()
    );
    let n = &got[0];
    assert_eq!(
        field(n, "Data"),
        "syscall=SYS_CONNECT domain=AF_INET type=SOCK_STREAM",
        "{n}"
    );
    assert_eq!(field(n, "Result"), "Passed", "{n}");
    assert_eq!(n["HostPID"], std::process::id(), "{n}");

    // The audited exec is an alert, and only that.
    let alerts = agent.wait_alerts(&[&format!("ProcessName={audited}")], 1);
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["PolicyName"], "audit-logs-audited");
    // (Its file opens are events of their own, which no rule decided: those are logs.)
    let (_, dup, _) = logs(
        &agent,
        &["Operation=Process", &format!("ProcessName={audited}")],
    );
    assert!(dup.is_empty(), "an alert was logged too: {dup:?}");
    // Nor is a log in the alert store.
    assert!(agent.alerts(&["Type=HostLog"]).is_empty());

    // The table names the type and the result; `tail` shows the backlog it is asked for.
    let state = agent.state.display().to_string();
    let o = bin()
        .args(["logs", "--state-dir", &state, "--filter"])
        .arg(format!("ProcessName={logged}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    let table = stdout(&o);
    assert!(
        table.contains("TYPE") && table.contains("RESULT"),
        "{table}"
    );
    assert!(
        table.contains("HostLog") && table.contains("Passed"),
        "{table}"
    );
    // The agent counts what it stored and dropped.
    let o = agent.cli(&["probe", "-o", "json"]);
    let probe: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    assert!(
        probe["agent"]["logsStored"].as_u64().unwrap_or(0) >= 3,
        "{}",
        probe["agent"]
    );
    assert!(probe["agent"]["logsDropped"].is_u64(), "{}", probe["agent"]);
    agent.stop();
}

#[test]
fn visibility_none_logs_nothing() {
    if !prerequisite(is_root(), "root (fanotify and the eBPF monitor)") {
        return;
    }
    let mut agent = Agent::start("logs-none", "fanotify");
    let audited = copy_true(&agent, "none-audited");
    audit_policy(&agent, "audit-none-audited", &audited);
    let plain = copy_true(&agent, "none-plain");
    run(Path::new(&plain));
    run(Path::new(&audited));
    // The monitor ran and judged both: the second exec's alert is stored.
    assert_eq!(
        agent
            .wait_alerts(&[&format!("ProcessName={audited}")], 1)
            .len(),
        1
    );
    agent.stop();
    assert!(
        !agent.state.join("logs.db").exists(),
        "a log store with visibility none"
    );
    let (code, got, err) = logs(&agent, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(got.is_empty());
    assert!(
        err.contains("no log store") && err.contains("visibility"),
        "{err}"
    );
    // Ours is the status, not the content: the same with a filter.
    let (code, _, _) = logs(&agent, &["Operation=Process"]);
    assert_eq!(code, 1);
}

#[test]
fn retention_keeps_the_newest_logs() {
    if !prerequisite(is_root(), "root (fanotify and the eBPF monitor)") {
        return;
    }
    let mut agent = Agent::new("logs-retention", "fanotify");
    agent.write(
        "config.yaml",
        "clusterName: test\nvisibility: {host: [process]}\nlogs: {maxRows: 5}\n",
    );
    agent.spawn();
    let prog = copy_true(&agent, "retained");
    for _ in 0..20 {
        run(Path::new(&prog));
    }
    let filter = format!("ProcessName={prog}");
    let before = wait_logs(&agent, &[&filter], 20);
    assert!(before.len() >= 6, "{} logs before retention", before.len());
    // Retention runs at shutdown (and every few seconds while logs arrive).
    agent.stop();
    let (code, after, err) = logs(&agent, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(after.len(), 5, "{after:?}");
    // The oldest went first.
    let oldest_kept = after[0]["Timestamp"].as_i64().unwrap();
    assert!(oldest_kept >= before[0]["Timestamp"].as_i64().unwrap());
    let (_, limited, _) = logs(&agent, &["Operation=Process"]);
    assert!(limited.len() <= 5);
}

#[test]
fn logs_usage_errors_exit_2() {
    let o = bin()
        .args(["logs", "--state-dir", "/nonexistent", "--filter", "Nope=1"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(stderr(&o).contains("--filter"), "{}", out(&o));
    let o = bin()
        .args(["logs", "--since", "10m", "--until", "1h"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(stderr(&o).contains("no log can match"), "{}", out(&o));
}

/// `harden discover --learn` and `policy test` read what a real agent recorded: the
/// telemetry store (logs.db) together with the alert store. A program that ran during
/// the learning window becomes an Allow rule; a draft that blocks it is predicted to
/// block exactly the runs the agent recorded, and the CI gate says so.
#[test]
fn discover_learns_and_policy_test_replays_the_agents_telemetry() {
    if !prerequisite(is_root(), "root (fanotify and the eBPF monitor)") {
        return;
    }
    let mut agent = Agent::new("logs-learn", "fanotify");
    agent.write(
        "config.yaml",
        "clusterName: test\nvisibility:\n  host: process,file\n",
    );
    agent.spawn();
    let worker = copy_true(&agent, "learn-worker");
    let state = agent.state.display().to_string();

    // The workload runs while discover records.
    let discover = bin()
        .args([
            "harden",
            "discover",
            "--learn",
            "3s",
            "--scope",
            "process",
            "-o",
            "json",
            "--state-dir",
            &state,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        run(Path::new(&worker));
    }
    let o = discover.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{}\nagent log:\n{}",
        out(&o),
        agent.log()
    );
    assert!(stderr(&o).contains("learning for 3s"), "{}", stderr(&o));
    let policy: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(policy["kind"], "KubeArmorHostPolicy", "{policy}");
    let paths: Vec<&str> = policy["spec"]["process"]["matchPaths"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["path"].as_str())
        .collect();
    assert!(
        paths.contains(&worker.as_str()),
        "{worker} not in {paths:?}"
    );

    // A draft that blocks the worker: the agent recorded five runs of it.
    let host = knoxctl::identity::hostname();
    let draft = agent.write(
        "block-worker.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: block-worker}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  action: Block\n  process:\n    matchPaths: [{{path: {worker}}}]\n"
        ),
    );
    let o = bin()
        .args(["policy", "test", "-f"])
        .arg(&draft)
        .args(["--since", "5m", "-o", "json", "--state-dir", &state])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["wouldBlock"], 5, "{v}");
    assert_eq!(
        v["rules"][0]["processes"],
        serde_json::json!([worker]),
        "{v}"
    );

    // Without a telemetry store there is nothing to learn from, and discover says why
    // before it waits.
    let empty = agent.dir.join("no-telemetry");
    std::fs::create_dir_all(&empty).unwrap();
    let o = bin()
        .args(["harden", "discover", "--learn", "1h", "--state-dir"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(stderr(&o).contains("no telemetry store"), "{}", stderr(&o));
}

/// `logs --from`: an exported KubeArmor stream (HostLog and ContainerLog lines, an alert, a
/// line that is not JSON) filtered with the store's own flags, no agent and no state dir.
#[test]
fn from_filters_exported_host_and_container_logs() {
    let dir = std::env::temp_dir().join(format!("knoxctl-logs-from-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let lines = [
        r#"{"Timestamp":1765000001,"UpdatedTime":"2025-12-06T05:46:41.000001Z","HostName":"vm1","HostPID":10,"PID":10,"ProcessName":"/usr/bin/curl","Type":"HostLog","Source":"/usr/bin/bash","Operation":"Process","Resource":"/usr/bin/curl example.com","Data":"syscall=SYS_EXECVE","Result":"Passed"}"#,
        r#"{"Timestamp":1765000002,"UpdatedTime":"2025-12-06T05:46:42.000001Z","HostName":"vm1","HostPID":11,"ProcessName":"/usr/bin/cat","Type":"HostLog","Source":"/usr/bin/cat","Operation":"File","Resource":"/etc/passwd","Data":"syscall=SYS_OPENAT","Result":"Passed"}"#,
        r#"{"Timestamp":1765000003,"UpdatedTime":"2025-12-06T05:46:43.000001Z","HostName":"vm1","ContainerName":"web","ContainerID":"abc","HostPID":12,"ProcessName":"/usr/sbin/nginx","Type":"ContainerLog","Source":"/usr/sbin/nginx","Operation":"Network","Resource":"remoteip=1.2.3.4 port=80","Data":"syscall=SYS_CONNECT","Result":"Passed","Owner":{"Ref":"x"}}"#,
        r#"{"Timestamp":1765000004,"UpdatedTime":"2025-12-06T05:46:44.000001Z","HostName":"vm1","HostPID":13,"ProcessName":"/usr/bin/apt","Type":"MatchedHostPolicy","PolicyName":"block-apt","Action":"Block","Operation":"Process","Resource":"/usr/bin/apt","Result":"Permission denied"}"#,
    ];
    let good = dir.join("good.jsonl");
    std::fs::write(&good, lines.join("\n") + "\n").unwrap();
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        format!("{}\n== Log / 2025-12-06\n{}\n", lines[0], lines[2]),
    )
    .unwrap();
    let run = |args: &[&str]| {
        bin()
            .args(["logs", "--state-dir", "/nonexistent"])
            .args(args)
            .output()
            .unwrap()
    };
    let json = |o: &std::process::Output| -> Vec<serde_json::Value> {
        stdout(o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let path = good.to_str().unwrap();

    // Every log, the alert left to `alerts --from` (and said so), exit 0.
    let o = run(&["--from", path, "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let all = json(&o);
    let types: Vec<&str> = all.iter().map(|v| field(v, "Type")).collect();
    assert_eq!(types, ["HostLog", "HostLog", "ContainerLog"], "{}", out(&o));
    assert!(stderr(&o).contains("1 matching alerts"), "{}", out(&o));
    // -o json passes the line through: fields knoxctl does not model survive.
    assert_eq!(all[2]["Owner"]["Ref"], "x");

    // Filters, --since/--until and --limit as for the store.
    let o = run(&["--from", path, "-o", "json", "--filter", "Operation=File"]);
    let got = json(&o);
    assert_eq!(got.len(), 1, "{}", out(&o));
    assert_eq!(field(&got[0], "Resource"), "/etc/passwd");
    let o = run(&[
        "--from",
        path,
        "-o",
        "json",
        "--filter",
        "Type=ContainerLog",
    ]);
    assert_eq!(field(&json(&o)[0], "ContainerName"), "web", "{}", out(&o));
    let o = run(&[
        "--from",
        path,
        "-o",
        "json",
        "--since",
        "2025-12-06T05:46:42Z",
        "--until",
        "2025-12-06T05:46:43Z",
    ]);
    let pids: Vec<i64> = json(&o)
        .iter()
        .map(|v| v["HostPID"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, [11, 12], "{}", out(&o));
    let o = run(&["--from", path, "-o", "json", "--limit", "1"]);
    let pids: Vec<i64> = json(&o)
        .iter()
        .map(|v| v["HostPID"].as_i64().unwrap())
        .collect();
    assert_eq!(pids, [12], "the newest: {}", out(&o));
    // The table has the logs' columns; stdin works too.
    let mut child = bin()
        .args(["logs", "--from", "-", "--filter", "ProcessName~curl"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        lines.join("\n").as_bytes(),
    )
    .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let table = stdout(&o);
    assert!(
        table.starts_with("TIME") && table.contains("OPERATION"),
        "{table}"
    );
    assert!(table.contains("/usr/bin/curl example.com"), "{table}");
    assert_eq!(table.lines().count(), 2, "{table}");

    // A bad line: reported with the file and its line, the others still printed, exit 1.
    let o = run(&["--from", bad.to_str().unwrap(), "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert_eq!(json(&o).len(), 2, "{}", out(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{}:2: skipped: not a KubeArmor log",
            bad.display()
        )),
        "{err}"
    );
    assert!(err.contains("karmor logs --json"), "the hint: {err}");
    // A missing file: an error naming it, exit 1; a flag that is not one: usage, exit 2.
    let missing = dir.join("missing.jsonl");
    let o = run(&["--from", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", out(&o));
    assert!(
        stderr(&o).contains(&format!("cannot read {}", missing.display())),
        "{}",
        out(&o)
    );
    let o = run(&["--from", path, "--filter", "Nope=1"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    let o = run(&["--from", path, "tail"]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        stderr(&o).contains("--from cannot be combined with 'tail'"),
        "{}",
        out(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
