//! `/v1/operator/autopilot/configuration|state`, `/v1/operator/raft/transfer-leader` and
//! `/v1/operator/keyring`: Consul's shapes over what the agent knows.

use super::acl::{authz, Token};
use super::params::Params;
use super::reply::{json, ApiError};
use super::AppState;
use crate::catalog::autopilot::{AutopilotConfig, AutopilotWrite};
use crate::catalog::{Command, Reply};
use ::acl::{Access, Resource};
use api_types::GoDuration;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::{Deserialize, Serialize};

type Res = Result<Response, ApiError>;

/// `api.AutopilotConfiguration` on the wire.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AutopilotWire {
    cleanup_dead_servers: bool,
    last_contact_threshold: GoDuration,
    max_trailing_logs: u64,
    min_quorum: u64,
    server_stabilization_time: GoDuration,
    redundancy_zone_tag: String,
    disable_upgrade_migration: bool,
    upgrade_version_tag: String,
    create_index: u64,
    modify_index: u64,
}

impl From<AutopilotConfig> for AutopilotWire {
    fn from(c: AutopilotConfig) -> Self {
        AutopilotWire {
            cleanup_dead_servers: c.cleanup_dead_servers,
            last_contact_threshold: GoDuration(c.last_contact_threshold_ns),
            max_trailing_logs: c.max_trailing_logs,
            min_quorum: c.min_quorum,
            server_stabilization_time: GoDuration(c.server_stabilization_time_ns),
            redundancy_zone_tag: c.redundancy_zone_tag,
            disable_upgrade_migration: c.disable_upgrade_migration,
            upgrade_version_tag: c.upgrade_version_tag,
            create_index: c.create_index,
            modify_index: c.modify_index,
        }
    }
}

/// `GET /v1/operator/autopilot/configuration` (`operator:read`; `?stale` answers locally).
pub async fn autopilot_get(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_dc(&a.config().datacenter)?;
    let consistency = p.consistency()?;
    authz(&a, &t)?.require(Resource::Operator, "", Access::Read)?;
    a.read_barrier(consistency).await?;
    let wire = AutopilotWire::from(a.autopilot_config());
    Ok(json(&wire, p.pretty() || a.config().dev))
}

/// Consul's default `ServerStabilizationTime`, taken with 0.
const STABILIZATION_DEFAULT_NS: i64 = 10_000_000_000;
/// Why another `ServerStabilizationTime` is refused: it times the promotion of a new
/// non-voter, and servers here join as voters at once.
const STABILIZATION_REFUSAL: &str = "ServerStabilizationTime other than 0s or 10s is not implemented by this agent: servers join the Raft configuration as voters at once, so there is no non-voter to promote after it";

/// `PUT /v1/operator/autopilot/configuration[?cas=index]` (`operator:write`): `true`, or with
/// `?cas` whether the stored configuration still had that `ModifyIndex`. The Enterprise
/// settings (redundancy zones, upgrade migrations) are refused when set.
pub async fn autopilot_put(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_dc(&a.config().datacenter)?;
    let w: AutopilotWire = api_types::decode::decode_body(&body)
        .map_err(|e| ApiError::bad_request(format!("Error parsing autopilot config: {e}")))?;
    for (set, name) in [
        (!w.redundancy_zone_tag.is_empty(), "RedundancyZoneTag"),
        (w.disable_upgrade_migration, "DisableUpgradeMigration"),
        (!w.upgrade_version_tag.is_empty(), "UpgradeVersionTag"),
    ] {
        if set {
            return Err(ApiError::bad_request(format!(
                "{name} is a Consul Enterprise feature (redundancy zones, upgrade migrations) and is not implemented by this agent"
            )));
        }
    }
    // 0 (also what a body without the field decodes to) is what happens here: no wait.
    if ![0, STABILIZATION_DEFAULT_NS].contains(&w.server_stabilization_time.0) {
        return Err(ApiError::bad_request(STABILIZATION_REFUSAL));
    }
    let how = match p.get("cas") {
        Some(v) => AutopilotWrite::Cas(v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "Error parsing cas value: strconv.ParseUint: parsing {v:?}: invalid syntax"
            ))
        })?),
        None => AutopilotWrite::Set,
    };
    let config = AutopilotConfig {
        cleanup_dead_servers: w.cleanup_dead_servers,
        last_contact_threshold_ns: w.last_contact_threshold.0,
        max_trailing_logs: w.max_trailing_logs,
        min_quorum: w.min_quorum,
        server_stabilization_time_ns: w.server_stabilization_time.0,
        ..AutopilotConfig::default()
    };
    authz(&a, &t)?.require(Resource::Operator, "", Access::Write)?;
    let reply = a.write(Command::AutopilotSet { config, how }).await?;
    let stored = matches!(reply, Reply::Bool(true));
    let answer = match how {
        AutopilotWrite::Cas(_) => stored,
        _ => true,
    };
    Ok(json(&answer, p.pretty() || a.config().dev))
}

/// `POST /v1/operator/raft/transfer-leader[?id=<node ID>]` (`operator:write`):
/// `{"Success":true}` once another server leads; refusals in hashicorp/raft's words as Consul's
/// gRPC layer passes them on.
pub async fn transfer_leader(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    authz(&a, &t)?.require(Resource::Operator, "", Access::Write)?;
    let id = p.get("id").filter(|i| !i.is_empty());
    a.transfer_leader(id)
        .await
        .map_err(|e| ApiError::internal(format!("rpc error: code = Unknown desc = {e}")))?;
    Ok(json(
        &serde_json::json!({"Success": true}),
        p.pretty() || a.config().dev,
    ))
}

/// Go's `time.Time` JSON form (RFC 3339, UTC, whole seconds as Consul rounds them).
pub(super) fn go_time(ms: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp((ms / 1000) as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `GET /v1/operator/autopilot/state` (`operator:read`): Consul CE's `api.AutopilotState`.
/// A server that did not answer has `LastContact` null (unknown) and is unhealthy.
pub async fn autopilot_state(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_dc(&a.config().datacenter)?;
    let consistency = p.consistency()?;
    authz(&a, &t)?.require(Resource::Operator, "", Access::Read)?;
    a.read_barrier(consistency).await?;
    let st = a.autopilot_state().await;
    let mut servers = serde_json::Map::new();
    for s in &st.servers {
        let contact = s
            .last_contact_ms
            .map(|ms| serde_json::Value::from(api_types::format_go_duration(ms as i64 * 1_000_000)))
            .unwrap_or(serde_json::Value::Null);
        servers.insert(
            s.node_id.clone(),
            serde_json::json!({
                "ID": s.node_id,
                "Name": s.name,
                "Address": s.address,
                "NodeStatus": s.node_status,
                "Version": crate::version::VERSION,
                "LastContact": contact,
                "LastTerm": s.last_term,
                "LastIndex": s.last_index,
                "Healthy": s.healthy,
                "StableSince": go_time(s.stable_since_ms),
                "Status": if s.leader { "leader" } else { "voter" },
                "Meta": s.meta,
                "NodeType": "voter",
            }),
        );
    }
    let body = serde_json::json!({
        "Healthy": st.healthy,
        "FailureTolerance": st.failure_tolerance,
        "OptimisticFailureTolerance": st.failure_tolerance,
        "Servers": servers,
        "Leader": st.leader,
        "Voters": st.voters,
    });
    Ok(json(&body, p.pretty() || a.config().dev))
}

/// A keyring request's body (`{"Key": "..."}`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct KeyringBody {
    key: String,
}

/// `GET|POST|PUT|DELETE /v1/operator/keyring` (list, install, use, remove). Without `encrypt`
/// every operation fails as Consul's does on a pool without encryption (each member answers
/// `Keyring is empty (encryption not enabled)`). With it, `GET ?local-only=true` lists this
/// agent's own keys; the pool-wide operations are refused, naming what is missing: this
/// agent's gossip cannot carry a key change to every member (Serf's internal key queries).
pub async fn keyring(
    State(a): State<AppState>,
    t: Token,
    method: axum::http::Method,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    let is_list = method == axum::http::Method::GET;
    if !is_list && !body.iter().all(u8::is_ascii_whitespace) {
        let _: KeyringBody = api_types::decode::decode_body(&body).map_err(ApiError::decode)?;
    }
    if let Some(r) = p.get("relay-factor").filter(|r| !r.is_empty()) {
        let n: i64 = r.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "Error parsing relay factor: strconv.Atoi: parsing {r:?}: invalid syntax"
            ))
        })?;
        if !(0..=5).contains(&n) {
            return Err(ApiError::bad_request(
                "Invalid relay-factor: Relay factor must be in range: [0, 5]",
            ));
        }
    }
    let mut local_only = false;
    if let Some(l) = p.get("local-only").filter(|l| !l.is_empty()) {
        local_only = api_types::parse_bool(l).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Error parsing local-only: strconv.ParseBool: parsing {l:?}: invalid syntax"
            ))
        })?;
        if local_only && !is_list {
            return Err(ApiError::bad_request(
                "Invalid use of local-only: local-only can only be set for list requests",
            ));
        }
    }
    let access = if is_list { Access::Read } else { Access::Write };
    authz(&a, &t)?.require(Resource::Keyring, "", access)?;
    let keys: Option<Vec<String>> = a
        .serf()
        .keys()
        .map(|ks| ks.iter().map(|k| k.to_base64()).collect());
    let Some(keys) = keys else {
        // Consul's multierror over each member's answer.
        let mut names: Vec<String> = a
            .members()
            .await
            .into_iter()
            .filter(|m| m.status == 1)
            .map(|m| m.name)
            .collect();
        names.sort();
        let mut errors = vec![format!(
            "{} (LAN) error: {n}/{n} nodes reported failure",
            a.config().datacenter,
            n = names.len()
        )];
        errors.extend(
            names
                .iter()
                .map(|n| format!("{n}: Keyring is empty (encryption not enabled)")),
        );
        let text = if errors.len() == 1 {
            format!("1 error occurred:\n\t* {}\n\n", errors[0])
        } else {
            format!(
                "{} errors occurred:\n\t{}\n\n",
                errors.len(),
                errors
                    .iter()
                    .map(|e| format!("* {e}"))
                    .collect::<Vec<_>>()
                    .join("\n\t")
            )
        };
        return Err(ApiError::internal(text));
    };
    if is_list && local_only {
        let count = |ks: &[String]| -> serde_json::Map<String, serde_json::Value> {
            ks.iter().map(|k| (k.clone(), 1.into())).collect()
        };
        let body = serde_json::json!([{
            "WAN": false,
            "Datacenter": a.config().datacenter,
            "Segment": "",
            "Messages": {},
            "Keys": count(&keys),
            "PrimaryKeys": count(&keys[..1.min(keys.len())]),
            "NumNodes": 1,
        }]);
        return Ok(json(&body, p.pretty() || a.config().dev));
    }
    Err(ApiError::internal(
        "keyring operations across the gossip pool (list, install, use, remove) are not implemented by this agent: its gossip cannot carry a key change to every member (Serf's internal key queries are missing); GET /v1/operator/keyring?local-only=true lists this agent's keys, and the key is changed by setting `encrypt` on every agent",
    ))
}
