//! Enforcement inside containers: which applied policies select each registered
//! container, the rule set they make for it, and the enforcer that holds it — a target of
//! its own in BPF-LSM's maps when the host runs BPF-LSM and the container has a cgroup v2
//! id ([`super::container_lsm`]), its AppArmor profile `knoxctl-c-NAME` when the host runs
//! AppArmor and the container's runtime started it in that profile
//! ([`container_apparmor`]), else one fanotify group per container (fanotify marks
//! the container's own files through its root and judges that container's processes only).
//!
//! [`ContainerEnforcement::sync`] is the one place where rules follow containers: called
//! when the OCI hook registers a container (before its entrypoint runs, which is what
//! closes KubeArmor's start window), when discovery sees a container start, change or
//! stop, and after every policy change. A container whose identity and selected policies
//! did not change keeps its group untouched.

use super::container_lsm;
use super::container_monitor::ContainerIndex;
use super::core::HostRules;
use crate::container::{Container, select};
use crate::enforce::apparmor::containers::{self as container_apparmor, AppArmorSide};
use crate::enforce::bpf_lsm::containers::ContainerLsm;
use crate::enforce::fanotify::{FanotifyEnforcer, Options};
use crate::enforce::{ApplyReport, ContainerTarget, EnforcerEvent};
use crate::policy::matcher::Posture;
use crate::policy::normalize::RuleSet;
use crate::policy::{Kind, Policy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

pub type Shared = Arc<Mutex<ContainerEnforcement>>;

pub fn lock(s: &Shared) -> std::sync::MutexGuard<'_, ContainerEnforcement> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// What `knoxctl containers` shows of a container's enforcement.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Enforcement {
    /// `BPF-LSM`, `fanotify`, or empty when nothing enforces this container's rules.
    pub backend: String,
    /// Rules of the container's rule set.
    pub rules: usize,
    pub enforced: usize,
    /// Rules not enforced, each with the reason (`rule N (field): why`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unenforceable: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Why nothing is enforced (no fanotify, the container's root cannot be reached).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub error: String,
    /// With the AppArmor backend: the profile knoxctl loaded for this container
    /// (`knoxctl-c-NAME`), which its runtime must start it in.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apparmor_profile: String,
    /// The AppArmor label the container's init process ran under at the last sync
    /// (`knoxctl-c-NAME`, `docker-default`, `unconfined`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub apparmor_label: String,
}

/// What a container was given, and what decides whether to give it again.
struct Applied {
    /// The identity and policies the rules were made from: a change of any re-applies.
    pid: u32,
    name: String,
    image: String,
    labels: BTreeMap<String, String>,
    policies: Vec<Policy>,
    /// The AppArmor label of the init process: a change (the runtime exec'd the
    /// entrypoint in its profile) re-applies.
    label: Option<String>,
    state: Enforcement,
    /// Marked through the bundle's rootfs before the runtime pivoted: without the
    /// container's own mounts (volumes, /etc/hosts). Applied again once it has pivoted.
    provisional: bool,
    /// The rules as the monitor judges the container's events (None: nothing applied).
    monitor: Option<Arc<HostRules>>,
}

pub struct ContainerEnforcement {
    enforcer: Option<FanotifyEnforcer>,
    /// The host's BPF-LSM enforcer's container side, when that is the host's backend.
    lsm: Option<ContainerLsm>,
    /// Why no container is enforced, when fanotify could not start.
    unavailable: String,
    /// The applied policies that can select containers.
    policies: Vec<Policy>,
    applied: BTreeMap<String, Applied>,
    posture: Posture,
    /// Where the monitor learns which process is in which container.
    index: Arc<ContainerIndex>,
    /// The containers' AppArmor profiles, when the host's backend is AppArmor.
    apparmor: AppArmorSide,
}

impl ContainerEnforcement {
    /// Starts the container enforcer; its decisions go to `events` like the host's.
    /// `monitor_only`: the agent was told not to block anything, containers included.
    pub fn start(
        events: SyncSender<EnforcerEvent>,
        posture: Posture,
        monitor_only: bool,
        lsm: Option<ContainerLsm>,
        index: Arc<ContainerIndex>,
    ) -> ContainerEnforcement {
        let started = if monitor_only {
            Err("the agent runs with the monitor-only enforcer".to_string())
        } else {
            FanotifyEnforcer::start_with(events, Options::new(posture)).map_err(|e| e.to_string())
        };
        let (enforcer, unavailable) = match started {
            Ok(e) => (Some(e), String::new()),
            Err(e) => {
                tracing::warn!(error = %e, "container policies are not enforced");
                (None, format!("not enforced: {e}"))
            }
        };
        ContainerEnforcement {
            enforcer,
            lsm,
            unavailable,
            policies: Vec::new(),
            applied: BTreeMap::new(),
            posture,
            index,
            apparmor: AppArmorSide::default(),
        }
    }

    /// The applied policies, of which those that can select containers are kept.
    pub fn set_policies<'a>(&mut self, all: impl IntoIterator<Item = &'a Policy>) {
        self.policies = all
            .into_iter()
            .filter(|p| p.kind != Kind::KubeArmorHostPolicy)
            .cloned()
            .collect();
    }

    /// Whether a container's AppArmor label changed since its rules were applied (its
    /// runtime exec'd the entrypoint in its profile after the hook registered it): a
    /// cheap /proc read per selected container, for discovery's 2 s tick.
    pub fn labels_changed(&self) -> bool {
        container_apparmor::active().is_some()
            && self.applied.values().any(|a| {
                a.label.is_some()
                    && a.label.as_deref()
                        != Some(
                            container_apparmor::label(a.pid)
                                .unwrap_or_default()
                                .as_str(),
                        )
            })
    }

    /// What enforces `id`'s rules, if policies select it.
    pub fn state(&self, id: &str) -> Option<Enforcement> {
        self.applied.get(id).map(|a| a.state.clone())
    }

    /// Gives every container in `containers` the rules of the policies that select it now,
    /// and takes them from containers that are gone or no longer selected.
    pub fn sync(&mut self, containers: &[Container]) {
        self.sync_some(containers, None);
    }

    /// [`ContainerEnforcement::sync`] for container `id` only (`containers` is still the
    /// whole registry, which the monitor's index follows): what the OCI hook needs while
    /// the runtime waits on it, without re-trying every other container's failed apply.
    pub fn sync_one(&mut self, containers: &[Container], id: &str) {
        self.sync_some(containers, Some(id));
    }

    fn sync_some(&mut self, containers: &[Container], only: Option<&str>) {
        // Taken, not cloned, so the compiled selectors can borrow them while `self`
        // changes; put back below.
        let policies = std::mem::take(&mut self.policies);
        let compiled: Vec<select::Compiled> = policies.iter().map(select::Compiled::new).collect();
        let mut live = std::collections::BTreeSet::new();
        let selections: Vec<(&Container, Vec<Policy>)> = containers
            .iter()
            // Without a verified process the container's files cannot be reached.
            .filter(|c| c.pid != 0 && c.verified)
            .map(|c| {
                let selected: Vec<Policy> = compiled
                    .iter()
                    .filter(|p| p.selects(c))
                    .map(|p| p.policy.clone())
                    .collect();
                (c, selected)
            })
            .filter(|(_, s)| !s.is_empty())
            .collect();
        // Every container's profile, before any container's backend is chosen: whether
        // a container runs in its profile decides it.
        self.apparmor.sync(&compiled, &selections, containers);
        for (c, selected) in selections {
            live.insert(c.id.clone());
            if only.is_some_and(|id| id != c.id) {
                continue;
            }
            // A failed apply (root not reachable yet, no group) is tried again, and one
            // made before the pivot once the process has its own root.
            let root = container_root(c);
            let label = self.apparmor.label(c);
            let same = self.applied.get(&c.id).is_some_and(|a| {
                a.state.error.is_empty()
                    && (!a.provisional || root.as_ref().is_ok_and(|r| !r.provisional))
                    && a.pid == c.pid
                    && a.name == c.name
                    && a.image == c.image
                    && a.labels == c.labels
                    && a.policies == selected
                    && a.label == label
            });
            if same {
                continue;
            }
            let provisional = root.as_ref().is_ok_and(|r| r.provisional);
            let (state, monitor) = self.apply(c, root, &selected);
            self.applied.insert(
                c.id.clone(),
                Applied {
                    pid: c.pid,
                    name: c.name.clone(),
                    image: c.image.clone(),
                    labels: c.labels.clone(),
                    policies: selected,
                    label,
                    state,
                    provisional,
                    monitor,
                },
            );
        }
        let gone: Vec<String> = self
            .applied
            .keys()
            .filter(|id| !live.contains(*id) && only.is_none_or(|o| o == id.as_str()))
            .cloned()
            .collect();
        for id in gone {
            self.applied.remove(&id);
            if let Some(e) = &mut self.enforcer {
                e.remove_container(&id);
            }
            container_lsm::release(self.lsm.as_mut(), &id);
            tracing::info!(id = %&id[..id.len().min(12)], "container rules removed");
        }
        drop(compiled);
        self.policies = policies;
        let rules = self
            .applied
            .iter()
            .filter_map(|(id, a)| Some((id.clone(), a.monitor.clone()?)))
            .collect();
        self.index.publish(containers, &rules);
    }

    fn apply(
        &mut self,
        c: &Container,
        root: Result<Root, String>,
        selected: &[Policy],
    ) -> (Enforcement, Option<Arc<HostRules>>) {
        let (mut state, monitor) = self.apply_backend(c, root, selected);
        describe_apparmor(&self.apparmor, c, &mut state);
        (state, monitor)
    }

    fn apply_backend(
        &mut self,
        c: &Container,
        root: Result<Root, String>,
        selected: &[Policy],
    ) -> (Enforcement, Option<Arc<HostRules>>) {
        let set = RuleSet::from_policies(selected);
        let mut state = Enforcement {
            rules: set.rules.len(),
            ..Enforcement::default()
        };
        if let Some(report) = self.apparmor.confines(c) {
            // The kernel enforces the profile for every process of the container: no
            // other group judges it too.
            container_lsm::release(self.lsm.as_mut(), &c.id);
            if let Some(e) = &mut self.enforcer {
                e.remove_container(&c.id);
            }
            describe(
                &mut state,
                &report,
                &set,
                Some(container_apparmor::NOTE),
                self.index.monitored(),
            );
            state.backend = container_apparmor::BACKEND.into();
            tracing::info!(
                id = %c.short_id(), name = %c.name, profile = %state.apparmor_profile,
                rules = state.rules, enforced = state.enforced, "container rules applied by AppArmor"
            );
            let monitor = HostRules::for_container(set, report, self.posture, true);
            return (state, Some(Arc::new(monitor)));
        }
        if container_lsm::routes(self.lsm.as_ref(), c) {
            let lsm = self.lsm.as_mut().expect("routes() checked it");
            let root = match root {
                Ok(r) => r.path,
                Err(e) => {
                    container_lsm::release(Some(lsm), &c.id);
                    state.error = e;
                    return (state, None);
                }
            };
            let target = Arc::new(ContainerTarget {
                container: c.clone(),
                set,
                root,
            });
            let monitored = self.index.monitored();
            let (state, report) = container_lsm::apply(
                lsm,
                self.enforcer.as_mut(),
                target.clone(),
                state,
                monitored,
            );
            // BPF-LSM reports every decision of the rules it holds from the kernel.
            let monitor = report.map(|r| {
                Arc::new(HostRules::for_container(
                    target.set.clone(),
                    r,
                    self.posture,
                    true,
                ))
            });
            return (state, monitor);
        }
        container_lsm::release(self.lsm.as_mut(), &c.id);
        let Some(enforcer) = &mut self.enforcer else {
            state.error = self.unavailable.clone();
            // Nothing enforces these rules (monitor-only): the monitor reports every one
            // of them, Block rules as `Audit (Block)`.
            let monitor =
                HostRules::for_container(set, ApplyReport::default(), self.posture, false);
            return (state, Some(Arc::new(monitor)));
        };
        let root = match root {
            Ok(r) => r.path,
            Err(e) => {
                enforcer.remove_container(&c.id);
                state.error = e;
                return (state, None);
            }
        };
        let target = Arc::new(ContainerTarget {
            container: c.clone(),
            set,
            root,
        });
        let mut monitor = None;
        match enforcer.apply_container(target.clone()) {
            Ok(report) => {
                // Said only when some rule is not enforced: it is why.
                let note = (!report.unenforceable.is_empty()).then_some(
                    "a fanotify group per container enforces its process and file rules only; with the BPF-LSM backend on the host, containers with a cgroup v2 id get theirs enforced by BPF-LSM, network and capabilities included",
                );
                describe(
                    &mut state,
                    &report,
                    &target.set,
                    note,
                    self.index.monitored(),
                );
                monitor = Some(Arc::new(HostRules::for_container(
                    target.set.clone(),
                    report,
                    self.posture,
                    false,
                )));
                state.backend = "fanotify".into();
                tracing::info!(
                    id = %c.short_id(), name = %c.name, rules = state.rules,
                    enforced = state.enforced, "container rules applied"
                );
            }
            Err(e) => {
                tracing::warn!(id = %c.short_id(), error = %e, "container rules not applied");
                state.error = e.to_string();
            }
        }
        (state, monitor)
    }

    /// What `policy apply` says of a container policy (`id`, `kind/ns/name`) once the
    /// containers have been given its rules.
    pub fn effect(&self, id: &str) -> String {
        if self.enforcer.is_none() && self.lsm.is_none() {
            return format!("stored; container policies are {}", self.unavailable);
        }
        let mut enforced: Vec<String> = Vec::new();
        let mut backends = std::collections::BTreeSet::new();
        let mut failed = Vec::new();
        for a in self.applied.values() {
            if !a.policies.iter().any(|p| p.id().to_string() == id) {
                continue;
            }
            if a.state.error.is_empty() {
                backends.insert(a.state.backend.as_str());
                enforced.push(format!(
                    "{}: {}/{} rules",
                    a.name, a.state.enforced, a.state.rules
                ));
            } else {
                failed.push(format!("{}: {}", a.name, a.state.error));
            }
        }
        let mut text = match enforced.len() {
            0 if failed.is_empty() => {
                "stored; selects no running container (enforced in each selected container as it starts)".to_string()
            }
            0 => "stored".to_string(),
            n => format!(
                "enforced in {n} container{} ({}) by {}",
                if n == 1 { "" } else { "s" },
                enforced.join(", "),
                backends.into_iter().collect::<Vec<_>>().join(" and ")
            ),
        };
        if !failed.is_empty() {
            text.push_str(&format!("; NOT enforced in {}", failed.join("; ")));
        }
        // With AppArmor: the containers that run without their profile, and the profiles
        // loaded ahead for containers the policy names.
        let outside: Vec<String> = (self.applied.values())
            .filter(|a| a.policies.iter().any(|p| p.id().to_string() == id))
            .filter_map(|a| outside_apparmor(&a.name, &a.state))
            .collect();
        if !outside.is_empty() {
            text.push_str(&format!(
                "; running WITHOUT their knoxctl AppArmor profile (a running container's profile cannot be changed): {}",
                outside.join("; ")
            ));
        }
        if let Some(ahead) = self.apparmor.ahead(id) {
            text.push_str("; ");
            text.push_str(&ahead);
        }
        text
    }

    /// Releases every group (the agent stops).
    pub fn stop(&mut self) {
        self.applied.clear();
        self.apparmor.clear();
        if let Some(mut e) = self.enforcer.take() {
            crate::enforce::Enforcer::stop(&mut e);
        }
    }
}

/// What `knoxctl containers` says of a container's rule set once a backend took it:
/// counts, each rule it could not enforce and why, the backend's notes, and — whatever the
/// backend — that syscall rules are audited by the eBPF monitor (or not at all where it
/// does not run), since neither backend refuses syscalls.
pub(super) fn describe(
    state: &mut Enforcement,
    report: &ApplyReport,
    set: &RuleSet,
    backend_note: Option<&str>,
    monitored: bool,
) {
    state.enforced = report.enforced.len();
    let field = |i: usize| set.rules.get(i).map(|r| r.field.as_str()).unwrap_or("?");
    state.unenforceable = report
        .unenforceable
        .iter()
        .map(|(i, why)| format!("rule {i} ({}): {why}", field(*i)))
        .collect();
    state.notes = report.notes.clone();
    state.notes.extend(backend_note.map(str::to_string));
    let syscall_rules = (set.rules.iter().enumerate())
        .filter(|(_, r)| r.category == crate::policy::normalize::Category::Syscall);
    for (i, r) in syscall_rules {
        state.notes.push(if monitored {
            format!(
                "rule {i} ({}): audited by the eBPF monitor (syscalls are observed, not refused)",
                r.field
            )
        } else {
            format!(
                "rule {i} ({}): not audited: the eBPF monitor does not run here",
                r.field
            )
        });
    }
}

/// With the AppArmor backend: `c`'s profile and label in its state, and, when it does not
/// run in its profile, why and what enforces its rules instead.
fn describe_apparmor(side: &AppArmorSide, c: &Container, state: &mut Enforcement) {
    let Some(label) = side.label(c) else { return };
    state.apparmor_label = label.clone();
    match side.profile(c) {
        Some((name, Ok(()))) => {
            if state.backend != container_apparmor::BACKEND {
                let instead = match state.backend.as_str() {
                    "" => "nothing enforces its rules".to_string(),
                    b => format!("{b} enforces what it can of its rules"),
                };
                state.notes.push(format!(
                    "AppArmor: the container runs under {}, not its profile {name} (a runtime sets a container's profile when it starts it): start it with --security-opt apparmor={name} (docker, podman) or runc's process.apparmorProfile; until then {instead}",
                    if label.is_empty() { "?" } else { &label }
                ));
            }
            state.apparmor_profile = name;
        }
        Some((name, Err(e))) => state
            .notes
            .push(format!("AppArmor: its profile {name} is not loaded: {e}")),
        None => {}
    }
}

/// `policy apply`'s words for a container that has a knoxctl AppArmor profile and does not
/// run in it; None otherwise.
fn outside_apparmor(name: &str, state: &Enforcement) -> Option<String> {
    if state.apparmor_profile.is_empty() || state.backend == container_apparmor::BACKEND {
        return None;
    }
    let by = if state.backend.is_empty() {
        "nothing enforces its rules".to_string()
    } else {
        format!("enforced there by {} only", state.backend)
    };
    Some(format!(
        "{name} (runs under {}; start it with --security-opt apparmor={}; {by})",
        if state.apparmor_label.is_empty() {
            "?"
        } else {
            &state.apparmor_label
        },
        state.apparmor_profile
    ))
}

/// Where the agent reaches a container's root.
struct Root {
    path: PathBuf,
    /// The bundle's rootfs, reached before the runtime pivoted into it (the `createRuntime`
    /// hook): without the container's own mounts yet.
    provisional: bool,
}

/// Where the agent reaches the container's root: its init process's root, or, while the
/// runtime has not pivoted into it yet (its root is still the host's), the bundle's rootfs.
fn container_root(c: &Container) -> Result<Root, String> {
    let proc_root = PathBuf::from(format!("/proc/{}/root", c.pid));
    let id = |p: &std::path::Path| std::fs::metadata(p).map(|m| (m.dev(), m.ino())).ok();
    let theirs = id(&proc_root).ok_or_else(|| format!("{} cannot be read", proc_root.display()))?;
    if Some(theirs) != id(std::path::Path::new("/")) {
        return Ok(Root {
            path: proc_root,
            provisional: false,
        });
    }
    if !c.rootfs.is_empty() && id(std::path::Path::new(&c.rootfs)).is_some() {
        return Ok(Root {
            path: PathBuf::from(&c.rootfs),
            provisional: true,
        });
    }
    Err("the container's process still has the host's root and its rootfs is unknown; its rules are applied when its runtime reports it".into())
}
