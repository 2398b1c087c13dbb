//! podman for the container tests: the CLI, a guard that removes the containers a test
//! started, and podman's Docker-compatible API service. Included with `#[path]` by the
//! test targets that run containers only.
// Each test target uses part of it.
#![allow(dead_code)]

use crate::common::{Agent, out};
use serde_json::Value;
use std::process::{Child, Command, Stdio};

/// Where podman's Docker-compatible API listens, and where the agent looks for it.
pub const SOCKET: &str = "/run/podman/podman.sock";

pub fn podman(args: &[&str]) -> String {
    let o = Command::new("podman").args(args).output().unwrap();
    assert!(o.status.success(), "podman {args:?}: {}", out(&o));
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Removes the containers it names when dropped, whether the test passed or not.
pub struct Containers(pub Vec<String>);

impl Containers {
    /// `podman run -d --name NAME --network none EXTRA... IMAGE CMD...`; the container's id.
    pub fn run_image(&mut self, image: &str, name: &str, extra: &[&str], cmd: &[&str]) -> String {
        self.0.push(name.to_string());
        let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
        args.extend_from_slice(extra);
        args.push(image);
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

/// podman's Docker-compatible API on its default socket (how the agent learns containers'
/// names and labels), stopped when dropped unless one was already serving there. Tests of
/// one target that use it run one at a time: one test stopping the service would end
/// another's event stream.
pub struct PodmanService(
    Option<Child>,
    #[allow(dead_code)] std::sync::MutexGuard<'static, ()>,
);

static SERVICE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl PodmanService {
    pub fn start() -> PodmanService {
        let turn = SERVICE.lock().unwrap_or_else(|p| p.into_inner());
        if std::os::unix::net::UnixStream::connect(SOCKET).is_ok() {
            return PodmanService(None, turn);
        }
        std::fs::create_dir_all("/run/podman").unwrap();
        let child = Command::new("podman")
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{SOCKET}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service");
        PodmanService(Some(child), turn)
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
            let _ = std::fs::remove_file(SOCKET);
        }
    }
}

/// What `knoxctl containers -o json` lists.
pub fn containers(agent: &Agent) -> Vec<Value> {
    let o = agent.cli(&["containers", "-o", "json"]);
    assert!(o.status.success(), "{}", out(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .cloned()
        .unwrap()
}
