#!/bin/sh
# Routes that change what a protected directory is called without touching its files
# (issue #13): a chroot, renaming an ancestor, bind mounts, a private mount namespace,
# mounting over it. Each must end in "Permission denied" and a Block alert, because
# BPF-LSM matches the path from the mount namespace's root and knows the protected
# directories (and their ancestors) by inode.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

mkdir -p /opt/fim /opt/bin
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
