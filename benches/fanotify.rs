//! What fanotify enforcement costs: operations no rule is about should not notice it, and
//! operations that do raise an event pay one round trip to the agent.
//!
//! Run as root: `cargo bench --bench fanotify`. The overhead measurements run many short
//! pairs of adjacent segments, without and with the enforcer (which one goes first
//! alternates), and report the median of the per-pair ratios with its interquartile
//! range: on a shared 2-CPU VM, background load and host preemption move whole seconds
//! of measurement by more than the effect being measured, and pairing cancels that.
//! - exec: fork+exec+wait of a copy of /bin/true, no enforcer vs 100 path rules loaded
//!   (blocking other binaries: the measured one raises no event). Target ratio <= 1.05.
//! - open: open()+close() of an unrelated file on the same filesystem as the marked
//!   files, and with the marks on another filesystem. Target ratio 1.00. Any mark on a
//!   filesystem makes the kernel stop opening that filesystem's files notify-free, so
//!   close() walks into fsnotify there (seen with perf as `__fsnotify_parent`); that
//!   per-filesystem cost is the kernel's, not a decision of ours.
//! - the price of a decision: an exec and an open that do raise a permission event
//!   (answered allow from the cache), measured in a child process because the agent's
//!   own opens are exempt.
//! - the matcher alone: decisions per second against a mixed rule set.

use knoxctl::enforce::Enforcer;
use knoxctl::enforce::fanotify::{FanotifyEnforcer, Posture};
use knoxctl::policy::matcher::{CompiledRules, Known};
use knoxctl::policy::normalize::{RuleSet, normalize};
use knoxctl::policy::validate::{Options, validate_bytes};
use std::ffi::CString;
use std::fs;
use std::hint::black_box;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

const ROUNDS: usize = 11;
const PAIRS: usize = 31;
const EXEC_PAIRS: usize = 81;

/// Wall and CPU nanoseconds. CPU time (this process and its waited-for children) is what
/// the kernel spent on our behalf, which stays comparable when other load on the
/// machine steals the processor; wall time is what a user waits.
#[derive(Clone, Copy)]
struct Cost {
    wall: f64,
    cpu: f64,
}

fn cpu_ns() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: ru is a valid out pointer.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut ru) };
        for t in [ru.ru_utime, ru.ru_stime] {
            total += t.tv_sec as f64 * 1e9 + t.tv_usec as f64 * 1e3;
        }
    }
    total
}

fn measure(n: usize, mut f: impl FnMut()) -> Cost {
    let (w0, c0) = (Instant::now(), cpu_ns());
    for _ in 0..n {
        f();
    }
    Cost {
        wall: w0.elapsed().as_nanos() as f64 / n as f64,
        cpu: (cpu_ns() - c0) / n as f64,
    }
}

fn rules(body: &str) -> RuleSet {
    let yaml = format!(
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: bench\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: '*'\n{body}"
    );
    let r = validate_bytes("bench.yaml", yaml.as_bytes(), Options::default());
    assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
    normalize(&r.policies().cloned().collect::<Vec<_>>()).remove(0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Median and interquartile range of `on[i] / off[i]`.
fn ratios(off: &[f64], on: &[f64]) -> (f64, f64, f64) {
    let mut r: Vec<f64> = off.iter().zip(on).map(|(a, b)| b / a).collect();
    r.sort_by(|a, b| a.total_cmp(b));
    (r[r.len() / 2], r[r.len() / 4], r[r.len() * 3 / 4])
}

fn print_ratio(off: &[Cost], on: &[Cost], unit: &str, scale: f64) {
    let m = |v: &[Cost], f: fn(&Cost) -> f64| median(v.iter().map(f).collect()) / scale;
    for (kind, f) in [
        ("wall", (|c: &Cost| c.wall) as fn(&Cost) -> f64),
        ("cpu ", |c: &Cost| c.cpu),
    ] {
        let a: Vec<f64> = off.iter().map(f).collect();
        let b: Vec<f64> = on.iter().map(f).collect();
        let (med, q1, q3) = ratios(&a, &b);
        println!(
            "  {kind} {:.1} {unit} vs {:.1} {unit}: ratio {med:.3} (IQR {q1:.3}-{q3:.3})",
            m(off, f),
            m(on, f),
        );
    }
}

/// Per fork+exec+wait.
fn exec_round(bin: &Path, n: usize) -> Cost {
    measure(n, || {
        let s = Command::new(bin).stdin(Stdio::null()).status().unwrap();
        assert!(s.success());
    })
}

fn thread_cpu_ns() -> f64 {
    // SAFETY: ts is a valid out pointer.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}

/// Per open+close, in this thread (CPU time of this thread only: the loop is all
/// syscalls, so that is the kernel's work for it).
fn open_loop(path: &Path, n: usize) -> Cost {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    let (w0, c0) = (Instant::now(), thread_cpu_ns());
    for _ in 0..n {
        // SAFETY: c is a valid path; the fd is closed at once.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        assert!(fd >= 0, "{}", std::io::Error::last_os_error());
        unsafe { libc::close(fd) };
    }
    Cost {
        wall: w0.elapsed().as_nanos() as f64 / n as f64,
        cpu: (thread_cpu_ns() - c0) / n as f64,
    }
}

/// The same loop in a child (this binary re-run), so its opens are not the agent's own.
fn open_loop_child(path: &Path, n: usize) -> f64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--open-loop")
        .arg(path)
        .arg(n.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn copy_exe(to: &Path) -> PathBuf {
    fs::copy("/bin/true", to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
    to.to_path_buf()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--open-loop") {
        let n: usize = args[3].parse().unwrap();
        println!("{}", open_loop(Path::new(&args[2]), n).wall);
        return;
    }
    if let Ok(load) = fs::read_to_string("/proc/loadavg") {
        println!("load average: {}", load.trim());
    }
    matcher_bench();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("fanotify: skipped (permission events need root)");
        return;
    }

    let dir = Dir(std::env::temp_dir().join(format!("knoxctl-bench-fan-{}", std::process::id())));
    fs::create_dir_all(dir.0.join("rules")).unwrap();
    let tiny = copy_exe(&dir.0.join("tiny"));
    let watched_exe = copy_exe(&dir.0.join("watched-exe"));
    let unrelated = dir.0.join("unrelated");
    fs::write(&unrelated, b"u").unwrap();
    let watched = dir.0.join("watched");
    fs::write(&watched, b"w").unwrap();
    let watched_ro = dir.0.join("watched-ro");
    fs::write(&watched_ro, b"w").unwrap();
    let mut body = String::from("  process:\n    matchPaths:\n");
    for i in 0..100 {
        let p = copy_exe(&dir.0.join(format!("rules/blocked-{i}")));
        body.push_str(&format!("    - path: {}\n", p.display()));
    }
    let hundred = rules(&format!("{body}  action: Block\n"));
    // The same rules on another filesystem, when /dev/shm is one: the kernel's cost of a
    // mark is per filesystem.
    let shm = Dir(PathBuf::from(format!(
        "/dev/shm/knoxctl-bench-fan-{}",
        std::process::id()
    )));
    let elsewhere = (fs::create_dir_all(&shm.0).is_ok()
        && fs::metadata(&shm.0).map(|m| m.dev()).ok()
            != fs::metadata(&dir.0).map(|m| m.dev()).ok())
    .then(|| {
        let mut b = String::from("  process:\n    matchPaths:\n");
        for i in 0..100 {
            let p = copy_exe(&shm.0.join(format!("blocked-{i}")));
            b.push_str(&format!("    - path: {}\n", p.display()));
        }
        rules(&format!("{b}  action: Block\n"))
    });
    // Rules that raise an event on every use but allow it: a fromSource that never
    // matches (exec and open), and a readOnly file read (the open flags must be read).
    let eventful = rules(&format!(
        "  process:\n    matchPaths:\n    - path: {0}\n      fromSource:\n      - path: /nonexistent/source\n  file:\n    matchPaths:\n    - path: {1}\n      fromSource:\n      - path: /nonexistent/source\n    - path: {2}\n      readOnly: true\n  action: Block\n",
        watched_exe.display(),
        watched.display(),
        watched_ro.display()
    ));

    let (tx, rx) = sync_channel(1024);
    let mut enf = FanotifyEnforcer::start(tx, Posture::Audit).expect("fanotify");
    let drain = std::thread::spawn(move || while rx.recv().is_ok() {});

    // Warm up caches and the page cache on both sides.
    exec_round(&tiny, 50);
    open_loop(&unrelated, 10_000);

    let exec_n = 50;
    let open_n = 100_000;
    // Exec and open in separate loops: each side is measured right after the same kind
    // of switch (apply or stop), and nothing else runs between switch and measurement.
    let (mut exec_off, mut exec_on) = (vec![], vec![]);
    for pair in 0..EXEC_PAIRS {
        for on in [pair % 2 == 0, pair % 2 != 0] {
            if on {
                let report = enf.apply(&hundred).unwrap();
                assert_eq!(report.enforced.len(), 100);
                exec_on.push(exec_round(&tiny, exec_n));
            } else {
                enf.stop();
                exec_off.push(exec_round(&tiny, exec_n));
            }
        }
    }
    let (mut open_off, mut open_on, mut open_else) = (vec![], vec![], vec![]);
    for pair in 0..PAIRS {
        for on in [pair % 2 == 0, pair % 2 != 0] {
            if on {
                enf.apply(&hundred).unwrap();
                open_on.push(open_loop(&unrelated, open_n));
            } else {
                enf.stop();
                open_off.push(open_loop(&unrelated, open_n));
            }
        }
        if let Some(rs) = &elsewhere {
            enf.apply(rs).unwrap();
            open_else.push(open_loop(&unrelated, open_n));
        }
    }
    println!(
        "exec (fork+exec+wait of a /bin/true copy), no enforcer vs 100 path rules (target ratio <= 1.05):"
    );
    print_ratio(&exec_off, &exec_on, "us", 1000.0);
    println!(
        "open+close of an unrelated file, no enforcer vs 100 path rules on its filesystem (target ratio 1.00):"
    );
    print_ratio(&open_off, &open_on, "ns", 1.0);
    if !open_else.is_empty() {
        println!("  the same 100 rules on another filesystem (/dev/shm) instead:");
        let off = &open_off[..open_else.len()];
        print_ratio(off, &open_else, "ns", 1.0);
    }

    let (mut ev_exec_off, mut ev_exec_on, mut ev_open_off, mut ev_open_on) =
        (vec![], vec![], vec![], vec![]);
    let (mut ro_off, mut ro_on) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        enf.stop();
        ev_exec_off.push(exec_round(&watched_exe, exec_n).wall);
        ev_open_off.push(open_loop_child(&watched, 20_000));
        ro_off.push(open_loop_child(&watched_ro, 20_000));
        enf.apply(&eventful).unwrap();
        ev_exec_on.push(exec_round(&watched_exe, exec_n).wall);
        ev_open_on.push(open_loop_child(&watched, 20_000));
        ro_on.push(open_loop_child(&watched_ro, 20_000));
    }
    let (xoff, xon) = (median(ev_exec_off), median(ev_exec_on));
    let (yoff, yon) = (median(ev_open_off), median(ev_open_on));
    let (roff, ron) = (median(ro_off), median(ro_on));
    println!(
        "exec that raises an event (allowed from the cache): {:.1} us vs {:.1} us (+{:.1} us per decision, wall)",
        xoff / 1000.0,
        xon / 1000.0,
        (xon - xoff) / 1000.0
    );
    println!(
        "open that raises an event (allowed from the cache): {:.0} ns vs {:.0} ns (+{:.1} us per decision, wall)",
        yoff,
        yon,
        (yon - yoff) / 1000.0
    );
    println!(
        "readOnly open (flags read from /proc, allowed):     {:.0} ns vs {:.0} ns (+{:.1} us per decision, wall)",
        roff,
        ron,
        (ron - roff) / 1000.0
    );
    let stats = enf.stats();
    println!(
        "enforcer: {} events, {} cache hits, {} errors",
        stats.events, stats.cache_hits, stats.errors
    );
    enf.stop();
    drop(enf);
    drain.join().unwrap();
}

fn matcher_bench() {
    let mut body = String::from("  process:\n    matchPaths:\n");
    for i in 0..100 {
        body.push_str(&format!("    - path: /usr/bin/tool-{i}\n"));
    }
    body.push_str("    matchDirectories:\n");
    for i in 0..20 {
        body.push_str(&format!(
            "    - dir: /opt/app-{i}/\n      recursive: true\n"
        ));
    }
    body.push_str("    matchPatterns:\n");
    for i in 0..10 {
        body.push_str(&format!("    - pattern: /home/*/bin/evil-{i}*\n"));
    }
    let set = rules(&format!("{body}  action: Block\n"));
    let c = CompiledRules::new(&set, Posture::Audit);
    let paths = [
        "/usr/bin/tool-42",
        "/usr/bin/ls",
        "/opt/app-7/lib/x/y/run",
        "/home/u/bin/evil-3x",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ];
    let n = 1_000_000;
    let thread_cpu = || {
        // SAFETY: ts is a valid out pointer.
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
    };
    let mut per_path = Vec::new();
    for p in paths {
        let t0 = thread_cpu();
        for _ in 0..n / paths.len() {
            black_box(c.exec(
                black_box(p),
                0,
                &mut Known {
                    source: "/bin/sh",
                    uid: 0,
                },
            ));
        }
        per_path.push(format!(
            "{p} {:.0}",
            (thread_cpu() - t0) / (n / paths.len()) as f64
        ));
    }
    let start = thread_cpu();
    for i in 0..n {
        let p = paths[i % paths.len()];
        black_box(c.exec(
            black_box(p),
            0,
            &mut Known {
                source: "/bin/sh",
                uid: 0,
            },
        ));
    }
    let ns = (thread_cpu() - start) / n as f64;
    println!("matcher per path (ns cpu): {}", per_path.join(", "));
    println!("matcher: {ns:.0} ns per decision (100 paths, 20 recursive directories, 10 globs)");
}
