#!/bin/sh
# `knoxctl probe` runs in the VM and sees the BPF-LSM backend.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

expect_ok knoxctl probe -o json
printf '%s\n' "$KNOX_OUT" | grep -q '"bpf-lsm"' || fail "probe output does not mention bpf-lsm"
