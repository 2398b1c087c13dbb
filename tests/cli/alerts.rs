//! `knoxctl alerts`: a state directory filled through the agent's writer (alerts shaped like
//! the AccuKnox VM-hardening samples), queried by the binary; `--from` files and stdin;
//! usage errors; retention and drop counting; `alerts tail`.

use super::*;
use knoxctl::alert::Alert;
use knoxctl::alert::store::{AlertWriter, Retention, Store, WriterOptions};
use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

const KEEP_ALL: Retention = Retention {
    max_age: Duration::from_secs(3650 * 86_400),
    max_rows: u64::MAX,
};

/// `apt` blocked on the host (AppArmor), as on the AccuKnox page.
fn apt_blocked(ts: i64) -> Alert {
    Alert {
        timestamp: ts,
        cluster_name: "wsl-ubuntu".into(),
        host_name: "ubuntu-2gb-hel1-1".into(),
        host_pid: 15117,
        host_ppid: 15043,
        pid: 15117,
        uid: 0,
        parent_process_name: "/usr/bin/bash".into(),
        process_name: "/usr/bin/apt".into(),
        policy_name: "block-pkg-mgmt-tools".into(),
        severity: "10".into(),
        tags: "NIST,NIST_800-53_CM-7(4),SI-4,process,NIST_800-53_SI-4".into(),
        message: "apt was attempted to be executed".into(),
        kind: "MatchedHostPolicy".into(),
        source: "/usr/bin/bash".into(),
        operation: "Process".into(),
        resource: "/usr/bin/apt".into(),
        data: "syscall=SYS_EXECVE".into(),
        enforcer: "AppArmor".into(),
        action: "Block".into(),
        result: "Permission denied".into(),
        cwd: "/root/".into(),
        tty: "pts2".into(),
        ..Alert::default()
    }
}

/// A write under /usr/lib blocked in a container (file integrity monitoring).
fn fim_blocked(ts: i64) -> Alert {
    Alert {
        timestamp: ts,
        cluster_name: "wsl-ubuntu".into(),
        host_name: "ubuntu-2gb-hel1-2".into(),
        namespace_name: "container_namespace".into(),
        pod_name: "ubuntu".into(),
        labels: "org.opencontainers.image.ref.name=ubuntu".into(),
        container_id: "013ea36d4d47dd15521795cacb4a638b38e3ab5d62b6b917f4dc14c8d9591f55".into(),
        container_name: "ubuntu".into(),
        container_image: "ubuntu:20.04".into(),
        host_pid: 129898,
        host_ppid: 129853,
        pid: 12,
        ppid: 1,
        uid: 0,
        parent_process_name: "/usr/bin/bash".into(),
        process_name: "/usr/bin/touch".into(),
        policy_name: "file-integrity-monitoring".into(),
        severity: "1".into(),
        tags: "NIST,NIST_800-53_AU-2,NIST_800-53_SI-4,MITRE,MITRE_T1036_masquerading".into(),
        atags: vec!["NIST".into(), "MITRE".into()],
        message: "Detected and prevented compromise to File integrity".into(),
        kind: "MatchedPolicy".into(),
        source: "/usr/bin/touch /usr/lib/test_file".into(),
        operation: "File".into(),
        resource: "/usr/lib/test_file".into(),
        data: "syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK".into(),
        enforcer: "AppArmor".into(),
        action: "Block".into(),
        result: "Permission denied".into(),
        cwd: "/".into(),
        tty: "pts0".into(),
        ..Alert::default()
    }
}

/// `ps` audited on the host (eBPF Monitor).
fn ps_audited(ts: i64, uid: i32) -> Alert {
    Alert {
        timestamp: ts,
        cluster_name: "wsl-ubuntu".into(),
        host_name: "ubuntu-2gb-hel1-2".into(),
        host_pid: 130034,
        host_ppid: 130025,
        pid: 130034,
        uid,
        parent_process_name: "/usr/bin/bash".into(),
        process_name: "/usr/bin/ps".into(),
        policy_name: "discovery-process-discovery".into(),
        severity: "5".into(),
        tags: "MITRE,Discovery".into(),
        message: "Someone accessed running process".into(),
        kind: "MatchedHostPolicy".into(),
        source: "/usr/bin/bash".into(),
        operation: "Process".into(),
        resource: "/usr/bin/ps".into(),
        data: "syscall=SYS_EXECVE".into(),
        enforcer: "eBPF Monitor".into(),
        action: "Audit".into(),
        result: "Passed".into(),
        cwd: "/root/".into(),
        tty: "pts1".into(),
        ..Alert::default()
    }
}

/// Six alerts over the last three hours, oldest first.
fn samples() -> Vec<Alert> {
    let t = now();
    vec![
        ps_audited(t - 3 * 3600, 0),
        apt_blocked(t - 2 * 3600),
        fim_blocked(t - 1800),
        ps_audited(t - 600, 1000),
        apt_blocked(t - 60),
        ps_audited(t - 5, 0),
    ]
}

/// A state directory whose store the agent's writer filled with `alerts`.
fn state_with(tag: &str, alerts: &[Alert], retention: Retention) -> Scratch {
    let dir = Scratch::new(tag);
    let (writer, tx) = AlertWriter::spawn(&dir.0, retention).unwrap();
    for a in alerts {
        assert!(tx.send(a.clone()));
    }
    let stats = writer.shutdown();
    assert_eq!(stats.stored as usize, alerts.len());
    dir
}

fn alerts_json(state: &Path, args: &[&str]) -> Vec<Alert> {
    let mut all = vec![
        "alerts",
        "-o",
        "json",
        "--state-dir",
        state.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = run(&all);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Indexes into `samples()` of the alerts a query returned.
fn which(state: &Path, args: &[&str]) -> Vec<usize> {
    let all = samples();
    alerts_json(state, args)
        .iter()
        .map(|a| {
            all.iter()
                .position(|s| {
                    s.policy_name == a.policy_name
                        && s.timestamp.abs_diff(a.timestamp) < 3
                        && s.uid == a.uid
                        && s.resource == a.resource
                })
                .unwrap_or_else(|| panic!("unexpected alert {a:?}"))
        })
        .collect()
}

#[test]
fn each_filter_operator() {
    let s = state_with("alerts-ops", &samples(), KEEP_ALL);
    let f = |e: &str| which(&s.0, &["--filter", e]);
    assert_eq!(f("PolicyName=block-pkg-mgmt-tools"), [1, 4]);
    assert_eq!(f("Action!=Block"), [0, 3, 5]);
    assert_eq!(f("Resource~^/usr/(lib|bin/apt)"), [1, 2, 4]);
    assert_eq!(f("Severity>=5"), [0, 1, 3, 4, 5]);
    assert_eq!(f("Severity>5"), [1, 4]);
    assert_eq!(f("Severity<=1"), [2]);
    assert_eq!(f("Severity<5"), [2]);
    assert_eq!(f("UID>0"), [3]);
    assert_eq!(f("PID<100"), [2]);
    assert_eq!(f("ContainerName=ubuntu"), [2]);
    assert_eq!(f("ATags=MITRE"), [2]);
    assert_eq!(f("Message~(?i)SOMEONE"), [0, 3, 5]);
    assert_eq!(f("Enforcer=eBPF Monitor"), [0, 3, 5]);
    assert_eq!(f("PolicyName=no-such-policy"), Vec::<usize>::new());
}

#[test]
fn field_names_are_case_insensitive_and_filters_and_together() {
    let s = state_with("alerts-and", &samples(), KEEP_ALL);
    assert_eq!(
        which(&s.0, &["--filter", "policyname=block-pkg-mgmt-tools"]),
        [1, 4]
    );
    assert_eq!(
        which(&s.0, &["--filter", "ACTION=Audit", "--filter", "uid=0"]),
        [0, 5]
    );
    assert_eq!(
        which(
            &s.0,
            &[
                "--filter",
                "operation=Process",
                "--filter",
                "Action=Block",
                "--filter",
                "hostpid>=15117"
            ]
        ),
        [1, 4]
    );
    assert_eq!(
        which(
            &s.0,
            &[
                "--filter",
                "Type=MatchedHostPolicy",
                "--filter",
                "Severity>5",
                "--filter",
                "Resource~ps$"
            ]
        ),
        Vec::<usize>::new()
    );
}

#[test]
fn since_and_limit() {
    let s = state_with("alerts-since", &samples(), KEEP_ALL);
    assert_eq!(which(&s.0, &["--since", "1h"]), [2, 3, 4, 5]);
    assert_eq!(which(&s.0, &["--since", "15m"]), [3, 4, 5]);
    assert_eq!(which(&s.0, &["--since", "2m"]), [4, 5]);
    assert_eq!(which(&s.0, &["--since", "7d"]), [0, 1, 2, 3, 4, 5]);
    // The newest N, oldest first.
    assert_eq!(which(&s.0, &["--limit", "2"]), [4, 5]);
    assert_eq!(
        which(&s.0, &["--limit", "2", "--filter", "Action=Audit"]),
        [3, 5]
    );
    assert_eq!(
        which(&s.0, &["--limit", "1", "--filter", "Resource~apt"]),
        [4]
    );
    assert_eq!(
        which(
            &s.0,
            &["--limit", "10", "--since", "1h", "--filter", "Action=Block"]
        ),
        [2, 4]
    );
    assert_eq!(which(&s.0, &["--limit", "0"]), Vec::<usize>::new());
}

#[test]
fn json_lines_parse_back_to_the_same_alerts() {
    let all = samples();
    let s = state_with("alerts-json", &all, KEEP_ALL);
    assert_eq!(alerts_json(&s.0, &[]), all);
    // KubeArmor's field names, one compact object per line.
    let out = run(&[
        "alerts",
        "-o",
        "json",
        "--state-dir",
        s.0.to_str().unwrap(),
        "--limit",
        "1",
    ]);
    let line = stdout(&out);
    assert_eq!(line.lines().count(), 1);
    for key in [
        "\"Timestamp\":",
        "\"PolicyName\":\"discovery-process-discovery\"",
        "\"UID\":0",
        "\"HostPID\":130034",
        "\"Severity\":\"5\"",
    ] {
        assert!(line.contains(key), "{key} in {line}");
    }
}

#[test]
fn table_has_the_useful_columns() {
    let s = state_with("alerts-table", &samples(), KEEP_ALL);
    let out = run(&[
        "alerts",
        "--state-dir",
        s.0.to_str().unwrap(),
        "--filter",
        "Action=Block",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(
        table_cells(text.lines().next().unwrap()),
        [
            "TIME",
            "ACTION",
            "OPERATION",
            "POLICY",
            "RESOURCE",
            "PROCESS"
        ],
        "{text}"
    );
    assert!(text.contains("block-pkg-mgmt-tools") && text.contains("/usr/lib/test_file"));
    // -o wide: the result, severity and who, too.
    let wide = run(&[
        "alerts",
        "--state-dir",
        s.0.to_str().unwrap(),
        "--filter",
        "Action=Block",
        "-o",
        "wide",
    ]);
    assert_eq!(wide.status.code(), Some(0), "{}", stderr(&wide));
    let wide = stdout(&wide);
    assert_eq!(
        table_cells(wide.lines().next().unwrap()),
        [
            "TIME",
            "ACTION",
            "OPERATION",
            "POLICY",
            "RESOURCE",
            "PROCESS",
            "RESULT",
            "SEVERITY",
            "HOST PID",
            "UID",
            "HOST"
        ],
        "{wide}"
    );
    assert!(wide.contains("Permission denied"));
    assert!(!text.contains("discovery-process-discovery"));
    assert_eq!(text.matches("block-pkg-mgmt-tools").count(), 2);
    assert!(!text.contains('\x1b'));
    // Oldest first; times in UTC.
    assert!(text.find("block-pkg-mgmt-tools").unwrap() < text.find("file-integrity").unwrap());
    assert!(text.contains('T') && text.contains("Z "), "{text}");
    // Nothing matches: a note on stderr, nothing on stdout, still success.
    let out = run(&[
        "alerts",
        "--state-dir",
        s.0.to_str().unwrap(),
        "--filter",
        "PolicyName=none",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).is_empty());
    assert!(stderr(&out).contains("No alerts match"));
}

/// Lines as KubeArmor prints them: the AccuKnox sample (with the fields AccuKnox adds), and
/// the proto3-JSON spelling with numbers as strings.
fn jsonl() -> String {
    let t = now();
    let mut sample = serde_json::to_value(apt_blocked(t - 60)).unwrap();
    sample["cluster_id"] = "27273".into();
    sample["component_name"] = "kubearmor".into();
    let mut proto = serde_json::to_value(ps_audited(t - 10, 0)).unwrap();
    proto["Timestamp"] = (t - 10).to_string().into();
    proto["HostPID"] = "130034".into();
    format!(
        "{}\n\n{}\r\n{}\n{}\n",
        serde_json::to_string(&ps_audited(t - 7200, 0)).unwrap(),
        serde_json::to_string(&sample).unwrap(),
        serde_json::to_string(&fim_blocked(t - 30)).unwrap(),
        serde_json::to_string(&proto).unwrap(),
    )
}

#[test]
fn from_a_file_and_from_stdin() {
    let dir = Scratch::new("alerts-from");
    let file = dir.write("alerts.jsonl", jsonl());
    let file = file.to_str().unwrap();
    // No store needed: --from never looks at the state directory.
    let nowhere = dir.0.join("no-state");
    let nowhere = nowhere.to_str().unwrap();
    let out = run(&[
        "alerts",
        "--state-dir",
        nowhere,
        "--from",
        file,
        "-o",
        "json",
        "--filter",
        "Action=Block",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    // Matching lines pass through unchanged, AccuKnox's extra fields included.
    assert!(
        lines[0].contains("\"cluster_id\":\"27273\""),
        "{}",
        lines[0]
    );
    let a: Alert = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(a.policy_name, "file-integrity-monitoring");

    // Numbers spelled as strings are understood; --since and --limit apply.
    let out = run_stdin(
        &[
            "alerts",
            "--from",
            "-",
            "--filter",
            "hostpid=130034",
            "--since",
            "1h",
            "-o",
            "json",
        ],
        jsonl().as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 1);
    let out = run_stdin(
        &["alerts", "--from", "-", "--limit", "1"],
        jsonl().as_bytes(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("discovery-process-discovery"));
    assert!(!stdout(&out).contains("block-pkg-mgmt-tools"));
}

#[test]
fn from_reports_bad_lines_and_keeps_going() {
    let dir = Scratch::new("alerts-bad-lines");
    let input = format!(
        "{}not json\n[1,2]\n{{\"PID\":\"many\"}}\n{{\n{}",
        serde_json::to_string(&apt_blocked(now())).unwrap() + "\n",
        jsonl()
    );
    let file = dir.write("mixed.jsonl", input);
    let out = run(&["alerts", "--from", file.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "bad lines must fail the run");
    assert_eq!(stdout(&out).lines().count(), 5, "good lines still printed");
    let err = stderr(&out);
    for want in [
        "mixed.jsonl:2: skipped",
        "mixed.jsonl:3: skipped",
        "mixed.jsonl:4: skipped",
        "mixed.jsonl:5: skipped",
        "indented JSON",
        "4 of 10 lines skipped",
    ] {
        assert!(err.contains(want), "{want} missing:\n{err}");
    }
    let out = run(&[
        "alerts",
        "--from",
        dir.0.join("absent.jsonl").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

/// A file large enough that `--from` cuts it into pieces judged on every core: the output
/// and the bad-line numbers must be exactly what reading it line by line gives, including
/// lines that straddle a piece boundary, and --limit keeps the file's last matches.
#[test]
fn from_a_large_file_is_filtered_in_parallel_in_file_order() {
    let dir = Scratch::new("alerts-from-large");
    let t = now();
    let mut text = String::new();
    let (mut lineno, mut want, mut bad_lines) = (0usize, Vec::new(), Vec::new());
    let mut i = 0i32;
    // 8 MiB pieces: more than three of them, so that a second round of pieces runs.
    while text.len() < 26 << 20 {
        lineno += 1;
        i += 1;
        if i % 9_973 == 0 {
            text.push_str("not json\n");
            bad_lines.push(lineno);
            continue;
        }
        let mut a = if i % 3 == 0 {
            apt_blocked(t)
        } else {
            ps_audited(t, 0)
        };
        a.host_pid = i;
        // Lines of varied length, so that boundaries fall anywhere in a line.
        a.message = "x".repeat((i % 97) as usize);
        let line = serde_json::to_string(&a).unwrap();
        if a.action == "Block" {
            want.push(i);
        }
        text.push_str(&line);
        text.push('\n');
    }
    let file = dir.write("large.jsonl", text);
    let file = file.to_str().unwrap();
    let pids = |out: &Output| -> Vec<i32> {
        stdout(out)
            .lines()
            .map(|l| serde_json::from_str::<Alert>(l).unwrap().host_pid)
            .collect()
    };
    let out = run(&[
        "alerts",
        "--from",
        file,
        "-o",
        "json",
        "--filter",
        "Action=Block",
    ]);
    assert_eq!(out.status.code(), Some(1), "the bad lines fail the run");
    assert_eq!(pids(&out), want, "every match, in file order");
    let err = stderr(&out);
    for n in &bad_lines {
        assert!(
            err.contains(&format!("large.jsonl:{n}: skipped")),
            "line {n}:\n{err}"
        );
    }
    assert!(
        err.contains(&format!("{} of {lineno} lines skipped", bad_lines.len())),
        "{err}"
    );
    // --limit keeps the last matches of the file, not of a piece.
    let out = run(&[
        "alerts",
        "--from",
        file,
        "-o",
        "json",
        "--limit",
        "3",
        "--filter",
        "Action=Block",
    ]);
    assert_eq!(pids(&out), want[want.len() - 3..]);
    // No filter: every good line.
    let out = run(&["alerts", "--from", file, "-o", "json"]);
    assert_eq!(stdout(&out).lines().count(), lineno - bad_lines.len());
}

#[test]
fn bad_expressions_are_usage_errors() {
    let s = state_with("alerts-usage", &samples(), KEEP_ALL);
    let dir = s.0.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--filter", "Polcyname=x"],
            "invalid filter 'Polcyname=x': unknown field 'Polcyname' (did you mean 'PolicyName'?)",
        ),
        (
            &["--filter", "PolicyName"],
            "no operator after 'PolicyName'",
        ),
        (
            &["--filter", "Resource>=3"],
            "'>=' compares numbers, and Resource is text",
        ),
        (
            &["--filter", "PID=abc"],
            "PID is numeric, so 'abc' must be an integer",
        ),
        (
            &["--filter", "Action=Blocked"],
            "Action has no value 'Blocked'; its values are Block, Audit, Allow, Audit (Block)",
        ),
        (
            &["--filter", "Resource~("],
            "invalid filter 'Resource~(': bad regular expression",
        ),
        (&["--filter", "=x"], "no field name before '='"),
        (
            &["--filter", "Action=Block", "--filter", "Sevrity>3"],
            "did you mean 'Severity'?",
        ),
        (
            &["--since", "10"],
            "invalid duration '10': the unit is missing",
        ),
        (&["--since", "yesterday"], "invalid duration 'yesterday'"),
        (
            &["--from", "x.jsonl", "tail"],
            "--from cannot be combined with 'tail'",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["alerts", "--state-dir", dir];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}");
    }
    // clap's own usage errors are 2 as well.
    assert_eq!(run(&["alerts", "--limit", "many"]).status.code(), Some(2));
}

#[test]
fn a_missing_store_says_where_and_what_to_do() {
    let dir = Scratch::new("alerts-missing");
    for sub in [&[][..], &["tail"][..]] {
        let mut args = vec!["alerts", "--state-dir", dir.0.to_str().unwrap()];
        args.extend_from_slice(sub);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "no alert store at {}",
                dir.0.join("alerts.db").display()
            )),
            "{err}"
        );
        assert!(
            err.contains("recorded no alerts") && err.contains("--state-dir"),
            "{err}"
        );
        assert!(err.contains("KNOXCTL_STATE_DIR"), "{err}");
    }
    // The environment variable works as --state-dir does.
    let s = state_with("alerts-env", &samples(), KEEP_ALL);
    let out = bin()
        .args(["alerts", "-o", "json"])
        .env("KNOXCTL_STATE_DIR", &s.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count(), 6);
}

#[test]
fn retention_prunes_by_age_and_count() {
    let t = now();
    let mut alerts = vec![apt_blocked(t - 3 * 86_400), fim_blocked(t - 2 * 86_400)];
    for i in 0..5 {
        alerts.push(ps_audited(t - 100 + i, i as i32));
    }
    let retention = Retention {
        max_age: Duration::from_secs(86_400),
        max_rows: 3,
    };
    let s = state_with("alerts-retention", &alerts, retention);
    let left = alerts_json(&s.0, &[]);
    assert_eq!(left, alerts[4..].to_vec());
    // The age limit alone.
    let s = state_with(
        "alerts-retention-age",
        &alerts,
        Retention {
            max_age: Duration::from_secs(86_400),
            max_rows: 1000,
        },
    );
    assert_eq!(alerts_json(&s.0, &[]), alerts[2..].to_vec());
}

#[test]
fn a_full_queue_drops_and_counts() {
    let dir = Scratch::new("alerts-dropped");
    let options = WriterOptions {
        capacity: 4,
        max_batch: 4,
        ..WriterOptions::default()
    };
    let (writer, tx) = AlertWriter::spawn_with(&dir.0, KEEP_ALL, options).unwrap();
    // Another connection holds the write lock, so the writer stalls in its commit while
    // the producer keeps sending.
    let blocker = rusqlite::Connection::open(dir.0.join("alerts.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let sent = 1000;
    let accepted = (0..sent).filter(|i| tx.send(ps_audited(now(), *i))).count();
    blocker.execute_batch("COMMIT").unwrap();
    let stats = writer.shutdown();
    assert!(accepted <= 12, "accepted {accepted}");
    assert_eq!(
        stats.dropped as usize,
        sent as usize - accepted,
        "{stats:?}"
    );
    assert_eq!(stats.stored as usize, accepted, "{stats:?}");
    assert_eq!(stats.failed, 0);
    let stored = alerts_json(&dir.0, &[]);
    assert_eq!(stored.len(), accepted);
    assert_eq!(
        Store::open_readonly(&dir.0).unwrap().count().unwrap() as usize,
        accepted
    );
}

struct Tail {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Tail {
    fn start(state: &Scratch, args: &[&str]) -> Tail {
        let mut child = bin()
            .args(["alerts", "--state-dir", state.0.to_str().unwrap()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Tail { child, lines }
    }

    fn next(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(10)).ok()
    }

    fn interrupt(mut self) -> std::process::ExitStatus {
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "tail did not stop on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn tail_follows_new_alerts_and_stops_on_sigint() {
    let t = now();
    let s = state_with(
        "alerts-tail",
        &[apt_blocked(t - 100), ps_audited(t - 50, 0)],
        KEEP_ALL,
    );
    let follow = Tail::start(&s, &["tail", "-o", "json", "--filter", "Action=Block"]);
    let backlog = Tail::start(&s, &["--limit", "1", "tail", "-o", "json"]);
    // With --limit the newest alert comes first; without it only new ones.
    let first: Alert = serde_json::from_str(&backlog.next().unwrap()).unwrap();
    assert_eq!(first.policy_name, "discovery-process-discovery");
    std::thread::sleep(Duration::from_millis(500));
    let (writer, tx) = AlertWriter::spawn(&s.0, KEEP_ALL).unwrap();
    assert!(tx.send(ps_audited(t, 7)));
    assert!(tx.send(fim_blocked(t)));
    writer.shutdown();
    let got: Alert = serde_json::from_str(&follow.next().unwrap()).unwrap();
    assert_eq!(got, fim_blocked(t), "the Audit alert is filtered out");
    let got: Alert = serde_json::from_str(&backlog.next().unwrap()).unwrap();
    assert_eq!(got, ps_audited(t, 7));
    let got: Alert = serde_json::from_str(&backlog.next().unwrap()).unwrap();
    assert_eq!(got, fim_blocked(t));
    assert_eq!(follow.interrupt().code(), Some(0));
    assert_eq!(backlog.interrupt().code(), Some(0));

    // The table form: the same header and column order as `alerts`, one line per alert.
    let table = Tail::start(&s, &["--limit", "1", "tail"]);
    let header = table.next().unwrap();
    assert_eq!(
        table_cells(&header),
        [
            "TIME",
            "ACTION",
            "OPERATION",
            "POLICY",
            "RESOURCE",
            "PROCESS"
        ],
        "{header}"
    );
    let line = table.next().unwrap();
    let cells = table_cells(&line);
    assert_eq!(
        &cells[1..],
        [
            "Block",
            "File",
            "file-integrity-monitoring",
            "/usr/lib/test_file",
            "/usr/bin/touch"
        ],
        "{line}"
    );
    assert_eq!(table.interrupt().code(), Some(0));
}

/// Runs `command` in a terminal `cols` columns wide (a detached tmux session on a private
/// server) and returns the screen once `done` appears, each terminal-wrapped line joined
/// back to the line it belongs to (`capture-pane -J`).
fn on_terminal(cols: u16, command: &str, done: &str) -> String {
    let server = format!("knoxctl-cli-{}-{cols}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(["-L", &server])
            .args(args)
            .output()
            .expect("tmux is installed (Debian package tmux)")
    };
    struct Kill<'a>(&'a dyn Fn(&[&str]) -> Output);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            (self.0)(&["kill-server"]);
        }
    }
    let _kill = Kill(&tmux);
    let cols = cols.to_string();
    let o = tmux(&[
        "new-session",
        "-d",
        "-x",
        &cols,
        "-y",
        "50",
        "-s",
        "t",
        &format!("env -u COLUMNS {command}; echo {done}; sleep 60"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let start = std::time::Instant::now();
    loop {
        let o = tmux(&["capture-pane", "-p", "-J", "-t", "t"]);
        let screen = String::from_utf8_lossy(&o.stdout).into_owned();
        if screen.contains(done) {
            return screen;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "never finished:\n{screen}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn tables_never_split_a_value_on_an_80_column_terminal() {
    let dir = Scratch::new("alerts-tty");
    let mut long = fim_blocked(now() - 30);
    long.resource =
        "/usr/lib/x86_64-linux-gnu/some/deeply/nested/library/path/libexample.so.1.2.3".into();
    let mut input = jsonl();
    input.push_str(&serde_json::to_string(&long).unwrap());
    input.push('\n');
    let file = dir.write("alerts.jsonl", input);
    let cmd = format!(
        "NO_COLOR=1 {} alerts --from {}",
        env!("CARGO_BIN_EXE_knoxctl"),
        file.display()
    );
    let screen = on_terminal(80, &cmd, "KNOX-DONE");
    let lines: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.starts_with("TIME"))
        .take_while(|l| !l.contains("KNOX-DONE"))
        .collect();
    assert_eq!(lines.len(), 6, "a header and one line per alert:\n{screen}");
    for l in &lines {
        assert!(l.chars().count() <= 80, "wider than the terminal: {l:?}");
    }
    let header = table_cells(lines[0]);
    assert_eq!(header[0], "TIME");
    for l in &lines[1..] {
        let cells = table_cells(l);
        assert_eq!(cells.len(), header.len(), "{l:?}");
        // Timestamps are never cut: 2026-12-06T08:55:14.123456Z.
        assert!(cells[0].ends_with('Z') && !cells[0].contains('…'), "{l:?}");
    }
    assert!(
        lines
            .iter()
            .any(|l| table_cells(l)[4].starts_with("/usr/lib/") && table_cells(l)[4].ends_with('…')),
        "the long path is cut with an ellipsis:\n{screen}"
    );

    // Piped: the same command prints whole values.
    let out = run(&["alerts", "--from", file.to_str().unwrap()]);
    assert!(
        stdout(&out).contains(&long.resource),
        "piped output is never cut: {}",
        stdout(&out)
    );
}

#[test]
fn filters_written_as_kubectl_users_write_them() {
    let s = state_with("alerts-kubectl", &samples(), KEEP_ALL);
    let blocked_apt = which(&s.0, &["--filter", "PolicyName=block-pkg-mgmt-tools"]);
    assert_eq!(blocked_apt.len(), 2);
    for f in [
        "PolicyName==block-pkg-mgmt-tools",
        "PolicyName = block-pkg-mgmt-tools",
        "PolicyName=block-pkg-mgmt-tools,Action=block",
        "policyname=block-pkg-mgmt-tools, operation=PROCESS",
    ] {
        assert_eq!(which(&s.0, &["--filter", f]), blocked_apt, "{f}");
    }
    // A negated regex: everything but the package-manager alerts.
    let rest = which(&s.0, &["--filter", "PolicyName!~^block-pkg"]);
    assert_eq!(rest.len(), samples().len() - 2);
    assert!(rest.iter().all(|i| !blocked_apt.contains(i)));
}

#[test]
fn since_and_until_take_durations_and_times() {
    let s = state_with("alerts-until", &samples(), KEEP_ALL);
    assert_eq!(which(&s.0, &["--until", "15m"]), [0, 1, 2]);
    assert_eq!(which(&s.0, &["--since", "1h", "--until", "2m"]), [2, 3]);
    // The same bounds as times, in UTC and with an offset.
    let at = |ago: i64| knoxctl::alert::format_rfc3339(now() - ago, 0);
    assert_eq!(which(&s.0, &["--since", &at(3600)]), [2, 3, 4, 5]);
    let local = at(900).replace('Z', "+00:00").replace('T', " ");
    assert_eq!(which(&s.0, &["--until", &local]), [0, 1, 2]);
    // kubectl/journalctl habits that cannot mean anything else get a pointed answer.
    for (args, want) in [
        (
            &["--since", "-5m"][..],
            "durations already count back from now; write 5m",
        ),
        (
            &["--since", "2026-13-06"][..],
            "is not a time: use RFC 3339",
        ),
        (&["--since", "5m", "--until", "1h"][..], "is after --until"),
        (
            &["--until", "1h", "tail"][..],
            "--until cannot be combined with 'tail'",
        ),
    ] {
        let mut all = vec!["alerts", "--state-dir", s.0.to_str().unwrap()];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(want), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
        // The pointer to help names the command whose flags were wrong.
        let help = if args.contains(&"tail") {
            "try 'knoxctl alerts tail --help'"
        } else {
            "try 'knoxctl alerts --help'"
        };
        assert!(stderr(&out).contains(help), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn from_reads_json_documents_and_points_karmor_text_to_json() {
    let dir = Scratch::new("alerts-documents");
    let t = now();
    // `jq .` output of an export: an array, and objects spread over lines, newest first.
    let newest_first = [
        fim_blocked(t - 30),
        apt_blocked(t - 60),
        ps_audited(t - 90, 0),
    ];
    let array = dir.write(
        "array.json",
        serde_json::to_string_pretty(&newest_first).unwrap(),
    );
    let objects = dir.write(
        "objects.json",
        newest_first
            .iter()
            .map(|a| serde_json::to_string_pretty(a).unwrap())
            .collect::<Vec<_>>()
            .join("\n"),
    );
    for file in [&array, &objects] {
        let out = run(&["alerts", "--from", file.to_str().unwrap(), "--no-headers"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let policies: Vec<String> = stdout(&out)
            .lines()
            .map(|l| table_cells(l)[3].to_string())
            .collect();
        // A table is a timeline: oldest first, whatever the file's order; no header.
        assert_eq!(
            policies,
            [
                "discovery-process-discovery",
                "block-pkg-mgmt-tools",
                "file-integrity-monitoring"
            ],
            "{}",
            stdout(&out)
        );
        let out = run(&[
            "alerts",
            "--from",
            file.to_str().unwrap(),
            "-o",
            "json",
            "--filter",
            "Action=Block",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let got: Vec<Alert> = stdout(&out)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got, [fim_blocked(t - 30), apt_blocked(t - 60)]);
    }
    // A broken document: where, and a failure status.
    let broken = dir.write("broken.json", "[\n {\"Timestamp\": 1,\n");
    let out = run(&["alerts", "--from", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken.json:3:"), "{}", stderr(&out));
    // `karmor logs` without --json.
    let text = dir.write(
        "karmor.txt",
        "== Alert / 2023-01-27 14:37:46.139197 ==\nClusterName: default\nHostName: vm\n",
    );
    let out = run(&["alerts", "--from", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("run `karmor logs --json`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn yaml_documents_and_tables_without_headers() {
    let s = state_with("alerts-yaml", &samples(), KEEP_ALL);
    let state = s.0.to_str().unwrap();
    let out = run(&["alerts", "--state-dir", state, "-o", "yaml", "--limit", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert_eq!(text.matches("---\n").count(), 2, "{text}");
    assert!(text.contains("PolicyName: "), "{text}");
    let out = run(&["alerts", "--state-dir", state, "--no-headers"]);
    assert_eq!(stdout(&out).lines().count(), 6, "{}", stdout(&out));
    assert!(!stdout(&out).contains("TIME"), "{}", stdout(&out));
}

#[test]
fn tail_says_when_no_agent_answers() {
    let s = state_with("alerts-tail-noagent", &samples(), KEEP_ALL);
    let socket = s.0.join("no-agent.sock");
    let mut child = bin()
        .args([
            "--socket",
            socket.to_str().unwrap(),
            "alerts",
            "--state-dir",
        ])
        .arg(&s.0)
        .arg("tail")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.contains("warning: cannot reach the knoxctl agent at")
            && line.contains(socket.to_str().unwrap())
            && line.contains("Following the alert store in"),
        "{line}"
    );
}

#[test]
fn non_root_users_get_the_sudo_hint() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let s = state_with("alerts-nonroot", &samples(), KEEP_ALL);
    // As onboarding leaves it: the state directory is root's alone.
    std::fs::set_permissions(&s.0, std::fs::Permissions::from_mode(0o700)).unwrap();
    let exe = s.0.parent().unwrap().join("knoxctl-alerts-nonroot");
    std::fs::copy(env!("CARGO_BIN_EXE_knoxctl"), &exe).unwrap();
    let out = std::process::Command::new(&exe)
        .args(["alerts", "--state-dir"])
        .arg(&s.0)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&exe);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("run with sudo"), "{}", stderr(&out));
}

/// --state-dir is global, as --socket is: before or after the subcommand.
#[test]
fn state_dir_is_a_global_flag() {
    let s = state_with("alerts-global-state", &samples(), KEEP_ALL);
    let dir = s.0.to_str().unwrap();
    for args in [
        vec!["--state-dir", dir, "alerts", "-o", "json"],
        vec!["alerts", "--state-dir", dir, "-o", "json"],
        vec!["alerts", "-o", "json", "--state-dir", dir],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out).lines().count(), 6, "{args:?}");
    }
}

#[test]
fn summary_counts_the_window_by_policy_action_operation_and_process() {
    let s = state_with("alerts-summary", &samples(), KEEP_ALL);
    let dir = s.0.to_str().unwrap();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["alerts", "summary", "-o", "json", "--state-dir", dir];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };
    // The default window is the last day: all six samples.
    let v = json(&[]);
    assert_eq!(v["total"], 6, "{v:#}");
    assert_eq!(v["bucketSecs"], 3600);
    assert_eq!(v["actions"]["Block"], 3);
    assert_eq!(v["actions"]["Audit"], 3);
    assert_eq!(v["operations"]["Process"], 5);
    assert_eq!(v["operations"]["File"], 1);
    let policies = v["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 3, "{v:#}");
    // Busiest first.
    assert_eq!(
        policies[0]["policy"], "discovery-process-discovery",
        "{v:#}"
    );
    let apt = &policies[1];
    assert_eq!(apt["policy"], "block-pkg-mgmt-tools", "{v:#}");
    assert_eq!(
        (apt["alerts"].as_u64(), apt["block"].as_u64()),
        (Some(2), Some(2))
    );
    let buckets: Vec<u64> = (apt["buckets"].as_array().unwrap().iter())
        .map(|b| b.as_u64().unwrap())
        .collect();
    // Clock hours: the window's 24 hours and the hour `until` falls in.
    assert_eq!(buckets.len(), 25, "{buckets:?}");
    assert_eq!(v["bucketStart"].as_i64().unwrap() % 3600, 0);
    // Two hours ago and a minute ago: in the last three clock hours, one or two apart.
    assert_eq!(buckets.iter().sum::<u64>(), 2);
    let hit: Vec<usize> = (0..buckets.len()).filter(|&i| buckets[i] > 0).collect();
    assert!(
        hit[0] + 3 >= buckets.len() && (1..=2).contains(&(hit[1] - hit[0])),
        "{buckets:?}"
    );
    // Filters and --since narrow it; --since after the subcommand works too.
    let v = json(&["--since", "1h", "--filter", "Action=Block"]);
    assert_eq!(v["total"], 2, "{v:#}");
    assert_eq!(v["processes"][0]["name"], "/usr/bin/apt");

    // The table: the counts line, a sparkline per policy, the processes.
    let out = run(&["alerts", "summary", "--state-dir", dir]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("6 alerts from "), "{text}");
    assert!(text.contains("Audit 3, Block 3"), "{text}");
    assert!(text.contains("by operation: Process 5, File 1"), "{text}");
    let row = (text.lines())
        .find(|l| l.starts_with("block-pkg-mgmt-tools"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.contains('█'), "the busiest bucket: {row}");
    assert!(row.contains('·'), "quiet hours: {row}");
    assert!(text.contains("PER HOUR"), "{text}");

    // An empty window says so; --from is a usage error (summary reads the store).
    let out = run(&[
        "alerts",
        "summary",
        "--state-dir",
        dir,
        "--until",
        "2000-01-01",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("0 alerts from "),
        "{}",
        stdout(&out)
    );
    let out = run(&["alerts", "--from", "-", "summary"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--from cannot be combined with 'summary'"));
}

#[test]
fn throttling_folds_a_burst_into_a_summary_that_counts_it() {
    let dir = Scratch::new("alerts-throttle");
    let options = WriterOptions {
        throttle: knoxctl::alert::throttle::ThrottleOptions {
            max_per_second: 5,
            fold_seconds: 3600,
        },
        // Small batches: at shutdown whole batches fold away while more wait in the queue,
        // and none of those may be lost.
        max_batch: 2,
        ..WriterOptions::default()
    };
    let (writer, tx) = AlertWriter::spawn_with(&dir.0, KEEP_ALL, options).unwrap();
    let t = now();
    for _ in 0..50 {
        assert!(tx.send(apt_blocked(t)));
    }
    // Another policy in the same second is not held back by the first one's burst.
    assert!(tx.send(ps_audited(t, 0)));
    // Shutting down writes the summary still gathering: nothing is lost.
    let stats = writer.shutdown();
    assert_eq!(stats.folded, 45, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
    let stored = alerts_json(&dir.0, &["--filter", "PolicyName=block-pkg-mgmt-tools"]);
    assert_eq!(stored.len(), 6, "five one by one and one summary");
    let summary = alerts_json(&dir.0, &["--filter", "ATags~throttled"]);
    assert_eq!(summary.len(), 1);
    let s = &summary[0];
    assert!(s.atags.iter().any(|t| t == "count=45"), "{s:?}");
    assert!(
        s.message
            .starts_with("45 alerts of policy block-pkg-mgmt-tools like this one between "),
        "{}",
        s.message
    );
    assert_eq!(
        alerts_json(
            &dir.0,
            &["--filter", "PolicyName=discovery-process-discovery"]
        )
        .len(),
        1
    );
}
