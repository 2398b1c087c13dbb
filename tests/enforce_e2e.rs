//! Issue #3's promises, proven on this host's kernel (run as root): the agent with the
//! fanotify backend really denies what a policy blocks, the eBPF monitor really reports what
//! a policy audits, and the alerts say so in KubeArmor's format.
//!
//! Every agent is a child with its own state dir and socket, stopped by a guard: when the
//! agent dies, the kernel drops its fanotify group and nothing stays blocked.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An AccuKnox policy from examples/, with its nodeSelector pointed at this host, as the
/// page tells users to do.
fn for_this_host(agent: &Agent, example_name: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(example(example_name)).unwrap();
    let host = knoxctl::identity::hostname();
    let text = text.replace(
        "kubearmor.io/hostname: ubuntu-2gb-hel1-1",
        &format!("kubearmor.io/hostname: {host}"),
    );
    agent.write(example_name, &text)
}

fn alerts(agent: &Agent, filters: &[&str]) -> Vec<serde_json::Value> {
    agent.alerts(filters)
}

fn wait_alerts(agent: &Agent, filters: &[&str], want: usize) -> Vec<serde_json::Value> {
    agent.wait_alerts(filters, want)
}

fn denied(path: &str) -> Option<i32> {
    match Command::new(path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Err(e) => e.raw_os_error(),
        Ok(_) => None,
    }
}

fn runs(path: &str) -> bool {
    Command::new(path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn package_managers_are_blocked_and_alerted() {
    if !common::prerequisite(
        std::path::Path::new("/usr/bin/apt").exists(),
        "/usr/bin/apt not on this machine",
    ) {
        return;
    }
    let mut agent = Agent::start("pkg", "fanotify");
    let policy = for_this_host(&agent, "accuknox-block-pkg-mgmt-tools.yaml");
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(
        stdout(&o).contains("created: enforced on this host (fanotify)"),
        "{}",
        out(&o)
    );

    let errno = denied("/usr/bin/apt").expect("apt must be denied");
    assert!(
        errno == libc::EACCES || errno == libc::EPERM,
        "errno {errno}"
    );
    assert!(
        runs("/usr/bin/true") && runs("/usr/bin/ls"),
        "other binaries run"
    );

    let got = wait_alerts(
        &agent,
        &["PolicyName=block-pkg-mgmt-tools", "Resource=/usr/bin/apt"],
        1,
    );
    assert!(!got.is_empty(), "no alert; agent log:\n{}", agent.log());
    let a = &got[0];
    assert_eq!(a["Action"], "Block");
    assert_eq!(a["Operation"], "Process");
    assert_eq!(a["Resource"], "/usr/bin/apt");
    assert_eq!(a["ProcessName"], "/usr/bin/apt");
    assert_eq!(a["Message"], "apt was attempted to be executed");
    assert_eq!(a["Severity"], "10");
    assert_eq!(
        a["Tags"],
        "NIST,NIST_800-53_CM-7(4),SI-4,process,NIST_800-53_SI-4"
    );
    assert_eq!(a["Type"], "MatchedHostPolicy");
    assert_eq!(a["Enforcer"], "fanotify");
    assert_eq!(a["HostName"], knoxctl::identity::hostname());
    assert_eq!(a["ClusterName"], "test");
    assert_eq!(a["Data"], "syscall=SYS_EXECVE");
    let expected = if errno == libc::EACCES {
        "Permission denied"
    } else {
        "Operation not permitted"
    };
    assert_eq!(a["Result"], expected, "Result is what the process got");
    assert!(a["HostPID"].as_i64().unwrap() > 0 && a["HostPPID"].as_i64().unwrap() > 0);
    assert_eq!(a["UID"], 0);

    // Killed without warning: the restarted agent restores and enforces the policy again.
    agent.kill9();
    assert!(
        runs("/usr/bin/apt"),
        "fanotify releases everything when its agent dies"
    );
    agent.spawn();
    assert!(
        denied("/usr/bin/apt").is_some(),
        "blocked again after restart; log:\n{}",
        agent.log()
    );

    // Deleted: apt runs, and no new alerts appear.
    // Both denials (before and after the restart) are in the store before we count.
    let before = wait_alerts(&agent, &["PolicyName=block-pkg-mgmt-tools"], 2).len();
    assert_eq!(before, 2, "one alert per denial");
    let o = agent.cli(&["policy", "delete", "block-pkg-mgmt-tools"]);
    assert!(o.status.success(), "{}", out(&o));
    assert!(runs("/usr/bin/apt"), "apt runs after delete");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        alerts(&agent, &["PolicyName=block-pkg-mgmt-tools"]).len(),
        before,
        "no new alerts after delete"
    );
}

#[test]
fn process_discovery_is_audited_by_the_monitor() {
    let agent = Agent::start("audit", "fanotify");
    let policy = for_this_host(&agent, "accuknox-process-discovery.yaml");
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let ps = Command::new("/usr/bin/ps")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ps.success(), "ps runs: audit never blocks");
    let got = wait_alerts(
        &agent,
        &["PolicyName=ksp-discovery-process-discovery", "Resource~ps$"],
        1,
    );
    assert!(!got.is_empty(), "no audit alert; log:\n{}", agent.log());
    let a = &got[0];
    assert_eq!(a["Action"], "Audit");
    assert_eq!(a["Result"], "Passed");
    assert_eq!(a["Enforcer"], "eBPF Monitor");
    assert_eq!(a["Operation"], "Process");
    assert_eq!(a["Severity"], "5");
    assert_eq!(a["Tags"], "MITRE,Discovery");
    assert_eq!(a["Message"], "Someone accessed running process");
    assert_eq!(a["Type"], "MatchedHostPolicy");

    let o = agent.cli(&["policy", "delete", "ksp-discovery-process-discovery"]);
    assert!(o.status.success(), "{}", out(&o));
    let before = alerts(&agent, &["PolicyName=ksp-discovery-process-discovery"]).len();
    Command::new("/usr/bin/ps")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        alerts(&agent, &["PolicyName=ksp-discovery-process-discovery"]).len(),
        before
    );
}

fn status(agent: &Agent) -> serde_json::Value {
    let o = agent.cli(&["probe", "-o", "json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", out(&o)));
    v["agent"].clone()
}

fn rss_kib(pid: u64, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn exec_flood_keeps_memory_bounded_and_accounts_for_every_event() {
    let agent = Agent::start("flood", "fanotify");
    let host = knoxctl::identity::hostname();
    let policy = agent.write(
        "flood.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: audit-true}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  action: Audit\n  process:\n    matchPaths: [{{path: /usr/bin/true}}]\n"
        ),
    );
    assert!(
        agent
            .cli(&["policy", "apply", "-f", policy.to_str().unwrap()])
            .status
            .success()
    );
    let pid = status(&agent)["pid"].as_u64().unwrap();
    let n: usize = std::env::var("KNOXCTL_FLOOD_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let threads = 4;
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..n / threads {
                    Command::new("/usr/bin/true").status().unwrap();
                }
            });
        }
    });
    // Let the pipeline drain, then account.
    let start = Instant::now();
    let mut last = serde_json::Value::Null;
    while start.elapsed() < Duration::from_secs(60) {
        last = status(&agent);
        let stored = alerts_count(&agent);
        let accounted = stored
            + last["alertsDropped"].as_u64().unwrap()
            + last["monitorLostInKernel"].as_u64().unwrap()
            + last["monitorDroppedInUserspace"].as_u64().unwrap();
        if accounted >= n as u64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let stored = alerts_count(&agent);
    let accounted = stored
        + last["alertsDropped"].as_u64().unwrap()
        + last["monitorLostInKernel"].as_u64().unwrap()
        + last["monitorDroppedInUserspace"].as_u64().unwrap();
    assert!(
        accounted >= n as u64,
        "{n} execs but only {accounted} stored or counted as dropped: {last}"
    );
    let peak = rss_kib(pid, "VmHWM:");
    eprintln!("flood of {n}: stored {stored}, status {last}, agent peak RSS {peak} KiB");
    assert!(peak < 256 * 1024, "agent peak RSS {peak} KiB");
}

fn alerts_count(agent: &Agent) -> u64 {
    alerts(agent, &["PolicyName=audit-true"]).len() as u64
}

/// Review finding #1: a KubeArmorClusterPolicy or a namespace-less KubeArmorPolicy with the
/// name of an applied KubeArmorHostPolicy used to replace it, and its blocking stopped. Kinds
/// have their own names now: the host policy keeps blocking through both applies, a restart
/// and the deletion of the others, until it is deleted itself.
#[test]
fn host_policy_keeps_blocking_when_other_kinds_use_its_name() {
    let mut agent = Agent::start("same-name", "fanotify");
    let ktrue = agent.dir.join("ktrue");
    std::fs::copy("/usr/bin/true", &ktrue).unwrap();
    let ktrue = ktrue.to_str().unwrap().to_string();
    let host = knoxctl::identity::hostname();
    let block = agent.write(
        "block.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: ux-block-ktrue}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  action: Block\n  process:\n    matchPaths: [{{path: {ktrue}}}]\n"
        ),
    );
    let clash = agent.write(
        "clash.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorClusterPolicy\nmetadata: {{name: ux-block-ktrue}}\nspec:\n  action: Audit\n  process:\n    matchPaths: [{{path: {ktrue}}}]\n"
        ),
    );
    let nameless = agent.write(
        "ksp.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {{name: ux-block-ktrue}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  action: Audit\n  process:\n    matchPaths: [{{path: {ktrue}}}]\n"
        ),
    );
    let apply = |f: &std::path::Path| agent.cli(&["policy", "apply", "-f", f.to_str().unwrap()]);
    let o = apply(&block);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (
            Some(0),
            "kubearmorhostpolicy/ux-block-ktrue created: enforced on this host (fanotify)\n".into(),
            String::new()
        )
    );
    assert!(denied(&ktrue).is_some(), "blocked by the host policy");
    assert!(runs("/usr/bin/true"), "the original still runs");

    let o = apply(&clash);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (
            Some(0),
            "kubearmorclusterpolicy/ux-block-ktrue created: stored; selects no running container (enforced in each selected container as it starts)\n".into(),
            String::new()
        ),
        "created beside the host policy, not 'configured' over it"
    );
    assert!(
        denied(&ktrue).is_some(),
        "still blocked after the cluster policy"
    );
    let o = apply(&nameless);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (
            Some(0),
            "kubearmorpolicy/default/ux-block-ktrue created: stored; selects no running container (enforced in each selected container as it starts)\n".into(),
            String::new()
        )
    );
    assert!(
        denied(&ktrue).is_some(),
        "still blocked after the KubeArmorPolicy; log:\n{}",
        agent.log()
    );

    // Restored after a crash: all three, and the host policy still blocks.
    agent.kill9();
    agent.spawn();
    assert!(
        denied(&ktrue).is_some(),
        "blocked after restart; log:\n{}",
        agent.log()
    );
    let list = stdout(&agent.cli(&["policy", "list"]));
    for id in [
        "kubearmorhostpolicy/ux-block-ktrue",
        "kubearmorclusterpolicy/ux-block-ktrue",
        "kubearmorpolicy/default/ux-block-ktrue",
    ] {
        assert!(list.contains(id), "{id}: {list}");
    }

    let o = agent.cli(&[
        "policy",
        "delete",
        "kubearmorclusterpolicy/ux-block-ktrue",
        "kubearmorpolicy/default/ux-block-ktrue",
    ]);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (
            Some(0),
            "kubearmorpolicy/default/ux-block-ktrue deleted\nkubearmorclusterpolicy/ux-block-ktrue deleted\n".into(),
            String::new()
        )
    );
    assert!(
        denied(&ktrue).is_some(),
        "the host policy was not deleted with them"
    );
    let o = agent.cli(&["policy", "delete", "ux-block-ktrue"]);
    assert_eq!(
        (o.status.code(), stdout(&o), stderr(&o)),
        (
            Some(0),
            "kubearmorhostpolicy/ux-block-ktrue deleted\n".into(),
            String::new()
        )
    );
    assert!(runs(&ktrue), "runs once the host policy is deleted");
}

/// Applies racing with a burst of blocked execs never attribute an alert to the wrong
/// policy: two policies (different names, severities and messages) each block their own
/// copy of `true`, and the agent is switched from one to the other over and over while a
/// hammer execs both. An alert is attributed with the rules that decided it, even when the
/// pipeline reaches it after newer rules were applied: an alert about `race-a`'s program
/// names `race-a`, never `race-b` or `DefaultPosture` (what a lookup in the rules current
/// at alert time gives).
#[test]
fn alerts_name_the_policy_whose_rules_decided_across_applies() {
    let agent = Agent::start("race", "fanotify");
    let host = knoxctl::identity::hostname();
    let mut files = Vec::new();
    let mut programs = Vec::new();
    for (name, severity) in [("race-a", 2), ("race-b", 8)] {
        let program = agent.dir.join(format!("{name}-true"));
        std::fs::copy("/usr/bin/true", &program).unwrap();
        let program = program.to_str().unwrap().to_string();
        let policy = agent.write(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  severity: {severity}\n  message: decided by {name}\n  action: Block\n  process:\n    matchPaths: [{{path: {program}}}]\n"
            ),
        );
        files.push(policy.to_str().unwrap().to_string());
        programs.push(program);
    }
    let apply = |i: usize| {
        let o = agent.cli(&["policy", "apply", "-f", &files[i]]);
        assert!(o.status.success(), "{}", out(&o));
    };
    let delete = |name: &str| {
        let o = agent.cli(&["policy", "delete", name]);
        assert!(o.status.success(), "{}", out(&o));
    };
    apply(0);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hammer = {
        let stop = stop.clone();
        let programs = programs.clone();
        std::thread::spawn(move || {
            let mut execs = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for p in &programs {
                    let _ = Command::new(p)
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                    execs += 1;
                }
            }
            execs
        })
    };
    // Each switch is a delete and an apply: the rules go {a} -> {} -> {b} -> {} -> {a}...
    for round in 0..24 {
        let (gone, next) = if round % 2 == 0 {
            ("race-a", 1)
        } else {
            ("race-b", 0)
        };
        delete(gone);
        apply(next);
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let execs = hammer.join().unwrap();

    let blocked = wait_alerts(&agent, &["Action=Block"], 40);
    assert!(
        blocked.len() >= 40,
        "{} alerts for {execs} execs",
        blocked.len()
    );
    let mut seen = [0usize; 2];
    for a in &blocked {
        let resource = a["Resource"].as_str().unwrap_or_default();
        let i = programs
            .iter()
            .position(|p| p == resource)
            .unwrap_or_else(|| panic!("an alert about something else: {a}"));
        let name = ["race-a", "race-b"][i];
        assert_eq!(a["PolicyName"], name, "{a}");
        assert_eq!(a["Severity"], ["2", "8"][i], "{a}");
        assert_eq!(a["Message"], format!("decided by {name}"), "{a}");
        seen[i] += 1;
    }
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "both policies blocked: {seen:?}"
    );
}

/// Bind mounts made by a test, undone (lazily) even when it fails.
struct Mounts(Vec<String>);

impl Mounts {
    fn bind(&mut self, from: &str, to: &str) {
        let o = Command::new("mount")
            .args(["--bind", from, to])
            .output()
            .unwrap();
        assert!(o.status.success(), "mount --bind {from} {to}: {}", out(&o));
        self.0.push(to.to_string());
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for m in self.0.iter().rev() {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
}

/// How one bypass route ended: the process was refused (errno or a non-zero shell exit)
/// and an alert names the policy.
fn sh(script: &str) -> std::process::Output {
    Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// execveat(fd, "", AT_EMPTY_PATH) on an fd of `path` (what fexecve does): Ok(()) when the
/// program ran (exit 0), Err(errno) when the exec was refused.
fn exec_by_fd(path: &str) -> Result<(), i32> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).unwrap();
    let empty = c"";
    let argv = [c"prog".as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: the child only calls execveat and _exit, both async-signal-safe.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        unsafe {
            libc::syscall(
                libc::SYS_execveat,
                f.as_raw_fd(),
                empty.as_ptr(),
                argv.as_ptr(),
                envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
            libc::_exit(100 + *libc::__errno_location());
        }
    }
    let mut status = 0;
    unsafe { libc::waitpid(pid, &mut status, 0) };
    match libc::WEXITSTATUS(status) {
        0 => Ok(()),
        n => Err(n - 100),
    }
}

/// The bypass suite on the fanotify backend (issue #13): every route an attacker with
/// root has to reach a blocked program or write into a read-only directory under another
/// name. Each route is a line of the table this test writes for the suite's summary;
/// the routes fanotify cannot see are listed there with the reason, and the test fails if
/// any other route gets through or if one of those starts being blocked (update the
/// table, README and probe then).
#[test]
fn bypass_routes_are_blocked_on_fanotify() {
    let agent = Agent::start("bypass", "fanotify");
    let host = knoxctl::identity::hostname();
    let d = agent.dir.display().to_string();
    for sub in [
        "bin",
        "a/fim/sub",
        "mnt-file",
        "mnt-dir",
        "mnt-anc",
        "mnt-ns",
        "root/bin",
    ] {
        std::fs::create_dir_all(agent.dir.join(sub)).unwrap();
    }
    let prog = format!("{d}/bin/prog");
    std::fs::copy("/usr/bin/true", &prog).unwrap();
    std::fs::write(format!("{d}/a/fim/f"), "x\n").unwrap();
    std::fs::write(format!("{d}/a/fim/sub/g"), "x\n").unwrap();
    std::fs::write(format!("{d}/mnt-file/prog"), "").unwrap();
    // A multi-call binary: the rule names one applet (a symlink to it).
    std::fs::copy("/bin/busybox", format!("{d}/bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", format!("{d}/bin/wget")).unwrap();
    let policy = agent.write(
        "bypass.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: bypass}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  process:\n    matchPaths: [{{path: {prog}}}, {{path: {d}/bin/wget}}]\n  file:\n    matchDirectories: [{{dir: {d}/a/fim/, recursive: true, readOnly: true}}]\n  action: Block\n"
        ),
    );
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));

    let mut mounts = Mounts(Vec::new());
    // (route, refused by the kernel, alerted, why it cannot be refused)
    let mut table: Vec<(String, bool, bool, &str)> = Vec::new();
    // Each refusal must leave its own Block alert: the count must grow with every route
    // (settled a little so that a route's late alert is not credited to the next one).
    let blocks = ["PolicyName=bypass".to_string(), "Action=Block".to_string()];
    let blocks: Vec<&str> = blocks.iter().map(String::as_str).collect();
    let mut seen = agent.alerts(&blocks).len();
    let mut route = |name: &str, blocked: bool, why_not: &'static str| {
        let alerted = blocked && {
            let got = agent.wait_alerts(&blocks, seen + 1).len() > seen;
            std::thread::sleep(std::time::Duration::from_millis(150));
            seen = agent.alerts(&blocks).len();
            got
        };
        table.push((name.to_string(), blocked, alerted, why_not));
    };
    // Refused by the kernel: the failure the shell or loader reports is EPERM or EACCES,
    // not some other way of not running (a missing file, a crash).
    let refused = |o: &std::process::Output| {
        let err = String::from_utf8_lossy(&o.stderr);
        !o.status.success()
            && (err.contains("Operation not permitted") || err.contains("Permission denied"))
    };

    // --- the blocked program ---
    let exec = |p: &str| matches!(denied(p), Some(libc::EPERM | libc::EACCES));
    route("exec: the rule's path", exec(&prog), "");
    std::os::unix::fs::symlink(&prog, format!("{d}/link")).unwrap();
    route("exec: symlink", exec(&format!("{d}/link")), "");
    std::fs::hard_link(&prog, format!("{d}/hardlink")).unwrap();
    route("exec: hard link", exec(&format!("{d}/hardlink")), "");
    mounts.bind(&prog, &format!("{d}/mnt-file/prog"));
    route(
        "exec: bind-mounted file",
        exec(&format!("{d}/mnt-file/prog")),
        "",
    );
    route("exec: // spelling", exec(&format!("/{prog}")), "");
    route("exec: /./ spelling", exec(&format!("{d}/./bin/prog")), "");
    route(
        "exec: relative path",
        refused(&sh(&format!("cd {d}/bin && ./prog"))),
        "",
    );
    route(
        "exec: /proc/self/root path",
        exec(&format!("/proc/self/root{prog}")),
        "",
    );
    let loader = sh(&format!("/lib64/ld-linux-x86-64.so.2 {prog}"));
    route("exec: dynamic loader (ld.so PROG)", refused(&loader), "");
    std::fs::write(format!("{d}/script"), format!("#!{prog}\n")).unwrap();
    std::fs::set_permissions(
        format!("{d}/script"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    route(
        "exec: shebang interpreter",
        exec(&format!("{d}/script")),
        "",
    );
    // fanotify decides before the new program's argv exists: a rule on an applet blocks
    // its multi-call binary under every name (more than the rule says, never less).
    route("exec: busybox applet", exec(&format!("{d}/bin/wget")), "");
    route(
        "exec: busybox APPLET (name as argument)",
        refused(&sh(&format!("{d}/bin/busybox wget --help"))),
        "",
    );
    std::os::unix::fs::symlink(format!("{d}/bin/busybox"), format!("{d}/fetch")).unwrap();
    route(
        "exec: applet under another name",
        exec(&format!("{d}/fetch")),
        "",
    );
    route(
        "exec: execveat/fexecve",
        matches!(exec_by_fd(&prog), Err(libc::EPERM | libc::EACCES)),
        "",
    );

    // --- writes into the read-only directory ---
    let write = |p: &str| refused(&sh(&format!("echo y >> {p}")));
    route(
        "write: the rule's directory",
        write(&format!("{d}/a/fim/f")),
        "",
    );
    route(
        "write: subdirectory",
        write(&format!("{d}/a/fim/sub/g")),
        "",
    );
    std::os::unix::fs::symlink(format!("{d}/a/fim/f"), format!("{d}/flink")).unwrap();
    route("write: symlink", write(&format!("{d}/flink")), "");
    route(
        "write: // and /./ spellings",
        write(&format!("/{d}/a/./fim/f")),
        "",
    );
    route(
        "write: relative path",
        refused(&sh(&format!("cd {d}/a && echo y >> fim/f"))),
        "",
    );
    route(
        "write: /proc/self/root path",
        write(&format!("/proc/self/root{d}/a/fim/f")),
        "",
    );
    mounts.bind(&format!("{d}/a/fim"), &format!("{d}/mnt-dir"));
    route(
        "write: bind-mounted directory",
        write(&format!("{d}/mnt-dir/f")),
        "",
    );
    mounts.bind(&format!("{d}/a"), &format!("{d}/mnt-anc"));
    route(
        "write: bind-mounted ancestor",
        write(&format!("{d}/mnt-anc/fim/sub/g")),
        "",
    );
    route(
        "write: mount namespace + bind mount",
        refused(&sh(&format!(
            "unshare -m sh -c 'mount --bind {d}/a/fim {d}/mnt-ns && echo y >> {d}/mnt-ns/f'"
        ))),
        "",
    );
    std::fs::copy("/bin/busybox", format!("{d}/a/busybox")).unwrap();
    route(
        "write: chroot",
        refused(&sh(&format!(
            "chroot {d}/a /busybox sh -c 'echo y >> /fim/f'"
        ))),
        "",
    );
    std::fs::rename(format!("{d}/a"), format!("{d}/a2")).unwrap();
    route(
        "write: renamed ancestor",
        write(&format!("{d}/a2/fim/f")),
        "",
    );
    std::fs::rename(format!("{d}/a2/fim"), format!("{d}/a2/fim2")).unwrap();
    route(
        "write: renamed directory",
        write(&format!("{d}/a2/fim2/f")),
        "",
    );
    std::fs::rename(format!("{d}/a2/fim2"), format!("{d}/a2/fim")).unwrap();
    std::fs::rename(format!("{d}/a2"), format!("{d}/a")).unwrap();
    std::fs::hard_link(format!("{d}/a/fim/f"), format!("{d}/out-hl")).unwrap();
    route(
        "write: hard link made outside",
        write(&format!("{d}/out-hl")),
        "",
    );
    std::fs::rename(format!("{d}/a/fim/sub/g"), format!("{d}/moved")).unwrap();
    route("write: file renamed out", write(&format!("{d}/moved")), "");
    // Writes there are refused; a rename into the directory is not (no permission event).
    std::fs::write(format!("{d}/staged"), "x\n").unwrap();
    std::fs::rename(format!("{d}/staged"), format!("{d}/a/fim/new")).unwrap();
    std::fs::hard_link(format!("{d}/a/fim/new"), format!("{d}/out-new")).unwrap();
    route(
        "write: hard link to a file created after the apply",
        write(&format!("{d}/out-new")),
        "fanotify has no permission event for link() and rename(); files are marked at apply, so a file created later is protected through its directory only until the next apply",
    );
    std::fs::write(format!("{d}/evil"), "evil\n").unwrap();
    std::fs::rename(format!("{d}/evil"), format!("{d}/a/fim/f")).unwrap();
    route(
        "replace: rename over a protected file",
        std::fs::read_to_string(format!("{d}/a/fim/f")).unwrap() != "evil\n",
        "fanotify has no permission event for rename(): only opens and execs wait for the agent (BPF-LSM's path_rename hook blocks it)",
    );
    drop(mounts);

    let lines: Vec<String> = table
        .iter()
        .map(
            |(name, blocked, alerted, why)| match (blocked, why.is_empty()) {
                (true, _) if !alerted => format!("bypass fanotify {name}: blocked, NO alert"),
                (true, _) => format!("bypass fanotify {name}: blocked"),
                (false, false) => format!("bypass fanotify {name}: NOT blocked ({why})"),
                (false, true) => format!("bypass fanotify {name}: NOT blocked"),
            },
        )
        .collect();
    let text = lines.join("\n") + "\n";
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bypass-fanotify.txt"),
        &text,
    );
    eprint!("{text}");
    let unexpected: Vec<&String> = table
        .iter()
        .zip(&lines)
        .filter(|((_, blocked, alerted, why), _)| *blocked != why.is_empty() || blocked != alerted)
        .map(|(_, l)| l)
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected outcomes:\n{unexpected:#?}\nall:\n{text}"
    );

    // Every refusal was alerted, naming the policy and the path the process used.
    for resource in [
        format!("{d}/hardlink"),
        format!("{d}/mnt-file/prog"),
        format!("{d}/mnt-dir/f"),
        format!("{d}/mnt-anc/fim/sub/g"),
        format!("{d}/a2/fim/f"),
        format!("{d}/out-hl"),
        format!("{d}/moved"),
    ] {
        let got = wait_alerts(
            &agent,
            &[
                "PolicyName=bypass",
                "Action=Block",
                &format!("Resource={resource}"),
            ],
            1,
        );
        assert!(!got.is_empty(), "no Block alert for {resource}");
        assert!(
            got[0]["Data"]
                .as_str()
                .unwrap_or_default()
                .contains("protected="),
            "the alert names the protected path: {}",
            got[0]
        );
    }
    // What fanotify cannot refuse is still an alert: the rename over the protected file.
    let got = wait_alerts(
        &agent,
        &[
            "PolicyName=bypass",
            "Action=Audit (Block)",
            "Data~^syscall=SYS_RENAME",
            &format!("Resource={d}/a/fim/f"),
        ],
        1,
    );
    assert!(
        !got.is_empty(),
        "no Audit (Block) alert for the rename over the protected file"
    );
    let got = wait_alerts(&agent, &["PolicyName=bypass", "Data~loader="], 1);
    assert!(!got.is_empty(), "no alert for the loader route");
    assert_eq!(got[0]["Resource"], prog.as_str());
    assert_eq!(got[0]["Operation"], "Process");
}

/// An Audit rule on a program still audits it when the dynamic loader runs it
/// (`ld.so PROGRAM` reads and maps PROGRAM, with no exec of it): the monitor's open by the
/// loader is judged as PROGRAM's exec.
#[test]
fn an_audit_rule_audits_a_program_run_through_the_dynamic_loader() {
    let agent = Agent::start("loader-audit", "fanotify");
    let host = knoxctl::identity::hostname();
    let prog = agent.dir.join("audited");
    std::fs::copy("/usr/bin/true", &prog).unwrap();
    let prog = prog.to_str().unwrap().to_string();
    let policy = agent.write(
        "audit.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: loader-audit}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  process:\n    matchPaths: [{{path: {prog}}}]\n  action: Audit\n"
        ),
    );
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let o = sh(&format!("/lib64/ld-linux-x86-64.so.2 {prog}"));
    assert!(
        o.status.success(),
        "an Audit rule does not stop it: {}",
        out(&o)
    );
    let got = wait_alerts(
        &agent,
        &[
            "PolicyName=loader-audit",
            "Action=Audit",
            "Operation=Process",
            &format!("Resource={prog}"),
        ],
        1,
    );
    assert!(!got.is_empty(), "no Audit alert for the loader route");
    assert!(
        got[0]["Data"]
            .as_str()
            .unwrap_or_default()
            .contains("loader="),
        "{}",
        got[0]
    );
}
