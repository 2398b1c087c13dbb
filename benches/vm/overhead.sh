#!/bin/sh
# knox-timeout: 1500
# Enforcer overhead inside the VM (BPF-LSM, or AppArmor with KNOX_BENCH_ENFORCER=apparmor
# on the kernel command line: the boot without BPF-LSM), one boot: an exec loop, an open/close loop of one file
# (the miss cache hits after the first open) and an open/close loop over MISSES distinct
# files deep in a tree, after a rename that empties the miss cache (every open misses and
# walks its path: the cost of the walk and its per-dentry knox_dir_ids lookup). Each is
# timed without any enforcer, with the agent and 100 host rules loaded (50 process paths,
# 50 file paths, none matching the loops), and with 10 readOnly recursive directory rules
# added (a second policy, same agent), alternately for ROUNDS rounds after a warm-up.
# Under AppArmor the loops run in processes started after the load (dash, the scenario's
# shell, is unconfined; /usr/bin/true and awk are exec'd by it), so they run in
# knoxctl-host, as every program started after an apply does.
# Prints the medians and their ratios. Run by benches/vm-overhead.sh, which boots qemu
# with -icount: the guest's clock then counts emulated instructions, so the host's load
# does not move the numbers. Numbers go to BENCHMARKS.md.
# shellcheck source-path=SCRIPTDIR/../../tests/vm source=lib.sh
. /knox/lib.sh

EXECS=${EXECS:-400}
OPENS=${OPENS:-20000}
ROUNDS=${ROUNDS:-3}
MISSES=${MISSES:-2000} # a multiple of 100: MISSES / 100 directories of 100 files
ENFORCER=${KNOX_BENCH_ENFORCER:-bpf-lsm}
case $ENFORCER in
  bpf-lsm | apparmor) ;;
  *) fail "KNOX_BENCH_ENFORCER=$ENFORCER: bpf-lsm or apparmor" ;;
esac
if [ "$ENFORCER" = apparmor ]; then
  grep -qw apparmor /sys/kernel/security/lsm || fail "AppArmor is not active (lsm: $(cat /sys/kernel/security/lsm))"
  PATH=$PATH:/usr/sbin:/sbin
fi

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

# The miss loop's tree: /srv/deep/a/.../j/kK/fI, 14 components per path.
DEEP=/srv/deep/a/b/c/d/e/f/g/h/i/j
KDIRS=$((MISSES / 100))
k=0
while [ $k -lt $KDIRS ]; do
  mkdir -p $DEEP/k$k
  i=0
  while [ $i -lt 100 ]; do echo x >$DEEP/k$k/f$i; i=$((i + 1)); done
  k=$((k + 1))
done
: >/tmp/knox-epoch

miss_loop() {
  local t0
  # A rename moves the miss cache's epoch: every file below is a miss again. Untimed.
  mv /tmp/knox-epoch /tmp/knox-epoch2
  mv /tmp/knox-epoch2 /tmp/knox-epoch
  t0=$(now_ns)
  busybox awk -v d="$DEEP" -v nk="$KDIRS" 'BEGIN { for (k = 0; k < nk; k++) for (i = 0; i < 100; i++) { f = d "/k" k "/f" i; getline x < f; close(f) } }'
  echo $(( $(now_ns) - t0 ))
}

# median FILE: the median of the numbers in FILE, one per line.
median() {
  sort -n "$1" | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"
}

# measure NAME: one run of each loop, appended to NAME.exec, NAME.open and NAME.miss.
measure() {
  log "measuring: $1" >&2
  exec_loop >>"$1.exec"
  open_loop >>"$1.open"
  miss_loop >>"$1.miss"
}

{
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: hundred-rules\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n  action: Block\n  process:\n    matchPaths:\n'
  i=0; while [ $i -lt 50 ]; do printf '    - path: /opt/blocked/tool%d\n' $i; i=$((i + 1)); done
  printf '  file:\n    matchPaths:\n'
  i=0; while [ $i -lt 50 ]; do printf '    - path: /opt/secret/file%d\n' $i; i=$((i + 1)); done
} >hundred.yaml
{
  printf 'apiVersion: security.kubearmor.com/v1\nkind: KubeArmorHostPolicy\nmetadata:\n  name: ten-dirs\nspec:\n  nodeSelector:\n    matchLabels:\n      kubearmor.io/hostname: knox-vm\n  action: Block\n  file:\n    matchDirectories:\n'
  i=0; while [ $i -lt 10 ]; do printf '    - dir: /opt/fim%d/\n      recursive: true\n      readOnly: true\n' $i; i=$((i + 1)); done
} >tendirs.yaml
i=0; while [ $i -lt 10 ]; do mkdir -p /opt/fim$i; echo x >/opt/fim$i/f; i=$((i + 1)); done

# AppArmor only: an allow-everything profile attached to /** with no rule at all, loaded
# without the agent (the shape of knoxctl-host minus the rules): what confinement itself
# costs, apart from the rules and the agent.
BARE='profile knoxctl-bench-bare /** flags=(attach_disconnected,mediate_deleted) {
  "/{,**}" mrwlk,
  "/{,**}" pix,
  network,
  capability,
  mount,
  umount,
  pivot_root,
  ptrace,
  signal,
  unix,
  dbus,
  change_profile,
}'

# Warm-up: the first runs pay for the emulator's translation cache and the page cache.
exec_loop >/dev/null
open_loop >/dev/null
miss_loop >/dev/null
rm -f none.* bare.* lsm.* dirs.*
r=0
while [ $r -lt "$ROUNDS" ]; do
  measure none
  if [ "$ENFORCER" = apparmor ]; then
    printf '%s\n' "$BARE" | apparmor_parser --replace --skip-cache 2>&1 | grep -v '^Cache read/write disabled' || true
    grep -q '^knoxctl-bench-bare ' /sys/kernel/security/apparmor/profiles || fail "the bare profile did not load"
    measure bare
    printf 'knoxctl-bench-bare' >/sys/kernel/security/apparmor/.remove
  fi
  start_agent --enforcer "$ENFORCER"
  apply_policy hundred.yaml
  expect_output '100' knoxctl policy list
  if [ "$ENFORCER" = apparmor ] && [ "$r" -eq 0 ]; then
    log "AppArmor profiles loaded: $(grep -c '^knoxctl-' /sys/kernel/security/apparmor/profiles)"
  fi
  measure lsm
  apply_policy tendirs.yaml
  measure dirs
  # The agent persists policies: the next round's "lsm" side must not start with these.
  expect_ok knoxctl policy delete ten-dirs
  stop_agent
  lsm_reset
  # The next "none" round must run unconfined: the agent's stop unloads its profiles.
  if [ "$ENFORCER" = apparmor ] && grep -q '^knoxctl-' /sys/kernel/security/apparmor/profiles; then
    fail "knoxctl profiles left after the agent stopped: $(grep '^knoxctl-' /sys/kernel/security/apparmor/profiles | tr '\n' ' ')"
  fi
  r=$((r + 1))
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
per_op() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.2f", t / n / 1000 }'; }
spread() { awk -v n="$2" '{ v = $1 / n / 1000; s = s sep sprintf("%.2f", v); sep = " " } END { print s }' "$1"; }
clock=${KNOX_ICOUNT:+"guest instructions (1 ns = 2^$KNOX_ICOUNT instructions)"}
clock=${clock:-"wall clock"}
for loop in exec open miss; do
  case $loop in
    exec) n=$EXECS; what="exec loop ($EXECS execs of /usr/bin/true from dash)"; unit="us per exec" ;;
    open) n=$OPENS; what="open/close loop ($OPENS opens of /etc/hostname in one awk)"; unit="us per open" ;;
    miss) n=$MISSES; what="cache-missing open/close loop ($MISSES distinct files 14 components deep, one awk, after a rename)"; unit="us per open" ;;
  esac
  a=$(median none.$loop); b=$(median lsm.$loop); c=$(median dirs.$loop)
  bare=
  if [ "$ENFORCER" = apparmor ]; then
    d=$(median bare.$loop)
    bare=", an allow-everything profile on /** without rules or agent $(per_op "$d" "$n") [$(spread bare.$loop "$n")] ratio $(ratio "$d" "$a")"
  fi
  echo "BENCH $what, $clock, median of $ROUNDS alternating rounds: no enforcer $(per_op "$a" "$n") $unit [$(spread none.$loop "$n")]$bare, $ENFORCER with 100 rules $(per_op "$b" "$n") [$(spread lsm.$loop "$n")] ratio $(ratio "$b" "$a"), + 10 readOnly dir rules $(per_op "$c" "$n") [$(spread dirs.$loop "$n")] ratio $(ratio "$c" "$a")"
done
