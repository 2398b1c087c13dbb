//! Containers' AppArmor profiles (`knoxctl-c-NAME`, [`profile::container`]) while the
//! AppArmor backend enforces the host: what is loaded, loading the ones that changed in
//! one `apparmor_parser --replace`, unloading the ones no longer wanted, and telling the
//! audit reader ([`alerts`]) which container and rule set each profile stands for.
//!
//! A runtime puts a container's first process in a profile when it starts it (docker and
//! podman `--security-opt apparmor=NAME`, runc's `process.apparmorProfile`) and refuses to
//! start it when that profile is not loaded; a running container's profile cannot be
//! changed from outside. So a profile is loaded for every container policies select and
//! also for every container name a selector names literally (`kubearmor.io/container.name:
//! web`), before any such container exists, so that it can be started in it. Replacing a
//! loaded profile changes the rules of the processes it confines at once.
//!
//! The host's enforcer ([`super::AppArmorEnforcer`]) publishes itself here while it runs
//! ([`active`]); its start and stop unload every `knoxctl-*` profile, these included.

use super::alerts::{self, Rules};
use super::profile::{self, Features, Profiles};
use crate::container::{Container, NAME_LABEL, select};
use crate::enforce::{ApplyReport, ContainerTarget, Generation, Postures};
use crate::policy::matcher::{CompileOptions, CompiledRules};
use crate::policy::normalize::{Rule, RuleSet};
use crate::policy::{Kind, Policy};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// What `knoxctl containers` and `policy apply` call this backend.
pub const BACKEND: &str = "AppArmor";

/// Said of a container that runs in its profile.
pub const NOTE: &str = "AppArmor: the container runs in its knoxctl profile, which every process in it inherits; paths are the container's own";

/// What the container side needs of the running AppArmor enforcer.
pub struct Active {
    pub(super) parser: PathBuf,
    pub postures: Postures,
    /// The audit reader's shared state; None where denials raise no alerts.
    pub(super) alerts: Option<Arc<alerts::Shared>>,
}

static ACTIVE: Mutex<Option<Arc<Active>>> = Mutex::new(None);

/// The AppArmor enforcer that runs now, if the host's backend is AppArmor.
pub fn active() -> Option<Arc<Active>> {
    ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

pub(super) fn set_active(a: Option<Arc<Active>>) {
    *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = a;
}

/// A container profile's rules, as the audit reader judges its denials.
pub struct ContainerRules {
    /// The running container (its fields go into the alerts).
    pub target: Arc<ContainerTarget>,
    pub rules: Arc<Rules>,
}

/// One profile to load: for a container name, the rules of the policies that select it,
/// and the running container when there is one.
pub struct Wanted {
    pub name: String,
    pub set: RuleSet,
    pub target: Option<Arc<ContainerTarget>>,
}

/// The container profiles loaded, by profile name, with their text.
#[derive(Default)]
pub struct ContainerProfiles {
    loaded: BTreeMap<String, String>,
}

impl ContainerProfiles {
    /// Makes the loaded container profiles exactly `wanted`'s: the changed ones are loaded
    /// (replaced in place) together, the others unloaded. Returns each wanted profile's
    /// generation result by profile name, or the load's error for all of them.
    pub fn sync(
        &mut self,
        active: &Active,
        wanted: &[Wanted],
    ) -> BTreeMap<String, Result<Profiles, String>> {
        let features = Features::detect();
        let mut out = BTreeMap::new();
        let mut next: BTreeMap<String, String> = BTreeMap::new();
        let mut changed = String::new();
        let mut readers: BTreeMap<String, Arc<ContainerRules>> = BTreeMap::new();
        for w in wanted {
            let p = profile::container(&w.name, &w.set, &active.postures, &features);
            let name = p.names[0].clone();
            if self.loaded.get(&name) != Some(&p.text) {
                // Raw rules the parser refuses: this container keeps what it had, and the
                // others still get theirs.
                if let Err(e) = super::check_raw(&active.parser, &w.set, &p.text) {
                    tracing::warn!(profile = %name, error = %e, "container AppArmor profile not loaded");
                    if let Some(old) = self.loaded.get(&name) {
                        next.insert(name.clone(), old.clone());
                    }
                    out.insert(name, Err(e));
                    continue;
                }
                changed.push_str(&p.text);
            }
            next.insert(name.clone(), p.text.clone());
            if let Some(target) = &w.target {
                readers.insert(
                    name.clone(),
                    Arc::new(ContainerRules {
                        target: target.clone(),
                        rules: Arc::new(judged(&w.set, &p, active.postures)),
                    }),
                );
            }
            out.insert(name, Ok(p));
        }
        if !changed.is_empty()
            && let Err(e) = super::load(&active.parser, &changed)
        {
            tracing::warn!(error = %e, "container AppArmor profiles not loaded");
            // What was loaded before stays (the parser loads all or nothing).
            for v in out.values_mut() {
                *v = Err(e.clone());
            }
            return out;
        }
        for name in self.loaded.keys().filter(|n| !next.contains_key(*n)) {
            if let Err(e) = super::unload(name) {
                tracing::warn!(profile = %name, error = %e, "unloading a container profile");
            }
        }
        if let Some(shared) = &active.alerts {
            shared.set_containers(readers);
        }
        self.loaded = next;
        out
    }

    /// Whether profile `name` is loaded by this side.
    pub fn holds(&self, name: &str) -> bool {
        self.loaded.contains_key(name)
    }

    /// Unloads every container profile (the agent stops enforcing containers).
    pub fn clear(&mut self, active: Option<&Active>) {
        for name in std::mem::take(&mut self.loaded).keys() {
            if let Err(e) = super::unload(name) {
                tracing::warn!(profile = %name, error = %e, "unloading a container profile");
            }
        }
        if let Some(shared) = active.and_then(|a| a.alerts.as_ref()) {
            shared.set_containers(BTreeMap::new());
        }
    }
}

/// The container side of the AppArmor backend, for the agent's container enforcement:
/// each sync loads the profiles of the containers policies select and of the names their
/// selectors name, and answers which container runs in its profile.
#[derive(Default)]
pub struct AppArmorSide {
    profiles: ContainerProfiles,
    /// The last sync's profiles by profile name (Err: the load failed).
    results: BTreeMap<String, Result<Profiles, String>>,
    /// Profiles loaded for names no registered container has: profile → (name, the ids
    /// of the policies that select it).
    ahead: BTreeMap<String, (String, Vec<String>)>,
    active: bool,
}

impl AppArmorSide {
    /// Loads what `selections` (each selected container and its policies) and the
    /// policies' literal container names need, unloads the rest; with no AppArmor backend
    /// running, unloads what it had loaded. A registered container (of `all`) that runs in
    /// its profile keeps it, with no rules once no policy selects it: unloading it would
    /// make the runtime refuse every later exec in the container (`docker exec`, `runc
    /// exec` start the process in the container's profile), as KubeArmor keeps it too.
    pub fn sync(
        &mut self,
        compiled: &[select::Compiled],
        selections: &[(&Container, Vec<Policy>)],
        all: &[Container],
    ) {
        let Some(active) = active() else {
            if self.active {
                self.clear();
            }
            return;
        };
        self.active = true;
        let mut wanted = Vec::new();
        let mut seen = BTreeSet::new();
        for (c, selected) in selections {
            // Two containers with one name (two runtimes): the first one's rules.
            if !seen.insert(profile::container_profile_name(&c.name)) {
                continue;
            }
            let set = RuleSet::from_policies(selected);
            let target = Arc::new(ContainerTarget {
                container: (*c).clone(),
                set: set.clone(),
                root: PathBuf::from(format!("/proc/{}/root", c.pid)),
            });
            wanted.push(Wanted {
                name: c.name.clone(),
                set,
                target: Some(target),
            });
        }
        self.ahead.clear();
        for p in compiled {
            let value = (p.policy.kind == Kind::KubeArmorPolicy)
                .then(|| {
                    p.policy
                        .spec
                        .selector
                        .as_ref()?
                        .match_labels
                        .get(NAME_LABEL)
                })
                .flatten();
            let Some(name) = value.and_then(|v| named(v)) else {
                continue;
            };
            let pname = profile::container_profile_name(name);
            if seen.contains(&pname) || self.ahead.contains_key(&pname) {
                continue;
            }
            let someone = Container {
                name: name.to_string(),
                ..Container::default()
            };
            let selecting: Vec<Policy> = compiled
                .iter()
                .filter(|q| q.selects(&someone))
                .map(|q| q.policy.clone())
                .collect();
            if selecting.is_empty() {
                continue;
            }
            let ids = selecting.iter().map(|q| q.id().to_string()).collect();
            wanted.push(Wanted {
                name: name.to_string(),
                set: RuleSet::from_policies(&selecting),
                target: None,
            });
            self.ahead.insert(pname, (name.to_string(), ids));
        }
        for c in all {
            let pname = profile::container_profile_name(&c.name);
            if c.pid != 0
                && !seen.contains(&pname)
                && !self.ahead.contains_key(&pname)
                && self.profiles.holds(&pname)
                && label(c.pid).as_deref() == Some(pname.as_str())
            {
                seen.insert(pname);
                wanted.push(Wanted {
                    name: c.name.clone(),
                    set: RuleSet::from_policies(&[]),
                    target: None,
                });
            }
        }
        self.results = self.profiles.sync(&active, &wanted);
    }

    /// The AppArmor label `c`'s init process runs under (None: no AppArmor backend).
    pub fn label(&self, c: &Container) -> Option<String> {
        self.active.then(|| label(c.pid).unwrap_or_default())
    }

    /// `c`'s profile name and whether it loaded (Err: why not), with the AppArmor backend.
    pub fn profile(&self, c: &Container) -> Option<(String, Result<(), String>)> {
        let name = profile::container_profile_name(&c.name);
        let r = self.results.get(&name)?;
        Some((name, r.as_ref().map(|_| ()).map_err(Clone::clone)))
    }

    /// What `c`'s profile enforces, when `c` runs in it.
    pub fn confines(&self, c: &Container) -> Option<ApplyReport> {
        let name = profile::container_profile_name(&c.name);
        let Some(Ok(p)) = self.results.get(&name) else {
            return None;
        };
        (label(c.pid).as_deref() == Some(name.as_str())).then(|| ApplyReport {
            enforced: p.enforced.clone(),
            unenforceable: p.unenforceable.clone(),
            notes: p
                .notes
                .iter()
                .filter(|n| !n.contains("confines the container only if"))
                .cloned()
                .collect(),
        })
    }

    /// The profiles loaded ahead for containers policy `id` names, as `policy apply` says
    /// it; None without any.
    pub fn ahead(&self, id: &str) -> Option<String> {
        let names: Vec<String> = (self.ahead.iter())
            .filter(|(p, (_, ids))| {
                ids.iter().any(|i| i == id) && matches!(self.results.get(*p), Some(Ok(_)))
            })
            .map(|(p, (name, _))| format!("{p} for containers named {name}"))
            .collect();
        (!names.is_empty()).then(|| {
            format!(
                "AppArmor profile loaded: {} (start the container with --security-opt apparmor=PROFILE under docker or podman, or runc's process.apparmorProfile)",
                names.join(", ")
            )
        })
    }

    /// Unloads every container profile.
    pub fn clear(&mut self) {
        let active = active();
        self.profiles.clear(active.as_deref());
        self.results.clear();
        self.ahead.clear();
        self.active = false;
    }
}

/// The rules a container profile's denials are judged with: those it holds.
fn judged(set: &RuleSet, p: &Profiles, postures: Postures) -> Rules {
    let enforced = &p.enforced;
    let skip = |i: usize, _: &Rule| !enforced.contains(&i);
    let compiled = CompiledRules::with_options(
        set,
        postures.file,
        &CompileOptions {
            resolve: None,
            skip: Some(&skip),
        },
    );
    Rules {
        generation: Generation::default(),
        set: set.clone(),
        compiled,
    }
}

/// The AppArmor label process `pid` runs under (`knoxctl-c-web`, `docker-default`,
/// `unconfined`), without the mode (` (enforce)`); None when it cannot be read.
pub fn label(pid: u32) -> Option<String> {
    // attr/apparmor/current is AppArmor's own (Linux 5.8+, with LSM stacking); attr/current
    // is the first major LSM's.
    let text = std::fs::read_to_string(format!("/proc/{pid}/attr/apparmor/current"))
        .or_else(|_| std::fs::read_to_string(format!("/proc/{pid}/attr/current")))
        .ok()?;
    let text = text.trim_end_matches(['\n', '\0']).trim();
    let label = match text.rsplit_once(" (") {
        Some((l, mode)) if mode.ends_with(')') => l,
        _ => text,
    };
    (!label.is_empty()).then(|| label.to_string())
}

/// The container name a selector's `kubearmor.io/container.name` value names literally
/// (`web`, `web$`; `.` and the other regex characters name more than one): a profile is
/// loaded for it before such a container runs, so that it can be started in it.
pub fn named(value: &str) -> Option<&str> {
    let name = value.strip_suffix('$').unwrap_or(value);
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_names_only() {
        assert_eq!(named("web"), Some("web"));
        assert_eq!(named("web$"), Some("web"));
        assert_eq!(named("db_1-x"), Some("db_1-x"));
        // A regex naming many containers, or `.` (any character): no profile of its own.
        assert_eq!(named("web.*"), None);
        assert_eq!(named("a.b"), None);
        assert_eq!(named("^web$"), None);
        assert_eq!(named(""), None);
    }

    #[test]
    fn labels_lose_their_mode() {
        let me = std::process::id();
        // Without AppArmor the file holds nothing (or another LSM's label): no panic.
        let _ = label(me);
        assert_eq!(label(u32::MAX), None);
    }
}
