//! The compliance frameworks templates map to: their canonical ids, versions and the
//! spellings people type (`pci-dss` = `PCI_DSS` = `PCI DSS`), control-id normalization
//! (`CM-7 (4)` = `cm-7(4)`), and the controls of each that no runtime rule can enforce
//! (configuration checks), so that coverage reports do not count them as covered.

use super::HardenError;
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug)]
pub struct Framework {
    /// Canonical id, as written in templates and printed in reports.
    pub id: &'static str,
    pub name: &'static str,
    pub version: &'static str,
    /// Extra spellings (compared after [`fold`]); a family word (`stig`, `cis`, `nist`)
    /// selects every framework that lists it.
    pub aliases: &'static [&'static str],
    /// Tag prefix in emitted policies (`NIST_800-53_CM-7(4)`).
    pub tag: &'static str,
    /// Controls of this framework that are configuration checks (sshd settings, mount
    /// options, file modes): a runtime rule can at best compensate, never cover them.
    pub config_only: &'static [(&'static str, &'static str)],
}

pub const FRAMEWORKS: &[Framework] = &[
    Framework {
        id: "mitre-attack",
        name: "MITRE ATT&CK Enterprise",
        version: "v16",
        aliases: &["mitre", "attack", "att&ck", "mitre-att&ck"],
        tag: "MITRE",
        config_only: &[],
    },
    Framework {
        id: "nist-800-53",
        name: "NIST SP 800-53",
        version: "r5",
        aliases: &[
            "nist",
            "nist-800-53r5",
            "800-53",
            "nist80053",
            "nist-sp-800-53",
        ],
        tag: "NIST_800-53",
        config_only: &[
            (
                "CM-6",
                "configuration settings are checked by a scanner, not at runtime",
            ),
            ("IA-5(1)", "password complexity is a PAM setting"),
            (
                "AC-17(2)",
                "cryptographic protection of remote sessions is an sshd setting",
            ),
            ("SC-8", "transmission confidentiality is a TLS/sshd setting"),
        ],
    },
    Framework {
        id: "nist-800-190",
        name: "NIST SP 800-190 (container security)",
        version: "1.0",
        aliases: &["nist", "800-190", "nist800190"],
        tag: "NIST_800-190",
        config_only: &[(
            "4.3.1",
            "image vulnerabilities are found by scanning images",
        )],
    },
    Framework {
        id: "cis-debian12",
        name: "CIS Debian Linux 12 Benchmark",
        version: "1.1.0",
        aliases: &["cis", "cis-debian", "cisdebian12", "cis-debian-12"],
        tag: "CIS_DEBIAN12",
        config_only: &[
            (
                "1.1.2.1.4",
                "noexec on /tmp is a mount option (a runtime rule compensates)",
            ),
            ("5.1.4", "sshd access lists are sshd_config settings"),
            ("5.1.6", "sshd ciphers are an sshd_config setting"),
            ("5.1.19", "PermitRootLogin is an sshd_config setting"),
            (
                "1.2.1.2",
                "repository GPG keys are package-manager configuration",
            ),
            ("7.1.1", "/etc/passwd permissions are a file mode"),
        ],
    },
    Framework {
        id: "cis-controls",
        name: "CIS Critical Security Controls",
        version: "8",
        aliases: &["cis", "cis-csc", "csc", "cis-controls-v8"],
        tag: "CIS_CONTROLS",
        config_only: &[("4.1", "secure configuration process is organisational")],
    },
    Framework {
        id: "cis-docker",
        name: "CIS Docker Benchmark",
        version: "1.6.0",
        aliases: &["cis", "cis-docker-benchmark"],
        tag: "CIS_DOCKER",
        // v1.6.0 numbering: 5.1 is swarm mode, so capabilities are 5.4 and privileged
        // containers 5.5 (5.3 and 5.4 in the benchmarks before 1.5).
        config_only: &[(
            "5.5",
            "privileged containers are a run-time flag of the runtime",
        )],
    },
    Framework {
        id: "stig-ubuntu2204",
        name: "DISA STIG Canonical Ubuntu 22.04",
        version: "V2R8",
        aliases: &["stig", "disa-stig", "disa", "ubuntu-stig", "stig-ubuntu"],
        tag: "STIG",
        config_only: &[
            (
                "UBTU-22-255050",
                "sshd FIPS ciphers are an sshd_config setting",
            ),
            ("UBTU-22-611035", "password complexity is a PAM setting"),
        ],
    },
    Framework {
        id: "stig-rhel9",
        name: "DISA STIG Red Hat Enterprise Linux 9",
        version: "V2R5",
        aliases: &["stig", "disa-stig", "disa", "rhel-stig", "stig-rhel"],
        tag: "STIG",
        config_only: &[(
            "RHEL-09-255045",
            "PermitRootLogin is an sshd_config setting",
        )],
    },
    Framework {
        id: "pci-dss",
        name: "PCI DSS",
        version: "4.0",
        aliases: &["pci", "pcidss4", "pci-dss-v4", "pci-dss-4"],
        tag: "PCI_DSS_v4",
        config_only: &[
            ("8.3.6", "password length is an authentication setting"),
            (
                "2.2.7",
                "encrypted admin access is an sshd/TLS setting (a runtime rule compensates)",
            ),
        ],
    },
];

/// Lowercase with every character that is not a letter, digit or `&` dropped, so that
/// `PCI_DSS`, `pci-dss` and `PCI DSS` compare equal.
pub fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || *c == '&')
        .flat_map(char::to_lowercase)
        .collect()
}

pub fn by_id(id: &str) -> Option<&'static Framework> {
    FRAMEWORKS.iter().find(|f| f.id == id)
}

/// The frameworks a typed name selects: its canonical id or an alias of one (a family
/// word selects several). Unknown names are a usage error with the nearest spelling.
pub fn resolve(typed: &str) -> Result<Vec<&'static Framework>, HardenError> {
    let want = fold(typed);
    let hits: Vec<&'static Framework> = FRAMEWORKS
        .iter()
        .filter(|f| fold(f.id) == want || f.aliases.iter().any(|a| fold(a) == want))
        .collect();
    if !hits.is_empty() {
        return Ok(hits);
    }
    let mut words: Vec<&str> = FRAMEWORKS.iter().map(|f| f.id).collect();
    words.extend(FRAMEWORKS.iter().flat_map(|f| f.aliases.iter().copied()));
    let suggestion = crate::policy::suggest::suggest(&typed.to_lowercase(), words.clone())
        .or_else(|| {
            // `pcidss` folds to a known id but suggest works on the raw words.
            words
                .iter()
                .copied()
                .find(|w| fold(w).starts_with(&want) && !want.is_empty())
        })
        .map(str::to_string);
    Err(HardenError::UnknownFramework {
        given: typed.to_string(),
        suggestion,
        known: FRAMEWORKS
            .iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// A control id as compared: upper case, no spaces (`cm-7 (4)` → `CM-7(4)`).
pub fn normalize_control(c: &str) -> String {
    c.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Whether `control` is `wanted` or one of its enhancements/sub-items (`CM-7` selects
/// `CM-7(4)`, `T1053` selects `T1053.003`, `6.2.3` selects `6.2.3.19`).
pub fn control_matches(control: &str, wanted: &str) -> bool {
    let (c, w) = (normalize_control(control), normalize_control(wanted));
    c == w
        || c.strip_prefix(&w)
            .is_some_and(|rest| rest.starts_with('(') || rest.starts_with('.'))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Strength {
    /// The control requires monitoring or restricting exactly this.
    Direct,
    /// A configuration control whose intent the runtime rule enforces.
    Compensating,
    /// Indirect; said so rather than counted as coverage.
    Weak,
}

impl Strength {
    pub fn parse(s: &str) -> Option<Strength> {
        match fold(s).as_str() {
            "d" | "direct" => Some(Strength::Direct),
            "c" | "compensating" => Some(Strength::Compensating),
            "w" | "weak" => Some(Strength::Weak),
            _ => None,
        }
    }
}

impl fmt::Display for Strength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strength::Direct => "direct",
            Strength::Compensating => "compensating",
            Strength::Weak => "weak",
        })
    }
}

/// One compliance mapping of a template.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Mapping {
    pub framework: String,
    pub version: String,
    pub control: String,
    pub strength: Strength,
}

impl Mapping {
    /// Parses the compact form the template files use: `FRAMEWORK CONTROL STRENGTH`
    /// (`nist-800-53 CM-7(4) direct`); the version is the framework's.
    pub fn parse(s: &str) -> Result<Mapping, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let [fw, control, strength] = words[..] else {
            return Err(format!(
                "compliance entry '{s}' is not 'FRAMEWORK CONTROL STRENGTH'"
            ));
        };
        let f =
            by_id(fw).ok_or_else(|| format!("compliance entry '{s}': unknown framework '{fw}'"))?;
        let strength = Strength::parse(strength).ok_or_else(|| {
            format!("compliance entry '{s}': strength must be direct, compensating or weak")
        })?;
        Ok(Mapping {
            framework: f.id.to_string(),
            version: f.version.to_string(),
            control: control.to_string(),
            strength,
        })
    }

    /// The policy tag, `NIST_800-53_CM-7(4)`.
    pub fn tag(&self) -> String {
        let prefix = by_id(&self.framework).map_or("X", |f| f.tag);
        format!("{prefix}_{}", self.control)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_people_type_them() {
        for typed in ["pci-dss", "PCI_DSS", "PCI DSS", "pci dss", "PciDss"] {
            let f = resolve(typed).unwrap();
            assert_eq!(f.len(), 1, "{typed}");
            assert_eq!(f[0].id, "pci-dss");
        }
        assert_eq!(resolve("STIG").unwrap().len(), 2);
        assert_eq!(resolve("MITRE").unwrap()[0].id, "mitre-attack");
        assert!(resolve("cis").unwrap().len() >= 3);
    }

    #[test]
    fn unknown_framework_suggests() {
        let e = resolve("pci-dds").unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("did you mean 'pci-dss'"), "{e}");
        let e = resolve("hipaa").unwrap_err();
        assert!(e.to_string().contains("known: mitre-attack"), "{e}");
    }

    #[test]
    fn controls_normalize_and_select_children() {
        assert!(control_matches("CM-7(4)", "cm-7 (4)"));
        assert!(control_matches("CM-7(4)", "CM-7"));
        assert!(control_matches("T1053.003", "t1053"));
        assert!(!control_matches("T10530", "T1053"));
        assert!(!control_matches("CM-7", "CM-7(4)"));
    }

    #[test]
    fn compact_mapping_parses() {
        let m = Mapping::parse("nist-800-53 CM-7(4) D").unwrap();
        assert_eq!(m.version, "r5");
        assert_eq!(m.strength, Strength::Direct);
        assert_eq!(m.tag(), "NIST_800-53_CM-7(4)");
        assert!(Mapping::parse("nist CM-7 direct").is_err());
        assert!(Mapping::parse("nist-800-53 CM-7 strong").is_err());
    }
}
