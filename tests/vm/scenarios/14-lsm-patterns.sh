#!/bin/sh
# matchPatterns (AppArmor globs) enforced by BPF-LSM in the kernel, where KubeArmor's
# BPF-LSM enforcer ignores them: `*` stays within a path segment, `**` crosses them,
# `?`, classes and `{a,b}` alternatives; process and file rules; readOnly and Audit on a
# pattern; creation of a new file; the kernel-resolved path (symlinks, the dynamic loader
# cannot dodge a process pattern); policy updates switching automata without a stale
# match left behind.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

host_policy() { # NAME, then the spec body on stdin
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: %s\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n' "$1" >"$1.yaml"
  cat >>"$1.yaml"
  apply_policy "$1.yaml"
}

mkdir -p /srv/data/a/b /srv/scripts/sub
echo key >/srv/data/a/b/site.key
echo key >/srv/data/top.key
echo conf >/srv/data/a/b/site.conf
echo 'echo hi' >/srv/scripts/run.sh
echo 'echo hi' >/srv/scripts/sub/deep.sh
echo txt >/srv/scripts/notes.txt

start_agent --enforcer bpf-lsm

# --- file patterns: * within a segment, ** across, readOnly, Audit ---
host_policy file-globs <<'SPEC'
  file:
    matchPatterns:
    - pattern: /srv/scripts/*.sh
    - pattern: /srv/data/**/*.key
      readOnly: true
    - pattern: /srv/data/a/?/site.{conf,ini}
      action: Audit
  action: Block
SPEC
expect_denied "Permission denied" cat /srv/scripts/run.sh
expect_alert PolicyName=file-globs Resource=/srv/scripts/run.sh Operation=File Action=Block \
  Enforcer=BPFLSM "Result=Permission denied"
expect_ok cat /srv/scripts/notes.txt
# `*` does not cross '/': the deeper script is not matched.
expect_ok cat /srv/scripts/sub/deep.sh
# Creating a new file that matches is a write to it.
expect_denied "Permission denied" sh -c 'echo x >/srv/scripts/new.sh'
[ ! -e /srv/scripts/new.sh ] || fail "/srv/scripts/new.sh was created"
expect_alert PolicyName=file-globs Resource=/srv/scripts/new.sh Action=Block
# readOnly on '**': reads anywhere below, no writes. `**/` needs one more directory
# level, as in AppArmor: top.key is not matched.
expect_ok cat /srv/data/a/b/site.key
expect_denied "Permission denied" sh -c 'echo x >>/srv/data/a/b/site.key'
expect_alert PolicyName=file-globs Resource=/srv/data/a/b/site.key Action=Block
expect_ok sh -c 'echo x >>/srv/data/top.key'
# Audit: allowed and reported.
expect_ok cat /srv/data/a/b/site.conf
expect_alert PolicyName=file-globs Resource=/srv/data/a/b/site.conf Action=Audit Result=Passed
# The path the kernel resolved counts: a symlink elsewhere does not dodge the pattern.
ln -sf /srv/scripts/run.sh /tmp/innocent.txt
expect_denied "Permission denied" cat /tmp/innocent.txt
knoxctl policy delete file-globs
expect_ok cat /srv/scripts/run.sh

# --- process patterns: every apt binary, by any route ---
host_policy apt-glob <<'SPEC'
  process:
    matchPatterns:
    - pattern: /usr/bin/apt*
  action: Block
SPEC
expect_denied "Permission denied" apt --version
expect_denied "Permission denied" apt-get --version
expect_denied "Permission denied" apt-cache --version
expect_alert PolicyName=apt-glob Resource=/usr/bin/apt-cache Operation=Process Action=Block \
  Enforcer=BPFLSM
expect_ok dpkg --version
ln -sf /usr/bin/apt-get /tmp/getter
expect_denied "Permission denied" /tmp/getter --version
# The loader maps apt instead of executing it: it fails (how it says so is its business).
expect_fail /lib64/ld-linux-x86-64.so.2 /usr/bin/apt --version
expect_alert PolicyName=apt-glob Resource=/usr/bin/apt Data~SECURITY_MMAP_FILE Action=Block

# --- updates swap whole automata: the old pattern stops matching at once ---
host_policy apt-glob <<'SPEC'
  process:
    matchPatterns:
    - pattern: /usr/bin/dpkg*
  action: Block
SPEC
expect_ok apt --version
expect_denied "Permission denied" dpkg --version
host_policy apt-glob <<'SPEC'
  process:
    matchPatterns:
    - pattern: /usr/bin/apt-[gc]*
  action: Block
SPEC
expect_ok dpkg --version
expect_ok apt --version
expect_denied "Permission denied" apt-get --version
knoxctl policy delete apt-glob
expect_ok apt-get --version
log "matchPatterns: file and process globs enforced in the kernel"
