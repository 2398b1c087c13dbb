//! Rule matching: compiles a [`RuleSet`]'s process and file rules into lookup tables and
//! answers "what happens to this exec / this open" with KubeArmor's semantics. Every
//! enforcer backend and the agent's audit matching use it, so a policy means the same
//! thing wherever it is evaluated.
//!
//! Owns: path, execname, directory and glob matching; `fromSource`, `readOnly` and
//! `ownerOnly`; Block-over-Allow precedence; allow-list mode and the default posture.
//! Does not own: where the facts come from (the caller passes a [`Subject`] that reads
//! them lazily), network/capability/syscall rules, `pts` and `allowedArgs` (ignored
//! here; backends say whether they can enforce them).
//!
//! Semantics (reference: KubeArmor's BPF-LSM enforcer and docs):
//! - `matchPaths` is exact; `execname` compares the basename.
//! - `matchDirectories` matches the directory itself and its direct children, or any
//!   depth with `recursive`.
//! - `matchPatterns` are AppArmor globs: `*` and `?` stay within one path segment, `**`
//!   crosses segments, `{a,b}` alternates, `[...]`/`[^...]` are character classes.
//! - `fromSource` limits a rule to listed source executables (the parent's executable
//!   for exec, the current executable for file access).
//! - `readOnly`: reads are allowed, writes denied, whether the rule is Block or Allow.
//! - `ownerOnly`: the file's owner is allowed (reads only, with `readOnly`), everybody
//!   else denied, whatever the action.
//! - A denying match beats an allowing one (Block wins).
//! - Allow-list mode is per category, as in KubeArmor's BPF-LSM enforcer: a process
//!   Allow rule puts execs in allow-list mode, a file Allow rule file opens; in that mode
//!   what no rule of the category allows gets the default posture, which process and
//!   file share (the file posture). Listing a few binaries leaves file opens alone.
//! - Opt-in ([`CompiledRules::with_base_exemption`]): in file allow-list mode an open no
//!   rule allows passes when AppArmor's `abstractions/base` grants it (libraries, locale,
//!   `/dev/null`: [`super::base_abstraction`]), as under KubeArmor's AppArmor profiles.
//! - Audit rules never change the decision; they are reported when they match an
//!   operation that a Block rule with the same flags would deny (so an audited
//!   `readOnly` rule reports writes, an audited `ownerOnly` rule reports non-owners).

use super::Action;
use super::base_abstraction;
use super::normalize::{Category, Matcher, Rule, RuleSet};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// What an allow-list category does with operations no rule allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Posture {
    /// Permit and alert (KubeArmor's default).
    #[default]
    Audit,
    /// Deny.
    Block,
}

impl fmt::Display for Posture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Posture::Audit => "audit",
            Posture::Block => "block",
        })
    }
}

impl std::str::FromStr for Posture {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "audit" => Ok(Posture::Audit),
            "block" => Ok(Posture::Block),
            other => Err(format!("unknown posture '{other}' (audit or block)")),
        }
    }
}

/// The enforcement answer for one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No Allow or Block rule matched and the category is not in allow-list mode (or the
    /// open is one `abstractions/base` grants: [`CompiledRules::with_base_exemption`]).
    Pass,
    /// Allowed by this rule.
    Allow { rule: usize },
    /// Denied by this rule (a Block rule, or the readOnly/ownerOnly restriction of any rule).
    Deny { rule: usize },
    /// Allow-list mode and no rule allowed the operation.
    DefaultPosture(Posture),
}

impl Decision {
    /// Whether the kernel should refuse the operation.
    pub fn denies(self) -> bool {
        matches!(
            self,
            Decision::Deny { .. } | Decision::DefaultPosture(Posture::Block)
        )
    }
}

/// A decision plus the Audit rules that matched (they only alert).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    /// Indexes of matching Audit rules, ascending. Empty (and unallocated) in the common case.
    pub audits: Vec<usize>,
}

/// Facts about the acting process that cost a /proc read; the matcher asks only when a
/// candidate rule needs them, so implementations should compute them lazily.
pub trait Subject {
    /// The source executable: the parent's executable for exec, the process's own for
    /// file access.
    fn source(&mut self) -> &str;
    /// The process's uid, compared with the file owner for `ownerOnly`.
    fn uid(&mut self) -> u32;
}

/// A [`Subject`] whose facts are already known.
#[derive(Clone, Copy, Debug)]
pub struct Known<'a> {
    pub source: &'a str,
    pub uid: u32,
}

impl Subject for Known<'_> {
    fn source(&mut self) -> &str {
        self.source
    }
    fn uid(&mut self) -> u32 {
        self.uid
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GlobError {
    #[error("unclosed '[' in pattern")]
    UnclosedClass,
    #[error("unclosed '{{' in pattern")]
    UnclosedBrace,
    #[error("'{{...}}' alternatives expand to more than {0} patterns")]
    TooManyAlternatives(usize),
    #[error("pattern is longer than {0} elements")]
    TooLong(usize),
}

const MAX_ALTERNATIVES: usize = 256;
const MAX_TOKENS: usize = 127;

/// One element of a glob, exposed for backends that compile globs into their own
/// automaton (the BPF-LSM enforcer builds a byte-level DFA from these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Lit(char),
    /// `?`: one character other than `/`.
    One,
    /// `*`: any run of characters other than `/`.
    Star,
    /// `**`: any run of characters.
    DStar,
    /// `[...]` (`negated`: `[^...]`); never matches `/`.
    Class {
        negated: bool,
        ranges: Box<[(char, char)]>,
    },
}

/// A compiled AppArmor glob. Brace alternatives are expanded at compile time; each
/// alternative is matched as an NFA over a 128-bit state set, so matching never
/// backtracks and never allocates.
#[derive(Clone, Debug)]
pub struct Glob {
    alternatives: Box<[Alternative]>,
}

/// One brace alternative: its literal head is compared as a string, so a path outside
/// it costs one `starts_with`, and the NFA runs on the rest.
#[derive(Clone, Debug)]
struct Alternative {
    prefix: Box<str>,
    toks: Box<[Tok]>,
    /// The tokens after the prefix, and a bit per star among them.
    rest: usize,
    stars: u128,
}

/// Where a glob's matches can live, for backends that must watch directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobBase {
    /// The alternative has no wildcard: exactly this path.
    Path(String),
    /// Matches are below `dir` (no trailing slash; `""` is the root), at most `depth`
    /// directory levels further down (`None`: unbounded, the pattern has `**`).
    Dir { dir: String, depth: Option<usize> },
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut alternatives = Vec::new();
        for alt in expand_braces(&chars)? {
            let toks = tokenize(&alt)?;
            let lit = toks
                .iter()
                .position(|t| !matches!(t, Tok::Lit(_)))
                .unwrap_or(toks.len());
            if toks.len() - lit > MAX_TOKENS {
                return Err(GlobError::TooLong(MAX_TOKENS));
            }
            let prefix: String = toks[..lit]
                .iter()
                .map(|t| match t {
                    Tok::Lit(c) => *c,
                    _ => unreachable!("only literal tokens precede lit"),
                })
                .collect();
            let stars = toks[lit..]
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t, Tok::Star | Tok::DStar))
                .fold(0u128, |m, (i, _)| m | (1 << i));
            alternatives.push(Alternative {
                prefix: prefix.into(),
                toks: toks.into_boxed_slice(),
                rest: lit,
                stars,
            });
        }
        Ok(Glob {
            alternatives: alternatives.into_boxed_slice(),
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        self.alternatives.iter().any(|a| {
            path.strip_prefix(&*a.prefix)
                .is_some_and(|rest| nfa_match(&a.toks[a.rest..], a.stars, rest))
        })
    }

    /// Each brace alternative's whole token list (`{a,b}` is already expanded).
    pub fn alternatives(&self) -> impl Iterator<Item = &[Tok]> {
        self.alternatives.iter().map(|a| &*a.toks)
    }

    /// One base per brace alternative.
    pub fn bases(&self) -> Vec<GlobBase> {
        self.alternatives
            .iter()
            .map(|Alternative { toks, .. }| {
                let lit_len = toks
                    .iter()
                    .position(|t| !matches!(t, Tok::Lit(_)))
                    .unwrap_or(toks.len());
                let lit = |t: &Tok| match t {
                    Tok::Lit(c) => *c,
                    _ => unreachable!("only literal tokens precede lit_len"),
                };
                if lit_len == toks.len() {
                    return GlobBase::Path(toks.iter().map(lit).collect());
                }
                let cut = toks[..lit_len]
                    .iter()
                    .rposition(|t| *t == Tok::Lit('/'))
                    .unwrap_or(0);
                let dir: String = toks[..cut].iter().map(lit).collect();
                let rest = &toks[cut..];
                let depth = if rest.iter().any(|t| matches!(t, Tok::DStar)) {
                    None
                } else {
                    // The first '/' of `rest` separates `dir` from its entries.
                    Some(
                        rest.iter()
                            .filter(|t| matches!(t, Tok::Lit('/')))
                            .count()
                            .saturating_sub(1),
                    )
                };
                GlobBase::Dir { dir, depth }
            })
            .collect()
    }
}

fn expand_braces(chars: &[char]) -> Result<Vec<Vec<char>>, GlobError> {
    // Find the first top-level '{' (not escaped, not inside a class).
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => break,
            _ => {}
        }
        i += 1;
    }
    if i >= chars.len() {
        return Ok(vec![chars.to_vec()]);
    }
    let open = i;
    let mut depth = 0;
    let mut parts: Vec<(usize, usize)> = Vec::new();
    let mut start = open + 1;
    let mut j = open;
    let close = loop {
        if j >= chars.len() {
            return Err(GlobError::UnclosedBrace);
        }
        match chars[j] {
            '\\' => j += 1,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    parts.push((start, j));
                    break j;
                }
            }
            ',' if depth == 1 => {
                parts.push((start, j));
                start = j + 1;
            }
            _ => {}
        }
        j += 1;
    };
    let head = &chars[..open];
    let tails = expand_braces(&chars[close + 1..])?;
    let mut out = Vec::new();
    for (s, e) in parts {
        for mid in expand_braces(&chars[s..e])? {
            for tail in &tails {
                if out.len() == MAX_ALTERNATIVES {
                    return Err(GlobError::TooManyAlternatives(MAX_ALTERNATIVES));
                }
                let mut v = head.to_vec();
                v.extend_from_slice(&mid);
                v.extend_from_slice(tail);
                out.push(v);
            }
        }
    }
    Ok(out)
}

/// A parsed bracket expression ([`bracket_class`]).
struct BracketClass {
    negated: bool,
    /// Inclusive ranges; a single character is `(c, c)`.
    ranges: Vec<(char, char)>,
    /// The index of the closing `]`.
    close: usize,
}

/// The bracket expression opening at `chars[open]` (`[...]`, `[^...]` or `[!...]`, with
/// `\` escapes and `a-z` ranges; a `]` right after the opening is a member): whether it
/// is negated, its ranges, and the index of its closing `]`.
fn bracket_class(chars: &[char], open: usize) -> Result<BracketClass, GlobError> {
    let mut j = open + 1;
    let negated = matches!(chars.get(j), Some('^') | Some('!'));
    if negated {
        j += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let Some(&c) = chars.get(j) else {
            return Err(GlobError::UnclosedClass);
        };
        if c == ']' && !first {
            return Ok(BracketClass {
                negated,
                ranges,
                close: j,
            });
        }
        first = false;
        let lo = if c == '\\' {
            j += 1;
            *chars.get(j).ok_or(GlobError::UnclosedClass)?
        } else {
            c
        };
        if chars.get(j + 1) == Some(&'-') && chars.get(j + 2).is_some_and(|&c| c != ']') {
            ranges.push((lo, chars[j + 2]));
            j += 3;
        } else {
            ranges.push((lo, lo));
            j += 1;
        }
    }
}

fn tokenize(chars: &[char]) -> Result<Vec<Tok>, GlobError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                out.push(Tok::Lit(chars[i + 1]));
                i += 2;
            }
            '*' if chars.get(i + 1) == Some(&'*') => {
                while chars.get(i) == Some(&'*') {
                    i += 1;
                }
                out.push(Tok::DStar);
            }
            '*' => {
                out.push(Tok::Star);
                i += 1;
            }
            '?' => {
                out.push(Tok::One);
                i += 1;
            }
            '[' => {
                let class = bracket_class(chars, i)?;
                out.push(Tok::Class {
                    negated: class.negated,
                    ranges: class.ranges.into_boxed_slice(),
                });
                i = class.close + 1;
            }
            c => {
                out.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Adds the states reachable without input: a star can match nothing. `stars` has a
/// bit per star token.
fn closure(mut set: u128, stars: u128) -> u128 {
    loop {
        let more = (set & stars) << 1;
        if more & !set == 0 {
            return set;
        }
        set |= more;
    }
}

fn nfa_match(toks: &[Tok], stars: u128, s: &str) -> bool {
    let n = toks.len();
    let mut cur = closure(1, stars);
    for c in s.chars() {
        let mut next = 0u128;
        let mut bits = cur;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if i == n {
                continue;
            }
            match &toks[i] {
                Tok::Lit(x) if *x == c => next |= 1 << (i + 1),
                Tok::One if c != '/' => next |= 1 << (i + 1),
                Tok::Star if c != '/' => next |= 1 << i,
                Tok::DStar => next |= 1 << i,
                Tok::Class { negated, ranges } if c != '/' => {
                    let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                    if inside != *negated {
                        next |= 1 << (i + 1);
                    }
                }
                _ => {}
            }
        }
        cur = closure(next, stars);
        if cur == 0 {
            return false;
        }
    }
    cur & (1 << n) != 0
}

/// FNV-1a for the path tables: the keys are the policy's paths, chosen by the
/// administrator, so there is no collision flooding to defend against (a looked-up path
/// costs one probe sequence whoever chose it), and SipHash would cost more than the
/// lookup itself.
pub struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// A normalized `fromSource` entry (`/bin/x`, `/bin/` or `/bin/**`, see normalize.rs), as
/// every consumer of source executables matches it.
#[derive(Clone, Debug)]
pub(crate) enum SourceMatch {
    Exact(Box<str>),
    /// `dir` without trailing slash.
    Dir {
        dir: Box<str>,
        recursive: bool,
    },
}

impl SourceMatch {
    pub(crate) fn parse(s: &str) -> SourceMatch {
        if let Some(d) = s.strip_suffix("**") {
            SourceMatch::Dir {
                dir: d.trim_end_matches('/').into(),
                recursive: true,
            }
        } else if s.ends_with('/') {
            SourceMatch::Dir {
                dir: s.trim_end_matches('/').into(),
                recursive: false,
            }
        } else {
            SourceMatch::Exact(s.into())
        }
    }

    pub(crate) fn matches(&self, source: &str) -> bool {
        match self {
            SourceMatch::Exact(p) => **p == *source,
            SourceMatch::Dir { dir, recursive } => in_dir(source, dir, *recursive),
        }
    }
}

/// `path` is in `dir` (no trailing slash): a direct child, or any descendant.
/// `path` is below `dir` (no trailing slash): a direct child, or any descendant.
pub(crate) fn in_dir(path: &str, dir: &str, recursive: bool) -> bool {
    let Some(rest) = path.strip_prefix(dir).and_then(|r| r.strip_prefix('/')) else {
        return false;
    };
    !rest.is_empty() && (recursive || !rest.contains('/'))
}

#[derive(Clone, Debug)]
struct Entry {
    rule: usize,
    action: Action,
    read_only: bool,
    owner_only: bool,
    recursive: bool,
    sources: Box<[SourceMatch]>,
}

enum Effect {
    Allow,
    Deny,
}

impl Entry {
    /// What this rule does to the operation, `None` when `fromSource` excludes it.
    fn effect(&self, write: bool, owner: u32, subject: &mut dyn Subject) -> Option<Effect> {
        if !self.sources.is_empty() {
            let source = subject.source();
            if !self.sources.iter().any(|s| s.matches(source)) {
                return None;
            }
        }
        let restricted_ok = if self.owner_only {
            subject.uid() == owner && !(self.read_only && write)
        } else if self.read_only {
            !write
        } else {
            return Some(match self.action {
                Action::Allow => Effect::Allow,
                Action::Block | Action::Audit => Effect::Deny,
            });
        };
        Some(if restricted_ok {
            Effect::Allow
        } else {
            Effect::Deny
        })
    }
}

#[derive(Default)]
struct Table {
    /// Some Allow rule of this category exists: unmatched operations get the posture.
    allow_list: bool,
    exact: FastMap<Box<str>, Vec<Entry>>,
    names: FastMap<Box<str>, Vec<Entry>>,
    /// Keyed by the directory without its trailing slash (`""` for `/`).
    dirs: FastMap<Box<str>, Vec<Entry>>,
    globs: Vec<(Glob, Entry)>,
}

impl Table {
    fn for_each_match(&self, path: &str, mut f: impl FnMut(&Entry)) {
        if let Some(v) = self.exact.get(path) {
            v.iter().for_each(&mut f);
        }
        if !self.names.is_empty() {
            let base = path.rsplit('/').next().unwrap_or(path);
            if let Some(v) = self.names.get(base) {
                v.iter().for_each(&mut f);
            }
        }
        if !self.dirs.is_empty() {
            // The directory itself.
            if let Some(v) = self.dirs.get(path.trim_end_matches('/')) {
                v.iter().for_each(&mut f);
            }
            let parent = path.rfind('/');
            for (i, _) in path.match_indices('/') {
                if i + 1 == path.len() {
                    break;
                }
                if let Some(v) = self.dirs.get(&path[..i]) {
                    for e in v {
                        if e.recursive || Some(i) == parent {
                            f(e);
                        }
                    }
                }
            }
        }
        for (g, e) in &self.globs {
            if g.matches(path) {
                f(e);
            }
        }
    }
}

/// Maps a rule path to the path the kernel reports for the same object.
pub type Resolver<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Says which rules to leave out.
pub type RuleFilter<'a> = &'a dyn Fn(usize, &Rule) -> bool;

/// Options for [`CompiledRules::with_options`].
#[derive(Default)]
pub struct CompileOptions<'a> {
    /// Maps a rule path to the path the kernel reports for the same object (symlinks
    /// resolved, e.g. `/bin/sh` → `/usr/bin/dash`). Backends that see resolved paths use
    /// it so that a rule written against a symlink still matches; the rule is then
    /// indexed under both spellings.
    pub resolve: Option<Resolver<'a>>,
    /// Rules to leave out (a backend that cannot enforce them); indexes keep their meaning.
    pub skip: Option<RuleFilter<'a>>,
}

/// The process and file rules of one rule set, ready for per-event lookups.
pub struct CompiledRules {
    process: Table,
    file: Table,
    posture: Posture,
    invalid: Vec<(usize, String)>,
    /// Some file rule has `readOnly`: an open's flags can matter somewhere.
    any_read_only: bool,
    /// File allow-list misses that [`base_abstraction`] grants pass (see
    /// [`CompiledRules::with_base_exemption`]).
    base_exemption: bool,
}

impl CompiledRules {
    pub fn new(set: &RuleSet, posture: Posture) -> CompiledRules {
        CompiledRules::with_options(set, posture, &CompileOptions::default())
    }

    pub fn with_options(set: &RuleSet, posture: Posture, opts: &CompileOptions) -> CompiledRules {
        let mut out = CompiledRules {
            process: Table {
                allow_list: set.allow_list.process,
                ..Table::default()
            },
            file: Table {
                allow_list: set.allow_list.file,
                ..Table::default()
            },
            posture,
            invalid: Vec::new(),
            any_read_only: false,
            base_exemption: false,
        };
        let resolve = |p: &str| opts.resolve.and_then(|r| r(p)).filter(|r| r != p);
        for (idx, rule) in set.rules.iter().enumerate() {
            let table = match rule.category {
                Category::Process => &mut out.process,
                Category::File => &mut out.file,
                _ => continue,
            };
            if opts.skip.is_some_and(|s| s(idx, rule)) {
                continue;
            }
            out.any_read_only |= rule.category == Category::File && rule.read_only;
            let mut sources: Vec<SourceMatch> = Vec::new();
            for s in &rule.from_source {
                let m = SourceMatch::parse(s);
                let alias = match &m {
                    SourceMatch::Exact(p) => resolve(p).map(|r| SourceMatch::Exact(r.into())),
                    SourceMatch::Dir { dir, recursive } => resolve(dir).map(|r| SourceMatch::Dir {
                        dir: r.trim_end_matches('/').into(),
                        recursive: *recursive,
                    }),
                };
                sources.push(m);
                sources.extend(alias);
            }
            let entry = |recursive| Entry {
                rule: idx,
                action: rule.action,
                read_only: rule.read_only,
                owner_only: rule.owner_only,
                recursive,
                sources: sources.clone().into_boxed_slice(),
            };
            match &rule.matcher {
                Matcher::Path { path } => {
                    for p in std::iter::once(path.clone()).chain(resolve(path)) {
                        table.exact.entry(p.into()).or_default().push(entry(false));
                    }
                }
                Matcher::Execname { name } => {
                    table
                        .names
                        .entry(name.as_str().into())
                        .or_default()
                        .push(entry(false));
                }
                Matcher::Directory { dir, recursive } => {
                    let key = dir.trim_end_matches('/');
                    let resolved = resolve(key).map(|r| r.trim_end_matches('/').to_string());
                    for k in std::iter::once(key.to_string()).chain(resolved) {
                        table
                            .dirs
                            .entry(k.into())
                            .or_default()
                            .push(entry(*recursive));
                    }
                }
                Matcher::Pattern { pattern } => match Glob::new(pattern) {
                    Ok(g) => {
                        let alias = resolved_pattern(pattern, &resolve);
                        table.globs.push((g, entry(false)));
                        if let Some(Ok(g)) = alias.map(|a| Glob::new(&a)) {
                            table.globs.push((g, entry(false)));
                        }
                    }
                    Err(e) => out.invalid.push((idx, format!("pattern '{pattern}': {e}"))),
                },
                _ => {}
            }
        }
        out
    }

    /// In file allow-list mode, an open no rule matched passes (no default posture, no
    /// alert) when AppArmor's `abstractions/base` grants it ([`base_abstraction`]: the
    /// loader, shared libraries, locale, `/dev/null`...), as under KubeArmor's AppArmor
    /// profiles, which include it. For backends that judge every open of a container
    /// (fanotify) and for `policy test`, which predicts them. A matching Block rule,
    /// `readOnly` or `ownerOnly` restriction still denies: only misses are exempt.
    pub fn with_base_exemption(mut self) -> CompiledRules {
        self.base_exemption = true;
        self
    }

    /// Exec of `path` (as the kernel reports it) whose file is owned by `owner`.
    pub fn exec(&self, path: &str, owner: u32, subject: &mut dyn Subject) -> Verdict {
        self.evaluate(&self.process, path, false, owner, subject)
    }

    /// Open of `path`; `write` when the open asks for writing (O_WRONLY, O_RDWR,
    /// O_APPEND, O_TRUNC or O_CREAT).
    pub fn open(&self, path: &str, write: bool, owner: u32, subject: &mut dyn Subject) -> Verdict {
        let mut v = self.evaluate(&self.file, path, write, owner, subject);
        if matches!(v.decision, Decision::DefaultPosture(_))
            && self.exempts_base()
            && base_abstraction::allows(path, write)
        {
            v.decision = Decision::Pass;
        }
        v
    }

    /// Whether the answer for an open of `path` can depend on reading vs writing (some
    /// candidate rule has `readOnly`). When not, callers can skip finding out.
    pub fn open_depends_on_write(&self, path: &str) -> bool {
        if self.exempts_base() && base_abstraction::depends_on_write(path) {
            return true;
        }
        if !self.any_read_only {
            return false;
        }
        let mut depends = false;
        self.file.for_each_match(path, |e| depends |= e.read_only);
        depends
    }

    /// Whether some file rule has `readOnly`, so that the answer for some open can depend
    /// on reading vs writing.
    pub fn any_read_only(&self) -> bool {
        self.any_read_only
    }

    /// Whether execs are in allow-list mode (some process Allow rule exists).
    pub fn exec_allow_list(&self) -> bool {
        self.process.allow_list
    }

    /// Whether file opens are in allow-list mode (some file Allow rule exists).
    pub fn open_allow_list(&self) -> bool {
        self.file.allow_list
    }

    /// The answer for an exec (`exec`) or open that no rule could be matched against
    /// (its path or facts were unreadable): what a miss gets in that category.
    pub fn unmatched(&self, exec: bool) -> Decision {
        let table = if exec { &self.process } else { &self.file };
        Self::miss(table, self.posture)
    }

    /// Whether [`CompiledRules::with_base_exemption`] takes effect: file allow-list mode.
    fn exempts_base(&self) -> bool {
        self.base_exemption && self.file.allow_list
    }

    fn miss(table: &Table, posture: Posture) -> Decision {
        if table.allow_list {
            Decision::DefaultPosture(posture)
        } else {
            Decision::Pass
        }
    }

    pub fn posture(&self) -> Posture {
        self.posture
    }

    /// Patterns that did not compile, with the reason.
    pub fn invalid(&self) -> &[(usize, String)] {
        &self.invalid
    }

    fn evaluate(
        &self,
        table: &Table,
        path: &str,
        write: bool,
        owner: u32,
        subject: &mut dyn Subject,
    ) -> Verdict {
        let mut deny: Option<usize> = None;
        let mut allow: Option<usize> = None;
        let mut audits: Vec<usize> = Vec::new();
        table.for_each_match(path, |e| {
            match (e.action, e.effect(write, owner, subject)) {
                (_, None) => {}
                (Action::Audit, Some(Effect::Deny)) => audits.push(e.rule),
                (Action::Audit, Some(Effect::Allow)) => {}
                // An Allow rule whose readOnly/ownerOnly condition fails allows nothing:
                // the operation gets the default posture, as in KubeArmor (not a Deny
                // named after the Allow policy, which would block under an audit posture).
                (Action::Allow, Some(Effect::Deny)) => {}
                (_, Some(Effect::Deny)) => deny = Some(deny.map_or(e.rule, |d| d.min(e.rule))),
                (_, Some(Effect::Allow)) => allow = Some(allow.map_or(e.rule, |a| a.min(e.rule))),
            }
        });
        audits.sort_unstable();
        audits.dedup();
        let decision = match (deny, allow) {
            (Some(rule), _) => Decision::Deny { rule },
            (None, Some(rule)) => Decision::Allow { rule },
            (None, None) => Self::miss(table, self.posture),
        };
        Verdict { decision, audits }
    }
}

/// The pattern with its literal directory prefix resolved, when that changes it.
pub fn resolved_pattern(pattern: &str, resolve: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let meta = pattern.find(['*', '?', '[', '{', '\\'])?;
    let cut = pattern[..meta].rfind('/')?;
    if cut == 0 {
        return None;
    }
    let r = resolve(&pattern[..cut])?;
    Some(format!("{}{}", r.trim_end_matches('/'), &pattern[cut..]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::normalize::RuleSet;
    use crate::policy::validate::{Options, validate_bytes};

    const HEAD: &str = "apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: p}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: '*'}}\n";

    fn set(body: &str) -> RuleSet {
        let doc = format!("{HEAD}{body}");
        let r = validate_bytes("t.yaml", doc.as_bytes(), Options::default());
        assert!(r.valid, "{:?}", r.diagnostics().collect::<Vec<_>>());
        let policies: Vec<_> = r.policies().cloned().collect();
        RuleSet::from_policies(&policies)
    }

    fn compile(body: &str) -> CompiledRules {
        CompiledRules::new(&set(body), Posture::Block)
    }

    fn root(source: &str) -> Known<'_> {
        Known { source, uid: 0 }
    }

    fn exec(c: &CompiledRules, path: &str, source: &str) -> Decision {
        c.exec(path, 0, &mut root(source)).decision
    }

    fn read(c: &CompiledRules, path: &str) -> Decision {
        c.open(path, false, 0, &mut root("/usr/bin/cat")).decision
    }

    fn write(c: &CompiledRules, path: &str) -> Decision {
        c.open(path, true, 0, &mut root("/usr/bin/tee")).decision
    }

    #[test]
    fn match_paths_are_exact() {
        let c = compile("  process:\n    matchPaths:\n    - path: /usr/bin/sleep\n");
        assert_eq!(
            exec(&c, "/usr/bin/sleep", "/bin/sh"),
            Decision::Deny { rule: 0 }
        );
        assert_eq!(exec(&c, "/usr/bin/sleep2", "/bin/sh"), Decision::Pass);
        assert_eq!(exec(&c, "/usr/bin", "/bin/sh"), Decision::Pass);
        // Process rules say nothing about opening the file.
        assert_eq!(read(&c, "/usr/bin/sleep"), Decision::Pass);
    }

    #[test]
    fn execname_matches_the_basename_anywhere() {
        let c = compile("  process:\n    matchPaths:\n    - execname: nc\n");
        assert_eq!(exec(&c, "/usr/bin/nc", ""), Decision::Deny { rule: 0 });
        assert_eq!(exec(&c, "/tmp/x/nc", ""), Decision::Deny { rule: 0 });
        assert_eq!(exec(&c, "/usr/bin/ncat", ""), Decision::Pass);
    }

    #[test]
    fn directories_non_recursive_cover_itself_and_direct_children() {
        let c = compile("  file:\n    matchDirectories:\n    - dir: /etc/app/\n");
        assert_eq!(read(&c, "/etc/app"), Decision::Deny { rule: 0 });
        assert_eq!(read(&c, "/etc/app/a.conf"), Decision::Deny { rule: 0 });
        assert_eq!(read(&c, "/etc/app/sub/b.conf"), Decision::Pass);
        assert_eq!(read(&c, "/etc/application"), Decision::Pass);
        assert_eq!(read(&c, "/etc/apps/x"), Decision::Pass);
    }

    #[test]
    fn directories_recursive_cover_any_depth() {
        let c = compile(
            "  process:\n    matchDirectories:\n    - dir: /opt/tools/\n      recursive: true\n",
        );
        assert_eq!(exec(&c, "/opt/tools/a", ""), Decision::Deny { rule: 0 });
        assert_eq!(exec(&c, "/opt/tools/x/y/z", ""), Decision::Deny { rule: 0 });
        assert_eq!(exec(&c, "/opt/toolsx/a", ""), Decision::Pass);
        let root =
            compile("  process:\n    matchDirectories:\n    - dir: /\n      recursive: true\n");
        assert_eq!(exec(&root, "/usr/bin/x", ""), Decision::Deny { rule: 0 });
        let top = compile("  process:\n    matchDirectories:\n    - dir: /\n");
        assert_eq!(exec(&top, "/init", ""), Decision::Deny { rule: 0 });
        assert_eq!(exec(&top, "/usr/bin/x", ""), Decision::Pass);
    }

    #[test]
    fn patterns_follow_apparmor_globs() {
        let g = |p: &str| Glob::new(p).unwrap();
        assert!(g("/tmp/*.sh").matches("/tmp/a.sh"));
        assert!(g("/tmp/*.sh").matches("/tmp/.sh"));
        assert!(!g("/tmp/*.sh").matches("/tmp/d/a.sh"));
        assert!(g("/home/**/id_rsa").matches("/home/u/.ssh/id_rsa"));
        assert!(g("/home/**").matches("/home/u/x/y"));
        assert!(!g("/home/**").matches("/homes/u"));
        assert!(g("/dev/tty?").matches("/dev/tty1"));
        assert!(!g("/dev/tty?").matches("/dev/tty12"));
        assert!(g("/usr/bin/{curl,wget}").matches("/usr/bin/wget"));
        assert!(!g("/usr/bin/{curl,wget}").matches("/usr/bin/ftp"));
        assert!(g("/a/{b,c/{d,e}}/f").matches("/a/c/e/f"));
        assert!(g("/log/[0-9][0-9].txt").matches("/log/42.txt"));
        assert!(!g("/log/[0-9][0-9].txt").matches("/log/4x.txt"));
        assert!(g("/log/[^a-z]").matches("/log/1"));
        assert!(!g("/log/[^a-z]").matches("/log/q"));
        assert!(!g("/x/[^a]").matches("/x//"));
        assert!(g("/lit\\*").matches("/lit*"));
        assert!(!g("/lit\\*").matches("/litx"));
        assert_eq!(Glob::new("/a/[bc").unwrap_err(), GlobError::UnclosedClass);
        assert_eq!(Glob::new("/a/{b,c").unwrap_err(), GlobError::UnclosedBrace);

        let c = compile("  file:\n    matchPatterns:\n    - pattern: /etc/*.key\n");
        assert_eq!(read(&c, "/etc/site.key"), Decision::Deny { rule: 0 });
        assert_eq!(read(&c, "/etc/ssl/site.key"), Decision::Pass);
    }

    #[test]
    fn glob_bases_bound_the_directories_to_watch() {
        let b = |p: &str| Glob::new(p).unwrap().bases();
        assert_eq!(
            b("/tmp/*.sh"),
            vec![GlobBase::Dir {
                dir: "/tmp".into(),
                depth: Some(0)
            }]
        );
        assert_eq!(
            b("/home/*/.ssh/*"),
            vec![GlobBase::Dir {
                dir: "/home".into(),
                depth: Some(2)
            }]
        );
        assert_eq!(
            b("/var/**/log"),
            vec![GlobBase::Dir {
                dir: "/var".into(),
                depth: None
            }]
        );
        assert_eq!(
            b("/usr/bin/{a,b*}"),
            vec![
                GlobBase::Path("/usr/bin/a".into()),
                GlobBase::Dir {
                    dir: "/usr/bin".into(),
                    depth: Some(0)
                }
            ]
        );
        assert_eq!(
            b("/*"),
            vec![GlobBase::Dir {
                dir: "".into(),
                depth: Some(0)
            }]
        );
    }

    #[test]
    fn from_source_restricts_to_listed_sources() {
        let c = compile(
            "  process:\n    matchPaths:\n    - path: /usr/bin/bash\n      fromSource:\n      - path: /usr/sbin/nginx\n",
        );
        assert_eq!(
            exec(&c, "/usr/bin/bash", "/usr/sbin/nginx"),
            Decision::Deny { rule: 0 }
        );
        assert_eq!(exec(&c, "/usr/bin/bash", "/usr/sbin/sshd"), Decision::Pass);
    }

    #[test]
    fn source_is_only_read_when_a_candidate_needs_it() {
        struct Counting(usize);
        impl Subject for Counting {
            fn source(&mut self) -> &str {
                self.0 += 1;
                "/usr/sbin/nginx"
            }
            fn uid(&mut self) -> u32 {
                self.0 += 100;
                0
            }
        }
        let c = compile(
            "  process:\n    matchPaths:\n    - path: /usr/bin/bash\n      fromSource:\n      - path: /usr/sbin/nginx\n    - path: /usr/bin/zsh\n",
        );
        let mut s = Counting(0);
        c.exec("/usr/bin/zsh", 0, &mut s);
        c.exec("/usr/bin/ls", 0, &mut s);
        assert_eq!(s.0, 0);
        c.exec("/usr/bin/bash", 0, &mut s);
        assert_eq!(s.0, 1);
    }

    #[test]
    fn source_directories_and_resolved_spellings() {
        let s = set(
            "  process:\n    matchPaths:\n    - path: /bin/x\n      fromSource:\n      - path: /bin/sh\n",
        );
        let resolve = |p: &str| match p {
            "/bin/x" => Some("/usr/bin/x".to_string()),
            "/bin/sh" => Some("/usr/bin/dash".to_string()),
            _ => None,
        };
        let plain = CompiledRules::new(&s, Posture::Audit);
        assert_eq!(exec(&plain, "/usr/bin/x", "/usr/bin/dash"), Decision::Pass);
        let opts = CompileOptions {
            resolve: Some(&resolve),
            skip: None,
        };
        let c = CompiledRules::with_options(&s, Posture::Audit, &opts);
        assert_eq!(
            exec(&c, "/usr/bin/x", "/usr/bin/dash"),
            Decision::Deny { rule: 0 }
        );
        assert_eq!(exec(&c, "/bin/x", "/bin/sh"), Decision::Deny { rule: 0 });
        assert_eq!(exec(&c, "/usr/bin/x", "/usr/bin/bash"), Decision::Pass);

        assert!(SourceMatch::parse("/opt/").matches("/opt/a"));
        assert!(!SourceMatch::parse("/opt/").matches("/opt/a/b"));
        assert!(SourceMatch::parse("/opt/**").matches("/opt/a/b"));
        assert!(!SourceMatch::parse("/opt/**").matches("/optx/a"));
    }

    #[test]
    fn read_only_allows_reads_and_denies_writes_for_block_and_allow() {
        for action in ["Block", "Allow"] {
            let c = compile(&format!(
                "  file:\n    matchDirectories:\n    - dir: /etc/ssh/\n      recursive: true\n      readOnly: true\n      action: {action}\n"
            ));
            assert_eq!(
                read(&c, "/etc/ssh/sshd_config"),
                Decision::Allow { rule: 0 },
                "{action}"
            );
            // A Block rule denies the write; an Allow rule's failed condition allows
            // nothing, and the write gets the default posture (KubeArmor's DefaultPosture).
            let want = if action == "Block" {
                Decision::Deny { rule: 0 }
            } else {
                Decision::DefaultPosture(Posture::Block)
            };
            assert_eq!(write(&c, "/etc/ssh/sshd_config"), want, "{action}");
        }
    }

    #[test]
    fn owner_only_allows_the_owner_whatever_the_action() {
        for action in ["Block", "Allow"] {
            let c = compile(&format!(
                "  file:\n    matchPaths:\n    - path: /home/d/key\n      ownerOnly: true\n      action: {action}\n"
            ));
            let owner = 1000;
            let as_uid = |uid, w| {
                c.open("/home/d/key", w, owner, &mut Known { source: "", uid })
                    .decision
            };
            assert_eq!(as_uid(1000, false), Decision::Allow { rule: 0 }, "{action}");
            assert_eq!(as_uid(1000, true), Decision::Allow { rule: 0 }, "{action}");
            let other = if action == "Block" {
                Decision::Deny { rule: 0 }
            } else {
                Decision::DefaultPosture(Posture::Block)
            };
            assert_eq!(as_uid(0, false), other, "{action}");
            assert_eq!(as_uid(1001, true), other, "{action}");
        }
        let c = compile(
            "  file:\n    matchPaths:\n    - path: /k\n      ownerOnly: true\n      readOnly: true\n",
        );
        let d = |uid, w| c.open("/k", w, 7, &mut Known { source: "", uid }).decision;
        assert_eq!(d(7, false), Decision::Allow { rule: 0 });
        assert_eq!(d(7, true), Decision::Deny { rule: 0 });
        assert_eq!(d(0, false), Decision::Deny { rule: 0 });
        // Process ownerOnly: only the binary's owner may run it.
        let p = compile("  process:\n    matchPaths:\n    - path: /opt/x\n      ownerOnly: true\n");
        assert_eq!(
            p.exec("/opt/x", 5, &mut Known { source: "", uid: 5 })
                .decision,
            Decision::Allow { rule: 0 }
        );
        assert_eq!(
            p.exec("/opt/x", 5, &mut Known { source: "", uid: 6 })
                .decision,
            Decision::Deny { rule: 0 }
        );
    }

    #[test]
    fn block_wins_over_allow() {
        let c = compile(
            "  file:\n    matchDirectories:\n    - dir: /srv/\n      recursive: true\n      action: Allow\n    matchPaths:\n    - path: /srv/secret\n      action: Block\n",
        );
        // Normalization lists matchPaths before matchDirectories.
        assert_eq!(read(&c, "/srv/secret"), Decision::Deny { rule: 0 });
        assert_eq!(read(&c, "/srv/public"), Decision::Allow { rule: 1 });
    }

    #[test]
    fn allow_list_mode_gives_the_default_posture_to_the_rest() {
        let body = "  process:\n    matchPaths:\n    - path: /usr/bin/ls\n      action: Allow\n";
        let block = CompiledRules::new(&set(body), Posture::Block);
        assert_eq!(exec(&block, "/usr/bin/ls", ""), Decision::Allow { rule: 0 });
        let d = exec(&block, "/usr/bin/cat", "");
        assert_eq!(d, Decision::DefaultPosture(Posture::Block));
        assert!(d.denies());
        let audit = CompiledRules::new(&set(body), Posture::Audit);
        let d = exec(&audit, "/usr/bin/cat", "");
        assert_eq!(d, Decision::DefaultPosture(Posture::Audit));
        assert!(!d.denies());
        // A fromSource Allow rule still switches the category; other sources get the posture.
        let fs = CompiledRules::new(
            &set(
                "  process:\n    matchPaths:\n    - path: /usr/bin/ls\n      action: Allow\n      fromSource:\n      - path: /bin/bash\n",
            ),
            Posture::Block,
        );
        assert_eq!(
            exec(&fs, "/usr/bin/ls", "/bin/bash"),
            Decision::Allow { rule: 0 }
        );
        assert_eq!(
            exec(&fs, "/usr/bin/ls", "/bin/zsh"),
            Decision::DefaultPosture(Posture::Block)
        );
        // Without an Allow rule the posture has no effect.
        let none = compile("  process:\n    matchPaths:\n    - path: /usr/bin/ls\n");
        assert_eq!(exec(&none, "/usr/bin/cat", ""), Decision::Pass);
    }

    #[test]
    fn allow_list_mode_is_per_category() {
        let proc_allow =
            "  process:\n    matchPaths:\n    - path: /usr/bin/ls\n      action: Allow\n";
        // A file rule that matches nothing here (another source): the open is a miss.
        let file_block = "  file:\n    matchPaths:\n    - path: /etc/shadow\n      fromSource:\n      - path: /usr/bin/passwd\n      action: Block\n";
        let file_allow = "  file:\n    matchPaths:\n    - path: /etc/hosts\n      action: Allow\n";

        // Process Allow: execs are allow-listed, file opens keep their block-list meaning.
        let c = compile(&format!("{proc_allow}{file_block}"));
        assert!(c.exec_allow_list() && !c.open_allow_list());
        assert_eq!(
            exec(&c, "/usr/bin/cat", ""),
            Decision::DefaultPosture(Posture::Block)
        );
        assert_eq!(read(&c, "/etc/passwd"), Decision::Pass);
        assert_eq!(read(&c, "/etc/shadow"), Decision::Pass);
        assert_eq!(write(&c, "/etc/shadow"), Decision::Pass);
        assert_eq!(
            c.open("/etc/shadow", false, 0, &mut root("/usr/bin/passwd"))
                .decision,
            Decision::Deny { rule: 1 }
        );
        assert_eq!(c.unmatched(true), Decision::DefaultPosture(Posture::Block));
        assert_eq!(c.unmatched(false), Decision::Pass);

        // File Allow: opens are allow-listed, execs are not.
        let c = compile(file_allow);
        assert!(!c.exec_allow_list() && c.open_allow_list());
        assert_eq!(read(&c, "/etc/hosts"), Decision::Allow { rule: 0 });
        assert_eq!(
            read(&c, "/etc/passwd"),
            Decision::DefaultPosture(Posture::Block)
        );
        assert_eq!(exec(&c, "/usr/bin/cat", ""), Decision::Pass);
        assert_eq!(c.unmatched(true), Decision::Pass);
        assert_eq!(c.unmatched(false), Decision::DefaultPosture(Posture::Block));

        // Both: each category on its own rules, with the one shared posture.
        let both = set(&format!("{proc_allow}{file_allow}"));
        let c = CompiledRules::new(&both, Posture::Audit);
        assert_eq!(exec(&c, "/usr/bin/ls", ""), Decision::Allow { rule: 0 });
        assert_eq!(read(&c, "/etc/hosts"), Decision::Allow { rule: 1 });
        assert_eq!(
            exec(&c, "/usr/bin/cat", ""),
            Decision::DefaultPosture(Posture::Audit)
        );
        assert_eq!(
            read(&c, "/etc/passwd"),
            Decision::DefaultPosture(Posture::Audit)
        );
        // A process rule's path is not allowed as a file by it (nor the reverse).
        assert_eq!(
            read(&c, "/usr/bin/ls"),
            Decision::DefaultPosture(Posture::Audit)
        );
        assert_eq!(
            exec(&c, "/etc/hosts", ""),
            Decision::DefaultPosture(Posture::Audit)
        );

        // An Allow rule that lost to a Block rule on the same path still switches its
        // category, as in KubeArmor.
        let c = compile(
            "  process:\n    matchPaths:\n    - path: /usr/bin/ls\n      action: Allow\n    - path: /usr/bin/ls\n      action: Block\n",
        );
        assert_eq!(exec(&c, "/usr/bin/ls", ""), Decision::Deny { rule: 0 });
        assert_eq!(
            exec(&c, "/usr/bin/cat", ""),
            Decision::DefaultPosture(Posture::Block)
        );
        assert_eq!(read(&c, "/etc/passwd"), Decision::Pass);
    }

    #[test]
    fn base_exemption_passes_only_file_allow_list_misses() {
        let allow = "  file:\n    matchPaths:\n    - path: /srv/conf\n      action: Allow\n    - path: /usr/lib/x86_64-linux-gnu/libevil.so\n      action: Block\n    - path: /etc/ld.so.cache\n      action: Audit\n";
        let plain = compile(allow);
        let c = compile(allow).with_base_exemption();
        let lib = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        assert_eq!(read(&plain, lib), Decision::DefaultPosture(Posture::Block));
        assert_eq!(read(&c, lib), Decision::Pass);
        // Libraries are read, not written; /dev/null is both.
        assert_eq!(write(&c, lib), Decision::DefaultPosture(Posture::Block));
        assert!(c.open_depends_on_write(lib) && !plain.open_depends_on_write(lib));
        assert_eq!(write(&c, "/dev/null"), Decision::Pass);
        assert!(!c.open_depends_on_write("/dev/null"));
        // A Block rule still wins; Allow rules still allow; other files get the posture.
        assert_eq!(
            read(&c, "/usr/lib/x86_64-linux-gnu/libevil.so"),
            Decision::Deny { rule: 1 }
        );
        assert_eq!(read(&c, "/srv/conf"), Decision::Allow { rule: 0 });
        assert_eq!(
            read(&c, "/etc/shadow"),
            Decision::DefaultPosture(Posture::Block)
        );
        // Audit rules are still reported on exempt opens.
        let v = c.open("/etc/ld.so.cache", false, 0, &mut root(""));
        assert_eq!((v.decision, v.audits), (Decision::Pass, vec![2]));
        // Execs are not files: a process allow-list is not exempted.
        let p =
            compile("  process:\n    matchPaths:\n    - path: /usr/bin/ls\n      action: Allow\n")
                .with_base_exemption();
        assert_eq!(
            exec(&p, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", ""),
            Decision::DefaultPosture(Posture::Block)
        );
        // Outside file allow-list mode nothing changes.
        let block =
            compile("  file:\n    matchPaths:\n    - path: /etc/shadow\n").with_base_exemption();
        assert_eq!(read(&block, lib), Decision::Pass);
        assert!(!block.open_depends_on_write(lib));
    }

    #[test]
    fn audit_rules_report_without_deciding() {
        let c = compile(
            "  file:\n    matchPaths:\n    - path: /etc/shadow\n      action: Audit\n    - path: /etc/hosts\n      readOnly: true\n      action: Audit\n    matchDirectories:\n    - dir: /etc/\n      action: Audit\n",
        );
        let v = c.open("/etc/shadow", false, 0, &mut root(""));
        assert_eq!(v.decision, Decision::Pass);
        assert_eq!(v.audits, vec![0, 2]);
        // An audited readOnly rule reports writes only.
        assert_eq!(
            c.open("/etc/hosts", false, 0, &mut root("")).audits,
            vec![2]
        );
        assert_eq!(
            c.open("/etc/hosts", true, 0, &mut root("")).audits,
            vec![1, 2]
        );
        // Nothing matched: no allocation.
        assert_eq!(
            c.open("/var/x", false, 0, &mut root("")).audits.capacity(),
            0
        );
        assert!(c.open_depends_on_write("/etc/hosts"));
        assert!(!c.open_depends_on_write("/etc/shadow"));
    }

    #[test]
    fn invalid_patterns_are_reported_not_fatal() {
        let c = compile(
            "  file:\n    matchPatterns:\n    - pattern: /a/[b\n    matchPaths:\n    - path: /c\n",
        );
        assert_eq!(c.invalid().len(), 1);
        assert_eq!(c.invalid()[0].0, 1);
        assert_eq!(read(&c, "/c"), Decision::Deny { rule: 0 });
    }

    #[test]
    fn skipped_rules_keep_indexes() {
        let s = set("  process:\n    matchPaths:\n    - path: /a\n    - path: /b\n");
        let skip = |i: usize, _: &Rule| i == 0;
        let c = CompiledRules::with_options(
            &s,
            Posture::Audit,
            &CompileOptions {
                resolve: None,
                skip: Some(&skip),
            },
        );
        assert_eq!(exec(&c, "/a", ""), Decision::Pass);
        assert_eq!(exec(&c, "/b", ""), Decision::Deny { rule: 1 });
    }
}
