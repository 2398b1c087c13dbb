#!/bin/sh
# AccuKnox's container scenario on the AppArmor backend (issue #16 item 3), on the
# AppArmor boot (no BPF-LSM): runc bundles as in 19-lsm-containers, registered through
# `knoxctl oci-hook`. A policy naming container `web` makes the agent load knoxctl-c-web
# before any such container exists; `web` is started by runc with
# process.apparmorProfile=knoxctl-c-web, and the kernel denies a blocked exec and a blocked
# read inside it, with alerts carrying the container's fields and Enforcer AppArmor, and a
# raw rule (spec.apparmor) in web's policy refuses a read inside it.
# Container `plain`, started without the profile, is reported as running without it
# (policy apply, knoxctl containers) and falls back to fanotify. A runtime refuses to start
# a container in a profile that is not loaded. Deleting the policy keeps web's profile
# (empty) while web runs in it; removing web and stopping the agent leave no knoxctl-*
# profile.
# knox-timeout: 300
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

profiles() { cat /sys/kernel/security/apparmor/profiles; }

grep -qw apparmor /sys/kernel/security/lsm || skip "AppArmor is not active (lsm: $(cat /sys/kernel/security/lsm))"
ctr_cgroup2
# What 19's containers may do but CAP_SYS_ADMIN and CAP_SYS_CHROOT.
CTR_CAPS='"CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FOWNER","CAP_KILL","CAP_SETUID","CAP_SETGID","CAP_NET_RAW"'
# ctr_run, ctr_start, ctr_id, in_ctr, ctr_rm and ctr_pid come from lib.sh.

# wait_containers REGEX: `knoxctl containers -o json` matches REGEX within 25 s (the agent
# looks at a container's AppArmor label when its runtime reports it and every 10 s).
wait_containers() {
  local i=0
  while ! "$KNOXCTL" containers -o json 2>/dev/null | tr -d ' \n' | grep -qE -- "$1"; do
    i=$((i + 1))
    if [ "$i" -gt 125 ]; then
      expect_ok "$KNOXCTL" containers -o json
      fail "knoxctl containers -o json does not match /$1/ within 25 s"
    fi
    sleep 0.2
  done
}

start_agent --enforcer apparmor

cat >web.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: web-block
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: web
  severity: 8
  message: blocked in web
  process:
    matchPaths:
    - path: /usr/bin/date
  file:
    matchPaths:
    - path: /etc/knox-secret
  action: Block
POLICY
sed -e 's/web-block/plain-block/' -e 's/container.name: web/container.name: plain/' \
  -e 's/in web/in plain/' web.yaml >plain.yaml

# --- the profile exists before the container: no container named web runs yet ---
expect_output 'AppArmor profile loaded: knoxctl-c-web for containers named web' \
  "$KNOXCTL" policy apply -f web.yaml
profiles
expect_output '^knoxctl-c-web \(enforce\)' profiles
apply_policy plain.yaml
# A runtime refuses a profile that is not loaded: why it has to exist first.
ctr_run ghost knoxctl-c-ghost
[ "$KNOX_RC" -ne 0 ] || fail "runc started a container in a profile that is not loaded"
runc delete -f "$(ctr_id ghost)" 2>/dev/null || true
log "container in an unloaded profile: refused by runc"

ctr_start web knoxctl-c-web
echo "container secret" >/var/lib/knox-ctr/web/rootfs/etc/knox-secret
ctr_start plain
id=$(ctr_id web)
log "web init: $(cat "/proc/$(ctr_pid web)/attr/current"), plain init: $(cat "/proc/$(ctr_pid plain)/attr/current")"
expect_output '^knoxctl-c-web \(enforce\)' in_ctr web cat /proc/self/attr/current
expect_output '^unconfined' in_ctr plain cat /proc/self/attr/current
# The hook registered web before runc exec'd its entrypoint in the profile; the agent
# sees the label change on its next tick (2 s) and hands web's rules to AppArmor (only
# web can be enforced by AppArmor here).
t0=$(date +%s%N)
wait_containers '"backend":"AppArmor"'
log "web enforced by AppArmor $((($(date +%s%N) - t0) / 1000000)) ms after runc returned"

# --- AccuKnox's container scenario: blocked exec and read inside web, by the kernel ---
expect_denied "Permission denied" in_ctr web sh -c /usr/bin/date
expect_denied "Permission denied" in_ctr web cat /etc/knox-secret
# Known limit (README): the program a runtime starts (`runc exec`, `docker exec`, the
# entrypoint) is exec'd by the runtime, still in the runtime's profile, with the
# container's profile set for after the exec: AppArmor checks an exec against the
# caller's profile, so that first exec is not refused; everything it execs is.
_knox_run in_ctr web /usr/bin/date
log "limit: runc exec of a blocked program as the exec'd program itself: exit $KNOX_RC"
expect_ok in_ctr web ls /etc
expect_output 'secret' cat "/var/lib/knox-ctr/web/rootfs/etc/knox-secret"
expect_alert ContainerName=web ContainerID="$id" ContainerImage=knox/vm-rootfs:1 \
  NamespaceName=container_namespace PodName=web Type=MatchedPolicy Enforcer=AppArmor \
  PolicyName=web-block Operation=Process Resource=/usr/bin/date Action=Block \
  "Result=Permission denied" Severity=8 "Message=blocked in web"
expect_alert ContainerName=web Enforcer=AppArmor PolicyName=web-block Operation=File \
  Resource=/etc/knox-secret Action=Block "Result=Permission denied"
# The in-container PID is read from /proc when the record arrives: the shell whose exec
# was refused has exited by then, so only HostPID is known (README: AppArmor, containers).
line=$(alerts_json ContainerName=web Resource=/usr/bin/date | head -n 1)
log "exec alert pids: $(printf '%s' "$line" | grep -o '"[A-Za-z]*PID":[0-9]*' | tr '\n' ' ')"
expect_no_alert ContainerName=web 'Enforcer!=AppArmor' 'Resource=/usr/bin/date'
log "apparmor container web (knoxctl-c-web): exec /usr/bin/date and read /etc/knox-secret denied by the kernel, alerts with container fields and Enforcer AppArmor"

# --- knoxctl containers: the profile each runs under; web enforced by AppArmor ---
wait_containers '"apparmorProfile":"knoxctl-c-web"'
wait_containers '"apparmorProfile":"unconfined"'
expect_output 'knoxctl-c-web' "$KNOXCTL" containers
expect_output 'unconfined' "$KNOXCTL" containers
# plain runs without its profile: said, and fanotify enforces its exec rule.
expect_output 'runs under unconfined, not its profile knoxctl-c-plain' \
  sh -c "\"$KNOXCTL\" containers -o json | tr -d '\n'"
expect_output 'running WITHOUT their knoxctl AppArmor profile.*plain \(runs under unconfined; start it with --security-opt apparmor=knoxctl-c-plain; enforced there by fanotify only\)' \
  "$KNOXCTL" policy apply -f plain.yaml
expect_fail in_ctr plain /usr/bin/date
expect_alert ContainerName=plain PolicyName=plain-block Resource=/usr/bin/date Action=Block 'Enforcer!=AppArmor'
log "apparmor container plain (no profile): reported as running without knoxctl-c-plain, enforced by fanotify"

# --- a change of the policy replaces the running container's profile at once ---
sed 's|    - path: /usr/bin/date|    - path: /usr/bin/date\n    - path: /usr/bin/id|' web.yaml >web2.yaml
apply_policy web2.yaml
expect_denied "Permission denied" in_ctr web sh -c /usr/bin/id
expect_alert ContainerName=web Enforcer=AppArmor PolicyName=web-block Resource=/usr/bin/id

# --- spec.apparmor: KubeArmor's raw rules go into web's profile as written ---
echo "raw secret" >/var/lib/knox-ctr/web/rootfs/etc/knox-ctr-raw
cat >web-raw.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorPolicy
metadata:
  name: web-raw
  namespace: container_namespace
spec:
  selector:
    matchLabels:
      kubearmor.io/container.name: web
  apparmor: |
    deny /etc/knox-ctr-raw r,
POLICY
apply_policy web-raw.yaml
# Under AppArmor the raw rules are loaded: no "not enforced" warning.
case $KNOX_OUT in *"not enforced"*) fail "policy apply says web-raw is not enforced under AppArmor" ;; esac
expect_denied "Permission denied" in_ctr web cat /etc/knox-ctr-raw
# The raw deny is written audit deny: its denial is an alert naming the policy, which has
# no other rule (the container's event carries a stand-in rule of it).
expect_alert ContainerName=web PolicyName=web-raw Enforcer=AppArmor Operation=File \
  Resource=/etc/knox-ctr-raw Action=Block "Result=Permission denied" Type=MatchedPolicy
expect_ok in_ctr web cat /etc/passwd
# The host is not the container: its own file of that name stays readable.
echo "host raw" >/etc/knox-ctr-raw
expect_ok cat /etc/knox-ctr-raw
expect_ok "$KNOXCTL" policy delete web-raw
expect_output 'raw secret' in_ctr web cat /etc/knox-ctr-raw
log "apparmor container web: spec.apparmor raw rule (deny /etc/knox-ctr-raw r) refused a read inside the container (alert PolicyName web-raw, Enforcer AppArmor), not on the host; gone after delete"

# --- delete: web keeps an empty profile while it runs in it (later execs need it) ---
expect_ok "$KNOXCTL" policy delete web-block
expect_output '^knoxctl-c-web \(enforce\)' profiles
expect_ok in_ctr web sh -c /usr/bin/date
expect_ok in_ctr web cat /etc/knox-secret
ctr_rm web
expect_ok "$KNOXCTL" policy delete plain-block
i=0
while profiles | grep -q '^knoxctl-c-'; do
  i=$((i + 1))
  [ "$i" -lt 150 ] || { profiles; fail "container profiles left after web was removed and the policies deleted"; }
  sleep 0.2
done
ctr_rm plain
log "apparmor container profiles: replaced on apply, kept empty while used, unloaded when unused"

apply_policy web.yaml
expect_output '^knoxctl-c-web' profiles
stop_agent
if profiles | grep -q '^knoxctl-'; then
  profiles
  fail "knoxctl profiles left after the agent stopped"
fi
log "apparmor containers: no knoxctl-* profile left after stop"

# ==== BEGIN issue #18: a file allow-list with posture block keeps abstractions/base ====
# knoxctl-c-base carries abstractions/base's grants inline (generated from
# src/policy/base_abstraction.rs; no #include: the VM has no abstraction files), as
# KubeArmor's container profiles include it: programs in the container load their
# libraries under an allow-list that names only its data, while an unlisted read and a
# write under /usr/lib are refused by the kernel (EACCES).
printf 'clusterName: default\ndefaultPosture:\n  file: block\n' >"$KNOX_AGENT_CONFIG"
start_agent --enforcer apparmor
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
  action: Allow
POLICY
expect_output 'AppArmor profile loaded: knoxctl-c-base' "$KNOXCTL" policy apply -f base.yaml
ctr_start base knoxctl-c-base
root=/var/lib/knox-ctr/base/rootfs
mkdir -p "$root/srv"
echo "base data" >"$root/srv/knox-data"
echo "base shadow" >"$root/etc/knox-shadow"
grep -qa 'libc\.so' "$root/usr/bin/cat" || fail "cat is not dynamically linked here"
# Read from the host: the allow-list leaves /proc/self/attr out inside.
expect_output '^knoxctl-c-base \(enforce\)' cat "/proc/$(ctr_pid base)/attr/current"
wait_containers '"backend":"AppArmor"'
# sh and the cat it runs start in knoxctl-c-base: their libraries, and sh's /dev/null.
expect_output "base data" in_ctr base sh -c 'cat /srv/knox-data 2>/dev/null'
expect_denied "Permission denied" in_ctr base sh -c 'cat /etc/knox-shadow'
expect_denied "Permission denied" in_ctr base sh -c 'touch /usr/lib/knox-base-new'
[ ! -e "$root/usr/lib/knox-base-new" ] || fail "a write under /usr/lib passed (base grants reading only)"
expect_alert ContainerName=base Enforcer=AppArmor Resource=/etc/knox-shadow Action=Block "Result=Permission denied"
expect_no_alert ContainerName=base 'Resource~^/(usr/)?lib(32|64)?/.*\.so'
log "apparmor container base (file allow-list, posture block): sh and cat load their libraries (abstractions/base inline), an unlisted read and a write under /usr/lib denied by the kernel"
ctr_rm base
stop_agent
# ==== END issue #18 ====
