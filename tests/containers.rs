//! Container discovery with a real runtime (podman + runc, as scripts/containers-setup.sh
//! prepares it, with the local `localhost/busybox:local` image): each test runs its own
//! agent; containers and podman's API service are removed in guards even when a test fails.
//! No mocks: what the agent lists is compared with what `podman inspect` says.

mod common;
#[path = "common/podman.rs"]
mod podman;

use common::{Agent, bin, out, prerequisite, stdout};
use podman::{Containers, PodmanService, containers, podman};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/busybox:local";

fn ready() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let podman = Command::new("podman")
        .args(["image", "exists", IMAGE])
        .status()
        .is_ok_and(|s| s.success());
    prerequisite(root, "root (containers are run with podman)")
        && prerequisite(
            podman,
            "podman with the image localhost/busybox:local (scripts/containers-setup.sh)",
        )
}

/// Waits up to `secs` for a container that `pred` accepts; None if none came.
fn wait_for(agent: &Agent, secs: u64, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let start = Instant::now();
    loop {
        if let Some(c) = containers(agent).into_iter().find(|c| pred(c)) {
            return Some(c);
        }
        if start.elapsed() > Duration::from_secs(secs) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_gone(agent: &Agent, secs: u64, id: &str) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if !containers(agent).iter().any(|c| c["id"] == id) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn inspect(name: &str, format: &str) -> String {
    podman(&["inspect", "--format", format, name])
}

#[test]
fn podman_containers_are_followed_through_its_docker_api() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let before = format!("kxbefore{tag}");
    let after = format!("kxafter{tag}");
    let renamed = format!("kxrenamed{tag}");
    let mut cs = Containers(Vec::new());
    cs.0.push(renamed.clone());
    let before_id = cs.run_image(
        IMAGE,
        &before,
        &["--label", "app=demo", "--label", "tier=web"],
        &["sleep", "600"],
    );
    let _service = PodmanService::start();
    let mut agent = Agent::start("containers-api", "fanotify");

    // Running before the agent started: every fact as podman tells it.
    let c = wait_for(&agent, 10, |c| {
        c["id"] == before_id.as_str() && c["name"] == before.as_str()
    })
    .unwrap_or_else(|| {
        panic!(
            "{before} not listed: {:#?}\n{}",
            containers(&agent),
            agent.log()
        )
    });
    assert_eq!(c["image"], IMAGE);
    assert_eq!(c["labels"]["app"], "demo");
    assert_eq!(c["labels"]["tier"], "web");
    assert_eq!(c["runtime"], "podman");
    assert_eq!(c["pid"].to_string(), inspect(&before, "{{.State.Pid}}"));
    assert_eq!(
        c["verified"], true,
        "the id is the one /proc/<pid>/cgroup names"
    );
    assert!(
        c["cgroupPath"].as_str().unwrap().contains(&before_id),
        "{c}"
    );
    assert!(c["cgroupId"].as_u64().unwrap() > 0, "{c}");
    let pid = c["pid"].as_u64().unwrap();
    let mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap();
    assert_eq!(format!("mnt:[{}]", c["mntNs"]), mnt.display().to_string());
    assert!(
        c["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str() == Some(format!("docker-api:{}", podman::SOCKET).as_str())),
        "{c}"
    );

    // Started after: listed within a couple of seconds (events).
    let after_id = cs.run_image(IMAGE, &after, &[], &["sleep", "600"]);
    let t0 = Instant::now();
    let c = wait_for(&agent, 3, |c| {
        c["id"] == after_id.as_str() && c["name"] == after.as_str()
    })
    .unwrap_or_else(|| panic!("{after} not listed within 3 s: {}", agent.log()));
    eprintln!(
        "container started after the agent listed in {:?}",
        t0.elapsed()
    );
    assert_eq!(c["image"], IMAGE);

    // The policies that select each: a KubeArmorPolicy by container name.
    let policy = agent.write(
        "ksp.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata:\n  name: select-before\n  namespace: container_namespace\nspec:\n  selector:\n    matchLabels:\n      kubearmor.io/container.name: {before}$\n  file:\n    matchDirectories:\n      - dir: /usr/bin/\n        readOnly: true\n  action: Block\n"
        ),
    );
    let o = agent.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let listed = containers(&agent);
    let of = |id: &str| listed.iter().find(|c| c["id"] == id).cloned().unwrap();
    assert_eq!(
        of(&before_id)["policies"],
        serde_json::json!(["kubearmorpolicy/container_namespace/select-before"])
    );
    assert_eq!(of(&after_id)["policies"], serde_json::json!([]));
    let table = agent.cli(&["containers"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains(&before_id[..12]) && !text.contains(&before_id),
        "short ids in tables:\n{text}"
    );

    // Renamed: reflected (podman 4.3 sends no rename event: the next re-list, every 10 s,
    // sees it).
    podman(&["rename", &after, &renamed]);
    wait_for(&agent, 15, |c| {
        c["id"] == after_id.as_str() && c["name"] == renamed.as_str()
    })
    .unwrap_or_else(|| panic!("rename not reflected: {:#?}", containers(&agent)));

    // Stopped and removed: gone, nothing stale.
    podman(&["stop", "-t", "0", &before]);
    assert!(
        wait_gone(&agent, 3, &before_id),
        "{before} still listed after stop"
    );
    podman(&["rm", "-f", "-t", "0", &renamed]);
    assert!(
        wait_gone(&agent, 3, &after_id),
        "{renamed} still listed after rm"
    );

    // Restarted (start of a stopped container): back, with its new pid.
    podman(&["start", &before]);
    let new_pid: u64 = inspect(&before, "{{.State.Pid}}").parse().unwrap();
    wait_for(&agent, 3, |c| {
        c["id"] == before_id.as_str() && c["pid"] == new_pid
    })
    .unwrap_or_else(|| panic!("restart not reflected: {:#?}", containers(&agent)));

    // The agent restarted while it runs: listed again at once.
    agent.stop();
    agent.spawn();
    wait_for(&agent, 5, |c| {
        c["id"] == before_id.as_str() && c["name"] == before.as_str()
    })
    .unwrap_or_else(|| panic!("not re-listed after an agent restart: {}", agent.log()));
}

/// An agent that follows no runtime socket: only the OCI hook can tell it of a container.
fn hook_only_agent(tag: &str) -> Agent {
    let mut agent = Agent::new(tag, "fanotify");
    std::fs::write(
        agent.dir.join("config.yaml"),
        "clusterName: test\ncontainerSockets: []\n",
    )
    .unwrap();
    agent.spawn();
    agent
}

fn hooks_dir(agent: &Agent, socket: &Path) -> PathBuf {
    let dir = agent.dir.join("hooks.d");
    std::fs::create_dir_all(&dir).unwrap();
    let def = serde_json::json!({
        "version": "1.0.0",
        "hook": {"path": env!("CARGO_BIN_EXE_knoxctl"), "args": ["knoxctl", "oci-hook", "--socket", socket]},
        "when": {"always": true},
        "stages": ["createRuntime", "poststop"],
    });
    std::fs::write(dir.join("knoxctl.json"), def.to_string()).unwrap();
    dir
}

/// Registered before the entrypoint runs: the entrypoint's first act is to write a marker,
/// and the agent must have had the container before the marker's time. With events only
/// the agent learns of a container 0.1–0.3 s after it started (measured), after the
/// marker; this agent follows no socket at all, so only the hook can be that early.
#[test]
fn oci_hook_registers_a_container_before_its_entrypoint_runs() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let name = format!("kxhooked{tag}");
    let agent = hook_only_agent("containers-hook");
    let hooks = hooks_dir(&agent, &agent.socket);
    let marker_dir = agent.dir.join("m");
    std::fs::create_dir_all(&marker_dir).unwrap();
    let mut cs = Containers(Vec::new());
    let id = cs.run_image(
        IMAGE,
        &name,
        &[
            "--hooks-dir",
            hooks.to_str().unwrap(),
            "-v",
            &format!("{}:/m", marker_dir.display()),
        ],
        &["sh", "-c", "touch /m/marker; exec sleep 600"],
    );
    let marker = marker_dir.join("marker");
    let start = Instant::now();
    while !marker.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let marked_at = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&marker).expect("the entrypoint wrote its marker");
        m.mtime() as u64 * 1_000_000_000 + m.mtime_nsec() as u64
    };
    let c = containers(&agent)
        .into_iter()
        .find(|c| c["id"] == id.as_str())
        .unwrap_or_else(|| panic!("not registered: {}", agent.log()));
    assert_eq!(c["name"], name.as_str(), "name from containers/storage");
    assert_eq!(c["image"], IMAGE);
    assert_eq!(c["verified"], true, "{c}");
    assert!(
        c["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == "oci-hook"),
        "{c}"
    );
    let registered = c["registeredAtNs"].as_u64().unwrap();
    assert!(
        registered < marked_at,
        "registered {} ms after the entrypoint wrote its marker",
        (registered - marked_at) / 1_000_000
    );
    // poststop: forgotten as soon as it stops.
    podman(&[
        "--hooks-dir",
        hooks.to_str().unwrap(),
        "stop",
        "-t",
        "0",
        &name,
    ]);
    assert!(wait_gone(&agent, 2, &id), "still listed after poststop");
}

/// Fail-open: with no agent answering, the hook warns and the container still starts.
#[test]
fn oci_hook_fails_open_without_an_agent() {
    if !ready() {
        return;
    }
    let agent = Agent::new("containers-noagent", "fanotify");
    let hooks = hooks_dir(&agent, &agent.dir.join("nobody.sock"));
    let name = format!("kxnoagent{}", std::process::id());
    let mut cs = Containers(vec![name.clone()]);
    cs.0.push(name.clone());
    let o = Command::new("podman")
        .args([
            "--hooks-dir",
            hooks.to_str().unwrap(),
            "run",
            "--rm",
            "--name",
            &name,
            "--network",
            "none",
            IMAGE,
            "echo",
            "ran",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ran");
    // Directly: a state on stdin, nobody listening, exit 0 and a warning.
    let mut child = bin()
        .args(["oci-hook", "--socket"])
        .arg(agent.dir.join("nobody.sock"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"id":"abc","status":"creating","pid":1}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("cannot reach the knoxctl agent"),
        "{}",
        out(&o)
    );
}

/// Runs `args` in the container; (exit code, stdout+stderr).
fn exec(name: &str, args: &[&str]) -> (i32, String) {
    let o = Command::new("podman")
        .args(["exec", name])
        .args(args)
        .output()
        .unwrap();
    (o.status.code().unwrap_or(-1), out(&o))
}

fn policy(name: &str, container: &str) -> String {
    format!(
        "apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: {name}
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: {container}$
  severity: 1
  tags: [NIST, MITRE_T1036_masquerading]
  message: container FIM
  action: Block
  process:
    matchPaths:
    - path: /tmp/forbidden
  file:
    matchDirectories:
    - dir: /usr/bin/
      readOnly: true
      recursive: true
    matchPaths:
    - path: /etc/passwd
      action: Audit
"
    )
}

fn enforcement_of(agent: &Agent, id: &str) -> Value {
    containers(agent)
        .into_iter()
        .find(|c| c["id"] == id)
        .map(|c| c["enforcement"].clone())
        .unwrap_or(Value::Null)
}

/// AccuKnox's container scenario on fanotify: a KubeArmorPolicy selecting one container by
/// name blocks an exec and writes under /usr/bin in that container, audits a read, and
/// leaves its neighbour (same image, same files) alone; alerts carry KubeArmor's container
/// fields; deleting the policy or stopping the container takes the rules away.
#[test]
fn container_policies_are_enforced_in_the_selected_container_only() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let (web, other) = (format!("kxweb{tag}"), format!("kxother{tag}"));
    let _service = PodmanService::start();
    let agent = Agent::start("containers-enforce", "fanotify");
    let mut cs = Containers(Vec::new());
    let web_id = cs.run_image(IMAGE, &web, &["--label", "app=demo"], &["sleep", "600"]);
    let other_id = cs.run_image(IMAGE, &other, &[], &["sleep", "600"]);
    for n in [&web, &other] {
        assert_eq!(
            exec(n, &["busybox", "cp", "/bin/busybox", "/tmp/forbidden"]).0,
            0
        );
    }
    for id in [&web_id, &other_id] {
        wait_for(&agent, 15, |c| {
            c["id"] == id.as_str() && c["verified"] == true
        })
        .unwrap_or_else(|| panic!("{id} not discovered: {}", agent.log()));
    }
    let p = agent.write("ksp.yaml", &policy("ctr-fim", &web));
    let o = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    // Applied before `policy apply` returned.
    let e = enforcement_of(&agent, &web_id);
    assert_eq!(e["backend"], "fanotify", "{e} {}", agent.log());
    assert_eq!(e["enforced"], e["rules"], "{e}");
    assert_eq!(enforcement_of(&agent, &other_id), Value::Null);

    // Through a shell in the container, and as podman exec's own program.
    let (_, text) = exec(&web, &["sh", "-c", "/tmp/forbidden; echo rc=$?"]);
    assert!(
        text.contains("rc=126") && text.contains("not permitted"),
        "exec not blocked: {text}"
    );
    let (code, text) = exec(&web, &["/tmp/forbidden"]);
    assert!(
        code != 0 && text.contains("not permitted"),
        "exec not blocked ({code}): {text}"
    );
    let (code, text) = exec(&web, &["sh", "-c", "echo x > /usr/bin/evil"]);
    assert!(
        code != 0 && text.contains("not permitted"),
        "write not blocked ({code}): {text}"
    );
    assert_eq!(exec(&web, &["ls", "/usr/bin"]).0, 0, "reads stay allowed");
    assert_eq!(exec(&web, &["cat", "/etc/passwd"]).0, 0);
    // The neighbour runs the same image with the same files.
    let (_, text) = exec(&other, &["/tmp/forbidden"]);
    assert!(!text.contains("not permitted"), "{text}");
    assert_eq!(exec(&other, &["sh", "-c", "echo x > /usr/bin/fine"]).0, 0);

    let blocks = agent.wait_alerts(&["PolicyName=ctr-fim", "Action=Block"], 3);
    assert_eq!(blocks.len(), 3, "{blocks:?} {}", agent.log());
    for a in &blocks {
        assert_eq!(a["Type"], "MatchedPolicy", "{a}");
        assert_eq!(a["NamespaceName"], "container_namespace");
        assert_eq!(a["ContainerName"], web.as_str());
        assert_eq!(a["PodName"], web.as_str());
        assert_eq!(a["ContainerID"], web_id.as_str());
        assert_eq!(a["ContainerImage"], IMAGE);
        assert!(a["Labels"].as_str().unwrap().contains("app=demo"), "{a}");
        assert_eq!(a["Enforcer"], "fanotify");
        assert_eq!(a["Result"], "Operation not permitted");
        assert_eq!(a["Severity"], "1");
        assert_eq!(a["Message"], "container FIM");
        let (pid, host_pid) = (a["PID"].as_i64().unwrap(), a["HostPID"].as_i64().unwrap());
        assert!(
            pid > 0 && pid < 100 && host_pid != pid,
            "pid {pid} host {host_pid}"
        );
    }
    assert!(
        blocks
            .iter()
            .any(|a| a["Operation"] == "Process" && a["Resource"] == "/tmp/forbidden")
    );
    assert!(
        blocks
            .iter()
            .any(|a| a["Operation"] == "File" && a["Resource"] == "/usr/bin/evil")
    );
    let audits = agent.wait_alerts(&["PolicyName=ctr-fim", "Action=Audit"], 1);
    assert!(
        audits.iter().any(|a| a["Resource"] == "/etc/passwd"
            && a["Result"] == "Passed"
            && a["ContainerName"] == web.as_str()),
        "{audits:?}"
    );
    assert!(
        agent
            .alerts(&[&format!("ContainerName={other}")])
            .is_empty(),
        "the neighbour raised alerts"
    );

    // Other names for the blocked program and the protected directory, inside the
    // container: marks follow inodes, and the container's paths are its own.
    assert_eq!(
        exec(&web, &["busybox", "ln", "-s", "/tmp/forbidden", "/tmp/sl"]).0,
        0
    );
    assert_eq!(
        exec(&web, &["busybox", "ln", "/tmp/forbidden", "/tmp/hl"]).0,
        0
    );
    for (route, cmd) in [
        ("symlink", "/tmp/sl"),
        ("hard link", "/tmp/hl"),
        ("relative path", "cd /tmp && ./forbidden"),
        ("// and /./", "//tmp/./forbidden"),
        ("/proc/self/root", "/proc/self/root/tmp/forbidden"),
        (
            "write via /proc/self/root",
            "echo x > /proc/self/root/usr/bin/evil2",
        ),
        ("write via relative path", "cd /usr && echo x > bin/evil3"),
    ] {
        let (_, text) = exec(&web, &["sh", "-c", &format!("{cmd}; echo rc=$?")]);
        assert!(
            text.contains("not permitted") && !text.contains("rc=0"),
            "{route} not blocked in the container: {text}"
        );
    }

    // Restarted: a new init process and a new rootfs mount get the rules again.
    podman(&["restart", "-t", "0", &web]);
    let new_pid: u64 = inspect(&web, "{{.State.Pid}}").parse().unwrap();
    let start = Instant::now();
    let blocked = loop {
        let (_, text) = exec(&web, &["sh", "-c", "echo x > /usr/bin/evil4; echo rc=$?"]);
        if text.contains("not permitted") {
            break true;
        }
        if start.elapsed() > Duration::from_secs(15) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        blocked,
        "not enforced after a restart (pid {new_pid}): {}",
        agent.log()
    );

    // Deleted: the container is free again.
    let o = agent.cli(&["policy", "delete", "ctr-fim"]);
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(enforcement_of(&agent, &web_id), Value::Null);
    let (_, text) = exec(&web, &["/tmp/forbidden"]);
    assert!(!text.contains("not permitted"), "{text}");

    // Applied again, then the container stops: its rules go with it.
    let o = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    podman(&["stop", "-t", "0", &web]);
    assert!(wait_gone(&agent, 15, &web_id), "still listed after stop");
    assert!(
        agent.log().contains("container rules removed"),
        "{}",
        agent.log()
    );
}

/// No window at start: with podman's hook, a container's rules are in force before its
/// entrypoint runs, so the entrypoint's very first act is already blocked.
#[test]
fn container_rules_hold_from_the_entrypoints_first_act() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let name = format!("kxearly{tag}");
    let agent = hook_only_agent("containers-early");
    let p = agent.write("ksp.yaml", &policy("ctr-early", &name));
    let o = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let hooks = hooks_dir(&agent, &agent.socket);
    let _cs = Containers(vec![name.clone()]);
    let o = Command::new("podman")
        .args([
            "--hooks-dir",
            hooks.to_str().unwrap(),
            "run",
            "--name",
            &name,
        ])
        .args(["--network", "none", IMAGE, "sh", "-c"])
        .arg("echo x > /usr/bin/early; echo rc=$?")
        .output()
        .unwrap();
    let text = out(&o);
    assert!(
        text.contains("rc=1") && text.contains("not permitted"),
        "the entrypoint's first write was not blocked: {text}\n{}",
        agent.log()
    );
    let a = agent.wait_alerts(&["PolicyName=ctr-early", "Action=Block"], 1);
    assert!(
        a.iter()
            .any(|a| a["Resource"] == "/usr/bin/early" && a["ContainerName"] == name.as_str()),
        "{a:?}"
    );
}

const DEBIAN: &str = "localhost/knox-debian:merged-usr";

/// [`ready`], and the Debian image (with real binaries, merged /usr) some tests need.
fn debian_ready() -> bool {
    if !ready() {
        return false;
    }
    let debian = Command::new("podman")
        .args(["image", "exists", DEBIAN])
        .status()
        .is_ok_and(|s| s.success());
    prerequisite(
        debian,
        "the image localhost/knox-debian:merged-usr (scripts/containers-setup.sh)",
    )
}

/// Removes containers with fixed names (KubeArmor's and AccuKnox's scenarios name theirs)
/// left by an earlier run that was killed.
fn remove_stale(names: &[&str]) {
    for n in names {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", n])
            .output();
    }
}

/// KubeArmor's own non-Kubernetes container scenarios (tests/nonk8s_env: ksp and smoke),
/// with their policies read from the corpus, in a container named `wordpress-mysql` as
/// theirs: each policy applied, the scenario's command run with `exec`, the alert KubeArmor
/// expects looked for. A scenario fanotify cannot do (network rules) must be listed as not
/// enforced for that container, never silently pass. The table goes to the suite summary.
#[test]
fn kubearmor_nonk8s_container_scenarios() {
    if !debian_ready() {
        return;
    }
    let Some(corpus) = common::conformance_dir() else {
        return;
    };
    let suite = corpus.join("kubearmor/tests/nonk8s_env");
    let _service = PodmanService::start();
    let agent = Agent::start("containers-kubearmor", "fanotify");
    let name = "wordpress-mysql";
    remove_stale(&[name]);
    let mut cs = Containers(Vec::new());
    // Not busybox: the scenarios run bash, curl and apt.
    let id = cs.run_image(DEBIAN, name, &[], &["sleep", "600"]);
    wait_for(&agent, 15, |c| {
        c["id"] == id.as_str() && c["verified"] == true
    })
    .unwrap_or_else(|| panic!("{name} not discovered: {}", agent.log()));

    // (policy file, command, PolicyName, Action, Result)
    let scenarios: &[(&str, &str, &str, &str, &str)] = &[
        (
            "ksp/res/ksp-audit-file-access.yaml",
            "cat /etc/shadow",
            "ksp-audit-file-access",
            "Audit",
            "Passed",
        ),
        (
            "ksp/res/ksp-audit-exec-dir.yaml",
            "ls",
            "ksp-block-exec-dir",
            "Audit",
            "Passed",
        ),
        (
            "ksp/res/ksp-audit-protocol-tcp.yaml",
            "curl --help",
            "ksp-audit-protocol-tcp",
            "Audit",
            "Passed",
        ),
        (
            "ksp/res/ksp-audit-file-pattern.yaml",
            "echo test > /tmp/karmor_test_file",
            "ksp-audit-file-pattern",
            "Audit",
            "Passed",
        ),
        (
            "ksp/res/ksp-audit-process-apt-pattern.yaml",
            "apt --help",
            "ksp-audit-process-apt-pattern",
            "Audit",
            "Passed",
        ),
        // smoke: KubeArmor checks that the policy is listed for the container; we also
        // run what it blocks.
        (
            "smoke/res/ksp-wordpress-block-policy.yaml",
            "apt-get update",
            "ksp-block-policy",
            "Block",
            "Operation not permitted",
        ),
    ];
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (file, cmd, policy, action, result) in scenarios {
        let path = suite.join(file);
        let o = agent.cli(&["policy", "apply", "-f", path.to_str().unwrap()]);
        assert!(o.status.success(), "{file}: {}", out(&o));
        let listed = containers(&agent)
            .into_iter()
            .find(|c| c["id"] == id.as_str())
            .expect("container listed");
        assert!(
            listed["policies"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p.as_str().unwrap().ends_with(policy)),
            "{policy} not listed for {name}: {listed}"
        );
        let _ = exec(name, &["bash", "-c", cmd]);
        let found = agent
            .wait_alerts(
                &[&format!("PolicyName={policy}"), &format!("Action={action}")],
                1,
            )
            .into_iter()
            .find(|a| a["Result"] == *result && a["ContainerName"] == name);
        let unenforced = listed["enforcement"]["unenforceable"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let line = match (&found, unenforced.first()) {
            (Some(_), _) => format!("{policy}: {action} alert as KubeArmor expects"),
            (None, Some(why)) => format!(
                "{policy}: NOT supported on fanotify, listed: {}",
                why.as_str().unwrap_or_default()
            ),
            (None, None) => {
                failures.push(format!("{policy}: no {action} alert for `{cmd}`"));
                format!("{policy}: FAILED (no alert)")
            }
        };
        table.push(format!("kubearmor-nonk8s fanotify {line}"));
        let o = agent.cli(&["policy", "delete", policy]);
        assert!(o.status.success(), "{}", out(&o));
    }
    // smoke: deleting the container updates the list.
    podman(&["rm", "-f", "-t", "0", name]);
    assert!(wait_gone(&agent, 15, &id), "{name} still listed after rm");
    table.push("kubearmor-nonk8s fanotify container list follows rm: yes".into());
    let report = table.join("\n") + "\n";
    eprint!("{report}");
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("kubearmor-nonk8s-fanotify.txt"),
        &report,
    )
    .unwrap();
    assert!(failures.is_empty(), "{failures:#?}\n{}", agent.log());
    // Exactly one scenario is out of fanotify's reach: the network rule.
    assert_eq!(
        table.iter().filter(|l| l.contains("NOT supported")).count(),
        1,
        "{report}"
    );
}

/// dockerd (and containerd, if it is not running) started by hand for one test, as on a
/// machine without systemd (scripts/test.sh installs docker.io), and stopped when dropped;
/// a daemon already answering is used as it is.
struct DockerDaemon(Vec<Child>);

const DOCKER_SOCKET: &str = "/var/run/docker.sock";

impl DockerDaemon {
    fn start(dir: &Path) -> DockerDaemon {
        let answers = || {
            Command::new("docker")
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if answers() {
            return DockerDaemon(Vec::new());
        }
        let mut started = Vec::new();
        let log = |n: &str| std::fs::File::create(dir.join(n)).unwrap();
        if std::os::unix::net::UnixStream::connect("/run/containerd/containerd.sock").is_err() {
            started.push(
                Command::new("containerd")
                    .stdout(Stdio::null())
                    .stderr(log("containerd.log"))
                    .spawn()
                    .expect("containerd"),
            );
            let t = Instant::now();
            while std::os::unix::net::UnixStream::connect("/run/containerd/containerd.sock")
                .is_err()
                && t.elapsed() < Duration::from_secs(20)
            {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        started.push(
            Command::new("dockerd")
                .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
                .args(["--containerd=/run/containerd/containerd.sock", "-H"])
                .arg(format!("unix://{DOCKER_SOCKET}"))
                .stdout(Stdio::null())
                .stderr(log("dockerd.log"))
                .spawn()
                .expect("dockerd"),
        );
        let d = DockerDaemon(started);
        let t = Instant::now();
        while !answers() {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "dockerd did not answer: {}",
                std::fs::read_to_string(dir.join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        d
    }
}

impl Drop for DockerDaemon {
    fn drop(&mut self) {
        // dockerd first: it stops its containers' shims through containerd.
        for mut c in self.0.drain(..).rev() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let t = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn docker(args: &[&str]) -> String {
    let o = Command::new("docker").args(args).output().unwrap();
    assert!(o.status.success(), "docker {args:?}: {}", out(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Docker, for real: a container started by dockerd is found through docker's API (name,
/// image, labels from inspect, id checked against its cgroup), its policy is enforced, and
/// the alerts carry its fields. Docker has no OCI hooks, so the rules arrive with the start
/// event (what the README says).
#[test]
fn docker_containers_are_found_and_enforced() {
    if !ready() {
        return;
    }
    let dockerd = Command::new("dockerd")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !prerequisite(dockerd, "dockerd (docker.io; scripts/test.sh installs it)") {
        return;
    }
    let tag = std::process::id();
    let name = format!("kxdock{tag}");
    let agent = Agent::start("containers-docker", "fanotify");
    let _daemon = DockerDaemon::start(&agent.dir);
    // The busybox image of scripts/containers-setup.sh, from podman's store into docker's.
    let tar = agent.dir.join("busybox.tar");
    podman(&["save", "-o", tar.to_str().unwrap(), IMAGE]);
    docker(&["load", "-i", tar.to_str().unwrap()]);
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rm", "-f", &self.0]).output();
        }
    }
    let _rm = Rm(name.clone());
    let id = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--label",
        "app=demo",
        IMAGE,
        "sleep",
        "600",
    ]);
    let c = wait_for(&agent, 20, |c| {
        c["id"] == id.as_str() && c["verified"] == true
    })
    .unwrap_or_else(|| panic!("docker container not found: {}", agent.log()));
    assert_eq!(c["name"], name.as_str(), "{c}");
    assert_eq!(c["runtime"], "docker");
    assert_eq!(c["labels"]["app"], "demo");
    assert!(
        c["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("docker-api:")),
        "{c}"
    );
    let p = agent.write("ksp.yaml", &policy("docker-fim", &name));
    let o = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
    assert!(
        stdout(&o).contains(&format!(
            "enforced in 1 container ({name}: 3/3 rules) by fanotify"
        )),
        "{}",
        out(&o)
    );
    let o = Command::new("docker")
        .args([
            "exec",
            &name,
            "sh",
            "-c",
            "echo x > /usr/bin/evil; echo rc=$?",
        ])
        .output()
        .unwrap();
    let text = out(&o);
    assert!(
        text.contains("rc=1") && text.contains("not permitted"),
        "{text}"
    );
    let a = agent.wait_alerts(&["PolicyName=docker-fim", "Action=Block"], 1);
    let a = a
        .first()
        .unwrap_or_else(|| panic!("no alert: {}", agent.log()));
    assert_eq!(a["ContainerID"], id.as_str());
    assert_eq!(a["ContainerName"], name.as_str());
    assert_eq!(a["ContainerImage"], IMAGE, "{a}");
    assert_eq!(a["Type"], "MatchedPolicy");
    assert_eq!(a["Resource"], "/usr/bin/evil");
    docker(&["rm", "-f", &name]);
    assert!(wait_gone(&agent, 10, &id), "still listed after docker rm");
}

/// AccuKnox's container scenario as its page runs it: the example policy
/// (examples/policies/accuknox-file-integrity-monitoring.yaml, selector
/// `kubearmor.io/container.name: ubuntu`) applied to a running container named `ubuntu`.
/// Writes to an existing file and new files under its /usr/bin and /usr/lib are denied,
/// reads work, a neighbour and host processes are not judged by it; a container started
/// after the policy (`ubuntu-2`: KubeArmor's name regex is unanchored) and the agent
/// restarted while both run keep it enforced.
#[test]
fn accuknox_fim_policy_in_a_container_named_ubuntu() {
    if !debian_ready() {
        return;
    }
    let _service = PodmanService::start();
    let mut agent = Agent::start("containers-accuknox", "fanotify");
    remove_stale(&["ubuntu", "ubuntu-2"]);
    let mut cs = Containers(Vec::new());
    let id = cs.run_image(DEBIAN, "ubuntu", &[], &["sleep", "600"]);
    let neighbour = format!("kxneighbour{}", std::process::id());
    cs.run_image(IMAGE, &neighbour, &[], &["sleep", "600"]);
    let sh =
        |name: &str, script: &str| exec(name, &["bash", "-c", &format!("{script}; echo rc=$?")]);
    assert!(
        sh("ubuntu", "echo original > /usr/bin/existing")
            .1
            .contains("rc=0")
    );
    wait_for(&agent, 15, |c| {
        c["id"] == id.as_str() && c["verified"] == true
    })
    .unwrap_or_else(|| panic!("ubuntu not discovered: {}", agent.log()));
    let o = agent.cli(&[
        "policy",
        "apply",
        "-f",
        &common::example("accuknox-file-integrity-monitoring.yaml"),
    ]);
    assert!(
        stdout(&o).contains("enforced in 1 container (ubuntu: 3/6 rules) by fanotify"),
        "{}",
        out(&o)
    );
    let denied = |name: &str, script: &str| {
        let (_, text) = sh(name, script);
        text.contains("not permitted") && !text.contains("rc=0")
    };
    assert!(
        denied("ubuntu", "echo tampered >> /usr/bin/existing"),
        "append to an existing file"
    );
    assert!(
        denied("ubuntu", "echo EICAR > /tmp/t; cat /tmp/t > /usr/bin/test"),
        "new file in /usr/bin"
    );
    assert!(
        denied("ubuntu", "echo x > /usr/lib/test_file"),
        "new file in /usr/lib"
    );
    assert!(
        denied("ubuntu", "echo x > /bin/through-the-symlink"),
        "/bin is usr/bin here"
    );
    let (_, text) = sh("ubuntu", "cat /usr/bin/existing; ls /usr/lib >/dev/null");
    assert!(
        text.contains("original") && text.contains("rc=0"),
        "reads: {text}"
    );
    assert!(
        !denied(&neighbour, "busybox touch /usr/bin/fine"),
        "the neighbour is judged"
    );
    // Host processes are not the container's: the host's rules judge them.
    let pid = inspect("ubuntu", "{{.State.Pid}}");
    let through = format!("/proc/{pid}/root/usr/bin/existing");
    assert!(
        std::fs::read_to_string(&through)
            .unwrap()
            .contains("original")
    );

    let alerts = agent.wait_alerts(&["PolicyName=harden-file-integrity-monitoring"], 4);
    assert!(alerts.len() >= 4, "{alerts:?}");
    for a in &alerts {
        for (field, want) in [
            ("Type", "MatchedPolicy"),
            ("NamespaceName", "container_namespace"),
            ("PodName", "ubuntu"),
            ("ContainerName", "ubuntu"),
            ("ContainerID", id.as_str()),
            ("ContainerImage", DEBIAN),
            ("Action", "Block"),
            ("Result", "Operation not permitted"),
            ("Enforcer", "fanotify"),
            ("Severity", "1"),
            (
                "Message",
                "Detected and prevented compromise to File integrity",
            ),
            ("Operation", "File"),
        ] {
            assert_eq!(a[field], want, "{field} in {a}");
        }
        assert!(
            a["Tags"]
                .as_str()
                .unwrap()
                .contains("MITRE_T1565_data_manipulation")
        );
        assert!(
            a["HostPID"].as_i64().unwrap() > 0 && a["PID"].as_i64().unwrap() > 0,
            "{a}"
        );
        assert_ne!(a["HostPID"], a["PID"]);
    }
    assert!(alerts.iter().any(|a| a["Resource"] == "/usr/lib/test_file"
        && a["Data"].as_str().unwrap().contains("O_CREAT")));

    // Started after the policy, found through podman's API: enforced once its start event
    // arrives.
    let id2 = cs.run_image(DEBIAN, "ubuntu-2", &[], &["sleep", "600"]);
    let e = wait_for(&agent, 15, |c| {
        c["id"] == id2.as_str() && c["enforcement"]["backend"] == "fanotify"
    })
    .unwrap_or_else(|| panic!("ubuntu-2 not enforced: {}", agent.log()));
    assert!(denied("ubuntu-2", "echo x > /usr/bin/late"), "{e}");

    // The agent restarted while both run: enforced again from the persisted policy.
    agent.stop();
    agent.spawn();
    for id in [&id, &id2] {
        wait_for(&agent, 15, |c| {
            c["id"] == id.as_str() && c["enforcement"]["backend"] == "fanotify"
        })
        .unwrap_or_else(|| panic!("{id} not enforced after an agent restart: {}", agent.log()));
    }
    assert!(denied("ubuntu", "echo x > /usr/bin/after-restart"));
    assert!(denied("ubuntu-2", "echo x > /usr/lib/after-restart"));

    // Renamed out of the selector (podman sends no rename event: the 10 s re-list sees
    // it): the rules go, nothing stale is left.
    let renamed = format!("kxformerly{}", std::process::id());
    podman(&["rename", "ubuntu-2", &renamed]);
    cs.0.push(renamed.clone());
    wait_for(&agent, 25, |c| {
        c["id"] == id2.as_str() && c["name"] == renamed.as_str() && c["enforcement"].is_null()
    })
    .unwrap_or_else(|| panic!("rules kept after a rename: {:#?}", containers(&agent)));
    assert!(!denied(&renamed, "echo x > /usr/bin/free-again"));
}

/// The eBPF monitor tells containers' processes from the host's by their cgroup: a host
/// rule on `/etc/passwd` says nothing when a container reads its own `/etc/passwd`, and a
/// container policy's syscall rule (which no fanotify group can enforce) is audited by the
/// monitor in the selected container only, with the container's fields.
#[test]
fn the_monitor_judges_container_processes_by_their_containers_rules() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let (sel, other) = (format!("kxmonsel{tag}"), format!("kxmonother{tag}"));
    let _service = PodmanService::start();
    let agent = Agent::start("containers-monitor", "fanotify");
    let mut cs = Containers(Vec::new());
    let sel_id = cs.run_image(IMAGE, &sel, &[], &["sleep", "600"]);
    let other_id = cs.run_image(IMAGE, &other, &[], &["sleep", "600"]);
    for id in [&sel_id, &other_id] {
        wait_for(&agent, 15, |c| {
            c["id"] == id.as_str() && c["verified"] == true
        })
        .unwrap_or_else(|| panic!("{id} not discovered: {}", agent.log()));
    }
    let host = knoxctl::identity::hostname();
    let hsp = agent.write(
        "hsp.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: host-passwd}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: {host}}}}}\n  action: Audit\n  file:\n    matchPaths: [{{path: /etc/passwd}}]\n"
        ),
    );
    let ksp = agent.write(
        "ksp.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {{name: ctr-unlink, namespace: container_namespace}}\nspec:\n  selector: {{matchLabels: {{kubearmor.io/container.name: {sel}$}}}}\n  severity: 6\n  message: unlink in a container\n  action: Audit\n  syscalls:\n    matchSyscalls:\n    - syscall: [unlink]\n"
        ),
    );
    for p in [&hsp, &ksp] {
        let o = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
        assert!(o.status.success(), "{}", out(&o));
    }
    let e = enforcement_of(&agent, &sel_id);
    assert!(
        e["notes"]
            .to_string()
            .contains("matchSyscalls[0]): audited by the eBPF monitor"),
        "the syscall rule is the monitor's: {e}"
    );

    for n in [&sel, &other] {
        assert_eq!(exec(n, &["cat", "/etc/passwd"]).0, 0);
        let (code, text) = exec(n, &["sh", "-c", "touch /tmp/gone && unlink /tmp/gone"]);
        assert_eq!(code, 0, "{text}");
    }
    // The host's own read comes after the containers' in the monitor's ring: once its
    // alert is in, theirs would have been too.
    let host_read = Command::new("/usr/bin/cat")
        .arg("/etc/passwd")
        .output()
        .unwrap();
    assert!(host_read.status.success());
    let host_alerts = agent.wait_alerts(&["PolicyName=host-passwd"], 1);
    std::thread::sleep(Duration::from_millis(300));
    let host_alerts = agent
        .alerts(&["PolicyName=host-passwd"])
        .into_iter()
        .chain(host_alerts)
        .collect::<Vec<_>>();
    for a in &host_alerts {
        assert_eq!(a["Type"], "MatchedHostPolicy", "{a}");
        assert_eq!(
            a["ContainerID"].as_str().unwrap_or(""),
            "",
            "a host rule judged a container: {a}"
        );
    }

    agent.wait_alerts(&["PolicyName=ctr-unlink"], 1);
    std::thread::sleep(Duration::from_millis(300));
    let unlinks = agent.alerts(&["PolicyName=ctr-unlink"]);
    assert_eq!(unlinks.len(), 1, "only the selected container: {unlinks:?}");
    let a = &unlinks[0];
    assert_eq!(a["Type"], "MatchedPolicy", "{a}");
    assert_eq!(a["Operation"], "Syscall", "{a}");
    assert_eq!(a["Resource"], "/tmp/gone", "{a}");
    assert_eq!(a["Enforcer"], "eBPF Monitor", "{a}");
    assert_eq!(a["Action"], "Audit", "{a}");
    assert_eq!(a["Severity"], "6", "{a}");
    assert_eq!(a["Message"], "unlink in a container", "{a}");
    assert_eq!(a["ContainerName"], sel.as_str(), "{a}");
    assert_eq!(a["ContainerID"], sel_id.as_str(), "{a}");
    assert_eq!(a["ContainerImage"], IMAGE, "{a}");
    assert_eq!(a["NamespaceName"], "container_namespace", "{a}");
    let (pid, host_pid) = (a["PID"].as_i64(), a["HostPID"].as_i64());
    assert!(
        pid.is_some_and(|p| p > 0 && p < 100) && host_pid.is_some_and(|h| Some(h) != pid),
        "in-container PID, host HostPID: {a}"
    );
}

/// An execname rule (its mark is on whole filesystems) sees execs from the container's own
/// tmpfs, not only from its root overlay; a volume the host shares is left unmarked (the
/// host's execs must not wait for a container's group) and listed as not checked.
#[test]
fn execname_rules_cover_the_containers_own_filesystems() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let name = format!("kxexecname{tag}");
    let vol = std::env::temp_dir().join(format!("knoxctl-vol-{tag}"));
    std::fs::create_dir_all(&vol).unwrap();
    std::fs::copy("/usr/bin/true", vol.join("kxforbidden")).unwrap();
    struct RmDir(PathBuf);
    impl Drop for RmDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _vol = RmDir(vol.clone());
    let _service = PodmanService::start();
    let agent = Agent::start("containers-execname", "fanotify");
    let mut cs = Containers(Vec::new());
    let volume = format!("{}:/vol", vol.display());
    let id = cs.run_image(
        IMAGE,
        &name,
        &["--tmpfs", "/scratch:rw,exec", "-v", &volume],
        &["sleep", "600"],
    );
    wait_for(&agent, 15, |c| {
        c["id"] == id.as_str() && c["verified"] == true
    })
    .unwrap_or_else(|| panic!("{id} not discovered: {}", agent.log()));
    assert_eq!(
        exec(
            &name,
            &["busybox", "cp", "/bin/busybox", "/scratch/kxforbidden"]
        )
        .0,
        0
    );
    let p = agent.write(
        "execname.yaml",
        &format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {{name: ctr-execname, namespace: container_namespace}}\nspec:\n  selector: {{matchLabels: {{kubearmor.io/container.name: {name}$}}}}\n  action: Block\n  process:\n    matchPaths:\n    - execname: kxforbidden\n"
        ),
    );
    let o = agent.cli(&["policy", "apply", "-f", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", out(&o));
    let e = enforcement_of(&agent, &id);
    assert!(
        e["notes"].to_string().contains("execs from /vol"),
        "the shared volume is listed: {e}"
    );
    let (_, text) = exec(
        &name,
        &["sh", "-c", "/scratch/kxforbidden true; echo rc=$?"],
    );
    assert!(
        text.contains("rc=126") && text.contains("not permitted"),
        "exec from the container's tmpfs not blocked: {text}"
    );
    let blocks = agent.wait_alerts(&["PolicyName=ctr-execname", "Action=Block"], 1);
    assert_eq!(blocks[0]["Resource"], "/scratch/kxforbidden", "{blocks:?}");
    // The host runs the volume's copy freely: no mark on the host's filesystem.
    let host = Command::new(vol.join("kxforbidden")).status().unwrap();
    assert!(
        host.success(),
        "the host's exec was judged by the container's rule"
    );
}
