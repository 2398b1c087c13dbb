//! Container rule sets on BPF-LSM, for [`super::container_enforce`]: when the host's
//! backend is BPF-LSM, a container with a cgroup v2 id gets a target of its own in the
//! programs' maps ([`ContainerLsm`]), so its network and capability rules are enforced
//! too, in the kernel, and `unshare` inside it changes nothing. A container without a
//! cgroup id (no cgroup2 hierarchy) stays with its fanotify group.

use super::container_enforce::{Enforcement, describe};
use crate::container::Container;
use crate::enforce::bpf_lsm::containers::ContainerLsm;
use crate::enforce::fanotify::FanotifyEnforcer;
use crate::enforce::{ApplyReport, ContainerTarget};
use std::sync::Arc;

/// What `knoxctl containers` and `policy apply` call this backend.
pub const BACKEND: &str = "BPF-LSM";

/// How many cgroup levels below the root the programs look a process's container up in
/// (CGROUP_LEVELS in lsm.bpf.c).
const CGROUP_LEVELS: usize = 8;

/// Whether `c`'s rules go to BPF-LSM rather than to a fanotify group: a container deeper
/// than the programs look would be reported enforced while the kernel gave its processes
/// the host's rules, so it keeps its fanotify group.
pub fn routes(lsm: Option<&ContainerLsm>, c: &Container) -> bool {
    let depth = c.cgroup_path.split('/').filter(|s| !s.is_empty()).count();
    lsm.is_some() && c.cgroup_id != 0 && depth <= CGROUP_LEVELS
}

/// Applies `target`'s rule set to its container on BPF-LSM; a fanotify group it may have
/// had (before it had a cgroup id) is released, so one backend decides.
pub fn apply(
    lsm: &mut ContainerLsm,
    fanotify: Option<&mut FanotifyEnforcer>,
    target: Arc<ContainerTarget>,
    mut state: Enforcement,
    monitored: bool,
) -> (Enforcement, Option<ApplyReport>) {
    let c = target.container.clone();
    if let Some(f) = fanotify {
        f.remove_container(&c.id);
    }
    match lsm.apply(target.clone()) {
        Ok(report) => {
            let note = "BPF-LSM decides for every process in the container's cgroup or below it, whatever namespaces it makes; paths are the container's own";
            describe(&mut state, &report, &target.set, Some(note), monitored);
            state.backend = BACKEND.into();
            tracing::info!(
                id = %c.short_id(), name = %c.name, cgroup = c.cgroup_id, rules = state.rules,
                enforced = state.enforced, "container rules applied by BPF-LSM"
            );
            (state, Some(report))
        }
        Err(e) => {
            tracing::warn!(id = %c.short_id(), error = %e, "container rules not applied");
            lsm.remove(&c.id);
            state.error = e.to_string();
            (state, None)
        }
    }
}

/// Takes `id`'s rules out of BPF-LSM, when it had some there (it left BPF-LSM's reach,
/// or is gone).
pub fn release(lsm: Option<&mut ContainerLsm>, id: &str) {
    if let Some(l) = lsm
        && l.holds(id)
    {
        l.remove(id);
    }
}
