//! systemd mode: the hardened unit onboarding installs, and the few `systemctl` calls that
//! start, restart and remove it.
//!
//! The unit's sandbox is as tight as an agent can be that loads BPF programs, places
//! fanotify marks on the host's files, loads AppArmor profiles and writes its state; every
//! relaxation is explained next to the option, in the unit itself, because that is where an
//! administrator reviewing it will look.

use super::Error;
use super::paths::Paths;
use std::path::Path;
use std::process::Command;

pub const UNIT_NAME: &str = "knoxctl.service";

/// Seconds without a WATCHDOG=1 before systemd restarts the agent. The agent pings every
/// quarter of this while its core is responsive.
pub const WATCHDOG_SEC: u32 = 30;

/// Whether systemd manages this host (sd_booted(3): the directory exists only when systemd
/// is PID 1).
pub fn is_pid1() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Capabilities the agent keeps, each with why it needs it. Everything else is dropped
/// from the bounding set, so neither the agent nor anything it runs can regain it.
pub const CAPABILITIES: [(&str, &str); 8] = [
    (
        "CAP_SYS_ADMIN",
        "fanotify permission events (fanotify_init with FAN_CLASS_CONTENT, whole-filesystem marks, unlimited queue and marks); mounting securityfs where it is missing",
    ),
    (
        "CAP_BPF",
        "creating BPF maps and loading the monitor's and the BPF-LSM enforcer's programs (Linux 5.8+)",
    ),
    (
        "CAP_PERFMON",
        "tracepoint and BPF-LSM programs are perfmon program types: loading them and attaching tracepoints (perf_event_open) needs it",
    ),
    (
        "CAP_MAC_ADMIN",
        "loading and removing the AppArmor enforcer's profiles",
    ),
    (
        "CAP_DAC_READ_SEARCH",
        "resolving and marking policy paths inside directories only their owners may search, and reading every user's /proc entries",
    ),
    (
        "CAP_SYS_PTRACE",
        "reading /proc/PID/exe, cwd and syscall of other users' processes (who a blocked process is and what it asked for, for alerts and open-flag checks)",
    ),
    (
        "CAP_SYS_RESOURCE",
        "alerts and policy state are still written into the blocks file systems reserve for privileged writers when the disk is nearly full; raising RLIMIT_MEMLOCK for BPF maps where LimitMEMLOCK= is not honoured",
    ),
    (
        "CAP_CHOWN",
        "handing the API socket to the configured apiGroup (a group root is not a member of)",
    ),
];

/// Why the rest, including those one might expect, are not granted.
const NOT_GRANTED: &str = "\
# Not granted: CAP_NET_ADMIN (no backend attaches network programs yet; the network\n\
# enforcer will add it), CAP_DAC_OVERRIDE (the agent writes only files it owns),\n\
# CAP_SYS_MODULE, CAP_KILL, CAP_SETUID/CAP_SETGID and every other capability.\n";

/// The unit for `paths` (the real paths, or a test prefix).
pub fn render_unit(paths: &Paths) -> String {
    let mut caps = String::new();
    for (cap, why) in CAPABILITIES {
        caps.push_str(&format!(
            "# {cap}: {why}.\nCapabilityBoundingSet={cap}\nAmbientCapabilities={cap}\n"
        ));
    }
    caps.push_str(NOT_GRANTED);
    // RuntimeDirectory= only names directories under /run; a prefixed (test) installation
    // names its own.
    let run_dir = if paths.run_dir == Path::new("/run/knoxctl") {
        "RuntimeDirectory=knoxctl\nRuntimeDirectoryMode=0755".to_string()
    } else {
        format!("ReadWritePaths=-{}", paths.run_dir.display())
    };
    format!(
        r#"# Installed by `knoxctl onboard vm`; `knoxctl offboard vm` removes it. Re-running
# onboarding rewrites this file: put local changes in a drop-in (`systemctl edit knoxctl`).
# Documentation: `knoxctl onboard vm --help` (no Documentation=man:... as onboarding
# installs no man pages; they are in the source tree's man/).
[Unit]
Description=knoxctl agent: runtime protection with KubeArmor policies
After=local-fs.target
StartLimitIntervalSec=0

[Service]
# The agent says READY=1 once the persisted policies are enforced and its API listens,
# and pings the watchdog while its core is responsive.
Type=notify
NotifyAccess=main
ExecStart={bin} agent --config {config}
# Nothing is enforced between a crash and the next agent's start (with fanotify; BPF-LSM
# programs stay pinned and keep enforcing): restart almost at once, and never give up, as a
# protection that stopped for good after a few crashes is worse than a crash loop, which
# NRestarts and the journal show. (systemd 254's RestartSteps= would add a backoff; Debian 12
# has 252.)
Restart=always
RestartSec=250ms
WatchdogSec={WATCHDOG_SEC}
# Starting verifies every BPF program before READY=1 (a second or two on real hardware).
# In the systemd VM test (one emulated CPU on a busy 2-core host) a restart after kill -9
# reached READY=1 87 s after it began: at 90 s systemd would have killed it mid-verification
# and started it again, over and over, on any host that slow.
TimeoutStartSec=180
TimeoutStopSec=30
# SIGTERM reaches the agent alone first: it answers pending permission events (processes
# blocked in open/exec) and flushes alerts before it exits.
KillMode=mixed
# Before Linux 5.11 BPF maps count against the locked-memory limit.
LimitMEMLOCK=infinity
# Every fanotify permission event carries an open file descriptor until it is answered.
LimitNOFILE=65536
UMask=0077

# Sandbox. The whole file system is read-only for the agent except its state, its
# runtime directory and the BPF filesystem it pins programs in (below).
ProtectSystem=strict
ReadWritePaths={state_dir}
ReadWritePaths=-/sys/fs/bpf
{run_dir}
# read-only, not yes: policies protect files under /home and /root, and the agent must
# resolve those paths to the host's own inodes to mark them.
ProtectHome=read-only
# PrivateTmp and PrivateDevices stay off for the same reason: a private /tmp or /dev would
# make the agent mark its own copies instead of the files policies name.
PrivateTmp=no
PrivateDevices=no
# Read-only kernel tunables, spelled out instead of ProtectKernelTunables=yes: that option
# also makes /sys/fs/bpf read-only, more specifically than ReadWritePaths= can undo
# (measured under systemd 252: the BPF-LSM enforcer failed with "creating
# /sys/fs/bpf/knoxctl: Read-only file system" and `auto` fell back to fanotify). These are
# the paths that option covers; /sys/fs/bpf (pins, above) and AppArmor's securityfs
# directory (loading and removing profiles, what CAP_MAC_ADMIN is for) stay writable.
# tracefs stays read-only: attaching the monitor's tracepoints only reads their ids.
ReadOnlyPaths=/sys -/proc/sys -/proc/sysrq-trigger -/proc/latency_stats -/proc/acpi -/proc/timer_stats -/proc/fs -/proc/irq
ReadWritePaths=-/sys/kernel/security/apparmor
ProtectKernelTunables=no
# No module loading, no kernel log, no cgroup writes, no clock changes.
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
NoNewPrivileges=yes
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
# A deny-list: the agent needs bpf, perf_event_open, fanotify_* (@privileged, @debug) and
# mount (securityfs), which an allow-list of @system-service would take away.
SystemCallFilter=~@clock @cpu-emulation @module @obsolete @raw-io @reboot @swap
SystemCallErrorNumber=EPERM
# The API is a Unix socket; the agent opens no network connection.
RestrictAddressFamilies=AF_UNIX
IPAddressDeny=any

{caps}
[Install]
WantedBy=multi-user.target
"#,
        bin = paths.bin.display(),
        config = paths.config.display(),
        state_dir = paths.state_dir.display(),
    )
}

/// Runs `systemctl ARGS`; the error carries systemctl's own message.
pub fn systemctl(args: &[&str]) -> Result<String, Error> {
    let shown = format!("systemctl {}", args.join(" "));
    let out = Command::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| Error::Command {
            command: shown.clone(),
            message: e.to_string(),
        })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: shown,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn is_active() -> bool {
    systemctl(&["is-active", "--quiet", UNIT_NAME]).is_ok()
}

/// The unit's main process, when it runs.
pub fn main_pid() -> Option<i32> {
    systemctl(&["show", "--property=MainPID", "--value", UNIT_NAME])
        .ok()?
        .parse()
        .ok()
        .filter(|&p| p > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_the_paths_and_justifies_each_capability() {
        let unit = render_unit(&Paths::from_root(None));
        assert!(unit.contains(
            "ExecStart=/usr/local/bin/knoxctl agent --config /etc/knoxctl/config.yaml\n"
        ));
        assert!(unit.contains("RuntimeDirectory=knoxctl\n"));
        assert!(unit.contains("ReadWritePaths=/var/lib/knoxctl\n"));
        assert!(unit.contains("Restart=always\n") && unit.contains("WatchdogSec=30\n"));
        assert!(unit.contains("RestartSec=250ms\n") && unit.contains("StartLimitIntervalSec=0\n"));
        for (cap, _) in CAPABILITIES {
            assert!(unit.contains(&format!("# {cap}: ")), "{cap}");
            assert!(
                unit.contains(&format!("CapabilityBoundingSet={cap}\n")),
                "{cap}"
            );
        }
        assert!(!unit.contains("CapabilityBoundingSet=CAP_NET_ADMIN"));
        // ProtectKernelTunables=yes would make the pin directory read-only.
        assert!(unit.contains("ProtectKernelTunables=no\n"));
        assert!(unit.contains("ReadOnlyPaths=/sys "));
        assert!(unit.contains("ReadWritePaths=-/sys/fs/bpf\n"));
        let t = render_unit(&Paths::under(Path::new("/tmp/k")));
        assert!(t.contains("ReadWritePaths=-/tmp/k/run/knoxctl\n"));
        assert!(!t.contains("RuntimeDirectory="));
    }
}
