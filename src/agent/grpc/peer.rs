//! Who is on the other end of a loopback TCP connection: the uid owning the peer's socket,
//! from the kernel's TCP table (`/proc/net/tcp`, `/proc/net/tcp6`), where the peer's socket
//! is the row whose local address is the peer's and whose remote address is ours.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The uid of the process that owns the socket connected from `remote` to our `local`;
/// None when no such row exists (the peer already closed, or it is not on this host).
pub fn uid_of_peer(local: SocketAddr, remote: SocketAddr) -> Option<u32> {
    // An IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d on our side and in
    // /proc/net/tcp6 on its side only if it also used a v6 socket: look in both tables.
    ["/proc/net/tcp6", "/proc/net/tcp"].iter().find_map(|path| {
        let table = std::fs::read_to_string(path).ok()?;
        find_uid(&table, canonical(remote), canonical(local))
    })
}

/// v4-mapped v6 addresses as plain v4, so both tables compare alike.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), a.port()),
            None => a,
        },
        IpAddr::V4(_) => a,
    }
}

/// The uid column of the row whose local address is `socket_local` and whose remote
/// address is `socket_remote`.
fn find_uid(table: &str, socket_local: SocketAddr, socket_remote: SocketAddr) -> Option<u32> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid ...
        if f.len() < 8 {
            return None;
        }
        let local = parse_addr(f[1])?;
        let remote = parse_addr(f[2])?;
        (canonical(local) == socket_local && canonical(remote) == socket_remote)
            .then(|| f[7].parse().ok())
            .flatten()
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits `:PORT` (IPv6): the address as the kernel
/// prints it, each 32-bit word in host byte order, the port in hex.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (addr, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |hex: &str| u32::from_str_radix(hex, 16).ok().map(u32::to_ne_bytes);
    let ip = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(addr)?)),
        32 => {
            let mut octets = [0u8; 16];
            for i in 0..4 {
                octets[i * 4..i * 4 + 4].copy_from_slice(&word(&addr[i * 8..i * 8 + 8])?);
            }
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernels_tcp_tables() {
        // Little-endian rows as x86-64 prints them.
        if cfg!(target_endian = "little") {
            assert_eq!(
                parse_addr("0100007F:7FFF"),
                Some("127.0.0.1:32767".parse().unwrap())
            );
            assert_eq!(
                parse_addr("00000000000000000000000001000000:0050"),
                Some("[::1]:80".parse().unwrap())
            );
            let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
               0: 0100007F:7FFF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
               1: 0100007F:A2B4 0100007F:7FFF 01 00000000:00000000 00:00000000 00000000 65534        0 2 1 0 20 4 30 10 -1\n\
               2: 0100007F:7FFF 0100007F:A2B4 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1\n";
            let server: SocketAddr = "127.0.0.1:32767".parse().unwrap();
            let client: SocketAddr = "127.0.0.1:41652".parse().unwrap();
            assert_eq!(find_uid(table, client, server), Some(65534));
            assert_eq!(find_uid(table, server, client), Some(0));
            let other: SocketAddr = "127.0.0.1:41653".parse().unwrap();
            assert_eq!(find_uid(table, other, server), None);
        }
        assert_eq!(parse_addr("nonsense"), None);
        assert_eq!(
            canonical("[::ffff:127.0.0.1]:5".parse().unwrap()),
            "127.0.0.1:5".parse().unwrap()
        );
    }

    /// A real connection on this host is found, owned by this test's uid.
    #[test]
    fn finds_a_real_loopback_peer() {
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (_accepted, from) = server.accept().unwrap();
        assert_eq!(from, client.local_addr().unwrap());
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        assert_eq!(uid_of_peer(server.local_addr().unwrap(), from), Some(me));
    }
}
