//! Applied policies, persisted in the state directory so that a restarted agent (after a
//! crash, a SIGKILL, a reboot) enforces exactly what it enforced before.
//!
//! One file, `policies.json`, replaced atomically (write, fsync, rename, fsync the
//! directory): an apply of several policies is on disk entirely or not at all.

use crate::policy::Policy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

const FILE: &str = "policies.json";
const FORMAT_VERSION: u32 = 1;

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

pub struct PolicyState {
    dir: PathBuf,
    pub policies: BTreeMap<String, StoredPolicy>,
}

impl PolicyState {
    /// Opens (creating, mode 0700) the state directory and loads the applied policies.
    pub fn open(state_dir: &Path) -> Result<PolicyState, StateError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state_dir)
            .map_err(io(state_dir))?;
        let path = state_dir.join(FILE);
        let policies = match std::fs::read(&path) {
            Ok(bytes) => {
                let disk: OnDisk =
                    serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
                        path: path.display().to_string(),
                        msg: e.to_string(),
                    })?;
                if disk.version != FORMAT_VERSION {
                    return Err(StateError::Corrupt {
                        path: path.display().to_string(),
                        msg: format!(
                            "format version {} (this knoxctl reads {FORMAT_VERSION})",
                            disk.version
                        ),
                    });
                }
                disk.policies
                    .into_iter()
                    .map(|p| (p.policy.key(), p))
                    .collect()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        Ok(PolicyState {
            dir: state_dir.to_path_buf(),
            policies,
        })
    }

    /// Writes `policies` as the new state, atomically, and adopts it.
    pub fn replace(&mut self, policies: BTreeMap<String, StoredPolicy>) -> Result<(), StateError> {
        let path = self.dir.join(FILE);
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let disk = OnDisk {
            version: FORMAT_VERSION,
            policies: policies.values().cloned().collect(),
        };
        let bytes = serde_json::to_vec_pretty(&disk).expect("policies serialize");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
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

    #[test]
    fn persists_and_reloads() {
        let dir = std::env::temp_dir().join(format!("knoxctl-state-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let yaml = b"apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  process: {matchPaths: [{path: /bin/x}]}\n";
        let policy = validate_bytes("p.yaml", yaml, Options::default())
            .policies()
            .next()
            .unwrap()
            .clone();
        let mut s = PolicyState::open(&dir).unwrap();
        assert!(s.policies.is_empty());
        let stored = StoredPolicy {
            policy,
            applied_at: 1,
            source: "p.yaml".into(),
        };
        s.replace(BTreeMap::from([("p".to_string(), stored.clone())]))
            .unwrap();
        let again = PolicyState::open(&dir).unwrap();
        assert_eq!(again.policies["p"], stored);
        std::fs::write(dir.join(FILE), "{").unwrap();
        assert!(matches!(
            PolicyState::open(&dir),
            Err(StateError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
