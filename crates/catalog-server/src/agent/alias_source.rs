//! What alias checks read (`health::CheckSink::node_health`): a node's checks and whether the
//! aliased service is registered there, by a blocking read — of the agent's own state for its
//! own node, of the catalog on a server, and of a server (`/v1/health/node`, stale, on the
//! server port) for another node on a client.

use super::Agent;
use crate::catalog::query::Answer;
use crate::health::alias::MAX_QUERY_TIME;
use crate::health::NodeHealth;

impl Agent {
    /// The checks of `node` (`None`: this agent's) once their index passes `min_index`.
    pub(super) async fn alias_node_health(
        &self,
        node: Option<String>,
        service_id: &str,
        min_index: u64,
    ) -> Result<NodeHealth, String> {
        let local = node.as_deref().is_none_or(|n| n == self.config.node_name);
        let name = node.unwrap_or_else(|| self.config.node_name.clone());
        if !local && !self.is_server() {
            return self.remote_node_health(&name, service_id, min_index).await;
        }
        let ans = crate::blocking::run(
            self.catalog(),
            Some(crate::blocking::Blocking {
                min_index,
                wait: MAX_QUERY_TIME,
            }),
            |s| {
                let mut checks = s.q_health_node(&name);
                if local {
                    // Consul reads its local state, which has no Serf health check.
                    checks.value.retain(|c| c.check_id != "serfHealth");
                }
                let services = s.q_catalog_node(&name);
                let exists = services
                    .value
                    .as_ref()
                    .is_some_and(|(_, svcs)| svcs.iter().any(|sv| sv.id == service_id));
                Answer {
                    index: checks.index.max(services.index),
                    value: (checks.value, exists),
                    watch: checks.watch,
                }
            },
        )
        .await;
        if self.catalog().is_closed() {
            return Err("agent is shutting down".into());
        }
        Ok(NodeHealth {
            index: ans.index,
            checks: ans.value.0,
            service_exists: ans.value.1,
        })
    }

    /// A client's read of another node's health from a server.
    async fn remote_node_health(
        &self,
        node: &str,
        service_id: &str,
        min_index: u64,
    ) -> Result<NodeHealth, String> {
        let node_path: String =
            form_urlencoded::byte_serialize(node.as_bytes()).collect::<String>();
        let wait = format!("{}s", MAX_QUERY_TIME.as_secs());
        let (index, body) = self
            .read_server(&format!(
                "/v1/health/node/{node_path}?stale&index={min_index}&wait={wait}"
            ))
            .await?;
        let checks: Vec<api_types::HealthCheck> =
            api_types::decode::decode_response(&body).map_err(|e| e.to_string())?;
        let (_, body) = self
            .read_server(&format!("/v1/catalog/node/{node_path}?stale"))
            .await?;
        let services: serde_json::Value =
            serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let service_exists = services["Services"]
            .as_object()
            .is_some_and(|m| m.values().any(|s| s["ID"] == service_id));
        Ok(NodeHealth {
            index,
            checks,
            service_exists,
        })
    }

    /// A GET on the first server that answers: its `X-Consul-Index` and body (2xx only).
    async fn read_server(&self, path: &str) -> Result<(u64, Vec<u8>), String> {
        let Some((_, upstream)) = self.client() else {
            return Err("not a client agent".into());
        };
        let mut last = super::upstream::NO_SERVERS.to_string();
        for server in upstream.servers(self.serf()).await {
            let mut req = upstream
                .http()
                .http()
                .get(upstream.http().url(&server, path))
                .timeout(MAX_QUERY_TIME + MAX_QUERY_TIME / 4);
            if let Some(t) = self.user_token_for_servers() {
                req = req.header("X-Consul-Token", t);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => {
                    upstream.worked(&server);
                    let index = r
                        .headers()
                        .get("X-Consul-Index")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let body = r.bytes().await.map_err(|e| e.to_string())?;
                    return Ok((index, body.to_vec()));
                }
                Ok(r) => {
                    upstream.worked(&server);
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    return Err(format!("{server}: {status}: {}", text.trim()));
                }
                Err(e) => {
                    upstream.failed(&server);
                    last = format!("{server}: {e}");
                }
            }
        }
        Err(last)
    }
}
