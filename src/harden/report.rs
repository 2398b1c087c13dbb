//! The coverage report of a recommendation: per framework, the controls the recommended
//! policies cover (direct, compensating, weak), the controls no runtime rule can enforce
//! (configuration checks), and the controls not covered (with the templates that would);
//! per template, its evidence, action and verify recipe. Rendered as JSON
//! (`knoxctl.harden.report/v1`), Markdown, or one self-contained HTML page.

use super::catalog::Template;
use super::frameworks::{FRAMEWORKS, Strength};
use super::recommend::Outcome;
use serde::Serialize;
use std::collections::BTreeMap;

pub const SCHEMA: &str = "knoxctl.harden.report/v1";

#[derive(Clone, Debug, Serialize)]
pub struct Covered {
    pub control: String,
    pub strength: Strength,
    pub templates: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct NotRuntime {
    pub control: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct NotCovered {
    pub control: String,
    /// Templates of the catalog that map it but were not recommended here.
    pub templates: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FrameworkCoverage {
    pub framework: String,
    pub name: String,
    pub version: String,
    pub covered: Vec<Covered>,
    #[serde(rename = "notRuntimeEnforceable")]
    pub not_runtime: Vec<NotRuntime>,
    #[serde(rename = "notCovered")]
    pub not_covered: Vec<NotCovered>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TemplateEntry {
    pub id: String,
    pub title: String,
    pub status: String,
    pub detail: Vec<String>,
    pub verify: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub catalog: &'static str,
    pub targets: Vec<String>,
    pub frameworks: Vec<FrameworkCoverage>,
    pub templates: Vec<TemplateEntry>,
}

/// Builds the report of `outcomes` against the templates that were considered.
pub fn build(outcomes: &[Outcome], templates: &[&Template]) -> Report {
    let recommended: BTreeMap<&str, ()> = outcomes
        .iter()
        .flat_map(|o| o.recommendations.iter().map(|r| (r.template.as_str(), ())))
        .collect();
    let mut frameworks = Vec::new();
    for f in FRAMEWORKS {
        let mut covered: BTreeMap<String, (Strength, Vec<String>)> = BTreeMap::new();
        let mut missing: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in templates {
            for m in t.compliance.iter().filter(|m| m.framework == f.id) {
                if recommended.contains_key(t.id.as_str()) {
                    let e = covered
                        .entry(m.control.clone())
                        .or_insert((m.strength, Vec::new()));
                    e.0 = e.0.min(m.strength);
                    e.1.push(t.id.clone());
                } else {
                    missing
                        .entry(m.control.clone())
                        .or_default()
                        .push(t.id.clone());
                }
            }
        }
        missing.retain(|c, _| !covered.contains_key(c));
        let not_runtime: Vec<NotRuntime> = f
            .config_only
            .iter()
            .map(|(c, r)| NotRuntime {
                control: c.to_string(),
                reason: r.to_string(),
            })
            .collect();
        if covered.is_empty() && missing.is_empty() {
            continue;
        }
        frameworks.push(FrameworkCoverage {
            framework: f.id.to_string(),
            name: f.name.to_string(),
            version: f.version.to_string(),
            covered: covered
                .into_iter()
                .map(|(control, (strength, templates))| Covered {
                    control,
                    strength,
                    templates,
                })
                .collect(),
            not_runtime,
            not_covered: missing
                .into_iter()
                .map(|(control, templates)| NotCovered { control, templates })
                .collect(),
        });
    }
    let mut entries = Vec::new();
    for o in outcomes {
        for r in &o.recommendations {
            let mut detail = r.evidence.clone();
            if !r.dropped.is_empty() {
                detail.push(format!("dropped (absent here): {}", r.dropped.join(", ")));
            }
            if let Some(d) = &r.demoted {
                detail.push(format!("Audit instead of Block: {d}"));
            }
            entries.push(TemplateEntry {
                id: r.template.clone(),
                title: r.title.clone(),
                status: format!("{} on {}", r.action.as_str(), o.target),
                detail,
                verify: verify_of(templates, &r.template),
            });
        }
        for s in &o.skipped {
            entries.push(TemplateEntry {
                id: s.template.clone(),
                title: s.title.clone(),
                status: format!("skipped on {}", o.target),
                detail: vec![s.reason.clone()],
                verify: verify_of(templates, &s.template),
            });
        }
    }
    Report {
        schema: SCHEMA,
        catalog: super::catalog::CATALOG_VERSION,
        targets: outcomes.iter().map(|o| o.target.clone()).collect(),
        frameworks,
        templates: entries,
    }
}

fn verify_of(templates: &[&Template], id: &str) -> String {
    templates
        .iter()
        .find(|t| t.id == id)
        .map(|t| {
            let expect: Vec<String> = t
                .verify
                .expect
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("`{}` → alert {}", t.verify.trigger, expect.join(" "))
        })
        .unwrap_or_default()
}

fn counts(f: &FrameworkCoverage) -> (usize, usize, usize) {
    let n = |s| f.covered.iter().filter(|c| c.strength == s).count();
    (
        n(Strength::Direct),
        n(Strength::Compensating),
        n(Strength::Weak),
    )
}

pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    s.push_str("# knoxctl harden report\n\n");
    s.push_str(&format!(
        "Targets: {}. Catalog {}.\n\n",
        r.targets.join(", "),
        r.catalog
    ));
    s.push_str("## Coverage per framework\n\n| Framework | Direct | Compensating | Weak | Not runtime-enforceable | Not covered |\n|---|---|---|---|---|---|\n");
    for f in &r.frameworks {
        let (d, c, w) = counts(f);
        s.push_str(&format!(
            "| {} {} | {d} | {c} | {w} | {} | {} |\n",
            f.name,
            f.version,
            f.not_runtime.len(),
            f.not_covered.len()
        ));
    }
    for f in &r.frameworks {
        s.push_str(&format!("\n### {} {}\n\n", f.name, f.version));
        for c in &f.covered {
            s.push_str(&format!(
                "- covered ({}) {}: {}\n",
                c.strength,
                c.control,
                c.templates.join(", ")
            ));
        }
        for c in &f.not_runtime {
            s.push_str(&format!(
                "- not runtime-enforceable {}: {}\n",
                c.control, c.reason
            ));
        }
        for c in &f.not_covered {
            s.push_str(&format!(
                "- not covered {} (templates not recommended: {})\n",
                c.control,
                c.templates.join(", ")
            ));
        }
    }
    s.push_str("\n## Templates\n\n");
    for t in &r.templates {
        s.push_str(&format!("### {} — {}\n\n{}\n\n", t.id, t.status, t.title));
        for d in &t.detail {
            s.push_str(&format!("- {d}\n"));
        }
        s.push_str(&format!("- verify: {}\n\n", t.verify));
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One HTML page with its style inline: no script, no external resource, so it opens
/// anywhere and can be mailed as is.
pub fn html(r: &Report) -> String {
    let mut s = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>knoxctl harden report</title>\n<style>\
body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.direct{color:#0a6b2d}.compensating{color:#8a5a00}.weak{color:#777}.skip{color:#777}\
code{background:#f5f5f5;padding:0 .2em}details{margin:.4em 0}summary{cursor:pointer;font-weight:600}\
</style></head><body>\n<h1>knoxctl harden report</h1>\n",
    );
    s.push_str(&format!(
        "<p>Targets: {}. Catalog {}.</p>\n<h2>Coverage per framework</h2>\n<table><tr><th>Framework</th><th>Direct</th><th>Compensating</th><th>Weak</th><th>Not runtime-enforceable</th><th>Not covered</th></tr>\n",
        esc(&r.targets.join(", ")),
        esc(r.catalog)
    ));
    for f in &r.frameworks {
        let (d, c, w) = counts(f);
        s.push_str(&format!(
            "<tr><td>{} {}</td><td>{d}</td><td>{c}</td><td>{w}</td><td>{}</td><td>{}</td></tr>\n",
            esc(f.name.as_str()),
            esc(&f.version),
            f.not_runtime.len(),
            f.not_covered.len()
        ));
    }
    s.push_str("</table>\n");
    for f in &r.frameworks {
        s.push_str(&format!("<details><summary>{} {}</summary><table><tr><th>Control</th><th>Status</th><th>Templates / reason</th></tr>\n", esc(&f.name), esc(&f.version)));
        for c in &f.covered {
            s.push_str(&format!(
                "<tr><td>{}</td><td class=\"{}\">covered ({})</td><td>{}</td></tr>\n",
                esc(&c.control),
                c.strength,
                c.strength,
                esc(&c.templates.join(", "))
            ));
        }
        for c in &f.not_runtime {
            s.push_str(&format!(
                "<tr><td>{}</td><td>not runtime-enforceable</td><td>{}</td></tr>\n",
                esc(&c.control),
                esc(&c.reason)
            ));
        }
        for c in &f.not_covered {
            s.push_str(&format!(
                "<tr><td>{}</td><td class=\"skip\">not covered</td><td>{}</td></tr>\n",
                esc(&c.control),
                esc(&c.templates.join(", "))
            ));
        }
        s.push_str("</table></details>\n");
    }
    s.push_str("<h2>Templates</h2>\n<table><tr><th>Template</th><th>Status</th><th>Evidence</th><th>Verify</th></tr>\n");
    for t in &r.templates {
        let class = if t.status.starts_with("skipped") {
            " class=\"skip\""
        } else {
            ""
        };
        s.push_str(&format!(
            "<tr{class}><td><b>{}</b><br>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>\n",
            esc(&t.id),
            esc(&t.title),
            esc(&t.status),
            t.detail.iter().map(|d| esc(d)).collect::<Vec<_>>().join("<br>"),
            esc(&t.verify)
        ));
    }
    s.push_str("</table>\n</body></html>\n");
    s
}
