//! `matchPatterns` for the kernel: all the globs of one scope compiled into one byte-level
//! DFA, so the BPF program decides with one table lookup per path byte, whatever the
//! number of patterns, with no backtracking and a bound known to the verifier. (AppArmor
//! compiles its globs into a DFA for the same reasons; KubeArmor's BPF-LSM enforcer skips
//! patterns altogether.)
//!
//! The glob semantics are src/policy/matcher.rs's (the tokens come from its [`Glob`]):
//! `*`, `?` and classes never match `/`, `**` matches anything. The matcher works on
//! characters and the kernel on bytes, so `?` and negated classes consume one UTF-8
//! lead byte and its continuation bytes; classes that list non-ASCII characters are
//! spelled out as byte sequences (a few) or refused (a negated one).

use crate::policy::matcher::{Glob, Tok};
use std::collections::{BTreeMap, HashMap};

/// Byte classes per table row (lsm.bpf.c's GLOB_CLASSES): bytes no pattern tells apart
/// share a column, so a row is 128 bytes, not 512.
pub const GLOB_CLASSES: usize = 64;
/// Non-ASCII characters a non-negated class may list.
const MAX_CLASS_CHARS: usize = 64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DfaError {
    #[error("a negated character class lists non-ASCII characters")]
    NegatedNonAscii,
    #[error("a character class lists more than {MAX_CLASS_CHARS} non-ASCII characters")]
    ClassTooBig,
    #[error("the patterns together need more than {0} automaton states")]
    TooManyStates(usize),
    #[error("the patterns together tell apart more than {GLOB_CLASSES} kinds of bytes")]
    TooManyClasses,
}

/// The compiled automaton. State 0 is dead (no pattern can match any more), state 1 the
/// start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dfa {
    pub classes: [u8; 256],
    /// `rows[state][class]`: the next state.
    pub rows: Vec<[u16; GLOB_CLASSES]>,
    /// Accepting states → the ids (the caller's) of the patterns matching there.
    pub accept: BTreeMap<u16, Vec<usize>>,
}

impl Dfa {
    /// The pattern ids matching `path`: what the kernel program computes.
    pub fn matches(&self, path: &[u8]) -> &[usize] {
        let mut state = 1usize;
        for &b in path {
            state = usize::from(self.rows[state][usize::from(self.classes[usize::from(b)])]);
            if state == 0 {
                return &[];
            }
        }
        self.accept.get(&(state as u16)).map_or(&[], |v| v)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct ByteSet([u64; 4]);

impl ByteSet {
    const EMPTY: ByteSet = ByteSet([0; 4]);
    const ALL: ByteSet = ByteSet([!0; 4]);

    fn of(bytes: impl IntoIterator<Item = u8>) -> ByteSet {
        let mut s = ByteSet::EMPTY;
        for b in bytes {
            s.0[usize::from(b >> 6)] |= 1 << (b & 63);
        }
        s
    }
    fn has(&self, b: u8) -> bool {
        self.0[usize::from(b >> 6)] & (1 << (b & 63)) != 0
    }
    fn minus(mut self, o: ByteSet) -> ByteSet {
        for i in 0..4 {
            self.0[i] &= !o.0[i];
        }
        self
    }
    fn not_slash() -> ByteSet {
        ByteSet::ALL.minus(ByteSet::of([b'/']))
    }
    /// Bytes that start a character other than `/`.
    fn lead() -> ByteSet {
        ByteSet::not_slash().minus(ByteSet::continuation())
    }
    fn continuation() -> ByteSet {
        ByteSet::of(0x80..=0xbf)
    }
}

#[derive(Default)]
struct Nfa {
    edges: Vec<Vec<(ByteSet, usize)>>,
    eps: Vec<Vec<usize>>,
    accept: Vec<Vec<usize>>,
}

impl Nfa {
    fn node(&mut self) -> usize {
        self.edges.push(Vec::new());
        self.eps.push(Vec::new());
        self.accept.push(Vec::new());
        self.edges.len() - 1
    }
    fn edge(&mut self, from: usize, set: ByteSet, to: usize) {
        self.edges[from].push((set, to));
    }
    /// A chain spelling `bytes` from `from`; returns its end (`to` when given).
    fn chain(&mut self, from: usize, bytes: &[u8], to: Option<usize>) -> usize {
        let mut cur = from;
        for (i, &b) in bytes.iter().enumerate() {
            let next = match to {
                Some(t) if i + 1 == bytes.len() => t,
                _ => self.node(),
            };
            self.edge(cur, ByteSet::of([b]), next);
            cur = next;
        }
        cur
    }
    /// One character from `set` (lead bytes), then its continuation bytes.
    fn one_char(&mut self, from: usize, set: ByteSet) -> usize {
        let n = self.node();
        self.edge(from, set, n);
        self.edge(n, ByteSet::continuation(), n);
        n
    }
    /// A run of bytes from `set` (possibly empty).
    fn run(&mut self, from: usize, set: ByteSet) -> usize {
        let n = self.node();
        self.eps[from].push(n);
        self.edge(n, set, n);
        n
    }

    fn add(&mut self, start: usize, toks: &[Tok], id: usize) -> Result<(), DfaError> {
        let mut cur = self.node();
        self.eps[start].push(cur);
        for t in toks {
            cur = match t {
                Tok::Lit(c) => self.chain(cur, c.encode_utf8(&mut [0; 4]).as_bytes(), None),
                Tok::One => self.one_char(cur, ByteSet::lead()),
                Tok::Star => self.run(cur, ByteSet::not_slash()),
                Tok::DStar => self.run(cur, ByteSet::ALL),
                Tok::Class { negated, ranges } => {
                    let ascii: Vec<u8> = ranges
                        .iter()
                        .flat_map(|&(lo, hi)| lo..=hi.min('\x7f'))
                        .filter(|&c| c != '/')
                        .map(|c| c as u8)
                        .collect();
                    let wide: Vec<char> = ranges
                        .iter()
                        .flat_map(|&(lo, hi)| lo.max('\u{80}')..=hi)
                        .take(MAX_CLASS_CHARS + 1)
                        .collect();
                    if *negated {
                        if !wide.is_empty() {
                            return Err(DfaError::NegatedNonAscii);
                        }
                        self.one_char(cur, ByteSet::lead().minus(ByteSet::of(ascii)))
                    } else {
                        if wide.len() > MAX_CLASS_CHARS {
                            return Err(DfaError::ClassTooBig);
                        }
                        let end = self.node();
                        self.edge(cur, ByteSet::of(ascii), end);
                        for c in wide {
                            self.chain(cur, c.encode_utf8(&mut [0; 4]).as_bytes(), Some(end));
                        }
                        end
                    }
                }
            };
        }
        self.accept[cur].push(id);
        Ok(())
    }

    fn closure(&self, set: &mut Vec<usize>) {
        let mut stack = set.clone();
        while let Some(n) = stack.pop() {
            for &m in &self.eps[n] {
                if !set.contains(&m) {
                    set.push(m);
                    stack.push(m);
                }
            }
        }
        set.sort_unstable();
        set.dedup();
    }
}

/// Compiles `(id, glob)` pairs into one DFA of at most `max_states` states (counting the
/// dead one). Fails, without partial result, when a pattern cannot be expressed or the
/// automaton would be too big.
pub fn build(globs: &[(usize, &Glob)], max_states: usize) -> Result<Dfa, DfaError> {
    let mut nfa = Nfa::default();
    let start = nfa.node();
    for &(id, g) in globs {
        for toks in g.alternatives() {
            nfa.add(start, toks, id)?;
        }
    }
    // Byte classes: bytes that every edge treats alike.
    let mut sets: Vec<ByteSet> = nfa.edges.iter().flatten().map(|(s, _)| *s).collect();
    sets.sort_unstable();
    sets.dedup();
    let mut classes = [0u8; 256];
    let mut by_signature: HashMap<Vec<bool>, u8> = HashMap::new();
    let mut reps: Vec<u8> = Vec::new();
    for b in 0..=255u8 {
        let sig: Vec<bool> = sets.iter().map(|s| s.has(b)).collect();
        let next = by_signature.len();
        let class = *by_signature.entry(sig).or_insert_with(|| {
            reps.push(b);
            next as u8
        });
        if by_signature.len() > GLOB_CLASSES {
            return Err(DfaError::TooManyClasses);
        }
        classes[usize::from(b)] = class;
    }
    // Subset construction.
    let mut first = vec![start];
    nfa.closure(&mut first);
    let mut ids: HashMap<Vec<usize>, u16> = HashMap::new();
    let mut states: Vec<Vec<usize>> = vec![Vec::new(), first.clone()];
    ids.insert(Vec::new(), 0);
    ids.insert(first, 1);
    let mut rows: Vec<[u16; GLOB_CLASSES]> = vec![[0; GLOB_CLASSES]];
    let mut i = 1;
    while i < states.len() {
        let mut row = [0u16; GLOB_CLASSES];
        for (class, &rep) in reps.iter().enumerate() {
            let mut next: Vec<usize> = states[i]
                .iter()
                .flat_map(|&n| &nfa.edges[n])
                .filter(|(s, _)| s.has(rep))
                .map(|&(_, to)| to)
                .collect();
            nfa.closure(&mut next);
            let id = match ids.get(&next) {
                Some(&id) => id,
                None => {
                    if states.len() >= max_states.min(usize::from(u16::MAX)) {
                        return Err(DfaError::TooManyStates(max_states));
                    }
                    let id = states.len() as u16;
                    ids.insert(next.clone(), id);
                    states.push(next);
                    id
                }
            };
            row[class] = id;
        }
        rows.push(row);
        i += 1;
    }
    let mut accept = BTreeMap::new();
    for (id, nodes) in states.iter().enumerate() {
        let mut who: Vec<usize> = nodes
            .iter()
            .flat_map(|&n| nfa.accept[n].iter().copied())
            .collect();
        who.sort_unstable();
        who.dedup();
        if !who.is_empty() {
            accept.insert(id as u16, who);
        }
    }
    Ok(Dfa {
        classes,
        rows,
        accept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dfa(patterns: &[&str]) -> (Dfa, Vec<Glob>) {
        let globs: Vec<Glob> = patterns.iter().map(|p| Glob::new(p).unwrap()).collect();
        let pairs: Vec<(usize, &Glob)> = globs.iter().enumerate().collect();
        (build(&pairs, 4096).unwrap(), globs)
    }

    #[test]
    fn agrees_with_the_matcher_on_chosen_cases() {
        let patterns = [
            "/tmp/*",
            "/usr/bin/*apt*",
            "/etc/**/*.conf",
            "/home/*/.ssh/id_?sa",
            "/var/log/{syslog,auth.log}",
            "/data/[a-c]x[^0-9]",
            "/é/*/ü?",
            "/x/[éa]",
            "/srv/**",
        ];
        let (d, globs) = dfa(&patterns);
        let paths = [
            "/tmp/a",
            "/tmp/",
            "/tmp/a/b",
            "/tmp",
            "/usr/bin/apt",
            "/usr/bin/apt-get",
            "/usr/bin/x/apt",
            "/etc/a.conf",
            "/etc/x/y/z.conf",
            "/etc/x/y/z.confx",
            "/home/u/.ssh/id_rsa",
            "/home/u/v/.ssh/id_rsa",
            "/home/u/.ssh/id_/sa",
            "/var/log/syslog",
            "/var/log/auth.log",
            "/var/log/kern.log",
            "/data/ax_",
            "/data/dx_",
            "/data/ax5",
            "/data/ax/",
            "/é/a/üz",
            "/é/a/üé",
            "/é/a/ü",
            "/x/é",
            "/x/a",
            "/x/e",
            "/srv",
            "/srv/",
            "/srv/a/b/c",
            "/",
        ];
        for p in paths {
            let want: Vec<usize> = globs
                .iter()
                .enumerate()
                .filter(|(_, g)| g.matches(p))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(d.matches(p.as_bytes()), &want[..], "{p}");
        }
    }

    /// A small deterministic generator, so the property test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
            xs[(self.next() % xs.len() as u64) as usize]
        }
    }

    #[test]
    fn agrees_with_the_matcher_on_random_patterns_and_paths() {
        let pieces = ["a", "b", "/", "*", "**", "?", "[ab]", "[^a]", "ü", "{a,b/}"];
        let path_pieces = ["a", "b", "c", "/", "ü", "é"];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300 {
            let pats: Vec<String> = (0..3)
                .map(|_| {
                    let n = 1 + rng.next() % 6;
                    let mut s = String::from("/");
                    for _ in 0..n {
                        s.push_str(rng.pick(&pieces));
                    }
                    s
                })
                .collect();
            let refs: Vec<&str> = pats.iter().map(String::as_str).collect();
            let (d, globs) = dfa(&refs);
            for _ in 0..40 {
                let n = rng.next() % 8;
                let mut p = String::from("/");
                for _ in 0..n {
                    p.push_str(rng.pick(&path_pieces));
                }
                let want: Vec<usize> = globs
                    .iter()
                    .enumerate()
                    .filter(|(_, g)| g.matches(&p))
                    .map(|(i, _)| i)
                    .collect();
                assert_eq!(d.matches(p.as_bytes()), &want[..], "{p} against {refs:?}");
            }
        }
    }

    #[test]
    fn unexpressible_or_oversized_patterns_are_refused() {
        let g = Glob::new("/x/[^é]").unwrap();
        assert_eq!(build(&[(0, &g)], 4096), Err(DfaError::NegatedNonAscii));
        let g = Glob::new("/a/*b*c*d*e*f*g*h").unwrap();
        assert_eq!(build(&[(0, &g)], 4), Err(DfaError::TooManyStates(4)));
    }
}
