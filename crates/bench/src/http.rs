//! A minimal keep-alive HTTP/1.1 client: one request at a time per connection, bodies by
//! `Content-Length` or chunked, and a line reader for etcd's newline-delimited watch stream.
//!
//! Hand-rolled on purpose: the load generator shares two cores with the servers it measures, so
//! it must cost little and the same for both, and a watcher must be able to pick its source
//! address (thousands of sockets to one port).

use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// One response: status, `X-Consul-Index` if present, and the body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub consul_index: Option<u64>,
    pub body: Vec<u8>,
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    host: String,
    buf: Vec<u8>,
    /// Start of unread data in `buf`.
    pos: usize,
    /// Remaining bytes of the current chunk while streaming.
    chunk_left: usize,
}

enum Framing {
    Length(usize),
    Chunked,
    /// No length and not chunked (e.g. 204/304): empty body.
    Empty,
}

struct Head {
    status: u16,
    consul_index: Option<u64>,
    framing: Framing,
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

impl Conn {
    /// Connects to `server`, from `source` (port chosen by the kernel) when given.
    pub async fn connect(server: SocketAddr, source: Option<IpAddr>) -> io::Result<Conn> {
        let sock = TcpSocket::new_v4()?;
        if let Some(ip) = source {
            sock.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = sock.connect(server).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            host: server.to_string(),
            buf: Vec::with_capacity(4096),
            pos: 0,
            chunk_left: 0,
        })
    }

    /// Sends a request without waiting for the answer.
    pub async fn send(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<()> {
        self.send_with(method, path, &[], body).await
    }

    /// [`Conn::send`] with extra header lines.
    pub async fn send_with(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut req = Vec::with_capacity(160 + body.len());
        req.extend_from_slice(method.as_bytes());
        req.push(b' ');
        req.extend_from_slice(path.as_bytes());
        req.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        req.extend_from_slice(self.host.as_bytes());
        for (k, v) in headers {
            req.extend_from_slice(b"\r\n");
            req.extend_from_slice(k.as_bytes());
            req.extend_from_slice(b": ");
            req.extend_from_slice(v.as_bytes());
        }
        if method != "GET" {
            req.extend_from_slice(b"\r\nContent-Type: application/json\r\nContent-Length: ");
            req.extend_from_slice(body.len().to_string().as_bytes());
        }
        req.extend_from_slice(b"\r\n\r\n");
        req.extend_from_slice(body);
        self.stream.write_all(&req).await
    }

    /// Sends a request and reads the whole response.
    pub async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> io::Result<Response> {
        self.send(method, path, body).await?;
        self.read_response().await
    }

    /// Reads one whole response.
    pub async fn read_response(&mut self) -> io::Result<Response> {
        let head = self.read_head().await?;
        let body = match head.framing {
            Framing::Empty => Vec::new(),
            Framing::Length(n) => self.take(n).await?,
            Framing::Chunked => {
                let mut body = Vec::new();
                loop {
                    let n = self.chunk_size().await?;
                    if n == 0 {
                        self.line().await?; // trailer end
                        break;
                    }
                    body.extend_from_slice(&self.take(n).await?);
                    self.line().await?;
                }
                body
            }
        };
        self.compact();
        Ok(Response {
            status: head.status,
            consul_index: head.consul_index,
            body,
        })
    }

    /// Sends a streaming request (etcd watch) and reads the response head; then call
    /// [`Conn::next_line`] for each message.
    pub async fn open_stream(&mut self, path: &str, body: &[u8]) -> io::Result<u16> {
        self.send("POST", path, body).await?;
        let head = self.read_head().await?;
        if !matches!(head.framing, Framing::Chunked) {
            return Err(bad("watch stream is not chunked"));
        }
        self.chunk_left = 0;
        Ok(head.status)
    }

    /// Next newline-terminated message of a chunked stream (chunk boundaries ignored).
    pub async fn next_line(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            if self.chunk_left == 0 {
                let n = self.chunk_size().await?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "stream ended"));
                }
                self.chunk_left = n;
            }
            self.fill(1).await?;
            let avail = (self.buf.len() - self.pos).min(self.chunk_left);
            let data = &self.buf[self.pos..self.pos + avail];
            if let Some(i) = data.iter().position(|&b| b == b'\n') {
                out.extend_from_slice(&data[..i]);
                self.consume_chunk(i + 1).await?;
                return Ok(out);
            }
            out.extend_from_slice(data);
            self.consume_chunk(avail).await?;
        }
    }

    async fn consume_chunk(&mut self, n: usize) -> io::Result<()> {
        self.pos += n;
        self.chunk_left -= n;
        if self.chunk_left == 0 {
            self.line().await?; // CRLF after the chunk data
        }
        self.compact();
        Ok(())
    }

    async fn read_head(&mut self) -> io::Result<Head> {
        let end = loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n\r\n") {
                break self.pos + i;
            }
            self.read_more().await?;
        };
        let text =
            std::str::from_utf8(&self.buf[self.pos..end]).map_err(|_| bad("non-utf8 head"))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().ok_or_else(|| bad("empty head"))?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut framing = Framing::Empty;
        let mut consul_index = None;
        for l in lines {
            let Some((k, v)) = l.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("content-length") {
                framing = Framing::Length(v.parse().map_err(|_| bad("bad content-length"))?);
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.eq_ignore_ascii_case("chunked")
            {
                framing = Framing::Chunked;
            } else if k.eq_ignore_ascii_case("x-consul-index") {
                consul_index = v.parse().ok();
            }
        }
        self.pos = end + 4;
        Ok(Head {
            status,
            consul_index,
            framing,
        })
    }

    async fn chunk_size(&mut self) -> io::Result<usize> {
        let l = self.line().await?;
        let s = std::str::from_utf8(&l).map_err(|_| bad("bad chunk size"))?;
        let s = s.split(';').next().unwrap_or("").trim();
        usize::from_str_radix(s, 16).map_err(|_| bad("bad chunk size"))
    }

    /// One CRLF-terminated line, without the CRLF.
    async fn line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let l = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return Ok(l);
            }
            self.read_more().await?;
        }
    }

    async fn take(&mut self, n: usize) -> io::Result<Vec<u8>> {
        self.fill(n).await?;
        let v = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(v)
    }

    async fn fill(&mut self, n: usize) -> io::Result<()> {
        while self.buf.len() - self.pos < n {
            self.read_more().await?;
        }
        Ok(())
    }

    async fn read_more(&mut self) -> io::Result<()> {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + 8192, 0);
        let n = self.stream.read(&mut self.buf[old..]).await;
        match n {
            Ok(0) => {
                self.buf.truncate(old);
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ))
            }
            Ok(n) => {
                self.buf.truncate(old + n);
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(old);
                Err(e)
            }
        }
    }

    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 65536 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
