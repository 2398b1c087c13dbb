//! Applied policies, persisted in the state directory so that a restarted agent (after a
//! crash, a SIGKILL, a reboot) enforces exactly what it enforced before.
//!
//! One file, `policies.json`, replaced atomically (write, fsync, rename, fsync the
//! directory): an apply of several policies is on disk entirely or not at all.
//!
//! Format history. Both versions hold `{version, policies: [{policy, appliedAt, source}]}`;
//! what changed is identity. Version 1 keyed a policy by `namespace/name` or `name`, so a
//! cluster policy replaced the host policy of the same name. Version 2 keys it by kind,
//! namespace and name ([`PolicyId`]) and stores a KubeArmorPolicy without a namespace in
//! `default`. A version 1 file is migrated when it is opened: the original is kept as
//! `policies.json.v1` and version 2 is written, so that a knoxctl that only reads version 1
//! refuses the new file instead of silently merging policies that now coexist.

use crate::policy::{Policy, PolicyId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const FILE: &str = "policies.json";
/// Where a migrated version 1 file is kept.
const V1_BACKUP: &str = "policies.json.v1";
const FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredPolicy {
    pub policy: Policy,
    /// Seconds since the epoch of the last apply that changed it.
    pub applied_at: i64,
    /// Where it came from (`policy.yaml`, `<stdin>`), for `policy list`.
    pub source: String,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    policies: Vec<StoredPolicy>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: corrupt policy state ({msg}); move it aside to start with no policies")]
    Corrupt { path: String, msg: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Version 1 entries under their version 2 identity. Version 1 stored a namespace-less
/// KubeArmorPolicy `x` and `default/x` apart; both are `kubearmorpolicy/default/x` now, and
/// the one applied last is kept (the other is in the backup, and is logged).
fn migrate_v1(policies: Vec<StoredPolicy>) -> BTreeMap<PolicyId, StoredPolicy> {
    let mut out: BTreeMap<PolicyId, StoredPolicy> = BTreeMap::new();
    for mut p in policies {
        p.policy = p.policy.defaulted();
        let id = p.policy.id();
        match out.get(&id) {
            Some(kept) if kept.applied_at > p.applied_at => {
                tracing::warn!(policy = %id, source = %p.source, "policy state migration: an older policy with the same identity was dropped (it stays in {V1_BACKUP})");
            }
            Some(kept) => {
                tracing::warn!(policy = %id, source = %kept.source, "policy state migration: an older policy with the same identity was dropped (it stays in {V1_BACKUP})");
                out.insert(id, p);
            }
            None => {
                out.insert(id, p);
            }
        }
    }
    out
}

/// Writes a file only root reads, and syncs it.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    f.write_all(bytes).map_err(io(path))?;
    f.sync_all().map_err(io(path))
}

pub struct PolicyState {
    dir: PathBuf,
    pub policies: BTreeMap<PolicyId, StoredPolicy>,
}

impl PolicyState {
    /// Opens (creating, mode 0700) the state directory and loads the applied policies,
    /// migrating a version 1 file (see the module docs).
    pub fn open(state_dir: &Path) -> Result<PolicyState, StateError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(io(state_dir))?;
        let path = state_dir.join(FILE);
        let corrupt = |msg: String| StateError::Corrupt {
            path: path.display().to_string(),
            msg,
        };
        let mut state = PolicyState {
            dir: state_dir.to_path_buf(),
            policies: BTreeMap::new(),
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(state),
            Err(e) => return Err(io(&path)(e)),
        };
        let disk: OnDisk = serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        match disk.version {
            1 => {
                let migrated = migrate_v1(disk.policies);
                let backup = state_dir.join(V1_BACKUP);
                write_private(&backup, &bytes)?;
                state.replace(migrated)?;
                tracing::info!(
                    policies = state.policies.len(),
                    "policy state migrated from format version 1 to {FORMAT_VERSION} (the original is kept as {V1_BACKUP})"
                );
            }
            FORMAT_VERSION => {
                for p in disk.policies {
                    let p = StoredPolicy {
                        policy: p.policy.defaulted(),
                        ..p
                    };
                    let id = p.policy.id();
                    if state.policies.insert(id.clone(), p).is_some() {
                        return Err(corrupt(format!("{id} is stored twice")));
                    }
                }
            }
            v => {
                return Err(corrupt(format!(
                    "format version {v} (this knoxctl reads 1 and {FORMAT_VERSION})"
                )));
            }
        }
        Ok(state)
    }

    /// Writes `policies` as the new state, atomically, and adopts it.
    pub fn replace(
        &mut self,
        policies: BTreeMap<PolicyId, StoredPolicy>,
    ) -> Result<(), StateError> {
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let disk = OnDisk {
            version: FORMAT_VERSION,
            policies: policies.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&disk).expect("policies serialize");
        write_private(&tmp, &bytes)?;
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io(&self.dir))?;
        self.policies = policies;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::validate::{Options, validate_bytes};

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("knoxctl-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn stored(yaml: &str, applied_at: i64) -> StoredPolicy {
        let policy = validate_bytes("p.yaml", yaml.as_bytes(), Options::default())
            .policies()
            .next()
            .unwrap_or_else(|| panic!("invalid test policy: {yaml}"))
            .clone();
        StoredPolicy {
            policy,
            applied_at,
            source: "p.yaml".into(),
        }
    }

    const HOST: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process: {matchPaths: [{path: /bin/x}]}\n";
    const CLUSTER: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorClusterPolicy\nmetadata: {name: p}\nspec:\n  process: {matchPaths: [{path: /bin/y}]}\n";
    const NO_NS: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {name: c}\nspec:\n  selector: {matchLabels: {app: a}}\n  process: {matchPaths: [{path: /bin/z}]}\n";
    const DEFAULT_NS: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {name: c, namespace: default}\nspec:\n  selector: {matchLabels: {app: b}}\n  process: {matchPaths: [{path: /bin/z}]}\n";

    #[test]
    fn persists_and_reloads() {
        let dir = scratch("reload");
        let mut s = PolicyState::open(&dir).unwrap();
        assert!(s.policies.is_empty());
        let host = stored(HOST, 1);
        let cluster = stored(CLUSTER, 2);
        s.replace(BTreeMap::from([
            (host.policy.id(), host.clone()),
            (cluster.policy.id(), cluster.clone()),
        ]))
        .unwrap();
        let again = PolicyState::open(&dir).unwrap();
        assert_eq!(again.policies.len(), 2, "same name, different kinds");
        assert_eq!(again.policies[&host.policy.id()], host);
        assert_eq!(again.policies[&cluster.policy.id()], cluster);
        let disk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(FILE)).unwrap()).unwrap();
        assert_eq!(disk["version"], 2);
        std::fs::write(dir.join(FILE), "{").unwrap();
        assert!(matches!(
            PolicyState::open(&dir),
            Err(StateError::Corrupt { .. })
        ));
        std::fs::write(dir.join(FILE), r#"{"version":3,"policies":[]}"#).unwrap();
        let e = PolicyState::open(&dir).err().unwrap().to_string();
        assert!(
            e.contains("format version 3 (this knoxctl reads 1 and 2)"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A file as version 1 wrote it: keys were not stored, a namespace-less KubeArmorPolicy
    /// had no namespace, and `c` and `default/c` were two policies.
    #[test]
    fn version_1_files_migrate_on_open() {
        let dir = scratch("v1");
        std::fs::create_dir_all(&dir).unwrap();
        let v1 = serde_json::json!({
            "version": 1,
            "policies": [stored(HOST, 1), stored(NO_NS, 5), stored(DEFAULT_NS, 3)],
        });
        let v1_bytes = serde_json::to_vec_pretty(&v1).unwrap();
        std::fs::write(dir.join(FILE), &v1_bytes).unwrap();

        let s = PolicyState::open(&dir).unwrap();
        let ids: Vec<String> = s.policies.keys().map(|i| i.to_string()).collect();
        assert_eq!(
            ids,
            ["kubearmorpolicy/default/c", "kubearmorhostpolicy/p"],
            "the later of c and default/c is kept"
        );
        let c = &s.policies.values().next().unwrap();
        assert_eq!(c.applied_at, 5);
        assert_eq!(c.policy.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(std::fs::read(dir.join(V1_BACKUP)).unwrap(), v1_bytes);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(V1_BACKUP))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "as private as policies.json");
        let disk: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(FILE)).unwrap()).unwrap();
        assert_eq!(disk["version"], 2, "migrated on open");
        assert_eq!(disk["policies"].as_array().unwrap().len(), 2);

        // Opening again reads version 2 and changes nothing.
        let again = PolicyState::open(&dir).unwrap();
        assert_eq!(again.policies, s.policies);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
