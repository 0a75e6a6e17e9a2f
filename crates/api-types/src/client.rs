//! The one typed HTTP client for Consul's API, used by registrator, consul-template, the tests
//! and the `consul` CLI. It mirrors the Go `api` package: an address (`host:port`, `http://…`,
//! `https://…`, `unix:///path.sock`, or `CONSUL_HTTP_ADDR`), a token sent as
//! `X-Consul-Token`, basic auth (`CONSUL_HTTP_AUTH`), [`QueryOptions`] for reads (blocking
//! `index`/`wait`, consistency, filters) and [`QueryMeta`] parsed from the response headers.
//! Bodies are encoded as Go encodes them (`\u003c` escapes) and sent with a `Content-Type`;
//! answers are decoded with Go's rules ([`crate::decode::decode_response`]: `null` is the zero
//! value, unknown fields are ignored). Non-200 answers become [`ClientError::Status`] with
//! Go's wording (`Unexpected response code: 404 (body)`); transport errors are rendered in
//! Go's `url.Error` shape (`Get "http://…": dial tcp 127.0.0.1:8500: connect: connection
//! refused`).
//!
//! Requests go over HTTP/1.1; with [`ConnectionSettings::h2c`] a plain `http://` client first
//! asks whether the agent speaks HTTP/2 with prior knowledge and then sends everything as
//! streams of one h2 connection (`client/h2c.rs`).
//!
//! The endpoint methods live in the submodules, one per API area.

mod acl;
mod agent;
mod catalog;
mod h2c;
mod kv;
mod operator;

pub use kv::KvPutOptions;

use crate::headers::{self, QueryMeta};
use reqwest::{Method, StatusCode, Url};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid address {0:?}: {1}")]
    Address(String, String),
    /// The request never got an HTTP answer (`Get "url": detail`, like Go's `url.Error`).
    #[error("{method} \"{url}\": {detail}")]
    Transport {
        method: String,
        url: String,
        detail: String,
    },
    /// The agent answered with an unexpected status.
    #[error("Unexpected response code: {code} ({body})")]
    Status { code: u16, body: String },
    #[error("failed to decode response: {0}")]
    Decode(String),
    #[error("tls setup: {0}")]
    Tls(String),
}

impl ClientError {
    /// The HTTP status code, when the agent answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Where and how to connect; [`ClientConfig::from_env`] reads Consul's `CONSUL_*` variables.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// `host:port`, `http://host:port` or `https://host:port`; default `127.0.0.1:8500`.
    pub address: Option<String>,
    pub token: Option<String>,
    /// Use https for a scheme-less address (`CONSUL_HTTP_SSL`).
    pub ssl: bool,
    /// `false` disables certificate verification (`CONSUL_HTTP_SSL_VERIFY=false`).
    pub ssl_verify: Option<bool>,
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    /// Default `?dc=` for every request (per-call [`QueryOptions::dc`] wins).
    pub datacenter: Option<String>,
    /// HTTP basic auth `(user, password)` (`CONSUL_HTTP_AUTH=user:password`).
    pub http_auth: Option<(String, String)>,
    /// Time limit of a whole request, answer included; `None` for none (blocking queries
    /// wait up to their own `wait`).
    pub timeout: Option<Duration>,
    /// Connection settings (consul-template's `transport`); the defaults keep connecting
    /// limited to 10 s and reqwest's pool.
    pub transport: ConnectionSettings,
    /// Told, in words, what the h2c negotiation decided ([`ConnectionSettings::h2c`]): the
    /// caller's debug log.
    pub h2c_log: Option<fn(&str)>,
}

/// How connections to Consul are made and kept (Go's `http.Transport` knobs that
/// consul-template exposes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Time to connect, TLS handshake included (reqwest's connect covers both); default 10 s.
    /// Under h2c: the time to open the one connection.
    pub connect_timeout: Option<Duration>,
    /// TCP keep-alive probes' interval on the connections (the h2c one too).
    pub tcp_keepalive: Option<Duration>,
    /// Idle HTTP/1.1 connections kept per host (0: none, every request dials afresh, and no
    /// h2c: a shared connection is a kept one).
    pub max_idle_per_host: Option<usize>,
    /// How long an idle HTTP/1.1 connection is kept. The h2c connection is kept while the
    /// client lives (its streams, not requests, come and go; the agent closes it after its own
    /// idle timeout when no stream is open, and the next request dials again).
    pub idle_timeout: Option<Duration>,
    /// Negotiate HTTP/2 with prior knowledge on a plain `http://` address (`client/h2c.rs`):
    /// every request a stream of one connection when the agent speaks it, HTTP/1.1 otherwise.
    /// Never over TLS or a unix socket.
    pub h2c: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// A boolean variable as Go's `strconv.ParseBool` reads it; unparsable is unset.
fn env_bool(name: &str) -> Option<bool> {
    env(name).and_then(|v| crate::parse_bool(&v))
}

impl ClientConfig {
    /// `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN_FILE` (else `CONSUL_HTTP_TOKEN`), `CONSUL_HTTP_AUTH`,
    /// `CONSUL_HTTP_SSL`, `CONSUL_HTTP_SSL_VERIFY`, `CONSUL_CACERT`, `CONSUL_CLIENT_CERT`,
    /// `CONSUL_CLIENT_KEY`.
    pub fn from_env() -> Self {
        // The token file wins over the token, as in Go's client.
        let token = env("CONSUL_HTTP_TOKEN_FILE")
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|t| t.trim().to_string())
            .or_else(|| env("CONSUL_HTTP_TOKEN"));
        ClientConfig {
            address: env("CONSUL_HTTP_ADDR"),
            token,
            ssl: env_bool("CONSUL_HTTP_SSL").unwrap_or(false),
            ssl_verify: env_bool("CONSUL_HTTP_SSL_VERIFY"),
            ca_file: env("CONSUL_CACERT").map(PathBuf::from),
            client_cert: env("CONSUL_CLIENT_CERT").map(PathBuf::from),
            client_key: env("CONSUL_CLIENT_KEY").map(PathBuf::from),
            datacenter: None,
            http_auth: env("CONSUL_HTTP_AUTH").map(|a| match a.split_once(':') {
                Some((user, password)) => (user.to_string(), password.to_string()),
                None => (a, String::new()),
            }),
            timeout: None,
            transport: ConnectionSettings::default(),
            h2c_log: None,
        }
    }
}

/// The socket path of a `unix:///path` address.
fn unix_path(addr: &str) -> Option<PathBuf> {
    addr.trim()
        .strip_prefix("unix://")
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty())
}

/// Turns `host:port` / `http://…` / `https://…` into a base URL without trailing `/`
/// (`unix://` addresses are not URLs: [`Client::from_config`] dials the socket instead).
pub fn base_url(addr: &str, ssl: bool) -> Result<String, ClientError> {
    let addr = addr.trim();
    let bad = |why: &str| ClientError::Address(addr.to_string(), why.to_string());
    if addr.is_empty() {
        return Err(bad("empty address"));
    }
    if addr.starts_with("unix://") {
        return Err(bad("a unix socket is not a URL"));
    }
    let full = if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.to_string()
    } else if ssl {
        format!("https://{addr}")
    } else {
        format!("http://{addr}")
    };
    let url = Url::parse(&full).map_err(|e| bad(&e.to_string()))?;
    if url.host_str().is_none() {
        return Err(bad("missing host"));
    }
    Ok(full.trim_end_matches('/').to_string())
}

/// Options of a read: blocking, consistency and filters. Unset fields send nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryOptions {
    /// Blocking query: wait for an index greater than this.
    pub index: Option<u64>,
    /// Maximum blocking time (sent as `wait=<ms>ms`, like the Go client).
    pub wait: Option<Duration>,
    pub stale: bool,
    pub consistent: bool,
    /// `tag=` filters (repeated; all must match).
    pub tag: Vec<String>,
    /// `passing` (health service reads).
    pub passing: bool,
    pub dc: Option<String>,
    pub near: Option<String>,
    pub filter: Option<String>,
    /// `node-meta=key:value` filters (repeated; all must match).
    pub node_meta: Vec<String>,
}

impl QueryOptions {
    /// A blocking read at `index` waiting at most `wait`.
    pub fn blocking(index: u64, wait: Duration) -> Self {
        QueryOptions {
            index: Some(index),
            wait: Some(wait),
            ..Default::default()
        }
    }

    fn params(&self, out: &mut Vec<(String, String)>) {
        let mut push = |k: &str, v: String| out.push((k.to_string(), v));
        if let Some(i) = self.index {
            push("index", i.to_string());
        }
        if let Some(w) = self.wait {
            push("wait", format!("{}ms", w.as_millis()));
        }
        if self.stale {
            push("stale", String::new());
        }
        if self.consistent {
            push("consistent", String::new());
        }
        for t in &self.tag {
            push("tag", t.clone());
        }
        if self.passing {
            push("passing", "1".to_string());
        }
        if let Some(dc) = &self.dc {
            push("dc", dc.clone());
        }
        if let Some(n) = &self.near {
            push("near", n.clone());
        }
        if let Some(f) = &self.filter {
            push("filter", f.clone());
        }
        for m in &self.node_meta {
            push("node-meta", m.clone());
        }
    }
}

/// An async Consul HTTP API client; cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    /// HTTP/1.1.
    http: reqwest::Client,
    /// HTTP/2 with prior knowledge, when negotiated ([`ConnectionSettings::h2c`]).
    h2c: Option<std::sync::Arc<h2c::H2c>>,
    base: String,
    /// The socket every connection dials, for a `unix://` address.
    unix: Option<PathBuf>,
    /// `base`, or `unix:///path` for a socket.
    address: String,
    token: Option<String>,
    datacenter: Option<String>,
    http_auth: Option<(String, String)>,
}

/// A request body and its `Content-Type`.
pub(crate) struct Body {
    bytes: Vec<u8>,
    content_type: &'static str,
}

impl Body {
    /// Bytes sent as they are (`application/octet-stream`, as Go's client sends KV values).
    pub(crate) fn raw(bytes: Vec<u8>) -> Body {
        Body {
            bytes,
            content_type: "application/octet-stream",
        }
    }
}

/// A raw answer: status, metadata and body bytes.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub meta: QueryMeta,
    pub body: Vec<u8>,
}

impl Client {
    /// A client for `addr` (`host:port`, `http://…`, `https://…`), ignoring the environment.
    pub fn new(addr: &str) -> Result<Self, ClientError> {
        Self::from_config(ClientConfig {
            address: Some(addr.to_string()),
            ..Default::default()
        })
    }

    /// The environment (`CONSUL_HTTP_ADDR`, …), with `flag` (e.g. `-http-addr`) winning.
    pub fn from_env_and_flag(flag: Option<&str>) -> Result<Self, ClientError> {
        let mut cfg = ClientConfig::from_env();
        if let Some(f) = flag.filter(|f| !f.is_empty()) {
            cfg.address = Some(f.to_string());
        }
        Self::from_config(cfg)
    }

    /// A client from an explicit configuration.
    pub fn from_config(cfg: ClientConfig) -> Result<Self, ClientError> {
        let addr = cfg.address.as_deref().unwrap_or("127.0.0.1:8500");
        let unix = unix_path(addr);
        let base = match &unix {
            // Every connection dials the socket; the URL only carries the path.
            Some(_) => "http://localhost".to_string(),
            None => base_url(addr, cfg.ssl)?,
        };
        let t = &cfg.transport;
        let connect_timeout = t.connect_timeout.unwrap_or(Duration::from_secs(10));
        // HTTP/1.1 only, over TLS too (no ALPN `h2` offered): h2 is the h2c client's.
        let mut builder = reqwest::Client::builder()
            .http1_only()
            .connect_timeout(connect_timeout);
        if let Some(k) = t.tcp_keepalive {
            builder = builder.tcp_keepalive(k);
        }
        if let Some(n) = t.max_idle_per_host {
            builder = builder.pool_max_idle_per_host(n);
        }
        if let Some(d) = t.idle_timeout {
            builder = builder.pool_idle_timeout(d);
        }
        if let Some(path) = &unix {
            builder = builder.unix_socket(path.as_path());
        }
        if let Some(t) = cfg.timeout {
            builder = builder.timeout(t);
        }
        if cfg.ssl_verify == Some(false) {
            builder = builder.danger_accept_invalid_certs(true);
        }
        if let Some(ca) = &cfg.ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", ca.display())))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", ca.display())))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let (Some(cert), Some(key)) = (&cfg.client_cert, &cfg.client_key) {
            let mut pem = std::fs::read(cert)
                .map_err(|e| ClientError::Tls(format!("{}: {e}", cert.display())))?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(key)
                    .map_err(|e| ClientError::Tls(format!("{}: {e}", key.display())))?,
            );
            let id =
                reqwest::Identity::from_pem(&pem).map_err(|e| ClientError::Tls(e.to_string()))?;
            builder = builder.identity(id);
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Tls(e.to_string()))?;
        let address = match &unix {
            Some(p) => format!("unix://{}", p.display()),
            None => base.clone(),
        };
        let h2c = if t.h2c && unix.is_none() && t.max_idle_per_host != Some(0) {
            h2c_client(
                &base,
                connect_timeout,
                t.tcp_keepalive,
                cfg.timeout,
                cfg.h2c_log,
            )?
            .map(std::sync::Arc::new)
        } else {
            None
        };
        Ok(Client {
            http,
            h2c,
            base,
            unix,
            address,
            token: cfg.token,
            datacenter: cfg.datacenter,
            http_auth: cfg.http_auth,
        })
    }

    /// Sends `X-Consul-Token: token` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|t: &String| !t.is_empty());
        self
    }

    /// Adds `?dc=` to every request that does not name one.
    pub fn with_datacenter(mut self, dc: impl Into<String>) -> Self {
        self.datacenter = Some(dc.into()).filter(|d: &String| !d.is_empty());
        self
    }

    /// The base URL, e.g. `http://127.0.0.1:8500`, or `unix:///path.sock` for a socket.
    pub fn address(&self) -> &str {
        &self.address
    }

    fn url(&self, path: &str, params: Vec<(String, String)>) -> Result<Url, ClientError> {
        self.url_escaped(&escape_path(path), params)
    }

    /// [`Client::url`] for a path already percent-encoded (a name whose `/` must stay `%2F`).
    pub(crate) fn url_escaped(
        &self,
        escaped_path: &str,
        mut params: Vec<(String, String)>,
    ) -> Result<Url, ClientError> {
        if let Some(dc) = &self.datacenter {
            if !params.iter().any(|(k, _)| k == "dc") {
                params.push(("dc".to_string(), dc.clone()));
            }
        }
        let mut url = Url::parse(&format!("{}{escaped_path}", self.base))
            .map_err(|e| ClientError::Address(self.base.clone(), e.to_string()))?;
        if !params.is_empty() {
            url.query_pairs_mut().extend_pairs(params);
        }
        Ok(url)
    }

    /// Sends one request and reads the whole answer, whatever its status.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        params: Vec<(String, String)>,
        body: Option<Body>,
    ) -> Result<Answer, ClientError> {
        let url = self.url(path, params)?;
        self.send_url(method, url, body).await
    }

    /// Sends one request to a built URL and reads the whole answer, whatever its status.
    pub(crate) async fn send_url(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
    ) -> Result<Answer, ClientError> {
        let (resp, transport) = self.start(method, url, body).await?;
        let status = resp.status();
        let meta = parse_meta(resp.headers());
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport.error(&e))?
            .to_vec();
        Ok(Answer { status, meta, body })
    }

    /// Sends one request; the answer's head, its body still to be read.
    async fn start(
        &self,
        method: Method,
        url: Url,
        body: Option<Body>,
    ) -> Result<(reqwest::Response, Transport), ClientError> {
        let transport = Transport {
            method: go_method(&method).to_string(),
            url: url.clone(),
            unix: self.unix.clone(),
        };
        let h2c = match &self.h2c {
            Some(h) => h.client().await.map(|c| (h, c)),
            None => None,
        };
        let mut req = match h2c {
            Some((_, c)) => c.request(method, url),
            None => self.http.request(method, url),
        };
        if let Some(t) = &self.token {
            req = req.header(headers::TOKEN, t);
        }
        if let Some((user, password)) = &self.http_auth {
            req = req.basic_auth(user, Some(password));
        }
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, b.content_type)
                .body(b.bytes);
        }
        let resp = req.send().await.map_err(|e| {
            if let Some((h, _)) = h2c {
                h.failed(&e);
            }
            transport.error(&e)
        })?;
        Ok((resp, transport))
    }

    /// `GET path` whose 200 answer is read line by line as it arrives (`/v1/agent/monitor`).
    pub async fn get_lines(
        &self,
        path: &str,
        extra: &[(&str, &str)],
    ) -> Result<Lines, ClientError> {
        let url = self.url(path, params(&QueryOptions::default(), extra))?;
        let (resp, transport) = self.start(Method::GET, url, None).await?;
        if resp.status() != StatusCode::OK {
            let status = resp.status();
            let meta = parse_meta(resp.headers());
            let body = resp
                .bytes()
                .await
                .map_err(|e| transport.error(&e))?
                .to_vec();
            return Err(status_error(&Answer { status, meta, body }));
        }
        Ok(Lines {
            resp,
            transport,
            buf: Vec::new(),
        })
    }

    /// Sends a request and requires a 200.
    pub(crate) async fn send_ok(
        &self,
        method: Method,
        path: &str,
        params: Vec<(String, String)>,
        body: Option<Body>,
    ) -> Result<Answer, ClientError> {
        let a = self.send(method, path, params, body).await?;
        if a.status != StatusCode::OK {
            return Err(status_error(&a));
        }
        Ok(a)
    }

    /// `GET path` with query options, decoding a JSON body.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        q: &QueryOptions,
        extra: &[(&str, &str)],
    ) -> Result<(T, QueryMeta), ClientError> {
        let a = self
            .send_ok(Method::GET, path, params(q, extra), None)
            .await?;
        Ok((decode(&a.body)?, a.meta))
    }

    /// `GET path` with query options, decoding a JSON body; a 404 answers `None` with its
    /// metadata (a missing KV key still carries `X-Consul-Index`, which blocking reads need).
    pub async fn get_json_opt<T: DeserializeOwned>(
        &self,
        path: &str,
        q: &QueryOptions,
        extra: &[(&str, &str)],
    ) -> Result<(Option<T>, QueryMeta), ClientError> {
        let a = self.send(Method::GET, path, params(q, extra), None).await?;
        match a.status {
            StatusCode::NOT_FOUND => Ok((None, a.meta)),
            StatusCode::OK => Ok((Some(decode(&a.body)?), a.meta)),
            _ => Err(status_error(&a)),
        }
    }

    /// `PUT path` with an optional JSON body; requires 200 and ignores the answer.
    pub(crate) async fn put_unit(
        &self,
        path: &str,
        params: Vec<(String, String)>,
        body: Option<Body>,
    ) -> Result<(), ClientError> {
        self.send_ok(Method::PUT, path, params, body)
            .await
            .map(|_| ())
    }
}

/// The h2c client of a plain `http://` base URL (`None` for https): HTTP/2 with prior
/// knowledge, the same connect settings as HTTP/1.1, and its one connection never expired from
/// the pool while idle — hyper counts idleness from the last request's start, so a connection
/// whose streams all sit parked for minutes would otherwise be dropped and a second one dialled.
fn h2c_client(
    base: &str,
    connect_timeout: Duration,
    tcp_keepalive: Option<Duration>,
    timeout: Option<Duration>,
    log: Option<fn(&str)>,
) -> Result<Option<h2c::H2c>, ClientError> {
    if !base.starts_with("http://") {
        return Ok(None);
    }
    let mut builder = reqwest::Client::builder()
        .http2_prior_knowledge()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(None)
        // A peer that died without closing would otherwise take every later request with it
        // until TCP gives up (HTTP/1.1 dials afresh; one h2 connection does not).
        .http2_keep_alive_interval(Duration::from_secs(30))
        .http2_keep_alive_timeout(Duration::from_secs(10))
        .http2_keep_alive_while_idle(true);
    if let Some(k) = tcp_keepalive {
        builder = builder.tcp_keepalive(k);
    }
    if let Some(t) = timeout {
        builder = builder.timeout(t);
    }
    let client = builder
        .build()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let probe = Url::parse(&format!("{base}/v1/status/leader"))
        .map_err(|e| ClientError::Address(base.to_string(), e.to_string()))?;
    Ok(Some(h2c::H2c::new(client, probe, log)))
}

pub(crate) fn params(q: &QueryOptions, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    q.params(&mut out);
    out
}

/// An answer's JSON with Go's rules (`null` as the zero value, unknown fields ignored).
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    crate::decode::decode_response(body).map_err(|e| ClientError::Decode(e.to_string()))
}

/// A JSON body as Go's client encodes it, sent as `application/json`.
pub(crate) fn to_body<T: serde::Serialize>(v: &T) -> Result<Body, ClientError> {
    Ok(Body {
        bytes: crate::json::to_go_json(v, false),
        content_type: "application/json",
    })
}

/// What a transport error names: the request as Go's client prints it.
struct Transport {
    method: String,
    url: Url,
    unix: Option<std::path::PathBuf>,
}

impl Transport {
    fn error(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Transport {
            method: self.method.clone(),
            url: self.url.to_string(),
            detail: transport_detail(e, &self.url, self.unix.as_deref()),
        }
    }
}

/// The longest line [`Lines`] holds before handing it over in pieces.
const MAX_LINE: usize = 1 << 20;

/// A streamed answer, line by line.
pub struct Lines {
    resp: reqwest::Response,
    transport: Transport,
    buf: Vec<u8>,
}

impl Lines {
    /// The next line without its newline; `None` when the server ended the answer.
    pub async fn next_line(&mut self) -> Result<Option<String>, ClientError> {
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                let text = String::from_utf8_lossy(&line[..i]);
                return Ok(Some(text.trim_end_matches('\r').to_string()));
            }
            if self.buf.len() >= MAX_LINE {
                // A line this long is handed over in pieces rather than held whole.
                let piece: Vec<u8> = self.buf.drain(..MAX_LINE).collect();
                return Ok(Some(String::from_utf8_lossy(&piece).into_owned()));
            }
            match self.resp.chunk().await {
                Ok(Some(chunk)) => self.buf.extend_from_slice(&chunk),
                Ok(None) if self.buf.is_empty() => return Ok(None),
                Ok(None) => {
                    let rest = std::mem::take(&mut self.buf);
                    return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
                }
                Err(e) => return Err(self.transport.error(&e)),
            }
        }
    }
}

pub(crate) fn status_error(a: &Answer) -> ClientError {
    ClientError::Status {
        code: a.status.as_u16(),
        body: String::from_utf8_lossy(&a.body).trim_end().to_string(),
    }
}

fn parse_meta(h: &reqwest::header::HeaderMap) -> QueryMeta {
    let get = |name: &str| {
        h.get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    QueryMeta {
        index: get(headers::INDEX)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        last_contact_ms: get(headers::LAST_CONTACT)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        known_leader: get(headers::KNOWN_LEADER).is_some_and(|v| v == "true"),
        results_filtered_by_acls: get(headers::RESULTS_FILTERED_BY_ACLS)
            .is_some_and(|v| v == "true"),
    }
}

fn go_method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "Get",
        Method::PUT => "Put",
        Method::POST => "Post",
        Method::DELETE => "Delete",
        _ => "Request",
    }
}

/// Percent-encodes what a URL path may not hold literally, keeping `/`.
pub(crate) fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Go's wording for a failed dial, else reqwest's message with its causes.
fn transport_detail(err: &reqwest::Error, url: &Url, unix: Option<&std::path::Path>) -> String {
    let host = url.host_str().unwrap_or_default();
    let hostport = format!("{host}:{}", url.port_or_known_default().unwrap_or(80));
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut chain = Vec::new();
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let what = match io.kind() {
                ConnectionRefused => Some("connection refused"),
                TimedOut => Some("i/o timeout"),
                NotFound if unix.is_some() => Some("no such file or directory"),
                PermissionDenied if unix.is_some() => Some("permission denied"),
                _ => None,
            };
            if let Some(what) = what {
                return match unix {
                    Some(sock) => format!("dial unix {}: connect: {what}", sock.display()),
                    None => format!("dial tcp {hostport}: connect: {what}"),
                };
            }
        }
        let text = e.to_string();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return format!("dial tcp: lookup {host}: no such host");
        }
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = e.source();
    }
    if err.is_timeout() {
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
            .to_string();
    }
    chain.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            base_url("127.0.0.1:8500", false).ok().as_deref(),
            Some("http://127.0.0.1:8500")
        );
        assert_eq!(
            base_url("consul:8501", true).ok().as_deref(),
            Some("https://consul:8501")
        );
        assert_eq!(
            base_url("https://x:1/", false).ok().as_deref(),
            Some("https://x:1")
        );
        assert!(base_url("unix:///tmp/s", false).is_err());
        assert!(base_url("", false).is_err());
        let c = Client::new("unix:///tmp/consul.sock").expect("unix client");
        assert_eq!(c.address(), "unix:///tmp/consul.sock");
        assert_eq!(
            c.url("/v1/status/leader", Vec::new())
                .expect("url")
                .as_str(),
            "http://localhost/v1/status/leader"
        );
    }

    #[test]
    fn query_params() {
        let q = QueryOptions {
            index: Some(5),
            wait: Some(Duration::from_secs(60)),
            stale: true,
            tag: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let c = Client::new("127.0.0.1:8500")
            .expect("client")
            .with_datacenter("dc2");
        let url = c
            .url("/v1/health/service/web", params(&q, &[("passing", "1")]))
            .expect("url");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8500/v1/health/service/web?passing=1&index=5&wait=60000ms&stale=&tag=a&tag=b&dc=dc2"
        );
        assert_eq!(escape_path("/v1/kv/a b?#%/c"), "/v1/kv/a%20b%3F%23%25/c");
    }

    /// Serves one HTTP exchange on a fresh unix socket: answers `body` with 200 and hands
    /// back the request's head and body.
    async fn one_unix_exchange(body: &'static str) -> (PathBuf, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("api-types-{}-{nanos}.sock", std::process::id()));
        let listener = tokio::net::UnixListener::bind(&path).expect("bind unix socket");
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.expect("accept");
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = s.read(&mut buf).await.expect("read");
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len || n == 0 {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            s.write_all(answer.as_bytes()).await.expect("write");
            String::from_utf8_lossy(&req).to_string()
        });
        (path, task)
    }

    #[tokio::test]
    async fn unix_sockets_carry_requests() {
        let (path, server) = one_unix_exchange(r#""10.0.0.1:8300""#).await;
        let c = Client::from_config(ClientConfig {
            address: Some(format!("unix://{}", path.display())),
            http_auth: Some(("u".into(), "p".into())),
            ..Default::default()
        })
        .expect("client");
        assert_eq!(c.status_leader().await.expect("leader"), "10.0.0.1:8300");
        let req = server.await.expect("server");
        assert!(
            req.starts_with("GET /v1/status/leader HTTP/1.1\r\n"),
            "{req}"
        );
        assert!(req.contains("authorization: Basic dTpw\r\n"), "{req}");
        let _ = std::fs::remove_file(&path);

        let (path, server) = one_unix_exchange("").await;
        let c = Client::new(&format!("unix://{}", path.display())).expect("client");
        let reg = crate::ServiceRegistration {
            name: "<web>".into(),
            ..Default::default()
        };
        c.service_register(&reg).await.expect("register");
        let req = server.await.expect("server");
        assert!(req.contains("content-type: application/json\r\n"), "{req}");
        assert!(req.contains(r#""Name":"\u003cweb\u003e""#), "{req}");
        let _ = std::fs::remove_file(&path);

        let gone = Client::new(&format!("unix://{}", path.display())).expect("client");
        assert_eq!(
            gone.status_leader().await.expect_err("no socket").to_string(),
            format!(
                "Get \"http://localhost/v1/status/leader\": dial unix {}: connect: no such file or directory",
                path.display()
            )
        );
    }

    #[tokio::test]
    async fn connection_refused_has_go_shape() {
        // Bind then drop a listener so the port is (very likely) closed.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("port");
        let c = Client::new(&format!("127.0.0.1:{port}")).expect("client");
        let err = c.agent_members(false).await.expect_err("refused");
        assert_eq!(
            err.to_string(),
            format!(
                "Get \"http://127.0.0.1:{port}/v1/agent/members?segment=_all\": \
                 dial tcp 127.0.0.1:{port}: connect: connection refused"
            )
        );
    }
}
