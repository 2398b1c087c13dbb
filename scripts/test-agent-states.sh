#!/usr/bin/env bash
# Runs the CLI and agent tests in the state of the host that the main run did not see, so
# that every run of scripts/test.sh proves them both with and without an onboarded agent on
# the default paths (/run/knoxctl, /var/lib/knoxctl, /etc/knoxctl):
#
# - an onboarded agent answers (README's first command ran): the tests run in a private
#   mount namespace where those directories are empty (tmpfs over each), so nothing of the
#   real installation can be reached; the agent itself keeps running, untouched;
# - none answers: the knoxctl just built is onboarded for the duration (standalone or
#   systemd, as `onboard vm` picks) and offboarded with --purge afterwards, also when the
#   tests fail or the script is interrupted.
#
# Usage: scripts/test-agent-states.sh [--with-agent | --without-agent]  (default: the other
# state). Run as root, after `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."

knoxctl=target/release/knoxctl
[ -x "$knoxctl" ] || { echo "test-agent-states.sh: build first (cargo build --release)" >&2; exit 2; }
tests=(--test cli --test agent)
default_dirs=(/run/knoxctl /var/lib/knoxctl /etc/knoxctl)

answers() {
  env -u KNOXCTL_SOCKET -u KNOXCTL_ROOT "$knoxctl" policy list --socket /run/knoxctl/agent.sock >/dev/null 2>&1
}

want=${1:-}
if [ -z "$want" ]; then
  if answers; then want=--without-agent; else want=--with-agent; fi
fi

case $want in
  --without-agent)
    echo "test-agent-states.sh: an agent answers on /run/knoxctl/agent.sock: running ${tests[*]} with it hidden (private mount namespace)" >&2
    # The namespace's mounts vanish with it: nothing to undo on the host.
    exec unshare --mount --propagation private bash -c '
      set -euo pipefail
      for d in "$@"; do
        if [ -d "$d" ]; then mount -t tmpfs -o mode=0755 knoxctl-hidden "$d"; fi
      done
      if env -u KNOXCTL_SOCKET target/release/knoxctl policy list --socket /run/knoxctl/agent.sock >/dev/null 2>&1; then
        echo "test-agent-states.sh: the agent is still reachable in the namespace" >&2
        exit 1
      fi
      exec cargo test --release --locked --no-fail-fast '"${tests[*]}"'
    ' bash "${default_dirs[@]}"
    ;;
  --with-agent)
    if answers; then
      echo "test-agent-states.sh: an agent answers already; running ${tests[*]} with it" >&2
      exec cargo test --release --locked --no-fail-fast "${tests[@]}"
    fi
    echo "test-agent-states.sh: no agent on the default paths: onboarding one (knoxctl onboard vm --yes) for ${tests[*]}" >&2
    cleanup() {
      echo "test-agent-states.sh: offboarding the agent onboarded for the tests" >&2
      env -u KNOXCTL_ROOT "$knoxctl" offboard vm --purge --yes >&2 || true
    }
    trap cleanup EXIT INT TERM
    env -u KNOXCTL_ROOT "$knoxctl" onboard vm --yes >&2
    answers || { echo "test-agent-states.sh: the onboarded agent does not answer" >&2; exit 1; }
    cargo test --release --locked --no-fail-fast "${tests[@]}"
    ;;
  *)
    echo "usage: $0 [--with-agent | --without-agent]" >&2
    exit 2
    ;;
esac
