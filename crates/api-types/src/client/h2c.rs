//! HTTP/2 with prior knowledge (h2c) to a Consul that speaks it. Our `consul` serves h2c on
//! its HTTP port beside HTTP/1.1; a Go Consul does not (it answers the h2 preface with an
//! HTTP/1.1 400 and closes). A probe — `GET /v1/status/leader` over h2c, no token — decides:
//! any HTTP answer, and every request goes over the h2 client: one connection, each request a
//! stream on it (1,000 parked blocking queries hold one socket instead of 1,000); a refusal,
//! and every request goes over HTTP/1.1 as before. A probe that could not connect decides
//! nothing (Consul not up yet): that request goes over HTTP/1.1 and the next one probes again.
//! A request over h2 that fails after connecting (a reset stream, a GOAWAY, a peer that no
//! longer speaks h2) sends the decision back to undecided, so the next request probes afresh.
//!
//! Only for plain `http://` addresses: never TLS (that would need ALPN) nor unix sockets. hyper
//! does the HTTP/2; the only thing decided here is which of two reqwest clients sends.

use reqwest::Url;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

const UNDECIDED: u8 = 0;
const HTTP2: u8 = 1;
const HTTP1: u8 = 2;

/// How long the probe waits for an answer once connected: an h2 server answers
/// `/v1/status/leader` at once; a peer that neither answers nor closes is not one.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// The h2c client and the decision whether to use it.
#[derive(Debug)]
pub(crate) struct H2c {
    client: reqwest::Client,
    probe: Url,
    state: AtomicU8,
    /// One probe at a time; the requests arriving meanwhile wait for its decision.
    probing: tokio::sync::Mutex<()>,
    /// Told each decision, in words (the caller's debug log).
    log: Option<fn(&str)>,
}

impl H2c {
    /// An undecided negotiation over `client`, a reqwest client built with
    /// `http2_prior_knowledge`, probing with `probe` (the agent's `/v1/status/leader`).
    pub(crate) fn new(client: reqwest::Client, probe: Url, log: Option<fn(&str)>) -> H2c {
        H2c {
            client,
            probe,
            state: AtomicU8::new(UNDECIDED),
            probing: tokio::sync::Mutex::new(()),
            log,
        }
    }

    fn say(&self, what: &str) {
        if let Some(log) = self.log {
            log(what);
        }
    }

    /// The h2 client when requests go over h2c, `None` for HTTP/1.1; probes when undecided.
    pub(crate) async fn client(&self) -> Option<&reqwest::Client> {
        match self.state.load(Ordering::Acquire) {
            HTTP2 => return Some(&self.client),
            HTTP1 => return None,
            _ => {}
        }
        let _one = self.probing.lock().await;
        match self.state.load(Ordering::Acquire) {
            HTTP2 => return Some(&self.client),
            HTTP1 => return None,
            _ => {}
        }
        let answer = self
            .client
            .get(self.probe.clone())
            .timeout(PROBE_TIMEOUT)
            .send()
            .await;
        match answer {
            Ok(resp) => {
                self.say(&format!(
                    "{} speaks HTTP/2 (h2c, answered {}): one connection for all requests",
                    origin(&self.probe),
                    resp.status().as_u16()
                ));
                self.state.store(HTTP2, Ordering::Release);
                Some(&self.client)
            }
            Err(e) if e.is_connect() => None,
            Err(e) => {
                self.say(&format!(
                    "{} does not speak HTTP/2 with prior knowledge ({}); using HTTP/1.1",
                    origin(&self.probe),
                    chain(&e)
                ));
                self.state.store(HTTP1, Ordering::Release);
                None
            }
        }
    }

    /// A request sent over the h2 client failed with `e`: after a connection was made, the
    /// next request probes again (the peer may no longer be one that speaks h2).
    pub(crate) fn failed(&self, e: &reqwest::Error) {
        if e.is_connect() || e.is_timeout() {
            return;
        }
        if self
            .state
            .compare_exchange(HTTP2, UNDECIDED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            self.say(&format!(
                "HTTP/2 request to {} failed ({}); probing again",
                origin(&self.probe),
                chain(e)
            ));
        }
    }
}

/// `http://host:port` of a URL.
fn origin(u: &Url) -> String {
    u.origin().ascii_serialization()
}

/// An error with its causes, `: `-separated.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
