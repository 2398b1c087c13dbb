//! Podman's OCI hooks: the state a runtime hands a hook on stdin, what it says about the
//! container (with its name and image from containers/storage, where podman keeps them),
//! and the hook definition onboarding installs in `hooks.d`.
//!
//! Measured with podman 4.3.1 and runc: `createRuntime` runs with `status: creating` and
//! the pid of `runc:[2:INIT]`, whose cgroup and namespaces are already the container's
//! and whose entrypoint has not been exec'd yet; `poststop` gets `status: stopped`. Labels
//! are in neither the state nor storage (only in libpod's database): a container the hook
//! registers has the labels of its OCI annotations until the Docker-compatible API, when
//! podman's service runs, fills in the rest.

use super::Container;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Where podman (rootful) keeps its containers' names and images.
pub const PODMAN_STORAGE: &str = "/var/lib/containers/storage";
/// Where podman reads hook definitions with Debian's defaults (a file in
/// `/etc/containers/oci/hooks.d` was measured not to be read).
pub const HOOKS_DIR: &str = "/usr/share/containers/oci/hooks.d";

/// The OCI runtime state (runtime-spec `state`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub pid: u32,
    #[serde(default)]
    pub bundle: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl State {
    /// The container is going away (`poststop`), rather than starting.
    pub fn stopped(&self) -> bool {
        self.status == "stopped"
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("the OCI state is not JSON: {0}")]
    Json(String),
    #[error("the OCI state has no container id")]
    NoId,
}

/// Parses the state a runtime wrote on the hook's stdin.
pub fn parse_state(bytes: &[u8]) -> Result<State, HookError> {
    let s: State = serde_json::from_slice(bytes).map_err(|e| HookError::Json(e.to_string()))?;
    if s.id.is_empty() {
        return Err(HookError::NoId);
    }
    Ok(s)
}

/// Name and image of `id` in containers/storage under `root` (`containers.json` and, for
/// `--rm`/transient containers, `volatile-containers.json`).
pub fn storage_names(root: &Path, id: &str) -> Option<(String, String)> {
    for file in ["containers.json", "volatile-containers.json"] {
        let Ok(bytes) = std::fs::read(root.join("overlay-containers").join(file)) else {
            continue;
        };
        let Ok(list) = serde_json::from_slice::<Vec<serde_json::Value>>(&bytes) else {
            continue;
        };
        let Some(c) = list.iter().find(|c| c["id"] == id) else {
            continue;
        };
        let meta: serde_json::Value = c["metadata"]
            .as_str()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let name = c["names"][0]
            .as_str()
            .or_else(|| meta["name"].as_str())
            .unwrap_or("")
            .to_string();
        let image = meta["image-name"].as_str().unwrap_or("").to_string();
        return Some((name, image));
    }
    None
}

/// The root filesystem a bundle's `config.json` names (`root.path`, relative to the
/// bundle or absolute).
pub fn bundle_rootfs(bundle: &Path) -> Option<String> {
    if bundle.as_os_str().is_empty() {
        return None;
    }
    let bytes = std::fs::read(bundle.join("config.json")).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let root = Path::new(v["root"]["path"].as_str()?);
    Some(bundle.join(root).to_str()?.to_string())
}

/// Annotations that name a container and its image where no storage does: the CRI's
/// (containerd's CRI plugin, then CRI-O's), which runtimes driven by something other than
/// podman carry in the bundle's `config.json` (and so in the hook's state).
pub const NAME_ANNOTATIONS: &[&str] = &[
    "io.kubernetes.cri.container-name",
    "io.kubernetes.cri-o.ContainerName",
];
pub const IMAGE_ANNOTATIONS: &[&str] = &[
    "io.kubernetes.cri.image-name",
    "io.kubernetes.cri-o.ImageName",
];

fn annotation(state: &State, keys: &[&str]) -> String {
    keys.iter()
        .find_map(|k| state.annotations.get(*k).filter(|v| !v.is_empty()))
        .cloned()
        .unwrap_or_default()
}

/// The container a `createRuntime` state describes (name and image from podman's storage
/// when it is there, else from the CRI annotations; the short id when nothing names it).
pub fn container_of(state: &State, storage: &Path) -> Container {
    let (mut name, mut image) = storage_names(storage, &state.id).unwrap_or_default();
    if name.is_empty() {
        name = annotation(state, NAME_ANNOTATIONS);
    }
    if image.is_empty() {
        image = annotation(state, IMAGE_ANNOTATIONS);
    }
    let mut c = Container {
        id: state.id.clone(),
        image,
        // Annotations are the runtime's own labels (`ctr --label`, podman's
        // `io.podman.annotations.*`); kept, as KubeArmor's hook does.
        labels: state.annotations.clone(),
        runtime: if state
            .annotations
            .get("io.container.manager")
            .map(String::as_str)
            == Some("libpod")
        {
            "podman".into()
        } else {
            "unknown".into()
        },
        pid: state.pid,
        rootfs: bundle_rootfs(Path::new(&state.bundle)).unwrap_or_default(),
        ..Container::default()
    };
    c.name = if name.is_empty() {
        c.short_id().to_string()
    } else {
        name
    };
    c
}

/// The hook definition (`hooks.d/knoxctl.json`): run `knoxctl oci-hook` at
/// `createRuntime` (the container's processes exist, its entrypoint has not run) and
/// `poststop`, for every container.
pub fn definition(knoxctl: &Path, socket: &Path) -> String {
    let v = serde_json::json!({
        "version": "1.0.0",
        "hook": {
            "path": knoxctl,
            "args": ["knoxctl", "oci-hook", "--socket", socket],
            // The hook waits at most 2 s for the agent; the runtime kills it after this.
            "timeout": 5,
        },
        "when": {"always": true},
        "stages": ["createRuntime", "poststop"],
    });
    let mut s = serde_json::to_string_pretty(&v).expect("hook definition serializes");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn podman_state_and_storage() {
        let id = "d".repeat(64);
        let s = parse_state(
            format!(r#"{{"ociVersion":"1.0.2-dev","id":"{id}","status":"creating","pid":10626,"bundle":"/b","annotations":{{"io.container.manager":"libpod"}}}}"#).as_bytes(),
        )
        .unwrap();
        assert!(!s.stopped());
        let dir = std::env::temp_dir().join(format!("knoxctl-hook-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("overlay-containers")).unwrap();
        std::fs::write(
            dir.join("overlay-containers/containers.json"),
            format!(r#"[{{"id":"{id}","names":["ubuntu"],"metadata":"{{\"image-name\":\"localhost/busybox:local\",\"name\":\"ubuntu\"}}"}}]"#),
        )
        .unwrap();
        let c = container_of(&s, &dir);
        assert_eq!(
            (c.name.as_str(), c.image.as_str(), c.runtime.as_str(), c.pid),
            ("ubuntu", "localhost/busybox:local", "podman", 10626)
        );
        let c = container_of(&s, Path::new("/nonexistent"));
        assert_eq!(c.name, "dddddddddddd");
        let mut named = s.clone();
        named.annotations.extend([
            (NAME_ANNOTATIONS[0].to_string(), "ubuntu".to_string()),
            (IMAGE_ANNOTATIONS[0].to_string(), "knox/vm:1".to_string()),
        ]);
        let c = container_of(&named, Path::new("/nonexistent"));
        assert_eq!((c.name.as_str(), c.image.as_str()), ("ubuntu", "knox/vm:1"));
        std::fs::write(dir.join("config.json"), br#"{"root":{"path":"rootfs"}}"#).unwrap();
        assert_eq!(
            bundle_rootfs(&dir).as_deref(),
            Some(dir.join("rootfs").to_str().unwrap())
        );
        std::fs::write(dir.join("config.json"), br#"{"root":{"path":"/var/m"}}"#).unwrap();
        assert_eq!(bundle_rootfs(&dir).as_deref(), Some("/var/m"));
        assert_eq!(bundle_rootfs(Path::new("")), None);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(parse_state(b"{}"), Err(HookError::NoId)));
        assert!(matches!(parse_state(b"nope"), Err(HookError::Json(_))));
        let d: serde_json::Value = serde_json::from_str(&definition(
            Path::new("/usr/local/bin/knoxctl"),
            Path::new("/run/knoxctl/agent.sock"),
        ))
        .unwrap();
        assert_eq!(
            d["stages"],
            serde_json::json!(["createRuntime", "poststop"])
        );
        assert_eq!(d["hook"]["args"][3], "/run/knoxctl/agent.sock");
    }
}
