#!/bin/sh
# `knoxctl probe` runs in the VM and sees the BPF-LSM backend; `auto` picks it before
# AppArmor (this boot runs both LSMs), and with BPF-LSM selected no knoxctl AppArmor
# profile is loaded: the two never both enforce.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

expect_ok knoxctl probe -o json
printf '%s\n' "$KNOX_OUT" | grep -q '"bpf-lsm"' || fail "probe output does not mention bpf-lsm"
printf '%s\n' "$KNOX_OUT" | grep -q '"selected": *"bpf-lsm"' || fail "auto does not pick bpf-lsm"
# Debian's kernel accepts trampolines: opens are traced by fexit, not by syscall
# tracepoints that would put every syscall on the slow path.
printf '%s\n' "$KNOX_OUT" | grep -q '"opensVia": *"fexit"' || fail "probe: opens not traced by fexit"
expect_output '^bpf-lsm +yes +<-' knoxctl probe
expect_output '^eBPF monitor file events: fexit' knoxctl probe

start_agent
assert_grep 'auto: BPF-LSM works here' "$KNOX_AGENT_LOG"
policy_for_this_host /knox/examples/policies/accuknox-block-pkg-mgmt-tools.yaml >pkg.yaml
apply_policy pkg.yaml
expect_denied "Permission denied" dpkg --version
if [ -r /sys/kernel/security/apparmor/profiles ]; then
  if grep '^knoxctl-' /sys/kernel/security/apparmor/profiles; then
    fail "a knoxctl AppArmor profile is loaded next to BPF-LSM"
  fi
fi
expect_ok "$KNOXCTL" policy delete block-pkg-mgmt-tools
stop_agent
# BPF-LSM's pins outlive the agent: the later scenarios start from a clean kernel.
lsm_reset
