//! Container rule sets in the BPF-LSM maps: one target (1..=[`compile::MAX_CONTAINER_TARGET`])
//! per container, found by the kernel through `knox_cgroup_targets` (the container's
//! cgroup v2 id → its target). A process is the container's when its cgroup is the
//! container's or below it, whatever namespaces it makes (lsm.bpf.c, `subject_begin`).
//!
//! The host's target (0) is never written here, except its `T_CONTAINERS` bit, which
//! says whether any container has a target: with none, the programs do no cgroup lookup
//! at all. Every write holds the maps' lock that the host's applies hold too.
//!
//! Paths in a container's rules are the container's own: the programs walk a path up to
//! the mount namespace's root, which for a process in a container (runc pivots or moves
//! its root over the namespace's) is the container's `/`. Facts about the rule paths
//! (symlinks, inodes) are read inside the container's root ([`ContainerTarget::root`]).

use super::{Maps, kernel_dev, write_target};
use crate::enforce::bpf_lsm::compile::{self, Compiled, PathFacts};
use crate::enforce::{ApplyReport, Backend, ContainerTarget, EnforceError, Postures};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

/// Which container and rule set a target's decisions are about, for the event reader:
/// per target, its last [`KEPT_GENERATIONS`] applies by generation, newest last. An event
/// read after a re-apply still names a rule of the set that decided (its index means
/// nothing in the new one).
pub(super) type Attribution = Arc<RwLock<BTreeMap<u32, Vec<(u32, Arc<ContainerTarget>)>>>>;

/// How many applies of one target its events are attributed over: the programs decide with
/// the generation they read and a re-apply prunes the one before it, so an event in the
/// ring is at most a couple of applies behind; more are kept for bursts of re-applies.
const KEPT_GENERATIONS: usize = 4;

/// Notes that `target`'s decisions under `generation` are about `t`. `fresh`: the target
/// was free, and what a container before this one had there is not this one's.
fn record(a: &Attribution, target: u32, generation: u32, t: Arc<ContainerTarget>, fresh: bool) {
    let mut a = a.write().unwrap_or_else(|p| p.into_inner());
    let kept = a.entry(target).or_default();
    if fresh {
        kept.clear();
    }
    kept.push((generation, t));
    if kept.len() > KEPT_GENERATIONS {
        kept.remove(0);
    }
}

/// The rule set of `target` that generation `generation` made, if still kept.
pub(super) fn attributed(
    a: &Attribution,
    target: u32,
    generation: u32,
) -> Option<Arc<ContainerTarget>> {
    let known = a.read().unwrap_or_else(|p| p.into_inner());
    known
        .get(&target)?
        .iter()
        .find(|(g, _)| *g == generation)
        .map(|(_, t)| t.clone())
}

struct Held {
    target: u32,
    cgroup_id: u64,
}

/// The container side of a running BPF-LSM enforcer (see the module documentation).
pub struct ContainerLsm {
    maps: Arc<Mutex<Maps>>,
    postures: Postures,
    attribution: Attribution,
    /// Container id → its target and the cgroup id that leads to it.
    held: BTreeMap<String, Held>,
    /// The last generation given to a container target. One counter for all of them, and
    /// above what the maps held at start: a target id reused by another container must not
    /// meet the miss cache's entries of the one before (they are keyed by target and
    /// generation).
    generation: u32,
}

fn lock(m: &Mutex<Maps>) -> std::sync::MutexGuard<'_, Maps> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn map_err(what: &'static str) -> impl Fn(aya::maps::MapError) -> EnforceError {
    move |e| super::other(format!("writing {what}"), e)
}

impl ContainerLsm {
    /// Takes over the container side of the maps: whatever a previous agent left there
    /// (targets of containers this agent does not know yet) is removed, so no entry
    /// outlives the container it was made for. Containers get their targets again as
    /// discovery reports them.
    pub(super) fn new(
        maps: Arc<Mutex<Maps>>,
        postures: Postures,
        attribution: Attribution,
    ) -> Result<ContainerLsm, EnforceError> {
        let generation = {
            let mut m = lock(&maps);
            purge(&mut m)?
        };
        Ok(ContainerLsm {
            maps,
            postures,
            attribution,
            held: BTreeMap::new(),
            generation,
        })
    }

    /// Gives the container its rule set (again, when it has one: the old entries stay
    /// until the new ones are live, as for the host).
    pub fn apply(&mut self, t: Arc<ContainerTarget>) -> Result<ApplyReport, EnforceError> {
        let c = &t.container;
        if c.cgroup_id == 0 {
            return Err(EnforceError::Unsupported {
                backend: Backend::BpfLsm,
                reason: "the container's cgroup v2 id is unknown (no cgroup2 hierarchy is mounted, or its process left)".into(),
            });
        }
        let target = match self.held.get(&c.id) {
            Some(h) => h.target,
            None => self.free_target()?,
        };
        let root = t.root.clone();
        let resolve = move |p: &str| facts_in(&root, p);
        let compiled = compile::compile_container(&t.set, &self.postures, target, &resolve);
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        // Named before the kernel can decide with it: every decision gets its container
        // and the rule set its rule index belongs to.
        record(
            &self.attribution,
            target,
            generation,
            t.clone(),
            !self.held.contains_key(&c.id),
        );
        let mut m = lock(&self.maps);
        if let Err(e) = write_target(&mut m, target, generation, &compiled) {
            if !self.held.contains_key(&c.id) {
                // A target no container holds: nothing may stay of it.
                self.generation = self.generation.wrapping_add(1);
                let _ = write_target(&mut m, target, self.generation, &Compiled::default());
                self.attribution
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&target);
            }
            return Err(e);
        }
        m.cgroup_targets
            .insert(c.cgroup_id, target, 0)
            .map_err(map_err("knox_cgroup_targets"))?;
        let old_cgroup = self.held.get(&c.id).map(|h| h.cgroup_id);
        if let Some(old) = old_cgroup.filter(|&o| o != c.cgroup_id) {
            // Restarted in a new cgroup: the old directory is gone, its id must not stay.
            let _ = m.cgroup_targets.remove(&old);
        }
        // After the change, before T_CONTAINERS: cached answers (the host's for the
        // cgroups below this one, included) are void from here on.
        bump_cgroup_epoch(&mut m)?;
        set_containers_flag(&mut m, true)?;
        drop(m);
        self.held.insert(
            c.id.clone(),
            Held {
                target,
                cgroup_id: c.cgroup_id,
            },
        );
        Ok(report(&compiled))
    }

    /// Takes the container's rules away: its processes are the host's again (first, so
    /// that none is judged by a half-removed rule set), then every entry of its target
    /// goes.
    pub fn remove(&mut self, id: &str) {
        let Some(h) = self.held.remove(id) else {
            return;
        };
        self.generation = self.generation.wrapping_add(1);
        let mut m = lock(&self.maps);
        let _ = m.cgroup_targets.remove(&h.cgroup_id);
        // Its processes' cached target goes with the entry, before the target is emptied.
        if let Err(e) = bump_cgroup_epoch(&mut m) {
            tracing::warn!(error = %e, "cached cgroup answers not voided");
        }
        if let Err(e) = write_target(&mut m, h.target, self.generation, &Compiled::default()) {
            tracing::warn!(error = %e, target = h.target, "container target not emptied");
        }
        if self.held.is_empty()
            && let Err(e) = set_containers_flag(&mut m, false)
        {
            tracing::warn!(error = %e, "host target still says containers have rules");
        }
        drop(m);
        self.attribution
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&h.target);
    }

    /// Whether `id` has a target.
    pub fn holds(&self, id: &str) -> bool {
        self.held.contains_key(id)
    }

    fn free_target(&self) -> Result<u32, EnforceError> {
        let used: std::collections::BTreeSet<u32> = self.held.values().map(|h| h.target).collect();
        (1..=compile::MAX_CONTAINER_TARGET)
            .find(|t| !used.contains(t))
            .ok_or_else(|| EnforceError::Unsupported {
                backend: Backend::BpfLsm,
                reason: format!(
                    "bpf-lsm holds at most {} container rule sets",
                    compile::MAX_CONTAINER_TARGET
                ),
            })
    }
}

fn report(c: &Compiled) -> ApplyReport {
    ApplyReport {
        enforced: c.enforced.clone(),
        unenforceable: c.unenforceable.clone(),
        notes: c.notes.clone(),
    }
}

/// Sets or clears `T_CONTAINERS` in the host's entry, keeping its rules and generation.
fn set_containers_flag(m: &mut Maps, on: bool) -> Result<(), EnforceError> {
    let mut t = m.targets.get(&0, 0).unwrap_or_default();
    let flags = if on {
        t.flags | compile::T_CONTAINERS
    } else {
        t.flags & !compile::T_CONTAINERS
    };
    if flags == t.flags {
        return Ok(());
    }
    t.flags = flags;
    m.targets.set(0, t, 0).map_err(map_err("knox_targets"))
}

/// Voids every cgroup answer the programs cached (`knox_cgroup_cache`, lsm.bpf.c): called
/// after each change of `cgroup_targets`. The programs read the epoch before they walk
/// the cgroups, so an answer found during the change carries the epoch before this one.
fn bump_cgroup_epoch(m: &mut Maps) -> Result<(), EnforceError> {
    let epoch = m.cgroup_epoch.get(&0, 0).unwrap_or(0);
    m.cgroup_epoch
        .set(0, epoch.wrapping_add(1), 0)
        .map_err(map_err("knox_cgroup_epoch"))
}

/// Removes every container target's entries; returns the highest generation a target
/// had (a new container's generation starts above it).
fn purge(m: &mut Maps) -> Result<u32, EnforceError> {
    set_containers_flag(m, false)?;
    for k in super::stale(m.cgroup_targets.keys(), |_| false) {
        let _ = m.cgroup_targets.remove(&k);
    }
    // The cache and its epoch are pinned: a previous agent's answers must not survive.
    bump_cgroup_epoch(m)?;
    let mut highest = 0;
    for target in 1..=compile::MAX_CONTAINER_TARGET {
        let Ok(t) = m.targets.get(&target, 0) else {
            continue;
        };
        highest = highest.max(t.generation);
        if t.flags != 0 {
            let zero = super::TargetRaw {
                flags: 0,
                generation: t.generation,
            };
            m.targets
                .set(target, zero, 0)
                .map_err(map_err("knox_targets"))?;
        }
    }
    let theirs = |scope: u32| scope >> 2 != 0;
    for k in super::stale(m.paths.keys(), |k| !theirs(k.data().scope)) {
        let _ = m.paths.remove(&k);
    }
    for k in super::stale(m.sources.keys(), |k| {
        compile::source_owner(k.data().scope) == 0
    }) {
        let _ = m.sources.remove(&k);
    }
    for k in super::stale(m.inodes.keys(), |k| !theirs(k.scope)) {
        let _ = m.inodes.remove(&k);
    }
    for k in super::stale(m.ancestors.keys(), |k| !theirs(k.scope)) {
        let _ = m.ancestors.remove(&k);
    }
    for k in super::stale(m.dir_ids.keys(), |k| !theirs(k.scope)) {
        let _ = m.dir_ids.remove(&k);
    }
    for k in super::stale(m.names.keys(), |k| !theirs(k.scope)) {
        let _ = m.names.remove(&k);
    }
    for k in super::stale(m.applets.keys(), |k| !theirs(k.scope)) {
        let _ = m.applets.remove(&k);
    }
    for k in super::stale(m.nums.keys(), |k| !theirs(k.scope)) {
        let _ = m.nums.remove(&k);
    }
    Ok(highest)
}

/// [`PathFacts`] of `path` as the container sees it: symlinks resolved inside `root`
/// (an absolute link must not lead the agent to the host's file of that name), the
/// canonical path container-relative, inode facts of what is there.
fn facts_in(root: &Path, path: &str) -> PathFacts {
    use std::os::unix::fs::MetadataExt;
    let inside = crate::container::resolve_in_root(root, path);
    let real = root.join(inside.trim_start_matches('/'));
    let canonical = (inside != path.trim_end_matches('/') && !inside.is_empty()).then_some(inside);
    // Not followed: every link was resolved inside the root above, and one swapped in
    // since would lead outside it.
    let meta = std::fs::symlink_metadata(&real).ok();
    let real_str = real.to_string_lossy();
    let id = |m: &std::fs::Metadata| (kernel_dev(m.dev()), m.ino(), super::generation(&real_str));
    PathFacts {
        canonical,
        inode: meta.as_ref().filter(|m| m.is_file()).map(id),
        dir: meta.as_ref().filter(|m| m.is_dir()).map(id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str) -> Arc<ContainerTarget> {
        Arc::new(ContainerTarget {
            container: crate::container::Container {
                name: name.into(),
                ..Default::default()
            },
            set: crate::policy::normalize::RuleSet::from_policies(&[]),
            root: "/".into(),
        })
    }

    #[test]
    fn decisions_are_attributed_to_the_apply_that_made_their_rules() {
        let a = Attribution::default();
        record(&a, 3, 10, target("first"), true);
        record(&a, 3, 11, target("second"), false);
        // An event of generation 10 read after the re-apply names the first rule set.
        assert_eq!(attributed(&a, 3, 10).unwrap().container.name, "first");
        assert_eq!(attributed(&a, 3, 11).unwrap().container.name, "second");
        assert!(attributed(&a, 4, 11).is_none());
        for g in 12..12 + KEPT_GENERATIONS as u32 {
            record(&a, 3, g, target("later"), false);
        }
        assert!(attributed(&a, 3, 10).is_none(), "kept too many generations");
        // A new container on the freed target inherits none of the old attributions.
        record(&a, 3, 20, target("new"), true);
        assert!(attributed(&a, 3, 15).is_none());
        assert_eq!(attributed(&a, 3, 20).unwrap().container.name, "new");
    }

    #[test]
    fn facts_are_read_inside_the_root() {
        let dir = std::env::temp_dir().join(format!("knoxctl-lsm-root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("usr/bin")).unwrap();
        std::fs::write(dir.join("usr/bin/x"), b"x").unwrap();
        // Absolute, as in a merged-/usr image: resolved inside the root, never on the host.
        std::os::unix::fs::symlink("/usr/bin", dir.join("bin")).unwrap();
        let f = facts_in(&dir, "/bin/x");
        assert_eq!(f.canonical.as_deref(), Some("/usr/bin/x"));
        assert!(f.inode.is_some());
        let f = facts_in(&dir, "/usr/bin/");
        assert_eq!(f.canonical, None);
        assert!(f.dir.is_some());
        assert_eq!(facts_in(&dir, "/nope"), PathFacts::default());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
