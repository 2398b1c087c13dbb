//! Matching syscall events against a rule set's `syscalls` rules (KubeArmor's
//! `matchSyscalls` and `matchPaths` of the syscalls section). They only ever audit; which
//! syscalls to trace at all comes from here too ([`SyscallRules::names`]).
//!
//! Semantics:
//! - the syscall is named exactly: a rule on `unlink` does not see `unlinkat` (what `rm`
//!   calls), as in KubeArmor, which compares the syscall the kernel saw;
//! - `matchPaths`: a `path` without a trailing slash is one file (exact match); with one,
//!   a directory: the directory itself and its direct children, or everything below it
//!   with `recursive` (as file `matchDirectories`). Every path of the syscall is tried:
//!   rename and link match on the old or the new name. A rule with no syscall names
//!   matches nothing (KubeArmor skips it);
//! - `fromSource` is the calling process's executable: a `path` exactly, a `dir` its
//!   direct children, or everything below with `recursive`.
//!
//! Where KubeArmor differs: its container matcher reads a non-recursive directory as the
//! directory itself only, and its host matcher drops `matchPaths[].path` altogether
//! (every call of the syscall matches); see tests/vm/scenarios/21-*.sh.

use super::matcher::{SourceMatch, Subject, in_dir};
use super::normalize::{Category, Matcher, RuleSet};
use std::collections::{BTreeSet, HashMap};

/// `path` without empty, `.` and `..` components (an absolute path stays absolute).
/// Lexical: a `..` after a symlink goes up from the symlink, where the kernel would go up
/// from its target.
pub fn normalize_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = String::with_capacity(path.len());
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

#[derive(Clone, Debug, PartialEq)]
enum PathMatch {
    File(String),
    /// Without its trailing slash (`""` for `/`).
    Dir {
        dir: String,
        recursive: bool,
    },
}

impl PathMatch {
    fn parse(path: &str, recursive: bool) -> PathMatch {
        let dir = path.ends_with('/');
        let path = normalize_path(path);
        if dir {
            PathMatch::Dir {
                dir: path.trim_end_matches('/').to_string(),
                recursive,
            }
        } else {
            PathMatch::File(path)
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathMatch::File(f) => f == path,
            PathMatch::Dir { dir, recursive } => {
                path.trim_end_matches('/') == dir || in_dir(path, dir, *recursive)
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Entry {
    rule: usize,
    path: Option<PathMatch>,
    sources: Vec<SourceMatch>,
}

/// A rule that matched a syscall event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallMatch {
    pub rule: usize,
    /// Which of the event's paths a `matchPaths` rule matched; `None` for `matchSyscalls`.
    pub path: Option<usize>,
}

/// The syscall rules of a rule set, indexed by syscall name.
#[derive(Clone, Debug, Default)]
pub struct SyscallRules {
    by_name: HashMap<String, Vec<Entry>>,
}

impl SyscallRules {
    pub fn new(set: &RuleSet) -> SyscallRules {
        let mut by_name: HashMap<String, Vec<Entry>> = HashMap::new();
        for (i, r) in set.rules.iter().enumerate() {
            let (
                Category::Syscall,
                Matcher::Syscall {
                    syscalls,
                    path,
                    recursive,
                },
            ) = (r.category, &r.matcher)
            else {
                continue;
            };
            let entry = Entry {
                rule: i,
                path: path.as_deref().map(|p| PathMatch::parse(p, *recursive)),
                sources: r
                    .from_source
                    .iter()
                    .map(|s| SourceMatch::parse(s))
                    .collect(),
            };
            for name in syscalls {
                let entries = by_name.entry(name.clone()).or_default();
                if entries.last().is_none_or(|e| e.rule != i) {
                    entries.push(entry.clone());
                }
            }
        }
        SyscallRules { by_name }
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The syscalls some rule names.
    pub fn names(&self) -> BTreeSet<&str> {
        self.by_name.keys().map(String::as_str).collect()
    }

    /// The rules that name syscall `name`.
    pub fn rules_naming(&self, name: &str) -> Vec<usize> {
        self.by_name
            .get(name)
            .map(|v| v.iter().map(|e| e.rule).collect())
            .unwrap_or_default()
    }

    /// The first rule (in rule order) that matches a call of syscall `name` whose objects
    /// are `paths` (absolute; `None` for an absent or unresolved one, which no path rule
    /// matches). The source executable is asked for only when a candidate rule needs it.
    pub fn first_match(
        &self,
        name: &str,
        paths: &[Option<&str>],
        subject: &mut dyn Subject,
    ) -> Option<SyscallMatch> {
        for e in self.by_name.get(name)? {
            let path = match &e.path {
                None => None,
                Some(m) => match paths.iter().position(|p| p.is_some_and(|p| m.matches(p))) {
                    Some(i) => Some(i),
                    None => continue,
                },
            };
            if !e.sources.is_empty() {
                let source = subject.source();
                if !e.sources.iter().any(|s| s.matches(source)) {
                    continue;
                }
            }
            return Some(SyscallMatch { rule: e.rule, path });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::matcher::Known;
    use crate::policy::validate::{Options, validate_bytes};

    fn rules(syscalls_yaml: &str) -> SyscallRules {
        let doc = format!(
            "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {{name: t}}\nspec:\n  nodeSelector: {{matchLabels: {{a: b}}}}\n  syscalls:\n{syscalls_yaml}"
        );
        let report = validate_bytes("t.yaml", doc.as_bytes(), Options::default());
        let errors: Vec<String> = report.diagnostics().map(|d| d.render("t.yaml")).collect();
        let policies: Vec<_> = report.policies().cloned().collect();
        assert_eq!(policies.len(), 1, "{errors:?}");
        SyscallRules::new(&RuleSet::from_policies(&policies))
    }

    fn first(
        r: &SyscallRules,
        name: &str,
        paths: &[Option<&str>],
        exe: &str,
    ) -> Option<SyscallMatch> {
        r.first_match(
            name,
            paths,
            &mut Known {
                source: exe,
                uid: 0,
            },
        )
    }

    fn hit(rule: usize, path: Option<usize>) -> Option<SyscallMatch> {
        Some(SyscallMatch { rule, path })
    }

    #[test]
    fn match_syscalls_names_the_syscall_exactly() {
        let r = rules("    matchSyscalls:\n    - syscall: [unlink, rmdir]\n");
        assert_eq!(
            first(&r, "unlink", &[Some("/tmp/x")], "/bin/x"),
            hit(0, None)
        );
        assert_eq!(first(&r, "rmdir", &[], "/bin/x"), hit(0, None));
        // `rm` calls unlinkat: another syscall.
        assert_eq!(first(&r, "unlinkat", &[Some("/tmp/x")], "/bin/x"), None);
        assert_eq!(
            r.names().into_iter().collect::<Vec<_>>(),
            ["rmdir", "unlink"]
        );
    }

    #[test]
    fn match_paths_files_and_directories() {
        let r = rules(
            "    matchPaths:\n    - path: /etc/passwd\n      syscall: [unlink]\n    - path: /home/\n      recursive: true\n      syscall: [unlink, renameat2]\n    - path: /srv/\n      syscall: [unlink]\n",
        );
        let unlink = |p: &str| first(&r, "unlink", &[Some(p)], "/bin/x");
        assert_eq!(unlink("/etc/passwd"), hit(0, Some(0)));
        assert_eq!(unlink("/etc/passwd2"), None);
        assert_eq!(unlink("/etc/passwd/x"), None);
        // Recursive: the directory and anything below.
        assert_eq!(unlink("/home"), hit(1, Some(0)));
        assert_eq!(unlink("/home/a"), hit(1, Some(0)));
        assert_eq!(unlink("/home/a/b/c"), hit(1, Some(0)));
        assert_eq!(unlink("/homework"), None);
        assert_eq!(unlink("/tmp/dummy"), None);
        // Not recursive: the directory and its direct children.
        assert_eq!(unlink("/srv"), hit(2, Some(0)));
        assert_eq!(unlink("/srv/a"), hit(2, Some(0)));
        assert_eq!(unlink("/srv/a/b"), None);
        // Either name of a rename; an unresolved path matches no path rule.
        let rename = |a, b| first(&r, "renameat2", &[a, b], "/bin/x");
        assert_eq!(rename(Some("/tmp/a"), Some("/home/u/a")), hit(1, Some(1)));
        assert_eq!(rename(Some("/home/u/a"), Some("/tmp/a")), hit(1, Some(0)));
        assert_eq!(rename(None, Some("/tmp/a")), None);
        assert_eq!(first(&r, "unlink", &[None], "/bin/x"), None);
    }

    #[test]
    fn root_and_odd_spellings() {
        let r = rules(
            "    matchPaths:\n    - path: /\n      syscall: [mkdir]\n    - path: //opt//app/\n      recursive: true\n      syscall: [unlink]\n",
        );
        assert_eq!(first(&r, "mkdir", &[Some("/x")], "/bin/x"), hit(0, Some(0)));
        assert_eq!(first(&r, "mkdir", &[Some("/")], "/bin/x"), hit(0, Some(0)));
        assert_eq!(first(&r, "mkdir", &[Some("/x/y")], "/bin/x"), None);
        assert_eq!(
            first(&r, "unlink", &[Some("/opt/app/f")], "/bin/x"),
            hit(1, Some(0))
        );
    }

    #[test]
    fn from_source_is_the_callers_executable() {
        let r = rules(
            "    matchSyscalls:\n    - syscall: [unlink]\n      fromSource:\n      - path: /usr/bin/unlink\n    - syscall: [rmdir]\n      fromSource:\n      - dir: /usr/bin\n    - syscall: [mkdir]\n      fromSource:\n      - dir: /usr/\n        recursive: true\n",
        );
        assert_eq!(first(&r, "unlink", &[], "/usr/bin/unlink"), hit(0, None));
        assert_eq!(first(&r, "unlink", &[], "/usr/bin/rm"), None);
        // A dir without its slash is a directory all the same (KubeArmor appends it).
        assert_eq!(first(&r, "rmdir", &[], "/usr/bin/rmdir"), hit(1, None));
        assert_eq!(first(&r, "rmdir", &[], "/usr/bin/x/rmdir"), None);
        assert_eq!(first(&r, "rmdir", &[], "/usr/binx"), None);
        assert_eq!(
            first(&r, "mkdir", &[], "/usr/local/bin/mkdir"),
            hit(2, None)
        );
        assert_eq!(first(&r, "mkdir", &[], "/bin/mkdir"), None);
    }

    #[test]
    fn the_first_rule_in_order_wins_and_sources_are_read_lazily() {
        struct Counting(u32);
        impl Subject for Counting {
            fn source(&mut self) -> &str {
                self.0 += 1;
                "/usr/bin/unlink"
            }
            fn uid(&mut self) -> u32 {
                0
            }
        }
        let r = rules(
            "    matchPaths:\n    - path: /tmp/\n      syscall: [unlink]\n    matchSyscalls:\n    - syscall: [unlink]\n      fromSource: [{path: /usr/bin/unlink}]\n",
        );
        let mut s = Counting(0);
        // matchSyscalls rules come first in a rule set (normalize.rs order).
        assert_eq!(
            r.first_match("unlink", &[Some("/tmp/a")], &mut s),
            hit(0, None)
        );
        assert_eq!(s.0, 1);
        let mut s = Counting(0);
        assert_eq!(r.first_match("unlinkat", &[Some("/tmp/a")], &mut s), None);
        assert_eq!(s.0, 0, "no candidate rule, no /proc read");
        assert_eq!(r.rules_naming("unlink"), [0, 1]);
    }

    #[test]
    fn rules_without_syscall_names_match_nothing() {
        let r = rules("    matchPaths:\n    - path: /tmp/\n");
        assert!(r.is_empty());
        assert_eq!(first(&r, "unlink", &[Some("/tmp/a")], "/bin/x"), None);
    }

    #[test]
    fn paths_normalize_lexically() {
        assert_eq!(normalize_path("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(normalize_path("/.."), "/");
        assert_eq!(normalize_path("//"), "/");
        assert_eq!(normalize_path("/tmp/x"), "/tmp/x");
    }
}
