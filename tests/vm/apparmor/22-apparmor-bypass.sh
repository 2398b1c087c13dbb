#!/bin/sh
# shellcheck shell=dash
# knox-timeout: 300
# The bypass routes of the BPF-LSM suite (tests/vm/scenarios/11-lsm-bypass.sh,
# 17-lsm-bypass-identity.sh, 18-lsm-bypass-execveat.sh) against the AppArmor enforcer.
# AppArmor decides on the path of the file as the hook resolves it in the caller's mount
# namespace (symlinks, `.`/`..`, /proc/self/root and file descriptors all end in that
# path), not on the file's identity: a route that gives the file another path is not
# stopped. Each route prints `# bypass apparmor ROUTE: blocked` or `NOT STOPPED (reason)`;
# a route AppArmor is expected to stop that is not stopped fails the scenario, and so does
# a route documented as not stopped that is (README.md, "AppArmor: bypass routes", must
# stay true). A process that was running before the apply is not stopped either, but what
# it does that a Block rule names is alerted (`Audit (Block)`, `Result: Passed`, the
# Enforcer saying it is unconfined), and only once: a confined process's denial is
# AppArmor's alert alone; the opens of confined processes do not even reach the monitor
# (its kernel filter reports only the opens of processes outside knoxctl's profiles). Nor
# is a process started before the apply that execs, after it, a program with a profile of
# its own (a distribution's, here the test profile knox-distro): that profile, not
# knoxctl's, decides its opens, and they are alerted, the Enforcer naming the profile.
#
# Commands run as children of this shell, so in knoxctl-host (this shell was started
# before the load and is unconfined; its children are attached to /**): the exec routes
# run under `sh -c`, so that the exec itself is checked by knoxctl-host.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

grep -qw apparmor /sys/kernel/security/lsm || skip "AppArmor is not active (lsm: $(cat /sys/kernel/security/lsm))"

unexpected=

# try CMD...: runs CMD; stopped=1 when it failed with "Permission denied" (or the loader's
# "failed to map segment"), else 0.
try() {
  _knox_run "$@"
  stopped=0
  if [ "$KNOX_RC" -ne 0 ]; then
    case $KNOX_OUT in
      *"Permission denied"* | *"failed to map segment"*) stopped=1 ;;
    esac
  fi
}

# route NAME blocked|open [WHY]: the result of the route just tried (stopped, or
# $1 = the content check's verdict), against what AppArmor is expected to do.
route() {
  if [ "$stopped" = 1 ]; then
    log "bypass apparmor $1: blocked"
    [ "$2" = blocked ] || unexpected="${unexpected:+$unexpected; }$1 was stopped, documented as not"
  else
    log "bypass apparmor $1: NOT STOPPED ($3)"
    [ "$2" = open ] || unexpected="${unexpected:+$unexpected; }$1 was NOT stopped"
  fi
}

mkdir -p /opt/fim/sub /opt/bin /srv/tools /mnt/bm /mnt/anc /mnt/x /mnt/t /tmp/fake
echo data >/opt/fim/f
cp /bin/busybox /opt/bin/busybox
ln -s busybox /opt/bin/sh
cp /usr/bin/true /srv/tools/t
# A hard link made before the apply (after it, a confined process cannot make one, below).
ln /usr/bin/apt /root/apt-early-link
intact() { [ "$(cat /opt/fim/f)" = data ] || fail "/opt/fim/f changed"; }

cat >bypass.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: block-apt
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  process:
    matchPaths:
    - path: /usr/bin/apt
    matchDirectories:
    - dir: /srv/tools/
      recursive: true
  file:
    matchPaths:
    - path: /root/secret
    matchDirectories:
    - dir: /opt/fim/
      recursive: true
      readOnly: true
  action: Block
POLICY

# A process started before the apply that never execs (shell builtins only; its `sleep`s
# are children that exec, and are confined): AppArmor attaches profiles at exec, so it
# stays unconfined and its reads of /root/secret are not refused.
echo secret >/root/secret
sh -c 'while :; do if read -r x </root/secret; then echo "read $x"; else echo denied; fi >/tmp/early.out 2>&1; sleep 0.2; done' &
early=$!

# A distribution-style profile of one program (cat's copy), more specific than
# knoxctl-host's /** and allowing every file access; and a process started now that execs
# it once told to (through a FIFO), after the apply. The program then waits on another
# FIFO: its label is read while it runs (one gone with its open is judged by its parent).
cp /bin/cat /usr/local/bin/knox-distro-reader
cat >/tmp/knox-distro.profile <<'PROFILE'
profile knox-distro /usr/local/bin/knox-distro-reader {
  file,
}
PROFILE
expect_ok apparmor_parser -r /tmp/knox-distro.profile
mkfifo /tmp/distro.go /tmp/distro.hold
sh -c 'read -r x </tmp/distro.go; exec /usr/local/bin/knox-distro-reader /root/secret /tmp/distro.hold >/tmp/distro.out 2>&1' &
distro=$!

start_agent --enforcer apparmor
apply_policy bypass.yaml

# --- a process running since before the apply: not stopped, alerted ---
sleep 1
log "early process $early: $(cat "/proc/$early/attr/current"), its read: $(cat /tmp/early.out)"
[ "$(cat "/proc/$early/attr/current")" = unconfined ] || fail "the early process is confined: $(cat "/proc/$early/attr/current")"
stopped=0
[ "$(cat /tmp/early.out)" = "read secret" ] || stopped=1
route "process running before the apply" open "AppArmor attaches profiles at exec; its opens a Block rule names are alerted: Audit (Block), Result Passed"
UNCONFINED="Enforcer=AppArmor (unconfined: started before the profile)"
expect_alert PolicyName=block-apt Operation=File Resource=/root/secret "HostPID=$early" \
  'Action=Audit (Block)' Result=Passed "$UNCONFINED" Type=MatchedHostPolicy 'Data~O_RDONLY'
kill "$early"
# A process started now (cat, exec'd by this shell) is confined: its read is refused, and
# alerted once, by AppArmor (not also as unconfined, nor by the monitor).
expect_denied "Permission denied" cat /root/secret
expect_alert PolicyName=block-apt Resource=/root/secret Enforcer=AppArmor Action=Block \
  'Result=Permission denied' "HostPID!=$early"
expect_no_alert Resource=/root/secret "HostPID!=$early" Result=Passed
expect_no_alert Resource=/root/secret 'Enforcer=eBPF Monitor'
# Only the opens of processes outside knoxctl's profiles are monitor events (the kernel
# filters the others): 2000 opens by a confined shell add nearly none to the count.
monitor_events() { "$KNOXCTL" probe | sed -n 's/.*monitor events \([0-9]*\).*/\1/p'; }
before=$(monitor_events)
sh -c 'i=0; while [ $i -lt 2000 ]; do read -r x </etc/hostname; i=$((i+1)); done'
sleep 1
after=$(monitor_events)
log "monitor events around 2000 confined opens: $before -> $after"
[ -n "$before" ] && [ -n "$after" ] || fail "no monitor event count in knoxctl probe"
[ $((after - before)) -lt 500 ] || fail "a confined process's opens reach the monitor: $before -> $after"

# --- a process running since before the apply that execs a program with its own profile ---
echo go >/tmp/distro.go
expect_alert PolicyName=block-apt Operation=File Resource=/root/secret "HostPID=$distro" \
  'Action=Audit (Block)' Result=Passed "Enforcer=AppArmor (confined by its own profile knox-distro, not by knoxctl's)"
log "process $distro: $(cat "/proc/$distro/attr/current")"
: >/tmp/distro.hold
wait "$distro" || true
log "process $distro exec'd knox-distro-reader, its read: $(cat /tmp/distro.out)"
stopped=0
[ "$(cat /tmp/distro.out)" = secret ] || stopped=1
route "process running before the apply, exec'ing a program with its own profile" open "that profile, not knoxctl-host, decides its opens; those a Block rule names are alerted: Audit (Block), Result Passed"
expect_ok apparmor_parser -R /tmp/knox-distro.profile
rm -f /usr/local/bin/knox-distro-reader /tmp/knox-distro.profile /tmp/distro.go /tmp/distro.hold

# --- exec routes (11-lsm-bypass.sh) ---
try sh -c '/usr/bin/apt --version'
[ "$stopped" = 1 ] || fail "the rule itself does not hold"
ln -s /usr/bin/apt /tmp/innocent
try sh -c '/tmp/innocent --version'
route "exec: symlink" blocked
try ln /usr/bin/apt /root/apt-hardlink
route "exec: hard link (made after the apply)" blocked
try sh -c '/root/apt-early-link --version'
route "exec: hard link (made before the apply)" open "another name of the same file: AppArmor matches the path, not the inode"
try sh -c '//usr/bin/apt --version && /usr/./bin/apt --version && /usr/bin/../bin/apt --version'
route "exec: // and /./ spellings" blocked
try sh -c 'cd /usr/bin && ./apt --version'
route "exec: relative path" blocked
try sh -c '/proc/self/root/usr/bin/apt --version'
route "exec: /proc/self/root path" blocked
printf '#!/usr/bin/apt\n' >/tmp/apt-script
chmod +x /tmp/apt-script
try sh -c '/tmp/apt-script'
route "exec: shebang interpreter" open "the kernel opens the interpreter inside the exec of the script, which AppArmor checks against the script's path"
try sh -c '/lib64/ld-linux-x86-64.so.2 /usr/bin/apt --version'
route "exec: dynamic loader (ld.so PROG)" blocked
log "bypass apparmor exec: busybox applet under any name: not run (AppArmor sees the file, /usr/bin/busybox: a rule on one applet's link covers every applet of the binary, or none)"

# --- exec from a file descriptor (18-lsm-bypass-execveat.sh) ---
helper=${knox_execveat:-}
if [ -n "$helper" ] && [ -x "$helper" ]; then
  try sh -c "$helper empty-path /usr/bin/apt --version; $helper fexecve /usr/bin/apt --version"
  route "exec: execveat/fexecve" blocked
  try sh -c "$helper dirfd /usr/bin/apt --version"
  route "exec: execveat(dirfd, name)" blocked
else
  log "bypass apparmor exec: execveat/fexecve: not run (no helper in this VM: knox_execveat='$helper')"
fi

# --- names of a protected directory (17-lsm-bypass-identity.sh) ---
try chroot /opt /bin/sh -c 'echo x >/fim/f'
intact
route "chroot" blocked
try mv /opt /opt2
stopped=0
if [ -d /opt2 ]; then
  try sh -c 'echo x >/opt2/fim/f'
  [ "$stopped" = 1 ] || echo data >/opt2/fim/f
  mv /opt2 /opt
fi
intact
route "rename ancestor" open "/opt is not covered by /opt/fim/ rules, and afterwards the files' path is /opt2/fim/..., which no rule names"
try mv /srv /srv2
if [ -d /srv2 ]; then
  try sh -c '/srv2/tools/t'
  mv /srv2 /srv
fi
route "exec: rename ancestor of a blocked directory" open "the program's path is then /srv2/tools/t"
expect_ok mount --bind /opt/fim /mnt/bm
try sh -c 'echo x >/mnt/bm/f'
[ "$stopped" = 1 ] || echo data >/mnt/bm/f
umount /mnt/bm
intact
route "bind mount dir" open "the bind gives the files the path /mnt/bm/..., which no rule names"
expect_ok mount --bind /opt /mnt/anc
try sh -c 'echo x >/mnt/anc/fim/f'
[ "$stopped" = 1 ] || echo data >/mnt/anc/fim/f
umount /mnt/anc
intact
route "bind mount ancestor" open "the bind gives the files the path /mnt/anc/fim/..."
try unshare -m sh -c 'mount --bind /opt/fim /mnt/x && echo x >/mnt/x/f'
[ "$stopped" = 1 ] || echo data >/opt/fim/f
intact
route "mount namespace + bind" open "the path in that namespace is /mnt/x/..."
expect_ok mount --bind /srv/tools /mnt/t
try sh -c '/mnt/t/t'
umount /mnt/t
route "exec: bind mount of a blocked directory" open "the program's path is /mnt/t/t"
# Mounting over the directory: the mount is not refused (knoxctl-host allows mount), it
# hides the files; the path keeps its rules, so the hiding file system is read-only too.
try mount -t tmpfs t /opt/fim
if [ "$stopped" = 0 ]; then
  try sh -c 'echo x >/opt/fim/f'
  [ "$stopped" = 1 ] || log "the tmpfs over /opt/fim took a write"
  umount /opt/fim
  stopped=0
fi
intact
route "mount over protected dir" open "the mount is allowed and hides the directory's files (the path stays read-only on the new mount; the files themselves are untouched)"
try mount --bind /tmp/fake /opt
if [ "$stopped" = 0 ]; then
  umount /opt
fi
intact
route "mount over an ancestor" open "the mount is allowed and hides the directory's files (untouched)"

stop_agent
[ -z "$unexpected" ] || fail "$unexpected"
