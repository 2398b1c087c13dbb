#!/bin/sh
# AccuKnox's host scenario with the AppArmor enforcer, on a kernel booted with AppArmor and
# without BPF-LSM (lsm=landlock,lockdown,yama,apparmor): package managers blocked, a
# read-only directory (FIM), and confinement that does not depend on the program being a
# shell: a process started before the apply is confined at its next exec, a daemon started
# by a non-shell parent runs in knoxctl-host. Stopping the agent leaves no knoxctl-* profile.
# Every denial is also an alert (Enforcer AppArmor, from the kernel's audit records) naming
# its policy and process, and the eBPF monitor does not report it a second time.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

profiles() { cat /sys/kernel/security/apparmor/profiles; }
label() { cat "/proc/$1/attr/current"; }

grep -qw apparmor /sys/kernel/security/lsm || skip "AppArmor is not active (lsm: $(cat /sys/kernel/security/lsm))"
! grep -qw bpf /sys/kernel/security/lsm || fail "this boot should run without BPF-LSM"
# auto's pick where BPF-LSM is not in lsm= (before fanotify, which works here too), and
# probe says where its alerts come from.
expect_output '^apparmor +yes +<-' "$KNOXCTL" probe
expect_output '^fanotify +yes' "$KNOXCTL" probe
expect_output 'AUDIT_NLGRP_READLOG' "$KNOXCTL" probe -o json

# A process started before anything is loaded: unconfined until it execs.
mkfifo /tmp/go
/bin/busybox sh -c 'read x </tmp/go; exec /usr/bin/apt-get --version' >/tmp/early.out 2>&1 &
early=$!

start_agent --enforcer apparmor
assert_grep 'enforcer selected' "$KNOX_AGENT_LOG"
assert_grep 'audit netlink multicast group' "$KNOX_AGENT_LOG"
# aa_alert FILTER...: an AppArmor Block alert with these fields.
aa_alert() {
  expect_alert Enforcer=AppArmor Action=Block "Result=Permission denied" HostName=knox-vm \
    Type=MatchedHostPolicy "$@"
}

# --- package managers ---
policy_for_this_host /knox/examples/policies/accuknox-block-pkg-mgmt-tools.yaml >pkg.yaml
apply_policy pkg.yaml
profiles
expect_output '^knoxctl-host \(enforce\)' profiles
# This shell was started before the load: it is unconfined, and AppArmor checks an exec
# against the caller's profile. A shell started now (as a login would be) is confined.
[ "$(label $$)" = unconfined ] || fail "the scenario's shell was running before the load: $(label $$)"
expect_output '^knoxctl-host' sh -c 'cat /proc/self/attr/current'
expect_denied "Permission denied" sh -c 'apt install nginx'
expect_denied "Permission denied" sh -c '/usr/bin/apt-get --version'
expect_denied "Permission denied" sh -c '/bin/apt-get --version'
expect_denied "Permission denied" sh -c 'dpkg --version'
# Through the dynamic loader the program is mapped, not exec'd: `m` is refused.
expect_denied "failed to map segment" sh -c '/lib64/ld-linux-x86-64.so.2 /usr/bin/dpkg --version'
expect_ok sh -c 'ls /'
# From the unconfined shell the exec itself is not refused, but the program runs in
# knoxctl-host-block-N, which grants nothing: the loader cannot open its libraries.
expect_denied "error while loading shared libraries" dpkg --version
case $KNOX_OUT in *"package management program"*) fail "dpkg ran: $KNOX_OUT" ;; esac
PKG="PolicyName=block-pkg-mgmt-tools"
PKGMSG="Message=apt was attempted to be executed"
aa_alert "$PKG" Operation=Process Resource=/usr/bin/apt Data=syscall=SYS_EXECVE Severity=10 \
  "$PKGMSG" 'HostPID>=2'
aa_alert "$PKG" Operation=Process Resource=/usr/bin/apt-get Data=syscall=SYS_EXECVE
[ "$(alert_count Enforcer=AppArmor "$PKG" 'Resource~/apt-get$')" -ge 2 ] ||
  fail "two apt-get denials, not two alerts"
aa_alert "$PKG" Operation=Process Resource=/usr/bin/dpkg Data=syscall=SYS_EXECVE
# ld.so: the mapping of the program was refused.
aa_alert "$PKG" Operation=Process Resource=/usr/bin/dpkg 'Data~operation=file_mmap'
# From the unconfined shell: the program started in knoxctl-host-block-N, one alert for it
# (not one per library its loader was refused), whose Source is the shell that started it.
aa_alert "$PKG" Operation=Process Resource=/usr/bin/dpkg 'Data~profile=knoxctl-host-block-' \
  "$PKGMSG"
# The same for a process that was running before the load and execs now.
[ "$(label "$early")" = unconfined ] || fail "the early process: $(label "$early")"
echo go >/tmp/go
st=0
wait "$early" || st=$?
log "early process: exit $st, output: $(cat /tmp/early.out)"
[ "$st" -ne 0 ] || fail "the early process's exec of apt-get after the load ran: $(cat /tmp/early.out)"
grep -q '^apt ' /tmp/early.out && fail "apt-get ran: $(cat /tmp/early.out)"
grep -q 'error while loading shared libraries' /tmp/early.out || fail "early process: $(cat /tmp/early.out)"
aa_alert "$PKG" Operation=Process Resource=/usr/bin/apt-get "HostPID=$early" \
  'Data~profile=knoxctl-host-block-'

# --- file integrity monitoring: read-only system directories ---
cat >fim.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: harden-file-integrity-monitoring
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  action: Block
  file:
    matchDirectories:
    - dir: /usr/bin/
      readOnly: true
      recursive: true
    - dir: /usr/lib/
      readOnly: true
      recursive: true
    - dir: /etc/fim/
      readOnly: true
      recursive: true
  message: Detected and prevented compromise to File integrity
  severity: 1
POLICY
mkdir -p /etc/fim && echo original >/etc/fim/config
apply_policy fim.yaml
expect_denied "Permission denied" sh -c 'touch /usr/lib/test_file'
[ ! -e /usr/lib/test_file ] || fail "touch was denied but /usr/lib/test_file exists"
expect_denied "Permission denied" sh -c 'echo x >> /etc/fim/config'
expect_denied "Permission denied" sh -c 'rm -f /usr/bin/sleep'
echo eicar >/tmp/eicar
expect_denied "Permission denied" sh -c 'mv /tmp/eicar /usr/bin/eicar_test'
# This shell is unconfined: its own writes are not refused (documented limit).
expect_ok sh -c 'echo ok >/tmp/ok' 
expect_ok cat /etc/fim/config
expect_ok /usr/bin/head -c 1 /etc/hostname
FIM="PolicyName=harden-file-integrity-monitoring"
FIMMSG="Message=Detected and prevented compromise to File integrity"
aa_alert "$FIM" Operation=File Resource=/usr/lib/test_file 'Data~operation=mknod' Severity=1 \
  "$FIMMSG" 'HostPID>=2'
aa_alert "$FIM" Operation=File Resource=/etc/fim/config 'Data~operation=open'
aa_alert "$FIM" Operation=File Resource=/usr/bin/sleep 'Data~operation=unlink'
aa_alert "$FIM" Operation=File Resource=/usr/bin/eicar_test
# The package managers stay blocked: both policies are in the one profile.
expect_denied "Permission denied" sh -c 'dpkg --version' 

# --- a daemon started by a non-shell parent (busybox start-stop-daemon, as an init
# script would) is confined, and so is what it runs ---
cat >/tmp/daemon.sh <<'DAEMON'
#!/bin/sh
while :; do
  if echo tampered >>/etc/fim/config 2>/dev/null; then echo wrote; else echo denied; fi >/tmp/daemon.out
  sleep 0.2
done
DAEMON
chmod +x /tmp/daemon.sh
expect_ok start-stop-daemon -S -b -m -p /tmp/daemon.pid -x /tmp/daemon.sh
sleep 1
d=$(cat /tmp/daemon.pid)
log "daemon $d: $(label "$d"); its write: $(cat /tmp/daemon.out)"
case $(label "$d") in knoxctl-host*) ;; *) fail "the daemon runs as $(label "$d")" ;; esac
[ "$(cat /tmp/daemon.out)" = denied ] || fail "the daemon could write /etc/fim/config"
grep -q tampered /etc/fim/config && fail "/etc/fim/config was modified"
# Its denials are alerts naming the daemon's process (alive: read from /proc).
aa_alert "$FIM" Operation=File Resource=/etc/fim/config "HostPID=$d" 'ProcessName~^/'
kill "$d"
# Each denial is AppArmor's alert only: the monitor adds no Audit (Block) for them.
expect_no_alert 'Action=Audit (Block)'
expect_no_alert 'Enforcer=eBPF Monitor' "$FIM"
expect_no_alert 'Enforcer=eBPF Monitor' "$PKG"

# --- spec.apparmor: KubeArmor's raw rules go into knoxctl-host as written ---
mkdir -p /etc/knox-raw
echo raw >/etc/knox-raw/file
raw_policy() {
  cat <<POLICY
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: $1
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  apparmor: |
    $2
POLICY
}
raw_policy raw-rules 'deny /etc/knox-raw/** r,' >raw.yaml
apply_policy raw.yaml
# Under AppArmor the rules are loaded: no "not enforced" warning.
case $KNOX_OUT in *spec.apparmor*) fail "policy apply warned about spec.apparmor under AppArmor" ;; esac
# cat, started after the apply, runs in knoxctl-host: its read fails with EACCES.
expect_denied "Permission denied" cat /etc/knox-raw/file
expect_ok cat /etc/hostname
# raw-rules has no rule of the policy language: a stand-in rule names it (no severity).
expect_alert PolicyName=raw-rules Enforcer=AppArmor Operation=File Resource=/etc/knox-raw/file \
  Action=Block "Result=Permission denied"
# A raw rule the parser refuses: the apply fails naming the policy, the field, the line
# and the file, nothing is stored, and the profiles loaded before stay (the read is still denied).
raw_policy raw-bad 'deny /etc/knox-raw2/** rz,' >raw-bad.yaml
expect_fail "$KNOXCTL" policy apply -f raw-bad.yaml
case $KNOX_OUT in
  *'policy raw-bad: spec.apparmor (line 1: "deny /etc/knox-raw2/** rz,"): apparmor_parser refuses these raw rules'*) ;;
  *) fail "the refused raw rule is not named" ;;
esac
case $KNOX_OUT in
  *'(raw-bad is in raw-bad.yaml)'*) ;;
  *) fail "the file of the refused raw rule is not named" ;;
esac
expect_fail "$KNOXCTL" policy get raw-bad
expect_denied "Permission denied" cat /etc/knox-raw/file
expect_ok "$KNOXCTL" policy delete raw-rules
expect_ok cat /etc/knox-raw/file
# A policy with raw rules and a rule of the policy language: the raw deny (written audit
# deny) is an alert naming it, with the policy's severity, tags and message.
cat >raw-mixed.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: raw-mixed
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  severity: 6
  tags: [RAW]
  message: raw rule denied
  file:
    matchPaths:
    - path: /etc/knox-raw-other
  action: Block
  apparmor: |
    deny /etc/knox-raw/** r,
POLICY
apply_policy raw-mixed.yaml
expect_denied "Permission denied" cat /etc/knox-raw/file
expect_alert PolicyName=raw-mixed Enforcer=AppArmor Operation=File Resource=/etc/knox-raw/file \
  Action=Block "Result=Permission denied" Severity=6 Tags=RAW "Message=raw rule denied"
expect_ok "$KNOXCTL" policy delete raw-mixed
expect_ok cat /etc/knox-raw/file
log "apparmor: raw rules' denials: alert naming raw-mixed (Block, Permission denied, AppArmor); and naming raw-only raw-rules"

# --- policy delete, stop ---
expect_ok "$KNOXCTL" policy delete harden-file-integrity-monitoring
expect_ok sh -c 'touch /usr/lib/test_file'
rm -f /usr/lib/test_file
expect_denied "Permission denied" sh -c 'dpkg --version'
expect_denied "error while loading shared libraries" dpkg --version
stop_agent
profiles
if profiles | grep -q '^knoxctl-'; then fail "knoxctl profiles left after the agent stopped"; fi
expect_ok sh -c 'dpkg --version'
expect_ok dpkg --version
