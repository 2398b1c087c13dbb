#!/bin/sh
# The VM really is the kernel the enforcers need: BPF-LSM and AppArmor active, BTF present.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

expect_ok cat /sys/kernel/security/lsm
lsms=$(cat /sys/kernel/security/lsm)
case ",$lsms," in
  *,bpf,*) ;;
  *) fail "bpf is not an active LSM: $lsms" ;;
esac
case ",$lsms," in
  *,apparmor,*) ;;
  *) fail "apparmor is not an active LSM: $lsms" ;;
esac
[ -e /sys/kernel/btf/vmlinux ] || fail "no /sys/kernel/btf/vmlinux (CO-RE needs BTF)"
[ "$(hostname)" = knox-vm ] || fail "hostname is $(hostname), not knox-vm"
log "kernel $(uname -r), LSMs $lsms"
