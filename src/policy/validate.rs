//! Validation of policy files: what the Kubernetes API server would say about each document
//! (CRD schema, ObjectMeta rules), plus semantic checks the CRD cannot express. Every
//! finding is a [`Diagnostic`] with a line, a column, the field path and, where we can
//! guess it, a hint.

use super::normalize::{self, RuleSet};
use super::schema::{self, Problem, Violation};
use super::suggest::suggest;
use super::{API_VERSION, Kind, Policy};
use crate::yaml::{self, Document, LoadError, Node, Pos, Value};
use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub line: u32,
    pub column: u32,
    /// Dotted field path (`spec.process.matchPaths[0].path`), empty for whole-file problems.
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    fn new(severity: Severity, pos: Pos, field: &str, message: String) -> Diagnostic {
        Diagnostic {
            severity,
            line: pos.line,
            column: pos.col,
            field: field.to_string(),
            message,
            hint: None,
        }
    }

    fn hint(mut self, hint: Option<String>) -> Diagnostic {
        self.hint = hint;
        self
    }

    /// `PATH:LINE:COL: error: field: message (hint)`: the format editors and CI annotate.
    pub fn render(&self, path: &str) -> String {
        let mut s = format!(
            "{path}:{}:{}: {}: ",
            self.line.max(1),
            self.column.max(1),
            self.severity
        );
        if !self.field.is_empty() {
            s.push_str(&self.field);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        if let Some(h) = &self.hint {
            s.push_str(" (");
            s.push_str(h);
            s.push(')');
        }
        s
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Unknown fields and semantic warnings become errors.
    pub strict: bool,
    /// Documents of other APIs (a Deployment next to the policies) are skipped with a
    /// warning instead of failing the file.
    pub skip_other_kinds: bool,
}

/// The verdict on one YAML document.
#[derive(Clone, Debug, Serialize)]
pub struct DocReport {
    /// 0-based index of the document in its file.
    pub index: usize,
    pub line: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub valid: bool,
    pub diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    pub policy: Option<Policy>,
    /// Where `metadata.name` is, for reports about the policy as a whole.
    #[serde(skip)]
    pub name_pos: Option<Pos>,
}

/// The verdict on one file: either it could not be read as YAML at all (`error`), or a
/// report per non-empty document.
#[derive(Clone, Debug, Serialize)]
pub struct FileReport {
    pub path: String,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<Diagnostic>,
    pub documents: Vec<DocReport>,
}

impl FileReport {
    pub fn failed(path: &str, diag: Diagnostic) -> FileReport {
        FileReport {
            path: path.to_string(),
            valid: false,
            error: Some(diag),
            documents: Vec::new(),
        }
    }

    /// Every diagnostic of the file, in order.
    pub fn diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        self.error
            .iter()
            .chain(self.documents.iter().flat_map(|d| d.diagnostics.iter()))
    }

    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.documents.iter().filter_map(|d| d.policy.as_ref())
    }
}

/// Refuses every document that defines a policy (same kind, namespace and name) an earlier
/// document of `reports` already defines, in the same file or another: apply refuses such a
/// set as a whole, so validate must fail it too, with both places.
pub fn check_duplicates(reports: &mut [FileReport]) {
    let mut seen: std::collections::HashMap<super::PolicyId, String> = Default::default();
    for r in reports.iter_mut() {
        for d in &mut r.documents {
            let Some(p) = &d.policy else { continue };
            let id = p.id();
            let pos = d.name_pos.unwrap_or(Pos {
                line: d.line,
                col: 1,
            });
            let here = format!("{}:{}:{}", r.path, pos.line.max(1), pos.col.max(1));
            match seen.get(&id) {
                None => {
                    seen.insert(id, here);
                }
                Some(first) => {
                    d.diagnostics.push(Diagnostic::new(
                        Severity::Error,
                        pos,
                        "metadata.name",
                        format!("{id} is defined twice (first at {first})"),
                    ).hint(Some("each kind, namespace and name may appear once; rename one or remove it".into())));
                    d.valid = false;
                    d.policy = None;
                    r.valid = false;
                }
            }
        }
    }
}

pub fn load_error_diagnostic(e: &LoadError) -> Diagnostic {
    let pos = e.pos().unwrap_or(Pos { line: 1, col: 1 });
    let hint = match e {
        LoadError::Syntax { msg, .. } if msg.contains("tab") => {
            Some("YAML indentation must use spaces, not tabs".to_string())
        }
        _ => None,
    };
    // The diagnostic line starts with `file:line:col:`; the error's own " at line:col" would
    // say it twice.
    let msg = e.to_string().replacen(&format!(" at {pos}"), "", 1);
    Diagnostic::new(Severity::Error, pos, "", msg).hint(hint)
}

/// Validates the bytes of one file (`path` is only used in the report).
pub fn validate_bytes(path: &str, bytes: &[u8], opts: Options) -> FileReport {
    let docs = match yaml::load_bytes(bytes) {
        Ok(d) => d,
        Err(e) => return FileReport::failed(path, load_error_diagnostic(&e)),
    };
    let documents: Vec<DocReport> = docs
        .iter()
        // kubectl skips empty documents (a trailing `---`, a comment-only section).
        .filter(|d| d.root.value != Value::Null)
        .map(|d| validate_document(d, opts))
        .collect();
    if documents.is_empty() {
        let d = Diagnostic::new(
            Severity::Error,
            Pos { line: 1, col: 1 },
            "",
            "no YAML documents in this file".into(),
        )
        .hint(Some("an empty file applies nothing; check the path".into()));
        return FileReport::failed(path, d);
    }
    let valid = documents.iter().all(|d| d.valid);
    FileReport {
        path: path.to_string(),
        valid,
        error: None,
        documents,
    }
}

struct Ctx {
    diags: Vec<Diagnostic>,
    opts: Options,
}

impl Ctx {
    fn error(&mut self, pos: Pos, field: &str, msg: String, hint: Option<String>) {
        self.diags
            .push(Diagnostic::new(Severity::Error, pos, field, msg).hint(hint));
    }

    /// A warning, promoted to an error in strict mode.
    fn warn(&mut self, pos: Pos, field: &str, msg: String, hint: Option<String>) {
        let sev = if self.opts.strict {
            Severity::Error
        } else {
            Severity::Warning
        };
        self.diags
            .push(Diagnostic::new(sev, pos, field, msg).hint(hint));
    }
}

pub fn validate_document(doc: &Document, opts: Options) -> DocReport {
    let mut cx = Ctx {
        diags: Vec::new(),
        opts,
    };
    let root = &doc.root;
    let mut report = DocReport {
        index: doc.index,
        line: root.pos.line,
        kind: None,
        name: None,
        valid: false,
        diagnostics: Vec::new(),
        policy: None,
        name_pos: root
            .get("metadata")
            .and_then(|m| m.value.get("name"))
            .map(|n| n.value.pos),
    };
    let policy = check_document(root, &mut cx, &mut report);
    report.valid = !cx.diags.iter().any(|d| d.severity == Severity::Error);
    if report.valid {
        report.policy = policy;
    }
    report.diagnostics = cx.diags;
    report
}

fn check_document(root: &Node, cx: &mut Ctx, report: &mut DocReport) -> Option<Policy> {
    let Value::Map(_) = &root.value else {
        cx.error(
            root.pos,
            "",
            format!("document is {}, not a policy", article(root.type_name())),
            Some("a policy is a mapping with apiVersion, kind, metadata and spec".into()),
        );
        return None;
    };
    let top_keys = ["apiVersion", "kind", "metadata", "spec", "status"];
    let kind = check_kind(root, cx, &top_keys)?;
    report.kind = Some(kind.as_str().to_string());
    report.name = root
        .get("metadata")
        .and_then(|m| m.value.get("name"))
        .and_then(|n| n.value.as_str())
        .map(str::to_string);

    match root.get("apiVersion") {
        None => {
            let guess = unknown_key_like(root, "apiVersion", &top_keys);
            cx.error(
                root.pos,
                "apiVersion",
                "required field is missing".into(),
                Some(match guess {
                    Some(k) => format!(
                        "'{k}' looks like a misspelt apiVersion: write apiVersion: {API_VERSION}"
                    ),
                    None => format!("add apiVersion: {API_VERSION}"),
                }),
            );
        }
        Some(e) if e.value.as_str() != Some(API_VERSION) && e.value.value != Value::Null => {
            let found = e
                .value
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| e.value.type_name().into());
            cx.error(
                e.value.pos,
                "apiVersion",
                format!("'{found}' is not served for {kind}"),
                Some(format!("use {API_VERSION}")),
            );
        }
        Some(e) if e.value.value == Value::Null => {
            cx.error(
                e.key_pos,
                "apiVersion",
                "required field is missing".into(),
                Some(format!("use {API_VERSION}")),
            );
        }
        Some(_) => {}
    }

    let mut violations = Vec::new();
    schema::check(schema::for_kind(kind), root, "", &mut violations);
    for v in &violations {
        report_violation(v, cx);
    }
    check_metadata(root, kind, cx);
    if cx.diags.iter().any(|d| d.severity == Severity::Error) {
        return None;
    }
    let policy: Policy =
        match serde_json::from_value(schema::pruned_json(schema::for_kind(kind), root)) {
            Ok(p) => p,
            Err(e) => {
                // The schema walk should make this unreachable; report rather than panic.
                cx.error(
                    root.pos,
                    "",
                    format!("internal: could not read the policy: {e}"),
                    None,
                );
                return None;
            }
        };
    semantic_checks(&policy, root, cx);
    Some(policy)
}

fn article(t: &str) -> String {
    match t {
        "array" | "integer" | "object" => format!("an {t}"),
        "null" => "empty".into(),
        _ => format!("a {t}"),
    }
}

/// An unknown top-level key that looks like `wanted` (for "missing apiVersion, but there is
/// a `Version` key" messages).
fn unknown_key_like<'a>(root: &'a Node, wanted: &str, known: &[&str]) -> Option<&'a str> {
    let Value::Map(entries) = &root.value else {
        return None;
    };
    entries
        .iter()
        .filter(|e| !known.contains(&e.key.as_str()))
        .find(|e| suggest(&e.key, [wanted]).is_some())
        .map(|e| e.key.as_str())
}

fn check_kind(root: &Node, cx: &mut Ctx, top_keys: &[&str]) -> Option<Kind> {
    let supported = Kind::ALL.map(Kind::as_str);
    let Some(entry) = root.get("kind") else {
        let guess = unknown_key_like(root, "kind", top_keys);
        cx.error(
            root.pos,
            "kind",
            "required field is missing".into(),
            Some(match guess {
                Some(k) => format!("'{k}' looks like a misspelt kind"),
                None => format!("add kind: one of {}", supported.join(", ")),
            }),
        );
        return None;
    };
    let Some(text) = entry.value.as_str() else {
        cx.error(
            entry.value.pos,
            "kind",
            format!("expected string, found {}", entry.value.type_name()),
            Some(format!("one of {}", supported.join(", "))),
        );
        return None;
    };
    if let Some(k) = Kind::parse(text) {
        return Some(k);
    }
    let kubearmor_api = root
        .get("apiVersion")
        .and_then(|e| e.value.as_str())
        .is_none_or(|a| a.starts_with("security.kubearmor.com"));
    let (msg, hint) = match suggest(text, supported).filter(|_| kubearmor_api) {
        Some(s) => (
            format!("unknown kind '{text}'"),
            Some(format!("did you mean '{s}'?")),
        ),
        None if text == "KubeArmorNetworkPolicy" => (
            "KubeArmorNetworkPolicy is not supported by knoxctl".to_string(),
            Some(format!("supported kinds: {}", supported.join(", "))),
        ),
        None if cx.opts.skip_other_kinds && !kubearmor_api => {
            // Never promoted by --strict: skipping was asked for.
            cx.diags.push(
                Diagnostic::new(
                    Severity::Warning,
                    entry.value.pos,
                    "kind",
                    format!("skipped: not a KubeArmor policy (kind {text})"),
                )
                .hint(None),
            );
            return None;
        }
        None => (
            format!("not a KubeArmor policy (kind {text})"),
            Some(format!(
                "knoxctl handles {}; --skip-other-kinds skips other manifests",
                supported.join(", ")
            )),
        ),
    };
    cx.error(entry.value.pos, "kind", msg, hint);
    None
}

/// DNS-1123 subdomain, the API server's rule for custom resource names.
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_dns_label(s: &str) -> bool {
    s.len() <= 63 && !s.contains('.') && is_dns_subdomain(s)
}

const META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "ownerReferences",
    "finalizers",
    "managedFields",
    "selfLink",
];

fn check_metadata(root: &Node, kind: Kind, cx: &mut Ctx) {
    let Some(meta) = root
        .get("metadata")
        .filter(|m| m.value.value != Value::Null)
    else {
        cx.error(
            root.pos,
            "metadata",
            "required field is missing".into(),
            Some("add metadata: {name: ...}".into()),
        );
        return;
    };
    let meta = &meta.value;
    let Value::Map(entries) = &meta.value else {
        return;
    }; // the schema walk reported the type
    for e in entries {
        let field = format!("metadata.{}", e.key);
        match e.key.as_str() {
            "labels" | "annotations" => match &e.value.value {
                Value::Map(kv) => {
                    for item in kv
                        .iter()
                        .filter(|i| !matches!(i.value.value, Value::Str(_)))
                    {
                        cx.error(
                            item.value.pos,
                            &format!("{field}.{}", item.key),
                            format!("expected string, found {}", item.value.type_name()),
                            Some("quote the value".into()),
                        );
                    }
                }
                Value::Null => {}
                _ => cx.error(
                    e.value.pos,
                    &field,
                    format!("expected object, found {}", e.value.type_name()),
                    None,
                ),
            },
            k if !META_FIELDS.contains(&k) => {
                let hint =
                    suggest(k, META_FIELDS.iter().copied()).map(|s| format!("did you mean '{s}'?"));
                cx.warn(
                    e.key_pos,
                    &field,
                    "unknown field (the API server drops it)".into(),
                    hint,
                );
            }
            _ => {}
        }
    }
    match meta.get("name").map(|e| &e.value) {
        None | Some(Node { value: Value::Null, .. }) => {
            cx.error(meta.pos, "metadata.name", "required field is missing".into(), Some("policies are stored and deleted by name".into()))
        }
        Some(n) => match n.as_str() {
            Some(s) if is_dns_subdomain(s) => {}
            Some(s) => cx.error(
                n.pos,
                "metadata.name",
                format!("'{s}' is not a valid name"),
                Some("use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit".into()),
            ),
            None => cx.error(n.pos, "metadata.name", format!("expected string, found {}", n.type_name()), None),
        },
    }
    if let Some(ns) = meta
        .get("namespace")
        .filter(|e| e.value.value != Value::Null)
    {
        match ns.value.as_str() {
            None => cx.error(
                ns.value.pos,
                "metadata.namespace",
                format!("expected string, found {}", ns.value.type_name()),
                None,
            ),
            Some(_) if !kind.namespaced() => cx.warn(
                ns.key_pos,
                "metadata.namespace",
                format!("{kind} is cluster-scoped: the namespace is ignored"),
                None,
            ),
            // KubeArmor's own non-Kubernetes convention, used on AccuKnox's pages.
            Some("container_namespace") => {}
            Some(s) if !is_dns_label(s) => cx.warn(
                ns.value.pos,
                "metadata.namespace",
                format!("'{s}' is not a valid Kubernetes namespace name"),
                Some(
                    "a Kubernetes cluster would refuse it; outside Kubernetes it is only a label"
                        .into(),
                ),
            ),
            Some(_) => {}
        }
    }
}

fn report_violation(v: &Violation, cx: &mut Ctx) {
    let leaf = v.field.rsplit('.').next().unwrap_or(&v.field);
    let leaf = leaf.split('[').next().unwrap_or(leaf);
    match &v.problem {
        Problem::Unknown { known } => {
            let hint = suggest(leaf, known.iter().map(String::as_str))
                .map(|s| format!("did you mean '{s}'?"))
                .or_else(|| Some(format!("known fields here: {}", known.join(", "))));
            cx.warn(
                v.pos,
                &v.field,
                "unknown field (the API server drops it)".into(),
                hint,
            );
        }
        Problem::Required => {
            let hint = match leaf {
                "fromSource" => {
                    Some("host policies need fromSource on network and capability rules".into())
                }
                "nodeSelector" => Some(
                    "select hosts with nodeSelector.matchLabels, e.g. kubearmor.io/hostname: '*'"
                        .into(),
                ),
                _ => None,
            };
            cx.error(v.pos, &v.field, "required field is missing".into(), hint);
        }
        Problem::Type { expected, found } => {
            let hint = match (*expected, *found) {
                ("string", "integer" | "number" | "boolean") => Some("quote the value".to_string()),
                ("integer", "string") => Some("write the number without quotes".to_string()),
                ("boolean", "string") => Some("write true or false without quotes".to_string()),
                ("array", "object" | "string") => {
                    Some("write it as a list, one '- ' item per line".to_string())
                }
                _ => None,
            };
            cx.error(
                v.pos,
                &v.field,
                format!("expected {expected}, found {found}"),
                hint,
            );
        }
        Problem::Pattern { value, pattern } => {
            let (msg, hint) = pattern_message(value, pattern);
            cx.error(v.pos, &v.field, msg, hint);
        }
        Problem::Enum { value, allowed } => {
            let hint = suggest(value, allowed.iter().map(String::as_str))
                .map(|s| format!("did you mean '{s}'?"))
                .or_else(|| (allowed.len() <= 8).then(|| format!("one of {}", allowed.join(", "))));
            cx.error(
                v.pos,
                &v.field,
                format!("'{value}' is not an accepted value"),
                hint,
            );
        }
        Problem::MaxLength { len, max } => cx.error(
            v.pos,
            &v.field,
            format!("{len} characters, more than the {max} allowed"),
            None,
        ),
        Problem::MaxItems { len, max } => cx.error(
            v.pos,
            &v.field,
            format!("{len} items, more than the {max} allowed"),
            None,
        ),
        Problem::Minimum { value, min } => cx.error(
            v.pos,
            &v.field,
            format!("{value} is below the minimum {min}"),
            None,
        ),
        Problem::Maximum { value, max } => cx.error(
            v.pos,
            &v.field,
            format!("{value} is above the maximum {max}"),
            None,
        ),
    }
}

fn pattern_message(value: &str, pattern: &str) -> (String, Option<String>) {
    match pattern {
        schema::PATH_RE => {
            let hint = if value.ends_with('/') {
                "a path ending in '/' is a directory: use matchDirectories with dir".to_string()
            } else {
                "paths are absolute: start with '/'".to_string()
            };
            (
                format!("'{value}' is not an absolute file path"),
                Some(hint),
            )
        }
        schema::DIR_RE => {
            let fix = match value.trim_matches('/') {
                "" => "/".to_string(),
                inner => format!("/{inner}/"),
            };
            (
                format!("'{value}' is not a directory: dir must start and end with '/'"),
                Some(format!("write '{fix}'")),
            )
        }
        schema::SYSCALL_PATH_RE => (
            format!("'{value}' is neither an absolute file path nor a directory ending in '/'"),
            None,
        ),
        schema::EXECNAME_RE => (
            format!("'{value}' is not a program name: execname must not contain '/'"),
            Some("to match a full path use path instead".into()),
        ),
        p if p.contains("net_raw") => {
            let guess = value
                .trim_start_matches("CAP_")
                .trim_start_matches("cap_")
                .to_lowercase();
            let hint = suggest(&guess, schema::CAPABILITIES.iter().copied())
                .map(|s| format!("did you mean '{s}'?"));
            (format!("'{value}' is not a capability"), hint)
        }
        p if p.contains("icmpv6") => {
            let hint = suggest(value, schema::PROTOCOLS.iter().copied())
                .map(|s| format!("did you mean '{s}'?"))
                .or_else(|| {
                    Some("one of tcp, udp, icmp, icmpv6, raw, sctp, stream, dgram, all".into())
                });
            (format!("'{value}' is not a protocol"), hint)
        }
        _ => (
            format!("'{value}' does not match the pattern {pattern}"),
            None,
        ),
    }
}

/// Finds the position of a dotted field path (`spec.file.matchPaths[2]`) in the tree.
pub fn locate(root: &Node, field: &str) -> Option<Pos> {
    let mut node = root;
    let mut pos = root.pos;
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        let e = node.get(name)?;
        node = &e.value;
        pos = e.key_pos;
        for idx in indexes.split(['[', ']']).filter(|s| !s.is_empty()) {
            let i: usize = idx.parse().ok()?;
            let Value::Seq(items) = &node.value else {
                return None;
            };
            node = items.get(i)?;
            pos = node.pos;
        }
    }
    Some(pos)
}

/// What KubeArmor refuses in a KubeArmorPolicy's selector outside Kubernetes
/// (`ParseAndUpdateContainerSecurityPolicy`: "Invalid"), and namespaces VM containers never
/// have. Warnings, errors with --strict: the CRD accepts all of these (Kubernetes
/// multi-container selectors such as `container.name: [a,b]` with a pod label are common in
/// KubeArmor's own corpora), and validation keeps the CRD's verdicts.
fn container_selector_checks(policy: &Policy, root: &Node, cx: &mut Ctx) {
    use crate::policy::{CONTAINER_NAME_LABEL, CONTAINER_NAMESPACE};
    let at = |field: &str| locate(root, field).unwrap_or(root.pos);
    let labels_node = root
        .get("spec")
        .and_then(|s| s.value.get("selector"))
        .and_then(|s| s.value.get("matchLabels"));
    if let Some(sel) = &policy.spec.selector {
        // Omitting the selector is a deliberate "every container" in Kubernetes, and the
        // CRD accepts an empty one (KubeArmor's own corpora have them); outside Kubernetes
        // KubeArmor refuses a policy without matchLabels. A warning (an error with
        // --strict), so that validation keeps the CRD's verdicts for cluster policies.
        if sel.match_labels.is_empty() && sel.match_expressions.is_empty() {
            let field = if labels_node.is_some() {
                "spec.selector.matchLabels"
            } else {
                "spec.selector"
            };
            cx.warn(
                at(field),
                field,
                "empty: selects no container on a VM (KubeArmor refuses a container policy without matchLabels outside Kubernetes: Invalid)".into(),
                Some("select containers with kubearmor.io/container.name: NAME, or with their labels".into()),
            );
        }
        if let Some(name) = sel.match_labels.get(CONTAINER_NAME_LABEL) {
            let (pos, field) = match labels_node.and_then(|l| l.value.get(CONTAINER_NAME_LABEL)) {
                Some(e) => (
                    e.value.pos,
                    format!("spec.selector.matchLabels.{CONTAINER_NAME_LABEL}"),
                ),
                None => (at("spec.selector"), "spec.selector.matchLabels".to_string()),
            };
            if sel.match_labels.len() > 1 {
                let others: Vec<&str> = sel
                    .match_labels
                    .keys()
                    .map(String::as_str)
                    .filter(|k| *k != CONTAINER_NAME_LABEL)
                    .collect();
                cx.warn(
                    pos,
                    &field,
                    format!(
                        "cannot be combined with other labels ({}): selects no container on a VM (KubeArmor refuses the policy outside Kubernetes: Invalid)",
                        others.join(", ")
                    ),
                    Some("select by the container name alone, or by labels alone".into()),
                );
            }
            // KubeArmor compiles the whole identity `label=value` as the regex.
            match regex::Regex::new(&format!("{CONTAINER_NAME_LABEL}={name}")) {
                Err(e) => cx.warn(
                    pos,
                    &field,
                    format!(
                        "'{name}' is not a valid regular expression, so it selects no container on a VM (KubeArmor refuses the policy outside Kubernetes): {}",
                        e.to_string().lines().last().unwrap_or("").trim().trim_start_matches("error: ")
                    ),
                    Some("the container name is matched as a regex; escape special characters".into()),
                ),
                Ok(_) if name.starts_with('^') => cx.warn(
                    pos,
                    &field,
                    format!("'{name}' selects no container: KubeArmor matches the regex against `{CONTAINER_NAME_LABEL}=NAME`, where `^` cannot match"),
                    Some(format!("write '{}$' for exactly that name", name.trim_start_matches('^').trim_end_matches('$'))),
                ),
                Ok(_) => {}
            }
        }
    }
    if let Some(ns) = policy.metadata.namespace.as_deref()
        && ns != CONTAINER_NAMESPACE
        && ns != "default"
    {
        cx.warn(
            at("metadata.namespace"),
            "metadata.namespace",
            format!("containers on a VM are all in {CONTAINER_NAMESPACE}, never in '{ns}': this policy selects no container here"),
            Some(format!("use namespace: {CONTAINER_NAMESPACE}, or leave it out")),
        );
    }
}

/// The warning on every non-empty `spec.apparmor` (`policy apply` words it for the
/// agent's enforcer, which it knows).
pub const RAW_APPARMOR_WARNING: &str = "raw AppArmor rules are enforced only by the AppArmor enforcer, which puts them into the profile of each target the policy selects; BPF-LSM and fanotify do not load them, and there this part of the policy does nothing";

/// Why raw AppArmor rules cannot be put into a profile: a `}` that closes more than the
/// rules opened, or a `{` left open (outside quotes and comments).
fn raw_apparmor_problem(raw: &str) -> Option<String> {
    let mut depth: i64 = 0;
    for (n, line) in raw.lines().enumerate() {
        let (mut quoted, mut escaped) = (false, false);
        for c in line.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = !quoted,
                '#' if !quoted => break,
                '{' if !quoted => depth += 1,
                '}' if !quoted => {
                    depth -= 1;
                    if depth < 0 {
                        return Some(format!(
                            "line {}: this }} closes a block the rules did not open (it would end knoxctl's profile)",
                            n + 1
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    (depth > 0).then(|| format!("{depth} {{ not closed"))
}

/// Checks that need the whole policy: rules that can never match, duplicates, conflicts.
fn semantic_checks(policy: &Policy, root: &Node, cx: &mut Ctx) {
    let at = |field: &str| locate(root, field).unwrap_or(root.pos);
    let spec = &policy.spec;
    let rules = normalize::rules_of(policy);
    if rules.is_empty()
        && spec.presets.is_empty()
        && spec.apparmor.as_deref().is_none_or(|a| a.trim().is_empty())
    {
        cx.warn(
            at("spec"),
            "spec",
            "policy has no rules: it selects targets but does nothing".into(),
            Some("add process, file, network, capabilities, syscalls or device rules".into()),
        );
    }
    if let Some(raw) = spec.apparmor.as_deref().filter(|a| !a.trim().is_empty()) {
        match raw_apparmor_problem(raw) {
            // Pasted verbatim into a profile: a `}` too many would end knoxctl's profile
            // and make the rest of the text something else.
            Some(problem) => cx.error(
                at("spec.apparmor"),
                "spec.apparmor",
                problem,
                Some("raw AppArmor rules are the body of a profile: every { needs its }".into()),
            ),
            // Accepted as the CRD accepts it, but never silently: only one backend loads it.
            None => cx.warn(
                at("spec.apparmor"),
                "spec.apparmor",
                RAW_APPARMOR_WARNING.into(),
                Some("to enforce it under every enforcer, express it as process, file, network or capabilities rules".into()),
            ),
        }
    }
    match policy.kind {
        Kind::KubeArmorHostPolicy => {
            if spec
                .node_selector
                .as_ref()
                .is_none_or(|s| s.match_labels.is_empty())
            {
                cx.warn(
                    at("spec.nodeSelector"),
                    "spec.nodeSelector.matchLabels",
                    "empty: this policy selects no host".into(),
                    Some(
                        "use kubearmor.io/hostname: '*' for every host, or the host's name".into(),
                    ),
                );
            }
        }
        Kind::KubeArmorPolicy => container_selector_checks(policy, root, cx),
        Kind::KubeArmorClusterPolicy => {}
    }
    if let Some(process) = &spec.process {
        for (i, r) in process.match_paths.iter().enumerate() {
            if r.path.is_some() && r.execname.is_some() {
                let f = format!("spec.process.matchPaths[{i}].path");
                cx.warn(
                    at(&f),
                    &f,
                    "ignored: execname is set too, and KubeArmor matches execname (any binary of that name)".into(),
                    Some("keep either path or execname".into()),
                );
            }
            if r.path.is_none() && r.execname.is_none() {
                let f = format!("spec.process.matchPaths[{i}]");
                cx.warn(
                    at(&f),
                    &f,
                    "rule has neither path nor execname: it matches nothing".into(),
                    None,
                );
            }
        }
        for (i, r) in process.match_directories.iter().enumerate() {
            let action = r
                .info
                .action
                .or(process.info.action)
                .or(spec.info.action)
                .unwrap_or(crate::policy::Action::Block);
            if r.dir == "/"
                && r.recursive
                && action == crate::policy::Action::Block
                && r.from_source.is_empty()
            {
                let f = format!("spec.process.matchDirectories[{i}].dir");
                cx.warn(
                    at(&f),
                    &f,
                    "blocks every program on the target, shells and knoxctl included".into(),
                    Some("narrow the directory or add fromSource".into()),
                );
            }
        }
    }
    for section in ["process", "file"] {
        let patterns = match section {
            "process" => spec.process.as_ref(),
            _ => spec.file.as_ref(),
        };
        for (i, r) in patterns
            .map(|s| s.match_patterns.as_slice())
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            if !r.pattern.starts_with('/') {
                let f = format!("spec.{section}.matchPatterns[{i}].pattern");
                cx.warn(
                    at(&f),
                    &f,
                    format!(
                        "'{}' is not an absolute glob: it can never match a path",
                        r.pattern
                    ),
                    None,
                );
            }
        }
    }
    for problem in normalize::unrecognised_values(policy) {
        cx.warn(
            at(&problem.field),
            &problem.field,
            problem.message,
            problem.hint,
        );
    }
    let set = RuleSet::from_policies(std::slice::from_ref(policy));
    for d in set.duplicates {
        cx.warn(
            at(&d.field),
            &d.field,
            format!(
                "duplicate rule: same as {} at line {}",
                d.first_field,
                at(&d.first_field).line
            ),
            Some("remove one of them".into()),
        );
    }
    for c in set.conflicts {
        cx.warn(
            at(&c.loser_field),
            &c.loser_field,
            format!(
                "{} conflicts with {} of {} at line {}: Block wins",
                c.loser_action,
                c.winner_action,
                c.winner_field,
                at(&c.winner_field).line
            ),
            Some("KubeArmor's AppArmor enforcer also lets the deny win; remove the rule you do not mean".into()),
        );
    }
}
