//! KubeArmor policies: the typed model of `security.kubearmor.com/v1` documents, their
//! validation ([`validate`]) and their normalization into rule sets ([`normalize`]).
//!
//! Data flow: YAML bytes → [`crate::yaml`] tree → [`validate`] (CRD schema + semantic
//! checks, with positions) → [`Policy`] → [`normalize::RuleSet`] per target.

pub mod base_abstraction;
pub mod files;
pub mod id;
pub mod matcher;
pub mod model;
pub mod normalize;
pub mod schema;
pub mod suggest;
pub mod syscall_rules;
pub mod syscalls;
pub mod validate;

pub use id::{PolicyId, Reference};
pub use model::*;

use serde::{Deserialize, Serialize};
use std::fmt;

pub const API_VERSION: &str = "security.kubearmor.com/v1";

/// The namespace KubeArmor gives every container outside Kubernetes.
pub const CONTAINER_NAMESPACE: &str = "container_namespace";
/// The selector label a container's name is matched under, as a regular expression (see
/// `crate::container::select`).
pub const CONTAINER_NAME_LABEL: &str = "kubearmor.io/container.name";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    KubeArmorPolicy,
    KubeArmorHostPolicy,
    KubeArmorClusterPolicy,
}

impl Kind {
    pub const ALL: [Kind; 3] = [
        Kind::KubeArmorPolicy,
        Kind::KubeArmorHostPolicy,
        Kind::KubeArmorClusterPolicy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::KubeArmorPolicy => "KubeArmorPolicy",
            Kind::KubeArmorHostPolicy => "KubeArmorHostPolicy",
            Kind::KubeArmorClusterPolicy => "KubeArmorClusterPolicy",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Host policies and cluster policies are cluster-scoped: they carry no namespace.
    pub fn namespaced(self) -> bool {
        self == Kind::KubeArmorPolicy
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
