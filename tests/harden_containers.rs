//! `knoxctl harden verify --all --container NAME` against real podman containers (the
//! local images scripts/containers-setup.sh builds: busybox, and the Debian-like one with
//! apt-get, cat and curl) and a real agent on fanotify, with its own state directory and
//! socket: every container template whose preconditions hold in the container is applied,
//! its trigger run inside it with `podman exec`, and the alert must come from that
//! container. Every template fanotify claims to enforce must pass; templates it does not
//! claim may fail, and say so. Prints `kubearmor harden verify containers (fanotify): P/T
//! passed` (P passes of T templates that ran, over both containers). Containers, podman's
//! API service and the agent are removed in guards even when the test fails.

mod common;
#[path = "common/podman.rs"]
mod podman;

use common::{Agent, out, prerequisite, stdout};
use podman::{Containers, PodmanService, containers};
use std::process::Command;
use std::time::{Duration, Instant};

const BUSYBOX: &str = "localhost/busybox:local";
const DEBIAN: &str = "localhost/knox-debian:merged-usr";

fn image_exists(image: &str) -> bool {
    Command::new("podman")
        .args(["image", "exists", image])
        .status()
        .is_ok_and(|s| s.success())
}

fn ready() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    prerequisite(root, "root (containers are run with podman)")
        && prerequisite(
            image_exists(BUSYBOX) && image_exists(DEBIAN),
            "podman with the images localhost/busybox:local and localhost/knox-debian:merged-usr (scripts/containers-setup.sh)",
        )
}

/// Waits until the agent lists `name` under that name, verified against /proc.
fn discovered(agent: &Agent, name: &str) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if containers(agent)
            .iter()
            .any(|c| c["name"] == name && c["verified"] == true)
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name} not discovered: {}", agent.log());
}

/// The template ids of the lines starting with `kind` (PASS, FAIL, SKIP).
fn ids<'a>(text: &'a str, kind: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(kind)?.strip_prefix(' '))
        .map(|l| l.split(':').next().unwrap_or(l))
        .collect()
}

#[test]
fn container_templates_pass_inside_podman_containers_on_fanotify() {
    if !ready() {
        return;
    }
    let tag = std::process::id();
    let (bb, deb) = (format!("kxhvbb{tag}"), format!("kxhvdeb{tag}"));
    let _service = PodmanService::start();
    let agent = Agent::start("harden-containers", "fanotify");
    let mut cs = Containers(Vec::new());
    cs.run_image(BUSYBOX, &bb, &[], &["sleep", "3600"]);
    cs.run_image(DEBIAN, &deb, &[], &["sleep", "3600"]);
    discovered(&agent, &bb);
    discovered(&agent, &deb);
    let state = agent.state.to_str().unwrap().to_string();

    let (mut passed, mut ran) = (0, 0);
    for (name, must_pass) in [
        // File rules (a directory, a missing file, an existing file) and a process rule
        // on the container's own shell.
        (
            &bb,
            &[
                "file-integrity-monitoring",
                "fim-ld-preload",
                "cred-passwd-write",
                "history-container-shell",
                "write-in-shm-dir",
            ][..],
        ),
        // Programs of a merged-/usr image with bash and no sh: process rules on apt-get
        // and curl, a read of /etc/shadow.
        (
            &deb,
            &[
                "pkg-mngr-exec",
                "cred-shadow-access",
                "remote-download-tools",
            ][..],
        ),
    ] {
        let started = Instant::now();
        let o = agent.cli(&[
            "harden",
            "verify",
            "--all",
            "--container",
            name,
            "--state-dir",
            &state,
        ]);
        let text = stdout(&o);
        eprintln!("{text}(in {:?})", started.elapsed());
        assert_eq!(o.status.code(), Some(0), "{}\n{}", out(&o), agent.log());
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(&format!(
                "triggers run in container {name} with podman exec"
            )),
            "{}",
            out(&o)
        );
        let (pass, fail) = (ids(&text, "PASS"), ids(&text, "FAIL"));
        for t in must_pass {
            assert!(pass.contains(t), "{t} did not pass in {name}:\n{text}");
        }
        // What fanotify claims must hold; anything else says why it is not a bug.
        for l in text.lines().filter(|l| l.starts_with("FAIL ")) {
            assert!(
                l.contains("(fanotify does not enforce its "),
                "a template fanotify claims failed in {name}: {l}\n{}",
                agent.log()
            );
        }
        // Skips carry their evidence: a precondition, or the program the image lacks.
        for l in text.lines().filter(|l| l.starts_with("SKIP ")) {
            let reason = l.split_once(": ").map(|(_, r)| r).unwrap_or("");
            assert!(!reason.is_empty(), "a skip without its reason: {l}");
        }
        assert!(
            text.contains(&format!(
                "harden verify (container {name}): {} passed, {} failed",
                pass.len(),
                fail.len()
            )),
            "{text}"
        );
        // The alerts verify counted are that container's.
        let policy = format!("harden-{}-{name}", must_pass[0]);
        let alerts = agent.alerts(&[&format!("PolicyName={policy}")]);
        assert!(!alerts.is_empty(), "no alert of {policy}");
        for a in &alerts {
            assert_eq!(a["ContainerName"], name.as_str(), "{a}");
            assert_eq!(a["Enforcer"], "fanotify", "{a}");
        }
        passed += pass.len();
        ran += pass.len() + fail.len();
    }
    // The busybox image has no cp: a trigger that copies a program is skipped, named.
    let o = agent.cli(&[
        "harden",
        "verify",
        "exec-tmp",
        "--container",
        &bb,
        "--state-dir",
        &state,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        stdout(&o).contains("SKIP exec-tmp: its verify trigger needs cp, absent in the container"),
        "{}",
        out(&o)
    );
    // Verify leaves no policy behind.
    let o = agent.cli(&["policy", "list"]);
    assert!(!stdout(&o).contains("harden-"), "{}", out(&o));
    // And a container the agent does not know is a usage error naming the ones it does.
    let o = agent.cli(&[
        "harden",
        "verify",
        "--all",
        "--container",
        "kx-no-such-container",
        "--state-dir",
        &state,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", out(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("no container named 'kx-no-such-container' on this host (known: ")
            && String::from_utf8_lossy(&o.stderr).contains(bb.as_str()),
        "{}",
        out(&o)
    );
    assert!(passed > 0);
    println!("kubearmor harden verify containers (fanotify): {passed}/{ran} passed");
}
