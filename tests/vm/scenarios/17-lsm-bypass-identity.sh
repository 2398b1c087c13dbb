#!/bin/sh
# Routes that change what a protected directory is called without touching its files
# (issue #13): a chroot, renaming an ancestor, bind mounts, a private mount namespace,
# mounting over it. Each must end in "Permission denied" and a Block alert, because
# BPF-LSM matches the path from the mount namespace's root and knows the protected
# directories (and their ancestors) by inode; mounting over it or an ancestor is refused
# in the initial mount namespace and alerted in others.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

mkdir -p /opt/fim/sub /opt/bin
echo data >/opt/fim/f
# A shell and cat inside /opt for the chroot: busybox is static.
cp /bin/busybox /opt/bin/busybox
ln -s busybox /opt/bin/sh
ln -s busybox /opt/bin/cat

cat >fim.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: fim-readonly
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  file:
    matchDirectories:
    - dir: /opt/fim/
      recursive: true
      readOnly: true
  action: Block
POLICY

start_agent --enforcer bpf-lsm
apply_policy fim.yaml

# chroot (first: no other route has raised an alert on /opt/fim/f yet): inside, the file
# is /fim/f; the rule still sees /opt/fim/f.
expect_denied "Permission denied" chroot /opt /bin/sh -c 'echo x >/fim/f'
expect_ok chroot /opt /bin/sh -c 'cat /fim/f'
expect_alert PolicyName=fim-readonly Resource=/opt/fim/f Action=Block Result="Permission denied"
log "bypass bpf-lsm chroot: blocked"

# Renaming an ancestor would make /opt/fim/f /opt2/fim/f, which no rule names. Other
# renames in and of /opt's neighbours still work.
expect_denied "Permission denied" mv /opt /opt2
expect_denied "Permission denied" sh -c 'cd / && mv opt opt2'
expect_alert PolicyName=fim-readonly Resource=/opt Action=Block Operation=File \
  Data~SECURITY_PATH_RENAME Result="Permission denied"
expect_ok touch /opt/a
expect_ok mv /opt/a /opt/b
expect_ok mv /opt/bin /opt/bin2
expect_ok mv /opt/bin2 /opt/bin
[ -f /opt/fim/f ] || fail "/opt/fim/f moved"
# A process rule guards its directory's ancestors too (and the directory itself, which
# the file rules' path check does not cover for process rules).
mkdir -p /srv/tools
cp /usr/bin/true /srv/tools/t
cat >tools.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: tools-blocked
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  process:
    matchDirectories:
    - dir: /srv/tools/
      recursive: true
  action: Block
POLICY
apply_policy tools.yaml
expect_denied "Permission denied" /srv/tools/t
expect_denied "Permission denied" mv /srv /srv2
expect_denied "Permission denied" mv /srv/tools /srv/tools2
expect_alert PolicyName=tools-blocked Resource=/srv Action=Block Data~SECURITY_PATH_RENAME
expect_alert PolicyName=tools-blocked Resource=/srv/tools Action=Block Data~SECURITY_PATH_RENAME
log "bypass bpf-lsm rename ancestor: blocked"
# Mounts are not refused: refusing binds of a protected directory's ancestors also refused
# systemd's own sandboxing (ProtectSystem= binds / and /usr in the service's namespace).
# The rules follow the directory instead: the kernel's walk knows it by inode wherever it
# is mounted, and decides on its protected name (the alert's Resource is the path used,
# its Data ends with protected=...).
mkdir -p /mnt/bm /mnt/anc /mnt/x
expect_ok mount --bind /opt/fim /mnt/bm
expect_output data cat /mnt/bm/f
expect_denied "Permission denied" sh -c 'echo x >/mnt/bm/f'
expect_alert PolicyName=fim-readonly Resource=/mnt/bm/f Action=Block Result="Permission denied" \
  Data~"protected=/opt/fim/f"
expect_denied "Permission denied" sh -c 'echo x >/mnt/bm/new'
expect_alert PolicyName=fim-readonly Resource=/mnt/bm/new Action=Block \
  Data~"protected=/opt/fim/new"
expect_denied "Permission denied" rm -f /mnt/bm/f
expect_denied "Permission denied" sh -c 'cd /mnt/bm && echo x >>f'
[ "$(cat /opt/fim/f)" = data ] || fail "/opt/fim/f changed through /mnt/bm"
[ ! -e /opt/fim/new ] || fail "/opt/fim/new created through /mnt/bm"
log "bypass bpf-lsm bind mount dir: blocked"
expect_ok mount --bind /opt /mnt/anc
expect_output data cat /mnt/anc/fim/f
expect_denied "Permission denied" sh -c 'echo x >/mnt/anc/fim/f'
expect_alert PolicyName=fim-readonly Resource=/mnt/anc/fim/f Action=Block \
  Result="Permission denied" Data~"protected=/opt/fim/f"
# What the rule does not cover stays writable through the bind.
expect_ok sh -c 'echo x >/mnt/anc/bin/other'
expect_ok rm /opt/bin/other
log "bypass bpf-lsm bind mount ancestor: blocked"
# A private mount namespace is still the host's (the same hooks, the same rules).
expect_denied "Permission denied" unshare -m sh -c 'mount --bind /opt/fim /mnt/x && cat /mnt/x/f && echo x >/mnt/x/f'
expect_alert PolicyName=fim-readonly Resource=/mnt/x/f Action=Block Result="Permission denied" \
  Data~"protected=/opt/fim/f"
[ "$(cat /opt/fim/f)" = data ] || fail "/opt/fim/f changed in a mount namespace"
log "bypass bpf-lsm mount namespace + bind: blocked"
# Process rules follow their directory too: a blocked program run through a bind mount.
mkdir -p /mnt/t
expect_ok mount --bind /srv/tools /mnt/t
expect_denied "Permission denied" /mnt/t/t
expect_alert PolicyName=tools-blocked Resource=/mnt/t/t Action=Block \
  Data~"protected=/srv/tools/t"
umount /mnt/t
log "bypass bpf-lsm exec: bind mount of a blocked directory: blocked"
umount /mnt/bm
umount /mnt/anc
# Mounting over the directory, inside it or over an ancestor hides its files: refused in
# the initial mount namespace (the host's), with a Block alert naming the rule.
mkdir -p /tmp/fake
expect_denied "Permission denied" mount -t tmpfs t /opt/fim
expect_alert PolicyName=fim-readonly Resource=/opt/fim Action=Block Result="Permission denied" \
  Data~SECURITY_SB_MOUNT
expect_denied "Permission denied" mount -t tmpfs t /opt/fim/sub
expect_alert PolicyName=fim-readonly Resource=/opt/fim/sub Action=Block \
  Result="Permission denied" Data~SECURITY_SB_MOUNT
expect_denied "Permission denied" mount --bind /opt/bin /opt/fim
[ "$(cat /opt/fim/f)" = data ] || fail "/opt/fim/f changed"
log "bypass bpf-lsm mount over protected dir: blocked"
expect_denied "Permission denied" mount --bind /tmp/fake /opt
expect_alert PolicyName=fim-readonly Resource=/opt Action=Block Result="Permission denied" \
  Data~SECURITY_SB_MOUNT
expect_denied "Permission denied" mount -t tmpfs t /opt
# A mount moved over it (MS_MOVE) too.
expect_ok mount -t tmpfs t /mnt/x
expect_denied "Permission denied" mount -o move /mnt/x /opt
expect_ok umount /mnt/x
[ "$(cat /opt/fim/f)" = data ] || fail "/opt/fim/f hidden or changed"
log "bypass bpf-lsm mount over an ancestor: blocked"
# In another mount namespace (systemd's ProtectSystem= sandboxing binds / and /usr in the
# service's own one) mounts are not refused: one over the protected directory is alerted
# as Audit (Block), one over an ancestor is neither refused nor alerted. The host's
# directory is untouched.
expect_ok unshare -m sh -c 'mount -t tmpfs t /opt/fim && [ ! -e /opt/fim/f ]'
expect_alert PolicyName=fim-readonly Resource=/opt/fim Action="Audit (Block)" \
  Data~SECURITY_SB_MOUNT
before=$(alert_count Resource=/opt Data~SECURITY_SB_MOUNT)
expect_ok unshare -m sh -c 'mount --bind /tmp/fake /opt && [ ! -e /opt/fim/f ]'
sleep 1
[ "$(alert_count Resource=/opt Data~SECURITY_SB_MOUNT)" = "$before" ] ||
  fail "a mount over /opt in another mount namespace was alerted"
[ "$(cat /opt/fim/f)" = data ] || fail "/opt/fim/f changed"
log "bypass bpf-lsm mount namespace + mount over protected dir or ancestor: NOT blocked (host's directory unchanged; Audit (Block) alert on the directory, none on an ancestor: systemd's sandboxing mounts over / and /usr in each service's namespace)"
# Mounts elsewhere raise nothing.
expect_ok mount -t tmpfs t /mnt/x
expect_ok umount /mnt/x
expect_no_alert Resource=/mnt/x Data~SECURITY_SB_MOUNT
