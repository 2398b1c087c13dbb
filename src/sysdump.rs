//! `knoxctl sysdump`: one .tar.gz with everything a bug report needs about this host and
//! its knoxctl installation, collected whether or not the agent runs.
//!
//! Each item is collected on its own and may fail on its own (no bpftool, agent down, no
//! kernel config): the failure is recorded in `manifest.json` and the rest is still
//! written. Only failing to write the archive itself fails the command. Secrets in the
//! configuration are redacted before anything is written.

use crate::agent::api::{self, Request, Response};
use crate::agent::config::Config;
use crate::onboard::{Mode, Paths, Receipt, procs, standalone, systemd};
use regex::Regex;
use serde::Serialize;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// Lines of the agent's log in the archive.
pub const LOG_LINES: usize = 500;
/// No single item grows the archive beyond this.
const MAX_ITEM_BYTES: usize = 64 << 20;
/// External commands (bpftool, journalctl) that hang are killed after this.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(15);
const API_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SysdumpError {
    #[error("cannot write the archive {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemStatus {
    Ok,
    Failed,
    /// Does not apply here (no unit in standalone mode, no alert store yet).
    Skipped,
}

/// One line of `manifest.json`.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestEntry {
    pub name: &'static str,
    /// Path inside the archive, below its top directory.
    pub path: &'static str,
    pub status: ItemStatus,
    pub error: Option<String>,
    /// Where the content came from when there was a choice (`agent`, `state directory`).
    pub source: Option<String>,
    pub size: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub knoxctl_version: &'static str,
    pub hostname: String,
    pub created_at: String,
    pub items: Vec<ManifestEntry>,
}

/// What a collector produced.
enum Got {
    Data(Vec<u8>),
    From(Vec<u8>, String),
    Skip(String),
    Fail(String),
}

impl From<Result<Vec<u8>, String>> for Got {
    fn from(r: Result<Vec<u8>, String>) -> Got {
        match r {
            Ok(d) => Got::Data(d),
            Err(e) => Got::Fail(e),
        }
    }
}

/// The installation being dumped, as far as it can be known.
struct Ctx {
    paths: Paths,
    socket: PathBuf,
    state_dir: PathBuf,
    bpf_pin: PathBuf,
    mode: Mode,
    status: Result<api::Status, String>,
    agent_pids: Vec<i32>,
    alerts: usize,
}

/// Which agent to report on when it is not the onboarded one (`--socket`, `--state-dir`).
#[derive(Clone, Debug, Default)]
pub struct Target {
    pub socket: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

impl Ctx {
    fn new(paths: Paths, target: &Target, alerts: usize) -> Ctx {
        // The configuration says where the socket and the state are, if there is one that
        // parses; without one, the installation's own paths (under KNOXCTL_ROOT, if set),
        // never the defaults of the real host.
        let config = Config::load(&paths.config, true).ok();
        let socket = target.socket.clone().unwrap_or_else(|| {
            config
                .as_ref()
                .map_or(paths.socket.clone(), |c| c.socket.clone())
        });
        let state_dir = target.state_dir.clone().unwrap_or_else(|| {
            config
                .as_ref()
                .map_or(paths.state_dir.clone(), |c| c.state_dir.clone())
        });
        let bpf_pin = config
            .as_ref()
            .map_or(paths.bpf_pin.clone(), |c| c.bpf_pin_dir.clone());
        let mode = Receipt::load(&paths).map(|r| r.mode).unwrap_or(
            if paths.unit.exists() && systemd::is_pid1() {
                Mode::Systemd
            } else {
                Mode::Standalone
            },
        );
        let status = match api::call(&socket, &Request::Status, API_TIMEOUT) {
            Ok(Response::Status { status }) => Ok(status),
            Ok(other) => Err(format!("unexpected answer: {other:?}")),
            Err(e) => Err(e.to_string()),
        };
        let mut agent_pids: Vec<i32> = procs::agents_of(&paths).iter().map(|p| p.pid).collect();
        agent_pids.extend(standalone::running_pid(&paths));
        if let Ok(s) = &status {
            agent_pids.push(s.pid as i32);
        }
        agent_pids.sort_unstable();
        agent_pids.dedup();
        Ctx {
            paths,
            socket,
            state_dir,
            bpf_pin,
            mode,
            status,
            agent_pids,
            alerts,
        }
    }
}

type Collector = fn(&Ctx) -> Got;

/// Every item, in archive order (after manifest.json).
const ITEMS: &[(&str, &str, Collector)] = &[
    ("version", "version.txt", version),
    ("probe report", "probe.json", probe),
    ("uname", "host/uname.txt", uname),
    ("os-release", "host/os-release", |_| {
        read_file("/etc/os-release")
    }),
    ("kernel command line", "host/cmdline", |_| {
        read_file("/proc/cmdline")
    }),
    ("active LSMs", "host/lsm", |_| {
        read_file("/sys/kernel/security/lsm")
    }),
    ("lockdown", "host/lockdown", |_| {
        read_file("/sys/kernel/security/lockdown")
    }),
    ("BTF", "host/btf.txt", btf),
    ("kernel config", "host/kernel-config.txt", kernel_config),
    ("configuration (redacted)", "config/config.yaml", config),
    ("onboarding receipt", "config/onboard.json", receipt),
    ("systemd unit", "config/knoxctl.service", unit),
    ("agent status", "agent/status.json", status),
    ("agent log", "agent/log.txt", log),
    ("supervisor record", "agent/supervisor.json", supervisor),
    ("knoxctl processes", "agent/processes.json", processes),
    ("applied policies", "policies/policies.json", policies),
    ("containers", "policies/containers.json", containers),
    ("BPF pins", "enforcer/bpf-pins.txt", bpf_pins),
    ("BPF programs", "enforcer/bpftool-prog.json", |c| {
        bpftool(c, "prog")
    }),
    ("BPF links", "enforcer/bpftool-link.json", |c| {
        bpftool(c, "link")
    }),
    ("BPF maps", "enforcer/bpftool-map.json", |c| {
        bpftool(c, "map")
    }),
    (
        "AppArmor profiles",
        "enforcer/apparmor-profiles.txt",
        apparmor,
    ),
    ("fanotify marks", "enforcer/fanotify.txt", fanotify),
    ("alerts", "alerts/alerts.jsonl", alerts),
];

/// Items `collect` reports on, for a progress bar.
pub fn item_count() -> u64 {
    ITEMS.len() as u64
}

/// `knoxctl-sysdump-<hostname>-<UTC time>.tar.gz`.
pub fn default_file_name() -> String {
    let t = crate::onboard::timestamp().replace(['-', ':'], "");
    format!("knoxctl-sysdump-{}-{t}.tar.gz", crate::identity::hostname())
}

/// What `write` produced.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub manifest: Manifest,
}

/// Collects every item and writes the archive to `output` (through a temporary file, so
/// that a failed run leaves no partial archive behind).
pub fn write(
    paths: &Paths,
    target: &Target,
    alerts: usize,
    output: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<Written, SysdumpError> {
    let ctx = Ctx::new(paths.clone(), target, alerts);
    let mut manifest = Manifest {
        knoxctl_version: env!("CARGO_PKG_VERSION"),
        hostname: crate::identity::hostname(),
        created_at: crate::onboard::timestamp(),
        items: Vec::new(),
    };
    let mut contents: Vec<(&'static str, Vec<u8>)> = Vec::new();
    for (name, path, collect) in ITEMS {
        progress(name);
        // A collector that panics is one failed item, not a failed sysdump.
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| collect(&ctx)))
            .unwrap_or_else(|_| Got::Fail("internal error: the collector panicked".into()));
        let (status, error, source, data) = match got {
            Got::Data(d) => (ItemStatus::Ok, None, None, Some(d)),
            Got::From(d, s) => (ItemStatus::Ok, None, Some(s), Some(d)),
            Got::Skip(why) => (ItemStatus::Skipped, Some(why), None, None),
            Got::Fail(e) => (ItemStatus::Failed, Some(e), None, None),
        };
        let data = data.map(|mut d| {
            if d.len() > MAX_ITEM_BYTES {
                d.truncate(MAX_ITEM_BYTES);
                d.extend_from_slice(b"\n[truncated by knoxctl sysdump]\n");
            }
            d
        });
        manifest.items.push(ManifestEntry {
            name,
            path,
            status,
            error,
            source,
            size: data.as_ref().map_or(0, |d| d.len() as u64),
        });
        if let Some(d) = data {
            contents.push((path, d));
        }
    }
    let top = output
        .file_name()
        .map(|n| {
            n.to_string_lossy()
                .trim_end_matches(".tar.gz")
                .trim_end_matches(".tgz")
                .to_string()
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "knoxctl-sysdump".into());
    let bytes = write_archive(output, &top, &manifest, &contents)?;
    Ok(Written {
        path: output.to_path_buf(),
        bytes,
        manifest,
    })
}

fn write_archive(
    output: &Path,
    top: &str,
    manifest: &Manifest,
    contents: &[(&str, Vec<u8>)],
) -> Result<u64, SysdumpError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| SysdumpError::Write {
        path: output.to_path_buf(),
        source,
    };
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp.{}",
        output.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        // Logs, policies and alerts are for the administrator, not every local user.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mtime = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut add = |path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o600);
            h.set_mtime(mtime);
            tar.append_data(&mut h, format!("{top}/{path}"), data)
        };
        let mut m = serde_json::to_vec_pretty(manifest).expect("manifest serializes");
        m.push(b'\n');
        add("manifest.json", &m)?;
        for (path, data) in contents {
            add(path, data)?;
        }
        let gz = tar.into_inner()?;
        let file = gz.finish()?;
        file.sync_all()?;
        let len = file.metadata()?.len();
        std::fs::rename(&tmp, output)?;
        Ok(len)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

// ---- collectors ----

fn read_file(path: &str) -> Got {
    std::fs::read(path)
        .map_err(|e| format!("{path}: {e}"))
        .into()
}

fn json(v: &impl Serialize) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).expect("serializes");
    b.push(b'\n');
    b
}

fn version(_: &Ctx) -> Got {
    Got::Data(
        format!(
            "knoxctl {} (policies: security.kubearmor.com/v1)\nhost {}\ncollected {}\n",
            env!("CARGO_PKG_VERSION"),
            crate::identity::hostname(),
            crate::onboard::timestamp()
        )
        .into_bytes(),
    )
}

fn probe(_: &Ctx) -> Got {
    Got::Data(json(&crate::agent::probe::probe_report()))
}

fn uname(_: &Ctx) -> Got {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: uname fills the struct we own with NUL-terminated fields.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Got::Fail(std::io::Error::last_os_error().to_string());
    }
    let field = |f: &[libc::c_char]| {
        let b: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&b).into_owned()
    };
    Got::Data(
        format!(
            "{} {} {} {} {}\n",
            field(&u.sysname),
            field(&u.nodename),
            field(&u.release),
            field(&u.version),
            field(&u.machine)
        )
        .into_bytes(),
    )
}

fn btf(_: &Ctx) -> Got {
    let path = "/sys/kernel/btf/vmlinux";
    Got::Data(
        match std::fs::metadata(path) {
            Ok(m) => format!("{path}: present ({} bytes)\n", m.len()),
            Err(e) => {
                format!("{path}: absent ({e}): CO-RE BPF programs (monitor, BPF-LSM) cannot load\n")
            }
        }
        .into_bytes(),
    )
}

static KCONFIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(# )?CONFIG_[A-Z0-9_]*(BPF|LSM|FANOTIFY|APPARMOR|BTF|SECURITY)[A-Z0-9_]*[= ]")
        .expect("valid regex")
});

fn kernel_config(_: &Ctx) -> Got {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let boot = format!("/boot/config-{}", release.trim());
    let (from, text) = if let Ok(f) = std::fs::File::open("/proc/config.gz") {
        let mut s = String::new();
        if let Err(e) = flate2::read::GzDecoder::new(f).read_to_string(&mut s) {
            return Got::Fail(format!("/proc/config.gz: {e}"));
        }
        ("/proc/config.gz".to_string(), s)
    } else {
        match std::fs::read_to_string(&boot) {
            Ok(s) => (boot, s),
            Err(e) => {
                return Got::Fail(format!(
                    "neither /proc/config.gz nor {boot} is readable ({e})"
                ));
            }
        }
    };
    let mut out = format!("# BPF, LSM and fanotify options from {from}\n");
    for l in text.lines().filter(|l| KCONFIG.is_match(l)) {
        out.push_str(l);
        out.push('\n');
    }
    Got::Data(out.into_bytes())
}

fn config(c: &Ctx) -> Got {
    match std::fs::read(&c.paths.config) {
        Ok(b) => Got::Data(redact_yaml(&String::from_utf8_lossy(&b)).into_bytes()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Got::Skip(format!(
            "{} does not exist (not onboarded: the agent uses its defaults)",
            c.paths.config.display()
        )),
        Err(e) => Got::Fail(format!("{}: {e}", c.paths.config.display())),
    }
}

fn receipt(c: &Ctx) -> Got {
    match std::fs::read(&c.paths.receipt) {
        Ok(b) => Got::Data(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Got::Skip(format!(
            "{} does not exist: not onboarded with `knoxctl onboard vm`",
            c.paths.receipt.display()
        )),
        Err(e) => Got::Fail(format!("{}: {e}", c.paths.receipt.display())),
    }
}

fn unit(c: &Ctx) -> Got {
    match std::fs::read(&c.paths.unit) {
        Ok(b) => Got::Data(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && c.mode == Mode::Standalone => {
            Got::Skip(format!(
                "no {}: the agent runs in standalone mode",
                c.paths.unit.display()
            ))
        }
        Err(e) => Got::Fail(format!("{}: {e}", c.paths.unit.display())),
    }
}

fn status(c: &Ctx) -> Got {
    match &c.status {
        Ok(s) => Got::Data(json(s)),
        Err(e) => Got::Fail(format!("the agent does not answer: {e}")),
    }
}

fn log(c: &Ctx) -> Got {
    match c.mode {
        Mode::Systemd => {
            let n = LOG_LINES.to_string();
            match run(
                "journalctl",
                &[
                    "-u",
                    systemd::UNIT_NAME,
                    "-n",
                    &n,
                    "--no-pager",
                    "-o",
                    "short-iso",
                ],
            ) {
                Ok(b) => Got::From(b, "journalctl".into()),
                Err(e) => Got::Fail(e),
            }
        }
        Mode::Standalone => match crate::onboard::tail_lines(&c.paths.log, LOG_LINES) {
            Ok(s) => Got::From(s.into_bytes(), c.paths.log.display().to_string()),
            Err(e) => Got::Fail(format!("{}: {e}", c.paths.log.display())),
        },
    }
}

/// Standalone mode's supervisor: how often it restarted the agent and why the last one
/// ended. Read even when the supervisor is gone (then it says so).
fn supervisor(c: &Ctx) -> Got {
    let path = crate::onboard::supervisor::record_path(&c.socket);
    match std::fs::read(&path) {
        Ok(b) => {
            let running = serde_json::from_slice::<crate::onboard::supervisor::Record>(&b)
                .is_ok_and(|r| procs::is_running(r.supervisor_pid as i32));
            let from = if running {
                path.display().to_string()
            } else {
                format!("{} (that supervisor is no longer running)", path.display())
            };
            Got::From(b, from)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Got::Skip(format!(
            "no {}: the agent is not supervised (systemd mode, or not onboarded)",
            path.display()
        )),
        Err(e) => Got::Fail(format!("{}: {e}", path.display())),
    }
}

fn processes(_: &Ctx) -> Got {
    Got::Data(json(&procs::knoxctl_processes()))
}

fn policies(c: &Ctx) -> Got {
    if c.status.is_ok() {
        match policies_from_agent(&c.socket) {
            Ok(v) => return Got::From(json(&v), "agent".into()),
            Err(e) => {
                // Fall through to the state directory, saying why.
                let state = c.state_dir.join("policies.json");
                return match std::fs::read(&state) {
                    Ok(b) => Got::From(b, format!("state directory (the agent failed: {e})")),
                    Err(e2) => Got::Fail(format!("agent: {e}; {}: {e2}", state.display())),
                };
            }
        }
    }
    let state = c.state_dir.join("policies.json");
    match std::fs::read(&state) {
        Ok(b) => Got::From(b, "state directory (the agent is not running)".into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Got::Skip(format!(
            "the agent is not running and {} does not exist: no policy was ever applied",
            state.display()
        )),
        Err(e) => Got::Fail(format!("{}: {e}", state.display())),
    }
}

/// The containers the agent knows, the policies that select each and how they are
/// enforced there.
fn containers(c: &Ctx) -> Got {
    if c.status.is_err() {
        return Got::Skip("the agent is not running: it alone knows the containers".into());
    }
    match api::call(&c.socket, &Request::Containers, API_TIMEOUT) {
        Ok(Response::Containers { items }) => Got::From(json(&items), "agent".into()),
        Ok(other) => Got::Fail(format!("unexpected answer: {other:?}")),
        Err(e) => Got::Fail(e.to_string()),
    }
}

fn policies_from_agent(socket: &Path) -> Result<Vec<serde_json::Value>, String> {
    let items = match api::call(socket, &Request::List, API_TIMEOUT) {
        Ok(Response::Policies { items }) => items,
        Ok(other) => return Err(format!("unexpected answer: {other:?}")),
        Err(e) => return Err(e.to_string()),
    };
    let mut out = Vec::new();
    for item in items {
        let policy = match api::call(
            socket,
            &Request::Get {
                name: item.name.clone(),
            },
            API_TIMEOUT,
        ) {
            Ok(Response::Policy { policy }) => policy,
            Ok(other) => serde_json::json!({ "error": format!("{other:?}") }),
            Err(e) => serde_json::json!({ "error": e.to_string() }),
        };
        out.push(serde_json::json!({ "summary": item, "policy": policy }));
    }
    Ok(out)
}

fn bpf_pins(c: &Ctx) -> Got {
    let root = &c.bpf_pin;
    if !root.exists() {
        return Got::Data(
            format!(
                "{} does not exist: no BPF object is pinned by knoxctl\n",
                root.display()
            )
            .into_bytes(),
        );
    }
    let mut out = String::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            out.push_str(&format!("{}: unreadable\n", dir.display()));
            continue;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let kind = match e.file_type() {
                Ok(t) if t.is_dir() => {
                    stack.push(p.clone());
                    "dir"
                }
                Ok(_) => "object",
                Err(_) => "?",
            };
            out.push_str(&format!("{kind}\t{}\n", p.display()));
        }
    }
    Got::Data(out.into_bytes())
}

/// `bpftool -j -f <what> show`, reduced to the objects our agents hold open (their
/// fdinfo names the ids) or that are pinned under our pin directory.
fn bpftool(c: &Ctx, what: &str) -> Got {
    let raw = match run("bpftool", &["-j", "-f", what, "show"]) {
        Ok(b) => b,
        Err(e) => return Got::Fail(e),
    };
    let all: Vec<serde_json::Value> = match serde_json::from_slice(&raw) {
        Ok(serde_json::Value::Array(a)) => a,
        Ok(_) => Vec::new(),
        Err(e) => return Got::Fail(format!("bpftool printed something other than JSON: {e}")),
    };
    let held: Vec<u64> = c
        .agent_pids
        .iter()
        .flat_map(|&pid| {
            let ids = procs::bpf_ids(pid);
            match what {
                "prog" => ids.progs,
                "map" => ids.maps,
                _ => ids.links,
            }
        })
        .collect();
    let pin_root = c.bpf_pin.to_string_lossy().to_string();
    let ours: Vec<&serde_json::Value> = all
        .iter()
        .filter(|o| {
            let by_id = o["id"].as_u64().is_some_and(|id| held.contains(&id));
            let by_pin = o["pinned"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p.as_str().is_some_and(|s| s.starts_with(&pin_root)))
            });
            by_id || by_pin
        })
        .collect();
    Got::Data(json(&serde_json::json!({
        "agentPids": c.agent_pids,
        "totalOnHost": all.len(),
        "knoxctl": ours,
    })))
}

fn apparmor(c: &Ctx) -> Got {
    let profiles = c.paths.apparmor.join("profiles");
    match std::fs::read_to_string(&profiles) {
        Ok(text) => {
            let total = text.lines().count();
            let ours: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(crate::onboard::offboard::APPARMOR_PREFIX))
                .collect();
            let mut out = format!(
                "# {} of {total} loaded profiles are knoxctl's\n",
                ours.len()
            );
            for l in ours {
                out.push_str(l);
                out.push('\n');
            }
            Got::Data(out.into_bytes())
        }
        Err(_) if !c.paths.apparmor.exists() => Got::Skip(format!(
            "AppArmor is not active ({} does not exist)",
            c.paths.apparmor.display()
        )),
        Err(e) => Got::Fail(format!("{}: {e}", profiles.display())),
    }
}

fn fanotify(c: &Ctx) -> Got {
    if c.agent_pids.is_empty() {
        return Got::Skip("no agent is running: no fanotify group is held".into());
    }
    let mut out = String::new();
    for &pid in &c.agent_pids {
        let groups = procs::fanotify_fdinfo(pid);
        out.push_str(&format!(
            "# agent pid {pid}: {} fanotify group(s)\n",
            groups.len()
        ));
        for (fd, info) in groups {
            out.push_str(&format!("## /proc/{pid}/fdinfo/{fd}\n{info}"));
            if !info.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    Got::Data(out.into_bytes())
}

fn alerts(c: &Ctx) -> Got {
    use crate::alert::store::{Query, Store, StoreError};
    if c.alerts == 0 {
        return Got::Skip("--alerts 0".into());
    }
    let store = match Store::open_readonly(&c.state_dir) {
        Ok(s) => s,
        Err(StoreError::Missing { path }) => {
            return Got::Skip(format!(
                "no alert store at {}: no alert recorded yet",
                path.display()
            ));
        }
        Err(e) => return Got::Fail(e.to_string()),
    };
    let mut out = Vec::new();
    let q = Query {
        limit: Some(c.alerts),
        ..Query::default()
    };
    match store.query_each(&q, |_, a| {
        serde_json::to_writer(&mut out, a).map_err(|e| StoreError::Unreadable {
            path: PathBuf::new(),
            source: std::io::Error::other(e),
        })?;
        out.push(b'\n');
        Ok::<_, StoreError>(())
    }) {
        Ok(()) => Got::Data(out),
        Err(e) => Got::Fail(e.to_string()),
    }
}

/// Runs a command with a timeout; its stdout, or an error that says what went wrong.
fn run(cmd: &str, args: &[&str]) -> Result<Vec<u8>, String> {
    let shown = format!("{cmd} {}", args.join(" "));
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{cmd} is not installed (Debian: apt install {cmd})")
            }
            _ => format!("{shown}: {e}"),
        })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stdout.read_to_end(&mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = stderr.read_to_end(&mut b);
        b
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed() > COMMAND_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{shown}: no answer within {} s",
                    COMMAND_TIMEOUT.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{shown}: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "{shown}: {status}: {}",
            String::from_utf8_lossy(&err).trim()
        ));
    }
    Ok(out)
}

// ---- redaction ----

static SECRET_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)token|secret|password|key").expect("valid regex"));

pub const REDACTED: &str = "<redacted>";

/// Replaces the value of every key that names a secret (token, secret, password, key, in
/// any case, anywhere in the key) with `<redacted>`, at any depth. Text that does not parse
/// as YAML is redacted line by line, more bluntly: a line that mentions a secret-like word
/// loses its value, and so does the block indented below it.
pub fn redact_yaml(text: &str) -> String {
    match crate::yaml::load_str(text) {
        Ok(docs) => {
            let mut out = String::new();
            for (i, d) in docs.iter().enumerate() {
                if i > 0 {
                    out.push_str("---\n");
                }
                let mut v = d.root.to_json();
                redact_json(&mut v);
                out.push_str(&crate::yaml::to_yaml(&v));
            }
            out
        }
        Err(_) => redact_lines(text),
    }
}

/// A value that only names an environment variable (`${NAME}`) shows no secret, and says
/// where the secret comes from, which is what a reader of a sysdump needs.
static ENV_REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\$\{[A-Za-z_][A-Za-z0-9_]*\}$").expect("valid regex"));

fn redact_json(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_KEY.is_match(k) {
                    *val = serde_json::Value::String(REDACTED.into());
                } else if k.eq_ignore_ascii_case("headers") {
                    // Header names say nothing about secrecy (`Authorization`, `X-Api`,
                    // `Cookie`): every literal value goes.
                    redact_header_values(val);
                } else {
                    redact_json(val);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::String(s) if s.contains('@') => {
            *s = crate::redact::url_credentials(s);
        }
        _ => {}
    }
}

fn redact_header_values(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_header_values),
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_header_values),
        serde_json::Value::String(s) if ENV_REFERENCE.is_match(s.trim()) => {}
        other => *other = serde_json::Value::String(REDACTED.into()),
    }
}

fn redact_lines(text: &str) -> String {
    let mut out = String::from("# not valid YAML; redacted line by line\n");
    let mut block: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(b) = block {
            let item = indent == b && line.trim_start().starts_with("- ");
            if line.trim().is_empty() || indent > b || item {
                continue;
            }
            block = None;
        }
        let headers = line
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("headers:");
        if SECRET_KEY.is_match(line) || headers {
            match line.split_once(':') {
                Some((key, _)) if SECRET_KEY.is_match(key) || headers => {
                    out.push_str(&format!("{key}: {REDACTED}\n"))
                }
                _ => out.push_str(&format!("{}# {REDACTED} line\n", &line[..indent])),
            }
            block = Some(indent);
        } else {
            out.push_str(&crate::redact::url_credentials(line));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_keys_at_any_depth() {
        let text = "clusterName: lab\napiToken: abc123\nlabels:\n  env: prod\n  dbPassword: hunter2\nnested:\n  - sshKey: {a: 1}\n    name: x\n";
        let r = redact_yaml(text);
        assert!(
            !r.contains("abc123") && !r.contains("hunter2") && !r.contains("a: 1"),
            "{r}"
        );
        assert!(r.contains("apiToken: <redacted>"), "{r}");
        assert!(r.contains("dbPassword: <redacted>"), "{r}");
        assert!(
            r.contains("clusterName: lab") && r.contains("env: prod") && r.contains("name: x"),
            "{r}"
        );
    }

    #[test]
    fn redacts_forwarder_header_values_and_url_credentials() {
        let text = "forwarders:\n  - kind: webhook\n    address: https://alice:pw123@siem.example/in\n    headers:\n      Authorization: Bearer abc123\n      X-Tenant: ${TENANT}\n      Cookie: [s1, s2]\n";
        let r = redact_yaml(text);
        assert!(
            !r.contains("abc123")
                && !r.contains("pw123")
                && !r.contains("alice")
                && !r.contains("s1"),
            "{r}"
        );
        assert!(r.contains("https://***@siem.example/in"), "{r}");
        assert!(r.contains("Authorization: <redacted>"), "{r}");
        assert!(r.contains("X-Tenant: ${TENANT}"), "{r}");
    }

    #[test]
    fn redacts_unparseable_text_by_line() {
        let text = "clusterName: lab\ntoken: |\n  s3cr3t\n  more\nx: [unclosed\nSECRET=abc\nheaders:\n  Authorization: Bearer zz9\nurl: http://u:p4ss@h/\n";
        let r = redact_yaml(text);
        assert!(
            !r.contains("s3cr3t")
                && !r.contains("more")
                && !r.contains("abc")
                && !r.contains("zz9")
                && !r.contains("p4ss"),
            "{r}"
        );
        assert!(
            r.contains("clusterName: lab") && r.contains("x: [unclosed"),
            "{r}"
        );
    }

    #[test]
    fn default_name_has_host_and_utc_time() {
        let n = default_file_name();
        assert!(
            n.starts_with(&format!("knoxctl-sysdump-{}-", crate::identity::hostname())),
            "{n}"
        );
        assert!(n.ends_with("Z.tar.gz") && !n.contains(':'), "{n}");
    }
}
