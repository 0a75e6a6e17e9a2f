//! A small HTTP transport to Consul: reqwest (rustls) over TCP, or a minimal HTTP/1.0 exchange
//! over a unix socket (reqwest cannot dial unix sockets). Every request carries the ACL token
//! (`X-Consul-Token`) and basic auth when configured. Private to `registry`; it goes away when
//! the shared `api_types` client covers unix sockets.

use super::uri::{Address, Endpoint};
use super::RegistryError;
use base64::Engine as _;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one request may take before the registry counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

enum Inner {
    Tcp {
        client: reqwest::Client,
        base: String,
    },
    Unix(PathBuf),
}

/// One configured Consul HTTP endpoint.
pub struct Http {
    inner: Inner,
    headers: Vec<(String, String)>,
}

fn read_file(p: &std::path::Path) -> Result<Vec<u8>, RegistryError> {
    std::fs::read(p).map_err(|e| RegistryError::Config(format!("{}: {e}", p.display())))
}

impl Http {
    /// Builds the client; TLS files are read here so a bad file fails at start.
    pub fn new(ep: &Endpoint) -> Result<Self, RegistryError> {
        let mut headers = Vec::new();
        if let Some(t) = &ep.token {
            headers.push((api_types::headers::TOKEN.to_string(), t.clone()));
        }
        if let Some((u, p)) = &ep.basic_auth {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            headers.push(("Authorization".to_string(), format!("Basic {b}")));
        }
        let inner = match &ep.address {
            Address::Unix(p) => Inner::Unix(p.clone()),
            Address::Tcp { https, host_port } => {
                let mut b = reqwest::Client::builder().timeout(REQUEST_TIMEOUT);
                if *https {
                    b = b.use_rustls_tls();
                    if let Some(ca) = &ep.tls.ca_file {
                        let cert = reqwest::Certificate::from_pem(&read_file(ca)?)
                            .map_err(|e| RegistryError::Config(format!("CONSUL_CACERT: {e}")))?;
                        b = b.add_root_certificate(cert);
                    }
                    if let (Some(c), Some(k)) = (&ep.tls.cert_file, &ep.tls.key_file) {
                        let mut pem = read_file(c)?;
                        pem.push(b'\n');
                        pem.extend(read_file(k)?);
                        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                            RegistryError::Config(format!("client certificate: {e}"))
                        })?;
                        b = b.identity(id);
                    }
                    if ep.tls.skip_verify {
                        b = b.danger_accept_invalid_certs(true);
                    }
                }
                let client = b
                    .build()
                    .map_err(|e| RegistryError::Config(e.to_string()))?;
                let scheme = if *https { "https" } else { "http" };
                Inner::Tcp {
                    client,
                    base: format!("{scheme}://{host_port}"),
                }
            }
        };
        Ok(Http { inner, headers })
    }

    /// Sends one request with an optional `(content type, body)`; returns the body of a 2xx answer.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Vec<u8>, RegistryError> {
        let (status, bytes) = match &self.inner {
            Inner::Tcp { client, base } => {
                let m = reqwest::Method::from_bytes(method.as_bytes())
                    .map_err(|e| RegistryError::Config(e.to_string()))?;
                let mut req = client.request(m, format!("{base}{path}"));
                for (k, v) in &self.headers {
                    req = req.header(k, v);
                }
                if let Some((ct, b)) = body {
                    req = req.header("Content-Type", ct).body(b);
                }
                let resp = req
                    .send()
                    .await
                    .map_err(|e| RegistryError::Unreachable(chain(&e)))?;
                let status = resp.status().as_u16();
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| RegistryError::Unreachable(chain(&e)))?;
                (status, bytes.to_vec())
            }
            Inner::Unix(sock) => {
                let mut headers = self.headers.clone();
                let body = body.map(|(ct, b)| {
                    headers.push(("Content-Type".to_string(), ct.to_string()));
                    b
                });
                let fut = unix_request(sock, method, path, &headers, body.unwrap_or_default());
                tokio::time::timeout(REQUEST_TIMEOUT, fut)
                    .await
                    .map_err(|_| RegistryError::Unreachable("request timed out".to_string()))??
            }
        };
        if (200..300).contains(&status) {
            Ok(bytes)
        } else {
            let body = String::from_utf8_lossy(&bytes).trim().to_string();
            Err(RegistryError::Status {
                method: method.to_string(),
                path: path.to_string(),
                status,
                body,
            })
        }
    }
}

/// An error with its causes, `a: b: c` (reqwest hides the useful part in `source`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// HTTP/1.0 over a unix socket: Go's server then answers without chunking and closes.
async fn unix_request(
    sock: &std::path::Path,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), RegistryError> {
    let unreachable =
        |e: std::io::Error| RegistryError::Unreachable(format!("{}: {e}", sock.display()));
    let mut s = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(unreachable)?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend(body);
    s.write_all(&out).await.map_err(unreachable)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).await.map_err(unreachable)?;
    parse_response(&resp)
        .ok_or_else(|| RegistryError::Unreachable("malformed HTTP response".to_string()))
}

/// Status and body of a raw HTTP/1.x response (chunked bodies decoded).
fn parse_response(resp: &[u8]) -> Option<(u16, Vec<u8>)> {
    let end = resp.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&resp[..end]).ok()?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let mut body = &resp[end + 4..];
    if !chunked {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

/// Escapes a path segment the way Go's `url.URL` would (service IDs contain `:` and may hold
/// spaces or `/`).
pub fn escape_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\nA: b\r\n\r\ntrue"),
            Some((200, b"true".to_vec()))
        );
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked), Some((404, b"abcde".to_vec())));
        assert_eq!(parse_response(b"garbage"), None);
    }

    #[test]
    fn escaping() {
        assert_eq!(escape_segment("node1:web.0:80"), "node1:web.0:80");
        assert_eq!(escape_segment("a b/c?"), "a%20b%2Fc%3F");
    }
}
