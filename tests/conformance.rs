//! Conformance with KubeArmor: our schemas equal its CRDs, and every policy of its own
//! corpus and of the policy-templates corpus gets the verdict the API server would give.
//!
//! Inputs are read from ../shared/conformance (or $KNOXCTL_CONFORMANCE_DIR), never copied
//! into this repository. When they are absent the tests say so loudly and pass.

mod common;

use knoxctl::policy::Kind;
use knoxctl::policy::schema::{self, Schema};
use knoxctl::policy::validate::{FileReport, Options, Severity};
use knoxctl::yaml::{self, Node, Value};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn child<'a>(node: &'a Node, key: &str) -> &'a Node {
    &node
        .get(key)
        .unwrap_or_else(|| panic!("CRD has no '{key}' at {}", node.pos))
        .value
}

fn crd_schema(dir: &Path, kind: Kind) -> Schema {
    let path = dir.join(format!("kubearmor/crd/{}.yaml", kind.as_str()));
    let docs = yaml::load_bytes(&std::fs::read(&path).unwrap()).unwrap();
    let versions = child(child(&docs[0].root, "spec"), "versions");
    let Value::Seq(versions) = &versions.value else {
        panic!("versions is not a list")
    };
    let v1 = versions
        .iter()
        .find(|v| child(v, "name").as_str() == Some("v1"))
        .expect("v1");
    Schema::from_openapi(child(child(v1, "schema"), "openAPIV3Schema")).unwrap()
}

/// Walks both trees and names the first place they differ, so a failure says what changed.
fn first_difference(ours: &Schema, theirs: &Schema, at: &str) -> Option<String> {
    match (ours, theirs) {
        (
            Schema::Object {
                properties: Some(a),
                required: ra,
                additional: xa,
            },
            Schema::Object {
                properties: Some(b),
                required: rb,
                additional: xb,
            },
        ) => {
            let names_a: Vec<_> = a.iter().map(|p| &p.0).collect();
            let names_b: Vec<_> = b.iter().map(|p| &p.0).collect();
            if names_a != names_b {
                return Some(format!("{at}: properties {names_a:?} vs CRD {names_b:?}"));
            }
            if ra != rb {
                return Some(format!("{at}: required {ra:?} vs CRD {rb:?}"));
            }
            if xa != xb {
                return Some(format!("{at}: additionalProperties differ"));
            }
            a.iter()
                .zip(b)
                .find_map(|((k, x), (_, y))| first_difference(x, y, &format!("{at}.{k}")))
        }
        (
            Schema::Array {
                items: a,
                max_items: ma,
            },
            Schema::Array {
                items: b,
                max_items: mb,
            },
        ) => {
            if ma != mb {
                return Some(format!("{at}: maxItems {ma:?} vs CRD {mb:?}"));
            }
            first_difference(a, b, &format!("{at}[]"))
        }
        (a, b) if a == b => None,
        (a, b) => Some(format!("{at}: ours {a:?}\n  vs CRD {b:?}")),
    }
}

#[test]
fn schemas_equal_the_crds() {
    let Some(dir) = common::conformance_dir() else {
        return;
    };
    for kind in Kind::ALL {
        let theirs = crd_schema(&dir, kind);
        let ours = schema::for_kind(kind);
        if let Some(diff) = first_difference(ours, &theirs, kind.as_str()) {
            panic!("our {kind} schema differs from the CRD:\n{diff}");
        }
        assert_eq!(ours, &theirs);
    }
}

/// Each file on its own: the corpora are independent examples (many reuse a policy name),
/// not one set to apply together, and the CRD judges each document alone. (`validate_paths`
/// would also refuse the same identity defined in two files, as `policy apply` does.)
fn validate_dir(dir: &Path) -> Vec<FileReport> {
    use knoxctl::policy::files::{read_inputs, validate_input};
    read_inputs(&[dir.to_path_buf()])
        .iter()
        .map(|i| validate_input(i, Options::default()))
        .collect()
}

fn error_fields(doc: &knoxctl::policy::validate::DocReport) -> BTreeSet<String> {
    doc.diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(|d| d.field.clone())
        .collect()
}

#[test]
fn kubearmor_corpus_verdicts_match_the_crd() {
    let Some(dir) = common::conformance_dir() else {
        return;
    };
    let reports = validate_dir(&dir.join("kubearmor/policies"));
    let docs: Vec<_> = reports
        .iter()
        .flat_map(|r| r.documents.iter().map(move |d| (r.path.as_str(), d)))
        .collect();
    assert!(
        reports.iter().all(|r| r.error.is_none()),
        "every corpus file is readable YAML"
    );
    let valid = docs.iter().filter(|(_, d)| d.valid).count();
    let invalid: Vec<(String, BTreeSet<String>)> = docs
        .iter()
        .filter(|(_, d)| !d.valid)
        .map(|(p, d)| (p.rsplit('/').next().unwrap().to_string(), error_fields(d)))
        .collect();
    assert_eq!(valid, 278, "valid documents");
    let expected = [
        ("disc-tools.yaml", "apiVersion"),
        (
            "hsp-audit-network-protocol.yaml",
            "spec.network.matchProtocols[0].fromSource",
        ),
        (
            "hsp-block-process-dir-bin.yaml",
            "spec.process.matchDirectories[0].dir",
        ),
    ];
    let expected: Vec<(String, BTreeSet<String>)> = expected
        .iter()
        .map(|(f, e)| (f.to_string(), BTreeSet::from([e.to_string()])))
        .collect();
    let mut invalid_sorted = invalid.clone();
    invalid_sorted.sort();
    assert_eq!(invalid_sorted, expected);
}

#[test]
fn policy_templates_verdicts_match_the_reviewed_expectations() {
    let Some(dir) = common::conformance_dir() else {
        return;
    };
    let root = dir.join("policy-templates");
    let reports = validate_dir(&root);
    let prefix = format!("{}/", root.display());
    let mut got = Vec::new();
    let mut valid_kubearmor = 0;
    for r in &reports {
        let path = r.path.strip_prefix(&prefix).unwrap_or(&r.path).to_string();
        if let Some(e) = &r.error {
            // The expectations name the error, not where it is (positions change with
            // the corpus' whitespace): cut " at L:C" and " (first set at L:C)".
            let reason = e.message.split(" at ").next().unwrap_or(&e.message);
            let reason = reason.split(" (first set").next().unwrap_or(reason);
            got.push(format!("{path}\t-\tload: {reason}"));
            continue;
        }
        for d in &r.documents {
            if d.valid {
                valid_kubearmor += 1;
            } else {
                let fields: Vec<String> = error_fields(d)
                    .into_iter()
                    .map(|f| if f.is_empty() { "-".into() } else { f })
                    .collect();
                got.push(format!("{path}\t{}\t{}", d.index, fields.join(",")));
            }
        }
    }
    let expected: Vec<String> = include_str!("conformance/policy-templates.expected")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = expected.iter().filter(|e| !got.contains(e)).collect();
    let extra: Vec<_> = got.iter().filter(|g| !expected.contains(g)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "expected but not found: {missing:#?}\nfound but not expected: {extra:#?}"
    );
    assert_eq!(
        valid_kubearmor, 445,
        "valid KubeArmor documents in policy-templates"
    );
}

#[test]
fn cli_reports_non_kubearmor_kinds_and_exits_1() {
    let Some(dir) = common::conformance_dir() else {
        return;
    };
    let cilium =
        dir.join("policy-templates/django/network/cnp-egress-django-allow-only-tcp-443.yaml");
    let out = Command::new(env!("CARGO_BIN_EXE_knoxctl"))
        .args(["policy", "validate"])
        .arg(&cilium)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("not a KubeArmor policy (kind CiliumNetworkPolicy)"),
        "{stdout}"
    );
}
