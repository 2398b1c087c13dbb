#!/bin/sh
# shellcheck shell=dash
# knox-timeout: 600
# `knoxctl harden verify --all` against the agent with the BPF-LSM enforcer: every host
# template of the built-in catalog whose preconditions hold in this VM is applied (Audit),
# its verify recipe is run, and the alert it must raise is looked for. Templates whose
# preconditions do not hold here (the VM has only the binaries of tests/vm/binaries.txt)
# are skipped with their reason. The count line (`kubearmor harden verify (bpf-lsm): N/M
# passed`: the prefix is what tests/vm.rs copies into the suite's summary, although these
# are knoxctl's templates, not KubeArmor's) counts the templates that ran.
#
# A failure of a template whose every rule section BPF-LSM claims to enforce (the
# catalog's section_enforcers) fails the scenario; any other failure (a syscalls rule,
# audited by the monitor) is listed as a limitation.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

start_agent --enforcer bpf-lsm
expect_output 'bpf-lsm' knoxctl probe

started=$(date +%s)
_knox_run knoxctl harden verify --all
took=$(($(date +%s) - started))
case $KNOX_OUT in
  *"harden verify: "*) ;;
  *) agent_log; fail "harden verify --all printed no summary (exit $KNOX_RC)" ;;
esac

passed=$(printf '%s\n' "$KNOX_OUT" | grep -c '^PASS ' || true)
failed=$(printf '%s\n' "$KNOX_OUT" | grep -c '^FAIL ' || true)
skipped=$(printf '%s\n' "$KNOX_OUT" | grep -c '^SKIP ' || true)
claimed=$(printf '%s\n' "$KNOX_OUT" | grep '^FAIL ' | grep '(bpf-lsm enforces its ' |
  sed 's/^FAIL \([^:]*\):.*/\1/' | tr '\n' ' ')
limited=$(printf '%s\n' "$KNOX_OUT" | grep '^FAIL ' | grep '(bpf-lsm does not enforce its ' |
  sed 's/^FAIL \([^:]*\):.*/\1/' | tr '\n' ' ')

printf '\nkubearmor harden verify (bpf-lsm): %s/%s passed\n' "$passed" "$((passed + failed))"
log "$passed passed, $failed failed, $skipped skipped (preconditions not met here) in ${took} s"
[ -z "$limited" ] || log "limitations (rules BPF-LSM does not enforce, audited elsewhere): $limited"

[ "$passed" -gt 0 ] || fail "no template passed verification"
if [ -n "$claimed" ]; then
  agent_log
  fail "templates BPF-LSM claims to enforce failed verification: $claimed"
fi
# Every FAIL line says which kind it is; one that says neither is a bug in verify.
[ "$failed" -eq "$(printf '%s\n' "$KNOX_OUT" | grep '^FAIL ' | grep -c 'enforce its ' || true)" ] ||
  fail "FAIL lines without the enforcer's claim"
# verify leaves nothing applied behind.
expect_ok knoxctl policy list
case $KNOX_OUT in
  *harden-*) fail "harden verify left policies applied" ;;
esac
