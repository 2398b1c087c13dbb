//! The agent's configuration: /etc/knoxctl/config.yaml, overridden by command-line flags.
//! Errors name the file, the line and the key.

use crate::yaml::{self, Pos, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_CONFIG: &str = "/etc/knoxctl/config.yaml";
pub const DEFAULT_SOCKET: &str = "/run/knoxctl/agent.sock";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/knoxctl";

/// The enforcer's types, owned by `enforce`: the configuration only names them.
pub use crate::enforce::{EnforcerChoice, Postures};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct AlertRetention {
    pub max_age_days: u64,
    pub max_rows: u64,
    /// Bursts folded into summary alerts (`maxPerSecond`, `foldSeconds`); off by default.
    pub throttle: crate::alert::throttle::ThrottleOptions,
}

impl Default for AlertRetention {
    fn default() -> Self {
        AlertRetention {
            max_age_days: 30,
            max_rows: 5_000_000,
            throttle: Default::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Config {
    /// ClusterName in alerts.
    pub cluster_name: String,
    /// Extra host identity labels for nodeSelector matching.
    pub labels: BTreeMap<String, String>,
    pub enforcer: EnforcerChoice,
    pub socket: PathBuf,
    pub state_dir: PathBuf,
    /// A group whose members may use the API besides root.
    pub api_group: Option<String>,
    pub default_posture: Postures,
    pub alerts: AlertRetention,
    /// Where the BPF-LSM enforcer pins its programs and maps (on bpffs).
    pub bpf_pin_dir: PathBuf,
    /// Docker-API sockets to follow for containers (`*` matches one directory); absent:
    /// docker's and podman's default sockets, rootless podman's included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_sockets: Option<Vec<PathBuf>>,
    /// KubeArmor's gRPC API (off by default).
    pub grpc: Grpc,
    /// Where alerts are forwarded (syslog, webhook, Splunk, Elasticsearch, OTLP); none by
    /// default. See [`crate::forward`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forwarders: Vec<crate::forward::ForwarderConfig>,
}

/// KubeArmor's gRPC API (`LogService`, `PolicyService`; src/agent/grpc).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct Grpc {
    pub enabled: bool,
    /// KubeArmor's port on loopback by default; any other address needs `tls`.
    pub address: std::net::SocketAddr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<GrpcTls>,
    /// On loopback, peers that are not root are refused unless this is set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_non_root: bool,
}

impl Default for Grpc {
    fn default() -> Self {
        Grpc {
            enabled: false,
            address: std::net::SocketAddr::from(([127, 0, 0, 1], 32767)),
            tls: None,
            allow_non_root: false,
        }
    }
}

/// PEM files; with `clientCa`, clients must present a certificate it signed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GrpcTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cluster_name: "default".to_string(),
            labels: BTreeMap::new(),
            enforcer: EnforcerChoice::Auto,
            socket: PathBuf::from(DEFAULT_SOCKET),
            state_dir: PathBuf::from(DEFAULT_STATE_DIR),
            api_group: None,
            default_posture: Postures::default(),
            alerts: AlertRetention::default(),
            bpf_pin_dir: PathBuf::from(crate::enforce::bpf_lsm::DEFAULT_PIN_DIR),
            container_sockets: None,
            grpc: Grpc::default(),
            forwarders: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{pos}: {msg}")]
    Invalid { path: String, pos: Pos, msg: String },
}

impl Config {
    /// Reads `path`. A missing file at the default location means "all defaults"; a missing
    /// file the user named is an error.
    pub fn load(path: &Path, explicit: bool) -> Result<Config, ConfigError> {
        let label = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => {
                return Ok(Config::default());
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: label,
                    source,
                });
            }
        };
        Config::parse(&label, &bytes)
    }

    pub fn parse(label: &str, bytes: &[u8]) -> Result<Config, ConfigError> {
        let invalid = |pos, msg: String| ConfigError::Invalid {
            path: label.to_string(),
            pos,
            msg,
        };
        let docs = yaml::load_bytes(bytes)
            .map_err(|e| invalid(e.pos().unwrap_or_default(), e.to_string()))?;
        let Some(doc) = docs.into_iter().find(|d| d.root.value != Value::Null) else {
            return Ok(Config::default());
        };
        let config: Config = serde_json::from_value(doc.root.to_json()).map_err(|e| {
            let msg = e.to_string();
            // serde names the key (`unknown field `x``); point at its line.
            let key = msg.split('`').nth(1).unwrap_or("");
            let pos = find_key(&doc.root, key).unwrap_or(doc.root.pos);
            invalid(pos, msg)
        })?;
        crate::forward::validate(&config.forwarders).map_err(|e| {
            let pos = forwarder_field(&doc.root, e.index, e.field).unwrap_or(doc.root.pos);
            invalid(pos, e.msg)
        })?;
        Ok(config)
    }

    /// The configuration as YAML, for `onboard` to write and `sysdump` to collect.
    pub fn to_yaml(&self) -> String {
        yaml::to_yaml(&serde_json::to_value(self).expect("config serializes"))
    }
}

/// Where `forwarders[index].field` is (or the entry, when the field is absent).
fn forwarder_field(root: &yaml::Node, index: usize, field: &str) -> Option<Pos> {
    let Value::Map(top) = &root.value else {
        return None;
    };
    let list = top.iter().find(|e| e.key == "forwarders")?;
    let Value::Seq(items) = &list.value.value else {
        return Some(list.key_pos);
    };
    let item = items.get(index)?;
    match &item.value {
        Value::Map(entries) => Some(
            entries
                .iter()
                .find(|e| e.key == field)
                .map_or(item.pos, |e| e.value.pos),
        ),
        _ => Some(item.pos),
    }
}

fn find_key(node: &yaml::Node, key: &str) -> Option<Pos> {
    match &node.value {
        Value::Map(entries) => entries.iter().find_map(|e| {
            if e.key == key {
                Some(e.key_pos)
            } else {
                find_key(&e.value, key)
            }
        }),
        Value::Seq(items) => items.iter().find_map(|n| find_key(n, key)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_positions() {
        let c = Config::parse(
            "c.yaml",
            b"clusterName: lab\nlabels: {env: prod}\nenforcer: fanotify\n",
        )
        .unwrap();
        assert_eq!(c.cluster_name, "lab");
        assert_eq!(c.enforcer, EnforcerChoice::Fanotify);
        assert_eq!(c.labels["env"], "prod");
        let e = Config::parse("c.yaml", b"clusterName: lab\nenforcr: auto\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:2:1: unknown field `enforcr`"), "{e}");
        let round = Config::parse("c.yaml", c.to_yaml().as_bytes()).unwrap();
        assert_eq!(round, c);
        assert_eq!(
            Config::load(Path::new("/nonexistent/knoxctl.yaml"), false).unwrap(),
            Config::default()
        );
        assert!(Config::load(Path::new("/nonexistent/knoxctl.yaml"), true).is_err());
    }

    #[test]
    fn grpc_is_off_unless_configured() {
        assert!(!Config::default().grpc.enabled);
        assert_eq!(
            Config::default().grpc.address.to_string(),
            "127.0.0.1:32767"
        );
        let c = Config::parse(
            "c.yaml",
            b"grpc:\n  enabled: true\n  address: 127.0.0.1:4000\n  tls: {cert: /c.pem, key: /k.pem}\n",
        )
        .unwrap();
        assert!(c.grpc.enabled && !c.grpc.allow_non_root);
        assert_eq!(c.grpc.address.port(), 4000);
        assert_eq!(c.grpc.tls.as_ref().unwrap().key, PathBuf::from("/k.pem"));
        assert_eq!(Config::parse("c.yaml", c.to_yaml().as_bytes()).unwrap(), c);
        let e = Config::parse("c.yaml", b"grpc:\n  adress: 127.0.0.1:1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("c.yaml:2:3: unknown field `adress`"), "{e}");
    }

    #[test]
    fn forwarders_parse_and_errors_name_their_line() {
        let text = b"clusterName: lab\nforwarders:\n  - name: siem\n    kind: syslog\n    address: udp://127.0.0.1:514\n  - name: hook\n    kind: webhook\n    address: https://hooks.example/in\n    headers: {X-Token: \"${HOOK_TOKEN}\"}\n";
        let c = Config::parse("c.yaml", text).unwrap();
        assert_eq!(c.forwarders.len(), 2);
        assert_eq!(c.forwarders[0].kind, crate::forward::Kind::Syslog);
        assert_eq!(c.forwarders[0].batch_size, 500);
        assert_eq!(c.forwarders[1].headers["X-Token"], "${HOOK_TOKEN}");
        let round = Config::parse("c.yaml", c.to_yaml().as_bytes()).unwrap();
        assert_eq!(round, c);
        assert!(!Config::default().to_yaml().contains("forwarders"));

        let e = Config::parse(
            "c.yaml",
            b"forwarders:\n  - name: siem\n    kind: syslog\n    address: udp://127.0.0.1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("c.yaml:4:14: address `udp://127.0.0.1`: give HOST:PORT"),
            "{e}"
        );
        let e = Config::parse(
            "c.yaml",
            b"forwarders:\n  - name: siem\n    kind: syslog\n    adress: udp://h:1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("c.yaml:4:5: unknown field `adress`"), "{e}");
        let e = Config::parse(
            "c.yaml",
            b"forwarders:\n  - name: siem\n    kind: kafka\n    address: udp://h:1\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("unknown variant `kafka`"), "{e}");
        let e = Config::parse(
            "c.yaml",
            b"forwarders:\n  - {name: a, kind: syslog, address: \"udp://h:1\"}\n  - {name: a, kind: syslog, address: \"udp://h:1\"}\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("c.yaml:3:"), "{e}");
        assert!(e.contains("used twice"), "{e}");
    }

    #[test]
    fn alert_throttling_is_off_unless_configured() {
        assert_eq!(Config::default().alerts.throttle.max_per_second, 0);
        let c = Config::parse("c.yaml", b"alerts:\n  throttle: {maxPerSecond: 20}\n").unwrap();
        assert_eq!(c.alerts.throttle.max_per_second, 20);
        assert_eq!(c.alerts.throttle.fold_seconds, 10);
        assert_eq!(c.alerts.max_rows, AlertRetention::default().max_rows);
        let e = Config::parse("c.yaml", b"alerts:\n  throttle: {maxPerSec: 20}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `maxPerSec`"), "{e}");
    }
}
