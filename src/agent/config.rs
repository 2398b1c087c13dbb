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
    /// Telemetry, as KubeArmor's visibility settings: which of the monitor's events that
    /// raise no alert are kept as HostLog/ContainerLog records in `logs.db`. None by
    /// default.
    #[serde(skip_serializing_if = "Visibility::is_none")]
    pub visibility: Visibility,
    /// How long those logs are kept.
    #[serde(skip_serializing_if = "LogRetention::is_default")]
    pub logs: LogRetention,
}

/// Which monitor events become logs (`visibility:`): for the host's processes and for
/// those of registered containers, each a list of families (`[process, file]`) or
/// KubeArmor's comma-separated form (`"process,file,network,capabilities"`, `none`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Visibility {
    pub host: Families,
    pub containers: Families,
}

impl Visibility {
    pub fn is_none(&self) -> bool {
        *self == Visibility::default()
    }
}

/// The event families of KubeArmor's visibility settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Families {
    /// Execs (successful or not).
    pub process: bool,
    /// File opens.
    pub file: bool,
    /// connect, accept and bind.
    pub network: bool,
    /// Accepted for KubeArmor's configurations; the monitor has no capability events, so
    /// it adds no logs (the agent says so when it starts).
    pub capabilities: bool,
}

impl Families {
    const NAMES: [&'static str; 4] = ["process", "file", "network", "capabilities"];

    pub fn any(&self) -> bool {
        *self != Families::default()
    }

    fn flags(&self) -> [bool; 4] {
        [self.process, self.file, self.network, self.capabilities]
    }

    fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Families, String> {
        let mut f = Families::default();
        let mut none = false;
        let mut any = false;
        for name in names.into_iter().map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "process" => f.process = true,
                "file" => f.file = true,
                "network" => f.network = true,
                "capabilities" => f.capabilities = true,
                "none" => none = true,
                other => {
                    return Err(format!(
                        "`visibility` family `{other}`: expected process, file, network, \
                         capabilities or none"
                    ));
                }
            }
            any |= name != "none";
        }
        if none && any {
            return Err("`visibility`: none cannot be combined with a family".to_string());
        }
        Ok(f)
    }
}

impl std::fmt::Display for Families {
    /// KubeArmor's form: `process,file`, or `none`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = Self::NAMES
            .iter()
            .zip(self.flags())
            .filter_map(|(n, on)| on.then_some(*n))
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

impl Serialize for Families {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Families {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Families, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Comma(String),
            List(Vec<String>),
        }
        let parsed = match Form::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "`visibility`: give a list of families or a comma-separated string",
            )
        })? {
            Form::Comma(s) => Families::parse(s.split(',')),
            Form::List(l) => Families::parse(l.iter().map(String::as_str)),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

/// Retention of the telemetry store (`logs:`), separate from the alerts': telemetry is
/// far more plentiful and worth less with age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
pub struct LogRetention {
    pub max_age_days: u64,
    pub max_rows: u64,
}

impl Default for LogRetention {
    fn default() -> Self {
        LogRetention {
            max_age_days: 7,
            max_rows: 2_000_000,
        }
    }
}

impl LogRetention {
    fn is_default(&self) -> bool {
        *self == LogRetention::default()
    }
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
            visibility: Visibility::default(),
            logs: LogRetention::default(),
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
    fn visibility_is_none_unless_configured_in_either_form() {
        let d = Config::default();
        assert!(d.visibility.is_none());
        assert!(!d.to_yaml().contains("visibility"), "{}", d.to_yaml());
        let c = Config::parse(
            "c.yaml",
            b"visibility:\n  host: [process, file, network]\n  containers: \"process,capabilities\"\nlogs: {maxRows: 10}\n",
        )
        .unwrap();
        let h = c.visibility.host;
        assert!(h.process && h.file && h.network && !h.capabilities);
        let k = c.visibility.containers;
        assert!(k.process && !k.file && !k.network && k.capabilities);
        assert_eq!(c.logs.max_rows, 10);
        assert_eq!(c.logs.max_age_days, 7);
        assert_eq!(h.to_string(), "process,file,network");
        assert_eq!(Config::parse("c.yaml", c.to_yaml().as_bytes()).unwrap(), c);
        let n = Config::parse("c.yaml", b"visibility: {host: none, containers: []}\n").unwrap();
        assert!(n.visibility.is_none());
        let e = Config::parse("c.yaml", b"clusterName: x\nvisibility:\n  host: proc\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("c.yaml:2:1: `visibility` family `proc`"),
            "{e}"
        );
        let e = Config::parse("c.yaml", b"visibility: {host: \"none,file\"}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("none cannot be combined"), "{e}");
        let e = Config::parse("c.yaml", b"visibility: {hosts: file}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `hosts`"), "{e}");
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
