//! `/v1/agent/metrics` (JSON summary, or Prometheus text), `/v1/agent/metrics/stream`,
//! `/v1/agent/host`, and the `consul.api.http` timing of every `/v1/` request.

use super::acl::{authz, Token};
use super::params::Params;
use super::reply::{json, ApiError};
use super::AppState;
use crate::telemetry::{self, inmem};
use ::acl::{Access, Resource};
use axum::body::Bytes;
use axum::extract::{MatchedPath, RawQuery, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::{Instant, SystemTime};

type Res = Result<Response, ApiError>;

/// The Prometheus text exposition format `promhttp` answers with.
const PROMETHEUS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Consul's `consul.api.http` sample: per route pattern (`/v1/kv/` → `v1_kv_`) and method, in
/// milliseconds, until the handler has answered (a stream's body is not waited for).
pub async fn measure(req: Request, next: Next) -> Response {
    let Some(path) = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|m| path_label(m.as_str()))
    else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let r = next.run(req).await;
    metrics::histogram!("consul.api.http", "method" => method, "path" => path)
        .record(telemetry::ms_since(start));
    r
}

/// A route's label as Consul forms it from its mux pattern: the pattern up to the first
/// parameter, without the leading `/`, each `/` an `_`. Only `/v1/` routes are measured.
fn path_label(route: &str) -> Option<String> {
    if !route.starts_with("/v1/") {
        return None;
    }
    let pattern = route.split('{').next().unwrap_or(route);
    Some(pattern[1..].replace('/', "_"))
}

/// Whether the request asks for Prometheus' format: `?format=prometheus`, or an `Accept` of
/// OpenMetrics or the 0.4.0 text format (Consul's test, borrowed from Nomad).
fn wants_prometheus(p: &Params, headers: &HeaderMap) -> bool {
    if p.get("format") == Some("prometheus") {
        return true;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.split(',').any(|mime| {
        let mut parts = mime.split(';');
        let raw = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        raw == "application/openmetrics-text"
            || (raw == "text/plain" && parts.next().map(str::trim) == Some("version=0.4.0"))
    })
}

fn sinks() -> Result<&'static telemetry::Telemetry, ApiError> {
    telemetry::get().ok_or_else(|| ApiError::internal("no metric intervals available"))
}

pub async fn metrics(
    State(a): State<AppState>,
    t: Token,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Read)?;
    let sinks = sinks()?;
    if wants_prometheus(&p, &headers) {
        let Some(text) = sinks.prometheus_text() else {
            // Consul 1.21's handler returns a CodeWithPayloadError (415) without a body, and its
            // wrapper writes nothing for a nil body: the client sees 200, an empty body and the
            // reason in X-Consul-Reason (clients such as py-consul rely on the 200).
            return Ok((
                StatusCode::OK,
                [(
                    "X-Consul-Reason",
                    "Prometheus is not enabled since its retention time is not positive",
                )],
                "",
            )
                .into_response());
        };
        return Ok(([(header::CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)], text).into_response());
    }
    Ok(json(&sinks.summary(), p.pretty() || a.config().dev))
}

/// Each interval's summary once it has ended, indented as Consul's encoder writes it, one per
/// chunk, until the client goes away.
pub async fn stream(State(a): State<AppState>, t: Token) -> Res {
    authz(&a, &t)?.require(Resource::Agent, a.node(), Access::Read)?;
    let sinks = sinks()?;
    let first = inmem::interval_of(SystemTime::now());
    let summaries = futures::stream::unfold(first, move |interval| async move {
        // Wait for `interval` to end.
        let end = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs((interval + 1) * inmem::INTERVAL.as_secs());
        if let Ok(left) = end.duration_since(SystemTime::now()) {
            tokio::time::sleep(left).await;
        }
        let mut body = api_types::json::to_go_json_indent(&sinks.summary_of(interval), b"    ");
        body.push(b'\n');
        let next = inmem::interval_of(SystemTime::now()).max(interval + 1);
        Some((Ok::<_, std::convert::Infallible>(Bytes::from(body)), next))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(axum::body::Body::from_stream(summaries))
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The host's resources (operator:read, as Consul).
pub async fn host(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Operator, "", Access::Read)?;
    let info = tokio::task::spawn_blocking(telemetry::host::collect)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(json(&info, p.pretty() || a.config().dev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_are_consuls() {
        assert_eq!(path_label("/v1/kv/{*key}").as_deref(), Some("v1_kv_"));
        assert_eq!(path_label("/v1/kv/").as_deref(), Some("v1_kv_"));
        assert_eq!(path_label("/v1/query").as_deref(), Some("v1_query"));
        assert_eq!(
            path_label("/v1/agent/service/register").as_deref(),
            Some("v1_agent_service_register")
        );
        assert_eq!(
            path_label("/v1/acl/token/{id}/clone").as_deref(),
            Some("v1_acl_token_")
        );
        assert_eq!(path_label("/ui/{*path}"), None);
    }

    #[test]
    fn prometheus_is_asked_by_parameter_or_accept() {
        let none = HeaderMap::new();
        assert!(wants_prometheus(
            &Params::parse(Some("format=prometheus")),
            &none
        ));
        assert!(!wants_prometheus(
            &Params::parse(Some("format=json")),
            &none
        ));
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            "text/plain; version=0.4.0".parse().expect("header"),
        );
        assert!(wants_prometheus(&Params::parse(None), &h));
        h.insert(header::ACCEPT, "application/json".parse().expect("header"));
        assert!(!wants_prometheus(&Params::parse(None), &h));
    }
}
