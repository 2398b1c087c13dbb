#!/bin/sh
# knox-timeout: 1500
# BPF-LSM overhead inside a container vs on the host, in the VM, one boot (issue #14).
# Three loops: an exec loop (EXECS × /usr/bin/true from dash), an open/close loop of a
# file no rule names (OPENS × /etc/hostname in one awk) and an open/close loop of a file
# under the policy's readOnly recursive /usr/bin/ (OPENS × /usr/bin/knox-data: every open
# is a decided read, never cached as a miss). Each loop runs inside a runc container
# (bundle as in tests/vm/scenarios/19-lsm-containers.sh, registered by `knoxctl oci-hook`,
# cgroup /knox/<id>, two levels deep) and on the host in a cgroup three levels deep, as a
# systemd login session's (user.slice/user-0.slice/session-1.scope). Sides, alternately
# for ROUNDS rounds after a warm-up:
#   none   no agent, no BPF program attached; a fresh container (its hook finds no agent)
#   lsm    the agent (--enforcer bpf-lsm) and a KubeArmorPolicy selecting the container
#          (kubearmor.io/container.name: Block /usr/bin/apt-get, readOnly recursive
#          /usr/bin/); no host rule. A fresh container started after the policy, so its
#          hook registers it and its rules are in place before its entrypoint runs
#   bare   (host loops only) the same agent after the policy is deleted: no container has
#          rules any more, so the programs skip the cgroup lookup (T_CONTAINERS clear)
# Prints the medians and their ratios. Run by `benches/vm-overhead.sh --containers`, which
# boots qemu with -icount: the guest's clock then counts emulated instructions.
# shellcheck source-path=SCRIPTDIR/../../tests/vm source=lib.sh
. /knox/lib.sh

EXECS=${EXECS:-400}
OPENS=${OPENS:-20000}
ROUNDS=${ROUNDS:-3}
NAME=bench

command -v runc >/dev/null || fail "runc is not in the VM (tests/vm/binaries.txt)"
if ! grep -q ' /sys/fs/cgroup cgroup2 ' /proc/mounts; then
  mkdir -p /sys/fs/cgroup
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
SESSION=/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope
mkdir -p $SESSION

# The loops, one script for the host and the container: `loops.sh LOOP N` prints the
# nanoseconds (guest instructions under icount) N iterations took.
cat >loops.sh <<'EOF'
#!/bin/sh
t0=$(date +%s%N)
case $1 in
  exec)
    i=0
    while [ $i -lt "$2" ]; do
      /usr/bin/true
      i=$((i + 1))
    done
    ;;
  open) busybox awk -v n="$2" -v f=/etc/hostname 'BEGIN { for (i = 0; i < n; i++) { getline x < f; close(f) } }' ;;
  ro) busybox awk -v n="$2" -v f=/usr/bin/knox-data 'BEGIN { for (i = 0; i < n; i++) { getline x < f; close(f) } }' ;;
esac
echo $(($(date +%s%N) - t0))
EOF
cp loops.sh /knox-loops.sh
echo data >/usr/bin/knox-data

# The container's bundle, built once (hard links of the VM's binaries, as scenario 19).
B=/var/lib/knox-ctr/$NAME
rm -rf $B
mkdir -p $B/rootfs/usr $B/rootfs/proc $B/rootfs/dev $B/rootfs/tmp $B/rootfs/etc $B/rootfs/root
for d in bin sbin lib lib64 lib32; do
  [ -L "/$d" ] && ln -s "$(readlink "/$d")" "$B/rootfs/$d"
done
for d in bin sbin lib lib64; do
  [ -d "/usr/$d" ] && cp -al "/usr/$d" "$B/rootfs/usr/$d"
done
cp /etc/passwd /etc/group $B/rootfs/etc/
echo $NAME >$B/rootfs/etc/hostname
chmod 1777 $B/rootfs/tmp
rm -f $B/rootfs/usr/bin/knox-data # a hard link of the host's: the container gets its own
echo data >$B/rootfs/usr/bin/knox-data
cp loops.sh $B/rootfs/knox-loops.sh
caps='"CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_KILL","CAP_SETUID","CAP_SETGID","CAP_SYS_ADMIN","CAP_SYS_CHROOT"'
hook='{"path":"/usr/local/bin/knoxctl","args":["knoxctl","oci-hook","--socket","'"$KNOX_SOCKET"'"],"timeout":5}'
CTR=
# ctr_start: a fresh container (new id, new cgroup /knox/<id>) from the bundle.
ctr_start() {
  CTR=$(printf '%s' "$NAME-$(date +%s%N)" | sha256sum | cut -c1-64)
  cat >$B/config.json <<EOF
{"ociVersion":"1.0.2",
 "process":{"terminal":false,"user":{"uid":0,"gid":0},"args":["/usr/bin/sleep","3600"],
  "env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"cwd":"/",
  "capabilities":{"bounding":[$caps],"effective":[$caps],"permitted":[$caps]}},
 "root":{"path":"rootfs","readonly":false},
 "hostname":"$NAME",
 "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
  {"destination":"/dev","type":"tmpfs","source":"tmpfs","options":["nosuid","mode=755","size=4096k"]}],
 "hooks":{"createRuntime":[$hook],"poststop":[$hook]},
 "annotations":{"io.kubernetes.cri.container-name":"$NAME","io.kubernetes.cri.image-name":"knox/vm-rootfs:1","app":"$NAME"},
 "linux":{"cgroupsPath":"/knox/$CTR","namespaces":[{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}]}}
EOF
  expect_ok sh -c "runc run -d --no-pivot --bundle $B $CTR </dev/null >$B/out.log 2>&1"
}
ctr_rm() {
  runc kill "$CTR" KILL 2>/dev/null || true
  sleep 0.5
  expect_ok runc delete -f "$CTR"
  CTR=
}
in_ctr() { runc exec "$CTR" "$@"; }

# map_entries NAME: 0 exactly when the pinned map NAME is empty (bpftool's JSON names a
# key twice per entry when the map has BTF).
map_entries() {
  bpftool -j map dump pinned "/sys/fs/bpf/knoxctl/$1" | grep -o '"key"' | wc -l
}

# run_loops SIDE WHERE: one run of each loop, appended to SIDE.WHERE.LOOP.
run_loops() {
  local loop n
  log "measuring: $1 $2" >&2
  for loop in exec open ro; do
    n=$OPENS
    [ $loop = exec ] && n=$EXECS
    case $2 in
      ctr) in_ctr /bin/sh /knox-loops.sh $loop $n >>"$1.$2.$loop" ;;
      # shellcheck disable=SC2016 # the inner shell expands them
      host) sh -c 'echo $$ >'$SESSION'/cgroup.procs && exec /bin/sh /knox-loops.sh "$@"' sh $loop $n >>"$1.$2.$loop" ;;
    esac
  done
}

cat >policy.yaml <<POLICY
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: bench-ctr
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: $NAME
  action: Block
  process:
    matchPaths:
    - path: /usr/bin/apt-get
  file:
    matchDirectories:
    - dir: /usr/bin/
      recursive: true
      readOnly: true
POLICY

# Warm-up: the first runs pay for the emulator's translation cache and the page cache.
ctr_start
run_loops warm ctr >/dev/null
run_loops warm host >/dev/null
ctr_rm
rm -f warm.* none.* lsm.* bare.*
r=0
while [ $r -lt "$ROUNDS" ]; do
  [ "$(lsm_links)" -eq 0 ] || fail "BPF-LSM programs are still attached on the no-agent side"
  ctr_start
  run_loops none ctr
  run_loops none host
  ctr_rm

  start_agent --enforcer bpf-lsm
  apply_policy policy.yaml
  ctr_start
  expect_output "BPF-LSM" "$KNOXCTL" containers
  [ "$(map_entries knox_cgroup_targets)" -gt 0 ] || fail "the container's cgroup is not in knox_cgroup_targets"
  run_loops lsm ctr
  run_loops lsm host
  # The rules were in force (checked after the loops: alerts make the agent work).
  expect_denied "Permission denied" in_ctr sh -c 'echo x >/usr/bin/knox-data'
  expect_denied "Permission denied" in_ctr sh -c '/usr/bin/apt-get --version'
  expect_ok sh -c 'cat /usr/bin/knox-data >/dev/null && /usr/bin/apt-get --version >/dev/null'

  expect_ok "$KNOXCTL" policy delete bench-ctr
  i=0
  while [ "$(map_entries knox_cgroup_targets)" -ne 0 ] && [ "$i" -lt 50 ]; do
    sleep 0.2
    i=$((i + 1))
  done
  [ "$(map_entries knox_cgroup_targets)" -eq 0 ] || fail "the container keeps its target after the policy was deleted"
  # Let the alerts of the checks above be written before timing.
  sleep 2
  run_loops bare host
  ctr_rm
  stop_agent
  lsm_reset
  r=$((r + 1))
done

median() { sort -n "$1" | sed -n "$(( ($(wc -l <"$1") + 1) / 2 ))p"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
per_op() { awk -v t="$1" -v n="$2" 'BEGIN { printf "%.2f", t / n / 1000 }'; }
spread() { awk -v n="$2" '{ v = $1 / n / 1000; s = s sep sprintf("%.2f", v); sep = " " } END { print s }' "$1"; }
clock=${KNOX_ICOUNT:+"guest instructions (1 ns = 2^$KNOX_ICOUNT instructions)"}
clock=${clock:-"wall clock"}
for loop in exec open ro; do
  case $loop in
    exec) n=$EXECS; what="exec loop ($EXECS execs of /usr/bin/true from dash)"; unit="us per exec" ;;
    open) n=$OPENS; what="open/close loop ($OPENS opens of /etc/hostname in one awk, no rule names it)"; unit="us per open" ;;
    ro) n=$OPENS; what="open/close loop ($OPENS opens of /usr/bin/knox-data in one awk, under the container's readOnly /usr/bin/)"; unit="us per open" ;;
  esac
  cn=$(median none.ctr.$loop); cl=$(median lsm.ctr.$loop)
  hn=$(median none.host.$loop); hl=$(median lsm.host.$loop); hb=$(median bare.host.$loop)
  echo "BENCH $what, $clock, median of $ROUNDS alternating rounds: container: no agent $(per_op "$cn" "$n") $unit [$(spread none.ctr.$loop "$n")], bpf-lsm with the container policy $(per_op "$cl" "$n") [$(spread lsm.ctr.$loop "$n")] ratio $(ratio "$cl" "$cn"); host (cgroup depth 3): no agent $(per_op "$hn" "$n") [$(spread none.host.$loop "$n")], agent + container policy $(per_op "$hl" "$n") [$(spread lsm.host.$loop "$n")] ratio $(ratio "$hl" "$hn"), agent without container rules $(per_op "$hb" "$n") [$(spread bare.host.$loop "$n")] ratio $(ratio "$hb" "$hn")"
done
