//! End-to-end ingest: real kernel events through the eBPF monitor, the agent's pipeline
//! (match, alert building) and the store's writer, with every event accounted for.
//!
//! Run as root: `cargo bench --bench ingest`. Starts a native agent (`--enforcer
//! monitor-only`, its own state dir and socket) pinned to one CPU, applies a host policy
//! that audits one file, and opens that file in a tight loop from generator threads of
//! this process (pinned to the other CPUs). Reports, per run:
//! - events generated (successful opens of the file, counted by the generator),
//! - events the kernel's ring buffer dropped, events the monitor's reader dropped (its
//!   channel full), alerts the store's queue dropped, alerts stored,
//! - unaccounted = generated − stored − dropped (must be 0; the drop counters also count
//!   other processes' opens, which the monitor sees too, so it can only err towards < 0),
//! - the agent's CPU time (utime+stime from /proc, per thread too) and events stored per
//!   agent CPU-second, and its peak RSS (VmHWM).
//!
//! First, without root: the cost of throttling with 1,000 and 20,000 keys that all fold
//! (`ingest/throttle`, in CPU time; KNOXCTL_INGEST_THROTTLE=0 skips it), and the latency of a
//! forwarder (`ingest/forward-latency`: alert handed to the writer → its syslog datagram
//! received; KNOXCTL_INGEST_FORWARD=0 skips it).
//!
//! Environment: KNOXCTL_INGEST_SECONDS (default 10), KNOXCTL_INGEST_THREADS (generator
//! threads, default 2), KNOXCTL_INGEST_RATE (events/s in total, paced; 0 = as fast as
//! they go, the default), KNOXCTL_INGEST_CPU (the agent's CPU, default 0; -1 leaves it
//! unpinned), KNOXCTL_BIN (the knoxctl binary; default the one cargo built).

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn env_num(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bin() -> PathBuf {
    std::env::var_os("KNOXCTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_knoxctl")))
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn pin(cpus: &[usize]) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes within it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

struct Agent {
    dir: PathBuf,
    child: Child,
}

impl Agent {
    fn start(cpu: i64) -> Agent {
        let dir = std::env::temp_dir().join(format!("knoxctl-bench-ingest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.yaml"), "clusterName: bench\n").unwrap();
        let log = std::fs::File::create(dir.join("agent.log")).unwrap();
        let mut cmd = Command::new(bin());
        cmd.args(["agent", "--config"])
            .arg(dir.join("config.yaml"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--socket")
            .arg(dir.join("agent.sock"))
            .args(["--enforcer", "monitor-only"])
            .env_remove("KNOXCTL_SOCKET")
            .env_remove("KNOXCTL_STATE_DIR")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        if cpu >= 0 {
            let cpu = cpu as usize;
            // SAFETY: sched_setaffinity is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || {
                    pin(&[cpu]);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("start the agent");
        let a = Agent { dir, child };
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(a.dir.join("agent.sock")).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "agent did not listen: {}",
                std::fs::read_to_string(a.dir.join("agent.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        a
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .env("KNOXCTL_SOCKET", self.dir.join("agent.sock"))
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn status(&self) -> serde_json::Value {
        let o = self.cli(&["probe", "-o", "json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("probe: {e}: {}", String::from_utf8_lossy(&o.stderr)));
        v["agent"].clone()
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // SAFETY: our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The counters that account for events, from the agent's status.
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    stored: u64,
    kernel_lost: u64,
    reader_dropped: u64,
    store_dropped: u64,
    received: u64,
}

impl Counts {
    fn of(v: &serde_json::Value) -> Counts {
        let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("no {k} in {v}"));
        Counts {
            stored: n("alertsStored"),
            kernel_lost: n("monitorLostInKernel"),
            reader_dropped: n("monitorDroppedInUserspace"),
            store_dropped: n("alertsDropped"),
            received: n("monitorReceived"),
        }
    }

    fn minus(self, b: Counts) -> Counts {
        Counts {
            stored: self.stored - b.stored,
            kernel_lost: self.kernel_lost - b.kernel_lost,
            reader_dropped: self.reader_dropped - b.reader_dropped,
            store_dropped: self.store_dropped - b.store_dropped,
            received: self.received - b.received,
        }
    }

    fn dropped(&self) -> u64 {
        self.kernel_lost + self.reader_dropped + self.store_dropped
    }
}

fn ticks_per_sec() -> f64 {
    // SAFETY: plain sysconf.
    (unsafe { libc::sysconf(libc::_SC_CLK_TCK) }) as f64
}

/// utime+stime in clock ticks from a /proc stat file, and the thread's comm.
fn stat_cpu(path: &Path) -> Option<(String, u64)> {
    let s = std::fs::read_to_string(path).ok()?;
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s[open + 1..close].to_string();
    let f: Vec<&str> = s[close + 2..].split(' ').collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU ticks of the whole process and of each thread (by comm, summed).
fn cpu(pid: u32) -> (u64, std::collections::BTreeMap<String, u64>) {
    let total = stat_cpu(Path::new(&format!("/proc/{pid}/stat")))
        .map(|(_, t)| t)
        .unwrap_or(0);
    let mut threads = std::collections::BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in rd.flatten() {
            if let Some((comm, t)) = stat_cpu(&e.path().join("stat")) {
                *threads.entry(comm).or_insert(0) += t;
            }
        }
    }
    (total, threads)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Opens and closes `path` until `stop`, `rate` times a second (0: flat out); returns
/// the successful opens.
fn generate(path: &CString, stop: &AtomicBool, rate: f64, count: &AtomicU64) {
    let start = Instant::now();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..256 {
            // SAFETY: a valid NUL-terminated path; the fd is closed at once.
            let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd >= 0 {
                n += 1;
                unsafe { libc::close(fd) };
            }
        }
        count.store(n, Ordering::Relaxed);
        if rate > 0.0 {
            let due = Duration::from_secs_f64(n as f64 / rate);
            if let Some(ahead) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
    }
    count.store(n, Ordering::Relaxed);
}

/// Waits until the agent's counters account for `want` events beyond `base` and stop
/// moving; returns the last counters.
fn drain(agent: &Agent, base: Counts, want: u64) -> Counts {
    let start = Instant::now();
    let mut last = Counts::of(&agent.status()).minus(base);
    let mut still = 0;
    while start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(300));
        let now = Counts::of(&agent.status()).minus(base);
        let moved = now.stored != last.stored || now.dropped() != last.dropped();
        last = now;
        if !moved && now.stored + now.dropped() >= want {
            still += 1;
            if still >= 3 {
                break;
            }
        } else {
            still = 0;
        }
    }
    last
}

/// This thread's CPU time: the machine is shared, and wall time would count the time
/// other processes ran instead.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Throttling with many keys: `keys` policies, each over its limit (a fold gathering
/// for every one), then admits round-robin over them for about a second, and the writer's
/// per-batch calls (`next_due`, `due`). Prints ns per call.
fn throttle_bench(keys: usize) {
    use knoxctl::alert::Alert;
    use knoxctl::alert::throttle::{Throttle, ThrottleOptions};
    let mut t = Throttle::new(ThrottleOptions {
        max_per_second: 1,
        fold_seconds: 3600,
    })
    .unwrap();
    let names: Vec<String> = (0..keys).map(|i| format!("policy-{i}")).collect();
    let alert = |i: usize| Alert {
        timestamp: 1_000,
        policy_name: names[i % keys].clone(),
        ..Alert::default()
    };
    let now = Instant::now();
    let mut out = Vec::new();
    // Two alerts of a key in its second: the second starts its fold.
    for i in 0..2 * keys {
        t.admit(alert(i / 2), now, &mut out);
    }
    // The alerts are made beforehand: only admitting them is timed.
    let ready: Vec<Alert> = (0..200_000).map(alert).collect();
    let start = thread_cpu();
    let n = ready.len();
    for a in ready {
        t.admit(a, now, &mut out);
    }
    let admit_ns = (thread_cpu() - start).as_nanos() as f64 / n as f64;
    drop(out.drain(..));
    let start = thread_cpu();
    let m = 10_000;
    for _ in 0..m {
        std::hint::black_box(t.next_due());
        t.due(now, false, &mut out);
    }
    let batch_ns = (thread_cpu() - start).as_nanos() as f64 / m as f64;
    println!(
        "ingest/throttle: {keys} keys, each folding: admit {admit_ns:.0} ns/alert; per writer batch (next_due + due, nothing due) {batch_ns:.0} ns"
    );
}

/// Forward latency: alert handed to the store's writer → its syslog datagram received
/// over UDP on loopback, for `n` alerts `gap` apart (an idle forwarder each time).
fn forward_latency(n: usize, gap: Duration) {
    use knoxctl::alert::Alert;
    use knoxctl::alert::store::{AlertWriter, Retention};
    use knoxctl::forward::{Context, ForwarderConfig, Forwarders, Kind};
    let dir = std::env::temp_dir().join(format!("knoxctl-bench-fwd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (writer, sender) = AlertWriter::spawn(&dir, Retention::default()).unwrap();
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let config = ForwarderConfig {
        name: "lat".into(),
        kind: Kind::Syslog,
        address: format!("udp://{}", sock.local_addr().unwrap()),
        batch_size: 500,
        max_backoff_secs: 1,
        timeout_secs: 2,
        headers: Default::default(),
        token: None,
        token_file: None,
        index: None,
        sourcetype: None,
        use_ack: false,
        ack_timeout_secs: None,
        ca_file: None,
    };
    let stats = writer.stats_handle();
    let raise = sender.clone();
    let fwd = Forwarders::start(
        &[config],
        Context {
            state_dir: dir.clone(),
            commits: Box::new(move || stats().batches),
            raise: Box::new(move |a| {
                raise.send(a);
            }),
            cluster_name: "bench".into(),
            host_name: "bench".into(),
        },
    )
    .unwrap();
    while !dir.join("forward").join("lat.cursor").exists() {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut lat = Vec::with_capacity(n);
    let mut buf = vec![0u8; 65536];
    for i in 0..n {
        std::thread::sleep(gap);
        let marker = format!("/bench/forward-latency/{i}/");
        let sent = Instant::now();
        sender.send(Alert {
            timestamp: 1_700_000_000,
            resource: marker.clone(),
            policy_name: "latency".into(),
            ..Alert::default()
        });
        loop {
            let got = sock
                .recv(&mut buf)
                .expect("the forwarder sent nothing within 5 s");
            if String::from_utf8_lossy(&buf[..got]).contains(&marker) {
                break;
            }
        }
        lat.push(sent.elapsed());
    }
    fwd.stop();
    writer.shutdown();
    let _ = std::fs::remove_dir_all(&dir);
    lat.sort();
    let ms = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "ingest/forward-latency: {n} alerts {} ms apart, writer → syslog UDP datagram: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        gap.as_millis(),
        ms(0.5),
        ms(0.99),
        ms(1.0)
    );
}

fn main() {
    if env_num("KNOXCTL_INGEST_FORWARD", 1) != 0 {
        forward_latency(200, Duration::from_millis(25));
    }
    if env_num("KNOXCTL_INGEST_THROTTLE", 1) != 0 {
        for keys in [1_000, 20_000] {
            throttle_bench(keys);
        }
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("ingest bench: needs root (the eBPF monitor); skipped");
        return;
    }
    let seconds = env_num("KNOXCTL_INGEST_SECONDS", 10) as u64;
    let threads = env_num("KNOXCTL_INGEST_THREADS", 2).max(1) as usize;
    let rate = env_num("KNOXCTL_INGEST_RATE", 0) as f64;
    let agent_cpu = env_num("KNOXCTL_INGEST_CPU", 0);
    let n_cpus = cpus();
    let agent = Agent::start(agent_cpu);
    let target = agent.dir.join("audited-file");
    std::fs::write(&target, "x").unwrap();
    let host = knoxctl::identity::hostname();
    let policy = agent.dir.join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: ingest-audit}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  severity: 5\n  action: Audit\n  file:\n    matchPaths: [{{path: {}}}]\n",
            target.display()
        ),
    )
    .unwrap();
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(
        o.status.success(),
        "apply: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The generators run beside the agent, not on its CPU.
    let others: Vec<usize> = (0..n_cpus)
        .filter(|&c| agent_cpu < 0 || c != agent_cpu as usize)
        .collect();
    if !others.is_empty() {
        pin(&others);
    }
    let path = CString::new(target.as_os_str().as_encoded_bytes()).unwrap();

    // Warm-up: the rule is in place and alerts flow.
    let base = Counts::of(&agent.status());
    let warm = 1000u64;
    for _ in 0..warm {
        // SAFETY: as in `generate`.
        let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        assert!(fd >= 0);
        unsafe { libc::close(fd) };
    }
    let w = drain(&agent, base, warm);
    assert!(
        w.stored >= warm,
        "warm-up: {warm} opens but {w:?}: {}",
        std::fs::read_to_string(agent.dir.join("agent.log")).unwrap_or_default()
    );

    let pid = agent.pid();
    let base = Counts::of(&agent.status());
    let (cpu0, threads0) = cpu(pid);
    let stop = AtomicBool::new(false);
    let counts: Vec<AtomicU64> = (0..threads).map(|_| AtomicU64::new(0)).collect();
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in &counts {
            let (path, stop) = (&path, &stop);
            s.spawn(move || generate(path, stop, rate / threads as f64, c));
        }
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
    });
    let gen_secs = started.elapsed().as_secs_f64();
    let generated: u64 = counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
    let got = drain(&agent, base, generated);
    let wall = started.elapsed().as_secs_f64();
    let (cpu1, threads1) = cpu(pid);
    let tps = ticks_per_sec();
    let agent_cpu_s = (cpu1 - cpu0) as f64 / tps;
    let hwm = status_kib(pid, "VmHWM:");
    let rss = status_kib(pid, "VmRSS:");
    let unaccounted = generated as i64 - got.stored as i64 - got.dropped() as i64;
    println!(
        "ingest/e2e: threads {threads}, rate {}, agent on CPU {agent_cpu} of {n_cpus}",
        if rate > 0.0 {
            format!("{rate}/s")
        } else {
            "flat out".into()
        }
    );
    println!(
        "  generated {generated} in {gen_secs:.2} s ({:.0}/s); monitor received {} (all processes' opens)",
        generated as f64 / gen_secs,
        got.received
    );
    println!(
        "  stored {}; dropped: kernel ring {}, reader {}, store queue {}; unaccounted {unaccounted}",
        got.stored, got.kernel_lost, got.reader_dropped, got.store_dropped
    );
    println!(
        "  stored {:.0}/s over the generation; agent CPU {agent_cpu_s:.2} s for {wall:.2} s of wall time: {:.0} alerts stored per agent CPU-second",
        got.stored as f64 / gen_secs,
        got.stored as f64 / agent_cpu_s
    );
    let per_thread: Vec<String> = threads1
        .iter()
        .filter_map(|(k, &v)| {
            let d = v - threads0.get(k).copied().unwrap_or(0);
            (d > 0).then(|| format!("{k} {:.2} s", d as f64 / tps))
        })
        .collect();
    println!("  agent CPU by thread: {}", per_thread.join(", "));
    println!(
        "  agent RSS {} MiB, peak (VmHWM) {} MiB",
        rss / 1024,
        hwm / 1024
    );
}
