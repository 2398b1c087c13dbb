#!/usr/bin/env bash
# How long a crashed agent leaves the host unprotected in standalone mode (target < 1 s
# with fanotify): onboards the knoxctl just built into a scratch KNOXCTL_ROOT (standalone
# mode, the supervisor, fanotify), blocks a copy of `true`, then SIGKILLs the agent ROUNDS
# times and measures, each time, the time from the kill until (a) the kernel denies the
# blocked exec again and (b) the new agent answers its API. Prints min / median / max.
# Run twice: with one policy and with 100 policies of 10 rules (RULES=1000).
#
# Rounds are 11 s apart: an agent that ran less than 10 s is restarted with a growing delay
# (a crash loop), which is not what this measures.
#
# Usage (root): benches/restart-gap.sh [path/to/knoxctl]   ROUNDS=5 POLICIES=1|100
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(readlink -f "${1:-target/release/knoxctl}")
rounds=${ROUNDS:-5}
policies=${POLICIES:-1}
dir=$(mktemp -d /tmp/knoxctl-bench-gap.XXXXXX)
export KNOXCTL_ROOT=$dir/root
trap '"$bin" offboard vm --purge --yes >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$bin" onboard vm --yes --enforcer fanotify >/dev/null
socket=$dir/root/run/knoxctl/agent.sock
cp /usr/bin/true "$dir/blocked-true"
host=$(uname -n)
{
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: gap-0}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: %s}}\n  action: Block\n  process:\n    matchPaths:\n    - path: %s\n' "$host" "$dir/blocked-true"
  for i in $(seq 2 "$policies"); do
    printf -- '---\napiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata: {name: gap-%d}\nspec:\n  nodeSelector: {matchLabels: {kubearmor.io/hostname: %s}}\n  action: Block\n  process:\n    matchPaths:\n' "$i" "$host"
    for j in $(seq 1 10); do printf '    - path: /opt/knoxctl-bench/p%d/bin%d\n' "$i" "$j"; done
  done
} >"$dir/policies.yaml"
"$bin" policy apply -f "$dir/policies.yaml" --socket "$socket" >/dev/null

python3 - "$bin" "$socket" "$dir/blocked-true" "$rounds" "$policies" <<'EOF'
import json, os, signal, statistics, subprocess, sys, time
knoxctl, socket, blocked, rounds, policies = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]

record = os.path.join(os.path.dirname(socket), "supervisor.json")

def agent_pid():
    """The supervisor's current agent, once it answers its API (`policy list` is cheap;
    `probe` would add the cost of probing every enforcer)."""
    try:
        pid = json.load(open(record))["agentPid"]
    except (OSError, ValueError, KeyError):
        return None
    r = subprocess.run([knoxctl, "policy", "list", "--socket", socket], capture_output=True)
    return pid if pid and r.returncode == 0 else None

def denied():
    try:
        subprocess.run([blocked], check=False)
        return False
    except PermissionError:
        return True

assert denied(), "the policy does not block"
enforced, answered, ran = [], [], []
for _ in range(rounds):
    pid = agent_pid()
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    n = 0
    while not denied():
        n += 1
        if time.monotonic() - t0 > 30:
            sys.exit("enforcement did not come back within 30 s")
    enforced.append(time.monotonic() - t0)
    ran.append(n)
    while True:
        p = agent_pid()
        if p and p != pid:
            break
        time.sleep(0.005)
    answered.append(time.monotonic() - t0)
    time.sleep(11)

def show(name, xs):
    ms = [x * 1000 for x in xs]
    print(f"{name}: min {min(ms):.0f} ms, median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms")
print(f"SIGKILL of the agent, {rounds} rounds, {policies} policies, fanotify, standalone supervisor:")
show("  blocked exec denied again after", enforced)
show("  new agent answering its API after", answered)
print(f"  execs of the blocked program that ran during the gap: median {statistics.median(ran):.0f} (a tight loop)")
EOF
