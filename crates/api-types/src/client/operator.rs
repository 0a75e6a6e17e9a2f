//! `/v1/status/*`, `/v1/snapshot` and `/v1/operator/*`: leadership, Raft membership and
//! whole-state snapshots.

use super::{decode, Body, Client, ClientError, QueryOptions};
use crate::headers::QueryMeta;
use reqwest::Method;

impl Client {
    /// `GET /v1/status/leader`: `ip:port` of the Raft leader, `""` when none.
    pub async fn status_leader(&self) -> Result<String, ClientError> {
        Ok(self
            .get_json("/v1/status/leader", &QueryOptions::default(), &[])
            .await?
            .0)
    }

    /// `GET /v1/status/peers`: the Raft voters' addresses.
    pub async fn status_peers(&self) -> Result<Vec<String>, ClientError> {
        Ok(self
            .get_json("/v1/status/peers", &QueryOptions::default(), &[])
            .await?
            .0)
    }

    /// `GET /v1/snapshot`: the archive bytes; the meta's index is the snapshot's index.
    pub async fn snapshot_save(
        &self,
        q: &QueryOptions,
    ) -> Result<(Vec<u8>, QueryMeta), ClientError> {
        let a = self
            .send_ok(Method::GET, "/v1/snapshot", super::params(q, &[]), None)
            .await?;
        Ok((a.body, a.meta))
    }

    /// `PUT /v1/snapshot` with the archive bytes.
    pub async fn snapshot_restore(&self, archive: Vec<u8>) -> Result<(), ClientError> {
        self.put_unit("/v1/snapshot", Vec::new(), Some(Body::raw(archive)))
            .await
    }

    /// `GET /v1/operator/raft/configuration` (`{"Servers":[…],"Index":N}`), untyped.
    pub async fn operator_raft_configuration(
        &self,
        q: &QueryOptions,
    ) -> Result<(serde_json::Value, QueryMeta), ClientError> {
        self.get_json("/v1/operator/raft/configuration", q, &[])
            .await
    }

    /// `GET /v1/operator/autopilot/health`, untyped. Consul answers 429 when unhealthy but
    /// still sends the body, so any status with a JSON body is accepted.
    pub async fn operator_autopilot_health(
        &self,
        q: &QueryOptions,
    ) -> Result<serde_json::Value, ClientError> {
        let a = self
            .send(
                Method::GET,
                "/v1/operator/autopilot/health",
                super::params(q, &[]),
                None,
            )
            .await?;
        if a.status.is_success() || a.status.as_u16() == 429 {
            return decode(&a.body);
        }
        Err(super::status_error(&a))
    }

    /// `DELETE /v1/operator/raft/peer?address=` or `?id=`.
    pub async fn operator_raft_remove_peer(
        &self,
        address: Option<&str>,
        id: Option<&str>,
    ) -> Result<(), ClientError> {
        let mut p = Vec::new();
        if let Some(a) = address {
            p.push(("address".to_string(), a.to_string()));
        }
        if let Some(i) = id {
            p.push(("id".to_string(), i.to_string()));
        }
        self.send_ok(Method::DELETE, "/v1/operator/raft/peer", p, None)
            .await
            .map(|_| ())
    }
}
