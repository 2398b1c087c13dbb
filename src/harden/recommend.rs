//! From templates to concrete policies for one target: preconditions evaluated on the
//! target's root, rule paths materialized as the target resolves them (merged-/usr twins
//! and symlink targets both listed, missing programs dropped), real selectors, the action
//! chosen (Audit by default; Block only where it is safe, cannot lock the operator out,
//! and this host's enforcer can enforce it), and the policy documents, byte-identical from
//! run to run. Every recommendation and every skip carries its evidence.

use super::catalog::{CATALOG_VERSION, Scope, Template};
use super::precondition::TargetFs;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// What the recommendation is for.
pub struct Target {
    pub scope: Scope,
    /// The host name (host) or the container's name (container), for the selector.
    pub name: String,
    pub fs: TargetFs,
    /// How reports name the target (`host web-1`, `container nginx (pid 4242)`).
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Action {
    Audit,
    Block,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Audit => "Audit",
            Action::Block => "Block",
        }
    }
}

/// The rule sections this host's enforcer denies (from `probe`), for `--action block`.
#[derive(Clone, Debug)]
pub struct EnforcerCaps {
    pub backend: String,
    pub sections: BTreeSet<String>,
}

/// Paths blocking must never touch: the way the operator gets in and knoxctl itself.
#[derive(Clone, Debug, Default)]
pub struct LockoutGuard {
    /// Programs that must keep running (sshd, login shells, sudo, knoxctl).
    pub programs: Vec<String>,
    /// Files and directories that must stay readable (account databases, PAM, sshd's).
    pub read: Vec<String>,
    /// Directories knoxctl writes (its state, configuration, log).
    pub write: Vec<String>,
}

impl LockoutGuard {
    /// The guard for a host: fixed login paths plus what `fs` says the login shells and
    /// this knoxctl are.
    pub fn for_host(fs: &TargetFs, state_dir: &str, extra_programs: &[String]) -> LockoutGuard {
        let mut programs: Vec<String> = [
            "/usr/sbin/sshd",
            "/usr/bin/bash",
            "/usr/bin/sh",
            "/usr/bin/dash",
            "/usr/bin/zsh",
            "/usr/bin/login",
            "/usr/bin/sudo",
            "/usr/bin/su",
            "/usr/local/bin/knoxctl",
            "/usr/bin/kmod",
            "/usr/bin/systemctl",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every login shell in /etc/passwd: a blocked shell is a locked account.
        if let Some(passwd) = fs.read("/etc/passwd") {
            for shell in passwd.lines().filter_map(|l| l.rsplit(':').next()) {
                if shell.starts_with('/')
                    && !shell.ends_with("nologin")
                    && !shell.ends_with("false")
                {
                    programs.push(shell.to_string());
                }
            }
        }
        programs.extend(extra_programs.iter().cloned());
        let mut resolved: Vec<String> = programs.iter().filter_map(|p| fs.resolve(p)).collect();
        programs.append(&mut resolved);
        programs.sort();
        programs.dedup();
        LockoutGuard {
            programs,
            read: [
                "/etc/passwd",
                "/etc/shadow",
                "/etc/group",
                "/etc/nsswitch.conf",
                "/etc/pam.d/",
                "/etc/ssh/",
                "/etc/ld.so.cache",
                "/usr/lib/",
                "/etc/knoxctl/",
                state_dir,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            write: vec![
                format!("{}/", state_dir.trim_end_matches('/')),
                "/etc/knoxctl/".into(),
                "/run/knoxctl/".into(),
                "/var/log/knoxctl/".into(),
            ],
        }
    }

    /// Why blocking these rules could lock the operator out, if it could.
    fn conflict(&self, rules: &Value) -> Option<String> {
        let covers = |rule: &Value, guarded: &str| -> bool {
            if let Some(p) = rule.get("path").and_then(Value::as_str) {
                return p == guarded.trim_end_matches('/') || guarded.starts_with(&format!("{p}/"));
            }
            if let Some(d) = rule.get("dir").and_then(Value::as_str) {
                let d = d.trim_end_matches('/');
                return guarded.starts_with(&format!("{d}/"))
                    || guarded.trim_end_matches('/') == d
                    || d.starts_with(guarded.trim_end_matches('/'));
            }
            if let Some(pat) = rule.get("pattern").and_then(Value::as_str) {
                use crate::policy::matcher::{Glob, GlobBase};
                let Ok(g) = Glob::new(pat) else { return false };
                let bare = guarded.trim_end_matches('/');
                // A guarded directory is hit when the pattern can match inside it.
                return g.matches(bare)
                    || g.bases().iter().any(|b| match b {
                        GlobBase::Path(p) => p == bare,
                        GlobBase::Dir { dir, .. } => {
                            guarded.ends_with('/')
                                && (dir == bare || dir.starts_with(&format!("{bare}/")))
                        }
                    });
            }
            if let Some(name) = rule.get("execname").and_then(Value::as_str) {
                return guarded.rsplit('/').next() == Some(name);
            }
            false
        };
        let entries = |section: &str| -> Vec<&Value> {
            ["matchPaths", "matchDirectories", "matchPatterns"]
                .iter()
                .filter_map(|k| rules.get(section)?.get(*k)?.as_array())
                .flatten()
                .collect()
        };
        for r in entries("process") {
            if let Some(g) = self.programs.iter().find(|g| covers(r, g)) {
                return Some(format!("blocking it would stop {g} from running"));
            }
        }
        for r in entries("file") {
            let read_only = r.get("readOnly").and_then(Value::as_bool) == Some(true);
            if let Some(g) = self.read.iter().find(|g| !read_only && covers(r, g)) {
                return Some(format!("blocking it would deny reads of {g}"));
            }
            if let Some(g) = self.write.iter().find(|g| covers(r, g)) {
                return Some(format!(
                    "blocking it would deny knoxctl's own writes to {g}"
                ));
            }
        }
        None
    }
}

pub struct Options {
    pub action: Action,
    /// None: the enforcer is unknown, so Block is not demoted for it (the agent still
    /// reports what it cannot enforce when the policy is applied).
    pub caps: Option<EnforcerCaps>,
    pub guard: LockoutGuard,
}

#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub template: String,
    pub title: String,
    pub category: String,
    pub severity: u8,
    pub action: Action,
    /// Why each precondition held.
    pub evidence: Vec<String>,
    /// Rule paths left out because they do not exist on the target.
    pub dropped: Vec<String>,
    /// Why the action is Audit when Block was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub demoted: Option<String>,
    pub policy_name: String,
    pub file: String,
    #[serde(skip)]
    pub policy: Value,
}

#[derive(Clone, Debug, Serialize)]
pub struct Skip {
    pub template: String,
    pub title: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub target: String,
    pub scope: Scope,
    pub recommendations: Vec<Recommendation>,
    pub skipped: Vec<Skip>,
}

/// `/usr/bin/x` ↔ `/bin/x`, `/usr/sbin/x` ↔ `/sbin/x`, `/usr/lib/x` ↔ `/lib/x`: where
/// distributions differ on merged /usr.
pub fn usr_twin(path: &str) -> Option<String> {
    for (usr, root) in [
        ("/usr/bin/", "/bin/"),
        ("/usr/sbin/", "/sbin/"),
        ("/usr/lib/", "/lib/"),
    ] {
        if let Some(rest) = path.strip_prefix(usr) {
            return Some(format!("{root}{rest}"));
        }
        if let Some(rest) = path.strip_prefix(root) {
            return Some(format!("{usr}{rest}"));
        }
    }
    None
}

/// Programs that are one binary for many names (`/usr/bin/crontab -> busybox`): the
/// kernel sees the multi-call binary run whatever name was used, so a rule on one of its
/// names cannot be told from a rule on all of them (a blocked `crontab` would block `sh`).
const MULTI_CALL: &[&str] = &["busybox", "toybox"];

fn multi_call(real: &str) -> bool {
    MULTI_CALL.contains(&real.rsplit('/').next().unwrap_or(real))
}

/// The paths a rule path becomes: on a target, each spelling that exists there and what
/// it resolves to (the kernel reports the resolved one); without a target, the path and
/// its twin. A name of a multi-call binary is not materialized (see [`MULTI_CALL`]).
/// `keep_missing` keeps a file path that does not exist (yet): a file rule also guards a
/// file being created, such as an attacker's authorized_keys in a .ssh not there yet.
fn spellings(path: &str, fs: Option<&TargetFs>, keep_missing: bool) -> Vec<String> {
    let dir = path.ends_with('/');
    let bare = path.trim_end_matches('/');
    let mut candidates = vec![bare.to_string()];
    candidates.extend(usr_twin(bare));
    let mut out: Vec<String> = Vec::new();
    let push = |out: &mut Vec<String>, p: String| {
        let p = if dir { format!("{p}/") } else { p };
        if !out.contains(&p) {
            out.push(p);
        }
    };
    match fs {
        None => candidates.into_iter().for_each(|c| push(&mut out, c)),
        Some(fs) => {
            for c in &candidates {
                if let Some(real) = fs.resolve(c) {
                    if multi_call(&real) && !multi_call(c) {
                        continue;
                    }
                    push(&mut out, c.clone());
                    push(&mut out, real);
                }
            }
            if out.is_empty() && keep_missing && !dir && fs.resolve(bare).is_none() {
                push(&mut out, bare.to_string());
            }
        }
    }
    out
}

/// Materializes the rule sections for a target; returns the sections and what was
/// dropped.
pub fn materialize(rules: &Value, fs: Option<&TargetFs>) -> (Value, Vec<String>) {
    let mut dropped = Vec::new();
    let mut out = Map::new();
    let Some(sections) = rules.as_object() else {
        return (Value::Object(out), dropped);
    };
    for (name, section) in sections {
        let Some(section) = section.as_object() else {
            continue;
        };
        let mut new_section = Map::new();
        for (key, list) in section {
            let Some(list) = list.as_array() else {
                new_section.insert(key.clone(), list.clone());
                continue;
            };
            let mut new_list = Vec::new();
            for entry in list {
                let mut entry = entry.clone();
                if let Some(sources) = entry.get("fromSource").and_then(Value::as_array) {
                    let mut kept = Vec::new();
                    for s in sources {
                        match s.get("path").and_then(Value::as_str) {
                            Some(p) => {
                                let sp = spellings(p, fs, false);
                                if sp.is_empty() {
                                    dropped.push(format!("fromSource {p}"));
                                }
                                kept.extend(sp.into_iter().map(|p| json!({"path": p})));
                            }
                            None => kept.push(s.clone()),
                        }
                    }
                    if kept.is_empty() {
                        continue;
                    }
                    entry["fromSource"] = Value::Array(kept);
                }
                let field = match key.as_str() {
                    "matchPaths" if name != "syscalls" => "path",
                    "matchDirectories" => "dir",
                    _ => {
                        new_list.push(entry);
                        continue;
                    }
                };
                let Some(p) = entry.get(field).and_then(Value::as_str).map(str::to_string) else {
                    new_list.push(entry);
                    continue;
                };
                let sp = spellings(&p, fs, name == "file" && field == "path");
                if sp.is_empty() {
                    match fs.and_then(|fs| fs.resolve(&p)).filter(|r| multi_call(r)) {
                        Some(real) => {
                            dropped.push(format!("{p} (-> {real}, which runs for all its names)"))
                        }
                        None => dropped.push(p),
                    }
                }
                for s in sp {
                    let mut e = entry.clone();
                    e[field] = Value::String(s);
                    new_list.push(e);
                }
            }
            // Two spellings can resolve to one path (`/usr/sbin/ip` and `/usr/bin/ip`
            // on merged /usr); the validator refuses duplicate rules.
            let mut unique: Vec<Value> = Vec::new();
            for e in new_list {
                if !unique.contains(&e) {
                    unique.push(e);
                }
            }
            if !unique.is_empty() {
                new_section.insert(key.clone(), Value::Array(unique));
            }
        }
        if new_section.keys().any(|k| k.starts_with("match")) {
            out.insert(name.clone(), Value::Object(new_section));
        }
    }
    (Value::Object(out), dropped)
}

/// A DNS-1123 name part from a container name (`My_App.1` → `my-app-1`).
pub fn dns_label(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while out.contains("--") {
        out = out.replace("--", "-");
    }
    out.trim_matches('-').chars().take(40).collect()
}

/// The container selector value: KubeArmor matches it as a regular expression against
/// `kubearmor.io/container.name=NAME`, so the name is escaped and anchored at the end
/// (the label prefix anchors the start); a plain name would also select `NAME-2`.
pub fn container_selector(name: &str) -> String {
    format!("{}$", regex::escape(name))
}

/// The policy document for `t` on `target` with these sections and action.
pub fn policy_document(
    t: &Template,
    scope: Scope,
    selector_name: &str,
    sections: &Value,
    action: Action,
) -> (String, Value) {
    let (kind, name) = match scope {
        Scope::Host => ("KubeArmorHostPolicy", format!("harden-{}", t.id)),
        Scope::Container => (
            "KubeArmorPolicy",
            format!("harden-{}-{}", t.id, dns_label(selector_name)),
        ),
    };
    let name: String = name
        .chars()
        .take(253)
        .collect::<String>()
        .trim_end_matches('-')
        .to_string();
    let mut metadata = json!({
        "name": name,
        "annotations": {
            "app.accuknox.com/type": "harden",
            "app.accuknox.com/source": "knoxctl",
            "knoxctl.io/harden-template": t.id,
            "knoxctl.io/harden-catalog": CATALOG_VERSION,
        }
    });
    let mut spec = Map::new();
    match scope {
        Scope::Host => {
            spec.insert(
                "nodeSelector".into(),
                json!({"matchLabels": {crate::identity::HOSTNAME_LABEL: selector_name}}),
            );
        }
        Scope::Container => {
            metadata["namespace"] = json!(crate::policy::CONTAINER_NAMESPACE);
            spec.insert(
                "selector".into(),
                json!({"matchLabels": {crate::policy::CONTAINER_NAME_LABEL: container_selector(selector_name)}}),
            );
        }
    }
    spec.insert("severity".into(), json!(t.severity));
    spec.insert("tags".into(), json!(t.tags()));
    spec.insert(
        "message".into(),
        json!(format!("harden {}: {}", t.id, t.title)),
    );
    spec.insert("action".into(), json!(action.as_str()));
    if let Some(s) = sections.as_object() {
        for (k, v) in s {
            spec.insert(k.clone(), v.clone());
        }
    }
    (
        name,
        json!({
            "apiVersion": crate::policy::API_VERSION,
            "kind": kind,
            "metadata": metadata,
            "spec": Value::Object(spec),
        }),
    )
}

/// Sections an action applies to, for the enforcer check: the rules' own sections.
fn unenforceable(sections: &Value, caps: &EnforcerCaps) -> Vec<String> {
    sections
        .as_object()
        .map(|s| {
            s.keys()
                .filter(|k| !caps.sections.contains(*k))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// Evaluates every template on the target.
pub fn recommend(templates: &[&Template], target: &Target, opts: &Options) -> Outcome {
    let mut recommendations = Vec::new();
    let mut skipped = Vec::new();
    for t in templates {
        let skip = |reason: String| Skip {
            template: t.id.clone(),
            title: t.title.clone(),
            reason,
        };
        // Not a skip: a host-only template has nothing to say about a container.
        if !t.scope.contains(&target.scope) {
            continue;
        }
        let mut evidence = Vec::new();
        let mut failed = None;
        for p in &t.preconditions {
            let (ok, why) = target.fs.check(p);
            if ok {
                evidence.push(why);
            } else {
                failed = Some(why);
                break;
            }
        }
        if let Some(why) = failed {
            skipped.push(skip(why));
            continue;
        }
        let (sections, dropped) = materialize(t.rules_for(target.scope), Some(&target.fs));
        if sections.as_object().is_none_or(|s| s.is_empty()) {
            skipped.push(skip(format!(
                "none of its rule paths exists here ({})",
                dropped.join(", ")
            )));
            continue;
        }
        let mut action = opts.action;
        let mut demoted = None;
        if action == Action::Block {
            let bad = opts.caps.as_ref().map(|c| (c, unenforceable(&sections, c)));
            if !t.safe_to_block {
                demoted = Some(
                    "not safe to block: legitimate software does this too; audit it first"
                        .to_string(),
                );
            } else if let Some(why) = (target.scope == Scope::Host)
                .then(|| opts.guard.conflict(&sections))
                .flatten()
            {
                demoted = Some(format!("lockout guard: {why}"));
            } else if let Some((c, bad)) = bad.filter(|(_, b)| !b.is_empty()) {
                demoted = Some(format!(
                    "unenforceable here: the {} enforcer cannot block {} rules",
                    c.backend,
                    bad.join(", ")
                ));
            }
            if demoted.is_some() {
                action = Action::Audit;
            }
        }
        if evidence.is_empty() {
            evidence.push("no preconditions".into());
        }
        let (name, policy) = policy_document(t, target.scope, &target.name, &sections, action);
        recommendations.push(Recommendation {
            template: t.id.clone(),
            title: t.title.clone(),
            category: t.category.clone(),
            severity: t.severity,
            action,
            evidence,
            dropped,
            demoted,
            file: format!("{name}.yaml"),
            policy_name: name,
            policy,
        });
    }
    Outcome {
        target: target.label.clone(),
        scope: target.scope,
        recommendations,
        skipped,
    }
}

/// Whether two rule entries name the same resource (their matcher fields are equal),
/// whatever their action, severity or tags.
fn same_resource(a: &Value, b: &Value) -> bool {
    const INFO: &[&str] = &["action", "severity", "message", "tags"];
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.retain(|k, _| !INFO.contains(&k.as_str()));
        }
        v
    };
    strip(a) == strip(b)
}

/// One policy per target instead of one per template (`--merge`): every rule keeps its
/// template's action, severity, message and tags, so alerts still name the template.
pub fn merge(
    outcome: &Outcome,
    templates: &[&Template],
    selector_name: &str,
) -> Option<(String, Value)> {
    let first = outcome.recommendations.first()?;
    let mut sections: Map<String, Value> = Map::new();
    for r in &outcome.recommendations {
        let Some(t) = templates.iter().find(|t| t.id == r.template) else {
            continue;
        };
        let spec = &r.policy["spec"];
        for section in ["process", "file", "network", "capabilities", "syscalls"] {
            let Some(s) = spec.get(section).and_then(Value::as_object) else {
                continue;
            };
            let target = sections
                .entry(section.to_string())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("sections are objects");
            for (key, list) in s {
                let Some(list) = list.as_array() else {
                    continue;
                };
                let dest = target.entry(key.clone()).or_insert_with(|| json!([]));
                for e in list {
                    let mut e = e.clone();
                    // Syscall rules carry no per-rule action in the CRD.
                    if section != "syscalls" {
                        e["action"] = json!(r.action.as_str());
                        e["severity"] = json!(t.severity);
                        e["message"] = json!(format!("harden {}: {}", t.id, t.title));
                        e["tags"] = json!(t.tags());
                    }
                    let dest_list = dest.as_array_mut().expect("lists are arrays");
                    // The same resource in two templates: one policy cannot hold a rule
                    // twice, so one rule stays. Block wins over Audit (merging must not
                    // weaken what the per-template policies would enforce); between
                    // equals the first in catalog order keeps it, with its tags.
                    match dest_list.iter().position(|d| same_resource(d, &e)) {
                        Some(i) => {
                            if dest_list[i].get("action").and_then(Value::as_str)
                                == Some(Action::Audit.as_str())
                                && r.action == Action::Block
                            {
                                dest_list[i] = e;
                            }
                        }
                        None => dest_list.push(e),
                    }
                }
            }
        }
    }
    let (_, mut policy) = policy_document(
        templates.iter().find(|t| t.id == first.template)?,
        outcome.scope,
        selector_name,
        &Value::Object(sections),
        Action::Audit,
    );
    let name = match outcome.scope {
        Scope::Host => "harden-host".to_string(),
        Scope::Container => format!("harden-{}", dns_label(selector_name)),
    };
    policy["metadata"]["name"] = json!(name);
    policy["metadata"]["annotations"]["knoxctl.io/harden-template"] = json!(
        outcome
            .recommendations
            .iter()
            .map(|r| r.template.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    let spec = policy["spec"].as_object_mut().expect("spec is an object");
    spec.remove("action");
    spec.remove("message");
    spec.remove("severity");
    spec.insert("tags".into(), json!(["harden"]));
    Some((name, policy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harden::Catalog;

    fn target(scope: Scope) -> Target {
        Target {
            scope,
            name: "web-1".into(),
            fs: TargetFs::new("/"),
            label: "test".into(),
        }
    }

    fn guard() -> LockoutGuard {
        LockoutGuard {
            programs: vec!["/usr/bin/bash".into(), "/usr/sbin/sshd".into()],
            read: vec!["/etc/shadow".into(), "/etc/ssh/".into()],
            write: vec!["/var/lib/knoxctl/".into()],
        }
    }

    #[test]
    fn twins_cover_merged_usr_both_ways() {
        assert_eq!(usr_twin("/usr/bin/apt").as_deref(), Some("/bin/apt"));
        assert_eq!(usr_twin("/sbin/apk").as_deref(), Some("/usr/sbin/apk"));
        assert_eq!(
            usr_twin("/usr/lib/modules/").as_deref(),
            Some("/lib/modules/")
        );
        assert_eq!(usr_twin("/etc/shadow"), None);
    }

    #[test]
    fn the_lockout_guard_refuses_what_would_lock_the_operator_out() {
        let g = guard();
        let shell = json!({"process": {"matchPaths": [{"path": "/usr/bin/bash"}]}});
        assert!(g.conflict(&shell).unwrap().contains("/usr/bin/bash"));
        let by_name = json!({"process": {"matchPaths": [{"execname": "sshd"}]}});
        assert!(g.conflict(&by_name).is_some());
        let dir = json!({"process": {"matchDirectories": [{"dir": "/usr/sbin/"}]}});
        assert!(g.conflict(&dir).is_some());
        // Writes to sshd's configuration may be blocked; reads may not.
        let ro = json!({"file": {"matchDirectories": [{"dir": "/etc/ssh/", "readOnly": true}]}});
        assert!(g.conflict(&ro).is_none());
        let rw = json!({"file": {"matchPatterns": [{"pattern": "/etc/ssh/*"}]}});
        assert!(g.conflict(&rw).is_some(), "{:?}", g.conflict(&rw));
        let state = json!({"file": {"matchDirectories": [{"dir": "/var/lib/", "recursive": true, "readOnly": true}]}});
        assert!(g.conflict(&state).unwrap().contains("knoxctl"));
        let apt = json!({"process": {"matchPaths": [{"path": "/usr/bin/apt"}]}});
        assert!(g.conflict(&apt).is_none());
    }

    #[test]
    fn block_is_demoted_with_a_reason() {
        let c = Catalog::builtin().unwrap();
        let shm = c.get("exec-dev-shm").unwrap();
        let raw = c.get("raw-socket-container").unwrap();
        let tmp = c.get("exec-tmp").unwrap();
        let fanotify = EnforcerCaps {
            backend: "fanotify".into(),
            sections: ["process".to_string(), "file".to_string()].into(),
        };
        let opts = Options {
            action: Action::Block,
            caps: Some(fanotify),
            guard: guard(),
        };
        let out = recommend(&[shm, tmp], &target(Scope::Host), &opts);
        assert_eq!(out.recommendations[0].action, Action::Block);
        assert_eq!(out.recommendations[1].action, Action::Audit);
        let out = recommend(&[raw], &target(Scope::Container), &opts);
        let r = &out.recommendations[0];
        assert_eq!(r.action, Action::Audit);
        assert_eq!(
            r.demoted.as_deref(),
            Some("unenforceable here: the fanotify enforcer cannot block network rules")
        );
        assert_eq!(r.policy["spec"]["action"], "Audit");
        let mut bash_guard = guard();
        bash_guard.programs.push("/dev/shm/x".into());
        let opts = Options {
            action: Action::Block,
            caps: None,
            guard: bash_guard,
        };
        let out = recommend(&[shm], &target(Scope::Host), &opts);
        assert!(
            out.recommendations[0]
                .demoted
                .as_deref()
                .unwrap()
                .starts_with("lockout guard")
        );
    }

    #[test]
    fn merged_policies_are_valid_and_keep_each_templates_action() {
        let c = Catalog::builtin().unwrap();
        let templates: Vec<&Template> = c.templates.iter().collect();
        for scope in [Scope::Host, Scope::Container] {
            let opts = Options {
                action: Action::Block,
                caps: None,
                guard: guard(),
            };
            let out = recommend(&templates, &target(scope), &opts);
            let (name, doc) = merge(&out, &templates, "web-1").unwrap();
            let text = crate::yaml::to_yaml(&doc);
            let strict = crate::policy::validate::Options {
                strict: true,
                ..Default::default()
            };
            let r = crate::policy::validate::validate_bytes(&name, text.as_bytes(), strict);
            assert!(
                r.valid,
                "{}",
                r.diagnostics()
                    .map(|d| d.render(&name))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            // Same input, same bytes.
            let again = recommend(&templates, &target(scope), &opts);
            assert_eq!(
                text,
                crate::yaml::to_yaml(&merge(&again, &templates, "web-1").unwrap().1)
            );
        }
    }

    /// Two templates naming one resource, one Audit and one Block, in either order: the
    /// merged policy keeps one rule for it, the Block one with its template's message.
    #[test]
    fn merge_keeps_block_when_templates_collide() {
        let c = Catalog::builtin().unwrap();
        let audit = c.get("pkg-mngr-exec").unwrap().clone();
        let mut block = audit.clone();
        block.id = "pkg-mngr-exec-twin".into();
        let opts = Options {
            action: Action::Block,
            caps: None,
            guard: guard(),
        };
        // A root with apt, so the test does not depend on this machine's packages.
        let root = std::env::temp_dir().join(format!("knoxctl-merge-{}", std::process::id()));
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/apt"), "").unwrap();
        let host = Target {
            fs: TargetFs::new(&root),
            ..target(Scope::Host)
        };
        for block_first in [false, true] {
            let templates: Vec<&Template> = if block_first {
                vec![&block, &audit]
            } else {
                vec![&audit, &block]
            };
            let mut out = recommend(&templates, &host, &opts);
            for r in &mut out.recommendations {
                if r.template == audit.id {
                    r.action = Action::Audit;
                }
            }
            let (_, doc) = merge(&out, &templates, "web-1").unwrap();
            let rules = doc["spec"]["process"]["matchPaths"].as_array().unwrap();
            let apt: Vec<&Value> = rules
                .iter()
                .filter(|r| r["path"] == "/usr/bin/apt")
                .collect();
            assert_eq!(apt.len(), 1, "{rules:?}");
            assert_eq!(apt[0]["action"], "Block", "block first: {block_first}");
            assert!(
                apt[0]["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("harden pkg-mngr-exec-twin:"),
                "{:?}",
                apt[0]
            );
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    /// busybox's applets are one binary: a rule on `crontab` there is dropped (the kernel
    /// sees busybox, so it would hit every applet), and a file that does not exist yet is
    /// kept for file rules (created later, it is still guarded).
    #[test]
    fn multi_call_names_are_dropped_and_missing_files_kept() {
        let root = std::env::temp_dir().join(format!("knoxctl-busybox-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::fs::write(root.join("usr/bin/busybox"), "").unwrap();
        std::os::unix::fs::symlink("busybox", root.join("usr/bin/crontab")).unwrap();
        std::fs::write(root.join("usr/bin/ss"), "").unwrap();
        let fs = TargetFs::new(&root);
        let rules = json!({
            "process": {"matchPaths": [{"path": "/usr/bin/crontab"}, {"path": "/usr/bin/ss"}]},
            "file": {"matchPaths": [{"path": "/root/.ssh/authorized_keys", "readOnly": true}]}
        });
        let (sections, dropped) = materialize(&rules, Some(&fs));
        assert_eq!(
            sections["process"]["matchPaths"],
            json!([{"path": "/usr/bin/ss"}])
        );
        assert_eq!(
            dropped,
            ["/usr/bin/crontab (-> /usr/bin/busybox, which runs for all its names)"]
        );
        assert_eq!(
            sections["file"]["matchPaths"],
            json!([{"path": "/root/.ssh/authorized_keys", "readOnly": true}])
        );
        // busybox named as itself is still busybox.
        let own = json!({"process": {"matchPaths": [{"path": "/usr/bin/busybox"}]}});
        assert_eq!(
            materialize(&own, Some(&fs)).0["process"]["matchPaths"],
            json!([{"path": "/usr/bin/busybox"}])
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn container_names_become_exact_selectors_and_dns_names() {
        assert_eq!(container_selector("web.1"), "web\\.1$");
        assert_eq!(dns_label("My_App..1"), "my-app-1");
    }
}
