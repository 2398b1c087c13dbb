//! The fanotify backend against the real kernel: every test makes the kernel refuse a
//! real exec or open (no mocks), with rules built from policy YAML through validation
//! and normalization, as the agent does.
//!
//! Needs root (CI runs as root on the same kernel); without it each test says why and
//! passes. Every enforcer sits in a guard that stops it on drop, so a failing assertion
//! never leaves a block behind. Blocks only ever concern files these tests create; the
//! allow-list tests, which must see every exec, are confined to a private tmpfs.

mod common;

use knoxctl::enforce::fanotify::{FanotifyEnforcer, Options, Posture, probe};
use knoxctl::enforce::{ApplyReport, Enforcer, EnforcerEvent, Level, Op, Operation};
use knoxctl::policy::normalize::{RuleSet, normalize};
use knoxctl::policy::validate::{Options as ValidateOptions, validate_bytes};
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    if !common::prerequisite(
        unsafe { libc::geteuid() } == 0,
        "fanotify permission events need root",
    ) {
        return false;
    }
    let p = probe();
    common::prerequisite(p.usable, &format!("fanotify unusable here: {}", p.reason))
}

macro_rules! require_fanotify {
    () => {
        if !can_run() {
            return;
        }
    };
}

fn policy(name: &str, body: &str) -> String {
    format!(
        "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: {name}\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: '*'\n{body}"
    )
}

/// YAML → validation → normalization, the agent's own path to a rule set.
fn rules(yaml: &str) -> RuleSet {
    let report = validate_bytes("test.yaml", yaml.as_bytes(), ValidateOptions::default());
    assert!(
        report.valid,
        "{:?}",
        report.diagnostics().collect::<Vec<_>>()
    );
    let policies: Vec<_> = report.policies().cloned().collect();
    let mut sets = normalize(&policies);
    assert_eq!(sets.len(), 1);
    sets.remove(0)
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "knoxctl-fan-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(fs::canonicalize(&p).unwrap())
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A private tmpfs, so whole-filesystem exec marks see only what the test puts there.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path) -> Tmpfs {
        fs::create_dir_all(path).unwrap();
        let c = CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: all arguments are valid NUL-terminated strings.
        let r = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                c.as_ptr(),
                c"tmpfs".as_ptr(),
                0,
                c"mode=0755".as_ptr().cast(),
            )
        };
        assert_eq!(r, 0, "mount tmpfs: {}", io::Error::last_os_error());
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let c = CString::new(self.0.as_os_str().as_bytes()).unwrap();
        // SAFETY: c is a valid path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        let _ = fs::remove_dir(&self.0);
    }
}

/// Tests run as threads of one process. A child forked by one test holds every fd that
/// was open at that moment until it execs, including another test's half-written
/// executable, whose exec then fails with ETXTBSY. Executables are written, and children
/// spawned, under this lock.
static SPAWN: Mutex<()> = Mutex::new(());

fn spawn_lock() -> MutexGuard<'static, ()> {
    SPAWN.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_exe(to: &Path, content: &[u8]) -> PathBuf {
    let _g = spawn_lock();
    fs::write(to, content).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
    to.to_path_buf()
}

fn copy_exe(from: &str, to: &Path) -> PathBuf {
    write_exe(to, &fs::read(from).unwrap())
}

/// Spawns under the lock (spawn returns once the child has exec'd or failed). ETXTBSY is
/// retried: a deny from the enforcer is EPERM, never ETXTBSY, and under heavy machine
/// load a write fd was still seen in flight after the lock's protection.
fn spawn(cmd: &mut Command) -> io::Result<Child> {
    for _ in 0..50 {
        let r = {
            let _g = spawn_lock();
            cmd.spawn()
        };
        match r {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(20))
            }
            r => return r,
        }
    }
    cmd.spawn()
}

fn status(cmd: &mut Command) -> io::Result<ExitStatus> {
    spawn(cmd.stdin(Stdio::null()))?.wait()
}

fn output(cmd: &mut Command) -> Output {
    spawn(
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap()
    .wait_with_output()
    .unwrap()
}

/// The enforcer and its alert channel; stopping on drop undoes every block.
struct Guard {
    enf: FanotifyEnforcer,
    rx: Receiver<EnforcerEvent>,
}

impl Guard {
    fn start(opts: Options) -> Guard {
        let (tx, rx) = sync_channel(1024);
        let enf = FanotifyEnforcer::start_with(tx, opts).expect("fanotify starts as root");
        Guard { enf, rx }
    }

    fn block_list() -> Guard {
        Guard::start(Options::new(Posture::Audit))
    }

    fn apply(&mut self, yaml: &str) -> ApplyReport {
        self.enf.apply(&rules(yaml)).expect("apply")
    }

    /// The first alert matching `pred` within two seconds.
    fn event(&self, pred: impl Fn(&EnforcerEvent) -> bool) -> EnforcerEvent {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(ev) if pred(&ev) => return ev,
                Ok(ev) => seen.push(ev),
                Err(_) => break,
            }
        }
        panic!("no matching alert; got {seen:#?}");
    }

    fn drain(&self) -> Vec<EnforcerEvent> {
        std::thread::sleep(Duration::from_millis(50));
        self.rx.try_iter().collect()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.enf.stop();
    }
}

fn run(path: &Path) -> io::Result<ExitStatus> {
    status(&mut Command::new(path))
}

fn assert_denied(r: io::Result<ExitStatus>, what: &str) {
    match r {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM), "{what}: {e}"),
        Ok(s) => panic!("{what} ran ({s}) but should have been refused"),
    }
}

fn sh(script: &str) -> Output {
    output(Command::new("/bin/sh").arg("-c").arg(script))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn probe_reports_usable_and_honest_coverage() {
    require_fanotify!();
    let p = probe();
    eprintln!("probe: {}", p.reason);
    assert!(p.usable, "{}", p.reason);
    assert!(p.reason.contains("EPERM"), "{}", p.reason);
    let level = |op| p.coverage.iter().find(|c| c.op == op).unwrap().level;
    assert_eq!(p.coverage.len(), Op::ALL.len());
    assert_eq!(level(Op::Exec), Level::Enforced);
    assert_eq!(level(Op::FileRead), Level::Enforced);
    assert_eq!(level(Op::FileWrite), Level::Enforced);
    assert_eq!(level(Op::Create), Level::AuditOnly);
    assert_eq!(level(Op::Unlink), Level::AuditOnly);
    assert_eq!(level(Op::Rename), Level::AuditOnly);
    assert_eq!(level(Op::Network), Level::AuditOnly);
    assert_eq!(level(Op::Capabilities), Level::None);
}

#[test]
fn blocked_binary_cannot_start_and_is_reported() {
    require_fanotify!();
    let dir = TempDir::new("block");
    let blocked = copy_exe("/bin/true", &dir.path("blocked"));
    let other = copy_exe("/bin/true", &dir.path("other"));
    let mut g = Guard::block_list();
    let report = g.apply(&policy(
        "block-one",
        &format!(
            "  severity: 5\n  process:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            blocked.display()
        ),
    ));
    assert_eq!(report.enforced, vec![0]);
    assert!(report.unenforceable.is_empty(), "{report:?}");

    assert_denied(run(&blocked), "the blocked copy");
    assert!(run(&other).unwrap().success(), "an unrelated copy runs");
    assert!(run(Path::new("/bin/true")).unwrap().success());

    // The exec'ing process is the shell itself (exec builtin): its pid is known.
    let child = spawn(
        Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {}", blocked.display()))
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let pid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
    let ev = g.event(|e| e.process.pid == pid);
    assert_eq!(ev.operation, Operation::Process);
    assert_eq!(ev.resource, blocked.display().to_string());
    assert_eq!(ev.action, "Block");
    assert_eq!(ev.rule.map(|r| r.index), Some(0));
    assert_eq!(ev.result, g.enf.deny_result());
    assert_eq!(ev.result, "Operation not permitted");
    assert_eq!(ev.data, "syscall=SYS_EXECVE");
    assert_eq!(ev.process.exe, "/usr/bin/dash");
    assert!(ev.timestamp_ns > 0);

    g.enf.stop();
    assert!(run(&blocked).unwrap().success(), "stop() lifts the block");
}

#[test]
fn own_process_is_never_blocked() {
    require_fanotify!();
    let dir = TempDir::new("own");
    let secret = dir.path("secret");
    fs::write(&secret, b"s").unwrap();
    let mut g = Guard::block_list();
    g.apply(&policy(
        "own",
        &format!(
            "  file:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            secret.display()
        ),
    ));
    // The agent (this test process) reads it: allowed without a decision.
    assert_eq!(fs::read(&secret).unwrap(), b"s");
    assert!(g.enf.stats().own >= 1);
    // Anyone else is refused.
    let out = output(Command::new("cat").arg(&secret));
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Operation not permitted"));
}

#[test]
fn read_only_directory_allows_reads_and_denies_writes() {
    require_fanotify!();
    let dir = TempDir::new("ro");
    let data = dir.path("data");
    fs::create_dir(&data).unwrap();
    let file = data.join("config");
    fs::write(&file, b"hello\n").unwrap();
    let mut g = Guard::block_list();
    g.apply(&policy(
        "ro",
        &format!(
            "  file:\n    matchDirectories:\n    - dir: {}/\n      recursive: true\n      readOnly: true\n  action: Block\n",
            data.display()
        ),
    ));

    let out = output(Command::new("cat").arg(&file));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"hello\n");

    let out = sh(&format!("echo x >> {}", file.display()));
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(fs::read(&file).unwrap(), b"hello\n", "nothing was appended");
    let ev =
        g.event(|e| e.operation == Operation::File && e.resource == file.display().to_string());
    assert_eq!(ev.action, "Block");
    assert_eq!(ev.rule.map(|r| r.index), Some(0));
    assert_eq!(
        ev.data,
        "syscall=SYS_OPENAT fd=-100 flags=O_WRONLY|O_CREAT|O_APPEND"
    );
    assert_eq!(ev.result, "Operation not permitted");

    // Truncating is a write too, and the content survives.
    let out = sh(&format!(": > {}", file.display()));
    assert!(!out.status.success());
    assert_eq!(fs::read(&file).unwrap(), b"hello\n");

    // fanotify's limit, kept visible: the open of a new file is refused, but the kernel
    // created the (empty) file before asking.
    let fresh = data.join("fresh");
    let out = sh(&format!("echo x > {}", fresh.display()));
    assert!(!out.status.success());
    assert_eq!(fs::read(&fresh).unwrap(), b"");

    // Subdirectories are covered by the recursive rule.
    fs::create_dir(data.join("sub")).unwrap();
    let deep = data.join("sub/deep");
    fs::write(&deep, b"d").unwrap();
    g.apply(&policy(
        "ro",
        &format!(
            "  file:\n    matchDirectories:\n    - dir: {}/\n      recursive: true\n      readOnly: true\n  action: Block\n",
            data.display()
        ),
    ));
    let out = sh(&format!("cat {0} && echo y >> {0}", deep.display()));
    assert!(!out.status.success());
    assert_eq!(text(&out.stdout), "d");
}

#[test]
fn owner_only_lets_only_the_owner_in() {
    require_fanotify!();
    let dir = TempDir::new("owner");
    let key = dir.path("key");
    fs::write(&key, b"k").unwrap();
    // World-readable and owned by nobody: DAC lets everyone in, so any refusal is ours.
    fs::set_permissions(&key, fs::Permissions::from_mode(0o666)).unwrap();
    std::os::unix::fs::chown(&key, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut g = Guard::block_list();
    g.apply(&policy(
        "owner",
        &format!(
            "  file:\n    matchPaths:\n    - path: {}\n      ownerOnly: true\n  action: Block\n",
            key.display()
        ),
    ));
    let as_owner = output(Command::new("cat").arg(&key).uid(NOBODY).gid(NOBODY));
    assert!(as_owner.status.success(), "{}", text(&as_owner.stderr));
    assert_eq!(as_owner.stdout, b"k");
    let as_root = output(Command::new("cat").arg(&key));
    assert!(!as_root.status.success(), "root is not the owner");
    let ev = g.event(|e| e.resource == key.display().to_string());
    assert_eq!(ev.process.uid, 0);
    assert_eq!(ev.action, "Block");
}

#[test]
fn from_source_blocks_only_under_the_listed_parent() {
    require_fanotify!();
    let dir = TempDir::new("src");
    let tool = copy_exe("/bin/true", &dir.path("tool"));
    let mut g = Guard::block_list();
    // /bin/sh is a symlink to dash: the rule names it as users write it.
    g.apply(&policy(
        "src",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n      fromSource:\n      - path: /bin/sh\n  action: Block\n",
            tool.display()
        ),
    ));
    assert!(
        run(&tool).unwrap().success(),
        "started by the test, not by sh"
    );
    // sh forks a child for a command that is not the last one; the child's parent is sh.
    let out = sh(&format!("{}; echo rc=$?", tool.display()));
    assert_eq!(text(&out.stdout).trim(), "rc=126", "{}", text(&out.stderr));
    let ev = g.event(|e| e.resource == tool.display().to_string());
    assert_eq!(ev.process.parent_exe, "/usr/bin/dash");
    // Started by bash (if present) it runs.
    if Path::new("/bin/bash").exists() {
        let out = output(
            Command::new("/bin/bash")
                .arg("-c")
                .arg(format!("{}; echo rc=$?", tool.display())),
        );
        assert_eq!(text(&out.stdout).trim(), "rc=0");
    }
}

#[test]
fn directory_and_pattern_rules() {
    require_fanotify!();
    let dir = TempDir::new("dirs");
    fs::create_dir_all(dir.path("flat/sub")).unwrap();
    fs::create_dir_all(dir.path("deep/a/b")).unwrap();
    let flat_top = copy_exe("/bin/true", &dir.path("flat/x"));
    let flat_sub = copy_exe("/bin/true", &dir.path("flat/sub/y"));
    let deep = copy_exe("/bin/true", &dir.path("deep/a/b/z"));
    let glob_hit = copy_exe("/bin/true", &dir.path("tool.blocked"));
    let glob_miss = copy_exe("/bin/true", &dir.path("tool.ok"));
    let mut g = Guard::block_list();
    let report = g.apply(&policy(
        "dirs",
        &format!(
            "  process:\n    matchDirectories:\n    - dir: {0}/flat/\n    - dir: {0}/deep/\n      recursive: true\n    matchPatterns:\n    - pattern: {0}/*.blocked\n  action: Block\n",
            dir.0.display()
        ),
    ));
    assert_eq!(report.enforced, vec![0, 1, 2], "{report:?}");
    assert_denied(
        run(&flat_top),
        "a direct child of a non-recursive directory",
    );
    assert!(
        run(&flat_sub).unwrap().success(),
        "non-recursive stops at children"
    );
    assert_denied(run(&deep), "any depth of a recursive directory");
    assert_denied(run(&glob_hit), "a glob match");
    assert!(run(&glob_miss).unwrap().success());
}

#[test]
fn a_rule_path_created_after_apply_is_covered() {
    require_fanotify!();
    let dir = TempDir::new("later");
    let later = dir.path("later");
    let mut g = Guard::block_list();
    let report = g.apply(&policy(
        "later",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            later.display()
        ),
    ));
    assert_eq!(report.enforced, vec![0]);
    assert!(
        report.notes.iter().any(|n| n.contains("does not exist")),
        "{report:?}"
    );
    copy_exe("/bin/true", &later);
    assert_denied(run(&later), "a file created at the rule path");
    let sibling = copy_exe("/bin/true", &dir.path("sibling"));
    assert!(run(&sibling).unwrap().success());
}

#[test]
fn apply_swaps_without_an_unblocked_window() {
    require_fanotify!();
    let dir = TempDir::new("swap");
    let x = copy_exe("/bin/true", &dir.path("x"));
    let y = copy_exe("/bin/true", &dir.path("y"));
    let rules_a = policy(
        "a",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            x.display()
        ),
    );
    let rules_b = policy(
        "b",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n    - path: {}\n  action: Block\n",
            x.display(),
            y.display()
        ),
    );
    let mut g = Guard::block_list();
    g.apply(&rules_a);
    // Shells keep trying x while the rule set flips between A and B. Several of them,
    // so some exec is always on its way through the marks of the group being retired
    // (an exec that passed those marks is allowed by the kernel if that group closes
    // before it is queued).
    let stop = dir.path("stop");
    let hammers: Vec<_> = (0..3)
        .map(|_| {
            spawn(
                Command::new("/bin/sh")
                    .arg("-c")
                    .arg(format!(
                        "i=0; while [ ! -e {} ]; do {} 2>/dev/null && echo RAN; i=$((i+1)); done; echo DONE $i",
                        stop.display(),
                        x.display()
                    ))
                    .stdout(Stdio::piped()),
            )
            .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let before = g.enf.stats().denied;
    let swaps = 100;
    for i in 0..swaps {
        g.apply(if i % 2 == 0 { &rules_b } else { &rules_a });
    }
    let during = g.enf.stats().denied - before;
    fs::write(&stop, b"").unwrap();
    let mut stdout = String::new();
    for hammer in hammers {
        let out = hammer.wait_with_output().unwrap();
        stdout.push_str(&text(&out.stdout));
    }
    assert_eq!(stdout.matches("DONE").count(), 3, "{stdout}");
    assert!(!stdout.contains("RAN"), "x ran during a swap:\n{stdout}");
    assert!(
        during >= swaps,
        "only {during} attempts overlapped the swaps"
    );
    eprintln!(
        "{during} denied attempts during {swaps} swaps; {}",
        stdout.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    // The last apply was A: y runs again (no stale cache), x does not.
    assert!(run(&y).unwrap().success());
    assert_denied(run(&x), "x after the swaps");
    g.apply(&rules_b);
    assert_denied(run(&y), "y under B");
}

#[test]
fn stop_leaves_everything_allowed() {
    require_fanotify!();
    let dir = TempDir::new("stop");
    let x = copy_exe("/bin/true", &dir.path("x"));
    let f = dir.path("f");
    fs::write(&f, b"f").unwrap();
    let mut g = Guard::block_list();
    g.apply(&policy(
        "stop",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n  file:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            x.display(),
            f.display()
        ),
    ));
    assert_denied(run(&x), "x");
    assert!(!output(Command::new("cat").arg(&f)).status.success());
    g.enf.stop();
    assert!(run(&x).unwrap().success());
    assert!(output(Command::new("cat").arg(&f)).status.success());
    g.enf.stop();
    // A stopped enforcer can be given rules again.
    g.apply(&policy(
        "again",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            x.display()
        ),
    ));
    assert_denied(run(&x), "x after restart");
    drop(g);
    assert!(run(&x).unwrap().success(), "dropping the enforcer stops it");
}

#[test]
fn a_full_alert_channel_never_stalls_the_kernel() {
    require_fanotify!();
    let dir = TempDir::new("full");
    let x = copy_exe("/bin/true", &dir.path("x"));
    let (tx, rx) = sync_channel(1);
    let mut enf = FanotifyEnforcer::start(tx, Posture::Audit).unwrap();
    enf.apply(&rules(&policy(
        "full",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n  action: Block\n",
            x.display()
        ),
    )))
    .unwrap();
    let start = Instant::now();
    for _ in 0..20 {
        assert_denied(run(&x), "x");
    }
    assert!(start.elapsed() < Duration::from_secs(10));
    // The reader answers the kernel before it hands the alert on, so the last denial's
    // drop can be counted a moment after the denied exec has returned.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut stats = enf.stats();
    while stats.dropped_alerts < 19 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        stats = enf.stats();
    }
    assert!(stats.denied >= 20, "{stats:?}");
    assert!(stats.dropped_alerts >= 19, "{stats:?}");
    enf.stop();
    drop(rx);
}

/// A copy of /bin/true whose ELF interpreter is `interp` (same length or shorter than
/// the original, padded with NULs), so the loader can live on the private tmpfs too.
fn with_interpreter(dest: &Path, interp: &str) -> PathBuf {
    let mut bin = fs::read("/bin/true").unwrap();
    let old = b"/lib64/ld-linux-x86-64.so.2\0";
    let at = bin
        .windows(old.len())
        .position(|w| w == old)
        .expect("/bin/true names the x86-64 loader");
    assert!(interp.len() < old.len(), "{interp} too long to patch in");
    let mut new = interp.as_bytes().to_vec();
    new.resize(old.len(), 0);
    bin[at..at + old.len()].copy_from_slice(&new);
    write_exe(dest, &bin)
}

/// Allow-list mode needs every exec: a whole-filesystem exec mark. Limited to a private
/// tmpfs (exec_scope) that holds the programs and their loader, so the rest of the host
/// is untouched.
struct AllowListBed {
    _mnt: Tmpfs,
    root: PathBuf,
    allowed: PathBuf,
    unlisted: PathBuf,
    loader: PathBuf,
}

impl AllowListBed {
    fn new() -> Option<AllowListBed> {
        if !common::prerequisite(
            Path::new("/lib64/ld-linux-x86-64.so.2").exists(),
            "needs the x86-64 loader at /lib64/ld-linux-x86-64.so.2",
        ) {
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        // Short, because the loader path is patched into the binaries in place.
        let root = PathBuf::from(format!(
            "/tmp/kf{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let mnt = Tmpfs::mount(&root);
        let real_loader = fs::canonicalize("/lib64/ld-linux-x86-64.so.2").unwrap();
        let loader = copy_exe(real_loader.to_str().unwrap(), &root.join("ld"));
        let interp = loader.display().to_string();
        Some(AllowListBed {
            allowed: with_interpreter(&root.join("allowed"), &interp),
            unlisted: with_interpreter(&root.join("unlisted"), &interp),
            loader,
            root,
            _mnt: mnt,
        })
    }

    fn guard(&self, posture: Posture) -> Guard {
        let mut opts = Options::new(posture);
        opts.exec_scope = Some(vec![self.root.clone()]);
        Guard::start(opts)
    }

    fn allow_policy(&self, extra: &str) -> String {
        policy(
            "allow",
            &format!(
                "  process:\n    matchPaths:\n    - path: {}\n{extra}  action: Allow\n",
                self.allowed.display()
            ),
        )
    }
}

#[test]
fn allow_list_with_block_posture_denies_unlisted_binaries() {
    require_fanotify!();
    let Some(bed) = AllowListBed::new() else {
        return;
    };
    // Both run before enforcement (the patched loader works).
    assert!(run(&bed.allowed).unwrap().success());
    assert!(run(&bed.unlisted).unwrap().success());
    let mut g = bed.guard(Posture::Block);
    let report = g.apply(&bed.allow_policy(""));
    eprintln!("allow-list report: {report:#?}");
    assert_eq!(report.enforced, vec![0], "{report:?}");
    assert!(
        report.notes.iter().any(|n| n.contains("allow-list")),
        "{report:?}"
    );

    // The allowed program runs, although its loader (also on the watched filesystem) is
    // not in the list: loading it is part of the allowed exec.
    assert!(run(&bed.allowed).unwrap().success());
    assert_denied(run(&bed.unlisted), "an unlisted program");
    let ev = g.event(|e| e.resource == bed.unlisted.display().to_string());
    assert_eq!(ev.rule.map(|r| r.index), None, "a default-posture decision");
    assert_eq!(ev.action, "Block");
    assert_eq!(ev.result, "Operation not permitted");
    // Running the loader directly is an exec of its own, and it is not listed.
    assert_denied(
        status(Command::new(&bed.loader).arg("--version")),
        "the loader run directly",
    );
    // Outside the watched filesystem nothing changes.
    assert!(run(Path::new("/bin/true")).unwrap().success());
    // A script's interpreter is an exec too (as KubeArmor's bprm_check sees it).
    let script = bed.root.join("script");
    write_exe(&script, format!("#!{}\n", bed.allowed.display()).as_bytes());
    assert_denied(run(&script), "an unlisted script");
    g.apply(&bed.allow_policy(&format!("    - path: {}\n", script.display())));
    assert!(
        run(&script).unwrap().success(),
        "listed script, listed interpreter"
    );
    let unlisted_interp = bed.root.join("script2");
    write_exe(
        &unlisted_interp,
        format!("#!{}\n", bed.unlisted.display()).as_bytes(),
    );
    g.apply(&bed.allow_policy(&format!("    - path: {}\n", unlisted_interp.display())));
    assert_denied(
        run(&unlisted_interp),
        "a listed script with an unlisted interpreter",
    );
    drop(g);
    assert!(
        run(&bed.unlisted).unwrap().success(),
        "stop() lifts the posture"
    );
}

#[test]
fn allow_list_with_audit_posture_reports_and_permits() {
    require_fanotify!();
    let Some(bed) = AllowListBed::new() else {
        return;
    };
    let mut g = bed.guard(Posture::Audit);
    g.apply(&bed.allow_policy(""));
    assert!(run(&bed.unlisted).unwrap().success());
    let ev = g.event(|e| e.resource == bed.unlisted.display().to_string());
    assert_eq!(ev.action, "Audit");
    assert_eq!(ev.rule.map(|r| r.index), None);
    assert_eq!(ev.result, "Passed");
    assert!(run(&bed.allowed).unwrap().success());
    let rest = g.drain();
    assert!(
        rest.iter()
            .all(|e| e.resource != bed.allowed.display().to_string()
                && e.resource != bed.loader.display().to_string()),
        "allowed execs and their loader raise no alert: {rest:#?}"
    );
}

/// `cat` (outside the bed's exec scope, so its own exec is not in question) reading `path`.
fn cat(path: &Path) -> Output {
    output(Command::new("cat").arg(path))
}

fn assert_read_denied(out: &Output, what: &str) {
    assert!(!out.status.success(), "{what} was read");
    assert!(
        text(&out.stderr).contains("Operation not permitted"),
        "{what}: {}",
        text(&out.stderr)
    );
}

/// Allow-list mode is per category: listing binaries with a block posture puts execs in
/// allow-list mode and leaves file opens alone, even the opens this backend watches for
/// a file rule. (When process and file shared the mode, reading `notes.txt` below got
/// the default posture and was denied.)
#[test]
fn process_allow_list_leaves_file_opens_alone() {
    require_fanotify!();
    let Some(bed) = AllowListBed::new() else {
        return;
    };
    let data = bed.root.join("data");
    fs::create_dir(&data).unwrap();
    let key = data.join("site.key");
    let notes = data.join("notes.txt");
    let elsewhere = bed.root.join("readme");
    for f in [&key, &notes, &elsewhere] {
        fs::write(f, b"text\n").unwrap();
    }
    let mut g = bed.guard(Posture::Block);
    let report = g.apply(&policy(
        "list-binaries",
        &format!(
            "  process:\n    matchPaths:\n    - path: {}\n      action: Allow\n  file:\n    matchPatterns:\n    - pattern: {}/*.key\n      action: Block\n",
            bed.allowed.display(),
            data.display()
        ),
    ));
    assert_eq!(report.enforced, vec![0, 1], "{report:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("process allow-list mode")),
        "{report:?}"
    );
    assert!(
        !report
            .notes
            .iter()
            .any(|n| n.starts_with("file allow-list mode")),
        "{report:?}"
    );

    assert!(run(&bed.allowed).unwrap().success(), "the listed binary");
    assert_denied(run(&bed.unlisted), "an unlisted binary");
    let ev = g.event(|e| e.resource == bed.unlisted.display().to_string());
    assert_eq!(
        (ev.rule.map(|r| r.index), ev.action.as_str()),
        (None, "Block")
    );

    // The pattern's directory is watched for opens: its Block rule still holds...
    assert_read_denied(&cat(&key), "the blocked key");
    // ...and a file no rule mentions, in that same directory or anywhere else, is read.
    for f in [&notes, &elsewhere, Path::new("/etc/hostname")] {
        let out = cat(f);
        assert!(
            out.status.success(),
            "{} was refused: {}",
            f.display(),
            text(&out.stderr)
        );
    }
    let notes_path = notes.display().to_string();
    let rest = g.drain();
    assert!(
        rest.iter().all(|e| e.resource != notes_path),
        "no default-posture alert for an unlisted file: {rest:#?}"
    );
}

/// The reverse: listing files puts opens in allow-list mode, and no exec (not even one
/// whose open the file rules watch) gets the default posture. (When process and file
/// shared the mode, every unlisted binary here was denied.)
#[test]
fn file_allow_list_leaves_execs_alone() {
    require_fanotify!();
    let Some(bed) = AllowListBed::new() else {
        return;
    };
    let open = bed.root.join("open");
    let other = bed.root.join("other");
    fs::create_dir(&open).unwrap();
    fs::create_dir(&other).unwrap();
    let listed = open.join("listed.txt");
    let unlisted = other.join("notes.txt");
    fs::write(&listed, b"listed\n").unwrap();
    fs::write(&unlisted, b"unlisted\n").unwrap();
    // A program in a directory a file rule watches: exec'ing it raises an open event too.
    let tool = with_interpreter(&other.join("tool"), &bed.loader.display().to_string());
    let mut g = bed.guard(Posture::Block);
    let report = g.apply(&policy(
        "list-files",
        &format!(
            "  file:\n    matchDirectories:\n    - dir: {}/\n      action: Allow\n    matchPatterns:\n    - pattern: {}/*.key\n      action: Block\n",
            open.display(),
            other.display()
        ),
    ));
    assert_eq!(report.enforced, vec![0, 1], "{report:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("file allow-list mode")),
        "{report:?}"
    );

    // Execs are left to the (absent) process rules.
    assert!(run(&bed.unlisted).unwrap().success(), "an unlisted binary");
    assert!(
        run(&tool).unwrap().success(),
        "a binary in a watched directory"
    );
    // Opens: the listed directory is readable; a watched file no rule allows gets the
    // default posture.
    let out = cat(&listed);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_read_denied(&cat(&unlisted), "an unlisted file in a watched directory");
    let ev = g.event(|e| e.resource == unlisted.display().to_string());
    assert_eq!(ev.operation, Operation::File);
    assert_eq!(
        (ev.rule.map(|r| r.index), ev.action.as_str()),
        (None, "Block")
    );
    let tool_path = tool.display().to_string();
    let rest = g.drain();
    assert!(
        rest.iter().all(|e| e.resource != tool_path),
        "the exec's own open gets no default posture: {rest:#?}"
    );
}

#[test]
fn unenforceable_rules_are_reported() {
    require_fanotify!();
    let mut g = Guard::block_list();
    let report = g.apply(&policy(
        "mixed",
        "  process:\n    matchPaths:\n    - path: /usr/bin/true\n      allowedArgs: [--help]\n  network:\n    matchProtocols:\n    - protocol: raw\n      fromSource:\n      - path: /usr/bin/ping\n  file:\n    matchPaths:\n    - path: /nonexistent-dir/x\n  action: Block\n",
    ));
    assert!(report.enforced.is_empty(), "{report:?}");
    assert_eq!(report.unenforceable.len(), 3, "{report:?}");
    assert!(
        report
            .unenforceable
            .iter()
            .any(|(_, r)| r.contains("allowedArgs"))
    );
    assert!(
        report
            .unenforceable
            .iter()
            .any(|(_, r)| r.contains("BPF-LSM"))
    );
    assert!(run(Path::new("/usr/bin/true")).unwrap().success());
}
