#!/usr/bin/env bash
# Cost of fanotify's container file allow-list (issue #18): with a learned-style Allow
# policy under a Block default posture, a container's own filesystems are marked whole for
# opens (and the files its runtime bind-mounts in get inode marks), so every open in the
# container waits for the agent's answer (src/enforce/fanotify.rs).
#
# Modes, alternating ROUNDS times in one podman container (runc, no network):
#   none     no agent
#   agent    an agent (fanotify enforcer, its own state dir and socket) without a policy
#   allow    the same agent with a learned-style allow-list selecting the container: the
#            programs and files the loops use allowed, file and process default posture
#            Block (checked before timing: the shell's `cat /etc/shadow` is denied, the
#            loops' commands are not)
# Loops, timed inside the container by bash's $EPOCHREALTIME (µs), N iterations each:
#   spawn    `cat /etc/hostname` from a shell: fork + exec + the loader's and libc's opens
#   open     `read -r x </etc/passwd` in one bash process: one open per iteration
# For the agent, the CPU time of its process and of its fanotify reader threads
# (/proc/PID/task/*/schedstat, ns) over each loop; with perf, the number of permission
# events the readers answered (one write per answer) and the readers' system calls in a
# counting pass of each loop, which give the reader's CPU and system calls per decision.
#
# Root; podman + runc and the image localhost/knox-debian:merged-usr
# (scripts/containers-setup.sh).
# Usage: benches/fanotify-allowlist.sh [path/to/knoxctl]   (default: target/release/knoxctl)
#   ROUNDS=3 N=1000
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/knoxctl}
rounds=${ROUNDS:-3}
n=${N:-1000}
image=localhost/knox-debian:merged-usr
name=knoxfal$$
dir=$(mktemp -d /tmp/knoxctl-bench-fal.XXXXXX)
pid=
svc=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  [ -z "$svc" ] || { kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null || true; }
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
[ -x "$bin" ] || { echo "fanotify-allowlist: no $bin (cargo build --release)" >&2; exit 2; }
podman image exists "$image" || {
  echo "fanotify-allowlist: no image $image (scripts/containers-setup.sh)" >&2
  exit 2
}
podman run -d --name "$name" --network none "$image" sleep 3600 >/dev/null

# What `harden discover --container --learn` drafts for these loops: the programs run
# (from the parent that ran them) and the files read (readOnly, from the program that read
# them), Allow, the posture from the configuration. The loader, libc and locale files are
# not listed: abstractions/base exempts them from the default posture.
cat >"$dir/allow.yaml" <<EOF
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: bench-allowlist, namespace: container_namespace}
spec:
  selector: {matchLabels: {kubearmor.io/container.name: $name\$}}
  action: Allow
  process:
    matchPaths:
    - {path: /usr/bin/bash}
    - {path: /usr/bin/cat, fromSource: [{path: /usr/bin/bash}]}
  file:
    matchPaths:
    - {path: /etc/hostname, readOnly: true, fromSource: [{path: /usr/bin/cat}]}
    - {path: /etc/passwd, readOnly: true, fromSource: [{path: /usr/bin/bash}]}
EOF
# podman's Docker-compatible API on a socket of the bench's own: the agent learns the
# container's name from it.
podman system service --time=0 "unix://$dir/podman.sock" >/dev/null 2>&1 &
svc=$!
cat >"$dir/config.yaml" <<EOF
clusterName: bench
containerSockets: [$dir/podman.sock]
defaultPosture: {file: block}
EOF

start_agent() {
  rm -rf "$dir/state"
  "$bin" agent --config "$dir/config.yaml" --state-dir "$dir/state" --socket "$dir/sock" \
    --enforcer fanotify 2>>"$dir/log" &
  pid=$!
  for _ in $(seq 300); do
    KNOXCTL_SOCKET="$dir/sock" "$bin" containers >/dev/null 2>&1 && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "fanotify-allowlist: the agent did not answer; its log:" >&2
  cat "$dir/log" >&2
  exit 1
}
stop_agent() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}
enforce() {
  KNOXCTL_SOCKET="$dir/sock" "$bin" policy apply -f "$dir/allow.yaml" >/dev/null
  for _ in $(seq 150); do
    # `; true`: bash forks for cat instead of exec'ing it, so cat runs from bash (allowed)
    # and only its open of /etc/shadow is refused.
    if KNOXCTL_SOCKET="$dir/sock" "$bin" containers -o json | grep -q '"backend": *"fanotify"' &&
      [[ $(podman exec "$name" bash -c 'cat /etc/shadow; true' 2>&1) == *'/etc/shadow: Operation not permitted'* ]]; then
      # Denies what the allow-list does not name; must allow what the loops do.
      podman exec "$name" bash -c 'cat /etc/hostname >/dev/null && read -r x </etc/passwd' && return
      echo "fanotify-allowlist: the allow-list denies the loops; agent log:" >&2
      cat "$dir/log" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "fanotify-allowlist: the allow-list is not enforced (cat /etc/shadow ran); agent log:" >&2
  cat "$dir/log" >&2
  exit 1
}
# Nanoseconds on a CPU: the whole agent, and its fanotify reader threads.
cpu_ns() {
  local all=0 readers=0 t
  for t in /proc/"$pid"/task/*; do
    read -r ns _ <"$t/schedstat" 2>/dev/null || continue
    all=$((all + ns))
    [ "$(cat "$t/comm" 2>/dev/null)" = knox-fanotify ] && readers=$((readers + ns))
  done
  echo "$all $readers"
}
reader_tids() {
  local t
  for t in /proc/"$pid"/task/*; do
    [ "$(cat "$t/comm" 2>/dev/null)" = knox-fanotify ] && printf '%s,' "${t##*/}"
  done
  # Not the last thread's test result: set -e would end the bench.
  return 0
}
# µs for N iterations of BODY, timed inside the container.
loop() {
  podman exec "$name" bash -c "s=\$EPOCHREALTIME; for ((i = 0; i < $1; i++)); do $2; done; e=\$EPOCHREALTIME; echo \$(( \${e/./} - \${s/./} ))"
}
body() {
  case $1 in
    spawn) echo 'cat /etc/hostname >/dev/null' ;;
    open) echo 'read -r x </etc/passwd' ;;
  esac
}
declare -A us cpu rcpu events syscalls
for r in $(seq "$rounds"); do
  for mode in none agent allow; do
    [ "$mode" = none ] || start_agent
    [ "$mode" = allow ] && enforce
    for l in spawn open; do
      c0=$([ "$mode" = none ] || cpu_ns)
      t=$(loop "$n" "$(body "$l")")
      us[$mode,$l]+="$t "
      if [ "$mode" != none ]; then
        read -r a1 r1 <<<"$(cpu_ns)"
        read -r a0 r0 <<<"$c0"
        cpu[$mode,$l]+="$((a1 - a0)) "
        rcpu[$mode,$l]+="$((r1 - r0)) "
      fi
    done
    # Counting pass (not timed): permission events answered per iteration.
    if [ "$mode" = allow ] && [ "$r" = 1 ] && command -v perf >/dev/null; then
      for l in spawn open; do
        tids=$(reader_tids)
        read -r e sc < <(perf stat -x, -e syscalls:sys_enter_write,raw_syscalls:sys_enter \
          -t "${tids%,}" -- \
          podman exec "$name" bash -c "for ((i = 0; i < $n; i++)); do $(body "$l"); done" 2>&1 >/dev/null |
          awk -F, '/sys_enter_write/ {w=$1} /raw_syscalls/ {s=$1} END {print w + 0, s + 0}')
        events[$l]=$e
        syscalls[$l]=$sc
      done
    fi
    [ "$mode" = none ] || stop_agent
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
range() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk 'NR == 1 {lo=$1} {hi=$1} END {printf "%s-%s", lo, hi}'; }
echo "BENCH fanotify-allowlist: N=$n ROUNDS=$rounds load average $(cut -d' ' -f1-3 /proc/loadavg)"
for l in spawn open; do
  base=$(median "${us[none,$l]}")
  for mode in none agent allow; do
    m=$(median "${us[$mode,$l]}")
    line=$(awk -v l="$l" -v mode="$mode" -v m="$m" -v base="$base" -v n="$n" -v rg="$(range "${us[$mode,$l]}")" \
      'BEGIN {printf "BENCH fanotify-allowlist %-5s %-5s %8.1f us/op (runs %s us) ratio %.3f (%+.1f us/op)", l, mode, m / n, rg, m / base, (m - base) / n}')
    if [ "$mode" != none ]; then
      line+=$(awk -v c="$(median "${cpu[$mode,$l]}")" -v rc="$(median "${rcpu[$mode,$l]}")" -v n="$n" \
        'BEGIN {printf "; agent CPU %.1f us/op (readers %.1f)", c / n / 1000, rc / n / 1000}')
    fi
    if [ "$mode" = allow ] && [ -n "${events[$l]:-}" ] && [ "${events[$l]}" -gt 0 ]; then
      line+=$(awk -v e="${events[$l]}" -v sc="${syscalls[$l]}" -v rc="$(median "${rcpu[$mode,$l]}")" -v n="$n" \
        'BEGIN {printf "; %.1f events/op, reader CPU %.1f us/event, %.1f reader syscalls/event", e / n, rc / e / 1000, sc / e}')
    fi
    echo "$line"
  done
done
