//! The agent's sockets: the client API on every `-client` address (HTTP, and HTTPS when its
//! port is set; DNS over UDP and TCP on `addresses.dns`, else the client addresses) and, on a
//! server, the server port on `-bind`; the LAN gossip socket (UDP, `ports.serf_lan` on
//! `serf_lan`/`-bind`). Bound from the config, or handed over by the process that started the
//! agent (systemd's socket activation: `LISTEN_FDS`, `LISTEN_FDNAMES` naming each socket
//! `http`, `https`, `server` or `serf_lan`, `LISTEN_PID`), so a supervisor or a test can hold
//! the port before the agent starts.

use crate::config::Config;
use std::net::{SocketAddr, TcpListener, UdpSocket};

/// The listeners an agent serves on, bound before it reports itself started.
pub struct Listeners {
    http: Vec<TcpListener>,
    https: Vec<TcpListener>,
    server: Option<TcpListener>,
    dns: Vec<DnsSocket>,
    serf_lan: Option<UdpSocket>,
}

/// One address of the DNS interface: UDP and TCP on the same port.
pub struct DnsSocket {
    pub udp: UdpSocket,
    pub tcp: TcpListener,
}

/// Why the sockets could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("Error starting agent: listen tcp {addr}: bind: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("Error starting agent: listen udp {addr}: bind: {source}")]
    BindUdp {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("Error starting agent: inherited socket {index} ({name}): {source}")]
    Inherited {
        index: usize,
        name: String,
        source: std::io::Error,
    },
    #[error(
        "Error starting agent: inherited socket {index} is named {name:?} in LISTEN_FDNAMES; \
         this agent takes sockets named \"http\", \"https\" (client API), \"server\" (server port) or \"serf_lan\" (gossip, UDP)"
    )]
    UnknownName { index: usize, name: String },
    #[error("Error starting agent: {count} sockets named {name:?} were handed over; give one")]
    TwoOf { name: &'static str, count: usize },
    #[error("Error starting agent: a socket named \"server\" was handed to an agent that is not a server")]
    ServerOnClient,
    #[error("Error starting agent: a socket named \"https\" was handed over but the HTTPS port is not set (ports.https, -https-port)")]
    HttpsOff,
}

impl Listeners {
    /// Listeners the caller already holds (in-process embedding, tests).
    pub fn new(http: Vec<TcpListener>, server: Option<TcpListener>) -> Listeners {
        Listeners {
            http,
            https: Vec::new(),
            server,
            dns: Vec::new(),
            serf_lan: None,
        }
    }

    /// Adds the LAN gossip socket.
    pub fn with_serf_lan(mut self, socket: UdpSocket) -> Listeners {
        self.serf_lan = Some(socket);
        self
    }

    /// Adds the DNS interface's sockets.
    pub fn with_dns(mut self, dns: Vec<DnsSocket>) -> Listeners {
        self.dns = dns;
        self
    }

    /// Adds HTTPS listeners (served with the config's certificate).
    pub fn with_https(mut self, https: Vec<TcpListener>) -> Listeners {
        self.https = https;
        self
    }

    /// The sockets handed over in the environment, and the rest bound as `c` says. Reads
    /// and clears `LISTEN_*` (so check scripts do not inherit them): call it before any other
    /// thread starts.
    pub fn open(c: &Config) -> Result<Listeners, ListenError> {
        let Inherited {
            mut http,
            mut https,
            mut server,
            mut serf_lan,
        } = inherited()?;
        if server.len() > 1 {
            return Err(ListenError::TwoOf {
                name: "server",
                count: server.len(),
            });
        }
        if serf_lan.len() > 1 {
            return Err(ListenError::TwoOf {
                name: "serf_lan",
                count: serf_lan.len(),
            });
        }
        if !server.is_empty() && !c.server {
            return Err(ListenError::ServerOnClient);
        }
        if http.is_empty() && c.ports.http >= 0 {
            for ip in &c.http_addrs {
                http.push(bind(SocketAddr::new(*ip, c.ports.http as u16))?);
            }
        }
        if !https.is_empty() && c.ports.https < 0 {
            return Err(ListenError::HttpsOff);
        }
        if https.is_empty() && c.ports.https >= 0 {
            for ip in &c.https_addrs {
                https.push(bind(SocketAddr::new(*ip, c.ports.https as u16))?);
            }
        }
        let server = match server.pop() {
            Some(l) => Some(l),
            None if c.server && c.ports.server >= 0 => {
                Some(bind(SocketAddr::new(c.bind_addr, c.ports.server as u16))?)
            }
            None => None,
        };
        let serf_lan = match serf_lan.pop() {
            Some(s) => Some(s),
            None if c.ports.serf_lan >= 0 => {
                let addr = SocketAddr::new(c.gossip.bind, c.ports.serf_lan as u16);
                Some(
                    UdpSocket::bind(addr)
                        .map_err(|source| ListenError::BindUdp { addr, source })?,
                )
            }
            None => None,
        };
        let mut dns = Vec::new();
        if c.ports.dns >= 0 {
            // With port 0 the first address picks the port and the others take the same.
            let mut port = c.ports.dns as u16;
            for ip in &c.dns.addrs {
                let s = bind_dns(SocketAddr::new(*ip, port))?;
                port = s.udp.local_addr().map(|a| a.port()).unwrap_or(port);
                dns.push(s);
            }
        }
        Ok(Listeners {
            http,
            https,
            server,
            dns,
            serf_lan,
        })
    }

    /// The port the client API listens on (the first HTTP listener's), if any.
    pub fn http_port(&self) -> Option<u16> {
        self.http
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The port the HTTPS listener has, if any.
    pub fn https_port(&self) -> Option<u16> {
        self.https
            .first()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The port the server port listens on, if any.
    pub fn server_port(&self) -> Option<u16> {
        self.server
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port())
    }

    /// The port the DNS interface listens on, if any.
    pub fn dns_port(&self) -> Option<u16> {
        self.dns
            .first()
            .and_then(|s| s.udp.local_addr().ok())
            .map(|a| a.port())
    }

    /// The gossip socket's port, if there is one.
    pub fn serf_lan_port(&self) -> Option<u16> {
        self.serf_lan
            .as_ref()
            .and_then(|s| s.local_addr().ok())
            .map(|a| a.port())
    }

    /// The gossip socket, taken out for the gossip pool.
    pub(crate) fn take_serf_lan(&mut self) -> Option<UdpSocket> {
        self.serf_lan.take()
    }

    /// The DNS sockets, taken out for the DNS server (the rest go to the HTTP layer).
    pub(crate) fn take_dns(&mut self) -> Vec<DnsSocket> {
        std::mem::take(&mut self.dns)
    }

    /// The sockets, for the HTTP layer to serve.
    pub(crate) fn into_parts(self) -> (Vec<TcpListener>, Vec<TcpListener>, Option<TcpListener>) {
        (self.http, self.https, self.server)
    }
}

fn bind(addr: SocketAddr) -> Result<TcpListener, ListenError> {
    TcpListener::bind(addr).map_err(|source| ListenError::Bind { addr, source })
}

/// UDP and TCP on `addr`; with port 0, a port free for both (the UDP socket picks it, TCP
/// takes the same, tried again with another when TCP's is taken).
fn bind_dns(addr: SocketAddr) -> Result<DnsSocket, ListenError> {
    let mut tries = 0;
    loop {
        let udp = UdpSocket::bind(addr).map_err(|source| ListenError::BindUdp { addr, source })?;
        let port = udp.local_addr().map(|a| a.port()).unwrap_or(addr.port());
        let tcp_addr = SocketAddr::new(addr.ip(), port);
        match TcpListener::bind(tcp_addr) {
            Ok(tcp) => return Ok(DnsSocket { udp, tcp }),
            Err(e)
                if addr.port() == 0 && e.kind() == std::io::ErrorKind::AddrInUse && tries < 20 =>
            {
                tries += 1;
            }
            Err(source) => {
                return Err(ListenError::Bind {
                    addr: tcp_addr,
                    source,
                })
            }
        }
    }
}

/// Handed-over sockets by name.
struct Inherited {
    http: Vec<TcpListener>,
    https: Vec<TcpListener>,
    server: Vec<TcpListener>,
    serf_lan: Vec<UdpSocket>,
}

/// The sockets in `LISTEN_FDS`, split by their `LISTEN_FDNAMES` name (unnamed ones serve
/// the client API, as a plain `ListenStream=` unit gives them).
fn inherited() -> Result<Inherited, ListenError> {
    let names: Vec<String> = std::env::var("LISTEN_FDNAMES")
        .map(|v| v.split(':').map(str::to_string).collect())
        .unwrap_or_default();
    std::env::remove_var("LISTEN_FDNAMES");
    let mut fds = listenfd::ListenFd::from_env();
    let (mut http, mut https, mut server) = (Vec::new(), Vec::new(), Vec::new());
    let mut serf_lan = Vec::new();
    for index in 0..fds.len() {
        let name = names.get(index).cloned().unwrap_or_else(|| "http".into());
        if name == "serf_lan" {
            let s = fds
                .take_udp_socket(index)
                .map_err(|source| ListenError::Inherited {
                    index,
                    name: name.clone(),
                    source,
                })?;
            serf_lan.extend(s);
            continue;
        }
        let l = fds
            .take_tcp_listener(index)
            .map_err(|source| ListenError::Inherited {
                index,
                name: name.clone(),
                source,
            })?;
        let Some(l) = l else { continue };
        match name.as_str() {
            "http" | "unknown" | "" => http.push(l),
            "https" => https.push(l),
            "server" => server.push(l),
            _ => return Err(ListenError::UnknownName { index, name }),
        }
    }
    Ok(Inherited {
        http,
        https,
        server,
        serf_lan,
    })
}
