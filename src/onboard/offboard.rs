//! `offboard vm`: stops the agent, detaches every enforcer's kernel objects, removes what
//! onboarding installed, and then checks — by reading /proc, bpffs and securityfs, not by
//! trusting its own steps — that nothing of it is left.
//!
//! A stopped agent releases its fanotify groups (they die with the process) and its
//! tracepoint programs (held by file descriptors), but pinned BPF objects and loaded
//! AppArmor profiles outlive it: those are removed explicitly.

use super::paths::Paths;
use super::{Mode, Receipt, procs, standalone, systemd};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// AppArmor profiles the AppArmor enforcer loads are named with this prefix.
pub const APPARMOR_PREFIX: &str = "knoxctl-";

#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub path: PathBuf,
    pub what: String,
}

#[derive(Clone, Debug)]
pub struct OffboardPlan {
    pub paths: Paths,
    pub purge: bool,
    pub receipt: Option<Receipt>,
    /// Run systemctl (the unit exists and systemd manages this host).
    pub systemd: bool,
    /// Running agents of this installation.
    pub agents: Vec<procs::Proc>,
    /// Existing BPF pin directories: this installation's, and the one its configuration
    /// names if that was edited to point elsewhere.
    pub bpf_pins: Vec<PathBuf>,
    pub apparmor_profiles: Vec<String>,
    /// Existing paths that will be removed.
    pub remove: Vec<Item>,
    /// knoxctl's man pages in the man directory, removed in one step.
    pub man_pages: Vec<PathBuf>,
    /// Existing paths that stay, and why.
    pub keep: Vec<Item>,
}

impl OffboardPlan {
    pub fn nothing_to_do(&self) -> bool {
        self.agents.is_empty()
            && self.bpf_pins.is_empty()
            && self.apparmor_profiles.is_empty()
            && self.remove.is_empty()
            && self.man_pages.is_empty()
    }

    pub fn step_count(&self) -> u64 {
        4
    }
}

/// Loaded AppArmor profiles whose names start with `knoxctl-`.
pub fn apparmor_profiles(paths: &Paths) -> Vec<String> {
    std::fs::read_to_string(paths.apparmor.join("profiles"))
        .unwrap_or_default()
        .lines()
        // "name (mode)"; names may contain spaces, the mode never does.
        .filter_map(|l| l.rsplit_once(" (").map(|(name, _)| name))
        .filter(|n| n.starts_with(APPARMOR_PREFIX))
        .map(str::to_string)
        .collect()
}

/// This installation's BPF pin directory, and the configured one if it differs. The
/// configuration is read before it is removed, so later calls find only the first.
fn pin_dirs(paths: &Paths) -> Vec<PathBuf> {
    let mut dirs = vec![paths.bpf_pin.clone()];
    if let Ok(c) = crate::agent::config::Config::load(&paths.config, false)
        && c.bpf_pin_dir != paths.bpf_pin
        && paths.is_real()
    {
        dirs.push(c.bpf_pin_dir);
    }
    dirs
}

/// Every agent of this installation: the pid file's, the one answering on its socket, and
/// any other started with its binary or configuration.
fn running_agents(paths: &Paths) -> Vec<procs::Proc> {
    let mut agents = procs::agents_of(paths);
    let mut extra = Vec::new();
    if let Some(pid) = standalone::running_pid(paths) {
        extra.push(pid);
    }
    if let Some(s) = super::plan::agent_status(&paths.socket, Duration::from_secs(2)) {
        extra.push(s.pid as i32);
    }
    for pid in extra {
        if !agents.iter().any(|a| a.pid == pid)
            && let Some(p) = procs::read(pid)
            && !p.is_zombie()
        {
            agents.push(p);
        }
    }
    // A supervisor restarts an agent stopped before it: supervisors go first.
    agents.sort_by_key(|p| (!p.is_supervisor(), p.pid));
    agents
}

pub fn plan(paths: &Paths, purge: bool) -> OffboardPlan {
    let receipt = Receipt::load(paths);
    let exists = |p: &Path| p.symlink_metadata().is_ok();
    let mut remove = Vec::new();
    let mut keep = Vec::new();
    let add = |list: &mut Vec<Item>, path: &Path, what: &str| {
        if exists(path) {
            list.push(Item {
                path: path.to_path_buf(),
                what: what.to_string(),
            });
        }
    };
    add(&mut remove, &paths.unit, "systemd unit");
    add(&mut remove, &paths.config_dir, "configuration");
    add(&mut remove, &paths.run_dir, "API socket and pid file");
    // Completions and man pages document a knoxctl that is going away, whether or not
    // onboarding installed the binary; their names are knoxctl's own.
    for c in paths.completions() {
        add(&mut remove, c.path, "shell completion");
    }
    add(&mut remove, &paths.oci_hook, "podman OCI hook");
    if receipt.as_ref().is_some_and(|r| r.binary_installed) {
        add(&mut remove, &paths.bin, "binary installed by onboarding");
    } else {
        add(
            &mut keep,
            &paths.bin,
            "binary not installed by onboarding: it was there before",
        );
    }
    if purge {
        add(
            &mut remove,
            &paths.state_dir,
            "applied policies, alerts and the onboarding receipt",
        );
        add(&mut remove, &paths.log_dir, "agent log");
    } else {
        add(
            &mut keep,
            &paths.state_dir,
            "applied policies, alerts and the onboarding receipt; --purge removes them",
        );
        add(&mut keep, &paths.log_dir, "agent log; --purge removes it");
    }
    let systemd = paths.is_real()
        && systemd::is_pid1()
        && (exists(&paths.unit) || receipt.as_ref().is_some_and(|r| r.mode == Mode::Systemd));
    OffboardPlan {
        paths: paths.clone(),
        purge,
        receipt,
        systemd,
        agents: running_agents(paths),
        bpf_pins: pin_dirs(paths).into_iter().filter(|p| exists(p)).collect(),
        apparmor_profiles: apparmor_profiles(paths),
        remove,
        keep,
        man_pages: paths.man_pages(),
    }
}

/// One step's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub what: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub steps: Vec<Step>,
    /// What the final check still found.
    pub leftovers: Vec<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.leftovers.is_empty() && self.steps.iter().all(|s| s.error.is_none())
    }

    fn step(&mut self, what: impl Into<String>, result: Result<(), String>) {
        self.steps.push(Step {
            what: what.into(),
            error: result.err(),
        });
    }
}

fn remove_path(path: &Path) -> std::io::Result<()> {
    let meta = match path.symlink_metadata() {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

/// Carries out `plan`: every step is attempted even when an earlier one failed, so that
/// as much as possible is removed; the report says what failed and what is left.
pub fn execute(plan: &OffboardPlan, progress: &mut dyn FnMut(&str)) -> Report {
    let paths = &plan.paths;
    let mut report = Report::default();

    progress("stopping the agent");
    if plan.systemd {
        report.step(
            format!("systemctl disable --now {}", systemd::UNIT_NAME),
            systemd::systemctl(&["disable", "--now", "--quiet", systemd::UNIT_NAME])
                .map(drop)
                .map_err(|e| e.to_string()),
        );
    }
    for a in &plan.agents {
        let outcome = procs::terminate(a.pid, super::STOP_GRACE);
        report.step(
            format!("stop agent pid {} ({outcome:?})", a.pid),
            if procs::is_running(a.pid) {
                Err(format!("pid {} is still running after SIGKILL", a.pid))
            } else {
                Ok(())
            },
        );
    }

    progress("detaching enforcers");
    for pin in &plan.bpf_pins {
        // Pinned links keep BPF-LSM programs attached after the agent exits (a restarted
        // agent re-adopts them). Unlinking a pinned link detaches its program; unlinking
        // pinned maps frees them once no process holds them (the agent is gone).
        report.step(
            format!("remove pinned BPF objects {}", pin.display()),
            crate::enforce::bpf_lsm::remove_pins(pin).map_err(|e| e.to_string()),
        );
    }
    for name in &plan.apparmor_profiles {
        let remove = paths.apparmor.join(".remove");
        report.step(
            format!("unload AppArmor profile {name}"),
            std::fs::write(&remove, name.as_bytes()).map_err(|e| {
                format!(
                    "writing {}: {e} (try: apparmor_parser -R with the profile)",
                    remove.display()
                )
            }),
        );
    }

    progress("removing files");
    for item in &plan.remove {
        report.step(
            format!("remove {} ({})", item.path.display(), item.what),
            remove_path(&item.path).map_err(|e| e.to_string()),
        );
    }
    if !plan.man_pages.is_empty() {
        let failed: Vec<String> = plan
            .man_pages
            .iter()
            .filter_map(|p| {
                remove_path(p)
                    .err()
                    .map(|e| format!("{}: {e}", p.display()))
            })
            .collect();
        report.step(
            format!(
                "remove {} man pages from {}",
                plan.man_pages.len(),
                paths.man_dir.display()
            ),
            if failed.is_empty() {
                Ok(())
            } else {
                Err(failed.join("; "))
            },
        );
    }
    if plan.systemd {
        for args in [
            &["daemon-reload"][..],
            &["reset-failed", systemd::UNIT_NAME][..],
        ] {
            // reset-failed fails when the unit is not failed: nothing to report.
            let r = systemd::systemctl(args);
            if args[0] == "daemon-reload" {
                report.step(
                    "systemctl daemon-reload",
                    r.map(drop).map_err(|e| e.to_string()),
                );
            }
        }
    }
    // The kept receipt must not claim the binary any more: whatever is at that path
    // later is not onboarding's to remove.
    if let Some(r) = &plan.receipt
        && !plan.purge
        && paths.state_dir.is_dir()
    {
        let kept = Receipt {
            binary_installed: false,
            ..r.clone()
        };
        report.step(
            format!("update {}", paths.receipt.display()),
            super::write_atomic(&paths.receipt, &kept.to_bytes(), 0o644).map_err(|e| e.to_string()),
        );
    }
    // Under a prefix, the agent created the pin directory's parents too (the real ones
    // are the kernel's): a prefixed root keeps nothing knoxctl put there.
    if !paths.is_real() {
        let mut dir = paths.bpf_pin.parent();
        while let Some(d) = dir.filter(|d| *d != paths.root) {
            if std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    // Directories onboarding created, innermost first, if nothing else lives in them now.
    if let Some(r) = &plan.receipt {
        let mut dirs = r.created_dirs.clone();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in dirs {
            let _ = std::fs::remove_dir(&d);
        }
    }

    progress("checking that nothing is left");
    report.leftovers = leftovers(plan);
    report
}

/// What of this installation is still on the host, found by looking.
pub fn leftovers(plan: &OffboardPlan) -> Vec<String> {
    let paths = &plan.paths;
    let mut left = Vec::new();
    for p in procs::knoxctl_processes() {
        if p.is_zombie() {
            continue;
        }
        if p.belongs_to(paths) || plan.agents.iter().any(|a| a.pid == p.pid) {
            left.push(format!(
                "process {} is still running: {}",
                p.pid,
                p.cmdline.join(" ")
            ));
        }
        if p.belongs_to(paths) && p.fanotify_fds > 0 {
            left.push(format!(
                "process {} still holds {} fanotify group(s)",
                p.pid, p.fanotify_fds
            ));
        }
    }
    for pin in pin_dirs(paths) {
        if pin.symlink_metadata().is_ok() {
            left.push(format!("{} still exists", pin.display()));
        }
    }
    for name in apparmor_profiles(paths) {
        left.push(format!("AppArmor profile {name} is still loaded"));
    }
    for item in &plan.remove {
        if item.path.symlink_metadata().is_ok() {
            left.push(format!("{} still exists", item.path.display()));
        }
    }
    // Looked up again rather than taken from the plan: a page that appeared meanwhile is
    // left behind too.
    for c in paths.completions() {
        if c.path.symlink_metadata().is_ok() && !plan.remove.iter().any(|i| i.path == c.path) {
            left.push(format!("{} still exists", c.path.display()));
        }
    }
    for page in paths.man_pages() {
        left.push(format!("{} still exists", page.display()));
    }
    if plan.systemd && systemd::is_active() {
        left.push(format!("{} is still active", systemd::UNIT_NAME));
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_our_apparmor_profiles() {
        let root = std::env::temp_dir().join(format!("knoxctl-aa-{}", std::process::id()));
        let paths = Paths::under(&root);
        std::fs::create_dir_all(&paths.apparmor).unwrap();
        std::fs::write(
            paths.apparmor.join("profiles"),
            "knoxctl-host (enforce)\n/usr/bin/man (enforce)\nknoxctl-ns pod (complain)\nlsb_release (enforce)\n",
        )
        .unwrap();
        assert_eq!(
            apparmor_profiles(&paths),
            vec!["knoxctl-host", "knoxctl-ns pod"]
        );
        std::fs::remove_dir_all(&root).unwrap();
        assert!(apparmor_profiles(&paths).is_empty());
    }

    #[test]
    fn completions_and_man_pages_are_removed_and_checked() {
        let root = std::env::temp_dir().join(format!("knoxctl-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let paths = Paths::under(&root);
        for f in [
            &paths.bash_completion,
            &paths.fish_completion,
            &paths.man_dir.join("knoxctl.1"),
            &paths.man_dir.join("knoxctl-gone.1"),
            &paths.man_dir.join("other.1"),
        ] {
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, "x").unwrap();
        }
        let plan = plan(&paths, false);
        assert!(!plan.nothing_to_do());
        assert_eq!(plan.man_pages.len(), 2, "{:?}", plan.man_pages);
        let left = leftovers(&plan).join("\n");
        for f in [
            "completions/knoxctl",
            "knoxctl.fish",
            "man1/knoxctl.1",
            "knoxctl-gone.1",
        ] {
            assert!(left.contains(f), "{f} not reported as left:\n{left}");
        }
        let report = execute(&plan, &mut |_| {});
        assert!(report.ok(), "{report:?}");
        assert!(!paths.bash_completion.exists() && !paths.fish_completion.exists());
        assert!(paths.man_pages().is_empty());
        assert!(paths.man_dir.join("other.1").exists(), "not knoxctl's");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
