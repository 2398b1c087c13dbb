//! Which container a cgroup path names. The layouts are those runtimes really create
//! (measured on this project's machines for podman, docker and `ctr`; the others as
//! Tetragon, Falco and Tracee parse them): the id is the runtime's 64-hex id, except for
//! containerd's own `/<namespace>/<id>`, where `ctr` lets the user name the container.

/// What a cgroup path says about its container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CgroupMatch {
    /// The container id: 64 hex for docker, podman, cri-containerd and crio; the name `ctr`
    /// was given under containerd's plain namespaces.
    pub id: String,
    /// The runtime the layout implies.
    pub runtime: &'static str,
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// `prefix<64hex>` or `prefix<64hex>.scope`.
fn prefixed<'a>(component: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = component.strip_prefix(prefix)?;
    let id = rest.strip_suffix(".scope").unwrap_or(rest);
    is_hex64(id).then_some(id)
}

/// The container a cgroup path (as `/proc/<pid>/cgroup` shows it from the host's cgroup
/// namespace) belongs to; None for host processes and for runtimes' helpers (podman's
/// `libpod-conmon-<id>` is the monitor of a container, not inside it).
pub fn parse(path: &str) -> Option<CgroupMatch> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // The innermost component that names a container wins: a container may create
    // sub-cgroups of its own (podman's `…scope/container`, systemd inside).
    for (i, c) in parts.iter().enumerate().rev() {
        if c.starts_with("libpod-conmon-") || c.starts_with("crio-conmon-") {
            return None;
        }
        let found = |id: &str, runtime| {
            Some(CgroupMatch {
                id: id.to_string(),
                runtime,
            })
        };
        if let Some(id) = prefixed(c, "libpod-") {
            return found(id, "podman");
        }
        if let Some(id) = prefixed(c, "docker-") {
            return found(id, "docker");
        }
        if let Some(id) = prefixed(c, "cri-containerd-") {
            return found(id, "containerd");
        }
        if let Some(id) = prefixed(c, "crio-") {
            return found(id, "cri-o");
        }
        // systemd-less cri: `…:cri-containerd:<id>`.
        if let Some((_, id)) = c.rsplit_once(":cri-containerd:")
            && is_hex64(id)
        {
            return found(id, "containerd");
        }
        if is_hex64(c) {
            let parent = if i > 0 { parts[i - 1] } else { "" };
            let runtime = match parent {
                "docker" => "docker",
                "libpod_parent" => "podman",
                _ => "unknown",
            };
            return found(c, runtime);
        }
    }
    // containerd's own namespaces, `ctr -n NS run … ID`: exactly `/<ns>/<id>`, where
    // systemd's units (`.service`, `.slice`, `.scope`) never are.
    if let [ns, id] = parts.as_slice() {
        let unit = |s: &str| {
            [".service", ".slice", ".scope", ".mount"]
                .iter()
                .any(|u| s.ends_with(u))
        };
        let plain = |s: &str| {
            !s.is_empty()
                && s.len() <= 76
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        if !unit(ns) && !unit(id) && plain(ns) && plain(id) && KNOWN_CTR_NAMESPACES.contains(ns) {
            return Some(CgroupMatch {
                id: id.to_string(),
                runtime: "containerd",
            });
        }
    }
    None
}

/// containerd namespaces a host process never sits under by accident. A generic
/// `/<a>/<b>` would also match a user's own cgroups (e.g. `/user/1000`), so only the
/// namespaces containerd's clients use are taken as containers.
const KNOWN_CTR_NAMESPACES: &[&str] = &["default", "moby", "k8s.io", "buildkit", "nerdctl"];

/// The unified (cgroup v2) line of `/proc/<pid>/cgroup`, else the first v1 line that
/// names a container: runc places tasks in both hierarchies at the same path.
pub fn container_of_proc_cgroup(text: &str) -> Option<CgroupMatch> {
    let path_of = |l: &str| l.splitn(3, ':').nth(2).map(str::to_string);
    let unified = text
        .lines()
        .find(|l| l.starts_with("0::"))
        .and_then(path_of);
    if let Some(m) = unified.as_deref().and_then(parse) {
        return Some(m);
    }
    text.lines().filter_map(path_of).find_map(|p| parse(&p))
}

/// The unified hierarchy's path of a process (`0::` line), if it has one.
pub fn unified_path(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3f2a9c1d0b8e7f6a5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b";

    fn id_of(path: &str) -> Option<(String, &'static str)> {
        parse(path).map(|m| (m.id, m.runtime))
    }

    #[test]
    fn every_layout_of_the_research() {
        let cases: Vec<(String, Option<&str>)> = vec![
            // Measured here: podman (cgroupfs manager), docker, ctr.
            (format!("/libpod_parent/libpod-{ID}"), Some("podman")),
            (format!("/docker/{ID}"), Some("docker")),
            // systemd cgroup managers.
            (format!("/system.slice/docker-{ID}.scope"), Some("docker")),
            (format!("/machine.slice/libpod-{ID}.scope"), Some("podman")),
            (
                format!("/machine.slice/libpod-{ID}.scope/container"),
                Some("podman"),
            ),
            // rootless podman.
            (
                format!(
                    "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{ID}.scope"
                ),
                Some("podman"),
            ),
            // Kubernetes-style runtimes.
            (
                format!(
                    "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-{ID}.scope"
                ),
                Some("containerd"),
            ),
            (
                format!("/kubepods/besteffort/pod1/crio-{ID}.scope"),
                Some("cri-o"),
            ),
            (
                format!("/system.slice/containerd.service/kubepods-pod1.slice:cri-containerd:{ID}"),
                Some("containerd"),
            ),
            // A container's own sub-cgroup (systemd inside a container).
            (format!("/docker/{ID}/init.scope"), Some("docker")),
        ];
        for (path, runtime) in cases {
            assert_eq!(id_of(&path), runtime.map(|r| (ID.to_string(), r)), "{path}");
        }
    }

    #[test]
    fn containerd_plain_namespaces_give_the_ctr_name() {
        assert_eq!(
            id_of("/default/ctr1"),
            Some(("ctr1".to_string(), "containerd"))
        );
        assert_eq!(
            id_of(&format!("/moby/{ID}")),
            Some((ID.to_string(), "unknown"))
        );
    }

    #[test]
    fn host_processes_and_helpers_are_not_containers() {
        for path in [
            "/",
            "/init.scope",
            "/system.slice/ssh.service",
            "/user.slice/user-1000.slice/session-3.scope",
            "/user/1000",
            &format!("/libpod_parent/libpod-conmon-{ID}"),
            &format!("/machine.slice/libpod-conmon-{ID}.scope"),
            &format!("/docker/{}", &ID[..12]),
            &format!("/docker/{}", ID.to_uppercase()),
            "/system.slice/containerd.service",
        ] {
            assert_eq!(parse(path), None, "{path}");
        }
    }

    #[test]
    fn proc_cgroup_prefers_the_unified_line() {
        let text = format!("12:pids:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/docker/{ID}\n");
        assert_eq!(container_of_proc_cgroup(&text).unwrap().id, ID);
        // Pure v1: the unified line is the root, a v1 line names the container.
        let v1 = format!("0::/\n4:memory:/libpod_parent/libpod-{ID}\n");
        assert_eq!(container_of_proc_cgroup(&v1).unwrap().runtime, "podman");
        assert_eq!(container_of_proc_cgroup("0::/init.scope\n"), None);
        assert_eq!(unified_path("1:cpu:/x\n0::/a/b\n").as_deref(), Some("/a/b"));
    }
}
