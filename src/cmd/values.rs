//! How the command line spells domain enums. Their `clap::ValueEnum` implementations live
//! here, at the CLI edge, so that the policy and enforcer types carry no clap: the names
//! and help are the ones the derive gave them before (the man pages and completions are
//! checked against them).

use crate::enforce::EnforcerChoice;
use crate::policy::matcher::Posture;
use clap::builder::PossibleValue;

impl clap::ValueEnum for Posture {
    fn value_variants<'a>() -> &'a [Self] {
        &[Posture::Audit, Posture::Block]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Posture::Audit => {
                PossibleValue::new("audit").help("Permit and alert (KubeArmor's default)")
            }
            Posture::Block => PossibleValue::new("block").help("Deny"),
        })
    }
}

impl clap::ValueEnum for EnforcerChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            EnforcerChoice::Auto,
            EnforcerChoice::BpfLsm,
            EnforcerChoice::Apparmor,
            EnforcerChoice::Fanotify,
            EnforcerChoice::MonitorOnly,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            EnforcerChoice::Auto => "auto",
            EnforcerChoice::BpfLsm => "bpf-lsm",
            EnforcerChoice::Apparmor => "apparmor",
            EnforcerChoice::Fanotify => "fanotify",
            EnforcerChoice::MonitorOnly => "monitor-only",
        }))
    }
}
