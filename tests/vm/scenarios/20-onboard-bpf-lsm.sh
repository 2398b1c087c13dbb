#!/bin/sh
# onboard vm / offboard vm with the BPF-LSM enforcer, on a kernel where it works: onboarding
# starts the agent (standalone: no systemd in the VM) and it enforces with BPF-LSM; its
# pinned links would go on enforcing after the agent stops, so offboarding must remove
# them: afterwards no LSM link is attached, /sys/fs/bpf/knoxctl is gone and apt runs.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

# The default paths (/etc/knoxctl, /run/knoxctl/agent.sock, /var/lib/knoxctl), not the
# scenario agent's.
unset KNOXCTL_SOCKET KNOXCTL_STATE_DIR
policy_for_this_host /knox/examples/policies/accuknox-block-pkg-mgmt-tools.yaml >pkg.yaml
trap 'knoxctl offboard vm --purge --yes >/dev/null 2>&1 || true' EXIT

expect_output 'enforcer bpf-lsm' knoxctl onboard vm --yes --enforcer bpf-lsm
expect_output 'already onboarded, nothing to do' knoxctl onboard vm --yes --enforcer bpf-lsm
expect_ok knoxctl policy apply -f pkg.yaml
expect_denied "Permission denied" apt --version
links=$(lsm_links)
[ "$links" -ge 18 ] || fail "expected 18 LSM links, bpftool shows $links"
[ -d /sys/fs/bpf/knoxctl ] || fail "no pin directory"

expect_ok knoxctl sysdump -o /run/dump.tar.gz
tar -xzf /run/dump.tar.gz -C /run
assert_grep 'link_' /run/dump/enforcer/bpf-pins.txt
assert_grep '"status": "ok"' /run/dump/manifest.json

expect_output 'offboarded: nothing' knoxctl offboard vm --purge --yes
[ "$(lsm_links)" = 0 ] || fail "LSM links left after offboarding: $(lsm_links)"
[ ! -e /sys/fs/bpf/knoxctl ] || fail "/sys/fs/bpf/knoxctl left after offboarding"
[ ! -e /etc/knoxctl ] && [ ! -e /var/lib/knoxctl ] && [ ! -e /run/knoxctl ] ||
  fail "files left after offboarding"
expect_output '^apt ' apt --version
