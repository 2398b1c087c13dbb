#!/bin/sh
# shellcheck shell=dash
# `knoxctl onboard vm` in systemd mode under a real systemd as PID 1 (the Debian 12 guest
# scripts/vm/systemd.sh boots): for each enforcer the unit must support (auto, which is
# BPF-LSM in this VM, and fanotify), onboarding installs and starts the hardened unit, the
# sandboxed agent enforces a host policy, systemd restarts it after `kill -9` and
# enforcement comes back, re-onboarding changes nothing, and offboarding leaves nothing.
#
# Usage: scenario.sh --list          the check names, one a line (the host's list of tests)
#        scenario.sh                 runs every check (knox-scenario.service does, at boot)
#        scenario.sh --check NAME    runs one check (the runner below, in its own session)
#
# Console protocol, as scripts/vm/guest/runner.sh's: KNOX-BOOTED, KNOX-BEGIN name,
# KNOX-OUT name| line, KNOX-RESULT name PASS|FAIL|SKIP reason (secs), KNOX-DONE, plus
# `KNOX-OUT name| TIMING ...` lines with the measured restart gaps.
#
# The checks of one enforcer depend on each other (a restart needs an onboarded agent):
# state passes through files under /run/knox-sd, and a check whose round already failed
# ends at once as FAIL naming the failed check. Offboarding always runs, so the next
# round starts from a clean host.

ENFORCERS="auto fanotify"
STEPS="onboard enforce watchdog restart noop offboard"

checks() {
  echo boot
  for e in $ENFORCERS; do
    for s in $STEPS; do
      echo "${e}_$s"
    done
  done
}

if [ "${1:-}" = --list ]; then
  checks
  exit 0
fi

# The binary onboarding copies to /usr/local/bin/knoxctl (so the receipt records that it
# installed it, and offboarding must remove it); every command here runs this copy, which
# offboarding leaves alone.
KNOXCTL=/knox/knoxctl
KNOX_STATE=/var/lib/knoxctl
KNOX_SOCKET=/run/knoxctl/agent.sock
SD=/run/knox-sd
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh
# The installation's default socket and state dir, not lib.sh's scenario agent's.
unset KNOXCTL_SOCKET KNOXCTL_STATE_DIR
PATH=/knox:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
UNIT=knoxctl.service
UNIT_FILE=/etc/systemd/system/$UNIT
POLICY_NAME=knox-sd-block-apt

# The agent's log is the unit's journal.
agent_log() {
  printf -- '--- journalctl -u %s ---\n' "$UNIT"
  journalctl -u "$UNIT" -b --no-pager -o short-monotonic 2>&1 | tail -n 40
  printf -- '--- end of journal ---\n'
}

prop() {
  systemctl show -p "$1" --value "$UNIT"
}

# Milliseconds since boot (builtins only: a policy under test may deny execs).
# /proc/uptime has centiseconds and the integer part is never 0 by now (no octal).
now_ms() {
  local up rest
  read -r up rest </proc/uptime
  up=${up%.*}${up#*.}
  echo $((up * 10))
}

# The exec a policy blocks: denied with this message by this enforcer.
denial_message() {
  case $1 in
    fanotify) echo "Operation not permitted" ;;
    *) echo "Permission denied" ;;
  esac
}

backend_of() {
  case $1 in
    auto) echo bpf-lsm ;;
    *) echo "$1" ;;
  esac
}

onboard_args() {
  case $1 in
    auto) echo "--yes" ;;
    *) echo "--yes --enforcer $1" ;;
  esac
}

# Whether /usr/bin/apt is denied now, with MESSAGE (no output: for polling loops).
apt_denied() {
  local out
  if out=$(/usr/bin/apt --version 2>&1 </dev/null); then
    return 1
  fi
  case $out in *"$1"*) return 0 ;; esac
  return 1
}

# requires CHECK: this check needs CHECK to have passed in this boot.
requires() {
  [ -e "$SD/passed/$1" ] || fail "not run: $1 did not pass"
}

# ---- the checks --------------------------------------------------------------------

check_boot() {
  expect_output '^systemd$' cat /proc/1/comm
  [ -d /run/systemd/system ] || fail "/run/systemd/system is missing: systemd is not PID 1"
  # Our own unit is part of the boot transaction only as a started (Type=exec) job.
  _knox_run timeout 120 systemctl is-system-running --wait
  case $KNOX_OUT in
    running) ;;
    degraded) _knox_run systemctl --failed --no-pager ;;
    *) fail "systemctl is-system-running: $KNOX_OUT" ;;
  esac
  expect_ok systemd-analyze time
  expect_output 'bpf' cat /sys/kernel/security/lsm
  expect_output '^knox-vm$' hostname
}

# The unit's sandbox as the kernel sees it on the agent: the bounding set is exactly the
# unit's CapabilityBoundingSet= lines, no new privileges, a seccomp filter, and its own
# mount namespace with / and /sys read-only but the BPF filesystem writable.
check_sandbox() {
  local pid=$1 mask=0 cap n bnd
  # One capability a line, no blanks: words are lines.
  # shellcheck disable=SC2013
  for cap in $(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT_FILE"); do
    case $cap in
      CAP_CHOWN) n=0 ;;
      CAP_DAC_OVERRIDE) n=1 ;;
      CAP_DAC_READ_SEARCH) n=2 ;;
      CAP_FOWNER) n=3 ;;
      CAP_KILL) n=5 ;;
      CAP_SETGID) n=6 ;;
      CAP_SETUID) n=7 ;;
      CAP_NET_ADMIN) n=12 ;;
      CAP_IPC_LOCK) n=14 ;;
      CAP_SYS_PTRACE) n=19 ;;
      CAP_SYS_ADMIN) n=21 ;;
      CAP_SYS_RESOURCE) n=24 ;;
      CAP_AUDIT_WRITE) n=29 ;;
      CAP_MAC_ADMIN) n=33 ;;
      CAP_SYSLOG) n=34 ;;
      CAP_PERFMON) n=38 ;;
      CAP_BPF) n=39 ;;
      *) fail "check_sandbox: no bit known for $cap (add it here)" ;;
    esac
    mask=$((mask | (1 << n)))
  done
  bnd=$(sed -n 's/^CapBnd:[[:space:]]*//p' "/proc/$pid/status")
  log "CapBnd of pid $pid: $bnd; the unit's set: $(printf '%016x' "$mask")"
  [ $((0x$bnd)) -eq "$mask" ] || fail "the agent's bounding set $bnd is not the unit's $(printf '%016x' "$mask")"
  assert_grep '^NoNewPrivs:[[:space:]]*1$' "/proc/$pid/status"
  assert_grep '^Seccomp:[[:space:]]*2$' "/proc/$pid/status"
  [ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/1/ns/mnt)" ] ||
    fail "the agent shares PID 1's mount namespace: ProtectSystem= is not in effect"
  # mountinfo: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...
  # The last mount on a path is the one the agent sees: / and /sys read-only, the BPF
  # filesystem (pins) writable.
  mount_opts "$pid" / | grep -q '^ro' || fail "/ is not read-only for the agent"
  mount_opts "$pid" /sys | grep -q '^ro' || fail "/sys is not read-only for the agent"
  mount_opts "$pid" /sys/fs/bpf | grep -q '^rw' || fail "/sys/fs/bpf is not writable for the agent"
}

# mount_opts PID PATH: the mount options of the mount PID sees at PATH (mountinfo: ID
# PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ...), logged.
mount_opts() {
  local o
  o=$(awk -v p="$2" '$5 == p { o = $6 } END { print o }' "/proc/$1/mountinfo")
  log "the agent's $2: ${o:-not mounted}" >&2
  echo "$o"
}

check_onboard() {
  local e=$1 backend pid out
  backend=$(backend_of "$e")
  # shellcheck disable=SC2046 # the flags are words
  expect_output "systemd mode, enforcer $backend" timeout 120 "$KNOXCTL" onboard vm $(onboard_args "$e")
  out=$KNOX_OUT
  printf '%s\n' "$out" | grep -qE '^ +mode +systemd' || fail "the plan did not pick systemd mode"
  expect_output '^active$' systemctl is-active "$UNIT"
  expect_output '^enabled$' systemctl is-enabled "$UNIT"
  [ -f "$UNIT_FILE" ] || fail "no $UNIT_FILE"
  [ -x /usr/local/bin/knoxctl ] || fail "onboarding did not install /usr/local/bin/knoxctl"
  pid=$(prop MainPID)
  [ "${pid:-0}" -gt 0 ] || fail "the unit has no MainPID"
  printf '%s\n' "$out" | grep -q "the agent (pid $pid)" ||
    fail "the agent that answers is not the unit's MainPID $pid"
  case $(tr '\0' ' ' <"/proc/$pid/cmdline") in
    "/usr/local/bin/knoxctl agent "*) ;;
    *) fail "MainPID $pid is not the installed agent: $(tr '\0' ' ' <"/proc/$pid/cmdline")" ;;
  esac
  check_sandbox "$pid"
  _knox_run systemctl status "$UNIT" --no-pager -n 5
  cp "$KNOX_STATE/onboard.json" "$SD/receipt.$e"
  echo "$pid" >"$SD/pid.$e"
}

check_enforce() {
  local e=$1 msg
  requires "${e}_onboard"
  msg=$(denial_message "$e")
  cat >policy.yaml <<EOF
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: $POLICY_NAME
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: $(hostname)
  severity: 5
  message: apt under systemd
  process:
    matchPaths:
    - path: /usr/bin/apt
  action: Block
EOF
  apply_policy policy.yaml
  expect_denied "$msg" /usr/bin/apt --version
  expect_output '^apt ' /usr/bin/apt-get --version
  expect_ok /usr/bin/true
  expect_alert PolicyName=$POLICY_NAME Action=Block Resource=/usr/bin/apt
  expect_output "$POLICY_NAME" "$KNOXCTL" alerts
}

check_watchdog() {
  local e=$1 t0 t i=0
  requires "${e}_onboard"
  expect_output '^30s$' prop WatchdogUSec
  # systemd stamps WatchdogTimestamp at every WATCHDOG=1; the agent pings every 7.5 s.
  t0=$(prop WatchdogTimestampMonotonic)
  log "last watchdog ping at ${t0} us (monotonic)"
  while t=$(prop WatchdogTimestampMonotonic) && [ "$t" = "$t0" ]; do
    i=$((i + 1))
    [ "$i" -le 200 ] || fail "no WATCHDOG=1 within 20 s (WatchdogTimestampMonotonic stays $t0)"
    sleep 0.1
  done
  log "next watchdog ping at ${t} us"
  [ "$(prop NRestarts)" = 0 ] || fail "the agent was restarted already: NRestarts=$(prop NRestarts)"
}

check_restart() {
  local e=$1 msg pid0 n0 pid t_kill since t_started='' t_answer='' t_enforce='' t i=0
  requires "${e}_onboard"
  requires "${e}_enforce"
  msg=$(denial_message "$e")
  pid0=$(prop MainPID)
  n0=$(prop NRestarts)
  log "MainPID $pid0, NRestarts $n0; kill -9 $pid0"
  t_kill=$(now_ms)
  since=$(date +%s)
  kill -KILL "$pid0"
  if [ "$e" = auto ]; then
    # Pinned BPF-LSM links keep enforcing with no agent at all.
    apt_denied "$msg" || fail "apt ran while the BPF-LSM agent was dead: the pinned links do not enforce"
    log "apt still denied with no agent running ($(($(now_ms) - t_kill)) ms after the kill)"
  fi
  # A round costs a few hundred ms under TCG (systemctl, an exec, a knoxctl call) taken
  # from the one vCPU the agent verifies its BPF programs on: poll every 0.25 s, ask
  # systemd only until the new MainPID shows, the agent only once its socket exists. The
  # times are that coarse.
  while [ -z "$t_answer" ] || [ -z "$t_enforce" ]; do
    if [ -z "$t_started" ]; then
      pid=$(prop MainPID)
      if [ "$pid" != "$pid0" ] && [ "$pid" != 0 ]; then
        t_started=$(now_ms)
      fi
    fi
    # fanotify: only a new agent's denial counts (the dying one may still answer).
    if [ -z "$t_enforce" ] && { [ "$e" = auto ] || [ -n "$t_started" ]; } && apt_denied "$msg"; then
      t_enforce=$(now_ms)
    fi
    if [ -z "$t_answer" ] && [ -n "$t_started" ] && [ -S "$KNOX_SOCKET" ] &&
      "$KNOXCTL" policy list >/dev/null 2>&1; then
      t_answer=$(now_ms)
    fi
    i=$((i + 1))
    [ "$i" -le 480 ] || { agent_log; fail "the agent was not back after 480 polls (answers: ${t_answer:-no}, enforces: ${t_enforce:-no})"; }
    sleep 0.25
  done
  pid=$(prop MainPID)
  expect_output '^active$' systemctl is-active "$UNIT"
  [ "$pid" != "$pid0" ] || fail "MainPID is still $pid0"
  [ "$(prop NRestarts)" = $((n0 + 1)) ] || fail "NRestarts is $(prop NRestarts), expected $((n0 + 1))"
  log "new MainPID $pid, NRestarts $(prop NRestarts)"
  t=$(awk -v s="$t_started" -v a="$t_answer" -v b="$t_enforce" -v k="$t_kill" \
    'BEGIN { printf "kill->new MainPID %.2f s, kill->agent answers %.2f s, kill->enforcement back %.2f s", (s - k) / 1000, (a - k) / 1000, (b - k) / 1000 }')
  printf 'TIMING %s (%s, RestartSec=2): %s\n' "$e" "$(backend_of "$e")" "$t"
  if [ "$e" = auto ]; then
    log "BPF-LSM: enforcement never lapsed (pinned links); 'back' is the first poll"
  fi
  expect_denied "$msg" /usr/bin/apt --version
  # The restarted agent raises alerts too (one since the kill; a second early for rounding).
  expect_alert PolicyName=$POLICY_NAME Action=Block "Timestamp>=$((since - 1))"
  check_sandbox "$pid"
  echo "$pid" >"$SD/pid.$e"
  agent_log
}

check_noop() {
  local e=$1 pid0 n0
  requires "${e}_onboard"
  pid0=$(prop MainPID)
  n0=$(prop NRestarts)
  # shellcheck disable=SC2046 # the flags are words
  expect_output 'already onboarded, nothing to do' timeout 60 "$KNOXCTL" onboard vm $(onboard_args "$e")
  [ "$(prop MainPID)" = "$pid0" ] || fail "MainPID changed from $pid0 to $(prop MainPID)"
  [ "$(prop NRestarts)" = "$n0" ] || fail "NRestarts changed from $n0 to $(prop NRestarts)"
  expect_output '^active$' systemctl is-active "$UNIT"
}

# Offboarding without --purge after the auto round (the state stays, as the receipt
# says), with --purge after the last one (nothing at all stays).
check_offboard() {
  local e=$1 purge='' receipt d msg left t
  [ "$e" = "${ENFORCERS##* }" ] && purge=--purge
  msg=$(denial_message "$e")
  receipt=$SD/receipt.$e
  [ -f "$receipt" ] || cp "$KNOX_STATE/onboard.json" "$receipt" 2>/dev/null || true
  t=$(now_ms)
  expect_output 'offboarded:' timeout 120 "$KNOXCTL" offboard vm --yes $purge
  log "offboarding took $(($(now_ms) - t)) ms"
  # How the agent stopped (SIGTERM answered, or systemd's SIGKILL after TimeoutStopSec=).
  agent_log
  [ ! -e "$UNIT_FILE" ] || fail "$UNIT_FILE is still there"
  [ ! -e "/etc/systemd/system/multi-user.target.wants/$UNIT" ] || fail "the unit is still enabled"
  expect_ok systemctl daemon-reload
  expect_output '^not-found$' prop LoadState
  expect_fail systemctl is-active "$UNIT"
  if left=$(pgrep -a knoxctl); then
    fail "knoxctl processes left: $left"
  fi
  for d in /sys/fs/bpf/knoxctl /etc/knoxctl /run/knoxctl /usr/local/bin/knoxctl; do
    [ ! -e "$d" ] || fail "$d is still there"
  done
  if [ -f "$receipt" ]; then
    log "receipt: $(tr -d '\n' <"$receipt")"
    # Onboarding's own paths: no blanks.
    # shellcheck disable=SC2013
    for d in $(sed -n '/"createdDirs"/,/]/s/^ *"\(\/[^"]*\)".*/\1/p' "$receipt"); do
      if [ -e "$d" ] && { [ -n "$purge" ] || [ "$d" != "$KNOX_STATE" ]; }; then
        fail "$d (created by onboarding, per the receipt) is still there"
      fi
    done
  fi
  if [ -n "$purge" ]; then
    [ ! -e "$KNOX_STATE" ] || fail "--purge left $KNOX_STATE"
  else
    [ -d "$KNOX_STATE" ] || fail "offboarding without --purge removed $KNOX_STATE"
    assert_grep '"binaryInstalled": false' "$KNOX_STATE/onboard.json"
  fi
  if apt_denied "$msg"; then
    fail "/usr/bin/apt is still denied after offboarding"
  fi
  expect_output '^apt ' /usr/bin/apt --version
  expect_output 'not onboarded on this host: nothing to do' "$KNOXCTL" offboard vm --yes
}

# ---- one check, in its own session (the runner below starts it) ------------------------

if [ "${1:-}" = --check ]; then
  name=$2
  mkdir -p "$SD/passed" "/tmp/knox/$name"
  cd "/tmp/knox/$name" || exit 1
  case $name in
    boot) check_boot ;;
    *_*) "check_${name#*_}" "${name%%_*}" ;;
  esac
  : >"$SD/passed/$name"
  exit 0
fi

# ---- the runner -----------------------------------------------------------------------

uptime_s() { cut -d' ' -f1 /proc/uptime; }

echo
echo "KNOX-BOOTED $(uptime_s)"
echo "KNOX-INFO kernel=$(uname -r) lsm=$(cat /sys/kernel/security/lsm 2>/dev/null) pid1=$(cat /proc/1/comm)"
rm -rf "$SD"
mkdir -p "$SD/passed"
limit=${knox_timeout:-180}
count=0
for name in $(checks); do
  count=$((count + 1))
  meta=$SD/meta/$name
  mkdir -p "$meta"
  mkfifo "$meta/out"
  echo "KNOX-BEGIN $name"
  start=$(uptime_s)
  (awk -v p="KNOX-OUT $name| " '{ print p $0; fflush() }' <"$meta/out"; : >"$meta/out-done") &
  (
    KNOX_REASON_FILE=$meta/reason HOME=/root
    export KNOX_REASON_FILE HOME
    exec setsid /bin/sh -e "$0" --check "$name"
  ) </dev/null >"$meta/out" 2>&1 &
  pid=$!
  # shellcheck disable=SC2016 # the inner shell expands its own arguments
  setsid sh -c 'sleep "$1" && : >"$2" && kill -KILL -"$3"' watchdog \
    "$limit" "$meta/timed-out" "$pid" </dev/null >/dev/null 2>&1 &
  watchdog=$!
  rc=0
  wait "$pid" || rc=$?
  kill -KILL -"$watchdog" 2>/dev/null
  kill -KILL -"$pid" 2>/dev/null
  i=0
  while [ ! -e "$meta/out-done" ] && [ "$i" -lt 50 ]; do
    sleep 0.1
    i=$((i + 1))
  done
  secs=$(awk -v a="$start" -v b="$(uptime_s)" 'BEGIN { printf "%.2f", b - a }')
  reason=$(head -n 1 "$meta/reason" 2>/dev/null | tr -d '\r')
  if [ -e "$meta/timed-out" ]; then
    status=FAIL
    reason="timed out after ${limit} s${reason:+ ($reason)}"
  elif [ "$rc" -eq 0 ]; then
    status=PASS
  else
    status=FAIL
    [ -n "$reason" ] || reason="exit status $rc"
  fi
  echo "KNOX-RESULT $name $status ${reason:+$reason }(${secs}s)"
done
echo "KNOX-DONE $count $(uptime_s)"
