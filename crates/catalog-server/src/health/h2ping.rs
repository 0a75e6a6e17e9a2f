//! H2PING checks (Consul's `CheckH2PING`): connect to `H2PING` (`host:port`) — over TLS with
//! ALPN `h2` unless `H2PingUseTLS` is false (then HTTP/2 with prior knowledge) — and send an
//! HTTP/2 PING frame; passing when its acknowledgement comes back within the timeout (10s by
//! default). Outputs are Consul's: `HTTP2 ping was successful`, `Failed to dial to <addr>:
//! <error>`, `Failed to create client connection <error>`, `HTTP2 ping failed: <error>`.

use super::net::{connect_tcp, timeout_of, DEFAULT_TIMEOUT};
use super::status::{HealthStatus, CRITICAL, PASSING};
use super::tls::CheckTls;
use api_types::CheckRegistration;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

pub(crate) struct H2PingProbe {
    addr: String,
    timeout: Duration,
    tls: Option<Result<CheckTls, String>>,
}

impl H2PingProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> H2PingProbe {
        let tls = spec.h2ping_use_tls.unwrap_or(true).then(|| {
            CheckTls::new(
                &spec.h2ping,
                &spec.tls_server_name,
                spec.tls_skip_verify,
                &[b"h2"],
            )
        });
        H2PingProbe {
            addr: spec.h2ping.clone(),
            timeout: timeout_of(spec, DEFAULT_TIMEOUT),
            tls,
        }
    }

    pub(crate) async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        let deadline = Instant::now() + self.timeout;
        match self.ping(deadline).await {
            Ok(()) => (PASSING, "HTTP2 ping was successful".to_string()),
            Err(e) => {
                tracing::debug!(target: "agent", "H2PING check failed: check={check_id} error={e}");
                (CRITICAL, e)
            }
        }
    }

    async fn ping(&self, deadline: Instant) -> Result<(), String> {
        let dial_err = |e: String| format!("Failed to dial to {}: {e}", self.addr);
        let tcp = connect_tcp(&self.addr, deadline).await.map_err(dial_err)?;
        match &self.tls {
            None => ping_over(tcp, deadline).await,
            Some(Err(e)) => Err(dial_err(e.clone())),
            Some(Ok(tls)) => {
                let stream = tokio::time::timeout_at(deadline, tls.handshake(tcp))
                    .await
                    .map_err(|_| dial_err("i/o timeout".into()))?
                    .map_err(dial_err)?;
                ping_over(stream, deadline).await
            }
        }
    }
}

/// An HTTP/2 connection over `io`, one PING on it, then the connection is closed.
async fn ping_over<T>(io: T, deadline: Instant) -> Result<(), String>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (send, mut conn) = match tokio::time::timeout_at(
        deadline,
        h2::client::Builder::new().handshake::<_, bytes::Bytes>(io),
    )
    .await
    {
        Err(_) => return Err("HTTP2 ping failed: context deadline exceeded".into()),
        Ok(Err(e)) => return Err(format!("Failed to create client connection {e}")),
        Ok(Ok(pair)) => pair,
    };
    let Some(mut pinger) = conn.ping_pong() else {
        return Err("Failed to create client connection ping already taken".into());
    };
    // The connection is driven until the ping is answered (or fails), then dropped.
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = tokio::time::timeout_at(deadline, pinger.ping(h2::Ping::opaque())).await;
    drop(send);
    driver.abort();
    match result {
        Err(_) => Err("HTTP2 ping failed: context deadline exceeded".into()),
        Ok(Err(e)) => Err(format!("HTTP2 ping failed: {e}")),
        Ok(Ok(_pong)) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::GoDuration;

    #[test]
    fn tls_is_the_default() {
        let spec = CheckRegistration {
            h2ping: "127.0.0.1:1".into(),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        };
        assert!(H2PingProbe::new(&spec).tls.is_some());
        let plain = CheckRegistration {
            h2ping_use_tls: Some(false),
            ..spec.clone()
        };
        assert!(H2PingProbe::new(&plain).tls.is_none());
        let spec: CheckRegistration = api_types::decode::decode_body(
            br#"{"h2ping":"127.0.0.1:1","h2ping_use_tls":false,"interval":"5s"}"#,
        )
        .expect("decode");
        assert_eq!(spec.h2ping_use_tls, Some(false));
        assert_eq!(spec.h2ping, "127.0.0.1:1");
    }

    #[tokio::test]
    async fn refused_connection_is_a_dial_failure() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        drop(l);
        let probe = H2PingProbe::new(&CheckRegistration {
            h2ping: addr.to_string(),
            h2ping_use_tls: Some(false),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        });
        assert_eq!(
            probe.run("h").await,
            (
                CRITICAL,
                format!("Failed to dial to {addr}: dial tcp {addr}: connect: connection refused")
            )
        );
    }
}
