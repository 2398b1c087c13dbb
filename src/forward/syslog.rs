//! Syslog forwarding: RFC 5424 messages over UDP (one datagram each), TCP with
//! octet-counting framing (RFC 6587), TLS with the same framing (RFC 5425, rustls) and the
//! local datagram socket (`/dev/log`).
//!
//! A message is `<PRI>1 TIMESTAMP HOSTNAME knoxctl PID alert [meta sequenceId="ID"] JSON`:
//! facility auth (4), severity warning for a Block and notice otherwise; TIMESTAMP is the
//! alert's UpdatedTime (cut to microseconds, RFC 5424's limit); the structured data is
//! RFC 5424's own `meta` SD-ID with the store id as `sequenceId`, so a receiver can spot a
//! message sent twice; MSG is the alert's KubeArmor JSON with `AlertID` — the whole alert,
//! which SIEM parsers (rsyslog's mmjsonparse, Splunk, Logstash) read without a schema of
//! ours, where SD parameters would have needed one escaped parameter per field.

use super::{Delivered, SendError, Target};
use crate::alert::Alert;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Facility auth: security and authorization messages.
const FACILITY: u8 = 4;

/// One alert as an RFC 5424 message (without framing).
pub fn format(id: i64, a: &Alert, pid: u32) -> String {
    let severity = if a.action == "Block" { 4 } else { 5 };
    let pri = FACILITY * 8 + severity;
    let ts = timestamp(a);
    let host: String = a
        .host_name
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    let host = if host.is_empty() { "-".into() } else { host };
    // sequenceId is 1..=2147483647 (RFC 5424 7.3.1).
    let seq = (id.max(1) - 1) % 2_147_483_647 + 1;
    let msg = serde_json::to_string(&super::alert_json(id, a)).unwrap_or_default();
    format!("<{pri}>1 {ts} {host} knoxctl {pid} alert [meta sequenceId=\"{seq}\"] {msg}")
}

/// RFC 5424's TIMESTAMP: RFC 3339 with at most six digits of fraction.
fn timestamp(a: &Alert) -> String {
    let t = if a.updated_time.is_empty() {
        crate::alert::format_rfc3339(a.timestamp, 0)
    } else {
        a.updated_time.clone()
    };
    match (t.find('.'), t.ends_with('Z')) {
        (Some(dot), true) if t.len() - 1 - dot > 7 => format!("{}Z", &t[..dot + 7]),
        _ => t,
    }
}

enum Conn {
    Udp(UdpSocket),
    Unix(UnixDatagram, PathBuf),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

pub struct SyslogSender {
    conn: Conn,
    pid: u32,
    buf: Vec<u8>,
}

fn retry(what: &str, e: impl std::fmt::Display) -> SendError {
    SendError::Retry(format!("{what}: {e}"))
}

fn tcp_connect(addr: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| format!("resolving {addr}: {e}"))?
        .collect();
    let mut last = format!("{addr}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => {
                s.set_write_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                s.set_read_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = format!("connecting to {a}: {e}"),
        }
    }
    Err(last)
}

/// A TLS client configuration: the public roots plus the configured CA file.
pub fn tls_config(ca_file: Option<&PathBuf>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let mut n = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("caFile {}: {e}", path.display()))?
        {
            let cert = cert.map_err(|e| format!("caFile {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("caFile {}: {e}", path.display()))?;
            n += 1;
        }
        if n == 0 {
            return Err(format!("caFile {}: no certificate in it", path.display()));
        }
    }
    // ring, as reqwest's rustls: deprecated in 0.23.48 only for lacking post-quantum key
    // exchange, which syslog receivers do not offer yet either.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether the receiver closed (or wrote to) a stream we only write to: a syslog receiver
/// never answers, so anything readable is its FIN, a reset or a TLS alert. Writing into such
/// a connection would "succeed" into the kernel's buffer and be lost.
fn peer_gone(s: &TcpStream) -> bool {
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let mut b = [0u8; 1];
    let gone = !matches!(s.peek(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    s.set_nonblocking(false).is_err() || gone
}

/// [`peer_gone`] for TLS: what the receiver sent is given to rustls first, because a TLS
/// 1.3 server sends session tickets after the handshake, which are no reason to reconnect;
/// its EOF, close_notify or a TLS error are.
fn tls_peer_gone(
    s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
) -> Option<String> {
    if s.sock.set_nonblocking(true).is_err() {
        return Some("cannot poll the connection".into());
    }
    let mut gone = None;
    loop {
        match s.conn.read_tls(&mut s.sock) {
            Ok(0) => {
                gone = Some("the receiver closed the connection".to_string());
                break;
            }
            Ok(_) => match s.conn.process_new_packets() {
                Ok(state) => {
                    if state.peer_has_closed() {
                        gone = Some("the receiver closed the connection (close_notify)".into());
                        break;
                    }
                    // A syslog receiver has nothing to say: discard what it wrote.
                    let n = state.plaintext_bytes_to_read();
                    if n > 0 {
                        let mut b = vec![0u8; n];
                        let _ = s.conn.reader().read(&mut b);
                    }
                }
                Err(e) => {
                    gone = Some(format!("TLS: {e}"));
                    break;
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => {
                gone = Some(e.to_string());
                break;
            }
        }
    }
    if s.sock.set_nonblocking(false).is_err() && gone.is_none() {
        gone = Some("cannot poll the connection".into());
    }
    gone
}

impl SyslogSender {
    pub fn new(
        target: Target,
        timeout: Duration,
        ca_file: Option<PathBuf>,
    ) -> Result<Self, String> {
        let conn = match target {
            Target::Udp(addr) => {
                let to = addr
                    .to_socket_addrs()
                    .map_err(|e| format!("resolving {addr}: {e}"))?
                    .next()
                    .ok_or_else(|| format!("{addr}: no address"))?;
                let local = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                let s = UdpSocket::bind(local).map_err(|e| e.to_string())?;
                // Connected: an ICMP port unreachable comes back as an error on a later send.
                s.connect(to).map_err(|e| format!("{to}: {e}"))?;
                s.set_write_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                Conn::Udp(s)
            }
            Target::Unix(path) => {
                let s = UnixDatagram::unbound().map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout))
                    .map_err(|e| e.to_string())?;
                Conn::Unix(s, path)
            }
            Target::Tcp(addr) => Conn::Tcp(tcp_connect(&addr, timeout)?),
            Target::Tls(host, addr) => {
                let config = tls_config(ca_file.as_ref())?;
                let name = rustls::pki_types::ServerName::try_from(host.clone())
                    .map_err(|e| format!("{host}: {e}"))?;
                let tls = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
                let mut stream = rustls::StreamOwned::new(tls, tcp_connect(&addr, timeout)?);
                // Handshake now, so that a certificate problem shows as this attempt's error.
                while stream.conn.is_handshaking() {
                    stream
                        .conn
                        .complete_io(&mut stream.sock)
                        .map_err(|e| format!("TLS handshake with {addr}: {e}"))?;
                }
                Conn::Tls(Box::new(stream))
            }
            Target::Http(u) => return Err(format!("{u} is not a syslog address")),
        };
        Ok(SyslogSender {
            conn,
            pid: std::process::id(),
            buf: Vec::new(),
        })
    }
}

impl super::Sender for SyslogSender {
    fn send(&mut self, batch: &[(i64, Alert)]) -> Result<Delivered, SendError> {
        match &mut self.conn {
            Conn::Udp(s) => {
                for (id, a) in batch {
                    s.send(format(*id, a, self.pid).as_bytes())
                        .map_err(|e| retry("UDP send", e))?;
                }
            }
            Conn::Unix(s, path) => {
                for (id, a) in batch {
                    s.send_to(format(*id, a, self.pid).as_bytes(), &*path)
                        .map_err(|e| retry(&path.display().to_string(), e))?;
                }
            }
            Conn::Tcp(_) | Conn::Tls(_) => {
                self.buf.clear();
                for (id, a) in batch {
                    let m = format(*id, a, self.pid);
                    // Octet counting (RFC 6587 3.4.1): MSG-LEN SP SYSLOG-MSG.
                    self.buf.extend_from_slice(m.len().to_string().as_bytes());
                    self.buf.push(b' ');
                    self.buf.extend_from_slice(m.as_bytes());
                }
                match &mut self.conn {
                    Conn::Tcp(s) => {
                        if peer_gone(s) {
                            return Err(SendError::Retry(
                                "the receiver closed the connection".into(),
                            ));
                        }
                        s.write_all(&self.buf)
                            .and_then(|_| s.flush())
                            .map_err(|e| retry("TCP write", e))?;
                    }
                    Conn::Tls(s) => {
                        if let Some(why) = tls_peer_gone(s) {
                            return Err(SendError::Retry(why));
                        }
                        s.write_all(&self.buf)
                            .and_then(|_| s.flush())
                            .map_err(|e| retry("TLS write", e))?;
                    }
                    _ => unreachable!("matched above"),
                }
            }
        }
        Ok(Delivered::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc5424() {
        let a = Alert {
            timestamp: 1_716_917_632,
            updated_time: "2024-05-28T17:33:52.123456789Z".into(),
            host_name: "vm 1".into(),
            action: "Block".into(),
            policy_name: "p".into(),
            ..Default::default()
        };
        let m = format(9, &a, 77);
        assert!(
            m.starts_with(
                "<36>1 2024-05-28T17:33:52.123456Z vm1 knoxctl 77 alert [meta sequenceId=\"9\"] {"
            ),
            "{m}"
        );
        let json: serde_json::Value = serde_json::from_str(m.split_once("] ").unwrap().1).unwrap();
        assert_eq!(json["PolicyName"], "p");
        assert_eq!(json["AlertID"], "vm 1-1716917632-9");
        let b = Alert {
            timestamp: 1_716_917_632,
            ..Default::default()
        };
        assert!(format(1, &b, 1).starts_with("<37>1 2024-05-28T17:33:52.000000Z - knoxctl 1 "));
    }
}
