# shellcheck shell=dash
# Helpers for VM scenarios: `. /knox/lib.sh` at the top of a scenario.
#
# Scenarios run under `/bin/sh -e` (dash, as on Debian), so this file sticks to POSIX sh plus
# `local` (which dash and busybox ash both have). Every helper that checks something ends the
# scenario with `fail` (exit 1) when the check does not hold; do not call them inside
# `$(...)`, where `exit` would only leave the subshell.
#
# A scenario's exit status is its result: 0 PASS, 77 SKIP (see `skip`), anything else FAIL.
# The reason given to `fail`/`skip` becomes the reason on its KNOX-RESULT line.

KNOXCTL=${KNOXCTL:-/usr/local/bin/knoxctl}
KNOX_STATE=${KNOX_STATE:-/run/knox-state}
KNOX_SOCKET=${KNOX_SOCKET:-/run/knox.sock}
KNOX_AGENT_LOG=${KNOX_AGENT_LOG:-/run/knox-agent.log}
KNOX_AGENT_CONFIG=${KNOX_AGENT_CONFIG:-/run/knox-agent.yaml}
# Alerts reach the store in batches: how long expect_alert waits for one.
KNOX_ALERT_WAIT=${KNOX_ALERT_WAIT:-10}
# knoxctl reads these, so plain `knoxctl policy apply ...` talks to the scenario's agent
# and `knoxctl alerts` reads its store.
KNOXCTL_SOCKET=$KNOX_SOCKET
KNOXCTL_STATE_DIR=$KNOX_STATE
NO_COLOR=1
export KNOXCTL_SOCKET KNOXCTL_STATE_DIR NO_COLOR
KNOX_AGENT_PID=

log() {
  printf '# %s\n' "$*"
}

# fail MESSAGE: end the scenario as FAIL with this reason.
fail() {
  printf 'FAIL: %s\n' "$*" >&2
  if [ -n "${KNOX_REASON_FILE:-}" ]; then
    printf '%s\n' "$*" >"$KNOX_REASON_FILE"
  fi
  exit 1
}

# skip REASON: end the scenario as SKIP (not a failure), e.g. when the kernel lacks a feature.
skip() {
  printf 'SKIP: %s\n' "$*"
  if [ -n "${KNOX_REASON_FILE:-}" ]; then
    printf '%s\n' "$*" >"$KNOX_REASON_FILE"
  fi
  exit 77
}

# The helpers use shell builtins where they can: a policy under test may deny execs, and
# the checks must keep working (and report) while it does.

# _knox_indent TEXT: TEXT with every line indented, for the log.
_knox_indent() {
  printf '%s\n' "$1" | while IFS= read -r _knox_line; do
    printf '  %s\n' "$_knox_line"
  done
}

# Runs "$@" with stdout and stderr captured in KNOX_OUT and its status in KNOX_RC, then
# shows both in the scenario's output so a failure can be read from the log alone.
_knox_run() {
  KNOX_RC=0
  KNOX_OUT=$("$@" 2>&1 </dev/null) || KNOX_RC=$?
  printf '$ %s\n' "$*"
  if [ -n "$KNOX_OUT" ]; then
    _knox_indent "$KNOX_OUT"
  fi
  if [ "$KNOX_RC" -ne 0 ]; then
    printf '  (exit %s)\n' "$KNOX_RC"
  fi
}

# expect_ok CMD [ARGS...]: CMD exits 0.
expect_ok() {
  _knox_run "$@"
  [ "$KNOX_RC" -eq 0 ] || fail "expected success: $* (exit $KNOX_RC)"
}

# expect_fail CMD [ARGS...]: CMD exits non-zero (for any reason).
expect_fail() {
  _knox_run "$@"
  [ "$KNOX_RC" -ne 0 ] || fail "expected failure: $*"
}

# expect_denied MESSAGE CMD [ARGS...]: CMD exits non-zero AND its output contains MESSAGE
# (a fixed string, e.g. "Permission denied" or "Operation not permitted").
expect_denied() {
  local msg=$1
  shift
  _knox_run "$@"
  [ "$KNOX_RC" -ne 0 ] || fail "expected '$msg' but it succeeded: $*"
  case $KNOX_OUT in
    *"$msg"*) ;;
    *) fail "expected '$msg' from: $* (exit $KNOX_RC, other output)" ;;
  esac
}

# expect_output REGEX CMD [ARGS...]: CMD exits 0 and its output matches REGEX (grep -E).
expect_output() {
  local re=$1
  shift
  _knox_run "$@"
  [ "$KNOX_RC" -eq 0 ] || fail "expected success: $* (exit $KNOX_RC)"
  printf '%s\n' "$KNOX_OUT" | grep -qE -- "$re" || fail "output of '$*' does not match /$re/"
}

# assert_grep REGEX FILE: FILE has a line matching REGEX (grep -E).
assert_grep() {
  grep -qE -- "$1" "$2" || fail "$2 has no line matching /$1/"
}

# as_user USER CMD [ARGS...]: run CMD as USER (uid, gid and groups from /etc/passwd),
# e.g. `expect_denied "Permission denied" as_user knox cat /etc/shadow`.
as_user() {
  local user=$1 home
  shift
  home=$(awk -F: -v u="$user" '$1 == u { print $6 }' /etc/passwd)
  [ -n "$home" ] || fail "as_user: no user $user in /etc/passwd"
  setpriv --reuid="$user" --regid="$user" --init-groups -- \
    env HOME="$home" USER="$user" LOGNAME="$user" "$@"
}

# policy_for_this_host FILE: prints FILE with every `kubearmor.io/hostname:` selector
# pointed at this VM (knox-vm), as users are told to edit AccuKnox's examples.
policy_for_this_host() {
  sed "s|\(kubearmor\.io/hostname:\).*|\1 $(hostname)|" "$1"
}

# apply_policy FILE: `knoxctl policy apply -f FILE` through the agent; must succeed.
apply_policy() {
  expect_ok "$KNOXCTL" policy apply -f "$1"
}

# Whether PID is a live (not zombie) process: `kill -0` also succeeds on zombies.
_knox_alive() {
  local stat state
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  # The state follows the command name, which is in parentheses and may hold spaces.
  state=${stat##*) }
  state=${state%% *}
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# start_agent [AGENT-ARGS...]: start `knoxctl agent` in the background with this scenario's
# state dir, socket and config (ARGS go to `knoxctl agent`, e.g. `--enforcer fanotify`,
# `--label k=v`); returns once the agent answers on its socket. The agent is stopped when
# the scenario exits (an EXIT trap), and the runner kills what is left anyway.
start_agent() {
  [ -z "$KNOX_AGENT_PID" ] || fail "start_agent: an agent is already running (pid $KNOX_AGENT_PID)"
  mkdir -p "$KNOX_STATE"
  if [ ! -f "$KNOX_AGENT_CONFIG" ]; then
    printf 'clusterName: default\n' >"$KNOX_AGENT_CONFIG"
  fi
  rm -f "$KNOX_SOCKET"
  printf '$ knoxctl agent --config %s --state-dir %s --socket %s %s &\n' \
    "$KNOX_AGENT_CONFIG" "$KNOX_STATE" "$KNOX_SOCKET" "$*"
  "$KNOXCTL" agent --config "$KNOX_AGENT_CONFIG" --state-dir "$KNOX_STATE" \
    --socket "$KNOX_SOCKET" "$@" </dev/null >>"$KNOX_AGENT_LOG" 2>&1 &
  KNOX_AGENT_PID=$!
  trap 'stop_agent' EXIT
  local i=0
  while ! { [ -S "$KNOX_SOCKET" ] && "$KNOXCTL" policy list >/dev/null 2>&1; }; do
    if ! _knox_alive "$KNOX_AGENT_PID"; then
      agent_log
      KNOX_AGENT_PID=
      fail "the agent exited while starting (log above)"
    fi
    i=$((i + 1))
    if [ "$i" -gt 900 ]; then
      agent_log
      fail "the agent did not answer on $KNOX_SOCKET within 90 s (log above)"
    fi
    sleep 0.1
  done
  log "agent running (pid $KNOX_AGENT_PID)"
}

# stop_agent: SIGTERM (the clean shutdown path), SIGKILL after KNOX_AGENT_STOP_WAIT
# seconds (5). Sets KNOX_AGENT_STATUS to the agent's exit status (137 when it had to be
# killed). Does nothing if no agent runs.
stop_agent() {
  [ -n "$KNOX_AGENT_PID" ] || return 0
  local pid=$KNOX_AGENT_PID i=0
  KNOX_AGENT_PID=
  trap - EXIT
  kill -TERM "$pid" 2>/dev/null || true
  while _knox_alive "$pid"; do
    i=$((i + 1))
    if [ "$i" -gt $((${KNOX_AGENT_STOP_WAIT:-5} * 10)) ]; then
      log "the agent ignored SIGTERM for ${KNOX_AGENT_STOP_WAIT:-5} s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  KNOX_AGENT_STATUS=0
  wait "$pid" 2>/dev/null || KNOX_AGENT_STATUS=$?
  log "agent stopped (exit $KNOX_AGENT_STATUS)"
}

# agent_log: print the agent's log (stderr of every agent started in this boot).
agent_log() {
  printf -- '--- agent log (%s) ---\n' "$KNOX_AGENT_LOG"
  cat "$KNOX_AGENT_LOG" 2>/dev/null || true
  printf -- '--- end of agent log ---\n'
}

# alerts_json [FILTER...]: the agent's alerts as JSON Lines, each FILTER passed as
# `--filter FILTER` (Field=value, Field!=value, Field~regex, Field>=N; all must hold).
alerts_json() {
  local n=$# i=0 f
  while [ "$i" -lt "$n" ]; do
    f=$1
    shift
    set -- "$@" --filter "$f"
    i=$((i + 1))
  done
  "$KNOXCTL" alerts --state-dir "$KNOX_STATE" -o json "$@"
}

# expect_alert FIELD=VALUE...: within KNOX_ALERT_WAIT seconds, at least one alert has all
# these field values (any knoxctl alerts filter works, e.g. `Resource~^/usr/bin/`). The
# matching alerts are printed.
expect_alert() {
  local out rc deadline
  deadline=$(($(date +%s) + KNOX_ALERT_WAIT))
  while :; do
    rc=0
    out=$(alerts_json "$@" 2>&1) || rc=$?
    [ "$rc" -eq 0 ] || fail "knoxctl alerts $* failed (exit $rc): $out"
    if [ -n "$out" ]; then
      printf 'alerts matching %s:\n' "$*"
      _knox_indent "$out"
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      printf 'all alerts:\n'
      _knox_indent "$(alerts_json 2>&1)" || true
      agent_log
      fail "no alert with $* within ${KNOX_ALERT_WAIT} s"
    fi
    sleep 0.2
  done
}

# expect_no_alert FIELD=VALUE...: after waiting one batch interval (1 s), no alert matches.
expect_no_alert() {
  local out rc=0
  sleep 1
  out=$(alerts_json "$@" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] || fail "knoxctl alerts $* failed (exit $rc): $out"
  if [ -n "$out" ]; then
    _knox_indent "$out"
    fail "unexpected alert with $*"
  fi
}

# alert_count [FILTER...]: prints how many alerts match.
alert_count() {
  alerts_json "$@" | wc -l | tr -d ' '
}

# lsm_reset: end BPF-LSM enforcement (remove its pins, as `offboard` does).
lsm_reset() {
  rm -rf /sys/fs/bpf/knoxctl
}

# lsm_links: how many BPF-LSM links are attached (bpftool), on stdout. knoxctl's are
# the only LSM programs in the VM.
lsm_links() {
  bpftool link show 2>/dev/null | grep -c 'lsm_mac' || true
}

# ---- KubeArmor's own test corpus (the kubearmor-* scenarios) ---------------------------
#
# The corpus is read where it is, never copied into the repo: tests/vm.rs copies the parts
# it needs into the VM at their host path (`run.sh --add`) and names the conformance dir on
# the kernel command line (`knox_conformance=DIR`, which reaches init, the runner and the
# scenarios as an environment variable). Each expectation is one case:
#   CASE <id> PASS|FAIL|KNOWN <why>
# then one count line, `kubearmor <what>: P/T passed`, which tests/vm.rs repeats in the
# test summary. A scenario lists its intended differences from KubeArmor in
# `known_differences` (lines `<id>: <reason>`): a listed case that fails is KNOWN and does
# not fail the scenario; a listed case that passes does (the list must stay true).
known_differences=${known_differences:-}
KA_TOTAL=0
KA_PASSED=0
KA_KNOWN=0
KA_FAILED=0
KA_STALE=
KA_ERRORS=
KA_PID=
KA_SINCE=

# ka_corpus: sets KA_DIR to the conformance dir in the VM, or skips the scenario loudly.
ka_corpus() {
  KA_DIR=${knox_conformance:-}
  if [ -z "$KA_DIR" ] || [ ! -d "$KA_DIR/kubearmor" ]; then
    printf '%s\n' "*** KubeArmor's conformance corpus is not in this VM (knox_conformance='$KA_DIR'):" \
      "*** tests/vm.rs passes it when \$KNOXCTL_CONFORMANCE_DIR or ../shared/conformance exists." \
      "*** NOTHING of KubeArmor's corpus was checked. ***"
    skip "KubeArmor's conformance corpus is not in the VM (no \$KNOXCTL_CONFORMANCE_DIR or ../shared/conformance on the host)"
  fi
}

# ka_field FILE KEY: the value of `KEY: value` in a KubeArmor cmd file (first match,
# surrounding blanks trimmed), as KubeArmor's test runner reads it.
ka_field() {
  sed -n "s/^$2:[[:space:]]*//p" "$1" | sed -n '1s/[[:space:]]*$//p'
}

# ka_policy_name FILE: metadata.name (KubeArmor's runner: the first `name:` line).
ka_policy_name() {
  sed -n 's/^[[:space:]]*name:[[:space:]]*//p' "$1" | sed -n "1{s/[[:space:]]*\$//;s/^[\"']//;s/[\"']\$//;p;}"
}

# ka_regex TEXT: TEXT as a regular expression matching it literally (for `Field~`).
ka_regex() {
  printf '%s\n' "$1" | sed 's/[][\\.*+?(){}|^$]/\\&/g'
}

# ka_nap: a short pause; returns at once if a policy under test denies `sleep`.
ka_nap() {
  sleep "${1:-0.2}" 2>/dev/null || true
}

# ka_run CMD [ARGS...]: like _knox_run (KNOX_OUT, KNOX_RC, the log), and KA_PID is the
# process that ran CMD, so alerts can be traced to it. The shell forks and the child execs
# CMD itself: no helper process whose own exec a policy could deny.
ka_run() {
  KNOX_RC=0
  # A lower bound for the alerts' Timestamp (a second early, for clock rounding): the store
  # answers a bounded query from its index. Empty when a policy under test denies `date`.
  KA_SINCE=$(date +%s 2>/dev/null) || KA_SINCE=
  "$@" >ka-run.out 2>&1 </dev/null &
  KA_PID=$!
  wait "$KA_PID" || KNOX_RC=$?
  KNOX_OUT=$(while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done <ka-run.out)
  printf '$ %s   (pid %s)\n' "$*" "$KA_PID"
  if [ -n "$KNOX_OUT" ]; then
    _knox_indent "$KNOX_OUT"
  fi
  if [ "$KNOX_RC" -ne 0 ]; then
    printf '  (exit %s)\n' "$KNOX_RC"
  fi
}

# ka_alerts_of PID FILTER...: the alerts matching every FILTER raised by process PID or by
# a child of it.
ka_alerts_of() {
  local pid=$1
  shift
  if [ "$pid" = "$KA_PID" ] && [ -n "$KA_SINCE" ]; then
    set -- "$@" "Timestamp>=$((KA_SINCE - 1))"
  fi
  alerts_json "$@" "PID=$pid"
  alerts_json "$@" "PPID=$pid"
}

# ka_uptime: whole seconds since boot, in KA_UPTIME (builtins only: a policy under test may
# deny `date`).
ka_uptime() {
  local up rest
  read -r up rest </proc/uptime
  KA_UPTIME=${up%%.*}
}

# ka_alert_seen PID FILTER...: whether such an alert arrives within KNOX_ALERT_WAIT
# seconds (printed when it does). Never ends the scenario.
ka_alert_seen() {
  local pid=$1 out deadline
  shift
  ka_uptime
  deadline=$((KA_UPTIME + KNOX_ALERT_WAIT))
  while :; do
    out=$(ka_alerts_of "$pid" "$@" 2>&1) || true
    if [ -n "$out" ]; then
      printf 'alerts from pid %s matching %s:\n' "$pid" "$*"
      _knox_indent "$out"
      return 0
    fi
    ka_uptime
    [ "$KA_UPTIME" -lt "$deadline" ] || break
    ka_nap
  done
  printf 'no alert from pid %s matching %s within %s s; from any process since it ran:\n' \
    "$pid" "$*" "$KNOX_ALERT_WAIT"
  if [ "$pid" = "$KA_PID" ] && [ -n "$KA_SINCE" ]; then
    set -- "$@" "Timestamp>=$((KA_SINCE - 1))"
  fi
  out=$(alerts_json "$@" 2>&1 | tail -n 3) || true
  _knox_indent "${out:-(none)}"
  return 1
}

# ka_alert_absent PID FILTER...: after one batch interval (1 s), whether no such alert
# exists (printed when one does).
ka_alert_absent() {
  local pid=$1 out
  shift
  ka_nap 1
  out=$(ka_alerts_of "$pid" "$@" 2>&1) || true
  [ -z "$out" ] && return 0
  printf 'unexpected alerts from pid %s matching %s:\n' "$pid" "$*"
  _knox_indent "$out"
  return 1
}

# ka_agent_status: the agent's counters (the `agent` line of `knoxctl probe`) in KA_STATUS.
ka_agent_status() {
  KA_STATUS=$("$KNOXCTL" probe 2>/dev/null | grep '^agent' || true)
}

# ka_settle: waits, up to 60 s, until the agent has stored every alert it had queued (two
# readings of its counter a second apart agree), so that a burst of alerts one policy
# caused is not still being processed when the next case looks for its own alert.
ka_settle() {
  local prev=none n i=0
  while [ "$i" -lt 60 ]; do
    ka_agent_status
    n=$(printf '%s\n' "$KA_STATUS" | sed -n 's/.*alerts stored \([0-9]*\).*/\1/p')
    if [ "$n" = "$prev" ]; then
      log "agent settled after ${i} s: $KA_STATUS"
      return 0
    fi
    prev=$n
    ka_nap 1
    i=$((i + 1))
  done
  log "agent still storing alerts after 60 s: $KA_STATUS"
}

# ka_begin ID: starts a case; ka_good WHAT records a held expectation, ka_bad WHY a failed
# one; ka_end reports the case.
ka_begin() {
  KA_ID=$1
  KA_WHY=
  KA_NOTES=
  printf -- '--- case %s\n' "$1"
}

ka_good() {
  KA_NOTES=${KA_NOTES:+$KA_NOTES; }$*
}

ka_bad() {
  KA_WHY=${KA_WHY:+$KA_WHY; }$*
}

ka_end() {
  local known
  known=$(printf '%s\n' "$known_differences" | sed -n "s|^[[:space:]]*$KA_ID:[[:space:]]*||p" | head -n 1)
  KA_TOTAL=$((KA_TOTAL + 1))
  if [ -z "$KA_WHY" ]; then
    KA_PASSED=$((KA_PASSED + 1))
    printf 'CASE %s PASS %s\n' "$KA_ID" "$KA_NOTES"
    if [ -n "$known" ]; then
      KA_STALE="${KA_STALE:+$KA_STALE, }$KA_ID"
    fi
  elif [ -n "$known" ]; then
    KA_KNOWN=$((KA_KNOWN + 1))
    printf 'CASE %s KNOWN %s (known difference: %s)\n' "$KA_ID" "$KA_WHY" "$known"
  else
    KA_FAILED=$((KA_FAILED + 1))
    printf 'CASE %s FAIL %s\n' "$KA_ID" "$KA_WHY"
  fi
}

# ka_error WHY: something outside the cases went wrong (a policy that would not go away):
# the scenario fails whatever the cases say.
ka_error() {
  printf 'ERROR: %s\n' "$*"
  KA_ERRORS=${KA_ERRORS:+$KA_ERRORS; }$*
}

# ka_summary WHAT: the count line, then the verdict: PASS only if every case passed or is
# a listed known difference, and every listed difference still differs.
ka_summary() {
  printf '\nkubearmor %s: %s/%s passed\n' "$1" "$KA_PASSED" "$KA_TOTAL"
  printf '# %s passed, %s known differences, %s failed\n' "$KA_PASSED" "$KA_KNOWN" "$KA_FAILED"
  [ -z "$KA_ERRORS" ] || fail "$KA_ERRORS"
  [ "$KA_FAILED" -eq 0 ] || fail "$KA_FAILED of $KA_TOTAL KubeArmor cases failed (CASE ... FAIL lines)"
  [ -z "$KA_STALE" ] || fail "listed as known differences but passed (update known_differences): $KA_STALE"
}
