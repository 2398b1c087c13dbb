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
  trap 'rm -rf "$r"' EXIT
  mkdir -p "$r/root/bin" "$r/root/etc" "$r/root/tmp" "$r/root/proc" "$r/root/sys" "$r/root/dev" "$r/root/usr/bin"
  cp /bin/busybox "$r/root/bin/"
  for a in sh ls cat sleep touch id ps echo test mv rm; do ln -s busybox "$r/root/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$r/root/etc/passwd"
  tar -C "$r/root" -cf "$r/rootfs.tar" .
  podman import --quiet --change 'CMD ["/bin/sh"]' "$r/rootfs.tar" "$image" >/dev/null
fi
echo "containers-setup: podman $(podman --version | awk '{print $3}'), runtime runc, image $image"
