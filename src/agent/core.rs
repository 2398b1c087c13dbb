//! The agent's state machine: the applied policies, the host's rule set and the enforcer
//! that holds it. Every change is all-or-nothing: validated first, enforced second,
//! persisted third, and rolled back in the kernel if persisting fails.

use super::api::{ApplyResult, NotDeleted, PolicySummary, Request, Response, SourceFile, Status};
use super::config::Config;
use super::state::{PolicyState, StoredPolicy};
use crate::enforce::{ApplyReport, Backend, Enforcer, Generation, RuleRef};
use crate::identity::Identity;
use crate::kernel::clock::now_epoch as now;
use crate::policy::id::{self, ResolveError};
use crate::policy::matcher::{CompiledRules, Posture};
use crate::policy::normalize::{Category, RuleSet, rules_of};
use crate::policy::syscall_rules::SyscallRules;
use crate::policy::validate::{self, Options, Severity, validate_bytes};
use crate::policy::{Kind, Policy, PolicyId};
use std::collections::{BTreeMap, BTreeSet};
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
    /// The enforcer's generation of these rules; None before the first apply.
    pub generation: Option<Generation>,
    /// Rules of earlier generations, oldest first: the enforcer's decisions reach the
    /// pipeline after the apply that replaced their rules may have returned (fanotify's
    /// retiring group, the queue between enforcer and pipeline), and are attributed with
    /// the rules that made them.
    pub earlier: Vec<Arc<EarlierRules>>,
}

/// What the pipeline needs of a generation that is no longer the current one.
pub struct EarlierRules {
    pub generation: Generation,
    pub set: RuleSet,
    pub enforcer_reports: BTreeSet<usize>,
}

/// Earlier generations kept: the pipeline normally lags by at most one apply (the one
/// whose retiring fanotify group is draining); a burst of applies while it is busy needs
/// more, and a decision older than all of them falls back to the current rules.
const KEPT_GENERATIONS: usize = 16;

/// The rules one enforcer decision was made with.
pub struct Decider<'a> {
    pub rule: Option<&'a crate::policy::normalize::Rule>,
    /// The enforcer reports every decision of this rule (the monitor stays quiet on it).
    pub enforcer_reports: bool,
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
            generation: None,
            earlier: Vec::new(),
        }
    }

    /// Takes over from `old`, which joins the earlier generations.
    fn succeed(&mut self, old: HostRules) {
        let mut earlier = old.earlier;
        if let Some(generation) = old.generation
            && old.generation != self.generation
        {
            earlier.push(Arc::new(EarlierRules {
                generation,
                set: old.set,
                enforcer_reports: old.enforcer_reports,
            }));
        }
        let excess = earlier.len().saturating_sub(KEPT_GENERATIONS);
        earlier.drain(..excess);
        self.earlier = earlier;
    }

    /// The rule `r` names, in the rules of its generation. None while that generation is
    /// newer than these rules: its apply has not published them yet. A generation older
    /// than every kept one (decisions the pinned BPF programs made before this agent
    /// applied anything, which it re-applies from the same persisted policies) is looked
    /// up in the current rules.
    pub fn decider(&self, r: RuleRef) -> Option<Decider<'_>> {
        fn of<'a>(set: &'a RuleSet, reports: &BTreeSet<usize>, index: usize) -> Decider<'a> {
            Decider {
                rule: set.rules.get(index),
                enforcer_reports: reports.contains(&index),
            }
        }
        let current = || Some(of(&self.set, &self.enforcer_reports, r.index));
        match self.generation {
            Some(g) if g == r.generation => current(),
            None => None,
            Some(g) if r.generation.is_after(g) => None,
            Some(_) => match self
                .earlier
                .iter()
                .rev()
                .find(|e| e.generation == r.generation)
            {
                Some(e) => Some(of(&e.set, &e.enforcer_reports, r.index)),
                None => current(),
            },
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

    /// Why a host policy does not apply here: this host's labels, and the selector key the
    /// policy probably meant when it names none of them.
    fn not_selected(&self, p: &Policy) -> String {
        let labels = &self.identity.labels;
        let shown: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut msg = format!(
            "stored; its nodeSelector does not select this host ({}; labels: {})",
            self.hostname,
            shown.join(", ")
        );
        let wanted = p.spec.node_selector.as_ref().map(|s| &s.match_labels);
        for key in wanted.into_iter().flat_map(|m| m.keys()) {
            if labels.contains_key(key) {
                continue;
            }
            // The same name under another prefix (`kubernetes.io/hostname`) is the usual slip.
            let base = |k: &str| k.rsplit('/').next().unwrap_or(k).to_string();
            let same_name = labels
                .keys()
                .find(|l| base(l) == base(key))
                .map(String::as_str);
            let close = same_name.or_else(|| {
                crate::policy::suggest::suggest(key, labels.keys().map(String::as_str))
            });
            if let Some(close) = close {
                msg.push_str(&format!("; label '{key}': did you mean '{close}'?"));
            }
        }
        msg
    }

    fn host_set(&self, policies: &BTreeMap<PolicyId, StoredPolicy>) -> RuleSet {
        let here: Vec<Policy> = policies
            .values()
            .map(|s| s.policy.clone())
            .filter(|p| self.applies_here(p))
            .collect();
        RuleSet::from_policies(&here)
    }

    /// Gives the enforcer the host rule set of `policies` and publishes it.
    fn enforce(&mut self, policies: &BTreeMap<PolicyId, StoredPolicy>) -> Result<(), String> {
        let set = self.host_set(policies);
        let report = self.enforcer.apply(&set).map_err(|e| e.to_string())?;
        let posture = self.config.default_posture.file;
        let mut rules = HostRules::new(set, report, posture, self.enforcer.backend());
        rules.generation = Some(self.enforcer.generation());
        if let Some(tell) = &self.on_rules {
            rules.unaudited = tell(&rules);
        }
        let mut host = self.host.write().expect("host rules lock");
        let old = std::mem::replace(&mut *host, rules);
        host.succeed(old);
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
    fn commit(&mut self, next: BTreeMap<PolicyId, StoredPolicy>) -> Result<(), Refusal> {
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
            Request::Apply {
                files,
                skip_other_kinds,
            } => {
                let r = self.apply(files, false, skip_other_kinds);
                super::release_free_memory();
                r
            }
            Request::DryRunApply {
                files,
                skip_other_kinds,
            } => {
                let r = self.apply(files, true, skip_other_kinds);
                super::release_free_memory();
                r
            }
            Request::Delete { names, files, all } => self.delete(names, files, all, false),
            Request::DryRunDelete { names, files, all } => self.delete(names, files, all, true),
            Request::List => self.list(),
            Request::Get { name } => self.get(&name),
            Request::Status => Response::Status {
                status: self.status(),
            },
        }
    }

    /// Validates every file, together (a policy defined twice is an error); on any error
    /// returns the diagnostics instead of policies. Policies come back as they are stored
    /// ([`Policy::defaulted`]).
    fn parse(files: &[SourceFile], skip_other_kinds: bool) -> Result<Parsed, Refusal> {
        let opts = Options {
            skip_other_kinds,
            ..Options::default()
        };
        let mut reports: Vec<_> = files
            .iter()
            .map(|f| validate_bytes(&f.path, f.content.as_bytes(), opts))
            .collect();
        validate::check_duplicates(&mut reports);
        let mut policies = Vec::new();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        for r in &reports {
            for d in r.diagnostics() {
                match d.severity {
                    Severity::Error => errors.push(d.render(&r.path)),
                    Severity::Warning => warnings.push(d.render(&r.path)),
                }
            }
            policies.extend(
                r.policies()
                    .map(|p| (p.clone().defaulted(), r.path.clone())),
            );
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
                let skipped = |observed: bool| {
                    host.report
                        .unenforceable
                        .iter()
                        .filter(|(i, _)| {
                            ours(*i).is_some_and(|r| {
                                r.category != Category::Syscall
                                    && monitor_sees(r.category) == observed
                            })
                        })
                        .count()
                };
                let (observed, unprotected) = (skipped(true), skipped(false));
                let unaudited = host
                    .unaudited
                    .iter()
                    .filter(|(i, _)| ours(*i).is_some())
                    .count();
                let mut enforced = match observed + unprotected {
                    0 => format!("enforced on this host ({})", self.backend()),
                    _ => format!("on this host ({})", self.backend()),
                };
                if observed > 0 {
                    enforced.push_str(&format!(
                        "; {observed} rule(s) observed only (alerted, not blocked)"
                    ));
                }
                if unprotected > 0 {
                    enforced.push_str(&format!(
                        "; {unprotected} rule(s) neither blocked nor alerted"
                    ));
                }
                if observed + unprotected > 0 {
                    enforced.push_str(", see `knoxctl probe`");
                }
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
            Kind::KubeArmorHostPolicy => self.not_selected(p),
            _ => "stored; container enforcement is not available in this build yet".to_string(),
        }
    }

    fn apply(&mut self, files: Vec<SourceFile>, dry_run: bool, skip_other_kinds: bool) -> Response {
        let (parsed, warnings) = match Self::parse(&files, skip_other_kinds) {
            Ok(p) => p,
            Err(r) => return *r,
        };
        if parsed.is_empty() {
            return Response::error("bad-request", "no policies to apply");
        }
        let mut next = self.state.policies.clone();
        let mut outcomes = Vec::new();
        for (policy, source) in parsed {
            let id = policy.id();
            let outcome = match next.get(&id) {
                None => "created",
                Some(old) if old.policy == policy => "unchanged",
                Some(_) => "configured",
            };
            if outcome != "unchanged" {
                next.insert(
                    id,
                    StoredPolicy {
                        policy: policy.clone(),
                        applied_at: now(),
                        source,
                    },
                );
            }
            outcomes.push((policy, outcome));
        }
        if !dry_run && let Err(r) = self.commit(next) {
            return *r;
        }
        let results = outcomes
            .iter()
            .map(|(p, outcome)| ApplyResult {
                kind: p.kind.as_str().to_string(),
                name: p.key(),
                id: p.id().to_string(),
                outcome: outcome.to_string(),
                // Where a dry run would take effect is only known once enforced.
                effect: if dry_run {
                    String::new()
                } else {
                    self.effect(p)
                },
            })
            .collect();
        if !dry_run {
            tracing::info!(policies = outcomes.len(), "applied");
        }
        Response::Applied { results, warnings }
    }

    /// The applied policy `reference` names (see [`crate::policy::id::Reference`]).
    fn resolve(&self, reference: &str) -> Result<PolicyId, ResolveError> {
        id::resolve(reference, self.state.policies.keys())
    }

    /// A reference that names no single policy, as a delete reports it.
    fn unresolved(reference: &str, e: ResolveError) -> NotDeleted {
        let code = match e {
            ResolveError::NotFound(_) => "not-found",
            _ => "bad-request",
        };
        NotDeleted {
            reference: reference.to_string(),
            code: code.to_string(),
            message: e.to_string(),
        }
    }

    /// Deletes what the references, the files and `all` name and exists; reports each
    /// reference that names no single policy. Nothing is deleted when a file is invalid.
    fn delete(
        &mut self,
        names: Vec<String>,
        files: Vec<SourceFile>,
        all: bool,
        dry_run: bool,
    ) -> Response {
        if names.is_empty() && files.is_empty() && !all {
            return Response::error(
                "bad-request",
                "nothing to delete: give policy names, -f FILE or --all",
            );
        }
        let mut ids = BTreeSet::new();
        let mut failed = Vec::new();
        if all {
            ids.extend(self.state.policies.keys().cloned());
        }
        for n in &names {
            match self.resolve(n) {
                Ok(id) => {
                    ids.insert(id);
                }
                Err(e) => failed.push(Self::unresolved(n, e)),
            }
        }
        if !files.is_empty() {
            let (parsed, _) = match Self::parse(&files, true) {
                Ok(p) => p,
                Err(r) => return *r,
            };
            for (p, source) in parsed {
                let id = p.id();
                if self.state.policies.contains_key(&id) {
                    ids.insert(id);
                } else {
                    failed.push(NotDeleted {
                        reference: id.to_string(),
                        code: "not-found".into(),
                        message: format!("{id} (from {source}) is not applied"),
                    });
                }
            }
        }
        if !dry_run && !ids.is_empty() {
            let mut next = self.state.policies.clone();
            for id in &ids {
                next.remove(id);
            }
            if let Err(r) = self.commit(next) {
                return *r;
            }
            tracing::info!(policies = ids.len(), "deleted");
        }
        Response::Deleted {
            names: ids.iter().map(|i| i.to_string()).collect(),
            failed,
        }
    }

    fn list(&self) -> Response {
        let items = self
            .state
            .policies
            .values()
            .map(|s| PolicySummary {
                kind: s.policy.kind.as_str().to_string(),
                name: s.policy.key(),
                id: s.policy.id().to_string(),
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
            Ok(id) => Response::Policy {
                policy: serde_json::to_value(&self.state.policies[&id].policy)
                    .expect("policy serializes"),
            },
            Err(e) => {
                let r = Self::unresolved(name, e);
                Response::error(&r.code, r.message)
            }
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
        // Syscall rules are audit-only everywhere; they are reported as unaudited or not.
        let skipped = |observed: bool| -> Vec<String> {
            host.report
                .unenforceable
                .iter()
                .filter(|(i, _)| {
                    host.set.rules.get(*i).is_some_and(|r| {
                        r.category != Category::Syscall && monitor_sees(r.category) == observed
                    })
                })
                .filter_map(|(i, why)| describe(*i, why))
                .collect()
        };
        let mut status = Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            hostname: self.hostname.clone(),
            enforcer: self.backend().to_string(),
            enforcer_reason: self.enforcer_reason.clone(),
            policies: self.state.policies.len(),
            host_rules: host.set.rules.len(),
            unenforceable: skipped(true),
            unprotected: skipped(false),
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

/// Whether the eBPF monitor raises an alert for an operation of this category that the
/// enforcer cannot stop (what `probe` shows as the monitor-only backend's coverage).
fn monitor_sees(category: Category) -> bool {
    matches!(
        category,
        Category::Process | Category::File | Category::Network
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(name: &str, generation: Option<u32>) -> HostRules {
        let doc = format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: {name}}}\nspec:\n  nodeSelector: {{matchLabels: {{kubearmor.io/hostname: '*'}}}}\n  action: Block\n  process:\n    matchPaths: [{{path: /bin/{name}}}]\n"
        );
        let r = validate_bytes("t.yaml", doc.as_bytes(), Options::default());
        let policies: Vec<Policy> = r.policies().cloned().collect();
        let mut h = HostRules::new(
            RuleSet::from_policies(&policies),
            ApplyReport::default(),
            Posture::Audit,
            Backend::Fanotify,
        );
        h.generation = generation.map(Generation);
        h
    }

    fn policy_of(h: &HostRules, generation: u32) -> Option<String> {
        let r = RuleRef {
            generation: Generation(generation),
            index: 0,
        };
        h.decider(r)
            .map(|d| d.rule.map(|r| r.policy.clone()).unwrap_or_default())
    }

    #[test]
    fn decisions_are_looked_up_in_the_rules_of_their_generation() {
        let mut h = rules("a", Some(5));
        h.succeed(rules("placeholder", None));
        assert!(
            h.earlier.is_empty(),
            "nothing applied yet is not a generation"
        );
        assert!(policy_of(&h, 5).as_deref() == Some("a"));
        assert_eq!(policy_of(&h, 6), None, "not published yet: wait");

        let mut next = rules("b", Some(6));
        next.succeed(h);
        let h = next;
        assert!(
            policy_of(&h, 5).as_deref() == Some("a"),
            "the earlier rules"
        );
        assert!(policy_of(&h, 6).as_deref() == Some("b"));
        assert!(
            policy_of(&h, 4).as_deref() == Some("b"),
            "older than every kept generation: the current rules"
        );
        assert_eq!(policy_of(&h, 7), None);

        let mut h = h;
        for g in 7..40 {
            let mut next = rules("c", Some(g));
            next.succeed(h);
            h = next;
        }
        assert_eq!(h.earlier.len(), KEPT_GENERATIONS);
        assert_eq!(
            h.earlier[0].generation,
            Generation(39 - KEPT_GENERATIONS as u32)
        );
    }
}
