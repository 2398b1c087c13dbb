//! The agent's state machine: the applied policies, the host's rule set and the enforcer
//! that holds it. Every change is all-or-nothing: validated first, enforced second,
//! persisted third, and rolled back in the kernel if persisting fails.

use super::api::{ApplyResult, PolicySummary, Request, Response, SourceFile, Status};
use super::config::Config;
use super::state::{PolicyState, StoredPolicy};
use crate::enforce::{ApplyReport, Backend, Enforcer};
use crate::identity::Identity;
use crate::policy::matcher::{CompiledRules, Posture};
use crate::policy::normalize::{Category, RuleSet, rules_of};
use crate::policy::syscall_rules::SyscallRules;
use crate::policy::validate::{Options, Severity, validate_bytes};
use crate::policy::{Kind, Policy};
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The host's current rule set and what the enforcer made of it, shared with the alert
/// pipeline (which maps an enforcer decision's rule index back to its policy).
#[derive(Clone)]
pub struct HostRules {
    pub set: RuleSet,
    pub report: ApplyReport,
    /// The same rules compiled for matching monitor events (audits, unenforced blocks).
    pub compiled: Arc<CompiledRules>,
    /// No process rule and execs not in allow-list mode: exec events need no matching.
    pub exec_inert: bool,
    /// Rules whose every decision, audits included, the enforcer reports itself (BPF-LSM
    /// sees each operation in the kernel); the monitor stays quiet about them.
    pub enforcer_reports: std::collections::BTreeSet<usize>,
    /// The enforcer reports from the kernel (BPF-LSM), not only what it denies.
    pub kernel_reports: bool,
    /// The syscall rules, matched against the monitor's syscall events.
    pub syscalls: Arc<SyscallRules>,
    /// Syscall rules that raise no alerts (or not for every syscall they name), and why:
    /// no monitor, or a syscall the monitor cannot trace here.
    pub unaudited: Vec<(usize, String)>,
}

impl HostRules {
    fn new(set: RuleSet, report: ApplyReport, posture: Posture, backend: Backend) -> HostRules {
        let compiled = Arc::new(CompiledRules::new(&set, posture));
        let enforcer_reports = if backend == Backend::BpfLsm {
            report.enforced.iter().copied().collect()
        } else {
            Default::default()
        };
        let exec_inert = !compiled.exec_allow_list()
            && !set.rules.iter().any(|r| r.category == Category::Process);
        let syscalls = Arc::new(SyscallRules::new(&set));
        let unaudited = set
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.category == Category::Syscall)
            .map(|(i, _)| (i, NO_MONITOR.to_string()))
            .collect();
        HostRules {
            set,
            report,
            compiled,
            exec_inert,
            enforcer_reports,
            kernel_reports: backend == Backend::BpfLsm,
            syscalls,
            unaudited,
        }
    }
}

/// Why syscall rules raise no alerts until a monitor says otherwise.
const NO_MONITOR: &str = "the eBPF monitor is not running (see the agent log)";

/// Fills counters owned elsewhere (store, monitor) into a status.
pub type StatusSource = Box<dyn Fn(&mut Status) + Send>;
/// Called with every new host rule set (the monitor follows what rules need); returns the
/// syscall rules it cannot audit, and why.
pub type RulesListener = Box<dyn Fn(&HostRules) -> Vec<(usize, String)> + Send>;

pub struct Core {
    pub config: Config,
    pub hostname: String,
    identity: Identity,
    state: PolicyState,
    enforcer: Box<dyn Enforcer>,
    enforcer_reason: String,
    pub host: Arc<RwLock<HostRules>>,
    /// Fills the counters other components own (store, monitor) into `status`.
    pub status_source: Option<StatusSource>,
    /// Told about every new host rule set (see [`Core::follow_rules`]).
    on_rules: Option<RulesListener>,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A request the core refuses, as the answer to send back (boxed: a `Response` is large,
/// and the happy path should not pay for moving one).
type Refusal = Box<Response>;
/// Parsed policies with the file each came from, and the validator's warnings.
type Parsed = (Vec<(Policy, String)>, Vec<String>);

impl Core {
    /// Adopts the persisted policies and enforces them before the API opens, so that a
    /// restarted agent protects the host before it answers anyone.
    pub fn start(
        config: Config,
        hostname: String,
        state: PolicyState,
        enforcer: Box<dyn Enforcer>,
        enforcer_reason: String,
    ) -> Result<Core, String> {
        let identity = Identity::host(&hostname, &config.labels);
        let backend = enforcer.backend();
        let mut core = Core {
            config,
            hostname,
            identity,
            state,
            enforcer,
            enforcer_reason,
            host: Arc::new(RwLock::new(HostRules::new(
                RuleSet::from_policies(&[]),
                ApplyReport::default(),
                Posture::Audit,
                backend,
            ))),
            status_source: None,
            on_rules: None,
        };
        let restored = core.state.policies.clone();
        core.enforce(&restored)
            .map_err(|e| format!("cannot enforce the restored policies: {e}"))?;
        Ok(core)
    }

    pub fn backend(&self) -> Backend {
        self.enforcer.backend()
    }

    fn applies_here(&self, p: &Policy) -> bool {
        p.kind == Kind::KubeArmorHostPolicy
            && p.spec
                .node_selector
                .as_ref()
                .is_some_and(|s| self.identity.matches(&s.match_labels))
    }

    fn host_set(&self, policies: &BTreeMap<String, StoredPolicy>) -> RuleSet {
        let here: Vec<Policy> = policies
            .values()
            .map(|s| s.policy.clone())
            .filter(|p| self.applies_here(p))
            .collect();
        RuleSet::from_policies(&here)
    }

    /// Gives the enforcer the host rule set of `policies` and publishes it.
    fn enforce(&mut self, policies: &BTreeMap<String, StoredPolicy>) -> Result<(), String> {
        let set = self.host_set(policies);
        let report = self.enforcer.apply(&set).map_err(|e| e.to_string())?;
        let posture = self.config.default_posture.file;
        let mut rules = HostRules::new(set, report, posture, self.enforcer.backend());
        if let Some(tell) = &self.on_rules {
            rules.unaudited = tell(&rules);
        }
        *self.host.write().expect("host rules lock") = rules;
        Ok(())
    }

    /// From now on, `tell` hears of every new host rule set, starting with the current
    /// one; what it cannot audit is reported by `status` and `policy apply`. Without a
    /// listener (no monitor), syscall rules are reported as not audited.
    pub fn follow_rules(&mut self, tell: RulesListener) {
        let unaudited = tell(&self.host.read().expect("host rules lock"));
        self.host.write().expect("host rules lock").unaudited = unaudited;
        self.on_rules = Some(tell);
    }

    /// Enforces and persists `next`, or leaves everything as it was.
    fn commit(&mut self, next: BTreeMap<String, StoredPolicy>) -> Result<(), Refusal> {
        let previous = self.state.policies.clone();
        if let Err(e) = self.enforce(&next) {
            let _ = self.enforce(&previous);
            return Err(Box::new(Response::error(
                "failed",
                format!("the enforcer refused the change, nothing applied: {e}"),
            )));
        }
        if let Err(e) = self.state.replace(next) {
            let _ = self.enforce(&previous);
            return Err(Box::new(Response::error(
                "failed",
                format!("cannot persist the change, nothing applied: {e}"),
            )));
        }
        Ok(())
    }

    pub fn handle(&mut self, request: Request) -> Response {
        match request {
            Request::Apply { files } => {
                let r = self.apply(files);
                super::release_free_memory();
                r
            }
            Request::Delete { names, files } => self.delete(names, files),
            Request::List => self.list(),
            Request::Get { name } => self.get(&name),
            Request::Status => Response::Status {
                status: self.status(),
            },
        }
    }

    /// Validates every file; on any error returns the diagnostics instead of policies.
    fn parse(files: &[SourceFile]) -> Result<Parsed, Refusal> {
        let mut policies = Vec::new();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for f in files {
            let report = validate_bytes(&f.path, f.content.as_bytes(), Options::default());
            for d in report.diagnostics() {
                match d.severity {
                    Severity::Error => errors.push(d.render(&f.path)),
                    Severity::Warning => warnings.push(d.render(&f.path)),
                }
            }
            policies.extend(report.policies().map(|p| (p.clone(), f.path.clone())));
        }
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (p, path) in &policies {
            if let Some(first) = seen.insert(p.key(), path) {
                errors.push(format!(
                    "{path}: policy '{}' is defined twice (also in {first})",
                    p.key()
                ));
            }
        }
        if errors.is_empty() {
            Ok((policies, warnings))
        } else {
            Err(Box::new(Response::Invalid {
                diagnostics: errors,
            }))
        }
    }

    fn effect(&self, p: &Policy) -> String {
        match p.kind {
            Kind::KubeArmorHostPolicy if self.applies_here(p) => {
                let host = self.host.read().expect("host rules lock");
                let ours = |i: usize| host.set.rules.get(i).filter(|r| r.policy == p.key());
                let (mut other, mut syscalls) = (0, 0);
                for r in host.set.rules.iter().filter(|r| r.policy == p.key()) {
                    if r.category == Category::Syscall {
                        syscalls += 1;
                    } else {
                        other += 1;
                    }
                }
                // Syscall rules are audit-only everywhere: whether they are audited is the
                // monitor's business, whatever the enforcer says of them.
                let skipped = host
                    .report
                    .unenforceable
                    .iter()
                    .filter(|(i, _)| ours(*i).is_some_and(|r| r.category != Category::Syscall))
                    .count();
                let unaudited = host
                    .unaudited
                    .iter()
                    .filter(|(i, _)| ours(*i).is_some())
                    .count();
                let enforced = match skipped {
                    0 => format!("enforced on this host ({})", self.backend()),
                    n => format!(
                        "on this host ({}); {n} rule(s) observed only, see `knoxctl probe`",
                        self.backend()
                    ),
                };
                let audited = match unaudited {
                    0 => format!("{syscalls} syscall rule(s) audited by the eBPF monitor"),
                    n => format!(
                        "{n} of {syscalls} syscall rule(s) raise no alerts here, see `knoxctl probe`"
                    ),
                };
                match (other, syscalls) {
                    (_, 0) => enforced,
                    (0, _) if unaudited == 0 => format!("audited on this host: {audited}"),
                    (0, _) => format!("on this host; {audited}"),
                    _ => format!("{enforced}; {audited}"),
                }
            }
            Kind::KubeArmorHostPolicy => format!(
                "stored; its nodeSelector does not select this host ({})",
                self.hostname
            ),
            _ => "stored; container enforcement is not available in this build yet".to_string(),
        }
    }

    fn apply(&mut self, files: Vec<SourceFile>) -> Response {
        let (parsed, warnings) = match Self::parse(&files) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        if parsed.is_empty() {
            return Response::error("bad-request", "no policies to apply");
        }
        let mut next = self.state.policies.clone();
        let mut outcomes = Vec::new();
        for (policy, source) in parsed {
            let key = policy.key();
            let outcome = match next.get(&key) {
                None => "created",
                Some(old) if old.policy == policy => "unchanged",
                Some(_) => "configured",
            };
            if outcome != "unchanged" {
                next.insert(
                    key,
                    StoredPolicy {
                        policy: policy.clone(),
                        applied_at: now(),
                        source,
                    },
                );
            }
            outcomes.push((policy, outcome));
        }
        if let Err(r) = self.commit(next) {
            return *r;
        }
        let results = outcomes
            .iter()
            .map(|(p, outcome)| ApplyResult {
                kind: p.kind.as_str().to_string(),
                name: p.key(),
                outcome: outcome.to_string(),
                effect: self.effect(p),
            })
            .collect();
        tracing::info!(policies = outcomes.len(), "applied");
        Response::Applied { results, warnings }
    }

    /// `name` as stored, or a bare name that matches exactly one namespaced policy.
    fn resolve(&self, name: &str) -> Result<String, Refusal> {
        if self.state.policies.contains_key(name) {
            return Ok(name.to_string());
        }
        let matches: Vec<&String> = self
            .state
            .policies
            .iter()
            .filter(|(_, s)| s.policy.metadata.name == name)
            .map(|(k, _)| k)
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Box::new(Response::error(
                "not-found",
                format!("no applied policy named '{name}' (see `knoxctl policy list`)"),
            ))),
            many => Err(Box::new(Response::error(
                "bad-request",
                format!(
                    "'{name}' is ambiguous: {}; use namespace/name",
                    many.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ))),
        }
    }

    fn delete(&mut self, names: Vec<String>, files: Vec<SourceFile>) -> Response {
        let mut keys = Vec::new();
        for n in &names {
            match self.resolve(n) {
                Ok(k) => keys.push(k),
                Err(r) => return *r,
            }
        }
        if !files.is_empty() {
            let (parsed, _) = match Self::parse(&files) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            for (p, _) in parsed {
                match self.resolve(&p.key()) {
                    Ok(k) => keys.push(k),
                    Err(r) => return *r,
                }
            }
        }
        if keys.is_empty() {
            return Response::error(
                "bad-request",
                "nothing to delete: give policy names or -f FILE",
            );
        }
        keys.sort();
        keys.dedup();
        let mut next = self.state.policies.clone();
        for k in &keys {
            next.remove(k);
        }
        if let Err(r) = self.commit(next) {
            return *r;
        }
        tracing::info!(policies = keys.len(), "deleted");
        Response::Deleted { names: keys }
    }

    fn list(&self) -> Response {
        let items = self
            .state
            .policies
            .values()
            .map(|s| PolicySummary {
                kind: s.policy.kind.as_str().to_string(),
                name: s.policy.key(),
                action: s
                    .policy
                    .spec
                    .info
                    .action
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "Block".into()),
                rules: rules_of(&s.policy).len(),
                applies_here: self.applies_here(&s.policy),
                applied_at: s.applied_at,
                source: s.source.clone(),
            })
            .collect();
        Response::Policies { items }
    }

    fn get(&self, name: &str) -> Response {
        match self.resolve(name) {
            Ok(k) => Response::Policy {
                policy: serde_json::to_value(&self.state.policies[&k].policy)
                    .expect("policy serializes"),
            },
            Err(r) => *r,
        }
    }

    pub fn status(&self) -> Status {
        let host = self.host.read().expect("host rules lock");
        let describe = |i: usize, why: &str| {
            host.set
                .rules
                .get(i)
                .map(|r| format!("{} {} ({}): {why}", r.category, r.matcher, r.policy))
        };
        let mut status = Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            hostname: self.hostname.clone(),
            enforcer: self.backend().to_string(),
            enforcer_reason: self.enforcer_reason.clone(),
            policies: self.state.policies.len(),
            host_rules: host.set.rules.len(),
            unenforceable: host
                .report
                .unenforceable
                .iter()
                .filter(|(i, _)| {
                    host.set
                        .rules
                        .get(*i)
                        .is_some_and(|r| r.category != Category::Syscall)
                })
                .filter_map(|(i, why)| describe(*i, why))
                .collect(),
            unaudited: host
                .unaudited
                .iter()
                .filter_map(|(i, why)| describe(*i, why))
                .collect(),
            enforcer_events_dropped: self.enforcer.dropped_events(),
            ..Status::default()
        };
        if let Some(fill) = &self.status_source {
            fill(&mut status);
        }
        status
    }

    /// Stops enforcing (answering any pending permission events) before the agent exits.
    pub fn shutdown(&mut self) {
        self.enforcer.stop();
    }
}
