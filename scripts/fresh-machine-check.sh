#!/usr/bin/env bash
# What a new user meets: clones this repository into a scratch directory and runs the two
# set-up commands of its README.md, in order, exactly as written there (they are read from
# the README, not copied here), reporting each one's time and result.
#
# The first command onboards this machine and leaves the agent running, as the README says
# it does; the second (the whole test suite) must then pass with that agent running. The
# clone gets the conformance corpus beside it as CI does (a link to ../shared next to this
# checkout, when there is one).
#
# It cannot make this machine fresh: packages installed earlier stay installed. Run it on a
# new machine (only the Rust toolchain and the base image) for the real first impression;
# everywhere else it still catches a README command that does not work from a clean clone.
#
# Usage (as root): scripts/fresh-machine-check.sh [--ref REV] [--keep]
#   --ref REV  what to clone (default: HEAD of this checkout; uncommitted changes are not
#              in the clone)
#   --keep     keep the scratch clone (it is removed after a passing run)
# Exit status: 0 both commands passed, 1 one failed, 2 usage error.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ref=HEAD
keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --ref) ref=${2:?--ref needs a revision}; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) sed -n '2,20s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "fresh-machine-check.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine-check.sh: run as root (the README's commands are for root)" >&2; exit 2; }

# The README's two commands: the first line of each of the first two ```sh blocks of the
# "Set up" section.
mapfile -t commands < <(awk '
  /^## / { in_setup = ($0 ~ /^## Set up/) ; next }
  in_setup && /^```sh$/ { block = 1; next }
  block && /^```$/ { block = 0; next }
  block && NF { print; block = 0 }
' "$repo/README.md")
if [ ${#commands[@]} -ne 2 ]; then
  echo "fresh-machine-check.sh: expected exactly two \`\`\`sh commands in README.md's \"Set up\" section, found ${#commands[@]}" >&2
  exit 1
fi

scratch=$(mktemp -d /var/tmp/knoxctl-fresh.XXXXXX)
git clone --quiet "$repo" "$scratch/knoxctl"
git -C "$scratch/knoxctl" checkout --quiet --detach "$(git -C "$repo" rev-parse "$ref")"
if [ -d "$repo/../shared" ]; then
  ln -s "$(cd "$repo/../shared" && pwd)" "$scratch/shared"
fi
echo "fresh-machine-check: clean clone of $(git -C "$scratch/knoxctl" rev-parse --short HEAD) in $scratch/knoxctl" >&2

results=()
failed=0
for i in 0 1; do
  cmd=${commands[$i]}
  echo "fresh-machine-check: step $((i + 1)): $cmd" >&2
  t0=$(date +%s)
  set +e
  (cd "$scratch/knoxctl" && bash -c "$cmd")
  rc=$?
  set -e
  took=$(($(date +%s) - t0))
  if [ "$rc" -eq 0 ]; then
    results+=("step $((i + 1)) ok in ${took} s: $cmd")
  else
    results+=("step $((i + 1)) FAILED (exit $rc) after ${took} s: $cmd")
    failed=1
    break
  fi
done

echo
echo "fresh-machine-check summary ($(nproc) cores):"
printf '  %s\n' "${results[@]}"
if [ "$failed" -eq 0 ] && [ "$keep" -eq 0 ]; then
  rm -rf "$scratch"
  echo "  (the onboarded agent keeps running; \`knoxctl offboard vm --purge\` removes it)"
else
  echo "  scratch clone kept: $scratch/knoxctl"
fi
exit "$failed"
