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
    if [ "$i" -gt 300 ]; then
      agent_log
      fail "the agent did not answer on $KNOX_SOCKET within 30 s (log above)"
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
