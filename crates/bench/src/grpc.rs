//! etcd's native protocol: unary gRPC over HTTP/2 (the `h2` crate), with the two protobuf
//! messages the benchmark needs encoded by hand (`PutRequest`, `RangeRequest`).
//!
//! The HTTP/1.1 gateway adds an in-process HTTP → gRPC hop to every etcd request, so etcd over
//! gRPC is the harder (fairer) peer for throughput; both are measured.

use bytes::{BufMut, Bytes, BytesMut};
use std::io;
use std::net::SocketAddr;
use tokio::net::TcpStream;

pub const PUT: &str = "/etcdserverpb.KV/Put";
pub const RANGE: &str = "/etcdserverpb.KV/Range";

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// One HTTP/2 connection to etcd.
pub struct Grpc {
    send: h2::client::SendRequest<Bytes>,
    authority: String,
}

impl Grpc {
    pub async fn connect(addr: SocketAddr) -> io::Result<Grpc> {
        let tcp = TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let (send, conn) = h2::client::handshake(tcp).await.map_err(other)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Grpc {
            send,
            authority: addr.to_string(),
        })
    }

    /// One unary call; `Ok(true)` when etcd answered with grpc-status 0.
    pub async fn unary(&mut self, path: &str, msg: &[u8]) -> io::Result<bool> {
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{}{path}", self.authority))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .map_err(other)?;
        let mut send = self.send.clone().ready().await.map_err(other)?;
        let (resp, mut stream) = send.send_request(req, false).map_err(other)?;
        let mut frame = BytesMut::with_capacity(5 + msg.len());
        frame.put_u8(0);
        frame.put_u32(msg.len() as u32);
        frame.put_slice(msg);
        stream.send_data(frame.freeze(), true).map_err(other)?;
        let resp = resp.await.map_err(other)?;
        let (parts, mut body) = resp.into_parts();
        if parts.status != 200 {
            return Ok(false);
        }
        if let Some(s) = parts.headers.get("grpc-status") {
            return Ok(s == "0"); // trailers-only answer
        }
        let mut got = 0;
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(other)?;
            got += chunk.len();
            let _ = body.flow_control().release_capacity(chunk.len());
        }
        let trailers = body.trailers().await.map_err(other)?;
        Ok(got >= 5
            && trailers
                .as_ref()
                .and_then(|t| t.get("grpc-status"))
                .is_some_and(|s| s == "0"))
    }
}

fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

fn bytes_field(buf: &mut Vec<u8>, field: u32, data: &[u8]) {
    varint(buf, u64::from(field << 3 | 2));
    varint(buf, data.len() as u64);
    buf.extend_from_slice(data);
}

/// `PutRequest { key = 1, value = 2 }`.
pub fn put_request(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(key.len() + value.len() + 8);
    bytes_field(&mut b, 1, key);
    bytes_field(&mut b, 2, value);
    b
}

/// `RangeRequest { key = 1, serializable = 7 }`.
pub fn range_request(key: &[u8], serializable: bool) -> Vec<u8> {
    let mut b = Vec::with_capacity(key.len() + 4);
    bytes_field(&mut b, 1, key);
    if serializable {
        b.push(7 << 3);
        b.push(1);
    }
    b
}

/// Builds the protobuf message of call `n` of client `c`.
pub type MakeMsg = std::sync::Arc<dyn Fn(usize, u64) -> Vec<u8> + Send + Sync>;

/// A closed-loop gRPC client on its own HTTP/2 connection.
pub struct GrpcClient {
    g: Grpc,
    id: usize,
    path: &'static str,
    make: MakeMsg,
}

impl crate::load::Client for GrpcClient {
    async fn call(&mut self, n: u64) -> bool {
        let m = (self.make)(self.id, n);
        self.g.unary(self.path, &m).await.unwrap_or(false)
    }
}

/// `clients` gRPC clients calling `path`, connected.
pub async fn clients(
    addr: SocketAddr,
    clients: usize,
    path: &'static str,
    make: MakeMsg,
) -> io::Result<Vec<GrpcClient>> {
    let mut v = Vec::with_capacity(clients);
    for id in 0..clients {
        v.push(GrpcClient {
            g: Grpc::connect(addr).await?,
            id,
            path,
            make: make.clone(),
        });
    }
    Ok(v)
}
