#!/usr/bin/env bash
# BPF-LSM overhead in the VM (Debian's kernel under qemu TCG): exec and open/close loops
# with the agent and 100 rules vs without, in the same boot. Prints the BENCH lines.
# Usage: benches/vm-overhead.sh   (builds the release binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
scripts/vm/run.sh --knoxctl target/release/knoxctl --scenarios benches/vm --timeout 1200 \
  | grep -E '^ *overhead\| *BENCH|^KNOX-RESULT' || true
grep -h 'BENCH' target/vm/out/overhead.log
