#!/bin/sh
# shellcheck shell=dash
# knox-timeout: 900
# KubeArmor's own host scenarios (tests/k8s_env/host_scenarios, from the conformance
# corpus) against the AppArmor enforcer, on the boot without BPF-LSM: the same cases and
# checks as tests/vm/scenarios/20-kubearmor-host-scenarios.sh (which says what each cmd
# file means), from one implementation (tests/vm/lib.sh, ka_host_scenarios). A case passes
# on the kernel's outcome (exit status, "Permission denied"); its alert checks are counted
# apart (`outcome N/M, alerts K/M`): denials are alerts from the kernel's audit records,
# the default posture's audits (allow-list mode, posture audit: the profiles audit every
# open and exec) too, and Audit rules come from the eBPF monitor.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

grep -qw apparmor /sys/kernel/security/lsm || skip "AppArmor is not active (lsm: $(cat /sys/kernel/security/lsm))"

# This shell was started before the agent loaded any profile, so it is unconfined, and
# AppArmor checks an exec against the caller's profile: a blocked program it execs is not
# refused (it runs in a knoxctl-host-block-N profile and fails before main, "error while
# loading shared libraries", the limit README.md and `probe` state). Each command is
# exec'd by a shell started for it instead (`sh -c 'exec CMD'`, the same process), as a
# command typed in a login shell started after the apply is.
KA_VIA_SHELL=1

# Intended differences from KubeArmor, `dir/cmdN: reason` (none: every case must pass).
known_differences=''
# Cases AppArmor cannot express, `dir/cmdN: reason` (none).
ka_not_expressible=''

ka_host_scenarios apparmor
