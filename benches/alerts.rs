//! Alert store throughput: how fast the agent's writer ingests alerts, and how fast
//! `knoxctl alerts --filter ...` answers over a large store compared with `jq` selecting the
//! same alerts from the same data as JSON Lines.
//!
//! Run: `cargo bench --bench alerts` (KNOXCTL_BENCH_ALERTS=N changes the 1,000,000 alerts;
//! needs ~2 GB in the temp directory, removed afterwards). Prints one line per measurement.
//! The alerts imitate the AccuKnox VM-hardening samples: a few busy policies, many quiet ones,
//! KubeArmor's field vocabularies and sizes (~650 bytes of JSON each).

use knoxctl::alert::Alert;
use knoxctl::alert::filter::Filter;
use knoxctl::alert::store::{AlertWriter, Query, Retention, Store};
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn mix(mut x: u64) -> u64 {
    // splitmix64: deterministic, well spread.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const DISCOVERY: [&str; 5] = [
    "/bin/ps",
    "/usr/bin/ps",
    "/usr/bin/pgrep",
    "/usr/bin/top",
    "/usr/bin/htop",
];
const PKG: [&str; 4] = [
    "/usr/bin/apt",
    "/usr/bin/apt-get",
    "/usr/bin/dpkg",
    "/usr/bin/snap",
];

fn alert(i: u64, n: u64, start: i64, span: i64) -> Alert {
    let h = mix(i);
    let ts = start + (i as i64 * span) / n as i64;
    let host_pid = 10_000 + (h % 200_000) as i32;
    let host = if h & 1 == 0 {
        "ubuntu-2gb-hel1-1"
    } else {
        "ubuntu-2gb-hel1-2"
    };
    let mut a = Alert {
        timestamp: ts,
        updated_time: format!(
            "{}.{:09}Z",
            knoxctl::output::format_time(ts).trim_end_matches('Z'),
            h % 1_000_000_000
        ),
        cluster_name: "wsl-ubuntu".into(),
        host_name: host.into(),
        host_pid,
        host_ppid: host_pid - 1 - (h % 50) as i32,
        pid: host_pid,
        uid: if h.is_multiple_of(4) { 1000 } else { 0 },
        parent_process_name: "/usr/bin/bash".into(),
        kind: "MatchedHostPolicy".into(),
        cwd: "/root/".into(),
        tty: format!("pts{}", h % 4),
        ..Alert::default()
    };
    let p = (h >> 8) % 100;
    if p == 0 {
        let bin = PKG[((h >> 16) % 4) as usize];
        a.policy_name = "block-pkg-mgmt-tools".into();
        a.severity = "10".into();
        a.tags = "NIST,NIST_800-53_CM-7(4),SI-4,process,NIST_800-53_SI-4".into();
        a.message = format!("{} was attempted to be executed", &bin[9..]);
        a.operation = "Process".into();
        a.process_name = bin.into();
        a.resource = bin.into();
        a.source = "/usr/bin/bash".into();
        a.data = "syscall=SYS_EXECVE".into();
        a.enforcer = "AppArmor".into();
        a.action = "Block".into();
        a.result = "Permission denied".into();
    } else if p <= 30 {
        a.kind = "MatchedPolicy".into();
        a.namespace_name = "container_namespace".into();
        a.pod_name = "ubuntu".into();
        a.container_name = "ubuntu".into();
        a.container_image = "ubuntu:20.04".into();
        a.container_id = format!("{:064x}", mix(h % 16));
        a.labels =
            "org.opencontainers.image.ref.name=ubuntu,org.opencontainers.image.version=20.04"
                .into();
        a.pid = (h % 400) as i32 + 2;
        a.ppid = 1;
        a.policy_name = "file-integrity-monitoring".into();
        a.severity = "1".into();
        a.tags = "NIST,NIST_800-53_AU-2,NIST_800-53_SI-4,MITRE,MITRE_T1036_masquerading".into();
        a.message = "Detected and prevented compromise to File integrity".into();
        a.operation = "File".into();
        a.process_name = "/usr/bin/touch".into();
        a.resource = format!(
            "/usr/lib/x86_64-linux-gnu/lib{}.so.{}",
            (h >> 20) % 900,
            h % 7
        );
        a.source = format!("/usr/bin/touch {}", a.resource);
        a.data = "syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK".into();
        a.enforcer = "AppArmor".into();
        a.action = "Block".into();
        a.result = "Permission denied".into();
        a.cwd = "/".into();
    } else if p <= 60 {
        let bin = DISCOVERY[((h >> 16) % 5) as usize];
        a.policy_name = "discovery-process-discovery".into();
        a.severity = "5".into();
        a.tags = "MITRE,Discovery".into();
        a.message = "Someone accessed running process".into();
        a.operation = "Process".into();
        a.process_name = bin.into();
        a.resource = bin.into();
        a.source = "/usr/bin/bash".into();
        a.data = "syscall=SYS_EXECVE".into();
        a.enforcer = "eBPF Monitor".into();
        a.action = "Audit".into();
        a.result = "Passed".into();
    } else {
        // Many quiet policies auditing file reads; /etc/shadow and /etc/passwd among them.
        let k = (h >> 16) % 37;
        let file = match (h >> 24) % 50 {
            0 => "/etc/shadow".to_string(),
            1 => "/etc/passwd".to_string(),
            f => format!("/var/lib/app{k}/data-{f}.db"),
        };
        a.policy_name = format!("ksp-audit-files-{k}");
        a.severity = ((k % 10) + 1).to_string();
        a.tags = "PCI_DSS,CIS".into();
        a.message = "sensitive file read".into();
        a.operation = "File".into();
        a.process_name = "/usr/bin/cat".into();
        a.resource = file.clone();
        a.source = format!("/usr/bin/cat {file}");
        a.data = "syscall=SYS_OPENAT fd=-100 flags=O_RDONLY|O_CLOEXEC".into();
        a.enforcer = "eBPF Monitor".into();
        a.action = "Audit".into();
        a.result = "Passed".into();
    }
    a
}

fn rss_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// User+system CPU seconds of this process's thread named `name`, if it is running.
fn thread_cpu(name: &str) -> Option<f64> {
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("stat")).ok()?;
        // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = f.get(11)?.parse().ok()?;
        let stime: f64 = f.get(12)?.parse().ok()?;
        return Some((utime + stime) / ticks);
    }
    None
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Runs a command with stdout piped, counts its output lines; returns (seconds, lines).
fn timed_lines(cmd: &mut Command) -> (f64, usize) {
    let start = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0;
    loop {
        let n = out.read(&mut buf).expect("read output");
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{cmd:?} failed: {status}");
    (start.elapsed().as_secs_f64(), lines)
}

fn best_of(runs: usize, mut f: impl FnMut() -> (f64, usize)) -> (f64, usize) {
    (0..runs)
        .map(|_| f())
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .unwrap()
}

fn main() {
    let n: u64 = std::env::var("KNOXCTL_BENCH_ALERTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("knoxctl-bench-alerts-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let span = 6 * 86_400;
    let start_ts = now - span;

    // Ingest: one producer, as the agent's event loop, that waits on a full queue instead
    // of losing alerts, so the rate measured is the writer's. It clones from a pool of
    // distinct alerts (as the agent fills one from an event), setting time and pid.
    let keep_all = Retention {
        max_age: Duration::from_secs(30 * 86_400),
        max_rows: n,
    };
    let pool: Vec<Alert> = (0..4096).map(|i| alert(i, n, start_ts, span)).collect();
    let rss_before = rss_kib("VmRSS:");
    let load_before = load_average();
    let t = Instant::now();
    let (writer, tx) = AlertWriter::spawn(&dir, keep_all).unwrap();
    // The writer thread's CPU time, sampled until it exits.
    let sampler = std::thread::spawn(|| {
        // The thread names itself once running.
        let t = Instant::now();
        while thread_cpu("alert-writer").is_none() && t.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut last = 0.0;
        while let Some(cpu) = thread_cpu("alert-writer") {
            last = cpu;
            std::thread::sleep(Duration::from_millis(5));
        }
        last
    });
    for i in 0..n {
        let mut a = pool[(mix(i) % 4096) as usize].clone();
        a.timestamp = start_ts + (i as i64 * span) / n as i64;
        a.host_pid = 10_000 + (i % 200_000) as i32;
        a.pid = a.host_pid;
        assert!(tx.send_wait(a));
    }
    drop(tx);
    let peak = rss_kib("VmHWM:");
    let stats = writer.shutdown();
    let secs = t.elapsed().as_secs_f64();
    let writer_cpu = sampler.join().unwrap();
    assert_eq!(stats.stored, n, "{stats:?}");
    println!(
        "alerts/ingest: {:.0} alerts/s ({n} alerts in {secs:.2} s, {} batches; writer thread {:.2} us CPU per alert = {:.0} alerts/s per core; peak RSS {} MiB, +{} MiB over the start; store {} MiB; load average {load_before} -> {})",
        n as f64 / secs,
        stats.batches,
        writer_cpu * 1e6 / n as f64,
        n as f64 / writer_cpu,
        peak / 1024,
        peak.saturating_sub(rss_before) / 1024,
        dir_size(&dir) >> 20,
        load_average(),
    );

    // The same alerts as JSON Lines, exported through the query path.
    let jsonl = dir.join("alerts.jsonl");
    let store = Store::open_readonly(&dir).unwrap();
    let t = Instant::now();
    {
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&jsonl).unwrap());
        store
            .query_each(&Query::default(), |_, alert| {
                serde_json::to_writer(&mut w, alert)?;
                w.write_all(b"\n")?;
                Ok::<_, anyhow::Error>(())
            })
            .unwrap();
        w.flush().unwrap();
    }
    println!(
        "alerts/export: {n} alerts as JSON Lines in {:.2} s ({} MiB)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&jsonl).unwrap().len() >> 20
    );

    let have_jq = Command::new("jq").arg("--version").output().is_ok();
    if !have_jq {
        println!("alerts/jq: skipped, jq is not installed (apt-get install jq)");
    }
    let cases = [
        (
            "selective",
            "PolicyName=block-pkg-mgmt-tools",
            r#"select(.PolicyName == "block-pkg-mgmt-tools")"#,
        ),
        (
            "regex",
            "Resource~^/etc/(shadow|passwd)$",
            r#"select(.Resource | test("^/etc/(shadow|passwd)$"))"#,
        ),
        // No index since the writer keeps only ts and policy_name: a scan of the table.
        (
            "unindexed",
            "ProcessName=/usr/bin/apt",
            r#"select(.ProcessName == "/usr/bin/apt")"#,
        ),
    ];
    for (name, filter, jq) in cases {
        let q = Query {
            filters: vec![Filter::parse(filter).unwrap()],
            ..Query::default()
        };
        let (lib_secs, lib_n) = best_of(5, || {
            let t = Instant::now();
            let mut count = 0usize;
            store
                .query_each(&q, |_, _| {
                    count += 1;
                    Ok::<_, knoxctl::alert::store::StoreError>(())
                })
                .unwrap();
            (t.elapsed().as_secs_f64(), count)
        });
        let (cli_secs, cli_n) = best_of(5, || {
            timed_lines(
                Command::new(env!("CARGO_BIN_EXE_knoxctl"))
                    .args(["alerts", "-o", "json", "--filter", filter, "--state-dir"])
                    .arg(&dir),
            )
        });
        assert_eq!(lib_n, cli_n);
        print!(
            "alerts/query/{name} `{filter}`: knoxctl alerts {:.3} s ({cli_n} alerts; {:.3} s in-process)",
            cli_secs, lib_secs
        );
        if have_jq {
            let (jq_secs, jq_n) = timed_lines(Command::new("jq").arg("-c").arg(jq).arg(&jsonl));
            assert_eq!(jq_n, cli_n, "jq and knoxctl selected different alerts");
            print!(
                "; jq {jq_secs:.2} s ({jq_n} alerts); knoxctl is {:.0}x faster",
                jq_secs / cli_secs
            );
        }
        println!();
    }
    drop(store);

    // `--from`: forensics on an exported file, with the filters of issue #17's measurement.
    let from_cases = [
        (
            "block-severe-process",
            &["Action=Block", "Severity>=8", "Operation=Process"][..],
            r#"select(.Action == "Block" and (.Severity | tonumber) >= 8 and .Operation == "Process")"#,
        ),
        (
            "selective",
            &["PolicyName=block-pkg-mgmt-tools"][..],
            r#"select(.PolicyName == "block-pkg-mgmt-tools")"#,
        ),
        (
            "regex",
            &["Resource~^/etc/(shadow|passwd)$"][..],
            r#"select(.Resource | test("^/etc/(shadow|passwd)$"))"#,
        ),
    ];
    let size = std::fs::metadata(&jsonl).unwrap().len();
    for (name, filters, jq) in from_cases {
        let (cli_secs, cli_n) = best_of(3, || {
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_knoxctl"));
            cmd.args(["alerts", "-o", "json", "--from"]).arg(&jsonl);
            for f in filters {
                cmd.args(["--filter", f]);
            }
            timed_lines(&mut cmd)
        });
        print!(
            "alerts/from/{name} `{}`: knoxctl alerts --from {cli_secs:.3} s ({cli_n} alerts of {n}, {} MiB, {:.0} MiB/s)",
            filters.join(" "),
            size >> 20,
            size as f64 / cli_secs / (1u64 << 20) as f64
        );
        if have_jq {
            let (jq_secs, jq_n) = timed_lines(Command::new("jq").arg("-c").arg(jq).arg(&jsonl));
            assert_eq!(
                jq_n, cli_n,
                "jq and knoxctl --from selected different alerts"
            );
            print!(
                "; jq {jq_secs:.2} s; knoxctl is {:.0}x faster",
                jq_secs / cli_secs
            );
        }
        println!();
    }
    std::fs::remove_dir_all(&dir).unwrap();
    tail_latency(&pool);
}

/// `alerts tail` latency: from the alert's hand-off to the store's writer (where the agent's
/// pipeline leaves it) to the line read from `knoxctl alerts tail -o json`, at steady rates.
fn tail_latency(pool: &[Alert]) {
    use std::io::BufRead;
    let dir = std::env::temp_dir().join(format!("knoxctl-bench-tail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let keep = Retention {
        max_age: Duration::from_secs(86_400),
        max_rows: 1_000_000,
    };
    let (writer, tx) = AlertWriter::spawn(&dir, keep).unwrap();
    // The store exists once its first alert is committed.
    assert!(tx.send_wait(pool[0].clone()));
    while !dir.join("alerts.db").exists() {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    let mut child = Command::new(env!("CARGO_BIN_EXE_knoxctl"))
        .args(["alerts", "tail", "-o", "json", "--state-dir"])
        .arg(&dir)
        .arg("--socket")
        .arg(dir.join("no-agent.sock"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<(i32, Instant)>();
    let reader = std::thread::spawn(move || {
        for line in lines {
            let Ok(line) = line else { break };
            if let Ok(a) = serde_json::from_str::<Alert>(&line) {
                let _ = seen_tx.send((a.host_pid, Instant::now()));
            }
        }
    });
    let cpu_before = child_cpu(child.id());
    let t_idle = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let idle_cpu = child_cpu(child.id()) - cpu_before;
    let idle_secs = t_idle.elapsed().as_secs_f64();
    let mut next_pid = 1i32;
    for rate in [100u64, 2_000, 20_000] {
        let count = (rate * 3).min(30_000);
        let gap = Duration::from_secs_f64(1.0 / rate as f64);
        let mut sent = Vec::with_capacity(count as usize);
        let start = Instant::now();
        for k in 0..count {
            let due = start + gap * k as u32;
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            let mut a = pool[(k % pool.len() as u64) as usize].clone();
            a.host_pid = next_pid;
            sent.push((next_pid, Instant::now()));
            next_pid += 1;
            assert!(tx.send_wait(a));
        }
        let mut lat: Vec<f64> = Vec::with_capacity(sent.len());
        let first = sent[0].0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while lat.len() < sent.len() && Instant::now() < deadline {
            let Ok((pid, at)) = seen_rx.recv_timeout(Duration::from_secs(5)) else {
                break;
            };
            if pid >= first {
                let i = (pid - first) as usize;
                lat.push(at.duration_since(sent[i].1).as_secs_f64() * 1e3);
            }
        }
        assert_eq!(lat.len(), sent.len(), "tail lost alerts at {rate}/s");
        lat.sort_by(f64::total_cmp);
        let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
        println!(
            "alerts/tail-latency at {rate} alerts/s ({} alerts): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            lat.len(),
            pct(0.50),
            pct(0.99),
            lat[lat.len() - 1]
        );
    }
    println!(
        "alerts/tail-idle: {:.2}% of a core while no alert arrives",
        idle_cpu / idle_secs * 100.0
    );
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    drop(tx);
    writer.shutdown();
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A process's CPU seconds (user + system) so far.
fn child_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command.
    (ticks(11) + ticks(12)) / 100.0
}
