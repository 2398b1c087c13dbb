#!/bin/sh
# shellcheck shell=dash
# knox-timeout: 900
# KubeArmor's own host scenarios (tests/k8s_env/host_scenarios in KubeArmor's repository,
# from the conformance corpus) against the BPF-LSM enforcer: each dir's policy applied to
# this VM, each cmdN run and checked as KubeArmor's test runner checks it, the policy
# deleted before the next dir. One agent for the whole scenario.
#
# The cmd files (`cmd:`, `result:`, then `operation:`, `condition:`, `action:`) mean, in
# KubeArmor's runner (tests/k8s_env/test-scenarios-in-runtime.sh), for host policies:
#   result failed               the command fails: here non-zero AND "Permission denied"
#                               (the runner only looks at the log; we check both);
#   result passed               the command exits 0;
#   action Block|Allow + failed an alert PolicyName=<policy> Operation=<operation>,
#                               Resource containing <condition>, Action=<action>, Result
#                               other than Passed;
#   action Audit + passed       the same alert with Result=Passed;
#   action Block|Allow + passed no such alert (Result other than Passed);
#   result/action default       the runner resolves it against the default posture (block:
#                               failed + DefaultPosture/Block; audit: passed +
#                               DefaultPosture/Audit). KubeArmor's host default posture
#                               (hostDefaultFilePosture) is audit, and so is knoxctl's
#                               (defaultPosture.file, set explicitly below): the command
#                               passes and raises an alert PolicyName=DefaultPosture
#                               Action=Audit for the condition. (The runner skips these
#                               checks for host policies; the policies' comments, "bash:
#                               /usr/bin/ls: Permission denied", describe block posture
#                               under AppArmor, whose fromSource profiles confine only the
#                               source. A block posture cannot be run here: with BPF-LSM an
#                               Allow rule puts the whole host in allow-list mode, so every
#                               other exec on the VM, this script's included, would be
#                               denied, in KubeArmor as in knoxctl.)
# Two checks go further than the runner: alerts must come from the command's own process
# (or a child), so one case's alert cannot satisfy the next; and an Allow+passed case must
# raise no DefaultPosture alert for its condition, or the Allow rule did not match and only
# the audit posture let the command through.
#
# Commands run as root, through `bash -c`, as the runner runs them (`source:` names the
# Kubernetes node and means nothing here). Policies select nodes by kubernetes.io/hostname:
# only its value is rewritten to this VM's name, and the agent carries that label, as a
# Kubernetes node does.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

# Intended differences from KubeArmor, `dir/cmdN: reason` (none: every case must pass).
known_differences=''

ka_host_scenarios bpf-lsm
