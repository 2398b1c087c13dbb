//! The agent's state machine: the applied policies, the host's rule set and the enforcer
//! that holds it. Every change is all-or-nothing: validated first, enforced second,
//! persisted third, and rolled back in the kernel if persisting fails.
//!
//! The core speaks in domain outcomes ([`Applied`], [`Deleted`], [`Effect`],
//! [`CoreStatus`], [`Refused`]); what a client reads on the wire, prose included, is the
//! server's business ([`super::server`]).

use super::api::SourceFile;
use super::config::Config;
use super::state::{PolicyState, StateError, StoredPolicy};
use crate::enforce::{ApplyReport, Backend, EnforceError, Enforcer, Generation, RuleRef};
use crate::identity::Identity;
use crate::kernel::clock::now_epoch as now;
use crate::policy::id::{self, ResolveError};
use crate::policy::matcher::{CompiledRules, Posture};
use crate::policy::normalize::{Category, Rule, RuleSet, rules_of};
use crate::policy::syscall_rules::SyscallRules;
use crate::policy::validate::{self, Options, Severity, validate_bytes};
use crate::policy::{Kind, Policy, PolicyId};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Condvar, Mutex, RwLock, RwLockReadGuard};
use std::time::Instant;

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
    /// The enforcer does not reach every process (AppArmor confines a process at its next
    /// exec, so one running since before the profile was loaded is unconfined): the monitor
    /// still watches the execs and opens of its rules, and alerts those a Block rule names
    /// that succeeded ([`crate::enforce::apparmor::unconfined`]).
    pub unreached: bool,
    /// The syscall rules, matched against the monitor's syscall events.
    pub syscalls: Arc<SyscallRules>,
    /// Syscall rules that raise no alerts (or not for every syscall they name), and why:
    /// no monitor, or a syscall the monitor cannot trace here.
    pub unaudited: Vec<(usize, String)>,
    /// The enforcer's generation of these rules; None before the first apply.
    pub generation: Option<Generation>,
    /// One stand-in rule per raw AppArmor entry of `set` (`set.apparmor`), indexed after
    /// `set.rules` ([`crate::enforce::apparmor::alerts::raw_rule_index`]): the rule an
    /// alert about a raw line's denial names.
    pub raw_rules: Vec<crate::policy::normalize::Rule>,
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
    pub raw_rules: Vec<crate::policy::normalize::Rule>,
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
    fn new(set: RuleSet, report: ApplyReport, posture: Posture, kernel_reports: bool) -> HostRules {
        let compiled = Arc::new(CompiledRules::new(&set, posture));
        let enforcer_reports = if kernel_reports {
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
        // AppArmor names a denial by a raw line (`spec.apparmor`) after the set's rules.
        let raw_rules = set
            .apparmor
            .iter()
            .map(|r| crate::enforce::apparmor::alerts::raw_rule(&r.policy))
            .collect();
        HostRules {
            raw_rules,
            set,
            report,
            compiled,
            exec_inert,
            enforcer_reports,
            kernel_reports,
            unreached: false,
            syscalls,
            unaudited,
            generation: None,
            earlier: Vec::new(),
        }
    }

    /// A container's rule set as the monitor judges it: the rules its enforcer enforces
    /// report every decision themselves (fanotify's container groups report audits too;
    /// BPF-LSM reports from the kernel), so the monitor speaks only for the others
    /// (syscall rules, rules that could not be enforced: `Audit (Block)`).
    pub fn for_container(
        set: RuleSet,
        report: ApplyReport,
        posture: Posture,
        kernel_reports: bool,
    ) -> HostRules {
        let mut rules = HostRules::new(set, report, posture, kernel_reports);
        rules.enforcer_reports = rules.report.enforced.iter().copied().collect();
        rules
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
                raw_rules: old.raw_rules,
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
        fn of<'a>(
            set: &'a RuleSet,
            raw_rules: &'a [crate::policy::normalize::Rule],
            reports: &BTreeSet<usize>,
            index: usize,
        ) -> Decider<'a> {
            let raw = || raw_rules.get(index.checked_sub(set.rules.len())?);
            Decider {
                rule: set.rules.get(index).or_else(raw),
                enforcer_reports: reports.contains(&index),
            }
        }
        let current = || {
            Some(of(
                &self.set,
                &self.raw_rules,
                &self.enforcer_reports,
                r.index,
            ))
        };
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
                Some(e) => Some(of(&e.set, &e.raw_rules, &e.enforcer_reports, r.index)),
                None => current(),
            },
        }
    }

    /// The rules the enforcer skipped, each with its reason and what still covers it.
    /// Syscall rules are left out: they are audit-only everywhere, and whether they are
    /// audited is the monitor's business (`unaudited`), whatever the enforcer says of them.
    fn skipped(&self) -> impl Iterator<Item = (&Rule, &str, Cover)> {
        self.report.unenforceable.iter().filter_map(|(i, why)| {
            let rule = self.set.rules.get(*i)?;
            let cover = match rule.category {
                Category::Syscall => return None,
                c if monitor_sees(c) => Cover::Observed,
                _ => Cover::Unprotected,
            };
            Some((rule, why.as_str(), cover))
        })
    }
}

/// What still covers a rule the enforcer cannot enforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cover {
    /// The eBPF monitor alerts on its operations (`Audit (Block)`): alerted, not blocked.
    Observed,
    /// Neither blocked nor alerted: no enforcer or monitor event sees its operation.
    Unprotected,
}

/// Why syscall rules raise no alerts until a monitor says otherwise.
const NO_MONITOR: &str = "the eBPF monitor is not running (see the agent log)";

/// Counters other components own (the alert store, the monitor), reported by `status`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub alerts_stored: u64,
    /// Alerts folded into summary alerts by throttling.
    pub alerts_folded: u64,
    pub alerts_dropped: u64,
    /// Telemetry logs (visibility) committed to logs.db, and lost (queue full, failed
    /// commits).
    pub logs_stored: u64,
    pub logs_dropped: u64,
    pub monitor_received: u64,
    pub monitor_lost_in_kernel: u64,
    pub monitor_dropped_in_userspace: u64,
    /// Each alert forwarder's state.
    pub forwarders: Vec<crate::forward::ForwarderStatus>,
}

/// Fills counters owned elsewhere (store, monitor) into a status.
pub type StatusSource = Box<dyn Fn(&mut Counters) + Send>;

/// The current host rules, shared with the pipeline threads. A new set is published whole;
/// a reader that needs a generation not published yet (the enforcer's decisions can reach
/// the pipeline before the apply that made their rules returns) sleeps until the next
/// publication instead of polling.
pub struct SharedRules {
    rules: RwLock<HostRules>,
    /// Publications so far; bumped after the rules are replaced.
    published: Mutex<u64>,
    changed: Condvar,
}

impl SharedRules {
    fn new(rules: HostRules) -> SharedRules {
        SharedRules {
            rules: RwLock::new(rules),
            published: Mutex::new(0),
            changed: Condvar::new(),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, HostRules> {
        self.rules.read().expect("host rules lock")
    }

    /// Which publication the rules read after this call are at least.
    pub fn publication(&self) -> u64 {
        *self.published.lock().expect("publication lock")
    }

    /// Sleeps until a publication after `seen` or the deadline; false at the deadline.
    pub fn wait_after(&self, seen: u64, deadline: Instant) -> bool {
        let mut n = self.published.lock().expect("publication lock");
        while *n == seen {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            n = self
                .changed
                .wait_timeout(n, left)
                .expect("publication lock")
                .0;
        }
        true
    }

    fn publish(&self, change: impl FnOnce(&mut HostRules)) {
        change(&mut self.rules.write().expect("host rules lock"));
        *self.published.lock().expect("publication lock") += 1;
        self.changed.notify_all();
    }
}

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
    pub host: Arc<SharedRules>,
    /// Fills the counters other components own (store, monitor) into `status`.
    pub status_source: Option<StatusSource>,
    /// Told about every new host rule set (see [`Core::follow_rules`]).
    on_rules: Option<RulesListener>,
}

/// Parsed policies with the file each came from, and the validator's warnings.
type Parsed = (Vec<(Policy, String)>, Vec<String>);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot enforce the restored policies: {0}")]
    Restore(EnforceError),
}

/// A change the core could not make: nothing was applied, unless `rollback` says that
/// restoring the previous policies failed too.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("the enforcer refused the change{}: {cause}", rolled_back(.rollback))]
    Enforce {
        cause: EnforceError,
        rollback: Option<EnforceError>,
    },
    #[error("cannot persist the change{}: {cause}", rolled_back(.rollback))]
    Persist {
        cause: StateError,
        rollback: Option<EnforceError>,
    },
}

/// "nothing applied" is a promise only a successful rollback keeps.
fn rolled_back(rollback: &Option<EnforceError>) -> String {
    match rollback {
        None => ", nothing applied".to_string(),
        Some(e) => format!(
            " and restoring the previous policies failed ({e}): the enforcer may hold neither rule set"
        ),
    }
}

/// A request the core refuses.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// Validation failed; the diagnostics in `PATH:LINE:COL: ...` form.
    #[error("invalid policies")]
    Invalid(Vec<String>),
    /// The request itself makes no sense (nothing to apply or delete).
    #[error("{0}")]
    BadRequest(&'static str),
    #[error(transparent)]
    Unresolved(ResolveError),
    #[error(transparent)]
    Commit(CommitError),
}

/// What an apply did, or would do, to one policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Created,
    Configured,
    Unchanged,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Unchanged => "unchanged",
        }
    }
}

/// Where a policy takes effect on this host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// A host policy this host's nodeSelector selects.
    Host(HostEffect),
    /// A host policy for other hosts: stored only.
    OtherHosts(NotSelected),
    /// A container or cluster policy: stored, not enforced by this build.
    Containers,
}

/// What the enforcer and the monitor make of a selected policy's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEffect {
    pub backend: Backend,
    /// Rules other than syscall rules.
    pub rules: usize,
    pub syscall_rules: usize,
    /// Rules the enforcer skipped, by what still covers them.
    pub observed: usize,
    pub unprotected: usize,
    /// Syscall rules that raise no alerts here (or not for every syscall they name).
    pub unaudited: usize,
    /// The policy has raw AppArmor rules (`spec.apparmor`); only the AppArmor backend
    /// loads them.
    pub raw_apparmor: bool,
}

/// Why a host policy does not select this host: the host's name and labels, and for each
/// selector key it names none of, the label it probably meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotSelected {
    pub hostname: String,
    pub labels: BTreeMap<String, String>,
    /// (selector key, the host label it probably meant).
    pub hints: Vec<(String, String)>,
}

/// One policy of an apply.
#[derive(Clone, Debug)]
pub struct PolicyOutcome {
    pub kind: Kind,
    /// `namespace/name` or `name`.
    pub key: String,
    pub id: PolicyId,
    pub change: Change,
    /// Where it takes effect; `None` for a dry run (only known once enforced).
    pub effect: Option<Effect>,
}

#[derive(Clone, Debug)]
pub struct Applied {
    pub results: Vec<PolicyOutcome>,
    pub warnings: Vec<String>,
}

/// Why a delete reference names no applied policy.
#[derive(Debug)]
pub enum Miss {
    Unresolved(ResolveError),
    /// A policy a file defines is not applied.
    NotApplied {
        source: String,
    },
}

#[derive(Debug)]
pub struct NotDeleted {
    /// As the user gave it, or the id a file defines.
    pub reference: String,
    pub miss: Miss,
}

#[derive(Debug)]
pub struct Deleted {
    /// Deleted, or for a dry run, that would be.
    pub ids: Vec<PolicyId>,
    pub failed: Vec<NotDeleted>,
}

/// One applied policy, as `list` shows it.
pub struct Listed<'a> {
    pub stored: &'a StoredPolicy,
    /// Its normalized rules.
    pub rules: usize,
    pub applies_here: bool,
}

/// A host rule `status` reports, and why.
#[derive(Clone, Debug)]
pub struct RuleNote {
    pub rule: Rule,
    pub why: String,
}

#[derive(Clone, Debug)]
pub struct CoreStatus {
    pub hostname: String,
    pub backend: Backend,
    pub enforcer_reason: String,
    pub policies: usize,
    pub host_rules: usize,
    /// Rules the enforcer skipped, by what still covers them.
    pub skipped: Vec<(RuleNote, Cover)>,
    /// Syscall rules that raise no alerts here.
    pub unaudited: Vec<RuleNote>,
    pub enforcer_events_dropped: u64,
    pub counters: Counters,
}

impl Core {
    /// Adopts the persisted policies and enforces them before the API opens, so that a
    /// restarted agent protects the host before it answers anyone.
    pub fn start(
        config: Config,
        hostname: String,
        state: PolicyState,
        enforcer: Box<dyn Enforcer>,
        enforcer_reason: String,
    ) -> Result<Core, StartError> {
        let identity = Identity::host(&hostname, &config.labels);
        let kernel_reports = enforcer.reports_every_decision();
        let mut core = Core {
            config,
            hostname,
            identity,
            state,
            enforcer,
            enforcer_reason,
            host: Arc::new(SharedRules::new(HostRules::new(
                RuleSet::from_policies(&[]),
                ApplyReport::default(),
                Posture::Audit,
                kernel_reports,
            ))),
            status_source: None,
            on_rules: None,
        };
        let restored = core.state.policies.clone();
        core.enforce(&restored).map_err(StartError::Restore)?;
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
    fn not_selected(&self, p: &Policy) -> NotSelected {
        let labels = &self.identity.labels;
        let mut hints = Vec::new();
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
                hints.push((key.clone(), close.to_string()));
            }
        }
        NotSelected {
            hostname: self.hostname.clone(),
            labels: labels.clone(),
            hints,
        }
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
    fn enforce(&mut self, policies: &BTreeMap<PolicyId, StoredPolicy>) -> Result<(), EnforceError> {
        let set = self.host_set(policies);
        let report = self.enforcer.apply(&set)?;
        let posture = self.config.default_posture.file;
        let kernel_reports = self.enforcer.reports_every_decision();
        let mut rules = HostRules::new(set, report, posture, kernel_reports);
        rules.unreached = self.enforcer.backend() == Backend::Apparmor;
        rules.generation = Some(self.enforcer.generation());
        if let Some(tell) = &self.on_rules {
            rules.unaudited = tell(&rules);
        }
        self.host.publish(|host| {
            let old = std::mem::replace(host, rules);
            host.succeed(old);
        });
        Ok(())
    }

    /// From now on, `tell` hears of every new host rule set, starting with the current
    /// one; what it cannot audit is reported by `status` and `policy apply`. Without a
    /// listener (no monitor), syscall rules are reported as not audited.
    pub fn follow_rules(&mut self, tell: RulesListener) {
        let unaudited = tell(&self.host.read());
        self.host.publish(|host| host.unaudited = unaudited);
        self.on_rules = Some(tell);
    }

    /// Enforces and persists `next`, or leaves everything as it was (and says so when
    /// restoring the previous policies fails).
    fn commit(&mut self, next: BTreeMap<PolicyId, StoredPolicy>) -> Result<(), CommitError> {
        let previous = self.state.policies.clone();
        if let Err(cause) = self.enforce(&next) {
            let rollback = self.restore(&previous);
            return Err(CommitError::Enforce { cause, rollback });
        }
        if let Err(cause) = self.state.replace(next) {
            let rollback = self.restore(&previous);
            return Err(CommitError::Persist { cause, rollback });
        }
        Ok(())
    }

    /// Gives the enforcer `previous` again after a failed change; the error, if that
    /// fails too.
    fn restore(&mut self, previous: &BTreeMap<PolicyId, StoredPolicy>) -> Option<EnforceError> {
        let e = self.enforce(previous).err()?;
        tracing::error!(error = %e, "cannot restore the previous policies after a failed change");
        Some(e)
    }

    /// Validates every file, together (a policy defined twice is an error); on any error
    /// returns the diagnostics instead of policies. Policies come back as they are stored
    /// ([`Policy::defaulted`]).
    fn parse(files: &[SourceFile], skip_other_kinds: bool) -> Result<Parsed, Refused> {
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
            Err(Refused::Invalid(errors))
        }
    }

    /// Where `p` takes effect on this host now.
    pub fn effect(&self, p: &Policy) -> Effect {
        match p.kind {
            Kind::KubeArmorHostPolicy if self.applies_here(p) => {
                let host = self.host.read();
                let key = p.key();
                let ours = |r: &Rule| r.policy == key;
                let (mut rules, mut syscall_rules) = (0, 0);
                for r in host.set.rules.iter().filter(|r| ours(r)) {
                    match r.category {
                        Category::Syscall => syscall_rules += 1,
                        _ => rules += 1,
                    }
                }
                let (mut observed, mut unprotected) = (0, 0);
                for (_, _, cover) in host.skipped().filter(|(r, _, _)| ours(r)) {
                    match cover {
                        Cover::Observed => observed += 1,
                        Cover::Unprotected => unprotected += 1,
                    }
                }
                let unaudited = host
                    .unaudited
                    .iter()
                    .filter(|(i, _)| host.set.rules.get(*i).is_some_and(ours))
                    .count();
                Effect::Host(HostEffect {
                    backend: self.backend(),
                    rules,
                    syscall_rules,
                    observed,
                    unprotected,
                    unaudited,
                    raw_apparmor: host.set.apparmor.iter().any(|r| r.policy == key),
                })
            }
            Kind::KubeArmorHostPolicy => Effect::OtherHosts(self.not_selected(p)),
            _ => Effect::Containers,
        }
    }

    /// Validates and applies every policy of `files`, or nothing; a dry run only says what
    /// would change.
    pub fn apply(
        &mut self,
        files: Vec<SourceFile>,
        dry_run: bool,
        skip_other_kinds: bool,
    ) -> Result<Applied, Refused> {
        let (parsed, warnings) = Self::parse(&files, skip_other_kinds)?;
        if parsed.is_empty() {
            return Err(Refused::BadRequest("no policies to apply"));
        }
        let mut next = self.state.policies.clone();
        let mut outcomes = Vec::new();
        for (policy, source) in parsed {
            let id = policy.id();
            let change = match next.get(&id) {
                None => Change::Created,
                Some(old) if old.policy == policy => Change::Unchanged,
                Some(_) => Change::Configured,
            };
            if change != Change::Unchanged {
                next.insert(
                    id,
                    StoredPolicy {
                        policy: policy.clone(),
                        applied_at: now(),
                        source,
                    },
                );
            }
            outcomes.push((policy, change));
        }
        if !dry_run {
            self.commit(next).map_err(Refused::Commit)?;
        }
        let results = outcomes
            .iter()
            .map(|(p, change)| PolicyOutcome {
                kind: p.kind,
                key: p.key(),
                id: p.id(),
                change: *change,
                // Where a dry run would take effect is only known once enforced.
                effect: (!dry_run).then(|| self.effect(p)),
            })
            .collect();
        if !dry_run {
            tracing::info!(policies = outcomes.len(), "applied");
        }
        Ok(Applied { results, warnings })
    }

    /// The applied policy `reference` names (see [`crate::policy::id::Reference`]).
    fn resolve(&self, reference: &str) -> Result<PolicyId, ResolveError> {
        id::resolve(reference, self.state.policies.keys())
    }

    /// Deletes what the references, the files and `all` name and exists; reports each
    /// reference that names no single policy. Nothing is deleted when a file is invalid.
    pub fn delete(
        &mut self,
        names: Vec<String>,
        files: Vec<SourceFile>,
        all: bool,
        dry_run: bool,
    ) -> Result<Deleted, Refused> {
        if names.is_empty() && files.is_empty() && !all {
            return Err(Refused::BadRequest(
                "nothing to delete: give policy names, -f FILE or --all",
            ));
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
                Err(e) => failed.push(NotDeleted {
                    reference: n.clone(),
                    miss: Miss::Unresolved(e),
                }),
            }
        }
        if !files.is_empty() {
            let (parsed, _) = Self::parse(&files, true)?;
            for (p, source) in parsed {
                let id = p.id();
                if self.state.policies.contains_key(&id) {
                    ids.insert(id);
                } else {
                    failed.push(NotDeleted {
                        reference: id.to_string(),
                        miss: Miss::NotApplied { source },
                    });
                }
            }
        }
        if !dry_run && !ids.is_empty() {
            let mut next = self.state.policies.clone();
            for id in &ids {
                next.remove(id);
            }
            self.commit(next).map_err(Refused::Commit)?;
            tracing::info!(policies = ids.len(), "deleted");
        }
        Ok(Deleted {
            ids: ids.into_iter().collect(),
            failed,
        })
    }

    /// The applied policies, in id order.
    pub fn list(&self) -> Vec<Listed<'_>> {
        self.state
            .policies
            .values()
            .map(|s| Listed {
                stored: s,
                rules: rules_of(&s.policy).len(),
                applies_here: self.applies_here(&s.policy),
            })
            .collect()
    }

    /// The applied policy `reference` names.
    pub fn get(&self, reference: &str) -> Result<&Policy, Refused> {
        let id = self.resolve(reference).map_err(Refused::Unresolved)?;
        Ok(&self.state.policies[&id].policy)
    }

    pub fn status(&self) -> CoreStatus {
        let host = self.host.read();
        let note = |rule: &Rule, why: &str| RuleNote {
            rule: rule.clone(),
            why: why.to_string(),
        };
        let mut counters = Counters::default();
        if let Some(fill) = &self.status_source {
            fill(&mut counters);
        }
        CoreStatus {
            hostname: self.hostname.clone(),
            backend: self.backend(),
            enforcer_reason: self.enforcer_reason.clone(),
            policies: self.state.policies.len(),
            host_rules: host.set.rules.len(),
            skipped: host
                .skipped()
                .map(|(r, why, cover)| (note(r, why), cover))
                .collect(),
            unaudited: host
                .unaudited
                .iter()
                .filter_map(|(i, why)| Some(note(host.set.rules.get(*i)?, why)))
                .collect(),
            enforcer_events_dropped: self.enforcer.dropped_events(),
            counters,
        }
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
        let mut h = host_rules_of(&doc);
        h.generation = generation.map(Generation);
        h
    }

    fn host_rules_of(doc: &str) -> HostRules {
        let r = validate_bytes("t.yaml", doc.as_bytes(), Options::default());
        let policies: Vec<Policy> = r.policies().cloned().collect();
        HostRules::new(
            RuleSet::from_policies(&policies),
            ApplyReport::default(),
            Posture::Audit,
            false,
        )
    }

    fn policy_of(h: &HostRules, generation: u32) -> Option<String> {
        let r = RuleRef {
            generation: Generation(generation),
            index: 0,
        };
        h.decider(r)
            .map(|d| d.rule.map(|r| r.policy.clone()).unwrap_or_default())
    }

    /// AppArmor names a denial of a policy of raw rules only by an index past the rules.
    #[test]
    fn a_raw_only_policy_is_named_by_its_stand_in_rule() {
        let doc = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: raw}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n  apparmor: |\n    deny /etc/x r,\n";
        let mut h = host_rules_of(doc);
        h.generation = Some(Generation(1));
        let index = crate::enforce::apparmor::alerts::raw_rule_index(&h.set, 0);
        let name = |h: &HostRules, generation| {
            h.decider(RuleRef {
                generation: Generation(generation),
                index,
            })
            .and_then(|d| d.rule.map(|r| r.policy.clone()))
        };
        assert_eq!(name(&h, 1).as_deref(), Some("raw"));
        // Still named once a later apply has replaced the rules.
        let mut next = rules("b", Some(2));
        next.succeed(h);
        assert_eq!(name(&next, 1).as_deref(), Some("raw"));
    }

    #[test]
    fn a_reader_waiting_for_a_generation_wakes_when_it_is_published() {
        let shared = Arc::new(SharedRules::new(rules("a", Some(1))));
        let later = Instant::now() + std::time::Duration::from_secs(30);
        let seen = shared.publication();
        let waiter = {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let woke = shared.wait_after(seen, later);
                (woke, policy_of(&shared.read(), 2), Instant::now())
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        shared.publish(|h| {
            let old = std::mem::replace(h, rules("b", Some(2)));
            h.succeed(old);
        });
        let (woke, policy, at) = waiter.join().unwrap();
        assert!(
            woke && at < later,
            "woken by the publication, not the deadline"
        );
        assert_eq!(policy.as_deref(), Some("b"));
        // A publication that happened between reading the count and waiting is not missed.
        assert!(shared.wait_after(seen, later));
        // Nothing published: the deadline ends the wait.
        let now = shared.publication();
        assert!(!shared.wait_after(now, Instant::now() + std::time::Duration::from_millis(20)));
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
