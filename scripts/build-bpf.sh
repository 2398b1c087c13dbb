#!/usr/bin/env bash
# Regenerates the committed eBPF objects from their C sources:
#   src/monitor/bpf/*.bpf.c      -> the eBPF monitor (tracepoints)
#   src/enforce/bpf_lsm/*.bpf.c  -> the BPF-LSM enforcer
# Both include the shared headers in src/bpf/.
# Usage: scripts/build-bpf.sh [OUTPUT_DIR]   (default: next to each source)
#
# The output must be byte-for-byte reproducible (tests/bpf_objects.rs rebuilds into a
# temporary directory and compares with the committed objects), so:
# - clang runs inside the source directory on relative file names, and the debug info's
#   compilation directory is pinned to ".": no checkout path ends up in the object;
# - -nostdinc: the sources include only the repository's headers, so installed kernel or
#   libbpf headers cannot change the output; only the clang version matters (Debian clang 14).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
clang="${CLANG:-clang}"
if ! command -v "$clang" >/dev/null 2>&1; then
  echo "build-bpf.sh: $clang not found; install clang llvm libbpf-dev (apt-get install -y clang llvm libbpf-dev)" >&2
  exit 127
fi

for dir in src/monitor/bpf src/enforce/bpf_lsm; do
  src="$repo/$dir"
  out="${1:-$src}"
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
  # The include path is relative too, for the same reason as the file names.
  inc="$(realpath --relative-to="$src" "$repo/src/bpf")"
  cd "$src"
  for c in *.bpf.c; do
    obj="$out/${c%.c}.o"
    "$clang" -target bpf -O2 -g -Wall -Werror -nostdinc \
      -I"$inc" \
      -fdebug-compilation-dir=. -fdebug-prefix-map="$src"=. \
      -c "$c" -o "$obj.tmp"
    # -g keeps the BTF that CO-RE needs. Written atomically: a failed build never leaves a
    # half-written object behind.
    mv "$obj.tmp" "$obj"
    echo "built $obj"
  done
done
