#!/bin/sh
# AccuKnox's VM hardening scenarios (../shared/docs/accuknox-vm-hardening.md) with the
# BPF-LSM enforcer: package managers blocked on the host, file integrity monitoring of the
# system directories (as a host policy), process discovery audited. Each asserts what the
# user sees and the alert.
# shellcheck source-path=SCRIPTDIR/.. source=lib.sh
. /knox/lib.sh

start_agent --enforcer bpf-lsm
expect_output 'bpf-lsm' knoxctl probe

# --- package managers ---
policy_for_this_host /knox/examples/policies/accuknox-block-pkg-mgmt-tools.yaml >pkg.yaml
apply_policy pkg.yaml
expect_denied "Permission denied" apt install nginx
expect_denied "Permission denied" /usr/bin/apt-get --version
expect_denied "Permission denied" /bin/apt-get --version
expect_denied "Permission denied" dpkg --version
expect_ok ls /
expect_alert PolicyName=block-pkg-mgmt-tools Action=Block Result="Permission denied" \
  Enforcer=BPFLSM Operation=Process Resource=/usr/bin/apt Severity=10 HostName=knox-vm \
  Type=MatchedHostPolicy Data=lsm=SECURITY_BPRM_CHECK "Message=apt was attempted to be executed"
expect_alert PolicyName=block-pkg-mgmt-tools Resource=/usr/bin/dpkg Action=Block

# --- file integrity monitoring, the container policy in its host form ---
cat >fim.yaml <<'POLICY'
apiVersion: security.kubearmor.com/v1
kind: KubeArmorHostPolicy
metadata:
  name: harden-file-integrity-monitoring
spec:
  nodeSelector:
    matchLabels:
      kubearmor.io/hostname: knox-vm
  action: Block
  file:
    matchDirectories:
    - dir: /sbin/
      readOnly: true
      recursive: true
    - dir: /usr/bin/
      readOnly: true
      recursive: true
    - dir: /usr/lib/
      readOnly: true
      recursive: true
    - dir: /usr/sbin/
      readOnly: true
      recursive: true
    - dir: /bin/
      readOnly: true
      recursive: true
    - dir: /boot/
      readOnly: true
      recursive: true
  message: Detected and prevented compromise to File integrity
  severity: 1
  tags:
  - NIST
  - NIST_800-53_AU-2
  - NIST_800-53_SI-4
  - MITRE
  - MITRE_T1036_masquerading
  - MITRE_T1565_data_manipulation
POLICY
apply_policy fim.yaml
mkdir -p /usr/lib/x86_64-linux-gnu
expect_denied "Permission denied" touch /usr/lib/test_file
[ ! -e /usr/lib/test_file ] || fail "touch was denied but /usr/lib/test_file exists (created before the denial)"
echo 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >/test_file
# / and /usr/bin are the same file system here: a real rename(2), denied by path_rename.
expect_denied "Permission denied" mv /test_file /usr/bin/eicar_test
[ -e /test_file ] && [ ! -e /usr/bin/eicar_test ] || fail "mv was denied but the file moved"
echo eicar >/tmp/eicar
expect_denied "Permission denied" mv /tmp/eicar /usr/bin/eicar_test
expect_denied "Permission denied" sh -c 'echo x >> /usr/bin/head'
expect_denied "Permission denied" chmod 744 /usr/bin/head
expect_denied "Permission denied" rm -f /usr/bin/sleep
expect_denied "Permission denied" mkdir /usr/lib/newdir
expect_denied "Permission denied" ln -s /tmp/x /usr/bin/evil
[ -x /usr/bin/sleep ] || fail "/usr/bin/sleep was removed"
# Reads and execs stay allowed.
expect_ok cat /usr/bin/head >/dev/null
expect_output '^Linux' uname -s
expect_ok /usr/bin/head -c 1 /etc/hostname
expect_alert PolicyName=harden-file-integrity-monitoring Action=Block Operation=File \
  Resource=/usr/lib/test_file Result="Permission denied" Enforcer=BPFLSM Severity=1
expect_alert PolicyName=harden-file-integrity-monitoring Resource=/usr/bin/eicar_test \
  Data~SECURITY_PATH_RENAME
expect_alert PolicyName=harden-file-integrity-monitoring Resource=/usr/bin/head \
  Data~SECURITY_FILE_OPEN
expect_no_alert PolicyName=harden-file-integrity-monitoring Action=Block Resource=/etc/hostname

# --- process discovery, audited ---
policy_for_this_host /knox/examples/policies/accuknox-process-discovery.yaml >disc.yaml
apply_policy disc.yaml
expect_ok ps
expect_alert PolicyName=ksp-discovery-process-discovery Action=Audit Resource=/usr/bin/ps \
  Enforcer=BPFLSM Result=Passed Operation=Process
