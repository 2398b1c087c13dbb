//! The containers the agent knows, by id, merged from every source that reported them.
//! Sources differ in what they know: the Docker API has names, images and labels; the OCI
//! hook has the name and image from storage but no labels; a /proc scan has only the id.
//! A richer source's facts are never overwritten by a poorer one's.

use super::Container;
use std::collections::{BTreeMap, BTreeSet};

pub const SOURCE_HOOK: &str = "oci-hook";
pub const SOURCE_SCAN: &str = "cgroup-scan";

/// `docker-api:<socket>`.
pub fn api_source(socket: &std::path::Path) -> String {
    format!("docker-api:{}", socket.display())
}

fn is_api(source: &str) -> bool {
    source.starts_with("docker-api:")
}

#[derive(Clone, Debug, Default)]
pub struct Registry {
    by_id: BTreeMap<String, Container>,
    /// When each entry was last reported, in [`Registry::seq`] ticks.
    reported: BTreeMap<String, u64>,
    seq: u64,
}

impl Registry {
    pub fn list(&self) -> Vec<Container> {
        self.by_id.values().cloned().collect()
    }

    pub fn get(&self, id: &str) -> Option<&Container> {
        self.by_id.get(id)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A mark to hand [`Registry::reconcile`]: what is reported after it is newer than a
    /// list requested after it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Records what `source` says of `c` (whose proc facts are already read).
    pub fn upsert(&mut self, mut c: Container, source: &str) {
        self.seq += 1;
        self.reported.insert(c.id.clone(), self.seq);
        c.sources.clear();
        c.add_source(source);
        let Some(old) = self.by_id.get_mut(&c.id) else {
            c.registered_at_ns = u64::try_from(crate::kernel::clock::now_epoch_ns()).unwrap_or(0);
            self.by_id.insert(c.id.clone(), c);
            return;
        };
        let rank = |s: &str| match s {
            s if is_api(s) => 2,
            SOURCE_HOOK => 1,
            _ => 0,
        };
        let best_old = old.sources.iter().map(|s| rank(s)).max().unwrap_or(0);
        let new_rank = rank(source);
        // A restart's rootfs is its own: a new process without one says nothing of it.
        if !c.rootfs.is_empty() || (c.pid != 0 && c.pid != old.pid) {
            old.rootfs = std::mem::take(&mut c.rootfs);
        }
        // A new process (a restart) or the first verified facts win whoever reports them.
        if c.pid != 0 && (c.pid != old.pid || !old.verified) {
            (
                old.pid,
                old.verified,
                old.cgroup_path,
                old.cgroup_id,
                old.mnt_ns,
                old.pid_ns,
            ) = (
                c.pid,
                c.verified,
                c.cgroup_path,
                c.cgroup_id,
                c.mnt_ns,
                c.pid_ns,
            );
        }
        if new_rank >= best_old {
            if !c.name.is_empty() {
                old.name = c.name;
            }
            if !c.image.is_empty() {
                old.image = c.image;
            }
            if c.runtime != "unknown" && !c.runtime.is_empty() {
                old.runtime = c.runtime;
            }
            if is_api(source) {
                old.labels = c.labels;
            } else {
                old.labels.extend(c.labels);
            }
        }
        if new_rank > 0 || old.sources.iter().all(|s| s == SOURCE_SCAN) {
            old.add_source(source);
        }
        // A scan-only entry that a runtime now reports is the runtime's.
        if new_rank > 0 {
            old.sources.retain(|s| s != SOURCE_SCAN);
        }
    }

    /// The container is gone (stopped, removed): forgotten whoever reported it.
    pub fn remove(&mut self, id: &str) -> Option<Container> {
        self.reported.remove(id);
        self.by_id.remove(id)
    }

    /// After `source` listed its running containers anew (the list requested after
    /// `mark`, a [`Registry::seq`]): what it reported before the mark and no longer lists
    /// has stopped meanwhile (an event missed while the agent was down or the stream
    /// broken). An entry reported after the mark is newer than the list and stays.
    pub fn reconcile(
        &mut self,
        source: &str,
        running: &BTreeSet<String>,
        mark: u64,
    ) -> Vec<String> {
        let gone: Vec<String> = self
            .by_id
            .values()
            .filter(|c| {
                c.sources.iter().any(|s| s == source)
                    && !running.contains(&c.id)
                    && self.reported.get(&c.id).is_none_or(|&at| at <= mark)
            })
            .map(|c| c.id.clone())
            .collect();
        for id in &gone {
            self.remove(id);
        }
        gone
    }

    /// The ids a /proc scan found, with a pid and the runtime their cgroup implies: new
    /// ones become id-only entries; scan-only entries not found any more are dropped.
    pub fn scanned(&mut self, found: &BTreeMap<String, (u32, &'static str)>) -> Vec<String> {
        let gone: Vec<String> = self
            .by_id
            .values()
            .filter(|c| c.sources.iter().all(|s| s == SOURCE_SCAN) && !found.contains_key(&c.id))
            .map(|c| c.id.clone())
            .collect();
        for id in &gone {
            self.remove(id);
        }
        gone
    }

    /// Ids found by a scan that no source knows yet.
    pub fn unknown<'a>(
        &self,
        found: &'a BTreeMap<String, (u32, &'static str)>,
    ) -> Vec<(&'a String, u32, &'static str)> {
        found
            .iter()
            .filter(|(id, _)| !self.by_id.contains_key(*id))
            .map(|(id, (pid, rt))| (id, *pid, *rt))
            .collect()
    }

    /// Entries whose process is gone or now belongs to something else: their container
    /// stopped without anyone telling (no event, no poststop). `alive(c)` checks /proc.
    pub fn prune(&mut self, alive: impl Fn(&Container) -> bool) -> Vec<String> {
        let gone: Vec<String> = self
            .by_id
            .values()
            .filter(|c| c.pid != 0 && !alive(c))
            .map(|c| c.id.clone())
            .collect();
        for id in &gone {
            self.remove(id);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str, pid: u32, labels: &[(&str, &str)]) -> Container {
        Container {
            id: id.into(),
            name: name.into(),
            runtime: "podman".into(),
            pid,
            verified: true,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Container::default()
        }
    }

    #[test]
    fn sources_merge_without_losing_facts() {
        let api = "docker-api:/run/podman/podman.sock";
        let mut r = Registry::default();
        r.upsert(c("a", "aaaaaaaaaaaa", 10, &[]), SOURCE_SCAN);
        r.upsert(
            c("a", "web", 10, &[("io.podman.annotations.init", "FALSE")]),
            SOURCE_HOOK,
        );
        assert_eq!(r.get("a").unwrap().sources, vec![SOURCE_HOOK.to_string()]);
        r.upsert(c("a", "web", 10, &[("app", "demo")]), api);
        // The hook's late poorer report (or a scan) does not undo the API's.
        r.upsert(c("a", "aaaaaaaaaaaa", 10, &[]), SOURCE_SCAN);
        r.upsert(c("a", "web", 10, &[("x", "y")]), SOURCE_HOOK);
        let got = r.get("a").unwrap();
        assert_eq!(got.name, "web");
        assert_eq!(got.labels.len(), 1);
        assert_eq!(got.labels["app"], "demo");
        assert_eq!(got.sources, vec![api.to_string(), SOURCE_HOOK.to_string()]);
        // A rename reported by the API is taken.
        r.upsert(c("a", "web2", 10, &[("app", "demo")]), api);
        assert_eq!(r.get("a").unwrap().name, "web2");
        // A restart: the new pid wins, and the old start's rootfs is forgotten.
        let mut hooked = c("a", "web2", 10, &[("app", "demo")]);
        hooked.rootfs = "/var/lib/containers/storage/overlay/x/merged".into();
        r.upsert(hooked, SOURCE_HOOK);
        assert!(!r.get("a").unwrap().rootfs.is_empty());
        r.upsert(c("a", "web2", 10, &[("app", "demo")]), api);
        assert!(!r.get("a").unwrap().rootfs.is_empty(), "same process: kept");
        r.upsert(c("a", "web2", 11, &[("app", "demo")]), SOURCE_HOOK);
        assert_eq!(r.get("a").unwrap().pid, 11);
        assert!(
            r.get("a").unwrap().rootfs.is_empty(),
            "a new process: not its rootfs"
        );
    }

    #[test]
    fn reconcile_scan_and_prune_leave_nothing_stale() {
        let api = "docker-api:/var/run/docker.sock";
        let mut r = Registry::default();
        r.upsert(c("a", "a", 1, &[]), api);
        r.upsert(c("b", "b", 2, &[]), api);
        r.upsert(c("h", "h", 3, &[]), SOURCE_HOOK);
        let mark = r.seq();
        r.upsert(c("n", "n", 4, &[]), api);
        assert_eq!(
            r.reconcile(api, &BTreeSet::from(["a".to_string()]), mark),
            vec!["b".to_string()],
            "n was reported after the list was asked for: it stays"
        );
        r.remove("n");
        assert!(r.get("h").is_some(), "another source's entry stays");
        let found = BTreeMap::from([
            ("s".to_string(), (5, "unknown")),
            ("a".to_string(), (1, "podman")),
        ]);
        assert_eq!(r.unknown(&found), vec![(&"s".to_string(), 5, "unknown")]);
        r.upsert(c("s", "s", 5, &[]), SOURCE_SCAN);
        assert!(r.scanned(&BTreeMap::new()).contains(&"s".to_string()));
        assert!(
            r.get("a").is_some(),
            "the scan forgets only its own entries"
        );
        assert_eq!(r.prune(|c| c.id != "h"), vec!["h".to_string()]);
        assert_eq!(r.len(), 1);
    }
}
