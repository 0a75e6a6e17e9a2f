//! The UDP side of the DNS interface: a few workers per socket (one per core) share it, each
//! receiving a datagram, answering it and sending the reply itself, with no task or channel
//! between. A service question a worker's [`Cache`] holds is answered on the spot, written
//! from its wire form; every other message (or every message, on a client agent or with
//! ACLs) is read by hickory and answered by [`Handler::respond`] in a task of its own, since
//! that may wait on a server or a recursor. What hickory cannot read gets FORMERR when its
//! header could be read, nothing otherwise; replies to port 0 or an unspecified address are
//! not sent.

use super::cache::Cache;
use super::packed::{Ask, Limits, Scratch};
use super::{trim, Handler};
use hickory_proto::op::{Edns, Header, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::DNSClass;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};
use hickory_proto::xfer::Protocol;
use hickory_proto::ProtoErrorKind;
use hickory_server::authority::MessageRequest;
use hickory_server::server::Request;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The largest datagram read (hickory's receive buffer).
const RECEIVE_SIZE: usize = hickory_proto::udp::MAX_RECEIVE_BUFFER_SIZE;
/// The offsets a compression pointer reaches: larger replies go the uncached way.
const POINTABLE: usize = 0x3FFF;

/// The workers of every UDP socket.
pub struct Workers {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts `per_socket` workers on each of `sockets` (inside the runtime).
    pub fn start(
        handler: Arc<Handler>,
        sockets: Vec<std::net::UdpSocket>,
        per_socket: usize,
    ) -> std::io::Result<Workers> {
        let (stop, stopped) = watch::channel(false);
        let cached = handler.agent.is_server() && !handler.agent.acl_enabled();
        let mut tasks = Vec::new();
        for s in sockets {
            s.set_nonblocking(true)?;
            let socket = Arc::new(UdpSocket::from_std(s)?);
            for _ in 0..per_socket.max(1) {
                let w = Worker {
                    handler: handler.clone(),
                    socket: socket.clone(),
                    cache: cached.then(Cache::default),
                    scratch: Scratch::default(),
                };
                tasks.push(tokio::spawn(w.run(stopped.clone())));
            }
        }
        Ok(Workers { stop, tasks })
    }

    /// Stops receiving and waits for the workers to end (queries in flight are dropped).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::warn!(target: "agent.dns", "a DNS worker ended badly: {e}");
            }
        }
    }
}

struct Worker {
    handler: Arc<Handler>,
    socket: Arc<UdpSocket>,
    /// `None` where answers cannot be cached (a client agent, ACLs).
    cache: Option<Cache>,
    scratch: Scratch,
}

impl Worker {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut buf = vec![0u8; RECEIVE_SIZE];
        let mut out = Vec::with_capacity(RECEIVE_SIZE);
        let mut slow = JoinSet::new();
        loop {
            let received = tokio::select! {
                r = self.socket.recv_from(&mut buf) => r,
                _ = stop.changed() => break,
            };
            while slow.try_join_next().is_some() {}
            let (len, src) = match received {
                Ok(r) => r,
                Err(e) => {
                    use std::io::ErrorKind;
                    match e.kind() {
                        ErrorKind::NotConnected | ErrorKind::ConnectionAborted => {
                            tracing::warn!(target: "agent.dns", "the DNS socket closed: {e}");
                            break;
                        }
                        // An ICMP error for an earlier reply (its client went away).
                        ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset => {
                            tracing::debug!(target: "agent.dns", "receiving on the DNS socket: {e}");
                        }
                        _ => {
                            tracing::warn!(target: "agent.dns", "receiving on the DNS socket: {e}")
                        }
                    }
                    continue;
                }
            };
            if src.port() == 0 || src.ip().is_unspecified() {
                continue;
            }
            let bytes = &buf[..len];
            let request = match MessageRequest::read(&mut BinDecoder::new(bytes)) {
                Ok(m) => m,
                Err(e) => {
                    if let ProtoErrorKind::FormError { header, .. } = e.kind() {
                        let header = *header;
                        let socket = self.socket.clone();
                        slow.spawn(async move { form_error(&socket, src, &header).await });
                    }
                    continue;
                }
            };
            if request.message_type() == MessageType::Response {
                continue;
            }
            if self.answer_cached(&request, bytes, &mut out) {
                if let Err(e) = self.socket.send_to(&out, src).await {
                    tracing::debug!(target: "agent.dns", "sending a reply: {e}");
                }
                continue;
            }
            let handler = self.handler.clone();
            let socket = self.socket.clone();
            slow.spawn(async move {
                respond(&handler, &socket, Request::new(request, src, Protocol::Udp)).await;
            });
        }
    }

    /// Writes into `out` the reply to `request` (the datagram `bytes`) from the cache, when it
    /// holds the answers; whether it did.
    fn answer_cached(&mut self, request: &MessageRequest, bytes: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(cache) = self.cache.as_mut() else {
            return false;
        };
        let [query] = request.queries() else {
            return false;
        };
        if request.op_code() != OpCode::Query || query.query_class() != DNSClass::IN {
            return false;
        }
        let agent = &self.handler.agent;
        let cfg = &agent.config().dns;
        let edns = request.edns().map(Edns::max_payload);
        let limits = trim::udp_limits(edns, cfg.udp_answer_limit);
        if limits.size > POINTABLE {
            return false;
        }
        let Some(question) = question(bytes) else {
            return false;
        };
        let Some(packed) = cache.answers(agent, query.name(), query.query_type()) else {
            return false;
        };
        let ask = Ask {
            header: request.header(),
            question,
            edns,
        };
        let limits = Limits {
            size: limits.size,
            answers: limits.answers,
            a_record_limit: cfg.a_record_limit,
            enable_truncate: cfg.enable_truncate,
        };
        packed.write(&ask, &limits, &mut self.scratch, out);
        true
    }
}

/// The question section of a one-question message as sent: its name (uncompressed, as the
/// first name of a message must be), type and class.
fn question(message: &[u8]) -> Option<&[u8]> {
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len & 0xC0 != 0 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            break;
        }
    }
    message.get(12..at + 4)
}

/// FORMERR to a message whose header alone could be read.
async fn form_error(socket: &UdpSocket, dst: SocketAddr, request: &Header) {
    let mut h = Header::response_from_request(request);
    h.set_response_code(ResponseCode::FormErr);
    let mut buf = Vec::with_capacity(12);
    if h.emit(&mut BinEncoder::new(&mut buf)).is_ok() {
        if let Err(e) = socket.send_to(&buf, dst).await {
            tracing::debug!(target: "agent.dns", "sending a reply: {e}");
        }
    }
}

/// Answers `request` the uncached way and sends the reply as one datagram.
async fn respond(handler: &Handler, socket: &UdpSocket, request: Request) {
    let out = handler.respond(&request).await;
    let response = out.response(&request);
    let mut buf = Vec::with_capacity(512);
    let max = response
        .get_edns()
        .as_ref()
        .map_or(RECEIVE_SIZE as u16, Edns::max_payload);
    let mut encoder = BinEncoder::new(&mut buf);
    encoder.set_max_size(max);
    if let Err(e) = response.destructive_emit(&mut encoder) {
        tracing::error!(target: "agent.dns", "encoding a reply: {e}");
        let mut h = Header::response_from_request(request.header());
        h.set_response_code(ResponseCode::ServFail);
        buf.clear();
        let _ = h.emit(&mut BinEncoder::new(&mut buf));
    }
    if let Err(e) = socket.send_to(&buf, request.src()).await {
        tracing::debug!(target: "agent.dns", "sending a reply: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::question;

    #[test]
    fn the_question_as_sent() {
        let mut m = vec![0u8; 12];
        m.extend_from_slice(&[
            3, b'w', b'e', b'b', 6, b'c', b'o', b'n', b's', b'u', b'l', 0,
        ]);
        m.extend_from_slice(&[0, 1, 0, 1]);
        assert_eq!(question(&m), Some(&m[12..]));
        m.extend_from_slice(&[0, 0, 41]);
        assert_eq!(question(&m), Some(&m[12..28]));
        assert_eq!(question(&m[..20]), None);
        let mut pointer = vec![0u8; 12];
        pointer.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert_eq!(question(&pointer), None);
    }
}
