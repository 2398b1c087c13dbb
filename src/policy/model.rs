//! The typed policy model. It is only built from documents that passed the schema walk,
//! so deserialization cannot fail on shape; unknown fields were already reported and are
//! dropped here, as the API server prunes them.

use super::Kind;
use super::id::PolicyId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    Allow,
    Audit,
    Block,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Allow => "Allow",
            Action::Audit => "Audit",
            Action::Block => "Block",
        })
    }
}

/// severity/tags/message/action, present at spec, section and rule level; the rule's own
/// values win, then the section's, then the spec's (see `normalize`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Info {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Only in syscall rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recursive: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PathRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execname: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub owner_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pts: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<Source>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_args: Vec<String>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirRule {
    pub dir: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub recursive: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub owner_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pts: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<Source>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatternRule {
    pub pattern: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub owner_only: bool,
    #[serde(flatten)]
    pub info: Info,
}

/// `process` and `file` share a shape; `readOnly` only exists in `file` (the schema walk
/// has already refused it in `process`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_paths: Vec<PathRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_directories: Vec<DirRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_patterns: Vec<PatternRule>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolRule {
    pub protocol: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pts: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<Source>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsRule {
    pub domain: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<Source>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkSection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_protocols: Vec<ProtocolRule>,
    #[serde(
        default,
        rename = "matchDNSQueries",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub match_dns_queries: Vec<DnsRule>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilityRule {
    pub capability: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<Source>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesSection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_capabilities: Vec<CapabilityRule>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub syscall: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub recursive: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<Source>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallsSection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_syscalls: Vec<SyscallRule>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_paths: Vec<SyscallRule>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRule {
    pub class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_class: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<i64>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceSection {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_device: Vec<DeviceRule>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Preset {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Expression {
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub operator: String,
    #[serde(default)]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<Expression>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<Selector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<Selector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<ResourceSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<ResourceSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<NetworkSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapabilitiesSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls: Option<SyscallsSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceSection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub presets: Vec<Preset>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apparmor: Option<String>,
    #[serde(flatten)]
    pub info: Info,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub api_version: String,
    pub kind: Kind,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
}

impl Policy {
    /// `namespace/name` for namespaced kinds, `name` otherwise: the label rules carry (in
    /// `explain` and, its last part, in alerts' PolicyName). Not an identity: a host and a
    /// cluster policy may share it (see [`Policy::id`]).
    pub fn key(&self) -> String {
        match (&self.metadata.namespace, self.kind.namespaced()) {
            (Some(ns), true) => format!("{ns}/{}", self.metadata.name),
            _ => self.metadata.name.clone(),
        }
    }

    /// What the policy is stored and found under.
    pub fn id(&self) -> PolicyId {
        PolicyId::of(self)
    }

    /// The policy as the agent stores it, as the API server would: a KubeArmorPolicy
    /// without a namespace is in `default`, and cluster-scoped kinds lose the namespace the
    /// validator already warned is ignored. Comparing stored policies with files needs this
    /// on both sides.
    pub fn defaulted(mut self) -> Policy {
        self.metadata.namespace = self.id().namespace;
        self
    }
}
