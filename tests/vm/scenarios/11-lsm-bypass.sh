#!/bin/sh
# Tricks that slip past path-based enforcers (KubeArmor #970, #984, #2319, #1592, #1900):
# each must still end in "Permission denied" and a Block alert, because BPF-LSM matches
# the file the kernel resolved (and its inode), not the string the caller typed.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

# The applet case needs /usr/bin/wget to be busybox's (the harness links applets).
[ "$(readlink -f /usr/bin/wget)" = "$(readlink -f /bin/busybox)" ] ||
  fail "/usr/bin/wget is not a busybox applet here: $(ls -l /usr/bin/wget)"

cat >bypass.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: block-apt-and-wget
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  process:
    matchPaths:
    - path: /usr/bin/apt
    - path: /usr/bin/wget
  action: Block
POLICY

start_agent --enforcer bpf-lsm
apply_policy bypass.yaml

expect_denied "Permission denied" /usr/bin/apt --version
# A symlink elsewhere.
ln -s /usr/bin/apt /tmp/innocent
expect_denied "Permission denied" /tmp/innocent --version
# A hard link (same file system as /usr/bin: the VM's root).
ln /usr/bin/apt /root/apt-hardlink
expect_denied "Permission denied" /root/apt-hardlink --version
# Path spellings.
expect_denied "Permission denied" //usr/bin/apt --version
expect_denied "Permission denied" /usr/./bin/apt --version
expect_denied "Permission denied" /usr/bin/../bin/apt --version
expect_denied "Permission denied" sh -c 'cd /usr/bin && ./apt --version'
# Through procfs, and as a script's interpreter (the kernel execs apt for the script).
expect_denied "Permission denied" /proc/self/root/usr/bin/apt --version
printf '#!/usr/bin/apt\n' >/tmp/apt-script
chmod +x /tmp/apt-script
expect_denied "Permission denied" /tmp/apt-script
# Through the dynamic loader: no exec of apt at all, its pages are mapped executable.
expect_fail /lib64/ld-linux-x86-64.so.2 /usr/bin/apt --version
case $KNOX_OUT in
  *"apt 2."*) fail "apt ran through the loader" ;;
esac
expect_alert PolicyName=block-apt-and-wget Resource=/usr/bin/apt Data~SECURITY_MMAP_FILE Action=Block
# A busybox applet: the rule names /usr/bin/wget, a link to busybox. Other spellings of
# the same applet are denied, other applets of the same binary are not.
expect_denied "Permission denied" wget --help
expect_denied "Permission denied" /bin/wget --help
ln -s /bin/busybox /tmp/wget
expect_denied "Permission denied" /tmp/wget --help
expect_ok /usr/bin/seq 1 2
expect_ok /bin/busybox true
# Busybox picks the applet from argv, not from the file: `busybox wget`, and argv[0]
# set to the applet's name by the caller, are the same applet.
expect_denied "Permission denied" busybox wget --help
expect_denied "Permission denied" /bin/busybox wget --help
expect_denied "Permission denied" bash -c 'exec -a wget /bin/busybox --help'
# An argument that happens to be the applet's name is only an argument.
expect_output '^wget$' busybox echo wget
expect_output '^wget$' busybox basename /tmp/wget
ln -s /bin/busybox /tmp/echo
expect_output '^wget$' /tmp/echo wget
# Everything else runs.
expect_output '^Linux' uname -s

expect_alert PolicyName=block-apt-and-wget Resource=/usr/bin/apt Action=Block Enforcer=BPFLSM \
  Result="Permission denied" Data=lsm=SECURITY_BPRM_CHECK
expect_alert PolicyName=block-apt-and-wget Resource=/root/apt-hardlink Action=Block
expect_alert PolicyName=block-apt-and-wget Resource=/usr/bin/busybox Action=Block
# Reached only if every route above was refused: the bypass table (scripts/test.sh).
for route in "exec: symlink" "exec: hard link" "exec: // and /./ spellings" \
  "exec: relative path" "exec: /proc/self/root path" "exec: shebang interpreter" \
  "exec: dynamic loader (ld.so PROG)" \
  "exec: busybox applet under any name" "exec: busybox applet by argv[0]"; do
  log "bypass bpf-lsm $route: blocked"
done
