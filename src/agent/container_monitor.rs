//! Which container a monitor event's process is in, and the rules the monitor judges it by.
//!
//! The monitor sees every process on the machine. Host rules name the host's files: a
//! container's process opening its own `/etc/passwd` has not touched the host's, so a
//! process in a registered container is never judged by host rules. If policies select its
//! container, it is judged by that container's rule set, for the rules its enforcer does
//! not report itself (syscall rules; rules it could not enforce, as `Audit (Block)`), and
//! its alerts carry the container's fields. Every other process is the host's, as before.
//!
//! Membership is the event's cgroup v2 id (the kernel puts it in each event, so the host's
//! events cost a hash lookup, not a /proc read): the container's own cgroup directly, a
//! cgroup below it (a sub-cgroup, what systemd in a container makes) by reading the
//! process's unified cgroup path once per cgroup id, or, when the process has exited, by
//! finding that id among the containers' cgroup directories — the answer is cached until
//! the containers change. `unshare` of namespaces does not change a process's cgroup, so it
//! does not leave its container this way.

use super::core::HostRules;
use crate::container::Container;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

/// A registered container, and its rules if policies select it.
pub struct Member {
    pub container: Container,
    pub rules: Option<Arc<HostRules>>,
}

/// Told about the containers' rule sets whenever they change (the monitor switches on
/// what they need: file opens, syscalls).
pub type RulesListener = Box<dyn Fn(&[Arc<HostRules>]) + Send + Sync>;

#[derive(Default)]
struct Index {
    /// By the container's own cgroup id.
    by_cgroup: HashMap<u64, Arc<Member>>,
    /// By unified cgroup path, for processes in cgroups below a container's.
    by_path: Vec<(String, Arc<Member>)>,
}

/// Cgroup ids looked up through /proc; beyond this many the cache starts over (a host
/// has far fewer cgroups that run processes).
const CACHE_MAX: usize = 4096;

#[derive(Default)]
pub struct ContainerIndex {
    index: RwLock<Index>,
    /// Cgroup ids below a container's cgroup, or none (the host's): read once each.
    cache: Mutex<HashMap<u64, Option<Arc<Member>>>>,
    cgroup2: Option<PathBuf>,
    listener: Option<RulesListener>,
}

impl ContainerIndex {
    pub fn new(listener: Option<RulesListener>) -> ContainerIndex {
        ContainerIndex {
            cgroup2: crate::container::cgroup2_mount(),
            listener,
            ..ContainerIndex::default()
        }
    }

    /// Replaces what is known: the registered containers, and the rule sets of those that
    /// policies select (by container id).
    pub fn publish(&self, containers: &[Container], rules: &HashMap<String, Arc<HostRules>>) {
        let mut next = Index::default();
        let mut members: Vec<(String, u64, Arc<Member>)> = containers
            .iter()
            .filter(|c| c.verified && c.cgroup_id != 0)
            .map(|c| {
                let member = Arc::new(Member {
                    container: c.clone(),
                    rules: rules.get(&c.id).cloned(),
                });
                (c.cgroup_path.clone(), c.cgroup_id, member)
            })
            .collect();
        // Outermost first: a container registered inside another one's cgroup (a
        // sub-cgroup named like a runtime's) is judged as the outer one, as BPF-LSM's
        // programs judge it (they look the ancestors up from the top).
        members.sort_by_key(|(path, _, _)| path.len());
        for (path, id, _) in &members {
            let outer = members
                .iter()
                .find(|(p, _, _)| p == path || below(path, p))
                .map(|(_, _, m)| m.clone())
                .expect("a path is its own ancestor");
            next.by_cgroup.insert(*id, outer);
        }
        next.by_path = members
            .into_iter()
            .filter(|(path, _, _)| !path.is_empty() && path != "/")
            .map(|(path, _, m)| (path, m))
            .collect();
        {
            let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
            *index = next;
            // Under the index's lock: a lookup never pairs the new index with old answers.
            self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
        }
        if let Some(tell) = &self.listener {
            let mut sets: Vec<Arc<HostRules>> = rules.values().cloned().collect();
            sets.sort_by_key(|r| Arc::as_ptr(r) as usize);
            tell(&sets);
        }
    }

    /// The container `pid` (whose event carried `cgroup_id`) is in; None for the host's
    /// processes.
    pub fn member(&self, pid: u32, cgroup_id: u64) -> Option<Arc<Member>> {
        let index = self.index.read().unwrap_or_else(|p| p.into_inner());
        if index.by_cgroup.is_empty() || cgroup_id == 0 {
            return None;
        }
        if let Some(m) = index.by_cgroup.get(&cgroup_id) {
            return Some(m.clone());
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(known) = cache.get(&cgroup_id) {
            return known.clone();
        }
        let found = match self.path_of(pid, cgroup_id) {
            // by_path is outermost first.
            Some(path) => index
                .by_path
                .iter()
                .find(|(p, _)| below(&path, p))
                .map(|(_, m)| m.clone()),
            // The process exited (what a denied or short-lived one has usually done by
            // the time its event is read) or moved: its cgroup, if it still exists, is
            // found by its id under the containers' cgroups.
            None => {
                // Remembered either way (cgroup ids are not reused, and the cache starts
                // over when the containers change): every event of an exited host
                // process would walk the containers' cgroups again otherwise.
                let root = self.cgroup2.as_ref()?;
                index
                    .by_path
                    .iter()
                    .find(|(p, _)| holds_cgroup(&root.join(p.trim_start_matches('/')), cgroup_id))
                    .map(|(_, m)| m.clone())
            }
        };
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(cgroup_id, found.clone());
        found
    }

    /// `pid`'s unified cgroup path, if it is still the cgroup the event was in (a process
    /// that moved or exited tells nothing about that cgroup id).
    fn path_of(&self, pid: u32, cgroup_id: u64) -> Option<String> {
        use std::os::unix::fs::MetadataExt;
        let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
        let path = crate::container::cgroup::unified_path(&text)?;
        let root = self.cgroup2.as_ref()?;
        let ino = std::fs::metadata(root.join(path.trim_start_matches('/')))
            .ok()?
            .ino();
        (ino == cgroup_id).then_some(path)
    }

    /// Whether a monitor reads events (it tells this index's listener what to trace).
    pub fn monitored(&self) -> bool {
        self.listener.is_some()
    }
}

/// Directories below a container's cgroup searched for an exited process's cgroup: a
/// container makes a handful of sub-cgroups, not thousands.
const WALK_MAX: usize = 1024;

/// Whether the cgroup directory `dir` has a descendant whose id (its inode) is `id`.
fn holds_cgroup(dir: &std::path::Path, id: u64) -> bool {
    use std::os::unix::fs::MetadataExt;
    let mut queue = std::collections::VecDeque::from([dir.to_path_buf()]);
    let mut seen = 0;
    while let Some(d) = queue.pop_front() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.metadata().is_ok_and(|m| m.ino() == id) {
                return true;
            }
            seen += 1;
            if seen >= WALK_MAX {
                return false;
            }
            queue.push_back(e.path());
        }
    }
    false
}

/// Whether cgroup `path` is strictly below `ancestor`.
fn below(path: &str, ancestor: &str) -> bool {
    path.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str, cgroup_path: &str, cgroup_id: u64) -> Container {
        Container {
            id: id.to_string(),
            name: format!("c-{id}"),
            cgroup_path: cgroup_path.to_string(),
            cgroup_id,
            verified: true,
            pid: 1,
            ..Container::default()
        }
    }

    #[test]
    fn a_container_registered_inside_another_is_judged_as_the_outer_one() {
        let index = ContainerIndex::new(None);
        index.publish(
            &[
                container("inner", "/machine/libpod-a/docker-b.scope", 43),
                container("outer", "/machine/libpod-a", 42),
            ],
            &HashMap::new(),
        );
        assert_eq!(index.member(1, 43).unwrap().container.id, "outer");
        assert_eq!(index.member(1, 42).unwrap().container.id, "outer");
    }

    #[test]
    fn an_exited_process_in_a_sub_cgroup_is_found_by_its_cgroups_id() {
        use std::os::unix::fs::MetadataExt;
        // A directory tree stands for the cgroup2 hierarchy: ids are inodes in both.
        let root = std::env::temp_dir().join(format!("knoxctl-cg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("machine/libpod-a/init.scope/deeper")).unwrap();
        std::fs::create_dir_all(root.join("machine/libpod-b/x")).unwrap();
        let ino = |p: &str| std::fs::metadata(root.join(p)).unwrap().ino();
        let index = ContainerIndex {
            cgroup2: Some(root.clone()),
            ..ContainerIndex::default()
        };
        index.publish(
            &[container("a", "/machine/libpod-a", ino("machine/libpod-a"))],
            &HashMap::new(),
        );
        // pid 0 has no /proc entry: the process is gone, only its cgroup's id is left.
        let deep = ino("machine/libpod-a/init.scope/deeper");
        assert_eq!(index.member(0, deep).unwrap().container.id, "a");
        assert!(
            index.cache.lock().unwrap().contains_key(&deep),
            "not cached"
        );
        assert!(
            index.member(0, ino("machine/libpod-b/x")).is_none(),
            "another (unregistered) container's cgroup"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn own_cgroup_is_the_container_and_others_are_the_host() {
        let index = ContainerIndex::new(None);
        assert!(
            index.member(1, 42).is_none(),
            "nothing registered: the host"
        );
        index.publish(&[container("a", "/machine/libpod-a", 42)], &HashMap::new());
        let m = index.member(1, 42).expect("the container's own cgroup");
        assert_eq!(m.container.id, "a");
        assert!(m.rules.is_none());
        assert!(
            index.member(std::process::id(), 0).is_none(),
            "no cgroup id"
        );
    }

    #[test]
    fn a_cgroup_below_the_containers_is_the_container_and_a_lookalike_is_not() {
        // This process's own cgroup stands for "a sub-cgroup": registering its parent's
        // path as a container's makes this process a member; a sibling path does not.
        let Some(cg2) = crate::container::cgroup2_mount() else {
            eprintln!("SKIPPED: no cgroup2 hierarchy here");
            return;
        };
        let me = std::process::id();
        let facts = crate::container::proc_facts(me, Some(&cg2));
        let Some((parent, _)) = facts.cgroup_path.rsplit_once('/') else {
            eprintln!("SKIPPED: cgroup path {:?} has no parent", facts.cgroup_path);
            return;
        };
        if parent.is_empty() {
            eprintln!("SKIPPED: this process is in the root cgroup");
            return;
        }
        let index = ContainerIndex::new(None);
        index.publish(&[container("p", parent, 7)], &HashMap::new());
        let m = index
            .member(me, facts.cgroup_id)
            .expect("below the container's cgroup");
        assert_eq!(m.container.id, "p");
        // Cached: the answer holds without /proc (pid 0 cannot be read).
        assert!(index.member(0, facts.cgroup_id).is_some());

        let lookalike = format!("{parent}x");
        let index = ContainerIndex::new(None);
        index.publish(&[container("q", &lookalike, 7)], &HashMap::new());
        assert!(
            index.member(me, facts.cgroup_id).is_none(),
            "{lookalike} is a sibling"
        );
        // An id the process is not in is looked for under the containers' cgroups; not
        // found there, it is the host's, and remembered so (ids are not reused).
        assert!(index.member(me, facts.cgroup_id + 1_000_000).is_none());
        assert!(
            index
                .cache
                .lock()
                .unwrap()
                .get(&(facts.cgroup_id + 1_000_000))
                .is_some_and(|m| m.is_none()),
            "a host answer was not remembered"
        );
    }
}
