//! Names outside the domain, asked of the `recursors` as Consul does: the question is sent to
//! each recursor in turn (in the order given, or at random with `recursor_strategy =
//! "random"`), over the transport the client used, with `recursor_timeout` each; the first
//! answer that is NOERROR or NXDOMAIN is passed back as it came (records, authority, code,
//! with recursion available). When none gives one: SERVFAIL.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::xfer::Protocol;
use rand::seq::SliceRandom;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the recursors said.
pub struct Recursed {
    pub rcode: ResponseCode,
    pub message: Option<Message>,
}

/// Asks `query` of the recursors; `protocol` is the client's transport.
pub async fn ask(
    recursors: &[SocketAddr],
    random: bool,
    timeout: Duration,
    query: &Query,
    protocol: Protocol,
) -> Recursed {
    let mut order: Vec<SocketAddr> = recursors.to_vec();
    if random {
        order.shuffle(&mut rand::thread_rng());
    }
    for r in order {
        match exchange(r, query, protocol, timeout).await {
            Ok(m) => {
                let rcode = m.response_code();
                if rcode == ResponseCode::NoError || rcode == ResponseCode::NXDomain {
                    return Recursed {
                        rcode,
                        message: Some(m),
                    };
                }
                tracing::debug!(target: "agent.dns", "recursor {r} answered {rcode}");
            }
            Err(e) => {
                tracing::error!(target: "agent.dns", "recurse failed: error=\"{e}\" recursor={r}");
            }
        }
    }
    tracing::error!(target: "agent.dns", "all resolvers failed for question={}", query.name());
    Recursed {
        rcode: ResponseCode::ServFail,
        message: None,
    }
}

/// Sends `query` to the DNS server at `to` (recursion desired) over `protocol`, and reads its
/// answer within `timeout`.
pub async fn exchange(
    to: SocketAddr,
    query: &Query,
    protocol: Protocol,
    timeout: Duration,
) -> std::io::Result<Message> {
    let mut req = Message::new();
    req.set_id(rand::random())
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(query.clone());
    let bytes = req.to_vec().map_err(std::io::Error::other)?;
    let answer = match protocol {
        Protocol::Udp => tokio::time::timeout(timeout, udp(to, &bytes)).await,
        _ => tokio::time::timeout(timeout, tcp(to, &bytes)).await,
    }
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "timeout"))??;
    let m = Message::from_vec(&answer).map_err(std::io::Error::other)?;
    if m.id() != req.id() {
        return Err(std::io::Error::other("the answer is for another question"));
    }
    Ok(m)
}

async fn udp(to: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let bind: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        ([0u16; 8], 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind).await?;
    sock.connect(to).await?;
    sock.send(msg).await?;
    let mut buf = vec![0u8; 65_535];
    let n = sock.recv(&mut buf).await?;
    buf.truncate(n);
    Ok(buf)
}

async fn tcp(to: SocketAddr, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(to).await?;
    let len = u16::try_from(msg.len()).map_err(std::io::Error::other)?;
    s.write_all(&len.to_be_bytes()).await?;
    s.write_all(msg).await?;
    let mut head = [0u8; 2];
    s.read_exact(&mut head).await?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(head))];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}
