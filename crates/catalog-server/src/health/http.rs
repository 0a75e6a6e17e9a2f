//! HTTP checks (Consul's `CheckHTTP`): 2xx passing, 429 warning, anything else (or a transport
//! error) critical. Output is `HTTP <METHOD> <url>: <status> Output: <body tail>`; transport
//! errors read like Go's `*url.Error` (`Get "<url>": dial tcp <addr>: connect: connection refused`).

use super::net::{errno_text, timeout_of, DEFAULT_TIMEOUT};
use super::status::{HealthStatus, CRITICAL, PASSING, WARNING};
use super::{output_max, TailBuf};
use api_types::CheckRegistration;
use reqwest::Url;

/// Consul's health-check user agent.
const USER_AGENT: &str = "Consul Health Check";
const ACCEPT: &str = "text/plain, text/*, */*";

pub(crate) struct HttpProbe {
    client: Result<reqwest::Client, String>,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: String,
    max: usize,
}

impl HttpProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> HttpProbe {
        let method = if spec.method.is_empty() {
            "GET".to_string()
        } else {
            spec.method.clone()
        };
        let client = reqwest::Client::builder()
            .timeout(timeout_of(spec, DEFAULT_TIMEOUT))
            .danger_accept_invalid_certs(spec.tls_skip_verify)
            // Consul's check transport disables keep-alives: every probe dials afresh.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| format!("building HTTP client: {e}"));
        let headers = spec
            .header
            .iter()
            .flatten()
            .flat_map(|(k, vs)| vs.iter().map(move |v| (k.clone(), v.clone())))
            .collect();
        HttpProbe {
            client,
            method,
            url: spec.http.clone(),
            headers,
            body: spec.body.clone(),
            max: output_max(spec),
        }
    }

    pub(crate) async fn run(&self) -> (HealthStatus, String) {
        match self.request().await {
            Ok((code, result)) => {
                let status = match code {
                    200..=299 => PASSING,
                    429 => WARNING,
                    _ => CRITICAL,
                };
                (status, result)
            }
            Err(e) => (CRITICAL, e),
        }
    }

    /// Performs the request; `Ok((status code, output))` once a response arrived.
    async fn request(&self) -> Result<(u16, String), String> {
        let op = go_op(&self.method);
        let client = self.client.as_ref().map_err(|e| e.clone())?;
        let url = match Url::parse(&self.url) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => u,
            Ok(u) => {
                return Err(format!(
                    "{op} {:?}: unsupported protocol scheme {:?}",
                    self.url,
                    u.scheme()
                ))
            }
            Err(e) if e.to_string() == "relative URL without a base" => {
                return Err(format!(
                    "{op} {:?}: unsupported protocol scheme \"\"",
                    self.url
                ))
            }
            Err(e) => return Err(format!("parse {:?}: {e}", self.url)),
        };
        let method = reqwest::Method::from_bytes(self.method.as_bytes())
            .map_err(|_| format!("net/http: invalid method {:?}", self.method))?;
        let mut req = client.request(method, url.clone());
        let mut has_ua = false;
        let mut has_accept = false;
        for (k, v) in &self.headers {
            has_ua |= k.eq_ignore_ascii_case("user-agent");
            has_accept |= k.eq_ignore_ascii_case("accept");
            req = req.header(k.as_str(), v.as_str());
        }
        if !has_ua {
            req = req.header(reqwest::header::USER_AGENT, USER_AGENT);
        }
        if !has_accept {
            req = req.header(reqwest::header::ACCEPT, ACCEPT);
        }
        if !self.body.is_empty() {
            req = req.body(self.body.clone());
        }
        let mut resp = req
            .send()
            .await
            .map_err(|e| format!("{op} {:?}: {}", self.url, transport_detail(&e, &url)))?;
        let code = resp.status();
        let status_text = match code.canonical_reason() {
            Some(reason) => format!("{} {reason}", code.as_str()),
            None => code.as_str().to_string(),
        };
        let mut out = TailBuf::new(self.max);
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => out.write(&chunk),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(target: "agent", "Check error while reading body: url={} error={e}", self.url);
                    break;
                }
            }
        }
        let result = format!(
            "HTTP {} {}: {status_text} Output: {}",
            self.method,
            self.url,
            out.text()
        );
        Ok((code.as_u16(), result))
    }
}

/// Go's `urlErrorOp`: `GET` → `Get`.
fn go_op(method: &str) -> String {
    let mut c = method.chars();
    match c.next() {
        Some(first) => first
            .to_uppercase()
            .chain(c.flat_map(char::to_lowercase))
            .collect(),
        None => String::new(),
    }
}

/// The part of a Go `*url.Error` after `Get "<url>": `.
fn transport_detail(err: &reqwest::Error, url: &Url) -> String {
    if err.is_timeout() {
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            .to_string();
    }
    if err.is_redirect() {
        return "stopped after 10 redirects".to_string();
    }
    let host = url.host_str().unwrap_or_default();
    let hostport = format!("{host}:{}", url.port_or_known_default().unwrap_or(80));
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut chain: Vec<String> = Vec::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.raw_os_error().is_some() || io.kind() == std::io::ErrorKind::ConnectionRefused {
                return format!("dial tcp {hostport}: connect: {}", errno_text(io));
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return format!("dial tcp: lookup {host}: no such host");
        }
        if text.contains("UnknownIssuer") {
            return "tls: failed to verify certificate: x509: certificate signed by unknown authority".to_string();
        }
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = e.source();
    }
    chain.join(": ")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::super::*;
    use super::*;
    use api_types::GoDuration;
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::sync::mpsc;

    /// A one-response-per-connection HTTP server on 127.0.0.1:0 answering with `status` and
    /// `body`; every raw request it read is sent on the returned channel.
    async fn serve(
        status: &'static str,
        body: String,
    ) -> (String, mpsc::UnboundedReceiver<String>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = l.accept().await {
                let tx = tx.clone();
                let body = body.clone();
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 4096];
                    loop {
                        let Ok(n) = conn.read(&mut buf).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        req.extend_from_slice(&buf[..n]);
                        let text = String::from_utf8_lossy(&req).to_string();
                        if let Some(end) = text.find("\r\n\r\n") {
                            let len = text
                                .lines()
                                .find_map(|l| {
                                    l.to_ascii_lowercase()
                                        .strip_prefix("content-length:")
                                        .map(|v| v.trim().to_string())
                                })
                                .and_then(|v| v.parse::<usize>().ok())
                                .unwrap_or(0);
                            if req.len() >= end + 4 + len {
                                break;
                            }
                        }
                    }
                    let _ = tx.send(String::from_utf8_lossy(&req).to_string());
                    let resp = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = conn.write_all(resp.as_bytes()).await;
                    let _ = conn.shutdown().await;
                });
            }
        });
        (format!("http://{addr}/health"), rx)
    }

    fn spec(url: &str) -> CheckRegistration {
        CheckRegistration {
            http: url.to_string(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn http_status_mapping_and_output() {
        let (url, mut reqs) = serve("200 OK", "ok".into()).await;
        assert_eq!(
            HttpProbe::new(&spec(&url)).run().await,
            (PASSING, format!("HTTP GET {url}: 200 OK Output: ok"))
        );
        let head = reqs.recv().await.expect("request");
        assert!(head.starts_with("GET /health HTTP/1.1\r\n"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("user-agent: consul health check"),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains("accept: text/plain, text/*, */*"),
            "{head}"
        );

        let (url, _r) = serve("429 Too Many Requests", "slow down".into()).await;
        assert_eq!(
            HttpProbe::new(&spec(&url)).run().await,
            (
                WARNING,
                format!("HTTP GET {url}: 429 Too Many Requests Output: slow down")
            )
        );
        let (url, _r) = serve("503 Service Unavailable", "".into()).await;
        assert_eq!(
            HttpProbe::new(&spec(&url)).run().await,
            (
                CRITICAL,
                format!("HTTP GET {url}: 503 Service Unavailable Output: ")
            )
        );
    }

    #[tokio::test]
    async fn http_method_header_body_and_output_cap() {
        let big = format!("{}{}", "a".repeat(5000), "END");
        let (url, mut reqs) = serve("201 Created", big).await;
        let mut header = BTreeMap::new();
        header.insert(
            "X-Token".to_string(),
            vec!["one".to_string(), "two".to_string()],
        );
        let s = CheckRegistration {
            method: "POST".into(),
            header: Some(header),
            body: "{\"q\":1}".into(),
            output_max_size: 10,
            ..spec(&url)
        };
        let (status, output) = HttpProbe::new(&s).run().await;
        assert_eq!(status, PASSING);
        assert_eq!(
            output,
            format!("HTTP POST {url}: 201 Created Output: aaaaaaaEND")
        );
        let req = reqs.recv().await.expect("request");
        assert!(req.starts_with("POST /health HTTP/1.1\r\n"), "{req}");
        let lower = req.to_ascii_lowercase();
        assert!(
            lower.contains("x-token: one\r\n") && lower.contains("x-token: two\r\n"),
            "{req}"
        );
        assert!(req.ends_with("\r\n\r\n{\"q\":1}"), "{req}");

        // Default cap is 4 KiB.
        let (url, _r) = serve("200 OK", "b".repeat(5000)).await;
        let (_, output) = HttpProbe::new(&spec(&url)).run().await;
        assert_eq!(
            output,
            format!("HTTP GET {url}: 200 OK Output: {}", "b".repeat(4096))
        );
    }

    #[tokio::test]
    async fn http_connection_refused_has_go_shape() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        drop(l);
        let url = format!("http://{addr}/health");
        assert_eq!(
            HttpProbe::new(&spec(&url)).run().await,
            (
                CRITICAL,
                format!("Get \"{url}\": dial tcp {addr}: connect: connection refused")
            )
        );
        assert_eq!(
            HttpProbe::new(&spec("localhost/x")).run().await,
            (
                CRITICAL,
                "Get \"localhost/x\": unsupported protocol scheme \"\"".to_string()
            )
        );
    }

    #[tokio::test]
    async fn http_timeout_is_critical() {
        // Accepts but never answers.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        let hold = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = l.accept().await {
                conns.push(c);
            }
        });
        let url = format!("http://{addr}/");
        let s = CheckRegistration {
            timeout: GoDuration(200_000_000),
            ..spec(&url)
        };
        assert_eq!(
            HttpProbe::new(&s).run().await,
            (
                CRITICAL,
                format!("Get \"{url}\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)")
            )
        );
        hold.abort();
    }

    #[tokio::test]
    async fn http_check_through_runner_reports_once() {
        let (url, _r) = serve("200 OK", "fine".into()).await;
        let (rec, runner) = runner();
        // Interval below the minimum is raised to 1s: expect ~2 probes in 1.5s, one report.
        let s = CheckRegistration {
            interval: GoDuration(100_000_000),
            ..spec(&url)
        };
        runner.sync(&[record("web", s)]);
        let u = rec.wait_for("web", 5, |u| !u.is_empty()).await;
        assert_eq!(
            u,
            vec![(
                PASSING.to_string(),
                format!("HTTP GET {url}: 200 OK Output: fine")
            )]
        );
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(
            rec.updates("web").len(),
            1,
            "steady results are not re-reported"
        );
        runner.stop_all();
    }

    #[test]
    fn go_ops() {
        assert_eq!(go_op("GET"), "Get");
        assert_eq!(go_op("POST"), "Post");
        assert_eq!(go_op("PATCH"), "Patch");
    }
}
