#!/bin/sh
# Containers on BPF-LSM (issue #14): runc bundles built from the VM's own binaries,
# registered through `knoxctl oci-hook` at createRuntime/poststop as podman would, each
# container's rules in a BPF-LSM target keyed by its cgroup v2 id. Checks AccuKnox's FIM
# policy in a container named `ubuntu` (alerts with every container field), a process
# Block rule, a network rule, an `unshare`d process, and that a container started after
# a removed one (in a new cgroup, possibly reusing its namespace inodes) inherits nothing.
# Then (issue #18) a file allow-list with posture block: abstractions/base stays allowed.
# knox-timeout: 480
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

# runc containers (ctr_* in lib.sh) need cgroup v2, mounted before the agent starts.
ctr_cgroup2

# map_entries NAME: how many entries the pinned map NAME holds (0 exactly when empty;
# bpftool's JSON names a key twice per entry when the map has BTF).
map_entries() {
  bpftool -j map dump pinned "/sys/fs/bpf/knoxctl/$1" | grep -o '"key"' | wc -l
}

start_agent --enforcer bpf-lsm
# Nothing on the host: every rule entry in the maps is a container's.
ctr_start ubuntu
ctr_start web
expect_output "ubuntu" "$KNOXCTL" containers

policy_for_this_host /knox/examples/policies/accuknox-file-integrity-monitoring.yaml >fim.yaml
cat >proc.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: ubuntu-no-date
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: ubuntu
  process:
    matchPaths:
    - path: /usr/bin/date
  action: Block
POLICY
cat >net.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: ubuntu-no-icmp
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: ubuntu
  network:
    matchProtocols:
    - protocol: icmp
  action: Block
POLICY
expect_output "by BPF-LSM" "$KNOXCTL" policy apply -f fim.yaml
apply_policy proc.yaml
apply_policy net.yaml
expect_output "BPF-LSM" "$KNOXCTL" containers

id=$(ctr_id ubuntu)
# AccuKnox's FIM scenario: the EICAR file cannot be moved into /usr/bin, nothing new in
# /usr/lib; reads and execs still work.
expect_ok in_ctr ubuntu sh -c 'echo "X5O!P%@AP[4\PZX54(P^)7CC)7}\$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!\$H+H*" >/tmp/eicar.com'
expect_denied "Permission denied" in_ctr ubuntu mv /tmp/eicar.com /usr/bin/eicar.com
expect_denied "Permission denied" in_ctr ubuntu touch /usr/lib/knox-new
expect_ok in_ctr ubuntu sh -c 'cat /usr/bin/sleep >/dev/null' 
expect_output "sleep" in_ctr ubuntu ls /usr/bin
expect_alert ContainerName=ubuntu ContainerID="$id" ContainerImage=knox/vm-rootfs:1 \
  NamespaceName=container_namespace PodName=ubuntu Labels~app=ubuntu Type=MatchedPolicy \
  Enforcer=BPFLSM PolicyName=harden-file-integrity-monitoring Resource=/usr/bin/eicar.com \
  Action=Block Result="Permission denied"
expect_alert ContainerName=ubuntu Resource=/usr/lib/knox-new Action=Block Enforcer=BPFLSM
# The in-container pid: the container's pid namespace numbers from 1, the host's do not.
line=$(alerts_json ContainerName=ubuntu Resource=/usr/lib/knox-new | head -n 1)
pid=$(printf '%s' "$line" | sed -n 's/.*"PID":\([0-9]*\).*/\1/p')
host_pid=$(printf '%s' "$line" | sed -n 's/.*"HostPID":\([0-9]*\).*/\1/p')
log "touch alert: PID=$pid HostPID=$host_pid"
[ -n "$pid" ] && [ -n "$host_pid" ] && [ "$pid" != "$host_pid" ] || fail "the alert has no in-container PID"
log "container bpf-lsm AccuKnox FIM in ubuntu (mv EICAR into /usr/bin, touch in /usr/lib): blocked, alerts with container fields"

# A process Block rule: the container only; the host and the other container run date.
# runc's own exec reports the EACCES in lowercase; a shell inside says it as usual.
expect_denied "permission denied" in_ctr ubuntu date
expect_denied "Permission denied" in_ctr ubuntu sh -c date
expect_alert ContainerName=ubuntu PolicyName=ubuntu-no-date Resource=/usr/bin/date Action=Block Result="Permission denied"
expect_ok date
expect_ok in_ctr web date
expect_ok in_ctr web touch /usr/lib/web-may
log "container bpf-lsm process Block in ubuntu: blocked; host and container web: allowed"

# The network rule: ICMP sockets in ubuntu only.
expect_fail in_ctr ubuntu ping -c 1 -W 1 127.0.0.1
expect_alert ContainerName=ubuntu PolicyName=ubuntu-no-icmp Operation=Network Action=Block
expect_ok ping -c 1 -W 1 127.0.0.1
expect_ok in_ctr web ping -c 1 -W 1 127.0.0.1
log "container bpf-lsm network (icmp) Block in ubuntu: blocked; host and web: allowed"

# unshare: new mount and pid namespaces inside the container change nothing (the
# process is still in the container's cgroup).
expect_denied "Permission denied" in_ctr ubuntu unshare -m -p -f sh -c 'date'
expect_denied "Permission denied" in_ctr ubuntu unshare -m -p -f sh -c 'touch /usr/lib/knox-unshared'
log "container bpf-lsm unshare -m -p -f inside ubuntu: still governed"

# Removal: the poststop hook unregisters ubuntu; its rules go, and no map entry stays.
ns_a=$(readlink "/proc/$(ctr_pid ubuntu)/ns/mnt")
# While ubuntu has rules, the maps hold them (so the emptiness below means something).
[ "$(map_entries knox_cgroup_targets)" -gt 0 ] || fail "knox_cgroup_targets should hold ubuntu's cgroup"
[ "$(map_entries knox_dir_ids)" -gt 0 ] || fail "knox_dir_ids should hold ubuntu's FIM directories"
# The hooks found their targets through the per-cgroup cache (its misses walk the cgroups).
# A host answer cached for ubuntu's cgroup before its registration (at createRuntime runc's
# init already runs there) was voided by the epoch the registration bumped, or the blocks
# above would have failed.
[ "$(map_entries knox_cgroup_cache)" -gt 0 ] || fail "knox_cgroup_cache holds no answer"
epoch_before=$(bpftool -j map dump pinned /sys/fs/bpf/knoxctl/knox_cgroup_epoch)
ctr_rm ubuntu
i=0
while [ "$(map_entries knox_cgroup_targets)" -ne 0 ] && [ "$i" -lt 50 ]; do
  sleep 0.2
  i=$((i + 1))
done
for m in knox_cgroup_targets knox_paths knox_inodes knox_ancestors knox_dir_ids knox_names knox_nums knox_sources; do
  n=$(map_entries "$m")
  log "$m after removal: $n entries"
  [ "$n" -eq 0 ] || fail "$m keeps $n entries after the container was removed"
done
# The removal voided the cached answers (ubuntu's processes' target among them).
epoch_after=$(bpftool -j map dump pinned /sys/fs/bpf/knoxctl/knox_cgroup_epoch)
log "knox_cgroup_epoch: $epoch_before before the removal, $epoch_after after"
[ "$epoch_after" != "$epoch_before" ] || fail "knox_cgroup_epoch was not bumped by the removal"
# A new container (not selected) in a new cgroup; namespace inodes are reused when free.
ctr_start fresh
ns_b=$(readlink "/proc/$(ctr_pid fresh)/ns/mnt")
log "mount namespace: removed ubuntu $ns_a, fresh $ns_b"
expect_ok in_ctr fresh date
expect_ok in_ctr fresh touch /usr/lib/knox-new
expect_ok in_ctr fresh sh -c 'mv /usr/lib/knox-new /usr/bin/knox-new'
if [ "$ns_a" = "$ns_b" ]; then
  log "container bpf-lsm new container reusing a removed one's mount namespace inode: inherits nothing"
else
  log "container bpf-lsm new container after a removed one (namespace inode not reused this time): inherits nothing"
fi
ctr_rm web
ctr_rm fresh

# --- a file allow-list with posture block keeps abstractions/base (issue #18) ---
# KubeArmor's AppArmor profiles include abstractions/base, and `policy test` predicts it
# (src/policy/base_abstraction.rs): a container allow-list naming only its data still
# runs dynamically linked programs (the loader's opens of libc and the other libraries
# are base's), while an unlisted file and a write under /usr/lib get the posture (EACCES).
stop_agent
printf 'clusterName: default\ndefaultPosture:\n  file: block\n' >"$KNOX_AGENT_CONFIG"
start_agent --enforcer bpf-lsm
ctr_start base
root=/var/lib/knox-ctr/base/rootfs
mkdir -p "$root/srv"
echo "base data" >"$root/srv/knox-data"
echo "base shadow" >"$root/etc/knox-shadow"
cat >base.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: base-allow-list
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: base
  file:
    matchPaths:
    - path: /srv/knox-data
    # runc's init reads these in the container before it execs the program.
    - path: /etc/passwd
    - path: /etc/group
    matchDirectories:
    - dir: /proc/
      recursive: true
  action: Allow
POLICY
apply_policy base.yaml
expect_output "BPF-LSM" "$KNOXCTL" containers
grep -qa 'libc\.so' "$root/usr/bin/cat" || fail "cat is not dynamically linked here"
expect_output "base data" in_ctr base cat /srv/knox-data
expect_output "base data" in_ctr base sh -c 'cat /srv/knox-data 2>/dev/null'
expect_denied "Permission denied" in_ctr base cat /etc/knox-shadow
expect_denied "Permission denied" in_ctr base touch /usr/lib/knox-base-new
expect_alert ContainerName=base PolicyName=DefaultPosture Resource=/etc/knox-shadow Action=Block Result="Permission denied"
expect_alert ContainerName=base Resource=/usr/lib/knox-base-new Action=Block
expect_no_alert ContainerName=base 'Resource~^/(usr/)?lib(32|64)?/.*\.so'
expect_no_alert ContainerName=base Resource=/dev/null
log "container bpf-lsm file allow-list (posture block): cat and sh load their libraries (abstractions/base), an unlisted read and a write under /usr/lib denied with EACCES"
ctr_rm base
