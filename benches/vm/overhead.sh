#!/bin/sh
# knox-timeout: 900
# BPF-LSM overhead inside the VM, one boot: an exec loop and an open/close loop, timed
# without any enforcer, then with the agent and 100 host rules loaded (50 process paths,
# 50 file paths, none matching the loop), then again without. Prints the ratios.
# Run by benches/vm-overhead.sh; numbers go to BENCHMARKS.md.
# shellcheck source-path=SCRIPTDIR/../../tests/vm source=lib.sh
. /knox/lib.sh

EXECS=${EXECS:-400}
OPENS=${OPENS:-20000}
ROUNDS=${ROUNDS:-5}

now_ns() { date +%s%N; }

exec_loop() {
  local i=0 t0
  t0=$(now_ns)
  while [ $i -lt "$EXECS" ]; do
    /usr/bin/true
    i=$((i + 1))
  done
  echo $(( $(now_ns) - t0 ))
}

open_loop() {
  local t0
  t0=$(now_ns)
  busybox awk -v n="$OPENS" 'BEGIN { for (i = 0; i < n; i++) { getline x < "/etc/hostname"; close("/etc/hostname") } }'
  echo $(( $(now_ns) - t0 ))
}

# The median of ROUNDS runs of a loop, in ns.
median() {
  local r=0
  while [ $r -lt "$ROUNDS" ]; do
    "$1"
    r=$((r + 1))
  done | sort -n | sed -n "$(( (ROUNDS + 1) / 2 ))p"
}

measure() {
  log "measuring: $1" >&2
  e=$(median exec_loop)
  o=$(median open_loop)
  echo "$e $o"
}

{
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: hundred-rules\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n  action: Block\n  process:\n    matchPaths:\n'
  i=0; while [ $i -lt 50 ]; do printf '    - path: /opt/blocked/tool%d\n' $i; i=$((i + 1)); done
  printf '  file:\n    matchPaths:\n'
  i=0; while [ $i -lt 50 ]; do printf '    - path: /opt/secret/file%d\n' $i; i=$((i + 1)); done
} >hundred.yaml

set -- $(measure "no enforcer"); base1_exec=$1; base1_open=$2
start_agent --enforcer bpf-lsm
apply_policy hundred.yaml
expect_output '100' knoxctl policy list
set -- $(measure "bpf-lsm"); lsm_exec=$1; lsm_open=$2
stop_agent
lsm_reset
set -- $(measure "no enforcer again"); base2_exec=$1; base2_open=$2

ratio() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN { printf "%.3f", a / ((b + c) / 2) }'; }
per_op() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.1f", t / n / 1000 }'; }
echo "BENCH exec loop ($EXECS execs of /usr/bin/true, median of $ROUNDS): no enforcer $(per_op "$base1_exec" "$EXECS") / $(per_op "$base2_exec" "$EXECS") us per exec, bpf-lsm with 100 rules $(per_op "$lsm_exec" "$EXECS") us; ratio $(ratio "$lsm_exec" "$base1_exec" "$base2_exec")"
echo "BENCH open/close loop ($OPENS opens of /etc/hostname in one process, median of $ROUNDS): no enforcer $(per_op "$base1_open" "$OPENS") / $(per_op "$base2_open" "$OPENS") us per open, bpf-lsm with 100 rules $(per_op "$lsm_open" "$OPENS") us; ratio $(ratio "$lsm_open" "$base1_open" "$base2_open")"
