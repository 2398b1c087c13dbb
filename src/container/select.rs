//! Which policies select a container, as KubeArmor decides it outside Kubernetes
//! (`core/unorchestratedUpdates.go`, `common.MatchIdentities`).
//!
//! - A `KubeArmorPolicy` applies to VM containers when its namespace is
//!   `container_namespace` or was left out (stored as `default`); KubeArmor forces every
//!   namespace to `container_namespace`, but a policy written for a Kubernetes namespace is
//!   more likely a mistake here, and `policy validate` warns about it.
//! - `kubearmor.io/container.name: V` is matched as KubeArmor matches it: the identity
//!   string `kubearmor.io/container.name=V` is compiled as an unanchored regex and run
//!   against `kubearmor.io/container.name=<name>`. So `ubuntu` also selects `ubuntu-2` and
//!   `ubuntu_db` (a prefix match; not `my-ubuntu`), `ubuntu$` selects exactly `ubuntu`, and
//!   `^ubuntu$` selects nothing (`^` cannot match in the middle of the string; `policy
//!   validate` warns). Kept rather than anchored so that a policy selects here exactly what
//!   it selects under KubeArmor.
//! - Every other label must be present with exactly that value.
//! - A `KubeArmorClusterPolicy` selects with `matchExpressions`: `namespace In/NotIn`
//!   against `container_namespace`, `label In/NotIn` against the container's `k=v` labels;
//!   all must hold, and no expression selects every container.

use super::{CONTAINER_NAMESPACE, Container, NAME_LABEL};
use crate::policy::{Kind, Policy};

/// Whether a KubeArmorPolicy in `namespace` can select VM containers at all.
pub fn namespace_applies(namespace: Option<&str>) -> bool {
    matches!(
        namespace,
        None | Some("default") | Some(CONTAINER_NAMESPACE)
    )
}

/// KubeArmor's regex for a container name value: the whole identity `label=value`.
pub fn name_regex(value: &str) -> Result<regex::Regex, regex::Error> {
    regex::Regex::new(&format!("{NAME_LABEL}={value}"))
}

/// Whether `policy` selects `c`.
pub fn selects(policy: &Policy, c: &Container) -> bool {
    Compiled::new(policy).selects(c)
}

/// A policy with its container-name regex compiled once: the agent matches every policy
/// against every container after each discovery event, and compiling a regex costs far
/// more than running it.
pub struct Compiled<'p> {
    pub policy: &'p Policy,
    /// The `kubearmor.io/container.name` value's regex (None: no such label, or a regex
    /// KubeArmor would refuse, which selects nothing).
    name: Option<regex::Regex>,
}

impl<'p> Compiled<'p> {
    pub fn new(policy: &'p Policy) -> Compiled<'p> {
        let name = (policy.kind == Kind::KubeArmorPolicy)
            .then(|| policy.spec.selector.as_ref()?.match_labels.get(NAME_LABEL))
            .flatten()
            .and_then(|v| name_regex(v).ok());
        Compiled { policy, name }
    }

    /// Whether the policy selects `c`.
    pub fn selects(&self, c: &Container) -> bool {
        let policy = self.policy;
        let ids = c.identities();
        match policy.kind {
            Kind::KubeArmorHostPolicy => false,
            Kind::KubeArmorPolicy => {
                if !namespace_applies(policy.metadata.namespace.as_deref()) {
                    return false;
                }
                let Some(sel) = &policy.spec.selector else {
                    // KubeArmor refuses a policy without matchLabels outside Kubernetes.
                    return false;
                };
                // KubeArmor refuses both outside Kubernetes (`policy validate` warns).
                if sel.match_labels.is_empty()
                    || (sel.match_labels.contains_key(NAME_LABEL) && sel.match_labels.len() > 1)
                {
                    return false;
                }
                sel.match_labels.iter().all(|(k, v)| {
                    if k == NAME_LABEL {
                        let name = ids.get(NAME_LABEL).map(String::as_str).unwrap_or("");
                        self.name
                            .as_ref()
                            .is_some_and(|re| re.is_match(&format!("{NAME_LABEL}={name}")))
                    } else {
                        ids.get(k) == Some(v)
                    }
                })
            }
            Kind::KubeArmorClusterPolicy => {
                let exprs = policy
                    .spec
                    .selector
                    .as_ref()
                    .map(|s| s.match_expressions.as_slice())
                    .unwrap_or_default();
                exprs.iter().all(|e| {
                    let hit = match e.key.as_str() {
                        "namespace" => e.values.iter().any(|v| v == CONTAINER_NAMESPACE),
                        "label" => e.values.iter().any(|v| {
                            v.split_once('=')
                                .is_some_and(|(k, val)| ids.get(k).is_some_and(|x| x == val))
                        }),
                        _ => false,
                    };
                    match e.operator.as_str() {
                        "In" => hit,
                        "NotIn" => !hit,
                        _ => false,
                    }
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Expression, Metadata, Selector, Spec};

    fn ksp(ns: Option<&str>, labels: &[(&str, &str)]) -> Policy {
        Policy {
            api_version: crate::policy::API_VERSION.into(),
            kind: Kind::KubeArmorPolicy,
            metadata: Metadata {
                name: "p".into(),
                namespace: ns.map(str::to_string),
                ..Metadata::default()
            },
            spec: Spec {
                selector: Some(Selector {
                    match_labels: labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..Selector::default()
                }),
                ..Spec::default()
            },
        }
    }

    fn container(name: &str, labels: &[(&str, &str)]) -> Container {
        Container {
            id: "a".repeat(64),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Container::default()
        }
    }

    #[test]
    fn container_name_is_kubearmors_unanchored_regex() {
        let p = ksp(Some("container_namespace"), &[(NAME_LABEL, "ubuntu")]);
        assert!(selects(&p, &container("ubuntu", &[])));
        assert!(
            selects(&p, &container("ubuntu-2", &[])),
            "prefix-like, as KubeArmor"
        );
        assert!(!selects(&p, &container("my-ubuntu", &[])));
        assert!(!selects(&p, &container("debian", &[])));
        // `^` would anchor in the middle of `kubearmor.io/container.name=ubuntu`.
        let never = ksp(None, &[(NAME_LABEL, "^ubuntu$")]);
        assert!(!selects(&never, &container("ubuntu", &[])));
        let exact = ksp(None, &[(NAME_LABEL, "ubuntu$")]);
        assert!(selects(&exact, &container("ubuntu", &[])));
        assert!(!selects(&exact, &container("ubuntu-2", &[])));
        // A top-level `|` splits the whole identity: `db` then matches anywhere.
        let alt = ksp(None, &[(NAME_LABEL, "web|db")]);
        assert!(selects(&alt, &container("web-1", &[])));
        assert!(selects(&alt, &container("my-db", &[])));
        // A label can override the name matched, as in KubeArmor's docker handler.
        assert!(selects(&p, &container("x", &[(NAME_LABEL, "ubuntu")])));
    }

    #[test]
    fn other_labels_exact_and_namespaces() {
        let p = ksp(Some("default"), &[("app", "demo")]);
        assert!(selects(&p, &container("c", &[("app", "demo")])));
        assert!(!selects(&p, &container("c", &[("app", "demo2")])));
        assert!(!selects(&p, &container("c", &[])));
        let other = ksp(Some("prod"), &[("app", "demo")]);
        assert!(!selects(&other, &container("c", &[("app", "demo")])));
        let ns = ksp(None, &[("namespaceName", "container_namespace")]);
        assert!(selects(&ns, &container("c", &[])));
        assert!(!selects(&ksp(None, &[]), &container("c", &[])));
        let both = ksp(None, &[(NAME_LABEL, "c"), ("app", "demo")]);
        assert!(
            !selects(&both, &container("c", &[("app", "demo")])),
            "refused by KubeArmor"
        );
    }

    #[test]
    fn cluster_policies_match_expressions() {
        let csp = |exprs: Vec<(&str, &str, &[&str])>| Policy {
            kind: Kind::KubeArmorClusterPolicy,
            spec: Spec {
                selector: Some(Selector {
                    match_expressions: exprs
                        .into_iter()
                        .map(|(k, op, vs)| Expression {
                            key: k.into(),
                            operator: op.into(),
                            values: vs.iter().map(|v| v.to_string()).collect(),
                        })
                        .collect(),
                    ..Selector::default()
                }),
                ..Spec::default()
            },
            ..ksp(None, &[])
        };
        let c = container("web", &[("app", "demo")]);
        assert!(selects(&csp(vec![]), &c));
        assert!(selects(
            &csp(vec![("namespace", "In", &["container_namespace"])]),
            &c
        ));
        assert!(!selects(&csp(vec![("namespace", "In", &["prod"])]), &c));
        assert!(selects(&csp(vec![("namespace", "NotIn", &["prod"])]), &c));
        assert!(selects(&csp(vec![("label", "In", &["app=demo"])]), &c));
        assert!(!selects(&csp(vec![("label", "NotIn", &["app=demo"])]), &c));
    }
}
