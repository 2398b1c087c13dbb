#!/usr/bin/env bash
# Cost of container enforcement (fanotify, one group per container) inside a podman
# container: loops run with `podman exec`, with the agent enforcing a policy that selects
# the container vs no agent, alternating ROUNDS times. Root; needs podman and the images of
# scripts/containers-setup.sh.
# Usage: benches/container-overhead.sh [path/to/knoxctl]   (default: target/release/knoxctl)
#   ROUNDS=3 N=2000
# Loops (busybox sh in the container, N iterations each):
#   exec       `/bin/busybox true` (no rule names it)
#   open       `cat` of a file no rule names (/etc/passwd)
#   open-ro    `cat` of a file under the policy's readOnly directory: every open is an event
#              the group decides (membership of the cgroup read from /proc per event)
#   start      `podman run --rm ... true`, START times, timed on the host: with the agent
#              and knoxctl's OCI hook (the container is registered and given its rules
#              before its entrypoint runs) vs neither
# Prints one line per loop: median ms without, with, and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/knoxctl}
rounds=${ROUNDS:-3}
n=${N:-2000}
starts=${START:-10}
name=knoxbench$$
dir=$(mktemp -d /tmp/knoxctl-bench-ctr.XXXXXX)
pid=
svc=
cleanup() {
  [ -z "$pid" ] || { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; }
  [ -z "$svc" ] || { kill "$svc" 2>/dev/null; wait "$svc" 2>/dev/null || true; }
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
podman run -d --name "$name" --network none localhost/busybox:local sleep 3600 >/dev/null
podman exec "$name" sh -c 'echo data > /usr/bin/data'
cat >"$dir/ksp.yaml" <<EOF
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: bench-fim, namespace: container_namespace}
spec:
  selector: {matchLabels: {kubearmor.io/container.name: $name\$}}
  action: Block
  process:
    matchPaths: [{path: /tmp/forbidden}]
  file:
    matchDirectories: [{dir: /usr/bin/, recursive: true, readOnly: true}]
---
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata: {name: bench-start, namespace: container_namespace}
spec:
  selector: {matchLabels: {kubearmor.io/container.name: knoxstart$$}}
  action: Block
  file:
    matchDirectories: [{dir: /usr/bin/, recursive: true, readOnly: true}]
EOF
mkdir -p "$dir/hooks" "$dir/nohooks"
printf '{"version":"1.0.0","hook":{"path":"%s","args":["knoxctl","oci-hook","--socket","%s"]},"when":{"always":true},"stages":["createRuntime","poststop"]}\n' \
  "$(realpath "$bin")" "$dir/sock" >"$dir/hooks/knoxctl.json"
# podman's Docker-compatible API on a socket of the bench's own: the agent learns the
# container's name from it.
podman system service --time=0 "unix://$dir/podman.sock" 2>/dev/null &
svc=$!
printf 'clusterName: bench\ncontainerSockets: [%s]\n' "$dir/podman.sock" >"$dir/config.yaml"

start_agent() {
  "$bin" agent --config "$dir/config.yaml" --state-dir "$dir/state" --socket "$dir/sock" \
    --enforcer fanotify 2>>"$dir/log" &
  pid=$!
  for _ in $(seq 300); do
    KNOXCTL_SOCKET="$dir/sock" "$bin" probe >/dev/null 2>&1 && break
    sleep 0.1
  done
}
stop_agent() {
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}
# ms for one loop, timed inside the container by /proc/uptime (busybox's date has no %N;
# 10 ms steps against loops of seconds), so podman exec's start-up is not in it.
loop() {
  local body=$1
  podman exec "$name" sh -c "read s _ </proc/uptime; i=0; while [ \$i -lt $n ]; do $body; i=\$((i+1)); done; read e _ </proc/uptime; echo \$(( (\${e%.*}\${e#*.} - \${s%.*}\${s#*.}) * 10 ))"
}
declare -A without with
for r in $(seq "$rounds"); do
  for mode in without with; do
    if [ "$mode" = with ]; then
      start_agent
      KNOXCTL_SOCKET="$dir/sock" "$bin" policy apply -f "$dir/ksp.yaml" >/dev/null
      for _ in $(seq 150); do
        KNOXCTL_SOCKET="$dir/sock" "$bin" containers -o json | grep -q '"backend": *"fanotify"' && break
        sleep 0.2
      done
      podman exec "$name" sh -c 'echo x > /usr/bin/probe' 2>/dev/null && {
        echo "container-overhead: the policy is not enforced" >&2
        exit 1
      }
    fi
    hooks=$dir/nohooks
    [ "$mode" = with ] && hooks=$dir/hooks
    s0=$(date +%s%N)
    for i in $(seq "$starts"); do
      podman --hooks-dir "$hooks" run --rm --name "knoxstart$$-$i" --network none \
        localhost/busybox:local /bin/busybox true >/dev/null
    done
    eval "$mode[start]+=\"$((($(date +%s%N) - s0) / 1000000 / starts)) \""
    for l in exec open open-ro; do
      case $l in
        # busybox's sh runs `true` as a builtin: run the program.
        exec) body='/bin/busybox true' ;;
        open) body='cat /etc/passwd >/dev/null' ;;
        open-ro) body='cat /usr/bin/data >/dev/null' ;;
      esac
      ms=$(loop "$body")
      eval "$mode[$l]+=\"$ms \""
    done
    [ "$mode" = with ] && stop_agent
  done
done
median() { tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
for l in exec open open-ro start; do
  a=$(median "${without[$l]}") b=$(median "${with[$l]}")
  awk -v l="$l" -v a="$a" -v b="$b" -v n="$n" \
    'BEGIN {printf "BENCH container %-8s %s: without %d ms, with %d ms: %.3f (%+.1f us per iteration)\n", l, (l == "start" ? "one start" : n " iterations"), a, b, b / a, (l == "start" ? (b - a) * 1000 : (b - a) * 1000 / n)}'
done
