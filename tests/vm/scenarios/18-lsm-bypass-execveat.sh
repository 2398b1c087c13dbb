#!/bin/sh
# A blocked program run from a file descriptor (issue #13): execveat(fd, "", AT_EMPTY_PATH)
# on an O_PATH descriptor, fexecve(3) on an O_RDONLY one, and execveat(dirfd, name). The
# kernel execs the file the descriptor holds, and bprm_check_security sees that file:
# each must end in "Permission denied" and a Block alert naming the program's path.
# The helper (tests/vm/execveat.rs, no perl or python in the VM) is built by tests/vm.rs
# and named on the kernel command line (knox_execveat=PATH).
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

helper=${knox_execveat:-}
if [ -z "$helper" ] || [ ! -x "$helper" ]; then
  skip "no execveat helper in this VM (knox_execveat='$helper'): tests/vm.rs builds tests/vm/execveat.rs and passes it"
fi

cat >apt.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: block-apt
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  process:
    matchPaths:
    - path: /usr/bin/apt
  action: Block
POLICY

# The helper itself runs programs from descriptors.
expect_output '^uid=0' "$helper" empty-path /usr/bin/id
expect_output '^uid=0' "$helper" fexecve /usr/bin/id
expect_output '^uid=0' "$helper" dirfd /usr/bin/id
expect_output '^apt 2\.' "$helper" empty-path /usr/bin/apt --version

start_agent --enforcer bpf-lsm
apply_policy apt.yaml

for mode in empty-path fexecve dirfd; do
  before=$(alert_count PolicyName=block-apt Resource=/usr/bin/apt Action=Block)
  expect_denied "Permission denied" "$helper" "$mode" /usr/bin/apt --version
  case $KNOX_OUT in
    *"apt 2."*) fail "apt ran through $mode" ;;
  esac
  expect_alert PolicyName=block-apt Resource=/usr/bin/apt Action=Block Enforcer=BPFLSM \
    Result="Permission denied" Data=lsm=SECURITY_BPRM_CHECK
  # This route's own alert (the one above may be an earlier route's).
  n=0
  while [ "$(alert_count PolicyName=block-apt Resource=/usr/bin/apt Action=Block)" -le "$before" ]; do
    n=$((n + 1))
    [ "$n" -le 50 ] || fail "no new Block alert for $mode within 10 s"
    sleep 0.2
  done
done
# Other programs still run from descriptors.
expect_output '^uid=0' "$helper" empty-path /usr/bin/id
expect_output '^uid=0' "$helper" fexecve /usr/bin/id
log "bypass bpf-lsm exec: execveat/fexecve: blocked"
