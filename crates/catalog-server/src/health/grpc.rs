//! gRPC checks (Consul's `CheckGRPC`): `GRPC` is `host:port[/service]`; the probe calls
//! `grpc.health.v1.Health/Check` for the service (empty: the whole server) and passes on
//! `SERVING`. Everything else is critical, in grpc-go's words: `gRPC <target> serving status:
//! NOT_SERVING`, `rpc error: code = Unavailable desc = connection error: desc = "transport:
//! Error while dialing: dial tcp …"`, `rpc error: code = DeadlineExceeded desc = context
//! deadline exceeded`. `GRPCUseTLS` dials TLS (ALPN `h2`) with `TLSSkipVerify` and
//! `TLSServerName`. The default timeout is 10s.

use super::net::{connect_tcp, timeout_of, DEFAULT_TIMEOUT};
use super::status::{HealthStatus, CRITICAL, PASSING};
use super::tls::CheckTls;
use api_types::CheckRegistration;
use hyper_util::rt::TokioIo;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;

/// A probe's target, split as Consul splits it: the server, then the service after the first `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) server: String,
    pub(crate) service: String,
}

impl Target {
    pub(crate) fn parse(target: &str) -> Target {
        match target.split_once('/') {
            Some((server, service)) => Target {
                server: server.to_string(),
                service: service.to_string(),
            },
            None => Target {
                server: target.to_string(),
                service: String::new(),
            },
        }
    }
}

pub(crate) struct GrpcProbe {
    target: String,
    parsed: Target,
    timeout: Duration,
    tls: Option<Result<CheckTls, String>>,
}

/// What a connection to the server is: plain TCP or TLS over it.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

impl GrpcProbe {
    pub(crate) fn new(spec: &CheckRegistration) -> GrpcProbe {
        let parsed = Target::parse(&spec.grpc);
        let tls = spec.grpc_use_tls.then(|| {
            CheckTls::new(
                &parsed.server,
                &spec.tls_server_name,
                spec.tls_skip_verify,
                &[b"h2"],
            )
        });
        GrpcProbe {
            target: spec.grpc.clone(),
            parsed,
            timeout: timeout_of(spec, DEFAULT_TIMEOUT),
            tls,
        }
    }

    pub(crate) async fn run(&self, check_id: &str) -> (HealthStatus, String) {
        let deadline = Instant::now() + self.timeout;
        let result = match tokio::time::timeout_at(deadline, self.check(deadline)).await {
            Ok(r) => r,
            Err(_) => Err(rpc_error("DeadlineExceeded", "context deadline exceeded")),
        };
        match result {
            Ok(()) => (PASSING, format!("gRPC check {}: success", self.target)),
            Err(e) => {
                tracing::debug!(target: "agent", "gRPC check failed: check={check_id} error={e}");
                (CRITICAL, e)
            }
        }
    }

    async fn check(&self, deadline: Instant) -> Result<(), String> {
        let unavailable = |why: String| {
            rpc_error(
                "Unavailable",
                &format!("connection error: desc = {:?}", format!("transport: {why}")),
            )
        };
        let tcp = connect_tcp(&self.parsed.server, deadline)
            .await
            .map_err(|e| unavailable(format!("Error while dialing: {e}")))?;
        let io: Box<dyn Io> = match &self.tls {
            None => Box::new(tcp),
            Some(Err(e)) => return Err(unavailable(format!("Error while dialing: {e}"))),
            Some(Ok(tls)) => Box::new(
                tls.handshake(tcp)
                    .await
                    .map_err(|e| unavailable(format!("authentication handshake failed: {e}")))?,
            ),
        };
        // The connection is made here (with Go's error texts); tonic speaks HTTP/2 over it.
        let conn = Arc::new(Mutex::new(Some(io)));
        let connector = tower::service_fn(move |_: http::Uri| {
            let taken = conn.lock().unwrap_or_else(|e| e.into_inner()).take();
            async move {
                taken
                    .map(TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("connection closed"))
            }
        });
        let endpoint =
            tonic::transport::Endpoint::from_shared(format!("http://{}", self.parsed.server))
                .map_err(|e| unavailable(format!("Error while dialing: {e}")))?;
        let channel = endpoint
            .connect_with_connector(connector)
            .await
            .map_err(|e| unavailable(format!("Error while dialing: {}", chain(&e))))?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: self.parsed.service.clone(),
            })
            .await
            .map_err(|s| rpc_error(go_code(s.code()), s.message()))?;
        let status = response.into_inner().status;
        if status == ServingStatus::Serving as i32 {
            return Ok(());
        }
        let name = ServingStatus::try_from(status)
            .map(|s| s.as_str_name().to_string())
            .unwrap_or_else(|_| status.to_string());
        Err(format!("gRPC {} serving status: {name}", self.target))
    }
}

/// grpc-go's `status.Error` text.
fn rpc_error(code: &str, desc: &str) -> String {
    format!("rpc error: code = {code} desc = {desc}")
}

/// An error with its sources, `: `-joined as Go wraps errors.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// grpc-go's name of a status code (`codes.Code.String()`).
fn go_code(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "Canceled",
        Unknown => "Unknown",
        InvalidArgument => "InvalidArgument",
        DeadlineExceeded => "DeadlineExceeded",
        NotFound => "NotFound",
        AlreadyExists => "AlreadyExists",
        PermissionDenied => "PermissionDenied",
        ResourceExhausted => "ResourceExhausted",
        FailedPrecondition => "FailedPrecondition",
        Aborted => "Aborted",
        OutOfRange => "OutOfRange",
        Unimplemented => "Unimplemented",
        Internal => "Internal",
        Unavailable => "Unavailable",
        DataLoss => "DataLoss",
        Unauthenticated => "Unauthenticated",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api_types::GoDuration;

    #[test]
    fn target_splits_at_the_first_slash() {
        assert_eq!(
            Target::parse("127.0.0.1:5000"),
            Target {
                server: "127.0.0.1:5000".into(),
                service: String::new()
            }
        );
        assert_eq!(
            Target::parse("localhost:5000/pkg.Svc/extra"),
            Target {
                server: "localhost:5000".into(),
                service: "pkg.Svc/extra".into()
            }
        );
    }

    #[test]
    fn go_words() {
        assert_eq!(go_code(tonic::Code::Cancelled), "Canceled");
        assert_eq!(go_code(tonic::Code::Ok), "OK");
        assert_eq!(
            rpc_error("NotFound", "unknown service"),
            "rpc error: code = NotFound desc = unknown service"
        );
    }

    #[tokio::test]
    async fn refused_connection_is_critical_in_grpc_go_words() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = l.local_addr().expect("addr");
        drop(l);
        let probe = GrpcProbe::new(&CheckRegistration {
            grpc: format!("{addr}/svc"),
            interval: GoDuration::from_secs(10),
            ..Default::default()
        });
        let (status, out) = probe.run("g").await;
        assert_eq!(status, CRITICAL);
        assert_eq!(
            out,
            format!(
                "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp {addr}: connect: connection refused\""
            )
        );
    }
}
