//! The agent's side of systemd's service notification protocol (sd_notify(3)): READY=1
//! once policies are enforced and the API listens, WATCHDOG=1 while the agent's event loop
//! runs, STOPPING=1 on shutdown. Without NOTIFY_SOCKET (standalone mode, tests, a shell)
//! every call is a no-op.
//!
//! The protocol is one datagram per message on a Unix socket whose path (or abstract name,
//! written `@name`) systemd passes in NOTIFY_SOCKET, so no library is needed.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// Where and how often to notify, read once from the environment systemd set.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    addr: Option<String>,
    watchdog: Option<Duration>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let addr = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        // WATCHDOG_PID names the process systemd watches; a child that inherited the
        // variables (the agent runs none today) must not ping on its parent's behalf.
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|&u| u > 0 && for_us)
            .map(Duration::from_micros);
        Notifier { addr, watchdog }
    }

    pub fn enabled(&self) -> bool {
        self.addr.is_some()
    }

    /// How often to send WATCHDOG=1: half the timeout, as sd_watchdog_enabled(3) advises,
    /// so one late tick does not get the agent killed.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.addr.as_ref()?;
        self.watchdog.map(|d| d / 2)
    }

    /// Sends `state` (`READY=1`, `WATCHDOG=1`, ...). Failures are logged, never fatal:
    /// systemd restarts an agent that stops notifying, which is the right outcome.
    pub fn notify(&self, state: &str) {
        if let Some(addr) = &self.addr
            && let Err(e) = send(addr, state)
        {
            tracing::warn!(error = %e, socket = %addr, "sd_notify failed");
        }
    }
}

/// Sends one notification datagram to `addr` (a path, or `@name` for an abstract socket).
pub fn send(addr: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let target = match addr.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        None => SocketAddr::from_pathname(addr)?,
    };
    sock.send_to_addr(state.as_bytes(), &target)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_to_path_and_abstract_sockets() {
        let dir = std::env::temp_dir().join(format!("knoxctl-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let rx = UnixDatagram::bind(&path).unwrap();
        send(path.to_str().unwrap(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");

        use std::os::linux::net::SocketAddrExt;
        let name = format!("knoxctl-notify-test-{}", std::process::id());
        let abs = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        send(&format!("@{name}"), "WATCHDOG=1").unwrap();
        let n = abs.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn silent_without_a_socket() {
        let n = Notifier::default();
        assert!(!n.enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.notify("READY=1");
        let n = Notifier {
            addr: Some("/nonexistent/notify".into()),
            watchdog: Some(Duration::from_secs(30)),
        };
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));
        n.notify("READY=1"); // logged, not fatal
    }
}
