#!/usr/bin/env bash
# An idle agent's CPU use and wake-ups (target: <= 0.1 % of a core with no policies on a
# quiet machine). Root.
# Usage: benches/agent-idle.sh [path/to/knoxctl]   (default: target/release/knoxctl)
#   ENFORCER=fanotify|bpf-lsm|monitor-only (default fanotify), SECONDS_IDLE=30, POLICIES=0|1
# Runs an isolated agent (own state dir and socket), waits until it answers and has
# settled, then counts its clock ticks (utime+stime of all threads) and its threads'
# context switches (each one a wake-up) over SECONDS_IDLE seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/knoxctl}
idle=${SECONDS_IDLE:-30}
dir=$(mktemp -d /tmp/knoxctl-bench-idle.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
printf 'clusterName: bench\n' > "$dir/config.yaml"
"$bin" agent --config "$dir/config.yaml" --state-dir "$dir/state" --socket "$dir/sock" \
  --enforcer "${ENFORCER:-fanotify}" 2>"$dir/log" &
pid=$!
for _ in $(seq 300); do
  KNOXCTL_SOCKET="$dir/sock" "$bin" probe >/dev/null 2>&1 && break
  sleep 0.1
done
if [ "${POLICIES:-0}" = 1 ]; then
  KNOXCTL_SOCKET="$dir/sock" "$bin" policy apply -f examples/policies/accuknox-block-pkg-mgmt-tools.yaml >/dev/null
fi
sleep 5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# "tid name switches" per thread; a thread's voluntary + involuntary context switches.
per_thread() {
  for t in /proc/"$pid"/task/*; do
    printf '%s %s %s\n' "${t##*/}" "$(tr ' ' '_' < "$t/comm")" \
      "$(awk '/^(non)?voluntary_ctxt_switches/ {s += $2} END {print s + 0}' "$t/status")"
  done 2>/dev/null
}
t0=$(ticks) p0=$(per_thread)
sleep "$idle"
t1=$(ticks) p1=$(per_thread)
hz=$(getconf CLK_TCK)
# Wake-ups per thread over the window (threads present at both ends).
deltas=$(join <(sort <<<"$p0") <(sort <<<"$p1") | awk '{print $2, $5 - $3}')
s=$(awk '{s += $2} END {print s + 0}' <<<"$deltas")
threads=$(wc -l <<<"$p1")
awk -v t=$((t1 - t0)) -v s="$s" -v d="$idle" -v hz="$hz" -v n="$threads" \
  -v e="${ENFORCER:-fanotify}" 'BEGIN {
  printf "idle agent (%s, %d threads) over %d s: %d clock ticks = %.3f %% of a core; %d wake-ups (%.1f/s)\n",
    e, n, d, t, 100 * t / (d * hz), s, s / d }'
if [ -n "${WAKERS:-}" ]; then
  sort -k2,2nr <<<"$deltas" | awk '{printf "  %-16s %d wake-ups\n", $1, $2}'
fi
