// TEMPORARY local shim, never committed: replaced by the fanotify branch at merge.
use super::*;
pub struct FanotifyEnforcer;
impl FanotifyEnforcer {
    pub fn start(
        _e: std::sync::mpsc::SyncSender<EnforcerEvent>,
        _p: crate::agent::config::PostureValue,
    ) -> Result<Self, EnforceError> {
        Err(EnforceError::Unsupported {
            backend: Backend::Fanotify,
            reason: "shim".into(),
        })
    }
}
impl Enforcer for FanotifyEnforcer {
    fn backend(&self) -> Backend {
        Backend::Fanotify
    }
    fn apply(&mut self, _r: &RuleSet) -> Result<ApplyReport, EnforceError> {
        unreachable!()
    }
    fn stop(&mut self) {}
}
pub fn probe() -> ProbeResult {
    not_available(Backend::Fanotify, "shim".into())
}
