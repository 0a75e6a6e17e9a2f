//! `/v1/coordinate/*`: the nodes' network coordinates from the catalog (blocking like the
//! catalog's reads), the servers' as the datacenter map, and `PUT /v1/coordinate/update`, which
//! every agent calls with its own.

use super::acl::{authz, filter, write_vetted, Token};
use super::params::Params;
use super::reply::{ok_empty, ApiError};
use super::{read, respond_filtered, AppState};
use crate::catalog::coordinate::Coord;
use crate::catalog::query::Answer;
use crate::catalog::{Command, WatchKey};
use ::acl::{Access, Resource};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

type Res = Result<Response, ApiError>;

/// Consul's `structs.Coordinate`.
#[derive(Debug, Clone, Serialize)]
pub struct NodeCoordinate {
    #[serde(rename = "Node")]
    node: String,
    #[serde(rename = "Segment")]
    segment: String,
    #[serde(rename = "Coord")]
    coord: Coord,
}

fn all(s: &crate::catalog::State) -> Vec<NodeCoordinate> {
    s.coordinates()
        .map(|e| NodeCoordinate {
            node: e.node.clone(),
            segment: String::new(),
            coord: e.coord.clone(),
        })
        .collect()
}

/// `?segment=` other than the default one matches nothing (there are no segments here).
fn segment_filter(p: &Params, list: &mut Vec<NodeCoordinate>) {
    if p.has("segment") && !p.get("segment").unwrap_or_default().is_empty() {
        list.clear();
    }
}

pub async fn nodes(State(a): State<AppState>, t: Token, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let ans = read(&a, &p, |s| Answer {
        value: all(s),
        index: s.coordinates_index().max(1),
        watch: vec![WatchKey::Coordinates],
    })
    .await?;
    let mut list = ans.value;
    segment_filter(&p, &mut list);
    let filtered = filter(&mut list, |c| {
        z.allows(Resource::Node, &c.node, Access::Read)
    });
    Ok(respond_filtered(&a, &p, ans.index, &list, filtered))
}

pub async fn node(
    State(a): State<AppState>,
    t: Token,
    Path(node): Path<String>,
    RawQuery(q): RawQuery,
) -> Res {
    let p = Params::parse(q.as_deref());
    let z = authz(&a, &t)?;
    let ans = read(&a, &p, |s| Answer {
        value: all(s),
        index: s.coordinates_index().max(1),
        watch: vec![WatchKey::Coordinates],
    })
    .await?;
    let mut list: Vec<NodeCoordinate> = ans
        .value
        .into_iter()
        .filter(|c| c.node.eq_ignore_ascii_case(&node))
        .collect();
    segment_filter(&p, &mut list);
    let filtered = filter(&mut list, |c| {
        z.allows(Resource::Node, &c.node, Access::Read)
    });
    if list.is_empty() {
        let mut r = StatusCode::NOT_FOUND.into_response();
        r.headers_mut().extend(super::meta(&a, &p, ans.index));
        return Ok(r);
    }
    Ok(respond_filtered(&a, &p, ans.index, &list, filtered))
}

/// `GET /v1/coordinate/datacenters`: this datacenter's servers in Consul's WAN area, named
/// without the WAN pool's `.<dc>` suffix as Consul answers (there is no other datacenter).
pub async fn datacenters(State(a): State<AppState>, RawQuery(q): RawQuery) -> Res {
    let p = Params::parse(q.as_deref());
    let servers: Vec<String> = a.servers().values().map(|n| n.name.clone()).collect();
    let dc = a.datacenter().to_string();
    let coords: Vec<NodeCoordinate> = a.catalog().read(|s| {
        servers
            .iter()
            .map(|name| NodeCoordinate {
                // Consul's `ListDatacenters` strips the WAN name's `.<dc>` suffix: the
                // node's own name.
                node: name.clone(),
                segment: String::new(),
                coord: s.coordinate(name).cloned().unwrap_or_default(),
            })
            .collect()
    });
    let map = serde_json::json!([{
        "Datacenter": dc,
        "AreaID": "wan",
        "Coordinates": coords,
    }]);
    Ok(super::reply::json(&map, p.pretty() || a.config().dev))
}

/// The body of `PUT /v1/coordinate/update`.
#[derive(Debug, Deserialize)]
struct Update {
    #[serde(rename = "Node", default)]
    node: String,
    #[serde(rename = "Coord")]
    coord: Option<Coord>,
}

pub async fn update(
    State(a): State<AppState>,
    t: Token,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Res {
    let p = Params::parse(q.as_deref());
    p.check_dc(a.datacenter())?;
    let u: Update = api_types::decode::decode_body(&body)
        .map_err(|e| ApiError::bad_request(format!("Request decode failed: {e}")))?;
    let Some(coord) = u.coord.filter(Coord::is_valid) else {
        return Err(ApiError::internal(
            "rpc error making call: invalid coordinate",
        ));
    };
    write_vetted(
        &a,
        &t,
        Command::UpdateCoordinates {
            updates: vec![(u.node, coord)],
        },
    )
    .await?;
    Ok(ok_empty())
}
