//! `policy test`: what draft policies would have done to recorded operations.
//!
//! Each operation is judged by the rule set the agent would build for its target: the
//! host policies whose `nodeSelector` selects the record's host (its `HostName`), or the
//! container policies whose selector selects the record's container (its `ContainerName`
//! and `Labels`), compiled with the same [`CompiledRules`] the enforcers use (process and
//! file rules) and, for sockets, the protocol names the BPF-LSM enforcer matches.
//!
//! What would not have happened is not judged: an open or exec of a path that did not
//! exist (it fails before any enforcer's check), and what a process did after an exec
//! that the drafts would have blocked (the program would never have run: its opens,
//! sockets and children are counted as `afterBlockedExec`). The latter follows the
//! records' order, which for the store and for exports is the order things happened.
//!
//! What the telemetry cannot say is assumed, and the assumption is stated: a record that
//! does not name its program (or an exec's parent) is taken to come from a program some
//! `fromSource` names when that would allow it (enforcers read the program from the
//! process, so a denial predicted only for want of the name would not happen); the owner of
//! an opened file is taken to be the process's user (for `ownerOnly`), symlinks are not
//! resolved (records carry resolved paths), and `pts`/`allowedArgs` are ignored.
//!
//! In file allow-list mode an open that AppArmor's `abstractions/base` grants every program
//! (loader, libraries, locale, `/dev/null`: [`crate::policy::base_abstraction`]) and that
//! no rule matches is not given the default posture, as the fanotify backend judges it
//! and KubeArmor's AppArmor profiles (which include the abstraction) do: predictions of a
//! learned allow-list are not flooded with library loads. knoxctl's BPF-LSM and AppArmor
//! backends do not grant these yet; a policy `harden discover` learned allows the loader's
//! cache and `/usr/lib` itself (its lockout guards), so there the prediction can miss only
//! denials of the rest of the list (locale, `/dev/null`...) that learning did not see.

use super::event::{Filled, Lineage, Op, Protocols, passed, reached_check};
use crate::alert::Alert;
use crate::container::Container;
use crate::container::select::Compiled as Selector;
use crate::identity::Identity;
use crate::policy::matcher::{CompiledRules, Decision, Known, Posture, SourceMatch};
use crate::policy::normalize::{Category, Matcher, Rule, RuleSet};
use crate::policy::{Action, Kind, Policy};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

/// Examples kept per row.
pub const EXAMPLES: usize = 3;

/// A target's rules, compiled.
struct Judge {
    set: RuleSet,
    rules: CompiledRules,
    /// Indexes of network protocol rules in `set.rules`, with their sources.
    net: Vec<(usize, Box<[SourceMatch]>)>,
    /// What the report calls the target.
    target: String,
    /// Every program the rules' `fromSource` names, for records that name none.
    sources: Vec<String>,
}

impl Judge {
    fn new(policies: &[Policy], posture: Posture, target: String) -> Judge {
        let set = RuleSet::from_policies(policies);
        // As the fanotify backend judges a container's opens: what AppArmor's
        // abstractions/base grants is not given the default posture.
        let rules = CompiledRules::new(&set, posture).with_base_exemption();
        let net = set
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.category == Category::Network && matches!(r.matcher, Matcher::Protocol { .. })
            })
            .map(|(i, r)| {
                (
                    i,
                    r.from_source
                        .iter()
                        .map(|s| SourceMatch::parse(s))
                        .collect(),
                )
            })
            .collect();
        let sources: BTreeSet<String> = set
            .rules
            .iter()
            .flat_map(|r| r.from_source.iter())
            .filter(|s| s.starts_with('/') && !s.ends_with('/'))
            .map(|s| s.to_string())
            .collect();
        Judge {
            set,
            rules,
            net,
            target,
            sources: sources.into_iter().collect(),
        }
    }

    /// Network rules as the BPF-LSM enforcer applies them: Block wins over Allow, Audit
    /// rules only alert, allow-list mode sends the rest to the posture.
    fn socket(
        &self,
        protocols: &Protocols,
        process: &str,
        posture: Posture,
    ) -> (Decision, Vec<usize>) {
        let (mut deny, mut allow, mut audits) = (None::<usize>, None::<usize>, Vec::new());
        for (i, sources) in &self.net {
            let rule = &self.set.rules[*i];
            let Matcher::Protocol { protocol } = &rule.matcher else {
                continue;
            };
            if !protocols.names().any(|n| n == protocol) {
                continue;
            }
            if !sources.is_empty() && !sources.iter().any(|s| s.matches(process)) {
                continue;
            }
            match rule.action {
                Action::Block => deny = Some(deny.map_or(*i, |d: usize| d.min(*i))),
                Action::Allow => allow = Some(allow.map_or(*i, |a: usize| a.min(*i))),
                Action::Audit => audits.push(*i),
            }
        }
        let decision = match (deny, allow) {
            (Some(rule), _) => Decision::Deny { rule },
            (None, Some(rule)) => Decision::Allow { rule },
            (None, None) if self.set.allow_list.network => Decision::DefaultPosture(posture),
            (None, None) => Decision::Pass,
        };
        (decision, audits)
    }
}

/// One row of the report: a rule, or the default posture of one target and category.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The policy key, or `DefaultPosture`.
    pub policy: String,
    /// The rule's field (`spec.process.matchPaths[0]`), or the target for a posture row.
    pub field: String,
    /// Process, File or Network.
    pub operation: String,
    /// What the rule matches (`/usr/bin/curl`, `/etc/ (recursive)`, `protocol tcp`).
    pub matches: String,
    /// Allow, Audit, Block; for posture rows, the posture (`audit`, `block`).
    pub action: String,
    pub would_block: u64,
    pub would_audit: u64,
    pub would_allow: u64,
    /// RFC 3339 times of the first and last matching record.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub first: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub last: String,
    /// Up to [`EXAMPLES`] acting programs and resources, in the order first seen.
    pub processes: Vec<String>,
    pub resources: Vec<String>,
    #[serde(skip)]
    first_ts: Option<(i64, String)>,
    #[serde(skip)]
    last_ts: Option<(i64, String)>,
}

impl Row {
    fn hit(&mut self, a: &Alert, process: &str, resource: &str) {
        let key = (a.timestamp, a.updated_time.clone());
        if self.first_ts.as_ref().is_none_or(|f| key < *f) {
            self.first_ts = Some(key.clone());
        }
        if self.last_ts.as_ref().is_none_or(|l| key > *l) {
            self.last_ts = Some(key);
        }
        for (list, v) in [
            (&mut self.processes, process),
            (&mut self.resources, resource),
        ] {
            if !v.is_empty() && list.len() < EXAMPLES && !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        }
    }

    fn finish(&mut self) {
        let time = |t: &Option<(i64, String)>| match t {
            Some((_, u)) if !u.is_empty() => u.clone(),
            Some((ts, _)) => crate::alert::format_rfc3339(*ts, 0),
            None => String::new(),
        };
        self.first = time(&self.first_ts);
        self.last = time(&self.last_ts);
    }
}

/// The whole answer.
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Records read from the source (inside the window).
    pub records: u64,
    /// Records that were operations a rule can judge (exec, open, socket).
    pub operations: u64,
    /// Operations of a target no draft policy selects.
    pub unselected: u64,
    /// Opens and execs of paths that did not exist: no enforcer sees them.
    pub missing_paths: u64,
    /// Operations of processes whose exec the drafts would have blocked (and of their
    /// children): they would not have happened.
    pub after_blocked_exec: u64,
    pub posture: Posture,
    pub would_block: u64,
    pub would_audit: u64,
    /// Every rule of the drafts (zero counts included: a rule that never matched is news
    /// too), then the default-posture rows, sorted.
    pub rules: Vec<Row>,
}

/// Replays operations one at a time against draft policies.
pub struct Replay {
    policies: Vec<Policy>,
    posture: Posture,
    hosts: HashMap<String, Option<Rc<Judge>>>,
    containers: HashMap<(String, String), Option<Rc<Judge>>>,
    rows: BTreeMap<(String, String, String), Row>,
    report: Report,
    /// (HostName, HostPID) of processes whose recorded exec would have been blocked.
    blocked: HashSet<(String, i32)>,
    lineage: Lineage,
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    s.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn rule_key(r: &Rule) -> (String, String, String) {
    (r.policy.clone(), r.field.clone(), r.matcher.to_string())
}

impl Replay {
    pub fn new(policies: Vec<Policy>, posture: Posture) -> Replay {
        let mut rows = BTreeMap::new();
        // Every rule gets its row up front, with the action it has in its own policy.
        for p in &policies {
            for r in crate::policy::normalize::rules_of(p) {
                if !matches!(
                    r.category,
                    Category::Process | Category::File | Category::Network
                ) {
                    continue;
                }
                if let Matcher::Domain { .. } = r.matcher {
                    continue;
                }
                rows.entry(rule_key(&r)).or_insert_with(|| Row {
                    policy: r.policy.clone(),
                    field: r.field.clone(),
                    operation: r.category.to_string(),
                    matches: r.matcher.to_string(),
                    action: r.action.to_string(),
                    ..Row::default()
                });
            }
        }
        Replay {
            policies,
            posture,
            hosts: HashMap::new(),
            containers: HashMap::new(),
            rows,
            report: Report {
                posture,
                ..Report::default()
            },
            blocked: HashSet::new(),
            lineage: Lineage::default(),
        }
    }

    fn judge_for(&mut self, a: &Alert) -> Option<Rc<Judge>> {
        if a.container_name.is_empty() {
            let host = if a.host_name.is_empty() {
                crate::identity::hostname()
            } else {
                a.host_name.clone()
            };
            if let Some(j) = self.hosts.get(&host) {
                return j.clone();
            }
            let id = Identity::host(&host, &BTreeMap::new());
            let selected: Vec<Policy> = self
                .policies
                .iter()
                .filter(|p| {
                    p.kind == Kind::KubeArmorHostPolicy
                        && p.spec
                            .node_selector
                            .as_ref()
                            .is_some_and(|s| id.matches(&s.match_labels))
                })
                .cloned()
                .collect();
            let j = (!selected.is_empty())
                .then(|| Rc::new(Judge::new(&selected, self.posture, format!("host {host}"))));
            self.hosts.insert(host, j.clone());
            return j;
        }
        let key = (a.container_name.clone(), a.labels.clone());
        if let Some(j) = self.containers.get(&key) {
            return j.clone();
        }
        let c = Container {
            name: a.container_name.clone(),
            id: a.container_id.clone(),
            image: a.container_image.clone(),
            labels: parse_labels(&a.labels),
            ..Container::default()
        };
        let selected: Vec<Policy> = self
            .policies
            .iter()
            .filter(|p| Selector::new(p).selects(&c))
            .cloned()
            .collect();
        let j = (!selected.is_empty()).then(|| {
            Rc::new(Judge::new(
                &selected,
                self.posture,
                format!("container {}", a.container_name),
            ))
        });
        self.containers.insert(key, j.clone());
        j
    }

    /// Judges one record (records that are not operations are counted and passed over).
    pub fn record(&mut self, a: &Alert) {
        self.report.records += 1;
        let mut filled = Filled::default();
        let Some(op) = self.lineage.observe(a, &mut filled) else {
            return;
        };
        if !reached_check(a) {
            self.report.missing_paths += 1;
            return;
        }
        if a.host_pid > 0 && !self.blocked.is_empty() {
            let me = (a.host_name.clone(), a.host_pid);
            let child =
                a.host_ppid > 0 && self.blocked.contains(&(a.host_name.clone(), a.host_ppid));
            if child || self.blocked.contains(&me) {
                self.blocked.insert(me);
                self.report.after_blocked_exec += 1;
                return;
            }
        }
        self.report.operations += 1;
        let Some(judge) = self.judge_for(a) else {
            self.report.unselected += 1;
            return;
        };
        let uid = a.uid.max(0) as u32;
        let posture = self.posture;
        let eval = |source: &str| match &op {
            Op::Exec { path, .. } => {
                let v = judge.rules.exec(path, uid, &mut Known { source, uid });
                (v.decision, v.audits)
            }
            Op::Open { path, write, .. } => {
                let v = judge
                    .rules
                    .open(path, *write, uid, &mut Known { source, uid });
                (v.decision, v.audits)
            }
            Op::Network { protocols, .. } => judge.socket(protocols, source, posture),
        };
        let (category, process, resource) = match &op {
            Op::Exec { path, parent } => (Category::Process, *parent, *path),
            Op::Open { path, process, .. } => (Category::File, *process, *path),
            Op::Network { protocols, process } => (
                Category::Network,
                *process,
                protocols.primary().unwrap_or(""),
            ),
        };
        let (mut decision, mut audits) = eval(process);
        if process.is_empty() && decision.denies() {
            // The records do not name the program (the recorder missed it; the enforcer
            // reads it from the process): if one a rule names would be allowed, it is
            // taken to be that one rather than predicting a denial that does not happen.
            if let Some((d, au)) = judge
                .sources
                .iter()
                .map(|s| eval(s))
                .find(|(d, _)| !d.denies())
            {
                (decision, audits) = (d, au);
            }
        }
        // An exec that ran in the records but would have been blocked: what that
        // process did next would not have happened.
        if category == Category::Process && decision.denies() && passed(a) && a.host_pid > 0 {
            self.blocked.insert((a.host_name.clone(), a.host_pid));
        }
        // The acting program is what people recognise: for an exec, the program run.
        let shown = if category == Category::Process {
            resource
        } else {
            process
        };
        match decision {
            Decision::Pass => {}
            Decision::Allow { rule } => {
                self.rule_row(&judge.set.rules[rule]).would_allow += 1;
            }
            Decision::Deny { rule } => {
                let row = self.rule_row(&judge.set.rules[rule]);
                row.would_block += 1;
                row.hit(a, shown, resource);
                self.report.would_block += 1;
            }
            Decision::DefaultPosture(p) => {
                let row = self
                    .rows
                    .entry((
                        "~DefaultPosture".to_string(),
                        judge.target.clone(),
                        category.to_string(),
                    ))
                    .or_insert_with(|| Row {
                        policy: "DefaultPosture".to_string(),
                        field: judge.target.clone(),
                        operation: category.to_string(),
                        matches: format!(
                            "{} not allowed by any rule",
                            category.to_string().to_lowercase()
                        ),
                        action: p.to_string(),
                        ..Row::default()
                    });
                match p {
                    Posture::Block => {
                        row.would_block += 1;
                        self.report.would_block += 1;
                    }
                    Posture::Audit => {
                        row.would_audit += 1;
                        self.report.would_audit += 1;
                    }
                }
                row.hit(a, shown, resource);
            }
        }
        for r in audits {
            let row = self.rule_row(&judge.set.rules[r]);
            row.would_audit += 1;
            row.hit(a, shown, resource);
            self.report.would_audit += 1;
        }
    }

    fn rule_row(&mut self, r: &Rule) -> &mut Row {
        self.rows.entry(rule_key(r)).or_insert_with(|| Row {
            policy: r.policy.clone(),
            field: r.field.clone(),
            operation: r.category.to_string(),
            matches: r.matcher.to_string(),
            action: r.action.to_string(),
            ..Row::default()
        })
    }

    pub fn finish(mut self) -> Report {
        self.report.rules = self
            .rows
            .into_values()
            .map(|mut r| {
                r.finish();
                r
            })
            .collect();
        self.report
    }
}

/// The distinct resources of the rows that would block, for summaries.
pub fn blocked_resources(report: &Report) -> BTreeSet<&str> {
    report
        .rules
        .iter()
        .filter(|r| r.would_block > 0)
        .flat_map(|r| r.resources.iter().map(String::as_str))
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

    fn rec(ts: i64, op: &str, name: &str, resource: &str, data: &str, parent: &str) -> Alert {
        Alert {
            timestamp: ts,
            host_name: "web".into(),
            operation: op.into(),
            process_name: name.into(),
            resource: resource.into(),
            data: data.into(),
            parent_process_name: parent.into(),
            kind: "HostLog".into(),
            result: "Passed".into(),
            ..Alert::default()
        }
    }

    const HOST: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: web}}\n";

    #[test]
    fn blocks_audits_and_posture_are_counted_per_rule() {
        let doc = format!(
            "{HOST}  process:\n    matchPaths:\n    - path: /usr/bin/curl\n      action: Block\n  file:\n    matchDirectories:\n    - dir: /etc/app/\n      readOnly: true\n      action: Audit\n  network:\n    matchProtocols:\n    - protocol: raw\n      fromSource: [{{path: /usr/bin/ping}}]\n      action: Block\n"
        );
        let mut r = Replay::new(policies(&doc), Posture::Audit);
        r.record(&rec(
            10,
            "Process",
            "/usr/bin/curl",
            "/usr/bin/curl x",
            "",
            "/usr/bin/bash",
        ));
        r.record(&rec(
            5,
            "Process",
            "/usr/bin/curl",
            "/usr/bin/curl y",
            "",
            "/usr/bin/sh",
        ));
        r.record(&rec(
            7,
            "Process",
            "/usr/bin/ls",
            "/usr/bin/ls",
            "",
            "/usr/bin/sh",
        ));
        r.record(&rec(
            8,
            "File",
            "/usr/bin/tee",
            "/etc/app/a",
            "flags=O_WRONLY",
            "",
        ));
        r.record(&rec(
            9,
            "File",
            "/usr/bin/cat",
            "/etc/app/a",
            "flags=O_RDONLY",
            "",
        ));
        r.record(&rec(
            11,
            "Network",
            "/usr/bin/ping",
            "domain=AF_INET type=SOCK_RAW protocol=1",
            "",
            "",
        ));
        // Another host: no policy selects it.
        let mut other = rec(12, "Process", "/usr/bin/curl", "", "", "");
        other.host_name = "db".into();
        r.record(&other);
        let rep = r.finish();
        assert_eq!((rep.records, rep.operations, rep.unselected), (7, 7, 1));
        assert_eq!((rep.would_block, rep.would_audit), (3, 1));
        let curl = &rep
            .rules
            .iter()
            .find(|r| r.matches == "/usr/bin/curl")
            .unwrap();
        assert_eq!(curl.would_block, 2);
        assert_eq!(curl.processes, ["/usr/bin/curl"]);
        assert_eq!(curl.first, "1970-01-01T00:00:05.000000000Z");
        assert_eq!(curl.last, "1970-01-01T00:00:10.000000000Z");
        let dir = rep.rules.iter().find(|r| r.operation == "File").unwrap();
        assert_eq!((dir.would_audit, dir.would_block), (1, 0));
        assert_eq!(dir.processes, ["/usr/bin/tee"]);
        let raw = rep.rules.iter().find(|r| r.operation == "Network").unwrap();
        assert_eq!(raw.would_block, 1);
        assert_eq!(raw.resources, ["icmp"]);
    }

    #[test]
    fn allow_lists_send_the_rest_to_the_posture() {
        let doc = format!(
            "{HOST}  process:\n    matchPaths:\n    - path: /usr/bin/ls\n      fromSource: [{{path: /usr/bin/bash}}]\n  action: Allow\n"
        );
        let mut r = Replay::new(policies(&doc), Posture::Block);
        r.record(&rec(1, "Process", "/usr/bin/ls", "", "", "/usr/bin/bash"));
        r.record(&rec(
            2,
            "Process",
            "/usr/bin/ls",
            "",
            "",
            "/usr/bin/python3",
        ));
        r.record(&rec(3, "Process", "/usr/bin/id", "", "", "/usr/bin/bash"));
        // File opens are not in allow-list mode: a process Allow rule says nothing of them.
        r.record(&rec(4, "File", "/usr/bin/ls", "/etc/passwd", "", ""));
        let rep = r.finish();
        assert_eq!(rep.would_block, 2);
        let posture = rep
            .rules
            .iter()
            .find(|r| r.policy == "DefaultPosture")
            .unwrap();
        assert_eq!(posture.would_block, 2);
        assert_eq!(posture.processes, ["/usr/bin/ls", "/usr/bin/id"]);
        assert_eq!(posture.field, "host web");
        let ls = rep
            .rules
            .iter()
            .find(|r| r.matches == "/usr/bin/ls")
            .unwrap();
        assert_eq!(ls.would_allow, 1);
    }

    #[test]
    fn what_would_not_have_happened_is_not_judged() {
        let doc = format!(
            "{HOST}  process:\n    matchPaths:\n    - path: /usr/bin/bash\n  file:\n    matchPaths:\n    - path: /etc/app.conf\n  action: Allow\n"
        );
        let mut r = Replay::new(policies(&doc), Posture::Block);
        let with_pid = |mut a: Alert, pid: i32, ppid: i32| {
            a.host_pid = pid;
            a.host_ppid = ppid;
            a
        };
        // curl would not have run: its opens and its child are consequences.
        r.record(&with_pid(
            rec(1, "Process", "/usr/bin/curl", "", "", "/usr/bin/bash"),
            10,
            1,
        ));
        r.record(&with_pid(
            rec(2, "File", "/usr/bin/curl", "/usr/lib/libcurl.so", "", ""),
            10,
            1,
        ));
        r.record(&with_pid(
            rec(3, "Process", "/usr/bin/sh", "", "", "/usr/bin/curl"),
            11,
            10,
        ));
        r.record(&with_pid(
            rec(4, "File", "/usr/bin/sh", "/etc/x", "", ""),
            11,
            10,
        ));
        // bash's own read in allow-list mode: judged (another pid).
        r.record(&with_pid(
            rec(5, "File", "/usr/bin/bash", "/etc/shadow", "", ""),
            1,
            0,
        ));
        // A file that did not exist: no enforcer sees the open.
        let mut missing = with_pid(rec(6, "File", "/usr/bin/bash", "/etc/nope", "", ""), 1, 0);
        missing.result = "No such file or directory".into();
        r.record(&missing);
        // An exec the records show denied: the old image went on, its opens are real.
        let mut denied = with_pid(
            rec(7, "Process", "/usr/bin/nc", "", "", "/usr/bin/bash"),
            12,
            1,
        );
        denied.result = "Operation not permitted".into();
        r.record(&denied);
        r.record(&with_pid(
            rec(8, "File", "/usr/bin/bash", "/etc/y", "", ""),
            12,
            1,
        ));
        let rep = r.finish();
        assert_eq!((rep.after_blocked_exec, rep.missing_paths), (3, 1));
        assert_eq!(rep.would_block, 4, "{:?}", rep.rules);
        let blocked = blocked_resources(&rep);
        assert_eq!(
            blocked.into_iter().collect::<Vec<_>>(),
            ["/etc/shadow", "/etc/y", "/usr/bin/curl", "/usr/bin/nc"]
        );
    }

    #[test]
    fn container_policies_select_by_container_name() {
        let doc = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorPolicy\nmetadata: {name: c, namespace: container_namespace}\nspec:\n  selector: {matchLabels: {kubearmor.io/container.name: web$}}\n  file:\n    matchPaths:\n    - path: /etc/shadow\n  action: Block\n";
        let mut r = Replay::new(policies(doc), Posture::Audit);
        let mut a = rec(1, "File", "/bin/cat", "/etc/shadow", "", "");
        r.record(&a);
        a.container_name = "web".into();
        r.record(&a);
        a.container_name = "web-2".into();
        r.record(&a);
        let rep = r.finish();
        assert_eq!(rep.would_block, 1);
        assert_eq!(rep.unselected, 2);
    }
}
