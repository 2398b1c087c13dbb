//! Shared harness for tests that run a real agent: each test runs its own agent as a
//! child process with its own state directory and socket, and kills it in a guard even
//! when the test fails, so nothing it enforces outlives the test.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Whether the test can run: `ok` says whether a prerequisite (root, a tool, a file) is
/// there. Under scripts/test.sh (`KNOXCTL_TEST_STRICT=1`, as in CI) a missing one fails the
/// test, because the script installs everything the suite needs and a skip would hide a
/// missing install step. Elsewhere (a quick run by hand, without root) the test is skipped
/// with a loud line.
pub fn prerequisite(ok: bool, what: &str) -> bool {
    if ok {
        return true;
    }
    if std::env::var_os("KNOXCTL_TEST_STRICT").is_some_and(|v| v == "1") {
        panic!(
            "missing prerequisite: {what} (scripts/test.sh should have installed it; KNOXCTL_TEST_STRICT=1 makes this a failure)"
        );
    }
    eprintln!("*** SKIPPED: {what} ***");
    false
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_knoxctl"));
    c.env("NO_COLOR", "1")
        .env_remove("KNOXCTL_SOCKET")
        .env_remove("KNOXCTL_STATE_DIR");
    c
}

pub struct Agent {
    pub dir: PathBuf,
    pub socket: PathBuf,
    pub state: PathBuf,
    child: Option<Child>,
    enforcer: String,
}

impl Agent {
    pub fn start(tag: &str, enforcer: &str) -> Agent {
        let mut a = Agent::new(tag, enforcer);
        a.spawn();
        a
    }

    /// An agent's directories and configuration, not started yet (for tests that prepare
    /// its state directory first); `spawn` starts it.
    pub fn new(tag: &str, enforcer: &str) -> Agent {
        let dir = std::env::temp_dir().join(format!("knoxctl-agent-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("config.yaml"), "clusterName: test\n").unwrap();
        Agent {
            socket: dir.join("agent.sock"),
            state: dir.join("state"),
            dir,
            child: None,
            enforcer: enforcer.to_string(),
        }
    }

    pub fn spawn(&mut self) {
        let log = std::fs::File::create(self.dir.join("agent.log")).unwrap();
        let child = bin()
            .args(["agent", "--config"])
            .arg(self.dir.join("config.yaml"))
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--socket")
            .arg(&self.socket)
            .args(["--enforcer", &self.enforcer])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start agent");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("agent exited with {status}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent did not listen within 20 s: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait: the clean shutdown path.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if c.try_wait().unwrap().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        bin()
            .args(args)
            .env("KNOXCTL_SOCKET", &self.socket)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, content).unwrap();
        p
    }

    /// `NAME.yaml`: a KubeArmorHostPolicy selecting this host, with `spec` (spec lines
    /// indented two spaces, ending in a newline) and the action `action`.
    pub fn host_policy(&self, name: &str, spec: &str, action: &str) -> PathBuf {
        let host = knoxctl::identity::hostname();
        self.write(
            &format!("{name}.yaml"),
            &format!(
                "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: {name}\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: {host}\n{spec}  action: {action}\n"
            ),
        )
    }

    /// `policy apply -f POLICY`, which must succeed; its stdout.
    #[track_caller]
    pub fn apply_ok(&self, policy: &Path) -> String {
        let o = self.cli(&["policy", "apply", "-f", policy.to_str().unwrap()]);
        assert!(o.status.success(), "{}", out(&o));
        stdout(&o)
    }

    /// The alerts matching every filter once `want` of them are in (or 10 s passed), which
    /// must be exactly `want`: one more is as wrong as one fewer.
    #[track_caller]
    pub fn exact_alerts(&self, filters: &[&str], want: usize) -> Vec<serde_json::Value> {
        let got = self.wait_alerts(filters, want);
        assert_eq!(
            got.len(),
            want,
            "alerts matching {filters:?}: {got:#?}\nagent log:\n{}",
            self.log()
        );
        got
    }

    /// The stored alerts matching every `--filter`, oldest first.
    pub fn alerts(&self, filters: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec![
            "alerts".to_string(),
            "-o".into(),
            "json".into(),
            "--state-dir".into(),
        ];
        args.push(self.state.display().to_string());
        for f in filters {
            args.push("--filter".into());
            args.push(f.to_string());
        }
        let o = bin().args(&args).output().unwrap();
        assert!(o.status.success(), "{}", out(&o));
        stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    }

    /// Alerts are written in batches: waits (up to 10 s) until `want` of them match.
    pub fn wait_alerts(&self, filters: &[&str], want: usize) -> Vec<serde_json::Value> {
        let start = Instant::now();
        loop {
            let got = self.alerts(filters);
            if got.len() >= want || start.elapsed() > Duration::from_secs(10) {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Exit status, stdout and stderr checked together, as users meet them: a right answer on
/// stdout with a stray warning, or the right message with the wrong status, fails.
#[track_caller]
pub fn assert_output(o: &Output, code: i32, stdout_is: &str, stderr_is: &str) {
    assert_eq!(
        (o.status.code(), stdout(o).as_str(), stderr(o).as_str()),
        (Some(code), stdout_is, stderr_is)
    );
}

pub fn out(o: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/policies")
        .join(name)
        .display()
        .to_string()
}

/// KubeArmor's corpus (../shared/conformance, or $KNOXCTL_CONFORMANCE_DIR): read as test
/// input, never copied; None, said loudly, when it is absent.
pub fn conformance_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KNOXCTL_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "\n*** SKIPPED: conformance corpus not found at {} (set KNOXCTL_CONFORMANCE_DIR) ***\n",
            dir.display()
        );
        None
    }
}

/// BPF links this process holds (each attached program is one).
pub fn bpf_links() -> usize {
    std::fs::read_dir("/proc/self/fdinfo")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter(|info| info.contains("link_type:"))
        .count()
}
