//! `harden discover`: least-permissive allow-list policies from recorded behaviour.
//!
//! What ran, what was opened and which protocols were used by one target (the host, or
//! one container) become `Allow` rules; what the rules do not allow then gets the
//! agent's default posture. Choices, each explained in the report:
//! - An executable is allowed from the parents that ran it (`fromSource`) when there were
//!   at most [`MAX_SOURCES`] known ones; more parents mean the parent does not matter.
//! - A file is allowed read-only unless it was written, and from the programs that opened
//!   it under the same rule as parents.
//! - Files are generalised only on evidence: `/proc/<pid>/...` becomes a pattern over
//!   the pid (pids change from run to run), and a directory with at least `dir_threshold`
//!   distinct files opened directly in it becomes `matchDirectories` for that directory
//!   (not recursive), except top-level directories and credential directories, whose
//!   files stay listed one by one.
//! - A lockout guard is always added to every category that gets rules: sshd, login
//!   shells, login/su/sudo and knoxctl may always be started, may open anything, may use
//!   tcp and udp, and what a login session starts may run; every program may read the
//!   dynamic loader's files. Without it, an allow-list with a Block posture would lock the
//!   operator out of the machine.
//!
//! Denied operations (Permission denied, Operation not permitted) are never learned, nor
//! opens and execs of paths that did not exist (no enforcer sees them). Other failures
//! (a missing terminal: `No such device or address`) are what the program does and are
//! learned: denying them would change the error it gets and raise an alert.
//!
//! For a container the lockout guard is narrower: an allow-list there cannot lock anyone
//! out of the machine, and a guard that lets a shell run or open anything would make the
//! allow-list of a shell-scripted service allow everything. Shells, sshd and login may
//! still be started in the container (`podman exec -it c sh` starts), and every program may
//! read the loader's files; what they run and open is what was learned.
//!
//! The output is deterministic: everything is kept in sorted maps, so the same records
//! give byte-identical policies and reports whatever their order.

use super::event::{Filled, Lineage, Op, denied, learnable};
use crate::alert::Alert;
use crate::policy::matcher::Posture;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// More distinct sources than this: no `fromSource`.
pub const MAX_SOURCES: usize = 3;
/// Sources remembered per resource; beyond, only "many" is known (memory stays bounded
/// by the number of distinct resources).
const TRACKED: usize = 16;

pub const SSHD: &[&str] = &[
    "/usr/sbin/sshd",
    "/usr/lib/openssh/sshd-session",
    "/usr/lib/openssh/sshd-auth",
    "/usr/libexec/openssh/sshd-session",
];
pub const SHELLS: &[&str] = &[
    "/bin/bash",
    "/usr/bin/bash",
    "/bin/sh",
    "/usr/bin/sh",
    "/bin/dash",
    "/usr/bin/dash",
    "/bin/zsh",
    "/usr/bin/zsh",
];
pub const LOGIN: &[&str] = &[
    "/bin/login",
    "/usr/bin/login",
    "/bin/su",
    "/usr/bin/su",
    "/usr/bin/sudo",
];
pub const KNOXCTL: &[&str] = &["/usr/bin/knoxctl", "/usr/local/bin/knoxctl"];

/// Directories whose files are never generalised into a directory rule.
const NEVER_GENERALISED: &[&str] = &[
    "/etc/ssh",
    "/etc/sudoers.d",
    "/etc/pam.d",
    "/etc/security",
    "/root/.ssh",
];

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Host,
    Container(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub process: bool,
    pub file: bool,
    pub network: bool,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            process: true,
            file: true,
            network: true,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub target: Target,
    pub scope: Scope,
    /// Distinct files in one directory from which the directory is allowed.
    pub dir_threshold: usize,
    /// The default posture the policies are meant for (stated in the policy and report).
    pub posture: Posture,
    /// More programs the guard protects (the running knoxctl).
    pub guard_extra: Vec<String>,
}

/// How often something was seen, and by which sources.
#[derive(Clone, Debug, Default)]
struct Seen {
    count: u64,
    by: BTreeMap<String, u64>,
    many: bool,
}

impl Seen {
    fn add(&mut self, source: &str, n: u64) {
        self.count += n;
        if let Some(c) = self.by.get_mut(source) {
            *c += n;
        } else if self.by.len() < TRACKED {
            self.by.insert(source.to_string(), n);
        } else {
            self.many = true;
        }
    }

    fn merge(&mut self, other: &Seen) {
        for (s, n) in &other.by {
            self.add(s, *n);
        }
        self.count += other.count - other.by.values().sum::<u64>();
        self.many |= other.many;
    }

    /// Every known source, for rules that must name them (a host policy's network rules
    /// need `fromSource`); the reason says what is left out.
    fn all_sources(&self, what: &str) -> (Vec<String>, String) {
        let list: Vec<String> = self.by.keys().filter(|s| !s.is_empty()).cloned().collect();
        let mut why = format!(
            "host network rules need fromSource: its {} {what}s",
            list.len()
        );
        if self.by.contains_key("") {
            why.push_str(&format!(
                "; {what}s unknown in some records are not covered"
            ));
        }
        if self.many {
            why.push_str(&format!("; only the first {TRACKED} {what}s are listed"));
        }
        (list, why)
    }

    /// The `fromSource` list, with the reason for it (or for its absence).
    fn sources(&self, what: &str) -> (Vec<String>, String) {
        if self.by.contains_key("") {
            return (Vec::new(), format!("some {what}s unknown: no fromSource"));
        }
        if self.many || self.by.len() > MAX_SOURCES {
            return (
                Vec::new(),
                format!("more than {MAX_SOURCES} {what}s: any {what}"),
            );
        }
        let list: Vec<String> = self.by.keys().cloned().collect();
        let why = format!(
            "only from its {what}{}",
            if list.len() > 1 { "s" } else { "" }
        );
        (list, why)
    }
}

#[derive(Clone, Debug, Default)]
struct FileSeen {
    reads: u64,
    writes: u64,
    by: Seen,
}

impl FileSeen {
    fn merge(&mut self, o: &FileSeen) {
        self.reads += o.reads;
        self.writes += o.writes;
        self.by.merge(&o.by);
    }
}

/// One generated rule and why it is there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Explained {
    /// `process`, `file`, `network`.
    pub section: &'static str,
    /// `matchPaths`, `matchDirectories`, `matchPatterns`, `matchProtocols`.
    pub list: &'static str,
    /// The path, directory (with trailing slash), pattern or protocol.
    pub value: String,
    pub recursive: bool,
    pub read_only: bool,
    pub from_source: Vec<String>,
    /// Operations it covers in the records (0 for guard rules nothing used).
    pub seen: u64,
    pub why: String,
}

impl Explained {
    fn to_json(&self) -> Value {
        let key = match self.list {
            "matchPaths" => "path",
            "matchDirectories" => "dir",
            "matchPatterns" => "pattern",
            _ => "protocol",
        };
        let mut m = serde_json::Map::new();
        m.insert(key.into(), self.value.clone().into());
        if self.recursive {
            m.insert("recursive".into(), true.into());
        }
        if self.read_only {
            m.insert("readOnly".into(), true.into());
        }
        if !self.from_source.is_empty() {
            let s: Vec<Value> = self
                .from_source
                .iter()
                .map(|p| json!({ "path": p }))
                .collect();
            m.insert("fromSource".into(), s.into());
        }
        Value::Object(m)
    }
}

/// Collects a target's operations.
pub struct Discovery {
    opts: Options,
    execs: BTreeMap<String, Seen>,
    files: BTreeMap<String, FileSeen>,
    protocols: BTreeMap<&'static str, Seen>,
    hosts: BTreeMap<String, u64>,
    lineage: Lineage,
    /// Records read, records of the target, operations learned, denied ones skipped,
    /// and those on paths that did not exist (skipped).
    pub records: u64,
    pub of_target: u64,
    pub learned: u64,
    pub denied: u64,
    pub missing: u64,
    /// Operations of a category outside the scope, and records that are no operation.
    pub out_of_scope: u64,
    pub not_operations: u64,
}

/// The result: one policy document and its explanation.
pub struct Discovered {
    pub name: String,
    pub policy: Value,
    pub rules: Vec<Explained>,
    pub report: String,
}

fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `/proc/1234/status` → `/proc/[0-9]*/status` (every all-digit segment under /proc).
/// `/proc/self/...` and `/proc/thread-self/...` too: the kernel resolves those links
/// before any enforcer sees the open, which then names the process's own directory
/// (`/proc/1234/status`, `/proc/1234/task/1235/comm`), while recorders keep the path the
/// program gave.
pub fn proc_pattern(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/proc/")?;
    let mut changed = false;
    let parts: Vec<String> = rest
        .split('/')
        .enumerate()
        .map(|(i, seg)| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit())
                || (i == 0 && seg == "self")
            {
                changed = true;
                "[0-9]*".to_string()
            } else if i == 0 && seg == "thread-self" {
                changed = true;
                "[0-9]*/task/[0-9]*".to_string()
            } else {
                escape_glob(seg)
            }
        })
        .collect();
    changed.then(|| format!("/proc/{}", parts.join("/")))
}

/// Whether `dir`'s files may be generalised into a directory rule.
pub fn generalisable(dir: &str) -> bool {
    let depth = dir.split('/').filter(|s| !s.is_empty()).count();
    depth >= 2
        && !NEVER_GENERALISED.contains(&dir)
        && !dir.split('/').any(|s| s == ".ssh" || s == ".gnupg")
}

/// A DNS-1123 name piece.
fn dns_name(s: &str) -> String {
    let mut out: String = s
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches(|c| c == '-' || c == '.')
        .chars()
        .take(200)
        .collect()
}

impl Discovery {
    pub fn new(opts: Options) -> Discovery {
        Discovery {
            opts,
            execs: BTreeMap::new(),
            files: BTreeMap::new(),
            protocols: BTreeMap::new(),
            hosts: BTreeMap::new(),
            lineage: Lineage::default(),
            records: 0,
            of_target: 0,
            learned: 0,
            denied: 0,
            missing: 0,
            out_of_scope: 0,
            not_operations: 0,
        }
    }

    pub fn record(&mut self, a: &Alert) {
        self.records += 1;
        let ours = match &self.opts.target {
            Target::Host => a.container_name.is_empty(),
            Target::Container(n) => a.container_name == *n,
        };
        if !ours {
            return;
        }
        self.of_target += 1;
        let mut filled = Filled::default();
        let Some(op) = self.lineage.observe(a, &mut filled) else {
            self.not_operations += 1;
            return;
        };
        if !learnable(a) {
            if denied(a) {
                self.denied += 1;
            } else {
                self.missing += 1;
            }
            return;
        }
        let scope = self.opts.scope;
        match op {
            Op::Exec { path, parent } if scope.process => {
                self.execs
                    .entry(path.to_string())
                    .or_default()
                    .add(parent, 1);
            }
            Op::Open {
                path,
                write,
                process,
            } if scope.file => {
                let f = self.files.entry(path.to_string()).or_default();
                if write {
                    f.writes += 1;
                } else {
                    f.reads += 1;
                }
                f.by.add(process, 1);
            }
            Op::Network { protocols, process } if scope.network => {
                let Some(p) = protocols.primary() else {
                    self.not_operations += 1;
                    return;
                };
                self.protocols.entry(p).or_default().add(process, 1);
            }
            _ => {
                self.out_of_scope += 1;
                return;
            }
        }
        self.learned += 1;
        if let Some(c) = self.hosts.get_mut(&a.host_name) {
            *c += 1;
        } else {
            self.hosts.insert(a.host_name.clone(), 1);
        }
    }

    fn guard_programs(&self) -> Vec<String> {
        let mut all: BTreeSet<String> = SSHD
            .iter()
            .chain(SHELLS)
            .chain(LOGIN)
            .chain(KNOXCTL)
            .map(|s| s.to_string())
            .collect();
        all.extend(self.opts.guard_extra.iter().cloned());
        all.into_iter().collect()
    }

    fn exec_rules(&self) -> Vec<Explained> {
        let mut out = Vec::new();
        for (path, seen) in &self.execs {
            let (from_source, why) = seen.sources("parent");
            out.push(Explained {
                section: "process",
                list: "matchPaths",
                value: path.clone(),
                recursive: false,
                read_only: false,
                from_source,
                seen: seen.count,
                why: format!("ran {} times; {why}", seen.count),
            });
        }
        out
    }

    fn file_rules(&self) -> Vec<Explained> {
        let mut out = Vec::new();
        let mut patterns: BTreeMap<String, (FileSeen, u64)> = BTreeMap::new();
        let mut by_dir: BTreeMap<&str, Vec<(&str, &FileSeen)>> = BTreeMap::new();
        let mut skipped_root = 0u64;
        for (path, f) in &self.files {
            if path == "/" {
                skipped_root += f.reads + f.writes;
                continue;
            }
            if let Some(p) = proc_pattern(path) {
                let e = patterns.entry(p).or_default();
                e.0.merge(f);
                e.1 += 1;
                continue;
            }
            let dir = &path[..path.rfind('/').unwrap_or(0)];
            by_dir.entry(dir).or_default().push((path.as_str(), f));
        }
        let file_rule = |list, value: String, f: &FileSeen, recursive, why: String| {
            let (from_source, src_why) = if list == "matchPatterns" {
                (
                    Vec::new(),
                    "any program (matchPatterns takes no fromSource)".to_string(),
                )
            } else {
                f.by.sources("program")
            };
            let access = if f.writes > 0 {
                format!("read {} and written {} times", f.reads, f.writes)
            } else {
                format!("read {} times, never written: readOnly", f.reads)
            };
            Explained {
                section: "file",
                list,
                value,
                recursive,
                read_only: f.writes == 0,
                from_source,
                seen: f.reads + f.writes,
                why: format!("{why}{access}; {src_why}"),
            }
        };
        if matches!(self.opts.target, Target::Container(_)) && !patterns.is_empty() {
            // BPF-LSM does not enforce matchPatterns in containers: in allow-list mode
            // the pattern would be missing and the runtime's own reads of /proc denied.
            // A container's /proc shows its own processes only.
            let mut all = FileSeen::default();
            let mut distinct = 0;
            for (f, n) in patterns.values() {
                all.merge(f);
                distinct += n;
            }
            out.push(file_rule(
                "matchDirectories",
                "/proc/".to_string(),
                &all,
                true,
                format!(
                    "{distinct} paths under /proc that differ only in a process id (pids change between runs; matchPatterns are not enforced in containers by BPF-LSM, and a container's /proc holds its own processes only): /proc/ recursive; "
                ),
            ));
        } else {
            for (pattern, (f, distinct)) in &patterns {
                out.push(file_rule(
                    "matchPatterns",
                    pattern.clone(),
                    f,
                    false,
                    format!(
                        "{distinct} paths that differ only in a process id (pids change between runs); "
                    ),
                ));
            }
        }
        let threshold = self.opts.dir_threshold.max(1);
        for (dir, files) in by_dir {
            if files.len() >= threshold && generalisable(dir) {
                let mut all = FileSeen::default();
                for (_, f) in &files {
                    all.merge(f);
                }
                let names: Vec<&str> = files
                    .iter()
                    .take(3)
                    .map(|(p, _)| p.rsplit('/').next().unwrap_or(p))
                    .collect();
                out.push(file_rule(
                    "matchDirectories",
                    format!("{dir}/"),
                    &all,
                    false,
                    format!(
                        "{} distinct files opened directly in it ({}{}; threshold {threshold}); ",
                        files.len(),
                        names.join(", "),
                        if files.len() > 3 { ", ..." } else { "" }
                    ),
                ));
                continue;
            }
            let why = if files.len() >= threshold {
                format!("listed one by one: {dir}/ is never generalised; ")
            } else {
                String::new()
            };
            for (path, f) in files {
                out.push(file_rule(
                    "matchPaths",
                    path.to_string(),
                    f,
                    false,
                    why.clone(),
                ));
            }
        }
        if skipped_root > 0 {
            out.push(Explained {
                section: "file",
                list: "matchDirectories",
                value: "/".to_string(),
                recursive: false,
                read_only: true,
                from_source: Vec::new(),
                seen: skipped_root,
                why: format!(
                    "the root directory itself was opened {skipped_root} times; a path rule cannot name it, so / (not recursive) is allowed read-only"
                ),
            });
        }
        out
    }

    fn network_rules(&self) -> Vec<Explained> {
        self.protocols
            .iter()
            .filter_map(|(p, seen)| {
                let (from_source, why) = match self.opts.target {
                    Target::Host => seen.all_sources("program"),
                    Target::Container(_) => seen.sources("program"),
                };
                if from_source.is_empty() && self.opts.target == Target::Host {
                    return None;
                }
                Some(Explained {
                    section: "network",
                    list: "matchProtocols",
                    value: p.to_string(),
                    recursive: false,
                    read_only: false,
                    from_source,
                    seen: seen.count,
                    why: format!("{} sockets; {why}", seen.count),
                })
            })
            .collect()
    }

    fn guard_rules(&self, sections: &BTreeSet<&'static str>) -> Vec<Explained> {
        let programs = self.guard_programs();
        // A container's allow-list cannot lock anyone out of the machine (module doc).
        let host = self.opts.target == Target::Host;
        let starters: Vec<String> = SSHD
            .iter()
            .chain(SHELLS)
            .chain(LOGIN)
            .map(|s| s.to_string())
            .collect();
        let guard =
            |section, list, value: &str, recursive, read_only, from: &[String], why: &str| {
                Explained {
                    section,
                    list,
                    value: value.to_string(),
                    recursive,
                    read_only,
                    from_source: from.to_vec(),
                    seen: 0,
                    why: format!("lockout guard: {why}"),
                }
            };
        let mut out = Vec::new();
        if sections.contains("process") {
            for p in &programs {
                out.push(guard(
                    "process",
                    "matchPaths",
                    p,
                    false,
                    false,
                    &[],
                    "sshd, login shells, login/su/sudo and knoxctl can always be started",
                ));
            }
            if host {
                out.push(guard("process", "matchDirectories", "/", true, false, &starters, "what sshd, a login shell, login, su or sudo starts may run, so a login session is usable"));
            }
        }
        if sections.contains("file") {
            if host {
                out.push(guard("file", "matchDirectories", "/", true, false, &programs, "sshd, login shells, login/su/sudo and knoxctl may open any file (accounts, PAM, keys, home directories, knoxctl's state)"));
            }
            out.push(guard(
                "file",
                "matchPaths",
                "/etc/ld.so.cache",
                false,
                true,
                &[],
                "every program's dynamic loader reads it",
            ));
            for d in ["/usr/lib/", "/usr/lib64/"] {
                out.push(guard(
                    "file",
                    "matchDirectories",
                    d,
                    true,
                    true,
                    &[],
                    "shared libraries: every dynamically linked program reads them",
                ));
            }
        }
        if host && sections.contains("network") {
            for p in ["tcp", "udp"] {
                out.push(guard(
                    "network",
                    "matchProtocols",
                    p,
                    false,
                    false,
                    &programs,
                    "sshd accepts connections; sudo, su and knoxctl may resolve names",
                ));
            }
        }
        out
    }

    fn hostname(&self) -> String {
        self.hosts
            .iter()
            .filter(|(h, _)| !h.is_empty())
            // Most records first, then the smallest name: deterministic.
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(h, _)| h.clone())
            .unwrap_or_else(crate::identity::hostname)
    }

    /// The policy and its report; `source` names where the records came from.
    pub fn finish(self, source: &str) -> Discovered {
        let mut rules = Vec::new();
        rules.extend(self.exec_rules());
        rules.extend(self.file_rules());
        rules.extend(self.network_rules());
        let sections: BTreeSet<&'static str> = rules.iter().map(|r| r.section).collect();
        // Guard rules replace a learned rule for the same resource (theirs are wider).
        let guards = self.guard_rules(&sections);
        rules.retain(|r| {
            !guards.iter().any(|g| {
                g.section == r.section
                    && g.list == r.list
                    && g.value == r.value
                    && g.from_source.is_empty()
            })
        });
        rules.extend(guards);
        rules.sort();
        let (kind, name, selector) = match &self.opts.target {
            Target::Host => {
                let host = self.hostname();
                (
                    "KubeArmorHostPolicy",
                    format!("discovered-host-{}", dns_name(&host)),
                    json!({ "nodeSelector": { "matchLabels": { crate::identity::HOSTNAME_LABEL: host } } }),
                )
            }
            Target::Container(c) => (
                "KubeArmorPolicy",
                format!("discovered-{}", dns_name(c)),
                json!({ "selector": { "matchLabels": {
                    crate::policy::CONTAINER_NAME_LABEL: format!("{}$", regex::escape(c))
                } } }),
            ),
        };
        let name = if name.ends_with('-') {
            format!("{name}x")
        } else {
            name
        };
        let mut spec = selector.as_object().cloned().unwrap_or_default();
        for section in ["process", "file", "network"] {
            let mut lists = serde_json::Map::new();
            for list in [
                "matchPaths",
                "matchDirectories",
                "matchPatterns",
                "matchProtocols",
            ] {
                let items: Vec<Value> = rules
                    .iter()
                    .filter(|r| r.section == section && r.list == list)
                    .map(Explained::to_json)
                    .collect();
                if !items.is_empty() {
                    lists.insert(list.into(), items.into());
                }
            }
            if !lists.is_empty() {
                spec.insert(section.into(), Value::Object(lists));
            }
        }
        spec.insert("action".into(), "Allow".into());
        let mut metadata = json!({
            "name": name,
            "annotations": {
                "knoxctl.io/discovered-from": source,
                "knoxctl.io/default-posture": self.opts.posture.to_string(),
            },
        });
        if let Target::Container(_) = self.opts.target {
            metadata["namespace"] = crate::policy::CONTAINER_NAMESPACE.into();
        }
        let policy = json!({
            "apiVersion": crate::policy::API_VERSION,
            "kind": kind,
            "metadata": metadata,
            "spec": Value::Object(spec),
        });
        let report = self.report(&name, source, &rules);
        Discovered {
            name,
            policy,
            rules,
            report,
        }
    }

    fn report(&self, name: &str, source: &str, rules: &[Explained]) -> String {
        let mut r = String::new();
        let target = match &self.opts.target {
            Target::Host => "the host".to_string(),
            Target::Container(c) => format!("container {c}"),
        };
        let _ = writeln!(r, "# Discovered policy {name}\n");
        let _ = writeln!(
            r,
            "From {source}: {} records, {} of {target}; {} operations learned ({} executables, {} files, {} protocols); {} denied operations not learned; {} on paths that did not exist not learned; {} outside --scope; {} records that are no exec, open or socket.\n",
            self.records,
            self.of_target,
            self.learned,
            self.execs.len(),
            self.files.len(),
            self.protocols.len(),
            self.denied,
            self.missing,
            self.out_of_scope,
            self.not_operations,
        );
        let posture = match self.opts.posture {
            Posture::Audit => {
                "audit: what these rules do not allow is permitted and alerted (PolicyName DefaultPosture). Watch those alerts, then switch to block"
            }
            Posture::Block => {
                "block: what these rules do not allow is denied. Set the agent's defaultPosture (file, network) to block for this to take effect"
            }
        };
        let _ = writeln!(
            r,
            "Allow-list: every category with a rule here is in allow-list mode. Default posture {posture}.\n"
        );
        if self.opts.target == Target::Host {
            for (p, seen) in &self.protocols {
                if seen.by.keys().all(|s| s.is_empty()) {
                    let _ = writeln!(
                        r,
                        "Not allowed: protocol {p}, used {} times by programs the records do not name; a host policy's network rule needs fromSource.\n",
                        seen.count
                    );
                }
            }
        }
        let _ = writeln!(r, "| Operation | Rule | Flags | From source | Seen | Why |");
        let _ = writeln!(r, "|---|---|---|---|---|---|");
        for x in rules {
            let mut flags = Vec::new();
            if x.recursive {
                flags.push("recursive");
            }
            if x.read_only {
                flags.push("readOnly");
            }
            let _ = writeln!(
                r,
                "| {} | {} {} | {} | {} | {} | {} |",
                x.section,
                x.list,
                x.value.replace('|', "\\|"),
                flags.join(","),
                x.from_source.join(", "),
                x.seen,
                x.why.replace('|', "\\|"),
            );
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            target: Target::Host,
            scope: Scope::default(),
            dir_threshold: 3,
            posture: Posture::Audit,
            guard_extra: Vec::new(),
        }
    }

    fn rec(op: &str, name: &str, resource: &str, data: &str, parent: &str) -> Alert {
        Alert {
            timestamp: 1,
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

    fn find<'a>(d: &'a Discovered, value: &str) -> Option<&'a Explained> {
        d.rules
            .iter()
            .find(|r| r.value == value && !r.why.starts_with("lockout"))
    }

    #[test]
    fn generalises_only_on_evidence() {
        let mut d = Discovery::new(opts());
        for f in ["a", "b", "c"] {
            d.record(&rec(
                "File",
                "/opt/app/bin/app",
                &format!("/opt/app/conf/{f}"),
                "flags=O_RDONLY",
                "",
            ));
        }
        d.record(&rec(
            "File",
            "/opt/app/bin/app",
            "/var/lib/app/x",
            "flags=O_RDONLY",
            "",
        ));
        d.record(&rec(
            "File",
            "/opt/app/bin/app",
            "/var/lib/app/y",
            "flags=O_WRONLY",
            "",
        ));
        for f in ["passwd", "group", "hosts"] {
            d.record(&rec(
                "File",
                "/usr/bin/id",
                &format!("/etc/{f}"),
                "flags=O_RDONLY",
                "",
            ));
        }
        d.record(&rec("File", "/usr/bin/ps", "/proc/42/stat", "", ""));
        d.record(&rec("File", "/usr/bin/ps", "/proc/7/stat", "", ""));
        let out = d.finish("t");
        let dir = find(&out, "/opt/app/conf/").unwrap();
        assert_eq!(dir.list, "matchDirectories");
        assert!(dir.read_only && !dir.recursive);
        assert_eq!(dir.from_source, ["/opt/app/bin/app"]);
        assert!(dir.why.contains("3 distinct files"), "{}", dir.why);
        // Two files: below the threshold, listed; written: not readOnly.
        let y = find(&out, "/var/lib/app/y").unwrap();
        assert_eq!((y.list, y.read_only), ("matchPaths", false));
        // /etc is top-level: never generalised.
        assert!(find(&out, "/etc/").is_none());
        assert!(
            find(&out, "/etc/passwd")
                .unwrap()
                .why
                .contains("never generalised")
        );
        let p = find(&out, "/proc/[0-9]*/stat").unwrap();
        assert_eq!((p.list, p.seen), ("matchPatterns", 2));
    }

    #[test]
    fn parents_matter_only_when_few() {
        let mut d = Discovery::new(opts());
        d.record(&rec("Process", "/usr/bin/app", "", "", "/usr/bin/bash"));
        for parent in ["/a", "/b", "/c", "/d"] {
            d.record(&rec("Process", "/usr/bin/curl", "", "", parent));
        }
        d.record(&rec("Process", "/usr/bin/x", "", "", ""));
        // Denied operations are not learned.
        let mut denied = rec("Process", "/usr/bin/nc", "", "", "/usr/bin/bash");
        denied.result = "Permission denied".into();
        d.record(&denied);
        let out = d.finish("t");
        assert_eq!(
            find(&out, "/usr/bin/app").unwrap().from_source,
            ["/usr/bin/bash"]
        );
        assert!(find(&out, "/usr/bin/curl").unwrap().from_source.is_empty());
        assert!(find(&out, "/usr/bin/x").unwrap().from_source.is_empty());
        assert!(find(&out, "/usr/bin/nc").is_none());
        // The guard: sshd and the shells can always start; files got no rules, so no file
        // guard puts opens in allow-list mode.
        assert!(
            out.rules
                .iter()
                .any(|r| r.section == "process" && r.value == "/usr/sbin/sshd")
        );
        assert!(!out.rules.iter().any(|r| r.section == "file"));
        assert_eq!(out.policy["kind"], "KubeArmorHostPolicy");
        assert_eq!(out.policy["metadata"]["name"], "discovered-host-web");
    }

    #[test]
    fn containers_get_no_catch_all_guard_and_learn_harmless_failures() {
        let mut o = opts();
        o.target = Target::Container("svc".into());
        let mut d = Discovery::new(o);
        let mut r = |op, name: &str, res: &str, data, parent, result: &str| {
            let mut a = rec(op, name, res, data, parent);
            a.container_name = "svc".into();
            a.result = result.into();
            d.record(&a);
        };
        r("Process", "/usr/bin/cat", "", "", "/usr/bin/bash", "Passed");
        r(
            "File",
            "/usr/bin/bash",
            "/dev/tty",
            "flags=O_RDWR",
            "",
            "No such device or address",
        );
        r(
            "File",
            "/usr/bin/bash",
            "/etc/nope",
            "flags=O_RDONLY",
            "",
            "No such file or directory",
        );
        r(
            "File",
            "/usr/bin/cat",
            "/etc/shadow",
            "flags=O_RDONLY",
            "",
            "Permission denied",
        );
        // A record that names the opened file as its program did not know the program;
        // `/` is no program either.
        r(
            "File",
            "/srv/conf",
            "/srv/conf",
            "flags=O_RDONLY",
            "",
            "Passed",
        );
        r("File", "/", "/etc/passwd", "flags=O_RDONLY", "", "Passed");
        // No matchPatterns in a container: /proc/ itself.
        r(
            "File",
            "/",
            "/proc/42/status",
            "flags=O_RDONLY",
            "",
            "Passed",
        );
        let (denied, missing) = (d.denied, d.missing);
        let out = d.finish("t");
        assert_eq!((denied, missing), (1, 1));
        assert!(
            out.report.contains("1 on paths that did not exist"),
            "{}",
            out.report
        );
        let tty = find(&out, "/dev/tty").unwrap();
        assert!(!tty.read_only && tty.from_source == ["/usr/bin/bash"]);
        assert!(find(&out, "/etc/nope").is_none() && find(&out, "/etc/shadow").is_none());
        assert!(find(&out, "/srv/conf").unwrap().from_source.is_empty());
        assert!(find(&out, "/etc/passwd").unwrap().from_source.is_empty());
        // Shells may start, but nothing lets them run or open anything.
        assert!(
            out.rules
                .iter()
                .any(|r| r.value == "/usr/bin/bash" && r.section == "process")
        );
        assert!(
            !out.rules
                .iter()
                .any(|r| r.value == "/" || r.section == "network")
        );
        assert!(out.rules.iter().any(|r| r.value == "/usr/lib/"));
        let proc = find(&out, "/proc/").unwrap();
        assert!(proc.recursive && proc.read_only && proc.list == "matchDirectories");
        assert!(!out.rules.iter().any(|r| r.list == "matchPatterns"));
    }

    #[test]
    fn names_and_patterns() {
        assert_eq!(
            proc_pattern("/proc/12/task/13/comm").as_deref(),
            Some("/proc/[0-9]*/task/[0-9]*/comm")
        );
        assert_eq!(
            proc_pattern("/proc/self/status").as_deref(),
            Some("/proc/[0-9]*/status")
        );
        assert_eq!(
            proc_pattern("/proc/thread-self/comm").as_deref(),
            Some("/proc/[0-9]*/task/[0-9]*/comm")
        );
        assert_eq!(proc_pattern("/proc/sys/kernel/cap_last_cap"), None);
        assert_eq!(
            proc_pattern("/proc/1/a*b").as_deref(),
            Some("/proc/[0-9]*/a\\*b")
        );
        assert!(!generalisable("/etc"));
        assert!(!generalisable("/etc/ssh"));
        assert!(!generalisable("/home/u/.ssh"));
        assert!(generalisable("/etc/app"));
        assert_eq!(dns_name("Web_Server.1"), "web-server.1");
    }
}
