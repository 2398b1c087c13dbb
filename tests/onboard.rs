//! Issue #5's promises, proven on this machine as root: `onboard vm` installs a working
//! agent on the real default paths, the kernel then denies what a policy blocks, `offboard vm
//! --purge` leaves the host exactly as it was (checked by reading /proc, bpffs and the file
//! system, not by trusting the command), a second onboarding changes nothing, `--dry-run`
//! changes nothing, the terminal prompt really stops everything when answered "n", the
//! systemd unit passes `systemd-analyze verify`, the agent speaks sd_notify, and sysdump
//! collects every item with or without the agent.
//!
//! The tests run one at a time (they start agents and one of them uses the real paths).
//! Each cleans up in a guard, even when it fails. An installation already on this host
//! (README's setup command onboards one) is stopped and moved aside for the real-path test
//! and restored afterwards.

mod common;

use common::{bin, out, stderr, stdout};
use knoxctl::onboard::{Paths, Receipt, procs};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn run(args: &[&str], root: Option<&Path>) -> Output {
    let mut c = bin();
    c.args(args).stdin(Stdio::null()).env_remove("KNOXCTL_ROOT");
    if let Some(r) = root {
        c.env("KNOXCTL_ROOT", r);
    }
    c.output().expect("run knoxctl")
}

fn ok(args: &[&str], root: Option<&Path>) -> String {
    let o = run(args, root);
    assert!(o.status.success(), "knoxctl {args:?} failed:\n{}", out(&o));
    stdout(&o)
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("knoxctl-onboard-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A prefixed installation, offboarded and deleted when the test ends.
struct Prefixed {
    dir: PathBuf,
    root: PathBuf,
    paths: Paths,
}

impl Prefixed {
    fn new(tag: &str) -> Prefixed {
        let dir = scratch(tag);
        let root = dir.join("root");
        Prefixed {
            paths: Paths::under(&root),
            root,
            dir,
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        ok(args, Some(&self.root))
    }

    fn pid(&self) -> i32 {
        std::fs::read_to_string(&self.paths.pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Prefixed {
    fn drop(&mut self) {
        let _ = run(&["offboard", "vm", "--purge", "--yes"], Some(&self.root));
        for p in procs::agents_of(&self.paths) {
            procs::terminate(p.pid, Duration::from_secs(5));
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---- what "nothing changed" and "nothing left" mean, measured ----

/// Every file under the directories onboarding touches, with its type, mode and content
/// hash. The alert store's files are compared by presence only: SQLite's checkpointer may
/// rewrite them at any moment while an agent runs.
fn snapshot(paths: &Paths) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let roots = [
        paths.config_dir.clone(),
        paths.state_dir.clone(),
        paths.run_dir.clone(),
        paths.log_dir.clone(),
        paths.bin.parent().unwrap().to_path_buf(),
        paths.unit.parent().unwrap().to_path_buf(),
        paths.bpf_pin.clone(),
        paths.man_dir.clone(),
        paths.bash_completion.clone(),
        paths.zsh_completion.clone(),
        paths.fish_completion.clone(),
    ];
    for root in roots {
        let mut stack = vec![root.clone()];
        if root.symlink_metadata().is_err() {
            out.insert(root.display().to_string(), "absent".into());
            continue;
        }
        while let Some(p) = stack.pop() {
            let Ok(meta) = p.symlink_metadata() else {
                continue;
            };
            use std::os::unix::fs::MetadataExt;
            let name = p.display().to_string();
            let desc = if meta.is_dir() {
                for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                    stack.push(e.path());
                }
                format!("dir {:o}", meta.mode())
            } else if meta.is_file() && !name.contains("alerts.db") {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::fs::read(&p).unwrap_or_default().hash(&mut h);
                format!("file {:o} {} {:x}", meta.mode(), meta.len(), h.finish())
            } else {
                format!("{:?} {:o}", meta.file_type(), meta.mode())
            };
            out.insert(name, desc);
        }
    }
    out
}

fn diff(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> Vec<String> {
    let mut d = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => d.push(format!("- {k} ({v})")),
            Some(w) if w != v => d.push(format!("~ {k}: {v} -> {w}")),
            _ => {}
        }
    }
    for k in b.keys().filter(|k| !a.contains_key(*k)) {
        d.push(format!("+ {k} ({})", b[k]));
    }
    d
}

/// Processes of this installation still alive, and fanotify groups any of them holds,
/// read straight from /proc (independently of knoxctl's own `procs` module).
fn leftover_processes(paths: &Paths) -> Vec<String> {
    let bin = paths.bin.display().to_string();
    let config = paths.config.display().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "knoxctl" {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(") ")
            .map(|(_, r)| r.chars().next().unwrap_or('?'))
            .unwrap_or('?');
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let ours = exe.trim_end_matches(" (deleted)") == bin || cmdline.contains(&config);
        if !ours {
            continue;
        }
        // A zombie has exited: it holds no file, mark or program any more.
        let live_threads = std::fs::read_dir(format!("/proc/{pid}/task"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|t| {
                let s = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
                !matches!(
                    s.rsplit_once(") ").and_then(|(_, r)| r.chars().next()),
                    Some('Z' | 'X') | None
                )
            })
            .count();
        if live_threads > 0 {
            found.push(format!("pid {pid} ({state}) still runs: {cmdline}"));
        }
        for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if std::fs::read_link(fd.path()).is_ok_and(|t| t.to_string_lossy().contains("fanotify"))
            {
                let info = std::fs::read_to_string(format!(
                    "/proc/{pid}/fdinfo/{}",
                    fd.file_name().to_string_lossy()
                ))
                .unwrap_or_default();
                found.push(format!("pid {pid} holds a fanotify group:\n{info}"));
            }
        }
    }
    found
}

fn exec_errno(path: &str) -> Option<i32> {
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

/// The AccuKnox example with its nodeSelector pointed at this host, as its page says.
fn pkg_policy(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(common::example("accuknox-block-pkg-mgmt-tools.yaml"))
        .unwrap()
        .replace(
            "kubearmor.io/hostname: ubuntu-2gb-hel1-1",
            &format!("kubearmor.io/hostname: {}", knoxctl::identity::hostname()),
        );
    let p = dir.join("block-pkg-mgmt-tools.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

// ---- the real default paths ----

/// An installation found on the host before the test: stopped and moved aside, then put
/// back and started again with the flags it was onboarded with.
struct Preserved {
    aside: PathBuf,
    moved: Vec<(PathBuf, PathBuf)>,
    onboard_args: Option<Vec<String>>,
}

fn move_path(from: &Path, to: &Path) {
    if std::fs::rename(from, to).is_err() {
        let st = Command::new("mv").arg(from).arg(to).status().unwrap();
        assert!(st.success(), "mv {} {}", from.display(), to.display());
    }
}

impl Preserved {
    fn take(paths: &Paths) -> Preserved {
        let aside = PathBuf::from(format!("/var/tmp/knoxctl-e2e-saved-{}", std::process::id()));
        let mut p = Preserved {
            aside: aside.clone(),
            moved: Vec::new(),
            onboard_args: None,
        };
        let mut candidates = vec![
            paths.config_dir.clone(),
            paths.state_dir.clone(),
            paths.log_dir.clone(),
            paths.bin.clone(),
            paths.unit.clone(),
            paths.bash_completion.clone(),
            paths.zsh_completion.clone(),
            paths.fish_completion.clone(),
        ];
        candidates.extend(paths.man_pages());
        let mut agents = procs::agents_of(paths);
        // A supervisor would restart an agent stopped before it.
        agents.sort_by_key(|a| !a.is_supervisor());
        if candidates.iter().all(|c| c.symlink_metadata().is_err()) && agents.is_empty() {
            return p;
        }
        eprintln!(
            "*** knoxctl is installed on this host: stopping it and moving it aside to {} for this test; it is restored afterwards ***",
            aside.display()
        );
        if let Some(r) = Receipt::load(paths)
            && let Ok(c) = knoxctl::agent::config::Config::load(&paths.config, true)
        {
            let mut args: Vec<String> = vec![
                "onboard".into(),
                "vm".into(),
                "--yes".into(),
                "--cluster-name".into(),
                c.cluster_name.clone(),
                "--mode".into(),
                r.mode.to_string(),
                "--enforcer".into(),
                serde_json::to_value(c.enforcer)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
            ];
            for (k, v) in &c.labels {
                args.push("--label".into());
                args.push(format!("{k}={v}"));
            }
            p.onboard_args = Some(args);
        }
        if paths.unit.exists() && knoxctl::onboard::systemd::is_pid1() {
            let _ = Command::new("systemctl")
                .args(["stop", "knoxctl.service"])
                .status();
        }
        for a in agents {
            procs::terminate(a.pid, Duration::from_secs(20));
        }
        std::fs::create_dir_all(&aside).unwrap();
        for (i, c) in candidates.iter().enumerate() {
            if c.symlink_metadata().is_ok() {
                let to = aside.join(i.to_string());
                move_path(c, &to);
                p.moved.push((c.clone(), to));
            }
        }
        let _ = std::fs::remove_dir_all(&paths.run_dir);
        p
    }

    fn restore(&mut self) {
        if self.moved.is_empty() {
            return;
        }
        for (orig, saved) in self.moved.drain(..) {
            if orig.symlink_metadata().is_ok() {
                eprintln!(
                    "*** {} exists again; the saved copy stays in {} ***",
                    orig.display(),
                    saved.display()
                );
                continue;
            }
            move_path(&saved, &orig);
        }
        let _ = std::fs::remove_dir(&self.aside);
        if let Some(args) = &self.onboard_args {
            let installed = Path::new("/usr/local/bin/knoxctl");
            let mut c = if installed.is_file() {
                Command::new(installed)
            } else {
                bin()
            };
            let o = c
                .args(args)
                .stdin(Stdio::null())
                .env_remove("KNOXCTL_ROOT")
                .output();
            match o {
                Ok(o) if o.status.success() => {
                    eprintln!("*** the installation is restored and running ***")
                }
                Ok(o) => eprintln!("*** restoring the installation failed:\n{} ***", out(&o)),
                Err(e) => eprintln!("*** restoring the installation failed: {e} ***"),
            }
        }
    }
}

/// Offboards (with --purge) whatever the test onboarded on the real paths, then restores
/// what was there before, even when the test fails half-way.
struct RealHost {
    preserved: Preserved,
}

impl Drop for RealHost {
    fn drop(&mut self) {
        let o = run(&["offboard", "vm", "--purge", "--yes"], None);
        if !o.status.success() {
            eprintln!("cleanup offboard failed:\n{}", out(&o));
        }
        self.preserved.restore();
    }
}

#[test]
fn onboard_enforce_and_offboard_on_the_real_paths() {
    let _serial = serial();
    if !common::prerequisite(
        Path::new("/usr/bin/apt").exists(),
        "/usr/bin/apt is not on this machine",
    ) {
        return;
    }
    let paths = Paths::from_root(None);
    let _host = RealHost {
        preserved: Preserved::take(&paths),
    };
    let work = scratch("real");
    let _work = RemoveOnDrop(work.clone());
    let bin_existed = paths.bin.exists();
    let before = snapshot(&paths);

    // --dry-run on a host without knoxctl: shows a plan, changes nothing.
    let plan = ok(&["onboard", "vm", "--dry-run"], None);
    assert!(plan.contains("mode          standalone"), "{plan}");
    assert!(plan.contains("dry run: nothing was changed"));
    assert_eq!(
        diff(&before, &snapshot(&paths)),
        Vec::<String>::new(),
        "dry run changed things"
    );

    let t = Instant::now();
    let first = ok(&["onboard", "vm", "--yes"], None);
    let onboard_time = t.elapsed();
    assert!(
        first.contains("onboarded: the agent (pid ")
            && first.contains("standalone mode, enforcer fanotify"),
        "{first}"
    );
    assert!(
        first.contains("knoxctl policy apply -f"),
        "next steps:\n{first}"
    );
    let pid: i32 = std::fs::read_to_string(&paths.pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(procs::is_running(pid));
    let config = std::fs::read(&paths.config).unwrap();
    assert!(String::from_utf8_lossy(&config).contains("socket: /run/knoxctl/agent.sock"));
    assert_eq!(
        std::fs::read(paths.man_dir.join("knoxctl.1")).ok(),
        Some(knoxctl::cmd::assets::man_pages()[0].1.clone()),
        "man knoxctl works"
    );

    // Again, same flags: nothing to do, nothing restarted, not one byte rewritten.
    let settled = snapshot(&paths);
    let again = ok(&["onboard", "vm", "--yes"], None);
    assert!(
        again.starts_with("already onboarded, nothing to do"),
        "{again}"
    );
    assert_eq!(std::fs::read(&paths.config).unwrap(), config);
    assert_eq!(
        std::fs::read_to_string(&paths.pid_file).unwrap().trim(),
        pid.to_string()
    );
    assert!(procs::is_running(pid));
    assert_eq!(diff(&settled, &snapshot(&paths)), Vec::<String>::new());

    // --dry-run with a changed flag: the plan says what would change; nothing does.
    let plan = ok(&["onboard", "vm", "--dry-run", "--label", "env=ci"], None);
    assert!(plan.contains("configuration update"), "{plan}");
    assert!(
        plan.contains("restart") && plan.contains("the configuration changed"),
        "{plan}"
    );
    assert_eq!(
        diff(&settled, &snapshot(&paths)),
        Vec::<String>::new(),
        "dry run changed things"
    );
    assert!(procs::is_running(pid));

    // The onboarded agent enforces: apt is denied by the kernel.
    let policy = pkg_policy(&work);
    let applied = ok(&["policy", "apply", "-f", policy.to_str().unwrap()], None);
    assert!(
        applied.contains("enforced on this host (fanotify)"),
        "{applied}"
    );
    let denied = Command::new("apt")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .expect_err("apt must be denied");
    assert!(
        denied.to_string().starts_with("Operation not permitted"),
        "apt: {denied}"
    );

    // A pinned BPF object where the BPF-LSM enforcer pins its own: offboarding must
    // remove it from bpffs (the enforcer itself cannot run on this kernel).
    let pinned = paths.bpf_pin.join("links/knoxctl_test");
    let have_bpftool = common::prerequisite(
        Command::new("bpftool").arg("version").output().is_ok(),
        "bpftool not installed (Debian package bpftool): offboarding's bpffs removal is not exercised",
    );
    if have_bpftool {
        std::fs::create_dir_all(pinned.parent().unwrap()).unwrap();
        let o = Command::new("bpftool")
            .args(["map", "create"])
            .arg(&pinned)
            .args([
                "type",
                "array",
                "key",
                "4",
                "value",
                "4",
                "entries",
                "1",
                "name",
                "knoxctl_test",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "bpftool map create: {}", out(&o));
    }

    // A sysdump of the real installation, while it enforces.
    let dump = work.join("dump.tar.gz");
    let t = Instant::now();
    ok(&["sysdump", "-o", dump.to_str().unwrap()], None);
    let sysdump_time = t.elapsed();
    let size = std::fs::metadata(&dump).unwrap().len();
    let (_, files) = read_sysdump(&dump);
    assert!(
        String::from_utf8_lossy(&files["policies/policies.json"]).contains("block-pkg-mgmt-tools")
    );
    // The agent's containers (a JSON list; none need be running here).
    assert!(
        serde_json::from_slice::<serde_json::Value>(&files["policies/containers.json"])
            .is_ok_and(|v| v.is_array()),
        "containers listed"
    );
    if have_bpftool {
        assert!(
            String::from_utf8_lossy(&files["enforcer/bpf-pins.txt"]).contains("knoxctl_test"),
            "the pin is listed"
        );
        let maps: serde_json::Value =
            serde_json::from_slice(&files["enforcer/bpftool-map.json"]).unwrap();
        assert!(
            maps["knoxctl"].to_string().contains("knoxctl_test"),
            "the pinned map is among knoxctl's: {maps}"
        );
    }

    let t = Instant::now();
    let off = ok(&["offboard", "vm", "--purge", "--yes"], None);
    let offboard_time = t.elapsed();
    assert!(
        off.contains("offboarded: nothing of knoxctl's runs"),
        "{off}"
    );

    // Nothing is left, by looking.
    assert!(
        Command::new("/usr/bin/apt")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success()),
        "apt runs again"
    );
    assert!(!procs::is_running(pid), "the agent is gone");
    assert_eq!(leftover_processes(&paths), Vec::<String>::new());
    for p in [
        &paths.config_dir,
        &paths.state_dir,
        &paths.run_dir,
        &paths.log_dir,
        &paths.unit,
        &paths.bpf_pin,
        &paths.bash_completion,
        &paths.zsh_completion,
        &paths.fish_completion,
    ] {
        assert!(p.symlink_metadata().is_err(), "{} remains", p.display());
    }
    assert_eq!(paths.man_pages(), Vec::<PathBuf>::new(), "man pages remain");
    assert_eq!(
        paths.bin.exists(),
        bin_existed,
        "the binary copy is removed, a prior one kept"
    );
    assert_eq!(
        diff(&before, &snapshot(&paths)),
        Vec::<String>::new(),
        "the host is not as before"
    );
    eprintln!(
        "timings: onboard {:.2} s, sysdump {:.2} s ({size} bytes), offboard --purge {:.2} s",
        onboard_time.as_secs_f64(),
        sysdump_time.as_secs_f64(),
        offboard_time.as_secs_f64()
    );
}

// ---- prefixed installations ----

#[test]
fn a_changed_flag_restarts_the_agent_and_the_same_flags_do_not() {
    let _serial = serial();
    let p = Prefixed::new("restart");
    p.ok(&["onboard", "vm", "--yes"]);
    let pid = p.pid();
    let config = std::fs::read(&p.paths.config).unwrap();
    let again = p.ok(&["onboard", "vm", "--yes"]);
    assert!(
        again.starts_with("already onboarded, nothing to do"),
        "{again}"
    );
    assert_eq!(p.pid(), pid);
    assert_eq!(std::fs::read(&p.paths.config).unwrap(), config);

    let changed = p.ok(&[
        "onboard",
        "vm",
        "--yes",
        "--cluster-name",
        "lab",
        "--label",
        "env=ci",
    ]);
    assert!(changed.contains("configuration update"), "{changed}");
    assert!(changed.contains("onboarded: the agent"), "{changed}");
    let new_pid = p.pid();
    assert_ne!(new_pid, pid, "restarted");
    assert!(!procs::is_running(pid), "the old agent stopped");
    let text = std::fs::read_to_string(&p.paths.config).unwrap();
    assert!(
        text.contains("clusterName: lab") && text.contains("env: ci"),
        "{text}"
    );

    // Settings onboarding has no flag for survive it.
    let edited = text.replace("maxRows: 5000000", "maxRows: 1000");
    std::fs::write(&p.paths.config, &edited).unwrap();
    let o = p.ok(&[
        "onboard",
        "vm",
        "--yes",
        "--cluster-name",
        "lab2",
        "--label",
        "env=ci",
    ]);
    assert!(o.contains("configuration update"), "{o}");
    let text = std::fs::read_to_string(&p.paths.config).unwrap();
    assert!(
        text.contains("maxRows: 1000") && text.contains("clusterName: lab2"),
        "{text}"
    );

    // Pins a BPF-LSM agent left behind would go on enforcing next to fanotify: removed.
    std::fs::create_dir_all(&p.paths.bpf_pin).unwrap();
    std::fs::write(p.paths.bpf_pin.join("link_bprm_check_security"), "").unwrap();
    let flags = [
        "onboard",
        "vm",
        "--yes",
        "--cluster-name",
        "lab2",
        "--label",
        "env=ci",
    ];
    let o = p.ok(&flags);
    assert!(o.contains("bpf pins") && o.contains("remove "), "{o}");
    assert!(!p.paths.bpf_pin.exists());
    assert!(p.ok(&flags).starts_with("already onboarded, nothing to do"));

    // A dead agent is noticed and started again.
    let pid = p.pid();
    procs::terminate(pid, Duration::from_secs(10));
    let o = p.ok(&[
        "onboard",
        "vm",
        "--yes",
        "--cluster-name",
        "lab2",
        "--label",
        "env=ci",
    ]);
    assert!(o.contains("agent         start"), "{o}");
    assert!(procs::is_running(p.pid()));
}

#[test]
fn onboarding_installs_completions_and_man_pages_and_offboarding_removes_them() {
    let _serial = serial();
    let p = Prefixed::new("docs");
    // bash-completion and zsh are installed under this root; fish is not.
    for dir in ["usr/share/bash-completion", "usr/share/zsh"] {
        std::fs::create_dir_all(p.root.join(dir)).unwrap();
    }
    let first = p.ok(&["onboard", "vm", "--yes"]);
    assert!(first.contains("man pages"), "{first}");
    let pid = p.pid();

    // Rendered from the binary: what `knoxctl completion` prints, and every page.
    let completion = |shell: &str| {
        let o = run(&["completion", shell], None);
        assert!(o.status.success());
        o.stdout
    };
    assert_eq!(
        std::fs::read(&p.paths.bash_completion).ok(),
        Some(completion("bash")),
        "bash completion installed"
    );
    assert_eq!(
        std::fs::read(&p.paths.zsh_completion).ok(),
        Some(completion("zsh")),
        "zsh completion installed"
    );
    assert!(
        !p.paths.fish_completion.exists(),
        "fish is not installed here"
    );
    assert!(!p.root.join("usr/share/fish").exists());
    let pages = knoxctl::cmd::assets::man_pages();
    assert!(pages.len() > 20);
    for (name, text) in &pages {
        assert_eq!(
            std::fs::read(p.paths.man_dir.join(name)).ok().as_ref(),
            Some(text),
            "{name} installed"
        );
    }

    // Again: nothing to do.
    let again = p.ok(&["onboard", "vm", "--yes"]);
    assert!(
        again.starts_with("already onboarded, nothing to do"),
        "{again}"
    );

    // A changed page is rewritten, and the agent, which does not read it, keeps running.
    let page = p.paths.man_dir.join("knoxctl-alerts.1");
    std::fs::write(&page, "stale").unwrap();
    std::fs::remove_file(&p.paths.bash_completion).unwrap();
    let o = p.ok(&["onboard", "vm", "--yes"]);
    assert!(
        o.contains("man pages     update") && o.contains("1 changed"),
        "{o}"
    );
    assert!(o.contains("completion    create"), "{o}");
    assert!(
        o.contains(&format!("agent         keep    pid {pid}")),
        "{o}"
    );
    assert_eq!(p.pid(), pid, "not restarted");
    assert_ne!(std::fs::read(&page).unwrap(), b"stale");
    assert!(p.paths.bash_completion.exists());

    // Offboarding removes them, and the directories onboarding created for them.
    let off = p.ok(&["offboard", "vm", "--yes"]);
    assert!(off.contains("offboarded:"), "{off}");
    assert!(!p.paths.bash_completion.exists() && !p.paths.zsh_completion.exists());
    assert_eq!(p.paths.man_pages(), Vec::<PathBuf>::new());
    assert!(
        !p.paths.man_dir.exists(),
        "created by onboarding, removed when empty"
    );
    assert!(!p.paths.zsh_completion.parent().unwrap().exists());
    assert!(
        p.root.join("usr/share/bash-completion").is_dir(),
        "not onboarding's to remove"
    );
}

/// A terminal driven through tmux, on a private tmux server.
struct Tmux {
    server: String,
}

impl Tmux {
    fn start(tag: &str, command: &str) -> Tmux {
        let t = Tmux {
            server: format!("knoxctl-test-{tag}-{}", std::process::id()),
        };
        let st = Command::new("tmux")
            .args([
                "-L",
                &t.server,
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "60",
                "-s",
                "t",
            ])
            .arg(format!("{command}; echo EXIT=$?; sleep 120"))
            .status()
            .expect("tmux is installed (apt install tmux)");
        assert!(st.success());
        t
    }

    fn screen(&self) -> String {
        let o = Command::new("tmux")
            .args([
                "-L",
                &self.server,
                "capture-pane",
                "-p",
                "-J",
                "-t",
                "t",
                "-S",
                "-500",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{text:?} never appeared:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn send(&self, keys: &str) {
        let st = Command::new("tmux")
            .args(["-L", &self.server, "send-keys", "-t", "t", keys])
            .status()
            .unwrap();
        assert!(st.success());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.server, "kill-server"])
            .status();
        // kill-server leaves its socket file behind.
        let dir = std::env::var_os("TMUX_TMPDIR").map_or(PathBuf::from("/tmp"), PathBuf::from);
        let uid = unsafe { libc::geteuid() };
        let _ = std::fs::remove_file(dir.join(format!("tmux-{uid}")).join(&self.server));
    }
}

#[test]
fn on_a_terminal_the_prompt_decides() {
    let _serial = serial();
    let p = Prefixed::new("tty");
    let cmd = |args: &str| {
        format!(
            "env KNOXCTL_ROOT={} NO_COLOR=1 {} {args}",
            p.root.display(),
            env!("CARGO_BIN_EXE_knoxctl")
        )
    };

    // "n": nothing is installed.
    let t = Tmux::start("no", &cmd("onboard vm"));
    let s = t.wait_for("Onboard this host?");
    assert!(
        s.contains("Onboarding plan for") && s.contains("[y/N]"),
        "{s}"
    );
    t.send("n");
    let s = t.wait_for("EXIT=");
    assert!(s.contains("EXIT=1"), "{s}");
    assert!(s.contains("onboarding aborted; nothing was changed"), "{s}");
    assert!(!p.root.exists(), "answering n changed the host");
    drop(t);

    // "y": onboarded, with the progress shown on the terminal.
    let t = Tmux::start("yes", &cmd("onboard vm"));
    t.wait_for("Onboard this host?");
    t.send("y");
    let s = t.wait_for("EXIT=");
    assert!(
        s.contains("EXIT=0") && s.contains("onboarded: the agent"),
        "{s}"
    );
    let pid = p.pid();
    assert!(procs::is_running(pid));
    drop(t);

    // Offboarding asks too; "n" leaves the agent running.
    let t = Tmux::start("off", &cmd("offboard vm --purge"));
    let s = t.wait_for("Offboard this host?");
    assert!(s.contains(&format!("stop agent pid {pid}")), "{s}");
    t.send("n");
    let s = t.wait_for("EXIT=");
    assert!(
        s.contains("EXIT=1") && s.contains("offboarding aborted"),
        "{s}"
    );
    assert!(procs::is_running(pid));
    assert!(p.paths.config.exists());
}

#[test]
fn the_agent_tells_systemd_it_is_ready_alive_and_stopping() {
    use std::os::unix::net::{UnixDatagram, UnixStream};
    let _serial = serial();
    let dir = scratch("notify");
    let _cleanup = RemoveOnDrop(dir.clone());
    let notify = UnixDatagram::bind(dir.join("notify.sock")).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    std::fs::write(dir.join("config.yaml"), "clusterName: t\n").unwrap();
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let mut agent = KillOnDrop(
        bin()
            .args(["agent", "--config"])
            .arg(dir.join("config.yaml"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--socket")
            .arg(dir.join("agent.sock"))
            .args(["--enforcer", "monitor-only"])
            .env("NOTIFY_SOCKET", dir.join("notify.sock"))
            .env("WATCHDOG_USEC", "400000")
            .stdin(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let recv = || {
        let mut buf = [0u8; 256];
        let n = notify.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    let first = recv();
    assert_eq!(first, "READY=1");
    assert!(
        UnixStream::connect(dir.join("agent.sock")).is_ok(),
        "READY=1 only once the API listens"
    );
    let start = Instant::now();
    let mut pings = 0;
    while start.elapsed() < Duration::from_secs(1) {
        assert_eq!(recv(), "WATCHDOG=1");
        pings += 1;
    }
    assert!(
        pings >= 4,
        "{pings} watchdog pings in a second at WATCHDOG_USEC=400000"
    );
    unsafe { libc::kill(agent.0.id() as i32, libc::SIGTERM) };
    loop {
        let m = recv();
        if m == "STOPPING=1" {
            break;
        }
        assert_eq!(m, "WATCHDOG=1");
    }
    let t = Instant::now();
    let status = loop {
        if let Some(s) = agent.0.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the agent did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(dir.join("agent.log")).unwrap()
    );
}

#[test]
fn generated_unit_passes_systemd_analyze_verify() {
    let _serial = serial();
    let dir = scratch("unit");
    let _cleanup = RemoveOnDrop(dir.clone());
    // verify checks that ExecStart's binary exists: install one under a prefix.
    let paths = Paths::under(&dir.join("root"));
    std::fs::create_dir_all(paths.bin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_knoxctl"), &paths.bin).unwrap();
    let mut units = vec![(
        dir.join("prefixed/knoxctl.service"),
        knoxctl::onboard::systemd::render_unit(&paths),
    )];
    // The real unit, with its binary and systemd's own units in place under
    // systemd-analyze's --root (the real /usr/local/bin/knoxctl may not exist).
    let real = Paths::from_root(None);
    let vroot = dir.join("vroot");
    std::fs::create_dir_all(vroot.join("usr/lib/systemd")).unwrap();
    let st = Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(vroot.join("usr/lib/systemd/"))
        .status()
        .unwrap();
    assert!(
        st.success(),
        "copying systemd's units (Debian package systemd)"
    );
    let vbin = vroot.join(real.bin.strip_prefix("/").unwrap());
    std::fs::create_dir_all(vbin.parent().unwrap()).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_knoxctl"), &vbin).unwrap();
    units.push((
        vroot.join(real.unit.strip_prefix("/").unwrap()),
        knoxctl::onboard::systemd::render_unit(&real),
    ));
    for (i, (file, text)) in units.iter().enumerate() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
        let mut c = Command::new("systemd-analyze");
        if i == 1 {
            c.arg(format!("--root={}", vroot.display()));
        }
        let o = c
            .arg("verify")
            .arg(file)
            .output()
            .expect("systemd-analyze is installed (Debian package systemd)");
        let err = stderr(&o);
        let ours: Vec<&str> = err.lines().filter(|l| l.contains("knoxctl")).collect();
        assert!(
            o.status.success() && ours.is_empty(),
            "systemd-analyze verify {}:\n{}\n{text}",
            file.display(),
            out(&o)
        );
    }
}

/// Kills a child agent when the test ends, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Removes a scratch directory when the test ends, passed or not.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read_sysdump(path: &Path) -> (serde_json::Value, BTreeMap<String, Vec<u8>>) {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut files = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        let (_, rel) = p.split_once('/').expect("one top directory");
        let rel = rel.to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        files.insert(rel, data);
    }
    let manifest = serde_json::from_slice(&files["manifest.json"]).unwrap();
    (manifest, files)
}

/// Every manifest item is accounted for: ok items are in the archive with their size,
/// the others say why they are not.
fn check_manifest(
    m: &serde_json::Value,
    files: &BTreeMap<String, Vec<u8>>,
) -> BTreeMap<String, serde_json::Value> {
    let mut by_name = BTreeMap::new();
    for i in m["items"].as_array().unwrap() {
        let path = i["path"].as_str().unwrap();
        match i["status"].as_str().unwrap() {
            "ok" => assert_eq!(
                files.get(path).map(|d| d.len() as u64),
                Some(i["size"].as_u64().unwrap()),
                "{path}"
            ),
            _ => assert!(
                !files.contains_key(path) && i["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{i}"
            ),
        }
        by_name.insert(i["name"].as_str().unwrap().to_string(), i.clone());
    }
    assert_eq!(
        files.len(),
        by_name.values().filter(|i| i["status"] == "ok").count() + 1,
        "no file outside the manifest"
    );
    by_name
}

#[test]
fn sysdump_collects_everything_redacted_with_and_without_the_agent() {
    let _serial = serial();
    let p = Prefixed::new("sysdump");
    p.ok(&[
        "onboard",
        "vm",
        "--yes",
        "--label",
        "apiToken=s3cr3t-token-value",
    ]);
    // A policy that blocks a copy of `true`, and one denied exec of it: one alert.
    let blocked = p.dir.join("blocked-true");
    std::fs::copy("/usr/bin/true", &blocked).unwrap();
    let policy = p.dir.join("p.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: block-true-copy}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: '*'}}}}\n  process: {{matchPaths: [{{path: {}}}]}}\n  action: Block\n",
            blocked.display()
        ),
    )
    .unwrap();
    let o = run(
        &[
            "policy",
            "apply",
            "-f",
            policy.to_str().unwrap(),
            "--socket",
            p.paths.socket.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    assert_eq!(exec_errno(blocked.to_str().unwrap()), Some(libc::EPERM));
    // Alerts are written in batches.
    let start = Instant::now();
    loop {
        let o = run(
            &[
                "alerts",
                "-o",
                "json",
                "--state-dir",
                p.paths.state_dir.to_str().unwrap(),
            ],
            None,
        );
        if stdout(&o).contains("block-true-copy") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no alert: {}",
            out(&o)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let dump = p.dir.join("up.tar.gz");
    let t = Instant::now();
    let o = run(
        &["sysdump", "-o", dump.to_str().unwrap(), "--alerts", "50"],
        Some(&p.root),
    );
    let took = t.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let size = std::fs::metadata(&dump).unwrap().len();
    let (m, files) = read_sysdump(&dump);
    let items = check_manifest(&m, &files);
    for name in [
        "version",
        "probe report",
        "uname",
        "os-release",
        "kernel command line",
        "BTF",
        "configuration (redacted)",
        "onboarding receipt",
        "agent status",
        "agent log",
        "knoxctl processes",
        "applied policies",
        "BPF pins",
        "fanotify marks",
        "alerts",
    ] {
        assert_eq!(items[name]["status"], "ok", "{name}: {}", items[name]);
    }
    for name in ["systemd unit", "AppArmor profiles"] {
        assert_eq!(
            items[name]["status"], "skipped",
            "{name} does not apply here"
        );
    }
    let whole: String = files
        .values()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert!(!whole.contains("s3cr3t-token-value"), "the secret leaked");
    let config = String::from_utf8_lossy(&files["config/config.yaml"]).into_owned();
    assert!(
        config.contains("apiToken: <redacted>") && config.contains("clusterName: default"),
        "{config}"
    );
    assert_eq!(items["applied policies"]["source"], "agent");
    assert!(String::from_utf8_lossy(&files["policies/policies.json"]).contains("block-true-copy"));
    let status: serde_json::Value = serde_json::from_slice(&files["agent/status.json"]).unwrap();
    let agent_pid = status["pid"].as_u64().unwrap() as u32;
    assert!(
        knoxctl::onboard::standalone::is_same_agent(p.pid(), agent_pid),
        "the agent {agent_pid} is the supervisor {}'s child",
        p.pid()
    );
    let record: serde_json::Value =
        serde_json::from_slice(&files["agent/supervisor.json"]).unwrap();
    assert_eq!(record["supervisorPid"], p.pid());
    assert_eq!(record["agentPid"], agent_pid);
    assert_eq!(record["restarts"], 0);
    assert!(String::from_utf8_lossy(&files["enforcer/fanotify.txt"]).contains("fanotify flags:"));
    assert!(String::from_utf8_lossy(&files["agent/log.txt"]).contains("listening"));
    let alerts = String::from_utf8_lossy(&files["alerts/alerts.jsonl"]).into_owned();
    let first: serde_json::Value = serde_json::from_str(alerts.lines().next().unwrap()).unwrap();
    assert_eq!(first["PolicyName"], "block-true-copy");
    if items["BPF programs"]["status"] == "ok" {
        let progs: serde_json::Value =
            serde_json::from_slice(&files["enforcer/bpftool-prog.json"]).unwrap();
        assert!(
            progs["knoxctl"].as_array().is_some_and(|a| !a.is_empty()),
            "the monitor's programs: {progs}"
        );
    }

    // The agent stopped, and a hand-edited secret in the configuration.
    procs::terminate(p.pid(), Duration::from_secs(10));
    let mut text = std::fs::read_to_string(&p.paths.config).unwrap();
    text.push_str("password: hunter2-value\n");
    std::fs::write(&p.paths.config, text).unwrap();
    let dump = p.dir.join("down.tar.gz");
    let o = run(&["sysdump", "-o", dump.to_str().unwrap()], Some(&p.root));
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    assert!(
        stderr(&o).contains("could not collect agent status"),
        "{}",
        stderr(&o)
    );
    let (m, files) = read_sysdump(&dump);
    let items = check_manifest(&m, &files);
    assert_eq!(items["agent status"]["status"], "failed");
    assert!(
        items["agent status"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot reach the knoxctl agent")
    );
    assert_eq!(items["fanotify marks"]["status"], "skipped");
    assert!(
        items["applied policies"]["source"]
            .as_str()
            .unwrap()
            .starts_with("state directory")
    );
    assert!(String::from_utf8_lossy(&files["policies/policies.json"]).contains("block-true-copy"));
    assert!(String::from_utf8_lossy(&files["alerts/alerts.jsonl"]).contains("block-true-copy"));
    let whole: String = files
        .values()
        .map(|d| String::from_utf8_lossy(d).into_owned())
        .collect();
    assert!(
        !whole.contains("s3cr3t-token-value") && !whole.contains("hunter2-value"),
        "a secret leaked"
    );
    eprintln!(
        "sysdump with the agent running: {:.2} s, {size} bytes",
        took.as_secs_f64()
    );
}

/// The pid of the agent answering on `socket`.
fn agent_pid(socket: &Path) -> Option<u32> {
    knoxctl::onboard::plan::agent_status(socket, Duration::from_secs(2)).map(|s| s.pid)
}

#[test]
fn standalone_supervisor_restarts_a_killed_agent_and_enforcement_comes_back() {
    let _serial = serial();
    let p = Prefixed::new("supervise");
    p.ok(&["onboard", "vm", "--yes", "--enforcer", "fanotify"]);
    let supervisor = p.pid();
    let blocked = p.dir.join("blocked-true");
    std::fs::copy("/usr/bin/true", &blocked).unwrap();
    let policy = p.dir.join("p.yaml");
    std::fs::write(
        &policy,
        format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: block-true-copy}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: '*'}}}}\n  process: {{matchPaths: [{{path: {}}}]}}\n  action: Block\n",
            blocked.display()
        ),
    )
    .unwrap();
    let socket = p.paths.socket.to_str().unwrap();
    let o = run(
        &[
            "policy",
            "apply",
            "-f",
            policy.to_str().unwrap(),
            "--socket",
            socket,
        ],
        None,
    );
    assert!(o.status.success(), "{}", out(&o));
    let blocked = blocked.to_str().unwrap();
    assert_eq!(exec_errno(blocked), Some(libc::EPERM));

    // Two crashes in a row: each is restarted, each new agent enforces again.
    for round in 1..=2u64 {
        let first = agent_pid(&p.paths.socket).expect("the agent answers");
        assert_eq!(procs::parent(first as i32), Some(supervisor));
        let t = Instant::now();
        // SAFETY: kill(2) on the agent's pid, just read from its own status.
        unsafe { libc::kill(first as i32, libc::SIGKILL) };
        let mut gap = None;
        while t.elapsed() < Duration::from_secs(30) {
            if exec_errno(blocked) == Some(libc::EPERM) {
                gap = Some(t.elapsed());
                break;
            }
        }
        let gap = gap.expect("enforcement came back within 30 s");
        // Policies are enforced before the API opens: the answer may come a moment later.
        let next = loop {
            match agent_pid(&p.paths.socket) {
                Some(pid) if pid != first => break pid,
                _ if t.elapsed() > Duration::from_secs(30) => panic!("no new agent answers"),
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        assert_eq!(procs::parent(next as i32), Some(supervisor));
        assert_eq!(p.pid(), supervisor, "the supervisor itself did not change");
        eprintln!(
            "round {round}: SIGKILL -> blocked again in {:.3} s",
            gap.as_secs_f64()
        );

        let o = run(&["probe", "--socket", socket], None);
        let text = stdout(&o);
        let times = if round == 1 { "1 time;" } else { "2 times;" };
        assert!(
            text.contains(&format!("standalone supervisor (pid {supervisor}"))
                && text.contains(&format!("restarted the agent {times}"))
                && text.contains(&format!("last: pid {first} killed by signal 9 (SIGKILL)")),
            "{text}"
        );
        let o = run(&["probe", "-o", "json", "--socket", socket], None);
        let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(v["supervisor"]["restarts"], round, "{v}");
        assert_eq!(v["supervisor"]["agentPid"], next, "{v}");
        assert_eq!(v["supervisor"]["lastExit"]["pid"], first, "{v}");
    }
    let log = std::fs::read_to_string(&p.paths.log).unwrap();
    assert_eq!(
        log.matches("supervisor: the agent ended (killed by signal 9 (SIGKILL)); restarting it")
            .count(),
        2,
        "{log}"
    );

    // The restarted agent is still this installation's: onboarding has nothing to do.
    let again = p.ok(&["onboard", "vm", "--yes", "--enforcer", "fanotify"]);
    assert!(
        again.starts_with("already onboarded, nothing to do"),
        "{again}"
    );
    assert_eq!(p.pid(), supervisor);

    // sysdump reports the restarts.
    let dump = p.dir.join("d.tar.gz");
    let o = run(&["sysdump", "-o", dump.to_str().unwrap()], Some(&p.root));
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let (_, files) = read_sysdump(&dump);
    let record: serde_json::Value =
        serde_json::from_slice(&files["agent/supervisor.json"]).unwrap();
    assert_eq!(record["restarts"], 2);

    // Stopping the supervisor stops its agent for good: offboarding leaves nothing, and
    // nothing comes back.
    let agent = agent_pid(&p.paths.socket).unwrap();
    p.ok(&["offboard", "vm", "--yes"]);
    assert!(!procs::is_running(supervisor) && !procs::is_running(agent as i32));
    // The agent was stopped as systemd would stop it (SIGTERM: pending alerts flushed),
    // not killed with its supervisor.
    let log = std::fs::read_to_string(&p.paths.log).unwrap();
    let tail = &log[log.rfind("restarting it").unwrap()..];
    assert!(
        tail.contains("alerts flushed") && tail.contains("supervisor: stopped"),
        "{tail}"
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(leftover_processes(&p.paths), Vec::<String>::new());
    assert_eq!(exec_errno(blocked), None, "no longer blocked");
}
