//! Validate throughput: documents per second through the whole `policy validate` path
//! (parse, schema walk, semantic checks, normalization) on one thread.
//!
//! Run: `cargo bench --bench validate` (prints one line per input set; BENCHMARKS.md records
//! the numbers). Inputs: the examples in this repository and, when present, KubeArmor's own
//! policy corpus from ../shared/conformance (KNOXCTL_CONFORMANCE_DIR).

use knoxctl::policy::validate::{Options, validate_bytes};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(p);
        }
    }
}

fn bench(name: &str, dir: &Path) {
    let mut files = Vec::new();
    yaml_files(dir, &mut files);
    let inputs: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read(f).unwrap()))
        .collect();
    if inputs.is_empty() {
        eprintln!("{name}: no inputs under {} (skipped)", dir.display());
        return;
    }
    let bytes: usize = inputs.iter().map(|(_, b)| b.len()).sum();
    let docs_per_pass: usize = inputs
        .iter()
        .map(|(p, b)| validate_bytes(p, b, Options::default()).documents.len())
        .sum();
    // Warm up, then run whole passes for at least two seconds.
    for (p, b) in &inputs {
        black_box(validate_bytes(p, b, Options::default()));
    }
    let start = Instant::now();
    let mut passes = 0usize;
    while start.elapsed() < Duration::from_secs(2) {
        for (p, b) in &inputs {
            black_box(validate_bytes(p, b, Options::default()));
        }
        passes += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    let docs = (docs_per_pass * passes) as f64;
    println!(
        "validate/{name}: {:.0} documents/s, {:.1} MB/s ({} files, {} documents, {} bytes per pass, {} passes)",
        docs / secs,
        (bytes * passes) as f64 / secs / 1e6,
        inputs.len(),
        docs_per_pass,
        bytes,
        passes
    );
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench("examples", &root.join("examples/policies"));
    let conformance = std::env::var_os("KNOXCTL_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/conformance"));
    bench("kubearmor-corpus", &conformance.join("kubearmor/policies"));
}
