#!/usr/bin/env bash
# Regenerates the committed eBPF objects (src/monitor/bpf/*.bpf.o) from their C sources.
# Usage: scripts/build-bpf.sh [OUTPUT_DIR]   (default: next to the sources)
#
# The output must be byte-for-byte reproducible (tests/bpf_objects.rs rebuilds into a
# temporary directory and compares with the committed object), so:
# - clang runs inside the source directory on relative file names, and the debug info's
#   compilation directory is pinned to ".": no checkout path ends up in the object;
# - -nostdinc: the sources include only their own headers, so installed kernel or libbpf
#   headers cannot change the output; only the clang version matters (Debian clang 14).
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
src="$repo/src/monitor/bpf"
out="${1:-$src}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

clang="${CLANG:-clang}"
if ! command -v "$clang" >/dev/null 2>&1; then
  echo "build-bpf.sh: $clang not found; install clang llvm libbpf-dev (apt-get install -y clang llvm libbpf-dev)" >&2
  exit 127
fi

cd "$src"
for c in *.bpf.c; do
  obj="$out/${c%.c}.o"
  "$clang" -target bpf -O2 -g -Wall -Werror -nostdinc \
    -I. \
    -fdebug-compilation-dir=. -fdebug-prefix-map="$src"=. \
    -c "$c" -o "$obj.tmp"
  # -g keeps the BTF that CO-RE needs. Written atomically: a failed build never leaves a
  # half-written object behind.
  mv "$obj.tmp" "$obj"
  echo "built $obj"
done
