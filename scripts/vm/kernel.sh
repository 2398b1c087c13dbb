#!/usr/bin/env bash
# Prints the path of a Debian stock kernel for the VM tests to boot, fetching it once.
#
# Debian's own kernel is what users run and it has CONFIG_BPF_LSM, AppArmor and BTF built
# in, which this project's host kernel lacks. The package is whatever linux-image-amd64
# depends on today (resolved, not hard-coded, so a kernel ABI bump is picked up), cached
# under target/vm/kernel/ by package name. Only /boot is extracted: the VM runs from an
# initramfs and needs no modules.
#
# What is printed is the uncompressed vmlinux when it can be unpacked and the kernel has
# CONFIG_PVH: qemu then starts it directly (PVH entry), which skips the xz decompression
# that takes seconds under emulation. Otherwise it is vmlinuz.
#
# Environment: KNOX_VM_DIR (default: <repo>/target/vm), KNOX_VM_KERNEL (use this vmlinuz
# instead; nothing is fetched).
set -euo pipefail

shopt -s nullglob
repo=$(cd "$(dirname "$0")/../.." && pwd)
vm_dir=${KNOX_VM_DIR:-$repo/target/vm}
cache=$vm_dir/kernel

if [ -n "${KNOX_VM_KERNEL:-}" ]; then
  [ -f "$KNOX_VM_KERNEL" ] || { echo "kernel.sh: KNOX_VM_KERNEL=$KNOX_VM_KERNEL: no such file" >&2; exit 1; }
  echo "$KNOX_VM_KERNEL"
  exit 0
fi

# The concrete image package behind the metapackage, e.g. linux-image-6.1.0-56-amd64.
resolve() {
  apt-cache depends linux-image-amd64 2>/dev/null \
    | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

pkg=$(resolve || true)
if [ -z "$pkg" ]; then
  # A fresh machine may have no package lists yet.
  echo "kernel.sh: apt has no linux-image-amd64; running apt-get update" >&2
  if apt-get update -qq >&2; then
    pkg=$(resolve || true)
  fi
fi
if [ -z "$pkg" ]; then
  # Offline with a warm cache: the newest kernel already extracted is still good.
  found=("$cache"/*/boot/vmlinuz-*)
  cached=
  if [ ${#found[@]} -gt 0 ]; then
    cached=$(printf '%s\n' "${found[@]}" | sort -V | tail -n 1)
  fi
  if [ -n "$cached" ]; then
    echo "kernel.sh: cannot resolve linux-image-amd64; using cached $cached" >&2
    bootable "$cached"
    exit 0
  fi
  echo "kernel.sh: cannot find the package linux-image-amd64 depends on (apt-cache depends linux-image-amd64)" >&2
  exit 1
fi

# bootable VMLINUZ: prints the image to boot for this vmlinuz (see the top).
bootable() {
  local vmlinuz=$1 dir config vmlinux off
  dir=$(dirname "$vmlinuz")
  vmlinux=$dir/vmlinux-${vmlinuz##*/vmlinuz-}
  if [ -s "$vmlinux" ]; then
    echo "$vmlinux"
    return
  fi
  config=$dir/config-${vmlinuz##*/vmlinuz-}
  if grep -q '^CONFIG_PVH=y' "$config" 2>/dev/null && command -v xz >/dev/null; then
    # The bzImage is a decompressor followed by the xz stream of the real kernel.
    off=$(LC_ALL=C grep -aboP '\xFD7zXZ\x00' "$vmlinuz" | head -n 1 | cut -d: -f1 || true)
    # xz stops at the end of its stream, so tail may die of SIGPIPE: judge the output.
    if [ -n "$off" ]; then
      tail -c "+$((off + 1))" "$vmlinuz" | xz -dc --single-stream >"$vmlinux.tmp" 2>/dev/null || true
    fi
    if [ -n "$off" ] && [ "$(head -c 4 "$vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ]; then
      mv "$vmlinux.tmp" "$vmlinux"
      echo "$vmlinux"
      return
    fi
    rm -f "$vmlinux.tmp"
  fi
  echo "kernel.sh: booting the compressed $vmlinuz (slower: no xz, no PVH or no xz stream)" >&2
  echo "$vmlinuz"
}

dest=$cache/$pkg
found=("$dest"/boot/vmlinuz-*)
if [ ${#found[@]} -gt 0 ]; then
  bootable "${found[0]}"
  exit 0
fi

mkdir -p "$cache"
found=("$cache/${pkg}_"*.deb)
if [ ${#found[@]} -eq 0 ]; then
  echo "kernel.sh: downloading $pkg" >&2
  tmp=$(mktemp -d "$cache/download.XXXXXX")
  # apt drops privileges to _apt for downloads; it needs to write the directory.
  chmod 0777 "$tmp"
  (cd "$tmp" && apt-get download -q "$pkg" >&2)
  mv "$tmp/${pkg}_"*.deb "$cache/"
  rmdir "$tmp"
  found=("$cache/${pkg}_"*.deb)
fi
deb=${found[0]}

# Only /boot: the modules tree is most of the package and the VM does not use it.
tmp=$(mktemp -d "$cache/extract.XXXXXX")
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" --wildcards './boot/vmlinuz-*' './boot/config-*'
rm -rf "$dest"
chmod 0755 "$tmp"
mv "$tmp" "$dest"
found=("$dest"/boot/vmlinuz-*)
[ ${#found[@]} -gt 0 ] || { echo "kernel.sh: $deb has no /boot/vmlinuz-*" >&2; exit 1; }
vmlinuz=${found[0]}
echo "kernel.sh: cached $vmlinuz" >&2
bootable "$vmlinuz"
