#!/bin/sh
# shellcheck shell=dash
# knoxctl's own programs under AppArmor: knoxctl-host is attached to /**, so without their
# own profiles the apparmor_parser the agent runs (and knoxctl itself, started after a
# load) would be confined by the rules. Under a capability allow-list with a block posture
# the parser would lack mac_admin and the next apply would fail; under a file allow-list
# knoxctl could not reach the agent's socket. They run in knoxctl-parser and
# knoxctl-agent, attached exactly to their paths, which allow everything.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

grep -qw apparmor /sys/kernel/security/lsm || skip "AppArmor is not active (lsm: $(cat /sys/kernel/security/lsm))"
profiles() { cat /sys/kernel/security/apparmor/profiles; }

cat >"$KNOX_AGENT_CONFIG" <<'CONFIG'
clusterName: default
defaultPosture:
  file: block
  network: audit
  capabilities: block
CONFIG
start_agent --enforcer apparmor

# --- a capability allow-list: knoxctl-host grants no capability ---
cat >caps.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: caps-allow-list
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  capabilities:
    matchCapabilities:
    - capability: net_raw
      fromSource:
      - path: /usr/bin/true
  action: Allow
POLICY
apply_policy caps.yaml
profiles
expect_output '^knoxctl-parser \(enforce\)' profiles
expect_output '^knoxctl-agent \(enforce\)' profiles
# The allow-list holds for everything else: root's chown needs CAP_CHOWN.
echo x >/tmp/owned
expect_denied "Operation not permitted" chown nobody /tmp/owned
# The second apply: the parser (exec'd by the agent, attached to knoxctl-parser) loads it.
cat >secret.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: block-secret
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  file:
    matchPaths:
    - path: /tmp/knox-secret
  action: Block
POLICY
echo secret >/tmp/knox-secret
apply_policy secret.yaml
expect_denied "Permission denied" cat /tmp/knox-secret
# And a third (a replace of the first).
apply_policy caps.yaml
expect_ok "$KNOXCTL" policy delete block-secret
expect_output secret cat /tmp/knox-secret

# --- a file allow-list: knoxctl-host reads only system directories and the runner's ---
cat >files.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: files-allow-list
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  file:
    matchDirectories:
    - dir: /usr/
      recursive: true
    - dir: /lib/
      recursive: true
    - dir: /lib64/
      recursive: true
    - dir: /etc/
      recursive: true
    - dir: /dev/
      recursive: true
    - dir: /proc/
      recursive: true
    - dir: /sys/
      recursive: true
    - dir: /tmp/
      recursive: true
    - dir: /run/knox-runner/
      recursive: true
  action: Allow
POLICY
mkdir -p /root/private && echo private >/root/private/f
apply_policy files.yaml
expect_denied "Permission denied" cat /root/private/f
# knoxctl started now runs in knoxctl-agent: it reaches the agent's socket (/run/knox.sock,
# which the allow-list leaves out), from an unconfined caller and from a confined shell.
expect_output 'files-allow-list' "$KNOXCTL" policy list
expect_output 'files-allow-list' sh -c "$KNOXCTL policy list"
# The next apply's parser reads what it needs and loads.
apply_policy secret.yaml
expect_denied "Permission denied" cat /tmp/knox-secret
expect_ok "$KNOXCTL" policy delete files-allow-list
expect_ok "$KNOXCTL" policy delete block-secret
expect_ok "$KNOXCTL" policy delete caps-allow-list
expect_output private cat /root/private/f
stop_agent
if profiles | grep -q '^knoxctl-'; then fail "knoxctl profiles left after the agent stopped"; fi

# --- alerts from the kernel log: an agent that cannot join the audit multicast group ---
# Without CAP_AUDIT_READ (dropped from the bounding set, as a confined or unprivileged
# agent lacks it) the bind to AUDIT_NLGRP_READLOG fails and the agent reads the audit
# records from /dev/kmsg, where the kernel prints them while no audit daemon runs (none
# here). A denial still becomes an AppArmor alert naming the policy.
printf '#!/bin/sh\nexec setpriv --bounding-set -audit_read -- %s "$@"\n' "$KNOXCTL" >/tmp/knoxctl-no-audit-read
chmod +x /tmp/knoxctl-no-audit-read
printf 'clusterName: default\n' >"$KNOX_AGENT_CONFIG"
knoxctl_real=$KNOXCTL
KNOXCTL=/tmp/knoxctl-no-audit-read
start_agent --enforcer apparmor
KNOXCTL=$knoxctl_real
assert_grep 'read from the kernel log \(/dev/kmsg' "$KNOX_AGENT_LOG"
log "the agent's $(grep CapEff /proc/"$KNOX_AGENT_PID"/status) (no bit 37, CAP_AUDIT_READ)"
cat >kmsg.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: block-kmsg-secret
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  file:
    matchPaths:
    - path: /tmp/knox-kmsg-secret
  action: Block
POLICY
echo secret >/tmp/knox-kmsg-secret
apply_policy kmsg.yaml
# Without an audit daemon the kernel prints audit records through printk's rate limit
# (10 per 5 s): the denials above can use it up, so the record of this one waits for a
# fresh window instead of being dropped ("audit: printk limit exceeded").
sleep 6
expect_denied "Permission denied" cat /tmp/knox-kmsg-secret
expect_alert PolicyName=block-kmsg-secret Enforcer=AppArmor "Result=Permission denied" \
  Resource=/tmp/knox-kmsg-secret Operation=File ProcessName=/usr/bin/cat
stop_agent
if profiles | grep -q '^knoxctl-'; then fail "knoxctl profiles left after the agent stopped"; fi
