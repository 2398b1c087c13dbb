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
# KubeArmor's multiubuntu image (kubearmor/ubuntu-w-utils, Ubuntu 18.04) for its Kubernetes
# container scenarios (tests/kubearmor_containers.rs), rebuilt from this host's binaries.
# Ubuntu 18.04 is not merged-/usr and its policies name the binaries where that release
# keeps them (/bin/sleep, /bin/cat, /sbin/route, /usr/bin/env), so each binary is placed
# there as its own file: /usr/ recursive rules must not catch bash, and /bin/ rules must not
# catch env. What the scenarios' commands run: bash, dash, su, cat, ls, sleep, uname, head,
# env, whoami, route, curl, wget; KubeArmor's /readwrite and /home/user1/hello (small C
# programs in its image, compiled here); a user1 account that root enters with `su -`
# (PAM: pam_rootok, as Ubuntu's /etc/pam.d/su starts); the files its policies protect.
# ping and arping are not installed on this host: their scenarios are network rules, which
# fanotify cannot enforce anyway (the test lists them as not supported).
multi=localhost/knox-multiubuntu:local
if ! podman image exists "$multi"; then
  m=$(mktemp -d)
  trap 'rm -rf "${r:-}" "${d:-}" "${m:-}"' EXIT
  R=$m/root
  mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin"
  # readwrite: -r reads the file to stdout, -w appends a line; exits 1 when the open or the
  # I/O fails, so the scenario sees a blocked open as a failed command.
  cat >"$m/readwrite.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "-r") && strcmp(argv[1], "-w"))) {
    fprintf(stderr, "usage: %s -r|-w FILE\n", argv[0]);
    return 2;
  }
  int w = !strcmp(argv[1], "-w");
  int fd = open(argv[2], w ? O_WRONLY | O_APPEND : O_RDONLY);
  if (fd < 0) { perror(argv[2]); return 1; }
  if (w) {
    if (write(fd, "test\n", 5) != 5) { perror("write"); return 1; }
  } else {
    char b[4096]; ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) fwrite(b, 1, (size_t)n, stdout);
    if (n < 0) { perror("read"); return 1; }
  }
  return close(fd) ? 1 : 0;
}
C
  printf '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n' >"$m/hello.c"
  cc -O2 -o "$m/readwrite" "$m/readwrite.c"
  cc -O2 -o "$m/hello" "$m/hello.c"
  put() { # put SOURCE DEST: the binary at DEST and the libraries ldd lists at their paths
    mkdir -p "$R$(dirname "$2")"
    cp -L "$1" "$R$2"
    for f in $(ldd "$1" | grep -o '/[^ ]*'); do
      mkdir -p "$R$(dirname "$f")"
      cp -Ln "$f" "$R$f"
    done
  }
  for b in bash dash su cat ls sleep uname touch rm mkdir; do put "/usr/bin/$b" "/bin/$b"; done
  for b in env whoami head id curl wget; do put "/usr/bin/$b" "/usr/bin/$b"; done
  put /usr/sbin/route /sbin/route
  put "$m/readwrite" /readwrite
  ln -s dash "$R/bin/sh"
  # PAM modules are loaded with dlopen, so ldd of su does not list them.
  sec=/lib/x86_64-linux-gnu/security # libpam's module directory
  for p in pam_rootok pam_permit pam_deny; do put "$sec/$p.so" "$sec/$p.so"; done
  mkdir -p "$R/etc/pam.d" "$R/tmp" "$R/proc" "$R/sys" "$R/dev" "$R/run" "$R/root" \
    "$R/credentials/keys" "$R/home/user1/dir1"
  chmod 1777 "$R/tmp"
  printf 'auth sufficient pam_rootok.so\nauth required pam_deny.so\naccount required pam_permit.so\nsession required pam_permit.so\npassword required pam_deny.so\n' >"$R/etc/pam.d/su"
  # util-linux's `su -` (the scenarios' `su - user1`) asks PAM for the service su-l.
  echo '@include su' >"$R/etc/pam.d/su-l"
  printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\npassword required pam_deny.so\n' >"$R/etc/pam.d/other"
  printf 'root:x:0:0:root:/root:/bin/bash\nuser1:x:1000:1000::/home/user1:/bin/bash\n' >"$R/etc/passwd"
  printf 'root:x:0:\nshadow:x:42:\nuser1:x:1000:\n' >"$R/etc/group"
  printf 'root:*:19000:0:99999:7:::\nuser1:!:19000:0:99999:7:::\n' >"$R/etc/shadow"
  printf 'root:*::\nshadow:*::\nuser1:!::\n' >"$R/etc/gshadow"
  chmod 640 "$R/etc/shadow" "$R/etc/gshadow"
  chgrp 42 "$R/etc/shadow" "$R/etc/gshadow"
  printf '/bin/sh\n/bin/bash\n/bin/dash\n' >"$R/etc/shells"
  printf 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nexport PATH\n' >"$R/etc/profile"
  touch "$R/root/.bashrc" "$R/root/.bash_history"
  echo 'secret file' >"$R/secret.txt"
  echo 'password file' >"$R/credentials/password"
  echo 'private key' >"$R/credentials/keys/priv.key"
  echo 'secret data' >"$R/home/user1/secret_data1.txt"
  echo 'other file' >"$R/home/user1/otherfile.txt"
  echo 'key in dir1' >"$R/home/user1/dir1/key1.txt"
  touch "$R/home/user1/.profile" "$R/home/user1/.bashrc"
  cp "$m/hello" "$R/home/user1/hello"
  chown -R 1000:1000 "$R/home/user1"
  tar -C "$R" -cf "$m/rootfs.tar" .
  podman import --quiet --change 'CMD ["/bin/bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$m/rootfs.tar" "$multi" >/dev/null
fi
echo "containers-setup: podman $(podman --version | awk '{print $3}'), runtime runc, images $image $debian $multi"
