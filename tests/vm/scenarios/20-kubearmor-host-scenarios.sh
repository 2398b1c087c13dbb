#!/bin/sh
# shellcheck shell=dash
# knox-timeout: 900
# KubeArmor's own host scenarios (tests/k8s_env/host_scenarios in KubeArmor's repository,
# from the conformance corpus) against the BPF-LSM enforcer: each dir's policy applied to
# this VM, each cmdN run and checked as KubeArmor's test runner checks it, the policy
# deleted before the next dir. One agent for the whole scenario.
#
# The cmd files (`cmd:`, `result:`, then `operation:`, `condition:`, `action:`) mean, in
# KubeArmor's runner (tests/k8s_env/test-scenarios-in-runtime.sh), for host policies:
#   result failed               the command fails: here non-zero AND "Permission denied"
#                               (the runner only looks at the log; we check both);
#   result passed               the command exits 0;
#   action Block|Allow + failed an alert PolicyName=<policy> Operation=<operation>,
#                               Resource containing <condition>, Action=<action>, Result
#                               other than Passed;
#   action Audit + passed       the same alert with Result=Passed;
#   action Block|Allow + passed no such alert (Result other than Passed);
#   result/action default       the runner resolves it against the default posture (block:
#                               failed + DefaultPosture/Block; audit: passed +
#                               DefaultPosture/Audit). KubeArmor's host default posture
#                               (hostDefaultFilePosture) is audit, and so is knoxctl's
#                               (defaultPosture.file, set explicitly below): the command
#                               passes and raises an alert PolicyName=DefaultPosture
#                               Action=Audit for the condition. (The runner skips these
#                               checks for host policies; the policies' comments, "bash:
#                               /usr/bin/ls: Permission denied", describe block posture
#                               under AppArmor, whose fromSource profiles confine only the
#                               source. A block posture cannot be run here: with BPF-LSM an
#                               Allow rule puts the whole host in allow-list mode, so every
#                               other exec on the VM, this script's included, would be
#                               denied, in KubeArmor as in knoxctl.)
# Two checks go further than the runner: alerts must come from the command's own process
# (or a child), so one case's alert cannot satisfy the next; and an Allow+passed case must
# raise no DefaultPosture alert for its condition, or the Allow rule did not match and only
# the audit posture let the command through.
#
# Commands run as root, through `bash -c`, as the runner runs them (`source:` names the
# Kubernetes node and means nothing here). Policies select nodes by kubernetes.io/hostname:
# only its value is rewritten to this VM's name, and the agent carries that label, as a
# Kubernetes node does.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

# Intended differences from KubeArmor, `dir/cmdN: reason` (none: every case must pass).
known_differences=''

ka_corpus
corpus=$KA_DIR/kubearmor/tests/k8s_env/host_scenarios
# Where the corpus's policy symlinks were meant to point (see ka_host_policy).
examples=$KA_DIR/kubearmor/policies/examples/host-security-policies
[ -d "$corpus" ] || fail "no $corpus in the corpus"
host=$(hostname)

# ka_host_policy DIR: the path of DIR's policy. The kubearmor-dev_test_* policies are
# symlinks in KubeArmor's repository, stored here as text (their target path), and the
# targets were renamed upstream (examples/.../hsp-kubearmor-dev-X.yaml became
# hsp-k8s-kubearmor-dev-X.yaml); each example names the scenario dir it belongs to in a
# `# <dir>` comment, which finds it. Prints nothing when there is no policy; says how it
# found the policy on stderr.
ka_host_policy() {
  local d="$1" f target n
  set -- "$d"/*.yaml
  [ "$#" -eq 1 ] && [ -e "$1" ] || return 0
  f=$1
  if grep -q '^kind:' "$f"; then
    printf '%s\n' "$f"
    return 0
  fi
  target=$(sed -n '1p' "$f")
  case $target in
    /*) ;;
    *) target=$d/$target ;;
  esac
  if [ -f "$target" ] && grep -q '^kind:' "$target"; then
    log "$f links to $target" >&2
    printf '%s\n' "$target"
    return 0
  fi
  n=$(grep -lx "# ${d##*/}" "$examples"/*.yaml 2>/dev/null | wc -l)
  if [ "$n" -eq 1 ]; then
    target=$(grep -lx "# ${d##*/}" "$examples"/*.yaml)
    log "${f##*/} is a symlink (stored as text) to $(sed -n '1p' "$f"), absent from the corpus; using ${target#"$KA_DIR"/}, whose header names ${d##*/}" >&2
    printf '%s\n' "$target"
  fi
}

cat >"$KNOX_AGENT_CONFIG" <<'CONFIG'
clusterName: default
defaultPosture:
  file: audit
  network: audit
  capabilities: audit
CONFIG
start_agent --enforcer bpf-lsm --label "kubernetes.io/hostname=$host"
expect_output 'bpf-lsm' knoxctl probe

for d in "$corpus"/*/; do
  d=${d%/}
  dir=${d##*/}
  ka_uptime
  printf '\n=== %s (uptime %s s)\n' "$dir" "$KA_UPTIME"
  src=$(ka_host_policy "$d")
  name=
  apply_err=
  if [ -z "$src" ]; then
    apply_err="no policy found for $dir"
  else
    sed -E "s#((kubernetes|kubearmor)\.io/hostname:).*#\1 $host#" "$src" >policy.yaml
    name=$(ka_policy_name policy.yaml)
    log "policy $name from ${src#"$KA_DIR"/}, nodeSelector: $(grep -E 'io/hostname:' policy.yaml | tr -s ' ')"
    ka_run knoxctl policy apply -f policy.yaml
    if [ "$KNOX_RC" -ne 0 ]; then
      apply_err="knoxctl policy apply failed (exit $KNOX_RC): $(printf '%s' "$KNOX_OUT" | tr '\n' ' ')"
    fi
  fi

  for c in "$d"/cmd*; do
    [ -f "$c" ] || continue
    cmd=$(ka_field "$c" cmd)
    result=$(ka_field "$c" result)
    op=$(ka_field "$c" operation)
    cond=$(ka_field "$c" condition)
    action=$(ka_field "$c" action)
    ka_begin "$dir/${c##*/}"
    log "cmd: $cmd | result: $result | operation: $op | condition: $cond | action: $action"
    if [ -n "$apply_err" ]; then
      ka_bad "$apply_err"
      ka_end
      continue
    fi
    policy=$name
    if [ "$result" = default ] && [ "$action" = default ]; then
      # The default posture (audit, see the top): permitted, audited as DefaultPosture.
      result=passed
      action=Audit
      policy=DefaultPosture
    fi
    ka_run bash -c "$cmd"
    pid=$KA_PID
    case $result in
      failed)
        if [ "$KNOX_RC" -eq 0 ]; then
          ka_bad "exit 0, expected a denial"
        else
          case $KNOX_OUT in
            *"Permission denied"*) ka_good "denied (exit $KNOX_RC, Permission denied)" ;;
            *) ka_bad "exit $KNOX_RC without \"Permission denied\"" ;;
          esac
        fi
        ;;
      passed)
        if [ "$KNOX_RC" -eq 0 ]; then
          ka_good "exit 0"
        else
          ka_bad "exit $KNOX_RC, expected success"
        fi
        ;;
      *) ka_bad "unknown result '$result' in ${c##*/}" ;;
    esac
    filters="PolicyName=$policy|Operation=$op|Resource~$(ka_regex "$cond")|Action=$action"
    old_ifs=$IFS
    IFS='|'
    # shellcheck disable=SC2086 # split on | into filters (values may hold blanks)
    set -- $filters
    IFS=$old_ifs
    shown=$(printf '%s' "$filters" | tr '|' ' ')
    case $action:$result in
      Audit:passed)
        if ka_alert_seen "$pid" "$@" Result=Passed; then
          ka_good "alert $shown Result=Passed"
        else
          ka_bad "no alert $shown Result=Passed from pid $pid"
        fi
        ;;
      *:failed)
        if ka_alert_seen "$pid" "$@" 'Result!=Passed'; then
          ka_good "alert $shown Result!=Passed"
        else
          ka_bad "no alert $shown Result!=Passed from pid $pid"
        fi
        ;;
      Block:passed | Allow:passed)
        if ka_alert_absent "$pid" "$@" 'Result!=Passed'; then
          ka_good "no alert $shown Result!=Passed"
        else
          ka_bad "unexpected alert $shown Result!=Passed from pid $pid"
        fi
        if [ "$action" = Allow ]; then
          if ka_alert_absent "$pid" PolicyName=DefaultPosture "Operation=$op" \
            "Resource~$(ka_regex "$cond")"; then
            ka_good "no DefaultPosture alert"
          else
            ka_bad "a DefaultPosture alert for $cond: the Allow rule did not match"
          fi
        fi
        ;;
      *) ka_bad "unknown action '$action' in ${c##*/}" ;;
    esac
    ka_end
  done

  if [ -n "$name" ] && [ -z "$apply_err" ]; then
    ka_run knoxctl policy delete "$name"
    [ "$KNOX_RC" -eq 0 ] || ka_error "knoxctl policy delete $name failed (exit $KNOX_RC)"
    # An Allow rule puts the host in allow-list mode, where everything else is audited:
    # let the agent catch up before the next dir.
    if grep -Eq '(^|[[:space:]])Allow[[:space:]]*$' policy.yaml; then
      ka_settle
    fi
  fi
done

# The agent's counters (alerts stored and dropped, enforcer events dropped).
knoxctl probe 2>&1 | grep '^agent' || true
ka_summary "host scenarios"
