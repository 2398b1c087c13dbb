#!/bin/sh
# shellcheck shell=dash
# knox-timeout: 300
# KubeArmor's non-Kubernetes host policy suite (tests/nonk8s_env/host_policy in KubeArmor's
# repository: Ginkgo, host_policy_test.go) against the BPF-LSM enforcer: each `It(...)` is
# one case, with the policies of its res/ dir (read from the conformance corpus) applied
# as they are (`kubearmor.io/hostname: "*"` selects every host).
#
# As in the suite: a command "is denied" when its output matches (?i)permission denied
# (we also require a non-zero exit); "is not denied" when it does not (we also require exit
# 0); KarmorGetTargetAlert(target) finds an alert with the target's fields, of the
# operation KarmorHostLogStart watches. Beyond the suite, the alert must come from the
# command's own process (or a child), and every policy is deleted even when a check fails.
# The suite's RunHostCommand takes an argv (`echo hello > /tmp/something.txt`); the
# redirection and the pipe its Its are about are run through a shell here.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

# Intended differences from KubeArmor, `case: reason`: features knoxctl does not have yet,
# and policies the suite sends that KubeArmor's CRD would refuse. knoxctl validates host
# policies as the CRD does (kubectl apply would refuse these too); KubeArmor's non-k8s
# gRPC path skips that validation.
known_differences='
enforcement/unlink-syscall-audit: semantic difference: the policy audits unlink under /home/ (recursive) and the It unlinks /tmp/dummy, which is not under it; KubeArmor passes only because its host policy matcher drops syscalls.matchPaths[].path (UpdateHostSecurityPolicies builds the SyscallMatchPathType without Path, so every unlink on the host matches); knoxctl honours the path (an unlink under /home/ does alert, checked in the case)
enforcement/udp-audit: semantic difference: the policy is refused as the CRD refuses it (a host matchProtocols rule requires fromSource)
enforcement/usr-bin-dir-recursive-block: semantic difference: the policy is refused as the CRD refuses it (dir: /usr/bin must end with a slash)
'

ka_corpus
res=$KA_DIR/kubearmor/tests/nonk8s_env/host_policy/res
[ -d "$res" ] || fail "no $res in the corpus"

start_agent --enforcer bpf-lsm
expect_output 'bpf-lsm' knoxctl probe

# it ID TITLE: starts the case of one It.
it() {
  ka_uptime
  printf '\n=== It("%s") (uptime %s s)\n' "$2" "$KA_UPTIME"
  ka_begin "$1"
  applied=
}

# send_policy FILE: SendPolicy("ADDED", FILE), which must succeed.
send_policy() {
  local name
  name=$(ka_policy_name "$res/$1")
  ka_run knoxctl policy apply -f "$res/$1"
  if [ "$KNOX_RC" -ne 0 ]; then
    ka_bad "applying $1 failed (exit $KNOX_RC): $(printf '%s' "$KNOX_OUT" | tr '\n' ' ')"
    return 1
  fi
  case " $applied " in
    *" $name "*) ;;
    *) applied="${applied:+$applied }$name" ;;
  esac
}

# delete_policy NAME: SendPolicy("DELETED", ...), which must succeed.
delete_policy() {
  local n rest=
  ka_run knoxctl policy delete "$1"
  [ "$KNOX_RC" -eq 0 ] || ka_bad "deleting $1 failed (exit $KNOX_RC)"
  for n in $applied; do
    [ "$n" = "$1" ] || rest="${rest:+$rest }$n"
  done
  applied=$rest
}

# done_it: deletes what the case left applied (a failed check does not stop the case),
# then reports it.
done_it() {
  local n
  for n in $applied; do
    ka_run knoxctl policy delete "$n"
    [ "$KNOX_RC" -eq 0 ] || ka_error "knoxctl policy delete $n failed (exit $KNOX_RC)"
  done
  applied=
  ka_end
}

# Whether KNOX_OUT matches (?i)permission denied. Builtins only: a policy under test may
# deny grep (busybox, under /usr/bin).
said_denied() {
  case $KNOX_OUT in
    *[Pp][Ee][Rr][Mm][Ii][Ss][Ss][Ii][Oo][Nn]" "[Dd][Ee][Nn][Ii][Ee][Dd]*) return 0 ;;
  esac
  return 1
}

# denied CMD...: AssertHostCommand(CMD, MatchRegexp(`(?i)permission denied`)).
denied() {
  ka_run "$@"
  if [ "$KNOX_RC" -eq 0 ]; then
    ka_bad "$* succeeded, expected a denial"
  elif ! said_denied; then
    ka_bad "$* failed (exit $KNOX_RC) without \"permission denied\""
  else
    ka_good "$* denied"
  fi
}

# not_denied CMD...: AssertHostCommand(CMD, Not(MatchRegexp(`(?i)permission denied`))).
not_denied() {
  ka_run "$@"
  if said_denied; then
    ka_bad "$* was denied"
  elif [ "$KNOX_RC" -ne 0 ]; then
    ka_bad "$* failed (exit $KNOX_RC)"
  else
    ka_good "$* ran"
  fi
}

# target_alert FILTER...: KarmorGetTargetAlert(5 s, target), raised by the last command.
target_alert() {
  if ka_alert_seen "$KA_PID" "$@"; then
    ka_good "alert $*"
  else
    ka_bad "no alert $* from pid $KA_PID"
  fi
}

# --- Describe("Karmor Log")
it karmor-log/ls-blocked "should generate a host log when /usr/bin/ls is blocked"
if send_policy hsp-block-process-ls.yaml; then
  denied ls -l
  target_alert Operation=Process "Result=Permission denied"
fi
done_it

# --- Describe("Apply and Update Host Policies")
it update/process-block "should apply, update, and enforce process block policy successfully"
if send_policy hsp-block-process-before-update.yaml; then
  denied curl --version
  if send_policy hsp-block-process-after-update.yaml; then
    not_denied curl --version
    denied ls
    delete_policy hsp-update-test
    not_denied ls
  fi
fi
done_it

# --- Describe("Host Policy Enforcement")
it enforcement/tmp-pattern "should block access to files under /tmp/*"
if send_policy hsp-block-file-pattern.yaml; then
  ka_run sh -c 'echo hello > /tmp/something.txt'
  target_alert Operation=File PolicyName=hsp-block-file-pattern "Result=Permission denied"
fi
done_it

it enforcement/unlink-syscall-audit "should generate a host log when unlink is called under audit policy"
if send_policy hsp-audit-syscall.yaml; then
  ka_run touch /tmp/dummy
  ka_run unlink /tmp/dummy
  target_alert Operation=Syscall PolicyName=hsp-audit-syscall
  # Beyond the suite: the same policy audits an unlink under /home/, so the difference
  # listed above is the path and nothing else. Not part of the case: it fails the scenario.
  mkdir -p /home/knox-syscall
  ka_run touch /home/knox-syscall/dummy
  ka_run unlink /home/knox-syscall/dummy
  if ! ka_alert_seen "$KA_PID" Operation=Syscall PolicyName=hsp-audit-syscall \
    Resource=/home/knox-syscall/dummy Data=syscall=SYS_UNLINK Result=Passed Severity=7 \
    "Message=Unlink used" Action=Audit "Enforcer=eBPF Monitor"; then
    ka_error "an unlink under /home/ raised no Syscall alert from hsp-audit-syscall"
  fi
fi
done_it

it enforcement/hosts-fromsource-audit "should audit when process in /home/ tries to read /etc/hosts"
if send_policy hsp-audit-hosts-fromsource.yaml; then
  not_denied cat /etc/hosts
  target_alert Operation=File PolicyName=hsp-audit-hosts-fromsource Result=Passed
fi
done_it

it enforcement/udp-audit "should audit udp network protocol"
if send_policy hsp-audit-network-protocol.yaml; then
  # `echo test | nc -u 127.0.0.1 9999` in the suite; busybox's nc has no -u, bash's
  # /dev/udp makes the same UDP socket and datagram.
  ka_run bash -c 'echo test >/dev/udp/127.0.0.1/9999'
  target_alert Operation=Network PolicyName=hsp-audit-network-protocol Result=Passed
fi
done_it

it enforcement/etc-passwd-block "should block file read (/etc/passwd)"
if send_policy hsp-block-file-etc-passwd.yaml; then
  denied cat /etc/passwd
  target_alert Operation=File PolicyName=hsp-kubearmor-dev-file-path-block "Result=Permission denied"
fi
done_it

it enforcement/curl-block "should block /usr/bin/curl execution"
if send_policy hsp-block-process-curl.yaml; then
  denied curl --version
  target_alert Operation=Process PolicyName=hsp-block-curl-exec "Result=Permission denied"
fi
done_it

it enforcement/etc-dir-recursive-block "should block reading files under /etc recursively"
if send_policy hsp-block-file-dir-etc.yaml; then
  denied cat /etc/passwd
  passwd_pid=$KA_PID
  denied cat /etc/hosts
  if ka_alert_seen "$passwd_pid" Operation=File PolicyName=hsp-block-file-dir "Result=Permission denied"; then
    ka_good "alert PolicyName=hsp-block-file-dir"
  else
    target_alert Operation=File PolicyName=hsp-block-file-dir "Result=Permission denied"
  fi
fi
done_it

it enforcement/ls-block "should block process execution (/usr/bin/ls)"
if send_policy hsp-block-process-ls.yaml; then
  denied ls -l
fi
done_it

it enforcement/usr-bin-dir-recursive-block "should block execution of binaries under /usr/bin directory recursively"
# While this policy holds, every command under /usr/bin (busybox's applets too) is denied:
# only builtins and knoxctl (/usr/local/bin) run until it is deleted.
if send_policy hsp-block-process-dir-bin.yaml; then
  denied ls -l
fi
done_it

it enforcement/apt-pattern-block "should block all apt commands"
if send_policy hsp-block-process-apt-pattern.yaml; then
  denied apt update
  denied apt-get upgrade -y
  denied apt-cache search kubernetes
fi
done_it

ka_summary "host policy suite"
