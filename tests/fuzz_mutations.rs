//! Deterministic mutation fuzzing of the policy parser and validator, run in every test
//! pass (the coverage-guided target is fuzz/fuzz_targets/validate.rs). Each mutant must
//! come back with a verdict — never a panic — and quickly.

use knoxctl::policy::validate::{Options, validate_bytes};
use std::path::Path;
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*: fixed seed, so a failure reproduces.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\n",
    b": ",
    b"- ",
    b"[",
    b"]",
    b"{",
    b"}",
    b"&a ",
    b"*a",
    b"!!str ",
    b"!!int ",
    b"? ",
    b"|\n",
    b">-\n",
    b"'",
    b"\"",
    b"#",
    b"---\n",
    b"...\n",
    b"\t",
    b"\x00",
    b"\xff",
    b"~",
    b"null",
    b"yes",
    b"0x1F",
    b"1e9999",
    b"-9223372036854775809",
    b"<<: *a\n",
    b"%YAML 1.2\n",
    b"\\u0000",
    b"/",
    b"//",
    b"**",
    b",",
];

fn mutate(rng: &mut Rng, input: &[u8], corpus: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            2 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at.min(end)..end);
            }
            3 => {
                // Splice a slice of another seed in.
                let other = &corpus[rng.below(corpus.len())];
                let s = rng.below(other.len() + 1);
                let e = (s + rng.below(200)).min(other.len());
                v.splice(at..at, other[s..e].iter().copied());
            }
            4 if !v.is_empty() => {
                // Duplicate a line: duplicate keys, repeated rules.
                let start = v[..at.min(v.len())]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = v[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(v.len(), |i| start + i + 1);
                let line = v[start..end].to_vec();
                v.splice(end..end, line);
            }
            _ => v.truncate(at),
        }
    }
    v
}

#[test]
fn mutants_never_panic_or_hang() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/policies");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    corpus.sort();
    let iterations: usize = std::env::var("KNOXCTL_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut slowest = Duration::ZERO;
    let mut verdicts = [0usize; 2];
    for i in 0..iterations {
        let seed = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, seed, &corpus);
        let start = Instant::now();
        let result =
            std::panic::catch_unwind(|| validate_bytes("mutant.yaml", &input, Options::default()));
        let took = start.elapsed();
        slowest = slowest.max(took);
        match result {
            Ok(r) => verdicts[usize::from(r.valid)] += 1,
            Err(_) => panic!(
                "iteration {i} panicked on input {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
        assert!(took < Duration::from_secs(1), "iteration {i} took {took:?}");
    }
    eprintln!(
        "{iterations} mutants: {} valid, {} invalid, slowest {slowest:?}",
        verdicts[1], verdicts[0]
    );
    assert!(
        verdicts[0] > 0 && verdicts[1] > 0,
        "mutations should produce both verdicts"
    );
}
