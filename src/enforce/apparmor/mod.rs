//! AppArmor backend: the host's rule set becomes profiles ([`profile`]) that
//! `apparmor_parser` compiles and loads.
//!
//! Lifecycle: every apply pipes all profiles into one `apparmor_parser --replace` (a
//! profile that is loaded already is replaced in place, so the tasks it confines go from
//! the old rules to the new ones with no moment without either), then unloads the
//! `knoxctl-*` profiles the new text no longer has (a fromSource that went away), through
//! the kernel's `.remove` file, as `knoxctl offboard vm` does. A rule set with nothing to
//! enforce unloads everything. Start removes `knoxctl-*` profiles a previous agent left
//! behind; stop unloads them all: the tasks they confined become unconfined.
//!
//! Nothing is written under /etc/apparmor.d, so a reboot does not bring old rules back
//! before the agent applies the current ones.
//!
//! Limits (also in [`probe`]'s coverage): processes already running when a profile is
//! first loaded are not confined until they exec; programs with their own, more specific
//! profile keep it; decisions are not reported as alerts yet (denials are audited by the
//! kernel, the eBPF monitor reports audits).

pub mod profile;

/// Said wherever AppArmor is chosen, until its audit records become alerts: a denial by
/// this backend is real but raises no knoxctl alert.
pub const NO_ALERTS: &str = "the operations it denies are refused and written to the kernel's audit log, but raise no knoxctl alert yet";

use super::{
    ApplyReport, Backend, Coverage, EnforceError, Enforcer, Level, Op, Postures, ProbeResult,
};
use crate::policy::normalize::RuleSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where the kernel's AppArmor interface is (securityfs).
pub const SECURITYFS: &str = "/sys/kernel/security/apparmor";

/// `apparmor_parser` on PATH or in the sbin directories (which a non-login PATH lacks).
pub fn parser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].iter().map(PathBuf::from))
        .map(|d| d.join("apparmor_parser"))
        .find(|p| p.is_file())
}

/// Whether the kernel runs AppArmor: the module is enabled and its securityfs directory
/// exists (it is mounted if it was not).
fn kernel_state() -> Result<String, String> {
    let lsms = super::active_lsms();
    let enabled = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if !lsms.split(',').any(|l| l == "apparmor") {
        return Err(format!(
            "AppArmor is not active in this kernel (active LSMs: {lsms}; /sys/module/apparmor/parameters/enabled: {})",
            if enabled.is_empty() {
                "absent"
            } else {
                &enabled
            }
        ));
    }
    if enabled != "Y" {
        return Err(format!(
            "AppArmor is listed in the active LSMs but /sys/module/apparmor/parameters/enabled is {enabled:?}"
        ));
    }
    if !Path::new(SECURITYFS).join(".replace").exists() {
        return Err(format!("{SECURITYFS} has no .replace interface"));
    }
    Ok(lsms)
}

/// Loads (or replaces) the profiles in `text`.
fn load(parser: &Path, text: &str) -> Result<(), String> {
    let mut child = Command::new(parser)
        .args(["--replace", "--skip-cache"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {}: {e}", parser.display()))?;
    let written = child
        .stdin
        .take()
        .expect("piped")
        .write_all(text.as_bytes());
    let out = child
        .wait_with_output()
        .map_err(|e| format!("waiting for {}: {e}", parser.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        // Debian's parser warns on every run where the kernel has no cache interface.
        let err: Vec<&str> = err
            .lines()
            .filter(|l| !l.starts_with("Cache read/write disabled"))
            .collect();
        return Err(format!(
            "{} --replace failed ({}): {}",
            parser.display(),
            out.status,
            err.join("; ")
        ));
    }
    written.map_err(|e| format!("writing the profiles to {}: {e}", parser.display()))
}

/// Loaded profiles whose names start with `knoxctl-`.
pub fn loaded() -> Vec<String> {
    std::fs::read_to_string(Path::new(SECURITYFS).join("profiles"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.rsplit_once(" (").map(|(name, _)| name))
        .filter(|n| n.starts_with(profile::PREFIX))
        .map(str::to_string)
        .collect()
}

/// Unloads one profile by name; tasks it confined become unconfined.
fn unload(name: &str) -> std::io::Result<()> {
    match std::fs::write(Path::new(SECURITYFS).join(".remove"), name.as_bytes()) {
        // Already gone.
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r,
    }
}

/// Unloads every `knoxctl-*` profile.
pub fn unload_all() -> Result<(), String> {
    let mut errors = Vec::new();
    for name in loaded() {
        if let Err(e) = unload(&name) {
            errors.push(format!("{name}: {e}"));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "unloading AppArmor profiles: {}",
            errors.join("; ")
        ))
    }
}

fn try_probe() -> Result<String, String> {
    let parser = parser();
    let tool = match &parser {
        Some(p) => format!("apparmor_parser: {}", p.display()),
        None => "apparmor_parser is not installed (Debian/Ubuntu package apparmor)".into(),
    };
    let lsms = kernel_state().map_err(|e| format!("{e}; {tool}"))?;
    let parser = parser.ok_or(tool)?;
    let name = format!("{}probe", profile::PREFIX);
    load(&parser, &format!("profile {name} {{\n}}\n"))?;
    unload(&name).map_err(|e| format!("unloading the probe profile {name}: {e}"))?;
    Ok(format!(
        "loaded and removed a profile with {} (active LSMs: {lsms})",
        parser.display()
    ))
}

pub fn probe() -> ProbeResult {
    ProbeResult::tried(Backend::Apparmor, try_probe(), coverage)
}

fn coverage(usable: bool) -> Vec<Coverage> {
    Op::ALL
        .iter()
        .map(|&op| {
            let (level, note) = if !usable {
                (Level::None, "AppArmor cannot load profiles here")
            } else {
                match op {
                    Op::Exec => (
                        Level::Enforced,
                        "every program started after the apply runs in knoxctl-host (attached to /**), services started by init included; processes already running are not confined until they exec, and programs with their own, more specific AppArmor profile keep it",
                    ),
                    Op::FileRead | Op::FileWrite => (
                        Level::Enforced,
                        "by path, as the process names it in its mount namespace: a bind mount or another mount namespace gives a file another name that path rules do not cover",
                    ),
                    Op::Create => (Level::Enforced, "creating a file needs write permission on its path"),
                    Op::Unlink => (Level::Enforced, "unlinking needs write permission on the path"),
                    Op::Rename => (
                        Level::Enforced,
                        "both names need write permission; renaming an ancestor directory of a protected path is not refused",
                    ),
                    Op::Network => (
                        Level::Enforced,
                        "socket creation by domain and type (tcp = stream, udp = dgram; sctp and dccp cannot be told apart; DNS rules are not enforced)",
                    ),
                    Op::Capabilities => (Level::Enforced, "capable()"),
                }
            };
            Coverage {
                op,
                level,
                note: note.to_string(),
            }
        })
        .collect()
}

/// The resolved spelling of a path reached through a symlink (AppArmor matches that one).
fn resolve(path: &str) -> Option<String> {
    let r = std::fs::canonicalize(path).ok()?;
    let r = r.to_str()?;
    (r != path).then(|| r.to_string())
}

pub struct AppArmorEnforcer {
    parser: PathBuf,
    postures: Postures,
    /// Profiles this enforcer has loaded.
    loaded: Vec<String>,
}

impl AppArmorEnforcer {
    /// Checks that profiles can be loaded here and unloads what an earlier agent left.
    pub fn start(postures: Postures) -> Result<AppArmorEnforcer, EnforceError> {
        let unsupported = |reason: String| EnforceError::Unsupported {
            backend: Backend::Apparmor,
            reason,
        };
        try_probe().map_err(unsupported)?;
        unload_all().map_err(unsupported)?;
        Ok(AppArmorEnforcer {
            parser: parser().expect("probed"),
            postures,
            loaded: Vec::new(),
        })
    }
}

impl Enforcer for AppArmorEnforcer {
    fn backend(&self) -> Backend {
        Backend::Apparmor
    }

    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError> {
        let p = profile::host_resolved(rules, &self.postures, &resolve);
        let error = |context: String| EnforceError::Io {
            backend: Backend::Apparmor,
            context,
            source: std::io::Error::other("apparmor"),
        };
        let keep: Vec<String> = if p.enforced.is_empty() {
            Vec::new()
        } else {
            load(&self.parser, &p.text).map_err(error)?;
            p.names.clone()
        };
        let mut stale: Vec<String> = self.loaded.clone();
        stale.extend(loaded());
        stale.sort();
        stale.dedup();
        stale.retain(|n| !keep.contains(n));
        for name in &stale {
            unload(name).map_err(|e| error(format!("unloading profile {name}: {e}")))?;
        }
        self.loaded = keep;
        Ok(ApplyReport {
            enforced: p.enforced,
            unenforceable: p.unenforceable,
            notes: p.notes,
        })
    }

    fn stop(&mut self) {
        for name in std::mem::take(&mut self.loaded) {
            if let Err(e) = unload(&name) {
                tracing::warn!(profile = %name, error = %e, "unloading AppArmor profile");
            }
        }
        if let Err(e) = unload_all() {
            tracing::warn!(error = %e, "unloading AppArmor profiles");
        }
    }
}

impl Drop for AppArmorEnforcer {
    fn drop(&mut self) {
        if !self.loaded.is_empty() {
            self.stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_the_kernel_state_and_the_parser() {
        let p = probe();
        assert_eq!(p.backend, Backend::Apparmor);
        if Path::new(SECURITYFS).exists() {
            return; // a kernel with AppArmor: the VM scenarios load profiles for real
        }
        assert!(!p.usable);
        assert!(p.reason.contains("AppArmor is not active"), "{}", p.reason);
        assert!(p.reason.contains("apparmor_parser"), "{}", p.reason);
        assert!(p.coverage.iter().all(|c| c.level == Level::None));
        let err = AppArmorEnforcer::start(Postures::default())
            .err()
            .expect("no AppArmor here");
        assert!(err.to_string().contains("apparmor is not usable"), "{err}");
    }
}
