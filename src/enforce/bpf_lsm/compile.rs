//! Rule set → the BPF-LSM program's map entries. Pure (the file system is consulted only
//! through the `Resolve` callback), so every translation is unit-tested on any kernel.
//!
//! The kernel side does one longest-prefix lookup per path (see lsm.bpf.c), so each
//! stored entry must already hold every rule that applies to what it covers:
//! - an exact entry `P\0` holds the rules matching the path P itself (its Path rules,
//!   the Directory rules P is in, a Directory rule naming P itself), flagged ALWAYS;
//! - a directory entry `D/` holds, for paths below D whose longest stored prefix is D/,
//!   D's own Directory rules (children; deeper too when recursive) and the recursive
//!   Directory rules of D's ancestors.
//!
//! Semantics are those of src/policy/matcher.rs (the reference, used by the other
//! backends; tests below compare the two on the same rule sets), allow-list mode per
//! category included, and so is its base exemption: in file allow-list mode what AppArmor's
//! `abstractions/base` grants every program ([`crate::policy::base_abstraction`]) is
//! stored as Allow slots of rule [`BASE_RULE`] on that list's paths (read grants
//! readOnly), so an open no rule allows passes there instead of getting the default
//! posture, while a Block rule, or a write where base grants reading only, does not.

use super::glob::{self, Dfa};
use crate::enforce::Postures;
use crate::policy::Action;
use crate::policy::matcher::{Glob, Posture, resolved_pattern};
use crate::policy::normalize::{Category, Matcher, Rule, RuleSet};
use std::collections::{BTreeMap, BTreeSet};

pub const KEY_PATH: usize = 252;
pub const NAME_KEY: usize = 64;
pub const MAX_SLOTS: usize = 8;

pub const KIND_PROCESS: u32 = 0;
pub const KIND_FILE: u32 = 1;
pub const KIND_NET: u32 = 2;
pub const KIND_CAP: u32 = 3;

pub const SL_DENY: u16 = 0x1;
pub const SL_ALLOW: u16 = 0x2;
pub const SL_AUDIT: u16 = 0x4;
pub const SL_READ_ONLY: u16 = 0x8;
pub const SL_OWNER_ONLY: u16 = 0x10;
pub const SL_ALWAYS: u16 = 0x20;
pub const SL_CHILD: u16 = 0x40;
pub const SL_DEEPER: u16 = 0x80;

pub const T_PROCESS: u32 = 0x1;
pub const T_FILE: u32 = 0x2;
pub const T_NET: u32 = 0x4;
pub const T_CAP: u32 = 0x8;
pub const T_NAMES: u32 = 0x10;
pub const T_INODES: u32 = 0x20;
pub const T_APPLETS: u32 = 0x40;
pub const T_ALLOW_PROC: u32 = 0x100;
pub const T_ALLOW_FILE: u32 = 0x800;
pub const T_ALLOW_NET: u32 = 0x200;
pub const T_ALLOW_CAP: u32 = 0x400;
pub const T_BLOCK_PROC_FILE: u32 = 0x1000;
pub const T_BLOCK_NET: u32 = 0x2000;
pub const T_BLOCK_CAP: u32 = 0x4000;
pub const T_GLOB_PROC: u32 = 0x8000;
pub const T_GLOB_FILE: u32 = 0x10000;
/// Host entry only: some container has a target (lsm.bpf.c looks up knox_cgroup_targets).
pub const T_CONTAINERS: u32 = 0x20000;
/// Flags that enable a kind of lookup; while an apply swaps entries, the target enables
/// the old and the new ones.
pub const T_ANCESTORS: u32 = 0x40000;
pub const T_DIR_IDS: u32 = 0x80000;
pub const T_ENABLE: u32 = 0xff | T_GLOB_PROC | T_GLOB_FILE | T_ANCESTORS | T_DIR_IDS;

/// Rule indices fit in the low bits of a slot's rule: the maps' writer puts the low bits
/// of the apply's generation above them (see `bpf_lsm::tagged`).
pub const MAX_RULES: usize = 1 << 24;

/// The rule index of the base exemption's slots: no rule has it (rule indexes stop below
/// it), and an Allow slot is never reported, so it names nothing to the user.
pub const BASE_RULE: u32 = (MAX_RULES - 1) as u32;

/// DFA rows in one half of the kernel's table (lsm.bpf.c's GLOB_ROWS / 2): an apply
/// writes the half no live scope points at, then switches the scopes over.
pub const GLOB_HALF: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Slot {
    pub rule: u32,
    pub flags: u16,
    pub src_set: u16,
}

/// The rules of one map entry; `len` is the entry's path length (directory entries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub len: u32,
    pub slots: Vec<Slot>,
}

/// What the file system says about a rule's path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PathFacts {
    /// The path with symlinks resolved, when it exists and differs.
    pub canonical: Option<String>,
    /// (device as the kernel encodes it, inode, generation if the file system reports one).
    pub inode: Option<(u32, u64, Option<u32>)>,
    /// The same for a directory (`inode` is for files only: inode rules are exact-file rules).
    pub dir: Option<(u32, u64, Option<u32>)>,
}

pub type Resolve<'a> = &'a dyn Fn(&str) -> PathFacts;

#[derive(Clone, Debug, Default)]
pub struct Compiled {
    /// (scope, key bytes: `path\0` or `dir/`) → rules, for the `knox_paths` LPM trie.
    pub paths: BTreeMap<(u32, Vec<u8>), Rules>,
    /// (set id, key bytes) → membership flags in slot 0, for `knox_sources`.
    pub sources: BTreeMap<(u32, Vec<u8>), Rules>,
    /// (scope, dev, ino) → (generation to check, rules).
    pub inodes: BTreeMap<(u32, u32, u64), (Option<u32>, Rules)>,
    /// Directories that must not be renamed or mounted on, or bind-mounted elsewhere,
    /// because that would give a protected path another name or hide it: each protected
    /// directory and each ancestor of a protected path, by (scope, device, inode).
    pub ancestors: BTreeMap<(u32, u32, u64), (Option<u32>, Rules)>,
    /// Directories that directory rules name, by (target scope with kind 0, device,
    /// inode): the kernel's walk checks every directory it passes against them, so a path
    /// reached through a bind mount (of the directory or an ancestor) is also decided on
    /// its protected name.
    pub dir_ids: BTreeMap<(u32, u32, u64), DirId>,
    /// (scope, basename) → rules.
    pub names: BTreeMap<(u32, String), Rules>,
    /// (scope, dev, ino of a multi-call binary, applet name) → rules.
    pub applets: BTreeMap<(u32, u32, u64, String), Rules>,
    /// (scope, protocol code or capability number) → rules.
    pub nums: BTreeMap<(u32, u32), Rules>,
    /// scope → its matchPatterns as one automaton.
    pub globs: BTreeMap<u32, GlobTable>,
    pub target_flags: u32,
    /// Rule indexes the kernel enforces.
    pub enforced: Vec<usize>,
    pub unenforceable: Vec<(usize, String)>,
    pub notes: Vec<String>,
}

/// A directory rule's directory, known by identity (a `knox_dir_ids` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirId {
    /// The inode generation to check, if the file system reports one.
    pub generation: Option<u32>,
    /// `1 << KIND_*` of the rules naming it.
    pub kinds: u32,
    /// Its path with symlinks resolved, without a trailing '/': the protected name's start.
    pub path: String,
    /// The rule an alert names when something is mounted on or inside it: its lowest Block
    /// rule, else its lowest Audit rule (Allow and ownerOnly rules protect nothing there).
    pub mount_rule: Option<Slot>,
}

/// The patterns of one scope: the automaton and the rules of each accepting state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobTable {
    pub dfa: Dfa,
    pub accept: BTreeMap<u16, Rules>,
}

/// Protocol name → `nets` code (P_* in lsm.bpf.c).
pub fn proto_code(p: &str) -> Option<u32> {
    Some(match p {
        "tcp" => 1,
        "udp" => 2,
        "icmp" => 3,
        "icmpv6" => 4,
        "raw" => 5,
        "sctp" => 6,
        "stream" => 7,
        "dgram" => 8,
        "rdm" => 9,
        "seqpacket" => 10,
        "dccp" => 11,
        "packet" => 12,
        "all" => 13,
        _ => return None,
    })
}

pub fn proto_name(code: u32) -> &'static str {
    [
        "",
        "tcp",
        "udp",
        "icmp",
        "icmpv6",
        "raw",
        "sctp",
        "stream",
        "dgram",
        "rdm",
        "seqpacket",
        "dccp",
        "packet",
        "all",
    ]
    .get(code as usize)
    .copied()
    .unwrap_or("")
}

/// Capability name (lowercase, no `cap_`) → its number: the schema lists them in the
/// kernel's order.
pub fn cap_number(c: &str) -> Option<u32> {
    crate::policy::schema::CAPABILITIES
        .iter()
        .position(|&n| n == c)
        .map(|i| i as u32)
}

pub fn cap_name(n: u32) -> String {
    crate::policy::schema::CAPABILITIES
        .get(n as usize)
        .map(|c| format!("CAP_{}", c.to_uppercase()))
        .unwrap_or_else(|| format!("CAP_{n}"))
}

pub fn scope(target: u32, kind: u32) -> u32 {
    (target << 2) | kind
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// A rule's matcher reduced to what the path tables understand.
#[derive(Clone, Debug)]
enum Anchor {
    Exact(String),
    /// Without trailing slash; `""` is the root.
    Dir {
        dir: String,
        recursive: bool,
    },
}

impl Anchor {
    /// Whether it matches the path `p` (the matcher's semantics: a directory matches
    /// itself, its direct children, and with `recursive` anything below).
    fn matches(&self, p: &str) -> bool {
        match self {
            Anchor::Exact(x) => x == p,
            Anchor::Dir { dir, recursive } => {
                if p == dir || (dir.is_empty() && p == "/") {
                    return true;
                }
                let Some(rest) = p
                    .strip_prefix(dir.as_str())
                    .and_then(|r| r.strip_prefix('/'))
                else {
                    return false;
                };
                !rest.is_empty() && (*recursive || !rest.contains('/'))
            }
        }
    }
}

/// Builds LPM entries for a list of anchors with a payload slot each; `flags` of the
/// payload are replaced by the ALWAYS/CHILD/DEEPER applicability.
fn lpm_entries(anchors: &[(Anchor, Slot)], scope: u32, out: &mut BTreeMap<(u32, Vec<u8>), Rules>) {
    let mut exact: BTreeSet<String> = BTreeSet::new();
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for (a, _) in anchors {
        match a {
            Anchor::Exact(p) => {
                exact.insert(p.clone());
            }
            Anchor::Dir { dir, .. } => {
                dirs.insert(dir.clone());
                exact.insert(if dir.is_empty() {
                    "/".into()
                } else {
                    dir.clone()
                });
            }
        }
    }
    for p in &exact {
        let slots = anchors
            .iter()
            .filter(|(a, _)| a.matches(p))
            .map(|(_, s)| Slot {
                flags: s.flags | SL_ALWAYS,
                ..*s
            })
            .collect();
        let mut key = p.as_bytes().to_vec();
        key.push(0);
        out.insert(
            (scope, key),
            Rules {
                len: p.len() as u32,
                slots,
            },
        );
    }
    for d in &dirs {
        let mut slots = Vec::new();
        for (a, s) in anchors {
            let Anchor::Dir { dir, recursive } = a else {
                continue;
            };
            let below = d == dir
                || dir.is_empty()
                || d.strip_prefix(dir.as_str())
                    .is_some_and(|r| r.starts_with('/'));
            if !below {
                continue;
            }
            let applies = if d == dir {
                SL_CHILD | if *recursive { SL_DEEPER } else { 0 }
            } else if *recursive {
                SL_CHILD | SL_DEEPER
            } else {
                continue;
            };
            slots.push(Slot {
                flags: s.flags | applies,
                ..*s
            });
        }
        let key = format!("{d}/").into_bytes();
        out.insert(
            (scope, key.clone()),
            Rules {
                len: key.len() as u32,
                slots,
            },
        );
    }
}

fn action_flags(rule: &Rule) -> u16 {
    let mut f = match rule.action {
        Action::Block => SL_DENY,
        Action::Allow => SL_ALLOW,
        Action::Audit => SL_AUDIT,
    };
    if rule.read_only {
        f |= SL_READ_ONLY;
    }
    if rule.owner_only {
        f |= SL_OWNER_ONLY;
    }
    f
}

/// Fewer slots, same decision: unconditional rules of the same action on one entry
/// decide the same way, so only the lowest rule index (the one reported) is kept.
fn squeeze(rules: &mut Rules) {
    rules.slots.sort();
    let mut seen: BTreeSet<(u16, u16)> = BTreeSet::new();
    rules.slots.retain(|s| {
        let conditional = s.flags & (SL_READ_ONLY | SL_OWNER_ONLY) != 0;
        conditional || seen.insert((s.flags, s.src_set))
    });
}

/// Compiles the host's rule set (target 0) under the default posture of each allow-list
/// category (process rules share the file posture).
pub fn compile(set: &RuleSet, postures: &Postures, resolve: Resolve) -> Compiled {
    let mut k = Compiler::new(0, resolve);
    for (idx, rule) in set.rules.iter().enumerate() {
        k.rule(idx, rule);
    }
    k.patterns();
    k.base(set);
    k.path_tables();
    k.ancestors();
    k.dir_ids();
    k.source_sets();
    k.allow_list(set, postures);
    k.fit_slots();
    k.finish()
}

/// Container targets are 1..=MAX_CONTAINER_TARGET: their fromSource set ids are
/// `CONTAINER_SETS | target << 7 | n` (n < 128), above every host set id, so each
/// target's `knox_sources` entries are its own.
pub const MAX_CONTAINER_TARGET: u32 = 255;
pub const CONTAINER_SETS: u32 = 0x8000;
const SETS_PER_CONTAINER: usize = 127;

/// The target whose `knox_sources` entries a set id names (0: the host).
pub fn source_owner(set: u32) -> u32 {
    if set >= CONTAINER_SETS {
        (set - CONTAINER_SETS) >> 7
    } else {
        0
    }
}

/// Compiles a container's rule set as target `target` (1..=MAX_CONTAINER_TARGET).
/// `resolve` answers for paths as the container sees them (inside its root).
/// matchPatterns are left out: the automaton table is split in halves that the host's
/// applies alternate between, which leaves no room for other targets' tables yet.
pub fn compile_container(
    set: &RuleSet,
    postures: &Postures,
    target: u32,
    resolve: Resolve,
) -> Compiled {
    debug_assert!((1..=MAX_CONTAINER_TARGET).contains(&target));
    let mut k = Compiler::new(target, resolve);
    for (idx, rule) in set.rules.iter().enumerate() {
        k.rule(idx, rule);
    }
    k.base(set);
    k.path_tables();
    k.ancestors();
    k.dir_ids();
    k.source_sets();
    k.allow_list(set, postures);
    k.fit_slots();
    k.finish()
}

/// Where the rule pass put a rule.
enum Placed {
    /// In its category's tables: enforced, with the category's lookups enabled.
    Category,
    /// Matched as a busybox applet (its own target flags): enforced.
    Applet,
    /// Left to others (syscall rules are the monitor's), neither enforced nor reported.
    Elsewhere,
}

/// One compilation. The rule pass collects anchors, inodes, patterns and source sets;
/// the later phases turn them into the tables, whose entries must each hold every rule
/// that applies to what they cover (see the module documentation).
struct Compiler<'a> {
    target: u32,
    resolve: Resolve<'a>,
    c: Compiled,
    /// fromSource lists → their set id (1-based; 0 is "any source").
    source_sets: BTreeMap<Vec<String>, u16>,
    proc_anchors: Vec<(Anchor, Slot)>,
    file_anchors: Vec<(Anchor, Slot)>,
    inode_rules: BTreeMap<(u32, u32, u64), (Option<u32>, Rules)>,
    proc_globs: Vec<(usize, Glob, Slot)>,
    file_globs: Vec<(usize, Glob, Slot)>,
    /// The base exemption's anchors ([`base_anchors`]): file table entries only, not
    /// protected directories (they protect nothing) nor directory identities.
    base_anchors: Vec<(Anchor, Slot)>,
}

impl<'a> Compiler<'a> {
    fn new(target: u32, resolve: Resolve<'a>) -> Compiler<'a> {
        Compiler {
            target,
            resolve,
            c: Compiled::default(),
            source_sets: BTreeMap::new(),
            proc_anchors: Vec::new(),
            file_anchors: Vec::new(),
            inode_rules: BTreeMap::new(),
            proc_globs: Vec::new(),
            file_globs: Vec::new(),
            base_anchors: Vec::new(),
        }
    }

    /// The rule pass: one rule into the collections, or the reason it cannot be enforced.
    fn rule(&mut self, idx: usize, rule: &Rule) {
        match self.place(idx, rule) {
            Ok(Placed::Category) => {
                match rule.category {
                    Category::Process => self.c.target_flags |= T_PROCESS,
                    Category::File => self.c.target_flags |= T_FILE,
                    _ => {}
                }
                self.c.enforced.push(idx);
            }
            Ok(Placed::Applet) => self.c.enforced.push(idx),
            Ok(Placed::Elsewhere) => {}
            Err(why) => self.c.unenforceable.push((idx, why)),
        }
    }

    fn place(&mut self, idx: usize, rule: &Rule) -> Result<Placed, String> {
        match rule.category {
            // Audit-only in KubeArmor: the eBPF monitor raises them, the agent says whether it can.
            Category::Syscall => return Ok(Placed::Elsewhere),
            Category::Device => return Err("USB device rules are not enforced by bpf-lsm".into()),
            _ => {}
        }
        if idx >= BASE_RULE as usize {
            return Err(format!(
                "bpf-lsm names at most {BASE_RULE} rules in its maps; split the policies"
            ));
        }
        if !rule.allowed_args.is_empty() {
            return Err("allowedArgs: bpf-lsm matches the executable, not its arguments".into());
        }
        if rule.pts.is_some() {
            return Err("pts: bpf-lsm does not evaluate the terminal condition".into());
        }
        if self.target != 0 && matches!(rule.matcher, Matcher::Pattern { .. }) {
            return Err("matchPatterns in containers are not enforced by bpf-lsm yet (its pattern table serves the host only)".into());
        }
        if self.target != 0
            && !rule.from_source.is_empty()
            && !self.source_sets.contains_key(&rule.from_source)
            && self.source_sets.len() >= SETS_PER_CONTAINER
        {
            return Err(format!(
                "bpf-lsm keeps at most {SETS_PER_CONTAINER} distinct fromSource lists per container"
            ));
        }
        let src_set = self.source_set(&rule.from_source);
        let slot = Slot {
            rule: idx as u32,
            flags: action_flags(rule),
            src_set,
        };
        match &rule.matcher {
            Matcher::Path { path } => self.path(rule.category, path, slot),
            Matcher::Directory { dir, recursive } => {
                self.directory(rule.category, dir, *recursive, slot)
            }
            Matcher::Execname { name } => {
                if name.len() > NAME_KEY - 1 {
                    return Err(format!("execname longer than {} bytes", NAME_KEY - 1));
                }
                self.c.target_flags |= T_NAMES;
                let key = (scope(self.target, KIND_PROCESS), name.clone());
                push_always(self.c.names.entry(key).or_default(), slot);
                Ok(Placed::Category)
            }
            Matcher::Pattern { pattern } => self.pattern(idx, rule.category, pattern, slot),
            Matcher::Protocol { protocol } => {
                let code = proto_code(protocol).ok_or("unknown protocol")?;
                self.c.target_flags |= T_NET;
                let key = (scope(self.target, KIND_NET), code);
                push_always(self.c.nums.entry(key).or_default(), slot);
                Ok(Placed::Category)
            }
            Matcher::Capability { capability } => {
                let n = cap_number(capability).ok_or("unknown capability")?;
                self.c.target_flags |= T_CAP;
                let key = (scope(self.target, KIND_CAP), n);
                push_always(self.c.nums.entry(key).or_default(), slot);
                Ok(Placed::Category)
            }
            Matcher::Domain { .. } => {
                Err("DNS rules are not enforced by bpf-lsm (no LSM hook sees DNS names)".into())
            }
            Matcher::Syscall { .. } | Matcher::Device { .. } => Ok(Placed::Elsewhere),
        }
    }

    /// The id of a fromSource list (0: any source); equal lists share one set.
    fn source_set(&mut self, from_source: &[String]) -> u16 {
        if from_source.is_empty() {
            return 0;
        }
        let n = self.source_sets.len() as u32 + 1;
        let next = if self.target == 0 {
            n
        } else {
            CONTAINER_SETS | self.target << 7 | n
        };
        *self
            .source_sets
            .entry(from_source.to_vec())
            .or_insert(next as u16)
    }

    fn anchors(&mut self, category: Category) -> &mut Vec<(Anchor, Slot)> {
        match category {
            Category::Process => &mut self.proc_anchors,
            _ => &mut self.file_anchors,
        }
    }

    fn path(&mut self, category: Category, path: &str, slot: Slot) -> Result<Placed, String> {
        if path.len() > KEY_PATH - 1 {
            return Err(format!("path longer than {} bytes", KEY_PATH - 1));
        }
        self.anchors(category)
            .push((Anchor::Exact(path.to_string()), slot));
        let facts = (self.resolve)(path);
        if let Some(canon) = &facts.canonical {
            // Opening a symlink opens its target, and `/bin/apt` → `/usr/bin/apt`
            // (a directory symlink) names the same program; `/bin/ls` → `/bin/busybox` names one applet of a multi-call
            // binary, which the kernel then sees under the binary's name: matched
            // by the name the caller used instead (T_ALIASES), never by blocking
            // the whole binary.
            if category == Category::File || basename(canon) == basename(path) {
                if canon.len() < KEY_PATH {
                    self.anchors(category)
                        .push((Anchor::Exact(canon.clone()), slot));
                }
            } else {
                // The kernel sees the binary's name: match (its inode, the name
                // the caller used) instead.
                if let Some((dev, ino, _)) = facts.inode {
                    self.c.target_flags |= T_APPLETS | T_PROCESS;
                    let key = (
                        scope(self.target, KIND_PROCESS),
                        dev,
                        ino,
                        basename(path).to_string(),
                    );
                    push_always(self.c.applets.entry(key).or_default(), slot);
                }
                return Ok(Placed::Applet);
            }
        }
        if let Some((dev, ino, generation)) = facts.inode {
            let kind = match category {
                Category::Process => KIND_PROCESS,
                Category::File => KIND_FILE,
                Category::Network => KIND_NET,
                _ => KIND_CAP,
            };
            let e = self
                .inode_rules
                .entry((scope(self.target, kind), dev, ino))
                .or_insert((generation, Rules::default()));
            push_always(&mut e.1, slot);
        }
        Ok(Placed::Category)
    }

    fn directory(
        &mut self,
        category: Category,
        dir: &str,
        recursive: bool,
        slot: Slot,
    ) -> Result<Placed, String> {
        let d = dir.trim_end_matches('/').to_string();
        if d.len() + 1 > KEY_PATH {
            return Err(format!("directory longer than {} bytes", KEY_PATH - 1));
        }
        let canon = (self.resolve)(&d).canonical;
        let anchors = self.anchors(category);
        anchors.push((
            Anchor::Dir {
                dir: d.clone(),
                recursive,
            },
            slot,
        ));
        if let Some(canon) = canon {
            let canon = canon.trim_end_matches('/').to_string();
            if canon != d && canon.len() < KEY_PATH {
                anchors.push((
                    Anchor::Dir {
                        dir: canon,
                        recursive,
                    },
                    slot,
                ));
            }
        }
        Ok(Placed::Category)
    }

    fn pattern(
        &mut self,
        idx: usize,
        category: Category,
        pattern: &str,
        slot: Slot,
    ) -> Result<Placed, String> {
        let resolve = self.resolve;
        let globs = match category {
            Category::Process => &mut self.proc_globs,
            _ => &mut self.file_globs,
        };
        let g = Glob::new(pattern).map_err(|e| format!("pattern: {e}"))?;
        globs.push((idx, g, slot));
        // `/bin/*` also names what is in /usr/bin when /bin is a symlink to it.
        let alias = resolved_pattern(pattern, &|p: &str| resolve(p).canonical);
        if let Some(Ok(g)) = alias.map(|a| Glob::new(&a)) {
            globs.push((idx, g, slot));
        }
        Ok(Placed::Category)
    }

    /// Each scope's patterns into one automaton, within the half table's rows; all or
    /// nothing per scope, since a partial automaton would silently skip some patterns.
    fn patterns(&mut self) {
        let mut budget = GLOB_HALF;
        for (kind, globs, flag) in [
            (KIND_PROCESS, &self.proc_globs, T_GLOB_PROC),
            (KIND_FILE, &self.file_globs, T_GLOB_FILE),
        ] {
            if globs.is_empty() {
                continue;
            }
            let pairs: Vec<(usize, &Glob)> = globs
                .iter()
                .enumerate()
                .map(|(i, (_, g, _))| (i, g))
                .collect();
            match glob::build(&pairs, budget) {
                Ok(dfa) => {
                    budget -= dfa.rows.len();
                    let accept = dfa
                        .accept
                        .iter()
                        .map(|(&state, who)| {
                            let slots = who
                                .iter()
                                .map(|&i| Slot {
                                    flags: globs[i].2.flags | SL_ALWAYS,
                                    ..globs[i].2
                                })
                                .collect();
                            (state, Rules { len: 0, slots })
                        })
                        .collect();
                    self.c
                        .globs
                        .insert(scope(self.target, kind), GlobTable { dfa, accept });
                    self.c.target_flags |= flag;
                }
                Err(e) => {
                    let gone: BTreeSet<usize> = globs.iter().map(|(idx, _, _)| *idx).collect();
                    self.c.enforced.retain(|i| !gone.contains(i));
                    for idx in gone {
                        self.c
                            .unenforceable
                            .push((idx, format!("matchPatterns: {e}")));
                    }
                }
            }
        }
    }

    /// In file allow-list mode, the base exemption (see the module documentation): its
    /// anchors, and a note naming the grants the path tables cannot hold.
    fn base(&mut self, set: &RuleSet) {
        if !set.allow_list.file {
            return;
        }
        let (anchors, left_out) = base_anchors();
        self.base_anchors = anchors;
        self.c.notes.push(format!(
            "file allow-list: what AppArmor's abstractions/base grants every program (loader, libraries, locale, /dev/null) passes, as under KubeArmor's AppArmor profiles; these grants (or some of their alternatives: a wildcard inside the path, or write-only sockets) are not in bpf-lsm's path tables and get the default posture: {}",
            left_out.join(", ")
        ));
    }

    /// The LPM entries of the path and directory anchors, and the inode table.
    fn path_tables(&mut self) {
        let c = &mut self.c;
        lpm_entries(
            &self.proc_anchors,
            scope(self.target, KIND_PROCESS),
            &mut c.paths,
        );
        let mut files = self.file_anchors.clone();
        files.extend(self.base_anchors.iter().cloned());
        lpm_entries(&files, scope(self.target, KIND_FILE), &mut c.paths);
        if !self.inode_rules.is_empty() {
            c.target_flags |= T_INODES;
        }
        c.inodes = std::mem::take(&mut self.inode_rules);
    }

    /// The `knox_ancestors` entries. Only Block and Audit rules count (an Allow rule has
    /// nothing to protect), each as an unconditional deny or audit: renaming, mounting
    /// over or binding a directory is a write to everything below it, whatever the
    /// readOnly flag says. ownerOnly rules are left out: the owner they name is the
    /// protected file's, which a directory operation does not have.
    fn ancestors(&mut self) {
        let mut dirs: BTreeMap<String, Option<(u32, u64, Option<u32>)>> = BTreeMap::new();
        for (kind, anchors) in [
            (KIND_PROCESS, &self.proc_anchors),
            (KIND_FILE, &self.file_anchors),
        ] {
            for (a, s) in anchors {
                let action = s.flags & (SL_DENY | SL_AUDIT);
                if action == 0 || s.flags & SL_OWNER_ONLY != 0 {
                    continue;
                }
                let (own, path) = match a {
                    Anchor::Exact(p) => (false, p.as_str()),
                    Anchor::Dir { dir, .. } => (true, dir.as_str()),
                };
                // The directory itself (a file is already known by its inode), then
                // every ancestor below the root (which cannot be renamed or replaced).
                let mut chain: Vec<&str> = Vec::new();
                if own {
                    chain.push(path);
                }
                let mut p = path;
                while let Some((up, _)) = p.rsplit_once('/') {
                    chain.push(up);
                    p = up;
                }
                for d in chain.into_iter().filter(|d| !d.is_empty()) {
                    let id = *dirs
                        .entry(d.to_string())
                        .or_insert_with(|| (self.resolve)(d).dir);
                    let Some((dev, ino, generation)) = id else {
                        continue;
                    };
                    let e = self
                        .c
                        .ancestors
                        .entry((scope(self.target, kind), dev, ino))
                        .or_insert((generation, Rules::default()));
                    push_always(
                        &mut e.1,
                        Slot {
                            flags: action,
                            ..*s
                        },
                    );
                }
            }
        }
        if !self.c.ancestors.is_empty() {
            self.c.target_flags |= T_ANCESTORS;
        }
    }

    /// The `knox_dir_ids` entries: every directory a directory rule names, by identity.
    fn dir_ids(&mut self) {
        for (kind, anchors) in [
            (KIND_PROCESS, &self.proc_anchors),
            (KIND_FILE, &self.file_anchors),
        ] {
            for (a, s) in anchors {
                let Anchor::Dir { dir, .. } = a else {
                    continue;
                };
                // The root: every path already begins with it.
                if dir.is_empty() {
                    continue;
                }
                let facts = (self.resolve)(dir);
                let Some((dev, ino, generation)) = facts.dir else {
                    continue;
                };
                let path = facts
                    .canonical
                    .map(|c| c.trim_end_matches('/').to_string())
                    .unwrap_or_else(|| dir.clone());
                if path.is_empty() || path.len() + 1 > KEY_PATH {
                    continue;
                }
                let e = self
                    .c
                    .dir_ids
                    .entry((scope(self.target, 0), dev, ino))
                    .or_insert_with(|| DirId {
                        generation,
                        kinds: 0,
                        path,
                        mount_rule: None,
                    });
                e.kinds |= 1 << kind;
                let action = s.flags & (SL_DENY | SL_AUDIT);
                if action == 0 || s.flags & SL_OWNER_ONLY != 0 {
                    continue;
                }
                let candidate = Slot {
                    flags: action,
                    ..*s
                };
                // Block before Audit, then the lowest rule.
                let rank = |s: &Slot| (s.flags & SL_DENY == 0, s.rule);
                if e.mount_rule.is_none_or(|m| rank(&candidate) < rank(&m)) {
                    e.mount_rule = Some(candidate);
                }
            }
        }
        if !self.c.dir_ids.is_empty() {
            self.c.target_flags |= T_DIR_IDS;
        }
    }

    /// The `knox_sources` entries: for each fromSource set, the paths that are members.
    fn source_sets(&mut self) {
        let resolve = self.resolve;
        for (sources, id) in &self.source_sets {
            let mut anchors = Vec::new();
            for s in sources {
                let a = if let Some(d) = s.strip_suffix("**") {
                    Anchor::Dir {
                        dir: d.trim_end_matches('/').into(),
                        recursive: true,
                    }
                } else if s.ends_with('/') {
                    Anchor::Dir {
                        dir: s.trim_end_matches('/').into(),
                        recursive: false,
                    }
                } else {
                    Anchor::Exact(s.clone())
                };
                let canon = match &a {
                    Anchor::Exact(p) => resolve(p).canonical.map(Anchor::Exact),
                    Anchor::Dir { dir, recursive } => resolve(dir).canonical.map(|c| Anchor::Dir {
                        dir: c.trim_end_matches('/').into(),
                        recursive: *recursive,
                    }),
                };
                let member = Slot {
                    rule: 0,
                    flags: 0,
                    src_set: *id,
                };
                anchors.push((a, member));
                anchors.extend(canon.map(|a| (a, member)));
            }
            let mut entries = BTreeMap::new();
            lpm_entries(&anchors, u32::from(*id), &mut entries);
            // Membership is one set of flags: the union of what matched.
            for (k, mut r) in entries {
                let flags = r.slots.iter().fold(0, |f, s| f | s.flags);
                if flags == 0 {
                    continue;
                }
                r.slots = vec![Slot {
                    rule: 0,
                    flags,
                    src_set: *id,
                }];
                self.c.sources.insert(k, r);
            }
        }
    }

    /// Allow-list mode per category, as KubeArmor's BPF-LSM enforcer keys it (101 process,
    /// 102 file, 103 network, 104 capabilities): process Allow rules do not put every file
    /// open on the host under the default posture. Process and file share the posture value.
    /// An Allow rule that lost a conflict to a Block still switches its category, as in
    /// KubeArmor: the rule set's flags say so, not the surviving rules.
    fn allow_list(&mut self, set: &RuleSet, postures: &Postures) {
        let flags = &mut self.c.target_flags;
        let allow = &set.allow_list;
        if allow.process {
            *flags |= T_ALLOW_PROC | T_PROCESS;
        }
        if allow.file {
            *flags |= T_ALLOW_FILE | T_FILE;
        }
        if *flags & (T_ALLOW_PROC | T_ALLOW_FILE) != 0 && postures.file == Posture::Block {
            *flags |= T_BLOCK_PROC_FILE;
        }
        if allow.network {
            *flags |= T_ALLOW_NET | T_NET;
            if postures.network == Posture::Block {
                *flags |= T_BLOCK_NET;
            }
        }
        if allow.capabilities {
            *flags |= T_ALLOW_CAP | T_CAP;
            if postures.capabilities == Posture::Block {
                *flags |= T_BLOCK_CAP;
            }
        }
    }

    /// Entries with more rules than the kernel evaluates: keep the decision, then report.
    fn fit_slots(&mut self) {
        let c = &mut self.c;
        let mut overflow: BTreeSet<usize> = BTreeSet::new();
        let all = c
            .paths
            .values_mut()
            .chain(c.names.values_mut())
            .chain(c.applets.values_mut())
            .chain(c.nums.values_mut())
            .chain(c.inodes.values_mut().map(|(_, r)| r))
            .chain(c.globs.values_mut().flat_map(|g| g.accept.values_mut()));
        for r in all {
            squeeze(r);
            if r.slots.len() > MAX_SLOTS {
                // The base exemption sorts last (the highest index) and goes first; losing
                // it there leaves the default posture, and no rule to report.
                overflow.extend(
                    r.slots[MAX_SLOTS..]
                        .iter()
                        .filter(|s| s.rule != BASE_RULE)
                        .map(|s| s.rule as usize),
                );
                r.slots.truncate(MAX_SLOTS);
            }
        }
        // Beyond MAX_SLOTS an ancestor entry keeps the lowest-numbered rules: the rule
        // itself is still enforced on its own paths, only this extra guard is partial.
        for r in c.ancestors.values_mut().map(|(_, r)| r) {
            squeeze(r);
            if r.slots.len() > MAX_SLOTS {
                c.notes.push(format!(
                    "more than {MAX_SLOTS} rules protect paths below one directory; renaming or mounting on it is checked against the first {MAX_SLOTS}"
                ));
                r.slots.truncate(MAX_SLOTS);
            }
        }
        for idx in overflow {
            c.enforced.retain(|&i| i != idx);
            c.unenforceable.push((
                idx,
                format!("more than {MAX_SLOTS} rules apply to one of its paths; this one is not evaluated there"),
            ));
        }
    }

    fn finish(mut self) -> Compiled {
        self.c.enforced.sort_unstable();
        self.c.enforced.dedup();
        self.c.unenforceable.sort();
        self.c
    }
}

/// The alternatives of a glob's `{a,b}` groups, expanded (`/{,usr/}etc/x` is `/etc/x` and
/// `/usr/etc/x`); nested groups too.
fn alternatives(p: &str) -> Vec<String> {
    let bytes = p.as_bytes();
    let Some(open) = bytes.iter().position(|&b| b == b'{') else {
        return vec![p.to_string()];
    };
    let (mut depth, mut close, mut commas) = (0usize, None, Vec::new());
    for (i, &b) in bytes.iter().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            b',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close else {
        return vec![p.to_string()];
    };
    let mut cuts = vec![open];
    cuts.extend(commas);
    cuts.push(close);
    let (head, tail) = (&p[..open], &p[close + 1..]);
    cuts.windows(2)
        .flat_map(|w| alternatives(&format!("{head}{}{tail}", &p[w[0] + 1..w[1]])))
        .collect()
}

/// One alternative of a base grant as a path-table anchor: a path, `D/**` (everything
/// below D) or `D/*` (D's entries), with no other wildcard; a trailing `/` names the
/// directory. A directory anchor also covers the directory itself, which reading lists.
fn base_anchor(p: &str) -> Option<Anchor> {
    let wild = |s: &str| s.contains(['*', '?', '[', ']', '{', '}', '\\']);
    for (suffix, recursive) in [("/**", true), ("/*", false)] {
        if let Some(dir) = p.strip_suffix(suffix).filter(|d| !wild(d)) {
            return Some(Anchor::Dir {
                dir: dir.to_string(),
                recursive,
            });
        }
    }
    if wild(p) {
        return None;
    }
    let exact = p.trim_end_matches('/');
    Some(Anchor::Exact(
        if exact.is_empty() { "/" } else { exact }.to_string(),
    ))
}

/// [`crate::policy::base_abstraction`]'s grants as anchors with their Allow slots (reads
/// readOnly), and the grants left out: those with a wildcard inside the path, which the
/// path tables cannot hold (containers have no pattern table), and the write-only ones,
/// which are sockets (`/dev/log`): connecting to a socket opens no file, and a slot cannot
/// allow writing alone.
fn base_anchors() -> (Vec<(Anchor, Slot)>, Vec<&'static str>) {
    use crate::policy::base_abstraction::{Access, grants_written};
    let mut anchors: Vec<(Anchor, Slot)> = Vec::new();
    let mut left_out = Vec::new();
    for (glob, access) in grants_written() {
        let flags = match access {
            Access::Read => SL_ALLOW | SL_READ_ONLY,
            Access::ReadWrite => SL_ALLOW,
            Access::Write => {
                left_out.push(glob);
                continue;
            }
        };
        let slot = Slot {
            rule: BASE_RULE,
            flags,
            src_set: 0,
        };
        let mut whole = true;
        for alt in alternatives(glob) {
            match base_anchor(&alt) {
                Some(a) if alt.len() < KEY_PATH => anchors.push((a, slot)),
                _ => whole = false,
            }
        }
        if !whole {
            left_out.push(glob);
        }
    }
    (anchors, left_out)
}

/// Adds a rule to an entry that matches what it covers unconditionally (not a directory
/// entry's children or descendants).
fn push_always(rules: &mut Rules, slot: Slot) {
    rules.slots.push(Slot {
        flags: slot.flags | SL_ALWAYS,
        ..slot
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::validate::{Options, validate_bytes};

    const HEAD: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n";

    fn set(body: &str) -> RuleSet {
        let doc = format!("{HEAD}{body}");
        let r = validate_bytes("t.yaml", doc.as_bytes(), Options::default());
        assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
        let policies: Vec<_> = r.policies().cloned().collect();
        RuleSet::from_policies(&policies)
    }

    fn none(_: &str) -> PathFacts {
        PathFacts::default()
    }

    /// What the kernel program would decide for a path: the same lookup and slot
    /// evaluation as lsm.bpf.c, in Rust. Returns (deny rule, allow rule, audit rule).
    fn kernel(c: &Compiled, kind: u32, path: &str, write: bool) -> (Option<u32>, Option<u32>) {
        let sc = scope(0, kind);
        let mut key = path.as_bytes().to_vec();
        key.push(0);
        let best = c
            .paths
            .iter()
            .filter(|((s, k), _)| *s == sc && key.starts_with(k))
            .max_by_key(|((_, k), _)| k.len());
        let parent_len = path.rfind('/').map(|i| i + 1).unwrap_or(0) as u32;
        let (mut deny, mut allow) = (None::<u32>, None::<u32>);
        if let Some((_, r)) = best {
            for s in &r.slots {
                let applies = s.flags & SL_ALWAYS != 0
                    || (s.flags & SL_CHILD != 0 && parent_len == r.len)
                    || (s.flags & SL_DEEPER != 0 && parent_len > r.len);
                if !applies || s.flags & SL_AUDIT != 0 {
                    continue;
                }
                let d = if s.flags & SL_READ_ONLY != 0 {
                    write
                } else {
                    s.flags & SL_ALLOW == 0
                };
                // An Allow rule whose condition fails allows nothing (eval_slot).
                if d && s.flags & SL_ALLOW != 0 {
                    continue;
                }
                let slot = if d { &mut deny } else { &mut allow };
                *slot = Some(slot.map_or(s.rule, |x: u32| x.min(s.rule)));
            }
        }
        (deny, allow)
    }

    #[test]
    fn exact_and_directory_rules_agree_with_the_matcher() {
        let s = set(
            "  file:\n    matchPaths:\n    - path: /etc/shadow\n    matchDirectories:\n    - dir: /usr/lib/\n      recursive: true\n      readOnly: true\n    - dir: /var/\n  action: Block\n",
        );
        let c = compile(&s, &Postures::default(), &none);
        let m =
            crate::policy::matcher::CompiledRules::new(&s, crate::policy::matcher::Posture::Audit);
        for (path, write) in [
            ("/etc/shadow", false),
            ("/etc/shadow2", false),
            ("/etc", false),
            ("/usr/lib/x", true),
            ("/usr/lib/x", false),
            ("/usr/lib/a/b/c", true),
            ("/usr/lib", true),
            ("/usr/libx", true),
            ("/var/log", false),
            ("/var/log/syslog", false),
            ("/var", false),
        ] {
            let want = m
                .open(
                    path,
                    write,
                    0,
                    &mut crate::policy::matcher::Known { source: "", uid: 0 },
                )
                .decision
                .denies();
            let got = kernel(&c, KIND_FILE, path, write).0.is_some();
            assert_eq!(got, want, "{path} write={write}");
        }
    }

    #[test]
    fn alternatives_expand_and_base_grants_become_anchors() {
        assert_eq!(
            alternatives("/{,usr/}etc/ld.so.conf.d/{,*.conf}"),
            vec![
                "/etc/ld.so.conf.d/",
                "/etc/ld.so.conf.d/*.conf",
                "/usr/etc/ld.so.conf.d/",
                "/usr/etc/ld.so.conf.d/*.conf"
            ]
        );
        assert_eq!(alternatives("/{a,{b,c}d}/x").len(), 3);
        assert_eq!(alternatives("/plain"), vec!["/plain"]);
        assert!(matches!(
            base_anchor("/usr/lib32/**"),
            Some(Anchor::Dir {
                recursive: true,
                ..
            })
        ));
        assert!(matches!(
            base_anchor("/proc/sys/crypto/*"),
            Some(Anchor::Dir {
                recursive: false,
                ..
            })
        ));
        assert!(
            matches!(base_anchor("/usr/share/zoneinfo/"), Some(Anchor::Exact(p)) if p == "/usr/share/zoneinfo")
        );
        assert!(base_anchor("/proc/[1-9]*/maps").is_none());
        assert!(base_anchor("/usr/share/**/locale/**").is_none());
        let (anchors, left_out) = base_anchors();
        assert!(anchors.iter().all(|(_, s)| s.rule == BASE_RULE));
        assert!(left_out.contains(&"/dev/log"));
        assert!(left_out.contains(&"/proc/[1-9]*/{maps,auxv,status}"));
        assert!(!left_out.contains(&"/{usr/,}lib{,32,64}/**"));
    }

    #[test]
    fn a_file_allow_list_keeps_the_base_exemption_and_block_rules_still_win() {
        let s = set(
            "  file:\n    matchPaths:\n    - path: /srv/data\n      action: Allow\n    - path: /usr/lib/x86_64-linux-gnu/libevil.so\n      action: Block\n    - path: /etc/ld.so.cache\n      ownerOnly: true\n      action: Allow\n    matchDirectories:\n    - dir: /usr/share/zoneinfo/\n      recursive: true\n      action: Block\n",
        );
        let block = Postures {
            file: Posture::Block,
            ..Postures::default()
        };
        let c = compile(&s, &block, &none);
        let m =
            crate::policy::matcher::CompiledRules::new(&s, Posture::Block).with_base_exemption();
        for (path, write) in [
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", false),
            ("/usr/lib/x86_64-linux-gnu/libc.so.6", true),
            ("/lib64/ld-linux-x86-64.so.2", false),
            ("/lib/x86_64-linux-gnu/libtinfo.so.6", false),
            ("/usr/lib/x86_64-linux-gnu/libevil.so", false),
            ("/etc/ld.so.cache", false),
            ("/etc/ld.so.cache", true),
            ("/etc/localtime", false),
            ("/usr/share/zoneinfo/Etc/UTC", false),
            ("/usr/share/locale/de/LC_MESSAGES/x.mo", false),
            ("/dev/null", true),
            ("/dev/null", false),
            ("/dev/urandom", false),
            ("/dev/urandom", true),
            ("/proc/meminfo", false),
            ("/sys/devices/system/cpu/online", false),
            ("/srv/data", true),
            ("/etc/shadow", false),
            ("/etc/passwd", false),
            ("/usr/bin/cat", false),
            ("/usr/libexec/x", false),
            ("/dev/tty", false),
        ] {
            let v = m.open(
                path,
                write,
                0,
                &mut crate::policy::matcher::Known { source: "", uid: 0 },
            );
            let (deny, allow) = kernel(&c, KIND_FILE, path, write);
            // The kernel passes what has an allow and no deny; the rest of an allow-list
            // gets the posture (block).
            let passes = deny.is_none() && allow.is_some();
            assert_eq!(passes, !v.decision.denies(), "{path} write={write}: {v:?}");
            if deny.is_some() {
                assert_ne!(deny, Some(BASE_RULE), "{path}");
            }
        }
        assert!(c.notes.iter().any(|n| n.contains("abstractions/base")));
        // No file allow-list: nothing is added.
        let plain = compile(
            &set("  file:\n    matchPaths:\n    - path: /etc/shadow\n"),
            &block,
            &none,
        );
        assert!(
            plain
                .paths
                .values()
                .flat_map(|r| &r.slots)
                .all(|s| s.rule != BASE_RULE)
        );
        // A container's target gets the same entries in its own scope; no protected
        // directories or directory identities come with them.
        let ino = |p: &str| p.bytes().fold(7u64, |h, b| h * 31 + u64::from(b));
        let dirs = |p: &str| PathFacts {
            dir: Some((1, ino(p), None)),
            ..PathFacts::default()
        };
        let ct = compile_container(&s, &block, 3, &dirs);
        let key = (scope(3, KIND_FILE), b"/usr/lib/".to_vec());
        assert!(
            ct.paths[&key]
                .slots
                .iter()
                .any(|s| s.rule == BASE_RULE && s.flags & SL_READ_ONLY != 0)
        );
        assert!(ct.dir_ids.values().all(|d| d.path == "/usr/share/zoneinfo"));
        assert!(
            !ct.ancestors
                .keys()
                .any(|k| k.2 == ino("/dev") || k.2 == ino("/usr/lib32"))
        );
        assert!(
            ct.ancestors
                .values()
                .flat_map(|(_, r)| &r.slots)
                .all(|s| s.rule != BASE_RULE)
        );
        assert!(!ct.enforced.is_empty() && ct.unenforceable.is_empty());
    }

    #[test]
    fn nested_directories_keep_ancestor_rules() {
        let s = set(
            "  process:\n    matchDirectories:\n    - dir: /usr/\n      recursive: true\n      action: Block\n    - dir: /usr/local/bin/\n      action: Allow\n",
        );
        let c = compile(
            &s,
            &Postures {
                file: Posture::Block,
                ..Postures::default()
            },
            &none,
        );
        // /usr/local/bin/x is under both: Block wins.
        assert_eq!(
            kernel(&c, KIND_PROCESS, "/usr/local/bin/x", false).0,
            Some(0)
        );
        assert_eq!(
            kernel(&c, KIND_PROCESS, "/usr/local/bin/x", false).1,
            Some(1)
        );
        // Deeper than the non-recursive Allow: only the recursive Block.
        assert_eq!(
            kernel(&c, KIND_PROCESS, "/usr/local/bin/a/b", false),
            (Some(0), None)
        );
        assert_ne!(c.target_flags & T_ALLOW_PROC, 0);
        assert_eq!(
            c.target_flags & T_ALLOW_FILE,
            0,
            "process Allow rules leave files alone"
        );
        assert_ne!(c.target_flags & T_BLOCK_PROC_FILE, 0);
    }

    #[test]
    fn symlinked_directories_are_indexed_under_both_spellings_but_applets_are_not() {
        let s = set(
            "  process:\n    matchPaths:\n    - path: /bin/apt\n    - path: /bin/ls\n  action: Block\n",
        );
        let resolve = |p: &str| match p {
            "/bin/apt" => PathFacts {
                canonical: Some("/usr/bin/apt".into()),
                inode: Some((8, 42, Some(7))),
                dir: None,
            },
            "/bin/ls" => PathFacts {
                canonical: Some("/usr/bin/busybox".into()),
                inode: Some((8, 43, None)),
                dir: None,
            },
            _ => PathFacts::default(),
        };
        let c = compile(&s, &Postures::default(), &resolve);
        assert_eq!(kernel(&c, KIND_PROCESS, "/usr/bin/apt", false).0, Some(0));
        assert_eq!(kernel(&c, KIND_PROCESS, "/bin/apt", false).0, Some(0));
        assert_eq!(kernel(&c, KIND_PROCESS, "/usr/bin/busybox", false).0, None);
        assert!(c.inodes.contains_key(&(0, 8, 42)));
        assert!(
            !c.inodes.keys().any(|k| k.2 == 43),
            "busybox's inode must not be blocked"
        );
        assert!(c.applets.contains_key(&(0, 8, 43, "ls".to_string())));
        assert_ne!(c.target_flags & T_APPLETS, 0);
        assert_eq!(c.enforced, vec![0, 1]);
    }

    #[test]
    fn sources_become_membership_entries() {
        let s = set(
            "  process:\n    matchPaths:\n    - path: /usr/bin/date\n      fromSource:\n      - path: /usr/bin/bash\n  action: Block\n",
        );
        let c = compile(&s, &Postures::default(), &none);
        let slot = &c.paths[&(0, b"/usr/bin/date\0".to_vec())].slots[0];
        assert_eq!(slot.src_set, 1);
        let member = &c.sources[&(1, b"/usr/bin/bash\0".to_vec())];
        assert_ne!(member.slots[0].flags & SL_ALWAYS, 0);
    }

    #[test]
    fn network_capabilities_and_unenforceable_rules() {
        let s = set(
            "  network:\n    matchProtocols:\n    - protocol: icmp\n      fromSource: [{path: /bin/ping}]\n  capabilities:\n    matchCapabilities:\n    - capability: net_raw\n      fromSource: [{path: /bin/ping}]\n  file:\n    matchPatterns:\n    - pattern: /tmp/*.sh\n  action: Block\n",
        );
        let c = compile(&s, &Postures::default(), &none);
        assert!(c.nums.contains_key(&(scope(0, KIND_NET), 3)));
        assert!(c.nums.contains_key(&(scope(0, KIND_CAP), 13)));
        assert!(c.unenforceable.is_empty(), "{:?}", c.unenforceable);
        assert_ne!(c.target_flags & (T_NET | T_CAP), 0);
        assert_ne!(c.target_flags & T_GLOB_FILE, 0);
    }

    #[test]
    fn patterns_become_one_automaton_per_scope_that_agrees_with_the_matcher() {
        let s = set(
            "  process:\n    matchPatterns:\n    - pattern: /usr/bin/*apt*\n  file:\n    matchPatterns:\n    - pattern: /tmp/*\n    - pattern: /etc/**/*.key\n      readOnly: true\n      action: Allow\n    - pattern: /tmp/[ab]*\n      action: Audit\n  action: Block\n",
        );
        let c = compile(&s, &Postures::default(), &none);
        assert_eq!(c.enforced, vec![0, 1, 2, 3]);
        assert_ne!(c.target_flags & T_GLOB_PROC, 0);
        let m =
            crate::policy::matcher::CompiledRules::new(&s, crate::policy::matcher::Posture::Audit);
        let rules_at = |kind: u32, path: &str| -> Vec<Slot> {
            let t = &c.globs[&scope(0, kind)];
            let mut state = 1usize;
            for &b in path.as_bytes() {
                state = usize::from(t.dfa.rows[state][usize::from(t.dfa.classes[usize::from(b)])]);
            }
            t.accept
                .get(&(state as u16))
                .map(|r| r.slots.clone())
                .unwrap_or_default()
        };
        for (path, write) in [
            ("/tmp/x", false),
            ("/tmp/a1", true),
            ("/tmp/x/y", false),
            ("/etc/ssl/private/a.key", false),
            ("/etc/ssl/private/a.key", true),
            ("/etc/a.key", true),
        ] {
            let v = m.open(
                path,
                write,
                0,
                &mut crate::policy::matcher::Known { source: "", uid: 0 },
            );
            let slots = rules_at(KIND_FILE, path);
            // A rule's own denial (an Allow rule's failed condition is the posture's).
            let denies = slots.iter().any(|s| {
                s.flags & (SL_AUDIT | SL_ALLOW) == 0 && (s.flags & SL_READ_ONLY == 0 || write)
            });
            assert_eq!(
                denies,
                matches!(v.decision, crate::policy::matcher::Decision::Deny { .. }),
                "{path} write={write}"
            );
            let audited = slots.iter().any(|s| s.flags & SL_AUDIT != 0);
            assert_eq!(audited, !v.audits.is_empty(), "{path}");
        }
        assert_eq!(rules_at(KIND_PROCESS, "/usr/bin/apt-get")[0].rule, 0);
        assert!(rules_at(KIND_PROCESS, "/usr/sbin/apt").is_empty());
    }

    #[test]
    fn a_pattern_under_a_symlinked_directory_also_covers_its_target() {
        let s = set("  process:\n    matchPatterns:\n    - pattern: /bin/*apt*\n  action: Block\n");
        let resolve = |p: &str| match p {
            "/bin" => PathFacts {
                canonical: Some("/usr/bin".into()),
                inode: None,
                dir: None,
            },
            _ => PathFacts::default(),
        };
        let c = compile(&s, &Postures::default(), &resolve);
        let d = &c.globs[&scope(0, KIND_PROCESS)].dfa;
        assert_eq!(d.matches(b"/usr/bin/apt"), &[1]);
        assert_eq!(d.matches(b"/bin/apt"), &[0]);
    }

    #[test]
    fn patterns_the_kernel_cannot_express_are_reported_not_half_loaded() {
        let s = set(
            "  file:\n    matchPatterns:\n    - pattern: /x/[^é]\n    - pattern: /tmp/*\n  action: Block\n",
        );
        let c = compile(&s, &Postures::default(), &none);
        assert!(c.globs.is_empty());
        assert_eq!(c.unenforceable.len(), 2);
        assert!(
            c.unenforceable[0].1.contains("non-ASCII"),
            "{:?}",
            c.unenforceable
        );
        assert!(c.enforced.is_empty());
    }

    #[test]
    fn many_unconditional_rules_on_one_path_are_squeezed() {
        let mut body = String::from("  file:\n    matchPaths:\n");
        for _ in 0..12 {
            body.push_str("    - path: /etc/shadow\n");
        }
        body.push_str("  action: Block\n");
        let s = set(&body);
        let c = compile(&s, &Postures::default(), &none);
        let r = &c.paths[&(scope(0, KIND_FILE), b"/etc/shadow\0".to_vec())];
        assert_eq!(r.slots.len(), 1);
        assert_eq!(r.slots[0].rule, 0);
    }

    #[test]
    fn protected_directories_and_ancestors_are_known_by_inode() {
        let s = set(
            "  file:\n    matchDirectories:\n    - dir: /opt/fim/\n      recursive: true\n      readOnly: true\n    matchPaths:\n    - path: /etc/app/conf\n      action: Audit\n    - path: /srv/x\n      action: Allow\n  process:\n    matchPaths:\n    - path: /usr/bin/apt\n  action: Block\n",
        );
        let dirs = |p: &str| PathFacts {
            dir: match p {
                "/opt" => Some((8, 10, Some(1))),
                "/opt/fim" => Some((8, 11, None)),
                "/etc" => Some((8, 20, None)),
                "/etc/app" => Some((8, 21, None)),
                "/usr" => Some((8, 30, None)),
                "/usr/bin" => Some((8, 31, None)),
                "/srv" => Some((8, 40, None)),
                _ => None,
            },
            ..PathFacts::default()
        };
        let c = compile(&s, &Postures::default(), &dirs);
        assert_ne!(c.target_flags & T_ANCESTORS, 0);
        let file = scope(0, KIND_FILE);
        let proc = scope(0, KIND_PROCESS);
        // readOnly or not, a rename or mount of the directory is denied outright.
        for ino in [10, 11] {
            let (generation, r) = &c.ancestors[&(file, 8, ino)];
            assert_eq!(r.slots.len(), 1);
            assert_eq!(r.slots[0].flags, SL_DENY | SL_ALWAYS);
            assert_eq!(*generation, if ino == 10 { Some(1) } else { None });
        }
        let audit = &c.ancestors[&(file, 8, 21)].1.slots[0];
        assert_eq!(audit.flags, SL_AUDIT | SL_ALWAYS);
        assert!(c.ancestors.contains_key(&(file, 8, 20)));
        assert!(c.ancestors.contains_key(&(proc, 8, 31)));
        assert!(c.ancestors.contains_key(&(proc, 8, 30)));
        // An Allow rule protects nothing.
        assert!(!c.ancestors.keys().any(|k| k.2 == 40));
        // The directory rule's directory is known by identity, files are not.
        assert_ne!(c.target_flags & T_DIR_IDS, 0);
        assert_eq!(c.dir_ids.len(), 1);
        let d = &c.dir_ids[&(scope(0, 0), 8, 11)];
        assert_eq!(d.path, "/opt/fim");
        assert_eq!(d.kinds, 1 << KIND_FILE);
        let fim = c.ancestors[&(file, 8, 11)].1.slots[0].rule;
        assert_eq!(
            d.mount_rule.map(|s| (s.rule, s.flags)),
            Some((fim, SL_DENY))
        );
    }

    #[test]
    fn directory_identity_takes_the_resolved_path_and_the_strongest_rule() {
        let s = set(
            "  file:\n    matchDirectories:\n    - dir: /bin/\n      action: Audit\n    - dir: /usr/bin/\n      readOnly: true\n    - dir: /srv/\n      action: Allow\n  process:\n    matchDirectories:\n    - dir: /usr/bin/\n  action: Block\n",
        );
        let facts = |p: &str| PathFacts {
            canonical: (p == "/bin").then(|| "/usr/bin".to_string()),
            dir: match p {
                "/bin" | "/usr/bin" => Some((8, 31, None)),
                "/srv" => Some((8, 40, Some(3))),
                _ => None,
            },
            ..PathFacts::default()
        };
        let c = compile(&s, &Postures::default(), &facts);
        let d = &c.dir_ids[&(scope(0, 0), 8, 31)];
        assert_eq!(d.path, "/usr/bin");
        assert_eq!(d.kinds, 1 << KIND_FILE | 1 << KIND_PROCESS);
        // The lowest Block rule (the process rule comes first in the rule set), not Audit.
        let m = d.mount_rule.unwrap();
        assert_eq!((m.rule, m.flags), (0, SL_DENY));
        // Allow rules are known (a matched rule beats the default posture), not alerted on.
        let a = &c.dir_ids[&(scope(0, 0), 8, 40)];
        assert_eq!((a.generation, a.mount_rule), (Some(3), None));
        // No directory rule, no identity lookups in the walk.
        let none = compile(
            &set("  file:\n    matchPaths:\n    - path: /etc/x\n  action: Block\n"),
            &Postures::default(),
            &facts,
        );
        assert_eq!(none.target_flags & T_DIR_IDS, 0);
    }
}
