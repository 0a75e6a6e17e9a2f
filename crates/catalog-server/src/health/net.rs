//! TCP and UDP checks (Consul's `CheckTCP` / `CheckUDP`), and Go-shaped dial error texts
//! (`dial tcp 127.0.0.1:1: connect: connection refused`) shared with the HTTP check.

use super::status::{HealthStatus, CRITICAL, PASSING};
use api_types::CheckRegistration;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// Default dial timeout of TCP, UDP and HTTP checks.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn timeout_of(spec: &CheckRegistration, default: Duration) -> Duration {
    if spec.timeout.0 > 0 {
        spec.timeout.as_std()
    } else {
        default
    }
}

/// An OS error as Go prints it: the lower-case `strerror` text, without Rust's
/// ` (os error N)` suffix.
pub(crate) fn errno_text(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) => &s[..i],
        None => s.as_str(),
    };
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Splits `host:port` like Go's `net.SplitHostPort` (brackets for IPv6 literals).
pub(crate) fn split_host_port(addr: &str) -> Result<(String, String), String> {
    let missing = || format!("address {addr}: missing port in address");
    if let Some(rest) = addr.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("address {addr}: missing ']' in address"))?;
        let port = after.strip_prefix(':').ok_or_else(missing)?;
        return Ok((host.to_string(), port.to_string()));
    }
    let (host, port) = addr.rsplit_once(':').ok_or_else(missing)?;
    if host.contains(':') {
        return Err(format!("address {addr}: too many colons in address"));
    }
    Ok((host.to_string(), port.to_string()))
}

/// Resolves `addr` for a dial on `net` ("tcp"/"udp") before `deadline`, with Go's error texts.
pub(crate) async fn resolve(
    net: &str,
    addr: &str,
    deadline: Instant,
) -> Result<Vec<SocketAddr>, String> {
    let (host, port) = split_host_port(addr).map_err(|e| format!("dial {net}: {e}"))?;
    let port: u16 = match port.parse() {
        Ok(p) => p,
        Err(_) => return Err(format!("dial {net}: lookup {net}/{port}: unknown port")),
    };
    let host = if host.is_empty() {
        "127.0.0.1".to_string()
    } else {
        host
    };
    let looked_up =
        tokio::time::timeout_at(deadline, tokio::net::lookup_host((host.as_str(), port))).await;
    match looked_up {
        Err(_) => Err(format!("dial {net}: lookup {host}: i/o timeout")),
        Ok(Err(_)) => Err(format!("dial {net}: lookup {host}: no such host")),
        Ok(Ok(addrs)) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(format!("dial {net}: lookup {host}: no such host"))
            } else {
                Ok(addrs)
            }
        }
    }
}

/// Opens (and closes) a TCP connection to `addr` within `timeout`.
pub(crate) async fn dial_tcp(addr: &str, timeout: Duration) -> Result<(), String> {
    connect_tcp(addr, Instant::now() + timeout).await.map(drop)
}

/// A TCP connection to `addr` (`host:port`) opened before `deadline`, or Go's `net.Dial`
/// error text.
pub(crate) async fn connect_tcp(
    addr: &str,
    deadline: Instant,
) -> Result<tokio::net::TcpStream, String> {
    let addrs = resolve("tcp", addr, deadline).await?;
    let mut last = String::new();
    for sa in addrs {
        match tokio::time::timeout_at(deadline, tokio::net::TcpStream::connect(sa)).await {
            Err(_) => return Err(format!("dial tcp {sa}: i/o timeout")),
            Ok(Ok(conn)) => return Ok(conn),
            Ok(Err(e)) => last = format!("dial tcp {sa}: connect: {}", errno_text(&e)),
        }
    }
    Err(last)
}

/// `TCP: host:port` checks.
pub(crate) struct TcpProbe {
    addr: String,
    timeout: Duration,
}

impl TcpProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> TcpProbe {
        TcpProbe {
            addr: spec.tcp.clone(),
            timeout: timeout_of(spec, DEFAULT_TIMEOUT),
        }
    }

    pub(crate) async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        match dial_tcp(&self.addr, self.timeout).await {
            Ok(()) => (PASSING, format!("TCP connect {}: Success", self.addr)),
            Err(e) => {
                tracing::warn!(target: "agent", "Check socket connection failed: check={check_id} error={e}");
                (CRITICAL, e)
            }
        }
    }
}

/// `UDP: host:port` checks: send a datagram; passing unless an error (ICMP unreachable)
/// comes back before the timeout.
pub(crate) struct UdpProbe {
    addr: String,
    timeout: Duration,
}

impl UdpProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> UdpProbe {
        UdpProbe {
            addr: spec.udp.clone(),
            timeout: timeout_of(spec, DEFAULT_TIMEOUT),
        }
    }

    pub(crate) async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        match self.probe().await {
            Ok(()) => (PASSING, format!("UDP connect {}: Success", self.addr)),
            Err(e) => {
                tracing::warn!(target: "agent", "Check socket connection failed: check={check_id} error={e}");
                (CRITICAL, e)
            }
        }
    }

    async fn probe(&self) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        let addrs = resolve("udp", &self.addr, deadline).await?;
        let Some(&sa) = addrs.first() else {
            return Err(format!("dial udp: lookup {}: no such host", self.addr));
        };
        let local = if sa.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
        let sock = tokio::net::UdpSocket::bind(local)
            .await
            .map_err(|e| format!("dial udp {sa}: socket: {}", errno_text(&e)))?;
        sock.connect(sa)
            .await
            .map_err(|e| format!("dial udp {sa}: connect: {}", errno_text(&e)))?;
        let la = sock.local_addr().map(|a| a.to_string()).unwrap_or_default();
        sock.send(b"data")
            .await
            .map_err(|e| format!("write udp {la}->{sa}: write: {}", errno_text(&e)))?;
        let mut buf = [0u8; 1024];
        match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            // Silence is success: UDP has no handshake.
            Err(_) | Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("read udp {la}->{sa}: read: {}", errno_text(&e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use api_types::GoDuration;

    /// A port on 127.0.0.1 that nothing listens on (bound, then released).
    async fn closed_tcp_port() -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        l.local_addr().expect("addr")
    }

    #[test]
    fn go_shaped_texts() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(errno_text(&e), "connection refused");
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1".into(), "80".into())));
        assert_eq!(split_host_port("a:80"), Ok(("a".into(), "80".into())));
        assert_eq!(
            split_host_port("a"),
            Err("address a: missing port in address".into())
        );
    }

    #[tokio::test]
    async fn tcp_probe_results() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = l.local_addr().expect("addr").to_string();
        let spec = CheckRegistration {
            tcp: open.clone(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        };
        assert_eq!(
            TcpProbe::new(&spec).run("t").await,
            (PASSING, format!("TCP connect {open}: Success"))
        );
        let closed = closed_tcp_port().await;
        let spec = CheckRegistration {
            tcp: closed.to_string(),
            ..spec
        };
        assert_eq!(
            TcpProbe::new(&spec).run("t").await,
            (
                CRITICAL,
                format!("dial tcp {closed}: connect: connection refused")
            )
        );
        let spec = CheckRegistration {
            tcp: "127.0.0.1".into(),
            ..spec
        };
        assert_eq!(
            TcpProbe::new(&spec).run("t").await,
            (
                CRITICAL,
                "dial tcp: address 127.0.0.1: missing port in address".to_string()
            )
        );
        drop(l);
    }

    #[tokio::test]
    async fn tcp_check_through_runner() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let open = l.local_addr().expect("addr").to_string();
        let closed = closed_tcp_port().await;
        let (rec, runner) = runner();
        let up = CheckRegistration {
            tcp: open.clone(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        };
        let down = CheckRegistration {
            tcp: closed.to_string(),
            ..up.clone()
        };
        runner.sync(&[record("up", up), record("down", down)]);
        let u = rec.wait_for("up", 5, |u| !u.is_empty()).await;
        assert_eq!(
            u,
            vec![(PASSING.to_string(), format!("TCP connect {open}: Success"))]
        );
        // The down check starts critical with empty output, so its first result is a change.
        let d = rec.wait_for("down", 5, |u| !u.is_empty()).await;
        assert_eq!(
            d,
            vec![(
                CRITICAL.to_string(),
                format!("dial tcp {closed}: connect: connection refused")
            )]
        );
        runner.stop_all();
    }

    #[tokio::test]
    async fn udp_probe_results() {
        // A silent listener: no ICMP error, so passing after the timeout.
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = silent.local_addr().expect("addr").to_string();
        let spec = CheckRegistration {
            udp: addr.clone(),
            interval: GoDuration::from_secs(10),
            timeout: GoDuration(200_000_000),
            ..Default::default()
        };
        assert_eq!(
            UdpProbe::new(&spec).run("u").await,
            (PASSING, format!("UDP connect {addr}: Success"))
        );

        // A closed port: the kernel answers with port unreachable.
        let gone = tokio::net::UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let closed = gone.local_addr().expect("addr");
        drop(gone);
        let spec = CheckRegistration {
            udp: closed.to_string(),
            ..spec
        };
        let (status, output) = UdpProbe::new(&spec).run("u").await;
        assert_eq!(status, CRITICAL, "{output}");
        assert!(output.starts_with("read udp 127.0.0.1:"), "{output}");
        assert!(
            output.ends_with(&format!("->{closed}: read: connection refused")),
            "{output}"
        );
    }
}
