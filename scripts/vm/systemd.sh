#!/usr/bin/env bash
# Boots a Debian 12 root filesystem with a real systemd as PID 1 under qemu (Debian's stock
# kernel, TCG, BPF-LSM active) and runs tests/vm/systemd/scenario.sh in it: `knoxctl onboard
# vm` in systemd mode, end to end, for each enforcer. See docs/vm-harness.md.
#
# Usage: scripts/vm/systemd.sh --knoxctl PATH [--scenario FILE] [--timeout SECS]
#          [--append 'kernel args']... [--brief] [--verbose]
#
#   --scenario  run this script instead of tests/vm/systemd/scenario.sh (it must speak the
#               same console protocol, or be read from console.log: an ad-hoc experiment)
#   --timeout   the whole VM, host side (default 600)
#   --append    extra kernel command line (e.g. systemd.show_status=true; repeatable)
#   --brief     print only results live
#   --verbose   also print the console's other lines (kernel, systemd)
#
# Owns, under target/vm/systemd/ (or $KNOX_VM_DIR/systemd): the cached root filesystem
# (base-HASH.cpio: mmdebstrap's output as an initramfs, rebuilt only when its recipe below
# changes), the per-run overlay (overlay.cpio: knoxctl, the scenario, the guest units),
# console.log, results.tsv (name, PASS|FAIL, reason), out/<name>.log, timings.txt.
# Exit status: 0 if every check passed and the scenario finished, 1 otherwise, 2 on a
# usage error.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vm_dir=${KNOX_VM_DIR:-$repo/target/vm}/systemd

usage() {
  sed -n '6,15s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

knoxctl=
scenario=$repo/tests/vm/systemd/scenario.sh
timeout=600
append=
brief=0
verbose=0
while [ $# -gt 0 ]; do
  case $1 in
    --knoxctl) knoxctl=${2:?--knoxctl needs a path}; shift 2 ;;
    --scenario) scenario=${2:?--scenario needs a file}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --append) append=${append:+$append }${2?--append needs kernel arguments}; shift 2 ;;
    --brief) brief=1; shift ;;
    --verbose) verbose=1; shift ;;
    -h | --help) usage ;;
    *) echo "systemd.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$knoxctl" ] || { echo "systemd.sh: --knoxctl PATH is required" >&2; usage; }
[ -x "$knoxctl" ] || { echo "systemd.sh: $knoxctl is not an executable" >&2; exit 2; }
case $timeout in *[!0-9]* | '') echo "systemd.sh: --timeout takes whole seconds" >&2; exit 2 ;; esac

say() { echo "vm-systemd: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# A fresh CI machine has none of these: install them (as root), never skip without them.
ensure_packages() {
  local missing=() p
  for p in qemu-system-x86 mmdebstrap cpio; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "systemd.sh: missing Debian packages: ${missing[*]} (as root: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

ensure_packages
mkdir -p "$vm_dir"
# One VM at a time per directory: the overlay and console.log are shared.
exec 9>"$vm_dir/lock"
flock 9

t_start=$(now)
kernel=$("$repo/scripts/vm/kernel.sh")
mapfile -t names < <(sh "$scenario" --list)

# ---- the root filesystem, cached -------------------------------------------------------
# Everything that decides its content is in the recipe, whose hash names the cache: the
# apt sources are part of it, so a machine pointed at another snapshot rebuilds.
suite=bookworm
include=systemd,systemd-sysv,dbus,procps
recipe=$(
  printf 'mmdebstrap --variant=minbase --include=%s %s; no docs, man pages, locales; v1\n' \
    "$include" "$suite"
  cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true
)
hash=$(printf '%s' "$recipe" | sha256sum | cut -c1-16)
base=$vm_dir/base-$hash.cpio
t_rootfs=$(now)
if [ ! -s "$base" ]; then
  say "building the Debian $suite root filesystem (mmdebstrap, once per recipe $hash)"
  rm -f "$vm_dir"/base-*.cpio
  tree=$(mktemp -d "$vm_dir/rootfs.XXXXXX")
  # shellcheck disable=SC2064 # the path is fixed now
  trap "rm -rf '$tree'" EXIT
  mmdebstrap --quiet --variant=minbase --include="$include" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$suite" "$tree" >&2
  # The initramfs is unpacked into RAM at every boot: apt's caches only cost.
  rm -rf "$tree"/var/cache/apt/*.bin "$tree"/var/lib/apt/lists/*
  (cd "$tree" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$base.tmp"
  mv "$base.tmp" "$base"
  rm -rf "$tree"
  trap - EXIT
  say "root filesystem: $(du -h "$base" | cut -f1) in $(elapsed "$t_rootfs") s"
else
  say "root filesystem: cached $(basename "$base") ($(du -h "$base" | cut -f1))"
fi

# ---- the overlay: a second cpio appended to the first (the kernel unpacks both, later
# files replacing earlier ones), so a run never copies the 150 MB tree ----------------------
t_overlay=$(now)
ov=$vm_dir/overlay
rm -rf "$ov"
mkdir -p "$ov/knox" "$ov/etc/systemd/system/multi-user.target.wants"
cp "$knoxctl" "$ov/knox/knoxctl"
cp "$scenario" "$ov/knox/scenario.sh"
cp "$repo/tests/vm/lib.sh" "$ov/knox/lib.sh"
cp "$repo/scripts/vm/guest/systemd/knox-scenario.service" "$ov/etc/systemd/system/"
ln -s ../knox-scenario.service "$ov/etc/systemd/system/multi-user.target.wants/knox-scenario.service"
# No login prompt on the console the results are read from, and no timer (apt-daily...)
# starting work in the middle of the scenario.
ln -s /dev/null "$ov/etc/systemd/system/getty.target"
ln -s /dev/null "$ov/etc/systemd/system/timers.target"
echo knox-vm >"$ov/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tknox-vm\n' >"$ov/etc/hosts"
# An empty machine-id: systemd makes a transient one at boot, without "first boot" units.
: >"$ov/etc/machine-id"
overlay=$vm_dir/overlay.cpio
(cd "$ov" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) >"$overlay"
initrd=$vm_dir/initrd.cpio
cat "$base" "$overlay" >"$initrd"
say "overlay in $(elapsed "$t_overlay") s; kernel $(basename "$kernel")"

# ---- boot ------------------------------------------------------------------------------
console=$vm_dir/console.log
# 1.5 GiB: the 150 MB root filesystem lives in RAM, next to the initramfs being unpacked.
qemu=(qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m 1536 -nographic -no-reboot
  -nic none -kernel "$kernel" -initrd "$initrd"
  -append "console=ttyS0 quiet panic=-1 rdinit=/lib/systemd/systemd systemd.show_status=false lsm=landlock,lockdown,yama,apparmor,bpf${append:+ $append}")

clean() {
  sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[c78]//g' -e 's/\r$//'
}

live() {
  local line
  while IFS= read -r line; do
    case $line in
      KNOX-OUT\ *\|\ TIMING\ *) printf '%s\n' "${line#*| }" ;;
      KNOX-OUT\ *) [ "$brief" -eq 1 ] || printf '  %s\n' "${line#KNOX-OUT }" ;;
      KNOX-BEGIN\ *) [ "$brief" -eq 1 ] || printf -- '--- %s\n' "${line#KNOX-BEGIN }" ;;
      KNOX-RESULT\ *) printf '%s\n' "$line" ;;
      KNOX-BOOTED\ *) say "booted: systemd started the scenario at guest uptime ${line#KNOX-BOOTED } s" ;;
      KNOX-INFO\ *) say "${line#KNOX-INFO }" ;;
      *"Kernel panic"* | *"BUG:"* | *"Oops"* | *"Call Trace"*) printf 'console: %s\n' "$line" ;;
      *) [ "$verbose" -eq 0 ] || printf 'console: %s\n' "$line" ;;
    esac
  done
}

say "booting systemd; checks: ${names[*]}"
t_boot=$(now)
qemu_rc=0
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null 2>&1 | tee "$console" | clean | live || qemu_rc=$?
t_vm=$(elapsed "$t_boot")

# ---- results ---------------------------------------------------------------------------
out_dir=$vm_dir/out
rm -rf "$out_dir"
mkdir -p "$out_dir"
for n in "${names[@]}"; do
  : >"$out_dir/$n.log"
done
declare -A status reason began
done_seen=0
: >"$vm_dir/timings.txt"
while IFS= read -r line; do
  case $line in
    KNOX-OUT\ *)
      rest=${line#KNOX-OUT }
      n=${rest%%| *}
      if [ -e "$out_dir/$n.log" ]; then
        printf '%s\n' "${rest#*| }" >>"$out_dir/$n.log"
      fi
      case ${rest#*| } in TIMING\ *) printf '%s\n' "${rest#*| TIMING }" >>"$vm_dir/timings.txt" ;; esac
      ;;
    KNOX-BEGIN\ *) began[${line#KNOX-BEGIN }]=1 ;;
    KNOX-RESULT\ *)
      read -r _ n st rs <<<"$line"
      status[$n]=$st
      reason[$n]=$rs
      ;;
    KNOX-DONE\ *) done_seen=1 ;;
  esac
done < <(clean <"$console")

why_dead="the VM stopped"
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
  why_dead="the VM was still running after --timeout ${timeout} s and was killed"
elif grep -q "Kernel panic" "$console"; then
  why_dead="the kernel panicked"
fi

results=$vm_dir/results.tsv
: >"$results"
failed=0
for n in "${names[@]}"; do
  st=${status[$n]:-}
  rs=${reason[$n]:-}
  if [ -z "$st" ]; then
    st=FAIL
    if [ -n "${began[$n]:-}" ]; then
      rs="never reported: $why_dead during this check (see $console)"
    else
      rs="never ran: $why_dead before it (see $console)"
    fi
  fi
  [ "$st" = PASS ] || { st=FAIL; failed=$((failed + 1)); }
  printf '%s\t%s\t%s\n' "$n" "$st" "$rs" >>"$results"
done
if [ "$done_seen" -ne 1 ] && [ "$failed" -eq 0 ]; then
  printf '%s\t%s\t%s\n' "_vm" FAIL "$why_dead before the end of the scenario (see $console)" >>"$results"
  failed=$((failed + 1))
fi
if [ "$done_seen" -ne 1 ]; then
  say "no KNOX-DONE: $why_dead; the console's last lines:"
  clean <"$console" | tail -n 30 >&2
fi
say "VM ${t_vm} s (boot to power-off), ${#names[@]} checks, $failed failed; total $(elapsed "$t_start") s"
[ "$failed" -eq 0 ]
