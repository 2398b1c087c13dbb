#!/bin/sh
# The rule kinds beyond plain paths, enforced by BPF-LSM in the kernel: fromSource,
# ownerOnly, allow-list mode with each default posture, network protocols and
# capabilities.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

host_policy() { # NAME, then the spec body on stdin
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: %s\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n' "$1" >"$1.yaml"
  cat >>"$1.yaml"
  apply_policy "$1.yaml"
}

start_agent --enforcer bpf-lsm

# --- fromSource: date is blocked when bash runs it, not when dash does ---
host_policy date-from-bash <<'SPEC'
  process:
    matchPaths:
    - path: /usr/bin/date
      fromSource:
      - path: /usr/bin/bash
  action: Block
SPEC
expect_denied "Permission denied" bash -c '/usr/bin/date'
expect_ok sh -c '/usr/bin/date'
expect_alert PolicyName=date-from-bash Resource=/usr/bin/date Action=Block Source=/usr/bin/bash
knoxctl policy delete date-from-bash

# --- ownerOnly: only the file's owner may open it ---
echo secret >/tmp/secret
chmod 644 /tmp/secret
host_policy owner-only <<'SPEC'
  file:
    matchPaths:
    - path: /tmp/secret
      ownerOnly: true
  action: Block
SPEC
expect_ok cat /tmp/secret
expect_denied "Permission denied" as_user knox cat /tmp/secret
expect_alert PolicyName=owner-only Resource=/tmp/secret Action=Block UID=1000
knoxctl policy delete owner-only

# --- the exec's own open is not a file open: under a readOnly (and ownerOnly) directory
# rule, another user runs the program there (the kernel opens it with __FMODE_EXEC in
# f_flags, not in f_mode, before 6.8 and after), while reading it as that user and writing
# it as root are still refused. Before the f_flags test the exec was refused by file_open.
mkdir -p /tmp/ro-bin
cp /usr/bin/true /tmp/ro-bin/true
chmod 755 /tmp/ro-bin /tmp/ro-bin/true
host_policy exec-open-ro <<'SPEC'
  file:
    matchDirectories:
    - dir: /tmp/ro-bin/
      recursive: true
      readOnly: true
      ownerOnly: true
  action: Block
SPEC
expect_ok as_user knox /tmp/ro-bin/true
expect_ok /tmp/ro-bin/true
expect_no_alert PolicyName=exec-open-ro
expect_denied "Permission denied" sh -c 'echo x >>/tmp/ro-bin/true'
expect_denied "Permission denied" as_user knox cat /tmp/ro-bin/true
expect_alert PolicyName=exec-open-ro Resource=/tmp/ro-bin/true Action=Block UID=0 \
  Data~SECURITY_FILE_OPEN
expect_alert PolicyName=exec-open-ro Resource=/tmp/ro-bin/true Action=Block UID=1000 \
  Data~SECURITY_FILE_OPEN
knoxctl policy delete exec-open-ro

# --- network: icmp sockets from busybox (ping) are refused; tcp is not ---
host_policy no-icmp <<'SPEC'
  network:
    matchProtocols:
    - protocol: icmp
      fromSource:
      - path: /bin/busybox
  action: Block
SPEC
expect_denied "Permission denied" ping -c 1 -W 1 127.0.0.1
expect_alert PolicyName=no-icmp Operation=Network Action=Block Enforcer=BPFLSM Data~SOCKET_CREATE
knoxctl policy delete no-icmp

# --- capabilities: chown needs CAP_CHOWN, even for root ---
echo x >/tmp/owned
host_policy no-chown <<'SPEC'
  capabilities:
    matchCapabilities:
    - capability: chown
      fromSource:
      - path: /bin/busybox
  action: Block
SPEC
expect_denied "Operation not permitted" busybox chown 1000 /tmp/owned
expect_alert PolicyName=no-chown Operation=Capabilities Resource=CAP_CHOWN Action=Block \
  Result="Operation not permitted"
knoxctl policy delete no-chown
expect_ok busybox chown 1000 /tmp/owned

# --- allow-list mode, default posture audit (KubeArmor's default): allowed, reported ---
cp /usr/bin/true /tmp/mytrue
host_policy allow-system-binaries <<'SPEC'
  process:
    matchDirectories:
    - dir: /usr/
      recursive: true
    - dir: /bin/
      recursive: true
    - dir: /lib64/
      recursive: true
  action: Allow
SPEC
expect_ok /tmp/mytrue
expect_alert PolicyName=DefaultPosture Resource=/tmp/mytrue Action=Audit Result=Passed
stop_agent

# --- the same with defaultPosture block: denied ---
printf 'clusterName: default\ndefaultPosture:\n  file: block\n' >"$KNOX_AGENT_CONFIG"
start_agent --enforcer bpf-lsm
expect_denied "Permission denied" /tmp/mytrue
expect_ok /usr/bin/true
expect_alert PolicyName=DefaultPosture Resource=/tmp/mytrue Action=Block Result="Permission denied"
knoxctl policy delete allow-system-binaries
expect_ok /tmp/mytrue
rm -f "$KNOX_AGENT_CONFIG"
