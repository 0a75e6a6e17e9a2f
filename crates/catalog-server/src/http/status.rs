//! `/v1/status/*`, the operator views of the Raft configuration, coordinates, and `/`.

use super::acl::{authz, Token};
use super::params::Params;
use super::reply::{json, ApiError};
use super::AppState;
use ::acl::{Access, Resource};
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

type Res = Result<Response, ApiError>;

pub async fn leader(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    Ok(json(
        &a.leader_addr().unwrap_or_default(),
        p.pretty() || a.config().dev,
    ))
}

fn voters(a: &AppState) -> Vec<(u64, String)> {
    a.servers()
        .into_iter()
        .map(|(id, n)| (id, n.addr))
        .collect()
}

pub async fn peers(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let v: Vec<String> = voters(&a).into_iter().map(|(_, addr)| addr).collect();
    Ok(json(&v, p.pretty() || a.config().dev))
}

/// (node name, node ID) of voter `id`, from the Raft membership.
fn server_name(a: &AppState, id: u64) -> (String, String) {
    match a.servers().get(&id) {
        Some(n) => (n.name.clone(), n.node_id.clone()),
        None => (format!("{id:016x}"), format!("{id:016x}")),
    }
}

pub async fn raft_configuration(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Operator, "", Access::Read)?;
    let m = a.raft_status();
    let servers: Vec<_> = voters(&a)
        .into_iter()
        .map(|(id, addr)| {
            let (node, uuid) = server_name(&a, id);
            json!({"ID": uuid, "Node": node, "Address": addr, "Leader": m.leader == Some(id),
                   "ProtocolVersion": "3", "Voter": true, "LastIndex": m.applied_index})
        })
        .collect();
    // Consul's `Index` is the Raft index of the configuration in force.
    Ok(json(
        &json!({"Servers": servers, "Index": m.membership_index}),
        p.pretty() || a.config().dev,
    ))
}

/// `GET /v1/operator/autopilot/health` (`operator:read`): each voter's health as autopilot
/// judges it (`agent/autopilot.rs`), 429 when any is unhealthy, as Consul answers.
pub async fn autopilot_health(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Operator, "", Access::Read)?;
    let st = a.autopilot_state().await;
    let servers: Vec<_> = st
        .servers
        .iter()
        .map(|s| {
            let contact = s
                .last_contact_ms
                .map(|ms| json!(api_types::format_go_duration(ms as i64 * 1_000_000)))
                .unwrap_or(serde_json::Value::Null);
            json!({"ID": s.node_id, "Name": s.name, "Address": s.address,
                   "SerfStatus": s.node_status, "Version": crate::version::VERSION,
                   "Leader": s.leader, "LastContact": contact, "LastTerm": s.last_term,
                   "LastIndex": s.last_index, "Healthy": s.healthy, "Voter": true,
                   "StableSince": super::operator::go_time(s.stable_since_ms)})
        })
        .collect();
    let mut r = json(
        &json!({"Healthy": st.healthy, "FailureTolerance": st.failure_tolerance, "Servers": servers}),
        p.pretty() || a.config().dev,
    );
    if !st.healthy {
        *r.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
    }
    Ok(r)
}

pub async fn root(State(a): State<AppState>) -> Response {
    let _ = a;
    "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart."
        .into_response()
}

/// `DELETE /v1/operator/raft/peer?address=IP:port` or `?id=<node id>`.
pub async fn remove_peer(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Operator, "", Access::Write)?;
    let servers = a.servers();
    let found = match (p.get("address"), p.get("id")) {
        (Some(addr), _) if !addr.is_empty() => servers.iter().find(|(_, n)| n.addr == addr),
        (_, Some(id)) if !id.is_empty() => servers.iter().find(|(_, n)| n.node_id == id),
        _ => {
            return Err(ApiError::bad_request(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
            ))
        }
    };
    let Some((rid, _)) = found else {
        let what = p.get("address").or(p.get("id")).unwrap_or_default();
        return Err(ApiError::internal(format!(
            "id {what:?} was not found in the Raft configuration"
        )));
    };
    a.remove_server(*rid).await?;
    Ok(super::reply::ok_empty())
}

/// `GET /v1/operator/usage` (`operator:read`): this datacenter's service and node counts in
/// Consul's shape (the `Usage` map by datacenter, then the query meta), blocking like a catalog
/// read; `?global` asks every datacenter, which is this one.
pub async fn usage(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Operator, "", Access::Read)?;
    let ans = super::read(&a, &p, |s| s.q_usage()).await?;
    let mut usage = serde_json::Map::new();
    usage.insert(a.config().datacenter.clone(), json!(ans.value));
    let body = json!({
        "Usage": usage,
        "Index": ans.index,
        "LastContact": 0,
        "KnownLeader": true,
        "ConsistencyLevel": "",
        "NotModified": false,
        "Backend": 0,
        "ResultsFilteredByACLs": false,
    });
    Ok(super::respond(&a, &p, ans.index, &body))
}
