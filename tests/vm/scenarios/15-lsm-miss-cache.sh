#!/bin/sh
# The BPF-LSM miss cache (a file that matched no rule is remembered on its inode) must
# never outlive what made it a miss: each case first makes the kernel cache a miss for a
# file, then changes the file's path (rename of the file, of an ancestor directory, a
# moved mount) or the rules, and checks that the now-matching rule is enforced at once.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

host_policy() { # NAME, then the spec body on stdin
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: %s\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n' "$1" >"$1.yaml"
  cat >>"$1.yaml"
  apply_policy "$1.yaml"
}

mkdir -p /srv/bin /srv/open/sub /srv/mnt /srv/locked-mnt
cp /usr/bin/true /srv/bin/free
echo data >/srv/open/sub/x
echo data >/srv/later
mount -t tmpfs knox-cache /srv/mnt
echo data >/srv/mnt/y

start_agent --enforcer bpf-lsm
host_policy cache-rules <<'SPEC'
  process:
    matchPaths:
    - path: /srv/bin/blocked
  file:
    matchDirectories:
    - dir: /srv/vault/sub/
      recursive: true
    - dir: /srv/locked-mnt/
      recursive: true
  action: Block
SPEC

# Each file is used twice first: the second time is answered from the cache.
expect_ok /srv/bin/free
expect_ok /srv/bin/free
expect_ok cat /srv/open/sub/x
expect_ok cat /srv/open/sub/x
expect_ok cat /srv/mnt/y
expect_ok cat /srv/mnt/y
expect_ok cat /srv/later
expect_ok cat /srv/later

# The file renamed onto a blocked name.
expect_ok mv /srv/bin/free /srv/bin/blocked
expect_denied "Permission denied" /srv/bin/blocked
expect_alert PolicyName=cache-rules Resource=/srv/bin/blocked Action=Block

# An ancestor renamed (to a name no rule covers, so the rename itself is allowed): the
# file's own dentry, name and parent are unchanged, its path now under a blocked dir.
expect_ok mv /srv/open /srv/vault
expect_denied "Permission denied" cat /srv/vault/sub/x
expect_alert PolicyName=cache-rules Resource=/srv/vault/sub/x Action=Block

# A mount moved under a blocked directory: same dentry, same mount, new path. In a private
# mount namespace: in the initial one, moving a mount onto a protected directory is itself
# refused (17-lsm-bypass-identity). The miss is cached there first, on that namespace's
# copy of the mount.
expect_denied "Permission denied" unshare -m sh -c \
  'cat /srv/mnt/y && cat /srv/mnt/y && mount --move /srv/mnt /srv/locked-mnt && cat /srv/locked-mnt/y'
case $KNOX_OUT in
  *"mount: "*) fail "the mount was refused in a private mount namespace" ;;
esac
expect_alert PolicyName=cache-rules Resource=/srv/locked-mnt/y Action=Block
umount /srv/mnt

# New rules: a cached miss of the old rules is not a miss of the new ones.
host_policy cache-later <<'SPEC'
  file:
    matchPaths:
    - path: /srv/later
  action: Block
SPEC
expect_denied "Permission denied" cat /srv/later
knoxctl policy delete cache-later
expect_ok cat /srv/later
knoxctl policy delete cache-rules
log "the miss cache never outlived a rename, a moved mount or a rule change"
