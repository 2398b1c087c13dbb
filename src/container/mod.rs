//! Containers on this host: who they are (runtime id, name, image, labels, init process,
//! cgroup and namespaces), how their identity is read and cross-checked from /proc, which
//! policies select them, and how their runtimes are asked (the Docker Engine API, which
//! docker and podman's service both speak; podman's OCI hook state). The agent keeps the
//! [`registry::Registry`] of them; this module owns the facts and the rules, not the tasks
//! that follow the runtimes.

pub mod cgroup;
pub mod docker;
pub mod hook;
pub mod registry;
pub mod select;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The namespace of containers and the label their name is matched under (a regex, see
/// [`select`]), which `policy validate` checks too.
pub use crate::policy::{CONTAINER_NAME_LABEL as NAME_LABEL, CONTAINER_NAMESPACE};

/// One container as the agent knows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// The runtime's id: 64 hex digits (a `ctr` container's name under containerd's own
    /// namespaces, where the cgroup path is all there is).
    pub id: String,
    /// Without docker's leading `/`; the short id when no runtime said.
    pub name: String,
    /// As the runtime reports it (`localhost/busybox:local`); empty when unknown.
    pub image: String,
    pub labels: BTreeMap<String, String>,
    /// docker, podman, containerd, cri-o, unknown.
    pub runtime: String,
    /// The init process on the host (0 when not known yet).
    pub pid: u32,
    /// The unified hierarchy's path (`/libpod_parent/libpod-<id>`).
    pub cgroup_path: String,
    /// The inode of that cgroup2 directory: what `bpf_get_current_cgroup_id()` returns for
    /// the container's tasks. 0 without a cgroup2 hierarchy.
    pub cgroup_id: u64,
    pub mnt_ns: u64,
    pub pid_ns: u64,
    /// Whether `/proc/<pid>/cgroup` names this id (false: the runtime's pid did not lead
    /// to the container, e.g. it exited and was reused; the cgroup facts are then empty).
    pub verified: bool,
    /// How it was found: `docker-api:<socket>`, `oci-hook`, `cgroup-scan`; several when
    /// more than one source reported it.
    pub sources: Vec<String>,
    /// When the agent first learnt of it (Unix time in nanoseconds): with the hook, before
    /// the entrypoint ran; from the runtime's events, 0.1–0.3 s after it started.
    #[serde(default)]
    pub registered_at_ns: u64,
    /// The root filesystem's path in the host's mount namespace (the OCI bundle's
    /// `root.path`), known from the hook: before the runtime pivots into it, the init
    /// process's `/proc/<pid>/root` is still the host's root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub rootfs: String,
}

impl Container {
    pub fn short_id(&self) -> &str {
        &self.id[..self.id.len().min(12)]
    }

    /// The labels selectors see, as KubeArmor builds them outside Kubernetes: the
    /// runtime's labels, `namespaceName=container_namespace`, and the name under
    /// `kubearmor.io/container.name` unless a label already sets it (a label overrides the
    /// name used for matching, as in KubeArmor's docker handler).
    pub fn identities(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert("namespaceName".into(), CONTAINER_NAMESPACE.into());
        l.entry(NAME_LABEL.into())
            .or_insert_with(|| self.name.clone());
        l
    }

    /// Adds `source` to the ones that reported this container.
    pub fn add_source(&mut self, source: &str) {
        if !self.sources.iter().any(|s| s == source) {
            self.sources.push(source.to_string());
            self.sources.sort();
        }
    }
}

/// What /proc says about a container's process.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProcFacts {
    /// The id the cgroup path names, if any.
    pub cgroup_id_str: Option<String>,
    pub runtime: Option<&'static str>,
    pub cgroup_path: String,
    pub cgroup_id: u64,
    pub mnt_ns: u64,
    pub pid_ns: u64,
}

fn inode(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0)
}

/// Where the cgroup2 hierarchy is mounted (`/sys/fs/cgroup` on unified hosts,
/// `/sys/fs/cgroup/unified` on hybrid ones like this project's CI machines). Read once:
/// the hook path asks for it while a runtime waits.
pub fn cgroup2_mount() -> Option<PathBuf> {
    static MOUNT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    MOUNT
        .get_or_init(|| {
            crate::kernel::fs::mounts()
                .into_iter()
                .find_map(|(fstype, mount)| (fstype == "cgroup2").then_some(mount))
        })
        .clone()
}

/// The facts of `pid` (empty when it has exited).
pub fn proc_facts(pid: u32, cgroup2: Option<&Path>) -> ProcFacts {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
        return ProcFacts::default();
    };
    let found = cgroup::container_of_proc_cgroup(&text);
    let cgroup_path = cgroup::unified_path(&text).unwrap_or_default();
    let cgroup_id = match cgroup2 {
        Some(root) if !cgroup_path.is_empty() => {
            inode(&root.join(cgroup_path.trim_start_matches('/')))
        }
        _ => 0,
    };
    ProcFacts {
        runtime: found.as_ref().map(|m| m.runtime),
        cgroup_id_str: found.map(|m| m.id),
        cgroup_path,
        cgroup_id,
        mnt_ns: inode(Path::new(&format!("/proc/{pid}/ns/mnt"))),
        pid_ns: inode(Path::new(&format!("/proc/{pid}/ns/pid"))),
    }
}

impl Container {
    /// Fills the cgroup and namespace facts from /proc and cross-checks the id: a pid
    /// whose cgroup names another container (or none) leaves them empty and `verified`
    /// false, rather than attaching another process's namespaces to this container.
    pub fn read_proc(&mut self, cgroup2: Option<&Path>) {
        self.verified = false;
        (self.cgroup_path, self.cgroup_id, self.mnt_ns, self.pid_ns) = (String::new(), 0, 0, 0);
        if self.pid == 0 {
            return;
        }
        let f = proc_facts(self.pid, cgroup2);
        if f.cgroup_id_str.as_deref() != Some(self.id.as_str()) {
            return;
        }
        self.verified = true;
        (self.cgroup_path, self.cgroup_id, self.mnt_ns, self.pid_ns) =
            (f.cgroup_path, f.cgroup_id, f.mnt_ns, f.pid_ns);
    }
}

/// Containers the cgroup paths of /proc name, with the lowest pid of each (its init, or
/// the oldest process left): what is known of containers whose runtime has no API here.
pub fn scan_proc() -> BTreeMap<String, (u32, &'static str)> {
    let mut found: BTreeMap<String, (u32, &'static str)> = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if let Some(m) = cgroup::container_of_proc_cgroup(&text) {
            let slot = found.entry(m.id).or_insert((pid, m.runtime));
            if pid < slot.0 {
                slot.0 = pid;
            }
        }
    }
    found
}

/// `path` with its symlinks resolved as a process whose root is `root` sees them: absolute
/// link targets and `..` stay inside `root` (following them through `/proc/<pid>/root`
/// from the agent would land on the host's files). Returns the path inside the root;
/// components that do not exist are kept as written.
pub fn resolve_in_root(root: &Path, path: &str) -> String {
    let mut queue: std::collections::VecDeque<String> =
        path.split('/').map(str::to_string).collect();
    let mut out: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(c) = queue.pop_front() {
        match c.as_str() {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => {
                let inside = format!("{}/{c}", out.join("/"));
                let target = (hops < 40)
                    .then(|| std::fs::read_link(root.join(inside.trim_start_matches('/'))).ok())
                    .flatten();
                match target {
                    Some(t) => {
                        hops += 1;
                        let t = t.to_string_lossy().into_owned();
                        if t.starts_with('/') {
                            out.clear();
                        }
                        for (i, part) in t.split('/').enumerate() {
                            queue.insert(i, part.to_string());
                        }
                    }
                    None => out.push(c),
                }
            }
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let root = std::env::temp_dir().join(format!("knoxctl-root-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::create_dir_all(root.join("etc/alternatives")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("busybox", root.join("usr/bin/sh")).unwrap();
        // Absolute: from the host this would be the host's /etc/alternatives.
        std::os::unix::fs::symlink("/etc/alternatives/awk", root.join("usr/bin/awk")).unwrap();
        std::os::unix::fs::symlink("../../usr/bin/mawk", root.join("etc/alternatives/awk"))
            .unwrap();
        std::os::unix::fs::symlink("/../../..", root.join("escape")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve_in_root(&root, "/bin/sh"), "/usr/bin/busybox");
        assert_eq!(resolve_in_root(&root, "/bin/awk"), "/usr/bin/mawk");
        assert_eq!(resolve_in_root(&root, "/usr/bin/"), "/usr/bin");
        assert_eq!(resolve_in_root(&root, "/escape/etc/passwd"), "/etc/passwd");
        assert_eq!(resolve_in_root(&root, "/a/./b/../c"), "/a/c");
        assert_eq!(resolve_in_root(&root, "/loop"), "/loop");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
