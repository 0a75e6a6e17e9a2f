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

    /// `GET /v1/operator/autopilot/configuration`, untyped (`api.AutopilotConfiguration`).
    pub async fn operator_autopilot_get_configuration(
        &self,
        q: &QueryOptions,
    ) -> Result<serde_json::Value, ClientError> {
        Ok(self
            .get_json("/v1/operator/autopilot/configuration", q, &[])
            .await?
            .0)
    }

    /// `PUT /v1/operator/autopilot/configuration[?cas=]`: whether it was stored (always
    /// `true` without `cas`).
    pub async fn operator_autopilot_set_configuration(
        &self,
        config: &serde_json::Value,
        cas: Option<u64>,
    ) -> Result<bool, ClientError> {
        let p = cas
            .map(|c| vec![("cas".to_string(), c.to_string())])
            .unwrap_or_default();
        let a = self
            .send_ok(
                Method::PUT,
                "/v1/operator/autopilot/configuration",
                p,
                Some(super::to_body(config)?),
            )
            .await?;
        decode(&a.body)
    }

    /// `GET /v1/operator/autopilot/state`, untyped (`api.AutopilotState`).
    pub async fn operator_autopilot_state(
        &self,
        q: &QueryOptions,
    ) -> Result<serde_json::Value, ClientError> {
        Ok(self
            .get_json("/v1/operator/autopilot/state", q, &[])
            .await?
            .0)
    }

    /// `POST /v1/operator/raft/transfer-leader[?id=]`: `{"Success":bool}`, untyped.
    pub async fn operator_raft_transfer_leader(
        &self,
        id: Option<&str>,
    ) -> Result<serde_json::Value, ClientError> {
        let p = id
            .map(|i| vec![("id".to_string(), i.to_string())])
            .unwrap_or_default();
        let a = self
            .send_ok(Method::POST, "/v1/operator/raft/transfer-leader", p, None)
            .await?;
        decode(&a.body)
    }

    /// `GET /v1/operator/keyring[?local-only=true][&relay-factor=N]`: the keyring responses,
    /// untyped.
    pub async fn operator_keyring_list(
        &self,
        local_only: bool,
        relay_factor: u8,
    ) -> Result<serde_json::Value, ClientError> {
        let mut p = Vec::new();
        if local_only {
            p.push(("local-only".to_string(), "true".to_string()));
        }
        if relay_factor > 0 {
            p.push(("relay-factor".to_string(), relay_factor.to_string()));
        }
        let a = self
            .send_ok(Method::GET, "/v1/operator/keyring", p, None)
            .await?;
        decode(&a.body)
    }

    async fn keyring_op(
        &self,
        method: Method,
        key: &str,
        relay_factor: u8,
    ) -> Result<(), ClientError> {
        let p = if relay_factor > 0 {
            vec![("relay-factor".to_string(), relay_factor.to_string())]
        } else {
            Vec::new()
        };
        let body = super::to_body(&serde_json::json!({ "Key": key }))?;
        self.send_ok(method, "/v1/operator/keyring", p, Some(body))
            .await
            .map(|_| ())
    }

    /// `POST /v1/operator/keyring`: installs a gossip key.
    pub async fn operator_keyring_install(
        &self,
        key: &str,
        relay_factor: u8,
    ) -> Result<(), ClientError> {
        self.keyring_op(Method::POST, key, relay_factor).await
    }

    /// `PUT /v1/operator/keyring`: makes an installed key the primary.
    pub async fn operator_keyring_use(
        &self,
        key: &str,
        relay_factor: u8,
    ) -> Result<(), ClientError> {
        self.keyring_op(Method::PUT, key, relay_factor).await
    }

    /// `DELETE /v1/operator/keyring`: removes a key that is not the primary.
    pub async fn operator_keyring_remove(
        &self,
        key: &str,
        relay_factor: u8,
    ) -> Result<(), ClientError> {
        self.keyring_op(Method::DELETE, key, relay_factor).await
    }
}
