//! The only module that knows axum: the whole HTTP API in one route table, thin handlers, and
//! the listeners (client API on `-client`:`-http-port`, Raft RPC on `-bind`:`-server-port`).

mod acl;
mod acl_auth;
mod agent;
mod catalog;
mod coordinate;
mod event;
mod filter;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod gopath;
mod kv;
mod listen;
mod mesh;
mod metrics;
mod operator;
pub use listen::{in_flight, Closing};
pub mod params;
pub mod query;
mod raft_rpc;
pub mod reply;
mod session;
mod snapshot;
mod status;
mod tls;
mod txn;
mod ui;

use crate::agent::Agent;
use crate::blocking::shared::{Encoded, Question};
use crate::catalog::query::Answer;
use crate::catalog::State;
use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put, MethodRouter};
use axum::Router;
use params::Params;
use reply::ApiError;
use serde::Serialize;
use std::sync::Arc;
use tokio::net::TcpListener;

pub type AppState = Arc<Agent>;

/// Restricts a route to `allowed` methods; others get Consul's 405 with an `Allow` header.
fn only(allowed: &'static str, mr: MethodRouter<AppState>) -> MethodRouter<AppState> {
    mr.fallback(move |m: Method| async move {
        if m == Method::OPTIONS {
            return (
                StatusCode::OK,
                [(header::ALLOW, format!("OPTIONS,{allowed}"))],
                String::new(),
            )
                .into_response();
        }
        (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, format!("OPTIONS,{allowed}"))],
            format!("method {m} not allowed"),
        )
            .into_response()
    })
}

/// The client API: on a server, all of it; on a client, `/v1/agent/*` answered here and
/// the rest forwarded to a server.
pub fn router(agent: AppState) -> Router {
    let api = if agent.is_server() {
        agent_routes()
            .merge(
                cluster_routes().route_layer(axum::middleware::from_fn_with_state(
                    agent.clone(),
                    other_datacenter,
                )),
            )
            .fallback(unknown_path)
    } else {
        // A client checks its own endpoints' tokens through the servers; what it forwards,
        // the server checks.
        agent_routes()
            .route_layer(axum::middleware::from_fn_with_state(
                agent.clone(),
                acl::resolve_first,
            ))
            .fallback(forward::forward)
    };
    let ui = ui::routes(&agent.config().ui_content_path);
    let ui = if agent.is_server() {
        ui
    } else {
        ui.route_layer(axum::middleware::from_fn_with_state(
            agent.clone(),
            acl::resolve_first,
        ))
    };
    api.route("/", get(ui::root))
        .merge(ui)
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .layer(axum::middleware::from_fn(metrics::measure))
        .with_state(agent)
}

/// The server port's share of the API: what clients forward, and their anti-entropy.
fn server_port_api(agent: AppState) -> Router {
    cluster_routes()
        .route_layer(axum::middleware::from_fn_with_state(
            agent.clone(),
            other_datacenter,
        ))
        .route(
            crate::agent::anti_entropy_path(),
            only("PUT", put(forward::agent_sync)),
        )
        .route(
            crate::agent::acl_resolve_path(),
            only("GET", get(forward::acl_resolve)),
        )
        .fallback(unknown_path)
        .layer(DefaultBodyLimit::max(BODY_MAX))
        .with_state(agent)
}

/// Consul forwards a request whose `?dc=` names another datacenter there; with this one
/// datacenter that is "No path to datacenter" (500) on every endpoint but the agent's own.
async fn other_datacenter(
    axum::extract::State(a): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Err(e) = Params::parse(req.uri().query()).check_dc(a.datacenter()) {
        return e.into_response();
    }
    next.run(req).await
}

/// `/v1/agent/*`: this agent's own state, answered by whichever agent is asked.
fn agent_routes() -> Router<AppState> {
    Router::new()
        // agent
        .route("/v1/agent/self", only("GET", get(agent::self_doc)))
        .route("/v1/agent/members", only("GET", get(agent::members)))
        .route("/v1/agent/services", only("GET", get(agent::services)))
        .route("/v1/agent/service/{*id}", only("GET", get(agent::service)))
        .route("/v1/agent/checks", only("GET", get(agent::checks)))
        .route(
            "/v1/agent/service/register",
            only("PUT", put(agent::service_register)),
        )
        .route(
            "/v1/agent/service/deregister/{*id}",
            only("PUT", put(agent::service_deregister)),
        )
        .route(
            "/v1/agent/service/maintenance/{*id}",
            only("PUT", put(agent::service_maintenance)),
        )
        .route(
            "/v1/agent/maintenance",
            only("PUT", put(agent::node_maintenance)),
        )
        .route(
            "/v1/agent/check/register",
            only("PUT", put(agent::check_register)),
        )
        .route(
            "/v1/agent/check/deregister/{*id}",
            only("PUT", put(agent::check_deregister)),
        )
        .route(
            "/v1/agent/check/pass/{*id}",
            only("PUT", put(agent::check_pass)),
        )
        .route(
            "/v1/agent/check/warn/{*id}",
            only("PUT", put(agent::check_warn)),
        )
        .route(
            "/v1/agent/check/fail/{*id}",
            only("PUT", put(agent::check_fail)),
        )
        .route(
            "/v1/agent/check/update/{*id}",
            only("PUT", put(agent::check_update)),
        )
        .route("/v1/agent/join/{*addr}", only("PUT", put(agent::join)))
        .route("/v1/agent/leave", only("PUT", put(agent::leave)))
        .route(
            "/v1/agent/force-leave/{*node}",
            only("PUT", put(agent::force_leave)),
        )
        .route("/v1/agent/reload", only("PUT", put(agent::reload)))
        .route("/v1/agent/monitor", only("GET", get(agent::monitor)))
        .route("/v1/agent/version", only("GET", get(agent::version)))
        .route("/v1/agent/metrics", only("GET", get(metrics::metrics)))
        .route(
            "/v1/agent/metrics/stream",
            only("GET", get(metrics::stream)),
        )
        .route("/v1/agent/host", only("GET", get(metrics::host)))
        .route(
            "/v1/agent/health/service/id/{*id}",
            only("GET", get(agent::health_service_id)),
        )
        .route(
            "/v1/agent/health/service/id/",
            only("GET", get(agent::missing_service_id)),
        )
        .route(
            "/v1/agent/health/service/name/{*name}",
            only("GET", get(agent::health_service_name)),
        )
        .route(
            "/v1/agent/health/service/name/",
            only("GET", get(agent::missing_service_name)),
        )
        .route("/v1/agent/token/{kind}", only("PUT", put(acl::agent_token)))
        // user events: each agent fires into the pool and keeps its own list
        .route("/v1/event/fire/{*name}", only("PUT", put(event::fire)))
        .route("/v1/event/fire/", only("PUT", put(event::missing_name)))
        .route("/v1/event/list", only("GET", get(event::list)))
}

/// What servers answer from the replicated catalog (a client forwards it).
fn cluster_routes() -> Router<AppState> {
    Router::new()
        // acl
        .route("/v1/acl/bootstrap", only("PUT", put(acl::bootstrap)))
        .route("/v1/acl/tokens", only("GET", get(acl::token_list)))
        .route("/v1/acl/token", only("PUT", put(acl::token_create)))
        .route("/v1/acl/token/self", only("GET", get(acl::token_self)))
        .route(
            "/v1/acl/token/{id}",
            only(
                "GET,PUT,DELETE",
                get(acl::token_read)
                    .put(acl::token_update)
                    .delete(acl::token_delete),
            ),
        )
        .route(
            "/v1/acl/token/{id}/clone",
            only("PUT", put(acl::token_clone)),
        )
        .route("/v1/acl/policies", only("GET", get(acl::policy_list)))
        .route("/v1/acl/policy", only("PUT", put(acl::policy_create)))
        .route(
            "/v1/acl/policy/{id}",
            only(
                "GET,PUT,DELETE",
                get(acl::policy_read)
                    .put(acl::policy_update)
                    .delete(acl::policy_delete),
            ),
        )
        .route(
            "/v1/acl/policy/name/{name}",
            only("GET", get(acl::policy_read_name)),
        )
        .route("/v1/acl/roles", only("GET", get(acl::role_list)))
        .route("/v1/acl/role", only("PUT", put(acl::role_create)))
        .route(
            "/v1/acl/role/{id}",
            only(
                "GET,PUT,DELETE",
                get(acl::role_read)
                    .put(acl::role_update)
                    .delete(acl::role_delete),
            ),
        )
        .route(
            "/v1/acl/role/name/{name}",
            only("GET", get(acl::role_read_name)),
        )
        .route(
            "/v1/acl/templated-policies",
            only("GET", get(acl::templated_list)),
        )
        .route(
            "/v1/acl/templated-policy/name/{*name}",
            only("GET", get(acl::templated_read)),
        )
        .route(
            "/v1/acl/templated-policy/preview/{*name}",
            only("POST", axum::routing::post(acl::templated_preview)),
        )
        .route(
            "/v1/acl/auth-methods",
            only("GET", get(acl_auth::auth_method_list)),
        )
        .route(
            "/v1/acl/auth-method",
            only("PUT", put(acl_auth::auth_method_create)),
        )
        .route(
            "/v1/acl/auth-method/",
            axum::routing::any(acl_auth::auth_method_unnamed),
        )
        .route(
            "/v1/acl/auth-method/{*name}",
            only(
                "GET,PUT,DELETE",
                get(acl_auth::auth_method_read)
                    .put(acl_auth::auth_method_update)
                    .delete(acl_auth::auth_method_delete),
            ),
        )
        .route(
            "/v1/acl/binding-rules",
            only("GET", get(acl_auth::binding_rule_list)),
        )
        .route(
            "/v1/acl/binding-rule",
            only("PUT", put(acl_auth::binding_rule_create)),
        )
        .route(
            "/v1/acl/binding-rule/",
            axum::routing::any(acl_auth::binding_rule_unnamed),
        )
        .route(
            "/v1/acl/binding-rule/{*id}",
            only(
                "GET,PUT,DELETE",
                get(acl_auth::binding_rule_read)
                    .put(acl_auth::binding_rule_update)
                    .delete(acl_auth::binding_rule_delete),
            ),
        )
        .route(
            "/v1/acl/login",
            only("POST", axum::routing::post(acl_auth::login)),
        )
        .route(
            "/v1/acl/logout",
            only("POST", axum::routing::post(acl_auth::logout)),
        )
        // catalog
        .route("/v1/catalog/register", only("PUT", put(catalog::register)))
        .route(
            "/v1/catalog/deregister",
            only("PUT", put(catalog::deregister)),
        )
        .route(
            "/v1/catalog/datacenters",
            only("GET", get(catalog::datacenters)),
        )
        .route("/v1/catalog/nodes", only("GET", get(catalog::nodes)))
        .route("/v1/catalog/services", only("GET", get(catalog::services)))
        .route(
            "/v1/catalog/service/{*name}",
            only("GET", get(catalog::service)),
        )
        .route(
            "/v1/catalog/service/",
            only("GET", get(catalog::missing_service)),
        )
        .route("/v1/catalog/node/{*node}", only("GET", get(catalog::node)))
        .route(
            "/v1/catalog/node-services/{*node}",
            only("GET", get(catalog::node_services)),
        )
        // health
        .route(
            "/v1/health/node/{*node}",
            only("GET", get(catalog::health_node)),
        )
        .route("/v1/health/node/", only("GET", get(catalog::missing_node)))
        .route(
            "/v1/health/checks/{*service}",
            only("GET", get(catalog::health_checks)),
        )
        .route(
            "/v1/health/service/{*service}",
            only("GET", get(catalog::health_service)),
        )
        .route(
            "/v1/health/service/",
            only("GET", get(catalog::missing_service)),
        )
        .route(
            "/v1/catalog/connect/{*name}",
            only("GET", get(mesh::catalog_connect)),
        )
        .route(
            "/v1/health/connect/{*name}",
            only("GET", get(mesh::health_connect)),
        )
        .route(
            "/v1/health/ingress/{*name}",
            only("GET", get(mesh::health_connect)),
        )
        .route(
            "/v1/health/state/{*state}",
            only("GET", get(catalog::health_state)),
        )
        .route(
            "/v1/health/state/",
            only("GET", get(catalog::missing_state)),
        )
        // kv
        .route(
            "/v1/kv/{*key}",
            only(
                "GET,PUT,DELETE",
                get(kv::get).put(kv::put).delete(kv::delete),
            ),
        )
        .route(
            "/v1/kv/",
            only(
                "GET,PUT,DELETE",
                get(kv::get_root).put(kv::put_root).delete(kv::delete_root),
            ),
        )
        .route("/v1/txn", only("PUT", put(txn::txn)))
        // sessions
        .route("/v1/session/create", only("PUT", put(session::create)))
        .route(
            "/v1/session/destroy/{*id}",
            only("PUT", put(session::destroy)),
        )
        .route("/v1/session/renew/{*id}", only("PUT", put(session::renew)))
        .route("/v1/session/info/{*id}", only("GET", get(session::info)))
        .route("/v1/session/node/{*node}", only("GET", get(session::node)))
        .route("/v1/session/list", only("GET", get(session::list)))
        // status and operator
        .route(
            "/v1/snapshot",
            only("GET,PUT", get(snapshot::save).put(snapshot::restore))
                .layer(DefaultBodyLimit::max(SNAPSHOT_MAX)),
        )
        .route("/v1/status/leader", only("GET", get(status::leader)))
        .route("/v1/status/peers", only("GET", get(status::peers)))
        .route(
            "/v1/operator/raft/peer",
            only("DELETE", axum::routing::delete(status::remove_peer)),
        )
        .route(
            "/v1/operator/raft/configuration",
            only("GET", get(status::raft_configuration)),
        )
        .route(
            "/v1/operator/raft/transfer-leader",
            only("POST", axum::routing::post(operator::transfer_leader)),
        )
        .route(
            "/v1/operator/autopilot/health",
            only("GET", get(status::autopilot_health)),
        )
        .route(
            "/v1/operator/autopilot/state",
            only("GET", get(operator::autopilot_state)),
        )
        .route(
            "/v1/operator/autopilot/configuration",
            only(
                "GET,PUT",
                get(operator::autopilot_get).put(operator::autopilot_put),
            ),
        )
        .route(
            "/v1/operator/keyring",
            only(
                "GET,POST,PUT,DELETE",
                get(operator::keyring)
                    .post(operator::keyring)
                    .put(operator::keyring)
                    .delete(operator::keyring),
            ),
        )
        .route("/v1/operator/usage", only("GET", get(status::usage)))
        // prepared queries
        .route(
            "/v1/query",
            only("GET,POST", get(query::list).post(query::create)),
        )
        .route(
            "/v1/query/{*rest}",
            get(query::get_specific)
                .put(query::update)
                .delete(query::delete)
                .fallback(query::fallback),
        )
        .route("/v1/coordinate/nodes", only("GET", get(coordinate::nodes)))
        .route(
            "/v1/coordinate/node/{*node}",
            only("GET", get(coordinate::node)),
        )
        .route(
            "/v1/coordinate/datacenters",
            only("GET", get(coordinate::datacenters)),
        )
        .route(
            "/v1/coordinate/update",
            only("PUT", put(coordinate::update)),
        )
}

async fn unknown_path(uri: Uri) -> ApiError {
    if uri.path().starts_with("/v1/") {
        ApiError::not_found("Invalid URL path: not a recognized HTTP API endpoint")
    } else {
        ApiError::not_found("Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'")
    }
}

/// Runs a read with the request's blocking and consistency options.
pub async fn read<T>(
    a: &Agent,
    p: &Params,
    q: impl Fn(&State) -> Answer<T>,
) -> Result<Answer<T>, ApiError> {
    p.check_enterprise()?;
    p.check_dc(&a.config().datacenter)?;
    let consistency = p.consistency()?;
    let blocking = p.blocking(a.config().default_query_time, a.config().max_query_time)?;
    a.read_barrier(consistency).await?;
    Ok(crate::blocking::run(a.catalog(), blocking, q).await)
}

/// A read whose answer is encoded once and shared by every request asking the same question of
/// the same state (`blocking::shared`): `finish` turns the read's answer into what is sent and
/// says whether ACLs filtered it. With ACLs on, the answer depends on the token, and each
/// request builds its own.
pub async fn read_encoded<T, U: Serialize>(
    a: &Agent,
    p: &Params,
    question: Question,
    q: impl Fn(&State) -> Answer<T>,
    finish: impl Fn(Answer<T>) -> Result<(U, bool), ApiError>,
) -> Result<Arc<Encoded>, ApiError> {
    p.check_enterprise()?;
    p.check_dc(&a.config().datacenter)?;
    let consistency = p.consistency()?;
    let blocking = p.blocking(a.config().default_query_time, a.config().max_query_time)?;
    a.read_barrier(consistency).await?;
    let pretty = p.pretty() || a.config().dev;
    let question = (!a.acl_enabled()).then_some(question);
    crate::blocking::run_encoded(a.catalog(), blocking, question.as_ref(), q, |ans| {
        let (index, watch) = (ans.index, ans.watch.clone());
        let (value, filtered) = finish(ans)?;
        let body = api_types::json::to_go_json(&value, pretty);
        Ok(Encoded::new(index, watch, filtered, body))
    })
    .await
}

/// An encoded answer with its query-meta headers, gzip-compressed when the client accepts it
/// (as Consul's handlers are wrapped in a gzip handler).
pub async fn respond_encoded(
    a: &Agent,
    p: &Params,
    request: &axum::http::HeaderMap,
    answer: &Encoded,
) -> Response {
    let gzip = request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(crate::blocking::shared::accepts_gzip);
    let mut r = if gzip {
        (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CONTENT_ENCODING, "gzip"),
            ],
            answer.gzip().await,
        )
            .into_response()
    } else {
        ([(header::CONTENT_TYPE, "application/json")], answer.body()).into_response()
    };
    r.headers_mut().insert(
        header::VARY,
        axum::http::HeaderValue::from_static("Accept-Encoding"),
    );
    r.headers_mut().extend(meta(a, p, answer.index()));
    reply::mark_filtered(&mut r, answer.filtered());
    r
}

/// A list read's JSON answer with its query-meta headers, marked when ACLs filtered it.
pub fn respond_filtered<T: Serialize + ?Sized>(
    a: &Agent,
    p: &Params,
    index: u64,
    value: &T,
    filtered: bool,
) -> Response {
    let mut r = respond(a, p, index, value);
    reply::mark_filtered(&mut r, filtered);
    r
}

/// A read's JSON answer with its query-meta headers.
pub fn respond<T: Serialize + ?Sized>(a: &Agent, p: &Params, index: u64, value: &T) -> Response {
    let mut r = reply::json(value, p.pretty() || a.config().dev);
    r.headers_mut().extend(meta(a, p, index));
    r
}

pub fn meta(a: &Agent, p: &Params, index: u64) -> axum::http::HeaderMap {
    reply::meta_headers(
        index,
        a.leader_addr().is_some(),
        a.last_contact_ms().unwrap_or(0),
        p.consistency_mode().word(),
        match a.acl_policy() {
            Some(c) if c.default_policy == ::acl::DefaultPolicy::Deny => "deny",
            _ => "allow",
        },
    )
}

/// Client API request bodies, except `/v1/snapshot`.
const BODY_MAX: usize = 4 * 1024 * 1024;
/// `PUT /v1/snapshot` archives.
const SNAPSHOT_MAX: usize = 256 * 1024 * 1024;

/// The client API's checks before routing: Go's path rules, then declared body lengths over
/// the route's limit (KV and txn with Consul's texts).
fn client_gate(c: &crate::config::Config) -> listen::Gate {
    let kv_max = c.kv_max_value_size as u64;
    let txn_max = c.txn_max_req_len as u64;
    std::sync::Arc::new(move |req| {
        if let Some(r) = gopath::check(req) {
            return Some(r);
        }
        let len = gopath::content_length(req)?;
        let path = req.uri().path();
        if req.method() == Method::PUT && path.starts_with("/v1/kv/") && len > kv_max {
            return Some(gopath::too_large(format!(
                "Request body({len} bytes) too large, max size: {kv_max} bytes. See https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
            )));
        }
        if path == "/v1/txn" && len > txn_max {
            return Some(gopath::too_large("Request body too large".to_string()));
        }
        let max = if path == "/v1/snapshot" {
            SNAPSHOT_MAX
        } else {
            BODY_MAX
        };
        (len > max as u64).then(|| gopath::too_large("http: request body too large".to_string()))
    })
}

/// Serves `listeners` until aborted, on hyper directly (see `listen`): per-client connection
/// caps, handshake and idle timeouts, Go's path rules. The router is built once and shared:
/// each request clones an `Arc` (handing `axum::serve` a bare `Router` rebuilt the route table
/// for every connection; with 10k parked queries that was most of the server's CPU).
/// Once `closing` is set, stops accepting, and ends when the open exchanges have.
pub fn serve(
    agent: AppState,
    listeners: crate::listeners::Listeners,
    closing: listen::Closing,
) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    listen::raise_nofile_limit();
    let (http, https, server) = listeners.into_parts();
    let acceptor = match (&agent.config().https_tls, https.is_empty()) {
        (_, true) => None,
        (Some(t), false) => Some(tls::acceptor(t)?),
        (None, false) => anyhow::bail!("HTTPS listeners without a TLS configuration"),
    };
    let rpc_transport = match &agent.config().rpc_tls.listener {
        None => listen::Transport::Plain,
        Some(t) if t.verify_incoming => listen::Transport::Tls(tls::acceptor(t)?),
        Some(t) => listen::Transport::TlsOrPlain(tls::acceptor(t)?),
    };
    let tokio_listener = |l: std::net::TcpListener| -> anyhow::Result<TcpListener> {
        l.set_nonblocking(true)?;
        Ok(TcpListener::from_std(l)?)
    };
    let http: Vec<TcpListener> = http
        .into_iter()
        .map(tokio_listener)
        .collect::<Result<_, _>>()?;
    let https: Vec<TcpListener> = https
        .into_iter()
        .map(tokio_listener)
        .collect::<Result<_, _>>()?;
    let server = server.map(tokio_listener).transpose()?;
    for l in &http {
        if let Ok(sa) = l.local_addr() {
            tracing::info!(target: "agent", "Started HTTP server: address={sa} network=tcp");
        }
    }
    for l in &https {
        if let Ok(sa) = l.local_addr() {
            tracing::info!(target: "agent", "Started HTTPS server: address={sa} network=tcp");
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    let c = agent.config();
    let app = router(agent.clone());
    let gate = client_gate(c);
    let limits = listen::ConnLimits {
        max_per_client: c.http_max_conns_per_client,
        handshake_timeout: c.http_handshake_timeout,
        idle_timeout: listen::IDLE_TIMEOUT,
    };
    for l in http {
        tasks.spawn(listen::run(
            l,
            app.clone(),
            gate.clone(),
            limits,
            "http",
            listen::Transport::PlainOrH2c,
            closing.clone(),
        ));
    }
    for l in https {
        tasks.spawn(listen::run(
            l,
            app.clone(),
            gate.clone(),
            limits,
            "https",
            match acceptor.clone() {
                Some(a) => listen::Transport::Tls(a),
                None => listen::Transport::Plain,
            },
            closing.clone(),
        ));
    }
    if let (Some(l), Some(raft)) = (server, agent.server()) {
        let limits = listen::ConnLimits {
            // Peers' HTTP clients open a connection per concurrent call (forwarded writes
            // included), so the server port has no per-client cap.
            max_per_client: 0,
            handshake_timeout: c.rpc_handshake_timeout,
            idle_timeout: listen::IDLE_TIMEOUT,
        };
        let app = raft_rpc::router(raft.clone()).merge(server_port_api(agent.clone()));
        let client_gate = client_gate(c);
        let raft_gate = raft_rpc::gate();
        let gate: listen::Gate = std::sync::Arc::new(move |req| {
            if req.uri().path().starts_with("/v1/raft/") {
                raft_gate(req)
            } else {
                client_gate(req)
            }
        });
        tasks.spawn(listen::run(
            l,
            app,
            gate,
            limits,
            "rpc",
            rpc_transport,
            closing,
        ));
    }
    Ok(async move { while tasks.join_next().await.is_some() {} })
}
