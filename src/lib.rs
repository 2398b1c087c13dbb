//! knoxctl: runtime protection for Linux VMs with KubeArmor policies.
//!
//! The binary is a thin shell over this library so that tests, benches and fuzz targets
//! drive the same code as users.
//!
//! Data flow: policy YAML (`yaml`, positions kept) → typed model and CRD validation
//! (`policy::validate`) → one normalized rule set per target (`policy::normalize`) → an
//! enforcer backend (`enforce`: BPF-LSM, fanotify, or monitoring only) → the kernel →
//! events from the backend and the eBPF monitor (`monitor`) → enrichment and policy match
//! (`agent::pipeline`, with `policy::matcher`) → a KubeArmor-format alert (`alert`) → the
//! store, `alerts tail` and forwarders. `agent` runs that pipeline behind a root-only
//! socket; `cmd` is the command line over all of it; `onboard` installs and supervises it.

pub mod agent;
pub mod alert;
pub mod cmd;
pub mod container;
pub mod enforce;
pub mod forward;
pub mod harden;
pub mod identity;
pub mod kernel;
pub mod learn;
pub mod monitor;
pub mod onboard;
pub mod output;
pub mod policy;
pub mod procfs;
pub mod redact;
pub mod sysdump;
pub mod yaml;

/// The layering the data flow implies, checked on the source: a module may use only
/// modules below it, so there is no import circle and no import upward (a backend that
/// reached into the agent's configuration, or an enforcer that borrowed the monitor's
/// helpers, once did).
#[cfg(test)]
mod layering {
    /// Top-level modules from the top (0) down. Modules on the same floor do not use
    /// each other: the enforcers and the monitor both sit on the kernel edge (`kernel`)
    /// and stay independent of each other, and of the forwarders, which read the store.
    const FLOORS: &[(&str, u8)] = &[
        ("cmd", 0),
        ("sysdump", 1),
        ("harden", 1),
        ("output", 2),
        ("onboard", 3),
        ("agent", 4),
        ("enforce", 5),
        ("monitor", 5),
        ("forward", 5),
        ("learn", 5),
        ("alert", 6),
        ("container", 6),
        ("policy", 7),
        ("identity", 8),
        ("procfs", 8),
        ("redact", 8),
        ("yaml", 8),
        ("kernel", 8),
    ];

    fn floor(module: &str) -> u8 {
        FLOORS
            .iter()
            .find(|(m, _)| *m == module)
            .unwrap_or_else(|| panic!("src/{module}: add the new module to FLOORS"))
            .1
    }

    /// The top-level modules `text` names as `crate::X` (in paths or `use crate::{X, ..}`),
    /// outside comments and the unit tests at the end of a file.
    fn used(text: &str) -> std::collections::BTreeSet<String> {
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let mut out = std::collections::BTreeSet::new();
        for line in code.lines().map(str::trim_start) {
            if line.starts_with("//") {
                continue;
            }
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + "crate::".len()..];
                let names: Vec<&str> = match rest.strip_prefix('{') {
                    Some(group) => group
                        .split(['}', ','])
                        .map(|n| n.trim().split("::").next().unwrap_or_default())
                        .collect(),
                    None => vec![rest],
                };
                for n in names {
                    let n: String = n
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if !n.is_empty() {
                        out.insert(n);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn modules_use_only_modules_below_them() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    files.push(p);
                }
            }
        }
        let mut wrong = Vec::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap();
            let top = rel.iter().next().unwrap().to_string_lossy();
            let top = top.trim_end_matches(".rs");
            if top == "main" || top == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&f).unwrap();
            for m in used(&text) {
                if m != top && floor(&m) <= floor(top) {
                    wrong.push(format!("src/{}: {top} uses {m}", rel.display()));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports against the layering:\n{}",
            wrong.join("\n")
        );
    }
}
