//! Container discovery with a real runtime (podman + runc, as scripts/containers-setup.sh
//! prepares it, with the local `localhost/busybox:local` image): each test runs its own
//! agent; containers and podman's API service are removed in guards even when a test fails.
//! No mocks: what the agent lists is compared with what `podman inspect` says.

mod common;

use common::{Agent, bin, out, prerequisite};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "localhost/busybox:local";
const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

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

fn podman(args: &[&str]) -> String {
    let o = Command::new("podman").args(args).output().unwrap();
    assert!(o.status.success(), "podman {args:?}: {}", out(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Removes the containers it names when dropped.
struct Containers(Vec<String>);

impl Containers {
    fn run(&mut self, name: &str, extra: &[&str], cmd: &[&str]) -> String {
        self.0.push(name.to_string());
        let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
        args.extend_from_slice(extra);
        args.push(IMAGE);
        args.extend_from_slice(cmd);
        podman(&args)
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("podman")
                .args(["rm", "-f", "-t", "0", n])
                .output();
        }
    }
}

/// podman's Docker-compatible API on its default socket, stopped when dropped (unless one
/// was already serving there).
struct PodmanService(Option<Child>);

impl PodmanService {
    fn start() -> PodmanService {
        if std::os::unix::net::UnixStream::connect(PODMAN_SOCKET).is_ok() {
            return PodmanService(None);
        }
        std::fs::create_dir_all("/run/podman").unwrap();
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{PODMAN_SOCKET}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service");
        PodmanService(Some(child))
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
            let _ = std::fs::remove_file(PODMAN_SOCKET);
        }
    }
}

fn containers(agent: &Agent) -> Vec<Value> {
    let o = agent.cli(&["containers", "-o", "json"]);
    assert!(o.status.success(), "{}", out(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
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
    let before_id = cs.run(
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
            .any(|s| s.as_str() == Some(format!("docker-api:{PODMAN_SOCKET}").as_str())),
        "{c}"
    );

    // Started after: listed within a couple of seconds (events).
    let after_id = cs.run(&after, &[], &["sleep", "600"]);
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
    let mut agent = Agent::new("containers-hook", "fanotify");
    std::fs::write(
        agent.dir.join("config.yaml"),
        "clusterName: test\ncontainerSockets: []\n",
    )
    .unwrap();
    agent.spawn();
    let hooks = hooks_dir(&agent, &agent.socket);
    let marker_dir = agent.dir.join("m");
    std::fs::create_dir_all(&marker_dir).unwrap();
    let mut cs = Containers(Vec::new());
    let id = cs.run(
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
