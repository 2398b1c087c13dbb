#!/usr/bin/env bash
# Agent memory with 100 applied host policies (target: idle RSS <= 30 MiB).
# Usage: benches/agent-rss.sh [path/to/knoxctl]   (default: target/release/knoxctl). Root.
# Runs an isolated agent (own state dir and socket), applies 100 policies of 10 path rules
# each, lets it settle, prints VmRSS/VmHWM, and stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/release/knoxctl}
dir=$(mktemp -d /tmp/knoxctl-bench-rss.XXXXXX)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
printf 'clusterName: bench\n' > "$dir/config.yaml"
"$bin" agent --config "$dir/config.yaml" --state-dir "$dir/state" --socket "$dir/sock" --enforcer "${ENFORCER:-fanotify}" 2>"$dir/log" &
pid=$!
for _ in $(seq 100); do [ -S "$dir/sock" ] && break; sleep 0.1; done
host=$(uname -n)
for i in $(seq 1 100); do
  {
    printf -- '---\napiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: bench-%d}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: %s}}\n  action: Block\n  process:\n    matchPaths:\n' "$i" "$host"
    for j in $(seq 1 10); do printf '    - path: /opt/knoxctl-bench/p%d/bin%d\n' "$i" "$j"; done
  } >> "$dir/policies.yaml"
done
KNOXCTL_SOCKET="$dir/sock" "$bin" policy apply -f "$dir/policies.yaml" > /dev/null
sleep 3
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
echo "agent with 100 policies (1000 rules), enforcer ${ENFORCER:-fanotify}: VmRSS ${rss} KiB ($((rss / 1024)) MiB), peak ${hwm} KiB"
