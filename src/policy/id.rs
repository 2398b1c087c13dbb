//! Policy identity: which applied policy a document defines and which one a name typed on
//! the command line refers to.
//!
//! As in Kubernetes, every kind has its own name space: a policy is identified by its kind,
//! its namespace (KubeArmorPolicy only; a missing one is `default`, as kubectl assumes) and
//! its name. Host and cluster policies are cluster-scoped and have no namespace, so a
//! KubeArmorClusterPolicy can never replace the KubeArmorHostPolicy of the same name.
//!
//! One printed form is used everywhere (`apply`, `list`, `delete`, `diff`) and accepted back
//! by `get` and `delete`: `kubearmorhostpolicy/NAME`, `kubearmorclusterpolicy/NAME`,
//! `kubearmorpolicy/NAMESPACE/NAME`. References may also be shorter (see [`Reference`]).

use super::{Kind, Policy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The namespace of a KubeArmorPolicy that names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// What a policy is stored and found under.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PolicyId {
    pub kind: Kind,
    /// Only for namespaced kinds; always set for them.
    pub namespace: Option<String>,
    pub name: String,
}

impl PolicyId {
    pub fn of(p: &Policy) -> PolicyId {
        let namespace = p.kind.namespaced().then(|| {
            p.metadata
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_string())
        });
        PolicyId {
            kind: p.kind,
            namespace,
            name: p.metadata.name.clone(),
        }
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.as_str().to_ascii_lowercase();
        match &self.namespace {
            Some(ns) => write!(f, "{kind}/{ns}/{}", self.name),
            None => write!(f, "{kind}/{}", self.name),
        }
    }
}

impl Kind {
    /// The kind a command-line word names, case-insensitively: the kind itself, its plural,
    /// either with the API group suffix, KubeArmor's CRD short names (`ksp`, `hsp`, `csp`)
    /// and `hostpolicy`/`clusterpolicy`.
    pub fn from_alias(word: &str) -> Option<Kind> {
        let w = word.to_ascii_lowercase();
        let w = w.strip_suffix(".security.kubearmor.com").unwrap_or(&w);
        match w {
            "kubearmorpolicy" | "kubearmorpolicies" | "ksp" => Some(Kind::KubeArmorPolicy),
            "kubearmorhostpolicy"
            | "kubearmorhostpolicies"
            | "hsp"
            | "hostpolicy"
            | "hostpolicies" => Some(Kind::KubeArmorHostPolicy),
            "kubearmorclusterpolicy"
            | "kubearmorclusterpolicies"
            | "csp"
            | "clusterpolicy"
            | "clusterpolicies" => Some(Kind::KubeArmorClusterPolicy),
            _ => None,
        }
    }
}

/// A policy as typed by a user; parts left out match anything.
///
/// - `NAME`: any kind, any namespace;
/// - `KIND/NAME`: that kind (any namespace for KubeArmorPolicy);
/// - `NAMESPACE/NAME`: a KubeArmorPolicy (the form earlier versions printed);
/// - `KIND/NAMESPACE/NAME`: exactly one KubeArmorPolicy.
///
/// `A/B` reads `A` as a kind when it is one, else as a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    pub kind: Option<Kind>,
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("'{0}' is not a policy reference: write NAME, KIND/NAME or KIND/NAMESPACE/NAME")]
    Malformed(String),
    #[error(
        "'{0}' is not a policy kind: use kubearmorpolicy (ksp), kubearmorhostpolicy (hsp) or kubearmorclusterpolicy (csp)"
    )]
    UnknownKind(String),
    #[error("{kind} is cluster-scoped and has no namespace: write {}/{name}", kind.as_str().to_ascii_lowercase())]
    ClusterScoped { kind: Kind, name: String },
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, ReferenceError> {
        let parts: Vec<&str> = text.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(ReferenceError::Malformed(text.to_string()));
        }
        let kind = |word: &str| {
            Kind::from_alias(word).ok_or_else(|| ReferenceError::UnknownKind(word.to_string()))
        };
        match parts.as_slice() {
            [name] => Ok(Reference {
                kind: None,
                namespace: None,
                name: name.to_string(),
            }),
            [first, name] => Ok(match Kind::from_alias(first) {
                Some(k) => Reference {
                    kind: Some(k),
                    namespace: None,
                    name: name.to_string(),
                },
                None => Reference {
                    kind: Some(Kind::KubeArmorPolicy),
                    namespace: Some(first.to_string()),
                    name: name.to_string(),
                },
            }),
            [k, ns, name] => {
                let k = kind(k)?;
                if !k.namespaced() {
                    return Err(ReferenceError::ClusterScoped {
                        kind: k,
                        name: name.to_string(),
                    });
                }
                Ok(Reference {
                    kind: Some(k),
                    namespace: Some(ns.to_string()),
                    name: name.to_string(),
                })
            }
            _ => Err(ReferenceError::Malformed(text.to_string())),
        }
    }

    pub fn matches(&self, id: &PolicyId) -> bool {
        id.name == self.name
            && self.kind.is_none_or(|k| k == id.kind)
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| id.namespace.as_ref() == Some(ns))
    }
}

/// Why a reference names no single applied policy.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error("no applied policy {0} (see `knoxctl policy list`)")]
    NotFound(String),
    #[error("'{reference}' is ambiguous: it names {}; use one of these", join(.candidates))]
    Ambiguous {
        reference: String,
        candidates: Vec<PolicyId>,
    },
}

fn join(ids: &[PolicyId]) -> String {
    ids.iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a reference that matched nothing is described: what it was read as.
fn describe(text: &str, r: &Reference) -> String {
    match (&r.kind, &r.namespace) {
        (None, _) => format!("named '{text}'"),
        (Some(k), None) if k.namespaced() => format!(
            "named '{text}' ({} in any namespace)",
            k.as_str().to_ascii_lowercase()
        ),
        (Some(k), None) => format!("'{text}' ({} {})", k.as_str().to_ascii_lowercase(), r.name),
        (Some(k), Some(ns)) if text.split('/').count() == 2 => format!(
            "'{text}' (read as {}/{ns}/{}: '{ns}' is not a kind)",
            k.as_str().to_ascii_lowercase(),
            r.name
        ),
        (Some(_), Some(_)) => format!("'{text}'"),
    }
}

/// The one id among `ids` that `text` refers to.
pub fn resolve<'a>(
    text: &str,
    ids: impl IntoIterator<Item = &'a PolicyId>,
) -> Result<PolicyId, ResolveError> {
    let r = Reference::parse(text)?;
    let found: Vec<PolicyId> = ids.into_iter().filter(|i| r.matches(i)).cloned().collect();
    match <[PolicyId; 1]>::try_from(found) {
        Ok([one]) => Ok(one),
        Err(found) if found.is_empty() => Err(ResolveError::NotFound(describe(text, &r))),
        Err(candidates) => Err(ResolveError::Ambiguous {
            reference: text.to_string(),
            candidates,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: Kind, ns: Option<&str>, name: &str) -> PolicyId {
        PolicyId {
            kind,
            namespace: ns.map(str::to_string),
            name: name.to_string(),
        }
    }

    #[test]
    fn printed_form_is_accepted_back() {
        let ids = [
            id(Kind::KubeArmorHostPolicy, None, "p"),
            id(Kind::KubeArmorClusterPolicy, None, "p"),
            id(Kind::KubeArmorPolicy, Some("default"), "p"),
            id(Kind::KubeArmorPolicy, Some("shop"), "p"),
            id(Kind::KubeArmorPolicy, Some("shop"), "web"),
        ];
        for i in &ids {
            assert_eq!(resolve(&i.to_string(), &ids).as_ref(), Ok(i), "{i}");
        }
        assert_eq!(ids[0].to_string(), "kubearmorhostpolicy/p");
        assert_eq!(ids[3].to_string(), "kubearmorpolicy/shop/p");
    }

    #[test]
    fn short_forms_and_case() {
        let ids = [
            id(Kind::KubeArmorHostPolicy, None, "p"),
            id(Kind::KubeArmorPolicy, Some("shop"), "web"),
        ];
        for text in ["hsp/p", "HostPolicy/p", "KubeArmorHostPolicy/p", "p"] {
            assert_eq!(resolve(text, &ids), Ok(ids[0].clone()), "{text}");
        }
        for text in [
            "web",
            "shop/web",
            "ksp/web",
            "ksp/shop/web",
            "kubearmorpolicies.security.kubearmor.com/shop/web",
        ] {
            assert_eq!(resolve(text, &ids), Ok(ids[1].clone()), "{text}");
        }
    }

    #[test]
    fn ambiguous_and_missing_say_why() {
        let ids = [
            id(Kind::KubeArmorHostPolicy, None, "p"),
            id(Kind::KubeArmorClusterPolicy, None, "p"),
        ];
        let e = resolve("p", &ids).unwrap_err();
        assert_eq!(
            e.to_string(),
            "'p' is ambiguous: it names kubearmorhostpolicy/p, kubearmorclusterpolicy/p; use one of these"
        );
        assert_eq!(
            resolve("nope/p", &ids).unwrap_err().to_string(),
            "no applied policy 'nope/p' (read as kubearmorpolicy/nope/p: 'nope' is not a kind) (see `knoxctl policy list`)"
        );
        assert_eq!(
            resolve("hsp/q", &ids).unwrap_err().to_string(),
            "no applied policy 'hsp/q' (kubearmorhostpolicy q) (see `knoxctl policy list`)"
        );
        assert!(matches!(
            resolve("hsp/ns/p", &ids),
            Err(ResolveError::Reference(
                ReferenceError::ClusterScoped { .. }
            ))
        ));
        assert!(matches!(
            resolve("a//b", &ids),
            Err(ResolveError::Reference(ReferenceError::Malformed(_)))
        ));
        assert!(matches!(
            resolve("pod/ns/b", &ids),
            Err(ResolveError::Reference(ReferenceError::UnknownKind(_)))
        ));
    }
}
