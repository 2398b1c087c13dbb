//! Between KubeArmor's messages and knoxctl's: stored records to `feeder.Alert` and
//! `feeder.Log`, KubeArmor's policy events (`karmor vm policy add|delete`) to the local
//! API's requests, the local API's answers to KubeArmor's `PolicyStatus`, and its policy
//! and container listings to KubeArmor's `ProbeResponse`.

use super::feeder;
use super::policy::{self as pb, PolicyStatus};
use crate::agent::api::{ContainerItem, PolicySummary, Request, Response, SourceFile};
use crate::alert::Alert as Stored;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Which call a policy event came through: it decides the document's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Host,
    Container,
}

impl PolicyKind {
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Host => "KubeArmorHostPolicy",
            PolicyKind::Container => "KubeArmorPolicy",
        }
    }
}

/// KubeArmor's `PolicyEnabled` values (its types.go): what the probe says of a container.
const POLICY_DISABLED: i32 = 0;
const POLICY_ENABLED: i32 = 1;

/// The name KubeArmor lists a policy by (`metadata.name`): the id's last part.
fn policy_name(p: &PolicySummary) -> String {
    p.id.rsplit('/').next().unwrap_or(&p.name).to_string()
}

/// `getProbeData`'s answer: every known container by name (`containerList`), each with the
/// applied policies that select it and whether an enforcer holds its rules
/// (`containerMap`, keyed by container name as KubeArmor keys it outside Kubernetes), and
/// the host policies that apply here under this host's name (`hostMap`). Each policy's
/// data is its JSON as the agent stores it (`bodies`, by id).
pub fn probe_response(
    hostname: &str,
    policies: &[PolicySummary],
    containers: &[ContainerItem],
    bodies: &HashMap<String, Vec<u8>>,
) -> pb::ProbeResponse {
    let data = |ids: &mut dyn Iterator<Item = &PolicySummary>| {
        let (mut names, mut list) = (Vec::new(), Vec::new());
        for p in ids {
            if let Some(body) = bodies.get(&p.id) {
                names.push(policy_name(p));
                list.push(pb::Policy {
                    policy: body.clone(),
                });
            }
        }
        (names, list)
    };
    let by_id: HashMap<&str, &PolicySummary> =
        policies.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut container_map = HashMap::new();
    for c in containers {
        let (policy_list, policy_data_list) = data(
            &mut c
                .policies
                .iter()
                .filter_map(|id| by_id.get(id.as_str()).copied()),
        );
        let enforced = c
            .enforcement
            .as_ref()
            .is_some_and(|e| !e.backend.is_empty() && e.error.is_empty());
        container_map.insert(
            c.container.name.clone(),
            pb::ContainerData {
                policy_list,
                policy_enabled: if enforced {
                    POLICY_ENABLED
                } else {
                    POLICY_DISABLED
                },
                policy_data_list,
            },
        );
    }
    let (policy_list, policy_data_list) = data(
        &mut policies
            .iter()
            .filter(|p| p.kind == "KubeArmorHostPolicy" && p.applies_here),
    );
    let mut host_map = HashMap::new();
    if !policy_list.is_empty() {
        host_map.insert(
            hostname.to_string(),
            pb::HostSecurityPolicies {
                policy_list,
                policy_data_list,
            },
        );
    }
    pb::ProbeResponse {
        container_list: containers
            .iter()
            .map(|c| c.container.name.clone())
            .collect(),
        container_map,
        host_map,
        network_map: HashMap::new(),
    }
}

/// Records KubeArmor sends to WatchAlerts; every other type goes to WatchLogs
/// (KubeArmor's feeder routes them the same way).
pub fn is_alert(kind: &str) -> bool {
    matches!(
        kind,
        "MatchedPolicy" | "MatchedHostPolicy" | "MatchedNetworkPolicy" | "SystemEvent"
    )
}

/// WatchAlerts streams with "all" or "policy"; KubeArmor returns at once otherwise.
pub fn alert_filter(filter: &str) -> bool {
    matches!(filter, "all" | "policy")
}

/// WatchLogs streams with "all" or "system".
pub fn log_filter(filter: &str) -> bool {
    matches!(filter, "all" | "system")
}

/// `feeder.Alert` and `feeder.Log` share most fields under the same names: one list of
/// them, plus each message's own.
macro_rules! record {
    ($message:path, $a:expr, { $($own:ident: $value:expr),* $(,)? }) => {{
        let a: &Stored = $a;
        $message {
            timestamp: a.timestamp,
            updated_time: a.updated_time.clone(),
            cluster_name: a.cluster_name.clone(),
            host_name: a.host_name.clone(),
            namespace_name: a.namespace_name.clone(),
            pod_name: a.pod_name.clone(),
            labels: a.labels.clone(),
            container_id: a.container_id.clone(),
            container_name: a.container_name.clone(),
            container_image: a.container_image.clone(),
            host_ppid: a.host_ppid,
            host_pid: a.host_pid,
            ppid: a.ppid,
            pid: a.pid,
            uid: a.uid,
            parent_process_name: a.parent_process_name.clone(),
            process_name: a.process_name.clone(),
            r#type: a.kind.clone(),
            source: a.source.clone(),
            operation: a.operation.clone(),
            resource: a.resource.clone(),
            data: a.data.clone(),
            result: a.result.clone(),
            cwd: a.cwd.clone(),
            tty: a.tty.clone(),
            $($own: $value,)*
            ..Default::default()
        }
    }};
}

pub fn alert(a: &Stored) -> feeder::Alert {
    record!(feeder::Alert, a, {
        policy_name: a.policy_name.clone(),
        severity: a.severity.clone(),
        tags: a.tags.clone(),
        a_tags: a.atags.clone(),
        message: a.message.clone(),
        enforcer: a.enforcer.clone(),
        action: a.action.clone(),
    })
}

pub fn log(a: &Stored) -> feeder::Log {
    record!(feeder::Log, a, {})
}

/// A KubeArmor policy event (`{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}`,
/// the JSON `karmor vm policy` sends) as the local API's apply or delete. `Err` says why
/// it is not one (KubeArmor's `Invalid`).
///
/// The object is what Go's encoding/json makes of KubeArmor's policy types: metadata and
/// spec without kind and apiVersion, and the zero value of every field the YAML left out
/// (`"severity": 0`, `"action": ""`, `"file": {}`, `"creationTimestamp": null`). Those zero
/// values are dropped before validation, so the document validated is the one the user
/// wrote; kind and apiVersion come from the call.
pub fn policy_event(kind: PolicyKind, bytes: &[u8], peer: &str) -> Result<Request, String> {
    let event: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not a policy event: {e}"))?;
    let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(Value::Object(object)) = event.get("object") else {
        return Err("the event has no object".into());
    };
    let metadata = match object.get("metadata") {
        Some(Value::Object(m)) => m,
        _ => return Err("the policy has no metadata".into()),
    };
    let name = match metadata.get("name") {
        Some(Value::String(n)) if !n.is_empty() => n.clone(),
        _ => return Err("the policy has no name".into()),
    };
    if let Some(k) = object.get("kind").and_then(Value::as_str)
        && k != kind.name()
    {
        return Err(format!("a {k} sent to the {} call", kind.name()));
    }
    match event_type {
        "ADDED" | "MODIFIED" => {
            let mut doc = Map::new();
            doc.insert(
                "apiVersion".into(),
                object
                    .get("apiVersion")
                    .cloned()
                    .unwrap_or_else(|| "security.kubearmor.com/v1".into()),
            );
            doc.insert("kind".into(), kind.name().into());
            for (key, value) in object {
                if matches!(key.as_str(), "apiVersion" | "kind" | "status") {
                    continue;
                }
                if let Some(v) = without_zero_values(value, key == "spec") {
                    doc.insert(key.clone(), v);
                }
            }
            Ok(Request::Apply {
                files: vec![SourceFile {
                    path: format!("gRPC {} from {peer}", kind.name()),
                    content: serde_json::to_string_pretty(&Value::Object(doc))
                        .expect("JSON serializes"),
                }],
                skip_other_kinds: false,
            })
        }
        "DELETED" => {
            // By name, as KubeArmor deletes: the spec does not matter.
            let reference = match kind {
                PolicyKind::Host => format!("kubearmorhostpolicy/{name}"),
                PolicyKind::Container => {
                    let ns = metadata
                        .get("namespace")
                        .and_then(Value::as_str)
                        .filter(|n| !n.is_empty())
                        .unwrap_or(crate::policy::id::DEFAULT_NAMESPACE);
                    format!("kubearmorpolicy/{ns}/{name}")
                }
            };
            Ok(Request::Delete {
                names: vec![reference],
                files: Vec::new(),
                all: false,
            })
        }
        other => Err(format!(
            "event type '{other}': expected ADDED, MODIFIED or DELETED"
        )),
    }
}

/// `value` without Go's zero values (null, "", 0, false, {} and [] once emptied). A
/// selector (`spec.selector`, `spec.nodeSelector`) stays even when empty: whether it may
/// be is the validator's to say.
fn without_zero_values(value: &Value, is_spec: bool) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(false) => None,
        Value::String(s) if s.is_empty() => None,
        Value::Number(n) if n.as_f64() == Some(0.0) => None,
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|v| without_zero_values(v, false))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        Value::Object(map) => {
            let mut kept = Map::new();
            for (k, v) in map {
                let selector = is_spec && matches!(k.as_str(), "selector" | "nodeSelector");
                match without_zero_values(v, false) {
                    Some(v) => {
                        kept.insert(k.clone(), v);
                    }
                    None if selector => {
                        kept.insert(k.clone(), Value::Object(Map::new()));
                    }
                    None => {}
                }
            }
            (!kept.is_empty() || is_spec).then_some(Value::Object(kept))
        }
        v => Some(v.clone()),
    }
}

/// The local API's answer as KubeArmor's status: a new or unchanged policy is `Applied`
/// (KubeArmor answers Applied to an identical re-add), a changed one `Modified`; a delete
/// of what is not applied `NotExist`; what validation refuses `Invalid`; a change the
/// enforcer or the state directory refused `Failure`.
pub fn policy_status(response: &Response, deleting: bool) -> PolicyStatus {
    match response {
        Response::Applied { results, .. } => {
            if results.iter().any(|r| r.outcome == "configured") {
                PolicyStatus::Modified
            } else {
                PolicyStatus::Applied
            }
        }
        Response::Deleted { names, .. } if !names.is_empty() => PolicyStatus::Deleted,
        Response::Deleted { .. } => PolicyStatus::NotExist,
        Response::Invalid { .. } => PolicyStatus::Invalid,
        Response::Error { code, .. } if deleting && code == "not-found" => PolicyStatus::NotExist,
        Response::Error { code, .. } if code == "bad-request" => PolicyStatus::Invalid,
        _ => PolicyStatus::Failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::api::{ApplyResult, NotDeleted};

    /// What karmor sends for a host policy YAML that set only some fields: Go's zero
    /// values everywhere else.
    const KARMOR_ADD: &str = r#"{"type":"ADDED","object":{"metadata":{"name":"block-x","creationTimestamp":null},"spec":{"nodeSelector":{"matchLabels":{"kubernetes.io/hostname":"h"}},"process":{"matchPaths":[{"path":"/usr/bin/x","ownerOnly":false}],"matchDirectories":null,"severity":0,"action":""},"file":{},"network":{},"capabilities":{},"syscalls":{},"severity":5,"message":"","action":"Block"},"status":{}}}"#;

    #[test]
    fn karmor_events_become_the_documents_users_wrote() {
        let Ok(Request::Apply { files, .. }) =
            policy_event(PolicyKind::Host, KARMOR_ADD.as_bytes(), "127.0.0.1:5")
        else {
            panic!("an apply")
        };
        let doc: Value = serde_json::from_str(&files[0].content).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "apiVersion": "security.kubearmor.com/v1",
                "kind": "KubeArmorHostPolicy",
                "metadata": {"name": "block-x"},
                "spec": {
                    "nodeSelector": {"matchLabels": {"kubernetes.io/hostname": "h"}},
                    "process": {"matchPaths": [{"path": "/usr/bin/x"}]},
                    "severity": 5,
                    "action": "Block"
                }
            })
        );
        assert_eq!(files[0].path, "gRPC KubeArmorHostPolicy from 127.0.0.1:5");

        let del = KARMOR_ADD.replace("ADDED", "DELETED");
        let Ok(Request::Delete { names, .. }) = policy_event(PolicyKind::Host, del.as_bytes(), "")
        else {
            panic!("a delete")
        };
        assert_eq!(names, ["kubearmorhostpolicy/block-x"]);
        let Ok(Request::Delete { names, .. }) =
            policy_event(PolicyKind::Container, del.as_bytes(), "")
        else {
            panic!("a delete")
        };
        assert_eq!(names, ["kubearmorpolicy/default/block-x"]);

        for bad in [
            "not json",
            r#"{"type":"ADDED"}"#,
            r#"{"type":"ADDED","object":{"metadata":{"name":""},"spec":{}}}"#,
            r#"{"type":"REPLACED","object":{"metadata":{"name":"x"},"spec":{}}}"#,
            r#"{"type":"ADDED","object":{"kind":"KubeArmorPolicy","metadata":{"name":"x"},"spec":{}}}"#,
        ] {
            assert!(
                policy_event(PolicyKind::Host, bad.as_bytes(), "").is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn answers_become_kubearmors_statuses() {
        let applied = |outcome: &str| Response::Applied {
            results: vec![ApplyResult {
                kind: "KubeArmorHostPolicy".into(),
                name: "x".into(),
                id: "kubearmorhostpolicy/x".into(),
                outcome: outcome.into(),
                effect: String::new(),
            }],
            warnings: vec![],
        };
        assert_eq!(
            policy_status(&applied("created"), false),
            PolicyStatus::Applied
        );
        assert_eq!(
            policy_status(&applied("unchanged"), false),
            PolicyStatus::Applied
        );
        assert_eq!(
            policy_status(&applied("configured"), false),
            PolicyStatus::Modified
        );
        let deleted = Response::Deleted {
            names: vec!["kubearmorhostpolicy/x".into()],
            failed: vec![],
        };
        assert_eq!(policy_status(&deleted, true), PolicyStatus::Deleted);
        let missing = Response::Deleted {
            names: vec![],
            failed: vec![NotDeleted {
                reference: "kubearmorhostpolicy/x".into(),
                code: "not-found".into(),
                message: String::new(),
            }],
        };
        assert_eq!(policy_status(&missing, true), PolicyStatus::NotExist);
        let invalid = Response::Invalid {
            diagnostics: vec!["x".into()],
        };
        assert_eq!(policy_status(&invalid, false), PolicyStatus::Invalid);
        assert_eq!(
            policy_status(&Response::error("failed", "disk full"), false),
            PolicyStatus::Failure
        );
    }

    #[test]
    fn records_go_to_the_stream_kubearmor_uses() {
        for t in ["MatchedHostPolicy", "MatchedPolicy", "SystemEvent"] {
            assert!(is_alert(t));
        }
        for t in ["HostLog", "ContainerLog"] {
            assert!(!is_alert(t));
        }
        assert!(alert_filter("all") && alert_filter("policy") && !alert_filter("system"));
        assert!(log_filter("all") && log_filter("system") && !log_filter("policy"));
        let stored = Stored {
            kind: "MatchedHostPolicy".into(),
            policy_name: "p".into(),
            atags: vec!["T".into()],
            host_pid: 7,
            uid: 0,
            ..Default::default()
        };
        let a = alert(&stored);
        assert_eq!(
            (
                a.r#type.as_str(),
                a.policy_name.as_str(),
                a.a_tags.len(),
                a.host_pid
            ),
            ("MatchedHostPolicy", "p", 1, 7)
        );
    }

    #[test]
    fn probe_data_lists_containers_and_host_policies_as_kubearmor_does() {
        let summary = |kind: &str, id: &str, here: bool| PolicySummary {
            kind: kind.into(),
            name: id.rsplit('/').next().unwrap().into(),
            id: id.into(),
            action: "Block".into(),
            rules: 1,
            applies_here: here,
            applied_at: 0,
            source: String::new(),
        };
        let policies = vec![
            summary("KubeArmorHostPolicy", "kubearmorhostpolicy/h1", true),
            summary(
                "KubeArmorHostPolicy",
                "kubearmorhostpolicy/elsewhere",
                false,
            ),
            summary("KubeArmorPolicy", "kubearmorpolicy/default/web-p", false),
        ];
        let container = |name: &str, policies: &[&str], backend: &str| ContainerItem {
            container: crate::container::Container {
                name: name.into(),
                ..Default::default()
            },
            policies: policies.iter().map(|p| p.to_string()).collect(),
            enforcement: (!policies.is_empty()).then(|| {
                crate::agent::container_enforce::Enforcement {
                    backend: backend.into(),
                    ..Default::default()
                }
            }),
        };
        let containers = vec![
            container("web", &["kubearmorpolicy/default/web-p"], "BPF-LSM"),
            container("idle", &[], ""),
        ];
        let bodies: HashMap<String, Vec<u8>> = policies
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    format!("{{\"n\":\"{}\"}}", p.name).into_bytes(),
                )
            })
            .collect();
        let r = probe_response("vm1", &policies, &containers, &bodies);
        assert_eq!(r.container_list, ["web", "idle"]);
        let web = &r.container_map["web"];
        assert_eq!(web.policy_list, ["web-p"]);
        assert_eq!(web.policy_enabled, POLICY_ENABLED);
        assert_eq!(web.policy_data_list[0].policy, br#"{"n":"web-p"}"#);
        let idle = &r.container_map["idle"];
        assert!(idle.policy_list.is_empty());
        assert_eq!(idle.policy_enabled, POLICY_DISABLED);
        assert_eq!(r.host_map.len(), 1);
        assert_eq!(
            r.host_map["vm1"].policy_list,
            ["h1"],
            "only what applies here"
        );
        assert!(r.network_map.is_empty());
        // No host policy: no entry, as KubeArmor's map stays empty then.
        assert!(
            probe_response("vm1", &policies[2..], &[], &bodies)
                .host_map
                .is_empty()
        );
    }
}
