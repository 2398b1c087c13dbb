#!/bin/sh
# Runs every /knox/scenarios/*.sh in name order, one after the other, and reports on the
# console with this protocol (parsed by scripts/vm/run.sh; every line a scenario prints
# is prefixed, so no scenario output can be mistaken for a marker):
#   KNOX-BOOTED <uptime>
#   KNOX-BEGIN <name>
#   KNOX-OUT <name>| <a line of the scenario's stdout+stderr>
#   KNOX-RESULT <name> PASS|FAIL|SKIP <reason> (<seconds>s)
#   KNOX-DONE <count> <uptime>
#
# Each scenario runs as `/bin/sh -e` in a fresh directory under /tmp/knox, in its own session
# so that it and whatever it left running can be killed as one process group, with a
# time limit: `knox_timeout=` on the kernel command line, or a `# knox-timeout: SECS`
# line in the scenario. Exit status 77 means SKIP, as with automake.
#
# /bin/sh is the host's dash when it has one (tests/vm/binaries.txt), not busybox: Debian's
# busybox ash runs its own applets ahead of PATH, so `ls` in a scenario would never exec
# /usr/bin/ls, and exec rules are about exactly that.

uptime_s() { cut -d' ' -f1 /proc/uptime; }

# The firmware leaves terminal escapes on the line; start on a fresh one.
echo
echo "KNOX-BOOTED $(uptime_s)"
echo "KNOX-INFO kernel=$(uname -r) lsm=$(cat /sys/kernel/security/lsm 2>/dev/null)"

default_limit=${knox_timeout:-120}
count=0
for script in /knox/scenarios/*.sh; do
  [ -e "$script" ] || continue
  name=$(basename "$script" .sh)
  count=$((count + 1))
  limit=$(sed -n 's/^# knox-timeout: *\([0-9][0-9]*\).*/\1/p' "$script" | head -n 1)
  [ -n "$limit" ] || limit=$default_limit

  work=/tmp/knox/$name
  meta=/run/knox-runner/$name
  rm -rf "$work" "$meta"
  mkdir -p "$work" "$meta"
  mkfifo "$meta/out"

  echo "KNOX-BEGIN $name"
  start=$(uptime_s)
  # fflush: the console should show each line as it happens, so a hang shows where.
  (awk -v p="KNOX-OUT $name| " '{ print p $0; fflush() }' <"$meta/out"; : >"$meta/out-done") &
  (
    cd "$work" || exit 1
    KNOX_SCENARIO=$name KNOX_WORKDIR=$work KNOX_REASON_FILE=$meta/reason HOME=/root
    export KNOX_SCENARIO KNOX_WORKDIR KNOX_REASON_FILE HOME
    # Not a process group leader here, so setsid execs in place: $! is the session.
    exec setsid /bin/sh -e "$script"
  ) </dev/null >"$meta/out" 2>&1 &
  pid=$!
  # shellcheck disable=SC2016 # the inner shell expands its own arguments
  setsid sh -c 'sleep "$1" && : >"$2" && kill -KILL -"$3"' watchdog \
    "$limit" "$meta/timed-out" "$pid" </dev/null >/dev/null 2>&1 &
  watchdog=$!

  rc=0
  wait "$pid" || rc=$?
  kill -KILL -"$watchdog" 2>/dev/null
  # Whatever the scenario left behind (a background agent) must not leak into the next one.
  kill -KILL -"$pid" 2>/dev/null
  # Neither may enforcement: BPF-LSM programs stay attached, by design, after the agent is
  # gone, for as long as their pins exist (what `offboard` removes).
  rm -rf /sys/fs/bpf/knoxctl
  # And the agent's state: the next scenario's agent would restore these policies.
  rm -rf /run/knox-state /run/knox.sock /run/knox-agent.yaml
  # The output pipe ends when its last writer is gone; give up after 5 s (a leftover that
  # escaped the process group), the result matters more than the tail of the output.
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
  elif [ "$rc" -eq 77 ]; then
    status=SKIP
    [ -n "$reason" ] || reason="skipped"
  else
    status=FAIL
    [ -n "$reason" ] || reason="exit status $rc"
  fi
  echo "KNOX-RESULT $name $status ${reason:+$reason }(${secs}s)"
done
echo "KNOX-DONE $count $(uptime_s)"
