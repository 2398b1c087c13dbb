//! Coverage-guided fuzzing of the whole validate path (YAML loading, schema walk, semantic
//! checks, normalization). Run: `scripts/fuzz.sh [SECONDS]`.
#![no_main]

use knoxctl::policy::validate::{Options, validate_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = validate_bytes("fuzz.yaml", data, Options::default());
    // Rendering must not panic either (positions, hints).
    for d in report.diagnostics() {
        let _ = d.render("fuzz.yaml");
    }
    let strict = validate_bytes("fuzz.yaml", data, Options { strict: true });
    assert!(!strict.valid || report.valid, "strict accepted what the default refused");
});
