//! A client agent's DNS answers: the client holds only its own node, so for each question it
//! reads what the answer needs from a server (through its server port, as its other reads go:
//! `/v1/health/service/:name` for services and the domain's NS, `/v1/catalog/node/:node` for
//! nodes, `/v1/catalog/nodes` for reverse lookups, `/v1/query/:q/execute` for prepared
//! queries), fills a catalog of its own with it, and
//! answers from that with the same code a server answers from its catalog. Nothing is cached:
//! each answer is as fresh as the server's state. Every read carries the agent's DNS token
//! (`acl.tokens.dns`, else `acl.tokens.default`, else the anonymous token), as Consul's DNS
//! reads do: what the servers' ACLs let that token read is what is answered.

use super::names::Asked;
use crate::agent::Agent;
use crate::blocking::Catalog;
use crate::catalog::{CheckRecord, Command, HealthStatus, NodeRecord, ServiceRecord, State};
use api_types::{Node, NodeServices, ServiceEntry};

/// What a question needs read from a server.
pub enum Needs<'a> {
    Service(&'a str),
    Node(&'a str),
    AllNodes,
    Nothing,
}

impl<'a> Needs<'a> {
    /// What `asked` needs; SOA and NS questions need the servers (the `consul` service).
    pub fn of(asked: &'a Asked, soa_or_ns: bool) -> Needs<'a> {
        match asked {
            _ if soa_or_ns => Needs::Service("consul"),
            Asked::Service { service, .. } => Needs::Service(service),
            Asked::Node { node } => Needs::Node(node),
            _ => Needs::Nothing,
        }
    }
}

/// A catalog holding what `needs` reads from a server (`None` when no server answered).
pub async fn fetch(agent: &Agent, needs: Needs<'_>) -> Option<Catalog> {
    let escape = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let mut state = State::default();
    let mut index = 0u64;
    let mut apply = |cmd: Command| {
        index += 1;
        let req = crate::catalog::Request { now_ms: 0, cmd };
        let _ = state.apply(index, &req);
    };
    match needs {
        Needs::Nothing => {}
        Needs::Service(name) => {
            let path = format!("/v1/health/service/{}?stale", escape(name));
            let body = get(agent, &path).await?;
            let entries: Vec<ServiceEntry> = serde_json::from_slice(&body).ok()?;
            for e in entries {
                apply(register_node(&e.node));
                apply(Command::RegisterService {
                    node: e.node.node.clone(),
                    service: ServiceRecord {
                        kind: e.service.kind.clone(),
                        id: e.service.id.clone(),
                        name: e.service.service.clone(),
                        tags: e.service.tags.clone(),
                        address: e.service.address.clone(),
                        tagged_addresses: e.service.tagged_addresses.clone(),
                        meta: e.service.meta.clone().unwrap_or_default(),
                        port: e.service.port,
                        weights: e.service.weights,
                        enable_tag_override: e.service.enable_tag_override,
                        ..Default::default()
                    },
                    checks: vec![],
                    replace_existing_checks: false,
                });
                for c in e.checks {
                    apply(Command::RegisterCheck {
                        check: CheckRecord {
                            node: c.node.clone(),
                            check_id: c.check_id.clone(),
                            name: c.name.clone(),
                            status: HealthStatus::parse(&c.status)
                                .unwrap_or(HealthStatus::Critical),
                            service_id: c.service_id.clone(),
                            service_name: c.service_name.clone(),
                            ..Default::default()
                        },
                    });
                }
            }
        }
        Needs::Node(name) => {
            let body = get(agent, &format!("/v1/catalog/node/{}?stale", escape(name))).await?;
            if let Ok(Some(n)) = serde_json::from_slice::<Option<NodeServices>>(&body) {
                apply(register_node(&n.node));
            }
        }
        Needs::AllNodes => {
            let body = get(agent, "/v1/catalog/nodes?stale").await?;
            for n in serde_json::from_slice::<Vec<Node>>(&body).ok()? {
                apply(register_node(&n));
            }
        }
    }
    Some(Catalog::new(state))
}

/// The prepared query `query` run on a server (`/v1/query/:q/execute`): `None` when there is
/// no such query, `Err` when no server could run it.
pub async fn fetch_query(agent: &Agent, query: &str) -> Result<Option<super::answer::Ran>, ()> {
    let escaped: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let path = format!("/v1/query/{escaped}/execute?stale");
    let token = agent.dns_token_for_servers();
    match agent
        .ask_servers(reqwest::Method::GET, &path, None, token.as_deref())
        .await
    {
        Ok((_, 200, body)) => serde_json::from_slice(&body).map(Some).map_err(|e| {
            tracing::warn!(target: "agent.dns", "a prepared query's answer did not decode: {e}");
        }),
        Ok((_, 404, _)) => Ok(None),
        Ok((server, status, body)) => {
            tracing::warn!(target: "agent.dns", "prepared query {query:?} on {server}: {status}: {}", String::from_utf8_lossy(&body).trim());
            Err(())
        }
        Err(e) => {
            tracing::warn!(target: "agent.dns", "reading from a server failed: {e}");
            Err(())
        }
    }
}

fn register_node(n: &Node) -> Command {
    Command::RegisterNode {
        node: NodeRecord {
            id: n.id.clone(),
            node: n.node.clone(),
            address: n.address.clone(),
            datacenter: n.datacenter.clone(),
            tagged_addresses: n.tagged_addresses.clone(),
            meta: n.meta.clone(),
            create_index: 0,
            modify_index: 0,
        },
        skip_node_update: false,
    }
}

async fn get(agent: &Agent, path: &str) -> Option<Vec<u8>> {
    let token = agent.dns_token_for_servers();
    match agent
        .call_servers(reqwest::Method::GET, path, None, token.as_deref())
        .await
    {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(target: "agent.dns", "reading from a server failed: {e}");
            None
        }
    }
}
