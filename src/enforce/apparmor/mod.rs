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
//! Alerts: every denial is an `audit deny` rule, so the kernel writes an audit record of
//! it; [`alerts`] reads those records and reports each as a Block decision of the rule
//! that made it. The backend reports every decision on the rules it enforces (each
//! denial, and with an allow-list under an audit posture each open or exec no Allow rule
//! grants, as a DefaultPosture audit; Allow rules and other allowed operations raise no
//! alert, as with BPF-LSM), so the eBPF monitor stays quiet about them; Audit rules never
//! reach the kernel and stay the monitor's.
//!
//! Containers: while this backend runs, [`containers`] loads a `knoxctl-c-NAME` profile per
//! container that policies select (and per container name a selector names), which the
//! container's runtime must start it in; host applies leave those profiles alone.
//!
//! Limits (also in [`probe`]'s coverage): processes already running when a profile is
//! first loaded are not confined until they exec, and programs with their own, more
//! specific profile keep it: their operations are not refused, but the opens a Block
//! rule names are alerted from the eBPF monitor's events ([`unconfined`]).

pub mod alerts;
pub mod audit;
pub mod containers;
pub mod profile;
pub mod raw_match;
pub mod unconfined;

use super::{
    ApplyReport, Backend, Coverage, EnforceError, Enforcer, EnforcerEvent, Generation, Level, Op,
    Postures, ProbeResult,
};
use crate::policy::matcher::{CompileOptions, CompiledRules};
use crate::policy::normalize::{Rule, RuleSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;

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
    run_parser(parser, &["--replace", "--skip-cache"], text)
}

/// Compiles the profiles in `text` without loading them: Err holds the parser's complaint.
fn compile(parser: &Path, text: &str) -> Result<(), String> {
    run_parser(parser, &["--skip-kernel-load", "--skip-cache"], text)
}

fn run_parser(parser: &Path, args: &[&str], text: &str) -> Result<(), String> {
    let mut child = Command::new(parser)
        .args(args)
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
        // Debian's parser warns on every run where the kernel has no cache interface, and
        // where /etc/apparmor/parser.conf is missing (the VM): neither is the failure.
        let err: Vec<&str> = err
            .lines()
            .filter(|l| {
                !(l.starts_with("Cache read/write disabled")
                    || l.starts_with("Warning from ") && l.contains("parser.conf"))
            })
            .collect();
        return Err(format!(
            "{} {} failed ({}): {}",
            parser.display(),
            args[0],
            out.status,
            err.join("; ")
        ));
    }
    written.map_err(|e| format!("writing the profiles to {}: {e}", parser.display()))
}

/// Checks the raw rules (`spec.apparmor`) of `set` before `text`, the profiles holding
/// them, is loaded: each policy's rules alone in a profile, then `text` whole, compiled
/// and not loaded, so that a rule the parser refuses names its policy and line and
/// nothing is replaced (the parser can refuse one profile of a load after it loaded
/// others).
pub fn check_raw(parser: &Path, set: &RuleSet, text: &str) -> Result<(), String> {
    if set.apparmor.is_empty() {
        return Ok(());
    }
    for raw in &set.apparmor {
        let alone = format!(
            "profile {}raw-check {{\n{}\n}}\n",
            profile::PREFIX,
            raw.lines.join("\n")
        );
        if let Err(e) = compile(parser, &alone) {
            // "... at line N: ...": line 1 is the profile's head.
            let line = e
                .split_once(" at line ")
                .and_then(|(_, rest)| {
                    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    n.parse::<usize>().ok()
                })
                .and_then(|n| n.checked_sub(2))
                .and_then(|i| raw.lines.get(i).map(|l| (i + 1, l)));
            let at = line
                .map(|(n, l)| format!(" (line {n}: {l:?})"))
                .unwrap_or_default();
            return Err(format!(
                "policy {}: spec.apparmor{at}: apparmor_parser refuses these raw rules: {e}",
                raw.policy
            ));
        }
    }
    compile(parser, text).map_err(|e| {
        let policies: Vec<&str> = set.apparmor.iter().map(|r| r.policy.as_str()).collect();
        format!(
            "policies {}: spec.apparmor: apparmor_parser refuses the profiles holding these raw rules: {e}",
            policies.join(", ")
        )
    })
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

/// The profile `probe` loads and removes (its denials are no rule's).
pub const PROBE_PROFILE: &str = "knoxctl-probe";

/// Where this backend's alerts come from here, or why it raises none.
pub fn alert_source() -> Result<String, String> {
    alerts::Source::open().map(|s| s.describe().to_string())
}

fn try_probe() -> Result<String, String> {
    let (parser, lsms) = try_load()?;
    let alerts = alert_source().unwrap_or_else(|why| {
        format!("denials raise no alerts here ({why}): the kernel still refuses them")
    });
    Ok(format!(
        "loaded and removed a profile with {} (active LSMs: {lsms}); {alerts}",
        parser.display()
    ))
}

/// Loads and removes an empty profile: the parser and the kernel's interface work.
/// Returns the parser and the active LSMs.
fn try_load() -> Result<(PathBuf, String), String> {
    let parser = parser();
    let tool = match &parser {
        Some(p) => format!("apparmor_parser: {}", p.display()),
        None => "apparmor_parser is not installed (Debian/Ubuntu package apparmor)".into(),
    };
    let lsms = kernel_state().map_err(|e| format!("{e}; {tool}"))?;
    let parser = parser.ok_or(tool)?;
    let name = PROBE_PROFILE;
    load(&parser, &format!("profile {name} {{\n}}\n"))?;
    unload(name).map_err(|e| format!("unloading the probe profile {name}: {e}"))?;
    Ok((parser, lsms))
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
                        "every program started after the apply runs in knoxctl-host (attached to /**), services started by init included; processes already running are not confined until they exec, and programs with their own, more specific AppArmor profile keep it: their opens that a Block rule names are not refused but alerted by the eBPF monitor (Action Audit (Block), Result Passed)",
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

/// The name the kernel reports for a rule path: resolved, or, when it does not exist yet,
/// its directory resolved (as the fanotify backend does).
fn resolve_for_records(path: &str) -> Option<String> {
    if let Some(r) = resolve(path) {
        return Some(r);
    }
    let p = Path::new(path);
    let parent = std::fs::canonicalize(p.parent()?).ok()?;
    let r = parent.join(p.file_name()?);
    let r = r.to_str()?;
    (r != path).then(|| r.to_string())
}

pub struct AppArmorEnforcer {
    parser: PathBuf,
    postures: Postures,
    /// Profiles this enforcer has loaded.
    loaded: Vec<String>,
    generation: Generation,
    /// Shared with the audit record reader; None where no record source works.
    alerts: Option<(Arc<alerts::Shared>, std::thread::JoinHandle<()>)>,
    /// Where alerts come from, or why there are none.
    alert_note: String,
}

impl AppArmorEnforcer {
    /// Checks that profiles can be loaded here, unloads what an earlier agent left, and
    /// starts reading the kernel's audit records (denials are enforced without them, but
    /// raise no alerts; [`AppArmorEnforcer::alerts`] says which).
    pub fn start(
        postures: Postures,
        events: SyncSender<EnforcerEvent>,
    ) -> Result<AppArmorEnforcer, EnforceError> {
        let unsupported = |reason: String| EnforceError::Unsupported {
            backend: Backend::Apparmor,
            reason,
        };
        try_load().map_err(unsupported)?;
        unload_all().map_err(unsupported)?;
        let (alerts, alert_note) = match alerts::Source::open() {
            Ok(source) => {
                let note = source.describe().to_string();
                let shared = Arc::new(alerts::Shared::new(events));
                match alerts::spawn(source, shared.clone()) {
                    Ok(thread) => (Some((shared, thread)), note),
                    Err(e) => (None, format!("no alerts: starting the audit reader: {e}")),
                }
            }
            Err(why) => (
                None,
                format!("denials raise no alerts here ({why}): the kernel still refuses them"),
            ),
        };
        if alerts.is_some() {
            tracing::info!(source = %alert_note, "AppArmor alerts");
        } else {
            tracing::warn!(reason = %alert_note, "AppArmor denials raise no alerts");
        }
        let parser = parser().expect("probed");
        unconfined::set_active(true);
        containers::set_active(Some(Arc::new(containers::Active {
            parser: parser.clone(),
            postures,
            alerts: alerts.as_ref().map(|(s, _)| s.clone()),
        })));
        Ok(AppArmorEnforcer {
            parser,
            postures,
            loaded: Vec::new(),
            generation: Generation::default(),
            alerts,
            alert_note,
        })
    }

    /// Whether denials become alerts here.
    pub fn alerts(&self) -> bool {
        self.alerts.is_some()
    }

    /// Where alerts come from, or why there are none (for the agent's reason).
    pub fn alert_note(&self) -> &str {
        &self.alert_note
    }

    /// Stops the audit reader after it has read what is queued; container profiles are
    /// no longer loaded from here on.
    fn stop_alerts(&mut self) {
        containers::set_active(None);
        unconfined::set_active(false);
        if let Some((shared, thread)) = self.alerts.take() {
            shared.stop.store(true, Ordering::SeqCst);
            let _ = thread.join();
            let lost = shared.lost.load(Ordering::Relaxed);
            let unattributed = shared.unattributed.load(Ordering::Relaxed);
            if lost + unattributed > 0 {
                tracing::warn!(lost, unattributed, "AppArmor audit records not reported");
            }
        }
    }
}

impl Enforcer for AppArmorEnforcer {
    fn backend(&self) -> Backend {
        Backend::Apparmor
    }

    /// Each enforced rule alerts on every denial, from the kernel's record of it (allowed
    /// operations raise no alert), so the monitor leaves those rules alone and an
    /// AppArmor denial is never also an `Audit (Block)` of the monitor.
    fn reports_every_decision(&self) -> bool {
        true
    }

    fn generation(&self) -> Generation {
        self.generation
    }

    fn dropped_events(&self) -> u64 {
        self.alerts
            .as_ref()
            .map_or(0, |(s, _)| s.dropped.load(Ordering::Relaxed))
    }

    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError> {
        let p = profile::host_resolved(rules, &self.postures, &resolve);
        let error = |context: String| EnforceError::Io {
            backend: Backend::Apparmor,
            context,
            source: std::io::Error::other("apparmor"),
        };
        let keep: Vec<String> = if p.enforced.is_empty() && p.raw.is_empty() {
            Vec::new()
        } else {
            check_raw(&self.parser, rules, &p.text).map_err(error)?;
            load(&self.parser, &p.text).map_err(error)?;
            p.names.clone()
        };
        let mut stale: Vec<String> = self.loaded.clone();
        stale.extend(loaded());
        stale.sort();
        stale.dedup();
        // Containers' profiles are the container side's ([`containers`]).
        stale.retain(|n| !keep.contains(n) && !n.starts_with(profile::CONTAINER_PREFIX));
        for name in &stale {
            unload(name).map_err(|e| error(format!("unloading profile {name}: {e}")))?;
        }
        self.loaded = keep;
        // A process confined by a profile just unloaded is unconfined now.
        unconfined::forget_all();
        self.generation = self.generation.next();
        if let Some((shared, _)) = &self.alerts {
            // The records are judged by the matcher the other backends use, on the rules
            // the profiles hold.
            let enforced = &p.enforced;
            let skip = |i: usize, _: &Rule| !enforced.contains(&i);
            let compiled = CompiledRules::with_options(
                rules,
                self.postures.file,
                &CompileOptions {
                    resolve: Some(&resolve_for_records),
                    skip: Some(&skip),
                },
            );
            shared.set_rules(alerts::Rules {
                generation: self.generation,
                set: rules.clone(),
                compiled,
            });
        }
        Ok(ApplyReport {
            enforced: p.enforced,
            unenforceable: p.unenforceable,
            notes: p.notes,
        })
    }

    fn stop(&mut self) {
        containers::set_active(None);
        for name in std::mem::take(&mut self.loaded) {
            if let Err(e) = unload(&name) {
                tracing::warn!(profile = %name, error = %e, "unloading AppArmor profile");
            }
        }
        if let Err(e) = unload_all() {
            tracing::warn!(error = %e, "unloading AppArmor profiles");
        }
        self.stop_alerts();
    }
}

impl Drop for AppArmorEnforcer {
    fn drop(&mut self) {
        if !self.loaded.is_empty() {
            self.stop();
        }
        self.stop_alerts();
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
        let (tx, _rx) = std::sync::mpsc::sync_channel(1);
        let err = AppArmorEnforcer::start(Postures::default(), tx)
            .err()
            .expect("no AppArmor here");
        assert!(err.to_string().contains("apparmor is not usable"), "{err}");
    }
}
