//! Importing a kubearmor/policy-templates tree (`--templates DIR`): bare KubeArmor policy
//! files and `metadata.yaml` rule lists (karmor's semantics: `precondition` paths, OPTSCAN
//! meaning "always", `yaml:` naming a template file next to it, or an inline `spec`).
//!
//! Every problem is reported as `file:line: reason`, and what can be repaired is repaired
//! and said: selectors (placeholders, missing nodeSelector) are replaced by the target's
//! own when rendered, per-section and per-rule actions give way to the recommended action,
//! lowercase actions and null severities are normalized, pattern rules without a pattern
//! are dropped, and `/bin/x`-only paths get their `/usr` twin when materialized. What
//! cannot be repaired (not YAML, other kinds, allow-lists) is skipped with the reason.

use super::HardenError;
use super::catalog::{Scope, Template, Verify, section_enforcers};
use super::frameworks::{Mapping, Strength};
use super::precondition::Precondition;
use super::recommend::{Action, materialize, policy_document, usr_twin};
use crate::yaml::{Node, Pos};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProblemKind {
    /// The file or entry was not imported.
    Skipped,
    /// Imported after a change, said here.
    Repaired,
    /// Imported as is, but worth knowing.
    Warning,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Problem {
    pub file: String,
    pub line: u32,
    pub kind: ProblemKind,
    pub reason: String,
}

impl Problem {
    pub fn render(&self) -> String {
        let kind = match self.kind {
            ProblemKind::Skipped => "skipped",
            ProblemKind::Repaired => "repaired",
            ProblemKind::Warning => "warning",
        };
        format!(
            "{}:{}: {kind}: {}",
            self.file,
            self.line.max(1),
            self.reason
        )
    }
}

#[derive(Debug, Default)]
pub struct Import {
    pub templates: Vec<Template>,
    pub problems: Vec<Problem>,
    /// Files read (YAML files of the tree).
    pub files: usize,
}

const SECTIONS: &[&str] = &["process", "file", "network", "capabilities", "syscalls"];

/// Reads every `*.yaml`/`*.yml` under `dir` (sorted, hidden entries skipped).
pub fn import_dir(dir: &Path) -> Result<Import, HardenError> {
    if !dir.is_dir() {
        return Err(HardenError::Import {
            path: dir.display().to_string(),
            reason: "not a directory (--templates takes a policy-templates tree, a .zip of one or an http(s) URL of such a zip)".into(),
        });
    }
    let mut files = Vec::new();
    walk(dir, &mut files).map_err(|e| HardenError::Import {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    files.sort();
    let mut out = Import {
        files: files.len(),
        ..Import::default()
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(dir).unwrap_or(f).display().to_string();
        let text = match std::fs::read(f) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                out.problems.push(problem(
                    &rel,
                    1,
                    ProblemKind::Skipped,
                    format!("cannot read: {e}"),
                ));
                continue;
            }
        };
        if f.file_name().is_some_and(|n| n == "metadata.yaml") {
            import_metadata(dir, f, &rel, &text, &mut out);
        } else {
            import_policy_file(&rel, &text, &mut out);
        }
    }
    // Ids must be unique: the second `x` becomes `x-2`.
    for t in &mut out.templates {
        let n = seen.entry(t.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            t.id = format!("{}-{n}", t.id);
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let p = e.path();
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if ft.is_file() && p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
    Ok(())
}

fn problem(file: &str, line: u32, kind: ProblemKind, reason: String) -> Problem {
    Problem {
        file: file.to_string(),
        line,
        kind,
        reason,
    }
}

fn line_of(node: &Node, path: &[&str]) -> u32 {
    let mut n = node;
    let mut line = n.pos.line;
    for k in path {
        match n.get(k) {
            Some(e) => {
                line = e.key_pos.line;
                n = &e.value;
            }
            None => break,
        }
    }
    line
}

fn import_policy_file(rel: &str, text: &str, out: &mut Import) {
    if let Some(n) = text.lines().position(|l| l.contains('\t')) {
        out.problems.push(problem(
            rel,
            n as u32 + 1,
            ProblemKind::Warning,
            "tab characters: knoxctl reads them where YAML allows them, stricter parsers refuse the file".into(),
        ));
    }
    let docs = match crate::yaml::load_str(text) {
        Ok(d) => d,
        Err(e) => {
            let pos = e.pos().unwrap_or(Pos { line: 1, col: 1 });
            let mut reason = format!("not valid YAML: {e}");
            if text.contains('\t') {
                reason.push_str(" (a tab in the indentation; YAML needs spaces)");
            }
            out.problems
                .push(problem(rel, pos.line, ProblemKind::Skipped, reason));
            return;
        }
    };
    for d in docs
        .iter()
        .filter(|d| d.root.value != crate::yaml::Value::Null)
    {
        let kind = d
            .root
            .get("kind")
            .and_then(|e| e.value.as_str())
            .unwrap_or("");
        let scope = match kind {
            "KubeArmorHostPolicy" => Scope::Host,
            "KubeArmorPolicy" | "KubeArmorClusterPolicy" => Scope::Container,
            "" => {
                out.problems.push(problem(
                    rel,
                    d.root.pos.line,
                    ProblemKind::Skipped,
                    "no kind: not a Kubernetes manifest".into(),
                ));
                continue;
            }
            other => {
                out.problems.push(problem(
                    rel,
                    line_of(&d.root, &["kind"]),
                    ProblemKind::Skipped,
                    format!("not a KubeArmor policy (kind {other}); only KubeArmor templates are recommended"),
                ));
                continue;
            }
        };
        let name = d
            .root
            .get("metadata")
            .and_then(|m| m.value.get("name"))
            .and_then(|n| n.value.as_str())
            .map(str::to_string)
            .unwrap_or_else(|| stem(rel));
        let spec_node = d.root.get("spec").map(|e| e.value.clone());
        let Some(spec_node) = spec_node else {
            out.problems.push(problem(
                rel,
                d.root.pos.line,
                ProblemKind::Skipped,
                "no spec".into(),
            ));
            continue;
        };
        let id = name
            .trim_start_matches("ksp-")
            .trim_start_matches("hsp-")
            .trim_start_matches("csp-")
            .to_string();
        let category = rel.split('/').next().unwrap_or("imported").to_string();
        let t = template_from_spec(
            rel,
            &d.root,
            &spec_node,
            &id,
            scope,
            &category,
            None,
            Vec::new(),
            out,
        );
        if let Some(t) = t {
            out.templates.push(t);
        }
    }
}

fn stem(rel: &str) -> String {
    Path::new(rel)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// karmor's precondition strings as typed preconditions: OPTSCAN means none; a path
/// (a trailing `*` meaning "anything below") must exist.
fn preconditions_of(list: &[String]) -> Option<Vec<Precondition>> {
    if list.iter().any(|p| p.contains("OPTSCAN")) {
        return Some(Vec::new());
    }
    let mut out = Vec::new();
    for p in list {
        let lit: String = p
            .chars()
            .take_while(|c| !matches!(c, '*' | '?' | '[' | '(' | '|' | '+' | '^' | '$'))
            .collect();
        let lit = lit.trim_end_matches('/');
        if !lit.starts_with('/') {
            return None;
        }
        out.push(Precondition::Exists(if lit.is_empty() {
            "/".into()
        } else {
            lit.to_string()
        }));
    }
    Some(out)
}

fn import_metadata(root: &Path, path: &Path, rel: &str, text: &str, out: &mut Import) {
    let docs = match crate::yaml::load_str(text) {
        Ok(d) => d,
        Err(e) => {
            let pos = e.pos().unwrap_or(Pos { line: 1, col: 1 });
            out.problems.push(problem(
                rel,
                pos.line,
                ProblemKind::Skipped,
                format!("not valid YAML: {e}"),
            ));
            return;
        }
    };
    let Some(doc) = docs.first() else { return };
    let Some(rules) = doc.root.get("policyRules") else {
        out.problems.push(problem(
            rel,
            1,
            ProblemKind::Skipped,
            "metadata.yaml without policyRules".into(),
        ));
        return;
    };
    let crate::yaml::Value::Seq(items) = &rules.value.value else {
        out.problems.push(problem(
            rel,
            rules.key_pos.line,
            ProblemKind::Skipped,
            "policyRules is not a list".into(),
        ));
        return;
    };
    let dir = path.parent().unwrap_or(root);
    for item in items {
        let line = item.pos.line;
        let Some(name) = item.get("name").and_then(|e| e.value.as_str()) else {
            out.problems.push(problem(
                rel,
                line,
                ProblemKind::Skipped,
                "rule without a name".into(),
            ));
            continue;
        };
        let pre: Vec<String> = match item.get("precondition").map(|e| e.value.to_json()) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        let Some(preconditions) = preconditions_of(&pre) else {
            out.problems.push(problem(
                rel,
                line,
                ProblemKind::Skipped,
                format!("{name}: precondition {pre:?} is not a path; karmor matched it as an unanchored regex, knoxctl checks paths"),
            ));
            continue;
        };
        let tldr = item
            .get("description")
            .and_then(|d| d.value.get("tldr"))
            .and_then(|t| t.value.as_str())
            .map(str::to_string);
        let (spec, doc_root, src_rel) = if let Some(spec) = item.get("spec") {
            (spec.value.clone(), item.clone(), rel.to_string())
        } else if let Some(file) = item.get("yaml").and_then(|e| e.value.as_str()) {
            let p = dir.join(file);
            let file_rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
            let Ok(text) = std::fs::read_to_string(&p) else {
                out.problems.push(problem(
                    rel,
                    line,
                    ProblemKind::Skipped,
                    format!("{name}: template file {file} not found"),
                ));
                continue;
            };
            match crate::yaml::load_str(&text)
                .ok()
                .and_then(|d| d.into_iter().next())
            {
                Some(d) => match d.root.get("spec") {
                    Some(s) => (s.value.clone(), d.root.clone(), file_rel),
                    None => {
                        out.problems.push(problem(
                            &file_rel,
                            1,
                            ProblemKind::Skipped,
                            format!("{name}: no spec"),
                        ));
                        continue;
                    }
                },
                None => {
                    out.problems.push(problem(
                        rel,
                        line,
                        ProblemKind::Skipped,
                        format!("{name}: {file} is not valid YAML"),
                    ));
                    continue;
                }
            }
        } else {
            out.problems.push(problem(
                rel,
                line,
                ProblemKind::Skipped,
                format!("{name}: neither spec nor yaml"),
            ));
            continue;
        };
        // karmor only ever wrote container policies from metadata rules.
        let category = rel
            .split('/')
            .next()
            .filter(|c| *c != "metadata.yaml")
            .unwrap_or("imported")
            .to_string();
        if let Some(t) = template_from_spec(
            &src_rel,
            &doc_root,
            &spec,
            name,
            Scope::Container,
            &category,
            tldr,
            preconditions,
            out,
        ) {
            out.templates.push(t);
        }
    }
}

/// Framework mappings found in upstream tags. They are free text there, so every mapping
/// is weak: the tag says the author had the control in mind, not that the rule covers it.
fn mappings_from_tags(tags: &[String]) -> Vec<Mapping> {
    let mitre = regex::Regex::new(r"^(?i:mitre[-_ ]?)?(T\d{4}(?:\.\d{3})?)$").expect("valid regex");
    let nist = regex::Regex::new(
        r"^(?i:nist[-_ ]?(?:800-53[-_ ]?(?:r5)?[-_ ]?)?)?([A-Z]{2}-\d{1,2}(?:\(\d{1,2}\))?)$",
    )
    .expect("valid regex");
    let mut out = Vec::new();
    for t in tags {
        let t = t.trim();
        let (fw, control) = if let Some(c) = mitre.captures(t) {
            ("mitre-attack", c[1].to_uppercase())
        } else if let Some(c) = nist.captures(t) {
            ("nist-800-53", c[1].to_string())
        } else {
            continue;
        };
        let f = super::frameworks::by_id(fw).expect("known framework");
        out.push(Mapping {
            framework: f.id.into(),
            version: f.version.into(),
            control,
            strength: Strength::Weak,
        });
    }
    out.sort();
    out.dedup();
    out
}

/// Removes `action` everywhere in the rules (the recommendation decides it), normalizes
/// what can be, and drops entries that cannot be repaired.
fn repair_rules(rules: &mut Value, rel: &str, root: &Node, out: &mut Import) {
    let Some(sections) = rules.as_object_mut() else {
        return;
    };
    for (name, section) in sections.iter_mut() {
        let Some(section) = section.as_object_mut() else {
            continue;
        };
        let line = line_of(root, &["spec", name]);
        if let Some(a) = section.remove("action") {
            out.problems.push(problem(
                rel,
                line,
                ProblemKind::Repaired,
                format!(
                    "{name}.action {a} left to the recommendation (Audit unless --action block)"
                ),
            ));
        }
        for (key, list) in section.iter_mut() {
            let Some(list) = list.as_array_mut() else {
                continue;
            };
            let before = list.len();
            list.retain(|e| {
                key != "matchPatterns"
                    || e.get("pattern")
                        .is_some_and(|p| p.as_str().is_some_and(|s| !s.is_empty()))
            });
            if list.len() < before {
                out.problems.push(problem(
                    rel,
                    line,
                    ProblemKind::Repaired,
                    format!(
                        "{name}.{key}: {} entries without a pattern dropped",
                        before - list.len()
                    ),
                ));
            }
            for e in list.iter_mut() {
                if let Some(o) = e.as_object_mut() {
                    o.remove("action");
                    if o.get("severity").is_some_and(Value::is_null) {
                        o.remove("severity");
                    }
                    if let Some(p) = o.get("path").and_then(Value::as_str)
                        && (p.starts_with("/bin/") || p.starts_with("/sbin/"))
                        && let Some(twin) = usr_twin(p)
                    {
                        out.problems.push(problem(
                            rel,
                            line,
                            ProblemKind::Repaired,
                            format!("{p} is also matched as {twin} (merged /usr)"),
                        ));
                    }
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn template_from_spec(
    rel: &str,
    root: &Node,
    spec_node: &Node,
    id: &str,
    scope: Scope,
    category: &str,
    description: Option<String>,
    preconditions: Vec<Precondition>,
    out: &mut Import,
) -> Option<Template> {
    let spec = spec_node.to_json();
    let line = spec_node.pos.line;
    let top_action = spec.get("action").and_then(Value::as_str).unwrap_or("");
    if top_action.eq_ignore_ascii_case("allow") {
        out.problems.push(problem(rel, line_of(root, &["spec", "action"]), ProblemKind::Skipped, format!("{id}: an Allow policy turns the target into allow-list posture; not recommended blindly")));
        return None;
    }
    if !top_action.is_empty() && top_action != "Audit" && top_action != "Block" {
        out.problems.push(problem(
            rel,
            line_of(root, &["spec", "action"]),
            ProblemKind::Repaired,
            format!("{id}: action '{top_action}' normalized"),
        ));
    }
    match scope {
        Scope::Host => {
            let sel = spec.get("nodeSelector").and_then(|s| s.get("matchLabels"));
            let ok = sel.is_some_and(|m| {
                m.get(crate::identity::HOSTNAME_LABEL).is_some()
                    && m.as_object().is_some_and(|o| o.len() == 1)
            });
            if !ok {
                let what = match sel {
                    None => "no nodeSelector (CRD-invalid)".to_string(),
                    Some(m) => format!("nodeSelector {m}"),
                };
                out.problems.push(problem(
                    rel,
                    line_of(root, &["spec", "nodeSelector"]),
                    ProblemKind::Repaired,
                    format!("{id}: {what} replaced by kubearmor.io/hostname of the target"),
                ));
            }
        }
        Scope::Container => {
            if spec.get("selector").is_some() {
                out.problems.push(problem(
                    rel,
                    line_of(root, &["spec", "selector"]),
                    ProblemKind::Repaired,
                    format!("{id}: selector replaced by the target container's name"),
                ));
            }
        }
    }
    let mut rules = serde_json::Map::new();
    for s in SECTIONS {
        if let Some(v) = spec.get(*s) {
            rules.insert(s.to_string(), v.clone());
        }
    }
    let mut rules = Value::Object(rules);
    repair_rules(&mut rules, rel, root, out);
    if rules.as_object().is_none_or(|o| o.is_empty()) {
        out.problems.push(problem(
            rel,
            line,
            ProblemKind::Skipped,
            format!("{id}: no process, file, network, capabilities or syscalls rules"),
        ));
        return None;
    }
    let tags: Vec<String> = spec
        .get("tags")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let severity = spec
        .get("severity")
        .and_then(Value::as_i64)
        .unwrap_or(5)
        .clamp(1, 10) as u8;
    let title = spec
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(description.clone())
        .unwrap_or_else(|| id.to_string());
    let enforcers = SECTIONS
        .iter()
        .filter(|s| rules.get(**s).is_some())
        .map(|s| super::catalog::RuleEnforcement {
            section: s.to_string(),
            enforcers: section_enforcers(s),
        })
        .collect();
    let t = Template {
        id: super::recommend::dns_label(id),
        title,
        category: category.to_string(),
        scope: vec![scope],
        severity,
        rationale: description.unwrap_or_else(|| format!("imported from {rel}")),
        remediation: "see the upstream template".into(),
        compliance: mappings_from_tags(&tags),
        preconditions,
        rules,
        container_rules: None,
        enforcers,
        safe_to_block: false,
        verify: Verify {
            requires: Vec::new(),
            trigger: String::new(),
            expect: BTreeMap::new(),
        },
        source: rel.to_string(),
    };
    // What is still invalid after the repairs is not imported.
    let (sections, _) = materialize(&t.rules, None);
    let (name, doc) = policy_document(&t, scope, "imported-check", &sections, Action::Audit);
    let text = crate::yaml::to_yaml(&doc);
    let r = crate::policy::validate::validate_bytes(&name, text.as_bytes(), Default::default());
    if !r.valid {
        let reasons: Vec<String> = r
            .diagnostics()
            .filter(|d| d.severity == crate::policy::validate::Severity::Error)
            .map(|d| format!("{}: {}", d.field, d.message))
            .collect();
        out.problems.push(problem(
            rel,
            line,
            ProblemKind::Skipped,
            format!("{id}: invalid after repair: {}", reasons.join("; ")),
        ));
        return None;
    }
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn karmor_preconditions_become_paths() {
        assert_eq!(preconditions_of(&["OPTSCAN".into()]), Some(vec![]));
        assert_eq!(
            preconditions_of(&["/etc/mysql/*".into(), "/usr/bin/mysqldump".into()]),
            Some(vec![
                Precondition::Exists("/etc/mysql".into()),
                Precondition::Exists("/usr/bin/mysqldump".into())
            ])
        );
        assert_eq!(preconditions_of(&["mysql".into()]), None);
    }

    #[test]
    fn tags_map_weakly_to_known_frameworks() {
        let m = mappings_from_tags(&[
            "MITRE".into(),
            "T1059.004".into(),
            "NIST_AC-2(4)".into(),
            "CM-7".into(),
        ]);
        let got: Vec<(&str, &str)> = m
            .iter()
            .map(|m| (m.framework.as_str(), m.control.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("mitre-attack", "T1059.004"),
                ("nist-800-53", "AC-2(4)"),
                ("nist-800-53", "CM-7")
            ]
        );
        assert!(m.iter().all(|m| m.strength == Strength::Weak));
    }
}
