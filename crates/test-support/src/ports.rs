//! Ports. A [`ReservedPort`] is a socket the test binds and keeps until a child takes it over
//! (no race); [`free_port`] is the racy fallback for peers that cannot take a socket.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

/// A TCP port held on an address: bound, not listening (a connection to it is refused), until
/// [`ReservedPort::listen`] turns it into the listener a child inherits. Nobody else can bind
/// it meanwhile, so a test can hand out the address before the server starts. The UDP port
/// of the same number is held too: our consul gossips on it ([`ReservedPort::listen_with_udp`]),
/// so agents that join each other at `<ip>:<port>` find both.
#[derive(Debug)]
pub struct ReservedPort {
    socket: Socket,
    udp: UdpSocket,
    addr: SocketAddr,
}

impl ReservedPort {
    /// A port chosen by the kernel on 127.0.0.1.
    pub fn loopback() -> ReservedPort {
        ReservedPort::on("127.0.0.1")
    }

    /// A port chosen by the kernel on `ip` (a loopback address such as `127.0.0.2`).
    pub fn on(ip: &str) -> ReservedPort {
        let ip: IpAddr = ip
            .parse()
            .unwrap_or_else(|e| panic!("{ip:?} is not an IP address: {e}"));
        let mut last = None;
        for _ in 0..100 {
            match bind(SocketAddr::new(ip, 0), false) {
                Ok(p) => return p,
                // The UDP port of the number TCP got was taken: another number.
                Err(e) => last = Some(e),
            }
        }
        panic!("cannot bind a TCP and UDP port on {ip}: {last:?}")
    }

    /// Exactly `addr`, for a restart on the port a server had (SO_REUSEADDR, so the dead
    /// server's connections in TIME_WAIT do not stand in the way; a listening socket does).
    pub fn at(addr: SocketAddr) -> io::Result<ReservedPort> {
        bind(addr, true)
    }

    /// One port number held on every address of `ips` (a cluster whose members join each
    /// other at `<ip>` without a port).
    pub fn shared(ips: &[&str]) -> Vec<ReservedPort> {
        for _ in 0..100 {
            let Some((first, rest)) = ips.split_first() else {
                return Vec::new();
            };
            let mut held = vec![ReservedPort::on(first)];
            let port = held[0].port();
            for ip in rest {
                let ip: IpAddr = ip
                    .parse()
                    .unwrap_or_else(|e| panic!("{ip:?} is not an IP address: {e}"));
                match bind(SocketAddr::new(ip, port), false) {
                    Ok(p) => held.push(p),
                    Err(_) => break,
                }
            }
            if held.len() == ips.len() {
                return held;
            }
        }
        panic!("no TCP port free on all of {ips:?} in 100 tries");
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn ip(&self) -> IpAddr {
        self.addr.ip()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The socket, listening: what a child is handed (see [`crate::activation`]).
    pub fn listen(self) -> io::Result<TcpListener> {
        self.socket.listen(1024)?;
        Ok(self.socket.into())
    }

    /// The TCP socket, listening, and the UDP socket of the same port.
    pub fn listen_with_udp(self) -> io::Result<(TcpListener, UdpSocket)> {
        self.socket.listen(1024)?;
        Ok((self.socket.into(), self.udp))
    }
}

/// Binds a TCP socket (close-on-exec, as every socket here). `reuse` before binding: for a
/// restart on a known port. Otherwise SO_REUSEADDR is set after the bind, so the bind itself
/// is strict and a later restart still gets past TIME_WAIT.
fn bind(addr: SocketAddr, reuse: bool) -> io::Result<ReservedPort> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if reuse {
        socket.set_reuse_address(true)?;
    }
    socket.bind(&addr.into())?;
    if !reuse {
        socket.set_reuse_address(true)?;
    }
    let addr = socket
        .local_addr()?
        .as_socket()
        .ok_or_else(|| io::Error::other("bound socket has no IP address"))?;
    let udp = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if reuse {
        udp.set_reuse_address(true)?;
    }
    udp.bind(&addr.into())?;
    Ok(ReservedPort {
        socket,
        udp: udp.into(),
        addr,
    })
}

/// A port that was free on 127.0.0.1 a moment ago: bound to port 0, read, closed.
///
/// Racy by nature (another process can take the number before the peer binds it), so it is
/// only for peers that cannot take an inherited socket: nginx, etcd, haproxy, Docker's
/// published ports, a script that starts its own processes, a throwaway HTTP target. Our
/// `consul` always gets its sockets from [`crate::Consul`] instead.
pub fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// [`free_port`] on another loopback address. Same caveat.
pub fn free_port_on(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind a TCP port on {ip}: {e}"))
}
