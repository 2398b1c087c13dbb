#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this). Run as root on Debian.
#
# 1. Installs the Debian packages the tests need (a fresh machine has only the Rust
#    toolchain and the base image; a missing tool is a failure in the tests, never a skip).
# 2. Builds, runs clippy with warnings as errors, and every test target (cargo test
#    --no-fail-fast: one failing target does not hide the others' results).
# 3. Runs the CLI and agent tests a second time with the host in the other state: if an
#    onboarded agent answers on the default paths (README's first command), with it hidden;
#    if none does, with one onboarded for the duration (scripts/test-agent-states.sh).
#
# Ends with one line `suite: N passed, M failed` counting every test of every run, and exits
# non-zero when anything failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each package is for:
#   bash zsh fish       the completion tests drive the committed completion scripts
#   clang llvm libbpf-dev  tests/bpf_objects.rs rebuilds the BPF objects and compares them
#   bpftool             sysdump's BPF items, and the VM scenarios inspect BPF-LSM links
#   qemu-system-x86 busybox-static cpio  the VM that tests/vm.rs boots (BPF-LSM, AppArmor)
#   mmdebstrap          the Debian root file system the systemd-PID-1 VM boots
#   systemd             systemd-analyze verify for the onboarding unit
#   tmux                the onboarding prompt, answered in a real terminal
#   util-linux          unshare (the second pass hides an onboarded agent)
#   podman runc         tests/containers.rs runs real containers (not crun: it failed here)
#   docker.io           the same for docker: the test starts containerd and dockerd itself
#   curl wget net-tools the binaries scripts/containers-setup.sh copies into the images of
#                       KubeArmor's container scenarios (tests/kubearmor_containers.rs)
#   python3-grpcio python3-grpc-tools
#                       tests/grpc.rs: a Python client generated from KubeArmor's own .proto
#                       files, a client of the gRPC API that is not ours
#   rsyslog             tests/forward.rs: its own rsyslogd child receives syslog over UDP,
#                       TCP and a local socket
#   openssl             makes the TLS certificates of tests/grpc.rs and tests/forward.rs
packages=(bash zsh fish clang llvm libbpf-dev bpftool qemu-system-x86 busybox-static cpio mmdebstrap
  systemd tmux util-linux podman runc docker.io curl wget net-tools python3-grpcio python3-grpc-tools
  rsyslog openssl apparmor) # apparmor: apparmor_parser compiles the AppArmor enforcer's profiles (tests/apparmor.rs)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  # No recommends: qemu's alone pull in a desktop's worth of GUI libraries.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# podman's configuration for this machine and the local busybox image (no registry).
scripts/containers-setup.sh

# Every prerequisite is installed above: a test that finds one missing fails instead of
# skipping (tests/common/mod.rs, prerequisite).
export KNOXCTL_TEST_STRICT=1

log=$(mktemp -t knoxctl-test.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0
step() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "test.sh: ---- $name ----" >&2
  set +e
  "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  set -e
  echo "test.sh: $name: $([ "$rc" -eq 0 ] && echo ok || echo "FAILED (exit $rc)") in $(($(date +%s) - t0)) s" >&2
  [ "$rc" -eq 0 ] || status=1
  return 0
}

# Conformance inputs (KubeArmor's CRDs and corpora) are read from ../shared/conformance
# unless KNOXCTL_CONFORMANCE_DIR says otherwise; the tests say loudly when they are absent.
cargo build --release --locked
step clippy cargo clippy --release --locked --all-targets -- -D warnings
step "cargo test" cargo test --release --locked --no-fail-fast
step "CLI and agent tests, other agent state" scripts/test-agent-states.sh

# Every libtest summary line, plus the VM targets' own (same format).
read -r passed failed < <(awk '
  /^test result: / {
    for (i = 1; i <= NF; i++) {
      if ($(i) ~ /^passed;?$/) p += $(i - 1)
      if ($(i) ~ /^failed;?$/) f += $(i - 1)
    }
  }
  END { print p + 0, f + 0 }' "$log")
[ "$status" -eq 0 ] || [ "$failed" -gt 0 ] || failed=1
# The bypass table per backend: fanotify's from tests/enforce_e2e.rs, BPF-LSM's from the
# VM scenarios (issue #13: every route blocked, or listed with the reason it cannot be).
echo "bypass routes (blocked, or NOT blocked with the reason):"
{ cat "${CARGO_TARGET_DIR:-target}"/tmp/bypass-*.txt 2>/dev/null || true; grep -h '^bypass ' "$log" || true; } |
  sort -u | sed 's/^bypass /  /'
# Containers on BPF-LSM, one line per case (tests/vm/scenarios/19-lsm-containers.sh).
echo "containers on BPF-LSM (VM):"
{ grep -h '^container ' "$log" || echo "container  (did not run)"; } | sort -u | sed 's/^container /  /'
# KubeArmor's own non-Kubernetes container scenarios, one line each (tests/containers.rs).
echo "KubeArmor container scenarios:"
{ cat "${CARGO_TARGET_DIR:-target}"/tmp/kubearmor-nonk8s-*.txt 2>/dev/null || echo "kubearmor-nonk8s  (did not run)"; } |
  sed 's/^kubearmor-nonk8s /  /'
# KubeArmor's Kubernetes container scenarios, run natively in podman containers, one line
# each and the pass count (tests/kubearmor_containers.rs).
echo "KubeArmor Kubernetes container scenarios (multiubuntu, github; natively, no Kubernetes):"
{ cat "${CARGO_TARGET_DIR:-target}"/tmp/kubearmor-k8s-containers-*.txt 2>/dev/null || echo "kubearmor-k8s  (did not run)"; } |
  sed 's/^kubearmor-k8s /  /'
echo "suite: $passed passed, $failed failed"
exit "$status"
