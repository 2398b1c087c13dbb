#!/usr/bin/env bash
# BPF-LSM overhead in the VM (Debian's kernel under qemu TCG): an exec loop, an open/close
# loop (miss cache hits) and a cache-missing open/close loop over 2,000 distinct deep
# files, without an enforcer, with the agent and 100 rules, and with 10 readOnly directory
# rules added, alternating in the same boot (benches/vm/overhead.sh). Prints the BENCH
# lines.
# With --containers: the exec and open loops inside a runc container that a policy selects
# vs with no agent, and on the host with and without that container policy
# (benches/vm/containers.sh) instead.
# Usage: benches/vm-overhead.sh [--realtime] [--containers]   (builds the release binary first)
#
# By default qemu runs with -icount shift=0: the guest's clock advances one nanosecond per
# emulated instruction, so the loops' times are instruction counts, repeatable to a few
# parts per thousand whatever else runs on the host (under plain TCG two runs of the same
# loop in one boot differed by up to 35%). --realtime times them by the wall clock instead.
set -euo pipefail
cd "$(dirname "$0")/.."
icount=(--icount 0 --append KNOX_ICOUNT=0)
scenario=overhead
for arg in "$@"; do
  case $arg in
    --realtime) icount=() ;;
    --containers) scenario=containers ;;
    *) echo "vm-overhead.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
cargo build --release --locked
scripts/vm/run.sh --knoxctl target/release/knoxctl --scenarios benches/vm --only "$scenario" \
  --timeout 2400 "${icount[@]}" | grep -E '^KNOX-RESULT' || true
grep -h 'BENCH' "target/vm/out/$scenario.log"
