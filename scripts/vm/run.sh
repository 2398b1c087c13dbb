#!/usr/bin/env bash
# Boots Debian's stock kernel under qemu (TCG) with BPF-LSM and AppArmor active and runs a
# batch of scenario scripts inside that one boot. See docs/vm-harness.md.
#
# Usage: scripts/vm/run.sh --knoxctl PATH [--scenarios DIR] [--only SUBSTRING]
#          [--cmd 'shell commands'] [--timeout SECS] [--scenario-timeout SECS]
#          [--add HOST-PATH]... [--append 'kernel args']... [--smp N] [--icount SHIFT]
#          [--brief] [--verbose]
#
#   --cmd       run these commands (lib.sh loaded) as the only scenario, print their output
#   --timeout   the whole VM, host side (default 900); --scenario-timeout: each scenario
#               inside the VM (default 300; a `# knox-timeout: SECS` line overrides it)
#   --add       also copy this host file or directory (and its libraries) into the VM
#   --append    extra kernel command line (e.g. a different lsm=...; repeatable). Unknown
#               NAME=VALUE words reach init, the runner and the scenarios as variables
#   --icount    count instructions instead of real time: the guest's clock advances 2^SHIFT
#               ns per emulated instruction (qemu -icount shift=SHIFT,sleep=off), so timings
#               inside the VM are deterministic whatever else the host is doing (benchmarks)
#   --brief     print only results live (and --cmd's output at the end)
#   --verbose   also print the console's kernel lines
#
# Writes under target/vm/ (or $KNOX_VM_DIR): console.log (the whole serial console),
# results.tsv (name, PASS|FAIL|SKIP, reason), out/<name>.log (each scenario's output).
# Exit status: 0 if every scenario passed or was skipped and the VM finished the batch,
# 1 otherwise, 2 on a usage error.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
vm_dir=${KNOX_VM_DIR:-$repo/target/vm}

usage() {
  sed -n '5,21s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

knoxctl=
scenarios=$repo/tests/vm/scenarios
only=
cmd=
have_cmd=0
timeout=900
scenario_timeout=300
smp=1
icount=
extra=()
append=
brief=0
verbose=0
while [ $# -gt 0 ]; do
  case $1 in
    --knoxctl) knoxctl=${2:?--knoxctl needs a path}; shift 2 ;;
    --scenarios) scenarios=${2:?--scenarios needs a directory}; shift 2 ;;
    --only) only=${2:?--only needs a substring}; shift 2 ;;
    --cmd) cmd=${2?--cmd needs a command}; have_cmd=1; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --scenario-timeout) scenario_timeout=${2:?--scenario-timeout needs seconds}; shift 2 ;;
    --smp) smp=${2:?--smp needs a count}; shift 2 ;;
    --icount) icount=${2:?--icount needs a shift}; shift 2 ;;
    --add) extra+=("${2:?--add needs a path}"); shift 2 ;;
    --append) append=${append:+$append }${2?--append needs kernel arguments}; shift 2 ;;
    --brief) brief=1; shift ;;
    --verbose) verbose=1; shift ;;
    -h | --help) usage ;;
    *) echo "run.sh: unknown argument: $1" >&2; usage ;;
  esac
done
[ -n "$knoxctl" ] || { echo "run.sh: --knoxctl PATH is required" >&2; usage; }
[ -x "$knoxctl" ] || { echo "run.sh: $knoxctl is not an executable" >&2; exit 2; }
knoxctl=$(readlink -f "$knoxctl")
case $timeout$scenario_timeout$smp$icount in
  *[!0-9]*) echo "run.sh: --timeout, --scenario-timeout, --smp and --icount take whole numbers" >&2; exit 2 ;;
esac

say() { echo "vm: $*" >&2; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# CI starts from a fresh Debian: install what is missing (as root), like scripts/test.sh.
ensure_packages() {
  local missing=() p
  # bpftool: the BPF-LSM scenarios inspect programs and links with it in the VM; runc: the
  # container scenario runs OCI bundles with it.
  for p in qemu-system-x86 busybox-static cpio bpftool runc; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "run.sh: missing Debian packages: ${missing[*]} (as root: apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

ensure_packages
mkdir -p "$vm_dir"
# One VM at a time per target dir: the initramfs tree and console.log are shared.
exec 9>"$vm_dir/lock"
if command -v flock >/dev/null; then
  flock 9
fi

t_start=$(now)
kernel=$("$repo/scripts/vm/kernel.sh")

# ---- the scenario batch ------------------------------------------------------------
batch=$vm_dir/batch
rm -rf "$batch"
mkdir -p "$batch"
if [ "$have_cmd" -eq 1 ]; then
  # Ad hoc: one scenario whose status is that of the last command, as with `sh -c`.
  printf '. /knox/lib.sh\nset +e\n%s\n' "$cmd" >"$batch/cmd.sh"
else
  [ -d "$scenarios" ] || { echo "run.sh: no scenario directory $scenarios" >&2; exit 2; }
  for f in "$scenarios"/*.sh; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .sh)
    # Names go into console markers and file names; `_vm` reports the batch itself.
    case $name in
      _vm | *[!A-Za-z0-9._-]*) echo "run.sh: scenario name '$name' must match [A-Za-z0-9._-]+ and not be _vm" >&2; exit 2 ;;
    esac
    [ -z "$only" ] || [[ $name == *"$only"* ]] || continue
    cp "$f" "$batch/$name.sh"
  done
fi
names=()
for f in "$batch"/*.sh; do
  [ -e "$f" ] && names+=("$(basename "$f" .sh)")
done
if [ ${#names[@]} -eq 0 ]; then
  echo "run.sh: no scenario to run (dir $scenarios${only:+, --only $only})" >&2
  exit 2
fi

# ---- the initramfs -------------------------------------------------------------------
t_initrd=$(now)
root=$vm_dir/initramfs
rm -rf "$root"
mkdir -p "$root"

# Merged /usr or not, the VM gets the host's layout, so /bin/apt and /usr/bin/apt both
# exist exactly when they do on the host (policies name both).
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/lib" "$root/usr/lib64" "$root/usr/local/bin"
for d in bin sbin lib lib64 lib32 libx32; do
  if [ -L "/$d" ]; then
    target=$(readlink "/$d")
    ln -s "${target#/}" "$root/$d"
  elif [ -d "/$d" ] || [ "$d" = bin ] || [ "$d" = sbin ]; then
    mkdir -p "$root/$d"
  fi
done

# copy_path PATH: PATH into the tree at the same place. Symlinks stay symlinks (an LSM
# sees the file an exec resolves to, so the VM must resolve like the host), and what they
# point to is copied too.
# Builtins where possible: this runs for every library, and --cmd should stay quick.
copy_path() {
  local p=$1 target next
  if [ -e "$root$p" ] || [ -L "$root$p" ]; then
    return 0
  fi
  [ -d "$root${p%/*}" ] || mkdir -p "$root${p%/*}"
  if [ -L "$p" ]; then
    target=$(readlink "$p")
    ln -s "$target" "$root$p"
    case $target in
      /*) next=$target ;;
      *) next=${p%/*}/$target ;;
    esac
    copy_path "$(realpath -s "$next")"
  elif [ -d "$p" ]; then
    mkdir -p "$root$p"
  else
    cp -p "$p" "$root$p"
  fi
}

# copy_libs PATH...: the shared libraries the loader would map for these files, with one
# ldd for all of them.
copy_libs() {
  local lib
  # ldd complains about static binaries and non-ELF files: they need no libraries. With
  # several files it heads each list with "FILE:".
  while read -r lib <&4; do
    copy_path "$lib"
  done 4< <(ldd "$@" 2>/dev/null </dev/null \
    | awk '/:$/ { next } $2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' \
    | sort -u || true)
}

busybox=$(command -v busybox || echo /bin/busybox)
if ldd "$busybox" >/dev/null 2>&1; then
  echo "run.sh: $busybox is dynamically linked; install busybox-static" >&2
  exit 1
fi

cp "$knoxctl" "$root/usr/local/bin/knoxctl"
files=("$knoxctl")

# fd 3: nothing in the loop may read the list from stdin.
while read -r line <&3; do
  line=${line%%#*}
  line=${line//[[:space:]]/}
  [ -n "$line" ] || continue
  if [ ! -e "$line" ]; then
    # A scenario that needs it would fail for a reason that is not knoxctl's, or worse,
    # pass without checking what it should: the package is missing from ensure_packages.
    echo "run.sh: $line (tests/vm/binaries.txt) is not on this machine: install its Debian package (dpkg -S $line on a machine that has it)" >&2
    exit 1
  fi
  copy_path "$line"
  files+=("$line")
done 3<"$repo/tests/vm/binaries.txt"

for p in ${extra[@]+"${extra[@]}"}; do
  [ -e "$p" ] || { echo "run.sh: --add $p: no such file" >&2; exit 2; }
  p=$(realpath -s "$p")
  if [ -d "$p" ]; then
    mkdir -p "$root$p"
    cp -a "$p/." "$root$p/"
  else
    copy_path "$p"
    files+=("$p")
  fi
done
copy_libs "${files[@]}"

cp "$busybox" "$root/bin/busybox"
# Applets fill in every command the host binaries above do not provide, except busybox's
# package managers: a policy blocking /usr/bin/rpm (AccuKnox's does) would otherwise mark
# busybox itself and deny every applet, which no Debian host would see.
links=()
while read -r applet; do
  case ${applet##*/} in
    dpkg | dpkg-deb | rpm | rpm2cpio) continue ;;
  esac
  if [ ! -e "$root/$applet" ] && [ ! -L "$root/$applet" ]; then
    case $applet in
      */*) [ -d "$root/${applet%/*}" ] || mkdir -p "$root/${applet%/*}" ;;
    esac
    links+=("$root/$applet")
  fi
done < <("$busybox" --list-full)
# One process for some 400 links (perl-base is Essential on Debian; ln would fork each).
perl -e 'for (@ARGV) { symlink("/bin/busybox", $_) or die "symlink $_: $!\n" }' "${links[@]}"

mkdir -p "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/tmp" "$root/root" \
  "$root/home/knox" "$root/etc/default" "$root/etc/apt/apt.conf.d" \
  "$root/etc/apt/preferences.d" "$root/etc/apt/sources.list.d" "$root/etc/apt/trusted.gpg.d" \
  "$root/var/lib/dpkg" "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial" "$root/var/tmp" "$root/knox"
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 0700 "$root/root"
chown 1000:1000 "$root/home/knox" 2>/dev/null || true
# The kernel opens /dev/console for /init before anything is mounted.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true

cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
knox:x:1000:1000:knox:/home/knox:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
knox:x:1000:
nogroup:x:65534:
EOF
cat >"$root/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
knox:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
EOF
chmod 0640 "$root/etc/shadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$root/etc/nsswitch.conf"
echo knox-vm >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tknox-vm\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
printf 'SHELL=/bin/sh\n' >"$root/etc/default/useradd"
if [ -e /etc/os-release ]; then
  cp -L /etc/os-release "$root/etc/os-release"
fi

cp "$repo/scripts/vm/guest/init" "$root/init"
cp "$repo/scripts/vm/guest/runner.sh" "$root/knox/runner.sh"
cp "$repo/tests/vm/lib.sh" "$root/knox/lib.sh"
cp -r "$batch" "$root/knox/scenarios"
# Scenarios may apply the committed example policies (policy_for_this_host retargets them).
mkdir -p "$root/knox/examples"
cp -r "$repo/examples/policies" "$root/knox/examples/policies"
chmod 0755 "$root/init"

initrd=$vm_dir/initramfs.cpio
# Uncompressed: gzip costs more in the emulated guest than the copy it saves.
(cd "$root" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet) >"$initrd"
say "initramfs: $(du -h "$initrd" | cut -f1) in $(elapsed "$t_initrd") s; kernel $(basename "$kernel")"

# ---- boot ------------------------------------------------------------------------------
console=$vm_dir/console.log
accel=tcg
if [ "$smp" -gt 1 ]; then
  accel=tcg,thread=multi
fi
qemu=(qemu-system-x86_64 -accel "$accel" -cpu max -smp "$smp" -m 1024 -nographic -no-reboot
  -nic none -kernel "$kernel" -initrd "$initrd"
  -append "console=ttyS0 quiet panic=-1 lsm=landlock,lockdown,yama,apparmor,bpf knox_timeout=$scenario_timeout${append:+ $append}")
if [ -n "$icount" ]; then
  [ "$smp" -eq 1 ] || { echo "run.sh: --icount needs --smp 1" >&2; exit 2; }
  qemu+=(-icount "shift=$icount,sleep=off")
fi

# Terminal control sequences (the firmware and the kernel reset the "screen") and the
# serial line's CRs, which would hide a marker at the start of a line.
clean() {
  sed -u -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[c78]//g' -e 's/\r$//'
}

# Live view: markers and scenario output as they arrive; the console's other lines only
# with --verbose, except the kernel's cries for help.
live() {
  local line
  while IFS= read -r line; do
    case $line in
      KNOX-OUT\ *)
        [ "$brief" -eq 1 ] || printf '  %s\n' "${line#KNOX-OUT }"
        ;;
      KNOX-BEGIN\ *)
        [ "$brief" -eq 1 ] || printf -- '--- %s\n' "${line#KNOX-BEGIN }"
        ;;
      KNOX-RESULT\ *)
        printf '%s\n' "$line"
        ;;
      KNOX-BOOTED\ *)
        say "booted (guest uptime ${line#KNOX-BOOTED } s)"
        ;;
      KNOX-INFO\ *)
        say "${line#KNOX-INFO }"
        ;;
      *"Kernel panic"* | *"BUG:"* | *"Oops"* | *"WARNING:"* | *"Call Trace"* | *"RIP:"*)
        printf 'console: %s\n' "$line"
        ;;
      *)
        [ "$verbose" -eq 0 ] || printf 'console: %s\n' "$line"
        ;;
    esac
  done
}

say "booting ${#names[@]} scenario(s): ${names[*]}"
t_boot=$(now)
qemu_rc=0
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null 2>&1 | tee "$console" | clean | live || qemu_rc=$?
t_total=$(elapsed "$t_start")
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
booted=
while IFS= read -r line; do
  case $line in
    KNOX-OUT\ *)
      rest=${line#KNOX-OUT }
      n=${rest%%| *}
      if [ -e "$out_dir/$n.log" ]; then
        printf '%s\n' "${rest#*| }" >>"$out_dir/$n.log"
      fi
      ;;
    KNOX-BEGIN\ *) began[${line#KNOX-BEGIN }]=1 ;;
    KNOX-RESULT\ *)
      read -r _ n st rs <<<"$line"
      status[$n]=$st
      reason[$n]=$rs
      ;;
    KNOX-BOOTED\ *) booted=${line#KNOX-BOOTED } ;;
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
passed=0 failed=0 skipped=0
for n in "${names[@]}"; do
  st=${status[$n]:-}
  rs=${reason[$n]:-}
  if [ -z "$st" ]; then
    st=FAIL
    if [ -n "${began[$n]:-}" ]; then
      rs="never reported: $why_dead during this scenario (see $console)"
    else
      rs="never ran: $why_dead before it (see $console)"
    fi
  fi
  case $st in
    PASS) passed=$((passed + 1)) ;;
    SKIP) skipped=$((skipped + 1)) ;;
    *) st=FAIL; failed=$((failed + 1)) ;;
  esac
  printf '%s\t%s\t%s\n' "$n" "$st" "$rs" >>"$results"
done
if [ "$done_seen" -ne 1 ] && [ "$failed" -eq 0 ]; then
  # Every scenario reported, yet the batch did not end cleanly: still not a pass.
  printf '%s\t%s\t%s\n' "_vm" FAIL "$why_dead before the end of the batch (see $console)" >>"$results"
  failed=$((failed + 1))
fi

if [ "$have_cmd" -eq 1 ] && [ "$brief" -eq 1 ]; then
  cat "$out_dir/cmd.log"
fi
if [ "$failed" -gt 0 ] && [ "$done_seen" -ne 1 ]; then
  # From just before the kernel's first complaint when there is one: the cause precedes
  # the call trace.
  first=$(clean <"$console" | grep -n -m 1 -E 'Kernel panic|BUG:|Oops|WARNING:' | cut -d: -f1 || true)
  if [ -n "$first" ]; then
    say "$why_dead; the console from line $((first > 10 ? first - 10 : 1)):"
    clean <"$console" | tail -n "+$((first > 10 ? first - 10 : 1))" | head -n 60 | sed 's/^/console: /' >&2
  else
    say "$why_dead; last console lines:"
    clean <"$console" | tail -n 30 | sed 's/^/console: /' >&2
  fi
fi
while IFS=$'\t' read -r n st rs; do
  [ "$st" = FAIL ] || continue
  [ -n "${status[$n]:-}" ] || echo "KNOX-RESULT $n FAIL $rs"
done <"$results"
say "boot ${booted:-?} s (guest uptime at the first scenario), VM ${t_vm} s, total ${t_total} s"
say "${passed} passed, ${failed} failed, ${skipped} skipped; results in $results"
[ "$failed" -eq 0 ]
