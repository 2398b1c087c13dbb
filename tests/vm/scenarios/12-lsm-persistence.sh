#!/bin/sh
# Enforcement outlives the agent: SIGKILL leaves the programs attached with the last
# rules; a restarted agent adopts them (the same number of links, no gap, no
# duplicates) and reports again; removing the pins (what offboard does) ends it.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

policy_for_this_host /knox/examples/policies/accuknox-block-pkg-mgmt-tools.yaml >pkg.yaml
start_agent --enforcer bpf-lsm
apply_policy pkg.yaml
links=$(lsm_links)
[ "$links" -ge 18 ] || fail "expected 18 LSM links, bpftool shows $links"
expect_denied "Permission denied" apt --version

pid=$KNOX_AGENT_PID
kill -KILL "$pid"
KNOX_AGENT_PID=
wait "$pid" 2>/dev/null || true
log "agent killed with SIGKILL"
expect_denied "Permission denied" apt --version
expect_denied "Permission denied" dpkg --version
[ "$(lsm_links)" = "$links" ] || fail "links changed while no agent ran: $(lsm_links) vs $links"

# A restart while a loop keeps trying apt: not one attempt may get through.
( i=0; while [ $i -lt 150 ]; do apt --version >/dev/null 2>&1 && echo RAN; i=$((i + 1)); done ) >loop.out &
loop=$!
start_agent --enforcer bpf-lsm
wait "$loop"
if grep -q RAN loop.out; then fail "apt ran while the agent restarted"; fi
[ "$(lsm_links)" = "$links" ] || fail "after the restart: $(lsm_links) links, before: $links (duplicates?)"
expect_output 'block-pkg-mgmt-tools' knoxctl policy list
expect_denied "Permission denied" apt --version
n=$(alert_count PolicyName=block-pkg-mgmt-tools Resource=/usr/bin/apt)
expect_alert PolicyName=block-pkg-mgmt-tools Resource=/usr/bin/apt Action=Block
log "$n apt alerts stored after the restart"

# A clean stop keeps enforcing too.
stop_agent
expect_denied "Permission denied" apt --version
lsm_reset
[ "$(lsm_links)" = 0 ] || fail "links left after removing the pins: $(lsm_links)"
expect_output '^apt ' apt --version
