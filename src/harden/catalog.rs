//! The template catalog: what a hardening template is, the 16 categories, and loading the
//! template files embedded in the binary (one file per category, `templates/*.yaml`), so
//! that `harden` works offline and every build carries the same catalog.
//!
//! A category file holds the compliance mappings its templates share (`compliance`) and
//! the templates; a template may add mappings of its own. Enforcers are derived from the
//! rules rather than declared, so they cannot drift from what the rules ask for.

use super::HardenError;
use super::frameworks::{self, Mapping};
use super::precondition::Precondition;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Bumped whenever a template changes what it emits.
pub const CATALOG_VERSION: &str = "2026.12.3";

/// The embedded template files, in category order.
const FILES: &[(&str, &str)] = &[
    (
        "package-managers.yaml",
        include_str!("templates/package-managers.yaml"),
    ),
    (
        "file-integrity.yaml",
        include_str!("templates/file-integrity.yaml"),
    ),
    (
        "credentials.yaml",
        include_str!("templates/credentials.yaml"),
    ),
    (
        "persistence.yaml",
        include_str!("templates/persistence.yaml"),
    ),
    (
        "log-tampering.yaml",
        include_str!("templates/log-tampering.yaml"),
    ),
    ("discovery.yaml", include_str!("templates/discovery.yaml")),
    (
        "remote-copy.yaml",
        include_str!("templates/remote-copy.yaml"),
    ),
    ("compilers.yaml", include_str!("templates/compilers.yaml")),
    (
        "kernel-modules.yaml",
        include_str!("templates/kernel-modules.yaml"),
    ),
    (
        "raw-sockets.yaml",
        include_str!("templates/raw-sockets.yaml"),
    ),
    (
        "trust-store.yaml",
        include_str!("templates/trust-store.yaml"),
    ),
    (
        "shell-history.yaml",
        include_str!("templates/shell-history.yaml"),
    ),
    ("ssh.yaml", include_str!("templates/ssh.yaml")),
    ("tmp-exec.yaml", include_str!("templates/tmp-exec.yaml")),
    (
        "cryptominers.yaml",
        include_str!("templates/cryptominers.yaml"),
    ),
    (
        "container-escape.yaml",
        include_str!("templates/container-escape.yaml"),
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Host,
    Container,
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scope::Host => "host",
            Scope::Container => "container",
        })
    }
}

/// An enforcer backend a rule can be enforced (denied, not only audited) by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Enforcer {
    BpfLsm,
    Fanotify,
    Apparmor,
}

impl Enforcer {
    pub fn as_str(self) -> &'static str {
        match self {
            Enforcer::BpfLsm => "bpf-lsm",
            Enforcer::Fanotify => "fanotify",
            Enforcer::Apparmor => "apparmor",
        }
    }
}

/// One rule section of a template and who can enforce it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RuleEnforcement {
    /// `process`, `file`, `network`, `capabilities`, `syscalls`.
    pub section: String,
    /// Empty: audit only everywhere (syscall rules).
    pub enforcers: Vec<Enforcer>,
}

/// What enforcers can do with each rule section. fanotify sees opens and execs only
/// (src/enforce/fanotify/plan.rs refuses every other category); syscall rules are
/// always Audit in KubeArmor.
pub fn section_enforcers(section: &str) -> Vec<Enforcer> {
    match section {
        "process" | "file" => vec![Enforcer::BpfLsm, Enforcer::Fanotify, Enforcer::Apparmor],
        "network" | "capabilities" => vec![Enforcer::BpfLsm, Enforcer::Apparmor],
        _ => Vec::new(),
    }
}

/// How to see a template work: a command that triggers its rules, and alert fields
/// (KubeArmor names: Operation, Resource, ...) the alert it raises must carry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    /// What the target must have for the trigger to mean anything (a device the driver
    /// makes): unmet, `harden verify` skips the template with the reason, while the
    /// template itself is still recommended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Precondition>,
    pub trigger: String,
    pub expect: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Template {
    pub id: String,
    pub title: String,
    pub category: String,
    pub scope: Vec<Scope>,
    /// 1 (informational) to 10 (critical), as KubeArmor policies carry it.
    pub severity: u8,
    pub rationale: String,
    pub remediation: String,
    pub compliance: Vec<Mapping>,
    pub preconditions: Vec<Precondition>,
    /// The KubeArmor spec sections (`process`, `file`, `network`, `capabilities`,
    /// `syscalls`), without selector, action, severity or tags.
    pub rules: serde_json::Value,
    /// Replaces `rules` for containers, where the host form cannot be written (an HSP
    /// needs `fromSource` for network and capability rules; a KSP does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_rules: Option<serde_json::Value>,
    pub enforcers: Vec<RuleEnforcement>,
    /// Whether blocking it stops only what a hardened machine should never do.
    pub safe_to_block: bool,
    pub verify: Verify,
    /// Where the template came from: `builtin` or the imported file.
    pub source: String,
}

impl Template {
    pub fn rules_for(&self, scope: Scope) -> &serde_json::Value {
        match (scope, &self.container_rules) {
            (Scope::Container, Some(r)) => r,
            _ => &self.rules,
        }
    }

    /// Tags emitted in the policy: one per mapping plus the plain framework words karmor
    /// users filter on, sorted so that output is the same on every run.
    pub fn tags(&self) -> Vec<String> {
        let mut tags: Vec<String> = self.compliance.iter().map(Mapping::tag).collect();
        for m in &self.compliance {
            let word = match m.framework.as_str() {
                "mitre-attack" => "MITRE",
                f if f.starts_with("nist") => "NIST",
                f if f.starts_with("cis") => "CIS",
                f if f.starts_with("stig") => "STIG",
                "pci-dss" => "PCI-DSS",
                _ => continue,
            };
            tags.push(word.to_string());
        }
        tags.push(format!("harden:{}", self.category));
        tags.sort();
        tags.dedup();
        tags
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Category {
    pub id: String,
    pub title: String,
}

#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub categories: Vec<Category>,
    pub templates: Vec<Template>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    category: String,
    title: String,
    #[serde(default)]
    compliance: Vec<String>,
    templates: Vec<TemplateFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateFile {
    id: String,
    title: String,
    scope: Vec<Scope>,
    severity: u8,
    rationale: String,
    remediation: String,
    #[serde(default)]
    compliance: Vec<String>,
    #[serde(default)]
    preconditions: Vec<Precondition>,
    rules: serde_json::Value,
    #[serde(default)]
    container_rules: Option<serde_json::Value>,
    safe_to_block: bool,
    verify: Verify,
}

const SECTIONS: &[&str] = &["process", "file", "network", "capabilities", "syscalls"];

fn enforcers_of(rules: &serde_json::Value) -> Vec<RuleEnforcement> {
    SECTIONS
        .iter()
        .filter(|s| rules.get(**s).is_some())
        .map(|s| RuleEnforcement {
            section: s.to_string(),
            enforcers: section_enforcers(s),
        })
        .collect()
}

/// Parses one category file; `source` names it in errors and in each template.
pub fn parse_category(
    file: &str,
    text: &str,
    source: &str,
) -> Result<(Category, Vec<Template>), HardenError> {
    let bad = |reason: String| HardenError::Catalog {
        file: file.to_string(),
        reason,
    };
    let docs = crate::yaml::load_str(text).map_err(|e| bad(e.to_string()))?;
    let [doc] = &docs[..] else {
        return Err(bad("one YAML document expected".into()));
    };
    let cf: CategoryFile =
        serde_json::from_value(doc.root.to_json()).map_err(|e| bad(e.to_string()))?;
    let shared: Vec<Mapping> = cf
        .compliance
        .iter()
        .map(|m| Mapping::parse(m))
        .collect::<Result<_, _>>()
        .map_err(bad)?;
    let mut out = Vec::new();
    for t in cf.templates {
        let mut compliance = shared.clone();
        for m in &t.compliance {
            compliance.push(Mapping::parse(m).map_err(|e| bad(format!("{}: {e}", t.id)))?);
        }
        compliance.sort();
        compliance.dedup();
        if t.scope.is_empty() {
            return Err(bad(format!("{}: scope is empty", t.id)));
        }
        if !(1..=10).contains(&t.severity) {
            return Err(bad(format!("{}: severity must be 1 to 10", t.id)));
        }
        if !t.rules.is_object() || !SECTIONS.iter().any(|s| t.rules.get(*s).is_some()) {
            return Err(bad(format!(
                "{}: rules need a process, file, network, capabilities or syscalls section",
                t.id
            )));
        }
        out.push(Template {
            enforcers: enforcers_of(&t.rules),
            id: t.id,
            title: t.title,
            category: cf.category.clone(),
            scope: t.scope,
            severity: t.severity,
            rationale: t.rationale,
            remediation: t.remediation,
            compliance,
            preconditions: t.preconditions,
            rules: t.rules,
            container_rules: t.container_rules,
            safe_to_block: t.safe_to_block,
            verify: t.verify,
            source: source.to_string(),
        });
    }
    Ok((
        Category {
            id: cf.category,
            title: cf.title,
        },
        out,
    ))
}

impl Catalog {
    /// The catalog built into this binary.
    pub fn builtin() -> Result<Catalog, HardenError> {
        let mut c = Catalog::default();
        for (file, text) in FILES {
            let (cat, templates) = parse_category(file, text, "builtin")?;
            c.categories.push(cat);
            c.templates.extend(templates);
        }
        c.check_unique()?;
        Ok(c)
    }

    fn check_unique(&self) -> Result<(), HardenError> {
        let mut seen = std::collections::BTreeSet::new();
        for t in &self.templates {
            if !seen.insert(t.id.as_str()) {
                return Err(HardenError::Catalog {
                    file: t.source.clone(),
                    reason: format!("template id '{}' appears twice", t.id),
                });
            }
        }
        Ok(())
    }

    /// Adds imported templates; an id the catalog already has keeps the built-in one and
    /// the import is renamed, so an import can never silently replace a vetted template.
    pub fn extend(&mut self, mut imported: Vec<Template>) {
        for t in &mut imported {
            while self.templates.iter().any(|b| b.id == t.id) {
                t.id = format!("{}-imported", t.id);
            }
            if !self.categories.iter().any(|c| c.id == t.category) {
                self.categories.push(Category {
                    id: t.category.clone(),
                    title: t.category.clone(),
                });
            }
            self.templates.push(t.clone());
        }
    }

    pub fn get(&self, id: &str) -> Result<&Template, HardenError> {
        self.templates
            .iter()
            .find(|t| t.id == id)
            .ok_or_else(|| HardenError::UnknownTemplate {
                given: id.to_string(),
                suggestion: crate::policy::suggest::suggest(
                    id,
                    self.templates.iter().map(|t| t.id.as_str()),
                )
                .map(str::to_string),
            })
    }

    pub fn category(&self, typed: &str) -> Result<&Category, HardenError> {
        let want = frameworks::fold(typed);
        self.categories
            .iter()
            .find(|c| frameworks::fold(&c.id) == want)
            .ok_or_else(|| HardenError::UnknownCategory {
                given: typed.to_string(),
                suggestion: crate::policy::suggest::suggest(
                    typed,
                    self.categories.iter().map(|c| c.id.as_str()),
                )
                .or_else(|| {
                    // `pkg` or `kernel`: the start of a category is worth suggesting.
                    self.categories
                        .iter()
                        .map(|c| c.id.as_str())
                        .find(|c| !want.is_empty() && frameworks::fold(c).starts_with(&want))
                })
                .map(str::to_string),
                known: self
                    .categories
                    .iter()
                    .map(|c| c.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Filters shared by `list` and `recommend`.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Framework ids (any of them).
    pub frameworks: Vec<String>,
    pub controls: Vec<String>,
    pub categories: Vec<String>,
    pub scope: Option<Scope>,
    pub severity_min: Option<u8>,
}

impl Filter {
    /// Resolves what the user typed; unknown names are usage errors.
    pub fn new(
        catalog: &Catalog,
        frameworks_typed: &[String],
        controls: &[String],
        categories: &[String],
        scope: Option<Scope>,
        severity_min: Option<u8>,
    ) -> Result<Filter, HardenError> {
        let mut fw = Vec::new();
        for f in frameworks_typed {
            fw.extend(
                frameworks::resolve(f)?
                    .into_iter()
                    .map(|f| f.id.to_string()),
            );
        }
        let mut cats = Vec::new();
        for c in categories {
            cats.push(catalog.category(c)?.id.clone());
        }
        let filter = Filter {
            frameworks: fw,
            controls: controls.to_vec(),
            categories: cats,
            scope,
            severity_min,
        };
        for c in controls {
            let known = catalog.templates.iter().any(|t| {
                t.compliance.iter().any(|m| {
                    frameworks::control_matches(&m.control, c)
                        && (filter.frameworks.is_empty()
                            || filter.frameworks.contains(&m.framework))
                })
            });
            if !known {
                return Err(HardenError::UnknownControl {
                    control: c.clone(),
                    framework: (!frameworks_typed.is_empty()).then(|| frameworks_typed.join(", ")),
                });
            }
        }
        Ok(filter)
    }

    pub fn matches(&self, t: &Template) -> bool {
        let mapped = |m: &Mapping| {
            (self.frameworks.is_empty() || self.frameworks.contains(&m.framework))
                && (self.controls.is_empty()
                    || self
                        .controls
                        .iter()
                        .any(|c| frameworks::control_matches(&m.control, c)))
        };
        (self.frameworks.is_empty() && self.controls.is_empty() || t.compliance.iter().any(mapped))
            && (self.categories.is_empty() || self.categories.contains(&t.category))
            && self.scope.is_none_or(|s| t.scope.contains(&s))
            && self.severity_min.is_none_or(|n| t.severity >= n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harden::recommend::{Action, materialize, policy_document};
    use crate::policy::validate::{Options, validate_bytes};

    #[test]
    fn the_builtin_catalog_is_complete() {
        let c = Catalog::builtin().unwrap();
        assert!(c.templates.len() >= 80, "{} templates", c.templates.len());
        assert_eq!(c.categories.len(), 16);
        for cat in &c.categories {
            let n = c.templates.iter().filter(|t| t.category == cat.id).count();
            assert!(n >= 5, "category {} has {n} templates", cat.id);
        }
        let frameworks: std::collections::BTreeSet<&str> = c
            .templates
            .iter()
            .flat_map(|t| t.compliance.iter().map(|m| m.framework.as_str()))
            .collect();
        assert!(frameworks.len() >= 5, "{frameworks:?}");
        for t in &c.templates {
            assert!(
                !t.title.is_empty() && !t.rationale.is_empty() && !t.remediation.is_empty(),
                "{}",
                t.id
            );
            assert!(!t.compliance.is_empty(), "{} maps no control", t.id);
            assert!(
                t.compliance.iter().any(|m| m.framework == "mitre-attack"),
                "{} has no ATT&CK technique",
                t.id
            );
            assert!(
                !t.verify.trigger.is_empty() && t.verify.expect.contains_key("Operation"),
                "{}",
                t.id
            );
            assert!(!t.enforcers.is_empty(), "{}", t.id);
            assert!(
                t.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{}",
                t.id
            );
        }
    }

    /// Every template, rendered for every scope it declares, is a policy `policy validate
    /// --strict` accepts, without a target (all twins listed).
    #[test]
    fn every_template_renders_a_strictly_valid_policy() {
        let c = Catalog::builtin().unwrap();
        let opts = Options {
            strict: true,
            ..Options::default()
        };
        let mut bad = Vec::new();
        for t in &c.templates {
            for &scope in &t.scope {
                for action in [Action::Audit, Action::Block] {
                    let (sections, dropped) = materialize(t.rules_for(scope), None);
                    assert!(dropped.is_empty());
                    let (_, doc) = policy_document(t, scope, "web-1", &sections, action);
                    let text = crate::yaml::to_yaml(&doc);
                    let r = validate_bytes(&t.id, text.as_bytes(), opts);
                    if !r.valid || r.diagnostics().next().is_some() {
                        bad.push(format!(
                            "{} ({scope}, {action:?}):\n{}\n{text}",
                            t.id,
                            r.diagnostics()
                                .map(|d| d.render(&t.id))
                                .collect::<Vec<_>>()
                                .join("\n")
                        ));
                    }
                }
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n\n"));
    }

    #[test]
    fn filters_match_framework_control_category_scope() {
        let c = Catalog::builtin().unwrap();
        let f = Filter::new(
            &c,
            &["PCI DSS".into()],
            &["11.5.2".into()],
            &[],
            Some(Scope::Host),
            None,
        )
        .unwrap();
        let hits: Vec<&str> = c
            .templates
            .iter()
            .filter(|t| f.matches(t))
            .map(|t| t.id.as_str())
            .collect();
        assert!(hits.contains(&"file-integrity-monitoring"), "{hits:?}");
        assert!(!hits.contains(&"pkg-mngr-exec"));
        let e = Filter::new(&c, &[], &[], &["pkg-manager".into()], None, None).unwrap_err();
        assert!(
            e.is_usage() && e.to_string().contains("package-managers"),
            "{e}"
        );
        let e = Filter::new(&c, &[], &["ZZ-99".into()], &[], None, None).unwrap_err();
        assert!(e.is_usage(), "{e}");
        assert!(
            c.get("pkg-mngr-exe")
                .unwrap_err()
                .to_string()
                .contains("pkg-mngr-exec")
        );
    }
}
