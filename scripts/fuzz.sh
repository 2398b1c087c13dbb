#!/usr/bin/env bash
# Coverage-guided fuzzing of the policy parser/validator with cargo-fuzz (libFuzzer).
# Usage: scripts/fuzz.sh [SECONDS]   (default 60). Seeds come from examples/policies.
# cargo-fuzz needs nightly features; RUSTC_BOOTSTRAP lets the stable toolchain build it.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
mkdir -p fuzz/corpus/validate
cp examples/policies/*.yaml fuzz/corpus/validate/
RUSTC_BOOTSTRAP=1 cargo fuzz run validate fuzz/corpus/validate -- -max_total_time="$seconds" -rss_limit_mb=2048
