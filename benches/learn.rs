//! `policy test` and `harden discover` over 1,000,000 stored telemetry records (issue #18's
//! targets: < 2 s and < 5 s, memory bounded).
//!
//! Run: `cargo bench --bench learn` (KNOXCTL_BENCH_RECORDS=N changes the 1,000,000;
//! ~600 MB in the temp directory, removed afterwards). It writes a telemetry store
//! (`logs.db`, the agent's own layout) and the same records as KubeArmor JSON Lines, then
//! runs the real binary over each source three times and prints the best wall time, the
//! CPU time and the peak RSS of that run (sampled every 5 ms, with its anonymous part), one line per measurement.
//!
//! The records imitate a busy host: 20% execs, 70% opens, 10% sockets, by 40 programs with
//! 3 parents, over 22 directories of 30 files — so the memory the commands need is bounded
//! by the distinct programs and resources, which this mix keeps small while the record
//! count grows.

use knoxctl::alert::Alert;
use knoxctl::alert::store::{Store, StoreKind};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

fn mix(mut x: u64) -> u64 {
    // splitmix64: deterministic, well spread.
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const PARENTS: [&str; 3] = [
    "/usr/bin/bash",
    "/opt/svc/run.sh",
    "/usr/lib/systemd/systemd",
];

fn record(i: u64, start: i64) -> Alert {
    let h = mix(i);
    let pid = 2000 + (i % 30_000) as i32;
    let ts = start + (i / 100) as i64;
    let program = format!("/usr/bin/p{}", (h >> 8) % 40);
    let mut a = Alert {
        timestamp: ts,
        updated_time: format!(
            "{}.{:09}Z",
            knoxctl::output::format_time(ts).trim_end_matches('Z'),
            i % 1_000_000_000
        ),
        cluster_name: "default".into(),
        host_name: "web-1".into(),
        host_ppid: 1000,
        host_pid: pid,
        ppid: 1000,
        pid,
        kind: "HostLog".into(),
        result: "Passed".into(),
        cwd: "/".into(),
        enforcer: "eBPF Monitor".into(),
        ..Alert::default()
    };
    match h % 10 {
        0 | 1 => {
            let parent = PARENTS[((h >> 16) % 3) as usize];
            a.operation = "Process".into();
            a.parent_process_name = parent.into();
            a.source = parent.into();
            a.resource = format!("{program} --flag value");
            a.process_name = program;
            a.data = "syscall=SYS_EXECVE".into();
        }
        9 => {
            a.operation = "Network".into();
            a.parent_process_name = "/usr/bin/bash".into();
            a.source = program.clone();
            a.process_name = program;
            a.resource = "domain=AF_INET type=SOCK_STREAM protocol=0".into();
            a.data = "syscall=SYS_SOCKET".into();
        }
        _ => {
            let d = (h >> 24) % 22;
            let dir = match d {
                20 => "/etc".to_string(),
                21 => "/var/log/app".to_string(),
                d => format!("/opt/app{d}/conf"),
            };
            let flags = if (h >> 40).is_multiple_of(5) {
                "O_WRONLY|O_CREAT|O_APPEND"
            } else {
                "O_RDONLY|O_CLOEXEC"
            };
            a.operation = "File".into();
            a.parent_process_name = "/usr/bin/bash".into();
            a.source = format!("{program} --run");
            a.process_name = program;
            a.resource = format!("{dir}/file{}.conf", (h >> 32) % 30);
            a.data = format!("syscall=SYS_OPENAT fd=-100 flags={flags}");
        }
    }
    a
}

/// A draft with a Block, an Allow-list directory, a readOnly Block and an Audit rule, under
/// a Block default posture: every record is judged by several rules.
const DRAFT: &str = "\
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: bench
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: web-1
  process:
    matchPaths:
    - path: /usr/bin/p3
      action: Block
    matchDirectories:
    - dir: /usr/bin/
      action: Allow
  file:
    matchDirectories:
    - dir: /opt/app3/conf/
      readOnly: true
      action: Block
    - dir: /etc/
      action: Audit
";

struct Run {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    /// The largest anonymous part seen: the store is read through mmap, whose file pages
    /// count in RSS but are page cache the kernel can drop, not memory the command holds.
    anon_mib: f64,
}

/// Runs the command to completion (exit 0 or 1: `policy test` exits 1 when the draft would
/// block something) and measures it with wait4's rusage, which is this child's alone.
fn run(cmd: &mut Command) -> Run {
    let start = Instant::now();
    // Reaped by wait4 below, which std's Child::wait cannot replace: it gives no rusage.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn knoxctl");
    let pid = child.id() as libc::pid_t;
    // wait4's ru_maxrss would include this (much larger) process's memory, which the child
    // had until its exec; the child's own high-water mark is sampled instead.
    let sampler = std::thread::spawn(move || {
        let kib = |s: &str, key: &str| -> Option<u64> {
            let v = s.lines().find_map(|l| l.strip_prefix(key))?;
            v.trim().trim_end_matches("kB").trim().parse().ok()
        };
        let (mut peak, mut anon) = (0u64, 0u64);
        while let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(hwm) = kib(&s, "VmHWM:") else {
                break; // exited: a zombie has no memory left
            };
            peak = peak.max(hwm);
            anon = anon.max(kib(&s, "RssAnon:").unwrap_or(0));
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        (peak, anon)
    });
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WEXITSTATUS(status);
    assert!(
        libc::WIFEXITED(status) && code <= 1,
        "{cmd:?} failed with status {status:#x} (its stderr is above)"
    );
    let (peak, anon) = sampler.join().unwrap();
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Run {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        rss_mib: peak as f64 / 1024.0,
        anon_mib: anon as f64 / 1024.0,
    }
}

fn best(mut f: impl FnMut() -> Run) -> Run {
    (0..3)
        .map(|_| f())
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .unwrap()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn bin() -> PathBuf {
    std::env::var_os("KNOXCTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_knoxctl")))
}

fn report(what: &str, n: u64, source: &str, r: &Run, target: &str) {
    println!(
        "learn/{what}: {n} records from {source}: {:.2} s wall, {:.2} s CPU, peak RSS {:.0} MiB of which anonymous {:.0} MiB (target {target}; load average {})",
        r.wall,
        r.cpu,
        r.rss_mib,
        r.anon_mib,
        load_average()
    );
}

fn main() {
    let n: u64 = std::env::var("KNOXCTL_BENCH_RECORDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("knoxctl-bench-learn-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let state: &Path = &dir.join("state");
    std::fs::create_dir_all(state).unwrap();
    // Inside the store's default retention window, so `--since 30d` covers every record.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let start = now - (n / 100) as i64 - 60;

    let t = Instant::now();
    let jsonl = dir.join("events.jsonl");
    {
        let mut store = Store::open_kind(state, StoreKind::Logs).unwrap();
        let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(&jsonl).unwrap());
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..n {
            let a = record(i, start);
            serde_json::to_writer(&mut w, &a).unwrap();
            w.write_all(b"\n").unwrap();
            batch.push(a);
            if batch.len() == batch.capacity() {
                store.insert_batch(&batch).unwrap();
                batch.clear();
            }
        }
        store.insert_batch(&batch).unwrap();
        w.flush().unwrap();
    }
    let draft = dir.join("draft.yaml");
    std::fs::write(&draft, DRAFT).unwrap();
    println!(
        "learn/setup: {n} records in {:.1} s (logs.db {} MiB, JSON Lines {} MiB)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(state.join("logs.db")).map_or(0, |m| m.len() >> 20),
        std::fs::metadata(&jsonl).unwrap().len() >> 20
    );

    let knoxctl = bin();
    let state_arg = state.to_str().unwrap();
    let from_arg = jsonl.to_str().unwrap();
    let draft_arg = draft.to_str().unwrap();
    let out_dir = dir.join("discovered");
    let out_arg = out_dir.to_str().unwrap();
    for (source, args) in [
        ("the store", vec!["--state-dir", state_arg]),
        ("JSON Lines", vec!["--from", from_arg]),
    ] {
        let since: &[&str] = if source == "the store" {
            &["--since", "30d"]
        } else {
            &[]
        };
        let r = best(|| {
            run(Command::new(&knoxctl)
                .args(["policy", "test", "-f", draft_arg, "-o", "json"])
                .args(&args)
                .args(since))
        });
        report("policy-test", n, source, &r, "< 2 s");
        let r = best(|| {
            let _ = std::fs::remove_dir_all(&out_dir);
            run(Command::new(&knoxctl)
                .args(["harden", "discover", "--host", "--out-dir", out_arg])
                .args(&args)
                .args(since))
        });
        report("discover", n, source, &r, "< 5 s");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
