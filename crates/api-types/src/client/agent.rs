//! `/v1/agent/*`: the local agent's members, services and checks, and its cluster operations.

use super::{params, to_body, Client, ClientError, QueryOptions};
use crate::headers::QueryMeta;
use crate::{
    AgentService, CheckRegistration, CheckUpdate, HealthCheck, Member, ServiceRegistration,
};
use reqwest::Method;
use std::collections::BTreeMap;

fn none() -> Vec<(String, String)> {
    Vec::new()
}

impl Client {
    /// `GET /v1/agent/self` (configuration, member, `Stats`), kept untyped.
    pub async fn agent_self(&self) -> Result<(serde_json::Value, QueryMeta), ClientError> {
        self.get_json("/v1/agent/self", &QueryOptions::default(), &[])
            .await
    }

    /// `GET /v1/agent/members?segment=_all`, or the WAN pool (`?wan=1`).
    pub async fn agent_members(&self, wan: bool) -> Result<(Vec<Member>, QueryMeta), ClientError> {
        self.agent_members_with(wan, &QueryOptions::default()).await
    }

    /// [`agent_members`](Self::agent_members) with query options (`q.filter` for `?filter=`).
    pub async fn agent_members_with(
        &self,
        wan: bool,
        q: &QueryOptions,
    ) -> Result<(Vec<Member>, QueryMeta), ClientError> {
        let extra: &[(&str, &str)] = if wan {
            &[("wan", "1")]
        } else {
            &[("segment", "_all")]
        };
        self.get_json("/v1/agent/members", q, extra).await
    }

    /// `GET /v1/agent/services`: the services registered with this agent, by ID.
    pub async fn agent_services(
        &self,
        q: &QueryOptions,
    ) -> Result<(BTreeMap<String, AgentService>, QueryMeta), ClientError> {
        self.get_json("/v1/agent/services", q, &[]).await
    }

    /// `GET /v1/agent/checks`: the checks registered with this agent, by ID.
    pub async fn agent_checks(
        &self,
        q: &QueryOptions,
    ) -> Result<(BTreeMap<String, HealthCheck>, QueryMeta), ClientError> {
        self.get_json("/v1/agent/checks", q, &[]).await
    }

    /// `PUT /v1/agent/service/register`.
    pub async fn service_register(&self, reg: &ServiceRegistration) -> Result<(), ClientError> {
        self.put_unit("/v1/agent/service/register", none(), Some(to_body(reg)?))
            .await
    }

    /// `PUT /v1/agent/service/deregister/:id`.
    pub async fn service_deregister(&self, id: &str) -> Result<(), ClientError> {
        self.put_unit(&format!("/v1/agent/service/deregister/{id}"), none(), None)
            .await
    }

    /// `PUT /v1/agent/check/register`.
    pub async fn check_register(&self, reg: &CheckRegistration) -> Result<(), ClientError> {
        self.put_unit("/v1/agent/check/register", none(), Some(to_body(reg)?))
            .await
    }

    /// `PUT /v1/agent/check/deregister/:id`.
    pub async fn check_deregister(&self, id: &str) -> Result<(), ClientError> {
        self.put_unit(&format!("/v1/agent/check/deregister/{id}"), none(), None)
            .await
    }

    async fn check_ttl(&self, verb: &str, id: &str, note: &str) -> Result<(), ClientError> {
        let p = if note.is_empty() {
            none()
        } else {
            vec![("note".into(), note.into())]
        };
        self.put_unit(&format!("/v1/agent/check/{verb}/{id}"), p, None)
            .await
    }

    /// `PUT /v1/agent/check/pass/:id?note=`.
    pub async fn check_pass(&self, id: &str, note: &str) -> Result<(), ClientError> {
        self.check_ttl("pass", id, note).await
    }

    /// `PUT /v1/agent/check/warn/:id?note=`.
    pub async fn check_warn(&self, id: &str, note: &str) -> Result<(), ClientError> {
        self.check_ttl("warn", id, note).await
    }

    /// `PUT /v1/agent/check/fail/:id?note=`.
    pub async fn check_fail(&self, id: &str, note: &str) -> Result<(), ClientError> {
        self.check_ttl("fail", id, note).await
    }

    /// `PUT /v1/agent/check/update/:id` with `{"Status","Output"}`.
    pub async fn check_update(
        &self,
        id: &str,
        status: &str,
        output: &str,
    ) -> Result<(), ClientError> {
        let body = CheckUpdate {
            status: status.to_string(),
            output: output.to_string(),
        };
        self.put_unit(
            &format!("/v1/agent/check/update/{id}"),
            none(),
            Some(to_body(&body)?),
        )
        .await
    }

    /// `PUT /v1/agent/join/:address` (`?wan=1` for the WAN pool).
    pub async fn agent_join(&self, addr: &str, wan: bool) -> Result<(), ClientError> {
        let p = if wan {
            vec![("wan".into(), "1".into())]
        } else {
            none()
        };
        self.put_unit(&format!("/v1/agent/join/{addr}"), p, None)
            .await
    }

    /// `PUT /v1/agent/leave`: graceful leave, then the agent shuts down.
    pub async fn agent_leave(&self) -> Result<(), ClientError> {
        self.put_unit("/v1/agent/leave", none(), None).await
    }

    /// `PUT /v1/agent/force-leave/:node` (`?prune`, `?wan=1`).
    pub async fn agent_force_leave(
        &self,
        node: &str,
        prune: bool,
        wan: bool,
    ) -> Result<(), ClientError> {
        let mut p = none();
        if prune {
            p.push(("prune".into(), "1".into()));
        }
        if wan {
            p.push(("wan".into(), "1".into()));
        }
        self.put_unit(&format!("/v1/agent/force-leave/{node}"), p, None)
            .await
    }

    /// `PUT /v1/agent/reload`.
    pub async fn agent_reload(&self) -> Result<(), ClientError> {
        self.put_unit("/v1/agent/reload", none(), None).await
    }

    /// `PUT /v1/agent/service/maintenance/:id?enable=&reason=`.
    pub async fn service_maintenance(
        &self,
        id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), ClientError> {
        let mut p = vec![("enable".to_string(), enable.to_string())];
        if !reason.is_empty() {
            p.push(("reason".into(), reason.into()));
        }
        self.put_unit(&format!("/v1/agent/service/maintenance/{id}"), p, None)
            .await
    }

    /// `PUT /v1/agent/maintenance?enable=&reason=`: the node's maintenance mode.
    pub async fn node_maintenance(&self, enable: bool, reason: &str) -> Result<(), ClientError> {
        let mut p = vec![("enable".to_string(), enable.to_string())];
        if !reason.is_empty() {
            p.push(("reason".into(), reason.into()));
        }
        self.put_unit("/v1/agent/maintenance", p, None).await
    }

    /// `PUT /v1/event/fire/:name` with filters (empty: none) and a payload; the event's ID.
    pub async fn event_fire(
        &self,
        name: &str,
        payload: Vec<u8>,
        filters: [(&str, &str); 3],
    ) -> Result<String, ClientError> {
        let p: Vec<(String, String)> = filters
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let path = format!("/v1/event/fire/{}", super::escape_path(name));
        let body = (!payload.is_empty()).then(|| super::Body::raw(payload));
        let a = self.send_ok(Method::PUT, &path, p, body).await?;
        let v: serde_json::Value = super::decode(&a.body)?;
        Ok(v["ID"].as_str().unwrap_or_default().to_string())
    }

    /// Raw `GET` helper for agent endpoints without a typed method.
    pub async fn agent_get_value(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(serde_json::Value, QueryMeta), ClientError> {
        let a = self
            .send_ok(Method::GET, path, params(q, &[]), None)
            .await?;
        Ok((super::decode(&a.body)?, a.meta))
    }
}
