//! The monitor-only backend: the kernel enforces nothing. Block and Allow rules are
//! reported as unenforceable and alerted as `Audit (Block)` / `Audit (Allow)` from the eBPF
//! monitor, so a host without a usable enforcer still says what *would* have been denied.

use super::{ApplyReport, Backend, EnforceError, Enforcer};
use crate::policy::Action;
use crate::policy::normalize::RuleSet;

#[derive(Default)]
pub struct MonitorOnly;

impl Enforcer for MonitorOnly {
    fn backend(&self) -> Backend {
        Backend::MonitorOnly
    }

    fn apply(&mut self, rules: &RuleSet) -> Result<ApplyReport, EnforceError> {
        let unenforceable = rules
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.action != Action::Audit)
            .map(|(i, _)| {
                (
                    i,
                    "monitor-only mode: observed and alerted, not enforced".to_string(),
                )
            })
            .collect();
        Ok(ApplyReport {
            enforced: Vec::new(),
            unenforceable,
            notes: Vec::new(),
        })
    }

    fn stop(&mut self) {}
}
