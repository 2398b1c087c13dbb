#!/usr/bin/env bash
# Prepares podman for the container tests (tests/containers.rs), with no registry: runc as
# the runtime, no default ulimits (podman's default nofile limit is above this machine's
# hard limit: "error setting rlimit type 7"), and a local busybox image made from
# busybox-static with `podman import`. Idempotent; run as root by scripts/test.sh after
# the packages are installed.
set -euo pipefail
conf=/etc/containers/containers.conf
want=$'[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  # The machine's own settings are kept aside once.
  [ ! -e "$conf" ] || [ -e "$conf.before-knoxctl-tests" ] || cp "$conf" "$conf.before-knoxctl-tests"
  printf '%s\n' "$want" >"$conf"
fi
image=localhost/busybox:local
if ! podman image exists "$image"; then
  r=$(mktemp -d)
  trap 'rm -rf "${r:-}" "${d:-}"' EXIT
  mkdir -p "$r/root/bin" "$r/root/etc" "$r/root/tmp" "$r/root/proc" "$r/root/sys" "$r/root/dev" "$r/root/usr/bin"
  cp /bin/busybox "$r/root/bin/"
  for a in sh ls cat sleep touch id ps echo test mv rm; do ln -s busybox "$r/root/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/root/etc/passwd"
  tar -C "$r/root" -cf "$r/rootfs.tar" .
  podman import --quiet --change 'CMD ["/bin/sh"]' "$r/rootfs.tar" "$image" >/dev/null
fi
# A Debian-like image for KubeArmor's own non-Kubernetes container scenarios (which exec
# bash, ls, cat, curl and apt in a container named wordpress-mysql): this host's binaries
# with the libraries ldd lists, plus what apt needs to start. No registry needed.
debian=localhost/knox-debian:merged-usr
if ! podman image exists "$debian"; then
  d=$(mktemp -d)
  trap 'rm -rf "${r:-}" "${d:-}"' EXIT
  R=$d/root
  for b in /usr/bin/bash /usr/bin/cat /usr/bin/ls /usr/bin/curl /usr/bin/apt /usr/bin/apt-get /usr/bin/sleep; do
    for f in "$b" $(ldd "$b" | grep -o '/[^ ]*'); do
      mkdir -p "$R$(dirname "$f")"
      cp -Ln "$f" "$R$f"
    done
  done
  # Merged /usr, as Debian 12 and Ubuntu images are: /bin, /lib and /lib64 are links into
  # /usr (ldd names the libraries under /lib).
  for l in lib lib64; do
    if [ -d "$R/$l" ]; then
      mkdir -p "$R/usr/$l"
      cp -a "$R/$l/." "$R/usr/$l/"
      rm -rf "${R:?}/$l"
    fi
    ln -s "usr/$l" "$R/$l"
  done
  ln -s usr/bin "$R/bin"
  mkdir -p "$R/etc/apt/apt.conf.d" "$R/etc/apt/sources.list.d" "$R/usr/share/dpkg" "$R/tmp" \
    "$R/proc" "$R/sys" "$R/dev" "$R/var/lib/dpkg" "$R/var/lib/apt/lists/partial" \
    "$R/var/cache/apt/archives/partial"
  cp /usr/share/dpkg/cputable /usr/share/dpkg/tupletable "$R/usr/share/dpkg/"
  touch "$R/var/lib/dpkg/status"
  echo 'root:x:0:0:root:/root:/bin/bash' >"$R/etc/passwd"
  echo 'root:*:19000:0:99999:7:::' >"$R/etc/shadow"
  tar -C "$R" -cf "$d/rootfs.tar" .
  podman import --quiet --change 'CMD ["/usr/bin/bash"]' "$d/rootfs.tar" "$debian" >/dev/null
fi
echo "containers-setup: podman $(podman --version | awk '{print $3}'), runtime runc, images $image $debian"
