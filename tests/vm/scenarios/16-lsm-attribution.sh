#!/bin/sh
# Applies racing a burst of denials: every BPF-LSM alert names the policy whose rule made
# the decision. An apply rewrites the rule maps while programs are deciding with them, and
# entries of the old rules and the new coexist for a moment; a decision by an entry that
# is about to go must not be attributed with the index it has in the new rule set. Two
# policies take turns ({a} -> {} -> {b} -> {} -> ...), each padded with rules so that the
# map writes (and so the window) are long; the shell opens the two files in a tight loop
# (a redirection opens without a fork, so the kernel decides thousands of times a second).
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

race_policy() { # NAME SEVERITY
  {
    printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: %s\nspec:\n' "$1"
    printf '  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n'
    printf '  severity: %s\n  message: decided by %s\n  action: Block\n' "$2" "$1"
    printf '  file:\n    matchPaths:\n    - path: /srv/race/%s\n' "$1"
    i=0
    while [ "$i" -lt 1000 ]; do
      printf '    - path: /srv/race-pad/%s-%s\n' "$1" "$i"
      i=$((i + 1))
    done
  } >"$1.yaml"
}

mkdir -p /srv/race
echo a >/srv/race/race-a
echo b >/srv/race/race-b
race_policy race-a 2
race_policy race-b 8

start_agent --enforcer bpf-lsm
apply_policy race-a.yaml

rm -f /srv/race/stop
(
  while [ ! -e /srv/race/stop ]; do
    { read -r _ </srv/race/race-a; } 2>/dev/null || true
    { read -r _ </srv/race/race-b; } 2>/dev/null || true
  done
) &
hammer=$!

round=0
while [ "$round" -lt 12 ]; do
  if [ $((round % 2)) -eq 0 ]; then
    expect_ok "$KNOXCTL" policy delete race-a
    apply_policy race-b.yaml
  else
    expect_ok "$KNOXCTL" policy delete race-b
    apply_policy race-a.yaml
  fi
  round=$((round + 1))
done
touch /srv/race/stop
wait "$hammer" || true # its last exec may have been denied

# Let the pipeline drain: the count stops growing.
last=-1
n=$(alert_count Action=Block)
while [ "$n" != "$last" ]; do
  last=$n
  sleep 1
  n=$(alert_count Action=Block)
done
a=$(alert_count Action=Block Resource=/srv/race/race-a)
b=$(alert_count Action=Block Resource=/srv/race/race-b)
log "$n Block alerts: $a for race-a, $b for race-b"
[ "$a" -gt 0 ] && [ "$b" -gt 0 ] || fail "both policies should have blocked their program"
for p in race-a:2 race-b:8; do
  name=${p%:*}
  sev=${p#*:}
  for wrong in "PolicyName!=$name" "Severity!=$sev" "Message!=decided by $name"; do
    out=$(alerts_json Action=Block "Resource=/srv/race/$name" "$wrong")
    if [ -n "$out" ]; then
      _knox_indent "$out"
      fail "alerts about /srv/race/$name attributed to another rule ($wrong)"
    fi
  done
done
other=$(alerts_json Action=Block 'Resource!=/srv/race/race-a' 'Resource!=/srv/race/race-b')
[ -z "$other" ] || {
  _knox_indent "$other"
  fail "Block alerts about something else"
}
log "every one of $n alerts named the policy that decided it, across 24 applies"
