#!/bin/sh
# The harness's end-to-end check with today's enforcer: AccuKnox's block-pkg-mgmt-tools
# policy, pointed at this VM, makes the kernel deny apt (fanotify), the denial becomes a
# Block alert, and apt runs again once the agent is gone.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

expect_output '^apt ' apt --version

start_agent --enforcer fanotify
policy_for_this_host /knox/examples/policies/accuknox-block-pkg-mgmt-tools.yaml >policy.yaml
apply_policy policy.yaml
expect_denied "Operation not permitted" apt --version
expect_denied "Operation not permitted" /bin/apt-get --version
expect_ok ls /
expect_alert PolicyName=block-pkg-mgmt-tools Action=Block Resource=/usr/bin/apt HostName=knox-vm
stop_agent

expect_output '^apt ' apt --version
