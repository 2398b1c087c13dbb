//! Normalization: policies → one flat rule set per target, which is what enforcers consume.
//!
//! Semantics (KubeArmor's, made explicit):
//! - severity/tags/message/action are inherited rule > section > spec; action defaults to
//!   Block. Syscall rules are always Audit (KubeArmor audits syscalls only).
//! - comma lists in `protocol` and `capability` expand to one rule per element (KubeArmor
//!   only expands when the first element has a comma; we always do).
//! - any Allow rule puts its category in allow-list mode for the whole target: process and
//!   file share one posture, network and capabilities have their own. What no Allow rule
//!   permits then gets the default posture (KubeArmor's default is audit).
//! - the same match with Allow and Block: Block wins (AppArmor's `deny` beats an allow;
//!   KubeArmor's BPF maps would keep whichever came last, which we consider a bug).
//! - Audit never conflicts: it is observed in userspace, never given to the kernel.

use super::model::{
    CapabilitiesSection, DeviceSection, NetworkSection, ResourceSection, SyscallsSection,
};
use super::{Action, Info, Kind, Policy, Selector, Source};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Category {
    Process,
    File,
    Network,
    Capabilities,
    Syscall,
    Device,
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Category::Process => "Process",
            Category::File => "File",
            Category::Network => "Network",
            Category::Capabilities => "Capabilities",
            Category::Syscall => "Syscall",
            Category::Device => "Device",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Matcher {
    Path {
        path: String,
    },
    Execname {
        name: String,
    },
    Directory {
        dir: String,
        recursive: bool,
    },
    Pattern {
        pattern: String,
    },
    Protocol {
        protocol: String,
    },
    Domain {
        domain: String,
    },
    Capability {
        capability: String,
    },
    Syscall {
        syscalls: Vec<String>,
        path: Option<String>,
        recursive: bool,
    },
    Device {
        class: String,
        sub_class: Option<i64>,
        protocol: Option<i64>,
        level: Option<i64>,
    },
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Path { path } => f.write_str(path),
            Matcher::Execname { name } => write!(f, "execname {name}"),
            Matcher::Directory {
                dir,
                recursive: true,
            } => write!(f, "{dir} (recursive)"),
            Matcher::Directory {
                dir,
                recursive: false,
            } => f.write_str(dir),
            Matcher::Pattern { pattern } => write!(f, "glob {pattern}"),
            Matcher::Protocol { protocol } => write!(f, "protocol {protocol}"),
            Matcher::Domain { domain } => write!(f, "dns {domain}"),
            Matcher::Capability { capability } => write!(f, "cap {capability}"),
            Matcher::Syscall {
                syscalls,
                path,
                recursive,
            } => {
                let names = if syscalls.is_empty() {
                    "any syscall".to_string()
                } else {
                    syscalls.join(",")
                };
                match path {
                    Some(p) if *recursive => write!(f, "{names} on {p} (recursive)"),
                    Some(p) => write!(f, "{names} on {p}"),
                    None => f.write_str(&names),
                }
            }
            Matcher::Device {
                class,
                sub_class,
                protocol,
                level,
            } => {
                write!(f, "usb class {class}")?;
                if let Some(s) = sub_class {
                    write!(f, " subclass {s}")?;
                }
                if let Some(p) = protocol {
                    write!(f, " protocol {p}")?;
                }
                if let Some(l) = level {
                    write!(f, " level {l}")?;
                }
                Ok(())
            }
        }
    }
}

/// One normalized rule: everything inherited, nothing left implicit.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub category: Category,
    pub matcher: Matcher,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub read_only: bool,
    pub owner_only: bool,
    /// `Some(false)`: only when the process has no terminal... as KubeArmor's `pts` flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pts: Option<bool>,
    /// Source executables (`/usr/bin/x`) or, for syscall rules, directories (`/bin/` with
    /// a trailing `**` when recursive).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_source: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_args: Vec<String>,
    /// Policy key (`ns/name` or `name`) the rule came from.
    pub policy: String,
    /// Field path of the rule in its document, for diagnostics.
    pub field: String,
}

impl Rule {
    /// Two rules with the same key match the same operations.
    fn key(
        &self,
    ) -> (
        Category,
        &Matcher,
        &[String],
        bool,
        bool,
        Option<bool>,
        &[String],
    ) {
        (
            self.category,
            &self.matcher,
            &self.from_source,
            self.read_only,
            self.owner_only,
            self.pts,
            &self.allowed_args,
        )
    }

    /// Short flag list for tables: `readOnly`, `ownerOnly`, ...
    pub fn flags(&self) -> String {
        let mut f = Vec::new();
        if self.read_only {
            f.push("readOnly".to_string());
        }
        if self.owner_only {
            f.push("ownerOnly".to_string());
        }
        if let Some(p) = self.pts {
            f.push(format!("pts={p}"));
        }
        if !self.allowed_args.is_empty() {
            f.push(format!("allowedArgs={}", self.allowed_args.join(",")));
        }
        f.join(" ")
    }
}

fn inherit(
    rule: &Info,
    section: &Info,
    spec: &Info,
) -> (Action, Option<i64>, Vec<String>, Option<String>) {
    let action = rule
        .action
        .or(section.action)
        .or(spec.action)
        .unwrap_or(Action::Block);
    let severity = rule.severity.or(section.severity).or(spec.severity);
    let tags = [&rule.tags, &section.tags, &spec.tags]
        .into_iter()
        .find(|t| !t.is_empty())
        .cloned()
        .unwrap_or_default();
    let message = rule
        .message
        .clone()
        .or_else(|| section.message.clone())
        .or_else(|| spec.message.clone());
    (action, severity, tags, message)
}

fn sources(list: &[Source]) -> Vec<String> {
    // A `dir` is a directory whether or not it ends with a slash (KubeArmor appends one).
    let dir = |d: &str| {
        if d.ends_with('/') {
            d.to_string()
        } else {
            format!("{d}/")
        }
    };
    let mut v: Vec<String> = list
        .iter()
        .filter_map(|s| match (&s.path, &s.dir) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(d)) if s.recursive == Some(true) => Some(format!("{}**", dir(d))),
            (None, Some(d)) => Some(dir(d)),
            _ => None,
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

pub fn normalize_protocol(p: &str) -> Option<String> {
    let l = p.trim().to_lowercase();
    super::schema::PROTOCOLS.contains(&l.as_str()).then_some(l)
}

pub fn normalize_capability(c: &str) -> Option<String> {
    let l = c.trim().to_lowercase();
    let l = l.strip_prefix("cap_").unwrap_or(&l).to_string();
    super::schema::CAPABILITIES
        .contains(&l.as_str())
        .then_some(l)
}

/// A value the CRD's unanchored patterns let through but no enforcer understands
/// (`xtcp`, `cap_sys_admin2`, an empty element in `tcp,,udp`).
pub struct ValueProblem {
    pub field: String,
    pub message: String,
    pub hint: Option<String>,
}

pub fn unrecognised_values(policy: &Policy) -> Vec<ValueProblem> {
    let mut out = Vec::new();
    if let Some(net) = &policy.spec.network {
        for (i, r) in net.match_protocols.iter().enumerate() {
            for part in r.protocol.split(',') {
                if normalize_protocol(part).is_none() {
                    out.push(ValueProblem {
                        field: format!("spec.network.matchProtocols[{i}].protocol"),
                        message: format!("'{part}' passes the CRD's pattern but is not a protocol; the rule is ignored"),
                        hint: Some("one of tcp, udp, icmp, icmpv6, raw, sctp, stream, dgram, rdm, seqpacket, dccp, packet, all".into()),
                    });
                }
            }
        }
    }
    if let Some(caps) = &policy.spec.capabilities {
        for (i, r) in caps.match_capabilities.iter().enumerate() {
            for part in r.capability.split(',') {
                if normalize_capability(part).is_none() {
                    out.push(ValueProblem {
                        field: format!("spec.capabilities.matchCapabilities[{i}].capability"),
                        message: format!("'{part}' passes the CRD's pattern but is not a capability; the rule is ignored"),
                        hint: None,
                    });
                }
            }
        }
    }
    out
}

/// Every rule of one policy, inherited and expanded, in document order.
pub fn rules_of(policy: &Policy) -> Vec<Rule> {
    let spec = &policy.spec;
    let mut x = Expander {
        key: policy.key(),
        spec: &spec.info,
        out: Vec::new(),
    };
    for (cat, name, section) in [
        (Category::Process, "process", &spec.process),
        (Category::File, "file", &spec.file),
    ] {
        if let Some(s) = section {
            x.resource(cat, name, s);
        }
    }
    if let Some(s) = &spec.network {
        x.network(s);
    }
    if let Some(s) = &spec.capabilities {
        x.capabilities(s);
    }
    if let Some(s) = &spec.syscalls {
        x.syscalls(s);
    }
    if let Some(s) = &spec.device {
        x.device(s);
    }
    x.out
}

/// One policy's rules as [`rules_of`] expands them, a section at a time: each rule
/// inherits what it leaves unset from its section, then from the spec.
struct Expander<'a> {
    /// The policy's key, which every rule names.
    key: String,
    spec: &'a Info,
    out: Vec<Rule>,
}

impl Expander<'_> {
    fn push(
        &mut self,
        category: Category,
        matcher: Matcher,
        info: (Action, Option<i64>, Vec<String>, Option<String>),
        extra: Extra,
        field: String,
    ) {
        self.out.push(Rule {
            category,
            matcher,
            action: info.0,
            severity: info.1,
            tags: info.2,
            message: info.3,
            read_only: extra.read_only,
            owner_only: extra.owner_only,
            pts: extra.pts,
            from_source: extra.from_source,
            allowed_args: extra.allowed_args,
            policy: self.key.clone(),
            field,
        })
    }

    fn inherit(
        &self,
        rule: &Info,
        section: &Info,
    ) -> (Action, Option<i64>, Vec<String>, Option<String>) {
        inherit(rule, section, self.spec)
    }

    /// `process` and `file`: paths, directories and patterns.
    fn resource(&mut self, cat: Category, name: &str, s: &ResourceSection) {
        for (i, r) in s.match_paths.iter().enumerate() {
            // KubeArmor's enforcers look at execname first; path is then ignored.
            let matcher = match (&r.path, &r.execname) {
                (_, Some(e)) => Matcher::Execname { name: e.clone() },
                (Some(p), None) => Matcher::Path { path: p.clone() },
                (None, None) => continue,
            };
            let extra = Extra {
                read_only: r.read_only,
                owner_only: r.owner_only,
                pts: r.pts,
                from_source: sources(&r.from_source),
                allowed_args: r.allowed_args.clone(),
            };
            let info = self.inherit(&r.info, &s.info);
            self.push(
                cat,
                matcher,
                info,
                extra,
                format!("spec.{name}.matchPaths[{i}]"),
            );
        }
        for (i, r) in s.match_directories.iter().enumerate() {
            let extra = Extra {
                read_only: r.read_only,
                owner_only: r.owner_only,
                pts: r.pts,
                from_source: sources(&r.from_source),
                allowed_args: Vec::new(),
            };
            let m = Matcher::Directory {
                dir: r.dir.clone(),
                recursive: r.recursive,
            };
            let info = self.inherit(&r.info, &s.info);
            self.push(
                cat,
                m,
                info,
                extra,
                format!("spec.{name}.matchDirectories[{i}]"),
            );
        }
        for (i, r) in s.match_patterns.iter().enumerate() {
            let extra = Extra {
                read_only: r.read_only,
                owner_only: r.owner_only,
                ..Extra::default()
            };
            let m = Matcher::Pattern {
                pattern: r.pattern.clone(),
            };
            let info = self.inherit(&r.info, &s.info);
            self.push(
                cat,
                m,
                info,
                extra,
                format!("spec.{name}.matchPatterns[{i}]"),
            );
        }
    }

    fn network(&mut self, s: &NetworkSection) {
        for (i, r) in s.match_protocols.iter().enumerate() {
            for p in r.protocol.split(',').filter_map(normalize_protocol) {
                let extra = Extra {
                    pts: r.pts,
                    from_source: sources(&r.from_source),
                    ..Extra::default()
                };
                let info = self.inherit(&r.info, &s.info);
                self.push(
                    Category::Network,
                    Matcher::Protocol { protocol: p },
                    info,
                    extra,
                    format!("spec.network.matchProtocols[{i}]"),
                );
            }
        }
        for (i, r) in s.match_dns_queries.iter().enumerate() {
            // KubeArmor expands comma lists of domains too.
            for domain in r.domain.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                let extra = Extra {
                    from_source: sources(&r.from_source),
                    ..Extra::default()
                };
                let m = Matcher::Domain {
                    domain: domain.trim_end_matches('.').to_lowercase(),
                };
                let info = self.inherit(&r.info, &s.info);
                self.push(
                    Category::Network,
                    m,
                    info,
                    extra,
                    format!("spec.network.matchDNSQueries[{i}]"),
                );
            }
        }
    }

    fn capabilities(&mut self, s: &CapabilitiesSection) {
        for (i, r) in s.match_capabilities.iter().enumerate() {
            for c in r.capability.split(',').filter_map(normalize_capability) {
                let extra = Extra {
                    from_source: sources(&r.from_source),
                    ..Extra::default()
                };
                let info = self.inherit(&r.info, &s.info);
                let m = Matcher::Capability { capability: c };
                self.push(
                    Category::Capabilities,
                    m,
                    info,
                    extra,
                    format!("spec.capabilities.matchCapabilities[{i}]"),
                );
            }
        }
    }

    /// Syscall rules only ever audit, as in KubeArmor: no action is inherited.
    fn syscalls(&mut self, s: &SyscallsSection) {
        let lists = [
            ("matchSyscalls", &s.match_syscalls),
            ("matchPaths", &s.match_paths),
        ];
        for (list, rules) in lists {
            for (i, r) in rules.iter().enumerate() {
                let (_, severity, tags, message) = self.inherit(&Info::default(), &s.info);
                let m = Matcher::Syscall {
                    syscalls: r.syscall.clone(),
                    path: r.path.clone(),
                    recursive: r.recursive,
                };
                let extra = Extra {
                    from_source: sources(&r.from_source),
                    ..Extra::default()
                };
                self.push(
                    Category::Syscall,
                    m,
                    (Action::Audit, severity, tags, message),
                    extra,
                    format!("spec.syscalls.{list}[{i}]"),
                );
            }
        }
    }

    fn device(&mut self, s: &DeviceSection) {
        for (i, r) in s.match_device.iter().enumerate() {
            let m = Matcher::Device {
                class: r.class.clone(),
                sub_class: r.sub_class,
                protocol: r.protocol,
                level: r.level,
            };
            let info = self.inherit(&r.info, &s.info);
            self.push(
                Category::Device,
                m,
                info,
                Extra::default(),
                format!("spec.device.matchDevice[{i}]"),
            );
        }
    }
}

#[derive(Default)]
struct Extra {
    read_only: bool,
    owner_only: bool,
    pts: Option<bool>,
    from_source: Vec<String>,
    allowed_args: Vec<String>,
}

/// Who a rule set protects.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Target {
    /// The host itself, for hosts whose identity labels match.
    Host {
        node_selector: BTreeMap<String, String>,
    },
    /// Containers matching a KubeArmorPolicy selector in a namespace.
    Containers {
        namespace: Option<String>,
        match_labels: BTreeMap<String, String>,
        match_expressions: Vec<String>,
    },
    /// Containers matching a cluster-wide expression selector.
    Cluster { match_expressions: Vec<String> },
}

impl Target {
    pub fn of(policy: &Policy) -> Target {
        let exprs = |s: &Option<Selector>| {
            s.as_ref()
                .map(|s| {
                    s.match_expressions
                        .iter()
                        .map(|e| format!("{} {} ({})", e.key, e.operator, e.values.join(",")))
                        .collect()
                })
                .unwrap_or_default()
        };
        match policy.kind {
            Kind::KubeArmorHostPolicy => Target::Host {
                node_selector: policy
                    .spec
                    .node_selector
                    .as_ref()
                    .map(|s| s.match_labels.clone())
                    .unwrap_or_default(),
            },
            Kind::KubeArmorPolicy => Target::Containers {
                namespace: policy.metadata.namespace.clone(),
                match_labels: policy
                    .spec
                    .selector
                    .as_ref()
                    .map(|s| s.match_labels.clone())
                    .unwrap_or_default(),
                match_expressions: exprs(&policy.spec.selector),
            },
            Kind::KubeArmorClusterPolicy => Target::Cluster {
                match_expressions: exprs(&policy.spec.selector),
            },
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let labels = |m: &BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        match self {
            Target::Host { node_selector } => write!(f, "host [{}]", labels(node_selector)),
            Target::Containers {
                namespace,
                match_labels,
                match_expressions,
            } => {
                write!(f, "containers")?;
                if let Some(ns) = namespace {
                    write!(f, " in {ns}")?;
                }
                let mut sel = vec![labels(match_labels)];
                sel.extend(match_expressions.iter().cloned());
                sel.retain(|s| !s.is_empty());
                write!(f, " [{}]", sel.join("; "))
            }
            Target::Cluster { match_expressions } => write!(
                f,
                "containers cluster-wide [{}]",
                match_expressions.join("; ")
            ),
        }
    }
}

/// Which categories are in allow-list mode (some Allow rule exists) for a target.
///
/// Per category, as KubeArmor's BPF-LSM enforcer keys it: process Allow rules put execs
/// in allow-list mode and leave file opens alone, file Allow rules the reverse. Listing
/// a few binaries must not put every file open on the host under the default posture.
/// Process and file still share one posture value (the file posture).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AllowList {
    pub process: bool,
    pub file: bool,
    pub network: bool,
    pub capabilities: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Duplicate {
    pub policy: String,
    pub field: String,
    pub first_policy: String,
    pub first_field: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    pub winner_policy: String,
    pub winner_field: String,
    pub winner_action: Action,
    pub loser_policy: String,
    pub loser_field: String,
    pub loser_action: Action,
}

/// The merged, conflict-free rules of every policy that selects one target.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSet {
    pub target: Option<Target>,
    pub policies: Vec<String>,
    pub rules: Vec<Rule>,
    pub allow_list: AllowList,
    pub presets: Vec<(String, Action)>,
    pub duplicates: Vec<Duplicate>,
    pub conflicts: Vec<Conflict>,
    /// Raw AppArmor rules (`spec.apparmor`), per policy: only the AppArmor enforcer loads
    /// them, verbatim, into the profiles of the target (as KubeArmor's AppArmor enforcer
    /// does); the other backends report them as not enforced.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apparmor: Vec<RawAppArmor>,
}

/// One policy's `spec.apparmor`: its non-empty lines, trimmed, in order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RawAppArmor {
    pub policy: String,
    pub lines: Vec<String>,
}

impl RawAppArmor {
    /// The raw rules of `policy`, or None when it has none.
    pub fn of(policy: &Policy) -> Option<RawAppArmor> {
        let lines: Vec<String> = policy
            .spec
            .apparmor
            .as_deref()?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        (!lines.is_empty()).then(|| RawAppArmor {
            policy: policy.key(),
            lines,
        })
    }
}

impl RuleSet {
    /// Merges the given policies (the caller picks the ones that select one target).
    pub fn from_policies(policies: &[Policy]) -> RuleSet {
        let mut set = RuleSet {
            target: policies.first().map(Target::of),
            policies: policies.iter().map(Policy::key).collect(),
            rules: Vec::new(),
            allow_list: AllowList::default(),
            presets: Vec::new(),
            duplicates: Vec::new(),
            conflicts: Vec::new(),
            apparmor: policies.iter().filter_map(RawAppArmor::of).collect(),
        };
        for p in policies {
            for preset in &p.spec.presets {
                set.presets.push((
                    preset.name.clone(),
                    preset
                        .action
                        .or(p.spec.info.action)
                        .unwrap_or(Action::Block),
                ));
            }
        }
        let all: Vec<Rule> = policies.iter().flat_map(rules_of).collect();
        // Before conflicts are resolved: an Allow rule that loses to a Block rule still
        // switches its category, as in KubeArmor (the Allow is seen, then overwritten).
        for r in all.iter().filter(|r| r.action == Action::Allow) {
            match r.category {
                Category::Process => set.allow_list.process = true,
                Category::File => set.allow_list.file = true,
                Category::Network => set.allow_list.network = true,
                Category::Capabilities => set.allow_list.capabilities = true,
                Category::Syscall | Category::Device => {}
            }
        }
        // Index of the kept rule per (key, action), and of the kept enforcing rule per key.
        let mut seen: HashMap<String, usize> = HashMap::new();
        for rule in all {
            let key = format!("{:?}", rule.key());
            let exact = format!("{key}|{}", rule.action);
            if let Some(&i) = seen.get(&exact) {
                let first = &set.rules[i];
                set.duplicates.push(Duplicate {
                    policy: rule.policy.clone(),
                    field: rule.field.clone(),
                    first_policy: first.policy.clone(),
                    first_field: first.field.clone(),
                });
                continue;
            }
            let opposite = match rule.action {
                Action::Allow => Some(Action::Block),
                Action::Block => Some(Action::Allow),
                Action::Audit => None,
            };
            if let Some(i) = opposite.and_then(|o| seen.get(&format!("{key}|{o}")).copied()) {
                let other = set.rules[i].clone();
                let (winner, loser) = if rule.action == Action::Block {
                    (&rule, &other)
                } else {
                    (&other, &rule)
                };
                set.conflicts.push(Conflict {
                    winner_policy: winner.policy.clone(),
                    winner_field: winner.field.clone(),
                    winner_action: winner.action,
                    loser_policy: loser.policy.clone(),
                    loser_field: loser.field.clone(),
                    loser_action: loser.action,
                });
                if rule.action == Action::Block {
                    seen.remove(&format!("{key}|{}", other.action));
                    seen.insert(exact, i);
                    set.rules[i] = rule;
                }
                continue;
            }
            seen.insert(exact, set.rules.len());
            set.rules.push(rule);
        }
        set
    }
}

/// Groups policies by target and builds one rule set per target, in a stable order.
pub fn normalize(policies: &[Policy]) -> Vec<RuleSet> {
    let mut groups: BTreeMap<Target, Vec<Policy>> = BTreeMap::new();
    for p in policies {
        groups.entry(Target::of(p)).or_default().push(p.clone());
    }
    groups
        .values()
        .map(|ps| RuleSet::from_policies(ps))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::validate::{Options, validate_bytes};

    fn policies(yaml: &str) -> Vec<Policy> {
        let r = validate_bytes("t.yaml", yaml.as_bytes(), Options::default());
        assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
        r.policies().cloned().collect()
    }

    const HEAD: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n";

    #[test]
    fn inheritance_rule_over_section_over_spec_over_default() {
        let doc = format!(
            "{HEAD}  severity: 3\n  message: spec\n  process:\n    action: Audit\n    tags: [sec]\n    matchPaths:\n    - path: /bin/a\n    - path: /bin/b\n      action: Allow\n      severity: 9\n  file:\n    matchPaths:\n    - path: /etc/x\n"
        );
        let rules = rules_of(&policies(&doc)[0]);
        assert_eq!(rules[0].action, Action::Audit);
        assert_eq!(rules[0].severity, Some(3));
        assert_eq!(rules[0].tags, vec!["sec"]);
        assert_eq!(rules[0].message.as_deref(), Some("spec"));
        assert_eq!(rules[1].action, Action::Allow);
        assert_eq!(rules[1].severity, Some(9));
        assert_eq!(rules[2].action, Action::Block);
        assert!(rules[2].tags.is_empty());
    }

    #[test]
    fn comma_lists_expand_and_block_wins() {
        let doc = format!(
            "{HEAD}  capabilities:\n    matchCapabilities:\n    - capability: net_raw,cap_sys_admin\n      fromSource: [{{path: /bin/x}}]\n  process:\n    matchPaths:\n    - path: /bin/a\n      action: Allow\n    - path: /bin/a\n      action: Block\n    - path: /bin/a\n      action: Block\n"
        );
        let set = RuleSet::from_policies(&policies(&doc));
        let caps: Vec<_> = set
            .rules
            .iter()
            .filter(|r| r.category == Category::Capabilities)
            .map(|r| r.matcher.to_string())
            .collect();
        assert_eq!(caps, vec!["cap net_raw", "cap sys_admin"]);
        let procs: Vec<_> = set
            .rules
            .iter()
            .filter(|r| r.category == Category::Process)
            .collect();
        assert_eq!(procs.len(), 1);
        assert_eq!(procs[0].action, Action::Block);
        assert_eq!(set.conflicts.len(), 1);
        assert_eq!(set.duplicates.len(), 1);
        assert!(set.allow_list.process);
        assert!(
            !set.allow_list.file,
            "a process Allow rule leaves files alone"
        );
        assert!(!set.allow_list.network);
    }

    #[test]
    fn allow_list_mode_is_per_category() {
        let of =
            |body: &str| RuleSet::from_policies(&policies(&format!("{HEAD}{body}"))).allow_list;
        let file = of("  file:\n    matchPaths:\n    - path: /etc/x\n      action: Allow\n");
        assert!(file.file && !file.process);
        let both = of(
            "  process:\n    matchPaths:\n    - path: /bin/a\n      action: Allow\n  file:\n    matchPaths:\n    - path: /etc/x\n      action: Allow\n",
        );
        assert!(both.process && both.file && !both.network && !both.capabilities);
        // Block and Audit rules switch nothing.
        let none = of(
            "  process:\n    matchPaths:\n    - path: /bin/a\n  file:\n    matchPaths:\n    - path: /etc/x\n      action: Audit\n",
        );
        assert_eq!(none, AllowList::default());
    }

    #[test]
    fn syscall_rules_are_always_audit() {
        let doc = format!(
            "{HEAD}  action: Block\n  syscalls:\n    matchSyscalls:\n    - syscall: [unlink]\n"
        );
        let rules = rules_of(&policies(&doc)[0]);
        assert_eq!(rules[0].action, Action::Audit);
    }
}
