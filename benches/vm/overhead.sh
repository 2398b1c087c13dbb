#!/bin/sh
# knox-timeout: 900
# BPF-LSM overhead inside the VM, one boot: an exec loop and an open/close loop, timed
# without any enforcer and with the agent and 100 host rules loaded (50 process paths,
# 50 file paths, none matching the loop), alternately for ROUNDS rounds after a warm-up.
# Prints the medians and their ratio. Run by benches/vm-overhead.sh, which boots qemu
# with -icount: the guest's clock then counts emulated instructions, so the host's load
# does not move the numbers. Numbers go to BENCHMARKS.md.
# shellcheck source-path=SCRIPTDIR/../../tests/vm source=lib.sh
. /knox/lib.sh

EXECS=${EXECS:-400}
OPENS=${OPENS:-20000}
ROUNDS=${ROUNDS:-3}

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

# median FILE: the median of the numbers in FILE, one per line.
median() {
  sort -n "$1" | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"
}

# measure NAME: one run of each loop, appended to NAME.exec and NAME.open.
measure() {
  log "measuring: $1" >&2
  exec_loop >>"$1.exec"
  open_loop >>"$1.open"
}

{
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: hundred-rules\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n  action: Block\n  process:\n    matchPaths:\n'
  i=0; while [ $i -lt 50 ]; do printf '    - path: /opt/blocked/tool%d\n' $i; i=$((i + 1)); done
  printf '  file:\n    matchPaths:\n'
  i=0; while [ $i -lt 50 ]; do printf '    - path: /opt/secret/file%d\n' $i; i=$((i + 1)); done
} >hundred.yaml

# Warm-up: the first runs pay for the emulator's translation cache and the page cache.
exec_loop >/dev/null
open_loop >/dev/null
rm -f none.exec none.open lsm.exec lsm.open
r=0
while [ $r -lt "$ROUNDS" ]; do
  measure none
  start_agent --enforcer bpf-lsm
  apply_policy hundred.yaml
  expect_output '100' knoxctl policy list
  measure lsm
  stop_agent
  lsm_reset
  r=$((r + 1))
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
per_op() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.2f", t / n / 1000 }'; }
spread() { awk -v n="$2" '{ v = $1 / n / 1000; s = s sep sprintf("%.2f", v); sep = " " } END { print s }' "$1"; }
clock=${KNOX_ICOUNT:+"guest instructions (1 ns = 2^$KNOX_ICOUNT instructions)"}
clock=${clock:-"wall clock"}
for loop in exec open; do
  if [ $loop = exec ]; then n=$EXECS; what="exec loop ($EXECS execs of /usr/bin/true from dash)"; unit="us per exec"
  else n=$OPENS; what="open/close loop ($OPENS opens of /etc/hostname in one awk)"; unit="us per open"; fi
  a=$(median none.$loop); b=$(median lsm.$loop)
  echo "BENCH $what, $clock, median of $ROUNDS alternating rounds: no enforcer $(per_op "$a" "$n") $unit [$(spread none.$loop "$n")], bpf-lsm with 100 rules $(per_op "$b" "$n") [$(spread lsm.$loop "$n")]; ratio $(ratio "$b" "$a")"
done
