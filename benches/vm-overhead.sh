#!/usr/bin/env bash
# Enforcer overhead in the VM (Debian's kernel under qemu TCG): an exec loop, an open/close
# loop (miss cache hits) and a cache-missing open/close loop over 2,000 distinct deep
# files, without an enforcer, with the agent and 100 rules, and with 10 readOnly directory
# rules added, alternating in the same boot (benches/vm/overhead.sh). Prints the BENCH
# lines.
# With --containers: the exec and open loops inside a runc container that a policy selects
# vs with no agent, and on the host with and without that container policy
# (benches/vm/containers.sh) instead.
# With --apparmor: the same loops with the AppArmor enforcer, in the boot tests/vm.rs uses
# for AppArmor (lsm=landlock,lockdown,yama,apparmor: no BPF-LSM; the host's
# apparmor_parser copied in), written under target/vm-apparmor.
# Usage: benches/vm-overhead.sh [--realtime] [--containers | --apparmor]
#   (builds the release binary first)
#
# By default qemu runs with -icount shift=0: the guest's clock advances one nanosecond per
# emulated instruction, so the loops' times are instruction counts, repeatable to a few
# parts per thousand whatever else runs on the host (under plain TCG two runs of the same
# loop in one boot differed by up to 35%). --realtime times them by the wall clock instead.
set -euo pipefail
cd "$(dirname "$0")/.."
icount=(--icount 0 --append KNOX_ICOUNT=0)
scenario=overhead
apparmor=()
out=target/vm
for arg in "$@"; do
  case $arg in
    --realtime) icount=() ;;
    --containers) scenario=containers ;;
    --apparmor)
      parser=$(PATH=$PATH:/usr/sbin:/sbin command -v apparmor_parser) ||
        { echo "vm-overhead.sh: --apparmor needs apparmor_parser (Debian package apparmor)" >&2; exit 2; }
      # The last lsm= wins: AppArmor without BPF-LSM, as tests/vm.rs boots it.
      apparmor=(--append lsm=landlock,lockdown,yama,apparmor --append KNOX_BENCH_ENFORCER=apparmor --add "$parser")
      out=target/vm-apparmor
      ;;
    *) echo "vm-overhead.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done
if [ ${#apparmor[@]} -gt 0 ] && [ "$scenario" != overhead ]; then
  echo "vm-overhead.sh: --apparmor measures the host loops only (not with --containers)" >&2
  exit 2
fi
cargo build --release --locked
KNOX_VM_DIR=$PWD/$out scripts/vm/run.sh --knoxctl target/release/knoxctl --scenarios benches/vm \
  --only "$scenario" --timeout 2400 "${icount[@]}" "${apparmor[@]}" | grep -E '^KNOX-RESULT' || true
grep -h 'BENCH' "$out/out/$scenario.log"
