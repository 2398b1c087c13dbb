#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Run as root on Debian.
# Installs the Debian packages the tests need, then runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

# bash drives the committed completion script in the completion tests; qemu, busybox-static
# and cpio boot the VM that tests/vm.rs runs its scenarios in (BPF-LSM, AppArmor); systemd
# provides systemd-analyze (the onboarding unit is verified with it) and tmux drives the
# onboarding prompt in a real terminal.
packages=(bash clang llvm libbpf-dev qemu-system-x86 busybox-static cpio systemd tmux)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

# Conformance inputs (KubeArmor's CRDs and corpora) are read from ../shared/conformance
# unless KNOXCTL_CONFORMANCE_DIR says otherwise; the tests say loudly when they are absent.
cargo build --release --locked
cargo test --release --locked
